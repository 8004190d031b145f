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

use std::fmt::Write as _;

use logsieve_artifact::{DecodeError, FeatureState, Model, ModelSpec, decode};

use crate::event::{EventError, Scalar, Shape};
use crate::features::{Encoder, FeatureValue, Unseen, extract};
use crate::flow2vec::Flow2VecFit;
use crate::reason::Reason;
use crate::recipe::{Recipe, Scratch, Step, line_end};

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
    thresholds: Vec<f64>,
    /// Per cluster, `"logsieve":{"cluster":c,"distance":` (written once
    /// here rather than per event, as the other fragments).
    cluster_head: Vec<String>,
    /// Per cluster, `,"threshold":t,"score":`.
    threshold_json: Vec<String>,
    rare: Vec<bool>,
    ranges: Vec<std::ops::Range<usize>>,
    /// Every feature is one coordinate, in order (numeric features only).
    one_per_feature: bool,
    metric: Metric,
    /// flow2vec models: the token look-up.
    flow2vec: Option<Flow2VecFit>,
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
    fn new(model: &Model, fitted: &logsieve_artifact::Fitted) -> Metric {
        if model.spec.model.kind.one_hot() {
            return Metric::Euclidean;
        }
        let json = |v: &String| serde_json::to_string(v).expect("a string serializes");
        let vocabulary_json = fitted
            .features
            .iter()
            .map(|st| match st {
                FeatureState::Categorical { vocabulary } => vocabulary.iter().map(json).collect(),
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

/// What became of one event (the WIT `outcome`).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The scored event text.
    Scored(String),
    /// Did not match `[[where]]`; to be passed on unchanged.
    Passed,
    /// Did not match `[[where]]`; dropped.
    Dropped,
    /// Taken into a window.
    Absorbed,
    /// Could not be used.
    Failed(EventError),
}

/// The result of [`Scorer::score_batch`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// One per input event.
    pub outcomes: Vec<Outcome>,
    /// Scored aggregate events of windows closed during the batch.
    pub emitted: Vec<Result<String, EventError>>,
}

/// What became of one event of [`Scorer::score_text`] (the WIT
/// `text-outcome`).
#[derive(Debug, Clone, PartialEq)]
pub enum TextOutcome {
    /// Scored: the next this many bytes of [`TextBatch::text`] (each
    /// followed by one `\n`, not counted).
    Scored(u32),
    /// As [`Outcome::Passed`].
    Passed,
    /// As [`Outcome::Dropped`].
    Dropped,
    /// As [`Outcome::Absorbed`].
    Absorbed,
    /// As [`Outcome::Failed`].
    Failed(EventError),
}

/// The result of [`Scorer::score_text`] (the WIT `scored-text`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextBatch {
    /// The scored events' texts, in order, each followed by `\n`.
    pub text: String,
    /// One per input line.
    pub outcomes: Vec<TextOutcome>,
    /// Scored aggregate events of windows closed during the batch.
    pub emitted: Vec<Result<String, EventError>>,
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
    id: String,
    options: Options,
    /// Feature names, already JSON-escaped with quotes.
    names_json: Vec<String>,
    /// Per feature, `{"feature":"name","share":` (top features).
    share_head: Vec<String>,
    /// `,"anomaly":…,"reasons":[…]` for each combination of the reasons
    /// `far_from_centroid` (bit 0), `rare_cluster` (1), `unseen_value` (2).
    verdicts: [String; 8],
    /// `,"model":"id"}}`: the end of every scored event.
    tail: String,
    /// The spec's features (flow2vec builds its token from them).
    features: Vec<logsieve_artifact::FeatureSpec>,
    fit: Option<Fit>,
    // Buffers reused across events.
    vector: Vec<f64>,
    contrib: Vec<(f64, usize)>,
    unseen: Vec<Unseen>,
    token: String,
}

/// A loaded model, ready to extract and (if fitted) score.
pub struct Scorer {
    model: Model,
    core: Core,
    /// The per-event plan.
    stage1: Recipe,
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
        let stage2 = stage1.aggregates().then(|| Recipe::features_only(&model.spec));
        let names_json: Vec<String> =
            model.spec.features.iter().map(|f| serde_json::to_string(f.name()).expect("a string serializes")).collect();
        let fit = model.fitted.as_ref().map(|fitted| {
            let encoder = Encoder::new(&model.spec, fitted);
            let ranges = encoder.ranges();
            Fit {
                flow2vec: Flow2VecFit::new(&model.spec, fitted),
                metric: Metric::new(&model, fitted),
                centroids: fitted.clusters.iter().flat_map(|c| c.centroid.iter().copied()).collect(),
                thresholds: fitted.clusters.iter().map(|c| c.threshold).collect(),
                cluster_head: (0..fitted.clusters.len())
                    .map(|c| format!("\"{}\":{{\"cluster\":{c},\"distance\":", crate::event::OUTPUT_KEY))
                    .collect(),
                threshold_json: fitted
                    .clusters
                    .iter()
                    .map(|c| {
                        let mut t = String::from(",\"threshold\":");
                        push_f64(&mut t, c.threshold);
                        t.push_str(",\"score\":");
                        t
                    })
                    .collect(),
                rare: fitted.clusters.iter().map(|c| c.rare).collect(),
                one_per_feature: ranges.iter().enumerate().all(|(f, r)| *r == (f..f + 1)),
                ranges,
                encoder,
            }
        });
        let dim = fit.as_ref().map_or(0, |f| f.encoder.dimension());
        let share_head = names_json.iter().map(|n| format!("{{\"feature\":{n},\"share\":")).collect();
        let verdicts = std::array::from_fn(|bits| {
            let mut v = String::new();
            push_verdict(
                &mut v,
                &[
                    (bits & 1 != 0, "far_from_centroid"),
                    (bits & 2 != 0, "rare_cluster"),
                    (bits & 4 != 0, "unseen_value"),
                ],
            );
            v
        });
        let tail = format!(",\"model\":\"{}\"}}}}", decoded.id);
        let core = Core {
            id: decoded.id,
            options,
            share_head,
            verdicts,
            tail,
            names_json,
            features: model.spec.features.clone(),
            vector: vec![0.0; dim],
            contrib: Vec::new(),
            unseen: Vec::new(),
            token: String::new(),
            fit,
        };
        Ok(Scorer { model, core, stage1, stage2, pending: Vec::new() })
    }

    /// The model's id (checksum prefix).
    pub fn id(&self) -> &str {
        &self.core.id
    }

    /// The decoded model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Describe the model.
    pub fn info(&self) -> ModelInfo {
        let fit = &self.core.fit;
        ModelInfo {
            id: self.core.id.clone(),
            kind: self.model.spec.model.kind.as_str().to_string(),
            format_version: logsieve_artifact::FORMAT_VERSION,
            features: self.model.spec.features.iter().map(|f| f.name().to_string()).collect(),
            dimension: self.model.dimension().unwrap_or(0) as u32,
            n_clusters: fit.as_ref().map_or(0, |f| f.thresholds.len() as u32),
        }
    }

    /// Score one event into `out` (appended) when it is scored; other
    /// outcomes leave `out` as it was. Aggregates of windows that close are
    /// kept for [`Self::take_emitted`].
    pub fn score_into(&mut self, event: &str, out: &mut String) -> Result<Kind, EventError> {
        self.score_with(event, &mut Scratch::new(), out)
    }

    /// [`Self::score_into`] with the caller's buffers.
    fn score_with<'a>(
        &mut self,
        event: &'a str,
        scratch: &mut Scratch<'a>,
        out: &mut String,
    ) -> Result<Kind, EventError> {
        self.check_fitted()?;
        let (step, shape) = self.stage1.run(event, scratch, &mut self.pending)?;
        self.finish(step, event, shape, scratch, out)
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
        step: Step,
        event: &str,
        shape: Shape,
        scratch: &Scratch,
        out: &mut String,
    ) -> Result<Kind, EventError> {
        match step {
            Step::Features => {
                self.core.score_features(event, shape, scratch.features(), out)?;
                Ok(Kind::Scored)
            }
            Step::Passed => Ok(Kind::Passed),
            Step::Dropped => Ok(Kind::Dropped),
            Step::Absorbed => Ok(Kind::Absorbed),
        }
    }

    /// Score the aggregate events emitted so far.
    pub fn take_emitted(&mut self) -> Vec<Result<String, EventError>> {
        self.each_emitted(|core, _, text, shape, feats| {
            let mut out = String::with_capacity(text.len() + 256);
            core.score_features(text, shape, feats, &mut out)?;
            Ok(out)
        })
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

    /// Score a batch: one outcome per event, plus the aggregates emitted.
    pub fn score_batch<S: AsRef<str>>(&mut self, events: &[S]) -> Batch {
        let mut scratch = Scratch::new();
        let outcomes = events
            .iter()
            .map(|e| {
                let e = e.as_ref();
                let mut out = String::with_capacity(e.len() + 256);
                match self.score_with(e, &mut scratch, &mut out) {
                    Ok(Kind::Scored) => Outcome::Scored(out),
                    Ok(Kind::Passed) => Outcome::Passed,
                    Ok(Kind::Dropped) => Outcome::Dropped,
                    Ok(Kind::Absorbed) => Outcome::Absorbed,
                    Err(err) => Outcome::Failed(err),
                }
            })
            .collect();
        let emitted = if self.pending.is_empty() { Vec::new() } else { self.take_emitted() };
        Batch { outcomes, emitted }
    }

    /// Score a batch given as NDJSON text (see [`lines`]): the outcomes of
    /// [`Self::score_batch`] on its lines, with every scored text in one
    /// string. Lines are found as they are scanned.
    pub fn score_text(&mut self, events: &str) -> TextBatch {
        let (text, outcomes, emitted) = self.score_text_map(events, |o| o);
        TextBatch { text, outcomes, emitted }
    }

    /// [`Self::score_text`], each outcome turned by `map` as it is made (the
    /// component makes its WIT outcomes so, without a second list).
    #[allow(clippy::type_complexity)]
    pub fn score_text_map<O>(
        &mut self,
        events: &str,
        mut map: impl FnMut(TextOutcome) -> O,
    ) -> (String, Vec<O>, Vec<Result<String, EventError>>) {
        // Room for every event and its `logsieve` object (~250 bytes), so
        // the text is not moved while it grows.
        let mut text = String::with_capacity(2 * events.len() + 512);
        let mut outcomes = Vec::with_capacity(events.len() / 128 + 1);
        let mut scratch = Scratch::new();
        let mut pos = 0;
        while pos < events.len() {
            let start = text.len();
            let (scanned, end) = match self.check_fitted() {
                Ok(()) => self.stage1.run_line(events, pos, &mut scratch, &mut self.pending),
                Err(e) => (Err(e), line_end(events, pos)),
            };
            let line = &events[pos..end];
            let done = scanned.and_then(|(step, shape)| self.finish(step, line, shape, &scratch, &mut text));
            outcomes.push(map(match done {
                Ok(Kind::Scored) => {
                    let len = text.len() - start;
                    text.push('\n');
                    TextOutcome::Scored(len as u32)
                }
                Ok(Kind::Passed) => TextOutcome::Passed,
                Ok(Kind::Dropped) => TextOutcome::Dropped,
                Ok(Kind::Absorbed) => TextOutcome::Absorbed,
                Err(err) => {
                    text.truncate(start);
                    TextOutcome::Failed(err)
                }
            }));
            pos = end + 1;
        }
        let emitted = if self.pending.is_empty() { Vec::new() } else { self.take_emitted() };
        (text, outcomes, emitted)
    }

    /// End of input: close all windows and score their aggregates.
    pub fn flush(&mut self) -> Vec<Result<String, EventError>> {
        self.stage1.flush(&mut self.pending);
        if self.pending.is_empty() { Vec::new() } else { self.take_emitted() }
    }

    /// Extract one event's features (before encoding).
    pub fn extract_one(&mut self, event: &str) -> Extracted {
        self.extract_with(event, &mut Scratch::new())
    }

    fn extract_with<'a>(&mut self, event: &'a str, scratch: &mut Scratch<'a>) -> Extracted {
        match self.stage1.run(event, scratch, &mut self.pending) {
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
        self.stage1.flush(&mut self.pending);
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
        match self.score_into(event, &mut out)? {
            Kind::Scored => Ok(out),
            other => Err(EventError::new(Reason::NotScored, format!("{other:?}"))),
        }
    }
}

/// What [`Scorer::score_into`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Scored; the output was appended.
    Scored,
    /// Passed on unscored.
    Passed,
    /// Dropped.
    Dropped,
    /// Taken into a window.
    Absorbed,
}

impl Core {
    /// Encode, find the nearest centroid, and append the scored event.
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
    ) -> Result<(), EventError> {
        if self.fit.as_ref().is_some_and(|f| f.flow2vec.is_some()) {
            return self.score_flow2vec(event, shape, feats, out);
        }
        let fit = self.fit.as_ref().expect("checked by the caller");
        self.unseen.clear();
        fit.encoder.encode_slots(feats, &mut self.vector, &mut self.unseen)?;
        let x = &self.vector;
        let dim = x.len();

        // Nearest centroid; ties go to the lowest index. `best_d` is the
        // value compared: the squared distance (k-means) or the cost.
        let (best, best_d) = match &fit.metric {
            Metric::Euclidean => nearest(x, &fit.centroids),
            Metric::Mixed { categorical, gamma, .. } => nearest_mixed(x, &fit.centroids, categorical, *gamma),
        };
        if !best_d.is_finite() {
            return Err(too_large(fit, x, &self.features));
        }
        let distance = match fit.metric {
            Metric::Euclidean => best_d.sqrt(),
            Metric::Mixed { .. } => best_d,
        };
        let threshold = fit.thresholds[best];
        let far = distance > threshold;
        let rare = fit.rare[best];
        let unseen = !self.unseen.is_empty();

        let start = out.len();
        out.push_str(&event[..shape.close]);
        if shape.keys > 0 {
            out.push(',');
        }
        push_frag(out, &fit.cluster_head[best]);
        push_f64(out, distance);
        push_frag(out, &fit.threshold_json[best]);
        push_f64(out, distance / threshold);
        push_frag(out, &self.verdicts[usize::from(far) | usize::from(rare) << 1 | usize::from(unseen) << 2]);
        let centroid = &fit.centroids[best * dim..(best + 1) * dim];
        if self.options.top_features > 0 {
            push_frag(out, ",\"top_features\":[");
            if best_d > 0.0 {
                let top = self.options.top_features as usize;
                self.contrib.clear();
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
                for (n, &(share, f)) in self.contrib.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    push_frag(out, &self.share_head[f]);
                    push_share(out, share);
                }
            }
            out.push(']');
        }
        if let Metric::Mixed { categorical, vocabulary_json, .. } = &fit.metric {
            push_mismatches(out, x, centroid, categorical, vocabulary_json, &self.names_json, &self.unseen);
        }
        if unseen {
            push_unseen(out, &self.unseen, &self.names_json);
        }
        if self.options.emit_vector {
            push_vector(out, x);
        }
        push_frag(out, &self.tail);
        debug_assert!(out.len() > start);
        Ok(())
    }

    /// [`Self::score_features`] for a flow2vec model.
    #[inline(never)]
    fn score_flow2vec(
        &mut self,
        event: &str,
        shape: Shape,
        feats: &[Option<Scalar>],
        out: &mut String,
    ) -> Result<(), EventError> {
        let f2v = self.fit.as_mut().and_then(|f| f.flow2vec.as_mut()).expect("checked by the caller");
        let (t, seq) = f2v.score(&self.features, feats, &mut self.token)?;
        let fit = self.fit.as_ref().expect("checked by the caller");
        let f2v = fit.flow2vec.as_ref().expect("just used");
        let verdict = TokenVerdict { t: &t, seq: seq.as_ref(), token: &self.token };
        push_token_verdict(out, &event[..shape.close], shape.keys > 0, fit, f2v, &verdict, self);
        Ok(())
    }
}

/// The nearest centroid by k-prototypes' cost: squared distance on the
/// numeric coordinates plus `gamma` per categorical mismatch; ties go to the
/// lowest index.
#[inline(never)]
fn nearest_mixed(x: &[f64], centroids: &[f64], categorical: &[bool], gamma: f64) -> (usize, f64) {
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

/// Append `,"mismatches":[…]`: each categorical feature whose value differs
/// from the mode of the cluster, with both values.
#[inline(never)]
fn push_mismatches(
    out: &mut String,
    x: &[f64],
    centroid: &[f64],
    categorical: &[bool],
    vocabulary_json: &[Vec<String>],
    names_json: &[String],
    unseen: &[Unseen],
) {
    out.push_str(",\"mismatches\":[");
    let mut first = true;
    for (f, &cat) in categorical.iter().enumerate() {
        if !cat || x[f] == centroid[f] {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"feature\":");
        out.push_str(&names_json[f]);
        out.push_str(",\"value\":");
        match vocabulary_json[f].get(x[f] as usize).filter(|_| x[f] >= 0.0) {
            Some(v) => out.push_str(v),
            None => {
                let u = unseen.iter().find(|u| u.feature == f).expect("an unseen code is reported");
                out.push_str(&serde_json::to_string(&u.value).expect("a string serializes"));
            }
        }
        out.push_str(",\"expected\":");
        out.push_str(&vocabulary_json[f][centroid[f] as usize]);
        out.push('}');
    }
    out.push(']');
}

/// Append `,"unseen":[…]`: the categorical values outside the vocabulary.
#[cold]
#[inline(never)]
fn push_unseen(out: &mut String, unseen: &[Unseen], names_json: &[String]) {
    out.push_str(",\"unseen\":[");
    for (n, u) in unseen.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str("{\"feature\":");
        out.push_str(&names_json[u.feature]);
        out.push_str(",\"value\":");
        out.push_str(&serde_json::to_string(&u.value).expect("a string serializes"));
        out.push('}');
    }
    out.push(']');
}

/// Append `,"vector":[…]`, the scaled vector (`emit_vector`).
#[inline(never)]
fn push_vector(out: &mut String, x: &[f64]) {
    out.push_str(",\"vector\":[");
    for (n, v) in x.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_f64(out, *v);
    }
    out.push(']');
}

/// A flow2vec event's verdict, for [`push_token_verdict`].
struct TokenVerdict<'a> {
    t: &'a crate::flow2vec::TokenScore,
    seq: Option<&'a crate::flow2vec::SequenceScore>,
    token: &'a str,
}

/// Append a flow2vec verdict: the event up to its closing brace, then
/// `"logsieve":{…}`.
fn push_token_verdict(
    out: &mut String,
    head: &str,
    has_keys: bool,
    fit: &Fit,
    f2v: &Flow2VecFit,
    v: &TokenVerdict,
    core: &Core,
) {
    let (t, token) = (v.t, v.token);
    let unusual = v.seq.is_some_and(|s| s.distance > s.threshold);
    out.push_str(head);
    if has_keys {
        out.push(',');
    }
    out.push_str("\"logsieve\":{\"cluster\":");
    let (mut far, mut rare) = (false, false);
    match t.scored {
        Some(i) => {
            let c = f2v.label(i);
            let d = f2v.distance(i);
            let threshold = fit.thresholds[c];
            far = d > threshold;
            rare = fit.rare[c];
            let _ = write!(out, "{c}");
            out.push_str(",\"distance\":");
            push_f64(out, d);
            out.push_str(",\"threshold\":");
            push_f64(out, threshold);
            out.push_str(",\"score\":");
            push_f64(out, d / threshold);
        }
        None => out.push_str("null,\"distance\":null,\"threshold\":null,\"score\":null"),
    }
    push_verdict(
        out,
        &[(far, "far_from_centroid"), (rare, "rare_cluster"), (t.unseen, "unseen_flow"), (unusual, "unusual_sequence")],
    );
    out.push_str(",\"token\":");
    out.push_str(&serde_json::to_string(token).expect("a string serializes"));
    if let Some(r) = t.relative {
        out.push_str(",\"relative\":");
        out.push_str(&serde_json::to_string(f2v.token(r)).expect("a string serializes"));
    }
    if let Some(s) = v.seq {
        let _ = write!(out, ",\"sequence\":{{\"cluster\":{}", s.cluster);
        out.push_str(",\"distance\":");
        push_f64(out, s.distance);
        out.push_str(",\"threshold\":");
        push_f64(out, s.threshold);
        out.push_str(",\"score\":");
        push_f64(out, s.distance / s.threshold);
        out.push('}');
    }
    if core.options.emit_vector
        && let Some(i) = t.scored
    {
        out.push_str(",\"vector\":[");
        for (n, v) in f2v.vector(i).iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_f64(out, f64::from(*v));
        }
        out.push(']');
    }
    out.push_str(",\"model\":\"");
    out.push_str(&core.id);
    out.push_str("\"}}");
}

/// The nearest of the centroids (row-major, `x.len()` wide) to `x` (ties to
/// the lowest index) and its squared distance, `Σ (x − c)²` summed in
/// coordinate order. For widths up to 16 the loop over coordinates is
/// unrolled at compile time: in the component every loop costs an
/// interruption check each time round.
#[inline]
fn nearest(x: &[f64], centroids: &[f64]) -> (usize, f64) {
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

/// Append `,"anomaly":…,"reasons":[…]`: anomalous when any reason applies;
/// the names of those that do, in the order given.
fn push_verdict(out: &mut String, reasons: &[(bool, &str)]) {
    out.push_str(",\"anomaly\":");
    out.push_str(if reasons.iter().any(|r| r.0) { "true" } else { "false" });
    out.push_str(",\"reasons\":[");
    for (n, (_, name)) in reasons.iter().filter(|r| r.0).enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push('"');
    }
    out.push(']');
}

/// Append a share of the distance (in [0, 1]) rounded to 4 decimals, with
/// trailing zeros dropped: `0.5234`, `0.52`, `1`, `0`, and the `}` that
/// closes its top-feature object. An explanation needs no more digits, and
/// this costs a fraction of a shortest-float format.
fn push_share(out: &mut String, share: f64) {
    // Rounded half away from zero, as `f64::round` (a libm call in wasm);
    // `y - trunc(y)` is exact.
    let y = share.clamp(0.0, 1.0) * 10_000.0;
    let n = y.trunc() as u32 + u32::from(y - y.trunc() >= 0.5);
    let text: &[u8] = match n {
        0 => b"0}",
        10_000.. => b"1}",
        _ => {
            let mut b = *b"0.0000}";
            let digits = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
            for (k, d) in digits.iter().enumerate() {
                b[2 + k] = b'0' + *d as u8;
            }
            let keep = 4 - digits.iter().rev().take_while(|&&d| d == 0).count();
            b[2 + keep] = b'}';
            push_ascii(out, &b[..3 + keep]);
            return;
        }
    };
    push_ascii(out, text);
}

/// Append ASCII bytes (no UTF-8 check: checking costs more than the copy
/// for the few bytes written here). The callers build them from digits and
/// ASCII literals.
#[inline(always)]
fn push_ascii(out: &mut String, bytes: &[u8]) {
    debug_assert!(bytes.is_ascii());
    // SAFETY: ASCII is UTF-8.
    push_frag(out, unsafe { std::str::from_utf8_unchecked(bytes) });
}

/// Append a finite f64 in its shortest round-trip form (valid JSON).
fn push_f64(out: &mut String, v: f64) {
    debug_assert!(v.is_finite());
    push_frag(out, zmij::Buffer::new().format_finite(v));
    crate::event::drop_exponent_plus(out, v);
}

/// The longest text [`push_frag`] copies inline in the component.
#[cfg(any(target_arch = "wasm32", test))]
const FRAG_INLINE_MAX: usize = 64;

/// Append a short fragment of the output (a prepared key, a number's text).
///
/// Natively this is `push_str`. In the component `push_str` is wasm's
/// `memory.copy`, which wasmtime runs as a call out of the guest into the
/// host (bounds checks, a `memmove` call): ~70 instructions, several times
/// what copying a fragment costs. So there a short
/// fragment (up to 64 bytes) is copied inline, as overlapping loads and
/// stores of the widest size that fits.
#[inline(always)]
fn push_frag(out: &mut String, s: &str) {
    #[cfg(target_arch = "wasm32")]
    if s.len() <= FRAG_INLINE_MAX {
        out.reserve(s.len());
        // SAFETY: `reserve` made room for `s.len()` bytes past the end;
        // `copy_short` writes exactly those; `s` is UTF-8, so the string
        // stays UTF-8.
        unsafe {
            let v = out.as_mut_vec();
            copy_short(s.as_ptr(), v.as_mut_ptr().add(v.len()), s.len());
            v.set_len(v.len() + s.len());
        }
        return;
    }
    out.push_str(s);
}

/// Copy `len` ≤ [`FRAG_INLINE_MAX`] bytes from `src` to `dst` (not
/// overlapping) without a loop and without `memory.copy`: the first and
/// the last 32, 16, 8, 4 or 1–2 bytes, which overlap when `len` is not a
/// power of two.
///
/// # Safety
/// `src` is readable and `dst` writable for `len` bytes.
#[cfg(any(target_arch = "wasm32", test))]
#[inline(always)]
unsafe fn copy_short(src: *const u8, dst: *mut u8, len: usize) {
    use std::ptr::{read_unaligned as rd, write_unaligned as wr};
    debug_assert!(len <= FRAG_INLINE_MAX);
    // SAFETY (every arm): both accesses lie within the first `len` bytes.
    unsafe {
        if len >= 32 {
            let (a, b) = (rd(src as *const [u128; 2]), rd(src.add(len - 32) as *const [u128; 2]));
            wr(dst as *mut [u128; 2], a);
            wr(dst.add(len - 32) as *mut [u128; 2], b);
        } else if len >= 16 {
            let (a, b) = (rd(src as *const u128), rd(src.add(len - 16) as *const u128));
            wr(dst as *mut u128, a);
            wr(dst.add(len - 16) as *mut u128, b);
        } else if len >= 8 {
            let (a, b) = (rd(src as *const u64), rd(src.add(len - 8) as *const u64));
            wr(dst as *mut u64, a);
            wr(dst.add(len - 8) as *mut u64, b);
        } else if len >= 4 {
            let (a, b) = (rd(src as *const u32), rd(src.add(len - 4) as *const u32));
            wr(dst as *mut u32, a);
            wr(dst.add(len - 4) as *mut u32, b);
        } else if len > 0 {
            let (a, m, b) = (*src, *src.add(len / 2), *src.add(len - 1));
            *dst = a;
            *dst.add(len / 2) = m;
            *dst.add(len - 1) = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logsieve_artifact::{Cluster, FeatureKind, FeatureSpec, Fitted, ModelKind, ModelParams, TrainingMeta, encode};
    use serde_json::Value;

    #[test]
    fn short_copies_copy_every_length_exactly() {
        let src: Vec<u8> = (0..200u8).collect();
        for len in 0..=FRAG_INLINE_MAX {
            for at in [0, 1, 7, 13] {
                let mut dst = vec![0xAAu8; 100];
                // SAFETY: both buffers hold `at + len` bytes and more.
                unsafe { copy_short(src[at..].as_ptr(), dst[3..].as_mut_ptr(), len) };
                assert_eq!(&dst[3..3 + len], &src[at..at + len], "len {len} at {at}");
                assert!(dst[..3].iter().chain(&dst[3 + len..]).all(|&b| b == 0xAA), "len {len}: wrote outside");
            }
        }
    }

    #[test]
    fn shares_are_rounded_to_four_decimals() {
        let f = |x: f64| {
            let mut s = String::new();
            push_share(&mut s, x);
            s
        };
        for (x, want) in [
            (0.0, "0"),
            (0.00004, "0"),
            (0.00005, "0.0001"),
            (0.5234, "0.5234"),
            (0.52, "0.52"),
            (0.5, "0.5"),
            (0.1, "0.1"),
            (0.01, "0.01"),
            (0.0102, "0.0102"),
            (0.99994, "0.9999"),
            (0.99996, "1"),
            (1.0, "1"),
            (1.0 + 1e-12, "1"),
        ] {
            assert_eq!(f(x), format!("{want}}}"), "{x}");
            let v: f64 = serde_json::from_str(want).unwrap();
            assert!((v - x.min(1.0)).abs() <= 0.00005 + 1e-12, "{x}");
        }
        // Exactly half a unit of the last place rounds up; just below, down.
        assert_eq!(f(0.00125), "0.0013}");
        assert_eq!(f(0.49999999999999994 / 10_000.0), "0}");
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

    #[test]
    fn shortest_floats_keep_their_texts() {
        for (x, want) in [
            (1e16, "1e16"),
            (1.2345678901234568e17, "1.2345678901234568e17"),
            (2.5e-7, "2.5e-7"),
            (0.1, "0.1"),
            (-3e300, "-3e300"),
            (1e15, "1000000000000000.0"),
        ] {
            let mut s = String::from("x");
            push_f64(&mut s, x);
            assert_eq!(s, format!("x{want}"), "{x}");
        }
        assert_eq!(crate::event::number_text(1.5e20), "1.5e20");
    }

    fn cat(field: &str) -> FeatureSpec {
        FeatureSpec { field: field.into(), name: None, kind: FeatureKind::Categorical, log1p: false, missing: None }
    }

    fn num(field: &str) -> FeatureSpec {
        FeatureSpec { field: field.into(), name: None, kind: FeatureKind::Numeric, log1p: false, missing: None }
    }

    fn vocab(values: &[&str]) -> FeatureState {
        FeatureState::Categorical { vocabulary: values.iter().map(|v| v.to_string()).collect() }
    }

    fn cluster(centroid: Vec<f64>, threshold: f64, rare: bool) -> Cluster {
        Cluster { centroid, size: 10, share: 0.5, threshold, rare, mean_distance: 1.0, max_distance: 2.0 }
    }

    /// A model of `kind` with hand-set state, encoded and loaded.
    fn scorer(
        kind: ModelKind,
        features: Vec<FeatureSpec>,
        states: Vec<FeatureState>,
        clusters: Vec<Cluster>,
        gamma: Option<f64>,
    ) -> Scorer {
        let spec = ModelSpec::new(ModelParams::new(kind, clusters.len() as u32), features);
        let model = Model {
            spec: spec.validate().unwrap(),
            fitted: Some(Fitted {
                features: states,
                clusters,
                gamma,
                embedding: None,
                training: TrainingMeta::default(),
            }),
        };
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
            let mut m =
                Model { spec: ModelSpec::new(ModelParams::new(kind, 1), features).validate().unwrap(), fitted: None };
            m.fitted =
                Some(Fitted { features: states, clusters, gamma, embedding: None, training: TrainingMeta::default() });
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
}
