#!/usr/bin/env python3
"""How often best-of-n_init k-means reaches the best inertia: logsieve against scikit-learn (issue #18, point 6).

Usage: bench/ninit_starts.py [--features numeric|onehot] [--k 4,7,12] [--seeds 1000] [--singles 10000] [--n-init 10]
Run it with a Python that has numpy, pandas, scipy and scikit-learn. Honours CARGO_TARGET_DIR and LOGSIEVE_SHARED.

The matrix is the training half of detection/baseline.py on strato 008: the benign rows, shuffled with
numpy.random.default_rng(0), the first half; features() (8 log1p numerics, plus the one-hot proto/service/conn_state
with --features onehot), z-scored with the population std (a constant column divided by 1).

For each k: scikit-learn KMeans(n_init=1, random_state=s) for s < --singles and KMeans(n_init=n, random_state=s) for
s < --seeds; logsieve fit(n_init=n, random_state=s) for s < --seeds, every run's inertia kept (the example
train/examples/ninit_starts.rs). "Best" is the lowest inertia seen anywhere (all of the above); a fit or run
"reaches" it within 1e-6 relative. Prints single-start success rates, best-of-n rates against 1 - (1 - p)^n, the
count per block of 100 seeds, the dispersion of successful runs per logsieve fit, and a Fisher test of the two
best-of-n rates.
"""
import argparse, os, subprocess, sys, tempfile, warnings
import numpy as np
from scipy.stats import binom, fisher_exact
from sklearn.cluster import KMeans

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.environ.get("LOGSIEVE_SHARED", os.path.join(repo, "..", "shared"))


def matrix(onehot):
    sys.path.insert(0, os.path.join(shared, "detection"))
    from baseline import read, features, CAT

    df, label = read(os.path.join(shared, "data/zeek/strato-labeled/008/conn.log.labeled.gz"))
    ben = (label.str.lower() == "benign").to_numpy()
    bidx = np.flatnonzero(ben)
    np.random.default_rng(0).shuffle(bidx)
    train = bidx[: len(bidx) // 2]
    cats = {c: sorted(df[c].iloc[train].unique()) for c in CAT} if onehot else None
    x = features(df.iloc[train], cats)
    mu, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1
    return (x - mu) / sd


def logsieve(path, d, k, seeds, n_init):
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "logsieve-train", "--example", "ninit_starts"], cwd=repo, check=True)
    exe = os.path.join(target, "release", "examples", "ninit_starts")
    out = subprocess.run([exe, path, str(d), str(k), str(seeds), str(n_init)], check=True, capture_output=True, text=True).stdout
    best, runs = [], []
    for line in out.splitlines():
        p = line.split()
        i, j = p.index("runs"), p.index("idx")
        best.append(float(p[3]))
        runs.append([float(v) for v in p[i + 1 : j]])
    return np.array(best), np.array(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", choices=["numeric", "onehot"], default="numeric")
    ap.add_argument("--k", default="4,7,12")
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=10000)
    ap.add_argument("--n-init", type=int, default=10)
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    z = matrix(a.features == "onehot")
    n = a.n_init
    print(f"matrix {z.shape[0]} x {z.shape[1]} ({a.features}); seeds 0..{a.seeds - 1}, n_init {n}; {a.singles} scikit-learn single starts")
    with tempfile.NamedTemporaryFile(suffix=".f64") as f:
        z.astype("<f8").tofile(f.name)
        for k in map(int, a.k.split(",")):
            sk1 = np.array([KMeans(k, n_init=1, random_state=s, algorithm="lloyd").fit(z).inertia_ for s in range(a.singles)])
            skn = np.array([KMeans(k, n_init=n, random_state=s, algorithm="lloyd").fit(z).inertia_ for s in range(a.seeds)])
            lb, lr = logsieve(f.name, z.shape[1], k, a.seeds, n)
            ref = min(sk1.min(), skn.min(), lr.min())
            hit = lambda v: np.asarray(v) <= ref * (1 + 1e-6)
            p_sk, p_ls = hit(sk1).mean(), hit(lr).mean()
            print(f"k = {k}: best inertia {ref:.6f}")
            print(f"  single start reaches it: scikit-learn {hit(sk1).sum()}/{sk1.size} = {p_sk:.4f}; "
                  f"logsieve (every run of every fit) {hit(lr).sum()}/{lr.size} = {p_ls:.4f}, run 0 only {hit(lr[:, 0]).mean():.4f}")
            print(f"  best-of-{n}: scikit-learn {hit(skn).sum()}/{a.seeds}, logsieve {hit(lb).sum()}/{a.seeds}; "
                  f"1 - (1 - p)^{n} x {a.seeds}: {a.seeds * (1 - (1 - p_sk) ** n):.1f} (scikit-learn p), {a.seeds * (1 - (1 - p_ls) ** n):.1f} (logsieve p)")
            if a.seeds >= 100:
                print(f"  seeds 0..99: scikit-learn {hit(skn[:100]).sum()}/100, logsieve {hit(lb[:100]).sum()}/100; per block of 100 seeds: "
                      f"scikit-learn {hit(skn[: a.seeds // 100 * 100]).reshape(-1, 100).sum(1).tolist()}, "
                      f"logsieve {hit(lb[: a.seeds // 100 * 100]).reshape(-1, 100).sum(1).tolist()}")
                q = (1 - p_ls) ** n
                if q < 0.5:
                    print(f"  with q = (1 - p)^{n} = {q:.4f}: P(>= 4 of 100 seeds fail) = {binom.sf(3, 100, q):.4f}, P(>= 6 fail) = {binom.sf(5, 100, q):.4f}")
            h = hit(lr).sum(1)
            print(f"  successful runs per logsieve fit: variance {h.var(ddof=1):.3f}, binomial {n * p_ls * (1 - p_ls):.3f}; "
                  f"no run successful {(h == 0).mean():.4f}, expected {(1 - p_ls) ** n:.4f}")
            s_ls, s_sk = hit(lb).sum(), hit(skn).sum()
            print(f"  Fisher exact test, best-of-{n} logsieve against scikit-learn: p = {fisher_exact([[s_ls, a.seeds - s_ls], [s_sk, a.seeds - s_sk]])[1]:.3f}")


if __name__ == "__main__":
    main()
