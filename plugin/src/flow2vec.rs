//! flow2vec: an event's categorical features joined into a token (the flow
//! tuple), sentences of consecutive tokens for training, and scoring a
//! token by its learned cluster.
//!
//! - **Token**: the features' texts in spec order joined with `|`, a missing
//!   value as `missing` (e.g. `147.32.84.165|147.32.80.9|53|udp`). The one
//!   definition, used by the trainer (on extracted values) and the scorer.
//! - **Sentences**: runs of `sentence_length` consecutive events, in input
//!   order — Zeek and Argus write flows in time order, so this is time order
//!   ([`sentences`]).
//! - **Scoring**: a known token's nearest cluster and distance were computed
//!   when training (they are in the artifact), so scoring is a look-up; a
//!   token never seen in training is itself a finding (`unseen_flow`) and is
//!   scored by its *relative* when the spec names `relative` features: the
//!   most frequent known token that has the same values of those features.

use std::collections::HashMap;

use logsieve_artifact::{Embedding, FeatureSpec, Fitted};

use crate::event::{EventError, Scalar};
use crate::features::{FeatureValue, MISSING_CATEGORY, category};

/// Separator of a token's parts.
pub const SEPARATOR: char = '|';

/// Join parts into a token.
pub fn join<'a>(parts: impl IntoIterator<Item = Option<&'a str>>, out: &mut String) {
    out.clear();
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(p.unwrap_or(MISSING_CATEGORY));
    }
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

/// What a flow2vec model needs to score.
pub(crate) struct Flow2VecFit {
    index: HashMap<String, u32>,
    labels: Vec<u32>,
    distances: Vec<f64>,
    /// Relative key → the most frequent token with it.
    relatives: HashMap<String, u32>,
    /// Positions of the relative features among the features.
    relative_at: Vec<usize>,
    embedding: Embedding,
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
                let parts: Vec<&str> = t.split(SEPARATOR).collect();
                if parts.len() == spec.features.len() {
                    let key = relative_key(&relative_at, |j| Some(parts[j]));
                    relatives.entry(key).or_insert(i as u32);
                }
            }
        }
        Some(Flow2VecFit {
            index,
            labels: e.labels.clone(),
            distances: e.distances.clone(),
            relatives,
            relative_at,
            embedding: e.clone(),
        })
    }

    /// Build the event's token into `token` and look it up.
    pub(crate) fn score(
        &self,
        features: &[FeatureSpec],
        slots: &[Option<Scalar>],
        token: &mut String,
    ) -> Result<TokenScore, EventError> {
        let mut parts = Vec::with_capacity(features.len());
        for (f, v) in features.iter().zip(slots) {
            let c = category(f, v.as_ref())?;
            if c.is_none() && f.missing_policy() == logsieve_artifact::Missing::Error {
                return Err(EventError::new(
                    "missing_field",
                    format!("field '{}' is absent or null (missing = \"error\")", f.field),
                ));
            }
            parts.push(c);
        }
        join(parts.iter().map(|p| p.as_deref()), token);
        if let Some(&i) = self.index.get(token.as_str()) {
            return Ok(TokenScore { scored: Some(i), unseen: false, relative: None });
        }
        let relative = if self.relative_at.is_empty() {
            None
        } else {
            let key = relative_key(&self.relative_at, |j| parts[j].as_deref());
            self.relatives.get(&key).copied()
        };
        Ok(TokenScore { scored: relative, unseen: true, relative })
    }

    pub(crate) fn label(&self, i: u32) -> usize {
        self.labels[i as usize] as usize
    }

    pub(crate) fn distance(&self, i: u32) -> f64 {
        self.distances[i as usize]
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
    fn sentences_are_consecutive_runs() {
        let s = sentences(&[1, 2, 3, 4, 5], 2);
        assert_eq!(s, vec![vec![1, 2], vec![3, 4], vec![5]]);
    }
}
