"""Read logs into a DataFrame of events, with the component's reader (the CLI's own) in the workers.

    df = read_logs(spark, ["../shared/data/zeek/rita-missing-host/2024-04-20/conn.*.log.gz"],
                   component="logsieve.wasm")

Columns: `file` (the path as given, after glob expansion), `line` (1-based;
0 for errors about a whole file), `event` (the record's JSON text, exactly
what `logsieve run` scores; for a read error the line's text, as the CLI's
error record has it), `read_error` and `read_detail` (null, or the reader's
reason and detail: `zeek_column_count`, `invalid_utf8`, ...). Rows are in
file order and line order: one partition per file (or per
`files_per_partition` files), so a file's header is always read with its rows.

The lines are read by the component itself: each worker feeds a file's bytes
to the component's `reader` resource (WIT `reader`: the `logsieve` CLI's own
readers, compiled into the component: Zeek TSV, Zeek JSON / NDJSON, CSV /
TSV; CRLF, a BOM, blank lines, the 16 MiB line limit, invalid UTF-8), which
gives NDJSON events, their line numbers and the lines it could not read. The
bytes go over as text (`reader.read-text`: wasmtime-py lowers a `list<u8>` a
byte at a time, a string as one copy), decoded as UTF-8 a chunk at a time
with a character cut by a chunk's end carried to the next; the lines that do
not decode go as bytes (`reader.read`), so the reader still sees exactly the
file's bytes and reports them `invalid_utf8` as the CLI does (score.py's
`utf8_pieces`). This
module only finds and opens the files and decompresses gzip (Python's zlib:
gzip detected by its content, concatenated members read as one stream), and
reports what the reader cannot see in the CLI's reasons and line numbers:
`open_failed` (line 0), `read_failed`, and a gzip stream cut short
(`truncated_gzip`) or corrupt (`corrupt_gzip`): the records decoded before the
cut, then one error at the line after the last complete one, then the next
file (score.py's `input_chunks` and `read_items`). The details of
`open_failed`, `read_failed` and `corrupt_gzip` quote the operating system's
or zlib's words, which differ between Rust and Python; the reasons, lines
and the rest of the details are the CLI's.

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

import glob
import io
import math
import os

from . import component as comp
from . import session

SCHEMA = "file string, line long, event string, read_error string, read_detail string"


def read_logs(spark, paths, fmt="auto", files_per_partition=1, source="local", batch_rows=10000, *, component,
              reservation="auto"):
    """A DataFrame of the events in `paths` (files or globs, read in order), read by
    the reader of `component` (logsieve.wasm); see the module doc. `fmt`: the
    CLI's format names (auto, zeek_tsv, zeek_json / ndjson / json, csv, tsv)."""
    if component is None:
        raise ValueError("read_logs needs the component (logsieve.wasm, `logsieve component -o logsieve.wasm`): "
                         "the workers read the logs with its reader")
    reservation = session.resolve_reservation(spark, reservation)
    names = session.ship(spark, component, None, reservation)
    # The format is checked on the driver, by the component (its words name the valid ones).
    loaded = comp.load(session.worker_path(names["component"]),
                       session.worker_path(names["cwasm"]) if names["cwasm"] else None, reservation)
    comp.reader(loaded, fmt).close()
    conf = dict(names=names, reservation=reservation, fmt=fmt, batch_rows=batch_rows)
    if source == "binary":
        return _read_binary(spark, paths, conf)
    if source != "local":
        raise ValueError(f"source must be 'local' or 'binary', not {source!r}")
    files = expand_inputs(paths)
    n = max(1, math.ceil(len(files) / max(1, files_per_partition)))
    rdd = spark.sparkContext.parallelize(list(enumerate(files)), n)
    listing = spark.createDataFrame(rdd, "idx long, path string")

    def run(batches):
        return _read_partition(batches, conf)

    return listing.mapInArrow(run, SCHEMA)


def expand_inputs(patterns):
    """readers::expand_inputs: an existing path as is, else a glob (sorted, directories left out)."""
    out = []
    for p in [patterns] if isinstance(patterns, str) else patterns:
        if os.path.exists(p):
            out.append(p)
            continue
        if not any(c in p for c in "*?["):
            raise FileNotFoundError(f"input {p!r}: no such file")
        matched = sorted(m for m in glob.glob(p) if not os.path.isdir(m))
        if not matched:
            raise FileNotFoundError(f"input {p!r}: pattern matches no files")
        out.extend(matched)
    return out


# ------------------------------------------------------------------ worker side


def _loaded(conf):
    n = conf["names"]
    try:
        return comp.load(session.worker_path(n["component"]),
                         session.worker_path(n["cwasm"]) if n["cwasm"] else None, conf["reservation"])
    except comp.wasmtime.WasmtimeError as e:
        raise comp.explain_reservation(e, conf["reservation"]) from e


def records(loaded, name, f, fmt):
    """The items of one input (a binary file object named `name` in details),
    read by the component's reader: lists of (line, text, None) for an event
    and (line, None, (reason, detail, raw)) for a line it could not read."""
    r = comp.reader(loaded, fmt)
    try:
        yield from comp.embedding.read_items(r, comp.embedding.input_chunks(f, name))
        r.close()
    except comp.GuestFault:
        loaded.reader_instance = None  # a trap poisons the instance: the next file gets a new one
        raise


def file_records(loaded, path, fmt):
    """The items of the file `path` (see records), or its `open_failed` error, as the CLI words it."""
    if os.path.isdir(path):
        yield [(0, None, ("open_failed", f"{path}: is a directory", ""))]
        return
    try:
        f = open(path, "rb")
    except OSError as e:
        yield [(0, None, ("open_failed", f"cannot open {path}: {e.strerror} (os error {e.errno})", ""))]
        return
    with f:
        yield from records(loaded, path, f, fmt)


def _batches(name, item_lists, batch_rows):
    """Arrow batches of the rows of one input, about `batch_rows` rows each."""
    import pyarrow as pa
    files, lines, events, reasons, details = [], [], [], [], []

    def batch():
        return pa.RecordBatch.from_arrays(
            [pa.array(files, pa.string()), pa.array(lines, pa.int64()), pa.array(events, pa.string()),
             pa.array(reasons, pa.string()), pa.array(details, pa.string())],
            names=["file", "line", "event", "read_error", "read_detail"])

    for items in item_lists:
        for line, text, bad in items:
            lines.append(line)
            if bad is None:
                events.append(text)
                reasons.append(None)
                details.append(None)
            else:
                events.append(bad[2])
                reasons.append(bad[0])
                details.append(bad[1])
        if len(lines) >= batch_rows:
            files.extend([name] * len(lines))
            yield batch()
            files, lines, events, reasons, details = [], [], [], [], []
    if lines:
        files.extend([name] * len(lines))
        yield batch()


def _read_partition(batches, conf):
    loaded = _loaded(conf)
    for b in batches:
        for path in b.column("path").to_pylist():
            yield from _batches(path, file_records(loaded, path, conf["fmt"]), conf["batch_rows"])


def _read_binary(spark, paths, conf):
    df = spark.read.format("binaryFile").load(paths if isinstance(paths, str) else list(paths))
    df = df.select("path", "content").orderBy("path").coalesce(max(1, df.rdd.getNumPartitions()))

    def run(batches):
        loaded = _loaded(conf)
        for b in batches:
            for path, content in zip(b.column("path").to_pylist(), b.column("content").to_pylist()):
                yield from _batches(path, records(loaded, path, io.BytesIO(content), conf["fmt"]), conf["batch_rows"])

    return df.mapInArrow(run, SCHEMA)
