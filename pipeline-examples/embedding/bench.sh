#!/usr/bin/env bash
# Events per second of the three hosts of the logsieve component on the same
# input: `logsieve run` (Rust, wasmtime 48), Node (jco) and Python
# (wasmtime-py 50), each scoring a whole day of real Zeek conn events five
# times over (195,365 events, NDJSON, the conn-kmeans model, batches of
# 1000, top 3 features) to a file.
#
#   pipeline-examples/embedding/bench.sh [RUNS]      (default 3 runs each)
#
# The hosts: cli, node, python (the example hosts, reading through the
# component's reader) and node-package, python-package (the npm and Python
# packages, installed from their tarball and wheel, through `Scorer.score`
# on lines the test host splits: packages/*/test/); BENCH_HOSTS picks some.
# node-package-text and python-package-text: the same packages through
# `scoreText` / `score_text` (NDJSON text in and out, as a backfill writes).
# The runs alternate between the hosts (run 1 of each, then run 2, ...).
# BENCH_CPU=N runs every host on core N alone (`taskset -c N`; the CLI with
# `threads = 1`): the rates on one and the same core.
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
bin=${LOGSIEVE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/logsieve}
# The packages, built from this tree and installed as users install them.
P=${CARGO_TARGET_DIR:-$repo/target}/packages
"$repo/packages/node/install.sh" "$P/bench-npm-project" "$("$repo/packages/node/build.sh" "$bin")"
cp "$repo/packages/node/test/score-lines.mjs" "$P/bench-npm-project/"
"$repo/packages/python/install.sh" "$P/bench-venv-python" "$("$repo/packages/python/build.sh" "$bin")"
cp "$repo/packages/python/test/score_lines.py" "$P/bench-venv-python/"
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
cmd[node-package]="node $P/bench-npm-project/score-lines.mjs ${common[*]} --out $B/node-package.scored.ndjson --errors $B/node-package.errors.ndjson"
cmd[python-package]="$P/bench-venv-python/bin/python $P/bench-venv-python/score_lines.py ${common[*]} --out $B/python-package.scored.ndjson --errors $B/python-package.errors.ndjson"
cmd[node-package-text]="node $P/bench-npm-project/score-lines.mjs --api text ${common[*]} --out $B/node-package-text.scored.ndjson --errors $B/node-package-text.errors.ndjson"
cmd[python-package-text]="$P/bench-venv-python/bin/python $P/bench-venv-python/score_lines.py --api text ${common[*]} --out $B/python-package-text.scored.ndjson --errors $B/python-package-text.errors.ndjson"
pin=()
if [ -n "${BENCH_CPU:-}" ]; then
    pin=(taskset -c "$BENCH_CPU")
    sed -i 's/^batch_size = 1000$/batch_size = 1000\nthreads = 1/' "$B/pipeline.toml"
fi

echo "input: $n events ($(du -h "$B/input.ndjson" | cut -f1)), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)${BENCH_CPU:+, every host on core $BENCH_CPU alone}"
hosts=${BENCH_HOSTS:-cli node python node-package python-package node-package-text python-package-text}
for host in $hosts; do echo "$host: ${pin[*]} ${cmd[$host]}"; done
# One untimed run of each host first: after a rebuild the first run compiles
# the component into the cache (1-2 s), which the CLI's own figure counts.
for host in $hosts; do "${pin[@]}" ${cmd[$host]} >/dev/null 2>&1 || true; done
for r in $(seq "$runs"); do
    for host in $hosts; do
        t0=$(date +%s%N)
        out=$("${pin[@]}" ${cmd[$host]} 2>&1 >/dev/null)
        t1=$(date +%s%N)
        own=$(grep -o '[0-9]* events/s' <<< "$out" | head -n 1)
        wall=$(( (t1 - t0) / 1000000 ))
        printf '  run %d %-15s %s (its own figure); wall %d.%03d s = %d events/s\n' "$r" "$host:" "$own" \
            $((wall / 1000)) $((wall % 1000)) $(( n * 1000 / (wall > 0 ? wall : 1) ))
    done
done
for host in $hosts; do
    [ "$host" = cli ] || cmp "$B/cli.scored.ndjson" "$B/$host.scored.ndjson"
done
echo "outputs: identical ($(wc -l < "$B/cli.scored.ndjson") scored lines each)"
