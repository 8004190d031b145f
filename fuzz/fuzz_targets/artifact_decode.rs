//! Arbitrary bytes as a model artifact: `decode` and `Scorer::new` never
//! panic and agree; what decodes re-encodes (and decodes again to the same
//! bytes), and a model that loads scores a few events into JSON objects.
//!
//! Input: the first byte's low bit picks how the rest is used: 0 → the
//! whole artifact file (envelope, checksum and all), 1 → the model body,
//! wrapped here in a valid envelope with a correct checksum (the fuzzer
//! cannot forge SHA-256, so without this the model decoder and validation
//! would only ever see the committed models). Run with a small
//! `-malloc_limit_mb` so a huge length prefix that makes the decoder
//! allocate is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logsieve_artifact::{DecodeError, FORMAT_NAME, FORMAT_VERSION, decode, encode};
use logsieve_plugin::{Options, Outcome, Scorer};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize)]
struct Envelope<'a> {
    format: &'a str,
    version: u32,
    #[serde(with = "serde_bytes")]
    sha256: &'a [u8],
    #[serde(with = "serde_bytes")]
    model: &'a [u8],
}

fn wrap(body: &[u8]) -> Vec<u8> {
    let digest = Sha256::digest(body);
    rmp_serde::to_vec_named(&Envelope { format: FORMAT_NAME, version: FORMAT_VERSION, sha256: &digest, model: body })
        .expect("an envelope serializes")
}

const EVENTS: &[&str] = &[
    "{}",
    r#"{"ts":1713484800.5,"duration":1.5,"orig_bytes":100,"proto":"tcp","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","id.resp_p":443}"#,
    r#"{"StartTime":"2013/12/17 22:09:19.500617","TotBytes":1000,"TotPkts":3,"Sport":22,"SrcAddr":"8.8.8.8","endpoint":"svcctl"}"#,
    r#"{"ts":"2024-04-19T10:00:00Z","a":null,"b":[1],"c":{"d":1},"e":"x","f":-1e300}"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let wrapped;
    let bytes = if mode & 1 == 0 {
        rest
    } else {
        wrapped = wrap(rest);
        &wrapped
    };
    let decoded = decode(bytes);
    let options = Options { top_features: 3, emit_vector: mode & 2 != 0 };
    let scorer = Scorer::new(bytes, options);
    match decoded {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if let DecodeError::Truncated(d)
            | DecodeError::Foreign(d)
            | DecodeError::Corrupted(d)
            | DecodeError::Invalid(d) = &e
            {
                assert!(!d.is_empty(), "{e:?} without a detail");
            }
            assert_eq!(scorer.err(), Some(e), "Scorer::new and decode disagree");
        }
        Ok(d) => {
            let again = encode(&d.model).unwrap_or_else(|e| panic!("a decoded model does not re-encode: {e}"));
            let d2 = decode(&again).unwrap_or_else(|e| panic!("a re-encoded model does not decode: {e}"));
            let again2 = encode(&d2.model).expect("re-encodes twice");
            assert_eq!(again, again2, "encoding is not stable across a round trip");
            match scorer {
                // The recipe (filters, derives, windows) is checked when a
                // scorer is built; it may refuse what the artifact allows.
                Err(e) => assert!(matches!(e, DecodeError::Invalid(_)), "{e:?}"),
                Ok(mut s) => {
                    let info = s.info();
                    assert_eq!(info.id, d.id);
                    let b = s.score_batch(EVENTS);
                    assert_eq!(b.outcomes.len(), EVENTS.len());
                    let outs = b.outcomes.iter().filter_map(|o| match o {
                        Outcome::Scored(s) => Some(s.clone()),
                        _ => None,
                    });
                    let emitted = b.emitted.into_iter().chain(s.flush()).filter_map(Result::ok);
                    for out in outs.chain(emitted) {
                        let v: serde_json::Value = serde_json::from_str(&out)
                            .unwrap_or_else(|e| panic!("scored output is not JSON ({e}): {out}"));
                        assert!(v.is_object() && v["logsieve"].is_object(), "{out}");
                    }
                }
            }
        }
    }
});
