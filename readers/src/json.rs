//! Small JSON output helpers: string escaping and number-syntax checks.
//!
//! The readers build each event's JSON text directly into a `String`; these
//! helpers are the only JSON "serialiser" the crate needs.

/// `true` for bytes that must be escaped inside a JSON string.
const fn needs_escape_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
}

static NEEDS_ESCAPE: [bool; 256] = needs_escape_table();

/// Appends `s` to `out` as a quoted, escaped JSON string.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    push_str_body(out, s);
    out.push('"');
}

/// Appends the escaped body of a JSON string (no surrounding quotes).
pub(crate) fn push_str_body(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    // Most values need no escape: looked for 8 bytes at a time first.
    if !needs_escape(bytes) {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        // `i` is at an ASCII byte, so both slices are on char boundaries.
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Whether `b` holds a byte JSON escapes (a quote, a backslash, a control
/// character), 8 bytes at a time.
fn needs_escape(b: &[u8]) -> bool {
    use crate::words::{below, equal};
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        if equal(w, b'"') | equal(w, b'\\') | below(w, 0x20) != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&c| NEEDS_ESCAPE[c as usize])
}

/// Appends `"key":` (escaped) to `out`.
pub(crate) fn key_prefix(key: &str) -> String {
    let mut k = String::with_capacity(key.len() + 3);
    push_str(&mut k, key);
    k.push(':');
    k
}

/// What [`number_shape`] saw of a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumberShape {
    /// It has a `.` and fraction digits.
    pub fraction: bool,
    /// It has an exponent.
    pub exponent: bool,
}

impl NumberShape {
    /// Whether the number `s` of this shape is in range for
    /// [`f64_in_range`]. Without an exponent and at most 300 characters it
    /// is (below 1e300) and is not parsed; otherwise it is parsed.
    pub(crate) fn in_range(self, s: &str) -> bool {
        if s.len() <= 300 && !self.exponent {
            return true;
        }
        s.parse::<f64>().is_ok_and(f64_in_range)
    }
}

/// `s` when it is exactly a number in JSON syntax (RFC 8259 §6),
/// `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`, seen in one pass:
/// whether it has a fraction and an exponent; `None` when it is not one.
pub(crate) fn number_shape(s: &str) -> Option<NumberShape> {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    // The end of the run of digits from `i`.
    let digits = |mut i: usize| {
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        i
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i),
        _ => return None,
    }
    let fraction = b.get(i) == Some(&b'.');
    if fraction {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    let exponent = matches!(b.get(i), Some(b'e' | b'E'));
    if exponent {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    (i == b.len()).then_some(NumberShape { fraction, exponent })
}

/// Numbers of this magnitude or more are not written as JSON numbers. JSON
/// readers hold numbers as `f64`, and refuse one that overflows it
/// (serde_json: "number out of range"); near `f64::MAX` they round
/// differently (serde_json refuses `1.7976931348623158e308`, which Rust
/// parses to `f64::MAX`), so the bound keeps well clear of the limit.
pub(crate) const MAX_MAGNITUDE: f64 = 1e308;

/// Whether `f` can be written as a JSON number every reader takes: finite
/// and below [`MAX_MAGNITUDE`].
pub(crate) fn f64_in_range(f: f64) -> bool {
    f.is_finite() && f.abs() < MAX_MAGNITUDE
}

/// Whether `s` is a non-empty run of ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Appends an integer in canonical decimal form.
pub(crate) fn push_int(out: &mut String, v: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time look equals a byte-by-byte one, for every byte
    /// value at every place of a word, beside every other kind of byte.
    #[test]
    fn needs_escape_is_exact() {
        let kinds = [b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xa2, 0xdc, 0xff];
        for len in 0..20 {
            for at in 0..len {
                for c in 0..=255u8 {
                    for &other in &kinds {
                        let mut b = vec![other; len];
                        b[at] = c;
                        let want = b.iter().any(|&x| NEEDS_ESCAPE[x as usize]);
                        assert_eq!(needs_escape(&b), want, "{b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn escapes_specials_and_controls() {
        let mut s = String::new();
        push_str(&mut s, "a\"b\\c\nd\te\u{1}f\u{7f}é");
        assert_eq!(s, r#""a\"b\\c\nd\te\u0001f"#.to_string() + "\u{7f}é\"");
    }

    #[test]
    fn numbers_out_of_f64_range_are_not_json_numbers() {
        for ok in ["1e307", "-9.99e307", "1e-999", "0e999999", "1.7976931348623157e307", &"9".repeat(300)] {
            assert!(number_shape(ok).is_some_and(|n| n.in_range(ok)), "{ok}");
        }
        // serde_json refuses all of these ("number out of range"), or
        // rounds them differently from Rust near f64::MAX.
        let long = format!("17976931348623157{}", "0".repeat(292));
        for bad in ["1e999", "-1e309", "1e308", "1.7976931348623158e308", "1E400", &long, &"9".repeat(309)] {
            assert!(number_shape(bad).is_some_and(|n| !n.in_range(bad)), "{bad}");
        }
        assert!(
            f64_in_range(9.9e307) && !f64_in_range(1e308) && !f64_in_range(f64::INFINITY) && !f64_in_range(f64::NAN)
        );
    }

    #[test]
    fn number_syntax() {
        for ok in ["0", "-0", "1", "10", "1.5", "-1.25e+10", "1E5", "1713484800.123456"] {
            assert!(number_shape(ok).is_some(), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "+1", "1e", "0x10", "1.5.", "inf", "NaN", " 1"] {
            assert!(number_shape(bad).is_none(), "{bad}");
        }
    }
}
