//! Helpers shared by the parity tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `shared/reference`: `$LOGSIEVE_SHARED/reference`, else
/// `<workspace>/../shared/reference`. Panics with a clear message when it
/// is missing: these tests never skip.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("LOGSIEVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")));
    let refdir = dir.join("reference");
    if !refdir.is_dir() {
        panic!(
            "the parity tests need the shared reference data: {} does not exist. \
             Set LOGSIEVE_SHARED to the directory holding reference/ (default: <workspace>/../shared).",
            refdir.display()
        );
    }
    refdir
}
