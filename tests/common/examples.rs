//! The pipeline examples (`pipeline-examples/*`), trained and run the way
//! their READMEs do, for the tests that check every example.
//!
//! Training is reproducible: each model is trained by `logsieve train` in
//! the example's folder, on the input its README names (relative, as the
//! README types it), with `SOURCE_DATE_EPOCH=0`, so the artifact — and the
//! model id every scored event names — depends only on the spec, the input
//! and the code, not on where the repository is or when the test runs.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use toml::Table;

/// Every example that has a `pipeline.toml`.
pub const EXAMPLES: [&str; 6] =
    ["conn-isolation-forest", "conn-kmeans", "dce-rpc-kmodes", "flows-rating", "kerberos-per-host", "netflow-flow2vec"];

/// How one model of an example is trained: the spec in the example folder,
/// the input (relative to it, or `@normal-7-head`: the first 1,000 flows of
/// its `sample/normal-7.binetflow.gz`, where the README trains on all of
/// them), the model file the pipeline names, and extra arguments.
pub struct Recipe {
    /// The spec, in the example folder.
    pub spec: &'static str,
    /// The input, as the README gives it.
    pub input: &'static str,
    /// The model file the example's pipeline names.
    pub model: &'static str,
    /// More `logsieve train` arguments.
    pub extra: &'static [&'static str],
}

/// How each example's README trains its models.
pub fn training_recipe(example: &str) -> Vec<Recipe> {
    let r = |spec, input, model, extra| Recipe { spec, input, model, extra };
    match example {
        "conn-isolation-forest" => vec![r("model.toml", "sample/conn.log.labeled.gz", "conn.model.msgpack", &[])],
        "conn-kmeans" => vec![r("model.toml", "sample/train/conn.00:00:00-01:00:00.log.gz", "conn.model.msgpack", &[])],
        "dce-rpc-kmodes" => vec![r("model.toml", "sample/apt29-*", "dce-rpc.model.msgpack", &[])],
        "flows-rating" => vec![r("model.toml", "sample/normal-7.binetflow.gz", "flows.model.msgpack", &[])],
        "kerberos-per-host" => vec![
            r("kerberos-hosts.toml", "sample/*kerberos*", "kerberos-hosts.model.msgpack", &[]),
            r("kerberos-failures.toml", "sample/*kerberos*", "kerberos-failures.model.msgpack", &[]),
        ],
        "netflow-flow2vec" => vec![r("model.toml", "@normal-7-head", "flow2vec.model.msgpack", &["--threads", "1"])],
        other => panic!("pipeline-examples/{other}: no training recipe here; add one to tests/common/examples.rs"),
    }
}

/// The bytes of a file, gunzipped when they start with the gzip magic.
pub fn gunzipped(raw: Vec<u8>) -> Vec<u8> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return raw;
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out).expect("gunzip");
    out
}

/// The bytes of a file, gunzipped when they start with the gzip magic; a
/// stream cut short gives what decompressed before the cut (as a reader
/// does, before its `truncated_gzip` error).
pub fn gunzipped_or_cut(raw: Vec<u8>) -> Vec<u8> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return raw;
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(&raw[..]);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match dec.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The first `rows` rows (and the header) of a gzip'd CSV, written as
/// `dir/name`.
fn csv_head(src: &Path, rows: usize, dir: &Path, name: &str) -> PathBuf {
    let text = String::from_utf8(gunzipped(std::fs::read(src).unwrap())).unwrap();
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    let out = dir.join(name);
    std::fs::write(&out, head.join("\n") + "\n").unwrap();
    out
}

/// The example's folder.
pub fn folder(example: &str) -> PathBuf {
    super::repo().join("pipeline-examples").join(example)
}

/// Train an example's models into `dir` (see the module doc); returns the
/// model file of each name the pipeline uses.
pub fn train_models(example: &str, dir: &Path) -> BTreeMap<&'static str, PathBuf> {
    let ex = folder(example);
    let mut models = BTreeMap::new();
    for r in training_recipe(example) {
        let out = dir.join(r.model);
        let (cwd, input) = match r.input {
            "@normal-7-head" => {
                csv_head(&ex.join("sample/normal-7.binetflow.gz"), 1000, dir, "train-head.csv");
                (dir.to_path_buf(), "train-head.csv")
            }
            rel => (ex.clone(), rel),
        };
        let spec = ex.join(r.spec);
        let mut args: Vec<&std::ffi::OsStr> = ["train", "--spec"].map(std::ffi::OsStr::new).to_vec();
        args.push(spec.as_os_str());
        args.extend(["--input", input, "--out"].map(std::ffi::OsStr::new));
        args.push(out.as_os_str());
        args.push("--quiet".as_ref());
        args.extend(r.extra.iter().map(std::ffi::OsStr::new));
        let run = super::logsieve_command(&cwd)
            .args(&args)
            .env("SOURCE_DATE_EPOCH", "0")
            .output()
            .expect("running logsieve train");
        super::assert_ok(run, &args);
        models.insert(r.model, out);
    }
    models
}

/// A source's `path` value as a list.
pub fn paths_of(v: &toml::Value) -> Vec<String> {
    match v {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(a) => a.iter().map(|p| p.as_str().unwrap().to_string()).collect(),
        other => panic!("a source path: {other}"),
    }
}

/// Train an example's models into `dir` and return its pipeline with every
/// path made absolute: inputs in the example, models and sinks in `dir`
/// (sinks under `dir/out/`, with the example's file names).
pub fn example_pipeline(example: &str, dir: &Path) -> Table {
    let ex = folder(example);
    let models = train_models(example, dir);
    let text = std::fs::read_to_string(ex.join("pipeline.toml")).unwrap();
    let mut table: Table = toml::from_str(&text).unwrap();
    let abs = |p: &str| ex.join(p).display().to_string();
    for s in table["sources"].as_table_mut().unwrap().iter_mut().map(|(_, v)| v) {
        if let Some(p) = s.get("path").cloned() {
            let paths: Vec<toml::Value> = paths_of(&p).iter().map(|p| toml::Value::String(abs(p))).collect();
            s.as_table_mut().unwrap().insert("path".into(), toml::Value::Array(paths));
        }
    }
    for t in table["transforms"].as_table_mut().unwrap().iter_mut().map(|(_, v)| v) {
        let m = t["model"].as_str().unwrap().to_string();
        let trained = models.get(m.as_str()).unwrap_or_else(|| panic!("{example}: no recipe trains {m}"));
        t.as_table_mut().unwrap().insert("model".into(), trained.display().to_string().into());
    }
    for s in table["sinks"].as_table_mut().unwrap().iter_mut().map(|(_, v)| v) {
        let file = Path::new(s["path"].as_str().unwrap()).file_name().unwrap().to_owned();
        s.as_table_mut().unwrap().insert("path".into(), dir.join("out").join(file).display().to_string().into());
    }
    table
}

/// `table` written to `dir/pipeline.toml` and run with `logsieve run
/// --quiet` and `extra` arguments; it must succeed.
pub fn run_table(example: &str, dir: &Path, table: &Table, extra: &[&str]) {
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(&pipeline, toml::to_string(table).unwrap()).unwrap();
    let mut args = vec!["run", pipeline.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    super::assert_ok(super::logsieve_in(dir, &args), &format!("run {example} {extra:?}"));
}

/// [`example_pipeline`], run ([`run_table`]): the pipeline, whose sinks'
/// paths hold the outputs.
pub fn run_example_pipeline(example: &str, dir: &Path) -> Table {
    let table = example_pipeline(example, dir);
    run_table(example, dir, &table, &[]);
    table
}
