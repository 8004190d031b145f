#!/usr/bin/env bash
# The data of the end-to-end pipeline rows (issue #21): the Zeek conn logs of
# rita-missing-host (3 days, 24 hourly gzip'd TSV files each), repeated 10
# times, as
#   $OUT/tsv/r0..r9/<day>/conn.*.log.gz  720 gzip'd Zeek TSV files (links)
#   $OUT/conn.ndjson                     the same events as NDJSON, one file
#   $OUT/conn.model.msgpack              the conn-kmeans example's model,
#                                        trained as its README does
# and the pipelines that score them (file sinks in $OUT/out).
#
# Usage: bench/pipeline_data.sh [OUT=target/bench-pipeline]
# Needs: the release binary (cargo build --release -p logsieve), python3,
# the shared data folder ($LOGSIEVE_SHARED, default ../shared).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${CARGO_TARGET_DIR:-$repo/target}/bench-pipeline}
shared=${LOGSIEVE_SHARED:-$repo/../shared}
src=$shared/data/zeek/rita-missing-host
bin=${LOGSIEVE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/logsieve}
reps=10
[[ -d "$src" ]] || { echo "pipeline_data: $src not found" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [[ ! -f "$out/conn.model.msgpack" ]]; then
    (cd "$repo/pipeline-examples/conn-kmeans" &&
        SOURCE_DATE_EPOCH=0 "$bin" train --spec model.toml --input 'sample/train/conn.00:00:00-01:00:00.log.gz' \
            --out "$out/conn.model.msgpack" --quiet)
fi

if [[ ! -f "$out/conn.ndjson" ]]; then
    rm -rf "$out/tsv"
    for r in $(seq 0 $((reps - 1))); do
        for day in "$src"/2*/; do
            d=$out/tsv/r$r/$(basename "$day")
            mkdir -p "$d"
            ln -s "$day"conn.*.log.gz "$d/"
        done
    done
    # NDJSON: each row converted as the zeek_tsv reader types it, repeated.
    python3 - "$src" "$out/conn.ndjson.tmp" "$reps" <<'PY'
import glob, gzip, json, sys
src, dst, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = []
for path in sorted(glob.glob(f"{src}/2*/conn.*.log.gz")):
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
                elif t.startswith(("set", "vector")):
                    ev[f] = [] if v == "(empty)" else v.split(",")
                else:
                    ev[f] = v
            lines.append(json.dumps(ev, separators=(",", ":")) + "\n")
with open(dst, "w") as out:
    for _ in range(reps):
        out.writelines(lines)
print(f"pipeline_data: {len(lines) * reps} events", file=sys.stderr)
PY
    mv "$out/conn.ndjson.tmp" "$out/conn.ndjson"
fi

# PIPELINE FORMAT INPUT THREADS -> a pipeline file
pipeline() {
    cat >"$1" <<TOML
[sources.conn]
type = "file"
path = "$3"
format = "$2"

[transforms.score]
type = "logsieve"
inputs = ["conn"]
model = "conn.model.msgpack"
threads = $4

[sinks.scored]
type = "file"
inputs = ["score"]
path = "out/scored.ndjson"

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "out/errors.ndjson"
TOML
}
for t in 1 2; do
    pipeline "$out/ndjson-t$t.toml" ndjson conn.ndjson $t
    pipeline "$out/tsv-t$t.toml" zeek_tsv 'tsv/*/*/conn.*.log.gz' $t
done
echo "$out"
