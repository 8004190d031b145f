#!/usr/bin/env python3
"""The Spark example's test (run by scripts/test-spark.sh): Spark must score exactly as
`logsieve run` does, and a model trained through Spark must be as good as the native one.

    test_spark.py --logsieve target/release/logsieve --work target/spark-test --shared ../shared [--cores 2]

Cases (each prints `ok` or `FAIL` with what differs; the last line is `N passed, M failed`):

- score-day: the rita conn logs of 2024-04-20 (Zeek TSV, gzip, 24 files) read by
  the component's reader in Spark and scored with the conn-kmeans model trained
  natively on 2024-04-19: every scored text byte for byte as `logsieve run`
  wrote it, in the same order; no errors on either side; the counts add up,
  and the anomalies counted from the verdicts are the CLI's (`--summary-json`),
  as are the `anomaly` column's (in every scoring case).
- score-bad-input: tests/bad-input (every kind of read and event error), and
  2.2 MB of NDJSON whose every 16 KiB boundary cuts a character or a line
  that is not UTF-8 (the embedding test's `make_sample.py utf8`; plain and
  gzip'd: the workers hand the reader text, and bytes for what does not
  decode): the same scored texts, and the same error records (reason, detail,
  model, file, line, event), compared in input order (the CLI writes a
  batch's read errors before its event errors; Spark keeps every row where it
  was).
- score-passed: a model with `[[where]] proto == "tcp"` (other events passed
  on unscored): scored and passed events interleaved as the CLI writes them.
- stateful: a windowed model (kerberos hosts, `[aggregate]`) is refused with a
  message saying why; with stateful="per_partition" on one partition it
  gives exactly the CLI's output (absorbed events, aggregates at flush).
- guest-fault: a per-batch deadline that batches of 10,000 events miss: their
  events are `guest_timeout` rows, the job does not fail, and the worker goes
  on scoring.
- memory-limit (last: a new session): under `spark.executor.pyspark.memory`,
  scoring works (a small wasmtime memory reservation) and gives the CLI's output.
- train: a model trained through Spark on 2024-04-19 (extract-batch in the
  workers, Spark aggregates, encode-lines in the workers, MLlib k-means,
  distributed thresholds from score-lines verdicts, `logsieve assemble`):
  `logsieve run` scores 2024-04-20 with it unchanged,
  exactly as Spark does; the Python embedding host (score.py) scores with it
  exactly as the CLI; scoring the training day reproduces the artifact's
  cluster sizes, max distances and training inertia; and its inertia on
  2024-04-20 — the sum over the day's events of the squared distance to the
  nearest centroid, each model in its own scaled space, both computed the same
  way from the `distance` of Spark's scored output (Σ distance²) — is within
  1 % of the native model's (which is also checked against the CLI's output).
"""

import argparse
import glob
import gzip
import json
import math
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SPARK_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(SPARK_DIR))
sys.path.insert(0, SPARK_DIR)

RESULTS = []


def case(name):
    def wrap(fn):
        def run(*args):
            t = time.time()
            try:
                msg = fn(*args)
                RESULTS.append((name, True))
                print(f"ok   {name} ({time.time() - t:.1f} s): {msg}", flush=True)
            except Exception as e:  # a failed case, reported with what differs
                RESULTS.append((name, False))
                detail = str(e) if isinstance(e, AssertionError) else traceback.format_exc()
                print(f"FAIL {name} ({time.time() - t:.1f} s): {detail}", flush=True)
        return run
    return wrap


def sh(*cmd):
    p = subprocess.run(list(cmd), capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return p


def cli_run(logsieve, work, name, inputs, model, fmt="auto"):
    """`logsieve run` on the inputs; returns (scored lines, error records)."""
    d = os.path.join(work, "cli", name)
    os.makedirs(d, exist_ok=True)
    pipe = os.path.join(d, "pipeline.toml")
    with open(pipe, "w") as f:
        f.write(f'[sources.in]\ntype = "file"\npath = {json.dumps(inputs)}\nformat = "{fmt}"\n\n'
                f'[transforms.score]\ntype = "logsieve"\ninputs = ["in"]\nmodel = {json.dumps(model)}\n'
                f'batch_size = 1000\ntop_features = 3\n\n'
                f'[sinks.scored]\ntype = "file"\ninputs = ["score"]\npath = "scored.ndjson"\n\n'
                f'[sinks.errors]\ntype = "file"\ninputs = ["score.errors"]\npath = "errors.ndjson"\n')
    sh(logsieve, "run", pipe, "--quiet", "--summary-json", os.path.join(d, "summary.json"))
    with open(os.path.join(d, "scored.ndjson"), "rb") as f:
        scored = f.read().decode("utf-8").split("\n")[:-1]
    with open(os.path.join(d, "errors.ndjson"), encoding="utf-8") as f:
        errors = [json.loads(l) for l in f]
    return scored, errors


def cli_summary(work, name):
    """The CLI's transform counts of `cli_run(..., name, ...)` (`--summary-json`)."""
    with open(os.path.join(work, "cli", name, "summary.json"), encoding="utf-8") as f:
        return json.load(f)["transforms"]["score"]


def same_anomalies(work, name, counts, rows=None):
    """The anomalies Spark counted from the verdicts (and, given the rows, its
    `anomaly` column) are the CLI's."""
    want = cli_summary(work, name)["anomalies"]
    got = counts.value()["anomalies"]
    assert got == want, f"anomalies: Spark counted {got}, the CLI {want}"
    if rows is not None:
        col = sum(1 for r in rows if r["anomaly"])
        assert col == want, f"anomalies: Spark's anomaly column has {col}, the CLI counted {want}"
    return want


def spark_outputs(rows):
    """(scored texts, error records) of collected Spark rows, in order."""
    scored = [r["scored"] for r in rows if r["outcome"] in ("scored", "passed", "emitted")]
    errors = [{"reason": r["reason"], "detail": r["detail"], "model": r["model"], "file": r["file"],
               "line": r["line"], "event": r["event"]} for r in rows if r["outcome"] in ("failed", "emitted_failed")]
    return scored, errors


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def same_output(cli, spark, files=None):
    """Scored texts byte for byte and in order; error records field for field. Within one batch
    the CLI writes the reader's errors before the component's (run.rs `process`), while Spark keeps
    every row in input order: with `files`, both sides' errors are put in input order (file, line).
    The CLI writes a run of identical reader errors on consecutive lines as one record with `count`
    (docs/pipelines.md); Spark has a row per line, so such a record is expanded here, line by line."""
    (cs, ce), (ss, se) = cli, spark
    ce = [dict(e, line=e["line"] + k) for e in ce for k in range(e.get("count", 1))]
    if files is not None:
        rank = {f: i for i, f in enumerate(files)}
        order = lambda e: (rank.get(e["file"], -1), e["line"])
        ce, se = sorted(ce, key=order), sorted(se, key=order)
    if cs != ss:
        i = first_difference(cs, ss)
        raise AssertionError(f"scored output differs: CLI {len(cs)} lines, Spark {len(ss)}; first difference at "
                             f"line {i}:\n  CLI   {cs[i] if i < len(cs) else '<none>'}\n  Spark "
                             f"{ss[i] if i < len(ss) else '<none>'}")
    ce = [{k: e[k] for k in ("reason", "detail", "model", "file", "line", "event")} for e in ce]
    if ce != se:
        i = first_difference(ce, se)
        raise AssertionError(f"error records differ: CLI {len(ce)}, Spark {len(se)}; first difference at {i}:\n"
                             f"  CLI   {ce[i] if i < len(ce) else '<none>'}\n  Spark {se[i] if i < len(se) else '<none>'}")


def checked(counts):
    problems = counts.check()
    assert not problems, f"the counts do not add up: {problems}"
    return counts.value()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logsieve", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="run only these cases (for development; the test runs all)")
    a = ap.parse_args()
    logsieve, work, shared = os.path.abspath(a.logsieve), os.path.abspath(a.work), os.path.abspath(a.shared)
    os.makedirs(work, exist_ok=True)
    rita = os.path.join(shared, "data/zeek/rita-missing-host")
    day1, day2 = (os.path.join(rita, d, "conn.*.log.gz") for d in ("2024-04-19", "2024-04-20"))
    for g in (day1, day2):
        assert glob.glob(g), f"no files match {g}: the shared data folder is incomplete"
    conn_spec = os.path.join(REPO, "pipeline-examples/conn-kmeans/model.toml")
    os.environ["LOGSIEVE_CACHE_DIR"] = os.path.join(work, "cache")

    # What the CLI makes, to compare with.
    t = time.time()
    wasm = os.path.join(work, "logsieve.wasm")
    sh(logsieve, "component", "-o", wasm)
    native = os.path.join(work, "conn-0419.native.msgpack")
    sh(logsieve, "train", "--quiet", "--spec", conn_spec, "--input", day1, "--out", native)
    tcp_spec = os.path.join(REPO, "pipeline-examples/embedding/test/conn-tcp-pass.toml")
    tcp = os.path.join(work, "conn-tcp-pass.msgpack")
    sh(logsieve, "train", "--quiet", "--spec", tcp_spec, "--input", day1, "--out", tcp)
    kerb_dir = os.path.join(REPO, "pipeline-examples/kerberos-per-host")
    kerb_files = [os.path.join(kerb_dir, "sample", n) for n in
                  ("otrf-apt29-kerberos.log", "wrccdc2018-kerberos.json.gz", "zat-kerberos.log")]
    kerb = os.path.join(work, "kerberos-hosts.msgpack")
    sh(logsieve, "train", "--quiet", "--spec", os.path.join(kerb_dir, "kerberos-hosts.toml"), "--format", "ndjson",
       "--input", *kerb_files, "--out", kerb)
    bad_inputs = sorted(p for p in glob.glob(os.path.join(REPO, "tests/bad-input/*"))
                        if p.endswith((".log", ".ndjson", ".gz")) and "no-header" not in p)  # no-header is CSV
    utf8_cuts = os.path.join(work, "utf8-cuts.ndjson")
    sh(sys.executable, os.path.join(REPO, "pipeline-examples/embedding/test/make_sample.py"), "utf8", utf8_cuts)
    with open(utf8_cuts, "rb") as f, gzip.open(utf8_cuts + ".gz", "wb") as g:
        g.write(f.read())
    bad_inputs += [utf8_cuts, utf8_cuts + ".gz"]
    print(f"prepared the CLI's models and component ({time.time() - t:.1f} s)", flush=True)

    from pyspark.sql import functions as F
    from logsieve_spark import logs, scoring, session, training
    t = time.time()
    spark = session.local_session(a.cores)
    print(f"Spark {spark.version} session local[{a.cores}] ({time.time() - t:.1f} s)", flush=True)
    day2_df = logs.read_logs(spark, [day2], component=wasm).cache()

    @case("score-day")
    def score_day():
        cli = cli_run(logsieve, work, "day", day2, native)
        scored, counts = scoring.score_events(day2_df, native, wasm)
        rows = scored.collect()
        same_output(cli, spark_outputs(rows))
        c = checked(counts)
        assert c["lines"] == len(cli[0]) + len(cli[1]) and c["errors"] == 0, c
        anomalies = same_anomalies(work, "day", counts, rows)
        # The workers loaded the component the driver precompiled, none compiled it.
        assert c["component_precompiled"] >= 1 and c["component_compiled"] == 0, c
        again, counts = scoring.score_events(day2_df, native, wasm)
        again.write.format("noop").mode("overwrite").save()
        c2 = checked(counts)
        assert c2["component_compiled"] == 0, c2
        # (Not asserted: Spark may start another worker process now and then.)
        reloads = c2["component_precompiled"]
        return (f"{len(cli[0])} events scored byte for byte as `logsieve run` ({anomalies} anomalies, as the CLI "
                f"counts them), 0 errors, {c['partitions']} partitions; "
                f"{c['component_precompiled']} worker processes deserialized the precompiled component, none "
                f"compiled it; the next job loaded it {reloads} more time(s)")

    @case("score-bad-input")
    def score_bad():
        cli = cli_run(logsieve, work, "bad", bad_inputs, native)
        df = logs.read_logs(spark, bad_inputs, component=wasm)
        scored, counts = scoring.score_events(df, native, wasm)
        rows = scored.collect()
        got = spark_outputs(rows)
        same_output(cli, got, bad_inputs)
        checked(counts)
        same_anomalies(work, "bad", counts, rows)
        reasons = sorted({e["reason"] for e in cli[1]})
        assert len(reasons) >= 10, f"the bad inputs gave only {reasons}"
        return (f"{len(cli[0])} scored and {len(got[1])} error rows identical to the CLI's {len(cli[1])} records "
                f"({len(bad_inputs)} files; "
                f"reasons {', '.join(reasons)})")

    @case("score-passed")
    def score_passed():
        cli = cli_run(logsieve, work, "tcp", day2, tcp)
        scored, counts = scoring.score_events(day2_df, tcp, wasm)
        rows = scored.collect()
        same_output(cli, spark_outputs(rows))
        c = checked(counts)
        same_anomalies(work, "tcp", counts, rows)
        assert c["passed"] > 0 and c["scored"] > 0, c
        return f"{c['scored']} scored and {c['passed']} passed, interleaved as the CLI writes them"

    @case("stateful")
    def stateful():
        df = logs.read_logs(spark, kerb_files, "ndjson", component=wasm)
        try:
            scoring.score_events(df, kerb, wasm)
            raise AssertionError("a windowed model was accepted for distributed scoring")
        except ValueError as e:
            msg = str(e)
            assert "[aggregate]" in msg and "per_partition" in msg, msg
        cli = cli_run(logsieve, work, "kerberos", kerb_files, kerb, "ndjson")
        scored, counts = scoring.score_events(df.coalesce(1), kerb, wasm, stateful="per_partition")
        rows = scored.collect()
        same_output(cli, spark_outputs(rows))
        c = checked(counts)
        same_anomalies(work, "kerberos", counts, rows)
        assert c["absorbed"] > 0 and c["emitted"] > 0, c
        return (f"refused by default ({msg[:70]}...); per partition on one partition: {c['absorbed']} absorbed, "
                f"{c['emitted']} aggregates, as the CLI")

    @case("guest-fault")
    def guest_fault():
        # A deadline of 20 ms (two 10 ms epoch ticks) for batches of 10,000
        # events (30 ms or more in the component): the events of a batch that
        # runs past it must come back as rows with the reason, the instance be
        # re-created (under its own deadline), the job go on.
        one = day2_df.coalesce(1)
        scored, counts = scoring.score_events(one, native, wasm, batch_size=10000, timeout_ms=20)
        rows = scored.groupBy("outcome", "reason").count().collect()
        c = checked(counts)
        got = {(r["outcome"], r["reason"]): r["count"] for r in rows}
        timed_out = got.get(("failed", "guest_timeout"), 0)
        assert set(got) <= {("failed", "guest_timeout"), ("scored", None)} and timed_out > 0, got
        assert timed_out == c["errors"] and c["guest_faults"] >= 1 and timed_out <= 10000 * c["guest_faults"], (got, c)
        detail = scored.where(F.col("reason") == "guest_timeout").select("detail").first()["detail"]
        assert "deadline" in detail and "the batch of" in detail, detail
        # And the worker's scorer goes on scoring afterwards.
        scored, counts = scoring.score_events(one, native, wasm)
        scored.write.format("noop").mode("overwrite").save()
        after = checked(counts)
        assert after["scored"] == c["lines"], f"after the faults: {after}"
        return (f"{timed_out} of {c['lines']} events as guest_timeout rows ({c['guest_faults']} batches past the deadline), "
                f"no failed job; then all scored by the same worker")

    @case("train")
    def train():
        out = os.path.join(work, "conn-0419.spark.msgpack")
        day1_df = logs.read_logs(spark, [day1], component=wasm)
        r = training.train(spark, conn_spec, day1_df, out, logsieve, component=wasm, work=os.path.join(work, "train"),
                           inputs=[day1], log=lambda m: print(f"     {m}", flush=True))
        t = r["timings"]
        print(f"     trained in {t['total']:.1f} s: extract {t['extract']:.1f}, scalers {t['scalers']:.1f}, encode "
              f"{t['encode']:.1f}, k-means {t['kmeans']:.1f}, thresholds {t['thresholds']:.1f}", flush=True)
        sh(logsieve, "inspect", out)
        # The CLI scores the other day with it unchanged, exactly as Spark does.
        cli = cli_run(logsieve, work, "spark-model", day2, out)
        scored, counts = scoring.score_events(day2_df, out, wasm)
        scored = scored.cache()
        rows = scored.collect()
        same_output(cli, spark_outputs(rows))
        checked(counts)
        same_anomalies(work, "spark-model", counts, rows)
        # The Python embedding host too (on the first 3000 events of the day).
        ndjson = os.path.join(work, "day2-head.ndjson")
        with open(ndjson, "w", encoding="utf-8") as f:
            for line in cli[0][:3000]:
                i = line.rfind(',"logsieve":{')
                f.write(line[:i] + "}\n")
        emb_out = os.path.join(work, "embedding.scored.ndjson")
        sh(sys.executable, os.path.join(REPO, "pipeline-examples/embedding/python/score.py"), "--component", wasm,
           "--model", out, "--input", ndjson, "--out", emb_out, "--quiet")
        with open(emb_out, encoding="utf-8") as f:
            emb = f.read().split("\n")[:-1]
        assert emb == cli[0][:3000], f"the Python embedding host scores differently (first at {first_difference(emb, cli[0])})"
        # Scoring the training day reproduces what the artifact says about it.
        state = r["state"]
        s1, _ = scoring.score_events(day1_df, out, wasm)
        agg = {x["cluster"]: x for x in s1.groupBy("cluster").agg(
            F.count(F.lit(1)).alias("n"), F.max("distance").alias("mx"),
            F.sum(F.col("distance") * F.col("distance")).alias("ss")).collect()}
        for c, cl in enumerate(state["clusters"]):
            got = agg.get(c)
            assert got is not None and got["n"] == cl["size"], f"cluster {c}: {got and got['n']} rows scored, size {cl['size']}"
            assert got["mx"] == cl["max_distance"], f"cluster {c}: max distance {got['mx']} != {cl['max_distance']}"
        ss = sum(x["ss"] for x in agg.values())
        assert math.isclose(ss, state["training"]["inertia"], rel_tol=1e-9), (ss, state["training"]["inertia"])
        # Inertia on the other day: Σ distance² over its events, each model in its own scaled space.
        inertia = {}
        for name, model in (("native", native), ("spark", out)):
            sc, _ = scoring.score_events(day2_df, model, wasm)
            row = sc.where(F.col("outcome") == "scored").agg(
                F.sum(F.col("distance") * F.col("distance")).alias("i"), F.count(F.lit(1)).alias("n")).first()
            inertia[name] = (row["i"], row["n"])
        cli_native = cli_run(logsieve, work, "day", day2, native)[0]
        from_cli = math.fsum(json.loads(l)["logsieve"]["distance"] ** 2 for l in cli_native)
        assert math.isclose(from_cli, inertia["native"][0], rel_tol=1e-9), (from_cli, inertia["native"])
        ratio = inertia["spark"][0] / inertia["native"][0]
        with open(os.path.join(work, "inertia.json"), "w") as f:
            json.dump({"native": inertia["native"][0], "spark": inertia["spark"][0], "ratio": ratio,
                       "events": inertia["native"][1], "train_inertia_spark": state["training"]["inertia"],
                       "spark_costs": r["costs"], "timings": t}, f, indent=1)
        assert abs(ratio - 1) <= 0.01, f"inertia on 2024-04-20: Spark model {inertia['spark'][0]:.6f}, native " \
                                       f"{inertia['native'][0]:.6f}: ratio {ratio:.6f}, more than 1 % apart"
        return (f"{r['rows']} rows, k={len(state['clusters'])}; inertia on 2024-04-20 ({inertia['native'][1]} events, "
                f"Σ distance²): native {inertia['native'][0]:.6f}, Spark {inertia['spark'][0]:.6f} (ratio {ratio:.13f}); "
                f"CLI and embedding host score with it as Spark does; sizes, max distances, training inertia reproduced")

    @case("memory-limit")
    def memory_limit():
        # Under spark.executor.pyspark.memory (an address-space limit on each
        # Python worker) wasmtime's default 4 GiB reservation cannot be made;
        # reservation="auto" sees the setting and uses a small one.
        nonlocal spark
        spark.stop()
        spark = session.local_session(a.cores, conf={"spark.executor.pyspark.memory": "1g"})
        df = logs.read_logs(spark, [day2], component=wasm)
        scored, counts = scoring.score_events(df, native, wasm)
        rows = scored.select("scored").collect()
        cli = cli_run(logsieve, work, "day", day2, native)[0]
        assert [r["scored"] for r in rows] == cli, "scored differently under the memory limit"
        c = checked(counts)
        try:
            s2, _ = scoring.score_events(df, native, wasm, reservation="default")
            s2.write.format("noop").mode("overwrite").save()
            raise AssertionError("the default reservation worked under the limit: this case tests nothing")
        except Exception as e:  # the job fails: a configuration error, said clearly
            assert "reservation='small'" in str(e), str(e)[:500]
        return (f"spark.executor.pyspark.memory=1g: {c['scored']} events scored as the CLI with the small "
                f"reservation ('auto'); the default one fails with a message saying what to do")

    try:
        for name, c in (("score-day", score_day), ("score-bad-input", score_bad), ("score-passed", score_passed),
                        ("stateful", stateful), ("guest-fault", guest_fault), ("train", train),
                        ("memory-limit", memory_limit)):
            if not a.only or name in a.only:
                c()
    finally:
        spark.stop()
    failed = sum(1 for _, ok in RESULTS if not ok)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
