"""score_text against score on batches the package cases do not hold: an empty
batch, blank lines, CRLF line ends, a last line without "\\n", invalid JSON, a
line that is not an object, a non-ASCII event; and ndjson_batches' cuts. Run
by packages/python/test.sh with the venv that installed the wheel:

    python text_api.py MODEL
"""
import sys

import logsieve

model = open(sys.argv[1], "rb").read()
good = '{"ts":1713484800.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5353,"id.resp_h":"224.0.0.251","id.resp_p":5353,"proto":"udp","duration":0.5,"orig_bytes":40,"resp_bytes":0,"conn_state":"S0","missed_bytes":0,"history":"D","orig_pkts":1,"orig_ip_bytes":68,"resp_pkts":0,"resp_ip_bytes":0}'
cases = {
    "empty": "",
    "one, no final newline": good,
    "blank lines": f"{good}\n\n{good}\n\n",
    "CRLF": f"{good}\r\n{good}\r\n",
    "invalid JSON and not an object": f"{good}\n{{not json\n[1,2]\n{good}\n",
    "non-ASCII": good.replace('"C1"', '"C\u00e9\u4e2d\U0001F600"') + "\n",
}
failed = 0


def expected(lines, results):
    """What score_text must give, built from score's results on the same lines."""
    text, errors = [], []
    counts = dict.fromkeys(("in", "scored", "anomalies", "in_rare_clusters", "passed", "dropped", "absorbed",
                            "errors", "emitted", "emitted_scored", "emitted_errors"), 0)
    counts["in"] = len(lines)
    for i, r in enumerate(results):
        agg = r.get("aggregate", False)
        counts["emitted"] += agg
        if "logsieve" in r:
            counts["emitted_scored" if agg else "scored"] += 1
            counts["anomalies"] += r["logsieve"]["anomaly"] is True
            counts["in_rare_clusters"] += "rare_cluster" in r["logsieve"]["reasons"]
            text.append(r["event"] + "\n")
        elif "passed" in r:
            counts["passed"] += 1
            text.append(r["event"] + "\n")
        elif "error" in r:
            counts["emitted_errors" if agg else "errors"] += 1
            errors.append({"index": None if agg else i, "reason": r["error"]["reason"],
                           "detail": r["error"]["detail"], "event": "" if agg else lines[i]})
        else:
            counts["dropped" if "dropped" in r else "absorbed"] += 1
    return "".join(text), errors, counts


for name, text in cases.items():
    lines = text.split("\n")
    if text.endswith("\n") or text == "":
        lines.pop()
    got = logsieve.Scorer(model, top_features=3).score_text(text)
    want = expected(lines, logsieve.Scorer(model, top_features=3).score(lines))
    if (got.text, got.errors, got.counts) != want:
        failed += 1
        print(f"text-api: FAIL {name}:\n  score_text {(got.text, got.errors, got.counts)!r}\n  score      {want!r}")
    else:
        print(f"text-api: ok {name}: {got.counts['scored']} scored, {got.counts['errors']} errors")

text = "".join(f"{{\"n\":{i}}}\n" for i in range(10)) + '{"n":10}'
for n in (1, 3, 10, 11, 1000):
    batches = list(logsieve.ndjson_batches(text, n))
    ok = ("".join(batches) == text and all(b.endswith("\n") for b in batches[:-1])
          and all(b.count("\n") == n for b in batches[:-1]) and 0 < batches[-1].count("\n") + 1 <= n + 1)
    if not ok:
        failed += 1
        print(f"text-api: FAIL ndjson_batches(lines={n}): {batches!r}")
try:
    logsieve.Scorer(model).score_text(["not", "a", "str"])
    failed += 1
    print("text-api: FAIL score_text took a list")
except TypeError:
    pass
print(f"text-api: {'FAIL' if failed else 'ok'} ({failed} failed)")
sys.exit(1 if failed else 0)
