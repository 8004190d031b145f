#!/usr/bin/env bash
# Test of the Python host: the same component, in wasmtime-py, scores the
# same inputs as `logsieve run`, and its output must be identical (see
# ../test/lib.sh). Runs ../test/prepare.sh first unless EMBEDDING_PREPARED=1.
#
#   pipeline-examples/embedding/python/test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../test/lib.sh"
embedding_work
"$here/setup.sh"

host_cmd() { # component -> CMD
    CMD=("$here/.venv/bin/python" "$here/score.py" --component "$W/$1")
}
run_cases python
