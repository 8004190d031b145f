#!/usr/bin/env python3
"""The pandas + scikit-learn peer of `logsieve run` (bench/pipeline.sh):
the way the notebooks score a day of conn.log in batch — read the NDJSON
with pandas, the model's features (log1p, z-scored with the model's own
offsets and scales), a scikit-learn KMeans holding the model's centroids
predicts each event's cluster and its distance, and every event is written
back as NDJSON with `cluster`, `distance`, `score` (distance / the model's
threshold) and `anomaly`.

It does less than logsieve per event: no cblof (small clusters measured
toward the bulk), no reasons, no top features, no error records; the
events are re-serialised by pandas, not kept as they came.

Usage: pandas_pipeline.py MODEL.json EVENTS.ndjson OUT.ndjson
(MODEL.json: `logsieve inspect --json MODEL`.)
"""

import json
import sys

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans


def main():
    model_json, events, out_path = sys.argv[1:4]
    m = json.load(open(model_json))["model"]
    spec, fitted = m["spec"], m["fitted"]
    fields = [f["field"] for f in spec["features"]]
    offset = np.array([f["offset"] for f in fitted["features"]])
    scale = np.array([f["scale"] for f in fitted["features"]])
    centroids = np.array([c["centroid"] for c in fitted["clusters"]])
    threshold = float(fitted["cblof"]["threshold"]) if fitted.get("cblof") else None
    # A KMeans whose centres are the model's: fitted on the centroids
    # themselves from those centroids (each its own cluster; nothing moves).
    km = KMeans(n_clusters=len(centroids), init=centroids, n_init=1, max_iter=1).fit(centroids)
    n = 0
    with open(out_path, "w") as out:
        for df in pd.read_json(events, lines=True, chunksize=100_000, dtype=False):
            x = np.log1p(df.reindex(columns=fields).astype(float).fillna(0.0).to_numpy())
            x = (x - offset) / scale
            cluster = km.predict(x)
            distance = km.transform(x)[np.arange(len(x)), cluster]
            df["cluster"] = cluster
            df["distance"] = distance
            if threshold:
                df["score"] = distance / threshold
                df["anomaly"] = df["score"] > 1.0
            text = df.to_json(orient="records", lines=True)
            out.write(text if text.endswith("\n") or not text else text + "\n")
            n += len(df)
    print(f"pandas_pipeline: {n} events", file=sys.stderr)


if __name__ == "__main__":
    main()
