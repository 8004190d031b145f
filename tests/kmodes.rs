//! k-modes end to end: the CLI trains from raw Zeek logs through the
//! component and reproduces the `kmodes` package; the component scores
//! exactly as the native library; the DCE-RPC example flags what its README
//! says, for the reasons it gives.

mod common;

use common::logsieve_ok as logsieve;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use logsieve::runtime::{EMBEDDED_COMPONENT, Options, Outcome, Runtime};
use logsieve_artifact::decode;
use logsieve_plugin::Scorer;
use serde_json::Value;

/// The recipe of `shared/reference/kmodes_conn.json` as a spec: seven
/// categorical conn fields, the notebook's time-of-day buckets, Cao.
const CONN_KMODES: &str = r#"
[model]
kind = "kmodes"
n_clusters = 15
init = "cao"
n_init = 1
max_iter = 100

[scoring]
# The kmodes package's view: each row against its own mode.
method = "centroid"
threshold = 5

[[derive]]
name = "time_of_day_bin"
op = "day_bucket"

[[features]]
field = "proto"
type = "categorical"
[[features]]
field = "service"
type = "categorical"
[[features]]
field = "conn_state"
type = "categorical"
[[features]]
field = "history"
type = "categorical"
[[features]]
field = "local_orig"
type = "categorical"
[[features]]
field = "local_resp"
type = "categorical"
[[features]]
field = "time_of_day_bin"
type = "categorical"
"#;

fn strato_008() -> String {
    common::shared().join("data/zeek/strato-labeled/008/conn.log.labeled.gz").to_string_lossy().into_owned()
}

fn train_conn_kmodes(dir: &Path) -> PathBuf {
    let spec = dir.join("conn-kmodes.toml");
    std::fs::write(&spec, CONN_KMODES).unwrap();
    let out = dir.join("conn-kmodes.msgpack");
    logsieve(&["train", "--spec", spec.to_str().unwrap(), "--input", &strato_008(), "--out", out.to_str().unwrap()]);
    out
}

#[test]
fn the_cli_reproduces_the_kmodes_package_from_raw_zeek_logs() {
    let dir = common::tempdir("kmodes-cli");
    let model = train_conn_kmodes(&dir);
    let m = decode(&std::fs::read(&model).unwrap()).unwrap().model;
    let r = common::reference("kmodes_conn.json");
    let fitted = m.fitted.as_ref().unwrap();
    // Zeek's T/F booleans are JSON booleans here ("true"/"false" as
    // categories); they sort as "F" < "T" do, so the codes are the same.
    assert_eq!(fitted.training.rows, r["n_rows"].as_u64().unwrap());
    assert_eq!(fitted.training.inertia, r["cao"]["cost"].as_f64().unwrap(), "cost");
    assert_eq!(u64::from(fitted.training.n_iter), r["cao"]["n_iter"].as_u64().unwrap());
    let sizes: Vec<u64> = fitted.clusters.iter().map(|c| c.size).collect();
    let want: Vec<u64> = r["cao"]["cluster_sizes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(sizes, want);
    assert!(fitted.clusters.iter().all(|c| c.threshold == 5.0), "the absolute threshold is every cluster's");

    // inspect shows each cluster's mode and size.
    let text = String::from_utf8(logsieve(&["inspect", model.to_str().unwrap()]).stdout).unwrap();
    assert!(text.contains("kind kmodes"), "{text}");
    assert!(text.contains("cost 5741"), "{text}");
    let first_mode = "proto=tcp, service=missing, conn_state=S0, history=S, local_orig=false, local_resp=true, time_of_day_bin=early_morning";
    let line = text.lines().find(|l| l.contains(first_mode)).unwrap_or_else(|| panic!("no mode line in\n{text}"));
    assert!(line.trim_start().starts_with("0   3826"), "{line}");
}

#[test]
fn the_component_scores_kmodes_exactly_as_the_native_library() {
    let dir = common::tempdir("kmodes-wasm");
    let bytes = std::fs::read(train_conn_kmodes(&dir)).unwrap();
    let paths = logsieve_readers::expand_inputs(&[strato_008()]).unwrap();
    let mut events: Vec<String> =
        logsieve_readers::Reader::open(paths, logsieve_readers::Format::Auto).map(|i| i.result.unwrap()).collect();
    let real = events.len();
    // Unseen values, missing fields, numbers and booleans as categories, and
    // a field of the wrong type.
    events.push(r#"{"proto":"sctp","conn_state":"S9","history":"X","ts":0}"#.into());
    events.push(r#"{}"#.into());
    events.push(r#"{"proto":6,"local_orig":true,"ts":"2024-04-19T03:00:00Z"}"#.into());
    events.push(r#"{"proto":{"x":1}}"#.into());
    let opts = Options { top_features: 3, emit_vector: true };
    let mut native = Scorer::new(&bytes, logsieve_plugin::Options { top_features: 3, emit_vector: true }).unwrap();
    let rt = Runtime::new(EMBEDDED_COMPONENT, None).unwrap();
    let mut inst = rt.instantiate(&bytes, opts).unwrap().expect("the model loads");
    let mut flagged = 0;
    for (c, chunk) in events.chunks(500).enumerate() {
        for (i, (event, out)) in chunk.iter().zip(inst.score_batch(chunk).unwrap().outcomes).enumerate() {
            match (native.score(event), out) {
                (Ok(n), Outcome::Scored(w)) => {
                    assert_eq!(n, w);
                    let v: Value = serde_json::from_str(&n).unwrap();
                    let s = &v["logsieve"];
                    let d = s["distance"].as_f64().unwrap();
                    assert_eq!(d, d.trunc(), "a k-modes distance counts fields");
                    assert_eq!(s["mismatches"].as_array().unwrap().len() as f64, d, "{n}");
                    flagged += usize::from(d > 5.0 && c * 500 + i < real);
                }
                (Err(n), Outcome::Failed(w)) => {
                    assert_eq!((n.reason.as_str(), n.detail), (w.reason.as_str(), w.detail))
                }
                (n, w) => panic!("{event}: native {n:?} but wasm {w:?}"),
            }
        }
    }
    // The unseen event: three unseen values, and the absent local_orig /
    // local_resp are "missing", which training never saw either.
    let v: Value = serde_json::from_str(&native.score(&events[events.len() - 4]).unwrap()).unwrap();
    let unseen: Vec<&str> =
        v["logsieve"]["unseen"].as_array().unwrap().iter().map(|u| u["feature"].as_str().unwrap()).collect();
    assert_eq!(unseen, vec!["proto", "conn_state", "history", "local_orig", "local_resp"]);
    assert!(v["logsieve"]["reasons"].as_array().unwrap().contains(&Value::from("unseen_value")));
    assert_eq!(native.score(&events[events.len() - 1]).unwrap_err().reason, "wrong_type");
    // The reference: no training row has more than 5 fields off its mode.
    assert_eq!(real as u64, common::reference("kmodes_conn.json")["n_rows"].as_u64().unwrap());
    assert_eq!(
        flagged as u64,
        common::reference("kmodes_conn.json")["cao"]["rows_with_distance_gt_5"].as_u64().unwrap()
    );
}

/// The DCE-RPC example, trained and run as its README says, into a temp dir.
#[test]
fn the_dce_rpc_example_flags_remote_service_and_task_creation() {
    let example = common::repo().join("pipeline-examples/dce-rpc-kmodes");
    let dir = common::tempdir("kmodes-dce");
    let model = dir.join("dce-rpc.model.msgpack");
    let sample = example.join("sample");
    let train_input = format!("{}/apt29-*", sample.display());
    logsieve(&[
        "train",
        "--spec",
        example.join("model.toml").to_str().unwrap(),
        "--input",
        &train_input,
        "--out",
        model.to_str().unwrap(),
    ]);
    let pipeline = std::fs::read_to_string(example.join("pipeline.toml"))
        .unwrap()
        .replace("\"sample/", &format!("\"{}/", sample.display()))
        .replace("\"dce-rpc.model.msgpack\"", &format!("{:?}", model.display().to_string()))
        .replace("\"out/", &format!("\"{}/", dir.display()));
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, pipeline).unwrap();
    let summary = dir.join("summary.json");
    logsieve(&["run", p.to_str().unwrap(), "--quiet", "--summary-json", summary.to_str().unwrap()]);
    let rows: Vec<Value> = std::fs::read_to_string(dir.join("scored.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 511 + 78, "every call of both captures is scored");
    // Every remote service or task operation of the WRCCDC red team differs
    // from its mode in all six fields: flagged by the notebook's rule.
    let mut by_endpoint: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in &rows {
        let s = &r["logsieve"];
        let e = by_endpoint.entry(r["endpoint"].as_str().unwrap_or("-").to_string()).or_default();
        e.0 += 1;
        if s["distance"].as_f64().unwrap() > 5.0 {
            e.1 += 1;
            assert_eq!(s["reasons"], serde_json::json!(["far_from_centroid", "unseen_value"]), "{r}");
            let fields: Vec<&str> =
                s["mismatches"].as_array().unwrap().iter().map(|m| m["feature"].as_str().unwrap()).collect();
            assert_eq!(
                fields,
                ["endpoint", "named_pipe", "operation", "orig_group", "resp_group", "time_of_day"],
                "{r}"
            );
        }
    }
    assert_eq!(by_endpoint["svcctl"], (55, 55), "{by_endpoint:?}");
    assert_eq!(by_endpoint["ITaskSchedulerService"], (12, 12), "{by_endpoint:?}");
    // The lab's own calls are never that far from a mode.
    for known in ["samr", "lsarpc", "drsuapi", "epmapper", "netlogon", "dssetup"] {
        assert_eq!(by_endpoint[known].1, 0, "{known}: {by_endpoint:?}");
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let t = &s["transforms"]["score"];
    assert_eq!(t["in"], 589);
    assert_eq!(t["scored"], 589);
}

/// `init = "Huang"`, as the kmodes package spells it (and the example's own
/// comment quotes it), trains the same model, byte for byte, as `"huang"`.
#[test]
fn the_kmodes_packages_spelling_of_init_is_taken() {
    let example = common::repo().join("pipeline-examples/dce-rpc-kmodes");
    let dir = common::tempdir("kmodes-init-spelling");
    std::fs::copy(example.join("cidr.csv"), dir.join("cidr.csv")).unwrap();
    let spec = std::fs::read_to_string(example.join("model.toml")).unwrap();
    assert!(spec.contains("init = \"huang\""), "the example's spec sets init");
    std::fs::write(dir.join("lower.toml"), &spec).unwrap();
    std::fs::write(dir.join("upper.toml"), spec.replace("init = \"huang\"", "init = \"Huang\"")).unwrap();
    let input = format!("{}/apt29-*", example.join("sample").display());
    let train = |name: &str| {
        let out = dir.join(format!("{name}.msgpack"));
        let spec = dir.join(format!("{name}.toml"));
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_logsieve"))
            .args(["train", "--quiet", "--spec"])
            .arg(&spec)
            .args(["--input", &input, "--out"])
            .arg(&out)
            .env("SOURCE_DATE_EPOCH", "0")
            .status()
            .unwrap();
        assert!(status.success(), "train {name}");
        std::fs::read(out).unwrap()
    };
    assert_eq!(train("upper"), train("lower"));
}
