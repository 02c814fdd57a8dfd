#!/usr/bin/env bash
# Bad input, catalogued (issue 14): every command given broken specs, data
# sets, models, stores and options. Each case runs in a copy of a small
# fixture under a timeout and is classified:
#   clean error  exit 1..127 (not 124), one "visbench: " line on stderr that
#                names the offending file or option, nothing on stdout
#   expected ok  a few odd inputs must succeed (exit 0; a warning if asked)
#   crash        a signal, or an ASan/UBSan/LSan report
#   hang         the timeout (BADINPUT_TIMEOUT, 60 s) expired
#   data loss    a file of the case folder changed or went, or a file was
#                left there (a temporary, a model, a split, results/, -wal)
#   unclean      anything else: exit 0 on bad input, two lines, no file named
# Usage: bash tests/faults/badinput.sh [VISBENCH]   (default build/visbench)
#        BADINPUT_VERBOSE=1 prints every case with its stderr
set -u
VB=$(realpath "${1:-build/visbench}" 2>/dev/null) && [ -x "$VB" ] \
  || { echo "badinput.sh: no visbench binary at ${1:-build/visbench}" >&2; exit 2; }
LIMIT=${BADINPUT_TIMEOUT:-60}
W=$(mktemp -d "${TMPDIR:-/tmp}/badinput.XXXXXX") || exit 2
chmod 755 "$W"
export ASAN_OPTIONS=detect_leaks=1:exitcode=200:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1
unset VISBENCH_INTERRUPT_AT
# an unprivileged user for permission cases (root ignores file modes)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
  AS_USER=()
fi

# ---- the fixture: a tiny data set, a spec, a store and a model --------------
mkdir "$W/fx" "$W/c" && cd "$W/fx" || exit 2
{
  "$VB" -q dataset synth --out d --classes 2 --per-class 6 --size 16 --seed 1 &&
    "$VB" -q dataset synth --out rgb --classes 3 --per-class 2 --size 20 --color --seed 2 &&
    cat >s.yaml <<'YAML' &&
name: bad
seed: 1
dataset: d/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - name: hog-svm
    features: [{hog: {cell: 8}}]
    classifier: {svm: {C: 10}}
  - name: raw-knn
    classifier: {knn: {k: 1}}
YAML
    "$VB" -q --threads 1 run s.yaml --store r.db &&
    "$VB" -q --threads 1 train s.yaml --pipeline hog-svm -o m.vbm &&
    sed -e 's/{knn: {k: 1}}/{cnn: {layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, flatten, fc: classes], epochs: 1}}/' \
      s.yaml >cnn.yaml &&
    "$VB" -q --threads 1 train cnn.yaml --pipeline raw-knn -o cnn.vbm && rm cnn.yaml
} >"$W/fixture.log" 2>&1 || { echo "badinput.sh: cannot make the fixture:" >&2; cat "$W/fixture.log" >&2; exit 2; }
chmod -R a+rX "$W/fx"
MODEL_SIZE=$(stat -c %s m.vbm)
PNG=d/circle/circle_0000.png

# ---- the harness ----------------------------------------------------------------
n=0 n_clean=0 n_ok=0 n_crash=0 n_hang=0 n_loss=0 n_unclean=0
: >"$W/failures"
begin() { # begin NAME: a fresh copy of the fixture, as the current folder
  n=$((n + 1))
  name=$1
  mkdir "$W/c/$n" && cp -a "$W/fx/." "$W/c/$n/" && cd "$W/c/$n" || exit 2
}
# every path with its type, mode and content hash
snap() {
  find . -mindepth 1 -printf '%p\t%y %m\n' | LC_ALL=C sort >"$1.l"
  find . -type f -print0 | xargs -0r sha256sum | awk '{ h = $1; sub(/^[0-9a-f]+  /, ""); print $0 "\t" h }' \
    | LC_ALL=C sort >"$1.h"
  LC_ALL=C join -t $'\t' -a 1 "$1.l" "$1.h" >"$1"
}
changes() { # removed, changed or added paths between two snapshots
  awk -F'\t' 'NR == FNR { b[$1] = $2 $3; next } { a[$1] = $2 $3 }
    END { for (p in b) if (!(p in a)) print "removed " p; else if (a[p] != b[p]) print "changed " p
          for (p in a) if (!(p in b)) print "added " p }' "$1" "$2" | LC_ALL=C sort
}
# expect fail|ok|usage NEEDLE CMD...: run CMD and classify. fail: a clean
# error whose message holds NEEDLE; ok: exit 0 (and NEEDLE on stderr when
# given); usage: exit 2 with the usage text. No case may change the folder.
expect() {
  local want=$1 needle=$2; shift 2
  snap "$W/before"
  local t0 rc ms
  t0=$(date +%s%N)
  timeout -k 5 "$LIMIT" "$@" >"$W/out" 2>"$W/err" </dev/null
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  snap "$W/after"
  local kind= why= lines d loss=
  lines=$(wc -l <"$W/err")
  while read -r d; do
    [ -n "$d" ] && loss="${loss:+$loss, }$d"
  done < <(changes "$W/before" "$W/after")
  if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: [A-Za-z]+Sanitizer' "$W/err"; then
    kind=crash why="sanitizer report (exit $rc)"
  elif [ $rc -eq 124 ] || [ $ms -ge $((LIMIT * 1000)) ]; then
    kind=hang why="no exit within $LIMIT s"
  elif [ $rc -gt 128 ]; then
    kind=crash why="killed by signal $((rc - 128))"
  elif [ -n "$loss" ]; then
    kind=loss why="exit $rc; $loss"
  elif [ "$want" = ok ]; then
    if [ $rc -ne 0 ]; then kind=unclean why="exit $rc, expected success"
    elif [ -n "$needle" ] && ! grep -qF -- "$needle" "$W/err"; then kind=unclean why="no warning naming '$needle'"
    else kind=ok; fi
  elif [ "$want" = usage ]; then
    if [ $rc -eq 2 ] && head -1 "$W/err" | grep -q '^usage: visbench'; then kind=clean
    else kind=unclean why="exit $rc without the usage text"; fi
  elif [ $rc -eq 0 ]; then
    kind=unclean why="exit 0 on bad input"
  elif [ "$lines" -ne 1 ]; then
    kind=unclean why="exit $rc with $lines lines on stderr"
  elif ! grep -q '^visbench: ' "$W/err"; then
    kind=unclean why="exit $rc, the message does not start with 'visbench: '"
  elif ! grep -qF -- "$needle" "$W/err"; then
    kind=unclean why="exit $rc, the message does not name '$needle'"
  elif [ -s "$W/out" ]; then
    kind=unclean why="exit $rc and output on stdout"
  else
    kind=clean
  fi
  case $kind in
    clean) n_clean=$((n_clean + 1)) ;;
    ok) n_ok=$((n_ok + 1)) ;;
    crash) n_crash=$((n_crash + 1)) ;;
    hang) n_hang=$((n_hang + 1)) ;;
    loss) n_loss=$((n_loss + 1)) ;;
    *) n_unclean=$((n_unclean + 1)) ;;
  esac
  [ -n "${BADINPUT_VERBOSE:-}" ] && printf '#%d %s [%s] %s\n' $n "$name" $kind "$(head -c 300 "$W/err" | head -3)"
  if [ -n "$why" ]; then
    {
      echo "FAIL #$n [$kind] $name: $why"
      local cmd
      cmd=$(printf '%q ' "$@")
      echo "  \$ (cd c/$n && ${cmd//"$VB"/visbench})"
      sed -n '1,12p' "$W/err" | sed 's/^/  | /'
    } >>"$W/failures"
  fi
  cd "$W" || exit 2
}
spec() { # spec FILE SED-EXPRESSION: the fixture's spec, edited
  sed -e "$2" s.yaml >"$1"
}
bad_spec() { # bad_spec NAME SED-EXPRESSION NEEDLE: run refuses the edited spec
  begin "spec: $1"; spec x.yaml "$2"; expect fail "$3" "$VB" -q run x.yaml
}
descriptor() { # descriptor FILE: a spec on the data set FILE describes
  sed -e "s#^dataset: .*#dataset: $1#" s.yaml >ds.yaml
}
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
idx_img() { printf '\0\0\x08\x03'; be32 "$1"; be32 "$2"; be32 "$3"; head -c "${4:-$(($1 * $2 * $3))}" /dev/zero; }
idx_lab() { printf '\0\0\x08\x01'; be32 "$1"; for ((i = 0; i < $1; i++)); do printf "\\x0$((i % 2))"; done; }
idx_yaml() { printf 'format: idx\ntrain_images: %s\ntrain_labels: %s\n' "$1" "$2" >idx.yaml; }
cifar_rec() { printf "\\x$(printf %02x "$1")"; head -c 3072 /dev/zero; }
csv_data() { # csv_data LINES: a CSV manifest beside d/ and its descriptor
  printf '%b' "$1" >m.csv
  printf 'format: csv\npath: m.csv\n' >csv.yaml
}
flip() { # flip FILE OFFSET: invert one byte
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((255 - b)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# ---- the command line ---------------------------------------------------------------
begin "no command";                   expect usage '' "$VB" -q
begin "unknown command";              expect fail "'rnu'" "$VB" rnu s.yaml
begin "unknown global option";        expect fail "'--frobnicate'" "$VB" --frobnicate run s.yaml
begin "--threads -1";                 expect fail "'-1'" "$VB" --threads -1 run s.yaml
begin "--threads abc";                expect fail "'abc'" "$VB" --threads abc run s.yaml
begin "--threads 0";                  expect fail "'0'" "$VB" --threads 0 run s.yaml
begin "--threads 2^64";               expect fail "'18446744073709551616'" "$VB" --threads 18446744073709551616 version
begin "--threads without a value";    expect fail "--threads takes" "$VB" --threads
begin "help of an unknown command";   expect fail "'nosuch'" "$VB" help nosuch
begin "run: no spec";                 expect fail "run: expects" "$VB" run
begin "run: two specs";               expect fail "run:" "$VB" run s.yaml s.yaml
begin "run: unknown option";          expect fail "'--bogus'" "$VB" run s.yaml --bogus
begin "run: --store without a value"; expect fail "option '--store' needs a value" "$VB" run s.yaml --store
begin "run: unknown --pipeline";      expect fail "'nope'" "$VB" -q run s.yaml --pipeline nope
begin "run: missing spec";            expect fail "absent.yaml" "$VB" run absent.yaml
begin "run: spec is a folder";        mkdir dir.yaml; expect fail "dir.yaml: read error: Is a directory" "$VB" run dir.yaml
begin "run: --store under a file";    expect fail "s.yaml: cannot create directory" "$VB" -q run s.yaml --store s.yaml/r.db
begin "merge: no shard";              expect fail "merge: expects" "$VB" merge o.db
begin "merge: unknown option";         expect fail "'--x'" "$VB" merge --x o.db r.db
begin "merge: missing shard";          expect fail "nope.db" "$VB" merge o.db r.db nope.db
begin "merge: a foreign SQLite shard"; sqlite3 f.db 'create table foo(x)'; expect fail "f.db: not a visbench store" "$VB" merge o.db r.db f.db
begin "merge: a text file as shard";   expect fail "s.yaml: not a visbench store" "$VB" merge o.db r.db s.yaml
begin "merge: a truncated shard";      head -c 5000 r.db >t.db; expect fail "t.db" "$VB" merge o.db t.db
begin "merge: a folder as shard";      mkdir j.db; expect fail "j.db: a folder" "$VB" merge o.db j.db
begin "merge: into a shard";           expect fail "'r.db' is both the output and a shard" "$VB" merge ./r.db r.db
begin "merge: into a missing folder";  expect fail "there is no folder nodir" "$VB" merge nodir/o.db r.db
begin "merge: into a folder";          mkdir o.db; expect fail "o.db: a folder" "$VB" merge o.db r.db
begin "merge: into a foreign SQLite file"; sqlite3 f.db 'create table foo(x)'; expect fail "f.db: not a visbench store" "$VB" merge f.db r.db
begin "merge: shards of two specs";    sed 's/C: 10/C: 5/' s.yaml >s2.yaml; "$VB" -q --threads 1 run s2.yaml --store o2.db >/dev/null 2>&1
                                       expect fail "another spec" "$VB" merge o.db r.db o2.db
begin "merge: another spec into a store"; sed 's/C: 10/C: 5/' s.yaml >s2.yaml; "$VB" -q --threads 1 run s2.yaml --store o2.db >/dev/null 2>&1
                                       expect fail "another spec" "$VB" merge r.db o2.db
begin "merge: the same store again";   cp r.db o.db; rm -f o.db-wal o.db-shm; expect ok "" "$VB" merge o.db r.db
begin "run: --shard 0/2";              expect fail "--shard takes I/N" "$VB" -q run s.yaml --shard 0/2
begin "run: --shard 3/2";              expect fail "--shard takes I/N" "$VB" -q run s.yaml --shard 3/2
begin "run: --shard 1/0";              expect fail "--shard takes I/N" "$VB" -q run s.yaml --shard 1/0
begin "run: --shard=a/b";              expect fail "--shard takes I/N" "$VB" -q run s.yaml --shard=a/b
begin "run: --shard without Slurm";    expect fail "SLURM_ARRAY_TASK_ID" env -u SLURM_ARRAY_TASK_ID "$VB" -q run s.yaml --shard
begin "run: --shard with --mpi";       expect fail "one of them" "$VB" -q run s.yaml --shard 1/2 --mpi
begin "run: --mpi with --dry-run";     expect fail "--dry-run" "$VB" -q run s.yaml --mpi --dry-run
begin "results: no store";            expect fail "results: expects" "$VB" results
begin "results: missing store";       expect fail "nope.db" "$VB" results nope.db
begin "results: --experiment abc";    expect fail "'abc'" "$VB" results r.db --experiment abc
begin "results: --experiment -1";     expect fail "'-1'" "$VB" results r.db --experiment -1
begin "results: --experiment 2^70";   expect fail "'1180591620717411303424'" "$VB" results r.db --experiment 1180591620717411303424
begin "results: no experiment 99";    expect fail "r.db: no experiment 99" "$VB" results r.db --experiment 99
begin "results: --format xml";        expect fail "'xml'" "$VB" results r.db --format xml
begin "results: two tables";          expect fail "--predictions and --clusters" "$VB" results r.db --predictions --clusters
begin "results: unknown option";      expect fail "'--bogus'" "$VB" results r.db --bogus
begin "report: missing store";        expect fail "nope.db" "$VB" report nope.db
begin "report: --format pdf";         expect fail "'pdf'" "$VB" report r.db --format pdf
begin "report: -o in a missing folder"; expect fail "nodir/x.html" "$VB" report r.db -o nodir/x.html
begin "report: -o the store";         expect fail "'r.db' is the store itself" "$VB" report r.db -o r.db
begin "report: -o a folder";          mkdir out.html; expect fail "out.html" "$VB" report r.db -o out.html
begin "report: --experiment 0";       expect fail "'0'" "$VB" report r.db --experiment 0
begin "report: no experiment 7";      expect fail "no experiment 7" "$VB" report r.db --experiment 7
begin "report: -o without a value";   expect fail "option '-o' needs a value" "$VB" report r.db -o
begin "train: no --pipeline";         expect fail "train: expects" "$VB" train s.yaml
begin "train: unknown pipeline";      expect fail "'nope'" "$VB" -q train s.yaml --pipeline nope -o x.vbm
begin "train: unknown fold";          expect fail "'fold9'" "$VB" -q train s.yaml --pipeline hog-svm --fold fold9 -o x.vbm
begin "train: -o a folder";           mkdir x.vbm; expect fail "x.vbm" "$VB" -q train s.yaml --pipeline hog-svm -o x.vbm
begin "train: -o a folder (not -q)";  mkdir x.vbm; expect fail "x.vbm: a folder" "$VB" train s.yaml --pipeline hog-svm -o x.vbm
begin "train: -o under a file";       expect fail "s.yaml: cannot create directory" "$VB" -q train s.yaml --pipeline hog-svm -o s.yaml/x.vbm
begin "train: unknown option";        expect fail "'--bogus'" "$VB" train s.yaml --pipeline hog-svm --bogus
begin "train: bad spec over a model"; spec b.yaml 's/cell: 8/cell: 0/'
                                      expect fail "b.yaml:7" "$VB" -q train b.yaml --pipeline hog-svm -o m.vbm
begin "predict: no arguments";        expect fail "predict: expects" "$VB" predict
begin "predict: no images";           expect fail "predict: expects" "$VB" predict m.vbm
begin "predict: missing image";       expect fail "nosuch.png" "$VB" -q predict m.vbm nosuch.png
begin "predict: --top 0";             expect fail "'0'" "$VB" predict m.vbm d --top 0
begin "predict: --top abc";           expect fail "'abc'" "$VB" predict m.vbm d --top abc
begin "predict: --top 1000";          expect fail "'1000'" "$VB" predict m.vbm d --top 1000
begin "predict: --format xml";        expect fail "'xml'" "$VB" predict m.vbm d --format xml
begin "predict: unknown option";      expect fail "'--bogus'" "$VB" predict m.vbm d --bogus
begin "evaluate: no dataset";         expect fail "evaluate: expects" "$VB" evaluate m.vbm
begin "evaluate: --part bogus";       expect fail "'bogus'" "$VB" evaluate m.vbm d --part bogus
begin "evaluate: missing dataset";    expect fail "nosuch" "$VB" -q evaluate m.vbm nosuch
begin "features: no --out";           expect fail "--out" "$VB" features s.yaml --pipeline hog-svm
begin "features: --format arff";      expect fail "'arff'" "$VB" -q features s.yaml --pipeline hog-svm --out f --format arff
begin "features: --part nope";        expect fail "'nope'" "$VB" -q features s.yaml --pipeline hog-svm --out f --part nope
begin "features: --fold 0";           expect fail "'0'" "$VB" -q features s.yaml --pipeline hog-svm --out f --fold 0
begin "features: --fold abc";         expect fail "'abc'" "$VB" -q features s.yaml --pipeline hog-svm --out f --fold abc
begin "features: --fold 9";           expect fail "--fold 9" "$VB" -q features s.yaml --pipeline hog-svm --out f --fold 9
begin "features: no validation part"; expect fail "validation" "$VB" -q features s.yaml --pipeline hog-svm --out f --part val
begin "features: --out missing folder"; expect fail "nodir/f.csv" "$VB" -q features s.yaml --pipeline hog-svm --out nodir/f.csv
begin "features: --out a folder";     mkdir f.csv; expect fail "f.csv" "$VB" -q features s.yaml --pipeline hog-svm --out f.csv --format csv
begin "features: a bad fold over a file"; echo previous >f.csv; expect fail "--fold 9" "$VB" -q features s.yaml --pipeline hog-svm --out f.csv --format csv --fold 9
begin "report: a bad experiment over a file"; echo previous >x.html; expect fail "no experiment 7" "$VB" report r.db --experiment 7 -o x.html
begin "features: unknown pipeline";   expect fail "'hog-svn'" "$VB" -q features s.yaml --pipeline hog-svn --out f
begin "list: unknown kind";           expect fail "'bogus'" "$VB" list bogus
begin "list: unknown option";         expect fail "'--bogus'" "$VB" list --bogus
begin "dataset: no subcommand";       expect fail "dataset: expects" "$VB" dataset
begin "dataset: unknown subcommand";  expect fail "'frob'" "$VB" dataset frob
begin "dataset info: no dataset";     expect fail "dataset info: expects" "$VB" dataset info
begin "dataset info: missing";        expect fail "nosuch" "$VB" dataset info nosuch
begin "dataset info: a PNG";          expect fail "$PNG" "$VB" dataset info "$PNG"
begin "synth: no --out";              expect fail "--out" "$VB" dataset synth
begin "synth: --classes 1";           expect fail "'1'" "$VB" dataset synth --out x --classes 1
begin "synth: --classes 11";          expect fail "'11'" "$VB" dataset synth --out x --classes 11
begin "synth: --classes abc";         expect fail "'abc'" "$VB" dataset synth --out x --classes abc
begin "synth: --per-class 0";         expect fail "'0'" "$VB" dataset synth --out x --per-class 0
begin "synth: --size 7";              expect fail "'7'" "$VB" dataset synth --out x --size 7
begin "synth: --size 100000";         expect fail "'100000'" "$VB" dataset synth --out x --size 100000
begin "synth: --noise -1";            expect fail "'-1'" "$VB" dataset synth --out x --noise -1
begin "synth: --noise nan";           expect fail "'nan'" "$VB" dataset synth --out x --noise nan
begin "synth: --seed abc";            expect fail "'abc'" "$VB" dataset synth --out x --seed abc
begin "synth: --test-per-class -1";   expect fail "'-1'" "$VB" dataset synth --out x --test-per-class -1
begin "synth: --clutter -1";          expect fail "'-1'" "$VB" dataset synth --out x --clutter -1
begin "synth: over a data set";       expect fail "d is not empty" "$VB" dataset synth --out d --classes 3
begin "synth: --out a file";          expect fail "s.yaml" "$VB" -q dataset synth --out s.yaml
begin "synth: --out under a file";    expect fail "s.yaml/x" "$VB" -q dataset synth --out s.yaml/x
begin "synth: unknown option";        expect fail "'--bogus'" "$VB" dataset synth --out x --bogus
begin "export: no --out";             expect fail "dataset export: expects" "$VB" dataset export d
begin "export: --part bogus";         expect fail "'bogus'" "$VB" dataset export d --out e --part bogus
begin "export: missing dataset";      expect fail "nosuch" "$VB" -q dataset export nosuch --out e
begin "export: --out a file";         expect fail "s.yaml" "$VB" -q dataset export d --out s.yaml
begin "model: no subcommand";         expect fail "model: expects" "$VB" model
begin "model: unknown subcommand";    expect fail "model: expects" "$VB" model frob
begin "model info: no model";         expect fail "model info: expects" "$VB" model info
begin "model info: missing";          expect fail "nosuch.vbm" "$VB" model info nosuch.vbm
begin "model info: unknown option";   expect fail "'--bogus'" "$VB" model info m.vbm --bogus

# ---- specs ------------------------------------------------------------------------------
begin "spec: empty file";             : >x.yaml; expect fail "x.yaml" "$VB" -q run x.yaml
begin "spec: comments only";          printf '# nothing\n# here\n' >x.yaml; expect fail "x.yaml" "$VB" -q run x.yaml
bad_spec "unclosed flow sequence" 's/features: \[{hog: {cell: 8}}\]/features: [{hog: {cell: 8}}/' "x.yaml:"
bad_spec "bad indentation" 's/^    classifier: {svm/  classifier: {svm/' "x.yaml:"
begin "spec: a tab";                  printf 'name: x\tseed: 1\n' >x.yaml; expect fail "x.yaml:1:" "$VB" -q run x.yaml
begin "spec: invalid UTF-8";          printf 'name: bad\nseed: \xc3\n' >x.yaml; expect fail "x.yaml:2:7" "$VB" -q run x.yaml
begin "spec: a NUL byte";             printf 'name: bad\0\nseed: 1\n' >x.yaml; expect fail "x.yaml:1" "$VB" -q run x.yaml
begin "spec: malformed directive";    printf '%%\xff\n' >x.yaml; expect fail "x.yaml:1:1" "$VB" -q run x.yaml
begin "spec: %YAML 9.9";              { printf '%%YAML 9.9\n---\n'; cat s.yaml; } >x.yaml; expect fail "x.yaml:1" "$VB" -q run x.yaml
begin "spec: a list";                 printf -- '- name: bad\n- seed: 1\n' >x.yaml; expect fail "x.yaml:1" "$VB" -q run x.yaml
begin "spec: a scalar";               printf 'hello\n' >x.yaml; expect fail "x.yaml:1" "$VB" -q run x.yaml
bad_spec "unknown top-level key" 's/^split:/splt:/' "x.yaml:4:1: unknown key 'splt'"
bad_spec "unknown split key" 's/test_fraction/test_fractoin/' "'test_fractoin'"
bad_spec "unknown hog key" 's/{cell: 8}/{cell: 8, orientatons: 9}/' "'orientatons'"
bad_spec "unknown extractor" 's/{hog: {cell: 8}}/{hgo: {cell: 8}}/' "x.yaml:7:17: unknown feature extractor 'hgo'"
bad_spec "unknown classifier" 's/{svm: {C: 10}}/{svn: {C: 10}}/' "x.yaml:8:18: unknown classifier 'svn'"
bad_spec "unknown post-processing" 's/^    classifier: {svm/    postprocess: [standardise]\n    classifier: {svm/' "'standardise'"
bad_spec "pca: randomized by variance" 's/^    classifier: {svm/    postprocess: [{pca: {solver: randomized}}]\n    classifier: {svm/' \
  "x.yaml:8:34: pca.solver: pca: the randomized solver finds a given number of components"
bad_spec "pca: unknown solver" 's/^    classifier: {svm/    postprocess: [{pca: {components: 2, solver: fast}}]\n    classifier: {svm/' \
  "x.yaml:8:49: pca.solver: unknown value 'fast'"
bad_spec "pca: full solver on 262,144 features" \
  's/^split:/preprocess: [{resize: 512}]\nsplit:/; s/{hog: {cell: 8}}/raw/; s/^    classifier: {svm/    postprocess: [{pca: {components: 2, solver: full}}]\n    classifier: {svm/' \
  "x.yaml:9:49: pca.solver: pca: the full solver on 262144 features would need"
bad_spec "unknown preprocessing" 's/^split:/preprocess: [{resise: 8}]\nsplit:/' "'resise'"
bad_spec "seed: abc" 's/^seed: 1/seed: abc/' "x.yaml:2:"
bad_spec "cell: six" 's/{cell: 8}/{cell: six}/' "x.yaml:7:29: hog.cell must be an integer, not 'six'"
begin "spec: pipelines a mapping";    printf 'name: bad\ndataset: d/dataset.yaml\nsplit: {protocol: holdout}\npipelines: {name: a}\n' >x.yaml
                                      expect fail "x.yaml:4:" "$VB" -q run x.yaml
bad_spec "name a list" 's/^name: bad/name: [a, b]/' "x.yaml:1:"
bad_spec "cell: 0" 's/{cell: 8}/{cell: 0}/' "x.yaml:7:29: hog.cell = 0 is out of range"
bad_spec "test_fraction 1.5" 's/test_fraction: 0.25/test_fraction: 1.5/' "x.yaml:4:"
bad_spec "kfold k: 1" 's/{protocol: holdout, test_fraction: 0.25}/{protocol: kfold, k: 1}/' "x.yaml:4:"
bad_spec "svm C: -1" 's/C: 10/C: -1/' "x.yaml:8:"
bad_spec "knn k: -3" 's/{k: 1}/{k: -3}/' "x.yaml:10:"
bad_spec "boost eta: 1.5" 's/{svm: {C: 10}}/{boost: {eta: 1.5}}/' "x.yaml:8:31: boost.eta = 1.5 is out of range (0 < x <= 1)"
bad_spec "boost eta: 0" 's/{svm: {C: 10}}/{boost: {eta: 0}}/' "x.yaml:8:31: boost.eta = 0 is out of range"
bad_spec "boost max_depth: 0" 's/{svm: {C: 10}}/{boost: {max_depth: 0}}/' "x.yaml:8:37: boost.max_depth = 0"
bad_spec "boost early_stopping: -1" 's/{svm: {C: 10}}/{boost: {early_stopping: -1}}/' "x.yaml:8:42:"
bad_spec "boost subsample: 1.5" 's/{svm: {C: 10}}/{boost: {subsample: 1.5}}/' "x.yaml:8:37:"
bad_spec "boost max_bins: 1" 's/{svm: {C: 10}}/{boost: {max_bins: 1}}/' "x.yaml:8:36:"
bad_spec "boost unknown key" 's/{svm: {C: 10}}/{boost: {n_estimators: 10}}/' "x.yaml:8:"
begin "boost: early stopping without validation (ok)"; spec x.yaml 's/{svm: {C: 10}}/{boost: {rounds: 3, early_stopping: 2}}/'
                                      expect ok "early_stopping needs validation rows" "$VB" train x.yaml --pipeline hog-svm -o "$W/es-$n.vbm"
bad_spec "tree ccp_alpha: -0.1" 's/{svm: {C: 10}}/{tree: {ccp_alpha: -0.1}}/' "x.yaml:8:36: tree.ccp_alpha = -0.1 is out of range"
bad_spec "tree criterion: gain" 's/{svm: {C: 10}}/{tree: {criterion: gain}}/' "x.yaml:8:36: tree.criterion: unknown value 'gain'"
bad_spec "seed: 1e400" 's/^seed: 1/seed: 1e400/' "x.yaml:2:"
bad_spec "seed: 2^64" 's/^seed: 1/seed: 18446744073709551616/' "x.yaml:2:"
bad_spec "cell: 10^20" 's/{cell: 8}/{cell: 99999999999999999999}/' "x.yaml:7:"
bad_spec "C: .nan" 's/C: 10/C: .nan/' "x.yaml:8:"
bad_spec "C: .inf" 's/C: 10/C: .inf/' "x.yaml:8:"
bad_spec "C: 1e-400" 's/C: 10/C: 1e-400/' "x.yaml:8:"
bad_spec "resize: [0, 0]" 's/^split:/preprocess: [{resize: [0, 0]}]\nsplit:/' "x.yaml:4:"
bad_spec "resize: 100000" 's/^split:/preprocess: [{resize: 100000}]\nsplit:/' "x.yaml:4:"
bad_spec "train_limit: -5" 's/test_fraction: 0.25/test_fraction: 0.25, train_limit: -5/' "x.yaml:4:"
bad_spec "unknown protocol" 's/protocol: holdout/protocol: holdup/' "'holdup'"
bad_spec "unknown mode" 's/^seed: 1/seed: 1\nmode: classiffy/' "'classiffy'"
bad_spec "unknown correction" 's/^seed: 1/seed: 1\ncorrection: hlm/' "x.yaml:3:13: correction must be none, holm (the default) or bonferroni, not 'hlm'; did you mean 'holm'?"
bad_spec "no dataset" '/^dataset:/d' "x.yaml"
bad_spec "missing dataset" 's#d/dataset.yaml#nowhere/dataset.yaml#' "nowhere/dataset.yaml"
bad_spec "dataset is the spec" 's#d/dataset.yaml#x.yaml#' "x.yaml"
bad_spec "no pipelines" '/^pipelines:/,$d' "x.yaml"
bad_spec "pipelines: []" '/^pipelines:/,$c\pipelines: []' "x.yaml:5:"
bad_spec "duplicate pipeline names" 's/name: raw-knn/name: hog-svm/' "'hog-svm'"
bad_spec "duplicate key" 's/^seed: 1/seed: 1\nseed: 2/' "x.yaml:3:1: duplicate key 'seed'"
bad_spec "a pipeline without name" 's/  - name: raw-knn/  - features: [raw]/' "x.yaml:9:"
bad_spec "features: []" 's/features: \[{hog: {cell: 8}}\]/features: []/' "x.yaml:7:"
bad_spec "a grid without validation" 's/C: 10/C: [1, 10]/' "x.yaml"
bad_spec "name with a slash" 's#^name: bad#name: ../../escape#' "x.yaml:1:7"
bad_spec "name not ASCII" 's/^name: bad/name: caf\xc3\xa9/' "x.yaml:1:7"
bad_spec "undefined alias" 's/C: 10/C: *ten/' "x.yaml:8:"
bad_spec "a complex key" 's/^seed: 1/? [a, b]\n: 1/' "x.yaml:2:"
bad_spec "a bad cnn layer" 's/{svm: {C: 10}}/{cnn: {layers: [conv: {filters: 0}, fc: classes]}}/' "x.yaml:8:"
# deep features and fine-tuning (cnn.vbm: conv1 relu1 maxpool1 flatten1 fc1 on 16x16x1 images)
bad_spec "cnn features: no model file" 's/{hog: {cell: 8}}/{cnn: nope.vbm}/' "x.yaml:7:22: cnn.model: nope.vbm: cannot open"
bad_spec "cnn features: not a cnn model" 's/{hog: {cell: 8}}/{cnn: m.vbm}/' "x.yaml:7:22: cnn.model: m.vbm: not a cnn model"
begin "spec: cnn features: a truncated model"; head -c 600 cnn.vbm >t.vbm; spec x.yaml 's/{hog: {cell: 8}}/{cnn: t.vbm}/'
expect fail "x.yaml:7:22: cnn.model: t.vbm: " "$VB" -q run x.yaml
bad_spec "cnn features: no such layer" 's/{hog: {cell: 8}}/{cnn: {model: cnn.vbm, layer: fc9}}/' \
  "x.yaml:7:46: cnn.layer: 'cnn.vbm': the network has no layer 'fc9'; its layers are conv1, relu1, maxpool1, flatten1, fc1"
bad_spec "cnn features: layer 99" 's/{hog: {cell: 8}}/{cnn: {model: cnn.vbm, layer: 99}}/' "layer 99 is out of range: the network has 5 layers"
bad_spec "cnn features: other images" 's/{hog: {cell: 8}}/{cnn: cnn.vbm}/; s/^split:/preprocess: [{resize: 12}]\nsplit:/' \
  "'cnn.vbm' takes 16x16x1 images (w x h x channels) and this pipeline's are 12x12x1"
FT='{cnn: {layers: [conv: {filters: 2, size: 3}, relu, maxpool: 2, flatten, fc: classes], epochs: 1'
bad_spec "cnn init_from: no file" "s/{knn: {k: 1}}/$FT, init_from: nope.vbm}}/" "cnn.init_from: nope.vbm: cannot open"
bad_spec "cnn init_from: not a cnn model" "s/{knn: {k: 1}}/$FT, init_from: m.vbm}}/" "cnn.init_from: m.vbm: not a cnn model"
begin "spec: cnn init_from: a corrupt model"; cp cnn.vbm t.vbm; printf '\x55' | dd of=t.vbm bs=1 seek=700 conv=notrunc 2>/dev/null
spec x.yaml "s/{knn: {k: 1}}/$FT, init_from: t.vbm}}/"; expect fail "cnn.init_from: t.vbm: " "$VB" -q run x.yaml
bad_spec "cnn init_from: other layers" "s/{knn: {k: 1}}/${FT/filters: 2/filters: 3}, init_from: cnn.vbm}}/" \
  "the model's layers differ from this cnn's at layer 1: this cnn has 'conv 3 of 3x3', the model 'conv1, conv 2 of 3x3'"
bad_spec "cnn init_from: other images" "s/{knn: {k: 1}}/$FT, init_from: cnn.vbm}}/; s/^split:/preprocess: [{resize: 12}]\nsplit:/" \
  "the model takes 16x16x1 images (w x h x channels) and this pipeline gives 12x12x1"
bad_spec "cnn freeze: every layer" "s/{knn: {k: 1}}/$FT, freeze: 2}}/" "cnn.freeze: 2 freezes every layer with weights"
bad_spec "tune folds: 1" 's/^    classifier: {svm/    tune: {folds: 1}\n    classifier: {svm/' "x.yaml:8:"
# ensembles of pipelines (issue 18): each refused at its place, nothing run
bad_spec "ensemble of a pipeline not in the spec" '$a ensembles: [{name: e, of: [hog-svm, raw-knm], method: hard}]' \
  "x.yaml:11:37: ensemble 'e' combines 'raw-knm', which is no pipeline of this spec; did you mean 'raw-knn'?"
bad_spec "soft vote of decision scores" '$a ensembles: [{name: e, of: [hog-svm, raw-knn], method: soft}]' \
  "x.yaml:11:28: ensemble 'e' averages probabilities (method: soft), but pipeline 'hog-svm'"
bad_spec "ensemble of one member" '$a ensembles: [{name: e, of: [hog-svm]}]' "x.yaml:11:"
bad_spec "ensemble weights of another length" '$a ensembles: [{name: e, of: [hog-svm, raw-knn], method: hard, weights: [1]}]' \
  "gives 1 weight for 2 members"
bad_spec "ensemble of an ensemble" '$a ensembles: [{name: e, of: [hog-svm, raw-knn], method: hard}, {name: f, of: [e, raw-knn], method: hard}]' \
  "x.yaml:11:77: ensemble 'f' combines 'e', another ensemble"
bad_spec "ensemble named as a pipeline" '$a ensembles: [{name: raw-knn, of: [hog-svm, raw-knn], method: hard}]' "x.yaml:11:20:"
bad_spec "stacking meta-classifier on images" '$a ensembles: [{name: e, of: [hog-svm, raw-knn], method: stacking, meta: cnn}]' \
  "x.yaml:11:71: the meta-classifier learns from the members' scores"
bad_spec "ensemble method misspelt" '$a ensembles: [{name: e, of: [hog-svm, raw-knn], method: stack}]' "x.yaml:11:"
begin "features of an ensemble"; spec x.yaml '$a ensembles: [{name: e, of: [hog-svm, raw-knn], method: hard}]'
                                 expect fail "x.yaml:11:13: 'e' is an ensemble" "$VB" -q features x.yaml --pipeline e -o f.csv
# the filtering and equalising ops (a parameter checked against the images
# or the method names the pipeline too)
prep_spec() { bad_spec "$1" "s/^split:/preprocess: [$2]\\nsplit:/" "$3"; }
prep_spec "denoise median size: 4" '{denoise: {method: median, size: 4}}' \
  "x.yaml:4:47: denoise.size: the median window needs a centre: give an odd size (3 or 5)"
prep_spec "denoise median with sigma_color" '{denoise: {method: median, sigma_color: 0.3}}' \
  "x.yaml:4:54: denoise.sigma_color: applies to method: bilateral only (this is method: median)"
prep_spec "denoise: wiener" '{denoise: wiener}' "x.yaml:4:24: denoise.method: unknown value 'wiener'"
prep_spec "blur: 0" '{blur: 0}' "x.yaml:4:21: blur.sigma = 0 is out of range"
prep_spec "clahe clip: 0" '{equalize: {method: clahe, clip: 0}}' "x.yaml:4:47: equalize.clip = 0 is out of range"
prep_spec "clahe clip: -1" '{equalize: {method: clahe, clip: -1}}' "x.yaml:4:47: equalize.clip = -1 is out of range"
prep_spec "clahe tiles: [0, 4]" '{equalize: {method: clahe, tiles: [0, 4]}}' "x.yaml:4:49: equalize.tiles = 0 is out of range"
prep_spec "equalize tiles without clahe" '{equalize: {tiles: 4}}' \
  "x.yaml:4:33: equalize.tiles: applies to method: clahe only (this is method: global)"
prep_spec "sharpen: -1" '{sharpen: -1}' "x.yaml:4:24: sharpen.amount = -1 is out of range"
# a pipeline's augment block (line 9, under hog-svm's classifier)
aug_spec() { # aug_spec NAME AUGMENT CLASSIFIER NEEDLE (CLASSIFIER '': hog-svm's own)
  local clf='{svm: {C: 10}}'
  [ -n "$3" ] && clf=$3
  bad_spec "$1" "s/^    classifier: {svm: {C: 10}}/    classifier: $clf\\n    augment: $2/" "$4"
}
aug_spec "augment copies: 0" '{flip: true, copies: 0}' '' "x.yaml:9:35: augment.copies = 0 is out of range (1..64)"
aug_spec "augment copies: 65" '{flip: true, copies: 65}' '' "x.yaml:9:35: augment.copies = 65 is out of range (1..64)"
aug_spec "augment without ops" '{copies: 2}' '' "x.yaml:9:14: pipeline 'hog-svm': augment changes nothing"
aug_spec "augment: true" 'true' '' "x.yaml:9:14: 'augment' takes its parameters as a mapping"
aug_spec "augment unknown key" '{flip: true, zoom: 2}' '' "x.yaml:9:27: unknown key 'zoom' in the parameters of 'augment'"
aug_spec "augment rotate: 200" '{rotate: 200}' '' "x.yaml:9:23: augment.rotate = 200 is out of range (0..180)"
aug_spec "augment shift as wide as the images" '{shift: 16}' '' \
  "x.yaml:9:22: augment.shift: a shift of up to 16 pixels can move the 16x16 images"
aug_spec "augment on a cnn" '{flip: true}' '{cnn: {epochs: 1}}' \
  "x.yaml:9:14: pipeline 'hog-svm': cnn augments its own training images"
begin "spec: alias bomb"
{ printf 'a: &a [x, x, x, x, x, x, x, x, x, x]\n'
  for l in b c d e f g h i; do p=$(printf '%s' "$l" | tr 'b-i' 'a-h'); printf '%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n' $l $l $p $p $p $p $p $p $p $p $p $p; done
  printf 'name: *i\n'; } >x.yaml
expect fail "x.yaml:" "$VB" -q run x.yaml
begin "spec: deep nesting";           { printf 'name: bad\nseed: '; head -c 100000 /dev/zero | tr '\0' '['; echo; } >x.yaml
                                      expect fail "x.yaml:2:" "$VB" -q run x.yaml
begin "spec: a billion laughs";      { printf 'a: &a [x, x, x, x, x, x, x, x, x, x]\n'; p=a
                                        for l in b c d e f g h i; do printf '%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n' $l $l $p $p $p $p $p $p $p $p $p $p; p=$l; done
                                        cat s.yaml; } >x.yaml
                                      expect fail "aliases expand to more than 100000 nodes" "$VB" -q run x.yaml
begin "spec: mode: cluster with svm"; sed 's/^seed: 1$/seed: 1\nmode: cluster/' s.yaml >x.yaml; expect fail "does not cluster" "$VB" -q run x.yaml
begin "spec: an unknown mode";        sed 's/^seed: 1$/seed: 1\nmode: regress/' s.yaml >x.yaml; expect fail "x.yaml:3:7: mode must be" "$VB" -q run x.yaml
begin "data: no labels to classify";  mkdir flat && cp d/circle/*.png flat/ && sed 's|^dataset: .*|dataset: {format: folder, path: flat, labels: false}|' s.yaml >x.yaml
                                      expect fail "the dataset has no labels (labels: false)" "$VB" -q run x.yaml
begin "spec: over 4 MB";              { cat s.yaml; head -c 5000000 /dev/zero | tr '\0' '#'; echo; } >x.yaml; expect fail "x.yaml: " "$VB" -q run x.yaml
begin "spec: a 1 MB key";             { cat s.yaml; head -c 1000000 /dev/zero | tr '\0' k; echo ': 1'; } >x.yaml; expect fail "x.yaml:11:1" "$VB" -q run x.yaml
begin "spec: descriptor of unknown format"; printf 'format: tiff\npath: d\n' >dd.yaml; descriptor dd.yaml; expect fail "dd.yaml:1:" "$VB" -q run ds.yaml
begin "spec: descriptor with a syntax error"; printf 'format: folder\npath: [d\n' >dd.yaml; descriptor dd.yaml; expect fail "dd.yaml:" "$VB" -q run ds.yaml
begin "spec: descriptor with an unknown key"; printf 'format: folder\npath: d\nskip_invalid: yes\nlabel: true\n' >dd.yaml; descriptor dd.yaml
                                      expect fail "dd.yaml:4:1" "$VB" -q run ds.yaml
begin "spec: idx without labels";     printf 'format: idx\ntrain_images: i.idx\n' >dd.yaml; descriptor dd.yaml; expect fail "dd.yaml" "$VB" -q run ds.yaml
begin "spec: a UTF-8 BOM (ok)";       { printf '\xef\xbb\xbf'; cat s.yaml; } >x.yaml; expect ok '' "$VB" -q run x.yaml --dry-run
begin "spec: CRLF line ends (ok)";    sed 's/$/\r/' s.yaml >x.yaml; expect ok '' "$VB" -q run x.yaml --dry-run
begin "spec: no final newline (ok)";  printf '%s' "$(cat s.yaml)" >x.yaml; expect ok '' "$VB" -q run x.yaml --dry-run

# ---- data sets --------------------------------------------------------------------------
begin "data: missing folder";         spec x.yaml 's#d/dataset.yaml#{format: folder, path: nowhere}#'; expect fail "nowhere" "$VB" -q run x.yaml
begin "data: a folder without classes"; mkdir no-classes; expect fail "no-classes: no class folders" "$VB" -q dataset info no-classes
begin "data: an empty class";         mkdir d/star; expect fail "d/star" "$VB" -q run s.yaml
begin "data: one class";              rm -r d/square; expect fail "has 1 class" "$VB" -q run s.yaml
begin "data: a zero-byte PNG";        : >d/circle/circle_0003.png; expect fail "d/circle/circle_0003.png" "$VB" -q run s.yaml
begin "data: a truncated PNG";        head -c 60 $PNG >t && mv t d/square/square_0002.png; expect fail "d/square/square_0002.png" "$VB" -q dataset info d
begin "data: a PNG cut mid-IDAT";     head -c $(($(stat -c %s $PNG) - 20)) $PNG >t && mv t d/circle/circle_0001.png
                                      expect fail "d/circle/circle_0001.png" "$VB" -q evaluate m.vbm d
begin "data: PNG signature only";     printf '\x89PNG\r\n\x1a\n' >d/circle/circle_0004.png; expect fail "d/circle/circle_0004.png" "$VB" -q dataset export d --out e
begin "data: PNG of garbage IDAT"
f=d/circle/circle_0002.png; for o in 50 55 60 65 70; do flip $f $o; done
expect fail "$f" "$VB" -q dataset info d
begin "data: PNG 16000x16000";        printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x3e\x80\0\0\x3e\x80\x10\0\0\0\0\0\0\0\0\0\0\0\x08IDAT\x78\x9c\x03\0\0\0\0\x01\0\0\0\0\0\0\0\0IEND\0\0\0\0' >d/circle/big.png
                                      expect fail "d/circle/big.png" "$VB" -q run s.yaml
begin "data: PNG with an empty IDAT"; { printf '\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0\0\0\0\0'; printf '\0\0\0\0IDAT\0\0\0\0\0\0\0\0IEND\0\0\0\0'; } >d/square/idat.png
                                      expect fail "d/square/idat.png" "$VB" -q dataset info d
begin "data: PNG whose IDAT claims 2 GB"; { head -c 33 $PNG; printf '\x78\x00\x00\x1dIDATx^EN'; } >d/square/lie.png
                                      expect fail "d/square/lie.png: truncated PNG: an IDAT chunk claims 2013265949 bytes" "$VB" -q dataset info d
begin "data: a zero-byte JPEG";       : >d/circle/x.jpg; expect fail "d/circle/x.jpg" "$VB" -q run s.yaml
begin "data: a JPEG of garbage";      { printf '\xff\xd8\xff\xe0\0\x10JFIF\0'; head -c 300 /dev/zero | tr '\0' 'Z'; } >d/circle/x.jpg
                                      expect fail "d/circle/x.jpg" "$VB" -q dataset info d
begin "data: a JPEG with a bad DHT";  { printf '\xff\xd8\xff\xc4\x02\x13\x00'; head -c 16 /dev/zero | tr '\0' ' '; head -c 512 /dev/zero; printf '\xff\xd9'; } >d/square/dht.jpg
                                      expect fail "d/square/dht.jpg" "$VB" -q dataset info d
begin "data: a PGM without maxval";   printf 'P5 16 16\n' >d/circle/x.pgm; expect fail "d/circle/x.pgm" "$VB" -q dataset info d
begin "data: a truncated PGM";        { printf 'P5 16 16 255\n'; head -c 100 /dev/zero; } >d/circle/x.pgm; expect fail "d/circle/x.pgm" "$VB" -q run s.yaml
begin "data: a PGM of huge side";     printf 'P5 99999999999 1 255\n' >d/circle/x.pgm; expect fail "d/circle/x.pgm" "$VB" -q dataset info d
begin "data: a PGM with maxval 0";    { printf 'P5 16 16 0\n'; head -c 256 /dev/zero; } >d/circle/x.pgm; expect fail "d/circle/x.pgm" "$VB" -q dataset info d
begin "data: a text file in a class"; echo "not an image" >d/square/notes.txt; expect fail "d/square/notes.txt" "$VB" -q run s.yaml
begin "data: a folder in a class";    mkdir d/circle/sub; expect fail "d/circle/sub" "$VB" -q dataset info d
begin "data: a dangling symlink";     ln -s nowhere.png d/circle/gone.png; expect fail "d/circle/gone.png" "$VB" -q dataset info d
begin "data: a symlink loop";         ln -s .. d/circle/loop; expect fail "d/circle/loop" "$VB" -q dataset info d
begin "data: a FIFO in a class";      mkfifo d/circle/pipe.png; expect fail "d/circle/pipe.png" "$VB" -q dataset info d
if [ ${#AS_USER[@]} -gt 0 ] || [ "$(id -u)" != 0 ]; then
  begin "data: an unreadable image";  chmod 000 d/square/square_0001.png
                                      expect fail "d/square/square_0001.png" "${AS_USER[@]}" "$VB" -q dataset info d
fi
begin "data: sizes vary under hog"
cp rgb/circle/circle_0000.png d/circle/circle_0099.png
expect fail "d/circle/circle_0099.png" "$VB" -q run s.yaml
begin "data: skip_invalid (ok)";      echo junk >d/circle/x.png; printf 'format: folder\npath: d\nskip_invalid: true\n' >dd.yaml
                                      expect ok "d/circle/x.png" "$VB" dataset info dd.yaml
begin "idx: wrong magic";             idx_img 4 2 2 >i.idx; printf '\0\0\x08\x01' | dd of=i.idx conv=notrunc status=none; idx_lab 4 >l.idx; idx_yaml i.idx l.idx
                                      expect fail "i.idx: not an IDX image file" "$VB" -q dataset info idx.yaml
begin "idx: a 3-byte file";           printf '\0\0\x08' >i.idx; idx_lab 4 >l.idx; idx_yaml i.idx l.idx; expect fail "i.idx" "$VB" -q dataset info idx.yaml
begin "idx: the count lies";          idx_img 100 2 2 16 >i.idx; idx_lab 100 >l.idx; idx_yaml i.idx l.idx; expect fail "i.idx: truncated" "$VB" -q dataset info idx.yaml
begin "idx: fewer labels";            idx_img 4 2 2 >i.idx; idx_lab 3 >l.idx; idx_yaml i.idx l.idx; expect fail "l.idx" "$VB" -q dataset info idx.yaml
begin "idx: trailing bytes";          { idx_img 4 2 2; printf 'xyz'; } >i.idx; idx_lab 4 >l.idx; idx_yaml i.idx l.idx; expect fail "i.idx" "$VB" -q dataset info idx.yaml
begin "idx: 0x0 images";              idx_img 4 0 0 >i.idx; idx_lab 4 >l.idx; idx_yaml i.idx l.idx; expect fail "i.idx" "$VB" -q dataset info idx.yaml
begin "idx: 10^8 images claimed";     idx_img 100000000 28 28 8 >i.idx; idx_lab 4 >l.idx; idx_yaml i.idx l.idx; expect fail "i.idx" "$VB" -q dataset info idx.yaml
begin "idx: labels given as images";  idx_img 4 2 2 >i.idx; idx_yaml i.idx i.idx; expect fail "i.idx" "$VB" -q dataset info idx.yaml
begin "idx: a label past the classes"; idx_img 4 2 2 >i.idx; { printf '\0\0\x08\x01'; be32 4; printf '\0\1\0\x09'; } >l.idx
                                      printf 'format: idx\ntrain_images: i.idx\ntrain_labels: l.idx\nclasses: [a, b]\n' >idx.yaml
                                      expect fail "idx.yaml:4:10" "$VB" -q dataset info idx.yaml
begin "idx: gzip of garbage";         { printf '\x1f\x8b\x08\0\0\0\0\0\0\x03'; head -c 200 /dev/zero | tr '\0' 'q'; } >i.idx.gz; idx_lab 4 >l.idx; idx_yaml i.idx.gz l.idx
                                      expect fail "i.idx.gz" "$VB" -q dataset info idx.yaml
begin "idx: a truncated gzip";        idx_img 4 8 8 | gzip -c | head -c 30 >i.idx.gz; idx_lab 4 >l.idx; idx_yaml i.idx.gz l.idx
                                      expect fail "i.idx.gz" "$VB" -q dataset info idx.yaml
begin "idx: a missing label file";    idx_img 4 2 2 >i.idx; idx_yaml i.idx nol.idx; expect fail "nol.idx" "$VB" -q dataset info idx.yaml
begin "idx: in a run";                idx_img 4 2 2 >i.idx; idx_lab 3 >l.idx; idx_yaml i.idx l.idx; descriptor idx.yaml; expect fail "l.idx" "$VB" -q run ds.yaml
begin "cifar: a batch of 3000 bytes"; mkdir cf; head -c 3000 /dev/zero >cf/b.bin; printf 'format: cifar10\npath: cf\ntrain_files: [b.bin]\ntest_files: []\n' >cf.yaml
                                      expect fail "cf/b.bin" "$VB" -q dataset info cf.yaml
begin "cifar: a zero-byte batch";     mkdir cf; : >cf/b.bin; printf 'format: cifar10\npath: cf\ntrain_files: [b.bin]\ntest_files: []\n' >cf.yaml
                                      expect fail "cf/b.bin" "$VB" -q dataset info cf.yaml
begin "cifar: label 200";             mkdir cf; { cifar_rec 1; cifar_rec 200; } >cf/b.bin; printf 'format: cifar10\npath: cf\ntrain_files: [b.bin]\ntest_files: []\n' >cf.yaml
                                      expect fail "cf/b.bin" "$VB" -q dataset info cf.yaml
begin "cifar: a missing batch";       mkdir cf; printf 'format: cifar10\npath: cf\n' >cf.yaml; expect fail "data_batch_1.bin" "$VB" -q dataset info cf.yaml
begin "cifar: one record past 3073";  mkdir cf; { cifar_rec 1; cifar_rec 2; printf 'x'; } >cf/b.bin; printf 'format: cifar10\npath: cf\ntrain_files: [b.bin]\ntest_files: []\n' >cf.yaml
                                      descriptor cf.yaml; expect fail "cf/b.bin" "$VB" -q run ds.yaml
begin "csv: a missing image";         csv_data "d/circle/circle_0000.png,circle\nd/square/nope.png,square\n"; expect fail "nope.png" "$VB" -q dataset info csv.yaml
begin "csv: a line without comma";    csv_data "d/circle/circle_0000.png,circle\nd/square/square_0000.png\n"; expect fail "m.csv:2" "$VB" -q dataset info csv.yaml
begin "csv: an empty manifest";       csv_data ""; expect fail "m.csv" "$VB" -q dataset info csv.yaml
begin "csv: an empty label";          csv_data "d/circle/circle_0000.png,circle\nd/square/square_0000.png,\n"; expect fail "m.csv:2" "$VB" -q dataset info csv.yaml
begin "csv: a row naming a folder";   csv_data "d/circle/circle_0000.png,circle\nd/square,square\n"; expect fail "d/square" "$VB" -q dataset info csv.yaml
begin "csv: a NUL byte";              csv_data "d/circle/circle_0000.png,circle\nd/square/square_0000.png,squ\0are\n"; expect fail "m.csv" "$VB" -q dataset info csv.yaml
begin "csv: an open quote";           csv_data "d/circle/circle_0000.png,circle\n\"d/square/square_0000.png,square\n"; expect fail "m.csv" "$VB" -q dataset info csv.yaml
begin "csv: a missing manifest";      printf 'format: csv\npath: nowhere.csv\n' >csv.yaml; expect fail "nowhere.csv" "$VB" -q dataset info csv.yaml
begin "csv: in evaluate";             csv_data "d/circle/circle_0000.png,circle\nd/square/square_0000.png,triangle\n"; expect fail "triangle" "$VB" -q evaluate m.vbm csv.yaml

# ---- models ---------------------------------------------------------------------------
begin "model: empty";                 : >m.vbm; expect fail "m.vbm" "$VB" -q predict m.vbm $PNG
for cut in 4 16 64 256 $((MODEL_SIZE / 2)) $((MODEL_SIZE - 1)); do
  begin "model: cut to $cut bytes (predict)"; head -c $cut m.vbm >t.vbm; expect fail "t.vbm" "$VB" -q predict t.vbm $PNG
done
for cut in 8 $((MODEL_SIZE / 3)); do
  begin "model: cut to $cut bytes (model info)"; head -c $cut m.vbm >t.vbm; expect fail "t.vbm" "$VB" -q model info t.vbm --json
  begin "model: cut to $cut bytes (evaluate)"; head -c $cut m.vbm >t.vbm; expect fail "t.vbm" "$VB" -q evaluate t.vbm d
done
begin "model: a boost model cut short"; spec x.yaml 's/{svm: {C: 10}}/{boost: {rounds: 4}}/'
                                      "$VB" -q --threads 1 train x.yaml --pipeline hog-svm -o b.vbm >/dev/null && head -c $(($(stat -c %s b.vbm) / 2)) b.vbm >t.vbm && rm b.vbm
                                      expect fail "t.vbm" "$VB" -q predict t.vbm $PNG
begin "model: wrong magic";           printf 'VBMX' | dd of=m.vbm conv=notrunc status=none; expect fail "m.vbm" "$VB" -q predict m.vbm $PNG
for off in 9 100 $((MODEL_SIZE / 2)) $((MODEL_SIZE - 3)); do
  begin "model: byte $off flipped";   flip m.vbm $off; expect fail "m.vbm" "$VB" -q predict m.vbm $PNG
done
begin "model: trailing bytes";        printf 'tail' >>m.vbm; expect fail "m.vbm" "$VB" -q model info m.vbm
begin "model: a folder";              mkdir x.vbm; expect fail "x.vbm: read error: Is a directory" "$VB" -q predict x.vbm $PNG
begin "model: a spec";                expect fail "s.yaml" "$VB" -q model info s.yaml
begin "model: a store";               expect fail "r.db" "$VB" -q predict r.db $PNG
begin "model: other classes";         expect fail "'triangle'" "$VB" -q evaluate m.vbm rgb
begin "model: RGB 20x20 images (ok)"; expect ok '' "$VB" -q predict m.vbm rgb/circle/circle_0000.png
begin "model: an RGB 20x20 data set (ok)"; "$VB" -q dataset synth --out rgb2 --classes 2 --per-class 2 --size 20 --color >/dev/null
                                      expect ok '' "$VB" -q evaluate m.vbm rgb2
begin "predict: a zero-byte image";   : >z.png; expect fail "z.png" "$VB" -q predict m.vbm z.png
begin "predict: a truncated image";   head -c 60 $PNG >z.png; expect fail "z.png" "$VB" -q predict m.vbm z.png
begin "predict: an empty folder";     mkdir empty-dir; expect fail "empty-dir: no images" "$VB" -q predict m.vbm empty-dir
begin "predict: a folder of notes only"; mkdir notes && echo x >notes/a.txt && echo y >notes/b.txt
                                      expect fail "notes: no images to predict (notes/a.txt, like every other file there, is not an image)" "$VB" predict m.vbm notes
begin "predict: a note beside images (ok)"; echo notes >d/circle/README.txt; expect ok "d/circle/README.txt" "$VB" predict m.vbm d/circle
begin "predict: a FIFO beside images (ok)"; mkfifo d/circle/pipe.png; expect ok "d/circle/pipe.png" "$VB" predict m.vbm d/circle

# ---- stores -----------------------------------------------------------------------------
foreign() { sqlite3 f.db 'create table foo(x); insert into foo values (1);'; }
begin "store: results of a foreign SQLite file"; foreign; expect fail "f.db: not a visbench store" "$VB" results f.db
begin "store: run into a foreign SQLite file"; foreign; expect fail "f.db: not a visbench store" "$VB" -q run s.yaml --store f.db
begin "store: run into a foreign SQLite file (not -q)"; foreign; expect fail "f.db: not a visbench store" "$VB" run s.yaml --store f.db
begin "store: report of a foreign SQLite file"; foreign; expect fail "f.db: not a visbench store" "$VB" report f.db
begin "store: results of a text file"; echo junk >j.db; expect fail "j.db: not a visbench store" "$VB" results j.db
begin "store: run into a text file";  echo junk >j.db; expect fail "j.db: not a visbench store" "$VB" -q run s.yaml --store j.db
begin "store: results of an empty file"; : >j.db; expect fail "j.db: not a visbench store" "$VB" results j.db
begin "store: results of a folder";   mkdir j.db; expect fail "j.db: a folder" "$VB" results j.db
begin "store: run into a folder";     mkdir j.db; expect fail "j.db: a folder" "$VB" -q run s.yaml --store j.db
begin "store: report of a folder";    mkdir j.db; expect fail "j.db: a folder" "$VB" report j.db
begin "store: results of a truncated store"; head -c 5000 r.db >t.db; expect fail "t.db" "$VB" results t.db
begin "store: run into a truncated store"; head -c 5000 r.db >t.db; expect fail "t.db" "$VB" -q run s.yaml --store t.db
begin "store: report of a truncated store"; head -c 5000 r.db >t.db; expect fail "t.db" "$VB" report t.db -o t.html
begin "store: results of a newer schema"; sqlite3 r.db "update meta set value = '99' where key = 'schema_version'"; rm -f r.db-wal r.db-shm
                                      expect fail "r.db: written by a newer visbench" "$VB" results r.db
begin "store: run into a newer schema"; sqlite3 r.db "update meta set value = '99' where key = 'schema_version'"; rm -f r.db-wal r.db-shm
                                      expect fail "r.db: written by a newer visbench" "$VB" -q run s.yaml --store r.db
if [ ${#AS_USER[@]} -gt 0 ] || [ "$(id -u)" != 0 ]; then
  readonly_store() { chmod 444 r.db r.split.txt && chmod 555 .; }
  begin "store: results of a read-only store (ok)"; readonly_store; expect ok '' "${AS_USER[@]}" "$VB" results r.db
  begin "store: run into a read-only store"; readonly_store; expect fail "r.db" "${AS_USER[@]}" "$VB" -q run s.yaml --store r.db
  begin "store: report beside a read-only store"; readonly_store; expect fail "r.html" "${AS_USER[@]}" "$VB" report r.db
  chmod -R u+w "$W/c"
fi

# ---- the table ----------------------------------------------------------------------------
printf '%-6s %-13s %-12s %-8s %-6s %-10s %s\n' cases clean-errors expected-ok crashes hangs data-loss unclean
printf '%-6s %-13s %-12s %-8s %-6s %-10s %s\n' $n $n_clean $n_ok $n_crash $n_hang $n_loss $n_unclean
bad=$((n_crash + n_hang + n_loss + n_unclean))
if [ $bad -ne 0 ]; then
  echo
  cat "$W/failures"
  echo "badinput: $bad of $n cases failed (cases in $W/c)" >&2
  exit 1
fi
chmod -R u+w "$W" && rm -rf "$W"
echo "badinput: all $n cases passed"
