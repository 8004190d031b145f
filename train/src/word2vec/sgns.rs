//! The training loop: per-epoch subsampling, reduced windows, negative
//! draws, and the Hogwild worker threads.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::noise::NoiseTable;
use super::simd::{PairKernel, SigmoidTable};
use super::vocab::Corpus;
use crate::buffer::Buffer;
use crate::rng::Xoshiro256StarStar;

/// gensim's `batch_words` (`MAX_WORDS_IN_BATCH`): sentences are grouped into
/// jobs of at most this many raw words; the learning rate changes per job.
pub const BATCH_WORDS: usize = 10_000;

/// A rows × stride matrix of f32, zero padded, 64-byte aligned; matrices of
/// 2 MiB or more are 2 MiB aligned and, on Linux x86-64, marked for
/// transparent huge pages ([`crate::buffer`]): rows are read at random, and
/// with 4 KiB pages most of those reads would also miss the TLB.
pub(super) struct Matrix {
    data: Buffer<f32>,
    pub(super) rows: usize,
    pub(super) stride: usize,
}

impl Matrix {
    pub(super) fn zeros(rows: usize, stride: usize) -> Matrix {
        Matrix { data: Buffer::zeroed(rows * stride), rows, stride }
    }

    pub(super) fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    pub(super) fn row(&self, r: usize) -> &[f32] {
        &self.as_slice()[r * self.stride..(r + 1) * self.stride]
    }
}

/// A pointer shared by the Hogwild workers.
#[derive(Clone, Copy)]
struct SharedPtr(*mut f32);
// SAFETY: with several threads the workers write the matrices without locks,
// as word2vec.c and gensim do (Hogwild): concurrent updates of one row may
// lose or mix increments, which the algorithm tolerates. These are plain
// (non-atomic) f32 accesses racing, which Rust's memory model does not
// define; the hardware (x86-64, aarch64) performs them as aligned 4- to
// 32-byte loads and stores. With one thread there is no race. Nothing else
// accesses the matrices while the workers run.
unsafe impl Send for SharedPtr {}
// SAFETY: as for `Send` above: the workers' racing accesses are the
// Hogwild scheme, performed by the hardware as aligned loads and stores.
unsafe impl Sync for SharedPtr {}

/// A job: consecutive sentences of at most [`BATCH_WORDS`] raw words
/// (gensim's `_job_producer` packing).
pub(super) struct Batch {
    pub(super) sentences: std::ops::Range<usize>,
    pub(super) raw_words: u64,
    /// Raw words of the epoch before this job (the learning rate's progress).
    pub(super) words_before: u64,
}

/// Packs sentences into jobs as gensim does: a sentence joins the current job
/// if the job stays within `batch_words` raw words, else starts the next.
pub(super) fn batches(corpus: &Corpus, batch_words: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let (mut start, mut size, mut before) = (0usize, 0usize, 0u64);
    for s in 0..corpus.len() {
        let len = corpus.raw_len(s);
        if size + len > batch_words && s > start {
            out.push(Batch { sentences: start..s, raw_words: size as u64, words_before: before });
            before += size as u64;
            start = s;
            size = 0;
        }
        size += len;
    }
    if corpus.len() > start {
        out.push(Batch { sentences: start..corpus.len(), raw_words: size as u64, words_before: before });
    }
    out
}

/// Everything the workers share during one epoch.
pub(super) struct Shared<'a> {
    pub(super) corpus: &'a Corpus,
    pub(super) batches: &'a [Batch],
    /// gensim's `sample_int` per word, `None` when `sample == 0`.
    pub(super) keep: Option<&'a [u32]>,
    pub(super) noise: &'a NoiseTable,
    pub(super) sig: &'a SigmoidTable,
    pub(super) kernel: PairKernel,
    syn0: SharedPtr,
    syn1: SharedPtr,
    pub(super) stride: usize,
    pub(super) lanes: usize,
    pub(super) window: usize,
    pub(super) negative: usize,
    pub(super) seed: u64,
    /// `(epoch, raw words before the job) → learning rate`.
    pub(super) alpha_at: &'a (dyn Fn(usize, u64) -> f64 + Sync),
    pub(super) next_batch: AtomicUsize,
    pub(super) raw_done: AtomicU64,
    pub(super) effective_done: AtomicU64,
}

impl<'a> Shared<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        corpus: &'a Corpus,
        batches: &'a [Batch],
        keep: Option<&'a [u32]>,
        noise: &'a NoiseTable,
        sig: &'a SigmoidTable,
        kernel: PairKernel,
        syn0: &'a mut Matrix,
        syn1: &'a mut Matrix,
        lanes: usize,
        window: usize,
        negative: usize,
        seed: u64,
        alpha_at: &'a (dyn Fn(usize, u64) -> f64 + Sync),
    ) -> Shared<'a> {
        assert_eq!((syn0.rows, syn0.stride), (syn1.rows, syn1.stride));
        assert!(lanes.is_multiple_of(8) && lanes <= syn0.stride);
        Shared {
            corpus,
            batches,
            keep,
            noise,
            sig,
            kernel,
            stride: syn0.stride,
            syn0: SharedPtr(syn0.as_mut_slice().as_mut_ptr()),
            syn1: SharedPtr(syn1.as_mut_slice().as_mut_ptr()),
            lanes,
            window,
            negative,
            seed,
            alpha_at,
            next_batch: AtomicUsize::new(0),
            raw_done: AtomicU64::new(0),
            effective_done: AtomicU64::new(0),
        }
    }
}

/// The seed of job `batch`'s random stream in `epoch`: every job has its own
/// stream, so the draws do not depend on which thread runs it.
fn job_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    use crate::rng::{Rng as _, SeedableRng as _};
    let mut sm = crate::rng::SplitMix64::seed_from_u64(seed ^ ((epoch as u64) << 40) ^ batch as u64);
    sm.next_u64() ^ seed.rotate_left(17)
}

/// A uniform 32-bit random number.
#[inline(always)]
fn next_u32(rng: &mut Xoshiro256StarStar) -> u32 {
    (rng.next_u64() >> 32) as u32
}

/// Runs jobs of `epoch` until none is left; `after_job` is called after
/// each one.
pub(super) fn worker(sh: &Shared, epoch: usize, after_job: &mut dyn FnMut()) {
    let mut reduced: Vec<u32> = Vec::new();
    let mut scratch = Scratch::new(sh.negative, sh.lanes);
    loop {
        let b = sh.next_batch.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = sh.batches.get(b) else { break };
        let alpha = (sh.alpha_at)(epoch, batch.words_before) as f32;
        let mut rng = Xoshiro256StarStar::seed_from_u64(job_seed(sh.seed, epoch, b));
        let mut effective = 0u64;
        for s in batch.sentences.clone() {
            let sentence = sh.corpus.sentence(s);
            reduced.clear();
            match sh.keep {
                Some(keep) => {
                    for &w in sentence {
                        let k = keep[w as usize];
                        if k == u32::MAX || next_u32(&mut rng) <= k {
                            reduced.push(w);
                        }
                    }
                }
                None => reduced.extend_from_slice(sentence),
            }
            effective += reduced.len() as u64;
            train_sentence(sh, &reduced, &mut rng, &mut scratch, alpha);
        }
        sh.raw_done.fetch_add(batch.raw_words, Ordering::Relaxed);
        sh.effective_done.fetch_add(effective, Ordering::Relaxed);
        after_job();
    }
}

/// Per-worker buffers.
pub(super) struct Scratch {
    /// Two target lists of `negative + 1` ids: the pair being trained and
    /// the next one.
    targets: Vec<u32>,
    lens: [usize; 2],
    /// The kernels' `work` row (gensim's `work`).
    work: Matrix,
}

impl Scratch {
    pub(super) fn new(negative: usize, lanes: usize) -> Scratch {
        Scratch { targets: vec![0; 2 * (negative + 1)], lens: [0; 2], work: Matrix::zeros(1, lanes) }
    }
}

/// The (context, center) pairs of a sentence in training order: position
/// by position, each with a reduced window `window − (r mod window)` on each
/// side, drawn when the position is reached.
struct Pairs<'s> {
    sentence: &'s [u32],
    window: u32,
    next_pos: usize,
    i: usize,
    j: usize,
    hi: usize,
}

impl<'s> Pairs<'s> {
    fn new(sentence: &'s [u32], window: usize) -> Self {
        Pairs { sentence, window: window as u32, next_pos: 0, i: 0, j: 0, hi: 0 }
    }

    #[inline(always)]
    fn next(&mut self, rng: &mut Xoshiro256StarStar) -> Option<(u32, u32)> {
        loop {
            while self.j < self.hi {
                let j = self.j;
                self.j += 1;
                if j != self.i {
                    return Some((self.sentence[j], self.sentence[self.i]));
                }
            }
            let n = self.sentence.len();
            if self.next_pos >= n {
                return None;
            }
            let i = self.next_pos;
            self.next_pos += 1;
            let reach = (self.window - next_u32(rng) % self.window) as usize;
            self.i = i;
            self.j = i.saturating_sub(reach);
            self.hi = (i + reach + 1).min(n);
        }
    }
}

/// Fills target list `slot` with the targets of `pair` (the center word,
/// then the noise draws that differ from it) and prefetches the input row.
#[inline(always)]
fn draw_targets(sh: &Shared, sc: &mut Scratch, slot: usize, pair: (u32, u32), rng: &mut Xoshiro256StarStar) {
    let width = sh.negative + 1;
    let (context, center) = pair;
    let t = &mut sc.targets[slot * width..(slot + 1) * width];
    t[0] = center;
    let mut k = 1;
    for _ in 0..sh.negative {
        let w = sh.noise.sample_u32(next_u32(rng));
        if w != center {
            t[k] = w;
            k += 1;
        }
    }
    sc.lens[slot] = k;
    // SAFETY: ids are below the vocabulary size (checked by `train`), so the
    // row lies in the matrix.
    super::simd::prefetch(unsafe { sh.syn0.0.add(context as usize * sh.stride) }, sh.lanes);
}

/// Skip-gram over one (subsampled) sentence: for each position `i`, a
/// reduced window `window − (r mod window)` each side; every context word
/// `j` is the input predicting the word at `i` plus `negative` noise words
/// (a noise draw equal to the word at `i` is skipped, as in word2vec.c).
///
/// The targets of the next pair are drawn before the current pair is
/// trained, and the kernel prefetches their rows meanwhile (one pair ahead
/// measured best: the rows arrive in time, and fewer lines are in flight
/// than with a longer lead).
fn train_sentence(sh: &Shared, sentence: &[u32], rng: &mut Xoshiro256StarStar, sc: &mut Scratch, alpha: f32) {
    if sentence.len() < 2 {
        return;
    }
    let width = sh.negative + 1;
    let work = sc.work.as_mut_slice().as_mut_ptr();
    let mut pairs = Pairs::new(sentence, sh.window);
    let Some(mut pair) = pairs.next(rng) else { return };
    let mut slot = 0;
    draw_targets(sh, sc, slot, pair, rng);
    loop {
        let next = pairs.next(rng);
        if let Some(np) = next {
            draw_targets(sh, sc, 1 - slot, np, rng);
        }
        let other = (1 - slot) * width;
        let ahead: &[u32] = if next.is_some() { &sc.targets[other..other + sc.lens[1 - slot]] } else { &[] };
        // SAFETY: every id is below the vocabulary size (checked by
        // `train`), the matrices have one row per word of `stride ≥ lanes`
        // floats, `lanes` is a multiple of 8 (Shared::new), and `work` is
        // this worker's own row of `lanes` floats.
        unsafe {
            (sh.kernel)(
                sh.syn0.0.add(pair.0 as usize * sh.stride),
                sh.syn1.0,
                sh.stride,
                sh.lanes,
                &sc.targets[slot * width..slot * width + sc.lens[slot]],
                alpha,
                sh.sig,
                ahead,
                work,
            );
        }
        match next {
            Some(np) => {
                pair = np;
                slot = 1 - slot;
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_packed_as_gensim_does() {
        let lens = [4_000usize, 4_000, 4_000, 12_000, 10, 9_990, 5];
        let c = Corpus::from_ids(lens.iter().map(|&n| vec![0u32; n]));
        let b = batches(&c, BATCH_WORDS);
        let got: Vec<_> = b.iter().map(|b| (b.sentences.clone(), b.raw_words, b.words_before)).collect();
        assert_eq!(
            got,
            vec![
                (0..2, 8_000, 0),
                (2..3, 4_000, 8_000),
                (3..4, 12_000, 12_000),
                (4..6, 10_000, 24_000),
                (6..7, 5, 34_000),
            ]
        );
        assert!(batches(&Corpus::from_ids(Vec::<Vec<u32>>::new()), BATCH_WORDS).is_empty());
    }

    #[test]
    fn pairs_follow_the_reduced_windows() {
        let sentence: Vec<u32> = (0..12).collect();
        for window in [1, 3, 30] {
            let mut rng = Xoshiro256StarStar::seed_from_u64(window as u64);
            let mut check = rng.clone();
            let mut pairs = Pairs::new(&sentence, window);
            let mut got = Vec::new();
            while let Some(p) = pairs.next(&mut rng) {
                got.push(p);
            }
            // The same pairs, listed directly with the same draws.
            let mut want = Vec::new();
            for i in 0..12usize {
                let reach = window - (next_u32(&mut check) as usize % window);
                for j in i.saturating_sub(reach)..(i + reach + 1).min(12) {
                    if j != i {
                        want.push((j as u32, i as u32));
                    }
                }
            }
            assert_eq!(got, want, "window {window}");
            assert!(got.iter().all(|&(c, w)| c != w && c.abs_diff(w) as usize <= window));
        }
        let mut rng = Xoshiro256StarStar::seed_from_u64(0);
        assert_eq!(Pairs::new(&[5], 4).next(&mut rng), None);
    }

    #[test]
    fn matrices_are_aligned_and_zero() {
        for (rows, stride) in [(1, 16), (3, 112), (20_000, 112)] {
            let m = Matrix::zeros(rows, stride);
            let s = m.as_slice();
            assert_eq!(s.len(), rows * stride);
            assert_eq!(s.as_ptr() as usize % 64, 0);
            assert!(s.iter().all(|&v| v == 0.0));
            assert_eq!(m.row(rows - 1).len(), stride);
        }
    }
}
