//! Reading an event: one pass over the JSON text that validates all of it
//! but keeps only the fields the spec needs, borrowed from the text.
//!
//! Building a whole `serde_json::Value` per event would allocate every key
//! and value; here the other values are skipped (still validated) and the
//! wanted ones come back as [`Scalar`]s that borrow the event text. The
//! scored output is the original text with the `logsieve` object appended,
//! so the event is never re-serialized and its key order never changes.
//!
//! - [`keys`]: which keys are wanted, and the key order seen so far;
//! - `bytes`: the 16-byte kernels both of them cross text with;
//! - [`fast`]: the byte-level path real events take;
//! - [`slow`]: serde_json, for whatever the fast path declines (and the
//!   exact error).
//!
//! Uses go one way: `scan` reads into [`crate::event`]'s values.
//!
//! Why not serde_json for every event (issue #22): it stays, as the slow
//! path and the judge of errors, but reading into `Value` allocates every
//! key and value. Measured with callgrind (docs/performance.md, "Scoring
//! through the component": `cargo bench -p logsieve --bench score_profile`),
//! reading an event with this scanner is ≈ 4,420 instructions natively of
//! the 7,015 an event costs in all; the end-to-end NDJSON row of
//! BENCHMARKS.md (6a, `bench/pipeline.sh`) scores 712,856 events/s on 2
//! cores with it.

mod bytes;
pub mod fast;
pub mod keys;
pub mod slow;

pub use fast::{MAX_DEPTH, scan_line};
pub use keys::{FieldTable, KeyCache};
pub use slow::scan_serde;

use crate::event::{EventError, Scalar};

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
    if let Some(shape) = fast::scan_fast(text, table, cache, slots) {
        return Ok(shape);
    }
    scan_serde(text, table, slots)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::event::Reason;

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

    #[test]
    fn a_wanted_field_given_twice_is_a_duplicate_field() {
        // Issue #19, item 12: `{"orig_bytes":99999999999,"orig_bytes":1}`
        // was scored by its last value (other readers take the first): a
        // way to hide a large transfer. A field the spec reads may appear
        // once; others may repeat (they are not read).
        for text in [
            r#"{"orig_bytes":99999999999,"orig_bytes":1}"#,
            r#"{"a":1,"orig_bytes":2,"b":[1],"orig_bytes":null}"#,
            r#"{ "orig_bytes" : 1 , "orig_bytes" : 1 }"#,
        ] {
            let e = error(&["orig_bytes"], text);
            assert_eq!(e.reason, "duplicate_field", "{text}");
            assert!(e.detail.contains("'orig_bytes'"), "{}", e.detail);
        }
        let mut slots = Vec::new();
        assert!(scan(r#"{"a":1,"a":2,"orig_bytes":3}"#, &table(&["orig_bytes"]), &mut slots).is_ok());
        assert_eq!(slots[0], Some(Scalar::Number(3.0)));
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
