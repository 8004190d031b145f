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

/// Why an event could not be read or scored. `reason` is a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// `invalid_json`, `not_an_object`, `wrong_type`, `missing_field`,
    /// `non_finite`, `field_conflict`.
    pub reason: &'static str,
    /// What and where, for a person.
    pub detail: String,
}

impl EventError {
    /// A new error.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
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
        let mut b = ryu::Buffer::new();
        b.format(x).to_string()
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
}

impl FieldTable {
    /// A table of field names; slot i is `names[i]`.
    pub fn new(names: Vec<String>) -> Self {
        let slots = names.len();
        FieldTable { entries: names.into_iter().enumerate().map(|(i, n)| (n, i)).collect(), slots }
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
        t
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
/// `not_an_object` or `field_conflict`.
pub fn scan<'a>(text: &'a str, table: &FieldTable, slots: &mut Vec<Option<Scalar<'a>>>) -> Result<Shape, EventError> {
    slots.clear();
    slots.resize(table.len(), None);
    let trimmed_start = text.trim_start();
    if !trimmed_start.starts_with('{') {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => EventError::new(
                "not_an_object",
                format!("the event is JSON but not an object: {}", kind_of(trimmed_start)),
            ),
            Err(e) => invalid_json(&e),
        });
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let mut conflict = false;
    let keys = de
        .deserialize_map(ObjectVisitor { table, slots, conflict: &mut conflict })
        .and_then(|k| de.end().map(|_| k))
        .map_err(|e| invalid_json(&e))?;
    if conflict {
        return Err(EventError::new(
            "field_conflict",
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

fn invalid_json(e: &serde_json::Error) -> EventError {
    if e.is_eof() && e.line() == 1 && e.column() == 0 {
        return EventError::new("invalid_json", "the event is empty");
    }
    EventError::new("invalid_json", e.to_string())
}

struct ObjectVisitor<'t, 's, 'a> {
    table: &'t FieldTable,
    slots: &'s mut Vec<Option<Scalar<'a>>>,
    conflict: &'s mut bool,
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
                Key::Slot(i) => self.slots[i] = Some(map.next_value_seed(ScalarSeed)?),
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
        // Out of range where the value is needed; a skipped field is only checked for syntax.
        assert_eq!(r("{\"s\":1e999}"), "invalid_json");
        assert_eq!(r("[1,2]"), "not_an_object");
        assert_eq!(r("42"), "not_an_object");
        assert_eq!(r("{\"logsieve\":{}}"), "field_conflict");
    }
}
