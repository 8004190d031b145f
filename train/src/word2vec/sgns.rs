//! The training loop: per-epoch subsampling, reduced windows, negative
//! draws, and the Hogwild worker threads.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::noise::NoiseTable;
use super::simd::{PairKernel, SigmoidTable};
use super::vocab::Corpus;
use crate::rng::Xoshiro256StarStar;

/// gensim's `batch_words` (`MAX_WORDS_IN_BATCH`): sentences are grouped into
/// jobs of at most this many raw words; the learning rate changes per job.
pub const BATCH_WORDS: usize = 10_000;

/// A rows × stride matrix of f32, zero padded, 64-byte aligned; matrices of
/// 2 MiB or more are 2 MiB aligned and, on Linux x86-64, marked for
/// transparent huge pages: rows are read at random, and with 4 KiB pages
/// most of those reads would also miss the TLB.
pub(super) struct Matrix {
    ptr: std::ptr::NonNull<f32>,
    layout: std::alloc::Layout,
    pub(super) rows: usize,
    pub(super) stride: usize,
}

// SAFETY: `Matrix` owns its allocation, like a `Vec<f32>`.
unsafe impl Send for Matrix {}
unsafe impl Sync for Matrix {}

const HUGE_PAGE: usize = 2 << 20;

impl Matrix {
    pub(super) fn zeros(rows: usize, stride: usize) -> Matrix {
        let bytes = (rows * stride * 4).max(64);
        let align = if bytes >= HUGE_PAGE { HUGE_PAGE } else { 64 };
        let layout = std::alloc::Layout::from_size_align(bytes.next_multiple_of(align), align).expect("matrix size");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = std::ptr::NonNull::new(raw.cast::<f32>()) else { std::alloc::handle_alloc_error(layout) };
        if align == HUGE_PAGE {
            advise_huge_pages(raw, layout.size());
        }
        Matrix { ptr, layout, rows, stride }
    }

    pub(super) fn as_slice(&self) -> &[f32] {
        // SAFETY: the allocation holds at least rows × stride zero-initialised f32.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.rows * self.stride) }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as above, and `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.rows * self.stride) }
    }

    pub(super) fn row(&self, r: usize) -> &[f32] {
        &self.as_slice()[r * self.stride..(r + 1) * self.stride]
    }
}

impl Drop for Matrix {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeros` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast::<u8>(), self.layout) };
    }
}

/// `madvise(addr, len, MADV_HUGEPAGE)`: a hint, its result is ignored (the
/// standard library has no wrapper and the crate no libc dependency, so this
/// is the raw system call).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn advise_huge_pages(addr: *mut u8, len: usize) {
    const SYS_MADVISE: usize = 28;
    const MADV_HUGEPAGE: usize = 14;
    // SAFETY: madvise with MADV_HUGEPAGE only changes how the kernel backs
    // this range, which the allocator gave us; it reads and writes no memory
    // of ours. The syscall instruction clobbers rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_MADVISE => _,
            in("rdi") addr,
            in("rsi") len,
            in("rdx") MADV_HUGEPAGE,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn advise_huge_pages(_addr: *mut u8, _len: usize) {}

/// A pointer shared by the Hogwild workers.
#[derive(Clone, Copy)]
struct SharedPtr(*mut f32);
// SAFETY: the workers write the matrices without locks, as word2vec.c and
// gensim do (Hogwild): concurrent updates of one row may lose or mix
// increments, which the algorithm tolerates. Nothing else accesses the
// matrices while the workers run.
unsafe impl Send for SharedPtr {}
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
    pub(super) burst: bool,
    pub(super) ahead: usize,
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
        assert_eq!(syn0.stride, syn1.stride);
        assert!(lanes <= syn0.stride);
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
            ahead: std::env::var("W2V_AHEAD").ok().and_then(|v| v.parse().ok()).unwrap_or(2),
            burst: std::env::var("W2V_PF").as_deref() == Ok("burst"),
            next_batch: AtomicUsize::new(0),
            raw_done: AtomicU64::new(0),
            effective_done: AtomicU64::new(0),
        }
    }
}

/// The seed of job `batch`'s random stream in `epoch`: every job has its own
/// stream, so the draws do not depend on which thread runs it.
fn job_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    let mut sm = crate::rng::SplitMix64::new(seed ^ ((epoch as u64) << 40) ^ batch as u64);
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
    let mut scratch = Scratch::new(sh.negative);
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

/// How many pairs ahead the noise words are drawn and their rows prefetched.
const AHEAD: usize = 8;
const MAXA: usize = 16;

/// Per-worker buffers.
pub(super) struct Scratch {
    /// `(context, center)` pairs of the current sentence.
    pairs: Vec<(u32, u32)>,
    /// `AHEAD + 1` target lists of `negative + 1` ids, used as a ring.
    targets: Vec<u32>,
    lens: [usize; MAXA + 1],
}

impl Scratch {
    pub(super) fn new(negative: usize) -> Scratch {
        Scratch { pairs: Vec::new(), targets: vec![0; (MAXA + 1) * (negative + 1)], lens: [0; MAXA + 1] }
    }
}

/// Fills ring slot `slot` with the targets of `pair` (the center word, then
/// the noise draws that differ from it) and prefetches their rows.
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
    // SAFETY: ids are below the vocabulary size (checked by `train`); the
    // prefetched rows lie in the matrices.
    unsafe {
        super::simd::prefetch(sh.syn0.0.add(context as usize * sh.stride), sh.lanes);
        if sh.burst {
            for &w in &t[..k] {
                super::simd::prefetch(sh.syn1.0.add(w as usize * sh.stride), sh.lanes);
            }
        }
    }
}

/// Skip-gram over one (subsampled) sentence: for each position `i`, a
/// reduced window `window − (r mod window)` each side; every context word
/// `j` is the input predicting the word at `i` plus `negative` noise words
/// (a noise draw equal to the word at `i` is skipped, as in word2vec.c).
///
/// The pairs are listed first; the noise words of a pair are drawn
/// [`AHEAD`] pairs before it is trained, so that their rows are already on
/// their way to the cache.
fn train_sentence(sh: &Shared, sentence: &[u32], rng: &mut Xoshiro256StarStar, sc: &mut Scratch, alpha: f32) {
    let n = sentence.len();
    if n < 2 {
        return;
    }
    let window = sh.window as u32;
    sc.pairs.clear();
    for (i, &center) in sentence.iter().enumerate() {
        let reach = (window - next_u32(rng) % window) as usize;
        let lo = i.saturating_sub(reach);
        let hi = (i + reach + 1).min(n);
        for (j, &context) in sentence.iter().enumerate().take(hi).skip(lo) {
            if j != i {
                sc.pairs.push((context, center));
            }
        }
    }
    let n_pairs = sc.pairs.len();
    let width = sh.negative + 1;
    for p in 0..sh.ahead.min(n_pairs) {
        draw_targets(sh, sc, p, sc.pairs[p], rng);
    }
    for p in 0..n_pairs {
        if p + sh.ahead < n_pairs {
            draw_targets(sh, sc, (p + sh.ahead) % (sh.ahead + 1), sc.pairs[p + sh.ahead], rng);
        }
        let slot = p % (sh.ahead + 1);
        let context = sc.pairs[p].0;
        let next = (p + sh.ahead) % (sh.ahead + 1);
        let ahead: &[u32] = if p + sh.ahead < n_pairs && !sh.burst {
            &sc.targets[next * width..next * width + sc.lens[next]]
        } else {
            &[]
        };
        // SAFETY: every id is below the vocabulary size (checked by
        // `train`), the matrices have one row per word of `stride ≥
        // lanes` floats, and `lanes` is a multiple of 8 (Shared::new).
        unsafe {
            (sh.kernel)(
                sh.syn0.0.add(context as usize * sh.stride),
                sh.syn1.0,
                sh.stride,
                sh.lanes,
                &sc.targets[slot * width..slot * width + sc.lens[slot]],
                alpha,
                sh.sig,
                ahead,
            );
        }
    }
}
