#!/usr/bin/env bash
# Allocation-failure sweep: for every allocation that visbench's own code
# makes in a small command, a run where that one allocation fails.
#
# Usage: VB=visbench VBF=visbench-faults BUILD=dir bash tests/faults/alloc.sh
#          [--stride S] [--only NAME] [--from N]
#   VB    the sanitizer build of the CLI (makes the inputs, checks outputs)
#   VBF   the same linked with tests/faults/inject.c (VB_FAIL_ALLOC=N)
#   --stride S   every S-th allocation only (a quick look; make test-faults
#                sweeps them all), --only NAME one command (synth, run,
#                groups, loo, train, predict, report), --from N start at
#                allocation N
#
# For each N the command must either fail cleanly, with a non-zero exit
# below 128 and exactly one line on stderr starting with "visbench: ", or
# succeed with the same output as without the failure (a fallback). Either
# way: no sanitizer report (LeakSanitizer runs at exit, so nothing leaks),
# no PATH.tmp.PID file, and every file left behind complete: the store
# passes an integrity check and holds no run still claimed ('running'), a
# model loads and predicts as the reference does, a split, report or PNG is
# byte-identical to the reference.
set -u
VB=${VB:?set VB to the visbench binary}
VBF=${VBF:?set VBF to the fault-injection build of visbench}
stride=1 only= from=1
while [ $# -gt 0 ]; do
  case $1 in
    --stride) stride=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    *) echo "alloc.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
work=${BUILD:-/tmp}/tmp/faults-alloc
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
# exitcode=200: a sanitizer report is told apart from visbench's own exit 1.
export ASAN_OPTIONS=detect_leaks=1:exitcode=200:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1
shopt -s nullglob
unset VB_FAIL_ALLOC VB_COUNT_ALLOC VB_FAIL_TRACE
failures=0 total=0

# ---- the inputs and the reference outputs --------------------------------
"$VB" -q dataset synth --out d --classes 2 --per-class 6 --size 16 --seed 1 >/dev/null || exit 1
cp -r d d.ref
cat >s.yaml <<'YAML'
name: faults
seed: 1
dataset: d/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: hog-svm
    features: [{hog: {cell: 8}}]
    classifier: {svm: {C: 10}}
  - name: raw-knn
    classifier: {knn: {k: 1}}
YAML
"$VB" -q --threads 1 run s.yaml --store ref.db >/dev/null || exit 1
"$VB" -q results ref.db --predictions >ref.pred || exit 1
# the grouped protocols: a manifest of three sessions over d (four images
# each, both classes), group_kfold with validation on whole groups; loo
{ echo path,label,session; i=0
  for f in d/circle/*.png d/square/*.png; do c=${f#d/}; echo "$f,${c%%/*},s$((i % 3))"; i=$((i + 1)); done; } >g.csv
printf 'format: csv\npath: g.csv\ngroup: session\n' >g-data.yaml
for p in "g {protocol: group_kfold, k: 3, validation: 0.25} g-data.yaml" "l {protocol: loo, train_limit: 6} d/dataset.yaml"; do
  set -- $p
  printf 'name: faults-%s\nseed: 1\ndataset: %s\nsplit: %s\npipelines:\n  - {name: raw-knn, classifier: {knn: {k: 1}}}\n' \
    "$1" "${*: -1}" "${*:2:$#-2}" >"$1.yaml"
  "$VB" -q --threads 1 run "$1.yaml" --store "ref-$1.db" >/dev/null || exit 1
  "$VB" -q results "ref-$1.db" --predictions >"ref-$1.pred" || exit 1
done
# every stored number but times and sizes, to compare a run that succeeded
metrics() {
  sqlite3 "$1" "select r.pipeline, m.name, m.value from metrics m join runs r on r.id = m.run_id order by 1, 2;
    select r.pipeline, c.class, c.precision, c.recall, c.f1, c.support, c.auc from class_metrics c
      join runs r on r.id = c.run_id order by 1, 2;
    select r.pipeline, c.true_class, c.pred_class, c.count from confusion c join runs r on r.id = c.run_id order by 1, 2, 3;
    select pipeline, fold, status, params, grid, features, dim, probabilities, n_train, n_test from runs order by 1, 2"
}
metrics ref.db >ref.metrics || exit 1
"$VB" -q --threads 1 train s.yaml --pipeline hog-svm -o ref.vbm >/dev/null || exit 1
"$VB" -q --threads 1 predict ref.vbm d/circle d/square >ref.predict || exit 1
"$VB" -q report ref.db -o ref.html >/dev/null || exit 1

# ---- what each command is and what it may leave ---------------------------
# prep_NAME clears its outputs; check_NAME RC judges what is left (prints
# the problem and returns 1).
prep_synth() { rm -rf o; }
cmd_synth() { "$VBF" -q --threads 1 dataset synth --out o --classes 2 --per-class 6 --size 16 --seed 1; }
check_synth() {
  [ -d o ] || return 0
  local f
  for f in $(cd o && find . -type f); do
    cmp -s "o/$f" "d.ref/$f" || { why="o/$f differs from the reference (half-written?)"; return 1; }
  done
  if [ "$1" = 0 ]; then diff -r o d.ref >/dev/null || { why="exit 0 but the dataset is incomplete"; return 1; }; fi
}

# check_store RC STORE REF: what a run into STORE.db leaves, against the
# reference run REF (REF.split.txt, REF.pred; REF.metrics when there is one)
check_store() {
  local db=$2.db ref=$3
  if [ -e "$2.split.txt" ] && ! cmp -s "$2.split.txt" "$ref.split.txt"; then
    why="$2.split.txt is not the reference split"; return 1
  fi
  if [ -e "$db" ]; then
    local state
    state=$(sqlite3 "$db" "pragma integrity_check; select count(*) from runs where status = 'running'" 2>&1)
    [ "$state" = $'ok\n0' ] || { why="$db: integrity check and runs left claimed ('running'): $state"; return 1; }
  fi
  if [ "$1" = 0 ]; then
    "$VB" -q results "$db" --predictions >got.pred 2>&1 && cmp -s got.pred "$ref.pred" \
      || { why="exit 0 but the stored predictions differ from the reference"; return 1; }
    [ ! -e "$ref.metrics" ] || { metrics "$db" >got.metrics 2>&1 && cmp -s got.metrics "$ref.metrics"; } \
      || { why="exit 0 but the stored metrics differ from the reference"; return 1; }
  fi
}

prep_run() { rm -f r.db r.db-wal r.db-shm r.split.txt; }
cmd_run() { "$VBF" -q --threads 1 run s.yaml --store r.db; }
check_run() { check_store "$1" r ref; }

# group_kfold over a manifest's sessions, and leave-one-out
prep_groups() { rm -f g.db g.db-wal g.db-shm g.split.txt; }
cmd_groups() { "$VBF" -q --threads 1 run g.yaml --store g.db; }
check_groups() { check_store "$1" g ref-g; }
prep_loo() { rm -f l.db l.db-wal l.db-shm l.split.txt; }
cmd_loo() { "$VBF" -q --threads 1 run l.yaml --store l.db; }
check_loo() { check_store "$1" l ref-l; }

prep_train() { rm -f m.vbm r.split.txt; }
cmd_train() { "$VBF" -q --threads 1 train s.yaml --pipeline hog-svm -o m.vbm; }
check_train() {
  if [ -e m.vbm ]; then
    "$VB" -q --threads 1 predict m.vbm d/circle d/square >got.predict 2>&1 && cmp -s got.predict ref.predict \
      || { why="m.vbm is left but does not predict as the reference model"; return 1; }
  elif [ "$1" = 0 ]; then
    why="exit 0 but no model"; return 1
  fi
}

prep_predict() { :; }
cmd_predict() { "$VBF" -q --threads 1 predict ref.vbm d/circle d/square >got.predict; }
check_predict() {
  if [ "$1" = 0 ] && ! cmp -s got.predict ref.predict; then why="exit 0 but the predictions differ"; return 1; fi
}

prep_report() { rm -f rep.html; }
cmd_report() { "$VBF" -q --threads 1 report ref.db -o rep.html >/dev/null; }
check_report() {
  if [ -e rep.html ] && ! cmp -s rep.html ref.html; then why="rep.html differs from the reference (half-written?)"; return 1; fi
  if [ "$1" = 0 ] && [ ! -e rep.html ]; then why="exit 0 but no report"; return 1; fi
}

# one NAME N: run the command with allocation N failing; 0 when it passes.
# (Builtins where a fork per allocation would add up: mapfile, globs.)
one() {
  local name=$1 n=$2 rc lines tmps
  why=
  "prep_$name"
  VB_FAIL_ALLOC=$n "cmd_$name" >out.txt 2>err.txt
  rc=$?
  mapfile -t lines <err.txt
  tmps=(*.tmp.* o/*.tmp.* o/*/*.tmp.*)
  if [[ "${lines[*]}" == *Sanitizer* || "${lines[*]}" == *"runtime error"* ]]; then
    why="sanitizer report (exit $rc)"
  elif [ $rc -ge 128 ]; then
    why="crashed (exit $rc)"
  elif [ $rc -eq 0 ] && [ ${#lines[@]} -ne 0 ]; then
    why="exit 0 but wrote to stderr"
  elif [ $rc -ne 0 ] && { [ ${#lines[@]} -ne 1 ] || [[ "${lines[0]}" != "visbench: "* ]]; }; then
    why="exit $rc without exactly one 'visbench: ' line on stderr"
  elif [ ${#tmps[@]} -ne 0 ]; then
    why="left a temporary file: ${tmps[*]}"
  elif "check_$name" $rc; then
    return 0
  fi
  failures=$((failures + 1))
  echo "FAIL: $name, allocation $n: $why" >&2
  sed -n '1,40p' err.txt | sed 's/^/    /' >&2
  # the failing site, for the log
  "prep_$name"
  VB_FAIL_ALLOC=$n VB_FAIL_TRACE=1 "cmd_$name" >/dev/null 2>"trace-$name-$n.txt"
  grep -A12 '^inject: failing' "trace-$name-$n.txt" | sed 's/^/    /' >&2
  find . -name '*.tmp.*' -delete
  return 1
}

sweep() {
  local name=$1 count
  [ -n "$only" ] && [ "$only" != "$name" ] && return
  "prep_$name"
  VB_COUNT_ALLOC=1 "cmd_$name" >/dev/null 2>count.txt || { echo "FAIL: $name does not run without faults" >&2; cat count.txt >&2; failures=$((failures + 1)); return; }
  count=$(sed -n 's/^inject: \([0-9]*\) allocations$/\1/p' count.txt)
  [ -n "$count" ] || { echo "FAIL: $name: no allocation count (is VBF the fault build?)" >&2; failures=$((failures + 1)); return; }
  local t0=$SECONDS before=$failures swept=0 n
  for ((n = from; n <= count; n += stride)); do
    one "$name" "$n"
    swept=$((swept + 1))
  done
  total=$((total + swept))
  echo "faults: $name: $count allocations, $swept swept, $((failures - before)) failed ($((SECONDS - t0)) s)"
}

[ -e ref.split.txt ] || { echo "alloc.sh: run wrote no ref.split.txt" >&2; exit 1; }
sweep synth
sweep run
sweep groups
sweep loo
sweep train
sweep predict
sweep report
if [ $failures -ne 0 ]; then
  echo "faults: $failures of $total allocation failures mishandled (traces in $work)" >&2
  exit 1
fi
echo "faults: all $total allocation failures handled"
