#!/usr/bin/env bash
# Installs logsieve the way a user installs it from a registry, and checks
# the installed binary (issue #22, docs/install.md):
#
# 1. scripts/package.sh packages the crates (logsieve with the component
#    and the Fluent Bit filter in prebuilt/, and the five libraries);
# 2. the .crate files are unpacked into a temporary folder, and the five
#    libraries patched in for crates.io (where a registry would serve
#    them; the packaged Cargo.lock is checked to change only their source);
# 3. `cargo install --locked --offline --path <unpacked logsieve crate>`
#    (its packaged files, normalized manifest and Cargo.lock, with the
#    component from prebuilt/; not the source tree) into a fresh temporary
#    prefix;
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
# The two cdylib crates' libraries have no hash in their file names
# (target/release/deps/liblogsieve_plugin.rlib), so the packaged build
# writes them over the source build's; cargo would then take them for its
# own, fresh, and the next build of the workspace links the packaged
# plugin against the workspace's other crates (two versions of
# logsieve-artifact: type errors). Removing them makes that build compile
# them again.
cleanup() {
    rm -rf "$work"
    rm -f "$CARGO_TARGET_DIR"/release/deps/liblogsieve_plugin.{rlib,so} \
        "$CARGO_TARGET_DIR"/release/deps/liblogsieve_fluent_bit.{rlib,so}
}
trap cleanup EXIT
fail() { echo "test-install: FAILED: $*" >&2; exit 1; }
crates_dir=$work/crates
mkdir -p "$crates_dir"
for crate in $crates; do
    tar -xzf "$crate" -C "$crates_dir"
done
package=$crates_dir/logsieve-$version
[ -f "$package/Cargo.toml.orig" ] || fail "$package is not a packaged crate"

# The five libraries resolve to their packaged sources ([patch], as a
# registry would serve them). The packaged Cargo.lock names them as
# crates.io packages with checksums; with the patch they lose exactly those
# two lines each, and nothing else may change (then --locked holds).
patches=()
for name in logsieve-artifact logsieve-readers logsieve-plugin logsieve-train logsieve-fluent-bit; do
    patches+=(--config "patch.crates-io.$name.path=\"$crates_dir/$name-$version\"")
done
cp "$package/Cargo.lock" "$work/Cargo.lock.packaged"
# `cargo metadata` reads the manifest of every package in the lock file,
# those of other platforms too (Windows-only crates a build here never
# downloads): fetch them first, or on a machine whose cargo cache has only
# what builds used, the offline step below fails.
cargo fetch --locked >&2
(cd "$package" && cargo metadata --offline --format-version 1 "${patches[@]}" >/dev/null) \
    || fail "cargo metadata of the packaged crate with the libraries patched in failed (its error is above)"

changes=$(diff "$work/Cargo.lock.packaged" "$package/Cargo.lock" | grep '^[<>]' || true)
[ "$(echo "$changes" | grep -c '^< \(source = "registry+\|checksum = \)')" = 10 ] \
    && [ "$(echo "$changes" | wc -l)" = 10 ] \
    || fail "patching the packaged libraries changed more of Cargo.lock than their sources: $changes"

prefix=$work/prefix
install_start=$SECONDS
(
    cd "$work"
    cargo install --locked --offline --root "$prefix" "${patches[@]}" \
        --config 'profile.release.debug="line-tables-only"' \
        --path "$package"
)
echo "test-install: cargo install took $((SECONDS - install_start)) s" >&2

bin=$prefix/bin/logsieve
[ -x "$bin" ] || fail "no $bin"
grep -qF "\"logsieve $version (path+file://$package)\"" "$prefix/.crates.toml" \
    || fail "$prefix does not record logsieve $version as installed from the packaged crate"
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
