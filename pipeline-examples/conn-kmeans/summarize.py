#!/usr/bin/env python3
"""Summarize what a conn-kmeans run flagged: per cluster, per reason, per
origin host, and the highest-scoring connections. Standard library only.

    python3 summarize.py out/scored.ndjson
"""
import collections
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
flagged = [r for r in rows if r["logsieve"]["anomaly"]]
print(f"{len(rows)} connections scored, {len(flagged)} flagged ({100 * len(flagged) / len(rows):.2f} %)")

by_cluster = collections.Counter(r["logsieve"]["cluster"] for r in rows)
flag_cluster = collections.Counter(r["logsieve"]["cluster"] for r in flagged)
print("\ncluster  scored  flagged")
for c in sorted(by_cluster):
    print(f"  {c:<6} {by_cluster[c]:>6}  {flag_cluster.get(c, 0):>7}")

reasons = collections.Counter(tuple(r["logsieve"]["reasons"]) for r in flagged)
print("\nreasons:")
for k, n in reasons.most_common():
    print(f"  {n:>6}  {' + '.join(k)}")

hosts = collections.Counter(r["id.orig_h"] for r in flagged)
print("\norigin hosts with the most flagged connections:")
for h, n in hosts.most_common(8):
    ports = collections.Counter(r["id.resp_p"] for r in flagged if r["id.orig_h"] == h)
    states = collections.Counter(r.get("conn_state", "-") for r in flagged if r["id.orig_h"] == h)
    print(f"  {h:>16} {n:>5}  ports {dict(ports.most_common(3))}  states {dict(states.most_common(2))}")

print("\nhighest scores:")
for r in sorted(flagged, key=lambda r: -r["logsieve"]["score"])[:10]:
    s = r["logsieve"]
    why = ", ".join(f'{f["feature"]} {f["share"]:.0%}' for f in s["top_features"])
    print(f'  {r["id.orig_h"]:>16} -> {r["id.resp_h"]}:{r["id.resp_p"]:<5} {r.get("proto", ""):<4} '
          f'{r.get("service", "-"):<5} {r.get("conn_state", ""):<6} dur {r.get("duration", 0):>9.1f} '
          f'bytes {r.get("orig_bytes", 0)}/{r.get("resp_bytes", 0)}  score {s["score"]:6.2f} ({why})')

beacon = [r for r in rows if r["id.orig_h"] == "73.54.23.243"]
if beacon:
    bf = [r for r in beacon if r["logsieve"]["anomaly"]]
    print(f"\nground truth host 73.54.23.243: {len(beacon)} connections, {len(bf)} flagged; "
          f"clusters {dict(collections.Counter(r['logsieve']['cluster'] for r in beacon))}")
