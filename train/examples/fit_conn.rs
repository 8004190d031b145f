//! Times k-means on the shared reference matrix (31,367 × 7 Zeek conn features).
//!
//! ```text
//! cargo run --release -p logsieve-train --example fit_conn -- [n_init] [first_seed] [n_seeds] [repeat_rows]
//! ```
//!
//! `repeat_rows` stacks the matrix on itself that many times (to time larger
//! inputs). Prints, per seed, the best inertia and the wall time of the fit.

use std::io::Read;
use std::time::Instant;

use logsieve_train::kmeans::{KMeansParams, fit};
use ndarray::Array2;

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("integer")).collect();
    let n_init = *args.first().unwrap_or(&10) as usize;
    let first_seed = *args.get(1).unwrap_or(&0);
    let n_seeds = *args.get(2).unwrap_or(&1);
    let repeat = (*args.get(3).unwrap_or(&1)).max(1) as usize;

    let shared = std::env::var("LOGSIEVE_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared").to_string());
    let path = format!("{shared}/reference/kmeans_conn.matrix.csv.gz");
    let t = Instant::now();
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect(&path)).read_to_string(&mut text).unwrap();
    let rows: Vec<Vec<f64>> =
        text.lines().filter(|l| !l.is_empty()).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    let (n, d) = (rows.len(), rows[0].len());
    let flat: Vec<f64> = (0..repeat).flat_map(|_| rows.iter().flatten().copied()).collect();
    let x = Array2::from_shape_vec((n * repeat, d), flat).unwrap();
    println!("loaded {} x {} in {:.3?}", x.nrows(), d, t.elapsed());

    for seed in first_seed..first_seed + n_seeds {
        let params = KMeansParams::new(7).with_n_init(n_init).with_random_state(seed).validate(x.nrows()).unwrap();
        let mut iters = Iterations(0);
        let t = Instant::now();
        let f = fit(x.view(), &params, &mut iters).unwrap();
        let iters = iters.0;
        let el = t.elapsed();
        let mut sizes = f.cluster_sizes.clone();
        sizes.sort();
        println!(
            "random_state {seed}: n_init {n_init} inertia {:.6} total_iters {iters} (best run {}) sizes {sizes:?} time {:.3?}",
            f.inertia, f.n_iter, el
        );
    }
}

/// Counts Lloyd iterations over all starts.
struct Iterations(usize);

impl logsieve_train::Progress for Iterations {
    fn clustering(&mut self, p: &logsieve_train::progress::Clustering) {
        self.0 += usize::from(!p.run_done);
    }
}
