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
# Then a report that has to scale: 20 cheap pipelines on a 10-class
# dataset. A script injected into a copy of the page measures, at
# 1366x900, the box of every text element of every chart (its getBBox
# through its screen transform, so rotated labels are measured as drawn)
# and of every element of the page, and writes the results into the DOM:
# no two texts of a chart may overlap, none may leave its chart, nothing
# may be wider than the window, the page must stay under 6000 px with the
# folds closed (and the texts must still not overlap with every fold
# open); every pipeline must have a style of its own and the per-class
# charts none of the pipelines' colours; no accuracy axis may run past 1.
# A screenshot of it goes to $BUILD/tmp/browser/report-20.png
# (UPDATE_DOCS=1 copies it to docs/report-20.png).
#
# Usage: VB=path/to/visbench BUILD=build/dir bash tests/e2e/browser.sh
set -u
VB=${VB:?set VB to the visbench binary}
root=$(cd "$(dirname "$0")/../.." && pwd -P)
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
# Its exit status is kept in chrome_rc (124: the timeout, which is generous:
# a first start with a fresh profile takes tens of seconds on a loaded
# 2-core machine).
runs=0 chrome_rc=0
chrome() {
  local url=$1; shift
  runs=$((runs + 1))
  timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
    --user-data-dir="$work/profile$runs" "$@" "$url" 2>>chromium.err
  chrome_rc=$?
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
[ -s dom.html ] && ok || { bad "chromium wrote no DOM (exit $chrome_rc)"; tail -5 chromium.err >&2; }
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

# ---- 20 pipelines x 10 classes: readable, no overlaps, not too long -------------
"$VB" dataset synth --out synth10 --classes 10 --per-class 20 --test-per-class 8 --size 24 --seed 5 >/dev/null 2>&1 \
  && ok || bad "synth (10 classes)"
{
  printf 'name: scale\nseed: 4\ndataset: synth10/dataset.yaml\nsplit: {protocol: kfold, k: 3, official_test: true}\npipelines:\n'
  for f in raw hog6 hog8 lbp; do
    case $f in
      raw) feat='' ;;
      hog*) feat="features: [{hog: {cell: ${f#hog}}}], " ;;
      lbp) feat='features: [{lbp: {cell: 8}}], ' ;;
    esac
    for c in knn1 knn5 logreg linear forest; do
      case $c in
        knn*) clf="{knn: {k: ${c#knn}}}" ;;
        forest) clf='{forest: {n_trees: 8}}' ;;
        *) clf=$c ;;
      esac
      echo "  - {name: $f-$c, ${feat}postprocess: [standardize], classifier: $clf}"
    done
  done
} >spec20.yaml
"$VB" -q run spec20.yaml --store many.db >run20.out 2>run20.err && ok || { bad "run (20 pipelines)"; tail -5 run20.err >&2; }
"$VB" report many.db >/dev/null 2>report20.err && [ -s many.html ] && ok || { bad "report (20 pipelines)"; cat report20.err >&2; }
[ "$(grep -c '^  - {name' spec20.yaml)" = 20 ] && ok || bad "spec20.yaml does not hold 20 pipelines"

# The measuring script: results as attributes of <div id="vb-measure">.
cat >measure.js <<'JS'
(function(){
var out=document.createElement('div');out.id='vb-measure';out.hidden=true;
var vw=document.documentElement.clientWidth,sx=window.scrollX,sy=window.scrollY;
/* the four corners of a text's box on the page */
function quad(t){var b;try{b=t.getBBox();}catch(e){return null;}if(!b.width||!b.height)return null;
 var m=t.getScreenCTM();if(!m)return null;
 return [[b.x,b.y],[b.x+b.width,b.y],[b.x+b.width,b.y+b.height],[b.x,b.y+b.height]].map(function(p){
  return [m.a*p[0]+m.c*p[1]+m.e+sx,m.b*p[0]+m.d*p[1]+m.f+sy];});}
function proj(q,ax){var lo=1e18,hi=-1e18;for(var i=0;i<4;i++){var v=q[i][0]*ax[0]+q[i][1]*ax[1];
 if(v<lo)lo=v;if(v>hi)hi=v;}return [lo,hi];}
/* separating axes: two boxes overlap when no edge normal separates them (by more than -tol) */
function meet(a,b,tol){var qs=[a,b];for(var k=0;k<2;k++)for(var i=0;i<2;i++){var q=qs[k];
 var dx=q[i+1][0]-q[i][0],dy=q[i+1][1]-q[i][1],l=Math.hypot(dx,dy);if(!l)continue;var ax=[-dy/l,dx/l];
 var p=proj(a,ax),r=proj(b,ax);if(Math.min(p[1],r[1])-Math.max(p[0],r[0])<=tol)return false;}return true;}
var svgs=document.querySelectorAll('svg.chart'),texts=0,overlaps=0,outside=0,ov=[],os=[];
for(var s=0;s<svgs.length;s++){var svg=svgs[s],ts=svg.querySelectorAll('text'),qs=[];
 var r=svg.getBoundingClientRect();if(!r.width)continue;
 for(var i=0;i<ts.length;i++){var q=quad(ts[i]);if(!q)continue;q.t=ts[i].textContent;qs.push(q);texts++;
  for(var j=0;j<4;j++){var x=q[j][0]-sx,y=q[j][1]-sy;
   if(x<r.left-1||x>r.right+1||y<r.top-1||y>r.bottom+1){outside++;if(os.length<5)os.push(svg.id+':'+q.t);break;}}}
 for(var i=0;i<qs.length;i++)for(var j=i+1;j<qs.length;j++)if(meet(qs[i],qs[j],0.5)){overlaps++;
  if(ov.length<5)ov.push(svg.id+':['+qs[i].t+'|'+qs[j].t+']');}}
var wide=[],all=document.body.querySelectorAll('*');
for(var i=0;i<all.length;i++){var b=all[i].getBoundingClientRect();
 if((b.width>vw+0.5||b.right>vw+0.5)&&wide.length<5)wide.push(all[i].tagName+(all[i].id?'#'+all[i].id:'')+'='+Math.round(b.right));}
/* styles: distinct (colour, dash) of the macro ROC's lines and (shape, colour) of a scatter's points */
function kinds(id,sel,key){var e=document.getElementById(id),seen={},n=0;if(!e)return -1;
 e.querySelectorAll(sel).forEach(function(x){var k=key(x);if(k&&!seen[k]){seen[k]=1;n++;}});return n;}
var lines=kinds('roc-macro','g.data path',function(x){return x.getAttribute('stroke')+' '+x.getAttribute('stroke-dasharray');});
var marks=kinds('tradeoff-train','g.data > *',function(x){var f=x.getAttribute('fill');
 return f&&f!=='none'?x.tagName+' '+(x.getAttribute('d')||'').replace(/[^MLZ]/g,'').length+' '+f:null;});
var pipe={},shared=[];document.querySelectorAll('#roc-macro g.data path').forEach(function(x){pipe[x.getAttribute('stroke')]=1;});
document.querySelectorAll('svg.chart[id^="roc-"]:not(#roc-macro) g.data path').forEach(function(x){
 var c=x.getAttribute('stroke');if(pipe[c]&&shared.indexOf(c)<0)shared.push(c);});
/* the largest tick of the accuracy axes */
var amax=-1;document.querySelectorAll('#acc g.axis text,#tradeoff-train g.axis text[text-anchor="end"],'+
 '#tradeoff-predict g.axis text[text-anchor="end"]').forEach(function(x){var v=parseFloat(x.textContent);if(v>amax)amax=v;});
var set=function(k,v){out.setAttribute('data-'+k,String(v));};
set('height',document.documentElement.scrollHeight);set('scroll-width',document.documentElement.scrollWidth);
set('viewport',vw);set('texts',texts);set('overlaps',overlaps);set('overlap-text',ov.join(' '));
set('outside',outside);set('outside-text',os.join(' | '));set('wide',wide.join(' '));
set('line-styles',lines);set('point-styles',marks);set('shared-colors',shared.join(' '));set('acc-max',amax);
set('charts',svgs.length);
document.body.appendChild(out);})();
JS
# measure MODE: the page with its folds closed (as it opens) or all open.
measure() {
  sed 's|</body></html>||' many.html >"m-$1.html"
  [ "$1" = open ] && printf '<script>document.querySelectorAll("details").forEach(function(d){d.open=true;});</script>' >>"m-$1.html"
  printf '<script>%s</script></body></html>\n' "$(cat measure.js)" >>"m-$1.html"
  chrome "file://$work/m-$1.html" --hide-scrollbars --window-size=1366,900 --dump-dom >"dom-$1.html"
}
# m MODE NAME: an attribute of vb-measure in that mode's DOM.
m() { grep -o '<div id="vb-measure"[^>]*>' "dom-$1.html" | grep -o " data-$2=\"[^\"]*\"" | sed 's/^[^"]*"//; s/"$//'; }
for mode in closed open; do
  measure $mode
  [ -n "$(m $mode height)" ] && ok || { bad "$mode: the measuring script did not run"; continue; }
  [ "$(m $mode viewport)" = 1366 ] && ok || bad "$mode: viewport $(m $mode viewport) px wide, not 1366"
  [ "$(m $mode overlaps)" = 0 ] && ok || bad "$mode: $(m $mode overlaps) overlapping text pairs: $(m $mode overlap-text)"
  [ "$(m $mode outside)" = 0 ] && ok || bad "$mode: $(m $mode outside) texts leave their chart: $(m $mode outside-text)"
  [ -z "$(m $mode wide)" ] && [ "$(m $mode scroll-width)" -le 1366 ] && ok \
    || bad "$mode: wider than the window ($(m $mode scroll-width) px): $(m $mode wide)"
  echo "browser: 20 pipelines, folds $mode: page $(m $mode height) px, $(m $mode texts) chart texts," \
    "$(m $mode overlaps) overlaps, $(m $mode outside) outside"
done
h=$(m closed height) t_closed=$(m closed texts) t_open=$(m open texts)
[ "${h:-99999}" -lt 6000 ] && ok || bad "the page is ${h:-?} px tall with the folds closed (at most 6000)"
# every chart's texts, those of the 40 confusion matrices and 20 per-class ROC charts too
[ "${t_closed:-0}" -gt 2000 ] && [ "${t_open:-0}" -ge "${t_closed:-0}" ] && ok \
  || bad "too few texts measured: ${t_closed:-?} closed, ${t_open:-?} open"
[ "$(m closed line-styles)" = 20 ] && ok || bad "the macro ROC draws $(m closed line-styles) distinct line styles for 20 pipelines"
[ "$(m closed point-styles)" = 20 ] && ok || bad "the scatter draws $(m closed point-styles) distinct markers for 20 pipelines"
[ -z "$(m closed shared-colors)" ] && ok || bad "per-class ROC charts use pipeline colours: $(m closed shared-colors)"
awk -v a="$(m closed acc-max)" 'BEGIN { exit !(a > 0 && a <= 1) }' && ok || bad "an accuracy axis reaches $(m closed acc-max)"
[ "$(grep -o '<details><summary><span class="pl">' many.html | wc -l)" = 40 ] && ok \
  || bad "expected 40 folds (confusion and per-class ROC of 20 pipelines)"
grep -q '<table class="vs">' many.html && ok || bad "no table of each pipeline against the best"
chrome "file://$work/many.html" --dump-dom >dom20.html
[ "$(grep -o '<div id="vb-check"[^>]*>' dom20.html | grep -o ' data-errors="[^"]*"')" = ' data-errors="0"' ] \
  && [ -z "$(grep -o '<div id="vb-check"[^>]*>' dom20.html | grep -o ' data-empty="[^"]*"' | sed 's/.*="//; s/"//')" ] && ok \
  || bad "the 20-pipeline report has script errors or empty charts"
# The picture: the charts of the page (summary and leaderboard hidden), 1366 wide.
sed 's|</head>|<style>#summary,#leaderboard{display:none}</style></head>|' many.html >shot20.html
chrome "file://$work/shot20.html" --hide-scrollbars --window-size=1366,1500 --screenshot="$work/report-20.png" >/dev/null
if [ -s report-20.png ] && [ "$(head -c 8 report-20.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
   && [ "$(wc -c <report-20.png)" -gt 60000 ]; then
  ok
  [ "${UPDATE_DOCS:-0}" = 1 ] && cp report-20.png "$root/docs/report-20.png" && echo "browser: wrote docs/report-20.png"
else
  bad "no screenshot of the 20-pipeline report"
fi

# ---- mode: cluster: the report of clusterings opens without errors ----------
mkdir -p flat && cp shapes/train/circle/*.png flat/
cat >clu.yaml <<'YAML'
name: clu
mode: cluster
dataset: {format: folder, path: flat, labels: false}
split: {protocol: holdout}
pipelines:
  - {name: km, classifier: {kmeans: {k: 2}}}
  - {name: gm, classifier: {gmm: {k: 3}}}
YAML
"$VB" -q run clu.yaml --store clu.db >/dev/null 2>clu.err && "$VB" report clu.db >/dev/null 2>>clu.err && ok \
  || { bad "mode: cluster run and report"; cat clu.err >&2; }
chrome "file://$work/clu.html" --dump-dom >dom.html
[ "$(attr data-status)" = done ] && [ "$(attr data-errors)" = 0 ] && [ -z "$(attr data-missing)" ] && ok \
  || bad "mode: cluster report: status '$(attr data-status)', errors '$(attr data-errors)', missing '$(attr data-missing)'"
grep -q '<section id="clustering">' dom.html && ! grep -q '<section id="accuracy">' dom.html && ok \
  || bad "mode: cluster report sections"

# ---- multilabel and hierarchical: their sections draw without errors -------
"$VB" dataset synth --multilabel --classes 3 --per-class 40 --size 24 --seed 2 --out mlset >/dev/null 2>&1
"$VB" dataset synth --hierarchy --classes 4 --per-class 20 --size 24 --seed 2 --out hset >/dev/null 2>&1
cat >tml.yaml <<'YAML'
name: tml
dataset: mlset/dataset.yaml
split: {protocol: kfold, k: 2, validation: 0.2}
pipelines:
  - {name: br, features: [{hog: {cell: 8}}], classifier: {br: {base: logreg}}}
  - {name: chain, features: [{hog: {cell: 8}}], classifier: {chain: {base: logreg}}}
YAML
cat >th.yaml <<'YAML'
name: th
dataset: hset/dataset.yaml
split: {protocol: kfold, k: 2}
pipelines:
  - {name: flat, features: [{hog: {cell: 8}}], classifier: logreg}
  - {name: lcpn, features: [{hog: {cell: 8}}], classifier: {hier: {base: logreg}}}
YAML
for t in tml th; do
  "$VB" -q run $t.yaml --store $t.db >/dev/null 2>$t.err && "$VB" report $t.db >/dev/null 2>>$t.err && ok \
    || { bad "$t run and report"; cat $t.err >&2; }
  chrome "file://$work/$t.html" --dump-dom >dom.html
  [ "$(attr data-status)" = done ] && [ "$(attr data-errors)" = 0 ] && [ -z "$(attr data-missing)" ] \
    && [ -z "$(attr data-empty)" ] && ok \
    || bad "$t report: status '$(attr data-status)', errors '$(attr data-errors)', missing '$(attr data-missing)', empty '$(attr data-empty)'"
done
grep -q '<section id="hierarchy">' dom.html && grep -q 'lcm-1-1' dom.html && ok || bad "hierarchy section not drawn"

echo "browser: $pass checks passed, $failures failed"
[ $failures -eq 0 ]
