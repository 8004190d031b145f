//! The scorer: a loaded model that turns events into scored events. This is
//! the native twin of the WIT resource `scorer`; the component is a thin
//! wrapper around it, so native and wasm outputs are the same bytes.
//!
//! For each event: scan the fields ([`crate::event`]), encode them
//! ([`crate::features`]), find the nearest centroid (ties to the lowest
//! cluster index), and append
//!
//! ```json
//! "logsieve":{"cluster":2,"distance":4.1,"threshold":3.2,"score":1.28,
//!   "anomaly":true,"reasons":["far_from_centroid"],
//!   "top_features":[{"feature":"resp_bytes","share":0.71}],"model":"3f2a…"}
//! ```
//!
//! The distance depends on the model kind:
//! - k-means: Euclidean distance to the centroid;
//! - k-modes: the number of features that differ from the cluster's mode;
//! - k-prototypes: squared Euclidean distance of the scaled numeric part
//!   plus `gamma` × the number of categorical mismatches (the `kmodes`
//!   package's cost).
//!
//! `score` = distance / threshold. Reasons: `far_from_centroid` (distance >
//! threshold), `rare_cluster` (the cluster's training share is below
//! `rare_share`), `unseen_value` (a category outside the vocabulary; the
//! values are listed under `unseen`). `anomaly` is true when any reason is.
//! `top_features` gives each feature's share of the distance (of the
//! squared distance for k-means). k-modes and k-prototypes also list every
//! categorical feature that differs from the mode, with the value the mode
//! expected: `"mismatches":[{"feature":"endpoint","value":"svcctl",
//! "expected":"epmapper"}]`.
//!
//! Before scoring, each event goes through the spec's plan
//! ([`crate::recipe`]): filters, derived fields, and for `[aggregate]`
//! models per-key windows whose aggregate events are then scored.

use logsieve_artifact::{DecodeError, FeatureState, Model, ModelSpec, decode};

use crate::event::{EventError, Scalar};
use crate::features::{Encoder, FeatureValue, Unseen, extract};
use crate::flow2vec::Flow2VecFit;
use crate::forest::CompiledForest;
use crate::nearest::{self, LargeClusters, Measure};
use crate::output::{Reasons, Verdict, Writer};
use crate::reason::Reason;
use crate::recipe::{Recipe, Scratch, Step, line_end};
use crate::scan::Shape;

/// Options fixed when a scorer is created (the WIT `options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How many top contributing features to report; 0 for none.
    pub top_features: u32,
    /// Also write the scaled vector as `logsieve.vector`.
    pub emit_vector: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { top_features: 3, emit_vector: false }
    }
}

/// A summary of the loaded model (the WIT `model-info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// Checksum-derived id.
    pub id: String,
    /// Model kind.
    pub kind: String,
    /// Artifact format version.
    pub format_version: u32,
    /// Feature names in order.
    pub features: Vec<String>,
    /// Encoded width (0 for a spec-only model).
    pub dimension: u32,
    /// Number of clusters (0 for a spec-only model).
    pub n_clusters: u32,
}

struct Fit {
    encoder: Encoder,
    /// Centroids, row-major, k × dim.
    centroids: Vec<f64>,
    rare: Vec<bool>,
    ranges: Vec<std::ops::Range<usize>>,
    /// Every feature is one coordinate, in order (numeric features only).
    one_per_feature: bool,
    metric: Metric,
    /// flow2vec models: the token look-up.
    flow2vec: Option<Flow2VecFit>,
    /// `[scoring] method = "cblof"`: per cluster whether it is large, and
    /// the large clusters to measure small clusters' events against.
    cblof: Option<(Vec<bool>, LargeClusters, f64)>,
    /// isolation_forest models: the trees, laid out for the walk, and the
    /// threshold on the anomaly score.
    forest: Option<(CompiledForest, f64)>,
}

/// How distances are measured.
enum Metric {
    /// k-means: Euclidean over the one-hot encoded vector.
    Euclidean,
    /// k-modes / k-prototypes: one coordinate per feature; numeric ones add
    /// their squared difference, categorical ones `gamma` per mismatch (1
    /// for k-modes, whose distance is the mismatch count).
    Mixed {
        /// Per coordinate: is it a categorical code?
        categorical: Vec<bool>,
        gamma: f64,
        /// Per feature: its vocabulary, JSON-escaped with quotes (empty for
        /// numeric features), to name values in `mismatches`.
        vocabulary_json: Vec<Vec<String>>,
    },
}

impl Metric {
    /// The measure of [`crate::nearest`] this metric is.
    fn measure(&self) -> Measure<'_> {
        match self {
            Metric::Euclidean => Measure::Euclidean,
            Metric::Mixed { categorical, gamma, .. } => Measure::Mixed { categorical, gamma: *gamma },
        }
    }

    fn new(model: &Model, fitted: &logsieve_artifact::Fitted) -> Metric {
        if model.spec.model.kind.one_hot() {
            return Metric::Euclidean;
        }
        let json = |v: &String| serde_json::to_string(v).expect("a string serializes");
        let vocabulary_json = fitted
            .features
            .iter()
            .map(|st| match st {
                FeatureState::Categorical { vocabulary, .. } => vocabulary.iter().map(json).collect(),
                FeatureState::Numeric { .. } => Vec::new(),
            })
            .collect();
        Metric::Mixed {
            categorical: fitted.features.iter().map(|st| matches!(st, FeatureState::Categorical { .. })).collect(),
            gamma: fitted.gamma.unwrap_or(1.0),
            vocabulary_json,
        }
    }
}

/// What became of one event.
///
/// `S` is what a scored event carries: its text ([`Scorer::score_batch`],
/// the WIT `outcome`) or where its text is in a batch's text
/// ([`Scorer::score_lines`], the WIT `line-outcome`).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<S = String> {
    /// Scored.
    Scored(S),
    /// Did not match `[[where]]`; to be passed on unchanged.
    Passed,
    /// Did not match `[[where]]`; dropped.
    Dropped,
    /// Taken into a window.
    Absorbed,
    /// Could not be used.
    Failed(EventError),
}

impl<S> Outcome<S> {
    /// The same outcome with the scored part turned by `f`.
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> Outcome<T> {
        match self {
            Outcome::Scored(s) => Outcome::Scored(f(s)),
            Outcome::Passed => Outcome::Passed,
            Outcome::Dropped => Outcome::Dropped,
            Outcome::Absorbed => Outcome::Absorbed,
            Outcome::Failed(e) => Outcome::Failed(e),
        }
    }
}

/// The result of [`Scorer::score_batch`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// One per input event.
    pub outcomes: Vec<Outcome>,
    /// Scored aggregate events of windows closed during the batch.
    pub emitted: Vec<Result<String, EventError>>,
}

/// A scored event of [`Scorer::score_lines`] (the WIT `scored-line`): where
/// its text is in [`Lines::text`], and its verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredLine {
    /// Byte offset of its text.
    pub offset: u32,
    /// Length of its text in bytes (the `\n` after it not counted).
    pub len: u32,
    /// The verdict its `logsieve` object holds.
    pub verdict: Verdict,
}

/// The result of [`Scorer::score_lines`] and [`Scorer::flush_lines`] (the
/// WIT `scored-lines`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lines {
    /// The scored texts, of the events then of the aggregates emitted, in
    /// order, each followed by `\n`: NDJSON.
    pub text: String,
    /// One per input line.
    pub outcomes: Vec<Outcome<ScoredLine>>,
    /// The aggregate events of windows closed during the call: scored or
    /// failed.
    pub emitted: Vec<Outcome<ScoredLine>>,
}

impl Lines {
    /// The text of a scored event.
    pub fn slice(&self, s: &ScoredLine) -> &str {
        &self.text[s.offset as usize..(s.offset + s.len) as usize]
    }
}

/// The result of [`Scorer::encode_lines`] (the WIT `encoded-lines`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Encoded {
    /// The vectors, one after another, `dimension` values each: of the
    /// events encoded, then of the aggregates emitted.
    pub vectors: Vec<f64>,
    /// Values per vector.
    pub dimension: usize,
    /// One per input line; `Scored(true)`: its vector is the next in
    /// `vectors`; `Scored(false)`: a flow2vec token with no vector.
    pub outcomes: Vec<Outcome<bool>>,
    /// The aggregates of windows closed during the call, as `outcomes`.
    pub emitted: Vec<Outcome<bool>>,
}

/// The events of an NDJSON batch: split on `\n`; a last `\n` ends the last
/// event rather than starting an empty one; `""` holds none.
pub fn lines(events: &str) -> impl Iterator<Item = &str> {
    let body = events.strip_suffix('\n').unwrap_or(events);
    let none = events.is_empty();
    body.split('\n').filter(move |_| !none)
}

/// What became of one event, for extraction (the WIT `extracted`).
#[derive(Debug, Clone, PartialEq)]
pub enum Extracted {
    /// Its features.
    Features(Vec<FeatureValue>),
    /// As [`Outcome::Passed`].
    Passed,
    /// As [`Outcome::Dropped`].
    Dropped,
    /// As [`Outcome::Absorbed`].
    Absorbed,
    /// As [`Outcome::Failed`].
    Failed(EventError),
}

/// The result of [`Scorer::extract_batch`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExtractBatch {
    /// One per input event.
    pub outcomes: Vec<Extracted>,
    /// Features of aggregate events of windows closed during the batch.
    pub emitted: Vec<Result<Vec<FeatureValue>, EventError>>,
}

/// Counters of the scorer's state (the WIT `state-stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateStats {
    /// (key, window) entries held now.
    pub open_windows: u64,
    /// Aggregate events emitted.
    pub emitted: u64,
    /// Entries emitted early (`max_keys`).
    pub evicted: u64,
    /// Late events refused.
    pub late: u64,
}

/// The scoring half: encoder, centroids, thresholds, output.
struct Core {
    options: Options,
    /// The output's fragments.
    writer: Writer,
    /// The spec's features (flow2vec builds its token from them).
    features: Vec<logsieve_artifact::FeatureSpec>,
    fit: Option<Fit>,
    // Buffers reused across events.
    vector: Vec<f64>,
    contrib: Vec<(f64, usize)>,
    /// isolation_forest: each feature's share of the isolation.
    shares: Vec<f64>,
    unseen: Vec<Unseen>,
    token: String,
    /// flow2vec: the token whose vector the last event was scored with.
    last_token: Option<u32>,
}

/// A loaded model, ready to extract and (if fitted) score.
pub struct Scorer {
    model: Model,
    id: String,
    core: Core,
    /// The per-event plan.
    stage1: Recipe,
    /// The plan training sees (extraction, encoding) when the spec has
    /// `[[train.where]]`: stage 1 with those filters too.
    train_stage1: Option<Recipe>,
    /// For `[aggregate]` models: the features of aggregate events.
    stage2: Option<Recipe>,
    /// Aggregate events emitted and not yet handed out.
    pending: Vec<String>,
}

impl Scorer {
    /// Decode and validate an artifact.
    pub fn new(model_bytes: &[u8], options: Options) -> Result<Scorer, DecodeError> {
        let decoded = decode(model_bytes)?;
        let model = decoded.model;
        let stage1 = Recipe::new(&model.spec).map_err(DecodeError::Invalid)?;
        let train_stage1 = if model.spec.train.filters.is_empty() {
            None
        } else {
            Some(Recipe::for_training(&model.spec).map_err(DecodeError::Invalid)?)
        };
        let stage2 = stage1.aggregates().then(|| Recipe::features_only(&model.spec));
        // The encoded width is the model's (the width the decoder checked
        // the trees against), not a second encoder's.
        let mut forest = match model.fitted.as_ref().and_then(|f| f.isolation.as_ref()) {
            Some(iso) => {
                let dim = model.dimension().unwrap_or(0);
                let compiled = CompiledForest::new(&iso.forest, dim).map_err(|e| DecodeError::Invalid(e.join("; ")))?;
                Some((compiled, iso.threshold))
            }
            None => None,
        };
        let fit = model.fitted.as_ref().map(|fitted| {
            let encoder = Encoder::new(&model.spec, fitted);
            let ranges = encoder.ranges();
            let centroids: Vec<f64> = fitted.clusters.iter().flat_map(|c| c.centroid.iter().copied()).collect();
            Fit {
                cblof: fitted.cblof.as_ref().map(|c| {
                    let to = LargeClusters::new(&c.large, &centroids, encoder.dimension());
                    (c.large.clone(), to, model.spec.scoring.bulk_weight())
                }),
                flow2vec: Flow2VecFit::new(&model.spec, fitted),
                forest: forest.take(),
                metric: Metric::new(&model, fitted),
                centroids,
                rare: fitted.clusters.iter().map(|c| c.rare).collect(),
                one_per_feature: ranges.iter().enumerate().all(|(f, r)| *r == (f..f + 1)),
                ranges,
                encoder,
            }
        });
        // A cblof model has one threshold, whatever the cluster.
        let thresholds: Vec<f64> = model
            .fitted
            .as_ref()
            .map(|f| match &f.cblof {
                Some(c) => vec![c.threshold; f.clusters.len()],
                None => f.clusters.iter().map(|c| c.threshold).collect(),
            })
            .unwrap_or_default();
        let names: Vec<&str> = model.spec.features.iter().map(|f| f.name()).collect();
        let dim = fit.as_ref().map_or(0, |f| f.encoder.dimension());
        let core = Core {
            options,
            writer: Writer::new(&decoded.id, &names, &thresholds),
            features: model.spec.features.clone(),
            vector: vec![0.0; dim],
            contrib: Vec::new(),
            shares: Vec::new(),
            unseen: Vec::new(),
            token: String::new(),
            last_token: None,
            fit,
        };
        Ok(Scorer { model, id: decoded.id, core, stage1, train_stage1, stage2, pending: Vec::new() })
    }

    /// The model's id (checksum prefix).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The decoded model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Describe the model.
    pub fn info(&self) -> ModelInfo {
        ModelInfo {
            id: self.id.clone(),
            kind: self.model.spec.model.kind.as_str().to_string(),
            format_version: logsieve_artifact::FORMAT_VERSION,
            features: self.model.spec.features.iter().map(|f| f.name().to_string()).collect(),
            dimension: self.model.dimension().unwrap_or(0) as u32,
            n_clusters: self.core.fit.as_ref().map_or(0, |_| self.core.writer.clusters() as u32),
        }
    }

    /// Score one event into `out` (appended) when it is scored; other
    /// outcomes leave `out` as it was. Aggregates of windows that close are
    /// kept for the next call that hands them out.
    pub fn score_into(&mut self, event: &str, out: &mut String) -> Outcome<Verdict> {
        self.score_with(event, &mut Scratch::new(), out)
    }

    /// [`Self::score_into`] with the caller's buffers.
    fn score_with<'a>(&mut self, event: &'a str, scratch: &mut Scratch<'a>, out: &mut String) -> Outcome<Verdict> {
        let step = self.check_fitted().and_then(|()| self.stage1.run(event, scratch, &mut self.pending));
        self.finish(step, event, scratch, out)
    }

    fn check_fitted(&self) -> Result<(), EventError> {
        match self.core.fit {
            Some(_) => Ok(()),
            None => Err(EventError::new(Reason::NotFitted, "this model holds only a spec; train it before scoring")),
        }
    }

    /// Score what the plan made of an event.
    #[inline]
    fn finish(
        &mut self,
        step: Result<(Step, Shape), EventError>,
        event: &str,
        scratch: &Scratch,
        out: &mut String,
    ) -> Outcome<Verdict> {
        match step {
            Ok((Step::Features, shape)) => match self.core.score_features(event, shape, scratch.features(), out) {
                Ok(v) => Outcome::Scored(v),
                Err(e) => Outcome::Failed(e),
            },
            Ok((Step::Passed, _)) => Outcome::Passed,
            Ok((Step::Dropped, _)) => Outcome::Dropped,
            Ok((Step::Absorbed, _)) => Outcome::Absorbed,
            Err(e) => Outcome::Failed(e),
        }
    }

    /// Run each pending aggregate event through stage 2 (its features) and
    /// hand them to `f`; the pending list is emptied.
    fn each_emitted<T>(
        &mut self,
        mut f: impl FnMut(&mut Core, &ModelSpec, &str, Shape, &[Option<Scalar>]) -> Result<T, EventError>,
    ) -> Vec<Result<T, EventError>> {
        let pending = std::mem::take(&mut self.pending);
        let Some(stage2) = self.stage2.as_mut() else { return Vec::new() };
        let mut none = Vec::new();
        let mut scratch = Scratch::new();
        pending
            .iter()
            .map(|text| {
                let (step, shape) = stage2.run(text, &mut scratch, &mut none)?;
                debug_assert_eq!(step, Step::Features, "stage 2 only extracts features");
                f(&mut self.core, &self.model.spec, text, shape, scratch.features())
            })
            .collect()
    }

    /// The aggregates emitted so far, scored, each as its own text.
    fn take_emitted(&mut self) -> Vec<Result<String, EventError>> {
        let mut text = String::new();
        let lines = self.emitted_lines(&mut text);
        lines
            .into_iter()
            .map(|o| match o {
                Outcome::Scored(s) => Ok(text[s.offset as usize..(s.offset + s.len) as usize].to_string()),
                Outcome::Failed(e) => Err(e),
                _ => unreachable!("aggregates are scored or fail"),
            })
            .collect()
    }

    /// Score a batch: one outcome per event (each scored text its own
    /// string), plus the aggregates emitted.
    pub fn score_batch<S: AsRef<str>>(&mut self, events: &[S]) -> Batch {
        let mut scratch = Scratch::new();
        let outcomes = events
            .iter()
            .map(|e| {
                let e = e.as_ref();
                let mut out = String::with_capacity(e.len() + 256);
                self.score_with(e, &mut scratch, &mut out).map(|_| out)
            })
            .collect();
        let emitted = if self.pending.is_empty() { Vec::new() } else { self.take_emitted() };
        Batch { outcomes, emitted }
    }

    /// Score a batch given as NDJSON text (see [`lines`]): one outcome per
    /// line, the scored texts in one string, each scored event's verdict
    /// beside its place in the text. Lines are found as they are scanned.
    pub fn score_lines(&mut self, events: &str) -> Lines {
        let (text, outcomes, emitted) = self.score_lines_map(events, |o| o, |o| o);
        Lines { text, outcomes, emitted }
    }

    /// [`Self::score_lines`], each outcome turned by `map` as it is made
    /// (the component makes its WIT outcomes so, without a second list),
    /// and each emitted aggregate's by `map_emitted`.
    pub fn score_lines_map<O, E>(
        &mut self,
        events: &str,
        mut map: impl FnMut(Outcome<ScoredLine>) -> O,
        mut map_emitted: impl FnMut(Outcome<ScoredLine>) -> E,
    ) -> (String, Vec<O>, Vec<E>) {
        // Room for every event and its `logsieve` object (~250 bytes), so
        // the text is not moved while it grows.
        let mut text = String::with_capacity(2 * events.len() + 512);
        let mut outcomes = Vec::with_capacity(events.len() / 128 + 1);
        let mut scratch = Scratch::new();
        let fitted = self.check_fitted();
        let mut pos = 0;
        while pos < events.len() {
            let start = text.len();
            let stage = &mut self.stage1;
            let (step, end) = match &fitted {
                Ok(()) => stage.run_line(events, pos, &mut scratch, &mut self.pending),
                Err(e) => (Err(e.clone()), line_end(events, pos)),
            };
            let done = self.finish(step, &events[pos..end], &scratch, &mut text);
            outcomes.push(map(placed(&mut text, start, done)));
            pos = end + 1;
        }
        let emitted = self.emitted_lines(&mut text).into_iter().map(&mut map_emitted).collect();
        (text, outcomes, emitted)
    }

    /// Score the pending aggregates into `text`, each followed by `\n`.
    fn emitted_lines(&mut self, text: &mut String) -> Vec<Outcome<ScoredLine>> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        self.each_emitted(|core, _, event, shape, feats| {
            let start = text.len();
            let done = match core.score_features(event, shape, feats, text) {
                Ok(v) => Outcome::Scored(v),
                Err(e) => Outcome::Failed(e),
            };
            Ok(placed(text, start, done))
        })
        .into_iter()
        .map(|r| r.unwrap_or_else(Outcome::Failed))
        .collect()
    }

    /// End of input: close every open window and score the aggregates (the
    /// WIT `flush-lines`).
    pub fn flush_lines(&mut self) -> Lines {
        self.stage1.flush(&mut self.pending);
        let mut text = String::new();
        let emitted = self.emitted_lines(&mut text);
        Lines { text, outcomes: Vec::new(), emitted }
    }

    /// The vectors the model measures distances on, for a batch given as
    /// [`Self::score_lines`] takes it (the WIT `encode-lines`): each event
    /// goes through the model exactly as it is scored (windows and
    /// sequences advance), and instead of its text its vector is kept.
    pub fn encode_lines(&mut self, events: &str) -> Encoded {
        let mut vectors = Vec::new();
        let mut text = String::new();
        let mut vector_of = |core: &Core, done: Outcome<Verdict>| match done {
            Outcome::Scored(_) if core.last_vector(&mut vectors) => Outcome::Scored(true),
            other => other.map(|_| false),
        };
        let mut outcomes = Vec::with_capacity(events.len() / 128 + 1);
        let mut scratch = Scratch::new();
        let fitted = self.check_fitted();
        let mut pos = 0;
        while pos < events.len() {
            text.clear();
            let (step, end) = match &fitted {
                Ok(()) => self.stage1.run_line(events, pos, &mut scratch, &mut self.pending),
                Err(e) => (Err(e.clone()), line_end(events, pos)),
            };
            let done = self.finish(step, &events[pos..end], &scratch, &mut text);
            outcomes.push(vector_of(&self.core, done));
            pos = end + 1;
        }
        let mut emitted = Vec::new();
        if !self.pending.is_empty() {
            for r in self.each_emitted(|core, _, event, shape, feats| {
                text.clear();
                Ok(match core.score_features(event, shape, feats, &mut text) {
                    Ok(v) => vector_of(core, Outcome::Scored(v)),
                    Err(e) => Outcome::Failed(e),
                })
            }) {
                emitted.push(r.unwrap_or_else(Outcome::Failed));
            }
        }
        let dimension = self.model.dimension().unwrap_or(0);
        Encoded { vectors, dimension, outcomes, emitted }
    }

    /// The vector the last scored event was measured on (see
    /// [`Self::encode_lines`]); `None` for a flow2vec token that had none.
    pub fn last_vector(&self) -> Option<Vec<f64>> {
        let mut v = Vec::new();
        self.core.last_vector(&mut v).then_some(v)
    }

    /// End of input: close all windows and score their aggregates, each as
    /// its own text.
    pub fn flush(&mut self) -> Vec<Result<String, EventError>> {
        self.stage1.flush(&mut self.pending);
        if self.pending.is_empty() { Vec::new() } else { self.take_emitted() }
    }

    /// Extract one event's features (before encoding).
    pub fn extract_one(&mut self, event: &str) -> Extracted {
        self.extract_with(event, &mut Scratch::new())
    }

    fn extract_with<'a>(&mut self, event: &'a str, scratch: &mut Scratch<'a>) -> Extracted {
        let stage = self.train_stage1.as_mut().unwrap_or(&mut self.stage1);
        match stage.run(event, scratch, &mut self.pending) {
            Err(e) => Extracted::Failed(e),
            Ok((Step::Features, _)) => match extract(&self.model.spec, scratch.features()) {
                Ok(v) => Extracted::Features(v),
                Err(e) => Extracted::Failed(e),
            },
            Ok((Step::Passed, _)) => Extracted::Passed,
            Ok((Step::Dropped, _)) => Extracted::Dropped,
            Ok((Step::Absorbed, _)) => Extracted::Absorbed,
        }
    }

    fn extract_emitted(&mut self) -> Vec<Result<Vec<FeatureValue>, EventError>> {
        self.each_emitted(|_, spec, _, _, feats| extract(spec, feats))
    }

    /// Extract a batch.
    pub fn extract_batch<S: AsRef<str>>(&mut self, events: &[S]) -> ExtractBatch {
        let mut scratch = Scratch::new();
        let outcomes = events.iter().map(|e| self.extract_with(e.as_ref(), &mut scratch)).collect();
        ExtractBatch { outcomes, emitted: self.extract_emitted() }
    }

    /// End of input for extraction.
    pub fn flush_extract(&mut self) -> Vec<Result<Vec<FeatureValue>, EventError>> {
        self.train_stage1.as_mut().unwrap_or(&mut self.stage1).flush(&mut self.pending);
        self.extract_emitted()
    }

    /// Window counters.
    pub fn stats(&self) -> StateStats {
        let w = self.stage1.window_stats();
        StateStats { open_windows: w.open as u64, emitted: w.emitted, evicted: w.evicted, late: w.late }
    }

    /// Score one event into a new string (plain scoring; other outcomes are
    /// reported as errors with reason `not_scored`). For tests and tools.
    pub fn score(&mut self, event: &str) -> Result<String, EventError> {
        let mut out = String::with_capacity(event.len() + 256);
        match self.score_into(event, &mut out) {
            Outcome::Scored(_) => Ok(out),
            Outcome::Failed(e) => Err(e),
            other => Err(EventError::new(Reason::NotScored, format!("{:?}", other.map(|_| ())))),
        }
    }
}

/// An outcome whose scored text was appended to `text` at `start`: the
/// text gets its `\n` and the outcome its place; a failed event leaves
/// nothing behind.
#[inline]
fn placed(text: &mut String, start: usize, done: Outcome<Verdict>) -> Outcome<ScoredLine> {
    match done {
        Outcome::Scored(verdict) => {
            let len = text.len() - start;
            text.push('\n');
            Outcome::Scored(ScoredLine { offset: start as u32, len: len as u32, verdict })
        }
        Outcome::Failed(e) => {
            text.truncate(start);
            Outcome::Failed(e)
        }
        Outcome::Passed => Outcome::Passed,
        Outcome::Dropped => Outcome::Dropped,
        Outcome::Absorbed => Outcome::Absorbed,
    }
}

impl Core {
    /// Append the vector the last scored event was measured on: its
    /// encoded features, or (flow2vec) its token's vector; `false` for a
    /// flow2vec token that had none.
    fn last_vector(&self, out: &mut Vec<f64>) -> bool {
        match self.fit.as_ref().and_then(|f| f.flow2vec.as_ref()) {
            Some(f2v) => match self.last_token {
                Some(i) => {
                    out.extend(f2v.vector(i).into_iter().map(f64::from));
                    true
                }
                None => false,
            },
            None => {
                out.extend_from_slice(&self.vector);
                true
            }
        }
    }

    /// Encode, find the nearest centroid, and append the scored event;
    /// returns its verdict.
    ///
    /// The k-means path is kept short and everything else (flow2vec,
    /// k-prototypes' mixed cost, one-hot shares, mismatches, unseen values,
    /// vectors, errors) is out of line: in the component Cranelift keeps a
    /// small function's values in registers where a large one's go to the
    /// stack.
    fn score_features(
        &mut self,
        event: &str,
        shape: Shape,
        feats: &[Option<Scalar>],
        out: &mut String,
    ) -> Result<Verdict, EventError> {
        if self.fit.as_ref().is_some_and(|f| f.flow2vec.is_some()) {
            return self.score_flow2vec(event, shape, feats, out);
        }
        let fit = self.fit.as_ref().expect("checked by the caller");
        self.unseen.clear();
        fit.encoder.encode_slots(feats, &mut self.vector, &mut self.unseen)?;
        if fit.forest.is_some() {
            return self.score_forest(event, shape, out);
        }
        let x = &self.vector;
        let dim = x.len();

        // Nearest centroid; ties go to the lowest index. `best_d` is the
        // value compared: the squared distance (k-means) or the cost.
        let (best, best_d) = match &fit.metric {
            Metric::Euclidean => nearest::euclidean(x, &fit.centroids),
            Metric::Mixed { categorical, gamma, .. } => nearest::mixed(x, &fit.centroids, categorical, *gamma),
        };
        if !best_d.is_finite() {
            return Err(too_large(fit, x, &self.features));
        }
        let distance = match fit.metric {
            Metric::Euclidean => best_d.sqrt(),
            Metric::Mixed { .. } => best_d,
        };
        // cblof: an event of a small cluster is measured against the
        // nearest large one (and explained by it).
        let against = match &fit.cblof {
            Some((large, to, _)) if !large[best] => Some(nearest_large(fit, to, x)),
            _ => None,
        };
        let (scored, explained, explained_d) = match (against, &fit.cblof) {
            (Some((j, d, compared)), Some((.., w))) => (nearest::scored_distance(distance, d, *w), j, compared),
            _ => (distance, best, best_d),
        };
        let w = &self.writer;
        let reasons = Reasons::NONE
            .with(Reasons::FAR_FROM_CENTROID, scored > w.threshold(best))
            .with(Reasons::RARE_CLUSTER, fit.rare[best])
            .with(Reasons::UNSEEN_VALUE, !self.unseen.is_empty());
        let verdict = w.open(out, &event[..shape.close], shape.keys > 0, best, distance, scored, reasons);
        if let Some((j, d, _)) = against {
            w.nearest_large(out, j, d);
        }
        let (best, best_d) = (explained, explained_d);
        let centroid = &fit.centroids[best * dim..(best + 1) * dim];
        if self.options.top_features > 0 {
            self.contrib.clear();
            if best_d > 0.0 {
                let top = self.options.top_features as usize;
                if fit.one_per_feature && matches!(fit.metric, Metric::Euclidean) {
                    // Every feature one coordinate: its share is its term.
                    for (f, (a, b)) in x.iter().zip(centroid).enumerate() {
                        let s = (a - b) * (a - b);
                        if s > 0.0 {
                            keep_top(&mut self.contrib, top, (s / best_d, f));
                        }
                    }
                } else {
                    shares_by_range(&mut self.contrib, top, fit, x, centroid, best_d);
                }
            }
            w.top_features(out, &self.contrib);
        }
        if let Metric::Mixed { categorical, vocabulary_json, .. } = &fit.metric {
            w.mismatches(out, x, centroid, categorical, vocabulary_json, &self.unseen);
        }
        if !self.unseen.is_empty() {
            w.unseen(out, &self.unseen);
        }
        if self.options.emit_vector {
            w.vector(out, x.iter().copied());
        }
        w.close(out);
        Ok(verdict)
    }

    /// [`Self::score_features`] for an isolation forest: the encoded vector's
    /// anomaly score against the threshold, no cluster; `top_features` are
    /// each feature's share of the isolation (the bits of the splits on its
    /// coordinates along the event's paths).
    #[inline(never)]
    fn score_forest(&mut self, event: &str, shape: Shape, out: &mut String) -> Result<Verdict, EventError> {
        let fit = self.fit.as_ref().expect("checked by the caller");
        let (forest, threshold) = fit.forest.as_ref().expect("checked by the caller");
        let x = &self.vector;
        let top = self.options.top_features as usize;
        let s = if top > 0 {
            self.shares.resize(fit.ranges.len(), 0.0);
            forest.score_explained(x, &fit.ranges, &mut self.shares).score
        } else {
            forest.score(x).score
        };
        let w = &self.writer;
        let reasons = Reasons::NONE
            .with(Reasons::FAR_FROM_CENTROID, s > *threshold)
            .with(Reasons::UNSEEN_VALUE, !self.unseen.is_empty());
        let verdict = w.open_isolated(out, &event[..shape.close], shape.keys > 0, s, *threshold, reasons);
        if top > 0 {
            self.contrib.clear();
            for (f, &share) in self.shares.iter().enumerate() {
                if share > 0.0 {
                    keep_top(&mut self.contrib, top, (share, f));
                }
            }
            w.top_features(out, &self.contrib);
        }
        if !self.unseen.is_empty() {
            w.unseen(out, &self.unseen);
        }
        if self.options.emit_vector {
            w.vector(out, x.iter().copied());
        }
        w.close(out);
        Ok(verdict)
    }

    /// [`Self::score_features`] for a flow2vec model.
    #[inline(never)]
    fn score_flow2vec(
        &mut self,
        event: &str,
        shape: Shape,
        feats: &[Option<Scalar>],
        out: &mut String,
    ) -> Result<Verdict, EventError> {
        let f2v = self.fit.as_mut().and_then(|f| f.flow2vec.as_mut()).expect("checked by the caller");
        let (t, seq) = f2v.score(&self.features, feats, &mut self.token)?;
        self.last_token = t.scored;
        let fit = self.fit.as_ref().expect("checked by the caller");
        let f2v = fit.flow2vec.as_ref().expect("just used");
        let w = &self.writer;
        let unusual = seq.as_ref().is_some_and(|s| s.distance > s.threshold);
        let head = &event[..shape.close];
        let verdict = match t.scored {
            Some(i) => {
                let (c, d) = (f2v.label(i), f2v.distance(i));
                let reasons = Reasons::NONE
                    .with(Reasons::FAR_FROM_CENTROID, d > w.threshold(c))
                    .with(Reasons::RARE_CLUSTER, fit.rare[c])
                    .with(Reasons::UNSEEN_FLOW, t.unseen)
                    .with(Reasons::UNUSUAL_SEQUENCE, unusual);
                w.open(out, head, shape.keys > 0, c, d, d, reasons)
            }
            None => {
                let reasons =
                    Reasons::NONE.with(Reasons::UNSEEN_FLOW, t.unseen).with(Reasons::UNUSUAL_SEQUENCE, unusual);
                w.open_unclustered(out, head, shape.keys > 0, reasons)
            }
        };
        w.token(out, &self.token, t.relative.map(|r| f2v.token(r)), seq.as_ref());
        if self.options.emit_vector
            && let Some(i) = t.scored
        {
            w.vector(out, f2v.vector(i).into_iter().map(f64::from));
        }
        w.close(out);
        Ok(verdict)
    }
}

/// cblof: the large cluster nearest to `x`, its distance and the value
/// compared (squared distance or cost, for the explanation).
#[inline(never)]
fn nearest_large(fit: &Fit, to: &LargeClusters, x: &[f64]) -> (usize, f64, f64) {
    let measure = fit.metric.measure();
    let (j, d) = to.nearest(x, measure);
    let compared = match measure {
        Measure::Euclidean => d * d,
        Measure::Mixed { .. } => d,
    };
    (j, d, compared)
}

/// The error for a vector whose distance overflows, naming the feature
/// whose scaled value overflows when squared.
#[cold]
#[inline(never)]
fn too_large(fit: &Fit, x: &[f64], features: &[logsieve_artifact::FeatureSpec]) -> EventError {
    let culprit = fit.ranges.iter().position(|r| x[r.clone()].iter().any(|v| !(v * v).is_finite()));
    let detail = match culprit.and_then(|f| features.get(f)) {
        Some(f) => format!(
            "feature '{}' is too large to score: its scaled value overflows the distance (a log1p feature would \
             keep it in range)",
            f.name()
        ),
        None => "the event's features are too large to score (distance overflows)".to_string(),
    };
    EventError::new(Reason::NonFinite, detail)
}

/// The `top` largest shares of the distance to `centroid` by feature, where
/// a feature spans a range of coordinates (one-hot) or is a categorical
/// code (k-prototypes: `gamma` when it differs).
#[inline(never)]
fn shares_by_range(contrib: &mut Vec<(f64, usize)>, top: usize, fit: &Fit, x: &[f64], centroid: &[f64], best_d: f64) {
    for (f, r) in fit.ranges.iter().enumerate() {
        let s: f64 = match &fit.metric {
            Metric::Mixed { categorical, gamma, .. } if categorical[f] => {
                if x[f] != centroid[f] {
                    *gamma
                } else {
                    0.0
                }
            }
            _ => r.clone().map(|j| (x[j] - centroid[j]) * (x[j] - centroid[j])).sum(),
        };
        if s > 0.0 {
            keep_top(contrib, top, (s / best_d, f));
        }
    }
}

/// Insert `c` into `top`, the at most `k` largest shares so far, largest
/// first; among equal shares the earlier feature stays first (features come
/// in spec order). The same list as a stable sort of all then the first `k`,
/// in a few comparisons per feature.
#[inline]
fn keep_top(top: &mut Vec<(f64, usize)>, k: usize, c: (f64, usize)) {
    if top.len() < k {
        top.push(c);
    } else if top.last().is_some_and(|last| last.0 < c.0) {
        top[k - 1] = c;
    } else {
        return;
    }
    // Move it up past the smaller shares (a few elements: no memmove).
    let mut i = top.len() - 1;
    while i > 0 && top[i - 1].0 < c.0 {
        top[i] = top[i - 1];
        i -= 1;
    }
    top[i] = c;
}

#[cfg(test)]
mod tests {
    use super::*;
    use logsieve_artifact::{Cluster, FeatureKind, FeatureSpec, Fitted, ModelKind, ModelParams, TrainingMeta, encode};
    use serde_json::Value;

    fn cat(field: &str) -> FeatureSpec {
        FeatureSpec { field: field.into(), name: None, kind: FeatureKind::Categorical, log1p: false, missing: None }
    }

    fn num(field: &str) -> FeatureSpec {
        FeatureSpec { field: field.into(), name: None, kind: FeatureKind::Numeric, log1p: false, missing: None }
    }

    fn vocab(values: &[&str]) -> FeatureState {
        FeatureState::Categorical {
            vocabulary: values.iter().map(|v| v.to_string()).collect(),
            one_hot_scaling: vec![],
        }
    }

    /// A cluster; a rare one holds 1 training row, another 9 (the shares
    /// are set by [`fitted`], against `rare_share` 0.5).
    fn cluster(centroid: Vec<f64>, threshold: f64, rare: bool) -> Cluster {
        let size = if rare { 1 } else { 9 };
        Cluster { centroid, size, share: 0.0, threshold, rare, mean_distance: 1.0, max_distance: 2.0 }
    }

    /// The spec of hand-set models: `rare_share` 0.5.
    fn spec_of(kind: ModelKind, k: usize, features: Vec<FeatureSpec>) -> logsieve_artifact::ValidSpec {
        let mut spec = ModelSpec::new(ModelParams::new(kind, k as u32), features);
        spec.scoring.rare_share = 0.5;
        spec.validate().unwrap()
    }

    /// Learned state with consistent sizes, shares and rows.
    fn fitted(states: Vec<FeatureState>, mut clusters: Vec<Cluster>, gamma: Option<f64>) -> Fitted {
        let rows: u64 = clusters.iter().map(|c| c.size).sum();
        for c in &mut clusters {
            c.share = c.size as f64 / rows as f64;
        }
        Fitted {
            features: states,
            clusters,
            gamma,
            embedding: None,
            cblof: None,
            isolation: None,
            training: TrainingMeta { rows, ..TrainingMeta::default() },
        }
    }

    /// A model of `kind` with hand-set state, encoded and loaded.
    fn scorer(
        kind: ModelKind,
        features: Vec<FeatureSpec>,
        states: Vec<FeatureState>,
        clusters: Vec<Cluster>,
        gamma: Option<f64>,
    ) -> Scorer {
        let model =
            Model { spec: spec_of(kind, clusters.len(), features), fitted: Some(fitted(states, clusters, gamma)) };
        Scorer::new(&encode(&model).expect("a valid model"), Options { top_features: 5, emit_vector: true }).unwrap()
    }

    fn verdict(s: &mut Scorer, event: &str) -> Value {
        let out: Value = serde_json::from_str(&s.score(event).unwrap()).unwrap();
        out["logsieve"].clone()
    }

    fn kmodes() -> Scorer {
        // Modes: (tcp, S0, a) and (udp, S0, b); "c" is a single-valued column.
        scorer(
            ModelKind::Kmodes,
            vec![cat("proto"), cat("state"), cat("c")],
            vec![vocab(&["tcp", "udp"]), vocab(&["S0", "SF", "missing"]), vocab(&["only"])],
            vec![cluster(vec![0.0, 0.0, 0.0], 1.0, false), cluster(vec![1.0, 0.0, 0.0], 1.0, true)],
            None,
        )
    }

    #[test]
    fn kmodes_distance_is_the_number_of_fields_that_differ_from_the_mode() {
        let mut s = kmodes();
        let v = verdict(&mut s, r#"{"proto":"udp","state":"S0","c":"only"}"#);
        assert_eq!((v["cluster"].as_u64(), v["distance"].as_f64()), (Some(1), Some(0.0)));
        assert_eq!(v["reasons"], serde_json::json!(["rare_cluster"]));
        assert_eq!(v["mismatches"], serde_json::json!([]));
        assert_eq!(v["vector"], serde_json::json!([1.0, 0.0, 0.0]));
        // Two fields differ from mode 0: distance 2 > threshold 1.
        let v = verdict(&mut s, r#"{"proto":"tcp","state":"SF"}"#);
        assert_eq!((v["cluster"].as_u64(), v["distance"].as_f64()), (Some(0), Some(2.0)));
        assert_eq!(v["reasons"], serde_json::json!(["far_from_centroid", "unseen_value"]));
        // A missing field is the category "missing" when the vocabulary has
        // it; here "c" has only "only", so "missing" is unseen.
        assert_eq!(
            v["mismatches"],
            serde_json::json!([
                {"feature": "state", "value": "SF", "expected": "S0"},
                {"feature": "c", "value": "missing", "expected": "only"}
            ])
        );
        let shares: Vec<f64> =
            v["top_features"].as_array().unwrap().iter().map(|t| t["share"].as_f64().unwrap()).collect();
        assert_eq!(shares, vec![0.5, 0.5]);
    }

    #[test]
    fn kmodes_ties_go_to_the_lowest_cluster_and_unseen_values_differ_from_every_mode() {
        let mut s = kmodes();
        // "sctp" is unseen: code -1, one mismatch against both modes; the
        // tie goes to cluster 0.
        let v = verdict(&mut s, r#"{"proto":"sctp","state":"S0","c":"only"}"#);
        assert_eq!((v["cluster"].as_u64(), v["distance"].as_f64()), (Some(0), Some(1.0)));
        assert_eq!(v["vector"], serde_json::json!([-1.0, 0.0, 0.0]));
        assert_eq!(v["reasons"], serde_json::json!(["unseen_value"]));
        assert_eq!(v["mismatches"], serde_json::json!([{"feature": "proto", "value": "sctp", "expected": "tcp"}]));
        assert_eq!(v["unseen"], serde_json::json!([{"feature": "proto", "value": "sctp"}]));
        // Numbers are categories by their text; a wrong type is an error.
        let err = s.score(r#"{"proto":["tcp"]}"#).unwrap_err();
        assert_eq!(err.reason, "wrong_type");
    }

    #[test]
    fn kprototypes_cost_adds_gamma_per_mismatch_to_the_squared_numeric_distance() {
        let mut s = scorer(
            ModelKind::Kprototypes,
            vec![num("bytes"), cat("proto")],
            vec![FeatureState::Numeric { offset: 0.0, scale: 2.0, fill: 0.0 }, vocab(&["tcp", "udp"])],
            vec![cluster(vec![0.0, 0.0], 10.0, false), cluster(vec![3.0, 1.0], 10.0, false)],
            Some(0.5),
        );
        // bytes 4 scales to 2: cluster 0 costs 4 + 0.5, cluster 1 costs 1 + 0.5.
        let v = verdict(&mut s, r#"{"bytes":4,"proto":"tcp"}"#);
        assert_eq!((v["cluster"].as_u64(), v["distance"].as_f64()), (Some(1), Some(1.5)));
        let top = &v["top_features"];
        assert_eq!(top[0]["feature"], "bytes");
        // Shares are written to 4 decimals.
        assert_eq!(top[0]["share"].as_f64().unwrap(), 0.6667);
        assert_eq!(top[1]["share"].as_f64().unwrap(), 0.3333);
        assert_eq!(v["mismatches"], serde_json::json!([{"feature": "proto", "value": "tcp", "expected": "udp"}]));
    }

    #[test]
    fn inconsistent_code_models_are_refused() {
        let spec_model = |clusters: Vec<Cluster>, gamma: Option<f64>, kind: ModelKind| {
            let features = match kind {
                ModelKind::Kprototypes => vec![num("n"), cat("proto")],
                _ => vec![cat("proto"), cat("state")],
            };
            let states = match kind {
                ModelKind::Kprototypes => {
                    vec![FeatureState::Numeric { offset: 0.0, scale: 1.0, fill: 0.0 }, vocab(&["tcp", "udp"])]
                }
                _ => vec![vocab(&["tcp", "udp"]), vocab(&["S0"])],
            };
            let m = Model { spec: spec_of(kind, 1, features), fitted: Some(fitted(states, clusters, gamma)) };
            m.validate().map_err(|e| e.join("; "))
        };
        let e = spec_model(vec![cluster(vec![2.0, 0.0], 1.0, false)], None, ModelKind::Kmodes).unwrap_err();
        assert!(e.contains("code 2, not one of the 2 vocabulary indices"), "{e}");
        let e = spec_model(vec![cluster(vec![0.5, 0.0], 1.0, false)], None, ModelKind::Kmodes).unwrap_err();
        assert!(e.contains("code 0.5"), "{e}");
        let e = spec_model(vec![cluster(vec![0.0, 0.0], 1.0, false)], None, ModelKind::Kprototypes).unwrap_err();
        assert!(e.contains("needs a finite gamma"), "{e}");
        let e = spec_model(vec![cluster(vec![0.0, 0.0], 1.0, false)], Some(1.0), ModelKind::Kmodes).unwrap_err();
        assert!(e.contains("has no gamma"), "{e}");
        assert!(spec_model(vec![cluster(vec![0.0, 1.0], 1.0, false)], Some(0.5), ModelKind::Kprototypes).is_ok());
    }

    #[test]
    fn keep_top_is_a_stable_sort_then_the_first_k() {
        let mut state = 7u64;
        for case in 0..2000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let n = (state >> 33) as usize % 12;
            // Few distinct shares, so ties are common.
            let shares: Vec<f64> = (0..n)
                .map(|i| {
                    let r = state.rotate_left(i as u32 * 5);
                    f64::from((r % 4) as u32) / 4.0 + 0.125
                })
                .collect();
            for k in 1..6 {
                let mut want: Vec<(f64, usize)> = shares.iter().copied().zip(0..).collect();
                want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                want.truncate(k);
                let mut top = Vec::new();
                for (f, &s) in shares.iter().enumerate() {
                    keep_top(&mut top, k, (s, f));
                }
                assert_eq!(top, want, "case {case}, k {k}: {shares:?}");
            }
        }
    }
}
