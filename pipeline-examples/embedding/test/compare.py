#!/usr/bin/env python3
"""Compare an embedding host's output with the `logsieve` CLI's (standard library only).

    compare.py outputs --label L --cli-scored A --cli-errors B --host-scored C --host-errors D
                       [--cli-summary S --host-summary T]
                       [--expected EXPECTED.json] [--min-scored N] [--min-errors N]
        The scored NDJSON must be identical byte for byte. The error records
        must be the same, in the same order, in what both have: reason,
        detail, model, line and the event text (the CLI's also name the
        transform and the file). For `guest_trap`/`guest_timeout` records the
        detail is the runtime's own wording and is not compared. EXPECTED
        ([[line, reason], ...], from make_sample.py) must be exactly the
        CLI's errors, so the sample's error path is known to be exercised.
        S is `logsieve run --summary-json`, T the host's --summary-json: the
        host's counts (in, scored, anomalies, in_rare_clusters, rating,
        errors, passed, dropped, absorbed, emitted..., guest_faults, model)
        must be the CLI transform's, and it must have found anomalies
        exactly where the CLI's scored lines say so.

    compare.py model-error --label L --cli-stderr F --cli-status N --host-stderr G --host-status M
        Both refused the model (status 2) and say why in the same words.

Exits 1 with a message saying what differs.
"""

import argparse
import json
import sys

FAULTS = {"guest_trap", "guest_timeout", "guest_memory_limit"}


def die(label, msg):
    sys.exit(f"compare: FAIL {label}: {msg}")


def read(label, path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        die(label, f"cannot read the {what} {path}: {e}")


def short(b, n=240):
    s = b.decode("utf-8", "replace")
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def records(label, path, data):
    out = []
    for i, line in enumerate(data.splitlines(), 1):
        try:
            r = json.loads(line)
        except ValueError as e:
            die(label, f"{path} line {i} is not JSON ({e}): {short(line)}")
        missing = [k for k in ("reason", "detail", "model", "line", "event") if k not in r]
        if missing:
            die(label, f"{path} line {i} lacks {missing}: {short(line)}")
        out.append(r)
    return out


def key(r):
    detail = None if r["reason"] in FAULTS else r["detail"]
    return (r["line"], r["reason"], detail, r["model"], r["event"])


def outputs(a):
    label = a.label
    cli, host = read(label, a.cli_scored, "CLI's scored output"), read(label, a.host_scored, "host's scored output")
    if cli != host:
        cl, hl = cli.split(b"\n"), host.split(b"\n")
        for i, (x, y) in enumerate(zip(cl, hl), 1):
            if x != y:
                at = next((k for k, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                cut = max(0, at - 80)
                die(label, f"scored output differs at line {i}, byte {at + 1} of the line ({len(cl) - 1} lines from "
                           f"the CLI, {len(hl) - 1} from the host):\n  cli:  ...{short(x[cut:])}\n"
                           f"  host: ...{short(y[cut:])}")
        die(label, f"scored output: {len(cl) - 1} lines from the CLI, {len(hl) - 1} from the host "
                   f"(the shorter is a prefix of the longer)")
    n_scored = cli.count(b"\n")
    if n_scored < a.min_scored:
        die(label, f"only {n_scored} scored lines (at least {a.min_scored} expected): the sample is not what it should be")

    ce = records(label, a.cli_errors, read(label, a.cli_errors, "CLI's errors"))
    he = records(label, a.host_errors, read(label, a.host_errors, "host's errors"))
    for i, (x, y) in enumerate(zip(ce, he), 1):
        if key(x) != key(y):
            die(label, f"error record {i} differs:\n  cli:  {json.dumps(x, ensure_ascii=False)[:300]}\n"
                       f"  host: {json.dumps(y, ensure_ascii=False)[:300]}")
    if len(ce) != len(he):
        die(label, f"{len(ce)} error records from the CLI, {len(he)} from the host")
    if len(ce) < a.min_errors:
        die(label, f"only {len(ce)} error records (at least {a.min_errors} expected): the error path was not exercised")
    if a.expected:
        with open(a.expected) as f:
            expected = [tuple(x) for x in json.load(f)]
        # (By line: the CLI writes a batch's reader errors before its scoring errors.)
        got = sorted((r["line"], r["reason"]) for r in ce)
        expected.sort()
        if got != expected:
            die(label, f"the CLI's errors are not the ones the sample was made to give:\n  expected: {expected}\n"
                       f"  got:      {got}")
    counts = ""
    if a.cli_summary or a.host_summary:
        counts = summaries(label, a.cli_summary, a.host_summary, cli)
    print(f"compare: ok {label}: {n_scored} scored lines identical byte for byte, {len(ce)} error records identical "
          f"({', '.join(sorted({r['reason'] for r in ce}))}){counts}")


# The host's summary keys that must equal the CLI transform's (`seconds` and
# the CLI's other keys are not compared).
SUMMARY_KEYS = ("in", "scored", "anomalies", "in_rare_clusters", "rating", "errors", "passed", "dropped", "absorbed",
                "emitted", "emitted_scored", "emitted_errors", "guest_faults", "model")


def summaries(label, cli_path, host_path, cli_scored):
    if not (cli_path and host_path):
        die(label, "--cli-summary and --host-summary go together")
    try:
        with open(cli_path, encoding="utf-8") as f:
            transforms = json.load(f)["transforms"]
    except (OSError, ValueError, KeyError) as e:
        die(label, f"cannot read the CLI's summary {cli_path}: {e}")
    if len(transforms) != 1:
        die(label, f"the CLI's summary has {len(transforms)} transforms, not 1")
    c = next(iter(transforms.values()))
    try:
        with open(host_path, encoding="utf-8") as f:
            h = json.load(f)
    except (OSError, ValueError) as e:
        die(label, f"cannot read the host's summary {host_path}: {e}")
    diff = [f"{k}: cli {c.get(k)!r}, host {h.get(k)!r}" for k in SUMMARY_KEYS if c.get(k) != h.get(k)]
    if diff:
        die(label, "the counts differ from the CLI's:\n  " + "\n  ".join(diff))
    # And the CLI's count is its output's: the scored lines that say anomaly.
    in_text = sum(1 for line in cli_scored.split(b"\n") if line.strip()
                  and json.loads(line).get("logsieve", {}).get("anomaly") is True)
    if in_text != c["anomalies"]:
        die(label, f"the CLI counted {c['anomalies']} anomalies, its scored output has {in_text}")
    return f"; counts identical ({h['anomalies']} anomalies)"


def model_error(a):
    label = a.label
    cli = read(label, a.cli_stderr, "CLI's stderr").decode("utf-8", "replace")
    host = read(label, a.host_stderr, "host's stderr").decode("utf-8", "replace")
    if a.cli_status != 2:
        die(label, f"the CLI exited with {a.cli_status}, not 2, on a bad model: {cli.strip()}")
    if a.host_status != 2:
        die(label, f"the host exited with {a.host_status}, not 2, on a bad model: {host.strip()}")
    # The host says "score.x: <path>: <why>"; the CLI says "... <path>: <why>".
    lines = [l for l in host.splitlines() if l.strip()]
    if not lines or ": " not in lines[-1]:
        die(label, f"the host said nothing about the refused model: {host!r}")
    why = lines[-1].split(": ", 2)[-1]
    if why not in cli:
        die(label, f"the host's reason differs from the CLI's:\n  cli:  {cli.strip()}\n  host: {lines[-1]}")
    print(f"compare: ok {label}: both refuse the model: {why}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("outputs")
    o.add_argument("--label", required=True)
    for k in ("cli-scored", "cli-errors", "host-scored", "host-errors"):
        o.add_argument(f"--{k}", required=True)
    o.add_argument("--expected")
    o.add_argument("--cli-summary")
    o.add_argument("--host-summary")
    o.add_argument("--min-scored", type=int, default=1)
    o.add_argument("--min-errors", type=int, default=1)
    m = sub.add_parser("model-error")
    m.add_argument("--label", required=True)
    m.add_argument("--cli-stderr", required=True)
    m.add_argument("--cli-status", type=int, required=True)
    m.add_argument("--host-stderr", required=True)
    m.add_argument("--host-status", type=int, required=True)
    a = ap.parse_args()
    outputs(a) if a.cmd == "outputs" else model_error(a)


if __name__ == "__main__":
    main()
