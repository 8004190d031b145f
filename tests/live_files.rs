//! Following live files (issue #23, item 2): a `file` source with
//! `follow = true` reads Zeek's `conn.log` as it grows, through hourly
//! rotation (renamed, then gzipped, as Zeek's archiver does) while running
//! and while stopped, and resumes after a restart from its checkpoint:
//! every line scored exactly once.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The sample hour's header lines (without `#open` and `#close`) and rows.
fn sample() -> (Vec<String>, Vec<String>) {
    let gz = std::fs::File::open(common::conn_hour("score")).unwrap();
    let text = BufReader::new(flate2::read::GzDecoder::new(gz));
    let (mut header, mut rows) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let line = line.unwrap();
        if line.starts_with("#open") || line.starts_with("#close") {
            continue;
        }
        if line.starts_with('#') { header.push(line) } else { rows.push(line) }
    }
    (header, rows)
}

/// A Zeek header as Zeek writes it when it opens a log at `opened`.
fn header_at(header: &[String], opened: &str) -> String {
    let mut h = String::new();
    for (i, line) in header.iter().enumerate() {
        if i == 5 {
            h += &format!("#open\t{opened}\n");
        }
        h += line;
        h.push('\n');
    }
    // `#open` comes after `#path` (the fifth line).
    assert!(header[4].starts_with("#path"), "the sample's header: {header:?}");
    h
}

fn rows_text(rows: &[String]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Rotate as Zeek's archiver does: rename, then gzip the renamed file and
/// remove it.
fn rotate(logs: &Path, stamp: &str) {
    let renamed = logs.join(format!("conn.{stamp}.log"));
    std::fs::rename(logs.join("conn.log"), &renamed).unwrap();
    let bytes = std::fs::read(&renamed).unwrap();
    let gz = logs.join(format!("conn.{stamp}.log.gz"));
    let tmp = logs.join(format!(".conn.{stamp}.log.gz.tmp"));
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&tmp).unwrap(), flate2::Compression::fast());
    enc.write_all(&bytes).unwrap();
    enc.finish().unwrap();
    std::fs::rename(&tmp, &gz).unwrap();
    std::fs::remove_file(&renamed).unwrap();
}

/// The uids of the scored output's whole lines (the writer may be in the
/// middle of one).
fn uids(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    whole
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l:?}", path.display()));
            v["uid"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A running `logsieve run`, killed if the test fails before it stops it.
struct Run(Option<Child>);

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start(dir: &Path) -> Run {
    Run(Some(spawn(dir)))
}

fn spawn(dir: &Path) -> Child {
    common::logsieve_command(dir)
        .args(["run", "p.toml", "--quiet", "--summary-json", "s.json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until the scored output holds `n` events.
fn wait_for(run: &mut Run, scored: &Path, n: usize) {
    let child = run.0.as_mut().expect("running");
    let t0 = Instant::now();
    loop {
        let got = uids(scored).len();
        if got >= n {
            assert_eq!(got, n, "more events scored than were written");
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            panic!("logsieve ended ({st}) with {got} of {n} events scored:\n{err}");
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{got} of {n} events scored after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut run: Run, dir: &Path) -> Value {
    let child = run.0.take().expect("running");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap()
}

#[test]
fn a_followed_conn_log_through_rotations_and_a_restart_scores_every_line_once() {
    let dir = common::tempdir("live-files");
    let model = common::train_small_conn(&dir);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        dir.join("p.toml"),
        format!(
            r#"
[sources.conn]
type = "file"
path = ["logs/conn.log", "logs/conn.*.log.gz"]
format = "zeek_tsv"
follow = true
data_dir = "state"

[transforms.score]
type = "logsieve"
inputs = ["conn"]
model = "{}"
flush_ms = 50

[sinks.scored]
type = "file"
inputs = ["score"]
path = "out/scored.ndjson"
append = true

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "out/errors.ndjson"
append = true
"#,
            model.display()
        ),
    )
    .unwrap();
    let (header, rows) = sample();
    let parts: Vec<&[String]> = rows.chunks(rows.len().div_ceil(6)).collect();
    let scored = dir.join("out/scored.ndjson");
    let conn = logs.join("conn.log");
    let mut written = 0;

    // Run 1: the file as it is, then appends (one ending mid-line).
    std::fs::write(&conn, header_at(&header, "2024-04-20-00-00-00") + &rows_text(parts[0])).unwrap();
    written += parts[0].len();
    let mut run = start(&dir);
    wait_for(&mut run, &scored, written);
    let text = rows_text(parts[1]);
    let cut = text.len() - 20;
    append(&conn, &text[..cut]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(uids(&scored).len(), written + parts[1].len() - 1, "the unfinished last line waits for its end");
    append(&conn, &text[cut..]);
    written += parts[1].len();
    wait_for(&mut run, &scored, written);
    let s1 = stop(run, &dir);
    assert_eq!(s1["stopped_by"], "SIGTERM");
    assert!(dir.join("state/conn.checkpoints.json").is_file(), "the checkpoint is saved at the stop");

    // While stopped: more lines, then the hour rotates (renamed, gzipped)
    // and the next hour's conn.log begins.
    append(&conn, &rows_text(parts[2]));
    written += parts[2].len();
    rotate(&logs, "2024-04-20-00-00-00");
    std::fs::write(&conn, header_at(&header, "2024-04-20-01-00-00") + &rows_text(parts[3])).unwrap();
    written += parts[3].len();

    // Run 2: resumes inside the rotated .gz, then the new conn.log; then a
    // rotation while it runs.
    let mut run = start(&dir);
    wait_for(&mut run, &scored, written);
    append(&conn, &rows_text(parts[4]));
    written += parts[4].len();
    wait_for(&mut run, &scored, written);
    rotate(&logs, "2024-04-20-01-00-00");
    std::fs::write(&conn, header_at(&header, "2024-04-20-02-00-00") + &rows_text(parts[5])).unwrap();
    written += parts[5].len();
    wait_for(&mut run, &scored, written);
    let s2 = stop(run, &dir);

    // Every line once, in the order written.
    let want: Vec<String> = rows.iter().map(|r| r.split('\t').nth(2).unwrap().to_string()).collect();
    assert_eq!(uids(&scored), want, "every line scored exactly once, in order");
    assert_eq!(std::fs::read_to_string(dir.join("out/errors.ndjson")).unwrap_or_default(), "");
    let read = |s: &Value| s["sources"]["conn"]["read"].as_u64().unwrap();
    assert_eq!(read(&s1) + read(&s2), rows.len() as u64);
    assert_eq!(read(&s1), (parts[0].len() + parts[1].len()) as u64);
}

/// A corrupt checkpoint file refuses the run before any output is touched.
#[test]
fn a_corrupt_checkpoint_refuses_the_run_naming_it() {
    let dir = common::tempdir("live-files-corrupt");
    let model = common::train_small_conn(&dir);
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("state/conn.checkpoints.json"), "{\"version\": 1, \"files\": [{\"path\": 3}]}").unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/scored.ndjson"), "the last run's output\n").unwrap();
    std::fs::write(
        dir.join("p.toml"),
        format!(
            "[sources.conn]\ntype = \"file\"\npath = \"logs/conn.log\"\nfollow = true\ndata_dir = \"state\"\n\
             [transforms.score]\ntype = \"logsieve\"\ninputs = [\"conn\"]\nmodel = \"{}\"\n\
             [sinks.scored]\ntype = \"file\"\ninputs = [\"score\"]\npath = \"out/scored.ndjson\"\n",
            model.display()
        ),
    )
    .unwrap();
    let out = common::logsieve_in(&dir, &["run", "p.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("source conn: its checkpoints") && stderr.contains("conn.checkpoints.json"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.join("out/scored.ndjson")).unwrap(), "the last run's output\n");
}
