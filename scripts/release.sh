#!/usr/bin/env bash
# A release of logsieve for this machine's platform, in one tarball:
# the release binary without its debug line tables and symbols (strip), its
# manual pages (`logsieve man`) and shell completions (`logsieve
# completions`), and the README. Prints the binary's size before and after.
#
# Usage: scripts/release.sh            → target/dist/logsieve-<version>-<host triple>.tar.gz
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/setup.sh
target=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release --locked -p logsieve >&2
version=$("$target/release/logsieve" --version | cut -d' ' -f2)
triple=$(rustc -vV | sed -n 's/^host: //p')
name=logsieve-$version-$triple
out=$target/dist/$name
rm -rf "$out" "$out.tar.gz"
mkdir -p "$out/man/man1" "$out/completions"
strip --strip-all -o "$out/logsieve" "$target/release/logsieve"
"$out/logsieve" --version >/dev/null
"$out/logsieve" man -o "$out/man/man1" 2>/dev/null
"$out/logsieve" completions bash >"$out/completions/logsieve.bash"
"$out/logsieve" completions zsh >"$out/completions/_logsieve"
"$out/logsieve" completions fish >"$out/completions/logsieve.fish"
cp README.md "$out/"
tar -czf "$out.tar.gz" -C "$target/dist" "$name"
mib() { echo "$(($(stat -c %s "$1") / 1048576)) MiB"; }
echo "release: $out.tar.gz ($(mib "$out.tar.gz")); the binary: $(mib "$target/release/logsieve") with line tables, $(mib "$out/logsieve") stripped" >&2
