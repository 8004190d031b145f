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

/// How a centroid model (not flow2vec) measures distance.
#[derive(Debug, Clone, Copy)]
pub enum Measure<'a> {
    /// k-means: Euclidean.
    Euclidean,
    /// k-modes / k-prototypes: the mixed cost ([`mixed`]).
    Mixed {
        /// Per coordinate: is it a categorical code?
        categorical: &'a [bool],
        /// The weight of a mismatch (1 for k-modes).
        gamma: f64,
    },
}

impl Measure<'_> {
    /// The nearest centroid and the value compared: the squared distance
    /// (Euclidean) or the cost.
    #[inline]
    pub fn nearest(&self, x: &[f64], centroids: &[f64]) -> (usize, f64) {
        match *self {
            Measure::Euclidean => euclidean(x, centroids),
            Measure::Mixed { categorical, gamma } => mixed(x, centroids, categorical, gamma),
        }
    }

    /// The distance a compared value reports: its square root (Euclidean)
    /// or the cost itself.
    #[inline]
    pub fn distance(&self, compared: f64) -> f64 {
        match self {
            Measure::Euclidean => compared.sqrt(),
            Measure::Mixed { .. } => compared,
        }
    }
}

/// The large clusters of a `[scoring] method = "cblof"` model: where an
/// event of a small cluster is measured. Training measures its rows with it
/// to learn the threshold; the scorer measures events.
#[derive(Debug, Clone, Default)]
pub struct LargeClusters {
    /// Their labels, increasing.
    labels: Vec<usize>,
    /// Their centroids, row-major.
    centroids: Vec<f64>,
}

impl LargeClusters {
    /// The clusters flagged in `large` (one flag per cluster), from the
    /// model's centroids (row-major, `dim` wide).
    pub fn new(large: &[bool], centroids: &[f64], dim: usize) -> LargeClusters {
        let labels: Vec<usize> = large.iter().enumerate().filter(|(_, l)| **l).map(|(c, _)| c).collect();
        let centroids = labels.iter().flat_map(|&c| centroids[c * dim..(c + 1) * dim].iter().copied()).collect();
        LargeClusters { labels, centroids }
    }

    /// The nearest large cluster to `x` (ties to the lowest label) and its
    /// distance, measured as `measure` reports it.
    pub fn nearest(&self, x: &[f64], measure: Measure) -> (usize, f64) {
        let (i, compared) = measure.nearest(x, &self.centroids);
        (self.labels[i], measure.distance(compared))
    }
}

/// cblof: the scored distance of an event of a small cluster, at `own` from
/// its centroid and `bulk` from the nearest large cluster's: `own +
/// bulk_weight × (bulk − own)`.
#[inline]
pub fn scored_distance(own: f64, bulk: f64, bulk_weight: f64) -> f64 {
    own + bulk_weight * (bulk - own)
}
