#!/usr/bin/env bash
# Builds the npm package's tarball, with the component inside.
#
#   packages/node/build.sh path/to/logsieve     # prints the tarball's path
#
# Writes the component with `logsieve component -o`, transpiles it with jco
# (the pinned jco of pipeline-examples/embedding/node, installed by its
# setup.sh) into gen/ of a staged copy of this folder
# (target/packages/node-src): ES module, core wasm, and the TypeScript
# declarations jco generates from the WIT; then `npm pack` writes
# target/packages/dist/logsieve-<version>.tgz. The package has no
# dependencies: the component imports nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "node/build.sh: $*" >&2; exit 1; }
bin=${1:-}
[ -n "$bin" ] && [ -x "$bin" ] || die "usage: build.sh path/to/logsieve (the built CLI, which writes the component)"
T=${CARGO_TARGET_DIR:-$repo/target}/packages
"$repo/pipeline-examples/embedding/node/setup.sh" >&2
jco=$repo/pipeline-examples/embedding/node/node_modules/.bin/jco

src=$T/node-src
rm -rf "$src"
mkdir -p "$src" "$T/dist"
cp "$here/package.json" "$here/index.js" "$here/index.d.ts" "$here/README.md" "$src/"
"$bin" component -o "$src/logsieve.wasm" >/dev/null
# Synchronous instantiation: a new instance after a trap needs no await.
"$jco" transpile "$src/logsieve.wasm" --instantiation sync --quiet --name logsieve -o "$src/gen" >&2
node "$here/tools/fast-strings.cjs" "$src/gen/logsieve.js" || die "patching the generated bindings failed"
rm "$src/logsieve.wasm"
version=$(node -p 'require(process.argv[1]).version' "$here/package.json")
rm -f "$T/dist/logsieve-$version.tgz"
(cd "$src" && npm pack --silent --pack-destination "$T/dist" >/dev/null) || die "npm pack failed"
tgz=$T/dist/logsieve-$version.tgz
[ -f "$tgz" ] || die "no tarball at $tgz"
echo "$tgz"
