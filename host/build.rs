//! Puts the logsieve component and the Fluent Bit filter into the binary
//! (`src/runtime` and `src/commands/fluent_bit.rs` embed them with
//! `include_bytes!` from `OUT_DIR`).
//!
//! # Where they come from (issue #22, docs/install.md)
//!
//! - **In the repository** (`cargo build`, `cargo install --path host`,
//!   `cargo install --git`): built from the sources, always. The plugin is
//!   built for `wasm32-unknown-unknown` and encoded as a WebAssembly component
//!   (no WASI: it imports nothing); the Fluent Bit filter (`fluent-bit/`) is
//!   a core module for `wasm32-wasip1`. Stable cargo has no per-package
//!   targets, so this runs a nested `cargo build` of each into its own
//!   directory inside the target directory (a separate directory avoids
//!   waiting on the outer build's lock), with the `plugin` profile (lto, one
//!   codegen unit) and, for the component, wasm's `simd128`. This needs the
//!   two wasm targets (`scripts/setup.sh`).
//! - **In the packaged crate** (`cargo install logsieve` from a registry, or
//!   from a `.crate` file; recognised by the `Cargo.toml.orig` that `cargo
//!   package` writes): the component and the filter module that
//!   `scripts/package.sh` built from the same commit's sources, just before
//!   packaging, and put in `prebuilt/`. They are not in git (no binary blobs
//!   to regenerate, merge and check on every plugin change); they exist only
//!   in the `.crate`. An install from a registry then needs no wasm target,
//!   no nested cargo and no network beyond the crates themselves, and builds
//!   the same bytes `scripts/test-install.sh` checks against the source
//!   build. The alternatives (blobs committed to git with a reproducibility
//!   check; the wasm built by this script from the dependencies' packaged
//!   sources) are weighed in docs/install.md.
//!
//! Set `LOGSIEVE_PLUGIN_CORE=path/to/core.wasm` to encode a prebuilt core
//! module instead (for environments that cannot run a nested cargo), and
//! `LOGSIEVE_FLUENT_BIT_MODULE=path/to/module.wasm` to use a prebuilt filter.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=LOGSIEVE_PLUGIN_CORE");
    println!("cargo:rerun-if-env-changed=LOGSIEVE_FLUENT_BIT_MODULE");

    let packaged = manifest.join("Cargo.toml.orig").exists();
    let (component, filter) = if packaged {
        prebuilt(&manifest)
    } else {
        from_sources(manifest.parent().unwrap())
    };
    std::fs::write(out.join("logsieve.wasm"), component).unwrap();
    std::fs::write(out.join("logsieve_filter.wasm"), filter).unwrap();
}

/// The packaged crate's `prebuilt/` component and filter module (see the
/// top of this file); an environment variable still overrides each.
fn prebuilt(manifest: &Path) -> (Vec<u8>, Vec<u8>) {
    let dir = manifest.join("prebuilt");
    let read = |name: &str, magic: &[u8], what: &str| -> Vec<u8> {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "this packaged logsieve crate has no {what} ({}: {e}); a logsieve \
                 package is made with scripts/package.sh, which builds it from the \
                 sources and puts it in prebuilt/ before `cargo package` (docs/install.md)",
                path.display()
            )
        });
        assert!(bytes.starts_with(magic), "{} is not a {what}", path.display());
        bytes
    };
    // A component (layer 1, version 0x0d) and a core module (version 1).
    let component = match env::var_os("LOGSIEVE_PLUGIN_CORE") {
        Some(p) => encode(&PathBuf::from(p)),
        None => read("logsieve.wasm", b"\0asm\x0d\0\x01\0", "WebAssembly component"),
    };
    let filter = match env::var_os("LOGSIEVE_FLUENT_BIT_MODULE") {
        Some(p) => read_file(&PathBuf::from(p)),
        None => read("logsieve_filter.wasm", b"\0asm\x01\0\0\0", "Fluent Bit filter module"),
    };
    (component, filter)
}

/// The repository's component and filter module, built from the sources
/// (or from the core modules the environment variables name).
fn from_sources(root: &Path) -> (Vec<u8>, Vec<u8>) {
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
    let core = match env::var_os("LOGSIEVE_PLUGIN_CORE") {
        Some(p) => PathBuf::from(p),
        None => build_core(root),
    };
    let filter = match env::var_os("LOGSIEVE_FLUENT_BIT_MODULE") {
        Some(p) => PathBuf::from(p),
        None => build_fluent_bit(root),
    };
    (encode(&core), read_file(&filter))
}

fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A core module encoded as a component (validated).
fn encode(core: &Path) -> Vec<u8> {
    wit_component::ComponentEncoder::default()
        .module(&read_file(core))
        .and_then(|enc| enc.validate(true).encode())
        .unwrap_or_else(|e| panic!("encoding {} as a component: {e:?}", core.display()))
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

fn build_core(root: &Path) -> PathBuf {
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
