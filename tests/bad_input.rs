//! The bad-input corpus (`tests/bad-input/`, described by its `cases.toml`)
//! through `logsieve run`: for every case, the run succeeds, the errors
//! output holds exactly the expected (line, reason) records, each with a
//! detail and the file name, every good record reaches the scored output
//! exactly once and in order, and the summary's equations hold.
//!
//! The model is `tests/bad-input/model.toml`, trained here on a slice of
//! the conn-kmeans example's sample (no shared data needed).

mod common;

use common::logsieve_in as logsieve;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    file: String,
    format: String,
    about: String,
    scored: Vec<u64>,
    #[serde(default)]
    anomalous: Vec<u64>,
    errors: Vec<ExpectedError>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedError {
    line: u64,
    reason: String,
    detail: String,
    note: String,
}

fn corpus() -> PathBuf {
    common::repo().join("tests/bad-input")
}

fn manifest() -> Manifest {
    let p = corpus().join("cases.toml");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The corpus model, trained once per test process.
fn model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = common::tempdir("bad-input-model");
        let input = common::repo().join("pipeline-examples/conn-kmeans/sample/train/conn.00:00:00-01:00:00.log.gz");
        let out = logsieve(
            &dir,
            &[
                "train",
                "--spec",
                corpus().join("model.toml").to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--out",
                "model.msgpack",
                "--quiet",
            ],
        );
        assert!(out.status.success(), "training the corpus model failed: {}", String::from_utf8_lossy(&out.stderr));
        dir.join("model.msgpack")
    })
}

/// The file's bytes, decompressed when it is gzip; a stream cut short gives
/// what decompressed before the cut, and `true`.
fn contents(path: &Path) -> (Vec<u8>, bool) {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
}

/// Complete lines (without `\n`, `\r` kept); a last line without `\n` is
/// kept unless the stream was cut (then it is the lost partial line).
fn split_lines(data: &[u8], cut: bool) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let last = lines.pop().unwrap_or_default();
    if !last.is_empty() && !cut {
        lines.push(last);
    }
    lines
}

/// A line as text: lossy UTF-8, `\r` and a leading byte-order mark removed.
fn text(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned();
    s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s)
}

/// The `uid` of an event text (`"uid":"…"`), without parsing the JSON (some
/// scored events hold numbers serde_json refuses).
fn json_uid(s: &str) -> Option<String> {
    let i = s.find("\"uid\":\"")? + 7;
    Some(s[i..i + s[i..].find('"')?].to_string())
}

/// The uid of an input line: the `uid` column of a Zeek row (by the
/// `#fields` header seen so far), else the `uid` key of a JSON line.
fn line_uid(line: &str, uid_col: Option<usize>) -> Option<String> {
    if line.starts_with('{') {
        return json_uid(line);
    }
    let cols: Vec<&str> = line.split('\t').collect();
    uid_col.and_then(|i| cols.get(i)).filter(|_| cols.len() > 2).map(|s| s.to_string())
}

/// The `logsieve` object a scored line ends with.
fn verdict(scored: &str) -> Value {
    let i = scored.rfind(",\"logsieve\":{\"cluster\":").unwrap_or_else(|| panic!("no verdict in {}", clip(scored)));
    assert!(scored.ends_with("}}"), "a scored line ends with the verdict: {}", clip(scored));
    serde_json::from_str(&scored[i + 12..scored.len() - 1])
        .unwrap_or_else(|e| panic!("verdict of {}: {e}", clip(scored)))
}

fn clip(s: &str) -> &str {
    let mut end = s.len().min(300);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn read_ndjson(p: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines().map(str::to_string).collect()
}

/// One line of the input and what the manifest says becomes of it.
#[derive(Debug)]
enum Expect<'m> {
    Header,
    Scored,
    Error(&'m ExpectedError),
}

/// Runs one case and returns what is wrong with it (empty: all good).
fn check_case(c: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |msg: String| problems.push(format!("case {} ({}): {msg}", c.name, c.file));
    let input = corpus().join(&c.file);
    let (data, cut) = contents(&input);
    let lines = split_lines(&data, cut);

    // The manifest itself: every line has exactly one outcome, header lines
    // are Zeek `#` lines, scored lines carry a uid, and only a cut stream
    // has an error past the last complete line.
    let mut expect: BTreeMap<u64, Expect> = BTreeMap::new();
    for &n in &c.scored {
        if expect.insert(n, Expect::Scored).is_some() {
            fail(format!("line {n} is listed twice"));
        }
    }
    for e in &c.errors {
        if expect.insert(e.line, Expect::Error(e)).is_some() {
            fail(format!("line {} is listed twice", e.line));
        }
    }
    for a in &c.anomalous {
        if !c.scored.contains(a) {
            fail(format!("anomalous line {a} is not in `scored`"));
        }
    }
    let mut uid_col = None;
    let mut expected_uids = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        let t = text(raw);
        if let Some(fields) = t.strip_prefix("#fields\t") {
            uid_col = fields.split('\t').position(|f| f == "uid");
        }
        let csv_header = c.format == "csv" && n == 1;
        if csv_header {
            uid_col = t.split('\t').position(|f| f == "uid");
        }
        match expect.get(&n) {
            None if t.starts_with('#') || csv_header => {
                expect.insert(n, Expect::Header);
            }
            None => fail(format!("line {n} has no expected outcome in the manifest: {}", clip(&t))),
            Some(Expect::Scored) => match line_uid(&t, uid_col) {
                Some(u) => expected_uids.push(u),
                None => fail(format!("scored line {n} has no uid to find it by")),
            },
            Some(_) => {}
        }
    }
    let n_lines = lines.len() as u64;
    for (&n, e) in &expect {
        let past_end = n > n_lines;
        let cut_error = matches!(e, Expect::Error(x) if x.reason == "truncated_gzip" && n == n_lines + 1 && cut);
        if past_end && !cut_error {
            fail(format!("line {n} is in the manifest but the file has {n_lines} lines"));
        }
    }
    if cut != c.errors.iter().any(|e| e.reason == "truncated_gzip") {
        fail(format!("the stream is {}cut but the manifest says otherwise", if cut { "" } else { "not " }));
    }
    let records = expect.values().filter(|e| !matches!(e, Expect::Header)).count() as u64;

    // The run.
    let dir = common::tempdir(&format!("bad-input-{}", c.name));
    let pipeline = format!(
        "[sources.input]\ntype = \"file\"\npath = {path:?}\nformat = {format:?}\n\n\
         [transforms.t]\ntype = \"logsieve\"\ninputs = [\"input\"]\nmodel = {model:?}\nbatch_size = 4\n\n\
         [sinks.scored]\ntype = \"file\"\ninputs = [\"t\"]\npath = \"scored.ndjson\"\n\n\
         [sinks.errors]\ntype = \"file\"\ninputs = [\"t.errors\"]\npath = \"errors.ndjson\"\n",
        path = input.to_str().unwrap(),
        format = c.format,
        model = model().to_str().unwrap(),
    );
    std::fs::write(dir.join("pipeline.toml"), pipeline).unwrap();
    let out = logsieve(&dir, &["run", "pipeline.toml", "--summary-json", "summary.json", "--quiet"]);
    if !out.status.success() {
        fail(format!("logsieve run exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr)));
        return problems;
    }

    // The errors output: exactly the expected records, in order.
    let errors = read_ndjson(&dir.join("errors.ndjson"));
    // A record of a run of identical reader errors covers `count` lines,
    // from `line` to `last_line`.
    let got: Vec<(u64, String)> = errors
        .iter()
        .flat_map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("error record {l}: {e}"));
            let line = v["line"].as_u64().unwrap_or(0);
            let count = v.get("count").map_or(1, |c| c.as_u64().unwrap_or(0));
            if count > 1 && v["last_line"].as_u64() != Some(line + count - 1) {
                panic!("a run's record {l} does not end at line {}", line + count - 1);
            }
            let reason = v["reason"].as_str().unwrap_or("").to_string();
            (line..line + count).map(move |n| (n, reason.clone()))
        })
        .collect();
    let want: Vec<(u64, String)> = c.errors.iter().map(|e| (e.line, e.reason.clone())).collect();
    if got != want {
        fail(format!("errors output (line, reason) {got:?}, expected {want:?}"));
    }
    for l in &errors {
        let v: Value = serde_json::from_str(l).unwrap();
        let line = v["line"].as_u64().unwrap_or(0);
        let Some(e) = c.errors.iter().find(|e| e.line == line) else { continue };
        let detail = v["detail"].as_str().unwrap_or("");
        if detail.is_empty() || !detail.contains(&e.detail) {
            fail(format!("line {line} ({}): detail {detail:?} lacks {:?}", e.note, e.detail));
        }
        if v["file"].as_str() != input.to_str() {
            fail(format!("line {line}: file {} is not {}", v["file"], input.display()));
        }
        if v["transform"] != "t" {
            fail(format!("line {line}: transform {}", v["transform"]));
        }
        // The record keeps the event: the line as read (capped at 4 KiB), or
        // for a Zeek row the event the reader made of it.
        let event = v["event"].as_str().unwrap_or("");
        if let Some(raw) = lines.get(line as usize - 1) {
            let t = text(raw);
            let same = t.trim().starts_with(event.trim()) && (event.len() >= t.trim().len().min(4000));
            let same_record = line_uid(&t, uid_col).is_some_and(|u| json_uid(event) == Some(u));
            if !same && !same_record {
                fail(format!("line {line}: the record's event {:?} is not the line {:?}", clip(event), clip(&t)));
            }
        }
    }

    // The scored output: every good record exactly once, in input order,
    // each the event it was with a verdict appended.
    let scored = read_ndjson(&dir.join("scored.ndjson"));
    let got_uids: Vec<String> = scored.iter().map(|l| json_uid(l).unwrap_or_default()).collect();
    if got_uids != expected_uids {
        fail(format!("scored uids {got_uids:?}, expected {expected_uids:?}"));
    }
    let is_json_lines = lines.iter().any(|l| text(l).starts_with('{'));
    for (k, (&n, s)) in c.scored.iter().zip(&scored).enumerate() {
        let v = verdict(s);
        if !v["cluster"].is_u64() || !v["distance"].as_f64().is_some_and(f64::is_finite) {
            fail(format!("scored line {k} (input line {n}): verdict {v}"));
        }
        if c.anomalous.contains(&n) && v["anomaly"] != true {
            fail(format!("input line {n} should be anomalous: {v}"));
        }
        if s.contains('\r') || s.contains("\\r") || s.contains('\u{feff}') {
            fail(format!("input line {n}: a CR or BOM reached the scored event: {}", clip(s)));
        }
        if is_json_lines {
            let t = text(lines[n as usize - 1]);
            let head = t.trim().strip_suffix('}').unwrap_or("");
            if !s.starts_with(head) || s.len() < head.len() {
                fail(format!("input line {n}: the scored line is not the event plus a verdict: {}", clip(s)));
            }
        }
    }

    // The summary's equations, and the sinks' files.
    let s: Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let t = &s["transforms"]["t"];
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("summary lacks {k}: {v}"));
    let read = n(&s["sources"]["input"], "read");
    let checks = [
        ("sources.input.read = records in the file", read, records),
        ("read_errors = reader errors", n(&s["sources"]["input"], "read_errors"), reader_errors(c)),
        ("transform in = read", n(t, "in"), read),
        (
            "in = scored + passed + dropped + absorbed + errors - emitted_errors",
            n(t, "in"),
            n(t, "scored") + n(t, "passed") + n(t, "dropped") + n(t, "absorbed") + n(t, "errors")
                - n(t, "emitted_errors"),
        ),
        ("scored = expected", n(t, "scored"), c.scored.len() as u64),
        ("errors = expected", n(t, "errors"), c.errors.len() as u64),
        (
            "passed + dropped + absorbed + emitted = 0",
            n(t, "passed") + n(t, "dropped") + n(t, "absorbed") + n(t, "emitted"),
            0,
        ),
        ("scored sink written = its lines", n(&s["sinks"]["scored"], "written"), scored.len() as u64),
        ("scored sink written = scored", n(&s["sinks"]["scored"], "written"), n(t, "scored")),
        ("errors sink written = its lines", n(&s["sinks"]["errors"], "written"), errors.len() as u64),
        (
            "errors sink written = errors - errors_collapsed",
            n(&s["sinks"]["errors"], "written"),
            n(t, "errors") - n(t, "errors_collapsed"),
        ),
        ("errors_to_stderr = 0", n(&s, "errors_to_stderr"), 0),
    ];
    for (what, got, want) in checks {
        if got != want {
            fail(format!("summary: {what}: {got} != {want}"));
        }
    }
    problems
}

/// How many of a case's errors the readers report (the rest are the
/// component's), by the documented reason codes.
fn reader_errors(c: &Case) -> u64 {
    use logsieve_readers::reason as r;
    const READER: &[&str] = &[
        r::OPEN_FAILED,
        r::READ_FAILED,
        r::TRUNCATED_GZIP,
        r::CORRUPT_GZIP,
        r::INVALID_UTF8,
        r::LINE_TOO_LONG,
        r::EMPTY_LINE,
        r::ZEEK_COLUMN_COUNT,
        r::ZEEK_BAD_VALUE,
        r::ZEEK_NO_HEADER,
        r::ZEEK_BAD_HEADER,
        r::CSV_COLUMN_COUNT,
        r::CSV_UNTERMINATED_QUOTE,
        r::CSV_BAD_DELIMITER,
    ];
    c.errors.iter().filter(|e| READER.contains(&e.reason.as_str())).count() as u64
}

#[test]
fn every_case_of_the_corpus_ends_where_its_manifest_says() {
    let m = manifest();
    let problems: Vec<String> = m.case.iter().flat_map(check_case).collect();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// The corpus holds every case the reliability issue asks for, with good
/// records around each bad one, and stays small in the repository.
#[test]
fn the_corpus_covers_the_required_cases_and_stays_small() {
    let m = manifest();
    let reasons: Vec<&str> = m.case.iter().flat_map(|c| c.errors.iter().map(|e| e.reason.as_str())).collect();
    for want in [
        "invalid_json",
        "not_an_object",
        "wrong_type",
        "non_finite",
        "invalid_utf8",
        "line_too_long",
        "empty_line",
        "zeek_column_count",
        "zeek_bad_value",
        "truncated_gzip",
        "csv_unterminated_quote",
        "duplicate_field",
        "zeek_bad_header",
    ] {
        assert!(reasons.contains(&want), "no case has a {want} error");
    }
    let names: Vec<&str> = m.case.iter().map(|c| c.name.as_str()).collect();
    for want in [
        "invalid-json",
        "not-an-object",
        "wrong-type",
        "non-finite",
        "invalid-utf8",
        "long-lines",
        "empty-lines-ndjson",
        "zeek-empty-line",
        "zeek-truncated",
        "zeek-column-count",
        "zeek-unknown-type",
        "bom-ndjson",
        "zeek-bom",
        "crlf-ndjson",
        "zeek-crlf",
        "truncated-gzip",
        "csv-stray-quote",
        "duplicate-keys",
        "zeek-repeated-field",
    ] {
        assert!(names.contains(&want), "the corpus lacks the case {want}");
    }
    let mut total = 0;
    for c in &m.case {
        assert!(!c.about.is_empty(), "{}: say what the case is about", c.name);
        let first_bad = c.errors.iter().map(|e| e.line).min();
        let last_bad = c.errors.iter().map(|e| e.line).max();
        if let (Some(first), Some(last)) = (first_bad, last_bad) {
            // Good records before and after the bad ones, except in the
            // cases whose bad lines are where the file starts (no header
            // yet) or ends (an empty last line, a cut file).
            let (at_start, at_end) = (["zeek-no-header"], ["empty-lines-ndjson", "zeek-truncated", "truncated-gzip"]);
            assert!(
                at_start.contains(&c.name.as_str()) || c.scored.iter().any(|&n| n < first),
                "{}: no good record before the bad ones",
                c.name
            );
            assert!(
                at_end.contains(&c.name.as_str()) || c.scored.iter().any(|&n| n > last),
                "{}: no good record after the bad ones",
                c.name
            );
        }
        assert!(!c.scored.is_empty(), "{}: no good record", c.name);
        let p = corpus().join(&c.file);
        total += std::fs::metadata(&p).unwrap().len();
    }
    assert!(total < 200_000, "the corpus takes {total} bytes in the repository");
    // The long-line case holds what it says, compressed: a 10 MiB line
    // (under the reader's 16 MiB limit) and one over the limit.
    let (data, cut) = contents(&corpus().join("long-lines.ndjson.gz"));
    assert!(!cut);
    let lens: Vec<usize> = split_lines(&data, false).iter().map(|l| l.len()).collect();
    assert!(lens.iter().any(|&l| (10 << 20..16 << 20).contains(&l)), "{lens:?}");
    assert!(lens.iter().any(|&l| l > 16 << 20), "{lens:?}");
}

/// Issue #19, item 13: `train` aborted ("should not happen") on one row
/// missing a `missing = "error"` feature, while a row with a wrong type was
/// skipped and reported. Both are skipped and reported now.
#[test]
fn train_skips_and_reports_a_row_missing_a_required_field() {
    let dir = common::tempdir("bad-input-train-missing");
    std::fs::write(
        dir.join("spec.toml"),
        "[model]\nkind = \"kmeans\"\nn_clusters = 2\nn_init = 1\nrandom_state = 0\n\
         [[features]]\nfield = \"a\"\ntype = \"numeric\"\nmissing = \"error\"\n\
         [[features]]\nfield = \"b\"\ntype = \"numeric\"\n",
    )
    .unwrap();
    let mut rows: Vec<String> = (0..20).map(|i| format!("{{\"a\":{i},\"b\":{}}}", i % 3)).collect();
    rows.insert(5, "{\"b\":1}".into()); // a missing
    rows.insert(9, "{\"a\":\"x\",\"b\":1}".into()); // a of the wrong type
    rows.insert(12, "{\"a\":null,\"b\":2}".into()); // a null
    std::fs::write(dir.join("train.ndjson"), rows.join("\n") + "\n").unwrap();
    let out = common::logsieve_in(
        &dir,
        &["train", "--spec", "spec.toml", "--input", "train.ndjson", "--out", "m.msgpack", "--format", "ndjson"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "train failed: {stderr}");
    assert!(stderr.contains("skipped 3 event(s)"), "{stderr}");
    assert!(stderr.contains("missing_field") && stderr.contains("wrong_type"), "{stderr}");
    assert!(stderr.contains("train.ndjson:6:"), "the first missing row is named: {stderr}");
}

fn small_training_set(dir: &Path) {
    std::fs::write(
        dir.join("spec.toml"),
        "[model]\nkind = \"kmeans\"\nn_clusters = 2\nn_init = 1\nrandom_state = 0\n\
         [[features]]\nfield = \"a\"\ntype = \"numeric\"\n",
    )
    .unwrap();
    let rows: Vec<String> = (0..30).map(|i| format!("{{\"a\":{}}}", i * i)).collect();
    std::fs::write(dir.join("train.ndjson"), rows.join("\n") + "\n").unwrap();
}

/// Issue #19, item 17: `--n-clusters 2..100000` on a few rows fitted every
/// k up to the row count before failing. The range is checked against the
/// rows first.
#[test]
fn train_checks_a_k_range_against_the_rows_before_fitting() {
    let dir = common::tempdir("bad-input-train-range");
    small_training_set(&dir);
    let out = common::logsieve_in(
        &dir,
        &["train", "--spec", "spec.toml", "--input", "train.ndjson", "--out", "m.msgpack", "--n-clusters", "2..100000"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--n-clusters 2..100000") && stderr.contains("30 training rows"), "{stderr}");
    assert!(!stderr.contains("k=2"), "nothing was fitted: {stderr}");
    assert!(!dir.join("m.msgpack").exists());
}

/// Issue #19, item 17: `train` killed (or failing on a full disk) while
/// writing left `<out>.tmp<pid>` behind. The next write removes such files
/// of processes that are gone, and keeps those of a live one.
#[test]
fn train_removes_stale_temporary_files_of_its_output() {
    let dir = common::tempdir("bad-input-train-tmp");
    small_training_set(&dir);
    let stale = dir.join("m.tmp999999999"); // above any Linux pid
    let live = dir.join(format!("m.tmp{}", std::process::id()));
    let other = dir.join("other.tmp999999999");
    for p in [&stale, &live, &other] {
        std::fs::write(p, b"half a model").unwrap();
    }
    let out = common::logsieve_in(
        &dir,
        &["train", "--spec", "spec.toml", "--input", "train.ndjson", "--out", "m.msgpack", "--quiet"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("m.msgpack").exists());
    assert!(!stale.exists(), "the stale temporary file is left");
    assert!(live.exists(), "a live process's temporary file was removed");
    assert!(other.exists(), "another output's file was removed");
}

/// Issue #19, item 10: a small gzip of newlines made millions of
/// `empty_line` records. A run of identical reader errors (same reason,
/// detail and text, consecutive lines of one file) is one record with its
/// `count` and `last_line`; the summary still counts every line.
#[test]
fn a_run_of_identical_reader_errors_is_one_record_with_its_count() {
    let dir = common::tempdir("bad-input-error-runs");
    let good = std::fs::read_to_string(corpus().join("empty-line-runs.ndjson")).unwrap();
    let good: Vec<&str> = good.lines().filter(|l| l.starts_with('{')).collect();
    // 200,000 empty lines between two events, across many batches.
    let text = format!("{}\n{}{}\n   \n\n", good[0], "\n".repeat(200_000), good[1]);
    std::fs::write(dir.join("in.ndjson"), &text).unwrap();
    let pipeline = format!(
        "[sources.input]\ntype = \"file\"\npath = \"in.ndjson\"\nformat = \"ndjson\"\n\n\
         [transforms.t]\ntype = \"logsieve\"\ninputs = [\"input\"]\nmodel = {model:?}\nbatch_size = 100\n\n\
         [sinks.scored]\ntype = \"file\"\ninputs = [\"t\"]\npath = \"scored.ndjson\"\n\n\
         [sinks.errors]\ntype = \"file\"\ninputs = [\"t.errors\"]\npath = \"errors.ndjson\"\n",
        model = model().to_str().unwrap(),
    );
    std::fs::write(dir.join("pipeline.toml"), pipeline).unwrap();
    let out = logsieve(&dir, &["run", "pipeline.toml", "--summary-json", "summary.json", "--quiet"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let errors: Vec<Value> =
        read_ndjson(&dir.join("errors.ndjson")).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let runs: Vec<(u64, u64, u64)> = errors
        .iter()
        .map(|v| {
            (
                v["line"].as_u64().unwrap(),
                v.get("count").map_or(1, |c| c.as_u64().unwrap()),
                v["last_line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(runs.len(), 3, "{} error records", errors.len());
    assert_eq!(runs, [(2, 200_000, 200_001), (200_003, 1, 0), (200_004, 1, 0)]);
    assert!(errors.iter().all(|v| v["reason"] == "empty_line"));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let t = &s["transforms"]["t"];
    assert_eq!(
        (t["in"].as_u64(), t["errors"].as_u64(), t["scored"].as_u64()),
        (Some(200_004), Some(200_002), Some(2)),
        "{t}"
    );
}
