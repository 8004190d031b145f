#!/usr/bin/env bash
# Installs what building logsieve needs beyond the Rust toolchain itself:
# the wasm32-unknown-unknown target (the plugin is built for it), the
# wasm32-wasip1 target (the Fluent Bit filter, fluent-bit/, is built for
# it), clippy (the test script runs it), and curl (a test scrapes /metrics
# with it).
set -euo pipefail
if ! rustup component list --installed | grep -q '^clippy'; then
    echo "setup: installing clippy (scripts/test.sh runs it)" >&2
    rustup component add clippy
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup: installing the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown
fi
if ! rustup target list --installed | grep -qx wasm32-wasip1; then
    echo "setup: installing the wasm32-wasip1 target (the Fluent Bit filter)" >&2
    rustup target add wasm32-wasip1
fi
# curl: tests/operator.rs scrapes the [api] endpoint with a real client.
if ! command -v curl >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: curl is missing and installing it needs root: sudo apt-get install -y curl" >&2
        exit 1
    fi
    echo "setup: installing Debian's curl" >&2
    apt-get update -qq && apt-get install -y -qq curl >/dev/null
fi
