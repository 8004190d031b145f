//! Training speed on the synthetic sets of `../shared/bench/gen_data.py`
//! (regenerated bit for bit in Rust by `logsieve_train::synthetic`, so no
//! Python is needed):
//!
//!     cargo bench -p logsieve-train --bench training
//!
//! - k-modes, 200,000 × 6 categorical, 10 levels, k=15, Huang, `n_init=4`
//!   (the `kmodes` package: 88 s on these machines,
//!   `shared/reference/peers/kmodes_Huang_200000_4.json`), on all cores and
//!   on one; and Cao, `n_init=1` (the package: 30.6 s).
//!
//! - k-means, 1,000,000 × 8 (`blobs_std4`), k=8, `n_init=1`,
//!   `random_state=0`, one thread (scikit-learn 1.9: 0.52–0.72 s, inertia
//!   126,777,859), with the k-means++ seeding and the Lloyd iterations also
//!   timed on their own.
//!
//! Each fit runs five times; the best and the median wall time are printed
//! with the cost, so a regression in speed or in quality shows.
//!
//! `-- kmeans` or `-- kmodes` runs only that half.

use std::time::Instant;

use logsieve_artifact::Init;
use logsieve_train::kmeans::{self, KMeansParams};
use logsieve_train::kmodes::{Codes, Data, KModesParams, fit};

fn time(name: &str, runs: usize, mut f: impl FnMut() -> (f64, usize)) {
    let mut times = Vec::new();
    let mut result = (0.0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        result = f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{name:<52} best {:>7.3} s   median {:>7.3} s   cost {}  passes {}",
        times[0],
        times[times.len() / 2],
        result.0,
        result.1
    );
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wants = |what: &str| only.is_empty() || only.iter().any(|o| o == what);
    if wants("kmeans") {
        kmeans_bench();
    }
    if wants("kmodes") {
        kmodes_bench();
    }
}

fn kmeans_bench() {
    let t = Instant::now();
    let blobs = logsieve_train::synthetic::blobs();
    let x = ndarray::ArrayView2::from_shape((blobs.n_rows, blobs.n_dims), &blobs.x_std4).unwrap();
    println!("blobs {} × {} regenerated in {:.2} s", blobs.n_rows, blobs.n_dims, t.elapsed().as_secs_f64());
    let params = KMeansParams::new(8).with_n_init(1).with_random_state(0).validate(blobs.n_rows).unwrap();
    let mut n_iter = 0;
    time("k-means k=8 n_init=1, 1 thread (fit)", 5, || {
        let f = kmeans::fit(x, &params, &mut ()).expect("fits");
        n_iter = f.n_iter;
        (f.inertia, f.n_iter)
    });
    let mut rng = logsieve_train::rng::Xoshiro256StarStar::seed_from_u64(0);
    let (init, _) = kmeans::kmeans_plusplus(x, 8, &mut rng).unwrap();
    time("  of which k-means++ seeding", 5, || {
        let mut rng = logsieve_train::rng::Xoshiro256StarStar::seed_from_u64(0);
        let (c, _) = kmeans::kmeans_plusplus(x, 8, &mut rng).unwrap();
        (c[[0, 0]], 0)
    });
    time("  and Lloyd from that seeding", 5, || {
        let f = kmeans::lloyd_from(x, init.view(), 300, 1e-4).unwrap();
        (f.inertia, f.n_iter)
    });
}

fn kmodes_bench() {
    let t = Instant::now();
    let data = logsieve_train::synthetic::categorical();
    let codes: Vec<u32> = data.x.iter().map(|&v| u32::from(v)).collect();
    let c = Codes::new(&codes, data.n_rows, vec![10; data.n_cols]).expect("codes below 10");
    println!(
        "categorical set {} × {} regenerated and packed in {:.2} s; {} cores",
        data.n_rows,
        data.n_cols,
        t.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let d = Data { codes: &c, numeric: &[], p: 0 };
    let huang = KModesParams { init: Init::Huang, n_init: 4, max_iter: 100, random_state: 0, ..KModesParams::new(15) };
    for (name, params) in [
        ("k-modes Huang n_init=4, all cores", huang.clone()),
        ("k-modes Huang n_init=4, 1 thread", KModesParams { threads: 1, ..huang.clone() }),
        ("k-modes Cao n_init=1", KModesParams { init: Init::Cao, n_init: 1, ..huang.clone() }),
    ] {
        let params = params.validate(&d).expect("valid parameters");
        time(name, 5, || {
            let f = fit(&d, &params, &mut ()).expect("fits");
            (f.cost, f.n_iter)
        });
    }
}
