//! The model spec: what a user declares in `model.toml` before training.
//!
//! The spec names the model kind and its hyper-parameters, the features to
//! extract from each event, how to scale them and how to turn distances into
//! anomaly verdicts. It is stored verbatim inside every artifact, so the
//! plugin extracts exactly what the trainer extracted.
//!
//! ```toml
//! [model]
//! kind = "kmeans"
//! n_clusters = 7
//! n_init = 10
//! random_state = 0
//!
//! [scaling]
//! method = "zscore"
//!
//! [scoring]
//! threshold_quantile = 0.999
//! rare_share = 0.01
//!
//! [[features]]
//! field = "duration"
//! type = "numeric"
//! log1p = true
//! missing = "zero"
//!
//! [[features]]
//! field = "proto"
//! type = "categorical"
//! ```
//!
//! Every table refuses unknown keys, so a typo is an error naming the key.

mod language;

use serde::{Deserialize, Serialize};

pub use language::{
    AggregateField, AggregateOp, AggregateSpec, Arity, DeriveOp, DeriveSpec, Duration, FilterParams, FilterSpec,
    InputParams, Literal, Test, Unmatched, UtcOffset, Window,
};

/// The whole spec (`model.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The clustering model and its hyper-parameters.
    pub model: ModelParams,
    /// How numeric features are scaled before clustering.
    #[serde(default)]
    pub scaling: ScalingParams,
    /// How distances become verdicts.
    #[serde(default)]
    pub scoring: ScoringParams,
    /// The features, in vector order. They read event fields, derived
    /// fields, or (with `[aggregate]`) the aggregate's fields.
    pub features: Vec<FeatureSpec>,
    /// `[input]`: event time and field aliases.
    #[serde(default)]
    pub input: InputParams,
    /// `[[where]]`: conditions an event must meet to be scored (all of them).
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterSpec>,
    /// `[train]`: what only training does (`[[train.where]]`).
    #[serde(default, skip_serializing_if = "TrainParams::is_empty")]
    pub train: TrainParams,
    /// `[filter]`: what happens to events that do not meet `[[where]]`.
    #[serde(default)]
    pub filter: FilterParams,
    /// `[[derive]]`: computed fields, evaluated in order after the filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derive: Vec<DeriveSpec>,
    /// `[aggregate]`: per-key windows; the model then scores one aggregate
    /// event per key and window instead of each event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<AggregateSpec>,
    /// `[flow2vec]`: the embedding's parameters (`kind = "flow2vec"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow2vec: Option<Flow2VecParams>,
}

/// `[flow2vec]`: each event is a token — its categorical features joined
/// with `|` (the flow tuple) — and runs of `sentence_length` consecutive
/// events are sentences; skip-gram word2vec embeds the tokens, k-means
/// clusters the vectors. Names and defaults as gensim's `Word2Vec`, except
/// those the flow2vec notebook sets (`vector_size`, `window`, `negative`,
/// `min_count`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow2VecParams {
    /// Flows per sentence (default 30).
    #[serde(default = "default_sentence_length")]
    pub sentence_length: u32,
    /// Dimensions of a token's vector (default 100).
    #[serde(default = "default_vector_size")]
    pub vector_size: u32,
    /// Context tokens on each side (default 30; drawn smaller per position).
    #[serde(default = "default_w2v_window")]
    pub window: u32,
    /// Noise tokens per positive pair (default 10).
    #[serde(default = "default_negative")]
    pub negative: u32,
    /// Down-sampling of frequent tokens (default 1e-3; 0 disables).
    #[serde(default = "default_sample")]
    pub sample: f64,
    /// Tokens seen fewer times are left out of the vocabulary (default 1).
    #[serde(default = "default_min_count")]
    pub min_count: u64,
    /// Passes over the sentences (default 5).
    #[serde(default = "default_epochs")]
    pub epochs: u32,
    /// Initial learning rate (default 0.025), decaying linearly to
    /// `min_alpha` (default 0.0001).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Final learning rate.
    #[serde(default = "default_min_alpha")]
    pub min_alpha: f64,
    /// How a vector is compared with the centroids: `euclidean` (default,
    /// as k-means on the raw vectors in the notebook) or `cosine` (vectors
    /// and centroids unit-length; distance = 1 − cosine similarity).
    #[serde(default)]
    pub metric: VectorMetric,
    /// How vectors are stored in the artifact: `f32` (default) or `f16`
    /// (half the size).
    #[serde(default)]
    pub precision: VectorPrecision,
    /// Features an unseen token's stand-in shares: the most frequent known
    /// token with the same values of these features is scored in its place
    /// (e.g. `["SrcAddr", "Dport"]`: same source, same port). Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relative: Vec<String>,
    /// N > 0: also score each key's *sequence* — the mean vector of its
    /// last N flows with known tokens — against the centroids, to catch
    /// unusual sequences of ordinary flows (reason `unusual_sequence`).
    /// 0 (default): off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sequence: u32,
    /// The features that key a sequence (default: the first feature, e.g.
    /// the source address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequence_key: Vec<String>,
}

/// The longest flow2vec sequence (flows per key).
pub const MAX_SEQUENCE: u32 = 1000;

fn is_zero(v: &u32) -> bool {
    *v == 0
}

const fn default_sentence_length() -> u32 {
    30
}
const fn default_vector_size() -> u32 {
    100
}
const fn default_w2v_window() -> u32 {
    30
}
const fn default_negative() -> u32 {
    10
}
const fn default_sample() -> f64 {
    1e-3
}
const fn default_min_count() -> u64 {
    1
}
const fn default_epochs() -> u32 {
    5
}
const fn default_alpha() -> f64 {
    0.025
}
const fn default_min_alpha() -> f64 {
    0.0001
}

impl Default for Flow2VecParams {
    fn default() -> Self {
        Flow2VecParams {
            sentence_length: default_sentence_length(),
            vector_size: default_vector_size(),
            window: default_w2v_window(),
            negative: default_negative(),
            sample: default_sample(),
            min_count: default_min_count(),
            epochs: default_epochs(),
            alpha: default_alpha(),
            min_alpha: default_min_alpha(),
            metric: VectorMetric::default(),
            precision: VectorPrecision::default(),
            relative: Vec::new(),
            sequence: 0,
            sequence_key: Vec::new(),
        }
    }
}

/// How token vectors are compared with centroids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorMetric {
    /// Euclidean distance on the raw vectors.
    #[default]
    Euclidean,
    /// 1 − cosine similarity; vectors and centroids are unit-length.
    Cosine,
}

/// How vectors are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorPrecision {
    /// 4 bytes per value.
    #[default]
    F32,
    /// 2 bytes per value (IEEE half precision).
    F16,
}

impl ModelSpec {
    /// A spec of `model` and `features` with every other table at its
    /// default (as a stored model reads; a `model.toml` with only those
    /// tables is this after [`ModelSpec::with_new_spec_defaults`]).
    pub fn new(model: ModelParams, features: Vec<FeatureSpec>) -> Self {
        ModelSpec {
            model,
            scaling: ScalingParams::default(),
            scoring: ScoringParams::default(),
            features,
            input: InputParams::default(),
            filters: Vec::new(),
            train: TrainParams::default(),
            filter: FilterParams::default(),
            derive: Vec::new(),
            aggregate: None,
            flow2vec: None,
        }
    }
}

/// `[model]`: the algorithm and its hyper-parameters (scikit-learn's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// The model kind: `kmeans` (default), `kmodes`, `kprototypes`,
    /// `flow2vec` or `isolation_forest`.
    #[serde(default)]
    pub kind: ModelKind,
    /// Number of clusters (k); required by the clustering kinds, absent
    /// for `isolation_forest`.
    #[serde(default)]
    pub n_clusters: u32,
    /// Number of starts; the lowest inertia (k-means) or cost (k-modes,
    /// k-prototypes) wins.
    #[serde(default = "default_n_init")]
    pub n_init: u32,
    /// Seed of the random starts; the same seed gives the same model.
    #[serde(default)]
    pub random_state: u64,
    /// Maximum iterations per start (Lloyd passes, or k-modes passes over
    /// the rows).
    #[serde(default = "default_max_iter")]
    pub max_iter: u32,
    /// k-means: convergence tolerance, relative to the mean column variance
    /// (as scikit-learn); Lloyd also stops when no label changes. k-modes
    /// stops when no row moves or the cost stops falling.
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// How the starts are chosen: `k-means++` (k-means, the default there),
    /// `huang` or `cao` (k-modes and k-prototypes; default `cao`, as the
    /// `kmodes` package). `cao` is deterministic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    /// k-prototypes: the weight of one categorical mismatch against the
    /// squared Euclidean distance of the scaled numeric part. Default: half
    /// the mean standard deviation of the scaled numeric columns (as
    /// `kmodes.KPrototypes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// isolation_forest: the number of trees (scikit-learn's default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_estimators: Option<u32>,
    /// isolation_forest: the rows each tree is grown on: `"auto"`
    /// (default, `min(256, rows)`), a count, or a fraction of the rows in
    /// (0, 1], as scikit-learn's `max_samples`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples: Option<MaxSamples>,
    /// isolation_forest: the fraction of the encoded columns each tree
    /// sees, in (0, 1] (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_features: Option<f64>,
}

/// `[model] max_samples` of an isolation forest (scikit-learn's spelling:
/// `"auto"`, an integer count, or a float fraction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaxSamples {
    /// A number of rows (`max_samples = 128`); all rows when there are fewer.
    Count(u64),
    /// A fraction of the rows (`max_samples = 0.5`), in (0, 1].
    Fraction(f64),
    /// `"auto"`: `min(256, rows)`.
    Auto(AutoSamples),
}

/// The word `"auto"` of [`MaxSamples::Auto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutoSamples {
    /// `"auto"`.
    #[serde(rename = "auto")]
    Auto,
}

/// scikit-learn's default number of trees.
pub const DEFAULT_N_ESTIMATORS: u32 = 100;

/// The most trees an isolation forest may have.
pub const MAX_N_ESTIMATORS: u32 = 100_000;

/// Bounds of the size keys (`n_clusters`, `n_init`, `max_iter` and
/// flow2vec's), so that a typo is refused with its key rather than met as
/// an allocation failure: a model of more clusters, starts or iterations
/// than these is no model logsieve can fit or score in a pipeline.
pub const MAX_N_CLUSTERS: u32 = 100_000;
/// See [`MAX_N_CLUSTERS`].
pub const MAX_N_INIT: u32 = 1_000;
/// See [`MAX_N_CLUSTERS`].
pub const MAX_ITER: u32 = 1_000_000;
/// flow2vec: the most flows per sentence, dimensions, context tokens,
/// noise tokens and epochs.
pub const MAX_FLOW2VEC: [(&str, u32); 5] =
    [("sentence_length", 100_000), ("vector_size", 4_096), ("window", 10_000), ("negative", 1_000), ("epochs", 10_000)];

/// How the starts of a clustering run are chosen. Written lower-case;
/// read in any case, so the kmodes package's spellings (`init="Huang"`,
/// `"Cao"`) and scikit-learn's (`"k-means++"`) are taken as users copy them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Init {
    /// k-means++ (scikit-learn's greedy variant).
    #[serde(rename = "k-means++")]
    KMeansPlusPlus,
    /// Huang (1997): modes drawn by value frequency, then moved to the
    /// nearest distinct row.
    #[serde(rename = "huang")]
    Huang,
    /// Cao et al. (2009): by density and distance; deterministic.
    #[serde(rename = "cao")]
    Cao,
}

impl<'de> Deserialize<'de> for Init {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const NAMES: &[&str] = &["k-means++", "huang", "cao"];
        let name = String::deserialize(d)?;
        match name.to_ascii_lowercase().as_str() {
            "k-means++" => Ok(Init::KMeansPlusPlus),
            "huang" => Ok(Init::Huang),
            "cao" => Ok(Init::Cao),
            _ => Err(serde::de::Error::unknown_variant(&name, NAMES)),
        }
    }
}

impl Init {
    /// The name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Init::KMeansPlusPlus => "k-means++",
            Init::Huang => "huang",
            Init::Cao => "cao",
        }
    }
}

impl ModelParams {
    /// `kind` with `n_clusters` and every other parameter at its default.
    pub fn new(kind: ModelKind, n_clusters: u32) -> Self {
        ModelParams {
            kind,
            n_clusters,
            n_init: default_n_init(),
            random_state: 0,
            max_iter: default_max_iter(),
            tol: default_tol(),
            init: None,
            gamma: None,
            n_estimators: None,
            max_samples: None,
            max_features: None,
        }
    }

    /// The init method in effect: the spec's, or the kind's default.
    pub fn init_method(&self) -> Init {
        self.init.unwrap_or(match self.kind {
            ModelKind::Kmeans => Init::KMeansPlusPlus,
            ModelKind::Kmodes | ModelKind::Kprototypes => Init::Cao,
            ModelKind::Flow2vec | ModelKind::IsolationForest => Init::KMeansPlusPlus,
        })
    }
}

const fn default_n_init() -> u32 {
    10
}
const fn default_max_iter() -> u32 {
    300
}
const fn default_tol() -> f64 {
    1e-4
}

/// The model kinds an artifact can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// k-means: Euclidean distance to the nearest centroid; categorical
    /// features are one-hot encoded.
    #[default]
    Kmeans,
    /// k-modes: categorical features only; the distance is the number of
    /// fields that differ from the nearest mode.
    Kmodes,
    /// k-prototypes: numeric and categorical features; the distance is the
    /// squared Euclidean distance of the scaled numeric part plus `gamma`
    /// times the number of categorical mismatches.
    Kprototypes,
    /// flow2vec: each event's categorical features form a token, embedded
    /// by skip-gram word2vec; k-means on the vectors; the distance is the
    /// token vector's to its centroid (see `[flow2vec]`).
    Flow2vec,
    /// isolation forest (scikit-learn's `IsolationForest`): numeric
    /// features and one-hot categoricals, encoded as for k-means; the
    /// distance is the anomaly score `2^(−E[h]/c(ψ))` in (0, 1]
    /// (scikit-learn's `score_samples` negated); no clusters.
    IsolationForest,
}

impl ModelKind {
    /// The kind's name as written in specs and artifacts.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Kmeans => "kmeans",
            ModelKind::Kmodes => "kmodes",
            ModelKind::Kprototypes => "kprototypes",
            ModelKind::Flow2vec => "flow2vec",
            ModelKind::IsolationForest => "isolation_forest",
        }
    }

    /// Whether categorical features are one-hot encoded (k-means) rather
    /// than compared as codes (k-modes, k-prototypes) or joined into a
    /// token (flow2vec).
    pub fn one_hot(self) -> bool {
        matches!(self, ModelKind::Kmeans | ModelKind::IsolationForest)
    }

    /// Whether the model has clusters (every kind but `isolation_forest`).
    pub fn clusters(self) -> bool {
        self != ModelKind::IsolationForest
    }
}

/// `[scaling]`: how numeric features are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingParams {
    /// `zscore` (default), `minmax` or `none`.
    #[serde(default)]
    pub method: Scaling,
    /// k-means: whether the one-hot columns of categorical features are
    /// scaled by `method` too. `unscaled` (default): they stay 0/1.
    /// `scaled`: each one-hot column is scaled like a numeric column (what
    /// the notebooks get with `StandardScaler` on `pandas.get_dummies`).
    #[serde(default, skip_serializing_if = "OneHotScaling::is_default")]
    pub one_hot: OneHotScaling,
}

/// Whether one-hot columns are scaled (`[scaling] one_hot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OneHotScaling {
    /// 0/1 columns, as they are.
    #[default]
    Unscaled,
    /// Scaled with the numeric columns' method (offset and scale per column).
    Scaled,
}

impl OneHotScaling {
    fn is_default(&self) -> bool {
        *self == OneHotScaling::Unscaled
    }

    /// The value's name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            OneHotScaling::Unscaled => "unscaled",
            OneHotScaling::Scaled => "scaled",
        }
    }
}

/// A scaling method for numeric features (and, with `one_hot = "scaled"`,
/// one-hot columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// `(x - mean) / std` with the population standard deviation (ddof = 0,
    /// as `scipy.stats.zscore`); a constant column gets std 1 (as
    /// scikit-learn's `StandardScaler`).
    #[default]
    Zscore,
    /// `(x - min) / (max - min)`; a constant column gets range 1, so it
    /// maps to 0 (as scikit-learn's `MinMaxScaler`).
    Minmax,
    /// Values are used as they are.
    None,
}

impl Scaling {
    /// The method's name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Scaling::Zscore => "zscore",
            Scaling::Minmax => "minmax",
            Scaling::None => "none",
        }
    }
}

/// `[scoring]`: how distances become scores and verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringParams {
    /// `cblof` or `centroid`; see [`ScoringMethod`]. A spec read from TOML
    /// without it gets [`ScoringMethod::default_for`] its kind
    /// ([`ModelSpec::with_new_spec_defaults`]); a model stored without it
    /// (written before the key existed) scores as `centroid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<ScoringMethod>,
    /// `cblof`: the large clusters hold at least this share of the training
    /// rows (PyOD's `CBLOF(alpha=0.9)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// `cblof`: or the large clusters end where a cluster is at least this
    /// many times the size of the next (PyOD's `CBLOF(beta=5)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// `cblof`: a cluster holding less than this share of the training rows
    /// is small whatever `alpha` and `beta` say (default 0.1; 0 leaves it
    /// to them). A rare cluster (`rare_share`) is always small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small_share: Option<f64>,
    /// `cblof`: how far toward the nearest large cluster a small cluster's
    /// event is measured: its scored distance is `d + bulk_weight × (D −
    /// d)`, `d` the distance to its own centroid and `D` to the nearest
    /// large one (default 0.5; 1 is PyOD's CBLOF, 0 the plain distance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_weight: Option<f64>,
    /// `centroid`: per cluster, the threshold is this quantile of the
    /// training rows' distances to the cluster's centroid. `cblof`: the
    /// model's one threshold is this quantile of the training rows' scored
    /// distances. An event beyond the threshold is `far_from_centroid`.
    #[serde(default = "default_threshold_quantile")]
    pub threshold_quantile: f64,
    /// A cluster holding less than this share of the training rows is rare;
    /// every event assigned to it is `rare_cluster` (the notebooks' "small
    /// clusters are the outliers"). 0 disables.
    #[serde(default = "default_rare_share")]
    pub rare_share: f64,
    /// An absolute threshold instead of the learned quantile: an event whose
    /// distance is greater is `far_from_centroid` (the DCE-RPC notebook's
    /// "more than 5 fields differ from the mode" is `threshold = 5` with
    /// `kind = "kmodes"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

const fn default_threshold_quantile() -> f64 {
    0.999
}
const fn default_rare_share() -> f64 {
    0.01
}

impl Default for ScoringParams {
    fn default() -> Self {
        ScoringParams {
            method: None,
            alpha: None,
            beta: None,
            small_share: None,
            bulk_weight: None,
            threshold_quantile: default_threshold_quantile(),
            rare_share: default_rare_share(),
            threshold: None,
        }
    }
}

/// `[train]`: settings that apply to training only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// `[[train.where]]`: conditions an event must also meet to be a
    /// training row (all of them), e.g. `label = "Benign"` to train on a
    /// labelled capture's benign rows. Scoring ignores them: every event
    /// that meets `[[where]]` is scored.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterSpec>,
}

impl TrainParams {
    fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }
}

/// PyOD's default `alpha` of CBLOF.
pub const DEFAULT_ALPHA: f64 = 0.9;
/// PyOD's default `beta` of CBLOF.
pub const DEFAULT_BETA: f64 = 5.0;
/// The default `small_share` of cblof (measured: docs/detection.md).
pub const DEFAULT_SMALL_SHARE: f64 = 0.1;
/// The default `bulk_weight` of cblof (measured: docs/detection.md).
pub const DEFAULT_BULK_WEIGHT: f64 = 0.5;

impl ScoringParams {
    /// The method in force (`centroid` for a model stored without one).
    pub fn method(&self) -> ScoringMethod {
        self.method.unwrap_or(ScoringMethod::Centroid)
    }

    /// `alpha` in force.
    pub fn alpha(&self) -> f64 {
        self.alpha.unwrap_or(DEFAULT_ALPHA)
    }

    /// `beta` in force.
    pub fn beta(&self) -> f64 {
        self.beta.unwrap_or(DEFAULT_BETA)
    }

    /// `small_share` in force.
    pub fn small_share(&self) -> f64 {
        self.small_share.unwrap_or(DEFAULT_SMALL_SHARE)
    }

    /// `bulk_weight` in force.
    pub fn bulk_weight(&self) -> f64 {
        self.bulk_weight.unwrap_or(DEFAULT_BULK_WEIGHT)
    }
}

/// How an event's distance becomes its score (`[scoring] method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoringMethod {
    /// The notebooks' scoring: `score` = the distance to the event's own
    /// centroid / that cluster's threshold. An outlier that training gave a
    /// cluster of its own scores 0 (it *is* its centroid); only
    /// `rare_cluster` flags it.
    Centroid,
    /// Cluster-based local outlier factor (He, Xu & Deng 2003; PyOD's
    /// `CBLOF` without weights). Training splits the clusters into large and
    /// small: sorted by size, the large ones are the first that hold
    /// `alpha` of the rows and are followed by a drop of `beta`× in size
    /// (PyOD's rule; failing both, the first rule that holds); every
    /// cluster under `small_share` or `rare_share` is small too (the
    /// largest cluster never is). An event of a large cluster
    /// is scored by its distance to its centroid; one of a small cluster is
    /// measured toward the nearest large cluster's centroid (`bulk_weight`
    /// of the way: 1 is PyOD's distance to that centroid). `score` = the
    /// scored distance / the model's one threshold (a quantile of the
    /// training rows' scored distances), so it ranks events as the scored
    /// distance does and nothing can hide in a cluster of its own.
    Cblof,
}

impl ScoringMethod {
    /// The method's name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoringMethod::Centroid => "centroid",
            ScoringMethod::Cblof => "cblof",
        }
    }

    /// The default of a new spec of this kind: `cblof`, except flow2vec
    /// (whose tokens are scored by look-up: `centroid`).
    pub fn default_for(kind: ModelKind) -> ScoringMethod {
        match kind {
            ModelKind::Flow2vec => ScoringMethod::Centroid,
            _ => ScoringMethod::Cblof,
        }
    }
}

/// `[[features]]`: one feature, taken from one field of the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// The event field, e.g. `orig_bytes` or `id.resp_p` (a top-level key,
    /// as Zeek writes them).
    pub field: String,
    /// The feature's name in output and reports; defaults to the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `numeric` or `categorical`.
    #[serde(rename = "type")]
    pub kind: FeatureKind,
    /// Numeric only: replace x by ln(1 + x) before scaling.
    #[serde(default, skip_serializing_if = "is_false")]
    pub log1p: bool,
    /// What an absent or null field becomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl FeatureSpec {
    /// The feature's display name.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.field)
    }

    /// The missing-value policy in force (the kind's default if unset).
    pub fn missing_policy(&self) -> Missing {
        self.missing.unwrap_or(match self.kind {
            FeatureKind::Numeric => Missing::Zero,
            FeatureKind::Categorical => Missing::Category,
        })
    }
}

/// A feature's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// A number (JSON number; a numeric string or a boolean is accepted).
    Numeric,
    /// A category, one-hot encoded with the vocabulary learned in training.
    Categorical,
}

/// Missing-value policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Numeric: the raw value 0 (Zeek's unset `-` counted as nothing).
    /// The default for numeric features.
    Zero,
    /// Numeric: the training mean of the feature (after `log1p`).
    Mean,
    /// Categorical: the category `missing` (pandas' `fillna("missing")`).
    /// The default for categorical features.
    Category,
    /// The event is not scored; it goes to the errors output with reason
    /// `missing_field`.
    Error,
}

impl Missing {
    /// The policy's name as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Zero => "zero",
            Missing::Mean => "mean",
            Missing::Category => "category",
            Missing::Error => "error",
        }
    }
}

impl ModelSpec {
    /// Check the spec as a whole: the checked spec, or every problem at
    /// once.
    pub fn validate(self) -> Result<ValidSpec, Vec<String>> {
        let errs = self.problems();
        if errs.is_empty() { Ok(ValidSpec(self)) } else { Err(errs) }
    }

    /// A spec as a user wrote it (read from TOML): the keys whose default
    /// differs between new specs and stored models are filled in
    /// (`[scoring] method`).
    pub fn with_new_spec_defaults(mut self) -> ModelSpec {
        if self.model.kind.clusters() {
            self.scoring.method.get_or_insert(ScoringMethod::default_for(self.model.kind));
        }
        self
    }

    /// Every problem of the spec (empty when it is valid).
    pub fn problems(&self) -> Vec<String> {
        let mut errs = Vec::new();
        let m = &self.model;
        if m.kind == ModelKind::IsolationForest {
            if m.n_clusters != 0 {
                errs.push("model.n_clusters: an isolation_forest has no clusters; leave n_clusters out".to_string());
            }
        } else if m.n_clusters == 0 && m.kind != ModelKind::Flow2vec {
            errs.push("model.n_clusters must be at least 1 (0 means \"vocabulary / 5\" for flow2vec only)".to_string());
        }
        if m.n_init == 0 {
            errs.push("model.n_init must be at least 1".to_string());
        }
        if m.max_iter == 0 {
            errs.push("model.max_iter must be at least 1".to_string());
        }
        for (key, v, max) in [
            ("n_clusters", m.n_clusters, MAX_N_CLUSTERS),
            ("n_init", m.n_init, MAX_N_INIT),
            ("max_iter", m.max_iter, MAX_ITER),
        ] {
            if v > max {
                errs.push(format!("model.{key} = {v} is too large: at most {max}"));
            }
        }
        if !(m.tol.is_finite() && m.tol >= 0.0) {
            errs.push(format!("model.tol must be a finite number >= 0, got {}", m.tol));
        }
        let q = self.scoring.threshold_quantile;
        if !(q > 0.0 && q <= 1.0) {
            errs.push(format!("scoring.threshold_quantile must be in (0, 1], got {q}"));
        }
        if let Some(t) = self.scoring.threshold
            && !(t.is_finite() && t >= 0.0)
        {
            errs.push(format!("scoring.threshold must be a finite number >= 0, got {t}"));
        }
        self.validate_kind(&mut errs);
        let r = self.scoring.rare_share;
        if !(0.0..1.0).contains(&r) {
            errs.push(format!("scoring.rare_share must be in [0, 1), got {r}"));
        }
        self.validate_scoring(&mut errs);
        if self.features.is_empty() {
            errs.push("at least one [[features]] entry is needed".to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, f) in self.features.iter().enumerate() {
            let at = format!("features[{i}] ({})", f.name());
            if f.field.is_empty() {
                errs.push(format!("{at}: field must not be empty"));
            }
            if !seen.insert(f.name().to_string()) {
                errs.push(format!("{at}: the name '{}' is used twice; give one a `name`", f.name()));
            }
            match (f.kind, f.missing_policy()) {
                (FeatureKind::Numeric, Missing::Category) => errs
                    .push(format!("{at}: missing = \"category\" is for categorical features; use zero, mean or error")),
                (FeatureKind::Categorical, Missing::Zero | Missing::Mean) => errs
                    .push(format!("{at}: missing = \"zero\"/\"mean\" is for numeric features; use category or error")),
                _ => {}
            }
            if f.log1p && f.kind != FeatureKind::Numeric {
                errs.push(format!("{at}: log1p applies to numeric features only"));
            }
        }
        self.validate_language(&mut errs);
        errs
    }

    fn validate_scoring(&self, errs: &mut Vec<String>) {
        let sc = &self.scoring;
        let cblof = sc.method() == ScoringMethod::Cblof;
        if let Some(a) = sc.alpha
            && !(a > 0.0 && a <= 1.0)
        {
            errs.push(format!("scoring.alpha must be in (0, 1], got {a}"));
        }
        if let Some(b) = sc.beta
            && !(b.is_finite() && b >= 1.0)
        {
            errs.push(format!("scoring.beta must be a finite number >= 1, got {b}"));
        }
        if let Some(v) = sc.small_share
            && !(0.0..1.0).contains(&v)
        {
            errs.push(format!("scoring.small_share must be in [0, 1), got {v}"));
        }
        if let Some(v) = sc.bulk_weight
            && !(0.0..=1.0).contains(&v)
        {
            errs.push(format!("scoring.bulk_weight must be in [0, 1], got {v}"));
        }
        let cblof_keys = [
            ("alpha", sc.alpha.is_some()),
            ("beta", sc.beta.is_some()),
            ("small_share", sc.small_share.is_some()),
            ("bulk_weight", sc.bulk_weight.is_some()),
        ];
        if !cblof && let Some((k, _)) = cblof_keys.iter().find(|(_, set)| *set) {
            errs.push(format!("scoring.{k} is for method = \"cblof\" (this spec scores with \"centroid\")"));
        }
        if !self.model.kind.clusters() && sc.method.is_some() {
            errs.push(
                "scoring.method is for the clustering kinds; an isolation_forest scores by its anomaly score"
                    .to_string(),
            );
        }
        if cblof && self.model.kind == ModelKind::Flow2vec {
            errs.push(
                "scoring.method = \"cblof\" is for kmeans, kmodes and kprototypes; flow2vec scores its tokens by \
                 look-up (method = \"centroid\")"
                    .to_string(),
            );
        }
        if self.scaling.one_hot == OneHotScaling::Scaled && !self.model.kind.one_hot() {
            errs.push(format!(
                "scaling.one_hot = \"scaled\" is for kmeans (the kind that one-hot encodes), not {}",
                self.model.kind.as_str()
            ));
        }
    }

    fn validate_kind(&self, errs: &mut Vec<String>) {
        let m = &self.model;
        let kind = m.kind.as_str();
        let count = |k: FeatureKind| self.features.iter().filter(|f| f.kind == k).count();
        let (numeric, categorical) = (count(FeatureKind::Numeric), count(FeatureKind::Categorical));
        match m.kind {
            ModelKind::Kmeans => {
                if matches!(m.init, Some(Init::Huang | Init::Cao)) {
                    errs.push(format!(
                        "model.init = \"{}\" is for kmodes and kprototypes; kmeans uses \"k-means++\"",
                        m.init_method().as_str()
                    ));
                }
            }
            ModelKind::Kmodes | ModelKind::Kprototypes => {
                if m.init == Some(Init::KMeansPlusPlus) {
                    errs.push(format!("model.init = \"k-means++\" is for kmeans; {kind} uses \"huang\" or \"cao\""));
                }
            }
            ModelKind::Flow2vec => {
                if matches!(m.init, Some(Init::Huang | Init::Cao)) {
                    errs.push("model.init: flow2vec clusters its vectors with k-means (\"k-means++\")".to_string());
                }
            }
            ModelKind::IsolationForest => {
                if m.init.is_some() || m.gamma.is_some() {
                    errs.push("model.init and model.gamma are for the clustering kinds, not isolation_forest".into());
                }
                if let Some(n) = m.n_estimators
                    && !(1..=MAX_N_ESTIMATORS).contains(&n)
                {
                    errs.push(format!("model.n_estimators must be between 1 and {MAX_N_ESTIMATORS}, got {n}"));
                }
                match m.max_samples {
                    Some(MaxSamples::Count(0)) => errs.push("model.max_samples must be at least 1 row".into()),
                    Some(MaxSamples::Count(c)) if c > 1 << 31 => {
                        errs.push(format!("model.max_samples must be at most {}, got {c}", 1u64 << 31))
                    }
                    Some(MaxSamples::Fraction(f)) if !(f > 0.0 && f <= 1.0) => errs.push(format!(
                        "model.max_samples: a fraction must be in (0, 1], got {f} (write a count as an integer)"
                    )),
                    _ => {}
                }
                if let Some(f) = m.max_features
                    && !(f > 0.0 && f <= 1.0)
                {
                    errs.push(format!("model.max_features must be in (0, 1], got {f}"));
                }
                if let Some(t) = self.scoring.threshold
                    && !(t > 0.0 && t <= 1.0)
                {
                    errs.push(format!(
                        "scoring.threshold of an isolation_forest is an anomaly score, in (0, 1], got {t}"
                    ));
                }
            }
        }
        if m.kind != ModelKind::IsolationForest
            && let Some(k) = [
                ("n_estimators", m.n_estimators.is_some()),
                ("max_samples", m.max_samples.is_some()),
                ("max_features", m.max_features.is_some()),
            ]
            .iter()
            .find(|(_, set)| *set)
            .map(|(k, _)| k)
        {
            errs.push(format!("model.{k} is for kind = \"isolation_forest\", not {kind}"));
        }
        match (&self.flow2vec, m.kind) {
            (Some(_), k) if k != ModelKind::Flow2vec => {
                errs.push(format!("[flow2vec] is for kind = \"flow2vec\", not {kind}"))
            }
            (Some(f), _) => {
                if f.sentence_length < 2 {
                    errs.push("flow2vec.sentence_length must be at least 2".to_string());
                }
                for (name, v) in [("vector_size", f.vector_size), ("window", f.window), ("epochs", f.epochs)] {
                    if v == 0 {
                        errs.push(format!("flow2vec.{name} must be at least 1"));
                    }
                }
                let sizes = [f.sentence_length, f.vector_size, f.window, f.negative, f.epochs];
                for ((name, max), v) in MAX_FLOW2VEC.iter().zip(sizes) {
                    if v > *max {
                        errs.push(format!("flow2vec.{name} = {v} is too large: at most {max}"));
                    }
                }
                if !(f.sample.is_finite() && f.sample >= 0.0) {
                    errs.push(format!("flow2vec.sample must be a finite number >= 0, got {}", f.sample));
                }
                if !(f.alpha > 0.0 && f.alpha.is_finite() && f.min_alpha >= 0.0 && f.min_alpha <= f.alpha) {
                    errs.push(format!(
                        "flow2vec.alpha ({}) must be > 0 and min_alpha ({}) in [0, alpha]",
                        f.alpha, f.min_alpha
                    ));
                }
                if f.sequence > MAX_SEQUENCE {
                    errs.push(format!("flow2vec.sequence must be at most {MAX_SEQUENCE}, got {}", f.sequence));
                }
                for (what, names) in [("relative", &f.relative), ("sequence_key", &f.sequence_key)] {
                    for r in names {
                        if !self.features.iter().any(|x| x.name() == r) {
                            errs.push(format!("flow2vec.{what} names '{r}', which is not a feature"));
                        }
                    }
                }
            }
            (None, _) => {}
        }
        match m.kind {
            ModelKind::Kmodes if numeric > 0 => errs.push(format!(
                "kind = \"kmodes\" takes categorical features only, but {numeric} are numeric; use kind = \"kprototypes\" for mixed records"
            )),
            ModelKind::Kprototypes if numeric == 0 || categorical == 0 => errs.push(format!(
                "kind = \"kprototypes\" needs numeric and categorical features (has {numeric} numeric, {categorical} categorical); use kmeans or kmodes"
            )),
            ModelKind::Flow2vec if numeric > 0 => errs.push(format!(
                "kind = \"flow2vec\" makes its token from categorical features, but {numeric} are numeric (a port is a category here)"
            )),
            ModelKind::Flow2vec if self.aggregate.is_some() => {
                errs.push("kind = \"flow2vec\" embeds each event; it takes no [aggregate]".to_string())
            }
            _ => {}
        }
        if m.gamma.is_some() && m.kind != ModelKind::Kprototypes {
            errs.push(format!("model.gamma is for kprototypes, not {kind}"));
        }
        if let Some(g) = m.gamma
            && !(g.is_finite() && g > 0.0)
        {
            errs.push(format!(
                "model.gamma must be a finite number > 0, got {g} (0 would ignore the categorical part)"
            ));
        }
    }

    fn validate_language(&self, errs: &mut Vec<String>) {
        language::check(&self.filters, &self.derive, self.aggregate.as_ref(), errs);
        language::check_filters("train.where", &self.train.filters, errs);
        if let Some(a) = &self.aggregate {
            let known = aggregate_fields(a);
            for f in &self.features {
                if !known.contains(&f.field) {
                    errs.push(format!(
                        "feature '{}' reads '{}', which aggregate events do not have (they have: {})",
                        f.name(),
                        f.field,
                        known.join(", ")
                    ));
                }
            }
        }
    }
}

/// The fields an aggregate event has: the group-by fields, `window_start`,
/// `window_end`, `partial`, then the aggregates.
pub fn aggregate_fields(a: &AggregateSpec) -> Vec<String> {
    let mut v = a.group_by.clone();
    v.extend(["window_start", "window_end", "partial"].map(String::from));
    v.extend(a.fields.iter().map(|f| f.name.clone()));
    v
}

/// A spec that passed [`ModelSpec::validate`]: everything that takes a
/// spec to extract, fit or score takes one of these (linfa's `ParamGuard`
/// pattern), so nothing past the check re-validates or meets a spec it
/// cannot handle. It reads as the [`ModelSpec`] it wraps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidSpec(ModelSpec);

impl std::ops::Deref for ValidSpec {
    type Target = ModelSpec;

    fn deref(&self) -> &ModelSpec {
        &self.0
    }
}

impl ValidSpec {
    /// The spec, to change it (and validate it again).
    pub fn into_inner(self) -> ModelSpec {
        self.0
    }

    /// For an `[aggregate]` spec, the spec of its second stage: the same
    /// model and features, read from the aggregate events as they are (no
    /// filters, derived fields or windows). Other specs are returned as
    /// they are.
    pub fn aggregate_stage(&self) -> ValidSpec {
        let mut s = self.0.clone();
        if s.aggregate.is_some() {
            s.aggregate = None;
            s.derive.clear();
            s.filters.clear();
        }
        s.validate().expect("a stage of a valid spec is valid")
    }

    /// The same spec with another `n_clusters`, checked.
    pub fn with_n_clusters(&self, k: u32) -> Result<ValidSpec, Vec<String>> {
        let mut s = self.0.clone();
        s.model.n_clusters = k;
        s.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation_list_every_problem() {
        let spec: ModelSpec = toml_like(
            r#"{"model":{"n_clusters":0,"n_init":0,"tol":-1.0},"scoring":{"threshold_quantile":1.5},
                "features":[{"field":"a","type":"numeric","missing":"category"},
                            {"field":"a","type":"categorical","log1p":true}]}"#,
        );
        assert_eq!(spec.model.max_iter, 300);
        let errs = spec.validate().unwrap_err();
        for want in ["n_clusters", "n_init", "tol", "threshold_quantile", "used twice", "category", "log1p"] {
            assert!(errs.iter().any(|e| e.contains(want)), "no problem mentions {want}: {errs:?}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<ModelSpec, _> =
            serde_json::from_str(r#"{"model":{"n_clusters":2,"n_clustres":3},"features":[]}"#);
        assert!(r.unwrap_err().to_string().contains("n_clustres"));
    }

    #[test]
    fn model_kinds_check_their_features_init_and_gamma() {
        let cats = r#"[{"field":"a","type":"categorical"},{"field":"b","type":"categorical"}]"#;
        let mixed = r#"[{"field":"a","type":"categorical"},{"field":"n","type":"numeric"}]"#;
        let problems = |model: &str, features: &str| {
            toml_like(&format!(r#"{{"model":{model},"features":{features}}}"#)).problems()
        };
        let ok = |model: &str, features: &str| assert_eq!(problems(model, features), Vec::<String>::new(), "{model}");
        let bad = |model: &str, features: &str, want: &str| {
            let e = problems(model, features);
            assert!(e.iter().any(|e| e.contains(want)), "{model}: no problem mentions {want}: {e:?}");
        };
        ok(r#"{"kind":"kmodes","n_clusters":2,"init":"huang"}"#, cats);
        // The kmodes package's and scikit-learn's spellings, in any case.
        for (name, want) in
            [("Huang", Init::Huang), ("Cao", Init::Cao), ("CAO", Init::Cao), ("K-Means++", Init::KMeansPlusPlus)]
        {
            let kind = if want == Init::KMeansPlusPlus { "kmeans" } else { "kmodes" };
            let spec = toml_like(&format!(
                r#"{{"model":{{"kind":"{kind}","n_clusters":2,"init":"{name}"}},"features":{cats}}}"#
            ));
            assert_eq!(spec.model.init, Some(want), "{name}");
        }
        ok(r#"{"kind":"kprototypes","n_clusters":2,"gamma":0.3}"#, mixed);
        ok(r#"{"n_clusters":2,"init":"k-means++"}"#, mixed);
        bad(r#"{"kind":"kmodes","n_clusters":2}"#, mixed, "categorical features only");
        bad(r#"{"kind":"kprototypes","n_clusters":2}"#, cats, "needs numeric and categorical");
        bad(r#"{"kind":"kmodes","n_clusters":2,"init":"k-means++"}"#, cats, "is for kmeans");
        bad(r#"{"n_clusters":2,"init":"cao"}"#, mixed, "is for kmodes and kprototypes");
        bad(r#"{"kind":"kmodes","n_clusters":2,"gamma":1.0}"#, cats, "gamma is for kprototypes");
        bad(r#"{"kind":"kprototypes","n_clusters":2,"gamma":-1.0}"#, mixed, "finite number > 0");
        bad(r#"{"kind":"kprototypes","n_clusters":2,"gamma":0.0}"#, mixed, "finite number > 0");
        assert_eq!(
            toml_like(&format!(r#"{{"model":{{"kind":"kmodes","n_clusters":2}},"features":{cats}}}"#))
                .model
                .init_method(),
            Init::Cao
        );
        let e = problems(r#"{"n_clusters":2}"#, r#"[{"field":"a","type":"numeric"}],"scoring":{"threshold":-1}"#);
        assert!(e.iter().any(|e| e.contains("scoring.threshold")), "{e:?}");
        let r: Result<ModelSpec, _> =
            serde_json::from_str(r#"{"model":{"n_clusters":2,"init":"kmeans++"},"features":[]}"#);
        assert!(r.unwrap_err().to_string().contains("k-means++"));

        // Size keys are bounded, naming the key, the value and the bound.
        bad(r#"{"n_clusters":4000000000}"#, mixed, "model.n_clusters = 4000000000 is too large: at most 100000");
        bad(r#"{"n_clusters":2,"n_init":100000}"#, mixed, "model.n_init = 100000 is too large: at most 1000");
        bad(r#"{"n_clusters":2,"max_iter":4294967295}"#, mixed, "model.max_iter = 4294967295 is too large");

        // isolation_forest: no clusters; scikit-learn's keys and ranges.
        ok(r#"{"kind":"isolation_forest"}"#, mixed);
        ok(r#"{"kind":"isolation_forest","n_estimators":1000,"max_samples":128,"max_features":0.5}"#, mixed);
        ok(r#"{"kind":"isolation_forest","max_samples":0.25}"#, mixed);
        ok(r#"{"kind":"isolation_forest","max_samples":"auto"}"#, mixed);
        bad(r#"{"kind":"isolation_forest","n_clusters":3}"#, mixed, "has no clusters");
        bad(r#"{"kind":"isolation_forest","n_estimators":0}"#, mixed, "n_estimators must be between 1 and");
        bad(r#"{"kind":"isolation_forest","max_samples":0}"#, mixed, "max_samples must be at least 1 row");
        bad(r#"{"kind":"isolation_forest","max_samples":1.5}"#, mixed, "a fraction must be in (0, 1]");
        bad(r#"{"kind":"isolation_forest","max_features":0.0}"#, mixed, "max_features must be in (0, 1]");
        bad(r#"{"kind":"isolation_forest","init":"cao"}"#, mixed, "not isolation_forest");
        bad(r#"{"n_clusters":2,"n_estimators":10}"#, mixed, "n_estimators is for kind = \"isolation_forest\"");
        let e = problems(r#"{"kind":"isolation_forest"}"#, &format!(r#"{mixed},"scoring":{{"threshold":2}}"#));
        assert!(e.iter().any(|e| e.contains("an anomaly score, in (0, 1]")), "{e:?}");
        let e = problems(r#"{"kind":"isolation_forest"}"#, &format!(r#"{mixed},"scoring":{{"method":"cblof"}}"#));
        assert!(e.iter().any(|e| e.contains("scoring.method is for the clustering kinds")), "{e:?}");
        let r: Result<ModelSpec, _> =
            serde_json::from_str(r#"{"model":{"kind":"isolation_forest","max_samples":"all"},"features":[]}"#);
        assert!(r.is_err(), "max_samples is a count, a fraction or \"auto\"");
        // A new spec's scoring method: cblof for clusters, none for a forest.
        let spec = toml_like(&format!(r#"{{"model":{{"kind":"isolation_forest"}},"features":{mixed}}}"#));
        assert_eq!(spec.with_new_spec_defaults().scoring.method, None);
    }

    fn toml_like(json: &str) -> ModelSpec {
        serde_json::from_str(json).unwrap()
    }
}
