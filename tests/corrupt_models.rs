//! Corrupt model files are refused: by the native decoder and by the
//! WebAssembly component alike, with the same error kind and a message that
//! names the problem; and by the CLI before any input is read.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use logsieve::runtime::{self, ModelError, Options, Runtime};
use logsieve_artifact::{
    DecodeError, FORMAT_VERSION, FeatureKind, FeatureSpec, FeatureState, Model, ValidSpec, decode, encode,
    encode_unvalidated,
};

const OPTS: Options = Options { top_features: 3, emit_vector: false };

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::embedded().expect("the embedded component loads"))
}

/// A small real model: the flows-rating example's (k-means over derived
/// fields), trained once here on its committed CTU sample.
fn flows_model() -> Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES
        .get_or_init(|| {
            let ex = common::repo().join("pipeline-examples/flows-rating");
            common::train_files(&ex.join("model.toml"), &[ex.join("sample/normal-7.binetflow.gz")])
        })
        .clone()
}

/// A real flow2vec model: the netflow-flow2vec example's, trained here on
/// its committed sample.
fn flow2vec_model() -> Vec<u8> {
    let ex = common::repo().join("pipeline-examples/netflow-flow2vec");
    common::train_files(&ex.join("model.toml"), &[ex.join("sample/normal-7.binetflow.gz")])
}

fn kind(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Truncated(_) => "truncated",
        DecodeError::Foreign(_) => "foreign",
        DecodeError::UnsupportedVersion { .. } => "unsupported_version",
        DecodeError::Corrupted(_) => "corrupted",
        DecodeError::Invalid(_) => "invalid",
    }
}

/// What the message of each kind starts with (for people, from
/// `runtime::describe`).
fn assert_described(e: &ModelError) {
    let text = runtime::describe(e);
    let (prefix, detail) = match e {
        ModelError::Truncated(d) => ("truncated model file: ", d.as_str()),
        ModelError::Foreign(d) => ("not a logsieve model: ", d.as_str()),
        ModelError::Corrupted(d) => ("corrupted model file: ", d.as_str()),
        ModelError::Invalid(d) => ("invalid model: ", d.as_str()),
        ModelError::UnsupportedVersion(_) => ("model format version ", "-"),
    };
    assert!(text.starts_with(prefix), "{text}");
    assert!(!detail.trim().is_empty(), "no detail: {text}");
}

/// Loads `bytes` natively and in the component; both must refuse them, the
/// same way. Returns the native error.
fn refuse(bytes: &[u8]) -> DecodeError {
    let native = match decode(bytes) {
        Ok(d) => panic!("the native decoder accepted {} bytes of a bad model (id {})", bytes.len(), d.id),
        Err(e) => e,
    };
    let wasm = match rt().instantiate(bytes, OPTS).expect("the component runs") {
        Ok(_) => panic!("the component accepted {} bytes of a bad model that the native decoder refused", bytes.len()),
        Err(e) => e,
    };
    match (&native, &wasm) {
        (DecodeError::Truncated(a), ModelError::Truncated(b))
        | (DecodeError::Foreign(a), ModelError::Foreign(b))
        | (DecodeError::Corrupted(a), ModelError::Corrupted(b))
        | (DecodeError::Invalid(a), ModelError::Invalid(b)) => assert_eq!(a, b, "native and component details differ"),
        (DecodeError::UnsupportedVersion { found, supported }, ModelError::UnsupportedVersion(v)) => {
            assert_eq!((*found, *supported), (v.found, v.supported))
        }
        (n, w) => panic!("native {n:?} but component {w:?}"),
    }
    assert_described(&wasm);
    native
}

#[test]
fn the_sample_model_loads_in_both() {
    let good = flows_model();
    let d = decode(&good).expect("the committed model decodes");
    let mut inst = rt().instantiate(&good, OPTS).unwrap().expect("the component loads it");
    assert_eq!(inst.info().unwrap().id, d.id);
}

#[test]
fn every_truncation_is_refused_as_truncated() {
    let good = flows_model();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for cut in 0..good.len() {
        let e = refuse(&good[..cut]);
        *counts.entry(kind(&e)).or_default() += 1;
        match &e {
            DecodeError::Truncated(d) if cut == 0 => assert_eq!(d, "the file is empty"),
            DecodeError::Truncated(d) => {
                assert!(d.contains(&format!("ends after {cut} bytes")), "cut at {cut}: {d}")
            }
            other => panic!("cut at {cut} of {}: refused as {} ({other}), not as truncated", good.len(), kind(other)),
        }
    }
    eprintln!("{} truncations refused: {counts:?}", good.len());
    assert_eq!(counts.get("truncated"), Some(&good.len()));
}

/// Where the parts of an artifact are: the checksum's 32 bytes and the
/// model's bytes; everything else is the envelope's structure.
struct Layout {
    sha256: std::ops::Range<usize>,
    model: std::ops::Range<usize>,
}

fn layout(bytes: &[u8]) -> Layout {
    let find = |pat: &[u8]| bytes.windows(pat.len()).position(|w| w == pat).expect("an envelope key");
    let sha = find(b"\xa6sha256\xc4\x20") + 9;
    let m = find(b"\xa5model") + 6;
    let (len, head) = match bytes[m] {
        0xc4 => (bytes[m + 1] as usize, 2),
        0xc5 => (u16::from_be_bytes([bytes[m + 1], bytes[m + 2]]) as usize, 3),
        0xc6 => (u32::from_be_bytes(bytes[m + 1..m + 5].try_into().unwrap()) as usize, 5),
        b => panic!("model is not a bin (marker {b:#04x})"),
    };
    assert_eq!(m + head + len, bytes.len(), "the model is the envelope's last entry");
    Layout { sha256: sha..sha + 32, model: m + head..bytes.len() }
}

/// splitmix64: a small seeded generator, so every run flips the same bits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn bit_flips_in_the_checksummed_bytes_are_refused_as_corrupted() {
    let good = flows_model();
    let l = layout(&good);
    let mut rng = Rng(0x05ee_d0ff_11b5);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut single, mut multi) = (0, 0);
    // Flips in the checksum or the model bytes: the checksum catches every
    // one, whatever the model bytes then say (a flip inside a float would
    // still decode and might even validate without it).
    for trial in 0..3000 {
        let mut bad = good.clone();
        let bits = if trial % 3 == 0 { 2 + rng.below(7) } else { 1 };
        let mut flipped = Vec::new();
        for _ in 0..bits {
            let at = if rng.below(8) == 0 {
                l.sha256.start + rng.below(32)
            } else {
                l.model.start + rng.below(l.model.len())
            };
            let bit = rng.below(8);
            bad[at] ^= 1 << bit;
            flipped.push((at, bit));
        }
        if bad == good {
            continue; // the same bit twice
        }
        if bits == 1 {
            single += 1
        } else {
            multi += 1
        }
        let e = refuse(&bad);
        *counts.entry(kind(&e)).or_default() += 1;
        match &e {
            DecodeError::Corrupted(d) => assert!(d.contains("checksum"), "{flipped:?}: {d}"),
            other => panic!("bits {flipped:?} flipped: refused as {} ({other}), not as corrupted", kind(other)),
        }
    }
    eprintln!("{single} single-bit and {multi} multi-bit flips in the checksummed bytes refused: {counts:?}");
    assert_eq!(counts.get("corrupted"), Some(&(single + multi)));
    assert!(single > 1500 && multi > 500);
}

#[test]
fn every_bit_flip_in_the_envelope_is_refused_with_a_message() {
    let good = flows_model();
    let l = layout(&good);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut flips = 0;
    // The envelope's structure: keys, markers, the format name, the version,
    // the length prefix of the model bytes (before and between the
    // checksummed parts).
    let structure: Vec<usize> = (0..l.model.start).filter(|i| !l.sha256.contains(i)).collect();
    for &at in &structure {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[at] ^= 1 << bit;
            flips += 1;
            let e = refuse(&bad);
            *counts.entry(kind(&e)).or_default() += 1;
            match &e {
                // The version is the only thing a flip can turn into a
                // plausible other value: the file then asks for a newer
                // logsieve, with the number found.
                DecodeError::UnsupportedVersion { found, supported } => {
                    assert_eq!(*supported, FORMAT_VERSION);
                    assert!(*found > FORMAT_VERSION && (*found ^ FORMAT_VERSION).is_power_of_two(), "{found}");
                }
                // Damage to a logsieve envelope is reported as such, not as
                // a foreign file: the envelope's keys are still recognisable.
                DecodeError::Foreign(d) => panic!("byte {at} bit {bit}: a damaged envelope called foreign: {d}"),
                DecodeError::Truncated(d) | DecodeError::Corrupted(d) | DecodeError::Invalid(d) => {
                    assert!(!d.is_empty(), "byte {at} bit {bit}")
                }
            }
        }
    }
    eprintln!("{flips} single-bit flips in the {} bytes of envelope structure refused: {counts:?}", structure.len());
    assert_eq!(counts.values().sum::<usize>(), flips);
}

#[test]
fn a_newer_format_version_is_refused_with_both_numbers() {
    let good = flows_model();
    let key = b"\xa7version";
    let at = good.windows(key.len()).position(|w| w == key).expect("a version key") + key.len();
    assert_eq!(good[at], FORMAT_VERSION as u8, "version 1 is a positive fixint");
    // The version as MessagePack writes it: fixint, uint8, uint16, uint32.
    for (version, encoded) in [
        (2u32, vec![2u8]),
        (99, vec![99]),
        (200, vec![0xcc, 200]),
        (70_000, vec![0xce, 0x00, 0x01, 0x11, 0x70]),
        (u32::MAX, vec![0xce, 0xff, 0xff, 0xff, 0xff]),
    ] {
        let mut newer = good[..at].to_vec();
        newer.extend_from_slice(&encoded);
        newer.extend_from_slice(&good[at + 1..]);
        match refuse(&newer) {
            DecodeError::UnsupportedVersion { found, supported } => {
                assert_eq!((found, supported), (version, FORMAT_VERSION))
            }
            e => panic!("version {version}: expected unsupported_version, got {e:?}"),
        }
        let ModelError::UnsupportedVersion(v) = rt().instantiate(&newer, OPTS).unwrap().err().unwrap() else {
            unreachable!("checked by refuse")
        };
        let text = runtime::describe(&ModelError::UnsupportedVersion(v));
        assert!(
            text.contains(&format!("version {version} ")) && text.contains("up to 1") && text.contains("upgrade"),
            "{text}"
        );
    }
    // Version 0 never existed: that is damage, not a future format.
    let mut zero = good.clone();
    zero[at] = 0;
    assert!(matches!(refuse(&zero), DecodeError::Corrupted(d) if d.contains("version 0")));
}

fn model() -> Model {
    decode(&flows_model()).unwrap().model
}

#[test]
fn features_that_do_not_match_the_centroids_are_refused_as_invalid() {
    let base = model();
    let dim = base.dimension().unwrap();
    let k = base.fitted.as_ref().unwrap().clusters.len();
    assert!(k >= 3);

    // One centroid one coordinate too long, another one too short.
    let mut m = base.clone();
    m.fitted.as_mut().unwrap().clusters[2].centroid.push(0.5);
    m.fitted.as_mut().unwrap().clusters[1].centroid.pop();
    assert!(encode(&m).is_err(), "encode validates");
    match refuse(&encode_unvalidated(&m).unwrap()) {
        DecodeError::Invalid(d) => {
            for want in [
                format!("clusters[2].centroid: {} values, but the features encode to a vector of {dim}", dim + 1),
                format!("clusters[1].centroid: {} values, but the features encode to a vector of {dim}", dim - 1),
            ] {
                assert!(d.contains(&want), "no '{want}' in: {d}");
            }
            assert!(!d.contains("clusters[0]"), "{d}");
        }
        e => panic!("expected invalid, got {e:?}"),
    }

    /// The spec with one more numeric feature.
    fn with_feature(spec: &ValidSpec, field: &str) -> ValidSpec {
        let mut s = spec.clone().into_inner();
        s.features.push(FeatureSpec {
            field: field.into(),
            name: None,
            kind: FeatureKind::Numeric,
            log1p: false,
            missing: None,
        });
        s.validate().unwrap()
    }

    // A feature added to the spec and the learned state: every centroid is
    // now one short.
    let mut m = base.clone();
    m.spec = with_feature(&m.spec, "SrcBytes");
    m.fitted.as_mut().unwrap().features.push(FeatureState::Numeric { offset: 0.0, scale: 1.0, fill: 0.0 });
    match refuse(&encode_unvalidated(&m).unwrap()) {
        DecodeError::Invalid(d) => {
            for c in 0..k {
                let want =
                    format!("clusters[{c}].centroid: {dim} values, but the features encode to a vector of {}", dim + 1);
                assert!(d.contains(&want), "no '{want}' in: {d}");
            }
        }
        e => panic!("expected invalid, got {e:?}"),
    }

    // A feature in the spec without learned state.
    let mut m = base.clone();
    m.spec = with_feature(&m.spec, "SrcBytes");
    match refuse(&encode_unvalidated(&m).unwrap()) {
        DecodeError::Invalid(d) => {
            let want = format!("features: {dim} entries, but the spec declares {} features", dim + 1);
            assert!(d.contains(&want), "no '{want}' in: {d}");
        }
        e => panic!("expected invalid, got {e:?}"),
    }
}

// ---------------------------------------------------------------------------
// The CLI.

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn inspect_refuses_a_truncated_or_flipped_file_naming_it() {
    let dir = common::tempdir("corrupt-inspect");
    let good = flows_model();
    let cut = good.len() / 2;
    let truncated = write(&dir, "truncated.msgpack", &good[..cut]);
    let mut flipped_bytes = good.clone();
    let n = flipped_bytes.len();
    flipped_bytes[n - 100] ^= 0x10;
    let flipped = write(&dir, "flipped.msgpack", &flipped_bytes);
    let ok = write(&dir, "good.msgpack", &good);

    let out = common::logsieve_in(&dir, &["inspect".as_ref(), ok.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    for (path, want) in [
        (&truncated, format!("truncated model file: the file ends after {cut} bytes")),
        (&flipped, "corrupted model file: the SHA-256 checksum does not match the model bytes".to_string()),
    ] {
        let out = common::logsieve_in(&dir, &["inspect".as_ref(), path.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: inspect succeeded", path.display());
        assert!(out.stdout.is_empty(), "{}: printed {:?}", path.display(), String::from_utf8_lossy(&out.stdout));
        assert!(stderr.contains(&format!("{}: {want}", path.display())), "{stderr}");
    }
}

#[test]
fn run_refuses_a_corrupt_model_before_reading_any_input() {
    let dir = common::tempdir("corrupt-run");
    let good = flows_model();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 7] ^= 0x01;
    for (name, bytes, want) in [
        ("corrupt.msgpack", bad, "corrupted model file: the SHA-256 checksum does not match the model bytes"),
        ("cut.msgpack", good[..n - 1].to_vec(), "truncated model file: the file ends after"),
    ] {
        let model = write(&dir, name, &bytes);
        // The source does not exist: had the run read its inputs before
        // loading the model, it would have failed on the source instead.
        let pipeline = format!(
            r#"
[sources.flows]
type = "file"
path = "never-read.binetflow"
format = "csv"

[transforms.rate]
type = "logsieve"
inputs = ["flows"]
model = "{name}"

[sinks.scored]
type = "file"
inputs = ["rate"]
path = "out/scored.ndjson"
"#
        );
        let pipeline = write(&dir, "pipeline.toml", pipeline.as_bytes());

        let out = common::logsieve_in(&dir, &["run".as_ref(), pipeline.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: the run succeeded: {stderr}");
        assert!(stderr.contains(&format!("{}: {want}", model.display())), "{name}: {stderr}");
        assert!(stderr.contains("transform rate"), "{name}: the transform is not named: {stderr}");
        assert!(!stderr.contains("never-read"), "{name}: the input was looked at: {stderr}");
        let scored = dir.join("out/scored.ndjson");
        assert!(!scored.exists() || std::fs::read(&scored).unwrap().is_empty(), "{name}: output was written");
    }
}

#[test]
fn an_embedding_whose_size_overflows_32_bits_is_refused_not_a_trap() {
    // 1 token × 2^30 dimensions × 4 bytes is 2^32 bytes: 0 in the
    // component's 32-bit arithmetic, which an empty `vectors` then matched.
    let mut m = decode(&flow2vec_model()).unwrap().model;
    let e = m.fitted.as_mut().unwrap().embedding.as_mut().expect("a flow2vec model");
    let value_bytes = logsieve_artifact::Embedding::value_bytes(e.precision) as u32;
    e.tokens.truncate(1);
    e.counts.truncate(1);
    e.labels.truncate(1);
    e.distances.truncate(1);
    e.dim = (1u32 << 31) / value_bytes * 2;
    e.vectors.clear();
    match refuse(&encode_unvalidated(&m).unwrap()) {
        DecodeError::Invalid(d) => assert!(d.contains("embedding: 0 bytes of vectors"), "{d}"),
        e => panic!("expected invalid, got {e:?}"),
    }
}

/// `logsieve args` in `dir`, killed (and the test failed) if it has not
/// ended after two minutes: a model path that hangs a command must fail
/// the test, not hang it.
fn logsieve_bounded(dir: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut child = common::logsieve_command(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    panic!("logsieve {args:?} still ran after two minutes: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_model_path_that_is_no_regular_file_or_too_big_is_refused_by_every_command() {
    // Issue #19, item 7: a model path that was a FIFO hung the run, one that
    // was /dev/zero (or a symlink to it) was read until memory ran out.
    let dir = common::tempdir("corrupt-not-a-file");
    let fifo = dir.join("fifo.msgpack");
    let _ = std::fs::remove_file(&fifo);
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let zero = dir.join("zero.msgpack");
    let _ = std::fs::remove_file(&zero);
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let folder = dir.join("folder.msgpack");
    std::fs::create_dir_all(&folder).unwrap();
    let huge = dir.join("huge.msgpack");
    std::fs::File::create(&huge).unwrap().set_len((256 << 20) + 1).unwrap(); // sparse
    let scored = write(&dir, "scored.ndjson", b"{\"a\":1}\n");
    for (path, want) in [
        (&fifo, "is a FIFO (named pipe), not a regular file"),
        (&zero, "is a character device, not a regular file"),
        (&folder, "is a directory, not a regular file"),
        (&huge, "is 268435457 bytes, more than the 256 MiB a model file may have"),
    ] {
        let name = path.file_name().unwrap().to_str().unwrap();
        let pipeline = format!(
            "[sources.flows]\ntype = \"file\"\npath = \"never-read.binetflow\"\nformat = \"csv\"\n\n\
             [transforms.rate]\ntype = \"logsieve\"\ninputs = [\"flows\"]\nmodel = \"{name}\"\n\n\
             [sinks.scored]\ntype = \"file\"\ninputs = [\"rate\"]\npath = \"out/scored.ndjson\"\n"
        );
        let pipeline = write(&dir, "pipeline.toml", pipeline.as_bytes());
        let p = path.as_os_str();
        let commands: Vec<Vec<&std::ffi::OsStr>> = vec![
            vec!["inspect".as_ref(), p],
            vec!["run".as_ref(), pipeline.as_os_str()],
            vec![
                "evaluate".as_ref(),
                "--model".as_ref(),
                p,
                "--input".as_ref(),
                scored.as_os_str(),
                "--positive".as_ref(),
                "x".as_ref(),
            ],
            vec![
                "report".as_ref(),
                "--model".as_ref(),
                p,
                "--scored".as_ref(),
                scored.as_os_str(),
                "-o".as_ref(),
                "r.html".as_ref(),
            ],
            vec!["similar".as_ref(), p, "x".as_ref()],
        ];
        for args in commands {
            let out = logsieve_bounded(&dir, &args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} succeeded");
            assert!(stderr.contains(want) && stderr.contains(name), "{args:?}: {stderr}");
        }
    }
}

/// Issue #19, item 17: a model whose centroids are ~1e308 (every squared
/// distance overflows) or whose scale is subnormal (every scaled value is
/// infinite) was accepted and then scored nothing. Both are refused as
/// invalid, by the native decoder and the component alike.
#[test]
fn centroids_too_large_for_a_distance_and_subnormal_scales_are_refused() {
    let base = model();
    let mut m = base.clone();
    m.fitted.as_mut().unwrap().clusters[1].centroid[0] = 1e308;
    match refuse(&encode_unvalidated(&m).unwrap()) {
        DecodeError::Invalid(d) => assert!(d.contains("clusters[1].centroid: coordinate 0 is 1e308"), "{d}"),
        e => panic!("{e:?}"),
    }
    let mut m = base.clone();
    let f = m.fitted.as_mut().unwrap();
    let i = f.features.iter().position(|s| matches!(s, FeatureState::Numeric { .. })).expect("a numeric feature");
    if let FeatureState::Numeric { scale, .. } = &mut f.features[i] {
        *scale = 1e-310;
    }
    assert!(1e-310f64.is_subnormal());
    match refuse(&encode_unvalidated(&m).unwrap()) {
        DecodeError::Invalid(d) => assert!(d.contains(&format!("features[{i}]")) && d.contains("scale 1e-310"), "{d}"),
        e => panic!("{e:?}"),
    }
}
