//! Reading an event: one pass over the JSON text that validates all of it
//! but keeps only the fields the spec needs, borrowed from the text.
//!
//! Building a whole `serde_json::Value` per event would allocate every key
//! and value; here the other values are skipped (still validated) and the
//! wanted ones come back as [`Scalar`]s that borrow the event text. The
//! scored output is the original text with the `logsieve` object appended,
//! so the event is never re-serialized and its key order never changes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

pub use crate::scan::KeyCache;

pub use crate::reason::Reason;

/// Why an event could not be read or scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// The stable code (see [`Reason`]).
    pub reason: Reason,
    /// What and where, for a person.
    pub detail: String,
}

impl EventError {
    /// A new error.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        EventError { reason, detail: detail.into() }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// The key the scorer appends; an event that already has it is refused
/// (`field_conflict`) rather than given two.
pub const OUTPUT_KEY: &str = "logsieve";

/// A top-level value of an event, as far as features care.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any JSON number.
    Number(f64),
    /// A string, borrowed unless it had escapes.
    Str(Cow<'a, str>),
    /// An array or object (not usable as a feature value).
    Composite(&'static str),
}

/// Why a value could not be read as a number or a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coerce {
    /// The value is of a type that cannot be coerced (`"an array"`, `"the string \"abc\""`).
    WrongType(String),
}

impl<'a> Scalar<'a> {
    /// The value as a number: a JSON number; a boolean as 1/0; a string that
    /// parses as a number (which may be non-finite: callers check). `null`
    /// is `Ok(None)`.
    pub fn as_number(&self) -> Result<Option<f64>, Coerce> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Number(x) => Ok(Some(*x)),
            Scalar::Bool(b) => Ok(Some(f64::from(u8::from(*b)))),
            Scalar::Str(s) => {
                s.trim().parse::<f64>().map(Some).map_err(|_| Coerce::WrongType(format!("the string {:?}", clip(s))))
            }
            Scalar::Composite(kind) => Err(Coerce::WrongType((*kind).to_string())),
        }
    }

    /// The value as category text: a string as is; a number as its shortest
    /// text (`22`, not `22.0`); a boolean as `true`/`false`. `null` is `Ok(None)`.
    pub fn as_text(&self) -> Result<Option<Cow<'_, str>>, Coerce> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Str(s) => Ok(Some(Cow::Borrowed(s.as_ref()))),
            Scalar::Number(x) => Ok(Some(Cow::Owned(number_text(*x)))),
            Scalar::Bool(b) => Ok(Some(Cow::Borrowed(if *b { "true" } else { "false" }))),
            Scalar::Composite(kind) => Err(Coerce::WrongType((*kind).to_string())),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Scalar<'static> {
        match self {
            Scalar::Null => Scalar::Null,
            Scalar::Bool(b) => Scalar::Bool(b),
            Scalar::Number(x) => Scalar::Number(x),
            Scalar::Str(s) => Scalar::Str(Cow::Owned(s.into_owned())),
            Scalar::Composite(k) => Scalar::Composite(k),
        }
    }
}

/// A number's category text: integers without a fraction, others shortest.
pub fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let mut s = zmij::Buffer::new().format(x).to_string();
        drop_exponent_plus(&mut s, x);
        s
    }
}

/// Shortest float texts are written as `1e16`, `2.5e-7`: zmij (as fast as
/// it gets, in wasm too) writes a positive exponent as `e+16`; this takes the
/// `+` out of a text just appended for `x`, so the texts stay what they
/// have always been. Only magnitudes of 1e16 and more have one.
#[inline(always)]
pub(crate) fn drop_exponent_plus(s: &mut String, x: f64) {
    if x.abs() >= 1e16 {
        drop_plus(s);
    }
}

#[cold]
fn drop_plus(s: &mut String) {
    let from = s.len().saturating_sub(26);
    if let Some(k) = s.as_bytes()[from..].windows(2).rposition(|w| w == b"e+") {
        s.remove(from + k + 1);
    }
}

/// At most the first 64 characters of a value, for error messages.
pub(crate) fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The fields an extractor wants: slot i is read from `names[i]`, or from
/// any alias of it.
#[derive(Debug, Clone)]
pub struct FieldTable {
    /// (key as it appears in events, slot)
    entries: Vec<(String, usize)>,
    slots: usize,
    /// Bit `n` is set when some key (or the output key) is `n` bytes long
    /// (bit 63: 63 or more), so most keys of an event are told apart by
    /// their length alone.
    lengths: u64,
    /// The keys of up to 16 bytes, and the output key, as two little-endian
    /// words (zero-padded), ordered by length and then as in `entries`;
    /// `short_at[n]..short_at[n + 1]` are those of `n` bytes.
    short: Vec<ShortKey>,
    short_at: [u16; 18],
}

#[derive(Debug, Clone, Copy)]
struct ShortKey {
    words: [u64; 2],
    hit: KeyHit,
}

/// What a key of an event is to the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyHit {
    /// A wanted field: its slot.
    Slot(usize),
    /// The key the scorer appends ([`OUTPUT_KEY`]).
    Output,
    /// Anything else.
    Other,
}

/// The little-endian word of the `n ≤ 8` bytes of `b` from `i`, zero-padded.
#[inline(always)]
fn word(b: &[u8], i: usize, n: usize) -> u64 {
    if let Some(w) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(w.try_into().unwrap());
        if n >= 8 { w } else { w & ((1u64 << (8 * n)) - 1) }
    } else {
        b[i..i + n].iter().rev().fold(0, |w, &c| w << 8 | u64::from(c))
    }
}

impl FieldTable {
    /// A table of field names; slot i is `names[i]`.
    pub fn new(names: Vec<String>) -> Self {
        let slots = names.len();
        let mut t = FieldTable {
            entries: names.into_iter().enumerate().map(|(i, n)| (n, i)).collect(),
            slots,
            lengths: 0,
            short: Vec::new(),
            short_at: [0; 18],
        };
        t.index();
        t
    }

    /// A table where each name may also appear under its aliases
    /// (`"id.orig_h" = ["id_orig_h"]`).
    pub fn with_aliases(names: Vec<String>, aliases: &std::collections::BTreeMap<String, Vec<String>>) -> Self {
        let mut t = Self::new(names);
        for i in 0..t.slots {
            if let Some(alts) = aliases.get(&t.entries[i].0) {
                for a in alts {
                    t.entries.push((a.clone(), i));
                }
            }
        }
        t.index();
        t
    }

    fn index(&mut self) {
        let output = (OUTPUT_KEY.to_string(), usize::MAX);
        let all = || self.entries.iter().chain(std::iter::once(&output));
        self.lengths = all().fold(0, |m, (n, _)| m | 1u64 << n.len().min(63));
        let mut short: Vec<(usize, ShortKey)> = all()
            .filter(|(n, _)| n.len() <= 16)
            .map(|(n, slot)| {
                let b = n.as_bytes();
                let words = [word(b, 0, b.len().min(8)), if b.len() > 8 { word(b, 8, b.len() - 8) } else { 0 }];
                let hit = if *slot == usize::MAX { KeyHit::Output } else { KeyHit::Slot(*slot) };
                (b.len(), ShortKey { words, hit })
            })
            .collect();
        // Stable: among keys of one length, the first entry still wins.
        short.sort_by_key(|(len, _)| *len);
        for n in 0..18 {
            self.short_at[n] = short.iter().filter(|(len, _)| *len < n).count() as u16;
        }
        self.short = short.into_iter().map(|(_, k)| k).collect();
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }

    fn slot(&self, key: &str) -> Option<usize> {
        self.entries.iter().find(|(n, _)| n == key).map(|(_, i)| *i)
    }

    /// What the key `b[at..at + len]` is: the scanner's look-up. Length
    /// first, then (up to 16 bytes) two word comparisons per wanted key of
    /// that length.
    #[inline(always)]
    pub(crate) fn lookup(&self, b: &[u8], at: usize, len: usize) -> KeyHit {
        if self.lengths & (1u64 << len.min(63)) == 0 {
            return KeyHit::Other;
        }
        if len <= 16 {
            let words = [word(b, at, len.min(8)), if len > 8 { word(b, at + 8, len - 8) } else { 0 }];
            let range = usize::from(self.short_at[len])..usize::from(self.short_at[len + 1]);
            return self.short[range].iter().find(|k| k.words == words).map_or(KeyHit::Other, |k| k.hit);
        }
        let key = &b[at..at + len];
        match self.entries.iter().find(|(n, _)| n.as_bytes() == key) {
            Some((_, i)) => KeyHit::Slot(*i),
            None => KeyHit::Other,
        }
    }
}

/// What [`scan`] learned about the event as a whole.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Number of top-level keys.
    pub keys: usize,
    /// Byte offset of the object's closing `}` in the text.
    pub close: usize,
}

/// Scan one event. `slots` is cleared and filled with one entry per field of
/// `table` (`None` when the event lacks it). Fails with `invalid_json`,
/// `not_an_object`, `field_conflict`, or `non_finite` when a wanted field
/// holds a number too large for an `f64` (`1e400`, a 400-digit integer:
/// valid JSON, but infinite as a float; other fields are only checked for
/// syntax and pass through verbatim).
pub fn scan<'a>(text: &'a str, table: &FieldTable, slots: &mut Vec<Option<Scalar<'a>>>) -> Result<Shape, EventError> {
    scan_cached(text, table, &mut KeyCache::default(), slots)
}

/// [`scan`] with the key order of the events read before (a [`KeyCache`]
/// used with this `table` only).
pub fn scan_cached<'a>(
    text: &'a str,
    table: &FieldTable,
    cache: &mut KeyCache,
    slots: &mut Vec<Option<Scalar<'a>>>,
) -> Result<Shape, EventError> {
    slots.clear();
    slots.resize(table.len(), None);
    if let Some(shape) = crate::scan::scan_fast(text, table, cache, slots) {
        return Ok(shape);
    }
    scan_serde(text, table, slots)
}

/// [`scan`] by serde_json: the reference the fast path is held to, and the
/// path that names every error.
pub fn scan_serde<'a>(
    text: &'a str,
    table: &FieldTable,
    slots: &mut Vec<Option<Scalar<'a>>>,
) -> Result<Shape, EventError> {
    slots.clear();
    slots.resize(table.len(), None);
    let trimmed_start = text.trim_start();
    if !trimmed_start.starts_with('{') {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => EventError::new(
                Reason::NotAnObject,
                format!("the event is JSON but not an object: {}", kind_of(trimmed_start)),
            ),
            Err(e) => invalid_json(text, &e),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let mut conflict = false;
    let mut out_of_range = None;
    let keys = de
        .deserialize_map(ObjectVisitor { table, slots, conflict: &mut conflict, out_of_range: &mut out_of_range })
        .and_then(|k| de.end().map(|_| k))
        .map_err(|e| match out_of_range {
            Some(slot) => number_out_of_range(text, table, slot, &e),
            None => invalid_json(text, &e),
        })?;
    if conflict {
        return Err(EventError::new(
            Reason::FieldConflict,
            format!("the event already has a top-level '{OUTPUT_KEY}' key (was it scored before?)"),
        ));
    }
    let close = text.trim_end().len() - 1;
    Ok(Shape { keys, close })
}

fn kind_of(t: &str) -> &'static str {
    match t.as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(_) => "a number",
        None => "nothing",
    }
}

fn invalid_json(text: &str, e: &serde_json::Error) -> EventError {
    if e.is_eof() && e.line() == 1 && e.column() == 0 {
        return EventError::new(Reason::InvalidJson, "the event is empty");
    }
    if text.trim_start().starts_with('\u{feff}') {
        return EventError::new(
            Reason::InvalidJson,
            format!("the event starts with a UTF-8 byte-order mark (U+FEFF; files joined with `cat`?): {e}"),
        );
    }
    // NaN and Infinity are not JSON, but common writers emit them (Python's
    // `json.dumps` by default, C's printf as `nan`/`inf`): say so.
    if let Some(word) = non_json_number_at(text, error_offset(text, e)) {
        return EventError::new(
            Reason::InvalidJson,
            format!("{word} is not a JSON number (JSON has no NaN or Infinity; write null or a string): {e}"),
        );
    }
    EventError::new(Reason::InvalidJson, e.to_string())
}

/// A wanted field held a number beyond the range of `f64` (serde_json
/// refuses it as "number out of range" rather than make it infinite).
fn number_out_of_range(text: &str, table: &FieldTable, slot: usize, e: &serde_json::Error) -> EventError {
    let field = &table.entries[slot].0;
    let value = match number_at(text, error_offset(text, e)) {
        Some(n) if n.len() > 64 => format!("the number {}… ({} digits)", &n[..32], n.len()),
        Some(n) => format!("the number {n}"),
        None => "a number".to_string(),
    };
    EventError::new(
        Reason::NonFinite,
        format!("field '{field}': {value} is out of the range of a 64-bit float (it would be infinite)"),
    )
}

/// The byte offset serde_json's error position points at (its column
/// counts bytes from the start of the line).
fn error_offset(text: &str, e: &serde_json::Error) -> usize {
    let line_start =
        if e.line() <= 1 { 0 } else { text.match_indices('\n').nth(e.line() - 2).map_or(text.len(), |(i, _)| i + 1) };
    (line_start + e.column()).min(text.len())
}

/// The number text around byte `at` (serde_json reports a number's error
/// just after it or at its last digit).
fn number_at(text: &str, at: usize) -> Option<&str> {
    let b = text.as_bytes();
    let is_num = |c: u8| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E');
    let (mut start, mut end) = (at.min(b.len()), at.min(b.len()));
    while start > 0 && is_num(b[start - 1]) {
        start -= 1;
    }
    while end < b.len() && is_num(b[end]) {
        end += 1;
    }
    // Only ASCII bytes were crossed, so both ends are char boundaries.
    (start < end).then(|| &text[start..end])
}

/// `NaN`, `Infinity`, `-Infinity` (any case, also `nan` / `inf`) where
/// serde_json stopped on them: the word holding byte `at - 1` or `at`.
fn non_json_number_at(text: &str, at: usize) -> Option<&str> {
    let b = text.as_bytes();
    let p = [at.saturating_sub(1), at].into_iter().find(|&p| p < b.len() && b[p].is_ascii_alphabetic())?;
    let (mut start, mut end) = (p, p);
    while start > 0 && b[start - 1].is_ascii_alphabetic() {
        start -= 1;
    }
    while end < b.len() && b[end].is_ascii_alphabetic() {
        end += 1;
    }
    let word = &text[start..end];
    if !["nan", "inf", "infinity"].iter().any(|w| word.eq_ignore_ascii_case(w)) {
        return None;
    }
    Some(if start > 0 && b[start - 1] == b'-' { &text[start - 1..end] } else { word })
}

struct ObjectVisitor<'t, 's, 'a> {
    table: &'t FieldTable,
    slots: &'s mut Vec<Option<Scalar<'a>>>,
    conflict: &'s mut bool,
    /// The slot whose value was a number out of `f64`'s range, if any.
    out_of_range: &'s mut Option<usize>,
}

impl<'de, 't, 's> Visitor<'de> for ObjectVisitor<'t, 's, 'de> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut keys = 0;
        while let Some(key) = map.next_key_seed(KeySeed { table: self.table })? {
            keys += 1;
            match key {
                Key::Slot(i) => match map.next_value_seed(ScalarSeed) {
                    Ok(v) => self.slots[i] = Some(v),
                    Err(e) => {
                        if e.to_string().starts_with("number out of range") {
                            *self.out_of_range = Some(i);
                        }
                        return Err(e);
                    }
                },
                Key::Output => {
                    *self.conflict = true;
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(keys)
    }
}

enum Key {
    Slot(usize),
    Output,
    Other,
}

struct KeySeed<'t> {
    table: &'t FieldTable,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
        Ok(match self.table.slot(k) {
            Some(i) => Key::Slot(i),
            None if k == OUTPUT_KEY => Key::Output,
            None => Key::Other,
        })
    }
}

struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Number(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Composite("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Composite("an object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(names: &[&str]) -> FieldTable {
        FieldTable::new(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn picks_wanted_fields_and_skips_others() {
        let t = table(&["b", "id.orig_h", "z"]);
        let mut slots = Vec::new();
        let text = r#"{"a":[1,{"x":2}],"b":3.5,"id.orig_h":"10.0.0.1","c":null} "#;
        let shape = scan(text, &t, &mut slots).unwrap();
        assert_eq!(shape.keys, 4);
        assert_eq!(&text[shape.close..shape.close + 1], "}");
        assert_eq!(slots[0], Some(Scalar::Number(3.5)));
        assert_eq!(slots[1], Some(Scalar::Str(Cow::Borrowed("10.0.0.1"))));
        assert_eq!(slots[2], None);
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let t = table(&["s"]);
        let mut slots = Vec::new();
        scan(r#"{"s":"a\"b\u00e9"}"#, &t, &mut slots).unwrap();
        assert_eq!(slots[0], Some(Scalar::Str(Cow::Owned("a\"bé".into()))));
    }

    #[test]
    fn reasons() {
        let t = table(&["s"]);
        let r = |s: &str| {
            let mut slots = Vec::new();
            scan(s, &t, &mut slots).unwrap_err().reason
        };
        assert_eq!(r(""), "invalid_json");
        assert_eq!(r("{\"a\":1"), "invalid_json");
        assert_eq!(r("{\"a\":1} x"), "invalid_json");
        assert_eq!(r("{\"a\":NaN}"), "invalid_json");
        // Out of range where the value is needed: valid JSON, but infinite
        // as a float; a skipped field is only checked for syntax.
        assert_eq!(r("{\"s\":1e999}"), "non_finite");
        assert_eq!(r("[1,2]"), "not_an_object");
        assert_eq!(r("42"), "not_an_object");
        assert_eq!(r("{\"logsieve\":{}}"), "field_conflict");
    }

    fn error(names: &[&str], text: &str) -> EventError {
        let mut slots = Vec::new();
        scan(text, &table(names), &mut slots).unwrap_err()
    }

    #[test]
    fn numbers_beyond_f64_in_wanted_fields_are_non_finite_and_named() {
        for (text, value) in [
            (r#"{"a":1,"bytes":1e400,"b":2}"#, "1e400"),
            (r#"{"bytes":-1e400}"#, "-1e400"),
            (r#"{"bytes":1.5E+309 }"#, "1.5E+309"),
            // An exponent beyond i32 takes another path in serde_json.
            (r#"{"bytes":1e99999999999}"#, "1e99999999999"),
        ] {
            let e = error(&["bytes"], text);
            assert_eq!(e.reason, "non_finite", "{text}: {e}");
            assert!(e.detail.starts_with("field 'bytes': the number "), "{text}: {e}");
            assert!(e.detail.contains(&format!("the number {value} is out of the range")), "{text}: {e}");
        }
        let digits = "9".repeat(400);
        let e = error(&["bytes"], &format!("{{\"bytes\":{digits},\"uid\":\"C1\"}}"));
        assert_eq!(e.reason, "non_finite");
        assert!(e.detail.contains("(400 digits)") && e.detail.len() < 200, "{e}");
        // Through an alias the field is named by its spec name.
        let mut aliases = std::collections::BTreeMap::new();
        aliases.insert("id.orig_p".to_string(), vec!["id_orig_p".to_string()]);
        let t = FieldTable::with_aliases(vec!["id.orig_p".into()], &aliases);
        let e = scan(r#"{"id_orig_p":2e308}"#, &t, &mut Vec::new()).unwrap_err();
        assert_eq!((e.reason, e.detail.starts_with("field 'id.orig_p'")), (Reason::NonFinite, true), "{e}");
        // Tiny numbers underflow to zero; huge ones in other fields pass
        // (checked for syntax only, kept verbatim in the output).
        let mut slots = Vec::new();
        let text = format!(r#"{{"bytes":1e-400,"other":1e400,"big":{digits}}}"#);
        scan(&text, &table(&["bytes"]), &mut slots).unwrap();
        assert_eq!(slots[0], Some(Scalar::Number(0.0)));
        // Syntax errors are still invalid JSON, wanted field or not.
        assert_eq!(error(&["bytes"], r#"{"bytes":1e}"#).reason, "invalid_json");
        assert_eq!(error(&["bytes"], r#"{"bytes":1e400"#).reason, "non_finite");
    }

    #[test]
    fn nan_and_infinity_literals_are_invalid_json_and_said_so() {
        for (text, word) in [
            (r#"{"bytes":NaN}"#, "NaN"),
            (r#"{"x":1,"bytes":Infinity}"#, "Infinity"),
            (r#"{"bytes":-Infinity,"y":2}"#, "-Infinity"),
            (r#"{"other":nan}"#, "nan"),
            (r#"{"other": -inf}"#, "-inf"),
            (r#"{"other":-nan}"#, "-nan"),
            (r#"[NaN]"#, "NaN"),
        ] {
            let e = error(&["bytes"], text);
            assert_eq!(e.reason, "invalid_json", "{text}");
            assert!(e.detail.starts_with(&format!("{word} is not a JSON number")), "{text}: {e}");
            assert!(e.detail.contains("line 1 column"), "the parser's position is kept: {e}");
        }
        // Other bad words get the parser's message alone.
        let e = error(&["bytes"], r#"{"bytes":none}"#);
        assert!(e.detail.starts_with("expected ident") || e.detail.starts_with("expected value"), "{e}");
        let e = error(&["bytes"], r#"{"bytes":Nope}"#);
        assert!(e.detail.starts_with("expected value"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_inside_the_stream_is_named() {
        let e = error(&["bytes"], "\u{feff}{\"bytes\":1}");
        assert_eq!(e.reason, "invalid_json");
        assert!(e.detail.contains("byte-order mark"), "{e}");
    }
}
