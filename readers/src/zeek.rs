//! Zeek ASCII (TSV) log parsing: header directives and typed rows.
//!
//! Hand-written: Zeek's format is not CSV (no quoting; `\xNN` escapes, `-`
//! unset and `(empty)` fields, `#fields`/`#types`/`#separator` directives
//! that may change mid-file), no crate reads it, and the typing here is
//! driven by `#types`. It is on the hot path and already cheap: in the
//! `perf record` profile of `logsieve run` on the 720 gzip'd rita conn
//! logs (docs/performance.md, "End to end: where the time goes",
//! `bench/pipeline_data.sh` and `bench/pipeline.sh`) this reader
//! (`ZeekState::line`, `scalar`, `push_str`, `itoa`) is 11 % of the samples,
//! and the whole pipeline reads, scores and writes 572,775 events/s
//! (BENCHMARKS.md row 7a), against `zcat` alone taking 0.71 s of its 1.85 s.

use crate::json;
use crate::reason;

/// What one input line turned into.
pub(crate) enum Outcome {
    /// A header/metadata line: nothing to report.
    Nothing,
    /// One event's JSON object text.
    Record(String),
    /// An error: reason and detail.
    Error(&'static str, String),
}

/// The scalar part of a Zeek type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    /// `count`: unsigned 64-bit integer.
    Count,
    /// `int`: signed 64-bit integer.
    Int,
    /// `port`: 0..=65535.
    Port,
    /// `time`, `interval`, `double`: JSON float.
    Float,
    /// `bool`: `T`/`F`.
    Bool,
    /// `string`, `addr`, `subnet`, `enum`, `pattern` and unknown types.
    Str,
}

/// A Zeek column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZType {
    Scalar(Scalar),
    /// `set[T]`, `vector[T]` (and legacy `table[T]`): a JSON array.
    Container(Scalar),
}

fn parse_scalar(name: &str) -> Scalar {
    match name {
        "count" => Scalar::Count,
        "int" => Scalar::Int,
        "port" => Scalar::Port,
        "time" | "interval" | "double" => Scalar::Float,
        "bool" => Scalar::Bool,
        // string, addr, subnet, enum, pattern, and anything unknown.
        _ => Scalar::Str,
    }
}

fn parse_type(name: &str) -> ZType {
    for prefix in ["set[", "vector[", "table["] {
        if let Some(inner) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(']')) {
            return ZType::Container(parse_scalar(inner));
        }
    }
    ZType::Scalar(parse_scalar(name))
}

/// Decodes Zeek's `\xHH` escapes in header values (e.g. `#separator \x09`).
/// Returns `None` when the result is not valid UTF-8.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1] == b'x'
            && let (Some(h), Some(l)) = (hex_val(b[i + 2]), hex_val(b[i + 3]))
        {
            out.push(h << 4 | l);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes the escapes Zeek's ASCII writer puts in values: `\\` is a
/// backslash and `\xHH` a byte (used for separators, non-printable and
/// non-ASCII bytes). Decoded bytes that do not form valid UTF-8 are written
/// as the text `\xHH`, as Zeek's JSON writer does; other backslashes are
/// kept literally.
fn unescape_value(v: &str) -> String {
    let b = v.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1) {
                Some(b'\\') => {
                    bytes.push(b'\\');
                    i += 2;
                    continue;
                }
                Some(b'x') if i + 4 <= b.len() => {
                    if let (Some(h), Some(l)) = (hex_val(b[i + 2]), hex_val(b[i + 3])) {
                        bytes.push(h << 4 | l);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        bytes.push(b[i]);
        i += 1;
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &x in chunk.invalid() {
            use std::fmt::Write;
            let _ = write!(out, "\\x{x:02x}");
        }
    }
    out
}

/// Parser state for one Zeek TSV stream: the declarations of the current
/// header block and reusable scratch space.
pub(crate) struct ZeekState {
    sep: String,
    set_sep: String,
    empty: String,
    unset: String,
    names: Vec<String>,
    /// `"name":` for each column, already JSON-escaped.
    keys: Vec<String>,
    type_names: Vec<String>,
    types: Vec<ZType>,
    have_fields: bool,
    /// Why the last `#fields` line was refused (rows wait for a usable one).
    refused_fields: Option<String>,
    ranges: Vec<(usize, usize)>,
    out_hint: usize,
}

impl ZeekState {
    pub(crate) fn new() -> Self {
        ZeekState {
            sep: "\t".into(),
            set_sep: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            names: Vec::new(),
            keys: Vec::new(),
            type_names: Vec::new(),
            types: Vec::new(),
            have_fields: false,
            refused_fields: None,
            ranges: Vec::new(),
            out_hint: 256,
        }
    }

    /// Handles one line (already stripped of `\r\n`, valid UTF-8, not empty).
    pub(crate) fn line(&mut self, line: &str) -> Outcome {
        if line.starts_with('#') { self.header(line) } else { self.row(line) }
    }

    fn header(&mut self, line: &str) -> Outcome {
        if let Some(rest) = line.strip_prefix("#separator") {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            return match unescape(rest) {
                Some(s) if !s.is_empty() => {
                    self.sep = s;
                    Outcome::Nothing
                }
                _ => Outcome::Error(reason::ZEEK_BAD_HEADER, format!("unusable #separator value {rest:?}")),
            };
        }
        let (name, value) = line.split_once(self.sep.as_str()).unwrap_or((line, ""));
        match name {
            "#set_separator" | "#empty_field" | "#unset_field" => {
                let Some(v) = unescape(value).filter(|v| !v.is_empty()) else {
                    return Outcome::Error(reason::ZEEK_BAD_HEADER, format!("unusable {name} value {value:?}"));
                };
                match name {
                    "#set_separator" => self.set_sep = v,
                    "#empty_field" => self.empty = v,
                    _ => self.unset = v,
                }
                Outcome::Nothing
            }
            "#fields" => {
                let names: Vec<&str> = value.split(self.sep.as_str()).collect();
                let mut seen = std::collections::HashSet::with_capacity(names.len());
                if let Some(dup) = names.iter().find(|n| !seen.insert(**n)) {
                    let why = format!("#fields repeats the name '{dup}' (its events would hold the key twice)");
                    self.have_fields = false;
                    self.refused_fields = Some(why.clone());
                    return Outcome::Error(
                        reason::ZEEK_BAD_HEADER,
                        format!("{why}; rows are not read until a usable #fields line"),
                    );
                }
                self.refused_fields = None;
                self.names = names.into_iter().map(str::to_owned).collect();
                self.keys = self.names.iter().map(|n| json::key_prefix(n)).collect();
                self.type_names = vec!["string".into(); self.names.len()];
                self.types = vec![ZType::Scalar(Scalar::Str); self.names.len()];
                self.have_fields = true;
                self.out_hint = 256;
                Outcome::Nothing
            }
            "#types" => {
                let names: Vec<&str> = value.split(self.sep.as_str()).collect();
                if !self.have_fields {
                    return Outcome::Error(reason::ZEEK_BAD_HEADER, "#types before #fields".into());
                }
                if names.len() != self.names.len() {
                    return Outcome::Error(
                        reason::ZEEK_BAD_HEADER,
                        format!(
                            "#types has {} entries but #fields has {}; columns kept as strings",
                            names.len(),
                            self.names.len()
                        ),
                    );
                }
                self.types = names.iter().map(|t| parse_type(t)).collect();
                self.type_names = names.iter().map(|t| (*t).to_owned()).collect();
                Outcome::Nothing
            }
            // #path, #open, #close and any other comment line.
            _ => Outcome::Nothing,
        }
    }

    fn row(&mut self, line: &str) -> Outcome {
        if !self.have_fields {
            return Outcome::Error(
                reason::ZEEK_NO_HEADER,
                match &self.refused_fields {
                    Some(why) => format!("data row after a refused #fields line: {why}"),
                    None => "data row before any #fields header line".into(),
                },
            );
        }
        self.ranges.clear();
        // Whether a value of the row may hold an escape (none: no value is
        // searched for one).
        let escapes = if self.sep.len() == 1 {
            split_fields(line.as_bytes(), self.sep.as_bytes()[0], &mut self.ranges)
        } else {
            let mut start = 0;
            for (i, _) in line.match_indices(self.sep.as_str()) {
                self.ranges.push((start, i));
                start = i + self.sep.len();
            }
            self.ranges.push((start, line.len()));
            true
        };
        if self.ranges.len() != self.names.len() {
            return Outcome::Error(
                reason::ZEEK_COLUMN_COUNT,
                format!("row has {} columns but #fields declares {}", self.ranges.len(), self.names.len()),
            );
        }

        let mut out = String::with_capacity(self.out_hint);
        out.push('{');
        let mut first = true;
        for (i, &(a, b)) in self.ranges.iter().enumerate() {
            let v = &line[a..b];
            if same(v, &self.unset) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&self.keys[i]);
            let ok = match self.types[i] {
                ZType::Scalar(s) => scalar(&mut out, s, v, &self.empty, escapes),
                ZType::Container(s) => {
                    if v == self.empty {
                        out.push_str("[]");
                        true
                    } else {
                        out.push('[');
                        let mut ok = true;
                        for (j, e) in v.split(self.set_sep.as_str()).enumerate() {
                            if j > 0 {
                                out.push(',');
                            }
                            if same(e, &self.unset) {
                                out.push_str("null");
                            } else if !scalar(&mut out, s, e, &self.empty, escapes) {
                                ok = false;
                                break;
                            }
                        }
                        out.push(']');
                        ok
                    }
                }
            };
            if !ok {
                return Outcome::Error(
                    reason::ZEEK_BAD_VALUE,
                    format!("field `{}` ({}): value {:?} does not parse", self.names[i], self.type_names[i], v),
                );
            }
        }
        out.push('}');
        if out.len() > self.out_hint {
            self.out_hint = out.len() + 32;
        }
        Outcome::Record(out)
    }
}

/// The fields of a row split on the byte `sep`: their ranges pushed to
/// `ranges` (the last one ends at the row's end); whether the row holds a
/// backslash (an escape) anywhere.
///
/// Eight bytes at a time, every separator of a word found from one mask
/// (instead of a `memchr` call per field: the 21 fields of a conn row are
/// about 6 bytes long on average). With [`same`], reading the 720 gzip'd
/// conn files of bench/pipeline_data.sh (`readers/examples/throughput.rs`)
/// went from 0.78–0.80 s to 0.68–0.73 s.
fn split_fields(row: &[u8], sep: u8, ranges: &mut Vec<(usize, usize)>) -> bool {
    use crate::words::equal;
    let mut start = 0;
    let mut backslashes = 0u64;
    let mut i = 0;
    while let Some(word) = row.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        backslashes |= equal(w, b'\\');
        let mut m = equal(w, sep);
        while m != 0 {
            let at = i + (m.trailing_zeros() / 8) as usize;
            ranges.push((start, at));
            start = at + 1;
            m &= m - 1;
        }
        i += 8;
    }
    let mut escapes = backslashes != 0;
    for (at, &c) in row.iter().enumerate().skip(i) {
        if c == sep {
            ranges.push((start, at));
            start = at + 1;
        }
        escapes |= c == b'\\';
    }
    ranges.push((start, row.len()));
    escapes
}

/// `v` is the marker `m` (`-`, `(empty)`): compared in line, these being
/// a few bytes (a `memcmp` call per field cost 4 % of reading conn logs).
#[inline(always)]
fn same(v: &str, m: &str) -> bool {
    let (v, m) = (v.as_bytes(), m.as_bytes());
    if v.len() != m.len() {
        return false;
    }
    for k in 0..v.len() {
        if v[k] != m[k] {
            return false;
        }
    }
    true
}

/// Writes one scalar value; `false` if it does not parse as its type.
fn scalar(out: &mut String, ty: Scalar, v: &str, empty: &str, escapes: bool) -> bool {
    match ty {
        Scalar::Str => {
            if same(v, empty) {
                out.push_str("\"\"");
            } else if escapes && v.contains('\\') {
                json::push_str(out, &unescape_value(v));
            } else {
                json::push_str(out, v);
            }
            true
        }
        Scalar::Count => {
            if !json::is_digits(v) {
                return false;
            }
            if v.len() < 20 && (v.len() == 1 || !v.starts_with('0')) {
                out.push_str(v);
                return true;
            }
            v.parse::<u64>().map(|n| json::push_int(out, n)).is_ok()
        }
        Scalar::Port => {
            if !json::is_digits(v) {
                return false;
            }
            // Canonical digits up to 65535 are the number's own text.
            if (v.len() == 1 || !v.starts_with('0')) && (v.len() < 5 || (v.len() == 5 && v <= "65535")) {
                out.push_str(v);
                return true;
            }
            v.parse::<u16>().map(|n| json::push_int(out, n)).is_ok()
        }
        Scalar::Int => {
            let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
            json::is_digits(digits) && v.parse::<i64>().map(|n| json::push_int(out, n)).is_ok()
        }
        Scalar::Float => {
            if let Some(shape) = json::number_shape(v) {
                // `1e999` is JSON syntax, but no JSON reader holds it.
                if !shape.in_range(v) {
                    return false;
                }
                out.push_str(v);
                if !shape.fraction && !shape.exponent {
                    out.push_str(".0");
                }
                return true;
            }
            // Not JSON syntax (".5", "1.", "+2"): accept plain decimal
            // forms only (no inf/nan words), re-emitted via f64.
            if !v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'.' | b'-' | b'+' | b'e' | b'E')) {
                return false;
            }
            match v.parse::<f64>() {
                Ok(f) if json::f64_in_range(f) => {
                    use std::fmt::Write;
                    let _ = write!(out, "{f:?}");
                    true
                }
                _ => false,
            }
        }
        Scalar::Bool => {
            let word = match v {
                "T" => "true",
                "F" => "false",
                _ => return false,
            };
            out.push_str(word);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `split_fields` against a plain byte-by-byte split, on rows with the
    /// separator and backslashes at every offset of a word (and other
    /// separators, and bytes ≥ 0x80 next to them).
    #[test]
    fn split_fields_finds_what_a_plain_split_finds() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let alphabet = [b'\t', b'\\', b'a', b'-', b',', 0x80, 0xff, 0x09 ^ 0x80, b'\x08', b'\n'];
        for len in 0..40 {
            for _ in 0..200 {
                let row: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect();
                for sep in [b'\t', b',', 0xff] {
                    let mut ranges = Vec::new();
                    let escapes = split_fields(&row, sep, &mut ranges);
                    let (mut want, mut start) = (Vec::new(), 0);
                    for (i, &c) in row.iter().enumerate() {
                        if c == sep {
                            want.push((start, i));
                            start = i + 1;
                        }
                    }
                    want.push((start, row.len()));
                    assert_eq!(ranges, want, "{row:?} split on {sep:#x}");
                    assert_eq!(escapes, row.contains(&b'\\'), "{row:?}");
                }
            }
        }
    }

    const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\ttest\n#open\t2024-01-01-00-00-00";

    fn state_with(fields: &str, types: &str) -> ZeekState {
        let mut z = ZeekState::new();
        for l in HEADER.lines() {
            assert!(matches!(z.line(l), Outcome::Nothing));
        }
        assert!(matches!(z.line(&format!("#fields\t{fields}")), Outcome::Nothing));
        assert!(matches!(z.line(&format!("#types\t{types}")), Outcome::Nothing));
        z
    }

    fn rec(z: &mut ZeekState, row: &str) -> String {
        match z.line(row) {
            Outcome::Record(s) => s,
            Outcome::Error(r, d) => panic!("unexpected error {r}: {d}"),
            Outcome::Nothing => panic!("row treated as header"),
        }
    }

    fn err(z: &mut ZeekState, row: &str) -> (&'static str, String) {
        match z.line(row) {
            Outcome::Error(r, d) => (r, d),
            Outcome::Record(s) => panic!("expected an error, got {s}"),
            Outcome::Nothing => panic!("row treated as header"),
        }
    }

    #[test]
    fn every_scalar_type() {
        let mut z = state_with(
            "ts\tdur\td\tc\ti\tp\tb\ts\ta\tn\te\tpat\tx",
            "time\tinterval\tdouble\tcount\tint\tport\tbool\tstring\taddr\tsubnet\tenum\tpattern\tfancy_new_type",
        );
        let s = rec(
            &mut z,
            "1713484800.123456\t0.5\t-1.5e3\t42\t-7\t443\tT\ta \"q\"\\\t10.0.0.1\t10.0.0.0/8\ttcp\t/^a.*$/\twhatever",
        );
        assert_eq!(
            s,
            r#"{"ts":1713484800.123456,"dur":0.5,"d":-1.5e3,"c":42,"i":-7,"p":443,"b":true,"s":"a \"q\"\\","a":"10.0.0.1","n":"10.0.0.0/8","e":"tcp","pat":"/^a.*$/","x":"whatever"}"#
        );
        let s = rec(&mut z, "1713484800\t.5\t1.\t007\t+3\t0\tF\t(empty)\t-\t-\t-\t-\t-");
        assert_eq!(s, r#"{"ts":1713484800.0,"dur":0.5,"d":1.0,"c":7,"i":3,"p":0,"b":false,"s":""}"#);
        assert_eq!(
            rec(
                &mut z,
                "18446744073709551615\t-\t-\t18446744073709551615\t-9223372036854775808\t65535\t-\t-\t-\t-\t-\t-\t-"
            ),
            r#"{"ts":18446744073709551615.0,"c":18446744073709551615,"i":-9223372036854775808,"p":65535}"#
        );
    }

    #[test]
    fn doubles_out_of_json_range_are_bad_values() {
        // Found by the property tests (tests/properties.rs): `1e999`
        // was copied verbatim and made an event no JSON reader takes.
        let mut z = state_with("t\tv", "time\tvector[double]");
        for row in
            ["1e999\t-", "-1E400\t-", "1e308\t-", "+1e999\t-", "1\t1,2e400", &format!("{}.5\t-", "9".repeat(309))]
        {
            let (r, d) = err(&mut z, row);
            assert_eq!(r, reason::ZEEK_BAD_VALUE, "{row}");
            assert!(d.contains("does not parse"), "{d}");
        }
        assert_eq!(rec(&mut z, "9.9e307\t1e-999"), r#"{"t":9.9e307,"v":[1e-999]}"#);
        assert_eq!(rec(&mut z, "+9.9e307\t-"), r#"{"t":9.9e307}"#);
    }

    #[test]
    fn containers_empty_and_unset() {
        let mut z =
            state_with("a\tb\tc\td\te", "set[string]\tvector[count]\tvector[interval]\tset[enum]\ttable[string]");
        assert_eq!(
            rec(&mut z, "x,y\"\t1,2,3\t0.5,1\t(empty)\t-"),
            r#"{"a":["x","y\""],"b":[1,2,3],"c":[0.5,1.0],"d":[]}"#
        );
        assert_eq!(rec(&mut z, "-\t-\t-\t-\t-"), "{}");
        assert_eq!(rec(&mut z, "(empty)\t5,-\t-\tA\tq"), r#"{"a":[],"b":[5,null],"d":["A"],"e":["q"]}"#);
        let (r, d) = err(&mut z, "a\t1,x\t-\t-\t-");
        assert_eq!(r, reason::ZEEK_BAD_VALUE);
        assert!(d.contains("`b`") && d.contains("vector[count]"), "{d}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut z = state_with("c\ti\tp\tt\tb", "count\tint\tport\ttime\tbool");
        for (row, field) in [
            ("abc\t1\t1\t1\tT", "`c`"),
            ("-1\t1\t1\t1\tT", "`c`"),
            ("1\t1.5\t1\t1\tT", "`i`"),
            ("1\t1\t70000\t1\tT", "`p`"),
            ("1\t1\t65536\t1\tT", "`p`"),
            ("1\t1\t100000\t1\tT", "`p`"),
            ("1\t1\t-1\t1\tT", "`p`"),
            ("1\t1\t1\tinf\tT", "`t`"),
            ("1\t1\t1\tnan\tT", "`t`"),
            ("1\t1\t1\t1\ttrue", "`b`"),
            ("1\t1\t1\t(empty)\tT", "`t`"),
            ("99999999999999999999\t1\t1\t1\tT", "`c`"),
        ] {
            let (r, d) = err(&mut z, row);
            assert_eq!(r, reason::ZEEK_BAD_VALUE, "{row}");
            assert!(d.contains(field), "{row}: {d}");
        }
    }

    #[test]
    fn ports_are_canonical_numbers() {
        let mut z = state_with("p", "port");
        for (v, want) in
            [("0", "0"), ("80", "80"), ("080", "80"), ("00000", "0"), ("65535", "65535"), ("065535", "65535")]
        {
            assert_eq!(rec(&mut z, v), format!(r#"{{"p":{want}}}"#), "{v}");
        }
    }

    #[test]
    fn column_count_and_schema_reset() {
        let mut z = state_with("a\tb", "count\tstring");
        assert_eq!(err(&mut z, "1\tx\ty").0, reason::ZEEK_COLUMN_COUNT);
        assert_eq!(err(&mut z, "1").0, reason::ZEEK_COLUMN_COUNT);
        assert_eq!(rec(&mut z, "1\tx"), r#"{"a":1,"b":"x"}"#);
        assert!(matches!(z.line("#close\t2024"), Outcome::Nothing));
        // A new header block with another separator and schema.
        assert!(matches!(z.line("#separator \\x7c"), Outcome::Nothing));
        assert!(matches!(z.line("#set_separator|;"), Outcome::Nothing));
        assert!(matches!(z.line("#unset_field|NONE"), Outcome::Nothing));
        assert!(matches!(z.line("#fields|x|y|z"), Outcome::Nothing));
        assert!(matches!(z.line("#types|bool|set[port]|string"), Outcome::Nothing));
        assert_eq!(rec(&mut z, "T|1;2|NONE"), r#"{"x":true,"y":[1,2]}"#);
        assert_eq!(err(&mut z, "1\tx").0, reason::ZEEK_COLUMN_COUNT);
    }

    #[test]
    fn fields_without_types_are_strings_and_rows_need_fields() {
        let mut z = ZeekState::new();
        assert_eq!(err(&mut z, "1\t2").0, reason::ZEEK_NO_HEADER);
        assert!(matches!(z.line("#fields\ta\tb"), Outcome::Nothing));
        assert_eq!(rec(&mut z, "1\t2"), r#"{"a":"1","b":"2"}"#);
        assert!(matches!(z.line("#types\tcount"), Outcome::Error(reason::ZEEK_BAD_HEADER, _)));
    }

    #[test]
    fn a_fields_header_repeating_a_name_is_refused() {
        // Issue #19, item 12: `#fields\tid\tn\tn` made events with the key
        // `n` twice (which value counts depends on the reader after it).
        let mut z = ZeekState::new();
        match z.line("#fields\tid\tn\tn") {
            Outcome::Error(r, d) => {
                assert_eq!(r, reason::ZEEK_BAD_HEADER);
                assert!(d.contains("'n'"), "{d}");
            }
            _ => panic!("the header was taken"),
        }
        let (r, d) = err(&mut z, "a\t1\t2");
        assert_eq!(r, reason::ZEEK_NO_HEADER);
        assert!(d.contains("repeats"), "{d}");
        // A usable header after it is taken.
        assert!(matches!(z.line("#fields\tid\tn"), Outcome::Nothing));
        assert_eq!(rec(&mut z, "a\t1"), r#"{"id":"a","n":"1"}"#);
    }

    #[test]
    fn value_escapes_are_decoded() {
        assert_eq!(unescape_value(r"\\\\10.47.21.25\\ADMIN$"), r"\\10.47.21.25\ADMIN$");
        assert_eq!(unescape_value(r"a\x09b\xc3\xa9"), "a\tbé");
        assert_eq!(unescape_value(r"\x16\xe8\x9bZ\xff"), "\u{16}\\xe8\\x9bZ\\xff");
        assert_eq!(unescape_value(r"odd\ \xZZ \x4"), r"odd\ \xZZ \x4");
        let mut z = state_with("s\tset", "string\tset[string]");
        assert_eq!(
            rec(&mut z, concat!(r"GET /\xc0\x09x\\", "\t", r"a\x2cb,\x2d,c")),
            r#"{"s":"GET /\\xc0\tx\\","set":["a,b","-","c"]}"#
        );
        // An escaped "-" is a value, not the unset marker.
        assert_eq!(rec(&mut z, concat!(r"\x2d", "\t", "-")), r#"{"s":"-"}"#);
    }

    #[test]
    fn unescape_header_values() {
        assert_eq!(unescape("\\x09").as_deref(), Some("\t"));
        assert_eq!(unescape("a\\x2cb\\x").as_deref(), Some("a,b\\x"));
        assert_eq!(unescape("\\xff"), None);
    }
}
