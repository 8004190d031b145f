#!/usr/bin/env bash
# The main job on the bundled sample: build logsieve, train the conn-kmeans
# model on six hours of real Zeek conn logs, score the next day's first two
# hours inline through the WebAssembly component, show what was flagged.
# LOGSIEVE_BIN=path/to/logsieve runs the demo with that binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${LOGSIEVE_BIN:-}" ]; then
    # A given binary (scripts/test-install.sh: the one `cargo install` put
    # in a fresh prefix from the packaged crate); nothing is built.
    bin=$LOGSIEVE_BIN
else
    scripts/setup.sh
    cargo build --release --locked -p logsieve
    bin="${CARGO_TARGET_DIR:-target}/release/logsieve"
fi
ex=pipeline-examples/conn-kmeans

"$bin" train --spec $ex/model.toml --input "$ex/sample/train/conn.*.log.gz" --out $ex/conn.model.msgpack
"$bin" inspect $ex/conn.model.msgpack
"$bin" run $ex/pipeline.toml
echo
echo "The five highest-scoring connections ($ex/out/anomalies.ndjson):"
python3 - "$ex/out/anomalies.ndjson" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows.sort(key=lambda r: -r["logsieve"]["score"])
for r in rows[:5]:
    s = r["logsieve"]
    why = ", ".join(f'{f["feature"]} {f["share"]:.0%}' for f in s["top_features"])
    print(f'  {r["id.orig_h"]:>15} -> {r["id.resp_h"]}:{r["id.resp_p"]:<5} {r.get("proto",""):<4} '
          f'{r.get("conn_state",""):<6} cluster {s["cluster"]} score {s["score"]:.2f} {s["reasons"]} ({why})')
PY
