"""logsieve: score log events against a trained clustering model, in Python.

    import logsieve
    s = logsieve.Scorer(open("conn.model.msgpack", "rb").read(), top_features=3)
    for r in s.score(lines):            # lines: a list of str, one JSON event each
        if "event" in r: print(r["event"])          # scored (r["logsieve"]: the verdict) or passed
        elif "error" in r: print(r["error"]["reason"], r["error"]["detail"])

The logsieve WebAssembly component (`logsieve.wasm`, shipped in this package)
runs in wasmtime-py, sandboxed: it imports nothing. See README.md.
"""

import json
import os
import threading

import wasmtime
import wasmtime.component as wc

from . import _host

__all__ = ["Scorer", "ScoredText", "ndjson_batches", "LogsieveError", "ModelError", "GuestError", "component_path", "__version__"]
__version__ = "0.5.0"


def component_path():
    """The path of the component this package ships (`logsieve.wasm`)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "logsieve.wasm")


class LogsieveError(Exception):
    """An error from the logsieve component; `str(e)` is its message."""


class ModelError(LogsieveError):
    """A refused model. `kind`: the component's `model-error` case (`truncated`,
    `foreign`, `unsupported-version`, `corrupted`, `invalid`; `untrained` for a
    spec-only artifact); `detail`: the component's detail."""

    def __init__(self, message, kind, detail):
        super().__init__(message)
        self.kind, self.detail = kind, detail


class GuestError(LogsieveError):
    """A call into the component failed: `reason` is `guest_trap` (a bug in
    the component) or `guest_timeout` (past `timeout_ms`). The scorer has been
    re-created from the same model (windows and sequences start afresh); the
    batch's events were not scored."""

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


_LOCK = threading.Lock()
_LOADED = {}  # component path -> (engine, component, ticker)


def _load(path):
    with _LOCK:
        got = _LOADED.get(path)
        if got is None:
            if not _LOADED:
                _host.FAST_LIFT.append(_host.speed_up_wasmtime() and _host._layout_ok())
            config = wasmtime.Config()
            config.epoch_interruption = True  # the per-call deadline
            engine = wasmtime.Engine(config)
            component, _ = _host.load_component(engine, path)  # compiled once, cached on disk
            got = _LOADED[path] = (engine, component, _host.Ticker(engine))
        return got


class _Core(_host.Scorer):
    """The host layer's scorer (deadline, memory limit, re-created after a
    trap) with the 0.5 calls `score-json` / `flush-json`."""

    def start(self):
        refused = super().start()
        if refused is None:
            self.f_score_json = self.func("[method]scorer.score-json", fast=True)
            self.f_flush_json = self.func("[method]scorer.flush-json", fast=True)
        return refused


class Scorer:
    """One model loaded into its own instance of the component.

    `Scorer(model_bytes, top_features=3, emit_vector=False, timeout_ms=10000,
    memory_limit_mb=1024)`; raises `ModelError` for a refused model. One
    scorer holds one stream's state (windows, sequences): feed it that
    stream's events in order. Not for use from two threads at once.
    """

    def __init__(self, model_bytes, top_features=3, emit_vector=False, timeout_ms=10000, memory_limit_mb=1024,
                 component=None):
        if not isinstance(model_bytes, (bytes, bytearray, memoryview)):
            raise TypeError("model_bytes must be bytes (the model artifact's content)")
        if int(top_features) < 0 or int(timeout_ms) < 1 or int(memory_limit_mb) < 1:
            raise ValueError("top_features must not be negative, timeout_ms and memory_limit_mb must be positive")
        engine, comp, _ = _load(component or component_path())
        options = wc.Record()
        setattr(options, "top-features", int(top_features))
        setattr(options, "emit-vector", bool(emit_vector))
        try:
            self._core = _Core(engine, comp, bytes(model_bytes), options, int(timeout_ms), int(memory_limit_mb))
        except _host.GuestFault as e:
            raise GuestError(e.reason, e.detail) from None
        refused = self._core.refused
        if refused is not None:
            payload = refused.payload
            detail = payload if isinstance(payload, str) else {"found": payload.found, "supported": payload.supported}
            raise ModelError(_host.describe_model_error(refused), refused.tag, detail)
        i = self._core.info()
        self.info = {"id": i.id, "kind": i.kind, "format_version": getattr(i, "format-version"),
                     "features": list(i.features), "dimension": i.dimension, "n_clusters": getattr(i, "n-clusters")}
        if i.dimension == 0:
            raise ModelError("the model holds only a spec; train it first with `logsieve train`", "untrained", "")

    def _call(self, f, *params):
        try:
            return self._core.call(f, self._core.handle, *params)
        except _host.GuestFault as e:
            raise GuestError(e.reason, e.detail) from None

    def score(self, lines):
        """Score a batch of events, in order: `lines` is a list of str, each one
        JSON object (an NDJSON line without its "\\n"). Returns one dict per
        line, in order, then one per window aggregate that closed:

        - `{"event": text, "logsieve": verdict}`: scored; `text` is the event
          with the `logsieve` key appended, `verdict` is `{"cluster",
          "distance", "threshold", "score", "anomaly", "reasons"}` (None for
          a value there is none of; reasons by name, e.g. "rare_cluster");
        - `{"event": line, "passed": True}`: did not meet the model's
          `[[where]]`, passed on unchanged;
        - `{"dropped": True}` / `{"absorbed": True}` (taken into a window);
        - `{"error": {"reason", "detail"}}`: this event could not be used
          (the rest of the batch is unaffected);
        - an aggregate's dict has `"aggregate": True` as well.

        Raises ValueError for a line holding "\\n", GuestError if the
        component fails (see GuestError).
        """
        if isinstance(lines, (str, bytes)):
            raise TypeError("score takes a list of event lines (str), not one string")
        lines = lines if isinstance(lines, list) else list(lines)
        if not lines:
            text = ""
        else:
            text = "\n".join(lines)
            if text.count("\n") != len(lines) - 1:
                bad = next(i for i, line in enumerate(lines) if "\n" in line)
                raise ValueError(f"line {bad} of the batch holds a newline: each line must be one event")
            text += "\n"
        return self._take(self._call(self._core.f_score_json, text), lines)

    def flush(self):
        """End of input: the aggregates of the windows still open (models with
        `[aggregate]`), scored, as `score` gives them; [] for other models."""
        return self._take(self._call(self._core.f_flush_json), [])

    def score_text(self, text):
        """Score a batch given as NDJSON text (`str`: one JSON event per line,
        the last "\\n" optional), for jobs that write NDJSON on (backfills):
        no dict per event. Returns a `ScoredText`: `.text`, the scored and
        passed events in order as NDJSON (what `logsieve run` writes to its
        scored sink); `.errors`, the events that could not be used; `.counts`.
        Same state and outcomes as `score` on the text's lines.
        """
        if not isinstance(text, str):
            raise TypeError("score_text takes the batch as one str of NDJSON lines")
        if text and not text.endswith("\n"):
            text += "\n"
        return ScoredText._of(self._call(self._core.f_score_json, text), text)

    def flush_text(self):
        """`flush` as `score_text` gives it: the last aggregates, as a
        `ScoredText`."""
        return ScoredText._of(self._call(self._core.f_flush_json), "")

    @staticmethod
    def _take(res, lines):
        out = json.loads(res.outcomes)
        texts = res.text.split("\n")
        k = 0
        for i, d in enumerate(out):
            if "logsieve" in d:
                d["event"] = texts[k]
                k += 1
            elif "passed" in d:
                d["event"] = lines[i]
        return out


class ScoredText:
    """What `Scorer.score_text` / `flush_text` give.

    - `text`: the scored events (each with its `logsieve` key) and the passed
      ones, then the scored aggregates, in order, each line ending "\\n";
    - `errors`: one dict per event that could not be used, in order:
      `{"index", "reason", "detail", "event"}` (`index`: the event's line in
      the batch, from 0, `event` its text; `None` and "" for an aggregate);
    - `counts`: `in` (lines), `scored`, `anomalies`, `in_rare_clusters`,
      `passed`, `dropped`, `absorbed`, `errors` (of the batch's events), and
      `emitted`, `emitted_scored`, `emitted_errors` (window aggregates).
    """

    __slots__ = ("text", "errors", "counts")

    def __init__(self, text, errors, counts):
        self.text, self.errors, self.counts = text, errors, counts

    def __repr__(self):
        return f"ScoredText(counts={self.counts!r}, errors={len(self.errors)})"

    @classmethod
    def _of(cls, res, text):
        o, n_in = res.outcomes, text.count("\n")
        # The common batch, every event scored: counted in the outcomes'
        # text, not parsed. Exact: the counted patterns are the contract's
        # keys and reason names (WIT `scored-json`), and the outcomes hold no
        # other strings (no error detail, no passed event) in this case.
        scored = o.count('{"logsieve":')
        if scored == n_in and "aggregate" not in o:
            counts = dict(_ZERO, **{"in": n_in, "scored": scored, "anomalies": o.count('"anomaly":true'),
                                    "in_rare_clusters": o.count('"rare_cluster"')})
            return cls(res.text, [], counts)
        # Otherwise (passed events go between the scored ones, errors, windows):
        # the outcomes one by one.
        c = dict(_ZERO, **{"in": n_in})
        lines, texts = text.split("\n"), res.text.split("\n")
        out, errors, k = [], [], 0
        for i, d in enumerate(json.loads(o)):
            agg = d.get("aggregate", False)
            c["emitted"] += agg
            v = d.get("logsieve")
            if v is not None:
                c["emitted_scored" if agg else "scored"] += 1
                c["anomalies"] += v["anomaly"] is True
                c["in_rare_clusters"] += "rare_cluster" in v["reasons"]
                out.append(texts[k])
                k += 1
            elif "passed" in d:
                c["passed"] += 1
                out.append(lines[i])
            elif "error" in d:
                c["emitted_errors" if agg else "errors"] += 1
                e = d["error"]
                errors.append({"index": None if agg else i, "reason": e["reason"], "detail": e["detail"],
                               "event": "" if agg else lines[i]})
            else:
                c["dropped" if "dropped" in d else "absorbed"] += 1
        return cls("".join(t + "\n" for t in out), errors, c)


def ndjson_batches(text, lines=1000):
    """Cut NDJSON text into batches for `Scorer.score_text`: each of `lines`
    lines (the last may hold fewer), each ending "\\n" (the last one: as the
    text does); no list of lines is made."""
    if lines < 1:
        raise ValueError("lines must be positive")
    pos, n = 0, len(text)
    while pos < n:
        end = pos
        for _ in range(lines):
            end = text.find("\n", end) + 1
            if end == 0:
                end = n
                break
        yield text[pos:end]
        pos = end


_ZERO = dict.fromkeys(("in", "scored", "anomalies", "in_rare_clusters", "passed", "dropped", "absorbed", "errors",
                       "emitted", "emitted_scored", "emitted_errors"), 0)
