"""scikit-learn KMeans on blobs_std4_X.f64 (1,000,000 x 8), one thread.

    python sklearn_kmeans.py --data DIR [--runs 5] [--out FILE]

KMeans(n_clusters=8, n_init=1, random_state=0, algorithm="lloyd") as in
shared/reference/peers/kmeans.json; OpenMP and BLAS limited to one thread with
threadpoolctl; the wall time of `fit` is measured `--runs` times.
"""
import argparse
import os

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from common import Timer, env, pools, median, write


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    X = np.fromfile(os.path.join(a.data, "blobs_std4_X.f64"), dtype="<f8").reshape(-1, 8)
    params = dict(n_clusters=8, n_init=1, random_state=0, algorithm="lloyd")
    runs = []
    with threadpool_limits(limits=1):
        limited = pools()
        for _ in range(a.runs):
            km = KMeans(**params)
            with Timer() as t:
                km.fit(X)
            runs.append(t)
    times = [t.s for t in runs]
    write(a.out, {
        "peer": "scikit-learn",
        "version": sklearn.__version__,
        "env": env(),
        "threadpools_during_fit": limited,
        "rows": X.shape[0], "cols": X.shape[1],
        "params": params,
        "threads": 1,
        "runs": a.runs,
        "fit": {
            "s_all": [round(s, 4) for s in times],
            "s_best": round(min(times), 4),
            "s_median": round(median(times), 4),
            "cpu_s_per_run": round(sum(t.cpu for t in runs) / len(runs), 3),
            "foreign_load": round(sum(t.foreign_load * t.s for t in runs) / sum(times), 3),
        },
        "inertia": float(km.inertia_),
        "n_iter": int(km.n_iter_),
        "cluster_sizes": sorted(np.bincount(km.labels_, minlength=8).tolist()),
        "load_before": runs[0].load_before, "load_after": runs[-1].load_after,
    })


if __name__ == "__main__":
    main()
