//! Network sources and sinks (issue #23, item 1), with real clients:
//! Python streaming lines into a `socket` source while curl posts NDJSON to
//! an `http_server` source, both at once; the `http` sink posting to a
//! Python server that fails at first; the requests Vector, Fluent Bit and
//! Logstash send, replayed as they send them (docs/vector.md,
//! docs/fluent-bit.md, docs/logstash.md).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A model trained once on one hour of the conn-kmeans sample.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| common::train_small_conn(&common::tempdir("network-model")))
}

/// The sample's scoring hour as NDJSON events, as the readers make them.
fn events() -> &'static [String] {
    static EVENTS: OnceLock<Vec<String>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        logsieve_readers::Reader::open(vec![common::conn_hour("score")], logsieve_readers::Format::Auto)
            .map(|i| i.result.expect("the sample reads cleanly"))
            .collect()
    })
}

fn uid(event: &str) -> String {
    let v: Value = serde_json::from_str(event).unwrap();
    v["uid"].as_str().expect("a uid").to_string()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// A `logsieve run` in progress: its stderr lines as they come.
struct Live {
    child: Child,
    stderr: Receiver<String>,
    seen: Vec<String>,
    dir: PathBuf,
    stopped: bool,
}

impl Live {
    /// Write `pipeline` as `dir/p.toml`, start `logsieve run p.toml
    /// --summary-json s.json`, and wait for its `listening on` lines.
    fn start(dir: &Path, pipeline: &str, listeners: usize) -> Live {
        std::fs::write(dir.join("p.toml"), pipeline).unwrap();
        let mut child = common::logsieve_command(dir)
            .args(["run", "p.toml", "--summary-json", "s.json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut live = Live { child, stderr: rx, seen: Vec::new(), dir: dir.to_path_buf(), stopped: false };
        let t0 = Instant::now();
        while live.seen.iter().filter(|l| l.contains("listening on")).count() < listeners {
            match live.stderr.recv_timeout(Duration::from_secs(1)) {
                Ok(l) => live.seen.push(l),
                Err(_) => {
                    if let Ok(Some(st)) = live.child.try_wait() {
                        panic!("logsieve ended ({st}) before listening:\n{}", live.seen.join("\n"));
                    }
                    assert!(t0.elapsed() < Duration::from_secs(120), "no `listening on` lines: {:?}", live.seen);
                }
            }
        }
        live
    }

    /// Where source `id` listens (`host:port`).
    fn addr(&self, id: &str) -> String {
        let needle = format!("source {id}: listening on ");
        let line = self.seen.iter().find(|l| l.contains(&needle)).unwrap_or_else(|| panic!("{id} in {:?}", self.seen));
        let rest = &line[line.find(&needle).unwrap() + needle.len()..];
        let rest = rest.trim_start_matches("tcp ").trim_start_matches("http://");
        rest.split('/').next().unwrap().to_string()
    }

    /// SIGTERM, then the exit status, all of stderr and the summary.
    fn stop(mut self) -> (std::process::ExitStatus, String, Value) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        self.stopped = true;
        self.seen.extend(self.stderr.try_iter());
        // The reader thread may still be forwarding the last lines.
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        let summary = std::fs::read_to_string(self.dir.join("s.json"))
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or(Value::Null);
        (status, self.seen.join("\n"), summary)
    }
}

impl Drop for Live {
    /// A test that failed does not leave a listening logsieve behind.
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `curl` a request; its status code and body.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "60"])
        .args(args)
        .output()
        .expect("curl (scripts/setup.sh installs it)");
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

fn pipeline_head(sources: &str, inputs: &str) -> String {
    format!(
        r#"{sources}
[transforms.score]
type = "logsieve"
inputs = [{inputs}]
model = "{}"
batch_size = 200
flush_ms = 50

[sinks.scored]
type = "file"
inputs = ["score"]
path = "out/scored.ndjson"

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "out/errors.ndjson"
"#,
        model().display()
    )
}

/// A pipeline scoring the sample's hour from its file into `sinks`.
fn sample_to(sinks: &str) -> String {
    format!(
        "[sources.conn]\ntype = \"file\"\npath = \"{}\"\n\n\
         [transforms.score]\ntype = \"logsieve\"\ninputs = [\"conn\"]\nmodel = \"{}\"\n{sinks}",
        common::conn_hour("score").display(),
        model().display()
    )
}

/// The Python client streaming into the socket source: `events` in pieces
/// of 17 lines, 30 ms apart (the posts go in meanwhile), then the start of
/// a line it never ends, and the connection closed.
const PY_STREAM: &str = r#"
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
data = open(sys.argv[2], "rb").read().splitlines(keepends=True)
s = socket.create_connection((host, int(port)))
for i in range(0, len(data), 17):
    s.sendall(b"".join(data[i:i + 17]))
    time.sleep(0.03)
s.sendall(b'{"uid": "cut-off", "id.orig_h": "10.')
s.close()
"#;

#[test]
fn a_socket_stream_and_http_posts_at_once_are_every_one_accounted() {
    let dir = common::tempdir("network-both");
    let all = events();
    let (by_socket, by_http) = all.split_at(all.len() / 2);
    std::fs::write(dir.join("stream.ndjson"), by_socket.iter().map(|e| format!("{e}\n")).collect::<String>()).unwrap();
    std::fs::write(dir.join("stream.py"), PY_STREAM).unwrap();
    let sources = r#"
[sources.net]
type = "socket"
mode = "tcp"
address = "127.0.0.1:0"
format = "ndjson"

[sources.web]
type = "http_server"
address = "127.0.0.1:0"
path = "/events"
"#;
    let live = Live::start(&dir, &pipeline_head(sources, r#""net", "web""#), 2);
    let (net, web) = (live.addr("net"), live.addr("web"));

    // The stream runs while the posts go in.
    let mut stream = Command::new("python3")
        .current_dir(&dir)
        .args(["stream.py", &net, "stream.ndjson"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    // The stream has begun to arrive before the first post.
    let t0 = Instant::now();
    while lines(&dir.join("out/scored.ndjson")).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(30), "nothing of the stream was scored");
        std::thread::sleep(Duration::from_millis(10));
    }
    let posts: Vec<&[String]> = by_http.chunks(by_http.len().div_ceil(12)).collect();
    for (i, part) in posts.iter().enumerate() {
        let f = dir.join(format!("post-{i}.ndjson"));
        std::fs::write(&f, part.iter().map(|e| format!("{e}\n")).collect::<String>()).unwrap();
        let (code, body) = curl(&[
            "-H",
            "Content-Type: application/x-ndjson",
            "--data-binary",
            &format!("@{}", f.display()),
            &format!("http://{web}/events"),
        ]);
        assert_eq!(code, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["events"], part.len(), "the answer counts the body's events");
        // Answered only once written: the part's events are in the sink.
        let written: std::collections::BTreeSet<String> =
            lines(&dir.join("out/scored.ndjson")).iter().map(|l| uid(l)).collect();
        assert!(part.iter().all(|e| written.contains(&uid(e))), "post {i} was answered before it was written");
    }
    let st = stream.wait().unwrap();
    assert!(st.success(), "the Python client failed");
    // The cut-off line reaches the pipeline before it is stopped.
    let t0 = Instant::now();
    while lines(&dir.join("out/errors.ndjson")).is_empty() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stderr, summary) = live.stop();
    assert!(status.success(), "{stderr}");

    // Every event once, by whichever route it came.
    let scored = lines(&dir.join("out/scored.ndjson"));
    let mut got: Vec<String> = scored.iter().map(|l| uid(l)).collect();
    let mut want: Vec<String> = all.iter().map(|e| uid(e)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "each event scored exactly once");
    // Both at once: the posts' events fall between the stream's.
    let http_uids: std::collections::BTreeSet<String> = by_http.iter().map(|e| uid(e)).collect();
    let at: Vec<usize> =
        scored.iter().enumerate().filter(|(_, l)| http_uids.contains(&uid(l))).map(|(i, _)| i).collect();
    let (first_http, last_http) = (at[0], *at.last().unwrap());
    let socket_between = (first_http..last_http).filter(|i| !http_uids.contains(&uid(&scored[*i]))).count();
    assert!(
        socket_between > 0,
        "the sources were read one after the other, not together: posts' events at {first_http}..={last_http} of {}",
        scored.len()
    );
    // The cut-off line: to errors, as it was read.
    let errors = lines(&dir.join("out/errors.ndjson"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e: Value = serde_json::from_str(&errors[0]).unwrap();
    assert_eq!(e["reason"], "truncated_line");
    assert_eq!(e["event"], r#"{"uid": "cut-off", "id.orig_h": "10."#);
    assert!(e["file"].as_str().unwrap().starts_with("tcp 127.0.0.1:"), "{e}");
    assert_eq!(e["line"], by_socket.len() + 1);
    // The summary accounts for each.
    assert_eq!(summary["sources"]["net"]["read"], by_socket.len() + 1);
    assert_eq!(summary["sources"]["net"]["read_errors"], 1);
    assert_eq!(summary["sources"]["web"]["read"], by_http.len());
    assert_eq!(summary["transforms"]["score"]["in"], all.len() + 1);
    assert_eq!(summary["transforms"]["score"]["scored"], all.len());
    assert_eq!(summary["stopped_by"], "SIGTERM");
}

#[test]
fn http_server_refuses_what_it_cannot_take_and_reads_gzip_and_arrays() {
    let dir = common::tempdir("network-http");
    let sources = r#"
[sources.web]
type = "http_server"
address = "127.0.0.1:0"
max_body_bytes = 200000
"#;
    let live = Live::start(&dir, &pipeline_head(sources, r#""web""#), 1);
    let url = format!("http://{}/", live.addr("web"));
    let ev = events();
    // Refused, nothing read: another path, another method, too large, not
    // an array after all.
    assert_eq!(curl(&["--data-binary", "@/dev/null", &format!("{url}other")]).0, 404);
    assert_eq!(curl(&[&url]).0, 405);
    let big = dir.join("big.ndjson");
    std::fs::write(&big, ev[..1000].iter().map(|e| format!("{e}\n")).collect::<String>()).unwrap();
    assert!(std::fs::metadata(&big).unwrap().len() > 200_000);
    assert_eq!(curl(&["--data-binary", &format!("@{}", big.display()), &url]).0, 413);
    let (code, body) = curl(&["--data-binary", "[{\"uid\": 1},", &url]);
    assert_eq!(code, 400);
    assert!(body.contains("not a JSON array"), "{body}");
    // Taken: a gzip body, and a pretty-printed JSON array.
    let gz = dir.join("part.ndjson.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(ev[..300].iter().map(|e| format!("{e}\n")).collect::<String>().as_bytes()).unwrap();
    enc.finish().unwrap();
    let (code, body) = curl(&["-H", "Content-Encoding: gzip", "--data-binary", &format!("@{}", gz.display()), &url]);
    assert_eq!((code, body.as_str()), (200, r#"{"events":300}"#));
    let array: Vec<Value> = ev[300..310].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let pretty = dir.join("array.json");
    std::fs::write(&pretty, serde_json::to_string_pretty(&array).unwrap()).unwrap();
    let (code, body) =
        curl(&["-H", "Content-Type: application/json", "--data-binary", &format!("@{}", pretty.display()), &url]);
    assert_eq!((code, body.as_str()), (200, r#"{"events":10}"#));
    let (status, stderr, summary) = live.stop();
    assert!(status.success(), "{stderr}");
    assert_eq!(summary["sources"]["web"]["read"], 310);
    // An array element is the event's own text on one line: scored as
    // the same event sent as NDJSON would be.
    let scored = lines(&dir.join("out/scored.ndjson"));
    let got: Vec<Value> = scored.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (g, e) in got[300..].iter().zip(&array) {
        let mut g = g.clone();
        g.as_object_mut().unwrap().remove("logsieve");
        assert_eq!(&g, e);
    }
    assert_eq!(got.len(), 310);
}

/// A Python HTTP server that answers the first `fail` POSTs with 503 and
/// then keeps each body (one file per POST) with its Content-Type.
const PY_COLLECTOR: &str = r#"
import http.server, os, sys
fail = int(sys.argv[1]); out = sys.argv[2]; n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n[0] += 1
        if n[0] <= fail:
            self.send_response(503); self.end_headers(); self.wfile.write(b"busy"); return
        name = os.path.join(out, "%04d" % n[0])
        open(name + ".body", "wb").write(body)
        open(name + ".type", "w").write(self.headers.get("Content-Type", "") + "|" + self.headers.get("Authorization", ""))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

#[test]
fn the_http_sink_posts_batches_and_retries_until_the_collector_takes_them() {
    let dir = common::tempdir("network-http-sink");
    std::fs::create_dir_all(dir.join("got")).unwrap();
    std::fs::write(dir.join("collector.py"), PY_COLLECTOR).unwrap();
    let mut collector = Command::new("python3")
        .current_dir(&dir)
        .args(["collector.py", "2", "got"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut port = String::new();
    BufReader::new(collector.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let pipeline = sample_to(&format!(
        r#"
[sinks.scored]
type = "file"
inputs = ["score"]
path = "out/scored.ndjson"

[sinks.collector]
type = "http"
inputs = ["score"]
uri = "http://127.0.0.1:{}/ingest"
encoding.codec = "json"
batch.max_events = 400
request.retry_attempts = 3
request.headers.Authorization = "Bearer ${{LOGSIEVE_T_TOKEN}}"
"#,
        port.trim()
    ));
    std::fs::write(dir.join("p.toml"), pipeline).unwrap();
    let out = common::logsieve_command(&dir)
        .args(["run", "p.toml", "--summary-json", "s.json"])
        .env("LOGSIEVE_T_TOKEN", "s3cret")
        .output()
        .unwrap();
    let _ = collector.kill();
    let _ = collector.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut posts: Vec<PathBuf> = std::fs::read_dir(dir.join("got"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "body"))
        .collect();
    posts.sort();
    // The first two answers were 503: the same batch posted a third time.
    assert_eq!(posts[0].file_stem().unwrap(), "0003");
    let mut got = String::new();
    for p in &posts {
        let body = std::fs::read_to_string(p).unwrap();
        assert!(body.lines().count() <= 400, "a POST of more than batch.max_events");
        assert!(body.ends_with('\n'));
        got += &body;
        let meta = std::fs::read_to_string(p.with_extension("type")).unwrap();
        assert_eq!(meta, "application/x-ndjson|Bearer s3cret");
    }
    let scored = std::fs::read_to_string(dir.join("out/scored.ndjson")).unwrap();
    assert_eq!(got, scored, "the collector got every scored event, in order");
    assert_eq!(posts.len(), scored.lines().count().div_ceil(400));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["sinks"]["collector"]["written"], scored.lines().count());
}

#[test]
fn an_http_sink_that_cannot_deliver_stops_the_run_naming_it_with_the_events_counted() {
    let dir = common::tempdir("network-http-down");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let pipeline = sample_to(&format!(
        r#"
[sinks.collector]
type = "http"
inputs = ["score", "score.errors"]
uri = "http://127.0.0.1:{port}/"
request.retry_attempts = 1
"#
    ));
    std::fs::write(dir.join("p.toml"), pipeline).unwrap();
    let out = common::logsieve_in(&dir, &["run", "p.toml", "--summary-json", "s.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sink collector") && stderr.contains("after 1 retries"), "{stderr}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("s.json")).unwrap()).unwrap();
    let k = &s["sinks"]["collector"];
    assert_eq!(k["written"], 0, "{k}");
    assert!(k["not_written"].as_u64().unwrap() > 0, "{k}");
}

/// What `logsieve validate` says of a pipeline's network keys.
#[test]
fn network_keys_are_checked_before_anything_runs() {
    let dir = common::tempdir("network-validate");
    let pipeline = format!(
        r#"
[sources.a]
type = "socket"
mode = "unix"
address = "127.0.0.1:9"

[sources.b]
type = "http_server"
address = "nowhere"
path = "events"

[transforms.score]
type = "logsieve"
inputs = ["a", "b"]
model = "{}"

[sinks.c]
type = "http"
inputs = ["score"]
uri = "https://collector.example:443/"
batch.max_events = 0
"#,
        model().display()
    );
    std::fs::write(dir.join("p.toml"), pipeline).unwrap();
    let out = common::logsieve_in(&dir, &["validate", "p.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let mut want = BTreeMap::new();
    want.insert("sources.a", "mode \"unix\" takes `path`");
    want.insert("sources.b", "is not a host:port");
    want.insert("sinks.c", "https is not supported");
    for (at, what) in want {
        assert!(stderr.lines().any(|l| l.contains(at) && l.contains(what)), "{at}: {what}\n{stderr}");
    }
    assert!(stderr.contains("path \"events\" must start with `/`"), "{stderr}");
    assert!(stderr.contains("batch.max_events and batch.max_bytes must be at least 1"), "{stderr}");
}

/// The requests each host pipeline's page configures, sent as those tools
/// send them (docs/vector.md, docs/fluent-bit.md, docs/logstash.md; each
/// page's "How this page was checked" names the tool's source it was read
/// from): headers, framing, trailing newline or not, gzip, and the fields
/// each tool adds.
const PY_HOSTS: &str = r#"
import gzip, http.client, json, socket, sys
web_host, web_port = sys.argv[1].rsplit(":", 1)
net_host, net_port = sys.argv[2].rsplit(":", 1)
events = [json.loads(l) for l in open(sys.argv[3])]
groups = [events[i::7] for i in range(7)]
compact = lambda o, **k: json.dumps(o, separators=(",", ":"), **k)
answers = {}

def post(name, body, headers, gz=False):
    if gz:
        body = gzip.compress(body)
        headers = dict(headers, **{"Content-Encoding": "gzip"})
    c = http.client.HTTPConnection(web_host, int(web_port), timeout=60)
    c.request("POST", "/", body=body, headers=headers)
    r = c.getresponse()
    answers[name] = [r.status, json.loads(r.read() or b"null")]
    c.close()

# Vector's http sink, codec json, newline_delimited framing, gzip: sorted
# keys, events joined by \n, the last newline removed.
post("vector_ndjson", "\n".join(compact(e, sort_keys=True) for e in groups[0]).encode(),
     {"Content-Type": "application/x-ndjson", "User-Agent": "Vector/0.57.0", "Accept-Encoding": "identity"}, gz=True)
# Vector's http sink with its default framing for json: one JSON array.
post("vector_array", ("[" + ",".join(compact(e, sort_keys=True) for e in groups[1]) + "]").encode(),
     {"Content-Type": "application/json", "User-Agent": "Vector/0.57.0", "Accept-Encoding": "identity"})
# Fluent Bit's http output, Format json_lines, compress gzip, json_date_key
# left at its default: "date" first, a newline after every record.
post("fluent_bit_date", "".join(compact(dict({"date": 1765098721.123456}, **e)) + "\n" for e in groups[2]).encode(),
     {"Content-Type": "application/x-ndjson", "User-Agent": "Fluent-Bit"}, gz=True)
# ... and with json_date_key false (the page's configuration).
post("fluent_bit", "".join(compact(e) + "\n" for e in groups[3]).encode(),
     {"Content-Type": "application/x-ndjson", "User-Agent": "Fluent-Bit"})
# Logstash's http output, format => json_batch, http_compression => true:
# a JSON array of whole Logstash events.
ls = lambda e: dict(e, **{"@timestamp": "2026-12-07T09:12:01.204Z", "@version": "1",
                          "host": {"name": "sensor-1"}, "log": {"file": {"path": "/opt/zeek/logs/current/conn.log"}}})
post("logstash_batch", compact([ls(e) for e in groups[4]]).encode(), {"Content-Type": "application/json"}, gz=True)
# ... format => json: one event per request, no newline.
for i, e in enumerate(groups[5]):
    post("logstash_one_%d" % i, compact(ls(e)).encode(), {"Content-Type": "application/json"})
# Vector's healthcheck (healthcheck.uri): HEAD.
c = http.client.HTTPConnection(web_host, int(web_port), timeout=60); c.request("HEAD", "/")
answers["head"] = [c.getresponse().status, None]; c.close()
# Vector's socket sink: a newline after every event, and a reconnect.
half = len(groups[6]) // 2
for part in (groups[6][:half], groups[6][half:]):
    s = socket.create_connection((net_host, int(net_port)))
    s.sendall("".join(compact(e, sort_keys=True) + "\n" for e in part).encode())
    s.close()
print(json.dumps(answers))
"#;

#[test]
fn the_requests_vector_fluent_bit_and_logstash_send_are_taken_as_they_come() {
    let dir = common::tempdir("network-hosts");
    let all = events();
    std::fs::write(dir.join("events.ndjson"), all.iter().map(|e| format!("{e}\n")).collect::<String>()).unwrap();
    std::fs::write(dir.join("hosts.py"), PY_HOSTS).unwrap();
    let sources = r#"
[sources.web]
type = "http_server"
address = "127.0.0.1:0"

[sources.net]
type = "socket"
mode = "tcp"
address = "127.0.0.1:0"
"#;
    let live = Live::start(&dir, &pipeline_head(sources, r#""web", "net""#), 2);
    let out = Command::new("python3")
        .current_dir(&dir)
        .args(["hosts.py", &live.addr("web"), &live.addr("net"), "events.ndjson"])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answers: Value = serde_json::from_slice(&out.stdout).unwrap();
    let group = |g: usize| all.iter().skip(g).step_by(7).count();
    for (name, g) in
        [("vector_ndjson", 0), ("vector_array", 1), ("fluent_bit_date", 2), ("fluent_bit", 3), ("logstash_batch", 4)]
    {
        assert_eq!(answers[name], serde_json::json!([200, {"events": group(g)}]), "{name}");
    }
    for i in 0..group(5) {
        assert_eq!(answers[format!("logstash_one_{i}")], serde_json::json!([200, {"events": 1}]));
    }
    assert_eq!(answers["head"][0], 200);
    // The socket's events are in once the connections are read.
    let t0 = Instant::now();
    while lines(&dir.join("out/scored.ndjson")).len() < all.len() && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, stderr, summary) = live.stop();
    assert!(status.success(), "{stderr}");
    assert_eq!(summary["sources"]["web"]["read"], all.len() - group(6));
    assert_eq!(summary["sources"]["net"]["read"], group(6));
    assert_eq!(summary["transforms"]["score"]["scored"], all.len());
    // Every event once; what the tools added rides along untouched.
    let scored: Vec<Value> =
        lines(&dir.join("out/scored.ndjson")).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut got: Vec<String> = scored.iter().map(|v| v["uid"].as_str().unwrap().to_string()).collect();
    let mut want: Vec<String> = all.iter().map(|e| uid(e)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let logstash = scored.iter().filter(|v| v["@version"] == "1").count();
    assert_eq!(logstash, group(4) + group(5));
    assert!(scored.iter().filter(|v| v["@version"] == "1").all(|v| v["host"]["name"] == "sensor-1"));
    assert_eq!(scored.iter().filter(|v| v["date"] == 1765098721.123456).count(), group(2));
}

/// A Unix-socket source: two clients at once, one in Zeek TSV (its header
/// first, as each connection's own input), one in NDJSON; a socket file
/// left by an earlier run is replaced, and removed at the end.
#[test]
fn a_unix_socket_source_reads_each_connection_as_its_own_input() {
    let dir = common::tempdir("network-unix");
    let sock = dir.join("in.sock");
    // What an earlier run that was killed leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let sources = r#"
[sources.local]
type = "socket"
mode = "unix"
path = "in.sock"
format = "auto"
"#;
    let live = Live::start(&dir, &pipeline_head(sources, r#""local""#), 1);
    let tsv = {
        let gz = std::fs::File::open(common::conn_hour("score")).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut text).unwrap();
        text
    };
    let rows = tsv.lines().filter(|l| !l.starts_with('#')).count();
    let ndjson: String = events()[..100].iter().map(|e| format!("{e}\n")).collect();
    let (a, b) = (sock.clone(), sock.clone());
    let t1 = std::thread::spawn(move || {
        let mut s = std::os::unix::net::UnixStream::connect(&a).unwrap();
        s.write_all(tsv.as_bytes()).unwrap();
    });
    let t2 = std::thread::spawn(move || {
        let mut s = std::os::unix::net::UnixStream::connect(&b).unwrap();
        s.write_all(ndjson.as_bytes()).unwrap();
    });
    t1.join().unwrap();
    t2.join().unwrap();
    let t0 = Instant::now();
    while lines(&dir.join("out/scored.ndjson")).len() < rows + 100 && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, stderr, summary) = live.stop();
    assert!(status.success(), "{stderr}");
    assert_eq!(summary["sources"]["local"]["read"], rows + 100, "{stderr}");
    assert_eq!(summary["transforms"]["score"]["scored"], rows + 100);
    assert!(!sock.exists(), "the socket file is removed at the end");
    // The TSV connection's events are those `logsieve run` reads from the file.
    let mut got: Vec<String> = lines(&dir.join("out/scored.ndjson")).iter().map(|l| uid(l)).collect();
    let mut want: Vec<String> = events().iter().map(|e| uid(e)).chain(events()[..100].iter().map(|e| uid(e))).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// `logsieve validate` tries what `run` would open first: a port another
/// process holds, a corrupt checkpoint.
#[test]
fn validate_reports_a_port_in_use_and_a_corrupt_checkpoint() {
    let dir = common::tempdir("network-validate-open");
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("state/zeek.checkpoints.json"), "not json").unwrap();
    let sources = format!(
        r#"
[sources.web]
type = "http_server"
address = "{addr}"

[sources.zeek]
type = "file"
path = "logs/conn.log"
follow = true
data_dir = "state"
"#
    );
    std::fs::write(dir.join("p.toml"), pipeline_head(&sources, r#""web", "zeek""#)).unwrap();
    let out = common::logsieve_in(&dir, &["validate", "p.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("sources.web: cannot listen on {addr}")), "{stderr}");
    assert!(stderr.contains("sources.zeek: its checkpoints") && stderr.contains("zeek.checkpoints.json"), "{stderr}");
    drop(held);
}
