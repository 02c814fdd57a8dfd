#!/usr/bin/env bash
# End-to-end tests of scale-out: Slurm-style shards joined by merge, and
# MPI ranks (when this visbench was built with MPI and mpirun is here),
# each compared with a single-process run of the same spec: the same
# predictions and metrics, run for run. Also a worker killed with kill -9,
# and the shard taken from the SLURM_* variables.
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/scale.sh
set -u
lib=$(cd "$(dirname "$0")" && pwd)/lib.sh
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VB=${VB:?set VB to the visbench binary}
PY=/usr/bin/python3
work=${BUILD:-/tmp}/tmp/e2e-scale
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$lib"
# count DB SQL: one number
count() { $PY -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$@"; }
expect_ok "synth" "$VB" dataset synth --classes 3 --per-class 60 --size 24 --seed 2 --out data
# six pipelines in three feature groups (hog: 3, pixels: knn + the cnn, edges: 1), 3-fold CV
cat >s.yaml <<'YAML'
name: s
seed: 9
dataset: data
split: {protocol: kfold, k: 3}
pipelines:
  - {name: hog-knn, features: [{hog: {cell: 6}}], classifier: {knn: {k: 3}}}
  - {name: hog-logreg, features: [{hog: {cell: 6}}], postprocess: [standardize], classifier: {logreg: {C: 1}}}
  - {name: hog-svm, features: [{hog: {cell: 6}}], postprocess: [standardize], classifier: {svm: {kernel: rbf, C: 10}}}
  - {name: raw-knn, features: [raw], classifier: {knn: {k: 1}}}
  - {name: edges-forest, features: [{edges: {cell: 6}}], classifier: {forest: {n_trees: 20}}}
  - name: cnn
    classifier:
      cnn: {layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, flatten, fc: classes], epochs: 3}
YAML
expect_ok "single-process run" "$VB" -q run s.yaml --store one.db
[ "$(count one.db "SELECT count(*) FROM runs WHERE status = 'done'")" = 18 ] && ok || bad "one.db: not 18 runs"

# ---- shards + merge ---------------------------------------------------------
for i in 1 2 3; do
  expect_ok "shard $i/3" "$VB" -q run s.yaml --shard $i/3 --store shard-$i.db
done
t=0
for i in 1 2 3; do t=$((t + $(count shard-$i.db "SELECT count(*) FROM runs"))); done
[ $t = 18 ] && ok || bad "the shards hold $t runs, not 18"
# disjoint: no (pipeline, fold) in two shards
$PY - shard-1.db shard-2.db shard-3.db <<'PY' && ok || bad "shards overlap"
import sqlite3, sys
seen = set()
for f in sys.argv[1:]:
    for r in sqlite3.connect(f).execute("SELECT pipeline, fold FROM runs"):
        assert r not in seen, r
        seen.add(r)
PY
# a group is whole in one shard: the hog pipelines of a fold are together
$PY - shard-1.db shard-2.db shard-3.db <<'PY' && ok || bad "a feature group was split over shards"
import sqlite3, sys
where = {}
for f in sys.argv[1:]:
    for p, fold in sqlite3.connect(f).execute("SELECT pipeline, fold FROM runs WHERE pipeline LIKE 'hog-%'"):
        where.setdefault(fold, set()).add(f)
assert all(len(v) == 1 for v in where.values()), where
PY
expect_ok "merge" "$VB" merge merged.db shard-1.db shard-2.db shard-3.db
same "3 shards + merge = one process" one.db merged.db
cp merged.db merged.copy
expect_ok "merge again" "$VB" merge merged.db shard-1.db shard-2.db shard-3.db
grep -q '0 runs added' out.txt && ok || { bad "merge again added runs"; cat out.txt >&2; }
same "merging again changes nothing" merged.copy merged.db
# the report of the merged store is the report of the experiment
expect_ok "report of merged" "$VB" report merged.db -o merged.html
[ -s merged.html ] && ok || bad "no report of the merged store"

# shards of another spec (a changed parameter) or another split
sed 's/C: 10}}}/C: 5}}}/' s.yaml >s2.yaml
expect_ok "shard of a changed spec" "$VB" -q run s2.yaml --shard 1/3 --store other-spec.db
cp merged.db before.db
expect_fail "merge shards of two specs" "spec" "$VB" merge merged.db shard-1.db other-spec.db
cmp -s merged.db before.db && ok || bad "a failed merge changed merged.db"
expect_fail "merge into a new file fails" "spec" "$VB" merge new.db shard-1.db other-spec.db
[ -e new.db ] && bad "a failed merge left new.db" || ok
# the same spec on other data (50 images a class): the same spec hash, another split
mkdir -p other && cp s.yaml other/ && "$VB" dataset synth --classes 3 --per-class 50 --size 24 --seed 2 \
  --out other/data >/dev/null 2>&1 || bad "synth (other)"
(cd other && "$VB" -q run s.yaml --shard 1/2 --store ../other-split.db >/dev/null 2>&1) && ok || bad "shard of another split"
expect_fail "merge shards of two splits" "split" "$VB" merge new.db shard-2.db other-split.db
[ -e new.db ] && bad "a failed merge left new.db" || ok
expect_fail "merge a missing shard" "nothere.db" "$VB" merge new.db shard-2.db nothere.db
[ -e new.db ] && bad "a failed merge left new.db" || ok
expect_fail "merge into a shard" "shard-1.db" "$VB" merge shard-1.db shard-1.db shard-2.db

# the shard from a Slurm array's variables (--shard alone)
SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_COUNT=3 "$VB" -q run s.yaml --shard --store slurm-2.db \
  >out.txt 2>err.txt && ok || { bad "run --shard from SLURM_*"; cat err.txt >&2; }
same "--shard from SLURM_* = --shard 2/3" shard-2.db slurm-2.db
expect_fail "--shard without Slurm" "SLURM_ARRAY_TASK_ID" env -u SLURM_ARRAY_TASK_ID "$VB" run s.yaml --shard
expect_fail "--shard 4/3" "--shard takes I/N" "$VB" run s.yaml --shard 4/3
expect_fail "--shard x" "--shard takes I/N" "$VB" run s.yaml --shard=x
expect_fail "--shard and --mpi" "one of them" "$VB" run s.yaml --shard 1/2 --mpi

# ---- a real Slurm job array (a one-node cluster started here) ----------------
if command -v slurmctld >/dev/null && command -v sbatch >/dev/null && [ "$(id -u)" = 0 ]; then
  if "$ROOT/scripts/slurm/local-cluster.sh" start "$work/slurm" >slurm.env 2>slurm.err; then
    ok
    export SLURM_CONF=$work/slurm/slurm.conf
    timeout 300 "$ROOT/scripts/slurm/submit.sh" --wait s.yaml 3 "$work/sl" "$VB" >submit.out 2>submit.err && ok ||
      { bad "slurm: submit.sh --wait: exit $?"; cat submit.err "$work"/sl/*.out >&2; }
    [ "$(ls "$work"/sl/shards/s-*.db 2>/dev/null | wc -l)" = 3 ] && ok || bad "slurm: not 3 shard stores"
    same "a Slurm array of 3 + merge = one process" one.db "$work/sl/s.db"
    [ -s "$work/sl/s.html" ] && ok || bad "slurm: the merge job wrote no report"
    "$ROOT/scripts/slurm/local-cluster.sh" stop "$work/slurm"
    unset SLURM_CONF
  else
    bad "slurm: the one-node cluster did not start"; cat slurm.err >&2
  fi
elif [ "${VB_REQUIRE_SLURM:-0}" = 1 ]; then
  bad "slurm: slurm-wlm is missing or this is not root"
else
  echo "scale: no slurm-wlm (or not root): the real-array check is skipped; the shard path is tested above"
fi

# ---- ensembles: with their members wherever they run ---------------------------
# an ensemble reads its members' scores, so a plan keeps it with them: shards
# and ranks give the single process's numbers
cat >e.yaml <<'YAML'
name: e
seed: 9
dataset: data
split: {protocol: kfold, k: 3}
pipelines:
  - {name: hog-logreg, features: [{hog: {cell: 6}}], postprocess: [standardize], classifier: {logreg: {C: 1}}}
  - {name: raw-knn, features: [raw], classifier: {knn: {k: 3}}}
  - {name: edges-forest, features: [{edges: {cell: 6}}], classifier: {forest: {n_trees: 10}}}
ensembles:
  - {name: vote, of: [hog-logreg, raw-knn, edges-forest], method: soft}
  - {name: stack, of: [hog-logreg, raw-knn], method: stacking}
YAML
expect_ok "ensembles: one process" "$VB" -q run e.yaml --store e1.db
[ "$(count e1.db "SELECT count(*) FROM runs WHERE status = 'done'")" = 15 ] && ok || bad "e1.db: not 15 runs"
for i in 1 2; do expect_ok "ensembles: shard $i/2" "$VB" -q run e.yaml --shard $i/2 --store e-shard-$i.db; done
expect_ok "ensembles: merge" "$VB" -q merge e-merged.db e-shard-1.db e-shard-2.db
same "ensembles: shards + merge = one process" e1.db e-merged.db

# ---- MPI --------------------------------------------------------------------
MPIRUN="mpirun --oversubscribe --allow-run-as-root"
if ! command -v mpirun >/dev/null || ! ldd "$VB" | grep -q libmpi; then
  if [ "${VB_REQUIRE_MPI:-0}" = 1 ]; then bad "MPI: this visbench or mpirun lacks MPI (make deps; make)"; fi
  echo "scale: MPI not built or mpirun missing: the MPI checks are skipped"
else
  export OMPI_MCA_btl_vader_single_copy_mechanism=none # (containers: no CMA)
  # under the sanitizers: OpenMPI's own allocations outlive MPI_Finalize
  [ "${SANITIZE:-0}" = 1 ] && MPIRUN="env ASAN_OPTIONS=detect_leaks=0 $MPIRUN"
  $MPIRUN -np 3 "$VB" --threads 1 run s.yaml --mpi --store mpi.db >mpi.out 2>mpi.err && ok ||
    { bad "mpirun -np 3 run --mpi: exit $?"; cat mpi.err >&2; }
  same "MPI, 3 ranks = one process" one.db mpi.db
  grep -q 'rank 1 .*busy' mpi.err && grep -q 'rank 2 .*busy' mpi.err && ok ||
    { bad "MPI: no per-rank busy/idle lines"; cat mpi.err >&2; }
  [ "$(grep -c '\] *accuracy ' mpi.out)" = 18 ] && ok || { bad "MPI: not 18 result lines"; cat mpi.out >&2; }
  # with 2 threads per rank, and a single rank (no workers: it runs everything)
  $MPIRUN -np 2 "$VB" --threads 2 -q run s.yaml --mpi --store mpi2.db >/dev/null 2>mpi.err && ok ||
    { bad "mpirun -np 2 --threads 2: exit $?"; cat mpi.err >&2; }
  same "MPI, 2 ranks x 2 threads = one process" one.db mpi2.db
  # a rank bound to one core with two threads: said, with what to do
  $MPIRUN --bind-to core -np 2 "$VB" --threads 2 -q run s.yaml --mpi --store mpib.db >/dev/null 2>mpi.err && ok ||
    bad "mpirun --bind-to core --threads 2"
  grep -q 'rank 1 (.*) may run on 1 core but has 2 threads.*--bind-to none' mpi.err && ok ||
    { bad "MPI: no word on a rank bound to one core"; cat mpi.err >&2; }
  $MPIRUN --bind-to none -np 2 "$VB" --threads 2 -q run s.yaml --mpi --store mpin.db >/dev/null 2>mpi.err && ok ||
    bad "mpirun --bind-to none --threads 2"
  grep -q 'may run on' mpi.err && { bad "MPI: a warning without binding"; cat mpi.err >&2; } || ok
  $MPIRUN -np 3 "$VB" --threads 1 -q run e.yaml --mpi --store e-mpi.db >/dev/null 2>mpi.err && ok ||
    { bad "mpirun -np 3 run --mpi (ensembles): exit $?"; cat mpi.err >&2; }
  same "ensembles: MPI, 3 ranks = one process" e1.db e-mpi.db
  $MPIRUN -np 1 "$VB" -q run s.yaml --mpi --store mpi1.db >/dev/null 2>mpi.err && ok || bad "mpirun -np 1"
  same "MPI, 1 rank = one process" one.db mpi1.db
  # a second run finds everything done
  $MPIRUN -np 3 "$VB" run s.yaml --mpi --store mpi.db >mpi.out 2>mpi.err && ok || bad "MPI rerun"
  grep -q '18 runs finished earlier and kept' mpi.err && ok || { bad "MPI rerun redid runs"; cat mpi.err >&2; }
  # --json through the ranks: one object per run
  $MPIRUN -np 3 "$VB" -q run s.yaml --mpi --json --store mpij.db >mpi.json 2>mpi.err && ok || bad "MPI --json"
  [ "$(grep -c '^{' mpi.json)" = 18 ] && ok || bad "MPI --json: not 18 objects"
  # a bad spec: one message from rank 0, no store
  echo 'name: bad' >bad.yaml
  $MPIRUN -np 3 "$VB" run bad.yaml --mpi --store bad.db >/dev/null 2>mpi.err && bad "MPI bad spec: exit 0" || ok
  [ "$(grep -c '^visbench: ' mpi.err)" = 1 ] && ok || { bad "MPI bad spec: not one message"; cat mpi.err >&2; }
  [ -e bad.db ] && bad "MPI bad spec left a store" || ok

  # a worker killed with kill -9 mid-run: the command fails naming the lost
  # rank, every finished run is kept, the rerun completes, nothing twice
  # every feature group is long (two CNNs of ~2 s a fold, one group each per
  # fold): when the first run is done, both workers have started another
  # long group, so rank 2 is killed mid-run whenever the test polls
  cat >slow.yaml <<'YAML'
name: slow
seed: 9
dataset: data
split: {protocol: kfold, k: 3}
pipelines:
  - {name: hog-knn, features: [{hog: {cell: 6}}], classifier: {knn: {k: 3}}}
  - name: cnn
    classifier:
      cnn: {layers: [conv: {filters: 32, size: 5}, relu, maxpool: 2, flatten, fc: classes], epochs: 400}
  - name: cnn-z
    preprocess: [{normalize: zscore}]
    classifier:
      cnn: {layers: [conv: {filters: 32, size: 5}, relu, maxpool: 2, flatten, fc: classes], epochs: 400}
YAML
  "$VB" -q run slow.yaml --store slow-one.db >/dev/null 2>&1 || bad "slow: single-process run"
  $MPIRUN -np 3 "$VB" --threads 1 run slow.yaml --mpi --store slow.db >kill.out 2>kill.err &
  job=$!
  victim=
  for _ in $(seq 1 600); do # wait (up to 60 s) for one finished run and a busy rank 2
    sleep 0.1
    [ -s slow.db ] || continue
    n=$(count slow.db "SELECT count(*) FROM runs WHERE status = 'done'" 2>/dev/null || echo 0)
    [ "$n" -ge 1 ] 2>/dev/null || continue
    for p in $(pgrep -f "visbench --threads 1 run slow.yaml --mpi"); do
      if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=2'; then victim=$p; fi
    done
    [ -n "$victim" ] && break
  done
  if [ -z "$victim" ]; then
    bad "kill -9: no worker of rank 2 found"
    wait $job
  else
    kill -9 "$victim"
    wait $job
    rc=$?
    [ $rc -ne 0 ] && ok || bad "kill -9 of a worker: mpirun exited 0"
    grep -q 'rank 2' kill.err && ok || { bad "kill -9: the lost rank is not named"; cat kill.err >&2; }
    grep -q 'run the same command again' kill.err && ok || { bad "kill -9: no word on the rerun"; cat kill.err >&2; }
    kept=$(count slow.db "SELECT count(*) FROM runs WHERE status = 'done'")
    [ "$kept" -ge 1 ] && [ "$kept" -lt 9 ] && ok || bad "kill -9: $kept runs kept (expected 1..8)"
    $MPIRUN -np 3 "$VB" --threads 1 run slow.yaml --mpi --store slow.db >rerun.out 2>rerun.err && ok ||
      { bad "rerun after kill -9: exit $?"; cat rerun.err >&2; }
    grep -q "$kept runs\? finished earlier and kept" rerun.err && ok || { bad "rerun did not keep the $kept runs"; cat rerun.err >&2; }
    [ "$(count slow.db "SELECT count(*) FROM runs")" = 9 ] && ok || bad "after the rerun: not 9 runs"
    same "kill -9 + rerun = one process" slow-one.db slow.db
  fi
fi

echo "scale: $pass passed, $failures failed"
[ $failures -eq 0 ]
