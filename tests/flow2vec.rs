//! flow2vec end to end: training from real Argus flows through the
//! component's extraction, deterministic single-thread training, inline
//! scoring (native == component), unseen flows and their relatives,
//! half-precision vectors, refused inconsistent artifacts, `logsieve similar`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use logsieve::commands::train::{extract, load_spec};
use logsieve::runtime::{EMBEDDED_COMPONENT, Options, Outcome, Runtime};
use logsieve_artifact::{DecodeError, Model, VectorPrecision, decode, encode, encode_unvalidated};
use logsieve_plugin::Scorer;
use serde_json::Value;

fn example() -> PathBuf {
    common::repo().join("pipeline-examples/netflow-flow2vec")
}

/// Train the example's model on its normal-7 sample, one word2vec thread.
fn train(precision: VectorPrecision) -> Model {
    let mut spec = load_spec(&example().join("model.toml")).unwrap().into_inner();
    spec.flow2vec.as_mut().unwrap().precision = precision;
    let spec = spec.validate().unwrap();
    let input = example().join("sample/normal-7.binetflow.gz");
    let ex =
        extract(&spec, vec![input], logsieve_readers::Format::Auto, None, &indicatif::ProgressBar::hidden()).unwrap();
    assert_eq!(ex.rows.len(), 9797, "every flow of the normal capture is a row");
    let prov = logsieve_train::model::Provenance { inputs: vec![], skipped: 0, created_unix: 0 };
    let (model, report) = logsieve_train::flow2vec::fit_flow2vec(&spec, &ex.rows, prov, 1, &mut ()).unwrap();
    assert_eq!(report.sentences, 9797usize.div_ceil(30));
    model
}

fn events(file: &str) -> Vec<String> {
    let p = example().join("sample").join(file);
    logsieve_readers::Reader::open(vec![p], logsieve_readers::Format::Auto).map(|i| i.result.unwrap()).collect()
}

#[test]
fn single_thread_training_is_deterministic_and_the_artifact_is_consistent() {
    let a = train(VectorPrecision::F32);
    let b = train(VectorPrecision::F32);
    assert_eq!(encode(&a).unwrap(), encode(&b).unwrap(), "same seed, one thread: the same artifact, bit for bit");
    let f = a.fitted.as_ref().unwrap();
    let e = f.embedding.as_ref().unwrap();
    // n_clusters = 0: vocabulary / 5, as the notebook.
    assert_eq!(f.clusters.len(), e.tokens.len() / 5);
    // Cluster sizes count events (token occurrences).
    assert_eq!(f.clusters.iter().map(|c| c.size).sum::<u64>(), 9797);
    assert_eq!(e.counts.iter().sum::<u64>(), 9797);
    assert!(e.counts.windows(2).all(|w| w[0] >= w[1]), "most frequent first");
    // Every stored label is the token's nearest centroid by cosine.
    let dim = e.dim as usize;
    let values = e.values();
    for (i, row) in values.chunks_exact(dim).enumerate().step_by(37) {
        let n = row.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
        let cos = |c: &[f64]| row.iter().zip(c).map(|(a, b)| f64::from(*a) / n * b).sum::<f64>();
        let best = (0..f.clusters.len())
            .max_by(|&x, &y| cos(&f.clusters[x].centroid).total_cmp(&cos(&f.clusters[y].centroid)));
        assert_eq!(best, Some(e.labels[i] as usize), "token {i}");
        assert!((1.0 - cos(&f.clusters[e.labels[i] as usize].centroid) - e.distances[i]).abs() < 1e-6);
    }
}

#[test]
fn the_component_scores_flows_as_the_native_library_and_explains_unseen_ones() {
    let model = encode(&train(VectorPrecision::F32)).unwrap();
    let mut evs = events("test5-old-full.binetflow.gz");
    let normal = events("normal-7.binetflow.gz");
    evs.extend(normal.iter().take(500).cloned());
    evs.push(r#"{"SrcAddr":"10.9.9.9","DstAddr":"1.2.3.4","Dport":"31337","Proto":"tcp"}"#.into());
    evs.push(r#"{"SrcAddr":"10.9.9.9","Dport":{"x":1}}"#.into());
    let opts = logsieve_plugin::Options { top_features: 3, emit_vector: false };
    let mut native = Scorer::new(&model, opts).unwrap();
    let rt = Runtime::new(EMBEDDED_COMPONENT, None).unwrap();
    let mut inst = rt.instantiate(&model, Options { top_features: 3, emit_vector: false }).unwrap().unwrap();
    let mut out = Vec::new();
    for chunk in evs.chunks(1000) {
        for (e, o) in chunk.iter().zip(inst.score_batch(chunk).unwrap().outcomes) {
            match (native.score(e), o) {
                (Ok(n), Outcome::Scored(w)) => {
                    assert_eq!(n, w);
                    out.push(serde_json::from_str::<Value>(&n).unwrap());
                }
                (Err(n), Outcome::Failed(w)) => {
                    assert_eq!(n.reason, "wrong_type");
                    assert_eq!(n.reason, w.reason);
                }
                (n, w) => panic!("{e}: native {n:?}, wasm {w:?}"),
            }
        }
    }
    assert_eq!(out.len(), evs.len() - 1);
    let n_test5 = evs.len() - 502;
    // The training capture's own flows are known tokens, never unseen.
    for v in &out[n_test5..n_test5 + 500] {
        let s = &v["logsieve"];
        assert!(!s["reasons"].as_array().unwrap().contains(&Value::from("unseen_flow")), "{v}");
        assert!(s["cluster"].is_u64() && s["distance"].is_f64());
    }
    // test5 comes from another network: every flow is unseen; those with a
    // known port and protocol are scored by their relative.
    let mut via_relative = 0;
    for v in &out[..n_test5] {
        let s = &v["logsieve"];
        assert!(s["reasons"].as_array().unwrap().contains(&Value::from("unseen_flow")));
        assert_eq!(s["anomaly"], true);
        if let Some(r) = s["relative"].as_str() {
            via_relative += 1;
            let parts: Vec<&str> = r.split('|').collect();
            let mine: Vec<&str> = s["token"].as_str().unwrap().split('|').collect();
            assert_eq!((parts[2], parts[3]), (mine[2], mine[3]), "same port and protocol");
            assert!(s["cluster"].is_u64());
        } else {
            assert!(s["cluster"].is_null() && s["score"].is_null());
        }
    }
    assert!(via_relative > n_test5 / 2, "{via_relative} of {n_test5}");
    // A made-up flow on an unknown port has no relative.
    let v = &out[out.len() - 1]["logsieve"];
    assert_eq!(v["token"], "10.9.9.9|1.2.3.4|31337|tcp");
    assert!(v["relative"].is_null() && v["cluster"].is_null());
}

#[test]
fn half_precision_halves_the_vectors_and_keeps_the_verdicts() {
    let full = train(VectorPrecision::F32);
    let half = train(VectorPrecision::F16);
    let (ef, eh) = (
        full.fitted.as_ref().unwrap().embedding.as_ref().unwrap(),
        half.fitted.as_ref().unwrap().embedding.as_ref().unwrap(),
    );
    assert_eq!(eh.vectors.len() * 2, ef.vectors.len());
    assert_eq!((&ef.labels, &ef.distances), (&eh.labels, &eh.distances), "verdicts are computed before storing");
    for (a, b) in ef.values().iter().zip(eh.values()) {
        assert!((a - b).abs() <= a.abs() / 1024.0 + 1e-7, "{a} vs {b}");
    }
    assert!(encode(&half).unwrap().len() < encode(&full).unwrap().len() * 3 / 4);
}

fn emb(m: &mut Model) -> &mut logsieve_artifact::Embedding {
    m.fitted.as_mut().unwrap().embedding.as_mut().unwrap()
}

#[test]
fn inconsistent_flow2vec_artifacts_are_refused() {
    let good = train(VectorPrecision::F32);
    let bad = |f: &dyn Fn(&mut Model), want: &str| {
        let mut m = good.clone();
        f(&mut m);
        match decode(&encode_unvalidated(&m).unwrap()) {
            Err(DecodeError::Invalid(e)) => assert!(e.contains(want), "{e}"),
            other => panic!("expected an invalid model ({want}), got {:?}", other.map(|d| d.id)),
        }
    };
    bad(&|m| emb(m).vectors.truncate(10), "bytes of vectors");
    bad(&|m| emb(m).labels[0] = 100_000, "clusters");
    bad(&|m| emb(m).tokens[1] = emb(m).tokens[0].clone(), "appears twice");
    bad(&|m| emb(m).precision = VectorPrecision::F16, "bytes of vectors");
    bad(&|m| emb(m).sequence_thresholds.clear(), "no sequence thresholds");
    bad(&|m| m.fitted.as_mut().unwrap().embedding = None, "needs its embedding");
    bad(&|m| m.fitted.as_mut().unwrap().clusters[0].centroid.pop().map(|_| ()).unwrap(), "dimension");
}

#[test]
fn similar_lists_the_nearest_tokens_by_cosine() {
    let dir = common::tempdir("flow2vec-similar");
    let model = dir.join("f.msgpack");
    std::fs::write(&model, encode(&train(VectorPrecision::F32)).unwrap()).unwrap();
    let m = model.to_str().unwrap();
    let out = common::logsieve(&["similar", m, "10.0.0.46|8.8.8.8|53|udp", "--top", "5", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 5);
    let sims: Vec<f64> = rows.iter().map(|r| r["similarity"].as_f64().unwrap()).collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]), "{sims:?}");
    assert!(rows.iter().all(|r| r["token"] != "10.0.0.46|8.8.8.8|53|udp"), "the token itself is left out");
    // A reader that goes away (`| head`) is not an error: the whole list is
    // more than a pipe holds, and the pipe is closed before it is read.
    let mut child = Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .args(["similar", m, "10.0.0.46|8.8.8.8|53|udp", "--top", "100000", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "a closed pipe: {}", String::from_utf8_lossy(&out.stderr));
    let out = common::logsieve(&["similar", m, "no|such|token|x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the model's vocabulary"));
}

#[test]
fn sequences_score_each_sources_last_known_flows_as_training_learned() {
    let model = train(VectorPrecision::F32);
    let spec = &model.spec;
    let n = spec.flow2vec.as_ref().unwrap().sequence as usize;
    assert!(n > 1, "the example scores sequences");
    let e = model.fitted.as_ref().unwrap().embedding.as_ref().unwrap();
    assert_eq!(e.sequence_thresholds.len(), model.fitted.as_ref().unwrap().clusters.len());
    let mut scorer = Scorer::new(&encode(&model).unwrap(), logsieve_plugin::Options::default()).unwrap();
    let mut per_source: std::collections::HashMap<String, usize> = Default::default();
    let (mut sequences, mut unusual) = (0usize, 0usize);
    for ev in events("normal-7.binetflow.gz") {
        let v: Value = serde_json::from_str(&scorer.score(&ev).unwrap()).unwrap();
        let src = v["SrcAddr"].as_str().map(str::to_string).unwrap_or_else(|| v["SrcAddr"].to_string());
        let seen = per_source.entry(src).or_default();
        *seen += 1;
        let s = &v["logsieve"];
        // Every training flow is known, so a source's window fills at its
        // n-th flow.
        assert_eq!(s["sequence"].is_object(), *seen >= n, "{v}");
        if let Some(q) = s["sequence"].as_object() {
            sequences += 1;
            let far = q["distance"].as_f64().unwrap() > q["threshold"].as_f64().unwrap();
            assert_eq!(far, s["reasons"].as_array().unwrap().contains(&Value::from("unusual_sequence")));
            unusual += usize::from(far);
        }
    }
    // The thresholds are the 99 % quantile of these very sequences: about
    // 1 % lie beyond them (plus ties and small clusters' global quantile).
    assert!(unusual > 0 && (unusual as f64) < 0.02 * sequences as f64, "{unusual} of {sequences}");
}

/// Train a spec text on the first `rows` flows of the normal sample; the
/// error text if it fails.
fn train_rows(toml_text: &str, rows: usize) -> Result<Model, String> {
    let dir = common::tempdir("flow2vec-spec");
    let p = dir.join("model.toml");
    std::fs::write(&p, toml_text).unwrap();
    let spec = load_spec(&p).map_err(|e| format!("{e:#}"))?;
    let input = example().join("sample/normal-7.binetflow.gz");
    let mut ex =
        extract(&spec, vec![input], logsieve_readers::Format::Auto, None, &indicatif::ProgressBar::hidden()).unwrap();
    ex.rows.truncate(rows);
    let prov = logsieve_train::model::Provenance { inputs: vec![], skipped: 0, created_unix: 0 };
    let (model, _) =
        logsieve_train::flow2vec::fit_flow2vec(&spec, &ex.rows, prov, 1, &mut ()).map_err(|e| e.to_string())?;
    // What training wrote is what loads.
    decode(&encode(&model).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    Ok(model)
}

fn train_text(toml_text: &str) -> Result<Model, String> {
    train_rows(toml_text, usize::MAX)
}

#[test]
fn spec_edge_cases_fail_early_or_train_cleanly() {
    let features = r#"
[[features]]
field = "SrcAddr"
type = "categorical"
[[features]]
field = "Dport"
type = "categorical"
"#;
    // No [flow2vec] table: the defaults.
    let m = train_text(&format!("[model]\nkind = \"flow2vec\"\nn_clusters = 0\n{features}")).unwrap();
    assert_eq!(m.fitted.unwrap().embedding.unwrap().dim, 100);
    // More clusters than tokens: one per token at most.
    let m =
        train_text(&format!("[model]\nkind = \"flow2vec\"\nn_clusters = 100000\n[flow2vec]\nepochs = 1\n{features}"))
            .unwrap();
    let f = m.fitted.unwrap();
    assert_eq!(f.clusters.len(), f.embedding.unwrap().tokens.len());
    // A sequence longer than any source's known flows: refused, clearly.
    let e = train_rows(
        &format!("[model]\nkind = \"flow2vec\"\nn_clusters = 0\n[flow2vec]\nepochs = 1\nsequence = 1000\n{features}"),
        500,
    );
    let e = e.map(|_| ()).unwrap_err();
    assert!(e.contains("no key has that many known flows"), "{e}");
    let e =
        train_text(&format!("[model]\nkind = \"flow2vec\"\nn_clusters = 0\n[flow2vec]\nsequence = 5000\n{features}"))
            .map(|_| ())
            .unwrap_err();
    assert!(e.contains("at most 1000"), "{e}");
    // missing = "error" refuses what scoring would refuse.
    let e = train_text(&format!(
        "[model]\nkind = \"flow2vec\"\nn_clusters = 0\n{features}[[features]]\nfield = \"Tunnel\"\ntype = \"categorical\"\nmissing = \"error\"\n"
    ))
    .map(|_| ())
    .unwrap_err();
    // (every row lacks it: each is skipped and reported, as a wrong type is,
    // and no row is left)
    assert!(e.contains("no usable training rows"), "{e}");
}
