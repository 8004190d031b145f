//! Where a pipeline's records go: the sinks, and standard error for the
//! error records no sink takes (so nothing is lost).

use std::io::{Seek, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use super::config::{PipelineConfig, SinkConfig, SocketMode};
use super::summary::SinkStats;

/// Where a sink's lines go.
enum Target {
    /// A file, opened without truncating it: it is emptied when the first
    /// line is written (or at the end of a run that wrote none), so a run
    /// that fails before its first event leaves the last output as it was.
    File {
        file: std::fs::File,
        path: PathBuf,
        /// Emptied yet (at the first write).
        started: bool,
        /// A regular file (not `/dev/null`, a FIFO…): it can be emptied and
        /// cut back to its last whole line.
        regular: bool,
        /// Bytes written, every one of them whole lines.
        committed: u64,
        /// A regular file is written by its own thread once started.
        writer: Option<Writer>,
    },
    Stdout,
    /// A connected stream socket (`type = "socket"`), named for messages,
    /// written by a thread of its own.
    Stream {
        writer: Writer,
        peer: String,
    },
    /// Batched POSTs (`type = "http"`), by a thread of its own.
    Http {
        writer: Writer,
        uri: String,
    },
}

/// An `http` sink's client and settings.
struct Poster {
    agent: ureq::Agent,
    uri: String,
    headers: Vec<(String, String)>,
    max_events: u64,
    max_bytes: usize,
    timeout: Duration,
    retry_attempts: u32,
}

impl Poster {
    /// POST `body`, retrying what may succeed later (no answer, 408, 429,
    /// 5xx) `retry_attempts` times, 1 s, 2 s, 4 s … (at most 30 s) apart.
    fn post(&self, body: &[u8]) -> std::io::Result<()> {
        let mut last = String::new();
        for attempt in 0..=self.retry_attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(1u64 << (attempt - 1).min(5)).min(Duration::from_secs(30)));
            }
            let mut request = self.agent.post(&self.uri);
            if !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                request = request.header("Content-Type", "application/x-ndjson");
            }
            for (k, v) in &self.headers {
                request = request.header(k, v);
            }
            match request.send(body) {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(mut r) => {
                    let status = r.status();
                    let text = r.body_mut().with_config().limit(512).read_to_string().unwrap_or_default();
                    last = format!(
                        "answered {status}{}",
                        if text.is_empty() { String::new() } else { format!(": {}", text.trim()) }
                    );
                    let retry = status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error();
                    if !retry {
                        return Err(std::io::Error::other(format!("POST {}: {last} (not retried)", self.uri)));
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(std::io::Error::other(format!("POST {}: {last} (after {} retries)", self.uri, self.retry_attempts)))
    }
}

/// An `http` sink's thread: lines gathered into batches of at most
/// `max_events` events and `max_bytes` bytes (a single larger line alone),
/// posted when full, when the first line waited `timeout`, at a sync and
/// at the end. A batch that cannot be posted ends the thread with the error
/// (the pipeline, waiting on it meanwhile, then stops naming the sink).
fn post_batches(p: &Poster, rx: &Receiver<Block>) -> WriterEnd {
    use std::sync::mpsc::RecvTimeoutError;
    let mut body: Vec<u8> = Vec::new();
    let mut n = 0u64;
    let mut first: Option<Instant> = None;
    let mut posted = 0u64;
    let mut send = |body: &mut Vec<u8>, n: &mut u64, first: &mut Option<Instant>| -> std::io::Result<()> {
        if *n > 0 {
            p.post(body)?;
            posted += *n;
        }
        body.clear();
        *n = 0;
        *first = None;
        Ok(())
    };
    loop {
        let block = match first {
            Some(t) => rx.recv_timeout(p.timeout.saturating_sub(t.elapsed())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let r = match block {
            Ok(Block::Lines(bytes, _)) => (|| {
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    if n > 0 && body.len() + line.len() > p.max_bytes {
                        send(&mut body, &mut n, &mut first)?;
                    }
                    body.extend_from_slice(line);
                    n += 1;
                    first.get_or_insert_with(Instant::now);
                    if n >= p.max_events || body.len() >= p.max_bytes {
                        send(&mut body, &mut n, &mut first)?;
                    }
                }
                Ok(())
            })(),
            Ok(Block::Sync(done)) => {
                let r = send(&mut body, &mut n, &mut first);
                let _ = done.send(());
                r
            }
            Err(RecvTimeoutError::Timeout) => send(&mut body, &mut n, &mut first),
            Err(RecvTimeoutError::Disconnected) => {
                let r = send(&mut body, &mut n, &mut first);
                return (posted, r.err());
            }
        };
        if let Err(e) = r {
            return (posted, Some(e));
        }
    }
}

/// A thread writing a regular file's blocks of whole lines in order, so
/// that the kernel's copy into the page cache overlaps the scoring instead
/// of holding up the pipeline's thread. At most 4 blocks wait for it. A
/// failed write cuts the file back to its last whole line and ends the
/// thread; the next block handed to it (or the end of the run) returns the
/// error.
struct Writer {
    blocks: Option<SyncSender<Block>>,
    thread: Option<std::thread::JoinHandle<WriterEnd>>,
    /// How it ended, once it has.
    ended: Option<WriterEnd>,
}

/// How a [`Writer`] ended: the lines it wrote, and the error that stopped
/// it.
type WriterEnd = (u64, Option<std::io::Error>);

/// What a sink's thread is handed.
enum Block {
    /// Whole lines, and how many.
    Lines(Vec<u8>, u64),
    /// Answer once everything handed over before is written (posted).
    Sync(std::sync::mpsc::Sender<()>),
}

/// Write each block with `write`, its lines counted once written, and
/// answer each sync; the first write that fails ends it.
fn write_blocks(rx: Receiver<Block>, mut write: impl FnMut(&[u8]) -> std::io::Result<()>) -> WriterEnd {
    let mut lines = 0;
    for block in rx {
        match block {
            Block::Lines(b, n) => {
                if let Err(e) = write(&b) {
                    return (lines, Some(e));
                }
                lines += n;
            }
            Block::Sync(done) => {
                let _ = done.send(());
            }
        }
    }
    (lines, None)
}

impl Writer {
    /// A thread named `name` running `body` on the blocks handed over (at
    /// most 4 wait).
    fn spawn(name: &str, body: impl FnOnce(Receiver<Block>) -> WriterEnd + Send + 'static) -> std::io::Result<Writer> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(4);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || body(rx))?;
        Ok(Writer { blocks: Some(tx), thread: Some(thread), ended: None })
    }

    /// A regular file's thread: a failed write cuts the file back to its
    /// last whole line.
    fn start(mut file: std::fs::File, committed: u64) -> std::io::Result<Writer> {
        Writer::spawn("logsieve-sink", move |rx| {
            let mut committed = committed;
            write_blocks(rx, |block| match file.write_all(block) {
                Ok(()) => {
                    committed += block.len() as u64;
                    Ok(())
                }
                Err(e) => {
                    // No partial last line: back to the last whole one.
                    let _ = file.set_len(committed);
                    let _ = file.seek(std::io::SeekFrom::Start(committed));
                    Err(e)
                }
            })
        })
    }

    /// Start a thread writing a socket sink's blocks, so that a peer that
    /// reads slowly holds up this thread, not the scoring.
    fn start_stream(mut stream: Box<dyn Write + Send>) -> std::io::Result<Writer> {
        Writer::spawn("logsieve-sink", move |rx| {
            write_blocks(rx, |block| stream.write_all(block).and_then(|()| stream.flush()))
        })
    }

    /// Start a thread posting an `http` sink's lines (see [`post_batches`]).
    fn start_http(poster: Poster) -> std::io::Result<Writer> {
        Writer::spawn("logsieve-http-sink", move |rx| post_batches(&poster, &rx))
    }

    /// Wait until everything handed over is written.
    fn sync(&mut self) -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        let Some(blocks) = &self.blocks else {
            return Err(std::io::Error::other("the sink's writer has ended"));
        };
        if blocks.send(Block::Sync(tx)).is_err() || rx.recv().is_err() {
            self.close()?;
            return Err(std::io::Error::other("the sink's writer has ended"));
        }
        Ok(())
    }

    /// Hand over a block of `lines` whole lines.
    fn send(&mut self, block: Vec<u8>, lines: u64) -> std::io::Result<()> {
        let Some(blocks) = &self.blocks else {
            return Err(std::io::Error::other("the sink's writer has ended"));
        };
        if blocks.send(Block::Lines(block, lines)).is_err() {
            // The thread ended on an error: that error.
            self.close()?;
            return Err(std::io::Error::other("the sink's writer has ended"));
        }
        Ok(())
    }

    /// Wait until everything handed over is written.
    fn close(&mut self) -> std::io::Result<()> {
        drop(self.blocks.take());
        if let Some(t) = self.thread.take() {
            self.ended =
                Some(t.join().unwrap_or_else(|_| (0, Some(std::io::Error::other("the sink's writer panicked")))));
        }
        match &mut self.ended {
            Some((_, e @ Some(_))) => Err(e.take().expect("an error")),
            _ => Ok(()),
        }
    }

    /// The lines it wrote, once it has ended.
    fn lines_written(&self) -> Option<u64> {
        self.ended.as_ref().map(|(n, _)| *n)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// A sink buffers this many bytes of whole lines before writing them.
const SINK_BUFFER: usize = 1 << 20;

/// One sink: a file or standard output, NDJSON.
pub struct Sink {
    /// Its id.
    pub id: String,
    target: Target,
    /// Whole lines not written yet, and how many.
    buf: Vec<u8>,
    buf_lines: u64,
    /// Lines written by this thread (a target without a writer thread).
    lines_out: u64,
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
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        self.buf_lines += 1;
        self.stats.written += 1;
        if self.buf.len() >= SINK_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    /// Write `count` scored lines at once: `text` is whole lines, each ended
    /// by a newline, none of them an error record. A large block goes
    /// straight to the target, not through the buffer (one copy fewer).
    /// With `only_anomalies` the caller writes line by line instead.
    pub fn write_block(&mut self, text: String, count: u64) -> Result<()> {
        debug_assert!(!self.only_anomalies && text.ends_with('\n'));
        self.stats.written += count;
        if text.len() < SINK_BUFFER / 4 {
            self.buf.extend_from_slice(text.as_bytes());
            self.buf_lines += count;
            if self.buf.len() >= SINK_BUFFER {
                self.flush()?;
            }
            return Ok(());
        }
        self.flush()?;
        self.write_out(text.into_bytes(), count)?;
        Ok(())
    }

    /// Whether it keeps only anomalies.
    pub fn only_anomalies(&self) -> bool {
        self.only_anomalies
    }

    /// Write the buffered lines. A failed write (a full disk) is cut back
    /// to the last whole line where the target allows it; the error names
    /// the sink.
    pub fn flush(&mut self) -> Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let lines = std::mem::take(&mut self.buf_lines);
        if let Some(mut back) = self.write_out(buf, lines)? {
            back.clear();
            self.buf = back;
        }
        Ok(())
    }

    /// The end of the run: everything written (a file's writer thread
    /// done).
    pub fn close(&mut self) -> Result<()> {
        self.on_writer(Writer::close)
    }

    /// Everything handed to the sink is written (a file's writer thread has
    /// written it, an `http` sink posted it).
    pub fn sync(&mut self) -> Result<()> {
        self.on_writer(Writer::sync)
    }

    /// Flush, then run `op` on the target's thread, if it has one (a failed
    /// write counted, the error naming the sink and what it did).
    fn on_writer(&mut self, op: fn(&mut Writer) -> std::io::Result<()>) -> Result<()> {
        self.flush()?;
        let (w, what) = match &mut self.target {
            Target::File { writer: Some(w), path, .. } => (w, format!("writing {}", path.display())),
            Target::Http { writer, uri } => (writer, format!("posting to {uri}")),
            Target::Stream { writer, peer } => (writer, format!("writing to {peer}")),
            _ => return Ok(()),
        };
        if let Err(e) = op(w) {
            self.count_failed();
            return Err(e).context(format!("sink {}: {what}", self.id));
        }
        Ok(())
    }

    /// After a failed write: `written` counts the lines that reached the
    /// target, `not_written` those handed to the sink that did not.
    fn count_failed(&mut self) {
        let out = match &self.target {
            Target::File { writer: Some(w), .. }
            | Target::Http { writer: w, .. }
            | Target::Stream { writer: w, .. } => w.lines_written().unwrap_or(0),
            _ => self.lines_out,
        };
        self.stats.not_written = self.stats.written.saturating_sub(out);
        self.stats.written = out.min(self.stats.written);
    }

    /// Write whole lines to the target (emptying a file at its first
    /// write); the buffer back when it was written here (not handed to a
    /// writer thread).
    fn write_out(&mut self, bytes: Vec<u8>, lines: u64) -> Result<Option<Vec<u8>>> {
        let r = self.write_target(bytes, lines);
        if r.is_err() {
            self.count_failed();
        }
        r
    }

    fn write_target(&mut self, bytes: Vec<u8>, lines: u64) -> Result<Option<Vec<u8>>> {
        let id = &self.id;
        match &mut self.target {
            Target::File { file, path, started, regular, committed, writer } => {
                if !*started {
                    if *regular {
                        empty_file(file, path).with_context(|| format!("sink {id}: emptying {}", path.display()))?;
                    }
                    *started = true;
                }
                if bytes.is_empty() {
                    return Ok(Some(bytes));
                }
                if *regular {
                    if writer.is_none() {
                        let clone = file.try_clone().with_context(|| format!("sink {id}: {}", path.display()))?;
                        *writer = Some(
                            Writer::start(clone, *committed)
                                .with_context(|| format!("sink {id}: starting its writer thread"))?,
                        );
                    }
                    let w = writer.as_mut().expect("a writer");
                    w.send(bytes, lines).with_context(|| format!("sink {id}: writing {}", path.display()))?;
                    return Ok(None);
                }
                if let Err(e) = file.write_all(&bytes) {
                    return Err(e).with_context(|| format!("sink {id}: writing {}", path.display()));
                }
                *committed += bytes.len() as u64;
            }
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                let r = out.write_all(&bytes).and_then(|()| out.flush());
                if let Err(e) = r {
                    return Err(e).with_context(|| format!("sink {id}: writing to standard output"));
                }
            }
            Target::Stream { writer, peer } => {
                if bytes.is_empty() {
                    return Ok(Some(bytes));
                }
                writer.send(bytes, lines).with_context(|| format!("sink {id}: writing to {peer}"))?;
                return Ok(None);
            }
            Target::Http { writer, uri } => {
                if bytes.is_empty() {
                    return Ok(Some(bytes));
                }
                writer.send(bytes, lines).with_context(|| format!("sink {id}: posting to {uri}"))?;
                return Ok(None);
            }
        }
        self.lines_out += lines;
        Ok(Some(bytes))
    }
}

/// Empty a file sink's file before its first line, so that closing it at
/// the end does not wait for the disk.
///
/// On ext4 (`auto_da_alloc`, the default), cutting a file to 0 bytes marks
/// it so that the last close of that open file writes back everything it
/// holds and waits for the disk queue. Writing 755 MB (bench/pipeline_data.sh's
/// 1M events) then closing took 0.3 s more of wall time, the CPUs idle, than
/// the same run into a new file. So an empty file is not cut at all, and a
/// file with content is cut through a handle of its own, closed at once,
/// while it holds nothing to write back. The output is then written back as
/// any new file's is, by the kernel in the background.
fn empty_file(file: &std::fs::File, path: &std::path::Path) -> std::io::Result<()> {
    let meta = file.metadata()?;
    if meta.len() == 0 {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The same file still (not one put at the path since it was opened).
        if let Ok(other) = std::fs::OpenOptions::new().write(true).open(path)
            && let Ok(m) = other.metadata()
            && (m.dev(), m.ino()) == (meta.dev(), meta.ino())
        {
            return other.set_len(0);
        }
    }
    file.set_len(0)
}

/// Open every sink of a pipeline: files are created (parent folders too)
/// but not emptied until their first line (see [`Target::File`]).
pub fn open(cfg: &PipelineConfig) -> Result<Vec<Sink>> {
    let mut sinks = Vec::new();
    for (id, s) in &cfg.sinks {
        let (target, only) = match s {
            SinkConfig::File { path, only_anomalies, append, .. } => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("sink {id}: creating {}", dir.display()))?;
                }
                let mut file = std::fs::OpenOptions::new()
                    .read(*append)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .with_context(|| format!("sink {id}: opening {}", path.display()))?;
                let regular = file.metadata().is_ok_and(|m| m.is_file());
                // Appending: after the last whole line there (a line cut by
                // a crash is completed by nothing: it is cut off).
                let committed = if *append && regular {
                    let end = whole_lines_end(&mut file)
                        .with_context(|| format!("sink {id}: reading {} to append to it", path.display()))?;
                    file.set_len(end)
                        .and_then(|()| file.seek(std::io::SeekFrom::Start(end)).map(drop))
                        .with_context(|| format!("sink {id}: appending to {}", path.display()))?;
                    end
                } else {
                    0
                };
                (
                    Target::File { file, path: path.clone(), started: *append, regular, committed, writer: None },
                    *only_anomalies,
                )
            }
            SinkConfig::Http { uri, batch, request, only_anomalies, .. } => {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs_f64(request.timeout_secs)))
                    .http_status_as_error(false)
                    .build()
                    .into();
                let poster = Poster {
                    agent,
                    uri: uri.clone(),
                    headers: request.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    max_events: batch.max_events as u64,
                    max_bytes: batch.max_bytes,
                    timeout: Duration::from_secs_f64(batch.timeout_secs),
                    retry_attempts: request.retry_attempts,
                };
                let writer = Writer::start_http(poster).with_context(|| format!("sink {id}: starting its thread"))?;
                (Target::Http { writer, uri: uri.clone() }, *only_anomalies)
            }
            SinkConfig::Stdout { only_anomalies, .. } => (Target::Stdout, *only_anomalies),
            SinkConfig::Socket { mode, address, path, only_anomalies, .. } => {
                (connect(id, *mode, address.as_deref(), path.as_deref())?, *only_anomalies)
            }
        };
        let stats = SinkStats { inputs: s.inputs().to_vec(), ..Default::default() };
        sinks.push(Sink {
            id: id.clone(),
            target,
            buf: Vec::new(),
            buf_lines: 0,
            lines_out: 0,
            only_anomalies: only,
            stats,
        });
    }
    Ok(sinks)
}

/// The end of the last whole line of a file (0 if it has none).
fn whole_lines_end(file: &mut std::fs::File) -> std::io::Result<u64> {
    use std::io::{Read, SeekFrom};
    let mut end = file.seek(SeekFrom::End(0))?;
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&c| c == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Connect a socket sink (a peer that is not there is an error naming the
/// sink).
fn connect(id: &str, mode: SocketMode, address: Option<&str>, path: Option<&std::path::Path>) -> Result<Target> {
    match (mode, address, path) {
        (SocketMode::Tcp, Some(a), _) => {
            let stream =
                std::net::TcpStream::connect(a).with_context(|| format!("sink {id}: connecting to tcp {a}"))?;
            let _ = stream.set_nodelay(true);
            let writer =
                Writer::start_stream(Box::new(stream)).with_context(|| format!("sink {id}: starting its thread"))?;
            Ok(Target::Stream { writer, peer: format!("tcp {a}") })
        }
        #[cfg(unix)]
        (SocketMode::Unix, _, Some(p)) => {
            let stream = std::os::unix::net::UnixStream::connect(p)
                .with_context(|| format!("sink {id}: connecting to unix {}", p.display()))?;
            let writer =
                Writer::start_stream(Box::new(stream)).with_context(|| format!("sink {id}: starting its thread"))?;
            Ok(Target::Stream { writer, peer: format!("unix {}", p.display()) })
        }
        _ => anyhow::bail!("sink {id}: mode {mode:?} without its address or path"),
    }
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
/// Stderr is locked per line, not for the run: the sources' threads write
/// their warnings there too (`tracing`), and would wait for the run's end.
pub struct Outputs {
    /// The sinks, in the pipeline's order.
    pub sinks: Vec<Sink>,
    /// Error records written to stderr.
    pub errors_to_stderr: u64,
    quiet: bool,
}

impl Outputs {
    /// The outputs of `sinks`; notes go to stderr unless `quiet`.
    pub fn new(sinks: Vec<Sink>, quiet: bool) -> Self {
        Outputs { sinks, errors_to_stderr: 0, quiet }
    }

    /// A note for people (not with `--quiet`).
    pub fn note(&mut self, text: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// Write an error record to the sinks `to`, or to stderr when there are
    /// none.
    pub fn error(&mut self, to: &[usize], record: &ErrorRecord) -> Result<()> {
        let line = serde_json::to_string(record)?;
        if to.is_empty() {
            writeln!(std::io::stderr().lock(), "{line}")?;
            self.errors_to_stderr += 1;
        }
        for &s in to {
            self.sinks[s].write(&line, true, false)?;
        }
        Ok(())
    }

    /// Write what every sink holds (a file sink that wrote nothing is
    /// emptied: the run's output replaces the last one).
    pub fn flush(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.flush()?;
        }
        Ok(())
    }

    /// Everything handed to the sinks is written (see [`Sink::sync`]).
    pub fn sync(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.sync()?;
        }
        Ok(())
    }

    /// The end of the run: every sink flushed and its writer done.
    pub fn close(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.close()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("logsieve-sinks-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn open_rw(path: &std::path::Path) -> std::fs::File {
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path).unwrap()
    }

    #[test]
    fn empty_file_empties_the_file_that_was_opened() {
        let dir = temp("empty");
        let path = dir.join("out.ndjson");
        std::fs::write(&path, "old line\n").unwrap();
        let file = open_rw(&path);
        empty_file(&file, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        // An empty file is left as it is.
        empty_file(&file, &path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

        // The path names another file by the first write: that one is not
        // touched, the opened one is emptied.
        std::fs::write(&path, "old line\n").unwrap();
        let file = open_rw(&path);
        std::fs::rename(&path, dir.join("moved.ndjson")).unwrap();
        std::fs::write(&path, "someone else's\n").unwrap();
        empty_file(&file, &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's\n");
        assert_eq!(std::fs::read(dir.join("moved.ndjson")).unwrap(), b"");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
