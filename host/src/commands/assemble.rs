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
//!   "cblof": {"threshold": 2.7},        // [scoring] method = "cblof" only; "large": [true, …]
//!                                       // may be given, else PyOD's rule on the sizes decides
//!   "training": {"rows": 200, "skipped": 0, "inertia": 151.2, "n_iter": 12, "inputs": ["…"],
//!                "created_unix": 1764650000, "logsieve_version": "0.1.0"} }
//! ```
//!
//! `training.created_unix` (default: now, or `$SOURCE_DATE_EPOCH`) and `training.logsieve_version`
//! (default: this logsieve's) may be left out. Every problem found is
//! reported at once, each naming where it is (`clusters[3].threshold`):
//! JSON syntax, unknown or missing fields, wrong types; then, on a state
//! that parses, the rules every artifact follows
//! ([`logsieve_artifact::consistency`]): the dimensions and kinds of the
//! learned state against the spec's features, the cluster sizes against
//! `training.rows`, shares, rare flags, distances and thresholds against
//! the spec's `[scoring]`. The
//! artifact is written with [`logsieve_artifact::encode`], decoded again
//! and loaded into the component before `assemble` says it is done.
//!
//! Without `--state` it writes a *spec-only* artifact: what the trainer hands
//! the component for feature extraction (`extract-batch`), which is how a
//! host that fits models elsewhere extracts features with the scoring code.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use logsieve_artifact::{
    Cblof, Cluster, FeatureState, Fitted, Model, ModelKind, TrainingMeta, ValidSpec, decode, encode,
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
    #[arg(short = 'o', long, visible_alias = "output")]
    pub out: PathBuf,
    /// Check the artifact with this component instead of the embedded one.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

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
    if kind == ModelKind::IsolationForest {
        return Err(vec![
            "the spec is an isolation_forest model: assemble writes kmeans, kmodes and kprototypes models (its \
             trees are grown by `logsieve train`)"
                .into(),
        ]);
    }
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
    known_keys("the state", &root, &["features", "clusters", "gamma", "cblof", "training"], &mut errs);
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
    // cblof: the threshold is given; the large clusters may be left to
    // assemble (PyOD's rule on the cluster sizes, as `logsieve train`).
    let cblof_threshold: Option<f64> = match root.get("cblof") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => {
            known_keys("cblof", c, &["large", "threshold"], &mut errs);
            match c.get("threshold") {
                Some(v) => parse_at("cblof.threshold", v, &mut errs),
                None => {
                    errs.push("cblof: missing field `threshold`".into());
                    None
                }
            }
        }
        Some(v) => {
            errs.push(format!("cblof: expected an object, found {}", kind_of(v)));
            None
        }
    };
    let cblof_large: Option<Vec<bool>> = match root.get("cblof").and_then(|c| c.get("large")) {
        None | Some(Value::Null) => None,
        Some(v) => parse_at("cblof.large", v, &mut errs),
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

    // A state that does not parse in full cannot be checked further.
    let (Some(training), true, true) = (training, all_features, all_clusters) else {
        return Err(errs);
    };
    let features = features.into_iter().map(|(_, f)| f).collect();
    let clusters: Vec<Cluster> = clusters.into_iter().map(|(_, c)| c).collect();
    let cblof = cblof_threshold.map(|threshold| {
        let large = cblof_large.unwrap_or_else(|| logsieve_train::cblof::large_of(&spec, &clusters));
        Cblof { large, threshold }
    });
    let model = Model {
        spec,
        fitted: Some(Fitted { features, clusters, gamma, embedding: None, cblof, isolation: None, training }),
    };
    // The rules every artifact follows (logsieve_artifact::consistency).
    if let Err(e) = model.validate() {
        errs.extend(e);
    }
    if errs.is_empty() { Ok(model) } else { Err(errs) }
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
