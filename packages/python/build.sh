#!/usr/bin/env bash
# Builds the Python package's wheel, with the component inside.
#
#   packages/python/build.sh path/to/logsieve   # prints the wheel's path
#
# Writes the component with `logsieve component -o`, stages this folder and
# the component in target/packages/python-src, and builds a wheel
# (py3-none-any) there with `python -m build --wheel --no-isolation` from a
# tools venv (target/packages/py-build: build-requirements.txt, from PyPI
# the first time). The wheel lands in target/packages/dist/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "python/build.sh: $*" >&2; exit 1; }
bin=${1:-}
[ -n "$bin" ] && [ -x "$bin" ] || die "usage: build.sh path/to/logsieve (the built CLI, which writes the component)"
T=${CARGO_TARGET_DIR:-$repo/target}/packages
py=${PYTHON:-python3}
"$py" -c 'import venv, ensurepip' 2>/dev/null || die "$py has no venv/ensurepip module (on Debian: apt-get install python3-venv)"

tools=$T/py-build
want="$(sha256sum "$here/build-requirements.txt" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"
if ! [ -x "$tools/bin/python" ] || [ "$(cat "$tools/.logsieve-installed" 2>/dev/null)" != "$want" ]; then
    echo "python/build.sh: creating $tools (build, setuptools)" >&2
    rm -rf "$tools"
    "$py" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$here/build-requirements.txt" >&2
    echo "$want" > "$tools/.logsieve-installed"
fi

src=$T/python-src
rm -rf "$src"
mkdir -p "$src" "$T/dist"
cp -r "$here/pyproject.toml" "$here/README.md" "$here/src" "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
"$bin" component -o "$src/src/logsieve/logsieve.wasm" >/dev/null
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/pyproject.toml")
rm -f "$T/dist/logsieve-$version-py3-none-any.whl"
(cd "$src" && "$tools/bin/python" -m build --wheel --no-isolation --outdir "$T/dist" > "$T/python-build.log" 2>&1) \
    || { tail -n 30 "$T/python-build.log" >&2; die "building the wheel failed (the log: $T/python-build.log)"; }
whl=$T/dist/logsieve-$version-py3-none-any.whl
[ -f "$whl" ] || die "no wheel at $whl"
echo "$whl"
