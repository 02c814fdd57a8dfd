#!/usr/bin/env bash
# Browser test: a report of a real run, opened in headless Chromium.
#
# A synthetic dataset whose class folder is named like an HTML injection,
# three pipelines on a k-fold split plus the official test part (so every
# chart of a CNN-free report appears), `visbench report`, then Chromium
# runs the page's scripts and dumps the DOM. The page records JavaScript
# errors and counts what each chart draws into <div id="vb-check">; this
# script requires no error, every chart present and non-empty, the hostile
# class name shown as text and never as an element, and a screenshot.
#
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/browser.sh
set -u
VB=${VB:?set VB to the visbench binary}
work=${BUILD:-/tmp}/tmp/browser
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
work=$(pwd -P)
pass=0 failures=0
ok() { pass=$((pass + 1)); }
bad() { failures=$((failures + 1)); echo "FAIL: $*" >&2; }

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROMIUM" ]; then
  echo "browser: chromium is not installed; 'make deps' installs it" >&2
  exit 1
fi

# chrome URL OUTPUT-ARGS...: one headless run with a fresh profile and no
# network of its own (no background requests, no QUIC, no updates).
runs=0
chrome() {
  local url=$1; shift
  runs=$((runs + 1))
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
    --user-data-dir="$work/profile$runs" "$@" "$url" 2>>chromium.err
}

# attr NAME: an attribute of the vb-check element in dom.html.
attr() { grep -o '<div id="vb-check"[^>]*>' dom.html | grep -o " $1=\"[^\"]*\"" | sed 's/^[^"]*"//; s/"$//'; }

hostile='<img src=x onerror=alert(1)>'
escaped='&lt;img src=x onerror=alert(1)&gt;'

# ---- data, run, report ------------------------------------------------------
"$VB" dataset synth --out shapes --classes 3 --per-class 24 --test-per-class 10 --size 24 --seed 11 >/dev/null 2>&1 \
  && ok || bad "synth"
mv shapes/train/square "shapes/train/$hostile" && mv shapes/test/square "shapes/test/$hostile" && ok \
  || bad "rename the class folder"
cat >spec.yaml <<'YAML'
name: browser
seed: 3
dataset: shapes/dataset.yaml
split: {protocol: kfold, k: 3, official_test: true}
pipelines:
  - name: hog-svm
    features: [{hog: {cell: 6}}]
    postprocess: [standardize]
    classifier: {svm: {C: 10, probability: true}}
  - name: raw-linear
    postprocess: [standardize]
    classifier: {svm: {kernel: linear}}
  - name: hog8-svm
    features: [{hog: {cell: 8}}]
    classifier: {svm: {C: 1}}
  - name: cnn
    classifier:
      cnn: {layers: [conv: {filters: 4, size: 3, pad: 1}, relu, maxpool: 2, fc: classes], epochs: 3, batch: 16}
YAML
"$VB" -q run spec.yaml --store store.db >run.out 2>run.err && ok || { bad "run"; cat run.err >&2; }
"$VB" report store.db >report.out 2>report.err && ok || { bad "report"; cat report.err >&2; }
[ "$(cat report.out)" = store.html ] && [ -s store.html ] && ok || bad "report: expected store.html, got '$(cat report.out)'"

# The source: the class name only escaped, nothing to fetch.
grep -qF "$escaped" store.html && ok || bad "source: escaped class name missing"
! grep -q '<img' store.html && ok || bad "source: holds an <img"
! grep -qE '(src|href)="(https?:)?//' store.html && ok || bad "source: refers to something remote"

# ---- Chromium: scripts ran, no error, every chart drawn ----------------------
chrome "file://$work/store.html" --dump-dom >dom.html
[ -s dom.html ] && ok || { bad "chromium wrote no DOM"; tail -5 chromium.err >&2; }
[ "$(attr data-status)" = done ] && ok || bad "self-check did not run (status '$(attr data-status)')"
[ "$(attr data-errors)" = 0 ] && ok || bad "JavaScript errors: $(attr data-errors): $(attr data-error-text)"
[ -z "$(attr data-missing)" ] && ok || bad "charts missing: $(attr data-missing)"
[ -z "$(attr data-empty)" ] && ok || bad "charts that draw nothing: $(attr data-empty)"
expected=$(attr data-expected)
n_expected=$(echo "$expected" | wc -w)
[ "$(attr data-charts)" = "$n_expected" ] && ok || bad "$(attr data-charts) charts in the page, $n_expected expected"
drawn=" $(attr data-drawn) "
for id in acc tradeoff-train tradeoff-predict cm-1-counts cm-1-rows cm-2-counts cm-2-rows cm-3-counts cm-3-rows \
          cm-4-counts cm-4-rows roc-macro roc-1 roc-2 roc-3 roc-4 curve-acc curve-loss; do
  n=$(echo "$drawn" | grep -o " $id=[0-9]*" | cut -d= -f2)
  [ "${n:-0}" -gt 0 ] && ok || bad "chart $id: ${n:-missing} drawn elements"
done
# the accuracy chart: 3 bars, 3 x 3 fold dots, error bars and test diamonds
n=$(echo "$drawn" | grep -o " acc=[0-9]*" | cut -d= -f2)
[ "${n:-0}" -ge 15 ] && ok || bad "accuracy chart draws only ${n:-0} elements"
# The hostile name is text in the DOM, never an element.
! grep -q '<img' dom.html && ok || bad "the DOM holds an <img> element"
[ "$(grep -oF "$escaped" dom.html | wc -l)" -ge 10 ] && ok || bad "the class name is not shown as text"
grep -q '<section id="leaderboard">' dom.html && grep -q 'badge best' dom.html && ok || bad "leaderboard missing"

# ---- the harness itself catches errors and empty charts ---------------------
sed 's|<body>|<body><script>no_such_function();</script>|' store.html >broken.html
chrome "file://$work/broken.html" --dump-dom >dom.html
[ "$(attr data-errors)" = 1 ] && echo "$(attr data-error-text)" | grep -q no_such_function && ok \
  || bad "a script error went unnoticed (errors '$(attr data-errors)')"
sed 's|<g class="data"[^>]*>|&</g><g>|g' store.html >empty.html
chrome "file://$work/empty.html" --dump-dom >dom.html
[ "$(echo "$(attr data-empty)" | wc -w)" = "$n_expected" ] && ok || bad "empty charts went unnoticed: '$(attr data-empty)'"

# ---- a screenshot at a laptop's window size --------------------------------
chrome "file://$work/store.html" --hide-scrollbars --window-size=1366,900 --screenshot="$work/shot.png" >/dev/null
if [ -s shot.png ] && [ "$(head -c 8 shot.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
  size=$(wc -c <shot.png)
  w=$(od -An -tu1 -j16 -N4 shot.png | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  # A blank page compresses to a few kilobytes; text and charts do not.
  [ "$size" -gt 30000 ] && [ "$w" -eq 1366 ] && ok || bad "screenshot looks empty ($size bytes, width $w)"
else
  bad "no PNG screenshot"
fi

echo "browser: $pass checks passed, $failures failed"
[ $failures -eq 0 ]
