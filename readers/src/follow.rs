//! Following growing and rotating log files, like `tail -F` (modelled on
//! Vector's `file` source), with checkpoints.
//!
//! A [`Follower`] watches the files its patterns (paths or globs) match,
//! hands out the records appended to them ([`Follower::read`]) and says,
//! with every batch, where each file has been read to ([`Positions`]). A
//! host saves those positions ([`Positions::save`]) once everything before
//! them has been written out, and gives them back at the next start
//! ([`Positions::load`], [`Follower::new`]): reading resumes exactly after
//! the last record handed out, neither repeating nor skipping one.
//!
//! # Identity: a content fingerprint
//!
//! A file is known by its **content**, not its name: the first
//! [`FINGERPRINT_BYTES`] (256) bytes of its text (decompressed if it is
//! gzip), hashed (64-bit FNV-1a). A Zeek log keeps its identity when it is
//! renamed (`conn.log` → `conn.2026-12-07-10-00-00.log`) and when it is
//! compressed (`… .log.gz`); two Zeek logs differ within those bytes because
//! the `#open <timestamp>` line ends before byte ~120.
//!
//! A file shorter than [`FINGERPRINT_BYTES`] is known by all of its bytes so
//! far: a position stores the **prefix length** with the hash, and a file
//! is that file when its first that-many bytes hash the same (a short file
//! that grows stays itself; its stored prefix grows with it). So a short
//! final file is still read and resumed. An empty file has no identity yet:
//! it is followed from its first byte on, and a position is stored for it
//! once it has one. Within one run the follower also knows the open files'
//! device and inode, so two different *uncompressed* files with the same
//! first bytes (say two CSV files holding only the same header) are still
//! told apart; across a restart only the content is known, and files with
//! identical first 256 bytes are taken for one (as in Vector).
//!
//! # Positions
//!
//! A position is a byte offset in the file's text (the **decompressed**
//! stream for gzip) just after the last line whose records have been handed
//! out, with the number of lines before it (so [`crate::Origin`] line
//! numbers continue after a restart). Only whole lines count: a last line
//! without its `\n` yet is left for later. For CSV a record spanning lines
//! (a quoted field with line ends) is resumed at its first line.
//!
//! # Polling
//!
//! There is no inotify: while [`Follower::read`] waits for something new it
//! re-scans the patterns and reads the files every 100 ms. Files found for
//! the first time are read from their beginning (Vector's
//! `read_from = "beginning"`), oldest first (by modification time, then
//! path), after the files already being read.
//!
//! # Rotation
//!
//! * **Rename** (`conn.log` → `conn.<ts>.log`, a new `conn.log`): the old
//!   file stays open and is read to its end (also if it is unlinked) before
//!   the new `conn.log`, which is a new file.
//! * **Compression** (`conn.<ts>.log` → `conn.<ts>.log.gz`, the plain file
//!   removed): a gzip file whose fingerprint is that of a file being read or
//!   already read is the same file: reading goes on in the decompressed
//!   stream at the file's position (nothing is read twice). A gzip file
//!   whose stream is cut short may still be being written: what it holds so
//!   far is read, and it is read on when it changes; only once it has been
//!   unchanged for 10 s is it reported as [`crate::reason::TRUNCATED_GZIP`].
//!   A gzip file read to its end is not decompressed again while its size
//!   stays the same (also across a restart).
//! * **Truncation** (copytruncate: a file now shorter than its position, or
//!   whose first bytes changed): it is read again from its start.
//!
//! # Restart
//!
//! With the saved [`Positions`], each file found is matched by fingerprint
//! and resumed at its position, under whatever name it has now (including
//! `conn.<ts>.log.gz` for a `conn.log` rotated and compressed while nothing
//! was running). Resuming re-reads the text before the position without
//! handing anything out, parsing only the lines that set state: the Zeek
//! `#fields`/`#types` header (also a header block re-declared mid-file), a
//! CSV header, the line [`Format::Auto`] decides on.
//!
//! # Forgetting
//!
//! A file neither found by the patterns nor open any more is forgotten
//! (dropped from [`Positions`]) after a grace period, 5 minutes by default
//! ([`Follower::with_forget_after`]): a rotated file renamed out of the
//! patterns may reappear compressed under a name they match, and it must
//! then be recognised. A renamed file that is still linked stays open (and
//! is read on) until that period has passed with nothing new in it.
//!
//! # Errors
//!
//! Errors never stop following: a file that cannot be opened gives one
//! [`crate::reason::OPEN_FAILED`] item (not one per poll; again only after
//! it could be opened in between), an I/O or gzip error one item, as
//! [`crate::Reader`] does.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::{DEFAULT_MAX_LINE, Format, Item, Parser, reason, whole_file_error};

/// How many bytes of a file's (decompressed) text its fingerprint covers.
pub const FINGERPRINT_BYTES: usize = 256;

/// Time between two scans of the patterns while waiting.
const POLL: Duration = Duration::from_millis(100);

/// A gzip stream cut short is reported once its file has been unchanged
/// this long (before, it is taken to be still being written).
const GZIP_STALL: Duration = Duration::from_secs(10);

/// Default of [`Follower::with_forget_after`].
const DEFAULT_FORGET_AFTER: Duration = Duration::from_secs(300);

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

/// Version of the checkpoint file's layout.
const CHECKPOINT_VERSION: u64 = 1;

/// 64-bit FNV-1a: the fingerprint hash (stable across builds, unlike
/// `std`'s hasher, since it is stored in checkpoints).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A file's identity: the hash of its first `len` bytes of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Fingerprint {
    len: u32,
    hash: u64,
}

impl Fingerprint {
    fn of(head: &[u8]) -> Fingerprint {
        Fingerprint { len: head.len() as u32, hash: fnv1a(head) }
    }

    /// Whether a file whose first bytes are `head` is this file.
    fn matches(&self, head: &[u8]) -> bool {
        let n = self.len as usize;
        n > 0 && head.len() >= n && fnv1a(&head[..n]) == self.hash
    }
}

/// Where one file has been read to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Where the file was last found (informative; prefers this file when
    /// several have the same fingerprint).
    path: String,
    fingerprint: Fingerprint,
    /// Bytes of text before the position.
    offset: u64,
    /// Lines before the position.
    lines: u64,
    /// Read to its final end (a gzip stream's end, or an error) while it
    /// had this size in bytes: not read again while that stays so.
    complete: Option<u64>,
}

/// A checkpoint file (JSON): its layout's version and one [`Saved`] per
/// file (read first as plain JSON values, so the version is checked before
/// the files' fields).
#[derive(Serialize, Deserialize)]
struct Checkpoint<F> {
    version: u64,
    files: Vec<F>,
}

/// One file in a checkpoint file: an [`Entry`], the hash in hexadecimal.
#[derive(Serialize, Deserialize)]
struct Saved {
    path: String,
    fingerprint: String,
    fingerprint_bytes: u32,
    offset: u64,
    lines: u64,
    #[serde(default)]
    complete: Option<u64>,
}

/// Where each followed file has been read to (what a checkpoint holds).
///
/// Files are known by a fingerprint of their first bytes, see the
/// [module documentation](self).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Positions {
    /// Sorted, so equal sets compare equal.
    entries: Vec<Entry>,
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("checkpoint {}: {what}", path.display()))
}

impl Positions {
    fn from_entries(mut entries: Vec<Entry>) -> Positions {
        entries.sort();
        Positions { entries }
    }

    /// Reads a checkpoint file written by [`Positions::save`]. A missing file
    /// is an empty `Positions`; a corrupt one is an
    /// [`io::ErrorKind::InvalidData`] error whose message names the file and
    /// says what is wrong.
    pub fn load(path: &Path) -> io::Result<Positions> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Positions::default()),
            Err(e) => return Err(io::Error::new(e.kind(), format!("checkpoint {}: {e}", path.display()))),
        };
        // The version first, so a file of another layout is named as such.
        let doc: Checkpoint<serde_json::Value> = serde_json::from_slice(&text).map_err(|e| {
            invalid(path, if e.is_data() { format!("not a checkpoint: {e}") } else { format!("not valid JSON: {e}") })
        })?;
        if doc.version != CHECKPOINT_VERSION {
            return Err(invalid(path, format!("unknown version {} (expected {CHECKPOINT_VERSION})", doc.version)));
        }
        let mut entries = Vec::with_capacity(doc.files.len());
        for (i, f) in doc.files.into_iter().enumerate() {
            let f: Saved = serde_json::from_value(f).map_err(|e| invalid(path, format!("files[{i}]: {e}")))?;
            let hash = u64::from_str_radix(&f.fingerprint, 16).ok().filter(|_| f.fingerprint.len() == 16);
            let hash = hash.ok_or_else(|| {
                invalid(path, format!("files[{i}].fingerprint: {:?} is not 16 hex digits", f.fingerprint))
            })?;
            if f.fingerprint_bytes == 0 || f.fingerprint_bytes as usize > FINGERPRINT_BYTES {
                let n = f.fingerprint_bytes;
                return Err(invalid(
                    path,
                    format!("files[{i}].fingerprint_bytes: {n} is not between 1 and {FINGERPRINT_BYTES}"),
                ));
            }
            let fingerprint = Fingerprint { len: f.fingerprint_bytes, hash };
            entries.push(Entry { path: f.path, fingerprint, offset: f.offset, lines: f.lines, complete: f.complete });
        }
        Ok(Positions::from_entries(entries))
    }

    /// Writes the positions to `path` atomically: a temporary file in the
    /// same directory, flushed to disk, renamed over `path`. Creates the
    /// parent directory if needed.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let files = self.entries.iter().map(|e| Saved {
            path: e.path.clone(),
            fingerprint: format!("{:016x}", e.fingerprint.hash),
            fingerprint_bytes: e.fingerprint.len,
            offset: e.offset,
            lines: e.lines,
            complete: e.complete,
        });
        let doc = Checkpoint { version: CHECKPOINT_VERSION, files: files.collect() };
        let mut text = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
        text.push(b'\n');
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("checkpoint {}: not a file path", path.display()))
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
            return written;
        }
        // The rename itself, to disk (best effort: not every system can
        // open a directory).
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Number of files it knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it knows no file.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The files it knows: where each was last found, the byte offset in
    /// its text (decompressed) and the number of lines before it.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64, u64)> {
        self.entries.iter().map(|e| (e.path.as_str(), e.offset, e.lines))
    }
}

/// What one [`Follower::read`] call gives.
#[derive(Debug, Clone, Default)]
pub struct FollowBatch {
    /// The new records (and errors), in order.
    pub items: Vec<Item>,
    /// Where every file stands after exactly these items: what to save once
    /// they have all been written out.
    pub positions: Positions,
}

/// The physical file behind a path: device and inode (the path elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileId {
    #[cfg(unix)]
    dev_ino: (u64, u64),
    #[cfg(not(unix))]
    path: PathBuf,
}

#[cfg(unix)]
fn file_id(meta: &Metadata, _path: &Path) -> FileId {
    use std::os::unix::fs::MetadataExt;
    FileId { dev_ino: (meta.dev(), meta.ino()) }
}

#[cfg(not(unix))]
fn file_id(_meta: &Metadata, path: &Path) -> FileId {
    FileId { path: path.to_path_buf() }
}

/// Whether an open file has no name any more.
#[cfg(unix)]
fn unlinked(meta: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.nlink() == 0
}

#[cfg(not(unix))]
fn unlinked(_meta: &Metadata) -> bool {
    false
}

fn mtime(meta: &Metadata) -> SystemTime {
    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Whether a file modified at `m` has been left alone for [`GZIP_STALL`].
fn stale(m: SystemTime) -> bool {
    SystemTime::now().duration_since(m).is_ok_and(|age| age >= GZIP_STALL)
}

/// Size and modification time: a file changed when this does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: SystemTime,
}

/// What is known of a file's first bytes.
#[derive(Debug, Clone)]
enum Head {
    /// The bytes themselves (up to [`FINGERPRINT_BYTES`]).
    Bytes(Vec<u8>),
    /// Only their fingerprint (from a checkpoint, file not found yet).
    Hash(Fingerprint),
}

impl Head {
    /// Whether a file starting with `head` (up to [`FINGERPRINT_BYTES`]) is
    /// consistent with this: the same bytes as far as both go. An empty
    /// side is consistent with anything.
    fn consistent(&self, head: &[u8]) -> bool {
        match self {
            Head::Bytes(b) => {
                let n = b.len().min(head.len());
                b[..n] == head[..n]
            }
            Head::Hash(fp) => fp.matches(head),
        }
    }

    /// Whether another file starting with `head` has this content: the
    /// same first bytes (the same number of them: a short head may still
    /// grow into another file's), or the fingerprint's prefix.
    fn same_content(&self, head: &[u8]) -> bool {
        match self {
            Head::Bytes(b) => !b.is_empty() && b[..] == head[..],
            Head::Hash(fp) => fp.matches(head),
        }
    }

    fn len(&self) -> usize {
        match self {
            Head::Bytes(b) => b.len(),
            Head::Hash(fp) => fp.len as usize,
        }
    }

    fn fingerprint(&self) -> Option<Fingerprint> {
        match self {
            Head::Bytes(b) if b.is_empty() => None,
            Head::Bytes(b) => Some(Fingerprint::of(b)),
            Head::Hash(fp) => Some(*fp),
        }
    }
}

/// A file found by a scan.
struct Found {
    path: PathBuf,
    id: FileId,
    stamp: Stamp,
    gzip: bool,
    head: Vec<u8>,
}

/// The first bytes of a file as last read, kept while its stamp is the same.
struct CachedHead {
    id: FileId,
    stamp: Stamp,
    gzip: bool,
    head: Vec<u8>,
    /// A gzip stream cut short before [`FINGERPRINT_BYTES`].
    cut: bool,
}

/// The first [`FINGERPRINT_BYTES`] of a file's text: the bytes, whether it
/// is gzip, whether its gzip stream was cut short before them.
fn read_head(path: &Path) -> io::Result<(Vec<u8>, bool, bool)> {
    let mut f = File::open(path)?;
    let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
    (&mut f).take(2).read_to_end(&mut head)?;
    if head == [0x1f, 0x8b] {
        let mut dec = flate2::read::MultiGzDecoder::new(io::Cursor::new(head).chain(f));
        let mut out = vec![0; FINGERPRINT_BYTES];
        let mut n = 0;
        while n < FINGERPRINT_BYTES {
            match dec.read(&mut out[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    out.truncate(n);
                    return Ok((out, true, true));
                }
                // Corrupt: known by what could be decoded; reading it
                // reports the error.
                Err(e) if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput) => break,
                Err(e) => return Err(e),
            }
        }
        out.truncate(n);
        return Ok((out, true, false));
    }
    f.take((FINGERPRINT_BYTES - head.len()) as u64).read_to_end(&mut head)?;
    Ok((head, false, false))
}

/// An open file being read.
struct Source {
    read: Box<dyn Read + Send>,
    /// The same file, for its metadata.
    file: File,
    gzip: bool,
    /// Bytes of text read from `read` so far.
    off: u64,
}

/// One followed file.
struct Tracked {
    /// Where it is (re)opened from: where it was last found.
    path: PathBuf,
    head: Head,
    /// The physical file last read or found for it, and whether it is gzip.
    bound: Option<(FileId, bool)>,
    /// Found (under `path`) by the last scan, or open.
    seen: bool,
    /// A gzip file with its content found by the last scan, while an
    /// uncompressed one is open: where reading goes on once that one ends.
    alias: Option<PathBuf>,
    last_seen: Instant,
    /// `None` until reading starts (again): a fresh one then replays the
    /// lines before `pos`.
    parser: Option<Parser>,
    source: Option<Source>,
    /// Bytes read from `source` not handled yet: `buf[at..]`.
    buf: Vec<u8>,
    at: usize,
    /// Resuming with a fresh parser: the text before this offset is
    /// replayed (`line` holds a replayed line split across reads).
    replay_to: u64,
    line: Vec<u8>,
    /// The position: offset of the text after the last whole line handed
    /// out, and the number of lines before it.
    pos: u64,
    lines: u64,
    /// Bytes of text the parser has seen (`pos` plus a partial line).
    fed: u64,
    /// Read to a final end while the file had this size.
    complete: Option<u64>,
    /// Its gzip stream was cut short while the file looked like this.
    stalled: Option<Stamp>,
    /// Its first bytes changed under the same inode: read from the start.
    rewritten: bool,
    /// The open-failure reported for `path` (not again until it opens).
    open_failed: bool,
}

impl Tracked {
    fn new(path: PathBuf, head: Head, pos: u64, lines: u64) -> Tracked {
        Tracked {
            path,
            head,
            bound: None,
            seen: false,
            alias: None,
            last_seen: Instant::now(),
            parser: None,
            source: None,
            buf: Vec::new(),
            at: 0,
            replay_to: 0,
            line: Vec::new(),
            pos,
            lines,
            fed: pos,
            complete: None,
            stalled: None,
            rewritten: false,
            open_failed: false,
        }
    }

    fn entry(&self) -> Option<Entry> {
        Some(Entry {
            path: self.path.to_string_lossy().into_owned(),
            fingerprint: self.head.fingerprint()?,
            offset: self.pos,
            lines: self.lines,
            complete: self.complete,
        })
    }

    /// Forget everything read: the file is read again from its start.
    fn restart(&mut self) {
        self.parser = None;
        self.pos = 0;
        self.lines = 0;
        self.fed = 0;
        self.replay_to = 0;
        self.line.clear();
        self.buf.clear();
        self.at = 0;
        self.complete = None;
        self.stalled = None;
        self.head = Head::Bytes(Vec::new());
        if let Some(s) = &mut self.source {
            if s.gzip || s.file.seek(SeekFrom::Start(0)).is_err() {
                self.source = None;
            } else {
                s.off = 0;
            }
        }
    }

    /// Closes the source; reading goes on from `fed` when it is reopened.
    fn close(&mut self) {
        self.source = None;
        self.buf = Vec::new();
        self.at = 0;
        self.line.clear();
        if self.parser.is_none() || self.replay_to > 0 {
            // Replay not finished: it starts over.
            self.parser = None;
            self.replay_to = 0;
            self.fed = self.pos;
        }
    }

    /// The end of the file's text: the last line without `\n` and a CSV
    /// record left open are handed out; the position is its end.
    fn finish(&mut self, out: &mut Vec<Item>) {
        if let Some(p) = &mut self.parser {
            p.finish(&mut |i| out.push(i));
            self.lines = p.lines_read();
            self.pos = self.fed;
        }
    }

    /// Reads its first bytes again from the open uncompressed file (it may
    /// have grown since they were read).
    fn refresh_head(&mut self) {
        let (Some(s), Head::Bytes(h)) = (&self.source, &mut self.head) else { return };
        if s.gzip || h.len() >= FINGERPRINT_BYTES {
            return;
        }
        let mut buf = [0u8; FINGERPRINT_BYTES];
        let n = read_at_start(&s.file, &mut buf);
        if n > h.len() && buf[..h.len()] == h[..] {
            *h = buf[..n].to_vec();
        }
    }
}

/// Reads the first bytes of an open file without moving its cursor: how
/// many were read.
#[cfg(unix)]
fn read_at_start(file: &File, buf: &mut [u8]) -> usize {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

#[cfg(not(unix))]
fn read_at_start(_file: &File, _buf: &mut [u8]) -> usize {
    0
}

/// Records `bytes`, at text offset `at`, among a file's first ones.
fn capture_head(head: &mut Head, at: u64, bytes: &[u8]) {
    if let Head::Bytes(h) = head
        && at == h.len() as u64
        && h.len() < FINGERPRINT_BYTES
    {
        let n = bytes.len().min(FINGERPRINT_BYTES - h.len());
        h.extend_from_slice(&bytes[..n]);
    }
}

/// Follows growing, rotating log files; see the [module
/// documentation](self).
pub struct Follower {
    patterns: Vec<String>,
    format: Format,
    max_line: usize,
    forget_after: Duration,
    /// In reading order: files partly read first, then new ones oldest
    /// first.
    files: Vec<Tracked>,
    heads: HashMap<PathBuf, CachedHead>,
    /// Paths (or patterns) whose failure has been reported.
    failed: HashMap<PathBuf, ()>,
    last_scan: Option<Instant>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("patterns", &self.patterns)
            .field("format", &self.format)
            .field("max_line", &self.max_line)
            .field("files", &self.files.iter().map(|t| &t.path).collect::<Vec<_>>())
            .finish()
    }
}

impl Follower {
    /// Follows the files that `patterns` match (paths or globs, as
    /// [`crate::expand_inputs`] takes them; a pattern that matches nothing
    /// now is not an error, files may appear later), parsed as `format`,
    /// resuming at `start` (from [`Positions::load`]).
    pub fn new(patterns: Vec<String>, format: Format, start: Positions) -> Follower {
        let files = start
            .entries
            .into_iter()
            .map(|e| {
                let mut t = Tracked::new(PathBuf::from(e.path), Head::Hash(e.fingerprint), e.offset, e.lines);
                t.complete = e.complete;
                t
            })
            .collect();
        Follower {
            patterns,
            format,
            max_line: DEFAULT_MAX_LINE,
            forget_after: DEFAULT_FORGET_AFTER,
            files,
            heads: HashMap::new(),
            failed: HashMap::new(),
            last_scan: None,
        }
    }

    /// Sets the maximum line length in bytes, like
    /// [`crate::Reader::with_max_line`].
    pub fn with_max_line(mut self, max: usize) -> Follower {
        self.max_line = max.max(1);
        self
    }

    /// How long a file neither found by the patterns nor open any more is
    /// remembered (default 5 minutes): long enough for a rotated file
    /// renamed out of the patterns to come back compressed under a name
    /// they match. A renamed file still linked is kept open that long after
    /// it last changed.
    pub fn with_forget_after(mut self, after: Duration) -> Follower {
        self.forget_after = after;
        self
    }

    /// Where every file stands now.
    pub fn positions(&self) -> Positions {
        Positions::from_entries(self.files.iter().filter_map(Tracked::entry).collect())
    }

    /// What is new: up to `max_items` items and about `max_bytes` bytes of
    /// text (a line is not split; the items of one line are not either).
    /// When nothing is new it polls (re-scanning the patterns every 100 ms)
    /// until something is or `wait` has passed, and may then return no
    /// items. The batch's `positions` is where every file stands after
    /// exactly these items.
    pub fn read(&mut self, max_items: usize, max_bytes: usize, wait: Duration) -> FollowBatch {
        let started = Instant::now();
        let max_items = max_items.max(1);
        let max_bytes = max_bytes.max(1);
        let mut items = Vec::new();
        loop {
            if self.last_scan.is_none_or(|t| t.elapsed() >= POLL) {
                self.scan(&mut items);
            }
            self.pump_all(&mut items, max_items, max_bytes);
            if !items.is_empty() {
                break;
            }
            let left = wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let next_scan = self.last_scan.map_or(Duration::ZERO, |t| POLL.saturating_sub(t.elapsed()));
            std::thread::sleep(next_scan.min(left).max(Duration::from_millis(1)));
        }
        FollowBatch { items, positions: self.positions() }
    }

    /// Reports a failure about `path` once (until it is cleared).
    fn fail_once(&mut self, path: &Path, out: &mut Vec<Item>, reason: &'static str, detail: String) {
        if self.failed.insert(path.to_path_buf(), ()).is_none() {
            out.push(whole_file_error(path.to_string_lossy().into(), reason, detail));
        }
    }

    /// The paths the patterns match now, each once, in pattern order.
    fn expand(&mut self, out: &mut Vec<Item>) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        let patterns = self.patterns.clone();
        for p in &patterns {
            let path = Path::new(p);
            if path.exists() {
                paths.push(path.to_path_buf());
                continue;
            }
            if !p.contains(['*', '?', '[']) {
                continue;
            }
            match glob::glob(p) {
                Ok(entries) => {
                    let mut matched: Vec<PathBuf> = entries.filter_map(Result::ok).filter(|e| !e.is_dir()).collect();
                    matched.sort();
                    paths.extend(matched);
                }
                Err(e) => {
                    self.fail_once(path, out, reason::OPEN_FAILED, format!("invalid glob pattern {p:?}: {e}"));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        paths.retain(|p| seen.insert(p.clone()));
        paths
    }

    /// Finds the files the patterns match and matches them to the files
    /// known.
    fn scan(&mut self, out: &mut Vec<Item>) {
        self.last_scan = Some(Instant::now());
        let paths = self.expand(out);
        let mut found = Vec::new();
        let mut heads = HashMap::with_capacity(paths.len());
        for path in paths {
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => continue, // gone since the glob saw it
            };
            if meta.is_dir() {
                let detail = format!("{}: is a directory", path.display());
                self.fail_once(&path, out, reason::OPEN_FAILED, detail);
                continue;
            }
            let id = file_id(&meta, &path);
            let stamp = Stamp { len: meta.len(), mtime: mtime(&meta) };
            let cached = match self.heads.remove(&path) {
                // Unchanged, or an uncompressed file grown past its head.
                Some(c)
                    if c.id == id
                        && (c.stamp == stamp
                            || (!c.gzip && c.head.len() == FINGERPRINT_BYTES && stamp.len >= c.stamp.len)) =>
                {
                    Some(c)
                }
                _ => None,
            };
            let c = match cached {
                Some(c) => c,
                None => match read_head(&path) {
                    Ok((head, gzip, cut)) => {
                        self.failed.remove(&path);
                        CachedHead { id: id.clone(), stamp, gzip, head, cut }
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        let detail = format!("cannot open {}: {e}", path.display());
                        self.fail_once(&path, out, reason::OPEN_FAILED, detail);
                        continue;
                    }
                },
            };
            // A gzip file still being written, too short to be known yet.
            let ready = !c.cut || stale(stamp.mtime);
            if ready {
                found.push(Found { path: path.clone(), id: c.id.clone(), stamp, gzip: c.gzip, head: c.head.clone() });
            }
            heads.insert(path, c);
        }
        self.heads = heads;

        for t in &mut self.files {
            t.seen = false;
            t.alias = None;
        }
        let mut claimed = vec![false; found.len()];
        let mut stamps: Vec<Option<Stamp>> = vec![None; self.files.len()];
        // 1. The physical file a known one is bound to.
        for (fi, f) in found.iter().enumerate() {
            let Some(ti) = self.files.iter().position(|t| {
                !t.seen
                    && t.bound.as_ref().is_some_and(|(id, _)| *id == f.id)
                    && (t.head.consistent(&f.head) || (t.source.is_some() && !f.gzip))
            }) else {
                continue;
            };
            let t = &mut self.files[ti];
            if !t.head.consistent(&f.head) {
                t.rewritten = true;
            } else if f.head.len() > t.head.len() || matches!(t.head, Head::Hash(_)) {
                t.head = Head::Bytes(f.head.clone());
            }
            t.seen = true;
            t.path = f.path.clone();
            stamps[ti] = Some(f.stamp);
            claimed[fi] = true;
        }
        // 2. A known file's content: not bound yet (from a checkpoint), or
        // the compressed successor of an uncompressed one.
        for t in &mut self.files {
            t.refresh_head();
        }
        for (fi, f) in found.iter().enumerate() {
            if claimed[fi] {
                continue;
            }
            let best = self
                .files
                .iter()
                .enumerate()
                .filter(|(_, t)| match &t.bound {
                    None => !t.seen,
                    Some((_, gz)) => !gz && f.gzip && t.alias.is_none(),
                })
                .filter(|(_, t)| t.head.same_content(&f.head))
                .map(|(i, t)| (i, t.head.len(), t.path == f.path))
                .max_by_key(|&(i, n, same_path)| (same_path, n, std::cmp::Reverse(i)));
            let Some((ti, _, _)) = best else { continue };
            let t = &mut self.files[ti];
            t.head = Head::Bytes(f.head.clone());
            if t.bound.is_none() {
                t.bound = Some((f.id.clone(), f.gzip));
                t.path = f.path.clone();
                t.seen = true;
                stamps[ti] = Some(f.stamp);
            } else {
                t.alias = Some(f.path.clone());
            }
            t.last_seen = Instant::now();
            claimed[fi] = true;
        }
        // 3. New files, oldest first.
        let mut new: Vec<&Found> = found.iter().zip(&claimed).filter(|(_, c)| !**c).map(|(f, _)| f).collect();
        new.sort_by(|a, b| (a.stamp.mtime, &a.path).cmp(&(b.stamp.mtime, &b.path)));
        for f in new {
            let mut t = Tracked::new(f.path.clone(), Head::Bytes(f.head.clone()), 0, 0);
            t.bound = Some((f.id.clone(), f.gzip));
            t.seen = true;
            stamps.push(Some(f.stamp));
            self.files.push(t);
        }

        let now = Instant::now();
        let forget_after = self.forget_after;
        let mut keep = Vec::with_capacity(self.files.len());
        for (t, stamp) in self.files.iter_mut().zip(stamps) {
            if let Some(stamp) = stamp {
                t.last_seen = now;
                if t.complete.is_some_and(|len| len != stamp.len) {
                    t.complete = None;
                }
                if t.stalled.is_some_and(|s| s != stamp || stale(s.mtime)) {
                    t.stalled = None;
                }
            }
            let idle = t.source.as_ref().is_none_or(|s| s.file.metadata().is_ok_and(|m| m.len() <= s.off));
            let forget = !t.seen && t.alias.is_none() && now.duration_since(t.last_seen) >= forget_after && idle;
            if forget {
                t.finish(out);
            }
            keep.push(!forget);
        }
        let mut keep = keep.into_iter();
        self.files.retain(|_| keep.next().unwrap_or(true));
    }

    /// Reads the files in order until the budget is spent.
    fn pump_all(&mut self, out: &mut Vec<Item>, max_items: usize, max_bytes: usize) {
        let start = out.len();
        let mut bytes = 0;
        for i in 0..self.files.len() {
            if out.len() - start >= max_items || bytes >= max_bytes {
                break;
            }
            let left_items = max_items - (out.len() - start);
            bytes += self.pump(i, out, left_items, max_bytes - bytes);
        }
    }

    /// Reads file `i` until the budget is spent or its text ends: the
    /// bytes of text handed out.
    fn pump(&mut self, i: usize, out: &mut Vec<Item>, max_items: usize, max_bytes: usize) -> usize {
        let (format, max_line) = (self.format, self.max_line);
        let t = &mut self.files[i];
        if t.rewritten {
            t.rewritten = false;
            t.restart();
        }
        if t.stalled.is_some() || (t.complete.is_some() && t.source.is_none()) {
            return 0;
        }
        let start = out.len();
        let mut bytes = 0;
        loop {
            if out.len() - start >= max_items || bytes >= max_bytes {
                return bytes;
            }
            if t.source.is_none() && !open(t, format, max_line, out) {
                return bytes;
            }
            if t.parser.is_none() {
                // Read again from the start (truncated): a fresh parser.
                t.parser = Some(Parser::new(t.path.to_string_lossy().into(), format, max_line));
                t.replay_to = t.pos;
                t.fed = 0;
            }
            let Some(s) = t.source.as_mut() else { return bytes };
            if t.at == t.buf.len() {
                t.buf.resize(CHUNK, 0);
                t.at = 0;
                let r = s.read.read(&mut t.buf);
                t.buf.truncate(*r.as_ref().unwrap_or(&0));
                match r {
                    Ok(0) => {
                        if !Self::at_end(t, out) {
                            return bytes;
                        }
                    }
                    Ok(n) => s.off += n as u64,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        Self::read_error(t, e, out);
                        return bytes;
                    }
                }
                continue;
            }
            // Text offset of buf[at].
            let cur = s.off - (t.buf.len() - t.at) as u64;
            let avail = &t.buf[t.at..];
            if cur < t.fed {
                // Seen before this source was (re)opened.
                t.at += ((t.fed - cur) as usize).min(avail.len());
                continue;
            }
            let parser = t.parser.as_mut().expect("a parser while a source is open");
            if cur < t.replay_to {
                // Resuming: the text before the position, replayed.
                let limit = ((t.replay_to - cur) as usize).min(avail.len());
                let (n, done) = match memchr::memchr(b'\n', &avail[..limit]) {
                    Some(k) => (k + 1, true),
                    None => (limit, cur + limit as u64 == t.replay_to),
                };
                let part = &avail[..n];
                let content = part.strip_suffix(b"\n").unwrap_or(part);
                let room = (max_line + 1).saturating_sub(t.line.len());
                t.line.extend_from_slice(&content[..content.len().min(room)]);
                capture_head(&mut t.head, cur, part);
                t.at += n;
                t.fed = cur + n as u64;
                if done {
                    parser.replay_line(&t.line);
                    t.line.clear();
                }
                if t.fed == t.replay_to {
                    t.replay_to = 0;
                    t.pos = t.fed;
                    t.lines = parser.lines_read();
                }
                continue;
            }
            let (n, whole) = match memchr::memchr(b'\n', avail) {
                Some(k) => (k + 1, true),
                None => (avail.len(), false),
            };
            parser.feed(&avail[..n], &mut |item| out.push(item));
            capture_head(&mut t.head, cur, &avail[..n]);
            t.at += n;
            t.fed = cur + n as u64;
            if whole && parser.at_record_boundary() {
                bytes += (t.fed - t.pos) as usize;
                t.pos = t.fed;
                t.lines = parser.lines_read();
            }
        }
    }

    /// The source's text ended: whether reading goes on (another source,
    /// or the file read again from its start).
    fn at_end(t: &mut Tracked, out: &mut Vec<Item>) -> bool {
        let Some(s) = t.source.as_mut() else { return false };
        if t.replay_to > 0 && t.fed < t.replay_to {
            // Shorter than the position.
            if s.gzip {
                t.close();
                t.parser = None;
                t.restart();
                return false;
            }
            t.restart();
            return t.source.is_some();
        }
        if s.gzip {
            // The stream's clean end: the file is complete.
            let size = s.file.metadata().map(|m| m.len()).unwrap_or(0);
            t.finish(out);
            t.complete = Some(size);
            t.parser = None;
            t.close();
            return false;
        }
        let Ok(meta) = s.file.metadata() else {
            return false;
        };
        if meta.len() < s.off {
            // Truncated (copytruncate).
            t.restart();
            return t.source.is_some();
        }
        let gone = unlinked(&meta) || !t.seen;
        if gone && t.alias.is_some() {
            // Rotated and compressed: on in the gzip file.
            t.close();
            return true;
        }
        if unlinked(&meta) && t.alias.is_none() {
            // Nothing can be appended to it any more.
            t.close();
            t.seen = false;
        }
        false
    }

    /// Reading failed: an error item, and the file is not read again while
    /// it stays as it is (a gzip stream cut short: until it has been
    /// unchanged for a while, it may still be being written).
    fn read_error(t: &mut Tracked, e: io::Error, out: &mut Vec<Item>) {
        let Some(s) = t.source.as_ref() else { return };
        let meta = s.file.metadata().ok();
        let stamp = meta.as_ref().map(|m| Stamp { len: m.len(), mtime: mtime(m) });
        let gzip = s.gzip;
        // A gzip stream that ends early while its file is still being
        // written: waited for.
        if gzip
            && e.kind() == io::ErrorKind::UnexpectedEof
            && let Some(stamp) = stamp
            && !stale(stamp.mtime)
        {
            t.stalled = Some(stamp);
            t.close();
            return;
        }
        let replaying = t.replay_to > 0;
        if let Some(p) = &mut t.parser {
            crate::fail_read(p, gzip, &e, &mut |i| out.push(i));
            // Still replaying the text before the position: the position
            // stays (resumed there if the file changes).
            if !replaying {
                t.lines = p.lines_read();
                t.pos = t.fed;
            }
        }
        t.complete = Some(stamp.map_or(0, |s| s.len));
        t.parser = None;
        t.close();
    }
}

/// Opens a file's source: at its start, or (uncompressed, the parser
/// having seen the text before) at `fed`. With a fresh parser the text
/// before the position is to be replayed. Whether it could be opened.
fn open(t: &mut Tracked, format: Format, max_line: usize, out: &mut Vec<Item>) -> bool {
    let path = match (&t.alias, t.seen) {
        (Some(a), _) => a.clone(),
        (None, true) => t.path.clone(),
        (None, false) => return false,
    };
    let opened = File::open(&path).and_then(|mut f| {
        let mut magic = Vec::with_capacity(2);
        (&mut f).take(2).read_to_end(&mut magic)?;
        let meta = f.metadata()?;
        let gzip = magic == [0x1f, 0x8b];
        let mut r = f.try_clone()?;
        let read: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(io::Cursor::new(magic).chain(r)))
        } else {
            r.seek(SeekFrom::Start(if t.parser.is_some() { t.fed } else { 0 }))?;
            Box::new(r)
        };
        Ok((f, gzip, meta, read))
    });
    let (file, gzip, meta, read) = match opened {
        Ok(x) => x,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound && !t.open_failed {
                t.open_failed = true;
                out.push(whole_file_error(
                    path.to_string_lossy().into(),
                    reason::OPEN_FAILED,
                    format!("cannot open {}: {e}", path.display()),
                ));
            }
            return false;
        }
    };
    t.open_failed = false;
    let id = file_id(&meta, &path);
    if t.alias.is_none()
        && let Some((bound, _)) = &t.bound
        && *bound != id
    {
        // Another file is there now (the one read was renamed away).
        t.seen = false;
        return false;
    }
    let off = if gzip || t.parser.is_none() { 0 } else { t.fed };
    if t.parser.is_none() {
        t.parser = Some(Parser::new(path.to_string_lossy().into(), format, max_line));
        t.replay_to = t.pos;
        t.fed = 0;
    }
    if t.alias.take().is_some() {
        t.path = path.clone();
        t.seen = true;
    }
    t.bound = Some((id, gzip));
    t.source = Some(Source { read, file, gzip, off });
    t.buf.clear();
    t.at = 0;
    true
}
