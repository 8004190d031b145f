#!/usr/bin/env bash
# logsieve against its peers, on the same data in the same run; writes
# BENCHMARKS.md at the repository root.
#
# Usage: bench/compare.sh [--quick]
#
#   --quick   check the plumbing in a few minutes: 2 runs instead of 5,
#             k-modes on the first 20,000 rows, word2vec 1 epoch. The table
#             says so, and its aims are not judged.
#
# What it does:
#   1. a Python virtualenv in target/bench-venv with the pinned peers of
#      bench/peers/requirements.txt (scikit-learn, kmodes, gensim, numpy,
#      scipy, threadpoolctl), created or reused;
#   2. the synthetic data of $LOGSIEVE_SHARED/bench/gen_data.py (default
#      ../shared next to the repository) in target/bench-data, regenerated
#      unless its MANIFEST.txt equals train/tests/data/gen_data_manifest.txt
#      and every file still has its SHA-256;
#   3. builds the Rust benches first (`cargo bench --no-run`), then runs
#      logsieve's side (the executables of `cargo bench -p logsieve-train
#      --bench compare`, which checks the files against the manifest and
#      against the Rust regeneration, and of `cargo bench -p logsieve --bench
#      scoring -- --json`) and each peer (bench/peers/*.py), collecting JSON
#      in target/bench-results;
#   4. writes BENCHMARKS.md with bench/peers/report.py.
#
# Honours CARGO_TARGET_DIR. Takes about 10 minutes (most of it kmodes and
# gensim). Run it on a quiet machine: the load average and the CPU time other
# processes used during every step are recorded in the file.
set -euo pipefail

quick=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "compare.sh: unknown argument '$arg' (usage: bench/compare.sh [--quick])" >&2
            exit 2
            ;;
    esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command_line="bench/compare.sh${*:+ $*}"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

shared=${LOGSIEVE_SHARED:-$repo/../shared}
gen="$shared/bench/gen_data.py"
if [[ ! -f "$gen" ]]; then
    echo "compare.sh: $gen not found: the shared folder is missing." >&2
    echo "  Put the workplace's shared/ folder next to the repository or set LOGSIEVE_SHARED." >&2
    exit 1
fi
shared=$(cd "$shared" && pwd)

# No __pycache__ folders in bench/peers.
export PYTHONDONTWRITEBYTECODE=1

venv=$repo/target/bench-venv
data=$repo/target/bench-data
results=$repo/target/bench-results
reqs=$repo/bench/peers/requirements.txt
peers=$repo/bench/peers
py=$venv/bin/python

# ---- 1. peers ---------------------------------------------------------------
if [[ ! -x "$py" ]]; then
    echo "compare: creating the virtualenv $venv" >&2
    python3 -m venv "$venv"
fi
# Install only when a pinned version is missing (pip resolving is slow).
if ! "$py" - "$reqs" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        print(f"compare: {name} {have} installed, {want} wanted", file=sys.stderr)
        sys.exit(1)
PY
then
    echo "compare: installing the pinned peers into $venv" >&2
    "$py" -m pip install --quiet --disable-pip-version-check -r "$reqs"
fi

# ---- 2. data ----------------------------------------------------------------
data_ok() {
    [[ -f "$data/MANIFEST.txt" ]] || return 1
    cmp -s <(grep -v '^#' "$data/MANIFEST.txt") <(grep -v '^#' train/tests/data/gen_data_manifest.txt) || return 1
    (cd "$data" && grep -v '^#' MANIFEST.txt | awk '{print $1 "  " $2}' | sha256sum --quiet -c - >/dev/null 2>&1)
}
if data_ok; then
    echo "compare: $data is up to date (MANIFEST.txt matches, SHA-256 checked)" >&2
else
    echo "compare: generating the data into $data" >&2
    mkdir -p "$data"
    "$py" "$gen" --out "$data" >/dev/null
    if ! data_ok; then
        echo "compare: warning: gen_data.py's MANIFEST.txt differs from train/tests/data/gen_data_manifest.txt;" >&2
        echo "  the Rust side will refuse data it cannot regenerate" >&2
    fi
fi

# ---- 3. runs ----------------------------------------------------------------
rm -rf "$results"
mkdir -p "$results"
steps=$results/steps.json

if ((quick)); then
    runs=2 kmodes_rows=20000 epochs=1
else
    runs=5 kmodes_rows=200000 epochs=5
fi

# Build both benches, then run their executables directly: the two packages
# unify features differently, so a second `cargo bench` would rebuild the
# shared crates inside a measured step.
bench_exe() { # PACKAGE BENCH -> path of the bench's executable
    cargo bench -p "$1" --bench "$2" --no-run --message-format=json-render-diagnostics |
        "$py" -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$2"
}
echo "compare: building the Rust benches" >&2
compare_exe=$(bench_exe logsieve-train compare)
scoring_exe=$(bench_exe logsieve scoring)
for exe in "$compare_exe" "$scoring_exe"; do
    [[ -x "$exe" ]] || { echo "compare: no bench executable found (got '$exe')" >&2; exit 1; }
done

step() { "$py" "$peers/run_step.py" "$steps" "$@"; }

echo "compare: logsieve (k-means, k-modes, word2vec)" >&2
step logsieve-train "$results/logsieve_train.json" -- \
    "$compare_exe" --data "$data" \
    --kmeans-runs "$runs" --kmodes-runs "$runs" --kmodes-rows "$kmodes_rows" --w2v-epochs "$epochs" --w2v-threads 1,2
echo "compare: logsieve (inline scoring, start-up)" >&2
LOGSIEVE_SHARED=$shared step logsieve-scoring "$results/scoring.json" -- \
    "$scoring_exe" --json
echo "compare: scikit-learn KMeans" >&2
step sklearn-kmeans - -- "$py" "$peers/sklearn_kmeans.py" --data "$data" --runs "$runs" \
    --out "$results/sklearn_kmeans.json"
echo "compare: kmodes KModes (about 90 s on the full set)" >&2
step kmodes - -- "$py" "$peers/kmodes_huang.py" --data "$data" --rows "$kmodes_rows" \
    --out "$results/kmodes_huang.json"
echo "compare: gensim Word2Vec, 1 and 2 workers (several minutes)" >&2
step gensim-w2v - -- "$py" "$peers/gensim_w2v.py" --data "$data" --workers 1,2 --epochs "$epochs" \
    --out "$results/gensim_w2v.json"

echo "compare: logsieve run end to end (bench/pipeline.sh)" >&2
LOGSIEVE_BENCH_RESULTS=$results bench/pipeline.sh "$runs"
echo "compare: a socket source to a socket sink on loopback (bench/socket.sh)" >&2
LOGSIEVE_BENCH_RESULTS=$results bench/socket.sh "$runs"

# ---- 4. report --------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
wall=$(($(date +%s) - t_start))
"$py" -m pip freeze --disable-pip-version-check >"$results/pip_freeze.txt"
{
    echo "rustc=$(rustc -V)"
    echo "cargo=$(cargo -V)"
    echo "python=$("$py" -V 2>&1)"
    echo "git=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "wasmtime=$(grep -A1 '^name = "wasmtime"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
    echo "kernel=$(uname -sr)"
} >"$results/tools.txt"
"$py" "$peers/report.py" --results "$results" --out "$repo/BENCHMARKS.md" \
    --command "$command_line" --started "$started" --wall "$wall" \
    --load-start "$load_start" --load-end "$load_end" --quick "$quick"
# The end-to-end section, as bench/pipeline.sh wrote it.
echo >>"$repo/BENCHMARKS.md"
cat "$results/pipeline.md" >>"$repo/BENCHMARKS.md"
{
    echo
    echo "## Over the network: a socket source to a socket sink (bench/socket.sh)"
    echo
    cat "$results/socket.md"
} >>"$repo/BENCHMARKS.md"
echo "compare: wrote BENCHMARKS.md in ${wall} s (raw JSON in $results)" >&2
