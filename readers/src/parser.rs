//! The I/O-free core of reading: one input's bytes, fed in chunks of any
//! size, split into lines and parsed into [`Item`]s.
//!
//! This is all a reader knows about formats and lines; [`crate::Reader`]
//! (files, standard input, gzip) feeds it what it reads, and the logsieve
//! component feeds it the bytes its host hands over (WIT `reader`), so
//! every host reads logs with this one code.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::line::{RAW_CAP, raw_text};
use crate::zeek::{self, Outcome};
use crate::{Format, Item, Origin, ReadError, csv, reason};

/// How the input's lines are parsed.
enum Lines {
    /// [`Format::Auto`] before the first non-blank line.
    Undecided,
    Zeek(Box<zeek::ZeekState>),
    Ndjson,
    Csv(Box<csv::CsvState>),
}

/// One input being read: the line being assembled, the line count and the
/// format's state.
pub struct Parser {
    name: Arc<str>,
    lines: Lines,
    /// The reader's line limit (also bounds CSV records spanning lines).
    max_line: usize,
    /// Lines completed so far.
    line_no: u64,
    /// The start of a line whose end has not been fed yet (or, past the
    /// limit, the first [`RAW_CAP`] bytes of it).
    carry: Vec<u8>,
    /// The line being assembled is longer than `max_line`: the rest of it
    /// is skipped.
    too_long: bool,
    /// Bytes fed since the last complete line (the line is not empty even
    /// when `carry` is, past the limit).
    partial: bool,
    /// Items a line completed beyond the first (a CSV record abandoned:
    /// its lines read afresh), handed out before any more bytes are read.
    queue: VecDeque<Item>,
    /// Scratch for what a CSV line completes.
    csv_out: Vec<csv::CsvOut>,
}

impl Parser {
    /// A parser for the input `name` (as error records name it) in
    /// `format`; lines longer than `max_line` bytes are
    /// [`reason::LINE_TOO_LONG`] errors.
    pub fn new(name: Arc<str>, format: Format, max_line: usize) -> Parser {
        let max_line = max_line.max(1);
        let lines = match format {
            Format::Auto => Lines::Undecided,
            Format::ZeekTsv => Lines::Zeek(Box::new(zeek::ZeekState::new())),
            Format::Ndjson => Lines::Ndjson,
            Format::Csv { delimiter } => Lines::Csv(Box::new(csv::CsvState::new(delimiter, max_line))),
        };
        Parser {
            name,
            lines,
            max_line,
            line_no: 0,
            carry: Vec::new(),
            too_long: false,
            partial: false,
            queue: VecDeque::new(),
            csv_out: Vec::new(),
        }
    }

    /// The input's name.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Feed the next bytes of the input: each line they complete is parsed
    /// and its record (if it has one) handed to `out`, in order. A line
    /// split across calls is kept until its end comes.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut impl FnMut(Item)) {
        loop {
            let (item, used) = self.next_record(bytes);
            bytes = &bytes[used..];
            match item {
                Some(item) => out(item),
                None => break,
            }
        }
    }

    /// Parse from the start of `bytes` until one line gives a record, or
    /// the bytes end: the record, if one came, and how many bytes were
    /// used (all of them when none came). The lazy form of [`Self::feed`],
    /// for a reader that hands out one record at a time.
    pub fn next_record(&mut self, bytes: &[u8]) -> (Option<Item>, usize) {
        if let Some(item) = self.queue.pop_front() {
            return (Some(item), 0);
        }
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            let (content, done) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            at += content.len() + usize::from(done);
            self.partial = true;
            if self.too_long {
                // Past the limit: only the start is kept, for the report.
                let keep = RAW_CAP.saturating_sub(self.carry.len()).min(content.len());
                self.carry.extend_from_slice(&content[..keep]);
            } else if self.carry.len() + content.len() > self.max_line {
                self.too_long = true;
                let keep = RAW_CAP.saturating_sub(self.carry.len()).min(content.len());
                self.carry.extend_from_slice(&content[..keep]);
                self.carry.truncate(RAW_CAP);
            } else if done && self.carry.is_empty() && matches!(self.lines, Lines::Ndjson) {
                // An NDJSON line lying whole in `bytes` is taken from where
                // it is. Zeek and CSV lines are parsed from `carry`: from
                // the small buffer just written they parse ~5 % faster than
                // from the large one (`readers/examples/throughput.rs`).
                self.partial = false;
                self.line_no += 1;
                if let Some(item) = self.process(content) {
                    return (Some(item), at);
                }
                continue;
            } else {
                self.carry.extend_from_slice(content);
            }
            if done && let Some(item) = self.end_line() {
                return (Some(item), at);
            }
        }
        (None, at)
    }

    /// Whether bytes of a line whose end has not come were fed (a peer that
    /// closes its connection now cuts that line).
    pub fn in_line(&self) -> bool {
        self.partial
    }

    /// End of the input: the last line if it had no `\n`, then a CSV
    /// record its end left open.
    pub fn finish(&mut self, out: &mut impl FnMut(Item)) {
        self.queue.drain(..).for_each(&mut *out);
        if self.partial
            && let Some(item) = self.end_line()
        {
            out(item);
        }
        self.queue.drain(..).for_each(&mut *out);
        self.abandon_record();
        self.queue.drain(..).for_each(out);
    }

    /// Lines completed so far (the line number of the last one).
    #[cfg(feature = "io")]
    pub(crate) fn lines_read(&self) -> u64 {
        self.line_no
    }

    /// Whether the input stands between records: no line partly fed, no
    /// item waiting, no CSV record open across lines. A position here is
    /// one a reader can resume at.
    #[cfg(feature = "io")]
    pub(crate) fn at_record_boundary(&self) -> bool {
        !self.partial && self.queue.is_empty() && !matches!(&self.lines, Lines::Csv(c) if c.in_record())
    }

    /// Resuming mid-input: one complete line (without its `\n`) that was
    /// read before, counted but not handed out again. Only the lines that
    /// set state are parsed (their items dropped): Zeek `#` lines (the
    /// `#fields`/`#types` header), the line [`Format::Auto`] decides on,
    /// a CSV header.
    #[cfg(feature = "io")]
    pub(crate) fn replay_line(&mut self, line: &[u8]) {
        let body = line.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(line);
        let needed = match &self.lines {
            Lines::Undecided => true,
            Lines::Zeek(_) => body.first() == Some(&b'#'),
            Lines::Ndjson => false,
            Lines::Csv(c) => !c.has_header(),
        };
        if line.len() > self.max_line || !needed {
            self.line_no += 1;
            return;
        }
        self.line_no += 1;
        let _ = self.process(line);
        self.queue.clear();
    }

    /// The input cannot be read on (an I/O or decompression error): the
    /// items still due (a CSV record left open is abandoned, its lines
    /// read), then the error item, at the line being read, with what was
    /// read of it.
    pub fn fail(&mut self, reason: &'static str, detail: String, out: &mut impl FnMut(Item)) {
        self.abandon_record();
        self.queue.drain(..).for_each(&mut *out);
        let item = self.error(self.line_no + 1, reason, detail, &self.carry);
        self.carry.clear();
        self.partial = false;
        self.too_long = false;
        out(item);
    }

    /// A CSV record left open cannot go on: its items, to the queue.
    fn abandon_record(&mut self) {
        if let Lines::Csv(c) = &mut self.lines {
            c.abandon(&mut self.csv_out);
            self.queue_csv(b"");
        }
    }

    /// What the last CSV line completed, to the queue.
    fn queue_csv(&mut self, line: &[u8]) {
        let mut outs = std::mem::take(&mut self.csv_out);
        for o in outs.drain(..) {
            let item = self.csv_item(o, line);
            self.queue.push_back(item);
        }
        self.csv_out = outs;
    }

    /// The line in `carry` is complete: its record, if it has one.
    fn end_line(&mut self) -> Option<Item> {
        self.line_no += 1;
        let line = std::mem::take(&mut self.carry);
        let item = if self.too_long {
            self.too_long = false;
            let e = self.error(
                self.line_no,
                reason::LINE_TOO_LONG,
                format!("line longer than {} bytes skipped", self.max_line),
                &line,
            );
            self.before_queued(e)
        } else {
            self.process(&line)
        };
        self.carry = line;
        self.carry.clear();
        self.partial = false;
        item
    }

    fn item(&self, line: u64, result: Result<String, ReadError>) -> Item {
        Item { origin: Origin { file: self.name.clone(), line }, result }
    }

    fn error(&self, line: u64, reason: &'static str, detail: String, raw: &[u8]) -> Item {
        self.item(line, Err(ReadError { reason, detail, raw: raw_text(raw) }))
    }

    /// `item` comes after what an abandoned CSV record gives (if one was
    /// open): the first item due.
    fn before_queued(&mut self, item: Item) -> Option<Item> {
        self.abandon_record();
        if self.queue.is_empty() {
            return Some(item);
        }
        self.queue.push_back(item);
        self.queue.pop_front()
    }

    fn csv_item(&self, out: csv::CsvOut, line: &[u8]) -> Item {
        match out.outcome {
            Outcome::Record(s) => self.item(out.line, Ok(s)),
            Outcome::Error(reason, detail) => {
                self.item(out.line, Err(ReadError { reason, detail, raw: out.raw.unwrap_or_else(|| raw_text(line)) }))
            }
            Outcome::Nothing => unreachable!("CSV reports nothing as None"),
        }
    }

    /// Handles one complete line (without `\n`) numbered `self.line_no`.
    fn process(&mut self, mut line: &[u8]) -> Option<Item> {
        let n = self.line_no;
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if n == 1
            && let [0xEF, 0xBB, 0xBF, rest @ ..] = line
        {
            line = rest;
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                let e = self.error(n, reason::INVALID_UTF8, format!("invalid UTF-8 at byte {}", e.valid_up_to()), line);
                return self.before_queued(e);
            }
        };
        let blank = match &self.lines {
            Lines::Csv(c) if c.in_record() => false,
            Lines::Ndjson | Lines::Undecided => text.trim().is_empty(),
            _ => text.is_empty(),
        };
        if blank {
            return Some(self.error(n, reason::EMPTY_LINE, "empty line".into(), line));
        }
        if let Lines::Undecided = self.lines {
            self.lines = match text.trim_start().as_bytes()[0] {
                b'#' => Lines::Zeek(Box::new(zeek::ZeekState::new())),
                b'{' => Lines::Ndjson,
                _ => Lines::Csv(Box::new(csv::CsvState::new(None, self.max_line))),
            };
        }
        match &mut self.lines {
            Lines::Undecided => unreachable!(),
            Lines::Ndjson => Some(self.item(n, Ok(text.trim().to_owned()))),
            Lines::Zeek(z) => match z.line(text) {
                Outcome::Nothing => None,
                Outcome::Record(s) => Some(self.item(n, Ok(s))),
                Outcome::Error(reason, detail) => Some(self.error(n, reason, detail, line)),
            },
            Lines::Csv(c) => {
                c.line(text, n, &mut self.csv_out);
                if self.csv_out.len() <= 1 {
                    let out = self.csv_out.pop()?;
                    return Some(self.csv_item(out, line));
                }
                self.queue_csv(line);
                self.queue.pop_front()
            }
        }
    }
}
