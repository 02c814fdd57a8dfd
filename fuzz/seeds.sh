#!/usr/bin/env bash
# Seeds the corpus of one fuzz target: fuzz/seeds.sh NAME DIR. make fuzz
# runs it with BUILD set (build/fuzz: its visbench and mkseeds). Seeds are
# made, never committed: text from the tree, binary formats by
# fuzz/mkseeds.c, models by visbench train on a synthetic set.
set -euo pipefail
t=$1 out=$2
vb=$(cd "$BUILD" && pwd)/visbench
mkdir -p "$out"
case $t in
spec)
  cp pipelines/*.yaml datasets/*.yaml "$out/"
  cat >"$out/inline.yaml" <<'YAML'
%YAML 1.2
---
name: seed
seed: 3
dataset: {format: folder, path: data/shapes}
split: {protocol: kfold, k: 3, validation: 0.2, train_limit: 100}
preprocess: [{resize: [24, 24]}, grayscale]
defaults: &d {C: [1, 10]}
pipelines:
  - name: hog-svm
    features: [{hog: {cell: 6, orientations: 9}}, {lbp: {cell: 8}}]
    postprocess: [standardize, {pca: {variance: 0.9}}]
    classifier: {svm: *d}
    tune: {folds: 3, metric: macro_f1}
  - name: cnn
    classifier:
      cnn:
        layers: [conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, batchnorm, dropout: 0.1, fc: classes]
        optimizer: {sgd: {lr: 0.01, momentum: 0.9, nesterov: true}}
        schedule: {step: {every: 5, gamma: 0.1}}
        augment: {flip: true, shift: 2}
YAML
  printf 'name: "quoted \\u00e9"\nseed: 1\ndataset: d.yaml\npipelines: [{name: a, classifier: knn}]\n' >"$out/flow.yaml"
  ;;
model)
  # one model per classifier family, trained once (they take a while under ASan)
  if [ ! -e "$out/.trained" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    "$vb" -q dataset synth --out "$work/shapes" --classes 3 --per-class 8 --size 16 --seed 1
    cat >"$work/m.yaml" <<'YAML'
name: seeds
seed: 1
dataset: shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - {name: hog-svm, features: [{hog: {cell: 4}}], postprocess: [standardize], classifier: svm}
  - {name: raw-linear, postprocess: [{pca: {components: 8}}], classifier: linear}
  - {name: lbp-knn, features: [{lbp: {cell: 8}}], classifier: {knn: {k: 3}}}
  - {name: gabor-forest, features: [gabor], classifier: {forest: {n_trees: 4}}}
  - {name: hog-boost, features: [{hog: {cell: 8}}], classifier: {boost: {rounds: 3, max_depth: 3}}}
  - {name: raw-logreg, postprocess: [power, l2], classifier: logreg}
  - {name: sift-svm, features: [{sift: {words: 8, bin: [2, 3]}}], classifier: {svm: {kernel: linear}}}
  - {name: edges-kmeans, features: [edges], classifier: kmeans}
  - {name: haar-gmm, features: [haar], classifier: gmm}
  - name: cnn
    classifier: {cnn: {layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, fc: classes], epochs: 1}}
YAML
    for p in hog-svm raw-linear lbp-knn gabor-forest hog-boost raw-logreg sift-svm edges-kmeans haar-gmm cnn; do
      (cd "$work" && "$vb" -q train m.yaml --pipeline $p -o "$p.vbm") && cp "$work/$p.vbm" "$out/" \
        || { echo "seeds: could not train the $p model" >&2; exit 1; }
    done
    touch "$out/.trained"
  fi
  ;;
idx | cifar | image | csv) "$BUILD/fuzz/mkseeds" "$t" "$out" ;;
*) echo "seeds: unknown fuzz target '$t'" >&2; exit 2 ;;
esac
