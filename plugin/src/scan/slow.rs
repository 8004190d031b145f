//! The slow path of [`super::scan`]: serde_json reads the event; the
//! reference the fast path is held to, and the path that names every error
//! (`invalid_json` with its position, `not_an_object`, `field_conflict`,
//! `non_finite` for a wanted number beyond `f64`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::Shape;
use super::keys::FieldTable;
use crate::event::{EventError, OUTPUT_KEY, Reason, Scalar};

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
    let mut duplicate = None;
    let keys = de
        .deserialize_map(ObjectVisitor {
            table,
            slots,
            conflict: &mut conflict,
            out_of_range: &mut out_of_range,
            duplicate: &mut duplicate,
        })
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
    if let Some(slot) = duplicate {
        return Err(EventError::new(
            Reason::DuplicateField,
            format!(
                "field '{}' appears more than once in the event: which value counts is ambiguous (readers differ), \
                 so the event is not scored",
                table.entries[slot].0
            ),
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
    /// The first wanted field given twice, if any.
    duplicate: &'s mut Option<usize>,
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
                    Ok(_) if self.slots[i].is_some() => {
                        self.duplicate.get_or_insert(i);
                    }
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
