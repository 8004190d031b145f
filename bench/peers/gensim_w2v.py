"""gensim Word2Vec skip-gram on tokens.u32 (1,000,000 tokens), 1 and 2 workers.

    python gensim_w2v.py --data DIR [--workers 1,2] [--epochs 5] [--out FILE]

Sentences of 30 words "w<id>" (the last has 10). Parameters of
shared/reference/peers/w2v_w{1,2}_win30_neg10.json: sg=1, vector_size=100,
window=30, negative=10, sample=1e-3, min_count=1, epochs=5, alpha=0.025,
min_alpha=0.0001, ns_exponent=0.75, hs=0, seed=1 (compute_loss off, gensim's
default). The speed is gensim's own "effective words/s": the effective
(post-subsampling) words that `train()` returns divided by the wall time of
`train()` (build_vocab is timed apart). Purity: the share of the 10 nearest
neighbours (cosine, the word itself excluded, as `most_similar`) in the word's
topic id // 400, averaged over the words seen at least 50 times.
"""
import argparse
import logging
import os
import sys

import gensim
import numpy as np
from gensim.models import Word2Vec
from gensim.models.word2vec import FAST_VERSION
from threadpoolctl import threadpool_limits

from common import Timer, env, pools, write


class EpochLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("EPOCH") and "effective words/s" in msg:
            self.lines.append(msg)


def purity(wv, min_count=50, topn=10):
    words = wv.index_to_key
    counts = np.array([wv.get_vecattr(w, "count") for w in words])
    topic = np.array([int(w[1:]) // 400 for w in words])
    v = wv.vectors.astype(np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sel = np.flatnonzero(counts >= min_count)
    total = 0.0
    for lo in range(0, len(sel), 512):
        rows = sel[lo:lo + 512]
        sims = v[rows] @ v.T
        sims[np.arange(len(rows)), rows] = -np.inf
        near = np.argpartition(-sims, topn, axis=1)[:, :topn]
        total += (topic[near] == topic[rows][:, None]).mean(axis=1).sum()
    return total / len(sel), int(len(sel))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    ids = np.fromfile(os.path.join(a.data, "tokens.u32"), dtype="<u4")
    words = [f"w{i}" for i in ids.tolist()]
    sentences = [words[i:i + 30] for i in range(0, len(words), 30)]
    log = EpochLog()
    logging.getLogger("gensim.models.word2vec").addHandler(log)
    logging.getLogger("gensim.models.word2vec").setLevel(logging.INFO)
    params = dict(sg=1, vector_size=100, window=30, negative=10, min_count=1, epochs=a.epochs, sample=1e-3,
                  alpha=0.025, min_alpha=0.0001, ns_exponent=0.75, shrink_windows=True, hs=0, seed=1)
    runs = []
    for workers in [int(w) for w in a.workers.split(",")]:
        log.lines = []
        model = Word2Vec(workers=workers, **params)
        with threadpool_limits(limits=1):
            limited = pools()
            with Timer() as tv:
                model.build_vocab(sentences)
            with Timer() as t:
                effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
        pur, n = purity(model.wv)
        run = {
            "workers": workers,
            "vocab_size": len(model.wv),
            "build_vocab_s": round(tv.s, 3),
            "train_s": round(t.s, 3),
            "train_cpu_s": round(t.cpu, 2),
            "foreign_load": t.foreign_load,
            "raw_words_trained": int(raw),
            "effective_words_trained": int(effective),
            "effective_words_per_s": round(effective / t.s, 1),
            "purity_at_10_count_ge_50": pur,
            "n_words_count_ge_50": n,
            "epoch_log": list(log.lines),
            "load_before": t.load_before, "load_after": t.load_after,
        }
        print(f"gensim workers={workers}: {run['effective_words_per_s']:.0f} effective words/s, "
              f"purity {pur:.4f}", file=sys.stderr, flush=True)
        runs.append(run)
    write(a.out, {
        "peer": "gensim",
        "version": gensim.__version__,
        "FAST_VERSION": FAST_VERSION,
        "env": env(),
        "threadpools_during_fit": limited,
        "tokens": len(words), "sentences": len(sentences),
        "params": params,
        "runs": runs,
    })


if __name__ == "__main__":
    main()
