//! CSV with a header line (RFC 4180 quoting), e.g. Argus `.binetflow`.
//!
//! Hand-written rather than the `csv` crate, measured (issue #22): the
//! record splitting is `split` below, a memchr pass over the delimiters
//! when the line has no quote (real logs: `.binetflow` never quotes).
//! Splitting the 204,372 rows (75 MB) of two CTU `.binetflow` files of
//! `../shared/data/netflow/ctu` repeated 14 times, 3 runs: `split` 0.135–
//! 0.159 s; `csv_core::Reader::read_record` on each line 0.394–0.419 s;
//! `csv::Reader::read_byte_record` over the whole file 0.382–0.432 s
//! (2.5–3× slower; a release build of a scratch program calling the
//! three on the same lines, same field counts). And the crate's record
//! boundaries are not this reader's: a stray quote here costs its own line
//! (`csv_unterminated_quote`, then the lines after it are read afresh, with
//! their own line numbers, docs/errors.md), where the csv crate would read
//! on to the next quote and swallow the lines between into one field. So
//! only the typing (`push_value`) and the recovery are here, around a
//! 45-line splitter.

use crate::json;
use crate::reason;
use crate::zeek::Outcome;

/// One thing produced by [`CsvState`]: an outcome, the 1-based line where
/// its record started, and (for errors on multi-line records) the raw text.
pub(crate) struct CsvOut {
    pub(crate) line: u64,
    pub(crate) outcome: Outcome,
    pub(crate) raw: Option<String>,
}

/// At most this many lines make one record (a quoted field holding line
/// ends): a quote left open longer is treated as a stray one.
pub(crate) const MAX_RECORD_LINES: usize = 256;

/// Parser state for one CSV stream.
///
/// A quoted field may hold line ends (RFC 4180), but a record that spans
/// lines must close, within [`MAX_RECORD_LINES`] lines and the record
/// limit, into as many fields as the header has. Otherwise the quote that
/// opened it was a stray one: its line is a `csv_unterminated_quote` error
/// and the lines after it are read afresh, so one bad quote costs one line.
pub(crate) struct CsvState {
    /// Explicit or detected delimiter (`None` until the header is seen).
    delim: Option<u8>,
    /// Header names, and `"name":` for each.
    names: Option<Vec<String>>,
    keys: Vec<String>,
    max_record: usize,
    /// A record whose quoted field spans lines: text so far, start line,
    /// and where each of its lines starts in the text.
    pending: String,
    pending_line: u64,
    pending_starts: Vec<usize>,
    scratch: String,
    bounds: Vec<(usize, usize)>,
    out_hint: usize,
}

impl CsvState {
    pub(crate) fn new(delim: Option<u8>, max_record: usize) -> Self {
        CsvState {
            delim,
            names: None,
            keys: Vec::new(),
            max_record,
            pending: String::new(),
            pending_line: 0,
            pending_starts: Vec::new(),
            scratch: String::new(),
            bounds: Vec::new(),
            out_hint: 256,
        }
    }

    /// Whether the header has been read.
    #[cfg(feature = "io")]
    pub(crate) fn has_header(&self) -> bool {
        self.names.is_some()
    }

    /// Whether a quoted field is open across lines (so an empty line is
    /// part of the record).
    pub(crate) fn in_record(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A line that cannot be part of the open record came (unreadable, too
    /// long): the record's first line is an error and its other lines are
    /// read afresh, into `out`.
    pub(crate) fn abandon(&mut self, out: &mut Vec<CsvOut>) {
        while !self.pending.is_empty() {
            self.recover(out);
        }
    }

    /// The open record is not one: its first line is reported and the
    /// others are fed again.
    fn recover(&mut self, out: &mut Vec<CsvOut>) {
        let text = std::mem::take(&mut self.pending);
        let starts = std::mem::take(&mut self.pending_starts);
        let first = self.pending_line;
        let end = |i: usize| starts.get(i + 1).map_or(text.len(), |s| s - 1);
        out.push(CsvOut {
            line: first,
            outcome: Outcome::Error(
                reason::CSV_UNTERMINATED_QUOTE,
                "a quoted field opened on this line is not closed on it, and the lines after it do not complete a \
                 record; reading goes on at the next line"
                    .into(),
            ),
            raw: Some(crate::line::raw_text(&text.as_bytes()[..end(0)])),
        });
        for i in 1..starts.len() {
            let line = &text[starts[i]..end(i)];
            let n = first + i as u64;
            if line.is_empty() && self.pending.is_empty() {
                out.push(CsvOut {
                    line: n,
                    outcome: Outcome::Error(reason::EMPTY_LINE, "empty line".into()),
                    raw: Some(String::new()),
                });
            } else {
                let k = out.len();
                self.line(line, n, out);
                for o in &mut out[k..] {
                    o.raw.get_or_insert_with(|| crate::line::raw_text(line.as_bytes()));
                }
            }
        }
    }

    /// Handles one line (stripped of `\r\n`, valid UTF-8), pushing what it
    /// completes to `out`. Empty lines are handled by the caller unless a
    /// quoted field is open.
    pub(crate) fn line(&mut self, line: &str, line_no: u64, out: &mut Vec<CsvOut>) {
        let delim = *self.delim.get_or_insert(if line.contains('\t') { b'\t' } else { b',' });
        if !delim.is_ascii() {
            out.push(CsvOut {
                line: line_no,
                outcome: Outcome::Error(
                    reason::CSV_BAD_DELIMITER,
                    format!("delimiter byte 0x{delim:02x} is not ASCII"),
                ),
                raw: None,
            });
            return;
        }
        if self.pending.is_empty() {
            if !split(line, delim, &mut self.scratch, &mut self.bounds) {
                self.pending.push_str(line);
                self.pending_line = line_no;
                self.pending_starts.push(0);
                return;
            }
            if let Some(o) = self.record(line_no, None) {
                out.push(o);
            }
            return;
        }
        if self.pending.len() + 1 + line.len() > self.max_record || self.pending_starts.len() >= MAX_RECORD_LINES {
            self.recover(out);
            self.line(line, line_no, out);
            return;
        }
        self.pending_starts.push(self.pending.len() + 1);
        self.pending.push('\n');
        self.pending.push_str(line);
        if !split(&self.pending, delim, &mut self.scratch, &mut self.bounds) {
            return;
        }
        if self.names.as_ref().is_some_and(|n| n.len() != self.bounds.len()) {
            self.recover(out);
            return;
        }
        let raw = crate::line::raw_text(self.pending.as_bytes());
        self.pending.clear();
        self.pending_starts.clear();
        if let Some(o) = self.record(self.pending_line, Some(raw)) {
            out.push(o);
        }
    }

    /// The record just split (in `scratch` and `bounds`), starting on
    /// `start_line`: the header (nothing), an event, or a column-count error.
    fn record(&mut self, start_line: u64, raw: Option<String>) -> Option<CsvOut> {
        let outcome = match &self.names {
            None => {
                let names: Vec<String> =
                    self.bounds.iter().map(|&(a, b)| self.scratch[a..b].trim().to_owned()).collect();
                self.keys = names.iter().map(|n| json::key_prefix(n)).collect();
                self.names = Some(names);
                return None;
            }
            Some(names) if names.len() != self.bounds.len() => Outcome::Error(
                reason::CSV_COLUMN_COUNT,
                format!("row has {} fields but the header has {}", self.bounds.len(), names.len()),
            ),
            Some(_) => {
                let mut out = String::with_capacity(self.out_hint);
                out.push('{');
                let mut first = true;
                for (i, &(a, b)) in self.bounds.iter().enumerate() {
                    let v = self.scratch[a..b].trim();
                    if v.is_empty() {
                        continue;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&self.keys[i]);
                    push_value(&mut out, v);
                }
                out.push('}');
                if out.len() > self.out_hint {
                    self.out_hint = out.len() + 32;
                }
                Outcome::Record(out)
            }
        };
        Some(CsvOut { line: start_line, outcome, raw })
    }
}

/// Types one trimmed, non-empty CSV value.
fn push_value(out: &mut String, v: &str) {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if json::is_digits(digits) {
        if let Ok(n) = v.parse::<i64>() {
            json::push_int(out, n);
            return;
        }
        // Too big for i64: kept as a string so no digits are lost.
    } else if json::number_shape(v).is_some_and(|n| n.in_range(v)) {
        out.push_str(v);
        return;
    }
    // Not a number, or one no JSON reader holds (`1e999`): a string.
    json::push_str(out, v);
}

/// Splits one record into unquoted field texts (in `scratch`, delimited by
/// `bounds`). Returns `false` if a quoted field is still open at the end.
/// `delim` must be ASCII.
fn split(text: &str, delim: u8, scratch: &mut String, bounds: &mut Vec<(usize, usize)>) -> bool {
    scratch.clear();
    bounds.clear();
    let b = text.as_bytes();
    if memchr::memchr(b'"', b).is_none() {
        scratch.push_str(text);
        let mut start = 0;
        for i in memchr::memchr_iter(delim, b) {
            bounds.push((start, i));
            start = i + 1;
        }
        bounds.push((start, b.len()));
        return true;
    }
    let mut i = 0;
    loop {
        let start = scratch.len();
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                let Some(j) = memchr::memchr(b'"', &b[i..]) else {
                    return false;
                };
                scratch.push_str(&text[i..i + j]);
                i += j + 1;
                if b.get(i) == Some(&b'"') {
                    scratch.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
        }
        // Unquoted field, or anything after a closing quote: literal.
        let end = memchr::memchr(delim, &b[i..]).map_or(b.len(), |j| i + j);
        scratch.push_str(&text[i..end]);
        i = end;
        bounds.push((start, scratch.len()));
        if i >= b.len() {
            return true;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str, delim: u8) -> Option<Vec<String>> {
        let mut s = String::new();
        let mut b = Vec::new();
        split(text, delim, &mut s, &mut b).then(|| b.iter().map(|&(x, y)| s[x..y].to_string()).collect())
    }

    #[test]
    fn rfc4180_splitting() {
        assert_eq!(fields("a,b,,c,", b','), Some(vec!["a", "b", "", "c", ""].into_iter().map(String::from).collect()));
        assert_eq!(
            fields(r#""a,1","say ""hi""",x"y,"""#, b','),
            Some(vec!["a,1".to_string(), "say \"hi\"".into(), "x\"y".into(), "".into()])
        );
        assert_eq!(fields("\"open,x", b','), None);
        assert_eq!(fields("a\tb,c", b'\t'), Some(vec!["a".to_string(), "b,c".into()]));
    }

    fn run(lines: &[&str], delim: Option<u8>) -> Vec<(u64, Result<String, &'static str>)> {
        let mut c = CsvState::new(delim, 1 << 20);
        let mut out = Vec::new();
        let mut outs = Vec::new();
        for (n, l) in lines.iter().enumerate() {
            c.line(l, n as u64 + 1, &mut outs);
        }
        c.abandon(&mut outs);
        for o in outs {
            out.push((
                o.line,
                match o.outcome {
                    Outcome::Record(s) => Ok(s),
                    Outcome::Error(r, _) => Err(r),
                    Outcome::Nothing => unreachable!(),
                },
            ));
        }
        out
    }

    #[test]
    fn typing_and_absent_values() {
        let got = run(
            &[
                "StartTime,Dur,Sport,Dir,DstAddr,Dport,sTos,Big,Neg,Exp",
                "2019/04/04 16:23:00.325010,0.027947,0x0303,   ->,00:00:00:00:00:00,0080,,99999999999999999999,-5,1e5",
            ],
            None,
        );
        assert_eq!(
            got,
            vec![(2, Ok(r#"{"StartTime":"2019/04/04 16:23:00.325010","Dur":0.027947,"Sport":"0x0303","Dir":"->","DstAddr":"00:00:00:00:00:00","Dport":80,"Big":"99999999999999999999","Neg":-5,"Exp":1e5}"#.to_string()))]
        );
    }

    #[test]
    fn an_unterminated_quote_reports_at_most_raw_cap_bytes() {
        // Found by fuzzing (csv): the record left open at end of input was
        // reported whole (up to the line limit, 16 MiB by default) instead
        // of its first 4 KiB.
        let mut c = CsvState::new(None, 1 << 20);
        let mut outs = Vec::new();
        c.line("a,b", 1, &mut outs);
        c.line(&format!("1,\"{}", "x".repeat(5000)), 2, &mut outs);
        for n in 3..5 {
            c.line(&"y".repeat(3000), n, &mut outs);
        }
        assert!(outs.is_empty());
        c.abandon(&mut outs);
        // The open record's first line, then its other lines read afresh.
        assert_eq!(outs.len(), 3);
        assert!(outs[1..].iter().all(|o| matches!(o.outcome, Outcome::Error(reason::CSV_COLUMN_COUNT, _))));
        let out = outs.swap_remove(0);
        assert_eq!(out.line, 2);
        assert!(matches!(out.outcome, Outcome::Error(reason::CSV_UNTERMINATED_QUOTE, _)));
        let raw = out.raw.unwrap();
        assert_eq!(raw.len(), crate::line::RAW_CAP);
        assert!(raw.starts_with("1,\"xxx"));
        assert!(!c.in_record());
    }

    #[test]
    fn numbers_out_of_json_range_stay_strings() {
        // Found by the property tests: `1e999` was copied verbatim and made
        // an event no JSON reader takes.
        let got = run(&["a,b,c,d", "1e999,-1E400,9.9e307,1e-999"], None);
        assert_eq!(got, vec![(2, Ok(r#"{"a":"1e999","b":"-1E400","c":9.9e307,"d":1e-999}"#.to_string()))]);
    }

    #[test]
    fn tab_detection_and_column_count() {
        let got = run(&["a\tb", "1\t x ", "1\t2\t3", "1"], None);
        assert_eq!(got[0], (2, Ok(r#"{"a":1,"b":"x"}"#.to_string())));
        assert_eq!(got[1], (3, Err(reason::CSV_COLUMN_COUNT)));
        assert_eq!(got[2], (4, Err(reason::CSV_COLUMN_COUNT)));
        // Explicit delimiter overrides detection.
        let got = run(&["a;b", "1;2"], Some(b';'));
        assert_eq!(got[0], (2, Ok(r#"{"a":1,"b":2}"#.to_string())));
    }

    #[test]
    fn multi_line_quoted_fields() {
        let got2 = run(&["name,b", "\"x", "y\",2", "3,4", "\"open", "more"], None);
        assert_eq!(got2.len(), 4);
        assert_eq!(got2[0], (2, Ok(r#"{"name":"x\ny","b":2}"#.to_string())));
        assert_eq!(got2[1], (4, Ok(r#"{"name":3,"b":4}"#.to_string())));
        assert_eq!(got2[2], (5, Err(reason::CSV_UNTERMINATED_QUOTE)));
        assert_eq!(got2[3], (6, Err(reason::CSV_COLUMN_COUNT)));
        // A quote left open for more than MAX_RECORD_LINES lines is a stray one.
        let mut lines = vec!["a,b".to_string(), "\"x,1".to_string()];
        lines.extend((0..MAX_RECORD_LINES).map(|i| format!("{i},z")));
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let got = run(&refs, None);
        assert_eq!(got.len(), 1 + MAX_RECORD_LINES);
        assert_eq!(got[0], (2, Err(reason::CSV_UNTERMINATED_QUOTE)));
        assert_eq!(
            got[MAX_RECORD_LINES],
            (2 + MAX_RECORD_LINES as u64, Ok(format!(r#"{{"a":{},"b":"z"}}"#, MAX_RECORD_LINES - 1)))
        );
    }
}
