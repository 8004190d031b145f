#!/usr/bin/env bash
# Events per second of the three hosts of the logsieve component on the same
# input: `logsieve run` (Rust, wasmtime 48), Node (jco) and Python
# (wasmtime-py 50), each scoring a whole day of real Zeek conn events five
# times over (195,365 events, NDJSON, the conn-kmeans model, batches of
# 1000, top 3 features) to a file.
#
#   pipeline-examples/embedding/bench.sh [RUNS]      (default 3 runs each)
#
# Each run prints the host's own figure (events / time from the first read
# to the last write; start-up excluded) and the wall time of the whole
# process (start-up included: loading the compiled component, the model).
# Needs what scripts/test-embedding.sh prepared (it runs test/prepare.sh and
# the set-ups if not). The outputs are checked against the CLI's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
W=${EMBEDDING_WORK:-$repo/target/embedding}
runs=${1:-3}
[ -f "$W/conn-day.events.ndjson" ] || "$here/test/prepare.sh"
"$here/node/setup.sh" "$W/logsieve.wasm" "$W/node-gen/logsieve" 2>/dev/null
"$here/python/setup.sh"
export LOGSIEVE_CACHE_DIR="$W/cache"
bin=${LOGSIEVE_BIN:-$repo/target/release/logsieve}
B=$W/bench
mkdir -p "$B"
for _ in 1 2 3 4 5; do cat "$W/conn-day.events.ndjson"; done > "$B/input.ndjson"
n=$(wc -l < "$B/input.ndjson")
cat > "$B/pipeline.toml" <<TOML
[sources.events]
type = "file"
path = "$B/input.ndjson"
format = "ndjson"

[transforms.score]
type = "logsieve"
inputs = ["events"]
model = "$W/conn.model.msgpack"
batch_size = 1000
top_features = 3

[sinks.scored]
type = "file"
inputs = ["score"]
path = "$B/cli.scored.ndjson"

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "$B/cli.errors.ndjson"
TOML

common=(--model "$W/conn.model.msgpack" --input "$B/input.ndjson" --batch-size 1000 --top-features 3)
declare -A cmd
cmd[cli]="$bin run $B/pipeline.toml"
cmd[node]="node $here/node/score.mjs --gen $W/node-gen/logsieve ${common[*]} --out $B/node.scored.ndjson --errors $B/node.errors.ndjson"
cmd[python]="$here/python/.venv/bin/python $here/python/score.py --component $W/logsieve.wasm ${common[*]} --out $B/python.scored.ndjson --errors $B/python.errors.ndjson"

echo "input: $n events ($(du -h "$B/input.ndjson" | cut -f1)), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for host in cli node python; do
    echo "$host: ${cmd[$host]}"
    for r in $(seq "$runs"); do
        t0=$(date +%s%N)
        out=$(${cmd[$host]} 2>&1 >/dev/null)
        t1=$(date +%s%N)
        own=$(grep -o '[0-9]* events/s' <<< "$out" | head -n 1)
        wall=$(( (t1 - t0) / 1000000 ))
        printf '  run %d: %s (its own figure); wall %d.%03d s = %d events/s\n' "$r" "$own" \
            $((wall / 1000)) $((wall % 1000)) $(( n * 1000 / (wall > 0 ? wall : 1) ))
    done
done
cmp "$B/cli.scored.ndjson" "$B/node.scored.ndjson" && cmp "$B/cli.scored.ndjson" "$B/python.scored.ndjson" \
    && echo "outputs: identical ($(wc -l < "$B/cli.scored.ndjson") scored lines each)"
