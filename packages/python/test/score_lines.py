"""The Python package's test host: scores an NDJSON file with `logsieve.Scorer`
exactly as the package's README shows, and writes what `logsieve run` writes
(scored NDJSON, error records, the counts), so that
pipeline-examples/embedding/test/lib.sh can compare it with the CLI's.

    python score_lines.py --model M --input F [--format ndjson] [--batch-size 1000]
        [--top-features 3] --out SCORED --errors ERRORS [--summary-json S] [--api score|text]

Run with the python of a venv the wheel was installed into (packages/python/test.sh).
Takes clean NDJSON only (each line one JSON event, UTF-8): reading logs is
the CLI's reader's job, not this package's.
"""
import argparse
import json
import sys
import time

import logsieve

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--input", required=True)
ap.add_argument("--format", default="ndjson")
ap.add_argument("--batch-size", type=int, default=1000)
ap.add_argument("--top-features", type=int, default=3)
ap.add_argument("--out", required=True)
ap.add_argument("--errors", required=True)
ap.add_argument("--summary-json")
ap.add_argument("--api", choices=("score", "text"), default="score",
                help="score: Scorer.score on lists of lines; text: Scorer.score_text on NDJSON text")
a = ap.parse_args()
if a.format != "ndjson":
    sys.exit(f"score_lines.py: --format {a.format}: the package test host reads NDJSON only")
if "site-packages" not in logsieve.__file__:
    sys.exit(f"score_lines.py: logsieve is imported from {logsieve.__file__}, not from an installed wheel")

try:
    scorer = logsieve.Scorer(open(a.model, "rb").read(), top_features=a.top_features)
except logsieve.ModelError as e:
    print(f"score_lines.py: {a.model}: {e}", file=sys.stderr)
    sys.exit(2)
model = scorer.info["id"]
t0 = time.perf_counter()  # from reading the input to the last write, as the other hosts' figures
with open(a.input, encoding="utf-8") as f:
    text = f.read()
lines = [] if a.api == "text" else text.split("\n")  # text: cut into batches by ndjson_batches
if lines and lines[-1] == "":
    lines.pop()

c = dict.fromkeys(("in", "scored", "anomalies", "errors", "passed", "dropped", "absorbed", "emitted",
                   "emitted_scored", "emitted_errors", "in_rare_clusters", "guest_faults"), 0)
with open(a.out, "w", encoding="utf-8", newline="") as out, open(a.errors, "w", encoding="utf-8") as err:
    def write(results, first_line, batch):
        scored = []
        for i, r in enumerate(results):
            agg = r.get("aggregate", False)
            if agg:
                c["emitted"] += 1
            if "logsieve" in r:
                c["emitted_scored" if agg else "scored"] += 1
                v = r["logsieve"]
                c["anomalies"] += v["anomaly"]
                c["in_rare_clusters"] += "rare_cluster" in v["reasons"]
                scored.append(r["event"])
            elif "passed" in r:
                c["passed"] += 1
                scored.append(r["event"])
            elif "error" in r:
                c["errors"] += 1
                if agg:
                    c["emitted_errors"] += 1
                line, event = (0, "") if agg else (first_line + i, batch[i])
                err.write(json.dumps({"reason": r["error"]["reason"], "detail": r["error"]["detail"], "model": model,
                                      "line": line, "event": event}, ensure_ascii=False, separators=(",", ":")) + "\n")
            elif "dropped" in r:
                c["dropped"] += 1
            elif "absorbed" in r:
                c["absorbed"] += 1
        if scored:
            out.write("\n".join(scored) + "\n")

    def write_text(r, first_line):
        for k, n in r.counts.items():
            c[k] += n
        c["errors"] += r.counts["emitted_errors"]  # this host counts them as the CLI does: in errors too
        out.write(r.text)
        for e in r.errors:
            line = 0 if e["index"] is None else first_line + e["index"]
            err.write(json.dumps({"reason": e["reason"], "detail": e["detail"], "model": model, "line": line,
                                  "event": e["event"]}, ensure_ascii=False, separators=(",", ":")) + "\n")

    if a.api == "text":
        first_line = 1
        for batch in logsieve.ndjson_batches(text, a.batch_size):
            r = scorer.score_text(batch)
            write_text(r, first_line)
            first_line += r.counts["in"]
    for at in range(0, len(lines), a.batch_size):
        batch = lines[at:at + a.batch_size]
        c["in"] += len(batch)
        write(scorer.score(batch), at + 1, batch)
    if a.api == "text":
        write_text(scorer.flush_text(), 0)
    else:
        write(scorer.flush(), 0, [])
seconds = time.perf_counter() - t0
scored_all = c["scored"] + c["emitted_scored"]
if a.summary_json:
    with open(a.summary_json, "w") as f:
        json.dump({**c, "rating": 10 * c["in_rare_clusters"] / scored_all if scored_all else 0, "model": model,
                   "seconds": seconds}, f)
print(f"score_lines.py: {c['in']} events in {seconds:.2f} s ({c['in'] / max(seconds, 1e-9):.0f} events/s): "
      f"{c['scored']} scored ({c['anomalies']} anomalies) + {c['passed']} passed + {c['dropped']} dropped + "
      f"{c['absorbed']} absorbed + {c['errors'] - c['emitted_errors']} errors", file=sys.stderr)
