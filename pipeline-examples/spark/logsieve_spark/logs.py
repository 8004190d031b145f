"""Read logs into a DataFrame of events, with the CLI's reader (reader.py) running in the workers.

    df = read_logs(spark, ["../shared/data/zeek/rita-missing-host/2024-04-20/conn.*.log.gz"])

Columns: `file` (the path as given, after glob expansion), `line` (1-based;
0 for errors about a whole file), `event` (the record's JSON text, exactly
what `logsieve run` scores; for a read error the line's text, as the CLI's
error record has it), `read_error` and `read_detail` (null, or the reader's
reason and detail: `zeek_column_count`, `invalid_utf8`, ...). Rows are in
file order and line order: one partition per file (or per
`files_per_partition` files), so a file's header is always read with its rows.

Why not `spark.read.text`: Zeek's header (`#fields`, `#types`,
`#separator`) changes how every later row of its file is read, a gzip file
is never split anyway, Hadoop paths refuse the `:` in Zeek's rotated names
(`conn.00:00:00-01:00:00.log.gz`), and the reader's error records need line
numbers. So the driver expands the globs and each task opens its files
itself: the paths must be readable by the executors under the same names
(local disk in local mode; a shared filesystem such as NFS on a cluster).
For logs on HDFS or S3, `source="binary"` reads each file through Spark's
`binaryFile` source instead (whole files, so each must fit in a task's
memory; the `file` column is then Spark's URI of the file).
"""

import math

from . import reader

SCHEMA = "file string, line long, event string, read_error string, read_detail string"


def read_logs(spark, paths, fmt="auto", files_per_partition=1, source="local", batch_rows=10000):
    """A DataFrame of the events in `paths` (files or globs, read in order); see the module doc."""
    fmt = reader.parse_format(fmt)
    from . import session
    session.ship_package(spark)
    if source == "binary":
        return _read_binary(spark, paths, fmt, batch_rows)
    if source != "local":
        raise ValueError(f"source must be 'local' or 'binary', not {source!r}")
    files = reader.expand_inputs(paths)
    n = max(1, math.ceil(len(files) / max(1, files_per_partition)))
    rdd = spark.sparkContext.parallelize(list(enumerate(files)), n)
    listing = spark.createDataFrame(rdd, "idx long, path string")

    def run(batches):
        return _read_partition(batches, fmt, batch_rows)

    return listing.mapInArrow(run, SCHEMA)


def _rows_to_batch(rows):
    import pyarrow as pa
    cols = list(zip(*rows)) if rows else [[], [], [], [], []]
    return pa.RecordBatch.from_arrays(
        [pa.array(cols[0], pa.string()), pa.array(cols[1], pa.int64()), pa.array(cols[2], pa.string()),
         pa.array(cols[3], pa.string()), pa.array(cols[4], pa.string())],
        names=["file", "line", "event", "read_error", "read_detail"])


def _records(name, items, batch_rows):
    rows = []
    for line, text, bad in items:
        if bad is None:
            rows.append((name, line, text, None, None))
        else:
            rows.append((name, line, bad[2], bad[0], bad[1]))
        if len(rows) >= batch_rows:
            yield _rows_to_batch(rows)
            rows = []
    if rows:
        yield _rows_to_batch(rows)


def _read_partition(batches, fmt, batch_rows):
    for b in batches:
        for path in b.column("path").to_pylist():
            yield from _records(path, reader.read_file(path, fmt), batch_rows)


def _read_binary(spark, paths, fmt, batch_rows):
    import io
    df = spark.read.format("binaryFile").load(paths if isinstance(paths, str) else list(paths))
    df = df.select("path", "content").orderBy("path").coalesce(max(1, df.rdd.getNumPartitions()))

    def run(batches):
        for b in batches:
            for path, content in zip(b.column("path").to_pylist(), b.column("content").to_pylist()):
                yield from _records(path, reader.read_stream(io.BytesIO(content), path, fmt), batch_rows)

    return df.mapInArrow(run, SCHEMA)
