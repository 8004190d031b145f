#!/usr/bin/env bash
# Browser test of `logsieve report`: train the conn-kmeans example with a
# sweep over k (--n-clusters 2..8), score its sample through the example's
# pipeline, write the report, and check it in Debian's headless Chromium
# (tests/report/report.test.cjs, with playwright-core as pinned by
# tests/report/package-lock.json). Saves a screenshot to
# target/report-test/report.png.
#
# Installs what it needs the first time: the `chromium` Debian package
# (needs root, as on this project's machines) and playwright-core (npm ci,
# under target/report-test/node). Never skips: whatever is missing or wrong
# fails with a message and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/report-test
EX=$ROOT/pipeline-examples/conn-kmeans
KS_FROM=2
KS_TO=8

fail() {
    echo "test-report: error: $*" >&2
    exit 1
}

# 1. Chromium, from Debian (Playwright's own browser download cannot work here).
if [ ! -x /usr/bin/chromium ]; then
    [ "$(id -u)" = 0 ] || fail "/usr/bin/chromium is missing and installing it needs root: sudo apt-get install -y chromium"
    echo "test-report: installing Debian's chromium" >&2
    apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || fail "apt-get install chromium failed"
fi
/usr/bin/chromium --version >/dev/null 2>&1 || fail "/usr/bin/chromium does not run"
command -v node >/dev/null || fail "node is not installed (the test runs on Node.js >= 20)"
command -v npm >/dev/null || fail "npm is not installed"

# 2. playwright-core, exactly as locked; reinstalled only when the lock changes.
mkdir -p "$OUT/node"
if ! cmp -s tests/report/package-lock.json "$OUT/node/package-lock.json" ||
    [ ! -f "$OUT/node/node_modules/playwright-core/package.json" ]; then
    echo "test-report: installing playwright-core (npm ci)" >&2
    cp tests/report/package.json tests/report/package-lock.json "$OUT/node/"
    (cd "$OUT/node" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci of tests/report/package-lock.json failed"
fi

# 3. The report, from the real sample.
cargo build --release --locked -p logsieve
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/logsieve"
rm -rf "$OUT/run"
mkdir -p "$OUT/run"
"$BIN" train --spec "$EX/model.toml" --input "$EX/sample/train/conn.*.log.gz" \
    --out "$OUT/run/conn.model.msgpack" --n-clusters "$KS_FROM..$KS_TO"
# The example's own pipeline, with its sample paths made absolute so the
# model and the output stay under target/ (the pipeline reads the model
# next to the pipeline file and writes out/ there).
sed -e "s|\"sample/|\"$EX/sample/|" "$EX/pipeline.toml" >"$OUT/run/pipeline.toml"
grep -q "$EX/sample/score/" "$OUT/run/pipeline.toml" || fail "could not point the pipeline at the sample"
"$BIN" run "$OUT/run/pipeline.toml" --quiet
[ -s "$OUT/run/out/scored.ndjson" ] || fail "the pipeline wrote no scored events"
"$BIN" report --model "$OUT/run/conn.model.msgpack" --scored "$OUT/run/out/scored.ndjson" -o "$OUT/report.html"
! grep -Eq '(src|href)="(https?:)?//' "$OUT/report.html" || fail "the report refers to something on the network"

# 4. The browser test.
REPORT_HTML=$OUT/report.html REPORT_MODEL=$OUT/run/conn.model.msgpack REPORT_BIN=$BIN \
    REPORT_KS=$((KS_TO - KS_FROM + 1)) REPORT_SHOT=$OUT/report.png NODE_PATH=$OUT/node/node_modules \
    node --test --test-reporter=spec tests/report/report.test.cjs || fail "the browser test failed (see above)"
[ -s "$OUT/report.png" ] || fail "no screenshot was written"
echo "test-report: ok; screenshot $OUT/report.png"
