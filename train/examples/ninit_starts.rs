//! Measures how k-means restarts (`n_init`) behave on a matrix: per seed, the
//! inertia of every run of a fit and of the kept one, and the k-means++
//! starting rows of every run (for issue #18, "independent starts").
//!
//! ```text
//! cargo run --release -p logsieve-train --example ninit_starts -- MATRIX.f64 N_COLS K N_SEEDS [N_INIT]
//! ```
//!
//! `MATRIX.f64` is row-major little-endian f64. Prints one line per seed:
//! `seed <s> best <inertia> runs <inertia of run 0> … idx <rows of run 0>|<rows of run 1>|…`
//! (the run inertias are those the progress reports; `best` is the fit's).

use logsieve_train::kmeans::{KMeansParams, fit, kmeans_plusplus};
use logsieve_train::progress::{Clustering, OnClustering};
use logsieve_train::rng::Xoshiro256StarStar;
use ndarray::Array2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, cols, k, n_seeds] = &args[..4] else { panic!("usage: MATRIX.f64 N_COLS K N_SEEDS [N_INIT]") };
    let (d, k, n_seeds): (usize, usize, u64) = (cols.parse().unwrap(), k.parse().unwrap(), n_seeds.parse().unwrap());
    let n_init: usize = args.get(4).map_or(10, |v| v.parse().unwrap());
    let bytes = std::fs::read(path).expect(path);
    let flat: Vec<f64> = bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
    let x = Array2::from_shape_vec((flat.len() / d, d), flat).unwrap();
    for seed in 0..n_seeds {
        let params = KMeansParams::new(k).with_n_init(n_init).with_random_state(seed).validate(x.nrows()).unwrap();
        let mut runs = vec![];
        let f = fit(
            x.view(),
            &params,
            &mut OnClustering(|p: &Clustering| {
                if p.run_done {
                    runs.push(p.inertia)
                }
            }),
        )
        .unwrap();
        // The starting rows, from the same streams as fit's runs.
        let mut stream = Xoshiro256StarStar::seed_from_u64(seed);
        let mut idx = vec![];
        for _ in 0..n_init {
            let mut rng = stream.clone();
            stream.jump();
            let (_, i) = kmeans_plusplus(x.view(), k, &mut rng).unwrap();
            idx.push(i.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","));
        }
        let runs: Vec<String> = runs.iter().map(|v| format!("{v:.17e}")).collect();
        println!("seed {seed} best {:.17e} runs {} idx {}", f.inertia, runs.join(" "), idx.join("|"));
    }
}
