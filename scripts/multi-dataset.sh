#!/usr/bin/env bash
# make multi-dataset: generates the three synthetic datasets of
# pipelines/multi-dataset.yaml (28x28 grey shapes, 4 classes x 250 images:
# clean, noisy, cluttered) into results/multi-dataset-data unless they are
# there, then runs the spec and writes its report.
#   VB=path/to/visbench (default build/visbench)
set -eu
VB=${VB:-build/visbench}
out=results/multi-dataset-data
gen() { # gen NAME SYNTH-OPTIONS...
  local name=$1; shift
  if [ ! -s "$out/$name/dataset.yaml" ]; then
    "$VB" -q dataset synth --out "$out/$name" --classes 4 --per-class 250 --size 28 --seed 11 "$@"
    # a name of its own in the matrix (synth names every set "synth")
    sed -i "s/^name: synth$/name: synth-$name/" "$out/$name/dataset.yaml"
  fi
}
gen clean --noise 0 --clutter 0
gen noisy --noise 0.35 --clutter 0
gen cluttered --noise 0.05 --clutter 6
"$VB" run pipelines/multi-dataset.yaml
"$VB" report results/multi-dataset.db
