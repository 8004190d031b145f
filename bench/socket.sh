#!/usr/bin/env bash
# Throughput of a socket source -> socket sink pipeline on loopback (issue
# #23), beside the file -> file pipeline of the same data in the same run:
# bench/socket_bench.py on the NDJSON file of bench/pipeline_data.sh.
#
# Usage: bench/socket.sh [RUNS=3]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
runs=${1:-3}
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release --locked -p logsieve >&2
data=$(LOGSIEVE_BIN="$target/release/logsieve" bench/pipeline_data.sh "$target/bench-pipeline")
results=${LOGSIEVE_BENCH_RESULTS:-$target/bench-results}
mkdir -p "$results"
python3 bench/socket_bench.py --bin "$target/release/logsieve" --data "$data" --runs "$runs" --table "$results/socket.md"
