#!/usr/bin/env bash
# The test suite: unit tests, parity with scikit-learn on the shared real
# logs, the component tests and the end-to-end pipeline tests.
# Needs ../shared next to the repository (or LOGSIEVE_SHARED).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p logsieve
cargo test --release --locked --workspace
