//! Parity with scikit-learn on real logs (`shared/reference/kmeans_conn.json`):
//! the features the component extracts from the raw rita conn logs, the
//! scaler the trainer learns, the matrix the plugin's encoder builds, Lloyd
//! from the reference start, and k-means++ quality.

mod common;

use std::io::Read;

use indicatif::ProgressBar;
use logsieve::commands::train::{extract, load_spec};
use logsieve_artifact::{FeatureState, Fitted, TrainingMeta};
use logsieve_plugin::features::Encoder;
use logsieve_readers::Format;
use logsieve_train::kmeans::{self, KMeansParams};
use logsieve_train::model::{encode_rows, fit_features};
use ndarray::Array2;

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn matrix(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(floats).collect()
}

fn reference_matrix() -> Vec<Vec<f64>> {
    let p = common::shared().join("reference/kmeans_conn.matrix.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_string(&mut text).unwrap();
    text.lines().map(|l| l.split(',').map(|x| x.parse().unwrap()).collect()).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// Features from the raw logs, through the component, then encoded by the
/// plugin's encoder: the matrix the trainer clusters.
fn our_matrix() -> (Array2<f64>, Vec<FeatureState>) {
    let spec = load_spec(&common::conn_spec()).unwrap();
    let paths = logsieve_readers::expand_inputs(&[common::rita_conn("2024-04-19")]).unwrap();
    let ex = extract(&spec, paths, Format::Auto, None, &ProgressBar::hidden()).unwrap();
    assert!(ex.skipped.is_empty(), "no event of the reference day should be skipped: {:?}", ex.examples);
    let states = fit_features(&spec, &ex.rows);
    let fitted = Fitted {
        features: states.clone(),
        clusters: vec![],
        gamma: None,
        embedding: None,
        cblof: None,
        isolation: None,
        training: TrainingMeta::default(),
    };
    let x = encode_rows(&Encoder::new(&spec, &fitted), &ex.rows).unwrap();
    (x, states)
}

#[test]
fn features_scaler_and_kmeans_match_scikit_learn() {
    let r = common::reference("kmeans_conn.json");
    let (x, states) = our_matrix();
    assert_eq!(x.nrows() as u64, r["n_rows"].as_u64().unwrap(), "row count");

    // Scaler: log1p mean and population std per column, to 1e-9.
    let means = floats(&r["log1p_mean"]);
    let stds = floats(&r["log1p_std_ddof0"]);
    for (j, st) in states.iter().enumerate() {
        let FeatureState::Numeric { offset, scale, .. } = st else { panic!("feature {j} should be numeric") };
        assert!(close(*offset, means[j], 1e-9), "column {j}: mean {offset} vs {}", means[j]);
        assert!(close(*scale, stds[j], 1e-9), "column {j}: std {scale} vs {}", stds[j]);
    }

    // The first standardized rows, and then the whole matrix, to 1e-9.
    for (i, row) in matrix(&r["first_rows_standardized"]).iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            assert!(close(x[[i, j]], *v, 1e-9), "row {i} column {j}: {} vs {v}", x[[i, j]]);
        }
    }
    let full = reference_matrix();
    assert_eq!(full.len(), x.nrows());
    let mut worst = 0.0f64;
    for (i, row) in full.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            worst = worst.max((x[[i, j]] - v).abs());
        }
    }
    assert!(worst <= 1e-9, "largest difference from the reference matrix: {worst}");

    // Lloyd from the reference's k-means++ start reaches its centroids and
    // inertia, on the matrix we built ourselves.
    let lloyd = &r["lloyd_from_given_init"];
    let init = matrix(&lloyd["init_centroids"]);
    let init = Array2::from_shape_vec((init.len(), init[0].len()), init.concat()).unwrap();
    let fit = kmeans::lloyd_from(x.view(), init.view(), 300, 0.0).unwrap();
    let want_inertia = lloyd["inertia"].as_f64().unwrap();
    assert!(close(fit.inertia, want_inertia, 1e-9), "inertia {} vs {want_inertia}", fit.inertia);
    for (c, row) in matrix(&lloyd["final_centroids"]).iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let got = fit.centroids[[c, j]];
            assert!((got - v).abs() <= 1e-9 * v.abs().max(1.0), "centroid {c} column {j}: {got} vs {v}");
        }
    }
    let sizes: Vec<u64> = lloyd["cluster_sizes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(fit.cluster_sizes, sizes);

    // k-means++ with n_init = 10 is no worse than scikit-learn's best of 10.
    let params = KMeansParams::new(7).with_n_init(10).with_random_state(0).validate(x.nrows()).unwrap();
    let best = kmeans::fit(x.view(), &params, &mut ()).unwrap();
    let bar = r["best_of_10_kmeanspp"]["inertia"].as_f64().unwrap();
    assert!(best.inertia <= bar * 1.001, "k-means++ n_init=10 inertia {} > {bar} x 1.001", best.inertia);
}
