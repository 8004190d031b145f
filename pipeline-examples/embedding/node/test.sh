#!/usr/bin/env bash
# Test of the Node host: the same component, transpiled by jco, scores the
# same inputs as `logsieve run`, and its output must be identical (see
# ../test/lib.sh). Runs ../test/prepare.sh first unless EMBEDDING_PREPARED=1.
#
#   pipeline-examples/embedding/node/test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../test/lib.sh"
embedding_work
"$here/setup.sh"

host_cmd() { # component -> CMD, with its jco bindings
    local gen=$W/node-gen/${1%.wasm}
    "$here/setup.sh" "$W/$1" "$gen" || return 1
    CMD=(node "$here/score.mjs" --gen "$gen")
}
run_cases node
