#!/usr/bin/env bash
# Installs what building logsieve needs beyond the Rust toolchain itself:
# the wasm32-unknown-unknown target (the plugin is built for it).
set -euo pipefail
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup: installing the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown
fi
