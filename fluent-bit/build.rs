//! For the wasm32-wasip1 module: export wasi-libc's `malloc` and `free`
//! (which Rust's allocator uses too). Fluent Bit's runtime (WAMR) copies the
//! tag and the record into the module with them when a module exports them
//! (`wasm_runtime_module_dup_data`); otherwise it carves a small heap of its
//! own (`Wasm_Heap_Size`, 8 KiB by default) out of the module's memory.

fn main() {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "wasm32" && os == "wasi" {
        println!("cargo::rustc-cdylib-link-arg=--export=malloc");
        println!("cargo::rustc-cdylib-link-arg=--export=free");
    }
}
