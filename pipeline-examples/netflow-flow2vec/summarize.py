#!/usr/bin/env python3
"""How flows scored by the netflow-flow2vec model, per label: unseen flows,
flows scored through a known relative, flows far from their cluster, and the
score distribution. Standard library only.

    python3 summarize.py NAME=out/test5.ndjson NAME=out/botnet.ndjson …

Flows with a per-flow label (test5-old-full: flow=Malware-…,
flow=Background) are grouped by it; the others under the file's NAME.
"""
import collections
import json
import statistics
import sys


def group(name, r):
    label = r.get("Label") or ""
    for kind in ("Malware", "Background", "Normal"):
        if label.startswith("flow=" + kind):
            return f"{name}: {kind}"
    return name


by = collections.defaultdict(list)
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    for line in open(path):
        r = json.loads(line)
        by[group(name, r)].append(r["logsieve"])

print(f"{'group':<30} {'flows':>6} {'known':>7} {'unseen':>7} {'via relative':>13} {'no relative':>12} "
      f"{'far':>6} {'median score':>13} {'sequences':>10} {'unusual':>8}")
for g in sorted(by):
    s = by[g]
    n = len(s)
    unseen = [x for x in s if "unseen_flow" in x["reasons"]]
    rel = [x for x in unseen if "relative" in x]
    scored = [x["score"] for x in s if x["score"] is not None]
    far = sum("far_from_centroid" in x["reasons"] for x in s)
    med = statistics.median(scored) if scored else float("nan")
    seqs = [x for x in s if "sequence" in x]
    unusual = sum("unusual_sequence" in x["reasons"] for x in s)
    pct = lambda k: f"{100 * k / n:6.1f}%"
    print(f"{g:<30} {n:>6} {pct(n - len(unseen)):>7} {pct(len(unseen)):>7} {pct(len(rel)):>13} "
          f"{pct(len(unseen) - len(rel)):>12} {pct(far):>6} {med:>13.3f} {len(seqs):>10} {unusual:>8}")

print("\nmost frequent relatives used for unseen flows:")
rels = collections.Counter(x["relative"] for s in by.values() for x in s if "relative" in x)
for t, k in rels.most_common(5):
    print(f"  {k:>6}  {t}")
