//! The fast path of [`super::scan`]: one byte-level pass over an
//! event's JSON text that checks the grammar (RFC 8259) of all of it and
//! keeps only the top-level fields the spec wants.
//!
//! It handles what real log events hold and gives up (returns `None`) on
//! anything else: a syntax error, a `\u` escape, an escape in a key or a
//! wanted string, a number out of `f64`'s range, the `logsieve` key, nesting
//! deeper than [`MAX_DEPTH`], a line feed inside the object. The caller then
//! runs serde_json over the event, which gives the same result or the exact
//! error. So an event this path accepts is one serde_json accepts too, with
//! the same values: the `scan_equivalence` fuzz target and the tests below
//! hold it to that.
//!
//! [`scan_line`] reads one event of an NDJSON batch where it starts and
//! tells where its line ends, so a batch is split into lines and scanned in
//! the same pass (a line feed cannot occur inside a JSON string, and the
//! fast path takes it for the end of the line everywhere else).
//!
//! Why it is fast: a skipped value is only walked over, never converted;
//! strings and digit runs are crossed 16 bytes at a time (SSE2 natively,
//! `simd128` in the component, 8-byte words elsewhere); keys are compared
//! as two little-endian words against the wanted ones of the same length;
//! wanted numbers are converted while they are read (exactly as serde_json
//! does, see [`number_value`]). It is what makes the component fast (see
//! bench/scoring.rs).

use std::borrow::Cow;

use super::Shape;
use super::bytes;
use super::keys::{FieldTable, HIT_NOT_SLOT, HIT_OTHER, KeyCache, NO_KEY, START, hit_code};
use crate::event::Scalar;

/// Nesting this deep (arrays and objects inside a value) is left to
/// serde_json, whose limit is 128.
pub const MAX_DEPTH: usize = 64;

/// Scan `text`, one event, into `slots` (already cleared and sized); `None`
/// when the slow path must decide. On `None` the slots may hold partial
/// results. Whitespace (line feeds too) may follow the object.
pub fn scan_fast<'a>(
    text: &'a str,
    table: &FieldTable,
    cache: &mut KeyCache,
    slots: &mut [Option<Scalar<'a>>],
) -> Option<Shape> {
    let (shape, end) = scan_line(text, 0, table, cache, slots)?;
    // The fast path stops at a line feed; only whitespace may follow it.
    if text.as_bytes()[end..].iter().all(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) { Some(shape) } else { None }
}

/// Scan the event of an NDJSON batch that starts at byte `start` of `text`:
/// `Some((shape, end))` when its line (up to the `\n` at `end`, or the end
/// of the text) is one object the fast path reads; `shape.close` counts
/// from `start`. `None` when the slow path must decide (the caller finds
/// the line's end itself).
///
/// The position is passed around by value (never through a `&mut`
/// parser), so it stays in a register, in wasm too.
#[inline]
pub fn scan_line<'a>(
    text: &'a str,
    start: usize,
    table: &FieldTable,
    cache: &mut KeyCache,
    slots: &mut [Option<Scalar<'a>>],
) -> Option<(Shape, usize)> {
    let b = text.as_bytes();
    let mut i = ws(b, start);
    if *b.get(i)? != b'{' {
        return None;
    }
    i = ws(b, i + 1);
    let mut keys = 0usize;
    // The index in `cache` of the key just read.
    let mut prev = START;
    if *b.get(i)? == b'}' {
        i += 1;
    } else {
        loop {
            if *b.get(i)? != b'"' {
                return None;
            }
            let hit;
            (hit, i, prev) = match cache.predict(b, i, prev) {
                Some(index) => {
                    let (len, hit) = cache.get(index);
                    (hit, i + len, index)
                }
                None => read_key(b, i, table, cache, prev)?,
            };
            i = ws(b, i);
            keys += 1;
            // Most keys are not wanted: that test first. Two tests of
            // different values: LLVM makes a `match`, or tests of one value
            // against constants, a jump table (`br_table`), which costs the
            // component an indirect jump.
            i = if hit == HIT_OTHER {
                skip_flat(b, i)?
            } else if hit & HIT_NOT_SLOT == 0 {
                let slot = usize::from(hit);
                if slots[slot].is_some() {
                    return None; // given twice: the slow path says so
                }
                let (value, end) = scalar(text, i)?;
                slots[slot] = Some(value);
                end
            } else {
                return None; // the output key
            };
            let mut c = *b.get(i)?;
            if c <= b' ' {
                i = ws(b, i);
                c = *b.get(i)?;
            }
            match c {
                b',' => i = ws(b, i + 1),
                b'}' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    let close = i - 1 - start;
    i = ws(b, i);
    match b.get(i) {
        None | Some(b'\n') => Some((Shape { keys, close }, i)),
        Some(_) => None,
    }
}

/// A key the cache did not predict, its opening quote at `at`: read it,
/// look it up, learn it. Returns what it is (a [`hit_code`]), where its
/// value starts (after the colon) and its index in the cache.
#[inline(never)]
fn read_key(b: &[u8], at: usize, table: &FieldTable, cache: &mut KeyCache, prev: u8) -> Option<(u16, usize, u8)> {
    let key = at + 1;
    let end = special_run(b, key);
    // An escape or a control character in a key: the slow path.
    if *b.get(end)? != b'"' {
        return None;
    }
    let colon = ws(b, end + 1);
    if *b.get(colon)? != b':' {
        return None;
    }
    let hit = table.lookup(b, key, end - key);
    // Only `"key":` written without whitespace is learnt.
    let index = if colon == end + 1 { cache.learn(b, at, colon + 1 - at, hit, prev) } else { NO_KEY };
    Some((hit_code(hit)?, colon + 1, index))
}

/// JSON whitespace from `i` on, but the line feed (it ends an NDJSON
/// line): space, tab, carriage return. Returns where it ends.
#[inline(always)]
fn ws(b: &[u8], i: usize) -> usize {
    // Log writers rarely put whitespace between tokens: one look first,
    // the loop out of line (the scan loop stays small for Cranelift).
    if b.get(i).is_none_or(|&c| c > b' ' || c == b'\n') {
        return i;
    }
    ws_from(b, i)
}

#[cold]
#[inline(never)]
fn ws_from(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// A string to skip, its opening quote at `i`: where it ends (past the
/// closing quote). Simple escapes are walked over; `\u` escapes and
/// control characters go to the slow path.
#[inline(always)]
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    // Most strings hold no escape: the first special byte closes them.
    // That case has no loop (in the component a loop costs an interruption
    // check, and the constants a loop keeps across the call in
    // `special_run` go to the stack).
    let j = special_run(b, i + 1);
    if *b.get(j)? == b'"' {
        return Some(j + 1);
    }
    skip_escaped(b, j)
}

/// [`skip_string`] from its first escape (or control character) at `j`.
#[inline(never)]
fn skip_escaped(b: &[u8], mut j: usize) -> Option<usize> {
    loop {
        match *b.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => match *b.get(j + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j = special_run(b, j + 2),
                _ => return None,
            },
            _ => return None, // a control character
        }
    }
}

/// A string without escapes, its opening quote at `i`: its text and where
/// it ends. `None` on an escape or a control character (the slow path
/// decodes or refuses them). Quotes are ASCII, so the text between two is
/// whole characters.
#[inline(always)]
fn plain_string(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    let end = special_run(b, i + 1);
    if *b.get(end)? != b'"' {
        return None;
    }
    Some((text.get(i + 1..end)?, end + 1))
}

/// A number at `i`, checked against the grammar
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[inline(always)]
fn number(b: &[u8], start: usize) -> Option<Number> {
    let mut j = start;
    let neg = b.get(j) == Some(&b'-');
    j += usize::from(neg);
    let int = j;
    match *b.get(j)? {
        b'0' => j += 1,
        b'1'..=b'9' => j = digit_run(b, j + 1),
        _ => return None,
    }
    let int_end = j;
    let mut frac = (j, j);
    if b.get(j) == Some(&b'.') {
        j += 1;
        let end = digit_run(b, j);
        if end == j {
            return None;
        }
        frac = (j, end);
        j = end;
    }
    let mut exponent = false;
    if matches!(b.get(j), Some(b'e' | b'E')) {
        exponent = true;
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let end = digit_run(b, j);
        if end == j {
            return None;
        }
        j = end;
    }
    // A number runs into its delimiter; anything else after it (`1x`,
    // `01`) is a syntax error for the slow path to name.
    if b.get(j).is_some_and(|&c| !ends_number(c)) {
        return None;
    }
    Some(Number { start, neg, int: (int, int_end), frac, exponent, end: j })
}

/// Whether `c` may follow a number: `,` `}` `]` or whitespace. A bit set
/// and one test, not a `match` (which LLVM makes a jump table, an indirect
/// jump in the component).
#[inline(always)]
fn ends_number(c: u8) -> bool {
    const BELOW_64: u64 = 1 << b',' | 1 << b' ' | 1 << b'\t' | 1 << b'\n' | 1 << b'\r';
    // `]` is 0x5d and `}` 0x7d: the only bytes that are `}` with 0x20 set.
    if c < 64 { BELOW_64 >> c & 1 != 0 } else { c | 0x20 == b'}' }
}

/// `literal` at `i`: where it ends.
#[inline(always)]
fn literal(b: &[u8], i: usize, literal: &[u8]) -> Option<usize> {
    (b.get(i..i + literal.len())? == literal).then_some(i + literal.len())
}

/// A wanted value at `i`, as the slow path's `ScalarSeed` reads it, and
/// where it ends.
#[inline(always)]
fn scalar(text: &str, i: usize) -> Option<(Scalar<'_>, usize)> {
    let b = text.as_bytes();
    Some(match *b.get(i)? {
        b'"' => {
            let (s, end) = plain_string(text, i)?;
            (Scalar::Str(Cow::Borrowed(s)), end)
        }
        b't' => (Scalar::Bool(true), literal(b, i, b"true")?),
        b'f' => (Scalar::Bool(false), literal(b, i, b"false")?),
        b'n' => (Scalar::Null, literal(b, i, b"null")?),
        b'[' | b'{' => composite(b, i)?,
        _ => {
            let n = number(b, i)?;
            (Scalar::Number(number_value(text, &n)?), n.end)
        }
    })
}

/// An array or object where a scalar was wanted, and where it ends.
#[cold]
#[inline(never)]
fn composite(b: &[u8], i: usize) -> Option<(Scalar<'static>, usize)> {
    let kind = if b[i] == b'[' { "an array" } else { "an object" };
    Some((Scalar::Composite(kind), skip_value(b, i, 0)?))
}

/// A value to skip at `i`, walked over here unless it is an array or an
/// object ([`skip_value`]): where it ends.
#[inline(always)]
fn skip_flat(b: &[u8], i: usize) -> Option<usize> {
    // Strings and numbers first, by two tests (a `match` on the byte is a
    // jump table in the component); the rest out of line.
    let c = *b.get(i)?;
    if c == b'"' {
        skip_string(b, i)
    } else if c.wrapping_sub(b'0') < 10 || c == b'-' {
        number(b, i).map(|n| n.end)
    } else if c == b'f' {
        literal(b, i, b"false")
    } else if c == b't' {
        literal(b, i, b"true")
    } else {
        skip_value(b, i, 0)
    }
}

/// Walk over one value at `i`, checking its grammar: where it ends.
fn skip_value(b: &[u8], mut i: usize, depth: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'[' => {
            if depth >= MAX_DEPTH {
                return None;
            }
            i = ws(b, i + 1);
            if *b.get(i)? == b']' {
                return Some(i + 1);
            }
            loop {
                i = ws(b, skip_value(b, i, depth + 1)?);
                match *b.get(i)? {
                    b',' => i = ws(b, i + 1),
                    b']' => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b'{' => {
            if depth >= MAX_DEPTH {
                return None;
            }
            i = ws(b, i + 1);
            if *b.get(i)? == b'}' {
                return Some(i + 1);
            }
            loop {
                if *b.get(i)? != b'"' {
                    return None;
                }
                i = ws(b, skip_string(b, i)?);
                if *b.get(i)? != b':' {
                    return None;
                }
                i = ws(b, skip_value(b, ws(b, i + 1), depth + 1)?);
                match *b.get(i)? {
                    b',' => i = ws(b, i + 1),
                    b'}' => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        _ => number(b, i).map(|n| n.end),
    }
}

/// Where a number's parts are in the text (byte offsets).
struct Number {
    start: usize,
    neg: bool,
    /// The integer digits.
    int: (usize, usize),
    /// The fraction digits (an empty range without a fraction).
    frac: (usize, usize),
    exponent: bool,
    end: usize,
}

/// `10^n` for `n ≤ 22`: every one is exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The value of the ASCII digits `b[start..end]` (at most 19: no
/// overflow) after `n`: `n · 10^len + digits`. Up to 16 digits are read 8
/// at a time from words (no loop: in the component every loop costs an
/// interruption check each time round).
#[inline(always)]
fn digits_value(b: &[u8], start: usize, end: usize, n: u64) -> u64 {
    let len = end - start;
    if len <= 8 {
        if let Some(w) = b.get(start..start + 8) {
            return n * POW10_U64[len] + eight_digits(u64::from_le_bytes(w.try_into().unwrap()), len);
        }
    } else if len <= 16
        && let Some(w) = b.get(start..start + 8)
    {
        let last = u64::from_le_bytes(b[end - 8..end].try_into().unwrap());
        let first = eight_digits(u64::from_le_bytes(w.try_into().unwrap()), len - 8);
        return (n * POW10_U64[len - 8] + first) * 100_000_000 + eight_digits(last, 8);
    }
    b[start..end].iter().fold(n, |n, &c| n * 10 + u64::from(c - b'0'))
}

/// `10^n` for `n ≤ 19`.
const POW10_U64: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The value of the first `len` (1 to 8) bytes of the little-endian word
/// `w`, ASCII digits, most significant first (the other bytes are ignored).
#[inline(always)]
fn eight_digits(w: u64, len: usize) -> u64 {
    let mask = if len >= 8 { u64::MAX } else { (1u64 << (8 * len)) - 1 };
    // Per byte its digit (no borrows: every kept byte is at least '0'),
    // then moved up so that the missing leading digits are zeros.
    let v = ((w & mask) - (0x3030_3030_3030_3030 & mask)) << (8 * (8 - len) as u32 % 64);
    let v = if len == 0 { 0 } else { v };
    // Pairs, then quadruples, then the eight (Lemire's SWAR conversion).
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let lo = (v & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32));
    let hi = ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32));
    lo.wrapping_add(hi) >> 32
}

/// A number's value as serde_json gives it (with `float_roundtrip`: the
/// correctly rounded `f64`); `None` beyond `f64`'s range.
///
/// - Integers up to 18 digits are exact as `u64` and rounded once to
///   `f64`, as serde_json's `u64`/`i64` visit does (`-0` is -0.0).
/// - Decimals without an exponent whose digits, read as an integer `w`,
///   stay within 2^53 and have at most 22 fraction digits are `w / 10^f`:
///   both exact, so the one division is the correctly rounded value
///   (Clinger's fast path, as `str::parse` takes it).
/// - Everything else goes to `str::parse`.
#[inline(always)]
fn number_value(text: &str, n: &Number) -> Option<f64> {
    let b = text.as_bytes();
    let (int, frac) = (&b[n.int.0..n.int.1], &b[n.frac.0..n.frac.1]);
    if !n.exponent {
        let sign = |x: f64| if n.neg { -x } else { x };
        if frac.is_empty() {
            if int.len() <= 18 {
                return Some(sign(digits_value(b, n.int.0, n.int.1, 0) as f64));
            }
        } else if int.len() + frac.len() <= 19 && frac.len() <= 22 {
            let w = digits_value(b, n.frac.0, n.frac.1, digits_value(b, n.int.0, n.int.1, 0));
            if w <= 1 << 53 {
                return Some(sign(w as f64 / POW10[frac.len()]));
            }
        }
    }
    parse_number(&text[n.start..n.end])
}

/// A number's value by `str::parse` (correctly rounded), `None` beyond
/// `f64`'s range: the rare forms, out of line.
#[cold]
#[inline(never)]
fn parse_number(text: &str) -> Option<f64> {
    let x: f64 = text.parse().ok()?;
    x.is_finite().then_some(x)
}

/// Where the run of plain string bytes that starts at `from` ends: the
/// first quote, backslash or control character at or after `from` (or the
/// end). Bytes ≥ 0x80 (UTF-8) are plain.
#[inline(always)]
fn special_run(s: &[u8], from: usize) -> usize {
    // Most strings of log events end within 16 bytes: that chunk is looked
    // at before any loop (in wasm a loop costs an interruption check each
    // time round, see `Runtime`'s deadlines).
    if let Some(chunk) = s.get(from..from + 16) {
        let m = bytes::special16(chunk.try_into().unwrap());
        if m != 0 {
            return from + m.trailing_zeros() as usize;
        }
        return special_run_from(s, from + 16);
    }
    special_run_from(s, from)
}

#[inline(never)]
fn special_run_from(s: &[u8], from: usize) -> usize {
    run_end(s, from, bytes::special16, bytes::special8, is_special)
}

/// Where the run of ASCII digits that starts at `from` ends (the first 16
/// bytes before any loop, as [`special_run`]).
#[inline(always)]
fn digit_run(s: &[u8], from: usize) -> usize {
    if let Some(chunk) = s.get(from..from + 16) {
        let m = bytes::non_digit16(chunk.try_into().unwrap());
        if m != 0 {
            return from + m.trailing_zeros() as usize;
        }
        return digit_run_from(s, from + 16);
    }
    digit_run_from(s, from)
}

#[inline(never)]
fn digit_run_from(s: &[u8], from: usize) -> usize {
    run_end(s, from, bytes::non_digit16, bytes::non_digit8, |c| !c.is_ascii_digit())
}

/// The first byte from `from` on that `stop1` flags (or the end of `s`):
/// 16 bytes at a time with `stop16`, then 8 with `stop8` (see [`bytes`]),
/// then one at a time.
#[inline(always)]
fn run_end(
    s: &[u8],
    from: usize,
    stop16: impl Fn(&[u8; 16]) -> u32,
    stop8: impl Fn(u64) -> u64,
    stop1: impl Fn(u8) -> bool,
) -> usize {
    let mut i = from;
    while let Some(chunk) = s.get(i..i + 16) {
        let m = stop16(chunk.try_into().unwrap());
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(word) = s.get(i..i + 8) {
        let m = stop8(u64::from_le_bytes(word.try_into().unwrap()));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while s.get(i).is_some_and(|&c| !stop1(c)) {
        i += 1;
    }
    i
}

#[inline]
fn is_special(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

#[cfg(test)]
mod tests {
    use super::super::slow::scan_serde;
    use super::*;

    fn table(names: &[&str]) -> FieldTable {
        FieldTable::new(names.iter().map(|s| s.to_string()).collect())
    }

    /// The fast path's verdict on `text`, checked against serde_json's: if
    /// it accepts, serde_json accepts with the same slots and shape.
    fn fast(names: &[&str], text: &str) -> bool {
        let t = table(names);
        let mut fast_slots = vec![None; t.len()];
        let mut cache = KeyCache::default();
        let got = scan_fast(text, &t, &mut cache, &mut fast_slots);
        // Again, with the keys cached: the same verdict and values.
        let mut again = vec![None; t.len()];
        let got_again = scan_fast(text, &t, &mut cache, &mut again);
        assert_eq!(got.map(|s| (s.keys, s.close)), got_again.map(|s| (s.keys, s.close)), "{text:?}");
        if got.is_some() {
            assert_eq!(format!("{fast_slots:?}"), format!("{again:?}"), "{text:?}");
        }
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
    fn ends_number_is_the_delimiter_set() {
        for c in 0..=255u8 {
            let want = matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r');
            assert_eq!(ends_number(c), want, "byte {c:#04x}");
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
            for at in 0..41 {
                for tail in [0, 3, 9] {
                    let mut s = vec![b'7'; 41 + tail];
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
    fn special_run_stops_at_every_special_byte() {
        for len in 0..48 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
                    for from in [0, 1, 3] {
                        let mut s = vec![b'a'; len];
                        s.extend_from_slice("é€😀".as_bytes());
                        if at < len {
                            s[at] = special;
                            let want = if at >= from { at } else { special_run(&s, at + 1).max(at + 1) };
                            if at >= from {
                                assert_eq!(
                                    special_run(&s, from),
                                    want,
                                    "len {len} at {at} from {from} byte {special:#x}"
                                );
                            }
                        } else {
                            assert_eq!(special_run(&s, from.min(s.len())), s.len());
                        }
                    }
                }
            }
        }
        // Every byte value on its own, at every position of a word, and
        // with text after the string.
        for c in 0..=255u8 {
            for at in 0..35 {
                for tail in [0, 5, 12] {
                    let mut s = vec![b'x'; 35 + tail];
                    s[at] = c;
                    let want = if is_special(c) { at } else { s.len() };
                    assert_eq!(special_run(&s, 0), want, "byte {c:#x} at {at} tail {tail}");
                }
            }
        }
    }

    /// A batch scanned line by line with [`scan_line`] gives, for every line
    /// it accepts, what serde_json gives for that line alone; it refuses
    /// lines with a line feed inside the object (the slow path splits them).
    #[test]
    fn scan_line_reads_each_line_of_a_batch_as_serde_json_reads_it() {
        let names = ["ts", "duration", "proto", "orig_bytes"];
        let t = table(&names);
        let lines = [
            r#"{"ts":1713484800.123456,"uid":"CxT1","proto":"tcp","duration":0.5,"orig_bytes":0}"#,
            r#"{"ts":1,"proto":"udp"}  "#,
            "{\"ts\":2}\r",
            r#"{}"#,
            r#"  { "proto" : "icmp" , "duration" : 12.25 }"#,
            r#"{"orig_bytes":-0,"duration":-0.0,"ts":1e3}"#,
        ];
        for with_last_newline in [false, true] {
            let mut batch = lines.join("\n");
            if with_last_newline {
                batch.push('\n');
            }
            let mut start = 0;
            let mut cache = KeyCache::default();
            for line in lines {
                let mut slots = vec![None; t.len()];
                let (shape, end) =
                    scan_line(&batch, start, &t, &mut cache, &mut slots).unwrap_or_else(|| panic!("{line:?}"));
                assert_eq!(&batch[start..end], line);
                let mut want = Vec::new();
                let w = scan_serde(line, &t, &mut want).unwrap();
                assert_eq!((shape.keys, shape.close), (w.keys, w.close), "{line:?}");
                assert_eq!(format!("{slots:?}"), format!("{want:?}"), "{line:?}");
                start = end + 1;
            }
            assert_eq!(start, batch.len() + usize::from(!with_last_newline));
        }
        // A line feed inside the object, an empty line, text after the
        // object: the slow path decides.
        for batch in ["{\"ts\":\n1}\n", "\n{\"ts\":1}", "{\"ts\":1}x\n", "{\"ts\":1\n}", "{\"a\":[1,\n2]}"] {
            let mut slots = vec![None; t.len()];
            assert!(scan_line(batch, 0, &t, &mut KeyCache::default(), &mut slots).is_none(), "{batch:?}");
        }
    }

    #[test]
    fn digits_are_read_a_word_at_a_time_as_one_at_a_time() {
        let mut state = 12345u64;
        for len in 0..=19usize {
            for tail in [0usize, 3, 9] {
                for _ in 0..200 {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let mut text: Vec<u8> = (0..len).map(|k| b'0' + ((state >> (k % 60)) % 10) as u8).collect();
                    text.extend(std::iter::repeat_n(b',', tail));
                    // A carried-in value of 7 before 19 digits would overflow.
                    let n0 = if len < 19 { 7 } else { 0 };
                    let want = text[..len].iter().fold(n0, |n, &c| n * 10 + u64::from(c - b'0'));
                    assert_eq!(digits_value(&text, 0, len, n0), want, "{:?}", String::from_utf8_lossy(&text));
                }
            }
        }
    }

    /// Wanted numbers: every form, against serde_json's value bit for bit
    /// (the fast conversions and the `str::parse` fallback alike).
    #[test]
    fn wanted_numbers_have_serde_json_s_values() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "9007199254740992",
            "9007199254740993",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567890",
            "0.1",
            "0.30000000000000004",
            "65.003984",
            "1713571129.542769",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "4503599627370496.5",
            "9007199254740991.1",
            "1e3",
            "1E-3",
            "2.5e+10",
            "123.456e-7",
            "5e-324",
            "1.7976931348623157e308",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..20_000 {
            let r = next();
            let int_digits = 1 + (r % 20) as usize;
            let frac_digits = ((r >> 8) % 24) as usize;
            let mut s = String::new();
            if r >> 20 & 1 == 1 {
                s.push('-');
            }
            let mut d = next();
            for k in 0..int_digits {
                let c = (d % 10) as u8;
                d /= 10;
                if d == 0 {
                    d = next();
                }
                s.push(char::from(b'0' + if k == 0 && int_digits > 1 { c.max(1) } else { c }));
            }
            if frac_digits > 0 {
                s.push('.');
                for _ in 0..frac_digits {
                    s.push(char::from(b'0' + (next() % 10) as u8));
                }
            }
            if r >> 21 & 7 == 0 {
                s.push_str(&format!("e{}", (next() % 40) as i64 - 20));
            }
            texts.push(s);
        }
        for n in &texts {
            let text = format!("{{\"x\":{n},\"y\":1}}");
            assert!(fast(&["x"], &text), "fell back on {text}");
        }
    }

    /// Events of one shape, then of others (a key missing, added, renamed,
    /// spaced, escaped, cut short), then the first again: with one cache
    /// across them, every event reads as serde_json reads it.
    #[test]
    fn cached_keys_follow_changing_shapes() {
        let t = table(&["duration", "orig_bytes", "proto", "a_key_longer_than_thirty_two_bytes"]);
        let events = [
            r#"{"ts":1.5,"proto":"tcp","duration":0.25,"orig_bytes":10,"history":"ShAD"}"#,
            r#"{"ts":1.6,"proto":"udp","duration":0.5,"orig_bytes":11,"history":"D"}"#,
            r#"{"ts":1.7,"proto":"udp","orig_bytes":12,"history":"D"}"#,
            r#"{"ts":1.8,"proto":"udp","duration":1,"orig_bytes":13,"history":"D","extra":[1]}"#,
            r#"{"ts":1.9,"proto" :"udp","duration":2,"orig_bytes":14}"#,
            r#"{"ts":2.0,"prot":"udp","duration":3,"orig_bytes":15}"#,
            r#"{"ts":2.1,"protocol":"udp","duration":4,"orig_bytes":16}"#,
            r#"{"ts":2.2,"pr\u006fto":"udp","duration":5}"#,
            r#"{"ts":2.3,"a_key_longer_than_thirty_two_bytes":7,"duration":6}"#,
            r#"{"ts":2.4,"a_key_longer_than_thirty_two_bytes":8,"duration":7}"#,
            r#"{"ts":2.5,"logsieve":1}"#,
            r#"{"ts":2.6}"#,
            r#"{"ts":2.7,"pro"#,
            r#"{"ts":1.5,"proto":"tcp","duration":0.25,"orig_bytes":10,"history":"ShAD"}"#,
        ];
        let mut cache = KeyCache::default();
        for round in 0..3 {
            for e in events {
                let mut slots = vec![None; t.len()];
                let got = scan_fast(e, &t, &mut cache, &mut slots);
                let mut want = Vec::new();
                let w = scan_serde(e, &t, &mut want);
                match got {
                    Some(shape) => {
                        let w = w.unwrap_or_else(|err| {
                            panic!("round {round}: accepted what serde_json refuses ({err}): {e}")
                        });
                        assert_eq!((shape.keys, shape.close), (w.keys, w.close), "{e}");
                        assert_eq!(format!("{slots:?}"), format!("{want:?}"), "{e}");
                    }
                    // Only escapes, the output key and broken events fall back.
                    None => assert!(e.contains('\\') || e.contains("logsieve") || w.is_err(), "fell back on {e}"),
                }
            }
        }
    }
}
