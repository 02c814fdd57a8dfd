# What the e2e scripts share: counters, and the two ways a command is
# expected to end. Sourced by run.sh, store.sh and tasks.sh.
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

