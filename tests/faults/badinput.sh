#!/usr/bin/env bash
# Bad input, catalogued: every command given what careful users and
# attackers give it (broken specs, corrupt images and data files, truncated
# models, foreign stores, wrong options). Each case is run under a 60 s
# timeout and classified:
#   clean error  exit 1 or 2, one line on stderr ("visbench: ..." naming the
#                file when there is one), nothing on stdout, no sanitizer report
#   crash        a signal, or an ASan/UBSan/LSan report
#   hang         the timeout
#   data loss    any file changed or removed in the working folder (inputs,
#                the store, the model), or, when the command fails, any file
#                added (a failing command writes nothing)
# A few inputs are odd but fine (a note beside the images to predict): those
# must succeed. Prints the table, lists each defect, fails on any.
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/faults/badinput.sh
set -u
VB=${VB:?set VB to the visbench binary}
work=${BUILD:-/tmp}/tmp/badinput
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
export VISBENCH_PROGRESS_DELAY=1000000

n_cases=0 n_clean=0 n_ok=0 n_crash=0 n_hang=0 n_loss=0 n_unclean=0
defects=()

snapshot() { find . -path ./scratch -prune -o -type f -print0 | sort -z | xargs -0 sha256sum 2>/dev/null; }

# run_case NAME WANT NEEDLE CMD...: WANT is "fail" or "ok"; NEEDLE must
# appear in the one error line (empty: any).
run_case() {
  local name=$1 want=$2 needle=$3; shift 3
  n_cases=$((n_cases + 1))
  local before after rc
  before=$(snapshot)
  timeout -k 5 60 "$@" >scratch/out 2>scratch/err </dev/null
  rc=$?
  after=$(snapshot)
  local what=""
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    what=hang; n_hang=$((n_hang + 1))
  elif [ $rc -ge 128 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' scratch/err; then
    what=crash; n_crash=$((n_crash + 1))
  elif { [ "$want" = fail ] && [ "$before" != "$after" ]; } || [ -n "$(comm -23 <(echo "$before") <(echo "$after"))" ]; then
    what="data loss: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -3 | tr '\n' ' ')"
    n_loss=$((n_loss + 1))
  elif [ "$want" = ok ]; then
    if [ $rc -eq 0 ]; then n_ok=$((n_ok + 1)); else what="expected success, exit $rc"; n_unclean=$((n_unclean + 1)); fi
  elif [ $rc -eq 0 ]; then
    what="exit 0"; n_unclean=$((n_unclean + 1))
  elif [ "$(wc -l <scratch/err)" -ne 1 ] || ! grep -q '^visbench: ' scratch/err || [ -s scratch/out ]; then
    what="not one 'visbench: ' line on stderr and nothing on stdout"; n_unclean=$((n_unclean + 1))
  elif [ -n "$needle" ] && ! grep -qF -- "$needle" scratch/err; then
    what="message lacks '$needle'"; n_unclean=$((n_unclean + 1))
  else
    n_clean=$((n_clean + 1))
  fi
  if [ -n "$what" ]; then
    defects+=("$name: $what
    command: $*
    stderr: $(head -c 600 scratch/err)")
  fi
  rm -rf scratch && mkdir scratch
}
fails() { local name=$1 needle=$2; shift 2; run_case "$name" fail "$needle" "$@"; }
works() { local name=$1; shift; run_case "$name" ok "" "$@"; }

# ---- fixtures: a dataset, a spec, its store, a model ---------------------------
mkdir scratch
"$VB" dataset synth --out shapes --classes 3 --per-class 8 --size 16 --seed 3 >/dev/null 2>&1 || { echo "badinput: synth failed" >&2; exit 1; }
cat >good.yaml <<'YAML'
name: good
dataset: shapes
split: {protocol: kfold, k: 2}
pipelines:
  - {name: raw-knn, classifier: knn}
YAML
"$VB" -q run good.yaml >/dev/null 2>&1 && "$VB" train good.yaml --pipeline raw-knn --fold fold1 -o m.vbm >/dev/null 2>&1 \
  || { echo "badinput: fixtures failed" >&2; exit 1; }
rm -f results/*-wal results/*-shm
img=shapes/circle/circle_0000.png
msize=$(wc -c <m.vbm)
spec() { printf '%b' "$2" >"$1"; } # spec FILE TEXT (printf escapes)
ds() { mkdir -p "$1"; for c in a b; do mkdir -p "$1/$c"; cp shapes/circle/circle_000[0-3].png "$1/$c/"; done; }
ds_spec() { printf 'name: %s\ndataset: %s\nsplit: {protocol: kfold, k: 2}\npipelines: [{name: p, classifier: knn}]\n' "$1" "$2" >"$1.yaml"; }

# ---- specs -------------------------------------------------------------------
fails "spec missing" "nope.yaml" "$VB" run nope.yaml
spec empty.yaml ''
fails "spec empty" "empty.yaml" "$VB" run empty.yaml
mkdir -p dir.yaml
fails "spec is a folder" "dir.yaml" "$VB" run dir.yaml
spec brace.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, classifier: knn}\n'
fails "yaml unclosed bracket" "brace.yaml:" "$VB" run brace.yaml
spec tab.yaml 'name: x\ndataset: shapes\npipelines:\n\t- {name: p, classifier: knn}\n'
fails "yaml tab indentation" "tab.yaml:" "$VB" run tab.yaml
spec utf8.yaml 'name: x\xff\xfe\ndataset: shapes\n'
fails "invalid utf-8" "utf8.yaml:1:" "$VB" run utf8.yaml
spec dir4.yaml '%\xff\n'
fails "4-byte directive (libfyaml hang)" "dir4.yaml:1:" "$VB" run dir4.yaml
spec dirtag.yaml '%FOO bar\nname: x\n'
fails "unknown directive" "dirtag.yaml:1:" "$VB" run dirtag.yaml
printf 'name: x\0\ndataset: shapes\n' >nul.yaml
fails "NUL byte" "nul.yaml" "$VB" run nul.yaml
spec scalar.yaml 'just a string\n'
fails "spec is a scalar" "scalar.yaml" "$VB" run scalar.yaml
spec list.yaml '- a\n- b\n'
fails "spec is a list" "list.yaml" "$VB" run list.yaml
spec key.yaml 'name: x\ndataset: shapes\ncolour: red\npipelines: [{name: p, classifier: knn}]\n'
fails "unknown top key" "key.yaml:3:1: unknown key 'colour'" "$VB" run key.yaml
spec typo.yaml 'name: x\ndataset: shapes\npipeline: [{name: p, classifier: knn}]\n'
fails "typo pipeline" "did you mean 'pipelines'" "$VB" run typo.yaml
spec name.yaml 'name: my spec\ndataset: shapes\npipelines: [{name: p, classifier: knn}]\n'
fails "name with a space" "name.yaml:1:7" "$VB" run name.yaml
spec noname.yaml 'dataset: shapes\npipelines: [{name: p, classifier: knn}]\n'
fails "no name" "noname.yaml:1:1" "$VB" run noname.yaml
spec nods.yaml 'name: x\npipelines: [{name: p, classifier: knn}]\n'
fails "no dataset" "nods.yaml:1:1" "$VB" run nods.yaml
spec nopipe.yaml 'name: x\ndataset: shapes\n'
fails "no pipelines" "nopipe.yaml:1:1" "$VB" run nopipe.yaml
spec emptypipe.yaml 'name: x\ndataset: shapes\npipelines: []\n'
fails "empty pipelines" "emptypipe.yaml:3:" "$VB" run emptypipe.yaml
spec noclf.yaml 'name: x\ndataset: shapes\npipelines: [{name: p}]\n'
fails "pipeline without classifier" "noclf.yaml:3:" "$VB" run noclf.yaml
spec badclf.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, classifier: svn}]\n'
fails "unknown classifier" "badclf.yaml:3:" "$VB" run badclf.yaml
spec badext.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, features: [hogg], classifier: knn}]\n'
fails "unknown extractor" "badext.yaml:3:" "$VB" run badext.yaml
spec badpost.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, postprocess: [standardise], classifier: knn}]\n'
fails "unknown postprocess" "badpost.yaml:3:" "$VB" run badpost.yaml
spec badprep.yaml 'name: x\ndataset: shapes\npreprocess: [greyscale]\npipelines: [{name: p, classifier: knn}]\n'
fails "unknown preprocess op" "badprep.yaml:3:" "$VB" run badprep.yaml
spec type.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, features: [{hog: {cell: six}}], classifier: knn}]\n'
fails "wrong type" "type.yaml:3:" "$VB" run type.yaml
spec range.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, features: [{hog: {cell: 0}}], classifier: knn}]\n'
fails "out of range" "range.yaml:3:" "$VB" run range.yaml
spec huge.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, classifier: {svm: {C: 1e999}}}]\n'
fails "number overflows" "huge.yaml:3:" "$VB" run huge.yaml
spec seed.yaml 'name: x\nseed: -3\ndataset: shapes\npipelines: [{name: p, classifier: knn}]\n'
fails "negative seed" "seed.yaml:2:" "$VB" run seed.yaml
spec mode.yaml 'name: x\nmode: regress\ndataset: shapes\npipelines: [{name: p, classifier: knn}]\n'
fails "unknown mode" "mode.yaml:2:" "$VB" run mode.yaml
spec dup.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, classifier: knn}, {name: p, classifier: svm}]\n'
fails "duplicate pipeline names" "used twice" "$VB" run dup.yaml
spec grid.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, classifier: {svm: {C: [1, 10]}}}]\n'
fails "grid without validation" "grid.yaml:3:" "$VB" run grid.yaml
spec proto.yaml 'name: x\ndataset: shapes\nsplit: {protocol: bootstrap}\npipelines: [{name: p, classifier: knn}]\n'
fails "unknown protocol" "proto.yaml:3:" "$VB" run proto.yaml
spec frac.yaml 'name: x\ndataset: shapes\nsplit: {protocol: holdout, test_fraction: 1.5}\npipelines: [{name: p, classifier: knn}]\n'
fails "test_fraction 1.5" "frac.yaml:3:" "$VB" run frac.yaml
spec k1.yaml 'name: x\ndataset: shapes\nsplit: {protocol: kfold, k: 1}\npipelines: [{name: p, classifier: knn}]\n'
fails "k: 1" "k1.yaml:3:" "$VB" run k1.yaml
spec kbig.yaml 'name: x\ndataset: shapes\nsplit: {protocol: kfold, k: 50}\npipelines: [{name: p, classifier: knn}]\n'
fails "more folds than images per class" "" "$VB" run kbig.yaml
spec offh.yaml 'name: x\ndataset: shapes\nsplit: {protocol: holdout, official_test: true}\npipelines: [{name: p, classifier: knn}]\n'
fails "official_test with holdout" "offh.yaml:3:" "$VB" run offh.yaml
spec dsmiss.yaml 'name: x\ndataset: no-such-folder\npipelines: [{name: p, classifier: knn}]\n'
fails "dataset missing" "no-such-folder" "$VB" run dsmiss.yaml
spec dsfmt.yaml 'name: x\ndataset: {format: tiff, path: shapes}\npipelines: [{name: p, classifier: knn}]\n'
fails "dataset format unknown" "dsfmt.yaml:2:" "$VB" run dsfmt.yaml
spec dsnofmt.yaml 'name: x\ndataset: {path: shapes}\npipelines: [{name: p, classifier: knn}]\n'
fails "dataset without format" "dsnofmt.yaml:2:" "$VB" run dsnofmt.yaml
spec dslist.yaml 'name: x\ndataset: [shapes]\npipelines: [{name: p, classifier: knn}]\n'
fails "dataset is a list" "dslist.yaml:2:" "$VB" run dslist.yaml
spec clu.yaml 'name: x\nmode: cluster\ndataset: shapes\npipelines: [{name: p, classifier: svm}]\n'
fails "mode: cluster with svm" "clu.yaml:4:" "$VB" run clu.yaml
spec cnnsize.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, classifier: {cnn: {layers: [{conv: {filters: 2, size: 40}}, fc: classes]}}}]\n'
fails "cnn layer larger than the image" "cnnsize.yaml:" "$VB" run cnnsize.yaml
spec bigcell.yaml 'name: x\ndataset: shapes\npipelines: [{name: p, features: [{hog: {cell: 64}}], classifier: knn}]\n'
fails "hog cell larger than the image" "bigcell.yaml:" "$VB" run bigcell.yaml
awk 'BEGIN { for (i = 0; i < 90000; i++) print "# a comment line that is padded out to about sixty bytes ......" }' >big.yaml
fails "spec over 4 MB" "big.yaml" "$VB" run big.yaml
awk 'BEGIN { printf "name: x\ndataset: shapes\npipelines: "; for (i = 0; i < 20000; i++) printf "["; print "" }' >deep.yaml
fails "nesting 20000 deep" "deep.yaml" "$VB" run deep.yaml
{ printf 'a: &a [x, x, x, x, x, x, x, x, x, x]\n'; p=a
  for l in b c d e f g h i; do printf '%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n' $l $l $p $p $p $p $p $p $p $p $p $p; p=$l; done
  printf 'name: x\ndataset: shapes\npipelines: [{name: p, classifier: knn}]\n'; } >laughs.yaml
fails "billion laughs (aliases)" "laughs.yaml" "$VB" run laughs.yaml
fails "dry run of a broken spec" "brace.yaml:" "$VB" run --dry-run brace.yaml
fails "only a missing pipeline" "no pipeline named 'zz'" "$VB" run good.yaml --pipeline zz

# ---- datasets ------------------------------------------------------------------
fails "folder missing" "gone" "$VB" dataset info gone
mkdir -p emptyds
fails "folder empty" "emptyds" "$VB" dataset info emptyds
mkdir -p oneclass/a && cp shapes/circle/circle_000[0-3].png oneclass/a/
ds_spec one oneclass
fails "one class" "the dataset oneclass has 1 class ('a')" "$VB" run one.yaml
ds emptycls && mkdir -p emptycls/c
fails "empty class folder" "emptycls/c" "$VB" dataset info emptycls
ds zero && : >zero/a/zero.png
fails "zero-byte png" "zero/a/zero.png" "$VB" dataset info zero
ds trunc && head -c 60 "$img" >trunc/a/trunc.png
fails "truncated png" "trunc/a/trunc.png" "$VB" dataset info trunc
ds text && echo "not an image" >text/b/fake.png
fails "text named .png" "text/b/fake.png" "$VB" dataset info text
ds jpg && printf '\xff\xd8\xff\xe0\x00\x10JFIF\x00garbage' >jpg/a/bad.jpg
fails "corrupt jpeg" "jpg/a/bad.jpg" "$VB" dataset info jpg
ds dht && { printf '\xff\xd8\xff\xc4\x02\x13\x00'; for i in $(seq 16); do printf '\x20'; done; head -c 512 /dev/zero; printf '\xff\xd9'; } >dht/a/dht.jpg
fails "jpeg DHT over 256 codes" "dht/a/dht.jpg" "$VB" dataset info dht
ds pnm && printf 'P5 99999999999 1 255\n' >pnm/a/big.pgm
fails "pnm side overflow" "pnm/a/big.pgm" "$VB" dataset info pnm
ds idat && { printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0\0\0\0\0'; printf '\0\0\0\0IDAT\0\0\0\0\0\0\0\0IEND\0\0\0\0'; } >idat/a/idat.png
fails "png empty first IDAT" "idat/a/idat.png" "$VB" dataset info idat
ds claim && printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x3e\x80\0\0\x3e\x80\x10\0\0\0\0\0\0\0\0\0\0\0\x08IDAT\x78\x9c\x03\0\0\0\0\x01\0\0\0\0\0\0\0\0IEND\0\0\0\0' >claim/a/big.png
fails "png claims 16000x16000" "claim/a/big.png" "$VB" dataset info claim
ds outside && cp "$img" outside/stray.png
fails "image outside a class folder" "outside/stray.png" "$VB" dataset info outside
ds sizes && "$VB" dataset synth --out s20 --classes 2 --per-class 2 --size 20 >/dev/null 2>&1 && cp s20/circle/circle_0000.png sizes/a/c20.png
printf 'name: sizes\ndataset: sizes\nsplit: {protocol: kfold, k: 2}\npipelines: [{name: p, features: [hog], classifier: knn}]\n' >sizes.yaml
fails "image sizes vary" "sizes.yaml:4:" "$VB" run sizes.yaml
ds flat && mkdir -p flatsub/x && cp "$img" flatsub/
printf 'name: flat\nmode: cluster\ndataset: {format: folder, path: flatsub, labels: false}\npipelines: [{name: p, classifier: {kmeans: {k: 2}}}]\n' >flat.yaml
fails "labels: false with a sub-folder" "flatsub/x" "$VB" run flat.yaml
printf 'name: flat2\ndataset: {format: folder, path: flat/a, labels: false}\npipelines: [{name: p, classifier: knn}]\n' >flat2.yaml
fails "no labels, classify" "no labels" "$VB" run flat2.yaml
idx() { printf "$2" >"$1"; }
idx i-magic '\x00\x00\x09\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02abcdefgh'
idx l-ok '\x00\x00\x08\x01\x00\x00\x00\x02\x00\x01'
printf 'format: idx\ntrain_images: i-magic\ntrain_labels: l-ok\n' >idx-magic.yaml
fails "idx wrong magic" "i-magic" "$VB" dataset info idx-magic.yaml
idx i-short '\x00\x00\x08\x03\x00\x00'
printf 'format: idx\ntrain_images: i-short\ntrain_labels: l-ok\n' >idx-short.yaml
fails "idx header truncated" "i-short" "$VB" dataset info idx-short.yaml
idx i-ok '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02abcdefgh'
idx l-three '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x01'
printf 'format: idx\ntrain_images: i-ok\ntrain_labels: l-three\n' >idx-count.yaml
fails "idx label count differs" "" "$VB" dataset info idx-count.yaml
idx i-trunc '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02abc'
printf 'format: idx\ntrain_images: i-trunc\ntrain_labels: l-ok\n' >idx-trunc.yaml
fails "idx pixels truncated" "i-trunc" "$VB" dataset info idx-trunc.yaml
idx i-huge '\x00\x00\x08\x03\x05\xf5\xe1\x00\x00\x00\x00\x1c\x00\x00\x00\x1c'
printf 'format: idx\ntrain_images: i-huge\ntrain_labels: l-ok\n' >idx-huge.yaml
fails "idx claims 10^8 images" "i-huge" "$VB" dataset info idx-huge.yaml
printf '\x1f\x8b\x08\x00garbage' >i-gz.gz
printf 'format: idx\ntrain_images: i-gz.gz\ntrain_labels: l-ok\n' >idx-gz.yaml
fails "idx corrupt gzip" "i-gz.gz" "$VB" dataset info idx-gz.yaml
printf 'format: idx\ntrain_images: i-ok\n' >idx-nolabels.yaml
fails "idx without labels" "idx-nolabels.yaml" "$VB" dataset info idx-nolabels.yaml
head -c 3000 /dev/zero >cifar-short.bin
printf 'format: cifar10\npath: .\ntrain_files: [cifar-short.bin]\ntest_files: []\n' >cifar-short.yaml
fails "cifar truncated record" "cifar-short.bin" "$VB" dataset info cifar-short.yaml
{ printf '\x0b'; head -c 3072 /dev/zero; } >cifar-label.bin
printf 'format: cifar10\npath: .\ntrain_files: [cifar-label.bin]\ntest_files: []\n' >cifar-label.yaml
fails "cifar label 11" "cifar-label.bin" "$VB" dataset info cifar-label.yaml
printf 'format: cifar10\npath: .\ntrain_files: [no-such.bin]\ntest_files: []\n' >cifar-miss.yaml
fails "cifar file missing" "no-such.bin" "$VB" dataset info cifar-miss.yaml
printf 'path\n%s\n' "$img" >nolabel.csv
printf 'format: csv\npath: nolabel.csv\n' >csv-col.yaml
fails "csv without a label column" "nolabel.csv" "$VB" dataset info csv-col.yaml
printf 'path,label\nmissing.png,a\n%s,b\n' "$img" >missing.csv
printf 'format: csv\npath: missing.csv\n' >csv-miss.yaml
fails "csv names a missing file" "missing.png" "$VB" dataset info csv-miss.yaml
printf 'path,label\n"%s,a\n' "$img" >quote.csv
printf 'format: csv\npath: quote.csv\n' >csv-quote.yaml
fails "csv unclosed quote" "quote.csv" "$VB" dataset info csv-quote.yaml
: >empty.csv
printf 'format: csv\npath: empty.csv\n' >csv-empty.yaml
fails "csv empty" "empty.csv" "$VB" dataset info csv-empty.yaml
printf 'path,label\n%s,\n' "$img" >blank.csv
printf 'format: csv\npath: blank.csv\n' >csv-blank.yaml
fails "csv empty label" "blank.csv" "$VB" dataset info csv-blank.yaml
printf 'format: idx\ntrain_images: i-ok\ntrain_labels: l-ok\nclasses: [a]\n' >idx-classes.yaml
fails "fewer class names than labels" "idx-classes.yaml" "$VB" dataset info idx-classes.yaml

# ---- models ----------------------------------------------------------------------
fails "model missing" "none.vbm" "$VB" predict none.vbm "$img"
: >empty.vbm
fails "model empty" "empty.vbm" "$VB" predict empty.vbm "$img"
mkdir -p dir.vbm
fails "model is a folder" "dir.vbm" "$VB" model info dir.vbm
{ printf 'NOTAMODEL'; tail -c +10 m.vbm; } >magic.vbm
fails "model wrong magic" "magic.vbm" "$VB" model info magic.vbm
for cut in 8 16 40 100 $((msize / 2)) $((msize - 1)); do
  head -c $cut m.vbm >cut$cut.vbm
  fails "model truncated at $cut bytes" "cut$cut.vbm" "$VB" predict cut$cut.vbm "$img"
done
for at in 30 $((msize / 3)) $((msize / 2)) $((msize - 2)); do
  cp m.vbm flip$at.vbm
  printf "$(printf '\\x%02x' $(( $(od -An -tu1 -j$at -N1 m.vbm) ^ 16 )))" | dd of=flip$at.vbm bs=1 seek=$at conv=notrunc 2>/dev/null
  fails "model bit flip at $at" "flip$at.vbm" "$VB" evaluate flip$at.vbm shapes
done
fails "predict a missing image" "ghost.png" "$VB" predict m.vbm ghost.png
fails "predict a text file" "good.yaml" "$VB" predict m.vbm good.yaml
mkdir -p noimages && echo x >noimages/notes.txt
fails "predict a folder without images" "no images" "$VB" predict m.vbm noimages
mkdir -p mixed && cp "$img" mixed/ && echo x >mixed/notes.txt
works "predict a folder with a note (a warning)" "$VB" predict m.vbm mixed
fails "predict a corrupt png" "trunc/a/trunc.png" "$VB" predict m.vbm trunc/a/trunc.png
works "evaluate on a subset of the classes" "$VB" evaluate m.vbm s20
fails "evaluate on classes the model lacks" "" "$VB" evaluate m.vbm oneclass
fails "evaluate a missing dataset" "gone" "$VB" evaluate m.vbm gone
fails "model info of a spec" "good.yaml" "$VB" model info good.yaml

# ---- stores ------------------------------------------------------------------------
fails "results: store missing" "none.db" "$VB" results none.db
cp good.yaml notdb.db
fails "results: not SQLite" "notdb.db" "$VB" results notdb.db
sqlite3 foreign.db 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
fails "results: foreign SQLite" "foreign.db" "$VB" results foreign.db
fails "run into a foreign SQLite" "foreign.db" "$VB" run good.yaml --store foreign.db
mkdir -p dir.db
fails "store is a folder" "dir.db" "$VB" results dir.db
fails "results: no such experiment" "" "$VB" results results/good.db --experiment 99
fails "report into a missing folder" "nodir/r.html" "$VB" report results/good.db -o nodir/r.html
fails "report: bad format" "" "$VB" report results/good.db --format pdf
fails "report of a non-store" "notdb.db" "$VB" report notdb.db -o scratch/r.html
cp results/good.db ro.db && chmod 444 ro.db
works "results of a read-only store" "$VB" results ro.db
chmod 644 ro.db

# ---- the command line ---------------------------------------------------------------
fails "unknown command" "frobnicate" "$VB" frobnicate
fails "unknown option" "" "$VB" run --frob good.yaml
fails "run without a spec" "" "$VB" run
fails "--threads -1" "" "$VB" --threads -1 run good.yaml
fails "--threads abc" "" "$VB" --threads abc run good.yaml
fails "predict --top 0" "" "$VB" predict --top 0 m.vbm "$img"
fails "predict --format xml" "" "$VB" predict --format xml m.vbm "$img"
fails "predict without images" "" "$VB" predict m.vbm
fails "train without --pipeline" "" "$VB" train good.yaml
fails "train a missing pipeline" "zz" "$VB" train good.yaml --pipeline zz -o scratch/x.vbm
fails "train a missing fold" "fold9" "$VB" train good.yaml --pipeline raw-knn --fold fold9 -o scratch/x.vbm
fails "train -o onto a folder" "shapes" "$VB" train good.yaml --pipeline raw-knn --fold fold1 -o shapes
works "train -o into a new folder" "$VB" train good.yaml --pipeline raw-knn --fold fold1 -o scratch/new/m.vbm
fails "features: bad format" "" "$VB" features good.yaml --pipeline raw-knn --out scratch/f --format parquet
fails "features without --out" "" "$VB" features good.yaml --pipeline raw-knn
fails "results --format html" "" "$VB" results results/good.db --format html
fails "list an unknown plug-in" "hogg" "$VB" list hogg
fails "synth --classes 1" "" "$VB" dataset synth --out scratch/s1 --classes 1
fails "synth --per-class 0" "" "$VB" dataset synth --out scratch/s0 --per-class 0
fails "synth --size 100000" "" "$VB" dataset synth --out scratch/sbig --size 100000
fails "synth over a dataset" "shapes" "$VB" dataset synth --out shapes --classes 2 --per-class 3
fails "dataset without a subcommand" "" "$VB" dataset
fails "help for an unknown command" "" "$VB" help frobnicate

printf '%-6s %-13s %-12s %-8s %-6s %-10s %s\n' cases clean-errors expected-ok crashes hangs data-loss unclean
printf '%-6s %-13s %-12s %-8s %-6s %-10s %s\n' "$n_cases" "$n_clean" "$n_ok" "$n_crash" "$n_hang" "$n_loss" "$n_unclean"
for d in "${defects[@]}"; do echo "DEFECT: $d" >&2; done
[ ${#defects[@]} -eq 0 ]
