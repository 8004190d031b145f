//! Running a pipeline: read sources, score in the component, write sinks,
//! and account for every event.
//!
//! Each source is read in order, in chunks; every logsieve transform that
//! takes the source scores each chunk ([`super::transform`] says what
//! becomes of each event). Sinks are flushed after each chunk, so a live
//! stream's output is not held back once a chunk is read. At the end every
//! transform is flushed (open windows emit) and the accounting equations of
//! [`Summary::check`] are checked by the caller.

use std::time::Instant;

use anyhow::{Context, Result};
use logsieve_readers::{Item, Reader};

use super::config::{PipelineConfig, SourceConfig};
use super::sinks::{self, Outputs};
use super::summary::{Summary, peak_rss_mib};
use super::transform::{self, MAX_BATCH_BYTES};

/// Run a pipeline to the end of its inputs.
pub fn run(cfg: &PipelineConfig, quiet: bool) -> Result<Summary> {
    let t0 = Instant::now();
    let mut summary = Summary::default();
    // Sinks first: an unwritable path fails before any work.
    let mut out = Outputs::new(sinks::open(cfg)?, quiet);
    let mut transforms = transform::start_all(cfg, quiet)?;

    let chunk = transforms.iter().map(|t| t.batch_size).max().unwrap_or(1000);
    for (sid, source) in &cfg.sources {
        let mine: Vec<usize> =
            (0..transforms.len()).filter(|&i| transforms[i].inputs.iter().any(|x| x == sid)).collect();
        let mut reader = match source {
            SourceConfig::File { path, format } => {
                let paths = logsieve_readers::expand_inputs(&path.to_vec()).with_context(|| format!("source {sid}"))?;
                Reader::open(paths, *format)
            }
            SourceConfig::Stdin { format } => Reader::stdin(*format),
        };
        let stats = summary.sources.entry(sid.clone()).or_default();
        let mut items: Vec<Item> = Vec::with_capacity(chunk);
        loop {
            // A chunk: up to `chunk` records and about MAX_BATCH_BYTES of
            // text, so memory stays bounded whatever the line lengths.
            items.clear();
            let mut bytes = 0;
            while items.len() < chunk && bytes < MAX_BATCH_BYTES {
                let Some(item) = reader.next() else { break };
                bytes += item.result.as_ref().map_or(0, String::len);
                items.push(item);
            }
            if items.is_empty() {
                break;
            }
            stats.read += items.len() as u64;
            stats.read_errors += items.iter().filter(|i| i.result.is_err()).count() as u64;
            for &ti in &mine {
                transforms[ti].process(&items, &mut out)?;
            }
            out.flush()?;
        }
    }
    // End of input: open windows emit their aggregates.
    for t in &mut transforms {
        t.finish(&mut out)?;
    }
    out.flush()?;
    summary.errors_to_stderr = out.errors_to_stderr;
    for t in transforms {
        summary.transforms.insert(t.id, t.stats);
    }
    for s in out.sinks {
        summary.sinks.insert(s.id, s.stats);
    }
    summary.seconds = t0.elapsed().as_secs_f64();
    summary.peak_rss_mib = peak_rss_mib();
    Ok(summary)
}
