#!/usr/bin/env bash
# Set-up of the Python host: a virtual environment in ./.venv with the
# packages of requirements.txt (wasmtime-py, pinned) installed by pip.
#
#   pipeline-examples/embedding/python/setup.sh
#
# Idempotent: pip runs only when the venv was not made from this
# requirements.txt (and this Python). PYTHON picks the interpreter
# (default python3; 3.9 or later).
set -euo pipefail
cd "$(dirname "$0")"
die() { echo "python/setup.sh: $*" >&2; exit 1; }

py=${PYTHON:-python3}
command -v "$py" >/dev/null || die "$py not found (Python 3.9 or later is needed)"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 9))' || die "$("$py" --version 2>&1) is too old: 3.9 or later is needed"
"$py" -c 'import venv, ensurepip' 2>/dev/null || die "$py has no venv/ensurepip module (on Debian: apt-get install python3-venv)"

want="$(sha256sum requirements.txt | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version.split()[0])')"
if [ -x .venv/bin/python ] && [ "$(cat .venv/.logsieve-installed 2>/dev/null)" = "$want" ]; then
    exit 0
fi
echo "python/setup.sh: creating .venv and installing requirements.txt" >&2
rm -rf .venv
"$py" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -r requirements.txt
.venv/bin/python -c 'import wasmtime.component' || die "wasmtime-py was installed but does not import"
echo "$want" > .venv/.logsieve-installed
