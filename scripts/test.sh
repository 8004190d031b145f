#!/usr/bin/env bash
# The test suite: the install from the packaged crates (scripts/test-install.sh),
# clippy (no warnings), unit tests, parity with scikit-learn on the shared real
# logs, the component tests and the end-to-end pipeline tests; then the same
# component in Node (jco) and Python (wasmtime-py), and the HTML report in
# headless Chromium, and the same component inside Apache Spark (local[2]). Needs ../shared next to the repository (or
# LOGSIEVE_SHARED). Installs what it needs (scripts/setup.sh, npm and pip
# packages, Debian's chromium, the Spark venv) on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p logsieve
scripts/test-install.sh
cargo clippy --release --locked --workspace --all-targets -- -D warnings
cargo test --release --locked --workspace
scripts/test-embedding.sh
scripts/test-report.sh
LOGSIEVE_BIN="${CARGO_TARGET_DIR:-target}/release/logsieve" scripts/test-spark.sh
