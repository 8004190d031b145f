//! k-modes (categorical records) and k-prototypes (mixed records), with the
//! iteration semantics of the Python `kmodes` package (0.12), so results can
//! be compared with it:
//!
//! - categories are codes in the sorted order of their values (numpy's
//!   `unique`), encoded once by the plugin's encoder;
//! - the dissimilarity is the number of differing fields (k-prototypes adds
//!   the squared Euclidean distance of the numeric part, the mismatches
//!   weighted by `gamma`);
//! - init `cao` (deterministic, by density and distance) or `huang` (values
//!   drawn by frequency, each start then moved to the nearest row that is
//!   not already a start);
//! - every row is first assigned to its nearest start, the modes are
//!   computed, then each iteration visits the rows in order and moves a row
//!   as soon as another mode is nearer, updating both clusters' modes at
//!   once (the new cluster's mode changes only when a value overtakes it; a
//!   mode that loses a count is recomputed); ties go to the lowest code and
//!   the lowest cluster index;
//! - a cluster emptied by a move is refilled with a random row of the
//!   largest cluster; iteration stops when no row moves, the cost stops
//!   falling, or after `max_iter` passes;
//! - the random draws are numpy's `RandomState` ([`crate::numpy_rng`]):
//!   per start a seed from `randint(2^31 - 1)`, as the package does;
//! - Cao starts are deterministic, so (as the package) `n_init` is 1 with
//!   them.
//!
//! Differences, all documented where they happen: Huang's "nearest row"
//! breaks distance ties by row order (the package's `argsort` is not
//! stable, so its pick among equally near rows is arbitrary); when there
//! are no more distinct rows than clusters the distinct rows are the modes
//! in order of first appearance (the package takes them from a Python set);
//! k-prototypes updates the numeric centre of a refilled cluster (the
//! package leaves it stale).
//!
//! The starts run on several threads; each start has its own seed, so the
//! result does not depend on the number of threads.

mod codes;
mod run;

pub use codes::Codes;

use logsieve_artifact::Init;

use crate::numpy_rng::RandomState;
use crate::progress::{Clustering, Progress};

/// The rows to cluster: packed category codes, and for k-prototypes the
/// scaled numeric columns.
pub struct Data<'a> {
    /// n × m category codes.
    pub codes: &'a Codes,
    /// n × p numeric values, row-major (empty for k-modes).
    pub numeric: &'a [f64],
    /// Numeric columns (0 for k-modes).
    pub p: usize,
}

impl Data<'_> {
    fn n(&self) -> usize {
        self.codes.n_rows()
    }
}

/// Hyper-parameters, named as in the `kmodes` package.
#[derive(Debug, Clone, PartialEq)]
pub struct KModesParams {
    /// k.
    pub n_clusters: usize,
    /// `Huang` or `Cao`.
    pub init: Init,
    /// Starts; the lowest cost wins (the first on ties).
    pub n_init: usize,
    /// Passes over the rows per start.
    pub max_iter: usize,
    /// Seed of numpy's `RandomState`.
    pub random_state: u64,
    /// k-prototypes: weight of a mismatch; `None` = half the mean standard
    /// deviation of the numeric columns.
    pub gamma: Option<f64>,
    /// Threads for the starts; 0 = the machine's cores.
    pub threads: usize,
    /// Explicit starting modes, k × m codes (the package's `init=ndarray`);
    /// k-modes only. Overrides `init`; one start.
    pub start: Option<Vec<u32>>,
}

impl KModesParams {
    /// k-modes with the package's defaults (`init="Cao"`, `n_init=10`,
    /// `max_iter=100`, seed 0).
    pub fn new(n_clusters: usize) -> Self {
        KModesParams {
            n_clusters,
            init: Init::Cao,
            n_init: 10,
            max_iter: 100,
            random_state: 0,
            gamma: None,
            threads: 0,
            start: None,
        }
    }
}

impl KModesParams {
    /// Check the parameters against the data they will fit (as k-means'
    /// `KMeansParams::validate` does): k and the starts, the data's shape,
    /// explicit start codes; and settle k-prototypes' `gamma`.
    pub fn validate(&self, data: &Data) -> Result<ValidKModesParams, KModesError> {
        let params = self;
        let n = data.n();
        if n == 0 {
            return Err(KModesError::NoRows);
        }
        if params.n_clusters == 0 || params.n_init == 0 {
            return Err(KModesError::Invalid("n_clusters and n_init must be at least 1".into()));
        }
        if params.n_clusters > n {
            return Err(KModesError::TooFewRows { n_clusters: params.n_clusters, n_rows: n });
        }
        if params.init == Init::KMeansPlusPlus {
            return Err(KModesError::Invalid("k-modes starts are \"huang\" or \"cao\"".into()));
        }
        if data.numeric.len() != n * data.p {
            return Err(KModesError::Invalid(format!(
                "{} numeric values for {n} rows × {}",
                data.numeric.len(),
                data.p
            )));
        }
        let gamma = match (data.p, params.gamma) {
            (0, _) => 1.0,
            (_, Some(g)) => g,
            (p, None) => default_gamma(data.numeric, n, p),
        };
        if !(gamma > 0.0 && gamma.is_finite()) {
            return Err(KModesError::Invalid(format!(
                "gamma is {gamma}: every numeric column is constant in training (its standard deviation is 0), \
                 so the default 0.5 × mean std gives no weight to the categorical part; set model.gamma"
            )));
        }
        if let Some(s) = &params.start
            && (data.p > 0 || s.len() != params.n_clusters * data.codes.n_cols())
        {
            return Err(KModesError::Invalid(format!(
                "explicit starts are k-modes only, k × m = {} × {} codes (got {})",
                params.n_clusters,
                data.codes.n_cols(),
                s.len()
            )));
        }
        if let Some(s) = &params.start {
            let levels = data.codes.levels();
            if let Some((i, v)) = s.iter().enumerate().find(|(i, v)| **v >= levels[i % levels.len()]) {
                return Err(KModesError::Invalid(format!("explicit start code {v} (at {i}) is outside its column")));
            }
        }
        Ok(ValidKModesParams { params: self.clone(), gamma })
    }
}

/// Parameters that passed [`KModesParams::validate`] for a data set, with
/// the mismatch weight settled (1 for k-modes).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidKModesParams {
    params: KModesParams,
    gamma: f64,
}

impl ValidKModesParams {
    /// The parameters as given.
    pub fn params(&self) -> &KModesParams {
        &self.params
    }

    /// The mismatch weight the fit uses.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

/// Why k-modes cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum KModesError {
    /// No rows.
    NoRows,
    /// More clusters than rows.
    TooFewRows {
        /// k.
        n_clusters: usize,
        /// Rows.
        n_rows: usize,
    },
    /// A parameter is out of range.
    Invalid(String),
    /// k-prototypes could not find starts without empty clusters.
    NoInit,
}

impl std::fmt::Display for KModesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KModesError::NoRows => write!(f, "no rows to cluster"),
            KModesError::TooFewRows { n_clusters, n_rows } => {
                write!(f, "n_clusters = {n_clusters} but there are only {n_rows} rows")
            }
            KModesError::Invalid(e) => write!(f, "{e}"),
            KModesError::NoInit => {
                write!(f, "k-prototypes could not find starts without an empty cluster in 100 tries; lower n_clusters")
            }
        }
    }
}

impl std::error::Error for KModesError {}

/// A fitted k-modes / k-prototypes model.
#[derive(Debug, Clone, PartialEq)]
pub struct KModesFit {
    /// k' × m mode codes (k' ≤ n_clusters: fewer when there are fewer
    /// distinct rows).
    pub modes: Vec<u32>,
    /// k' × p numeric centres (k-prototypes).
    pub means: Vec<f64>,
    /// Clusters found (k').
    pub n_clusters: usize,
    /// Each row's nearest cluster after the last pass.
    pub labels: Vec<u32>,
    /// Each row's distance to it: mismatches, or the mixed cost.
    pub distances: Vec<f64>,
    /// The sum of `distances` (the package's `cost_`).
    pub cost: f64,
    /// Passes of the winning start.
    pub n_iter: usize,
    /// The cost after the start and after each pass (`epoch_costs_`).
    pub epoch_costs: Vec<f64>,
    /// The mismatch weight used (1 for k-modes).
    pub gamma: f64,
    /// Which start won (0-based).
    pub best_start: usize,
}

/// Fit k-modes (when `data.p == 0`) or k-prototypes with parameters
/// checked against the data ([`KModesParams::validate`]).
pub fn fit(data: &Data, params: &ValidKModesParams, progress: &mut dyn Progress) -> Result<KModesFit, KModesError> {
    let gamma = params.gamma;
    let params = &params.params;
    let mut rng = RandomState::new(params.random_state);
    // Fewer distinct rows than clusters: they are the modes, one pass. A
    // deterministic start (Cao, or given) runs once, as the package does.
    let distinct = run::distinct_rows(data, params.n_clusters + 1);
    let (start, n_init, max_iter) = if distinct.len() <= params.n_clusters {
        (run::Start::Rows(distinct), 1, 0)
    } else if let Some(s) = &params.start {
        (run::Start::Given(s.clone()), 1, params.max_iter)
    } else if params.init == Init::Cao {
        (run::Start::Method(Init::Cao), 1, params.max_iter)
    } else {
        (run::Start::Method(params.init), params.n_init, params.max_iter)
    };
    let seeds = rng.start_seeds(n_init);
    let threads = match params.threads {
        0 => std::thread::available_parallelism().map_or(1, |t| t.get()),
        t => t,
    }
    .min(n_init);

    // Starts run on `threads` threads; progress comes back over a channel.
    let (tx, rx) = std::sync::mpsc::channel::<(usize, run::Event)>();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<run::Outcome, KModesError>>> = (0..n_init).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let tx = tx.clone();
                let (start, seeds, next) = (&start, &seeds, &next);
                s.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= seeds.len() {
                            break;
                        }
                        let mut report = |e: run::Event| {
                            let _ = tx.send((i, e));
                        };
                        let out = run::single(data, params.n_clusters, start, max_iter, gamma, seeds[i], &mut report);
                        let _ = tx.send((i, run::Event::Done(out.as_ref().map(|o| o.cost).unwrap_or(f64::NAN))));
                        done.push((i, out));
                    }
                    done
                })
            })
            .collect();
        drop(tx);
        let mut best: Option<f64> = None;
        for (i, e) in rx {
            match e {
                run::Event::Iteration { iteration, cost } => progress.clustering(&Clustering {
                    run: i,
                    n_runs: n_init,
                    iteration,
                    max_iter,
                    inertia: cost,
                    best_inertia: best,
                    run_done: false,
                }),
                run::Event::Done(cost) => {
                    if cost.is_finite() {
                        best = Some(best.map_or(cost, |b: f64| b.min(cost)));
                    }
                    progress.clustering(&Clustering {
                        run: i,
                        n_runs: n_init,
                        iteration: 0,
                        max_iter,
                        inertia: cost,
                        best_inertia: best,
                        run_done: true,
                    })
                }
            }
        }
        for h in handles {
            for (i, out) in h.join().expect("a k-modes start panicked") {
                results[i] = Some(out);
            }
        }
    });
    // The lowest cost wins; the first start on ties (numpy's argmin).
    let mut best: Option<(usize, run::Outcome)> = None;
    for (i, r) in results.into_iter().enumerate() {
        let out = r.expect("every start ran")?;
        if best.as_ref().is_none_or(|(_, b)| out.cost < b.cost) {
            best = Some((i, out));
        }
    }
    let (best_start, out) = best.expect("n_init >= 1");
    Ok(KModesFit {
        n_clusters: out.k,
        modes: out.modes,
        means: out.means,
        labels: out.labels,
        distances: out.distances,
        cost: out.cost,
        n_iter: out.n_iter,
        epoch_costs: out.epoch_costs,
        gamma,
        best_start,
    })
}

/// `0.5 * mean(std(X_num, axis=0))` (population std), as `KPrototypes`.
pub fn default_gamma(numeric: &[f64], n: usize, p: usize) -> f64 {
    if n == 0 || p == 0 {
        return 1.0;
    }
    let mut total = 0.0;
    for j in 0..p {
        let mean = (0..n).map(|i| numeric[i * p + j]).sum::<f64>() / n as f64;
        let var = (0..n).map(|i| (numeric[i * p + j] - mean).powi(2)).sum::<f64>() / n as f64;
        total += var.sqrt();
    }
    0.5 * total / p as f64
}

/// The nearest mode of a row of codes (and numeric values): its index and
/// distance, ties to the lowest index — the scorer's own rule
/// ([`logsieve_plugin::nearest::mixed`]) on the fit's layout. For tools and
/// tests.
pub fn predict(fit: &KModesFit, codes: &[u32], numeric: &[f64]) -> (usize, f64) {
    let (m, p) = (codes.len(), numeric.len());
    let row: Vec<f64> = codes.iter().map(|&c| f64::from(c)).chain(numeric.iter().copied()).collect();
    let centroids: Vec<f64> = (0..fit.n_clusters)
        .flat_map(|c| {
            let mode = fit.modes[c * m..(c + 1) * m].iter().map(|&v| f64::from(v));
            mode.chain(fit.means[c * p..(c + 1) * p].iter().copied())
        })
        .collect();
    let categorical: Vec<bool> = (0..m + p).map(|j| j < m).collect();
    logsieve_plugin::nearest::mixed(&row, &centroids, &categorical, fit.gamma)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check the parameters against the data, then fit.
    fn run_fit(d: &Data, p: &KModesParams, progress: &mut dyn Progress) -> Result<KModesFit, KModesError> {
        fit(d, &p.validate(d)?, progress)
    }

    fn codes(rows: &[&[u32]]) -> Codes {
        let m = rows[0].len();
        let levels = (0..m).map(|j| rows.iter().map(|r| r[j]).max().unwrap() + 1).collect();
        let flat: Vec<u32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Codes::new(&flat, rows.len(), levels).unwrap()
    }

    fn kmodes(c: &Codes, params: &KModesParams) -> KModesFit {
        run_fit(&Data { codes: c, numeric: &[], p: 0 }, params, &mut ()).unwrap()
    }

    #[test]
    fn a_single_valued_column_never_differs() {
        let c = codes(&[&[0, 0, 3], &[0, 1, 3], &[1, 2, 3], &[1, 2, 3], &[2, 0, 3], &[2, 1, 3]]);
        for init in [Init::Cao, Init::Huang] {
            let f = kmodes(&c, &KModesParams { init, n_init: 3, ..KModesParams::new(3) });
            assert!((0..f.n_clusters).all(|k| f.modes[k * 3 + 2] == 3), "{init:?}: {:?}", f.modes);
            assert_eq!(f.distances.iter().sum::<f64>(), f.cost);
            assert!(f.distances.iter().all(|&d| d <= 2.0));
        }
    }

    #[test]
    fn fewer_distinct_rows_than_clusters_makes_one_cluster_per_row() {
        let c = codes(&[&[0, 1], &[1, 0], &[0, 1], &[1, 0], &[1, 1]]);
        let f = kmodes(&c, &KModesParams { init: Init::Huang, ..KModesParams::new(4) });
        assert_eq!((f.n_clusters, f.cost, f.n_iter), (3, 0.0, 0));
        // In order of first appearance.
        assert_eq!(f.modes, vec![0, 1, 1, 0, 1, 1]);
        assert_eq!(f.labels, vec![0, 1, 0, 1, 2]);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let c = codes(&[&[0], &[1]]);
        let d = Data { codes: &c, numeric: &[], p: 0 };
        let e = run_fit(&d, &KModesParams::new(3), &mut ()).unwrap_err();
        assert_eq!(e, KModesError::TooFewRows { n_clusters: 3, n_rows: 2 });
        let e = run_fit(&d, &KModesParams { init: Init::KMeansPlusPlus, ..KModesParams::new(1) }, &mut ());
        assert!(matches!(e, Err(KModesError::Invalid(_))));
        let e = run_fit(&Data { codes: &c, numeric: &[1.0], p: 1 }, &KModesParams::new(1), &mut ());
        assert!(matches!(e, Err(KModesError::Invalid(_))));
    }

    /// Two groups that differ in one category and in their numeric part.
    fn mixed() -> (Codes, Vec<f64>) {
        let mut rows: Vec<&[u32]> = Vec::new();
        let mut num = Vec::new();
        for i in 0..40 {
            let g = i % 2;
            rows.push(if g == 0 { &[0, 1] } else { &[1, 1] });
            let jitter = (i as f64 * 0.37).sin() * 0.1;
            num.extend([if g == 0 { -1.0 } else { 1.0 } + jitter, 0.5 * jitter]);
        }
        (codes(&rows), num)
    }

    #[test]
    fn kprototypes_defaults_gamma_to_half_the_mean_std_and_separates_mixed_groups() {
        let (c, num) = mixed();
        let d = Data { codes: &c, numeric: &num, p: 2 };
        let params = KModesParams { init: Init::Huang, n_init: 4, random_state: 3, ..KModesParams::new(2) };
        let f = run_fit(&d, &params, &mut ()).unwrap();
        assert_eq!(f.gamma, default_gamma(&num, 40, 2));
        let std0 = (num.iter().step_by(2).map(|x| x * x).sum::<f64>() / 40.0
            - (num.iter().step_by(2).sum::<f64>() / 40.0).powi(2))
        .sqrt();
        assert!(f.gamma > 0.25 * std0 && f.gamma < 0.5 * std0 + 0.1, "gamma {}", f.gamma);
        // The groups are the clusters, whichever label each got.
        let g0 = f.labels[0];
        assert!(f.labels.iter().enumerate().all(|(i, &l)| (l == g0) == (i % 2 == 0)), "{:?}", f.labels);
        // The cost is the sum of each row's squared numeric distance plus
        // gamma per mismatch to its centre.
        let mut total = 0.0;
        for i in 0..40 {
            let row: Vec<u32> = (0..2).map(|j| c.get(i, j)).collect();
            let (k, dist) = predict(&f, &row, &num[i * 2..i * 2 + 2]);
            assert_eq!(k as u32, f.labels[i]);
            assert!((dist - f.distances[i]).abs() < 1e-12);
            total += dist;
        }
        assert!((total - f.cost).abs() < 1e-9);
        // An explicit gamma is used as given; threads do not change results.
        let g = run_fit(&d, &KModesParams { gamma: Some(2.0), threads: 1, ..params.clone() }, &mut ()).unwrap();
        let h = run_fit(&d, &KModesParams { gamma: Some(2.0), threads: 2, ..params }, &mut ()).unwrap();
        assert_eq!(g.gamma, 2.0);
        assert_eq!((g.cost, &g.labels, &g.means), (h.cost, &h.labels, &h.means));
    }

    #[test]
    fn kprototypes_with_constant_numeric_columns_asks_for_gamma() {
        let c = codes(&[&[0], &[1], &[2], &[0], &[1], &[2]]);
        let num = vec![3.0; 6];
        let e = run_fit(&Data { codes: &c, numeric: &num, p: 1 }, &KModesParams::new(2), &mut ()).unwrap_err();
        assert!(e.to_string().contains("set model.gamma"), "{e}");
        let f = run_fit(
            &Data { codes: &c, numeric: &num, p: 1 },
            &KModesParams { gamma: Some(1.0), ..KModesParams::new(2) },
            &mut (),
        );
        assert!(f.is_ok());
    }

    #[test]
    fn progress_reports_every_pass_and_every_start() {
        let c = codes(&[&[0, 0], &[0, 1], &[1, 1], &[1, 2], &[2, 2], &[2, 0]]);
        let mut passes = 0;
        let mut done = Vec::new();
        let f = run_fit(
            &Data { codes: &c, numeric: &[], p: 0 },
            &KModesParams { init: Init::Huang, n_init: 3, ..KModesParams::new(2) },
            &mut crate::progress::OnClustering(|p: &crate::progress::Clustering| {
                if p.run_done {
                    done.push(p.run);
                } else {
                    passes += 1;
                }
            }),
        )
        .unwrap();
        done.sort_unstable();
        assert_eq!(done, vec![0, 1, 2]);
        assert!(passes >= 3 && f.n_iter >= 1);
    }
}
