//! The inner loop of skip-gram with negative sampling, and dot products, with
//! runtime CPU dispatch: AVX2 + FMA kernels (one per vector length in 8-lane
//! chunks, fully unrolled) when the CPU has them, portable code that LLVM
//! vectorises with the baseline instruction set otherwise.
//!
//! Rows are padded with zeros to a multiple of 8 lanes (`lanes`); the padding
//! stays zero under every update, so it never changes a dot product.

/// word2vec.c's `MAX_EXP`: the sigmoid is saturated outside `(−6, 6)`.
pub const MAX_EXP: f32 = 6.0;
/// word2vec.c's `EXP_TABLE_SIZE`.
pub const EXP_TABLE_SIZE: usize = 1000;

/// word2vec.c / gensim's precomputed logistic function: entry `i` is
/// `σ((2i / 1000 − 1) · 6)`, looked up at `⌊(f + 6) · 1000 / 12⌋` (gensim's
/// true-division scale; word2vec.c's integer `1000 / 6 / 2 = 83` leaves the
/// top 4 entries unused).
pub struct SigmoidTable {
    table: Box<[f32; EXP_TABLE_SIZE]>,
}

impl Default for SigmoidTable {
    fn default() -> Self {
        let mut table = Box::new([0f32; EXP_TABLE_SIZE]);
        for (i, t) in table.iter_mut().enumerate() {
            let e = ((i as f64 / EXP_TABLE_SIZE as f64 * 2.0 - 1.0) * f64::from(MAX_EXP)).exp();
            *t = (e / (e + 1.0)) as f32;
        }
        SigmoidTable { table }
    }
}

impl SigmoidTable {
    /// The table's σ(f): 0 for `f ≤ −6`, 1 for `f ≥ 6` (word2vec.c's clamping).
    #[inline(always)]
    pub fn sigmoid(&self, f: f32) -> f32 {
        if f >= MAX_EXP {
            1.0
        } else if f <= -MAX_EXP {
            0.0
        } else {
            // f + 6 in (0, 12): the index is in 0..=1000; 1000 only by rounding.
            let i = ((f + MAX_EXP) * (EXP_TABLE_SIZE as f32 / MAX_EXP / 2.0)) as usize;
            self.table[i.min(EXP_TABLE_SIZE - 1)]
        }
    }

    /// The gradient step `(label − σ(f)) · alpha`.
    #[inline(always)]
    pub fn gradient(&self, f: f32, label: f32, alpha: f32) -> f32 {
        (label - self.sigmoid(f)) * alpha
    }
}

/// One (input word, targets) update of skip-gram with negative sampling:
/// `targets[0]` is the positive target (label 1), the rest are noise words
/// (label 0). For each target `t` in order, with `x` the input row of `syn0`
/// and `y = syn1neg[t]`: `g = (label − σ(x·y)) · alpha`, `e += g · y`,
/// `y += g · x`; then `x += e` (gensim's `fast_sentence_sg_neg`). While
/// target `d` is processed, the row of `ahead[d]` (a later pair's target) is
/// prefetched.
///
/// # Safety
/// `x` points to `lanes` writable floats, `syn1.add(t * stride)` to `lanes`
/// writable floats for every `t` in `targets` and `ahead`, `work` to `lanes`
/// writable floats that nothing else uses; `lanes` is a multiple of 8. Other
/// threads may write the rows concurrently (Hogwild).
pub(super) type PairKernel = unsafe fn(
    x: *mut f32,
    syn1: *mut f32,
    stride: usize,
    lanes: usize,
    targets: &[u32],
    alpha: f32,
    sig: &SigmoidTable,
    ahead: &[u32],
    work: *mut f32,
);

/// The fastest kernel for rows of `lanes` floats on this CPU.
pub(super) fn pair_kernel(lanes: usize) -> PairKernel {
    assert!(lanes.is_multiple_of(8) && lanes > 0);
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            return x86::pair_kernel(lanes);
        }
    }
    pair_portable
}

/// Whether the AVX2 + FMA kernels are used.
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Asks for the `lanes` floats at `p` to be brought into the cache (a hint;
/// nothing on other architectures).
#[inline(always)]
pub(super) fn prefetch(p: *const f32, lanes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let mut off = 0;
        while off < lanes {
            // SAFETY: prefetching never faults; the caller's row covers
            // `p..p + lanes`, so the pointer arithmetic stays in bounds.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(off).cast::<i8>()) };
            off += 16;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, lanes);
}

/// Portable kernel: 8-lane chunks that LLVM vectorises.
///
/// # Safety
/// See [`PairKernel`].
#[allow(clippy::too_many_arguments)]
unsafe fn pair_portable(
    x: *mut f32,
    syn1: *mut f32,
    stride: usize,
    lanes: usize,
    targets: &[u32],
    alpha: f32,
    sig: &SigmoidTable,
    ahead: &[u32],
    work: *mut f32,
) {
    // SAFETY: the caller guarantees the rows and `work`; `x` (syn0), the
    // `syn1neg` rows and `work` are distinct memory. Other threads may race
    // on the rows, as in word2vec.c.
    unsafe {
        let e = std::slice::from_raw_parts_mut(work, lanes);
        e.fill(0.0);
        let xs = std::slice::from_raw_parts_mut(x, lanes);
        for (d, &t) in targets.iter().enumerate() {
            if let Some(&a) = ahead.get(d) {
                prefetch(syn1.add(a as usize * stride), lanes);
            }
            let ys = std::slice::from_raw_parts_mut(syn1.add(t as usize * stride), lanes);
            let f = dot_portable(xs, ys);
            let g = sig.gradient(f, if d == 0 { 1.0 } else { 0.0 }, alpha);
            for ((ec, yc), xc) in e.chunks_exact_mut(8).zip(ys.chunks_exact_mut(8)).zip(xs.chunks_exact(8)) {
                for k in 0..8 {
                    ec[k] += g * yc[k];
                    yc[k] += g * xc[k];
                }
            }
        }
        for &a in ahead.iter().skip(targets.len()) {
            prefetch(syn1.add(a as usize * stride), lanes);
        }
        for (xc, ec) in xs.chunks_exact_mut(8).zip(e.chunks_exact(8)) {
            for k in 0..8 {
                xc[k] += ec[k];
            }
        }
    }
}

/// `a · b` with 8 independent accumulators (vectorisable); any length.
#[inline]
pub(super) fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let mut ac = a.chunks_exact(8);
    let mut bc = b.chunks_exact(8);
    for (x, y) in (&mut ac).zip(&mut bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `out[r] = row_r · q` for the `rows` rows of `m` (`dim` floats each,
/// contiguous).
pub(super) fn dots(m: &[f32], dim: usize, q: &[f32], out: &mut [f32]) {
    assert_eq!(q.len(), dim);
    assert!(m.len() >= out.len() * dim);
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA; the lengths are checked above.
            unsafe { x86::dots(m, dim, q, out) };
            return;
        }
    }
    for (o, row) in out.iter_mut().zip(m.chunks_exact(dim.max(1))) {
        *o = dot_portable(row, q);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{PairKernel, SigmoidTable, prefetch};

    /// The unrolled kernel for `lanes / 8` chunks up to 16 (vectors of up
    /// to 128 floats), the looped one beyond.
    pub(super) fn pair_kernel(lanes: usize) -> PairKernel {
        macro_rules! pick {
            ($($n:literal)*) => {
                match lanes / 8 {
                    $($n => pair_avx2::<$n> as PairKernel,)*
                    _ => pair_avx2_looped as PairKernel,
                }
            };
        }
        pick!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }

    /// The sum of the 8 lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps::<1>(v);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// The unrolled kernel: the update `e` stays in `N` registers, `x` is
    /// read from memory (L1) each time. (Keeping `x` in registers instead,
    /// or both with spills, measured no faster: the loop waits on the
    /// `syn1neg` rows, not on arithmetic.)
    ///
    /// # Safety
    /// See [`PairKernel`]; the CPU has AVX2 and FMA; `lanes == 8 * N`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pair_avx2<const N: usize>(
        x: *mut f32,
        syn1: *mut f32,
        stride: usize,
        lanes: usize,
        targets: &[u32],
        alpha: f32,
        sig: &SigmoidTable,
        ahead: &[u32],
        _work: *mut f32,
    ) {
        // SAFETY: the caller's contract (`# Safety` above): AVX2 and FMA are
        // there, and every row the pointers reach is inside its matrix.
        unsafe {
            let mut ev = [_mm256_setzero_ps(); N];
            for (d, &t) in targets.iter().enumerate() {
                if let Some(&a) = ahead.get(d) {
                    prefetch(syn1.add(a as usize * stride), lanes);
                }
                let row = syn1.add(t as usize * stride);
                let mut acc = [_mm256_setzero_ps(); 2];
                for k in 0..N {
                    acc[k % 2] =
                        _mm256_fmadd_ps(_mm256_loadu_ps(x.add(8 * k)), _mm256_loadu_ps(row.add(8 * k)), acc[k % 2]);
                }
                let f = hsum(_mm256_add_ps(acc[0], acc[1]));
                let g = _mm256_set1_ps(sig.gradient(f, if d == 0 { 1.0 } else { 0.0 }, alpha));
                for (k, e) in ev.iter_mut().enumerate() {
                    let y = _mm256_loadu_ps(row.add(8 * k));
                    *e = _mm256_fmadd_ps(g, y, *e);
                    _mm256_storeu_ps(row.add(8 * k), _mm256_fmadd_ps(g, _mm256_loadu_ps(x.add(8 * k)), y));
                }
            }
            for &a in ahead.iter().skip(targets.len()) {
                prefetch(syn1.add(a as usize * stride), lanes);
            }
            for (k, e) in ev.iter().enumerate() {
                _mm256_storeu_ps(x.add(8 * k), _mm256_add_ps(_mm256_loadu_ps(x.add(8 * k)), *e));
            }
        }
    }

    /// Any multiple of 8 lanes, with `e` in `work`.
    ///
    /// # Safety
    /// See [`PairKernel`]; the CPU has AVX2 and FMA.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pair_avx2_looped(
        x: *mut f32,
        syn1: *mut f32,
        stride: usize,
        lanes: usize,
        targets: &[u32],
        alpha: f32,
        sig: &SigmoidTable,
        ahead: &[u32],
        work: *mut f32,
    ) {
        // SAFETY: the caller's contract (`# Safety` above): AVX2 and FMA are
        // there, and every row the pointers reach is inside its matrix.
        unsafe {
            let ep = work;
            let mut k = 0;
            while k < lanes {
                _mm256_storeu_ps(ep.add(k), _mm256_setzero_ps());
                k += 8;
            }
            for (d, &t) in targets.iter().enumerate() {
                if let Some(&a) = ahead.get(d) {
                    prefetch(syn1.add(a as usize * stride), lanes);
                }
                let row = syn1.add(t as usize * stride);
                let mut acc = [_mm256_setzero_ps(); 4];
                let mut k = 0;
                while k < lanes {
                    let c = (k / 8) % 4;
                    acc[c] = _mm256_fmadd_ps(_mm256_loadu_ps(x.add(k)), _mm256_loadu_ps(row.add(k)), acc[c]);
                    k += 8;
                }
                let f = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
                let g = _mm256_set1_ps(sig.gradient(f, if d == 0 { 1.0 } else { 0.0 }, alpha));
                let mut k = 0;
                while k < lanes {
                    let y = _mm256_loadu_ps(row.add(k));
                    _mm256_storeu_ps(ep.add(k), _mm256_fmadd_ps(g, y, _mm256_loadu_ps(ep.add(k))));
                    _mm256_storeu_ps(row.add(k), _mm256_fmadd_ps(g, _mm256_loadu_ps(x.add(k)), y));
                    k += 8;
                }
            }
            for &a in ahead.iter().skip(targets.len()) {
                prefetch(syn1.add(a as usize * stride), lanes);
            }
            let mut k = 0;
            while k < lanes {
                _mm256_storeu_ps(x.add(k), _mm256_add_ps(_mm256_loadu_ps(x.add(k)), _mm256_loadu_ps(ep.add(k))));
                k += 8;
            }
        }
    }

    /// See [`super::dots`].
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `q.len() == dim`, `m.len() >= out.len() * dim`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dots(m: &[f32], dim: usize, q: &[f32], out: &mut [f32]) {
        let full = dim / 8 * 8;
        // SAFETY: AVX2 and FMA are there (the caller's contract); the loads
        // read `q[..full]` and row `r` of `m`, inside `m` as `m.len() >=
        // out.len() * dim`.
        unsafe {
            for (r, o) in out.iter_mut().enumerate() {
                let row = m.as_ptr().add(r * dim);
                let mut acc = [_mm256_setzero_ps(); 4];
                let mut k = 0;
                while k < full {
                    let c = (k / 8) % 4;
                    acc[c] = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(k)), _mm256_loadu_ps(q.as_ptr().add(k)), acc[c]);
                    k += 8;
                }
                let mut s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
                for (j, &qj) in q.iter().enumerate().skip(full) {
                    s += *row.add(j) * qj;
                }
                *o = s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Xoshiro256StarStar;

    #[test]
    fn sigmoid_table_is_word2vecs() {
        let s = SigmoidTable::default();
        assert_eq!(s.sigmoid(6.0), 1.0);
        assert_eq!(s.sigmoid(-6.0), 0.0);
        assert_eq!(s.sigmoid(f32::INFINITY), 1.0);
        assert_eq!(s.sigmoid(f32::NEG_INFINITY), 0.0);
        // Entry i is σ at the left edge of its bucket, x_i = (2i/1000 − 1) · 6.
        assert!((s.sigmoid(0.0) - 0.5).abs() < 1e-7);
        assert!((s.sigmoid(-5.999) - 1.0 / (1.0 + 6f32.exp())).abs() < 1e-6);
        assert!((s.sigmoid(5.9999995) - 1.0 / (1.0 + (-5.988f32).exp())).abs() < 1e-6);
        let mut prev = 0.0;
        for i in 0..2400 {
            let f = -6.0 + i as f32 * 0.005;
            let v = s.sigmoid(f);
            assert!(v >= prev, "monotone");
            assert!((v - 1.0 / (1.0 + (-f).exp())).abs() < 0.004, "within one step of σ at {f}");
            prev = v;
        }
        assert_eq!(s.gradient(0.0, 1.0, 0.5), 0.25);
        assert_eq!(s.gradient(10.0, 0.0, 0.5), -0.5);
    }

    /// The dispatched kernel (AVX2 + FMA on this machine, if it has them)
    /// computes what the portable one does, up to rounding.
    #[test]
    fn kernels_agree() {
        for lanes in [8usize, 24, 104, 136] {
            let (rows, stride) = (6, lanes.next_multiple_of(16));
            let mut rng = Xoshiro256StarStar::seed_from_u64(lanes as u64);
            let mut x = vec![0f32; lanes];
            let mut syn1 = vec![0f32; rows * stride];
            for v in x.iter_mut().chain(syn1.iter_mut()) {
                *v = (rng.next_f64() as f32 - 0.5) * 0.6;
            }
            let sig = SigmoidTable::default();
            let targets = [2u32, 0, 5, 2, 3];
            let ahead = [1u32, 4, 0];
            let run = |k: PairKernel| {
                let (mut x, mut syn1) = (x.clone(), syn1.clone());
                let mut work = vec![7f32; lanes];
                // SAFETY: every row is in `syn1`; `work` has `lanes` floats.
                unsafe {
                    k(x.as_mut_ptr(), syn1.as_mut_ptr(), stride, lanes, &targets, 0.1, &sig, &ahead, work.as_mut_ptr())
                };
                (x, syn1)
            };
            let (xa, sa) = run(pair_kernel(lanes));
            let (xb, sb) = run(pair_portable);
            // A direct scalar reference.
            let (mut xr, mut sr) = (x.clone(), syn1.clone());
            let mut e = vec![0f32; lanes];
            for (d, &t) in targets.iter().enumerate() {
                let y = &mut sr[t as usize * stride..][..lanes];
                let f: f32 = xr.iter().zip(y.iter()).map(|(a, b)| a * b).sum();
                let g = sig.gradient(f, if d == 0 { 1.0 } else { 0.0 }, 0.1);
                for k in 0..lanes {
                    e[k] += g * y[k];
                    y[k] += g * xr[k];
                }
            }
            xr.iter_mut().zip(&e).for_each(|(a, b)| *a += b);
            for (got, name) in [((&xa, &sa), "dispatched"), ((&xb, &sb), "portable")] {
                for (a, b) in got.0.iter().zip(&xr).chain(got.1.iter().zip(&sr)) {
                    assert!((a - b).abs() < 1e-5, "{name} kernel, lanes {lanes}: {a} vs {b}");
                }
            }
            // Rows outside `targets` are untouched.
            for r in [1usize, 4] {
                assert_eq!(sa[r * stride..(r + 1) * stride], syn1[r * stride..(r + 1) * stride]);
            }
        }
    }

    #[test]
    fn dots_match_the_scalar_sum() {
        for dim in [1, 7, 8, 100, 131] {
            let m: Vec<f32> = (0..3 * dim).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
            let q: Vec<f32> = (0..dim).map(|i| ((i * 13) % 7) as f32 * 0.5).collect();
            let mut out = [0f32; 3];
            dots(&m, dim, &q, &mut out);
            for (r, o) in out.iter().enumerate() {
                let want: f32 = m[r * dim..(r + 1) * dim].iter().zip(&q).map(|(a, b)| a * b).sum();
                assert_eq!(*o, want, "dim {dim}, row {r}");
            }
        }
    }
}
