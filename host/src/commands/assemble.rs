//! `logsieve assemble`: write a model artifact from parts fitted elsewhere
//! (e.g. by Spark: `pipeline-examples/spark/`): the spec TOML and a JSON file
//! with the learned state.
//!
//! The state file is the artifact's own `fitted` table written as JSON — the
//! same field names `logsieve inspect --json` and `artifact/src/model.rs`
//! use, so the schema stays defined once (in `artifact/`):
//!
//! ```json
//! { "features": [ {"type": "numeric", "offset": 5.1, "scale": 2.3, "fill": 0.0},
//!                 {"type": "categorical", "vocabulary": ["missing", "tcp", "udp"]} ],
//!   "clusters": [ {"centroid": [0.1, 0.0, 1.0, 0.0], "size": 120, "share": 0.6, "threshold": 3.2,
//!                  "rare": false, "mean_distance": 0.8, "max_distance": 4.0}, … ],
//!   "gamma": 0.5,                       // k-prototypes only
//!   "training": {"rows": 200, "skipped": 0, "inertia": 151.2, "n_iter": 12, "inputs": ["…"],
//!                "created_unix": 1764650000, "logsieve_version": "0.1.0"} }
//! ```
//!
//! `training.created_unix` (default: now, or `$SOURCE_DATE_EPOCH`) and `training.logsieve_version`
//! (default: this logsieve's) may be left out. Every problem found is
//! reported at once, each naming where it is (`clusters[3].threshold`):
//! JSON syntax, unknown or missing fields, wrong types, the dimensions and
//! kinds of the learned state against the spec's features, the cluster
//! sizes against `training.rows`, shares, rare flags, distances and
//! thresholds against the spec's `[scoring]`; then the checks of
//! [`logsieve_artifact::Model::validate`] that every artifact passes. The
//! artifact is written with [`logsieve_artifact::encode`], decoded again
//! and loaded into the component before `assemble` says it is done.
//!
//! Without `--state` it writes a *spec-only* artifact: what the trainer hands
//! the component for feature extraction (`extract-batch`), which is how a
//! host that fits models elsewhere extracts features with the scoring code.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use logsieve_artifact::{
    Cluster, FeatureKind, FeatureState, Fitted, MIN_THRESHOLD, Missing, Model, ModelKind, ModelSpec, Scaling,
    TrainingMeta, ValidSpec, decode, encode,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::commands::train::{load_spec, write_atomically};
use crate::runtime::{self, Options};

/// Arguments of `logsieve assemble`.
#[derive(clap::Args, Debug)]
pub struct AssembleArgs {
    /// The model spec (TOML) the state was fitted for.
    #[arg(long)]
    pub spec: PathBuf,
    /// The learned state (JSON): features, clusters, training metadata.
    /// Without it, a spec-only artifact (for feature extraction) is written.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Where to write the model artifact (MessagePack).
    #[arg(long)]
    pub out: PathBuf,
    /// Check the artifact with this component instead of the embedded one.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Relative tolerance of the consistency checks on floating-point values
/// that another program computed (shares).
const REL_TOL: f64 = 1e-9;

/// `logsieve assemble`.
pub fn assemble(args: &AssembleArgs) -> Result<()> {
    let spec = load_spec(&args.spec)?;
    let model = match &args.state {
        None => Model { spec, fitted: None },
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading the state {}", path.display()))?;
            match assemble_model(spec, &text) {
                Ok(m) => m,
                Err(problems) => bail!(
                    "the state {} does not fit the spec {} ({} problem(s)):\n  - {}",
                    path.display(),
                    args.spec.display(),
                    problems.len(),
                    problems.join("\n  - ")
                ),
            }
        }
    };
    let bytes = encode(&model).map_err(|e| anyhow::anyhow!("the assembled model is refused: {e}"))?;
    // What every reader of the file will do: decode (checksum, validation)…
    let decoded = decode(&bytes).map_err(|e| anyhow::anyhow!("the assembled artifact does not decode: {e}"))?;
    // … and the component itself, which is what scores with it.
    let rt = runtime::load(args.plugin.as_deref())?;
    let mut inst = runtime::instantiate_model(&rt, &bytes, &args.out, Options { top_features: 0, emit_vector: false })
        .context("the component refuses the assembled artifact")?;
    let info = inst.info()?;
    write_atomically(&args.out, &bytes)?;
    if !args.quiet {
        match &model.fitted {
            None => eprintln!(
                "wrote {} ({} bytes, model {}): spec only ({} features), for feature extraction",
                args.out.display(),
                bytes.len(),
                decoded.id,
                info.features.len()
            ),
            Some(f) => eprintln!(
                "wrote {} ({} bytes, model {}): {} k={}, dimension {}, {} rows, inertia {:.6}",
                args.out.display(),
                bytes.len(),
                decoded.id,
                model.spec.model.kind.as_str(),
                info.n_clusters,
                info.dimension,
                f.training.rows,
                f.training.inertia
            ),
        }
    }
    Ok(())
}

/// The model of `spec` and the state text, or every problem found.
pub fn assemble_model(spec: ValidSpec, state: &str) -> Result<Model, Vec<String>> {
    let mut errs = Vec::new();
    let kind = spec.model.kind;
    if kind == ModelKind::Flow2vec {
        return Err(vec![
            "the spec is a flow2vec model: assemble writes kmeans, kmodes and kprototypes models (a flow2vec \
             model's embedding is made by `logsieve train`)"
                .into(),
        ]);
    }
    let root: Value = match serde_json::from_str(state) {
        Ok(v) => v,
        Err(e) => return Err(vec![format!("the state is not valid JSON: {e}")]),
    };
    let Value::Object(mut root) = root else {
        return Err(vec![format!("the state must be a JSON object, not {}", kind_of(&root))]);
    };
    known_keys("the state", &root, &["features", "clusters", "gamma", "training"], &mut errs);
    if root.contains_key("embedding") {
        errs.push(
            "the state has an `embedding`: only flow2vec models have one, and assemble does not write them".into(),
        );
    }

    // Training metadata: two fields may be left to assemble.
    if let Some(Value::Object(t)) = root.get_mut("training") {
        if !t.contains_key("created_unix") {
            match super::creation_time() {
                Ok(now) => {
                    t.insert("created_unix".into(), Value::from(now));
                }
                Err(e) => errs.push(e.to_string()),
            }
        }
        t.entry("logsieve_version").or_insert_with(|| Value::from(env!("CARGO_PKG_VERSION")));
    }
    let (features, all_features) = list::<FeatureState>(&root, "features", &mut errs);
    let (clusters, all_clusters) = list::<Cluster>(&root, "clusters", &mut errs);
    let training: Option<TrainingMeta> = field(&root, "training", &mut errs);
    let gamma: Option<f64> = match root.get("gamma") {
        None | Some(Value::Null) => None,
        Some(v) => parse_at("gamma", v, &mut errs),
    };
    if let Some(Value::Object(t)) = root.get("training") {
        known_keys(
            "training",
            t,
            &["rows", "skipped", "inertia", "n_iter", "inputs", "created_unix", "logsieve_version", "sweep"],
            &mut errs,
        );
    }
    if let Some(Value::Array(cs)) = root.get("clusters") {
        for (i, c) in cs.iter().enumerate() {
            if let Value::Object(c) = c {
                known_keys(
                    &format!("clusters[{i}]"),
                    c,
                    &["centroid", "size", "share", "threshold", "rare", "mean_distance", "max_distance"],
                    &mut errs,
                );
            }
        }
    }

    let n_features = root.get("features").and_then(Value::as_array).map(Vec::len);
    check_features(&spec, &features, n_features, &mut errs);
    // The encoded width, when every feature's state is known.
    let kinds_match = features.iter().all(|(i, f)| {
        spec.features
            .get(*i)
            .is_some_and(|s| matches!(f, FeatureState::Numeric { .. }) == (s.kind == FeatureKind::Numeric))
    });
    let dim = (all_features && kinds_match && features.len() == spec.features.len())
        .then(|| features.iter().map(|(_, f)| f.width(kind.one_hot())).sum::<usize>());
    check_clusters(&spec, &clusters, all_clusters, dim, training.as_ref(), &mut errs);
    if let Some(t) = &training
        && !(t.inertia.is_finite() && t.inertia >= 0.0)
    {
        errs.push(format!("training.inertia: {} must be finite and >= 0", t.inertia));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let Some(training) = training else { unreachable!("a missing part is a problem reported above") };
    let features = features.into_iter().map(|(_, f)| f).collect();
    let clusters = clusters.into_iter().map(|(_, c)| c).collect();
    let model = Model { spec, fitted: Some(Fitted { features, clusters, gamma, embedding: None, training }) };
    // The checks every artifact passes (dimensions, kinds, thresholds, codes, gamma).
    model.validate().map_err(|e| e.into_iter().map(|e| format!("model: {e}")).collect::<Vec<_>>())?;
    Ok(model)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Report keys not in `known` (a typo would otherwise be ignored silently).
fn known_keys(at: &str, obj: &Map<String, Value>, known: &[&str], errs: &mut Vec<String>) {
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
            errs.push(format!("{at}: unknown field `{k}` (known: {})", known.join(", ")));
        }
    }
}

fn parse_at<T: DeserializeOwned>(at: &str, v: &Value, errs: &mut Vec<String>) -> Option<T> {
    match T::deserialize(v) {
        Ok(t) => Some(t),
        Err(e) => {
            errs.push(format!("{at}: {e}"));
            None
        }
    }
}

fn field<T: DeserializeOwned>(root: &Map<String, Value>, key: &str, errs: &mut Vec<String>) -> Option<T> {
    match root.get(key) {
        None | Some(Value::Null) => {
            errs.push(format!("the state has no `{key}`"));
            None
        }
        Some(v) => parse_at(key, v, errs),
    }
}

/// A list parsed element by element, so a problem names its index: the
/// elements that parse, with their indices, and whether all did.
fn list<T: DeserializeOwned>(root: &Map<String, Value>, key: &str, errs: &mut Vec<String>) -> (Vec<(usize, T)>, bool) {
    let items = match root.get(key) {
        None | Some(Value::Null) => {
            errs.push(format!("the state has no `{key}`"));
            return (Vec::new(), false);
        }
        Some(Value::Array(a)) => a,
        Some(v) => {
            errs.push(format!("{key}: must be an array, not {}", kind_of(v)));
            return (Vec::new(), false);
        }
    };
    let out: Vec<(usize, T)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| parse_at(&format!("{key}[{i}]"), v, errs).map(|t| (i, t)))
        .collect();
    let all = out.len() == items.len();
    (out, all)
}

fn check_features(spec: &ModelSpec, features: &[(usize, FeatureState)], n: Option<usize>, errs: &mut Vec<String>) {
    if let Some(n) = n.filter(|n| *n != spec.features.len()) {
        errs.push(format!(
            "features: {n} entries, but the spec declares {} features ({})",
            spec.features.len(),
            spec.features.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
        ));
    }
    for (i, st) in features {
        let i = *i;
        let Some(f) = spec.features.get(i) else { continue };
        let at = format!("features[{i}] ({})", f.name());
        match (f.kind, st) {
            (FeatureKind::Numeric, FeatureState::Numeric { offset, scale, fill }) => {
                if !(offset.is_finite() && scale.is_finite() && *scale > 0.0 && fill.is_finite()) {
                    errs.push(format!(
                        "{at}: offset {offset}, scale {scale}, fill {fill} must be finite with scale > 0"
                    ));
                }
                if spec.scaling.method == Scaling::None && (*offset != 0.0 || *scale != 1.0) {
                    errs.push(format!(
                        "{at}: the spec's scaling is none, so offset must be 0 and scale 1 (got {offset}, {scale})"
                    ));
                }
                if f.missing_policy() != Missing::Mean && *fill != 0.0 {
                    errs.push(format!(
                        "{at}: fill {fill}, but a missing value is 0 unless the feature has missing = \"mean\" \
                         (it has missing = \"{}\")",
                        f.missing_policy().as_str()
                    ));
                }
            }
            (FeatureKind::Categorical, FeatureState::Categorical { vocabulary }) => {
                if vocabulary.is_empty() {
                    errs.push(format!("{at}: the vocabulary is empty (training saw at least one value)"));
                }
                if let Some(w) = vocabulary.windows(2).find(|w| w[0] >= w[1]) {
                    errs.push(format!(
                        "{at}: the vocabulary must be sorted (by bytes) without repeats; {:?} comes before {:?}",
                        w[0], w[1]
                    ));
                }
            }
            (FeatureKind::Numeric, FeatureState::Categorical { .. }) => {
                errs.push(format!("{at}: the spec declares it numeric, but the state is categorical"))
            }
            (FeatureKind::Categorical, FeatureState::Numeric { .. }) => {
                errs.push(format!("{at}: the spec declares it categorical, but the state is numeric"))
            }
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= REL_TOL * a.abs().max(b.abs()).max(1e-300)
}

fn check_clusters(
    spec: &ModelSpec,
    clusters: &[(usize, Cluster)],
    all: bool,
    dim: Option<usize>,
    training: Option<&TrainingMeta>,
    errs: &mut Vec<String>,
) {
    // Shares are checked against the rows when the sizes add up to them
    // (otherwise that one problem is reported, not one per cluster).
    let mut rows = training.map(|t| t.rows);
    if all {
        let k = clusters.len();
        let want = spec.model.n_clusters as usize;
        if k == 0 {
            errs.push("clusters: empty; a model needs at least one".into());
            return;
        }
        let fewer_ok = matches!(spec.model.kind, ModelKind::Kmodes | ModelKind::Kprototypes) && k < want;
        if k != want && !fewer_ok {
            errs.push(format!("clusters: {k} clusters, but the spec asks for n_clusters = {want}"));
        }
        let sizes: u64 = clusters.iter().map(|(_, c)| c.size).sum();
        if let Some(t) = training
            && sizes != t.rows
        {
            errs.push(format!("clusters: the sizes add up to {sizes}, but training.rows is {}", t.rows));
            rows = None;
        }
    } else {
        rows = None;
    }
    for (i, c) in clusters {
        let at = format!("clusters[{i}]");
        match dim {
            Some(d) if c.centroid.len() != d => errs.push(format!(
                "{at}.centroid: {} values, but the features encode to a vector of {d} ({})",
                c.centroid.len(),
                if spec.model.kind.one_hot() {
                    "one per numeric feature, one per vocabulary value of each categorical feature"
                } else {
                    "one per feature"
                }
            )),
            None if c.centroid.len() != clusters[0].1.centroid.len() => errs.push(format!(
                "{at}.centroid: {} values, but clusters[{}].centroid has {}",
                c.centroid.len(),
                clusters[0].0,
                clusters[0].1.centroid.len()
            )),
            _ => {}
        }
        if let Some(rows) = rows.filter(|r| *r > 0) {
            let share = c.size as f64 / rows as f64;
            if !close(c.share, share) {
                errs.push(format!("{at}.share: {}, but size / training.rows = {} / {rows} = {share}", c.share, c.size));
            }
        }
        let rare = c.share < spec.scoring.rare_share;
        if c.rare != rare {
            errs.push(format!(
                "{at}.rare: {}, but its share {} is {} the spec's rare_share {}",
                c.rare,
                c.share,
                if rare { "below" } else { "not below" },
                spec.scoring.rare_share
            ));
        }
        if !(c.mean_distance.is_finite() && c.mean_distance >= 0.0) {
            errs.push(format!("{at}.mean_distance: {} must be finite and >= 0", c.mean_distance));
        }
        if !(c.max_distance.is_finite() && c.max_distance >= 0.0) {
            errs.push(format!("{at}.max_distance: {} must be finite and >= 0", c.max_distance));
        }
        if c.mean_distance > c.max_distance * (1.0 + REL_TOL) {
            errs.push(format!(
                "{at}: mean_distance {} is larger than max_distance {}",
                c.mean_distance, c.max_distance
            ));
        }
        if c.size == 0 && (c.mean_distance != 0.0 || c.max_distance != 0.0) {
            errs.push(format!(
                "{at}: size 0, but mean_distance {} and max_distance {}",
                c.mean_distance, c.max_distance
            ));
        }
        if !(c.threshold.is_finite() && c.threshold >= MIN_THRESHOLD) {
            errs.push(format!("{at}.threshold: {} must be finite and >= {MIN_THRESHOLD}", c.threshold));
        } else if let Some(t) = spec.scoring.threshold
            && c.threshold != t.max(MIN_THRESHOLD)
        {
            errs.push(format!("{at}.threshold: {}, but the spec sets an absolute threshold = {t}", c.threshold));
        }
    }
}
