//! Isolation-forest scoring (`kind = "isolation_forest"`): an encoded
//! vector's mean path length over the trees, its anomaly score, and which
//! features isolated it.
//!
//! The semantics are scikit-learn's `IsolationForest`: a tree's path length
//! for `x` is the depth of the leaf `x` reaches plus `c(n)` of that leaf's
//! training rows (the leaf values the artifact stores), `E[h(x)]` their mean
//! over trees, and the anomaly score `s(x) = 2^(−E[h(x)] / c(ψ))`, in
//! `(0, 1]`, higher for more anomalous events. scikit-learn's
//! `score_samples(x)` is `−s(x)`. A forest grown on one row (`c(1) = 0`)
//! scores every event 0.5, as scikit-learn does.
//!
//! Scoring walks the trees of a [`CompiledForest`], the artifact's
//! [`Forest`] laid out once for the walk; it allocates nothing per event.
//! Logarithms and powers come from `libm`, so native and wasm32 builds give
//! the same bits.

use std::ops::Range;

use logsieve_artifact::forest::{Forest, LEAF};

/// The Euler–Mascheroni constant γ (numpy's `np.euler_gamma`).
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// c(n): the average path length of an unsuccessful search in a binary
/// search tree of `n` keys, which is also the expected path length `n`
/// training rows left in one leaf would have added: 0 for `n ≤ 1`, 1 for
/// `n = 2`, else `2 (ln(n − 1) + γ) − 2 (n − 1) / n` (scikit-learn's
/// `_average_path_length`, the same operations in the same order).
pub fn average_path_length(n: u64) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * (libm::log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// The anomaly score `2^(−mean_path / normaliser)` of a mean path length,
/// `normaliser` being c(ψ); 0.5 when `normaliser` is 0 (ψ = 1), where
/// scikit-learn sets the ratio to 1.
pub fn anomaly_score(mean_path: f64, normaliser: f64) -> f64 {
    let ratio = if normaliser != 0.0 { mean_path / normaliser } else { 1.0 };
    libm::exp2(-ratio)
}

/// One event's isolation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IsolationScore {
    /// `E[h(x)]`: the mean over trees of the path length (leaf depth +
    /// c(leaf rows)).
    pub mean_path: f64,
    /// `s(x) = 2^(−E[h(x)] / c(ψ))`, in `(0, 1]`; scikit-learn's
    /// `score_samples` is its negation.
    pub score: f64,
}

/// A node of the walk: 16 bytes, four to a cache line. A leaf is laid out
/// as a split that always goes right, to itself (coordinate 0, threshold
/// NaN, right child itself), so a walk of a fixed number of steps needs no
/// test for leaves and stays on the leaf it reached.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// The coordinate tested (0 on a leaf).
    feature: u32,
    /// The right child, relative to the tree's first node (a leaf: itself).
    right: u32,
    /// The threshold (NaN on a leaf: `x <= NaN` is false).
    threshold: f64,
}

/// The node after `at` (whose node is `n`) for `x`: `at + 1` when
/// `x[feature] <= threshold`, else the right child. A conditional move
/// rather than a branch: the direction is a coin toss the branch predictor
/// cannot learn.
#[inline(always)]
fn step(at: usize, n: Node, x: &[f64]) -> usize {
    std::hint::select_unpredictable(x[n.feature as usize] <= n.threshold, at + 1, n.right as usize)
}

/// Trees walked side by side: their dependent loads overlap.
const LANES: usize = 4;

/// Explanations of vectors up to this wide credit coordinates in an array
/// on the stack; wider ones look each split's feature up in the ranges.
const STACK_COORDINATES: usize = 64;

/// A validated [`Forest`], laid out for scoring: the trees' nodes in one
/// array, 16 bytes each, walked four trees at a time for a fixed number of
/// steps (the depth of the deepest leaf among the four) with conditional
/// moves, no branch per node; the leaves' path lengths and the per-node
/// sample counts (as `log2`, only read for explanations) kept apart, so
/// they cost the walk nothing.
#[derive(Clone, Debug)]
pub struct CompiledForest {
    nodes: Vec<Node>,
    /// A leaf's path length, 0 on a split; aligned with `nodes`.
    leaf_value: Vec<f64>,
    /// Tree `t` is `nodes[starts[t]..starts[t + 1]]`.
    starts: Vec<usize>,
    /// The depth of tree `t`'s deepest leaf.
    depth: Vec<u32>,
    /// `log2(samples)` of each node, aligned with `nodes`.
    log2_samples: Vec<f64>,
    dim: usize,
    max_samples: u32,
    normaliser: f64,
}

impl CompiledForest {
    /// The forest, checked with [`Forest::validate`] against encoded vectors
    /// of `dim` coordinates (its problems are the error), laid out for
    /// scoring. A forest that passed cannot make the walk panic or loop.
    pub fn new(forest: &Forest, dim: usize) -> Result<Self, Vec<String>> {
        let mut errs = Vec::new();
        forest.validate(dim, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        let total: usize = forest.trees.iter().map(|t| t.len()).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut leaf_value = Vec::with_capacity(total);
        let mut log2_samples = Vec::with_capacity(total);
        let mut starts = Vec::with_capacity(forest.trees.len() + 1);
        let mut depth = Vec::with_capacity(forest.trees.len());
        let mut depths = Vec::new();
        for tree in &forest.trees {
            starts.push(nodes.len());
            // Node depths: a split's children are one deeper (preorder, so
            // a node's depth is known before its children's).
            depths.clear();
            depths.resize(tree.len(), 0u32);
            for i in 0..tree.len() {
                let (f, v, r) = (tree.feature[i], tree.threshold[i], tree.right[i]);
                if f == LEAF {
                    nodes.push(Node { feature: 0, right: i as u32, threshold: f64::NAN });
                    leaf_value.push(v);
                } else {
                    depths[i + 1] = depths[i] + 1;
                    depths[r as usize] = depths[i] + 1;
                    nodes.push(Node { feature: f, right: r, threshold: v });
                    leaf_value.push(0.0);
                }
                log2_samples.push(libm::log2(f64::from(tree.samples[i])));
            }
            depth.push(depths.iter().copied().max().unwrap_or(0));
        }
        starts.push(nodes.len());
        Ok(Self {
            nodes,
            leaf_value,
            starts,
            depth,
            log2_samples,
            dim,
            max_samples: forest.max_samples,
            normaliser: average_path_length(u64::from(forest.max_samples)),
        })
    }

    /// The encoded width the forest was checked against.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.starts.len() - 1
    }

    /// ψ, the rows each tree was grown on.
    pub fn max_samples(&self) -> u32 {
        self.max_samples
    }

    /// c(ψ), the path length that scores 0.5.
    pub fn normaliser(&self) -> f64 {
        self.normaliser
    }

    fn finish(&self, sum: f64) -> IsolationScore {
        let mean_path = sum / self.n_trees() as f64;
        IsolationScore { mean_path, score: anomaly_score(mean_path, self.normaliser) }
    }

    /// `x`'s mean path length and anomaly score. `x <= threshold` goes
    /// left; a NaN coordinate goes right at every split on it (the scorer's
    /// encoded vectors are finite).
    ///
    /// # Panics
    /// If `x.len()` is not [`dim`](Self::dim).
    pub fn score(&self, x: &[f64]) -> IsolationScore {
        assert_eq!(x.len(), self.dim, "an encoded vector of the forest's width");
        let (sum, _) = self.walk::<false>(x, &mut |_, _| {});
        self.finish(sum)
    }

    /// Walks every tree for `x`, [`LANES`] trees side by side; returns the
    /// sum of the path lengths, added in tree order (so the same bits
    /// however the trees are grouped), and with `CREDIT` the bits of
    /// isolation credited, each split's also handed to `credit(coordinate,
    /// bits)`. (A walk that reached its leaf steps on the spot and credits
    /// 0 bits.)
    #[inline(always)]
    fn walk<const CREDIT: bool>(&self, x: &[f64], credit: &mut impl FnMut(usize, f64)) -> (f64, f64) {
        let n_trees = self.n_trees();
        let full = n_trees - n_trees % LANES;
        let mut acc = (0.0, 0.0);
        for t in (0..full).step_by(LANES) {
            self.walk_group::<LANES, CREDIT>(t, x, credit, &mut acc);
        }
        for t in full..n_trees {
            self.walk_group::<1, CREDIT>(t, x, credit, &mut acc);
        }
        acc
    }

    /// Trees `t..t + L` of [`walk`](Self::walk), side by side; adds to
    /// `acc` (path lengths, credited bits).
    #[inline(always)]
    fn walk_group<const L: usize, const CREDIT: bool>(
        &self,
        t: usize,
        x: &[f64],
        credit: &mut impl FnMut(usize, f64),
        acc: &mut (f64, f64),
    ) {
        let base: [usize; L] = std::array::from_fn(|k| self.starts[t + k]);
        let steps = self.depth[t..t + L].iter().copied().max().unwrap_or(0);
        let mut at = [0usize; L];
        for _ in 0..steps {
            for (a, &b) in at.iter_mut().zip(&base) {
                let n = self.nodes[b + *a];
                let next = step(*a, n, x);
                if CREDIT {
                    let bits = self.log2_samples[b + *a] - self.log2_samples[b + next];
                    acc.1 += bits;
                    credit(n.feature as usize, bits);
                }
                *a = next;
            }
        }
        for (&a, &b) in at.iter().zip(&base) {
            acc.0 += self.leaf_value[b + a];
        }
    }

    /// [`score`](Self::score), and each feature's share of `x`'s isolation
    /// in `shares` (one entry per feature, overwritten).
    ///
    /// `features[k]` is the range of encoded coordinates of feature `k` (one
    /// coordinate for a numeric feature, its one-hot block for a
    /// categorical one); the ranges must be sorted and disjoint.
    ///
    /// The rule: a split on `x`'s path that sends it from a node holding
    /// `n` training rows to a child holding `m` isolated it by `log2(n / m)`
    /// bits, credited to the coordinate the split tests. Along a path the
    /// credits add up to `log2(ψ / rows of the leaf)`, so every tree in
    /// which `x` ends alone gives the same total, and a split that cuts `x`
    /// off from most of its node counts for more than one that halves it.
    /// The shares are the credits summed over trees and coordinates of each
    /// feature, divided by the credit of all coordinates: they add up to 1
    /// when the ranges cover every coordinate a tree splits on (credit to a
    /// coordinate outside them is nobody's). All 0 when no split is met
    /// (every tree a single leaf).
    ///
    /// # Panics
    /// If `x.len()` is not [`dim`](Self::dim) or `shares.len()` is not
    /// `features.len()`.
    pub fn score_explained(&self, x: &[f64], features: &[Range<usize>], shares: &mut [f64]) -> IsolationScore {
        assert_eq!(x.len(), self.dim, "an encoded vector of the forest's width");
        assert_eq!(shares.len(), features.len(), "one share per feature");
        debug_assert!(features.windows(2).all(|w| w[0].end <= w[1].start), "sorted, disjoint feature ranges");
        shares.fill(0.0);
        let (sum, credited) = if self.dim <= STACK_COORDINATES {
            // Credit per coordinate, then add up each feature's.
            let mut per_coordinate = [0.0; STACK_COORDINATES];
            let walked = self.walk::<true>(x, &mut |c, bits| per_coordinate[c] += bits);
            for (share, r) in shares.iter_mut().zip(features) {
                let end = r.end.min(self.dim);
                *share = per_coordinate[r.start.min(end)..end].iter().sum();
            }
            walked
        } else {
            self.walk::<true>(x, &mut |c, bits| {
                let k = features.partition_point(|r| r.end <= c);
                if k < features.len() && features[k].start <= c {
                    shares[k] += bits;
                }
            })
        };
        if credited > 0.0 {
            for s in shares.iter_mut() {
                *s /= credited;
            }
        }
        self.finish(sum)
    }
}

#[cfg(test)]
mod tests {
    use logsieve_artifact::forest::Tree;

    use super::*;

    fn c(n: u64) -> f64 {
        average_path_length(n)
    }

    /// ψ = 4, two coordinates.
    /// ```text
    /// tree A                              tree B
    /// 0: x[1] <= 0.5 (4 rows)             0: x[0] <= 0.0 (4 rows)
    /// ├─ 1: x[0] <= -1.0 (3 rows)         ├─ 1: leaf, 1 row, depth 1: 1
    /// │  ├─ 2: leaf, 1 row, depth 2: 2    └─ 2: x[1] <= 2.0 (3 rows)
    /// │  └─ 3: leaf, 2 rows, depth 2: 3      ├─ 3: leaf, 2 rows, depth 2: 3
    /// └─ 4: leaf, 1 row, depth 1: 1          └─ 4: leaf, 1 row, depth 2: 2
    /// ```
    fn forest() -> Forest {
        let a = Tree {
            feature: vec![1, 0, LEAF, LEAF, LEAF],
            threshold: vec![0.5, -1.0, 2.0, 3.0, 1.0],
            right: vec![4, 3, 0, 0, 0],
            samples: vec![4, 3, 1, 2, 1],
        };
        let b = Tree {
            feature: vec![0, LEAF, 1, LEAF, LEAF],
            threshold: vec![0.0, 1.0, 2.0, 3.0, 2.0],
            right: vec![2, 0, 4, 0, 0],
            samples: vec![4, 1, 3, 2, 1],
        };
        Forest { max_samples: 4, trees: vec![a, b] }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0), "{a} != {b}");
    }

    #[test]
    fn average_path_length_by_hand() {
        assert_eq!((c(0), c(1), c(2)), (0.0, 0.0, 1.0));
        close(c(3), 2.0 * (2f64.ln() + 0.5772156649015329) - 4.0 / 3.0);
        close(c(4), 2.0 * (3f64.ln() + 0.5772156649015329) - 1.5);
        // Increasing, and about 2 ln n for large n.
        assert!((2..2000).all(|n| c(n + 1) > c(n)));
        assert!((c(1 << 20) - (2.0 * (20.0 * 2f64.ln()) + 2.0 * EULER_GAMMA - 2.0)).abs() < 1e-5);
    }

    #[test]
    fn hand_built_forest_scores() {
        let f = CompiledForest::new(&forest(), 2).unwrap();
        assert_eq!((f.n_trees(), f.dim(), f.max_samples()), (2, 2, 4));
        let c4 = 2.0 * (3f64.ln() + 0.5772156649015329) - 1.5;
        close(f.normaliser(), c4);
        // (-2, 0): A → node 1 → leaf 2 (2); B → leaf 1 (1).
        // (1, 1): A → leaf 4 (1); B → node 2 → leaf 3 (3).
        // (0, 0.5): on both thresholds, so left: A → node 1 → leaf 3 (3);
        //           B → leaf 1 (1).
        // (5, 5): A → leaf 4 (1); B → node 2 → leaf 4 (2).
        for (x, mean) in [([-2.0, 0.0], 1.5), ([1.0, 1.0], 2.0), ([0.0, 0.5], 2.0), ([5.0, 5.0], 1.5)] {
            let s = f.score(&x);
            assert_eq!(s.mean_path, mean, "{x:?}");
            close(s.score, 2f64.powf(-mean / c4));
        }
        // Just past a threshold goes right.
        assert_eq!(f.score(&[0.0, 0.5f64.next_up()]).mean_path, (1.0 + 1.0) / 2.0);
        // NaN goes right.
        assert_eq!(f.score(&[f64::NAN, f64::NAN]).mean_path, (1.0 + 2.0) / 2.0);
    }

    #[test]
    fn hand_built_forest_explains() {
        let f = CompiledForest::new(&forest(), 2).unwrap();
        let mut shares = [f64::NAN; 2];
        // (-2, 0): A's root (x[1]) keeps 3 of 4 rows: log2(4/3) bits to
        // coordinate 1; A's node 1 (x[0]) 1 of 3: log2(3) to coordinate 0;
        // B's root (x[0]) 1 of 4: 2 bits to coordinate 0. 4 bits in all.
        let s = f.score_explained(&[-2.0, 0.0], &[0..1, 1..2], &mut shares);
        assert_eq!(s, f.score(&[-2.0, 0.0]));
        close(shares[0], (3f64.log2() + 2.0) / 4.0);
        close(shares[1], (4f64 / 3.0).log2() / 4.0);
        close(shares[0] + shares[1], 1.0);
        // (1, 1): A's root 1 of 4 (x[1], 2 bits); B's root 3 of 4 (x[0],
        // log2(4/3)), B's node 2 2 of 3 (x[1], log2(3/2)). 3 bits.
        f.score_explained(&[1.0, 1.0], &[0..1, 1..2], &mut shares);
        close(shares[0], (4f64 / 3.0).log2() / 3.0);
        close(shares[1], (2.0 + 1.5f64.log2()) / 3.0);
        // One feature spanning both coordinates (a one-hot block) has it all.
        let mut one = [0.0];
        let block = [Range { start: 0, end: 2 }];
        f.score_explained(&[1.0, 1.0], &block, &mut one);
        close(one[0], 1.0);
        // A coordinate outside every range: its credit is nobody's.
        let second = [Range { start: 1, end: 2 }];
        f.score_explained(&[1.0, 1.0], &second, &mut one);
        close(one[0], (2.0 + 1.5f64.log2()) / 3.0);
        // No features: nothing to fill, the score still comes.
        assert_eq!(f.score_explained(&[1.0, 1.0], &[], &mut []), f.score(&[1.0, 1.0]));
    }

    #[test]
    fn wide_vectors_explain_the_same() {
        // The forest on coordinates 66 and 67 of 70: past the stack array,
        // each split's feature is looked up in the ranges.
        let mut wide = forest();
        for t in &mut wide.trees {
            for f in t.feature.iter_mut().filter(|f| **f != LEAF) {
                *f += 66;
            }
        }
        let (narrow, wide) = (CompiledForest::new(&forest(), 2).unwrap(), CompiledForest::new(&wide, 70).unwrap());
        for p in [[-2.0, 0.0], [1.0, 1.0], [0.0, 0.5], [5.0, 5.0]] {
            let mut x = [0.0; 70];
            x[66..68].copy_from_slice(&p);
            let (mut a, mut b) = ([0.0; 2], [0.0; 3]);
            let sa = narrow.score_explained(&p, &[0..1, 1..2], &mut a);
            let sb = wide.score_explained(&x, &[0..66, 66..67, 67..70], &mut b);
            assert_eq!(sa, sb);
            assert_eq!(b[0], 0.0);
            close(b[1], a[0]);
            close(b[2], a[1]);
        }
    }

    #[test]
    fn single_leaf_trees() {
        // ψ = 1: c(1) = 0, every event 0.5 (scikit-learn's convention).
        let one = Forest {
            max_samples: 1,
            trees: vec![Tree { feature: vec![LEAF], threshold: vec![0.0], right: vec![0], samples: vec![1] }],
        };
        let f = CompiledForest::new(&one, 3).unwrap();
        assert_eq!(f.score(&[1.0, 2.0, 3.0]), IsolationScore { mean_path: 0.0, score: 0.5 });
        // ψ = 3 identical rows: one leaf of path length c(3) = c(ψ): 0.5,
        // and no split to credit.
        let same = Forest {
            max_samples: 3,
            trees: vec![Tree { feature: vec![LEAF], threshold: vec![c(3)], right: vec![0], samples: vec![3] }; 2],
        };
        let f = CompiledForest::new(&same, 2).unwrap();
        let mut shares = [f64::NAN; 2];
        let s = f.score_explained(&[0.0, 0.0], &[0..1, 1..2], &mut shares);
        assert_eq!(s, IsolationScore { mean_path: c(3), score: 0.5 });
        assert_eq!(shares, [0.0, 0.0]);
    }

    #[test]
    fn anomaly_score_bounds() {
        assert_eq!(anomaly_score(0.0, 5.0), 1.0);
        assert_eq!(anomaly_score(5.0, 5.0), 0.5);
        assert_eq!(anomaly_score(10.0, 5.0), 0.25);
        assert_eq!(anomaly_score(0.0, 0.0), 0.5);
    }

    #[test]
    fn an_invalid_forest_is_refused() {
        let mut f = forest();
        f.trees[1].right[2] = 9;
        assert_eq!(CompiledForest::new(&f, 2).unwrap_err(), ["forest.trees[1].right[2]: 9 is out of range (5 nodes)"]);
        // Coordinate 1 is split on: width 1 is too narrow.
        assert_eq!(
            CompiledForest::new(&forest(), 1).unwrap_err(),
            [
                "forest.trees[0].feature[0]: 1 is out of range (1 coordinates)",
                "forest.trees[1].feature[2]: 1 is out of range (1 coordinates)"
            ]
        );
    }

    #[test]
    #[should_panic(expected = "an encoded vector of the forest's width")]
    fn a_vector_of_another_width_panics() {
        CompiledForest::new(&forest(), 2).unwrap().score(&[1.0]);
    }
}
