//! Where a pipeline's records go: the sinks, and standard error for the
//! error records no sink takes (so nothing is lost).

use std::io::{Seek, Write};
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;

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
    /// A connected stream socket (`type = "socket"`), named for messages.
    Stream {
        stream: Box<dyn Write + Send>,
        peer: String,
    },
}

/// A thread writing a regular file's blocks of whole lines in order, so
/// that the kernel's copy into the page cache overlaps the scoring instead
/// of holding up the pipeline's thread. At most 4 blocks wait for it. A
/// failed write cuts the file back to its last whole line and ends the
/// thread; the next block handed to it (or the end of the run) returns the
/// error.
struct Writer {
    blocks: Option<SyncSender<(Vec<u8>, u64)>>,
    thread: Option<std::thread::JoinHandle<WriterEnd>>,
    /// How it ended, once it has.
    ended: Option<WriterEnd>,
}

/// How a [`Writer`] ended: the lines it wrote, and the error that stopped
/// it.
type WriterEnd = (u64, Option<std::io::Error>);

impl Writer {
    fn start(mut file: std::fs::File, committed: u64) -> std::io::Result<Writer> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64)>(4);
        let thread = std::thread::Builder::new().name("logsieve-sink".into()).spawn(move || {
            let mut committed = committed;
            let mut lines = 0;
            for (block, n) in rx {
                if let Err(e) = file.write_all(&block) {
                    // No partial last line: back to the last whole one.
                    let _ = file.set_len(committed);
                    let _ = file.seek(std::io::SeekFrom::Start(committed));
                    return (lines, Some(e));
                }
                committed += block.len() as u64;
                lines += n;
            }
            (lines, None)
        })?;
        Ok(Writer { blocks: Some(tx), thread: Some(thread), ended: None })
    }

    /// Hand over a block of `lines` whole lines.
    fn send(&mut self, block: Vec<u8>, lines: u64) -> std::io::Result<()> {
        let Some(blocks) = &self.blocks else {
            return Err(std::io::Error::other("the sink's writer has ended"));
        };
        if blocks.send((block, lines)).is_err() {
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
        self.flush()?;
        if let Target::File { writer: Some(w), path, .. } = &mut self.target
            && let Err(e) = w.close()
        {
            let msg = format!("sink {}: writing {}", self.id, path.display());
            self.count_failed();
            return Err(e).context(msg);
        }
        Ok(())
    }

    /// After a failed write: `written` counts the lines that reached the
    /// target, `not_written` those handed to the sink that did not.
    fn count_failed(&mut self) {
        let out = match &self.target {
            Target::File { writer: Some(w), .. } => w.lines_written().unwrap_or(0),
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
                        file.set_len(0).with_context(|| format!("sink {id}: emptying {}", path.display()))?;
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
            Target::Stream { stream, peer } => {
                if let Err(e) = stream.write_all(&bytes).and_then(|()| stream.flush()) {
                    return Err(e).with_context(|| format!("sink {id}: writing to {peer}"));
                }
            }
        }
        self.lines_out += lines;
        Ok(Some(bytes))
    }
}

/// Open every sink of a pipeline: files are created (parent folders too)
/// but not emptied until their first line (see [`Target::File`]).
pub fn open(cfg: &PipelineConfig) -> Result<Vec<Sink>> {
    let mut sinks = Vec::new();
    for (id, s) in &cfg.sinks {
        let (target, only) = match s {
            SinkConfig::File { path, only_anomalies, .. } => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("sink {id}: creating {}", dir.display()))?;
                }
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .with_context(|| format!("sink {id}: opening {}", path.display()))?;
                let regular = file.metadata().is_ok_and(|m| m.is_file());
                (
                    Target::File { file, path: path.clone(), started: false, regular, committed: 0, writer: None },
                    *only_anomalies,
                )
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

/// Connect a socket sink (a peer that is not there is an error naming the
/// sink).
fn connect(id: &str, mode: SocketMode, address: Option<&str>, path: Option<&std::path::Path>) -> Result<Target> {
    match (mode, address, path) {
        (SocketMode::Tcp, Some(a), _) => {
            let stream =
                std::net::TcpStream::connect(a).with_context(|| format!("sink {id}: connecting to tcp {a}"))?;
            let _ = stream.set_nodelay(true);
            Ok(Target::Stream { stream: Box::new(stream), peer: format!("tcp {a}") })
        }
        #[cfg(unix)]
        (SocketMode::Unix, _, Some(p)) => {
            let stream = std::os::unix::net::UnixStream::connect(p)
                .with_context(|| format!("sink {id}: connecting to unix {}", p.display()))?;
            Ok(Target::Stream { stream: Box::new(stream), peer: format!("unix {}", p.display()) })
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

    /// Write what every sink holds (a file sink that wrote nothing is
    /// emptied: the run's output replaces the last one).
    pub fn flush(&mut self) -> Result<()> {
        for s in &mut self.sinks {
            s.flush()?;
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
