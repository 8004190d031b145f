//! Detection quality: how well scores separate labelled positives (attacks)
//! from negatives (benign events), for `logsieve evaluate`.
//!
//! Every function takes the scores and, beside each, whether it is
//! positive; higher scores are meant to be more anomalous. Scores must not
//! be NaN (the functions panic on one: leave such events out first);
//! infinities are ordered as usual.
//!
//! - [`roc_auc`]: scikit-learn's `roc_auc_score` — the ROC curve over the
//!   distinct score values (`roc_curve` with its `drop_intermediate`), then
//!   the trapezoidal rule. Tied scores form one point of the curve, so a tie
//!   between a positive and a negative counts half: the area equals the
//!   Mann–Whitney U statistic divided by positives × negatives. The sums
//!   are numpy's pairwise sums ([`pairwise_sum`]), in numpy's order, so the
//!   value is scikit-learn's to the last bit or close to it.
//! - [`average_precision`]: scikit-learn's `average_precision_score` — the
//!   step-wise sum of precision × the increase in recall at each distinct
//!   score value, highest first; no interpolation.
//! - [`precision_at_k`]: the share of positives among the `k` highest
//!   scores. Ties are broken by input order (the earlier event ranks
//!   higher), so the result is deterministic; with fewer than `k` events,
//!   the share among all of them.
//! - [`rates`]: the true- and false-positive rates of a yes/no flag (the
//!   verdict's `anomaly`, or one of its reasons).
//!
//! Tests: the unit tests below, and `train/tests/metrics_sklearn.rs`, which
//! compares these functions with scikit-learn on the cases
//! `tests/fixtures/evaluate/make.py` writes (many ties, all tied, perfect,
//! inverted, a single positive, …).

use std::cmp::Ordering;

/// Indices of `scores` sorted by score, highest first; equal scores keep
/// their input order (a stable sort). `-0.0` and `0.0` are equal.
fn ranked(scores: &[f64]) -> Vec<usize> {
    assert!(scores.iter().all(|s| !s.is_nan()), "metrics: a score is NaN; leave such events out first");
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(Ordering::Equal));
    idx
}

/// scikit-learn's `confusion_matrix_at_thresholds` (formerly
/// `_binary_clf_curve`): for each distinct score, from the highest, how many
/// negatives (`fps`) and positives (`tps`) score at least that much.
/// Both are whole numbers, held as `f64` as scikit-learn holds them.
pub fn clf_curve(scores: &[f64], positive: &[bool]) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(scores.len(), positive.len(), "metrics: as many labels as scores");
    let idx = ranked(scores);
    let (mut fps, mut tps) = (Vec::new(), Vec::new());
    let mut tp = 0u64;
    for (n, &i) in idx.iter().enumerate() {
        tp += u64::from(positive[i]);
        // The last of a run of equal scores (or of all) is a threshold.
        let last = idx.get(n + 1).is_none_or(|&next| scores[next] != scores[i]);
        if last {
            tps.push(tp as f64);
            fps.push((n as u64 + 1 - tp) as f64);
        }
    }
    (fps, tps)
}

/// numpy's sum of a float64 array (`np.sum`, `np.add.reduce`): pairwise
/// summation — blocks of at most 128 summed with 8 accumulators, halves
/// (cut at a multiple of 8) summed recursively — added to 0.
pub fn pairwise_sum(v: &[f64]) -> f64 {
    fn pw(a: &[f64]) -> f64 {
        let n = a.len();
        if n < 8 {
            let mut res = 0.0;
            for &x in a {
                res += x;
            }
            res
        } else if n <= 128 {
            let mut r = [0.0f64; 8];
            r.copy_from_slice(&a[..8]);
            let mut i = 8;
            while i < n - n % 8 {
                for (j, rj) in r.iter_mut().enumerate() {
                    *rj += a[i + j];
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for &x in &a[i..] {
                res += x;
            }
            res
        } else {
            let mut n2 = n / 2;
            n2 -= n2 % 8;
            pw(&a[..n2]) + pw(&a[n2..])
        }
    }
    0.0 + pw(v)
}

/// The area under the ROC curve, as scikit-learn's `roc_auc_score` gives
/// it; `None` without a positive or without a negative (scikit-learn: NaN
/// and a warning).
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let (mut fps, mut tps) = clf_curve(scores, positive);
    let (n_neg, n_pos) = (*fps.last()?, *tps.last()?);
    if n_neg <= 0.0 || n_pos <= 0.0 {
        return None;
    }
    // roc_curve(drop_intermediate=True): keep the ends and every point
    // where the curve turns (a second difference of fps or tps is not 0).
    if fps.len() > 2 {
        let second = |v: &[f64], i: usize| (v[i + 1] - v[i]) - (v[i] - v[i - 1]);
        let keep: Vec<usize> = (0..fps.len())
            .filter(|&i| i == 0 || i == fps.len() - 1 || second(&fps, i) != 0.0 || second(&tps, i) != 0.0)
            .collect();
        fps = keep.iter().map(|&i| fps[i]).collect();
        tps = keep.iter().map(|&i| tps[i]).collect();
    }
    // The curve starts at (0, 0).
    let fpr: Vec<f64> = std::iter::once(0.0).chain(fps.iter().copied()).map(|f| f / n_neg).collect();
    let tpr: Vec<f64> = std::iter::once(0.0).chain(tps.iter().copied()).map(|t| t / n_pos).collect();
    // auc(): fpr never decreases, so the direction is 1; scipy's
    // trapezoid: sum(dx * (y[1:] + y[:-1]) / 2.0).
    let terms: Vec<f64> = (1..fpr.len()).map(|i| (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2.0).collect();
    Some(pairwise_sum(&terms))
}

/// Average precision, as scikit-learn's `average_precision_score` gives it:
/// Σ (Rₙ − Rₙ₋₁) Pₙ over the distinct scores from the highest, with the
/// precision Pₙ and recall Rₙ of flagging every event scoring at least the
/// n-th; `None` without a positive (without a negative it is 1).
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let (fps, tps) = clf_curve(scores, positive);
    let n_pos = *tps.last()?;
    if n_pos <= 0.0 {
        return None;
    }
    let m = tps.len();
    let precision: Vec<f64> =
        tps.iter().zip(&fps).map(|(&t, &f)| if t + f != 0.0 { t / (t + f) } else { 0.0 }).collect();
    let recall: Vec<f64> = tps.iter().map(|&t| t / n_pos).collect();
    // precision_recall_curve reverses both and appends precision 1, recall
    // 0; AP = -sum(diff(recall) * precision[:-1]), clipped at 0.
    let rev_p = |i: usize| precision[m - 1 - i];
    let rev_r = |i: usize| if i < m { recall[m - 1 - i] } else { 0.0 };
    let terms: Vec<f64> = (0..m).map(|i| (rev_r(i + 1) - rev_r(i)) * rev_p(i)).collect();
    let ap = -pairwise_sum(&terms);
    Some(if ap > 0.0 { ap } else { 0.0 })
}

/// Precision among the `k` highest scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecisionAtK {
    /// The `k` asked for.
    pub k: usize,
    /// Events ranked: `k`, or all of them when there are fewer.
    pub ranked: usize,
    /// Positives among them.
    pub positives: usize,
    /// `positives / ranked`.
    pub precision: f64,
}

/// The share of positives among the `k` highest scores, ties broken by
/// input order (the earlier ranks higher); among all events when there are
/// fewer than `k`. `None` for `k = 0` or no events.
pub fn precision_at_k(scores: &[f64], positive: &[bool], k: usize) -> Option<PrecisionAtK> {
    assert_eq!(scores.len(), positive.len(), "metrics: as many labels as scores");
    let ranked = k.min(scores.len());
    if ranked == 0 {
        return None;
    }
    let positives = ranked_top(scores, ranked).iter().filter(|&&i| positive[i]).count();
    Some(PrecisionAtK { k, ranked, positives, precision: positives as f64 / ranked as f64 })
}

/// The indices of the `k` highest scores, highest first, ties in input
/// order (what [`precision_at_k`] counts).
pub fn ranked_top(scores: &[f64], k: usize) -> Vec<usize> {
    let mut idx = ranked(scores);
    idx.truncate(k);
    idx
}

/// How a yes/no flag fares against the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rates {
    /// Positive events.
    pub positives: u64,
    /// Negative events.
    pub negatives: u64,
    /// Positives flagged.
    pub true_positives: u64,
    /// Negatives flagged.
    pub false_positives: u64,
}

impl Rates {
    /// The true-positive rate (recall): flagged positives / positives.
    pub fn tpr(&self) -> Option<f64> {
        (self.positives > 0).then(|| self.true_positives as f64 / self.positives as f64)
    }

    /// The false-positive rate: flagged negatives / negatives.
    pub fn fpr(&self) -> Option<f64> {
        (self.negatives > 0).then(|| self.false_positives as f64 / self.negatives as f64)
    }

    /// The precision of the flag: flagged positives / flagged events.
    pub fn precision(&self) -> Option<f64> {
        let flagged = self.true_positives + self.false_positives;
        (flagged > 0).then(|| self.true_positives as f64 / flagged as f64)
    }
}

/// Count how often `flagged` is true for positives and for negatives.
pub fn rates(flagged: &[bool], positive: &[bool]) -> Rates {
    assert_eq!(flagged.len(), positive.len(), "metrics: as many labels as flags");
    let mut r = Rates::default();
    for (&f, &p) in flagged.iter().zip(positive) {
        if p {
            r.positives += 1;
            r.true_positives += u64::from(f);
        } else {
            r.negatives += 1;
            r.false_positives += u64::from(f);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Mann–Whitney form of the AUC: over every (positive, negative)
    /// pair, 1 if the positive scores higher, ½ if tied.
    fn auc_by_pairs(s: &[f64], y: &[bool]) -> f64 {
        let (mut sum, mut pairs) = (0.0, 0.0);
        for (i, &yi) in y.iter().enumerate() {
            for (j, &yj) in y.iter().enumerate() {
                if yi && !yj {
                    pairs += 1.0;
                    sum += match s[i].partial_cmp(&s[j]).unwrap() {
                        Ordering::Greater => 1.0,
                        Ordering::Equal => 0.5,
                        Ordering::Less => 0.0,
                    };
                }
            }
        }
        sum / pairs
    }

    /// Average precision by its definition: the mean over positives of the
    /// precision of flagging everything scoring at least as high as it.
    fn ap_by_definition(s: &[f64], y: &[bool]) -> f64 {
        let mut total = 0.0;
        let n_pos = y.iter().filter(|&&p| p).count();
        for (i, _) in y.iter().enumerate().filter(|(_, p)| **p) {
            let at_least: Vec<usize> = (0..s.len()).filter(|&j| s[j] >= s[i]).collect();
            let tp = at_least.iter().filter(|&&j| y[j]).count();
            total += tp as f64 / at_least.len() as f64;
        }
        total / n_pos as f64
    }

    /// A small deterministic stream (SplitMix64) for the random cases.
    fn stream(seed: u64) -> impl FnMut() -> u64 {
        let mut z = seed;
        move || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        }
    }

    #[test]
    fn auc_is_the_mann_whitney_statistic_with_half_credit_for_ties() {
        for seed in 0..40 {
            let mut r = stream(seed);
            let n = 2 + (r() % 60) as usize;
            let levels = 1 + r() % 6; // few levels: many ties
            let s: Vec<f64> = (0..n).map(|_| (r() % levels) as f64 * 0.5).collect();
            let y: Vec<bool> = (0..n).map(|_| r().is_multiple_of(3)).collect();
            let got = roc_auc(&s, &y);
            if y.iter().all(|&p| p) || y.iter().all(|&p| !p) {
                assert_eq!(got, None);
                continue;
            }
            let want = auc_by_pairs(&s, &y);
            assert!((got.unwrap() - want).abs() < 1e-12, "seed {seed}: {got:?} vs {want}");
            let ap = average_precision(&s, &y).unwrap();
            let want = ap_by_definition(&s, &y);
            assert!((ap - want).abs() < 1e-12, "seed {seed}: AP {ap} vs {want}");
        }
    }

    #[test]
    fn the_ends_of_the_range() {
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &y), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &y), Some(0.0));
        assert_eq!(roc_auc(&[3.0; 4], &y), Some(0.5));
        assert_eq!(average_precision(&[0.1, 0.2, 0.8, 0.9], &y), Some(1.0));
        // All tied: the precision of flagging everything.
        assert_eq!(average_precision(&[3.0; 4], &y), Some(0.5));
        // The worst order: positives last, at precision 1/3 then 2/4.
        let ap = average_precision(&[0.9, 0.8, 0.2, 0.1], &y).unwrap();
        assert!((ap - (1.0 / 3.0 + 0.5) / 2.0).abs() < 1e-15, "{ap}");
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(roc_auc(&[1.0, 2.0], &[false, false]), None);
        assert_eq!(average_precision(&[1.0, 2.0], &[false, false]), None);
        assert_eq!(average_precision(&[1.0, 2.0], &[true, true]), Some(1.0));
        assert_eq!(roc_auc(&[], &[]), None);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let y = [true, false];
        assert_eq!(roc_auc(&[-0.0, 0.0], &y), Some(0.5));
        assert_eq!(clf_curve(&[-0.0, 0.0, 1.0], &[true, false, true]), (vec![0.0, 1.0], vec![1.0, 2.0]));
    }

    #[test]
    fn precision_at_k_breaks_ties_by_input_order() {
        let s = [1.0, 5.0, 5.0, 2.0, 5.0];
        let y = [true, false, true, true, true];
        // Ranked: 1 (5.0), 2 (5.0), 4 (5.0), 3 (2.0), 0 (1.0).
        assert_eq!(ranked_top(&s, 5), vec![1, 2, 4, 3, 0]);
        let p = precision_at_k(&s, &y, 2).unwrap();
        assert_eq!((p.ranked, p.positives, p.precision), (2, 1, 0.5));
        let p = precision_at_k(&s, &y, 100).unwrap();
        assert_eq!((p.k, p.ranked, p.positives), (100, 5, 4));
        assert_eq!(precision_at_k(&s, &y, 0), None);
        assert_eq!(precision_at_k(&[], &[], 3), None);
    }

    #[test]
    fn flag_rates() {
        let r = rates(&[true, false, true, true, false], &[true, true, false, false, false]);
        assert_eq!(r, Rates { positives: 2, negatives: 3, true_positives: 1, false_positives: 2 });
        assert_eq!((r.tpr(), r.fpr(), r.precision()), (Some(0.5), Some(2.0 / 3.0), Some(1.0 / 3.0)));
        let none = rates(&[], &[]);
        assert_eq!((none.tpr(), none.fpr(), none.precision()), (None, None, None));
    }

    #[test]
    fn pairwise_sum_is_exact_on_small_integers_and_close_on_the_rest() {
        for n in [0usize, 1, 7, 8, 9, 127, 128, 129, 1000, 4097] {
            let v: Vec<f64> = (0..n).map(|i| (i % 13) as f64).collect();
            let want: f64 = (0..n).map(|i| (i % 13) as f64).sum();
            assert_eq!(pairwise_sum(&v), want, "n {n}");
            let v: Vec<f64> = (0..n).map(|i| 1.0 / (i as f64 + 1.0)).collect();
            let naive: f64 = v.iter().sum();
            assert!((pairwise_sum(&v) - naive).abs() <= 1e-12 * naive.max(1.0), "n {n}");
        }
    }

    #[test]
    #[should_panic(expected = "NaN")]
    fn nan_is_refused() {
        roc_auc(&[f64::NAN, 1.0], &[true, false]);
    }
}
