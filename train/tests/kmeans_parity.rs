//! Parity of `logsieve_train::kmeans` with scikit-learn on real data.
//!
//! Reference: `shared/reference/kmeans_conn.json`, produced by
//! `shared/reference/make_reference.py` from Zeek conn logs (31,367 rows × 7
//! standardised features in `kmeans_conn.matrix.csv.gz`).
//!
//! `shared/` is `$LOGSIEVE_SHARED`, else `<workspace>/../shared`. These tests
//! fail (never skip) when it is missing.

mod common;

use std::io::Read;

use common::shared_dir;

use logsieve_train::kmeans::{KMeansParams, fit, lloyd_from, predict};
use ndarray::Array2;
use serde_json::Value;

fn reference() -> Value {
    let p = shared_dir().join("kmeans_conn.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {}: {e}", p.display()))
}

fn matrix(n_rows: usize, n_cols: usize) -> Array2<f64> {
    let p = shared_dir().join("kmeans_conn.matrix.csv.gz");
    let f = std::fs::File::open(&p).unwrap_or_else(|e| panic!("cannot open {}: {e}", p.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("cannot decompress {}: {e}", p.display()));
    let mut values = Vec::with_capacity(n_rows * n_cols);
    let mut rows = 0;
    for (i, line) in text.lines().filter(|l| !l.is_empty()).enumerate() {
        let before = values.len();
        values.extend(
            line.split(',').map(|v| v.trim().parse::<f64>().unwrap_or_else(|e| panic!("line {}: {v:?}: {e}", i + 1))),
        );
        assert_eq!(values.len() - before, n_cols, "line {} has the wrong number of fields", i + 1);
        rows += 1;
    }
    assert_eq!(rows, n_rows, "row count differs from the JSON's n_rows");
    Array2::from_shape_vec((n_rows, n_cols), values).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn array2(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().expect("array").iter().map(f64s).collect();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.concat()).unwrap()
}

fn load() -> (Value, Array2<f64>) {
    let r = reference();
    let n = r["n_rows"].as_u64().unwrap() as usize;
    let d = r["columns"].as_array().unwrap().len();
    let x = matrix(n, d);
    // The matrix is the one the JSON describes.
    let first = array2(&r["first_rows_standardized"]);
    for i in 0..first.nrows() {
        for j in 0..d {
            assert_eq!(x[[i, j]], first[[i, j]], "matrix row {i} col {j}");
        }
    }
    (r, x)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[test]
fn lloyd_from_given_init_matches_scikit_learn() {
    let (r, x) = load();
    let l = &r["lloyd_from_given_init"];
    let init = array2(&l["init_centroids"]);
    // The init centroids are the rows the JSON says they are.
    for (j, idx) in l["init_row_indices"].as_array().unwrap().iter().enumerate() {
        assert_eq!(init.row(j), x.row(idx.as_u64().unwrap() as usize));
    }
    let want_centroids = array2(&l["final_centroids"]);
    let want_inertia = l["inertia"].as_f64().unwrap();
    let want_sizes: Vec<u64> = l["cluster_sizes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let want_n_iter = l["n_iter"].as_u64().unwrap() as usize;

    let f = lloyd_from(x.view(), init.view(), 300, 0.0).unwrap();

    let max_rel = f.centroids.iter().zip(want_centroids.iter()).map(|(&a, &b)| rel(a, b)).fold(0.0, f64::max);
    eprintln!(
        "lloyd_from: inertia rel diff {:e}, max centroid rel diff {:e}, n_iter {} (scikit-learn {})",
        rel(f.inertia, want_inertia),
        max_rel,
        f.n_iter,
        want_n_iter
    );
    assert_eq!(f.cluster_sizes, want_sizes, "cluster sizes");
    assert!(
        rel(f.inertia, want_inertia) <= 1e-9,
        "inertia {} vs scikit-learn {} (rel {:e})",
        f.inertia,
        want_inertia,
        rel(f.inertia, want_inertia)
    );
    for j in 0..want_centroids.nrows() {
        for c in 0..want_centroids.ncols() {
            let (got, want) = (f.centroids[[j, c]], want_centroids[[j, c]]);
            assert!(
                rel(got, want) <= 1e-9,
                "centroid {j} column {c}: {got} vs scikit-learn {want} (rel {:e})",
                rel(got, want)
            );
        }
    }
    assert_eq!(f.n_iter, want_n_iter, "n_iter");
    // Distances and labels are consistent with the centroids.
    let from_dist: f64 = f.distances.iter().map(|d| d * d).sum();
    assert!(rel(from_dist, f.inertia) <= 1e-12);
    for (i, row) in x.rows().into_iter().enumerate().step_by(97) {
        let (j, d2) = predict(f.centroids.view(), row.as_slice().unwrap());
        assert_eq!(j, f.labels[i] as usize, "row {i}");
        assert!((d2.sqrt() - f.distances[i]).abs() <= 1e-12 * (1.0 + d2.sqrt()));
    }
}

/// The seed is fixed; with this data several seeds reach the bar (see the
/// crate's report) — this one is not cherry-picked to barely pass.
const RANDOM_STATE: u64 = 0;

#[test]
fn kmeanspp_best_of_10_reaches_scikit_learn_quality() {
    let (r, x) = load();
    let b = &r["best_of_10_kmeanspp"];
    let bar = b["inertia"].as_f64().unwrap();
    let params = KMeansParams::new(7).with_n_init(10).with_random_state(RANDOM_STATE).validate(x.nrows()).unwrap();
    let mut runs_done = 0;
    let f = fit(
        x.view(),
        &params,
        &mut logsieve_train::progress::OnClustering(|p: &logsieve_train::progress::Clustering| {
            runs_done += p.run_done as usize
        }),
    )
    .unwrap();
    assert_eq!(runs_done, 10);
    eprintln!("best of 10 (random_state {RANDOM_STATE}): inertia {} vs scikit-learn {bar}", f.inertia);
    assert!(f.inertia <= bar * 1.001, "best-of-10 inertia {} is worse than scikit-learn's {} × 1.001", f.inertia, bar);
    assert_eq!(f.cluster_sizes.iter().sum::<u64>(), x.nrows() as u64);
}
