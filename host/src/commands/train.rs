//! `logsieve train`: read logs, extract features through the component (the
//! same code that scores), fit the model natively, write the artifact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use logsieve_artifact::model::{Sweep, SweepPoint};
use logsieve_artifact::{Model, ModelKind, ValidSpec, encode};
use logsieve_plugin::FeatureValue;
use logsieve_readers::{Format, Item, Reader};
use logsieve_train::fit::Pick;
use logsieve_train::model::Provenance;
use logsieve_train::progress::{Clustering, Progress, Word2Vec};

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
    #[arg(short = 'o', long, visible_alias = "output")]
    pub out: PathBuf,
    /// Input format: auto, zeek_tsv, zeek_json, ndjson, csv, tsv.
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<Format>().map_err(|e| e.to_string()))]
    pub format: Format,
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

/// Load and validate a model spec file.
pub fn load_spec(path: &Path) -> Result<ValidSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the spec {}", path.display()))?;
    let spec: logsieve_artifact::ModelSpec =
        toml::from_str(&text).with_context(|| format!("in the spec {}", path.display()))?;
    let mut spec = spec.with_new_spec_defaults();
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
    /// The top-level keys of the first [`KEYS_SAMPLE`] events (to name
    /// the fields near a feature's that occurs in none).
    pub fields_seen: BTreeSet<String>,
}

/// How many events' keys [`Extracted::fields_seen`] holds.
const KEYS_SAMPLE: usize = 1000;

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
    extract_items(spec, Reader::open(paths, format), plugin, bar)
}

/// Extract the spec's features through the component from events already
/// read: a [`Reader`], or items held in memory (`logsieve evaluate
/// --holdout` trains on a subset of what it read). Items are taken in the
/// order given; `bar` advances when the items' file changes and once at the
/// end, as for [`extract`].
pub fn extract_items(
    spec: &ValidSpec,
    items: impl IntoIterator<Item = Item>,
    plugin: Option<&Path>,
    bar: &ProgressBar,
) -> Result<Extracted> {
    let mut items = items.into_iter();
    let spec_only = encode(&Model { spec: spec.clone(), fitted: None }).map_err(anyhow::Error::msg)?;
    let rt = runtime::load(plugin)?;
    let mut inst = runtime::instantiate_model(
        &rt,
        &spec_only,
        Path::new("<spec>"),
        Options { top_features: 0, emit_vector: false },
    )?;
    let mut out = Extracted {
        rows: Vec::new(),
        skipped: BTreeMap::new(),
        examples: BTreeMap::new(),
        filtered: 0,
        absorbed: 0,
        fields_seen: BTreeSet::new(),
    };
    let mut keyed = 0;
    let mut batch = Vec::with_capacity(1000);
    let mut origins = Vec::with_capacity(1000);
    let mut last_file: Option<std::sync::Arc<str>> = None;
    loop {
        batch.clear();
        origins.clear();
        let mut taken = 0;
        for item in items.by_ref().take(1000) {
            taken += 1;
            if last_file.as_ref().is_none_or(|f| !std::sync::Arc::ptr_eq(f, &item.origin.file)) {
                if last_file.is_some() {
                    bar.inc(1);
                }
                last_file = Some(item.origin.file.clone());
            }
            match item.result {
                Ok(text) => {
                    if keyed < KEYS_SAMPLE {
                        keyed += 1;
                        if let Ok(m) = serde_json::from_str::<BTreeMap<String, serde::de::IgnoredAny>>(&text) {
                            out.fields_seen.extend(m.into_keys());
                        }
                    }
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
                WitExtracted::Features(vals) => {
                    let row: Vec<FeatureValue> = vals.into_iter().map(from_wit).collect();
                    match required_missing(spec, &row) {
                        Some(detail) => out.skip("missing_field", format!("{}:{}: {detail}", origin.file, origin.line)),
                        None => out.rows.push(row),
                    }
                }
                WitExtracted::Passed | WitExtracted::Dropped => out.filtered += 1,
                WitExtracted::Absorbed => out.absorbed += 1,
                WitExtracted::Failed(e) => {
                    out.skip(&e.reason, format!("{}:{}: {}", origin.file, origin.line, e.detail))
                }
            }
        }
        aggregates(spec, result.emitted, &mut out);
        let skipped: u64 = out.skipped.values().sum();
        bar.set_message(format!("{} events, {skipped} skipped", out.rows.len()));
    }
    aggregates(spec, inst.flush_extract()?, &mut out);
    bar.inc(1);
    Ok(out)
}

/// Why a row cannot be trained on: a feature whose policy is `missing =
/// "error"` is absent or null (the scorer refuses such an event as
/// `missing_field`; training skips it the same way).
fn required_missing(spec: &ValidSpec, row: &[FeatureValue]) -> Option<String> {
    spec.features.iter().zip(row).find_map(|(f, v)| {
        (matches!(v, FeatureValue::Missing) && f.missing_policy() == logsieve_artifact::Missing::Error)
            .then(|| format!("field '{}' is absent or null (missing = \"error\")", f.field))
    })
}

/// Rows from aggregate events (models with `[aggregate]`).
fn aggregates(spec: &ValidSpec, emitted: Vec<Result<Vec<WitValue>, crate::runtime::EventError>>, out: &mut Extracted) {
    for r in emitted {
        match r {
            Ok(vals) => {
                let row: Vec<FeatureValue> = vals.into_iter().map(from_wit).collect();
                match required_missing(spec, &row) {
                    Some(detail) => out.skip("missing_field", format!("<aggregate>: {detail}")),
                    None => out.rows.push(row),
                }
            }
            Err(e) => out.skip(&e.reason, format!("<aggregate>: {}", e.detail)),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> ")
}

/// The progress of `logsieve train`, drawn as bars on stderr (hidden with
/// `--quiet`).
struct Bars {
    quiet: bool,
    /// "inertia" (k-means) or "cost" (k-modes, k-prototypes).
    objective: &'static str,
    /// The single fit's starts, or flow2vec's k-means.
    fit: Option<ProgressBar>,
    word2vec: Option<ProgressBar>,
    /// A sweep's fits, all k together.
    sweep: Option<ProgressBar>,
}

impl Bars {
    fn new(quiet: bool, objective: &'static str) -> Bars {
        Bars { quiet, objective, fit: None, word2vec: None, sweep: None }
    }

    fn bar(&self, len: u64, template: &str) -> ProgressBar {
        let target = if self.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        bar.set_style(style(template));
        bar
    }

    /// A line for people: above the bar on a terminal, a plain line
    /// otherwise (a hidden bar prints nothing).
    fn say(&self, line: String) {
        match (&self.sweep, self.quiet) {
            (_, true) => {}
            (Some(bar), false) if !bar.is_hidden() => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        for b in [&self.fit, &self.word2vec].into_iter().flatten() {
            b.finish();
        }
        if let Some(b) = &self.sweep {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn clustering(&mut self, p: &Clustering) {
        let objective = self.objective;
        if let Some(bar) = &self.sweep {
            if p.run_done {
                bar.inc(1);
            }
            bar.set_message(format!("start {}/{} {objective} {:.6e}", p.run + 1, p.n_runs, p.inertia));
            return;
        }
        let flow2vec = self.word2vec.is_some();
        let template = if flow2vec {
            "k-means  [{bar:30}] start {pos}/{len}  {msg}  ({elapsed})"
        } else {
            "fitting  [{bar:30}] start {pos}/{len}  {msg}  ({elapsed})"
        };
        if self.fit.is_none() {
            self.fit = Some(self.bar(p.n_runs as u64, template));
        }
        let bar = self.fit.as_ref().expect("just made");
        if p.run_done {
            bar.inc(1);
        }
        let best = p.best_inertia.filter(|_| !flow2vec).map(|b| format!(", best {b:.6e}")).unwrap_or_default();
        bar.set_message(format!("iteration {} {objective} {:.6e}{best}", p.iteration, p.inertia));
    }

    fn word2vec(&mut self, p: &Word2Vec) {
        if self.word2vec.is_none() {
            self.word2vec = Some(self.bar(100, "word2vec [{bar:30}] {pos}%  {msg}  ({elapsed})"));
        }
        let bar = self.word2vec.as_ref().expect("just made");
        bar.set_position((100 * p.raw_words / p.total_raw_words.max(1)).min(100));
        bar.set_message(format!(
            "epoch {}/{}  alpha {:.5}  {:.0} words/s",
            p.epoch + 1,
            p.epochs,
            p.alpha,
            p.effective_words_per_s
        ));
    }

    fn sweep_fit(&mut self, k: u32, index: usize, count: usize) {
        if let Some(bar) = &self.sweep {
            bar.set_prefix(format!("k={k} ({}/{count})", index + 1));
        }
    }

    fn silhouette(&mut self) {
        if let Some(bar) = &self.sweep {
            bar.set_message("silhouette…");
        }
    }

    fn sweep_point(&mut self, point: &SweepPoint, seconds: f64) {
        self.say(format!(
            "  k={:<3} {} {:<14.6e} silhouette {:<8} {} iterations  ({seconds:.2} s)",
            point.n_clusters,
            self.objective,
            point.inertia,
            point.silhouette.map_or("-".to_string(), |s| format!("{s:.4}")),
            point.n_iter,
        ));
    }
}

/// Say on stderr (unless `quiet`) what extraction skipped, left out and
/// aggregated; fail when no row is left. `inputs` names the inputs in the
/// error. Returns the number of events skipped.
pub fn report_extracted(spec: &ValidSpec, ex: &Extracted, quiet: bool, inputs: &str) -> Result<u64> {
    let skipped: u64 = ex.skipped.values().sum();
    if !quiet && skipped > 0 {
        eprintln!("skipped {skipped} event(s) that could not be used:");
        for (reason, n) in &ex.skipped {
            eprintln!("  {reason}: {n}  (first: {})", ex.examples[reason]);
        }
    }
    if !quiet && ex.filtered > 0 {
        eprintln!("left out {} event(s) that do not meet the spec's [[where]] or [[train.where]]", ex.filtered);
    }
    if !quiet && ex.absorbed > 0 {
        eprintln!("aggregated {} event(s) into {} rows (one per key and window)", ex.absorbed, ex.rows.len());
    }
    if ex.rows.is_empty() {
        bail!("no usable events in {inputs} (skipped {skipped})");
    }
    let absent = logsieve_train::checks::absent_features(spec, &ex.rows, &ex.fields_seen);
    if !absent.is_empty() {
        bail!(
            "{} feature(s) occur in no training row of {inputs}; check the field names in the spec:\n  - {}",
            absent.len(),
            absent.join("\n  - ")
        );
    }
    if !quiet {
        for w in logsieve_train::checks::wide_categoricals(spec, &ex.rows) {
            eprintln!(
                "note: features[{}] ({}) has {} distinct values in {} training rows{}, {} of them in one row only; \
                 consider a coarser field or a [[derive]] that groups them",
                w.index,
                w.name,
                w.distinct,
                ex.rows.len(),
                if spec.model.kind.one_hot() { format!(" ({} one-hot columns)", w.distinct) } else { String::new() },
                w.once
            );
        }
    }
    Ok(skipped)
}

/// Fit the spec's model on extracted rows as `logsieve train` does (one k),
/// with its progress bars on stderr (none when `quiet`).
pub fn fit_rows(
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    provenance: Provenance,
    threads: usize,
    quiet: bool,
) -> Result<logsieve_train::Fit> {
    let objective = if matches!(spec.model.kind, ModelKind::Kmeans | ModelKind::Flow2vec) { "inertia" } else { "cost" };
    fit_with(spec, rows, provenance, threads, &mut Bars::new(quiet, objective))
}

fn fit_with(
    spec: &ValidSpec,
    rows: &[Vec<FeatureValue>],
    provenance: Provenance,
    threads: usize,
    bars: &mut Bars,
) -> Result<logsieve_train::Fit> {
    let fit = logsieve_train::fit(spec, rows, provenance, threads, bars)?;
    bars.finish();
    Ok(fit)
}

/// `--pick`, for `--n-clusters A..B`.
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

/// `logsieve train`.
pub fn train(args: &TrainArgs) -> Result<()> {
    let t0 = Instant::now();
    let mut spec = load_spec(&args.spec)?;
    if args.n_clusters.is_some() && !spec.model.kind.clusters() {
        bail!("--n-clusters: an {} model has no clusters", spec.model.kind.as_str());
    }
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
    let format = args.format;
    let paths = logsieve_readers::expand_inputs(&args.input)?;
    let target = if args.quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };

    let bar = ProgressBar::with_draw_target(Some(paths.len() as u64), target);
    bar.set_style(style("reading  [{bar:30}] {pos}/{len} files  {msg}  ({elapsed})"));
    let ex = extract(&spec, paths, format, args.plugin.as_deref(), &bar)?;
    bar.finish();
    let skipped = report_extracted(&spec, &ex, args.quiet, &args.input.join(" "))?;

    let created_unix = super::creation_time()?;
    let provenance = Provenance { inputs: args.input.clone(), skipped, created_unix };
    // k-means minimises the inertia; k-modes and k-prototypes a cost.
    let objective = if matches!(spec.model.kind, ModelKind::Kmeans | ModelKind::Flow2vec) { "inertia" } else { "cost" };
    let mut bars = Bars::new(args.quiet, objective);
    let (model, flow2vec) = match range {
        Some((a, b, pick)) => {
            if b as usize > ex.rows.len() {
                bail!("{}", logsieve_train::fit::range_beyond_rows((a, b), ex.rows.len()));
            }
            let m = &spec.model;
            let n_k = u64::from(b - a + 1);
            bars.sweep = Some(bars.bar(n_k * u64::from(m.n_init), "sweep    [{bar:30}] {prefix}  {msg}  ({elapsed})"));
            bars.say(format!(
                "sweep: n_clusters {a}..{b} ({n_k} fits, n_init {} each, random_state {}){}",
                m.n_init,
                m.random_state,
                if m.kind == ModelKind::Kmeans {
                    format!(
                        "; silhouette on {} of the {} rows (Euclidean, scaled features)",
                        ex.rows.len().min(logsieve_train::silhouette::DEFAULT_SAMPLE_SIZE),
                        ex.rows.len()
                    )
                } else {
                    "; no silhouette for k-modes / k-prototypes".to_string()
                }
            ));
            let model = logsieve_train::sweep(&spec, &ex.rows, (a, b), pick, &provenance, &mut bars)?;
            bars.finish();
            if !args.quiet {
                print_sweep(
                    model.fitted.as_ref().and_then(|f| f.training.sweep.as_ref()).expect("a sweep"),
                    objective,
                    a,
                );
            }
            (model, None)
        }
        None => {
            let fit = fit_with(&spec, &ex.rows, provenance, args.threads, &mut bars)?;
            (fit.model, fit.flow2vec)
        }
    };

    let bytes = encode(&model).map_err(anyhow::Error::msg)?;
    write_atomically(&args.out, &bytes)?;
    if args.quiet {
        return Ok(());
    }
    let decoded = logsieve_artifact::decode(&bytes).map_err(anyhow::Error::msg)?;
    let fitted = model.fitted.as_ref().expect("a fit returns a fitted model");
    if let Some(report) = flow2vec {
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
            ex.rows.len(),
            report.n_clusters,
            t0.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let m = &model.spec.model;
    if let Some(iso) = &fitted.isolation {
        eprintln!(
            "wrote {} ({} bytes, model {}): {} rows, isolation_forest of {} trees on {} rows each, threshold \
             (anomaly score) {:.6}, {:.2} s",
            args.out.display(),
            bytes.len(),
            decoded.id,
            fitted.training.rows,
            iso.forest.trees.len(),
            iso.forest.max_samples,
            iso.threshold,
            t0.elapsed().as_secs_f64()
        );
        return Ok(());
    }
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
    Ok(())
}

/// The table of a sweep: each k's inertia (cost) and silhouette, the elbow,
/// the best silhouette and the k written.
fn print_sweep(sweep: &Sweep, objective: &str, first: u32) {
    let best_sil = sweep.points.iter().filter_map(|p| p.silhouette).fold(f64::NEG_INFINITY, f64::max);
    eprintln!("  k    {objective:<14} silhouette");
    for p in &sweep.points {
        let mut marks = Vec::new();
        if Some(p.n_clusters) == sweep.elbow {
            marks.push("elbow");
        }
        if p.silhouette == Some(best_sil) {
            marks.push("best silhouette");
        }
        if p.n_clusters == sweep.chosen {
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
    match sweep.elbow {
        Some(k) => eprintln!(
            "elbow: k = {k} (the point farthest from the line joining the first and the last {objective}, \
             both axes scaled to [0, 1])"
        ),
        None => eprintln!("elbow: none (the {objective} falls along a straight line); taking k = {first}"),
    }
    let why = match sweep.rule.as_str() {
        "elbow" => "the elbow (--pick elbow, the default)".to_string(),
        "silhouette" => "the highest silhouette (--pick silhouette)".to_string(),
        _ => format!("--pick {}", sweep.chosen),
    };
    eprintln!("writing the model with n_clusters = {}: {why}", sweep.chosen);
}

/// Write via a temporary file and a rename, so a reader never sees half a model.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    remove_stale_temporaries(path);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display())).and_then(|()| {
        std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp); // a full disk leaves no half model behind
    }
    written
}

/// Remove the temporary files [`write_atomically`] left for `path` (named
/// `<path without extension>.tmp<pid>`) when it was killed: those of
/// processes that are gone (on Linux, no `/proc/<pid>`; elsewhere, older
/// than a day).
fn remove_stale_temporaries(path: &Path) {
    let (Some(stem), Some(dir)) = (path.file_stem().and_then(|s| s.to_str()), path.parent()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!("{stem}.tmp");
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid == std::process::id() || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let gone = if cfg!(target_os = "linux") {
            !Path::new(&format!("/proc/{pid}")).exists()
        } else {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|a| a > std::time::Duration::from_secs(86_400)))
        };
        if gone {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
