#!/usr/bin/env bash
# make bench-features: extraction throughput of visbench's extractors on the
# Fashion-MNIST test images, at 28x28 (the 10000 images, images/s) and at
# 224x224 (the first 1000 upscaled bicubically, Mpix/s), with 1 and 2
# threads, against peers measured in this same run on one thread:
#   hog    VLFeat vl_hog called directly (C, UoCTTI, cell 4) and OpenCV's HOGDescriptor
#   sift   VLFeat vl_dsift called directly (C, flat window, step 4, bin 4, window size 2, whole image,
#          one scale, no smoothing): the same descriptors as visbench's row (encoding: none), which
#          also applies no contrast threshold (contrast: 0); both compute the 128-value descriptors
#          and masses of the same frames
#   gabor  OpenCV (getGaborKernel + filter2D) and scikit-image (filters.gabor)
#   haar, edges, lbp: no peer
# Rows for extractors missing from the registry (sift, lbp) are skipped.
# The ratio is visbench on one thread over the best peer.
set -u
BUILD=${BUILD:-build}
B=$BUILD/bench/bench_features
PY=/usr/bin/python3
PEERS=bench/peers
N224=1000

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
# value SIZE CMD...: the RESULT line's images/s (28) or Mpix/s (other sizes)
value() {
  local size=$1; shift
  local out
  out=$("$@" 2>/dev/null | grep '^RESULT' | tail -1)
  [ -n "$out" ] || { echo ""; return; }
  if [ "$size" = 28 ]; then echo "$out" | field images_per_s; else echo "$out" | field mpix_per_s; fi
}
ours() { # NAME PARAMS SIZE THREADS
  local extra=(--repeat 5)
  [ "$3" = 28 ] || extra=(--size "$3" --count $N224 --repeat 2)
  value "$3" "$B" --threads "$4" "${extra[@]}" "$1" "$2"
}
have() { "$B" --list | grep -qx "$1"; }
pycv=0; $PY -c 'import cv2' 2>/dev/null && pycv=1
pysk=0; $PY -c 'import skimage.filters' 2>/dev/null && pysk=1

fmt() { # value size -> text
  [ -n "$1" ] || { echo "-"; return; }
  if [ "$2" = 28 ]; then awk -v v="$1" 'BEGIN { printf "%.0f", v }'; else awk -v v="$1" 'BEGIN { printf "%.2f", v }'; fi
}

rows=()
# row NAME PARAMS SIZE PEERTEXT BEST: measures visbench and appends a table row
row() {
  local name=$1 params=$2 size=$3 peers=$4 best=$5
  local v1 v2 ratio scale
  v1=$(ours "$name" "$params" "$size" 1)
  v2=$(ours "$name" "$params" "$size" 2)
  scale=$(awk -v a="$v1" -v b="$v2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", b / a; else printf "-" }')
  ratio=$(awk -v a="$v1" -v b="$best" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else printf "-" }')
  rows+=("$(printf '| %-6s | %3s | %11s | %11s | %5s | %-44s | %10s |' "$name" "$size" "$(fmt "$v1" "$size")" \
    "$(fmt "$v2" "$size")" "$scale" "$peers" "$ratio")")
}
maxof() { awk 'BEGIN { m = 0 } { for (i = 1; i <= NF; i++) if ($i + 0 > m) m = $i + 0 } END { if (m > 0) print m }'; }

t_start=$(date +%s)
echo "Feature extraction throughput: Fashion-MNIST test images; 28x28 = the 10000 images, images/s;"
echo "224x224 = $N224 images upscaled (bicubic), Mpix/s. visbench: best of 5 (28) or 2 (224) runs; peers on one thread."
echo "Machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start."
echo

for size in 28 224; do
  if [ "$size" = 28 ]; then cnt=10000; else cnt=$N224; fi
  # hog
  vl=$(value "$size" "$B" --vlfeat-hog 4 --repeat 3 $([ "$size" = 28 ] || echo --size "$size" --count $N224))
  cv=""
  [ $pycv = 1 ] && cv=$(value "$size" $PY $PEERS/opencv_hog.py "$size" 4 "$cnt")
  row hog '{cell: 4}' "$size" "vl_hog $(fmt "$vl" "$size"), opencv $(fmt "$cv" "$size")" "$(echo "$vl $cv" | maxof)"
  # sift (dense, flat window, one scale, the descriptors only: like for like with vl_dsift)
  if have sift; then
    ds=$(value "$size" "$B" --vlfeat-dsift 4,4 --repeat 2 $([ "$size" = 28 ] || echo --size "$size" --count $N224))
    row sift '{step: 4, bin: [4], magnif: 0, contrast: 0, window_size: 2, encoding: none}' \
      "$size" "vl_dsift $(fmt "$ds" "$size")" "$ds"
  else
    rows+=("$(printf '| %-6s | %3s | %s |' sift "$size" "not in the registry: skipped")")
  fi
  # gabor: the peers are slow; they run on fewer images (said in the row)
  if [ "$size" = 28 ]; then ncv=2000 nsk=200; else ncv=50 nsk=3; fi
  gc=""; gs=""
  [ $pycv = 1 ] && gc=$(value "$size" $PY $PEERS/gabor.py opencv "$size" $ncv)
  [ $pysk = 1 ] && gs=$(value "$size" $PY $PEERS/gabor.py skimage "$size" $nsk)
  row gabor '{}' "$size" "opencv $(fmt "$gc" "$size") (${ncv} img), skimage $(fmt "$gs" "$size") (${nsk} img)" \
    "$(echo "$gc $gs" | maxof)"
  row haar '{}' "$size" "-" ""
  row edges '{}' "$size" "-" ""
  if have lbp; then
    row lbp '{}' "$size" "-" ""
  else
    rows+=("$(printf '| %-6s | %3s | %s |' lbp "$size" "not in the registry: skipped")")
  fi
done

printf '| %-6s | %3s | %11s | %11s | %5s | %-44s | %10s |\n' extr. size "visbench 1T" "visbench 2T" "2T/1T" \
  "peers, 1 thread" "1T / best"
printf '|%s|\n' "--------|-----|-------------|-------------|-------|----------------------------------------------|------------"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "Parameters: hog {cell: 4} (uoctti, 9 orientations); sift dense step 4, bin 4, flat window (window size 2),"
echo "one scale, no smoothing, no contrast threshold, encoding none: both sides output the 128-value descriptors"
echo "of the same frames (16 per 28x28 image, 2809 per 224x224), nothing encoded (visbench writes them into"
echo "its feature matrix, vl_dsift leaves them in its own buffer); gabor defaults (frequencies 0.1, 0.25;"
echo "4 orientations; bandwidth 1; cell 7); haar, edges, lbp defaults. The gabor peers filter and take the"
echo "magnitude but do not pool."
echo "Elapsed: $(( $(date +%s) - t_start )) s."
