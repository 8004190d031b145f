//! The component itself: it imports nothing, it gives the same bytes as the
//! native library, and it refuses bad models with typed errors.

mod common;

use logsieve::runtime::{
    EMBEDDED_COMPONENT, Encoded, Extracted, LineOutcome, ModelError, Options, Outcome, Reasons, Runtime, ScoredLines,
    Verdict,
};
use logsieve_artifact::{Model, decode, encode, encode_unvalidated};
use logsieve_plugin::Scorer;

fn runtime() -> Runtime {
    Runtime::new(EMBEDDED_COMPONENT, None).expect("the embedded component compiles")
}

const OPTS: Options = Options { top_features: 3, emit_vector: false };

#[test]
fn the_component_imports_nothing_and_exports_the_contract() {
    let rt = runtime();
    assert_eq!(rt.imports(), Vec::<String>::new(), "the component must not import anything (no WASI)");
    assert_eq!(rt.exports(), vec!["logsieve:transform/scoring@0.5.0".to_string()]);
}

/// Bad events of every kind the scorer must report, each with its reason.
fn bad_events() -> Vec<(String, &'static str)> {
    vec![
        ("{\"duration\": 1.5, ".into(), "invalid_json"),
        ("".into(), "invalid_json"),
        ("[1, 2, 3]".into(), "not_an_object"),
        ("\"text\"".into(), "not_an_object"),
        ("{\"duration\": \"long\"}".into(), "wrong_type"),
        ("{\"orig_bytes\": [1]}".into(), "wrong_type"),
        ("{\"orig_bytes\": -5}".into(), "non_finite"),
        ("{\"orig_bytes\": 1e400}".into(), "non_finite"),
        ("{\"logsieve\": 1}".into(), "field_conflict"),
    ]
}

#[test]
fn native_and_wasm_outputs_are_identical_byte_for_byte() {
    let model = common::train_rita("2024-04-19");
    let mut events = common::rita_events("2024-04-20");
    events.truncate(20_000);
    // Edge cases that score: empty object, strings for numbers, booleans, nulls.
    events.push("{}".into());
    events.push("{\"duration\":\"12.5\",\"orig_bytes\":true,\"resp_bytes\":null}".into());
    events.push("  {\"orig_pkts\": 3}  ".into());
    let bad = bad_events();
    events.extend(bad.iter().map(|(e, _)| e.clone()));

    let mut native = Scorer::new(&model, logsieve_plugin::Options { top_features: 3, emit_vector: false }).unwrap();
    let rt = runtime();
    let mut inst = rt.instantiate(&model, OPTS).unwrap().expect("the model loads");
    let mut wasm = Vec::new();
    for chunk in events.chunks(1000) {
        let batch = inst.score_batch(chunk).unwrap();
        assert!(batch.emitted.is_empty(), "a per-event model emits no aggregates");
        wasm.extend(batch.outcomes.into_iter().map(|o| match o {
            Outcome::Scored(s) => Ok(s),
            Outcome::Failed(e) => Err(e),
            other => panic!("a per-event model without filters only scores or fails: {other:?}"),
        }));
    }
    assert_eq!(wasm.len(), events.len());
    let mut scored = 0;
    for (i, (event, w)) in events.iter().zip(&wasm).enumerate() {
        match (native.score(event), w) {
            (Ok(n), Ok(w)) => {
                assert_eq!(&n, w, "event {i} differs");
                // The output is the original event plus one key.
                let orig = event.trim_end();
                assert!(n.starts_with(&orig[..orig.len() - 1]), "event {i}: output does not start with the event");
                let v: serde_json::Value = serde_json::from_str(&n).unwrap();
                assert!(v["logsieve"]["cluster"].is_u64());
                scored += 1;
            }
            (Err(n), Err(w)) => {
                assert_eq!(n.reason, w.reason, "event {i}");
                assert_eq!(n.detail, w.detail, "event {i}");
            }
            (n, w) => panic!("event {i}: native {n:?} but wasm {w:?}"),
        }
    }
    assert_eq!(scored, events.len() - bad.len());
    for ((event, reason), w) in bad.iter().zip(&wasm[events.len() - bad.len()..]) {
        let e = w.as_ref().expect_err(event);
        assert_eq!(e.reason, *reason, "{event:?}: {}", e.detail);
    }
}

#[test]
fn extraction_works_on_a_spec_only_model_and_scoring_does_not() {
    let model = common::train_rita("2024-04-19");
    let spec = decode(&model).unwrap().model.spec;
    let spec_only = encode(&Model { spec, fitted: None }).unwrap();
    let rt = runtime();
    let mut inst = rt.instantiate(&spec_only, OPTS).unwrap().unwrap();
    let out =
        inst.extract_batch(&["{\"duration\":1.0,\"orig_bytes\":\"x\"}".into(), "{\"duration\":0}".into()]).unwrap();
    assert!(matches!(&out.outcomes[0], Extracted::Failed(e) if e.reason == "wrong_type"));
    let Extracted::Features(vals) = &out.outcomes[1] else { panic!("{:?}", out.outcomes[1]) };
    assert_eq!(vals.len(), 7);
    assert!(matches!(vals[0], logsieve::runtime::FeatureValue::Number(x) if x == 0.0));
    assert!(matches!(vals[1], logsieve::runtime::FeatureValue::Missing));
    let s = inst.score_batch(&["{}".into()]).unwrap();
    assert!(matches!(&s.outcomes[0], Outcome::Failed(e) if e.reason == "not_fitted"));
}

#[test]
fn bad_models_are_refused_with_typed_errors() {
    let good = common::train_rita("2024-04-19");
    let rt = runtime();
    let refuse = |bytes: &[u8]| -> ModelError {
        match rt.instantiate(bytes, OPTS).unwrap() {
            Ok(_) => panic!("a bad model was accepted"),
            Err(e) => e,
        }
    };
    // Truncated at several offsets.
    for cut in [1, 10, good.len() / 2, good.len() - 1] {
        assert!(matches!(refuse(&good[..cut]), ModelError::Truncated(_)), "cut at {cut}");
    }
    assert!(matches!(refuse(&[]), ModelError::Truncated(_)));
    // Foreign.
    assert!(matches!(refuse(b"hello world"), ModelError::Foreign(_)));
    assert!(matches!(refuse(&[0x1f, 0x8b, 8, 0]), ModelError::Foreign(d) if d.contains("gzip")));
    assert!(matches!(refuse(EMBEDDED_COMPONENT), ModelError::Foreign(_)));
    // A flipped bit in the model bytes.
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 20] ^= 0x04;
    assert!(matches!(refuse(&flipped), ModelError::Corrupted(_)));
    // Trailing garbage.
    let mut long = good.clone();
    long.extend_from_slice(b"xx");
    assert!(matches!(refuse(&long), ModelError::Corrupted(_)));
    // A newer format version: the envelope's `version` value 1 -> 99.
    let key = b"\xa7version\x01";
    let at = good.windows(key.len()).position(|w| w == key).expect("the envelope has a version key");
    let mut newer = good.clone();
    newer[at + key.len() - 1] = 99;
    match refuse(&newer) {
        ModelError::UnsupportedVersion(v) => assert_eq!((v.found, v.supported), (99, 1)),
        e => panic!("expected unsupported-version, got {e:?}"),
    }
    // A centroid whose dimension does not match the features.
    let mut m = decode(&good).unwrap().model;
    m.fitted.as_mut().unwrap().clusters[3].centroid.push(0.0);
    match refuse(&encode_unvalidated(&m).unwrap()) {
        ModelError::Invalid(d) => {
            assert!(d.contains("clusters[3].centroid: 8 values, but the features encode to a vector of 7"), "{d}")
        }
        e => panic!("expected invalid, got {e:?}"),
    }
    // And the good one loads, with its id.
    let mut inst = rt.instantiate(&good, OPTS).unwrap().unwrap();
    let info = inst.info().unwrap();
    assert_eq!(info.id, decode(&good).unwrap().id);
    assert_eq!((info.kind.as_str(), info.dimension, info.n_clusters), ("kmeans", 7, 7));
}

/// Outcomes of `score-batch` and of `score-text`, side by side, as
/// `Ok(text)` / `Err(reason: detail)` / the outcome's name.
fn as_rows_batch(b: logsieve::runtime::ScoredBatch) -> (Vec<String>, Vec<String>) {
    let rows = b
        .outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Scored(s) => format!("scored {s}"),
            Outcome::Failed(e) => format!("failed {}: {}", e.reason, e.detail),
            Outcome::Passed => "Passed".into(),
            Outcome::Dropped => "Dropped".into(),
            Outcome::Absorbed => "Absorbed".into(),
        })
        .collect();
    (rows, b.emitted.into_iter().map(|r| format!("{r:?}")).collect())
}

fn as_rows_text(b: logsieve::runtime::ScoredText) -> (Vec<String>, Vec<String>) {
    use logsieve::runtime::TextOutcome;
    let mut at = 0usize;
    let mut rows = Vec::new();
    for o in b.outcomes {
        rows.push(match o {
            TextOutcome::Scored(n) => {
                let s = &b.text[at..at + n as usize];
                assert_eq!(&b.text[at + n as usize..at + n as usize + 1], "\n", "each scored text ends with a newline");
                at += n as usize + 1;
                format!("scored {s}")
            }
            TextOutcome::Failed(e) => format!("failed {}: {}", e.reason, e.detail),
            TextOutcome::Passed => "Passed".into(),
            TextOutcome::Dropped => "Dropped".into(),
            TextOutcome::Absorbed => "Absorbed".into(),
        });
    }
    assert_eq!(at, b.text.len(), "the text holds the scored events and nothing else");
    (rows, b.emitted.into_iter().map(|r| format!("{r:?}")).collect())
}

#[test]
fn score_text_gives_the_outcomes_of_score_batch() {
    let rt = runtime();
    // A per-event model (k-means), with good and bad events.
    let model = common::train_rita("2024-04-19");
    let mut events = common::rita_events("2024-04-20");
    events.truncate(3000);
    events.extend(bad_events().into_iter().map(|(e, _)| e));
    events.push("{}".into());
    // A windowed model: aggregates emitted in the batch and at the end.
    let k = common::repo().join("pipeline-examples/kerberos-per-host");
    let kerberos = common::train_files(
        &k.join("kerberos-hosts.toml"),
        &logsieve_readers::expand_inputs(&[k.join("sample/*kerberos*").display().to_string()]).unwrap(),
    );
    let kev: Vec<String> = logsieve_readers::Reader::open(
        logsieve_readers::expand_inputs(&[k.join("sample/*kerberos*").display().to_string()]).unwrap(),
        logsieve_readers::Format::Auto,
    )
    .filter_map(|i| i.result.ok())
    .collect();
    assert!(kev.len() > 100);

    for (name, model, events) in [("conn", &model, &events), ("kerberos", &kerberos, &kev)] {
        let mut a = rt.instantiate(model, OPTS).unwrap().unwrap();
        let mut b = rt.instantiate(model, OPTS).unwrap().unwrap();
        let (mut scored, mut other) = (0, 0);
        for chunk in events.chunks(700) {
            let (rows_a, emitted_a) = as_rows_batch(a.score_batch(chunk).unwrap());
            let text = chunk.join("\n") + "\n";
            let (rows_b, emitted_b) = as_rows_text(b.score_text(&text).unwrap());
            assert_eq!(rows_a.len(), chunk.len(), "{name}");
            assert_eq!(rows_a, rows_b, "{name}");
            assert_eq!(emitted_a, emitted_b, "{name}");
            scored += rows_a.iter().filter(|r| r.starts_with("scored ")).count();
            other += rows_a.iter().filter(|r| !r.starts_with("scored ")).count();
        }
        assert!(scored > 0 || name == "kerberos", "{name}: nothing scored");
        assert!(other > 0, "{name}: every event scored; the test wants failed or absorbed ones too");
        let flushed = |i: &mut logsieve::runtime::Instance| -> Vec<String> {
            i.flush().unwrap().into_iter().map(|r| format!("{r:?}")).collect()
        };
        let (fa, fb) = (flushed(&mut a), flushed(&mut b));
        assert_eq!(fa, fb, "{name}");
        assert!(name != "kerberos" || !fa.is_empty(), "the windowed model emits its windows at the end");
    }

    // Line splitting: a last newline ends the last event; none starts an
    // empty one; "" holds no events; an empty line in the middle is an event.
    let mut c = rt.instantiate(&model, OPTS).unwrap().unwrap();
    let n = |c: &mut logsieve::runtime::Instance, t: &str| c.score_text(t).unwrap().outcomes.len();
    assert_eq!(n(&mut c, ""), 0);
    assert_eq!(n(&mut c, "{}"), 1);
    assert_eq!(n(&mut c, "{}\n"), 1);
    assert_eq!(n(&mut c, "{}\n{}"), 2);
    assert_eq!(n(&mut c, "{}\n\n{}\n"), 3);
    assert_eq!(n(&mut c, "\n"), 1);
}

/// The verdict a scored text's `logsieve` object states.
fn text_verdict(text: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    v["logsieve"].clone()
}

/// The WIT `reasons` flags and their names in a scored text.
const REASON_NAMES: [(Reasons, &str); 5] = [
    (Reasons::FAR_FROM_CENTROID, "far_from_centroid"),
    (Reasons::RARE_CLUSTER, "rare_cluster"),
    (Reasons::UNSEEN_VALUE, "unseen_value"),
    (Reasons::UNSEEN_FLOW, "unseen_flow"),
    (Reasons::UNUSUAL_SEQUENCE, "unusual_sequence"),
];

/// Check every scored line's record against its text; returns the texts
/// (events', then emitted aggregates') and the outcome names, as 0.3's
/// `score-text` would give them.
fn check_lines(name: &str, l: &ScoredLines) -> (Vec<String>, Vec<String>) {
    let check = |at: u32, len: u32, v: &Verdict| -> String {
        let text = &l.text[at as usize..(at + len) as usize];
        assert_eq!(&l.text[(at + len) as usize..(at + len) as usize + 1], "\n", "{name}: a scored text ends its line");
        let t = text_verdict(text);
        let num = |k: &str| t[k].as_f64();
        assert_eq!(t["cluster"].as_u64().map(|c| c as u32), v.cluster, "{name}: {text}");
        assert_eq!(
            (num("distance"), num("threshold"), num("score")),
            (v.distance, v.threshold, v.score),
            "{name}: {text}"
        );
        assert_eq!(t["anomaly"].as_bool(), Some(v.anomaly), "{name}: {text}");
        let want: Vec<&str> = REASON_NAMES.iter().filter(|(f, _)| v.reasons.contains(*f)).map(|(_, n)| *n).collect();
        let got: Vec<&str> = t["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert_eq!(got, want, "{name}: {text}");
        assert_eq!(v.anomaly, !want.is_empty(), "{name}: anomaly is any reason");
        text.to_string()
    };
    let mut texts = Vec::new();
    let mut kinds = Vec::new();
    for o in l.outcomes.iter().chain(&l.emitted) {
        kinds.push(match o {
            LineOutcome::Scored(s) => {
                texts.push(check(s.offset, s.len, &s.verdict));
                "scored".to_string()
            }
            LineOutcome::Failed(e) => format!("failed {} {}", e.reason, e.detail),
            other => format!("{other:?}"),
        });
    }
    (texts, kinds)
}

/// What `score-json` must say for a `score-lines` outcome (the WIT
/// `scored-json`): the same verdict, the reasons by the text's names.
fn json_outcome(o: &LineOutcome, aggregate: bool) -> serde_json::Value {
    let mut v = match o {
        LineOutcome::Scored(s) => {
            let v = &s.verdict;
            let reasons: Vec<&str> = REASON_NAMES.iter().filter(|(f, _)| v.reasons.contains(*f)).map(|(_, n)| *n).collect();
            serde_json::json!({"logsieve": {"cluster": v.cluster, "distance": v.distance, "threshold": v.threshold,
                "score": v.score, "anomaly": v.anomaly, "reasons": reasons}})
        }
        LineOutcome::Passed => serde_json::json!({"passed": true}),
        LineOutcome::Dropped => serde_json::json!({"dropped": true}),
        LineOutcome::Absorbed => serde_json::json!({"absorbed": true}),
        LineOutcome::Failed(e) => serde_json::json!({"error": {"reason": e.reason, "detail": e.detail}}),
    };
    if aggregate {
        v["aggregate"] = serde_json::Value::Bool(true);
    }
    v
}

/// `score-json` gives what `score-lines` gives: the same text, and each
/// outcome as its JSON object.
fn check_json(name: &str, lines: &ScoredLines, json: &logsieve::runtime::ScoredJson) {
    assert_eq!(json.text, lines.text, "{name}: score-json's text is score-lines'");
    let got: Vec<serde_json::Value> = serde_json::from_str(&json.outcomes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want: Vec<serde_json::Value> = (lines.outcomes.iter().map(|o| json_outcome(o, false)))
        .chain(lines.emitted.iter().map(|o| json_outcome(o, true)))
        .collect();
    assert_eq!(got, want, "{name}: score-json's outcomes are score-lines'");
}

#[test]
fn score_lines_gives_each_verdict_as_its_text_states_it() {
    let rt = runtime();
    let repo = common::repo();
    let files = |pattern: &str| logsieve_readers::expand_inputs(&[repo.join(pattern).display().to_string()]).unwrap();
    let read = |pattern: &str| -> Vec<String> {
        logsieve_readers::Reader::open(files(pattern), logsieve_readers::Format::Auto)
            .filter_map(|i| i.result.ok())
            .collect()
    };
    let mut conn = common::rita_events("2024-04-20");
    conn.truncate(5000);
    conn.extend(bad_events().into_iter().map(|(e, _)| e));
    let k = "pipeline-examples/kerberos-per-host/sample/*kerberos*";
    let d = "pipeline-examples/dce-rpc-kmodes";
    let f = "pipeline-examples/netflow-flow2vec";
    let cases = [
        ("conn k-means", common::train_rita("2024-04-19"), conn),
        (
            "kerberos windows",
            common::train_files(&repo.join("pipeline-examples/kerberos-per-host/kerberos-hosts.toml"), &files(k)),
            read(k),
        ),
        (
            "dce-rpc k-modes",
            common::train_files(&repo.join(d).join("model.toml"), &files(&format!("{d}/sample/apt29-*"))),
            read(&format!("{d}/sample/*")),
        ),
        (
            "netflow flow2vec",
            common::train_files(&repo.join(f).join("model.toml"), &files(&format!("{f}/sample/normal-7.binetflow.gz"))),
            // Its own training flows (sequences fill, a few are unusual),
            // then flows it never saw.
            [
                read(&format!("{f}/sample/normal-7.binetflow.gz")),
                read(&format!("{f}/sample/botnet-207-1.binetflow.gz")),
            ]
            .concat(),
        ),
    ];
    let mut seen = Reasons::empty();
    for (name, model, events) in &cases {
        let opts = Options { top_features: 3, emit_vector: true };
        let mut a = rt.instantiate(model, opts).unwrap().unwrap();
        let mut b = rt.instantiate(model, opts).unwrap().unwrap();
        let mut c = rt.instantiate(model, opts).unwrap().unwrap();
        let mut j = rt.instantiate(model, opts).unwrap().unwrap();
        let mut anomalies = 0;
        let mut scored = 0;
        for chunk in events.chunks(700) {
            let text = chunk.join("\n") + "\n";
            let lines = a.score_lines(&text).unwrap();
            assert_eq!(lines.outcomes.len(), chunk.len(), "{name}");
            let (texts, kinds) = check_lines(name, &lines);
            check_json(name, &lines, &j.score_json(&text).unwrap());
            for o in lines.outcomes.iter().chain(&lines.emitted) {
                if let LineOutcome::Scored(s) = o {
                    anomalies += usize::from(s.verdict.anomaly);
                    seen |= s.verdict.reasons;
                }
            }
            scored += texts.len();
            // encode-lines gives the vectors the texts hold (emit_vector).
            let enc = c.encode_lines(&text).unwrap();
            let mut at = 0;
            let mut t = texts.iter();
            for o in enc.outcomes.iter().chain(&enc.emitted) {
                match o {
                    Encoded::Vector => {
                        let v = text_verdict(t.next().unwrap())["vector"].clone();
                        let d = enc.dimension as usize;
                        let want: Vec<f64> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
                        assert_eq!(enc.vectors[at..at + d], want[..], "{name}");
                        at += d;
                    }
                    Encoded::NoVector => assert!(text_verdict(t.next().unwrap()).get("vector").is_none(), "{name}"),
                    _ => {}
                }
            }
            assert_eq!(at, enc.vectors.len(), "{name}: every vector belongs to an event");
            // The 0.3 call gives the same texts, outcomes and aggregates.
            let old = b.score_text(&text).unwrap();
            let n_events = lines.outcomes.iter().filter(|o| matches!(o, LineOutcome::Scored(_))).count();
            let (rows, _) = as_rows_text(logsieve::runtime::ScoredText { emitted: Vec::new(), ..old.clone() });
            let old_texts: Vec<String> =
                rows.iter().filter_map(|r| r.strip_prefix("scored ").map(str::to_string)).collect();
            assert_eq!(texts[..n_events], old_texts[..], "{name}");
            let old_emitted: Vec<String> = old.emitted.into_iter().filter_map(Result::ok).collect();
            assert_eq!(texts[n_events..], old_emitted[..], "{name}");
            assert_eq!(kinds.len() - lines.emitted.len(), rows.len(), "{name}");
        }
        let end = a.flush_lines().unwrap();
        assert!(end.outcomes.is_empty(), "{name}: flush-lines has no input lines");
        let (texts, _) = check_lines(name, &end);
        check_json(name, &end, &j.flush_json().unwrap());
        scored += texts.len();
        let old_end: Vec<String> = b.flush().unwrap().into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(texts, old_end, "{name}: flush-lines and flush give the same aggregates");
        assert!(scored > 0, "{name}: nothing scored: a test of nothing");
        eprintln!("{name}: {scored} scored, {anomalies} anomalies");
    }
    // Every reason a verdict can carry was checked against its text.
    assert_eq!(seen, Reasons::all(), "every reason checked against a text");
}

/// The component's reader (WIT `reader`) reads every log the tests use as
/// the CLI's readers do: the same events, line numbers and errors, however
/// the bytes are cut between calls.
#[test]
fn the_components_reader_reads_logs_as_the_cli_does() {
    let rt = runtime();
    let mut inst = rt.instantiate(&common::train_rita("2024-04-19"), OPTS).unwrap().unwrap();
    let repo = common::repo();
    let mut files: Vec<(std::path::PathBuf, &str)> = Vec::new();
    for entry in std::fs::read_dir(repo.join("tests/bad-input")).unwrap() {
        let p = entry.unwrap().path();
        if !p.extension().is_some_and(|e| e == "toml" || e == "py") && p.file_name().unwrap() != "SOURCE" {
            files.push((p, "auto"));
        }
    }
    files.push((repo.join("pipeline-examples/netflow-flow2vec/sample/test5-old-full.binetflow.gz"), "tsv"));
    files.push((repo.join("pipeline-examples/flows-rating/sample/botnet-207-1.binetflow.gz"), "csv"));
    files.push((repo.join("pipeline-examples/dce-rpc-kmodes/sample/apt29-day1-NASHUA_dce_rpc.log"), "zeek_json"));
    for p in logsieve_readers::expand_inputs(&[common::rita_conn("2024-04-20")]).unwrap().into_iter().take(3) {
        files.push((p, "zeek_tsv"));
    }
    let mut compared = (0, 0);
    for (path, format) in &files {
        let raw = std::fs::read(path).unwrap();
        let bytes = common::examples::gunzipped_or_cut(raw);
        let fmt: logsieve_readers::Format = format.parse().unwrap();
        type Read = (u64, Result<String, (String, String)>);
        let want: Vec<Read> =
            logsieve_readers::Reader::from_reader("x", Box::new(std::io::Cursor::new(bytes.clone())), fmt)
                .map(|i| (i.origin.line, i.result.map_err(|e| (e.reason.to_string(), e.detail))))
                .collect();
        for chunk in [1 << 20, 4093, 7] {
            if chunk == 7 && bytes.len() > 200_000 {
                continue;
            }
            let r = inst.reader(format).unwrap().expect("a known format");
            let mut got = Vec::new();
            let mut take = |l: logsieve::runtime::ReadLines| {
                let mut events = l.events.lines().zip(&l.lines).map(|(e, &n)| (n, Ok(e.to_string())));
                let mut errors = l.errors.into_iter().map(|e| (e.line, Err((e.reason, e.detail))));
                // Merged back into input order by line (errors and events
                // never share a line).
                let mut both: Vec<_> = events.by_ref().chain(errors.by_ref()).collect();
                both.sort_by_key(|(n, _)| *n);
                got.extend(both);
            };
            for piece in bytes.chunks(chunk) {
                // Pieces that are UTF-8 go as text (`read-text`), the
                // others as bytes: the same lines either way.
                match std::str::from_utf8(piece) {
                    Ok(text) => take(inst.read_text(&r, text).unwrap()),
                    Err(_) => take(inst.read(&r, piece).unwrap()),
                }
            }
            take(inst.finish_reading(&r).unwrap());
            assert_eq!(got, want, "{} in pieces of {chunk}", path.display());
        }
        compared.0 += want.iter().filter(|(_, r)| r.is_ok()).count();
        compared.1 += want.iter().filter(|(_, r)| r.is_err()).count();
    }
    assert!(compared.0 > 10_000 && compared.1 > 20, "{compared:?}: events and errors compared");
    assert!(inst.reader("parquet").unwrap().unwrap_err().contains("valid formats"));
}
