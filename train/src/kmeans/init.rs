//! Greedy k-means++ seeding, as scikit-learn's `_kmeans_plusplus`.
//!
//! 1. The first centre is a row drawn uniformly at random.
//! 2. Every further centre: draw `n_local_trials = 2 + ⌊ln k⌋` candidate rows,
//!    each with probability proportional to its squared distance to the closest
//!    centre chosen so far (`D²` sampling: a uniform number times the current
//!    potential, located in the cumulative sum of the squared distances by a
//!    left binary search, clipped to the last row); keep the candidate whose
//!    addition gives the lowest potential (sum of squared distances to the
//!    closest centre).
//!
//! Plain k-means++ (one candidate per step) is `O(log k)`-competitive in
//! expectation (Arthur & Vassilvitskii 2007); the greedy variant with several
//! local trials is what scikit-learn uses and is better in practice.
//!
//! Squared distances are computed directly as `Σ (x − c)²`, so they are never
//! negative and a row's distance to itself is exactly zero. Each step reads
//! the data once whatever the number of candidates: one pass scores all of
//! them and keeps each candidate's new closest distances, and the winner's
//! become the current ones. That takes `n_local_trials × rows × 8` bytes
//! (32 MB for a million rows and k = 8); above 512 MiB a step reads the data
//! a second time instead, to update the closest distances with the winner.
//! Both give the same bits.

use ndarray::{Array2, ArrayView2};

use super::error::KMeansError;
use super::{Data, dim, sq_dist};
use crate::rng::Xoshiro256StarStar;

/// `2 + ⌊ln k⌋`, scikit-learn's number of candidates per greedy step.
pub fn n_local_trials(n_clusters: usize) -> usize {
    2 + (n_clusters as f64).ln().floor() as usize
}

/// Greedy k-means++ on the rows of `x`: returns the `n_clusters × n_columns`
/// initial centres and the row indices they were copied from (in choice order).
///
/// Errors if `n_clusters` is 0 or exceeds the number of rows, if `x` has no
/// columns, or if `x` holds a NaN or infinity.
pub fn kmeans_plusplus(
    x: ArrayView2<f64>,
    n_clusters: usize,
    rng: &mut Xoshiro256StarStar,
) -> Result<(Array2<f64>, Vec<usize>), KMeansError> {
    let data = Data::new(x)?;
    if n_clusters == 0 || n_clusters > data.n {
        return Err(KMeansError::InvalidNClusters { n_clusters, n_rows: data.n });
    }
    let idx = plusplus_indices(data.rows(), data.d, n_clusters, rng);
    let mut centres = Array2::zeros((n_clusters, data.d));
    for (mut c, &i) in centres.rows_mut().into_iter().zip(&idx) {
        c.assign(&x.row(i));
    }
    Ok((centres, idx))
}

/// Rows per block in the distance passes.
const BLOCK: usize = 16;

/// Copies the `BLOCK` rows of `blk` into `xt` feature-major (`xt[f·BLOCK + b]`),
/// so that the distance loops below run across rows with unit stride and
/// vectorise.
#[inline(always)]
fn transpose_block<const D: usize>(blk: &[f64], d: usize, xt: &mut [f64]) {
    let d = dim::<D>(d);
    let (blk, xt) = (&blk[..BLOCK * d], &mut xt[..BLOCK * d]);
    for b in 0..BLOCK {
        for f in 0..d {
            xt[f * BLOCK + b] = blk[b * d + f];
        }
    }
}

/// Squared distances of the transposed block `xt` to `c`; each row's sum is
/// taken feature by feature, in order (the same value as [`sq_dist`]).
#[inline(always)]
fn block_sq_dists<const D: usize>(xt: &[f64], d: usize, c: &[f64]) -> [f64; BLOCK] {
    let d = dim::<D>(d);
    let (xt, c) = (&xt[..BLOCK * d], &c[..d]);
    let mut acc = [0.0f64; BLOCK];
    for (col, &cf) in xt.chunks_exact(BLOCK).zip(c) {
        for b in 0..BLOCK {
            let t = col[b] - cf;
            acc[b] += t * t;
        }
    }
    acc
}

/// `min` without NaN handling (there are no NaNs here): a single instruction.
#[inline(always)]
fn fmin(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// For each candidate row `c_t`, the potential `Σ_i min(closest_i, ‖x_i − c_t‖²)`,
/// in one pass over `x` (the data are read once, not once per candidate).
#[inline(always)]
fn candidate_pots<const D: usize>(x: &[f64], d: usize, candidates: &[usize], closest: &[f64], pots: &mut [f64]) {
    let d = dim::<D>(d);
    let cands: Vec<&[f64]> = candidates.iter().map(|&i| &x[i * d..(i + 1) * d]).collect();
    let mut parts = vec![[0.0f64; BLOCK]; cands.len()];
    let mut xt = vec![0.0; BLOCK * d];
    let blocks = x.chunks_exact(BLOCK * d);
    let tail = blocks.remainder();
    let full = closest.len() - tail.len() / d;
    for (blk, cl) in blocks.zip(closest.chunks_exact(BLOCK)) {
        transpose_block::<D>(blk, d, &mut xt);
        for (c, part) in cands.iter().zip(parts.iter_mut()) {
            let acc = block_sq_dists::<D>(&xt, d, c);
            for b in 0..BLOCK {
                part[b] += fmin(cl[b], acc[b]);
            }
        }
    }
    for ((c, part), pot) in cands.iter().zip(&parts).zip(pots.iter_mut()) {
        let mut p: f64 = part.iter().sum();
        for (r, &cd) in tail.chunks_exact(d).zip(&closest[full..]) {
            p += fmin(cd, sq_dist::<D>(r, c));
        }
        *pot = p;
    }
}

/// [`candidate_pots`] that also keeps, per candidate `t`, every row's new
/// closest distance `min(closest_i, ‖x_i − c_t‖²)` in `next[t]`: the winner's
/// becomes `closest` without another pass over the data (which is what a
/// step costs: the data are read once per step instead of twice).
#[inline(always)]
fn candidate_pots_keep<const D: usize>(
    x: &[f64],
    d: usize,
    candidates: &[usize],
    closest: &[f64],
    pots: &mut [f64],
    next: &mut [Vec<f64>],
) {
    let d = dim::<D>(d);
    let cands: Vec<&[f64]> = candidates.iter().map(|&i| &x[i * d..(i + 1) * d]).collect();
    let mut parts = vec![[0.0f64; BLOCK]; cands.len()];
    let mut xt = vec![0.0; BLOCK * d];
    let blocks = x.chunks_exact(BLOCK * d);
    let tail = blocks.remainder();
    let full = closest.len() - tail.len() / d;
    for (i, (blk, cl)) in blocks.zip(closest.chunks_exact(BLOCK)).enumerate() {
        transpose_block::<D>(blk, d, &mut xt);
        for ((c, part), nx) in cands.iter().zip(parts.iter_mut()).zip(next.iter_mut()) {
            let acc = block_sq_dists::<D>(&xt, d, c);
            let out = &mut nx[i * BLOCK..(i + 1) * BLOCK];
            for b in 0..BLOCK {
                let v = fmin(cl[b], acc[b]);
                out[b] = v;
                part[b] += v;
            }
        }
    }
    for (((c, part), pot), nx) in cands.iter().zip(&parts).zip(pots.iter_mut()).zip(next.iter_mut()) {
        let mut p: f64 = part.iter().sum();
        for ((r, &cd), o) in tail.chunks_exact(d).zip(&closest[full..]).zip(&mut nx[full..]) {
            *o = fmin(cd, sq_dist::<D>(r, c));
            p += *o;
        }
        *pot = p;
    }
}

/// Above this many bytes of per-candidate distances, a step reads the data
/// twice instead of keeping them ([`candidate_pots_keep`]).
const KEEP_BYTES: usize = 512 << 20;

/// `closest_i = min(closest_i, ‖x_i − c‖²)`; returns the new potential, summed
/// exactly as [`candidate_pots`] sums it.
#[inline(always)]
fn update_closest<const D: usize>(x: &[f64], d: usize, c: &[f64], closest: &mut [f64]) -> f64 {
    let d = dim::<D>(d);
    let mut part = [0.0f64; BLOCK];
    let mut xt = vec![0.0; BLOCK * d];
    let blocks = x.chunks_exact(BLOCK * d);
    let tail = blocks.remainder();
    let full = closest.len() - tail.len() / d;
    let (head, rest) = closest.split_at_mut(full);
    for (blk, cl) in blocks.zip(head.chunks_exact_mut(BLOCK)) {
        transpose_block::<D>(blk, d, &mut xt);
        let acc = block_sq_dists::<D>(&xt, d, c);
        for b in 0..BLOCK {
            cl[b] = fmin(cl[b], acc[b]);
            part[b] += cl[b];
        }
    }
    let mut p: f64 = part.iter().sum();
    for (r, cd) in tail.chunks_exact(d).zip(rest.iter_mut()) {
        *cd = fmin(*cd, sq_dist::<D>(r, c));
        p += *cd;
    }
    p
}

/// The k-means++ core on contiguous row-major data (`x.len() = n·d`, `k ≤ n`).
pub(crate) fn plusplus_indices(x: &[f64], d: usize, k: usize, rng: &mut Xoshiro256StarStar) -> Vec<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX support was just checked.
        return unsafe { plusplus_avx(x, d, k, rng) };
    }
    with_dim!(d, D => plusplus::<D>(x, d, k, rng))
}

/// [`plusplus`] compiled for AVX (4-wide vectors instead of SSE2's 2). No FMA:
/// every lane performs the same IEEE operations, so the result is bit for bit
/// the one of the portable build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn plusplus_avx(x: &[f64], d: usize, k: usize, rng: &mut Xoshiro256StarStar) -> Vec<usize> {
    with_dim!(d, D => plusplus::<D>(x, d, k, rng))
}

#[inline(always)]
fn plusplus<const D: usize>(x: &[f64], d: usize, k: usize, rng: &mut Xoshiro256StarStar) -> Vec<usize> {
    plusplus_keeping::<D>(x, d, k, rng, KEEP_BYTES)
}

/// [`plusplus`], keeping per-candidate distances up to `keep_bytes`.
#[inline(always)]
fn plusplus_keeping<const D: usize>(
    x: &[f64],
    d: usize,
    k: usize,
    rng: &mut Xoshiro256StarStar,
    keep_bytes: usize,
) -> Vec<usize> {
    let d = dim::<D>(d);
    let n = x.len() / d;
    debug_assert!(k >= 1 && k <= n);
    let trials = n_local_trials(k);

    let mut indices = Vec::with_capacity(k);
    let first = rng.gen_index(n);
    indices.push(first);
    if k == 1 {
        return indices;
    }
    // Squared distance of every row to its closest chosen centre, and the
    // potential (their sum).
    let mut closest = vec![f64::INFINITY; n];
    let mut pot = update_closest::<D>(x, d, &x[first * d..(first + 1) * d], &mut closest);

    let mut cumsum = vec![0.0; n];
    let mut candidates = vec![0usize; trials];
    let mut pots = vec![0.0; trials];
    let keep = trials * n * std::mem::size_of::<f64>() <= keep_bytes;
    let mut next: Vec<Vec<f64>> = if keep { vec![vec![0.0; n]; trials] } else { Vec::new() };
    for _ in 1..k {
        let mut s = 0.0;
        for (c, &v) in cumsum.iter_mut().zip(&closest) {
            s += v;
            *c = s;
        }
        for cand in candidates.iter_mut() {
            let target = rng.next_f64() * pot;
            // numpy.searchsorted(side="left"): first i with cumsum[i] >= target.
            *cand = cumsum.partition_point(|&c| c < target).min(n - 1);
        }
        if keep {
            candidate_pots_keep::<D>(x, d, &candidates, &closest, &mut pots, &mut next);
        } else {
            candidate_pots::<D>(x, d, &candidates, &closest, &mut pots);
        }
        // The first candidate with the lowest potential (numpy.argmin).
        let mut best = 0;
        for t in 1..trials {
            if pots[t] < pots[best] {
                best = t;
            }
        }
        let chosen = candidates[best];
        if keep {
            // The same values, and the same sum, as update_closest gives.
            std::mem::swap(&mut closest, &mut next[best]);
            pot = pots[best];
        } else {
            pot = update_closest::<D>(x, d, &x[chosen * d..(chosen + 1) * d], &mut closest);
            debug_assert_eq!(pot.to_bits(), pots[best].to_bits());
        }
        indices.push(chosen);
    }
    indices
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn local_trials_match_scikit_learn() {
        assert_eq!(n_local_trials(1), 2);
        assert_eq!(n_local_trials(2), 2);
        assert_eq!(n_local_trials(3), 3);
        assert_eq!(n_local_trials(7), 3);
        assert_eq!(n_local_trials(8), 4);
        assert_eq!(n_local_trials(100), 6);
    }

    #[test]
    fn picks_distinct_far_apart_rows() {
        // Three tight groups: k-means++ must take one row from each.
        let x = array![[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 10.0], [10.1, 10.0], [-10.0, 10.0], [-10.0, 10.1]];
        for seed in 0..20 {
            let mut rng = Xoshiro256StarStar::seed_from_u64(seed);
            let (c, idx) = kmeans_plusplus(x.view(), 3, &mut rng).unwrap();
            let mut groups: Vec<usize> = idx
                .iter()
                .map(|&i| {
                    if i < 3 {
                        0
                    } else if i < 5 {
                        1
                    } else {
                        2
                    }
                })
                .collect();
            groups.sort();
            assert_eq!(groups, vec![0, 1, 2], "seed {seed}: {idx:?}");
            for (r, &i) in c.rows().into_iter().zip(&idx) {
                assert_eq!(r, x.row(i));
            }
        }
    }

    #[test]
    fn seeding_paths_agree() {
        // Dispatched (fixed width, AVX when available) and portable run-time
        // width seeding pick the same rows from the same generator state.
        for d in [2, 7, 19] {
            let mut g = Xoshiro256StarStar::seed_from_u64(d as u64);
            let x: Vec<f64> = (0..1001 * d).map(|i| (i % 13) as f64 + g.next_f64()).collect();
            for k in [1, 2, 9] {
                let mut r1 = Xoshiro256StarStar::seed_from_u64(5);
                let mut r2 = r1.clone();
                let mut r3 = r1.clone();
                let a = plusplus_indices(&x, d, k, &mut r1);
                let b = plusplus::<0>(&x, d, k, &mut r2);
                // Reading the data twice per step instead of keeping the
                // candidates' distances: the same rows.
                let c = plusplus_keeping::<0>(&x, d, k, &mut r3, 0);
                assert_eq!(a, b, "d = {d}, k = {k}");
                assert_eq!(a, c, "d = {d}, k = {k}: keeping distances changes the seeding");
                assert_eq!(r1, r2);
                assert_eq!(r1, r3);
                let mut uniq = a.clone();
                uniq.sort();
                uniq.dedup();
                assert_eq!(uniq.len(), k, "distinct rows have positive D² weight");
            }
        }
    }

    #[test]
    fn k_equals_n_takes_every_row() {
        let x = array![[0.0], [1.0], [5.0], [9.0]];
        let mut rng = Xoshiro256StarStar::seed_from_u64(3);
        let (_, mut idx) = kmeans_plusplus(x.view(), 4, &mut rng).unwrap();
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2, 3]);
    }

    #[test]
    fn rejects_bad_k() {
        let x = array![[0.0], [1.0]];
        let mut rng = Xoshiro256StarStar::seed_from_u64(0);
        assert!(kmeans_plusplus(x.view(), 3, &mut rng).is_err());
        assert!(kmeans_plusplus(x.view(), 0, &mut rng).is_err());
    }
}
