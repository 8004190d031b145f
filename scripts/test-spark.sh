#!/usr/bin/env bash
# The Spark example's test (pipeline-examples/spark): the logsieve component
# inside PySpark workers must score exactly as `logsieve run` does, and a
# model trained through Spark must be as good as the native trainer's.
#
#   scripts/test-spark.sh
#
# 1. builds logsieve (release) unless LOGSIEVE_BIN names a binary;
# 2. builds the logsieve wheel (packages/python/build.sh) and makes the venv
#    target/spark-venv (pinned pyspark, wasmtime, pandas, pyarrow, numpy,
#    msgpack from PyPI; about a minute the first time, instant after) with
#    the wheel installed;
# 3. pipeline-examples/spark/test/test_spark.py in local[2] Spark (see its
#    docstring: logs read by the component's reader and scored byte for byte
#    as the CLI, errors, passed events, anomaly counts, windowed models,
#    guest faults, distributed training and the inertia within 1 %).
#
# That the component's reader reads logs as the CLI does is tested in Rust
# (tests/component.rs, the_components_reader_reads_logs_as_the_cli_does).
#
# Needs Python 3.10+, Java 17 or 21 on PATH, and ../shared (or
# $LOGSIEVE_SHARED); a missing one fails the test with a message. Ends with
# `N passed, M failed`; exits non-zero on any failure. About 3 minutes on a
# 2-core machine once logsieve is built and the venv exists.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "test-spark.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
cd "$repo"

SHARED=${LOGSIEVE_SHARED:-$repo/../shared}
[ -d "$SHARED/data/zeek/rita-missing-host/2024-04-19" ] && [ -d "$SHARED/data/zeek/rita-missing-host/2024-04-20" ] \
    || die "the shared data folder is missing or incomplete: $SHARED (expected ../shared next to the repository, or set LOGSIEVE_SHARED)"
command -v python3 >/dev/null || die "python3 not found"
command -v java >/dev/null || die "java not found: Spark needs a Java 17 or 21 runtime on PATH"

if [ -n "${LOGSIEVE_BIN:-}" ]; then
    bin=$LOGSIEVE_BIN
else
    command -v cargo >/dev/null || die "cargo not found (rustup installs it)"
    scripts/setup.sh
    cargo build --release --locked -p logsieve
    bin="${CARGO_TARGET_DIR:-$repo/target}/release/logsieve"
fi
[ -x "$bin" ] || die "$bin is not an executable"

# The logsieve Python package's wheel (the component's host layer, which
# logsieve_spark imports), built from this tree and installed into the venv.
whl=$(packages/python/build.sh "$bin") || die "the logsieve wheel could not be built (packages/python/build.sh)"
py=$(pipeline-examples/spark/setup.sh "$whl") || die "the Spark venv could not be set up (pipeline-examples/spark/setup.sh)"

W=${SPARK_TEST_WORK:-$repo/target/spark-test}
rm -rf "$W"
mkdir -p "$W"
export LOGSIEVE_CACHE_DIR="$W/cache" LOGSIEVE_SPARK_STAGE="$W/stage" SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="$py" PYSPARK_DRIVER_PYTHON="$py"

passed=0 failed=0
tally() { # log file: adds its last "N passed, M failed"
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1 || true)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        echo "test-spark.sh: $1 ended without a result line" >&2
        return
    fi
    passed=$((passed + ${line%% passed*}))
    local f=${line#*passed, }
    failed=$((failed + ${f%% failed}))
}

echo "== Spark (local[2]): pipeline-examples/spark/test/test_spark.py"
set +e
"$py" pipeline-examples/spark/test/test_spark.py --logsieve "$bin" --work "$W" --shared "$SHARED" --cores 2 \
    > "$W/spark.log" 2> "$W/spark.stderr"
rc=$?
set -e
cat "$W/spark.log"
if [ $rc -ne 0 ]; then
    echo "test_spark.py exited $rc; the end of its stderr ($W/spark.stderr):" >&2
    grep -v 'WARN\|log4j\|setLogLevel\|netlib-blas' "$W/spark.stderr" | tail -30 >&2
fi
tally "$W/spark.log"
[ $rc -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
