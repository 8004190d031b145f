//! Fitting a flow2vec model: tokens → sentences → skip-gram vectors →
//! k-means on the vectors → each token's cluster and distance, per-cluster
//! thresholds.
//!
//! The tokens and sentences are the plugin's ([`logsieve_plugin::flow2vec`]),
//! computed from the features the component extracted, so the token a model
//! learns is byte for byte the token it is scored by.

use logsieve_artifact::{
    Embedding, Fitted, MIN_THRESHOLD, Missing, Model, ModelSpec, TrainingMeta, ValidSpec, VectorMetric,
};
use logsieve_plugin::FeatureValue;
use logsieve_plugin::features::MISSING_CATEGORY;
use logsieve_plugin::flow2vec::{Sequences, key_of, sentences, sequence_key_at, token_of_values};
use logsieve_plugin::nearest;
use ndarray::Array2;

use crate::kmeans::{self, KMeansParams};
use crate::model::{FitError, MIN_ROWS_FOR_OWN_THRESHOLD, Provenance, cluster_stats, fit_features, quantile};
use crate::progress::Progress;
use crate::word2vec::{self, Embeddings, Word2VecParams};

/// What the embedding step did, for the trainer's report.
#[derive(Debug, Clone)]
pub struct Flow2VecReport {
    /// Word2vec's statistics (speed, words).
    pub word2vec: word2vec::TrainStats,
    /// Distinct tokens in the vocabulary.
    pub vocabulary: usize,
    /// Sentences.
    pub sentences: usize,
    /// Clusters fitted.
    pub n_clusters: usize,
}

/// The word2vec parameters of a spec; `threads` as the caller asks (1 is
/// deterministic).
pub fn word2vec_params(spec: &ModelSpec, threads: usize) -> Word2VecParams {
    let f = spec.flow2vec.clone().unwrap_or_default();
    Word2VecParams {
        vector_size: f.vector_size as usize,
        window: f.window as usize,
        negative: f.negative as usize,
        sample: f.sample,
        min_count: f.min_count,
        epochs: f.epochs as usize,
        alpha: f.alpha,
        min_alpha: f.min_alpha,
        ns_exponent: 0.75,
        random_state: spec.model.random_state,
        threads,
    }
}

/// Fit a flow2vec model from extracted rows (one per event, in input
/// order). `threads`: word2vec workers (0 = all cores; 1 = the same vectors
/// for the same `random_state`, bit for bit).
pub fn fit_flow2vec(
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    provenance: Provenance,
    threads: usize,
    progress: &mut dyn Progress,
) -> Result<(Model, Flow2VecReport), FitError> {
    if rows.is_empty() {
        return Err(FitError::NoRows);
    }
    let f = spec.flow2vec.clone().unwrap_or_default();
    // A feature with missing = "error" refuses the event when scoring; so
    // does training (as k-means training does).
    for (i, r) in rows.iter().enumerate() {
        if let Some((feat, _)) = spec
            .features
            .iter()
            .zip(r)
            .find(|(feat, v)| feat.missing_policy() == Missing::Error && matches!(v, FeatureValue::Missing))
        {
            return Err(FitError::Encode(format!(
                "row {i}: field '{}' is absent or null (missing = \"error\")",
                feat.field
            )));
        }
    }
    let tokens: Vec<String> = rows.iter().map(|r| token_of_values(r)).collect();
    let sents = sentences(&tokens, f.sentence_length as usize);
    let params = word2vec_params(spec, threads).validate().map_err(|e| FitError::Unfit(format!("word2vec: {e}")))?;
    let (emb, stats) = word2vec::fit(sents.iter().map(|s| s.iter().map(String::as_str)), &params, progress)
        .map_err(|e| FitError::Unfit(format!("word2vec: {e}")))?;
    let (v, dim) = (emb.len(), emb.dim);

    // The vectors clustered: raw (euclidean) or unit-length (cosine).
    let unit = f.metric == VectorMetric::Cosine;
    let rows_of = |i: u32| if unit { emb.unit_vector_at(i) } else { emb.vector_at(i) };
    let mut x = Array2::<f64>::zeros((v, dim));
    for (i, mut row) in x.outer_iter_mut().enumerate() {
        for (o, a) in row.iter_mut().zip(rows_of(i as u32)) {
            *o = f64::from(*a);
        }
    }
    let k = match spec.model.n_clusters {
        0 => (v / 5).max(1),
        k => (k as usize).min(v),
    };
    let m = &spec.model;
    let kp = KMeansParams::new(k)
        .with_n_init(m.n_init as usize)
        .with_random_state(m.random_state)
        .with_max_iter(m.max_iter as usize)
        .with_tol(m.tol)
        .validate(v)
        .map_err(FitError::KMeans)?;
    let fit = kmeans::fit(x.view(), &kp, progress).map_err(FitError::KMeans)?;
    let mut centroids: Vec<Vec<f64>> = fit.centroids.outer_iter().map(|r| r.to_vec()).collect();
    if unit {
        // Cosine: unit-length centroids.
        for c in &mut centroids {
            let n = c.iter().map(|a| a * a).sum::<f64>().sqrt();
            if n > 0.0 {
                c.iter_mut().for_each(|a| *a /= n);
            }
        }
    }
    // Each token's nearest centroid and distance, by the plugin's rule.
    let flat: Vec<f64> = centroids.iter().flatten().copied().collect();
    let (labels, distances): (Vec<u32>, Vec<f64>) = x
        .outer_iter()
        .map(|row| {
            let (c, d) = nearest::vector(row.as_slice().expect("contiguous"), &flat, f.metric);
            (c as u32, d)
        })
        .unzip();

    // Per-cluster statistics count events: a token stands for every
    // occurrence of it in training.
    let counts = emb.vocab.counts();
    let mut occ_labels = Vec::new();
    let mut occ_dists = Vec::new();
    for ((&l, &d), &c) in labels.iter().zip(&distances).zip(counts) {
        for _ in 0..c {
            occ_labels.push(l);
            occ_dists.push(d);
        }
    }
    let clusters = cluster_stats(spec, &occ_labels, &occ_dists, centroids);
    let mut embedding = Embedding {
        tokens: emb.vocab.words().to_vec(),
        counts: counts.to_vec(),
        dim: dim as u32,
        precision: f.precision,
        vectors: Embedding::pack(&raw_vectors(&emb), f.precision),
        labels,
        distances,
        sequence_thresholds: Vec::new(),
    };
    if f.sequence > 0 {
        embedding.sequence_thresholds = sequence_thresholds(spec, rows, &tokens, &emb, &embedding, &flat)?;
    }
    let fitted = Fitted {
        features: fit_features(spec, rows),
        clusters,
        gamma: None,
        embedding: Some(embedding),
        cblof: None,
        isolation: None,
        training: TrainingMeta {
            rows: rows.len() as u64,
            skipped: provenance.skipped,
            inertia: fit.inertia,
            n_iter: fit.n_iter as u32,
            inputs: provenance.inputs,
            created_unix: provenance.created_unix,
            logsieve_version: env!("CARGO_PKG_VERSION").to_string(),
            sweep: None,
        },
    };
    let report = Flow2VecReport { word2vec: stats, vocabulary: v, sentences: sents.len(), n_clusters: k };
    Ok((Model { spec: spec.clone(), fitted: Some(fitted) }, report))
}

/// Per cluster, the threshold of a sequence's distance: the plugin's
/// [`Sequences`] run over the training flows in order (on the vectors as
/// stored), each full window's mean vector assigned to its nearest
/// centroid; then the spec's quantile per cluster (the quantile over all
/// sequences for clusters with fewer than 10), or the absolute threshold.
fn sequence_thresholds(
    spec: &ModelSpec,
    rows: &[Vec<FeatureValue>],
    tokens: &[String],
    emb: &Embeddings,
    stored: &Embedding,
    centroids: &[f64],
) -> Result<Vec<f64>, FitError> {
    let f = spec.flow2vec.clone().unwrap_or_default();
    let k = centroids.len() / stored.dim as usize;
    let vectors: Vec<f64> = stored.values().iter().map(|v| f64::from(*v)).collect();
    let key_at = sequence_key_at(spec);
    let mut seqs = Sequences::new(f.sequence as usize);
    let mut mean = Vec::new();
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); k];
    let mut all = Vec::new();
    for (row, token) in rows.iter().zip(tokens) {
        let Some(i) = emb.vocab.index(token) else { continue };
        let key = key_of(&key_at, |j| match &row[j] {
            FeatureValue::Category(c) => Some(c.as_str()),
            _ => Some(MISSING_CATEGORY),
        });
        if seqs.push(&key, i, &vectors, stored.dim as usize, &mut mean) {
            let (c, d) = nearest::vector(&mean, centroids, f.metric);
            per[c].push(d);
            all.push(d);
        }
    }
    if all.is_empty() && spec.scoring.threshold.is_none() {
        return Err(FitError::Unfit(format!(
            "flow2vec.sequence = {}: no key has that many known flows in training, so there is nothing to learn \
             a sequence threshold from; lower sequence or train on more flows",
            f.sequence
        )));
    }
    let q = spec.scoring.threshold_quantile;
    let global = quantile(&mut all, q).max(MIN_THRESHOLD);
    Ok(per
        .into_iter()
        .map(|mut ds| match spec.scoring.threshold {
            Some(t) => t.max(MIN_THRESHOLD),
            None if ds.len() < MIN_ROWS_FOR_OWN_THRESHOLD => global,
            None => quantile(&mut ds, q).max(MIN_THRESHOLD),
        })
        .collect())
}

/// The vectors, row-major, without padding.
fn raw_vectors(e: &Embeddings) -> Vec<f32> {
    (0..e.len() as u32).flat_map(|i| e.vector_at(i).iter().copied()).collect()
}

/// The embedding of a flow2vec artifact, ready for queries.
pub fn embeddings_of(model: &Model) -> Option<Embeddings> {
    let e = model.fitted.as_ref()?.embedding.as_ref()?;
    let vocab = word2vec::Vocab::from_counts(e.tokens.iter().cloned().zip(e.counts.iter().copied()));
    Some(Embeddings::new(vocab, e.values(), e.dim as usize))
}
