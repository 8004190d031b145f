//! The trained model: the spec plus everything training learned.

use serde::{Deserialize, Serialize};

use crate::spec::{ModelKind, ValidSpec, VectorPrecision};

/// A model artifact's content. A *spec-only* model (`fitted: None`) is what
/// the trainer hands the plugin for its first pass: it can extract features
/// but not score.
///
/// A model is only made from a checked spec; [`crate::decode`] reads the
/// spec, checks it, then checks the rest with [`Model::validate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    /// The spec it was trained from, verbatim.
    pub spec: ValidSpec,
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
    /// flow2vec: the tokens, their vectors, and each token's cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Embedding>,
    /// `[scoring] method = "cblof"`: the large clusters and the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cblof: Option<Cblof>,
    /// `kind = "isolation_forest"`: the trees and the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<crate::forest::Isolation>,
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
        /// `[scaling] one_hot = "scaled"`: per vocabulary value, its one-hot
        /// column's `(offset, scale)`, as a numeric column's; empty when the
        /// columns stay 0/1.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        one_hot_scaling: Vec<(f64, f64)>,
    },
}

impl FeatureState {
    /// Width of this feature in the encoded vector: one coordinate, or
    /// one per vocabulary value when one-hot encoded.
    pub fn width(&self, one_hot: bool) -> usize {
        match self {
            FeatureState::Categorical { vocabulary, .. } if one_hot => vocabulary.len(),
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

/// What `[scoring] method = "cblof"` learned: which clusters are large, and
/// the model's one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cblof {
    /// Per cluster, in label order: whether it is large. Small clusters'
    /// events are scored by their distance to the nearest large cluster.
    pub large: Vec<bool>,
    /// The scored distance beyond which an event is `far_from_centroid`
    /// (`score` = scored distance / threshold): the spec's absolute
    /// `scoring.threshold`, or its quantile of the training rows' scored
    /// distances (at least [`MIN_THRESHOLD`]).
    pub threshold: f64,
}

/// A flow2vec model's embedding. Token `i` is `tokens[i]`; its vector is
/// row `i` of `vectors` (`dim` little-endian `f32`, or `f16` under
/// `precision = "f16"`); its nearest cluster and the distance to it are
/// `labels[i]` and `distances[i]`, computed once when training, so scoring a
/// known token is a look-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// The vocabulary, most frequent first.
    pub tokens: Vec<String>,
    /// Each token's count in training.
    pub counts: Vec<u64>,
    /// Vector dimensions.
    pub dim: u32,
    /// How `vectors` stores each value.
    pub precision: VectorPrecision,
    /// tokens × dim values.
    #[serde(with = "serde_bytes")]
    pub vectors: Vec<u8>,
    /// Each token's nearest cluster.
    pub labels: Vec<u32>,
    /// Each token's distance to it.
    pub distances: Vec<f64>,
    /// With `[flow2vec] sequence = N`: per cluster, the threshold of a
    /// sequence's distance (the quantile of the training sequences').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequence_thresholds: Vec<f64>,
}

impl Embedding {
    /// Bytes per stored value.
    pub fn value_bytes(precision: VectorPrecision) -> usize {
        match precision {
            VectorPrecision::F32 => 4,
            VectorPrecision::F16 => 2,
        }
    }

    /// Store `values` (row-major) at `precision`.
    pub fn pack(values: &[f32], precision: VectorPrecision) -> Vec<u8> {
        match precision {
            VectorPrecision::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            VectorPrecision::F16 => values.iter().flat_map(|v| f32_to_f16(*v).to_le_bytes()).collect(),
        }
    }

    /// Token `i`'s vector into `out` (length `dim`).
    pub fn vector_into(&self, i: usize, out: &mut [f32]) {
        let dim = self.dim as usize;
        let b = Self::value_bytes(self.precision);
        let row = &self.vectors[i * dim * b..(i + 1) * dim * b];
        for (o, c) in out.iter_mut().zip(row.chunks_exact(b)) {
            *o = match self.precision {
                VectorPrecision::F32 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                VectorPrecision::F16 => f16_to_f32(u16::from_le_bytes([c[0], c[1]])),
            };
        }
    }

    /// All vectors, row-major, as f32.
    pub fn values(&self) -> Vec<f32> {
        let dim = self.dim as usize;
        let mut out = vec![0.0; self.tokens.len() * dim];
        for (i, row) in out.chunks_exact_mut(dim.max(1)).enumerate() {
            self.vector_into(i, row);
        }
        out
    }

    pub(crate) fn validate(&self, k: usize, errs: &mut Vec<String>) {
        let (n, dim) = (self.tokens.len(), self.dim as usize);
        if n == 0 || dim == 0 {
            errs.push(format!("embedding: {n} tokens of dimension {dim}; both must be at least 1"));
            return;
        }
        // In u128: in the 32-bit component, `usize` arithmetic wrapped (1
        // token × 2^30 dimensions × 4 bytes was 0 bytes, which an empty
        // `vectors` matched, and the component then trapped allocating
        // 4 GiB); u128 gives the same answer on every target.
        let want = n as u128 * dim as u128 * Self::value_bytes(self.precision) as u128;
        if self.vectors.len() as u128 != want {
            errs.push(format!(
                "embedding: {} bytes of vectors, but {n} tokens × {dim} dimensions at {:?} need {want}",
                self.vectors.len(),
                self.precision
            ));
            return;
        }
        if self.counts.len() != n || self.labels.len() != n || self.distances.len() != n {
            errs.push(format!(
                "embedding: {n} tokens but {} counts, {} labels, {} distances",
                self.counts.len(),
                self.labels.len(),
                self.distances.len()
            ));
        }
        if self.counts.contains(&0) {
            errs.push("embedding: a token has count 0".to_string());
        }
        let mut seen = std::collections::HashSet::with_capacity(n);
        if let Some(t) = self.tokens.iter().find(|t| !seen.insert(t.as_str())) {
            errs.push(format!("embedding: the token {t:?} appears twice"));
        }
        if let Some((i, l)) = self.labels.iter().enumerate().find(|(_, l)| **l as usize >= k) {
            errs.push(format!("embedding: token {i} is in cluster {l}, but there are {k} clusters"));
        }
        if !self.sequence_thresholds.is_empty() && self.sequence_thresholds.len() != k {
            errs.push(format!("embedding: {} sequence thresholds for {k} clusters", self.sequence_thresholds.len()));
        }
        if self.sequence_thresholds.iter().any(|t| !(t.is_finite() && *t >= MIN_THRESHOLD)) {
            errs.push(format!("embedding: a sequence threshold is not finite or below {MIN_THRESHOLD}"));
        }
        if self.distances.iter().any(|d| !(d.is_finite() && *d >= 0.0)) {
            errs.push("embedding: a token distance is negative or not finite".to_string());
        }
        if self.values().iter().any(|v| !v.is_finite()) {
            errs.push("embedding: a vector value is not finite".to_string());
        }
    }
}

/// IEEE 754 half precision from single, rounding to nearest even (the
/// `half` crate; a NaN stays a NaN).
pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// Single precision from IEEE 754 half precision (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
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
    /// `logsieve train --n-clusters A..B`: every k that was fitted, and
    /// which one this model is. Absent from models trained with one k (and
    /// from artifacts written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
}

/// A sweep over `n_clusters`: the same trainer, `n_init` and
/// `random_state` for every k.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sweep {
    /// One per k, in increasing k.
    pub points: Vec<SweepPoint>,
    /// The k at the elbow of the inertia curve (the point farthest from the
    /// line joining the first and the last point, both axes scaled to
    /// [0, 1]); `None` when the curve has none (a straight line).
    pub elbow: Option<u32>,
    /// The k this model was fitted with.
    pub chosen: u32,
    /// What chose it: `elbow`, `silhouette` (the highest) or `given`.
    pub rule: String,
    /// Rows the silhouette was computed on (a deterministic sample of the
    /// training rows; 0 when it was not computed).
    pub silhouette_rows: u64,
}

/// One k of a [`Sweep`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SweepPoint {
    /// k.
    pub n_clusters: u32,
    /// The inertia (k-means) or cost (k-modes, k-prototypes) of the best start.
    pub inertia: f64,
    /// The mean silhouette coefficient (scikit-learn's `silhouette_score`,
    /// Euclidean, on the scaled features); `None` where it is not defined
    /// (fewer than 2 clusters in the sample) or not computed (k-modes).
    #[serde(default)]
    pub silhouette: Option<f64>,
    /// Lloyd iterations (or k-modes passes) of the best start.
    pub n_iter: u32,
}

impl Model {
    /// Width of the encoded vector, if fitted.
    pub fn dimension(&self) -> Option<usize> {
        let one_hot = self.spec.model.kind.one_hot();
        self.fitted.as_ref().map(|f| match (&f.embedding, self.spec.model.kind) {
            (Some(e), ModelKind::Flow2vec) => e.dim as usize,
            (None, ModelKind::Flow2vec) => 0,
            _ => f.features.iter().map(|s| s.width(one_hot)).sum(),
        })
    }

    /// Check that the learned state is consistent with the spec (the rules
    /// of [`crate::consistency`]); every problem is listed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let errs = crate::consistency::problems(self);
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_meta_without_a_sweep_decodes_and_one_with_it_round_trips() {
        // The training metadata as written before `sweep` existed.
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Before {
            rows: u64,
            skipped: u64,
            inertia: f64,
            n_iter: u32,
            inputs: Vec<String>,
            created_unix: i64,
            logsieve_version: String,
        }
        let old = Before {
            rows: 10,
            skipped: 1,
            inertia: 2.5,
            n_iter: 3,
            inputs: vec!["a.log".into()],
            created_unix: 7,
            logsieve_version: "0.1.0".into(),
        };
        let bytes = rmp_serde::to_vec_named(&old).unwrap();
        let back: TrainingMeta = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back.sweep, None);
        assert_eq!((back.rows, back.inertia, back.logsieve_version.as_str()), (10, 2.5, "0.1.0"));
        // Without a sweep nothing is written for it: the bytes are the old ones.
        assert_eq!(rmp_serde::to_vec_named(&back).unwrap(), bytes);

        let swept = TrainingMeta {
            sweep: Some(Sweep {
                points: vec![
                    SweepPoint { n_clusters: 2, inertia: 9.0, silhouette: Some(0.5), n_iter: 4 },
                    SweepPoint { n_clusters: 3, inertia: 4.0, silhouette: None, n_iter: 6 },
                ],
                elbow: Some(3),
                chosen: 3,
                rule: "elbow".into(),
                silhouette_rows: 10,
            }),
            ..back
        };
        let bytes = rmp_serde::to_vec_named(&swept).unwrap();
        assert_eq!(rmp_serde::from_slice::<TrainingMeta>(&bytes).unwrap(), swept);
        // A reader from before the field skips it (no deny_unknown_fields).
        assert_eq!(rmp_serde::from_slice::<Before>(&bytes).unwrap(), old);
    }

    #[test]
    fn an_embedding_size_is_computed_without_wrapping() {
        // Found reviewing the checks the fuzzer exercises: on wasm32,
        // 1 × 2^30 × 4 wrapped to 0 (tests/corrupt_models.rs checks the
        // component itself).
        let e = Embedding {
            tokens: vec!["a".into()],
            counts: vec![1],
            dim: 1 << 30,
            precision: VectorPrecision::F32,
            vectors: vec![],
            labels: vec![0],
            distances: vec![0.0],
            sequence_thresholds: vec![],
        };
        let mut errs = Vec::new();
        e.validate(1, &mut errs);
        assert_eq!(
            errs,
            ["embedding: 0 bytes of vectors, but 1 tokens × 1073741824 dimensions at F32 need 4294967296".to_string()]
        );
    }

    #[test]
    fn half_precision_round_trips_and_rounds_to_nearest_even() {
        // Every half value (NaNs aside) survives the trip through f32.
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f32_to_f16(f) & 0x7c00 == 0x7c00 && f32_to_f16(f) & 0x3ff != 0);
                continue;
            }
            assert_eq!(f32_to_f16(f), h, "half {h:#06x} = {f}");
        }
        for (x, h) in [
            (1.0f32, 0x3c00u16),
            (-2.0, 0xc000),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00),        // rounds up to infinity
            (5.960_464_5e-8, 0x0001), // 2^-24, the smallest subnormal
            (2.980_232_2e-8, 0x0000), // half of it: ties to even (0)
            (0.1, 0x2e66),
            (1.0 + 1.0 / 2048.0, 0x3c00), // halfway between 1 and the next: even
            (1.0 + 3.0 / 2048.0, 0x3c02), // halfway, odd below: up
            (f32::INFINITY, 0x7c00),
        ] {
            assert_eq!(f32_to_f16(x), h, "{x}");
        }
        let v = [0.5f32, -0.25, 3.0e-3, 1234.5];
        for p in [VectorPrecision::F32, VectorPrecision::F16] {
            let e = Embedding {
                tokens: vec!["a".into()],
                counts: vec![1],
                dim: 4,
                precision: p,
                vectors: Embedding::pack(&v, p),
                labels: vec![0],
                distances: vec![0.0],
                sequence_thresholds: vec![],
            };
            let back = e.values();
            for (a, b) in v.iter().zip(&back) {
                assert!((a - b).abs() <= a.abs() * 1e-3, "{p:?}: {a} -> {b}");
            }
            assert_eq!(e.vectors.len(), 4 * Embedding::value_bytes(p));
        }
    }
}
