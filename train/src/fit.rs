//! Fitting a whole model from extracted rows, and choosing `n_clusters`:
//! everything `logsieve train` does between reading the logs and writing the
//! artifact. The CLI keeps the I/O and draws the [`Progress`].
//!
//! - [`fit`]: the spec's model (k-means, k-modes, k-prototypes or
//!   flow2vec) on the rows.
//! - [`sweep`]: every k of a range fitted the same way (same `n_init`,
//!   `random_state`); the inertia (the cost for k-modes) and, for k-means,
//!   the silhouette of each; the elbow of the curve; the model of the k a
//!   [`Pick`] chooses, with the sweep recorded in it.

use std::time::Instant;

use logsieve_artifact::model::{Sweep, SweepPoint};
use logsieve_artifact::{Model, ModelKind, ValidSpec};
use logsieve_plugin::FeatureValue;
use logsieve_plugin::features::Encoder;

use crate::flow2vec::{Flow2VecReport, fit_flow2vec};
use crate::model::{FitError, Provenance, encode_rows, fit_model};
use crate::progress::Progress;
use crate::silhouette::{DEFAULT_SAMPLE_SIZE, sample_indices, silhouette_score};

/// A fitted model, and what its embedding step did (flow2vec models).
#[derive(Debug, Clone)]
pub struct Fit {
    /// The model, ready to encode.
    pub model: Model,
    /// flow2vec: word2vec's report.
    pub flow2vec: Option<Flow2VecReport>,
}

/// Fit the spec's model on `rows` (one per event, in input order, as the
/// component extracted them). `threads`: word2vec workers for flow2vec
/// models (0 = all cores; 1 = the same vectors for the same `random_state`,
/// bit for bit).
pub fn fit(
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    provenance: Provenance,
    threads: usize,
    progress: &mut dyn Progress,
) -> Result<Fit, FitError> {
    if spec.model.kind == ModelKind::Flow2vec {
        let (model, report) = fit_flow2vec(spec, rows, provenance, threads, progress)?;
        return Ok(Fit { model, flow2vec: Some(report) });
    }
    Ok(Fit { model: fit_model(spec, rows, provenance, progress)?, flow2vec: None })
}

/// Which k of a sweep to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The elbow of the inertia curve.
    Elbow,
    /// The highest silhouette (k-means only).
    Silhouette,
    /// This k.
    Given(u32),
}

impl Pick {
    /// The rule's name as recorded in the sweep (`elbow`, `silhouette`,
    /// `given`).
    pub fn rule(self) -> &'static str {
        match self {
            Pick::Elbow => "elbow",
            Pick::Silhouette => "silhouette",
            Pick::Given(_) => "given",
        }
    }
}

/// The elbow of a curve `(k, inertia)` given in increasing k ("kneedle"):
/// both axes scaled to [0, 1], the interior point farthest from the straight
/// line joining the first and the last point (ties: the smaller k). `None`
/// with fewer than three points, or when no point lies off that line.
pub fn elbow(points: &[(f64, f64)]) -> Option<usize> {
    if points.len() < 3 {
        return None;
    }
    let (x0, xn) = (points[0].0, points[points.len() - 1].0);
    let ymin = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let ymax = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (sx, sy) = (xn - x0, ymax - ymin);
    if !(sx > 0.0 && sy > 0.0 && sy.is_finite()) {
        return None;
    }
    let scaled: Vec<(f64, f64)> = points.iter().map(|&(x, y)| ((x - x0) / sx, (y - ymin) / sy)).collect();
    let (a, b) = (scaled[0], scaled[scaled.len() - 1]);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    let mut best: Option<(usize, f64)> = None;
    for (i, &(x, y)) in scaled.iter().enumerate().take(scaled.len() - 1).skip(1) {
        let d = (dx * (y - a.1) - dy * (x - a.0)).abs() / len;
        if d > 1e-12 && best.is_none_or(|(_, bd)| d > bd) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

/// Why `--n-clusters a..b` cannot be swept over `n` rows (`b > n`).
pub fn range_beyond_rows((a, b): (u32, u32), n: usize) -> String {
    format!(
        "--n-clusters {a}..{b}: there are only {n} training rows, and k cannot be more than the rows; use a range \
         up to {n} at most"
    )
}

/// Fit every k of `a..=b` with the spec's trainer, `n_init` and
/// `random_state`, exactly as [`fit`] fits one k; the inertia (cost) of
/// each, and for k-means the silhouette on the scaled features of a
/// deterministic sample of at most [`DEFAULT_SAMPLE_SIZE`] rows (the same
/// for every k, labelled by the nearest centroid, the fit's final labels).
/// Returns the model of the k `pick` chooses, with the sweep in its
/// `training.sweep`.
pub fn sweep(
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    (a, b): (u32, u32),
    pick: Pick,
    provenance: &Provenance,
    progress: &mut dyn Progress,
) -> Result<Model, FitError> {
    let m = &spec.model;
    if m.kind == ModelKind::Flow2vec {
        return Err(FitError::Unfit(format!(
            "--n-clusters {a}..{b}: a sweep over k is for kmeans, kmodes and kprototypes models, not flow2vec"
        )));
    }
    if b as usize > rows.len() {
        return Err(FitError::Unfit(range_beyond_rows((a, b), rows.len())));
    }
    let kmeans = m.kind == ModelKind::Kmeans;
    if pick == Pick::Silhouette && !kmeans {
        return Err(FitError::Unfit(format!(
            "--pick silhouette: the silhouette is computed for kmeans models only (this spec is {}); use --pick \
             elbow or --pick K",
            m.kind.as_str()
        )));
    }
    if let Pick::Given(k) = pick
        && !(a..=b).contains(&k)
    {
        return Err(FitError::Unfit(format!("--pick {k} is outside --n-clusters {a}..{b}")));
    }
    // The silhouette's rows: a deterministic sample, the same for every k.
    let sample = if kmeans { sample_indices(rows.len(), DEFAULT_SAMPLE_SIZE, m.random_state) } else { Vec::new() };
    let sample_rows: Vec<Vec<FeatureValue>> = sample.iter().map(|&i| rows[i].clone()).collect();
    let count = (b - a + 1) as usize;
    let mut points = Vec::new();
    let mut models = Vec::new();
    for k in a..=b {
        let t = Instant::now();
        progress.sweep_fit(k, (k - a) as usize, count);
        let s =
            spec.with_n_clusters(k).map_err(|e| FitError::Unfit(format!("with n_clusters = {k}: {}", e.join("; "))))?;
        let prov = Provenance {
            inputs: provenance.inputs.clone(),
            skipped: provenance.skipped,
            created_unix: provenance.created_unix,
        };
        let model =
            fit(&s, rows, prov, 0, progress).map_err(|e| FitError::Unfit(format!("with n_clusters = {k}: {e}")))?.model;
        let fitted = model.fitted.as_ref().expect("fit returns a fitted model");
        let silhouette = if kmeans {
            progress.silhouette();
            let xs = encode_rows(&Encoder::new(&s, fitted), &sample_rows)?;
            let centroids: Vec<f64> = fitted.clusters.iter().flat_map(|c| c.centroid.iter().copied()).collect();
            let labels: Vec<u32> = xs
                .rows()
                .into_iter()
                .map(|r| {
                    logsieve_plugin::nearest::euclidean(r.as_slice().expect("a standard-layout row"), &centroids).0
                        as u32
                })
                .collect();
            silhouette_score(xs.view(), &labels)
        } else {
            None
        };
        let point =
            SweepPoint { n_clusters: k, inertia: fitted.training.inertia, silhouette, n_iter: fitted.training.n_iter };
        progress.sweep_point(&point, t.elapsed().as_secs_f64());
        points.push(point);
        models.push(model);
    }
    let curve: Vec<(f64, f64)> = points.iter().map(|p| (f64::from(p.n_clusters), p.inertia)).collect();
    let elbow_at = elbow(&curve);
    let elbow_k = elbow_at.map(|i| points[i].n_clusters);
    let chosen = match pick {
        Pick::Elbow => elbow_k.unwrap_or(a),
        Pick::Given(k) => k,
        Pick::Silhouette => {
            let best = points.iter().filter_map(|p| p.silhouette.map(|s| (p.n_clusters, s))).fold(
                None,
                |best: Option<(u32, f64)>, (k, s)| match best {
                    Some((_, bs)) if bs >= s => best,
                    _ => Some((k, s)),
                },
            );
            match best {
                Some((k, _)) => k,
                None => return Err(FitError::Unfit("--pick silhouette: no silhouette was computed".into())),
            }
        }
    };
    let mut model = models.swap_remove((chosen - a) as usize);
    let sweep =
        Sweep { points, elbow: elbow_k, chosen, rule: pick.rule().to_string(), silhouette_rows: sample.len() as u64 };
    model.fitted.as_mut().expect("fit returns a fitted model").training.sweep = Some(sweep);
    Ok(model)
}
