#!/usr/bin/env bash
# Set-up of the Spark example: a virtual environment (default
# target/spark-venv at the repository root) with requirements.txt installed
# by pip from PyPI. Spark runs in local mode from the pyspark wheel; it needs
# Java 17 (or 21) on PATH and nothing else.
#
#   pipeline-examples/spark/setup.sh [logsieve-X.Y.Z-py3-none-any.whl]   # prints the venv's python
#
# The logsieve Python package (the component's host layer, which
# logsieve_spark imports) is installed from its wheel: the one given, or one
# built with packages/python/build.sh "$LOGSIEVE_BIN" when LOGSIEVE_BIN names
# the CLI, or else the one already installed (an error if there is none).
#
# Idempotent and fast when already done: pip runs only when the venv was not
# made from this requirements.txt and this Python. SPARK_VENV picks another
# place, PYTHON another interpreter (3.10 or later).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
die() { echo "spark/setup.sh: $*" >&2; exit 1; }

venv=${SPARK_VENV:-$root/target/spark-venv}
py=${PYTHON:-python3}
command -v "$py" >/dev/null || die "$py not found (Python 3.10 or later is needed)"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "$("$py" --version 2>&1) is too old: 3.10 or later is needed"
"$py" -c 'import venv, ensurepip' 2>/dev/null || die "$py has no venv/ensurepip module (on Debian: apt-get install python3-venv)"
command -v java >/dev/null || die "java not found on PATH: Spark needs a Java 17 or 21 runtime (Debian: apt-get install openjdk-17-jre-headless)"
jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
case "$jv" in 17|21) ;; *) die "java on PATH is version '${jv:-unknown}'; Spark 4 needs 17 or 21" ;; esac

whl=${1:-}
if [ -z "$whl" ] && [ -n "${LOGSIEVE_BIN:-}" ]; then
    whl=$("$root/packages/python/build.sh" "$LOGSIEVE_BIN") || die "building the logsieve wheel failed"
fi
wheel() { # installs the logsieve wheel unless this very wheel is installed
    [ -n "$whl" ] || {
        "$venv/bin/python" -c 'import logsieve' 2>/dev/null \
            || die "the logsieve Python package is not installed: give its wheel (packages/python/build.sh path/to/logsieve builds it) or set LOGSIEVE_BIN"
        return 0
    }
    [ -f "$whl" ] || die "$whl not found"
    local sum
    sum=$(sha256sum "$whl" | cut -d' ' -f1)
    [ "$(cat "$venv/.logsieve-wheel" 2>/dev/null)" = "$sum" ] && return 0
    echo "spark/setup.sh: installing $(basename "$whl")" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --force-reinstall --no-deps "$whl" >&2
    "$venv/bin/python" -c 'import logsieve._host' || die "the logsieve wheel was installed but does not import"
    echo "$sum" > "$venv/.logsieve-wheel"
}

want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.logsieve-installed" 2>/dev/null)" = "$want" ]; then
    wheel
    echo "$venv/bin/python"
    exit 0
fi
echo "spark/setup.sh: creating $venv and installing requirements.txt (about a minute: pyspark is a 450 MB package)" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$here/requirements.txt" >&2
"$venv/bin/python" -c 'import pyspark, wasmtime.component, pandas, pyarrow, numpy, msgpack' || die "the packages were installed but do not import"
echo "$want" > "$venv/.logsieve-installed"
wheel
echo "$venv/bin/python"
