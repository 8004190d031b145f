"""The `logsieve` CLI's log reader (readers/src/), ported to Python, for Zeek TSV and NDJSON.

Each record becomes the **same JSON text, byte for byte**, that `logsieve train`
and `logsieve run` give the component, so Spark scores exactly the events the
CLI scores. What is ported, from readers/src/lib.rs, line.rs, zeek.rs, json.rs:

- gzip detected by its magic bytes (concatenated members read as one stream);
  lines split on "\\n"; a "\\r" before it and a UTF-8 BOM on line 1 dropped; a
  line that is not UTF-8 is `invalid_utf8` ("invalid UTF-8 at byte N"); an
  empty line is `empty_line` (NDJSON: whitespace-only too, trimmed with
  Rust's `str::trim`); lines longer than 16 MiB are `line_too_long`;
- `auto`: per file, the first non-blank line decides — `#` Zeek TSV, `{`
  NDJSON (CSV is not ported: `auto` on a CSV file is refused);
- Zeek TSV: `#separator` (`\\xHH` escapes), `#set_separator`, `#empty_field`,
  `#unset_field`, `#fields` (a new one resets the schema), `#types`; values
  typed as the CLI types them (count/int/port canonical integers, time /
  interval / double kept verbatim when they are JSON number syntax with
  `.0` appended to integral text, other decimal forms through f64, bool
  T/F, containers as arrays, `-` absent, `(empty)` `[]` or `""`), Zeek's
  `\\\\` and `\\xHH` escapes in strings decoded (bytes that are not UTF-8
  written as the text `\\xHH`), strings escaped as the CLI escapes them;
  errors `zeek_column_count`, `zeek_bad_value`, `zeek_no_header`,
  `zeek_bad_header` with the CLI's details.

Not byte-identical: the *detail* of `open_failed`, `read_failed`,
`truncated_gzip` and `corrupt_gzip` (they quote the operating system's or
zlib's message, which differ between Rust and Python); the reason, file and
line are the same.

Standard library only: this module runs in Spark's Python workers.
"""

import zlib

MAX_LINE = 16 * 1024 * 1024  # readers::DEFAULT_MAX_LINE
RAW_CAP = 4096  # readers::line::RAW_CAP
# Rust's `str::trim` (Unicode White_Space), which differs from `str.strip()`.
RUST_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
FORMATS = ("auto", "zeek_tsv", "ndjson")
_FORMAT_ALIASES = {"auto": "auto", "zeek_tsv": "zeek_tsv", "zeek_json": "ndjson", "ndjson": "ndjson", "json": "ndjson"}


def parse_format(name):
    """The CLI's format names (`zeek_json`/`json` are NDJSON); CSV is not ported."""
    norm = name.strip().lower().replace("-", "_")
    if norm in ("csv", "tsv"):
        raise ValueError(f"format {name!r}: the Spark reader ports the CLI's Zeek TSV and NDJSON readers, not CSV; "
                         "convert with `logsieve` first (see pipeline-examples/spark/README.md)")
    if norm not in _FORMAT_ALIASES:
        raise ValueError(f"unknown input format {name!r}; valid formats: auto, zeek_tsv, zeek_json, ndjson, json")
    return _FORMAT_ALIASES[norm]


def raw_text(b):
    """Lossy UTF-8 of the first RAW_CAP bytes, cut on a char boundary (line::raw_text)."""
    s = b[:RAW_CAP].decode("utf-8", "replace")
    e = s.encode("utf-8")
    if len(e) > RAW_CAP:
        cut = RAW_CAP
        while cut > 0 and (e[cut] & 0xC0) == 0x80:
            cut -= 1
        s = e[:cut].decode("utf-8")
    return s


# ---------------------------------------------------------------- JSON text


def _escape_table():
    t = {}
    for i in range(0x20):
        t[i] = "\\u%04x" % i
    t.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
              0x08: "\\b", 0x0C: "\\f"})
    return t


_ESC = _escape_table()
_NEEDS = frozenset(chr(c) for c in _ESC)


def json_str(s):
    """A quoted JSON string as readers/src/json.rs writes it (only `"`, `\\` and controls escaped)."""
    if _NEEDS.isdisjoint(s):
        return '"' + s + '"'
    return '"' + s.translate(_ESC) + '"'


def is_json_number(s):
    """RFC 8259 number syntax: -? (0 | [1-9][0-9]*) (\\.[0-9]+)? ([eE][+-]?[0-9]+)?"""
    n, i = len(s), 0
    if i < n and s[i] == "-":
        i += 1
    if i < n and s[i] == "0":
        i += 1
    elif i < n and "1" <= s[i] <= "9":
        while i < n and "0" <= s[i] <= "9":
            i += 1
    else:
        return False
    if i < n and s[i] == ".":
        i += 1
        start = i
        while i < n and "0" <= s[i] <= "9":
            i += 1
        if i == start:
            return False
    if i < n and s[i] in "eE":
        i += 1
        if i < n and s[i] in "+-":
            i += 1
        start = i
        while i < n and "0" <= s[i] <= "9":
            i += 1
        if i == start:
            return False
    return i == n


MAX_MAGNITUDE = 1e308


def f64_in_range(f):
    return f == f and abs(f) < MAX_MAGNITUDE  # also false for inf


def _parse_f64(s):
    """Rust's `str::parse::<f64>` on the characters the reader lets through
    (digits . - + e E): None where Rust refuses."""
    try:
        return float(s)
    except ValueError:
        return None


def json_number_in_range(s):
    if len(s) <= 300 and "e" not in s and "E" not in s:
        return True
    f = _parse_f64(s)
    return f is not None and f64_in_range(f)


def is_digits(s):
    return bool(s) and s.isascii() and s.isdigit()


def rust_debug_f64(f):
    """`format!("{f:?}")` for a finite f64: the shortest repr, as Python's,
    but exponents written `1e16` / `1.5e-7` (Python: `1e+16`, `1.5e-07`)."""
    r = repr(f)
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
        return f"{mant}e{exp}"
    return r


# ---------------------------------------------------------------- Zeek TSV

_COUNT, _INT, _PORT, _FLOAT, _BOOL, _STR = range(6)
_SCALARS = {"count": _COUNT, "int": _INT, "port": _PORT, "time": _FLOAT, "interval": _FLOAT, "double": _FLOAT,
            "bool": _BOOL}
U64_MAX = (1 << 64) - 1
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def _parse_type(name):
    """(container?, scalar) of a Zeek type name."""
    for prefix in ("set[", "vector[", "table["):
        if name.startswith(prefix) and name.endswith("]") and len(name) > len(prefix):
            return True, _SCALARS.get(name[len(prefix):-1], _STR)
    return False, _SCALARS.get(name, _STR)


def _hex(c):
    return int(c, 16) if c in "0123456789abcdefABCDEF" and len(c) == 1 else None


def unescape_header(s):
    """Zeek's `\\xHH` escapes in header values; None when not UTF-8."""
    if "\\" not in s:
        return s
    b = s.encode("utf-8")
    out = bytearray()
    i, n = 0, len(b)
    while i < n:
        if b[i] == 0x5C and i + 4 <= n and b[i + 1] == 0x78:
            h, l = _hexb(b[i + 2]), _hexb(b[i + 3])
            if h is not None and l is not None:
                out.append(h << 4 | l)
                i += 4
                continue
        out.append(b[i])
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _hexb(x):
    if 0x30 <= x <= 0x39:
        return x - 0x30
    if 0x61 <= x <= 0x66:
        return x - 0x61 + 10
    if 0x41 <= x <= 0x46:
        return x - 0x41 + 10
    return None


def unescape_value(v):
    """`\\\\` → `\\`, `\\xHH` → the byte; bytes that are not UTF-8 become the text `\\xHH`."""
    b = v.encode("utf-8")
    out = bytearray()
    i, n = 0, len(b)
    while i < n:
        if b[i] == 0x5C:
            nxt = b[i + 1] if i + 1 < n else None
            if nxt == 0x5C:
                out.append(0x5C)
                i += 2
                continue
            if nxt == 0x78 and i + 4 <= n:
                h, l = _hexb(b[i + 2]), _hexb(b[i + 3])
                if h is not None and l is not None:
                    out.append(h << 4 | l)
                    i += 4
                    continue
        out.append(b[i])
        i += 1
    # Rust's utf8_chunks writes each invalid byte as \xHH; Python's
    # backslashreplace does the same (lowercase, two digits), on the same
    # maximal invalid subsequences.
    return bytes(out).decode("utf-8", "backslashreplace")


def _scalar(ty, v, empty):
    """The JSON text of one Zeek value, or None when it does not parse."""
    if ty == _STR:
        if v == empty:
            return '""'
        return json_str(unescape_value(v) if "\\" in v else v)
    if ty == _COUNT:
        if not is_digits(v):
            return None
        if len(v) < 20 and (len(v) == 1 or v[0] != "0"):
            return v
        n = int(v)
        return str(n) if n <= U64_MAX else None
    if ty == _PORT:
        if not is_digits(v):
            return None
        n = int(v)
        return str(n) if n <= 0xFFFF else None
    if ty == _INT:
        digits = v[1:] if v[:1] in ("-", "+") else v
        if not is_digits(digits):
            return None
        n = int(v)
        return str(n) if I64_MIN <= n <= I64_MAX else None
    if ty == _FLOAT:
        if is_json_number(v):
            if not json_number_in_range(v):
                return None
            if "." in v or "e" in v or "E" in v:
                return v
            return v + ".0"
        if not v or any(c not in "0123456789.-+eE" for c in v):
            return None
        f = _rust_float(v)
        if f is None or not f64_in_range(f):
            return None
        return rust_debug_f64(f)
    if ty == _BOOL:
        return "true" if v == "T" else "false" if v == "F" else None
    raise AssertionError(ty)


def _rust_float(v):
    """Rust's f64 grammar on [0-9.+-eE]: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?"""
    i, n = 0, len(v)
    if i < n and v[i] in "+-":
        i += 1
    start = i
    while i < n and v[i].isdigit():
        i += 1
    int_digits = i - start
    frac_digits = 0
    if i < n and v[i] == ".":
        i += 1
        s2 = i
        while i < n and v[i].isdigit():
            i += 1
        frac_digits = i - s2
    if int_digits + frac_digits == 0:
        return None
    if i < n and v[i] in "eE":
        i += 1
        if i < n and v[i] in "+-":
            i += 1
        s3 = i
        while i < n and v[i].isdigit():
            i += 1
        if i == s3:
            return None
    if i != n:
        return None
    return float(v)


class ZeekState:
    """Parser state of one Zeek TSV stream (zeek.rs `ZeekState`)."""

    def __init__(self):
        self.sep, self.set_sep, self.empty, self.unset = "\t", ",", "(empty)", "-"
        self.names, self.keys, self.type_names, self.types = [], [], [], []
        self.have_fields = False

    def line(self, line):
        """One line (no line end, UTF-8, not empty): None (header), ('ok', json) or ('err', reason, detail)."""
        return self.header(line) if line.startswith("#") else self.row(line)

    def header(self, line):
        if line.startswith("#separator"):
            rest = line[len("#separator"):]
            if rest.startswith(" "):
                rest = rest[1:]
            s = unescape_header(rest)
            if s:
                self.sep = s
                return None
            return ("err", "zeek_bad_header", f"unusable #separator value {rust_debug_str(rest)}")
        name, found, value = line.partition(self.sep)
        if not found:
            name, value = line, ""
        if name in ("#set_separator", "#empty_field", "#unset_field"):
            v = unescape_header(value)
            if not v:
                return ("err", "zeek_bad_header", f"unusable {name} value {rust_debug_str(value)}")
            if name == "#set_separator":
                self.set_sep = v
            elif name == "#empty_field":
                self.empty = v
            else:
                self.unset = v
            return None
        if name == "#fields":
            self.names = value.split(self.sep)
            self.keys = [json_str(n) + ":" for n in self.names]
            self.type_names = ["string"] * len(self.names)
            self.types = [(False, _STR)] * len(self.names)
            self.have_fields = True
            return None
        if name == "#types":
            names = value.split(self.sep)
            if not self.have_fields:
                return ("err", "zeek_bad_header", "#types before #fields")
            if len(names) != len(self.names):
                return ("err", "zeek_bad_header",
                        f"#types has {len(names)} entries but #fields has {len(self.names)}; columns kept as strings")
            self.types = [_parse_type(t) for t in names]
            self.type_names = list(names)
            return None
        return None

    def row(self, line):
        if not self.have_fields:
            return ("err", "zeek_no_header", "data row before any #fields header line")
        values = line.split(self.sep)
        if len(values) != len(self.names):
            return ("err", "zeek_column_count", f"row has {len(values)} columns but #fields declares {len(self.names)}")
        parts = []
        unset, empty, set_sep = self.unset, self.empty, self.set_sep
        for i, v in enumerate(values):
            if v == unset:
                continue
            container, ty = self.types[i]
            if not container:
                t = _scalar(ty, v, empty)
            elif v == empty:
                t = "[]"
            else:
                elems = []
                for e in v.split(set_sep):
                    if e == unset:
                        elems.append("null")
                        continue
                    x = _scalar(ty, e, empty)
                    if x is None:
                        elems = None
                        break
                    elems.append(x)
                t = None if elems is None else "[" + ",".join(elems) + "]"
            if t is None:
                return ("err", "zeek_bad_value",
                        f"field `{self.names[i]}` ({self.type_names[i]}): value {rust_debug_str(v)} does not parse")
            parts.append(self.keys[i] + t)
        return ("ok", "{" + ",".join(parts) + "}")


def rust_debug_str(s):
    """`format!("{s:?}")` of a str: Rust's Debug quoting (char::escape_debug)."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\0":
            out.append("\\0")
        elif o < 0x20 or o == 0x7F or (0x80 <= o < 0xA0):
            out.append("\\u{%x}" % o)
        elif c in "\u00ad\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2060\ufeff":
            # Rust escapes grapheme extenders and non-printables; these are
            # the common ones (Zeek rarely writes them raw: it \x-escapes).
            out.append("\\u{%x}" % o)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------- files


CHUNK = 1 << 18


class _Truncated(Exception):
    """The gzip stream ends before its end marker."""


def _gunzip(f, data):
    """Decompressed chunks of a gzip stream: members one after another, as
    flate2's MultiGzDecoder reads them. Raises _Truncated (after yielding all
    that was decoded) when the input ends inside a member, zlib.error when
    the data is corrupt."""
    while True:
        d = zlib.decompressobj(31)
        while not d.eof:
            out = d.decompress(data, 1 << 20)
            data = d.unconsumed_tail
            if out:
                yield out
                continue
            if not data:
                data = f.read(CHUNK)
                if not data:
                    raise _Truncated("incomplete deflate stream")
        data = d.unused_data or f.read(CHUNK)
        if not data:
            return


def _plain(f, data):
    while data:
        yield data
        data = f.read(CHUNK)


def _lines(chunks, max_line):
    """(line bytes without "\n", too_long) per line, as readers::line::read_line
    cuts them; a last line without "\n" counts. The generator's `partial`
    attribute is not used: on an error the caller gets the partial line from
    the exception (see _LineError)."""
    pending = bytearray()
    too_long = False
    try:
        for chunk in chunks:
            parts = chunk.split(b"\n")
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                if not too_long:
                    if len(pending) + len(part) > max_line:
                        too_long = True
                        pending += part[:max(0, RAW_CAP - len(pending))]
                        del pending[RAW_CAP:]
                    else:
                        pending += part
                if not last:
                    yield bytes(pending), too_long
                    pending.clear()
                    too_long = False
    except (_Truncated, zlib.error, OSError) as e:
        raise _LineError(e, bytes(pending)) from e
    if pending or too_long:
        yield bytes(pending), too_long


class _LineError(Exception):
    def __init__(self, cause, partial):
        super().__init__(str(cause))
        self.cause, self.partial = cause, partial


def read_stream(f, name, fmt="auto", max_line=MAX_LINE):
    """The records of one input (a binary file object), as the CLI's reader yields them.

    Yields (line, json_text, None) or (line, None, (reason, detail, raw)).
    """
    fmt = parse_format(fmt)
    try:
        head = f.read(2)
    except OSError as e:
        yield 0, None, ("read_failed", f"cannot read {name}: {e}", "")
        return
    is_gzip = head == b"\x1f\x8b"
    chunks = _gunzip(f, head) if is_gzip else _plain(f, head)
    parser = None if fmt == "auto" else ZeekState() if fmt == "zeek_tsv" else "ndjson"
    n = 0
    lines = _lines(chunks, max_line)
    while True:
        try:
            item = next(lines, None)
        except _LineError as e:
            c = e.cause
            if is_gzip and isinstance(c, _Truncated):
                reason, what = "truncated_gzip", "gzip stream ends early"
            elif is_gzip and isinstance(c, zlib.error):
                reason, what = "corrupt_gzip", "corrupt gzip stream"
            else:
                reason, what = "read_failed", "read error"
            yield n + 1, None, (reason, f"{what} in {name}: {c}; rest of the file skipped", raw_text(e.partial))
            return
        if item is None:
            return
        b, too_long = item
        n += 1
        if too_long:
            yield n, None, ("line_too_long", f"line longer than {max_line} bytes skipped", raw_text(b))
            continue
        if b.endswith(b"\r"):
            b = b[:-1]
        if n == 1 and b.startswith(b"\xef\xbb\xbf"):
            b = b[3:]
        try:
            text = b.decode("utf-8")
        except UnicodeDecodeError as e:
            yield n, None, ("invalid_utf8", f"invalid UTF-8 at byte {e.start}", raw_text(b))
            continue
        if parser is None or parser == "ndjson":
            if not text.strip(RUST_WS):
                yield n, None, ("empty_line", "empty line", raw_text(b))
                continue
        elif not text:
            yield n, None, ("empty_line", "empty line", "")
            continue
        if parser is None:
            first = text.lstrip(RUST_WS)[0]
            if first == "#":
                parser = ZeekState()
            elif first == "{":
                parser = "ndjson"
            else:
                raise ValueError(f"{name}: format auto found neither Zeek TSV ('#') nor NDJSON ('{{') at line {n}; "
                                 "the Spark reader does not read CSV: convert it with `logsieve` first")
        if parser == "ndjson":
            yield n, text.strip(RUST_WS), None
            continue
        out = parser.line(text)
        if out is None:
            continue
        if out[0] == "ok":
            yield n, out[1], None
        else:
            yield n, None, (out[1], out[2], raw_text(b))


def read_file(path, fmt="auto", name=None):
    """The records of one file (see read_stream); `name` is what origins call it (default: the path)."""
    name = path if name is None else name
    import os
    if os.path.isdir(path):
        yield 0, None, ("open_failed", f"{path}: is a directory", "")
        return
    try:
        f = open(path, "rb")
    except OSError as e:
        yield 0, None, ("open_failed", f"cannot open {path}: {e.strerror} (os error {e.errno})", "")
        return
    with f:
        yield from read_stream(f, name, fmt)


def expand_inputs(patterns):
    """readers::expand_inputs: an existing path as is, else a glob (sorted, directories left out)."""
    import glob
    import os
    out = []
    for p in [patterns] if isinstance(patterns, str) else patterns:
        if os.path.exists(p):
            out.append(p)
            continue
        if not any(c in p for c in "*?["):
            raise FileNotFoundError(f"input {p!r}: no such file")
        matched = sorted(m for m in glob.glob(p) if not os.path.isdir(m))
        if not matched:
            raise FileNotFoundError(f"input {p!r}: pattern matches no files")
        out.extend(matched)
    return out
