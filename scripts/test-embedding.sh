#!/usr/bin/env bash
# The embedding test: the logsieve component, run in Node (jco) and in
# Python (wasmtime-py), must score the same inputs exactly as `logsieve run`
# does — scored NDJSON byte for byte, error records field for field — and
# refuse broken models in the same words. See pipeline-examples/embedding/.
# The same for the npm and Python packages (packages/node, packages/python),
# built into a tarball and a wheel and installed from them.
#
#   scripts/test-embedding.sh
#
# Builds logsieve, writes its component, trains the models and runs the CLI
# on the common inputs (pipeline-examples/embedding/test/prepare.sh, into
# target/embedding), installs each host's packages (npm ci, pip into a venv:
# fast when already installed), and runs both hosts' tests. Needs cargo,
# Node 20 with npm, Python 3.9+ with venv, the npm registry and PyPI (first
# run), and ../shared (or $LOGSIEVE_SHARED). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
die() { echo "test-embedding: $*" >&2; exit 1; }
for tool in cargo node npm python3; do
    command -v "$tool" >/dev/null || die "$tool not found: the embedding test needs cargo, Node 20 with npm and Python 3"
done
emb=pipeline-examples/embedding

scripts/setup.sh
cargo build --release --locked -p logsieve
export EMBEDDING_WORK=$PWD/target/embedding
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/logsieve"
LOGSIEVE_BIN="$bin" $emb/test/prepare.sh
export EMBEDDING_PREPARED=1

$emb/node/setup.sh
$emb/python/setup.sh

status=0
rm -f "$EMBEDDING_WORK"/result-*
$emb/node/test.sh || status=1
$emb/python/test.sh || status=1
# The packages, built from this tree (npm tarball, wheel) and installed into
# a fresh npm project and a fresh venv under the target directory.
packages/node/test.sh "$bin" || status=1
packages/python/test.sh "$bin" || status=1

passed=0 failed=0
for host in node python node-package python-package node-package-text python-package-text; do
    if [ -f "$EMBEDDING_WORK/result-$host" ]; then
        read -r p f < "$EMBEDDING_WORK/result-$host"
        passed=$((passed + p)) failed=$((failed + f))
    else
        echo "test-embedding: the $host test did not finish" >&2
        failed=$((failed + 1)) status=1
    fi
done
echo "test-embedding: $((SECONDS - start)) s"
echo "embedding: $passed passed, $failed failed"
exit $status
