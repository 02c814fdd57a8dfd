#!/usr/bin/env bash
# make bench-multilabel: binary relevance with the linear SVM (squared hinge,
# C = 1) and L2 logistic regression (C = 1) on the same HOG features of a
# synthetic multilabel set, visbench against scikit-learn's
# OneVsRestClassifier(LinearSVC) and MultiOutputClassifier(LogisticRegression)
# in the same run. Both use their default decision (score > 0, probability >
# 0.5): visbench with threshold: fixed. Options:
#   --images N   images in the synthetic set (default 6000)
#   --no-peers   skip scikit-learn
set -u
BUILD=${BUILD:-build}
VB=$BUILD/visbench
PY=/usr/bin/python3
OUT=$BUILD/bench/multilabel
images=6000 peers=1
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images=$2; shift 2 ;;
    --no-peers) peers=0; shift ;;
    *) echo "bench/multilabel.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
rm -rf "$OUT"; mkdir -p "$OUT"
# 8 shape labels: a multilabel synth set holds classes x per-class images
"$VB" dataset synth --multilabel --classes 8 --per-class $((images / 8)) --size 48 --seed 5 --out "$OUT/data" >/dev/null ||
  exit 1
cat > "$OUT/bench.yaml" <<YAML
name: bench-multilabel
seed: 1
dataset: data/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: br-linear
    features: [{hog: {cell: 6}}]
    postprocess: [standardize]
    classifier: {br: {base: {linear: {loss: squared_hinge, C: 1}}, threshold: fixed}}
  - name: br-logreg
    features: [{hog: {cell: 6}}]
    postprocess: [standardize]
    classifier: {br: {base: {logreg: {C: 1}}, threshold: fixed}}
YAML
OMP_NUM_THREADS=2 "$VB" -q run "$OUT/bench.yaml" --store "$OUT/bench.db" >"$OUT/run.log" 2>&1 ||
  { cat "$OUT/run.log"; exit 1; }
for part in train test; do
  "$VB" -q features "$OUT/bench.yaml" --pipeline br-linear --part $part --format npy --out "$OUT/$part.npy" || exit 1
done
ours=$($PY - "$OUT/bench.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for name, tr, pr, run in db.execute("SELECT pipeline, train_s, predict_s, id FROM runs WHERE status = 'done' ORDER BY pipeline_index"):
    m = dict(db.execute("SELECT name, value FROM metrics WHERE run_id = ?", (run,)).fetchall())
    print(f"RESULT name={name} train_s={tr:.4f} predict_s={pr:.4f} micro_f1={m['micro_f1']:.4f} "
          f"macro_f1={m['macro_f1']:.4f} subset={m['subset_accuracy']:.4f}")
PY
) || exit 1
theirs=""
if [ $peers = 1 ]; then
  if $PY -c 'import sklearn' 2>/dev/null; then
    theirs=$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $PY bench/peers/sklearn_multilabel.py "$OUT" 2>"$OUT/sklearn.log") ||
      { cat "$OUT/sklearn.log"; exit 1; }
  else
    echo "(scikit-learn peer skipped: python3-sklearn is not installed; make bench-deps)"
  fi
fi
dims=$($PY -c "import numpy as np; a = np.load('$OUT/train.npy'); b = np.load('$OUT/test.npy'); print(f'{a.shape[0]} train x {a.shape[1]} features, {b.shape[0]} test')")
echo "synthetic multilabel set, 8 labels, $dims; 2 threads"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
printf '  %-10s %9s %9s %8s %8s | %9s %9s %8s %8s | %8s %8s\n' method "train s" "pred s" micro-F1 subset \
  "skl train" "skl pred" "skl mF1" "skl sub" "train x" "pred x"
echo "$ours" | grep '^RESULT' | while read -r line; do
  n=$(echo "$line" | field name)
  tr=$(echo "$line" | field train_s); pr=$(echo "$line" | field predict_s)
  f1=$(echo "$line" | field micro_f1); su=$(echo "$line" | field subset)
  other=$(echo "$theirs" | grep "name=$n " || true)
  if [ -n "$other" ]; then
    str=$(echo "$other" | field train_s); spr=$(echo "$other" | field predict_s)
    sf1=$(echo "$other" | field micro_f1); ssu=$(echo "$other" | field subset)
    awk -v n="$n" -v tr="$tr" -v pr="$pr" -v f1="$f1" -v su="$su" -v str="$str" -v spr="$spr" -v sf1="$sf1" -v ssu="$ssu" \
      'BEGIN { printf "  %-10s %9.2f %9.3f %8.4f %8.4f | %9.2f %9.3f %8.4f %8.4f | %7.1fx %7.1fx\n", n, tr, pr, f1, su, str, spr, sf1, ssu, str / (tr > 0 ? tr : 1e-9), spr / (pr > 0 ? pr : 1e-9) }'
  else
    printf '  %-10s %9.2f %9.3f %8.4f %8.4f |\n' "$n" "$tr" "$pr" "$f1" "$su"
  fi
done
echo "  (x = scikit-learn time / visbench time; > 1 means visbench is faster; train s: the classifier alone)"
echo "  (solver warnings: $OUT/run.log, $OUT/sklearn.log)"
