//! The logsieve plugin: feature extraction and centroid scoring.
//!
//! Built for `wasm32-unknown-unknown` and wrapped into a WebAssembly
//! component (by `host/build.rs`), it implements the WIT contract in
//! `wit/logsieve.wit` and imports nothing. Built natively, the same code is
//! an ordinary Rust library: the trainer, the tests and the benchmarks call
//! it directly, and native and wasm outputs are the same bytes.
//!
//! - [`event`]: reading an event's JSON text, only the fields needed.
//! - [`features`]: where features are extracted and encoded.
//! - [`scorer`]: nearest centroid, verdict, explanation, output.
//! - `component` (wasm32 only): the WIT bindings around [`scorer::Scorer`].

pub mod event;
pub mod features;
pub mod scorer;

#[cfg(target_arch = "wasm32")]
mod component;

pub use event::EventError;
pub use features::FeatureValue;
pub use scorer::{ModelInfo, Options, Scorer};
