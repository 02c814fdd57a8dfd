#!/usr/bin/env bash
# make bench-cnn: training and inference throughput of the two reference CNNs
# (LeNet-5-like and the classic 2-conv net) with 2 threads, visbench against
# PyTorch (CPU) on the same Fashion-MNIST images in the same run: same nets,
# Adam lr 0.001, batch 64, same input standardisation, same number of epochs,
# same initialisation (init: uniform, PyTorch's default for conv and linear layers).
#
#   make bench-cnn                full: 60,000 training images, 2 epochs, 10,000 test images
#   make bench-cnn CNN_BENCH=short   6,400 training images, 1 epoch, 2,000 test images
#   CNN_TRAIN=, CNN_EPOCHS=, CNN_TEST= override the sizes.
#
# OpenBLAS picks its kernels from OPENBLAS_CORETYPE; this environment sets it
# to Haswell (AVX2), which is about half the speed of the AVX-512 kernels the
# CPU supports. Both sides are measured with the environment's setting and
# with it unset (OpenBLAS detects the core), since torch's fully connected
# layers use the same OpenBLAS.
set -u
BUILD=${BUILD:-build}
B=$BUILD/bench/bench_cnn
PY=/usr/bin/python3
THREADS=2
if [ "${CNN_BENCH:-full}" = short ]; then
  TRAIN=${CNN_TRAIN:-6400} EPOCHS=${CNN_EPOCHS:-1} TEST=${CNN_TEST:-2000}
else
  TRAIN=${CNN_TRAIN:-60000} EPOCHS=${CNN_EPOCHS:-2} TEST=${CNN_TEST:-10000}
fi
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
have_torch=1
$PY -c 'import torch' 2>/dev/null || have_torch=0

env_core=${OPENBLAS_CORETYPE:-}
native=$(env -u OPENBLAS_CORETYPE $B --net lenet --train 64 --test 64 --repeat 1 --threads 1 | field blas_core)
echo "CNNs on Fashion-MNIST: $TRAIN training images x $EPOCHS epoch(s), $TEST test images, $THREADS threads, batch 64, Adam"
echo "OpenBLAS kernels: environment OPENBLAS_CORETYPE=${env_core:-(unset)}, detected without it: $native"
echo "(train = images/s over the training epochs; infer = images/s over the test images, best of 3)"
printf '\n  %-34s %10s %10s %9s %9s %9s\n' "" "train/s" "infer/s" "accuracy" "train GF" "infer GF"

row() { # label RESULT-line
  printf '  %-34s %10.0f %10.0f %9.4f %9.1f %9.1f\n' "$1" "$(echo "$2" | field train_images_per_s)" \
    "$(echo "$2" | field infer_images_per_s)" "$(echo "$2" | field accuracy)" \
    "$(echo "$2" | field train_gflops)" "$(echo "$2" | field infer_gflops)"
}
ratio() { # label visbench-line torch-line
  awk -v l="$1" -v vt="$(echo "$2" | field train_images_per_s)" -v vi="$(echo "$2" | field infer_images_per_s)" \
      -v tt="$(echo "$3" | field train_images_per_s)" -v ti="$(echo "$3" | field infer_images_per_s)" \
      'BEGIN { printf "  %-34s %9.2fx %9.2fx\n", l, vt / tt, vi / ti }'
}

for net in lenet cnn2; do
  echo
  echo "$net"
  for mode in env native; do
    if [ $mode = env ]; then run() { "$@"; }; tag=${env_core:-default}; else run() { env -u OPENBLAS_CORETYPE "$@"; }; tag=$native; fi
    v=$(run $B --net $net --train $TRAIN --epochs $EPOCHS --test $TEST --threads $THREADS --init uniform | grep '^RESULT')
    row "visbench, OpenBLAS $tag" "$v"
    if [ $have_torch = 1 ]; then
      t=$(run $PY bench/peers/torch_cnn.py $net $TRAIN $EPOCHS $TEST $THREADS | grep '^RESULT')
      row "torch $(echo "$t" | field torch), OpenBLAS $tag" "$t"
      ratio "ratio visbench / torch ($tag)" "$v" "$t"
    fi
  done
done
[ $have_torch = 1 ] || echo "(torch peer skipped: python3-torch is not installed; make bench-deps)"
