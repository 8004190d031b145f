//! Where a pipeline's records go: the sinks, and standard error for the
//! error records no sink takes (so nothing is lost).

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;

use super::config::{PipelineConfig, SinkConfig};
use super::summary::SinkStats;

/// One sink: a file or standard output, NDJSON.
pub struct Sink {
    /// Its id.
    pub id: String,
    out: Box<dyn Write>,
    only_anomalies: bool,
    /// Its counts.
    pub stats: SinkStats,
}

impl Sink {
    /// Write one record (a scored or passed event, or an error record).
    /// With `only_anomalies`, events that are not anomalies are counted,
    /// not written; error records always are.
    pub fn write(&mut self, line: &str, is_error: bool, anomaly: bool) -> Result<()> {
        if self.only_anomalies && !is_error && !anomaly {
            self.stats.filtered += 1;
            return Ok(());
        }
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.stats.written += 1;
        Ok(())
    }
}

/// Open every sink of a pipeline (files are created, parent folders too).
pub fn open(cfg: &PipelineConfig) -> Result<Vec<Sink>> {
    let mut sinks = Vec::new();
    for (id, s) in &cfg.sinks {
        let (out, only): (Box<dyn Write>, bool) = match s {
            SinkConfig::File { path, only_anomalies, .. } => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("sink {id}: creating {}", dir.display()))?;
                }
                let f =
                    std::fs::File::create(path).with_context(|| format!("sink {id}: creating {}", path.display()))?;
                (Box::new(std::io::BufWriter::with_capacity(1 << 20, f)), *only_anomalies)
            }
            SinkConfig::Stdout { only_anomalies, .. } => {
                (Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())), *only_anomalies)
            }
        };
        let stats = SinkStats { inputs: s.inputs().to_vec(), ..Default::default() };
        sinks.push(Sink { id: id.clone(), out, only_anomalies: only, stats });
    }
    Ok(sinks)
}

/// An errors-output record.
#[derive(Serialize)]
pub struct ErrorRecord<'a> {
    /// The reason code.
    pub reason: &'a str,
    /// What went wrong, for people.
    pub detail: &'a str,
    /// The transform.
    pub transform: &'a str,
    /// The model serving at the time.
    pub model: &'a str,
    /// The input file (`<aggregate>` for an aggregate event).
    pub file: &'a str,
    /// The line in it (1-based; 0 for a whole file or an aggregate).
    pub line: u64,
    /// The event's text (or what could be read of the line).
    pub event: &'a str,
    /// A run of identical reader errors on consecutive lines: how many
    /// lines the record stands for (absent: 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// With `count`: the run's last line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_line: Option<u64>,
}

/// Where outputs go: the sinks, and stderr for errors no sink takes.
pub struct Outputs<'a> {
    /// The sinks, in the pipeline's order.
    pub sinks: Vec<Sink>,
    stderr: std::io::StderrLock<'a>,
    /// Error records written to stderr.
    pub errors_to_stderr: u64,
    quiet: bool,
}

impl Outputs<'_> {
    /// The outputs of `sinks`; notes go to stderr unless `quiet`.
    pub fn new(sinks: Vec<Sink>, quiet: bool) -> Self {
        Outputs { sinks, stderr: std::io::stderr().lock(), errors_to_stderr: 0, quiet }
    }

    /// A note for people (not with `--quiet`).
    pub fn note(&mut self, text: &str) {
        if !self.quiet {
            let _ = writeln!(self.stderr, "{text}");
        }
    }

    /// Write an error record to the sinks `to`, or to stderr when there are
    /// none.
    pub fn error(&mut self, to: &[usize], record: &ErrorRecord) -> Result<()> {
        let line = serde_json::to_string(record)?;
        if to.is_empty() {
            writeln!(self.stderr, "{line}")?;
            self.errors_to_stderr += 1;
        }
        for &s in to {
            self.sinks[s].write(&line, true, false)?;
        }
        Ok(())
    }

    /// Flush every sink.
    pub fn flush(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.out.flush().with_context(|| format!("sink {}: flushing", s.id))?;
        }
        Ok(())
    }
}
