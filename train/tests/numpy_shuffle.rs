//! `numpy_rng::Generator` against numpy itself: the permutations
//! `np.random.default_rng(seed).shuffle(np.arange(n))` made for several
//! seeds (0, 2**40, 2**64 - 1, …) and sizes (0 to 70,000), the raw PCG64
//! outputs, and baseline.py's own call on the indices of a mask — written by
//! `tests/fixtures/numpy-shuffle/make.py` into `cases.json`.

use logsieve_train::numpy_rng::Generator;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixture() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/numpy-shuffle/cases.json");
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {p}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

fn digest(perm: &[u64]) -> String {
    let text = perm.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn shuffles_are_numpys() {
    let f = fixture();
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "the fixture holds {} cases", cases.len());
    for c in cases {
        let (seed, n) = (c["seed"].as_u64().unwrap(), c["n"].as_u64().unwrap() as usize);
        let mut x: Vec<u64> = (0..n as u64).collect();
        Generator::new(seed).shuffle(&mut x);
        if let Some(p) = c.get("permutation") {
            assert_eq!(x, u64s(p), "default_rng({seed}).shuffle(arange({n}))");
        } else {
            assert_eq!(x[..20], u64s(&c["head"])[..], "default_rng({seed}), n {n}: the first 20");
            assert_eq!(x[n - 20..], u64s(&c["tail"])[..], "default_rng({seed}), n {n}: the last 20");
        }
        assert_eq!(digest(&x), c["sha256"].as_str().unwrap(), "default_rng({seed}).shuffle(arange({n}))");
    }
}

#[test]
fn raw_draws_are_numpys() {
    for r in fixture()["raw"].as_array().unwrap() {
        let seed = r["seed"].as_u64().unwrap();
        let mut g = Generator::new(seed);
        let got: Vec<u64> = (0..8).map(|_| g.next_u64()).collect();
        assert_eq!(got, u64s(&r["raw"]), "default_rng({seed}).bit_generator.random_raw(8)");
    }
}

#[test]
fn baselines_call_on_mask_indices_is_numpys() {
    let f = fixture();
    let v = &f["values"];
    let mut x = u64s(&v["input"]);
    Generator::new(v["seed"].as_u64().unwrap()).shuffle(&mut x);
    assert_eq!(x, u64s(&v["shuffled"]));
}
