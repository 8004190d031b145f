//! Trained word vectors and cosine-similarity queries.

use super::simd;
use super::vocab::Vocab;

/// Word vectors: row `i` of `vectors` (`dim` floats) is word `i` of
/// `vocab` (gensim's `wv.vectors`, the input vectors `syn0`).
///
/// Queries use unit-normalised copies computed by [`Embeddings::new`]; if
/// `vectors` is changed afterwards, call [`Embeddings::renormalize`].
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    /// The words, most frequent first.
    pub vocab: Vocab,
    /// `vocab.len() × dim`, row-major.
    pub vectors: Vec<f32>,
    /// Dimensions of a vector.
    pub dim: usize,
    unit: Vec<f32>,
}

impl Embeddings {
    /// Wraps `vectors` (`vocab.len() × dim`, row-major).
    ///
    /// # Panics
    /// If the length of `vectors` is not `vocab.len() × dim`.
    pub fn new(vocab: Vocab, vectors: Vec<f32>, dim: usize) -> Embeddings {
        assert_eq!(vectors.len(), vocab.len() * dim, "vectors must be vocab.len() × dim");
        let mut e = Embeddings { vocab, vectors, dim, unit: Vec::new() };
        e.renormalize();
        e
    }

    /// Recomputes the unit-normalised copies from `vectors`.
    pub fn renormalize(&mut self) {
        self.unit = self.vectors.clone();
        for row in self.unit.chunks_exact_mut(self.dim.max(1)) {
            let norm = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            if norm > 0.0 {
                let inv = (1.0 / norm) as f32;
                row.iter_mut().for_each(|v| *v *= inv);
            }
        }
    }

    /// The number of words.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// No words.
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// The vector of word `id`.
    ///
    /// # Panics
    /// If `id` is not below `len()`.
    pub fn vector_at(&self, id: u32) -> &[f32] {
        &self.vectors[id as usize * self.dim..][..self.dim]
    }

    /// The vector of `word`, if it is in the vocabulary.
    pub fn vector(&self, word: &str) -> Option<&[f32]> {
        self.vocab.index(word).map(|i| self.vector_at(i))
    }

    /// The unit-length vector of word `id` (zero for a zero vector).
    pub fn unit_vector_at(&self, id: u32) -> &[f32] {
        &self.unit[id as usize * self.dim..][..self.dim]
    }

    /// The unit-normalised copies of all vectors, row-major.
    pub fn unit_vectors(&self) -> &[f32] {
        &self.unit
    }

    /// The cosine similarity of two words, if both are in the vocabulary.
    pub fn similarity(&self, a: &str, b: &str) -> Option<f32> {
        let (a, b) = (self.vocab.index(a)?, self.vocab.index(b)?);
        Some(simd::dot_portable(self.unit_vector_at(a), self.unit_vector_at(b)))
    }

    /// The cosine similarity of `query` (any vector of `dim` floats) with
    /// every word, by id.
    ///
    /// # Panics
    /// If `query.len() != dim`.
    pub fn cosine_similarities(&self, query: &[f32]) -> Vec<f32> {
        assert_eq!(query.len(), self.dim);
        let norm = query.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        let inv = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
        let q: Vec<f32> = query.iter().map(|&v| v * inv).collect();
        let mut out = vec![0f32; self.len()];
        simd::dots(&self.unit, self.dim, &q, &mut out);
        out
    }

    /// The `topn` words most similar (cosine) to word `id`, itself excluded,
    /// most similar first (ties by id).
    pub fn most_similar_id(&self, id: u32, topn: usize) -> Vec<(u32, f32)> {
        let mut sims = vec![0f32; self.len()];
        simd::dots(&self.unit, self.dim, self.unit_vector_at(id), &mut sims);
        top_n(&sims, topn, Some(id))
    }

    /// The `topn` words most similar (cosine) to `word`, itself excluded,
    /// most similar first; empty if `word` is not in the vocabulary.
    pub fn most_similar(&self, word: &str, topn: usize) -> Vec<(String, f32)> {
        let Some(id) = self.vocab.index(word) else { return Vec::new() };
        self.most_similar_id(id, topn).into_iter().map(|(i, s)| (self.vocab.words()[i as usize].clone(), s)).collect()
    }
}

/// The `n` largest entries of `sims` (NaN last), ties by index, skipping `skip`.
fn top_n(sims: &[f32], n: usize, skip: Option<u32>) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    if n == 0 {
        return best;
    }
    let better = |a: f32, b: f32| a > b || (b.is_nan() && !a.is_nan());
    for (i, &s) in sims.iter().enumerate() {
        let i = i as u32;
        if Some(i) == skip {
            continue;
        }
        if best.len() == n && !better(s, best[n - 1].1) {
            continue;
        }
        let pos = best.partition_point(|&(_, b)| !better(s, b));
        best.insert(pos, (i, s));
        best.truncate(n);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_orders_and_skips() {
        let s = [0.1, 0.9, 0.5, 0.9, f32::NAN, 0.7];
        assert_eq!(top_n(&s, 3, None), vec![(1, 0.9), (3, 0.9), (5, 0.7)]);
        assert_eq!(top_n(&s, 2, Some(1)), vec![(3, 0.9), (5, 0.7)]);
        assert_eq!(top_n(&s, 0, None), vec![]);
        let all = top_n(&s, 10, None);
        assert_eq!(all.len(), 6);
        assert!(all[5].1.is_nan());
    }

    #[test]
    fn most_similar_by_cosine() {
        let vocab = Vocab::from_counts([("a", 3), ("b", 2), ("c", 1)].map(|(w, c)| (w.to_string(), c)));
        let e = Embeddings::new(vocab, vec![1.0, 0.0, 2.0, 0.1, 0.0, 5.0], 2);
        let near = e.most_similar("a", 5);
        assert_eq!(near.len(), 2);
        assert_eq!(near[0].0, "b");
        assert!((near[0].1 - 2.0 / 4.01f32.sqrt()).abs() < 1e-6);
        assert_eq!(near[1], ("c".to_string(), 0.0));
        assert!(e.most_similar("zz", 3).is_empty());
        assert!((e.similarity("b", "c").unwrap() - 0.1 / 4.01f32.sqrt()).abs() < 1e-6);
    }
}
