//! Operator conveniences (issue #23, item 3): `${VAR}` interpolation in
//! pipeline files as Vector does it, `logsieve validate` reporting every
//! problem at once (syntax errors included) without touching any output,
//! `type = "console"` as Vector's name for standard output, and
//! `--stats-interval`'s counts on stderr during a run.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// A model trained once on one hour of the conn-kmeans sample.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| common::train_small_conn(&common::tempdir("operator-model")))
}

/// `logsieve args` in `dir`, its compiled component cached under the
/// target folder, stdout and stderr piped, no stdin.
fn logsieve_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = common::logsieve_command(dir);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `logsieve args` in `dir` with the environment variables `vars` added.
fn logsieve_env(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    logsieve_cmd(dir, args).envs(vars.iter().copied()).output().unwrap()
}

/// `logsieve run p.toml --quiet --summary-json s.json extra…` in `dir`,
/// started with its standard input a pipe to write a live stream into.
fn spawn_live_run(dir: &Path, extra: &[&str]) -> std::process::Child {
    let mut args = vec!["run", "p.toml", "--quiet", "--summary-json", "s.json"];
    args.extend_from_slice(extra);
    logsieve_cmd(dir, &args).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

const INTERPOLATED: &str = r#"# ${NOT_SET_AND_ONLY_IN_A_COMMENT}
[sources.conn]
type = "file"
path = "${LOGSIEVE_T_SAMPLE}"
format = "${LOGSIEVE_T_FORMAT:-auto}"

[transforms.score]
type = "logsieve"
inputs = ["conn"]
model = "$LOGSIEVE_T_MODEL"
batch_size = ${LOGSIEVE_T_BATCH:-250}

[sinks.scored]
type = "file"
inputs = ["score"]
path = "${LOGSIEVE_T_OUT:?where the scored events go}/scored.ndjson"

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "${LOGSIEVE_T_OUT}/errors-$$1.ndjson"
"#;

#[test]
fn environment_variables_are_interpolated_as_vector_does() {
    let dir = common::tempdir("operator-env");
    std::fs::write(dir.join("p.toml"), INTERPOLATED).unwrap();
    let sample = common::conn_hour("score");
    let vars = [
        ("LOGSIEVE_T_SAMPLE", sample.to_str().unwrap()),
        ("LOGSIEVE_T_MODEL", model().to_str().unwrap()),
        ("LOGSIEVE_T_OUT", "out"),
        ("LOGSIEVE_T_FORMAT", ""),
    ];
    let out = logsieve_env(&dir, &["run", "p.toml", "--summary-json", "s.json", "--quiet"], &vars);
    assert!(out.status.success(), "{}", stderr(&out));
    let scored = lines(&dir.join("out/scored.ndjson"));
    assert_eq!(scored.len(), 1789, "every event of the sample scored");
    assert!(dir.join("out/errors-$1.ndjson").exists(), "`$$` is a literal `$`");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["transforms"]["score"]["scored"], 1789);

    // The same file with nothing set: every missing variable is named with
    // its line, the one in a comment is not, and nothing is written.
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    let out = logsieve_env(&dir, &["run", "p.toml"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        "line 4: environment variable `LOGSIEVE_T_SAMPLE` is not set",
        "line 10: environment variable `LOGSIEVE_T_MODEL` is not set",
        "line 16: environment variable `LOGSIEVE_T_OUT` is not set or empty: where the scored events go",
        "line 21: environment variable `LOGSIEVE_T_OUT` is not set",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(!err.contains("NOT_SET_AND_ONLY_IN_A_COMMENT"), "{err}");
    assert!(!err.contains("LOGSIEVE_T_BATCH") && !err.contains("LOGSIEVE_T_FORMAT"), "defaults apply:\n{err}");
    assert!(!dir.join("out").exists(), "a refused pipeline wrote output");
}

/// Two syntax errors, an unknown key, a codec logsieve does not write, a
/// model that does not exist and a glob that matches nothing: one run of
/// `validate` names them all; the sink that exists is left as it was.
#[test]
fn validate_reports_every_problem_at_once_and_touches_nothing() {
    let dir = common::tempdir("operator-validate");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/scored.ndjson"), "the last run's output\n").unwrap();
    let bad = format!(
        r#"[sources.conn]
type = "file"
path = "logs/none-*.log.gz"
formt = "zeek_tsv"

[transforms.score]
type = "logsieve"
inputs = ["conn"]
model = "missing.msgpack"
batch_size = = 10

[transforms.again]
type = "logsieve"
inputs = ["conn"]
model = {model:?}
top_features = 3 3

[sinks.scored]
type = "file"
inputs = ["score", "again"]
path = "out/scored.ndjson"

[sinks.console]
type = "console"
inputs = ["score.errors"]
encoding.codec = "text"
"#,
        model = model().to_str().unwrap()
    );
    std::fs::write(dir.join("bad.toml"), &bad).unwrap();
    let out = common::logsieve_in(&dir, &["validate", "bad.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        "TOML syntax: line 10, column",
        "TOML syntax: line 16, column",
        "sources.conn: unknown key `formt`",
        "sinks.console: unknown variant `text`, expected `json`",
        "transform score: ",
        "missing.msgpack",
        "none-*.log.gz",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert!(!err.contains("transform again"), "the good transform's model loads:\n{err}");
    let syntax_at = err.find("line 10").unwrap();
    assert!(syntax_at < err.find("line 16").unwrap(), "syntax errors in the file's order:\n{err}");
    assert_eq!(std::fs::read_to_string(dir.join("out/scored.ndjson")).unwrap(), "the last run's output\n");

    // Fixed, it is valid, and `run` agrees.
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::copy(common::conn_hour("score"), dir.join("logs/none-1.log.gz")).unwrap();
    let good = bad
        .replace("formt", "format")
        .replace("model = \"missing.msgpack\"", &format!("model = {:?}", model().to_str().unwrap()))
        .replace("= = 10", "= 10")
        .replace("3 3", "3")
        .replace("\"text\"", "\"json\"");
    std::fs::write(dir.join("good.toml"), &good).unwrap();
    let out = common::logsieve_in(&dir, &["validate", "good.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("good.toml: valid") && said.contains("reading 1 file(s)"), "{said}");
    assert_eq!(std::fs::read_to_string(dir.join("out/scored.ndjson")).unwrap(), "the last run's output\n");
    let out = common::logsieve_in(&dir, &["run", "good.toml", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&dir.join("out/scored.ndjson")).len(), 2 * 1789);
}

/// `type = "console"` with Vector's `encoding.codec = "json"` writes what
/// `type = "stdout"` writes.
#[test]
fn console_is_vectors_name_for_stdout() {
    let dir = common::tempdir("operator-console");
    let pipeline = |kind: &str, encoding: &str| {
        format!(
            "[sources.conn]\ntype = \"file\"\npath = {sample:?}\n\n[transforms.score]\ntype = \"logsieve\"\n\
             inputs = [\"conn\"]\nmodel = {model:?}\n\n[sinks.out]\ntype = \"{kind}\"\ninputs = [\"score\"]\n{encoding}\n\
             [sinks.errors]\ntype = \"file\"\ninputs = [\"score.errors\"]\npath = \"errors.ndjson\"\n",
            sample = common::conn_hour("score").to_str().unwrap(),
            model = model().to_str().unwrap()
        )
    };
    std::fs::write(dir.join("stdout.toml"), pipeline("stdout", "")).unwrap();
    std::fs::write(dir.join("console.toml"), pipeline("console", "encoding.codec = \"json\"\n")).unwrap();
    let a = common::logsieve_in(&dir, &["run", "stdout.toml", "--quiet"]);
    let b = common::logsieve_in(&dir, &["run", "console.toml", "--quiet"]);
    assert!(a.status.success() && b.status.success(), "{}{}", stderr(&a), stderr(&b));
    assert_eq!(String::from_utf8_lossy(&a.stdout).lines().count(), 1789);
    assert!(a.stdout == b.stdout, "console and stdout wrote different bytes");
}

/// A live stream fed in three parts with pauses: `--stats-interval 0.2`
/// prints the counts on stderr while it runs, growing, the last one no
/// higher than the summary's.
#[test]
fn stats_interval_prints_the_counts_while_the_run_goes_on() {
    let dir = common::tempdir("operator-stats");
    let events: Vec<String> =
        logsieve_readers::Reader::open(vec![common::conn_hour("score")], logsieve_readers::Format::Auto)
            .filter_map(|i| i.result.ok())
            .take(900)
            .collect();
    let toml = format!(
        "[sources.in]\ntype = \"stdin\"\nformat = \"ndjson\"\n\n[transforms.score]\ntype = \"logsieve\"\n\
         inputs = [\"in\"]\nmodel = {model:?}\nbatch_size = 100\nflush_ms = 50\n\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"score\"]\npath = \"out.ndjson\"\n",
        model = model().to_str().unwrap()
    );
    std::fs::write(dir.join("p.toml"), toml).unwrap();
    let mut child = spawn_live_run(&dir, &["--stats-interval", "0.2"]);
    let mut pipe = child.stdin.take().unwrap();
    for part in events.chunks(300) {
        pipe.write_all((part.join("\n") + "\n").as_bytes()).unwrap();
        pipe.flush().unwrap();
        std::thread::sleep(Duration::from_millis(700));
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let counts: Vec<u64> = err
        .lines()
        .filter(|l| l.starts_with("logsieve: "))
        .map(|l| {
            let at = l.find("transform score: ").unwrap_or_else(|| panic!("{l}")) + "transform score: ".len();
            l[at..].split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(counts.len() >= 3, "stats lines:\n{err}");
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts.first() < counts.last(), "the counts grew while the stream went on: {counts:?}");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["transforms"]["score"]["in"], 900);
    assert!(*counts.last().unwrap() <= 900);
}

/// GET `url` with curl (a real client); its status line's code and body.
fn curl(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--max-time", "5", url])
        .output()
        .unwrap_or_else(|e| panic!("this test needs curl (Debian's curl package): {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// `name{labels} value` lines of an OpenMetrics text, by `name{labels}`.
fn metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_string(), v.parse().unwrap())))
        .collect()
}

/// A free port on the loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `[api]`: while a live stream's events are in and the stream is still
/// open, `/health` answers and `/metrics` (scraped by curl) holds the same
/// counts as the `--summary-json` written when the run ends.
#[test]
fn metrics_scraped_during_a_run_match_the_summary_at_the_end() {
    let dir = common::tempdir("operator-metrics");
    let port = free_port();
    let mut events: Vec<String> =
        logsieve_readers::Reader::open(vec![common::conn_hour("score")], logsieve_readers::Format::Auto)
            .filter_map(|i| i.result.ok())
            .take(700)
            .collect();
    events.insert(10, "not json".into());
    events.insert(400, "{\"cut\": ".into());
    let toml = format!(
        "[api]\naddress = \"127.0.0.1:{port}\"\n\n[sources.in]\ntype = \"stdin\"\nformat = \"ndjson\"\n\n\
         [transforms.score]\ntype = \"logsieve\"\ninputs = [\"in\"]\nmodel = {model:?}\nbatch_size = 100\n\
         flush_ms = 50\n\n[sinks.out]\ntype = \"file\"\ninputs = [\"score\"]\npath = \"out.ndjson\"\n\n\
         [sinks.errors]\ntype = \"file\"\ninputs = [\"score.errors\"]\npath = \"errors.ndjson\"\n",
        model = model().to_str().unwrap()
    );
    std::fs::write(dir.join("p.toml"), toml).unwrap();
    let mut child = spawn_live_run(&dir, &[]);
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all((events.join("\n") + "\n").as_bytes()).unwrap();
    pipe.flush().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let scraped = loop {
        let (code, body) = curl(&format!("{base}/metrics"));
        if code == 200 && metrics(&body).get("logsieve_events_in_total{transform=\"score\"}") == Some(&702.0) {
            break metrics(&body);
        }
        assert!(std::time::Instant::now() < deadline, "/metrics never showed the 702 events: {code}\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(curl(&format!("{base}/health")), (200, "{\"status\":\"ok\"}\n".to_string()));
    assert_eq!(curl(&format!("{base}/nothing-here")).0, 404);
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    let t = &s["transforms"]["score"];
    let pairs = [
        ("logsieve_events_in_total{transform=\"score\"}", &t["in"]),
        ("logsieve_events_scored_total{transform=\"score\"}", &t["scored"]),
        ("logsieve_events_errors_total{transform=\"score\"}", &t["errors"]),
        ("logsieve_events_passed_total{transform=\"score\"}", &t["passed"]),
        ("logsieve_events_absorbed_total{transform=\"score\"}", &t["absorbed"]),
        ("logsieve_anomalies_total{transform=\"score\"}", &t["anomalies"]),
        ("logsieve_guest_faults_total{transform=\"score\"}", &t["guest_faults"]),
        ("logsieve_model_reloads_total{transform=\"score\"}", &t["reloads"]),
        (
            "logsieve_errors_by_reason_total{transform=\"score\",reason=\"invalid_json\"}",
            &t["error_reasons"]["invalid_json"],
        ),
        ("logsieve_batch_latency_seconds_count{transform=\"score\"}", &t["batch_latency"]["count"]),
        ("logsieve_source_read_total{source=\"in\"}", &s["sources"]["in"]["read"]),
        ("logsieve_source_read_errors_total{source=\"in\"}", &s["sources"]["in"]["read_errors"]),
        ("logsieve_sink_written_total{sink=\"out\"}", &s["sinks"]["out"]["written"]),
        ("logsieve_sink_written_total{sink=\"errors\"}", &s["sinks"]["errors"]["written"]),
    ];
    for (name, want) in pairs {
        let want = want.as_f64().unwrap_or_else(|| panic!("{name}: no such count in the summary: {s}"));
        assert_eq!(scraped.get(name), Some(&want), "{name}");
    }
    assert_eq!(t["errors"], 2, "{t}");
    assert!(t["batch_latency"]["count"].as_u64().unwrap() >= 7, "{t}");
}

/// An `[api]` address already in use refuses the run before any output is
/// touched.
#[test]
fn an_api_address_in_use_refuses_the_run_before_any_output() {
    let dir = common::tempdir("operator-api-busy");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    std::fs::write(dir.join("out.ndjson"), "the last run's output\n").unwrap();
    let toml = format!(
        "[api]\naddress = \"127.0.0.1:{port}\"\n\n[sources.conn]\ntype = \"file\"\npath = {sample:?}\n\n\
         [transforms.score]\ntype = \"logsieve\"\ninputs = [\"conn\"]\nmodel = {model:?}\n\n\
         [sinks.out]\ntype = \"file\"\ninputs = [\"score\"]\npath = \"out.ndjson\"\n",
        sample = common::conn_hour("score").to_str().unwrap(),
        model = model().to_str().unwrap()
    );
    std::fs::write(dir.join("p.toml"), toml).unwrap();
    let out = common::logsieve_in(&dir, &["run", "p.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("[api]: listening on 127.0.0.1:{port}")), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("out.ndjson")).unwrap(), "the last run's output\n");
    let out = common::logsieve_in(&dir, &["validate", "p.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("[api]: cannot listen on 127.0.0.1:{port}")), "{err}");
    drop(busy);
}

/// `type = "socket"` (tcp and unix, Vector's names): the peer receives, byte
/// for byte, what a file sink taking the same output writes; a peer that
/// is not there refuses the run before any output is touched.
#[test]
fn a_socket_sink_sends_what_a_file_sink_writes() {
    let dir = common::tempdir("operator-socket-sink");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let sock = dir.join("peer.sock");
    let unix = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receive = |mut stream: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            got
        })
    };
    let toml = format!(
        "[sources.conn]\ntype = \"file\"\npath = {sample:?}\n\n[transforms.score]\ntype = \"logsieve\"\n\
         inputs = [\"conn\"]\nmodel = {model:?}\nbatch_size = 300\n\n\
         [sinks.file]\ntype = \"file\"\ninputs = [\"score\"]\npath = \"scored.ndjson\"\n\n\
         [sinks.tcp]\ntype = \"socket\"\nmode = \"tcp\"\naddress = \"127.0.0.1:{port}\"\ninputs = [\"score\"]\n\
         encoding.codec = \"json\"\n\n\
         [sinks.unix]\ntype = \"socket\"\nmode = \"unix\"\npath = \"peer.sock\"\ninputs = [\"score\"]\n\
         only_anomalies = true\n",
        sample = common::conn_hour("score").to_str().unwrap(),
        model = model().to_str().unwrap()
    );
    std::fs::write(dir.join("p.toml"), &toml).unwrap();
    let accept = std::thread::spawn(move || {
        let (t, _) = tcp.accept().unwrap();
        let (u, _) = unix.accept().unwrap();
        (receive(Box::new(t)), receive(Box::new(u)))
    });
    let out = common::logsieve_in(&dir, &["run", "p.toml", "--quiet", "--summary-json", "s.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (t, u) = accept.join().unwrap();
    let (t, u) = (t.join().unwrap(), u.join().unwrap());
    let file = std::fs::read(dir.join("scored.ndjson")).unwrap();
    assert_eq!(String::from_utf8_lossy(&file).lines().count(), 1789);
    assert!(t == file, "the tcp peer got {} bytes, the file has {}", t.len(), file.len());
    let anomalies: Vec<&str> = std::str::from_utf8(&file)
        .unwrap()
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["logsieve"]["anomaly"] == true)
        .collect();
    assert!(!anomalies.is_empty());
    assert_eq!(String::from_utf8(u).unwrap(), anomalies.join("\n") + "\n", "only_anomalies over unix");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["sinks"]["tcp"]["written"], 1789);

    // Nobody listening: refused, naming the sink, the file sink untouched.
    std::fs::write(dir.join("scored.ndjson"), "the last run's output\n").unwrap();
    std::fs::remove_file(&sock).unwrap();
    let out = common::logsieve_in(&dir, &["run", "p.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sink tcp: connecting to tcp 127.0.0.1:"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("scored.ndjson")).unwrap(), "the last run's output\n");

    // A socket sink missing its address, or with both: refused by name.
    let bad = toml.replace(&format!("address = \"127.0.0.1:{port}\"\n"), "path = \"x.sock\"\n");
    std::fs::write(dir.join("bad.toml"), bad).unwrap();
    let out = common::logsieve_in(&dir, &["validate", "bad.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sinks.tcp: mode \"tcp\" takes `address` (host:port) and no `path`"), "{err}");
}
