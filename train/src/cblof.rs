//! `[scoring] method = "cblof"`: which clusters are large, and the model's
//! one threshold (He, Xu & Deng, "Discovering cluster-based local
//! outliers", Pattern Recognition Letters 24, 2003; the rule and names of
//! PyOD's `CBLOF`).
//!
//! Sorted by size (largest first; equal sizes by label), the clusters are
//! cut at the first position `i` (1 ≤ i < k) where both
//! - the first `i` clusters hold at least `alpha` of the rows, and
//! - cluster `i − 1` is at least `beta` times the size of cluster `i`;
//!
//! failing that, at the first position where the `alpha` condition holds,
//! then the first where the `beta` one does (PyOD's order). The clusters
//! before the cut are large. PyOD refuses a clustering with no cut; here
//! every cluster is large then (the scores are the centroid distances).
//! Every cluster under `small_share` (default 5 %) or rare (`share <
//! rare_share`) is small too, so a rare cluster's events are never measured
//! against their own centroid, except that the largest cluster always stays
//! large.

use logsieve_artifact::{Cblof, Cluster, MIN_THRESHOLD, ModelSpec};
use logsieve_plugin::nearest::{LargeClusters, Measure, scored_distance};
use ndarray::Array2;

use crate::model::quantile;

/// Per cluster (in label order), whether it is large: PyOD's cut of the
/// sizes by `alpha` and `beta`, then every cluster flagged in `small` (rare,
/// or under `small_share`) made small, except the largest.
pub fn large_clusters(sizes: &[u64], small: &[bool], alpha: f64, beta: f64) -> Vec<bool> {
    let k = sizes.len();
    let n: u64 = sizes.iter().sum();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut by_alpha = None;
    let mut by_beta = None;
    let mut both = None;
    let mut held = 0u64;
    for i in 1..k {
        held += sizes[order[i - 1]];
        let a = held as f64 >= n as f64 * alpha;
        // numpy divides by a zero size to infinity, which passes any beta.
        let (prev, next) = (sizes[order[i - 1]] as f64, sizes[order[i]] as f64);
        let b = if next == 0.0 { prev > 0.0 } else { prev / next >= beta };
        if a && by_alpha.is_none() {
            by_alpha = Some(i);
        }
        if b && by_beta.is_none() {
            by_beta = Some(i);
        }
        if a && b && both.is_none() {
            both = Some(i);
        }
    }
    let cut = both.or(by_alpha).or(by_beta).unwrap_or(k);
    let mut large = vec![false; k];
    for &c in &order[..cut] {
        large[c] = !small[c];
    }
    if let Some(&first) = order.first() {
        large[first] = true;
    }
    large
}

/// [`large_clusters`] of a spec's clusters: small are the rare ones and
/// those under `small_share`.
pub fn large_of(spec: &ModelSpec, clusters: &[Cluster]) -> Vec<bool> {
    let sizes: Vec<u64> = clusters.iter().map(|c| c.size).collect();
    let small: Vec<bool> = clusters.iter().map(|c| c.rare || c.share < spec.scoring.small_share()).collect();
    large_clusters(&sizes, &small, spec.scoring.alpha(), spec.scoring.beta())
}

/// The cblof state of a fitted clustering: the large clusters, and the
/// threshold — the spec's absolute `scoring.threshold`, or its
/// `threshold_quantile` of the training rows' scored distances (a row of a
/// large cluster: its `distances` entry; of a small one: measured toward
/// the nearest large cluster by the scorer's own rule,
/// [`scored_distance`]).
pub fn fit(
    spec: &ModelSpec,
    clusters: &[Cluster],
    labels: &[u32],
    distances: &[f64],
    x: &Array2<f64>,
    measure: Measure,
) -> Cblof {
    let large = large_of(spec, clusters);
    let threshold = match spec.scoring.threshold {
        Some(t) => t.max(MIN_THRESHOLD),
        None => {
            let dim = x.ncols();
            let flat: Vec<f64> = clusters.iter().flat_map(|c| c.centroid.iter().copied()).collect();
            let to = LargeClusters::new(&large, &flat, dim);
            let mut scored: Vec<f64> = labels
                .iter()
                .zip(distances)
                .zip(x.outer_iter())
                .map(|((&l, &d), row)| {
                    if large[l as usize] {
                        d
                    } else {
                        let row = row.as_slice().expect("encoded rows are contiguous");
                        scored_distance(d, to.nearest(row, measure).1, spec.scoring.bulk_weight())
                    }
                })
                .collect();
            quantile(&mut scored, spec.scoring.threshold_quantile).max(MIN_THRESHOLD)
        }
    };
    Cblof { large, threshold }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(sizes: &[u64], alpha: f64, beta: f64) -> Vec<bool> {
        large_clusters(sizes, &vec![false; sizes.len()], alpha, beta)
    }

    #[test]
    fn pyod_rule_prefers_both_conditions_then_alpha_then_beta() {
        // Sorted 50, 40, 6, 4 (n = 100): alpha 0.9 holds from i = 2 (90);
        // beta 5 holds at i = 2 (40 / 6 = 6.7): cut at 2.
        assert_eq!(cut(&[6, 50, 4, 40], 0.9, 5.0), [false, true, false, true]);
        // Only alpha: 30, 30, 30, 10 — 90 at i = 3; no ratio >= 5.
        assert_eq!(cut(&[30, 30, 30, 10], 0.9, 5.0), [true, true, true, false]);
        // Only beta: 60, 10, 10, 10, 10 with alpha 0.99 never met before the
        // end except at i = 4 (90 < 99); 60 / 10 = 6 >= 5 at i = 1.
        assert_eq!(cut(&[60, 10, 10, 10, 10], 0.99, 5.0), [true, false, false, false, false]);
        // Neither (alpha 1.0 needs all rows; all ratios 1): all large.
        assert_eq!(cut(&[10, 10, 10], 1.0, 5.0), [true, true, true]);
        // One cluster: large.
        assert_eq!(cut(&[7], 0.9, 5.0), [true]);
        // Alpha first met at i = 1 (95 >= 90) but beta not there (95 / 3);
        // both hold nowhere else: alpha's cut.
        assert_eq!(cut(&[95, 3, 2], 0.9, 50.0), [true, false, false]);
    }

    #[test]
    fn equal_sizes_sort_by_label_and_rare_clusters_are_small_but_the_largest_stays() {
        // 45, 45, 10: alpha 0.9 at i = 2 and 45 / 10 >= 4 (beta 4): the
        // first two, whatever their labels.
        assert_eq!(cut(&[10, 45, 45], 0.9, 4.0), [false, true, true]);
        // A rare cluster inside the cut is small.
        assert_eq!(
            large_clusters(&[30, 30, 30, 10], &[false, false, true, false], 0.9, 5.0),
            [true, true, false, false]
        );
        // Every cluster rare: the largest stays large.
        assert_eq!(large_clusters(&[3, 5, 2], &[true, true, true], 0.9, 5.0), [false, true, false]);
    }

    #[test]
    fn empty_clusters_after_a_nonempty_one_pass_beta_as_numpy_does() {
        assert_eq!(cut(&[0, 9, 1], 1.0, 5.0), [false, true, true]);
        // 9 / 1 >= 5 at i = 1 and alpha 0.9 holds at i = 1: cut there.
        assert_eq!(cut(&[0, 9, 1], 0.9, 5.0), [false, true, false]);
    }
}
