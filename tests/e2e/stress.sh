#!/usr/bin/env bash
# Stress test of the results store: many `visbench run` processes on one
# fresh store at once, round after round. Not part of `make test`;
# `make test-stress` runs it (some seconds).
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/stress.sh
#   STRESS_ROUNDS (20) rounds of STRESS_PROCS (8) concurrent processes.
set -u
VB=${VB:?set VB to the visbench binary}
rounds=${STRESS_ROUNDS:-20} procs=${STRESS_PROCS:-8}
work=${BUILD:-/tmp}/tmp/stress
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

"$VB" -q dataset synth --out shapes --classes 4 --per-class 30 --size 24 --seed 7 >/dev/null || exit 1
cat >stress.yaml <<'YAML'
name: stress
seed: 11
dataset: shapes/dataset.yaml
split: {protocol: kfold, k: 4}
pipelines:
  - {name: raw-svm, postprocess: [standardize], classifier: {svm: {kernel: linear}}}
  - {name: hog-svm, features: [{hog: {cell: 4}}], postprocess: [standardize], classifier: svm}
  - {name: raw-knn, classifier: {knn: {k: 3}}}
  - {name: hog-knn, features: [{hog: {cell: 4}}], classifier: knn}
  - {name: raw-logreg, postprocess: [standardize], classifier: logreg}
  - {name: hog-logreg, features: [{hog: {cell: 4}}], postprocess: [standardize], classifier: logreg}
YAML
runs=24 # 6 pipelines x 4 folds

# The reference: one process alone.
"$VB" -q --threads 1 run stress.yaml --store ref.db >/dev/null 2>ref.err || { echo "stress: the single run failed"; cat ref.err; exit 1; }
"$VB" results ref.db --predictions >ref.csv || exit 1

passed=0 failed=0 t0=$SECONDS
for round in $(seq 1 "$rounds"); do
  rm -rf r && mkdir r
  pids=()
  for p in $(seq 1 "$procs"); do
    "$VB" -q --threads 1 run stress.yaml --store r/R.db --json >r/$p.out 2>r/$p.err &
    pids+=($!)
  done
  bad=0 exits=0
  for pid in "${pids[@]}"; do wait "$pid" || exits=$((exits + 1)); done
  computed=$(cat r/*.out | grep -c '"kept": false}')
  done_runs=$(sqlite3 r/R.db "select count(*) from runs where status = 'done'")
  all_runs=$(sqlite3 r/R.db "select count(*) from runs")
  distinct=$(sqlite3 r/R.db "select count(distinct pipeline || '/' || fold) from runs")
  integrity=$(sqlite3 r/R.db 'pragma integrity_check')
  "$VB" results r/R.db --predictions >r/pred.csv 2>r/results.err
  same=yes; cmp -s ref.csv r/pred.csv || same=no
  msg="round $round: $procs processes, $exits failed, $computed runs computed, $done_runs/$all_runs done ($distinct distinct), integrity $integrity, predictions identical: $same"
  [ "$exits" -eq 0 ] && [ "$computed" -eq $runs ] && [ "$done_runs" -eq $runs ] && [ "$all_runs" -eq $runs ] \
    && [ "$distinct" -eq $runs ] && [ "$integrity" = ok ] && [ $same = yes ] || bad=1
  if [ $bad -eq 0 ]; then
    passed=$((passed + 1))
    echo "$msg"
  else
    failed=$((failed + 1))
    echo "FAIL $msg"
    cat r/*.err r/results.err | sort | uniq -c | head -5
  fi
done
echo "stress: $rounds rounds in $((SECONDS - t0)) s"
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
