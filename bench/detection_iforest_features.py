#!/usr/bin/env python3
"""scikit-learn's IsolationForest (1000 trees) on the detection baseline's
features (base), plus log1p bytes per packet each way (ratio), plus one-hot
`history` (hist), or without `missed_bytes` (nomiss), for max_samples 64,
128, 256; ROC AUC min/mean over random_state 0, 1, 2, in the baseline's
framing. What chose the features and subsample of
pipeline-examples/conn-isolation-forest (docs/detection.md).

    /tmp/venv-det/bin/python bench/detection_iforest_features.py     # ../shared, or $LOGSIEVE_SHARED
"""
import os, sys, warnings
import numpy as np, pandas as pd
warnings.filterwarnings('ignore')
root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
shared = os.environ.get('LOGSIEVE_SHARED', os.path.join(root, '..', 'shared'))
sys.path.insert(0, os.path.join(shared, 'detection'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline import read, features, NUM, CAT  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from detection_alternatives import split  # noqa: E402
SETS = {s: os.path.join(shared, f'data/zeek/strato-labeled/{s}/conn.log.labeled.gz') for s in ['008', '010', '011', '012']}
def num(df, c): return pd.to_numeric(df[c].replace({"-": "0"}), errors="coerce").fillna(0).clip(lower=0).to_numpy()
for name, path in SETS.items():
    df, label = read(path); train, test, y = split(df, label)
    cats = {c: sorted(df[c].iloc[train].unique()) for c in CAT}
    Xtr, Xte = features(df.iloc[train], cats), features(df.iloc[test], cats)
    def ratio(d):
        ob, rb, op, rp = (num(d,c) for c in ["orig_bytes","resp_bytes","orig_pkts","resp_pkts"])
        return np.column_stack([np.log1p(ob/np.maximum(op,1)), np.log1p(rb/np.maximum(rp,1))])
    hcats = {'history': sorted(df['history'].iloc[train].unique())}
    def hist(d): v=d['history'].to_numpy(); return np.column_stack([(v==k).astype(float) for k in hcats['history']])
    variants = {
      'base': (Xtr, Xte),
      'ratio': (np.column_stack([Xtr, ratio(df.iloc[train])]), np.column_stack([Xte, ratio(df.iloc[test])])),
      'hist': (np.column_stack([Xtr, hist(df.iloc[train])]), np.column_stack([Xte, hist(df.iloc[test])])),
      'nomiss': (np.delete(Xtr, 7, 1), np.delete(Xte, 7, 1)),
    }
    out = f'{name} hist_vals={len(hcats["history"])}:'
    for vn, (A, B) in variants.items():
        for ms in [64, 128, 256]:
            a=[roc_auc_score(y, -IsolationForest(n_estimators=1000, max_samples=ms, random_state=s).fit(A).score_samples(B)) for s in range(3)]
            out += f' {vn}/s{ms} {min(a):.4f}/{np.mean(a):.4f}'
    print(out, flush=True)
