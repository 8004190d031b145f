//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod examples;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workplace's shared data folder: `$LOGSIEVE_SHARED`, else `../shared`
/// next to the repository. Panics with a clear message when it is absent:
/// these tests never skip silently.
pub fn shared() -> PathBuf {
    let p = std::env::var_os("LOGSIEVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        p.join("data").is_dir() && p.join("reference").is_dir(),
        "the shared data folder was not found at {} (expected data/ and reference/ in it); \
         clone the repository next to `shared/` or set LOGSIEVE_SHARED",
        p.display()
    );
    p
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The rita conn logs of one day, as a glob pattern.
pub fn rita_conn(day: &str) -> String {
    shared().join(format!("data/zeek/rita-missing-host/{day}/conn.*.log.gz")).to_string_lossy().into_owned()
}

/// Where the tests' runs cache the compiled component (one for all of them).
pub fn cwasm_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cwasm-cache")
}

/// The `logsieve` binary these tests were built with, to run in `dir`, the
/// compiled component cached in [`cwasm_cache`]; the rest (arguments, pipes)
/// is the caller's.
pub fn logsieve_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logsieve"));
    cmd.current_dir(dir).env("LOGSIEVE_CACHE_DIR", cwasm_cache());
    cmd
}

/// Run the `logsieve` binary these tests were built with: `args` in `dir`
/// (`None`: the test's own working folder), `stdin` as its standard input
/// (`None`: none), the compiled component cached under the target folder.
/// The exit status is the caller's to check (see [`logsieve_ok`]).
pub fn logsieve_with<S: AsRef<OsStr>>(dir: Option<&Path>, args: &[S], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logsieve"));
    cmd.args(args)
        .env("LOGSIEVE_CACHE_DIR", cwasm_cache())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().expect("running logsieve");
    let writer = stdin.map(|bytes| {
        let mut pipe = child.stdin.take().expect("a piped stdin");
        std::thread::spawn(move || pipe.write_all(&bytes))
    });
    let out = child.wait_with_output().expect("waiting for logsieve");
    if let Some(w) = writer {
        w.join().expect("the stdin writer").expect("writing logsieve's standard input");
    }
    out
}

/// `logsieve args` in the test's working folder.
pub fn logsieve<S: AsRef<OsStr>>(args: &[S]) -> Output {
    logsieve_with(None, args, None)
}

/// `logsieve args` in `dir`.
pub fn logsieve_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    logsieve_with(Some(dir), args, None)
}

/// Assert that a run succeeded, showing its stderr when it did not.
pub fn assert_ok(out: Output, what: &dyn std::fmt::Debug) -> Output {
    assert!(
        out.status.success(),
        "logsieve {what:?} failed ({}; 3 means the counts do not add up):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `logsieve args`, which must succeed.
pub fn logsieve_ok<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S]) -> Output {
    assert_ok(logsieve(args), &args)
}

/// A fresh temporary directory under the target dir.
pub fn tempdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Read a gzip'd JSON reference file.
pub fn reference(name: &str) -> serde_json::Value {
    let p = shared().join("reference").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// The conn-kmeans example's model spec.
pub fn conn_spec() -> PathBuf {
    repo().join("pipeline-examples/conn-kmeans/model.toml")
}

/// Train the conn-kmeans example's model on one rita day, through the same
/// library calls `logsieve train` makes; returns the artifact bytes.
pub fn train_rita(day: &str) -> Vec<u8> {
    train_rita_with(&conn_spec(), day)
}

/// Train a model from a spec file on one rita day's conn logs.
pub fn train_rita_with(spec: &Path, day: &str) -> Vec<u8> {
    use logsieve::commands::train::{extract, load_spec};
    let spec = load_spec(spec).unwrap();
    let paths = logsieve_readers::expand_inputs(&[rita_conn(day)]).unwrap();
    let ex = extract(&spec, paths, logsieve_readers::Format::Auto, None, &indicatif::ProgressBar::hidden()).unwrap();
    let prov = logsieve_train::model::Provenance { inputs: vec![rita_conn(day)], skipped: 0, created_unix: 0 };
    let model = logsieve_train::model::fit_model(&spec, &ex.rows, prov, &mut ()).unwrap();
    logsieve_artifact::encode(&model).unwrap()
}

/// All events of a rita day's conn logs, as the readers produce them.
pub fn rita_events(day: &str) -> Vec<String> {
    let paths = logsieve_readers::expand_inputs(&[rita_conn(day)]).unwrap();
    logsieve_readers::Reader::open(paths, logsieve_readers::Format::Auto)
        .map(|i| i.result.unwrap_or_else(|e| panic!("{}:{}: {:?}", i.origin.file, i.origin.line, e.reason)))
        .collect()
}

/// Train a model from a spec file on the given input files, through the same
/// library calls `logsieve train` makes (k-means, k-modes or flow2vec, one
/// word2vec thread so it is reproducible); returns the artifact bytes.
pub fn train_files(spec: &Path, inputs: &[PathBuf]) -> Vec<u8> {
    use logsieve::commands::train::{extract, load_spec};
    let spec = load_spec(spec).unwrap_or_else(|e| panic!("{}: {e:#}", spec.display()));
    let ex = extract(&spec, inputs.to_vec(), logsieve_readers::Format::Auto, None, &indicatif::ProgressBar::hidden())
        .unwrap();
    let prov = logsieve_train::model::Provenance {
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        skipped: 0,
        created_unix: 0,
    };
    let model = logsieve_train::fit(&spec, &ex.rows, prov, 1, &mut ()).unwrap().model;
    logsieve_artifact::encode(&model).unwrap()
}

/// One hour of the conn-kmeans example's sample: `train` or `score`.
pub fn conn_hour(part: &str) -> PathBuf {
    repo().join(format!("pipeline-examples/conn-kmeans/sample/{part}/conn.00:00:00-01:00:00.log.gz"))
}

/// A small conn model: [`conn_spec`] trained by `logsieve train` on the
/// sample's training hour, written to `dir/conn.model.msgpack`.
pub fn train_small_conn(dir: &Path) -> PathBuf {
    let model = dir.join("conn.model.msgpack");
    logsieve_ok(&[
        "train".as_ref(),
        "--spec".as_ref(),
        conn_spec().as_os_str(),
        "--input".as_ref(),
        conn_hour("train").as_os_str(),
        "--out".as_ref(),
        model.as_os_str(),
        "--quiet".as_ref(),
    ]);
    model
}

/// A transform's counts from `--summary-json`, comparable between runs: the
/// batch-latency histogram (wall times) is reduced to its batch count.
pub fn comparable_counts(t: &serde_json::Value) -> serde_json::Value {
    let mut t = t.clone();
    if let Some(l) = t.get_mut("batch_latency") {
        *l = l["count"].clone();
    }
    t
}
