//! End to end, through the `logsieve` binary: train on one day of the rita
//! conn logs, run a pipeline on the next day through the wasm component,
//! account for every event, and check what the sinks hold.

mod common;

use common::{logsieve, logsieve_ok as ok};

use std::path::{Path, PathBuf};

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).lines().map(str::to_string).collect()
}

fn train(dir: &Path) -> PathBuf {
    let model = dir.join("conn.model.msgpack");
    let spec = common::conn_spec();
    ok(&[
        "train",
        "--spec",
        spec.to_str().unwrap(),
        "--input",
        &common::rita_conn("2024-04-19"),
        "--out",
        model.to_str().unwrap(),
        "--quiet",
    ]);
    model
}

#[test]
fn train_then_score_the_next_day_accounting_for_every_event() {
    let dir = common::tempdir("e2e");
    train(&dir);

    // A second source: NDJSON events with malformed lines among them.
    let day2 = common::rita_events("2024-04-20");
    let mut extra: Vec<String> = day2[..50].to_vec();
    extra.insert(10, "{\"duration\": 0.5, \"orig_bytes\": ".into()); // cut short
    extra.insert(20, "not json at all".into());
    extra.insert(30, "[\"an\", \"array\"]".into());
    extra.insert(40, "{\"duration\": \"slow\"}".into());
    std::fs::write(dir.join("extra.ndjson"), extra.join("\n") + "\n").unwrap();

    let pipeline = dir.join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"
[sources.day2]
type = "file"
path = "{glob}"

[sources.extra]
type = "file"
path = "extra.ndjson"
format = "ndjson"

[transforms.score]
type = "logsieve"
inputs = ["day2", "extra"]
model = "conn.model.msgpack"

[sinks.scored]
type = "file"
inputs = ["score"]
path = "out/scored.ndjson"

[sinks.anomalies]
type = "file"
inputs = ["score"]
path = "out/anomalies.ndjson"
only_anomalies = true

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "out/errors.ndjson"
"#,
            glob = common::rita_conn("2024-04-20")
        ),
    )
    .unwrap();
    let summary_path = dir.join("summary.json");
    let out = ok(&["run", pipeline.to_str().unwrap(), "--summary-json", summary_path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("transform score:"), "the run prints a summary: {stderr}");

    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    let t = &summary["transforms"]["score"];
    let (input, scored, errors, anomalies) = (
        t["in"].as_u64().unwrap(),
        t["scored"].as_u64().unwrap(),
        t["errors"].as_u64().unwrap(),
        t["anomalies"].as_u64().unwrap(),
    );
    let n_in = (day2.len() + extra.len()) as u64;
    assert_eq!(input, n_in, "every event read reaches the transform");
    assert_eq!(input, scored + errors, "in = scored + errors");
    assert_eq!(errors, 4, "exactly the four malformed lines fail");
    assert_eq!(summary["sources"]["day2"]["read"].as_u64().unwrap(), day2.len() as u64);

    // The sinks hold exactly those events.
    let scored_lines = lines(&dir.join("out/scored.ndjson"));
    let anomaly_lines = lines(&dir.join("out/anomalies.ndjson"));
    let error_lines = lines(&dir.join("out/errors.ndjson"));
    assert_eq!(scored_lines.len() as u64, scored);
    assert_eq!(anomaly_lines.len() as u64, anomalies);
    assert_eq!(error_lines.len() as u64, errors);
    assert!(anomalies > 0 && anomalies < scored / 5, "some, not most, events are anomalous: {anomalies} of {scored}");

    // Every scored line is the original event plus the `logsieve` object.
    let originals: Vec<&String> =
        day2.iter().chain(extra.iter().filter(|e| !e.starts_with("not") && !e.starts_with('['))).collect();
    let originals: Vec<&String> = originals
        .into_iter()
        .filter(|e| serde_json::from_str::<serde_json::Value>(e).is_ok() && !e.contains("\"slow\""))
        .collect();
    assert_eq!(originals.len(), scored_lines.len());
    let model_id = t["model"].as_str().unwrap();
    for (orig, line) in originals.iter().zip(&scored_lines) {
        let head = &orig[..orig.len() - 1];
        assert!(line.starts_with(head), "scored line does not start with its event:\n{orig}\n{line}");
        let tail = &line[head.len()..];
        assert!(tail.starts_with(",\"logsieve\":{") && tail.ends_with("}}"), "unexpected tail: {tail}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let o: serde_json::Value = serde_json::from_str(orig).unwrap();
        let (vo, oo) = (v.as_object().unwrap(), o.as_object().unwrap());
        assert_eq!(vo.len(), oo.len() + 1);
        let ls = &v["logsieve"];
        assert_eq!(ls["model"], model_id);
        let (d, th, sc) =
            (ls["distance"].as_f64().unwrap(), ls["threshold"].as_f64().unwrap(), ls["score"].as_f64().unwrap());
        // The example scores with cblof: an event of a small cluster is
        // measured halfway (bulk_weight 0.5) toward the nearest large one.
        let scored = match ls.get("nearest_large") {
            Some(nl) => {
                let dl = nl["distance"].as_f64().unwrap();
                assert!(dl >= d, "the own centroid is the nearest: {d} vs {dl}");
                d + 0.5 * (dl - d)
            }
            None => d,
        };
        assert!((sc - scored / th).abs() <= 1e-12 * sc.max(1.0), "{sc} vs {scored} / {th}");
        let reasons: Vec<&str> = ls["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert_eq!(ls["anomaly"].as_bool().unwrap(), !reasons.is_empty());
        assert_eq!(reasons.contains(&"far_from_centroid"), scored > th);
        let shares: f64 = ls["top_features"].as_array().unwrap().iter().map(|f| f["share"].as_f64().unwrap()).sum();
        // Each share is rounded to 4 decimals: three can add up past 1 by
        // at most 3 × 0.00005.
        assert!(shares <= 1.0 + 1.5e-4, "{shares}");
    }

    // Every error names its reason and keeps the event's text.
    let reasons: Vec<String> = error_lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(!v["detail"].as_str().unwrap().is_empty());
            assert!(v["file"].as_str().unwrap().ends_with("extra.ndjson"));
            // The event's text as read (the NDJSON reader trims the line).
            assert!(extra.iter().any(|e| e.trim() == v["event"].as_str().unwrap()));
            v["reason"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(reasons, ["invalid_json", "invalid_json", "not_an_object", "wrong_type"]);
    let lines_at: Vec<u64> = error_lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines_at, [11, 21, 31, 41]);
}

#[test]
fn a_zeek_row_with_missing_columns_goes_to_the_errors_output() {
    let dir = common::tempdir("e2e-tsv");
    let model = train(&dir);
    let src = common::shared().join("data/zeek/rita-missing-host/2024-04-20/conn.00:00:00-01:00:00.log.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(&src).unwrap()), &mut text)
        .unwrap();
    let mut rows: Vec<&str> = text.lines().collect();
    let data_rows = rows.iter().filter(|l| !l.starts_with('#')).count();
    let first_data = rows.iter().position(|l| !l.starts_with('#')).unwrap();
    rows.insert(first_data + 3, "only\tthree\tcolumns");
    std::fs::write(dir.join("conn.log"), rows.join("\n") + "\n").unwrap();
    std::fs::write(
        dir.join("p.toml"),
        format!(
            "[sources.z]\ntype = \"file\"\npath = \"conn.log\"\n[transforms.t]\ntype = \"logsieve\"\ninputs = [\"z\"]\nmodel = \"{}\"\n\
             [sinks.s]\ntype = \"file\"\ninputs = [\"t\"]\npath = \"s.ndjson\"\n[sinks.e]\ntype = \"file\"\ninputs = [\"t.errors\"]\npath = \"e.ndjson\"\n",
            model.display()
        ),
    )
    .unwrap();
    ok(&["run", dir.join("p.toml").to_str().unwrap(), "--quiet"]);
    assert_eq!(lines(&dir.join("s.ndjson")).len(), data_rows);
    let errs = lines(&dir.join("e.ndjson"));
    assert_eq!(errs.len(), 1);
    let e: serde_json::Value = serde_json::from_str(&errs[0]).unwrap();
    assert_eq!(e["reason"], "zeek_column_count");
    assert_eq!(e["event"], "only\tthree\tcolumns");
}

#[test]
fn configuration_mistakes_are_named() {
    let dir = common::tempdir("e2e-config");
    let p = dir.join("bad.toml");
    std::fs::write(&p, "[sources.a]\ntype = \"file\"\npath = \"x\"\nformatt = \"csv\"\n[sinks.s]\ntype = \"stdout\"\ninputs = [\"t\"]\n").unwrap();
    let out = logsieve(&["run", p.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("formatt"), "{}", String::from_utf8_lossy(&out.stderr));

    std::fs::write(
        &p,
        "[sources.a]\ntype = \"file\"\npath = \"x\"\n[sinks.s]\ntype = \"stdout\"\ninputs = [\"a\", \"nope\"]\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&logsieve(&["run", p.to_str().unwrap()]).stderr).to_string();
    assert!(err.contains("'a' is not a transform output") && err.contains("it is a source"), "{err}");
    assert!(err.contains("'nope' is not a transform output"), "all problems are listed: {err}");

    let spec = dir.join("spec.toml");
    std::fs::write(&spec, "[model]\nn_clusters = 0\nn_clustres = 3\n[[features]]\nfield = \"x\"\ntype = \"numeric\"\n")
        .unwrap();
    let err = String::from_utf8_lossy(
        &logsieve(&["train", "--spec", spec.to_str().unwrap(), "--input", "x", "--out", "y"]).stderr,
    )
    .to_string();
    assert!(err.contains("n_clustres"), "{err}");
}

#[test]
fn a_bad_model_is_refused_before_any_event_is_read() {
    let dir = common::tempdir("e2e-badmodel");
    let model = train(&dir);
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(dir.join("cut.msgpack"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(
        dir.join("p.toml"),
        "[sources.a]\ntype = \"stdin\"\n[transforms.t]\ntype = \"logsieve\"\ninputs = [\"a\"]\nmodel = \"cut.msgpack\"\n[sinks.s]\ntype = \"stdout\"\ninputs = [\"t\"]\n",
    )
    .unwrap();
    let out = logsieve(&["run", dir.join("p.toml").to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.msgpack") && err.contains("truncated"), "{err}");

    let out = logsieve(&["inspect", dir.join("cut.msgpack").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}

#[test]
fn inspect_describes_the_model_and_component_writes_the_wasm() {
    let dir = common::tempdir("e2e-inspect");
    let model = train(&dir);
    let text = String::from_utf8(ok(&["inspect", model.to_str().unwrap()]).stdout).unwrap();
    for want in ["kind kmeans", "n_clusters 7", "scaling zscore", "orig_bytes", "clusters:", "distinguished by"] {
        assert!(text.contains(want), "inspect output lacks {want:?}:\n{text}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", "--json", model.to_str().unwrap()]).stdout).unwrap();
    let clusters = json["model"]["fitted"]["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 7);
    let total: u64 = clusters.iter().map(|c| c["size"].as_u64().unwrap()).sum();
    assert_eq!(total, json["model"]["fitted"]["training"]["rows"].as_u64().unwrap());
    assert_eq!(json["traits"].as_array().unwrap().len(), 7);

    let wasm = dir.join("logsieve.wasm");
    ok(&["component", "-o", wasm.to_str().unwrap()]);
    let bytes = std::fs::read(&wasm).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");
    // The written component can be loaded back with --plugin.
    std::fs::write(dir.join("ev.ndjson"), "{\"duration\":1.0}\n").unwrap();
    std::fs::write(
        dir.join("p.toml"),
        format!(
            "[sources.a]\ntype = \"file\"\npath = \"ev.ndjson\"\n[transforms.t]\ntype = \"logsieve\"\ninputs = [\"a\"]\nmodel = \"{}\"\nplugin = \"logsieve.wasm\"\n[sinks.s]\ntype = \"file\"\ninputs = [\"t\"]\npath = \"o.ndjson\"\n",
            model.display()
        ),
    )
    .unwrap();
    ok(&["run", dir.join("p.toml").to_str().unwrap(), "--quiet"]);
    assert_eq!(lines(&dir.join("o.ndjson")).len(), 1);
    // `run --plugin` overrides every transform's component; a file that is
    // not a component is refused with its name.
    std::fs::write(dir.join("not.wasm"), b"not a component").unwrap();
    let out =
        logsieve(&["run", dir.join("p.toml").to_str().unwrap(), "--plugin", dir.join("not.wasm").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not.wasm"), "{}", String::from_utf8_lossy(&out.stderr));
    ok(&["run", dir.join("p.toml").to_str().unwrap(), "--quiet", "--plugin", wasm.to_str().unwrap()]);
}

/// `batch_timeout_ms = 0` runs the component compiled without deadline
/// checks: the same output, byte for byte, as with a deadline.
#[test]
fn no_deadline_scores_the_same_bytes() {
    let dir = common::tempdir("e2e-no-deadline");
    train(&dir);
    let mut outputs = Vec::new();
    for timeout in ["10000", "0"] {
        let pipeline = dir.join(format!("pipeline-{timeout}.toml"));
        std::fs::write(
            &pipeline,
            format!(
                r#"
[sources.day2]
type = "file"
path = "{glob}"

[transforms.score]
type = "logsieve"
inputs = ["day2"]
model = "conn.model.msgpack"
batch_timeout_ms = {timeout}

[sinks.scored]
type = "file"
inputs = ["score"]
path = "out-{timeout}/scored.ndjson"
"#,
                glob = common::rita_conn("2024-04-20")
            ),
        )
        .unwrap();
        ok(&["run", pipeline.to_str().unwrap(), "--quiet"]);
        outputs.push(std::fs::read(dir.join(format!("out-{timeout}/scored.ndjson"))).unwrap());
    }
    assert!(outputs[0].len() > 1_000_000, "the day scored");
    assert!(outputs[0] == outputs[1], "the outputs differ");
}
