//! The fast path of [`crate::event::scan`]: one byte-level pass over an
//! event's JSON text that checks the grammar (RFC 8259) of all of it and
//! keeps only the top-level fields the spec wants.
//!
//! It handles what real log events hold and gives up (returns `None`) on
//! anything else: a syntax error, a `\u` escape, an escape in a key or a
//! wanted string, a number out of `f64`'s range, the `logsieve` key, nesting
//! deeper than [`MAX_DEPTH`]. The caller then runs serde_json over the event,
//! which gives the same result or the exact error. So an event this path
//! accepts is one serde_json accepts too, with the same values: the
//! `scan_equivalence` fuzz target and the tests below hold it to that.
//!
//! Why: serde_json's `IgnoredAny` parses every skipped number and visits
//! every key through a trait object; here a skipped value is only walked
//! over, and keys are matched by length and first byte before bytes are
//! compared. It is what makes the component fast (see bench/scoring.rs).

use std::borrow::Cow;

use crate::event::{FieldTable, OUTPUT_KEY, Scalar, Shape};

/// Nesting this deep (arrays and objects inside a value) is left to
/// serde_json, whose limit is 128.
pub const MAX_DEPTH: usize = 64;

/// Scan `text` into `slots` (already cleared and sized); `None` when the
/// slow path must decide. On `None` the slots may hold partial results.
pub fn scan_fast<'a>(text: &'a str, table: &FieldTable, slots: &mut [Option<Scalar<'a>>]) -> Option<Shape> {
    let b = text.as_bytes();
    let mut p = Parser { s: text, b, i: 0 };
    p.ws();
    if p.peek()? != b'{' {
        return None;
    }
    p.i += 1;
    p.ws();
    let mut keys = 0usize;
    if p.peek()? == b'}' {
        p.i += 1;
    } else {
        loop {
            if p.peek()? != b'"' {
                return None;
            }
            let key = p.key()?;
            p.ws();
            if p.peek()? != b':' {
                return None;
            }
            p.i += 1;
            p.ws();
            keys += 1;
            match table.slot_fast(key) {
                Some(slot) => slots[slot] = Some(p.scalar()?),
                None if key == OUTPUT_KEY => return None,
                None => p.skip_value(0)?,
            }
            p.ws();
            match p.peek()? {
                b',' => {
                    p.i += 1;
                    p.ws();
                }
                b'}' => {
                    p.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    let close = p.i - 1;
    p.ws();
    if p.i != b.len() {
        return None;
    }
    Some(Shape { keys, close })
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// JSON whitespace: space, tab, line feed, carriage return.
    #[inline]
    fn ws(&mut self) {
        // Log writers rarely put whitespace between tokens: one look first.
        if self.b.get(self.i).is_none_or(|&c| c > b' ') {
            return;
        }
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    /// The bytes of a string without escapes, the opening quote at `i`; on
    /// return `i` is past the closing quote. `None` on an escape or a
    /// control character (the slow path decodes or refuses them).
    /// Quotes are ASCII, so the slice between two is whole characters.
    #[inline]
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.i + 1;
        let end = plain_run(self.b, start);
        if *self.b.get(end)? != b'"' {
            return None;
        }
        self.i = end + 1;
        self.s.get(start..end)
    }

    fn key(&mut self) -> Option<&'a str> {
        self.plain_string()
    }

    /// A string to skip: simple escapes are walked over; `\u` escapes and
    /// control characters go to the slow path.
    fn skip_string(&mut self) -> Option<()> {
        let mut j = self.i + 1;
        loop {
            j = plain_run(self.b, j);
            match *self.b.get(j)? {
                b'"' => {
                    self.i = j + 1;
                    return Some(());
                }
                b'\\' => match *self.b.get(j + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                    _ => return None,
                },
                _ => return None, // a control character
            }
        }
    }

    /// A number's text, checked against the grammar
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; `plain` is true for
    /// an integer (no fraction, no exponent).
    fn number(&mut self) -> Option<(&'a str, bool)> {
        let b = self.b;
        let start = self.i;
        let mut j = start;
        if b.get(j) == Some(&b'-') {
            j += 1;
        }
        match *b.get(j)? {
            b'0' => j += 1,
            b'1'..=b'9' => j = digit_run(b, j + 1),
            _ => return None,
        }
        let mut plain = true;
        if b.get(j) == Some(&b'.') {
            plain = false;
            j += 1;
            if !b.get(j).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            j = digit_run(b, j + 1);
        }
        if matches!(b.get(j), Some(b'e' | b'E')) {
            plain = false;
            j += 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if !b.get(j).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
        }
        // A number runs into its delimiter; anything else after it (`1x`,
        // `01`) is a syntax error for the slow path to name.
        if b.get(j).is_some_and(|&c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
            return None;
        }
        self.i = j;
        // ASCII only between `start` and `j`.
        Some((self.s.get(start..j)?, plain))
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// A wanted value, as the slow path's `ScalarSeed` reads it.
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        Some(match self.peek()? {
            b'"' => {
                Scalar::Str(Cow::Borrowed(self.plain_string()?))
            }
            b't' => {
                self.literal(b"true")?;
                Scalar::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Scalar::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Scalar::Null
            }
            b'[' => {
                self.skip_value(0)?;
                Scalar::Composite("an array")
            }
            b'{' => {
                self.skip_value(0)?;
                Scalar::Composite("an object")
            }
            _ => {
                let (text, plain) = self.number()?;
                Scalar::Number(number_value(text, plain)?)
            }
        })
    }

    /// Walk over one value, checking its grammar.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    self.skip_string()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => self.number().map(|_| ()),
        }
    }
}

/// Where the plain string content that starts at `from` ends: the first
/// quote, backslash or control character at or after `from` (or the end).
/// Eight bytes at a time, reading past the string itself while the text
/// lasts (a short key ends inside one word; the text goes on after it).
#[inline]
fn plain_run(s: &[u8], from: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(word) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap());
        // A byte is special when it is < 0x20, == '"' or == '\\'. Bytes
        // >= 0x80 (UTF-8) never are: the checks below are masked with !w.
        // Borrows only carry upwards from a special byte, so the lowest
        // flagged byte is the first special one.
        let quote = w ^ (LO * u64::from(b'"'));
        let slash = w ^ (LO * u64::from(b'\\'));
        let zero_q = quote.wrapping_sub(LO) & !quote;
        let zero_s = slash.wrapping_sub(LO) & !slash;
        let ctrl = w.wrapping_sub(LO * 0x20);
        let special = (zero_q | zero_s | ctrl) & !w & HI;
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && !is_special(s[i]) {
        i += 1;
    }
    i
}

/// Where the run of ASCII digits that starts at `from` ends. Eight bytes at
/// a time while the text lasts.
#[inline]
fn digit_run(s: &[u8], from: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(word) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap());
        // Per byte x < 0x80 (no carries: x + 0x50 < 0x100): the high bit of
        // x + 0x46 is set iff x >= 0x3a, of x + 0x50 iff x >= 0x30. Bytes
        // >= 0x80 are non-digits by their own high bit.
        let m = w & !HI;
        let ge_3a = m.wrapping_add(LO * 0x46) & HI;
        let ge_30 = m.wrapping_add(LO * 0x50) & HI;
        let non_digit = (w & HI) | ge_3a | (!ge_30 & HI);
        if non_digit != 0 {
            return i + (non_digit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while s.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[inline]
fn is_special(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// A number's value as serde_json gives it (with `float_roundtrip`: the
/// correctly rounded `f64`). Integers up to 19 digits are exact as `u64`
/// and rounded once to `f64`, as serde_json's `u64`/`i64` visit does
/// (`-0` is -0.0); `None` beyond `f64`'s range.
#[inline]
fn number_value(text: &str, plain: bool) -> Option<f64> {
    if plain {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        if digits.len() <= 18 {
            let mut n: u64 = 0;
            for c in digits.bytes() {
                n = n * 10 + u64::from(c - b'0');
            }
            // serde_json reads a positive integer as a u64 and a negative
            // one as an i64 (18 digits always fit; rounding is symmetric),
            // except `-0`, which it makes the float -0.0.
            return Some(if neg { -(n as f64) } else { n as f64 });
        }
    }
    let x: f64 = text.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::scan_serde;

    fn table(names: &[&str]) -> FieldTable {
        FieldTable::new(names.iter().map(|s| s.to_string()).collect())
    }

    /// The fast path's verdict on `text`, checked against serde_json's: if
    /// it accepts, serde_json accepts with the same slots and shape.
    fn fast(names: &[&str], text: &str) -> bool {
        let t = table(names);
        let mut fast_slots = vec![None; t.len()];
        let got = scan_fast(text, &t, &mut fast_slots);
        let mut slow_slots = Vec::new();
        let slow = scan_serde(text, &t, &mut slow_slots);
        match got {
            Some(shape) => {
                let s = slow.unwrap_or_else(|e| panic!("fast accepted what serde_json refuses ({e}): {text:?}"));
                assert_eq!((shape.keys, shape.close), (s.keys, s.close), "{text:?}");
                for (a, b) in fast_slots.iter().zip(&slow_slots) {
                    match (a, b) {
                        (Some(Scalar::Number(x)), Some(Scalar::Number(y))) => {
                            assert_eq!(x.to_bits(), y.to_bits(), "{text:?}: {x} vs {y}")
                        }
                        _ => assert_eq!(a, b, "{text:?}"),
                    }
                }
                true
            }
            None => false,
        }
    }

    #[test]
    fn real_events_take_the_fast_path_with_serde_json_s_values() {
        let names = ["ts", "duration", "orig_bytes", "proto", "id.orig_h", "local", "missing", "nested", "list"];
        for text in [
            r#"{"ts":1713484800.123456,"uid":"CxT1","id.orig_h":"10.0.0.1","id.orig_p":52000,"proto":"tcp","duration":0.5,"orig_bytes":0,"local":true,"tunnel_parents":[],"nested":{"a":[1,2,{"b":null}]},"list":[1.5e3,-2,"x"]}"#,
            "  {\"ts\" : -0 , \"duration\":-0.0,\"orig_bytes\":18446744073709551615}\r\n",
            r#"{"ts":123456789012345678,"duration":1234567890123456789012,"orig_bytes":1e-400}"#,
            r#"{"proto":"h\u00e9llo é ünïcode","s":"esc \" \\ \/ \b \f \n \r \t ok"}"#,
            r#"{"ts":5e-324,"duration":1.7976931348623157e308,"orig_bytes":-9007199254740993}"#,
            r#"{}"#,
            r#"{"a":1,"a":2,"ts":1,"ts":2}"#,
        ] {
            let _ = fast(&names, text);
        }
        // These must take it (not fall back).
        for text in [
            r#"{"ts":1713484800.123456,"uid":"CxT1","proto":"tcp","list":[{"x":[true,false,null]}]}"#,
            r#"{"ts":-0,"duration":-0.0,"orig_bytes":18446744073709551615}"#,
            r#"{"s":"esc \" \\ \/ \b \f \n \r \t ok","ts":12345678901234567890123}"#,
            "\t{ }\n",
            // A skipped number beyond f64 is only checked for syntax (as
            // serde_json's IgnoredAny does) and kept verbatim.
            r#"{"x":1e400,"ts":1}"#,
        ] {
            assert!(fast(&names, text), "fell back on {text:?}");
        }
    }

    #[test]
    fn everything_unusual_falls_back() {
        let names = ["ts", "s"];
        for text in [
            "",
            "[1]",
            "{",
            r#"{"ts":1"#,
            r#"{"ts":1,}"#,
            r#"{"ts":01}"#,
            r#"{"ts":1.}"#,
            r#"{"ts":.5}"#,
            r#"{"ts":1e}"#,
            r#"{"ts":+1}"#,
            r#"{"ts":1x}"#,
            r#"{"ts":NaN}"#,
            r#"{"ts":1e400}"#,
            r#"{"ts":-1e400}"#,
            r#"{"s":"a\u0041"}"#,
            r#"{"s":"a\nb"}"#,
            "{\"s\":\"a\u{1}b\"}",
            r#"{"x":"\q"}"#,
            r#"{"k\"ey":1}"#,
            r#"{"logsieve":{}}"#,
            r#"{"ts":1} x"#,
            r#"{"ts":1}{"ts":2}"#,
            r#"{"ts":tru}"#,
            r#"{"x":[1,]}"#,
            r#"{"x":{"a"}}"#,
            r#"{'ts':1}"#,
            "\u{feff}{\"ts\":1}",
            "{\"ts\":1}\u{a0}",
        ] {
            assert!(!fast(&names, text), "took the fast path on {text:?}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!fast(&names, &deep));
        let ok = format!("{{\"x\":{}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(fast(&names, &ok));
    }

    #[test]
    fn digit_run_stops_at_every_non_digit() {
        for c in 0..=255u8 {
            for at in 0..17 {
                for tail in [0, 3, 9] {
                    let mut s = vec![b'7'; 17 + tail];
                    s[at] = c;
                    let want = if c.is_ascii_digit() { s.len() } else { at };
                    assert_eq!(digit_run(&s, 0), want, "byte {c:#x} at {at} tail {tail}");
                    if at >= 2 {
                        assert_eq!(digit_run(&s, 2), want.max(2), "from 2: byte {c:#x} at {at}");
                    }
                }
            }
        }
        assert_eq!(digit_run(b"", 0), 0);
        assert_eq!(digit_run(b"12", 2), 2);
    }

    #[test]
    fn plain_run_stops_at_every_special_byte() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
                    for from in [0, 1, 3] {
                        let mut s = vec![b'a'; len];
                        s.extend_from_slice("é€😀".as_bytes());
                        if at < len {
                            s[at] = special;
                            let want = if at >= from { at } else { plain_run(&s, at + 1).max(at + 1) };
                            if at >= from {
                                assert_eq!(plain_run(&s, from), want, "len {len} at {at} from {from} byte {special:#x}");
                            }
                        } else {
                            assert_eq!(plain_run(&s, from.min(s.len())), s.len());
                        }
                    }
                }
            }
        }
        // Every byte value on its own, at every position of a word, and
        // with text after the string.
        for c in 0..=255u8 {
            for at in 0..9 {
                for tail in [0, 5, 12] {
                    let mut s = vec![b'x'; 9 + tail];
                    s[at] = c;
                    let want = if is_special(c) { at } else { s.len() };
                    assert_eq!(plain_run(&s, 0), want, "byte {c:#x} at {at} tail {tail}");
                }
            }
        }
    }
}
