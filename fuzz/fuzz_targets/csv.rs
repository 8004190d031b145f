//! Arbitrary bytes as CSV with a header: with the delimiter detected, and
//! with the first byte as an explicit delimiter (which may be refused as
//! non-ASCII) and a small line limit.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use logsieve_readers::Format;

fuzz_target!(|data: &[u8]| {
    common::read_all(data, Format::Csv { delimiter: None }, None);
    if let [delim, rest @ ..] = data {
        let items = common::read_all(rest, Format::Csv { delimiter: Some(*delim) }, Some(64));
        if !delim.is_ascii() && !rest.starts_with(&[0x1f, 0x8b]) {
            assert!(
                items
                    .iter()
                    .all(|i| matches!(i, Err("csv_bad_delimiter" | "invalid_utf8" | "empty_line" | "line_too_long"))),
                "a non-ASCII delimiter must be refused: {items:?}"
            );
        }
    }
});
