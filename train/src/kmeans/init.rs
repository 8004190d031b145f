//! Greedy k-means++ seeding, as scikit-learn's `_kmeans_plusplus`.
//!
//! 1. The first centre is a row drawn uniformly at random.
//! 2. Every further centre: draw `n_local_trials = 2 + ⌊ln k⌋` candidate rows,
//!    each with probability proportional to its squared distance to the closest
//!    centre chosen so far (`D²` sampling: a uniform number times the current
//!    potential, located in the cumulative sums of the squared distances by a
//!    left search, clipped to the last row); keep the candidate whose addition
//!    gives the lowest potential (sum of squared distances to the closest
//!    centre).
//!
//! Plain k-means++ (one candidate per step) is `O(log k)`-competitive in
//! expectation (Arthur & Vassilvitskii 2007); the greedy variant with several
//! local trials is what scikit-learn uses and is better in practice.
//!
//! Squared distances are computed directly as `Σ (x − c)²`, so they are never
//! negative and a row's distance to itself is exactly zero.
//!
//! ## One pass over the data per step
//!
//! Each step reads the data once whatever the number of candidates: one pass
//! scores all of them, keeps each candidate's new closest distances and their
//! sums per block of 16 rows, and the winner's become the current ones. The
//! cumulative sums the next draw searches are those block sums (a short
//! array searched first) and then one block's rows, so no pass builds them.
//! That takes `n_local_trials × rows × 8` bytes (32 MB for a million rows and
//! k = 8); above 512 MiB a step reads the data a second time instead, to
//! update the closest distances with the winner. Both give the same bits.
//! (Tried and measured slower, 2026-12-02: keeping only the rows a candidate
//! would take, and non-temporal stores of the candidates' distances.)
//! The per-row buffers live in a [`Seeding`], allocated once per fit on huge
//! pages ([`crate::buffer`]), and the passes prefetch the rows ahead.

use ndarray::{Array2, ArrayView2};

use super::error::KMeansError;
use super::{Data, dim, prefetch_ahead, sq_dist};
use crate::buffer::Buffer;
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
    let idx = plusplus_indices(data.rows(), data.d, n_clusters, rng, &mut Seeding::new(data.n, n_clusters));
    let mut centres = Array2::zeros((n_clusters, data.d));
    for (mut c, &i) in centres.rows_mut().into_iter().zip(&idx) {
        c.assign(&x.row(i));
    }
    Ok((centres, idx))
}

/// Rows per block in the distance passes (and in the block sums).
const BLOCK: usize = 16;

/// Above this many bytes of per-candidate distances, a step reads the data
/// twice instead of keeping them.
const KEEP_BYTES: usize = 512 << 20;

/// Distances to the closest centre, with their sums per block of rows.
struct Closest {
    /// Per row.
    rows: Buffer<f64>,
    /// Per block of [`BLOCK`] rows (the last may be shorter): the sum of its
    /// rows' distances, in row order.
    blocks: Vec<f64>,
}

impl Closest {
    fn new(n: usize) -> Self {
        Closest { rows: Buffer::zeroed(n), blocks: vec![0.0; n.div_ceil(BLOCK)] }
    }
}

/// The per-row buffers of a seeding, reused by the runs of a fit.
pub(crate) struct Seeding {
    /// Squared distance of each row to its closest chosen centre.
    closest: Closest,
    /// Per candidate, each row's closest distance were it chosen (one, as
    /// scratch, above [`KEEP_BYTES`]).
    next: Vec<Closest>,
    /// Cumulative sums of `closest.blocks`, for the `D²` draws.
    prefix: Vec<f64>,
}

impl Seeding {
    pub(crate) fn new(n: usize, k: usize) -> Self {
        Self::keeping(n, k, KEEP_BYTES)
    }

    fn keeping(n: usize, k: usize, keep_bytes: usize) -> Self {
        let trials = n_local_trials(k);
        let keep = k > 1 && trials * n * std::mem::size_of::<f64>() <= keep_bytes;
        Seeding {
            closest: Closest::new(n),
            next: (0..if keep { trials } else { 1 }).map(|_| Closest::new(n)).collect(),
            prefix: vec![0.0; n.div_ceil(BLOCK)],
        }
    }
}

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

/// The new closest distances and block sums of the candidates `cands` (rows
/// of `x`) into `next` (as many), from the current ones: one pass over `x`.
#[inline(always)]
fn score_candidates<const D: usize>(x: &[f64], d: usize, cands: &[&[f64]], closest: &Closest, next: &mut [Closest]) {
    let d = dim::<D>(d);
    let mut xt = vec![0.0; BLOCK * d];
    for (i, blk) in x.chunks(BLOCK * d).enumerate() {
        prefetch_ahead(x, d, i, BLOCK);
        let cl = &closest.rows[i * BLOCK..];
        if blk.len() == BLOCK * d {
            transpose_block::<D>(blk, d, &mut xt);
            for (c, nx) in cands.iter().zip(next.iter_mut()) {
                let acc = block_sq_dists::<D>(&xt, d, c);
                let out = &mut nx.rows[i * BLOCK..(i + 1) * BLOCK];
                let mut sum = 0.0;
                for b in 0..BLOCK {
                    let v = fmin(cl[b], acc[b]);
                    out[b] = v;
                    sum += v;
                }
                nx.blocks[i] = sum;
            }
        } else {
            for (c, nx) in cands.iter().zip(next.iter_mut()) {
                let mut sum = 0.0;
                for (b, r) in blk.chunks_exact(d).enumerate() {
                    let v = fmin(cl[b], sq_dist::<D>(r, c));
                    nx.rows[i * BLOCK + b] = v;
                    sum += v;
                }
                nx.blocks[i] = sum;
            }
        }
    }
}

/// `closest = min(closest, ‖x − c‖²)` row by row, block sums included.
#[inline(always)]
fn update_closest<const D: usize>(x: &[f64], d: usize, c: &[f64], closest: &mut Closest) {
    let d = dim::<D>(d);
    let mut xt = vec![0.0; BLOCK * d];
    let Closest { rows, blocks } = closest;
    for (i, blk) in x.chunks(BLOCK * d).enumerate() {
        prefetch_ahead(x, d, i, BLOCK);
        let mut sum = 0.0;
        if blk.len() == BLOCK * d {
            transpose_block::<D>(blk, d, &mut xt);
            let acc = block_sq_dists::<D>(&xt, d, c);
            let cl = &mut rows[i * BLOCK..(i + 1) * BLOCK];
            for b in 0..BLOCK {
                cl[b] = fmin(cl[b], acc[b]);
                sum += cl[b];
            }
        } else {
            for (b, r) in blk.chunks_exact(d).enumerate() {
                let v = fmin(rows[i * BLOCK + b], sq_dist::<D>(r, c));
                rows[i * BLOCK + b] = v;
                sum += v;
            }
        }
        blocks[i] = sum;
    }
}

/// The potential: the block sums added in order.
fn potential(blocks: &[f64]) -> f64 {
    blocks.iter().sum()
}

/// `out[i]` = `values[0] + … + values[i]`, added left to right (the
/// seeding's block prefix sums, and its test's row sums).
fn running_sums(values: &[f64], out: &mut [f64]) {
    let mut s = 0.0;
    for (o, &v) in out.iter_mut().zip(values) {
        s += v;
        *o = s;
    }
}

/// `D²` sampling: the first row whose cumulative distance reaches `target`
/// (numpy's `searchsorted(side="left")` on the cumulative sums), clipped to
/// the last row. The cumulative sum at a row is the sum of the blocks before
/// it (`prefix`) plus its block's rows up to it.
fn draw(closest: &Closest, prefix: &[f64], target: f64) -> usize {
    let n = closest.rows.len();
    let block = prefix.partition_point(|&c| c < target);
    if block >= prefix.len() {
        return n - 1;
    }
    let before = if block == 0 { 0.0 } else { prefix[block - 1] };
    let rows = &closest.rows[block * BLOCK..((block + 1) * BLOCK).min(n)];
    let mut s = 0.0;
    for (b, &v) in rows.iter().enumerate() {
        s += v;
        if before + s >= target {
            return block * BLOCK + b;
        }
    }
    // `before + s` is `prefix[block]` (the same additions), which reaches
    // `target`; kept for safety.
    block * BLOCK + rows.len() - 1
}

/// The k-means++ core on contiguous row-major data (`x.len() = n·d`, `k ≤ n`).
pub(crate) fn plusplus_indices(
    x: &[f64],
    d: usize,
    k: usize,
    rng: &mut Xoshiro256StarStar,
    ws: &mut Seeding,
) -> Vec<usize> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX support was just checked.
        return unsafe { plusplus_avx(x, d, k, rng, ws) };
    }
    with_dim!(d, D => plusplus::<D>(x, d, k, rng, ws))
}

/// [`plusplus`] compiled for AVX (4-wide vectors instead of SSE2's 2). No FMA:
/// every lane performs the same IEEE operations, so the result is bit for bit
/// the one of the portable build.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn plusplus_avx(x: &[f64], d: usize, k: usize, rng: &mut Xoshiro256StarStar, ws: &mut Seeding) -> Vec<usize> {
    with_dim!(d, D => plusplus::<D>(x, d, k, rng, ws))
}

/// The seeding, keeping per-candidate distances when `ws` has room for them.
#[inline(always)]
fn plusplus<const D: usize>(
    x: &[f64],
    d: usize,
    k: usize,
    rng: &mut Xoshiro256StarStar,
    ws: &mut Seeding,
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
    // Squared distance of every row to its closest chosen centre.
    let keep = ws.next.len() == trials;
    ws.closest.rows.fill(f64::INFINITY);
    update_closest::<D>(x, d, &x[first * d..(first + 1) * d], &mut ws.closest);

    let mut candidates = vec![0usize; trials];
    let mut pots = vec![0.0; trials];
    for _ in 1..k {
        running_sums(&ws.closest.blocks, &mut ws.prefix);
        let pot = potential(&ws.closest.blocks);
        for cand in candidates.iter_mut() {
            *cand = draw(&ws.closest, &ws.prefix, rng.next_f64() * pot);
        }
        let cands: Vec<&[f64]> = candidates.iter().map(|&i| &x[i * d..(i + 1) * d]).collect();
        if keep {
            score_candidates::<D>(x, d, &cands, &ws.closest, &mut ws.next);
            for (p, nx) in pots.iter_mut().zip(&ws.next) {
                *p = potential(&nx.blocks);
            }
        } else {
            // One candidate at a time, its distances in the one scratch.
            for (p, c) in pots.iter_mut().zip(&cands) {
                score_candidates::<D>(x, d, &[c], &ws.closest, &mut ws.next);
                *p = potential(&ws.next[0].blocks);
            }
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
            // The same values, and the same sums, as update_closest gives.
            std::mem::swap(&mut ws.closest, &mut ws.next[best]);
        } else {
            update_closest::<D>(x, d, &x[chosen * d..(chosen + 1) * d], &mut ws.closest);
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
                let a = plusplus_indices(&x, d, k, &mut r1, &mut Seeding::new(1001, k));
                let b = plusplus::<0>(&x, d, k, &mut r2, &mut Seeding::new(1001, k));
                // Reading the data twice per step instead of keeping the
                // candidates' distances: the same rows.
                let c = plusplus::<0>(&x, d, k, &mut r3, &mut Seeding::keeping(1001, k, 0));
                assert!(Seeding::keeping(1001, k, 0).next.len() <= 1);
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
    fn draws_find_the_first_row_reaching_the_target() {
        // Whole numbers: every sum is exact, so the two-level search must
        // give what a search of the plain cumulative sums gives.
        let n = 16 * 5 + 3;
        let mut g = Xoshiro256StarStar::seed_from_u64(9);
        let mut c = Closest::new(n);
        for v in c.rows.iter_mut() {
            *v = if g.next_f64() < 0.3 { 0.0 } else { (g.next_f64() * 10.0).floor() };
        }
        for (i, blk) in c.rows.chunks(BLOCK).enumerate() {
            c.blocks[i] = blk.iter().sum();
        }
        let mut prefix = vec![0.0; c.blocks.len()];
        running_sums(&c.blocks, &mut prefix);
        let mut cumsum = vec![0.0; n];
        running_sums(&c.rows, &mut cumsum);
        let total = *cumsum.last().unwrap();
        for step in 0..=(2 * total as usize + 2) {
            let target = step as f64 / 2.0;
            let want = cumsum.partition_point(|&s| s < target).min(n - 1);
            assert_eq!(draw(&c, &prefix, target), want, "target {target}");
        }
        // Rows of zero weight are never drawn (but at target 0).
        for t in 1..200 {
            let i = draw(&c, &prefix, total * t as f64 / 200.0);
            assert!(c.rows[i] > 0.0, "drew row {i} of weight 0");
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
