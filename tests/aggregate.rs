//! The feature language end to end: per-key aggregation against pandas on
//! real logs, and filters, derived fields and windows through the pipeline.

mod common;

/// `logsieve args` in `dir`, which must succeed.
fn logsieve(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::assert_ok(common::logsieve_in(dir, args), &args)
}

use std::collections::BTreeMap;
use std::path::Path;

use indicatif::ProgressBar;
use logsieve::commands::train::extract;
use logsieve_artifact::{DeriveOp, ModelSpec, ValidSpec};
use logsieve_plugin::FeatureValue;
use logsieve_readers::Format;

fn spec(toml_text: &str) -> ValidSpec {
    let s: ModelSpec = toml::from_str(toml_text).unwrap();
    s.validate().unwrap()
}

/// pandas `df.groupby('id.orig_h')['id.resp_p'].describe()` over the whole
/// of 2024-04-19, through the component's aggregation (the pipeline's code).
#[test]
fn per_origin_describe_matches_pandas_for_every_host() {
    let s = spec(
        r#"
[model]
n_clusters = 6
[aggregate]
group_by = ["id.orig_h"]
window = "all"
[[aggregate.fields]]
name = "count"
op = "count"
[[aggregate.fields]]
name = "unique"
op = "unique"
field = "id.resp_p"
[[aggregate.fields]]
name = "top"
op = "top"
field = "id.resp_p"
[[aggregate.fields]]
name = "freq"
op = "freq"
field = "id.resp_p"
[[features]]
field = "id.orig_h"
type = "categorical"
[[features]]
field = "count"
type = "numeric"
[[features]]
field = "unique"
type = "numeric"
[[features]]
field = "top"
type = "categorical"
[[features]]
field = "freq"
type = "numeric"
"#,
    );
    let paths = logsieve_readers::expand_inputs(&[common::rita_conn("2024-04-19")]).unwrap();
    let ex = extract(&s, paths, Format::Auto, None, &ProgressBar::hidden()).unwrap();
    assert!(ex.skipped.is_empty(), "{:?}", ex.examples);
    assert_eq!(ex.absorbed, 31_367);
    let r = common::reference("aggregate_conn_by_origin.json");
    let hosts = r["hosts"].as_object().unwrap();
    assert_eq!(ex.rows.len(), hosts.len(), "one aggregate per origin host");
    assert_eq!(ex.rows.len() as u64, r["n_hosts"].as_u64().unwrap());
    let mut seen = BTreeMap::new();
    for row in &ex.rows {
        let [
            FeatureValue::Category(host),
            FeatureValue::Number(count),
            FeatureValue::Number(unique),
            FeatureValue::Category(top),
            FeatureValue::Number(freq),
        ] = &row[..]
        else {
            panic!("unexpected row {row:?}")
        };
        let want = &hosts[host.as_str()];
        let got = (*count as u64, *unique as u64, top.as_str(), *freq as u64);
        let exp = (
            want["count"].as_u64().unwrap(),
            want["unique"].as_u64().unwrap(),
            want["top"].as_str().unwrap(),
            want["freq"].as_u64().unwrap(),
        );
        assert_eq!(got, exp, "host {host}");
        seen.insert(host.clone(), ());
    }
    assert_eq!(seen.len(), hosts.len(), "every host exactly once");
}

fn pipeline(model: &str, input: &str) -> String {
    format!(
        "[sources.s]\ntype = \"file\"\npath = \"{input}\"\nformat = \"ndjson\"\n\
         [transforms.t]\ntype = \"logsieve\"\ninputs = [\"s\"]\nmodel = \"{model}\"\nbatch_size = 3\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"t\"]\npath = \"out.ndjson\"\n\
         [sinks.err]\ntype = \"file\"\ninputs = [\"t.errors\"]\npath = \"err.ndjson\"\n"
    )
}

fn read_lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Windows by event time through `logsieve run`: boundaries, a late event,
/// the end-of-input flush, and the accounting.
#[test]
fn windowed_pipeline_emits_exact_aggregates_and_accounts_for_everything() {
    let dir = common::tempdir("agg-window");
    std::fs::write(
        dir.join("spec.toml"),
        r#"
[model]
n_clusters = 1
n_init = 1
[scoring]
rare_share = 0.0
[[where]]
field = "proto"
op = "!="
value = "icmp"
[filter]
unmatched = "drop"
[aggregate]
group_by = ["h"]
window = "60s"
[[aggregate.fields]]
name = "count"
op = "count"
[[aggregate.fields]]
name = "unique"
op = "unique"
field = "p"
[[aggregate.fields]]
name = "top"
op = "top"
field = "p"
[[aggregate.fields]]
name = "bytes"
op = "sum"
field = "b"
[[features]]
field = "count"
type = "numeric"
"#,
    )
    .unwrap();
    // Train on a few events so the model exists; what matters is the run.
    std::fs::write(dir.join("train.ndjson"), "{\"ts\":0,\"h\":\"a\",\"p\":1}\n{\"ts\":1,\"h\":\"b\",\"p\":1}\n")
        .unwrap();
    logsieve(&dir, &["train", "--spec", "spec.toml", "--input", "train.ndjson", "--out", "m.msgpack", "--quiet"]);
    let events = [
        r#"{"ts":0,"h":"a","p":80,"b":10}"#,
        r#"{"ts":10,"h":"b","p":22,"b":1}"#,
        r#"{"ts":30,"h":"a","p":443,"b":5}"#,
        r#"{"ts":59.5,"h":"a","p":80,"b":1}"#,
        r#"{"ts":20,"h":"a","p":80,"proto":"icmp"}"#, // dropped by where
        r#"{"ts":61,"h":"a","p":80,"b":7}"#,          // closes [0, 60)
        r#"{"ts":50,"h":"b","p":22}"#,                // late: its window is closed
        r#"{"h":"c","p":1}"#,                         // no time
        r#"{"ts":62,"p":1}"#,                         // no group-by field
        r#"{"ts":70,"h":"b","p":22,"b":2}"#,
    ];
    std::fs::write(dir.join("in.ndjson"), events.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("p.toml"), pipeline("m.msgpack", "in.ndjson")).unwrap();
    logsieve(&dir, &["run", "p.toml", "--summary-json", "summary.json"]);

    let out = read_lines(&dir.join("out.ndjson"));
    let agg: Vec<(String, f64, f64, u64, u64, String, f64)> = out
        .iter()
        .map(|v| {
            (
                v["h"].as_str().unwrap().to_string(),
                v["window_start"].as_f64().unwrap(),
                v["window_end"].as_f64().unwrap(),
                v["count"].as_u64().unwrap(),
                v["unique"].as_u64().unwrap(),
                v["top"].as_str().unwrap().to_string(),
                v["bytes"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        agg,
        vec![
            ("a".into(), 0.0, 60.0, 3, 2, "80".into(), 16.0),
            ("b".into(), 0.0, 60.0, 1, 1, "22".into(), 1.0),
            ("a".into(), 60.0, 120.0, 1, 1, "80".into(), 7.0),
            ("b".into(), 60.0, 120.0, 1, 1, "22".into(), 2.0),
        ]
    );
    assert!(out.iter().all(|v| v["logsieve"]["cluster"].is_u64() && v["partial"] == false));
    let errs = read_lines(&dir.join("err.ndjson"));
    let reasons: Vec<&str> = errs.iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["late_event", "missing_field", "missing_field"]);

    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let t = &s["transforms"]["t"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert_eq!(n("in"), 10);
    assert_eq!((n("absorbed"), n("dropped"), n("errors"), n("scored"), n("passed")), (6, 1, 3, 0, 0));
    assert_eq!((n("emitted"), n("emitted_scored"), n("emitted_errors")), (4, 4, 0));

    // `inspect` says what the model does before it clusters.
    let text = String::from_utf8(logsieve(&dir, &["inspect", "m.msgpack"]).stdout).unwrap();
    assert!(text.contains("where proto != \"icmp\"  (other events: dropped)"), "{text}");
    assert!(text.contains("aggregate by h window 60s"), "{text}");
}

/// Derived fields and a pass-through filter, per event.
#[test]
fn derived_fields_and_passed_events() {
    let dir = common::tempdir("agg-derive");
    std::fs::write(
        dir.join("groups.csv"),
        "# department groups\n10.0.0.0/8,internal\n10.1.0.0/16,finance\n10.1.2.3/32,cfo\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("spec.toml"),
        r#"
[model]
n_clusters = 1
n_init = 1
[scaling]
method = "none"
[scoring]
rare_share = 0.0
[input]
aliases = { "src" = ["src_ip"] }
[[where]]
field = "proto"
op = "in"
values = ["tcp", "udp"]
[[derive]]
name = "total_data"
op = "product"
fields = ["pkts", "bytes"]
[[derive]]
name = "dst22"
op = "equals"
fields = ["dport"]
value = 22
[[derive]]
name = "hour"
op = "hour"
[[derive]]
name = "bucket"
op = "day_bucket"
utc_offset = "+02:00"
[[derive]]
name = "group"
op = "cidr_group"
fields = ["src"]
cidr_file = "groups.csv"
[[derive]]
name = "gap"
op = "inter_arrival"
key = ["src"]
[[features]]
field = "total_data"
type = "numeric"
[[features]]
field = "dst22"
type = "numeric"
[[features]]
field = "hour"
type = "numeric"
[[features]]
field = "bucket"
type = "categorical"
[[features]]
field = "group"
type = "categorical"
[[features]]
field = "gap"
type = "numeric"
"#,
    )
    .unwrap();
    let events = [
        // 2024-04-19 00:00:00 UTC (02:00 at +02:00: early_morning)
        r#"{"ts":1713484800,"proto":"tcp","src":"10.1.2.3","dport":22,"pkts":3,"bytes":100}"#,
        r#"{"ts":"2024-04-19T13:00:05Z","proto":"udp","src_ip":"10.1.9.9","dport":"53","pkts":2,"bytes":50}"#,
        r#"{"ts":1713484830,"proto":"tcp","src":"10.1.2.3","dport":80,"pkts":1,"bytes":60}"#,
        r#"{"ts":1713484840,"proto":"icmp","src":"10.9.9.9"}"#,
        r#"{"ts":1713484850,"proto":"tcp","src":"192.168.1.1","dport":22,"pkts":1,"bytes":1}"#,
    ];
    std::fs::write(dir.join("in.ndjson"), events.join("\n") + "\n").unwrap();
    logsieve(&dir, &["train", "--spec", "spec.toml", "--input", "in.ndjson", "--out", "m.msgpack", "--quiet"]);
    std::fs::write(dir.join("p.toml"), pipeline("m.msgpack", "in.ndjson").replace("batch_size = 3", "batch_size = 2"))
        .unwrap();
    let out = common::logsieve_command(&dir)
        .args(["run", "p.toml", "--summary-json", "s.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = read_lines(&dir.join("out.ndjson"));
    assert_eq!(out.len(), 5, "4 scored + 1 passed through");
    // The icmp event passes through unchanged (no logsieve key).
    assert!(out[3].get("logsieve").is_none() && out[3]["proto"] == "icmp");
    let vec = |i: usize| out[i]["logsieve"]["vector"].as_array().map(|a| a.len());
    assert_eq!(vec(0), None, "vectors are only written with emit_vector");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["transforms"]["t"]["passed"], 1);
    assert_eq!(s["transforms"]["t"]["scored"], 4);

    // The extracted values, exactly: through the component's extraction.
    let spec_text = std::fs::read_to_string(dir.join("spec.toml")).unwrap();
    let mut sp: ModelSpec = toml::from_str(&spec_text).unwrap();
    let DeriveOp::CidrGroup { cidr_table, .. } = &mut sp.derive[4].op else { panic!("derive 4 is the cidr_group") };
    *cidr_table = vec![
        ("10.0.0.0/8".into(), "internal".into()),
        ("10.1.0.0/16".into(), "finance".into()),
        ("10.1.2.3/32".into(), "cfo".into()),
    ];
    let sp = sp.validate().unwrap();
    let ex = extract(&sp, vec![dir.join("in.ndjson")], Format::Ndjson, None, &ProgressBar::hidden()).unwrap();
    use FeatureValue::{Category as C, Missing as M, Number as N};
    assert_eq!(ex.filtered, 1);
    assert_eq!(
        ex.rows,
        vec![
            vec![N(300.0), N(1.0), N(0.0), C("early_morning".into()), C("cfo".into()), M],
            vec![N(100.0), N(0.0), N(13.0), C("evening".into()), C("finance".into()), M],
            vec![N(60.0), N(0.0), N(0.0), C("early_morning".into()), C("cfo".into()), N(30.0)],
            vec![N(1.0), N(1.0), N(0.0), C("early_morning".into()), C("unknown".into()), M],
        ]
    );
}

/// Issue #19, item 9: one event dated in 2100 moved the windows' clock, and
/// every later event was `late_event`. Now an event more than `max_future`
/// (default 1h) ahead of the stream's time goes to errors as
/// `future_event` and leaves the clock where it was; a real jump (two
/// consecutive events that far ahead and agreeing) moves it.
#[test]
fn an_event_far_in_the_future_does_not_blind_the_windows() {
    let dir = common::tempdir("agg-future");
    std::fs::write(
        dir.join("spec.toml"),
        "[model]\nn_clusters = 1\nn_init = 1\n[scoring]\nrare_share = 0.0\n\
         [aggregate]\ngroup_by = [\"h\"]\nwindow = \"60s\"\n\
         [[aggregate.fields]]\nname = \"count\"\nop = \"count\"\n\
         [[features]]\nfield = \"count\"\ntype = \"numeric\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("train.ndjson"), "{\"ts\":0,\"h\":\"a\"}\n{\"ts\":1,\"h\":\"b\"}\n").unwrap();
    logsieve(&dir, &["train", "--spec", "spec.toml", "--input", "train.ndjson", "--out", "m.msgpack", "--quiet"]);
    let mut events = vec![r#"{"ts":0,"h":"a"}"#.to_string(), r#"{"ts":10,"h":"a"}"#.to_string()];
    events.push(r#"{"ts":4102444800,"h":"evil"}"#.to_string()); // 2100-01-01
    for t in [20, 70, 130, 190] {
        events.push(format!(r#"{{"ts":{t},"h":"a"}}"#));
    }
    // The stream really jumps two days ahead: the first such event is
    // refused, the second (agreeing with it) moves the clock.
    events.push(r#"{"ts":172800,"h":"a"}"#.to_string());
    events.push(r#"{"ts":172810,"h":"a"}"#.to_string());
    events.push(r#"{"ts":172820,"h":"a"}"#.to_string());
    std::fs::write(dir.join("in.ndjson"), events.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("p.toml"), pipeline("m.msgpack", "in.ndjson")).unwrap();
    logsieve(&dir, &["run", "p.toml", "--summary-json", "summary.json"]);

    let out = read_lines(&dir.join("out.ndjson"));
    let windows: Vec<(f64, u64)> =
        out.iter().map(|v| (v["window_start"].as_f64().unwrap(), v["count"].as_u64().unwrap())).collect();
    assert_eq!(windows, [(0.0, 3), (60.0, 1), (120.0, 1), (180.0, 1), (172800.0, 2)]);
    let errs = read_lines(&dir.join("err.ndjson"));
    let got: Vec<(u64, &str)> =
        errs.iter().map(|e| (e["line"].as_u64().unwrap(), e["reason"].as_str().unwrap())).collect();
    assert_eq!(got, [(3, "future_event"), (8, "future_event")]);
    let detail = errs[0]["detail"].as_str().unwrap();
    assert!(detail.contains("max_future"), "{detail}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let t = &s["transforms"]["t"];
    assert_eq!((t["in"].as_u64(), t["absorbed"].as_u64(), t["errors"].as_u64()), (Some(10), Some(8), Some(2)));
}
