//! The WIT bindings: `logsieve:transform/scoring` implemented by
//! [`crate::Scorer`]. Nothing else lives here, so the component and the
//! native library cannot drift apart.

use std::cell::RefCell;

use logsieve_artifact::DecodeError;

use crate::output::{Reasons, Verdict};
use crate::read::LogReader;
use crate::scorer::{Extracted, Outcome, ScoredLine};
use crate::{EventError, FeatureValue, Options, Scorer};

wit_bindgen::generate!({
    path: "wit/logsieve.wit",
    world: "plugin",
    // Public, so a wrapper crate can export its own `Guest` with these
    // bindings (`logsieve_plugin::component::export_plugin!(T with_types_in logsieve_plugin::component)`).
    pub_export_macro: true,
    export_macro_name: "export_plugin",
});

pub use exports::logsieve::transform::scoring as wit;

/// The component's `Guest`.
pub struct Component;

/// The WIT resource: a [`Scorer`] behind a `RefCell` (methods take `&self`).
pub struct ScorerResource(RefCell<Scorer>);

/// The WIT resource `reader`: a [`LogReader`].
pub struct ReaderResource(RefCell<LogReader>);

impl wit::Guest for Component {
    type Scorer = ScorerResource;
    type Reader = ReaderResource;
}

fn read_lines(r: crate::read::ReadLines) -> wit::ReadLines {
    wit::ReadLines {
        events: r.events,
        lines: r.lines,
        errors: r
            .errors
            .into_iter()
            .map(|(line, e)| wit::ReadError { line, reason: e.reason.to_string(), detail: e.detail, raw: e.raw })
            .collect(),
    }
}

impl wit::GuestReader for ReaderResource {
    fn new(format: String) -> Result<Self, String> {
        LogReader::new(&format).map(|r| ReaderResource(RefCell::new(r)))
    }

    fn read(&self, bytes: Vec<u8>) -> wit::ReadLines {
        read_lines(self.0.borrow_mut().read(&bytes))
    }

    fn read_text(&self, text: String) -> wit::ReadLines {
        read_lines(self.0.borrow_mut().read(text.as_bytes()))
    }

    fn finish(&self) -> wit::ReadLines {
        read_lines(self.0.borrow_mut().finish())
    }
}

fn model_error(e: DecodeError) -> wit::ModelError {
    match e {
        DecodeError::Truncated(d) => wit::ModelError::Truncated(d),
        DecodeError::Foreign(d) => wit::ModelError::Foreign(d),
        DecodeError::UnsupportedVersion { found, supported } => {
            wit::ModelError::UnsupportedVersion(wit::VersionMismatch { found, supported })
        }
        DecodeError::Corrupted(d) => wit::ModelError::Corrupted(d),
        DecodeError::Invalid(d) => wit::ModelError::Invalid(d),
    }
}

fn event_error(e: EventError) -> wit::EventError {
    wit::EventError { reason: e.reason.as_str().to_string(), detail: e.detail }
}

fn verdict(v: Verdict) -> wit::Verdict {
    // The WIT flags are declared in the order of `Reasons::NAMES`.
    let r = v.reasons;
    let mut reasons = wit::Reasons::empty();
    for (flag, bit) in [
        (wit::Reasons::FAR_FROM_CENTROID, Reasons::FAR_FROM_CENTROID),
        (wit::Reasons::RARE_CLUSTER, Reasons::RARE_CLUSTER),
        (wit::Reasons::UNSEEN_VALUE, Reasons::UNSEEN_VALUE),
        (wit::Reasons::UNSEEN_FLOW, Reasons::UNSEEN_FLOW),
        (wit::Reasons::UNUSUAL_SEQUENCE, Reasons::UNUSUAL_SEQUENCE),
    ] {
        if r.contains(bit) {
            reasons = reasons | flag;
        }
    }
    wit::Verdict {
        cluster: v.cluster,
        distance: v.distance,
        threshold: v.threshold,
        score: v.score,
        anomaly: v.anomaly(),
        reasons,
    }
}

fn line_outcome(o: Outcome<ScoredLine>) -> wit::LineOutcome {
    match o {
        Outcome::Scored(s) => {
            wit::LineOutcome::Scored(wit::ScoredLine { offset: s.offset, len: s.len, verdict: verdict(s.verdict) })
        }
        Outcome::Passed => wit::LineOutcome::Passed,
        Outcome::Dropped => wit::LineOutcome::Dropped,
        Outcome::Absorbed => wit::LineOutcome::Absorbed,
        Outcome::Failed(e) => wit::LineOutcome::Failed(event_error(e)),
    }
}

/// Append a verdict value as JSON: the number, or `null` for none (or a
/// value JSON cannot hold).
fn push_json_f64(out: &mut String, v: Option<f64>) {
    match v {
        Some(x) if x.is_finite() => crate::output::push_f64(out, x),
        _ => out.push_str("null"),
    }
}

/// Append one outcome of `score-json` as its JSON object (see the WIT
/// `scored-json`), a "," before it unless it is the first.
fn push_json_outcome(out: &mut String, o: Outcome<ScoredLine>, aggregate: bool) {
    if out.len() > 1 {
        out.push(',');
    }
    match o {
        Outcome::Scored(s) => {
            let v = s.verdict;
            out.push_str("{\"logsieve\":{\"cluster\":");
            match v.cluster {
                Some(c) => out.push_str(itoa::Buffer::new().format(c)),
                None => out.push_str("null"),
            }
            out.push_str(",\"distance\":");
            push_json_f64(out, v.distance);
            out.push_str(",\"threshold\":");
            push_json_f64(out, v.threshold);
            out.push_str(",\"score\":");
            push_json_f64(out, v.score);
            crate::output::push_anomaly_reasons(out, v.reasons);
            out.push('}');
        }
        Outcome::Passed => out.push_str("{\"passed\":true"),
        Outcome::Dropped => out.push_str("{\"dropped\":true"),
        Outcome::Absorbed => out.push_str("{\"absorbed\":true"),
        Outcome::Failed(e) => {
            out.push_str("{\"error\":{\"reason\":");
            out.push_str(&serde_json::to_string(e.reason.as_str()).expect("a string serializes"));
            out.push_str(",\"detail\":");
            out.push_str(&serde_json::to_string(&e.detail).expect("a string serializes"));
            out.push('}');
        }
    }
    out.push_str(if aggregate { ",\"aggregate\":true}" } else { "}" });
}

/// The `scored-json` of a call: its text, and the outcomes written so far
/// (`json`, opened with "[") followed by the emitted aggregates'.
fn scored_json(text: String, mut json: String, emitted: Vec<Outcome<ScoredLine>>) -> wit::ScoredJson {
    for o in emitted {
        push_json_outcome(&mut json, o, true);
    }
    json.push(']');
    wit::ScoredJson { text, outcomes: json }
}

fn scored_lines(l: crate::Lines) -> wit::ScoredLines {
    wit::ScoredLines {
        text: l.text,
        outcomes: l.outcomes.into_iter().map(line_outcome).collect(),
        emitted: l.emitted.into_iter().map(line_outcome).collect(),
    }
}

impl wit::GuestScorer for ScorerResource {
    fn new(model: Vec<u8>, options: wit::Options) -> Result<Self, wit::ModelError> {
        let options = Options { top_features: options.top_features, emit_vector: options.emit_vector };
        Scorer::new(&model, options).map(|s| ScorerResource(RefCell::new(s))).map_err(model_error)
    }

    fn info(&self) -> wit::ModelInfo {
        let i = self.0.borrow().info();
        wit::ModelInfo {
            id: i.id,
            kind: i.kind,
            format_version: i.format_version,
            features: i.features,
            dimension: i.dimension,
            n_clusters: i.n_clusters,
        }
    }

    fn score_batch(&self, events: Vec<String>) -> wit::ScoredBatch {
        let b = self.0.borrow_mut().score_batch(&events);
        wit::ScoredBatch {
            outcomes: b
                .outcomes
                .into_iter()
                .map(|o| match o {
                    Outcome::Scored(s) => wit::Outcome::Scored(s),
                    Outcome::Passed => wit::Outcome::Passed,
                    Outcome::Dropped => wit::Outcome::Dropped,
                    Outcome::Absorbed => wit::Outcome::Absorbed,
                    Outcome::Failed(e) => wit::Outcome::Failed(event_error(e)),
                })
                .collect(),
            emitted: b.emitted.into_iter().map(|r| r.map_err(event_error)).collect(),
        }
    }

    fn score_lines(&self, events: String) -> wit::ScoredLines {
        let (text, outcomes, emitted) = self.0.borrow_mut().score_lines_map(&events, line_outcome, line_outcome);
        wit::ScoredLines { text, outcomes, emitted }
    }

    fn flush_lines(&self) -> wit::ScoredLines {
        scored_lines(self.0.borrow_mut().flush_lines())
    }

    fn score_json(&self, events: String) -> wit::ScoredJson {
        // About 110 bytes of JSON per scored event.
        let mut json = String::with_capacity(events.len() / 2 + 64);
        json.push('[');
        let (text, _, emitted) =
            self.0.borrow_mut().score_lines_map(&events, |o| push_json_outcome(&mut json, o, false), |o| o);
        scored_json(text, json, emitted)
    }

    fn flush_json(&self) -> wit::ScoredJson {
        let l = self.0.borrow_mut().flush_lines();
        scored_json(l.text, String::from("["), l.emitted)
    }

    fn encode_lines(&self, events: String) -> wit::EncodedLines {
        let e = self.0.borrow_mut().encode_lines(&events);
        let encoded = |o: Outcome<bool>| match o {
            Outcome::Scored(true) => wit::Encoded::Vector,
            Outcome::Scored(false) => wit::Encoded::NoVector,
            Outcome::Passed => wit::Encoded::Passed,
            Outcome::Dropped => wit::Encoded::Dropped,
            Outcome::Absorbed => wit::Encoded::Absorbed,
            Outcome::Failed(e) => wit::Encoded::Failed(event_error(e)),
        };
        wit::EncodedLines {
            vectors: e.vectors,
            dimension: e.dimension as u32,
            outcomes: e.outcomes.into_iter().map(encoded).collect(),
            emitted: e.emitted.into_iter().map(encoded).collect(),
        }
    }

    fn score_text(&self, events: String) -> wit::ScoredText {
        let (mut text, outcomes, emitted) = self.0.borrow_mut().score_lines_map(
            &events,
            |o| match o {
                Outcome::Scored(s) => wit::TextOutcome::Scored(s.len),
                Outcome::Passed => wit::TextOutcome::Passed,
                Outcome::Dropped => wit::TextOutcome::Dropped,
                Outcome::Absorbed => wit::TextOutcome::Absorbed,
                Outcome::Failed(e) => wit::TextOutcome::Failed(event_error(e)),
            },
            |o| o,
        );
        // 0.3: the aggregates' texts apart from the events'.
        let emitted = cut_emitted(&mut text, emitted);
        wit::ScoredText { text, outcomes, emitted }
    }

    fn flush(&self) -> Vec<Result<String, wit::EventError>> {
        let mut lines = self.0.borrow_mut().flush_lines();
        cut_emitted(&mut lines.text, lines.emitted)
    }

    fn extract_batch(&self, events: Vec<String>) -> wit::ExtractedBatch {
        let b = self.0.borrow_mut().extract_batch(&events);
        wit::ExtractedBatch {
            outcomes: b
                .outcomes
                .into_iter()
                .map(|o| match o {
                    Extracted::Features(v) => wit::Extracted::Features(values(v)),
                    Extracted::Passed => wit::Extracted::Passed,
                    Extracted::Dropped => wit::Extracted::Dropped,
                    Extracted::Absorbed => wit::Extracted::Absorbed,
                    Extracted::Failed(e) => wit::Extracted::Failed(event_error(e)),
                })
                .collect(),
            emitted: b.emitted.into_iter().map(|r| r.map(values).map_err(event_error)).collect(),
        }
    }

    fn flush_extract(&self) -> Vec<Result<Vec<wit::FeatureValue>, wit::EventError>> {
        self.0.borrow_mut().flush_extract().into_iter().map(|r| r.map(values).map_err(event_error)).collect()
    }

    fn stats(&self) -> wit::StateStats {
        let s = self.0.borrow().stats();
        wit::StateStats { open_windows: s.open_windows, emitted: s.emitted, evicted: s.evicted, late: s.late }
    }
}

/// The emitted aggregates' texts (at the end of `text`) as strings of
/// their own; `text` keeps the events' texts.
fn cut_emitted(text: &mut String, emitted: Vec<Outcome<ScoredLine>>) -> Vec<Result<String, wit::EventError>> {
    let first = emitted.iter().find_map(|o| if let Outcome::Scored(s) = o { Some(s.offset as usize) } else { None });
    let out = emitted
        .into_iter()
        .map(|o| match o {
            Outcome::Scored(s) => Ok(text[s.offset as usize..(s.offset + s.len) as usize].to_string()),
            Outcome::Failed(e) => Err(event_error(e)),
            _ => unreachable!("aggregates are scored or fail"),
        })
        .collect();
    if let Some(at) = first {
        text.truncate(at);
    }
    out
}

fn values(v: Vec<FeatureValue>) -> Vec<wit::FeatureValue> {
    v.into_iter()
        .map(|v| match v {
            FeatureValue::Number(x) => wit::FeatureValue::Number(x),
            FeatureValue::Category(c) => wit::FeatureValue::Category(c),
            FeatureValue::Missing => wit::FeatureValue::Missing,
        })
        .collect()
}

#[cfg(feature = "export")]
export_plugin!(Component with_types_in crate::component);
