#!/usr/bin/env bash
# make bench-features: HOG throughput on the 10k Fashion-MNIST test images
# (28x28), visbench with 1 and 2 threads against VLFeat's vl_hog called
# directly and OpenCV's HOGDescriptor, measured in this same run.
set -u
BUILD=${BUILD:-build}
B=$BUILD/bench/bench_features
PY=/usr/bin/python3
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
rate() { "$@" | grep '^RESULT' | field images_per_s; }

echo "HOG, 10000 Fashion-MNIST test images at 28x28, cell 4, 9 orientations (best of 3)"
v1=$(rate $B --threads 1 hog '{cell: 4}')
v2=$(rate $B --threads 2 hog '{cell: 4}')
vl=$(rate $B --vlfeat-hog 4)
if $PY -c 'import cv2' 2>/dev/null; then cv=$(rate $PY bench/peers/opencv_hog.py 28 4); else cv=""; fi
printf '  %-34s %12s\n' "" "images/s"
printf '  %-34s %12.0f\n' "visbench hog, 1 thread" "$v1"
printf '  %-34s %12.0f\n' "visbench hog, 2 threads" "$v2"
printf '  %-34s %12.0f\n' "VLFeat vl_hog (C), 1 thread" "$vl"
if [ -n "$cv" ]; then
  printf '  %-34s %12.0f\n' "OpenCV HOGDescriptor, 1 thread" "$cv"
  best=$(echo "$vl $cv" | awk '{print ($1 > $2) ? $1 : $2}')
else
  echo "  (OpenCV peer skipped: python3-opencv is not installed; make bench-deps)"
  best=$vl
fi
awk -v a="$v1" -v b="$best" -v c="$v2" 'BEGIN {
  printf "  ratio, 1 thread, visbench / best peer: %.2fx\n", a / b;
  printf "  ratio, 2 threads / 1 thread:           %.2fx\n", c / a }'
