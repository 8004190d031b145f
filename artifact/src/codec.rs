//! The artifact file: a MessagePack envelope around the MessagePack model.
//!
//! ```text
//! { "format": "logsieve-model",      -- foreign files are refused by this
//!   "version": 1,                     -- newer files are refused by this
//!   "sha256": bin(32),                -- checksum of `model`
//!   "model": bin(...) }               -- Model, MessagePack with field names
//! ```
//!
//! Both levels use named fields (`rmp_serde::to_vec_named`), so any
//! MessagePack reader can explore a file. The checksum covers the model
//! bytes, so a flipped bit is reported as corruption, not as nonsense.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Fitted, Model};
use crate::spec::ModelSpec;

/// The `format` value of every logsieve model file.
pub const FORMAT_NAME: &str = "logsieve-model";
/// The newest artifact format version this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Envelope<'a> {
    format: &'a str,
    version: u32,
    #[serde(with = "serde_bytes")]
    sha256: &'a [u8],
    #[serde(with = "serde_bytes")]
    model: &'a [u8],
}

/// The envelope as read back (owned: rmp-serde's `Read`-based decoder is
/// the one that can tell how many bytes it consumed).
#[derive(Deserialize)]
struct EnvelopeIn {
    format: String,
    version: u32,
    sha256: serde_bytes::ByteBuf,
    model: serde_bytes::ByteBuf,
}

/// Why bytes were refused as a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end before the artifact does.
    Truncated(String),
    /// Not a logsieve model.
    Foreign(String),
    /// Written by a newer format version.
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The checksum does not match, or the envelope around it is damaged:
    /// the bytes were altered.
    Corrupted(String),
    /// Decodes, but is inconsistent.
    Invalid(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated(d) => write!(f, "truncated model file: {d}"),
            DecodeError::Foreign(d) => write!(f, "not a logsieve model: {d}"),
            DecodeError::UnsupportedVersion { found, supported } => write!(
                f,
                "model format version {found} is newer than this logsieve reads (up to {supported}); upgrade logsieve"
            ),
            DecodeError::Corrupted(d) => write!(f, "corrupted model file: {d}"),
            DecodeError::Invalid(d) => write!(f, "invalid model: {d}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Identify a model by its checksum: the first 12 hex digits of the SHA-256
/// of the model bytes.
pub fn model_id(sha256: &[u8]) -> String {
    sha256.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Encode a model as an artifact file. Validates first: an inconsistent
/// model is never written.
pub fn encode(model: &Model) -> Result<Vec<u8>, DecodeError> {
    model.validate().map_err(|e| DecodeError::Invalid(e.join("; ")))?;
    encode_unvalidated(model)
}

/// Encode without validating: for tests and tools that must produce
/// inconsistent files on purpose. [`decode`] refuses what this lets through.
pub fn encode_unvalidated(model: &Model) -> Result<Vec<u8>, DecodeError> {
    let body = rmp_serde::to_vec_named(model).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    let digest = Sha256::digest(&body);
    let env = Envelope { format: FORMAT_NAME, version: FORMAT_VERSION, sha256: &digest, model: &body };
    rmp_serde::to_vec_named(&env).map_err(|e| DecodeError::Invalid(e.to_string()))
}

/// A decoded artifact: the model and its id.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The model.
    pub model: Model,
    /// [`model_id`] of the file.
    pub id: String,
}

fn is_eof(e: &rmp_serde::decode::Error) -> bool {
    use rmp_serde::decode::Error as E;
    match e {
        E::InvalidMarkerRead(io) | E::InvalidDataRead(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        // rmp-serde reports a bin/str length past the end of a slice as a
        // length mismatch or a syntax error mentioning EOF.
        other => other.to_string().contains("EOF") || other.to_string().contains("eof"),
    }
}

/// The byte strings every artifact's envelope starts with (MessagePack
/// `str` markers and text): its keys and its format name.
const ENVELOPE_MARKS: [&[u8]; 5] = [b"\xa6format", b"\xaelogsieve-model", b"\xa7version", b"\xa6sha256", b"\xa5model"];

/// Whether `bytes` still carry most of a logsieve envelope's header: then a
/// file that fails to parse as one is a *damaged* logsieve model (a flipped
/// bit in a marker or a key), not a foreign file. One flipped bit damages at
/// most one of the five marks; a foreign file holds none of them.
fn looks_like_envelope(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(128)];
    let found = ENVELOPE_MARKS.iter().filter(|m| head.windows(m.len()).any(|w| w == **m)).count();
    found >= 3
}

/// `Foreign(detail)`, or `Corrupted` when the bytes are a damaged logsieve
/// envelope.
fn foreign_or_damaged(bytes: &[u8], detail: String) -> DecodeError {
    if looks_like_envelope(bytes) {
        DecodeError::Corrupted(format!("the logsieve envelope is damaged: {detail}"))
    } else {
        DecodeError::Foreign(detail)
    }
}

/// Whether `found` is the format name with a few bytes altered (same
/// length, at most two bytes differ): damage rather than another format.
fn is_damaged_name(found: &str) -> bool {
    found.len() == FORMAT_NAME.len() && found.bytes().zip(FORMAT_NAME.bytes()).filter(|(a, b)| a != b).count() <= 2
}

/// Decode and validate an artifact file.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::Truncated("the file is empty".into()));
    };
    // Every artifact starts with a MessagePack map (fixmap, map16, map32).
    if !matches!(first, 0x80..=0x8f | 0xde | 0xdf) {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let hint = match bytes {
            [0x1f, 0x8b, ..] => " (looks like gzip: decompress it first)",
            [b'{', ..] => " (looks like JSON)",
            [0x00, b'a', b's', b'm', ..] => " (looks like a WebAssembly file)",
            _ => "",
        };
        return Err(foreign_or_damaged(
            bytes,
            format!("expected a MessagePack map, the file starts with {}{hint}", head.join(" ")),
        ));
    }
    let mut rest: &[u8] = bytes;
    let env: EnvelopeIn = {
        let mut de = rmp_serde::Deserializer::new(&mut rest);
        match EnvelopeIn::deserialize(&mut de) {
            Ok(env) => env,
            Err(e) if is_eof(&e) => {
                return Err(DecodeError::Truncated(format!("the file ends after {} bytes", bytes.len())));
            }
            Err(e) => {
                // A map that is not our envelope: say what it is not (or,
                // when it still carries our envelope's marks, that it is
                // damaged).
                return Err(if looks_like_envelope(bytes) {
                    DecodeError::Corrupted(format!("the logsieve envelope is damaged ({e})"))
                } else {
                    DecodeError::Foreign(format!("not a logsieve envelope ({e})"))
                });
            }
        }
    };
    if env.format != FORMAT_NAME {
        let detail = format!("format is '{}', expected '{FORMAT_NAME}'", env.format);
        return Err(if is_damaged_name(&env.format) {
            DecodeError::Corrupted(format!("the logsieve envelope is damaged: {detail}"))
        } else {
            DecodeError::Foreign(detail)
        });
    }
    if env.version > FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion { found: env.version, supported: FORMAT_VERSION });
    }
    if env.version == 0 {
        return Err(DecodeError::Corrupted("format version 0 does not exist".into()));
    }
    if !rest.is_empty() {
        return Err(DecodeError::Corrupted(format!("{} unexpected bytes after the end of the artifact", rest.len())));
    }
    let digest = Sha256::digest(&env.model);
    if env.sha256.as_slice() != digest.as_slice() {
        return Err(DecodeError::Corrupted("the SHA-256 checksum does not match the model bytes".into()));
    }
    /// The model as stored: its spec not yet checked.
    #[derive(Deserialize)]
    struct Stored {
        spec: ModelSpec,
        fitted: Option<Fitted>,
    }
    let stored: Stored = rmp_serde::from_slice(&env.model)
        .map_err(|e| DecodeError::Invalid(format!("the model does not decode: {e}")))?;
    let spec = stored.spec.validate().map_err(|e| {
        DecodeError::Invalid(e.into_iter().map(|e| format!("spec: {e}")).collect::<Vec<_>>().join("; "))
    })?;
    let model = Model { spec, fitted: stored.fitted };
    model.validate().map_err(|e| DecodeError::Invalid(e.join("; ")))?;
    Ok(Decoded { model, id: model_id(&digest) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{FeatureKind, FeatureSpec, ModelParams, ModelSpec};

    /// The largest single allocation this thread asked for, to check that a
    /// length prefix is never trusted before the bytes are there.
    mod probe {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        thread_local! {
            static LARGEST: Cell<usize> = const { Cell::new(0) };
        }

        fn note(size: usize) {
            let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
        }

        /// Resets the record and returns the largest allocation `f` made.
        pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
            LARGEST.with(|m| m.set(0));
            let out = f();
            (out, LARGEST.with(Cell::get))
        }

        struct Probe;

        // SAFETY: every call is forwarded to the system allocator unchanged.
        unsafe impl GlobalAlloc for Probe {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                note(layout.size());
                // SAFETY: forwarded unchanged, under the caller's contract.
                unsafe { System.alloc(layout) }
            }
            unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
                note(layout.size());
                // SAFETY: forwarded unchanged, under the caller's contract.
                unsafe { System.alloc_zeroed(layout) }
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                note(new_size);
                // SAFETY: forwarded unchanged, under the caller's contract.
                unsafe { System.realloc(ptr, layout, new_size) }
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                // SAFETY: forwarded unchanged, under the caller's contract.
                unsafe { System.dealloc(ptr, layout) }
            }
        }

        #[global_allocator]
        static PROBE: Probe = Probe;
    }

    fn model() -> Model {
        let feature = |field: &str| FeatureSpec {
            field: field.into(),
            name: None,
            kind: FeatureKind::Numeric,
            log1p: false,
            missing: None,
        };
        let spec = ModelSpec::new(
            serde_json::from_str::<ModelParams>(r#"{"kind":"kmeans","n_clusters":1}"#).unwrap(),
            vec![feature("a"), feature("b")],
        );
        Model { spec: spec.validate().expect("a valid spec"), fitted: None }
    }

    /// An envelope with a correct checksum around any model bytes.
    fn wrap(body: &[u8]) -> Vec<u8> {
        let digest = Sha256::digest(body);
        let env = Envelope { format: FORMAT_NAME, version: FORMAT_VERSION, sha256: &digest, model: body };
        rmp_serde::to_vec_named(&env).unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = encode(&model()).unwrap();
        let d = decode(&bytes).unwrap();
        assert_eq!(d.model, model());
        assert_eq!(d.id.len(), 12);
        assert_eq!(bytes, wrap(&rmp_serde::to_vec_named(&model()).unwrap()));
    }

    #[test]
    fn a_huge_length_prefix_is_not_trusted() {
        // The model's bin claims 4 GiB (bin32 0xffffffff), then 3 bytes.
        let good = encode(&model()).unwrap();
        let at = good.windows(6).position(|w| w == b"\xa5model").unwrap() + 6;
        let mut huge = good[..at].to_vec();
        huge.extend_from_slice(&[0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        let (r, largest) = probe::largest_allocation(|| decode(&huge));
        assert_eq!(r.unwrap_err(), DecodeError::Truncated(format!("the file ends after {} bytes", huge.len())));
        assert!(largest > 0 && largest < 1 << 20, "decoding allocated {largest} bytes at once");

        // Inside the (checksummed) model: a centroid-like array claiming
        // 2^32 - 1 elements, and a string claiming 4 GiB.
        let body = rmp_serde::to_vec_named(&model()).unwrap();
        let at = body.windows(9).position(|w| w == b"\xa8features").unwrap() + 9;
        for claim in [&[0xdd, 0xff, 0xff, 0xff, 0xff][..], &[0xdb, 0xff, 0xff, 0xff, 0xff]] {
            let mut bad = body[..at].to_vec();
            bad.extend_from_slice(claim);
            bad.extend_from_slice(&body[at + 1..]);
            let (r, largest) = probe::largest_allocation(|| decode(&wrap(&bad)));
            assert!(matches!(r, Err(DecodeError::Invalid(ref d)) if d.contains("does not decode")), "{r:?}");
            assert!(largest < 1 << 20, "decoding allocated {largest} bytes at once");
        }
    }

    #[test]
    fn a_damaged_envelope_is_corrupted_not_foreign() {
        let good = encode(&model()).unwrap();
        let flip = |at: usize, mask: u8| {
            let mut b = good.clone();
            b[at] ^= mask;
            decode(&b).unwrap_err()
        };
        let key = |k: &[u8]| good.windows(k.len()).position(|w| w == k).unwrap();
        for (what, e) in [
            // fixmap(4) -> fixmap(0): every key missing.
            ("map of 0", flip(0, 0x04)),
            // fixmap -> positive fixint: not a map at all.
            ("not a map", flip(0, 0x80)),
            // A letter of a key: `format` goes missing.
            ("key", flip(key(b"\xa6format") + 2, 0x01)),
            // A letter of the format name.
            ("name", flip(key(b"\xaelogsieve-model") + 3, 0x01)),
            // The version 1 becomes fixmap(1).
            ("version", flip(key(b"\xa7version") + 8, 0x80)),
            // The checksum's bin8 marker becomes a uint8.
            ("marker", flip(key(b"\xa6sha256") + 7, 0x08)),
        ] {
            match e {
                DecodeError::Corrupted(d) => {
                    assert!(d.starts_with("the logsieve envelope is damaged"), "{what}: {d}")
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        // Foreign files stay foreign.
        for bytes in [
            rmp_serde::to_vec_named(&serde_json::json!({"format": "other", "version": 1})).unwrap(),
            rmp_serde::to_vec_named(&serde_json::json!({"a": 1})).unwrap(),
            b"hello".to_vec(),
        ] {
            assert!(matches!(decode(&bytes), Err(DecodeError::Foreign(_))), "{bytes:?}: {:?}", decode(&bytes));
        }
        let other = rmp_serde::to_vec_named(&serde_json::json!({
            "format": "logsieve-other-thing", "version": 1, "sha256": [0], "model": [0]
        }))
        .unwrap();
        assert!(matches!(decode(&other), Err(DecodeError::Foreign(d)) if d.contains("logsieve-other-thing")));
    }
}
