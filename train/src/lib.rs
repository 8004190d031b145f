//! `logsieve-train`: the model-fitting half of logsieve.
//!
//! * [`kmeans`] — k-means clustering (k-means++ seeding, Lloyd iterations) with
//!   the semantics of scikit-learn's `KMeans(algorithm="lloyd")`.
//! * [`model`] — a whole logsieve model from extracted features: scalers,
//!   vocabularies, k-means, per-cluster thresholds.
//! * [`rng`] — a small deterministic PRNG (SplitMix64 seeding xoshiro256**), so
//!   results are reproducible bit for bit from a `random_state`.

pub mod kmeans;
pub mod model;
pub mod rng;
