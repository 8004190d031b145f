//! What a fit reports while it runs: one trait for every trainer. The CLI
//! draws it as progress bars; tests and tools that want nothing pass `&mut ()`.

/// Receives a fit's progress. Every method does nothing unless overridden.
pub trait Progress {
    /// A clustering start moved on (k-means Lloyd iteration, k-modes pass)
    /// or ended.
    fn clustering(&mut self, p: &Clustering) {
        let _ = p;
    }

    /// word2vec moved on (flow2vec models).
    fn word2vec(&mut self, p: &Word2Vec) {
        let _ = p;
    }

    /// A sweep over `n_clusters` starts fitting `k` (the `index`-th of
    /// `count` values of k).
    fn sweep_fit(&mut self, k: u32, index: usize, count: usize) {
        let _ = (k, index, count);
    }

    /// A sweep fitted one k: its point, and the seconds it took.
    fn sweep_point(&mut self, point: &logsieve_artifact::model::SweepPoint, seconds: f64) {
        let _ = (point, seconds);
    }

    /// A sweep computes the silhouette of the k just fitted.
    fn silhouette(&mut self) {}
}

/// No progress wanted.
impl Progress for () {}

/// Progress that hands every clustering report to a function (for tests
/// and tools).
pub struct OnClustering<F>(pub F);

impl<F: FnMut(&Clustering)> Progress for OnClustering<F> {
    fn clustering(&mut self, p: &Clustering) {
        (self.0)(p)
    }
}

/// Progress that hands every word2vec report to a function (for tests and
/// tools).
pub struct OnWord2Vec<F>(pub F);

impl<F: FnMut(&Word2Vec)> Progress for OnWord2Vec<F> {
    fn word2vec(&mut self, p: &Word2Vec) {
        (self.0)(p)
    }
}

/// A clustering's progress (k-means, k-modes, k-prototypes): reported after
/// every iteration of a start and once more at its end (`run_done`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clustering {
    /// Current run, 0-based, `< n_runs`.
    pub run: usize,
    /// Starts in all.
    pub n_runs: usize,
    /// Iterations completed in this run (1-based); at most `max_iter`.
    pub iteration: usize,
    /// The most iterations a start may take.
    pub max_iter: usize,
    /// Inertia of this run so far: of the latest assignment (from the expanded
    /// distance form, so approximate) while iterating; the exact final inertia
    /// of the run when `run_done`.
    pub inertia: f64,
    /// The lowest final inertia of the runs finished so far (this one included
    /// when `run_done`).
    pub best_inertia: Option<f64>,
    /// This run has finished (converged or hit `max_iter`).
    pub run_done: bool,
}

/// word2vec's progress: reported after every epoch and about every second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Word2Vec {
    /// Current epoch, 0-based.
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Raw words processed so far, all epochs (out of `total_raw_words`).
    pub raw_words: u64,
    /// `epochs ×` the corpus' raw words.
    pub total_raw_words: u64,
    /// Words trained on so far (after subsampling), all epochs.
    pub effective_words: u64,
    /// The learning rate at this point of the schedule.
    pub alpha: f64,
    /// Seconds since training started.
    pub elapsed_s: f64,
    /// `effective_words / elapsed_s`.
    pub effective_words_per_s: f64,
    /// This report closes epoch `epoch`.
    pub epoch_done: bool,
}
