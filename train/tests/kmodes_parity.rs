//! Parity of `logsieve_train::kmodes` with the Python `kmodes` package.
//!
//! - `shared/reference/kmodes_conn.json`: `KModes(n_clusters=15,
//!   init="Cao", n_init=1, max_iter=100)` on 5,663 real Zeek conn records ×
//!   7 categorical columns (`kmodes_conn.matrix.csv.gz`): the cost, the
//!   number of passes, the modes and the cluster sizes must be the same;
//!   Huang with `n_init=10` must do at least as well as the package's
//!   Huang with `n_init=4`.
//! - `shared/reference/peers/kmodes_Cao_200000_1.json`: Cao on the
//!   200,000 × 6 synthetic set of `shared/bench/gen_data.py` (regenerated
//!   bit for bit by [`logsieve_train::synthetic`]).
//! - `tests/fixtures/kmodes/cases.json` (made by `make_fixtures.py` next to
//!   it with kmodes 0.12.2): small cases for ties, a single-valued column,
//!   fewer distinct rows than clusters, and clusters emptied during the
//!   passes or by the first assignment (numpy's random draws reproduced).
//!
//! `shared/` is `$LOGSIEVE_SHARED`, else `<workspace>/../shared`. These tests
//! fail (never skip) when it is missing.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;

use common::shared_dir;
use logsieve_artifact::Init;
use logsieve_train::kmodes::{Codes, Data, KModesFit, KModesParams, fit};
use serde_json::Value;

fn json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
}

/// String rows encoded as the package does: per column, codes in the sorted
/// order of the distinct values (numpy's `unique`).
struct Encoded {
    codes: Codes,
    vocab: Vec<Vec<String>>,
}

fn encode(rows: &[Vec<String>]) -> Encoded {
    let m = rows[0].len();
    let vocab: Vec<Vec<String>> =
        (0..m).map(|j| rows.iter().map(|r| r[j].clone()).collect::<BTreeSet<_>>().into_iter().collect()).collect();
    let mut codes = Vec::with_capacity(rows.len() * m);
    for r in rows {
        assert_eq!(r.len(), m, "ragged rows");
        for j in 0..m {
            codes.push(vocab[j].binary_search(&r[j]).unwrap() as u32);
        }
    }
    let levels = vocab.iter().map(|v| v.len() as u32).collect();
    Encoded { codes: Codes::new(&codes, rows.len(), levels).unwrap(), vocab }
}

fn run(e: &Encoded, params: &KModesParams) -> KModesFit {
    let d = Data { codes: &e.codes, numeric: &[], p: 0 };
    fit(&d, &params.validate(&d).unwrap(), &mut ()).unwrap()
}

fn decoded_modes(e: &Encoded, f: &KModesFit) -> Vec<Vec<String>> {
    let m = e.vocab.len();
    (0..f.n_clusters).map(|c| (0..m).map(|j| e.vocab[j][f.modes[c * m + j] as usize].clone()).collect()).collect()
}

fn conn_rows() -> Vec<Vec<String>> {
    let p = shared_dir().join("kmodes_conn.matrix.csv.gz");
    let f = std::fs::File::open(&p).unwrap_or_else(|e| panic!("cannot open {}: {e}", p.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(f).read_to_string(&mut text).unwrap();
    // The values hold no commas or quotes (Zeek states, services, histories).
    text.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn sizes(f: &KModesFit) -> Vec<u64> {
    let mut s = vec![0u64; f.n_clusters];
    for &l in &f.labels {
        s[l as usize] += 1;
    }
    s
}

fn strings(v: &Value) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .collect()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect()
}

#[test]
fn cao_reproduces_the_kmodes_package_on_real_conn_records() {
    let r = json(shared_dir().join("kmodes_conn.json"));
    let rows = conn_rows();
    assert_eq!(rows.len() as u64, r["n_rows"].as_u64().unwrap());
    let e = encode(&rows);
    let params = KModesParams { init: Init::Cao, n_init: 1, max_iter: 100, ..KModesParams::new(15) };
    let f = run(&e, &params);
    let cao = &r["cao"];
    assert_eq!(f.cost, cao["cost"].as_f64().unwrap(), "cost");
    assert_eq!(f.n_iter as u64, cao["n_iter"].as_u64().unwrap(), "passes");
    assert_eq!(sizes(&f), u64s(&cao["cluster_sizes"]), "cluster sizes");
    assert_eq!(decoded_modes(&e, &f), strings(&cao["centroids"]), "modes");
    // The distance histogram and the notebook's "> 5 fields differ" count.
    let mut hist = vec![0u64; 8];
    for d in &f.distances {
        hist[*d as usize] += 1;
    }
    assert_eq!(hist, u64s(&cao["distance_histogram"]));
    let over5 = f.distances.iter().filter(|d| **d > 5.0).count() as u64;
    assert_eq!(over5, cao["rows_with_distance_gt_5"].as_u64().unwrap());
}

#[test]
fn huang_with_ten_starts_is_no_worse_than_the_package_with_four() {
    let r = json(shared_dir().join("kmodes_conn.json"));
    let e = encode(&conn_rows());
    let params =
        KModesParams { init: Init::Huang, n_init: 10, max_iter: 100, random_state: 0, ..KModesParams::new(15) };
    let f = run(&e, &params);
    let bar = r["huang_n_init_4"]["cost"].as_f64().unwrap();
    assert!(f.cost <= bar, "Huang n_init=10 cost {} is worse than kmodes' n_init=4 cost {bar}", f.cost);
    // The same seed gives the same model, whatever the thread count.
    let one = run(&e, &KModesParams { threads: 1, ..params.clone() });
    assert_eq!((one.cost, &one.modes, &one.labels), (f.cost, &f.modes, &f.labels));
}

#[test]
fn cao_reproduces_the_kmodes_package_on_the_synthetic_benchmark_set() {
    let r = json(shared_dir().join("peers/kmodes_Cao_200000_1.json"));
    let data = logsieve_train::synthetic::categorical();
    let codes: Vec<u32> = data.x.iter().map(|&v| u32::from(v)).collect();
    // Codes 0..9 are the values themselves (numpy's unique of 0..9).
    let levels: Vec<u32> =
        (0..data.n_cols).map(|j| (0..data.n_rows).map(|i| codes[i * data.n_cols + j]).max().unwrap() + 1).collect();
    assert!(levels.iter().all(|&l| l == 10), "every column uses all 10 levels: {levels:?}");
    let c = Codes::new(&codes, data.n_rows, levels).unwrap();
    let d = Data { codes: &c, numeric: &[], p: 0 };
    let params = KModesParams { init: Init::Cao, n_init: 1, max_iter: 100, ..KModesParams::new(15) };
    let f = fit(&d, &params.validate(&d).unwrap(), &mut ()).unwrap();
    assert_eq!(f.cost, r["cost"].as_f64().unwrap());
    assert_eq!(f.n_iter as u64, r["n_iter"].as_u64().unwrap());
    let costs: Vec<f64> = r["epoch_costs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(f.epoch_costs, costs);
    let mut s = sizes(&f);
    s.sort_unstable();
    assert_eq!(s, u64s(&r["cluster_sizes"]), "cluster sizes (the reference lists them sorted)");
}

/// The small cases of `tests/fixtures/kmodes/cases.json`, made with kmodes
/// 0.12.2 by `make_fixtures.py` next to it: ties, a single-valued column,
/// fewer distinct rows than clusters, clusters emptied during the passes
/// (refilled with numpy's random draws) or by the first assignment.
#[test]
fn small_cases_match_the_kmodes_package_exactly() {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/kmodes/cases.json"));
    let cases = json(p);
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 10, "expected the fixture cases");
    let mut refills = 0;
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let rows = strings(&c["X"]);
        let e = encode(&rows);
        let p = &c["params"];
        let k = p["n_clusters"].as_u64().unwrap() as usize;
        let start = c.get("init_centroids").filter(|v| !v.is_null()).map(|v| {
            strings(v)
                .iter()
                .flat_map(|r| r.iter().enumerate().map(|(j, x)| e.vocab[j].binary_search(x).unwrap() as u32))
                .collect()
        });
        let init = match p["init"].as_str().unwrap() {
            "Cao" | "array" => Init::Cao,
            other => panic!("{name}: init {other}"),
        };
        let params = KModesParams {
            init,
            n_init: p["n_init"].as_u64().unwrap() as usize,
            max_iter: p["max_iter"].as_u64().unwrap() as usize,
            random_state: p["random_state"].as_u64().unwrap(),
            start,
            ..KModesParams::new(k)
        };
        let f = run(&e, &params);
        assert_eq!(f.cost, c["cost"].as_f64().unwrap(), "{name}: cost");
        assert_eq!(f.n_iter as u64, c["n_iter"].as_u64().unwrap(), "{name}: passes");
        let costs: Vec<f64> = c["epoch_costs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(f.epoch_costs, costs, "{name}: cost after each pass");
        let modes = decoded_modes(&e, &f);
        let want = strings(&c["centroids"]);
        if c["labels"].is_null() {
            // Distinct rows as modes: the package lists them in set order.
            let (mut a, mut b) = (modes.clone(), want.clone());
            a.sort();
            b.sort();
            assert_eq!(a, b, "{name}: modes (as a set)");
        } else {
            assert_eq!(modes, want, "{name}: modes");
            assert_eq!(f.labels, u64s(&c["labels"]).into_iter().map(|l| l as u32).collect::<Vec<_>>(), "{name}");
        }
        if c["refilled"].as_bool().unwrap() {
            refills += 1;
        }
    }
    assert!(refills >= 2, "the cases include clusters emptied and refilled");
}
