//! Reliability, round two (issue #19): the pipeline host's regressions.
//!
//! Each test reproduces one case a hostile tester found: a sink that would
//! overwrite its own input, two sinks on one file, a failed start that
//! wiped the last good output, a live stream held back and events lost on
//! SIGTERM, huge size keys, glob characters in the pipeline's folder name,
//! duplicate inputs, a run where nothing was scored, configuration problems
//! reported one at a time, and I/O errors that did not name their sink.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// A model trained once on one hour of the conn-kmeans sample.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| common::train_small_conn(&common::tempdir("reliability2-model")))
}

/// `n` real conn events as NDJSON lines, each tagged with `"seq"`.
fn events(n: usize) -> Vec<String> {
    let sample = common::conn_hour("score");
    let out: Vec<String> = logsieve_readers::Reader::open(vec![sample], logsieve_readers::Format::Auto)
        .filter_map(|i| i.result.ok())
        .take(n)
        .enumerate()
        .map(|(k, e)| format!("{{\"seq\":{k},{}", &e[1..]))
        .collect();
    assert_eq!(out.len(), n);
    out
}

fn write_events(path: &Path, n: usize) -> String {
    let text = events(n).join("\n") + "\n";
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &text).unwrap();
    text
}

fn run(dir: &Path, toml: &str, extra: &[&str]) -> Output {
    std::fs::write(dir.join("p.toml"), toml).unwrap();
    let mut args = vec!["run", "p.toml"];
    args.extend_from_slice(extra);
    common::logsieve_in(dir, &args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A transform on source `in`, with the shared model and `extra` keys.
fn transform(extra: &str) -> String {
    format!(
        "[transforms.score]\ntype = \"logsieve\"\ninputs = [\"in\"]\nmodel = {:?}\n{extra}\n",
        model().to_str().unwrap()
    )
}

fn file_source(path: &str) -> String {
    format!("[sources.in]\ntype = \"file\"\npath = {path:?}\nformat = \"ndjson\"\n")
}

fn file_sink(id: &str, input: &str, path: &str) -> String {
    format!("[sinks.{id}]\ntype = \"file\"\ninputs = [{input:?}]\npath = {path:?}\n")
}

fn refused(out: &Output, wants: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "the pipeline must be refused:\n{err}");
    for w in wants {
        assert!(err.contains(w), "the message must contain {w:?}:\n{err}");
    }
}

// ---------------------------------------------------------------------------
// Item 1: a sink may not overwrite an input.

/// A pipeline reading `source` into the scored sink `out` (sink id `out`),
/// its errors to `errors.ndjson`.
fn scored_to(source: &str, out: &str) -> String {
    file_source(source)
        + &transform("")
        + &file_sink("out", "score", out)
        + &file_sink("errors", "score.errors", "errors.ndjson")
}

#[test]
fn a_sink_on_its_own_source_file_is_refused_and_the_input_kept() {
    let dir = common::tempdir("r2-sink-is-source");
    let text = write_events(&dir.join("logs/conn.ndjson"), 20);
    // The same file, four ways: as is, through `..`, a symlink, a hard link.
    std::os::unix::fs::symlink(dir.join("logs/conn.ndjson"), dir.join("link.ndjson")).unwrap();
    std::fs::hard_link(dir.join("logs/conn.ndjson"), dir.join("hard.ndjson")).unwrap();
    for sink_path in ["logs/conn.ndjson", "logs/../logs/conn.ndjson", "link.ndjson", "hard.ndjson"] {
        let out = run(&dir, &scored_to("logs/conn.ndjson", sink_path), &[]);
        refused(&out, &["sinks.out", "sources.in", "conn.ndjson"]);
        assert_eq!(std::fs::read_to_string(dir.join("logs/conn.ndjson")).unwrap(), text, "{sink_path}: input kept");
        assert!(!dir.join("errors.ndjson").exists(), "nothing is created before the refusal");
    }
}

#[test]
fn a_sink_that_is_one_of_a_source_glob_s_files_is_refused() {
    let dir = common::tempdir("r2-sink-in-glob");
    write_events(&dir.join("logs/a.ndjson"), 5);
    let text = write_events(&dir.join("logs/b.ndjson"), 20);
    // One of the glob's files, named by paths the glob does not match: a
    // symlink and a hard link elsewhere, and a folder linked to `logs`.
    std::fs::create_dir_all(dir.join("else")).unwrap();
    std::os::unix::fs::symlink(dir.join("logs/b.ndjson"), dir.join("else/link.out")).unwrap();
    std::fs::hard_link(dir.join("logs/b.ndjson"), dir.join("else/hard.out")).unwrap();
    std::os::unix::fs::symlink(dir.join("logs"), dir.join("alias")).unwrap();
    for sink_path in ["logs/b.ndjson", "else/link.out", "else/hard.out", "alias/b.ndjson"] {
        let out = run(&dir, &scored_to("logs/*.ndjson", sink_path), &[]);
        refused(&out, &["sinks.out", "sources.in", "logs/*.ndjson"]);
        assert_eq!(std::fs::read_to_string(dir.join("logs/b.ndjson")).unwrap(), text, "{sink_path}: input kept");
    }
    // A file beside them that the glob does not match is a sink like any.
    let out = run(&dir, &scored_to("logs/*.ndjson", "else/scored.out"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("else/scored.out")).unwrap().lines().count(), 25);
}

#[test]
fn a_source_glob_that_would_read_a_sink_output_is_refused() {
    let dir = common::tempdir("r2-glob-reads-sink");
    write_events(&dir.join("logs/conn.ndjson"), 20);
    // The errors file does not exist yet: the glob would match it once written.
    let toml = file_source("logs/*.ndjson")
        + &transform("")
        + &file_sink("out", "score", "out/scored.ndjson")
        + &file_sink("errors", "score.errors", "logs/errors.ndjson");
    let out = run(&dir, &toml, &[]);
    refused(&out, &["sinks.errors", "sources.in", "logs/*.ndjson", "errors.ndjson"]);
    assert!(!dir.join("logs/errors.ndjson").exists());
    assert!(!dir.join("out").exists(), "no sink was created");
}

// ---------------------------------------------------------------------------
// Item 2: two file sinks on one path.

#[test]
fn two_file_sinks_on_one_path_are_refused() {
    let dir = common::tempdir("r2-two-sinks");
    write_events(&dir.join("logs/conn.ndjson"), 20);
    let toml = file_source("logs/conn.ndjson")
        + &transform("")
        + &file_sink("a", "score", "out/all.ndjson")
        + &file_sink("b", "score.errors", "out/../out/all.ndjson");
    let out = run(&dir, &toml, &[]);
    refused(&out, &["sinks.a", "sinks.b", "all.ndjson"]);
    assert!(!dir.join("out/all.ndjson").exists());
}

// ---------------------------------------------------------------------------
// Item 3: a failed start leaves the last good output as it was.

#[test]
fn a_failed_start_leaves_the_previous_outputs_untouched() {
    let dir = common::tempdir("r2-failed-start");
    write_events(&dir.join("logs/conn.ndjson"), 20);
    let bytes = std::fs::read(model()).unwrap();
    std::fs::write(dir.join("cut.msgpack"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.join("bad.wasm"), b"not a component").unwrap();
    let sinks =
        file_sink("out", "score", "out/scored.ndjson") + &file_sink("errors", "score.errors", "out/errors.ndjson");
    let with_model = |m: &str| transform("").replace(&format!("{:?}", model().to_str().unwrap()), &format!("{m:?}"));
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("missing model", file_source("logs/conn.ndjson") + &with_model("nope.msgpack") + &sinks, vec![]),
        ("truncated model", file_source("logs/conn.ndjson") + &with_model("cut.msgpack") + &sinks, vec![]),
        ("glob matching nothing", file_source("logs/*.gz") + &transform("") + &sinks, vec![]),
        ("bad plugin", file_source("logs/conn.ndjson") + &transform("") + &sinks, vec!["--plugin", "bad.wasm"]),
    ];
    for (what, toml, extra) in cases {
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::write(dir.join("out/scored.ndjson"), "OLD SCORED\n").unwrap();
        std::fs::write(dir.join("out/errors.ndjson"), "OLD ERRORS\n").unwrap();
        let out = run(&dir, &toml, &extra);
        assert_eq!(out.status.code(), Some(2), "{what}: must fail:\n{}", stderr(&out));
        assert_eq!(std::fs::read_to_string(dir.join("out/scored.ndjson")).unwrap(), "OLD SCORED\n", "{what}");
        assert_eq!(std::fs::read_to_string(dir.join("out/errors.ndjson")).unwrap(), "OLD ERRORS\n", "{what}");
    }
    // A good run replaces both, including the errors file it writes nothing to.
    let toml = file_source("logs/conn.ndjson") + &transform("") + &sinks;
    let out = run(&dir, &toml, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("out/scored.ndjson")).unwrap().lines().count(), 20);
    assert_eq!(std::fs::read_to_string(dir.join("out/errors.ndjson")).unwrap(), "");
}

// ---------------------------------------------------------------------------
// Item 4: a live stream is flushed after `flush_ms`; SIGTERM finishes the run.

struct Live {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    dir: PathBuf,
}

impl Live {
    fn start(dir: &Path, toml: &str) -> Live {
        std::fs::write(dir.join("p.toml"), toml).unwrap();
        let mut child = common::logsieve_command(dir)
            .args(["run", "p.toml", "--summary-json", "summary.json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Live { stdin: child.stdin.take(), child, lines: rx, dir: dir.to_path_buf() }
    }

    fn send(&mut self, lines: &[String]) {
        let stdin = self.stdin.as_mut().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
        stdin.flush().unwrap();
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    /// Wait (a generous bound: this is no timing assertion) until the run
    /// has loaded its model and reads.
    fn wait_started(&self) {
        for _ in 0..1200 {
            if self.stderr().contains("its records go to stderr") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the run did not start:\n{}", self.stderr());
    }

    fn signal(&self, name: &str) {
        let st = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(st.success());
    }
}

fn live_toml(flush: &str) -> String {
    format!(
        "[sources.in]\ntype = \"stdin\"\nformat = \"ndjson\"\n{}[sinks.out]\ntype = \"stdout\"\ninputs = [\"score\"]\n",
        transform(&format!("batch_size = 1000\n{flush}"))
    )
}

#[test]
fn a_slow_live_stream_is_not_held_back_by_the_batch_size() {
    let dir = common::tempdir("r2-flush");
    let mut live = Live::start(&dir, &live_toml("flush_ms = 100"));
    let ev = events(5);
    live.send(&ev);
    // Five events, far fewer than batch_size, stdin still open: they must come out.
    for k in 0..5 {
        let line = live.lines.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| {
            panic!("only {k} of 5 events came out before the end of the input:\n{}", live.stderr())
        });
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["seq"], k);
    }
    drop(live.stdin.take());
    let status = live.child.wait().unwrap();
    assert!(status.success(), "{}", live.stderr());
}

#[test]
fn sigterm_scores_and_writes_what_was_read_then_exits_0_with_the_summary() {
    for sig in ["TERM", "INT"] {
        let dir = common::tempdir(&format!("r2-sig{sig}"));
        // No time limit to speak of: only the signal can bring these out.
        let mut live = Live::start(&dir, &live_toml("flush_ms = 3600000"));
        live.wait_started();
        live.send(&events(7));
        // Let the reader take them in (a wait, not an assertion on time).
        std::thread::sleep(Duration::from_millis(1500));
        live.signal(sig);
        let status = live.child.wait().unwrap();
        let err = live.stderr();
        assert!(status.success(), "SIG{sig}: the run must finish and exit 0 ({status}):\n{err}");
        // Every line the run wrote: the forwarding thread may still be
        // reading the pipe's last ones; it ends (and so does this) at its end.
        let got: Vec<String> = live.lines.iter().collect();
        assert_eq!(got.len(), 7, "SIG{sig}: every event read is scored and written:\n{err}");
        assert!(err.contains("logsieve run: 7 events read") && err.contains("stopped by SIG"), "{err}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["transforms"]["score"]["scored"], 7);
        assert_eq!(summary["stopped_by"], format!("SIG{sig}"));
    }
}

#[test]
fn a_second_signal_exits_at_once_while_the_first_is_finishing() {
    // A stdout sink into a pipe nobody reads: once its buffer is full the
    // run cannot finish writing, so after the first SIGTERM it is still
    // finishing; the second must end it at once with 128 + 15.
    let dir = common::tempdir("r2-sig-twice");
    std::fs::write(dir.join("p.toml"), live_toml("flush_ms = 50")).unwrap();
    let mut child = common::logsieve_command(&dir)
        .args(["run", "p.toml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let _unread = child.stdout.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let ev = events(1500);
    // About 1 MB of scored output, far past a pipe's buffer; the writes
    // into our stdin may block too, so they go from a thread.
    let feeder = std::thread::spawn(move || {
        for l in &ev {
            if writeln!(stdin, "{l}").is_err() {
                return;
            }
        }
        let _ = stdin.flush();
        std::thread::sleep(Duration::from_secs(600));
    });
    let stderr = || std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    for _ in 0..1200 {
        if stderr().contains("its records go to stderr") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Time for the sink to fill the pipe (a wait, not an assertion on time).
    std::thread::sleep(Duration::from_secs(2));
    let pid = child.id().to_string();
    let kill = |sig: &str| {
        assert!(Command::new("kill").args([sig, pid.as_str()]).status().unwrap().success());
    };
    kill("-TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the run ended on the first signal although its sink is blocked");
    kill("-TERM");
    // A guard against a hang, not a timing assertion.
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the second SIGTERM did not end the run:\n{}", stderr());
    };
    assert_eq!(status.code(), Some(143), "{status}:\n{}", stderr());
    drop(feeder);
}

// ---------------------------------------------------------------------------
// Item 6: size keys are bounded.

#[test]
fn huge_size_keys_are_refused_with_the_key_its_value_and_the_bound() {
    let dir = common::tempdir("r2-sizes");
    write_events(&dir.join("logs/conn.ndjson"), 5);
    let sink = file_sink("out", "score", "out.ndjson");
    for (key, value) in [
        ("batch_size", "1000000000"),
        ("batch_size", "4611686018427387903"),
        ("top_features", "4000000000"),
        ("memory_limit_mb", "1000000"),
        ("batch_timeout_ms", "18446744073709551"),
        ("flush_ms", "100000000000"),
    ] {
        let toml = file_source("logs/conn.ndjson") + &transform(&format!("{key} = {value}")) + &sink;
        let out = run(&dir, &toml, &[]);
        refused(&out, &[&format!("transforms.score: {key}"), value, "at most"]);
    }
}

#[test]
fn huge_size_keys_in_a_spec_are_refused_before_training() {
    let dir = common::tempdir("r2-spec-sizes");
    write_events(&dir.join("logs/conn.ndjson"), 5);
    let base = std::fs::read_to_string(common::conn_spec()).unwrap();
    let agg = "[aggregate]\ngroup_by = [\"id.orig_h\"]\nwindow = \"all\"\nmax_keys = 4000000000\n\n\
               [[aggregate.fields]]\nname = \"count\"\nop = \"count\"\n\n\
               [[features]]\nfield = \"count\"\ntype = \"numeric\"\n";
    let f2v = "[model]\nkind = \"flow2vec\"\nn_clusters = 0\n\n[flow2vec]\nvector_size = 1000000\n\n\
               [[features]]\nfield = \"proto\"\ntype = \"categorical\"\n";
    let cases = [
        (
            base.replace("n_clusters = 7", "n_clusters = 4000000000"),
            "model.n_clusters = 4000000000 is too large: at most",
        ),
        (base.replace("n_init = 10", "n_init = 1000000"), "model.n_init = 1000000 is too large: at most"),
        (format!("[model]\nn_clusters = 2\n\n{agg}"), "aggregate.max_keys = 4000000000 is too large: at most"),
        (f2v.to_string(), "flow2vec.vector_size = 1000000 is too large: at most"),
    ];
    for (spec, want) in cases {
        std::fs::write(dir.join("s.toml"), spec).unwrap();
        let out = common::logsieve_in(
            &dir,
            &["train", "--spec", "s.toml", "--input", "logs/conn.ndjson", "--out", "m.msgpack"],
        );
        refused(&out, &[want]);
        assert!(!dir.join("m.msgpack").exists());
    }
}

// ---------------------------------------------------------------------------
// Item 14: glob characters in the pipeline's own folder are literal.

#[test]
fn glob_characters_in_the_pipeline_folder_are_taken_literally() {
    let root = common::tempdir("r2-glob-folder");
    let mine = root.join("[ab]");
    // The folder `a` next to it matches `[ab]` as a pattern.
    let text = events(3).join("\n") + "\n";
    std::fs::create_dir_all(mine.join("logs")).unwrap();
    std::fs::create_dir_all(root.join("a/logs")).unwrap();
    std::fs::write(mine.join("logs/x.ndjson"), text.replace("\"seq\":", "\"mine\":true,\"seq\":")).unwrap();
    std::fs::write(root.join("a/logs/x.ndjson"), text.replace("\"seq\":", "\"mine\":false,\"seq\":")).unwrap();
    let toml = file_source("logs/*.ndjson") + &transform("") + &file_sink("out", "score", "out.ndjson");
    // Run from elsewhere, the pipeline named by a path through `[ab]`.
    std::fs::write(mine.join("p.toml"), toml).unwrap();
    let out = common::logsieve_in(&root, &["run", mine.join("p.toml").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let scored = std::fs::read_to_string(mine.join("out.ndjson")).unwrap();
    assert_eq!(scored.lines().count(), 3);
    assert!(scored.lines().all(|l| l.contains("\"mine\":true")), "read the wrong folder:\n{scored}");
}

// ---------------------------------------------------------------------------
// Item 15: duplicate inputs.

#[test]
fn duplicate_inputs_are_refused() {
    let dir = common::tempdir("r2-dup-inputs");
    write_events(&dir.join("logs/conn.ndjson"), 5);
    let toml = file_source("logs/conn.ndjson")
        + &transform("").replace("inputs = [\"in\"]", "inputs = [\"in\", \"in\"]")
        + "[sinks.out]\ntype = \"stdout\"\ninputs = [\"score\", \"score.errors\", \"score\"]\n";
    let out = run(&dir, &toml, &[]);
    refused(&out, &["transforms.score: input 'in' is listed twice", "sinks.out: input 'score' is listed twice"]);
}

// ---------------------------------------------------------------------------
// Item 16: a run where everything failed.

#[test]
fn a_run_where_nothing_was_scored_warns_and_max_error_ratio_fails_it() {
    let dir = common::tempdir("r2-all-errors");
    write_events(&dir.join("logs/conn.ndjson"), 30);
    let toml = "[sources.in]\ntype = \"file\"\npath = \"logs/conn.ndjson\"\nformat = \"zeek_tsv\"\n".to_string()
        + &transform("")
        + &file_sink("errors", "score.errors", "errors.ndjson");
    // Partial errors keep exit 0; a warning names the dominant reason.
    let out = run(&dir, &toml, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: transform score: nothing was scored") && err.contains("zeek_no_header"), "{err}");
    // With a ratio, the run fails with its own status.
    let out = run(&dir, &toml, &["--max-error-ratio", "0.5"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("error ratio") && err.contains("0.5"), "{err}");
    // The same ratio on a clean run passes.
    let clean =
        file_source("logs/conn.ndjson") + &transform("") + &file_sink("errors", "score.errors", "errors.ndjson");
    let out = run(&dir, &clean, &["--max-error-ratio", "0.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("nothing was scored"));
}

// ---------------------------------------------------------------------------
// Item 17: every configuration problem at once; I/O errors name the sink.

#[test]
fn every_unknown_key_is_reported_at_once() {
    let dir = common::tempdir("r2-unknown-keys");
    let toml = "[sources.in]\ntype = \"file\"\npath = \"x\"\nformatt = \"csv\"\npaht = \"y\"\n".to_string()
        + &transform("batchsize = 5")
        + "[sinks.out]\ntype = \"stdout\"\ninputs = [\"score\"]\nonly_anomalie = true\n[extra]\nx = 1\n";
    let out = run(&dir, &toml, &[]);
    refused(&out, &["formatt", "paht", "batchsize", "only_anomalie", "extra"]);
}

#[test]
fn a_full_disk_names_the_sink_and_still_prints_the_summary() {
    let dir = common::tempdir("r2-full-disk");
    write_events(&dir.join("logs/conn.ndjson"), 50);
    let toml = file_source("logs/conn.ndjson") + &transform("") + &file_sink("full", "score", "/dev/full");
    let out = run(&dir, &toml, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sink full") && err.contains("No space left on device"), "{err}");
    assert!(err.contains("logsieve run: 50 events read"), "the summary is printed:\n{err}");
}

/// The same on a regular file, which its own writer thread writes (issue
/// #21): the file size limit (`ulimit -f`, with SIGXFSZ ignored so the
/// write fails with EFBIG as on a full disk) stops the write mid-run; the
/// run fails naming the sink, the summary is printed, and the file is cut
/// back to whole lines, each one an event of the input in order.
#[test]
fn a_regular_file_sink_that_fills_up_is_cut_back_to_whole_lines() {
    let dir = common::tempdir("r2-fsize");
    write_events(&dir.join("logs/conn.ndjson"), 1500);
    let toml = file_source("logs/conn.ndjson")
        + &transform("batch_size = 20\nthreads = 2")
        + &file_sink("scored", "score", "scored.ndjson");
    std::fs::write(dir.join("p.toml"), toml).unwrap();
    // 200 blocks of 512 bytes: several batches of 20 scored events (about
    // 1 KB each), well under the 1500.
    let out = Command::new("sh")
        .current_dir(&dir)
        .args(["-c", "ulimit -f 200 && trap '' XFSZ && exec \"$0\" run p.toml --summary-json s.json"])
        .arg(env!("CARGO_BIN_EXE_logsieve"))
        .env("LOGSIEVE_CACHE_DIR", common::cwasm_cache())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sink scored") && err.contains("File too large"), "{err}");
    assert!(err.contains("events read from 1 source"), "the summary is printed:\n{err}");
    let text = std::fs::read_to_string(dir.join("scored.ndjson")).unwrap();
    assert!(!text.is_empty() && text.len() <= 200 * 512, "{} bytes written", text.len());
    assert!(text.ends_with('\n'), "a partial last line was left");
    for (k, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", k + 1));
        assert_eq!(v["seq"].as_u64(), Some(k as u64), "line {}", k + 1);
    }
    // Every event accounted for: the sink's count is what reached the
    // file, the rest is counted as not written.
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    let (sink, t) = (&s["sinks"]["scored"], &s["transforms"]["score"]);
    assert_eq!(sink["written"].as_u64(), Some(text.lines().count() as u64), "{s}");
    assert!(sink["not_written"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(
        sink["written"].as_u64().unwrap() + sink["not_written"].as_u64().unwrap(),
        t["scored"].as_u64().unwrap()
    );
    assert!(err.contains("not written (the write failed)"), "{err}");
}

#[test]
fn a_closed_stdout_names_the_sink() {
    let dir = common::tempdir("r2-epipe");
    write_events(&dir.join("logs/conn.ndjson"), 300);
    let toml =
        file_source("logs/conn.ndjson") + &transform("") + "[sinks.console]\ntype = \"stdout\"\ninputs = [\"score\"]\n";
    std::fs::write(dir.join("p.toml"), toml).unwrap();
    let mut child = common::logsieve_command(&dir)
        .args(["run", "p.toml"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sink console") && err.contains("Broken pipe"), "{err}");
}
