//! The one error type of the k-means module.

use std::fmt;

/// Everything that can be wrong with a k-means request. All checks happen
/// before any iteration runs; a fit that starts always finishes.
#[derive(Clone, Debug, PartialEq)]
pub enum KMeansError {
    /// `n_clusters` must be at least 1 and at most the number of rows.
    InvalidNClusters {
        /// k.
        n_clusters: usize,
        /// Rows of the data.
        n_rows: usize,
    },
    /// `n_init` must be at least 1.
    InvalidNInit,
    /// `max_iter` must be at least 1.
    InvalidMaxIter,
    /// `tol` must be finite and non-negative.
    InvalidTol(f64),
    /// The data matrix has no columns.
    NoFeatures,
    /// A data value (or an initial centre coordinate) is NaN or infinite.
    /// `row` and `column` are 0-based; the first such value in row-major order
    /// is reported.
    NonFinite {
        /// `"data"` or `"init"`.
        what: &'static str,
        /// Its row.
        row: usize,
        /// Its column.
        column: usize,
        /// The value.
        value: f64,
    },
    /// Explicit initial centres do not have the expected shape.
    InitShape {
        /// k × columns.
        expected: (usize, usize),
        /// What was given.
        found: (usize, usize),
    },
    /// The parameters were validated for one number of rows but used on data
    /// with fewer rows than clusters.
    TooFewRows {
        /// k.
        n_clusters: usize,
        /// Rows of the data.
        n_rows: usize,
    },
}

impl fmt::Display for KMeansError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KMeansError::InvalidNClusters { n_clusters, n_rows } => write!(
                f,
                "n_clusters = {n_clusters} is invalid: it must be between 1 and the number of rows ({n_rows})"
            ),
            KMeansError::InvalidNInit => write!(f, "n_init must be at least 1"),
            KMeansError::InvalidMaxIter => write!(f, "max_iter must be at least 1"),
            KMeansError::InvalidTol(t) => {
                write!(f, "tol = {t} is invalid: it must be finite and >= 0")
            }
            KMeansError::NoFeatures => write!(f, "the data has no columns"),
            KMeansError::NonFinite { what, row, column, value } => {
                write!(f, "{what} contains a non-finite value ({value}) at row {row}, column {column} (0-based)")
            }
            KMeansError::InitShape { expected, found } => write!(
                f,
                "initial centres have shape {}x{}, expected {}x{} (n_clusters x n_columns)",
                found.0, found.1, expected.0, expected.1
            ),
            KMeansError::TooFewRows { n_clusters, n_rows } => {
                write!(f, "the data has {n_rows} rows, fewer than n_clusters = {n_clusters}")
            }
        }
    }
}

impl std::error::Error for KMeansError {}
