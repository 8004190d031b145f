//! Checks shared by the reader targets.
#![allow(dead_code)]

use std::io::Cursor;

use logsieve_readers::{Format, Reader};

/// Every `reason` a reader may report.
const REASONS: &[&str] = &[
    "open_failed",
    "read_failed",
    "truncated_gzip",
    "corrupt_gzip",
    "invalid_utf8",
    "line_too_long",
    "empty_line",
    "zeek_column_count",
    "zeek_bad_value",
    "zeek_no_header",
    "zeek_bad_header",
    "csv_column_count",
    "csv_unterminated_quote",
    "csv_bad_delimiter",
];

/// Reads `data` to the end in `format` and checks every item: an event is
/// one line of JSON that serde_json reads as an object, an error has a
/// known reason and a detail, line numbers increase, the counters add up,
/// and the reader makes progress (no more items than bytes consumed).
/// Returns the items' texts (events as `Ok`, reasons as `Err`).
pub fn read_all(data: &[u8], format: Format, max_line: Option<usize>) -> Vec<Result<String, &'static str>> {
    let mut reader = Reader::from_reader("fuzz", Box::new(Cursor::new(data.to_vec())), format);
    if let Some(m) = max_line {
        reader = reader.with_max_line(m);
    }
    let mut out = Vec::new();
    let mut last_line = 0u64;
    while let Some(item) = reader.next() {
        assert_eq!(&*item.origin.file, "fuzz");
        assert!(
            item.origin.line > last_line,
            "line numbers must increase: {} after {last_line} ({:?})",
            item.origin.line,
            item.result
        );
        last_line = item.origin.line;
        match item.result {
            Ok(text) => {
                assert!(!text.contains('\n'), "an event spans lines: {text:?}");
                let v: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("the reader produced invalid JSON ({e}): {text}"));
                assert!(v.is_object(), "the reader produced a non-object: {text}");
                out.push(Ok(text));
            }
            Err(e) => {
                assert!(REASONS.contains(&e.reason), "unknown reason {:?}", e.reason);
                assert!(!e.detail.is_empty(), "{} without a detail", e.reason);
                assert!(e.raw.len() <= 4096, "raw text longer than its cap: {}", e.raw.len());
                out.push(Err(e.reason));
            }
        }
        let st = *reader.stats();
        assert_eq!(st.records + st.errors, out.len() as u64);
        // Every item consumes at least one byte (a line end at least), but
        // the last one may come at end of input (an unterminated quote, a
        // cut gzip stream).
        assert!(out.len() as u64 <= st.bytes + 1, "{} items from {} bytes: no progress", out.len(), st.bytes);
    }
    assert!(reader.next().is_none(), "a finished reader yields nothing more");
    out
}
