//! Guest faults: a component that traps, runs past its deadline or exhausts
//! its memory loses that batch only. The batch's events go to the errors
//! output with the reason, the host re-creates the instance and goes on.
//!
//! The faulty component is built here, from `tests/faulty-plugin` (the real
//! scorer plus three markers: `"fault":"trap"`, `"fault":"spin"`,
//! `"fault":"grow"`), for wasm32-unknown-unknown, and encoded as a component
//! with wit-component, as host/build.rs does for the real one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use logsieve::runtime::{GuestFault, Limits, Options, Runtime, fault};

/// The target directory this test binary was built in.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("CARGO_TARGET_TMPDIR is <target>/tmp").to_path_buf()
}

/// Build and encode the faulty component once per test binary.
fn faulty_component() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = target_dir().join("plugin-wasm");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(common::repo())
            .args(["build", "--locked", "-p", "logsieve-faulty-plugin", "--lib"])
            .args(["--target", "wasm32-unknown-unknown", "--profile", "plugin", "--target-dir"])
            .arg(&dir);
        for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"] {
            cmd.env_remove(var);
        }
        let out = cmd.output().expect("running cargo to build the faulty test component");
        assert!(
            out.status.success(),
            "building tests/faulty-plugin for wasm32-unknown-unknown failed (scripts/setup.sh installs the target):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let core = dir.join("wasm32-unknown-unknown/plugin/logsieve_faulty_plugin.wasm");
        let module = std::fs::read(&core).unwrap_or_else(|e| panic!("{}: {e}", core.display()));
        wit_component::ComponentEncoder::default()
            .module(&module)
            .and_then(|e| e.validate(true).encode())
            .expect("encoding the faulty component")
    })
}

/// Real conn events from the example's scoring sample.
fn sample_events(n: usize) -> Vec<String> {
    let p = common::conn_hour("score");
    let events: Vec<String> = logsieve_readers::Reader::open(vec![p], logsieve_readers::Format::Auto)
        .filter_map(|i| i.result.ok())
        .take(n)
        .collect();
    assert_eq!(events.len(), n, "the sample has fewer than {n} events");
    events
}

/// `{"fault":"<kind>",` + the rest of the event.
fn with_fault(event: &str, kind: &str) -> String {
    format!("{{\"fault\":\"{kind}\",{}", &event[1..])
}

fn small_limits() -> Limits {
    Limits { memory_bytes: 64 << 20, call_timeout: std::time::Duration::from_millis(300) }
}

#[test]
fn each_fault_is_named_and_the_instance_is_recreated() {
    let dir = common::tempdir("faults-runtime");
    let model = std::fs::read(common::train_small_conn(&dir)).unwrap();
    let rt = Runtime::new(faulty_component(), None).unwrap();
    let mut inst = rt
        .instantiate_with(model.clone().into(), Options { top_features: 3, emit_vector: false }, small_limits())
        .unwrap()
        .unwrap();
    let good = sample_events(20);
    let reference = inst.score_batch(&good).expect("good events score");
    assert_eq!(reference.outcomes.len(), 20);

    for (kind, reason) in [("trap", fault::TRAP), ("spin", fault::TIMEOUT), ("grow", fault::MEMORY_LIMIT)] {
        let mut batch = good.clone();
        batch[7] = with_fault(&batch[7], kind);
        let before = inst.restarts();
        let err = inst.score_batch(&batch).expect_err("a faulty batch fails");
        let f = err.downcast_ref::<GuestFault>().unwrap_or_else(|| panic!("{kind}: not a guest fault: {err:#}"));
        assert_eq!(f.reason, reason, "{kind}: {f}");
        assert!(!f.detail.is_empty());
        assert_eq!(inst.restarts(), before + 1, "{kind}: the instance was re-created");
        // The new instance scores as the first did.
        let again = inst.score_batch(&good).expect("the re-created instance scores");
        assert_eq!(format!("{again:?}"), format!("{reference:?}"), "{kind}: output after the restart differs");
    }
    assert!(
        small_limits().memory_bytes < Limits::default().memory_bytes,
        "the test's memory limit is below the default, so the default leaves room"
    );
}

#[test]
fn a_pipeline_sends_faulted_batches_to_errors_and_goes_on() {
    let dir = common::tempdir("faults-pipeline");
    common::train_small_conn(&dir);
    let wasm = dir.join("faulty.wasm");
    std::fs::write(&wasm, faulty_component()).unwrap();

    // 12 batches of 25 events; batches 2, 5 and 9 carry one faulty event.
    let batch = 25;
    let mut events = sample_events(12 * batch);
    let faulty = [(2, "trap", fault::TRAP), (5, "spin", fault::TIMEOUT), (9, "grow", fault::MEMORY_LIMIT)];
    for &(b, kind, _) in &faulty {
        let i = b * batch + 3;
        events[i] = with_fault(&events[i], kind);
    }
    std::fs::write(dir.join("events.ndjson"), events.join("\n") + "\n").unwrap();
    let pipeline = format!(
        r#"
[sources.in]
type = "file"
path = "events.ndjson"

[transforms.score]
type = "logsieve"
inputs = ["in"]
model = "conn.model.msgpack"
batch_size = {batch}
batch_timeout_ms = 300
memory_limit_mb = 64

[sinks.scored]
type = "file"
inputs = ["score"]
path = "out/scored.ndjson"

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "out/errors.ndjson"
"#
    );
    std::fs::write(dir.join("p.toml"), pipeline).unwrap();
    let run = |plugin: Option<&Path>, out: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logsieve"));
        cmd.current_dir(&dir).args(["run", "p.toml", "--summary-json", out]);
        cmd.env("LOGSIEVE_CACHE_DIR", dir.join("cache"));
        if let Some(p) = plugin {
            cmd.arg("--plugin").arg(p);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "run failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let stderr = run(Some(&wasm), "summary.json");
    assert_eq!(stderr.matches("failed in the component").count(), 3, "one warning per lost batch:\n{stderr}");

    let read = |p: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join(p)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let errors = read("out/errors.ndjson");
    let scored = read("out/scored.ndjson");
    assert_eq!(errors.len(), 3 * batch, "every event of the three faulty batches is an error");
    assert_eq!(scored.len(), 9 * batch, "every other event is scored");
    for &(b, _, reason) in &faulty {
        for (i, event) in events.iter().enumerate().skip(b * batch).take(batch) {
            let e =
                errors.iter().find(|e| e["line"] == i as u64 + 1).unwrap_or_else(|| panic!("line {} missing", i + 1));
            assert_eq!(e["reason"], reason, "line {}", i + 1);
            assert_eq!(e["event"].as_str().unwrap(), event, "the error record carries the event");
            assert!(e["detail"].as_str().unwrap().contains("batch of 25 events"));
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let t = &summary["transforms"]["score"];
    assert_eq!(t["guest_faults"], 3);
    assert_eq!(t["in"], 12 * batch as u64);
    assert_eq!(t["scored"], 9 * batch as u64);
    assert_eq!(t["errors"], 3 * batch as u64);

    // The batches that did not fault are scored exactly as the real
    // component scores them.
    let good: Vec<String> = (0..events.len())
        .filter(|i| !faulty.iter().any(|&(b, _, _)| i / batch == b))
        .map(|i| events[i].clone())
        .collect();
    std::fs::write(dir.join("events.ndjson"), good.join("\n") + "\n").unwrap();
    run(None, "summary-real.json");
    let real = read("out/scored.ndjson");
    assert_eq!(real, scored, "the faulty component's surviving output equals the real component's");
}

/// Issue #21: with several instances (`threads`), a guest fault mid-stream
/// re-creates only the instance it happened in; the faulted batches' events
/// go to the errors output in their place, and every output is byte for
/// byte, in order, that of one instance.
#[test]
fn several_instances_fault_as_one_byte_for_byte() {
    let dir = common::tempdir("faults-threads");
    common::train_small_conn(&dir);
    let wasm = dir.join("faulty.wasm");
    std::fs::write(&wasm, faulty_component()).unwrap();
    // 30 batches of 10; faults in batches 3, 4 (two in a row), 11 and 20.
    let batch = 10;
    let mut events = sample_events(30 * batch);
    for (b, kind) in [(3, "trap"), (4, "grow"), (11, "spin"), (20, "trap")] {
        let i = b * batch + 5;
        events[i] = with_fault(&events[i], kind);
    }
    std::fs::write(dir.join("events.ndjson"), events.join("\n") + "\n").unwrap();
    std::fs::write(
        dir.join("p.toml"),
        format!(
            r#"
[sources.in]
type = "file"
path = "events.ndjson"

[transforms.score]
type = "logsieve"
inputs = ["in"]
model = "conn.model.msgpack"
batch_size = {batch}
batch_timeout_ms = 300
memory_limit_mb = 64

[sinks.scored]
type = "file"
inputs = ["score"]
path = "out/scored.ndjson"

[sinks.errors]
type = "file"
inputs = ["score.errors"]
path = "out/errors.ndjson"
"#
        ),
    )
    .unwrap();
    let run = |threads: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_logsieve"))
            .current_dir(&dir)
            .args(["run", "p.toml", "--summary-json", "summary.json", "--threads", threads, "--plugin"])
            .arg(&wasm)
            .env("LOGSIEVE_CACHE_DIR", dir.join("cache"))
            .output()
            .unwrap();
        assert!(o.status.success(), "run failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr));
        let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
        (
            read("out/scored.ndjson"),
            read("out/errors.ndjson"),
            common::comparable_counts(&summary["transforms"]["score"]),
        )
    };
    let one = run("1");
    assert_eq!(one.2["guest_faults"], 4, "{}", one.2);
    assert_eq!(one.1.lines().count(), 4 * batch);
    for threads in ["2", "3"] {
        let many = run(threads);
        assert!(many.0 == one.0, "--threads {threads}: the scored output differs from one instance's");
        assert!(many.1 == one.1, "--threads {threads}: the errors output differs from one instance's");
        assert_eq!(many.2, one.2, "--threads {threads}: the counts differ");
    }
}
