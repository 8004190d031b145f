"""Command line: score or train with Spark.

    python -m logsieve_spark score --model conn.model.msgpack --component logsieve.wasm \\
        --input '../shared/data/zeek/rita-missing-host/2024-04-20/conn.*.log.gz' --out out/scored-0420
    python -m logsieve_spark train --spec pipeline-examples/conn-kmeans/model.toml \\
        --input '../shared/data/zeek/rita-missing-host/2024-04-19/conn.*.log.gz' \\
        --out conn.spark.msgpack --logsieve target/release/logsieve

`--master` picks the Spark master (default: `local[--cores]`, this
machine); under `spark-submit` (pipeline-examples/spark/submit.py) the
session spark-submit made is used. `score` writes `OUT/scored/` (the scored
and passed events, NDJSON, part files in input order) and `OUT/errors/`
(one JSON error record per event that could not be used: reason, detail,
model, file, line, event), prints the counts as `logsieve run` does, and
exits 3 if they do not add up. Exit 2 on an error (a refused model, a
missing input).
"""

import argparse
import os
import sys
import time


def _session(a):
    from . import session
    if getattr(a, "submitted", False):
        from pyspark.sql import SparkSession
        return SparkSession.builder.getOrCreate()
    if a.master and not a.master.startswith("local"):
        from pyspark.sql import SparkSession
        return SparkSession.builder.master(a.master).appName("logsieve-spark").getOrCreate()
    cores = a.cores
    if a.master:
        cores = a.master[len("local["):-1] if a.master.startswith("local[") else 1
    return session.local_session(cores)


def _events(spark, a, component):
    from . import logs
    if a.text:
        return spark.read.text(a.input).withColumnRenamed("value", "event")
    return logs.read_logs(spark, a.input, a.format, a.files_per_partition, component=component)


def cmd_score(a):
    from pyspark.sql import functions as F
    from . import scoring
    spark = _session(a)
    t0 = time.time()
    df = _events(spark, a, _shipped(a.component))
    scored, counts = scoring.score_events(df, _shipped(a.model), _shipped(a.component), batch_size=a.batch_size,
                                          top_features=a.top_features, stateful=a.stateful)
    scored = scored.cache()
    scored.where(F.col("outcome").isin("scored", "passed", "emitted")).select("scored").write.mode("overwrite").text(
        os.path.join(a.out, "scored"))
    keep = [c for c in ("file", "line") if c in scored.columns]
    errors = scored.where(F.col("outcome").isin("failed", "emitted_failed")).select(
        F.to_json(F.struct("reason", "detail", "model", *keep, "event")).alias("value"))
    errors.write.mode("overwrite").text(os.path.join(a.out, "errors"))
    sys.stderr.write(f"logsieve_spark score: {counts.render()}  ({time.time() - t0:.1f} s)\n")
    problems = counts.check()
    if problems:
        sys.stderr.write("error: the counts do not add up:\n  " + "\n  ".join(problems) + "\n")
        return 3
    return 0


def _shipped(path):
    """A path as given, or a file spark-submit --files shipped (found by its name)."""
    if path is None or os.path.exists(path):
        return path
    try:
        from pyspark import SparkFiles
        p = SparkFiles.get(os.path.basename(path))
        if os.path.exists(p):
            return p
    except Exception:
        pass
    raise FileNotFoundError(f"{path}: no such file (nor shipped with spark-submit --files)")


def cmd_train(a):
    from . import training
    spark = _session(a)
    work = a.work or os.path.dirname(os.path.abspath(a.out)) or "."
    if a.component is None:  # the one the `logsieve` binary embeds
        os.makedirs(work, exist_ok=True)
        component = training.component_from(a.logsieve, os.path.join(work, "logsieve.wasm"))
    else:
        component = _shipped(a.component)
    df = _events(spark, a, component)
    r = training.train(spark, _shipped(a.spec), df, a.out, a.logsieve, component=component, work=work,
                       inputs=a.input, n_init=a.n_init, log=lambda m: sys.stderr.write(f"{m}\n"))
    t = r["timings"]
    sys.stderr.write(f"logsieve_spark train: {r['rows']} rows ({r['skipped']} skipped), inertia {r['inertia']:.6f}, "
                     f"{t['total']:.1f} s (extract {t['extract']:.1f}, scalers {t['scalers']:.1f}, encode "
                     f"{t['encode']:.1f}, k-means {t['kmeans']:.1f}, thresholds {t['thresholds']:.1f})\n")
    return 0


def main(argv=None, submitted=False):
    ap = argparse.ArgumentParser(prog="logsieve_spark", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--input", nargs="+", required=True, help="files or globs, read in order")
        p.add_argument("--format", default="auto",
                       help="auto, zeek_tsv, zeek_json, ndjson, json, csv, tsv (the CLI's reader, in the component)")
        p.add_argument("--text", action="store_true",
                       help="read the inputs with spark.read.text as NDJSON, one event per line (any Hadoop "
                            "filesystem; no reader errors, no line numbers)")
        p.add_argument("--files-per-partition", type=int, default=1)
        p.add_argument("--component", help="logsieve.wasm (`logsieve component -o`)")
        p.add_argument("--master", help="Spark master (default local[--cores])")
        p.add_argument("--cores", type=int, default=2)

    s = sub.add_parser("score", help="score events with a model")
    common(s)
    s.add_argument("--model", required=True)
    s.add_argument("--out", required=True, help="output directory: scored/ and errors/")
    s.add_argument("--batch-size", type=int, default=1000)
    s.add_argument("--top-features", type=int, default=3)
    s.add_argument("--stateful", default="refuse", choices=["refuse", "per_partition"],
                   help="models with windows or inter_arrival: refuse (default), or each partition its own stream")
    t = sub.add_parser("train", help="train a k-means spec, write the artifact with `logsieve assemble`")
    common(t)
    t.add_argument("--spec", required=True)
    t.add_argument("--out", required=True, help="the model artifact to write")
    t.add_argument("--logsieve", default="logsieve", help="the logsieve binary (for assemble)")
    t.add_argument("--work", help="where the spec-only and provisional artifacts and the state JSON go "
                                  "(default: next to --out)")
    t.add_argument("--n-init", type=int, help="k-means starts (default: the spec's n_init)")
    z = sub.add_parser("package", help="write this package as a zip for spark-submit --py-files")
    z.add_argument("out")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["package"]:
        a = ap.parse_args(argv)
        from . import session
        sys.stderr.write(f"wrote {session.package_zip(os.path.abspath(a.out))}\n")
        return 0
    a = ap.parse_args(argv)
    a.submitted = submitted
    if a.component is None:
        if a.cmd == "train":
            a.component = None  # training.train asks `logsieve component`
        else:
            ap.error("--component is needed (write it with `logsieve component -o logsieve.wasm`)")
    try:
        return cmd_score(a) if a.cmd == "score" else cmd_train(a)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
