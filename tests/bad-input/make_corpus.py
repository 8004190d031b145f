#!/usr/bin/env python3
"""Writes the bad-input corpus of tests/bad_input.rs and its manifest.

    python3 tests/bad-input/make_corpus.py [SHARED]   # SHARED defaults to ../shared next to the repository

Every case file holds real Zeek conn records (rows of rita-missing-host
2024-04-20, 05:00-06:00 UTC, GPL-3.0; see SOURCE) with the bad records among
them. The expected outcome of every line is written here, by construction,
into cases.toml: which lines are scored, which go to the errors output with
which reason (and a piece of the detail). Nothing is taken from logsieve's
output. The gzip files are written with mtime 0, so the output is the same
bytes on every run.
"""

import gzip
import io
import json
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent.parent / "shared"
SOURCE = SHARED / "data/zeek/rita-missing-host/2024-04-20/conn.05:00:00-06:00:00.log.gz"

text = gzip.decompress(SOURCE.read_bytes()).decode()
HEADER = [l for l in text.splitlines() if l.startswith("#") and not l.startswith("#close")]
CLOSE = [l for l in text.splitlines() if l.startswith("#close")][0]
FIELDS = HEADER[6].split("\t")[1:]
TYPES = HEADER[7].split("\t")[1:]
assert HEADER[6].startswith("#fields") and HEADER[7].startswith("#types") and len(FIELDS) == len(TYPES) == 22
ROWS = [l for l in text.splitlines() if not l.startswith("#")]

# Varied rows first (up to 3 per proto/service/state), then the rest in file
# order; every row is used once, so every uid in the corpus is unique.
seen, varied, rest = {}, [], []
for r in ROWS:
    c = r.split("\t")
    key = (c[7], c[8], c[12])
    seen[key] = seen.get(key, 0) + 1
    (varied if seen[key] <= 3 else rest).append(r)
POOL = iter(varied + rest)


def row(need=()):
    """The next real row (TSV) whose named fields are all set."""
    for r in POOL:
        c = dict(zip(FIELDS, r.split("\t")))
        if all(c[f] != "-" for f in need):
            return r
    raise SystemExit("ran out of rows")


def event(r):
    """A TSV row as Zeek's JSON writer would write it (key order kept)."""
    out = {}
    for name, ty, v in zip(FIELDS, TYPES, r.split("\t")):
        if v == "-":
            continue
        if ty.startswith("set[") or ty.startswith("vector["):
            out[name] = [] if v == "(empty)" else v.split(",")
        elif ty in ("count", "int", "port"):
            out[name] = int(v)
        elif ty in ("time", "interval", "double"):
            out[name] = float(v)
        elif ty == "bool":
            out[name] = v == "T"
        else:
            out[name] = v
    return out


def dumps(obj, raw=None):
    """Compact JSON; `raw` maps keys to value text written verbatim (which
    need not be JSON: NaN, 1e400)."""
    obj = dict(obj)
    for k in raw or {}:
        obj[k] = f"\0{k}\0"
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for k, v in (raw or {}).items():
        s = s.replace(json.dumps(f"\0{k}\0"), v)
    return s


def good_json(need=()):
    return (dumps(event(row(need))), "scored")


def json_with(raw, need=(), drop=()):
    e = event(row(need))
    for k in drop:
        e.pop(k, None)
    return dumps(e, raw)


FEATURES = ("duration", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "proto")

CASES = []


def case(name, file, fmt, about, lines, eol="\n", final_eol=True, gz=False, cut=False):
    """lines: (text or bytes, outcome) with outcome "scored", "header",
    "anomalous" (scored, and its verdict must be an anomaly) or
    (reason, piece of the detail, note)."""
    data = eol.encode().join(l.encode() if isinstance(l, str) else l for l, _ in lines)
    if final_eol:
        data += eol.encode()
    outcomes = [o for _, o in lines]
    if gz:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    if cut:
        data = data[: len(data) // 2]
        # What a plain inflater recovers before the cut (zlib, not the
        # Rust reader): the complete lines are read, the partial one is
        # lost with the stream.
        d = zlib.decompressobj(wbits=31)
        prefix = d.decompress(data)
        complete = prefix.count(b"\n")
        outcomes = outcomes[:complete]
        outcomes.append(("truncated_gzip", "gzip stream ends early", "the stream ends here, mid-line"))
    (HERE / file).write_bytes(data)
    scored = [i + 1 for i, o in enumerate(outcomes) if o in ("scored", "anomalous")]
    anomalous = [i + 1 for i, o in enumerate(outcomes) if o == "anomalous"]
    errors = [(i + 1, o) for i, o in enumerate(outcomes) if isinstance(o, tuple)]
    CASES.append((name, file, fmt, about, scored, anomalous, errors))


def q(s):
    return json.dumps(s, ensure_ascii=False)


# --- NDJSON cases ----------------------------------------------------------

full = event(row(FEATURES))
cut_text = dumps(full)
case(
    "invalid-json",
    "invalid-json.ndjson",
    "ndjson",
    "lines that are not JSON between good records",
    [
        good_json(),
        (cut_text[: cut_text.index('"orig_bytes"') + 13], ("invalid_json", "EOF while parsing", "an object cut short")),
        good_json(),
        ("not json at all", ("invalid_json", "expected ident", "plain text")),
        good_json(),
        (json_with({}) + " x", ("invalid_json", "trailing characters", "text after the object")),
        good_json(),
        (
            "{'uid': '%s', 'duration': 0.5}" % event(row())["uid"],
            ("invalid_json", "key must be a string", "Python repr, single quotes"),
        ),
        good_json(),
        (json_with({})[:-1] + ",}", ("invalid_json", "trailing comma", "a trailing comma")),
        good_json(),
        (json_with({}) + json_with({}), ("invalid_json", "trailing characters", "two objects on one line")),
        (
            json_with({})[:-1] + ',"note":"a\x01b"}',
            ("invalid_json", "control character", "a raw control character in a string"),
        ),
        good_json(),
    ],
)

case(
    "not-an-object",
    "not-an-object.ndjson",
    "ndjson",
    "valid JSON that is not an object",
    [
        good_json(),
        ("[" + json_with({}) + "]", ("not_an_object", "an array", "the record inside an array")),
        good_json(),
        ('"just a string"', ("not_an_object", "a string", "a string")),
        ("42", ("not_an_object", "a number", "a number")),
        good_json(),
        ("null", ("not_an_object", "null", "null")),
        ("true", ("not_an_object", "a boolean", "a boolean")),
        ("[]", ("not_an_object", "an array", "an empty array")),
        ("-1.5e3", ("not_an_object", "a number", "a negative number")),
        good_json(),
    ],
)

case(
    "wrong-type",
    "wrong-type.ndjson",
    "ndjson",
    "feature fields of the wrong type; numeric strings, booleans and numbers as categories are accepted",
    [
        good_json(),
        (json_with({"orig_bytes": '"lots"'}), ("wrong_type", "field 'orig_bytes' should be a number", "a word for a count")),
        good_json(),
        (json_with({"duration": "[1,2]"}), ("wrong_type", "field 'duration' should be a number, got an array", "an array")),
        (json_with({"resp_bytes": '{"v":1}'}), ("wrong_type", "field 'resp_bytes' should be a number, got an object", "an object")),
        (json_with({"orig_bytes": '"387"'}), "scored"),  # a numeric string is a number
        (json_with({"orig_pkts": "true"}), "scored"),  # a boolean is 1
        good_json(),
        (json_with({"proto": "6"}), "anomalous"),  # a number as a category: "6", never seen in training
        (json_with({"proto": '["tcp"]'}), ("wrong_type", "field 'proto' should be a category, got an array", "an array for a category")),
        (json_with({"proto": "null"}), "scored"),  # null is missing: the category "missing"
        (json_with({"orig_bytes": '""'}), ("wrong_type", "field 'orig_bytes' should be a number, got the string \"\"", "an empty string")),
        (json_with({"orig_bytes": "null"}), "scored"),  # null is missing: zero
        good_json(),
    ],
)

DIGITS = "9" * 400
case(
    "non-finite",
    "non-finite.ndjson",
    "ndjson",
    "NaN and Infinity literals, numbers beyond f64, non-finite strings, values whose log1p or distance is not finite",
    [
        good_json(),
        (json_with({"duration": "NaN"}), ("invalid_json", "NaN is not a JSON number", "Python's json.dumps writes NaN")),
        (json_with({"orig_bytes": "Infinity"}), ("invalid_json", "Infinity is not a JSON number", "Infinity")),
        (json_with({"resp_bytes": "-Infinity"}), ("invalid_json", "-Infinity is not a JSON number", "-Infinity")),
        good_json(),
        (json_with({"orig_bytes": "1e400"}), ("non_finite", "field 'orig_bytes': the number 1e400 is out of the range", "1e400")),
        (json_with({"resp_bytes": "-1e400"}), ("non_finite", "field 'resp_bytes': the number -1e400 is out of the range", "-1e400")),
        (json_with({"orig_bytes": DIGITS}), ("non_finite", "(400 digits)", "a 400-digit integer")),
        (json_with({"missed_bytes": DIGITS}), "scored"),  # not a feature: kept verbatim
        (json_with({"missed_bytes": "1e400"}), "scored"),  # not a feature: kept verbatim
        good_json(),
        (json_with({"orig_bytes": '"NaN"'}), ("non_finite", "field 'orig_bytes': log1p(NaN) is not a finite number", "the string NaN")),
        (json_with({"resp_bytes": '"inf"'}), ("non_finite", "field 'resp_bytes': log1p(inf) is not a finite number", "the string inf")),
        (json_with({"orig_bytes": '"1e400"'}), ("non_finite", "field 'orig_bytes'", "the string 1e400")),
        (json_with({"duration": "1e300"}), "anomalous"),  # log1p(1e300) = 690.8: finite, far out
        (json_with({"orig_pkts": "1e300"}), ("non_finite", "feature 'orig_pkts' is too large", "1e300 in a feature without log1p")),
        (json_with({"resp_pkts": "1.7976931348623157e308"}), ("non_finite", "feature 'resp_pkts' is too large", "f64::MAX")),
        (json_with({"duration": "1e-400"}), "scored"),  # underflows to 0
        (json_with({"duration": "-5"}), ("non_finite", "field 'duration': log1p(-5) is not a finite number", "log1p of a negative")),
        (json_with({"orig_bytes": "-1"}), ("non_finite", "field 'orig_bytes': log1p(-1) is not a finite number", "log1p(-1) = -inf")),
        good_json(),
    ],
)


def b(s):
    return s.encode()


case(
    "invalid-utf8",
    "invalid-utf8.ndjson",
    "ndjson",
    "lines that are not UTF-8; valid multi-byte text is fine",
    [
        good_json(),
        (b(json_with({"history": '"Sh\0"'})).replace(b"\0", b"\xff\xfe"), ("invalid_utf8", "invalid UTF-8 at byte", "bytes ff fe")),
        good_json(),
        (b(json_with({"service": '"caf\0"'})).replace(b"\0", b"\xe9"), ("invalid_utf8", "invalid UTF-8 at byte", "Latin-1 e-acute")),
        (json_with({"note": '"Grüße 😀"'}), "scored"),
        (b(json_with({"note": '"\0"'})).replace(b"\0", b"\x80"), ("invalid_utf8", "invalid UTF-8 at byte", "a lone continuation byte")),
        (b(json_with({"note": '"\0"'})).replace(b"\0", b"\xc0\xaf"), ("invalid_utf8", "invalid UTF-8 at byte", "an overlong '/'")),
        (b(json_with({"note": '"\0"'})).replace(b"\0", b"\xed\xa0\x80"), ("invalid_utf8", "invalid UTF-8 at byte", "a UTF-16 surrogate")),
        (b(json_with({}))[:-1] + b',"note":"\xe2\x82', ("invalid_utf8", "invalid UTF-8 at byte", "cut inside a character")),
        good_json(),
    ],
)

TEN_MIB = 10 * 1024 * 1024
SEVENTEEN_MIB = 17 * 1024 * 1024
case(
    "long-lines",
    "long-lines.ndjson.gz",
    "ndjson",
    "a 10 MiB record (under the reader's 16 MiB limit: read and scored) and a 17 MiB one (line_too_long)",
    [
        good_json(FEATURES),
        (json_with({"payload": q("A" * TEN_MIB)}, FEATURES), "scored"),
        good_json(FEATURES),
        (json_with({"payload": q("B" * SEVENTEEN_MIB)}, FEATURES), ("line_too_long", "line longer than 16777216 bytes", "17 MiB")),
        good_json(FEATURES),
    ],
    gz=True,
)

case(
    "empty-lines-ndjson",
    "empty-lines.ndjson",
    "ndjson",
    "empty and blank lines, and an empty last line",
    [
        good_json(),
        ("", ("empty_line", "empty line", "empty")),
        good_json(),
        ("   \t ", ("empty_line", "empty line", "spaces and a tab")),
        good_json(),
        good_json(),
        ("", ("empty_line", "empty line", "the file ends with two newlines")),
    ],
)

case(
    "already-scored",
    "already-scored.ndjson",
    "ndjson",
    "an event that already has a logsieve key (fed back from a scored output)",
    [
        good_json(),
        (
            json_with({"logsieve": '{"cluster":0,"distance":1.0,"threshold":2.0,"score":0.5,"anomaly":false}'}),
            ("field_conflict", "already has a top-level 'logsieve' key", "scored output fed back"),
        ),
        good_json(),
    ],
)

BOM = "\ufeff"
case(
    "bom-ndjson",
    "bom.ndjson",
    "auto",
    "a byte-order mark at the start (skipped; auto-detection still sees NDJSON) and one inside the file (from `cat a b`)",
    [
        (BOM + dumps(event(row())), "scored"),
        good_json(),
        (BOM + dumps(event(row())), ("invalid_json", "byte-order mark", "a second file's BOM after `cat`")),
        good_json(),
    ],
)

case(
    "crlf-ndjson",
    "crlf.ndjson",
    "auto",
    "CRLF line ends",
    [good_json(), good_json(), good_json(), good_json()],
    eol="\r\n",
)

# --- Zeek TSV cases --------------------------------------------------------


def hdr():
    return [(h, "header") for h in HEADER]


def cols(r):
    return r.split("\t")


def with_col(r, field, value):
    c = cols(r)
    c[FIELDS.index(field)] = value
    return "\t".join(c)


def good_row(need=()):
    return (row(need), "scored")


case(
    "zeek-empty-line",
    "empty-line.conn.log",
    "zeek_tsv",
    "an empty line among Zeek rows",
    hdr() + [good_row(), ("", ("empty_line", "empty line", "empty")), good_row(), good_row(), (CLOSE, "header")],
)

last = row(FEATURES)
case(
    "zeek-truncated",
    "truncated.conn.log",
    "zeek_tsv",
    "a Zeek file cut while being written: no #close, the last row ends mid-field without a newline",
    hdr()
    + [good_row() for _ in range(5)]
    + [(last[: len(last) // 2], ("zeek_column_count", "but #fields declares 22", "the row cut in half"))],
    final_eol=False,
)

case(
    "zeek-column-count",
    "column-count.conn.log",
    "auto",
    "Zeek rows with a column too many, one too few, and spaces for tabs",
    hdr()
    + [
        good_row(),
        (row() + "\textra", ("zeek_column_count", "row has 23 columns but #fields declares 22", "an extra column")),
        good_row(),
        (
            "\t".join(c for i, c in enumerate(cols(row())) if i != FIELDS.index("service")),
            ("zeek_column_count", "row has 21 columns but #fields declares 22", "the service column missing"),
        ),
        good_row(),
        (row().replace("\t", "    "), ("zeek_column_count", "row has 1 columns", "spaces instead of tabs")),
        good_row(),
        (CLOSE, "header"),
    ],
)

UNKNOWN_TYPES = HEADER[7].split("\t")
UNKNOWN_TYPES[1 + FIELDS.index("history")] = "fancy_history"  # a column the model does not use
UNKNOWN_TYPES[1 + FIELDS.index("orig_bytes")] = "count64"  # a feature column
case(
    "zeek-unknown-type",
    "unknown-type.conn.log",
    "zeek_tsv",
    "unknown #types entries: values are kept as strings; numeric text still scores, other text in a feature column is wrong_type naming the field",
    [(h, "header") for h in HEADER[:7]]
    + [("\t".join(UNKNOWN_TYPES), "header")]
    + [
        good_row(("orig_bytes",)),
        good_row(("orig_bytes",)),
        (with_col(row(), "orig_bytes", "12kB"), ("wrong_type", "field 'orig_bytes' should be a number, got the string \"12kB\"", "text in the count64 column")),
        good_row(("orig_bytes",)),
        (with_col(row(), "orig_bytes", "-"), "scored"),  # unset: missing, zero
        good_row(),
        (CLOSE, "header"),
    ],
)

case(
    "zeek-bad-value",
    "bad-value.conn.log",
    "zeek_tsv",
    "values that do not parse as their declared Zeek type, in feature columns and in others (the row is refused either way)",
    hdr()
    + [
        good_row(),
        (with_col(row(), "orig_bytes", "abc"), ("zeek_bad_value", "field `orig_bytes` (count): value \"abc\"", "a word in a count")),
        good_row(),
        (with_col(row(), "id.resp_p", "70000"), ("zeek_bad_value", "field `id.resp_p` (port)", "a port over 65535, unused column")),
        (with_col(row(), "duration", "nan"), ("zeek_bad_value", "field `duration` (interval)", "nan in an interval")),
        (with_col(row(), "duration", "inf"), ("zeek_bad_value", "field `duration` (interval)", "inf in an interval")),
        (with_col(row(), "local_orig", "X"), ("zeek_bad_value", "field `local_orig` (bool)", "X in a bool, unused column")),
        (with_col(row(), "orig_bytes", "-5"), ("zeek_bad_value", "field `orig_bytes` (count)", "a negative count")),
        (with_col(row(), "orig_bytes", DIGITS), ("zeek_bad_value", "field `orig_bytes` (count)", "a 400-digit count")),
        (with_col(row(), "duration", "1e400"), ("zeek_bad_value", "field `duration` (interval): value \"1e400\"", "1e400 in an interval: beyond f64, no JSON reader holds it")),
        good_row(),
        (CLOSE, "header"),
    ],
)

case(
    "zeek-no-header",
    "no-header.conn.log",
    "zeek_tsv",
    "rows before the #fields header (a log whose head was lost), then a header and rows",
    [
        (row(), ("zeek_no_header", "data row before any #fields header line", "no header yet")),
        (row(), ("zeek_no_header", "data row before any #fields header line", "no header yet")),
    ]
    + hdr()
    + [good_row(), good_row(), (CLOSE, "header")],
)

case(
    "zeek-bom",
    "bom.conn.log",
    "auto",
    "a byte-order mark before #separator (skipped; auto-detection still sees Zeek)",
    [(BOM + HEADER[0], "header")] + [(h, "header") for h in HEADER[1:]] + [good_row(), good_row(), good_row(), (CLOSE, "header")],
)

case(
    "zeek-crlf",
    "crlf.conn.log",
    "auto",
    "a Zeek log with CRLF line ends (header lines included)",
    hdr() + [good_row(), good_row(), good_row(), good_row(), (CLOSE, "header")],
    eol="\r\n",
)

case(
    "truncated-gzip",
    "truncated.conn.log.gz",
    "auto",
    "a gzip'd Zeek log cut in half: the rows before the cut are scored, then one truncated_gzip error",
    hdr() + [good_row() for _ in range(60)] + [(CLOSE, "header")],
    gz=True,
    cut=True,
)

# --- CSV cases ---------------------------------------------------------------

# The same rows as tab-separated CSV under a header line of the field names
# (no `#` lines: the first line is the header).
csv_row = lambda: (row(FEATURES), "scored")
stray = cols(row(FEATURES))
stray[FIELDS.index("service")] = '"dns'
case(
    "csv-stray-quote",
    "stray-quote.tsv",
    "csv",
    "a stray quote opening a field that no later line closes: that line is the error, the rows after it are read",
    [("\t".join(FIELDS), "header"), csv_row(), csv_row()]
    + [("\t".join(stray), ("csv_unterminated_quote", "not closed on it", "a quote at the start of a field"))]
    + [csv_row() for _ in range(6)],
)

# --- Duplicate keys ----------------------------------------------------------


def with_dup(key, value, need=FEATURES):
    """A real event with `key` given a second time, `value` after the first."""
    e = event(row(need))
    s = dumps(e)
    return s[:-1] + "," + json.dumps(key) + ":" + value + "}"


case(
    "duplicate-keys",
    "duplicate-keys.ndjson",
    "ndjson",
    "a field the model reads given twice (which value counts differs between readers); other keys may repeat",
    [
        good_json(),
        (with_dup("orig_bytes", "1"), ("duplicate_field", "field 'orig_bytes' appears more than once", "a large transfer hidden by a second value")),
        good_json(),
        (with_dup("proto", '"udp"'), ("duplicate_field", "field 'proto' appears more than once", "a category given twice")),
        (with_dup("history", '"S"'), "scored"),  # a key the model does not read
        good_json(),
    ],
)

DUP_FIELDS = HEADER[6] + "\tproto"
DUP_TYPES = HEADER[7] + "\tenum"
case(
    "zeek-repeated-field",
    "repeated-field.conn.log",
    "zeek_tsv",
    "a #fields line repeating a name: refused at the header, its rows not read, until a usable header",
    hdr()
    + [good_row() for _ in range(2)]
    + [(DUP_FIELDS, ("zeek_bad_header", "#fields repeats the name 'proto'", "proto twice")), (DUP_TYPES, ("zeek_bad_header", "#types before #fields", "its #types"))]
    + [(row() + "\ttcp", ("zeek_no_header", "after a refused #fields line", "a row under the refused header")) for _ in range(2)]
    + hdr()[6:]
    + [good_row() for _ in range(3)]
    + [(CLOSE, "header")],
)

# --- Runs of identical errors --------------------------------------------------

EMPTY = ("", ("empty_line", "empty line", "one of a run of empty lines"))
BLANK = ("   ", ("empty_line", "empty line", "one of a run of blank lines"))
case(
    "empty-line-runs",
    "empty-line-runs.ndjson",
    "ndjson",
    "runs of empty and blank lines: each run is one error record with its count (and the lines it covers)",
    [good_json()] + [EMPTY] * 40 + [good_json()] + [BLANK] * 3 + [EMPTY] * 2 + [good_json(), EMPTY, good_json()],
)

# --- The manifest ------------------------------------------------------------

out = io.StringIO()
out.write(
    """# The bad-input corpus: one small file per case, real Zeek conn records
# (rita-missing-host, GPL-3.0, see SOURCE) around the bad ones. Written by
# make_corpus.py (edit that, not this file); read by tests/bad_input.rs and
# tests/accounting.rs.
#
# Per case: `file` (in this folder), `format` (the pipeline source's format),
# and the expected outcome of every line of the (decompressed) file, by line
# number: `scored` lines reach the scored output, `anomalous` ones (also in
# `scored`) with a verdict anomaly = true, `errors` go to the errors output
# with `reason` and a `detail` that contains the given text. Every other line
# is a Zeek header line (`#...`) or a CSV case's first line (its header). The
# model is model.toml in this folder.
"""
)
for name, file, fmt, about, scored, anomalous, errors in CASES:
    out.write(f"\n[[case]]\nname = {q(name)}\nfile = {q(file)}\nformat = {q(fmt)}\nabout = {q(about)}\n")
    out.write(f"scored = {scored}\n")
    if anomalous:
        out.write(f"anomalous = {anomalous}\n")
    if not errors:
        out.write("errors = []\n")
        continue
    out.write("errors = [\n")
    for line, (reason, detail, note) in errors:
        out.write(f"  {{ line = {line}, reason = {q(reason)}, detail = {q(detail)}, note = {q(note)} }},\n")
    out.write("]\n")
(HERE / "cases.toml").write_text(out.getvalue())
for name, file, *_ in CASES:
    print(f"{name:22} {file:28} {(HERE / file).stat().st_size:>8} bytes")
