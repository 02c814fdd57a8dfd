#!/usr/bin/env bash
# make bench-pca: visbench's PCA (solver auto) against scikit-learn's PCA
# (svd_solver 'auto' and 'randomized') on the same float32 matrices, in the
# same run, each fit in a process of its own (its peak RSS its own):
#   hog  10,000 x 1,519   HOG (cell 4) of Fashion-MNIST training images
#   raw   1,000 x 6,912   raw pixels of 48x48 RGB synthetic images
#   fv    2,000 x 20,480  Fisher vectors (dense SIFT, 80 Gaussians, one cell) of Fashion-MNIST
# k = 20 components (the issue's `pca: {components: 20}`). Each row also
# gives an exact solver's explained variance (gram for n < d, else full)
# and its time, the reference for both. Options (also BENCH_ARGS):
#   --quick          small sizes (2,000 / 300 / 400 rows): a smoke test
#   --components K   components (default 20)
#   --repeat R       fits per measurement, the best counts (default 3)
#   --no-peers       skip scikit-learn
# The ratio is scikit-learn's time over visbench's (> 1: visbench is faster).
set -u
BUILD=${BUILD:-build}
VB=$BUILD/visbench
B=$BUILD/bench/bench_pca
PY=/usr/bin/python3
ROOT=$(pwd)
k=20 repeat=3 peers=1 quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --components) k=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --no-peers) peers=0; shift ;;
    *) echo "bench/pca.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ $quick = 1 ]; then n_hog=2000 n_raw=300 n_fv=400; else n_hog=10000 n_raw=1000 n_fv=2000; fi
if [ $peers = 1 ] && ! $PY -c 'import sklearn' 2>/dev/null; then
  echo "(scikit-learn peer skipped: python3-sklearn is not installed; make bench-deps)"
  peers=0
fi
mkdir -p "$BUILD/bench/pca"
OUT=$(cd "$BUILD/bench/pca" && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
export OPENBLAS_NUM_THREADS=$OMP_NUM_THREADS
# visbench's idle OpenMP threads sleep rather than spin (libgomp's default):
# on a shared machine a spinning thread takes the core its master needs
# (2 threads then ran 5x slower than 1 here); OMP_WAIT_POLICY=active to see
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# ---- the matrices (visbench features, float32 .npy) -------------------------
# features SPEC PIPELINE FILE: the training part's rows after the features
features() {
  [ -s "$3" ] && return 0
  "$VB" -q features "$1" --pipeline "$2" --part train --format npy --out "$3.tmp.npy" >"$OUT/features.log" 2>&1 ||
    { cat "$OUT/features.log"; exit 1; }
  mv "$3.tmp.npy" "$3"
  rm -f "$3.tmp.labels.npy"
}
# spec NAME DATASET SPLIT FEATURES: a one-pipeline spec (the classifier is never trained)
spec() {
  printf 'name: bench-pca-%s\nseed: 1\ndataset: %s\nsplit: %s\npipelines:\n  - {name: %s, features: %s, classifier: knn}\n' \
    "$1" "$2" "$3" "$1" "$4" >"$OUT/$1.yaml"
}
synth=$OUT/synth-$n_raw
if [ ! -s "$synth/dataset.yaml" ]; then
  rm -rf "$synth"
  "$VB" dataset synth --out "$synth" --color --size 48 --classes 4 --per-class $((n_raw / 4)) --test-per-class 1 \
    --seed 3 >/dev/null || exit 1
fi
spec hog "$ROOT/datasets/fashion-mnist.yaml" "{protocol: official-test, train_limit: $n_hog}" "[{hog: {cell: 4}}]"
spec raw "$synth/dataset.yaml" "{protocol: official-test}" "[raw]"
spec fv "$ROOT/datasets/fashion-mnist.yaml" "{protocol: official-test, train_limit: $n_fv}" \
  "[{sift: {encoding: fisher, words: 80, pyramid: [1], step: 4, bin: [4], max_descriptors: 20000, gmm_iterations: 30}}]"
features "$OUT/hog.yaml" hog "$OUT/hog-$n_hog.npy"
features "$OUT/raw.yaml" raw "$OUT/raw-$n_raw.npy"
features "$OUT/fv.yaml" fv "$OUT/fv-$n_fv.npy"

# ---- the fits ---------------------------------------------------------------
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
ours() {
  "$B" "$1" --components "$k" --solver "$2" --repeat "$3" --threads "$OMP_NUM_THREADS" 2>>"$OUT/bench_pca.log" | grep '^RESULT' ||
    { echo "(bench_pca failed: $OUT/bench_pca.log)" >&2; echo "RESULT failed=1"; }
}
theirs() {
  $PY bench/peers/sklearn_pca.py "$1" "$k" "$2" "$repeat" 2>>"$OUT/sklearn.log" | grep '^RESULT' ||
    { echo "(scikit-learn failed: $OUT/sklearn.log)" >&2; echo "RESULT failed=1"; }
}
fmt_t() { awk -v v="$1" 'BEGIN { if (v == "") printf "-"; else printf "%.3f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else printf "-" }'; }
diff_evr() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%.1e", (a > b ? a - b : b - a); else printf "-" }'; }
: >"$OUT/bench_pca.log"
: >"$OUT/sklearn.log"

echo "PCA, k = $k components, float32; $OMP_NUM_THREADS threads for visbench and for numpy's OpenBLAS;"
echo "best of $repeat fits; peak RSS per process (the matrix included); OMP_WAIT_POLICY=$OMP_WAIT_POLICY."
echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start."
echo
row='| %-4s | %-13s | %-22s | %7s | %6s | %8s | %6s | %8s | %6s | %6s | %6s | %7s | %7s | %8s | %7s | %-13s |\n'
printf "$row" case "n x d" "visbench solver" "s" "RSS MB" "skl auto" "RSS MB" "skl rand" "RSS MB" "x auto" "x rand" \
  "dEVR au" "dEVR rn" "EVR" "dEVR ex" "exact s"
echo "|------|---------------|------------------------|---------|--------|----------|--------|----------|--------|--------|--------|---------|---------|----------|---------|---------------|"
for c in hog raw fv; do
  case $c in hog) n=$n_hog ;; raw) n=$n_raw ;; fv) n=$n_fv ;; esac
  f=$OUT/$c-$n.npy
  o=$(ours "$f" auto "$repeat")
  d=$(echo "$o" | field d)
  exact=full; [ "$n" -lt "${d:-0}" ] && exact=gram
  e=$(ours "$f" "$exact" 1)
  a="" r=""
  if [ $peers = 1 ]; then a=$(theirs "$f" auto); r=$(theirs "$f" randomized); fi
  vs=$(echo "$o" | field seconds); ve=$(echo "$o" | field evr)
  as=$(echo "$a" | field seconds); ae=$(echo "$a" | field evr)
  rs=$(echo "$r" | field seconds); re=$(echo "$r" | field evr)
  ee=$(echo "$e" | field evr)
  solver="$(echo "$o" | field ran)"
  [ "$solver" = randomized ] && solver="randomized, $(echo "$o" | field passes) prod"
  printf "$row" "$c" "$n x $d" "$solver" "$(fmt_t "$vs")" "$(echo "$o" | field rss_mb)" "$(fmt_t "$as")" \
    "$(echo "$a" | field rss_mb)" "$(fmt_t "$rs")" "$(echo "$r" | field rss_mb)" "$(ratio "$as" "$vs")" \
    "$(ratio "$rs" "$vs")" "$(diff_evr "$ve" "$ae")" "$(diff_evr "$ve" "$re")" "$(echo "$ve" | cut -c1-8)" \
    "$(diff_evr "$ve" "$ee")" "$exact $(fmt_t "$(echo "$e" | field seconds)")"
done
echo
echo "(x = scikit-learn's time / visbench's: > 1, visbench is faster. EVR: visbench's explained variance ratio"
echo " sum; dEVR au / rn: |visbench - scikit-learn auto / randomized|; dEVR ex: |visbench - the exact solver"
echo " (gram for n < d, else full)|, whose time is the last column. prod: the randomized solver's products"
echo " with the data; scikit-learn's randomized makes 16 (n_iter 7 for k < 0.1 min(n, d)).)"
