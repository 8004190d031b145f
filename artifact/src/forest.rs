//! A fitted isolation forest as the artifact stores it (`kind =
//! "isolation_forest"`), and the rules it must follow
//! ([`Forest::validate`]).
//!
//! # Layout
//!
//! Each [`Tree`] is four parallel arrays, one entry per node, the nodes in
//! preorder (a node, then its whole left subtree, then its right subtree):
//!
//! - `feature[i]`: the encoded coordinate node `i` splits on, or [`LEAF`];
//! - `threshold[i]`: a split's threshold (`x[feature] <= threshold` goes
//!   left), or a leaf's path length `depth + c(samples)` (the depth counted
//!   from the root at 0, `c` the average path length of an unsuccessful
//!   search in a binary search tree of `samples` keys, scikit-learn's
//!   `_average_path_length`), precomputed by training so that scoring only
//!   adds it up;
//! - `right[i]`: a split's right child (its left child is always `i + 1`);
//!   0 on a leaf;
//! - `samples[i]`: the training rows (of the tree's subsample) that reached
//!   node `i`: the root has [`Forest::max_samples`], a split the sum of its
//!   children's. Scoring does not need them; they say how much each split
//!   isolated a point, which is what the plugin's explanation credits, and
//!   they let [`Forest::validate`] check the leaf values.
//!
//! Parallel arrays rather than a struct per node: MessagePack writes a
//! struct's field names (`to_vec_named`) for every node, the arrays once.

use serde::{Deserialize, Serialize};

/// `feature[i]` of a leaf.
pub const LEAF: u32 = u32::MAX;

/// The most problems [`Forest::validate`] lists one by one (a corrupted file
/// can have one in every tree); the rest are counted in a last line.
const MAX_LISTED: usize = 20;

/// Relative tolerance of the leaf values against `depth + c(samples)`
/// (another program, or another `ln`, may have computed them).
const LEAF_TOL: f64 = 1e-9;

/// An isolation forest: the trees and the subsample size they were grown
/// on. An event's anomaly score is `2^(−E[h] / c(max_samples))`, `E[h]`
/// the mean over trees of the leaf value it reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// ψ: the rows each tree was grown on (the subsample size actually used,
    /// after `max_samples` was resolved against the training rows).
    pub max_samples: u32,
    /// The trees, at least one.
    pub trees: Vec<Tree>,
}

/// What an isolation-forest model learned: its trees and the anomaly score
/// above which an event is flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Isolation {
    /// The trees.
    pub forest: Forest,
    /// The anomaly score beyond which an event is `far_from_centroid`
    /// (`score` = anomaly score / threshold): the spec's absolute
    /// `scoring.threshold`, or its `threshold_quantile` of the training
    /// rows' anomaly scores. In (0, 1].
    pub threshold: f64,
}

/// One isolation tree, nodes in preorder (see the [module](self) docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The coordinate each split tests, [`LEAF`] on a leaf.
    pub feature: Vec<u32>,
    /// A split's threshold, or a leaf's path length `depth + c(samples)`.
    pub threshold: Vec<f64>,
    /// A split's right child (the left child is the next node); 0 on a leaf.
    pub right: Vec<u32>,
    /// The training rows that reached each node.
    pub samples: Vec<u32>,
}

impl Tree {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.feature.len()
    }

    /// Whether the tree has no node (never in a valid forest).
    pub fn is_empty(&self) -> bool {
        self.feature.is_empty()
    }
}

/// The depth limit of trees grown on `max_samples` rows:
/// `ceil(log2(max(max_samples, 2)))`, as scikit-learn's `IsolationForest`
/// sets it (the root is at depth 0, so a leaf's depth is at most this).
pub fn max_depth(max_samples: u32) -> u32 {
    let m = max_samples.max(2);
    u32::BITS - (m - 1).leading_zeros()
}

/// c(n) for the leaf check, with the platform's `ln` (the plugin computes
/// the scoring normaliser with its own, portable one).
fn average_path_length(n: u32) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = f64::from(n);
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

impl Forest {
    /// Appends to `errs` every reason this forest cannot be scored on
    /// encoded vectors of `dim` coordinates: anything that would make
    /// scoring panic, loop or read out of bounds, and anything a forest grown
    /// on `max_samples` rows cannot be (a deeper tree, more nodes, sample
    /// counts that do not add up, leaf values other than `depth +
    /// c(samples)`). Each tree is reported at its first problem
    /// (`forest.trees[3].right[7]: 12 is out of range (9 nodes)`); after
    /// 20 problems the rest are counted.
    ///
    /// A forest that passes has, in every tree, nodes laid out in exact
    /// preorder: each node is reached from the root exactly once, a split's
    /// children come after it (so a walk from the root ends at a leaf in at
    /// most [`max_depth`] steps), split coordinates are `< dim` and
    /// thresholds and leaf values finite.
    pub fn validate(&self, dim: usize, errs: &mut Vec<String>) {
        if self.max_samples == 0 {
            errs.push("forest.max_samples: 0; a tree is grown on at least 1 row".to_string());
            return;
        }
        if self.trees.is_empty() {
            errs.push("forest.trees: empty; a forest needs at least one tree".to_string());
            return;
        }
        let mut problems = 0usize;
        for (t, tree) in self.trees.iter().enumerate() {
            if let Err(e) = check_tree(tree, self.max_samples, dim) {
                problems += 1;
                if problems <= MAX_LISTED {
                    errs.push(format!("forest.trees[{t}]{e}"));
                }
            }
        }
        if problems > MAX_LISTED {
            errs.push(format!("forest.trees: {} more trees have problems", problems - MAX_LISTED));
        }
    }
}

/// The first problem of one tree, as the rest of its message after
/// `forest.trees[t]`.
fn check_tree(tree: &Tree, psi: u32, dim: usize) -> Result<(), String> {
    let n = tree.feature.len();
    if tree.threshold.len() != n || tree.right.len() != n || tree.samples.len() != n {
        return Err(format!(
            ": {n} features, {} thresholds, {} right, {} samples; the four arrays need one entry per node",
            tree.threshold.len(),
            tree.right.len(),
            tree.samples.len()
        ));
    }
    if n == 0 {
        return Err(": no nodes; a tree has at least its root".to_string());
    }
    // Every leaf holds at least one of the ψ rows, so a tree has at most ψ
    // leaves and 2ψ − 1 nodes.
    let most = 2 * u64::from(psi) - 1;
    if n as u64 > most {
        return Err(format!(": {n} nodes, but a tree grown on max_samples = {psi} rows has at most {most}"));
    }
    if tree.samples[0] != psi {
        return Err(format!(".samples[0]: {}, but the root holds all max_samples = {psi} rows", tree.samples[0]));
    }
    let limit = max_depth(psi);
    // Depth-first in preorder: (node, its depth, the end of its subtree's
    // range of nodes). A node's subtree is nodes `i..end`; a split's left
    // subtree is `i + 1..right`, its right subtree `right..end`.
    let mut stack = [(0usize, 0u32, 0usize); 34];
    stack[0] = (0, 0, n);
    let mut top = 1;
    let mut expected = 0usize;
    while top > 0 {
        top -= 1;
        let (i, depth, end) = stack[top];
        // Preorder: the nodes come in the order the walk meets them.
        debug_assert_eq!(i, expected);
        expected = i + 1;
        let (f, v, r, s) = (tree.feature[i], tree.threshold[i], tree.right[i], tree.samples[i]);
        if f == LEAF {
            if end != i + 1 {
                return Err(format!(": nodes {}..{end} are unreachable (node {i} is a leaf)", i + 1));
            }
            if r != 0 {
                return Err(format!(".right[{i}]: {r} on a leaf (must be 0)"));
            }
            if s == 0 {
                return Err(format!(".samples[{i}]: 0; a leaf holds at least one training row"));
            }
            let want = f64::from(depth) + average_path_length(s);
            if !(v.is_finite() && (v - want).abs() <= LEAF_TOL * want.max(1.0)) {
                return Err(format!(
                    ".threshold[{i}]: {v}, but a leaf at depth {depth} with samples {s} has path length {want}"
                ));
            }
            continue;
        }
        if f as usize >= dim {
            return Err(format!(".feature[{i}]: {f} is out of range ({dim} coordinates)"));
        }
        if !v.is_finite() {
            return Err(format!(".threshold[{i}]: {v} is not finite"));
        }
        let r = r as usize;
        if r >= n {
            return Err(format!(".right[{i}]: {r} is out of range ({n} nodes)"));
        }
        if r <= i + 1 {
            return Err(format!(".right[{i}]: {r} is not after its left child (node {})", i + 1));
        }
        if r >= end {
            return Err(format!(".right[{i}]: {r} is outside node {i}'s subtree (nodes {i}..{end})"));
        }
        if depth >= limit {
            return Err(format!(
                ": node {i} splits at depth {depth}, but trees grown on max_samples = {psi} rows stop at depth {limit}"
            ));
        }
        let (sl, sr) = (tree.samples[i + 1], tree.samples[r]);
        if u64::from(sl) + u64::from(sr) != u64::from(s) {
            return Err(format!(
                ".samples[{i}]: {s}, but its children hold {sl} + {sr} rows (nodes {} and {r})",
                i + 1
            ));
        }
        // Right first, so the left subtree is walked next (preorder). The
        // depth check above bounds the stack: at most one pending right
        // child per level, plus the node itself.
        stack[top] = (r, depth + 1, end);
        stack[top + 1] = (i + 1, depth + 1, r);
        top += 2;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// c(n), written out for the hand-made trees below.
    fn c(n: u32) -> f64 {
        average_path_length(n)
    }

    /// A valid tree on ψ = 4 rows, dim 3:
    /// ```text
    /// 0: x[1] <= 0.5 (4 rows)
    /// ├─ 1: x[0] <= -1.0 (3 rows)
    /// │  ├─ 2: leaf, 1 row, depth 2
    /// │  └─ 3: leaf, 2 rows, depth 2
    /// └─ 4: leaf, 1 row, depth 1
    /// ```
    fn tree() -> Tree {
        Tree {
            feature: vec![1, 0, LEAF, LEAF, LEAF],
            threshold: vec![0.5, -1.0, 2.0 + c(1), 2.0 + c(2), 1.0 + c(1)],
            right: vec![4, 3, 0, 0, 0],
            samples: vec![4, 3, 1, 2, 1],
        }
    }

    /// A second valid tree on ψ = 4 rows: the root a leaf of 4 identical rows.
    fn stump() -> Tree {
        Tree { feature: vec![LEAF], threshold: vec![c(4)], right: vec![0], samples: vec![4] }
    }

    fn forest() -> Forest {
        Forest { max_samples: 4, trees: vec![tree(), stump()] }
    }

    fn problems(f: &Forest, dim: usize) -> Vec<String> {
        let mut errs = Vec::new();
        f.validate(dim, &mut errs);
        errs
    }

    /// The forest with tree 0 changed by `edit`: its one problem.
    fn problem_of(edit: impl FnOnce(&mut Tree)) -> String {
        let mut f = forest();
        edit(&mut f.trees[0]);
        let errs = problems(&f, 3);
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs[0].clone()
    }

    #[test]
    fn max_depth_is_ceil_log2() {
        let want = |m: u32| (f64::from(m.max(2))).log2().ceil() as u32;
        for m in (1..5000).chain([65535, 65536, 65537, u32::MAX / 2, u32::MAX / 2 + 2, u32::MAX]) {
            assert_eq!(max_depth(m), want(m), "max_samples {m}");
        }
        assert_eq!((max_depth(1), max_depth(2), max_depth(3), max_depth(256), max_depth(257)), (1, 1, 2, 8, 9));
    }

    #[test]
    fn a_valid_forest_passes() {
        assert_eq!(problems(&forest(), 3), Vec::<String>::new());
        // The coordinates used are 0 and 1: dim 2 is enough.
        assert_eq!(problems(&forest(), 2), Vec::<String>::new());
        // A single row: one leaf of path length 0.
        let one = Forest {
            max_samples: 1,
            trees: vec![Tree { feature: vec![LEAF], threshold: vec![0.0], right: vec![0], samples: vec![1] }],
        };
        assert_eq!(problems(&one, 0), Vec::<String>::new());
    }

    #[test]
    fn forest_level_problems() {
        let f = Forest { max_samples: 0, ..forest() };
        assert_eq!(problems(&f, 3), ["forest.max_samples: 0; a tree is grown on at least 1 row"]);
        let f = Forest { trees: vec![], ..forest() };
        assert_eq!(problems(&f, 3), ["forest.trees: empty; a forest needs at least one tree"]);
        // Tree 1 (the stump) holds 4 rows, not 5; tree 0 too.
        let f = Forest { max_samples: 5, ..forest() };
        assert_eq!(
            problems(&f, 3),
            [
                "forest.trees[0].samples[0]: 4, but the root holds all max_samples = 5 rows",
                "forest.trees[1].samples[0]: 4, but the root holds all max_samples = 5 rows"
            ]
        );
    }

    #[test]
    fn each_corruption_is_refused_with_its_message() {
        type Edit = Box<dyn FnOnce(&mut Tree)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|t| t.right.pop().map(drop).unwrap()),
                "forest.trees[0]: 5 features, 5 thresholds, 4 right, 5 samples; the four arrays need one entry per node",
            ),
            (
                Box::new(|t| *t = Tree { feature: vec![], threshold: vec![], right: vec![], samples: vec![] }),
                "forest.trees[0]: no nodes; a tree has at least its root",
            ),
            (
                Box::new(|t| {
                    for _ in 0..3 {
                        t.feature.push(LEAF);
                        t.threshold.push(0.0);
                        t.right.push(0);
                        t.samples.push(1);
                    }
                }),
                "forest.trees[0]: 8 nodes, but a tree grown on max_samples = 4 rows has at most 7",
            ),
            (Box::new(|t| t.feature[1] = 3), "forest.trees[0].feature[1]: 3 is out of range (3 coordinates)"),
            (Box::new(|t| t.feature[0] = 7), "forest.trees[0].feature[0]: 7 is out of range (3 coordinates)"),
            (Box::new(|t| t.threshold[1] = f64::NAN), "forest.trees[0].threshold[1]: NaN is not finite"),
            (Box::new(|t| t.threshold[0] = f64::INFINITY), "forest.trees[0].threshold[0]: inf is not finite"),
            (Box::new(|t| t.right[0] = 12), "forest.trees[0].right[0]: 12 is out of range (5 nodes)"),
            (Box::new(|t| t.right[0] = u32::MAX), "forest.trees[0].right[0]: 4294967295 is out of range (5 nodes)"),
            (Box::new(|t| t.right[0] = 1), "forest.trees[0].right[0]: 1 is not after its left child (node 1)"),
            (Box::new(|t| t.right[0] = 0), "forest.trees[0].right[0]: 0 is not after its left child (node 1)"),
            (Box::new(|t| t.right[1] = 4), "forest.trees[0].right[1]: 4 is outside node 1's subtree (nodes 1..4)"),
            // The root's right child moved into its left subtree: node 1's
            // right child is then outside the range left to it.
            (
                Box::new(|t| {
                    t.right[0] = 3;
                    t.samples[3] = 1;
                }),
                "forest.trees[0].right[1]: 3 is outside node 1's subtree (nodes 1..3)",
            ),
            (Box::new(|t| t.right[2] = 1), "forest.trees[0].right[2]: 1 on a leaf (must be 0)"),
            // Node 1 a leaf: nodes 2 and 3 are never reached.
            (
                Box::new(|t| {
                    t.feature[1] = LEAF;
                    t.right[1] = 0;
                }),
                "forest.trees[0]: nodes 2..4 are unreachable (node 1 is a leaf)",
            ),
            // The root a leaf: the other nodes are never reached.
            (
                Box::new(|t| {
                    t.feature[0] = LEAF;
                    t.right[0] = 0;
                }),
                "forest.trees[0]: nodes 1..5 are unreachable (node 0 is a leaf)",
            ),
            (
                Box::new(|t| t.samples[0] = 3),
                "forest.trees[0].samples[0]: 3, but the root holds all max_samples = 4 rows",
            ),
            (
                Box::new(|t| t.samples[3] = 1),
                "forest.trees[0].samples[1]: 3, but its children hold 1 + 1 rows (nodes 2 and 3)",
            ),
            (
                Box::new(|t| {
                    t.samples[2] = 0;
                    t.samples[3] = 3;
                }),
                "forest.trees[0].samples[2]: 0; a leaf holds at least one training row",
            ),
            (
                Box::new(|t| t.threshold[3] = 2.5),
                "forest.trees[0].threshold[3]: 2.5, but a leaf at depth 2 with samples 2 has path length 3",
            ),
            (
                Box::new(|t| t.threshold[4] = f64::NAN),
                "forest.trees[0].threshold[4]: NaN, but a leaf at depth 1 with samples 1 has path length 1",
            ),
            (
                Box::new(|t| t.threshold[2] = 2.0 + 1e-6),
                "forest.trees[0].threshold[2]: 2.000001, but a leaf at depth 2 with samples 1 has path length 2",
            ),
        ];
        for (edit, want) in cases {
            assert_eq!(problem_of(edit), want);
        }
    }

    #[test]
    fn a_tree_deeper_than_max_samples_allows_is_refused() {
        // ψ = 4 allows depth 2 and 7 nodes; a chain of splits at depths 0,
        // 1, 2 has 7 nodes, sample counts that add up, but a leaf at depth 3.
        let t = Tree {
            feature: vec![0, 0, 0, LEAF, LEAF, LEAF, LEAF],
            threshold: vec![0.0, -1.0, -2.0, 3.0, 3.0, 2.0, 1.0],
            right: vec![6, 5, 4, 0, 0, 0, 0],
            samples: vec![4, 3, 2, 1, 1, 1, 1],
        };
        let f = Forest { max_samples: 4, trees: vec![t] };
        assert_eq!(
            problems(&f, 1),
            ["forest.trees[0]: node 2 splits at depth 2, but trees grown on max_samples = 4 rows stop at depth 2"]
        );
    }

    #[test]
    fn many_broken_trees_are_counted_not_listed() {
        let mut f = forest();
        let mut bad = tree();
        bad.feature[0] = 9;
        f.trees = vec![bad; 25];
        let errs = problems(&f, 3);
        assert_eq!(errs.len(), MAX_LISTED + 1);
        assert_eq!(errs[0], "forest.trees[0].feature[0]: 9 is out of range (3 coordinates)");
        assert_eq!(errs[19], "forest.trees[19].feature[0]: 9 is out of range (3 coordinates)");
        assert_eq!(errs[20], "forest.trees: 5 more trees have problems");
    }

    #[test]
    fn messagepack_round_trip() {
        let f = forest();
        let bytes = rmp_serde::to_vec_named(&f).unwrap();
        let back: Forest = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, f);
        // Bit-exact values (leaf values are irrational).
        for (a, b) in back.trees[0].threshold.iter().zip(&f.trees[0].threshold) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(rmp_serde::to_vec_named(&back).unwrap(), bytes);
        // Field names once per tree, not per node.
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(text.matches("threshold").count(), 2);
        assert_eq!(text.matches("max_samples").count(), 1);
    }
}
