//! A logsieve transform: one component instance with one model, scoring
//! batches of events, with hot reload and recovery from guest faults.
//!
//! What becomes of each event:
//! - scored → `<transform>` (the event plus the `logsieve` key);
//! - passed (did not meet the model's `where`, `unmatched = "pass"`) →
//!   `<transform>` unchanged;
//! - dropped (`unmatched = "drop"`) → counted;
//! - absorbed into a per-key window → counted; the window's aggregate event
//!   is emitted later, scored, to `<transform>`;
//! - unreadable or unscorable → `<transform>.errors` with the reason.
//!
//! The component tells each event's outcome and verdict as data (WIT
//! `score-lines`): the host never reads a verdict back from a scored text.
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

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use logsieve_readers::{Item, Origin};

use super::config::{ERRORS_SUFFIX, PipelineConfig, TransformConfig};
use super::sinks::{ErrorRecord, Outputs, Sink};
use super::summary::TransformStats;
use crate::runtime::{
    self, Deadlines, GuestFault, Instance, Limits, LineOutcome, Options, Reasons, Runtime, ScoredLines, Verdict,
};

/// A model file's identity, to notice a new one: size, mtime, inode and
/// the status-change time (which `cp -p` cannot set back).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
    changed: (i64, i64),
}

/// How often, besides on a change of [`FileId`], the model file's content
/// is compared with what was last read from it (a replacement no file
/// status shows still takes effect within this period).
pub const CONTENT_PROBE: std::time::Duration = std::time::Duration::from_secs(10);

fn digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn file_id(path: &std::path::Path) -> Option<FileId> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (inode, changed) = {
        use std::os::unix::fs::MetadataExt;
        (m.ino(), (m.ctime(), m.ctime_nsec()))
    };
    #[cfg(not(unix))]
    let (inode, changed) = (0, (0, 0));
    Some(FileId { len: m.len(), modified: m.modified().ok(), inode, changed })
}

/// A run of identical reader errors on consecutive lines, not written yet.
struct ErrorRun {
    /// Its first line.
    origin: Origin,
    count: u64,
    reason: &'static str,
    detail: String,
    raw: String,
}

/// One logsieve transform of a running pipeline.
pub struct Transform {
    /// Its id.
    pub id: String,
    /// The sources it takes.
    pub inputs: Vec<String>,
    runtime: Runtime,
    instance: Instance,
    options: Options,
    limits: Limits,
    model_path: PathBuf,
    /// The model file as last seen; `None` when reloading is off.
    model_seen: Option<Option<FileId>>,
    /// SHA-256 of the model file's content as last read (served or
    /// refused), and when it was last compared.
    model_digest: [u8; 32],
    last_probe: std::time::Instant,
    /// Open windows after the last batch (lost if the instance faults).
    open_windows: u64,
    /// Evictions counted by instances replaced by a reload or lost to a
    /// guest fault.
    evicted_before: u64,
    /// The current instance's eviction count after the last batch (kept
    /// when a fault replaces the instance and its counters).
    evicted_seen: u64,
    /// Events per call into the component.
    pub batch_size: usize,
    /// A partial batch waits at most this long for more events.
    pub flush_after: std::time::Duration,
    /// Its counts.
    pub stats: TransformStats,
    /// The run of reader errors being collapsed into one record.
    run: Option<ErrorRun>,
    /// Sink indices for the scored output and the errors output.
    scored_to: Vec<usize>,
    errors_to: Vec<usize>,
}

/// Start every transform of a pipeline: one runtime per component file (and
/// deadline setting), one instance per transform, its model loaded.
pub fn start_all(cfg: &PipelineConfig, quiet: bool) -> Result<Vec<Transform>> {
    let takers = |output: &str| -> Vec<usize> {
        cfg.sinks.values().enumerate().filter(|(_, s)| s.inputs().iter().any(|i| i == output)).map(|(n, _)| n).collect()
    };
    let mut runtimes: BTreeMap<(Option<PathBuf>, Deadlines), Runtime> = BTreeMap::new();
    let mut transforms = Vec::new();
    for (id, t) in &cfg.transforms {
        let TransformConfig::Logsieve {
            inputs,
            model,
            plugin,
            batch_size,
            flush_ms,
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
            crate::model_file::read_model(model).with_context(|| format!("transform {id}: reading the model"))?;
        let model_digest = digest(&bytes);
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
        if info.dimension == 0 {
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
            model_digest,
            last_probe: std::time::Instant::now(),
            open_windows: 0,
            evicted_before: 0,
            evicted_seen: 0,
            batch_size: *batch_size,
            flush_after: std::time::Duration::from_millis(*flush_ms),
            stats: TransformStats {
                model: info.id.clone(),
                models: vec![info.id],
                clustered: info.n_clusters > 0,
                sources: inputs.clone(),
                ..Default::default()
            },
            run: None,
            scored_to: takers(id),
            errors_to,
        });
    }
    Ok(transforms)
}

/// A batch holds at most `batch_size` events and at most this many bytes of
/// event text (at least one event): a few very large events (the readers
/// allow lines up to 16 MiB) then go in small batches instead of driving
/// one batch past the component's memory limit.
pub const MAX_BATCH_BYTES: usize = 16 << 20;

/// Split `items` into batches by count and by bytes.
pub fn batches(items: &[Item], batch_size: usize) -> impl Iterator<Item = &[Item]> {
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

/// The origin of an aggregate event in error records.
fn aggregate_origin() -> Origin {
    Origin { file: "<aggregate>".into(), line: 0 }
}

/// The text of a scored event: its place in the call's text, checked (a
/// component that is not logsieve's own may answer anything).
fn scored_text<'a>(t: &Transform, lines: &'a ScoredLines, at: u32, len: u32) -> Result<&'a str> {
    let (start, end) = (at as usize, at as usize + len as usize);
    match lines.text.get(start..end) {
        Some(s) if lines.text[end..].starts_with('\n') => Ok(s),
        _ => bail!("transform {}: the component's scored text does not match its outcomes", t.id),
    }
}

impl Transform {
    /// Score the items of one chunk of a source, batch by batch.
    pub fn process(&mut self, items: &[Item], out: &mut Outputs) -> Result<()> {
        for batch in batches(items, self.batch_size) {
            self.reload_if_changed(out)?;
            self.stats.input += batch.len() as u64;
            self.score(batch, out)?;
        }
        Ok(())
    }

    /// One batch through the component: every event is accounted for.
    fn score(&mut self, batch: &[Item], out: &mut Outputs) -> Result<()> {
        // The batch goes to the component as one NDJSON text (`score-lines`:
        // two strings cross the boundary, not two per event). A reader's
        // event is one line: it holds no raw newline.
        let mut text = String::with_capacity(batch.iter().map(|i| i.result.as_ref().map_or(0, |t| t.len() + 1)).sum());
        let mut events: Vec<(&Item, &str)> = Vec::with_capacity(batch.len());
        for item in batch {
            match &item.result {
                Ok(event) => {
                    debug_assert!(!event.contains('\n'), "a reader's event is one line");
                    text.push_str(event);
                    text.push('\n');
                    events.push((item, event));
                }
                Err(e) => self.reader_error(out, &item.origin, e)?,
            }
            if item.result.is_ok() {
                self.end_run(out)?;
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        let lines = match self.instance.score_lines(&text) {
            Ok(lines) => lines,
            Err(e) => return self.lost(e, &events, out),
        };
        if lines.outcomes.len() != events.len() {
            bail!(
                "transform {}: the component returned {} outcomes for {} events",
                self.id,
                lines.outcomes.len(),
                events.len()
            );
        }
        let mut absorbed = false;
        for (outcome, (item, raw)) in lines.outcomes.iter().zip(&events) {
            match outcome {
                LineOutcome::Scored(s) => {
                    self.stats.scored += 1;
                    let scored = scored_text(self, &lines, s.offset, s.len)?;
                    self.deliver(&mut out.sinks, scored, &s.verdict)?;
                }
                LineOutcome::Passed => {
                    self.stats.passed += 1;
                    for &s in &self.scored_to {
                        out.sinks[s].write(raw, false, false)?;
                    }
                }
                LineOutcome::Dropped => self.stats.dropped += 1,
                LineOutcome::Absorbed => {
                    self.stats.absorbed += 1;
                    absorbed = true;
                }
                LineOutcome::Failed(e) => self.error(out, &item.origin, &e.reason, &e.detail, raw)?,
            }
        }
        let any_emitted = !lines.emitted.is_empty();
        self.emitted(&lines, out)?;
        if absorbed || any_emitted {
            // Only windowed models hold state worth counting.
            match self.instance.stats() {
                Ok(s) => {
                    self.open_windows = s.open_windows;
                    self.evicted_seen = s.evicted;
                }
                Err(_) => self.open_windows = 0,
            }
        }
        Ok(())
    }

    /// A batch lost to a guest fault: its events go to the errors output
    /// with the fault's reason; the state the old instance held is counted
    /// as lost. A failure of the host itself is returned as it is.
    fn lost(&mut self, e: anyhow::Error, events: &[(&Item, &str)], out: &mut Outputs) -> Result<()> {
        let fault = as_fault(e).with_context(|| format!("transform {}: the component failed", self.id))?;
        self.fault_lost_state();
        out.note(&format!(
            "warning: transform {}: a batch of {} events failed in the component ({fault}); \
             they go to {}{ERRORS_SUFFIX} and a new instance goes on",
            self.id,
            events.len(),
            self.id
        ));
        let detail = format!("{}; the batch of {} events it was in failed with it", fault.detail, events.len());
        for (item, raw) in events {
            self.error(out, &item.origin, fault.reason, &detail, raw)?;
        }
        Ok(())
    }

    /// Count what an instance lost to a fault held: its open windows, its
    /// evictions so far.
    fn fault_lost_state(&mut self) {
        self.stats.guest_faults += 1;
        self.stats.windows_lost += self.open_windows;
        self.open_windows = 0;
        self.evicted_before += std::mem::take(&mut self.evicted_seen);
    }

    /// Count and write a scored event or aggregate.
    fn deliver(&mut self, sinks: &mut [Sink], scored: &str, verdict: &Verdict) -> Result<()> {
        self.stats.anomalies += u64::from(verdict.anomaly);
        self.stats.in_rare_clusters += u64::from(verdict.reasons.contains(Reasons::RARE_CLUSTER));
        for &s in &self.scored_to {
            sinks[s].write(scored, false, verdict.anomaly)?;
        }
        Ok(())
    }

    /// Aggregate events emitted by the component: scored, or errors.
    fn emitted(&mut self, lines: &ScoredLines, out: &mut Outputs) -> Result<()> {
        for r in &lines.emitted {
            self.stats.emitted += 1;
            match r {
                LineOutcome::Scored(s) => {
                    self.stats.emitted_scored += 1;
                    let scored = scored_text(self, lines, s.offset, s.len)?;
                    self.deliver(&mut out.sinks, scored, &s.verdict)?;
                }
                LineOutcome::Failed(e) => {
                    self.stats.emitted_errors += 1;
                    self.error(out, &aggregate_origin(), &e.reason, &e.detail, "")?;
                }
                other => bail!("transform {}: the component emitted an aggregate as {other:?}", self.id),
            }
        }
        Ok(())
    }

    /// Count one error, by reason.
    fn count_error(&mut self, reason: &str) {
        self.stats.errors += 1;
        if let Some(n) = self.stats.error_reasons.get_mut(reason) {
            *n += 1;
        } else {
            self.stats.error_reasons.insert(reason.to_string(), 1);
        }
    }

    /// Write an error record for one input record.
    fn error(&mut self, out: &mut Outputs, origin: &Origin, reason: &str, detail: &str, raw: &str) -> Result<()> {
        self.end_run(out)?;
        self.count_error(reason);
        let record = ErrorRecord {
            reason,
            detail,
            transform: &self.id,
            model: &self.stats.model,
            file: &origin.file,
            line: origin.line,
            event: raw,
            count: None,
            last_line: None,
        };
        out.error(&self.errors_to, &record)
    }

    /// A line the reader could not make an event of: it extends the run of
    /// identical errors (same file, reason, detail and text, the next
    /// line) or starts one. Every line is counted in `errors`.
    fn reader_error(&mut self, out: &mut Outputs, origin: &Origin, e: &logsieve_readers::ReadError) -> Result<()> {
        if let Some(run) = &mut self.run
            && run.origin.line + run.count == origin.line
            && run.origin.file == origin.file
            && run.reason == e.reason
            && run.detail == e.detail
            && run.raw == e.raw
        {
            run.count += 1;
            self.count_error(e.reason);
            self.stats.errors_collapsed += 1;
            return Ok(());
        }
        self.end_run(out)?;
        self.count_error(e.reason);
        self.run = Some(ErrorRun {
            origin: origin.clone(),
            count: 1,
            reason: e.reason,
            detail: e.detail.clone(),
            raw: e.raw.clone(),
        });
        Ok(())
    }

    /// Write the record of the run of reader errors, if one is open.
    fn end_run(&mut self, out: &mut Outputs) -> Result<()> {
        let Some(run) = self.run.take() else { return Ok(()) };
        let record = ErrorRecord {
            reason: run.reason,
            detail: &run.detail,
            transform: &self.id,
            model: &self.stats.model,
            file: &run.origin.file,
            line: run.origin.line,
            event: &run.raw,
            count: (run.count > 1).then_some(run.count),
            last_line: (run.count > 1).then_some(run.origin.line + run.count - 1),
        };
        out.error(&self.errors_to, &record)
    }

    /// End of input: the open windows emit their aggregates, scored and
    /// delivered; the counters are final.
    pub fn finish(&mut self, out: &mut Outputs) -> Result<()> {
        self.end_run(out)?;
        self.flush_windows(out)?;
        if let Ok(s) = self.instance.stats() {
            self.stats.evicted = self.evicted_before + s.evicted;
        }
        let scored = self.stats.scored + self.stats.emitted_scored;
        self.stats.rating = if scored > 0 { 10.0 * self.stats.in_rare_clusters as f64 / scored as f64 } else { 0.0 };
        Ok(())
    }

    /// Close the instance's open windows: their aggregates are scored and
    /// delivered. A fault here loses them (counted in `windows_lost`).
    fn flush_windows(&mut self, out: &mut Outputs) -> Result<()> {
        match self.instance.flush_lines() {
            Ok(lines) => self.emitted(&lines, out),
            Err(e) => {
                let fault = as_fault(e).with_context(|| format!("transform {}: flushing the component", self.id))?;
                self.fault_lost_state();
                out.note(&format!(
                    "warning: transform {}: flushing its windows failed ({fault}); they are lost",
                    self.id
                ));
                Ok(())
            }
        }
    }

    /// Between batches: if the model file changed, load it and switch to
    /// it, or report it refused and keep the current one.
    fn reload_if_changed(&mut self, out: &mut Outputs) -> Result<()> {
        let Some(seen) = &self.model_seen else {
            return Ok(());
        };
        let now = file_id(&self.model_path);
        let stat_changed = &now != seen;
        if !stat_changed && self.last_probe.elapsed() < CONTENT_PROBE {
            return Ok(());
        }
        self.last_probe = std::time::Instant::now();
        self.model_seen = Some(now.clone());
        if now.is_none() {
            // Gone for a moment (being replaced): keep serving.
            return Ok(());
        }
        let path = self.model_path.display().to_string();
        let refuse = |t: &mut Transform, out: &mut Outputs, why: String| {
            t.stats.reloads_refused += 1;
            out.note(&format!(
                "warning: transform {}: the new model file {path} was refused: {why}; model {} keeps serving",
                t.id, t.stats.model
            ));
        };
        let bytes = match crate::model_file::read(&self.model_path) {
            Ok(b) => b,
            Err(_) if !stat_changed => return Ok(()), // the periodic probe: said when the file changed
            Err(e) => {
                refuse(self, out, format!("it {e}"));
                return Ok(());
            }
        };
        let d = digest(&bytes);
        if d == self.model_digest {
            return Ok(()); // the same content (touched, or written again)
        }
        self.model_digest = d;
        let mut new = match self.runtime.instantiate_with(bytes.into(), self.options, self.limits) {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                refuse(self, out, runtime::describe(&e));
                return Ok(());
            }
            Err(e) => {
                refuse(self, out, format!("{e:#}"));
                return Ok(());
            }
        };
        let info = new.info()?;
        if info.dimension == 0 {
            refuse(self, out, "it holds only a spec (train it first)".into());
            return Ok(());
        }
        if info.id == self.stats.model {
            return Ok(()); // the same model written again
        }
        // The old model finishes what it holds: its windows emit, scored by it.
        self.flush_windows(out)?;
        if let Ok(s) = self.instance.stats() {
            self.evicted_before += s.evicted;
        }
        self.evicted_seen = 0;
        self.instance = new;
        self.open_windows = 0;
        self.stats.reloads += 1;
        out.note(&format!("transform {}: model {} replaced by {} from {path}", self.id, self.stats.model, info.id));
        self.stats.model = info.id.clone();
        self.stats.clustered = info.n_clusters > 0;
        self.stats.models.push(info.id);
        Ok(())
    }
}

/// A guest fault, or the error as it was (a failure of the host itself).
fn as_fault(e: anyhow::Error) -> Result<GuestFault> {
    match e.downcast_ref::<GuestFault>() {
        Some(f) => Ok(f.clone()),
        None => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(len: usize) -> Item {
        Item { origin: Origin { file: "t".into(), line: 1 }, result: Ok("x".repeat(len)) }
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
