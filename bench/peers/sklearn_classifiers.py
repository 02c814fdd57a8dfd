"""scikit-learn's counterparts of the visbench classifiers, on the HOG
features that bench_classifiers wrote (DIR/{train,test}_{X,y}.npy).

Usage: /usr/bin/python3 bench/peers/sklearn_classifiers.py DIR [--only a,b] [--svm-train N]
Prints, per classifier:
  RESULT name=knn train_s=... predict_s=... accuracy=... rss_mb=... n_train=... n_test=...
kmeans and gmm are scored like visbench's: each cluster votes its majority
training label. rss_mb is the process's peak so far (cumulative).
"""
import resource, sys, time
import numpy as np

d = sys.argv[1]
only = None
svm_train = 10000
args = sys.argv[2:]
while args:
    if args[0] == '--only':
        only = set(args[1].split(',')); args = args[2:]
    elif args[0] == '--svm-train':
        svm_train = int(args[1]); args = args[2:]
    else:
        sys.exit('usage: sklearn_classifiers.py DIR [--only a,b] [--svm-train N]')
Xtr, ytr = np.load(f'{d}/train_X.npy'), np.load(f'{d}/train_y.npy')
Xte, yte = np.load(f'{d}/test_X.npy'), np.load(f'{d}/test_y.npy')

from sklearn.neighbors import KNeighborsClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC, SVC
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture


class Majority:
    """A clustering as a classifier: each cluster -> its majority label."""
    def __init__(self, model):
        self.m = model
    def fit(self, X, y):
        a = self.m.fit(X).predict(X)
        k = a.max() + 1
        self.map = np.array([np.bincount(y[a == c], minlength=10).argmax() if np.any(a == c)
                             else np.bincount(y).argmax() for c in range(k)])
        return self
    def predict(self, X):
        return self.map[self.m.predict(X)]


models = [
    ('knn', lambda: KNeighborsClassifier(5, n_jobs=2)),
    ('forest', lambda: RandomForestClassifier(100, n_jobs=2, random_state=0)),
    # the same criterion and depth (None: grown until pure, as max_depth 0)
    ('tree', lambda: DecisionTreeClassifier(criterion='gini', max_depth=None, random_state=0)),
    ('logreg', lambda: LogisticRegression(C=1, max_iter=100)),
    ('linear', lambda: LinearSVC(C=0.01)),
    ('svm', lambda: SVC(C=10, gamma='scale')),
    ('kmeans', lambda: Majority(KMeans(10, n_init=1, random_state=0))),
    ('gmm', lambda: Majority(GaussianMixture(10, covariance_type='diag', random_state=0))),
]
for name, make in models:
    if only and name not in only:
        continue
    n = min(svm_train, len(ytr)) if name == 'svm' else len(ytr)
    m = make()
    t0 = time.perf_counter()
    m.fit(Xtr[:n], ytr[:n])
    t1 = time.perf_counter()
    p = m.predict(Xte)
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'RESULT name={name} train_s={t1 - t0:.3f} predict_s={t2 - t1:.3f} accuracy={np.mean(p == yte):.4f} '
          f'rss_mb={rss:.0f} n_train={n} n_test={len(yte)}', flush=True)
