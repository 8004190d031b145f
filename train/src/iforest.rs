//! Isolation forest fitting with the semantics of scikit-learn's
//! `IsolationForest` (Liu, Ting & Zhou, "Isolation forest", ICDM 2008).
//!
//! [`fit`] grows `n_estimators` trees. Each tree:
//!
//! 1. sees `max(1, floor(max_features × columns))` columns, drawn without
//!    replacement (all of them at the default `max_features = 1.0`);
//! 2. is grown on ψ rows drawn without replacement (no bootstrap), ψ
//!    resolved from `max_samples` ([`MaxSamples::resolve`]);
//! 3. splits its nodes depth first, down to `ceil(log2(max(ψ, 2)))`
//!    ([`max_depth`]): a node with one row, at that depth, or whose rows
//!    are constant on every column the tree sees, is a leaf; otherwise it
//!    picks a column uniformly among those not constant in its rows (a
//!    column is constant when `max ≤ min + 1e-7`, scikit-learn's
//!    `FEATURE_THRESHOLD`, [`CONSTANT_SPAN`]) and a threshold uniform in
//!    `[min, max)` of that column in the node (one that rounds to `max`
//!    becomes `min`, as in scikit-learn's random splitter); rows with
//!    `x <= threshold` go left. Both children get at least one row.
//! 4. gives each leaf the path length `depth + c(rows in the leaf)`
//!    ([`average_path_length`]), stored in the artifact's
//!    [`Tree`] so scoring only adds leaf values up.
//!
//! Differences from scikit-learn, none of which changes what a tree is drawn
//! from: its trees compare `float32` copies of the data, these `f64`; its
//! random numbers are numpy's, these xoshiro256**. Scores agree as two
//! scikit-learn runs with different seeds agree (see
//! `train/tests/iforest_parity.rs`).
//!
//! # Random streams
//!
//! Tree `t` draws only from its own stream, [`tree_stream`]`(random_state,
//! t)`: `Xoshiro256StarStar::seed_from_u64(random_state)` jumped `t` times
//! (2^128 steps each, so streams never overlap). Within it, in order: the
//! columns (only when `max_features < 1`), the rows (only when ψ < rows), then
//! the nodes in preorder (per node: a column, again while the column drawn is
//! constant, then the threshold). A tree therefore depends on nothing but the
//! data, the parameters and its index: trees could be grown in parallel and
//! give the same forest, and the first `k` trees of a forest of `n ≥ k` are
//! those of a forest of `k`.

use std::collections::HashSet;
use std::fmt;

use logsieve_artifact::forest::{Forest, LEAF, Tree, max_depth};
use logsieve_plugin::forest::average_path_length;
use ndarray::ArrayView2;

use crate::rng::Xoshiro256StarStar;

/// A column whose values in a node span at most this much (`max ≤ min +
/// CONSTANT_SPAN`) is constant there and never split on: scikit-learn's
/// `FEATURE_THRESHOLD`.
pub const CONSTANT_SPAN: f64 = 1e-7;

/// The largest ψ: a tree of ψ rows has up to 2ψ − 1 nodes, numbered in `u32`.
pub const LARGEST_MAX_SAMPLES: usize = 1 << 31;

/// How many rows each tree is grown on (scikit-learn's `max_samples`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxSamples {
    /// `min(256, rows)`. The default.
    Auto,
    /// This many rows, or all rows when there are fewer (scikit-learn warns
    /// and does the same).
    Count(usize),
    /// `floor(fraction × rows)`, `fraction` in `(0, 1]`; a fit refuses a
    /// fraction that leaves no row.
    Fraction(f64),
}

impl MaxSamples {
    /// ψ for `n_rows` training rows, as scikit-learn resolves it (before
    /// [`fit`] checks it is at least 1).
    pub fn resolve(self, n_rows: usize) -> usize {
        match self {
            MaxSamples::Auto => n_rows.min(256),
            MaxSamples::Count(k) => k.min(n_rows),
            MaxSamples::Fraction(f) => (f * n_rows as f64) as usize,
        }
    }
}

impl fmt::Display for MaxSamples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxSamples::Auto => write!(f, "\"auto\""),
            MaxSamples::Count(k) => write!(f, "{k}"),
            MaxSamples::Fraction(x) => write!(f, "{x:?}"),
        }
    }
}

/// Hyper-parameters of [`fit`], named and defaulted as scikit-learn's
/// `IsolationForest` (`bootstrap` is always false; `contamination` is the
/// scorer's business). Build with [`IsolationForestParams::new`], adjust,
/// then [`validate`](IsolationForestParams::validate).
#[derive(Clone, Debug, PartialEq)]
pub struct IsolationForestParams {
    /// Number of trees. Default 100.
    pub n_estimators: usize,
    /// Rows per tree. Default [`MaxSamples::Auto`].
    pub max_samples: MaxSamples,
    /// Fraction of the columns each tree sees, in `(0, 1]`: `max(1,
    /// floor(max_features × columns))` of them, drawn without replacement
    /// per tree. Default 1.0.
    pub max_features: f64,
    /// Seed of the whole fit (see the [module](self) docs). Default 0.
    pub random_state: u64,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self::new()
    }
}

impl IsolationForestParams {
    /// scikit-learn's defaults: 100 trees, `max_samples = "auto"`,
    /// `max_features = 1.0`; `random_state = 0`.
    pub fn new() -> Self {
        Self { n_estimators: 100, max_samples: MaxSamples::Auto, max_features: 1.0, random_state: 0 }
    }

    /// These parameters with another `n_estimators`.
    pub fn with_n_estimators(mut self, n_estimators: usize) -> Self {
        self.n_estimators = n_estimators;
        self
    }

    /// These parameters with another `max_samples`.
    pub fn with_max_samples(mut self, max_samples: MaxSamples) -> Self {
        self.max_samples = max_samples;
        self
    }

    /// These parameters with another `max_features`.
    pub fn with_max_features(mut self, max_features: f64) -> Self {
        self.max_features = max_features;
        self
    }

    /// These parameters with another `random_state`.
    pub fn with_random_state(mut self, random_state: u64) -> Self {
        self.random_state = random_state;
        self
    }

    /// Checks the parameters on their own (what depends on the data, [`fit`]
    /// checks).
    pub fn validate(&self) -> Result<ValidIsolationForestParams, IsolationForestError> {
        if self.n_estimators == 0 || self.n_estimators > u32::MAX as usize {
            return Err(IsolationForestError::InvalidNEstimators(self.n_estimators));
        }
        match self.max_samples {
            MaxSamples::Auto => {}
            MaxSamples::Count(k) if k >= 1 => {}
            MaxSamples::Fraction(f) if f > 0.0 && f <= 1.0 => {}
            m => return Err(IsolationForestError::InvalidMaxSamples(m)),
        }
        if !(self.max_features > 0.0 && self.max_features <= 1.0) {
            return Err(IsolationForestError::InvalidMaxFeatures(self.max_features));
        }
        Ok(ValidIsolationForestParams(self.clone()))
    }
}

/// Parameters that passed [`IsolationForestParams::validate`]: the only
/// way to call [`fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct ValidIsolationForestParams(IsolationForestParams);

impl ValidIsolationForestParams {
    /// The parameters as given.
    pub fn params(&self) -> &IsolationForestParams {
        &self.0
    }
}

/// Everything that can stop an isolation-forest fit, all checked before the
/// first tree.
#[derive(Clone, Debug, PartialEq)]
pub enum IsolationForestError {
    /// `n_estimators` must be between 1 and 2^32 − 1.
    InvalidNEstimators(usize),
    /// A count of rows must be at least 1, a fraction in `(0, 1]`.
    InvalidMaxSamples(MaxSamples),
    /// `max_features` must be in `(0, 1]`.
    InvalidMaxFeatures(f64),
    /// The data has no rows.
    NoRows,
    /// The data has no columns.
    NoColumns,
    /// A value is NaN or infinite (the first in row-major order).
    NonFinite {
        /// Its row, 0-based.
        row: usize,
        /// Its column, 0-based.
        column: usize,
        /// The value.
        value: f64,
    },
    /// `max_samples` leaves no row (a fraction of too few rows) or more than
    /// [`LARGEST_MAX_SAMPLES`].
    MaxSamplesOutOfRange {
        /// What was asked.
        max_samples: MaxSamples,
        /// Rows of the data.
        n_rows: usize,
        /// What it resolved to.
        resolved: usize,
    },
}

impl fmt::Display for IsolationForestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsolationForestError::InvalidNEstimators(n) => {
                write!(f, "n_estimators = {n} is invalid: it must be between 1 and {}", u32::MAX)
            }
            IsolationForestError::InvalidMaxSamples(m) => write!(
                f,
                "max_samples = {m} is invalid: it must be \"auto\", a number of rows >= 1, or a fraction in (0, 1]"
            ),
            IsolationForestError::InvalidMaxFeatures(x) => {
                write!(f, "max_features = {x:?} is invalid: it must be a fraction in (0, 1]")
            }
            IsolationForestError::NoRows => write!(f, "the data has no rows"),
            IsolationForestError::NoColumns => write!(f, "the data has no columns"),
            IsolationForestError::NonFinite { row, column, value } => {
                write!(f, "the data contains a non-finite value ({value}) at row {row}, column {column} (0-based)")
            }
            IsolationForestError::MaxSamplesOutOfRange { max_samples, n_rows, resolved } => write!(
                f,
                "max_samples = {max_samples} gives {resolved} rows per tree out of {n_rows}; it must give between \
                 1 and {LARGEST_MAX_SAMPLES}"
            ),
        }
    }
}

impl std::error::Error for IsolationForestError {}

/// The columns each tree sees: `max(1, floor(max_features × n_columns))`,
/// scikit-learn's rule for a fractional `max_features`.
pub fn features_per_tree(max_features: f64, n_columns: usize) -> usize {
    ((max_features * n_columns as f64) as usize).clamp(1, n_columns.max(1))
}

/// Tree `t`'s random stream: `seed_from_u64(random_state)` jumped `t`
/// times. ([`fit`] jumps once per tree instead of recomputing this.)
pub fn tree_stream(random_state: u64, t: usize) -> Xoshiro256StarStar {
    let mut rng = Xoshiro256StarStar::seed_from_u64(random_state);
    for _ in 0..t {
        rng.jump();
    }
    rng
}

/// Fits an isolation forest on `x` (rows × encoded columns, any memory
/// layout; a non-row-major view is copied once). The same as
/// scikit-learn's `IsolationForest(n_estimators, max_samples, max_features,
/// random_state).fit(x)` up to the random numbers (see the [module](self)
/// docs); the returned forest passes [`Forest::validate`] for
/// `x.ncols()` coordinates.
pub fn fit(x: ArrayView2<f64>, params: &ValidIsolationForestParams) -> Result<Forest, IsolationForestError> {
    let p = params.params();
    let (n, d) = x.dim();
    if n == 0 {
        return Err(IsolationForestError::NoRows);
    }
    if d == 0 {
        return Err(IsolationForestError::NoColumns);
    }
    let data = x.as_standard_layout();
    let data = data.as_slice().expect("a standard-layout array is contiguous");
    if let Some(at) = data.iter().position(|v| !v.is_finite()) {
        return Err(IsolationForestError::NonFinite { row: at / d, column: at % d, value: data[at] });
    }
    let psi = p.max_samples.resolve(n);
    if !(1..=LARGEST_MAX_SAMPLES).contains(&psi) {
        return Err(IsolationForestError::MaxSamplesOutOfRange {
            max_samples: p.max_samples,
            n_rows: n,
            resolved: psi,
        });
    }
    let mut grower = Grower::new(data, n, d, psi, features_per_tree(p.max_features, d));
    let mut stream = Xoshiro256StarStar::seed_from_u64(p.random_state);
    let mut trees = Vec::with_capacity(p.n_estimators);
    for _ in 0..p.n_estimators {
        let mut rng = stream.clone();
        stream.jump();
        trees.push(grower.grow(&mut rng));
    }
    Ok(Forest { max_samples: psi as u32, trees })
}

/// One tree at a time, with scratch space kept between trees.
struct Grower<'a> {
    /// Row-major, `n × d`.
    data: &'a [f64],
    n: usize,
    d: usize,
    psi: usize,
    /// Columns per tree.
    k: usize,
    max_depth: u32,
    /// The tree's rows (indices into `data`), partitioned as it grows: a
    /// node's rows are a contiguous range.
    rows: Vec<usize>,
    /// Floyd's sampling: rows already drawn.
    drawn: HashSet<usize>,
    /// `0..d`, for drawing the tree's columns.
    columns: Vec<u32>,
    /// `candidates[depth]`: the columns the node being split at `depth` may
    /// use: its parent's, less those found constant in the parent.
    candidates: Vec<Vec<u32>>,
    feature: Vec<u32>,
    threshold: Vec<f64>,
    right: Vec<u32>,
    samples: Vec<u32>,
}

impl<'a> Grower<'a> {
    fn new(data: &'a [f64], n: usize, d: usize, psi: usize, k: usize) -> Self {
        let max_depth = max_depth(psi as u32);
        Self {
            data,
            n,
            d,
            psi,
            k,
            max_depth,
            rows: Vec::with_capacity(psi),
            drawn: HashSet::with_capacity(if psi < n { psi } else { 0 }),
            columns: Vec::with_capacity(d),
            candidates: vec![Vec::with_capacity(k); max_depth as usize + 1],
            feature: Vec::new(),
            threshold: Vec::new(),
            right: Vec::new(),
            samples: Vec::new(),
        }
    }

    fn grow(&mut self, rng: &mut Xoshiro256StarStar) -> Tree {
        // The tree's columns: a partial Fisher–Yates shuffle of 0..d
        // (started afresh, so the tree depends on its stream only), sorted.
        self.columns.clear();
        self.columns.extend(0..self.d as u32);
        if self.k < self.d {
            for i in 0..self.k {
                let j = i + rng.gen_index(self.d - i);
                self.columns.swap(i, j);
            }
            self.columns.truncate(self.k);
            self.columns.sort_unstable();
        }
        // The rows: all, or ψ of them by Floyd's algorithm (each ψ-subset
        // equally likely, ψ draws).
        self.rows.clear();
        if self.psi == self.n {
            self.rows.extend(0..self.n);
        } else {
            self.drawn.clear();
            for j in self.n - self.psi..self.n {
                let t = rng.gen_index(j + 1);
                let r = if self.drawn.insert(t) { t } else { j };
                self.drawn.insert(r);
                self.rows.push(r);
            }
        }
        self.feature.clear();
        self.threshold.clear();
        self.right.clear();
        self.samples.clear();
        self.node(0, self.psi, 0, rng);
        Tree {
            feature: self.feature.clone(),
            threshold: self.threshold.clone(),
            right: self.right.clone(),
            samples: self.samples.clone(),
        }
    }

    /// Grows the node holding `rows[start..end]` at `depth`, and its
    /// subtree, in preorder.
    fn node(&mut self, start: usize, end: usize, depth: u32, rng: &mut Xoshiro256StarStar) {
        let idx = self.feature.len();
        let rows = end - start;
        self.feature.push(LEAF);
        self.threshold.push(0.0);
        self.right.push(0);
        self.samples.push(rows as u32);
        let split = if rows >= 2 && depth < self.max_depth { self.draw_split(start, end, depth, rng) } else { None };
        let Some((f, t)) = split else {
            self.threshold[idx] = f64::from(depth) + average_path_length(rows as u64);
            return;
        };
        let d = self.d;
        let data = self.data;
        let node_rows = &mut self.rows[start..end];
        // Rows with x <= t first; both sides are non-empty (min <= t < max).
        let (mut i, mut j) = (0, node_rows.len());
        while i < j {
            if data[node_rows[i] * d + f as usize] <= t {
                i += 1;
            } else {
                j -= 1;
                node_rows.swap(i, j);
            }
        }
        debug_assert!(i > 0 && i < rows);
        self.feature[idx] = f;
        self.threshold[idx] = t;
        self.node(start, start + i, depth + 1, rng);
        self.right[idx] = self.feature.len() as u32;
        self.node(start + i, end, depth + 1, rng);
    }

    /// The split of the node holding `rows[start..end]`: a column uniform
    /// among its non-constant candidates and a threshold uniform in `[min,
    /// max)`; `None` when every candidate is constant.
    fn draw_split(&mut self, start: usize, end: usize, depth: u32, rng: &mut Xoshiro256StarStar) -> Option<(u32, f64)> {
        let depth = depth as usize;
        // The candidates: the tree's columns at the root, the parent's
        // (after its draw removed the constant ones) below.
        let (above, here) = self.candidates.split_at_mut(depth);
        let cand = &mut here[0];
        cand.clear();
        cand.extend_from_slice(if depth == 0 { &self.columns } else { &above[depth - 1] });
        let (d, data, rows) = (self.d, self.data, &self.rows[start..end]);
        while !cand.is_empty() {
            let j = rng.gen_index(cand.len());
            let f = cand[j];
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in rows {
                let v = data[r * d + f as usize];
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if hi <= lo + CONSTANT_SPAN {
                cand.swap_remove(j);
                continue;
            }
            let u = rng.next_f64();
            let span = hi - lo;
            // lo + span × u, or a lerp when the span overflows (values of
            // opposite signs near ±f64::MAX).
            let mut t = if span.is_finite() { lo + span * u } else { lo * (1.0 - u) + hi * u };
            if !(t >= lo && t < hi) {
                t = lo;
            }
            return Some((f, t));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    fn valid(p: IsolationForestParams) -> ValidIsolationForestParams {
        p.validate().unwrap()
    }

    #[test]
    fn defaults_are_scikit_learns() {
        let p = IsolationForestParams::default();
        assert_eq!((p.n_estimators, p.max_samples, p.max_features, p.random_state), (100, MaxSamples::Auto, 1.0, 0));
        assert!(p.validate().is_ok());
    }

    #[test]
    fn params_are_checked() {
        use IsolationForestError as E;
        let p = IsolationForestParams::new;
        assert_eq!(p().with_n_estimators(0).validate(), Err(E::InvalidNEstimators(0)));
        assert_eq!(
            p().with_max_samples(MaxSamples::Count(0)).validate(),
            Err(E::InvalidMaxSamples(MaxSamples::Count(0)))
        );
        for f in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let m = MaxSamples::Fraction(f);
            assert!(matches!(p().with_max_samples(m).validate(), Err(E::InvalidMaxSamples(_))), "{f}");
            assert!(matches!(p().with_max_features(f).validate(), Err(E::InvalidMaxFeatures(_))), "{f}");
        }
        assert!(p().with_max_samples(MaxSamples::Fraction(1.0)).with_max_features(1e-9).validate().is_ok());
        assert_eq!(
            p().with_max_features(0.0).validate().unwrap_err().to_string(),
            "max_features = 0.0 is invalid: it must be a fraction in (0, 1]"
        );
        assert_eq!(
            p().with_max_samples(MaxSamples::Fraction(1.5)).validate().unwrap_err().to_string(),
            "max_samples = 1.5 is invalid: it must be \"auto\", a number of rows >= 1, or a fraction in (0, 1]"
        );
    }

    #[test]
    fn data_is_checked() {
        use IsolationForestError as E;
        let v = valid(IsolationForestParams::new());
        assert_eq!(fit(Array2::<f64>::zeros((0, 3)).view(), &v), Err(E::NoRows));
        assert_eq!(fit(Array2::<f64>::zeros((3, 0)).view(), &v), Err(E::NoColumns));
        let mut x = Array2::<f64>::zeros((4, 3));
        x[[2, 1]] = f64::NAN;
        x[[3, 0]] = f64::INFINITY;
        let e = fit(x.view(), &v).unwrap_err();
        assert!(matches!(e, E::NonFinite { row: 2, column: 1, value } if value.is_nan()));
        assert_eq!(e.to_string(), "the data contains a non-finite value (NaN) at row 2, column 1 (0-based)");
        // A fraction that leaves no row.
        let x = Array2::<f64>::zeros((9, 2));
        let v = valid(IsolationForestParams::new().with_max_samples(MaxSamples::Fraction(0.1)));
        let e = fit(x.view(), &v).unwrap_err();
        assert_eq!(e, E::MaxSamplesOutOfRange { max_samples: MaxSamples::Fraction(0.1), n_rows: 9, resolved: 0 });
        assert_eq!(
            e.to_string(),
            "max_samples = 0.1 gives 0 rows per tree out of 9; it must give between 1 and 2147483648"
        );
    }

    #[test]
    fn max_samples_resolves_as_scikit_learn() {
        assert_eq!(MaxSamples::Auto.resolve(100), 100);
        assert_eq!(MaxSamples::Auto.resolve(1000), 256);
        assert_eq!(MaxSamples::Count(50).resolve(1000), 50);
        assert_eq!(MaxSamples::Count(5000).resolve(1000), 1000);
        assert_eq!(MaxSamples::Fraction(0.5).resolve(7), 3);
        assert_eq!(MaxSamples::Fraction(1.0).resolve(7), 7);
        // int(0.7 * 10) = int(7.000000000000001) = 7; int(0.3 * 10) = 3.
        assert_eq!((MaxSamples::Fraction(0.7).resolve(10), MaxSamples::Fraction(0.3).resolve(10)), (7, 3));
    }

    #[test]
    fn features_per_tree_is_scikit_learns() {
        assert_eq!(features_per_tree(1.0, 4), 4);
        assert_eq!(features_per_tree(0.5, 4), 2);
        assert_eq!(features_per_tree(0.3, 10), 3);
        assert_eq!(features_per_tree(0.1, 4), 1);
        assert_eq!(features_per_tree(1e-9, 1), 1);
        assert_eq!(features_per_tree(0.99, 3), 2);
    }

    #[test]
    fn tree_stream_is_jumps() {
        let mut a = Xoshiro256StarStar::seed_from_u64(5);
        assert_eq!(tree_stream(5, 0), a);
        a.jump();
        a.jump();
        assert_eq!(tree_stream(5, 2), a);
    }
}
