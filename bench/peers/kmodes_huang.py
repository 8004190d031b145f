"""kmodes KModes, Huang init, n_init=4, on cat_X.u8 (200,000 x 6).

    python kmodes_huang.py --data DIR [--rows N] [--out FILE]

KModes(n_clusters=15, init="Huang", n_init=4, random_state=0, max_iter=100,
n_jobs=1) as in shared/reference/peers/kmodes_Huang_200000_4.json; one fit
(about 90 s on the full set). `--rows N` uses the first N rows (quick mode).
"""
import argparse
import os

import kmodes
import numpy as np
from kmodes.kmodes import KModes
from threadpoolctl import threadpool_limits

from common import Timer, env, pools, write


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    X = np.fromfile(os.path.join(a.data, "cat_X.u8"), dtype=np.uint8).reshape(-1, 6)
    if a.rows:
        X = X[: a.rows]
    params = dict(n_clusters=15, init="Huang", n_init=4, random_state=0, max_iter=100, n_jobs=1)
    km = KModes(**params)
    with threadpool_limits(limits=1):
        limited = pools()
        with Timer() as t:
            km.fit(X)
    write(a.out, {
        "peer": "kmodes",
        "version": kmodes.__version__,
        "env": env(),
        "threadpools_during_fit": limited,
        "rows": X.shape[0], "cols": X.shape[1],
        "params": params,
        "threads": 1,
        "fit": {"s_all": [round(t.s, 3)], "s_best": round(t.s, 3), "s_median": round(t.s, 3),
                "cpu_s_per_run": round(t.cpu, 2), "foreign_load": t.foreign_load},
        "cost": float(km.cost_),
        "n_iter": int(km.n_iter_),
        "epoch_costs": [float(c) for c in km.epoch_costs_],
        "load_before": t.load_before, "load_after": t.load_after,
    })


if __name__ == "__main__":
    main()
