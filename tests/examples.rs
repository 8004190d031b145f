//! The scored output of every pipeline example, pinned: each example's
//! models are trained as its README does (reproducibly, see
//! `common::examples`), its pipeline is run, and the SHA-256 of every sink's
//! file must equal the digest in `tests/fixtures/example-outputs.txt`.
//!
//! This is the guard for changes that must not change behaviour (a
//! refactoring of the scorer, the spec types, the readers, the host): any
//! byte of any scored event, verdict, explanation, error record or model id
//! that moves fails here, with the example and the sink named.
//!
//! When a change is *meant* to change an output, run the test with
//! `LOGSIEVE_BLESS=1`: it rewrites the fixture with the new digests (and
//! still fails, so a blessing is always a deliberate second run), and the
//! diff of the fixture shows which outputs moved.
//!
//! Error records name the input file they came from; the example's folder is
//! written as `<example>` before hashing, so the digests do not depend on
//! where the repository is. Training uses the k-means and word2vec kernels
//! of the machine (AVX2+FMA on x86_64); the digests were made with them.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use common::examples;
use sha2::{Digest, Sha256};

const FIXTURE: &str = "tests/fixtures/example-outputs.txt";

/// `example sink lines sha256` for every sink of every example.
fn digests() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for example in examples::EXAMPLES {
        let dir = common::tempdir(&format!("pinned-{example}"));
        let table = examples::run_example_pipeline(example, &dir);
        let folder = examples::folder(example).display().to_string();
        for (id, sink) in table["sinks"].as_table().unwrap() {
            let path = sink["path"].as_str().unwrap();
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{example}: sink {id}: {path}: {e}"));
            let text = text.replace(&folder, "<example>");
            let digest: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            out.insert(format!("{example} {id}"), format!("{} {digest}", text.lines().count()));
        }
    }
    out
}

#[test]
fn every_example_scores_exactly_as_pinned() {
    assert!(
        !cfg!(target_arch = "x86_64")
            || (std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")),
        "the pinned digests were made with the AVX2+FMA training kernels; this x86_64 machine lacks them"
    );
    let got = digests();
    let fixture = common::repo().join(FIXTURE);
    if std::env::var_os("LOGSIEVE_BLESS").is_some() {
        let mut text =
            String::from("# example sink lines sha256 — written by `LOGSIEVE_BLESS=1 cargo test --test examples`\n");
        for (k, v) in &got {
            writeln!(text, "{k} {v}").unwrap();
        }
        std::fs::write(&fixture, text).unwrap();
        panic!("wrote {} with {} digests; run again without LOGSIEVE_BLESS", fixture.display(), got.len());
    }
    let text = std::fs::read_to_string(&fixture)
        .unwrap_or_else(|e| panic!("{}: {e} (write it with LOGSIEVE_BLESS=1)", fixture.display()));
    let want: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(parts.len(), 4, "{FIXTURE}: a line is `example sink lines sha256`: {l}");
            (format!("{} {}", parts[0], parts[1]), format!("{} {}", parts[2], parts[3]))
        })
        .collect();
    let mut problems = Vec::new();
    for (k, w) in &want {
        match got.get(k) {
            Some(g) if g == w => {}
            Some(g) => problems.push(format!("{k}: pinned {w}, got {g}")),
            None => problems.push(format!("{k}: pinned, but the example has no such sink now")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        problems.push(format!("{k}: a sink with no pinned digest"));
    }
    assert!(problems.is_empty(), "the examples' outputs changed:\n  {}", problems.join("\n  "));
}

/// Every sink's text after running `table` (sink id → text).
fn run_outputs(example: &str, dir: &std::path::Path, table: &toml::Table, extra: &[&str]) -> BTreeMap<String, String> {
    examples::run_table(example, dir, table, extra);
    let mut out = BTreeMap::new();
    for (id, sink) in table["sinks"].as_table().unwrap() {
        let path = sink["path"].as_str().unwrap();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{example}: sink {id}: {path}: {e}"));
        out.insert(id.clone(), text);
    }
    out
}

/// Issue #21: several component instances (`threads`) give every example's
/// outputs byte for byte, in the same order, as one instance. Small batches
/// (7 events) put many batches in flight at once; 3 instances are more than
/// this machine's cores, so batches finish out of order. The per-key models
/// (kerberos-per-host's `[aggregate]` windows) stay on one instance.
#[test]
fn every_example_scores_the_same_on_one_and_several_instances() {
    for example in examples::EXAMPLES {
        let dir = common::tempdir(&format!("threads-{example}"));
        let mut table = examples::example_pipeline(example, &dir);
        for t in table["transforms"].as_table_mut().unwrap().iter_mut().map(|(_, v)| v) {
            t.as_table_mut().unwrap().insert("batch_size".into(), 7.into());
        }
        let one = run_outputs(example, &dir, &table, &["--threads", "1"]);
        for threads in ["2", "3"] {
            let many = run_outputs(example, &dir, &table, &["--threads", threads]);
            assert_eq!(one.keys().collect::<Vec<_>>(), many.keys().collect::<Vec<_>>());
            for (id, text) in &one {
                assert!(
                    &many[id] == text,
                    "{example}: sink {id} differs with --threads {threads} ({} lines vs {} with one instance)",
                    many[id].lines().count(),
                    text.lines().count()
                );
            }
        }
        assert!(one.values().any(|t| !t.is_empty()), "{example}: the outputs are not empty");
    }
}
