#!/usr/bin/env bash
# Packages logsieve's crates for a registry (docs/install.md): builds the CLI
# from the sources, puts the component it embeds and the Fluent Bit filter
# module into host/prebuilt/ (not in git; the packaged `logsieve` crate's
# build.rs embeds them instead of building them, so an install needs no wasm
# target), then `cargo package`s every published crate: logsieve-artifact,
# -readers, -plugin, -train, -fluent-bit and logsieve.
#
# Usage: scripts/package.sh [cargo package options, e.g. --allow-dirty]
#   → <target>/package/<name>-<version>.crate for each crate, their paths
#     on stdout
# `cargo publish --workspace --exclude logsieve-faulty-plugin --locked`
# right after it publishes the same (host/prebuilt/ is still there).
# scripts/test-install.sh installs the packaged crates and checks them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/setup.sh >&2
if [ -n "${LOGSIEVE_PLUGIN_CORE:-}${LOGSIEVE_FLUENT_BIT_MODULE:-}" ]; then
    echo "package: unset LOGSIEVE_PLUGIN_CORE and LOGSIEVE_FLUENT_BIT_MODULE: a package embeds what its sources build" >&2
    exit 1
fi
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release --locked -p logsieve >&2
rm -rf host/prebuilt
mkdir -p host/prebuilt
# The component exactly as the binary embeds it, and the filter module
# host/build.rs embedded (the file it copied into the binary).
"$target/release/logsieve" component -o host/prebuilt/logsieve.wasm >&2
cp "$target/plugin-wasm/wasm32-wasip1/plugin/logsieve_fluent_bit.wasm" host/prebuilt/logsieve_filter.wasm
# --no-verify: cargo's verification would build every crate again in a
# directory of its own (a cold build); scripts/test-install.sh installs the
# packaged crates instead, with the target directory's compiled dependencies.
cargo package --locked --workspace --exclude logsieve-faulty-plugin --no-verify "$@" >&2
version=$(cargo pkgid --locked -p logsieve | sed 's/.*[#@]//')
for name in logsieve-artifact logsieve-readers logsieve-plugin logsieve-train logsieve-fluent-bit logsieve; do
    echo "$target/package/$name-$version.crate"
done
