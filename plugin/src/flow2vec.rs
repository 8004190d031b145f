//! flow2vec: an event's categorical features joined into a token (the flow
//! tuple), sentences of consecutive tokens for training, and scoring a
//! token by its learned cluster.
//!
//! - **Token**: the features' texts in spec order joined with `|`, a missing
//!   value as `missing` (e.g. `147.32.84.165|147.32.80.9|53|udp`); a `|` or
//!   `\` inside a value is escaped with `\`, so different flows never share a
//!   token. The one definition, used by the trainer (on extracted values)
//!   and the scorer.
//! - **Sentences**: runs of `sentence_length` consecutive events, in input
//!   order — Zeek and Argus write flows in time order, so this is time order
//!   ([`sentences`]).
//! - **Scoring**: a known token's nearest cluster and distance were computed
//!   when training (they are in the artifact), so scoring is a look-up; a
//!   token never seen in training is itself a finding (`unseen_flow`) and is
//!   scored by its *relative* when the spec names `relative` features: the
//!   most frequent known token that has the same values of those features.
//! - **Sequences** (`sequence = N`): per key (default the first feature, the
//!   source), the mean vector of its last N flows whose tokens are known is
//!   compared with the centroids too ([`Sequences`], [`nearest`]); a mean
//!   farther than the cluster's sequence threshold is `unusual_sequence`.
//!   The trainer runs the same code over the training flows to learn those
//!   thresholds. At most 100,000 keys are kept; a new key beyond that
//!   forgets the oldest one.

use std::collections::{HashMap, VecDeque};

use logsieve_artifact::{Embedding, FeatureSpec, Fitted, VectorMetric};

use crate::event::{EventError, Scalar};
use crate::features::{FeatureValue, MISSING_CATEGORY, category};
use crate::output::SequenceVerdict;
use crate::reason::Reason;

/// Separator of a token's parts.
pub const SEPARATOR: char = '|';

/// Join parts into a token (escaping `|` and `\\` inside them).
pub fn join<'a>(parts: impl IntoIterator<Item = Option<&'a str>>, out: &mut String) {
    out.clear();
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        let p = p.unwrap_or(MISSING_CATEGORY);
        if p.contains([SEPARATOR, '\\']) {
            for c in p.chars() {
                if c == SEPARATOR || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
        } else {
            out.push_str(p);
        }
    }
}

/// A token's parts, unescaped (the inverse of [`join`]).
pub fn split(token: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => parts.last_mut().expect("one part").extend(chars.next()),
            SEPARATOR => parts.push(String::new()),
            c => parts.last_mut().expect("one part").push(c),
        }
    }
    parts
}

/// The token of extracted values (the trainer's path).
pub fn token_of_values(values: &[FeatureValue]) -> String {
    let mut t = String::new();
    join(
        values.iter().map(|v| match v {
            FeatureValue::Category(c) => Some(c.as_str()),
            _ => None,
        }),
        &mut t,
    );
    t
}

/// Sentences: consecutive runs of `len` tokens (the last may be shorter).
pub fn sentences<T: Clone>(tokens: &[T], len: usize) -> Vec<Vec<T>> {
    tokens.chunks(len.max(1)).map(<[T]>::to_vec).collect()
}

/// The most keys [`Sequences`] keeps.
pub const MAX_SEQUENCE_KEYS: usize = 100_000;

/// Per key, the last `n` known tokens; when a key has `n`, their mean
/// vector is its sequence.
pub struct Sequences {
    n: usize,
    windows: HashMap<String, VecDeque<u32>>,
    order: VecDeque<String>,
}

impl Sequences {
    /// Windows of `n` tokens.
    pub fn new(n: usize) -> Self {
        Sequences { n: n.max(1), windows: HashMap::new(), order: VecDeque::new() }
    }

    /// Add token `token` (an index into `vectors`, `dim` wide) to `key`'s
    /// window; when the window is full, write the mean vector into `mean`
    /// and return true.
    pub fn push(&mut self, key: &str, token: u32, vectors: &[f64], dim: usize, mean: &mut Vec<f64>) -> bool {
        if !self.windows.contains_key(key) {
            if self.windows.len() >= MAX_SEQUENCE_KEYS
                && let Some(old) = self.order.pop_front()
            {
                self.windows.remove(&old);
            }
            self.order.push_back(key.to_string());
            self.windows.insert(key.to_string(), VecDeque::with_capacity(self.n.min(16)));
        }
        let w = self.windows.get_mut(key).expect("inserted above");
        if w.len() == self.n {
            w.pop_front();
        }
        w.push_back(token);
        if w.len() < self.n {
            return false;
        }
        mean.clear();
        mean.resize(dim, 0.0);
        for &t in w.iter() {
            for (m, v) in mean.iter_mut().zip(&vectors[t as usize * dim..(t as usize + 1) * dim]) {
                *m += v;
            }
        }
        let inv = 1.0 / self.n as f64;
        mean.iter_mut().for_each(|m| *m *= inv);
        true
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// No keys.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

/// Positions of the named features (the sequence key; default the first).
pub fn sequence_key_at(spec: &logsieve_artifact::ModelSpec) -> Vec<usize> {
    let names = spec.flow2vec.as_ref().map(|f| f.sequence_key.clone()).unwrap_or_default();
    if names.is_empty() {
        return vec![0];
    }
    names.iter().filter_map(|r| spec.features.iter().position(|x| x.name() == r)).collect()
}

/// A key's text from the parts at `at`.
pub fn key_of<'a>(at: &[usize], part: impl Fn(usize) -> Option<&'a str>) -> String {
    relative_key(at, part)
}

/// The sequence state of a scorer.
struct SequenceScoring {
    seqs: Sequences,
    key_at: Vec<usize>,
    /// All token vectors as f64, row-major.
    vectors: Vec<f64>,
    /// Centroids, k × dim (unit-length for cosine).
    centroids: Vec<f64>,
    thresholds: Vec<f64>,
    metric: VectorMetric,
    mean: Vec<f64>,
}

/// What a flow2vec model needs to score.
pub(crate) struct Flow2VecFit {
    index: HashMap<String, u32>,
    /// Relative key → the most frequent token with it.
    relatives: HashMap<String, u32>,
    /// Positions of the relative features among the features.
    relative_at: Vec<usize>,
    embedding: Embedding,
    sequences: Option<SequenceScoring>,
}

/// A token's verdict.
pub(crate) struct TokenScore {
    /// Token index scored (the token itself or its relative), if any.
    pub scored: Option<u32>,
    /// The token was not in the vocabulary.
    pub unseen: bool,
    /// The relative used, when the token was unseen.
    pub relative: Option<u32>,
}

impl Flow2VecFit {
    pub(crate) fn new(spec: &logsieve_artifact::ModelSpec, fitted: &Fitted) -> Option<Self> {
        let e = fitted.embedding.as_ref()?;
        let index = e.tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let relative_at: Vec<usize> = spec
            .flow2vec
            .as_ref()
            .map(|f| f.relative.iter().filter_map(|r| spec.features.iter().position(|x| x.name() == r)).collect())
            .unwrap_or_default();
        let mut relatives = HashMap::new();
        if !relative_at.is_empty() {
            // Tokens are most frequent first: the first with a key wins.
            for (i, t) in e.tokens.iter().enumerate() {
                let parts = split(t);
                if parts.len() == spec.features.len() {
                    let key = relative_key(&relative_at, |j| Some(parts[j].as_str()));
                    relatives.entry(key).or_insert(i as u32);
                }
            }
        }
        let f = spec.flow2vec.clone().unwrap_or_default();
        let sequences = (f.sequence > 0 && !e.sequence_thresholds.is_empty()).then(|| SequenceScoring {
            seqs: Sequences::new(f.sequence as usize),
            key_at: sequence_key_at(spec),
            vectors: e.values().iter().map(|v| f64::from(*v)).collect(),
            centroids: fitted.clusters.iter().flat_map(|c| c.centroid.iter().copied()).collect(),
            thresholds: e.sequence_thresholds.clone(),
            metric: f.metric,
            mean: Vec::new(),
        });
        Some(Flow2VecFit { index, relatives, relative_at, embedding: e.clone(), sequences })
    }

    /// Build the event's token into `token` and look it up; with
    /// sequences on, a known token also joins its key's window.
    pub(crate) fn score(
        &mut self,
        features: &[FeatureSpec],
        slots: &[Option<Scalar>],
        token: &mut String,
    ) -> Result<(TokenScore, Option<SequenceVerdict>), EventError> {
        let mut parts = Vec::with_capacity(features.len());
        for (f, v) in features.iter().zip(slots) {
            let c = category(f, v.as_ref())?;
            if c.is_none() && f.missing_policy() == logsieve_artifact::Missing::Error {
                return Err(EventError::new(
                    Reason::MissingField,
                    format!("field '{}' is absent or null (missing = \"error\")", f.field),
                ));
            }
            parts.push(c);
        }
        join(parts.iter().map(|p| p.as_deref()), token);
        if let Some(&i) = self.index.get(token.as_str()) {
            let dim = self.embedding.dim as usize;
            let seq = self.sequences.as_mut().and_then(|s| {
                let key = key_of(&s.key_at, |j| Some(parts[j].as_deref().unwrap_or(MISSING_CATEGORY)));
                s.seqs.push(&key, i, &s.vectors, dim, &mut s.mean).then(|| {
                    let (cluster, distance) = crate::nearest::vector(&s.mean, &s.centroids, s.metric);
                    SequenceVerdict { cluster, distance, threshold: s.thresholds[cluster] }
                })
            });
            if seq.as_ref().is_some_and(|s| !s.distance.is_finite()) {
                return Err(EventError::new(
                    Reason::NonFinite,
                    "the sequence's mean vector is too far from every centroid to score (distance overflows)",
                ));
            }
            return Ok((TokenScore { scored: Some(i), unseen: false, relative: None }, seq));
        }
        let relative = if self.relative_at.is_empty() {
            None
        } else {
            let key = relative_key(&self.relative_at, |j| parts[j].as_deref());
            self.relatives.get(&key).copied()
        };
        Ok((TokenScore { scored: relative, unseen: true, relative }, None))
    }

    pub(crate) fn label(&self, i: u32) -> usize {
        self.embedding.labels[i as usize] as usize
    }

    pub(crate) fn distance(&self, i: u32) -> f64 {
        self.embedding.distances[i as usize]
    }

    pub(crate) fn token(&self, i: u32) -> &str {
        &self.embedding.tokens[i as usize]
    }

    pub(crate) fn vector(&self, i: u32) -> Vec<f32> {
        let mut v = vec![0.0; self.embedding.dim as usize];
        self.embedding.vector_into(i as usize, &mut v);
        v
    }
}

fn relative_key<'a>(at: &[usize], part: impl Fn(usize) -> Option<&'a str>) -> String {
    let mut k = String::new();
    join(at.iter().map(|&j| part(j)), &mut k);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_join_parts_and_name_missing_values() {
        let mut t = String::new();
        join([Some("10.0.0.1"), None, Some("53")], &mut t);
        assert_eq!(t, "10.0.0.1|missing|53");
        let v = [FeatureValue::Category("a".into()), FeatureValue::Missing, FeatureValue::Category("udp".into())];
        assert_eq!(token_of_values(&v), "a|missing|udp");
    }

    #[test]
    fn separators_inside_values_are_escaped_so_tokens_never_collide() {
        let (mut a, mut b) = (String::new(), String::new());
        join([Some("x|y"), Some("z")], &mut a);
        join([Some("x"), Some("y|z")], &mut b);
        assert_ne!(a, b);
        assert_eq!(a, "x\\|y|z");
        join([Some("a\\"), Some("|"), None], &mut b);
        assert_eq!(split(&b), vec!["a\\", "|", "missing"]);
        assert_eq!(split(&a), vec!["x|y", "z"]);
    }

    #[test]
    fn sentences_are_consecutive_runs() {
        let s = sentences(&[1, 2, 3, 4, 5], 2);
        assert_eq!(s, vec![vec![1, 2], vec![3, 4], vec![5]]);
    }
}
