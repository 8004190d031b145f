//! Fitting a whole logsieve model from extracted features.
//!
//! Input: one row of [`FeatureValue`]s per training event, as the plugin's
//! extraction entry point returned them. Steps:
//! 1. learn each feature's state ([`fit_features`]): fill value, scaler
//!    (z-score with ddof = 0, or min-max), vocabulary (sorted);
//! 2. encode every row with the plugin's own [`Encoder`] (the code that will
//!    score), into an n × d matrix;
//!    (one-hot for k-means, one code per categorical feature for k-modes
//!    and k-prototypes);
//! 3. fit k-means ([`crate::kmeans`]) or k-modes / k-prototypes
//!    ([`crate::kmodes`]);
//! 4. per cluster: size, share, the threshold (the spec's absolute
//!    `scoring.threshold`, or a quantile of the rows' distances, numpy's
//!    linear interpolation; clusters of fewer than
//!    [`MIN_ROWS_FOR_OWN_THRESHOLD`] rows use the quantile over all rows),
//!    rare flag.

use std::collections::BTreeMap;

use logsieve_artifact::forest::Isolation;
use logsieve_artifact::spec::DEFAULT_N_ESTIMATORS;
use logsieve_artifact::{
    Cluster, FeatureKind, FeatureState, Fitted, MIN_THRESHOLD, Missing, Model, ModelKind, ModelSpec, OneHotScaling,
    Scaling, ScoringMethod, TrainingMeta, ValidSpec,
};
use logsieve_plugin::FeatureValue;
use logsieve_plugin::features::{Encoder, MISSING_CATEGORY};
use logsieve_plugin::forest::CompiledForest;
use logsieve_plugin::nearest::Measure;
use ndarray::Array2;

use crate::kmeans::{self, KMeansError, KMeansParams};
use crate::kmodes::{self, Codes, KModesError, KModesParams};
use crate::progress::Progress;

/// Why a model could not be fitted.
#[derive(Debug)]
pub enum FitError {
    /// No usable rows.
    NoRows,
    /// k-means refused the data or the parameters.
    KMeans(KMeansError),
    /// k-modes / k-prototypes refused the data or the parameters.
    KModes(KModesError),
    /// A row failed to encode (should not happen for extracted rows).
    Encode(String),
    /// The spec cannot be fitted on these rows (the message says why).
    Unfit(String),
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitError::NoRows => write!(f, "no usable training rows (every event was skipped or the input is empty)"),
            FitError::KMeans(e) => write!(f, "k-means: {e}"),
            FitError::KModes(e) => write!(f, "k-modes: {e}"),
            FitError::Encode(e) => write!(f, "encoding a training row: {e}"),
            FitError::Unfit(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FitError {}

/// Learn each feature's state from the extracted rows.
pub fn fit_features(spec: &ModelSpec, rows: &[Vec<FeatureValue>]) -> Vec<FeatureState> {
    spec.features
        .iter()
        .enumerate()
        .map(|(j, f)| match f.kind {
            FeatureKind::Numeric => {
                let present = rows.iter().filter_map(|r| match r[j] {
                    FeatureValue::Number(x) => Some(x),
                    _ => None,
                });
                // The fill value: 0 through the transform (ln(1+0) = 0), or
                // the mean of the present values.
                let fill = match f.missing_policy() {
                    Missing::Mean => {
                        let (s, n) = present.fold((0.0, 0u64), |(s, n), x| (s + x, n + 1));
                        if n > 0 { s / n as f64 } else { 0.0 }
                    }
                    _ => 0.0,
                };
                let col: Vec<f64> = rows
                    .iter()
                    .map(|r| match r[j] {
                        FeatureValue::Number(x) => x,
                        _ => fill,
                    })
                    .collect();
                let (offset, scale) = scaler(spec.scaling.method, &col);
                FeatureState::Numeric { offset, scale, fill }
            }
            FeatureKind::Categorical => {
                let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
                for r in rows {
                    let v = match &r[j] {
                        FeatureValue::Category(c) => c.as_str(),
                        FeatureValue::Missing | FeatureValue::Number(_) => MISSING_CATEGORY,
                    };
                    *counts.entry(v).or_default() += 1;
                }
                let scaled = spec.scaling.one_hot == OneHotScaling::Scaled && spec.model.kind.one_hot();
                let one_hot_scaling = if scaled {
                    counts.values().map(|&c| one_hot_scaler(spec.scaling.method, c, rows.len() as u64)).collect()
                } else {
                    Vec::new()
                };
                FeatureState::Categorical {
                    vocabulary: counts.into_keys().map(str::to_string).collect(),
                    one_hot_scaling,
                }
            }
        })
        .collect()
}

/// `(offset, scale)` of a column: z-score uses the mean and the population
/// std (ddof = 0, two-pass for accuracy), min-max the minimum and the range;
/// a zero scale becomes 1 (as scikit-learn's scalers).
pub fn scaler(method: Scaling, col: &[f64]) -> (f64, f64) {
    if col.is_empty() {
        return (0.0, 1.0);
    }
    let (offset, scale) = match method {
        Scaling::None => (0.0, 1.0),
        Scaling::Zscore => {
            let n = col.len() as f64;
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            (mean, var.sqrt())
        }
        Scaling::Minmax => {
            let min = col.iter().copied().fold(f64::INFINITY, f64::min);
            let max = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, max - min)
        }
    };
    (offset, if scale > 0.0 && scale.is_finite() { scale } else { 1.0 })
}

/// `(offset, scale)` of a one-hot column with `ones` ones among `n` rows:
/// what [`scaler`] gives the 0/1 column, without making it (z-score: mean
/// p, population std √(p(1 − p)); min-max: 0 and 1 unless the column is
/// constant).
pub fn one_hot_scaler(method: Scaling, ones: u64, n: u64) -> (f64, f64) {
    let p = ones as f64 / n as f64;
    let (offset, scale) = match method {
        Scaling::None => (0.0, 1.0),
        Scaling::Zscore => (p, (p * (1.0 - p)).sqrt()),
        Scaling::Minmax if ones == n => (1.0, 0.0),
        Scaling::Minmax => (0.0, 1.0),
    };
    (offset, if scale > 0.0 && scale.is_finite() { scale } else { 1.0 })
}

/// Encode rows with the plugin's encoder into an n × d matrix.
pub fn encode_rows(encoder: &Encoder, rows: &[Vec<FeatureValue>]) -> Result<Array2<f64>, FitError> {
    let d = encoder.dimension();
    let mut x = Array2::<f64>::zeros((rows.len(), d));
    let mut unseen = Vec::new();
    for (r, mut out) in rows.iter().zip(x.outer_iter_mut()) {
        let out = out.as_slice_mut().expect("a fresh array is contiguous");
        encoder.encode_values(r, out, &mut unseen).map_err(|e| FitError::Encode(e.to_string()))?;
    }
    Ok(x)
}

/// The q-quantile of `v` with numpy's default linear interpolation.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Clusters with fewer training rows than this use the threshold learned
/// over all rows: one or two distances say nothing about a 99.9 % quantile.
pub const MIN_ROWS_FOR_OWN_THRESHOLD: usize = 10;

/// Metadata the caller knows (inputs, skipped rows, time).
pub struct Provenance {
    /// Input files or patterns.
    pub inputs: Vec<String>,
    /// Events that could not be used.
    pub skipped: u64,
    /// Unix seconds.
    pub created_unix: i64,
}

/// Fit a model: features, k-means, per-cluster statistics.
pub fn fit_model(
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    provenance: Provenance,
    progress: &mut dyn Progress,
) -> Result<Model, FitError> {
    if rows.is_empty() {
        return Err(FitError::NoRows);
    }
    let features = fit_features(spec, rows);
    // A temporary fitted model, so the encoder is the scoring one.
    let mut fitted = Fitted {
        features,
        clusters: Vec::new(),
        gamma: None,
        embedding: None,
        cblof: None,
        isolation: None,
        training: TrainingMeta {
            rows: rows.len() as u64,
            skipped: provenance.skipped,
            inertia: 0.0,
            n_iter: 0,
            inputs: provenance.inputs,
            created_unix: provenance.created_unix,
            logsieve_version: env!("CARGO_PKG_VERSION").to_string(),
            sweep: None,
        },
    };
    let encoder = Encoder::new(spec, &fitted);
    let x = encode_rows(&encoder, rows)?;
    let m = &spec.model;
    if m.kind == ModelKind::IsolationForest {
        fitted.isolation = Some(fit_isolation(spec, &x)?);
        return Ok(Model { spec: spec.clone(), fitted: Some(fitted) });
    }
    // Each row's cluster and distance, and the centroids in encoded space.
    let (labels, distances, centroids) = match m.kind {
        ModelKind::IsolationForest => unreachable!("fitted above"),
        ModelKind::Flow2vec => {
            return Err(FitError::Unfit("flow2vec models are fitted by flow2vec::fit_flow2vec".into()));
        }
        ModelKind::Kmeans => {
            let params = KMeansParams::new(m.n_clusters as usize)
                .with_n_init(m.n_init as usize)
                .with_random_state(m.random_state)
                .with_max_iter(m.max_iter as usize)
                .with_tol(m.tol)
                .validate(x.nrows())
                .map_err(FitError::KMeans)?;
            let fit = kmeans::fit(x.view(), &params, progress).map_err(FitError::KMeans)?;
            fitted.training.inertia = fit.inertia;
            fitted.training.n_iter = fit.n_iter as u32;
            let centroids = fit.centroids.outer_iter().map(|r| r.to_vec()).collect();
            (fit.labels, fit.distances, centroids)
        }
        ModelKind::Kmodes | ModelKind::Kprototypes => {
            let split = split_codes(&fitted.features, &x)?;
            let data = kmodes::Data { codes: &split.codes, numeric: &split.numeric, p: split.numeric_cols.len() };
            let params = KModesParams {
                n_clusters: m.n_clusters as usize,
                init: m.init_method(),
                n_init: m.n_init as usize,
                max_iter: m.max_iter as usize,
                random_state: m.random_state,
                gamma: m.gamma,
                threads: 0,
                start: None,
            };
            let params = params.validate(&data).map_err(FitError::KModes)?;
            let fit = kmodes::fit(&data, &params, progress).map_err(FitError::KModes)?;
            fitted.training.inertia = fit.cost;
            fitted.training.n_iter = fit.n_iter as u32;
            if m.kind == ModelKind::Kprototypes {
                fitted.gamma = Some(fit.gamma);
            }
            let centroids = (0..fit.n_clusters).map(|c| split.centroid(&fit, c)).collect();
            (fit.labels, fit.distances, centroids)
        }
    };
    fitted.clusters = cluster_stats(spec, &labels, &distances, centroids);
    if spec.scoring.method() == ScoringMethod::Cblof {
        let categorical: Vec<bool> =
            fitted.features.iter().map(|st| matches!(st, FeatureState::Categorical { .. })).collect();
        let measure = match m.kind {
            ModelKind::Kmeans => Measure::Euclidean,
            _ => Measure::Mixed { categorical: &categorical, gamma: fitted.gamma.unwrap_or(1.0) },
        };
        fitted.cblof = Some(crate::cblof::fit(spec, &fitted.clusters, &labels, &distances, &x, measure));
    }
    Ok(Model { spec: spec.clone(), fitted: Some(fitted) })
}

/// An isolation forest on the encoded rows (the spec's `n_estimators`,
/// `max_samples`, `max_features`, `random_state`), and its threshold: the
/// spec's absolute `threshold`, or the `threshold_quantile` of the training
/// rows' anomaly scores, computed by the scorer's own walk.
fn fit_isolation(spec: &ValidSpec, x: &Array2<f64>) -> Result<Isolation, FitError> {
    use crate::iforest::{IsolationForestParams, MaxSamples};
    use logsieve_artifact::spec::MaxSamples as Spec;
    let m = &spec.model;
    let max_samples = match m.max_samples {
        None | Some(Spec::Auto(_)) => MaxSamples::Auto,
        Some(Spec::Count(c)) => MaxSamples::Count(usize::try_from(c).unwrap_or(usize::MAX)),
        Some(Spec::Fraction(f)) => MaxSamples::Fraction(f),
    };
    let params = IsolationForestParams::new()
        .with_n_estimators(m.n_estimators.unwrap_or(DEFAULT_N_ESTIMATORS) as usize)
        .with_max_samples(max_samples)
        .with_max_features(m.max_features.unwrap_or(1.0))
        .with_random_state(m.random_state)
        .validate()
        .map_err(|e| FitError::Unfit(e.to_string()))?;
    let forest = crate::iforest::fit(x.view(), &params).map_err(|e| FitError::Unfit(e.to_string()))?;
    let threshold = match spec.scoring.threshold {
        Some(t) => t,
        None => {
            let compiled = CompiledForest::new(&forest, x.ncols()).map_err(|e| FitError::Unfit(e.join("; ")))?;
            let mut scores: Vec<f64> = x
                .outer_iter()
                .map(|row| compiled.score(row.as_slice().expect("encoded rows are contiguous")).score)
                .collect();
            quantile(&mut scores, spec.scoring.threshold_quantile)
        }
    };
    Ok(Isolation { forest, threshold })
}

/// The encoded matrix of a k-modes / k-prototypes model split into packed
/// codes and numeric columns.
struct Split {
    codes: Codes,
    numeric: Vec<f64>,
    /// Encoded column of each code column / numeric column.
    code_cols: Vec<usize>,
    numeric_cols: Vec<usize>,
}

impl Split {
    /// Cluster `c`'s centroid in encoded space (codes as numbers).
    fn centroid(&self, fit: &kmodes::KModesFit, c: usize) -> Vec<f64> {
        let (m, p) = (self.code_cols.len(), self.numeric_cols.len());
        let mut v = vec![0.0; m + p];
        for (j, &col) in self.code_cols.iter().enumerate() {
            v[col] = f64::from(fit.modes[c * m + j]);
        }
        for (j, &col) in self.numeric_cols.iter().enumerate() {
            v[col] = fit.means[c * p + j];
        }
        v
    }
}

fn split_codes(features: &[FeatureState], x: &Array2<f64>) -> Result<Split, FitError> {
    let mut code_cols = Vec::new();
    let mut numeric_cols = Vec::new();
    let mut levels = Vec::new();
    for (j, st) in features.iter().enumerate() {
        match st {
            FeatureState::Categorical { vocabulary, .. } => {
                code_cols.push(j);
                levels.push(vocabulary.len() as u32);
            }
            FeatureState::Numeric { .. } => numeric_cols.push(j),
        }
    }
    let n = x.nrows();
    let mut codes = Vec::with_capacity(n * code_cols.len());
    let mut numeric = Vec::with_capacity(n * numeric_cols.len());
    for row in x.outer_iter() {
        codes.extend(code_cols.iter().map(|&j| row[j] as u32));
        numeric.extend(numeric_cols.iter().map(|&j| row[j]));
    }
    let codes = Codes::new(&codes, n, levels).map_err(FitError::Encode)?;
    Ok(Split { codes, numeric, code_cols, numeric_cols })
}

/// Per-cluster size, share, threshold and distance statistics.
pub(crate) fn cluster_stats(
    spec: &ModelSpec,
    labels: &[u32],
    distances: &[f64],
    centroids: Vec<Vec<f64>>,
) -> Vec<Cluster> {
    let k = centroids.len();
    let n = labels.len() as f64;
    // A cluster with too few rows cannot estimate its own quantile: it
    // takes the one learned over all rows.
    let mut all = distances.to_vec();
    let global = quantile(&mut all, spec.scoring.threshold_quantile).max(MIN_THRESHOLD);
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); k];
    for (&l, &d) in labels.iter().zip(distances) {
        per[l as usize].push(d);
    }
    per.into_iter()
        .zip(centroids)
        .map(|(mut ds, centroid)| {
            let size = ds.len() as u64;
            let share = size as f64 / n;
            let mean_distance = if ds.is_empty() { 0.0 } else { ds.iter().sum::<f64>() / ds.len() as f64 };
            let max_distance = ds.iter().copied().fold(0.0, f64::max);
            let threshold = match spec.scoring.threshold {
                Some(t) => t.max(MIN_THRESHOLD),
                None if ds.len() < MIN_ROWS_FOR_OWN_THRESHOLD => global,
                None => quantile(&mut ds, spec.scoring.threshold_quantile).max(MIN_THRESHOLD),
            };
            Cluster {
                centroid,
                size,
                share,
                threshold,
                rare: share < spec.scoring.rare_share,
                mean_distance,
                max_distance,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4], 0.5) = 2.5; 0.999 of 0..=9 = 8.991
        assert_eq!(quantile(&mut [4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        let mut v: Vec<f64> = (0..10).map(f64::from).collect();
        assert!((quantile(&mut v, 0.999) - 8.991).abs() < 1e-12);
        assert_eq!(quantile(&mut [7.0], 0.9), 7.0);
    }

    #[test]
    fn scalers_handle_constant_columns() {
        assert_eq!(scaler(Scaling::Zscore, &[2.0, 2.0]), (2.0, 1.0));
        assert_eq!(scaler(Scaling::Minmax, &[5.0, 5.0]), (5.0, 1.0));
        assert_eq!(scaler(Scaling::Minmax, &[1.0, 3.0, 2.0]), (1.0, 2.0));
        // population std: [1, 3] -> mean 2, std 1
        assert_eq!(scaler(Scaling::Zscore, &[1.0, 3.0]), (2.0, 1.0));
    }
}
