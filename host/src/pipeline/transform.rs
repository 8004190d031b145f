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
//!
//! Threads: with `threads` = N > 1 (the default on a machine with several
//! cores) N instances of the model score batches at once, each on its own
//! thread ([`Pool`]). The pipeline's thread hands them the batches and
//! delivers their results in the order the batches came ([`Pending`]),
//! so the outputs, the counts and every error record are those of one
//! instance, byte for byte. Before a batch whose model file changed, every
//! batch in flight is delivered first: all instances switch to the new
//! model between the same two batches. A guest fault re-creates only the
//! instance it happened in. A model with per-key state (`[aggregate]`
//! windows, an `inter_arrival` derive, a flow2vec `sequence`) is scored by
//! one instance on the pipeline's thread, as with `threads = 1`: a key's
//! events must reach one instance, in order.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};

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
    /// The instance scoring on the pipeline's thread (`None` while a
    /// [`Pool`] scores).
    instance: Option<Instance>,
    /// Instances scoring on their own threads.
    pool: Option<Pool>,
    /// How many instances may score (the `threads` key).
    threads: usize,
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
    let mut runtimes = Runtimes::new();
    cfg.transforms.iter().map(|(id, t)| start_one(cfg, id, t, &mut runtimes, quiet)).collect()
}

/// Start every transform as [`start_all`] does, then drop them: why each
/// one that cannot start cannot (`logsieve validate`).
pub fn check_all(cfg: &PipelineConfig) -> Vec<String> {
    let mut runtimes = Runtimes::new();
    cfg.transforms
        .iter()
        .filter_map(|(id, t)| start_one(cfg, id, t, &mut runtimes, true).err())
        .map(|e| format!("{e:#}"))
        .collect()
}

/// The runtimes started so far: one per component file and deadline setting.
type Runtimes = BTreeMap<(Option<PathBuf>, Deadlines), Runtime>;

/// Start one transform: its runtime (shared), its instance, its model.
fn start_one(
    cfg: &PipelineConfig,
    id: &str,
    t: &TransformConfig,
    runtimes: &mut Runtimes,
    quiet: bool,
) -> Result<Transform> {
    let takers = |output: &str| -> Vec<usize> {
        cfg.sinks.values().enumerate().filter(|(_, s)| s.inputs().iter().any(|i| i == output)).map(|(n, _)| n).collect()
    };
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
        threads,
    } = t;
    // `batch_timeout_ms = 0`: no deadline, and the component compiled
    // without interruption checks (a separate runtime).
    let deadlines = if *batch_timeout_ms == 0 { Deadlines::Off } else { Deadlines::On };
    let key = (plugin.clone(), deadlines);
    if !runtimes.contains_key(&key) {
        let rt = runtime::load_with(plugin.as_deref(), deadlines).with_context(|| format!("transform {id}"))?;
        runtimes.insert(key.clone(), rt);
    }
    let rt = runtimes[&key].clone();
    let seen = file_id(model);
    let bytes = crate::model_file::read_model(model).with_context(|| format!("transform {id}"))?;
    let model_digest = digest(&bytes);
    let options = Options { top_features: *top_features, emit_vector: *emit_vector };
    let limits = Limits {
        memory_bytes: (*memory_limit_mb as usize) << 20,
        call_timeout: std::time::Duration::from_millis(*batch_timeout_ms),
    };
    let bytes: Arc<[u8]> = bytes.into();
    let mut instance = rt
        .instantiate_with(Arc::clone(&bytes), options, limits)
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
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut t = Transform {
        id: id.to_string(),
        inputs: inputs.clone(),
        runtime: rt,
        instance: None,
        pool: None,
        threads,
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
    };
    t.install(instance, &bytes)?;
    Ok(t)
}

/// A batch holds at most `batch_size` events and at most this many bytes of
/// event text (at least one event): a few very large events (the readers
/// allow lines up to 16 MiB) then go in small batches instead of driving
/// one batch past the component's memory limit.
pub const MAX_BATCH_BYTES: usize = 16 << 20;

/// Split `items` into batches by count and by bytes: their ranges.
pub fn batch_ranges(items: &[Item], batch_size: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start == items.len() {
            return None;
        }
        let mut bytes = 0;
        let mut n = 0;
        for item in items[start..].iter().take(batch_size) {
            let len = item.result.as_ref().map_or(0, String::len);
            if n > 0 && bytes + len > MAX_BATCH_BYTES {
                break;
            }
            bytes += len;
            n += 1;
        }
        let range = start..start + n;
        start += n;
        Some(range)
    })
}

/// Split `items` into batches by count and by bytes.
pub fn batches(items: &[Item], batch_size: usize) -> impl Iterator<Item = &[Item]> {
    batch_ranges(items, batch_size).map(|r| &items[r])
}

/// Whether a model keeps state per key between events (`[aggregate]`
/// windows, an `inter_arrival` derive, a flow2vec `sequence`), so that its
/// events must all reach one instance in order. A file the host cannot
/// decode (another component's format) is taken as stateful.
fn per_key_state(model: &[u8]) -> bool {
    let Ok(decoded) = logsieve_artifact::decode(model) else {
        return true;
    };
    let spec = &decoded.model.spec;
    spec.aggregate.is_some()
        || spec.derive.iter().any(|d| matches!(d.op, logsieve_artifact::spec::DeriveOp::InterArrival { .. }))
        || spec.flow2vec.as_ref().is_some_and(|f| f.sequence > 0)
}

/// A batch as the component takes it: one NDJSON text of its events (a
/// reader's event is one line: it holds no raw newline). Items the reader
/// could not read are not in it.
fn batch_text(batch: &[Item]) -> String {
    let mut text = String::new();
    batch_text_into(batch, &mut text);
    text
}

/// [`batch_text`] into a buffer kept from batch to batch (no new pages to
/// fault in for each batch).
fn batch_text_into(batch: &[Item], text: &mut String) {
    text.clear();
    text.reserve(batch.iter().map(|i| i.result.as_ref().map_or(0, |t| t.len() + 1)).sum());
    for item in batch {
        if let Ok(event) = &item.result {
            debug_assert!(!event.contains('\n'), "a reader's event is one line");
            text.push_str(event);
            text.push('\n');
        }
    }
}

/// A batch for a worker: its items, and where its result goes.
struct Job {
    chunk: Arc<Vec<Item>>,
    range: Range<usize>,
    reply: SyncSender<Result<ScoredLines>>,
}

/// Instances of one model scoring batches on their own threads, each
/// taking the next batch when it is free. A guest fault re-creates the
/// instance it happened in (in its thread) and returns the fault as the
/// batch's result.
pub struct Pool {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<std::thread::JoinHandle<Instance>>,
}

impl Pool {
    /// `first` and `n - 1` more instances of the model, each on its thread.
    fn start(
        rt: &Runtime,
        first: Instance,
        model: &Arc<[u8]>,
        options: Options,
        limits: Limits,
        n: usize,
    ) -> Result<Pool> {
        let mut instances = vec![first];
        while instances.len() < n {
            let i = rt
                .instantiate_with(Arc::clone(model), options, limits)?
                .map_err(|e| anyhow::anyhow!("the model was refused: {}", runtime::describe(&e)))?;
            instances.push(i);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(n);
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::with_capacity(n);
        for (k, mut instance) in instances.into_iter().enumerate() {
            let rx = Arc::clone(&rx);
            let worker = std::thread::Builder::new().name(format!("logsieve-score-{k}")).spawn(move || {
                let mut text = String::new();
                loop {
                    let job = match rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv() {
                        Ok(job) => job,
                        Err(_) => break, // the pool is stopping
                    };
                    batch_text_into(&job.chunk[job.range.clone()], &mut text);
                    let _ = job.reply.send(instance.score_lines(&text));
                }
                instance
            })?;
            workers.push(worker);
        }
        Ok(Pool { jobs: Some(tx), workers })
    }

    /// Hand a batch to the next free instance.
    fn submit(&self, chunk: &Arc<Vec<Item>>, range: Range<usize>) -> Result<Receiver<Result<ScoredLines>>> {
        let (reply, result) = std::sync::mpsc::sync_channel(1);
        let job = Job { chunk: Arc::clone(chunk), range, reply };
        self.jobs.as_ref().expect("a running pool").send(job).map_err(|_| anyhow::anyhow!("a scoring thread ended"))?;
        Ok(result)
    }

    /// Stop the threads once their batches are done; their instances.
    fn stop(mut self) -> Result<Vec<Instance>> {
        drop(self.jobs.take());
        std::mem::take(&mut self.workers)
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow::anyhow!("a scoring thread panicked")))
            .collect()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for w in std::mem::take(&mut self.workers) {
            let _ = w.join();
        }
    }
}

/// A batch handed to a [`Pool`] and not delivered yet.
struct Waiting {
    transform: usize,
    chunk: Arc<Vec<Item>>,
    range: Range<usize>,
    /// `None`: nothing in it to score (only unreadable records).
    reply: Option<Receiver<Result<ScoredLines>>>,
    /// The result, once it came.
    done: Option<Result<ScoredLines>>,
    /// When it was handed over.
    since: std::time::Instant,
}

/// The batches in flight, across the transforms, in the order they would
/// have been scored one after the other: each is delivered (written, counted)
/// in that order, so the outputs do not depend on which instance was faster.
#[derive(Default)]
pub struct Pending {
    queue: VecDeque<Waiting>,
}

impl Pending {
    /// Whether no batch is in flight.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Deliver, in order, the batches whose results have come, and wait for
    /// the oldest while more than `keep` are in flight; how many were
    /// delivered.
    pub fn deliver_ready(&mut self, transforms: &mut [Transform], out: &mut Outputs, keep: usize) -> Result<usize> {
        let mut delivered = 0;
        while !self.queue.is_empty() {
            let in_flight = self.queue.len();
            let front = self.queue.front_mut().expect("a batch");
            if front.done.is_none()
                && let Some(reply) = &front.reply
            {
                match reply.try_recv() {
                    Ok(r) => front.done = Some(r),
                    Err(TryRecvError::Empty) if in_flight <= keep => return Ok(delivered),
                    Err(TryRecvError::Empty) => {
                        front.done = Some(reply.recv().map_err(|_| anyhow::anyhow!("a scoring thread ended"))?);
                    }
                    Err(TryRecvError::Disconnected) => bail!("a scoring thread ended"),
                }
            }
            let w = self.queue.pop_front().expect("a batch");
            let t = &mut transforms[w.transform];
            let scored = w.reply.is_some();
            t.deliver(&w.chunk[w.range], w.done, out)?;
            if scored {
                t.stats.batch_latency.observe(w.since.elapsed().as_secs_f64());
            }
            delivered += 1;
        }
        Ok(delivered)
    }

    /// Deliver every batch in flight.
    pub fn drain(&mut self, transforms: &mut [Transform], out: &mut Outputs) -> Result<()> {
        self.deliver_ready(transforms, out, 0).map(|_| ())
    }
}

/// Score one chunk of a source through the transforms that take it (their
/// indices in `mine`), batch by batch, in the order of one thread: the
/// batches of a transform with a [`Pool`] are handed to it and delivered
/// when their turn comes ([`Pending`]); a transform scoring on this thread
/// first delivers every batch in flight. At most twice as many batches as
/// a transform has threads are in flight (memory stays bounded).
pub fn process_chunk(
    transforms: &mut [Transform],
    mine: &[usize],
    chunk: &Arc<Vec<Item>>,
    pending: &mut Pending,
    out: &mut Outputs,
) -> Result<()> {
    for &ti in mine {
        let batch_size = transforms[ti].batch_size;
        for range in batch_ranges(chunk, batch_size) {
            if transforms[ti].model_changed() {
                // Every instance switches between the same two batches.
                pending.drain(transforms, out)?;
                transforms[ti].reload_if_changed(out)?;
            }
            let t = &mut transforms[ti];
            if let Some(pool) = &t.pool {
                let any = chunk[range.clone()].iter().any(|i| i.result.is_ok());
                let reply = if any { Some(pool.submit(chunk, range.clone())?) } else { None };
                let keep = 2 * t.threads;
                let since = std::time::Instant::now();
                pending.queue.push_back(Waiting {
                    transform: ti,
                    chunk: Arc::clone(chunk),
                    range,
                    reply,
                    done: None,
                    since,
                });
                pending.deliver_ready(transforms, out, keep)?;
            } else {
                pending.drain(transforms, out)?;
                transforms[ti].score(&chunk[range], out)?;
            }
        }
    }
    Ok(())
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
    /// One batch through the component on this thread (a transform
    /// without a [`Pool`]).
    fn score(&mut self, batch: &[Item], out: &mut Outputs) -> Result<()> {
        // The batch goes to the component as one NDJSON text (`score-lines`:
        // two strings cross the boundary, not two per event).
        let since = std::time::Instant::now();
        let result = if batch.iter().any(|i| i.result.is_ok()) {
            let instance = self.instance.as_mut().context("a transform without an instance")?;
            Some(instance.score_lines(&batch_text(batch)))
        } else {
            None
        };
        let scored = result.is_some();
        self.deliver(batch, result, out)?;
        if scored {
            self.stats.batch_latency.observe(since.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// Instances scoring on their own threads (0: it scores on the
    /// pipeline's thread).
    pub fn scoring_threads(&self) -> usize {
        if self.pool.is_some() { self.threads } else { 0 }
    }

    /// Whether the model file changed since it was last seen (reloading on).
    fn model_changed(&self) -> bool {
        self.model_seen.as_ref().is_some_and(|seen| &file_id(&self.model_path) != seen)
    }

    /// One batch's result, written and counted: every event is accounted
    /// for (`result` is `None` when the batch held no readable event).
    fn deliver(&mut self, batch: &[Item], result: Option<Result<ScoredLines>>, out: &mut Outputs) -> Result<()> {
        self.stats.input += batch.len() as u64;
        let mut events: Vec<(&Item, &str)> = Vec::with_capacity(batch.len());
        for item in batch {
            match &item.result {
                Ok(event) => events.push((item, event)),
                Err(e) => self.reader_error(out, &item.origin, e)?,
            }
            if item.result.is_ok() {
                self.end_run(out)?;
            }
        }
        if events.is_empty() {
            return Ok(());
        }
        let Some(result) = result else {
            bail!("transform {}: a batch of {} events was not scored", self.id, events.len());
        };
        let lines = match result {
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
        if self.whole_block(&lines, out) {
            return self.deliver_block(lines, out);
        }
        let mut absorbed = false;
        for (outcome, (item, raw)) in lines.outcomes.iter().zip(&events) {
            match outcome {
                LineOutcome::Scored(s) => {
                    self.stats.scored += 1;
                    let scored = scored_text(self, &lines, s.offset, s.len)?;
                    self.write_scored(&mut out.sinks, scored, &s.verdict)?;
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
        if (absorbed || any_emitted)
            && let Some(instance) = &mut self.instance
        {
            // Only windowed models hold state worth counting (and they are
            // scored on this thread).
            match instance.stats() {
                Ok(s) => {
                    self.open_windows = s.open_windows;
                    self.evicted_seen = s.evicted;
                }
                Err(_) => self.open_windows = 0,
            }
        }
        Ok(())
    }

    /// The common case, cheaply: every event of the batch scored, their
    /// texts one after the other filling the component's text, no
    /// aggregate, no sink keeping only anomalies: the text can be written
    /// as one block to each sink (the same bytes as line by line).
    fn whole_block(&self, lines: &ScoredLines, out: &Outputs) -> bool {
        if !lines.emitted.is_empty() || self.scored_to.iter().any(|&s| out.sinks[s].only_anomalies()) {
            return false;
        }
        let text = lines.text.as_bytes();
        let mut at = 0usize;
        for outcome in &lines.outcomes {
            let LineOutcome::Scored(s) = outcome else {
                return false;
            };
            let end = at + s.len as usize;
            if s.offset as usize != at || text.get(end) != Some(&b'\n') {
                return false;
            }
            at = end + 1;
        }
        at == text.len()
    }

    /// Deliver a batch [`Transform::whole_block`] accepted: counted, and
    /// its text handed to each sink as one block (to the last one without
    /// a copy).
    fn deliver_block(&mut self, lines: ScoredLines, out: &mut Outputs) -> Result<()> {
        for outcome in &lines.outcomes {
            if let LineOutcome::Scored(s) = outcome {
                self.stats.anomalies += u64::from(s.verdict.anomaly);
                self.stats.in_rare_clusters += u64::from(s.verdict.reasons.contains(Reasons::RARE_CLUSTER));
            }
        }
        let n = lines.outcomes.len() as u64;
        self.stats.scored += n;
        let mut text = Some(lines.text);
        for (k, &s) in self.scored_to.iter().enumerate() {
            let block = if k + 1 == self.scored_to.len() {
                text.take().unwrap_or_default()
            } else {
                text.clone().unwrap_or_default()
            };
            out.sinks[s].write_block(block, n)?;
        }
        Ok(())
    }

    /// A batch lost to a guest fault: its events go to the errors output
    /// with the fault's reason; the state the old instance held is counted
    /// as lost. A failure of the host itself is returned as it is.
    fn lost(&mut self, e: anyhow::Error, events: &[(&Item, &str)], out: &mut Outputs) -> Result<()> {
        let fault = as_fault(e).with_context(|| format!("transform {}: the component failed", self.id))?;
        self.fault_lost_state();
        tracing::warn!(
            "transform {}: a batch of {} events failed in the component ({fault}); \
             they go to {}{ERRORS_SUFFIX} and a new instance goes on",
            self.id,
            events.len(),
            self.id
        );
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
    fn write_scored(&mut self, sinks: &mut [Sink], scored: &str, verdict: &Verdict) -> Result<()> {
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
                    self.write_scored(&mut out.sinks, scored, &s.verdict)?;
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

    /// The input paused (a partial chunk, every batch delivered): the run
    /// of reader errors being collapsed is written now, not when a live
    /// stream's next line comes.
    pub fn end_error_run(&mut self, out: &mut Outputs) -> Result<()> {
        self.end_run(out)
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
        self.retire(out)?;
        self.stats.evicted = self.evicted_before;
        let scored = self.stats.scored + self.stats.emitted_scored;
        self.stats.rating = if scored > 0 { 10.0 * self.stats.in_rare_clusters as f64 / scored as f64 } else { 0.0 };
        Ok(())
    }

    /// The model's instances are done (end of input, or a new model): each
    /// one's open windows emit, scored by it, and its evictions are counted.
    fn retire(&mut self, out: &mut Outputs) -> Result<()> {
        let instances = match (self.instance.take(), self.pool.take()) {
            (Some(i), _) => vec![i],
            (None, Some(pool)) => pool.stop()?,
            (None, None) => Vec::new(),
        };
        for mut instance in instances {
            self.flush_windows(&mut instance, out)?;
            if let Ok(s) = instance.stats() {
                self.evicted_before += s.evicted;
            }
        }
        self.evicted_seen = 0;
        self.open_windows = 0;
        Ok(())
    }

    /// Score with `first` (and, if the model has no per-key state and
    /// `threads` > 1, more instances of it on their own threads).
    fn install(&mut self, first: Instance, model: &Arc<[u8]>) -> Result<()> {
        if self.threads > 1 && !per_key_state(model) {
            let pool = Pool::start(&self.runtime, first, model, self.options, self.limits, self.threads)
                .with_context(|| format!("transform {}: starting {} component instances", self.id, self.threads))?;
            self.pool = Some(pool);
        } else {
            self.instance = Some(first);
        }
        Ok(())
    }

    /// Close an instance's open windows: their aggregates are scored and
    /// delivered. A fault here loses them (counted in `windows_lost`).
    fn flush_windows(&mut self, instance: &mut Instance, out: &mut Outputs) -> Result<()> {
        match instance.flush_lines() {
            Ok(lines) => self.emitted(&lines, out),
            Err(e) => {
                let fault = as_fault(e).with_context(|| format!("transform {}: flushing the component", self.id))?;
                self.fault_lost_state();
                tracing::warn!("transform {}: flushing its windows failed ({fault}); they are lost", self.id);
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
        let refuse = |t: &mut Transform, why: String| {
            t.stats.reloads_refused += 1;
            tracing::warn!(
                "transform {}: the new model file {path} was refused: {why}; model {} keeps serving",
                t.id,
                t.stats.model
            );
        };
        let bytes = match crate::model_file::read(&self.model_path) {
            Ok(b) => b,
            Err(_) if !stat_changed => return Ok(()), // the periodic probe: said when the file changed
            Err(e) => {
                refuse(self, format!("it {e}"));
                return Ok(());
            }
        };
        let d = digest(&bytes);
        if d == self.model_digest {
            return Ok(()); // the same content (touched, or written again)
        }
        self.model_digest = d;
        let bytes: Arc<[u8]> = bytes.into();
        let mut new = match self.runtime.instantiate_with(Arc::clone(&bytes), self.options, self.limits) {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                refuse(self, runtime::describe(&e));
                return Ok(());
            }
            Err(e) => {
                refuse(self, format!("{e:#}"));
                return Ok(());
            }
        };
        let info = new.info()?;
        if info.dimension == 0 {
            refuse(self, "it holds only a spec (train it first)".into());
            return Ok(());
        }
        if info.id == self.stats.model {
            return Ok(()); // the same model written again
        }
        // The old model finishes what it holds: its windows emit, scored by it.
        self.retire(out)?;
        self.install(new, &bytes)?;
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
