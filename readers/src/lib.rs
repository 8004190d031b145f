//! Streaming readers that turn log files into JSON events.
//!
//! A [`Reader`] reads one or more inputs in order and yields one [`Item`]
//! per record: either the record as **one compact JSON object text** (a
//! single-line `String`) or a [`ReadError`] saying why that line could not
//! be turned into one. Errors never stop the reader: it goes on with the
//! next line (or, for unreadable files, the next file). Every item carries
//! its [`Origin`] (file name and 1-based line number).
//!
//! # Formats
//!
//! ## Zeek TSV ([`Format::ZeekTsv`])
//!
//! Zeek's ASCII logs: a header of `#`-lines (`#separator \x09`,
//! `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#open`,
//! `#fields`, `#types`), tab-separated rows, and `#close` at the end of
//! complete files. The header's declarations are honoured (the
//! `#separator` value is written with `\xHH` escapes). Keys are the
//! `#fields` names verbatim (`id.orig_h`), in column order; extra columns
//! such as a leading `_node_name` are just more fields. Values follow
//! `#types`:
//!
//! | Zeek type | JSON |
//! |---|---|
//! | `count`, `int`, `port` | integer (canonical digits: `007` → `7`) |
//! | `time`, `interval`, `double` | number; the file's digits are kept verbatim when they are valid JSON number syntax (`1713484800.123456` stays exactly that), with `.0` appended to integral text (`5` → `5.0`) so the value is always a float; other decimal forms (`.5`, `1.`) go through `f64`; a magnitude of 1e308 or more (`1e999`, which JSON readers refuse) or `inf`/`nan` does not parse |
//! | `bool` | `T` → `true`, `F` → `false` |
//! | `string`, `addr`, `subnet`, `enum`, `pattern` | string |
//! | `set[T]`, `vector[T]` (and legacy `table[T]`) | array of converted elements split on the set separator; an element equal to the unset marker becomes `null` |
//! | any other (unknown) type name | the value kept as a JSON string |
//!
//! The unset marker (`-`) makes the key **absent**; the empty marker
//! (`(empty)`) gives `[]` for containers and `""` for string-like types.
//! Zeek's escapes inside string values are decoded: `\\` is a backslash and
//! `\xHH` a byte (Zeek uses it for separators inside values, non-printable
//! and non-ASCII bytes); decoded bytes that are not valid UTF-8 are written
//! as the text `\xHH`, which is what Zeek's own JSON writer produces, so the
//! TSV and JSON versions of a log give the same strings. The unset/empty
//! markers are recognised before decoding (an escaped `\x2d` is the string
//! `"-"`).
//! A row whose column count differs from `#fields` is a
//! [`reason::ZEEK_COLUMN_COUNT`] error; a value that does not parse as its
//! type is [`reason::ZEEK_BAD_VALUE`] (the detail names the field). Files
//! without `#close` (still being written, or cut) simply end. A new
//! `#fields` line resets the schema (Zeek writes a new header block when it
//! re-opens a log); `#fields` without `#types` makes every column a string.
//! Any other line starting with `#` is a comment.
//!
//! ## Zeek JSON / NDJSON ([`Format::Ndjson`])
//!
//! One object per line. The reader does **not** parse JSON: each line's
//! text is passed through with surrounding whitespace (and the `\r` of
//! CRLF) trimmed; validation is the consumer's job. Field names are left
//! as they are (`id.orig_h` or `id_orig_h`, extra `@stream` keys, ...).
//! A blank or whitespace-only line is an [`reason::EMPTY_LINE`] error (the
//! newline ending the last line does not create one).
//!
//! ## CSV with a header ([`Format::Csv`])
//!
//! For example Argus `.binetflow` files. The delimiter is a tab if the
//! header line contains one, else a comma, unless given explicitly (it must
//! be an ASCII byte). Quoting follows RFC 4180 (`""` inside quotes, quoted
//! fields may span lines); text after a closing quote is kept literally.
//! Header names are trimmed of surrounding whitespace. Each row becomes an
//! object keyed by header names, with values typed as follows (after
//! trimming surrounding whitespace; quoting does not change the typing):
//! empty → key absent; `-?[0-9]+` fitting `i64` → integer (canonical, so
//! `0080` → `80`); other text that is valid JSON number syntax (`0.5`,
//! `1e5`) of magnitude below 1e308 → that number verbatim; everything else
//! (hex `0x0303`, MAC addresses, `->`, digit strings too large for `i64`,
//! `1e999`, which JSON readers refuse) → string. A row
//! with a different field count than the header is a
//! [`reason::CSV_COLUMN_COUNT`] error.
//!
//! ## Common to all formats
//!
//! * gzip input is detected by its magic bytes (`1f 8b`), not its name;
//!   concatenated gzip members are read as one stream. A stream cut short
//!   yields the records decoded before the cut, then one
//!   [`reason::TRUNCATED_GZIP`] error, then the reader moves to the next
//!   file.
//! * A UTF-8 byte-order mark at the start of a file is skipped; CRLF line
//!   ends are accepted.
//! * A line that is not valid UTF-8 is an [`reason::INVALID_UTF8`] error.
//! * A line longer than the maximum ([`Reader::with_max_line`], default
//!   [`DEFAULT_MAX_LINE`] = 16 MiB) is an [`reason::LINE_TOO_LONG`] error;
//!   the reader skips to its end without buffering it.
//! * An empty line is an [`reason::EMPTY_LINE`] error in every format
//!   (except inside a quoted CSV field).
//! * [`Format::Auto`] decides per file from the first byte that is not part
//!   of a BOM or whitespace: `#` → Zeek TSV, `{` → NDJSON, anything else →
//!   CSV.
//! * A file that cannot be opened gives one [`reason::OPEN_FAILED`] error
//!   (line 0) and the reader goes on with the next input.
//!
//! Memory use is bounded by the line limit plus fixed buffers, whatever the
//! size of the inputs; line buffers are reused between records.
//!
//! # Following files
//!
//! A [`Follower`] follows growing, rotating files (like `tail -F`), with
//! checkpoints ([`Positions`]); see the [`follow`] module.
//!
//! # Example
//!
//! ```no_run
//! use logsieve_readers::{expand_inputs, Format, Reader};
//!
//! let paths = expand_inputs(&["logs/conn.*.log.gz".to_string()])?;
//! let mut reader = Reader::open(paths, Format::Auto);
//! for item in &mut reader {
//!     match item.result {
//!         Ok(json) => println!("{json}"),
//!         Err(e) => eprintln!("{}:{}: {e}", item.origin.file, item.origin.line),
//!     }
//! }
//! eprintln!("{:?}", reader.stats());
//! # Ok::<(), logsieve_readers::OpenError>(())
//! ```

#![warn(missing_docs)]

mod csv;
#[cfg(feature = "io")]
pub mod follow;
mod json;
mod line;
mod parser;
mod words;
mod zeek;

#[cfg(feature = "io")]
use std::collections::VecDeque;
use std::fmt;
#[cfg(feature = "io")]
use std::io::{self, BufRead, Read};
#[cfg(feature = "io")]
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

#[cfg(feature = "io")]
pub use follow::{FollowBatch, Follower, Positions};
pub use parser::Parser;

/// Default maximum line length in bytes (16 MiB), see
/// [`Reader::with_max_line`].
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// The `reason` values a [`ReadError`] can carry.
pub mod reason {
    /// The file could not be opened (missing, no permission, a directory).
    pub const OPEN_FAILED: &str = "open_failed";
    /// Reading the file failed with an I/O error (not a gzip problem).
    pub const READ_FAILED: &str = "read_failed";
    /// The gzip stream ended before its end marker (file cut short).
    pub const TRUNCATED_GZIP: &str = "truncated_gzip";
    /// The gzip stream is corrupt (bad data or checksum).
    pub const CORRUPT_GZIP: &str = "corrupt_gzip";
    /// The line is not valid UTF-8.
    pub const INVALID_UTF8: &str = "invalid_utf8";
    /// The line is longer than the configured maximum.
    pub const LINE_TOO_LONG: &str = "line_too_long";
    /// The line is empty (or, for NDJSON, whitespace only).
    pub const EMPTY_LINE: &str = "empty_line";
    /// A Zeek row's column count differs from `#fields`.
    pub const ZEEK_COLUMN_COUNT: &str = "zeek_column_count";
    /// A Zeek value does not parse as its declared type.
    pub const ZEEK_BAD_VALUE: &str = "zeek_bad_value";
    /// A Zeek data row came before any `#fields` line.
    pub const ZEEK_NO_HEADER: &str = "zeek_no_header";
    /// A Zeek header line is unusable (bad separator, `#types` count
    /// differing from `#fields`).
    pub const ZEEK_BAD_HEADER: &str = "zeek_bad_header";
    /// A CSV row's field count differs from the header's.
    pub const CSV_COLUMN_COUNT: &str = "csv_column_count";
    /// The input ended inside a quoted CSV field.
    pub const CSV_UNTERMINATED_QUOTE: &str = "csv_unterminated_quote";
    /// The explicit CSV delimiter is not an ASCII byte.
    pub const CSV_BAD_DELIMITER: &str = "csv_bad_delimiter";
    /// A network peer closed its connection in the middle of a line (the
    /// line's start is the record's text).
    pub const TRUNCATED_LINE: &str = "truncated_line";

    /// Every reason, in the order the docs list them.
    pub const ALL: [&str; 15] = [
        OPEN_FAILED,
        READ_FAILED,
        TRUNCATED_GZIP,
        CORRUPT_GZIP,
        INVALID_UTF8,
        LINE_TOO_LONG,
        EMPTY_LINE,
        ZEEK_COLUMN_COUNT,
        ZEEK_BAD_VALUE,
        ZEEK_NO_HEADER,
        ZEEK_BAD_HEADER,
        CSV_COLUMN_COUNT,
        CSV_UNTERMINATED_QUOTE,
        CSV_BAD_DELIMITER,
        TRUNCATED_LINE,
    ];

    /// The reasons about reading a file or a connection itself (opening,
    /// I/O, gzip, a peer gone mid-line): the host's to report. The others
    /// come from [`crate::Parser`], which the component runs too.
    pub const IO: [&str; 5] = [OPEN_FAILED, READ_FAILED, TRUNCATED_GZIP, CORRUPT_GZIP, TRUNCATED_LINE];
}

/// Input format of a [`Reader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decide per file from its first byte: `#` → Zeek TSV, `{` → NDJSON,
    /// otherwise CSV (delimiter auto-detected).
    #[default]
    Auto,
    /// Zeek ASCII logs with `#fields`/`#types` headers.
    ZeekTsv,
    /// One JSON object per line (also Zeek's JSON logs); passed through.
    Ndjson,
    /// CSV with a header line.
    Csv {
        /// The field delimiter (an ASCII byte); `None` detects it from the
        /// header line: tab if it contains one, else comma.
        delimiter: Option<u8>,
    },
}

/// The names [`Format::from_str`] accepts.
pub const FORMAT_NAMES: &[&str] = &["auto", "zeek_tsv", "zeek_json", "ndjson", "json", "csv", "tsv"];

/// Error of [`Format::from_str`]: the name is not a known format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown input format {:?}; valid formats: {}", self.0, FORMAT_NAMES.join(", "))
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    /// Parses `auto`, `zeek_tsv`, `zeek_json` / `ndjson` / `json`, `csv`
    /// (delimiter detected) or `tsv` (CSV with a tab delimiter); case and
    /// `-` vs `_` do not matter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Ok(match norm.as_str() {
            "auto" => Format::Auto,
            "zeek_tsv" => Format::ZeekTsv,
            "zeek_json" | "ndjson" | "json" => Format::Ndjson,
            "csv" => Format::Csv { delimiter: None },
            "tsv" => Format::Csv { delimiter: Some(b'\t') },
            _ => return Err(UnknownFormat(s.to_string())),
        })
    }
}

/// Where an item came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file's path as given (`"<stdin>"` for standard input, or the
    /// name passed to [`Reader::from_reader`]).
    pub file: Arc<str>,
    /// 1-based line number of the record's (first) line; 0 for errors about
    /// the whole file ([`reason::OPEN_FAILED`]).
    pub line: u64,
}

/// Why a line could not be turned into an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// A short machine-readable reason, one of the [`reason`] constants.
    pub reason: &'static str,
    /// A human-readable explanation.
    pub detail: String,
    /// The offending line as lossy UTF-8, capped at 4 KiB (empty for
    /// errors that concern a whole file).
    pub raw: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for ReadError {}

/// One record read: its origin and either one compact JSON object text or
/// an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// File and line the record came from.
    pub origin: Origin,
    /// The event as a single-line JSON object text, or why there is none.
    pub result: Result<String, ReadError>,
}

/// Counters of a [`Reader`] so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Inputs opened successfully.
    pub files: u64,
    /// Items yielded with an event.
    pub records: u64,
    /// Items yielded with an error.
    pub errors: u64,
    /// Bytes of (decompressed) input consumed, line ends included.
    pub bytes: u64,
}

/// Error of [`expand_inputs`]: a pattern that matches no file or is not a
/// valid glob.
#[cfg(feature = "io")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError {
    /// The pattern (or path) as given.
    pub pattern: String,
    /// What went wrong.
    pub message: String,
}

#[cfg(feature = "io")]
impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input {:?}: {}", self.pattern, self.message)
    }
}

#[cfg(feature = "io")]
impl std::error::Error for OpenError {}

/// Expands input arguments to file paths, keeping their order.
///
/// Each pattern is an existing path (used as is, even if it contains glob
/// characters) or a glob pattern (`*`, `?`, `[...]`), whose matches are
/// sorted by path; directories matched by a glob are left out. A pattern
/// that matches nothing, a missing plain path, or an invalid glob is an
/// error naming the pattern.
#[cfg(feature = "io")]
pub fn expand_inputs(patterns: &[String]) -> Result<Vec<PathBuf>, OpenError> {
    let mut out = Vec::new();
    for p in patterns {
        let err = |message: String| OpenError { pattern: p.clone(), message };
        let path = Path::new(p);
        if path.exists() {
            out.push(path.to_path_buf());
            continue;
        }
        if !p.contains(['*', '?', '[']) {
            return Err(err("no such file".into()));
        }
        let paths = glob::glob(p).map_err(|e| err(format!("invalid glob pattern: {e}")))?;
        let mut matched = Vec::new();
        for entry in paths {
            let entry = entry.map_err(|e| err(e.to_string()))?;
            if !entry.is_dir() {
                matched.push(entry);
            }
        }
        if matched.is_empty() {
            return Err(err("pattern matches no files".into()));
        }
        matched.sort();
        out.extend(matched);
    }
    Ok(out)
}

/// An input not yet opened.
#[cfg(feature = "io")]
enum Input {
    Path(PathBuf),
    Stream(Arc<str>, Box<dyn Read + Send>),
}

/// The input being read: its bytes, and the parser they are fed to.
#[cfg(feature = "io")]
struct Current {
    input: Box<dyn BufRead + Send>,
    gzip: bool,
    parser: Parser,
}

/// Reads log files (or streams) one after another and yields one [`Item`]
/// per record; see the [crate documentation](crate) for the formats.
///
/// The reader is streaming: memory stays bounded by the maximum line length
/// plus fixed buffers regardless of input size. It reads blocks and feeds
/// them to a [`Parser`], the same one the logsieve component runs.
#[cfg(feature = "io")]
pub struct Reader {
    inputs: VecDeque<Input>,
    format: Format,
    max_line: usize,
    current: Option<Current>,
    /// The items an input's end gave (its last line, a CSV record left
    /// open), not yet handed out.
    ended: VecDeque<Item>,
    stats: ReadStats,
}

#[cfg(feature = "io")]
impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("format", &self.format)
            .field("max_line", &self.max_line)
            .field("current", &self.current.as_ref().map(|c| c.parser.name()))
            .field("inputs_left", &self.inputs.len())
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(feature = "io")]
impl Reader {
    fn new(inputs: VecDeque<Input>, format: Format) -> Reader {
        Reader {
            inputs,
            format,
            max_line: DEFAULT_MAX_LINE,
            current: None,
            ended: VecDeque::new(),
            stats: ReadStats::default(),
        }
    }

    /// Reads the files `paths` in order (see [`expand_inputs`] for globs).
    /// Files are opened lazily; one that cannot be opened yields a single
    /// [`reason::OPEN_FAILED`] item and reading goes on.
    pub fn open(paths: Vec<PathBuf>, format: Format) -> Reader {
        Reader::new(paths.into_iter().map(Input::Path).collect(), format)
    }

    /// Reads standard input (named `"<stdin>"` in origins); gzip is
    /// detected as for files.
    pub fn stdin(format: Format) -> Reader {
        Reader::from_reader("<stdin>", Box::new(io::stdin()), format)
    }

    /// Reads any byte stream, named `name` in origins; gzip is detected as
    /// for files.
    pub fn from_reader(name: &str, r: Box<dyn Read + Send>, format: Format) -> Reader {
        Reader::new(VecDeque::from([Input::Stream(name.into(), r)]), format)
    }

    /// Sets the maximum line length in bytes (default [`DEFAULT_MAX_LINE`]);
    /// longer lines are skipped and reported as [`reason::LINE_TOO_LONG`].
    /// For CSV the limit also applies to a record spanning lines.
    pub fn with_max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    fn open_input(&self, input: Input) -> Result<Current, Item> {
        let (name, raw): (Arc<str>, Box<dyn Read + Send>) = match input {
            Input::Stream(name, r) => (name, r),
            Input::Path(path) => {
                let name: Arc<str> = path.to_string_lossy().into();
                if path.is_dir() {
                    return Err(whole_file_error(
                        name,
                        reason::OPEN_FAILED,
                        format!("{}: is a directory", path.display()),
                    ));
                }
                match std::fs::File::open(&path) {
                    Ok(f) => (name, Box::new(f)),
                    Err(e) => {
                        return Err(whole_file_error(
                            name,
                            reason::OPEN_FAILED,
                            format!("cannot open {}: {e}", path.display()),
                        ));
                    }
                }
            }
        };
        let (input, gzip) = line::open_stream(raw)
            .map_err(|e| whole_file_error(name.clone(), reason::READ_FAILED, format!("cannot read {name}: {e}")))?;
        Ok(Current { input, gzip, parser: Parser::new(name, self.format, self.max_line) })
    }

    fn count(&mut self, item: Item) -> Item {
        match item.result {
            Ok(_) => self.stats.records += 1,
            Err(_) => self.stats.errors += 1,
        }
        item
    }
}

#[cfg(feature = "io")]
impl Iterator for Reader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.ended.pop_front() {
                return Some(self.count(item));
            }
            let Some(cur) = self.current.as_mut() else {
                let input = self.inputs.pop_front()?;
                match self.open_input(input) {
                    Ok(c) => {
                        self.stats.files += 1;
                        self.current = Some(c);
                    }
                    Err(item) => return Some(self.count(item)),
                }
                continue;
            };
            match cur.input.fill_buf() {
                Ok([]) => {
                    // The end: the last line, a CSV record left open.
                    let ended = &mut self.ended;
                    cur.parser.finish(&mut |i| ended.push_back(i));
                    self.current = None;
                }
                Ok(block) => {
                    let (item, used) = cur.parser.next_record(block);
                    cur.input.consume(used);
                    self.stats.bytes += used as u64;
                    if let Some(item) = item {
                        return Some(self.count(item));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let ended = &mut self.ended;
                    fail_read(&mut cur.parser, cur.gzip, &e, &mut |i| ended.push_back(i));
                    self.current = None;
                }
            }
        }
    }
}

/// A read error that ends an input: what the parser still has to give,
/// then the error item (a gzip stream cut short or corrupt told apart from
/// other read errors).
#[cfg(feature = "io")]
fn fail_read(parser: &mut Parser, gzip: bool, e: &io::Error, out: &mut impl FnMut(Item)) {
    let (reason, what) = match (gzip, e.kind()) {
        (true, io::ErrorKind::UnexpectedEof) => (reason::TRUNCATED_GZIP, "gzip stream ends early"),
        (true, io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData) => {
            (reason::CORRUPT_GZIP, "corrupt gzip stream")
        }
        _ => (reason::READ_FAILED, "read error"),
    };
    let name = parser.name().clone();
    parser.fail(reason, format!("{what} in {name}: {e}; rest of the file skipped"), out);
}

/// An error item about a whole input (it cannot be opened or read), at
/// line 0.
#[cfg(feature = "io")]
fn whole_file_error(file: Arc<str>, reason: &'static str, detail: String) -> Item {
    Item { origin: Origin { file, line: 0 }, result: Err(ReadError { reason, detail, raw: String::new() }) }
}
