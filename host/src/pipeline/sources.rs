//! Where a pipeline's events come from: each source on a thread of its own
//! (a network source on one per connection or request), all feeding one
//! bounded queue, the [`Hub`], that the pipeline's thread takes from.
//!
//! | `type` | reads | ends |
//! |---|---|---|
//! | `file` | paths and globs in order, `.gz` transparently | at the end of the last file |
//! | `file` with `follow = true` | the files as they grow, rotate and appear (`tail -F`), with checkpoints in `data_dir` | when the run is stopped |
//! | `stdin` | standard input | at its end |
//! | `socket` | one event per line from any number of TCP or Unix-socket connections at once | when the run is stopped |
//! | `http_server` | POST bodies of NDJSON or JSON arrays | when the run is stopped |
//!
//! Every source runs at once, so live sources (a socket and an HTTP
//! endpoint, say) are read together; their events interleave in the order
//! they arrive. Files that are read once (`file` without `follow`) are the
//! exception: they are read one source after the other, in the pipeline's
//! order, so that a batch run's output is the same at every run.
//!
//! The queue holds at most about [`MAX_BATCH_BYTES`] of text (and a count
//! of events): a source whose events the pipeline cannot take as fast as
//! they come waits, and a network peer's writes with it (TCP's own
//! back-pressure).
//!
//! **Following.** A followed source's thread hands over, after each group
//! of events, where every file stands after them ([`Entry::Mark`]); the
//! pipeline saves the last such positions whose events are all written to
//! `<data_dir>/<source id>.checkpoints.json` (at most once a second, and at
//! the end of the run), so a restarted run resumes after the last event
//! written: exactly once across a stop and a restart, at least once after a
//! crash (the events written since the last save are read again).
//!
//! **Connections.** A `socket` connection is read as its own input: its
//! lines are numbered from 1 and its records are named `tcp <peer>` (or
//! `unix <path>`) in error records. A peer that closes the connection (or
//! a run that stops) in the middle of a line: the line's start goes to the
//! errors output with reason `truncated_line`, not lost.
//!
//! **HTTP.** The `http_server` source answers a POST of its `path` only
//! once every event of the body has been scored and written to the sinks
//! (or routed to errors): `200 {"events": N}`. A body is NDJSON (one event
//! per line; the last line needs no newline) or, when its first byte that
//! is not whitespace is `[`, a JSON array of events (what Logstash's
//! `json_batch` and Vector's `http` sink with its default framing send);
//! `Content-Encoding: gzip` is decoded. `HEAD` of the path answers 200 (a
//! client's health check). Refused without reading anything:
//! another path (404), another method (405), a body over `max_body_bytes`
//! as sent or decoded (413), a body that is neither (400, with the reason),
//! and any request once the run is stopping (503: the client retries
//! elsewhere or later).

use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, Result};
use logsieve_readers::{DEFAULT_MAX_LINE, Follower, Format, Item, Parser, Positions, Reader, reason};

use super::config::SocketMode;
use super::transform::MAX_BATCH_BYTES;

/// What a source's thread hands to the pipeline's thread, in order.
pub enum Entry {
    /// Items read, in order.
    Items(Vec<Item>),
    /// One item (a live stream's, handed over as it comes).
    Item(Item),
    /// An `http_server` request's events end here: the sender is answered
    /// once everything before it is written.
    Ack(mpsc::Sender<()>),
    /// A followed source's positions, once every item before it is
    /// written.
    Mark(Positions),
    /// Nothing more is coming soon (a connection ended): what was read is
    /// scored and written now, not when `flush_ms` has passed.
    Pause,
    /// The source has ended (its thread is done).
    End,
}

/// The text an item holds: its event, or what was read of its line.
pub fn item_bytes(i: &Item) -> usize {
    i.result.as_ref().map_or_else(|e| e.raw.len(), String::len)
}

/// The size of an entry in the queue: events and bytes of text.
fn entry_size(e: &Entry) -> (usize, usize) {
    match e {
        Entry::Items(v) => (v.len(), v.iter().map(item_bytes).sum()),
        Entry::Item(i) => (1, item_bytes(i)),
        _ => (0, 0),
    }
}

#[derive(Default)]
struct HubQueue {
    /// Per entry: the source's index and the entry.
    entries: VecDeque<(usize, Entry)>,
    items: usize,
    bytes: usize,
    /// The pipeline takes no more: sources stop.
    closed: bool,
    /// Entries that are not events (acks, marks, pauses, ends) queued: the
    /// pipeline's thread takes them at once.
    signals: usize,
    /// The pipeline's thread waits for entries …
    taker_waits: bool,
    /// … until this many events are queued (the rest of its partial chunk;
    /// 1 when it has none, to start a chunk's `flush_ms` clock), or a
    /// signal comes: a source delivering item by item does not wake it at
    /// every item.
    taker_wants: usize,
    /// Sources waiting for room.
    givers: usize,
}

/// The bounded queue between the sources' threads and the pipeline's.
pub struct Hub {
    queue: Mutex<HubQueue>,
    arrived: Condvar,
    room: Condvar,
    /// At most this many events queued (and [`MAX_BATCH_BYTES`] of text);
    /// one entry larger than that is let in alone.
    max_items: usize,
}

impl Hub {
    /// A queue of at most `max_items` events.
    pub fn new(max_items: usize) -> Arc<Hub> {
        Arc::new(Hub {
            queue: Mutex::new(HubQueue::default()),
            arrived: Condvar::new(),
            room: Condvar::new(),
            max_items: max_items.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubQueue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue source `src`'s `entry`, waiting for room; `false` (the entry
    /// dropped) once the hub is closed.
    pub fn push(&self, src: usize, entry: Entry) -> bool {
        let (n, b) = entry_size(&entry);
        let mut q = self.lock();
        while !q.closed
            && !q.entries.is_empty()
            && n > 0
            && (q.items + n > self.max_items || q.bytes + b > MAX_BATCH_BYTES)
        {
            if q.taker_waits {
                // The queue is as full as it gets: the taker takes.
                self.arrived.notify_one();
            }
            q.givers += 1;
            q = self.room.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
            q.givers -= 1;
        }
        if q.closed {
            return false;
        }
        q.items += n;
        q.bytes += b;
        q.signals += usize::from(n == 0);
        q.entries.push_back((src, entry));
        if q.taker_waits && (n == 0 || q.items >= q.taker_wants) {
            self.arrived.notify_one();
        }
        true
    }

    /// Move every queued entry to `into`; while fewer than `wants` events
    /// and no signal are queued, wait up to `wait` for them.
    pub fn take(&self, into: &mut VecDeque<(usize, Entry)>, wait: Duration, wants: usize) {
        let deadline = std::time::Instant::now() + wait;
        let mut q = self.lock();
        while q.items < wants.max(1) && q.signals == 0 && !q.closed {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            q.taker_waits = true;
            q.taker_wants = wants;
            q = self.arrived.wait_timeout(q, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
            q.taker_waits = false;
        }
        into.extend(q.entries.drain(..));
        q.items = 0;
        q.bytes = 0;
        q.signals = 0;
        if q.givers > 0 {
            self.room.notify_all();
        }
    }

    /// Take no more: every source's thread stops at its next entry. What is
    /// still queued is dropped (only a run cut short at its stop has any):
    /// an `http_server` request waiting for its answer gets 503.
    pub fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.entries.clear();
        q.signals = 0;
        self.room.notify_all();
    }
}

/// While waiting for a peer's bytes or a request, look at the stop flag
/// this often.
const POLL: Duration = Duration::from_millis(100);

/// Read `reader` (files, or standard input when `live`) on a thread into
/// the hub as source `src`. Files are queued in groups of up to 256 items /
/// 1 MiB (one lock and one wake-up per group), a live stream item by item
/// (its next item may be long in coming). Once `stop` holds a signal a file
/// is read no further; standard input reads as ended then (see
/// [`StopAwareStdin`]).
pub fn spawn_reader(hub: &Arc<Hub>, src: usize, reader: Reader, live: bool, stop: &Arc<AtomicUsize>) {
    const GROUP: usize = 256;
    const GROUP_BYTES: usize = 1 << 20;
    let (hub, stop) = (Arc::clone(hub), Arc::clone(stop));
    let group_max = if live { 1 } else { (hub.max_items / 4).clamp(1, GROUP) };
    let spawned = std::thread::Builder::new().name("logsieve-read".into()).spawn(move || {
        let mut reader = reader;
        let mut group: Vec<Item> = Vec::with_capacity(group_max);
        let mut group_bytes = 0;
        let mut items = reader.by_ref().peekable();
        while let Some(item) = items.next() {
            group_bytes += item_bytes(&item);
            group.push(item);
            if group.len() < group_max && group_bytes < GROUP_BYTES && items.peek().is_some() {
                continue;
            }
            if !live && stop.load(Ordering::SeqCst) != 0 {
                break;
            }
            let entry = if live {
                Entry::Item(group.pop().expect("an item"))
            } else {
                Entry::Items(std::mem::take(&mut group))
            };
            if !hub.push(src, entry) {
                return;
            }
            group_bytes = 0;
        }
        hub.push(src, Entry::End);
    });
    spawned.expect("starting a source's reader thread");
}

/// Follow files on a thread (`file` with `follow = true`, see
/// [`logsieve_readers::follow`]): what is new, in groups, each group followed
/// by the positions after it; until the run stops.
pub fn spawn_follow(hub: &Arc<Hub>, src: usize, follower: Follower, stop: &Arc<AtomicUsize>) {
    let (hub, stop) = (Arc::clone(hub), Arc::clone(stop));
    let spawned = std::thread::Builder::new().name("logsieve-follow".into()).spawn(move || {
        let mut follower = follower;
        let mut last = follower.positions();
        while stop.load(Ordering::SeqCst) == 0 {
            let batch = follower.read(256, 1 << 20, POLL);
            if !batch.items.is_empty() && !hub.push(src, Entry::Items(batch.items)) {
                return;
            }
            if batch.positions != last {
                last = batch.positions.clone();
                if !hub.push(src, Entry::Mark(batch.positions)) {
                    return;
                }
            }
        }
        hub.push(src, Entry::End);
    });
    spawned.expect("starting a followed source's thread");
}

/// Standard input that reads as ended once the run is stopping, so the
/// reader thread hands out what it already holds and ends; `in_read` says
/// it is waiting for bytes (blocked: it holds nothing more).
pub struct StopAwareStdin {
    /// The run's stop flag.
    pub stop: Arc<AtomicUsize>,
    /// Set while blocked reading.
    pub in_read: Arc<AtomicBool>,
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

/// A bound listening socket (`type = "socket"`), bound before any output
/// is touched.
pub enum Listener {
    /// TCP.
    Tcp(std::net::TcpListener),
    /// A Unix stream socket, and its path (removed at the end).
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixListener, std::path::PathBuf),
}

/// A connection of a [`Listener`].
trait Conn: Read + Send {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()>;
}

impl Conn for std::net::TcpStream {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_read_timeout(Some(t))
    }
}

#[cfg(unix)]
impl Conn for std::os::unix::net::UnixStream {
    fn set_timeout(&self, t: Duration) -> std::io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_read_timeout(Some(t))
    }
}

impl Listener {
    /// Listen as a `socket` source `id` says. A Unix socket file left at
    /// `path` by an earlier run is replaced; any other file there is not.
    pub fn bind(id: &str, mode: SocketMode, address: Option<&str>, path: Option<&std::path::Path>) -> Result<Listener> {
        let l = match (mode, address, path) {
            (SocketMode::Tcp, Some(a), _) => Listener::Tcp(
                std::net::TcpListener::bind(a).with_context(|| format!("source {id}: listening on tcp {a}"))?,
            ),
            #[cfg(unix)]
            (SocketMode::Unix, _, Some(p)) => {
                use std::os::unix::fs::FileTypeExt;
                if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()) {
                    std::fs::remove_file(p).with_context(|| format!("source {id}: replacing {}", p.display()))?;
                }
                let l = std::os::unix::net::UnixListener::bind(p)
                    .with_context(|| format!("source {id}: listening on unix {}", p.display()))?;
                Listener::Unix(l, p.to_path_buf())
            }
            _ => anyhow::bail!("source {id}: mode {mode:?} without its address or path"),
        };
        match &l {
            Listener::Tcp(t) => t.set_nonblocking(true),
            #[cfg(unix)]
            Listener::Unix(u, _) => u.set_nonblocking(true),
        }
        .with_context(|| format!("source {id}: setting up its socket"))?;
        Ok(l)
    }

    /// The TCP address it listens on (for tests binding port 0).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Listener::Tcp(t) => t.local_addr().ok(),
            #[cfg(unix)]
            Listener::Unix(..) => None,
        }
    }

    /// A connection waiting, and its peer's name.
    fn accept(&self) -> std::io::Result<(Box<dyn Conn>, String)> {
        match self {
            Listener::Tcp(t) => t.accept().map(|(s, a)| {
                let _ = s.set_nodelay(true);
                (Box::new(s) as Box<dyn Conn>, format!("tcp {a}"))
            }),
            #[cfg(unix)]
            Listener::Unix(u, p) => {
                u.accept().map(|(s, _)| (Box::new(s) as Box<dyn Conn>, format!("unix {}", p.display())))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Serve a `socket` source on a thread: each connection is read on a
/// thread of its own; the source ends once the run stops and every
/// connection has handed over what it read.
pub fn spawn_socket(hub: &Arc<Hub>, src: usize, listener: Listener, format: Format, stop: &Arc<AtomicUsize>) {
    let (hub, stop) = (Arc::clone(hub), Arc::clone(stop));
    let spawned = std::thread::Builder::new().name("logsieve-listen".into()).spawn(move || {
        let mut conns: Vec<std::thread::JoinHandle<()>> = Vec::new();
        while stop.load(Ordering::SeqCst) == 0 {
            match listener.accept() {
                Ok((conn, peer)) => {
                    let (hub, stop) = (Arc::clone(&hub), Arc::clone(&stop));
                    let t = std::thread::Builder::new()
                        .name("logsieve-conn".into())
                        .spawn(move || read_connection(&hub, src, conn, &peer, format, &stop));
                    match t {
                        Ok(t) => conns.push(t),
                        Err(e) => tracing::warn!("a connection could not be served: {e}"),
                    }
                    conns.retain(|t| !t.is_finished());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL / 2),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors, say: wait, and go on.
                    tracing::warn!("accepting a connection: {e}");
                    std::thread::sleep(POLL);
                }
            }
        }
        drop(listener);
        for t in conns {
            let _ = t.join();
        }
        hub.push(src, Entry::End);
    });
    spawned.expect("starting a socket source's thread");
}

/// Read one connection to its end (or the run's stop) into the hub: each
/// read's complete lines as one group.
fn read_connection(hub: &Hub, src: usize, mut conn: Box<dyn Conn>, peer: &str, format: Format, stop: &AtomicUsize) {
    let mut parser = Parser::new(peer.into(), format, DEFAULT_MAX_LINE);
    let mut buf = vec![0u8; 64 << 10];
    let mut group: Vec<Item> = Vec::new();
    let mut why = "the peer closed the connection in the middle of a line (no newline after its last bytes)";
    if let Err(e) = conn.set_timeout(POLL) {
        tracing::warn!("{peer}: {e}");
    }
    loop {
        if stop.load(Ordering::SeqCst) != 0 {
            why = "the run stopped in the middle of the line (no newline after its last bytes yet)";
            break;
        }
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                parser.feed(&buf[..n], &mut |i| group.push(i));
                if !group.is_empty() && !hub.push(src, Entry::Items(std::mem::take(&mut group))) {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                why = "the connection failed in the middle of a line (no newline after its last bytes)";
                break;
            }
        }
    }
    if parser.in_line() {
        parser.fail(reason::TRUNCATED_LINE, why.into(), &mut |i| group.push(i));
    } else {
        parser.finish(&mut |i| group.push(i));
    }
    if !group.is_empty() && !hub.push(src, Entry::Items(group)) {
        return;
    }
    hub.push(src, Entry::Pause);
}

/// An `http_server` source's settings.
pub struct HttpSource {
    /// The bound server.
    pub server: tiny_http::Server,
    /// The URL path it answers on.
    pub path: String,
    /// How a body's lines are read.
    pub format: Format,
    /// The largest body, as sent and decoded.
    pub max_body_bytes: u64,
}

impl HttpSource {
    /// Bind `address` (before any output is touched).
    pub fn bind(id: &str, address: &str, path: &str, format: Format, max_body_bytes: u64) -> Result<HttpSource> {
        let server = tiny_http::Server::http(address)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("source {id}: listening on {address}"))?;
        Ok(HttpSource { server, path: path.to_string(), format, max_body_bytes })
    }

    /// The address it listens on (for tests binding port 0).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.server_addr().to_ip()
    }
}

/// Serve an `http_server` source on a thread, each request on a thread of
/// its own; the source ends once the run stops and every request taken has
/// been answered.
pub fn spawn_http(hub: &Arc<Hub>, src: usize, http: HttpSource, stop: &Arc<AtomicUsize>) {
    let (hub, stop) = (Arc::clone(hub), Arc::clone(stop));
    let spawned = std::thread::Builder::new().name("logsieve-http".into()).spawn(move || {
        let http = Arc::new(http);
        let mut requests: Vec<std::thread::JoinHandle<()>> = Vec::new();
        while stop.load(Ordering::SeqCst) == 0 {
            match http.server.recv_timeout(POLL) {
                Ok(Some(request)) => {
                    let (hub, stop, http) = (Arc::clone(&hub), Arc::clone(&stop), Arc::clone(&http));
                    let t = std::thread::Builder::new()
                        .name("logsieve-request".into())
                        .spawn(move || answer(&hub, src, &http, request, &stop));
                    match t {
                        Ok(t) => requests.push(t),
                        Err(e) => tracing::warn!("a request could not be served: {e}"),
                    }
                    requests.retain(|t| !t.is_finished());
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("receiving a request: {e}");
                    std::thread::sleep(POLL);
                }
            }
        }
        // Requests that came in meanwhile are refused (503), not dropped.
        while let Ok(Some(r)) = http.server.try_recv() {
            let _ = respond(r, 503, r#"{"error":"logsieve is stopping"}"#);
        }
        for t in requests {
            let _ = t.join();
        }
        hub.push(src, Entry::End);
    });
    spawned.expect("starting an http_server source's thread");
}

fn respond(request: tiny_http::Request, status: u16, body: &str) -> std::io::Result<()> {
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("a header");
    request.respond(tiny_http::Response::from_string(body).with_status_code(status).with_header(header))
}

fn error_body(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

/// Answer one request: its events queued, and 200 once they are written.
fn answer(hub: &Hub, src: usize, http: &HttpSource, mut request: tiny_http::Request, stop: &AtomicUsize) {
    let url_path = request.url().split('?').next().unwrap_or("").to_string();
    if url_path != http.path {
        let _ = respond(request, 404, &error_body(&format!("logsieve takes events at {}", http.path)));
        return;
    }
    if *request.method() == tiny_http::Method::Head {
        // A client's health check (Vector's `healthcheck.uri`).
        let _ = request.respond(tiny_http::Response::empty(200));
        return;
    }
    if *request.method() != tiny_http::Method::Post {
        let allow = tiny_http::Header::from_bytes(&b"Allow"[..], &b"POST"[..]).expect("a header");
        let body = error_body("POST the events (NDJSON, or a JSON array)");
        let _ = request.respond(tiny_http::Response::from_string(body).with_status_code(405).with_header(allow));
        return;
    }
    if stop.load(Ordering::SeqCst) != 0 {
        let _ = respond(request, 503, &error_body("logsieve is stopping"));
        return;
    }
    let max = http.max_body_bytes;
    if request.body_length().is_some_and(|n| n as u64 > max) {
        let _ = respond(request, 413, &error_body(&format!("the body is larger than max_body_bytes = {max}")));
        return;
    }
    let gzip = request
        .headers()
        .iter()
        .any(|h| h.field.equiv("Content-Encoding") && h.value.as_str().trim().eq_ignore_ascii_case("gzip"));
    let peer = request.remote_addr().map_or_else(|| "http".to_string(), |a| format!("http {a}"));
    let mut body = Vec::new();
    let read = if gzip {
        flate2::read::MultiGzDecoder::new(request.as_reader().take(max + 1)).take(max + 1).read_to_end(&mut body)
    } else {
        request.as_reader().take(max + 1).read_to_end(&mut body)
    };
    if let Err(e) = read {
        let what = if gzip { "reading the gzip body" } else { "reading the body" };
        let _ = respond(request, 400, &error_body(&format!("{what}: {e}")));
        return;
    }
    if body.len() as u64 > max {
        let _ = respond(request, 413, &error_body(&format!("the body is larger than max_body_bytes = {max}")));
        return;
    }
    let items = match body_items(&body, &peer, http.format) {
        Ok(items) => items,
        Err(msg) => {
            let _ = respond(request, 400, &error_body(&msg));
            return;
        }
    };
    let n = items.len();
    let (tx, rx) = mpsc::channel();
    if (n > 0 && !hub.push(src, Entry::Items(items))) || !hub.push(src, Entry::Ack(tx)) {
        let _ = respond(request, 503, &error_body("logsieve is stopping"));
        return;
    }
    match rx.recv() {
        Ok(()) => {
            let _ = respond(request, 200, &serde_json::json!({ "events": n }).to_string());
        }
        Err(_) => {
            let _ = respond(request, 503, &error_body("the run ended before these events were written"));
        }
    }
}

/// A body's items: a JSON array's elements, or its lines.
fn body_items(body: &[u8], peer: &str, format: Format) -> Result<Vec<Item>, String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let mut items = Vec::new();
    if first == Some(&b'[') {
        // Each element's own text (its keys in their order), on one line.
        let values: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body)
            .map_err(|e| format!("the body starts with `[` but is not a JSON array: {e}"))?;
        let file: Arc<str> = peer.into();
        for (i, v) in values.into_iter().enumerate() {
            let origin = logsieve_readers::Origin { file: Arc::clone(&file), line: i as u64 + 1 };
            items.push(Item { origin, result: Ok(one_line(v.get())) });
        }
        return Ok(items);
    }
    let mut parser = Parser::new(peer.into(), format, DEFAULT_MAX_LINE);
    parser.feed(body, &mut |i| items.push(i));
    parser.finish(&mut |i| items.push(i));
    Ok(items)
}

/// A JSON text on one line: whitespace outside strings dropped when the
/// text spans lines (a pretty-printed element), else the text as it is.
fn one_line(json: &str) -> String {
    if !json.contains(['\n', '\r']) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(items: &[Item]) -> Vec<String> {
        items.iter().map(|i| i.result.clone().unwrap_or_else(|e| format!("ERR {}", e.reason))).collect()
    }

    #[test]
    fn a_json_array_body_keeps_each_events_text_on_one_line() {
        let body = b" [ {\"b\":1,\"a\":\"x y\"},\n  {\n  \"s\": \"a \\\" \\n b\",\n  \"n\": [1, 2]\n}\n]\n";
        let items = body_items(body, "http t", Format::Ndjson).expect("an array");
        assert_eq!(texts(&items), [r#"{"b":1,"a":"x y"}"#, r#"{"s":"a \" \n b","n":[1,2]}"#]);
        assert_eq!(items[1].origin.line, 2);
    }

    #[test]
    fn an_ndjson_body_needs_no_last_newline_and_bad_lines_are_items() {
        let items = body_items(b"{\"a\":1}\n\n{\"a\":2}", "http t", Format::Ndjson).expect("lines");
        assert_eq!(texts(&items), [r#"{"a":1}"#, "ERR empty_line", r#"{"a":2}"#]);
        assert!(body_items(b"[1, 2", "http t", Format::Ndjson).unwrap_err().contains("not a JSON array"));
    }
}
