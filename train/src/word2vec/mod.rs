//! word2vec skip-gram with negative sampling (SGNS), as gensim's
//! `Word2Vec(sg=1, hs=0)` and word2vec.c train it, natively and fast.
//!
//! The "flow2vec" analysis treats every record as a token and runs of
//! consecutive records as sentences, trains skip-gram vectors and clusters
//! them; this module is that trainer.
//!
//! # What is computed
//!
//! * **Vocabulary** ([`Vocab::build`]): tokens seen fewer than `min_count`
//!   times are dropped from the vocabulary and from the sentences; words
//!   are ordered by descending count, ties by first appearance.
//! * **Noise distribution** ([`NoiseTable`]): `count^ns_exponent`, as
//!   gensim's cumulative table over `0..2^31 − 1`.
//! * **Subsampling** ([`keep_probability`]): with `threshold = sample ·
//!   retained words`, an occurrence is kept with probability
//!   `min(1, (√(count / threshold) + 1) · threshold / count)`, redrawn for
//!   every occurrence in every epoch; windows are taken over the subsampled
//!   sentence and the kept words are the *effective words*.
//! * **Learning rate** ([`Word2VecParams::learning_rate`]): linear from
//!   `alpha` to `min_alpha` over all epochs, by raw words; fixed per job of
//!   at most [`BATCH_WORDS`] raw words (whole sentences), as gensim's job
//!   producer does: a job's rate is that of the words before it.
//! * **Windows**: per position `b = r mod window`, and `window − b` words on
//!   each side (gensim's `shrink_windows=True`), within the sentence.
//! * **Updates** (word2vec.c's `cbow = 0` branch): `syn0` uniform in
//!   `[−0.5, 0.5) / vector_size`, `syn1neg` zero. For the word at position
//!   `i` and each context word `j` of its window, the input row is
//!   `syn0[word_j]`, the targets are `word_i` (label 1) and `negative` noise
//!   draws (label 0; a draw equal to `word_i` is skipped, not redrawn); for
//!   each target `g = (label − σ(syn0[word_j] · syn1neg[t])) · alpha`, the
//!   input's update accumulates `g · syn1neg[t]`, then `syn1neg[t] += g ·
//!   syn0[word_j]`; the accumulated update is added to `syn0[word_j]` after
//!   the targets. σ is word2vec.c's 1000-entry table over `(−6, 6)`
//!   ([`SigmoidTable`]), 0 or 1 outside. All in f32.
//! * **Threads**: `threads == 1` is deterministic (same `random_state`, same
//!   vectors bit for bit, on a given CPU: the AVX2/FMA and portable kernels
//!   round differently). With more threads, workers take jobs from a shared
//!   counter and update the shared matrices without locks (Hogwild, as
//!   gensim and word2vec.c), so results vary from run to run. Each job has
//!   its own random stream, seeded from `random_state`, the epoch and the
//!   job's index.
//!
//! # Differences from gensim, on purpose
//!
//! * Random numbers come from xoshiro256** streams, not gensim's linear
//!   congruential generator, so vectors are not gensim's (the statistics
//!   are the same).
//! * A dot product outside `(−6, 6)` saturates σ to 1 or 0 and still updates
//!   (word2vec.c); gensim skips the update.
//! * gensim 4 initialises `syn0` in `[−1, 1) / vector_size`; this is
//!   word2vec.c's `[−0.5, 0.5) / vector_size`.
//! * A noise draw maps `x` to the first word with `cum[i] > x` (gensim's
//!   `bisect_left` takes `cum[i] ≥ x`: one value in 2^31 moves), and `x`
//!   comes from a 32-bit random number by multiply-shift, not modulo.
//! * σ is looked up at `⌊(f + 6) · 1000 / 12⌋`, as gensim does; word2vec.c's
//!   integer scale `1000 / 6 / 2 = 83` never reaches the last 4 entries.
//! * Sentences longer than 10,000 words are not truncated; the training
//!   loss is not computed.
//!
//! # Speed
//!
//! Training is bound by memory, not arithmetic: every (word, context) pair
//! reads and writes `1 + negative` random rows of `syn1neg`, most of them
//! outside the L2 cache. So:
//!
//! * the targets of the next pair are drawn one pair ahead and their rows
//!   prefetched while the current pair is trained, one row per target step;
//! * the matrices are 2 MiB aligned and marked for transparent huge pages
//!   (Linux), so the random rows do not also miss the TLB; rows are padded
//!   to a multiple of 16 floats (64 bytes) and start on a cache line;
//! * the pair update is one fused kernel: for `vector_size ≤ 128`, a fully
//!   unrolled AVX2 + FMA loop (runtime detection; the binary needs no
//!   `target-cpu`) that keeps the input's update in registers; otherwise a
//!   looped AVX2 kernel, or portable code that LLVM vectorises;
//! * noise draws use a guide table over the cumulative table (the same word
//!   as its binary search, in expected constant time); nothing is allocated
//!   per sentence.
//!
//! On the 2-core AMD EPYC machines of the benchmark (`cargo bench -p
//! logsieve-train --bench word2vec`: 1,000,000 tokens, `window=30,
//! negative=10`), this trains about 2.5–3× as many effective words per second
//! as gensim 4.4 on one thread and on two.

mod embeddings;
mod noise;
mod sgns;
mod simd;
mod vocab;

use std::time::Instant;

pub use embeddings::Embeddings;
pub use noise::{CUM_TABLE_DOMAIN, NoiseTable, keep_probability};
pub use sgns::BATCH_WORDS;
pub use simd::{EXP_TABLE_SIZE, MAX_EXP, SigmoidTable, has_avx2_fma};
pub use vocab::{Corpus, Vocab};

use crate::progress::{Progress, Word2Vec};
use crate::rng::Xoshiro256StarStar;

/// Hyper-parameters, with gensim's names and defaults (skip-gram, negative
/// sampling).
#[derive(Debug, Clone, PartialEq)]
pub struct Word2VecParams {
    /// Dimensions of the vectors.
    pub vector_size: usize,
    /// Largest distance between the word and a context word (each side).
    pub window: usize,
    /// Noise words per (word, context) pair.
    pub negative: usize,
    /// Subsampling threshold, a share of the retained words (0 = off;
    /// `≥ 1`: gensim's count shorthand, see [`keep_probability`]).
    pub sample: f64,
    /// Words seen fewer times are dropped (used by [`fit`]; [`train`] takes
    /// a built [`Vocab`]).
    pub min_count: u64,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Initial learning rate.
    pub alpha: f64,
    /// Final learning rate.
    pub min_alpha: f64,
    /// Exponent of the counts in the noise distribution.
    pub ns_exponent: f64,
    /// Seed of the initial vectors and of all random draws.
    pub random_state: u64,
    /// Worker threads; 0 = all cores; 1 = deterministic.
    pub threads: usize,
}

impl Default for Word2VecParams {
    /// gensim's defaults (`vector_size=100, window=5, negative=5,
    /// sample=1e-3, min_count=5, epochs=5, alpha=0.025, min_alpha=0.0001,
    /// ns_exponent=0.75, seed=1`), one thread.
    fn default() -> Self {
        Word2VecParams {
            vector_size: 100,
            window: 5,
            negative: 5,
            sample: 1e-3,
            min_count: 5,
            epochs: 5,
            alpha: 0.025,
            min_alpha: 0.0001,
            ns_exponent: 0.75,
            random_state: 1,
            threads: 1,
        }
    }
}

impl Word2VecParams {
    /// The learning rate after `progress` (0 to 1) of the whole training:
    /// `alpha − (alpha − min_alpha) · progress`, never below `min_alpha`
    /// (gensim's `_get_next_alpha`).
    pub fn learning_rate(&self, progress: f64) -> f64 {
        (self.alpha - (self.alpha - self.min_alpha) * progress).max(self.min_alpha)
    }

    /// The number of worker threads `threads` stands for.
    pub fn effective_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        }
    }

    /// Check the parameters; everything that trains takes the checked
    /// form, so it never meets a zero `vector_size` or a negative `alpha`.
    pub fn validate(&self) -> Result<ValidWord2VecParams, Word2VecError> {
        let bad = |what: String| Err(Word2VecError::Invalid(what));
        if self.vector_size == 0 {
            return bad("vector_size must be at least 1".into());
        }
        if self.window == 0 || self.window > u32::MAX as usize {
            return bad(format!("window must be in 1..=2^32-1, got {}", self.window));
        }
        if self.negative == 0 {
            return bad("negative must be at least 1 (only negative sampling is implemented)".into());
        }
        if !(self.sample >= 0.0 && self.sample.is_finite()) {
            return bad(format!("sample must be finite and ≥ 0, got {}", self.sample));
        }
        let alpha_ok = self.alpha > 0.0 && self.alpha.is_finite();
        let min_alpha_ok = self.min_alpha >= 0.0 && self.min_alpha.is_finite();
        if !alpha_ok || !min_alpha_ok {
            return bad(format!("alpha must be > 0 and min_alpha ≥ 0, got {} and {}", self.alpha, self.min_alpha));
        }
        if !self.ns_exponent.is_finite() {
            return bad(format!("ns_exponent must be finite, got {}", self.ns_exponent));
        }
        Ok(ValidWord2VecParams(self.clone()))
    }
}

/// Parameters that passed [`Word2VecParams::validate`]; they read as the
/// [`Word2VecParams`] they wrap.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidWord2VecParams(Word2VecParams);

impl std::ops::Deref for ValidWord2VecParams {
    type Target = Word2VecParams;

    fn deref(&self) -> &Word2VecParams {
        &self.0
    }
}

/// Why training cannot run.
#[derive(Debug, Clone, PartialEq)]
pub enum Word2VecError {
    /// No word reached `min_count`.
    EmptyVocab,
    /// A sentence holds an id outside the vocabulary.
    UnknownId {
        /// The id.
        id: u32,
        /// The vocabulary's size.
        vocab_len: usize,
    },
    /// A parameter is out of range.
    Invalid(String),
}

impl std::fmt::Display for Word2VecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Word2VecError::EmptyVocab => write!(f, "no word reaches min_count: the vocabulary is empty"),
            Word2VecError::UnknownId { id, vocab_len } => {
                write!(f, "word id {id} is outside the vocabulary of {vocab_len} words")
            }
            Word2VecError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Word2VecError {}

/// What a training run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainStats {
    /// Raw words over all epochs (gensim's `raw_words_trained`: unknown
    /// tokens included).
    pub raw_words: u64,
    /// Words trained on after subsampling, over all epochs (gensim's
    /// effective words).
    pub effective_words: u64,
    /// Wall-clock seconds of the training passes.
    pub seconds: f64,
    /// `effective_words / seconds`.
    pub effective_words_per_s: f64,
    /// Worker threads used.
    pub threads: usize,
    /// Whether the AVX2 + FMA kernel was used.
    pub avx2_fma: bool,
}

/// Builds the vocabulary of `sentences` with `params.min_count`, encodes them
/// and trains ([`train`]). `sentences` is iterated twice.
pub fn fit<'a, S, T>(
    sentences: S,
    params: &ValidWord2VecParams,
    progress: &mut dyn Progress,
) -> Result<(Embeddings, TrainStats), Word2VecError>
where
    S: IntoIterator<Item = T> + Clone,
    T: IntoIterator<Item = &'a str>,
{
    let vocab = Vocab::build(sentences.clone(), params.min_count);
    let corpus = vocab.encode(sentences);
    train(&vocab, &corpus, params, progress)
}

/// Trains skip-gram vectors for the words of `vocab` on `corpus` (ids of
/// `vocab`); `params.min_count` is not used (the vocabulary is built).
pub fn train(
    vocab: &Vocab,
    corpus: &Corpus,
    params: &ValidWord2VecParams,
    progress: &mut dyn Progress,
) -> Result<(Embeddings, TrainStats), Word2VecError> {
    if vocab.is_empty() {
        return Err(Word2VecError::EmptyVocab);
    }
    if let Some(&id) = corpus.ids().iter().find(|&&id| id as usize >= vocab.len()) {
        return Err(Word2VecError::UnknownId { id, vocab_len: vocab.len() });
    }
    let dim = params.vector_size;
    let lanes = dim.div_ceil(8) * 8;
    let stride = lanes.div_ceil(16) * 16;
    let n_words = vocab.len();

    // syn0 uniform in [-0.5, 0.5) / dim (24-bit uniforms), word by word.
    let mut syn0 = sgns::Matrix::zeros(n_words, stride);
    let mut rng = Xoshiro256StarStar::seed_from_u64(params.random_state);
    let scale = 1.0 / dim as f32;
    for row in syn0.as_mut_slice().chunks_exact_mut(stride) {
        for v in &mut row[..dim] {
            let u = (rng.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32);
            *v = (u - 0.5) * scale;
        }
    }
    let mut syn1 = sgns::Matrix::zeros(n_words, stride);

    let noise = NoiseTable::new(vocab.counts(), params.ns_exponent);
    let retained = vocab.retained_total();
    let keep: Option<Vec<u32>> = (params.sample > 0.0).then(|| {
        vocab.counts().iter().map(|&c| noise::keep_threshold(keep_probability(c, retained, params.sample))).collect()
    });
    let sig = SigmoidTable::default();
    let batches = sgns::batches(corpus, BATCH_WORDS);
    let epoch_words = corpus.raw_words();
    let total_raw = epoch_words * params.epochs as u64;
    let schedule = |epoch: usize, before: u64| {
        let progress =
            if total_raw == 0 { 0.0 } else { (epoch as u64 * epoch_words + before) as f64 / total_raw as f64 };
        params.learning_rate(progress)
    };
    let threads = params.effective_threads().max(1);
    let avx2_fma = has_avx2_fma();
    let kernel = simd::pair_kernel(lanes);

    let start = Instant::now();
    let (mut raw_total, mut effective_total) = (0u64, 0u64);
    for epoch in 0..params.epochs {
        let shared = sgns::Shared::new(
            corpus,
            &batches,
            keep.as_deref(),
            &noise,
            &sig,
            kernel,
            &mut syn0,
            &mut syn1,
            lanes,
            params.window,
            params.negative,
            params.random_state,
            &schedule,
        );
        let snapshot = |sh: &sgns::Shared, done: bool| {
            let raw = raw_total + sh.raw_done.load(std::sync::atomic::Ordering::Relaxed);
            let eff = effective_total + sh.effective_done.load(std::sync::atomic::Ordering::Relaxed);
            let elapsed = start.elapsed().as_secs_f64();
            Word2Vec {
                epoch,
                epochs: params.epochs,
                raw_words: raw,
                total_raw_words: total_raw,
                effective_words: eff,
                alpha: params.learning_rate(if total_raw == 0 { 1.0 } else { raw as f64 / total_raw as f64 }),
                elapsed_s: elapsed,
                effective_words_per_s: if elapsed > 0.0 { eff as f64 / elapsed } else { 0.0 },
                epoch_done: done,
            }
        };
        let mut last_report = Instant::now();
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(|| sgns::worker(&shared, epoch, &mut || {}));
            }
            // This thread works too, and reports.
            sgns::worker(&shared, epoch, &mut || {
                if last_report.elapsed().as_secs_f64() >= 1.0 {
                    last_report = Instant::now();
                    progress.word2vec(&snapshot(&shared, false));
                }
            });
        });
        let report = snapshot(&shared, true);
        raw_total = report.raw_words;
        effective_total = report.effective_words;
        progress.word2vec(&report);
    }
    let seconds = start.elapsed().as_secs_f64();

    let mut vectors = Vec::with_capacity(n_words * dim);
    for w in 0..n_words {
        vectors.extend_from_slice(&syn0.row(w)[..dim]);
    }
    let stats = TrainStats {
        raw_words: raw_total,
        effective_words: effective_total,
        seconds,
        effective_words_per_s: if seconds > 0.0 { effective_total as f64 / seconds } else { 0.0 },
        threads,
        avx2_fma,
    };
    Ok((Embeddings::new(vocab.clone(), vectors, dim), stats))
}
