#!/usr/bin/env python3
"""Reader parity: the Python port of the CLI's reader (logsieve_spark/reader.py)
gives exactly the CLI's JSON texts and read errors, file by file.

    reader_parity.py LOGSIEVE WORKDIR FILE_OR_GLOB...

The CLI's reader output is made visible with a pass-through model: a spec
whose `[[where]]` no event meets, with `unmatched = "pass"`, so `logsieve run`
writes every event it read unchanged (assembled with `logsieve assemble`),
and every read error to the errors sink. Prints one line per input and
`N passed, M failed`; exit 1 on any difference.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from logsieve_spark import reader  # noqa: E402

PASS_SPEC = """\
# Every event is passed on unscored: `logsieve run` then writes exactly what its reader made.
[model]
kind = "kmeans"
n_clusters = 1

[[where]]
field = "__logsieve_never_present__"
op = "exists"

[filter]
unmatched = "pass"

[[features]]
field = "__logsieve_never_present__"
type = "numeric"
"""
PASS_STATE = {
    "features": [{"type": "numeric", "offset": 0.0, "scale": 1.0, "fill": 0.0}],
    "clusters": [{"centroid": [0.0], "size": 1, "share": 1.0, "threshold": 1.0, "rare": False,
                  "mean_distance": 0.0, "max_distance": 0.0}],
    "training": {"rows": 1, "skipped": 0, "inertia": 0.0, "n_iter": 1, "inputs": [], "created_unix": 0},
}
# Details that quote the OS's or zlib's words differ between Rust and Python.
OS_WORDED = {"open_failed", "read_failed", "corrupt_gzip"}


def passthrough_model(logsieve, work):
    os.makedirs(work, exist_ok=True)
    spec, state, model = (os.path.join(work, n) for n in ("pass.toml", "pass.state.json", "pass.model.msgpack"))
    with open(spec, "w") as f:
        f.write(PASS_SPEC)
    with open(state, "w") as f:
        json.dump(PASS_STATE, f)
    subprocess.run([logsieve, "assemble", "--spec", spec, "--state", state, "--out", model, "--quiet"], check=True)
    return model


def cli_read(logsieve, model, path, work):
    out, err = os.path.join(work, "cli.out.ndjson"), os.path.join(work, "cli.err.ndjson")
    pipe = os.path.join(work, "pass.pipeline.toml")
    with open(pipe, "w") as f:
        f.write(f"""[sources.in]\ntype = "file"\npath = {json.dumps(os.path.abspath(path))}\nformat = "auto"\n
[transforms.t]\ntype = "logsieve"\ninputs = ["in"]\nmodel = {json.dumps(model)}\n
[sinks.out]\ntype = "file"\ninputs = ["t"]\npath = {json.dumps(out)}\n
[sinks.err]\ntype = "file"\ninputs = ["t.errors"]\npath = {json.dumps(err)}\n""")
    subprocess.run([logsieve, "run", pipe, "--quiet"], check=True)
    with open(out, "rb") as f:
        events = f.read().decode("utf-8").split("\n")[:-1]
    with open(err, encoding="utf-8") as f:
        errors = [json.loads(l) for l in f]
    return events, [(e["line"], e["reason"], e["detail"], e["event"]) for e in errors]


READER_REASONS = {"open_failed", "read_failed", "truncated_gzip", "corrupt_gzip", "invalid_utf8", "line_too_long",
                  "empty_line", "zeek_column_count", "zeek_bad_value", "zeek_no_header", "zeek_bad_header"}


def cli_stream(events, errors):
    """The CLI reader's records: the events passed on, plus those the component refused
    (not JSON, not an object, ...: the reader made them; their error record holds the text)."""
    reader_errors = [e for e in errors if e[1] in READER_REASONS]
    refused = {e[0]: e[3] for e in errors if e[1] not in READER_REASONS}
    return events, refused, reader_errors


def py_read(path):
    events, errors = [], []
    for line, text, bad in reader.read_file(path, "auto"):
        if bad is None:
            events.append((line, text))
        else:
            errors.append((line, bad[0], bad[1], bad[2]))
    return events, errors


def tricky_inputs(work):
    """Hand-made inputs with every corner the reader has (written here, not committed)."""
    d = os.path.join(work, "tricky")
    os.makedirs(d, exist_ok=True)
    rows = [
        b"#separator \\x09",
        b"#set_separator\t,",
        b"#empty_field\t(empty)",
        b"#unset_field\t-",
        b"#path\ttest",
        b"#fields\tts\tc\ti\tp\td\tb\ts\tset\tvec\te\tx",
        b"#types\ttime\tcount\tint\tport\tdouble\tbool\tstring\tset[string]\tvector[double]\tenum\tfancy_type",
        b"1.5\t007\t+3\t00080\t.5\tT\ta\\x09b\\\\c\\xc3\\xa9\\xff\\xe8\\x9bZ\tx,-,\\x2c\t1,2e5,.5\t-\tw",
        b"1713484800\t18446744073709551615\t-9223372036854775808\t65535\t1e5\tF\t(empty)\t(empty)\t(empty)\ttcp\t-",
        b"1\t18446744073709551616\t1\t1\t1\tT\ts\t-\t-\t-\t-",
        b"1\t1\t1.5\t1\t1\tT\ts\t-\t-\t-\t-",
        b"1\t1\t1\t70000\t1\tT\ts\t-\t-\t-\t-",
        b"1e999\t1\t1\t1\t1\tT\ts\t-\t-\t-\t-",
        b"1.\t1\t1\t1\t+2\tT\tq\"uote\t-\t-\t-\t-",
        b"1\t1\t1\t1\t-.5e-7\tT\ts\t-\t-\t-\t-",
        b"1\t1\t1\t1\t123456789012345678.\tT\ts\t-\t-\t-\t-",
        b"1\t1\t1\t1\t.0001\tT\ts\t-\t-\t-\t-",
        b"1\t1\t1\t1\t1e-7x\tT\ts\t-\t-\t-\t-",
        b"1\t1\t1\t1\tinf\tT\ts\t-\t-\t-\t-",
        b"1\t1\t1\t1\t1\ttrue\ts\t-\t-\t-\t-",
        b"1\t1\t1\t1\t1\tT\tctl\x01\x7f\xc3\xa9 \xe2\x80\xa8\t-\t-\t-\t-",
        b"1\t1\t1\t1\t1\tT\ts\t-\t1,x\t-\t-",
        b"1\t2\t3",
        b"",
        b"2\t1\t1\t1\t1\tT\tcrlf\t-\t-\t-\t-\r",
        b"\xff\xfe not utf-8",
        b"#types\ttime\tcount",
        b"#fields\ta\tb",
        b"1\t2",
        b"#separator \\x7c",
        b"#set_separator|;",
        b"#unset_field|NONE",
        b"#fields|x|y|z",
        b"#types|bool|set[port]|string",
        b"T|1;2|NONE",
        b"F|NONE;3|\\x2d",
        b"#unset_field|",
        b"#separator \\xff",
        b"#close|2024",
    ]
    with open(os.path.join(d, "tricky.zeek.log"), "wb") as f:
        f.write(b"\n".join(rows))  # no newline after the last line
    import gzip
    with gzip.open(os.path.join(d, "tricky-members.zeek.log.gz"), "wb") as f:
        f.write(b"\n".join(rows[:10]) + b"\n")
    with open(os.path.join(d, "tricky-members.zeek.log.gz"), "ab") as f:
        f.write(gzip.compress(b"\n".join(rows[10:16]) + b"\n"))
    with open(os.path.join(d, "no-types.zeek.log"), "wb") as f:
        f.write(b"\xef\xbb\xbf#fields\ta\tb\n1\t2\n3\n#types\tcount\n")
    with open(os.path.join(d, "row-first.zeek.log"), "wb") as f:
        f.write(b"#path\tx\n1\t2\n#fields\ta\n1\n")
    nd = ['{"a":1}', '  {"b":2}\t', "\u3000{\"c\":3}\u2028", "\u0085", "", "\ufeff{\"d\":4}", '{"e":"\u00e9"}\r',
          "   ", '{"f":[1,2]}']
    with open(os.path.join(d, "tricky.ndjson"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + "\n".join(nd).encode("utf-8") + b"\n")
    return sorted(os.path.join(d, n) for n in os.listdir(d))


def main():
    logsieve, work, patterns = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3:]
    model = passthrough_model(logsieve, work)
    if "--tricky" in patterns:
        patterns = [p for p in patterns if p != "--tricky"] + tricky_inputs(work)
    passed = failed = 0
    n_events = n_errors = 0
    for path in map(os.path.abspath, reader.expand_inputs(patterns)):
        ce, refused, cx = cli_stream(*cli_read(logsieve, model, path, work))
        pe, px = py_read(path)
        # Events the component refused are compared where they were (by line).
        got_refused = {line: text for line, text in pe if line in refused}
        pe = [text for line, text in pe if line not in refused]
        problems = []
        if ce != pe:
            diff = next((i for i, (a, b) in enumerate(zip(ce, pe)) if a != b), min(len(ce), len(pe)))
            problems.append(f"events differ: CLI {len(ce)}, Python {len(pe)}; first difference at event {diff}:\n"
                            f"    CLI    {ce[diff] if diff < len(ce) else '<none>'}\n"
                            f"    Python {pe[diff] if diff < len(pe) else '<none>'}")
        if got_refused != refused:
            problems.append(f"events the component refused differ: CLI {sorted(refused)[:5]}, Python {sorted(got_refused)[:5]}")
        key = lambda e: (e[0], e[1], "" if e[1] in OS_WORDED else e[2], e[3])
        if [key(e) for e in cx] != [key(e) for e in px]:
            problems.append(f"read errors differ:\n    CLI    {cx[:3]}\n    Python {px[:3]}")
        n_events += len(ce) + len(refused)
        n_errors += len(cx)
        if problems:
            failed += 1
            print(f"FAIL {path}: " + "\n  ".join(problems))
        else:
            passed += 1
    print(f"reader parity: {n_events} events and {n_errors} read errors compared")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
