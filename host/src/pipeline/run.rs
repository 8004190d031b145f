//! Running a pipeline: read sources, score in the component, write sinks,
//! and account for every event.
//!
//! Everything that can fail is opened first — the models and components
//! (every transform started), the file sources' globs — and only then the
//! sinks, so a run that cannot start leaves the last outputs as they were
//! (a file sink is emptied at its first line, see [`super::sinks`]).
//!
//! Each source is read in order by a reader thread into a bounded queue;
//! the main thread takes chunks from it: up to the largest `batch_size`
//! of the transforms that take the source and about [`MAX_BATCH_BYTES`] of
//! text, or what has arrived once the first event of the chunk has waited
//! their smallest `flush_ms`, so a slow live stream is not held back. Every
//! logsieve transform that takes the source scores each chunk
//! ([`super::transform`] says what becomes of each event); a transform
//! with several instances (`threads`) scores the batches of several chunks
//! at once, each delivered to the sinks in order, and every batch is
//! delivered before a partial chunk (one cut by `flush_ms`) waits for the
//! next; sinks are written after each chunk. At the end every transform is flushed (open
//! windows emit) and the accounting equations of [`Summary::check`] are
//! checked by the caller.
//!
//! Stopping: when `stop` becomes non-zero (SIGTERM or SIGINT, see `main`),
//! reading stops — standard input is read to the end of what it already
//! holds, files no further — what was read is scored and written, windows
//! emit, and the summary says which signal stopped the run.
//!
//! A sink that cannot be written (a full disk, a closed pipe) stops the run:
//! the summary up to that point is returned with the error in `failed`.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use logsieve_readers::{Item, Reader};

use super::config::{PipelineConfig, SourceConfig};
use super::sinks::{self, Outputs};
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
    let mut paths: BTreeMap<&String, Vec<PathBuf>> = BTreeMap::new();
    for (sid, source) in &cfg.sources {
        if let SourceConfig::File { path, .. } = source {
            let found = logsieve_readers::expand_inputs(&path.to_vec()).with_context(|| format!("source {sid}"))?;
            paths.insert(sid, found);
        }
    }
    // The endpoint is bound before any output is touched.
    let api = match &cfg.api {
        Some(a) => Some(super::api::Api::start(a.socket_addr().map_err(anyhow::Error::msg)?)?),
        None => None,
    };
    let mut out = Outputs::new(sinks::open(cfg)?, quiet);

    let mut ticker = Ticker { every: stats_every, start: t0, last: t0, last_in: 0, api: api.as_ref() };
    if let Err(e) = read_all(cfg, &mut transforms, &mut out, &mut paths, &mut summary, stop, &mut ticker) {
        summary.failed = Some(format!("{e:#}"));
    }
    if summary.failed.is_none() {
        // End of input: open windows emit their aggregates.
        let mut end = || -> Result<()> {
            for t in &mut transforms {
                t.finish(&mut out)?;
            }
            out.close()
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

/// Read every source in order through its transforms.
fn read_all(
    cfg: &PipelineConfig,
    transforms: &mut [Transform],
    out: &mut Outputs,
    paths: &mut BTreeMap<&String, Vec<PathBuf>>,
    summary: &mut Summary,
    stop: &Arc<AtomicUsize>,
    ticker: &mut Ticker<'_>,
) -> Result<()> {
    for (sid, source) in &cfg.sources {
        if stop.load(Ordering::SeqCst) != 0 {
            break;
        }
        let mine: Vec<usize> =
            (0..transforms.len()).filter(|&i| transforms[i].inputs.iter().any(|x| x == sid)).collect();
        let chunk = mine.iter().map(|&i| transforms[i].batch_size).max().unwrap_or(1000);
        let flush_after = mine.iter().map(|&i| transforms[i].flush_after).min().unwrap_or(Duration::from_secs(1));
        let in_read = Arc::new(AtomicBool::new(false));
        let reader = match source {
            SourceConfig::File { format, .. } => Reader::open(paths.remove(sid).unwrap_or_default(), *format),
            SourceConfig::Stdin { format } => {
                let input = StopAwareStdin { stop: Arc::clone(stop), in_read: Arc::clone(&in_read) };
                Reader::from_reader("<stdin>", Box::new(input), *format)
            }
        };
        let live = matches!(source, SourceConfig::Stdin { .. });
        // The reader runs up to one chunk ahead per scoring thread (and
        // one), so that the instances are not kept waiting while this
        // thread writes; never more than MAX_BATCH_BYTES of text.
        let depth = 1 + mine.iter().map(|&i| transforms[i].scoring_threads()).max().unwrap_or(1);
        let feed = Feed::start(reader, chunk.saturating_mul(depth), live.then_some(in_read));
        summary.sources.entry(sid.clone()).or_default();
        // Batches handed to instances on other threads, not delivered yet.
        let mut pending = Pending::default();
        loop {
            let mut items: Vec<Item> = Vec::with_capacity(chunk.min(4096));
            // While the reader has nothing for us, what the instances have
            // scored is written (a live stream that pauses after a full
            // chunk is not held back either).
            let mut idle = || -> Result<()> {
                if !pending.is_empty() && pending.deliver_ready(transforms, out, usize::MAX)? > 0 {
                    out.flush()?;
                }
                ticker.tick(transforms, &summary.sources, out);
                Ok(())
            };
            let more = feed.take(&mut items, chunk, flush_after, stop, &mut idle)?;
            if !items.is_empty() {
                let stats = summary.sources.get_mut(sid).expect("the source's counts");
                stats.read += items.len() as u64;
                stats.read_errors += items.iter().filter(|i| i.result.is_err()).count() as u64;
                let partial = items.len() < chunk;
                transform::process_chunk(transforms, &mine, &Arc::new(items), &mut pending, out)?;
                if partial || !more {
                    // Nothing more is queued: what was read reaches the
                    // sinks now, not when the next chunk arrives.
                    pending.drain(transforms, out)?;
                }
                out.flush()?;
            }
            ticker.tick(transforms, &summary.sources, out);
            if !more {
                break;
            }
        }
        pending.drain(transforms, out)?;
        feed.close();
    }
    Ok(())
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

/// Standard input that reads as ended once the run is stopping, so the
/// reader thread hands out what it already holds and ends; `in_read` says
/// it is waiting for bytes (blocked: it holds nothing more).
struct StopAwareStdin {
    stop: Arc<AtomicUsize>,
    in_read: Arc<AtomicBool>,
}

impl Read for StopAwareStdin {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.in_read.store(true, Ordering::SeqCst);
        if self.stop.load(Ordering::SeqCst) != 0 {
            self.in_read.store(false, Ordering::SeqCst);
            return Ok(0);
        }
        let r = std::io::stdin().lock().read(buf);
        self.in_read.store(false, Ordering::SeqCst);
        r
    }
}

/// A file source's reader thread queues its items in groups of up to this
/// many (one lock, one wake-up per group) …
const READ_GROUP: usize = 256;
/// … and of up to this many bytes.
const READ_GROUP_BYTES: usize = 1 << 20;

/// The queue between a source's reader thread and the main thread.
#[derive(Default)]
struct Queue {
    items: VecDeque<Item>,
    bytes: usize,
    /// The reader has ended.
    done: bool,
    /// The main thread takes no more: the reader stops.
    closed: bool,
    /// Someone waits on a condition (notify only then).
    taker_waits: bool,
    giver_waits: bool,
    /// The taker waits for this many items (the rest of its chunk; 1 while
    /// its chunk is empty, to start the chunk's `flush_ms` clock): the
    /// reader wakes it once they are there, not at every item.
    taker_wants: usize,
    /// Or for this many bytes.
    taker_wants_bytes: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Items arrived (or the reader ended).
    arrived: Condvar,
    /// Room freed (or the queue was closed).
    room: Condvar,
}

/// A source read on its own thread into a queue bounded by count and
/// bytes (at most `capacity` items, at most [`MAX_BATCH_BYTES`] of text).
struct Feed {
    shared: Arc<Shared>,
    /// For standard input: the reader is blocked waiting for bytes.
    in_read: Option<Arc<AtomicBool>>,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Queue> {
    s.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn item_bytes(i: &Item) -> usize {
    i.result.as_ref().map_or_else(|e| e.raw.len(), String::len)
}

impl Feed {
    fn start(mut reader: Reader, capacity: usize, in_read: Option<Arc<AtomicBool>>) -> Feed {
        let shared =
            Arc::new(Shared { queue: Mutex::new(Queue::default()), arrived: Condvar::new(), room: Condvar::new() });
        let s = Arc::clone(&shared);
        // A file is read ahead in groups of items, queued under one lock;
        // a live stream item by item (its next item may be long in coming).
        let group_max = if in_read.is_some() { 1 } else { (capacity / 4).clamp(1, READ_GROUP) };
        let spawned = std::thread::Builder::new().name("logsieve-read".into()).spawn(move || {
            let mut group: Vec<Item> = Vec::with_capacity(group_max);
            let mut group_bytes = 0;
            let mut items = reader.by_ref().peekable();
            while let Some(item) = items.next() {
                group_bytes += item_bytes(&item);
                group.push(item);
                if group.len() < group_max && group_bytes < READ_GROUP_BYTES && items.peek().is_some() {
                    continue;
                }
                let mut q = lock(&s);
                while !q.closed
                    && !q.items.is_empty()
                    && (q.items.len() + group.len() > capacity || q.bytes + group_bytes > MAX_BATCH_BYTES)
                {
                    if q.taker_waits {
                        // The queue is as full as it gets: the taker takes.
                        s.arrived.notify_one();
                    }
                    q.giver_waits = true;
                    q = s.room.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                q.giver_waits = false;
                if q.closed {
                    return;
                }
                q.bytes += group_bytes;
                q.items.extend(group.drain(..));
                group_bytes = 0;
                if q.taker_waits && (q.items.len() >= q.taker_wants || q.bytes >= q.taker_wants_bytes) {
                    s.arrived.notify_one();
                }
            }
            let mut q = lock(&s);
            q.done = true;
            s.arrived.notify_one();
        });
        spawned.expect("starting a source's reader thread");
        Feed { shared, in_read }
    }

    /// Move a chunk into `into`: up to `max_items` items and about
    /// [`MAX_BATCH_BYTES`] of text, or what has arrived `flush_after` after
    /// the chunk's first item. `false` once the source is over: ended, or
    /// stopping and nothing more to take. Before it waits for the reader,
    /// `idle` runs (once per wait).
    fn take(
        &self,
        into: &mut Vec<Item>,
        max_items: usize,
        flush_after: Duration,
        stop: &AtomicUsize,
        idle: &mut dyn FnMut() -> Result<()>,
    ) -> Result<bool> {
        // While waiting, look at `stop` this often.
        const TICK: Duration = Duration::from_millis(50);
        let mut q = lock(&self.shared);
        let mut first: Option<Instant> = None;
        let mut bytes = 0;
        let mut stopping_since: Option<Instant> = None;
        let mut idled = false;
        loop {
            if self.in_read.is_none() && !q.closed && stop.load(Ordering::SeqCst) != 0 {
                // Stopping: a file is read no further than what is queued.
                q.closed = true;
                self.shared.room.notify_one();
            }
            while into.len() < max_items
                && q.items.front().is_some_and(|i| into.is_empty() || bytes + item_bytes(i) <= MAX_BATCH_BYTES)
            {
                let item = q.items.pop_front().expect("an item");
                let len = item_bytes(&item);
                q.bytes -= len;
                bytes += len;
                into.push(item);
                first.get_or_insert_with(Instant::now);
            }
            if q.giver_waits {
                self.shared.room.notify_one();
            }
            if into.len() >= max_items || !q.items.is_empty() {
                return Ok(true); // a full chunk
            }
            if q.done || q.closed {
                return Ok(false);
            }
            if let Some(in_read) = &self.in_read
                && stop.load(Ordering::SeqCst) != 0
            {
                // Stopping: standard input is read until what it holds is
                // handed out (it then reads as ended), or until the reader
                // waits for bytes that are not there.
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if in_read.load(Ordering::SeqCst) || since.elapsed() > Duration::from_secs(5) {
                    q.closed = true;
                    self.shared.room.notify_one();
                    return Ok(false);
                }
            } else if let Some(t) = first
                && t.elapsed() >= flush_after
            {
                return Ok(true);
            }
            if !idled {
                // Not holding the queue meanwhile: the reader goes on.
                drop(q);
                idle()?;
                idled = true;
                q = lock(&self.shared);
                continue;
            }
            let wait = match first {
                Some(t) if stop.load(Ordering::SeqCst) == 0 => flush_after.saturating_sub(t.elapsed()).min(TICK),
                _ => TICK,
            };
            q.taker_waits = true;
            q.taker_wants = if into.is_empty() { 1 } else { max_items - into.len() };
            q.taker_wants_bytes = MAX_BATCH_BYTES.saturating_sub(bytes).max(1);
            q = self.shared.arrived.wait_timeout(q, wait).unwrap_or_else(std::sync::PoisonError::into_inner).0;
            q.taker_waits = false;
            idled = false;
        }
    }

    /// Tell the reader thread to stop (it may be blocked reading standard
    /// input: it is left to the end of the process).
    fn close(self) {
        let mut q = lock(&self.shared);
        q.closed = true;
        self.shared.room.notify_one();
    }
}
