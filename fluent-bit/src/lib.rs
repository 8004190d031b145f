//! The logsieve scorer as a Fluent Bit filter (`filter_wasm`).
//!
//! Built for `wasm32-wasip1` this crate is a plain core module that Fluent
//! Bit's `wasm` filter loads (see `docs/fluent-bit.md`). It exports
//!
//! - `logsieve_filter(tag, tag_len, sec, nsec, record, record_len) -> ptr`:
//!   the function `Function_Name` names. With `Event_Format json` Fluent
//!   Bit hands it each record as a NUL-terminated JSON text and reads back
//!   the NUL-terminated JSON text it returns: the record to keep, or `""`
//!   to drop the record. Fluent Bit copies the returned text and never frees
//!   it; it stays valid until the next call.
//! - `malloc` and `free` (wasi-libc's, the allocator Rust uses here too):
//!   Fluent Bit's runtime (WAMR) copies the tag and the record into the
//!   module with them (`wasm_runtime_module_dup_data`) and frees both after
//!   the call.
//!
//! Scoring is [`logsieve_plugin::Scorer`] — the code the component runs —
//! and nothing else: a scored record is exactly the text `logsieve run`
//! writes for that event (the record with the `logsieve` object appended).
//!
//! Fluent Bit gives the module no arguments, so where the model is comes
//! from a configuration block in the module's data: [`CONFIG_LEN`] bytes
//! that start as [`unset_block`] and that `logsieve fluent-bit --model PATH`
//! replaces, byte for byte, with the [`Config`] as JSON padded with NULs
//! ([`patch`]). The model is read through WASI at the first call, so its
//! folder must be in the filter's `Accessible_Paths`.

use logsieve_plugin::{Options, Outcome, Scorer};
use serde::{Deserialize, Serialize};

/// Bytes of the configuration block.
pub const CONFIG_LEN: usize = 4096;

/// What the configuration block starts with before it is written.
pub const MARKER: &[u8] = b"logsieve-fluent-bit-config-v1:unset:";

/// What the rest of an unwritten block holds (not NUL, so the block is
/// stored in the module as it is).
pub const FILLER: u8 = b'~';

/// The configuration block as built: [`MARKER`], then [`FILLER`].
pub const fn unset_block() -> [u8; CONFIG_LEN] {
    let mut b = [FILLER; CONFIG_LEN];
    let mut i = 0;
    while i < MARKER.len() {
        b[i] = MARKER[i];
        i += 1;
    }
    b
}

/// What the filter is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The model file, as the module sees it through WASI (an absolute path
    /// under one of the `Accessible_Paths`).
    pub model: String,
    /// Features explained per scored event (`top_features` of a pipeline).
    pub top_features: u32,
    /// Also write the scaled vector (`emit_vector` of a pipeline).
    pub emit_vector: bool,
}

impl Config {
    /// The block this configuration is written as: its JSON, then NULs (at
    /// least one). A model path too long for the block is refused.
    pub fn to_block(&self) -> Result<[u8; CONFIG_LEN], String> {
        let json = serde_json::to_vec(self).expect("a config serializes");
        if json.len() >= CONFIG_LEN {
            return Err(format!(
                "the model path is too long for the module: its configuration takes {} bytes, \
                 at most {} fit (paths up to about {} bytes)",
                json.len(),
                CONFIG_LEN - 1,
                CONFIG_LEN - 1 - (json.len() - self.model.len())
            ));
        }
        let mut b = [0u8; CONFIG_LEN];
        b[..json.len()].copy_from_slice(&json);
        Ok(b)
    }

    /// Read a block: an unwritten one is an error (`model_unavailable`).
    pub fn from_block(block: &[u8]) -> Result<Config, FilterError> {
        if block.starts_with(MARKER) {
            return Err(FilterError::new(
                MODEL_UNAVAILABLE,
                "this module has no model configured: write it with `logsieve fluent-bit --model PATH -o FILE.wasm`",
            ));
        }
        let end = block.iter().position(|&b| b == 0).unwrap_or(block.len());
        serde_json::from_slice(&block[..end])
            .map_err(|e| FilterError::new(MODEL_UNAVAILABLE, format!("the module's configuration is unreadable: {e}")))
    }
}

/// The module with its configuration block replaced by `config`'s. The
/// unwritten block must be in it exactly once.
pub fn patch(module: &[u8], config: &Config) -> Result<Vec<u8>, String> {
    let unset = unset_block();
    let mut found = module.windows(CONFIG_LEN).enumerate().filter(|(_, w)| *w == unset).map(|(i, _)| i);
    let at = match (found.next(), found.next()) {
        (Some(at), None) => at,
        (None, _) => return Err("the module holds no unwritten configuration block (was it written already?)".into()),
        (Some(_), Some(_)) => return Err("the module holds more than one configuration block".into()),
    };
    let block = config.to_block()?;
    let mut out = module.to_vec();
    out[at..at + CONFIG_LEN].copy_from_slice(&block);
    Ok(out)
}

/// The model could not be read (no path configured, a missing file, a
/// folder not in `Accessible_Paths`).
pub const MODEL_UNAVAILABLE: &str = "model_unavailable";
/// The artifact decoder refused the model (the detail is its message).
pub const MODEL_REFUSED: &str = "model_refused";
/// A model the filter does not score: `[aggregate]` windows (one record in,
/// one record out: a filter cannot emit a window's aggregate), or a spec
/// without a fit.
pub const MODEL_UNSUPPORTED: &str = "model_unsupported";
/// The record is not UTF-8 (Fluent Bit's JSON always is).
pub const INVALID_UTF8: &str = "invalid_utf8";

/// Why a record was not scored: the `logsieve_error` object's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// A stable code: a scoring reason of `docs/errors.md`, or one of this
    /// crate's constants.
    pub reason: String,
    /// What happened, for a person.
    pub detail: String,
}

impl FilterError {
    /// A new error.
    pub fn new(reason: &str, detail: impl Into<String>) -> FilterError {
        FilterError { reason: reason.to_string(), detail: detail.into() }
    }
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// Load a model the way the filter does: decoded and checked by the
/// scorer's own decoder, then refused if the filter cannot score it.
pub fn load_model(bytes: &[u8], options: Options) -> Result<Scorer, FilterError> {
    let scorer = Scorer::new(bytes, options).map_err(|e| FilterError::new(MODEL_REFUSED, e.to_string()))?;
    let model = scorer.model();
    if model.spec.aggregate.is_some() {
        return Err(FilterError::new(
            MODEL_UNSUPPORTED,
            "the model aggregates events in windows ([aggregate]); a Fluent Bit filter gives one record for each \
             record and cannot emit a window's aggregate: score it with `logsieve run`",
        ));
    }
    if model.fitted.is_none() {
        return Err(FilterError::new(
            MODEL_UNSUPPORTED,
            "the model holds only a spec (no fit): train it before scoring",
        ));
    }
    Ok(scorer)
}

/// Load the model a configuration block names, reading the file with `read`
/// (WASI in the module).
pub fn load_configured(
    block: &[u8],
    read: impl FnOnce(&str) -> std::io::Result<Vec<u8>>,
) -> Result<Scorer, FilterError> {
    let config = Config::from_block(block)?;
    let bytes = read(&config.model).map_err(|e| {
        FilterError::new(
            MODEL_UNAVAILABLE,
            format!("reading the model {}: {e} (is its folder listed in the filter's Accessible_Paths?)", config.model),
        )
    })?;
    load_model(&bytes, Options { top_features: config.top_features, emit_vector: config.emit_vector })
}

/// The filter: a scorer, or why there is none (every record then carries
/// that error).
pub struct Filter {
    scorer: Result<Scorer, FilterError>,
    text: String,
}

impl Filter {
    /// A filter around a loaded model, or the error loading it gave.
    pub fn new(scorer: Result<Scorer, FilterError>) -> Filter {
        Filter { scorer, text: String::new() }
    }

    /// The error every record gets when the model could not be loaded.
    pub fn load_error(&self) -> Option<&FilterError> {
        self.scorer.as_ref().err()
    }

    /// One record: what to hand back into `out` (cleared first; no NUL).
    /// Scored: the record with the `logsieve` object appended, as `logsieve
    /// run` writes it; passed (`[[where]]` keeps it unscored): the record
    /// unchanged; dropped: nothing; not scored: the record with a
    /// `logsieve_error` object appended.
    pub fn record(&mut self, record: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let scorer = match &mut self.scorer {
            Ok(s) => s,
            Err(e) => return with_error(record, e, out),
        };
        let Ok(text) = std::str::from_utf8(record) else {
            let e = FilterError::new(INVALID_UTF8, "the record is not valid UTF-8");
            return with_error(record, &e, out);
        };
        self.text.clear();
        match scorer.score_into(text, &mut self.text) {
            Outcome::Scored(_) => out.extend_from_slice(self.text.as_bytes()),
            Outcome::Passed => out.extend_from_slice(record),
            // An absorbed event needs windows, which load_model refuses.
            Outcome::Dropped | Outcome::Absorbed => {}
            Outcome::Failed(e) => with_error(record, &FilterError::new(e.reason.as_str(), e.detail), out),
        }
    }
}

/// `record` with `"logsieve_error":{"reason":…,"detail":…}` appended when it
/// is a JSON object; otherwise a new object with the error and the record's
/// text as `logsieve_record`. Into `out`, cleared first.
fn with_error(record: &[u8], e: &FilterError, out: &mut Vec<u8>) {
    out.clear();
    let json = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let member = format!("\"logsieve_error\":{{\"reason\":{},\"detail\":{}}}", json(&e.reason), json(&e.detail));
    let text = String::from_utf8_lossy(record);
    let object = serde_json::from_str::<std::collections::BTreeMap<String, serde::de::IgnoredAny>>(&text).ok();
    match object {
        Some(map) => {
            let body = text.trim_end();
            let body = &body[..body.len() - 1]; // the closing '}'
            out.extend_from_slice(body.as_bytes());
            if !map.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(member.as_bytes());
            out.push(b'}');
        }
        None => {
            out.push(b'{');
            out.extend_from_slice(member.as_bytes());
            out.extend_from_slice(b",\"logsieve_record\":");
            out.extend_from_slice(json(&text).as_bytes());
            out.push(b'}');
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod module {
    //! The module's exports (wasm32 only).

    use std::cell::RefCell;

    use super::{CONFIG_LEN, Filter, load_configured, unset_block};

    /// The configuration block `logsieve fluent-bit` writes.
    #[used]
    static CONFIG: [u8; CONFIG_LEN] = unset_block();

    thread_local! {
        static FILTER: RefCell<Option<Filter>> = const { RefCell::new(None) };
        static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// The filter function for `filter_wasm` (`Function_Name
    /// logsieve_filter`, `Event_Format json`): the record at `record`
    /// (`record_len` bytes), and a pointer to the NUL-terminated JSON text to
    /// keep (`""`: drop the record), valid until the next call. The tag and
    /// the time are not used.
    ///
    /// # Safety
    ///
    /// `record` points to `record_len` readable bytes (Fluent Bit's copy of
    /// the record in this module's memory).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn logsieve_filter(
        _tag: *const u8,
        _tag_len: i32,
        _sec: u32,
        _nsec: u32,
        record: *const u8,
        record_len: i32,
    ) -> *const u8 {
        let record: &[u8] = if record.is_null() || record_len <= 0 {
            &[]
        } else {
            // SAFETY: the caller hands `record_len` bytes at `record`.
            unsafe { std::slice::from_raw_parts(record, record_len as usize) }
        };
        FILTER.with_borrow_mut(|filter| {
            let filter = filter.get_or_insert_with(|| {
                // SAFETY: CONFIG is a static of CONFIG_LEN bytes; read
                // through a volatile load so that the block written into
                // the module after it was built is what is read.
                let block = unsafe { std::ptr::read_volatile(&CONFIG) };
                let f = Filter::new(load_configured(&block, |p| std::fs::read(p)));
                if let Some(e) = f.load_error() {
                    eprintln!("[logsieve_filter] {e}; every record gets this error in `logsieve_error`");
                }
                f
            });
            OUT.with_borrow_mut(|out| {
                filter.record(record, out);
                out.push(0);
                out.as_ptr()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_round_trips_and_a_long_path_is_refused() {
        let c = Config { model: "/etc/logsieve/conn.model.msgpack".into(), top_features: 3, emit_vector: false };
        let b = c.to_block().unwrap();
        assert_eq!(Config::from_block(&b).unwrap(), c);
        assert_eq!(Config::from_block(&unset_block()).unwrap_err().reason, MODEL_UNAVAILABLE);
        let long = Config { model: "/".repeat(CONFIG_LEN), ..c };
        assert!(long.to_block().unwrap_err().contains("too long"), "{:?}", long.to_block());
    }

    #[test]
    fn patch_finds_the_block_once() {
        let c = Config { model: "/m".into(), top_features: 0, emit_vector: true };
        let mut module = b"head".to_vec();
        module.extend_from_slice(&unset_block());
        module.extend_from_slice(b"tail");
        let p = patch(&module, &c).unwrap();
        assert_eq!(p.len(), module.len());
        assert_eq!(Config::from_block(&p[4..4 + CONFIG_LEN]).unwrap(), c);
        assert!(patch(&p, &c).unwrap_err().contains("no unwritten"));
        let mut twice = module.clone();
        twice.extend_from_slice(&unset_block());
        assert!(patch(&twice, &c).unwrap_err().contains("more than one"));
    }

    #[test]
    fn errors_are_appended_to_objects_and_wrap_the_rest() {
        let e = FilterError::new("wrong_type", "field \"x\"");
        let mut out = Vec::new();
        with_error(br#"{"a":1} "#, &e, &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"a":1,"logsieve_error":{"reason":"wrong_type","detail":"field \"x\""}}"#
        );
        with_error(b"{ }", &e, &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{ "logsieve_error":{"reason":"wrong_type","detail":"field \"x\""}}"#
        );
        with_error(b"[1]", &e, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["logsieve_record"], "[1]");
        assert_eq!(v["logsieve_error"]["reason"], "wrong_type");
    }
}
