//! Properties of `logsieve_train::iforest::fit`: the trees' structure, the
//! random streams, `max_features`, constant columns, duplicate rows, the
//! distribution of the splits; and the plugin's scores of the fitted forest
//! against an independent walk. (Parity with scikit-learn is
//! `iforest_parity.rs`.)

use std::collections::BTreeSet;
use std::time::Instant;

use logsieve_artifact::forest::{Forest, LEAF, Tree, max_depth};
use logsieve_plugin::forest::{CompiledForest, average_path_length};
use logsieve_train::iforest::{IsolationForestParams, MaxSamples, fit};
use logsieve_train::rng::Xoshiro256StarStar;
use ndarray::Array2;

/// `n × d` standard normal values (Box–Muller on xoshiro256**).
fn gaussian(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Xoshiro256StarStar::seed_from_u64(seed);
    Array2::from_shape_fn((n, d), |_| {
        let (u, v) = (1.0 - rng.next_f64(), rng.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    })
}

fn fit_with(x: &Array2<f64>, p: IsolationForestParams) -> Forest {
    fit(x.view(), &p.validate().unwrap()).unwrap()
}

/// The leaf `x` reaches and its depth, walking `tree` by its own rule (left
/// child `i + 1`, right child `right[i]`, `x <= threshold` left).
fn walk(tree: &Tree, x: &[f64]) -> (usize, u32) {
    let (mut i, mut depth) = (0, 0);
    while tree.feature[i] != LEAF {
        i = if x[tree.feature[i] as usize] <= tree.threshold[i] { i + 1 } else { tree.right[i] as usize };
        depth += 1;
    }
    (i, depth)
}

/// Every node's depth, by recursion over the preorder layout.
fn depths(tree: &Tree) -> Vec<u32> {
    fn go(tree: &Tree, i: usize, depth: u32, out: &mut Vec<u32>) {
        out[i] = depth;
        if tree.feature[i] != LEAF {
            go(tree, i + 1, depth + 1, out);
            go(tree, tree.right[i] as usize, depth + 1, out);
        }
    }
    let mut out = vec![u32::MAX; tree.len()];
    go(tree, 0, 0, &mut out);
    out
}

fn split_features(tree: &Tree) -> BTreeSet<u32> {
    tree.feature.iter().copied().filter(|&f| f != LEAF).collect()
}

#[test]
fn structure() {
    let (n, d) = (1000, 5);
    let x = gaussian(n, d, 1);
    for (ms, psi) in [(MaxSamples::Auto, 256u32), (MaxSamples::Count(100), 100), (MaxSamples::Fraction(1.0), 1000)] {
        let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(50).with_max_samples(ms));
        assert_eq!(f.max_samples, psi);
        assert_eq!(f.trees.len(), 50);
        let mut errs = Vec::new();
        f.validate(d, &mut errs);
        assert_eq!(errs, Vec::<String>::new());
        let limit = max_depth(psi);
        let mut deepest = 0;
        for tree in &f.trees {
            let dep = depths(tree);
            // Every node reached once from the root.
            assert!(dep.iter().all(|&k| k != u32::MAX));
            deepest = deepest.max(*dep.iter().max().unwrap());
            assert!(dep.iter().all(|&k| k <= limit));
            assert_eq!(tree.samples[0], psi);
            let mut leaf_rows = 0;
            for (i, &depth) in dep.iter().enumerate() {
                if tree.feature[i] == LEAF {
                    leaf_rows += tree.samples[i];
                    let want = f64::from(depth) + average_path_length(u64::from(tree.samples[i]));
                    assert_eq!(tree.threshold[i], want);
                    // Continuous data: only a leaf at the depth limit holds
                    // more than one row.
                    assert!(tree.samples[i] == 1 || depth == limit, "{} rows at depth {depth}", tree.samples[i]);
                } else {
                    assert_eq!(tree.samples[i], tree.samples[i + 1] + tree.samples[tree.right[i] as usize]);
                }
            }
            assert_eq!(leaf_rows, psi);
            // Every training row ends in a leaf whose value is at least its
            // depth.
            for row in x.rows() {
                let (leaf, depth) = walk(tree, row.as_slice().unwrap());
                assert_eq!(tree.feature[leaf], LEAF);
                assert!(tree.threshold[leaf] >= f64::from(depth));
                assert_eq!(depth, dep[leaf]);
            }
        }
        // Gaussian data: the trees reach the limit.
        assert_eq!(deepest, limit);
    }
}

#[test]
fn deterministic_and_seeded() {
    let x = gaussian(600, 4, 2);
    let p = IsolationForestParams::new().with_n_estimators(30).with_max_features(0.75);
    let a = fit_with(&x, p.clone());
    assert_eq!(a, fit_with(&x, p.clone()));
    let b = fit_with(&x, p.clone().with_random_state(1));
    assert_ne!(a, b);
    // No tree of seed 1 is a tree of seed 0.
    assert!(b.trees.iter().all(|t| !a.trees.contains(t)));
    // Tree t depends only on its own stream: a forest's first trees are a
    // smaller forest's.
    let first = fit_with(&x, p.with_n_estimators(7));
    assert_eq!(first.trees[..], a.trees[..7]);
    // The trees differ from each other.
    let distinct: BTreeSet<String> = a.trees.iter().map(|t| format!("{t:?}")).collect();
    assert_eq!(distinct.len(), a.trees.len());
    // A non-standard layout (a transposed copy viewed back) fits the same.
    let xt = x.t().to_owned();
    let f =
        fit(xt.t(), &IsolationForestParams::new().with_n_estimators(30).with_max_features(0.75).validate().unwrap())
            .unwrap();
    assert_eq!(f, a);
}

#[test]
fn max_features_is_respected() {
    let d = 6;
    let x = gaussian(500, d, 3);
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(300).with_max_features(0.5));
    let mut all = BTreeSet::new();
    let mut subsets = BTreeSet::new();
    for t in &f.trees {
        let s = split_features(t);
        assert!(s.len() <= 3, "{s:?}");
        all.extend(s.iter().copied());
        subsets.insert(s.into_iter().collect::<Vec<_>>());
    }
    assert_eq!(all, (0..d as u32).collect());
    // Every 3-subset of 6 columns (20) shows up across 300 trees.
    assert_eq!(subsets.iter().filter(|s| s.len() == 3).count(), 20);
    // One column per tree at the smallest fraction.
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(100).with_max_features(0.1));
    assert!(f.trees.iter().all(|t| split_features(t).len() == 1));
}

#[test]
fn constant_columns_are_never_split_on() {
    // Columns 1 and 3 constant (3 within scikit-learn's 1e-7), column 4
    // 1 in 2% of the rows (a rare one-hot value), column 5 two values.
    let n = 1000;
    let g = gaussian(n, 2, 4);
    let mut rng = Xoshiro256StarStar::seed_from_u64(9);
    let x = Array2::from_shape_fn((n, 6), |(i, j)| match j {
        0 => g[[i, 0]],
        1 => 7.5,
        2 => g[[i, 1]],
        3 => 1.0 + 5e-8 * rng.next_f64(),
        4 => f64::from(i % 50 == 0),
        _ => f64::from(i % 2 == 0),
    });
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(200));
    let used: BTreeSet<u32> = f.trees.iter().flat_map(split_features).collect();
    assert_eq!(used, [0, 2, 4, 5].into());
    // Splits on a 0/1 column are in [0, 1).
    for t in &f.trees {
        for i in 0..t.len() {
            if t.feature[i] == 4 || t.feature[i] == 5 {
                assert!((0.0..1.0).contains(&t.threshold[i]));
            }
        }
    }
    // All columns constant: every tree is one leaf of ψ rows.
    let x = Array2::from_elem((300, 3), 2.0);
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(5));
    let c = average_path_length(256);
    for t in &f.trees {
        assert_eq!(t, &Tree { feature: vec![LEAF], threshold: vec![c], right: vec![0], samples: vec![256] });
    }
    let s = CompiledForest::new(&f, 3).unwrap().score(&[2.0, 2.0, 2.0]);
    assert_eq!((s.mean_path, s.score), (c, 0.5));
}

#[test]
fn duplicate_rows() {
    // Three distinct rows, 100 copies each: a tree separates them and stops,
    // each leaf holding one row's copies; ψ = 256 of the 300 rows.
    let distinct = [[0.0, 1.0], [0.0, 2.0], [5.0, 1.0]];
    let x = Array2::from_shape_fn((300, 2), |(i, j)| distinct[i % 3][j]);
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(100));
    let mut errs = Vec::new();
    f.validate(2, &mut errs);
    assert_eq!(errs, Vec::<String>::new());
    for t in &f.trees {
        let dep = depths(t);
        let leaves: Vec<usize> = (0..t.len()).filter(|&i| t.feature[i] == LEAF).collect();
        assert_eq!(leaves.len(), 3, "{t:?}");
        for &i in &leaves {
            assert!(t.samples[i] > 50, "{t:?}");
            assert_eq!(t.threshold[i], f64::from(dep[i]) + average_path_length(u64::from(t.samples[i])));
        }
        // Each distinct row reaches its own leaf.
        let reached: BTreeSet<usize> = distinct.iter().map(|r| walk(t, r).0).collect();
        assert_eq!(reached.len(), 3);
    }
    // One row.
    let f = fit_with(&Array2::from_elem((1, 2), 3.0), IsolationForestParams::new().with_n_estimators(3));
    assert_eq!(f.max_samples, 1);
    assert!(f.trees.iter().all(|t| t.feature == [LEAF] && t.threshold == [0.0] && t.samples == [1]));
}

#[test]
fn splits_are_uniform() {
    // Two rows, differing on columns 0, 1, 2, equal on 3. ψ = 2: each tree
    // is one split, on a column uniform among 0, 1, 2, at a threshold
    // uniform in [min, max).
    let x = Array2::from_shape_vec((2, 4), vec![0.0, 0.0, 4.0, 5.0, 1.0, 10.0, -3.0, 5.0]).unwrap();
    let m = 6000;
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(m));
    let (lo, hi) = ([0.0, 0.0, -3.0], [1.0, 10.0, 4.0]);
    let mut counts = [0usize; 3];
    let mut u = vec![Vec::new(); 3];
    for t in &f.trees {
        assert_eq!(t.len(), 3);
        let c = t.feature[0] as usize;
        counts[c] += 1;
        u[c].push((t.threshold[0] - lo[c]) / (hi[c] - lo[c]));
    }
    // 2000 expected per column, σ = sqrt(6000 · 1/3 · 2/3) ≈ 36.5; 5σ.
    for c in counts {
        assert!(c.abs_diff(m / 3) < 183, "{counts:?}");
    }
    // Each column's thresholds: uniform on [0, 1) by the Kolmogorov–Smirnov
    // statistic (the 0.1% critical value is 1.95 / sqrt(n)).
    for v in &mut u {
        assert!(v.iter().all(|t| (0.0..1.0).contains(t)));
        v.sort_by(f64::total_cmp);
        let k = v.len() as f64;
        let ks = v
            .iter()
            .enumerate()
            .map(|(i, &t)| (t - i as f64 / k).abs().max(((i + 1) as f64 / k - t).abs()))
            .fold(0.0, f64::max);
        assert!(ks < 1.95 / k.sqrt(), "KS {ks} over {k} thresholds");
    }
}

#[test]
fn plugin_scores_are_the_mean_leaf_value() {
    let (n, d) = (400, 3);
    let x = gaussian(n, d, 5);
    // 42 trees: ten groups of four walked side by side, then two.
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(42).with_max_samples(MaxSamples::Count(64)));
    let cf = CompiledForest::new(&f, d).unwrap();
    let c = average_path_length(64);
    let probe = gaussian(200, d, 6).mapv(|v| 3.0 * v);
    for row in x.rows().into_iter().chain(probe.rows()) {
        let r = row.as_slice().unwrap();
        let sum: f64 = f.trees.iter().map(|t| t.threshold[walk(t, r).0]).sum();
        let mean = sum / f.trees.len() as f64;
        let s = cf.score(r);
        assert_eq!(s.mean_path, mean);
        assert!((s.score - 2f64.powf(-mean / c)).abs() < 1e-15);
        // The explanation changes nothing in the score, and its shares add
        // up to 1 over the three coordinates.
        let mut shares = [0.0; 3];
        assert_eq!(cf.score_explained(r, &[0..1, 1..2, 2..3], &mut shares), s);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(shares.iter().all(|&v| v >= 0.0));
    }
}

#[test]
fn explanations_point_at_the_unusual_feature() {
    let n = 2000;
    let g = gaussian(n, 4, 7);
    // Column 0 and 3..6 Gaussians; 1..3 the one-hot block of a category
    // whose first value is rare (1% of the rows).
    let x = Array2::from_shape_fn((n, 6), |(i, j)| match j {
        0 => g[[i, 0]],
        1 => f64::from(i % 100 == 0),
        2 => f64::from(i % 100 != 0),
        _ => g[[i, j - 2]],
    });
    let f = fit_with(&x, IsolationForestParams::new().with_n_estimators(200));
    let cf = CompiledForest::new(&f, 6).unwrap();
    let features = [0..1, 1..3, 3..4, 4..5, 5..6];
    let mut shares = [0.0; 5];
    let top = |shares: &[f64]| (0..shares.len()).max_by(|&a, &b| shares[a].total_cmp(&shares[b])).unwrap();
    // An ordinary event: the four Gaussian columns share the isolation,
    // the common category has almost none of it.
    let ordinary = cf.score_explained(&[0.1, 0.0, 1.0, 0.2, -0.2, 0.3], &features, &mut shares);
    assert!(shares.iter().all(|&v| v < 0.35), "{shares:?}");
    assert!(shares[1] < 0.02, "{shares:?}");
    // Ordinary but for column 3, 6 standard deviations out. (Its score is
    // only about 0.5: one column of six, so a split on it is drawn at one
    // node in six; scikit-learn's forest scores it the same.)
    let s = cf.score_explained(&[0.1, 0.0, 1.0, 6.0, -0.2, 0.3], &features, &mut shares);
    assert!(s.score > ordinary.score + 0.05, "{s:?} {ordinary:?}");
    assert_eq!(top(&shares), 2, "{shares:?}");
    assert!(shares[2] > 0.5, "{shares:?}");
    // Ordinary but for the rare category: the one-hot block stands out.
    let s = cf.score_explained(&[0.1, 1.0, 0.0, 0.2, -0.2, 0.3], &features, &mut shares);
    assert!(s.score > ordinary.score + 0.05, "{s:?} {ordinary:?}");
    assert_eq!(top(&shares), 1, "{shares:?}");
    assert!(shares[1] > 0.5, "{shares:?}");
    // Two unusual columns share the credit about evenly.
    cf.score_explained(&[3.0, 0.0, 1.0, 3.0, -0.2, 0.3], &features, &mut shares);
    assert!(shares[0] > 0.3 && shares[2] > 0.3 && (shares[0] - shares[2]).abs() < 0.1, "{shares:?}");
}

/// Fit and scoring times for 200 trees × ψ = 256 on 5000 rows × 20 columns
/// (printed with `--nocapture`; never asserted).
#[test]
fn timing() {
    let (n, d) = (5000, 20);
    let x = gaussian(n, d, 8);
    let p = IsolationForestParams::new().with_n_estimators(200).validate().unwrap();
    let t0 = Instant::now();
    let f = fit(x.view(), &p).unwrap();
    let fit_s = t0.elapsed().as_secs_f64();
    let cf = CompiledForest::new(&f, d).unwrap();
    let nodes: usize = f.trees.iter().map(|t| t.len()).sum();
    let rows: Vec<&[f64]> = x.rows().into_iter().map(|r| r.to_slice().unwrap()).collect();
    let features: Vec<_> = (0..d).map(|j| j..j + 1).collect();
    let mut shares = vec![0.0; d];
    let mut sink = 0.0;
    // The best of 5 passes over the rows: the machine is shared.
    let (mut score_s, mut explain_s) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..5 {
        let t0 = Instant::now();
        for r in &rows {
            sink += cf.score(r).score;
        }
        score_s = score_s.min(t0.elapsed().as_secs_f64());
        let t0 = Instant::now();
        for r in &rows {
            sink += cf.score_explained(r, &features, &mut shares).score + shares[0];
        }
        explain_s = explain_s.min(t0.elapsed().as_secs_f64());
    }
    assert!(sink.is_finite());
    println!(
        "iforest timing: fit {:.1} ms (200 trees, psi 256, {n} x {d}, {:.0} nodes per tree); \
         score {:.2} us/event; score + explanation {:.2} us/event",
        fit_s * 1e3,
        nodes as f64 / 200.0,
        score_s * 1e6 / n as f64,
        explain_s * 1e6 / n as f64
    );
}
