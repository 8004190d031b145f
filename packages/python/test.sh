#!/usr/bin/env bash
# Test of the Python package: builds the wheel (build.sh), installs it with
# pip into a fresh venv under the target directory, and scores the package
# cases of target/embedding/cases.tsv through `logsieve.Scorer` as the README
# shows it (test/score_lines.py), compared byte for byte with `logsieve run`
# (pipeline-examples/embedding/test/lib.sh); the refused models must give the
# CLI's words.
#
#   packages/python/test.sh path/to/logsieve
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
source "$repo/pipeline-examples/embedding/test/lib.sh"
embedding_work
bin=${1:?usage: test.sh path/to/logsieve}

whl=$("$here/build.sh" "$bin")
venv=${CARGO_TARGET_DIR:-$repo/target}/packages/test-venv-python
"$here/install.sh" "$venv" "$whl"
# The test host runs from a folder of its own, so `import logsieve` can only find the wheel's.
cp "$here/test/score_lines.py" "$venv/score_lines.py"
echo "python-package: $("$venv/bin/python" -c 'import logsieve; print(logsieve.__version__, logsieve.component_path())')"

host_cmd() { # component -> CMD
    CMD=("$venv/bin/python" "$venv/score_lines.py")
}
status=0
run_cases python-package || status=1
# The same cases through Scorer.score_text (NDJSON text in and out).
host_cmd() { # component -> CMD
    CMD=("$venv/bin/python" "$venv/score_lines.py" --api text)
}
run_cases python-package-text || status=1
# score_text against score on what the cases do not hold (blank lines, CRLF, ...).
cp "$here/test/text_api.py" "$venv/text_api.py"
"$venv/bin/python" "$venv/text_api.py" "$W/conn.model.msgpack" || { echo "test: FAIL python-package-text: text_api.py" >&2; status=1; }
exit $status
