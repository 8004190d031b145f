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

use serde::{Deserialize, Serialize};

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
    /// The features, in vector order.
    pub features: Vec<FeatureSpec>,
}

/// `[model]`: the algorithm and its hyper-parameters (scikit-learn's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// The model kind. Only `"kmeans"` for now.
    #[serde(default)]
    pub kind: ModelKind,
    /// Number of clusters (k).
    pub n_clusters: u32,
    /// Number of k-means++ starts; the lowest inertia wins.
    #[serde(default = "default_n_init")]
    pub n_init: u32,
    /// Seed of the random starts; the same seed gives the same model.
    #[serde(default)]
    pub random_state: u64,
    /// Maximum Lloyd iterations per start.
    #[serde(default = "default_max_iter")]
    pub max_iter: u32,
    /// Convergence tolerance, relative to the mean column variance (as
    /// scikit-learn); Lloyd also stops when no label changes.
    #[serde(default = "default_tol")]
    pub tol: f64,
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
    /// k-means: Euclidean distance to the nearest centroid.
    #[default]
    Kmeans,
}

impl ModelKind {
    /// The kind's name as written in specs and artifacts.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Kmeans => "kmeans",
        }
    }
}

/// `[scaling]`: how numeric features are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingParams {
    /// `zscore` (default), `minmax` or `none`.
    #[serde(default)]
    pub method: Scaling,
}

/// A scaling method for numeric features. One-hot columns are never scaled.
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

/// `[scoring]`: thresholds and verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringParams {
    /// Per cluster, the threshold is this quantile of the training rows'
    /// distances to the cluster's centroid. An event farther than its
    /// cluster's threshold is `far_from_centroid`.
    #[serde(default = "default_threshold_quantile")]
    pub threshold_quantile: f64,
    /// A cluster holding less than this share of the training rows is rare;
    /// every event assigned to it is `rare_cluster` (the notebooks' "small
    /// clusters are the outliers"). 0 disables.
    #[serde(default = "default_rare_share")]
    pub rare_share: f64,
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
            threshold_quantile: default_threshold_quantile(),
            rare_share: default_rare_share(),
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
    /// Check the spec as a whole and return every problem at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        let m = &self.model;
        if m.n_clusters == 0 {
            errs.push("model.n_clusters must be at least 1".to_string());
        }
        if m.n_init == 0 {
            errs.push("model.n_init must be at least 1".to_string());
        }
        if m.max_iter == 0 {
            errs.push("model.max_iter must be at least 1".to_string());
        }
        if !(m.tol.is_finite() && m.tol >= 0.0) {
            errs.push(format!(
                "model.tol must be a finite number >= 0, got {}",
                m.tol
            ));
        }
        let q = self.scoring.threshold_quantile;
        if !(q > 0.0 && q <= 1.0) {
            errs.push(format!(
                "scoring.threshold_quantile must be in (0, 1], got {q}"
            ));
        }
        let r = self.scoring.rare_share;
        if !(0.0..1.0).contains(&r) {
            errs.push(format!("scoring.rare_share must be in [0, 1), got {r}"));
        }
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
                errs.push(format!(
                    "{at}: the name '{}' is used twice; give one a `name`",
                    f.name()
                ));
            }
            match (f.kind, f.missing_policy()) {
                (FeatureKind::Numeric, Missing::Category) => {
                    errs.push(format!("{at}: missing = \"category\" is for categorical features; use zero, mean or error"))
                }
                (FeatureKind::Categorical, Missing::Zero | Missing::Mean) => {
                    errs.push(format!("{at}: missing = \"zero\"/\"mean\" is for numeric features; use category or error"))
                }
                _ => {}
            }
            if f.log1p && f.kind != FeatureKind::Numeric {
                errs.push(format!("{at}: log1p applies to numeric features only"));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
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
        for want in [
            "n_clusters",
            "n_init",
            "tol",
            "threshold_quantile",
            "used twice",
            "category",
            "log1p",
        ] {
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "no problem mentions {want}: {errs:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<ModelSpec, _> =
            serde_json::from_str(r#"{"model":{"n_clusters":2,"n_clustres":3},"features":[]}"#);
        assert!(r.unwrap_err().to_string().contains("n_clustres"));
    }

    fn toml_like(json: &str) -> ModelSpec {
        serde_json::from_str(json).unwrap()
    }
}
