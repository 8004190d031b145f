//! A deliberately faulty logsieve component, for `tests/guest_faults.rs`.
//!
//! It is the real scorer (`logsieve_plugin::component`) behind the same WIT
//! contract, except that `score-batch`, `score-lines`, `score-json` and `score-text` misbehave when an event of the batch
//! contains one of these markers:
//!
//! - `"fault":"trap"` — panics (a wasm `unreachable` trap);
//! - `"fault":"spin"` — loops forever (only a deadline stops it);
//! - `"fault":"grow"` — allocates until memory runs out (only a memory
//!   limit stops it).
//!
//! tests/guest_faults.rs builds it for `wasm32-unknown-unknown` and encodes
//! it as a component; it is never part of a release.

#[cfg(target_arch = "wasm32")]
mod faulty {
    use logsieve_plugin::component::{ReaderResource, ScorerResource, wit};
    use wit::GuestScorer;

    struct Faulty;

    struct FaultyScorer(ScorerResource);

    impl wit::Guest for Faulty {
        type Scorer = FaultyScorer;
        type Reader = ReaderResource;
    }

    fn misbehave(events: &[String]) {
        if events.iter().any(|e| e.contains("\"fault\":\"trap\"")) {
            panic!("deliberate trap");
        }
        if events.iter().any(|e| e.contains("\"fault\":\"spin\"")) {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        if events.iter().any(|e| e.contains("\"fault\":\"grow\"")) {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
    }

    impl GuestScorer for FaultyScorer {
        fn new(model: Vec<u8>, options: wit::Options) -> Result<Self, wit::ModelError> {
            ScorerResource::new(model, options).map(FaultyScorer)
        }
        fn info(&self) -> wit::ModelInfo {
            self.0.info()
        }
        fn score_batch(&self, events: Vec<String>) -> wit::ScoredBatch {
            misbehave(&events);
            self.0.score_batch(events)
        }
        fn score_lines(&self, events: String) -> wit::ScoredLines {
            let lines: Vec<String> = logsieve_plugin::scorer::lines(&events).map(str::to_string).collect();
            misbehave(&lines);
            self.0.score_lines(events)
        }
        fn flush_lines(&self) -> wit::ScoredLines {
            self.0.flush_lines()
        }
        fn score_json(&self, events: String) -> wit::ScoredJson {
            let lines: Vec<String> = logsieve_plugin::scorer::lines(&events).map(str::to_string).collect();
            misbehave(&lines);
            self.0.score_json(events)
        }
        fn flush_json(&self) -> wit::ScoredJson {
            self.0.flush_json()
        }
        fn encode_lines(&self, events: String) -> wit::EncodedLines {
            self.0.encode_lines(events)
        }
        fn score_text(&self, events: String) -> wit::ScoredText {
            let lines: Vec<String> = logsieve_plugin::scorer::lines(&events).map(str::to_string).collect();
            misbehave(&lines);
            self.0.score_text(events)
        }
        fn flush(&self) -> Vec<Result<String, wit::EventError>> {
            self.0.flush()
        }
        fn extract_batch(&self, events: Vec<String>) -> wit::ExtractedBatch {
            misbehave(&events);
            self.0.extract_batch(events)
        }
        fn flush_extract(&self) -> Vec<Result<Vec<wit::FeatureValue>, wit::EventError>> {
            self.0.flush_extract()
        }
        fn stats(&self) -> wit::StateStats {
            self.0.stats()
        }
    }

    logsieve_plugin::component::export_plugin!(Faulty with_types_in logsieve_plugin::component);
}
