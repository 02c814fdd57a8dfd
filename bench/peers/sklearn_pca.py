"""make bench-pca: scikit-learn's PCA on the very matrix visbench's
bench_pca fits (a float32 .npy file).

Usage: sklearn_pca.py FILE.npy K SOLVER [REPEAT]
SOLVER: a PCA svd_solver ('auto', 'randomized', 'full', ...). Fits
PCA(n_components=K, svd_solver=SOLVER, random_state=0) REPEAT times (the
best time counts) on the float32 matrix as loaded (PCA keeps float32) and
prints one line:
RESULT solver=... n=... d=... k=... seconds=... evr=... rss_mb=...
evr: explained_variance_ratio_.sum(); rss_mb: this process's peak resident
memory (the matrix, numpy and scikit-learn included). One solver per
process, so that each peak is its own.
"""
import resource
import sys
import time

import numpy as np
from sklearn.decomposition import PCA

path, k, solver = sys.argv[1], int(sys.argv[2]), sys.argv[3]
repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 1
X = np.load(path)
assert X.dtype == np.float32 and X.ndim == 2
best, evr = float("inf"), 0.0
for _ in range(repeat):
    t0 = time.perf_counter()
    p = PCA(n_components=k, svd_solver=solver, random_state=0).fit(X)
    best = min(best, time.perf_counter() - t0)
    evr = float(p.explained_variance_ratio_.sum())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(f"RESULT solver={solver} n={X.shape[0]} d={X.shape[1]} k={k} seconds={best:.4f} evr={evr:.8f} "
      f"rss_mb={rss:.0f}", flush=True)
