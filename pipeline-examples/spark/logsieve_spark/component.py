"""The logsieve component inside a Python process (a Spark worker, or the driver).

Built on the Python package `logsieve` (packages/python, installed from its
wheel), whose host layer `logsieve._host` (the Python embedding host,
`pipeline-examples/embedding/python/score.py`, runs the same code) is imported,
not copied: its `Scorer` (one instance with the model
loaded, a deadline per call, a memory limit, re-created after a trap;
`score-lines` / `flush-lines`), its `Reader` (the component's log reader:
`reader.read-text` / `reader.read` / `reader.finish`) with the gzip and I/O
errors around it and the UTF-8 decoding (`input_chunks`, `utf8_pieces`,
`read_items`), `speed_up_wasmtime` (makes wasmtime-py's
conversion of values several times faster) and `describe_model_error`.
Added here: `encode-lines` / `extract-batch` / `flush-extract` / `stats`, an
engine configuration that fits under Spark's Python memory limits,
precompiled components shipped from the driver, and a per-process cache, so
that each Spark Python worker compiles (or deserializes) the component once,
creates each scorer once and reads every file through one reader instance.
"""

import hashlib
import os
import threading

import wasmtime
import wasmtime.component as wc

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_embedding():
    # In a zip shipped to workers (session.ship), the host layer travels as
    # logsieve_spark/_embedding_score.py; otherwise it is the installed
    # `logsieve` package's (the wheel, packages/python: setup.sh installs it).
    try:
        from . import _embedding_score as mod  # type: ignore[attr-defined]
        return mod
    except ImportError:
        pass
    try:
        from logsieve import _host as mod
    except ImportError as e:
        raise ImportError("the logsieve Python package is not installed: pip install the wheel that "
                          "packages/python/build.sh builds (pipeline-examples/spark/setup.sh does)") from e
    return mod


embedding = _load_embedding()
GuestFault = embedding.GuestFault
describe_model_error = embedding.describe_model_error
INTERFACE = embedding.INTERFACE
MAX_BATCH_BYTES = embedding.MAX_BATCH_BYTES

# Engine settings. "default": wasmtime's (a 4 GiB virtual reservation plus
# guard per linear memory: fastest, but a process under an address-space
# limit — Spark's `spark.executor.pyspark.memory` sets one — cannot
# instantiate). "small": a 64 MiB reservation and a 64 KiB guard; the memory
# may still grow (by moving) up to the store's limit. A precompiled component
# loads only into an engine with the same settings.
RESERVATIONS = ("default", "small")


def make_config(reservation="default"):
    if reservation not in RESERVATIONS:
        raise ValueError(f"reservation must be one of {RESERVATIONS}, not {reservation!r}")
    c = wasmtime.Config()
    c.epoch_interruption = True  # the per-call deadline (score.py's Scorer sets it)
    if reservation == "small":
        c.memory_reservation = 64 << 20
        c.memory_guard_size = 64 << 10
        c.memory_reservation_for_growth = 16 << 20
    return c


# Creating an instance and loading the model get their own deadline: under
# load (or with a small per-batch timeout) they must not be cut by the
# per-batch one, which score.py's Scorer would apply to them too.
START_TIMEOUT_MS = 60_000


class Scorer(embedding.Scorer):
    """score.py's Scorer, with the rest of the interface."""

    def start(self):
        ticks = self.ticks
        self.ticks = max(ticks, START_TIMEOUT_MS // int(embedding.TICK * 1000))
        try:
            refused = super().start()
        finally:
            self.ticks = ticks
        if refused is None:
            inst, store, iface = self.instance, self.store, self.iface

            def func(name):
                idx = inst.get_export_index(store, name, iface)
                f = inst.get_func(store, idx) if idx is not None else None
                if f is None:
                    raise RuntimeError(f"the component's {INTERFACE} has no {name}")
                return f

            self.f_encode_lines = embedding.fast_func(store, func("[method]scorer.encode-lines"))
            self.f_extract_batch = func("[method]scorer.extract-batch")
            self.f_flush_extract = func("[method]scorer.flush-extract")
            self.f_stats = func("[method]scorer.stats")
        return refused

    def encode_lines(self, text):
        return self.call(self.f_encode_lines, self.handle, text)

    def extract_batch(self, events):
        return self.call(self.f_extract_batch, self.handle, events)

    def flush_extract(self):
        return self.call(self.f_flush_extract, self.handle)

    def stats(self):
        return self.call(self.f_stats, self.handle)


def options(top_features=3, emit_vector=False):
    o = wc.Record()
    setattr(o, "top-features", int(top_features))
    setattr(o, "emit-vector", bool(emit_vector))
    return o


def wasmtime_version():
    from importlib import metadata
    return metadata.version("wasmtime")


class Loaded:
    """An engine (with its epoch ticker) and the component compiled for it."""

    def __init__(self, engine, component, source, ticker):
        self.engine, self.component, self.source, self.ticker = engine, component, source, ticker
        self.fresh = True  # not yet counted by a scoring task
        self.reader_instance = None  # the instance this process reads logs with (see reader())


def reader(loaded, fmt, memory_limit_mb=1024):
    """A reader (score.py's `Reader`: the component's `reader` resource) for one
    input in `fmt`, in the process's reader instance (made on first use; made
    again after a trap). ValueError with the component's words for an unknown
    format. Close it (`.close()`) when the input is read."""
    inst = loaded.reader_instance
    if inst is None:
        inst = loaded.reader_instance = embedding.Instance(
            loaded.engine, loaded.component, embedding.Reader.TIMEOUT_MS // int(embedding.TICK * 1000),
            memory_limit_mb << 20)
    try:
        return embedding.Reader(loaded.engine, loaded.component, fmt, instance=inst)
    except GuestFault:
        loaded.reader_instance = None
        raise


# Per process: (component sha256, reservation) -> Loaded; scorer key -> Scorer.
_LOADED = {}
_SCORERS = {}
_LOCK = threading.Lock()
_TYPE_CACHE = []


def type_cache():
    """Speed up wasmtime-py's conversion of values once per process (score.py's speed_up_wasmtime)."""
    if not _TYPE_CACHE:
        done = embedding.speed_up_wasmtime()
        _TYPE_CACHE.append(done)
        embedding.FAST_LIFT.append(done and embedding._layout_ok())
    return _TYPE_CACHE[0]


def load(wasm_path, cwasm_path=None, reservation="default"):
    """The component for this process: deserialized from `cwasm_path` (compiled
    by the driver with the same wasmtime-py and settings) when that works,
    else compiled from `wasm_path`. Cached per process."""
    with open(wasm_path, "rb") as f:
        wasm = f.read()
    key = (hashlib.sha256(wasm).hexdigest(), reservation)
    with _LOCK:
        got = _LOADED.get(key)
        if got is not None:
            return got
        type_cache()
        engine = wasmtime.Engine(make_config(reservation))
        component, source = None, "compiled"
        if cwasm_path and os.path.exists(cwasm_path):
            try:
                # Our own file, made by precompile() on the driver for this
                # component; wasmtime refuses one from another version, CPU
                # or configuration, and then it is compiled here.
                component, source = wc.Component.deserialize_file(engine, cwasm_path), "precompiled"
            except wasmtime.WasmtimeError:
                component = None
        if component is None:
            component = wc.Component(engine, wasm)
        got = _LOADED[key] = Loaded(engine, component, source, embedding.Ticker(engine))
        return got


def precompile(wasm_path, out_path, reservation="default"):
    """Compile the component once (on the driver) for workers to deserialize."""
    engine = wasmtime.Engine(make_config(reservation))
    with open(wasm_path, "rb") as f:
        component = wc.Component(engine, f.read())
    tmp = f"{out_path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(component.serialize())
    os.replace(tmp, out_path)
    return out_path


def explain_reservation(e, reservation):
    """A clearer error for the address-space limit Spark's Python memory setting imposes."""
    if "reserve" in str(e) and reservation == "default":
        return RuntimeError(
            f"{e}: wasmtime reserves 4 GiB of address space per linear memory by default, and this process has "
            f"an address-space limit (Spark's spark.executor.pyspark.memory sets one); score with "
            f"reservation='small' (or 'auto', which picks it when that setting is there)")
    return e


class ModelRefused(ValueError):
    """The component refused the model (the message says why, as the CLI says it)."""


def scorer(loaded, model_path, top_features=3, emit_vector=False, timeout_ms=10000, memory_limit_mb=1024,
           cached=True):
    """A scorer with the model loaded. Cached per process unless cached=False
    (models with state between events get a fresh one per partition)."""
    with open(model_path, "rb") as f:
        model = f.read()
    key = (id(loaded), hashlib.sha256(model).hexdigest(), top_features, emit_vector, timeout_ms, memory_limit_mb)
    if cached:
        s = _SCORERS.get(key)
        if s is not None:
            return s
    s = Scorer(loaded.engine, loaded.component, model, options(top_features, emit_vector), timeout_ms,
               memory_limit_mb)
    if s.refused is not None:
        raise ModelRefused(f"{model_path}: {describe_model_error(s.refused)}")
    if cached:
        _SCORERS[key] = s
    return s


def file_sha(path, n=12):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]
