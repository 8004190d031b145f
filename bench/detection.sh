#!/usr/bin/env bash
# Detection quality of logsieve's conn recipes on the four labelled strato
# captures, in the detection baseline's framing (shared/detection/README.md):
# train on a random half of a capture's benign flows (numpy default_rng(0)),
# score the other half and every malicious flow. Prints the markdown table of
# docs/detection.md: per recipe and set, ROC AUC and average precision of
# `score`, ROC AUC of `distance`, precision@100, and the `anomaly` flag's
# true- and false-positive rates; scikit-learn's IsolationForest beside them
# (tests/fixtures/detection/baseline.json, made by make.py there).
#
#   bench/detection.sh            # builds logsieve (release) unless LOGSIEVE_BIN is set
#
# Needs ../shared (or $LOGSIEVE_SHARED) and python3 (standard library only).
# About 30 s on a 2-core machine.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
SHARED=${LOGSIEVE_SHARED:-$repo/../shared}
[ -d "$SHARED/data/zeek/strato-labeled" ] || { echo "bench/detection.sh: no $SHARED/data/zeek/strato-labeled (set LOGSIEVE_SHARED)" >&2; exit 1; }
if [ -z "${LOGSIEVE_BIN:-}" ]; then
    cargo build --release --locked -p logsieve >&2
    LOGSIEVE_BIN=${CARGO_TARGET_DIR:-target}/release/logsieve
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The notebooks' scoring of the conn-kmeans example, for comparison.
sed 's/^method = "cblof".*/method = "centroid"/' pipeline-examples/conn-kmeans/model.toml > "$work/conn-kmeans-centroid.toml"
grep -q '^method = "centroid"' "$work/conn-kmeans-centroid.toml"

recipes=(
    "conn-isolation-forest (recommended)=pipeline-examples/conn-isolation-forest/model.toml"
    "conn-kmeans, cblof (default)=pipeline-examples/conn-kmeans/model.toml"
    "conn-kmeans, centroid (notebook)=$work/conn-kmeans-centroid.toml"
)
for r in "${recipes[@]}"; do
    name=${r%%=*}
    spec=${r#*=}
    for set in 008 010 011 012; do
        "$LOGSIEVE_BIN" evaluate --spec "$spec" --holdout 0.5 --random-state 0 \
            --input "$SHARED/data/zeek/strato-labeled/$set/conn.log.labeled.gz" \
            --positive 'Malicious*' --negative Benign --json --quiet > "$work/$set.json"
        python3 - "$name" "$set" "$work/$set.json" <<'EOF'
import json, sys
name, s, path = sys.argv[1:]
r = json.load(open(path))
sc, d, a = r["score"], r["distance"], r["anomaly"]
p = sc["precision_at"][0]
print(f"| {name} | {s} | {sc['roc_auc']:.4f} | {sc['average_precision']:.4f} | {d['roc_auc']:.4f} | "
      f"{p['precision']:.2f} | {a['tpr']:.4f} | {a['fpr']:.4f} |")
EOF
    done
done > "$work/rows.md"

python3 - "$work/rows.md" tests/fixtures/detection/baseline.json <<'EOF'
import json, sys
rows = open(sys.argv[1]).read()
base = json.load(open(sys.argv[2]))
print("| recipe | set | ROC AUC (score) | AP (score) | ROC AUC (distance) | p@100 | flag TPR | flag FPR |")
print("|---|---|---|---|---|---|---|---|")
print(rows, end="")
for s in ["008", "010", "011", "012"]:
    b = base[s]["isolation_forest"]
    print(f"| scikit-learn IsolationForest (200 trees, baseline features) | {s} | {b['roc_auc']:.4f} | "
          f"{b['average_precision']:.4f} | — | {b['precision_at_100']:.2f} | — | — |")
EOF
