//! The logsieve plugin: feature extraction and centroid scoring.
//!
//! Built for `wasm32-unknown-unknown` and wrapped into a WebAssembly
//! component (by `host/build.rs`), it implements the WIT contract in
//! `wit/logsieve.wit` and imports nothing. Built natively, the same code is
//! an ordinary Rust library: the trainer, the tests and the benchmarks call
//! it directly, and native and wasm outputs are the same bytes.
//!
//! An event's way through the plugin, module by module:
//!
//! - [`read`]: logs read with the CLI's own readers (no I/O), for hosts
//!   that hand the component raw log bytes.
//! - [`scan`]: reading an event's JSON text, only the fields needed, into
//!   [`event`]'s values.
//! - [`recipe`]: the per-event plan: `[[where]]` filters, [`derive`]d
//!   fields, per-key [`window`]s.
//! - [`features`]: where features are extracted and encoded; [`flow2vec`]
//!   for token models.
//! - [`nearest`]: the nearest centroid, for every model kind.
//! - [`scorer`]: the verdict and its explanation; [`output`] writes the
//!   `logsieve` object every scored event ends with.
//! - [`reason`]: why an event could not be used.
//! - `component` (wasm32 only): the WIT bindings around [`scorer::Scorer`].

pub mod derive;
pub mod event;
pub mod features;
pub mod flow2vec;
pub mod forest;
pub mod nearest;
pub mod output;
pub mod read;
pub mod reason;
pub mod recipe;
pub mod scan;
pub mod scorer;
pub mod window;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
pub mod component;

pub use event::EventError;
pub use features::FeatureValue;
pub use output::{Reasons, Verdict};
pub use reason::Reason;
pub use scorer::{Batch, ExtractBatch, Extracted, Lines, ModelInfo, Options, Outcome, ScoredLine, Scorer, StateStats};
