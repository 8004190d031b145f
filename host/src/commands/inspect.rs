//! `logsieve inspect`: a readable summary of a model artifact.
//!
//! For each cluster it says what distinguishes it: the numeric features
//! whose centroid is farthest from the overall centre (in scaled units, with
//! the raw value they correspond to) and the categories most of its rows
//! share. For k-modes and k-prototypes it shows the whole mode: the value
//! each categorical feature takes in the cluster's centre.

use std::path::Path;

use anyhow::Result;
use logsieve_artifact::{FeatureKind, FeatureState, Fitted, Model, ModelSpec, Scaling, decode};
use serde::Serialize;

/// One thing that sets a cluster apart.
#[derive(Debug, Clone, Serialize)]
pub struct Trait {
    /// Feature name.
    pub feature: String,
    /// For numeric features: the centroid in scaled units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaled: Option<f64>,
    /// For numeric features: the raw value the centroid corresponds to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<f64>,
    /// For categorical features: the value and the share of rows with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Share of the cluster's rows with that category (centroid weight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// How strongly it distinguishes (|scaled| or share; a mode's values
    /// come first), for ordering.
    #[serde(skip)]
    weight: f64,
}

fn raw_value(spec: &ModelSpec, j: usize, offset: f64, scale: f64, z: f64) -> f64 {
    let v = offset + scale * z;
    if spec.features[j].log1p { v.exp_m1() } else { v }
}

/// The traits of every cluster, strongest first.
pub fn all_traits(model: &Model, fitted: &Fitted, top: usize) -> Vec<Vec<Trait>> {
    let Some(e) = &fitted.embedding else {
        return (0..fitted.clusters.len()).map(|c| traits(model, fitted, c, top)).collect();
    };
    // flow2vec: each cluster's most frequent tokens, in one pass (tokens
    // are most frequent first).
    let mut out: Vec<Vec<Trait>> = vec![Vec::new(); fitted.clusters.len()];
    for (i, &l) in e.labels.iter().enumerate() {
        let c = l as usize;
        if out[c].len() < top {
            out[c].push(Trait {
                feature: "token".into(),
                scaled: None,
                raw: None,
                category: Some(e.tokens[i].clone()),
                share: Some(e.counts[i] as f64 / fitted.clusters[c].size.max(1) as f64),
                weight: e.counts[i] as f64,
            });
        }
    }
    out
}

/// The traits of cluster `c`, strongest first.
pub fn traits(model: &Model, fitted: &Fitted, c: usize, top: usize) -> Vec<Trait> {
    let centroid = &fitted.clusters[c].centroid;
    let one_hot = model.spec.model.kind.one_hot();
    let mut mode_values = 0;
    let mut at = 0;
    let mut out = Vec::new();
    for (j, st) in fitted.features.iter().enumerate() {
        let name = model.spec.features[j].name().to_string();
        match st {
            FeatureState::Numeric { offset, scale, .. } => {
                let z = centroid[at];
                // With min-max scaling the "centre" is 0.5, not 0.
                let weight = match model.spec.scaling.method {
                    Scaling::Minmax => (z - 0.5).abs(),
                    _ => z.abs(),
                };
                out.push(Trait {
                    feature: name,
                    scaled: Some(z),
                    raw: Some(raw_value(&model.spec, j, *offset, *scale, z)),
                    category: None,
                    share: None,
                    weight,
                });
            }
            FeatureState::Categorical { vocabulary, .. } if !one_hot => {
                // The mode's value, in spec order before everything else.
                mode_values += 1;
                out.push(Trait {
                    feature: name,
                    scaled: None,
                    raw: None,
                    category: vocabulary.get(centroid[at] as usize).cloned(),
                    share: None,
                    weight: f64::INFINITY,
                });
            }
            FeatureState::Categorical { vocabulary, .. } => {
                let w = &centroid[at..at + vocabulary.len()];
                if let Some((i, &s)) = w.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) {
                    out.push(Trait {
                        feature: name,
                        scaled: None,
                        raw: None,
                        category: Some(vocabulary[i].clone()),
                        share: Some(s),
                        weight: s,
                    });
                }
            }
        }
        at += st.width(one_hot);
    }
    out.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    out.truncate(top + mode_values);
    out
}

#[derive(Serialize)]
struct Report<'a> {
    id: &'a str,
    model: &'a Model,
    traits: Vec<Vec<Trait>>,
}

/// `logsieve inspect`.
pub fn inspect(path: &Path, json: bool) -> Result<()> {
    let bytes = crate::model_file::read_model(path)?;
    let d = decode(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let model = &d.model;
    let traits: Vec<Vec<Trait>> = match &model.fitted {
        Some(f) => all_traits(model, f, 3),
        None => Vec::new(),
    };
    if json {
        let text = serde_json::to_string_pretty(&Report { id: &d.id, model, traits: traits.clone() })? + "\n";
        return crate::commands::print_stdout(&text);
    }
    crate::commands::print_stdout(&render(&d.id, model, &traits))
}

fn fmt_num(x: f64) -> String {
    // Centroids that sit on an unset/zero value come back as ±1e-13 after
    // the inverse transform: that is 0.
    let x = if x.abs() < 1e-9 { 0.0 } else { x };
    if x.abs() >= 1e6 || (x != 0.0 && x.abs() < 1e-3) { format!("{x:.3e}") } else { format!("{x:.3}") }
}

/// The text report.
pub fn render(id: &str, model: &Model, traits: &[Vec<Trait>]) -> String {
    let spec = &model.spec;
    let mut s =
        format!("model {id}  kind {}  format v{}\n", spec.model.kind.as_str(), logsieve_artifact::FORMAT_VERSION);
    let m = &spec.model;
    if let Some(iso) = model.fitted.as_ref().and_then(|f| f.isolation.as_ref()) {
        let nodes: usize = iso.forest.trees.iter().map(|t| t.len()).sum();
        s += &format!(
            "  n_estimators {}  max_samples {} (rows per tree)  max_features {}  random_state {}\n  {:.1} nodes per \
             tree; threshold (anomaly score) {}\n",
            iso.forest.trees.len(),
            iso.forest.max_samples,
            m.max_features.unwrap_or(1.0),
            m.random_state,
            nodes as f64 / iso.forest.trees.len().max(1) as f64,
            iso.threshold
        );
    } else {
        s += &format!(
            "  n_clusters {}  init {}  n_init {}  random_state {}  max_iter {}{}\n",
            m.n_clusters,
            m.init_method().as_str(),
            m.n_init,
            m.random_state,
            m.max_iter,
            if m.kind.one_hot() { format!("  tol {}", m.tol) } else { String::new() }
        );
    }
    let threshold = match spec.scoring.threshold {
        Some(t) => format!("threshold distance > {t}"),
        None => format!("threshold quantile {}", spec.scoring.threshold_quantile),
    };
    let scaling = if spec.features.iter().any(|f| f.kind == FeatureKind::Numeric) {
        format!("scaling {}  ", spec.scaling.method.as_str())
    } else {
        String::new()
    };
    s += &format!("  {scaling}{threshold}  rare share < {}\n", spec.scoring.rare_share);
    let cblof = model.fitted.as_ref().and_then(|f| f.cblof.as_ref());
    if let Some(c) = cblof {
        let large: Vec<String> = c.large.iter().enumerate().filter(|(_, l)| **l).map(|(i, _)| i.to_string()).collect();
        s += &format!(
            "  scoring cblof: one threshold {} (of the scored distance); large clusters {}; an event of a small \
             cluster is scored {} of the way toward the nearest large one\n",
            fmt_num(c.threshold),
            large.join(", "),
            spec.scoring.bulk_weight()
        );
    } else if m.kind.clusters() {
        s += "  scoring centroid: each cluster's own threshold\n";
    }
    let lit = |l: &logsieve_artifact::Literal| match l {
        logsieve_artifact::Literal::Bool(b) => b.to_string(),
        logsieve_artifact::Literal::Number(x) => x.to_string(),
        logsieve_artifact::Literal::Text(t) => format!("{t:?}"),
    };
    for w in &spec.filters {
        use logsieve_artifact::Test;
        let what = match &w.test {
            Test::Eq { value }
            | Test::Ne { value }
            | Test::Lt { value }
            | Test::Le { value }
            | Test::Gt { value }
            | Test::Ge { value } => lit(value),
            Test::In { values } | Test::NotIn { values } => {
                format!("[{}]", values.iter().map(lit).collect::<Vec<_>>().join(", "))
            }
            Test::Exists {} | Test::Missing {} => String::new(),
        };
        let others = match spec.filter.unmatched {
            logsieve_artifact::Unmatched::Pass => "passed on unscored",
            logsieve_artifact::Unmatched::Drop => "dropped",
        };
        s += &format!("  where {} {} {what}  (other events: {others})\n", w.field, w.test.op());
    }
    for d in &spec.derive {
        use logsieve_artifact::DeriveOp;
        let mut args = d.op.fields().join(", ");
        match &d.op {
            DeriveOp::InterArrival { key, .. } if !key.is_empty() => args += &format!("; per {}", key.join(", ")),
            DeriveOp::CidrGroup { cidr_table, .. } if !cidr_table.is_empty() => {
                args += &format!("; {} CIDR entries", cidr_table.len())
            }
            _ => {}
        }
        s += &format!("  derive {} = {}({args})\n", d.name, d.op.name());
    }
    if let Some(a) = &spec.aggregate {
        let fields: Vec<String> =
            a.fields.iter().map(|f| format!("{}={}({})", f.name, f.op.name(), f.op.field().unwrap_or(""))).collect();
        s += &format!(
            "  aggregate by {} window {} (lateness {}, max_keys {}): {}\n",
            a.group_by.join(", "),
            a.window,
            a.allowed_lateness,
            a.max_keys,
            fields.join(" ")
        );
    }
    let Some(fitted) = &model.fitted else {
        s += "  (spec only: not trained)\n";
        return s;
    };
    let t = &fitted.training;
    if let (Some(e), Some(f)) = (&fitted.embedding, &spec.flow2vec) {
        s += &format!(
            "  embedding: {} tokens × {} dimensions ({:?}, {:?} distance); sentences of {}, window {}, negative {}, sample {}, min_count {}, epochs {}\n",
            e.tokens.len(),
            e.dim,
            e.precision,
            f.metric,
            f.sentence_length,
            f.window,
            f.negative,
            f.sample,
            f.min_count,
            f.epochs
        );
        if !f.relative.is_empty() {
            s += &format!(
                "  an unseen token is scored by its most frequent relative with the same {}\n",
                f.relative.join(", ")
            );
        }
    }
    if let Some(g) = fitted.gamma {
        s += &format!("  gamma {} (weight of one categorical mismatch)\n", fmt_num(g));
    }
    s += &format!(
        "  trained on {} rows ({} skipped), {} {}, {} iterations, logsieve {}, inputs: {}\n",
        t.rows,
        t.skipped,
        if matches!(m.kind, logsieve_artifact::ModelKind::Kmeans | logsieve_artifact::ModelKind::Flow2vec) {
            "inertia"
        } else {
            "cost"
        },
        fmt_num(t.inertia),
        t.n_iter,
        t.logsieve_version,
        t.inputs.join(" ")
    );
    s += "\nfeatures:\n";
    for (f, st) in spec.features.iter().zip(&fitted.features) {
        match st {
            FeatureState::Numeric { offset, scale, fill } => {
                s += &format!(
                    "  {:<22} numeric{}  offset {}  scale {}  missing {} -> {}\n",
                    f.name(),
                    if f.log1p { " log1p" } else { "" },
                    fmt_num(*offset),
                    fmt_num(*scale),
                    f.missing_policy().as_str(),
                    fmt_num(*fill)
                )
            }
            FeatureState::Categorical { vocabulary, .. } => {
                let shown: Vec<&str> = vocabulary.iter().take(8).map(String::as_str).collect();
                let more =
                    if vocabulary.len() > 8 { format!(" … (+{})", vocabulary.len() - 8) } else { String::new() };
                s += &format!(
                    "  {:<22} categorical  {} values: {}{more}\n",
                    f.name(),
                    vocabulary.len(),
                    shown.join(", ")
                );
            }
        }
        debug_assert!(matches!(f.kind, FeatureKind::Numeric | FeatureKind::Categorical));
    }
    if !m.kind.clusters() {
        return s;
    }
    s += if m.kind.one_hot() {
        "\nclusters:\n  #   size      share    threshold  mean dist  rare  distinguished by\n"
    } else {
        "\nclusters:\n  #   size      share    threshold  mean dist  rare  mode (then numeric centre)\n"
    };
    if cblof.is_some() {
        s += "  (under cblof the threshold column is the cluster's own quantile, kept for reference; \"small\" marks \
              a small cluster that is not rare)\n";
    }
    for (c, cl) in fitted.clusters.iter().enumerate() {
        let what: Vec<String> = traits[c]
            .iter()
            .map(|t| match (&t.category, t.scaled) {
                (Some(cat), _) if t.share.is_none() => format!("{}={}", t.feature, cat),
                (Some(cat), _) => format!("{}={} ({:.0}%)", t.feature, cat, 100.0 * t.share.unwrap_or(0.0)),
                (None, Some(z)) => format!("{} {:+.2} (≈{})", t.feature, z, fmt_num(t.raw.unwrap_or(0.0))),
                _ => t.feature.clone(),
            })
            .collect();
        s += &format!(
            "  {:<3} {:<9} {:>6.2}%  {:>9}  {:>9}  {:<5} {}\n",
            c,
            cl.size,
            100.0 * cl.share,
            fmt_num(cl.threshold),
            fmt_num(cl.mean_distance),
            match (cl.rare, cblof.is_some_and(|b| !b.large[c])) {
                (true, _) => "yes",
                (false, true) => "small",
                _ => "",
            },
            what.join(", ")
        );
    }
    s
}
