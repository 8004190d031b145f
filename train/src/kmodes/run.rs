//! One k-modes / k-prototypes start: init, first assignment, passes.

use std::collections::HashSet;

use logsieve_artifact::Init;

use super::{Data, KModesError};
use crate::numpy_rng::RandomState;

/// How a start begins.
pub(super) enum Start {
    /// Fewer distinct rows than clusters: these rows are the modes.
    Rows(Vec<usize>),
    /// Huang or Cao.
    Method(Init),
    /// Given modes, k × m codes.
    Given(Vec<u32>),
}

/// Progress of a start.
pub(super) enum Event {
    /// A pass finished with this cost.
    Iteration { iteration: usize, cost: f64 },
    /// The start finished (NaN if it failed).
    Done(f64),
}

/// What a start found.
pub(super) struct Outcome {
    pub k: usize,
    pub modes: Vec<u32>,
    pub means: Vec<f64>,
    pub labels: Vec<u32>,
    pub distances: Vec<f64>,
    pub cost: f64,
    pub n_iter: usize,
    pub epoch_costs: Vec<f64>,
}

/// The package's retries for k-prototypes starts with an empty cluster:
/// after this many it draws random rows instead…
const MAX_INIT_TRIES: usize = 20;
/// …and after this many it gives up.
const RAISE_INIT_TRIES: usize = 100;

/// Distinct rows in order of first appearance; stops once more than
/// `limit` are found.
pub(super) fn distinct_rows(data: &Data, limit: usize) -> Vec<usize> {
    let p = data.p;
    let mut seen: HashSet<(&[u64], Vec<u64>)> = HashSet::new();
    let mut rows = Vec::new();
    for i in 0..data.n() {
        let num = data.numeric[i * p..(i + 1) * p].iter().map(|x| x.to_bits()).collect();
        if seen.insert((data.codes.row(i), num)) {
            rows.push(i);
            if rows.len() > limit {
                break;
            }
        }
    }
    rows
}

struct State<'a> {
    data: &'a Data<'a>,
    k: usize,
    m: usize,
    p: usize,
    w: usize,
    gamma: f64,
    /// k × w packed modes.
    modes: Vec<u64>,
    /// k × p numeric centres.
    means: Vec<f64>,
    /// k × p sums of the members' numeric values.
    sums: Vec<f64>,
    sizes: Vec<u64>,
    /// k × total: per cluster, per column, per code: members with it.
    freq: Vec<u32>,
    offsets: Vec<usize>,
    total: usize,
    /// Each row's cluster (the package's `membship`).
    labels: Vec<u32>,
}

impl<'a> State<'a> {
    fn new(data: &'a Data<'a>, k: usize, gamma: f64) -> Self {
        let levels = data.codes.levels();
        let mut offsets = Vec::with_capacity(levels.len());
        let mut total = 0;
        for &l in levels {
            offsets.push(total);
            total += l as usize;
        }
        let (m, p, w) = (data.codes.n_cols(), data.p, data.codes.words());
        State {
            data,
            k,
            m,
            p,
            w,
            gamma,
            modes: vec![0; k * w],
            means: vec![0.0; k * p],
            sums: vec![0.0; k * p],
            sizes: vec![0; k],
            freq: vec![0; k * total],
            offsets,
            total,
            labels: vec![0; data.n()],
        }
    }

    fn row_num(&self, i: usize) -> &[f64] {
        &self.data.numeric[i * self.p..(i + 1) * self.p]
    }

    /// The nearest cluster of row `i` and its distance; ties to the lowest
    /// index.
    #[inline]
    fn nearest(&self, i: usize) -> (usize, f64) {
        let codes = self.data.codes;
        let row = codes.row(i);
        if self.p == 0 {
            let (mut best, mut best_d) = (0, u32::MAX);
            for (c, mode) in self.modes.chunks_exact(self.w).enumerate() {
                let d = codes.mismatches(row, mode);
                if d < best_d {
                    best = c;
                    best_d = d;
                }
            }
            return (best, f64::from(best_d));
        }
        let x = self.row_num(i);
        let (mut best, mut best_d) = (0, f64::INFINITY);
        for c in 0..self.k {
            let num: f64 =
                x.iter().zip(&self.means[c * self.p..(c + 1) * self.p]).map(|(a, b)| (a - b) * (a - b)).sum();
            let d = num + self.gamma * f64::from(codes.mismatches(row, &self.modes[c * self.w..(c + 1) * self.w]));
            if d < best_d {
                best = c;
                best_d = d;
            }
        }
        (best, best_d)
    }

    /// The most frequent code of column `j` in cluster `c`; ties to the
    /// lowest code.
    fn mode_of(&self, c: usize, j: usize) -> u32 {
        let base = c * self.total + self.offsets[j];
        let counts = &self.freq[base..base + self.data.codes.levels()[j] as usize];
        let mut best = 0;
        for (v, &f) in counts.iter().enumerate() {
            if f > counts[best] {
                best = v;
            }
        }
        best as u32
    }

    /// Put row `i` in cluster `c` (first assignment).
    fn add(&mut self, i: usize, c: usize) {
        self.labels[i] = c as u32;
        self.sizes[c] += 1;
        for j in 0..self.m {
            let v = self.data.codes.get(i, j) as usize;
            self.freq[c * self.total + self.offsets[j] + v] += 1;
        }
        for j in 0..self.p {
            self.sums[c * self.p + j] += self.data.numeric[i * self.p + j];
        }
    }

    /// Move row `i` from cluster `from` to `to`, updating both modes as the
    /// package's `move_point_cat` does.
    fn move_row(&mut self, i: usize, to: usize, from: usize) {
        let codes = self.data.codes;
        self.labels[i] = to as u32;
        self.sizes[to] += 1;
        self.sizes[from] -= 1;
        for j in 0..self.m {
            let v = codes.get(i, j);
            let at_to = to * self.total + self.offsets[j];
            self.freq[at_to + v as usize] += 1;
            let cur = codes.read(&self.modes[to * self.w..(to + 1) * self.w], j);
            if self.freq[at_to + cur as usize] < self.freq[at_to + v as usize] {
                codes.write(&mut self.modes[to * self.w..(to + 1) * self.w], j, v);
            }
            let at_from = from * self.total + self.offsets[j];
            self.freq[at_from + v as usize] -= 1;
            if codes.read(&self.modes[from * self.w..(from + 1) * self.w], j) == v {
                let best = self.mode_of(from, j);
                codes.write(&mut self.modes[from * self.w..(from + 1) * self.w], j, best);
            }
        }
        for j in 0..self.p {
            let x = self.data.numeric[i * self.p + j];
            self.sums[to * self.p + j] += x;
            self.sums[from * self.p + j] -= x;
        }
    }

    /// k-prototypes: the numeric centre of cluster `c` from its sums.
    fn update_mean(&mut self, c: usize) {
        for j in 0..self.p {
            self.means[c * self.p + j] =
                if self.sizes[c] > 0 { self.sums[c * self.p + j] / self.sizes[c] as f64 } else { 0.0 };
        }
    }

    /// Assign every row to its nearest start (modes fixed meanwhile).
    fn assign_all(&mut self) {
        self.sizes.fill(0);
        self.freq.fill(0);
        self.sums.fill(0.0);
        for i in 0..self.data.n() {
            let (c, _) = self.nearest(i);
            self.add(i, c);
        }
    }

    /// The modes (and centres) of the first assignment.
    fn update_all(&mut self, rng: &mut RandomState) {
        let codes = self.data.codes;
        for c in 0..self.k {
            for j in 0..self.m {
                let v = if self.sizes[c] == 0 {
                    // The package: "Empty centroid, choose randomly".
                    codes.get(rng.choice(self.data.n()), j)
                } else {
                    self.mode_of(c, j)
                };
                codes.write(&mut self.modes[c * self.w..(c + 1) * self.w], j, v);
            }
            self.update_mean(c);
        }
    }

    /// One pass over the rows; returns the number of moves.
    fn pass(&mut self, rng: &mut RandomState) -> usize {
        let mut moves = 0;
        for i in 0..self.data.n() {
            let (c, _) = self.nearest(i);
            let old = self.labels[i] as usize;
            if c == old {
                continue;
            }
            moves += 1;
            self.move_row(i, c, old);
            if self.p > 0 {
                self.update_mean(c);
                self.update_mean(old);
            }
            if self.sizes[old] == 0 {
                // Refill from the largest cluster (the first on ties), with
                // a random member (members in row order).
                let from = (0..self.k).fold(0, |b, c| if self.sizes[c] > self.sizes[b] { c } else { b });
                let pick = rng.choice(self.sizes[from] as usize);
                let r = self.labels.iter().enumerate().filter(|(_, l)| **l as usize == from).nth(pick).unwrap().0;
                self.move_row(r, old, from);
                if self.p > 0 {
                    self.update_mean(old);
                    self.update_mean(from);
                }
            }
        }
        moves
    }

    /// Every row's nearest cluster and distance, and their sum.
    fn labels_cost(&self) -> (Vec<u32>, Vec<f64>, f64) {
        let n = self.data.n();
        let mut labels = Vec::with_capacity(n);
        let mut dist = Vec::with_capacity(n);
        let mut cost = 0.0;
        for i in 0..n {
            let (c, d) = self.nearest(i);
            labels.push(c as u32);
            dist.push(d);
            cost += d;
        }
        (labels, dist, cost)
    }
}

/// Huang's starts: per column, `k` values drawn with the column's value
/// frequencies; then each start becomes the nearest row that equals no
/// start (rows in order of distance, then of position).
fn init_huang(data: &Data, k: usize, rng: &mut RandomState) -> Vec<u64> {
    let codes = data.codes;
    let (n, m, w) = (data.n(), codes.n_cols(), codes.words());
    let mut starts = vec![0u64; k * w];
    for j in 0..m {
        // The column sorted is runs of codes; position -> code by counts.
        let mut cum = vec![0usize; codes.levels()[j] as usize];
        for i in 0..n {
            cum[codes.get(i, j) as usize] += 1;
        }
        for v in 1..cum.len() {
            cum[v] += cum[v - 1];
        }
        for c in 0..k {
            let at = rng.choice(n);
            let v = cum.partition_point(|&upto| upto <= at) as u32;
            codes.write(&mut starts[c * w..(c + 1) * w], j, v);
        }
    }
    let mut dist = vec![0u32; n];
    for c in 0..k {
        for (i, d) in dist.iter_mut().enumerate() {
            *d = codes.mismatches(codes.row(i), &starts[c * w..(c + 1) * w]);
        }
        let is_start = |i: usize| starts.chunks_exact(w).any(|s| s == codes.row(i));
        let mut pick = None;
        'search: for d in 0..=m as u32 {
            for i in (0..n).filter(|&i| dist[i] == d) {
                if !is_start(i) {
                    pick = Some(i);
                    break 'search;
                }
            }
        }
        // Every row is a start already: the package keeps the last row of
        // its order, the farthest one.
        let pick = pick.unwrap_or_else(|| {
            let far = *dist.iter().max().expect("n > 0");
            (0..n).rev().find(|&i| dist[i] == far).expect("a farthest row")
        });
        let row = codes.row(pick).to_vec();
        starts[c * w..(c + 1) * w].copy_from_slice(&row);
    }
    starts
}

/// Cao's starts: the densest row first, then each time the row with the
/// largest density × distance to its nearest start so far.
fn init_cao(data: &Data, k: usize) -> Vec<u64> {
    let codes = data.codes;
    let (n, m, w) = (data.n(), codes.n_cols(), codes.words());
    let mut dens = vec![0.0f64; n];
    for j in 0..m {
        let mut freq = vec![0u64; codes.levels()[j] as usize];
        for i in 0..n {
            freq[codes.get(i, j) as usize] += 1;
        }
        for (i, d) in dens.iter_mut().enumerate() {
            // The package's order of operations: freq / n / m, summed by column.
            *d += freq[codes.get(i, j) as usize] as f64 / n as f64 / m as f64;
        }
    }
    let argmax = |v: &[f64]| v.iter().enumerate().fold(0, |b, (i, x)| if *x > v[b] { i } else { b });
    let mut starts = Vec::with_capacity(k * w);
    starts.extend_from_slice(codes.row(argmax(&dens)));
    let mut nearest = vec![f64::INFINITY; n];
    for c in 1..k {
        let last = &starts[(c - 1) * w..c * w];
        for i in 0..n {
            let dd = f64::from(codes.mismatches(codes.row(i), last)) * dens[i];
            if dd < nearest[i] {
                nearest[i] = dd;
            }
        }
        let next = argmax(&nearest);
        let row = codes.row(next).to_vec();
        starts.extend_from_slice(&row);
    }
    starts
}

/// One start, to convergence.
pub(super) fn single(
    data: &Data,
    k_wanted: usize,
    start: &Start,
    max_iter: usize,
    gamma: f64,
    seed: u64,
    report: &mut dyn FnMut(Event),
) -> Result<Outcome, KModesError> {
    let mut rng = RandomState::new(seed);
    let (n, p, w) = (data.n(), data.p, data.codes.words());
    let k = match start {
        Start::Rows(rows) => rows.len(),
        Start::Method(_) | Start::Given(_) => k_wanted,
    };
    let mut st = State::new(data, k, gamma);
    match start {
        Start::Rows(rows) => {
            for (c, &r) in rows.iter().enumerate() {
                st.modes[c * w..(c + 1) * w].copy_from_slice(data.codes.row(r));
                st.means[c * p..(c + 1) * p].copy_from_slice(&data.numeric[r * p..(r + 1) * p]);
            }
            st.assign_all();
        }
        Start::Given(codes) => {
            let m = data.codes.n_cols();
            st.modes = codes.chunks_exact(m).flat_map(|c| data.codes.pack(c)).collect();
            st.assign_all();
        }
        Start::Method(init) if p == 0 => {
            st.modes = match init {
                Init::Huang => init_huang(data, k, &mut rng),
                _ => init_cao(data, k),
            };
            st.assign_all();
        }
        Start::Method(init) => {
            // k-prototypes: categorical starts as k-modes, numeric ones
            // drawn around the column means; retried while a cluster
            // starts empty.
            let (mean, std) = column_moments(data.numeric, n, p);
            let mut tries = 0;
            loop {
                tries += 1;
                st.modes = if tries > MAX_INIT_TRIES {
                    let mut s = Vec::with_capacity(k * w);
                    for _ in 0..k {
                        s.extend_from_slice(data.codes.row(rng.choice(n)));
                    }
                    s
                } else if *init == Init::Huang {
                    init_huang(data, k, &mut rng)
                } else {
                    init_cao(data, k)
                };
                for c in 0..k {
                    for j in 0..p {
                        st.means[c * p + j] = mean[j] + rng.randn() * std[j];
                    }
                }
                st.assign_all();
                if st.sizes.iter().all(|&s| s > 0) {
                    break;
                }
                if tries >= RAISE_INIT_TRIES {
                    return Err(KModesError::NoInit);
                }
            }
        }
    }
    st.update_all(&mut rng);

    let (mut labels, mut distances, mut cost) = st.labels_cost();
    let mut epoch_costs = vec![cost];
    let mut itr = 0;
    let mut converged = false;
    while itr < max_iter && !converged {
        itr += 1;
        let moves = st.pass(&mut rng);
        let (l, d, ncost) = st.labels_cost();
        converged = moves == 0 || ncost >= cost;
        (labels, distances, cost) = (l, d, ncost);
        epoch_costs.push(cost);
        report(Event::Iteration { iteration: itr, cost });
    }
    let modes = st.modes.chunks_exact(w).flat_map(|s| data.codes.unpack(s)).collect();
    Ok(Outcome { k, modes, means: st.means, labels, distances, cost, n_iter: itr, epoch_costs })
}

/// Column means and population standard deviations.
fn column_moments(x: &[f64], n: usize, p: usize) -> (Vec<f64>, Vec<f64>) {
    let mean: Vec<f64> = (0..p).map(|j| (0..n).map(|i| x[i * p + j]).sum::<f64>() / n as f64).collect();
    let std =
        (0..p).map(|j| ((0..n).map(|i| (x[i * p + j] - mean[j]).powi(2)).sum::<f64>() / n as f64).sqrt()).collect();
    (mean, std)
}
