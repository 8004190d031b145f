#!/usr/bin/env python3
"""Summarize what a dce-rpc-kmodes run flagged: per reason, per source
network, and each flagged kind of call with the fields that differ from its
cluster's mode. Standard library only.

    python3 summarize.py out/scored.ndjson
"""
import collections
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
flagged = [r for r in rows if r["logsieve"]["anomaly"]]
print(f"{len(rows)} DCE-RPC calls scored, {len(flagged)} flagged ({100 * len(flagged) / len(rows):.1f} %)")

hist = collections.Counter(int(r["logsieve"]["distance"]) for r in rows)
print("fields differing from the nearest mode:", dict(sorted(hist.items())))

reasons = collections.Counter(tuple(r["logsieve"]["reasons"]) for r in flagged)
print("\nreasons:")
for k, n in reasons.most_common():
    print(f"  {n:>5}  {' + '.join(k)}")


def orig(r):
    return r.get("id.orig_h") or r.get("id_orig_h")


def resp(r):
    return r.get("id.resp_h") or r.get("id_resp_h")


print("\nflagged calls (grouped by what they are and why):")
groups = collections.defaultdict(list)
for r in flagged:
    s = r["logsieve"]
    key = (r.get("endpoint"), r.get("operation"), tuple(s["reasons"]), s["distance"], s["cluster"])
    groups[key].append(r)
for (endpoint, op, why, dist, cluster), rs in sorted(groups.items(), key=lambda kv: (-kv[0][3], -len(kv[1]))):
    pairs = collections.Counter(f"{orig(r)} -> {resp(r)}" for r in rs)
    diff = "; ".join(f'{m["feature"]}={m["value"]} (mode: {m["expected"]})' for m in rs[0]["logsieve"]["mismatches"])
    print(f"  {len(rs):>4} x {endpoint}/{op}  distance {dist:g}, cluster {cluster}, {' + '.join(why)}")
    print(f"         {dict(pairs.most_common(3))}")
    print(f"         differs: {diff or '(nothing: the cluster itself is rare)'}")
