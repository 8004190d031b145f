#!/usr/bin/env python3
"""Throughput of a socket source -> socket sink pipeline on loopback (issue
#23): `logsieve run` listening on TCP, a client sending the NDJSON file of
bench/pipeline_data.sh with sendfile(2), and a receiver reading the scored
lines from logsieve's socket sink. The time is from the first byte sent to
the last scored line received; the summary's counts are checked against
the input. The same file through a file source and file sink is timed in the
same run for comparison (row 6a of BENCHMARKS.md).

Usage: bench/socket_bench.py --bin target/release/logsieve --data target/bench-pipeline
       [--runs 3] [--threads 2] [--table out.md]
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import threading
import time


def receiver(server, want, done):
    conn, _ = server.accept()
    n = 0
    tail = b""
    # A 1 MiB receive buffer, as a collector would have.
    while n < want:
        b = conn.recv(1 << 20)
        if not b:
            break
        n += b.count(b"\n")
        tail = b[-200:]
    done["lines"] = n
    done["t"] = time.monotonic()
    done["tail"] = tail
    done["event"].set()
    # Keep reading until logsieve closes (its end-of-run flush).
    while conn.recv(1 << 20):
        pass
    conn.close()


def socket_run(a, data, n_events, threads):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    sink_port = server.getsockname()[1]
    work = os.path.join(data, "socket")
    os.makedirs(work, exist_ok=True)
    pipeline = f"""
[sources.net]
type = "socket"
mode = "tcp"
address = "127.0.0.1:0"
format = "ndjson"

[transforms.score]
type = "logsieve"
inputs = ["net"]
model = "{os.path.join(data, 'conn.model.msgpack')}"
threads = {threads}

[sinks.back]
type = "socket"
mode = "tcp"
address = "127.0.0.1:{sink_port}"
inputs = ["score"]

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "errors.ndjson"
"""
    with open(os.path.join(work, "p.toml"), "w") as f:
        f.write(pipeline)
    done = {"event": threading.Event()}
    rt = threading.Thread(target=receiver, args=(server, n_events, done))
    rt.start()
    p = subprocess.Popen([a.bin, "run", "p.toml", "--summary-json", "s.json"], cwd=work,
                         stderr=subprocess.PIPE, text=True)
    port = None
    for line in p.stderr:
        if "listening on tcp" in line:
            port = int(line.rsplit(":", 1)[1])
            break
    assert port, "logsieve did not listen"
    rusage0 = os.times()
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as c, open(os.path.join(data, "conn.ndjson"), "rb") as f:
        c.sendfile(f)
    assert done["event"].wait(timeout=600), "the scored lines did not all come back"
    wall = done["t"] - t0
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=120)
    rt.join(timeout=60)
    rusage1 = os.times()
    s = json.load(open(os.path.join(work, "s.json")))
    read = s["sources"]["net"]["read"]
    assert read == n_events, f"read {read} of {n_events}"
    assert done["lines"] == s["transforms"]["score"]["scored"] == n_events, (done["lines"], s["transforms"]["score"])
    cpu = (rusage1.children_user - rusage0.children_user) + (rusage1.children_system - rusage0.children_system)
    return {"wall": wall, "cpu": cpu, "rss_mib": s.get("peak_rss_mib")}


def file_run(a, data, threads):
    t0 = time.monotonic()
    r0 = os.times()
    subprocess.run([a.bin, "run", f"ndjson-t{threads}.toml", "--quiet"], cwd=data, check=True)
    r1 = os.times()
    return {"wall": time.monotonic() - t0,
            "cpu": (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)}


def harness_run(data, n_events):
    """The harness alone: the scored output of the file run sent by the
    same client to the same receiver (what moving the bytes costs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    done = {"event": threading.Event()}
    rt = threading.Thread(target=receiver, args=(server, n_events, done))
    rt.start()
    t0 = time.monotonic()
    with socket.create_connection(server.getsockname()) as c, \
            open(os.path.join(data, "out", "scored.ndjson"), "rb") as f:
        c.sendfile(f)
    assert done["event"].wait(timeout=600)
    rt.join(timeout=60)
    assert done["lines"] == n_events, done["lines"]
    return {"wall": done["t"] - t0, "cpu": 0.0}


def loadavg():
    return os.getloadavg()[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table")
    a = ap.parse_args()
    data = os.path.abspath(a.data)
    n_events = sum(1 for _ in open(os.path.join(data, "conn.ndjson"), "rb"))
    rows = {"socket": [], "file": [], "harness": []}
    load = loadavg()
    for _ in range(a.runs):
        rows["socket"].append(socket_run(a, data, n_events, a.threads))
        rows["file"].append(file_run(a, data, a.threads))
        rows["harness"].append(harness_run(data, n_events))
    best = {k: min(v, key=lambda r: r["wall"]) for k, v in rows.items()}
    for k, v in rows.items():
        print(f"socket bench: {k}: walls {[round(r['wall'], 2) for r in v]}")
    lines = [
        "| pipeline (1 NDJSON stream, {:,} rita conn events, conn-kmeans model, {} threads) | events/s | best wall | CPU of logsieve | runs |".format(n_events, a.threads),
        "|---|---|---|---|---|",
    ]
    for k, label in [("socket", "TCP socket source → TCP socket sink (loopback; client `sendfile`, receiver counting lines)"),
                     ("file", "file source → file sink (row 6a's pipeline, same run)"),
                     ("harness", "bound: the harness alone, the scored output (the file run's) sent by the client to the receiver")]:
        b = best[k]
        walls = ", ".join("%.2f" % r["wall"] for r in rows[k])
        cpu = f"{b['cpu']:.2f} s" if k != "harness" else "—"
        lines.append(f"| {label} | {n_events / b['wall']:,.0f} | {b['wall']:.2f} s | {cpu} | {walls} s |")
    lines.append("")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"]).returncode != 0
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines.append(f"Measured by `bench/socket.sh {a.runs}` ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; "
                 f"{cpu}, {os.cpu_count()} cores; logsieve at git {git}{' with uncommitted changes' if dirty else ''}); "
                 f"best of {a.runs} runs each; the 1-minute load average before the runs: {load:.2f}; "
                 f"peak RSS of the socket pipeline: {best['socket']['rss_mib']:.0f} MiB. "
                 "The time runs from the client's first byte to the receiver's last scored line; the summary's "
                 "counts are checked against the input (every event read, scored and written once).")
    table = "\n".join(lines)
    print(table)
    if a.table:
        with open(a.table, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
