//! `logsieve train`: read logs, extract features through the component (the
//! same code that scores), fit the model natively, write the artifact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use logsieve_artifact::model::{Sweep, SweepPoint};
use logsieve_artifact::{Model, ModelKind, ValidSpec, encode};
use logsieve_plugin::FeatureValue;
use logsieve_plugin::features::Encoder;
use logsieve_readers::{Format, Reader};
use logsieve_train::kmeans;
use logsieve_train::model::{Provenance, encode_rows, fit_model};

use crate::runtime::{self, Extracted as WitExtracted, FeatureValue as WitValue, Options};

/// Arguments of `logsieve train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The model spec (TOML): model kind and parameters, features, scaling, scoring.
    #[arg(long)]
    pub spec: PathBuf,
    /// Input files or globs (quote globs), read in order; `.gz` is read transparently.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<String>,
    /// Where to write the model artifact (MessagePack).
    #[arg(long)]
    pub out: PathBuf,
    /// Input format: auto, zeek_tsv, zeek_json, ndjson, csv, tsv.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Extract features with this component instead of the embedded one.
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Override the spec's `n_clusters`: one k, or an inclusive range
    /// `A..B` (k-means, k-modes, k-prototypes): fit every k with the same
    /// n_init and random_state, report the inertia and the silhouette of
    /// each, mark the elbow, and write the model of the k `--pick` chooses.
    #[arg(long, value_parser = parse_n_clusters)]
    pub n_clusters: Option<NClusters>,
    /// With `--n-clusters A..B`: which k to write. `elbow` (the default):
    /// the elbow of the inertia curve; `silhouette`: the highest
    /// silhouette; or a number in the range.
    #[arg(long)]
    pub pick: Option<String>,
    /// flow2vec: word2vec threads (0 = all cores; 1 = the same vectors for
    /// the same random_state, bit for bit).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bars or summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--n-clusters`: one k, or an inclusive range of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NClusters {
    /// `K`.
    One(u32),
    /// `A..B`: every k from A to B, both included.
    Range(u32, u32),
}

/// Parse `K` or `A..B` (also `A..=B`).
pub fn parse_n_clusters(s: &str) -> Result<NClusters, String> {
    let num = |t: &str| t.trim().parse::<u32>().map_err(|_| format!("'{t}' is not a whole number"));
    let Some((a, b)) = s.split_once("..") else { return num(s).map(NClusters::One) };
    let (a, b) = (num(a)?, num(b.strip_prefix('=').unwrap_or(b))?);
    if a < 2 {
        return Err(format!("a range starts at k = 2 at least (the silhouette needs two clusters), not {a}"));
    }
    if b < a + 2 {
        return Err(format!("{s}: a range needs at least three values of k to have an elbow, e.g. {a}..{}", a + 2));
    }
    Ok(NClusters::Range(a, b))
}

/// The elbow of a curve `(k, inertia)` given in increasing k ("kneedle"):
/// both axes scaled to [0, 1], the interior point farthest from the straight
/// line joining the first and the last point (ties: the smaller k). `None`
/// with fewer than three points, or when no point lies off that line.
pub fn elbow(points: &[(f64, f64)]) -> Option<usize> {
    if points.len() < 3 {
        return None;
    }
    let (x0, xn) = (points[0].0, points[points.len() - 1].0);
    let ymin = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let ymax = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (sx, sy) = (xn - x0, ymax - ymin);
    if !(sx > 0.0 && sy > 0.0 && sy.is_finite()) {
        return None;
    }
    let scaled: Vec<(f64, f64)> = points.iter().map(|&(x, y)| ((x - x0) / sx, (y - ymin) / sy)).collect();
    let (a, b) = (scaled[0], scaled[scaled.len() - 1]);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    let mut best: Option<(usize, f64)> = None;
    for (i, &(x, y)) in scaled.iter().enumerate().take(scaled.len() - 1).skip(1) {
        let d = (dx * (y - a.1) - dy * (x - a.0)).abs() / len;
        if d > 1e-12 && best.is_none_or(|(_, bd)| d > bd) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

/// Load and validate a model spec file.
pub fn load_spec(path: &Path) -> Result<ValidSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the spec {}", path.display()))?;
    let mut spec: logsieve_artifact::ModelSpec =
        toml::from_str(&text).with_context(|| format!("in the spec {}", path.display()))?;
    // CIDR tables are read now and stored in the model, so it is self-contained.
    let base = path.parent().unwrap_or(Path::new("."));
    for d in &mut spec.derive {
        if let logsieve_artifact::DeriveOp::CidrGroup { cidr_file: Some(file), cidr_table, .. } = &mut d.op {
            let p = base.join(&*file);
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("derive {}: reading the CIDR table {}", d.name, p.display()))?;
            let table = logsieve_plugin::derive::CidrTable::parse(&text)
                .map_err(|e| anyhow::anyhow!("derive {}: {}: {e}", d.name, p.display()))?;
            *cidr_table = table.entries();
        }
    }
    spec.validate().map_err(|errs| {
        anyhow::anyhow!("the spec {} has {} problem(s):\n  - {}", path.display(), errs.len(), errs.join("\n  - "))
    })
}

fn from_wit(v: WitValue) -> FeatureValue {
    match v {
        WitValue::Number(x) => FeatureValue::Number(x),
        WitValue::Category(c) => FeatureValue::Category(c),
        WitValue::Missing => FeatureValue::Missing,
    }
}

/// Events read for training, with what was skipped and why.
pub struct Extracted {
    /// One row per usable event.
    pub rows: Vec<Vec<FeatureValue>>,
    /// Skipped events per reason.
    pub skipped: BTreeMap<String, u64>,
    /// A first example per reason: `file:line: detail`.
    pub examples: BTreeMap<String, String>,
    /// Events left out by the spec's `[[where]]`.
    pub filtered: u64,
    /// Events taken into windows (their aggregates are the rows).
    pub absorbed: u64,
}

impl Extracted {
    /// Count an event that could not be used; keep the first example per reason.
    fn skip(&mut self, reason: &str, at: String) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
        self.examples.entry(reason.to_string()).or_insert(at);
    }
}

/// Read inputs and extract the spec's features through the component.
pub fn extract(
    spec: &ValidSpec,
    paths: Vec<PathBuf>,
    format: Format,
    plugin: Option<&Path>,
    bar: &ProgressBar,
) -> Result<Extracted> {
    let spec_only = encode(&Model { spec: spec.clone(), fitted: None }).map_err(anyhow::Error::msg)?;
    let rt = runtime::load(plugin)?;
    let mut inst = runtime::instantiate_model(
        &rt,
        &spec_only,
        Path::new("<spec>"),
        Options { top_features: 0, emit_vector: false },
    )?;
    let mut out =
        Extracted { rows: Vec::new(), skipped: BTreeMap::new(), examples: BTreeMap::new(), filtered: 0, absorbed: 0 };
    let mut reader = Reader::open(paths, format);
    let mut batch = Vec::with_capacity(1000);
    let mut origins = Vec::with_capacity(1000);
    let mut last_file: Option<std::sync::Arc<str>> = None;
    loop {
        batch.clear();
        origins.clear();
        let mut taken = 0;
        for item in reader.by_ref().take(1000) {
            taken += 1;
            if last_file.as_ref().is_none_or(|f| !std::sync::Arc::ptr_eq(f, &item.origin.file)) {
                if last_file.is_some() {
                    bar.inc(1);
                }
                last_file = Some(item.origin.file.clone());
            }
            match item.result {
                Ok(text) => {
                    batch.push(text);
                    origins.push(item.origin);
                }
                Err(e) => out.skip(e.reason, format!("{}:{}: {}", item.origin.file, item.origin.line, e.detail)),
            }
        }
        if taken == 0 {
            break;
        }
        if batch.is_empty() {
            continue;
        }
        let result = inst.extract_batch(&batch)?;
        for (res, origin) in result.outcomes.into_iter().zip(&origins) {
            match res {
                WitExtracted::Features(vals) => out.rows.push(vals.into_iter().map(from_wit).collect()),
                WitExtracted::Passed | WitExtracted::Dropped => out.filtered += 1,
                WitExtracted::Absorbed => out.absorbed += 1,
                WitExtracted::Failed(e) => {
                    out.skip(&e.reason, format!("{}:{}: {}", origin.file, origin.line, e.detail))
                }
            }
        }
        aggregates(result.emitted, &mut out);
        let skipped: u64 = out.skipped.values().sum();
        bar.set_message(format!("{} events, {skipped} skipped", out.rows.len()));
    }
    aggregates(inst.flush_extract()?, &mut out);
    bar.inc(1);
    Ok(out)
}

/// Rows from aggregate events (models with `[aggregate]`).
fn aggregates(emitted: Vec<Result<Vec<WitValue>, crate::runtime::EventError>>, out: &mut Extracted) {
    for r in emitted {
        match r {
            Ok(vals) => out.rows.push(vals.into_iter().map(from_wit).collect()),
            Err(e) => out.skip(&e.reason, format!("<aggregate>: {}", e.detail)),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> ")
}

/// `logsieve train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    let t0 = Instant::now();
    let mut spec = load_spec(&args.spec)?;
    let range = match args.n_clusters {
        Some(NClusters::One(k)) => {
            spec = spec.with_n_clusters(k).map_err(|e| anyhow::anyhow!(e.join("; ")))?;
            None
        }
        Some(NClusters::Range(a, b)) => {
            if spec.model.kind == ModelKind::Flow2vec {
                bail!(
                    "--n-clusters {a}..{b}: a sweep over k is for kmeans, kmodes and kprototypes models, not flow2vec"
                );
            }
            for k in [a, b] {
                spec.with_n_clusters(k).map_err(|e| anyhow::anyhow!("with n_clusters = {k}: {}", e.join("; ")))?;
            }
            let pick = parse_pick(args.pick.as_deref(), a, b)?;
            if pick == Pick::Silhouette && spec.model.kind != ModelKind::Kmeans {
                bail!(
                    "--pick silhouette: the silhouette is computed for kmeans models only (this spec is {}); \
                     use --pick elbow or --pick K",
                    spec.model.kind.as_str()
                );
            }
            Some((a, b, pick))
        }
        None => None,
    };
    if range.is_none() && args.pick.is_some() {
        bail!("--pick chooses a k of a sweep: pass --n-clusters A..B with it");
    }
    let format: Format = args.format.parse().map_err(anyhow::Error::msg)?;
    let paths = logsieve_readers::expand_inputs(&args.input)?;
    let target = || {
        if args.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() }
    };

    let bar = ProgressBar::with_draw_target(Some(paths.len() as u64), target());
    bar.set_style(style("reading  [{bar:30}] {pos}/{len} files  {msg}  ({elapsed})"));
    let ex = extract(&spec, paths, format, args.plugin.as_deref(), &bar)?;
    bar.finish();
    let skipped: u64 = ex.skipped.values().sum();
    if !args.quiet && skipped > 0 {
        eprintln!("skipped {skipped} event(s) that could not be used:");
        for (reason, n) in &ex.skipped {
            eprintln!("  {reason}: {n}  (first: {})", ex.examples[reason]);
        }
    }
    if !args.quiet && ex.filtered > 0 {
        eprintln!("left out {} event(s) that do not meet the spec's [[where]]", ex.filtered);
    }
    if !args.quiet && ex.absorbed > 0 {
        eprintln!("aggregated {} event(s) into {} rows (one per key and window)", ex.absorbed, ex.rows.len());
    }
    if ex.rows.is_empty() {
        bail!("no usable events in {} (skipped {skipped})", args.input.join(" "));
    }

    let created_unix = super::creation_time()?;
    let provenance = Provenance { inputs: args.input.clone(), skipped, created_unix };
    if spec.model.kind == ModelKind::Flow2vec {
        return train_flow2vec(args, &spec, &ex.rows, provenance, t0);
    }
    // k-means minimises the inertia; k-modes and k-prototypes a cost.
    let objective = if matches!(spec.model.kind, ModelKind::Kmeans | ModelKind::Flow2vec) { "inertia" } else { "cost" };
    let swept = match range {
        Some((a, b, pick)) => Some(sweep(&spec, &ex.rows, (a, b), pick, args.quiet, &provenance)?),
        None => None,
    };
    if let Some((sweep, _)) = &swept {
        spec = spec.with_n_clusters(sweep.chosen).map_err(|e| anyhow::anyhow!(e.join("; ")))?;
    }
    let m = &spec.model;
    let model = match swept {
        // The sweep kept the chosen k's model.
        Some((sweep, mut model)) => {
            model.fitted.as_mut().expect("fit_model returns a fitted model").training.sweep = Some(sweep);
            model
        }
        None => {
            let fbar = ProgressBar::with_draw_target(Some(u64::from(m.n_init)), target());
            fbar.set_style(style("fitting  [{bar:30}] start {pos}/{len}  {msg}  ({elapsed})"));
            let mut on_progress = |p: logsieve_train::kmeans::Progress| {
                if p.run_done {
                    fbar.inc(1);
                }
                let best = p.best_inertia.map(|b| format!(", best {b:.6e}")).unwrap_or_default();
                fbar.set_message(format!("iteration {} {objective} {:.6e}{best}", p.iteration, p.inertia));
            };
            let model = fit_model(&spec, &ex.rows, provenance, &mut on_progress)?;
            fbar.finish();
            model
        }
    };

    let bytes = encode(&model).map_err(anyhow::Error::msg)?;
    write_atomically(&args.out, &bytes)?;
    if !args.quiet {
        let decoded = logsieve_artifact::decode(&bytes).map_err(anyhow::Error::msg)?;
        let fitted = model.fitted.as_ref().expect("fit_model returns a fitted model");
        let sizes: Vec<String> = fitted.clusters.iter().map(|c| c.size.to_string()).collect();
        if fitted.clusters.len() < m.n_clusters as usize {
            eprintln!(
                "note: only {} distinct rows, so {} clusters instead of n_clusters = {} (as the kmodes package does)",
                fitted.clusters.len(),
                fitted.clusters.len(),
                m.n_clusters
            );
        }
        eprintln!(
            "wrote {} ({} bytes, model {}): {} rows, {} k={}, {objective} {:.6}, cluster sizes [{}], {:.2} s",
            args.out.display(),
            bytes.len(),
            decoded.id,
            fitted.training.rows,
            m.kind.as_str(),
            fitted.clusters.len(),
            fitted.training.inertia,
            sizes.join(", "),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// What `--pick` chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The elbow of the inertia curve.
    Elbow,
    /// The highest silhouette.
    Silhouette,
    /// This k.
    Given(u32),
}

fn parse_pick(pick: Option<&str>, a: u32, b: u32) -> Result<Pick> {
    Ok(match pick.unwrap_or("elbow") {
        "elbow" => Pick::Elbow,
        "silhouette" => Pick::Silhouette,
        k => match k.parse::<u32>() {
            Ok(k) if (a..=b).contains(&k) => Pick::Given(k),
            Ok(k) => bail!("--pick {k} is outside --n-clusters {a}..{b}"),
            Err(_) => bail!("--pick takes elbow, silhouette or a number of clusters, not '{k}'"),
        },
    })
}

/// Fit every k of `a..=b` with the spec's trainer, `n_init` and
/// `random_state`; report the inertia (cost) and the silhouette of each,
/// and the elbow. k-means: the silhouette is computed on the scaled
/// features of a deterministic sample of at most
/// [`logsieve_train::silhouette::DEFAULT_SAMPLE_SIZE`] rows (the same for
/// every k); k-modes and k-prototypes: the cost only. Every k is fitted by
/// [`fit_model`], as `train --n-clusters k` would fit it; the chosen k's
/// model is returned with the sweep.
pub fn sweep(
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    (a, b): (u32, u32),
    pick: Pick,
    quiet: bool,
    provenance: &Provenance,
) -> Result<(Sweep, Model)> {
    use logsieve_train::silhouette::{DEFAULT_SAMPLE_SIZE, sample_indices, silhouette_score};
    let m = &spec.model;
    let kmeans = m.kind == ModelKind::Kmeans;
    let objective = if kmeans { "inertia" } else { "cost" };
    let n_k = u64::from(b - a + 1);
    let bar = ProgressBar::with_draw_target(
        Some(n_k * u64::from(m.n_init)),
        if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() },
    );
    bar.set_style(style("sweep    [{bar:30}] {prefix}  {msg}  ({elapsed})"));
    // Above the bar on a terminal; plain lines otherwise (a hidden bar
    // prints nothing).
    let say = |line: String| match (quiet, bar.is_hidden()) {
        (true, _) => {}
        (false, true) => eprintln!("{line}"),
        (false, false) => bar.println(line),
    };
    say(format!(
        "sweep: n_clusters {a}..{b} ({n_k} fits, n_init {} each, random_state {}){}",
        m.n_init,
        m.random_state,
        if kmeans {
            format!(
                "; silhouette on {} of the {} rows (Euclidean, scaled features)",
                rows.len().min(DEFAULT_SAMPLE_SIZE),
                rows.len()
            )
        } else {
            "; no silhouette for k-modes / k-prototypes".to_string()
        }
    ));
    // The silhouette's rows: a deterministic sample, the same for every k.
    let sample = if kmeans { sample_indices(rows.len(), DEFAULT_SAMPLE_SIZE, m.random_state) } else { Vec::new() };
    let sample_rows: Vec<Vec<FeatureValue>> = sample.iter().map(|&i| rows[i].clone()).collect();
    let mut points = Vec::new();
    let mut models = Vec::new();
    for k in a..=b {
        let t = Instant::now();
        bar.set_prefix(format!("k={k} ({}/{n_k})", k - a + 1));
        let mut on_progress = |p: logsieve_train::kmeans::Progress| {
            if p.run_done {
                bar.inc(1);
            }
            bar.set_message(format!("start {}/{} {objective} {:.6e}", p.run + 1, p.n_runs, p.inertia));
        };
        // The same fit as `train --n-clusters k`.
        let s = spec.with_n_clusters(k).map_err(|e| anyhow::anyhow!("with n_clusters = {k}: {}", e.join("; ")))?;
        let prov = Provenance {
            inputs: provenance.inputs.clone(),
            skipped: provenance.skipped,
            created_unix: provenance.created_unix,
        };
        let model =
            fit_model(&s, rows, prov, &mut on_progress).map_err(|e| anyhow::anyhow!("with n_clusters = {k}: {e}"))?;
        let fitted = model.fitted.as_ref().expect("fit_model returns a fitted model");
        // k-means: the sample's scaled rows, by the model's own encoder, and
        // their clusters (the nearest centroid: the fit's final labels).
        let silhouette = if kmeans {
            bar.set_message("silhouette…");
            let xs = encode_rows(&Encoder::new(&s, fitted), &sample_rows)?;
            let centroids = ndarray::Array2::from_shape_vec(
                (fitted.clusters.len(), xs.ncols()),
                fitted.clusters.iter().flat_map(|c| c.centroid.iter().copied()).collect(),
            )
            .expect("centroids have the features' dimension");
            let labels: Vec<u32> = xs
                .rows()
                .into_iter()
                .map(|r| kmeans::predict(centroids.view(), r.as_slice().expect("a standard-layout row")).0 as u32)
                .collect();
            silhouette_score(xs.view(), &labels)
        } else {
            None
        };
        let point =
            SweepPoint { n_clusters: k, inertia: fitted.training.inertia, silhouette, n_iter: fitted.training.n_iter };
        models.push(model);
        say(format!(
            "  k={k:<3} {objective} {:<14.6e} silhouette {:<8} {} iterations  ({:.2} s)",
            point.inertia,
            point.silhouette.map_or("-".to_string(), |s| format!("{s:.4}")),
            point.n_iter,
            t.elapsed().as_secs_f64()
        ));
        points.push(point);
    }
    bar.finish_and_clear();
    let curve: Vec<(f64, f64)> = points.iter().map(|p| (f64::from(p.n_clusters), p.inertia)).collect();
    let elbow_at = elbow(&curve);
    let elbow_k = elbow_at.map_or(a, |i| points[i].n_clusters);
    let (chosen, rule) = match pick {
        Pick::Elbow => (elbow_k, "elbow"),
        Pick::Given(k) => (k, "given"),
        Pick::Silhouette => {
            let best = points.iter().filter_map(|p| p.silhouette.map(|s| (p.n_clusters, s))).fold(
                None,
                |best: Option<(u32, f64)>, (k, s)| match best {
                    Some((_, bs)) if bs >= s => best,
                    _ => Some((k, s)),
                },
            );
            match best {
                Some((k, _)) => (k, "silhouette"),
                None => bail!("--pick silhouette: no silhouette was computed (k-means models only)"),
            }
        }
    };
    if !quiet {
        let best_sil = points.iter().filter_map(|p| p.silhouette).fold(f64::NEG_INFINITY, f64::max);
        eprintln!("  k    {objective:<14} silhouette");
        for p in &points {
            let mut marks = Vec::new();
            if p.n_clusters == elbow_k && elbow_at.is_some() {
                marks.push("elbow");
            }
            if p.silhouette == Some(best_sil) {
                marks.push("best silhouette");
            }
            if p.n_clusters == chosen {
                marks.push("chosen");
            }
            eprintln!(
                "  {:<4} {:<14.6e} {:<10}  {}",
                p.n_clusters,
                p.inertia,
                p.silhouette.map_or("-".to_string(), |s| format!("{s:.4}")),
                if marks.is_empty() { String::new() } else { format!("<- {}", marks.join(", ")) }
            );
        }
        match elbow_at {
            Some(_) => eprintln!(
                "elbow: k = {elbow_k} (the point farthest from the line joining the first and the last {objective}, \
                 both axes scaled to [0, 1])"
            ),
            None => eprintln!("elbow: none (the {objective} falls along a straight line); taking k = {a}"),
        }
        let why = match rule {
            "elbow" => "the elbow (--pick elbow, the default)".to_string(),
            "silhouette" => "the highest silhouette (--pick silhouette)".to_string(),
            _ => format!("--pick {chosen}"),
        };
        eprintln!("writing the model with n_clusters = {chosen}: {why}");
    }
    let silhouette_rows = sample.len() as u64;
    let model = models.swap_remove((chosen - a) as usize);
    let elbow = elbow_at.map(|_| elbow_k);
    Ok((Sweep { points, elbow, chosen, rule: rule.to_string(), silhouette_rows }, model))
}

/// The flow2vec half of `logsieve train`: word2vec, then k-means.
fn train_flow2vec(
    args: &TrainArgs,
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    provenance: Provenance,
    t0: Instant,
) -> Result<()> {
    let target = || {
        if args.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() }
    };
    let wbar = ProgressBar::with_draw_target(Some(100), target());
    wbar.set_style(style("word2vec [{bar:30}] {pos}%  {msg}  ({elapsed})"));
    let mut on_w2v = |p: logsieve_train::word2vec::Progress| {
        wbar.set_position((100 * p.raw_words / p.total_raw_words.max(1)).min(100));
        wbar.set_message(format!(
            "epoch {}/{}  alpha {:.5}  {:.0} words/s",
            p.epoch + 1,
            p.epochs,
            p.alpha,
            p.effective_words_per_s
        ));
    };
    let kbar = ProgressBar::with_draw_target(Some(u64::from(spec.model.n_init)), target());
    kbar.set_style(style("k-means  [{bar:30}] start {pos}/{len}  {msg}  ({elapsed})"));
    let mut on_kmeans = |p: logsieve_train::kmeans::Progress| {
        if p.run_done {
            kbar.inc(1);
        }
        kbar.set_message(format!("iteration {} inertia {:.6e}", p.iteration, p.inertia));
    };
    let (model, report) =
        logsieve_train::flow2vec::fit_flow2vec(spec, rows, provenance, args.threads, &mut on_w2v, &mut on_kmeans)?;
    wbar.finish();
    kbar.finish();
    let bytes = encode(&model).map_err(anyhow::Error::msg)?;
    write_atomically(&args.out, &bytes)?;
    if !args.quiet {
        let decoded = logsieve_artifact::decode(&bytes).map_err(anyhow::Error::msg)?;
        let w = &report.word2vec;
        eprintln!(
            "word2vec: {} tokens in {} sentences, {} effective words in {:.2} s ({:.0} words/s, {} thread(s){})",
            report.vocabulary,
            report.sentences,
            w.effective_words,
            w.seconds,
            w.effective_words_per_s,
            w.threads,
            if w.avx2_fma { ", AVX2+FMA" } else { "" }
        );
        eprintln!(
            "wrote {} ({} bytes, model {}): {} events, flow2vec k={}, {:.2} s",
            args.out.display(),
            bytes.len(),
            decoded.id,
            rows.len(),
            report.n_clusters,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Write via a temporary file and a rename, so a reader never sees half a model.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}
