//! The pipeline file (`pipeline.toml`), in Vector's conventions.
//!
//! ```toml
//! [sources.conn]
//! type = "file"                  # or "stdin"
//! path = "logs/conn.*.log.gz"    # a path, a glob, or a list of them
//! format = "auto"                # auto | zeek_tsv | zeek_json | ndjson | csv | tsv
//!
//! [transforms.score]
//! type = "logsieve"
//! inputs = ["conn"]              # sources
//! model = "conn.model.msgpack"
//! # plugin = "other.wasm"        # another component instead of the embedded one
//! # batch_size = 1000            # events per call into the component
//! # flush_ms = 1000              # a partial batch waits at most this long
//! # top_features = 3
//! # batch_timeout_ms = 10000     # a batch running longer is interrupted (0: no deadline, faster)
//! # memory_limit_mb = 1024       # the component's memory limit
//! # reload_model = true          # switch to a new model file between batches
//! # threads = 2                  # component instances scoring batches in parallel (default: the cores)
//!
//! [sinks.scored]
//! type = "file"                  # or "stdout" ("console"), or "socket" (mode = "tcp" | "unix")
//! inputs = ["score"]             # a transform's scored events
//! path = "out/scored.ndjson"
//! # only_anomalies = false
//!
//! [sinks.errors]
//! type = "file"
//! inputs = ["score.errors"]      # the events that failed, with their reason
//! path = "out/errors.ndjson"
//! ```
//!
//! `${VAR}` and `${VAR:-default}` are replaced first ([`super::interpolate`]).
//! Relative paths are resolved against the pipeline file's folder (its own
//! name taken literally in globs). Unknown keys are refused with their
//! name; all problems are reported at once: unknown keys, the topology,
//! duplicate inputs, size keys out of range, and file sinks that a source
//! would read or that another sink writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use logsieve_readers::Format;
use serde::Deserialize;

/// The whole pipeline.
#[derive(Debug, Default)]
pub struct PipelineConfig {
    /// Where events come from.
    pub sources: BTreeMap<String, SourceConfig>,
    /// What scores them.
    pub transforms: BTreeMap<String, TransformConfig>,
    /// Where they go.
    pub sinks: BTreeMap<String, SinkConfig>,
    /// `[api]`: the `/metrics` and `/health` endpoint, when enabled.
    pub api: Option<ApiConfig>,
    /// Ids of entries that could not be read (their problems are reported;
    /// references to them are not reported again).
    broken: BTreeSet<String>,
}

/// One path or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Paths {
    /// A single path or glob.
    One(String),
    /// Several, read in order.
    Many(Vec<String>),
}

impl Paths {
    /// As a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Paths::One(p) => vec![p.clone()],
            Paths::Many(v) => v.clone(),
        }
    }
}

/// A source's `format`, parsed when the pipeline is read: an unknown name
/// is refused with the names there are.
fn format<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Format, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(|e: logsieve_readers::UnknownFormat| serde::de::Error::custom(e))
}

/// `[sources.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// Files: a path, a glob, or a list; read in order, `.gz` transparently.
    File {
        /// Path(s) or glob(s).
        path: Paths,
        /// Input format (default `auto`).
        #[serde(default, deserialize_with = "format")]
        format: Format,
        /// Follow the files as they grow, are rotated and appear (like
        /// `tail -F`; Vector's `file` source), with checkpoints in
        /// `data_dir`: the run goes on until it is stopped.
        #[serde(default)]
        follow: bool,
        /// With `follow`: where the checkpoints are kept (default
        /// `logsieve-data/` beside the pipeline file); a restart resumes
        /// where the last run stopped.
        #[serde(default)]
        data_dir: Option<PathBuf>,
    },
    /// Standard input.
    Stdin {
        /// Input format (default `auto`).
        #[serde(default, deserialize_with = "format")]
        format: Format,
    },
    /// A listening stream socket, as Vector's `socket` source: one event
    /// (a JSON object, or a Zeek/CSV line as `format` says) per line, from
    /// any number of connections at once. Runs until the run is stopped.
    Socket {
        /// `tcp` or `unix`.
        mode: SocketMode,
        /// With `tcp`: `host:port` to listen on.
        #[serde(default)]
        address: Option<String>,
        /// With `unix`: the socket's path (an old socket file there is
        /// replaced).
        #[serde(default)]
        path: Option<PathBuf>,
        /// Input format (default `auto`, decided per connection).
        #[serde(default, deserialize_with = "format")]
        format: Format,
    },
    /// An HTTP endpoint taking POSTs of NDJSON (or a JSON array of
    /// events), as Vector's `http_server` source; see [`super::sources`].
    HttpServer {
        /// `host:port` to listen on.
        address: String,
        /// The URL path it answers on (others: 404).
        #[serde(default = "default_http_path")]
        path: String,
        /// Body format (default `ndjson`; a body starting with `[` is a
        /// JSON array of events whatever the format).
        #[serde(default = "ndjson", deserialize_with = "format")]
        format: Format,
        /// A larger body is refused with 413.
        #[serde(default = "default_max_body_bytes")]
        max_body_bytes: u64,
    },
}

fn default_http_path() -> String {
    "/".into()
}
fn ndjson() -> Format {
    Format::Ndjson
}
const fn default_max_body_bytes() -> u64 {
    16 << 20
}

const fn default_batch_size() -> usize {
    1000
}
const fn default_top_features() -> u32 {
    3
}

/// `[transforms.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransformConfig {
    /// Score events with the logsieve component.
    Logsieve {
        /// Source ids.
        inputs: Vec<String>,
        /// The model artifact.
        model: PathBuf,
        /// A component file to use instead of the embedded one.
        #[serde(default)]
        plugin: Option<PathBuf>,
        /// Events per call into the component.
        #[serde(default = "default_batch_size")]
        batch_size: usize,
        /// Top contributing features reported per event.
        #[serde(default = "default_top_features")]
        top_features: u32,
        /// A partial batch (fewer than `batch_size` events) is scored and
        /// written once its first event has waited this long, so a slow
        /// live stream is not held back (Vector's `batch.timeout_secs`).
        #[serde(default = "default_flush_ms")]
        flush_ms: u64,
        /// Also write the scaled vector (`logsieve.vector`).
        #[serde(default)]
        emit_vector: bool,
        /// One batch may run this long in the component before it is
        /// interrupted (its events go to `<id>.errors`, reason
        /// `guest_timeout`). 0: no deadline; the component is then compiled
        /// without interruption checks, which makes scoring about 10 %
        /// faster (BENCHMARKS.md), and a call that never ends is not stopped.
        #[serde(default = "default_batch_timeout_ms")]
        batch_timeout_ms: u64,
        /// The component's memory may not grow past this (reason
        /// `guest_memory_limit`).
        #[serde(default = "default_memory_limit_mb")]
        memory_limit_mb: u64,
        /// Watch the model file and switch to a new one between batches
        /// (write it elsewhere and rename it over the old one). A new model
        /// that is refused leaves the old one serving.
        #[serde(default = "default_true")]
        reload_model: bool,
        /// Component instances scoring batches in parallel, each on its own
        /// thread (default: the machine's cores). The output is the same,
        /// in the same order, whatever the number. 1: the batches are
        /// scored one after the other on the pipeline's thread. A model
        /// with per-key state (`[aggregate]`, an `inter_arrival` derive, a
        /// flow2vec `sequence`) is always scored by one instance: each key
        /// must see its events in order.
        #[serde(default)]
        threads: Option<usize>,
    },
}

const fn default_flush_ms() -> u64 {
    1000
}
const fn default_batch_timeout_ms() -> u64 {
    10_000
}
const fn default_memory_limit_mb() -> u64 {
    1024
}
const fn default_true() -> bool {
    true
}

/// `[api]` (see [`super::api`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Whether to listen (the table being there enables it).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Where (Vector's API address by default).
    #[serde(default = "default_api_address")]
    pub address: String,
}

fn default_api_address() -> String {
    "127.0.0.1:8686".into()
}

impl ApiConfig {
    /// The address, parsed.
    pub fn socket_addr(&self) -> Result<std::net::SocketAddr, String> {
        self.address
            .parse()
            .map_err(|_| format!("api.address: {:?} is not an address:port (e.g. \"127.0.0.1:8686\")", self.address))
    }
}

/// A sink's `encoding` table, accepted as Vector writes it
/// (`encoding.codec = "json"`): sinks write NDJSON, so `json` is the only
/// codec.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encoding {
    /// The codec: `json` (one object per line).
    pub codec: Codec,
}

/// The codecs of [`Encoding`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// One JSON object per line.
    Json,
}

/// `[sinks.<id>]`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// An NDJSON file (created, parent folders too; truncated if present).
    File {
        /// Transform outputs: `<id>` (scored) or `<id>.errors`.
        inputs: Vec<String>,
        /// The file.
        path: PathBuf,
        /// Keep only anomalous events (errors always pass).
        #[serde(default)]
        only_anomalies: bool,
        /// Vector's `encoding.codec`: only `json`.
        #[serde(default)]
        encoding: Option<Encoding>,
        /// Add to the file instead of replacing it (what a following
        /// pipeline that is restarted wants).
        #[serde(default)]
        append: bool,
    },
    /// NDJSON on standard output (`type = "console"`, Vector's name, is
    /// the same sink).
    #[serde(alias = "console")]
    Stdout {
        /// Transform outputs.
        inputs: Vec<String>,
        /// Keep only anomalous events.
        #[serde(default)]
        only_anomalies: bool,
        /// Vector's `encoding.codec`: only `json`.
        #[serde(default)]
        encoding: Option<Encoding>,
    },
    /// NDJSON over a stream socket, as Vector's `socket` sink with
    /// newline-delimited framing: `mode = "tcp"` connects to `address`
    /// (`host:port`), `mode = "unix"` to the socket at `path`. Connected
    /// when the run starts (a peer that is not there refuses the run before
    /// any output is touched); a write the peer refuses (it closed the
    /// connection) stops the run naming the sink, as a closed pipe does.
    Socket {
        /// Transform outputs.
        inputs: Vec<String>,
        /// `tcp` or `unix`.
        mode: SocketMode,
        /// With `tcp`: `host:port`.
        #[serde(default)]
        address: Option<String>,
        /// With `unix`: the socket's path.
        #[serde(default)]
        path: Option<PathBuf>,
        /// Keep only anomalous events.
        #[serde(default)]
        only_anomalies: bool,
        /// Vector's `encoding.codec`: only `json`.
        #[serde(default)]
        encoding: Option<Encoding>,
    },
    /// Batched NDJSON POSTs, as Vector's `http` sink (see
    /// [`super::sinks`]): a batch is posted when it holds
    /// `batch.max_events` events or `batch.max_bytes` bytes, or its first
    /// event waited `batch.timeout_secs`; a POST that fails is retried, the
    /// pipeline waiting meanwhile (back-pressure).
    Http {
        /// Transform outputs.
        inputs: Vec<String>,
        /// `http://host:port/path`.
        uri: String,
        /// Batching.
        #[serde(default)]
        batch: HttpBatch,
        /// Retries, timeout, headers.
        #[serde(default)]
        request: HttpRequest,
        /// Keep only anomalous events.
        #[serde(default)]
        only_anomalies: bool,
        /// Vector's `encoding.codec`: only `json`.
        #[serde(default)]
        encoding: Option<Encoding>,
    },
}

/// An `http` sink's `batch` table (Vector's names).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpBatch {
    /// Events per POST at most.
    #[serde(default = "default_http_max_events")]
    pub max_events: usize,
    /// Bytes per POST at most (a single larger event is posted alone).
    #[serde(default = "default_http_max_bytes")]
    pub max_bytes: usize,
    /// A partial batch is posted once its first event waited this long.
    #[serde(default = "default_http_timeout_secs")]
    pub timeout_secs: f64,
}

impl Default for HttpBatch {
    fn default() -> Self {
        HttpBatch {
            max_events: default_http_max_events(),
            max_bytes: default_http_max_bytes(),
            timeout_secs: default_http_timeout_secs(),
        }
    }
}

const fn default_http_max_events() -> usize {
    1000
}
const fn default_http_max_bytes() -> usize {
    1_000_000
}
const fn default_http_timeout_secs() -> f64 {
    1.0
}

/// An `http` sink's `request` table (Vector's names).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// Retries of a POST that fails (no answer, 408, 429 or 5xx), waiting
    /// 1 s, 2 s, 4 s … (at most 30 s) between them; then the run stops
    /// naming the sink.
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// One POST may take this long.
    #[serde(default = "default_request_timeout_secs")]
    pub timeout_secs: f64,
    /// Extra headers (`Authorization`, …; a `Content-Type` here replaces
    /// `application/x-ndjson`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpRequest {
    fn default() -> Self {
        HttpRequest {
            retry_attempts: default_retry_attempts(),
            timeout_secs: default_request_timeout_secs(),
            headers: BTreeMap::new(),
        }
    }
}

const fn default_retry_attempts() -> u32 {
    5
}
const fn default_request_timeout_secs() -> f64 {
    60.0
}

/// A socket sink's `mode`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SocketMode {
    /// TCP, to `address`.
    Tcp,
    /// A Unix stream socket, at `path`.
    Unix,
}

impl SinkConfig {
    /// The sink's inputs.
    pub fn inputs(&self) -> &[String] {
        match self {
            SinkConfig::File { inputs, .. }
            | SinkConfig::Stdout { inputs, .. }
            | SinkConfig::Socket { inputs, .. }
            | SinkConfig::Http { inputs, .. } => inputs,
        }
    }
}

/// A following file source's `data_dir` when none is given (beside the
/// pipeline file).
pub const DEFAULT_DATA_DIR: &str = "logsieve-data";

/// The problems of a socket's `mode` with its `address` / `path`.
fn socket_keys(at: &str, mode: SocketMode, address: Option<&str>, path: Option<&Path>, errs: &mut Vec<String>) {
    match (mode, address, path) {
        (SocketMode::Tcp, Some(a), None) => {
            if std::net::ToSocketAddrs::to_socket_addrs(a).is_err() {
                errs.push(format!("{at}: address {a:?} is not a host:port"));
            }
        }
        (SocketMode::Unix, None, Some(_)) => {}
        (SocketMode::Tcp, _, _) => errs.push(format!("{at}: mode \"tcp\" takes `address` (host:port) and no `path`")),
        (SocketMode::Unix, _, _) => {
            errs.push(format!("{at}: mode \"unix\" takes `path` (the socket) and no `address`"))
        }
    }
}

/// Check an `http` sink's `uri`: `http://host:port/…` (no TLS).
pub fn http_uri(uri: &str) -> Result<(), String> {
    if uri.starts_with("https://") {
        return Err("https is not supported (no TLS is built in): post to a local collector over http".into());
    }
    let Some(rest) = uri.strip_prefix("http://") else {
        return Err("must start with http://".into());
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err("no host".into());
    }
    Ok(())
}

/// The suffix of a transform's errors output.
pub const ERRORS_SUFFIX: &str = ".errors";

/// The largest `batch_size`: a batch also stops at 16 MiB of text, so a
/// larger count gains nothing and would only reserve memory.
pub const MAX_BATCH_SIZE: usize = 100_000;
/// The largest `top_features` (far more features than any model has).
pub const MAX_TOP_FEATURES: u32 = 1000;
/// The largest `memory_limit_mb`: a wasm32 memory holds 4 GiB.
pub const MAX_MEMORY_LIMIT_MB: u64 = 4096;
/// The largest `batch_timeout_ms`: one day.
pub const MAX_BATCH_TIMEOUT_MS: u64 = 86_400_000;
/// The largest `flush_ms`: one hour.
pub const MAX_FLUSH_MS: u64 = 3_600_000;
/// The most `threads` (component instances) of one transform.
pub const MAX_THREADS: usize = 256;

/// Deserialize one entry (`[sources.<id>]`, …), reporting every unknown key
/// (serde stops at the first: each is removed and the entry read again)
/// and any other problem; the entry without its unknown keys, if the rest
/// could be read.
fn entry<T: serde::de::DeserializeOwned>(at: &str, value: &toml::Value, errs: &mut Vec<String>) -> Option<T> {
    let toml::Value::Table(table) = value else {
        errs.push(format!("{at}: must be a table, not a {}", value.type_str()));
        return None;
    };
    let mut table = table.clone();
    for _ in 0..=table.len() {
        match toml::Value::Table(table.clone()).try_into::<T>() {
            // With its unknown keys reported and left out, the rest is
            // still checked (the globs and models `validate` opens).
            Ok(t) => return Some(t),
            Err(e) => {
                let msg = e.to_string().trim().to_string();
                let field = msg
                    .strip_prefix("unknown field `")
                    .and_then(|rest| rest.split_once('`'))
                    .map(|(f, rest)| (f.to_string(), rest.trim_start_matches(", ").to_string()));
                match field {
                    Some((f, expected)) if table.remove(&f).is_some() => {
                        errs.push(format!("{at}: unknown key `{f}` ({expected})"));
                    }
                    _ => {
                        errs.push(format!("{at}: {msg}"));
                        return None;
                    }
                }
            }
        }
    }
    None
}

/// Whether a path or pattern has glob characters.
fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A pattern component as a literal name, if it is one (plain, or escaped
/// with `glob::Pattern::escape`: `[[]`, `[]]`, `[*]`, `[?]`).
fn literal_component(c: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = c.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '[' => {
                let (x, close) = (chars.next()?, chars.next()?);
                if close != ']' || !matches!(x, '[' | ']' | '*' | '?') {
                    return None;
                }
                out.push(x);
            }
            '*' | '?' => return None,
            _ => out.push(ch),
        }
    }
    Some(out)
}

/// `p` as the file system sees it: symlinks followed and `.`/`..` resolved
/// for the part that exists, the rest appended (`..` folded lexically).
pub fn real_path(p: &Path) -> PathBuf {
    let abs = if p.is_relative() { std::env::current_dir().unwrap_or_default().join(p) } else { p.to_path_buf() };
    let comps: Vec<_> = abs.components().collect();
    for i in (0..=comps.len()).rev() {
        let prefix: PathBuf = comps[..i].iter().collect();
        let Ok(mut out) = prefix.canonicalize() else { continue };
        for c in &comps[i..] {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other.as_os_str()),
            }
        }
        return out;
    }
    abs
}

/// What an existing file is, whatever the path to it: its device and
/// inode (hard links and symbolic links to it included); `None` when
/// nothing is there.
#[cfg(unix)]
fn identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// What an existing file is (elsewhere than on Unix: its real path only).
#[cfg(not(unix))]
fn identity(p: &Path) -> Option<PathBuf> {
    p.exists().then(|| real_path(p))
}

/// Whether two existing paths are the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    identity(a).is_some_and(|x| identity(b).as_ref() == Some(&x))
}

/// A source pattern's matches now, each with its [`identity`]; looked up
/// once per pattern however many sinks are checked against it.
type Globbed = std::collections::HashMap<String, Vec<(PathBuf, Option<Identity>)>>;

#[cfg(unix)]
type Identity = (u64, u64);
#[cfg(not(unix))]
type Identity = PathBuf;

/// Glob matching as `glob::glob` does it: a wildcard does not cross `/`.
const MATCH: glob::MatchOptions =
    glob::MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: false };

/// Whether the source pattern (or path) `pattern` reads, or would read once
/// it exists, the file `sink` (whose real path is `sink_real`).
fn reads(pattern: &str, sink: &Path, sink_real: &Path, globbed: &mut Globbed) -> bool {
    let p = Path::new(pattern);
    if p.exists() || !has_glob(pattern) {
        return real_path(p) == sink_real || same_file(p, sink);
    }
    // What the glob matches now: the same file as the sink, or a path whose
    // real path is the sink's (a dangling link the sink would write
    // through). The real path, a `readlink` per component, is looked up
    // only for a match with the sink's file name, which that needs (with
    // a real path for each of the 720 files of bench/pipeline_data.sh, the
    // first event was scored 48-107 ms after the start; now 21-27 ms).
    let found = globbed.entry(pattern.to_string()).or_insert_with(|| {
        glob::glob(pattern)
            .map(|g| {
                g.flatten()
                    .map(|f| {
                        let id = identity(&f);
                        (f, id)
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    let sink_id = identity(sink);
    for (f, id) in found.iter() {
        if (sink_id.is_some() && *id == sink_id)
            || (f.file_name() == sink_real.file_name() && real_path(f) == sink_real)
        {
            return true;
        }
    }
    // What it would match: its literal folder resolved, the rest as given.
    let comps: Vec<&str> = pattern.split('/').collect();
    let n = comps.iter().take_while(|c| literal_component(c).is_some()).count();
    let literal: String =
        comps[..n].iter().map(|c| literal_component(c).unwrap_or_default()).collect::<Vec<_>>().join("/");
    let base = if literal.is_empty() && n > 0 { PathBuf::from("/") } else { real_path(Path::new(&literal)) };
    let rest = comps[n..].join("/");
    if rest.is_empty() {
        return base == sink_real;
    }
    let resolved = format!("{}/{rest}", glob::Pattern::escape(&base.to_string_lossy()).trim_end_matches('/'));
    let hit = |pat: &str, path: &Path| glob::Pattern::new(pat).is_ok_and(|g| g.matches_path_with(path, MATCH));
    hit(&resolved, sink_real) || hit(pattern, sink)
}

/// The most TOML syntax errors reported for one file.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Parse `text` as TOML; each syntax error is reported with its line and
/// column, and its line blanked out so that the next error (and the rest of
/// the file) can be found in the same pass. What could be parsed is
/// returned (`None`: nothing could be, past an error that blanking its line
/// did not get past).
fn parse_recovering(text: &str, errs: &mut Vec<(usize, String)>) -> Option<toml::Table> {
    let mut text = text.to_string();
    let mut blanked: Vec<usize> = Vec::new();
    loop {
        match toml::from_str::<toml::Table>(&text) {
            Ok(table) => return Some(table),
            Err(e) => {
                let at = e.span().map_or(text.len(), |s| s.start.min(text.len()));
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let line = text[..at].matches('\n').count() + 1;
                let column = text[line_start..at].chars().count() + 1;
                let msg = e.message().trim().replace('\n', " ");
                if blanked.contains(&line) || blanked.len() >= MAX_SYNTAX_ERRORS {
                    // Blanking its line did not help (an unclosed string or
                    // array running on): what follows is not checked.
                    errs.push((
                        line,
                        format!("TOML syntax: line {line}, column {column}: {msg} (the file is not checked past here)"),
                    ));
                    return None;
                }
                errs.push((line, format!("TOML syntax: line {line}, column {column}: {msg}")));
                blanked.push(line);
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                let blank: String = text[line_start..line_end].chars().map(|_| ' ').collect();
                text.replace_range(line_start..line_end, &blank);
            }
        }
    }
}

impl PipelineConfig {
    /// Read, parse and validate a pipeline file; relative paths become
    /// relative to its folder. Every problem is reported at once.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let (cfg, errs) = Self::read(path)?;
        if !errs.is_empty() {
            bail!("{} has {} problem(s):\n  - {}", path.display(), errs.len(), errs.join("\n  - "));
        }
        Ok(cfg)
    }

    /// Read a pipeline file as far as it can be read: the configuration and
    /// every problem found — environment variables (see
    /// [`super::interpolate`]), TOML syntax (each line with a syntax error
    /// is reported, then left out so the rest is checked too), unknown
    /// keys, the topology, the keys' ranges and the sinks' paths. An error
    /// only when the file cannot be read at all.
    pub fn read(path: &Path) -> Result<(PipelineConfig, Vec<String>)> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let (text, mut errs) = super::interpolate::interpolate(&text, |name| std::env::var(name).ok());
        let mut cfg = PipelineConfig::default();
        let mut syntax = Vec::new();
        let table = parse_recovering(&text, &mut syntax);
        // In the order of the file (an error can show only once a later
        // line is left out).
        syntax.sort_by_key(|(line, _)| *line);
        errs.extend(syntax.into_iter().map(|(_, e)| e));
        let Some(table) = table else {
            return Ok((cfg, errs));
        };
        for (key, value) in &table {
            let section = match key.as_str() {
                "sources" | "transforms" | "sinks" => value,
                "api" => {
                    if let Some(api) = entry::<ApiConfig>("api", value, &mut errs) {
                        if let Err(e) = api.socket_addr() {
                            errs.push(e);
                        }
                        cfg.api = api.enabled.then_some(api);
                    }
                    continue;
                }
                other => {
                    errs.push(format!("unknown section `{other}` (known: sources, transforms, sinks, api)"));
                    continue;
                }
            };
            let Some(entries) = section.as_table() else {
                errs.push(format!("{key}: must be a table of [{key}.<id>] entries"));
                continue;
            };
            for (id, v) in entries {
                let at = format!("{key}.{id}");
                let ok = match key.as_str() {
                    "sources" => entry(&at, v, &mut errs).map(|e| cfg.sources.insert(id.clone(), e)).is_some(),
                    "transforms" => entry(&at, v, &mut errs).map(|e| cfg.transforms.insert(id.clone(), e)).is_some(),
                    _ => entry(&at, v, &mut errs).map(|e| cfg.sinks.insert(id.clone(), e)).is_some(),
                };
                if !ok {
                    cfg.broken.insert(at);
                }
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve(base);
        if let Err(more) = cfg.validate() {
            errs.extend(more);
        }
        if errs.is_empty() {
            errs.extend(cfg.check_paths());
        }
        Ok((cfg, errs))
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        // A relative glob: the base folder's own name is literal (escaped),
        // so `…/[ab]/pipeline.toml` reads `…/[ab]/logs`, not `…/a/logs`.
        let fix_str = |s: &String| {
            let joined = base.join(s);
            if !Path::new(s).is_relative() {
                s.clone()
            } else if joined.exists() || !has_glob(s) || base.as_os_str().is_empty() {
                joined.to_string_lossy().into_owned()
            } else {
                format!("{}/{s}", glob::Pattern::escape(&base.to_string_lossy()).trim_end_matches('/'))
            }
        };
        for s in self.sources.values_mut() {
            match s {
                SourceConfig::File { path, follow, data_dir, .. } => {
                    *path = match path {
                        Paths::One(p) => Paths::One(fix_str(p)),
                        Paths::Many(v) => Paths::Many(v.iter().map(fix_str).collect()),
                    };
                    if *follow {
                        let dir = data_dir.get_or_insert_with(|| PathBuf::from(DEFAULT_DATA_DIR));
                        fix(dir);
                    }
                }
                SourceConfig::Socket { path: Some(p), .. } => fix(p),
                _ => {}
            }
        }
        for t in self.transforms.values_mut() {
            let TransformConfig::Logsieve { model, plugin, .. } = t;
            fix(model);
            if let Some(p) = plugin {
                fix(p);
            }
        }
        for s in self.sinks.values_mut() {
            match s {
                SinkConfig::File { path, .. } | SinkConfig::Socket { path: Some(path), .. } => fix(path),
                _ => {}
            }
        }
    }

    /// Use one component file for every transform (`logsieve run --plugin`).
    pub fn override_plugin(&mut self, path: &Path) {
        for t in self.transforms.values_mut() {
            let TransformConfig::Logsieve { plugin, .. } = t;
            *plugin = Some(path.to_path_buf());
        }
    }

    /// Use this many component instances in every transform (`logsieve
    /// run --threads`).
    pub fn override_threads(&mut self, n: usize) {
        for t in self.transforms.values_mut() {
            let TransformConfig::Logsieve { threads, .. } = t;
            *threads = Some(n);
        }
    }

    /// Check the topology and the keys' ranges; every problem is listed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        let broken = |section: &str, id: &str| self.broken.contains(&format!("{section}.{id}"));
        if self.sources.is_empty() && !self.broken.iter().any(|b| b.starts_with("sources.")) {
            errs.push("no [sources.*] defined".to_string());
        }
        if self.sinks.is_empty() && !self.broken.iter().any(|b| b.starts_with("sinks.")) {
            errs.push("no [sinks.*] defined".to_string());
        }
        let duplicates = |at: &str, inputs: &[String], errs: &mut Vec<String>| {
            let mut seen = BTreeSet::new();
            for i in inputs {
                if !seen.insert(i) {
                    errs.push(format!("{at}: input '{i}' is listed twice (each record would be counted twice)"));
                }
            }
        };
        for id in self.sources.keys() {
            let taken = self.transforms.values().any(|t| {
                let TransformConfig::Logsieve { inputs, .. } = t;
                inputs.contains(id)
            });
            if !taken && !self.broken.iter().any(|b| b.starts_with("transforms.")) {
                errs.push(format!("sources.{id}: no transform takes it (its events would go nowhere)"));
            }
        }
        for (id, s) in &self.sources {
            match s {
                SourceConfig::Socket { mode, address, path, .. } => {
                    socket_keys(&format!("sources.{id}"), *mode, address.as_deref(), path.as_deref(), &mut errs);
                }
                SourceConfig::HttpServer { address, path, max_body_bytes, .. } => {
                    if std::net::ToSocketAddrs::to_socket_addrs(address.as_str()).is_err() {
                        errs.push(format!("sources.{id}: address {address:?} is not a host:port"));
                    }
                    if !path.starts_with('/') {
                        errs.push(format!("sources.{id}: path {path:?} must start with `/`"));
                    }
                    if *max_body_bytes == 0 {
                        errs.push(format!("sources.{id}: max_body_bytes must be at least 1"));
                    }
                }
                SourceConfig::File { follow: false, data_dir: Some(_), .. } => {
                    errs.push(format!("sources.{id}: data_dir is only used with follow = true"));
                }
                _ => {}
            }
        }
        for (id, t) in &self.transforms {
            let TransformConfig::Logsieve {
                inputs,
                batch_size,
                memory_limit_mb,
                top_features,
                batch_timeout_ms,
                flush_ms,
                threads,
                ..
            } = t;
            let mut range = |key: &str, value: u64, lo: u64, hi: u64, why: &str| {
                if !(lo..=hi).contains(&value) {
                    errs.push(format!(
                        "transforms.{id}: {key} = {value} is out of range: at least {lo}, at most {hi}{why}"
                    ));
                }
            };
            range(
                "batch_size",
                *batch_size as u64,
                1,
                MAX_BATCH_SIZE as u64,
                " (a batch also stops at 16 MiB of text)",
            );
            range("top_features", u64::from(*top_features), 0, u64::from(MAX_TOP_FEATURES), "");
            range("memory_limit_mb", *memory_limit_mb, 1, MAX_MEMORY_LIMIT_MB, " (a wasm32 memory holds 4 GiB)");
            range("batch_timeout_ms", *batch_timeout_ms, 0, MAX_BATCH_TIMEOUT_MS, " (one day; 0: no deadline)");
            range("flush_ms", *flush_ms, 0, MAX_FLUSH_MS, " (one hour)");
            if let Some(n) = threads {
                range("threads", *n as u64, 1, MAX_THREADS as u64, "");
            }
            if inputs.is_empty() {
                errs.push(format!("transforms.{id}: `inputs` is empty"));
            }
            duplicates(&format!("transforms.{id}"), inputs, &mut errs);
            for i in inputs {
                if !self.sources.contains_key(i) && !broken("sources", i) {
                    errs.push(format!(
                        "transforms.{id}: input '{i}' is not a source (sources: {})",
                        self.list_sources()
                    ));
                }
            }
            if id.contains('.') {
                errs.push(format!("transforms.{id}: ids may not contain '.'"));
            }
        }
        for (id, s) in &self.sinks {
            if s.inputs().is_empty() {
                errs.push(format!("sinks.{id}: `inputs` is empty"));
            }
            match s {
                SinkConfig::Socket { mode, address, path, .. } => {
                    socket_keys(&format!("sinks.{id}"), *mode, address.as_deref(), path.as_deref(), &mut errs);
                }
                SinkConfig::Http { uri, batch, request, .. } => {
                    if let Err(e) = http_uri(uri) {
                        errs.push(format!("sinks.{id}: uri {uri:?}: {e}"));
                    }
                    if batch.max_events == 0 || batch.max_bytes == 0 {
                        errs.push(format!("sinks.{id}: batch.max_events and batch.max_bytes must be at least 1"));
                    }
                    for (key, v) in
                        [("batch.timeout_secs", batch.timeout_secs), ("request.timeout_secs", request.timeout_secs)]
                    {
                        if !(v > 0.0 && v <= 86_400.0) {
                            errs.push(format!("sinks.{id}: {key} = {v} is out of range: above 0, at most 86400"));
                        }
                    }
                }
                _ => {}
            }
            duplicates(&format!("sinks.{id}"), s.inputs(), &mut errs);
            for i in s.inputs() {
                let t = i.strip_suffix(ERRORS_SUFFIX).unwrap_or(i);
                if !self.transforms.contains_key(t) && !broken("transforms", t) {
                    let hint = if self.sources.contains_key(i) {
                        " (it is a source; sinks take a transform's output `<id>` or `<id>.errors`)".to_string()
                    } else {
                        format!(" (outputs: {})", self.list_outputs())
                    };
                    errs.push(format!("sinks.{id}: input '{i}' is not a transform output{hint}"));
                }
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// File sinks against the sources and each other, paths resolved
    /// (symlinks followed): a sink may not write a file a source reads or
    /// whose glob would match it, and two sinks may not write one file.
    pub fn check_paths(&self) -> Vec<String> {
        let mut errs = Vec::new();
        let mut globbed = Globbed::new();
        let files: Vec<(&String, &PathBuf, PathBuf)> = self
            .sinks
            .iter()
            .filter_map(|(id, s)| match s {
                SinkConfig::File { path, .. } => Some((id, path, real_path(path))),
                SinkConfig::Stdout { .. } | SinkConfig::Socket { .. } | SinkConfig::Http { .. } => None,
            })
            .collect();
        for (i, (a, pa, ra)) in files.iter().enumerate() {
            for (b, pb, rb) in &files[i + 1..] {
                if ra == rb || same_file(pa, pb) {
                    errs.push(format!(
                        "sinks.{a} and sinks.{b} write the same file ({} and {}): their lines would interleave",
                        pa.display(),
                        pb.display()
                    ));
                }
            }
            for (sid, source) in &self.sources {
                let SourceConfig::File { path, .. } = source else { continue };
                for pattern in path.to_vec() {
                    if reads(&pattern, pa, ra, &mut globbed) {
                        let what = if Path::new(&pattern).exists() || !has_glob(&pattern) {
                            "the sink would overwrite its own input"
                        } else {
                            "the source's glob would read the sink's output"
                        };
                        errs.push(format!(
                            "sinks.{a}: its path {} is read by sources.{sid} ({pattern}): {what}",
                            pa.display()
                        ));
                    }
                }
            }
        }
        errs
    }

    fn list_sources(&self) -> String {
        self.sources.keys().cloned().collect::<Vec<_>>().join(", ")
    }

    fn list_outputs(&self) -> String {
        self.transforms.keys().flat_map(|t| [t.clone(), format!("{t}{ERRORS_SUFFIX}")]).collect::<Vec<_>>().join(", ")
    }
}
