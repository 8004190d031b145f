//! The trained model: the spec plus everything training learned.

use serde::{Deserialize, Serialize};

use crate::spec::{FeatureKind, ModelKind, ModelSpec};

/// A model artifact's content. A *spec-only* model (`fitted: None`) is what
/// the trainer hands the plugin for its first pass: it can extract features
/// but not score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The spec it was trained from, verbatim.
    pub spec: ModelSpec,
    /// What training learned; `None` for a spec-only model.
    pub fitted: Option<Fitted>,
}

/// What training learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    /// One entry per spec feature, in spec order.
    pub features: Vec<FeatureState>,
    /// The clusters, in label order.
    pub clusters: Vec<Cluster>,
    /// k-prototypes: the weight of a categorical mismatch in effect (the
    /// spec's `gamma`, or the default learned from the data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// How the model was made.
    pub training: TrainingMeta,
}

/// The learned state of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeatureState {
    /// A numeric feature scales as `(x - offset) / scale`.
    Numeric {
        /// Subtracted first: the mean (z-score), the minimum (min-max) or 0.
        offset: f64,
        /// Divided by: the std (z-score), the range (min-max) or 1; never 0.
        scale: f64,
        /// The value a missing field takes under `missing = "mean"`
        /// (the training mean after `log1p`), else the zero value.
        fill: f64,
    },
    /// A categorical feature, over its vocabulary (sorted, as numpy's
    /// `unique`). k-means one-hot encodes it (a value outside the
    /// vocabulary encodes as all zeros); k-modes and k-prototypes use the
    /// value's index in the vocabulary as its code (a value outside it is
    /// -1, as the `kmodes` package does, and differs from every mode).
    /// Unseen values are reported.
    Categorical {
        /// The values seen in training, sorted.
        vocabulary: Vec<String>,
    },
}

impl FeatureState {
    /// Width of this feature in the encoded vector: one coordinate, or
    /// one per vocabulary value when one-hot encoded.
    pub fn width(&self, one_hot: bool) -> usize {
        match self {
            FeatureState::Categorical { vocabulary } if one_hot => vocabulary.len(),
            _ => 1,
        }
    }
}

/// One cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// The centroid in the encoded, scaled space. For k-modes and
    /// k-prototypes a categorical coordinate is the mode's code (its index
    /// in the feature's vocabulary).
    pub centroid: Vec<f64>,
    /// Training rows assigned to it.
    pub size: u64,
    /// `size / rows`.
    pub share: f64,
    /// Distance beyond which an event is `far_from_centroid`: the spec's
    /// quantile of the training distances in this cluster (over all rows
    /// for clusters of fewer than 10 rows; at least [`MIN_THRESHOLD`]).
    pub threshold: f64,
    /// Whether the cluster is rare (`share < scoring.rare_share`).
    pub rare: bool,
    /// Mean training distance to the centroid.
    pub mean_distance: f64,
    /// Largest training distance to the centroid.
    pub max_distance: f64,
}

/// The smallest threshold a cluster gets, so that `score = distance /
/// threshold` stays finite for clusters of identical rows.
pub const MIN_THRESHOLD: f64 = 1e-9;

/// How a model was made.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrainingMeta {
    /// Rows the model was fitted on.
    pub rows: u64,
    /// Events read that could not be used (they had errors).
    pub skipped: u64,
    /// The objective of the winning start: the sum of squared distances of
    /// the rows to their centroids (k-means), or the cost (k-modes: the sum
    /// of mismatches; k-prototypes: the sum of mixed costs).
    pub inertia: f64,
    /// Iterations of the winning start.
    pub n_iter: u32,
    /// The input files or patterns.
    pub inputs: Vec<String>,
    /// Creation time, seconds since the Unix epoch (UTC).
    pub created_unix: i64,
    /// The logsieve version that wrote it.
    pub logsieve_version: String,
}

impl Model {
    /// Width of the encoded vector, if fitted.
    pub fn dimension(&self) -> Option<usize> {
        let one_hot = self.spec.model.kind.one_hot();
        self.fitted.as_ref().map(|f| f.features.iter().map(|s| s.width(one_hot)).sum())
    }

    /// Check that a decoded model is consistent; every problem is listed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = match self.spec.validate() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| format!("spec: {e}")).collect(),
        };
        let Some(fitted) = &self.fitted else {
            return if errs.is_empty() { Ok(()) } else { Err(errs) };
        };
        if fitted.features.len() != self.spec.features.len() {
            errs.push(format!(
                "the spec declares {} features but the model has learned state for {}",
                self.spec.features.len(),
                fitted.features.len()
            ));
        }
        for (i, (spec, state)) in self.spec.features.iter().zip(&fitted.features).enumerate() {
            match (spec.kind, state) {
                (FeatureKind::Numeric, FeatureState::Numeric { offset, scale, fill }) => {
                    if !(offset.is_finite() && fill.is_finite() && scale.is_finite() && *scale > 0.0) {
                        errs.push(format!(
                            "feature {i} ({}): scaler offset {offset}, scale {scale}, fill {fill} must be finite with scale > 0",
                            spec.name()
                        ));
                    }
                }
                (FeatureKind::Categorical, FeatureState::Categorical { vocabulary }) => {
                    if vocabulary.windows(2).any(|w| w[0] >= w[1]) {
                        errs.push(format!("feature {i} ({}): vocabulary is not sorted and unique", spec.name()));
                    }
                }
                _ => errs.push(format!(
                    "feature {i} ({}): the learned state is of another type than the spec's",
                    spec.name()
                )),
            }
        }
        if fitted.clusters.is_empty() {
            errs.push("the model has no clusters".to_string());
        }
        let (k, want) = (fitted.clusters.len(), self.spec.model.n_clusters as usize);
        // k-modes, like the `kmodes` package, makes one cluster per distinct
        // row when there are fewer distinct rows than n_clusters.
        let fewer_ok = !self.spec.model.kind.one_hot() && k < want;
        if k != want && !fewer_ok {
            errs.push(format!("the spec asks for {want} clusters but the model has {k}"));
        }
        match (self.spec.model.kind, fitted.gamma) {
            (ModelKind::Kprototypes, Some(g)) if g.is_finite() && g >= 0.0 => {}
            (ModelKind::Kprototypes, g) => {
                errs.push(format!("a kprototypes model needs a finite gamma >= 0, has {g:?}"))
            }
            (_, None) => {}
            (kind, Some(_)) => errs.push(format!("a {} model has no gamma", kind.as_str())),
        }
        let dim = self.dimension().unwrap_or(0);
        // Where the codes are: (coordinate, vocabulary size) of each
        // categorical feature of a k-modes / k-prototypes model.
        let codes: Vec<(usize, usize)> = if self.spec.model.kind.one_hot() {
            Vec::new()
        } else {
            fitted
                .features
                .iter()
                .enumerate()
                .filter_map(|(i, s)| match s {
                    FeatureState::Categorical { vocabulary } => Some((i, vocabulary.len())),
                    FeatureState::Numeric { .. } => None,
                })
                .collect()
        };
        for (c, cl) in fitted.clusters.iter().enumerate() {
            if cl.centroid.len() != dim {
                errs.push(format!(
                    "cluster {c}: centroid has dimension {} but the features encode to {dim}",
                    cl.centroid.len()
                ));
            }
            if cl.centroid.iter().any(|v| !v.is_finite()) {
                errs.push(format!("cluster {c}: centroid has a non-finite coordinate"));
            }
            for &(at, n) in &codes {
                if let Some(&v) = cl.centroid.get(at)
                    && !(v >= 0.0 && v < n as f64 && v.fract() == 0.0)
                {
                    errs.push(format!(
                        "cluster {c}: the mode of feature {at} ({}) is code {v}, not one of the {n} vocabulary indices",
                        self.spec.features.get(at).map_or("?", |f| f.name())
                    ));
                }
            }
            if !(cl.threshold.is_finite() && cl.threshold >= MIN_THRESHOLD) {
                errs.push(format!("cluster {c}: threshold {} must be finite and >= {MIN_THRESHOLD}", cl.threshold));
            }
            if !(cl.share.is_finite() && (0.0..=1.0).contains(&cl.share)) {
                errs.push(format!("cluster {c}: share {} must be in [0, 1]", cl.share));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}
