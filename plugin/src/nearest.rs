//! Where an event's distance to the centroids is measured: the nearest
//! centroid of every model kind, ties going to the lowest index. The scorer
//! scores with these and the trainers label their rows with them, so a
//! training row and the same event scored later meet the same centroid.
//! (The fitting loops — Lloyd's assignment step, k-modes passes — have
//! their own vectorised kernels, checked against these by their tests.)

use logsieve_artifact::VectorMetric;

/// The nearest of the centroids (row-major, `x.len()` wide) to `x` (ties to
/// the lowest index) and its squared distance, `Σ (x − c)²` summed in
/// coordinate order. For widths up to 16 the loop over coordinates is
/// unrolled at compile time: in the component every loop costs an
/// interruption check each time round.
#[inline]
pub fn euclidean(x: &[f64], centroids: &[f64]) -> (usize, f64) {
    macro_rules! widths {
        ($($w:literal)*) => {
            match x.len() {
                $($w => nearest_w::<$w>(x, centroids),)*
                _ => nearest_w::<0>(x, centroids),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

#[inline(always)]
fn nearest_w<const W: usize>(x: &[f64], centroids: &[f64]) -> (usize, f64) {
    let w = if W == 0 { x.len() } else { W };
    let (mut best, mut best_d) = (0usize, f64::INFINITY);
    if w == 0 {
        return (0, if centroids.is_empty() { f64::INFINITY } else { 0.0 });
    }
    let x = &x[..w];
    for (c, centroid) in centroids.chunks_exact(w).enumerate() {
        let mut d = 0.0;
        for j in 0..w {
            d += (x[j] - centroid[j]) * (x[j] - centroid[j]);
        }
        if d < best_d {
            best = c;
            best_d = d;
        }
    }
    (best, best_d)
}

/// The nearest centroid by k-prototypes' cost: squared distance on the
/// numeric coordinates plus `gamma` per categorical mismatch; ties go to the
/// lowest index.
#[inline(never)]
pub fn mixed(x: &[f64], centroids: &[f64], categorical: &[bool], gamma: f64) -> (usize, f64) {
    let (mut best, mut best_d) = (0usize, f64::INFINITY);
    for (c, centroid) in centroids.chunks_exact(x.len().max(1)).enumerate() {
        let (mut num, mut mismatches) = (0.0, 0u32);
        for ((a, b), &cat) in x.iter().zip(centroid).zip(categorical) {
            if cat {
                mismatches += u32::from(a != b);
            } else {
                num += (a - b) * (a - b);
            }
        }
        let d = num + gamma * f64::from(mismatches);
        if d < best_d {
            best = c;
            best_d = d;
        }
    }
    (best, best_d)
}

/// The nearest of `centroids` (k × dim, row-major; unit-length for cosine)
/// to `v` and the distance: Euclidean, or 1 − cosine (`v` is normalised
/// here). Ties go to the lowest index.
pub fn vector(v: &[f64], centroids: &[f64], metric: VectorMetric) -> (usize, f64) {
    let dim = v.len().max(1);
    match metric {
        VectorMetric::Euclidean => {
            let (best, best_d2) = euclidean(&v[..dim.min(v.len())], centroids);
            (best, best_d2.sqrt())
        }
        VectorMetric::Cosine => {
            let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            let n = if n > 0.0 { n } else { 1.0 };
            let (mut best, mut best_cos) = (0, f64::NEG_INFINITY);
            for (c, cen) in centroids.chunks_exact(dim).enumerate() {
                let cos: f64 = v.iter().zip(cen).map(|(a, b)| a / n * b).sum();
                if cos > best_cos {
                    best = c;
                    best_cos = cos;
                }
            }
            (best, (1.0 - best_cos).max(0.0))
        }
    }
}
