#!/usr/bin/env bash
# Prepares what the embedding hosts' tests compare against, in one work
# directory (default target/embedding, or $EMBEDDING_WORK):
#
#   logsieve.wasm          the component, from `logsieve component`
#   faulty.wasm            tests/faulty-plugin (the real scorer, plus events
#                          that make it trap or spin), encoded with `jco new`
#   *.model.msgpack        conn-kmeans; conn-tcp-pass (passes non-TCP events
#                          on unscored); kerberos hosts and failures (per-key
#                          windows, emitted at flush); three broken models
#   *.ndjson               the common inputs: the events the CLI's Zeek
#                          reader made, with malformed lines spread through;
#                          utf8-cuts (and .gz): characters and lines that
#                          are not UTF-8 cut by every 16 KiB boundary
#   *.log, *.gz            logs as they come: Zeek TSV, tests/bad-input's
#                          broken logs, NDJSON cut inside a gzip stream
#   out/<case>/cli.*       what `logsieve run` wrote for each case (scored,
#                          errors, summary.json: its counts)
#   cases.tsv, model-errors.tsv   what the hosts' tests run
#
#   pipeline-examples/embedding/test/prepare.sh
#
# Needs cargo (it builds target/release/logsieve, unless LOGSIEVE_BIN names
# a binary), python3, Node 20 with npm (jco encodes the faulty component:
# the Node host's set-up installs it), and ../shared (or $LOGSIEVE_SHARED)
# for a whole day of real conn logs. Takes a few seconds once built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
emb=$(dirname "$here")
repo=$(cd "$emb/../.." && pwd)
die() { echo "prepare.sh: $*" >&2; exit 1; }

W=${EMBEDDING_WORK:-$repo/target/embedding}
SHARED=${LOGSIEVE_SHARED:-$repo/../shared}
day="$SHARED/data/zeek/rita-missing-host/2024-04-20"
conn=$repo/pipeline-examples/conn-kmeans
kerb=$repo/pipeline-examples/kerberos-per-host

command -v python3 >/dev/null || die "python3 not found"
[ -d "$SHARED/data" ] || die "the shared data folder is missing: $SHARED (expected ../shared next to the repository, or set LOGSIEVE_SHARED)"
ls "$day"/conn.*.log.gz >/dev/null 2>&1 || die "$day/conn.*.log.gz not found in the shared data folder"

cd "$repo"
if [ -n "${LOGSIEVE_BIN:-}" ]; then
    bin=$LOGSIEVE_BIN
else
    command -v cargo >/dev/null || die "cargo not found (rustup installs it)"
    scripts/setup.sh
    cargo build --release --locked -p logsieve
    bin=$repo/target/release/logsieve
fi
[ -x "$bin" ] || die "$bin is not an executable"

mkdir -p "$W"
rm -rf "$W/out" "$W/pipelines"
mkdir -p "$W/out" "$W/pipelines"
export LOGSIEVE_CACHE_DIR="$W/cache"

# The component, exactly as other hosts get it.
"$bin" component -o "$W/logsieve.wasm" >/dev/null

# Models.
"$bin" train --quiet --spec "$conn/model.toml" --input "$conn/sample/train/conn.*.log.gz" --out "$W/conn.model.msgpack"
"$bin" train --quiet --spec "$here/conn-tcp-pass.toml" --input "$conn/sample/train/conn.*.log.gz" \
    --out "$W/conn-tcp-pass.model.msgpack"
kerb_files=("$kerb/sample/otrf-apt29-kerberos.log" "$kerb/sample/wrccdc2018-kerberos.json.gz" "$kerb/sample/zat-kerberos.log")
"$bin" train --quiet --spec "$kerb/kerberos-hosts.toml" --format ndjson --input "${kerb_files[@]}" \
    --out "$W/kerberos-hosts.model.msgpack"
"$bin" train --quiet --spec "$kerb/kerberos-failures.toml" --format ndjson --input "${kerb_files[@]}" \
    --out "$W/kerberos-failures.model.msgpack"
# Broken models: cut short; not a model at all; altered after writing.
head -c 1000 "$W/conn.model.msgpack" > "$W/truncated.model.msgpack"
cp "$W/logsieve.wasm" "$W/foreign.model.msgpack"
python3 - "$W/conn.model.msgpack" "$W/corrupted.model.msgpack" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-10] ^= 0x01  # one bit near the end of the content
open(sys.argv[2], "wb").write(bytes(b))
PY

# A pipeline: log file -> logsieve transform -> scored and errors files.
pipeline() { # name component model input batch-size [format]
    local name=$1 component=$2 model=$3 input=$4 batch=$5 format=${6:-ndjson} plugin=""
    mkdir -p "$W/out/$name"
    # The real component is the CLI's own (the bytes of logsieve.wasm);
    # the faulty one is named, with a short deadline for the spinning event.
    if [ "$component" != logsieve.wasm ]; then
        plugin=$(printf 'plugin = "%s"\nbatch_timeout_ms = 300' "$W/$component")
    fi
    cat > "$W/pipelines/$name.toml" <<TOML
[sources.events]
type = "file"
path = "$W/$input"
format = "$format"

[transforms.score]
type = "logsieve"
inputs = ["events"]
model = "$W/$model"
batch_size = $batch
top_features = 3
$plugin

[sinks.scored]
type = "file"
inputs = ["score"]
path = "$W/out/$name/cli.scored.ndjson"

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "$W/out/$name/cli.errors.ndjson"
TOML
}

# The common inputs. Zeek TSV -> the CLI reader's JSON events: score them
# once (top_features 0) and strip the appended `logsieve` key again.
zeek_events() { # name glob
    cat > "$W/pipelines/$1-events.toml" <<TOML
[sources.conn]
type = "file"
path = "$2"
format = "zeek_tsv"

[transforms.score]
type = "logsieve"
inputs = ["conn"]
model = "$W/conn.model.msgpack"
top_features = 0

[sinks.scored]
type = "file"
inputs = ["score"]
path = "$W/$1.zeek-scored.ndjson"
TOML
    "$bin" run --quiet "$W/pipelines/$1-events.toml"
    python3 "$here/make_sample.py" strip "$W/$1.zeek-scored.ndjson" "$W/$1.events.ndjson"
}
zeek_events conn-sample "$conn/sample/score/conn.*.log.gz"
zeek_events conn-day "$day/conn.*.log.gz"
python3 "$here/make_sample.py" mix "$W/conn-sample.ndjson" "$W/conn-sample.events.ndjson" --expected "$W/conn-sample.expected.json"
python3 "$here/make_sample.py" mix "$W/conn-day.ndjson" "$W/conn-day.events.ndjson" --expected "$W/conn-day.expected.json"
python3 "$here/make_sample.py" mix "$W/kerberos.ndjson" "${kerb_files[@]}"

# The faulty component, built as tests/guest_faults.rs builds it (in the
# plugin's own wasm32 target directory, which host/build.rs fills), and
# encoded as a component with jco.
"$emb/node/setup.sh"
(
    unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR CARGO_BUILD_TARGET
    cargo build --locked --quiet -p logsieve-faulty-plugin --lib --target wasm32-unknown-unknown --profile plugin \
        --target-dir "$repo/target/plugin-wasm"
) || die "building tests/faulty-plugin for wasm32-unknown-unknown failed"
"$emb/node/node_modules/.bin/jco" new "$repo/target/plugin-wasm/wasm32-unknown-unknown/plugin/logsieve_faulty_plugin.wasm" \
    -o "$W/faulty.wasm" >/dev/null
python3 "$here/make_sample.py" faults "$W/faults-trap.ndjson" "$W/conn-sample.events.ndjson" trap trap trap
python3 "$here/make_sample.py" faults "$W/faults-spin.ndjson" "$W/conn-sample.events.ndjson" trap spin trap

# Logs as they come (read by the component's reader in the hosts, by the
# CLI's own readers in `logsieve run`): a Zeek TSV file of the sample
# (gzip); Zeek files with unreadable rows, cut while being written, and
# gzip'd and cut in half (tests/bad-input); NDJSON gzip'd and cut mid-line;
# NDJSON with lines over and near the 16 MiB limit (tests/bad-input);
# NDJSON with characters and lines that are not UTF-8 cut by chunk ends.
cp "$conn/sample/score/conn.00:00:00-01:00:00.log.gz" "$W/conn-sample-00.log.gz"
for f in bad-value.conn.log column-count.conn.log truncated.conn.log truncated.conn.log.gz long-lines.ndjson.gz; do
    cp "$repo/tests/bad-input/$f" "$W/bad-$f"
done
python3 - "$W/conn-sample.ndjson" "$W/conn-sample-cut.ndjson.gz" <<'PY'
import gzip, sys
z = gzip.compress(open(sys.argv[1], "rb").read(), mtime=0)
open(sys.argv[2], "wb").write(z[: len(z) // 2])  # the stream ends inside a line
PY
# NDJSON whose every 16 KiB boundary cuts a character or a line that is not
# UTF-8 (the hosts hand the reader text, and bytes for what does not decode),
# as it is and gzip'd.
python3 "$here/make_sample.py" utf8 "$W/utf8-cuts.ndjson" --expected "$W/utf8-cuts.expected.json"
gzip -9 -n -c "$W/utf8-cuts.ndjson" > "$W/utf8-cuts.ndjson.gz"

# Clean NDJSON (every line one JSON object, UTF-8, nothing for the reader to
# refuse) for the packages (packages/node, packages/python), which score
# lines given to them and leave reading logs to the reader: the kerberos mix
# and the non-ASCII sample without their unreadable lines.
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
for src, dst in (("kerberos.ndjson", "kerberos.events.ndjson"), ("utf8-cuts.ndjson", "utf8.events.ndjson")):
    keep = []
    for raw in open(f"{w}/{src}", "rb").read().split(b"\n"):
        try:
            line = raw.decode("utf-8")
            ok = line == line.strip() and not line.startswith("\ufeff") and isinstance(json.loads(line), dict)
        except ValueError:
            ok = False
        if ok:
            keep.append(raw)
    open(f"{w}/{dst}", "wb").write(b"".join(l + b"\n" for l in keep))
PY

# The cases: name, component, model, input, batch size, hosts that run it,
# expected errors (or -), at least N scored lines, at least N error
# records, extra host arguments (comma-separated, or -), input format.
tab() { local IFS=$'\t'; echo "$*"; }
{
    tab conn-sample logsieve.wasm conn.model.msgpack conn-sample.ndjson 1000 node,python conn-sample.expected.json 3000 10 - ndjson
    tab conn-day logsieve.wasm conn.model.msgpack conn-day.ndjson 1000 node,python conn-day.expected.json 39000 10 - ndjson
    tab conn-tcp-pass logsieve.wasm conn-tcp-pass.model.msgpack conn-sample.ndjson 1000 node,python - 2000 5 - ndjson
    tab kerberos-hosts logsieve.wasm kerberos-hosts.model.msgpack kerberos.ndjson 1000 node,python - 5 5 - ndjson
    tab kerberos-failures logsieve.wasm kerberos-failures.model.msgpack kerberos.ndjson 1000 node,python - 3 5 - ndjson
    tab faults-trap faulty.wasm conn.model.msgpack faults-trap.ndjson 25 node,python - 200 50 - ndjson
    tab faults-spin faulty.wasm conn.model.msgpack faults-spin.ndjson 25 python - 200 50 --batch-timeout-ms=300 ndjson
    tab zeek-tsv logsieve.wasm conn.model.msgpack conn-sample-00.log.gz 1000 node,python - 1500 0 - zeek_tsv
    tab zeek-bad-rows logsieve.wasm conn.model.msgpack bad-bad-value.conn.log 5 node,python - 3 3 - auto
    tab zeek-column-count logsieve.wasm conn.model.msgpack bad-column-count.conn.log 1000 node,python - 3 3 - zeek_tsv
    tab zeek-cut logsieve.wasm conn.model.msgpack bad-truncated.conn.log 1000 node,python - 5 1 - auto
    tab zeek-truncated-gzip logsieve.wasm conn.model.msgpack bad-truncated.conn.log.gz 10 node,python - 20 1 - auto
    tab ndjson-truncated-gzip logsieve.wasm conn.model.msgpack conn-sample-cut.ndjson.gz 1000 node,python - 1000 1 - ndjson
    tab ndjson-long-lines logsieve.wasm conn.model.msgpack bad-long-lines.ndjson.gz 1000 node,python - 0 1 - ndjson
    tab utf8-cuts logsieve.wasm conn.model.msgpack utf8-cuts.ndjson 1000 node,python utf8-cuts.expected.json 10000 300 - ndjson
    tab utf8-cuts-gzip logsieve.wasm conn.model.msgpack utf8-cuts.ndjson.gz 1000 node,python utf8-cuts.expected.json 10000 300 - ndjson
    # The packages' cases (clean NDJSON: see above).
    tab pkg-conn-day logsieve.wasm conn.model.msgpack conn-day.events.ndjson 1000 node-package,python-package,node-package-text,python-package-text - 39000 0 - ndjson
    tab pkg-conn-tcp-pass logsieve.wasm conn-tcp-pass.model.msgpack conn-sample.events.ndjson 1000 node-package,python-package,node-package-text,python-package-text - 2000 0 - ndjson
    tab pkg-kerberos-hosts logsieve.wasm kerberos-hosts.model.msgpack kerberos.events.ndjson 1000 node-package,python-package,node-package-text,python-package-text - 5 1 - ndjson
    tab pkg-kerberos-failures logsieve.wasm kerberos-failures.model.msgpack kerberos.events.ndjson 100 node-package,python-package,node-package-text,python-package-text - 3 1 - ndjson
    tab pkg-utf8 logsieve.wasm conn.model.msgpack utf8.events.ndjson 1000 node-package,python-package,node-package-text,python-package-text - 10000 0 - ndjson
} > "$W/cases.tsv"
while IFS=$'\t' read -r name component model input batch _ _ _ _ _ format; do
    pipeline "$name" "$component" "$model" "$input" "$batch" "$format"
    "$bin" run --quiet "$W/pipelines/$name.toml" --summary-json "$W/out/$name/cli.summary.json" \
        || die "logsieve run $W/pipelines/$name.toml failed"
done < "$W/cases.tsv"

# Refused models: the CLI's words, for the hosts to match.
: > "$W/model-errors.tsv"
for kind in truncated foreign corrupted; do
    pipeline "model-$kind" logsieve.wasm "$kind.model.msgpack" conn-sample.ndjson 1000
    status=0
    "$bin" run --quiet "$W/pipelines/model-$kind.toml" 2> "$W/out/model-$kind/cli.stderr" || status=$?
    echo "$status" > "$W/out/model-$kind/cli.status"
    tab "model-$kind" "$kind.model.msgpack" >> "$W/model-errors.tsv"
done
echo "prepare.sh: ready in $W: $(wc -l < "$W/cases.tsv") cases, $(wc -l < "$W/model-errors.tsv") refused models" >&2
