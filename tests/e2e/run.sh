#!/usr/bin/env bash
# End-to-end tests: the CLI on small data these tests make.
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/run.sh
set -u
VB=${VB:?set VB to the visbench binary}
work=${BUILD:-/tmp}/tmp/e2e
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
pass=0 failures=0
ok() { pass=$((pass + 1)); }
bad() { failures=$((failures + 1)); echo "FAIL: $*" >&2; }

# expect_fail NAME EXPECTED_TEXT CMD...: a non-zero exit, exactly one line on
# stderr ("visbench: ..." containing the text), nothing on stdout, and no
# results folder written.
expect_fail() {
  local name=$1 text=$2; shift 2
  rm -rf results
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if [ $rc -ge 128 ]; then bad "$name: crashed (exit $rc)"; cat err.txt >&2; return; fi
  if [ "$(wc -l <err.txt)" -ne 1 ]; then bad "$name: expected one line on stderr, got:"; cat err.txt >&2; return; fi
  if ! grep -q '^visbench: ' err.txt; then bad "$name: message does not start with 'visbench: '"; cat err.txt >&2; return; fi
  if ! grep -qF -- "$text" err.txt; then bad "$name: message lacks '$text':"; cat err.txt >&2; return; fi
  if [ -s out.txt ]; then bad "$name: wrote to stdout"; return; fi
  if [ -e results ]; then bad "$name: left a results folder"; return; fi
  ok
}

# expect_ok NAME CMD...
expect_ok() {
  local name=$1; shift
  if "$@" >out.txt 2>err.txt; then ok; else bad "$name: exit $?"; cat err.txt >&2; fi
}

# ---- a synthetic dataset --------------------------------------------------
expect_ok "synth" "$VB" dataset synth --out shapes --classes 3 --per-class 40 --size 24 --seed 5
[ -f shapes/dataset.yaml ] && [ "$(ls shapes/circle | wc -l)" -eq 40 ] && ok || bad "synth: files missing"
expect_ok "dataset info" "$VB" dataset info shapes/dataset.yaml
grep -q '^images    120$' out.txt && grep -q 'triangle' out.txt && grep -q '24x24, grey' out.txt && ok \
  || { bad "dataset info output"; cat out.txt >&2; }

# ---- list -------------------------------------------------------------------
expect_ok "list" "$VB" list
for word in hog orientations svm gamma standardize resize idx folder train_limit; do
  grep -q "$word" out.txt && ok || bad "list lacks $word"
done
expect_ok "list features --markdown" "$VB" list features --markdown
grep -q '^| `cell` | int, grid | 8 | 1..256 |' out.txt && ok || { bad "markdown table row for hog.cell"; head -20 out.txt >&2; }
expect_fail "list unknown kind" "unknown kind 'feature'; did you mean 'features'?" "$VB" list feature

# ---- a run ------------------------------------------------------------------
cat >spec.yaml <<'YAML'
name: e2e
seed: 3
dataset: shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: hog-svm
    features: [{hog: {cell: 6}}]
    postprocess: [standardize]
    classifier: {svm: {C: 10}}
  - name: raw-svm
    postprocess: [standardize]
    classifier: {svm: {kernel: linear}}
YAML
expect_ok "run" "$VB" run spec.yaml --out run1
for f in split.txt predictions.csv metrics.json; do [ -s run1/$f ] && ok || bad "run: run1/$f missing"; done
grep -q 'hog-svm \[holdout\]  accuracy' out.txt && ok || { bad "run: no result line"; cat out.txt >&2; }
[ "$(grep -c '^hog-svm,holdout,' run1/predictions.csv)" -eq 30 ] && ok || bad "run: expected 30 hog-svm predictions"
head -1 run1/predictions.csv | grep -q '^pipeline,fold,sample,true,predicted,score:circle,score:square,score:triangle$' \
  && ok || { bad "predictions header"; head -1 run1/predictions.csv >&2; }

# --json: one object per line with the documented keys
expect_ok "run --json" "$VB" run spec.yaml --json --out run2
[ "$(wc -l <out.txt)" -eq 2 ] && ok || bad "--json: expected 2 lines"
for key in pipeline accuracy macro_f1 extract_s train_s predict_s n_train n_test; do
  [ "$(grep -c "\"$key\": " out.txt)" -eq 2 ] && ok || bad "--json: key $key missing"
done
grep -q '"n_train": 90, "n_val": 0, "n_test": 30' out.txt && ok || bad "--json: counts"

# determinism: byte-identical predictions and splits
cmp -s run1/predictions.csv run2/predictions.csv && ok || bad "determinism: predictions differ"
cmp -s run1/split.txt run2/split.txt && ok || bad "determinism: splits differ"

# --pipeline runs one
expect_ok "run --pipeline" "$VB" run spec.yaml --pipeline raw-svm --out run3 --json
[ "$(wc -l <out.txt)" -eq 1 ] && grep -q '"pipeline": "raw-svm"' out.txt && ok || bad "--pipeline"

# ---- bad input: one clear message, non-zero exit, nothing written ------------
spec_with() { # spec_with FILE DATASET [sed expression]
  sed -e "s#dataset: shapes/dataset.yaml#dataset: $2#" ${3:+-e "$3"} spec.yaml >"$1"
}
spec_with missing.yaml nowhere/dataset.yaml
expect_fail "missing dataset" "nowhere/dataset.yaml: no such file or directory" "$VB" run missing.yaml
expect_fail "missing spec" "absent.yaml: cannot open" "$VB" run absent.yaml

# a truncated PNG in a class folder
cp -r shapes trunc && f=trunc/circle/circle_0003.png && head -c 60 "$f" >t.png && mv t.png "$f"
spec_with trunc.yaml trunc/dataset.yaml
expect_fail "truncated png" "trunc/circle/circle_0003.png: not a readable image" "$VB" run trunc.yaml

# a text file in a class folder
cp -r shapes text && echo "not an image" >text/square/notes.txt
spec_with text.yaml text/dataset.yaml
expect_fail "text file in class" "text/square/notes.txt: not a readable image" "$VB" run text.yaml
grep -qF 'skip_invalid: true' err.txt && ok || bad "text file: no hint about skip_invalid"

# an empty class folder
cp -r shapes empty && mkdir empty/star
spec_with empty.yaml empty/dataset.yaml
expect_fail "empty class" "empty/star: class folder holds no images" "$VB" run empty.yaml

# IDX files: a tiny valid set, then a wrong magic and a truncated one
idx_images() { printf '\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00\x02'; head -c 16 /dev/urandom; }
idx_labels() { printf '\x00\x00\x08\x01\x00\x00\x00\x04\x00\x01\x00\x01'; }
idx_images >img.idx && idx_labels >lab.idx && gzip -c img.idx >img.idx.gz
cat >idx.yaml <<'YAML'
format: idx
train_images: img.idx.gz
train_labels: lab.idx
YAML
expect_ok "idx info" "$VB" dataset info idx.yaml
grep -q '^images    4$' out.txt && ok || bad "idx: 4 images"
printf '\x00\x00\x08\x01' | cat - <(tail -c +5 img.idx) >magic.idx
sed 's/img.idx.gz/magic.idx/' idx.yaml >magic.yaml
spec_with idxmagic.yaml magic.yaml
expect_fail "idx wrong magic" "magic.idx: not an IDX image file (magic 0x00000801, expected 0x00000803)" "$VB" run idxmagic.yaml
head -c 24 img.idx | gzip -c >short.idx.gz
sed 's/img.idx.gz/short.idx.gz/' idx.yaml >short.yaml
spec_with idxshort.yaml short.yaml
expect_fail "idx truncated" "short.idx.gz: truncated: the header promises 16 bytes of pixels, the file holds 8" "$VB" run idxshort.yaml

# spec errors: position, key and suggestion
spec_with typo.yaml shapes/dataset.yaml 's/{cell: 6}/{cell: 6, orientatons: 9}/'
expect_fail "unknown key" "typo.yaml:7:32: unknown key 'orientatons' in the parameters of 'hog'; did you mean 'orientations'?" "$VB" run typo.yaml
spec_with type.yaml shapes/dataset.yaml 's/{cell: 6}/{cell: six}/'
expect_fail "wrong type" "type.yaml:7:29: hog.cell must be an integer, not 'six'" "$VB" run type.yaml
spec_with range.yaml shapes/dataset.yaml 's/{cell: 6}/{cell: 0}/'
expect_fail "out of range" "range.yaml:7:29: hog.cell = 0 is out of range (1..256)" "$VB" run range.yaml
spec_with ext.yaml shapes/dataset.yaml 's/{hog: {cell: 6}}/{hgo: {cell: 6}}/'
expect_fail "unknown extractor" "ext.yaml:7:17: unknown feature extractor 'hgo'; did you mean 'hog'?" "$VB" run ext.yaml
spec_with clf.yaml shapes/dataset.yaml 's/{svm: {C: 10}}/{svn: {C: 10}}/'
expect_fail "unknown classifier" "clf.yaml:9:18: unknown classifier 'svn'; did you mean 'svm'?" "$VB" run clf.yaml
spec_with top.yaml shapes/dataset.yaml 's/^split:/splt:/'
expect_fail "unknown top-level key" "top.yaml:4:1: unknown key 'splt' in the spec; did you mean 'split'?" "$VB" run top.yaml
spec_with grid.yaml shapes/dataset.yaml 's/{svm: {C: 10}}/{svm: {C: [1, 10]}}/'
expect_fail "grid without validation" "pipeline 'hog-svm' lists several classifier values (a grid) but split.validation is 0" "$VB" run grid.yaml
expect_fail "unknown command" "visbench: unknown command 'rnu'; did you mean 'run'?" "$VB" rnu spec.yaml

# a grid with a validation part tunes and reports its choice
spec_with gridv.yaml shapes/dataset.yaml 's/{svm: {C: 10}}/{svm: {C: [1, 10]}}/; s/test_fraction: 0.25}/test_fraction: 0.25, validation: 0.2}/'
expect_ok "grid with validation" "$VB" run gridv.yaml --json --out rungrid
grep -q '"grid": "C=' out.txt && ok || bad "grid: no chosen value reported"

# ---- the cnn classifier ----------------------------------------------------
cat >cnn.yaml <<'YAML'
name: e2e-cnn
seed: 3
dataset: shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25, validation: 0.2}
pipelines:
  - name: cnn
    classifier:
      cnn:
        layers: [conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, fc: classes]
        epochs: 3
        batch: 16
YAML
expect_ok "cnn run" "$VB" run cnn.yaml --json --out runcnn
grep -q '"pipeline": "cnn"' out.txt && grep -q '"epochs_run": 3' out.txt && ok || { bad "cnn: result"; cat out.txt >&2; }
expect_ok "cnn run again" "$VB" run cnn.yaml --json --out runcnn2
cmp -s runcnn/predictions.csv runcnn2/predictions.csv && ok || bad "cnn: predictions differ between runs"
expect_ok "cnn one thread" "$VB" --threads 1 run cnn.yaml --json --out runcnn3
cmp -s runcnn/predictions.csv runcnn3/predictions.csv && ok || bad "cnn: predictions depend on the thread count"
# layers that do not fit 24x24 images: the spec position, before any work
sed 's/layers: \[conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, fc: classes\]/layers: [maxpool: 8, maxpool: 4, fc: classes]/' cnn.yaml >cnnbad.yaml
expect_fail "cnn shape" "cnnbad.yaml:9:37: cnn layer 2 (maxpool 4): needs an input of at least 4x4, but gets 3x3x1" "$VB" run cnnbad.yaml
sed 's/epochs: 3/epochs: 3\n        optimizer: {sgd: {lr: 0}}/' cnn.yaml >cnnlr.yaml
expect_fail "cnn lr" "cnnlr.yaml:11:31: cnn.optimizer sgd lr must be > 0, not 0" "$VB" run cnnlr.yaml
sed 's/^    classifier:/    features: [{hog: {cell: 6}}]\n    classifier:/' cnn.yaml >cnnhog.yaml
expect_fail "cnn on features" "cnn: needs raw image rows as input" "$VB" run cnnhog.yaml

echo "e2e: $pass checks passed, $failures failed"
[ $failures -eq 0 ]
