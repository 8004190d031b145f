//! Reading a scored NDJSON file for the report: per event its cluster,
//! distance, score and verdict; the scaled vectors of a sample (for the
//! projection); the highest-scoring anomalies in full; and every line that
//! could not be used, counted by reason.
//!
//! The scaled vectors come from the scorer itself, never from a second
//! implementation: an event's own `logsieve.vector` when the pipeline wrote
//! it (`emit_vector = true`), else the event with its `logsieve` key removed
//! is scored again by [`logsieve_plugin::Scorer`] (natively; its
//! [`Scorer::last_vector`]), in file order, so stateful derived fields
//! (`inter_arrival`) see the same sequence. Events whose cluster comes out
//! different from the file's are counted (a model with a stateful feature
//! scored on a file that lacks some of the events it saw, for instance).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use anyhow::{Result, bail};
use logsieve_artifact::{Model, ModelKind, encode};
use logsieve_plugin::{Options, Outcome, Reason, Scorer};
use serde_json::{Map, Value};

/// A line of the scored file: its number (1-based) and its text, or why it
/// could not be read (`(reason, detail)`, as the readers say).
pub type Line = (u64, Result<String, (String, String)>);

/// Limits of what is kept.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Points drawn in the projection at most (anomalies always first).
    pub max_points: usize,
    /// Events the PCA is fitted on at most (a uniform sample).
    pub pca_rows: usize,
    /// Anomalies listed in full.
    pub top: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_points: 5000, pca_rows: 20_000, top: 50 }
    }
}

/// One event kept in full for the anomalies table.
#[derive(Debug, Clone)]
pub struct Kept {
    /// Line in the scored file (1-based).
    pub line: u64,
    /// The event without its `logsieve` key.
    pub event: Map<String, Value>,
    /// Its `logsieve` object.
    pub verdict: Map<String, Value>,
    /// Its score (`None`: a flow2vec token that could not be scored).
    pub score: Option<f64>,
}

/// A point of the projection: its scaled vector and verdict.
#[derive(Debug, Clone)]
pub struct Point {
    /// Line in the scored file.
    pub line: u64,
    /// The scaled vector.
    pub vector: Vec<f64>,
    /// Cluster.
    pub cluster: u32,
    /// Flagged.
    pub anomaly: bool,
}

/// Everything the report needs from the scored file.
#[derive(Debug, Default)]
pub struct Collected {
    /// Lines read.
    pub lines: u64,
    /// Events scored by this model (the ones reported on).
    pub events: u64,
    /// Of them, anomalies.
    pub anomalies: u64,
    /// Scored events per cluster, and anomalies per cluster.
    pub per_cluster: Vec<(u64, u64)>,
    /// Events without a cluster or score (flow2vec: unseen tokens with no
    /// known relative).
    pub unscored: u64,
    /// (distance, anomaly) of every event with a distance.
    pub distances: Vec<(f64, bool)>,
    /// Reasons and how often they were given.
    pub reasons: BTreeMap<String, u64>,
    /// Lines that could not be used, per reason, with the first line number
    /// and a detail.
    pub malformed: BTreeMap<String, (u64, u64, String)>,
    /// Events scored by other models: per model id, how many.
    pub other_models: BTreeMap<String, u64>,
    /// Where the vectors came from: events that carried `logsieve.vector`,
    /// and events scored again.
    pub vectors_in_file: u64,
    /// Events scored again to get their vector.
    pub rescored: u64,
    /// Of them, those the scorer put in another cluster than the file says.
    pub rescored_differently: u64,
    /// Events scored again that the scorer did not score (with the reason).
    pub rescore_failed: BTreeMap<String, u64>,
    /// Events that could not be drawn: no vector (a flow2vec token never
    /// seen in training, or scoring again failed).
    pub without_vector: u64,
    /// The drawn points: every anomaly (up to the cap), then a uniform
    /// sample of the rest; in file order.
    pub points: Vec<Point>,
    /// Anomalies not drawn because there were more than the cap.
    pub anomalies_not_drawn: u64,
    /// The uniform sample the PCA is fitted on.
    pub pca_sample: Vec<Vec<f64>>,
    /// The highest-scoring anomalies (or, if none was flagged, the highest
    /// scores), highest first.
    pub top: Vec<Kept>,
    /// Whether `top` holds anomalies (false: no event was flagged).
    pub top_are_anomalies: bool,
    /// Why there is no projection, if there is none.
    pub no_projection: Option<String>,
}

impl Collected {
    fn bad(&mut self, reason: &str, line: u64, detail: impl Into<String>) {
        let e = self.malformed.entry(reason.to_string()).or_insert((0, line, detail.into()));
        e.0 += 1;
    }

    /// Lines that could not be used, in all.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().map(|m| m.0).sum()
    }
}

/// A deterministic hash of a line number (SplitMix64's finaliser): the
/// samples keep the lines with the smallest hashes (a bottom-k sample, so
/// uniform and independent of the file's length).
pub fn line_hash(line: u64) -> u64 {
    let mut z = line.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Score ordering for the heaps: a score of `None` (could not be scored)
/// counts as the highest; equal scores keep the earlier line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rank(Option<f64>, Reverse<u64>);

impl Eq for Rank {}
impl PartialOrd for Rank {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Rank {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let s = |r: &Rank| r.0.unwrap_or(f64::INFINITY);
        s(self).total_cmp(&s(o)).then(self.1.cmp(&o.1))
    }
}

struct TopEntry(Rank, Kept);
impl PartialEq for TopEntry {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for TopEntry {}
impl PartialOrd for TopEntry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for TopEntry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

/// A bottom-k sample by [`line_hash`]: a max-heap of the k smallest.
struct Sample<T> {
    k: usize,
    heap: BinaryHeap<(u64, u64, Wrap<T>)>,
}

struct Wrap<T>(T);
impl<T> PartialEq for Wrap<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<T> Eq for Wrap<T> {}
impl<T> PartialOrd for Wrap<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Wrap<T> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<T> Sample<T> {
    fn new(k: usize) -> Self {
        Sample { k, heap: BinaryHeap::new() }
    }
    /// Would `line` be kept now?
    fn wants(&self, line: u64) -> bool {
        self.k > 0 && (self.heap.len() < self.k || self.heap.peek().is_some_and(|t| line_hash(line) < t.0))
    }
    fn offer(&mut self, line: u64, item: T) {
        if self.wants(line) {
            self.heap.push((line_hash(line), line, Wrap(item)));
            if self.heap.len() > self.k {
                self.heap.pop();
            }
        }
    }
    /// The kept items in line order.
    fn into_sorted(self) -> Vec<(u64, T)> {
        let mut v: Vec<(u64, T)> = self.heap.into_iter().map(|(_, l, w)| (l, w.0)).collect();
        v.sort_by_key(|x| x.0);
        v
    }
}

/// Whether the report projects this kind of model, or why not.
pub fn projection_unavailable(model: &Model) -> Option<String> {
    match model.spec.model.kind {
        ModelKind::Kmeans | ModelKind::Flow2vec => None,
        ModelKind::IsolationForest => Some("an isolation forest has no clusters to project".into()),
        ModelKind::Kmodes => Some(
            "a k-modes model has no Euclidean space to project: its features are categories, compared as equal or \
             not (the distance counts mismatches), and its centres are modes, not means"
                .into(),
        ),
        ModelKind::Kprototypes => Some(
            "a k-prototypes model mixes a Euclidean numeric part with categorical mismatches weighted by gamma; \
             a PCA of the numeric part alone would hide what separates the clusters"
                .into(),
        ),
    }
}

/// The model the report scores with to get vectors: the model itself, or
/// for an `[aggregate]` model its second stage (scored files hold the
/// aggregate events, whose features are read as they are).
fn rescoring_model(model: &Model) -> Model {
    Model { spec: model.spec.aggregate_stage(), fitted: model.fitted.clone() }
}

/// Read the scored lines: `(line number, the line or why it could not be
/// read)`, in file order.
pub fn collect(model: &Model, id: &str, lines: impl Iterator<Item = Line>, limits: Limits) -> Result<Collected> {
    let k = model.fitted.as_ref().map_or(0, |f| f.clusters.len());
    let dim = model.dimension().unwrap_or(0);
    let mut c = Collected { per_cluster: vec![(0, 0); k], ..Collected::default() };
    c.no_projection = projection_unavailable(model);
    let project = c.no_projection.is_none() && dim > 0;
    let mut scorer: Option<Scorer> = None;
    let mut rescored_text = String::new();
    let mut anomalies_drawn: Sample<(Vec<f64>, u32)> = Sample::new(limits.max_points);
    // Anomalies with a vector (the ones that could be drawn).
    let mut anomalies_with_vector = 0u64;
    let mut normal_drawn: Sample<(Vec<f64>, u32)> = Sample::new(limits.max_points);
    let mut pca: Sample<Vec<f64>> = Sample::new(limits.pca_rows);
    let mut top_anomalies: BinaryHeap<Reverse<TopEntry>> = BinaryHeap::new();
    let mut top_any: BinaryHeap<Reverse<TopEntry>> = BinaryHeap::new();

    for (line, item) in lines {
        c.lines += 1;
        let text = match item {
            Ok(t) => t,
            Err((reason, detail)) => {
                c.bad(&reason, line, detail);
                continue;
            }
        };
        let mut obj = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                c.bad("not_an_object", line, "the line is JSON but not an object");
                continue;
            }
            Err(e) => {
                c.bad("invalid_json", line, e.to_string());
                continue;
            }
        };
        let verdict = match obj.remove("logsieve") {
            Some(Value::Object(v)) => v,
            Some(_) => {
                c.bad("bad_logsieve", line, "the logsieve key is not an object");
                continue;
            }
            None => {
                c.bad("not_scored", line, "no logsieve key: an event passed on unscored, or not a scored file");
                continue;
            }
        };
        let Some(model_id) = verdict.get("model").and_then(Value::as_str) else {
            c.bad("bad_logsieve", line, "logsieve.model is missing");
            continue;
        };
        if model_id != id {
            *c.other_models.entry(model_id.to_string()).or_default() += 1;
            continue;
        }
        let num = |key: &str| verdict.get(key).and_then(Value::as_f64);
        let cluster = verdict.get("cluster").and_then(Value::as_u64);
        let (distance, score) = (num("distance"), num("score"));
        let Some(anomaly) = verdict.get("anomaly").and_then(Value::as_bool) else {
            c.bad("bad_logsieve", line, "logsieve.anomaly is missing or not a boolean");
            continue;
        };
        if let Some(cl) = cluster
            && cl as usize >= k
        {
            c.bad("bad_logsieve", line, format!("logsieve.cluster {cl}, but the model has {k} clusters"));
            continue;
        }
        if cluster.is_some() != score.is_some() || score.is_some() != distance.is_some() {
            c.bad("bad_logsieve", line, "logsieve has a cluster, distance and score only in part");
            continue;
        }
        c.events += 1;
        c.anomalies += u64::from(anomaly);
        if let Some(reasons) = verdict.get("reasons").and_then(Value::as_array) {
            for r in reasons.iter().filter_map(Value::as_str) {
                *c.reasons.entry(r.to_string()).or_default() += 1;
            }
        }
        match (cluster, distance) {
            (Some(cl), Some(d)) => {
                let e = &mut c.per_cluster[cl as usize];
                e.0 += 1;
                e.1 += u64::from(anomaly);
                c.distances.push((d, anomaly));
            }
            _ => c.unscored += 1,
        }

        // The scaled vector: the file's, else scored again.
        let mut vector: Option<Vec<f64>> = None;
        if project {
            if let Some(v) = verdict.get("vector").and_then(Value::as_array) {
                let v: Vec<f64> = v.iter().filter_map(Value::as_f64).collect();
                if v.len() == dim {
                    c.vectors_in_file += 1;
                    vector = Some(v);
                }
            }
            if vector.is_none() {
                if scorer.is_none() {
                    let bytes = encode(&rescoring_model(model)).map_err(anyhow::Error::msg)?;
                    scorer = Some(
                        Scorer::new(&bytes, Options { top_features: 0, emit_vector: false })
                            .map_err(|e| anyhow::anyhow!("loading the model to score the events again: {e}"))?,
                    );
                }
                let s = scorer.as_mut().expect("just made");
                let stripped = serde_json::to_string(&obj).expect("a JSON object serializes");
                c.rescored += 1;
                rescored_text.clear();
                match s.score_into(&stripped, &mut rescored_text) {
                    Outcome::Scored(again) => {
                        if again.cluster.map(u64::from) != cluster {
                            c.rescored_differently += 1;
                        }
                        vector = s.last_vector().filter(|v| v.len() == dim);
                    }
                    Outcome::Failed(e) => *c.rescore_failed.entry(e.reason.to_string()).or_default() += 1,
                    _ => *c.rescore_failed.entry(Reason::NotScored.to_string()).or_default() += 1,
                }
            }
        }
        if project && (vector.is_none() || cluster.is_none()) {
            c.without_vector += 1;
        }
        if let (Some(v), Some(cl)) = (vector, cluster) {
            let cl = cl as u32;
            pca.offer(line, v.clone());
            if anomaly {
                anomalies_with_vector += 1;
                anomalies_drawn.offer(line, (v, cl));
            } else if normal_drawn.wants(line) {
                normal_drawn.offer(line, (v, cl));
            }
        }

        // The table: the highest scores, anomalies first.
        let rank = Rank(score, Reverse(line));
        let heap = if anomaly { &mut top_anomalies } else { &mut top_any };
        let full = heap.len() >= limits.top;
        if limits.top > 0 && (!full || heap.peek().is_some_and(|Reverse(t)| rank > t.0)) {
            heap.push(Reverse(TopEntry(rank, Kept { line, event: obj, verdict, score })));
            if heap.len() > limits.top {
                heap.pop();
            }
        }
    }

    if c.events == 0 {
        if !c.other_models.is_empty() {
            let others: Vec<String> = c.other_models.iter().map(|(m, n)| format!("{m} ({n} events)")).collect();
            bail!(
                "the scored file was scored by another model: {}, not by this model (id {id}); pass the model \
                 that scored it",
                others.join(", ")
            );
        }
        let bad: Vec<String> =
            c.malformed.iter().map(|(r, (n, l, d))| format!("{r}: {n} (first at line {l}: {d})")).collect();
        bail!(
            "no scored events in {} line(s){}",
            c.lines,
            if bad.is_empty() { String::new() } else { format!("; lines that could not be used: {}", bad.join("; ")) }
        );
    }

    // Every anomaly first (a uniform sample of them past the cap), then a
    // uniform sample of the rest to fill the cap.
    let anomalies = anomalies_drawn.into_sorted();
    // Those without a vector are counted in `without_vector`, not here.
    c.anomalies_not_drawn = anomalies_with_vector.saturating_sub(anomalies.len() as u64);
    let room = limits.max_points.saturating_sub(anomalies.len());
    let mut normal = normal_drawn.into_sorted();
    if normal.len() > room {
        // The `room` smallest hashes among them: still uniform.
        normal.sort_by_key(|(l, _)| line_hash(*l));
        normal.truncate(room);
    }
    let mut points: Vec<Point> = anomalies
        .into_iter()
        .map(|(line, (vector, cluster))| Point { line, vector, cluster, anomaly: true })
        .chain(normal.into_iter().map(|(line, (vector, cluster))| Point { line, vector, cluster, anomaly: false }))
        .collect();
    points.sort_by_key(|p| p.line);
    c.points = points;
    c.pca_sample = pca.into_sorted().into_iter().map(|(_, v)| v).collect();

    let sorted = |h: BinaryHeap<Reverse<TopEntry>>| -> Vec<Kept> {
        let mut v: Vec<TopEntry> = h.into_iter().map(|Reverse(t)| t).collect();
        v.sort_by_key(|t| Reverse(t.0));
        v.into_iter().map(|t| t.1).collect()
    };
    c.top_are_anomalies = !top_anomalies.is_empty();
    c.top = if c.top_are_anomalies { sorted(top_anomalies) } else { sorted(top_any) };
    Ok(c)
}
