#!/usr/bin/env python3
"""Score NDJSON events with the logsieve component in Python (wasmtime-py).

    python score.py --component logsieve.wasm --model conn.model.msgpack \\
        [--input events.ndjson|-] [--out scored.ndjson] [--errors errors.ndjson] \\
        [--batch-size 1000] [--top-features 3] [--emit-vector] \\
        [--batch-timeout-ms 10000] [--memory-limit-mb 1024] [--quiet]

wasmtime-py 50 has no component bindgen, so the component is called through
the dynamic API: instantiate with an empty `Linker` (the component imports
nothing), look the interface up with `get_export_index(store,
"logsieve:transform/scoring@0.4.0")`, then each function by its name in it
(`"[constructor]scorer"`, `"[method]scorer.score-text"`, ...) and call it with
the store first. The calls, in order (wit/logsieve.wit): the constructor
(returns the scorer, or the `model-error` variant), `info`, `score-text`
once per batch of lines, `flush` at the end.

Compiling the component takes seconds here, so the compiled code is cached
(`Component.serialize` / `Component.deserialize`) in `$LOGSIEVE_CACHE_DIR`,
else `$XDG_CACHE_HOME/logsieve`, else `~/.cache/logsieve` (`LOGSIEVE_CACHE_DIR=`
empty disables it), keyed by the component's SHA-256 and the wasmtime version.

Input is read as the `logsieve` CLI's NDJSON reader reads it, so both hosts
see the same events: lines split on "\\n", a "\\r" before it and a UTF-8 BOM
on line 1 removed, surrounding whitespace trimmed; a blank line is an
`empty_line` error and a line that is not UTF-8 an `invalid_utf8` error; gzip
input is detected by its content.

Output: scored events (and events passed on unscored, and scored window
aggregates) as NDJSON, in the order the CLI writes them; one error record per
event that could not be used: {"reason","detail","model","line","event"}.
Exit status: 0 done, 2 error (a refused model, unreadable input), 3 the counts
do not add up.
"""

import argparse
import gzip
import hashlib
import json
import os
import sys
import threading
import time
from importlib import metadata

import wasmtime
import wasmtime.component as wc

INTERFACE = "logsieve:transform/scoring@0.4.0"
MAX_BATCH_BYTES = 16 << 20  # as the CLI: a batch holds at most 16 MiB of event text
RAW_CAP = 4096  # the CLI keeps at most this many bytes of an unreadable line
TICK = 0.01  # epoch ticks for the per-batch deadline, as the CLI's
# Rust's `str::trim` (Unicode White_Space), which differs from `str.strip()`.
RUST_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


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


def cache_variant_types():
    """Make wasmtime-py remember a variant type's cases.

    wasmtime-py 50 asks the C API for a variant's cases again for every value
    it lifts (twice: in `_tagged` and in `_lift`): on batches of 1000 that is
    about 80 % of this host's time. A type object describes one immutable
    type, so its cases can be kept on it. Only done when the library looks
    as expected (the pinned version); otherwise it runs as it is, slower.
    Returns whether it was done.
    """
    from wasmtime.component import _types as T

    vt, vl = getattr(T, "VariantType", None), getattr(T, "VariantLikeType", None)
    if vt is None or vl is None or not isinstance(vt.__dict__.get("cases"), property) or "_tagged" not in vl.__dict__:
        return False
    cases, tagged = vt.cases.fget, vl._tagged

    def cached_cases(self):
        c = self.__dict__.get("_logsieve_cases")
        if c is None:
            c = self.__dict__["_logsieve_cases"] = cases(self)
        return c

    def cached_tagged(self):
        t = self.__dict__.get("_logsieve_tagged")
        if t is None:
            t = self.__dict__["_logsieve_tagged"] = tagged(self)
        return t

    vt.cases = property(cached_cases, doc=vt.cases.__doc__)
    vl._tagged = cached_tagged
    return True


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
        self.store = wasmtime.Store(self.engine)
        self.store.set_limits(memory_size=self.memory_bytes)
        self.store.set_epoch_deadline(self.ticks)
        instance = wc.Linker(self.engine).instantiate(self.store, self.component)
        iface = instance.get_export_index(self.store, INTERFACE)
        if iface is None:
            fail(f"the component does not export {INTERFACE}")
        # Kept for hosts that call more of the interface (pipeline-examples/spark: extract-batch).
        self.instance, self.iface = instance, iface

        def func(name):
            idx = instance.get_export_index(self.store, name, iface)
            f = instance.get_func(self.store, idx) if idx is not None else None
            if f is None:
                fail(f"the component's {INTERFACE} has no {name}")
            return f

        self.f_info = func("[method]scorer.info")
        self.f_score_text = func("[method]scorer.score-text")
        self.f_flush = func("[method]scorer.flush")
        # `result<scorer, model-error>`: wasmtime-py gives the `ok` payload (a
        # ResourceAny) or the `err` one (a Variant) as they are.
        made = self.call(func("[constructor]scorer"), self.model, self.options, restart=False)
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

    def score_text(self, text):
        return self.call(self.f_score_text, self.handle, text)

    def flush(self):
        return self.call(self.f_flush, self.handle)


def raw_text(b):
    s = b[:RAW_CAP].decode("utf-8", "replace")
    e = s.encode("utf-8")
    if len(e) > RAW_CAP:  # U+FFFD is 3 bytes: cut on a char boundary
        cut = RAW_CAP
        while cut > 0 and (e[cut] & 0xC0) == 0x80:
            cut -= 1
        s = e[:cut].decode("utf-8")
    return s


def open_input(path):
    f = sys.stdin.buffer if path == "-" else open(path, "rb", buffering=1 << 20)
    if f.peek(2)[:2] == b"\x1f\x8b":  # gzip, detected by content as the CLI does
        return gzip.GzipFile(fileobj=f)
    return f


def items(f):
    """Each input line: (line, text, None) or (line, None, (reason, detail, raw))."""
    for n, b in enumerate(f, 1):
        if b.endswith(b"\n"):
            b = b[:-1]
        if b.endswith(b"\r"):
            b = b[:-1]
        if n == 1 and b.startswith(b"\xef\xbb\xbf"):
            b = b[3:]
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError as e:
            yield n, None, ("invalid_utf8", f"invalid UTF-8 at byte {e.start}", raw_text(b))
            continue
        text = s.strip(RUST_WS)
        if not text:
            yield n, None, ("empty_line", "empty line", s)
            continue
        yield n, text, None


def batches(f, batch_size):
    batch, size = [], 0
    for it in items(f):
        text = it[1]
        n = 0 if text is None else len(text) if text.isascii() else len(text.encode("utf-8"))
        if batch and (len(batch) >= batch_size or size + n > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(it)
        size += n
    if batch:
        yield batch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--component", required=True, help="logsieve.wasm (`logsieve component -o logsieve.wasm`)")
    ap.add_argument("--model", required=True, help="a model artifact written by `logsieve train`")
    ap.add_argument("--input", default="-", help="NDJSON events (gzip allowed); - for stdin")
    ap.add_argument("--out", help="scored NDJSON (default: stdout)")
    ap.add_argument("--errors", help="error records (default: stderr)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--top-features", type=int, default=3)
    ap.add_argument("--emit-vector", action="store_true")
    ap.add_argument("--batch-timeout-ms", type=int, default=10000)
    ap.add_argument("--memory-limit-mb", type=int, default=1024)
    ap.add_argument("--no-type-cache", action="store_true",
                    help="use wasmtime-py's value conversion as it is (slower; see cache_variant_types)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.batch_size < 1 or a.top_features < 0 or a.batch_timeout_ms < 1 or a.memory_limit_mb < 1:
        fail("--batch-size, --batch-timeout-ms and --memory-limit-mb must be positive, --top-features not negative")

    type_cache = not a.no_type_cache and cache_variant_types()
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
    if getattr(info, "n-clusters") == 0:
        fail(f"{a.model} holds only a spec; train it first with `logsieve train`")

    try:
        out = open(a.out, "wb") if a.out else sys.stdout.buffer
        err = open(a.errors, "w", encoding="utf-8") if a.errors else sys.stderr
    except OSError as e:
        fail(f"opening the output: {e}")
    c = dict(lines=0, scored=0, passed=0, dropped=0, absorbed=0, errors=0,
             emitted=0, emitted_scored=0, emitted_errors=0, guest_faults=0)

    def record(reason, detail, line, event):
        c["errors"] += 1
        return json.dumps({"reason": reason, "detail": detail, "model": model_id, "line": line, "event": event},
                          ensure_ascii=False, separators=(",", ":")) + "\n"

    def emitted(results, scored_parts, error_parts):
        # `list<result<string, event-error>>`: wasmtime-py gives a str for
        # `ok` and a Record for `err`.
        for r in results:
            c["emitted"] += 1
            if isinstance(r, str):
                c["emitted_scored"] += 1
                scored_parts.append(r.encode("utf-8") + b"\n")
            else:
                c["emitted_errors"] += 1
                error_parts.append(record(r.reason, r.detail, 0, ""))

    t0 = time.perf_counter()
    try:
        f = open_input(a.input)
        for batch in batches(f, a.batch_size):
            c["lines"] += len(batch)
            scored_parts, error_parts = [], []
            events = []
            for line, text, bad in batch:
                if bad is not None:
                    error_parts.append(record(bad[0], bad[1], line, bad[2]))
                else:
                    events.append((line, text))
            if events:
                try:
                    result = scorer.score_text("\n".join(t for _, t in events) + "\n")
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
                    outcomes = result.outcomes
                    if len(outcomes) != len(events):
                        fail(f"the component returned {len(outcomes)} outcomes for {len(events)} events")
                    # `scored(len)`: the next `len` *bytes* of the text, then "\n".
                    text = result.text.encode("utf-8")
                    at = 0
                    whole = True  # no passed events: the text goes out as it is
                    for (line, ev), o in zip(events, outcomes):
                        tag = o.tag
                        if tag == "scored":
                            c["scored"] += 1
                            end = at + o.payload
                            if text[end:end + 1] != b"\n":
                                fail("the component's scored text does not match its outcomes")
                            if not whole:
                                scored_parts.append(text[at:end + 1])
                            at = end + 1
                        elif tag == "passed":
                            c["passed"] += 1
                            if whole:
                                whole = False
                                scored_parts.append(text[:at])
                            scored_parts.append(ev.encode("utf-8") + b"\n")
                        elif tag == "dropped":
                            c["dropped"] += 1
                        elif tag == "absorbed":
                            c["absorbed"] += 1
                        elif tag == "failed":
                            error_parts.append(record(o.payload.reason, o.payload.detail, line, ev))
                        else:
                            fail(f"unknown outcome {tag}")
                    if at != len(text):
                        fail("the component's scored text does not match its outcomes")
                    if whole:
                        scored_parts.append(text)
                    emitted(result.emitted, scored_parts, error_parts)
            err.write("".join(error_parts))
            out.write(b"".join(scored_parts))
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        fail(f"reading {a.input}: {e}")

    # End of input: windows still open emit their aggregates.
    scored_parts, error_parts = [], []
    try:
        emitted(scorer.flush(), scored_parts, error_parts)
    except GuestFault as e:
        sys.stderr.write(f"score.py: warning: flushing the windows failed ({e}); they are lost\n")
    err.write("".join(error_parts))
    out.write(b"".join(scored_parts))
    out.flush()
    err.flush()
    seconds = time.perf_counter() - t0
    ticker.stop.set()

    line_errors = c["errors"] - c["emitted_errors"]
    if not a.quiet:
        faults = f"; {c['guest_faults']} batch(es) lost to component faults" if c["guest_faults"] else ""
        sys.stderr.write(
            f"score.py: {c['lines']} events in {seconds:.2f} s ({c['lines'] / max(seconds, 1e-9):.0f} events/s): "
            f"{c['scored']} scored + {c['passed']} passed + {c['dropped']} dropped + {c['absorbed']} absorbed + "
            f"{line_errors} errors; {c['emitted']} aggregates emitted ({c['emitted_scored']} scored + "
            f"{c['emitted_errors']} errors){faults}   [model {model_id}, component {loaded_from}{'' if type_cache else ', no type cache'}]\n")
    if c["lines"] != c["scored"] + c["passed"] + c["dropped"] + c["absorbed"] + line_errors:
        fail(f"accounting: {c['lines']} in != {c['scored']} scored + {c['passed']} passed + {c['dropped']} "
             f"dropped + {c['absorbed']} absorbed + {line_errors} errors", 3)


if __name__ == "__main__":
    main()
