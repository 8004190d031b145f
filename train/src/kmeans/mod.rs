//! # k-means clustering
//!
//! k-means partitions `n` rows `x_1 … x_n ∈ ℝ^d` into `k` clusters, each
//! represented by a *centroid* `c_j`, so as to minimise the **inertia** (the
//! within-cluster sum of squares)
//!
//! ```text
//!     J(C, labels) = Σ_i ‖x_i − c_{label(i)}‖²
//! ```
//!
//! Minimising `J` exactly is NP-hard, even for `k = 2` (Aloise et al. 2009), so
//! every practical method is a local search. This module implements the
//! combination used by scikit-learn's `KMeans(algorithm="lloyd")` — greedy
//! k-means++ seeding followed by Lloyd iterations, restarted `n_init` times —
//! with the same semantics, so results can be compared with it.
//!
//! In logsieve the rows are per-connection (or per-host) numeric features,
//! usually log-transformed and standardised; a row's distance to its centroid
//! ([`KMeansFit::distances`]) is its anomaly score, and small clusters are
//! themselves suspicious.
//!
//! ## Lloyd's algorithm
//!
//! Lloyd's algorithm (Lloyd 1957/1982; also "the k-means algorithm", after
//! MacQueen 1967, whose variant updates a centroid after every single point)
//! alternates two steps, each of which can only lower `J`:
//!
//! 1. **assignment** — give every row the label of its closest centroid;
//! 2. **update** — move every centroid to the mean of its rows (the mean is the
//!    point minimising the sum of squared distances to a set).
//!
//! Since there are finitely many partitions and `J` never increases, the
//! labels eventually stop changing: a *fixed point* (a local minimum with
//! respect to these two moves). Each iteration costs `O(n·k·d)`. See
//! [`lloyd`] for the exact stopping rules and numerics.
//!
//! ## Seeding: k-means++
//!
//! Lloyd only finds a local minimum near its starting point, so the start
//! matters. **k-means++** (Arthur & Vassilvitskii 2007) picks the first centre
//! uniformly at random and each next one with probability proportional to its
//! squared distance `D(x)²` to the nearest centre already chosen; its expected
//! inertia is within `O(log k)` of the optimum *before any Lloyd iteration*.
//! scikit-learn's **greedy** variant draws `2 + ⌊ln k⌋` candidates per step and
//! keeps the one lowering the potential most (analysed by Grunau et al. 2023);
//! that is what [`kmeans_plusplus`] does (see [`init`]).
//!
//! ## Variants (not implemented here)
//!
//! * **Elkan** (Elkan 2003) and **Hamerly** (Hamerly 2010) give the same result
//!   as Lloyd but skip distance computations using the triangle inequality and
//!   per-point bounds. Tried here on 2026-12-02 (Hamerly, and triangle-inequality
//!   skips in the seeding): on the benchmark's overlapping 8-d blobs most rows
//!   stay near a boundary for the first iterations, the rows left to recompute
//!   are scattered (a cache miss each), and both were slower than the plain
//!   passes, so they are not kept.
//! * **Mini-batch k-means** (Sculley 2010) updates centroids from small random
//!   batches: much faster on huge data, slightly worse inertia, not the same
//!   fixed points.
//! * **k-means‖** (Bahmani et al. 2012) is a parallel/distributed seeding that
//!   oversamples in a few rounds instead of `k` sequential ones.
//! * **k-medoids / k-modes / k-prototypes** replace the mean by a data point,
//!   the mode of categorical attributes, or a mix, for non-Euclidean data.
//!
//! ## Failure modes and what this implementation does about them
//!
//! * **Local minima.** Lloyd converges to a fixed point, not the optimum; two
//!   starts can give very different partitions (e.g. two true clusters merged
//!   and one split in two). Mitigation: `n_init` independent k-means++ starts,
//!   keeping the lowest inertia ([`fit`]). Compare inertias, not labels: the
//!   numbering of clusters is arbitrary. If one start reaches the best
//!   partition with probability `p`, best-of-`n` does with `1 − (1 − p)^n`;
//!   `tests/kmeans_independence.rs` checks that (and that the runs share no
//!   stream and no state), and `bench/ninit_starts.py` measures it against
//!   scikit-learn on a Zeek capture.
//! * **Empty clusters.** A centroid can end up closest to no row (a poor start,
//!   duplicate centres, or outliers pulling a centre away). Its mean is then
//!   undefined. As scikit-learn does, an empty cluster is re-seeded with the row
//!   farthest from its assigned centre (the worst-served row), which is removed
//!   from its old cluster's mean; see [`lloyd`].
//! * **Fewer distinct rows than `k`.** If the data contain fewer than `k`
//!   distinct points, some centroids necessarily coincide and some clusters stay
//!   empty ([`KMeansFit::cluster_sizes`] has zeros); the fit still succeeds
//!   (scikit-learn warns in that case).
//! * **Slow convergence.** Lloyd can need exponentially many iterations in the
//!   worst case (Vattani 2011), though it is fast in practice; `max_iter` caps
//!   it and `tol` stops it once the centroids barely move.
//! * **Scale.** k-means uses Euclidean distance, so a column with a large range
//!   dominates: transform (e.g. `ln(1 + x)`) and standardise features first.
//!   Clusters are implicitly assumed to be convex and of similar spread.
//! * **Non-finite data.** NaN or ±∞ poison every mean they touch; they are
//!   rejected up front with their row and column ([`KMeansError::NonFinite`]).
//! * **Floating-point cancellation.** The assignment compares `‖c‖² − 2x·c`,
//!   which loses digits when `‖x‖` is large compared with the cluster spread;
//!   the data are therefore centred on the column means during the computation
//!   (as scikit-learn does), and inertia and distances are computed directly.
//!
//! ## Determinism
//!
//! Everything is driven by [`rng::Xoshiro256StarStar`](crate::rng) seeded from
//! `random_state`: run `i` of `n_init` uses the generator after `i` jumps, so
//! the same parameters give bit-identical centroids on every platform (the
//! AVX and AVX2 code paths perform the same IEEE operations per row as the
//! portable ones: the assignment's dot products are fused multiply-adds,
//! which `f64::mul_add` rounds once on every target, and no sum is
//! reordered). The
//! numbers differ from scikit-learn's for the same seed (a different
//! generator); started from the same centroids ([`lloyd_from`]), the iterations
//! are the same and the results agree to rounding.
//!
//! ## Cost
//!
//! One Lloyd iteration is `O(n·k·d)`; seeding is `O(n·d·k·log k)` per run. On
//! the 1,000,000 × 8 benchmark rows a pass over the data is bounded by memory
//! (~7.5 ms to read 64 MB on the 2-core VM), so the passes are what is
//! counted: one to check the data and take its means and variances, one per
//! seeding step (all candidates at once), one per Lloyd iteration, one for
//! the final distances. The big per-row buffers sit on huge pages
//! ([`crate::buffer`]) and the passes prefetch the rows ahead.
//! Single-threaded. `cargo bench -p logsieve-train --bench training --
//! kmeans` times a fit, and `bench/compare.sh` compares it with
//! scikit-learn (BENCHMARKS.md).
//!
//! ## Example
//!
//! ```
//! use logsieve_train::kmeans::{fit, predict, KMeansParams};
//! use ndarray::array;
//!
//! let x = array![[0.0, 0.0], [0.1, 0.2], [9.9, 10.0], [10.0, 10.2], [0.2, 0.0]];
//! let params = KMeansParams::new(2).with_random_state(7).validate(x.nrows()).unwrap();
//! let model = fit(x.view(), &params, &mut ()).unwrap();
//! let mut sizes = model.cluster_sizes.clone();
//! sizes.sort();
//! assert_eq!(sizes, vec![2, 3]);
//! let (cluster, sq_dist) = predict(model.centroids.view(), &[10.0, 10.0]);
//! assert_eq!(cluster, model.labels[2] as usize);
//! assert!(sq_dist < 0.1);
//! ```
//!
//! ## References
//!
//! * S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Information
//!   Theory 28(2):129–137, 1982 (Bell Labs memo, 1957).
//! * J. MacQueen, "Some methods for classification and analysis of multivariate
//!   observations", Proc. 5th Berkeley Symposium, 1967.
//! * D. Arthur, S. Vassilvitskii, "k-means++: the advantages of careful
//!   seeding", SODA 2007.
//! * C. Grunau, A. A. Özüdoğru, V. Rozhoň, J. Tětek, "A nearly tight analysis of
//!   greedy k-means++", SODA 2023.
//! * D. Aloise, A. Deshpande, P. Hansen, P. Popat, "NP-hardness of Euclidean
//!   sum-of-squares clustering", Machine Learning 75:245–248, 2009.
//! * A. Vattani, "k-means requires exponentially many iterations even in the
//!   plane", Discrete & Computational Geometry 45:596–616, 2011.
//! * C. Elkan, "Using the triangle inequality to accelerate k-means", ICML 2003.
//! * G. Hamerly, "Making k-means even faster", SDM 2010.
//! * D. Sculley, "Web-scale k-means clustering", WWW 2010.
//! * B. Bahmani et al., "Scalable k-means++", VLDB 2012.
//! * scikit-learn, `sklearn/cluster/_kmeans.py` (`_kmeans_plusplus`,
//!   `_kmeans_single_lloyd`, `_tolerance`) and `_k_means_common.pyx`
//!   (`_relocate_empty_clusters_dense`); user guide section "K-means".
//! * linfa-clustering, module `k_means` (a Rust implementation with the same
//!   structure of parameters / validation / fitting).

/// Evaluates `$body` with `const $D: usize` equal to `$d` when `1 ≤ $d ≤ 16`,
/// else 0 ("run-time width"). Hot loops are written generic over `D` and read
/// the width as `dim::<D>(d)`, so for the usual narrow feature vectors every
/// per-row loop has a compile-time trip count and is unrolled/vectorised.
macro_rules! with_dim {
    ($d:expr, $D:ident => $body:expr) => {
        match $d {
            1 => {
                const $D: usize = 1;
                $body
            }
            2 => {
                const $D: usize = 2;
                $body
            }
            3 => {
                const $D: usize = 3;
                $body
            }
            4 => {
                const $D: usize = 4;
                $body
            }
            5 => {
                const $D: usize = 5;
                $body
            }
            6 => {
                const $D: usize = 6;
                $body
            }
            7 => {
                const $D: usize = 7;
                $body
            }
            8 => {
                const $D: usize = 8;
                $body
            }
            9 => {
                const $D: usize = 9;
                $body
            }
            10 => {
                const $D: usize = 10;
                $body
            }
            11 => {
                const $D: usize = 11;
                $body
            }
            12 => {
                const $D: usize = 12;
                $body
            }
            13 => {
                const $D: usize = 13;
                $body
            }
            14 => {
                const $D: usize = 14;
                $body
            }
            15 => {
                const $D: usize = 15;
                $body
            }
            16 => {
                const $D: usize = 16;
                $body
            }
            _ => {
                const $D: usize = 0;
                $body
            }
        }
    };
}

pub mod error;
pub mod init;
pub mod lloyd;
pub mod params;

pub use error::KMeansError;
pub use init::{kmeans_plusplus, n_local_trials};
pub use lloyd::lloyd_from;
pub use params::{KMeansParams, ValidKMeansParams};

use ndarray::{Array2, ArrayView2, CowArray, Ix2};

use crate::progress::{Clustering, Progress};
use crate::rng::Xoshiro256StarStar;

/// A fitted k-means model.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansFit {
    /// `n_clusters × n_columns` (scikit-learn's `cluster_centers_`).
    pub centroids: Array2<f64>,
    /// Cluster of each row (`labels_`).
    pub labels: Vec<u32>,
    /// Sum of squared distances of the rows to their centroid (`inertia_`).
    pub inertia: f64,
    /// Lloyd iterations of the kept run (`n_iter_`).
    pub n_iter: usize,
    /// Euclidean (not squared) distance of each row to its centroid.
    pub distances: Vec<f64>,
    /// Rows per cluster; can contain zeros when the data have fewer than
    /// `n_clusters` distinct rows.
    pub cluster_sizes: Vec<u64>,
}

/// Fits k-means: `n_init` greedy k-means++ starts, each followed by Lloyd
/// iterations; keeps the run with the lowest inertia (the first one on ties).
///
/// Equivalent to scikit-learn's `KMeans(n_clusters, init="k-means++", n_init,
/// max_iter, tol, algorithm="lloyd").fit(x)` up to the random numbers.
/// `x` may have any memory layout (non-row-major views are copied once).
pub fn fit(
    x: ArrayView2<f64>,
    params: &ValidKMeansParams,
    progress: &mut dyn Progress,
) -> Result<KMeansFit, KMeansError> {
    let data = Data::new(x)?;
    let k = params.n_clusters();
    if k > data.n {
        return Err(KMeansError::TooFewRows { n_clusters: k, n_rows: data.n });
    }
    let d = data.d;
    let n_runs = params.n_init();
    let max_iter = params.max_iter();
    let tol_scaled = params.tol() * data.mean_var;
    let mut stream = Xoshiro256StarStar::seed_from_u64(params.random_state());
    let mut seeding = init::Seeding::new(data.n, k);
    let mut best: Option<lloyd::RunOutput> = None;
    for run in 0..n_runs {
        let mut rng = stream.clone();
        stream.jump();
        let idx = init::plusplus_indices(data.rows(), d, k, &mut rng, &mut seeding);
        let mut centres = Vec::with_capacity(k * d);
        for &i in &idx {
            let r = &data.rows()[i * d..(i + 1) * d];
            centres.extend(r.iter().zip(&data.mean).map(|(v, m)| v - m));
        }
        let best_inertia = best.as_ref().map(|b| b.inertia);
        let out = lloyd::run(&data, centres, k, max_iter, tol_scaled, &mut |iteration, inertia| {
            progress.clustering(&Clustering {
                run,
                n_runs,
                iteration,
                max_iter,
                inertia,
                best_inertia,
                run_done: false,
            })
        });
        let better = best.as_ref().is_none_or(|b| out.inertia < b.inertia);
        progress.clustering(&Clustering {
            run,
            n_runs,
            iteration: out.n_iter,
            max_iter,
            inertia: out.inertia,
            best_inertia: Some(if better { out.inertia } else { best_inertia.unwrap() }),
            run_done: true,
        });
        if better {
            best = Some(out);
        }
    }
    Ok(best.expect("n_init >= 1").into_fit(&data, k))
}

/// The closest centroid to `row` (ties → lowest index) and the squared
/// Euclidean distance to it, `Σ (row − c)²`: the scorer's own rule
/// ([`logsieve_plugin::nearest::euclidean`]), on an ndarray of centroids.
///
/// # Panics
/// If `centroids` has no rows or `row.len() != centroids.ncols()`.
pub fn predict(centroids: ArrayView2<f64>, row: &[f64]) -> (usize, f64) {
    assert!(centroids.nrows() > 0, "predict: no centroids");
    assert_eq!(row.len(), centroids.ncols(), "predict: row length differs from the centroids'");
    match centroids.as_slice() {
        Some(flat) => logsieve_plugin::nearest::euclidean(row, flat),
        None => logsieve_plugin::nearest::euclidean(row, centroids.as_standard_layout().as_slice().expect("standard")),
    }
}

/// The row width: `D` if it is a compile-time width, else the run-time `d`.
#[inline(always)]
pub(crate) fn dim<const D: usize>(d: usize) -> usize {
    if D == 0 { d } else { D }
}

/// `Σ (a − b)²` over the first `dim::<D>(a.len())` values.
#[inline(always)]
pub(crate) fn sq_dist<const D: usize>(a: &[f64], b: &[f64]) -> f64 {
    let d = dim::<D>(a.len());
    let (a, b) = (&a[..d], &b[..d]);
    let mut s = 0.0;
    for f in 0..d {
        let t = a[f] - b[f];
        s += t * t;
    }
    s
}

/// Ask for the cache line holding `s[at]` to be brought into the cache (if
/// `at` is in `s`): the passes over the data prefetch a few KiB ahead, which
/// this VM's memory needs to keep the arithmetic fed (measured: a pass of
/// the assignment kernel went from ~16 to ~12 ms).
#[inline(always)]
pub(crate) fn prefetch(s: &[f64], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = s.get(at) {
        // SAFETY: a prefetch is only a hint; it reads nothing the program
        // sees, and the address is inside `s`.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((p as *const f64).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (s, at);
}

/// Blocks ahead that a pass over the data prefetches: a few KiB.
const AHEAD: usize = 16;

/// Prefetch block `i + AHEAD` of `x` (blocks of `block` rows of `d`
/// values), a cache line at a time, for a pass now at block `i`.
#[inline(always)]
pub(crate) fn prefetch_ahead(x: &[f64], d: usize, i: usize, block: usize) {
    let ahead = (i + AHEAD) * block * d;
    for l in (0..block * d).step_by(8) {
        prefetch(x, ahead + l);
    }
}

/// `Σ ((x − mean) − c)²`: the squared distance of a row to a centre kept in
/// the centred frame.
#[inline(always)]
pub(crate) fn centred_sq_dist<const D: usize>(x: &[f64], mean: &[f64], c: &[f64]) -> f64 {
    let d = dim::<D>(x.len());
    let (x, mean, c) = (&x[..d], &mean[..d], &c[..d]);
    let mut s = 0.0;
    for f in 0..d {
        let t = (x[f] - mean[f]) - c[f];
        s += t * t;
    }
    s
}

/// Rejects the first NaN/±∞ (row-major order) in `a`.
pub(crate) fn check_finite(what: &'static str, a: ArrayView2<f64>) -> Result<(), KMeansError> {
    for (row, r) in a.rows().into_iter().enumerate() {
        for (column, &value) in r.iter().enumerate() {
            if !value.is_finite() {
                return Err(KMeansError::NonFinite { what, row, column, value });
            }
        }
    }
    Ok(())
}

/// Checked, row-major data with its column means and mean column variance.
pub(crate) struct Data<'a> {
    x: CowArray<'a, f64, Ix2>,
    pub n: usize,
    pub d: usize,
    /// Column means; the computation runs on `x − mean`.
    pub mean: Vec<f64>,
    /// Mean over columns of the (ddof = 0) column variance: `tol` is scaled by
    /// this, as scikit-learn's `_tolerance`.
    pub mean_var: f64,
}

impl<'a> Data<'a> {
    /// Check the data (every value finite) and take their column means and
    /// mean variance, in one pass.
    pub(crate) fn new(x: ArrayView2<'a, f64>) -> Result<Self, KMeansError> {
        let (n, d) = x.dim();
        if d == 0 {
            return Err(KMeansError::NoFeatures);
        }
        let x: CowArray<'a, f64, Ix2> =
            if x.is_standard_layout() { x.into() } else { x.as_standard_layout().into_owned().into() };
        let s = x.as_slice().expect("standard layout is contiguous");
        let (mean, var) = with_dim!(d, D => column_mean_var::<D>(s, d)).map_err(|pos| KMeansError::NonFinite {
            what: "data",
            row: pos / d,
            column: pos % d,
            value: s[pos],
        })?;
        let mean_var = var.iter().sum::<f64>() / d as f64;
        Ok(Self { x, n, d, mean, mean_var })
    }

    /// Row-major `n·d` values.
    pub(crate) fn rows(&self) -> &[f64] {
        self.x.as_slice().expect("standard layout is contiguous")
    }
}

/// The mean and (ddof = 0) variance of each column of row-major `s` (`d`
/// columns), or the position of the first value that is not finite. One pass over
/// memory: each chunk of rows (in cache) is read twice, for its mean and
/// then its sum of squared deviations, and chunks are combined as Chan,
/// Golub & LeVeque do, which stays accurate whatever the mean.
fn column_mean_var<const D: usize>(s: &[f64], d: usize) -> Result<(Vec<f64>, Vec<f64>), usize> {
    let d = dim::<D>(d);
    let n = s.len() / d;
    let (mut mean, mut m2) = (vec![0.0; d], vec![0.0; d]);
    let mut seen = 0.0f64;
    const ROWS: usize = 512;
    let (mut cm, mut cs) = (vec![0.0; d], vec![0.0; d]);
    for (ci, chunk) in s.chunks(ROWS * d).enumerate() {
        let rows = (chunk.len() / d) as f64;
        cm.fill(0.0);
        // Branch-free (vectorises); locate only on failure.
        let mut finite = true;
        for r in chunk.chunks_exact(d) {
            for f in 0..d {
                finite &= r[f].is_finite();
                cm[f] += r[f];
            }
        }
        if !finite {
            return Err(ci * ROWS * d + chunk.iter().position(|v| !v.is_finite()).expect("a value is not finite"));
        }
        cm.iter_mut().for_each(|m| *m /= rows);
        cs.fill(0.0);
        for r in chunk.chunks_exact(d) {
            for f in 0..d {
                let t = r[f] - cm[f];
                cs[f] += t * t;
            }
        }
        let total = seen + rows;
        for f in 0..d {
            let delta = cm[f] - mean[f];
            mean[f] += delta * (rows / total);
            m2[f] += cs[f] + delta * delta * (seen * rows / total);
        }
        seen = total;
    }
    let var = m2.iter().map(|v| if n == 0 { 0.0 } else { v / n as f64 }).collect();
    Ok((mean, var))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn blobs(n_per: usize, seed: u64) -> Array2<f64> {
        // Four 3-d Gaussian-ish blobs (sum of uniforms) of different spreads.
        let centres = [[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0], [8.0, -2.0, 4.0]];
        let spreads = [1.0, 0.5, 1.5, 0.8];
        let mut rng = Xoshiro256StarStar::seed_from_u64(seed);
        let mut x = Array2::zeros((4 * n_per, 3));
        for (i, mut r) in x.rows_mut().into_iter().enumerate() {
            let b = i % 4;
            for f in 0..3 {
                let g: f64 = (0..4).map(|_| rng.next_f64()).sum::<f64>() - 2.0;
                r[f] = centres[b][f] + spreads[b] * g;
            }
        }
        x
    }

    /// The transpose of `x` in row-major order: `.t()` of it is `x` in
    /// column-major order.
    fn column_major(x: &Array2<f64>) -> Array2<f64> {
        x.t().as_standard_layout().into_owned()
    }

    fn run(x: &Array2<f64>, params: KMeansParams) -> KMeansFit {
        let p = params.validate(x.nrows()).unwrap();
        fit(x.view(), &p, &mut ()).unwrap()
    }

    fn brute_inertia(x: &Array2<f64>, fit: &KMeansFit) -> f64 {
        x.rows()
            .into_iter()
            .zip(&fit.labels)
            .map(|(r, &l)| sq_dist::<0>(r.as_slice().unwrap(), fit.centroids.row(l as usize).as_slice().unwrap()))
            .sum()
    }

    #[test]
    fn column_variance_is_exact_enough_whatever_the_mean() {
        // 10,000 rows (several chunks), a mean of 1e9 over a spread of 1.
        let n = 10_000;
        let x = Array2::from_shape_fn((n, 2), |(i, f)| if f == 0 { 1e9 + (i % 7) as f64 } else { (i % 3) as f64 });
        let data = Data::new(x.view()).unwrap();
        let want = |f: usize| {
            let col: Vec<f64> = x.column(f).to_vec();
            let m = col.iter().sum::<f64>() / n as f64;
            col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64
        };
        let mean_var = (want(0) + want(1)) / 2.0;
        assert!((data.mean_var - mean_var).abs() <= 1e-9 * mean_var, "{} vs {mean_var}", data.mean_var);
    }

    #[test]
    fn fit_is_consistent() {
        let x = blobs(200, 1);
        let f = run(&x, KMeansParams::new(4).with_random_state(3));
        assert_eq!(f.labels.len(), 800);
        assert_eq!(f.cluster_sizes.iter().sum::<u64>(), 800);
        let mut sizes = f.cluster_sizes.clone();
        sizes.sort();
        assert_eq!(sizes, vec![200, 200, 200, 200]);
        assert!((brute_inertia(&x, &f) - f.inertia).abs() <= 1e-9 * f.inertia);
        let from_dist: f64 = f.distances.iter().map(|d| d * d).sum();
        assert!((from_dist - f.inertia).abs() <= 1e-9 * f.inertia);
        for (r, &l) in x.rows().into_iter().zip(&f.labels) {
            let (j, _) = predict(f.centroids.view(), r.as_slice().unwrap());
            assert_eq!(j, l as usize);
        }
        // Each centroid is the mean of its rows.
        for j in 0..4 {
            let rows: Vec<_> = (0..800).filter(|&i| f.labels[i] as usize == j).collect();
            for c in 0..3 {
                let m = rows.iter().map(|&i| x[[i, c]]).sum::<f64>() / rows.len() as f64;
                assert!((m - f.centroids[[j, c]]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn empty_cluster_is_reseeded_with_the_farthest_row() {
        // Two identical initial centres: every row ties and goes to centre 0,
        // centre 1 is empty. Row 4 (value 20) is farthest from centre 0, so it
        // re-seeds centre 1 and the fit separates it.
        let x = array![[0.0], [1.0], [2.0], [3.0], [20.0]];
        let init = array![[1.0], [1.0]];
        let f = lloyd_from(x.view(), init.view(), 300, 0.0).unwrap();
        assert_eq!(f.labels, vec![0, 0, 0, 0, 1]);
        assert_eq!(f.cluster_sizes, vec![4, 1]);
        assert!((f.centroids[[0, 0]] - 1.5).abs() < 1e-12);
        assert!((f.centroids[[1, 0]] - 20.0).abs() < 1e-12);
        assert!((f.inertia - 5.0).abs() < 1e-12);
        // Iteration 1 re-seeds (row 4 keeps label 0 there); iteration 2 moves
        // row 4's label, so it is not strict convergence, but the centres no
        // longer move and a shift of 0 <= tol_scaled = 0 stops the run, as in
        // scikit-learn. The final re-assignment then fixes the labels.
        assert_eq!(f.n_iter, 2);

        // With a single iteration the moved row keeps its old label until the
        // final re-assignment, and the old cluster's mean excludes it.
        let f1 = lloyd_from(x.view(), init.view(), 1, 0.0).unwrap();
        assert!((f1.centroids[[0, 0]] - 1.5).abs() < 1e-12);
        assert!((f1.centroids[[1, 0]] - 20.0).abs() < 1e-12);
        assert_eq!(f1.labels, vec![0, 0, 0, 0, 1]);
    }

    #[test]
    fn ties_go_to_the_lowest_centre() {
        // Row 1.0 is equidistant from 0 and 2 (exactly, in binary), for either
        // order of the centres.
        let c = array![[0.0], [2.0]];
        assert_eq!(predict(c.view(), &[1.0]), (0, 1.0));
        let c = array![[2.0], [0.0]];
        assert_eq!(predict(c.view(), &[1.0]), (0, 1.0));
        let c = array![[3.0], [3.0], [3.0]];
        assert_eq!(predict(c.view(), &[1.0]).0, 0);
        // In Lloyd: symmetric data, symmetric centres; the middle row joins
        // centre 0 in the first assignment, whichever centre is listed first.
        let x = array![[-1.0], [0.0], [1.0]];
        for init in [array![[-1.0], [1.0]], array![[1.0], [-1.0]]] {
            let f = lloyd_from(x.view(), init.view(), 1, 0.0).unwrap();
            // Centre 0 = mean of its two rows, centre 1 = the other row.
            let got = (f.centroids[[0, 0]], f.centroids[[1, 0]]);
            let want = if init[[0, 0]] < 0.0 { (-0.5, 1.0) } else { (0.5, -1.0) };
            assert_eq!(got, want);
        }
    }

    #[test]
    fn k_equals_n() {
        let x = array![[0.0, 1.0], [3.0, 1.0], [7.0, -2.0], [1.0, 9.0]];
        let f = run(&x, KMeansParams::new(4).with_n_init(3));
        assert_eq!(f.inertia, 0.0);
        assert_eq!(f.cluster_sizes, vec![1, 1, 1, 1]);
        assert!(f.distances.iter().all(|&d| d == 0.0));
        let mut rows: Vec<Vec<f64>> = f.centroids.rows().into_iter().map(|r| r.to_vec()).collect();
        rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut want: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(rows, want);
    }

    #[test]
    fn k_equals_one() {
        let x = blobs(50, 2);
        let f = run(&x, KMeansParams::new(1));
        assert_eq!(f.labels, vec![0; 200]);
        assert_eq!(f.cluster_sizes, vec![200]);
        for c in 0..3 {
            let m = x.column(c).sum() / 200.0;
            assert!((f.centroids[[0, c]] - m).abs() < 1e-12);
        }
        // k = 1 converges strictly in two iterations (labels never change after the first).
        assert_eq!(f.n_iter, 2);
        let tss: f64 = (0..3).map(|c| x.column(c).var(0.0) * 200.0).sum();
        assert!((f.inertia - tss).abs() < 1e-9 * tss);
    }

    #[test]
    fn identical_rows() {
        let x = Array2::from_elem((10, 3), 2.5);
        let f = run(&x, KMeansParams::new(3));
        assert_eq!(f.inertia, 0.0);
        assert_eq!(f.cluster_sizes.iter().sum::<u64>(), 10);
        for v in f.centroids.iter() {
            assert!((v - 2.5).abs() < 1e-12, "{}", f.centroids);
        }
        assert!(f.distances.iter().all(|&d| d < 1e-12));
        // A zero-variance data set has tol_scaled = 0; that must not loop forever.
        assert!(f.n_iter <= 300);
    }

    #[test]
    fn nan_and_inf_are_rejected_with_position() {
        let mut x = blobs(5, 3);
        x[[7, 2]] = f64::NAN;
        x[[9, 0]] = f64::INFINITY;
        let p = KMeansParams::new(2).validate(x.nrows()).unwrap();
        let err = fit(x.view(), &p, &mut ()).unwrap_err();
        assert!(matches!(err, KMeansError::NonFinite { row: 7, column: 2, .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("row 7") && msg.contains("column 2") && msg.contains("NaN"), "{msg}");
        // Same position through a column-major view.
        let xt = column_major(&x);
        let err = fit(xt.t(), &p, &mut ()).unwrap_err();
        assert!(matches!(err, KMeansError::NonFinite { row: 7, column: 2, .. }), "{err:?}");
        // And in explicit initial centres.
        let y = blobs(5, 3);
        let err =
            lloyd_from(y.view(), array![[0.0, 0.0, 0.0], [1.0, f64::NEG_INFINITY, 0.0]].view(), 10, 0.0).unwrap_err();
        assert!(matches!(err, KMeansError::NonFinite { row: 1, column: 1, .. }), "{err:?}");
        assert!(matches!(lloyd_from(y.view(), array![[0.0, 0.0]].view(), 10, 0.0), Err(KMeansError::InitShape { .. })));
    }

    #[test]
    fn determinism_same_seed_same_bits() {
        let x = blobs(300, 4);
        let a = run(&x, KMeansParams::new(6).with_random_state(11));
        let b = run(&x, KMeansParams::new(6).with_random_state(11));
        assert_eq!(a.centroids.as_slice().unwrap(), b.centroids.as_slice().unwrap());
        for (u, v) in a.centroids.iter().zip(b.centroids.iter()) {
            assert_eq!(u.to_bits(), v.to_bits());
        }
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
        // Column-major input gives the same bits too.
        let xt = column_major(&x);
        assert!(!xt.t().is_standard_layout());
        let p = KMeansParams::new(6).with_random_state(11).validate(x.nrows()).unwrap();
        let c = fit(xt.t(), &p, &mut ()).unwrap();
        assert_eq!(a, c);
    }

    #[test]
    fn different_seed_different_seeding() {
        let x = blobs(100, 5);
        let seeds: Vec<Vec<usize>> = (0..4)
            .map(|s| {
                let mut rng = Xoshiro256StarStar::seed_from_u64(s);
                kmeans_plusplus(x.view(), 5, &mut rng).unwrap().1
            })
            .collect();
        for i in 0..seeds.len() {
            for j in i + 1..seeds.len() {
                assert_ne!(seeds[i], seeds[j]);
            }
        }
        // And through fit with n_init = 1 and an early stop, the centroids differ.
        let a = run(&x, KMeansParams::new(5).with_n_init(1).with_max_iter(1).with_random_state(0));
        let b = run(&x, KMeansParams::new(5).with_n_init(1).with_max_iter(1).with_random_state(1));
        assert_ne!(a.centroids, b.centroids);
    }

    #[test]
    fn best_of_n_init_is_no_worse_than_each_run() {
        let x = blobs(100, 6);
        let best = run(&x, KMeansParams::new(7).with_n_init(5).with_random_state(9));
        let p = KMeansParams::new(7).with_n_init(5).with_random_state(9).validate(400).unwrap();
        let mut finals = vec![];
        let mut last_iter = 0;
        fit(
            x.view(),
            &p,
            &mut crate::progress::OnClustering(|pr: &crate::progress::Clustering| {
                assert!(pr.iteration >= 1 && pr.iteration <= pr.max_iter);
                if pr.run_done {
                    finals.push(pr.inertia);
                    assert_eq!(pr.iteration, last_iter);
                    assert!(pr.best_inertia.unwrap() <= pr.inertia);
                } else {
                    last_iter = pr.iteration;
                }
            }),
        )
        .unwrap();
        assert_eq!(finals.len(), 5);
        let min = finals.iter().cloned().fold(f64::INFINITY, f64::min);
        assert_eq!(best.inertia, min);
    }

    #[test]
    fn max_iter_and_tol_stop_early() {
        let x = blobs(200, 7);
        let init = array![[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]];
        let exact = lloyd_from(x.view(), init.view(), 300, 0.0).unwrap();
        let one = lloyd_from(x.view(), init.view(), 1, 0.0).unwrap();
        assert_eq!(one.n_iter, 1);
        assert!(one.inertia >= exact.inertia);
        let loose = lloyd_from(x.view(), init.view(), 300, 1e-1).unwrap();
        assert!(loose.n_iter <= exact.n_iter);
        assert!(loose.inertia >= exact.inertia - 1e-9);
        // Labels are always consistent with the returned centroids.
        for f in [&one, &loose, &exact] {
            for (r, &l) in x.rows().into_iter().zip(&f.labels) {
                assert_eq!(predict(f.centroids.view(), r.as_slice().unwrap()).0, l as usize);
            }
        }
    }
}
