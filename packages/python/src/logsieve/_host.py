"""Score log events with the logsieve component in Python (wasmtime-py).

The Python package's host layer (the `logsieve` wheel, packages/python; run
as `python -m logsieve`, or as pipeline-examples/embedding/python/score.py
from the repository; Spark imports it). `logsieve.Scorer` is the simple API
on top of it.

    python -m logsieve [--component logsieve.wasm] --model conn.model.msgpack \\
        [--input events.ndjson|-] [--format ndjson] [--out scored.ndjson] \\
        [--errors errors.ndjson] [--batch-size 1000] [--top-features 3] \\
        [--emit-vector] [--batch-timeout-ms 10000] [--memory-limit-mb 1024] \\
        [--summary-json summary.json] [--quiet]

wasmtime-py 50 has no component bindgen, so the component is called through
the dynamic API: instantiate with an empty `Linker` (the component imports
nothing), look the interface up with `get_export_index(store,
"logsieve:transform/scoring@0.5.0")`, then each function by its name in it
(`"[constructor]scorer"`, `"[method]scorer.score-lines"`, ...) and call it
with the store first. The calls, in order (wit/logsieve.wit): the constructor
(returns the scorer, or the `model-error` variant), `info`, `score-lines`
once per batch of events, `flush-lines` at the end. Each scored event comes
back as its place in the call's text (`offset`, `len`: UTF-8 bytes) and its
`verdict` (cluster, distance, threshold, score, anomaly, reasons) as data:
the anomaly counts come from the verdicts, never from the text.

Input is read by the component's own log reader, the `logsieve` CLI's, in
an instance of its own: `[constructor]reader` (`--format`: ndjson, the
default, or auto, zeek_tsv, zeek_json, csv, tsv), `[method]reader.read-text`
with each chunk of the input decoded as UTF-8 (`[method]reader.read` with
the bytes of the lines that do not decode: see `utf8_pieces`) and
`[method]reader.finish` at its end. It splits lines (CRLF, a BOM, blank
lines, lines over 16 MiB, invalid UTF-8) and gives NDJSON events, their line
numbers and the lines it could not read.
This host only opens the input, detects and decompresses gzip, and reports
what the reader cannot see as the CLI does: a gzip stream cut short
(`truncated_gzip`) or corrupt (`corrupt_gzip`) gives the records decoded
before the cut, then one error record at the line after the last complete
one.

Compiling the component takes seconds here, so the compiled code is cached
(`Component.serialize` / `Component.deserialize`) in `$LOGSIEVE_CACHE_DIR`,
else `$XDG_CACHE_HOME/logsieve`, else `~/.cache/logsieve` (`LOGSIEVE_CACHE_DIR=`
empty disables it), keyed by the component's SHA-256 and the wasmtime version.
wasmtime-py's conversion of values is made faster (see `speed_up_wasmtime`).

Output: scored events (and events passed on unscored, and scored window
aggregates) as NDJSON, in the order the CLI writes them; one error record per
event that could not be used: {"reason","detail","model","line","event"}.
Exit status: 0 done, 2 error (a refused model, unreadable input), 3 the counts
do not add up.
"""

import argparse
import codecs
import ctypes
import hashlib
import json
import os
import struct
import sys
import threading
import time
import zlib
from importlib import metadata

import wasmtime
import wasmtime.component as wc

INTERFACE = "logsieve:transform/scoring@0.5.0"
MAX_BATCH_BYTES = 16 << 20  # as the CLI: a batch holds at most 16 MiB of event text
RAW_CAP = 4096  # the CLI keeps at most this many bytes of an unreadable line
CHUNK = 256 << 10  # bytes read (and decompressed) at a time: about the text handed to the reader per call
TICK = 0.01  # epoch ticks for the per-batch deadline, as the CLI's


def fail(msg, code=2):
    sys.stderr.write(f"score.py: {msg}\n")
    sys.exit(code)


def describe_model_error(e):
    """A refused model (the `model-error` variant), said as the CLI says it."""
    tag, val = e.tag, e.payload
    if tag == "truncated":
        return f"truncated model file: {val}"
    if tag == "foreign":
        return f"not a logsieve model: {val}"
    if tag == "unsupported-version":
        return (f"model format version {val.found} is newer than this logsieve reads "
                f"(up to {val.supported}); upgrade logsieve")
    if tag == "corrupted":
        return f"corrupted model file: {val}"
    if tag == "invalid":
        return f"invalid model: {val}"
    return f"model refused: {tag} {val!r}"


def speed_up_wasmtime():
    """Make wasmtime-py 50's conversion of values between Python and the component faster.

    - A type object describes one immutable type, but wasmtime-py asks the C
      API again for a variant's cases, a record's fields, an option's or a
      list's element type for every value it converts (twice per variant:
      in `_tagged` and in `_lift`): on batches of 1000 that was about 80 %
      of this host's time. They are kept on the type object.
    - A list of numbers (`list<u64>`: the reader's line numbers;
      `list<f64>`: encoded vectors) is lifted with one `struct.iter_unpack`
      over the C values instead of one Python call per number.

    Only done when the library looks as expected (the pinned version);
    otherwise it runs as it is, slower. Returns whether it was done.
    """
    from wasmtime import _ffi as ffi
    from wasmtime.component import _types as T

    vt, vl = getattr(T, "VariantType", None), getattr(T, "VariantLikeType", None)
    props = [(T, c, p) for c, p in (("VariantType", "cases"), ("RecordType", "fields"), ("OptionType", "payload"),
                                     ("ListType", "element"), ("FlagsType", "names"), ("ResultType", "ok"),
                                     ("ResultType", "err"))]
    val_t = getattr(ffi, "wasmtime_component_val_t", None)
    if (vt is None or vl is None or "_tagged" not in vl.__dict__ or val_t is None
            or not all(isinstance(getattr(getattr(T, c, None), "__dict__", {}).get(p), property) for _, c, p in props)
            or ctypes.sizeof(val_t) != 32 or val_t.of.offset != 8 or not hasattr(T.ListType, "convert_from_c")):
        return False
    if getattr(T.ListType, "_logsieve_fast", False):
        return True

    def cached(cls, name):
        fget = cls.__dict__[name].fget
        key = f"_logsieve_{name}"

        def get(self):
            d = self.__dict__
            v = d.get(key)
            if v is None:
                v = d[key] = fget(self)
            return v

        setattr(cls, name, property(get, doc=cls.__dict__[name].__doc__))

    for _, c, p in props:
        cached(getattr(T, c), p)
    tagged = vl._tagged

    def cached_tagged(self):
        t = self.__dict__.get("_logsieve_tagged")
        if t is None:
            t = self.__dict__["_logsieve_tagged"] = tagged(self)
        return t

    vl._tagged = cached_tagged

    size = ctypes.sizeof(val_t)
    lift = T.ListType.convert_from_c
    numbers = {T.U64: "<8xQ16x", T.F64: "<8xd16x", T.U32: "<8xI20x"}

    def fast_lift(self, c):
        fmt = numbers.get(type(self.element))
        if fmt is None or c.kind != ffi.WASMTIME_COMPONENT_LIST.value:
            return lift(self, c)
        try:
            n = c.of.list.size
            if n == 0:
                return []
            return [v for (v,) in struct.iter_unpack(fmt, ctypes.string_at(c.of.list.data, n * size))]
        finally:
            ffi.wasmtime_component_vallist_delete(ctypes.byref(c.of.list))

    T.ListType.convert_from_c = fast_lift
    T.ListType._logsieve_fast = True
    return True


class Unsupported(Exception):
    """A type the fast lifter does not read (the function keeps wasmtime-py's own conversion)."""


def _layout_ok():
    """Whether wasmtime's C values have the layout `compile_lifter` reads (wasmtime 50, 64-bit)."""
    from wasmtime import _ffi as ffi
    try:
        v, u = ffi.wasmtime_component_val_t, ffi.wasmtime_component_valunion_t
        e, var, res = (ffi.wasmtime_component_valrecord_entry, ffi.wasmtime_component_valvariant_t,
                       ffi.wasmtime_component_valresult_t)
        return (ctypes.sizeof(v) == 32 and v.of.offset == 8 and ctypes.sizeof(e) == 48 and e.val.offset == 16
                and var.val.offset == 16 and res.val.offset == 8 and u.list.offset == 0
                and ffi.wasmtime_component_vallist_t.data.offset == 8 and ctypes.sizeof(ffi.wasm_name_t) == 16
                and ffi.wasm_name_t.data.offset == 8 and ctypes.sizeof(ctypes.c_void_p) == 8)
    except AttributeError:
        return False


_VIEWS = {}  # n -> ctypes.c_char * n


def _view(p, n):
    """The n bytes at address p, without copying them (a ctypes array: a buffer
    `struct.unpack_from` reads). `ctypes.string_at` costs 3-4 times as much."""
    t = _VIEWS.get(n)
    if t is None:
        t = ctypes.c_char * n
        if n <= 4096:
            _VIEWS[n] = t
    return t.from_address(p)


def compile_lifter(ty):
    """A function (buffer, offset) -> value that reads one C value of type `ty`
    (`wasmtime_component_val_t`: 32 bytes, the kind at 0, the payload at 8) and
    what it points to, giving what wasmtime-py's `convert_from_c` gives (Record,
    Variant, list, set, ...), without changing or freeing anything: the caller
    frees the whole result once. Raises Unsupported for types it does not read."""
    from wasmtime.component import _types as T
    cut = struct.Struct
    qq, q, i32, u32, i64, u64, f64 = (cut("<QQ").unpack_from, cut("<Q").unpack_from, cut("<i").unpack_from,
                                      cut("<I").unpack_from, cut("<q").unpack_from, cut("<Q").unpack_from,
                                      cut("<d").unpack_from)
    qqq, u8 = cut("<QQQ").unpack_from, cut("<B").unpack_from
    numbers = {T.U64: "<8xQ16x", T.S64: "<8xq16x", T.F64: "<8xd16x", T.U32: "<8xI20x", T.S32: "<8xi20x"}
    scalars = {T.U32: u32, T.S32: i32, T.U64: u64, T.S64: i64, T.F64: f64}
    view = _view
    if type(ty) in scalars:
        f = scalars[type(ty)]
        return lambda b, o: f(b, o + 8)[0]
    if isinstance(ty, T.Bool):
        return lambda b, o: u8(b, o + 8)[0] != 0
    if isinstance(ty, (T.String, T.EnumType)):
        def string(b, o):
            n, p = qq(b, o + 8)
            return _decode_utf8(p, n, None) if n else ""
        return string
    if isinstance(ty, (T.ListType, T.TupleType)):
        if isinstance(ty, T.TupleType):
            els = [compile_lifter(e) for e in ty.elements]

            def tup(b, o):
                n, p = qq(b, o + 8)
                arr = view(p, n * 32)
                return tuple(el(arr, k * 32) for k, el in enumerate(els))
            return tup
        el_ty = ty.element
        if isinstance(el_ty, T.U8):
            def blob(b, o):
                n, p = qq(b, o + 8)
                return ctypes.string_at(p, n * 32)[8::32] if n else b""
            return blob
        fmt = numbers.get(type(el_ty))
        if fmt is not None:
            def nums(b, o):
                n, p = qq(b, o + 8)
                return [v for (v,) in struct.iter_unpack(fmt, view(p, n * 32))] if n else []
            return nums
        el = compile_lifter(el_ty)

        def lst(b, o):
            n, p = qq(b, o + 8)
            if not n:
                return []
            arr = view(p, n * 32)
            return [el(arr, k) for k in range(0, n * 32, 32)]
        return lst
    if isinstance(ty, T.RecordType):
        # One struct read for the fields held in place (numbers, bools) and the
        # pointers of option<number> fields; the others through their lifters.
        codes = {T.U32: "I", T.S32: "i", T.U64: "Q", T.S64: "q", T.F64: "d", T.Bool: "?"}
        c_nums = {T.F64: ctypes.c_double, T.U32: ctypes.c_uint32, T.U64: ctypes.c_uint64}
        fmt, pos, plan = "<", 0, []
        for k, (name, f) in enumerate(ty.fields):
            at8 = k * 48 + 16 + 8  # field k's value is at k * 48 + 16, its payload 8 further
            code = codes.get(type(f))
            opt = (isinstance(f, T.OptionType) and not f._tagged() and c_nums.get(type(f.payload)))
            if code or opt:
                fmt += f"{at8 - pos}x" if at8 > pos else ""
                fmt += code or "Q"
                pos = at8 + struct.calcsize("<" + (code or "Q"))
                plan.append((name, 0 if code else opt, None))
            else:
                plan.append((name, None, (compile_lifter(f), k * 48 + 16)))
        nf, flat = len(plan), cut(fmt).unpack_from
        Record = wc.Record

        def record(b, o):
            n, p = qq(b, o + 8)
            if n != nf:
                raise RuntimeError(f"a record with {n} fields, {nf} expected")
            arr = view(p, n * 48)
            vals = iter(flat(arr))
            r = Record()
            d = r.__dict__
            for name, how, sub in plan:
                if how == 0:
                    d[name] = next(vals)
                elif how is not None:
                    ptr = next(vals)
                    d[name] = how.from_address(ptr + 8).value if ptr else None
                else:
                    d[name] = sub[0](arr, sub[1])
            return r
        return record
    if isinstance(ty, T.FlagsType):
        def flags(b, o):
            n, p = qq(b, o + 8)
            return ({ctypes.string_at(dp, dn).decode("utf-8") for dn, dp in struct.iter_unpack("<QQ", view(p, n * 16))}
                    if n else set())
        return flags
    if isinstance(ty, (T.VariantType, T.OptionType, T.ResultType)):
        tagged = ty._tagged()
        if isinstance(ty, T.OptionType) and not tagged and type(ty.payload) in (T.F64, T.U32, T.U64):
            # option<number>: the number read where it is.
            c_num = {T.F64: ctypes.c_double, T.U32: ctypes.c_uint32, T.U64: ctypes.c_uint64}[type(ty.payload)]

            def option_number(b, o):
                (p,) = q(b, o + 8)
                return c_num.from_address(p + 8).value if p else None
            return option_number
        cases = {name.encode("utf-8"): (name, None if c is None else compile_lifter(c)) for name, c in ty._cases()}
        Variant = wc.Variant

        def case(name, f, p):
            payload = f(view(p, 32), 0) if f is not None and p else None
            if tagged:
                return Variant(name) if f is None else Variant(name, payload)
            return payload

        if isinstance(ty, T.OptionType):
            none_, some = cases[b"none"], cases[b"some"]

            def option(b, o):
                (p,) = q(b, o + 8)
                return case(*some, p) if p else case(*none_, 0)
            return option
        if isinstance(ty, T.ResultType):
            ok, err = cases[b"ok"], cases[b"err"]

            def result(b, o):
                (p,) = q(b, o + 16)
                return case(*(ok if u8(b, o + 8)[0] else err), p)
            return result

        def variant(b, o):
            n, dp, p = qqq(b, o + 8)
            return case(*cases[view(dp, n).raw], p)
        return variant
    raise Unsupported(type(ty).__name__)


class Lifted:
    """A component function called as wasmtime-py's `Func` calls it, except that
    its result is read by `compile_lifter` (several times faster for records
    and variants: the verdicts of `score-lines`) and then freed at once."""

    def __init__(self, store, func):
        from wasmtime import _ffi as ffi
        self.ffi, self.func = ffi, func
        fty = func.type(store)
        self.params = [ty for _, ty in fty.params]
        from wasmtime.component import _types as T
        self.strings = [isinstance(ty, T.String) for ty in self.params]
        result = fty.result
        if result is None:
            raise Unsupported("no result")
        self.lift = compile_lifter(result)

    def __call__(self, store, *params):
        from wasmtime.component._enter import enter_wasm
        ffi = self.ffi
        if len(params) != len(self.params):
            raise TypeError(f"{len(params)} parameters given, {len(self.params)} expected")
        args = (ffi.wasmtime_component_val_t * len(params))()
        n = 0
        try:
            for ty, val in zip(self.params, params):
                if self.strings[n] and type(val) is str:
                    _lower_str(ffi, val, args[n])
                else:
                    ty.convert_to_c(store, val, ctypes.pointer(args[n]))
                n += 1
            out = ffi.wasmtime_component_val_t()
            enter_wasm(lambda: ffi.wasmtime_component_func_call(ctypes.byref(self.func._func), store._context(), args,
                                                                n, ctypes.byref(out), 1))
            try:
                return self.lift(_view(ctypes.addressof(out), 32), 0)
            finally:
                ffi.wasmtime_component_val_delete(ctypes.byref(out))
        finally:
            for k in range(n):
                ffi.wasmtime_component_val_delete(ctypes.byref(args[k]))


FAST_LIFT = []  # [bool]: set by speed_up_wasmtime's caller (main, or pipeline-examples/spark)

# A string crosses with one copy each way on the Python side (the batch in,
# the scored text out: hundreds of KB per call), where wasmtime-py makes three
# going in (encode, a ctypes array, the C vector) and two coming out (bytes,
# then str).
_decode_utf8 = ctypes.pythonapi.PyUnicode_DecodeUTF8
_decode_utf8.restype = ctypes.py_object
_decode_utf8.argtypes = [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_char_p]


def _lower_str(ffi, s, val):
    """Set the C value `val` to the string `s` (a C vector the call frees);
    `ffi`: wasmtime's `_ffi` module."""
    b = s.encode("utf-8")
    val.kind = ffi.WASMTIME_COMPONENT_STRING
    ffi.wasm_byte_vec_new(ctypes.byref(val.of.string), len(b), ctypes.cast(ctypes.c_char_p(b), ctypes.POINTER(ffi.wasm_byte_t)))


def fast_func(store, func):
    """`func`, lifted fast when speed_up_wasmtime was done and the C layout is the one expected."""
    if FAST_LIFT and FAST_LIFT[0]:
        try:
            return Lifted(store, func)
        except Unsupported:
            pass
    return func


class GuestFault(Exception):
    """A call into the component failed (trap, deadline, memory limit)."""

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def cache_dir():
    d = os.environ.get("LOGSIEVE_CACHE_DIR")
    if d is not None:
        return d or None
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "logsieve")
    home = os.environ.get("HOME")
    return os.path.join(home, ".cache", "logsieve") if home else None


def load_component(engine, path):
    """Compile the component, or load it precompiled from the cache."""
    with open(path, "rb") as f:
        wasm = f.read()
    cdir = cache_dir()
    if cdir is None:
        return wc.Component(engine, wasm), "compiled"
    version = metadata.version("wasmtime")
    key = hashlib.sha256(wasm).hexdigest()[:32]
    cached = os.path.join(cdir, f"py-{key}-wasmtime{version}.cwasm")
    if os.path.exists(cached):
        try:
            # The file was written by `serialize` below, in the user's own
            # cache; wasmtime still refuses one from another version or
            # engine configuration (then it is compiled again).
            return wc.Component.deserialize_file(engine, cached), "cache"
        except wasmtime.WasmtimeError:
            pass
    component = wc.Component(engine, wasm)
    try:  # the cache is an optimisation: failing to write it is no error
        os.makedirs(cdir, exist_ok=True)
        tmp = f"{cached}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(component.serialize())
        os.replace(tmp, cached)
    except OSError:
        pass
    return component, "compiled"


class Ticker:
    """Advances the engine's epoch every TICK: the granularity of deadlines."""

    def __init__(self, engine):
        self.engine = engine
        self.stop = threading.Event()
        threading.Thread(target=self.run, name="logsieve-epoch", daemon=True).start()

    def run(self):
        while not self.stop.wait(TICK):
            self.engine.increment_epoch()


class Instance:
    """One instance of the component in a store of its own, with the interface's functions."""

    def __init__(self, engine, component, ticks, memory_bytes):
        self.ticks = ticks
        self.store = wasmtime.Store(engine)
        self.store.set_limits(memory_size=memory_bytes)
        self.store.set_epoch_deadline(ticks)
        self.instance = wc.Linker(engine).instantiate(self.store, component)
        self.iface = self.instance.get_export_index(self.store, INTERFACE)
        if self.iface is None:
            fail(f"the component does not export {INTERFACE}")

    def func(self, name, fast=False):
        """The interface's function `name`; `fast`: its results lifted by `Lifted`."""
        idx = self.instance.get_export_index(self.store, name, self.iface)
        f = self.instance.get_func(self.store, idx) if idx is not None else None
        if f is None:
            fail(f"the component's {INTERFACE} has no {name}")
        return fast_func(self.store, f) if fast else f


class Scorer:
    """One instance of the component with the model loaded, under limits.

    A call that traps, runs past its deadline or hits the memory limit raises
    GuestFault, and the instance has been re-created from the same model.
    """

    def __init__(self, engine, component, model, options, timeout_ms, memory_limit_mb):
        self.engine, self.component = engine, component
        self.model, self.options = model, options
        self.ticks = max(1, -(-timeout_ms // int(TICK * 1000)))
        self.timeout_ms, self.memory_bytes = timeout_ms, memory_limit_mb << 20
        self.restarts = 0
        self.refused = self.start()  # the model-error variant, or None

    def start(self):
        """A new store, instance and scorer. Returns the model-error or None."""
        inst = Instance(self.engine, self.component, self.ticks, self.memory_bytes)
        self.store = inst.store
        # Kept for hosts that call more of the interface (pipeline-examples/spark: encode-lines, extract-batch).
        self.instance, self.iface, self.func = inst.instance, inst.iface, inst.func
        self.f_info = inst.func("[method]scorer.info")
        self.f_score_lines = inst.func("[method]scorer.score-lines", fast=True)
        self.f_flush_lines = inst.func("[method]scorer.flush-lines", fast=True)
        # `result<scorer, model-error>`: wasmtime-py gives the `ok` payload (a
        # ResourceAny) or the `err` one (a Variant) as they are.
        made = self.call(inst.func("[constructor]scorer"), self.model, self.options, restart=False)
        if isinstance(made, wc.Variant):
            return made
        self.handle = made
        return None

    def call(self, f, *params, restart=True):
        self.store.set_epoch_deadline(self.ticks)
        try:
            return f(self.store, *params)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            fault = self.classify(e)
        if not restart:
            raise fault
        # The instance is poisoned: replace it, then report the fault.
        if self.start() is not None:
            fail("the model was refused when the instance was re-created")
        self.restarts += 1
        raise fault

    def classify(self, e):
        msg = str(e)
        if "Caused by:" in msg:  # the trap itself, not the backtrace before it
            msg = msg.split("Caused by:", 1)[1]
        msg = " ".join(msg.split())
        if "interrupt" in msg:
            return GuestFault("guest_timeout", f"the call ran past its deadline of {self.timeout_ms} ms "
                                               "(--batch-timeout-ms) and was interrupted")
        return GuestFault("guest_trap", f"the component trapped: {msg}")

    def info(self):
        return self.call(self.f_info, self.handle)

    def score_lines(self, text):
        return self.call(self.f_score_lines, self.handle, text)

    def flush_lines(self):
        return self.call(self.f_flush_lines, self.handle)


class Reader:
    """The component's log reader (the `reader` resource) for one input, in an
    instance of its own, so that a trap in a scorer leaves reading unharmed.

    Raises ValueError with the component's words for an unknown format.
    `read_text(str)` (bytes that are UTF-8), `read(bytes)` (any bytes; see
    `utf8_pieces`) and `finish()` give `read-lines` records (events, lines,
    errors); a trap in the reader itself raises GuestFault.
    """

    TIMEOUT_MS = 60_000

    def __init__(self, engine, component, fmt, memory_limit_mb=1024, instance=None):
        self.inst = instance or Instance(engine, component, self.TIMEOUT_MS // int(TICK * 1000), memory_limit_mb << 20)
        self.f_read = self.inst.func("[method]reader.read", fast=True)
        self.f_read_text = self.inst.func("[method]reader.read-text", fast=True)
        self.f_finish = self.inst.func("[method]reader.finish", fast=True)
        # `result<reader, string>`: the ResourceAny, or the message (a str).
        made = self.call(self.inst.func("[constructor]reader"), fmt)
        if isinstance(made, str):
            raise ValueError(made)
        self.handle = made

    def call(self, f, *params):
        self.inst.store.set_epoch_deadline(self.inst.ticks)
        try:
            return f(self.inst.store, *params)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as e:
            raise GuestFault("guest_trap", f"the component's reader failed: {' '.join(str(e).split())}") from e

    def read(self, data):
        return self.call(self.f_read, self.handle, data)

    def read_text(self, text):
        return self.call(self.f_read_text, self.handle, text)

    def finish(self):
        return self.call(self.f_finish, self.handle)

    def close(self):
        """Drop the resource (the instance can then read another input)."""
        if self.handle is not None:
            self.handle.drop(self.inst.store)
            self.handle = None


def raw_text(b):
    """Lossy UTF-8 of at most RAW_CAP bytes, cut on a char boundary (the CLI's `raw_text`)."""
    s = b[:RAW_CAP].decode("utf-8", "replace")
    e = s.encode("utf-8")
    if len(e) > RAW_CAP:  # U+FFFD is 3 bytes: cut on a char boundary
        cut = RAW_CAP
        while cut > 0 and (e[cut] & 0xC0) == 0x80:
            cut -= 1
        s = e[:cut].decode("utf-8")
    return s


class InputError(Exception):
    """An I/O-level failure the reader cannot see: the CLI reader's reason and words."""

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def input_chunks(f, name, chunk=CHUNK):
    """The bytes of a binary file object, gzip (detected by its content, as the
    CLI does; concatenated members read as one stream) decompressed, in
    pieces of at most `chunk` bytes. Raises InputError: `read_failed`,
    `truncated_gzip` (after yielding what was decoded), `corrupt_gzip`."""
    try:
        data = f.read(chunk)
    except OSError as e:
        raise InputError("read_failed", f"cannot read {name}: {e}") from e

    def more():
        try:
            return f.read(chunk)
        except OSError as e:
            raise InputError("read_failed", f"read error in {name}: {e}; rest of the file skipped") from e

    if data[:2] != b"\x1f\x8b":
        while data:
            yield data
            data = more()
        return
    try:
        while True:
            d = zlib.decompressobj(31)
            while not d.eof:
                out = d.decompress(data, chunk)
                data = d.unconsumed_tail
                if out:
                    yield out
                    continue
                if not data:
                    data = more()
                    if not data:
                        # flate2's words, which the CLI quotes.
                        raise InputError("truncated_gzip", f"gzip stream ends early in {name}: incomplete deflate "
                                                           "stream; rest of the file skipped")
            data = d.unused_data or more()
            if not data:
                return
    except zlib.error as e:
        raise InputError("corrupt_gzip", f"corrupt gzip stream in {name}: {e}; rest of the file skipped") from e


def utf8_pieces(chunks):
    """The bytes of `chunks` as the reader is handed them: a str for what decodes
    as UTF-8 (`read-text`: a string crosses as one copy, where wasmtime-py
    lowers a `list<u8>` a byte at a time) and bytes for the lines that do not
    (`read`: the reader reports them `invalid_utf8`, as the CLI does), in input
    order. Together they are exactly the input's bytes, so the reader reads
    what the CLI reads: the same events, errors, line numbers and details.

    A character cut by the end of a chunk is carried to the next one (one cut
    by the end of the input goes as bytes). In a chunk that does not decode,
    only the lines holding the bytes that do not go as bytes (consecutive ones
    together); the lines around them still go as text."""
    decode = codecs.utf_8_decode  # what codecs.getincrementaldecoder("utf-8") runs
    held = b""  # the start of a character cut by the end of the last chunk
    for data in chunks:
        if held:
            data, held = held + data, b""
        view, pos, n = memoryview(data), 0, len(data)
        raw = None  # where the lines that do not decode, not yet handed over, start
        while pos < n:
            try:
                # final=False: a character cut by the end is left out (`used`), not an error.
                text, used = decode(view[pos:], "strict", False)
            except UnicodeDecodeError as e:
                bad = pos + e.start
                nl = data.rfind(b"\n", pos, bad)
                start = pos if nl < 0 else nl + 1  # the line holding the bad byte, to its "\n"
                end = data.find(b"\n", bad) + 1 or n
                if start > pos:
                    if raw is not None:
                        yield data[raw:pos]
                        raw = None
                    yield data[pos:start].decode("utf-8")
                if raw is None:
                    raw = start
                pos = end
                continue
            if raw is not None:
                yield data[raw:pos]
                raw = None
            if text:
                yield text
            held = data[pos + used:]
            break
        if raw is not None:
            yield data[raw:]
    if held:
        yield held


def read_items(reader, chunks):
    """The reader's items for an input, in input order, per piece read (see
    utf8_pieces): lists of (line, text, None) for an event and (line, None,
    (reason, detail, raw)) for a line it could not use; an I/O failure of
    `chunks` becomes one such item at the line being read, as the CLI reports
    it, and ends the input."""
    lines_done, partial = 0, b""

    def counted():
        nonlocal lines_done, partial
        for data in chunks:
            n = data.count(b"\n")
            if n:
                lines_done += n
                partial = data[data.rfind(b"\n") + 1:][:RAW_CAP]
            elif len(partial) < RAW_CAP:
                partial += data[:RAW_CAP - len(partial)]
            yield data

    try:
        for piece in utf8_pieces(counted()):
            yield merged(reader.read_text(piece) if isinstance(piece, str) else reader.read(piece))
    except InputError as e:
        if e.reason == "read_failed" and lines_done == 0 and not partial:
            yield [(0, None, (e.reason, e.detail, ""))]  # nothing read: about the whole input
        else:
            # The records decoded before the cut are in; the rest is skipped.
            yield [(lines_done + 1, None, (e.reason, e.detail, raw_text(partial)))]
        return
    yield merged(reader.finish())  # the last line if it has no "\n"


def merged(r):
    """A `read-lines` record as items, its events and errors merged back into input order (by line)."""
    texts = r.events.split("\n")
    texts.pop()  # each event is followed by "\n": the last piece is empty
    lines = r.lines
    if len(texts) != len(lines):
        raise RuntimeError(f"the reader gave {len(texts)} events for {len(lines)} line numbers")
    items = [(line, text, None) for line, text in zip(lines, texts)]
    if r.errors:
        items += [(e.line, None, (e.reason, e.detail, e.raw)) for e in r.errors]
        items.sort(key=lambda it: it[0])  # stable: each list is in order already
    return items


def batches(item_lists, batch_size):
    """Batches as the CLI cuts them: at most `batch_size` items (events and
    unreadable lines) and about MAX_BATCH_BYTES of event text."""
    batch, size = [], 0
    for items in item_lists:
        for it in items:
            text = it[1]
            n = 0 if text is None else len(text) if text.isascii() else len(text.encode("utf-8"))
            if batch and (len(batch) >= batch_size or size + n > MAX_BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(it)
            size += n
    if batch:
        yield batch


def scored_texts(text, scored, cut=True, newline=True):
    """The texts of a `scored-lines` result (its scored lines' `offset` and `len`,
    in UTF-8 bytes), checked as the CLI checks them: each the next in the text,
    a "\n" after it. Python strings count code points: an ASCII text is cut as
    it is (str), any other as bytes. With cut=False only checked; with
    newline=False the texts without their "\n"."""
    ascii_ = text.isascii()
    b = text if ascii_ else text.encode("utf-8")
    nl = "\n" if ascii_ else b"\n"
    tail = 1 if newline else 0
    out, at = [], 0
    for s in scored:
        end = s.offset + getattr(s, "len")
        if s.offset != at or b[end:end + 1] != nl:
            raise RuntimeError("the component's scored text does not match its outcomes")
        if cut:
            out.append(b[at:end + tail])
        at = end + 1
    if at != len(b):
        raise RuntimeError("the component's scored text does not match its outcomes")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--component", default=None,
                    help="logsieve.wasm (`logsieve component -o logsieve.wasm`; default: the one in this package)")
    ap.add_argument("--model", required=True, help="a model artifact written by `logsieve train`")
    ap.add_argument("--input", default="-", help="the log (gzip allowed); - for stdin")
    ap.add_argument("--format", default="ndjson",
                    help="the input's format, as the CLI names them: ndjson (default), auto, zeek_tsv, zeek_json, csv, tsv")
    ap.add_argument("--out", help="scored NDJSON (default: stdout)")
    ap.add_argument("--errors", help="error records (default: stderr)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--top-features", type=int, default=3)
    ap.add_argument("--emit-vector", action="store_true")
    ap.add_argument("--batch-timeout-ms", type=int, default=10000)
    ap.add_argument("--memory-limit-mb", type=int, default=1024)
    ap.add_argument("--summary-json", help="write the counts as JSON (the names of `logsieve run --summary-json`)")
    ap.add_argument("--no-type-cache", action="store_true",
                    help="use wasmtime-py's value conversion as it is (slower; see speed_up_wasmtime)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.component is None:
        a.component = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logsieve.wasm")
    if a.batch_size < 1 or a.top_features < 0 or a.batch_timeout_ms < 1 or a.memory_limit_mb < 1:
        fail("--batch-size, --batch-timeout-ms and --memory-limit-mb must be positive, --top-features not negative")

    type_cache = not a.no_type_cache and speed_up_wasmtime()
    FAST_LIFT.append(type_cache and _layout_ok())
    config = wasmtime.Config()
    config.epoch_interruption = True
    engine = wasmtime.Engine(config)
    ticker = Ticker(engine)
    try:
        component, loaded_from = load_component(engine, a.component)
    except (OSError, wasmtime.WasmtimeError) as e:
        fail(f"loading the component {a.component}: {e}")
    try:
        with open(a.model, "rb") as f:
            model = f.read()  # `list<u8>` is passed as bytes
    except OSError as e:
        fail(f"reading the model {a.model}: {e}")
    options = wc.Record()
    setattr(options, "top-features", a.top_features)
    setattr(options, "emit-vector", a.emit_vector)
    try:
        scorer = Scorer(engine, component, model, options, a.batch_timeout_ms, a.memory_limit_mb)
    except GuestFault as e:
        fail(f"loading the model into the component: {e}")
    if scorer.refused is not None:
        fail(f"{a.model}: {describe_model_error(scorer.refused)}")
    info = scorer.info()
    model_id = info.id
    if info.dimension == 0:
        fail(f"{a.model} holds only a spec; train it first with `logsieve train`")
    try:
        reader = Reader(engine, component, a.format, a.memory_limit_mb)
    except ValueError as e:
        fail(f"--format: {e}")

    try:
        out = open(a.out, "wb") if a.out else sys.stdout.buffer
        err = open(a.errors, "w", encoding="utf-8") if a.errors else sys.stderr
    except OSError as e:
        fail(f"opening the output: {e}")
    # The CLI's transform counters (`logsieve run --summary-json`), same names.
    c = dict.fromkeys(("in", "scored", "anomalies", "errors", "passed", "dropped", "absorbed", "emitted",
                       "emitted_scored", "emitted_errors", "in_rare_clusters", "guest_faults"), 0)

    def record(reason, detail, line, event):
        c["errors"] += 1
        return json.dumps({"reason": reason, "detail": detail, "model": model_id, "line": line, "event": event},
                          ensure_ascii=False, separators=(",", ":")) + "\n"

    def verdict(v):
        # Counted from the verdict record, as the CLI counts it.
        if v.anomaly:
            c["anomalies"] += 1
        if "rare-cluster" in v.reasons:
            c["in_rare_clusters"] += 1

    def take(result, events, scored_parts, error_parts):
        """A `scored-lines` result: its outcomes for `events` (none from
        flush-lines), then the aggregates emitted, in the CLI's order."""
        outcomes = result.outcomes
        if len(outcomes) != len(events):
            fail(f"the component returned {len(outcomes)} outcomes for {len(events)} events")
        scored, passed = [], False
        for (line, ev), o in zip(events, outcomes):
            tag = o.tag
            if tag == "scored":
                c["scored"] += 1
                verdict(o.payload.verdict)
                scored.append(o.payload)
            elif tag == "passed":
                c["passed"] += 1
                passed = True
            elif tag == "dropped":
                c["dropped"] += 1
            elif tag == "absorbed":
                c["absorbed"] += 1
            elif tag == "failed":
                error_parts.append(record(o.payload.reason, o.payload.detail, line, ev))
            else:
                fail(f"unknown outcome {tag}")
        for r in result.emitted:
            c["emitted"] += 1
            if r.tag == "scored":
                c["emitted_scored"] += 1
                verdict(r.payload.verdict)
                scored.append(r.payload)
            elif r.tag == "failed":
                c["emitted_errors"] += 1
                error_parts.append(record(r.payload.reason, r.payload.detail, 0, ""))
            else:
                fail(f"the component emitted an aggregate as {r.tag}")
        try:
            texts = scored_texts(result.text, scored, cut=passed)
        except RuntimeError as e:
            fail(str(e))
        enc = (lambda t: t.encode("utf-8")) if result.text.isascii() else (lambda t: t)
        if not passed:
            # The events' texts then the aggregates': the order the CLI writes them.
            scored_parts.append(result.text.encode("utf-8"))
            return
        # Events passed on unscored go out between the scored ones.
        k = 0
        for (_, ev), o in zip(events, outcomes):
            if o.tag == "scored":
                scored_parts.append(enc(texts[k]))
                k += 1
            elif o.tag == "passed":
                scored_parts.append(ev.encode("utf-8") + b"\n")
        scored_parts.extend(enc(t) for t in texts[k:])

    name = "<stdin>" if a.input == "-" else a.input
    t0 = time.perf_counter()
    try:
        f = sys.stdin.buffer if a.input == "-" else open(a.input, "rb")
    except OSError as e:
        fail(f"reading {a.input}: {e}")
    items = read_items(reader, input_chunks(f, name))
    try:
        for batch in batches(items, a.batch_size):
            c["in"] += len(batch)
            scored_parts, error_parts = [], []
            events = []
            for line, text, bad in batch:
                if bad is not None:
                    if bad[0] == "read_failed" and line == 0:
                        fail(bad[1])  # the CLI cannot read the one input it was given
                    error_parts.append(record(bad[0], bad[1], line, bad[2]))
                else:
                    events.append((line, text))
            if events:
                try:
                    result = scorer.score_lines("\n".join(t for _, t in events) + "\n")
                except GuestFault as e:
                    # Every event of the batch goes to the errors with the
                    # reason; the instance was re-created and goes on.
                    c["guest_faults"] += 1
                    detail = f"{e.detail}; the batch of {len(events)} events it was in failed with it"
                    sys.stderr.write(f"score.py: warning: a batch of {len(events)} events failed in the component "
                                     f"({e.reason}: {e.detail}); a new instance goes on\n")
                    error_parts.extend(record(e.reason, detail, line, text) for line, text in events)
                    result = None
                if result is not None:
                    take(result, events, scored_parts, error_parts)
            err.write("".join(error_parts))
            out.write(b"".join(scored_parts))
    except GuestFault as e:  # the reader trapped
        fail(f"reading {a.input}: {e}")

    # End of input: windows still open emit their aggregates.
    scored_parts, error_parts = [], []
    try:
        take(scorer.flush_lines(), [], scored_parts, error_parts)
    except GuestFault as e:
        sys.stderr.write(f"score.py: warning: flushing the windows failed ({e}); they are lost\n")
    err.write("".join(error_parts))
    out.write(b"".join(scored_parts))
    out.flush()
    err.flush()
    seconds = time.perf_counter() - t0
    ticker.stop.set()

    line_errors = c["errors"] - c["emitted_errors"]
    scored_all = c["scored"] + c["emitted_scored"]
    summary = dict(c, rating=10 * c["in_rare_clusters"] / scored_all if scored_all else 0.0, model=model_id,
                   seconds=seconds)
    if a.summary_json:
        try:
            with open(a.summary_json, "w", encoding="utf-8") as f:
                json.dump(summary, f, indent=1)
                f.write("\n")
        except OSError as e:
            fail(f"writing {a.summary_json}: {e}")
    if not a.quiet:
        faults = f"; {c['guest_faults']} batch(es) lost to component faults" if c["guest_faults"] else ""
        sys.stderr.write(
            f"score.py: {c['in']} events in {seconds:.2f} s ({c['in'] / max(seconds, 1e-9):.0f} events/s): "
            f"{c['scored']} scored ({c['anomalies']} anomalies) + {c['passed']} passed + {c['dropped']} dropped + "
            f"{c['absorbed']} absorbed + {line_errors} errors; {c['emitted']} aggregates emitted "
            f"({c['emitted_scored']} scored + {c['emitted_errors']} errors){faults}   "
            f"[model {model_id}, component {loaded_from}{'' if type_cache else ', no type cache'}]\n")
    if c["in"] != c["scored"] + c["passed"] + c["dropped"] + c["absorbed"] + line_errors:
        fail(f"accounting: {c['in']} in != {c['scored']} scored + {c['passed']} passed + {c['dropped']} "
             f"dropped + {c['absorbed']} absorbed + {line_errors} errors", 3)


if __name__ == "__main__":
    main()
