//! `logsieve report`: one self-contained HTML page about a model and the
//! events it scored.
//!
//! ```text
//! model.msgpack ─┐
//!                ├─► collect (per event: cluster, distance, score, verdict;
//! scored.ndjson ─┘    scaled vectors of a sample; the top anomalies; bad lines)
//!                      └─► PCA (Rust) ─► charts as inline SVG ─► report.html
//! ```
//!
//! The page holds: cluster sizes (training and scored), a 2-D projection of
//! the scored events (PCA of the scaled vectors, coloured by cluster,
//! anomalies outlined, centroids projected), the distribution of distances
//! with each cluster's threshold, the sweep over k when the model was
//! trained with `--n-clusters A..B`, the top anomalies with their
//! explanations, and the model's summary. It loads nothing: the CSS, the
//! small script (legend toggles) and the SVG are inline, so it works offline
//! and can be mailed.
//!
//! - [`collect`]: reading the scored file (vectors from the scorer itself).
//! - [`pca`]: the projection.
//! - [`charts`]: the SVG.
//! - [`page`]: the HTML.

pub mod charts;
pub mod collect;
pub mod page;
pub mod pca;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use logsieve_artifact::decode;
use logsieve_readers::{Format, Reader};
use ndarray::Array2;

pub use collect::{Collected, Limits, Line};
pub use pca::Pca;

/// Arguments of `logsieve report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The model artifact that scored the events.
    #[arg(long)]
    pub model: PathBuf,
    /// The scored events (NDJSON, as `logsieve run` writes them; `.gz` is
    /// read transparently).
    #[arg(long)]
    pub scored: PathBuf,
    /// Where to write the HTML page.
    #[arg(short = 'o', long = "out", visible_alias = "output")]
    pub output: PathBuf,
    /// Anomalies listed in the table.
    #[arg(long, default_value_t = 50)]
    pub top: usize,
    /// Points drawn in the projection at most (every anomaly first, then a
    /// deterministic sample of the rest).
    #[arg(long, default_value_t = 5000)]
    pub max_points: usize,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What a report holds, in numbers (for the terminal and for tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Events reported on.
    pub events: u64,
    /// Of them, anomalies.
    pub anomalies: u64,
    /// Points drawn in the projection (0 without one).
    pub points: usize,
    /// Lines that could not be used.
    pub malformed: u64,
    /// Events scored by other models, left out.
    pub other_models: u64,
    /// Rows of the anomalies table.
    pub top: usize,
    /// Why there is no projection, if there is none.
    pub no_projection: Option<String>,
}

/// The projection: the PCA, the drawn points and the projected centroids.
pub struct Projection {
    /// The fitted PCA.
    pub pca: Pca,
    /// The drawn points.
    pub dots: Vec<charts::Dot>,
    /// Each centroid's coordinates.
    pub centroids: Vec<[f64; 2]>,
}

/// Build the page from a model artifact's bytes and the scored file's
/// lines. `names` are (model, scored file) as the page shows them.
pub fn build(
    model_bytes: &[u8],
    lines: impl Iterator<Item = Line>,
    limits: Limits,
    names: (&str, &str),
) -> Result<(String, Outcome)> {
    let d = decode(model_bytes).map_err(|e| anyhow::anyhow!("{}: {e}", names.0))?;
    let model = &d.model;
    let fitted = model.fitted.as_ref().ok_or_else(|| {
        anyhow::anyhow!("{}: the model holds only a spec (it was never trained), so it scored nothing", names.0)
    })?;
    if !model.spec.model.kind.clusters() {
        anyhow::bail!(
            "{}: the report describes clusters, and an {} model has none; `logsieve evaluate` measures its scores",
            names.0,
            model.spec.model.kind.as_str()
        );
    }
    let mut c = collect::collect(model, &d.id, lines, limits)?;
    let projection = match (&c.no_projection, c.points.is_empty()) {
        (Some(_), _) => None,
        (None, true) => {
            c.no_projection =
                Some("no scored event had a scaled vector (the scorer could not score them again)".into());
            None
        }
        (None, false) => project(&c, fitted),
    };
    if projection.is_none() && c.no_projection.is_none() {
        c.no_projection = Some("fewer than two events to fit a projection on".into());
    }
    let html =
        page::render(&page::Input { id: &d.id, model, names, collected: &c, projection: projection.as_ref(), limits });
    let outcome = Outcome {
        events: c.events,
        anomalies: c.anomalies,
        points: projection.as_ref().map_or(0, |p| p.dots.len()),
        malformed: c.malformed_total(),
        other_models: c.other_models.values().sum(),
        top: c.top.len(),
        no_projection: c.no_projection.clone(),
    };
    Ok((html, outcome))
}

fn project(c: &Collected, fitted: &logsieve_artifact::Fitted) -> Option<Projection> {
    let dim = c.points.first()?.vector.len();
    let rows = c.pca_sample.len();
    let x = Array2::from_shape_vec((rows, dim), c.pca_sample.concat()).ok()?;
    let pca = Pca::fit(x.view())?;
    let dots = c
        .points
        .iter()
        .map(|p| charts::Dot {
            xy: pca.transform(&p.vector),
            cluster: p.cluster as usize,
            anomaly: p.anomaly,
            line: p.line,
        })
        .collect();
    let centroids =
        fitted.clusters.iter().filter(|cl| cl.centroid.len() == dim).map(|cl| pca.transform(&cl.centroid)).collect();
    Some(Projection { pca, dots, centroids })
}

/// The scored file's lines, as the NDJSON reader yields them.
pub fn read_lines(path: &Path) -> Result<impl Iterator<Item = Line>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading the scored events {}", path.display()))?;
    if meta.is_dir() {
        anyhow::bail!("the scored events {} is a directory, not a file", path.display());
    }
    let reader = Reader::open(vec![path.to_path_buf()], Format::Ndjson);
    Ok(reader.map(|item| {
        let line = item.origin.line;
        (line, item.result.map_err(|e| (e.reason.to_string(), e.detail)))
    }))
}

/// `logsieve report`.
pub fn report(args: &ReportArgs) -> Result<Outcome> {
    let t0 = std::time::Instant::now();
    let bytes = crate::model_file::read_model(&args.model)?;
    let lines = read_lines(&args.scored)?;
    let limits = Limits { max_points: args.max_points, top: args.top, ..Limits::default() };
    let model_name = args.model.display().to_string();
    let scored_name = args.scored.display().to_string();
    let (html, outcome) = build(&bytes, lines, limits, (&model_name, &scored_name))?;
    crate::commands::train::write_atomically(&args.output, html.as_bytes())?;
    if !args.quiet {
        if outcome.malformed > 0 {
            tracing::warn!("{} line(s) of {scored_name} could not be used (listed in the report)", outcome.malformed);
        }
        if outcome.other_models > 0 {
            tracing::warn!(
                "{} event(s) were scored by another model and are left out (listed in the report)",
                outcome.other_models
            );
        }
        if let Some(why) = &outcome.no_projection {
            tracing::info!("no 2-D projection: {why}");
        }
        eprintln!(
            "wrote {} ({} bytes): {} events, {} anomalies, {} points drawn, {} in the anomalies table, {:.2} s",
            args.output.display(),
            html.len(),
            outcome.events,
            outcome.anomalies,
            outcome.points,
            outcome.top,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(outcome)
}
