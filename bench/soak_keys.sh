#!/usr/bin/env bash
# Soak test of per-key windows (not in CI): N events (default 10 million),
# each from its own source address (spoofed addresses: N distinct keys),
# stream through `logsieve run` on stdin into a window = "all" model with
# the default max_keys = 100000, under memory_limit_mb = 256. It must
# keep the process's resident memory under BOUND_MIB (default 320: the
# component's 256 MiB limit plus the host) and lose no window: every event
# absorbed, one aggregate per key emitted and scored, no guest fault, no
# window lost, the summary's equations holding. Prints the resident memory
# every 5 s and the peak; exits 1 when a check fails.
#
# Usage: bench/soak_keys.sh [EVENTS=10000000] [BOUND_MIB=320]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
bound=${2:-320}
cargo build --release --locked -p logsieve >&2
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/logsieve
work=${CARGO_TARGET_DIR:-$PWD/target}/soak-keys
mkdir -p "$work"

# The Kerberos notebook's per-host recipe (count, unique, top, freq of the
# destination port per origin host), trained on a few generated hosts.
sed -e 's/^n_init = 10/n_init = 1/' pipeline-examples/kerberos-per-host/conn-hosts.toml > "$work/spec.toml"
python3 - "$work/train.ndjson" <<'PY'
import json, sys
with open(sys.argv[1], "w") as out:
    for h in range(300):
        for i in range(1 + h % 17):
            out.write(json.dumps({"ts": 1e9 + i, "id.orig_h": f"192.168.{h >> 8}.{h & 255}", "id.resp_p": (h * i) % (3 + h % 50)}) + "\n")
PY
"$bin" train --spec "$work/spec.toml" --input "$work/train.ndjson" --out "$work/model.msgpack" --quiet

cat > "$work/pipeline.toml" <<'TOML'
[sources.live]
type = "stdin"
format = "ndjson"

[transforms.score]
type = "logsieve"
inputs = ["live"]
model = "model.msgpack"
memory_limit_mb = 256

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

echo "streaming $events events with $events distinct keys through logsieve run (max_keys 100000, memory_limit_mb 256)" >&2
python3 - "$events" <<'PY' |
import sys
n = int(sys.argv[1])
out = sys.stdout
step = 100_000
for start in range(0, n, step):
    out.write("".join(
        f'{{"ts":{1e9 + i * 1e-3:.3f},"id.orig_h":"{10 + (i >> 24)}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}","id.resp_p":{i % 1024}}}\n'
        for i in range(start, min(n, start + step))
    ))
PY
    (cd "$work" && exec "$bin" run pipeline.toml --summary-json summary.json --quiet) &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
    child=$(pgrep -P "$pid" -x logsieve || echo "$pid")
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$child/status" 2>/dev/null || true)
    if [ -n "$rss" ]; then
        echo "  t=${SECONDS}s rss=$(( rss / 1024 )) MiB" >&2
        [ $(( rss / 1024 )) -gt "$peak" ] && peak=$(( rss / 1024 ))
    fi
    sleep 5
done
wait $pid
python3 - "$work/summary.json" "$events" "$bound" "$peak" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n, bound, sampled = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
t = s["transforms"]["score"]
peak = s.get("peak_rss_mib") or sampled
print(f"{t['in']} events in {s['seconds']:.1f} s ({t['in'] / s['seconds']:,.0f} events/s); "
      f"{t['emitted']} aggregates ({t['emitted_scored']} scored, {t['evicted']} evicted early by max_keys); "
      f"peak RSS {peak:.0f} MiB (bound {bound:.0f} MiB)")
problems = []
want = {"in": n, "absorbed": n, "errors": 0, "emitted": n, "emitted_scored": n, "guest_faults": 0, "windows_lost": 0}
for k, v in want.items():
    if t.get(k) != v:
        problems.append(f"{k} = {t.get(k)}, expected {v}")
if peak > bound:
    problems.append(f"peak RSS {peak:.0f} MiB over the bound {bound:.0f} MiB")
if problems:
    sys.exit("FAILED: " + "; ".join(problems))
print("ok: no window lost, memory under the bound")
PY
