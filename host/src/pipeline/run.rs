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
//! emit) and the accounting equations of [`Summary::check`] are checked.
//!
//! Faults: a batch whose call into the component traps, runs past
//! `batch_timeout_ms` or hits `memory_limit_mb` sends all its events to
//! `<transform>.errors` with that reason (`guest_trap`, `guest_timeout`,
//! `guest_memory_limit`); the instance has been re-created and the next
//! batch goes on (windows open in the old instance are lost and counted).
//!
//! Reload: before each batch the model file is checked (size, mtime,
//! inode). When it changed, the new model is loaded in a new instance; if
//! the component accepts it, the old instance is flushed (its open windows
//! emit, scored by the old model) and the new one takes over; if not, the
//! old one keeps serving and the refusal is reported. Every scored event
//! names its model in `logsieve.model`, every error record in `model`.
//! Sinks are flushed after each chunk, so a live stream's output is not held
//! back.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use logsieve_readers::{Format, Item, Reader};
use serde::Serialize;

use super::config::{ERRORS_SUFFIX, PipelineConfig, SinkConfig, SourceConfig, TransformConfig};
use crate::runtime::{
    self, Deadlines, EventError, GuestFault, Instance, Limits, Options, Outcome, Runtime, TextOutcome,
};

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
    /// The id of the model serving at the end (see `models`).
    pub model: String,
    /// Every model that served, in order (more than one after a reload).
    pub models: Vec<String>,
    /// New model files loaded while running.
    pub reloads: u64,
    /// New model files refused (the previous model kept serving).
    pub reloads_refused: u64,
    /// Batches lost to a guest fault (trap, timeout, memory limit); their
    /// events are in `errors`.
    pub guest_faults: u64,
    /// Per-key windows that were open in an instance lost to a fault.
    pub windows_lost: u64,
    /// The sources it takes.
    pub sources: Vec<String>,
}

/// Counts for one sink.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SinkStats {
    /// The outputs it takes (`<transform>` or `<transform>.errors`).
    pub inputs: Vec<String>,
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
    /// The process's peak resident memory in MiB (`VmHWM`; Linux only).
    pub peak_rss_mib: Option<f64>,
}

/// The process's peak resident set size in MiB, from `/proc/self/status`.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl Summary {
    /// The accounting equations; an `Err` lists every one that fails:
    /// - every transform received every record its sources read;
    /// - `in = scored + passed + dropped + absorbed + errors` and
    ///   `emitted = emitted scored + emitted errors` per transform;
    /// - every sink wrote (or filtered with `only_anomalies`) every line of
    ///   the outputs it takes;
    /// - the error records of transforms no sink takes went to stderr.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        for (id, t) in &self.transforms {
            let read: u64 = t.sources.iter().filter_map(|s| self.sources.get(s)).map(|s| s.read).sum();
            if t.input != read {
                errs.push(format!("transform {id}: in {} != {read} read from its sources", t.input));
            }
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
        for (id, k) in &self.sinks {
            let expected: u64 = k
                .inputs
                .iter()
                .map(|i| match i.strip_suffix(ERRORS_SUFFIX) {
                    Some(t) => self.transforms.get(t).map_or(0, |t| t.errors),
                    None => self.transforms.get(i).map_or(0, |t| t.scored + t.passed + t.emitted_scored),
                })
                .sum();
            if k.written + k.filtered != expected {
                errs.push(format!(
                    "sink {id}: written {} + filtered {} != {expected} records of its inputs",
                    k.written, k.filtered
                ));
            }
        }
        let orphan_errors: u64 = self
            .transforms
            .iter()
            .filter(|(id, _)| {
                let out = format!("{id}{ERRORS_SUFFIX}");
                !self.sinks.values().any(|k| k.inputs.contains(&out))
            })
            .map(|(_, t)| t.errors)
            .sum();
        if orphan_errors != self.errors_to_stderr {
            errs.push(format!(
                "{} error records of transforms without an errors sink, but {} written to stderr",
                orphan_errors, self.errors_to_stderr
            ));
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// A few lines for people.
    pub fn render(&self) -> String {
        let read: u64 = self.sources.values().map(|s| s.read).sum();
        let mut s = format!(
            "logsieve run: {read} events read from {} source(s) in {:.2} s ({:.0} events/s)",
            self.sources.len(),
            self.seconds,
            read as f64 / self.seconds.max(1e-9)
        );
        if let Some(m) = self.peak_rss_mib {
            s += &format!(", peak memory {m:.0} MiB");
        }
        s += "\n";
        for (id, t) in &self.transforms {
            let mut parts = vec![format!("{} scored", t.scored)];
            for (n, what) in [(t.passed, "passed"), (t.dropped, "dropped"), (t.absorbed, "absorbed into windows")] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            parts.push(format!("{} errors", t.errors - t.emitted_errors));
            s += &format!("  transform {id}: {} in = {}   [model {}]\n", t.input, parts.join(" + "), t.model);
            if t.reloads + t.reloads_refused > 0 {
                s += &format!(
                    "    models {}: {} reload(s), {} new model file(s) refused\n",
                    t.models.join(" -> "),
                    t.reloads,
                    t.reloads_refused
                );
            }
            if t.guest_faults > 0 {
                s += &format!(
                    "    {} batch(es) lost to component faults (their events are in the errors); {} open window(s) lost\n",
                    t.guest_faults, t.windows_lost
                );
            }
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

/// Where outputs go: the sinks, and stderr for errors no sink takes.
struct Outputs<'a> {
    sinks: Vec<Sink>,
    stderr: std::io::StderrLock<'a>,
    errors_to_stderr: u64,
    quiet: bool,
}

impl Outputs<'_> {
    fn note(&mut self, text: &str) {
        if !self.quiet {
            let _ = writeln!(self.stderr, "{text}");
        }
    }

    fn flush(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.out.flush().with_context(|| format!("sink {}: flushing", s.id))?;
        }
        Ok(())
    }
}

/// A model file's identity, to notice a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

fn file_id(path: &std::path::Path) -> Option<FileId> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileId { len: m.len(), modified: m.modified().ok(), inode })
}

struct Transform {
    id: String,
    inputs: Vec<String>,
    runtime: Runtime,
    instance: Instance,
    options: Options,
    limits: Limits,
    model_path: PathBuf,
    /// The model file as last seen; `None` when reloading is off.
    model_seen: Option<Option<FileId>>,
    /// Open windows after the last batch (lost if the instance faults).
    open_windows: u64,
    /// Evictions counted by instances replaced by a reload or lost to a
    /// guest fault.
    evicted_before: u64,
    /// The current instance's eviction count after the last batch (kept
    /// when a fault replaces the instance and its counters).
    evicted_seen: u64,
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
    model: &'a str,
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
        let stats = SinkStats { inputs: s.inputs().to_vec(), ..Default::default() };
        sinks.push(Sink { id: id.clone(), out, only_anomalies: only, stats });
    }
    let takers = |output: &str| -> Vec<usize> {
        cfg.sinks.values().enumerate().filter(|(_, s)| s.inputs().iter().any(|i| i == output)).map(|(n, _)| n).collect()
    };

    // Transforms: one runtime per component file, one instance per transform.
    let mut runtimes: BTreeMap<(Option<PathBuf>, Deadlines), Runtime> = BTreeMap::new();
    let mut transforms = Vec::new();
    for (id, t) in &cfg.transforms {
        let TransformConfig::Logsieve {
            inputs,
            model,
            plugin,
            batch_size,
            top_features,
            emit_vector,
            batch_timeout_ms,
            memory_limit_mb,
            reload_model,
        } = t;
        // `batch_timeout_ms = 0`: no deadline, and the component compiled
        // without interruption checks (a separate runtime).
        let deadlines = if *batch_timeout_ms == 0 { Deadlines::Off } else { Deadlines::On };
        let key = (plugin.clone(), deadlines);
        if !runtimes.contains_key(&key) {
            runtimes.insert(key.clone(), runtime::load_with(plugin.as_deref(), deadlines)?);
        }
        let rt = runtimes[&key].clone();
        let seen = file_id(model);
        let bytes =
            std::fs::read(model).with_context(|| format!("transform {id}: reading the model {}", model.display()))?;
        let options = Options { top_features: *top_features, emit_vector: *emit_vector };
        let limits = Limits {
            memory_bytes: (*memory_limit_mb as usize) << 20,
            call_timeout: std::time::Duration::from_millis(*batch_timeout_ms),
        };
        let mut instance = rt
            .instantiate_with(bytes.into(), options, limits)
            .with_context(|| format!("transform {id}: starting the component"))?
            .map_err(|e| anyhow::anyhow!("{}: {}", model.display(), runtime::describe(&e)))
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
            runtime: rt,
            instance,
            options,
            limits,
            model_path: model.clone(),
            model_seen: reload_model.then_some(seen),
            open_windows: 0,
            evicted_before: 0,
            evicted_seen: 0,
            batch_size: *batch_size,
            stats: TransformStats {
                model: info.id.clone(),
                models: vec![info.id],
                sources: inputs.clone(),
                ..Default::default()
            },
            scored_to: takers(id),
            errors_to,
        });
    }

    let mut out = Outputs { sinks, stderr: std::io::stderr().lock(), errors_to_stderr: 0, quiet };
    let chunk = transforms.iter().map(|t| t.batch_size).max().unwrap_or(1000);
    for (sid, source) in &cfg.sources {
        let mine: Vec<usize> =
            (0..transforms.len()).filter(|&i| transforms[i].inputs.iter().any(|x| x == sid)).collect();
        let mut reader = match source {
            SourceConfig::File { path, format } => {
                let paths = logsieve_readers::expand_inputs(&path.to_vec()).with_context(|| format!("source {sid}"))?;
                Reader::open(paths, format.parse::<Format>().map_err(anyhow::Error::msg)?)
            }
            SourceConfig::Stdin { format } => Reader::stdin(format.parse::<Format>().map_err(anyhow::Error::msg)?),
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
                process(&mut transforms[ti], &items, &mut out)?;
            }
            out.flush()?;
        }
    }
    // End of input: open windows emit their aggregates.
    for t in &mut transforms {
        flush_windows(t, &mut out)?;
        if let Ok(s) = t.instance.stats() {
            t.stats.evicted = t.evicted_before + s.evicted;
        }
        let scored = t.stats.scored + t.stats.emitted_scored;
        t.stats.rating = if scored > 0 { 10.0 * t.stats.in_rare_clusters as f64 / scored as f64 } else { 0.0 };
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

/// Close the instance's open windows: their aggregates are scored and
/// delivered. A fault here loses them (counted in `windows_lost`).
fn flush_windows(t: &mut Transform, out: &mut Outputs) -> Result<()> {
    match t.instance.flush() {
        Ok(emitted_now) => emitted(t, emitted_now, out),
        Err(e) => {
            let fault = as_fault(e).with_context(|| format!("transform {}: flushing the component", t.id))?;
            t.stats.guest_faults += 1;
            t.stats.windows_lost += t.open_windows;
            t.open_windows = 0;
            t.evicted_before += std::mem::take(&mut t.evicted_seen);
            out.note(&format!("warning: transform {}: flushing its windows failed ({fault}); they are lost", t.id));
            Ok(())
        }
    }
}

/// A guest fault, or the error as it was (a failure of the host itself).
fn as_fault(e: anyhow::Error) -> Result<GuestFault> {
    match e.downcast_ref::<GuestFault>() {
        Some(f) => Ok(f.clone()),
        None => Err(e),
    }
}

/// Between batches: if the model file changed, load it and switch to it,
/// or report it refused and keep the current one.
fn reload_if_changed(t: &mut Transform, out: &mut Outputs) -> Result<()> {
    let Some(seen) = &t.model_seen else {
        return Ok(());
    };
    let now = file_id(&t.model_path);
    if &now == seen {
        return Ok(());
    }
    t.model_seen = Some(now.clone());
    if now.is_none() {
        // Gone for a moment (being replaced): keep serving.
        return Ok(());
    }
    let path = t.model_path.display().to_string();
    let refuse = |t: &mut Transform, out: &mut Outputs, why: String| {
        t.stats.reloads_refused += 1;
        out.note(&format!(
            "warning: transform {}: the new model file {path} was refused: {why}; model {} keeps serving",
            t.id, t.stats.model
        ));
    };
    let bytes = match std::fs::read(&t.model_path) {
        Ok(b) => b,
        Err(e) => {
            refuse(t, out, format!("reading it failed: {e}"));
            return Ok(());
        }
    };
    let mut new = match t.runtime.instantiate_with(bytes.into(), t.options, t.limits) {
        Ok(Ok(i)) => i,
        Ok(Err(e)) => {
            refuse(t, out, runtime::describe(&e));
            return Ok(());
        }
        Err(e) => {
            refuse(t, out, format!("{e:#}"));
            return Ok(());
        }
    };
    let info = new.info()?;
    if info.n_clusters == 0 {
        refuse(t, out, "it holds only a spec (train it first)".into());
        return Ok(());
    }
    if info.id == t.stats.model {
        return Ok(()); // the same model written again
    }
    // The old model finishes what it holds: its windows emit, scored by it.
    flush_windows(t, out)?;
    if let Ok(s) = t.instance.stats() {
        t.evicted_before += s.evicted;
    }
    t.evicted_seen = 0;
    t.instance = new;
    t.open_windows = 0;
    t.stats.reloads += 1;
    out.note(&format!("transform {}: model {} replaced by {} from {path}", t.id, t.stats.model, info.id));
    t.stats.model = info.id.clone();
    t.stats.models.push(info.id);
    Ok(())
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
    emitted: Vec<std::result::Result<String, crate::runtime::EventError>>,
    out: &mut Outputs,
) -> Result<()> {
    let origin =
        Item { origin: logsieve_readers::Origin { file: "<aggregate>".into(), line: 0 }, result: Ok(String::new()) };
    for r in emitted {
        t.stats.emitted += 1;
        match r {
            Ok(scored) => {
                t.stats.emitted_scored += 1;
                deliver_scored(t, &mut out.sinks, &scored)?;
            }
            Err(e) => {
                t.stats.emitted_errors += 1;
                write_error(t, out, &origin, &e.reason, &e.detail, "")?;
            }
        }
    }
    Ok(())
}

/// A batch holds at most `batch_size` events and at most this many bytes of
/// event text (at least one event): a few very large events (the readers
/// allow lines up to 16 MiB) then go in small batches instead of driving
/// one batch past the component's memory limit.
pub const MAX_BATCH_BYTES: usize = 16 << 20;

/// Split `items` into batches by count and by bytes.
fn batches(items: &[Item], batch_size: usize) -> impl Iterator<Item = &[Item]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut n = 0;
        for item in rest.iter().take(batch_size) {
            let len = item.result.as_ref().map_or(0, String::len);
            if n > 0 && bytes + len > MAX_BATCH_BYTES {
                break;
            }
            bytes += len;
            n += 1;
        }
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        Some(batch)
    })
}

fn process(t: &mut Transform, items: &[Item], out: &mut Outputs) -> Result<()> {
    for batch in batches(items, t.batch_size) {
        reload_if_changed(t, out)?;
        t.stats.input += batch.len() as u64;
        // The batch goes to the component as one NDJSON text (`score-text`:
        // two strings cross the boundary, not two per event); `raws` are
        // the events' texts in it.
        let mut text = String::with_capacity(batch.iter().map(|i| i.result.as_ref().map_or(0, |t| t.len() + 1)).sum());
        let mut spans = Vec::with_capacity(batch.len());
        let mut owners = Vec::with_capacity(batch.len());
        for item in batch {
            match &item.result {
                Ok(event) => {
                    let start = text.len();
                    text.push_str(event);
                    text.push('\n');
                    spans.push(start..start + event.len());
                    owners.push(item);
                }
                Err(e) => write_error(t, out, item, e.reason, &e.detail, &e.raw)?,
            }
        }
        if owners.is_empty() {
            continue;
        }
        let raws: Vec<&str> = spans.iter().map(|r| &text[r.clone()]).collect();
        // A raw newline inside an event (no reader makes one, but a stdin
        // line is the caller's) would split it: such a batch goes as a list.
        let split_safe = !raws.iter().any(|e| e.contains('\n'));
        let result = if split_safe {
            t.instance.score_text(&text).map(Scored::Text)
        } else {
            let events: Vec<String> = raws.iter().map(|e| e.to_string()).collect();
            t.instance.score_batch(&events).map(Scored::List)
        };
        let mut scored = match result {
            Ok(b) => b,
            Err(e) => {
                let fault = as_fault(e).with_context(|| format!("transform {}: the component failed", t.id))?;
                t.stats.guest_faults += 1;
                t.stats.windows_lost += t.open_windows;
                t.open_windows = 0;
                t.evicted_before += std::mem::take(&mut t.evicted_seen);
                out.note(&format!(
                    "warning: transform {}: a batch of {} events failed in the component ({fault}); \
                     they go to {}{ERRORS_SUFFIX} and a new instance goes on",
                    t.id,
                    raws.len(),
                    t.id
                ));
                let detail = format!("{}; the batch of {} events it was in failed with it", fault.detail, raws.len());
                for (item, raw) in owners.into_iter().zip(&raws) {
                    write_error(t, out, item, fault.reason, &detail, raw)?;
                }
                continue;
            }
        };
        let (outcomes, emitted_events) = scored.outcomes(t, raws.len())?;
        let mut absorbed = false;
        for ((outcome, item), raw) in outcomes.into_iter().zip(owners).zip(&raws) {
            match outcome {
                Done::Scored(s) => {
                    t.stats.scored += 1;
                    deliver_scored(t, &mut out.sinks, s)?;
                }
                Done::Passed => {
                    t.stats.passed += 1;
                    for &s in &t.scored_to {
                        out.sinks[s].write(raw, false, false)?;
                    }
                }
                Done::Dropped => t.stats.dropped += 1,
                Done::Absorbed => {
                    t.stats.absorbed += 1;
                    absorbed = true;
                }
                Done::Failed(e) => write_error(t, out, item, &e.reason, &e.detail, raw)?,
            }
        }
        let scored = emitted_events;
        let any_emitted = !scored.is_empty();
        emitted(t, scored, out)?;
        if absorbed || any_emitted {
            // Only windowed models hold state worth counting.
            match t.instance.stats() {
                Ok(s) => {
                    t.open_windows = s.open_windows;
                    t.evicted_seen = s.evicted;
                }
                Err(_) => t.open_windows = 0,
            }
        }
    }
    Ok(())
}

/// What the component made of a batch, by the call that scored it.
enum Scored {
    Text(crate::runtime::ScoredText),
    List(crate::runtime::ScoredBatch),
}

/// One event's outcome, whichever call scored it.
enum Done<'a> {
    Scored(&'a str),
    Passed,
    Dropped,
    Absorbed,
    Failed(&'a EventError),
}

type Emitted = Vec<std::result::Result<String, EventError>>;

impl Scored {
    /// The outcomes (checked: one per event, and scored texts that fit the
    /// batch's text) and the aggregates emitted.
    fn outcomes(&mut self, t: &Transform, events: usize) -> Result<(Vec<Done<'_>>, Emitted)> {
        let n = match self {
            Scored::Text(b) => b.outcomes.len(),
            Scored::List(b) => b.outcomes.len(),
        };
        if n != events {
            bail!("transform {}: the component returned {n} outcomes for {events} events", t.id);
        }
        match self {
            Scored::List(b) => {
                let emitted = std::mem::take(&mut b.emitted);
                let done = b
                    .outcomes
                    .iter()
                    .map(|o| match o {
                        Outcome::Scored(s) => Done::Scored(s),
                        Outcome::Passed => Done::Passed,
                        Outcome::Dropped => Done::Dropped,
                        Outcome::Absorbed => Done::Absorbed,
                        Outcome::Failed(e) => Done::Failed(e),
                    })
                    .collect();
                Ok((done, emitted))
            }
            Scored::Text(b) => {
                let emitted = std::mem::take(&mut b.emitted);
                let mut at = 0usize;
                let mut done = Vec::with_capacity(events);
                for o in &b.outcomes {
                    done.push(match o {
                        TextOutcome::Scored(len) => {
                            let end = at + *len as usize;
                            let s = b.text.get(at..end).filter(|_| b.text[end..].starts_with('\n'));
                            let Some(s) = s else {
                                bail!("transform {}: the component's scored text does not match its outcomes", t.id)
                            };
                            at = end + 1;
                            Done::Scored(s)
                        }
                        TextOutcome::Passed => Done::Passed,
                        TextOutcome::Dropped => Done::Dropped,
                        TextOutcome::Absorbed => Done::Absorbed,
                        TextOutcome::Failed(e) => Done::Failed(e),
                    });
                }
                Ok((done, emitted))
            }
        }
    }
}

fn write_error(t: &mut Transform, out: &mut Outputs, item: &Item, reason: &str, detail: &str, raw: &str) -> Result<()> {
    let rec = ErrorRecord {
        reason,
        detail,
        transform: &t.id,
        model: &t.stats.model,
        file: &item.origin.file,
        line: item.origin.line,
        event: raw,
    };
    let line = serde_json::to_string(&rec)?;
    t.stats.errors += 1;
    if t.errors_to.is_empty() {
        writeln!(out.stderr, "{line}")?;
        out.errors_to_stderr += 1;
    }
    for &s in &t.errors_to {
        out.sinks[s].write(&line, true, false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(len: usize) -> Item {
        Item { origin: logsieve_readers::Origin { file: "t".into(), line: 1 }, result: Ok("x".repeat(len)) }
    }

    #[test]
    fn batches_are_cut_by_count_and_by_bytes() {
        let sizes = |items: &[Item], n| batches(items, n).map(<[Item]>::len).collect::<Vec<_>>();
        let small: Vec<Item> = (0..25).map(|_| item(10)).collect();
        assert_eq!(sizes(&small, 10), [10, 10, 5]);
        let big = MAX_BATCH_BYTES / 2 + 1;
        let mixed = vec![item(10), item(big), item(big), item(10), item(MAX_BATCH_BYTES * 2), item(10)];
        // Two halves-plus never share a batch; an oversized event goes alone.
        assert_eq!(sizes(&mixed, 1000), [2, 2, 1, 1]);
        let total: usize = batches(&mixed, 1000).map(<[Item]>::len).sum();
        assert_eq!(total, mixed.len());
    }
}
