//! The logsieve model, defined once.
//!
//! - [`spec`]: what a user declares (`model.toml`): model kind and
//!   hyper-parameters, features, scaling, scoring.
//! - [`model`]: what training learned: scalers, vocabularies, centroids,
//!   per-cluster thresholds, training metadata.
//! - [`consistency`]: the rules a learned state must follow to match its
//!   spec, checked on every artifact read or written.
//! - [`codec`]: the artifact file (MessagePack with a checksum) and the one
//!   decoder that refuses truncated, foreign, newer or corrupted files.
//!
//! The trainer (`host/`) writes artifacts with [`codec::encode`]; the plugin
//! reads them with [`codec::decode`]. Nothing else defines the format.

pub mod codec;
pub mod consistency;
pub mod forest;
pub mod model;
pub mod spec;

pub use codec::{DecodeError, Decoded, FORMAT_NAME, FORMAT_VERSION, decode, encode, encode_unvalidated, model_id};
pub use model::{Cblof, Cluster, Embedding, FeatureState, Fitted, MIN_THRESHOLD, Model, TrainingMeta};
pub use spec::{
    AggregateField, AggregateOp, AggregateSpec, Arity, DeriveOp, DeriveSpec, Duration, FeatureKind, FeatureSpec,
    FilterParams, FilterSpec, Flow2VecParams, Init, InputParams, Literal, MAX_SEQUENCE, MaxSamples, Missing, ModelKind,
    ModelParams, ModelSpec, OneHotScaling, Scaling, ScalingParams, ScoringMethod, ScoringParams, Test, TrainParams,
    Unmatched, UtcOffset, ValidSpec, VectorMetric, VectorPrecision, Window, aggregate_fields,
};
