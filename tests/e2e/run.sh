#!/usr/bin/env bash
# End-to-end tests: the CLI on small data these tests make.
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/run.sh
set -u
lib=$(cd "$(dirname "$0")" && pwd)/lib.sh
VB=${VB:?set VB to the visbench binary}
work=${BUILD:-/tmp}/tmp/e2e
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$lib"

# ---- a synthetic dataset --------------------------------------------------
expect_ok "synth" "$VB" dataset synth --out shapes --classes 3 --per-class 40 --size 24 --seed 5
[ -f shapes/dataset.yaml ] && [ "$(ls shapes/circle | wc -l)" -eq 40 ] && ok || bad "synth: files missing"
expect_fail "synth over a dataset" "dataset synth: shapes is not empty; choose a new folder, or add --force" \
  "$VB" dataset synth --out shapes --classes 2 --per-class 3
[ "$(ls shapes/circle | wc -l)" -eq 40 ] && [ ! -e shapes/circle/circle_0040.png ] && ok || bad "synth: a refused synth changed the folder"
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
expect_fail "list unknown kind" "unknown kind or plug-in 'feature'; did you mean 'features'?" "$VB" list feature
expect_ok "list one plug-in" "$VB" list hog
grep -q '^  hog$' out.txt && grep -q 'orientations' out.txt && ! grep -q '^  svm$' out.txt && ok || { bad "list hog"; cat out.txt >&2; }
expect_ok "list cnn" "$VB" list cnn
for table in layers optimizer schedule augment; do
  grep -q "^    cnn\.$table — $table: " out.txt && ok || { bad "list cnn lacks cnn.$table"; cat out.txt >&2; }
done
for sub in conv maxpool avgpool relu fc dropout batchnorm flatten adam sgd none step cosine augment; do
  grep -q "^      $sub\$" out.txt && ok || bad "list cnn lacks $sub"
done
grep -Eq '^          beta2 +float +default 0\.999 +0\.\.0\.99999999 ' out.txt && grep -Eq '^          every +int +default required +1\.\.100000 ' out.txt \
  && grep -Eq '^          rate +float +default 0\.5 +0 <= x < 1 ' out.txt && ok || { bad "list cnn: sub-table rows"; cat out.txt >&2; }
grep -q '^Feature extractors — ' out.txt && grep -q '^Classifiers — ' out.txt && ok || bad "list cnn: the extractor and the classifier"
expect_ok "list cnn --markdown" "$VB" list cnn --markdown
grep -q '^##### `cnn.optimizer`$' out.txt && grep -q '^\*\*`sgd`\*\*: ' out.txt \
  && grep -q '^| `nesterov` | bool | false |  | ' out.txt && ok || { bad "list cnn --markdown"; cat out.txt >&2; }

# ---- help -------------------------------------------------------------------
for cmd in run results report train predict evaluate features list dataset; do
  for flag in --help -h; do
    expect_ok "$cmd $flag" "$VB" $cmd $flag
    grep -q "^usage: visbench $cmd" out.txt && grep -q '^example:' out.txt && [ ! -s err.txt ] && ok \
      || { bad "$cmd $flag: no help"; cat out.txt err.txt >&2; }
  done
done
expect_ok "help run" "$VB" help run
grep -q '^usage: visbench run SPEC' out.txt && grep -q -- '--dry-run' out.txt && ok || bad "help run"
expect_ok "--version" "$VB" --version
grep -q '^visbench [0-9]' out.txt && ok || bad "--version"
expect_ok "help" "$VB" help
for cmd in run results report train predict evaluate features list dataset model version help; do
  grep -q "^  $cmd " out.txt && ok || bad "help overview lacks $cmd"
done
expect_fail "help unknown" "unknown command 'rnu'; did you mean 'run'?" "$VB" help rnu

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
expect_ok "run" "$VB" run spec.yaml --store run1.db
for f in run1.db run1.split.txt; do [ -s $f ] && ok || bad "run: $f missing"; done
grep -q 'hog-svm \[holdout\]  accuracy' out.txt && ok || { bad "run: no result line"; cat out.txt >&2; }
grep -q '^1    ' out.txt && grep -q 'pairwise p-values: McNemar on the holdout predictions' out.txt && ok \
  || { bad "run: no leaderboard"; cat out.txt >&2; }
grep -qx "(\* p < 0.05 after Holm's correction over 1 pair)" out.txt && ok || { bad "run: no Holm legend"; cat out.txt >&2; }
# correction: read back from the stored spec text; the runs are kept
cp run1.db runc.db && sed 's/^seed: 3$/seed: 3\ncorrection: bonferroni/' spec.yaml >spec-bonf.yaml
expect_ok "run with correction: bonferroni" "$VB" run spec-bonf.yaml --store runc.db
grep -q '2 runs finished earlier and kept' err.txt && grep -qx "(\* p < 0.05 after Bonferroni's correction over 1 pair)" out.txt \
  && ok || { bad "run: correction: bonferroni"; cat out.txt >&2; }
"$VB" results runc.db --format json | grep -q '"correction": "bonferroni", "pairwise": \[{"a": ' && ok || bad "results json correction"
expect_ok "results --predictions" "$VB" results run1.db --predictions
cp out.txt pred1.csv
[ "$(grep -c '^hog-svm,holdout,' pred1.csv)" -eq 30 ] && ok || bad "run: expected 30 hog-svm predictions"
head -1 pred1.csv | grep -q '^pipeline,fold,sample,true,predicted,score:circle,score:square,score:triangle$' \
  && ok || { bad "predictions header"; head -1 pred1.csv >&2; }
for fmt in text md csv json; do
  expect_ok "results --format $fmt" "$VB" results run1.db --format $fmt
done
grep -q '^rank,pipeline,runs,failed,test_accuracy' <("$VB" results run1.db --format csv) && ok || bad "results csv header"
"$VB" results run1.db --format json | grep -q '"leaderboard": \[{"rank": 1, "pipeline": ' && ok || bad "results json"
expect_fail "results of a missing store" "nope.db: cannot open the store: No such file or directory" "$VB" results nope.db

# ---- report -------------------------------------------------------------------
expect_ok "report" "$VB" report run1.db
[ "$(cat out.txt)" = run1.html ] && head -c 15 run1.html | grep -q '<!DOCTYPE html>' && ok || bad "report: run1.html"
grep -q 'id="vb-check"' run1.html && grep -q '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="acc"' run1.html \
  && ok || bad "report: no chart"
expect_ok "report md" "$VB" report run1.db --format md
grep -q '^# visbench report: e2e$' out.txt && grep -q '^## Leaderboard$' out.txt && ok || bad "report md to stdout"
expect_ok "report csv" "$VB" report run1.db --format csv
head -1 out.txt | grep -q '^experiment,pipeline,fold,metric,class,value$' && grep -q '^e2e,hog-svm,holdout,accuracy,,' out.txt \
  && grep -q '^e2e,raw-svm,holdout,f1,triangle,' out.txt && ok || bad "report csv"
expect_ok "report -o by extension" "$VB" report run1.db -o rep.md
[ "$(cat out.txt)" = rep.md ] && grep -q '^# visbench report' rep.md && ok || bad "report -o rep.md"
expect_ok "report --experiment" "$VB" report run1.db --experiment 1
[ "$(cat out.txt)" = run1-exp1.html ] && [ -s run1-exp1.html ] && ok || bad "report --experiment file name"
cmp -s run1.html run1-exp1.html && ok || bad "report: not deterministic"
expect_ok "report -o -" "$VB" report run1.db -o -
head -c 15 out.txt | grep -q '<!DOCTYPE html>' && ok || bad "report -o - writes HTML to stdout"
expect_fail "report of a missing store" "nope.db: cannot open the store" "$VB" report nope.db
expect_fail "report format" "--format takes html, md or csv, not 'pdf'" "$VB" report run1.db --format pdf
expect_fail "report over its store" "the output 'run1.db' is the store itself" "$VB" report run1.db -o run1.db
expect_fail "report of a missing experiment" "no experiment 9" "$VB" report run1.db --experiment 9
expect_fail "report into a missing folder" "nowhere/r.html: cannot create the file" "$VB" report run1.db -o nowhere/r.html

# --json: one object per line with the documented keys
expect_ok "run --json" "$VB" run spec.yaml --json --store run2.db
[ "$(wc -l <out.txt)" -eq 2 ] && ok || bad "--json: expected 2 lines"
for key in pipeline accuracy macro_f1 extract_s train_s predict_s n_train n_test; do
  [ "$(grep -c "\"$key\": " out.txt)" -eq 2 ] && ok || bad "--json: key $key missing"
done
grep -q '"n_train": 90, "n_val": 0, "n_test": 30' out.txt && ok || bad "--json: counts"

# determinism: byte-identical predictions and splits
"$VB" results run2.db --predictions >pred2.csv
cmp -s pred1.csv pred2.csv && ok || bad "determinism: predictions differ"
cmp -s run1.split.txt run2.split.txt && ok || bad "determinism: splits differ"
# a second run of the same command redoes nothing
expect_ok "rerun" "$VB" run spec.yaml --json --store run2.db
# (and --json still prints every run, the kept ones marked: scripts get all results)
[ "$(grep -c '"kept": true}$' out.txt)" -eq 2 ] && ! grep -q '"kept": false' out.txt \
  && grep -q '2 runs finished earlier and kept' err.txt && ok || { bad "rerun redid work, or --json hid the kept runs"; cat out.txt err.txt >&2; }
/usr/bin/python3 -c 'import json, sys; [json.loads(l) for l in open("out.txt")]' && ok || bad "rerun --json: not JSON lines"

# --pipeline runs one
expect_ok "run --pipeline" "$VB" run spec.yaml --pipeline raw-svm --store run3.db --json
[ "$(wc -l <out.txt)" -eq 1 ] && grep -q '"pipeline": "raw-svm"' out.txt && ok || bad "--pipeline"

# --dry-run: the plan, nothing written
rm -rf results
expect_ok "dry run" "$VB" run spec.yaml --dry-run
grep -q '^  fold holdout    train     90  validation      0  test     30  (holdout)$' out.txt && ok || { bad "dry run: fold line"; cat out.txt >&2; }
grep -q '^  pool: all 120 images (the dataset has no official test part)$' out.txt && ok || { bad "dry run: pool line"; cat out.txt >&2; }
grep -q '^  pipeline hog-svm .* 24x24x1 images -> hog 496 -> standardize -> svm$' out.txt && ok || { bad "dry run: pipeline line"; cat out.txt >&2; }
[ ! -e results ] && ok || bad "dry run wrote results"

# checks that come before any work: one class, sizes that vary, a bad store
mkdir -p oneclass/circle && cp shapes/circle/circle_000[0-9].png oneclass/circle/
cat >one.yaml <<'YAML'
name: one
dataset: {format: folder, path: oneclass}
split: {protocol: holdout, test_fraction: 0.25}
pipelines: [{name: raw-knn, classifier: knn}]
YAML
expect_fail "one class" "one.yaml: the dataset has 1 class ('circle'); classification needs at least two" "$VB" run one.yaml
expect_ok "synth 30 px" "$VB" dataset synth --out big --classes 2 --per-class 1 --size 30 --seed 1
mkdir -p vary/a vary/b && cp shapes/circle/circle_000[0-4].png vary/a/ && cp shapes/square/square_000[0-4].png vary/b/ \
  && cp big/circle/circle_0000.png vary/a/circle_0099.png
cat >vary.yaml <<'YAML'
name: vary
dataset: {format: folder, path: vary}
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: hog-knn
    features: [hog]
    classifier: knn
YAML
expect_fail "sizes vary" "vary.yaml:5:5: pipeline 'hog-knn' extracts features that need one image size, but the dataset's images vary (vary/a/circle_0000.png is 24x24, vary/a/circle_0099.png is 30x30); add {resize: [w, h]}" "$VB" run vary.yaml
echo "this is no database" >junk.db
expect_fail "a store that is no database" "junk.db: not a visbench store (the file is not an SQLite database)" "$VB" -q run spec.yaml --store junk.db
[ ! -e junk.split.txt ] && ok || bad "a failed store open left junk.split.txt"

# the same numbers with any thread count: every classifier, a tuned grid,
# fitted pca, a sift codebook (a threaded OpenBLAS gave the SVM other bits)
cat >thr.yaml <<'YAML'
name: thr
seed: 9
dataset: shapes/dataset.yaml
split: {protocol: kfold, k: 3, validation: 0.2}
pipelines:
  - {name: svm-p, features: [{hog: {cell: 4}}], postprocess: [standardize, {pca: {components: 20}}], classifier: {svm: {probability: true, C: [1, 10]}}}
  - {name: linear, features: [{hog: {cell: 6}}], classifier: {linear: {loss: logistic}}}
  - {name: knn, features: [{hog: {cell: 6}}], classifier: {knn: {k: 3}}}
  - {name: forest, features: [{sift: {words: 16, step: 4, max_descriptors: 2000}}], classifier: {forest: {n_trees: 10}}}
  - {name: boost, features: [{hog: {cell: 6}}], classifier: {boost: {rounds: 20, max_depth: 3, subsample: 0.7, colsample: 0.5, early_stopping: 3}}}
  - {name: tree, features: [{hog: {cell: 6}}], classifier: {tree: {ccp_alpha: 0.005}}}
  - {name: logreg, features: [{lbp: {cell: 8}}], postprocess: [standardize], classifier: logreg}
  - {name: kmeans, features: [{hog: {cell: 6}}], classifier: {kmeans: {k: 6}}}
  - {name: gmm, features: [{hog: {cell: 8}}], postprocess: [{pca: {components: 8}}], classifier: {gmm: {k: 2}}}
  - {name: cnn, preprocess: [{resize: 16}], classifier: {cnn: {layers: [conv: {filters: 4, size: 3}, relu, maxpool: 2, flatten, fc: classes], epochs: 2}}}
YAML
expect_ok "one thread" "$VB" -q --threads 1 run thr.yaml --store thr1.db
expect_ok "two threads" "$VB" -q --threads 2 run thr.yaml --store thr2.db
"$VB" results thr1.db --predictions >thr1.csv && "$VB" results thr2.db --predictions >thr2.csv
[ "$(wc -l <thr1.csv)" -eq $(($(grep -c '^  - {name:' thr.yaml) * 120 + 1)) ] && cmp -s thr1.csv thr2.csv && ok \
  || bad "threads: predictions differ between 1 and 2 threads in: $(diff thr1.csv thr2.csv | awk -F, '/^[<>]/ {print substr($1, 3)}' | sort -u | tr '\n' ' ')"
# stage timings apart: the pca fit is post-processing, not training
[ "$(sqlite3 thr1.db "select count(*) from runs where pipeline = 'svm-p' and postprocess_s > 0 and train_s > 0 and tune_s > 0")" = 3 ] \
  && "$VB" results thr1.db --format json | grep -q '"postprocess_s": ' && ok || bad "timings: postprocess_s not stored apart"

# pca on 9,216 features (past the old cap of 8,192): auto picks gram for 20
# components of 90 training rows, randomized for 4; -v says which; the
# projected features are the same bits at 1 and 2 threads
cat >wide.yaml <<'YAML'
name: wide
seed: 1
dataset: shapes/dataset.yaml
preprocess: [{resize: 96}]
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - {name: wide-gram, features: [raw], postprocess: [{pca: {components: 20}}], classifier: {knn: {k: 1}}}
  - {name: wide-rand, features: [raw], postprocess: [{pca: {components: 4}}], classifier: {knn: {k: 1}}}
YAML
expect_ok "pca on 9216 features" "$VB" -v --threads 1 run wide.yaml --store wide.db
grep -q 'pca: solver gram (auto) on 90 x 9216, 20 components' err.txt &&
  grep -q 'pca: solver randomized (auto) on 90 x 9216, 4 components' err.txt && ok ||
  { bad "pca solvers on wide features"; grep pca err.txt >&2; }
for t in 1 2; do
  expect_ok "wide features, $t threads" "$VB" -q --threads $t features wide.yaml --pipeline wide-rand --format csv --out wide$t.csv
done
cmp -s wide1.csv wide2.csv && [ -s wide1.csv ] && ok || bad "randomized pca: other features at 2 threads"

# progress: on a terminal, long stages show what they are doing and the time
# (a bar when the total is known), within 80 columns; nothing off a terminal
# or with -q
cat >slow.yaml <<'YAML'
name: slow
seed: 1
dataset: shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - {name: a-forest-of-trees, features: [{hog: {cell: 4}}], postprocess: [{pca: {components: 40}}], classifier: {forest: {n_trees: 200}}}
YAML
if command -v script >/dev/null; then
  # every stage shows at once (not after half a second), so the check does not depend on the machine's speed
  VISBENCH_PROGRESS_DELAY=0 COLUMNS=80 script -qfec "$VB run slow.yaml --store tty.db" /dev/null >tty.out 2>&1
  /usr/bin/python3 - tty.out <<'PY' && ok || { bad "progress on a terminal"; cat -v tty.out | head -c 2000 >&2; }
import re, sys
t = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace').replace('\x1b[K', '')
segs = [s for s in re.split(r'[\r\n]', t) if s]
prog = [s for s in segs if re.search(r'^a-forest-of-trees: training forest \(90 x 40\)  [0-9.]+ s$', s)]
assert any(re.search(r'^a-forest-of-trees: features \(train\) \[[#.]{12}\] +[0-9]+% [0-9]+/90 ', s) for s in segs), 'no bar for a stage of known size'
assert prog, 'no progress line for the training stage'
assert any(re.search(r'training forest \(90 x 40\): done \([0-9.]+ s\)$', s) for s in segs), 'no done line'
assert all(len(s) <= 79 for s in segs if ' s' in s and (s in prog or ': done (' in s)), 'a progress line is wider than 80 columns'
PY
  VISBENCH_PROGRESS_DELAY=0 COLUMNS=80 script -qfec "$VB -q run slow.yaml --store tty-q.db" /dev/null >ttyq.out 2>&1
  ! grep -q 'training forest' ttyq.out && ok || bad "progress with -q"
else
  echo "e2e: no 'script' command; the terminal progress check is skipped" >&2
fi
expect_ok "progress off a terminal" "$VB" run slow.yaml --store notty.db
! grep -q 'training forest' err.txt && ! grep -q "$(printf '\r')" err.txt && ok || { bad "progress off a terminal"; cat err.txt >&2; }

# honest splits: on a dataset with an official test part, holdout draws from
# the training part only unless the spec says pool: all
expect_ok "synth with a test part" "$VB" dataset synth --out parts --classes 3 --per-class 20 --test-per-class 10 --size 24 --seed 2
cat >pool.yaml <<'YAML'
name: pool
dataset: parts/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines: [{name: raw-knn, classifier: knn}]
YAML
expect_ok "holdout pool dry run" "$VB" run pool.yaml --dry-run
grep -q '^  pool: the training part, 60 of 90 images (the official test part stays unseen; pool: all to include it)$' out.txt \
  && grep -q '^  fold holdout    train     45  validation      0  test     15  (holdout)$' out.txt && ok \
  || { bad "holdout: not drawn from the training part"; cat out.txt >&2; }
sed -i 's/test_fraction: 0.25}/test_fraction: 0.25, pool: all}/' pool.yaml
expect_ok "holdout pool: all" "$VB" run pool.yaml --dry-run
grep -q '^  pool: all 90 images, official test part included (pool: all)$' out.txt && grep -q 'test     23  (holdout)$' out.txt && ok \
  || { bad "holdout pool: all"; cat out.txt >&2; }
sed -i 's/protocol: holdout, test_fraction: 0.25, pool: all/protocol: official-test, pool: all/' pool.yaml
expect_fail "pool with official-test" "pool.yaml:3:40: split.pool: does not apply to protocol: official-test" "$VB" run pool.yaml

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
expect_fail "truncated png" "trunc/circle/circle_0003.png: truncated PNG: an IDAT chunk claims" "$VB" run trunc.yaml

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
expect_fail "grid without validation" "pipeline 'hog-svm' lists several values (a grid of 2 points) but split.validation is 0" "$VB" run grid.yaml
expect_fail "unknown command" "visbench: unknown command 'rnu'; did you mean 'run'?" "$VB" rnu spec.yaml
expect_fail "unknown option" "visbench: run: unknown option '--bogus'" "$VB" run spec.yaml --bogus
expect_fail "option without its value" "visbench: run: option '--store' needs a value" "$VB" run spec.yaml --store

# a grid with a validation part tunes and reports its choice
spec_with gridv.yaml shapes/dataset.yaml 's/{svm: {C: 10}}/{svm: {C: [1, 10]}}/; s/test_fraction: 0.25}/test_fraction: 0.25, validation: 0.2}/'
expect_ok "grid with validation" "$VB" run gridv.yaml --json --store rungrid.db
grep -q '"grid": "C=' out.txt && ok || bad "grid: no chosen value reported"
# a grid over the extractor too: hog.cell x svm.C (3 x 3) extracts 3 times,
# not 9, and the same choice comes out of train
spec_with gridf.yaml shapes/dataset.yaml 's/{hog: {cell: 6}}/{hog: {cell: [4, 6, 8]}}/; s/{svm: {C: 10}}/{svm: {C: [1, 10, 100]}}/; s/test_fraction: 0.25}/test_fraction: 0.25, validation: 0.2}/'
expect_ok "grid over features" "$VB" run gridf.yaml --pipeline hog-svm --json --store rungridf.db
grep -q 'holdout: 3 feature extractions served 1 pipeline with 9 grid points' err.txt && ok ||
  { bad "feature grid: not 3 extractions"; cat err.txt >&2; }
chosen=$(sed -n 's/.*"grid": "\(hog.cell=[0-9]*, C=[0-9]*\)".*/\1/p' out.txt)
[ -n "$chosen" ] && ok || { bad "feature grid: no choice reported"; cat out.txt >&2; }
expect_ok "train a feature grid" "$VB" train gridf.yaml --pipeline hog-svm -o gridf.vbm
expect_ok "model info of a feature grid" "$VB" model info gridf.vbm --json
grep -qF "\"grid\": \"$chosen\"" out.txt && ok || { bad "train chose otherwise than run ($chosen)"; cat out.txt >&2; }
# random search: seeded draws from lists and ranges, the same on a rerun
spec_with gridr.yaml shapes/dataset.yaml 's/{hog: {cell: 6}}/{hog: {cell: [4, 6, 8]}}/; s/{svm: {C: 10}}/{svm: {C: {loguniform: [0.1, 1000]}}}\n    search: {random: 4}/; s/test_fraction: 0.25}/test_fraction: 0.25, validation: 0.2}/'
expect_ok "random search" "$VB" run gridr.yaml --pipeline hog-svm --json --store rungridr.db
[ "$(grep -c 'hog-svm: draw [1-4]: hog.cell=[468], C=' err.txt)" = 4 ] && ok || { bad "random search: not 4 draws"; cat err.txt >&2; }
r1=$(grep -o '"grid": "[^"]*"' out.txt)
expect_ok "random search again" "$VB" run gridr.yaml --pipeline hog-svm --json --store rungridr2.db
[ -n "$r1" ] && [ "$(grep -o '"grid": "[^"]*"' out.txt)" = "$r1" ] && ok || bad "random search: another choice on a rerun"
spec_with gridq.yaml shapes/dataset.yaml 's/{svm: {C: 10}}/{svm: {C: {uniform: [1, 10]}}}/'
expect_fail "a range without random search" "gridq.yaml:9:27: pipeline 'hog-svm': a range of values is drawn from by random search" "$VB" run gridq.yaml
expect_fail "features of a feature grid" "gridf.yaml:6:5: pipeline 'hog-svm' lists several values for its features" \
  "$VB" features gridf.yaml --pipeline hog-svm --out f.csv
expect_fail "grid on a parameter not marked grid" "hog.variant takes a single value, not a list" \
  "$VB" run "$(spec_with gridn.yaml shapes/dataset.yaml 's/{hog: {cell: 6}}/{hog: {variant: [uoctti, dalaltriggs]}}/'; echo gridn.yaml)"

# ---- learning curves -------------------------------------------------------------
cat >lc.yaml <<'YAML'
name: lc
seed: 4
dataset: shapes/dataset.yaml
split: {protocol: kfold, k: 3, learning_curve: [0.25, 0.5, 1.0]}
pipelines:
  - {name: hog-knn, features: [{hog: {cell: 6}}], classifier: {knn: {k: 3}}}
  - {name: raw-knn, classifier: {knn: {k: 1}}}
YAML
expect_ok "run with a learning curve" "$VB" run lc.yaml --store lc.db
[ "$(sqlite3 lc.db "SELECT count(*) FROM runs WHERE status = 'done'")" = 18 ] && ok || bad "learning curve: not 18 runs (6 + 12)"
[ "$(sqlite3 lc.db "SELECT count(*) FROM folds WHERE kind = 'curve' AND number IN (250, 500)")" = 6 ] && ok || bad "learning curve: not 6 curve folds"
grep -q '^learning curve: accuracy' out.txt && grep -Eq '^ +0.5 +[0-9]+ +0\.[0-9]+ ± ' out.txt && ok || { bad "learning curve: no table"; cat out.txt >&2; }
# the leaderboard is the folds' own: the same as without the curve
sed 's/, learning_curve: \[0.25, 0.5, 1.0\]//' lc.yaml >lc0.yaml
"$VB" -q run lc0.yaml --store lc0.db >/dev/null 2>&1 || bad "run without the curve"
[ "$("$VB" results lc.db --format csv | cut -d, -f1-12)" = "$("$VB" results lc0.db --format csv | cut -d, -f1-12)" ] && ok ||
  bad "learning curve: the leaderboard's accuracies changed"
expect_ok "report with a learning curve" "$VB" report lc.db -o lc.html
grep -q '<section id="training-size">' lc.html && grep -q '<svg[^>]*id="size-acc"' lc.html && ok || bad "learning curve: no chart in the report"
for v in "[0, 0.5]:lc1.yaml:4:49: split.learning_curve = 0 is out of range (0 < x <= 1)" \
         "[1.5]:lc1.yaml:4:49: split.learning_curve = 1.5 is out of range (0 < x <= 1)"; do
  sed "s/learning_curve: \[0.25, 0.5, 1.0\]/learning_curve: ${v%%:*}/" lc.yaml >lc1.yaml
  expect_fail "learning curve ${v%%:*}" "${v#*:}" "$VB" run lc1.yaml
done

# ---- several datasets in one spec ---------------------------------------------
"$VB" -q dataset synth --classes 3 --per-class 20 --size 24 --seed 5 --noise 0.3 --out hard >/dev/null 2>&1 || bad "synth hard"
"$VB" -q dataset synth --classes 3 --per-class 20 --size 32 --seed 5 --out big32 >/dev/null 2>&1 || bad "synth big32"
cat >multi.yaml <<'YAML'
name: multi
seed: 3
datasets: [shapes/dataset.yaml, hard/dataset.yaml]
split: {protocol: kfold, k: 2}
pipelines:
  - {name: hog-knn, features: [{hog: {cell: 6}}], classifier: {knn: {k: 3}}}
  - {name: raw-knn, classifier: {knn: {k: 1}}}
YAML
expect_ok "run on two datasets" "$VB" run multi.yaml --store multi.db
grep -q 'dataset 1 of 2: shapes/dataset.yaml' err.txt && grep -q 'dataset 2 of 2: hard/dataset.yaml' err.txt && ok ||
  { bad "multi: the datasets are not named"; cat err.txt >&2; }
[ "$(sqlite3 multi.db "SELECT count(*) FROM experiments WHERE name = 'multi'")" = 2 ] && ok || bad "multi: not 2 experiments"
[ "$(sqlite3 multi.db "SELECT count(*) FROM runs WHERE status = 'done'")" = 8 ] && ok || bad "multi: not 8 runs"
[ -s multi.d1.split.txt ] && [ -s multi.d2.split.txt ] && ok || bad "multi: a split file per dataset"
grep -q '^across 2 datasets' out.txt && grep -q '^average rank' out.txt && grep -q '^Friedman chi2 = ' out.txt && ok ||
  { bad "multi: no matrix across the datasets"; cat out.txt >&2; }
expect_ok "results across datasets" "$VB" results multi.db --format json
/usr/bin/python3 -c "import json,sys; a=json.load(open('out.txt'))['across']; assert len(a['datasets']) == 2 and a['pipelines'] == ['hog-knn', 'raw-knn'] and sorted(a['average_ranks']) == [1, 2], a" && ok ||
  bad "multi: results --format json has no matrix"
expect_ok "report across datasets" "$VB" report multi.db -o multi.html
grep -q '<section id="datasets"><h2>Across datasets</h2>' multi.html && grep -q '<svg[^>]*id="cd-diagram"' multi.html && ok ||
  bad "multi: the report has no section across datasets with its CD diagram"
expect_ok "run one dataset of two" "$VB" -q run multi.yaml --dataset hard/dataset.yaml --store multi2.db
[ "$(sqlite3 multi2.db "SELECT group_concat(dataset) FROM experiments")" = "$(sqlite3 multi.db "SELECT dataset FROM experiments ORDER BY id DESC LIMIT 1")" ] && ok || bad "multi: --dataset ran another"
expect_fail "--dataset out of range" "--dataset takes one of the spec's 2 datasets (1 = shapes/dataset.yaml, 2 = hard/dataset.yaml), not '3'" "$VB" run multi.yaml --dataset 3
expect_fail "--shard on several datasets" "multi.yaml has 2 datasets; --shard runs one of them: add --dataset N" "$VB" run multi.yaml --shard 1/2
sed 's#hard/dataset.yaml#big32/dataset.yaml#' multi.yaml >multib.yaml
expect_fail "datasets of two sizes" "multib.yaml:3:33: datasets shapes/dataset.yaml (24x24) and big32/dataset.yaml (32x32) have other image sizes; add preprocess: [{resize: [w, h]}]" "$VB" run multib.yaml
expect_fail "dataset and datasets" "gives both 'dataset' and 'datasets'" "$VB" run "$(sed 's#^datasets:#dataset: shapes/dataset.yaml\ndatasets:#' multi.yaml >both.yaml; echo both.yaml)"

# ---- models: train, predict, evaluate, and the installed library ----------
expect_ok "train" "$VB" train spec.yaml --pipeline hog-svm -o hog.vbm
[ -s hog.vbm ] && ok || bad "train: no model file"
# the trained model scores the holdout fold exactly as run did
run_acc=$("$VB" results run1.db --format csv | awk -F, '$2 == "hog-svm" {printf "%.4f", $5}')
grep -q "holdout fold test part: accuracy $run_acc" out.txt && ok || { bad "train: accuracy differs from run ($run_acc)"; cat out.txt >&2; }
# train --fold F builds exactly the model run evaluated on fold F: a sift
# codebook and a forest, both seeded by the fold (train once seeded every
# fold as the first, and scored 0.74 where run said 0.85)
cat >kf.yaml <<'YAML'
name: kf
seed: 4
dataset: shapes/dataset.yaml
split: {protocol: kfold, k: 3}
pipelines:
  - name: sift-forest
    features: [{sift: {words: 32, step: 4, max_descriptors: 3000}}]
    classifier: {forest: {n_trees: 20}}
YAML
expect_ok "run kfold" "$VB" run kf.yaml --store kf.db
"$VB" results kf.db --predictions >kf-pred.csv
# quiet by default: one line per run; -v adds the per-class tables
rm -f quiet.db
expect_ok "run quiet" "$VB" run kf.yaml --store quiet.db
[ "$(grep -c '^sift-forest \[fold[123]\]  accuracy ' out.txt)" -eq 3 ] && ! grep -q 'precision' out.txt && ok \
  || { bad "run: not one line per run by default"; cat out.txt >&2; }
rm -f verbose.db
expect_ok "run -v" "$VB" -v run kf.yaml --store verbose.db
[ "$(grep -c '^  class  *precision' out.txt)" -eq 3 ] && ok || { bad "run -v: no per-class tables"; cat out.txt >&2; }
for f in fold1 fold2 fold3; do
  acc=$(awk -F, -v f=$f '$2 == f { n++; c += ($4 == $5) } END { printf "%.4f", c / n }' kf-pred.csv)
  expect_ok "train --fold $f" "$VB" train kf.yaml --pipeline sift-forest --fold $f -o kf-$f.vbm
  grep -q "^  $f fold test part: accuracy $acc" out.txt && ok || { bad "train --fold $f: accuracy differs from run ($acc)"; cat out.txt >&2; }
done
# byte for byte: the fold2 model, given the files of fold2's test images
# (the store links each prediction to its file), predicts the labels and
# scores run stored
sqlite3 kf.db "select s.file from predictions p join runs r on r.id = p.run_id join samples s
               on s.experiment_id = r.experiment_id and s.sample = p.sample where r.fold = 'fold2' order by p.sample" >f2.txt
"$VB" -q predict kf-fold2.vbm $(cat f2.txt) --format csv | tail -n +2 | cut -d, -f2- \
  | sed 's/^circle,/0,/; s/^square,/1,/; s/^triangle,/2,/' >f2-model.csv
awk -F, '$2 == "fold2"' kf-pred.csv | cut -d, -f5- >f2-run.csv
[ "$(wc -l <f2.txt)" -eq 40 ] && cmp -s f2-model.csv f2-run.csv && ok \
  || { bad "train --fold fold2: the model's predictions differ from the ones run stored"; diff f2-model.csv f2-run.csv | head >&2; }
# interrupted (as by Ctrl-C) while it scores the test part: the model is
# saved whole, without the test metrics, and the command succeeds
VISBENCH_INTERRUPT_AT="predict: features" "$VB" train kf.yaml --pipeline sift-forest --fold fold2 -o int.vbm >out.txt 2>err.txt
rc=$?
[ $rc -eq 0 ] && grep -q "interrupted while scoring the fold2 fold's test part; saving the model without its test metrics" err.txt \
  && "$VB" model info int.vbm >info.txt && ! grep -q '^  test ' info.txt && grep -q '^  fold            fold2$' info.txt && ok \
  || { bad "train interrupted while scoring: exit $rc"; cat err.txt info.txt >&2; }
VISBENCH_INTERRUPT_AT="features (train)" "$VB" train kf.yaml --pipeline sift-forest --fold fold2 -o int2.vbm >out.txt 2>err.txt
rc=$?
[ $rc -eq 130 ] && [ ! -e int2.vbm ] && ! ls int2.vbm.tmp.* >/dev/null 2>&1 && ok \
  || { bad "train interrupted while training: exit $rc, or a model was written"; cat err.txt >&2; }
expect_ok "train the whole pool" "$VB" train kf.yaml --pipeline sift-forest -o kf.vbm
grep -q "no --fold given: training on the whole kfold pool (120 images)" err.txt && grep -q "on 120 images" out.txt && ok \
  || { bad "train without --fold on kfold: not the whole pool"; cat out.txt err.txt >&2; }
expect_fail "train unknown fold" "kf.yaml: no fold named 'fold9' (folds: fold1, fold2, fold3)" \
  "$VB" train kf.yaml --pipeline sift-forest --fold fold9 -o x.vbm
expect_ok "model info" "$VB" model info kf-fold2.vbm
grep -q '^pipeline: sift-forest: sift 160 -> forest, 3 classes$' out.txt && grep -q '^  fold_kind       cv$' out.txt \
  && grep -q '^  test            {"n": 40, "accuracy": ' out.txt && grep -q '^sections: HEAD .* INFO ' out.txt \
  && grep -q '^scores: probabilities' out.txt && grep -q '^classifier forest:$' out.txt \
  && grep -q '^  n_leaves        [0-9]' out.txt && ok || { bad "model info"; cat out.txt >&2; }
expect_ok "model info --json" "$VB" model info kf-fold2.vbm --json
/usr/bin/python3 -c 'import json, sys; d = json.load(open("out.txt")); assert d["info"]["fold"] == "fold2" and d["info"]["n_train"] == 80 and d["classes"] == ["circle", "square", "triangle"] and d["classifier"]["n_leaves"] > 1' \
  && ok || { bad "model info --json"; cat out.txt >&2; }
expect_fail "model info of no model" "spec.yaml: not a visbench model" "$VB" model info spec.yaml
expect_ok "predict" "$VB" predict hog.vbm shapes/circle/circle_0000.png shapes/square
[ "$(wc -l <out.txt)" -eq 41 ] && ok || bad "predict: expected 41 lines"
grep -q '^shapes/circle/circle_0000.png	' out.txt && ok || bad "predict: first line"
expect_ok "predict csv" "$VB" predict hog.vbm shapes/triangle --format csv
head -1 out.txt | grep -q '^path,label,score:circle,score:square,score:triangle$' && ok || bad "predict csv header"
expect_ok "predict json" "$VB" predict hog.vbm shapes/triangle/triangle_0001.png --format json --top 2
grep -q '^{"path": "shapes/triangle/triangle_0001.png", "label": "[a-z]*", "scores": "decision values", "top": \[{"class": ' out.txt && ok || bad "predict json"
mkdir -p nothing-here
expect_fail "predict an empty folder" "nothing-here: no images to predict" "$VB" predict hog.vbm nothing-here
expect_ok "evaluate" "$VB" evaluate hog.vbm shapes --json
/usr/bin/python3 -c 'import json; d = json.load(open("out.txt")); assert d["n"] == 120 and d["probabilities"] is False and "auc_macro" in d and "log_loss" not in d and len(d["confusion"]) == 3 and sum(map(sum, d["confusion"])) == 120 and [c["class"] for c in d["per_class"]] == ["circle", "square", "triangle"]' \
  && ok || { bad "evaluate json: the full metric set and the confusion matrix"; cat out.txt >&2; }
expect_ok "evaluate text" "$VB" evaluate kf-fold2.vbm shapes
grep -q '^scores: probabilities$' out.txt && grep -q '^  log_loss ' out.txt && grep -q '^  top2_accuracy ' out.txt \
  && grep -q '^confusion (rows: true class' out.txt && [ "$(grep -c '^  \(circle\|square\|triangle\) ' out.txt)" -eq 6 ] && ok \
  || { bad "evaluate text: metrics, per-class table and confusion matrix"; cat out.txt >&2; }
expect_ok "predict csv --top" "$VB" predict hog.vbm shapes/triangle/triangle_0001.png --format csv --top 2
head -1 out.txt | grep -q '^path,label,top1,score1,top2,score2$' && [ "$(tail -1 out.txt | awk -F, '{print NF}')" -eq 6 ] && ok \
  || { bad "predict csv --top 2"; cat out.txt >&2; }
grep -q 'hog.vbm: scores are decision values (higher = more likely), not probabilities' err.txt && ok || bad "predict: no word on the scores"
expect_ok "predict json scores" "$VB" predict kf-fold2.vbm shapes/triangle/triangle_0001.png --format json
grep -q '"scores": "probabilities", "top": ' out.txt && ok || bad "predict json: scores kind"
head -c 1000 hog.vbm >cut.vbm
expect_fail "truncated model" "cut.vbm: checksum mismatch: the model file is truncated or corrupted" "$VB" predict cut.vbm shapes
echo "not an image" >fake.png
expect_fail "predict a non-image" "fake.png: not a readable image" "$VB" predict hog.vbm fake.png
expect_fail "predict a missing file" "nowhere.png: no such file or folder" "$VB" predict hog.vbm nowhere.png
expect_ok "synth 4" "$VB" dataset synth --out four --classes 4 --per-class 3 --size 24
expect_fail "evaluate unknown class" "four: class 'cross' is not one of the model's 3 classes" "$VB" evaluate hog.vbm four
expect_ok "dataset export" "$VB" dataset export shapes --out exported
"$VB" dataset info exported | grep -q '^images    120$' && ok || bad "export: 120 images"
make -C "$ROOT" --no-print-directory install PREFIX="$work/prefix" SANITIZE="${SANITIZE:-0}" >make-install.log 2>&1 \
  && ok || { bad "make install"; cat make-install.log >&2; }
pc="$work/prefix/lib/pkgconfig"
want=$("$VB" predict hog.vbm shapes/circle/circle_0000.png | cut -f2)
# against the shared library (the default), then the static one
for how in shared static; do
  flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs $([ $how = static ] && echo --static) visbench)
  [ $how = static ] && flags="-static-libgcc $(echo "$flags" | sed "s|-lvisbench|$work/prefix/lib/libvisbench.a|")"
  if cc "$ROOT/examples/predict.c" $flags -o example-$how 2>cc.log; then
    ok
    LD_LIBRARY_PATH="$work/prefix/lib" ./example-$how hog.vbm shapes/circle/circle_0000.png >ex.txt 2>&1 && ok \
      || { bad "example ($how) failed"; cat ex.txt >&2; }
    grep -q "^shapes/circle/circle_0000.png: $want (score " ex.txt && ok || { bad "example ($how) disagrees with predict ($want)"; cat ex.txt >&2; }
  else
    bad "the example does not build against the installed $how library"; cat cc.log >&2
  fi
done
# the shared library: a soname, and only the embedding API exported
LD_LIBRARY_PATH="$work/prefix/lib" ldd example-shared | grep -q "libvisbench.so.0 => $work/prefix/lib/libvisbench.so.0" && ok \
  || { bad "example-shared does not load libvisbench.so.0"; ldd example-shared >&2; }
exported=$(nm -D --defined-only "$work/prefix/lib/libvisbench.so" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort | tr '\n' ' ')
[ "$exported" = "vb_get_threads vb_image_clone vb_image_free vb_image_load vb_image_new vb_image_reshape vb_model_class_name vb_model_describe vb_model_free vb_model_has_probabilities vb_model_load vb_model_n_classes vb_model_predict_file vb_model_predict_files vb_model_predict_image vb_set_threads vb_status_name " ] \
  && ok || bad "libvisbench.so exports more or less than the API: $exported"
[ "$(ls "$work/prefix/include/visbench" | tr '\n' ' ')" = "core.h image.h visbench.h " ] && ok \
  || bad "install: headers beyond the embedding API: $(ls "$work/prefix/include/visbench")"

# ---- ensembles of pipelines ------------------------------------------------------
cat >ens.yaml <<'YAML'
name: ens
seed: 4
dataset: shapes/dataset.yaml
split: {protocol: kfold, k: 3}
pipelines:
  - {name: hog-lr, features: [{hog: {cell: 6}}], classifier: logreg}
  - {name: raw-knn, classifier: {knn: {k: 5}}}
  - {name: hog-svm, features: [{hog: {cell: 6}}], classifier: {svm: {probability: true}}}
ensembles:
  - {name: soft3, of: [hog-lr, raw-knn, hog-svm], method: soft}
  - {name: hard3, of: [hog-lr, raw-knn, hog-svm], method: hard}
  - {name: stack3, of: [hog-lr, raw-knn, hog-svm], method: stacking}
YAML
expect_ok "ensembles: run" "$VB" run ens.yaml
for e in soft3 hard3 stack3; do
  grep -q "^[0-9]  *$e .*ensemble ($( [ $e = stack3 ] && echo stacking || { [ $e = soft3 ] && echo soft || echo hard; })) of hog-lr + raw-knn + hog-svm" out.txt && ok ||
    { bad "ensembles: no leaderboard row for $e"; cat out.txt >&2; }
done
grep -q "stack3 .*soft3\|soft3 .*stack3" out.txt && ok || bad "ensembles: not in the pairwise tests"
# a soft vote is the mean of its members' stored probabilities, fold by fold
/usr/bin/python3 - results/ens.db <<'PY' && ok || bad "ensembles: soft3 is not the mean of its members"
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
rows = {}
for p, f, s, b in db.execute("SELECT r.pipeline, r.fold, p.sample, p.scores FROM predictions p JOIN runs r ON r.id = p.run_id"):
    rows[(p, f, s)] = struct.unpack("<%df" % (len(b) // 4), b)
n = 0
for (p, f, s), v in rows.items():
    if p != "soft3":
        continue
    m = [rows[(q, f, s)] for q in ("hog-lr", "raw-knn", "hog-svm")]
    for c in range(len(v)):
        assert abs(v[c] - sum(x[c] for x in m) / 3) < 1e-6, (f, s, c)
    n += 1
assert n == 120, n
PY
# the ensemble alone, its runs gone: from the members' stored scores, the same numbers
cp results/ens.db ens-before.db
/usr/bin/python3 -c "import sqlite3; db = sqlite3.connect('results/ens.db'); db.execute('PRAGMA foreign_keys = ON'); db.execute(\"DELETE FROM runs WHERE pipeline = 'stack3'\"); db.commit()"
expect_ok "ensembles: rerun of one" "$VB" -q run ens.yaml --pipeline stack3
same "ensembles: stack3 again from the stored member scores" ens-before.db results/ens.db
# saved as one model, which predicts what the run scored on that fold
expect_ok "ensembles: train" "$VB" train ens.yaml --pipeline stack3 --fold fold2 -o stack3.vbm
run_acc=$(sqlite3 results/ens.db "SELECT printf('%.4f', value) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.pipeline = 'stack3' AND r.fold = 'fold2' AND m.name = 'accuracy'")
cat out.txt err.txt | grep -q "fold2 fold test part: accuracy $run_acc" && ok ||
  { bad "ensembles: train's fold2 accuracy is not run's $run_acc"; cat out.txt err.txt >&2; }
expect_ok "ensembles: model info" "$VB" model info stack3.vbm
grep -q "pipeline: stack3: ensemble (stacking) of hog-lr + raw-knn + hog-svm -> logreg" out.txt && grep -q "^member 3: hog-svm" out.txt && ok ||
  { bad "ensembles: model info"; cat out.txt >&2; }
expect_ok "ensembles: predict" "$VB" predict stack3.vbm shapes/circle/circle_0001.png
grep -q "circle_0001.png	[a-z]*	" out.txt && ok || { bad "ensembles: predict printed no label"; cat out.txt >&2; }
printf 'name: cf\ndataset: shapes/dataset.yaml\npipelines:\n  - {name: cf, features: [{cnn: {model: stack3.vbm}}], classifier: svm}\n' >cf.yaml
expect_fail "ensembles: cnn features of an ensemble model" "cf.yaml:4:41: cnn.model: stack3.vbm: not a cnn model (it is stack3: ensemble" \
  "$VB" run cf.yaml
head -c 2000 stack3.vbm >trunc.vbm
expect_fail "ensembles: a truncated model" "trunc.vbm" "$VB" predict trunc.vbm shapes/circle/circle_0001.png

# ---- features: one pipeline's post-processed matrix -------------------------
expect_ok "features libsvm" "$VB" features spec.yaml --pipeline hog-svm --out hog.libsvm
[ "$(wc -l <hog.libsvm)" -eq 30 ] && ok || bad "features: expected 30 test rows"
# "label idx:val ...": class indices 0..2, 1-based increasing indices, no zeros
awk '{ if ($1 !~ /^[0-2]$/) exit 1; last = 0
       for (i = 2; i <= NF; i++) { split($i, kv, ":"); if (kv[1] + 0 <= last || kv[2] + 0 == 0) exit 1; last = kv[1] + 0 } }' \
  hog.libsvm && ok || { bad "features: malformed libsvm rows"; head -2 hog.libsvm >&2; }
expect_ok "features again" "$VB" features spec.yaml --pipeline hog-svm --out hog2.libsvm
cmp -s hog.libsvm hog2.libsvm && ok || bad "features: two runs differ"
expect_ok "features csv train" "$VB" features spec.yaml --pipeline raw-svm --out raw.csv --format csv --part train
[ "$(wc -l <raw.csv)" -eq 91 ] && head -1 raw.csv | grep -q '^label,f1,f2,' && ok || bad "features csv: header + 90 rows"
awk -F, 'NR > 1 && NF != 577 { exit 1 }' raw.csv && ok || bad "features csv: expected label + 576 columns"
expect_ok "features npy" "$VB" features spec.yaml --pipeline raw-svm --out raw.npy --format npy
head -c 6 raw.npy | od -c | head -1 | grep -q 'N   U   M   P   Y' && ok || bad "features npy: magic"
head -c 128 raw.npy | grep -aq "'descr': '<f4', 'fortran_order': False, 'shape': (30, 576)" && ok || bad "features npy: header"
[ "$(stat -c %s raw.npy)" -eq $((128 + 30 * 576 * 4)) ] && ok || bad "features npy: size"
head -c 128 raw.labels.npy | grep -aq "'descr': '<i4', 'fortran_order': False, 'shape': (30,)" && ok \
  || bad "features npy: labels file"
[ "$(stat -c %s raw.labels.npy)" -eq $((128 + 30 * 4)) ] && ok || bad "features npy: labels size"
expect_fail "features unknown pipeline" "no pipeline named 'hog-svn'; did you mean 'hog-svm'?" \
  "$VB" features spec.yaml --pipeline hog-svn --out x.libsvm
expect_fail "features unknown format" "unknown format 'arff'; use libsvm, csv or npy" \
  "$VB" features spec.yaml --pipeline hog-svm --out x.arff --format arff
expect_fail "features fold" "--fold 3, but the split has 1 fold" "$VB" features spec.yaml --pipeline hog-svm --out x --fold 3
expect_fail "features no validation" "the split has no validation part" \
  "$VB" features spec.yaml --pipeline hog-svm --out x --part val
[ ! -e x.libsvm ] && [ ! -e x.arff ] && [ ! -e x ] && ok || bad "features: a failed command left a file"

# ---- sift, lbp, color and the new post-processing steps ----------------------
cat >feat.yaml <<'YAML'
name: e2e-feat
seed: 5
dataset: shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25, validation: 0.2}
pipelines:
  - name: sift-bovw
    features: [{sift: {bin: [2, 3], words: 16, pyramid: [1, 2], assign: soft, knn: 3}}]
    postprocess: [{homkermap: {order: 1}}]
    classifier: {svm: {kernel: linear}}
  - name: sift-fisher
    features: [{sift: {bin: [3], words: 4, encoding: fisher, descriptor_pca: 16, pyramid: [1]}}]
    classifier: {svm: {C: [1, 10]}}
  - name: lbp-color
    features: [{lbp: {cell: 6}}, {color: {bins: 4, cells: 2}}]
    postprocess: [power, {pca: {variance: 0.9}}, standardize]
    classifier: svm
YAML
expect_ok "run sift/lbp/color" "$VB" run feat.yaml --json --store runfeat.db
[ "$(grep -c '"accuracy": ' out.txt)" -eq 3 ] && ok || { bad "sift/lbp/color: expected 3 results"; cat out.txt >&2; }
grep -q '"features": "sift 80 -> 240"' out.txt && ok || bad "sift-bovw: 5 cells x 16 words, x3 by homkermap"
grep -q '"features": "lbp 928 + color 16 -> [0-9]' out.txt && ok || bad "lbp-color: 58 x 4 x 4 + 2 x 2 cells x 1 grey channel x 4 bins, pca by variance"
expect_ok "features sift npy" "$VB" features feat.yaml --pipeline sift-fisher --out f.npy --format npy --part val
head -c 128 f.npy | grep -aq "'shape': (18, 128)" && ok || bad "features sift: 18 validation rows x 2 x 4 words x 16 dims"

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
expect_ok "cnn run" "$VB" run cnn.yaml --json --store runcnn.db
grep -q '"pipeline": "cnn"' out.txt && grep -q '"epochs_run": 3' out.txt && ok || { bad "cnn: result"; cat out.txt >&2; }
[ "$(sqlite3 runcnn.db 'select count(*) from curves')" -ge 3 ] && ok || bad "cnn: no learning curve in the store"
"$VB" results runcnn.db --predictions >runcnn.csv
expect_ok "cnn run again" "$VB" run cnn.yaml --json --store runcnn2.db
"$VB" results runcnn2.db --predictions >runcnn2.csv
cmp -s runcnn.csv runcnn2.csv && ok || bad "cnn: predictions differ between runs"
expect_ok "cnn one thread" "$VB" --threads 1 run cnn.yaml --json --store runcnn3.db
"$VB" results runcnn3.db --predictions >runcnn3.csv
cmp -s runcnn.csv runcnn3.csv && ok || bad "cnn: predictions depend on the thread count"
# layers that do not fit 24x24 images: the spec position, before any work
sed 's/layers: \[conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, fc: classes\]/layers: [maxpool: 8, maxpool: 4, fc: classes]/' cnn.yaml >cnnbad.yaml
expect_fail "cnn shape" "cnnbad.yaml:9:37: cnn layer 2 (maxpool 4): needs an input of at least 4x4, but gets 3x3x1" "$VB" run cnnbad.yaml
sed 's/epochs: 3/epochs: 3\n        optimizer: {sgd: {lr: 0}}/' cnn.yaml >cnnlr.yaml
expect_fail "cnn lr" "cnnlr.yaml:11:31: sgd.lr = 0 is out of range (0 < x <= 1e+300)" "$VB" run cnnlr.yaml
sed 's/epochs: 3/epochs: 3\n        schedule: {step: {every: 2, gama: 0.5}}/' cnn.yaml >cnnsched.yaml
expect_fail "cnn schedule key" "cnnsched.yaml:11:37: unknown key 'gama' in the parameters of 'step'; did you mean 'gamma'?" \
  "$VB" run cnnsched.yaml
sed 's/^    classifier:/    features: [{hog: {cell: 6}}]\n    classifier:/' cnn.yaml >cnnhog.yaml
expect_fail "cnn on features" "cnn: needs raw image rows as input" "$VB" run cnnhog.yaml

# ---- deep features and fine-tuning (issue 18) --------------------------------
# a cnn trained with visbench train; its layers feed an svm and a logistic
# regression (the cnn extractor), and start a fine-tuned cnn (init_from,
# freeze); the spec in a folder of its own names the model relative to it
cat >cnnf.yaml <<'YAML'
name: e2e-cnnf
seed: 3
dataset: shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: cnn
    preprocess: [{resize: 16}]
    classifier:
      cnn:
        layers: [conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, flatten, fc: 16, relu, fc: classes]
        epochs: 2
        batch: 16
YAML
expect_ok "train a cnn for its features" "$VB" train cnnf.yaml --pipeline cnn -o cnnf.vbm
expect_ok "model info: the network's layers" "$VB" model info cnnf.vbm
grep -Eq '^ +5 fc1 +fc 16 +-> 1x1x16$' out.txt && grep -Eq '^ +1 conv1 +conv 4 of 3x3 pad 1 +-> 16x16x4$' out.txt && ok \
  || { bad "model info: no layer names"; cat out.txt >&2; }
"$VB" model info cnnf.vbm --json | python3 -c 'import json, sys; l = json.load(sys.stdin)["layers"]; assert [x["name"] for x in l] == ["conv1", "relu1", "maxpool1", "flatten1", "fc1", "relu2", "fc2"] and l[4]["output"] == [1, 1, 16]' \
  && ok || bad "model info --json: layers"
mkdir -p deep
cat >deep/deep.yaml <<'YAML'
name: e2e-deep
seed: 3
dataset: ../shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: deep-svm
    features: [{cnn: {model: ../cnnf.vbm, layer: fc1}}]
    postprocess: [standardize]
    classifier: {svm: {kernel: linear}}
  - name: deep-logreg
    features: [{cnn: ../cnnf.vbm}]
    classifier: {logreg: {}}
YAML
# the cnn pipeline again (the same layers), from the trained one's weights
sed -n '/^  - name: cnn$/,$p' cnnf.yaml | sed 's/name: cnn$/name: fine-tuned/' >>deep/deep.yaml
printf '        init_from: ../cnnf.vbm\n        freeze: 1\n' >>deep/deep.yaml
expect_ok "run cnn features + svm, fine-tuning" "$VB" run deep/deep.yaml --json --store deep.db
[ "$(grep -c '"accuracy": ' out.txt)" -eq 3 ] && grep -q '"pipeline": "deep-svm"' out.txt && grep -q '"pipeline": "deep-logreg"' out.txt \
  && grep -q '"pipeline": "fine-tuned"' out.txt && ok || { bad "deep: expected 3 results"; cat out.txt >&2; }
grep -q '"features": "cnn 16 -> 16"' out.txt && ok || bad "deep-svm: fc1's 16 outputs"
hash=$(python3 -c 'import sys; h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read(): h = ((h ^ b) * 0x100000001b3) % 2**64
print("%016x" % h)' cnnf.vbm)
[ "$(sqlite3 deep.db "select count(*) from runs where config like '% files: {model: $hash}%'")" = 2 ] \
  && [ "$(sqlite3 deep.db "select count(*) from runs where model_info like '%\"init_hash\": \"$hash\"%' and model_info like '%\"frozen_layers\": 1%'")" = 1 ] \
  && ok || { bad "deep: the model file's hash is not in the configuration"; sqlite3 deep.db "select config, model_info from runs" >&2; }
expect_ok "deep: one thread" "$VB" --threads 1 run deep/deep.yaml --store deep1.db
same "deep: 1 and 2 threads" deep.db deep1.db
# a model on cnn features carries the network: it predicts with the cnn's file gone
expect_ok "train cnn features + svm" "$VB" train deep/deep.yaml --pipeline deep-svm -o deep-svm.vbm
expect_ok "predict cnn features + svm" "$VB" predict deep-svm.vbm shapes/circle --format csv
cp out.txt deep-pred.csv
mv cnnf.vbm cnnf.away
expect_ok "predict without the cnn's file" "$VB" predict deep-svm.vbm shapes/circle --format csv
cmp -s out.txt deep-pred.csv && ok || bad "deep: predictions differ without the cnn's file"
expect_fail "deep: the cnn's file gone" "deep/deep.yaml:7:30: cnn.model: deep/../cnnf.vbm: cannot open" "$VB" run deep/deep.yaml --store deep.db
mv cnnf.away cnnf.vbm
# a retrained cnn is another configuration: the runs on it are redone
expect_ok "deep: again, kept" "$VB" run deep/deep.yaml --store deep.db
grep -q '^3 runs finished earlier and kept' err.txt && ok || { bad "deep: runs not kept"; cat out.txt err.txt >&2; }
sed 's/^seed: 3/seed: 4/' cnnf.yaml >cnnf4.yaml
expect_ok "retrain the cnn" "$VB" train cnnf4.yaml --pipeline cnn -o cnnf.vbm
expect_ok "deep: after retraining" "$VB" run deep/deep.yaml --store deep.db
! grep -q 'finished earlier and kept' out.txt err.txt && ok || { bad "deep: runs on the old cnn kept"; cat out.txt err.txt >&2; }

# ---- reliability: a diverging cnn -------------------------------------------
# sgd with lr 1e30 and one batch per epoch: the loss is finite before the
# update and the network gives NaN after it. run once kept those weights and
# hung on their NaN scores; now the run fails, promptly, with one message
# naming the pipeline, the fold and the divergence, and nothing NaN is stored.
sed -e 's/epochs: 3/epochs: 1\n        optimizer: {sgd: {lr: 1e30}}/' -e 's/batch: 16/batch: 128/' cnn.yaml >cnnnan.yaml
timeout -k 5 300 "$VB" run cnnnan.yaml --store cnnnan.db >out.txt 2>err.txt
rc=$?
[ $rc -eq 1 ] && ok || { bad "cnn lr 1e30: exit $rc, expected 1"; cat err.txt >&2; }
[ "$(grep -c "^visbench: pipeline 'cnn' \[holdout\] failed: " err.txt)" -eq 1 ] \
  && grep -q "failed: cnn: the weights or the outputs became NaN or infinite in epoch 1" err.txt && ok \
  || { bad "cnn lr 1e30: no clear failure message"; cat err.txt >&2; }
[ "$(sqlite3 cnnnan.db "select status from runs")" = failed ] && ok || bad "cnn lr 1e30: the run is not stored as failed"
[ "$(sqlite3 cnnnan.db "select count(*) from metrics")" = 0 ] && ok || bad "cnn lr 1e30: metrics stored"

# ---- reliability: a 4-byte spec ----------------------------------------------
# "%\xff" once sent libfyaml 0.7.12 into an endless loop that one SIGTERM did
# not stop; the text is checked before libfyaml sees it.
printf '%%\xff\n' >dir.yaml
expect_fail "spec: malformed directive" "dir.yaml:1:1: a line starting with '%' is a YAML directive" \
  timeout -k 2 10 "$VB" run dir.yaml
printf 'name: x\nseed: \xc3\n' >utf8.yaml
expect_fail "spec: invalid UTF-8" "utf8.yaml:2:7: byte 0xc3 is not valid UTF-8" timeout -k 2 10 "$VB" run utf8.yaml

# ---- reliability: small files that claim huge sizes -----------------------
# Each claim is checked against the limits and the file before memory is
# spent on it: under a 600 MB address-space limit (visbench itself needs
# about 250 MB of it, OpenBLAS's buffers) these fail with their message,
# where they once allocated 0.5 to 1.9 GB first. ASan needs far more
# address space, so the limit is left out under SANITIZE=1.
limited() { if [ "$SANITIZE" = 1 ]; then "$@"; else (ulimit -v 600000; exec "$@"); fi; }
printf '\0\0\x08\x03\x05\xf5\xe1\x00\0\0\0\x1c\0\0\0\x1c\0\0\0\0\0\0\0\0' >huge-images   # 10^8 images, 24 bytes
printf '\0\0\x08\x01\x05\xf5\xe1\x00' >huge-labels
printf 'format: idx\ntrain_images: huge-images\ntrain_labels: huge-labels\n' >huge.yaml
expect_fail "idx claims 10^8 images" "huge-images: claims 100000000 images of 784 bytes each, more than a dataset may hold" \
  limited timeout -k 5 60 "$VB" dataset info huge.yaml
printf '\0\0\x08\x03\x00\x0f\x42\x40\0\0\0\x1c\0\0\0\x1c\0\0\0\0\0\0\0\0' >big-images      # 10^6 images: 784 MB
printf '\0\0\x08\x01\x00\x0f\x42\x40' >big-labels
gzip -c big-images >big-images.gz && gzip -c big-labels >big-labels.gz
printf 'format: idx\ntrain_images: big-images\ntrain_labels: big-labels\n' >big.yaml
printf 'format: idx\ntrain_images: big-images.gz\ntrain_labels: big-labels.gz\n' >biggz.yaml
expect_fail "idx claims 784 MB" "big-images: truncated: the header promises 784000000 bytes of pixels, the file holds 8" \
  limited timeout -k 5 60 "$VB" dataset info big.yaml
expect_fail "idx.gz claims 784 MB" "big-images.gz: truncated: the header promises 784000000 bytes of pixels, the file holds 8" \
  limited timeout -k 5 60 "$VB" dataset info biggz.yaml
# a 57-byte PNG whose header claims 16000x16000 16-bit grey (512 MB decoded)
mkdir -p bigpng/a bigpng/b
printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x3e\x80\0\0\x3e\x80\x10\0\0\0\0\0\0\0\0\0\0\0\x08IDAT\x78\x9c\x03\0\0\0\0\x01\0\0\0\0\0\0\0\0IEND\0\0\0\0' \
  >bigpng/a/big.png
cp shapes/circle/circle_0000.png bigpng/b/
expect_fail "png claims 16000x16000" "bigpng/a/big.png: unsupported image size 16000x16000 (at most 32768 pixels a side and 33554432 pixels in all)" \
  limited timeout -k 5 60 "$VB" dataset info bigpng
# a 5 MB spec (comments only) is refused before it is parsed
awk 'BEGIN { for (i = 0; i < 90000; i++) print "# a comment line that is padded out to about sixty bytes ......" }' >bigspec.yaml
expect_fail "spec over 4 MB" "bigspec.yaml: 5760000 bytes, more than the 4194304 bytes a YAML spec or descriptor may have" \
  limited timeout -k 5 60 "$VB" run bigspec.yaml

# ---- reliability: input that is undefined behaviour in stb_image -------------
# refused before stb_image sees it (under SANITIZE=1 stb_image is compiled in
# with the sanitizers, and these once gave UBSan reports)
mkdir -p ubimg/a ubimg/b
cp shapes/circle/circle_0000.png ubimg/b/
{ printf '\xff\xd8\xff\xc4\x02\x13\x00'; for i in $(seq 16); do printf '\x20'; done; head -c 512 /dev/zero; printf '\xff\xd9'; } >ubimg/a/dht.jpg
expect_fail "jpeg with a bad DHT" "ubimg/a/dht.jpg: corrupt JPEG: a Huffman table (DHT) lists more than 256 codes" \
  "$VB" dataset info ubimg
rm ubimg/a/dht.jpg
printf 'P5 99999999999 1 255\n' >ubimg/a/big.pgm
expect_fail "pnm with a huge side" "ubimg/a/big.pgm: corrupt PNM header: a side over 32768 or a maximum value over 65535" \
  "$VB" dataset info ubimg

# a PNG whose first IDAT chunk is empty (stb_image would add to a null pointer)
{ printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0\0\0\0\0'
  printf '\0\0\0\0IDAT\0\0\0\0\0\0\0\0IEND\0\0\0\0'; } >ubimg/a/idat.png
rm -f ubimg/a/big.pgm
expect_fail "png with an empty first IDAT" "ubimg/a/idat.png: corrupt PNG: the first IDAT chunk is empty" \
  "$VB" dataset info ubimg

# ---- clustering ---------------------------------------------------------------
# kmeans and gmm next to classifiers: purity, NMI and ARI of the test part
cat >clu-mixed.yaml <<'YAML'
name: clu-mixed
dataset: shapes
split: {protocol: kfold, k: 3}
pipelines:
  - name: hog-km
    features: [hog]
    classifier: {kmeans: {k: 3}}
  - name: hog-knn
    features: [hog]
    classifier: knn
YAML
expect_ok "run with a clustering" "$VB" run clu-mixed.yaml
grep -q '^rank .*CV accuracy.*NMI *ARI *purity *clusters' out.txt && grep -q '^hog-km \[fold1\]  accuracy .*  NMI 0\.' out.txt && ok || { bad "leaderboard lacks the cluster columns"; cat out.txt >&2; }
grep -E '^[12] +hog-km .* 0\.[0-9]{4} +-?[01]\.[0-9]{4} +[01]\.[0-9]{4} +3 ' out.txt >/dev/null && ok || { bad "hog-km cluster scores"; cat out.txt >&2; }
grep -E '^[12] +hog-knn .* - +- +- +- ' out.txt >/dev/null && ok || { bad "knn shows cluster scores"; cat out.txt >&2; }
n=$(sqlite3 results/clu-mixed.db "select count(*) from metrics m join runs r on r.id = m.run_id where r.pipeline = 'hog-km' and m.name in ('nmi', 'ari', 'purity') and m.value between -1 and 1")
[ "$n" = 9 ] && ok || bad "store: $n cluster metrics for 3 folds, expected 9"
expect_ok "results --format csv" "$VB" results results/clu-mixed.db --format csv
head -1 out.txt | grep -q 'test_nmi,cv_nmi_mean,test_ari,cv_ari_mean,test_purity,cv_purity_mean,clusters' && ok || bad "csv lacks cluster columns"
expect_ok "report with a clustering" "$VB" report results/clu-mixed.db -o clu-mixed.html
grep -q 'id="clustering"' clu-mixed.html && grep -q 'CV NMI' clu-mixed.html && ok || bad "report lacks the Clustering section"

# mode: cluster on images without labels: assignments in the store
mkdir -p unlabeled && cp shapes/circle/*.png shapes/square/*.png unlabeled/ && echo notes >unlabeled/README.md
cat >clu.yaml <<'YAML'
name: clu
mode: cluster
dataset: {format: folder, path: unlabeled, labels: false}
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: hog-km
    features: [hog]
    classifier: {kmeans: {k: 2}}
  - name: raw-gmm
    classifier: {gmm: {k: 3}}
YAML
expect_ok "run mode: cluster" "$VB" run clu.yaml
grep -q 'clusters' out.txt && ! grep -q 'accuracy' out.txt && ok || { bad "mode: cluster leaderboard"; cat out.txt >&2; }
expect_ok "results --clusters" "$VB" results results/clu.db --clusters
[ "$(head -1 out.txt)" = "pipeline,fold,sample,part,file,item,cluster" ] && ok || bad "clusters header: $(head -1 out.txt)"
[ "$(grep -c '^hog-km,holdout,' out.txt)" = 80 ] && [ "$(grep -c '^raw-gmm,holdout,' out.txt)" = 80 ] && ok || bad "expected 80 assignments per pipeline"
[ "$(grep '^hog-km,' out.txt | cut -d, -f7 | sort -u | tr '\n' ' ')" = "0 1 " ] && ok || bad "hog-km clusters: $(grep '^hog-km,' out.txt | cut -d, -f7 | sort -u | tr '\n' ' ')"
grep -q '^hog-km,holdout,0,,.*unlabeled/circle_0000.png,,[01]$' out.txt && ok || bad "assignment rows name the file"
n=$(sqlite3 results/clu.db "select count(*) from metrics where name in ('accuracy', 'macro_f1', 'nmi')")
[ "$n" = 0 ] && ok || bad "mode: cluster without labels stored $n accuracy/NMI metrics"
expect_ok "report mode: cluster" "$VB" report results/clu.db -o clu.html
grep -q 'id="clustering"' clu.html && ! grep -q 'id="confusion"' clu.html && grep -q 'results DB --clusters' clu.html && ok \
  || bad "mode: cluster report"
expect_ok "train mode: cluster" "$VB" train clu.yaml --pipeline hog-km -o km.vbm
grep -q 'no labels to score' out.txt && ok || { bad "train mode: cluster output"; cat out.txt >&2; }
expect_ok "predict with a clustering" "$VB" predict --format csv km.vbm unlabeled/circle_0000.png
[ "$(head -1 out.txt)" = "path,label,cluster,score:(none)" ] && grep -q '^unlabeled/circle_0000.png,(none),[01],' out.txt && ok \
  || { bad "predict clusters"; cat out.txt >&2; }
# the model clusters as the run did (same fold, same seed)
want=$(sqlite3 results/clu.db "select c.cluster from clusters c join runs r on r.id = c.run_id join samples s on s.sample = c.sample and s.experiment_id = r.experiment_id where r.pipeline = 'hog-km' and s.file like '%/circle_0000.png'")
[ "$(tail -1 out.txt | cut -d, -f3)" = "$want" ] && ok || bad "predict cluster $(tail -1 out.txt | cut -d, -f3), run stored $want"
# what mode: cluster refuses
sed 's/classifier: {kmeans: {k: 2}}/classifier: svm/' clu.yaml >clu-svm.yaml
expect_fail "mode: cluster with svm" "clu-svm.yaml:8:17: pipeline 'hog-km': svm does not cluster; mode: cluster takes kmeans, or gmm with mode: cluster" \
  "$VB" run clu-svm.yaml
sed 's/{kmeans: {k: 2}}/kmeans/' clu.yaml >clu-k0.yaml
expect_fail "mode: cluster, k: 0 without labels" "clu-k0.yaml:6:5: pipeline 'hog-km': kmeans: k: 0 means one cluster per class, and the data set has no labels; give k" \
  "$VB" run clu-k0.yaml
sed '/^mode: cluster$/d' clu.yaml >clu-classify.yaml
expect_fail "unlabeled data to classify" "clu-classify.yaml: the dataset has no labels (labels: false); classification needs them. Add mode: cluster" \
  "$VB" run clu-classify.yaml
mkdir -p unlabeled/sub
expect_fail "labels: false with a sub-folder" "unlabeled/sub: a folder; with labels: false the images sit in" "$VB" run --dry-run clu.yaml
rmdir unlabeled/sub

echo "e2e: $pass checks passed, $failures failed"
[ $failures -eq 0 ]
