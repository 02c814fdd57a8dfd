"""scikit-learn's counterparts of the visbench classifiers, on the HOG
features that bench_classifiers wrote (DIR/{train,test}_{X,y}.npy).

Usage: /usr/bin/python3 bench/peers/sklearn_classifiers.py DIR [--only a,b] [--svm-train N]
Prints, per classifier:
  RESULT name=knn train_s=... predict_s=... accuracy=... rss_mb=... n_train=... n_test=...
kmeans and gmm are scored like visbench's: each cluster votes its majority
training label. rss_mb is the process's peak so far (cumulative). boost is
HistGradientBoostingClassifier with visbench's boost parameters: as many
iterations (one tree per class each) and the same depth (both count edges
from the root; no leaf-count limit, which would cut depth-6 trees), learning
rate and L2 penalty, 255 bins (its maximum) and no early stopping; its
minimum leaf size stays at its default (20 rows).
"""
import sys
import numpy as np

from common import fit_and_report, load_features

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
Xtr, ytr, Xte, yte = load_features(d)

from sklearn.neighbors import KNeighborsClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
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
    ('boost', lambda: HistGradientBoostingClassifier(max_iter=100, learning_rate=0.3, max_depth=6, max_leaf_nodes=None,
                                                     l2_regularization=1.0, max_bins=255, early_stopping=False,
                                                     random_state=0)),
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
    fit_and_report(name, make(), Xtr[:n], ytr[:n], Xte, yte)
