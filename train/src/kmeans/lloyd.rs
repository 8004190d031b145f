//! Lloyd iterations, as scikit-learn's `_kmeans_single_lloyd`.
//!
//! Every iteration, with the current centres `C`:
//!
//! 1. **Assign** each row to its closest centre (ties → lowest index), and in the
//!    same pass add the row to that cluster's running sum.
//! 2. **Re-seed empty clusters** (`_relocate_empty_clusters`): if `m` clusters got
//!    no row, take the `m` rows farthest from their assigned centre (largest
//!    first); each becomes the new centre of one empty cluster and is subtracted
//!    from its old cluster's sum and count. Its label is not changed.
//! 3. **Update** each centre with a positive count to the mean of its rows.
//! 4. **Stop** if no label changed since the previous iteration (*strict
//!    convergence*), or else if `Σ‖C_new − C‖² ≤ tol_scaled`, or after
//!    `max_iter` iterations. If the stop was not strict convergence, labels are
//!    re-assigned once with the final centres so that they are consistent.
//!
//! `tol_scaled = tol × mean_j Var(X[:, j])` (scikit-learn's `_tolerance`).
//!
//! ## Numerics
//!
//! As scikit-learn does, the data are centred on the column means for the
//! computation (here on the fly, without a copy): the centres are kept in the
//! centred frame and shifted back at the end. The assignment compares
//! `‖c‖² − 2 x·c` (the row's own `‖x‖²` is the same for every centre, so it is
//! dropped, as in scikit-learn's `_update_chunk_dense`); centring keeps the
//! cancellation in that expression small. The reported inertia and distances
//! are computed directly as `Σ (x − c)²`.
//!
//! ## Speed
//!
//! The assignment kernel processes rows in blocks of 16, transposed to
//! feature-major order, so its loops run across rows and vectorise; loops over
//! a row's features get a compile-time length for widths 1–16. On x86-64 the
//! kernel is also compiled for AVX2 and FMA and chosen at run time. Its dot
//! products are fused multiply-adds (`f64::mul_add`, rounded once on every
//! target) and no sum is reordered, so every path gives the same bits
//! (tested).

use ndarray::ArrayView2;

use super::error::KMeansError;
use super::params::KMeansParams;
use super::{Data, KMeansFit, centred_sq_dist, check_finite, dim, prefetch_ahead};
use crate::buffer::zeroed_vec;

/// One Lloyd run from explicit initial centres (`k × n_columns`, in data
/// coordinates), as `KMeans(init=init_centres, n_init=1, algorithm="lloyd")`.
///
/// `tol` is relative, as [`KMeansParams::tol`]: `0.0` runs until no label
/// changes or `max_iter` is reached.
pub fn lloyd_from(
    x: ArrayView2<f64>,
    init_centres: ArrayView2<f64>,
    max_iter: usize,
    tol: f64,
) -> Result<KMeansFit, KMeansError> {
    let data = Data::new(x)?;
    let k = init_centres.nrows();
    if init_centres.ncols() != data.d || k == 0 {
        return Err(KMeansError::InitShape { expected: (k.max(1), data.d), found: init_centres.dim() });
    }
    KMeansParams::new(k).with_n_init(1).with_max_iter(max_iter).with_tol(tol).validate(data.n)?;
    check_finite("initial centres", init_centres)?;
    let mut init = Vec::with_capacity(k * data.d);
    for c in init_centres.rows() {
        init.extend(c.iter().zip(&data.mean).map(|(v, m)| v - m));
    }
    let out = run(&data, init, k, max_iter, tol * data.mean_var, &mut |_, _| {});
    Ok(out.into_fit(&data, k))
}

/// The result of one run, in the centred frame.
pub(crate) struct RunOutput {
    /// `k × d`, row-major, centred.
    pub centres: Vec<f64>,
    pub labels: Vec<u32>,
    pub inertia: f64,
    pub n_iter: usize,
    /// Squared distance of each row to its centre (`inertia` is their sum,
    /// per block of rows then over blocks).
    pub sq_distances: Vec<f64>,
}

impl RunOutput {
    pub(crate) fn into_fit(self, data: &Data, k: usize) -> KMeansFit {
        let d = data.d;
        let mut distances = self.sq_distances;
        distances.iter_mut().for_each(|v| *v = v.sqrt());
        let mut cluster_sizes = vec![0u64; k];
        for &l in &self.labels {
            cluster_sizes[l as usize] += 1;
        }
        let mut centroids = ndarray::Array2::zeros((k, d));
        for (j, mut row) in centroids.rows_mut().into_iter().enumerate() {
            for (f, v) in row.iter_mut().enumerate() {
                *v = self.centres[j * d + f] + data.mean[f];
            }
        }
        KMeansFit {
            centroids,
            labels: self.labels,
            inertia: self.inertia,
            n_iter: self.n_iter,
            distances,
            cluster_sizes,
        }
    }
}

/// Runs Lloyd from `init` (`k × d`, centred). `on_iter(iteration, inertia)` is
/// called after every iteration with the inertia of that iteration's
/// assignment (computed from the expanded form, so approximate).
pub(crate) fn run(
    data: &Data,
    init: Vec<f64>,
    k: usize,
    max_iter: usize,
    tol_scaled: f64,
    on_iter: &mut dyn FnMut(usize, f64),
) -> RunOutput {
    let d = data.d;
    debug_assert_eq!(init.len(), k * d);
    assert!(k <= u32::MAX as usize, "n_clusters must fit in u32");
    let mut centres = init;
    let mut new_centres = vec![0.0; k * d];
    let mut counts = vec![0.0f64; k];
    // u32::MAX never equals a real label, so the first iteration always
    // counts as "changed" (scikit-learn starts from labels_old = -1).
    // u32::MAX never equals a real label (see below).
    let mut labels: Vec<u32> = zeroed_vec(data.n);
    labels.fill(u32::MAX);
    let mut kernel = Kernel::new(k, d);
    let mut strict = false;
    let mut n_iter = 0;
    for it in 0..max_iter {
        n_iter = it + 1;
        new_centres.fill(0.0);
        counts.fill(0.0);
        kernel.set_centres(&centres);
        let (changed, approx) = kernel.assign(data, &mut labels, Some((&mut new_centres, &mut counts)));
        relocate_empty_clusters(data, &centres, &labels, &mut new_centres, &mut counts, k);
        for (c, &w) in new_centres.chunks_exact_mut(d).zip(&counts) {
            if w > 0.0 {
                let alpha = 1.0 / w;
                c.iter_mut().for_each(|v| *v *= alpha);
            }
        }
        let shift: f64 = centres.iter().zip(&new_centres).map(|(a, b)| (a - b) * (a - b)).sum();
        std::mem::swap(&mut centres, &mut new_centres);
        on_iter(n_iter, approx);
        if !changed {
            strict = true;
            break;
        }
        if shift <= tol_scaled {
            break;
        }
    }
    if !strict {
        kernel.set_centres(&centres);
        kernel.assign(data, &mut labels, None);
    }
    let mut sq_distances = zeroed_vec(data.n);
    let inertia = with_dim!(d, D => sq_distances_inertia::<D>(data, &centres, &labels, &mut sq_distances));
    RunOutput { centres, labels, inertia, n_iter, sq_distances }
}

/// Squared distance of every row to its assigned (centred) centre, and
/// their sum (per block of rows then over blocks, for accuracy).
fn sq_distances_inertia<const D: usize>(data: &Data, centres: &[f64], labels: &[u32], out: &mut [f64]) -> f64 {
    let d = dim::<D>(data.d);
    const ROWS: usize = 256;
    let mut total = 0.0;
    for ((rows, labs), out) in data.rows().chunks(ROWS * d).zip(labels.chunks(ROWS)).zip(out.chunks_mut(ROWS)) {
        let mut s = 0.0;
        for ((r, &l), o) in rows.chunks_exact(d).zip(labs).zip(out) {
            let l = l as usize;
            *o = centred_sq_dist::<D>(r, &data.mean, &centres[l * d..(l + 1) * d]);
            s += *o;
        }
        total += s;
    }
    total
}

/// scikit-learn's `_relocate_empty_clusters_dense`. `old_centres` are the
/// centres the labels were assigned with; `sums`/`counts` are the per-cluster
/// accumulations of this iteration (before averaging).
fn relocate_empty_clusters(
    data: &Data,
    old_centres: &[f64],
    labels: &[u32],
    sums: &mut [f64],
    counts: &mut [f64],
    k: usize,
) {
    let d = data.d;
    let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0.0).collect();
    let m = empty.len();
    if m == 0 {
        return;
    }
    // The m rows farthest from their centre: largest distance first, ties by
    // lowest row index. `top` stays sorted that way.
    let mut top: Vec<(f64, usize)> = Vec::with_capacity(m + 1);
    for (i, (r, &l)) in data.rows().chunks_exact(d).zip(labels).enumerate() {
        let l = l as usize;
        let dist = centred_sq_dist::<0>(r, &data.mean, &old_centres[l * d..(l + 1) * d]);
        if top.len() < m || dist > top[m - 1].0 {
            let pos = top.partition_point(|&(t, _)| t >= dist);
            top.insert(pos, (dist, i));
            top.truncate(m);
        }
    }
    let rows = data.rows();
    for (&new_id, &(_, far)) in empty.iter().zip(&top) {
        let old_id = labels[far] as usize;
        let r = &rows[far * d..(far + 1) * d];
        for f in 0..d {
            let v = r[f] - data.mean[f];
            sums[old_id * d + f] -= v;
            sums[new_id * d + f] = v;
        }
        counts[new_id] = 1.0;
        counts[old_id] -= 1.0;
    }
}

/// `s += r − mean`, element by element (four at a time where the width
/// allows, so the sums are updated with a vector or two).
#[inline(always)]
fn add_centred<const D: usize>(s: &mut [f64], r: &[f64], mean: &[f64], d: usize) {
    let d = dim::<D>(d);
    let (s, r, mean) = (&mut s[..d], &r[..d], &mean[..d]);
    let whole = d / 4 * 4;
    for ((s, r), m) in s[..whole].chunks_exact_mut(4).zip(r[..whole].chunks_exact(4)).zip(mean[..whole].chunks_exact(4))
    {
        let v: [f64; 4] = std::array::from_fn(|i| s[i] + (r[i] - m[i]));
        s.copy_from_slice(&v);
    }
    for f in whole..d {
        s[f] += r[f] - mean[f];
    }
}

/// Rows per block of the assignment kernel.
const BLOCK: usize = 16;

/// The assignment step: for every row, the centre minimising `‖c‖² − 2 x·c`.
///
/// Rows are processed in blocks of [`BLOCK`]: a block is centred and
/// transposed into a small feature-major buffer, so the inner loops run over
/// the rows of the block with unit stride and fixed length, which the compiler
/// vectorises (including the branch-free running argmin). This is a tiny
/// matrix product per block, as scikit-learn's chunked GEMM, without BLAS.
struct Kernel {
    k: usize,
    d: usize,
    /// Centres, `k × d` row-major, centred frame.
    c: Vec<f64>,
    /// `‖c_j‖²`.
    cn: Vec<f64>,
    /// Scratch: the current block, centred and transposed: `xt[f * BLOCK + b]`.
    xt: Vec<f64>,
}

impl Kernel {
    fn new(k: usize, d: usize) -> Self {
        Self { k, d, c: vec![0.0; k * d], cn: vec![0.0; k], xt: vec![0.0; d * BLOCK] }
    }

    fn set_centres(&mut self, centres: &[f64]) {
        self.c.copy_from_slice(&centres[..self.k * self.d]);
        for (n, c) in self.cn.iter_mut().zip(self.c.chunks_exact(self.d)) {
            *n = c.iter().map(|v| v * v).sum();
        }
    }

    /// Assigns every row; returns whether any label changed and the
    /// (expanded-form) inertia of the assignment. With `acc`, adds each
    /// centred row to `sums[label]` and 1 to `counts[label]`.
    fn assign(&mut self, data: &Data, labels: &mut [u32], acc: Option<(&mut [f64], &mut [f64])>) -> (bool, f64) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA support was just checked.
            return unsafe { self.assign_avx2(data, labels, acc) };
        }
        with_dim!(self.d, D => self.assign_d::<D>(data, labels, acc))
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn assign_avx2(&mut self, data: &Data, labels: &mut [u32], acc: Option<(&mut [f64], &mut [f64])>) -> (bool, f64) {
        with_dim!(self.d, D => self.assign_d::<D>(data, labels, acc))
    }

    #[inline(always)]
    fn assign_d<const D: usize>(
        &mut self,
        data: &Data,
        labels: &mut [u32],
        mut acc: Option<(&mut [f64], &mut [f64])>,
    ) -> (bool, f64) {
        let (k, d) = (self.k, dim::<D>(self.d));
        let c = &self.c[..k * d];
        let cn = &self.cn[..k];
        let xt = &mut self.xt[..d * BLOCK];
        let mean = &data.mean[..d];
        let mut changed = false;
        let mut approx = [0.0f64; BLOCK];
        let x = data.rows();
        for (i, (block, labels)) in x.chunks(BLOCK * d).zip(labels.chunks_mut(BLOCK)).enumerate() {
            prefetch_ahead(x, d, i, BLOCK);
            let m = labels.len();
            for (b, r) in block.chunks_exact(d).enumerate() {
                for f in 0..d {
                    xt[f * BLOCK + b] = r[f] - mean[f];
                }
            }
            if m < BLOCK {
                for f in 0..d {
                    xt[f * BLOCK + m..(f + 1) * BLOCK].fill(0.0);
                }
            }
            // ‖x‖² of the block's rows, across the rows.
            let mut xn = [0.0f64; BLOCK];
            for col in xt.chunks_exact(BLOCK) {
                for b in 0..BLOCK {
                    xn[b] = col[b].mul_add(col[b], xn[b]);
                }
            }
            let mut best_d = [f64::INFINITY; BLOCK];
            let mut best = [0.0f64; BLOCK];
            for (j, (cj, &cnj)) in c.chunks_exact(d).zip(cn).enumerate() {
                let mut dot = [0.0f64; BLOCK];
                for (&v, col) in cj.iter().zip(xt.chunks_exact(BLOCK)) {
                    for b in 0..BLOCK {
                        dot[b] = col[b].mul_add(v, dot[b]);
                    }
                }
                let jf = j as f64;
                for b in 0..BLOCK {
                    let dist = (-2.0f64).mul_add(dot[b], cnj);
                    let better = dist < best_d[b];
                    best_d[b] = if better { dist } else { best_d[b] };
                    best[b] = if better { jf } else { best[b] };
                }
            }
            for b in 0..BLOCK {
                approx[b] += (xn[b] + best_d[b]).max(0.0) * if b < m { 1.0 } else { 0.0 };
            }
            for (b, (label, &jf)) in labels.iter_mut().zip(&best).enumerate() {
                let j = jf as usize;
                changed |= *label != j as u32;
                *label = j as u32;
                if let Some((sums, counts)) = acc.as_mut() {
                    // The row itself (contiguous), not its transposed copy:
                    // the same values, added in a vector or two.
                    let r = &block[b * d..(b + 1) * d];
                    add_centred::<D>(&mut sums[j * d..(j + 1) * d], r, mean, d);
                    counts[j] += 1.0;
                }
            }
        }
        (changed, approx.iter().sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn assignment_ties_go_to_lowest_index() {
        // Row 0.5 is exactly halfway between the centres 0 and 1 (and after
        // centring on the mean 0.5 it is at 0, between ±0.5).
        let x = array![[0.5], [0.0], [1.0]];
        let data = Data::new(x.view()).unwrap();
        let mut kern = Kernel::new(2, 1);
        for (centres, want) in [([0.0 - 0.5, 1.0 - 0.5], 0u32), ([1.0 - 0.5, 0.0 - 0.5], 0)] {
            kern.set_centres(&centres);
            let mut labels = vec![u32::MAX; 3];
            kern.assign(&data, &mut labels, None);
            assert_eq!(labels[0], want);
        }
        // Identical centres: everything goes to centre 0.
        kern.set_centres(&[0.25, 0.25]);
        let mut labels = vec![u32::MAX; 3];
        kern.assign(&data, &mut labels, None);
        assert_eq!(labels, vec![0, 0, 0]);
    }

    fn random_matrix(n: usize, d: usize, seed: u64) -> ndarray::Array2<f64> {
        let mut rng = crate::rng::Xoshiro256StarStar::seed_from_u64(seed);
        ndarray::Array2::from_shape_fn((n, d), |(i, f)| (i % 5) as f64 * (f as f64 + 1.0) + 3.0 * rng.next_f64() - 40.0)
    }

    #[test]
    fn kernel_paths_agree_bit_for_bit() {
        // The dispatched kernel (fixed width, AVX when available) must give the
        // same bits as the portable run-time-width one, including a partial
        // last block (1003 = 62·16 + 11) and a width above the fixed ones.
        for d in [1, 3, 7, 16, 20] {
            let x = random_matrix(1003, d, d as u64);
            let data = Data::new(x.view()).unwrap();
            let k = 6;
            let centres: Vec<f64> = (0..k * d).map(|i| x[[i / d * 7, i % d]] - data.mean[i % d]).collect();
            let mut kern = Kernel::new(k, d);
            kern.set_centres(&centres);
            let (mut l1, mut s1, mut c1) = (vec![u32::MAX; 1003], vec![0.0; k * d], vec![0.0; k]);
            let (ch1, a1) = kern.assign(&data, &mut l1, Some((&mut s1, &mut c1)));
            let (mut l2, mut s2, mut c2) = (vec![u32::MAX; 1003], vec![0.0; k * d], vec![0.0; k]);
            let (ch2, a2) = kern.assign_d::<0>(&data, &mut l2, Some((&mut s2, &mut c2)));
            assert_eq!(l1, l2, "d = {d}");
            assert_eq!((ch1, a1.to_bits()), (ch2, a2.to_bits()), "d = {d}");
            assert_eq!(c1, c2, "d = {d}");
            assert!(s1.iter().zip(&s2).all(|(a, b)| a.to_bits() == b.to_bits()), "d = {d}");
            // And the labels are the true nearest centres.
            for (r, &l) in x.rows().into_iter().zip(&l1) {
                let r: Vec<f64> = r.iter().zip(&data.mean).map(|(v, m)| v - m).collect();
                let dist = |j: usize| crate::kmeans::sq_dist::<0>(&r, &centres[j * d..(j + 1) * d]);
                let best = (0..k).fold(0, |b, j| if dist(j) < dist(b) { j } else { b });
                assert!(dist(l as usize) <= dist(best) * (1.0 + 1e-12) + 1e-12);
            }
        }
    }

    #[test]
    fn relocation_takes_the_farthest_rows() {
        // Centre 1 is far away and gets nothing; row 3 (value 10) is farthest
        // from centre 0, so it becomes centre 1.
        let x = array![[0.0], [1.0], [2.0], [10.0]];
        let fit = lloyd_from(x.view(), array![[1.0], [100.0]].view(), 1, 0.0).unwrap();
        // After one iteration: centre 0 = mean(0, 1, 2), centre 1 = 10.
        assert!((fit.centroids[[0, 0]] - 1.0).abs() < 1e-12, "{}", fit.centroids);
        assert!((fit.centroids[[1, 0]] - 10.0).abs() < 1e-12, "{}", fit.centroids);
        assert_eq!(fit.n_iter, 1);
        // The final re-assignment (not strict convergence) gives consistent labels.
        assert_eq!(fit.labels, vec![0, 0, 0, 1]);
        assert_eq!(fit.cluster_sizes, vec![3, 1]);
    }
}
