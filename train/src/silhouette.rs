//! # The silhouette coefficient
//!
//! For a row `i` in cluster `A`, with `d` the Euclidean distance:
//!
//! ```text
//!     a(i) = mean of d(i, j) over the other rows j of A      (cohesion)
//!     b(i) = min over clusters B ≠ A of the mean of d(i, j), j in B   (separation)
//!     s(i) = (b(i) − a(i)) / max(a(i), b(i))                 in [−1, 1]
//! ```
//!
//! and the score of a clustering is the mean of `s(i)` over the rows
//! (Rousseeuw 1987). Near 1: rows sit well inside their cluster; near 0: on
//! the border between two; negative: closer to another cluster than to their
//! own. Unlike the inertia, it does not keep improving as k grows, so it is
//! a second opinion next to the elbow of the inertia curve.
//!
//! This follows scikit-learn's `silhouette_score(X, labels,
//! metric="euclidean")` exactly:
//! - only the clusters present among the rows count (a cluster with no row
//!   in the sample is not a candidate for `b`);
//! - a row alone in its cluster gets `s = 0`, and so does a row with
//!   `a = b = 0` (scikit-learn's `nan_to_num`);
//! - it is defined for `2 ≤ number of clusters ≤ rows − 1` only (scikit-learn
//!   raises; [`silhouette_score`] returns `None`).
//!
//! The cost is quadratic in the rows, so, like scikit-learn's `sample_size`,
//! `logsieve train` computes it on a deterministic sample of at most
//! [`DEFAULT_SAMPLE_SIZE`] rows ([`sample_indices`]), the same sample for
//! every k of a sweep.

use ndarray::ArrayView2;

use crate::rng::Xoshiro256StarStar;

/// The default number of rows the silhouette is computed on.
pub const DEFAULT_SAMPLE_SIZE: usize = 10_000;

/// The silhouette of every row; `None` when it is not defined (fewer than
/// two clusters among the rows, or as many clusters as rows).
///
/// # Panics
/// If `labels.len() != x.nrows()`.
pub fn silhouette_samples(x: ArrayView2<f64>, labels: &[u32]) -> Option<Vec<f64>> {
    let n = x.nrows();
    assert_eq!(labels.len(), n, "silhouette: one label per row");
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut count = vec![0u64; k];
    for &l in labels {
        count[l as usize] += 1;
    }
    let present = count.iter().filter(|&&c| c > 0).count();
    if present < 2 || present >= n {
        return None;
    }
    let x = x.as_standard_layout();
    let d = x.ncols();
    let rows = x.as_slice().expect("standard layout is contiguous");
    // sums[i * k + c] = Σ d(i, j) over the rows j of cluster c; each pair is
    // computed once and added to both rows.
    let mut sums = vec![0.0f64; n * k];
    for i in 0..n {
        let xi = &rows[i * d..(i + 1) * d];
        let li = labels[i] as usize;
        for j in i + 1..n {
            let xj = &rows[j * d..(j + 1) * d];
            let dist = xi.iter().zip(xj).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            sums[i * k + labels[j] as usize] += dist;
            sums[j * k + li] += dist;
        }
    }
    let s = (0..n)
        .map(|i| {
            let own = labels[i] as usize;
            if count[own] <= 1 {
                return 0.0;
            }
            let a = sums[i * k + own] / (count[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && count[c] > 0)
                .map(|c| sums[i * k + c] / count[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 { (b - a) / m } else { 0.0 }
        })
        .collect();
    Some(s)
}

/// The mean silhouette coefficient (scikit-learn's `silhouette_score`);
/// `None` when it is not defined (see [`silhouette_samples`]).
pub fn silhouette_score(x: ArrayView2<f64>, labels: &[u32]) -> Option<f64> {
    let s = silhouette_samples(x, labels)?;
    Some(s.iter().sum::<f64>() / s.len() as f64)
}

/// The rows to compute the silhouette on: all of them when there are at
/// most `sample_size`, else `sample_size` rows drawn without replacement
/// (a partial Fisher–Yates shuffle seeded by `random_state`), in increasing
/// order. The same arguments give the same rows.
pub fn sample_indices(n: usize, sample_size: usize, random_state: u64) -> Vec<usize> {
    if n <= sample_size {
        return (0..n).collect();
    }
    let mut rng = Xoshiro256StarStar::seed_from_u64(random_state);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..sample_size {
        let j = i + rng.gen_index(n - i);
        idx.swap(i, j);
    }
    idx.truncate(sample_size);
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn two_pairs_on_a_line() {
        // Rows 0, 1 | 4, 5 on a line. Row 0: a = 1, b = (4 + 5) / 2 = 4.5,
        // s = 3.5 / 4.5; row 1: a = 1, b = (3 + 4) / 2 = 3.5, s = 2.5 / 3.5;
        // rows 2 and 3 mirror them.
        let x = array![[0.0], [1.0], [4.0], [5.0]];
        let s = silhouette_samples(x.view(), &[0, 0, 1, 1]).unwrap();
        let want = [3.5 / 4.5, 2.5 / 3.5, 2.5 / 3.5, 3.5 / 4.5];
        for (a, b) in s.iter().zip(want) {
            assert!(close(*a, b), "{s:?}");
        }
        let mean = (2.0 * 3.5 / 4.5 + 2.0 * 2.5 / 3.5) / 4.0;
        assert!(close(silhouette_score(x.view(), &[0, 0, 1, 1]).unwrap(), mean));
    }

    #[test]
    fn a_bad_split_is_negative() {
        // Row 1 (at 1) is put with the far pair: a = mean(3, 4) = 3.5,
        // b = d(1, 0) = 1, s = (1 - 3.5) / 3.5.
        let x = array![[0.0], [1.0], [4.0], [5.0]];
        let s = silhouette_samples(x.view(), &[0, 1, 1, 1]).unwrap();
        assert!(close(s[1], -2.5 / 3.5), "{s:?}");
        // Row 0 is alone in its cluster: 0, as scikit-learn.
        assert_eq!(s[0], 0.0);
    }

    #[test]
    fn euclidean_in_two_dimensions() {
        // A 3-4-5 triangle: rows 0 and 1 together, row 2 apart (alone: 0).
        // Row 0: a = d(0,1) = 3, b = d(0,2) = 4 -> 1/4. Row 1: a = 3,
        // b = d(1,2) = 5 -> 2/5.
        let x = array![[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]];
        let s = silhouette_samples(x.view(), &[0, 0, 1]).unwrap();
        assert!(close(s[0], 0.25) && close(s[1], 0.4) && s[2] == 0.0, "{s:?}");
    }

    #[test]
    fn absent_labels_do_not_count_and_undefined_cases_are_none() {
        // Labels 0 and 2 only: cluster 1 is empty and no candidate for b.
        let x = array![[0.0], [1.0], [4.0], [5.0]];
        let a = silhouette_score(x.view(), &[0, 0, 2, 2]).unwrap();
        let b = silhouette_score(x.view(), &[0, 0, 1, 1]).unwrap();
        assert!(close(a, b));
        assert_eq!(silhouette_score(x.view(), &[0, 0, 0, 0]), None, "one cluster");
        assert_eq!(silhouette_score(x.view(), &[0, 1, 2, 3]), None, "as many clusters as rows");
        // Identical rows in two clusters: a = b = 0 -> 0.
        let same = Array2::<f64>::zeros((4, 2));
        assert_eq!(silhouette_score(same.view(), &[0, 0, 1, 1]), Some(0.0));
    }

    #[test]
    fn samples_are_deterministic_sorted_and_distinct() {
        assert_eq!(sample_indices(5, 10, 0), vec![0, 1, 2, 3, 4]);
        let a = sample_indices(1000, 100, 7);
        assert_eq!(a, sample_indices(1000, 100, 7));
        assert_eq!(a.len(), 100);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && *a.last().unwrap() < 1000);
        assert_ne!(a, sample_indices(1000, 100, 8));
    }

    /// scikit-learn 1.x `silhouette_score` on the rows of
    /// `tests/fixtures/silhouette/` (written by `make_fixture.py` there).
    #[test]
    fn matches_scikit_learn() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/silhouette/silhouette.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        let cases = parse_fixture(&text);
        assert!(cases.len() >= 3, "the fixture holds {} cases", cases.len());
        for c in cases {
            let x = Array2::from_shape_vec((c.rows.len(), c.rows[0].len()), c.rows.concat()).unwrap();
            let got = silhouette_score(x.view(), &c.labels).unwrap();
            assert!((got - c.score).abs() < 1e-9, "{}: logsieve {got}, scikit-learn {}", c.name, c.score);
            let samples = silhouette_samples(x.view(), &c.labels).unwrap();
            for (i, (a, b)) in samples.iter().zip(&c.samples).enumerate() {
                assert!((a - b).abs() < 1e-9, "{}: row {i}: logsieve {a}, scikit-learn {b}", c.name);
            }
        }
    }

    struct Case {
        name: String,
        rows: Vec<Vec<f64>>,
        labels: Vec<u32>,
        score: f64,
        samples: Vec<f64>,
    }

    /// The fixture's cases (serde_json is a dev-dependency of this crate).
    fn parse_fixture(text: &str) -> Vec<Case> {
        let v: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
        let nums =
            |v: &serde_json::Value| -> Vec<f64> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
        v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Case {
                name: c["name"].as_str().unwrap().to_string(),
                rows: c["x"].as_array().unwrap().iter().map(nums).collect(),
                labels: c["labels"].as_array().unwrap().iter().map(|l| l.as_u64().unwrap() as u32).collect(),
                score: c["score"].as_f64().unwrap(),
                samples: nums(&c["samples"]),
            })
            .collect()
    }
}
