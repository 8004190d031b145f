#!/usr/bin/env bash
# Set-up of the Node host: installs its packages (jco, pinned in
# package-lock.json) with `npm ci`, and, given a component, transpiles it
# with jco into ./gen, or OUT_DIR (the bindings score.mjs imports: --gen).
#
#   pipeline-examples/embedding/node/setup.sh [path/to/logsieve.wasm [OUT_DIR]]
#
# Idempotent: `npm ci` runs only when node_modules was not installed from
# this package-lock.json; jco runs only when the component (or jco) changed.
set -euo pipefail
# Paths as the caller gave them, before changing directory.
wasm=${1:+$(realpath -m "$1")}
out=${2:+$(realpath -m "$2")}
cd "$(dirname "$0")"
die() { echo "node/setup.sh: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found (Node 20 or later is needed)"
command -v npm >/dev/null || die "npm not found (it comes with Node)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "Node $(node --version) is too old: 20 or later is needed"

stamp=node_modules/.logsieve-installed
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -x node_modules/.bin/jco ] && [ "$(cat "$stamp" 2>/dev/null)" = "$lock" ]; then
    :
else
    echo "node/setup.sh: npm ci (jco $(node -p 'require("./package.json").devDependencies["@bytecodealliance/jco"]'))" >&2
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock" > "$stamp"
fi

if [ -n "$wasm" ]; then
    out=${out:-$PWD/gen}
    [ -f "$wasm" ] || die "$wasm not found (write it with: logsieve component -o $wasm)"
    want="$(sha256sum "$wasm" | cut -d' ' -f1) $lock"
    if [ -f "$out/logsieve.js" ] && [ "$(cat "$out/.source" 2>/dev/null)" = "$want" ]; then
        :
    else
        echo "node/setup.sh: jco transpile $wasm -> $out" >&2
        rm -rf "$out"
        node_modules/.bin/jco transpile "$wasm" --instantiation async --no-typescript --quiet --name logsieve -o "$out"
        # jco writes ES modules: a package.json saying so lets them live anywhere.
        echo '{ "type": "module" }' > "$out/package.json"
        echo "$want" > "$out/.source"
    fi
fi
