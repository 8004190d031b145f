//! `logsieve-train`: the model-fitting half of logsieve.
//!
//! The trainers are hand-written rather than taken from a crate (linfa and
//! the like; issue #22) because each reproduces a peer's semantics that the
//! parity tests pin — scikit-learn's Lloyd k-means, the `kmodes` package's
//! iterations and draws (numpy's MT19937), gensim's skip-gram — and each
//! is measured against that peer in BENCHMARKS.md (`bench/compare.sh`):
//! k-means 1,000,000 × 8 in 259 ms against scikit-learn's 631 ms (2.44×);
//! k-modes 200,000 × 6 in 166 ms against the package's 70.2 s; word2vec
//! 152,256 words/s against gensim's 36,796 on one thread (4.14×).
//!
//! * [`fit`] — a whole model from extracted rows ([`fit()`]), and the
//!   choice of `n_clusters` over a range ([`sweep()`]): what `logsieve
//!   train` runs between reading and writing.
//! * [`cblof`] — `[scoring] method = "cblof"`: the large clusters and the
//!   model's threshold.
//! * [`buffer`] — large zeroed buffers backed by huge pages, for the fitting
//!   loops.
//! * [`kmeans`] — k-means clustering (k-means++ seeding, Lloyd iterations) with
//!   the semantics of scikit-learn's `KMeans(algorithm="lloyd")`.
//! * [`flow2vec`] — a flow2vec model: tokens, skip-gram vectors, k-means on
//!   them, each token's cluster.
//! * [`kmodes`] — k-modes and k-prototypes with the iteration semantics of
//!   the Python `kmodes` package (Huang and Cao starts).
//! * [`model`] — a whole logsieve model from extracted features: scalers,
//!   vocabularies, the clustering, per-cluster thresholds.
//! * [`progress`] — what a fit reports while it runs: one trait for every
//!   trainer.
//! * [`numpy_rng`] — numpy's legacy `RandomState` (MT19937), so a k-modes
//!   `random_state` draws what the `kmodes` package draws; and
//!   `default_rng`'s `Generator` (PCG64) with its `shuffle`, so `logsieve
//!   evaluate --holdout` splits as the detection baseline does.
//! * [`metrics`] — detection quality on labelled events: ROC AUC and
//!   average precision (scikit-learn's), precision at k, flag rates.
//! * [`rng`] — xoshiro256** seeded by SplitMix64 (the `rand_xoshiro` crate),
//!   so results are reproducible bit for bit from a `random_state`.
//! * [`silhouette`] — the silhouette coefficient (scikit-learn's
//!   `silhouette_score`), for `logsieve train --n-clusters A..B`.
//! * [`word2vec`] — skip-gram with negative sampling (gensim's / word2vec.c's
//!   `Word2Vec(sg=1)`), AVX2-dispatched and multi-threaded (Hogwild).

pub mod buffer;
pub mod cblof;
pub mod checks;
pub mod fit;
pub mod flow2vec;
pub mod iforest;
pub mod kmeans;
pub mod kmodes;
pub mod metrics;
pub mod model;
pub mod numpy_rng;
pub mod progress;
pub mod rng;
pub mod silhouette;
pub mod synthetic;
pub mod word2vec;

pub use fit::{Fit, Pick, fit, sweep};
pub use progress::Progress;
