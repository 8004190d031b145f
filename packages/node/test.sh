#!/usr/bin/env bash
# Test of the npm package: builds the tarball (build.sh), installs it with
# `npm install ./logsieve-x.y.z.tgz` into a fresh npm project under the
# target directory, and scores the package cases of
# target/embedding/cases.tsv through `Scorer` as the README shows it
# (test/score-lines.mjs), compared byte for byte with `logsieve run`
# (pipeline-examples/embedding/test/lib.sh); the refused models must give
# the CLI's words. The TypeScript declarations are checked to be in the
# installed package.
#
#   packages/node/test.sh path/to/logsieve
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$repo/pipeline-examples/embedding/test/lib.sh"
embedding_work
bin=${1:?usage: test.sh path/to/logsieve}

tgz=$("$here/build.sh" "$bin")
proj=${CARGO_TARGET_DIR:-$repo/target}/packages/test-npm-project
"$here/install.sh" "$proj" "$tgz"
for f in index.d.ts gen/logsieve.d.ts gen/interfaces/logsieve-transform-scoring.d.ts gen/logsieve.core.wasm; do
    [ -f "$proj/node_modules/logsieve/$f" ] || { echo "test: FAIL node-package: $f is not in the installed package" >&2; exit 1; }
done
cp "$here/test/score-lines.mjs" "$here/test/types.ts" "$proj/"
# The README's usage type-checks against the installed declarations (tsc
# from jco's toolchain, installed by pipeline-examples/embedding/node/setup.sh).
tsc=$repo/pipeline-examples/embedding/node/node_modules/.bin/tsc
[ -x "$tsc" ] || { echo "test: FAIL node-package: $tsc not found" >&2; exit 1; }
(cd "$proj" && "$tsc" --noEmit --strict --target es2022 --module nodenext --moduleResolution nodenext types.ts) \
    || { echo "test: FAIL node-package: test/types.ts does not type-check against the package's declarations" >&2; exit 1; }
echo "node-package: test/types.ts type-checks against the installed index.d.ts and jco's declarations"
echo "node-package: $(node -p 'require(process.argv[1]).version' "$proj/node_modules/logsieve/package.json") in $proj"

host_cmd() { # component -> CMD
    CMD=(node "$proj/score-lines.mjs")
}
status=0
run_cases node-package || status=1
# The same cases through Scorer.scoreText (NDJSON text in and out).
host_cmd() { # component -> CMD
    CMD=(node "$proj/score-lines.mjs" --api text)
}
run_cases node-package-text || status=1
# scoreText against score on what the cases do not hold (blank lines, CRLF, ...).
cp "$here/test/text-api.mjs" "$proj/"
node "$proj/text-api.mjs" "$W/conn.model.msgpack" || { echo "test: FAIL node-package-text: text-api.mjs" >&2; status=1; }
exit $status
