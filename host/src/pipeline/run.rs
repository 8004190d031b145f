//! Running a pipeline: read sources, score in the component, write sinks,
//! and account for every event.
//!
//! Each source is read in order, in chunks. Every logsieve transform that
//! takes the source gets each chunk: records the reader could not parse and
//! events the component could not score go to `<transform>.errors` with
//! their reason; scored events go to `<transform>`. An errors output that no
//! sink takes is written to standard error, so nothing is ever dropped. At
//! the end, for each transform, `in = scored + errors` is checked.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use logsieve_readers::{Format, Item, Reader};
use serde::Serialize;

use super::config::{ERRORS_SUFFIX, PipelineConfig, SinkConfig, SourceConfig, TransformConfig};
use crate::runtime::{self, Instance, Options, Runtime};

/// Counts for one source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceStats {
    /// Records and unreadable records.
    pub read: u64,
    /// Of which the reader could not parse.
    pub read_errors: u64,
}

/// Counts for one transform.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TransformStats {
    /// Items received.
    #[serde(rename = "in")]
    pub input: u64,
    /// Scored events.
    pub scored: u64,
    /// Of which anomalous.
    pub anomalies: u64,
    /// Sent to `<id>.errors` (unreadable records and unscorable events).
    pub errors: u64,
    /// The model id that scored them.
    pub model: String,
}

/// Counts for one sink.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SinkStats {
    /// Lines written.
    pub written: u64,
    /// Scored events not written because they were not anomalies
    /// (`only_anomalies`).
    pub filtered: u64,
}

/// The run summary (`--summary-json` writes it).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Per source.
    pub sources: BTreeMap<String, SourceStats>,
    /// Per transform.
    pub transforms: BTreeMap<String, TransformStats>,
    /// Per sink.
    pub sinks: BTreeMap<String, SinkStats>,
    /// Error records written to stderr because no sink took them.
    pub errors_to_stderr: u64,
    /// Wall time.
    pub seconds: f64,
}

impl Summary {
    /// The accounting equations; an `Err` lists every one that fails.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        for (id, t) in &self.transforms {
            if t.input != t.scored + t.errors {
                errs.push(format!(
                    "transform {id}: in {} != scored {} + errors {}",
                    t.input, t.scored, t.errors
                ));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// A few lines for people.
    pub fn render(&self) -> String {
        let read: u64 = self.sources.values().map(|s| s.read).sum();
        let mut s = format!(
            "logsieve run: {read} events read from {} source(s) in {:.2} s ({:.0} events/s)\n",
            self.sources.len(),
            self.seconds,
            read as f64 / self.seconds.max(1e-9)
        );
        for (id, t) in &self.transforms {
            s += &format!(
                "  transform {id}: {} in = {} scored ({} anomalies) + {} errors   [model {}]\n",
                t.input, t.scored, t.anomalies, t.errors, t.model
            );
        }
        for (id, k) in &self.sinks {
            s += &format!("  sink {id}: {} written", k.written);
            if k.filtered > 0 {
                s += &format!(" ({} non-anomalies left out by only_anomalies)", k.filtered);
            }
            s += "\n";
        }
        if self.errors_to_stderr > 0 {
            s += &format!(
                "  {} error records written to stderr (no sink takes them)\n",
                self.errors_to_stderr
            );
        }
        s
    }
}

struct Sink {
    id: String,
    out: Box<dyn Write>,
    only_anomalies: bool,
    stats: SinkStats,
}

impl Sink {
    fn write(&mut self, line: &str, is_error: bool, anomaly: bool) -> Result<()> {
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

struct Transform {
    id: String,
    inputs: Vec<String>,
    instance: Instance,
    batch_size: usize,
    stats: TransformStats,
    /// Sink indices for the scored output and the errors output.
    scored_to: Vec<usize>,
    errors_to: Vec<usize>,
}

/// Whether a scored event is anomalous, read from the `logsieve` object the
/// component appended (always the last key).
pub fn is_anomaly(scored: &str) -> bool {
    scored
        .rfind("\"logsieve\":{\"cluster\":")
        .and_then(|i| {
            scored[i..]
                .find(",\"anomaly\":")
                .map(|j| scored[i + j + 11..].starts_with("true"))
        })
        .unwrap_or(false)
}

/// An errors-output record.
#[derive(Serialize)]
struct ErrorRecord<'a> {
    reason: &'a str,
    detail: &'a str,
    transform: &'a str,
    file: &'a str,
    line: u64,
    event: &'a str,
}

/// Run a pipeline to the end of its inputs.
pub fn run(cfg: &PipelineConfig, quiet: bool) -> Result<Summary> {
    let t0 = Instant::now();
    let mut summary = Summary::default();

    // Sinks first: an unwritable path fails before any work.
    let mut sinks = Vec::new();
    for (id, s) in &cfg.sinks {
        let (out, only): (Box<dyn Write>, bool) = match s {
            SinkConfig::File {
                path,
                only_anomalies,
                ..
            } => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("sink {id}: creating {}", dir.display()))?;
                }
                let f = std::fs::File::create(path)
                    .with_context(|| format!("sink {id}: creating {}", path.display()))?;
                (
                    Box::new(std::io::BufWriter::with_capacity(1 << 20, f)),
                    *only_anomalies,
                )
            }
            SinkConfig::Stdout { only_anomalies, .. } => (
                Box::new(std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::io::stdout(),
                )),
                *only_anomalies,
            ),
        };
        sinks.push(Sink {
            id: id.clone(),
            out,
            only_anomalies: only,
            stats: SinkStats::default(),
        });
    }
    let takers = |output: &str| -> Vec<usize> {
        cfg.sinks
            .values()
            .enumerate()
            .filter(|(_, s)| s.inputs().iter().any(|i| i == output))
            .map(|(n, _)| n)
            .collect()
    };

    // Transforms: one runtime per component file, one instance per transform.
    let mut runtimes: BTreeMap<Option<PathBuf>, Runtime> = BTreeMap::new();
    let mut transforms = Vec::new();
    for (id, t) in &cfg.transforms {
        let TransformConfig::Logsieve {
            inputs,
            model,
            plugin,
            batch_size,
            top_features,
            emit_vector,
        } = t;
        if !runtimes.contains_key(plugin) {
            runtimes.insert(plugin.clone(), runtime::load(plugin.as_deref())?);
        }
        let rt = &runtimes[plugin];
        let bytes = std::fs::read(model)
            .with_context(|| format!("transform {id}: reading the model {}", model.display()))?;
        let mut instance = runtime::instantiate_model(
            rt,
            &bytes,
            model,
            Options {
                top_features: *top_features,
                emit_vector: *emit_vector,
            },
        )
        .with_context(|| format!("transform {id}: the model was refused"))?;
        let info = instance.info()?;
        if info.n_clusters == 0 {
            bail!(
                "transform {id}: {} holds only a spec; train it first with `logsieve train`",
                model.display()
            );
        }
        let errors_to = takers(&format!("{id}{ERRORS_SUFFIX}"));
        if errors_to.is_empty() && !quiet {
            eprintln!("note: no sink takes {id}{ERRORS_SUFFIX}; its records go to stderr");
        }
        transforms.push(Transform {
            id: id.clone(),
            inputs: inputs.clone(),
            instance,
            batch_size: *batch_size,
            stats: TransformStats {
                model: info.id,
                ..Default::default()
            },
            scored_to: takers(id),
            errors_to,
        });
    }

    let mut stderr = std::io::stderr().lock();
    let chunk = transforms
        .iter()
        .map(|t| t.batch_size)
        .max()
        .unwrap_or(1000);
    for (sid, source) in &cfg.sources {
        let mine: Vec<usize> = (0..transforms.len())
            .filter(|&i| transforms[i].inputs.iter().any(|x| x == sid))
            .collect();
        let reader = match source {
            SourceConfig::File { path, format } => {
                let paths = logsieve_readers::expand_inputs(&path.to_vec())
                    .with_context(|| format!("source {sid}"))?;
                Reader::open(paths, format.parse::<Format>().map_err(anyhow::Error::msg)?)
            }
            SourceConfig::Stdin { format } => {
                Reader::stdin(format.parse::<Format>().map_err(anyhow::Error::msg)?)
            }
        };
        let stats = summary.sources.entry(sid.clone()).or_default();
        let mut items: Vec<Item> = Vec::with_capacity(chunk);
        let mut reader = reader.peekable();
        loop {
            items.clear();
            items.extend(reader.by_ref().take(chunk));
            if items.is_empty() {
                break;
            }
            stats.read += items.len() as u64;
            stats.read_errors += items.iter().filter(|i| i.result.is_err()).count() as u64;
            for &ti in &mine {
                process(
                    &mut transforms[ti],
                    &items,
                    &mut sinks,
                    &mut stderr,
                    &mut summary.errors_to_stderr,
                )?;
            }
        }
    }
    for s in &mut sinks {
        s.out
            .flush()
            .with_context(|| format!("sink {}: flushing", s.id))?;
    }
    for t in transforms {
        summary.transforms.insert(t.id, t.stats);
    }
    for s in sinks {
        summary.sinks.insert(s.id, s.stats);
    }
    summary.seconds = t0.elapsed().as_secs_f64();
    Ok(summary)
}

fn process(
    t: &mut Transform,
    items: &[Item],
    sinks: &mut [Sink],
    stderr: &mut dyn Write,
    to_stderr: &mut u64,
) -> Result<()> {
    for batch in items.chunks(t.batch_size) {
        t.stats.input += batch.len() as u64;
        let mut events = Vec::with_capacity(batch.len());
        let mut owners = Vec::with_capacity(batch.len());
        for item in batch {
            match &item.result {
                Ok(text) => {
                    events.push(text.clone());
                    owners.push(item);
                }
                Err(e) => write_error(
                    t, sinks, stderr, to_stderr, item, e.reason, &e.detail, &e.raw,
                )?,
            }
        }
        if events.is_empty() {
            continue;
        }
        let outcomes = t
            .instance
            .score_batch(&events)
            .with_context(|| format!("transform {}: the component failed", t.id))?;
        if outcomes.len() != events.len() {
            bail!(
                "transform {}: the component returned {} outcomes for {} events",
                t.id,
                outcomes.len(),
                events.len()
            );
        }
        for ((outcome, item), raw) in outcomes.into_iter().zip(owners).zip(&events) {
            match outcome {
                Ok(scored) => {
                    let anomaly = is_anomaly(&scored);
                    t.stats.scored += 1;
                    t.stats.anomalies += u64::from(anomaly);
                    for &s in &t.scored_to {
                        sinks[s].write(&scored, false, anomaly)?;
                    }
                }
                Err(e) => {
                    write_error(t, sinks, stderr, to_stderr, item, &e.reason, &e.detail, raw)?
                }
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_error(
    t: &mut Transform,
    sinks: &mut [Sink],
    stderr: &mut dyn Write,
    to_stderr: &mut u64,
    item: &Item,
    reason: &str,
    detail: &str,
    raw: &str,
) -> Result<()> {
    let rec = ErrorRecord {
        reason,
        detail,
        transform: &t.id,
        file: &item.origin.file,
        line: item.origin.line,
        event: raw,
    };
    let line = serde_json::to_string(&rec)?;
    t.stats.errors += 1;
    if t.errors_to.is_empty() {
        writeln!(stderr, "{line}")?;
        *to_stderr += 1;
    }
    for &s in &t.errors_to {
        sinks[s].write(&line, true, false)?;
    }
    Ok(())
}
