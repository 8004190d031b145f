//! The WIT bindings: `logsieve:transform/scoring` implemented by
//! [`crate::Scorer`]. Nothing else lives here, so the component and the
//! native library cannot drift apart.

use std::cell::RefCell;

use logsieve_artifact::DecodeError;

use crate::scorer::{Extracted, Outcome, TextOutcome};
use crate::{EventError, FeatureValue, Options, Scorer};

wit_bindgen::generate!({
    path: "../wit",
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

impl wit::Guest for Component {
    type Scorer = ScorerResource;
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
    wit::EventError { reason: e.reason.to_string(), detail: e.detail }
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

    fn score_text(&self, events: String) -> wit::ScoredText {
        let (text, outcomes, emitted) = self.0.borrow_mut().score_text_map(&events, |o| match o {
            TextOutcome::Scored(n) => wit::TextOutcome::Scored(n),
            TextOutcome::Passed => wit::TextOutcome::Passed,
            TextOutcome::Dropped => wit::TextOutcome::Dropped,
            TextOutcome::Absorbed => wit::TextOutcome::Absorbed,
            TextOutcome::Failed(e) => wit::TextOutcome::Failed(event_error(e)),
        });
        wit::ScoredText { text, outcomes, emitted: emitted.into_iter().map(|r| r.map_err(event_error)).collect() }
    }

    fn flush(&self) -> Vec<Result<String, wit::EventError>> {
        self.0.borrow_mut().flush().into_iter().map(|r| r.map_err(event_error)).collect()
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
