#!/usr/bin/env bash
# End-to-end throughput of `logsieve run` (issue #21): 1,059,180 rita conn
# events (bench/pipeline_data.sh) from one NDJSON file and from 720 gzip'd
# Zeek TSV files, scored by the conn-kmeans model into a file sink, with 1
# and 2 threads; `cat` and `zcat` of the same files as the bounds, and a
# pandas + scikit-learn peer on the NDJSON file (bench/peers/pandas_pipeline.py,
# in target/bench-pipeline-venv, pinned in bench/peers/pipeline-requirements.txt). Writes
# target/bench-results/pipeline.{json,md} ($LOGSIEVE_BENCH_RESULTS); bench/compare.sh calls it and
# puts the table in BENCHMARKS.md.
#
# Usage: bench/pipeline.sh [RUNS=3] [--into BENCHMARKS.md]
#   --into FILE   also put the section in FILE (replacing the last one)
# Run it on a quiet machine: the load before each run and the foreign load
# during it are in the table.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
runs=3
into=()
while (($#)); do
    case "$1" in
        --into) into=(--into "$2"); shift 2 ;;
        *) runs=$1; shift ;;
    esac
done
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release --locked -p logsieve >&2
data=$(LOGSIEVE_BIN="$target/release/logsieve" bench/pipeline_data.sh "$target/bench-pipeline")
# The pandas + scikit-learn peer, in its own virtualenv (pinned).
venv=$target/bench-pipeline-venv
reqs=bench/peers/pipeline-requirements.txt
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import pandas, sklearn' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$reqs" >&2
fi
results=${LOGSIEVE_BENCH_RESULTS:-$target/bench-results}
# Row 9 (per-host windows) comes from bench/compare.sh's scoring bench of
# the same run; run alone, the table has no row 9.
scoring=()
if [[ -n "${LOGSIEVE_BENCH_RESULTS:-}" ]]; then
    scoring=(--scoring-json "$results/scoring.json")
fi
mkdir -p "$results"
python3 bench/pipeline.py --bin "$target/release/logsieve" --data "$data" --runs "$runs" \
    --out "$results/pipeline.json" --table "$results/pipeline.md" \
    --peer-python "$venv/bin/python" --command "bench/pipeline.sh $runs" "${into[@]}" "${scoring[@]}"
