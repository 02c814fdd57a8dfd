"""XGBoost's own Python package (python3-xgboost) as the second peer of
visbench's boost classifier, on the HOG features that bench_classifiers
wrote (DIR/{train,test}_{X,y}.npy), with boost's parameters: 100 rounds,
eta 0.3, depth 6, the hist method with 256 bins, no sampling, lambda 1,
minimum child weight 1, two threads.

Usage: /usr/bin/python3 bench/peers/xgboost_classifiers.py DIR
Prints one line:
  RESULT name=boost train_s=... predict_s=... accuracy=... rss_mb=... n_train=... n_test=...
"""
import sys

import xgboost as xgb

from common import fit_and_report, load_features

if len(sys.argv) != 2:
    sys.exit('usage: xgboost_classifiers.py DIR')
Xtr, ytr, Xte, yte = load_features(sys.argv[1])
m = xgb.XGBClassifier(n_estimators=100, learning_rate=0.3, max_depth=6, tree_method='hist', max_bin=256,
                      subsample=1, colsample_bytree=1, min_child_weight=1, reg_lambda=1, n_jobs=2, random_state=0,
                      verbosity=0)
fit_and_report('boost', m, Xtr, ytr, Xte, yte)
