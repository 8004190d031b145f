//! Hyper-parameters, named and defaulted as in scikit-learn's `KMeans`.

use super::error::KMeansError;

/// Hyper-parameters of [`fit`](super::fit). Build with [`KMeansParams::new`]
/// (scikit-learn defaults for everything but `n_clusters`), adjust fields or use
/// the `with_*` methods, then [`validate`](KMeansParams::validate).
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansParams {
    /// Number of clusters `k`. No default (scikit-learn's 8 is arbitrary).
    pub n_clusters: usize,
    /// Number of k-means++ restarts; the run with the lowest inertia is kept.
    /// Default 10 (scikit-learn's value for `init="k-means++"` before 1.4;
    /// with an explicit start, use [`lloyd_from`](super::lloyd_from), which runs once).
    pub n_init: usize,
    /// Seed of the whole fit. Run `i` uses stream `i` of a xoshiro256** generator
    /// seeded with this value, so results do not depend on `n_init` for the
    /// runs they share. Default 0.
    pub random_state: u64,
    /// Maximum Lloyd iterations per run. Default 300.
    pub max_iter: usize,
    /// Relative tolerance: a run stops when the summed squared centre shift is at
    /// most `tol` × (mean over columns of the column variance). Default 1e-4.
    /// `0.0` means "until no label changes" (or `max_iter`).
    pub tol: f64,
}

impl KMeansParams {
    /// Defaults: `n_init = 10`, `random_state = 0`, `max_iter = 300`, `tol = 1e-4`.
    pub fn new(n_clusters: usize) -> Self {
        Self { n_clusters, n_init: 10, random_state: 0, max_iter: 300, tol: 1e-4 }
    }

    /// These parameters with another `n_init`.
    pub fn with_n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// These parameters with another `random_state`.
    pub fn with_random_state(mut self, random_state: u64) -> Self {
        self.random_state = random_state;
        self
    }

    /// These parameters with another `max_iter`.
    pub fn with_max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// These parameters with another `tol`.
    pub fn with_tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Checks the parameters against a data set of `n_rows` rows.
    pub fn validate(&self, n_rows: usize) -> Result<ValidKMeansParams, KMeansError> {
        if self.n_clusters == 0 || self.n_clusters > n_rows {
            return Err(KMeansError::InvalidNClusters { n_clusters: self.n_clusters, n_rows });
        }
        if self.n_init == 0 {
            return Err(KMeansError::InvalidNInit);
        }
        if self.max_iter == 0 {
            return Err(KMeansError::InvalidMaxIter);
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(KMeansError::InvalidTol(self.tol));
        }
        Ok(ValidKMeansParams(self.clone()))
    }
}

/// Parameters that passed [`KMeansParams::validate`]. The only way to get one,
/// so [`fit`](super::fit) never sees `n_clusters = 0` or a negative `tol`.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidKMeansParams(KMeansParams);

impl ValidKMeansParams {
    /// `n_clusters`.
    pub fn n_clusters(&self) -> usize {
        self.0.n_clusters
    }
    /// `n_init`.
    pub fn n_init(&self) -> usize {
        self.0.n_init
    }
    /// `random_state`.
    pub fn random_state(&self) -> u64 {
        self.0.random_state
    }
    /// `max_iter`.
    pub fn max_iter(&self) -> usize {
        self.0.max_iter
    }
    /// `tol`.
    pub fn tol(&self) -> f64 {
        self.0.tol
    }
    /// The parameters as given.
    pub fn params(&self) -> &KMeansParams {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_scikit_learn() {
        let p = KMeansParams::new(3);
        assert_eq!((p.n_init, p.random_state, p.max_iter, p.tol), (10, 0, 300, 1e-4));
        let v = p.validate(3).unwrap();
        assert_eq!(v.n_clusters(), 3);
    }

    #[test]
    fn rejects_bad_values() {
        assert_eq!(KMeansParams::new(0).validate(5), Err(KMeansError::InvalidNClusters { n_clusters: 0, n_rows: 5 }));
        assert_eq!(KMeansParams::new(6).validate(5), Err(KMeansError::InvalidNClusters { n_clusters: 6, n_rows: 5 }));
        assert_eq!(KMeansParams::new(2).with_n_init(0).validate(5), Err(KMeansError::InvalidNInit));
        assert_eq!(KMeansParams::new(2).with_max_iter(0).validate(5), Err(KMeansError::InvalidMaxIter));
        assert!(matches!(KMeansParams::new(2).with_tol(-1e-3).validate(5), Err(KMeansError::InvalidTol(_))));
        assert!(matches!(KMeansParams::new(2).with_tol(f64::NAN).validate(5), Err(KMeansError::InvalidTol(_))));
        assert!(matches!(KMeansParams::new(2).with_tol(f64::INFINITY).validate(5), Err(KMeansError::InvalidTol(_))));
        assert!(KMeansParams::new(5).with_tol(0.0).validate(5).is_ok());
    }
}
