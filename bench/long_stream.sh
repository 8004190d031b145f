#!/usr/bin/env bash
# Bounded memory on a long stream: GBs of Zeek conn events, generated from
# the conn-kmeans example's sample, stream through `logsieve run` on stdin
# (NDJSON -> k-means -> file sinks). Prints the resident memory every few
# seconds and the peak at the end.
#
# Usage: bench/long_stream.sh [GIB=4]
set -euo pipefail
cd "$(dirname "$0")/.."
gib=${1:-4}
scripts/setup.sh
cargo build --release --locked -p logsieve >&2
bin=$PWD/target/release/logsieve
work=$PWD/target/long-stream
mkdir -p "$work"

"$bin" train --spec pipeline-examples/conn-kmeans/model.toml \
    --input 'pipeline-examples/conn-kmeans/sample/train/*.log.gz' --out "$work/conn.model.msgpack" --quiet

# A ~64 MiB chunk of distinct NDJSON events (uids and timestamps vary).
python3 - "$work/chunk.ndjson" <<'PY'
import gzip, glob, json, sys
rows = []
for path in sorted(glob.glob("pipeline-examples/conn-kmeans/sample/score/*.log.gz")):
    fields = types = None
    for line in gzip.open(path, "rt"):
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line.startswith("#types"):
            types = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            ev = {}
            for f, t, v in zip(fields, types, line.split("\t")):
                if v == "-":
                    continue
                if t in ("count", "int", "port"):
                    ev[f] = int(v)
                elif t in ("time", "interval", "double"):
                    ev[f] = float(v)
                elif t == "bool":
                    ev[f] = v == "T"
                else:
                    ev[f] = v
            rows.append(ev)
out, size, n = open(sys.argv[1], "w"), 0, 0
while size < 64 << 20:
    for ev in rows:
        ev = dict(ev, uid=f"G{n:011d}", ts=ev["ts"] + n * 1e-3)
        line = json.dumps(ev, separators=(",", ":")) + "\n"
        out.write(line)
        size += len(line)
        n += 1
print(f"chunk: {n} events, {size / 2**20:.1f} MiB", file=sys.stderr)
PY

cat > "$work/pipeline.toml" <<'TOML'
[sources.live]
type = "stdin"
format = "ndjson"

[transforms.score]
type = "logsieve"
inputs = ["live"]
model = "conn.model.msgpack"

[sinks.anomalies]
type = "file"
inputs = ["score"]
path = "anomalies.ndjson"
only_anomalies = true

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "errors.ndjson"
TOML

chunk_mib=$(( $(stat -c %s "$work/chunk.ndjson") >> 20 ))
repeats=$(( (gib * 1024 + chunk_mib - 1) / chunk_mib ))
echo "streaming $repeats x $chunk_mib MiB = $(( repeats * chunk_mib )) MiB through logsieve run" >&2
(for _ in $(seq "$repeats"); do cat "$work/chunk.ndjson"; done) |
    "$bin" run "$work/pipeline.toml" --summary-json "$work/summary.json" &
pid=$!  # the last command of the pipeline: logsieve itself
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "  t=${SECONDS}s rss=$(( rss / 1024 )) MiB" >&2
    sleep 5
done
wait $pid
python3 -c "
import json; s = json.load(open('$work/summary.json'))
read = sum(x['read'] for x in s['sources'].values())
print(f'streamed {$repeats * $chunk_mib} MiB, {read} events in {s[\"seconds\"]:.1f} s ({read / s[\"seconds\"]:,.0f} events/s); peak RSS {s[\"peak_rss_mib\"]:.0f} MiB')
"
