//! `logsieve evaluate`, through the binary, on slices of the labelled
//! strato captures (`tests/fixtures/evaluate/`, written by `make.py` there):
//!
//! - model mode: the metrics it prints are scikit-learn's on the scores it
//!   wrote (`e2e.json`, computed by the script from logsieve's `--output`),
//!   and [`logsieve_train::metrics`] recomputed here from that output;
//! - holdout mode: the events trained on and scored are the ones numpy's
//!   `default_rng(seed).shuffle` picks (baseline.py's split), for several
//!   shares and seeds, and on the whole capture 008 of the shared data
//!   folder (this one fails when `../shared` is absent);
//! - an `[aggregate]` model labelled by key (`--labels --key-field`);
//! - the errors: no positives, an unknown label field, both modes at once,
//!   a label in both classes, a bad share.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use common::{logsieve, logsieve_ok};
use logsieve_train::metrics;
use serde_json::Value;

fn fixtures() -> PathBuf {
    common::repo().join("tests/fixtures/evaluate")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).to_str().unwrap().to_string()
}

fn e2e() -> Value {
    let p = fixtures().join("e2e.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn spec() -> String {
    common::conn_spec().to_str().unwrap().to_string()
}

/// `logsieve train` of `spec` on the 010 slice.
fn train(dir: &Path, spec: &str) -> String {
    let model = dir.join("model.msgpack").to_str().unwrap().to_string();
    logsieve_ok(&["train", "-q", "--spec", spec, "--input", &fixture("strato-010-slice.log.gz"), "--out", &model]);
    model
}

/// `logsieve evaluate ARGS --json -q` (which must succeed) on `input`, its
/// JSON report and the scored events it wrote.
fn evaluate(dir: &Path, input: &str, args: &[&str]) -> (Value, Vec<Value>) {
    let scored = dir.join("scored.ndjson");
    let mut all = vec!["evaluate", "--input", input, "--json", "-q", "--output", scored.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = logsieve_ok(&all);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("evaluate --json printed no JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    let text = std::fs::read_to_string(&scored).unwrap();
    (report, text.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

fn is_positive(label: &str) -> bool {
    label.trim().to_lowercase().starts_with("malicious")
}

fn is_negative(label: &str) -> bool {
    label.trim().eq_ignore_ascii_case("benign")
}

/// (uid, positive, score, distance) of the labelled scored events.
fn labelled(scored: &[Value]) -> Vec<(String, bool, f64, f64)> {
    scored
        .iter()
        .filter_map(|e| {
            let label = e["label"].as_str().unwrap();
            (is_positive(label) || is_negative(label)).then(|| {
                (
                    e["uid"].as_str().unwrap().to_string(),
                    is_positive(label),
                    e["logsieve"]["score"].as_f64().unwrap(),
                    e["logsieve"]["distance"].as_f64().unwrap(),
                )
            })
        })
        .collect()
}

fn close(what: &str, got: &Value, want: &Value) {
    let (g, w) = (got.as_f64().unwrap_or_else(|| panic!("{what}: {got}")), want.as_f64().unwrap());
    assert!((g - w).abs() <= 1e-12, "{what}: logsieve {g}, scikit-learn {w}");
}

/// The scores logsieve wrote are the ones the fixture's metrics were
/// computed from (else the model trains differently now: run make.py).
fn same_scores(events: &[(String, bool, f64, f64)], want: &Value) {
    let want: HashMap<&str, (f64, f64)> = want
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["uid"].as_str().unwrap(), (e["score"].as_f64().unwrap(), e["distance"].as_f64().unwrap())))
        .collect();
    assert_eq!(events.len(), want.len(), "scored events: the fixture has {}", want.len());
    for (uid, _, s, d) in events {
        assert_eq!(
            want.get(uid.as_str()),
            Some(&(*s, *d)),
            "{uid}: the scores differ from tests/fixtures/evaluate/e2e.json; if the model legitimately trains \
             differently now, run tests/fixtures/evaluate/make.py again"
        );
    }
}

/// The report's metrics against scikit-learn's (the fixture) and against
/// the metrics recomputed here from the scored events.
fn check_metrics(report: &Value, events: &[(String, bool, f64, f64)], want: &Value) {
    let y: Vec<bool> = events.iter().map(|e| e.1).collect();
    for (key, values) in [
        ("score", events.iter().map(|e| e.2).collect::<Vec<f64>>()),
        ("distance", events.iter().map(|e| e.3).collect()),
    ] {
        let r = &report[key];
        close(&format!("{key} roc_auc"), &r["roc_auc"], &want[key]["roc_auc"]);
        close(&format!("{key} average_precision"), &r["average_precision"], &want[key]["average_precision"]);
        assert_eq!(r["roc_auc"].as_f64(), metrics::roc_auc(&values, &y), "{key}: roc_auc recomputed");
        assert_eq!(r["average_precision"].as_f64(), metrics::average_precision(&values, &y), "{key}: AP recomputed");
        assert_eq!(r["n"], want[key]["n"], "{key}: n");
        assert_eq!(r["positives"], want[key]["positives"], "{key}: positives");
        let p10 = r["precision_at"].as_array().unwrap().iter().find(|p| p["k"] == 10).expect("precision at 10");
        close(&format!("{key} precision@10"), &p10["precision"], &want[key]["precision_at_10"]);
    }
    close("anomaly tpr", &report["anomaly"]["tpr"], &want["anomaly"]["tpr"]);
    close("anomaly fpr", &report["anomaly"]["fpr"], &want["anomaly"]["fpr"]);
}

#[test]
fn model_mode_reports_scikit_learns_metrics_of_its_scores() {
    let dir = common::tempdir("evaluate-model");
    let model = train(&dir, &spec());
    let input = fixture("strato-008-slice.log.gz");
    let (report, scored) = evaluate(
        &dir,
        &input,
        &["--model", &model, "--positive", "Malicious*", "--negative", "Benign", "--top-k", "10,100"],
    );
    let f = e2e();
    let events = labelled(&scored);
    same_scores(&events, &f["model"]["events"]);
    check_metrics(&report, &events, &f["model"]);

    // Every event read is scored (a model file scores everything); the
    // classes are those of the labels in the slice.
    let n = f["slices"]["008"].as_u64().unwrap();
    assert_eq!(report["mode"], "model");
    assert_eq!(report["events"]["read"].as_u64(), Some(n));
    assert_eq!(report["events"]["scored"].as_u64(), Some(n));
    assert_eq!(scored.len() as u64, n);
    let mut by_class: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &scored {
        let l = e["label"].as_str().unwrap();
        let c = if is_positive(l) {
            "positive"
        } else if is_negative(l) {
            "negative"
        } else {
            "unlabelled"
        };
        *by_class.entry(c).or_default() += 1;
    }
    for (c, count) in by_class {
        assert_eq!(report["classes"][c]["events"].as_u64(), Some(count), "class {c}");
        assert_eq!(report["classes"][c]["scored"].as_u64(), Some(count), "class {c}");
    }
    assert_eq!(report["events"]["evaluated"].as_u64(), Some(events.len() as u64));

    // The table says the same.
    let out = logsieve_ok(&[
        "evaluate",
        "-q",
        "--model",
        &model,
        "--input",
        &input,
        "--positive",
        "malicious*",
        "--negative",
        "benign",
    ]);
    let table = String::from_utf8(out.stdout).unwrap();
    let auc = format!("{:.4}", report["score"]["roc_auc"].as_f64().unwrap());
    assert!(table.lines().any(|l| l.starts_with("  ROC AUC") && l.contains(&auc)), "{table}");
    assert!(table.contains("precision@100"), "{table}");
}

/// The uids of the scored events of each class.
fn scored_uids(scored: &[Value]) -> (BTreeSet<String>, BTreeSet<String>, usize) {
    let (mut neg, mut pos, mut other) = (BTreeSet::new(), BTreeSet::new(), 0);
    for e in scored {
        let uid = e["uid"].as_str().unwrap().to_string();
        let label = e["label"].as_str().unwrap();
        if is_positive(label) {
            pos.insert(uid);
        } else if is_negative(label) {
            neg.insert(uid);
        } else {
            other += 1;
        }
    }
    (neg, pos, other)
}

fn uid_set(v: &Value) -> BTreeSet<String> {
    v.as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()).collect()
}

#[test]
fn holdout_splits_the_negatives_as_numpy_does() {
    let dir = common::tempdir("evaluate-holdout");
    let input = fixture("strato-008-slice.log.gz");
    let f = e2e();
    let spec = spec();
    for split in f["split"].as_array().unwrap() {
        let share = split["share"].as_f64().unwrap().to_string();
        let seed = split["random_state"].as_u64().unwrap().to_string();
        let (report, scored) = evaluate(
            &dir,
            &input,
            &[
                "--spec",
                &spec,
                "--holdout",
                &share,
                "--random-state",
                &seed,
                "--top-k",
                "10",
                "--positive",
                "Malicious*",
                "--negative",
                "Benign",
            ],
        );
        let (neg, pos, other) = scored_uids(&scored);
        let what = format!("--holdout {share} --random-state {seed}");
        assert_eq!(neg, uid_set(&split["held_out"]), "{what}: the negatives scored");
        assert!(neg.is_disjoint(&uid_set(&split["train"])), "{what}");
        assert_eq!(pos.len() as u64, split["positives"].as_u64().unwrap(), "{what}: every positive is scored");
        assert_eq!(other, 0, "{what}: only labelled events are scored");
        let h = &report["holdout"];
        assert_eq!(h["negatives"], split["negatives"], "{what}");
        assert_eq!(h["train"].as_u64(), Some(split["train"].as_array().unwrap().len() as u64), "{what}");
        assert_eq!(h["held_out"].as_u64(), Some(neg.len() as u64), "{what}");
        assert_eq!(h["train_rows"], h["train"], "{what}: one row per training event");
        assert_eq!(report["classes"]["negative"]["trained"], h["train"], "{what}");
        if share == "0.5" && seed == "0" {
            let events = labelled(&scored);
            same_scores(&events, &f["holdout"]["events"]);
            check_metrics(&report, &events, &f["holdout"]);
        }
    }
}

#[test]
fn holdout_on_strato_008_is_baselines_split() {
    let path = common::shared().join("data/zeek/strato-labeled/008/conn.log.labeled.gz");
    let dir = common::tempdir("evaluate-strato");
    let (report, scored) = evaluate(
        &dir,
        path.to_str().unwrap(),
        &[
            "--spec",
            &spec(),
            "--holdout",
            "0.5",
            "--random-state",
            "0",
            "--label-field",
            "label",
            "--positive",
            "Malicious*",
            "--negative",
            "Benign",
        ],
    );
    let want = &e2e()["strato_008_split"];
    let (neg, pos, _) = scored_uids(&scored);
    assert_eq!(neg, uid_set(&want["held_out"]), "the benign flows scored are baseline.py's test half");
    assert_eq!(pos.len() as u64, want["positives"].as_u64().unwrap());
    let h = &report["holdout"];
    assert_eq!(
        (h["negatives"].as_u64(), h["train"].as_u64(), h["held_out"].as_u64()),
        (Some(1402), Some(701), Some(701))
    );
    assert_eq!(h["left_out"].as_u64(), Some(60), "the Background flows");
    // The metrics are those of the scores written.
    let events = labelled(&scored);
    let y: Vec<bool> = events.iter().map(|e| e.1).collect();
    let s: Vec<f64> = events.iter().map(|e| e.2).collect();
    assert_eq!(report["score"]["roc_auc"].as_f64(), metrics::roc_auc(&s, &y));
}

#[test]
fn an_aggregate_model_is_labelled_by_key() {
    let dir = common::tempdir("evaluate-aggregate");
    let spec = common::repo().join("pipeline-examples/kerberos-per-host/conn-hosts.toml");
    let model = train(&dir, spec.to_str().unwrap());
    let input = fixture("strato-008-slice.log.gz");
    let hosts = fixture("hosts.csv");
    let (report, scored) = evaluate(
        &dir,
        &input,
        &[
            "--model",
            &model,
            "--labels",
            &hosts,
            "--key-field",
            "id.orig_h",
            "--positive",
            "Malicious*",
            "--negative",
            "Benign",
        ],
    );
    // The labels, read here.
    let text = std::fs::read_to_string(&hosts).unwrap();
    let labels: HashMap<&str, &str> = text.lines().skip(1).map(|l| l.split_once(',').unwrap()).collect();
    let (mut s, mut y) = (Vec::new(), Vec::new());
    for e in &scored {
        assert!(e.get("window_start").is_some(), "the scored events are aggregates: {e}");
        let label = labels[e["id.orig_h"].as_str().unwrap()];
        if is_positive(label) || is_negative(label) {
            s.push(e["logsieve"]["score"].as_f64().unwrap());
            y.push(is_positive(label));
        }
    }
    assert_eq!(report["events"]["aggregates"].as_u64(), Some(scored.len() as u64));
    assert_eq!(report["events"]["not_scored"]["absorbed"], report["events"]["read"]);
    assert_eq!(report["score"]["n"].as_u64(), Some(s.len() as u64));
    assert!(y.iter().any(|&p| p) && y.iter().any(|&p| !p));
    assert_eq!(report["score"]["roc_auc"].as_f64(), metrics::roc_auc(&s, &y));
    assert_eq!(report["score"]["average_precision"].as_f64(), metrics::average_precision(&s, &y));

    // Without the labels file, the aggregates have no label: said so.
    let err = fails(&["--model", &model, "--input", &input, "--positive", "Malicious*"]);
    assert!(err.contains("aggregate") && err.contains("--labels FILE --key-field"), "{err}");
}

/// `logsieve evaluate ARGS` must fail (status 2); its stderr.
fn fails(args: &[&str]) -> String {
    let mut all = vec!["evaluate"];
    all.extend_from_slice(args);
    let out = logsieve(&all);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "logsieve {all:?} should fail; stderr:\n{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout when it fails");
    err
}

#[test]
fn errors_are_clear() {
    let dir = common::tempdir("evaluate-errors");
    let model = train(&dir, &spec());
    let input = fixture("strato-008-slice.log.gz");
    let spec = spec();
    let on_input = |extra: &[&str]| {
        let mut v = vec!["--input", input.as_str()];
        v.extend_from_slice(extra);
        fails(&v)
    };
    let m = model.as_str();

    let err = on_input(&["--model", m, "--positive", "Attack*"]);
    assert!(err.contains("no event is positive") && err.contains("\"Attack*\""), "{err}");
    assert!(err.contains("Malicious") && err.contains("Benign"), "the labels seen are listed: {err}");

    let err = on_input(&["--model", m, "--positive", "Malicious*", "--negative", "Good*"]);
    assert!(err.contains("no event is negative"), "{err}");

    let err = on_input(&["--model", m, "--positive", "Malicious*", "--label-field", "verdict"]);
    assert!(err.contains("no event has the label field \"verdict\"") && err.contains("detailedlabel"), "{err}");

    let err = on_input(&["--model", m, "--positive", "Malicious*", "--negative", "mal*"]);
    assert!(err.contains("matches both --positive \"Malicious*\" and --negative \"mal*\""), "{err}");

    let err = on_input(&["--model", &model, "--spec", &spec, "--holdout", "0.5", "--positive", "Malicious*"]);
    assert!(err.contains("--model") && err.contains("--spec") && err.contains("cannot be used with"), "{err}");

    let err = on_input(&["--positive", "Malicious*"]);
    assert!(err.contains("--model") && err.contains("--spec"), "one mode is required: {err}");

    let err = on_input(&["--spec", &spec, "--holdout", "1.5", "--positive", "Malicious*"]);
    assert!(err.contains("'1.5' is not a share above 0 and below 1"), "{err}");

    let err = on_input(&["--model", m, "--random-state", "3", "--positive", "Malicious*"]);
    assert!(err.contains("--random-state") && err.contains("--spec"), "{err}");

    let hosts = fixture("hosts.csv");
    let err = on_input(&["--model", m, "--labels", &hosts, "--positive", "Malicious*"]);
    assert!(err.contains("--key-field"), "{err}");

    let err = on_input(&["--model", m, "--labels", &hosts, "--key-field", "host", "--positive", "Malicious*"]);
    assert!(err.contains("no row with both a --key-field \"host\""), "{err}");

    // Holdout mode refuses before training: no positives among the events.
    let err = on_input(&["--spec", &spec, "--holdout", "0.5", "--positive", "Attack*"]);
    assert!(err.contains("no event is positive"), "{err}");
}
