//! Builds the plugin for `wasm32-unknown-unknown` and encodes it as a
//! WebAssembly component (no WASI: it imports nothing), which `src/runtime`
//! embeds with `include_bytes!`.
//!
//! Stable cargo has no per-package targets, so this runs a nested
//! `cargo build` of the plugin into its own directory inside the target
//! directory (a separate directory avoids waiting on the outer build's lock),
//! with the `plugin` profile (lto, one codegen unit) and wasm's `simd128`.
//!
//! Set `LOGSIEVE_PLUGIN_CORE=path/to/core.wasm` to encode a prebuilt core
//! module instead (for environments that cannot run a nested cargo).
//!
//! A second nested build, into the same directory, builds the Fluent Bit
//! filter (`fluent-bit/`, a core module for `wasm32-wasip1`), which
//! `logsieve fluent-bit` writes out with a model path patched in
//! (`LOGSIEVE_FLUENT_BIT_MODULE=path/to/module.wasm` uses a prebuilt one).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    for p in [
        "plugin/src",
        "plugin/Cargo.toml",
        "artifact/src",
        "artifact/Cargo.toml",
        "readers/src",
        "readers/Cargo.toml",
        "fluent-bit/src",
        "fluent-bit/Cargo.toml",
        "fluent-bit/build.rs",
        "wit",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo:rerun-if-env-changed=LOGSIEVE_PLUGIN_CORE");
    println!("cargo:rerun-if-env-changed=LOGSIEVE_FLUENT_BIT_MODULE");

    let core = match env::var_os("LOGSIEVE_PLUGIN_CORE") {
        Some(p) => PathBuf::from(p),
        None => build_core(&root, &out),
    };
    let module = std::fs::read(&core).unwrap_or_else(|e| panic!("reading {}: {e}", core.display()));
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|enc| enc.validate(true).encode())
        .unwrap_or_else(|e| panic!("encoding {} as a component: {e:?}", core.display()));
    std::fs::write(out.join("logsieve.wasm"), component).unwrap();

    let filter = match env::var_os("LOGSIEVE_FLUENT_BIT_MODULE") {
        Some(p) => PathBuf::from(p),
        None => build_fluent_bit(&root),
    };
    std::fs::copy(&filter, out.join("logsieve_filter.wasm"))
        .unwrap_or_else(|e| panic!("copying {}: {e}", filter.display()));
}

/// The shared target directory: `CARGO_TARGET_DIR`, else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

/// A nested `cargo build` of one package's library for a wasm target, with
/// the `plugin` profile, into `<target>/plugin-wasm`.
fn nested_build(root: &Path, package: &str, target: &str) -> Command {
    let dir = target_dir(root).join("plugin-wasm");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "-p", package, "--lib", "--target", target, "--profile", "plugin"])
        .arg("--target-dir")
        .arg(&dir);
    for var in
        ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"]
    {
        cmd.env_remove(var);
    }
    cmd
}

/// The Fluent Bit filter module: `fluent-bit/` for `wasm32-wasip1`, no
/// `simd128` (Fluent Bit's runtime, WAMR, may be built without SIMD).
fn build_fluent_bit(root: &Path) -> PathBuf {
    let output = nested_build(root, "logsieve-fluent-bit", "wasm32-wasip1")
        .output()
        .expect("running cargo to build the Fluent Bit filter");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("E0463") || stderr.contains("target may not be installed") {
            "\n\nThe wasm32-wasip1 target is missing: run `scripts/setup.sh` \
             (or `rustup target add wasm32-wasip1`)."
        } else {
            ""
        };
        panic!("building the Fluent Bit filter for wasm32-wasip1 failed:\n{stderr}{hint}");
    }
    target_dir(root).join("plugin-wasm/wasm32-wasip1/plugin/logsieve_fluent_bit.wasm")
}

fn build_core(root: &Path, _out: &Path) -> PathBuf {
    let dir = target_dir(root).join("plugin-wasm");
    let mut cmd = nested_build(root, "logsieve-plugin", "wasm32-unknown-unknown");
    // 128-bit SIMD (wasm's `simd128`, in every component host: wasmtime,
    // V8 for jco, wasmtime-py): the event scanner crosses strings, digit
    // runs and keys 16 bytes at a time with it (plugin/src/scan.rs).
    cmd.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", "-C target-feature=+simd128");
    let output = cmd.output().expect("running cargo to build the plugin");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("E0463") || stderr.contains("target may not be installed") {
            "\n\nThe wasm32-unknown-unknown target is missing: run `scripts/setup.sh` \
             (or `rustup target add wasm32-unknown-unknown`)."
        } else {
            ""
        };
        panic!("building the plugin for wasm32-unknown-unknown failed:\n{stderr}{hint}");
    }
    dir.join("wasm32-unknown-unknown/plugin/logsieve_plugin.wasm")
}
