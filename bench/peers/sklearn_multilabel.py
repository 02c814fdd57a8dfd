"""make bench-multilabel: scikit-learn's binary relevance on the very
feature matrices visbench trained on (written by `visbench features`).

Usage: sklearn_multilabel.py DIR
DIR holds train.npy, train.labels.npy (n x L uint8), test.npy,
test.labels.npy. Prints one line per method:
RESULT name=... train_s=... predict_s=... micro_f1=... macro_f1=... subset=...
"""
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.multioutput import MultiOutputClassifier
from sklearn.svm import LinearSVC

d = sys.argv[1]
Xtr = np.load(f"{d}/train.npy")
Ytr = np.load(f"{d}/train.labels.npy").astype(np.int64)
Xte = np.load(f"{d}/test.npy")
Yte = np.load(f"{d}/test.labels.npy").astype(np.int64)

methods = [
    # LinearSVC (liblinear): squared hinge, C = 1, its default 1000
    # iterations; visbench's {linear: {loss: squared_hinge}} (SDCA, 20 epochs)
    ("br-linear", lambda: OneVsRestClassifier(LinearSVC(C=1.0, dual=True, max_iter=1000), n_jobs=2)),
    # L2 logistic regression (L-BFGS), C = 1, 100 iterations at most: as
    # visbench's {logreg: {C: 1}} (both defaults)
    ("br-logreg", lambda: MultiOutputClassifier(LogisticRegression(C=1.0, max_iter=100), n_jobs=2)),
]
for name, make in methods:
    clf = make()
    t0 = time.perf_counter()
    clf.fit(Xtr, Ytr)
    t1 = time.perf_counter()
    P = clf.predict(Xte)
    t2 = time.perf_counter()
    print(
        f"RESULT name={name} train_s={t1 - t0:.4f} predict_s={t2 - t1:.4f} "
        f"micro_f1={f1_score(Yte, P, average='micro', zero_division=0):.4f} "
        f"macro_f1={f1_score(Yte, P, average='macro', zero_division=0):.4f} "
        f"subset={accuracy_score(Yte, P):.4f}",
        flush=True,
    )
