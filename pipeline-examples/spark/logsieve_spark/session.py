"""A local Spark session that works on these machines, and shipping logsieve to the workers.

`local_session(cores)` is for running on one machine (tests, benchmarks,
small backfills): `local[cores]`, UI off, everything bound to 127.0.0.1, the
workers running this Python. On a cluster, make the session as usual
(`spark-submit`) and call `ship(spark, ...)` (the reading, scoring and
training entry points do it for you): it sends the package (with the
embedding host's score.py inside), the component, its precompiled form and
the model to the executors with `addPyFile` / `addFile`.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import zipfile

from . import component as comp

HERE = os.path.dirname(os.path.abspath(__file__))


def local_session(cores=2, app="logsieve-spark", driver_memory="1g", conf=None):
    """A SparkSession in local mode on `cores` cores."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Workers must run this Python (its venv has wasmtime, pyarrow, pandas).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    b = (SparkSession.builder.master(f"local[{int(cores)}]").appName(app)
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.driver.memory", driver_memory)
         .config("spark.sql.shuffle.partitions", str(max(2, 2 * int(cores))))
         .config("spark.python.worker.reuse", "true")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def resolve_reservation(spark, reservation):
    """The engine's memory reservation (component.RESERVATIONS): "auto" is "small"
    when Spark limits the Python workers' memory (spark.executor.pyspark.memory)."""
    if reservation != "auto":
        return reservation
    limited = spark.sparkContext.getConf().get("spark.executor.pyspark.memory", None)
    return "small" if limited else "default"


def _stage_dir():
    d = os.environ.get("LOGSIEVE_SPARK_STAGE") or os.path.join(tempfile.gettempdir(), f"logsieve-spark-{os.getuid()}")
    os.makedirs(d, exist_ok=True)
    return d


def _staged(path, suffix):
    """A copy of `path` named by its content, so files of different content never share a name in addFile."""
    name = f"{comp.file_sha(path, 16)}{suffix}"
    out = os.path.join(_stage_dir(), name)
    if not os.path.exists(out):
        tmp = f"{out}.tmp{os.getpid()}"
        shutil.copyfile(path, tmp)
        os.replace(tmp, out)
    return out, name


def package_zip(out=None):
    """This package as a zip for `addPyFile` / `spark-submit --py-files`, with
    the embedding host's score.py inside. When the package itself runs from
    such a zip (`--py-files`), that zip is the answer."""
    if not os.path.isdir(HERE):
        archive = os.path.dirname(HERE)  # .../logsieve_spark.zip/logsieve_spark
        if zipfile.is_zipfile(archive):
            return archive
        raise RuntimeError(f"logsieve_spark runs from {HERE}, which is neither a folder nor a zip")
    h = hashlib.sha256()
    files = sorted(f for f in os.listdir(HERE) if f.endswith(".py") and not f.startswith("_embedding_score"))
    src = comp.embedding.__file__
    for f in files:
        with open(os.path.join(HERE, f), "rb") as fh:
            h.update(f.encode() + fh.read())
    with open(src, "rb") as fh:
        score_py = fh.read()
    h.update(score_py)
    out = out or os.path.join(_stage_dir(), f"logsieve_spark-{h.hexdigest()[:16]}.zip")
    if not os.path.exists(out) or not out.startswith(_stage_dir()):
        tmp = f"{out}.tmp{os.getpid()}"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(os.path.join(HERE, f), f"logsieve_spark/{f}")
            z.writestr("logsieve_spark/_embedding_score.py", score_py)
        os.replace(tmp, out)
    return out


_SHIPPED = {}


def _done(sc):
    return _SHIPPED.setdefault(id(sc), set())


def ship_package(spark):
    """Send this package (with score.py) to the workers, once per context."""
    sc = spark.sparkContext
    done = _done(sc)
    z = package_zip()
    if z not in done:
        sc.addPyFile(z)
        done.add(z)


def ship(spark, component_path, model_path=None, reservation="default", precompile=True):
    """Send what the workers need; returns the names they open with SparkFiles.get.

    {"component": name, "cwasm": name or None, "model": name or None}
    """
    sc = spark.sparkContext
    done = _done(sc)
    ship_package(spark)
    names = {"component": None, "cwasm": None, "model": None, "reservation": reservation}
    wasm, names["component"] = _staged(component_path, ".wasm")
    if wasm not in done:
        sc.addFile(wasm)
        done.add(wasm)
    if precompile:
        cw = os.path.join(_stage_dir(), f"{names['component'][:-5]}-{reservation}-wasmtime{comp.wasmtime_version()}.cwasm")
        if not os.path.exists(cw):
            comp.precompile(wasm, cw, reservation)
        if cw not in done:
            sc.addFile(cw)
            done.add(cw)
        names["cwasm"] = os.path.basename(cw)
    if model_path is not None:
        m, names["model"] = _staged(model_path, ".msgpack")
        if m not in done:
            sc.addFile(m)
            done.add(m)
    return names


def worker_path(name):
    """A shipped file's local path in a worker (or the driver)."""
    from pyspark import SparkFiles
    return SparkFiles.get(name)
