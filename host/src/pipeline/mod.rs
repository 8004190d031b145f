//! Vector-style pipelines: sources → logsieve transforms → sinks.

pub mod config;
pub mod run;

pub use config::PipelineConfig;
pub use run::{Summary, run};
