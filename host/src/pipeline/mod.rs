//! Vector-style pipelines: sources → logsieve transforms → sinks.
//!
//! - [`config`]: the pipeline file ([`interpolate`]: its `${VAR}`s);
//! - [`sources`]: where events come from (files, stdin, sockets, HTTP), each
//!   on its own thread;
//! - [`run`]: taking the sources' events and driving the transforms;
//! - [`transform`]: one component instance scoring batches (reload, faults);
//! - [`sinks`]: where records go;
//! - [`summary`]: the counts, the accounting equations, the summary;
//! - [`api`]: `/metrics` and `/health` while a run goes on.

pub mod api;
pub mod config;
pub mod interpolate;
pub mod run;
pub mod sinks;
pub mod sources;
pub mod summary;
pub mod transform;

pub use config::PipelineConfig;
pub use run::run;
pub use summary::Summary;
