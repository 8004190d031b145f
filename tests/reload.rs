//! Hot reload: `logsieve run` notices a new model file between batches.
//!
//! A live stream comes in on stdin. After the first part, a second model is
//! renamed over the model file; after the second part, a broken model is.
//! Every event must come out exactly once, named by the model that scored
//! it: the first part by the first model, the rest by the second (the
//! broken file is refused and the second model keeps serving).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn train(dir: &Path, hour: &str, name: &str) -> PathBuf {
    let model = dir.join(name);
    let input = common::repo().join(format!("pipeline-examples/conn-kmeans/sample/train/conn.{hour}.log.gz"));
    // Reproducible (the same model id in every run of the test).
    let out = Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .env("SOURCE_DATE_EPOCH", "0")
        .args(["train", "--spec"])
        .arg(common::conn_spec())
        .arg("--input")
        .arg(&input)
        .arg("--out")
        .arg(&model)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(out.status.success(), "train failed: {}", String::from_utf8_lossy(&out.stderr));
    model
}

fn model_id(path: &Path) -> String {
    logsieve_artifact::decode(&std::fs::read(path).unwrap()).unwrap().id
}

/// Put `path`'s new content in place the way a deployment should: write
/// elsewhere, then rename over it (atomic).
fn replace_atomically(target: &Path, bytes: &[u8]) {
    let tmp = target.with_extension("incoming");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, target).unwrap();
}

/// What a run with two model swaps mid-stream wrote.
struct Swapped {
    /// The scored lines (standard output), in order.
    lines: Vec<String>,
    /// The errors file.
    errors: String,
    stderr: String,
    summary: serde_json::Value,
    id1: String,
    id2: String,
}

/// Stream 300 events on stdin; after the first 100 have come out, rename a
/// second model over the model file; after 200, a truncated one.
/// `threads`: the `--threads` argument, if any.
fn swap_mid_stream(name: &str, threads: Option<&str>) -> Swapped {
    let dir = common::tempdir(name);
    let first = train(&dir, "00:00:00-01:00:00", "first.msgpack");
    let second = train(&dir, "01:00:00-02:00:00", "second.msgpack");
    let (id1, id2) = (model_id(&first), model_id(&second));
    assert_ne!(id1, id2, "the two models must differ for the test to mean anything");
    let live = dir.join("model.msgpack");
    std::fs::copy(&first, &live).unwrap();

    std::fs::write(
        dir.join("p.toml"),
        r#"
[sources.live]
type = "stdin"
format = "ndjson"

[transforms.score]
type = "logsieve"
inputs = ["live"]
model = "model.msgpack"
batch_size = 10

[sinks.out]
type = "stdout"
inputs = ["score"]

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "errors.ndjson"
"#,
    )
    .unwrap();

    // Real conn events, each tagged with its sequence number.
    let sample = common::repo().join("pipeline-examples/conn-kmeans/sample/score/conn.00:00:00-01:00:00.log.gz");
    let events: Vec<String> = logsieve_readers::Reader::open(vec![sample], logsieve_readers::Format::Auto)
        .filter_map(|i| i.result.ok())
        .take(300)
        .enumerate()
        .map(|(n, e)| format!("{{\"seq\":{n},{}", &e[1..]))
        .collect();
    assert_eq!(events.len(), 300);

    let mut child = Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .current_dir(&dir)
        .args(["run", "p.toml", "--summary-json", "summary.json"])
        .args(threads.map(|t| ["--threads", t]).iter().flatten())
        .env("LOGSIEVE_CACHE_DIR", dir.join("cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut out: Vec<String> = Vec::new();
    let mut send_and_collect = |part: &[String], out: &mut Vec<String>| {
        for e in part {
            writeln!(stdin, "{e}").unwrap();
        }
        stdin.flush().unwrap();
        let want = out.len() + part.len();
        while out.len() < want {
            let line = rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| {
                panic!("only {} of {want} scored events came out; stderr:\n{}", out.len(), stderr_of(&dir))
            });
            out.push(line);
        }
    };

    send_and_collect(&events[..100], &mut out);
    replace_atomically(&live, &std::fs::read(&second).unwrap());
    send_and_collect(&events[100..200], &mut out);
    let good = std::fs::read(&second).unwrap();
    replace_atomically(&live, &good[..good.len() / 2]);
    send_and_collect(&events[200..], &mut out);
    // Closing stdin ends the run.
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let stderr = stderr_of(&dir);
    assert!(status.success(), "run failed ({status}):\n{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let errors = std::fs::read_to_string(dir.join("errors.ndjson")).unwrap();
    Swapped { lines: out, errors, stderr, summary, id1, id2 }
}

#[test]
fn a_model_swapped_mid_stream_scores_every_later_event_and_a_bad_one_is_refused() {
    let Swapped { lines, errors, stderr, summary, id1, id2 } = swap_mid_stream("reload", None);
    let out: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();

    // Every event exactly once, named by the model that scored it.
    let mut seen = vec![0u32; 300];
    for e in &out {
        let seq = e["seq"].as_u64().unwrap() as usize;
        seen[seq] += 1;
        let want = if seq < 100 { &id1 } else { &id2 };
        assert_eq!(e["logsieve"]["model"].as_str(), Some(want.as_str()), "event {seq}");
    }
    assert!(seen.iter().all(|&n| n == 1), "events out more or less than once: {:?}", {
        seen.iter().enumerate().filter(|(_, n)| **n != 1).collect::<Vec<_>>()
    });
    assert_eq!(errors, "", "no event failed");

    let t = &summary["transforms"]["score"];
    assert_eq!(t["reloads"], 1, "{t}");
    assert_eq!(t["reloads_refused"], 1, "{t}");
    assert_eq!(t["models"], serde_json::json!([id1, id2]));
    assert_eq!(t["model"], id2.as_str());
    assert_eq!(t["in"], 300);
    assert_eq!(t["scored"], 300);
    assert!(stderr.contains(&format!("model {id1} replaced by {id2}")), "{stderr}");
    assert!(
        stderr.contains("was refused: truncated model file") && stderr.contains(&format!("model {id2} keeps serving")),
        "the bad model's refusal is reported:\n{stderr}"
    );
}

fn stderr_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default()
}

/// A `logsieve run` of the pipeline `p.toml` in `dir`, fed on stdin.
struct Live {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    rx: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
    out: Vec<serde_json::Value>,
    dir: PathBuf,
}

impl Live {
    fn start(dir: &Path) -> Live {
        std::fs::write(
            dir.join("p.toml"),
            "[sources.live]\ntype = \"stdin\"\nformat = \"ndjson\"\n\n\
             [transforms.score]\ntype = \"logsieve\"\ninputs = [\"live\"]\nmodel = \"model.msgpack\"\nbatch_size = 10\n\n\
             [sinks.out]\ntype = \"stdout\"\ninputs = [\"score\"]\n\n\
             [sinks.errors]\ntype = \"file\"\ninputs = [\"score.errors\"]\npath = \"errors.ndjson\"\n",
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_logsieve"))
            .current_dir(dir)
            .args(["run", "p.toml", "--summary-json", "summary.json"])
            .env("LOGSIEVE_CACHE_DIR", dir.join("cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Live { child, stdin, rx, reader, out: Vec::new(), dir: dir.to_path_buf() }
    }

    /// Send `part` and wait until as many scored events came out.
    fn send(&mut self, part: &[String]) {
        for e in part {
            writeln!(self.stdin, "{e}").unwrap();
        }
        self.stdin.flush().unwrap();
        let want = self.out.len() + part.len();
        while self.out.len() < want {
            let Ok(line) = self.rx.recv_timeout(Duration::from_secs(120)) else {
                let _ = self.child.kill(); // a hung run must not outlive the test
                panic!("only {} of {want} scored events came out; stderr:\n{}", self.out.len(), stderr_of(&self.dir));
            };
            self.out.push(serde_json::from_str(&line).unwrap());
        }
    }

    /// Close stdin: the scored events, stderr and the summary's transform.
    fn finish(self) -> (Vec<serde_json::Value>, String, serde_json::Value) {
        let Live { mut child, stdin, reader, out, dir, .. } = self;
        drop(stdin);
        let status = child.wait().unwrap();
        reader.join().unwrap();
        let stderr = stderr_of(&dir);
        assert!(status.success(), "run failed ({status}):\n{stderr}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        (out, stderr, summary["transforms"]["score"].clone())
    }
}

fn seq_events(n: usize) -> Vec<String> {
    let sample = common::repo().join("pipeline-examples/conn-kmeans/sample/score/conn.00:00:00-01:00:00.log.gz");
    logsieve_readers::Reader::open(vec![sample], logsieve_readers::Format::Auto)
        .filter_map(|i| i.result.ok())
        .take(n)
        .enumerate()
        .map(|(n, e)| format!("{{\"seq\":{n},{}", &e[1..]))
        .collect()
}

#[test]
fn a_model_path_turned_into_a_device_fifo_or_folder_is_refused_and_the_old_model_serves() {
    // Issue #19, item 7: a model path that became a symlink to /dev/zero
    // during hot reload was read until memory ran out; a FIFO hung the run.
    let dir = common::tempdir("reload-not-a-file");
    let first = train(&dir, "00:00:00-01:00:00", "first.msgpack");
    let id1 = model_id(&first);
    let live = dir.join("model.msgpack");
    std::fs::copy(&first, &live).unwrap();
    let events = seq_events(400);
    let mut run = Live::start(&dir);
    run.send(&events[..100]);
    // A symlink to /dev/zero, renamed over the model.
    let tmp = dir.join("incoming");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink("/dev/zero", &tmp).unwrap();
    std::fs::rename(&tmp, &live).unwrap();
    run.send(&events[100..200]);
    // A FIFO nobody writes to.
    assert!(Command::new("mkfifo").arg(&tmp).status().unwrap().success());
    std::fs::rename(&tmp, &live).unwrap();
    run.send(&events[200..300]);
    // A folder.
    std::fs::remove_file(&live).unwrap();
    std::fs::create_dir(&live).unwrap();
    run.send(&events[300..]);
    let (out, stderr, t) = run.finish();
    assert_eq!(out.len(), 400);
    for e in &out {
        assert_eq!(e["logsieve"]["model"].as_str(), Some(id1.as_str()), "{e}");
    }
    assert_eq!(t["reloads"], 0, "{t}");
    assert_eq!(t["reloads_refused"], 3, "{t}\n{stderr}");
    for want in ["is a character device", "is a FIFO (named pipe)", "is a directory"] {
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
}

#[test]
fn a_same_size_same_mtime_replacement_is_noticed() {
    // Issue #19, item 11: `cp -p` of a model of the same size over the
    // model file (same inode, size and mtime) went unnoticed.
    let dir = common::tempdir("reload-cp-p");
    let first = train(&dir, "00:00:00-01:00:00", "first.msgpack");
    let id1 = model_id(&first);
    let bytes = std::fs::read(&first).unwrap();
    let mut m = logsieve_artifact::decode(&bytes).unwrap().model;
    let c = &mut m.fitted.as_mut().unwrap().clusters[0].centroid[0];
    *c += 1e-9 * c.abs().max(1.0);
    let other = logsieve_artifact::encode(&m).unwrap();
    assert_eq!(other.len(), bytes.len(), "the replacement must have the same size");
    let id2 = logsieve_artifact::decode(&other).unwrap().id;
    assert_ne!(id1, id2);
    let live = dir.join("model.msgpack");
    std::fs::write(&live, &bytes).unwrap();
    let mtime = std::fs::metadata(&live).unwrap().modified().unwrap();
    let events = seq_events(200);
    let mut run = Live::start(&dir);
    run.send(&events[..100]);
    // Rewritten in place, its mtime set back: what `cp -p` does.
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&live).unwrap());
    {
        let f = std::fs::OpenOptions::new().write(true).truncate(true).open(&live).unwrap();
        (&f).write_all(&other).unwrap();
        f.set_modified(mtime).unwrap();
    }
    let m = std::fs::metadata(&live).unwrap();
    assert_eq!(
        (m.len(), m.modified().unwrap(), std::os::unix::fs::MetadataExt::ino(&m)),
        (bytes.len() as u64, mtime, ino)
    );
    run.send(&events[100..]);
    let (out, stderr, t) = run.finish();
    for e in &out {
        let seq = e["seq"].as_u64().unwrap();
        let want = if seq < 100 { &id1 } else { &id2 };
        assert_eq!(e["logsieve"]["model"].as_str(), Some(want.as_str()), "event {seq}\n{stderr}");
    }
    assert_eq!(t["reloads"], 1, "{t}");
}

/// Issue #21: with several instances (`threads`), a reload mid-stream
/// switches every instance between the same two batches: the output is byte
/// for byte, in order, that of one instance, and the counts are the same.
#[test]
fn several_instances_switch_models_between_the_same_batches() {
    let one = swap_mid_stream("reload-threads-1", Some("1"));
    let many = swap_mid_stream("reload-threads-3", Some("3"));
    assert_eq!((&one.id1, &one.id2), (&many.id1, &many.id2), "training is reproducible");
    assert_eq!(one.lines.len(), 300);
    assert!(one.lines == many.lines, "the scored lines differ between --threads 1 and --threads 3");
    assert_eq!(one.errors, many.errors);
    let counts = |s: &serde_json::Value| common::comparable_counts(&s["transforms"]["score"]);
    assert_eq!(counts(&one.summary), counts(&many.summary));
    assert_eq!(many.summary["transforms"]["score"]["reloads"], 1);
    assert!(many.stderr.contains(&format!("model {} replaced by {}", many.id1, many.id2)), "{}", many.stderr);
}
