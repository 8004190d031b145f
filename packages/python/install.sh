#!/usr/bin/env bash
# A fresh venv VENV with the package installed from its wheel, as a user
# installs it (`pip install logsieve-x.y.z-py3-none-any.whl`; its one
# dependency, wasmtime, from PyPI or pip's cache).
#
#   packages/python/install.sh VENV path/to/logsieve-x.y.z-py3-none-any.whl
set -euo pipefail
venv=${1:?usage: install.sh VENV WHEEL} whl=${2:?usage: install.sh VENV WHEEL}
[ -f "$whl" ] || { echo "python/install.sh: $whl not found" >&2; exit 1; }
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$whl" >&2
