#!/usr/bin/env bash
# End-to-end tests of the split protocols group_kfold, repeated holdout and
# loo: `visbench run` with each on a tiny synthetic set (a CSV manifest with
# a session column over the synth images), the split files and stores they
# write, the leaderboard's tests, and the errors a person can meet.
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/protocols.sh
set -u
lib=$(cd "$(dirname "$0")" && pwd)/lib.sh
VB=${VB:?set VB to the visbench binary}
PY=/usr/bin/python3
work=${BUILD:-/tmp}/tmp/e2e-protocols
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$lib"

# q DB SQL: one query's rows, '|'-separated
q() {
  $PY - "$@" <<'PY'
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join(str(x) for x in row))
PY
}

# folds_check SPLIT MANIFEST KIND GROUPED: every fold of kind KIND, each
# image tested by one fold at most (k-fold: exactly one), and with GROUPED
# 1 no session of the manifest on two sides of a fold (validation
# included); prints "ok FOLDS" or the trouble
folds_check() {
  $PY - "$@" <<'PY'
import csv, sys
split, manifest, kind, grouped = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
session = [r["session"] for r in csv.DictReader(open(manifest))]
lines = open(split).read().split("\n")
folds, tested = [], [0] * len(session)
for i, line in enumerate(lines):
    if line.startswith("fold "):
        name, k = line.split()[1:3]
        parts = [[int(x) for x in lines[i + j].split()[1:]] for j in (1, 2, 3)]
        folds.append((name, k, parts))
trouble = []
for name, k, (train, val, test) in folds:
    if k != kind:
        trouble.append("%s is of kind %s" % (name, k))
    for s in test:
        tested[s] += 1
    if grouped:
        sides = [set(session[s] for s in p) for p in (train, val, test)]
        for a in range(3):
            for b in range(a + 1, 3):
                if sides[a] & sides[b]:
                    trouble.append("%s: sessions %s on two sides" % (name, sorted(sides[a] & sides[b])))
# k-fold: every image tested once; loo (train_limit): each kept one once
if kind == "cv" and any(t != 1 for t in tested) or kind == "loo" and (max(tested) != 1 or sum(tested) != len(folds)):
    trouble.append("tested %s times" % sorted(set(tested)))
print("; ".join(trouble) if trouble else "ok %d" % len(folds))
PY
}

# ---- data: 3 classes x 12 images, each class's images in 6 sessions --------
expect_ok "synth" "$VB" dataset synth --out shapes --classes 3 --per-class 12 --size 16 --seed 5
$PY - <<'PY'
import os
rows = ["path,label,session"]
for c in sorted(d for d in os.listdir("shapes") if os.path.isdir("shapes/" + d)):
    for i, f in enumerate(sorted(os.listdir("shapes/" + c))):
        rows.append("shapes/%s/%s,%s,s%d" % (c, f, c, i % 6))
open("groups.csv", "w").write("\n".join(rows) + "\n")
PY
printf 'name: grouped\nformat: csv\npath: groups.csv\ngroup: session\n' >grouped.yaml
expect_ok "dataset info (groups)" "$VB" dataset info grouped.yaml
grep -q '^groups    6 (column session), the largest of 6 images' out.txt && ok || { bad "dataset info: no groups"; cat out.txt >&2; }

pipes='pipelines:
  - {name: raw-knn, classifier: {knn: {k: 1}}}
  - {name: raw-lin, postprocess: [standardize], classifier: {linear: {epochs: 5}}}'
spec() { # spec NAME DATASET SPLIT
  printf 'name: %s\nseed: 2\ndataset: %s\nsplit: %s\n%s\n' "$1" "$2" "$3" "$pipes" >"$1.yaml"
}

# ---- group k-fold ---------------------------------------------------------------
spec gk grouped.yaml "{protocol: group_kfold, k: 3, validation: 0.2}"
expect_ok "run group_kfold" "$VB" run gk.yaml --store gk.db
grep -q '^protocol group_kfold$' gk.split.txt && grep -q '^folds 3$' gk.split.txt && ok || bad "group_kfold: split file header"
r=$(folds_check gk.split.txt groups.csv cv 1)
[ "$r" = "ok 3" ] && ok || bad "group_kfold folds: $r"
[ "$(q gk.db "select protocol from experiments")" = group_kfold ] && ok || bad "group_kfold: experiment protocol"
[ "$(q gk.db "select kind, count(*) from folds group by kind")" = "cv|3" ] && ok || bad "group_kfold: folds table"
[ "$(q gk.db "select count(*) from runs where status = 'done'")" = 6 ] && ok || bad "group_kfold: 6 runs"
grep -q 'CV accuracy' out.txt && grep -q 'corrected resampled t-test across CV folds' out.txt && ok \
  || { bad "group_kfold: leaderboard"; cat out.txt >&2; }

# ---- repeated holdout -------------------------------------------------------
spec rh grouped.yaml "{protocol: holdout, test_fraction: 0.25, repeats: 4}"
expect_ok "run repeated holdout" "$VB" run rh.yaml --store rh.db
r=$(folds_check rh.split.txt groups.csv repeated-holdout 0)
[ "$r" = "ok 4" ] && ok || bad "repeated holdout folds: $r"
[ "$(q rh.db "select group_concat(name) from (select name from folds order by fold_index)")" = \
  "r1-holdout,r2-holdout,r3-holdout,r4-holdout" ] && ok || bad "repeated holdout: fold names"
[ "$(q rh.db "select kind, count(*), min(n_test), max(n_test) from folds group by kind")" = "repeated-holdout|4|9|9" ] \
  && ok || bad "repeated holdout: folds table"
[ "$(grep '^test ' rh.split.txt | sort -u | wc -l)" -eq 4 ] && ok || bad "repeated holdout: the draws are not all different"
grep -q 'CV accuracy' out.txt && grep -q "McNemar on the first draw's test predictions" out.txt \
  && grep -q 'corrected resampled t-test' out.txt && ok || { bad "repeated holdout: leaderboard"; cat out.txt >&2; }
expect_ok "rerun repeated holdout" "$VB" run rh.yaml --store rh2.db
cmp -s rh.split.txt rh2.split.txt && ok || bad "repeated holdout: the same seed gave another split"
sed 's/^seed: 2/seed: 3/' rh.yaml >rh3.yaml
expect_ok "repeated holdout, another seed" "$VB" run rh3.yaml --store rh3.db
cmp -s rh.split.txt rh3.split.txt && bad "repeated holdout: another seed gave the same split" || ok

# ---- leave-one-out ----------------------------------------------------------
spec loo shapes/dataset.yaml "{protocol: loo, train_limit: 12}"
expect_ok "run loo" "$VB" run loo.yaml --store loo.db
r=$(folds_check loo.split.txt groups.csv loo 0)
[ "$r" = "ok 12" ] && ok || bad "loo folds: $r"
[ "$(q loo.db "select kind, count(*), max(n_test), max(n_train) from folds group by kind")" = "loo|12|1|11" ] \
  && ok || bad "loo: folds table"
[ "$(q loo.db "select count(*) from runs where status = 'done'")" = 24 ] && ok || bad "loo: 24 runs"
# one test image a fold: McNemar on the pooled predictions, no t-test
grep -q 'McNemar on the pooled out-of-fold predictions (upper right)$' out.txt && ok \
  || { bad "loo: pairwise tests"; cat out.txt >&2; }
# ... and macro-F1 of the pooled predictions: one ± a row (accuracy's)
[ "$(grep -E '^[12] +raw-' out.txt | grep -o '±' | wc -l)" -eq 2 ] && ok || { bad "loo: pooled macro-F1"; cat out.txt >&2; }
expect_ok "results of the loo store" "$VB" results loo.db --format csv
[ "$(grep -c '^[12],raw-' out.txt)" -eq 2 ] && ok || { bad "loo: results csv"; cat out.txt >&2; }

# ---- errors ---------------------------------------------------------------------
spec plain shapes/dataset.yaml "{protocol: group_kfold, k: 3}"
expect_fail "group_kfold without groups" \
  "plain.yaml:4:19: split.protocol: group_kfold needs a group per image, and dataset 'synth' (shapes/dataset.yaml)" "$VB" run plain.yaml
grep -qF 'add `group: COLUMN` to its descriptor' err.txt && ok || bad "group_kfold without groups: no hint"
spec many grouped.yaml "{protocol: group_kfold, k: 7}"
expect_fail "fewer groups than k" \
  "many.yaml:4:35: split.k: the pool has 6 groups (column 'session'), fewer than the k = 7 folds; lower k to 6" \
  "$VB" run many.yaml
spec big shapes/dataset.yaml "{protocol: loo, max_folds: 20}"
expect_fail "loo above max_folds" \
  "big.yaml:4:35: split.max_folds: leave-one-out would run 36 folds (one per pool image), more than max_folds = 20; use protocol: kfold" \
  "$VB" run big.yaml
spec rep grouped.yaml "{protocol: loo, repeats: 3}"
expect_fail "repeats with loo" "rep.yaml:4:33: split.repeats: only applies to protocol: kfold" "$VB" run rep.yaml
sed 's/,session$/,sesion/; 1s/session/sesion/' groups.csv >typo.csv
printf 'format: csv\npath: typo.csv\ngroup: session\n' >typo-ds.yaml
spec typo typo-ds.yaml "{protocol: group_kfold, k: 3}"
expect_fail "a group column missing in the header" \
  "typo.csv:1: no column 'session' in the header (path, label, sesion); did you mean 'sesion'? (group: at typo-ds.yaml:3:8 names" "$VB" run typo.yaml
sed '5s/,s[0-9]$/,/' groups.csv >empty.csv
printf 'format: csv\npath: empty.csv\ngroup: session\n' >empty-ds.yaml
spec empty empty-ds.yaml "{protocol: group_kfold, k: 3}"
expect_fail "an empty group value" "empty.csv:5: empty group (column 'session') for shapes/circle/" "$VB" run empty.yaml
rm -rf results

echo "e2e protocols: $pass checks passed, $failures failed"
[ $failures -eq 0 ]
