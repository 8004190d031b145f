//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

use logsieve_readers::{Format, Item, Reader};

/// The shared data folder (`$LOGSIEVE_SHARED/data`, default `../../shared`
/// relative to this crate). Panics when it is missing: tests never skip.
pub fn data_dir() -> PathBuf {
    let root = std::env::var("LOGSIEVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")));
    let data = root.join("data");
    assert!(
        data.is_dir(),
        "../shared not found at {} (expected a data/ folder in it); set LOGSIEVE_SHARED",
        root.display()
    );
    data
}

/// A path under the data folder, which must exist.
pub fn data(rel: &str) -> PathBuf {
    let p = data_dir().join(rel);
    assert!(p.exists(), "shared data file missing: {}", p.display());
    p
}

/// Reads an in-memory input completely.
pub fn read_bytes(bytes: &[u8], format: Format) -> Vec<Item> {
    Reader::from_reader("mem", Box::new(std::io::Cursor::new(bytes.to_vec())), format).collect()
}

/// `Ok` texts and `Err` reasons of items, for compact assertions.
pub fn summary(items: &[Item]) -> Vec<Result<String, &'static str>> {
    items.iter().map(|i| i.result.clone().map_err(|e| e.reason)).collect()
}

/// Decompressed content of a (possibly gzip) file.
pub fn file_bytes(path: &std::path::Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
        out
    } else {
        raw
    }
}

/// A fresh, empty temporary directory unique to `tag` and this process.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("logsieve-readers-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
