//! `logsieve_train::synthetic` reproduces `shared/bench/gen_data.py` bit for bit.
//!
//! Each data set is regenerated in Rust, serialised exactly as the script writes
//! its files (little-endian, row-major), hashed with SHA-256 and compared with
//! the script's `MANIFEST.txt`, a copy of which is `tests/data/gen_data_manifest.txt`
//! (regenerate it with `python3 shared/bench/gen_data.py --out DIR`; the script
//! needs only numpy).

use logsieve_train::synthetic;
use sha2::{Digest, Sha256};

const MANIFEST: &str = include_str!("data/gen_data_manifest.txt");

/// The manifest's `(sha256, byte length)` for `file`.
fn expected(file: &str) -> (String, usize) {
    for line in MANIFEST.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        // "<sha256>  <name>  (<n> bytes)"
        let mut parts = line.split("  ");
        let (Some(sha), Some(name), Some(len)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("malformed manifest line: {line:?}");
        };
        if name == file {
            let len = len
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(" bytes)"))
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("malformed byte count in manifest line: {line:?}"));
            return (sha.to_string(), len);
        }
    }
    panic!("{file} is not in tests/data/gen_data_manifest.txt");
}

/// Hashes the little-endian bytes of `values` (`N` bytes each) and checks
/// them against the manifest entry for `file`.
fn check<T: Copy, const N: usize>(file: &str, values: &[T], to_le: impl Fn(T) -> [u8; N]) {
    let (want_sha, want_len) = expected(file);
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(1 << 16);
    for chunk in values.chunks((1 << 16) / N) {
        buf.clear();
        for &v in chunk {
            buf.extend_from_slice(&to_le(v));
        }
        h.update(&buf);
    }
    let got_sha: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let got_len = values.len() * N;
    assert_eq!(got_len, want_len, "{file}: Rust writes {got_len} bytes, gen_data.py wrote {want_len}");
    assert_eq!(
        got_sha, want_sha,
        "{file}: SHA-256 of the Rust port differs from gen_data.py's ({got_sha} vs {want_sha}); \
         the generator is no longer bit-exact"
    );
}

fn bytes(v: u8) -> [u8; 1] {
    [v]
}

#[test]
fn blobs_match_gen_data_py() {
    let b = synthetic::blobs();
    assert_eq!((b.n_rows, b.n_dims, b.n_centers), (1_000_000, 8, 8));
    check("blobs_centers.f64", &b.centers, f64::to_le_bytes);
    check("blobs_y.u8", &b.labels, bytes);
    check("blobs_X.f64", &b.x, f64::to_le_bytes);
    check("blobs_std4_X.f64", &b.x_std4, f64::to_le_bytes);
}

#[test]
fn categorical_matches_gen_data_py() {
    let c = synthetic::categorical();
    assert_eq!((c.n_rows, c.n_cols, c.levels, c.n_proto), (200_000, 6, 10, 15));
    check("cat_proto.u8", &c.proto, bytes);
    check("cat_y.u8", &c.labels, bytes);
    check("cat_X.u8", &c.x, bytes);
}

#[test]
fn tokens_match_gen_data_py() {
    let t = synthetic::tokens();
    assert_eq!(t.n_sentences, 33_334);
    check("sent_topic.u16", &t.sentence_topic, u16::to_le_bytes);
    check("tokens.u32", &t.ids, u32::to_le_bytes);
}
