//! Arbitrary event texts through the native scorer of three small models
//! (trained by scripts/fuzz.sh from the pipeline examples' samples): one outcome per event, every scored event (and every aggregate
//! emitted) is a JSON object that is the input plus the `logsieve` key, no
//! panics.
//!
//! Input: the first byte picks the model and the options, the rest is split
//! on `\n` into events (lossy UTF-8: the host hands the plugin strings).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logsieve_plugin::{Options, Outcome, ScoredLine, Scorer, Verdict};
use serde_json::Value;

/// The models scored against, trained from the pipeline examples' samples by
/// scripts/fuzz.sh into `fuzz/work/models/` (or `$LOGSIEVE_FUZZ_MODELS`),
/// so they always have the current artifact format:
/// k-means with derived fields (inter_arrival, clamp, equals, in_set);
/// k-modes over categorical fields, with a CIDR table and time buckets;
/// k-means over per-host aggregates (`[aggregate]`, window "all").
const MODEL_FILES: [&str; 3] = ["flows.model.msgpack", "dce-rpc.model.msgpack", "kerberos-hosts.model.msgpack"];

fn models() -> &'static [Vec<u8>; 3] {
    static MODELS: std::sync::OnceLock<[Vec<u8>; 3]> = std::sync::OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = std::env::var_os("LOGSIEVE_FUZZ_MODELS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("work/models"));
        MODEL_FILES.map(|f| {
            let p = dir.join(f);
            std::fs::read(&p).unwrap_or_else(|e| {
                panic!("reading {}: {e} (scripts/fuzz.sh trains these models before it fuzzes)", p.display())
            })
        })
    })
}

/// A scored event is JSON text (RFC 8259 grammar) holding one object: the
/// input's members plus `logsieve`.
fn check_scored(input: Option<&str>, out: &str) {
    // The grammar: serde_json reading into `IgnoredAny` checks exactly the
    // syntax (it lets a lone surrogate escape such as "\ud800" through, as
    // the grammar does; a `Value` refuses it).
    serde_json::from_str::<serde::de::IgnoredAny>(out)
        .unwrap_or_else(|e| panic!("scored output is not JSON ({e}): {out}"));
    assert!(out.trim_start().starts_with('{'), "scored output is not an object: {out}");
    let Ok(v) = serde_json::from_str::<Value>(out) else {
        // Only for an input that already held a lone surrogate escape in a
        // field the model does not read (the scorer copies the text).
        let input = input.unwrap_or_else(|| panic!("an aggregate event is not a serde_json Value: {out}"));
        assert!(serde_json::from_str::<Value>(input).is_err(), "the scorer made {input:?} into {out}");
        return;
    };
    let Value::Object(mut obj) = v else { panic!("scored output is not an object: {out}") };
    let verdict = obj.remove("logsieve").unwrap_or_else(|| panic!("no logsieve key: {out}"));
    assert!(verdict.is_object(), "logsieve is not an object: {out}");
    assert!(verdict.get("anomaly").is_some_and(Value::is_boolean), "no anomaly verdict: {out}");
    if let Some(input) = input {
        // The scorer appends to the event's text: what it read is the same
        // object serde_json reads.
        let v_in: Value = serde_json::from_str(input)
            .unwrap_or_else(|e| panic!("the scorer accepted text serde_json refuses ({e}): {input:?}"));
        assert_eq!(Value::Object(obj), v_in, "the scored event differs from its input: {input:?} -> {out}");
    }
}

/// The verdict record says what the text's `logsieve` object says.
fn check_verdict(text: &str, v: &Verdict) {
    let out: Value = serde_json::from_str(text).expect("a scored text is JSON");
    let l = &out["logsieve"];
    assert_eq!(l["cluster"].as_u64().map(|c| c as u32), v.cluster, "{text}");
    assert_eq!(l["score"].as_f64(), v.score, "{text}");
    assert_eq!(l["anomaly"].as_bool(), Some(v.anomaly()), "{text}");
    let reasons: Vec<&str> = l["reasons"].as_array().expect("reasons").iter().filter_map(Value::as_str).collect();
    assert_eq!(reasons, v.reasons.names().collect::<Vec<_>>(), "{text}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let model = &models()[usize::from(ctl % 3)];
    let options = Options { top_features: u32::from((ctl >> 2) & 7), emit_vector: ctl & 0x20 != 0 };
    let mut scorer = Scorer::new(model, options).expect("the trained model loads");
    // A twin fed the same batches as NDJSON through `score_lines`, the call
    // the pipeline makes: the same outcomes and texts, the same aggregates,
    // and each verdict the one its text states.
    let mut twin = Scorer::new(model, options).expect("the trained model loads");
    let text = String::from_utf8_lossy(rest);
    let events: Vec<&str> = text.split('\n').collect();
    // Two batches, so state (windows, inter-arrival) carries across calls.
    let mid = events.len() / 2;
    for batch in [&events[..mid], &events[mid..]] {
        let b = scorer.score_batch(batch);
        assert_eq!(b.outcomes.len(), batch.len(), "one outcome per event");
        let ndjson = if batch.is_empty() { String::new() } else { batch.join("\n") + "\n" };
        let t = twin.score_lines(&ndjson);
        assert_eq!(t.outcomes.len(), batch.len(), "score_lines: one outcome per line");
        let as_text = |o: &Outcome<ScoredLine>| -> Outcome {
            o.clone().map(|s| {
                let end = (s.offset + s.len) as usize;
                assert_eq!(t.text.as_bytes().get(end), Some(&b'\n'), "a scored text ends with a newline");
                let text = t.slice(&s);
                check_verdict(text, &s.verdict);
                text.to_string()
            })
        };
        for (o, want) in t.outcomes.iter().zip(&b.outcomes) {
            assert_eq!(&as_text(o), want, "score_lines and score_batch differ");
        }
        let emitted: Vec<Result<String, _>> = t
            .emitted
            .iter()
            .map(|o| match as_text(o) {
                Outcome::Scored(s) => Ok(s),
                Outcome::Failed(e) => Err(e),
                other => panic!("an aggregate is scored or fails, not {other:?}"),
            })
            .collect();
        assert_eq!(emitted, b.emitted, "score_lines and score_batch emit different aggregates");
        for (event, outcome) in batch.iter().zip(&b.outcomes) {
            match outcome {
                Outcome::Scored(out) => check_scored(Some(event), out),
                Outcome::Failed(e) => {
                    assert!(!e.detail.is_empty(), "an error without reason or detail: {e:?}")
                }
                Outcome::Passed | Outcome::Dropped | Outcome::Absorbed => {}
            }
        }
        for r in &b.emitted {
            match r {
                Ok(out) => check_scored(None, out),
                Err(e) => assert!(!e.detail.is_empty(), "{e:?}"),
            }
        }
    }
    let flushed = scorer.flush();
    let lines = twin.flush_lines();
    let twin_flushed: Vec<Result<String, _>> = lines
        .emitted
        .iter()
        .map(|o| match o {
            Outcome::Scored(s) => {
                check_verdict(lines.slice(s), &s.verdict);
                Ok(lines.slice(s).to_string())
            }
            Outcome::Failed(e) => Err(e.clone()),
            other => panic!("an aggregate is scored or fails, not {other:?}"),
        })
        .collect();
    assert_eq!(flushed, twin_flushed, "the twins flush different aggregates");
    for r in flushed {
        match r {
            Ok(out) => check_scored(None, &out),
            Err(e) => assert!(!e.detail.is_empty(), "{e:?}"),
        }
    }
});
