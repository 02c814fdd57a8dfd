# What the e2e scripts share: counters, and the two ways a command is
# expected to end, and what two stores are compared by. Sourced by run.sh,
# store.sh, tasks.sh and scale.sh.
pass=0 failures=0
ok() { pass=$((pass + 1)); }
bad() { failures=$((failures + 1)); echo "FAIL: $*" >&2; }

# expect_fail NAME EXPECTED_TEXT CMD...: a non-zero exit, exactly one line on
# stderr ("visbench: ..." containing the text), nothing on stdout, and no
# results folder written.
expect_fail() {
  local name=$1 text=$2; shift 2
  rm -rf results
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if [ $rc -ge 128 ]; then bad "$name: crashed (exit $rc)"; cat err.txt >&2; return; fi
  if [ "$(wc -l <err.txt)" -ne 1 ]; then bad "$name: expected one line on stderr, got:"; cat err.txt >&2; return; fi
  if ! grep -q '^visbench: ' err.txt; then bad "$name: message does not start with 'visbench: '"; cat err.txt >&2; return; fi
  if ! grep -qF -- "$text" err.txt; then bad "$name: message lacks '$text':"; cat err.txt >&2; return; fi
  if [ -s out.txt ]; then bad "$name: wrote to stdout"; return; fi
  if [ -e results ]; then bad "$name: left a results folder"; return; fi
  ok
}

# expect_ok NAME CMD...
expect_ok() {
  local name=$1; shift
  if "$@" >out.txt 2>err.txt; then ok; else bad "$name: exit $?"; cat err.txt >&2; fi
}


# rows DB: everything a store's runs computed (no timings, no provenance),
# sorted: each run's status and configuration, its predictions (label sets,
# scores), metrics and per-class metrics. Two stores of one spec and seed
# give the same rows whichever way they were run.
rows() {
  /usr/bin/python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for q in ("SELECT pipeline, fold, status, config_hash, features_shared FROM runs ORDER BY pipeline, fold",
          "SELECT r.pipeline, r.fold, p.sample, p.true_class, p.pred_class, p.true_set, p.pred_set, hex(p.scores)"
          " FROM predictions p JOIN runs r ON r.id = p.run_id ORDER BY r.pipeline, r.fold, p.sample",
          "SELECT r.pipeline, r.fold, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run_id"
          " ORDER BY r.pipeline, r.fold, m.name",
          "SELECT r.pipeline, r.fold, c.class, c.precision, c.recall, c.f1, c.support"
          " FROM class_metrics c JOIN runs r ON r.id = c.run_id ORDER BY r.pipeline, r.fold, c.class"):
    for row in db.execute(q):
        print(row)
PY
}

# same NAME A B: stores A and B hold the same rows (and some)
same() {
  rows "$2" >a.rows; rows "$3" >b.rows
  if [ -s a.rows ] && cmp -s a.rows b.rows; then ok; else bad "$1: $2 and $3 differ"; diff a.rows b.rows | head -5 >&2; fi
}
