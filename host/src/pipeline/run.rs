//! Running a pipeline: read sources, score in the component, write sinks,
//! and account for every event.
//!
//! Everything that can fail is opened first — the models and components
//! (every transform started), the file sources' globs, the network
//! sources' sockets — and only then the sinks, so a run that cannot start
//! leaves the last outputs as they were (a file sink is emptied at its
//! first line, see [`super::sinks`]).
//!
//! Every source runs on threads of its own ([`super::sources`]) into one
//! bounded queue; this thread gathers each source's events into chunks: up
//! to the largest `batch_size` of the transforms that take the source and
//! about [`MAX_BATCH_BYTES`] of text, or what has arrived once the first
//! event of the chunk has waited their smallest `flush_ms`, so a slow live
//! stream is not held back. Every logsieve transform that takes the source
//! scores each chunk ([`super::transform`] says what becomes of each
//! event); a transform with several instances (`threads`) scores the
//! batches of several chunks at once, each delivered to the sinks in
//! order, and every batch is delivered before a partial chunk (one cut by
//! `flush_ms`, the end of an HTTP request or of a source) waits for the
//! next; sinks are written after each chunk. An HTTP request is answered
//! once its events are written. At the end every transform is flushed
//! (open windows emit) and the accounting equations of [`Summary::check`]
//! are checked by the caller.
//!
//! Stopping: when `stop` becomes non-zero (SIGTERM or SIGINT, see `main`),
//! reading stops — standard input is read to the end of what it already
//! holds, files no further, network sources hand over what they received
//! (a line cut by the stop goes to errors) and refuse new requests — what
//! was read is scored and written, windows emit, and the summary says
//! which signal stopped the run.
//!
//! A sink that cannot be written (a full disk, a closed pipe) stops the run:
//! the summary up to that point is returned with the error in `failed`.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use logsieve_readers::{Follower, Item, Positions, Reader};

use super::config::{PipelineConfig, SourceConfig};
use super::sinks::{self, Outputs};
use super::sources::{self, Entry, Hub};
use super::summary::{Summary, peak_rss_mib};
use super::transform::{self, MAX_BATCH_BYTES, Pending, Transform};

/// The name of a stopping signal's number.
pub fn signal_name(sig: usize) -> String {
    match sig {
        2 => "SIGINT".into(),
        15 => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// Run a pipeline to the end of its inputs, or until `stop` holds a signal
/// number.
pub fn run(cfg: &PipelineConfig, quiet: bool, stop: &Arc<AtomicUsize>) -> Result<Summary> {
    run_with(cfg, quiet, stop, None)
}

/// [`run`], printing the counts so far on stderr every `stats_every`
/// (`logsieve run --stats-interval`).
pub fn run_with(
    cfg: &PipelineConfig,
    quiet: bool,
    stop: &Arc<AtomicUsize>,
    stats_every: Option<Duration>,
) -> Result<Summary> {
    let t0 = Instant::now();
    keep_freed_memory();
    let mut summary = Summary::default();
    // Everything that can fail first: models and components, then the
    // inputs' globs; the sinks last.
    let mut transforms = transform::start_all(cfg, quiet)?;
    let opened = Opened::open(cfg)?;
    // The endpoint is bound before any output is touched.
    let api = match &cfg.api {
        Some(a) => Some(super::api::Api::start(a.socket_addr().map_err(anyhow::Error::msg)?)?),
        None => None,
    };
    let mut out = Outputs::new(sinks::open(cfg)?, quiet);
    for line in opened.listening() {
        out.note(&line);
    }

    let mut ticker = Ticker { every: stats_every, start: t0, last: t0, last_in: 0, api: api.as_ref() };
    let mut checkpoints = Vec::new();
    match read_all(cfg, &mut transforms, &mut out, opened, &mut summary, stop, &mut ticker) {
        Ok(c) => checkpoints = c,
        Err(e) => summary.failed = Some(format!("{e:#}")),
    }
    if summary.failed.is_none() {
        // End of input: open windows emit their aggregates; then followed
        // sources' last positions are saved.
        let mut end = || -> Result<()> {
            for t in &mut transforms {
                t.finish(&mut out)?;
            }
            out.close()?;
            for (id, path, at) in &checkpoints {
                at.save(path).with_context(|| format!("source {id}: writing {}", path.display()))?;
            }
            Ok(())
        };
        if let Err(e) = end() {
            summary.failed = Some(format!("{e:#}"));
        }
    }
    let sig = stop.load(Ordering::SeqCst);
    if sig != 0 {
        summary.stopped_by = Some(signal_name(sig));
    }
    summary.errors_to_stderr = out.errors_to_stderr;
    for t in transforms {
        summary.transforms.insert(t.id, t.stats);
    }
    for s in out.sinks {
        summary.sinks.insert(s.id, s.stats);
    }
    summary.seconds = t0.elapsed().as_secs_f64();
    summary.peak_rss_mib = peak_rss_mib();
    if let Some(api) = &api {
        api.publish(summary.clone());
    }
    Ok(summary)
}

/// Each batch's scored text (hundreds of KiB) is allocated by a scoring
/// thread and freed by the pipeline's thread. glibc's malloc would give
/// such blocks back to the system at every free (a fresh `mmap`, or a
/// trimmed arena) and fault their pages in again for the next batch: 16 ×
/// more page faults with two threads than with one. Blocks up to 32 MiB
/// are kept in the heap and free memory at its top is kept up to 64 MiB
/// instead (what a run holds stays bounded by its batches in flight).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes two of malloc's thresholds; it is called
    // before the pipeline's threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

/// A source as the pipeline's thread sees it: its transforms, the chunk
/// being gathered, and how it is started.
struct SourceRun<'a> {
    id: &'a String,
    /// The transforms that take it.
    mine: Vec<usize>,
    /// Events per chunk: the largest `batch_size` of its transforms.
    chunk: usize,
    /// A partial chunk is scored once its first event waited this long:
    /// the smallest `flush_ms` of its transforms.
    flush_after: Duration,
    /// The chunk being gathered, its text's size, when its first event came.
    items: Vec<Item>,
    bytes: usize,
    first: Option<Instant>,
    /// Its thread, until started: files read once are started one source
    /// after the other.
    start: Option<Start>,
    ended: bool,
    /// Standard input: its reader is blocked waiting for bytes.
    in_read: Option<Arc<AtomicBool>>,
    /// A followed source's checkpoints.
    checkpoint: Option<Checkpoint>,
}

/// A followed source's checkpoint file and the positions it is to hold.
struct Checkpoint {
    path: PathBuf,
    /// Positions after events still in the chunk being gathered.
    open: Option<Positions>,
    /// Positions after events all handed to the transforms (written once
    /// every batch in flight is delivered), not saved yet.
    done: Option<Positions>,
}

/// A followed source's checkpoint file.
pub fn checkpoint_path(data_dir: &std::path::Path, source: &str) -> PathBuf {
    data_dir.join(format!("{source}.checkpoints.json"))
}

/// Save the positions of every followed source whose events before them
/// are all written (the caller has delivered and synced the sinks).
fn save_checkpoints(runs: &mut [SourceRun]) -> Result<()> {
    for r in runs {
        if let Some(cp) = &mut r.checkpoint
            && let Some(p) = cp.done.take()
        {
            p.save(&cp.path).with_context(|| format!("source {}: writing {}", r.id, cp.path.display()))?;
        }
    }
    Ok(())
}

/// Followed sources' checkpoints are saved at most this often.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How a source's thread is started.
enum Start {
    Reader(Reader, bool),
    Follow(Follower),
    Socket(sources::Listener, logsieve_readers::Format),
    Http(sources::HttpSource),
}

/// What a source needs opened before any output is touched: file globs
/// expanded, sockets bound.
pub struct Opened {
    paths: BTreeMap<String, Vec<PathBuf>>,
    /// Followed sources: their checkpoint files, and where they resume
    /// (the checkpoints read).
    follow: BTreeMap<String, (PathBuf, Positions)>,
    listeners: BTreeMap<String, sources::Listener>,
    http: BTreeMap<String, sources::HttpSource>,
}

impl Opened {
    /// Expand every file source's globs and bind every network source.
    pub fn open(cfg: &PipelineConfig) -> Result<Opened> {
        let mut o = Opened {
            paths: BTreeMap::new(),
            follow: BTreeMap::new(),
            listeners: BTreeMap::new(),
            http: BTreeMap::new(),
        };
        for (sid, source) in &cfg.sources {
            match source {
                SourceConfig::File { path, follow: false, .. } => {
                    let found =
                        logsieve_readers::expand_inputs(&path.to_vec()).with_context(|| format!("source {sid}"))?;
                    o.paths.insert(sid.clone(), found);
                }
                SourceConfig::File { follow: true, data_dir, .. } => {
                    // `PipelineConfig` gives a followed source its default
                    // data_dir when it has none.
                    let dir = data_dir.as_deref().expect("a followed source's data_dir");
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("source {sid}: creating its data_dir {}", dir.display()))?;
                    let path = checkpoint_path(dir, sid);
                    let at = Positions::load(&path).with_context(|| format!("source {sid}: its checkpoints"))?;
                    o.follow.insert(sid.clone(), (path, at));
                }
                SourceConfig::Socket { mode, address, path, .. } => {
                    let l = sources::Listener::bind(sid, *mode, address.as_deref(), path.as_deref())?;
                    o.listeners.insert(sid.clone(), l);
                }
                SourceConfig::HttpServer { address, path, format, max_body_bytes } => {
                    let h = sources::HttpSource::bind(sid, address, path, *format, *max_body_bytes)?;
                    o.http.insert(sid.clone(), h);
                }
                SourceConfig::Stdin { .. } => {}
            }
        }
        Ok(o)
    }

    /// What the network sources listen on (a port given as 0 is the one
    /// the system chose).
    fn listening(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (id, l) in &self.listeners {
            match l.local_addr() {
                Some(a) => lines.push(format!("logsieve: source {id}: listening on tcp {a}")),
                None => lines.push(format!("logsieve: source {id}: listening on its unix socket")),
            }
        }
        for (id, h) in &self.http {
            if let Some(a) = h.local_addr() {
                lines.push(format!("logsieve: source {id}: listening on http://{a}{}", h.path));
            }
        }
        lines
    }
}

/// Once stopping, wait at most this long for the sources to hand over what
/// they read (standard input that never blocks, say).
const STOP_GRACE: Duration = Duration::from_secs(5);
/// While waiting for input, look at `stop` (and publish the counts) this
/// often.
const TICK: Duration = Duration::from_millis(50);

/// Read every source through its transforms: all at once (files read once
/// one after the other), each source's events in chunks, in order.
fn read_all(
    cfg: &PipelineConfig,
    transforms: &mut [Transform],
    out: &mut Outputs,
    mut opened: Opened,
    summary: &mut Summary,
    stop: &Arc<AtomicUsize>,
    ticker: &mut Ticker<'_>,
) -> Result<Vec<(String, PathBuf, Positions)>> {
    let mut runs: Vec<SourceRun> = Vec::new();
    let mut depth = 1;
    for (sid, source) in &cfg.sources {
        let mine: Vec<usize> =
            (0..transforms.len()).filter(|&i| transforms[i].inputs.iter().any(|x| x == sid)).collect();
        let chunk = mine.iter().map(|&i| transforms[i].batch_size).max().unwrap_or(1000);
        let flush_after = mine.iter().map(|&i| transforms[i].flush_after).min().unwrap_or(Duration::from_secs(1));
        // The sources run up to one chunk ahead per scoring thread (and
        // one), so that the instances are not kept waiting while this
        // thread writes.
        depth = depth
            .max(chunk.saturating_mul(1 + mine.iter().map(|&i| transforms[i].scoring_threads()).max().unwrap_or(1)));
        let mut in_read = None;
        let mut checkpoint = None;
        let start = match source {
            SourceConfig::File { format, follow: true, path, .. } => {
                let (file, at) = opened.follow.remove(sid).expect("the source's checkpoints");
                checkpoint = Some(Checkpoint { path: file, open: None, done: None });
                Start::Follow(Follower::new(path.to_vec(), *format, at))
            }
            SourceConfig::File { format, .. } => {
                Start::Reader(Reader::open(opened.paths.remove(sid).unwrap_or_default(), *format), false)
            }
            SourceConfig::Stdin { format } => {
                let flag = Arc::new(AtomicBool::new(false));
                let input = sources::StopAwareStdin { stop: Arc::clone(stop), in_read: Arc::clone(&flag) };
                in_read = Some(flag);
                Start::Reader(Reader::from_reader("<stdin>", Box::new(input), *format), true)
            }
            SourceConfig::Socket { format, .. } => {
                Start::Socket(opened.listeners.remove(sid).expect("the source's socket"), *format)
            }
            SourceConfig::HttpServer { .. } => Start::Http(opened.http.remove(sid).expect("the source's server")),
        };
        summary.sources.entry(sid.clone()).or_default();
        runs.push(SourceRun {
            id: sid,
            mine,
            chunk,
            flush_after,
            items: Vec::new(),
            bytes: 0,
            first: None,
            start: Some(start),
            ended: false,
            in_read,
            checkpoint,
        });
    }
    let hub = Hub::new(depth);
    let start = |src: usize, runs: &mut [SourceRun]| match runs[src].start.take() {
        Some(Start::Reader(r, live)) => sources::spawn_reader(&hub, src, r, live, stop),
        Some(Start::Follow(f)) => sources::spawn_follow(&hub, src, f, stop),
        Some(Start::Socket(l, format)) => sources::spawn_socket(&hub, src, l, format, stop),
        Some(Start::Http(h)) => sources::spawn_http(&hub, src, h, stop),
        None => {}
    };
    // Live sources start now; files read once, the first of them.
    let batch_file = |r: &SourceRun| matches!(r.start, Some(Start::Reader(_, false)));
    for src in 0..runs.len() {
        if !batch_file(&runs[src]) {
            start(src, &mut runs);
        }
    }
    if let Some(src) = runs.iter().position(batch_file) {
        start(src, &mut runs);
    }

    let r = (|| -> Result<()> {
        // Batches handed to instances on other threads, not delivered yet.
        let mut pending = Pending::default();
        let mut got: VecDeque<(usize, Entry)> = VecDeque::new();
        let mut stopping_since: Option<Instant> = None;
        let mut last_saved = Instant::now();
        while runs.iter().any(|r| !r.ended) {
            if stop.load(Ordering::SeqCst) != 0 {
                let since = *stopping_since.get_or_insert_with(Instant::now);
                // Files not started yet are not read.
                for r in runs.iter_mut().filter(|r| r.start.is_some()) {
                    r.start = None;
                    r.ended = true;
                }
                // Standard input blocked in a read holds nothing more.
                let waiting = runs
                    .iter()
                    .filter(|r| !r.ended)
                    .any(|r| r.in_read.as_ref().is_none_or(|f| !f.load(Ordering::SeqCst)));
                if !waiting || since.elapsed() > STOP_GRACE {
                    hub.take(&mut got, Duration::ZERO, 0);
                    if got.is_empty() {
                        break;
                    }
                }
            }
            hub.take(&mut got, Duration::ZERO, 0);
            if got.is_empty() {
                // Nothing new: what the instances have scored is written,
                // and partial chunks whose time has come are scored.
                if !pending.is_empty() && pending.deliver_ready(transforms, out, usize::MAX)? > 0 {
                    out.flush()?;
                }
                for run in &mut runs {
                    if run.first.is_some_and(|t| t.elapsed() >= run.flush_after) {
                        process(run, transforms, &mut pending, out, summary, true)?;
                    }
                }
                ticker.tick(transforms, &summary.sources, out);
                let wait = runs
                    .iter()
                    .filter_map(|r| r.first.map(|t| r.flush_after.saturating_sub(t.elapsed())))
                    .min()
                    .unwrap_or(TICK)
                    .min(TICK);
                // Woken early only by the rest of a partial chunk (or a
                // first event, or a signal), not by every event.
                let wants = runs
                    .iter()
                    .filter(|r| !r.items.is_empty())
                    .map(|r| r.chunk.saturating_sub(r.items.len()))
                    .min()
                    .unwrap_or(1);
                hub.take(&mut got, wait.max(Duration::from_millis(1)), wants);
            }
            while let Some((src, entry)) = got.pop_front() {
                match entry {
                    Entry::Items(items) => gather(&mut runs[src], items, transforms, &mut pending, out, summary)?,
                    Entry::Item(item) => {
                        gather(&mut runs[src], [item], transforms, &mut pending, out, summary)?;
                    }
                    Entry::Ack(answer) => {
                        // Everything before it written, then answered.
                        process(&mut runs[src], transforms, &mut pending, out, summary, true)?;
                        pending.drain(transforms, out)?;
                        out.sync()?;
                        let _ = answer.send(());
                    }
                    Entry::Pause => process(&mut runs[src], transforms, &mut pending, out, summary, true)?,
                    Entry::Mark(at) => {
                        let run = &mut runs[src];
                        if let Some(cp) = &mut run.checkpoint {
                            if run.items.is_empty() {
                                cp.done = Some(at);
                            } else {
                                cp.open = Some(at);
                            }
                        }
                    }
                    Entry::End => {
                        process(&mut runs[src], transforms, &mut pending, out, summary, true)?;
                        runs[src].ended = true;
                        if let Some(next) = runs.iter().position(batch_file) {
                            start(next, &mut runs);
                        }
                    }
                }
            }
            ticker.tick(transforms, &summary.sources, out);
            if last_saved.elapsed() >= CHECKPOINT_EVERY
                && runs.iter().any(|r| r.checkpoint.as_ref().is_some_and(|c| c.done.is_some()))
            {
                pending.drain(transforms, out)?;
                out.sync()?;
                save_checkpoints(&mut runs)?;
                last_saved = Instant::now();
            }
        }
        // What was read is scored and written.
        for run in &mut runs {
            process(run, transforms, &mut pending, out, summary, true)?;
        }
        pending.drain(transforms, out)?;
        out.flush()
    })();
    // The sources' threads stop at their next entry.
    hub.close();
    r?;
    // Saved once the run's end has written everything (windows included).
    Ok(runs.into_iter().filter_map(|r| r.checkpoint.and_then(|c| c.done.map(|d| (r.id.clone(), c.path, d)))).collect())
}

/// Add `items` to `run`'s chunk, scoring each chunk that fills.
fn gather(
    run: &mut SourceRun,
    items: impl IntoIterator<Item = Item>,
    transforms: &mut [Transform],
    pending: &mut Pending,
    out: &mut Outputs,
    summary: &mut Summary,
) -> Result<()> {
    for item in items {
        run.bytes += sources::item_bytes(&item);
        run.items.push(item);
        run.first.get_or_insert_with(Instant::now);
        if run.items.len() >= run.chunk || run.bytes >= MAX_BATCH_BYTES {
            process(run, transforms, pending, out, summary, false)?;
        }
    }
    Ok(())
}

/// Score the chunk `run` has gathered (if any); with `partial` (nothing
/// more is queued for it now: a live stream that paused, the end of a
/// request or of the source) what was read reaches the sinks now, not when
/// the next chunk arrives.
fn process(
    run: &mut SourceRun,
    transforms: &mut [Transform],
    pending: &mut Pending,
    out: &mut Outputs,
    summary: &mut Summary,
    partial: bool,
) -> Result<()> {
    if run.items.is_empty() {
        return Ok(());
    }
    let items = std::mem::replace(&mut run.items, Vec::with_capacity(run.chunk.min(4096)));
    run.bytes = 0;
    run.first = None;
    let stats = summary.sources.get_mut(run.id).expect("the source's counts");
    stats.read += items.len() as u64;
    stats.read_errors += items.iter().filter(|i| i.result.is_err()).count() as u64;
    transform::process_chunk(transforms, &run.mine, &Arc::new(items), pending, out)?;
    if let Some(cp) = &mut run.checkpoint
        && let Some(at) = cp.open.take()
    {
        cp.done = Some(at);
    }
    if partial {
        pending.drain(transforms, out)?;
        for &t in &run.mine {
            transforms[t].end_error_run(out)?;
        }
    }
    out.flush()
}

/// The counts so far, on stderr every `every` (`--stats-interval`): per
/// transform, events in (and the rate since the last line), scored,
/// errors, anomalies; and to the `[api]` endpoint at every tick.
struct Ticker<'a> {
    every: Option<Duration>,
    start: Instant,
    last: Instant,
    /// Events in, over the transforms, at the last line.
    last_in: u64,
    /// The `[api]` endpoint, given the counts so far at every tick.
    api: Option<&'a super::api::Api>,
}

impl Ticker<'_> {
    fn tick(
        &mut self,
        transforms: &[Transform],
        sources: &BTreeMap<String, super::summary::SourceStats>,
        out: &Outputs,
    ) {
        if let Some(api) = self.api {
            api.publish(Summary {
                sources: sources.clone(),
                transforms: transforms.iter().map(|t| (t.id.clone(), t.stats.clone())).collect(),
                sinks: out.sinks.iter().map(|s| (s.id.clone(), s.stats.clone())).collect(),
                errors_to_stderr: out.errors_to_stderr,
                seconds: self.start.elapsed().as_secs_f64(),
                ..Default::default()
            });
        }
        let Some(every) = self.every else { return };
        let now = Instant::now();
        let since = now.duration_since(self.last);
        if since < every {
            return;
        }
        let total: u64 = transforms.iter().map(|t| t.stats.input).sum();
        let rate = (total - self.last_in) as f64 / since.as_secs_f64();
        let mut line =
            format!("logsieve: {:.1} s: {:.0} events/s;", now.duration_since(self.start).as_secs_f64(), rate);
        for t in transforms {
            let s = &t.stats;
            line += &format!(
                " transform {}: {} in, {} scored, {} errors, {} anomalies;",
                t.id, s.input, s.scored, s.errors, s.anomalies
            );
        }
        line.pop();
        eprintln!("{line}");
        self.last = now;
        self.last_in = total;
    }
}
