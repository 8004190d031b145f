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

    make_sample.py utf8 OUT [--expected EXPECTED.json]
        OUT gets about 2.2 MB of synthetic conn events with non-ASCII text,
        laid out so that every 16 KiB boundary of the file cuts a line: most
        of them inside a 2-, 3- or 4-byte character (after each of its bytes
        in turn) or at the line's start; the others a line that is not UTF-8
        (a character cut short just before the boundary, a bad byte just
        after it, a stray continuation byte just before it, a bad byte later
        in a line whose character the boundary cuts). The hosts read in
        chunks of 16 KiB (Node's gunzip) to 1 MiB, all multiples of 16 KiB,
        so each of their chunk ends cuts one of these; the 1 MiB boundary a
        4-byte character, the 2 MiB one a character cut short. Between the
        boundaries: lines that are not UTF-8, alone, three in a row, and next
        to non-ASCII lines; the last line ends in a cut character, without a
        newline. EXPECTED gets [[line, "invalid_utf8"], ...]: every other
        line is an event the conn-kmeans model scores.

    make_sample.py faults OUT EVENTS MARKER...
        OUT gets the first 300 lines of EVENTS with one event per MARKER
        (`trap`, `spin`) spread through them, `{"fault":"<marker>",...}`:
        tests/faulty-plugin traps or loops forever on the batch holding it.

The same OUT file is then the input of `logsieve run` (format ndjson) and of
the Node and Python hosts, so all three see byte-identical events.
"""

import gzip
import json
import random
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


def utf8(out_path, expected_path):
    rng = random.Random(20261207)
    block, size = 16 << 10, (2 << 20) + (200 << 10)
    words = ["café", "Straße", "naïve", "€ 5", "中文", "日本語", "☕", "→", "𝄞", "😀", "Ωμέγα", "ça va"]

    def event(note):  # a conn event (bytes) whose first key is `note` (bytes, spliced in as they are)
        fields = {"uid": "C%08x" % rng.getrandbits(32), "proto": rng.choice(["tcp", "udp"]),
                  "duration": round(rng.expovariate(1.0), 6)}
        for k in ("orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes"):
            fields[k] = rng.randint(0, 5000)
        return b'{"note":"' + note + b'",' + json.dumps(fields, separators=(",", ":"))[1:].encode()

    def note():
        return " ".join(rng.choice(words) for _ in range(rng.randint(1, 6))).encode()

    # How the boundary b cuts its line: (text before it, text after it, the line is UTF-8).
    valid = [(c.encode()[:j], c.encode()[j:], True) for c in ("é", "€", "𝄞") for j in range(1, len(c.encode()))]
    valid.append((b"", '{"note":"𝄞 the line starts at the boundary'.encode(), True))  # the one before ends at it
    invalid = [
        (b"cut short \xe2\x98", b" then ASCII", False),  # a 3-byte character without its last byte
        (b"bad byte next", b"\xff after the boundary", False),
        (b"stray continuation \x80", b"before the boundary", False),
        ("€".encode()[:1], "€".encode()[1:] + b" cut, then a bad byte \xfe later", False),
    ]
    kinds = valid + invalid

    def kind(b):
        if b == 1 << 20:
            return valid[4]  # a 4-byte character cut after 2 bytes, at Node's read chunk
        if b == 2 << 20:
            return invalid[0]  # a character cut short, at Node's second read chunk
        for unit in (256 << 10, 64 << 10):  # the ends of chunks of these sizes cycle through the kinds too
            if b % unit == 0:
                return kinds[(b // unit) % len(kinds)]
        return kinds[(b // block) % len(kinds)]

    lines, expected, pos, k = [], [], 0, 0

    def add(line, ok):
        nonlocal pos
        lines.append(line)
        pos += len(line) + 1
        if not ok:
            expected.append([len(lines), "invalid_utf8"])

    b = block
    while b < size:
        k += 1
        if k % 97 == 0:
            group = [(event(b"not UTF-8 \xc3\x28 mid-chunk"), False)]  # a bad continuation byte
        elif k % 151 == 0:
            group = [(event(b"three in a row: " + bad), False)
                     for bad in (b"\xf8\x88\x80\x80\x80", b"\xed\xa0\x80 a surrogate", b"\xc0\xaf overlong")]
            group.append((event("then non-ASCII: 中文 ☕".encode()), True))
        else:
            group = [(event(note()), True)]
        if pos + sum(len(line) + 1 for line, _ in group) < b - 400:
            for line, ok in group:
                add(line, ok)
            continue
        before, after, ok = kind(b)
        if not before:  # the line before ends at the boundary, this one starts there
            line = event(b"")
            add(line[:9] + b"x" * (b - pos - len(line) - 1) + line[9:], True)  # 9: after {"note":"
            add(event(after[9:]), True)
        else:
            head = b'{"note":"'
            pad = b - len(before) - pos - len(head)
            assert pad >= 0
            add(event(b"p" * pad + before + after), ok)
        b += block
    add(event(note())[:-30] + "😀".encode()[:3], False)  # the last line: a cut character, no newline
    data = b"\n".join(lines)
    for b in range(block, size, block):  # each boundary cuts what it should
        before, after, _ = kind(b)
        assert data[b - len(before):b + len(after)] == before + after and (before or data[b - 1] == 10), b
    with open(out_path, "wb") as out:
        out.write(data)
    if expected_path:
        with open(expected_path, "w") as f:
            json.dump(expected, f)
    print(f"make_sample.py: {len(lines)} lines ({len(expected)} not UTF-8), {len(data)} bytes -> {out_path}",
          file=sys.stderr)


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
    if len(argv) in (2, 4) and argv[0] == "utf8":
        return utf8(argv[1], argv[3] if len(argv) == 4 and argv[2] == "--expected" else None)
    if len(argv) >= 4 and argv[0] == "faults":
        return faults(argv[1], argv[2], argv[3:])
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
