//! Property tests of the readers: generated Zeek TSV and CSV files read back
//! to exactly the values written; arbitrary bytes never break a reader; how
//! the bytes arrive (read sizes, gzip) never changes what is read.

use std::io::{self, Cursor, Read, Write};

use logsieve_readers::{Format, Item, Reader};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Number, Value};

fn config(cases: u32) -> Config {
    // No regression files next to the sources: a failure prints its
    // minimal input, which belongs in a unit test.
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Reads everything from `r`.
fn read_items(r: Box<dyn Read + Send>, format: Format) -> Vec<Item> {
    Reader::from_reader("test", r, format).collect()
}

fn read_bytes(data: &[u8], format: Format) -> Vec<Item> {
    read_items(Box::new(Cursor::new(data.to_vec())), format)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The events of `items`, parsed; any error item fails the case.
fn events(items: &[Item]) -> Result<Vec<(u64, Value)>, TestCaseError> {
    items
        .iter()
        .map(|i| match &i.result {
            Ok(text) => serde_json::from_str(text)
                .map(|v| (i.origin.line, v))
                .map_err(|e| TestCaseError::fail(format!("line {}: invalid JSON ({e}): {text}", i.origin.line))),
            Err(e) => {
                Err(TestCaseError::fail(format!("line {}: unexpected error {e} (raw {:?})", i.origin.line, e.raw)))
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// (a) Zeek TSV files written as Zeek writes them.

/// The characters string values are made of: separators of every kind,
/// the escape character, markers' characters, controls, non-ASCII.
const VALUE_CHARS: &[char] = &[
    'a', 'b', 'Z', '0', '7', ' ', '-', '(', ')', '#', '\\', '"', ',', ';', '+', '|', ':', '\t', '\n', '\r', '\u{1}',
    '\u{1f}', '\u{7f}', 'é', '€', '😀', '\u{feff}', 'x', 'N', 'O', 'E',
];

fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(prop::sample::select(VALUE_CHARS), 0..max).prop_map(|v| v.into_iter().collect()),
        // Values that look like the markers or escapes.
        1 => prop::sample::select(vec!["-", "(empty)", "NONE", "EMPTY", "\\x41", "\\\\", "-1", "#x"]).prop_map(String::from),
    ]
}

/// How a `double`/`time` value is written.
#[derive(Debug, Clone)]
enum FloatText {
    /// `%.6f`, as Zeek writes times and intervals.
    Fixed(f64),
    /// Shortest round-trip text (`1e300`, `0.1`).
    Shortest(f64),
    /// An integral text (`5`), which becomes `5.0`.
    Integral(i64),
    /// Decimal forms outside JSON syntax (`.5`, `7.`, `+1.25`) and their value.
    Odd(String, f64),
}

#[derive(Debug, Clone)]
enum ZVal {
    Unset,
    /// Value and leading zeros written.
    Count(u64, usize),
    /// Value and whether a `+` is written for a non-negative one.
    Int(i64, bool),
    Port(u16, usize),
    Float(FloatText),
    Bool(bool),
    Str(String),
    Addr(String),
    SetStr(Vec<String>),
    /// `None` elements are written as the unset marker.
    VecCount(Vec<Option<u64>>),
}

const ZEEK_TYPES: &[&str] =
    &["count", "int", "port", "double", "time", "bool", "string", "addr", "set[string]", "vector[count]"];

fn float_text() -> impl Strategy<Value = FloatText> {
    prop_oneof![
        (-1e12f64..1e12).prop_map(FloatText::Fixed),
        // Magnitudes of 1e308 and more are bad values (unit-tested in
        // zeek.rs): JSON readers refuse them.
        any::<f64>().prop_filter("in JSON range", |f| f.is_finite() && f.abs() < 1e308).prop_map(FloatText::Shortest),
        any::<i64>().prop_map(FloatText::Integral),
        (0u32..1000, 0u8..3)
            .prop_map(|(n, form)| match form {
                0 => (format!(".{n}"), format!("0.{n}").parse().unwrap()),
                1 => (format!("{n}."), f64::from(n)),
                _ => (format!("+{n}.25"), f64::from(n) + 0.25),
            })
            .prop_map(|(t, v)| FloatText::Odd(t, v)),
    ]
}

fn zval(ty: &'static str) -> BoxedStrategy<ZVal> {
    let v: BoxedStrategy<ZVal> = match ty {
        "count" => (any::<u64>(), 0usize..3).prop_map(|(v, z)| ZVal::Count(v, z)).boxed(),
        "int" => (any::<i64>(), any::<bool>()).prop_map(|(v, p)| ZVal::Int(v, p)).boxed(),
        "port" => (any::<u16>(), 0usize..3).prop_map(|(v, z)| ZVal::Port(v, z)).boxed(),
        "double" | "time" => float_text().prop_map(ZVal::Float).boxed(),
        "bool" => any::<bool>().prop_map(ZVal::Bool).boxed(),
        "string" => text(12).prop_map(ZVal::Str).boxed(),
        "addr" => prop_oneof![
            any::<[u8; 4]>().prop_map(|a| std::net::Ipv4Addr::from(a).to_string()),
            any::<[u16; 8]>().prop_map(|a| std::net::Ipv6Addr::from(a).to_string()),
        ]
        .prop_map(ZVal::Addr)
        .boxed(),
        // Set elements are not empty: a one-element set of "" would be an
        // empty column, which no format can tell from nothing.
        "set[string]" => prop::collection::vec(text(6).prop_filter("non-empty", |s| !s.is_empty()), 0..4)
            .prop_map(ZVal::SetStr)
            .boxed(),
        // `[null]` is written as the unset marker alone: that is an unset
        // column, so one-element vectors hold a number.
        "vector[count]" => prop::collection::vec(prop::option::weighted(0.8, any::<u64>()), 0..4)
            .prop_filter("not [unset]", |v| v.as_slice() != [None])
            .prop_map(ZVal::VecCount)
            .boxed(),
        _ => unreachable!(),
    };
    prop_oneof![1 => Just(ZVal::Unset), 5 => v].boxed()
}

/// A generated Zeek log: its declarations, schema and rows.
#[derive(Debug, Clone)]
struct ZeekLog {
    sep: &'static str,
    set_sep: &'static str,
    unset: &'static str,
    empty: &'static str,
    names: Vec<String>,
    types: Vec<&'static str>,
    rows: Vec<Vec<ZVal>>,
    /// Escape every non-ASCII byte as `\xHH` (else write UTF-8 as is).
    escape_non_ascii: bool,
    crlf: bool,
    close: bool,
}

fn zeek_log() -> impl Strategy<Value = ZeekLog> {
    let schema = prop::collection::vec(("[a-z_.]{1,8}", prop::sample::select(ZEEK_TYPES)), 1..7);
    (
        prop::sample::select(vec!["\t", "|", "::", "\u{1f}", " "]),
        prop::sample::select(vec![",", ";", "+"]),
        prop::sample::select(vec!["-", "NONE"]),
        prop::sample::select(vec!["(empty)", "EMPTY"]),
        schema,
        any::<(bool, bool, bool)>(),
    )
        .prop_flat_map(|(sep, set_sep, unset, empty, schema, (escape_non_ascii, crlf, close))| {
            // Unique names: a suffix per column.
            let names: Vec<String> = schema.iter().enumerate().map(|(i, (n, _))| format!("{n}{i}")).collect();
            let types: Vec<&'static str> = schema.iter().map(|(_, t)| *t).collect();
            let row: Vec<BoxedStrategy<ZVal>> = types.iter().map(|t| zval(t)).collect();
            prop::collection::vec(row, 0..8).prop_map(move |rows| ZeekLog {
                sep,
                set_sep,
                unset,
                empty,
                names: names.clone(),
                types: types.clone(),
                rows,
                escape_non_ascii,
                crlf,
                close,
            })
        })
}

fn hex_escape(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("\\x{b:02x}"));
    }
}

impl ZeekLog {
    /// A string value as Zeek's ASCII writer escapes it.
    fn escape(&self, s: &str) -> String {
        if s.is_empty() {
            return self.empty.to_string();
        }
        let mut out = String::new();
        for c in s.chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if self.sep.contains(c)
                || self.set_sep.contains(c)
                || c.is_ascii_control()
                || c == '#'
                || (!c.is_ascii() && self.escape_non_ascii)
            {
                hex_escape(&mut out, c);
            } else {
                out.push(c);
            }
        }
        // A value that reads as a marker is written with its first
        // character escaped.
        if out == self.unset || out == self.empty {
            let first = out.remove(0);
            let mut e = String::new();
            hex_escape(&mut e, first);
            out.insert_str(0, &e);
        }
        out
    }

    /// The column text of a value and the JSON it must read back as
    /// (`None`: the key is absent).
    fn cell(&self, v: &ZVal) -> (String, Option<Value>) {
        let num = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        match v {
            ZVal::Unset => (self.unset.to_string(), None),
            ZVal::Count(n, zeros) => (format!("{}{n}", "0".repeat(*zeros)), Some(Value::from(*n))),
            ZVal::Int(n, plus) => {
                let t = if *plus && *n >= 0 { format!("+{n}") } else { n.to_string() };
                (t, Some(Value::from(*n)))
            }
            ZVal::Port(n, zeros) => (format!("{}{n}", "0".repeat(*zeros)), Some(Value::from(*n))),
            ZVal::Float(f) => match f {
                FloatText::Fixed(x) => {
                    let t = format!("{x:.6}");
                    let v = num(&t);
                    (t, Some(v))
                }
                FloatText::Shortest(x) => {
                    let t = format!("{x:?}");
                    let v = num(&t);
                    (t, Some(v))
                }
                FloatText::Integral(n) => (n.to_string(), Some(num(&format!("{n}.0")))),
                FloatText::Odd(t, x) => (t.clone(), Some(Value::Number(Number::from_f64(*x).unwrap()))),
            },
            ZVal::Bool(b) => ((if *b { "T" } else { "F" }).to_string(), Some(Value::Bool(*b))),
            ZVal::Str(s) | ZVal::Addr(s) => (self.escape(s), Some(Value::String(s.clone()))),
            ZVal::SetStr(v) if v.is_empty() => (self.empty.to_string(), Some(Value::Array(vec![]))),
            ZVal::SetStr(v) => (
                v.iter().map(|s| self.escape(s)).collect::<Vec<_>>().join(self.set_sep),
                Some(Value::Array(v.iter().map(|s| Value::String(s.clone())).collect())),
            ),
            ZVal::VecCount(v) if v.is_empty() => (self.empty.to_string(), Some(Value::Array(vec![]))),
            ZVal::VecCount(v) => (
                v.iter()
                    .map(|e| e.map_or(self.unset.to_string(), |n| n.to_string()))
                    .collect::<Vec<_>>()
                    .join(self.set_sep),
                Some(Value::Array(v.iter().map(|e| e.map_or(Value::Null, Value::from)).collect())),
            ),
        }
    }

    /// The file's bytes and the events it must read as: (line, object).
    fn render(&self) -> (Vec<u8>, Vec<(u64, Value)>) {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let mut sep_escaped = String::new();
        for c in self.sep.chars() {
            hex_escape(&mut sep_escaped, c);
        }
        let s = self.sep;
        let mut lines = vec![
            format!("#separator {sep_escaped}"),
            format!("#set_separator{s}{}", self.set_sep),
            format!("#empty_field{s}{}", self.empty),
            format!("#unset_field{s}{}", self.unset),
            format!("#path{s}test"),
            format!("#open{s}2024-04-19-00-00-00"),
            format!("#fields{s}{}", self.names.join(s)),
            format!("#types{s}{}", self.types.join(s)),
        ];
        let mut expected = Vec::new();
        for row in &self.rows {
            let mut cells = Vec::new();
            let mut obj = Map::new();
            for (name, v) in self.names.iter().zip(row) {
                let (cell, json) = self.cell(v);
                cells.push(cell);
                if let Some(j) = json {
                    obj.insert(name.clone(), j);
                }
            }
            lines.push(cells.join(s));
            expected.push((lines.len() as u64, Value::Object(obj)));
        }
        if self.close {
            lines.push(format!("#close{s}2024-04-19-01-00-00"));
        }
        let mut text = lines.join(nl);
        text.push_str(nl);
        (text.into_bytes(), expected)
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn zeek_tsv_reads_back_what_was_written(log in zeek_log()) {
        let (bytes, expected) = log.render();
        for format in [Format::ZeekTsv, Format::Auto] {
            let items = read_bytes(&bytes, format);
            prop_assert_eq!(events(&items)?, expected.clone(), "file:\n{}", String::from_utf8_lossy(&bytes));
        }
    }
}

// ---------------------------------------------------------------------------
// (b) CSV written with RFC 4180 quoting.

const CSV_CHARS: &[char] =
    &['a', 'b', 'Z', '0', '5', '-', '.', 'e', ' ', ',', '"', '\n', ';', '\t', '|', 'é', '😀', 'x', '\'', '#', '{'];

fn csv_value() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::collection::vec(prop::sample::select(CSV_CHARS), 0..10).prop_map(|v| v.into_iter().collect()),
        2 => prop::sample::select(vec![
            "0080", "1e5", "-0", "-5", "0.027947", "99999999999999999999", "-9223372036854775808", "0x0303", "->",
            "  <?>", "-", "1.5", ".5", "1.", "00:00:00:00:00:00", "2019/04/04 16:23:00.325010", "\"", "1e999",
            "1.5e308", "9.9e307", "-1e-999",
        ])
        .prop_map(String::from),
    ]
}

/// Whether `s` is a number in JSON syntax (RFC 8259 §6):
/// `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// How a CSV value must read back (the documented typing): trimmed; empty
/// is absent; an integer fitting `i64` is that integer; other JSON number
/// syntax of magnitude below 1e308 is that number; anything else a string.
fn csv_typed(v: &str) -> Option<Value> {
    let t = v.trim();
    if t.is_empty() {
        return None;
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(t.parse::<i64>().map_or_else(|_| Value::String(t.into()), Value::from));
    }
    if is_json_number(t) && t.parse::<f64>().is_ok_and(|f| f.abs() < 1e308) {
        return Some(serde_json::from_str(t).unwrap_or_else(|e| panic!("{t:?} is a number JSON readers refuse: {e}")));
    }
    Some(Value::String(t.into()))
}

#[derive(Debug, Clone)]
struct CsvFile {
    delim: char,
    names: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Quote every field, not only those that must be.
    quote_all: bool,
    crlf: bool,
}

fn csv_file() -> impl Strategy<Value = CsvFile> {
    (
        prop::sample::select(vec![',', '\t', ';', '|']),
        prop::collection::vec("[A-Za-z][A-Za-z0-9_.]{0,6}", 1..6),
        any::<(bool, bool)>(),
    )
        .prop_flat_map(|(delim, names, (quote_all, crlf))| {
            let names: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{n}{i}")).collect();
            let width = names.len();
            prop::collection::vec(prop::collection::vec(csv_value(), width), 0..8).prop_map(move |rows| CsvFile {
                delim,
                names: names.clone(),
                rows,
                quote_all,
                crlf,
            })
        })
}

impl CsvFile {
    fn field(&self, v: &str, only: bool) -> String {
        // A field must be quoted if it holds the delimiter, a quote or a line
        // end; a lone empty field too, or the line would be empty.
        let must = v.contains([self.delim, '"', '\n', '\r']) || (only && v.is_empty());
        if must || self.quote_all { format!("\"{}\"", v.replace('"', "\"\"")) } else { v.to_string() }
    }

    fn format(&self) -> Format {
        match self.delim {
            // Detected from the header: a tab when it holds one (so with
            // two columns or more), else a comma.
            ',' => Format::Csv { delimiter: None },
            '\t' if self.names.len() > 1 => Format::Csv { delimiter: None },
            d => Format::Csv { delimiter: Some(d as u8) },
        }
    }

    fn render(&self) -> (Vec<u8>, Vec<(u64, Value)>) {
        let nl = if self.crlf { "\r\n" } else { "\n" };
        let d = self.delim.to_string();
        let mut text = self.names.join(&d);
        text.push_str(nl);
        let mut line = 2;
        let mut expected = Vec::new();
        for row in &self.rows {
            let only = row.len() == 1;
            text.push_str(&row.iter().map(|v| self.field(v, only)).collect::<Vec<_>>().join(&d));
            text.push_str(nl);
            let obj: Map<String, Value> =
                self.names.iter().zip(row).filter_map(|(n, v)| Some((n.clone(), csv_typed(v)?))).collect();
            expected.push((line, Value::Object(obj)));
            line += 1 + row.iter().map(|v| v.matches('\n').count() as u64).sum::<u64>();
        }
        (text.into_bytes(), expected)
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn csv_reads_back_the_values_written(file in csv_file()) {
        let (bytes, expected) = file.render();
        let items = read_bytes(&bytes, file.format());
        prop_assert_eq!(events(&items)?, expected, "file:\n{}", String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn csv_typing_follows_the_documented_rules() {
    // The oracle itself, on the examples of the crate documentation.
    for (v, want) in [
        ("0080", Some(Value::from(80))),
        ("  7 ", Some(Value::from(7))),
        ("-5", Some(Value::from(-5))),
        ("0.5", Some(serde_json::json!(0.5))),
        ("1e5", Some(serde_json::from_str("1e5").unwrap())),
        ("0x0303", Some(Value::from("0x0303"))),
        ("99999999999999999999", Some(Value::from("99999999999999999999"))),
        (".5", Some(Value::from(".5"))),
        ("1.", Some(Value::from("1."))),
        ("01.5", Some(Value::from("01.5"))),
        ("1e999", Some(Value::from("1e999"))),
        ("1.5e308", Some(Value::from("1.5e308"))),
        ("9.9e307", Some(serde_json::from_str("9.9e307").unwrap())),
        ("", None),
        ("   ", None),
    ] {
        assert_eq!(csv_typed(v), want, "{v:?}");
    }
}

// ---------------------------------------------------------------------------
// (c) Arbitrary bytes, in every format.

const FORMATS: &[Format] = &[
    Format::Auto,
    Format::ZeekTsv,
    Format::Ndjson,
    Format::Csv { delimiter: None },
    Format::Csv { delimiter: Some(b';') },
    Format::Csv { delimiter: Some(b'"') },
    Format::Csv { delimiter: Some(0xe9) },
];

/// Bytes that are sometimes near-valid: generated files with random edits,
/// or plain random bytes.
fn messy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let base = prop_oneof![
        zeek_log().prop_map(|l| l.render().0),
        csv_file().prop_map(|f| f.render().0),
        prop::collection::vec(
            prop::sample::select(b"#{}\"\t,\n\r\\x09 -(empty)aZ0\xef\xbb\xbf\xff\x80".to_vec()),
            0..300
        ),
        prop::collection::vec(any::<u8>(), 0..300),
    ];
    (base, prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6)).prop_map(
        |(mut bytes, edits)| {
            for (at, b, op) in edits {
                if bytes.is_empty() {
                    bytes.push(b);
                    continue;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = b,
                    1 => bytes.insert(i, b),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            bytes
        },
    )
}

/// Whether [`Format::Auto`] reads `bytes` as NDJSON: the first line that
/// is valid UTF-8 and not blank (after a BOM on line 1) starts with `{`.
fn auto_is_ndjson(bytes: &[u8]) -> bool {
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = if n == 0 { line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line) } else { line };
        match std::str::from_utf8(line) {
            Ok(t) if !t.trim().is_empty() => return t.trim_start().starts_with('{'),
            _ => {}
        }
    }
    false
}

fn check_items(bytes: &[u8], format: Format, items: &[Item]) -> Result<(), TestCaseError> {
    let mut last = 0;
    let passthrough = match format {
        Format::Ndjson => true,
        Format::Auto => auto_is_ndjson(bytes),
        _ => false,
    };
    for item in items {
        prop_assert!(item.origin.line > last, "line {} after line {last}", item.origin.line);
        last = item.origin.line;
        match &item.result {
            Ok(text) => {
                prop_assert!(!text.is_empty() && !text.contains('\n'), "{:?}", text);
                if passthrough {
                    prop_assert_eq!(text.trim(), text.as_str());
                } else {
                    let v: Value = serde_json::from_str(text)
                        .map_err(|e| TestCaseError::fail(format!("{format:?}: invalid JSON ({e}): {text}")))?;
                    prop_assert!(v.is_object(), "{format:?}: not an object: {text}");
                }
            }
            Err(e) => {
                prop_assert!(!e.reason.is_empty() && !e.detail.is_empty(), "{:?}", e);
                prop_assert!(e.raw.len() <= 4096, "{}: raw of {} bytes, over the 4 KiB cap", e.reason, e.raw.len());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn arbitrary_bytes_never_break_a_reader(bytes in messy_bytes()) {
        prop_assume!(!bytes.starts_with(&[0x1f, 0x8b]));
        for &format in FORMATS {
            let items = read_bytes(&bytes, format);
            check_items(&bytes, format, &items)?;
            // Items never outnumber the lines (plus one end-of-input error).
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            prop_assert!(items.len() <= lines + 1, "{} items from {lines} lines", items.len());
        }
    }
}

// ---------------------------------------------------------------------------
// (d) Read sizes and (e) gzip do not change what is read.

/// A stream that hands out its bytes in chunks of the given sizes (cycled;
/// each at least 1 byte), as pipes and sockets do.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn chunked(data: &[u8], sizes: &[usize]) -> Box<dyn Read + Send> {
    Box::new(Chunked { data: data.to_vec(), at: 0, sizes: sizes.to_vec(), turn: 0 })
}

fn input_and_format() -> impl Strategy<Value = (Vec<u8>, Format)> {
    prop_oneof![
        zeek_log().prop_map(|l| (l.render().0, Format::ZeekTsv)),
        csv_file().prop_map(|f| {
            let format = f.format();
            (f.render().0, format)
        }),
        (messy_bytes(), prop::sample::select(FORMATS)),
    ]
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn read_sizes_do_not_change_the_items(
        (bytes, format) in input_and_format(),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        let whole = read_bytes(&bytes, format);
        let pieces = read_items(chunked(&bytes, &sizes), format);
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn the_parser_fed_in_pieces_reads_what_the_reader_reads(
        (bytes, format) in input_and_format(),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        // The component feeds its host's bytes to a `Parser` in whatever
        // pieces they come: the same items as the CLI's reader.
        prop_assume!(!bytes.starts_with(&[0x1f, 0x8b]));
        let whole = read_bytes(&bytes, format);
        let mut parser = logsieve_readers::Parser::new("test".into(), format, logsieve_readers::DEFAULT_MAX_LINE);
        let mut items = Vec::new();
        let (mut at, mut turn) = (0, 0);
        while at < bytes.len() {
            let n = sizes[turn % sizes.len()].min(bytes.len() - at);
            parser.feed(&bytes[at..at + n], &mut |i| items.push(i));
            at += n;
            turn += 1;
        }
        parser.finish(&mut |i| items.push(i));
        prop_assert_eq!(items, whole);
    }

    #[test]
    fn gzip_does_not_change_the_items(
        (bytes, format) in input_and_format(),
        split in any::<prop::sample::Index>(),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        // gzip carries a file whose first two bytes are gzip's magic as
        // data, so the comparison is only for inputs that are not gzip.
        prop_assume!(!bytes.starts_with(&[0x1f, 0x8b]));
        let plain = read_bytes(&bytes, format);
        let gz = gzip(&bytes);
        prop_assert_eq!(&read_bytes(&gz, format), &plain, "one member");
        // Two members, split anywhere: read as one stream.
        let at = split.index(bytes.len() + 1);
        let mut two = gzip(&bytes[..at]);
        two.extend(gzip(&bytes[at..]));
        prop_assert_eq!(&read_bytes(&two, format), &plain, "two members split at {}", at);
        // And gzip arriving in small reads.
        prop_assert_eq!(&read_items(chunked(&two, &sizes), format), &plain, "two members in chunks");
    }
}

#[test]
fn a_cut_gzip_stream_yields_what_was_decoded_then_one_error() {
    let mut log = String::from("#fields\ta\n#types\tcount\n");
    for i in 0..3000u64 {
        log.push_str(&format!("{}\n", i * 7919 % 100_003));
    }
    let gz = gzip(log.as_bytes());
    let whole = read_bytes(&gz, Format::ZeekTsv);
    assert_eq!(whole.len(), 3000);
    for cut in [gz.len() / 3, gz.len() / 2, gz.len() - 4] {
        let items = read_bytes(&gz[..cut], Format::ZeekTsv);
        let (last, head) = items.split_last().unwrap();
        assert_eq!(last.result.as_ref().unwrap_err().reason, "truncated_gzip", "cut at {cut}");
        assert!(head.len() <= whole.len());
        assert_eq!(head, &whole[..head.len()], "cut at {cut}: the records before the cut are the same");
    }
}
