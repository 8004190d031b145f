//! Running a pipeline: read sources, score in the component, write sinks,
//! and account for every event.
//!
//! Each source is read in order, in chunks; every logsieve transform that
//! takes the source gets each chunk. What becomes of each event:
//! - scored → `<transform>` (the event plus the `logsieve` key);
//! - passed (did not meet the model's `where`, `unmatched = "pass"`) →
//!   `<transform>` unchanged;
//! - dropped (`unmatched = "drop"`) → counted;
//! - absorbed into a per-key window → counted; the window's aggregate event
//!   is emitted later, scored, to `<transform>`;
//! - unreadable or unscorable → `<transform>.errors` with the reason.
//!
//! An errors output that no sink takes is written to standard error, so
//! nothing is lost. At the end every transform is flushed (open windows
//! emit) and, for each, `in = scored + passed + dropped + absorbed + errors`
//! and `emitted = emitted scored + emitted errors` are checked.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use logsieve_readers::{Format, Item, Reader};
use serde::Serialize;

use super::config::{ERRORS_SUFFIX, PipelineConfig, SinkConfig, SourceConfig, TransformConfig};
use crate::runtime::{self, Instance, Options, Outcome, Runtime};

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
    /// Did not meet the model's `where`; passed on unscored.
    pub passed: u64,
    /// Did not meet the model's `where`; dropped.
    pub dropped: u64,
    /// Taken into per-key windows.
    pub absorbed: u64,
    /// Aggregate events emitted by windows.
    pub emitted: u64,
    /// Of which scored.
    pub emitted_scored: u64,
    /// Of which could not be scored (also counted in `errors`).
    pub emitted_errors: u64,
    /// Window entries emitted early because `max_keys` was reached.
    pub evicted: u64,
    /// Scored events (and aggregates) in rare clusters.
    pub in_rare_clusters: u64,
    /// 10 × the share of scored events (and aggregates) that fell in rare
    /// clusters: the flow notebook's rating.
    pub rating: f64,
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
            let errors = t.errors - t.emitted_errors;
            if t.input != t.scored + t.passed + t.dropped + t.absorbed + errors {
                errs.push(format!(
                    "transform {id}: in {} != scored {} + passed {} + dropped {} + absorbed {} + errors {errors}",
                    t.input, t.scored, t.passed, t.dropped, t.absorbed
                ));
            }
            if t.emitted != t.emitted_scored + t.emitted_errors {
                errs.push(format!(
                    "transform {id}: emitted {} != scored {} + errors {}",
                    t.emitted, t.emitted_scored, t.emitted_errors
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
            let mut parts = vec![format!("{} scored", t.scored)];
            for (n, what) in [(t.passed, "passed"), (t.dropped, "dropped"), (t.absorbed, "absorbed into windows")] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            parts.push(format!("{} errors", t.errors - t.emitted_errors));
            s += &format!("  transform {id}: {} in = {}   [model {}]\n", t.input, parts.join(" + "), t.model);
            if t.emitted > 0 {
                s += &format!(
                    "    {} aggregate events emitted = {} scored + {} errors ({} window entries evicted early by max_keys)\n",
                    t.emitted, t.emitted_scored, t.emitted_errors, t.evicted
                );
            }
            s += &format!(
                "    {} anomalies; rating {:.2} (10 x the share in rare clusters: {} of {})\n",
                t.anomalies,
                t.rating,
                t.in_rare_clusters,
                t.scored + t.emitted_scored
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
            s += &format!("  {} error records written to stderr (no sink takes them)\n", self.errors_to_stderr);
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
    logsieve_tail(scored).is_some_and(|tail| tail.contains(",\"anomaly\":true,"))
}

/// Whether a scored event fell in a rare cluster.
pub fn in_rare_cluster(scored: &str) -> bool {
    logsieve_tail(scored).is_some_and(|tail| tail.contains("\"rare_cluster\""))
}

/// The `logsieve` object the component appended (always the last key), up
/// to the end of its `reasons` list.
fn logsieve_tail(scored: &str) -> Option<&str> {
    let i = scored.rfind("\"logsieve\":{\"cluster\":")?;
    let tail = &scored[i..];
    let end = tail.find("],").map_or(tail.len(), |e| e + 1);
    Some(&tail[..end])
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
        sinks.push(Sink { id: id.clone(), out, only_anomalies: only, stats: SinkStats::default() });
    }
    let takers = |output: &str| -> Vec<usize> {
        cfg.sinks.values().enumerate().filter(|(_, s)| s.inputs().iter().any(|i| i == output)).map(|(n, _)| n).collect()
    };

    // Transforms: one runtime per component file, one instance per transform.
    let mut runtimes: BTreeMap<Option<PathBuf>, Runtime> = BTreeMap::new();
    let mut transforms = Vec::new();
    for (id, t) in &cfg.transforms {
        let TransformConfig::Logsieve { inputs, model, plugin, batch_size, top_features, emit_vector } = t;
        if !runtimes.contains_key(plugin) {
            runtimes.insert(plugin.clone(), runtime::load(plugin.as_deref())?);
        }
        let rt = &runtimes[plugin];
        let bytes =
            std::fs::read(model).with_context(|| format!("transform {id}: reading the model {}", model.display()))?;
        let mut instance = runtime::instantiate_model(
            rt,
            &bytes,
            model,
            Options { top_features: *top_features, emit_vector: *emit_vector },
        )
        .with_context(|| format!("transform {id}: the model was refused"))?;
        let info = instance.info()?;
        if info.n_clusters == 0 {
            bail!("transform {id}: {} holds only a spec; train it first with `logsieve train`", model.display());
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
            stats: TransformStats { model: info.id, ..Default::default() },
            scored_to: takers(id),
            errors_to,
        });
    }

    let mut stderr = std::io::stderr().lock();
    let chunk = transforms.iter().map(|t| t.batch_size).max().unwrap_or(1000);
    for (sid, source) in &cfg.sources {
        let mine: Vec<usize> =
            (0..transforms.len()).filter(|&i| transforms[i].inputs.iter().any(|x| x == sid)).collect();
        let reader = match source {
            SourceConfig::File { path, format } => {
                let paths = logsieve_readers::expand_inputs(&path.to_vec()).with_context(|| format!("source {sid}"))?;
                Reader::open(paths, format.parse::<Format>().map_err(anyhow::Error::msg)?)
            }
            SourceConfig::Stdin { format } => Reader::stdin(format.parse::<Format>().map_err(anyhow::Error::msg)?),
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
                process(&mut transforms[ti], &items, &mut sinks, &mut stderr, &mut summary.errors_to_stderr)?;
            }
        }
    }
    // End of input: open windows emit their aggregates.
    for t in &mut transforms {
        let out = t.instance.flush().with_context(|| format!("transform {}: flushing the component", t.id))?;
        emitted(t, out, &mut sinks, &mut stderr, &mut summary.errors_to_stderr)?;
        t.stats.evicted = t.instance.stats()?.evicted;
        let scored = t.stats.scored + t.stats.emitted_scored;
        t.stats.rating = if scored > 0 { 10.0 * t.stats.in_rare_clusters as f64 / scored as f64 } else { 0.0 };
    }
    for s in &mut sinks {
        s.out.flush().with_context(|| format!("sink {}: flushing", s.id))?;
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

/// Count and write a scored event or aggregate.
fn deliver_scored(t: &mut Transform, sinks: &mut [Sink], scored: &str) -> Result<()> {
    let anomaly = is_anomaly(scored);
    t.stats.anomalies += u64::from(anomaly);
    t.stats.in_rare_clusters += u64::from(in_rare_cluster(scored));
    for &s in &t.scored_to {
        sinks[s].write(scored, false, anomaly)?;
    }
    Ok(())
}

/// Aggregate events emitted by the component: scored, or errors.
fn emitted(
    t: &mut Transform,
    out: Vec<std::result::Result<String, crate::runtime::EventError>>,
    sinks: &mut [Sink],
    stderr: &mut dyn Write,
    to_stderr: &mut u64,
) -> Result<()> {
    let origin =
        Item { origin: logsieve_readers::Origin { file: "<aggregate>".into(), line: 0 }, result: Ok(String::new()) };
    for r in out {
        t.stats.emitted += 1;
        match r {
            Ok(scored) => {
                t.stats.emitted_scored += 1;
                deliver_scored(t, sinks, &scored)?;
            }
            Err(e) => {
                t.stats.emitted_errors += 1;
                write_error(t, sinks, stderr, to_stderr, &origin, &e.reason, &e.detail, "")?;
            }
        }
    }
    Ok(())
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
                Err(e) => write_error(t, sinks, stderr, to_stderr, item, e.reason, &e.detail, &e.raw)?,
            }
        }
        if events.is_empty() {
            continue;
        }
        let batch =
            t.instance.score_batch(&events).with_context(|| format!("transform {}: the component failed", t.id))?;
        if batch.outcomes.len() != events.len() {
            bail!(
                "transform {}: the component returned {} outcomes for {} events",
                t.id,
                batch.outcomes.len(),
                events.len()
            );
        }
        for ((outcome, item), raw) in batch.outcomes.into_iter().zip(owners).zip(&events) {
            match outcome {
                Outcome::Scored(scored) => {
                    t.stats.scored += 1;
                    deliver_scored(t, sinks, &scored)?;
                }
                Outcome::Passed => {
                    t.stats.passed += 1;
                    for &s in &t.scored_to {
                        sinks[s].write(raw, false, false)?;
                    }
                }
                Outcome::Dropped => t.stats.dropped += 1,
                Outcome::Absorbed => t.stats.absorbed += 1,
                Outcome::Failed(e) => write_error(t, sinks, stderr, to_stderr, item, &e.reason, &e.detail, raw)?,
            }
        }
        emitted(t, batch.emitted, sinks, stderr, to_stderr)?;
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
    let rec =
        ErrorRecord { reason, detail, transform: &t.id, file: &item.origin.file, line: item.origin.line, event: raw };
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
