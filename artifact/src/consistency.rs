//! The rules a model's learned state must follow to match its spec: the one
//! place they are written. [`crate::decode`] checks every artifact it reads
//! with them, [`crate::encode`] every one it writes, and `logsieve
//! assemble` a state fitted elsewhere (Spark); each problem is named by
//! where it is (`features[1] (proto)`, `clusters[0].share`).

use crate::model::{Cluster, Fitted, MIN_THRESHOLD, Model};
use crate::spec::{FeatureKind, Missing, ModelKind, OneHotScaling, Scaling, ScoringMethod, ValidSpec};
use crate::{FeatureState, TrainingMeta};

/// Relative tolerance of the checks between floating-point values another
/// program may have computed (shares, mean against max distance).
const REL_TOL: f64 = 1e-9;

/// The largest centroid coordinate (in magnitude) a model may hold: the
/// squared distance over a vector of such coordinates stays finite.
pub const MAX_COORDINATE: f64 = 1e150;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= REL_TOL * a.abs().max(b.abs()).max(1e-300)
}

/// Every problem of a fitted model; empty when it is consistent.
pub(crate) fn problems(model: &Model) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(fitted) = &model.fitted else { return errs };
    let spec = &model.spec;
    let dim = check_features(spec, &fitted.features, &mut errs);
    let dim = match (spec.model.kind, &fitted.embedding) {
        (ModelKind::Flow2vec, Some(e)) => Some(e.dim as usize),
        (ModelKind::Flow2vec, None) => None,
        _ => dim,
    };
    if spec.model.kind.clusters() {
        check_clusters(spec, &fitted.clusters, dim, &fitted.training, &mut errs);
    } else if !fitted.clusters.is_empty() {
        errs.push(format!(
            "clusters: an {} model has none, this one has {}",
            spec.model.kind.as_str(),
            fitted.clusters.len()
        ));
    }
    match (spec.model.kind, &fitted.isolation) {
        (ModelKind::IsolationForest, Some(iso)) => {
            if let Some(d) = dim {
                iso.forest.validate(d, &mut errs);
            }
            if !(iso.threshold > 0.0 && iso.threshold <= 1.0) {
                errs.push(format!("isolation.threshold: {} must be an anomaly score in (0, 1]", iso.threshold));
            }
            if let Some(t) = spec.scoring.threshold
                && t != iso.threshold
            {
                errs.push(format!(
                    "isolation.threshold: {}, but the spec sets an absolute threshold = {t}",
                    iso.threshold
                ));
            }
        }
        (ModelKind::IsolationForest, None) => errs.push("isolation: an isolation_forest model needs its trees".into()),
        (kind, Some(_)) => errs.push(format!("isolation: a {} model has no trees", kind.as_str())),
        (_, None) => {}
    }
    check_codes(spec, fitted, &mut errs);
    match (spec.model.kind, fitted.gamma) {
        (ModelKind::Kprototypes, Some(g)) if g.is_finite() && g >= 0.0 => {}
        (ModelKind::Kprototypes, g) => {
            errs.push(format!("gamma: a kprototypes model needs a finite gamma >= 0, has {g:?}"))
        }
        (_, None) => {}
        (kind, Some(_)) => errs.push(format!("gamma: a {} model has no gamma", kind.as_str())),
    }
    let kind = spec.model.kind;
    let f2v = spec.flow2vec.clone().unwrap_or_default();
    match (kind, &fitted.embedding) {
        (ModelKind::Flow2vec, Some(e)) => {
            e.validate(fitted.clusters.len(), &mut errs);
            if f2v.sequence > 0 && e.sequence_thresholds.is_empty() {
                errs.push("embedding: the spec scores sequences but the model has no sequence thresholds".into());
            }
            if e.precision != f2v.precision {
                errs.push("embedding: stored at another precision than the spec's".to_string());
            }
        }
        (ModelKind::Flow2vec, None) => errs.push("embedding: a flow2vec model needs its embedding".to_string()),
        (_, Some(_)) => errs.push(format!("embedding: a {} model has no embedding", kind.as_str())),
        (_, None) => {}
    }
    check_cblof(spec, fitted, &mut errs);
    let t = &fitted.training;
    if !(t.inertia.is_finite() && t.inertia >= 0.0) {
        errs.push(format!("training.inertia: {} must be finite and >= 0", t.inertia));
    }
    errs
}

/// The features' learned state against the spec; returns the encoded
/// width when every state has the spec's kind.
fn check_features(spec: &ValidSpec, states: &[FeatureState], errs: &mut Vec<String>) -> Option<usize> {
    if states.len() != spec.features.len() {
        errs.push(format!(
            "features: {} entries, but the spec declares {} features ({})",
            states.len(),
            spec.features.len(),
            spec.features.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut kinds_match = states.len() == spec.features.len();
    for (i, (f, st)) in spec.features.iter().zip(states).enumerate() {
        let at = format!("features[{i}] ({})", f.name());
        match (f.kind, st) {
            (FeatureKind::Numeric, FeatureState::Numeric { offset, scale, fill }) => {
                if !(offset.is_finite() && scale.is_normal() && *scale > 0.0 && fill.is_finite()) {
                    errs.push(format!(
                        "{at}: offset {offset}, scale {scale:e}, fill {fill} must be finite with scale > 0 and not \
                         subnormal (a subnormal scale makes every scaled value infinite)"
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
            (FeatureKind::Categorical, FeatureState::Categorical { vocabulary, one_hot_scaling }) => {
                let scaled = spec.scaling.one_hot == OneHotScaling::Scaled;
                match (scaled, one_hot_scaling.len()) {
                    (false, 0) => {}
                    (false, _) => errs.push(format!(
                        "{at}: one-hot scaling is stored, but the spec's scaling.one_hot is \"unscaled\""
                    )),
                    (true, n) if n != vocabulary.len() => errs.push(format!(
                        "{at}: {n} one-hot (offset, scale) pairs for a vocabulary of {} values",
                        vocabulary.len()
                    )),
                    (true, _) => {
                        if let Some((j, (o, sc))) = one_hot_scaling
                            .iter()
                            .enumerate()
                            .find(|(_, (o, sc))| !(o.is_finite() && sc.is_normal() && *sc > 0.0))
                        {
                            errs.push(format!(
                                "{at}: one-hot column {j}: offset {o}, scale {sc:e} must be finite with scale > 0 and not subnormal"
                            ));
                        }
                    }
                }
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
                kinds_match = false;
                errs.push(format!("{at}: the spec declares it numeric, but the state is categorical"))
            }
            (FeatureKind::Categorical, FeatureState::Numeric { .. }) => {
                kinds_match = false;
                errs.push(format!("{at}: the spec declares it categorical, but the state is numeric"))
            }
        }
    }
    let one_hot = spec.model.kind.one_hot();
    kinds_match.then(|| states.iter().map(|s| s.width(one_hot)).sum())
}

/// The clusters: their number, dimensions, sizes and shares, flags,
/// distances and thresholds.
fn check_clusters(
    spec: &ValidSpec,
    clusters: &[Cluster],
    dim: Option<usize>,
    training: &TrainingMeta,
    errs: &mut Vec<String>,
) {
    let k = clusters.len();
    let want = spec.model.n_clusters as usize;
    let kind = spec.model.kind;
    if k == 0 {
        errs.push("clusters: empty; a model needs at least one".into());
        return;
    }
    // k-modes, like the `kmodes` package, makes one cluster per distinct
    // row when there are fewer distinct rows than n_clusters; flow2vec
    // makes at most one per token, and its n_clusters = 0 means
    // "vocabulary / 5".
    let fewer_ok = matches!(kind, ModelKind::Kmodes | ModelKind::Kprototypes | ModelKind::Flow2vec) && k < want;
    let auto = kind == ModelKind::Flow2vec && want == 0;
    if k != want && !fewer_ok && !auto {
        errs.push(format!("clusters: {k} clusters, but the spec asks for n_clusters = {want}"));
    }
    // Shares are of the rows the clusters hold: every training row (for
    // flow2vec, every occurrence of a token in the vocabulary).
    let sizes: u64 = clusters.iter().map(|c| c.size).sum();
    let mut total = Some(sizes);
    if kind != ModelKind::Flow2vec && sizes != training.rows {
        errs.push(format!("clusters: the sizes add up to {sizes}, but training.rows is {}", training.rows));
        total = None;
    }
    for (i, c) in clusters.iter().enumerate() {
        let at = format!("clusters[{i}]");
        if let Some(d) = dim.filter(|d| c.centroid.len() != *d) {
            errs.push(format!(
                "{at}.centroid: {} values, but the features encode to a vector of {d} ({})",
                c.centroid.len(),
                match kind {
                    ModelKind::Kmeans =>
                        "one per numeric feature, one per vocabulary value of each categorical feature",
                    ModelKind::Flow2vec => "the embedding's dimension",
                    _ => "one per feature",
                }
            ));
        }
        if c.centroid.iter().any(|v| !v.is_finite()) {
            errs.push(format!("{at}.centroid: a coordinate is not finite"));
        } else if let Some((j, v)) = c.centroid.iter().enumerate().find(|(_, v)| v.abs() > MAX_COORDINATE) {
            errs.push(format!(
                "{at}.centroid: coordinate {j} is {v:e}, beyond ±{MAX_COORDINATE:e}: the squared distance to it \
                 overflows, so no event could be scored"
            ));
        }
        if !(c.share.is_finite() && (0.0..=1.0).contains(&c.share)) {
            errs.push(format!("{at}.share: {} must be in [0, 1]", c.share));
        } else if let Some(n) = total.filter(|n| *n > 0) {
            let share = c.size as f64 / n as f64;
            if !close(c.share, share) {
                errs.push(format!(
                    "{at}.share: {}, but size / {} = {} / {n} = {share}",
                    c.share,
                    rows_are(kind),
                    c.size
                ));
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

/// What cluster sizes count.
fn rows_are(kind: ModelKind) -> &'static str {
    if kind == ModelKind::Flow2vec { "the sizes' sum (token occurrences)" } else { "training.rows" }
}

/// `[scoring] method = "cblof"`: the large clusters and the threshold,
/// present exactly when the spec scores that way.
fn check_cblof(spec: &ValidSpec, fitted: &Fitted, errs: &mut Vec<String>) {
    let k = fitted.clusters.len();
    match (spec.scoring.method(), &fitted.cblof) {
        (ScoringMethod::Cblof, Some(c)) => {
            if c.large.len() != k {
                errs.push(format!("cblof.large: {} flags for {k} clusters", c.large.len()));
            } else if !c.large.contains(&true) {
                errs.push("cblof.large: no cluster is large (the largest always is)".to_string());
            } else if let Some(i) = fitted.clusters.iter().zip(&c.large).position(|(cl, &l)| cl.rare && l) {
                errs.push(format!("cblof.large: cluster {i} is rare, so it is small"));
            }
            if !(c.threshold.is_finite() && c.threshold >= MIN_THRESHOLD) {
                errs.push(format!("cblof.threshold: {} must be finite and at least {MIN_THRESHOLD}", c.threshold));
            }
        }
        (ScoringMethod::Cblof, None) => {
            errs.push("cblof: the spec scores with method = \"cblof\", but the model has no cblof state".to_string())
        }
        (ScoringMethod::Centroid, Some(_)) => {
            errs.push("cblof: the model has cblof state, but the spec scores with method = \"centroid\"".to_string())
        }
        (ScoringMethod::Centroid, None) => {}
    }
}

/// k-modes and k-prototypes: each mode's categorical coordinate is a code
/// of its feature's vocabulary.
fn check_codes(spec: &ValidSpec, fitted: &Fitted, errs: &mut Vec<String>) {
    if matches!(spec.model.kind, ModelKind::Kmeans | ModelKind::Flow2vec | ModelKind::IsolationForest) {
        return;
    }
    let codes: Vec<(usize, usize)> = fitted
        .features
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            FeatureState::Categorical { vocabulary, .. } => Some((i, vocabulary.len())),
            FeatureState::Numeric { .. } => None,
        })
        .collect();
    for (c, cl) in fitted.clusters.iter().enumerate() {
        for &(at, n) in &codes {
            if let Some(&v) = cl.centroid.get(at)
                && !(v >= 0.0 && v < n as f64 && v.fract() == 0.0)
            {
                errs.push(format!(
                    "clusters[{c}].centroid: the mode of feature {at} ({}) is code {v}, not one of the {n} vocabulary \
                     indices",
                    spec.features.get(at).map_or("?", |f| f.name())
                ));
            }
        }
    }
}
