#!/usr/bin/env bash
# End-to-end tests of the multilabel and hierarchical tasks: synthetic data,
# run, results, report, train = run, predict, determinism, bad input.
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/tasks.sh
set -u
lib=$(cd "$(dirname "$0")" && pwd)/lib.sh
VB=${VB:?set VB to the visbench binary}
PY=/usr/bin/python3
work=${BUILD:-/tmp}/tmp/e2e-tasks
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$lib"
# metric DB PIPELINE FOLD NAME: a stored metric
metric() {
  $PY - "$@" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
r = db.execute("SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.pipeline = ? AND r.fold = ?"
               " AND m.name = ?", sys.argv[2:5]).fetchone()
print("none" if r is None else "%.6f" % r[0])
PY
}
# ---- multilabel -------------------------------------------------------------
expect_ok "synth --multilabel" "$VB" dataset synth --multilabel --classes 4 --per-class 240 --size 32 --seed 3 --out ml
[ -f ml/dataset.yaml ] && grep -q 'multilabel: true' ml/dataset.yaml && ok || bad "synth --multilabel: no descriptor"
expect_ok "dataset info (multilabel)" "$VB" dataset info ml/dataset.yaml
grep -qi 'multilabel' out.txt && ok || { bad "dataset info does not say multilabel"; cat out.txt >&2; }

cat >ml.yaml <<'YAML'
name: ml
seed: 4
dataset: ml/dataset.yaml
split: {protocol: kfold, k: 3, validation: 0.2}
pipelines:
  - name: br-logreg
    features: [{hog: {cell: 8}}]
    postprocess: [standardize]
    classifier: {br: {base: {logreg: {C: 1}}}}
  - name: br-svm
    features: [{hog: {cell: 8}}]
    postprocess: [standardize]
    classifier: {br: {base: {svm: {kernel: linear}}, threshold: global}}
  - name: chain-logreg
    features: [{hog: {cell: 8}}]
    postprocess: [standardize]
    classifier: {chain: {base: {logreg: {C: 1}}, chains: 2}}
  - name: cnn-sigmoid
    preprocess: [{resize: 16}]
    classifier:
      cnn: {output: sigmoid, layers: [conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, flatten, fc: classes],
            epochs: 2, batch: 32}
YAML
expect_ok "run multilabel" "$VB" -q run ml.yaml --store ml1.db
expect_ok "results multilabel" "$VB" results ml1.db
grep -q 'label sets' out.txt && grep -q 'Hamming loss' out.txt && grep -q 'br-logreg' out.txt && ok \
  || { bad "results lacks the label-set table"; cat out.txt >&2; }
sub=$(metric ml1.db br-logreg fold1 subset_accuracy)
acc=$(metric ml1.db br-logreg fold1 accuracy)
[ "$sub" != none ] && [ "$sub" = "$acc" ] && ok || bad "subset accuracy $sub is not the stored accuracy $acc"
mf1=$(metric ml1.db br-logreg fold1 micro_f1)
$PY -c "import sys; sys.exit(0 if float('$mf1') > 0.6 else 1)" && ok || bad "br-logreg micro-F1 $mf1 is no better than chance"
expect_ok "results --predictions" "$VB" results ml1.db --predictions
head -1 out.txt | grep -q 'true_labels,predicted_labels' && ok || { bad "predictions CSV lacks label sets"; head -2 out.txt >&2; }
expect_ok "report multilabel" "$VB" report ml1.db -o ml1.html
grep -q 'id="multilabel"' ml1.html && grep -q 'Per-label F1' ml1.html && grep -q 'label-f1' ml1.html && ok \
  || bad "report lacks the label-set section"

# the same spec and seed: the same numbers, with another thread count too
expect_ok "run multilabel again" "$VB" -q --threads 1 run ml.yaml --store ml2.db
rows ml1.db >rows1.txt; rows ml2.db >rows2.txt
[ -s rows1.txt ] && cmp -s rows1.txt rows2.txt && ok || bad "two runs of one multilabel spec differ"

# train = run: the model of fold 1 predicts on that fold's test part what run stored
for p in br-logreg chain-logreg cnn-sigmoid; do
  expect_ok "train $p" "$VB" train ml.yaml --pipeline $p --fold fold1 -o $p.vbm
  line=$(grep 'subset accuracy' out.txt)
  got=$(echo "$line" | sed -n 's/.*subset accuracy \([0-9.]*\).*/\1/p')
  want=$(metric ml1.db $p fold1 subset_accuracy)
  $PY -c "import sys; sys.exit(0 if abs(float('$got') - float('$want')) < 5e-5 else 1)" 2>/dev/null && ok \
    || bad "train $p: test part subset accuracy '$got', run stored $want"
done
expect_ok "model info multilabel" "$VB" model info br-logreg.vbm
grep -q 'task: multilabel' out.txt && ok || { bad "model info lacks the task"; cat out.txt >&2; }
img=$(ls ml/images/* 2>/dev/null | head -1)
[ -n "$img" ] || img=$(find ml -name '*.png' | head -1)
expect_ok "predict multilabel" "$VB" predict br-logreg.vbm "$img"
grep -q $'\t{' out.txt && ok || { bad "predict does not print a label set"; cat out.txt >&2; }
expect_ok "predict multilabel json" "$VB" predict br-logreg.vbm "$img" --format json
grep -q '"labels": \[' out.txt && ok || { bad "predict json lacks labels"; cat out.txt >&2; }

# bad input
sed 's/{br: {base: {logreg: {C: 1}}}}/{logreg: {C: 1}}/' ml.yaml | sed '/br-svm/,$d' >ml-single.yaml
expect_fail "single-label classifier on label sets" "ml-single.yaml:6:5: pipeline 'br-logreg'" "$VB" run ml-single.yaml
expect_fail "single-label classifier on label sets (what to do)" "wrap it: {br: {base: {logreg: ...}}}" \
  "$VB" run ml-single.yaml
expect_ok "synth single-label" "$VB" dataset synth --classes 3 --per-class 20 --size 24 --seed 2 --out flat
sed 's#ml/dataset.yaml#flat/dataset.yaml#' ml.yaml | sed '/br-svm/,$d' >ml-flat.yaml
expect_fail "multilabel classifier on one label per image" "learns label sets (multilabel), but the dataset has one label per image" \
  "$VB" run ml-flat.yaml
mkdir -p emp && cp "$img" emp/a.png && cp "$img" emp/b.png && cp "$img" emp/c.png
printf 'path,labels\na.png,"circle;square"\nb.png,\nc.png,square\n' >emp/labels.csv
printf 'name: emp\nformat: csv\npath: labels.csv\nmultilabel: true\nempty_labels: error\n' >emp/dataset.yaml
sed 's#ml/dataset.yaml#emp/dataset.yaml#' ml.yaml >emp.yaml
expect_fail "an empty label field where the descriptor forbids it" "labels.csv:3" "$VB" run emp.yaml

# ---- hierarchical -------------------------------------------------------------
expect_ok "synth --hierarchy" "$VB" dataset synth --hierarchy --classes 6 --per-class 40 --size 32 --seed 6 --out hier
[ "$(find hier -mindepth 2 -type d | wc -l)" -ge 6 ] && ok || bad "synth --hierarchy: no nested class folders"
cat >hier.yaml <<'YAML'
name: hier
seed: 5
dataset: hier/dataset.yaml
split: {protocol: kfold, k: 3}
pipelines:
  - name: flat
    features: [{hog: {cell: 8}}]
    postprocess: [standardize]
    classifier: {logreg: {C: 1}}
  - name: per-parent
    features: [{hog: {cell: 8}}]
    postprocess: [standardize]
    classifier: {hier: {method: per-parent, base: {logreg: {C: 1}}}}
  - name: per-level
    features: [{hog: {cell: 8}}]
    postprocess: [standardize]
    classifier: {hier: {method: per-level, base: {svm: {kernel: linear}}}}
YAML
expect_ok "run hierarchical" "$VB" -q run hier.yaml --store h1.db
expect_ok "results hierarchical" "$VB" results h1.db
grep -q 'hierarchy' out.txt && grep -q 'level 1 accuracy' out.txt && grep -q 'hF' out.txt && ok \
  || { bad "results lacks the hierarchy table"; cat out.txt >&2; }
for p in flat per-parent per-level; do
  hf=$(metric h1.db $p fold1 hierarchical_f1); l1=$(metric h1.db $p fold1 level1_accuracy)
  acc=$(metric h1.db $p fold1 accuracy)
  # the group is never less right than the leaf; hF lies between them
  $PY -c "import sys; a, h, l = float('$acc'), float('$hf'), float('$l1'); sys.exit(0 if a <= h + 1e-9 and h <= l + 1e-9 else 1)" \
    2>/dev/null && ok || bad "$p: accuracy $acc, hF $hf, level-1 accuracy $l1 out of order"
done
expect_ok "report hierarchical" "$VB" report h1.db -o h1.html
grep -q 'id="hierarchy"' h1.html && grep -q 'level-1-acc' h1.html && grep -q 'lcm-1-1' h1.html && ok \
  || bad "report lacks the hierarchy section"
expect_ok "run hierarchical again" "$VB" -q --threads 1 run hier.yaml --store h2.db
rows h1.db >rows1.txt; rows h2.db >rows2.txt
[ -s rows1.txt ] && cmp -s rows1.txt rows2.txt && ok || bad "two runs of one hierarchical spec differ"
for p in per-parent per-level; do
  expect_ok "train $p" "$VB" train hier.yaml --pipeline $p --fold fold2 -o $p.vbm
  line=$(grep 'fold test part' out.txt)
  got=$(echo "$line" | sed -n 's/.*accuracy \([0-9.]*\),.*/\1/p')
  want=$(metric h1.db $p fold2 accuracy)
  $PY -c "import sys; sys.exit(0 if abs(float('$got') - float('$want')) < 5e-5 else 1)" 2>/dev/null && ok \
    || bad "train $p: test part accuracy '$got', run stored $want"
done
expect_ok "model info hierarchical" "$VB" model info per-parent.vbm
grep -q 'task: hierarchical' out.txt && grep -q 'taxonomy (2 levels)' out.txt && ok || { bad "model info lacks the taxonomy"; cat out.txt >&2; }
himg=$(find hier -name '*.png' | sort | head -1)
expect_ok "predict hierarchical" "$VB" predict per-parent.vbm "$himg"
cut -f2 out.txt | grep -q '/' && ok || { bad "predict does not print a taxonomy path"; cat out.txt >&2; }
sed 's/method: per-parent, base: {logreg: {C: 1}}/method: per-parent, base: {logreg: {C: 1}}/' hier.yaml >/dev/null
sed 's#hier/dataset.yaml#flat/dataset.yaml#' hier.yaml >hier-flat.yaml
expect_fail "hier without a taxonomy" "needs a class taxonomy, and the dataset has none" "$VB" run hier-flat.yaml

# a taxonomy declared over flat classes: its errors point into the descriptor
cat >flat-h.yaml <<'YAML'
name: flat-h
format: folder
path: flat
hierarchy:
  round: [circle]
  angular: [square, triangle, square]
YAML
sed 's#hier/dataset.yaml#flat-h.yaml#' hier.yaml >fh.yaml
expect_fail "a class listed twice in the hierarchy" "flat-h.yaml:6:" "$VB" run fh.yaml
grep -q "square" err.txt && ok || bad "duplicate leaf: the message does not name the class"
cat >flat-h.yaml <<'YAML'
name: flat-h
format: folder
path: flat
hierarchy:
  round: [circle]
  angular: [square]
YAML
expect_fail "a class the hierarchy lacks" "class 'triangle' of the dataset is not in the hierarchy" "$VB" run fh.yaml
cat >flat-h.yaml <<'YAML'
name: flat-h
format: folder
path: flat
hierarchy:
  round: [circle, {round: [square]}]
  angular: [triangle]
YAML
expect_fail "a cycle in the hierarchy" "flat-h.yaml:5:" "$VB" run fh.yaml
cat >flat-h.yaml <<'YAML'
name: flat-h
format: folder
path: flat
hierarchy:
  round: [circle, sqare]
  angular: [triangle]
YAML
expect_fail "a name in the hierarchy that is no class" "did you mean 'square'?" "$VB" run fh.yaml
cat >flat-h.yaml <<'YAML'
name: flat-h
format: folder
path: flat
hierarchy:
  round: [circle]
  angular: [triangle, square]
YAML
expect_ok "a valid hierarchy over flat classes" "$VB" -q run fh.yaml --store fh.db
rm -rf results

echo "e2e tasks: $pass checks passed, $failures failed"
[ $failures -eq 0 ]
