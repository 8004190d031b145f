#!/usr/bin/env bash
# A fresh npm project in DIR with the package installed from its tarball,
# as a user installs it (`npm install ./logsieve-x.y.z.tgz`).
#
#   packages/node/install.sh DIR path/to/logsieve-x.y.z.tgz
set -euo pipefail
dir=${1:?usage: install.sh DIR TARBALL} tgz=${2:?usage: install.sh DIR TARBALL}
[ -f "$tgz" ] || { echo "node/install.sh: $tgz not found" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
cp "$tgz" "$dir/"
cd "$dir"
echo '{ "name": "logsieve-package-user", "private": true, "type": "module" }' > package.json
npm install --no-audit --no-fund --loglevel=error "./$(basename "$tgz")" >&2
