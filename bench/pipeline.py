#!/usr/bin/env python3
"""End-to-end throughput of `logsieve run` (issue #21): the timed runs and
the table. Called by bench/pipeline.sh (which builds and makes the data).

Each command runs RUNS times, in rounds: every round runs each command once,
bounds and logsieve rows in turn, so that a row and its bound (`zcat` for
the Zeek row, `dd` of the output for the NDJSON row) are measured minutes
apart at most, not one after the other's three runs (this VM's speed moves
by a third within minutes). The best wall time of each command is reported
with its CPU time (user + sys), peak RSS (its own, from wait4) and the
machine's load: the 1-minute load average before it and the foreign load
during it (CPU time the rest of the machine used, from /proc/stat, per
second of wall time: 1.0 = one core kept busy by other processes); beside
the ratios of best times, the same ratio within each round.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

EVENTS = 1_059_180
BEGIN = "<!-- bench/pipeline.sh: begin -->"
END = "<!-- bench/pipeline.sh: end -->"


def cpu_busy_seconds():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_once(cmd, cwd):
    # GNU time measures the command itself (its peak RSS is not the
    # forked Python's).
    stats = os.path.join(cwd, ".time.txt")
    load1 = float(open("/proc/loadavg").read().split()[0])
    busy0 = cpu_busy_seconds()
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", stats, *cmd], cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    busy = cpu_busy_seconds() - busy0
    if p.returncode != 0:
        sys.exit(f"pipeline.py: {' '.join(cmd)} failed:\n{p.stderr.decode(errors='replace')}")
    _, user, system, rss_kib = open(stats).read().split()[-4:]
    user, system = float(user), float(system)
    own = user + system
    return {
        "wall": wall,
        "user": user,
        "sys": system,
        "rss_mib": int(rss_kib) / 1024,
        "load1_before": load1,
        "foreign_load": max(0.0, (busy - own) / wall),
    }


def summarize(name, cmd, rs):
    best = min(rs, key=lambda r: r["wall"])
    print(f"pipeline: {name}: best {best['wall']:.2f} s of {[round(r['wall'], 2) for r in rs]}, "
          f"load {best['load1_before']:.2f}, foreign {best['foreign_load']:.2f}", file=sys.stderr)
    return {"name": name, "command": " ".join(cmd), "runs": rs, "best": best,
            "median_wall": sorted(r["wall"] for r in rs)[len(rs) // 2]}


def measure(name, cmd, cwd, runs):
    return summarize(name, cmd, [run_once(cmd, cwd) for _ in range(runs)])


def sha_and_lines(path):
    # One read of the file: its SHA-256 and its number of lines.
    h, lines = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            lines += block.count(b"\n")
    return h.hexdigest(), lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", required=True, help="JSON results")
    ap.add_argument("--table", required=True, help="markdown table")
    ap.add_argument("--command", default="bench/pipeline.sh")
    ap.add_argument("--into", help="also replace the section in this file (BENCHMARKS.md)")
    ap.add_argument("--peer-python", help="a Python with pandas and scikit-learn: run the peer (1 run)")
    ap.add_argument("--scoring-json", help="bench/scoring.rs's --json output of the same run (row 10)")
    a = ap.parse_args()
    d = a.data
    tsv_files = sorted(
        os.path.join(root, f) for root, _, fs in os.walk(os.path.join(d, "tsv")) for f in fs if f.endswith(".gz"))
    # In the order of a round. The bound of the sink, "write": the scored
    # bytes the run before it wrote, copied to a file by dd (the kernel's
    # copy into the page cache, which every file sink pays).
    cmds = {
        "cat": ("cat conn.ndjson", ["cat", "conn.ndjson"]),
        "zcat": ("zcat (720 files)", ["zcat", *tsv_files]),
        "tsv-t1": ("logsieve run tsv-t1", [a.bin, "run", "tsv-t1.toml", "--quiet"]),
        "tsv-t2": ("logsieve run tsv-t2", [a.bin, "run", "tsv-t2.toml", "--quiet"]),
        "ndjson-t1": ("logsieve run ndjson-t1", [a.bin, "run", "ndjson-t1.toml", "--quiet"]),
        "ndjson-t2": ("logsieve run ndjson-t2", [a.bin, "run", "ndjson-t2.toml", "--quiet"]),
        "write": ("dd of the scored output", ["dd", "if=out/scored.ndjson", "of=out/copy.ndjson", "bs=1M",
                                              "status=none"]),
    }
    runs = {k: [] for k in cmds}
    digests = {}
    for r in range(a.runs):
        print(f"pipeline: round {r + 1} of {a.runs}", file=sys.stderr)
        for key, (_, cmd) in cmds.items():
            runs[key].append(run_once(cmd, d))
            if key.startswith(("ndjson", "tsv")):
                digest, lines = sha_and_lines(os.path.join(d, "out/scored.ndjson"))
                if lines != EVENTS:
                    sys.exit(f"pipeline.py: {key}: {lines} scored lines, not {EVENTS}")
                if digests.setdefault(key, digest) != digest:
                    sys.exit(f"pipeline.py: {key}: round {r + 1} wrote other bytes than round 1")
    rows = {key: summarize(name, cmd, runs[key]) for key, (name, cmd) in cmds.items()}
    out_bytes = os.path.getsize(os.path.join(d, "out/scored.ndjson"))
    os.remove(os.path.join(d, "out/copy.ndjson"))
    if a.peer_python:
        peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "pandas_pipeline.py")
        subprocess.run([a.bin, "inspect", "--json", "conn.model.msgpack"], cwd=d, check=True,
                       stdout=open(os.path.join(d, "conn.model.json"), "w"))
        rows["pandas"] = measure("pandas + scikit-learn", [a.peer_python, peer, "conn.model.json", "conn.ndjson",
                                                          "out/pandas.ndjson"], d, 1)
        versions = subprocess.run([a.peer_python, "-c", "import pandas, sklearn; print(pandas.__version__, "
                                   "sklearn.__version__)"], capture_output=True, text=True).stdout.split()
        rows["pandas"]["versions"] = versions
    for fmt in ("ndjson", "tsv"):
        if digests[f"{fmt}-t1"] != digests[f"{fmt}-t2"]:
            sys.exit(f"pipeline.py: {fmt}: threads 1 and 2 wrote different outputs")

    def eps(k):
        return EVENTS / rows[k]["best"]["wall"]

    def cell(k):
        b = rows[k]["best"]
        return (f"{b['wall']:.2f} s (median {rows[k]['median_wall']:.2f}); CPU {b['user'] + b['sys']:.2f} s; "
                f"RSS {b['rss_mib']:.0f} MiB; load {b['load1_before']:.2f}, foreign {b['foreign_load']:.2f}")

    def rounds(num, den):
        # num's wall time over den's, in each round.
        return ", ".join(f"{n['wall'] / m['wall']:.2f}" for n, m in zip(runs[num], runs[den]))

    yes = lambda ok: "**yes**" if ok else "**no**"
    scaling = eps("ndjson-t2") / eps("ndjson-t1")
    zratio = rows["tsv-t2"]["best"]["wall"] / rows["zcat"]["best"]["wall"]
    peak = max(rows[k]["best"]["rss_mib"] for k in rows if k.startswith(("ndjson", "tsv")))
    out = [
        "| row | logsieve | bound / peer | aim | met? |",
        "|---|---|---|---|---|",
        f"| 6a. NDJSON file → file sink, {EVENTS:,} rita conn events (416 MB), conn-kmeans, 2 threads | "
        f"**{eps('ndjson-t2'):,.0f} events/s**: {cell('ndjson-t2')} | `cat` of the file: {cell('cat')}; "
        f"writing the {out_bytes / 1e6:,.0f} MB of scored output (`dd bs=1M` of it into a file): {cell('write')}; "
        f"logsieve's time / dd's in each round: {rounds('ndjson-t2', 'write')} | "
        f"≥ 1,000,000 events/s on 2 cores | {yes(eps('ndjson-t2') >= 1e6)} |",
        f"| 6b. the same, `threads = 1` | {eps('ndjson-t1'):,.0f} events/s: {cell('ndjson-t1')} | — | — | — |",
        f"| 6c. scaling, NDJSON | 2 threads / 1 thread = **{scaling:.2f}×** (in each round: "
        f"{rounds('ndjson-t1', 'ndjson-t2')}) | — | ≥ 1.7× | {yes(scaling >= 1.7)} |",
        f"| 7a. Zeek TSV gzip (720 files) → file sink, the same events, 2 threads | "
        f"**{eps('tsv-t2'):,.0f} events/s**: {cell('tsv-t2')} | `zcat` of the 720 files: {cell('zcat')}; "
        f"logsieve takes **{zratio:.2f}×** zcat's time (best over best; in each round: "
        f"{rounds('tsv-t2', 'zcat')}) | ≥ 500,000 events/s on 2 cores, ≤ 2× zcat | "
        f"{yes(eps('tsv-t2') >= 5e5 and zratio <= 2)} |",
        f"| 7b. the same, `threads = 1` | {eps('tsv-t1'):,.0f} events/s: {cell('tsv-t1')} | — | — | — |",
        f"| 8. peak RSS of rows 6–7 | {peak:.0f} MiB at most | — | < 64 MiB | {yes(peak < 64)} |",
    ]
    if a.scoring_json and os.path.exists(a.scoring_json):
        agg = json.load(open(a.scoring_json))["aggregation"]
        comp, nat = agg["component"]["best_events_per_s"], agg["native"]["best_events_per_s"]
        out.append(
            f"| 9. per-host windows through the component, 1 thread (`cargo bench -p logsieve --bench scoring`, "
            f"the same run's row 4 details: kerberos-per-host recipe on rita conn, 6,059 hosts) | **{comp:,.0f} "
            f"events/s** (median {agg['component']['median_events_per_s']:,.0f}) | the same code natively: "
            f"{nat:,.0f} events/s (median {agg['native']['median_events_per_s']:,.0f}) | ≥ 1,000,000 events/s "
            f"per core | {yes(comp >= 1e6)} |")
    if "pandas" in rows:
        pv = rows["pandas"].get("versions") or ["?", "?"]
        ratio = rows["pandas"]["best"]["wall"] / rows["ndjson-t2"]["best"]["wall"]
        out.append(
            f"| 10. the NDJSON row's peer: pandas {pv[0]} + scikit-learn {pv[1]} (`bench/peers/pandas_pipeline.py`: "
            f"read_json in chunks of 100,000, KMeans.predict, to_json; less work per event than logsieve: no cblof, "
            f"reasons, top features or error records) | logsieve (6a) is **{ratio:.1f}×** faster | "
            f"{EVENTS / rows['pandas']['best']['wall']:,.0f} events/s: {cell('pandas')} (1 run) | — | — |")
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"]).returncode != 0
    section = [
        BEGIN,
        "## End to end: `logsieve run` (bench/pipeline.sh)",
        "",
        f"Written by `{a.command}` ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; {model}, "
        f"{os.cpu_count()} cores; logsieve at git {git}{' with uncommitted changes' if dirty else ''}), "
        + ("part of the run of the table above (rows 4 and 9 from the same scoring bench). " if a.scoring_json
           else "a run of its own, not the run of the table above. ") +
        "The data: `bench/pipeline_data.sh` — the "
        "rita-missing-host conn logs (3 days × 24 gzip'd Zeek TSV files) repeated 10 times, and the same "
        "events as one NDJSON file; the conn-kmeans example's model (k-means, cblof, top_features 3); a file "
        "sink for the scored events and one for the errors (outputs checked: every event scored, threads 1 "
        f"and 2 byte for byte equal). Best of {a.runs} runs each, run in {a.runs} rounds of every command in "
        "turn (bounds and rows in the same minutes); CPU = user + sys of the process; RSS its peak; load = "
        "the 1-minute load average before the run, foreign = cores kept busy by other processes during it.",
        "",
        *out,
        END,
    ]
    with open(a.table, "w") as f:
        f.write("\n".join(section) + "\n")
    if a.into:
        text = open(a.into).read()
        block = "\n".join(section) + "\n"
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            text = head + block + rest.split(END + "\n", 1)[-1]
        else:
            text = text.rstrip("\n") + "\n\n" + block
        with open(a.into, "w") as f:
            f.write(text)
    info = {"rows": rows, "digests": digests, "events": EVENTS, "command": a.command,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(a.out, "w") as f:
        json.dump(info, f, indent=1)
    print("\n".join(out))


if __name__ == "__main__":
    main()
