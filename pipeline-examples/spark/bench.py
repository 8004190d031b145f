#!/usr/bin/env python3
"""Events/s of Spark scoring in local mode (run by bench.sh, once per core count).

    bench.py --cores 2 --input input.ndjson --model conn.model.msgpack --component logsieve.wasm \\
        [--reps 5] [--partitions 4] [--json results.json]

Measures, after a warm-up job (workers started, component and scorer loaded):

- cached: the input read once into a cached DataFrame (spark.read.text), then
  `score_events(...)` written to Spark's `noop` sink (every row computed,
  nothing stored): the scoring itself, with the verdict columns (default)
  and without (`verdict=False`);
- file: spark.read.text(input) -> score_events -> the scored texts written
  as text files: end to end, as `logsieve run` does file to file.

Prints one line per run and writes the timings as JSON.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cores", type=int, required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--component", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--out-dir", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from pyspark.sql import functions as F
    from logsieve_spark import scoring, session
    size = os.path.getsize(a.input)
    spark = session.local_session(a.cores, conf={
        # `partitions` splits of the one input file (at line boundaries).
        "spark.sql.files.maxPartitionBytes": str(size // a.partitions + 1),
        "spark.sql.files.openCostInBytes": "0"})
    out_dir = a.out_dir or os.path.join(os.path.dirname(os.path.abspath(a.input)), f"spark-out-{a.cores}")

    def read():
        return spark.read.text(a.input).withColumnRenamed("value", "event")

    cached = read().cache()
    n = cached.count()
    parts = cached.rdd.getNumPartitions()
    print(f"local[{a.cores}]: {n} events, {parts} partitions, load average "
          f"{open('/proc/loadavg').read().split()[:3]}", flush=True)
    results = {"cores": a.cores, "events": n, "partitions": parts, "runs": {}}

    def timed(name, job):
        t = time.perf_counter()
        counts = job()
        dt = time.perf_counter() - t
        c = counts.value()
        assert c["scored"] == n and not counts.check(), c
        results["runs"].setdefault(name, []).append(dt)
        print(f"  {name}: {dt:.2f} s = {n / dt:,.0f} events/s", flush=True)

    def cached_job(verdict):
        def job():
            s, counts = scoring.score_events(cached, a.model, a.component, verdict=verdict)
            s.write.format("noop").mode("overwrite").save()
            return counts
        return job

    def file_job():
        s, counts = scoring.score_events(read(), a.model, a.component, verdict=False)
        s.where(F.col("outcome") == "scored").select("scored").write.mode("overwrite").text(out_dir)
        return counts

    cached_job(True)()  # warm-up: workers, component, scorer
    for _ in range(a.reps):
        timed("cached", cached_job(True))
    for _ in range(a.reps):
        timed("cached, verdict=False", cached_job(False))
    for _ in range(a.reps):
        timed("file to file", file_job)
    spark.stop()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
