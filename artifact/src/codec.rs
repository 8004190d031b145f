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

use crate::model::Model;

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
    /// The checksum does not match: the bytes were altered.
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
        return Err(DecodeError::Foreign(format!(
            "expected a MessagePack map, the file starts with {}{hint}",
            head.join(" ")
        )));
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
                // A map that is not our envelope: say what it is not.
                return Err(DecodeError::Foreign(format!("not a logsieve envelope ({e})")));
            }
        }
    };
    if env.format != FORMAT_NAME {
        return Err(DecodeError::Foreign(format!("format is '{}', expected '{FORMAT_NAME}'", env.format)));
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
    let model: Model = rmp_serde::from_slice(&env.model)
        .map_err(|e| DecodeError::Invalid(format!("the model does not decode: {e}")))?;
    model.validate().map_err(|e| DecodeError::Invalid(e.join("; ")))?;
    Ok(Decoded { model, id: model_id(&digest) })
}
