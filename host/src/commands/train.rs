//! `logsieve train`: read logs, extract features through the component (the
//! same code that scores), fit the model natively, write the artifact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use logsieve_artifact::{Model, ModelKind, ModelSpec, encode};
use logsieve_plugin::FeatureValue;
use logsieve_readers::{Format, Reader};
use logsieve_train::model::{Provenance, fit_model};

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
    /// Override the spec's `n_clusters`.
    #[arg(long)]
    pub n_clusters: Option<u32>,
    /// flow2vec: word2vec threads (0 = all cores; 1 = the same vectors for
    /// the same random_state, bit for bit).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bars or summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Load and validate a model spec file.
pub fn load_spec(path: &Path) -> Result<ModelSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the spec {}", path.display()))?;
    let mut spec: ModelSpec = toml::from_str(&text).with_context(|| format!("in the spec {}", path.display()))?;
    // CIDR tables are read now and stored in the model, so it is self-contained.
    let base = path.parent().unwrap_or(Path::new("."));
    for d in &mut spec.derive {
        if let Some(file) = &d.cidr_file {
            let p = base.join(file);
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("derive {}: reading the CIDR table {}", d.name, p.display()))?;
            let table = logsieve_plugin::derive::CidrTable::parse(&text)
                .map_err(|e| anyhow::anyhow!("derive {}: {}: {e}", d.name, p.display()))?;
            d.cidr_table = table.entries();
        }
    }
    if let Err(errs) = spec.validate() {
        bail!("the spec {} has {} problem(s):\n  - {}", path.display(), errs.len(), errs.join("\n  - "));
    }
    Ok(spec)
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
    spec: &ModelSpec,
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
    if let Some(k) = args.n_clusters {
        spec.model.n_clusters = k;
        spec.validate().map_err(|e| anyhow::anyhow!(e.join("; ")))?;
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

    let created_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let provenance = Provenance { inputs: args.input.clone(), skipped, created_unix };
    if spec.model.kind == ModelKind::Flow2vec {
        return train_flow2vec(args, &spec, &ex.rows, provenance, t0);
    }
    let m = &spec.model;
    // k-means minimises the inertia; k-modes and k-prototypes a cost.
    let objective = if matches!(m.kind, ModelKind::Kmeans | ModelKind::Flow2vec) { "inertia" } else { "cost" };
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

/// The flow2vec half of `logsieve train`: word2vec, then k-means.
fn train_flow2vec(
    args: &TrainArgs,
    spec: &ModelSpec,
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
