#!/usr/bin/env bash
# Installs logsieve the way a user installs it from a registry, and checks
# the installed binary (issue #22, docs/install.md):
#
# 1. scripts/package.sh packages the crates (logsieve with the component
#    and the Fluent Bit filter in prebuilt/, and the five libraries);
# 2. a registry is made of them: crates.io replaced by a directory source
#    holding the packaged crates and, vendored from the lockfile, every
#    crates.io dependency (copied from cargo's cache; crates for other
#    platforms are downloaded the first time);
# 3. `cargo install --locked --offline logsieve@<version>` from that
#    registry (the packaged crate and its Cargo.lock, not the source tree)
#    into a fresh temporary prefix;
# 4. `<prefix>/bin/logsieve --version` must print the workspace's version,
#    the component and the filter module it embeds must be the ones the
#    source build embeds, and scripts/demo.sh must run with it.
#
# The install reuses the target directory's compiled dependencies
# (CARGO_TARGET_DIR, the same release profile: the workspace's
# `debug = "line-tables-only"`, which a packaged crate does not carry, is
# passed with --config), so only the six logsieve crates are compiled.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
source_bin=$CARGO_TARGET_DIR/release/logsieve
start=$SECONDS

# --allow-dirty: what is checked is the working tree (CI's is clean).
crates=$(scripts/package.sh --allow-dirty)
version=$(cargo pkgid --locked -p logsieve | sed 's/.*[#@]//')

work=$(mktemp -d "${TMPDIR:-/tmp}/logsieve-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
registry=$work/registry
cargo vendor --locked --versioned-dirs --quiet "$registry" >/dev/null
for crate in $crates; do
    tar -xzf "$crate" -C "$registry"
    dir=$registry/$(basename "$crate" .crate)
    sum=$(sha256sum "$crate" | cut -d' ' -f1)
    printf '{"files":{},"package":"%s"}\n' "$sum" >"$dir/.cargo-checksum.json"
done

prefix=$work/prefix
install_start=$SECONDS
(
    cd "$work"
    cargo install --locked --offline --root "$prefix" \
        --config 'source.crates-io.replace-with="packaged"' \
        --config "source.packaged.directory=\"$registry\"" \
        --config 'profile.release.debug="line-tables-only"' \
        "logsieve@$version"
)
echo "test-install: cargo install took $((SECONDS - install_start)) s" >&2

fail() { echo "test-install: FAILED: $*" >&2; exit 1; }
bin=$prefix/bin/logsieve
[ -x "$bin" ] || fail "no $bin"
grep -qF "\"logsieve $version (registry+https://github.com/rust-lang/crates.io-index)\"" "$prefix/.crates.toml" \
    || fail "$prefix does not record logsieve $version as installed from the registry"
got=$("$bin" --version)
[ "$got" = "logsieve $version" ] || fail "--version printed '$got', expected 'logsieve $version'"

# The embedded component and filter module are the source build's.
"$bin" component -o "$work/installed.wasm" >/dev/null 2>&1
"$source_bin" component -o "$work/source.wasm" >/dev/null 2>&1
cmp -s "$work/installed.wasm" "$work/source.wasm" || fail "the installed binary's component differs from the source build's"

LOGSIEVE_BIN=$bin scripts/demo.sh

model=pipeline-examples/conn-kmeans/conn.model.msgpack
"$bin" fluent-bit --model "$model" -o "$work/installed_filter.wasm" >/dev/null 2>&1
"$source_bin" fluent-bit --model "$model" -o "$work/source_filter.wasm" >/dev/null 2>&1
cmp -s "$work/installed_filter.wasm" "$work/source_filter.wasm" \
    || fail "the installed binary's Fluent Bit filter differs from the source build's"

echo "test-install: ok: logsieve $version installed from the packaged crates in $((SECONDS - start)) s" >&2
