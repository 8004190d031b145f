"""Distributed training of a k-means model, written as a normal logsieve artifact.

    result = train(spark, "model.toml", events_df, out="conn.model.msgpack", logsieve="target/release/logsieve")

What the native trainer does (host/src/commands/train.rs, train/src/model.rs),
step by step, with Spark doing the work and the component doing everything
that touches an event, so there is no train/serve skew:

1. **Features, through the component.** A spec-only artifact (`logsieve
   assemble --spec`, no state) goes to every worker; the events go through
   the component's `extract-batch` in batches of 1000 — the code that will
   score them. Events it refuses and the reader's errors are skipped and
   counted by reason (`training.skipped`); events left out by `[[where]]`
   are counted apart, as the CLI does.
2. **Scalers and vocabularies, aggregated by Spark** (`fit_feature_states`):
   numeric — the fill value (0, or under `missing = "mean"` the mean of the
   present values), then over the filled column z-score `(mean, std)` with
   the population std (ddof = 0), or min-max `(min, max - min)`, or none
   `(0, 1)`; a zero or non-finite scale becomes 1. Categorical — the
   distinct values, a missing value counting as "missing", sorted by code
   point (= the Rust trainer's byte order).
3. **Encoding, by the component** (`encode_events`): a provisional artifact
   holds the fitted scalers and vocabularies (`logsieve assemble --state`,
   with placeholder clusters: zero centroids, threshold 1, all rows in the
   first); the workers send the events through its `encode-lines`, which
   gives the vectors the model measures distances on (scaled, one-hot
   expanded), exactly as scoring will encode them.
4. **k-means by Spark MLlib** (`pyspark.ml.clustering.KMeans`, k-means||
   initialisation): k = `n_clusters`, `maxIter` = `max_iter`, seeds
   `random_state + i` for `i < n_init` — Spark has no n_init, so each start
   is its own fit and the lowest training cost wins, as scikit-learn's
   n_init does. Spark stops when every centre moves less than `tol`; it is
   given sqrt(spec tol × mean column variance / k), so that the total squared
   shift is below scikit-learn's (and the native trainer's) bound
   `tol × mean variance`.
5. **A second distributed pass, scored by the component** (`assign_events`):
   a provisional artifact with MLlib's centroids (placeholder thresholds)
   goes to the workers, and each event's nearest cluster and its distance
   are read from the `verdict` its `score-lines` gives — computed by the
   code that will score with the model. Then per cluster: size, share
   (size / rows), mean and max distance, rare (share < `rare_share`), and the
   threshold: the spec's absolute `threshold`, or the `threshold_quantile` of
   the cluster's distances with numpy's linear interpolation — exact, not
   approximate: only the top (n - floor(q(n - 1))) distances of each cluster
   are needed, which Spark selects with a per-key row_number limit (clusters
   of fewer than 10 rows take the quantile over all rows); at least 1e-9.
   The training inertia is the sum of the squared distances.
   With `[scoring] method = "cblof"` (k-means specs' default) one more pass
   follows: a provisional artifact with the real clusters and a cblof
   threshold of 1 (assemble marks the large clusters from the real sizes by
   the spec's `alpha`, `beta` and `small_share`, as `logsieve train` does)
   gives each row's scored distance as its verdict's score; the one cblof
   threshold is their `threshold_quantile` (or the absolute `threshold`).
6. **`logsieve assemble`** writes the artifact from the spec and this state
   (JSON), checking it, with the Rust codec — the same file format and
   checks as `logsieve train`.

The events DataFrame is persisted for the three passes over it (extract,
encode, assign). Models with state between events (`[aggregate]`,
`inter_arrival`) are refused (partitions would cut their windows), and so are `[[train.where]]` and
`[scaling] one_hot = "scaled"`;
k-modes / k-prototypes / flow2vec are `logsieve train`'s (Spark MLlib has no
k-modes).
"""

import json
import math
import os
import subprocess
import time

from . import component as comp
from . import scoring

MIN_ROWS_FOR_OWN_THRESHOLD = 10  # train/src/model.rs
MIN_THRESHOLD = 1e-9  # artifact/src/model.rs
MISSING_CATEGORY = "missing"  # plugin/src/features.rs


def spec_only(logsieve, spec_path, out):
    """A spec-only artifact, for extraction (`logsieve assemble` without --state)."""
    run([logsieve, "assemble", "--spec", spec_path, "--out", out, "--quiet"])
    return out


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return p


def component_from(logsieve, out):
    """The component the `logsieve` binary embeds (`logsieve component -o`)."""
    run([logsieve, "component", "-o", out])
    return out


# ------------------------------------------------------------------ extraction


def extract_features(df, spec_model, component, column="event", batch_size=1000, reservation="auto"):
    """Features of each event through the component's `extract-batch`.

    Returns (DataFrame, conf): columns `outcome` (`features`, `passed`,
    `dropped`, `failed`), `reason`, `detail`, and one column per spec
    feature, `f0`, `f1`, ... (double for numeric features, string for
    categorical; null = missing), plus `file` and `line` when `df` has them.
    """
    from pyspark.sql import types as T
    spark = df.sparkSession
    conf = scoring.prepare(spark, spec_model, component, reservation, "refuse", "training")
    spec = conf["spec"]
    kinds = [f["type"] for f in spec["features"]]
    keep = [c for c in ("file", "line") if c in df.columns]
    fields = [df.schema[c] for c in keep] + [
        T.StructField("outcome", T.StringType(), False), T.StructField("reason", T.StringType()),
        T.StructField("detail", T.StringType())]
    fields += [T.StructField(f"f{j}", T.DoubleType() if k == "numeric" else T.StringType())
               for j, k in enumerate(kinds)]
    has_read = scoring.READ_ERROR in df.columns
    inputs = [column] + ([scoring.READ_ERROR, scoring.READ_DETAIL] if has_read else []) + keep
    wconf = dict(names=conf["names"], reservation=conf["reservation"], column=column, has_read=has_read, keep=keep,
                 batch_size=batch_size, kinds=kinds, timeout_ms=10000, memory_limit_mb=1024, top_features=0,
                 emit_vector=False, stateful=False)

    def run_(batches):
        return extract_partition(batches, wconf)

    return df.select(*[df[f"`{c}`"] for c in inputs]).mapInArrow(run_, T.StructType(fields)), conf


def extract_partition(batches, wconf):
    import pyarrow as pa
    _, s = scoring.open_scorer(wconf)
    kinds = wconf["kinds"]
    nf = len(kinds)
    bs = wconf["batch_size"]
    for batch in batches:
        texts = batch.column(wconf["column"]).to_pylist()
        bad = None
        if wconf["has_read"]:
            bad = list(zip(batch.column(scoring.READ_ERROR).to_pylist(),
                           batch.column(scoring.READ_DETAIL).to_pylist()))
        m = len(texts)
        outcome, reason, detail = [None] * m, [None] * m, [None] * m
        values = [[None] * m for _ in range(nf)]
        for lo in range(0, m, bs):
            hi = min(lo + bs, m)
            rows = []
            for i in range(lo, hi):
                if bad is not None and bad[i][0] is not None:
                    outcome[i], reason[i], detail[i] = "failed", bad[i][0], bad[i][1]
                elif texts[i] is None:
                    outcome[i], reason[i], detail[i] = "failed", "missing_event", "the event column is null"
                elif "\n" in texts[i]:  # as scoring refuses it: score-lines takes one event per line
                    outcome[i], reason[i], detail[i] = ("failed", "multiline_event", "the event text holds a raw "
                                                        "newline; score-lines takes one event per line (NDJSON)")
                else:
                    rows.append(i)
            if not rows:
                continue
            try:
                res = s.extract_batch([texts[i] for i in rows])
            except comp.GuestFault as e:
                for i in rows:
                    outcome[i], reason[i] = "failed", e.reason
                    detail[i] = f"{e.detail}; the batch of {len(rows)} events it was in failed with it"
                continue
            if len(res.outcomes) != len(rows):
                raise RuntimeError(f"the component returned {len(res.outcomes)} outcomes for {len(rows)} events")
            for i, o in zip(rows, res.outcomes):
                tag = o.tag
                if tag == "features":
                    outcome[i] = "features"
                    for j, v in enumerate(o.payload):
                        # wasmtime-py 50 lifts `feature-value` as the bare payload
                        # (float, str, or None for `missing`); a Variant otherwise.
                        if isinstance(v, comp.wc.Variant):
                            v = None if v.tag == "missing" else v.payload
                        values[j][i] = v
                elif tag == "failed":
                    outcome[i], reason[i], detail[i] = "failed", o.payload.reason, o.payload.detail
                else:
                    outcome[i] = tag  # passed, dropped (absorbed: stateful models are refused)
        cols = [batch.column(k) for k in wconf["keep"]]
        cols += [pa.array(outcome, pa.string()), pa.array(reason, pa.string()), pa.array(detail, pa.string())]
        cols += [pa.array(values[j], pa.float64() if kinds[j] == "numeric" else pa.string()) for j in range(nf)]
        names = list(wconf["keep"]) + ["outcome", "reason", "detail"] + [f"f{j}" for j in range(nf)]
        yield pa.RecordBatch.from_arrays(cols, names=names)


# ------------------------------------------------------------------ fitting


def fit_feature_states(feats, spec):
    """Scalers and vocabularies (train/src/model.rs fit_features), aggregated by Spark."""
    from pyspark.sql import functions as F
    method = spec.get("scaling", {}).get("method", "zscore")
    states = [None] * len(spec["features"])
    # Fill values first (missing = "mean": the mean of the present values).
    fills = {}
    mean_cols = [j for j, f in enumerate(spec["features"]) if f["type"] == "numeric" and f.get("missing") == "mean"]
    if mean_cols:
        row = feats.agg(*[F.avg(F.col(f"f{j}")).alias(f"m{j}") for j in mean_cols]).first()
        fills = {j: (row[f"m{j}"] if row[f"m{j}"] is not None else 0.0) for j in mean_cols}
    aggs = []
    for j, f in enumerate(spec["features"]):
        if f["type"] == "numeric":
            x = F.coalesce(F.col(f"f{j}"), F.lit(float(fills.get(j, 0.0))))
            if method == "zscore":
                aggs += [F.avg(x).alias(f"a{j}"), F.stddev_pop(x).alias(f"b{j}")]
            elif method == "minmax":
                aggs += [F.min(x).alias(f"a{j}"), F.max(x).alias(f"b{j}")]
        else:
            aggs.append(F.collect_set(F.coalesce(F.col(f"f{j}"), F.lit(MISSING_CATEGORY))).alias(f"v{j}"))
        if f.get("missing") == "error":
            aggs.append(F.sum(F.col(f"f{j}").isNull().cast("long")).alias(f"e{j}"))
    row = feats.agg(*aggs).first() if aggs else None
    for j, f in enumerate(spec["features"]):
        name = f.get("name") or f["field"]
        if f.get("missing") == "error" and row[f"e{j}"]:
            raise ValueError(f"feature {name!r}: {row[f'e{j}']} training rows have no value and the spec says "
                             f"missing = \"error\" (the native trainer refuses them too: encoding a training row fails)")
        if f["type"] == "numeric":
            if method == "zscore":
                offset, scale = row[f"a{j}"], row[f"b{j}"]
            elif method == "minmax":
                offset, scale = row[f"a{j}"], row[f"b{j}"] - row[f"a{j}"]
            else:
                offset, scale = 0.0, 1.0
            if not (scale is not None and math.isfinite(scale) and scale > 0):
                scale = 1.0
            states[j] = {"type": "numeric", "offset": float(offset), "scale": float(scale),
                         "fill": float(fills.get(j, 0.0))}
        else:
            states[j] = {"type": "categorical", "vocabulary": sorted(row[f"v{j}"])}
    return states


def is_cblof(spec):
    """Whether the spec scores with `[scoring] method = "cblof"` (the default
    of k-means specs; a spec read from an artifact has it filled in)."""
    return spec.get("scoring", {}).get("method") == "cblof"


def provisional(logsieve, spec_path, spec, states, rows, out, centroids=None):
    """A provisional artifact (`logsieve assemble --state`) holding the fitted
    scalers and vocabularies and `centroids` (default: zeros), so that the
    component encodes (`encode-lines`) or assigns (`score-lines`) with them.
    Its other cluster statistics are placeholders that pass assemble's
    checks: all `rows` in the first cluster, threshold 1 (or the spec's
    absolute threshold), no distances. Never a model to score with."""
    m, sc = spec["model"], spec.get("scoring", {})
    k = int(m["n_clusters"])
    d = sum(1 if st["type"] == "numeric" else len(st["vocabulary"]) for st in states)  # one-hot for k-means
    absolute = sc.get("threshold")
    threshold = max(float(absolute), MIN_THRESHOLD) if absolute is not None else 1.0
    rare_share = float(sc.get("rare_share", 0.01))
    clusters = []
    for c in range(k):
        size = rows if c == 0 else 0
        share = size / rows
        clusters.append({"centroid": list(map(float, centroids[c])) if centroids is not None else [0.0] * d,
                         "size": size, "share": share, "threshold": threshold, "rare": share < rare_share,
                         "mean_distance": 0.0, "max_distance": 0.0})
    state = {"features": states, "clusters": clusters,
             "training": {"rows": rows, "skipped": 0, "inertia": 0.0, "n_iter": 0, "inputs": [], "created_unix": 0}}
    if is_cblof(spec):
        state["cblof"] = {"threshold": threshold}
    state_path = out + ".state.json"
    with open(state_path, "w", encoding="utf-8") as f:
        json.dump(state, f, allow_nan=False)
    run([logsieve, "assemble", "--spec", spec_path, "--state", state_path, "--out", out, "--quiet"])
    return out, d


def _events_pass(events, model, component, column, batch_size, reservation, schema, body):
    """`body(batches, wconf)` over the events of `events` in the workers, with `model` loaded there."""
    spark = events.sparkSession
    conf = scoring.prepare(spark, model, component, reservation, "refuse", "training")
    has_read = scoring.READ_ERROR in events.columns
    inputs = [column] + ([scoring.READ_ERROR] if has_read else [])
    wconf = dict(names=conf["names"], reservation=conf["reservation"], column=column, has_read=has_read,
                 batch_size=batch_size, timeout_ms=60000, memory_limit_mb=1024, top_features=0, emit_vector=False,
                 stateful=False)

    def run_(batches):
        return body(batches, wconf)

    return events.select(*[events[f"`{c}`"] for c in inputs]).mapInArrow(run_, schema)


def _slices(batch, wconf):
    """The event texts of an Arrow batch that are events (not read errors, not
    null, one line each), in slices of `batch_size`, as score-lines takes them."""
    texts = batch.column(wconf["column"]).to_pylist()
    if wconf["has_read"]:
        bad = batch.column(scoring.READ_ERROR).to_pylist()
        texts = [t for t, e in zip(texts, bad) if e is None]
    texts = [t for t in texts if t is not None and "\n" not in t]
    bs = wconf["batch_size"]
    for lo in range(0, len(texts), bs):
        yield "\n".join(texts[lo:lo + bs]) + "\n"


def encode_events(events, model, component, d, column="event", batch_size=1000, reservation="auto"):
    """The `features` column (array<double>, `d` values) of every event the
    component encodes with `model` (`encode-lines`: scaled, one-hot expanded),
    in input order; events it does not encode (refused, left out by
    `[[where]]`) have no row."""
    from pyspark.sql import types as T

    def body(batches, wconf):
        import numpy as np
        import pyarrow as pa
        _, s = scoring.open_scorer(wconf)
        for batch in batches:
            flat = []
            for text in _slices(batch, wconf):
                res = s.encode_lines(text)  # a fault fails the task: training needs every row
                if res.dimension != d:
                    raise RuntimeError(f"the component encodes {res.dimension} values per event, {d} expected")
                n = sum(1 for o in res.outcomes if o.tag == "vector")
                flat.append(np.asarray(res.vectors[:n * d], dtype=np.float64))
            x = np.concatenate(flat) if flat else np.zeros(0)
            rows = len(x) // d if d else 0
            offsets = pa.array(np.arange(0, (rows + 1) * d, d, dtype=np.int32))
            yield pa.RecordBatch.from_arrays([pa.ListArray.from_arrays(offsets, pa.array(x))], names=["features"])

    schema = T.StructType([T.StructField("features", T.ArrayType(T.DoubleType()))])
    return _events_pass(events, model, component, column, batch_size, reservation, schema, body)


def assign_events(events, model, component, column="event", batch_size=1000, reservation="auto"):
    """(label, distance, score) of every event the component scores with
    `model`: the nearest cluster, the distance to it and the score, from each
    `score-lines` verdict. With a cblof model whose threshold is 1 the score
    is the scored distance (a small cluster's member measured toward the bulk)."""
    from pyspark.sql import types as T

    def body(batches, wconf):
        import pyarrow as pa
        _, s = scoring.open_scorer(wconf)
        for batch in batches:
            label, dist, score = [], [], []
            for text in _slices(batch, wconf):
                for o in s.score_lines(text).outcomes:
                    if o.tag == "scored":
                        v = o.payload.verdict
                        label.append(v.cluster)
                        dist.append(v.distance)
                        score.append(v.score)
            yield pa.RecordBatch.from_arrays([pa.array(label, pa.int32()), pa.array(dist, pa.float64()),
                                              pa.array(score, pa.float64())], names=["label", "distance", "score"])

    schema = T.StructType([T.StructField("label", T.IntegerType(), False),
                           T.StructField("distance", T.DoubleType(), False),
                           T.StructField("score", T.DoubleType(), False)])
    return _events_pass(events, model, component, column, batch_size, reservation, schema, body)


def quantiles(assigned, sizes, q, want_global):
    """Exact numpy-linear q-quantiles of the distances per label (and over all rows as label -1)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    keys = {c: n for c, n in sizes.items() if n > 0}
    total = sum(sizes.values())
    if want_global:
        keys[-1] = total
    # q-quantile of n sorted values v: pos = q (n - 1), v[lo] + (v[hi] - v[lo]) (pos - lo).
    need = {}
    top = q >= 0.5  # take the smaller tail: the largest (n - lo) values, or the smallest (hi + 1)
    for c, n in keys.items():
        pos = q * (n - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        need[c] = (n - lo) if top else (hi + 1)
    df = assigned.select(F.col("label").alias("key"), "distance")
    if want_global:
        df = df.unionByName(assigned.select(F.lit(-1).alias("key"), "distance"))
    limits = assigned.sparkSession.createDataFrame([(int(c), int(t)) for c, t in need.items()], "key int, t long")
    w = Window.partitionBy("key").orderBy(F.col("distance").desc() if top else F.col("distance").asc())
    # The constant limit first lets Spark keep only the top rows of each key in
    # each partition before the shuffle (its WindowGroupLimit); then each key's own.
    ranked = (df.withColumn("rn", F.row_number().over(w)).where(F.col("rn") <= F.lit(max(need.values())))
              .join(F.broadcast(limits), "key").where(F.col("rn") <= F.col("t")))
    got = {}
    for r in ranked.select("key", "rn", "distance").collect():
        got.setdefault(r["key"], {})[r["rn"]] = r["distance"]
    out = {}
    for c, n in keys.items():
        pos = q * (n - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        by_rank = got[c]
        # rank r (1-based) from the top is index n - r in ascending order.
        v = (lambda i: by_rank[n - i]) if top else (lambda i: by_rank[i + 1])
        out[c] = v(lo) + (v(hi) - v(lo)) * (pos - lo)
    return out


class Result(dict):
    """What train() did: the artifact path, the state, timings, counts."""


def train(spark, spec_path, events, out, logsieve, component=None, work=None, column="event", inputs=None,
          n_init=None, batch_size=1000, reservation="auto", log=print):
    """Train the spec on the events of a DataFrame (see the module doc); write the artifact to `out`."""
    from pyspark import StorageLevel
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.functions import array_to_vector
    from pyspark.ml.stat import Summarizer
    from pyspark.sql import functions as F
    t0 = time.time()
    timings = {}
    work = work or os.path.dirname(os.path.abspath(out)) or "."
    os.makedirs(work, exist_ok=True)
    if component is None:
        component = component_from(logsieve, os.path.join(work, "logsieve.wasm"))
    spec_model = spec_only(logsieve, spec_path, os.path.join(work, "spec-only.msgpack"))
    spec = scoring.read_spec(spec_model)
    m = spec["model"]
    if m.get("kind", "kmeans") != "kmeans":
        raise ValueError(f"{spec_path}: kind = {m.get('kind')!r}; distributed training fits k-means (Spark MLlib has "
                         f"no k-modes or word2vec-then-k-means of flow2vec): use `logsieve train`")

    unsupported = []
    if spec.get("train", {}).get("where"):
        unsupported.append("[[train.where]] (the second pass scores every event that meets [[where]], so its "
                           "cluster sizes would count the rows training left out)")
    if spec.get("scaling", {}).get("one_hot") == "scaled":
        unsupported.append('[scaling] one_hot = "scaled" (the per-column one-hot scalers are not aggregated here)')
    if unsupported:
        raise ValueError(f"{spec_path}: distributed training does not support " + "; ".join(unsupported) +
                         ": use `logsieve train`")

    # The events, read once for the three passes over them.
    events = events.persist(StorageLevel.MEMORY_AND_DISK)

    # 1. Features through the component.
    feats_all, _ = extract_features(events, spec_model, component, column, batch_size, reservation)
    feats_all = feats_all.persist(StorageLevel.MEMORY_AND_DISK)
    outcomes = {r["outcome"]: r["count"] for r in feats_all.groupBy("outcome").count().collect()}
    skipped_by = {r["reason"]: r["count"] for r in
                  feats_all.where(F.col("outcome") == "failed").groupBy("reason").count().collect()}
    rows = outcomes.get("features", 0)
    skipped = outcomes.get("failed", 0)
    filtered = outcomes.get("passed", 0) + outcomes.get("dropped", 0)
    timings["extract"] = time.time() - t0
    if skipped:
        log(f"skipped {skipped} event(s) that could not be used: " +
            ", ".join(f"{r}: {n}" for r, n in sorted(skipped_by.items())))
    if filtered:
        log(f"left out {filtered} event(s) that do not meet the spec's [[where]]")
    if rows == 0:
        raise ValueError(f"no usable events (skipped {skipped})")
    feats = feats_all.where(F.col("outcome") == "features")

    # 2. Scalers and vocabularies.
    t = time.time()
    states = fit_feature_states(feats, spec)
    timings["scalers"] = time.time() - t

    # 3. Encoding by the component (cached: every k-means iteration reads it).
    t = time.time()
    feats_all.unpersist()
    encoder, d = provisional(logsieve, spec_path, spec, states, rows, os.path.join(work, "encode.msgpack"))
    encoded = encode_events(events, encoder, component, d, column, batch_size, reservation)
    # Few, larger partitions for the k-means iterations (each is a job over
    # every partition): about 250,000 rows each, at least one per core.
    target = max(spark.sparkContext.defaultParallelism, math.ceil(rows / 250_000))
    if encoded.rdd.getNumPartitions() > target:
        encoded = encoded.coalesce(target)
    encoded = encoded.persist(StorageLevel.MEMORY_AND_DISK)
    if encoded.count() != rows:
        raise RuntimeError(f"the component encoded {encoded.count()} events, but extracted features of {rows}")
    vectors = encoded.select(array_to_vector("features").alias("features"))
    mean_var = float(sum(vectors.select(Summarizer.variance(F.col("features")).alias("v")).first()["v"])) / max(d, 1)
    timings["encode"] = time.time() - t

    # 4. k-means, n_init starts.
    t = time.time()
    k = int(m["n_clusters"])
    starts = int(n_init if n_init is not None else m.get("n_init", 10))
    seed0 = int(m.get("random_state", 0))
    tol = float(m.get("tol", 1e-4))
    spark_tol = math.sqrt(tol * mean_var / k) if mean_var > 0 else tol
    best = None
    costs = []
    for i in range(max(1, starts)):
        km = KMeans(k=k, seed=seed0 + i, maxIter=int(m.get("max_iter", 300)), tol=spark_tol, initMode="k-means||",
                    initSteps=2, featuresCol="features")
        fit = km.fit(vectors)
        cost = fit.summary.trainingCost
        costs.append(cost)
        if best is None or cost < best[0]:
            best = (cost, fit, seed0 + i)
    cost, fit, seed = best
    centroids = [c.tolist() for c in fit.clusterCenters()]
    n_iter = int(fit.summary.numIter)
    if len(centroids) != k:
        raise ValueError(f"Spark's KMeans found {len(centroids)} centres, not n_clusters = {k} (the data have fewer "
                         f"distinct rows than k?); the artifact needs exactly {k}")
    timings["kmeans"] = time.time() - t
    log(f"k-means: {starts} start(s), training costs {', '.join(f'{c:.6f}' for c in costs)}; best seed {seed} "
        f"({n_iter} iterations)")

    # 5. Second pass: labels, distances, per-cluster statistics, thresholds.
    t = time.time()
    encoded.unpersist()
    assigner, _ = provisional(logsieve, spec_path, spec, states, rows, os.path.join(work, "assign.msgpack"), centroids)
    assigned = assign_events(events, assigner, component, column, batch_size, reservation)
    if assigned.rdd.getNumPartitions() > target:  # the encoded rows' partitions: the same sums, in the same order
        assigned = assigned.coalesce(target)
    assigned = assigned.persist(StorageLevel.MEMORY_AND_DISK)
    stats = {r["label"]: r for r in assigned.groupBy("label").agg(
        F.count(F.lit(1)).alias("n"), F.sum("distance").alias("s"), F.max("distance").alias("mx"),
        F.sum(F.col("distance") * F.col("distance")).alias("ss")).collect()}
    sizes = {c: (stats[c]["n"] if c in stats else 0) for c in range(k)}
    if sum(sizes.values()) != rows:
        raise RuntimeError(f"the second pass assigned {sum(sizes.values())} rows, not {rows}")
    scoring_spec = spec.get("scoring", {})
    q = float(scoring_spec.get("threshold_quantile", 0.999))
    rare_share = float(scoring_spec.get("rare_share", 0.01))
    absolute = scoring_spec.get("threshold")
    qs = {}
    if absolute is None:
        want_global = any(n < MIN_ROWS_FOR_OWN_THRESHOLD for n in sizes.values())
        qs = quantiles(assigned, sizes, q, want_global)
    clusters = []
    for c in range(k):
        n = sizes[c]
        st = stats.get(c)
        if absolute is not None:
            threshold = max(float(absolute), MIN_THRESHOLD)
        elif n < MIN_ROWS_FOR_OWN_THRESHOLD:
            threshold = max(qs[-1], MIN_THRESHOLD)
        else:
            threshold = max(qs[c], MIN_THRESHOLD)
        share = n / rows
        clusters.append({"centroid": centroids[c], "size": n, "share": share, "threshold": threshold,
                         "rare": share < rare_share, "mean_distance": (st["s"] / n) if n else 0.0,
                         "max_distance": max(0.0, st["mx"]) if n else 0.0})
    inertia = float(sum(r["ss"] for r in stats.values()))
    assigned.unpersist()
    timings["thresholds"] = time.time() - t

    # 5b. cblof: one threshold over every row's scored distance. The large
    # clusters follow from the real sizes (assemble applies the spec's
    # alpha/beta/small_share rule, as `logsieve train` does); a pass of the
    # component with threshold 1 gives each row's scored distance as its score.
    cblof = None
    if is_cblof(spec):
        t = time.time()
        if absolute is not None:
            cblof = {"threshold": max(float(absolute), MIN_THRESHOLD)}
        else:
            state1 = {"features": states, "clusters": clusters, "cblof": {"threshold": 1.0},
                      "training": {"rows": rows, "skipped": 0, "inertia": inertia, "n_iter": n_iter, "inputs": [],
                                   "created_unix": 0}}
            scorer_path = os.path.join(work, "cblof.msgpack")
            with open(scorer_path + ".state.json", "w", encoding="utf-8") as f:
                json.dump(state1, f, allow_nan=False)
            run([logsieve, "assemble", "--spec", spec_path, "--state", scorer_path + ".state.json", "--out",
                 scorer_path, "--quiet"])
            scored = assign_events(events, scorer_path, component, column, batch_size, reservation)
            scored = scored.select(F.lit(0).alias("label"), F.col("score").alias("distance"))
            cblof = {"threshold": max(quantiles(scored, {0: rows}, q, False)[0], MIN_THRESHOLD)}
        timings["cblof"] = time.time() - t
    events.unpersist()

    # 6. The artifact.
    state = {"features": states, "clusters": clusters,
             "training": {"rows": rows, "skipped": skipped, "inertia": inertia, "n_iter": n_iter,
                          "inputs": list(inputs or ["<a Spark DataFrame>"]), "created_unix": int(time.time())}}
    if cblof is not None:
        state["cblof"] = cblof
    state_path = os.path.join(work, os.path.basename(out) + ".state.json")
    with open(state_path, "w", encoding="utf-8") as f:
        json.dump(state, f, allow_nan=False)
    t = time.time()
    p = run([logsieve, "assemble", "--spec", spec_path, "--state", state_path, "--out", out])
    timings["assemble"] = time.time() - t
    timings["total"] = time.time() - t0
    log(p.stderr.strip())
    return Result(out=out, state=state, state_path=state_path, rows=rows, skipped=skipped, skipped_by=skipped_by,
                  filtered=filtered, inertia=inertia, spark_cost=cost, costs=costs, seed=seed, n_iter=n_iter,
                  dimension=d, spark_tol=spark_tol, timings=timings)
