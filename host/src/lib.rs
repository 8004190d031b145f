//! The logsieve host: the CLI's commands as a library.
//!
//! - [`runtime`]: wasmtime hosting of the component (embedded, cached).
//! - [`pipeline`]: sources → logsieve transforms → sinks, from TOML.
//! - [`commands`]: `train`, `evaluate`, `inspect`, `report`, `similar`,
//!   `assemble`.
//!
//! Where things live elsewhere: the WIT contract in `wit/`, feature
//! extraction and scoring in `plugin/`, the artifact format in `artifact/`,
//! model fitting in `train/`, log readers in `readers/`.

pub mod commands;
pub mod model_file;
pub mod pipeline;
pub mod runtime;
