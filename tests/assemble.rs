//! `logsieve assemble`: a model artifact from a spec and learned state fitted
//! elsewhere (pipeline-examples/spark). Good parts make a model `logsieve run`
//! scores with (byte for byte the artifact `logsieve train` wrote, when the
//! state is that model's own); wrong parts are refused with a message naming
//! each problem and where it is, and nothing is written.

mod common;

use common::{logsieve, logsieve_ok as ok};

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A pipeline scoring `input` (NDJSON or Zeek) with `model`; returns the scored lines.
fn score(dir: &Path, name: &str, model: &Path, input: &str) -> Vec<String> {
    let out = dir.join(format!("{name}.scored.ndjson"));
    let pipe = dir.join(format!("{name}.toml"));
    std::fs::write(
        &pipe,
        format!(
            "[sources.in]\ntype = \"file\"\npath = {input:?}\nformat = \"auto\"\n\n\
             [transforms.t]\ntype = \"logsieve\"\ninputs = [\"in\"]\nmodel = {:?}\n\n\
             [sinks.out]\ntype = \"file\"\ninputs = [\"t\"]\npath = {:?}\n\n\
             [sinks.err]\ntype = \"file\"\ninputs = [\"t.errors\"]\npath = {:?}\n",
            s(model),
            s(&out),
            s(&dir.join(format!("{name}.errors.ndjson")))
        ),
    )
    .unwrap();
    ok(&["run", s(&pipe), "--quiet"]);
    std::fs::read_to_string(&out).unwrap().lines().map(str::to_string).collect()
}

/// A small spec: one log1p numeric feature and one categorical, k = 2.
const SPEC: &str = r#"
[model]
kind = "kmeans"
n_clusters = 2

[scoring]
method = "centroid"
threshold_quantile = 0.99
rare_share = 0.3

[[features]]
field = "bytes"
type = "numeric"
log1p = true

[[features]]
field = "proto"
type = "categorical"
"#;

/// Learned state that fits SPEC: the vector is [bytes, proto=missing, proto=tcp, proto=udp].
fn good_state() -> Value {
    json!({
        "features": [
            {"type": "numeric", "offset": 2.0, "scale": 1.5, "fill": 0.0},
            {"type": "categorical", "vocabulary": ["missing", "tcp", "udp"]}
        ],
        "clusters": [
            {"centroid": [-1.0, 0.0, 1.0, 0.0], "size": 8, "share": 0.8, "threshold": 1.5, "rare": false,
             "mean_distance": 0.5, "max_distance": 1.6},
            {"centroid": [2.0, 0.0, 0.0, 1.0], "size": 2, "share": 0.2, "threshold": 0.75, "rare": true,
             "mean_distance": 0.25, "max_distance": 0.8}
        ],
        "training": {"rows": 10, "skipped": 1, "inertia": 3.25, "n_iter": 4, "inputs": ["made by hand"],
                     "created_unix": 1764650000}
    })
}

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir = common::tempdir(name);
    let spec = dir.join("model.toml");
    std::fs::write(&spec, SPEC).unwrap();
    (dir, spec)
}

/// Assemble `state`; Ok(stderr) on success, Err(stderr) on a refusal (exit 2, nothing written).
fn assemble(dir: &Path, spec: &Path, state: &Value) -> Result<String, String> {
    let state_path = dir.join("state.json");
    std::fs::write(&state_path, serde_json::to_string_pretty(state).unwrap()).unwrap();
    let out = dir.join("assembled.msgpack");
    let _ = std::fs::remove_file(&out);
    let o = logsieve(&["assemble", "--spec", s(spec), "--state", s(&state_path), "--out", s(&out)]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.success() {
        assert!(out.exists(), "assemble succeeded but wrote nothing");
        Ok(stderr)
    } else {
        assert_eq!(o.status.code(), Some(2), "a refusal exits 2: {stderr}");
        assert!(!out.exists(), "a refused state must not leave an artifact");
        Err(stderr)
    }
}

fn refused(dir: &Path, spec: &Path, state: &Value, expect: &[&str]) {
    let err = assemble(dir, spec, state).expect_err("the state should be refused");
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in the message:\n{err}");
    }
}

#[test]
fn a_trained_models_own_state_assembles_to_the_same_artifact_byte_for_byte() {
    let dir = common::tempdir("assemble-roundtrip");
    let spec = common::conn_spec();
    let sample = common::repo().join("pipeline-examples/conn-kmeans/sample");
    let trained = dir.join("trained.msgpack");
    ok(&[
        "train",
        "--spec",
        s(&spec),
        "--input",
        &format!("{}/train/conn.*.log.gz", s(&sample)),
        "--out",
        s(&trained),
        "--quiet",
    ]);
    // The state file is the artifact's `fitted` table, as `inspect --json` shows it.
    let inspected: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&trained)]).stdout).unwrap();
    let state = &inspected["model"]["fitted"];
    let state_path = dir.join("state.json");
    std::fs::write(&state_path, serde_json::to_string(state).unwrap()).unwrap();
    let assembled = dir.join("assembled.msgpack");
    let o = ok(&["assemble", "--spec", s(&spec), "--state", s(&state_path), "--out", s(&assembled)]);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("kmeans k=7, dimension 7"), "{said}");
    assert_eq!(std::fs::read(&assembled).unwrap(), std::fs::read(&trained).unwrap(), "not the same artifact");
    // And it scores.
    let input = format!("{}/score/conn.*.log.gz", s(&sample));
    let a = score(&dir, "assembled", &assembled, &input);
    assert!(a.len() > 1000, "{} scored", a.len());
    assert_eq!(a, score(&dir, "trained", &trained, &input));
}

#[test]
fn hand_made_parts_make_a_model_that_scores() {
    let (dir, spec) = setup("assemble-good");
    let said = assemble(&dir, &spec, &good_state()).unwrap();
    assert!(said.contains("kmeans k=2, dimension 4, 10 rows"), "{said}");
    let model = dir.join("assembled.msgpack");
    let inspected: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&model)]).stdout).unwrap();
    assert_eq!(inspected["model"]["fitted"]["training"]["logsieve_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(inspected["model"]["fitted"]["training"]["skipped"], 1);
    let events = dir.join("events.ndjson");
    // ln(1 + e^0.5 - 1) = 0.5 -> (0.5 - 2) / 1.5 = -1: on cluster 0's centroid with tcp.
    let b0 = 0.5f64.exp() - 1.0;
    // ln(1 + x) = 5 -> (5 - 2) / 1.5 = 2: cluster 1 with udp.
    let b1 = 5f64.exp() - 1.0;
    std::fs::write(
        &events,
        format!("{{\"bytes\":{b0},\"proto\":\"tcp\"}}\n{{\"bytes\":{b1},\"proto\":\"udp\"}}\n{{\"proto\":\"icmp\"}}\n"),
    )
    .unwrap();
    let scored = score(&dir, "good", &model, s(&events));
    assert_eq!(scored.len(), 3);
    let v: Vec<Value> = scored.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["logsieve"].clone()).collect();
    assert_eq!((v[0]["cluster"].as_u64(), v[1]["cluster"].as_u64()), (Some(0), Some(1)));
    assert!(v[0]["distance"].as_f64().unwrap() < 1e-9 && v[1]["distance"].as_f64().unwrap() < 1e-9, "{v:?}");
    assert_eq!(v[1]["reasons"], json!(["rare_cluster"]));
    // icmp was never seen: all-zero one-hot, reported.
    assert!(v[2]["reasons"].as_array().unwrap().contains(&json!("unseen_value")), "{}", v[2]);
}

/// `method = "cblof"`: the state carries the one threshold (and, if the
/// fitter chose them, the large clusters); a small cluster's member is
/// measured toward the nearest large centroid, so it does not score 0.
#[test]
fn a_cblof_state_scores_small_clusters_toward_the_bulk() {
    let (dir, _) = setup("assemble-cblof");
    let spec = dir.join("cblof.toml");
    std::fs::write(&spec, SPEC.replace("method = \"centroid\"", "method = \"cblof\"")).unwrap();
    refused(
        &dir,
        &spec,
        &good_state(),
        &["cblof: the spec scores with method = \"cblof\", but the model has no cblof state"],
    );
    let mut st = good_state();
    st["cblof"] = json!({"threshold": 1.5, "large": [true, false]});
    assemble(&dir, &spec, &st).unwrap();
    let events = dir.join("events.ndjson");
    let b1 = 5f64.exp() - 1.0; // exactly on cluster 1's centroid
    std::fs::write(&events, format!("{{\"bytes\":{b1},\"proto\":\"udp\"}}\n")).unwrap();
    let v: Value = serde_json::from_str(&score(&dir, "cblof", &dir.join("assembled.msgpack"), s(&events))[0]).unwrap();
    let ls = &v["logsieve"];
    assert_eq!(ls["cluster"], 1);
    assert!(ls["distance"].as_f64().unwrap() < 1e-9, "{ls}");
    // |[2,0,0,1] - [-1,0,1,0]| = sqrt(11); half way (bulk_weight 0.5) from 0.
    let bulk = 11f64.sqrt();
    assert_eq!(ls["nearest_large"]["cluster"], 0);
    assert!((ls["nearest_large"]["distance"].as_f64().unwrap() - bulk).abs() < 1e-9, "{ls}");
    assert!((ls["score"].as_f64().unwrap() - 0.5 * bulk / 1.5).abs() < 1e-9, "{ls}");
    assert_eq!(ls["reasons"], json!(["far_from_centroid", "rare_cluster"]));
    let text = String::from_utf8(ok(&["inspect", s(&dir.join("assembled.msgpack"))]).stdout).unwrap();
    assert!(text.contains("scoring cblof: one threshold 1.500 (of the scored distance); large clusters 0;"), "{text}");
    // The large flags must be one per cluster.
    st["cblof"]["large"] = json!([true]);
    refused(&dir, &spec, &st, &["cblof"]);
}

#[test]
fn without_a_state_it_writes_a_spec_only_artifact() {
    let (dir, spec) = setup("assemble-spec-only");
    let out = dir.join("spec.msgpack");
    let said = String::from_utf8_lossy(&ok(&["assemble", "--spec", s(&spec), "--out", s(&out)]).stderr).into_owned();
    assert!(said.contains("spec only (2 features), for feature extraction"), "{said}");
    let inspected: Value = serde_json::from_slice(&ok(&["inspect", "--json", s(&out)]).stdout).unwrap();
    assert_eq!(inspected["model"]["fitted"], Value::Null);
    // `run` refuses to score with it, as with any spec-only artifact.
    let events = dir.join("e.ndjson");
    std::fs::write(&events, "{\"bytes\":1}\n").unwrap();
    let pipe = dir.join("p.toml");
    std::fs::write(
        &pipe,
        format!(
            "[sources.in]\ntype = \"file\"\npath = {:?}\n[transforms.t]\ntype = \"logsieve\"\ninputs = [\"in\"]\n\
             model = {:?}\n[sinks.o]\ntype = \"stdout\"\ninputs = [\"t\"]\n",
            s(&events),
            s(&out)
        ),
    )
    .unwrap();
    let o = logsieve(&["run", s(&pipe), "--quiet"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("holds only a spec"));
}

#[test]
fn wrong_dimensions_are_refused_naming_the_cluster() {
    let (dir, spec) = setup("assemble-dims");
    let mut st = good_state();
    st["clusters"][1]["centroid"] = json!([2.0, 0.0, 1.0]);
    refused(&dir, &spec, &st, &["clusters[1].centroid: 3 values, but the features encode to a vector of 4"]);
    // A vocabulary one value short changes the width the centroids must have.
    let mut st = good_state();
    st["features"][1]["vocabulary"] = json!(["tcp", "udp"]);
    refused(
        &dir,
        &spec,
        &st,
        &[
            "clusters[0].centroid: 4 values, but the features encode to a vector of 3",
            "clusters[1].centroid: 4 values, but the features encode to a vector of 3",
        ],
    );
    let mut st = good_state();
    st["features"].as_array_mut().unwrap().pop();
    refused(&dir, &spec, &st, &["features: 1 entries, but the spec declares 2 features (bytes, proto)"]);
    let mut st = good_state();
    st["clusters"].as_array_mut().unwrap().pop();
    st["clusters"][0]["size"] = json!(10);
    st["clusters"][0]["share"] = json!(1.0);
    refused(&dir, &spec, &st, &["clusters: 1 clusters, but the spec asks for n_clusters = 2"]);
}

#[test]
fn missing_and_mistyped_fields_are_refused_naming_them() {
    let (dir, spec) = setup("assemble-fields");
    let mut st = good_state();
    st["clusters"][0].as_object_mut().unwrap().remove("threshold");
    refused(&dir, &spec, &st, &["clusters[0]: missing field `threshold`"]);
    let mut st = good_state();
    st.as_object_mut().unwrap().remove("clusters");
    refused(&dir, &spec, &st, &["the state has no `clusters`"]);
    let mut st = good_state();
    st["training"].as_object_mut().unwrap().remove("rows");
    refused(&dir, &spec, &st, &["training: missing field `rows`"]);
    let mut st = good_state();
    st["clusters"][1]["size"] = json!("two");
    refused(&dir, &spec, &st, &["clusters[1]: invalid type: string \"two\", expected u64"]);
    let mut st = good_state();
    st["features"][0] = json!({"type": "categorical", "vocabulary": ["a"]});
    refused(&dir, &spec, &st, &["features[0] (bytes): the spec declares it numeric, but the state is categorical"]);
    let mut st = good_state();
    st["features"][1]["type"] = json!("ordinal");
    refused(&dir, &spec, &st, &["features[1]: unknown variant `ordinal`"]);
    // Typos are not ignored.
    let mut st = good_state();
    st["thresholds"] = json!([1.0, 2.0]);
    st["clusters"][0]["treshold"] = json!(1.0);
    refused(&dir, &spec, &st, &["the state: unknown field `thresholds`", "clusters[0]: unknown field `treshold`"]);
    let state_path = dir.join("broken.json");
    std::fs::write(&state_path, "{\"features\": [").unwrap();
    let o = logsieve(&["assemble", "--spec", s(&spec), "--state", s(&state_path), "--out", s(&dir.join("x.msgpack"))]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("the state is not valid JSON"), "{o:?}");
}

#[test]
fn inconsistent_statistics_are_refused_all_at_once() {
    let (dir, spec) = setup("assemble-consistency");
    let mut st = good_state();
    st["clusters"][0]["share"] = json!(0.7); // size 8 of 10 rows
    st["clusters"][1]["rare"] = json!(false); // share 0.2 < rare_share 0.3
    st["clusters"][0]["mean_distance"] = json!(2.0); // > max 1.6
    st["clusters"][1]["threshold"] = json!(0.0);
    st["features"][1]["vocabulary"] = json!(["tcp", "missing", "udp"]);
    st["features"][0]["fill"] = json!(3.0); // missing = "zero"
    st["training"]["inertia"] = json!(-1.0);
    refused(
        &dir,
        &spec,
        &st,
        &[
            "(7 problem(s))",
            "clusters[0].share: 0.7, but size / training.rows = 8 / 10 = 0.8",
            "clusters[1].rare: false, but its share 0.2 is below the spec's rare_share 0.3",
            "clusters[0]: mean_distance 2 is larger than max_distance 1.6",
            "clusters[1].threshold: 0 must be finite and >= 0.000000001",
            "features[1] (proto): the vocabulary must be sorted (by bytes) without repeats; \"tcp\" comes before \"missing\"",
            "features[0] (bytes): fill 3, but a missing value is 0 unless the feature has missing = \"mean\"",
            "training.inertia: -1 must be finite and >= 0",
        ],
    );
    let mut st = good_state();
    st["training"]["rows"] = json!(11);
    refused(&dir, &spec, &st, &["clusters: the sizes add up to 10, but training.rows is 11"]);
}

#[test]
fn an_absolute_threshold_in_the_spec_must_be_the_clusters_and_flow2vec_is_not_assembled() {
    let (dir, _) = setup("assemble-spec-rules");
    let spec = dir.join("absolute.toml");
    std::fs::write(&spec, SPEC.replace("threshold_quantile = 0.99", "threshold = 2.5")).unwrap();
    refused(&dir, &spec, &good_state(), &["clusters[0].threshold: 1.5, but the spec sets an absolute threshold = 2.5"]);
    let mut st = good_state();
    st["clusters"][0]["threshold"] = json!(2.5);
    st["clusters"][1]["threshold"] = json!(2.5);
    assemble(&dir, &spec, &st).unwrap();

    let f2v = dir.join("f2v.toml");
    std::fs::write(
        &f2v,
        "[model]\nkind = \"flow2vec\"\nn_clusters = 0\n\n[[features]]\nfield = \"a\"\ntype = \"categorical\"\n",
    )
    .unwrap();
    refused(&dir, &f2v, &good_state(), &["flow2vec model: assemble writes kmeans, kmodes and kprototypes models"]);
}
