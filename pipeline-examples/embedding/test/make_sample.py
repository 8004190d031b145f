#!/usr/bin/env python3
"""Make the common NDJSON input of the embedding tests (standard library only).

    make_sample.py strip SCORED OUT
        SCORED is what `logsieve run` wrote for Zeek logs: each line is the
        event as the reader made it, with the `logsieve` key appended. OUT
        gets the events without it (checked: each is the scored object less
        that one key), i.e. exactly the JSON texts the CLI's Zeek reader made.

    make_sample.py mix OUT INPUT... [--expected EXPECTED.json]
        OUT gets the lines of the INPUTs (NDJSON, plain or gzip) with the
        EXTRA lines below spread through them: malformed events, events with
        non-ASCII text, whitespace, a CRLF, a BOM on line 1, and no newline
        after the last line. EXPECTED gets [[line, reason], ...]: the error
        records a conn-kmeans model must give for them.

    make_sample.py faults OUT EVENTS MARKER...
        OUT gets the first 300 lines of EVENTS with one event per MARKER
        (`trap`, `spin`) spread through them, `{"fault":"<marker>",...}`:
        tests/faulty-plugin traps or loops forever on the batch holding it.

The same OUT file is then the input of `logsieve run` (format ndjson) and of
the Node and Python hosts, so all three see byte-identical events.
"""

import gzip
import json
import sys

# (line text as bytes, reason the conn-kmeans model gives, or None: scored)
EXTRA = [
    # Line 1 starts with a UTF-8 BOM, which the reader removes there only.
    (b'\xef\xbb\xbf{"duration":1.5,"orig_bytes":3,"note":"line 1 has a BOM"}', None),
    (b'{"duration": 0.5, "orig_bytes": ', "invalid_json"),
    (b"not json at all", "invalid_json"),
    (b'{"note":"\xc3\xa7a ne va pas", "duration": ', "invalid_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'"just a string"', "not_an_object"),
    (b"42", "not_an_object"),
    (b'{"duration":"fast","orig_bytes":10}', "wrong_type"),
    (b'{"duration":1.0,"orig_bytes":{"n":1}}', "wrong_type"),
    (b'{"duration":1.0,"orig_pkts":[1,2]}', "wrong_type"),
    (b'{"duration":1e999}', "non_finite"),
    (b'{"duration":1.0,"logsieve":{"cluster":0}}', "field_conflict"),
    # Reader-level errors in the CLI; the hosts read lines with the same reader (the component's).
    (b"", "empty_line"),
    (b"   \t ", "empty_line"),
    (b'{"duration":2.0,\xff"orig_bytes":1}', "invalid_utf8"),
    (b'{"note":"cut \xe2\x98', "invalid_utf8"),
    # Scored: non-ASCII text (score-lines counts UTF-8 bytes), escapes,
    # surrounding whitespace (trimmed), a CRLF line end, nulls.
    (b'{"uid":"Cnonascii","note":"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e \xe4\xb8\xad\xe6\x96\x87","duration":2.5,"orig_bytes":100}', None),
    (b'{"note":"\\u00e9 escaped \\ud834\\udd1e \\"quoted\\" \\\\ tab\\t","duration":0.1}', None),
    (b'{"duration":null,"orig_bytes":5,"resp_bytes":null}', None),
    (b'  { "duration" : 3 , "orig_bytes" : 7 }  ', None),
    (b'{"duration":4,"orig_bytes":8,"note":"CRLF"}\r', None),
    (b'{"duration":0.25,"proto":"tcp","note":"last line, no newline after it"}', None),
]


def read_lines(path):
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def strip(scored_path, out_path):
    key = b',"logsieve":{'
    n = 0
    with open(scored_path, "rb") as f, open(out_path, "wb") as out:
        for raw in f:
            line = raw.rstrip(b"\n")
            i = line.rfind(key)
            if i < 0 or not line.endswith(b"}}"):
                sys.exit(f"make_sample.py: line {n + 1} of {scored_path} has no logsieve key at its end")
            event = line[:i] + b"}"
            obj = json.loads(line)
            obj.pop("logsieve")
            if json.loads(event) != obj:
                sys.exit(f"make_sample.py: line {n + 1} of {scored_path}: stripping the logsieve key changed the event")
            out.write(event + b"\n")
            n += 1
    if n == 0:
        sys.exit(f"make_sample.py: {scored_path} holds no events")
    print(f"make_sample.py: {n} events -> {out_path}", file=sys.stderr)


def mix(out_path, inputs, expected_path):
    events = [line for p in inputs for line in read_lines(p)]
    if not events:
        sys.exit("make_sample.py: the inputs hold no lines")
    # EXTRA[0] first, the last one last, the others evenly in between.
    slots = {0: [EXTRA[0]], len(events): [EXTRA[-1]]}
    middle = EXTRA[1:-1]
    for k, extra in enumerate(middle):
        slots.setdefault((k + 1) * len(events) // (len(middle) + 1), []).append(extra)
    lines, expected = [], []
    for i in range(len(events) + 1):
        for text, reason in slots.get(i, []):
            lines.append(text)
            if reason:
                expected.append([len(lines), reason])
        if i < len(events):
            lines.append(events[i])
    with open(out_path, "wb") as out:
        out.write(b"\n".join(lines))  # no newline after the last line
    if expected_path:
        with open(expected_path, "w") as f:
            json.dump(expected, f)
    print(f"make_sample.py: {len(events)} events + {len(EXTRA)} extra lines -> {out_path}", file=sys.stderr)


def faults(out_path, events_path, markers):
    events = read_lines(events_path)[:300]
    lines = list(events)
    for k, m in reversed(list(enumerate(markers))):
        at = (k + 1) * len(events) // (len(markers) + 1)
        lines.insert(at, b'{"duration":1.0,"fault":"%s","note":"makes tests/faulty-plugin misbehave"}' % m.encode())
    with open(out_path, "wb") as out:
        out.write(b"\n".join(lines) + b"\n")
    print(f"make_sample.py: {len(events)} events + markers {markers} -> {out_path}", file=sys.stderr)


def main(argv):
    if len(argv) == 3 and argv[0] == "strip":
        return strip(argv[1], argv[2])
    if len(argv) >= 3 and argv[0] == "mix":
        rest, expected = argv[2:], None
        if "--expected" in rest:
            i = rest.index("--expected")
            expected = rest[i + 1]
            rest = rest[:i] + rest[i + 2:]
        return mix(argv[1], rest, expected)
    if len(argv) >= 4 and argv[0] == "faults":
        return faults(argv[1], argv[2], argv[3:])
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
