//! Principal component analysis for the report's 2-D projection.
//!
//! The rows are centred (the mean of each column subtracted) and projected
//! on the two eigenvectors of their covariance matrix `C = Xcᵀ Xc / (n − 1)`
//! with the largest eigenvalues, as scikit-learn's `PCA(n_components=2)`
//! (which gets them from an SVD; the components are the same up to sign,
//! and `explained_variance_` uses the same `n − 1`).
//!
//! The eigenvectors come from subspace (orthogonal) iteration on a block of
//! [`BLOCK`] vectors, `C` applied as `Xcᵀ (Xc V)` so it is never formed,
//! with a Rayleigh–Ritz step (a small Jacobi eigen-solve) each pass. With
//! at most [`BLOCK`] columns the block spans the whole space and the first
//! pass is exact; wider data (one-hot vocabularies, flow2vec vectors)
//! iterate until the residual `‖C u − λ u‖` of both components is below
//! 1e-9 λ₁, at most [`MAX_ITER`] passes.
//!
//! Signs are fixed so that each component's largest coordinate (in absolute
//! value; the first of those equal to it within rounding) is positive.

use ndarray::ArrayView2;

/// Vectors iterated together.
pub const BLOCK: usize = 8;
/// Passes of subspace iteration at most.
pub const MAX_ITER: usize = 500;

/// A fitted 2-D PCA.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Column means of the fitted rows.
    pub mean: Vec<f64>,
    /// The principal axes, unit vectors of the rows' dimension: the first
    /// and the second (the second is all zeros for one-column data).
    pub components: [Vec<f64>; 2],
    /// The variance along each axis (eigenvalues of the covariance).
    pub explained_variance: [f64; 2],
    /// Its share of the total variance (0 when the total is 0).
    pub explained_variance_ratio: [f64; 2],
    /// Passes of subspace iteration it took.
    pub n_iter: usize,
}

impl Pca {
    /// Fit on the rows of `x` (n × d); `None` with fewer than two rows or no
    /// column.
    pub fn fit(x: ArrayView2<f64>) -> Option<Pca> {
        let (n, d) = x.dim();
        if n < 2 || d == 0 {
            return None;
        }
        let mut mean = vec![0.0; d];
        for row in x.outer_iter() {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut mean {
            *m /= n as f64;
        }
        let mut xc = Vec::with_capacity(n * d);
        for row in x.outer_iter() {
            xc.extend(row.iter().zip(&mean).map(|(v, m)| v - m));
        }
        let total: f64 = xc.iter().map(|v| v * v).sum::<f64>() / (n - 1) as f64;
        let p = d.min(BLOCK);
        // C V, column by column (V is d × p, column-major: v[c * d + j]).
        let apply = |v: &[f64]| -> Vec<f64> {
            let mut w = vec![0.0; d * p];
            let mut y = vec![0.0; p];
            for row in xc.chunks_exact(d) {
                for (c, yc) in y.iter_mut().enumerate() {
                    *yc = row.iter().zip(&v[c * d..(c + 1) * d]).map(|(a, b)| a * b).sum();
                }
                for (c, yc) in y.iter().enumerate() {
                    for (wj, a) in w[c * d..(c + 1) * d].iter_mut().zip(row) {
                        *wj += a * yc;
                    }
                }
            }
            for wj in &mut w {
                *wj /= (n - 1) as f64;
            }
            w
        };
        let mut v = start(d, p);
        let mut n_iter = 0;
        let (theta, u) = loop {
            n_iter += 1;
            let w = apply(&v);
            // Rayleigh–Ritz: H = Vᵀ C V, its eigenpairs, Ritz vectors V S.
            let mut h = vec![0.0; p * p];
            for a in 0..p {
                for b in 0..p {
                    h[a * p + b] = dot(&v[a * d..(a + 1) * d], &w[b * d..(b + 1) * d]);
                }
            }
            let (theta, s) = jacobi_eigen(&mut h, p);
            let u = combine(&v, &s, d, p);
            let cu = combine(&w, &s, d, p);
            let scale = theta[0].abs().max(f64::MIN_POSITIVE);
            let residual = (0..p.min(2))
                .map(|c| {
                    let (cu, u) = (&cu[c * d..(c + 1) * d], &u[c * d..(c + 1) * d]);
                    cu.iter().zip(u).map(|(a, b)| (a - theta[c] * b).powi(2)).sum::<f64>().sqrt()
                })
                .fold(0.0, f64::max);
            if p == d || residual <= 1e-9 * scale || theta[0] == 0.0 || n_iter >= MAX_ITER {
                break (theta, u);
            }
            v = cu;
            orthonormalize(&mut v, d, p);
        };
        let mut components = [u[..d].to_vec(), if p > 1 { u[d..2 * d].to_vec() } else { vec![0.0; d] }];
        for c in &mut components {
            // The first coordinate within rounding of the largest.
            let max = c.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let big = c.iter().position(|x| x.abs() >= max * (1.0 - 1e-9)).unwrap_or(0);
            if c[big] < 0.0 {
                c.iter_mut().for_each(|x| *x = -*x);
            }
        }
        let ev = [theta[0].max(0.0), if p > 1 { theta[1].max(0.0) } else { 0.0 }];
        let ratio = if total > 0.0 { [ev[0] / total, ev[1] / total] } else { [0.0, 0.0] };
        Some(Pca { mean, components, explained_variance: ev, explained_variance_ratio: ratio, n_iter })
    }

    /// The coordinates of `row` on the two axes.
    pub fn transform(&self, row: &[f64]) -> [f64; 2] {
        let mut out = [0.0; 2];
        for (o, c) in out.iter_mut().zip(&self.components) {
            *o = row.iter().zip(&self.mean).zip(c).map(|((x, m), w)| (x - m) * w).sum();
        }
        out
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Columns `V S` (both column-major; S is p × p with eigenvectors as columns).
fn combine(v: &[f64], s: &[f64], d: usize, p: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * p];
    for c in 0..p {
        for k in 0..p {
            let f = s[k * p + c];
            if f != 0.0 {
                for (o, x) in out[c * d..(c + 1) * d].iter_mut().zip(&v[k * d..(k + 1) * d]) {
                    *o += f * x;
                }
            }
        }
    }
    out
}

/// The starting block: the identity when it spans everything, else
/// deterministic pseudo-random columns, orthonormalised.
fn start(d: usize, p: usize) -> Vec<f64> {
    let mut v = vec![0.0; d * p];
    if p == d {
        for c in 0..p {
            v[c * d + c] = 1.0;
        }
        return v;
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for x in &mut v {
        *x = unit_random(&mut state);
    }
    orthonormalize(&mut v, d, p);
    v
}

/// SplitMix64 mapped to [-1, 1).
fn unit_random(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Modified Gram–Schmidt, twice; a column that vanishes (rank-deficient
/// data) is replaced by a fresh pseudo-random one.
fn orthonormalize(v: &mut [f64], d: usize, p: usize) {
    let mut state = 0x5151_f00d_u64;
    for c in 0..p {
        for attempt in 0..4 {
            for _ in 0..2 {
                for k in 0..c {
                    let (before, rest) = v.split_at_mut(c * d);
                    let prev = &before[k * d..(k + 1) * d];
                    let col = &mut rest[..d];
                    let r = dot(prev, col);
                    col.iter_mut().zip(prev).for_each(|(x, q)| *x -= r * q);
                }
            }
            let col = &mut v[c * d..(c + 1) * d];
            let norm = dot(col, col).sqrt();
            if norm > 1e-12 || attempt == 3 {
                let norm = norm.max(f64::MIN_POSITIVE);
                col.iter_mut().for_each(|x| *x /= norm);
                break;
            }
            col.iter_mut().for_each(|x| *x = unit_random(&mut state));
        }
    }
}

/// Eigen-decomposition of the symmetric p × p matrix `a` (row-major,
/// destroyed) by cyclic Jacobi rotations: the eigenvalues in decreasing
/// order and the eigenvectors as the columns of a p × p matrix (column c
/// at `s[k * p + c]`, k the row).
fn jacobi_eigen(a: &mut [f64], p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut s = vec![0.0; p * p];
    for i in 0..p {
        s[i * p + i] = 1.0;
    }
    let norm: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..p)
            .flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * p + j].powi(2))
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * norm || norm == 0.0 {
            break;
        }
        for i in 0..p {
            for j in i + 1..p {
                let apq = a[i * p + j];
                if apq.abs() <= f64::MIN_POSITIVE {
                    continue;
                }
                let (app, aqq) = (a[i * p + i], a[j * p + j]);
                let tau = (aqq - app) / (2.0 * apq);
                // signum(0) = 1: a 45° rotation for equal diagonals.
                let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let sn = t * c;
                for k in 0..p {
                    let (aki, akj) = (a[k * p + i], a[k * p + j]);
                    a[k * p + i] = c * aki - sn * akj;
                    a[k * p + j] = sn * aki + c * akj;
                }
                for k in 0..p {
                    let (aik, ajk) = (a[i * p + k], a[j * p + k]);
                    a[i * p + k] = c * aik - sn * ajk;
                    a[j * p + k] = sn * aik + c * ajk;
                }
                for k in 0..p {
                    let (ski, skj) = (s[k * p + i], s[k * p + j]);
                    s[k * p + i] = c * ski - sn * skj;
                    s[k * p + j] = sn * ski + c * skj;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&x, &y| a[y * p + y].total_cmp(&a[x * p + x]));
    let values = order.iter().map(|&i| a[i * p + i]).collect();
    let mut vectors = vec![0.0; p * p];
    for (c, &i) in order.iter().enumerate() {
        for k in 0..p {
            vectors[k * p + c] = s[k * p + i];
        }
    }
    (values, vectors)
}
