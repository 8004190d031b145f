//! Every event that enters a pipeline ends in exactly one place — a sink,
//! the errors output, or a counted filter drop / window — checked on every
//! input the test suite uses: each pipeline under `pipeline-examples/`, the
//! rita conn days, each bad-input case, and standard input.
//!
//! The checks are the test's own, not `Summary::check`: records are counted
//! from the input files with simple logic (non-`#` lines of Zeek TSV, lines
//! of NDJSON, rows of CSV), sink files are counted by their lines, and
//! records with a `uid` are followed one by one into the scored and errors
//! outputs.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::examples::{self, paths_of};
use serde_json::Value;
use toml::Table;

fn logsieve(dir: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> std::process::Output {
    common::assert_ok(common::logsieve_with(Some(dir), args, stdin), &args)
}

fn train(dir: &Path, spec: &Path, input: &str, out: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["train", "--spec", spec.to_str().unwrap(), "--input", input, "--out", out, "--quiet"];
    args.extend_from_slice(extra);
    logsieve(dir, &args, None);
    dir.join(out)
}

// ---------------------------------------------------------------------------
// Counting the inputs, independently of the readers.

/// One record of an input: where it is and its `uid`, if it has one.
#[derive(Debug, Clone)]
struct Record {
    file: String,
    line: u64,
    uid: Option<String>,
}

/// The bytes of an input, gunzipped when they start with the gzip magic; a
/// stream cut short gives what decompressed and `true`.
fn decompress(raw: Vec<u8>) -> (Vec<u8>, bool) {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return (raw, false);
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(&raw[..]);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match dec.read(&mut buf) {
            Ok(0) => return (out, false),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return (out, true),
            Err(e) => panic!("gunzip: {e}"),
        }
    }
}

fn json_uid(s: &str) -> Option<String> {
    let i = s.find("\"uid\":\"")? + 7;
    Some(s[i..i + s[i..].find('"')?].to_string())
}

/// The records of one input named `file`, read as `format`: Zeek TSV rows
/// are the lines not starting with `#`, NDJSON records are lines, CSV
/// records are the lines after the header. A stream cut short adds one
/// record: the error that reports the cut.
fn records(file: &str, raw: Vec<u8>, format: &str) -> Vec<Record> {
    let (data, cut) = decompress(raw);
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let last = lines.pop().unwrap_or_default();
    if !last.is_empty() && !cut {
        lines.push(last);
    }
    let texts: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let s = String::from_utf8_lossy(l).into_owned();
            if i == 0 { s.trim_start_matches('\u{feff}').to_string() } else { s }
        })
        .collect();
    let kind = match format {
        "auto" => match texts.iter().find_map(|t| t.trim().chars().next()) {
            Some('#') => "zeek",
            Some('{') => "ndjson",
            _ => "csv",
        },
        "zeek_tsv" => "zeek",
        "ndjson" | "zeek_json" | "json" => "ndjson",
        "csv" | "tsv" => "csv",
        other => panic!("unknown format {other}"),
    };
    let mut out = Vec::new();
    let mut uid_col = None;
    let mut header_seen = false;
    let mut fields_refused = false;
    for (i, t) in texts.iter().enumerate() {
        let line = i as u64 + 1;
        let t = t.strip_suffix('\r').unwrap_or(t);
        let uid = match kind {
            "zeek" => {
                // A header line is no record, but a refused one is an error
                // record: a `#fields` line repeating a name, and the
                // `#types` line after it (before a usable `#fields`).
                let mut refused_header = false;
                if let Some(fields) = t.strip_prefix("#fields\t") {
                    let names: Vec<&str> = fields.split('\t').collect();
                    let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
                    fields_refused = unique.len() != names.len();
                    refused_header = fields_refused;
                    uid_col = names.iter().position(|f| *f == "uid");
                }
                if t.starts_with("#types\t") && fields_refused {
                    refused_header = true;
                }
                if t.starts_with('#') && !refused_header {
                    continue;
                }
                let cols: Vec<&str> = t.split('\t').collect();
                uid_col.filter(|_| cols.len() > 2).and_then(|c| cols.get(c)).map(|s| s.to_string())
            }
            "ndjson" => json_uid(t),
            _ => {
                if !header_seen {
                    header_seen = true;
                    continue;
                }
                None
            }
        };
        out.push(Record { file: file.to_string(), line, uid });
    }
    if cut {
        out.push(Record { file: file.to_string(), line: lines.len() as u64 + 1, uid: None });
    }
    out
}

// ---------------------------------------------------------------------------
// A run and its independent accounting.

fn lines_of(p: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines().map(str::to_string).collect()
}

fn has_verdict(line: &str) -> bool {
    line.ends_with("}}") && line.contains(",\"logsieve\":{\"cluster\":")
}

/// What is wrong with a run, all of it.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn eq(&mut self, what: String, got: u64, want: u64) {
        if got != want {
            self.0.push(format!("{what}: {got} != {want}"));
        }
    }

    fn push(&mut self, what: String) {
        self.0.push(what);
    }
}

/// Run the pipeline `table` (absolute paths) in `dir` with `stdin` as
/// standard input, and check its accounting. Returns the summary.
fn run_and_account(name: &str, dir: &Path, table: &Table, stdin: Option<Vec<u8>>) -> Value {
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(&pipeline, toml::to_string(table).unwrap()).unwrap();
    logsieve(
        dir,
        &["run", pipeline.to_str().unwrap(), "--summary-json", dir.join("summary.json").to_str().unwrap(), "--quiet"],
        stdin.clone(),
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let mut problems = Problems::default();
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{name}: the summary lacks {k}: {v}"));

    // Sources: the records in the inputs, counted here.
    let mut source_records: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for (id, s) in table["sources"].as_table().unwrap() {
        let format = s.get("format").and_then(|f| f.as_str()).unwrap_or("auto");
        let recs = match s["type"].as_str().unwrap() {
            "stdin" => records("<stdin>", stdin.clone().expect("a stdin source needs input"), format),
            _ => {
                let paths = logsieve_readers::expand_inputs(&paths_of(&s["path"])).unwrap();
                paths.iter().flat_map(|p| records(&p.to_string_lossy(), std::fs::read(p).unwrap(), format)).collect()
            }
        };
        assert!(!recs.is_empty(), "{name}: source {id} has no records: a test of nothing");
        problems.eq(
            format!("{name}: sources.{id}.read vs records in its inputs"),
            n(&summary["sources"][id], "read"),
            recs.len() as u64,
        );
        source_records.insert(id.clone(), recs);
    }

    // Transforms: every record in, every record out once.
    let sinks = table["sinks"].as_table().unwrap();
    let sink_lines: BTreeMap<&String, Vec<String>> =
        sinks.iter().map(|(id, s)| (id, lines_of(Path::new(s["path"].as_str().unwrap())))).collect();
    for (id, t) in table["transforms"].as_table().unwrap() {
        let st = &summary["transforms"][id];
        let inputs: Vec<&str> = t["inputs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        let recs: Vec<&Record> = inputs.iter().flat_map(|s| &source_records[*s]).collect();
        problems.eq(format!("{name}: transforms.{id}.in vs records of its sources"), n(st, "in"), recs.len() as u64);
        problems.eq(
            format!("{name}: transforms.{id}: in vs scored + passed + dropped + absorbed + errors - emitted_errors"),
            n(st, "in"),
            n(st, "scored") + n(st, "passed") + n(st, "dropped") + n(st, "absorbed") + n(st, "errors")
                - n(st, "emitted_errors"),
        );
        problems.eq(
            format!("{name}: transforms.{id}: emitted vs emitted_scored + emitted_errors"),
            n(st, "emitted"),
            n(st, "emitted_scored") + n(st, "emitted_errors"),
        );

        // Follow each record: a uid in a scored (or passed) line, or its
        // (file, line) in an error record.
        let full_sinks: Vec<&String> = sinks
            .iter()
            .filter(|(_, s)| {
                s["inputs"].as_array().unwrap().iter().any(|i| i.as_str() == Some(id))
                    && !s.get("only_anomalies").and_then(|v| v.as_bool()).unwrap_or(false)
            })
            .map(|(k, _)| k)
            .collect();
        let errors_out = format!("{id}.errors");
        let error_sinks: Vec<&String> = sinks
            .iter()
            .filter(|(_, s)| s["inputs"].as_array().unwrap().iter().any(|i| i.as_str() == Some(&errors_out)))
            .map(|(k, _)| k)
            .collect();
        let mut out_uids: HashMap<String, u64> = HashMap::new();
        if let Some(k) = full_sinks.first() {
            for l in &sink_lines[k] {
                if let Some(u) = json_uid(l) {
                    *out_uids.entry(u).or_default() += 1;
                }
            }
        }
        let by_place: HashMap<(&str, u64), &Record> = recs.iter().map(|r| ((r.file.as_str(), r.line), *r)).collect();
        let mut errored: HashMap<(String, u64), u64> = HashMap::new();
        let mut error_records = 0;
        if let Some(k) = error_sinks.first() {
            for l in &sink_lines[k] {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: error record {l}: {e}"));
                if v["transform"] != id.as_str() {
                    continue;
                }
                // A run of identical reader errors is one record of `count`
                // lines, `line` to `last_line`.
                let count = v.get("count").map_or(1, |c| c.as_u64().unwrap());
                if count > 1 {
                    assert_eq!(v["last_line"].as_u64(), Some(v["line"].as_u64().unwrap() + count - 1), "{l}");
                }
                error_records += count;
                assert!(
                    !v["reason"].as_str().unwrap_or("").is_empty() && !v["detail"].as_str().unwrap_or("").is_empty()
                );
                let file = v["file"].as_str().unwrap().to_string();
                if file == "<aggregate>" {
                    continue;
                }
                let first = v["line"].as_u64().unwrap();
                for line in first..first + count {
                    match by_place.get(&(file.as_str(), line)) {
                        None => problems.push(format!("{name}: {id}: an error record for {file}:{line}, not a record")),
                        Some(r) => {
                            if let Some(u) = &r.uid {
                                *out_uids.entry(u.clone()).or_default() += 1;
                            }
                        }
                    }
                    *errored.entry((file.clone(), line)).or_default() += 1;
                }
            }
            problems.eq(
                format!("{name}: {id}: error records in the errors sink vs errors"),
                error_records,
                n(st, "errors"),
            );
        }
        if let Some((place, k)) = errored.iter().find(|(_, k)| **k > 1) {
            problems.push(format!("{name}: {id}: {place:?} has {k} error records"));
        }
        let with_uid: Vec<&&Record> = recs.iter().filter(|r| r.uid.is_some()).collect();
        if !with_uid.is_empty() && !full_sinks.is_empty() && (!error_sinks.is_empty() || n(st, "errors") == 0) {
            let mut in_uids: HashMap<&str, u64> = HashMap::new();
            for r in &with_uid {
                *in_uids.entry(r.uid.as_deref().unwrap()).or_default() += 1;
            }
            let mut missing = 0;
            for (u, &k) in &in_uids {
                let got = out_uids.get(*u).copied().unwrap_or(0);
                if got > k {
                    problems.push(format!("{name}: {id}: uid {u} is in the outputs {got} times, in the inputs {k}"));
                }
                missing += k.saturating_sub(got);
            }
            if let Some(u) = out_uids.keys().find(|u| !in_uids.contains_key(u.as_str())) {
                problems.push(format!("{name}: {id}: uid {u} is in the outputs but in no input"));
            }
            let not_out = n(st, "dropped") + n(st, "absorbed");
            if with_uid.len() == recs.len() {
                problems.eq(
                    format!("{name}: {id}: records with a uid in no output vs dropped + absorbed"),
                    missing,
                    not_out,
                );
            } else if missing > not_out {
                problems.push(format!(
                    "{name}: {id}: {missing} records with a uid in no output, {not_out} dropped + absorbed"
                ));
            }
        }
    }

    // Sinks: the file holds what the summary says, which is what the
    // transforms sent.
    for (id, s) in sinks {
        let lines = &sink_lines[id];
        let ss = &summary["sinks"][id];
        problems.eq(format!("{name}: sinks.{id}.written vs lines in its file"), n(ss, "written"), lines.len() as u64);
        let only = s.get("only_anomalies").and_then(|v| v.as_bool()).unwrap_or(false);
        let (mut written, mut filtered, mut verdicts, mut passed) = (0, 0, 0, 0);
        for input in s["inputs"].as_array().unwrap() {
            let input = input.as_str().unwrap();
            match input.strip_suffix(".errors") {
                Some(t) => {
                    let t = &summary["transforms"][t];
                    written += n(t, "errors") - n(t, "errors_collapsed");
                }
                None => {
                    let t = &summary["transforms"][input];
                    let all = n(t, "scored") + n(t, "emitted_scored") + n(t, "passed");
                    let kept = if only { n(t, "anomalies") } else { all };
                    written += kept;
                    filtered += all - kept;
                    verdicts += if only { kept } else { n(t, "scored") + n(t, "emitted_scored") };
                    passed += if only { 0 } else { n(t, "passed") };
                }
            }
        }
        problems.eq(format!("{name}: sinks.{id}: lines vs what its inputs sent"), lines.len() as u64, written);
        problems.eq(format!("{name}: sinks.{id}.filtered"), n(ss, "filtered"), filtered);
        if !s["inputs"].as_array().unwrap().iter().any(|i| i.as_str().unwrap().ends_with(".errors")) {
            let with_verdict = lines.iter().filter(|l| has_verdict(l)).count() as u64;
            problems.eq(format!("{name}: sinks.{id}: lines with a verdict"), with_verdict, verdicts);
            problems.eq(
                format!("{name}: sinks.{id}: lines without (passed)"),
                lines.len() as u64 - with_verdict,
                passed,
            );
            if only {
                let anomalous = lines.iter().filter(|l| l.contains("\"anomaly\":true")).count();
                problems.eq(format!("{name}: sinks.{id}: anomalies"), anomalous as u64, lines.len() as u64);
            }
        }
    }
    problems.eq(format!("{name}: errors_to_stderr"), n(&summary, "errors_to_stderr"), 0);
    let problems = problems.0;
    assert!(problems.is_empty(), "{} accounting problem(s):\n{}", problems.len(), problems.join("\n"));
    summary
}

// ---------------------------------------------------------------------------
// The pipeline examples.

fn run_example(example: &str) -> Value {
    let dir = common::tempdir(&format!("accounting-{example}"));
    let table = examples::example_pipeline(example, &dir);
    run_and_account(example, &dir, &table, None)
}

#[test]
fn every_pipeline_example_has_a_run_here() {
    let mut found: Vec<String> = std::fs::read_dir(common::repo().join("pipeline-examples"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("pipeline.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, examples::EXAMPLES, "each example needs its #[test] below (and a training recipe)");
    for e in &found {
        assert!(!examples::training_recipe(e).is_empty());
    }
}

#[test]
fn example_conn_isolation_forest() {
    // Trained on the benign rows ([[train.where]]), it scores every row.
    let s = run_example("conn-isolation-forest");
    let t = &s["transforms"]["score"];
    assert_eq!(t["scored"].as_u64().unwrap(), 5347, "{t}");
    assert_eq!(t["passed"].as_u64().unwrap(), 0, "{t}");
}

#[test]
fn example_conn_kmeans() {
    let s = run_example("conn-kmeans");
    assert!(s["transforms"]["score"]["scored"].as_u64().unwrap() > 1000);
}

#[test]
fn example_dce_rpc_kmodes() {
    run_example("dce-rpc-kmodes");
}

#[test]
fn example_flows_rating() {
    run_example("flows-rating");
}

#[test]
fn example_kerberos_per_host() {
    // Filters and windows: dropped and absorbed records are counted, and
    // the aggregates come out scored.
    let s = run_example("kerberos-per-host");
    let f = &s["transforms"]["failures"];
    assert!(f["dropped"].as_u64().unwrap() > 0 && f["absorbed"].as_u64().unwrap() > 0, "{f}");
    assert!(s["transforms"]["hosts"]["emitted_scored"].as_u64().unwrap() > 0);
}

#[test]
fn example_netflow_flow2vec() {
    run_example("netflow-flow2vec");
}

// ---------------------------------------------------------------------------
// The rita conn days the tests train on and score (e2e, component, parity).

fn conn_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = common::tempdir("accounting-conn-model");
        let ex = common::repo().join("pipeline-examples/conn-kmeans");
        let input = ex.join("sample/train/conn.00:00:00-01:00:00.log.gz");
        train(&dir, &ex.join("model.toml"), input.to_str().unwrap(), "conn.msgpack", &[])
    })
}

#[test]
fn the_rita_conn_days() {
    let dir = common::tempdir("accounting-rita");
    let p = |f: &str| dir.join(f).display().to_string();
    let text = format!(
        r#"
[sources.day19]
type = "file"
path = {d19:?}
format = "zeek_tsv"

[sources.day20]
type = "file"
path = {d20:?}

[transforms.score]
type = "logsieve"
inputs = ["day19", "day20"]
model = {model:?}

[sinks.scored]
type = "file"
inputs = ["score"]
path = {scored:?}

[sinks.anomalies]
type = "file"
inputs = ["score"]
path = {anomalies:?}
only_anomalies = true

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = {errors:?}
"#,
        d19 = common::rita_conn("2024-04-19"),
        d20 = common::rita_conn("2024-04-20"),
        model = conn_model().display().to_string(),
        scored = p("scored.ndjson"),
        anomalies = p("anomalies.ndjson"),
        errors = p("errors.ndjson"),
    );
    let s = run_and_account("rita", &dir, &toml::from_str(&text).unwrap(), None);
    assert!(s["transforms"]["score"]["in"].as_u64().unwrap() > 60_000);
}

// ---------------------------------------------------------------------------
// The bad-input corpus, all cases in one pipeline: a source and a
// transform per case, one shared errors sink.

fn corpus_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = common::tempdir("accounting-corpus-model");
        let input = common::repo().join("pipeline-examples/conn-kmeans/sample/train/conn.00:00:00-01:00:00.log.gz");
        let spec = common::repo().join("tests/bad-input/model.toml");
        train(&dir, &spec, input.to_str().unwrap(), "corpus.msgpack", &[])
    })
}

#[test]
fn the_bad_input_cases() {
    let corpus = common::repo().join("tests/bad-input");
    let manifest: Table = toml::from_str(&std::fs::read_to_string(corpus.join("cases.toml")).unwrap()).unwrap();
    let dir = common::tempdir("accounting-bad-input");
    let mut text = String::new();
    let mut errors_inputs = Vec::new();
    let cases = manifest["case"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let name = c["name"].as_str().unwrap().replace('-', "_");
        text += &format!(
            "[sources.{name}]\ntype = \"file\"\npath = {path:?}\nformat = {format:?}\n\
             [transforms.t_{name}]\ntype = \"logsieve\"\ninputs = [\"{name}\"]\nmodel = {model:?}\nbatch_size = 3\n\
             [sinks.s_{name}]\ntype = \"file\"\ninputs = [\"t_{name}\"]\npath = {out:?}\n",
            path = corpus.join(c["file"].as_str().unwrap()).display().to_string(),
            format = c["format"].as_str().unwrap(),
            model = corpus_model().display().to_string(),
            out = dir.join(format!("{name}.ndjson")).display().to_string(),
        );
        errors_inputs.push(format!("\"t_{name}.errors\""));
    }
    text += &format!(
        "[sinks.errors]\ntype = \"file\"\ninputs = [{}]\npath = {:?}\n",
        errors_inputs.join(", "),
        dir.join("errors.ndjson").display().to_string()
    );
    let s = run_and_account("bad-input", &dir, &toml::from_str(&text).unwrap(), None);
    let errors: u64 = s["transforms"].as_object().unwrap().values().map(|t| t["errors"].as_u64().unwrap()).sum();
    assert!(errors >= 30, "the corpus is mostly errors: {errors}");
}

// ---------------------------------------------------------------------------
// Standard input: gzip'd Zeek through a pipe, and NDJSON with bad records.

fn stdin_pipeline(dir: &Path, model: &Path, format: &str) -> Table {
    let text = format!(
        "[sources.pipe]\ntype = \"stdin\"\nformat = {format:?}\n\
         [transforms.t]\ntype = \"logsieve\"\ninputs = [\"pipe\"]\nmodel = {model:?}\n\
         [sinks.scored]\ntype = \"file\"\ninputs = [\"t\"]\npath = {scored:?}\n\
         [sinks.errors]\ntype = \"file\"\ninputs = [\"t.errors\"]\npath = {errors:?}\n",
        model = model.display().to_string(),
        scored = dir.join("scored.ndjson").display().to_string(),
        errors = dir.join("errors.ndjson").display().to_string(),
    );
    toml::from_str(&text).unwrap()
}

#[test]
fn standard_input() {
    let dir = common::tempdir("accounting-stdin-zeek");
    let gz = common::repo().join("pipeline-examples/conn-kmeans/sample/score/conn.00:00:00-01:00:00.log.gz");
    let s = run_and_account(
        "stdin-zeek",
        &dir,
        &stdin_pipeline(&dir, conn_model(), "auto"),
        Some(std::fs::read(gz).unwrap()),
    );
    assert!(s["transforms"]["t"]["scored"].as_u64().unwrap() > 1000);

    let dir = common::tempdir("accounting-stdin-ndjson");
    let mut bytes = Vec::new();
    for f in ["non-finite.ndjson", "invalid-json.ndjson", "invalid-utf8.ndjson"] {
        bytes.extend(std::fs::read(common::repo().join("tests/bad-input").join(f)).unwrap());
    }
    let s = run_and_account("stdin-ndjson", &dir, &stdin_pipeline(&dir, corpus_model(), "ndjson"), Some(bytes));
    assert!(s["transforms"]["t"]["errors"].as_u64().unwrap() > 10);
}
