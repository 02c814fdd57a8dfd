#!/usr/bin/env bash
# A full disk and a read-only store.
#
# Usage: VB=visbench BUILD=dir bash tests/faults/disk.sh
#
# A small tmpfs is filled so that only F bytes are free, for F from 0 up in
# 4 KB steps, and dataset synth, run (store and split file), train -o and
# report -o write into it until one fits. Each attempt that does not fit
# must fail with exactly one line on stderr, "visbench: " and the name of a
# file on the full disk, a non-zero exit below 128, no sanitizer report, no
# PATH.tmp.PID left, and no half-written file: what is there is either the
# complete new file or the complete previous one. Then a store on a
# read-only bind mount: results and report read it; writing beside it
# fails cleanly. Needs root (mount); skipped with a message otherwise.
set -u
VB=${VB:?set VB to the visbench binary}
work=${BUILD:-/tmp}/tmp/faults-disk
mnt=$work/mnt
cleanup() {
  mountpoint -q "$work/romnt" 2>/dev/null && umount "$work/romnt"
  mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
}
cleanup
rm -rf "$work" && mkdir -p "$mnt" "$work/rosrc" "$work/romnt" && cd "$work" || exit 1
if ! mount -t tmpfs -o size=512k tmpfs "$mnt" 2>/dev/null; then
  echo "faults: disk tests skipped: cannot mount a tmpfs here (they need root)"
  exit 0
fi
trap cleanup EXIT
export ASAN_OPTIONS=detect_leaks=1:exitcode=200
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
pass=0 failures=0
ok() { pass=$((pass + 1)); }
bad() { failures=$((failures + 1)); echo "FAIL: $*" >&2; }

# fill F: empty the tmpfs, then leave only F bytes free.
fill() {
  find "$mnt" -mindepth 1 -maxdepth 1 -name fill -delete
  local avail
  avail=$(df --output=avail -B1 "$mnt" | tail -1)
  if [ "$avail" -gt "$1" ]; then head -c $((avail - $1)) /dev/zero >"$mnt/fill"; fi
}
empty() { rm -rf "${mnt:?}"/*; }

# clean_fail NAME RC [DIR]: the command failed as it should (err.txt: its
# stderr), naming a file in DIR (default: the tmpfs).
clean_fail() {
  local name=$1 rc=$2 dir=${3:-$mnt}
  if grep -qE 'Sanitizer|runtime error' err.txt; then bad "$name: sanitizer report"; sed 's/^/    /' err.txt >&2; return 1; fi
  if [ "$rc" -ge 128 ]; then bad "$name: crashed (exit $rc)"; sed 's/^/    /' err.txt >&2; return 1; fi
  if [ "$(wc -l <err.txt)" -ne 1 ] || ! grep -q '^visbench: ' err.txt; then
    bad "$name: exit $rc without exactly one 'visbench: ' line on stderr:"; sed 's/^/    /' err.txt >&2; return 1
  fi
  if ! grep -qF "$dir/" err.txt; then bad "$name: the message names no file in $dir:"; sed 's/^/    /' err.txt >&2; return 1; fi
  if find "$dir" -name '*.tmp.*' | grep -q .; then bad "$name: left $(find "$mnt" -name '*.tmp.*')"; return 1; fi
  return 0
}

# sweep NAME MAX CHECK CMD...: free space 0, 4K, ... until CMD succeeds; CHECK
# RC judges what is left (prints the problem, returns 1). Before each
# attempt, prep_NAME puts the previous files in place.
sweep() {
  local name=$1 max=$2 check=$3 free rc attempts=0 failed_before=$failures; shift 3
  for ((free = 0; free <= max; free += 4096)); do
    empty
    "prep_$name"
    fill "$free"
    "$@" >out.txt 2>err.txt
    rc=$?
    attempts=$((attempts + 1))
    rm -f "$mnt/fill"
    if [ $rc -ne 0 ]; then
      clean_fail "$name with $free bytes free" $rc || break
    elif [ -s err.txt ]; then
      bad "$name with $free bytes free: exit 0 but wrote to stderr"; sed 's/^/    /' err.txt >&2; break
    fi
    local why
    why=$("$check" $rc) || { bad "$name with $free bytes free (exit $rc): $why"; break; }
    [ $rc -eq 0 ] && break
  done
  if [ $failures -eq $failed_before ]; then
    if [ $rc -eq 0 ]; then
      ok
      echo "faults: $name: $((attempts - 1)) full-disk failures clean, fits in $free bytes"
    else
      bad "$name: does not fit in $max bytes"
    fi
  fi
}

# ---- inputs and references (on the ordinary disk) --------------------------
"$VB" -q dataset synth --out d --classes 2 --per-class 6 --size 16 --seed 1 >/dev/null || exit 1
"$VB" -q dataset synth --out syn1 --classes 2 --per-class 8 --size 32 --seed 1 >/dev/null || exit 1
"$VB" -q dataset synth --out syn2 --classes 2 --per-class 8 --size 32 --seed 2 >/dev/null || exit 1
for n in 1 2; do
  cat >s$n.yaml <<YAML
name: disk$n
seed: $n
dataset: $work/d/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: hog-svm
    features: [{hog: {cell: 8}}]
    classifier: {svm: {C: 10}}
  - name: raw-knn
    classifier: {knn: {k: 1}}
YAML
done
"$VB" -q --threads 1 run s1.yaml --store ref1.db >/dev/null || exit 1
"$VB" -q --threads 1 run s2.yaml --store ref2.db >/dev/null || exit 1
"$VB" -q results ref1.db --predictions >ref1.pred || exit 1
"$VB" -q results ref2.db --predictions >ref2.pred || exit 1
"$VB" -q --threads 1 train s1.yaml --pipeline hog-svm -o ref-hog.vbm >/dev/null || exit 1
"$VB" -q --threads 1 train s1.yaml --pipeline raw-knn -o ref-raw.vbm >/dev/null || exit 1
"$VB" -q --threads 1 predict ref-hog.vbm d/circle >ref-hog.predict || exit 1
"$VB" -q --threads 1 predict ref-raw.vbm d/circle >ref-raw.predict || exit 1
"$VB" -q report ref1.db -o ref1.html >/dev/null || exit 1
"$VB" -q report ref1.db -o ref1.md >/dev/null || exit 1

# ---- dataset synth: a new dataset, then over a previous one (--force) -------
prep_synth_new() { :; }
check_synth() { # every file there is one of the two complete datasets' files
  local f
  for f in $(cd "$mnt/ds" 2>/dev/null && find . -type f); do
    cmp -s "$mnt/ds/$f" "syn2/$f" || { [ "$1" != 0 ] && cmp -s "$mnt/ds/$f" "syn1/$f"; } \
      || { echo "$mnt/ds/$f is neither the new nor the previous file (half-written?)"; return 1; }
  done
  if [ "$1" = 0 ]; then diff -r "$mnt/ds" syn2 >/dev/null || { echo "exit 0 but the dataset differs"; return 1; }; fi
  return 0
}
sweep synth_new 262144 check_synth "$VB" -q dataset synth --out "$mnt/ds" --classes 2 --per-class 8 --size 32 --seed 2
prep_synth_over() { cp -r syn1 "$mnt/ds"; }
sweep synth_over 262144 check_synth "$VB" -q dataset synth --force --out "$mnt/ds" --classes 2 --per-class 8 --size 32 --seed 2

# ---- run: a new store, then a second experiment into a store that has one ---
# check_store REF RC: the store is absent or intact, no run left claimed; the
# first experiment (when there was one) is still complete.
check_run() {
  local db=$mnt/r.db
  if [ -e "$mnt/r.split.txt" ] && ! cmp -s "$mnt/r.split.txt" ref2.split.txt \
      && ! { [ -n "$had_previous" ] && cmp -s "$mnt/r.split.txt" ref1.split.txt; }; then
    echo "r.split.txt is neither the new nor the previous split"; return 1
  fi
  [ -e "$db" ] || { [ "$1" != 0 ] && return 0; echo "exit 0 but no store"; return 1; }
  local ic running
  ic=$(sqlite3 "$db" 'pragma integrity_check' 2>&1)
  [ "$ic" = ok ] || { echo "r.db: integrity check: $ic"; return 1; }
  running=$(sqlite3 "$db" "select count(*) from runs where status = 'running'" 2>&1)
  [ "$running" = "Error: in prepare, no such table: runs" ] && running="no schema: an empty store left behind"
  if [ "$running" != 0 ]; then
    # Only where even the release did not fit, and said in the one message;
    # the next run, with room, takes the run over.
    [ "$1" != 0 ] && grep -q 'stays claimed in the store until the next run takes it over' err.txt \
      || { echo "r.db: $running run(s) left claimed ('running')"; return 1; }
    "$VB" -q --threads 1 run s2.yaml --store "$db" >/dev/null 2>rerun.txt \
      && [ "$(sqlite3 "$db" "select count(*) from runs where status = 'running'")" = 0 ] \
      && "$VB" -q results "$db" --predictions >got.pred 2>&1 && cmp -s got.pred ref2.pred \
      || { echo "the next run did not take over the run left claimed"; cat rerun.txt; return 1; }
    echo "$1" >>took-over.txt # (check runs in a subshell)
  fi
  if [ -n "$had_previous" ]; then
    "$VB" -q results "$db" --experiment 1 --predictions >got.pred 2>&1 && cmp -s got.pred ref1.pred \
      || { echo "the previous experiment in r.db is not intact"; return 1; }
  fi
  if [ "$1" = 0 ]; then
    "$VB" -q results "$db" --predictions >got.pred 2>&1 && cmp -s got.pred ref2.pred \
      || { echo "exit 0 but the stored predictions differ"; return 1; }
  fi
  return 0
}
had_previous=
: >took-over.txt
prep_run_new() { :; }
sweep run_new 524288 check_run "$VB" -q --threads 1 run s2.yaml --store "$mnt/r.db"
had_previous=1
prep_run_over() { cp ref1.db "$mnt/r.db" && cp ref1.split.txt "$mnt/r.split.txt"; }
sweep run_over 524288 check_run "$VB" -q --threads 1 run s2.yaml --store "$mnt/r.db"
echo "faults: run: $(wc -l <took-over.txt) attempt(s) could not release their claim (the disk too full even for that); the next run took it over"

# ---- train -o over a previous model ------------------------------------------
prep_train() { cp ref-hog.vbm "$mnt/m.vbm"; }
check_train() {
  local want=ref-hog.predict
  [ "$1" = 0 ] && want=ref-raw.predict
  "$VB" -q --threads 1 predict "$mnt/m.vbm" d/circle >got.predict 2>&1 && cmp -s got.predict $want \
    || { echo "m.vbm is not the $([ "$1" = 0 ] && echo new || echo previous) complete model"; return 1; }
}
sweep train 262144 check_train "$VB" -q --threads 1 train s1.yaml --pipeline raw-knn -o "$mnt/m.vbm"

# ---- report -o over a previous report ------------------------------------------
prep_report() { cp ref1.md "$mnt/r.html"; }
check_report() {
  local want=ref1.md
  [ "$1" = 0 ] && want=ref1.html
  cmp -s "$mnt/r.html" $want || { echo "r.html is not the $([ "$1" = 0 ] && echo new || echo previous) complete report"; return 1; }
}
sweep report 262144 check_report "$VB" -q report ref1.db --format html -o "$mnt/r.html"
umount "$mnt"

# ---- a store on a read-only mount ------------------------------------------------
cp ref1.db rosrc/r.db
if mount --bind rosrc romnt 2>/dev/null; then
  # references through the same path (the report names its store)
  "$VB" -q results romnt/r.db >ref1.results 2>&1
  "$VB" -q report romnt/r.db -o ref-ro.html >/dev/null 2>&1
  rm -f rosrc/r.db-wal rosrc/r.db-shm
  cp ref1.db rosrc/r.db
fi
if mountpoint -q romnt && mount -o remount,bind,ro romnt 2>/dev/null; then
  if "$VB" -q results romnt/r.db >out.txt 2>err.txt && cmp -s out.txt ref1.results; then ok
  else bad "results of a read-only store"; cat err.txt >&2; fi
  if "$VB" -q results romnt/r.db --predictions >out.txt 2>err.txt && cmp -s out.txt ref1.pred; then ok
  else bad "results --predictions of a read-only store"; cat err.txt >&2; fi
  if "$VB" -q report romnt/r.db -o ro.html >out.txt 2>err.txt && cmp -s ro.html ref-ro.html; then ok
  else bad "report of a read-only store"; cat err.txt >&2; fi
  # writing beside it: one clear error naming the file
  ro=$work/romnt
  "$VB" -q report "$ro/r.db" >out.txt 2>err.txt; rc=$?
  if [ $rc -eq 0 ]; then bad "report beside a read-only store: exit 0"
  elif clean_fail "report beside a read-only store" $rc "$ro"; then
    grep -q 'romnt/r.html: .*Read-only file system' err.txt && ok || { bad "report beside a read-only store:"; cat err.txt >&2; }
  fi
  "$VB" -q --threads 1 run s1.yaml --store "$ro/r.db" >out.txt 2>err.txt; rc=$?
  if [ $rc -eq 0 ]; then bad "run into a read-only store: exit 0"
  elif clean_fail "run into a read-only store" $rc "$ro"; then ok; fi
  cmp -s rosrc/r.db ref1.db && [ ! -e rosrc/r.db-wal ] && ok || bad "the read-only store changed"
  echo "faults: read-only store: results and report read it, writes beside it fail cleanly"
else
  echo "faults: read-only store tests skipped: cannot bind-mount read-only here"
fi

if [ $failures -ne 0 ]; then
  echo "faults: disk: $failures failed, $pass passed" >&2
  exit 1
fi
echo "faults: disk: all $pass passed"
