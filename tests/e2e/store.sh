#!/usr/bin/env bash
# End-to-end tests of the results store: resume after kill -9, processes
# sharing one store, what the store records. A few seconds.
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/store.sh
set -u
lib=$(cd "$(dirname "$0")" && pwd)/lib.sh
VB=${VB:?set VB to the visbench binary}
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
work=${BUILD:-/tmp}/tmp/e2e-store
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$lib"
# q DB SQL: one query, waiting for writers instead of failing
q() { sqlite3 -cmd '.timeout 10000' "$@"; }

"$VB" -q dataset synth --out shapes --classes 3 --per-class 40 --size 24 --seed 5 >/dev/null || exit 1
cat >long.yaml <<'YAML'
name: long
seed: 4
dataset: shapes/dataset.yaml
split: {protocol: kfold, k: 4}
pipelines:
  - {name: h4, features: [{hog: {cell: 4}}], postprocess: [standardize], classifier: {svm: {probability: true}}}
  - {name: h6, features: [{hog: {cell: 6}}], postprocess: [standardize], classifier: {svm: {probability: true}}}
  - {name: h8, features: [{hog: {cell: 8}}], postprocess: [standardize], classifier: {svm: {probability: true}}}
  - {name: raw, postprocess: [standardize], classifier: {svm: {probability: true}}}
YAML
expect_ok "uninterrupted" "$VB" -q --threads 2 run long.yaml --store full.db
"$VB" results full.db --predictions >full.csv
[ "$(q full.db "select count(*) from runs where status = 'done'")" = 16 ] && ok || bad "uninterrupted: 16 runs"

# ---- provenance: each run keeps its own ---------------------------------------
prov="select id, started, finished, threads, host, visbench_version, compiler, cpu from runs order by id"
q full.db "$prov" >prov1.txt
q full.db "select * from experiments" >exp1.txt
[ "$(q full.db "select count(*) from runs where threads = 2 and host is not null and started <= finished
                and visbench_version is not null and compiler is not null and cpu is not null")" = 16 ] && ok \
  || { bad "provenance: runs lack their thread count, host, version or times"; cat prov1.txt >&2; }
# a rerun with another thread count keeps every run, so it changes nothing
expect_ok "rerun with --threads 1" "$VB" --threads 1 run long.yaml --store full.db
grep -q '16 runs finished earlier and kept' err.txt && ok || { bad "rerun: runs not kept"; cat err.txt >&2; }
q full.db "$prov" >prov2.txt
cmp -s prov1.txt prov2.txt && ok || { bad "rerun: the kept runs' provenance changed"; diff prov1.txt prov2.txt >&2; }
q full.db "select * from experiments" >exp2.txt
cmp -s exp1.txt exp2.txt && ok || { bad "rerun: the experiment row changed"; diff exp1.txt exp2.txt >&2; }
for fmt in text md; do
  "$VB" results full.db --format $fmt >res.txt
  grep -q 'threads 2;' res.txt && ! grep -q 'threads 1' res.txt && ok || { bad "results $fmt: not the runs' threads"; head -3 res.txt >&2; }
done
"$VB" results full.db --format json | grep -q '"threads": \[2\], "started": "'"$(q full.db 'select min(started) from runs')"'"' \
  && ok || bad "results json: the runs' threads and first start"

# ---- kill -9 in the middle of a run, then two processes resume --------------
"$VB" -q --threads 2 run long.yaml --store killed.db >/dev/null 2>&1 &
pid=$!
# Kill it while it holds a claim, once at least one run is done.
# (No time limit that a loaded machine could miss: poll while it runs, up to 10 minutes.)
deadline=$((SECONDS + 600))
# Checked again once stopped: between two runs it holds no claim.
claimed() {
  [ "$(q killed.db "select (select count(*) from runs where status = 'done') >= 1 and
                   (select count(*) from runs where status = 'running' and owner like '%:$pid:%') = 1" 2>/dev/null)" = 1 ]
}
while kill -0 $pid 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  if claimed; then
    kill -STOP $pid
    claimed && break
    kill -CONT $pid
  fi
  sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
n=$(q killed.db "select count(*) from runs where status = 'done'")
[ "$n" -ge 1 ] && [ "$n" -lt 16 ] && ok || bad "kill -9: expected a partial store, found $n done runs"
[ "$(q killed.db "select count(*) from runs where status = 'running' and owner like '%:$pid:%'")" = 1 ] && ok \
  || bad "kill -9: the killed process held no claim"
[ "$(q killed.db 'pragma integrity_check')" = ok ] && ok || bad "kill -9: integrity check"
q killed.db "select id, pipeline, fold, finished from runs where status = 'done' order by id" >kept.txt
# two processes at once finish the work: each remaining run computed once
"$VB" --threads 2 run long.yaml --store killed.db --json >r1.out 2>r1.err &
p1=$!
"$VB" --threads 2 run long.yaml --store killed.db --json >r2.out 2>r2.err &
p2=$!
wait $p1 && wait $p2 && ok || { bad "resume failed"; cat r1.err r2.err >&2; }
[ "$(cat r1.out r2.out | grep -c '"kept": false}')" -eq $((16 - n)) ] && ok \
  || bad "resume: computed $(cat r1.out r2.out | grep -c '"kept": false}') runs, expected $((16 - n))"
[ "$(q killed.db "select count(*) from runs where status = 'done'")" = 16 ] && ok || bad "resume: 16 runs done"
[ "$(q killed.db "select count(*) from runs where status <> 'done' or owner is not null")" = 0 ] && ok \
  || bad "resume: a claim is left (the dead process's was not taken back?)"
q killed.db "select id, pipeline, fold, finished from runs where status = 'done' and id in
             ($(cut -d'|' -f1 kept.txt | paste -sd,)) order by id" >kept2.txt
cmp -s kept.txt kept2.txt && ok || { bad "resume: the runs done before the kill changed"; diff kept.txt kept2.txt >&2; }
"$VB" results killed.db --predictions >killed.csv
cmp -s full.csv killed.csv && ok || bad "resume: results differ from the uninterrupted run"
[ "$(q killed.db 'pragma integrity_check')" = ok ] && ok || bad "resume: integrity check"

# ---- a process waits for another's runs, and takes them over when it dies ---
"$VB" -q --threads 2 run long.yaml --store takeover.db >/dev/null 2>&1 &
pa=$!
# Stop it while it holds a claim (checked after the stop: between two runs
# it holds none), so that the other process must wait for that run.
holds() { [ "$(q takeover.db "select count(*) from runs where status = 'running' and owner like '%:$pa:%'" 2>/dev/null)" = 1 ]; }
deadline=$((SECONDS + 600))
while kill -0 $pa 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  if holds; then
    kill -STOP $pa
    # and not stopped inside a write transaction, which would lock the other out
    holds && sqlite3 -cmd '.timeout 200' takeover.db 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1 && break
    kill -CONT $pa
  fi
  sleep 0.01
done
"$VB" --threads 2 run long.yaml --store takeover.db --json >tb.out 2>tb.err &
pb=$!
deadline=$((SECONDS + 600)) # the other fifteen runs first, however long a loaded machine takes
while kill -0 $pb 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  grep -q 'waiting for 1 run that another visbench process is doing' tb.err 2>/dev/null && break
  sleep 0.05
done
grep -q 'waiting for 1 run that another visbench process is doing' tb.err && ok || { bad "takeover: the second process did not wait"; cat tb.err >&2; }
kill -9 $pa
wait $pa 2>/dev/null
wait $pb && ok || { bad "takeover: the waiting process failed"; cat tb.err >&2; }
[ "$(q takeover.db "select count(*) from runs where status = 'done' and owner is null")" = 16 ] && ok \
  || bad "takeover: not every run done once the holder died"
"$VB" results takeover.db --predictions >takeover.csv
cmp -s full.csv takeover.csv && ok || bad "takeover: results differ from the uninterrupted run"

# ---- two processes on a new store share the work and lose nothing ----------
"$VB" -q --threads 2 run long.yaml --store both.db --json >a.out 2>a.err &
p1=$!
"$VB" -q --threads 2 run long.yaml --store both.db --json >b.out 2>b.err &
p2=$!
wait $p1 && wait $p2 && ok || { bad "concurrent runs failed"; cat a.err b.err >&2; }
[ "$(cat a.out b.out | grep -c '"kept": false}')" -eq 16 ] && ok || bad "concurrent: a run was computed twice or not at all"
[ "$(q both.db "select count(*) from runs where status = 'done'")" = 16 ] && ok || bad "concurrent: 16 runs"
"$VB" results both.db --predictions >both.csv
cmp -s full.csv both.csv && ok || bad "concurrent: results differ from the uninterrupted run"
[ "$(q both.db 'pragma integrity_check')" = ok ] && ok || bad "concurrent: integrity check"

# ---- folds as data ------------------------------------------------------------
[ "$(q full.db "select group_concat(kind || ':' || ifnull(repeat, '-') || ':' || number, ' ') from folds")" \
  = "cv:-:1 cv:-:2 cv:-:3 cv:-:4" ] && ok || bad "folds: kind, repeat, number"
[ "$(q full.db "select pool from experiments")" = train ] && ok || bad "experiments: pool train"
"$VB" dataset synth --out parts --classes 3 --per-class 12 --test-per-class 4 --size 16 --seed 5 >/dev/null 2>&1
one_pipeline() { # one_pipeline FILE SPLIT: long.yaml's raw pipeline on the parts dataset
  sed -e "s#dataset: shapes/dataset.yaml#dataset: parts/dataset.yaml#; s#split: {protocol: kfold, k: 4}#split: $2#" \
      -e '/name: h[468],/d' long.yaml >"$1"
}
one_pipeline rep.yaml "{protocol: kfold, k: 2, repeats: 2, official_test: true}"
expect_ok "repeated kfold" "$VB" -q run rep.yaml --store rep.db
[ "$(q rep.db "select group_concat(kind || ':' || ifnull(repeat, '-') || ':' || ifnull(number, '-'), ' ') from folds")" \
  = "repeat:1:1 repeat:1:2 repeat:2:1 repeat:2:2 official-test:-:-" ] && ok \
  || { bad "folds: repeats and the official test"; q rep.db "select * from folds" >&2; }
one_pipeline all.yaml "{protocol: holdout, pool: all}"
expect_ok "holdout of all" "$VB" -q run all.yaml --store all.db
[ "$(q all.db "select pool || ' ' || (select kind || ':' || ifnull(number, '-') from folds) from experiments")" \
  = "all holdout:-" ] && ok || bad "experiments: pool all, a holdout fold"

# ---- every prediction links to its sample's source ------------------------------
[ "$(q full.db "select count(*) from predictions p join runs r on r.id = p.run_id
                join samples s on s.experiment_id = r.experiment_id and s.sample = p.sample
                join classes c on c.experiment_id = r.experiment_id and c.class = p.true_class
                where s.file like '$PWD/shapes/' || c.name || '/%.png' and s.item is null")" \
  = "$(q full.db "select count(*) from predictions")" ] && ok || bad "samples: predictions without their image file"
f=$(q full.db "select s.file from predictions p join samples s on s.sample = p.sample limit 1")
[ -f "$f" ] && ok || bad "samples: $f is not a file"
# IDX: the file and the record within it; train and official test part
idx_images() { # idx_images N: N 2x2 images
  printf '\x00\x00\x08\x03\x00\x00\x00'; printf "\\x$(printf %02x "$1")"; printf '\x00\x00\x00\x02\x00\x00\x00\x02'
  for i in $(seq 1 "$1"); do printf "\\x$(printf %02x $((i % 2 * 200)))\\x10\\x$(printf %02x $((i * 7)))\\x20"; done
}
idx_labels() { # idx_labels N: alternating 1, 0
  printf '\x00\x00\x08\x01\x00\x00\x00'; printf "\\x$(printf %02x "$1")"
  for i in $(seq 1 "$1"); do printf "\\x$(printf %02x $((i % 2)))"; done
}
mkdir -p idx && idx_images 12 | gzip -c >idx/train-images.gz && idx_labels 12 >idx/train-labels \
  && idx_images 6 >idx/test-images && idx_labels 6 >idx/test-labels
cat >idx/d.yaml <<'YAML'
format: idx
train_images: train-images.gz
train_labels: train-labels
test_images: test-images
test_labels: test-labels
YAML
cat >idx.yaml <<'YAML'
name: idx
seed: 1
dataset: idx/d.yaml
split: {protocol: official-test}
pipelines:
  - {name: knn, classifier: {knn: {k: 1}}}
YAML
expect_ok "idx run" "$VB" -q run idx.yaml --store idx.db
[ "$(q idx.db "select group_concat(part || ':' || substr(file, length('$PWD/idx/') + 1) || ':' || item, ' ')
               from (select * from samples order by sample)")" \
  = "$(for i in $(seq 0 11); do printf 'train:train-images.gz:%d ' $i; done; for i in $(seq 0 5); do printf 'test:test-images:%d ' $i; done | sed 's/ $//')" ] \
  && ok || { bad "samples: IDX file and record"; q idx.db "select * from samples" >&2; }
[ "$(q idx.db "select count(*) from predictions p join samples s on s.sample = p.sample where s.part = 'test'")" = 6 ] \
  && ok || bad "samples: the test predictions are the official test part"

# ---- the store's table of contents --------------------------------------------
cp full.db multi.db && rm -f multi.db-wal multi.db-shm
expect_ok "second experiment" "$VB" -q run idx.yaml --store multi.db
expect_ok "results --experiments" "$VB" results multi.db --experiments
[ "$(wc -l <out.txt)" = 3 ] && grep -q '^1 *long  *synth  *kfold  *[0-9a-f]\{16\}  *16  *16  *0  *20' out.txt \
  && grep -q '^2 *idx  *idx  *official-test  *[0-9a-f]\{16\}  *1  *1  *0  *20' out.txt && ok \
  || { bad "results --experiments"; cat out.txt >&2; }
"$VB" results multi.db --experiments --format csv >out.txt
head -1 out.txt | grep -q '^id,name,dataset,protocol,split_hash,runs,done,failed,created,updated$' \
  && grep -q '^2,idx,idx,official-test,' out.txt && ok || { bad "results --experiments csv"; cat out.txt >&2; }
json=$("$VB" results multi.db --experiments --format json)
[ "$(sqlite3 :memory: "select json_array_length('$json') || ' ' || json_extract('$json', '\$[1].done')")" = "2 1" ] \
  && ok || bad "results --experiments json: $json"
"$VB" results multi.db --experiments --predictions >out.txt 2>err.txt
[ $? -eq 2 ] && grep -q 'it takes no --predictions' err.txt && ok || bad "results --experiments --predictions"

# ---- the README's example queries run, and find rows ---------------------------
sed -e 's#^name: quickstart#name: quickstart#; s#dataset: ../datasets/fashion-mnist.yaml#dataset: parts/dataset.yaml#' \
    -e 's#train_limit: 10000#train_limit: 30#; s#cell: 4, #cell: 8, #' "$ROOT/pipelines/quickstart.yaml" >quick.yaml
expect_ok "quickstart on small data" "$VB" -q run quick.yaml --store quick.db
sed -n '/^```sql$/,/^```$/p' "$ROOT/README.md" | grep -v '^```' >readme.sql
nq=0
while IFS= read -r -d ';' query; do
  [ -n "$(echo "$query" | tr -d '[:space:]')" ] || continue
  nq=$((nq + 1))
  rows=$(printf "%s;\n" "$query" | sqlite3 -bail quick.db 2>&1)
  [ $? -eq 0 ] && [ -n "$rows" ] && ! echo "$rows" | grep -q '^Error' && ok \
    || { bad "README query $nq gives no rows or fails:"; echo "$query" >&2; echo "$rows" >&2; }
done <readme.sql
[ $nq -ge 5 ] && ok || bad "README: found $nq queries"

# ---- JSON columns: every classifier's parameters and facts -----------------
cat >kinds.yaml <<'YAML'
name: kinds
seed: 2
dataset: shapes/dataset.yaml
split: {protocol: holdout, test_fraction: 0.25}
pipelines:
  - {name: svm, classifier: {svm: {gamma: scale}}}
  - {name: linear, classifier: linear}
  - {name: knn, classifier: {knn: {k: 3}}}
  - {name: forest, classifier: {forest: {n_trees: 5}}}
  - {name: logreg, classifier: logreg}
  - {name: kmeans, classifier: kmeans}
  - {name: gmm, features: [{hog: {cell: 8}}], classifier: gmm}
  - name: cnn
    classifier: {cnn: {layers: [conv: {filters: 2, size: 3, pad: 1}, relu, maxpool: 2, fc: classes], epochs: 1}}
YAML
expect_ok "every classifier" "$VB" -q run kinds.yaml --store kinds.db
[ "$(q kinds.db "select count(*) from runs where status = 'done'")" = 8 ] && ok || bad "kinds: 8 runs done"
bad_json=$(q kinds.db "select pipeline from runs where not json_valid(params) or json_type(params) <> 'object'
                       or not json_valid(coalesce(model_info, '{}')) or json_type(coalesce(model_info, '{}')) <> 'object'")
[ -z "$bad_json" ] && ok || bad "JSON columns: not JSON objects for $bad_json"
[ "$(q kinds.db "select params ->> 'n_trees' from runs where pipeline = 'forest'")" = 5 ] && ok || bad "json: forest n_trees"
[ "$(q kinds.db "select params ->> 'gamma' from runs where pipeline = 'svm'")" = scale ] && ok || bad "json: svm gamma"
[ "$(q kinds.db "select params -> 'layers' ->> '[0].conv.filters' from runs where pipeline = 'cnn'")" = 2 ] && ok \
  || bad "json: cnn layers"
[ "$(q kinds.db "select count(*) from runs where model_info is not null")" -ge 4 ] && ok || bad "json: few classifiers give facts"

echo "e2e store: $pass checks passed, $failures failed"
[ $failures -eq 0 ]
