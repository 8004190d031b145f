#!/usr/bin/env bash
# Events/s of Spark scoring (local[1] and local[2], warm workers) against
# `logsieve run` on the same input: the rita conn day 2024-04-20 five times
# over (195,365 events, NDJSON, the CLI reader's JSON texts), the conn-kmeans
# model trained on 2024-04-19, batches of 1000, top 3 features.
#
#   pipeline-examples/spark/bench.sh [REPS]      (default 5 runs of each)
#
# Prints every run, then a table of the best and the median run (this VM is
# shared and noisy). Needs a release build of logsieve and the venv
# (setup.sh); makes its input in target/spark-bench.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
reps=${1:-5}
SHARED=${LOGSIEVE_SHARED:-$repo/../shared}
bin=${LOGSIEVE_BIN:-$repo/target/release/logsieve}
B=${SPARK_BENCH_WORK:-$repo/target/spark-bench}
py=$(LOGSIEVE_BIN="$bin" "$here/setup.sh")  # with the logsieve wheel built from this tree
mkdir -p "$B"
export LOGSIEVE_CACHE_DIR="$B/cache" LOGSIEVE_SPARK_STAGE="$B/stage" SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="$py" PYSPARK_DRIVER_PYTHON="$py"

"$bin" component -o "$B/logsieve.wasm" >/dev/null 2>&1
[ -f "$B/conn.model.msgpack" ] || "$bin" train --quiet --spec "$repo/pipeline-examples/conn-kmeans/model.toml" \
    --input "$SHARED/data/zeek/rita-missing-host/2024-04-19/conn.*.log.gz" --out "$B/conn.model.msgpack"
if [ ! -f "$B/input.ndjson" ]; then
    # The day's events exactly as the CLI's reader makes them (the component's reader), five times.
    PYTHONPATH="$here" "$py" -c '
import glob, sys
from logsieve_spark import component, logs
day, wasm, out = sys.argv[1:4]
loaded = component.load(wasm)
lines = [t for f in sorted(glob.glob(day + "/conn.*.log.gz")) for items in logs.file_records(loaded, f, "auto")
         for _, t, bad in items if bad is None]
with open(out, "w", encoding="utf-8") as o:
    for _ in range(5):
        o.write("\n".join(lines) + "\n")
' "$SHARED/data/zeek/rita-missing-host/2024-04-20" "$B/logsieve.wasm" "$B/input.ndjson"
fi
n=$(wc -l < "$B/input.ndjson")
cat > "$B/pipeline.toml" <<TOML
[sources.events]
type = "file"
path = "$B/input.ndjson"
format = "ndjson"

[transforms.score]
type = "logsieve"
inputs = ["events"]
model = "$B/conn.model.msgpack"
batch_size = 1000
top_features = 3

[sinks.scored]
type = "file"
inputs = ["score"]
path = "$B/cli.scored.ndjson"
TOML

echo "input: $n events ($(du -h "$B/input.ndjson" | cut -f1)), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "logsieve run: $bin run $B/pipeline.toml"
: > "$B/cli.runs"
"$bin" run "$B/pipeline.toml" --quiet  # warm: the compiled component cached
for r in $(seq "$reps"); do
    t0=$(date +%s%N)
    "$bin" run "$B/pipeline.toml" > /dev/null 2>&1
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    echo "$ms" >> "$B/cli.runs"
    printf '  run %d: %d.%03d s = %d events/s (wall, start-up included)\n' "$r" $((ms / 1000)) $((ms % 1000)) \
        $(( n * 1000 / (ms > 0 ? ms : 1) ))
done
for cores in 1 2; do
    "$py" "$here/bench.py" --cores "$cores" --input "$B/input.ndjson" --model "$B/conn.model.msgpack" \
        --component "$B/logsieve.wasm" --reps "$reps" --json "$B/spark-$cores.json" 2> "$B/spark-$cores.stderr"
done
# The Spark output is the CLI's, line for line (file to file, local[2]).
cat "$B"/spark-out-2/part-* | cmp - "$B/cli.scored.ndjson" && echo "outputs: identical ($n scored lines)"

# Keep this invocation's runs; the table is over every invocation kept in $B/runs
# (rm -r target/spark-bench/runs to start afresh).
keep="$B/runs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$keep"
cp "$B/cli.runs" "$B/spark-1.json" "$B/spark-2.json" "$keep/"
"$py" - "$B" "$n" <<'PY'
import glob, json, statistics, sys
B, n = sys.argv[1], int(sys.argv[2])
dirs = sorted(glob.glob(f"{B}/runs/*"))
def row(name, secs):
    best, med = n / min(secs), n / statistics.median(secs)
    print(f"| {name} | {best:,.0f} | {med:,.0f} | {len(secs)} |")
print(f"over {len(dirs)} invocation(s) of bench.sh:")
print("| path | best events/s | median events/s | runs |")
print("|---|---|---|---|")
row("`logsieve run` (1 process, wall time)", [int(l) / 1000 for d in dirs for l in open(f"{d}/cli.runs")])
for cores in (1, 2):
    runs = {}
    for d in dirs:
        for name, secs in json.load(open(f"{d}/spark-{cores}.json"))["runs"].items():
            runs.setdefault(name, []).extend(secs)
    for name, secs in runs.items():
        row(f"Spark local[{cores}], {name}", secs)
PY
