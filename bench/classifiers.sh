#!/usr/bin/env bash
# make bench-classifiers: every visbench classifier against its scikit-learn
# counterpart on standardised HOG features (cell 4) of Fashion-MNIST, in the
# same run; boost (XGBoost through its C API) also against XGBoost's own
# Python package with the same parameters (a second line under its row).
# Options (also through BENCH_ARGS with make):
#   --train N --test N --svm-train N   sizes (default 60000 / 10000 / 10000)
#   --only knn,forest,...              a subset (knn forest tree boost logreg linear svm kmeans gmm)
#   --no-peers                         skip scikit-learn and XGBoost's Python package
# The full run is long (scikit-learn's LinearSVC alone takes minutes).
set -u
BUILD=${BUILD:-build}
B=$BUILD/bench/bench_classifiers
PY=/usr/bin/python3
OUT=$BUILD/bench
mkdir -p "$OUT"
args=() peers=1 only="" svm=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --no-peers) peers=0; shift ;;
    --only) only=$2; args+=("$1" "$2"); shift 2 ;;
    --svm-train) svm=$2; args+=("$1" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
ours=$(OMP_NUM_THREADS=2 "$B" --out "$OUT" "${args[@]}") || { echo "$ours"; exit 1; }
echo "$ours" | grep -v '^RESULT'
theirs="" xgb=""
if [ $peers = 1 ]; then
  if $PY -c 'import sklearn' 2>/dev/null; then
    popt=(--svm-train "$svm"); [ -n "$only" ] && popt+=(--only "$only")
    theirs=$(OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $PY bench/peers/sklearn_classifiers.py "$OUT" "${popt[@]}")
  else
    echo "(scikit-learn peer skipped: python3-sklearn is not installed; make bench-deps)"
  fi
  if [ -z "$only" ] || [[ ",$only," == *,boost,* ]]; then
    if $PY -c 'import xgboost' 2>/dev/null; then
      xgb=$(OMP_NUM_THREADS=2 $PY bench/peers/xgboost_classifiers.py "$OUT")
    else
      echo "(XGBoost peer skipped: python3-xgboost is not installed; make bench-deps)"
    fi
  fi
fi
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
# row NAME TRAIN PREDICT ACCURACY MB PEER_LINE [peer]: our numbers (only the
# peer's and the ratios with "peer": a second peer under a row) beside a peer's
row() {
  local n=$1 tr=$2 pr=$3 ac=$4 mb=$5 other=$6 only_peer=${7:-}
  if [ -z "$other" ]; then
    printf '  %-8s %10.2f %10.2f %9.4f %8.0f |\n' "$n" "$tr" "$pr" "$ac" "$mb"
    return
  fi
  local str spr sac smb
  str=$(echo "$other" | field train_s); spr=$(echo "$other" | field predict_s)
  sac=$(echo "$other" | field accuracy); smb=$(echo "$other" | field rss_mb)
  awk -v n="$n" -v tr="$tr" -v pr="$pr" -v ac="$ac" -v mb="$mb" -v str="$str" -v spr="$spr" -v sac="$sac" -v smb="$smb" \
    -v peer="$only_peer" 'BEGIN {
      if (peer) printf "  %-8s %10s %10s %9s %8s |", n, "", "", "", ""
      else printf "  %-8s %10.2f %10.2f %9.4f %8.0f |", n, tr, pr, ac, mb
      printf " %10.2f %10.2f %9.4f %8.0f | %7.1fx %7.1fx\n", str, spr, sac, smb, str / (tr > 0 ? tr : 1e-9), spr / (pr > 0 ? pr : 1e-9) }'
}
printf '  %-8s %10s %10s %9s %8s | %10s %10s %9s %8s | %8s %8s\n' classifier "train s" "predict s" accuracy "RSS MB" \
  "skl train" "skl pred" "skl acc" "skl MB" "train x" "pred x"
echo "$ours" | grep '^RESULT' | while read -r line; do
  n=$(echo "$line" | field name)
  tr=$(echo "$line" | field train_s); pr=$(echo "$line" | field predict_s)
  ac=$(echo "$line" | field accuracy); mb=$(echo "$line" | field rss_mb)
  row "$n" "$tr" "$pr" "$ac" "$mb" "$(echo "$theirs" | grep "name=$n " || true)"
  # boost: XGBoost's Python package, the same parameters
  if [ "$n" = boost ] && [ -n "$xgb" ]; then
    row " xgboost" "$tr" "$pr" "$ac" "$mb" "$xgb" peer
  fi
done
echo "  (x = scikit-learn time / visbench time; > 1 means visbench is faster; under boost: XGBoost's Python package)"
