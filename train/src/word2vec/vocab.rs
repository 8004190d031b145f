//! The vocabulary (gensim's `build_vocab` with `min_count`) and sentences of
//! word ids.

use std::collections::HashMap;

/// The words kept for training, most frequent first.
///
/// Built by [`Vocab::build`]: every token is counted, words seen fewer than
/// `min_count` times are dropped (as gensim's `prepare_vocab` does), and the
/// rest are ordered by descending count, ties in order of first appearance.
/// A word's id is its position in that order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocab {
    words: Vec<String>,
    counts: Vec<u64>,
    index: HashMap<String, u32>,
    /// Tokens seen while building, including those of dropped words.
    raw_total: u64,
}

impl Vocab {
    /// Counts the tokens of `sentences` and keeps the words seen at least
    /// `min_count` times (`min_count` 0 and 1 keep every word).
    ///
    /// # Panics
    /// If more than `u32::MAX` distinct words are kept.
    pub fn build<'a>(sentences: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>, min_count: u64) -> Vocab {
        // First-appearance order, then a stable sort by descending count.
        let mut seen: HashMap<&'a str, usize> = HashMap::new();
        let mut order: Vec<(&'a str, u64)> = Vec::new();
        let mut raw_total = 0u64;
        for sentence in sentences {
            for token in sentence {
                raw_total += 1;
                match seen.get(token) {
                    Some(&i) => order[i].1 += 1,
                    None => {
                        seen.insert(token, order.len());
                        order.push((token, 1));
                    }
                }
            }
        }
        drop(seen);
        order.retain(|&(_, c)| c >= min_count);
        order.sort_by_key(|&(_, c)| std::cmp::Reverse(c));
        Vocab::from_counts_inner(order.into_iter().map(|(w, c)| (w.to_string(), c)).collect(), raw_total)
    }

    /// A vocabulary from `(word, count)` pairs, kept in the given order (no
    /// `min_count`, no sorting): for counts computed elsewhere.
    ///
    /// # Panics
    /// If a word appears twice, a count is 0, or there are more than
    /// `u32::MAX` words.
    pub fn from_counts(words: impl IntoIterator<Item = (String, u64)>) -> Vocab {
        let pairs: Vec<(String, u64)> = words.into_iter().collect();
        let total = pairs.iter().map(|p| p.1).sum();
        Vocab::from_counts_inner(pairs, total)
    }

    fn from_counts_inner(pairs: Vec<(String, u64)>, raw_total: u64) -> Vocab {
        assert!(pairs.len() <= u32::MAX as usize, "too many words for u32 ids: {}", pairs.len());
        let mut index = HashMap::with_capacity(pairs.len());
        let mut words = Vec::with_capacity(pairs.len());
        let mut counts = Vec::with_capacity(pairs.len());
        for (i, (w, c)) in pairs.into_iter().enumerate() {
            assert!(c > 0, "word {w:?} has count 0");
            let prev = index.insert(w.clone(), i as u32);
            assert!(prev.is_none(), "word {w:?} appears twice");
            words.push(w);
            counts.push(c);
        }
        Vocab { words, counts, index, raw_total }
    }

    /// The id of `word`, if it was kept.
    pub fn index(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// The kept words, by id (descending count).
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Each kept word's count, by id.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The number of kept words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// No word was kept.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The occurrences of the kept words (gensim's `retain_total`, the base
    /// of the subsampling threshold).
    pub fn retained_total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// All tokens counted by [`Vocab::build`], dropped words included
    /// (gensim's `corpus_total_words`). For [`Vocab::from_counts`], the sum of
    /// the counts.
    pub fn raw_total(&self) -> u64 {
        self.raw_total
    }

    /// The ids of one sentence's kept tokens (tokens not in the vocabulary
    /// are dropped, as gensim does).
    pub fn encode_sentence<'a>(&self, sentence: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
        sentence.into_iter().filter_map(|t| self.index(t)).collect()
    }

    /// Sentences of string tokens as a [`Corpus`] of ids: tokens not in the
    /// vocabulary are dropped, but still count as raw words (for the
    /// learning-rate schedule and [`super::TrainStats::raw_words`], as in
    /// gensim).
    pub fn encode<'a>(&self, sentences: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>) -> Corpus {
        let mut corpus = Corpus::default();
        for sentence in sentences {
            let mut raw = 0usize;
            corpus.ids.extend(sentence.into_iter().inspect(|_| raw += 1).filter_map(|t| self.index(t)));
            corpus.offsets.push(corpus.ids.len());
            corpus.raw_lens.push(raw);
        }
        corpus
    }
}

/// Sentences of word ids, stored back to back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corpus {
    ids: Vec<u32>,
    /// `offsets[s]..offsets[s + 1]` is sentence `s` in `ids`.
    offsets: Vec<usize>,
    /// Tokens of each sentence before unknown words were dropped.
    raw_lens: Vec<usize>,
}

impl Default for Corpus {
    fn default() -> Self {
        Corpus { ids: Vec::new(), offsets: vec![0], raw_lens: Vec::new() }
    }
}

impl Corpus {
    /// Sentences already made of ids (every id must be below the
    /// vocabulary's size when training; [`super::train`] checks).
    pub fn from_ids(sentences: impl IntoIterator<Item = impl IntoIterator<Item = u32>>) -> Corpus {
        let mut corpus = Corpus::default();
        for sentence in sentences {
            let start = corpus.ids.len();
            corpus.ids.extend(sentence);
            corpus.offsets.push(corpus.ids.len());
            corpus.raw_lens.push(corpus.ids.len() - start);
        }
        corpus
    }

    /// The number of sentences.
    pub fn len(&self) -> usize {
        self.raw_lens.len()
    }

    /// No sentence.
    pub fn is_empty(&self) -> bool {
        self.raw_lens.is_empty()
    }

    /// Sentence `s`'s ids.
    pub fn sentence(&self, s: usize) -> &[u32] {
        &self.ids[self.offsets[s]..self.offsets[s + 1]]
    }

    /// The sentences in order.
    pub fn sentences(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        self.offsets.windows(2).map(|w| &self.ids[w[0]..w[1]])
    }

    /// Sentence `s`'s length before unknown words were dropped.
    pub fn raw_len(&self, s: usize) -> usize {
        self.raw_lens[s]
    }

    /// All ids, sentence after sentence.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Tokens before unknown words were dropped.
    pub fn raw_words(&self) -> u64 {
        self.raw_lens.iter().map(|&l| l as u64).sum()
    }
}
