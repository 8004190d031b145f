"""Distributed scoring: the logsieve component in every Spark Python worker.

    scored, counts = score_events(df, model="conn.model.msgpack", component="logsieve.wasm")

`df` has a column of event texts (one JSON object each; `column`, default
"event"), for example from `logs.read_logs` (which also carries the CLI
reader's errors) or `spark.read.text(...)` (column "value"). Each partition
goes through `mapInArrow`: the rows, in order, in batches of `batch_size`
through the component's `score-lines`, exactly as `logsieve run` sends them.
The component is loaded once per worker process (deserialized from the
precompiled file the driver shipped) and the scorer with the model is kept
for the next tasks of that process.

Output: the input's other columns (or those in `keep`), then

| column | |
|---|---|
| outcome | `scored`, `passed` (did not meet the spec's `[[where]]`; `scored` holds the event unchanged), `dropped`, `failed`; with stateful models also `absorbed` and `emitted` / `emitted_failed` (a window's aggregate) |
| scored | the scored event's text (the event with the `logsieve` key appended: byte for byte what `logsieve run` writes), the event itself when passed, else null |
| reason, detail | why an event failed: the component's reason (`invalid_json`, `wrong_type`, `missing_field`, ...), the reader's (`zeek_column_count`, ...), or the host's (`guest_trap`, `guest_timeout`, `missing_event` for a null event, `multiline_event` for an event text holding a raw newline, which `score-lines`, one event per line, cannot take) |
| event | a failed event's text (the line's, for a read error), as the CLI's error record has it; else null |
| model | the id of the model that scored it |
| cluster, distance, threshold, score, anomaly | the verdict: the `verdict` record `score-lines` gives with each scored event (`verdict=True`, the default) |

One row per input row, in input order within each partition (with stateful
models the `emitted` aggregates follow the batch that closed their window).
An event that cannot be scored is a row with its reason, never a failed job;
`counts` (Spark accumulators, read them after an action) adds them up as the
CLI's summary does: `lines = scored + passed + dropped + absorbed + errors`,
and `anomalies` counts the scored events and aggregates whose verdict says so.

Models that keep state between events — `[aggregate]` windows, and
`inter_arrival` derives — are refused unless `stateful="per_partition"`: then
each partition is its own stream (its own scorer, flushed at the partition's
end), so a key's window or previous event is only seen within a partition.
That matches a single `logsieve run` only when each key's events are in one
partition, in time order (e.g. `df.repartition("id.orig_h").sortWithinPartitions("ts")`,
with the key as a column), and windows still open at the end of a partition
are emitted there.
"""

from . import component as comp
from . import session

VERDICT = (("cluster", "int"), ("distance", "double"), ("threshold", "double"), ("score", "double"),
           ("anomaly", "boolean"))
READ_ERROR, READ_DETAIL = "read_error", "read_detail"


def read_spec(model_path):
    """The spec of a model artifact, read on the driver with the `msgpack` package.

    The artifact (artifact/src/codec.rs) is MessagePack: an envelope
    `{format, version, sha256, model: bin}` around the MessagePack of the
    model `{spec, fitted}`, both with named fields. No checksum check here:
    the component decodes and validates the artifact itself (and refuses it
    in the CLI's words)."""
    import msgpack
    with open(model_path, "rb") as f:
        data = f.read()
    try:
        env = msgpack.unpackb(data, raw=False, strict_map_key=False)
        if not isinstance(env, dict) or env.get("format") != "logsieve-model" or not isinstance(env.get("model"),
                                                                                                  bytes):
            raise ValueError("not a logsieve model artifact")
        spec = msgpack.unpackb(env["model"], raw=False, strict_map_key=False)["spec"]
    except (ValueError, KeyError, TypeError, msgpack.UnpackException) as e:
        raise ValueError(f"{model_path}: cannot read the model's spec: {e}") from e
    return spec


def stateful_parts(spec):
    """What makes a model keep state between events: `[aggregate]` windows and
    `inter_arrival` derives (each names the time since the previous event)."""
    parts = []
    if spec.get("aggregate"):
        agg = spec["aggregate"]
        parts.append(f"[aggregate] per-key windows (group_by {agg.get('group_by')}, window {agg.get('window', 'all')!r})")
    for d in spec.get("derive") or []:
        if d.get("op") == "inter_arrival":
            parts.append(f"[[derive]] {d.get('name')!r} = inter_arrival (time since the previous event"
                         f"{' of the same ' + str(d.get('key')) if d.get('key') else ''})")
    return parts


class Counts:
    """Accumulators of one scoring job (read after an action)."""

    NAMES = ("lines", "scored", "anomalies", "passed", "dropped", "absorbed", "errors", "emitted", "emitted_scored",
             "emitted_errors", "guest_faults", "partitions", "component_precompiled", "component_compiled")

    def __init__(self, sc):
        self.acc = {n: sc.accumulator(0) for n in self.NAMES}

    def value(self):
        return {n: a.value for n, a in self.acc.items()}

    def check(self):
        """The CLI's accounting equations; a list of what does not add up."""
        c = self.value()
        errs = []
        if c["lines"] != c["scored"] + c["passed"] + c["dropped"] + c["absorbed"] + c["errors"]:
            errs.append(f"in {c['lines']} != scored {c['scored']} + passed {c['passed']} + dropped {c['dropped']} "
                        f"+ absorbed {c['absorbed']} + errors {c['errors']}")
        if c["emitted"] != c["emitted_scored"] + c["emitted_errors"]:
            errs.append(f"emitted {c['emitted']} != scored {c['emitted_scored']} + errors {c['emitted_errors']}")
        return errs

    def render(self):
        c = self.value()
        return (f"{c['lines']} events = {c['scored']} scored ({c['anomalies']} anomalies, aggregates included) + "
                f"{c['passed']} passed + {c['dropped']} dropped + "
                f"{c['absorbed']} absorbed + {c['errors']} errors; {c['emitted']} aggregates emitted "
                f"({c['emitted_scored']} scored + {c['emitted_errors']} errors); {c['guest_faults']} guest faults; "
                f"{c['partitions']} partitions; component loaded by {c['component_precompiled']} worker(s) "
                f"precompiled, compiled by {c['component_compiled']}")


def prepare(spark, model, component, reservation="auto", stateful="refuse", purpose="scoring"):
    """Ship the component and model, check the model on the driver; returns the conf workers get."""
    reservation = session.resolve_reservation(spark, reservation)
    names = session.ship(spark, component, model, reservation)
    spec = read_spec(model)
    parts = stateful_parts(spec)
    if parts and stateful != "per_partition":
        raise ValueError(
            f"{model}: this model keeps state between events ({'; '.join(parts)}), and Spark splits the input into "
            f"partitions that are {purpose} independently. Distributed {purpose} refuses it by default; pass "
            f"stateful='per_partition' to treat each partition as its own stream (each key's window or previous "
            f"event is then seen only within a partition: partition by the key and sort by time first), or use "
            f"`logsieve {'run' if purpose == 'scoring' else 'train'}`.")
    # The driver loads it as the workers will: a refused model stops here,
    # before any task runs, with the CLI's words.
    loaded = comp.load(session.worker_path(names["component"]),
                       session.worker_path(names["cwasm"]) if names["cwasm"] else None, reservation)
    s = comp.scorer(loaded, session.worker_path(names["model"]), top_features=0, cached=False)
    info = s.info()
    return {"names": names, "reservation": reservation, "model_id": info.id, "stateful": bool(parts),
            "n_clusters": getattr(info, "n-clusters"), "dimension": info.dimension, "features": list(info.features), "spec": spec}


def score_events(df, model, component, column="event", keep=None, batch_size=1000, top_features=3,
                 emit_vector=False, verdict=True, stateful="refuse", reservation="auto", timeout_ms=10000,
                 memory_limit_mb=1024):
    """Score the events of `df` (see the module doc). Returns (DataFrame, Counts)."""
    from pyspark.sql import types as T
    spark = df.sparkSession
    if column not in df.columns:
        raise ValueError(f"the DataFrame has no column {column!r} (columns: {', '.join(df.columns)})")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    conf = prepare(spark, model, component, reservation, stateful, "scoring")
    if conf["dimension"] == 0:
        raise ValueError(f"{model} holds only a spec; train it first (`logsieve train` or logsieve_spark.training)")
    internal = {column, READ_ERROR, READ_DETAIL}
    keep = [c for c in df.columns if c not in internal] if keep is None else list(keep)
    out_names = {"outcome", "scored", "reason", "detail", "event", "model"} | ({n for n, _ in VERDICT} if verdict else set())
    clash = sorted(out_names & set(keep))
    if clash:
        raise ValueError(f"kept columns {clash} clash with the output's; rename them or pass keep=[...]")
    fields = [df.schema[c] for c in keep] + [
        T.StructField("outcome", T.StringType(), False), T.StructField("scored", T.StringType()),
        T.StructField("reason", T.StringType()), T.StructField("detail", T.StringType()),
        T.StructField("event", T.StringType()), T.StructField("model", T.StringType())]
    if verdict:
        types = {"int": T.IntegerType(), "double": T.DoubleType(), "boolean": T.BooleanType()}
        fields += [T.StructField(n, types[t]) for n, t in VERDICT]
    schema = T.StructType(fields)
    has_read = READ_ERROR in df.columns
    inputs = [column] + ([READ_ERROR, READ_DETAIL] if has_read else []) + keep
    counts = Counts(spark.sparkContext)
    wconf = dict(names=conf["names"], reservation=conf["reservation"], column=column, has_read=has_read, keep=keep,
                 batch_size=batch_size, top_features=top_features, emit_vector=emit_vector, verdict=verdict,
                 stateful=conf["stateful"], timeout_ms=timeout_ms, memory_limit_mb=memory_limit_mb)
    acc = counts.acc

    def run(batches):
        return score_partition(batches, wconf, acc)

    return df.select(*[df[f"`{c}`"] for c in inputs]).mapInArrow(run, schema), counts


# ------------------------------------------------------------------ worker side


def open_scorer(wconf):
    """The worker's component and scorer for `wconf` (scoring and extraction alike); the scorer is cached per process unless the model keeps state."""
    n = wconf["names"]
    try:
        loaded = comp.load(session.worker_path(n["component"]),
                           session.worker_path(n["cwasm"]) if n["cwasm"] else None, wconf["reservation"])
        return loaded, comp.scorer(loaded, session.worker_path(n["model"]), wconf["top_features"],
                                   wconf["emit_vector"], wconf["timeout_ms"], wconf["memory_limit_mb"],
                                   cached=not wconf["stateful"])
    except comp.wasmtime.WasmtimeError as e:
        raise comp.explain_reservation(e, wconf["reservation"]) from e


def _verdict(v):
    """The verdict columns of a scored event's `verdict` record."""
    return v.cluster, v.distance, v.threshold, v.score, v.anomaly


NO_VERDICT = (None,) * len(VERDICT)


class _Out:
    """Columns of the rows produced for one input batch."""

    def __init__(self, verdict):
        self.src, self.outcome, self.scored, self.reason, self.detail, self.event = [], [], [], [], [], []
        self.verdict = [[] for _ in VERDICT] if verdict else None

    def add_scored(self, rows, texts, verdicts):
        """Many scored rows at once (the common case: a batch scored whole)."""
        n = len(rows)
        self.src.extend(rows)
        self.outcome.extend(["scored"] * n)
        self.scored.extend(texts)
        nones = [None] * n
        self.reason.extend(nones)
        self.detail.extend(nones)
        self.event.extend(nones)
        if self.verdict is not None and n:
            for col, xs in zip(self.verdict, zip(*map(_verdict, verdicts))):
                col.extend(xs)

    def add(self, src, outcome, scored=None, reason=None, detail=None, event=None, verdict=None):
        self.src.append(src)
        self.outcome.append(outcome)
        self.scored.append(scored)
        self.reason.append(reason)
        self.detail.append(detail)
        self.event.append(event)
        if self.verdict is not None:
            for col, x in zip(self.verdict, NO_VERDICT if verdict is None else _verdict(verdict)):
                col.append(x)


def _texts(res, scored):
    """The texts of the scored lines (`offset`/`len` in UTF-8 bytes), as str, checked."""
    texts = comp.embedding.scored_texts(res.text, scored, newline=False)
    if texts and isinstance(texts[0], bytes):
        return [t.decode("utf-8") for t in texts]
    return texts


def _emitted(res, texts, k, out, c):
    """The aggregates of windows closed in one call (`res.emitted`): their rows;
    `texts[k:]` are the scored ones' texts."""
    for r in res.emitted:
        c["emitted"] += 1
        if r.tag == "scored":
            c["emitted_scored"] += 1
            c["anomalies"] += bool(r.payload.verdict.anomaly)
            out.add(None, "emitted", texts[k], verdict=r.payload.verdict)
            k += 1
        elif r.tag == "failed":
            c["emitted_errors"] += 1
            out.add(None, "emitted_failed", None, r.payload.reason, r.payload.detail)
        else:
            raise RuntimeError(f"the component emitted an aggregate as {r.tag}")


def _scored_payloads(res):
    """Every scored line of a `scored-lines` result (events', then aggregates'), in text order."""
    return ([o.payload for o in res.outcomes if o.tag == "scored"]
            + [o.payload for o in res.emitted if o.tag == "scored"])


def _score_slice(scorer, texts, bad, lo, hi, out, c):
    """Rows lo..hi of a batch through one component call."""
    start = len(out.src)
    events = []  # (row, text)
    for i in range(lo, hi):
        if bad is not None and bad[i][0] is not None:
            c["errors"] += 1
            out.add(i, "failed", None, bad[i][0], bad[i][1], texts[i])
        elif texts[i] is None:
            c["errors"] += 1
            out.add(i, "failed", None, "missing_event", "the event column is null", "")
        elif "\n" in texts[i]:
            # `score-lines` takes one event per line (the CLI's readers never
            # give an event with a raw newline).
            c["errors"] += 1
            out.add(i, "failed", None, "multiline_event",
                    "the event text holds a raw newline; score-lines takes one event per line (NDJSON)", texts[i])
        else:
            events.append((i, texts[i]))
    # Reader errors come out in their place: re-sort at the end of the slice.
    if not events:
        return
    try:
        res = scorer.score_lines("\n".join(t for _, t in events) + "\n")
    except comp.GuestFault as e:
        c["guest_faults"] += 1
        detail = f"{e.detail}; the batch of {len(events)} events it was in failed with it"
        for i, ev in events:
            c["errors"] += 1
            out.add(i, "failed", None, e.reason, detail, ev)
        _restore_order(out, start)
        return
    outcomes = res.outcomes
    if len(outcomes) != len(events):
        raise RuntimeError(f"the component returned {len(outcomes)} outcomes for {len(events)} events")
    scored = _scored_payloads(res)
    texts_out = _texts(res, scored)
    n_events = sum(1 for o in outcomes if o.tag == "scored")
    c["anomalies"] += sum(1 for v in scored[:n_events] if v.verdict.anomaly)
    if start == len(out.src) and n_events == len(events):
        # Every event scored (the common case): the rows at once.
        c["scored"] += len(events)
        out.add_scored([i for i, _ in events], texts_out[:n_events], [s.verdict for s in scored[:n_events]])
        _emitted(res, texts_out, n_events, out, c)
        return
    k = 0
    for (i, ev), o in zip(events, outcomes):
        tag = o.tag
        if tag == "scored":
            c["scored"] += 1
            out.add(i, "scored", texts_out[k], verdict=o.payload.verdict)
            k += 1
        elif tag == "passed":
            c["passed"] += 1
            out.add(i, "passed", ev)
        elif tag == "dropped":
            c["dropped"] += 1
            out.add(i, "dropped")
        elif tag == "absorbed":
            c["absorbed"] += 1
            out.add(i, "absorbed")
        elif tag == "failed":
            c["errors"] += 1
            out.add(i, "failed", None, o.payload.reason, o.payload.detail, ev)
        else:
            raise RuntimeError(f"unknown outcome {tag}")
    _restore_order(out, start)
    _emitted(res, texts_out, k, out, c)


def _restore_order(out, start):
    """Rows from `start` on were added reader errors first: put them in row order (stable)."""
    n = len(out.src) - start
    if n <= 1:
        return
    idx = sorted(range(start, start + n), key=lambda j: out.src[j])
    if idx == list(range(start, start + n)):
        return
    for col in [out.src, out.outcome, out.scored, out.reason, out.detail, out.event] + (out.verdict or []):
        col[start:] = [col[j] for j in idx]


def _to_arrow(batch, out, wconf, model_id):
    import pyarrow as pa
    keep = wconf["keep"]
    cols, names = [], []
    identity = len(out.src) == batch.num_rows and all(s == i for i, s in enumerate(out.src))
    if keep:
        take = None if identity else pa.array(out.src, pa.int64())
        for name in keep:
            col = batch.column(name)
            cols.append(col if take is None else col.take(take))
            names.append(name)
    n = len(out.src)
    cols += [pa.array(out.outcome, pa.string()), pa.array(out.scored, pa.string()), pa.array(out.reason, pa.string()),
             pa.array(out.detail, pa.string()), pa.array(out.event, pa.string()), pa.array([model_id] * n, pa.string())]
    names += ["outcome", "scored", "reason", "detail", "event", "model"]
    if out.verdict is not None:
        types = {"int": pa.int32(), "double": pa.float64(), "boolean": pa.bool_()}
        for (name, t), col in zip(VERDICT, out.verdict):
            cols.append(pa.array(col, types[t]))
            names.append(name)
    return pa.RecordBatch.from_arrays(cols, names=names)


def score_partition(batches, wconf, acc):
    """mapInArrow body: score one partition's Arrow batches, in order."""
    loaded, scorer = open_scorer(wconf)
    model_id = scorer.info().id
    c = dict.fromkeys(Counts.NAMES, 0)
    c["partitions"] = 1
    if loaded.fresh:  # the first task of this worker process to load it
        loaded.fresh = False
        c[f"component_{loaded.source}"] += 1
    bs = wconf["batch_size"]
    last = None
    try:
        for batch in batches:
            texts = batch.column(wconf["column"]).to_pylist()
            bad = None
            if wconf["has_read"]:
                bad = list(zip(batch.column(READ_ERROR).to_pylist(), batch.column(READ_DETAIL).to_pylist()))
            c["lines"] += len(texts)
            out = _Out(wconf["verdict"])
            # Batches as the CLI cuts them: every `batch_size` rows (read
            # errors included), and at most 16 MiB of event text.
            lo, size, n = 0, 0, len(texts)
            for i in range(n):
                t = texts[i]
                ln = 0 if t is None or (bad is not None and bad[i][0] is not None) else (
                    len(t) if t.isascii() else len(t.encode("utf-8")))
                if i > lo and (i - lo >= bs or size + ln > comp.MAX_BATCH_BYTES):
                    _score_slice(scorer, texts, bad, lo, i, out, c)
                    lo, size = i, 0
                size += ln
            if lo < n:
                _score_slice(scorer, texts, bad, lo, n, out, c)
            last = batch
            yield _to_arrow(batch, out, wconf, model_id)
        if wconf["stateful"]:
            out = _Out(wconf["verdict"])
            try:
                res = scorer.flush_lines()
                _emitted(res, _texts(res, _scored_payloads(res)), 0, out, c)
            except comp.GuestFault:
                c["guest_faults"] += 1
            if out.src and last is not None:
                yield _to_arrow(last.slice(0, 0), out, wconf, model_id)
    finally:
        for k, v in c.items():
            if v:
                acc[k].add(v)
