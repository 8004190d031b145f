//! The scorer: a loaded model that turns events into scored events. This is
//! the native twin of the WIT resource `scorer`; the component is a thin
//! wrapper around it, so native and wasm outputs are the same bytes.
//!
//! For each event: scan the fields ([`crate::event`]), encode them
//! ([`crate::features`]), find the nearest centroid (squared Euclidean
//! distance, ties to the lowest cluster index), and append
//!
//! ```json
//! "logsieve":{"cluster":2,"distance":4.1,"threshold":3.2,"score":1.28,
//!   "anomaly":true,"reasons":["far_from_centroid"],
//!   "top_features":[{"feature":"resp_bytes","share":0.71}],"model":"3f2a…"}
//! ```
//!
//! `score` = distance / threshold. Reasons: `far_from_centroid` (distance >
//! threshold), `rare_cluster` (the cluster's training share is below
//! `rare_share`), `unseen_value` (a category outside the vocabulary; the
//! values are listed under `unseen`). `anomaly` is true when any reason is.
//! `top_features` gives each feature's share of the squared distance.
//!
//! Before scoring, each event goes through the spec's plan
//! ([`crate::recipe`]): filters, derived fields, and for `[aggregate]`
//! models per-key windows whose aggregate events are then scored.

use std::fmt::Write as _;

use logsieve_artifact::{DecodeError, Model, ModelSpec, decode};

use crate::event::{EventError, Scalar, Shape};
use crate::features::{Encoder, FeatureValue, Unseen, extract};
use crate::recipe::{Recipe, Step};

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
    rare: Vec<bool>,
    ranges: Vec<std::ops::Range<usize>>,
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
    fit: Option<Fit>,
    // Buffers reused across events.
    vector: Vec<f64>,
    contrib: Vec<(f64, usize)>,
    unseen: Vec<Unseen>,
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
        let names_json =
            model.spec.features.iter().map(|f| serde_json::to_string(f.name()).expect("a string serializes")).collect();
        let fit = model.fitted.as_ref().map(|fitted| {
            let encoder = Encoder::new(&model.spec, fitted);
            let ranges = encoder.ranges();
            Fit {
                centroids: fitted.clusters.iter().flat_map(|c| c.centroid.iter().copied()).collect(),
                thresholds: fitted.clusters.iter().map(|c| c.threshold).collect(),
                rare: fitted.clusters.iter().map(|c| c.rare).collect(),
                ranges,
                encoder,
            }
        });
        let dim = fit.as_ref().map_or(0, |f| f.encoder.dimension());
        let core = Core {
            id: decoded.id,
            options,
            names_json,
            vector: vec![0.0; dim],
            contrib: Vec::new(),
            unseen: Vec::new(),
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
            dimension: fit.as_ref().map_or(0, |f| f.encoder.dimension() as u32),
            n_clusters: fit.as_ref().map_or(0, |f| f.thresholds.len() as u32),
        }
    }

    /// Score one event into `out` (appended) when it is scored; other
    /// outcomes leave `out` as it was. Aggregates of windows that close are
    /// kept for [`Self::take_emitted`].
    pub fn score_into(&mut self, event: &str, out: &mut String) -> Result<Kind, EventError> {
        if self.core.fit.is_none() {
            return Err(EventError::new("not_fitted", "this model holds only a spec; train it before scoring"));
        }
        let (step, shape) = self.stage1.run(event, &mut self.pending)?;
        match step {
            Step::Features(feats) => {
                self.core.score_features(event, shape, &feats, out)?;
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
        pending
            .iter()
            .map(|text| {
                let (step, shape) = stage2.run(text, &mut none)?;
                let Step::Features(feats) = step else { unreachable!("stage 2 only extracts features") };
                f(&mut self.core, &self.model.spec, text, shape, &feats)
            })
            .collect()
    }

    /// Score a batch: one outcome per event, plus the aggregates emitted.
    pub fn score_batch<S: AsRef<str>>(&mut self, events: &[S]) -> Batch {
        let outcomes = events
            .iter()
            .map(|e| {
                let e = e.as_ref();
                let mut out = String::with_capacity(e.len() + 256);
                match self.score_into(e, &mut out) {
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

    /// End of input: close all windows and score their aggregates.
    pub fn flush(&mut self) -> Vec<Result<String, EventError>> {
        self.stage1.flush(&mut self.pending);
        if self.pending.is_empty() { Vec::new() } else { self.take_emitted() }
    }

    /// Extract one event's features (before encoding).
    pub fn extract_one(&mut self, event: &str) -> Extracted {
        match self.stage1.run(event, &mut self.pending) {
            Err(e) => Extracted::Failed(e),
            Ok((Step::Features(feats), _)) => match extract(&self.model.spec, &feats) {
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
        let outcomes = events.iter().map(|e| self.extract_one(e.as_ref())).collect();
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
            other => Err(EventError::new("not_scored", format!("{other:?}"))),
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
    fn score_features(
        &mut self,
        event: &str,
        shape: Shape,
        feats: &[Option<Scalar>],
        out: &mut String,
    ) -> Result<(), EventError> {
        let fit = self.fit.as_ref().expect("checked by the caller");
        self.unseen.clear();
        fit.encoder.encode_slots(feats, &mut self.vector, &mut self.unseen)?;
        let x = &self.vector;
        let dim = x.len();

        // Nearest centroid; ties go to the lowest index.
        let (mut best, mut best_d2) = (0usize, f64::INFINITY);
        for (c, centroid) in fit.centroids.chunks_exact(dim.max(1)).enumerate() {
            let d2: f64 = x.iter().zip(centroid).map(|(a, b)| (a - b) * (a - b)).sum();
            if d2 < best_d2 {
                best = c;
                best_d2 = d2;
            }
        }
        if !best_d2.is_finite() {
            return Err(EventError::new(
                "non_finite",
                "the event's features are too large to score (distance overflows)",
            ));
        }
        let distance = best_d2.sqrt();
        let threshold = fit.thresholds[best];
        let far = distance > threshold;
        let rare = fit.rare[best];
        let unseen = !self.unseen.is_empty();

        let start = out.len();
        out.push_str(&event[..shape.close]);
        if shape.keys > 0 {
            out.push(',');
        }
        out.push_str("\"logsieve\":{\"cluster\":");
        let _ = write!(out, "{best}");
        out.push_str(",\"distance\":");
        push_f64(out, distance);
        out.push_str(",\"threshold\":");
        push_f64(out, threshold);
        out.push_str(",\"score\":");
        push_f64(out, distance / threshold);
        out.push_str(",\"anomaly\":");
        out.push_str(if far || rare || unseen { "true" } else { "false" });
        out.push_str(",\"reasons\":[");
        let mut first = true;
        for (on, name) in [(far, "far_from_centroid"), (rare, "rare_cluster"), (unseen, "unseen_value")] {
            if on {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push('"');
                out.push_str(name);
                out.push('"');
            }
        }
        out.push(']');
        if self.options.top_features > 0 {
            out.push_str(",\"top_features\":[");
            if best_d2 > 0.0 {
                let centroid = &fit.centroids[best * dim..(best + 1) * dim];
                self.contrib.clear();
                for (f, r) in fit.ranges.iter().enumerate() {
                    let s: f64 = r.clone().map(|j| (x[j] - centroid[j]) * (x[j] - centroid[j])).sum();
                    if s > 0.0 {
                        self.contrib.push((s / best_d2, f));
                    }
                }
                // Largest share first; equal shares in spec order.
                self.contrib.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                for (n, &(share, f)) in self.contrib.iter().take(self.options.top_features as usize).enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push_str("{\"feature\":");
                    out.push_str(&self.names_json[f]);
                    out.push_str(",\"share\":");
                    push_f64(out, share);
                    out.push('}');
                }
            }
            out.push(']');
        }
        if unseen {
            out.push_str(",\"unseen\":[");
            for (n, u) in self.unseen.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str("{\"feature\":");
                out.push_str(&self.names_json[u.feature]);
                out.push_str(",\"value\":");
                out.push_str(&serde_json::to_string(&u.value).expect("a string serializes"));
                out.push('}');
            }
            out.push(']');
        }
        if self.options.emit_vector {
            out.push_str(",\"vector\":[");
            for (n, v) in x.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                push_f64(out, *v);
            }
            out.push(']');
        }
        out.push_str(",\"model\":\"");
        out.push_str(&self.id);
        out.push_str("\"}}");
        debug_assert!(out.len() > start);
        Ok(())
    }
}

/// Append a finite f64 in its shortest round-trip form (valid JSON).
fn push_f64(out: &mut String, v: f64) {
    debug_assert!(v.is_finite());
    let mut b = ryu::Buffer::new();
    out.push_str(b.format_finite(v));
}
