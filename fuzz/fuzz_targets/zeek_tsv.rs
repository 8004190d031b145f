//! Arbitrary bytes as a Zeek TSV log: the reader never panics, ends, and
//! every event it yields is a JSON object.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use logsieve_readers::Format;

fuzz_target!(|data: &[u8]| {
    let full = common::read_all(data, Format::ZeekTsv, None);
    // A small line limit exercises the skipping of long lines; lines that
    // fit give the same items as without a limit.
    let small = common::read_all(data, Format::ZeekTsv, Some(48));
    if !data.starts_with(&[0x1f, 0x8b]) && data.split(|&b| b == b'\n').all(|l| l.len() <= 48) {
        assert_eq!(full, small, "a line limit that no line reaches changed the items");
    }
});
