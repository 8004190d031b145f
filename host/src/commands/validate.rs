//! `logsieve validate PIPELINE`: everything `run` checks before it reads an
//! event, reported at once, with no output touched.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::pipeline::PipelineConfig;
use crate::pipeline::config::{SocketMode, SourceConfig};
use crate::pipeline::transform;

/// Check a pipeline file: its variables, syntax, keys, topology and paths
/// ([`PipelineConfig::read`]), each file source's globs, each transform's
/// component and model (loaded and refused or accepted as `run` would),
/// followed sources' checkpoints, and that the `[api]` address and the
/// network sources' TCP addresses can be listened on. Status 0 and a one-line description when there is no problem;
/// status 2 and every problem otherwise.
pub fn validate(path: &Path) -> Result<ExitCode> {
    let (cfg, mut errs) = PipelineConfig::read(path)?;
    let mut files = 0;
    for (sid, source) in &cfg.sources {
        match source {
            SourceConfig::File { path, follow: false, .. } => match logsieve_readers::expand_inputs(&path.to_vec()) {
                Ok(found) => files += found.len(),
                Err(e) => errs.push(format!("sources.{sid}: {e}")),
            },
            SourceConfig::File { follow: true, data_dir: Some(dir), .. } => {
                let cp = crate::pipeline::run::checkpoint_path(dir, sid);
                if let Err(e) = logsieve_readers::Positions::load(&cp) {
                    errs.push(format!("sources.{sid}: its checkpoints: {e}"));
                }
            }
            SourceConfig::Socket { mode: SocketMode::Tcp, address: Some(a), .. }
            | SourceConfig::HttpServer { address: a, .. } => {
                if let Err(e) = std::net::TcpListener::bind(a.as_str()) {
                    errs.push(format!("sources.{sid}: cannot listen on {a}: {e}"));
                }
            }
            _ => {}
        }
    }
    errs.extend(transform::check_all(&cfg));
    if let Some(api) = &cfg.api
        && let Ok(addr) = api.socket_addr()
        && let Err(e) = std::net::TcpListener::bind(addr)
    {
        errs.push(format!("[api]: cannot listen on {addr}: {e}"));
    }
    if !errs.is_empty() {
        eprintln!("{} has {} problem(s):\n  - {}", path.display(), errs.len(), errs.join("\n  - "));
        return Ok(ExitCode::from(2));
    }
    println!(
        "{}: valid ({} source(s) reading {files} file(s) now, {} transform(s) with their models loaded, {} sink(s))",
        path.display(),
        cfg.sources.len(),
        cfg.transforms.len(),
        cfg.sinks.len()
    );
    Ok(ExitCode::SUCCESS)
}
