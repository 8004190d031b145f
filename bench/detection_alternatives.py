#!/usr/bin/env python3
"""The scoring alternatives measured before choosing cblof (issue #18), in
scikit-learn, in the detection baseline's framing (shared/detection): per
feature set (num7: 7 log1p numerics z-scored; all11: the baseline's 8
numerics z-scored + one-hot unscaled; all11z: everything z-scored), per set,
k-means with k in {4, 7, 12} x 2 seeds; ROC AUC min/mean over those 6 fits of:

  dist           distance to the own centroid (the notebooks' scoring)
  cblof          PyOD's CBLOF rule (alpha 0.9, beta 5): small clusters by their distance to the nearest large one
  cblof_r5       the same with "large" = at least 5 % of the rows
  diag_own       per-cluster diagonal scaling (each cluster's own std per feature), own cluster
  diag_min       the same, nearest cluster under that scaling
  bulk_diag      the same, nearest large cluster
  gmm            -log-likelihood of a diagonal Gaussian mixture of k components

    python3 -m venv /tmp/venv-det && /tmp/venv-det/bin/pip install numpy pandas scikit-learn
    /tmp/venv-det/bin/python bench/detection_alternatives.py     # ../shared, or $LOGSIEVE_SHARED

Exploratory: it informed the choice (docs/detection.md), no test depends on it.
"""
import os, sys, warnings
import numpy as np, pandas as pd
warnings.filterwarnings('ignore')
root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
shared = os.environ.get('LOGSIEVE_SHARED', os.path.join(root, '..', 'shared'))
sys.path.insert(0, os.path.join(shared, 'detection'))
from baseline import read, features, NUM, CAT  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
SETS = {s: os.path.join(shared, f'data/zeek/strato-labeled/{s}/conn.log.labeled.gz') for s in ['008', '010', '011', '012']}
def split(df, label):
    mal = (label.str.lower().str.startswith("malicious")).to_numpy()
    ben = (label.str.lower() == "benign").to_numpy()
    rng = np.random.default_rng(0)
    bidx = np.flatnonzero(ben); rng.shuffle(bidx)
    train, test_b = bidx[: len(bidx) // 2], bidx[len(bidx) // 2:]
    test = np.concatenate([test_b, np.flatnonzero(mal)])
    y = np.concatenate([np.zeros(len(test_b)), np.ones(mal.sum())])
    return train, test, y
def large_rule(sizes, alpha=0.9, beta=5.0):
    k=len(sizes); order=np.argsort(-sizes, kind='stable'); n=sizes.sum()
    A=[i for i in range(1,k) if sizes[order[:i]].sum()>=n*alpha]
    B=[i for i in range(1,k) if sizes[order[i]]==0 or sizes[order[i-1]]/sizes[order[i]]>=beta]
    I=sorted(set(A)&set(B)); cut = I[0] if I else (A[0] if A else (B[0] if B else k))
    L=np.zeros(k,bool); L[order[:cut]]=True; return L
def scores(Ztr, Zte, k, seed):
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(Ztr)
    C = km.cluster_centers_; lab = km.labels_; sizes = np.bincount(lab, minlength=k)
    D = np.sqrt(((Zte[:,None,:]-C[None])**2).sum(-1)); own = D.argmin(1); d = D.min(1)
    out = {'dist': d}
    L = large_rule(sizes); out['cblof'] = np.where(L[own], d, D[:, L].min(1))
    Lr = sizes/ sizes.sum() >= 0.05; Lr[np.argmax(sizes)] = True
    out['cblof_r5'] = np.where(Lr[own], d, D[:, Lr].min(1))
    # per-cluster diag sigma, floor at 0.05 (in z units), small clusters (<10 rows) use global 1
    S = np.ones_like(C)
    for c in range(k):
        m = lab == c
        if m.sum() >= 10: S[c] = np.maximum(Ztr[m].std(0), 0.05)
    M = np.sqrt((((Zte[:,None,:]-C[None])/S[None])**2).sum(-1))
    out['diag_own'] = M[np.arange(len(Zte)), own]
    out['diag_min'] = M.min(1)
    out['bulk_diag'] = M[:, L].min(1)
    out['bulk_eucl_own'] = np.where(L[own], d, D[:, L].min(1))
    gm = GaussianMixture(n_components=k, covariance_type='diag', random_state=seed, reg_covar=1e-3).fit(Ztr)
    out['gmm'] = -gm.score_samples(Zte)
    return out
def main():
    for feat in ['num7', 'all11', 'all11z']:
      for name, path in SETS.items():
        df, label = read(path); train, test, y = split(df, label)
        cats = {c: sorted(df[c].iloc[train].unique()) for c in CAT}
        if feat == 'num7':
            cols = ["duration","orig_bytes","resp_bytes","orig_pkts","resp_pkts","orig_ip_bytes","resp_ip_bytes"]
            f = lambda d: np.column_stack([np.log1p(pd.to_numeric(d[c].replace({"-":"0"}),errors="coerce").fillna(0).clip(lower=0)) for c in cols])
            Xtr, Xte = f(df.iloc[train]), f(df.iloc[test])
        else:
            Xtr, Xte = features(df.iloc[train], cats), features(df.iloc[test], cats)
        nz = 7 if feat=='num7' else (8 if feat=='all11' else Xtr.shape[1])
        mu, sd = Xtr.mean(0), Xtr.std(0); sd[sd==0]=1
        mu[nz:]=0; sd[nz:]=1
        Ztr, Zte = (Xtr-mu)/sd, (Xte-mu)/sd
        res = {}
        for k in [4, 7, 12]:
            for seed in range(2):
                for m, s in scores(Ztr, Zte, k, seed).items():
                    res.setdefault(m, []).append(roc_auc_score(y, s))
        print(feat, name, ' '.join(f'{m}={np.min(v):.3f}/{np.mean(v):.3f}' for m, v in res.items()), flush=True)


if __name__ == '__main__':
    main()
