//! `logsieve evaluate`: does the model find the attack? Score a labelled
//! capture and measure how well the scores and flags separate positives
//! (attacks) from negatives (benign events).
//!
//! Two modes:
//!
//! - `--model M`: score every event read with a trained model.
//! - `--spec S --holdout F [--random-state N]`: the detection baseline's
//!   framing (`shared/detection/baseline.py`): read every event, shuffle
//!   the negatives' indices as `numpy.random.default_rng(N).shuffle` does
//!   ([`logsieve_train::numpy_rng::Generator`]), train on the first
//!   `floor(n_negatives × F)` of them through `logsieve train`'s own code
//!   (extraction through the component, [`logsieve_train::fit`]), and score
//!   the other negatives and every positive.
//!
//! Scoring is the plugin's native [`Scorer`] (`score_lines`, then
//! `flush_lines` for `[aggregate]` models, whose scored events are the
//! aggregates). Each scored event's label is read from the scored text (the
//! event with its `logsieve` object), so an aggregate takes the label of
//! its key (`--labels FILE --key-field F`). The metrics are
//! [`logsieve_train::metrics`]; [`report`] prints them as a table or JSON.

pub mod labels;
pub mod report;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use logsieve_artifact::encode;
use logsieve_plugin::{Lines, Options, Outcome, Scorer, Verdict};
use logsieve_readers::{Format, Item, Reader};
use logsieve_train::model::Provenance;
use logsieve_train::numpy_rng::Generator;

use self::labels::{Class, Labeler, Source};
use self::report::Report;
use super::train::{extract_items, fit_rows, load_spec, report_extracted};

/// Arguments of `logsieve evaluate`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["model", "spec"])))]
pub struct EvaluateArgs {
    /// A model written by `logsieve train`: score every input event with it.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Holdout mode: train a model of this spec on part of the negative
    /// events, score the other negatives and every positive.
    #[arg(long, requires = "holdout")]
    pub spec: Option<PathBuf>,
    /// With --spec: the share of the negative events to train on, above 0
    /// and below 1: after the shuffle, the first floor(n × F) train, the
    /// rest are scored (0.5 is the detection baseline's half).
    #[arg(long, requires = "spec", value_parser = parse_share)]
    pub holdout: Option<f64>,
    /// With --spec: the seed of the shuffle, as numpy.random.default_rng(N)
    /// (default 0, the baseline's).
    #[arg(long, requires = "spec")]
    pub random_state: Option<u64>,
    /// Input files or globs (quote globs), read in order; `.gz` is read transparently.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<String>,
    /// Input format: auto, zeek_tsv, zeek_json, ndjson, csv, tsv.
    #[arg(long, default_value = "auto", value_parser = |s: &str| s.parse::<Format>().map_err(|e| e.to_string()))]
    pub format: Format,
    /// The events' field holding the label (with --labels: the labels
    /// file's column holding it).
    #[arg(long, default_value = "label")]
    pub label_field: String,
    /// A label that makes an event positive (an attack): a pattern where
    /// `*` stands for any characters, compared without case with the label
    /// trimmed of spaces, e.g. 'Malicious*'. Repeatable.
    #[arg(long, required = true)]
    pub positive: Vec<String>,
    /// A label that makes an event negative (same patterns; repeatable).
    /// Without it every labelled event that is not positive is negative;
    /// with it, events matching neither are unlabelled and left out.
    #[arg(long)]
    pub negative: Vec<String>,
    /// A CSV (with a header) or NDJSON file of labels: a column named by
    /// --key-field and one named by --label-field. An event takes the label
    /// of its --key-field value (an [aggregate] model's aggregate events
    /// carry their key fields).
    #[arg(long, requires = "key_field")]
    pub labels: Option<PathBuf>,
    /// With --labels: the field events are looked up by.
    #[arg(long, requires = "labels")]
    pub key_field: Option<String>,
    /// k of precision@k: the share of positives among the k highest scores
    /// (ties: the earlier event first). Repeatable, or a comma list.
    #[arg(long, value_delimiter = ',', default_value = "100", value_parser = parse_k)]
    pub top_k: Vec<usize>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write every scored event (the event with its `logsieve` object)
    /// to this file, as NDJSON.
    #[arg(short = 'o', long = "out", visible_alias = "output")]
    pub output: Option<PathBuf>,
    /// Holdout mode: extract features with this component instead of the embedded one.
    #[arg(long, requires = "spec")]
    pub plugin: Option<PathBuf>,
    /// Holdout mode, flow2vec: word2vec threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress bars or messages on stderr (the results still go to stdout).
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--holdout F`: a share strictly between 0 and 1.
pub fn parse_share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err(format!("'{s}' is not a share above 0 and below 1 (e.g. 0.5)")),
    }
}

fn parse_k(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(k) if k > 0 => Ok(k),
        _ => Err(format!("'{s}' is not a whole number above 0")),
    }
}

/// How the holdout split came out.
#[derive(Debug, Clone, Default)]
pub struct Holdout {
    /// `--holdout`.
    pub share: f64,
    /// `--random-state`.
    pub random_state: u64,
    /// Negative events read.
    pub negatives: u64,
    /// Of them, trained on.
    pub train: u64,
    /// Of them, scored.
    pub held_out: u64,
    /// Positive events (all scored).
    pub positives: u64,
    /// Events neither trained on nor scored: unlabelled, no label.
    pub left_out: u64,
    /// Rows the model was fitted on (aggregates for `[aggregate]` models).
    pub train_rows: u64,
}

/// An item that got a verdict: a scored event, or an aggregate event.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// Positive or negative (other classes are only counted).
    pub positive: bool,
    /// The verdict.
    pub verdict: Verdict,
}

/// Per label value (or per class): events read, trained on, scored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Count {
    /// Input events with it.
    pub events: u64,
    /// Of them, trained on (holdout mode).
    pub trained: u64,
    /// Items scored with it (events, or aggregate events) that got a verdict.
    pub scored: u64,
}

/// Everything counted while scoring.
#[derive(Debug, Default)]
pub struct Tally {
    /// Events read (without read errors).
    pub events: u64,
    /// Lines that could not be read, per reason.
    pub read_errors: BTreeMap<String, u64>,
    /// Items with a verdict (events and aggregate events).
    pub verdicts: u64,
    /// Of them, without a score (flow2vec tokens that could not be scored).
    pub no_score: u64,
    /// Aggregate events emitted (with a verdict or failed).
    pub aggregates: u64,
    /// Events and aggregates that got no verdict: `passed`, `dropped`,
    /// `absorbed`, `failed: <reason>`, `aggregate failed: <reason>`.
    pub not_scored: BTreeMap<String, u64>,
    /// A first example per `failed` reason.
    pub examples: BTreeMap<String, String>,
    /// Per raw label value (trimmed): its class and counts.
    pub by_label: BTreeMap<String, (Class, Count)>,
    /// Per class.
    pub by_class: BTreeMap<Class, Count>,
    /// Labelled items with a verdict, in scoring order.
    pub scored: Vec<Scored>,
    /// Whether any event or scored item had the label (or key) field.
    pub field_seen: bool,
    /// The fields of the first scored item (for error messages).
    pub first_scored_fields: Option<Vec<String>>,
    /// The fields of the first event read (for error messages).
    pub first_event_fields: Option<Vec<String>>,
}

/// The key an item without a label is counted under in `by_label`.
pub const NO_LABEL: &str = "(none)";

impl Tally {
    fn count(&mut self, label: Option<&str>, class: Class, f: impl Fn(&mut Count)) {
        let key = label.unwrap_or(NO_LABEL).to_string();
        f(&mut self.by_label.entry(key).or_insert((class, Count::default())).1);
        f(self.by_class.entry(class).or_default());
    }

    /// An input event's label and class (not counted yet).
    fn observe(&mut self, labeler: &Labeler, text: &str) -> Result<(Option<String>, Class)> {
        if self.first_event_fields.is_none() {
            self.first_event_fields = Some(fields(text));
        }
        self.field_seen |= labeler.has_field(text);
        let label = labeler.label(text);
        let class = labeler.classify(label.as_deref())?;
        Ok((label, class))
    }

    /// Count an input event of this label and class.
    fn event(&mut self, label: Option<&str>, class: Class, trained: bool) {
        self.events += 1;
        self.count(label, class, |c| {
            c.events += 1;
            c.trained += u64::from(trained);
        });
    }

    /// A scored item's text and verdict.
    fn verdict(&mut self, labeler: &Labeler, text: &str, verdict: Verdict) -> Result<()> {
        if self.first_scored_fields.is_none() {
            self.first_scored_fields = Some(fields(text));
        }
        self.field_seen |= labeler.has_field(text);
        let label = labeler.label(text);
        let class = labeler.classify(label.as_deref())?;
        self.verdicts += 1;
        self.no_score += u64::from(verdict.score.is_none());
        self.count(label.as_deref(), class, |c| c.scored += 1);
        if class.labelled() {
            self.scored.push(Scored { positive: class == Class::Positive, verdict });
        }
        Ok(())
    }

    fn not_scored(&mut self, what: String, example: impl FnOnce() -> String) {
        self.examples.entry(what.clone()).or_insert_with(example);
        *self.not_scored.entry(what).or_default() += 1;
    }
}

/// The top-level keys of a JSON object text.
fn fields(text: &str) -> Vec<String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(o)) => o.keys().filter(|k| *k != "logsieve").cloned().collect(),
        _ => Vec::new(),
    }
}

/// Scores batches of events and counts what became of them.
struct Scoring<'a> {
    scorer: Scorer,
    /// Count the input events' labels (holdout mode counted them before).
    count_events: bool,
    labeler: &'a Labeler,
    tally: Tally,
    out: Option<std::io::BufWriter<std::fs::File>>,
    out_path: Option<PathBuf>,
}

/// Events scored per call.
const BATCH: usize = 1000;

impl Scoring<'_> {
    /// Score `items` in order, counting read errors and (`count_events`)
    /// the events' labels.
    fn run(&mut self, items: impl IntoIterator<Item = Item>, bar: &ProgressBar) -> Result<()> {
        let mut items = items.into_iter();
        let mut text = String::new();
        let mut origins = Vec::with_capacity(BATCH);
        let mut starts = Vec::with_capacity(BATCH);
        let mut last_file: Option<std::sync::Arc<str>> = None;
        loop {
            text.clear();
            origins.clear();
            starts.clear();
            let mut taken = 0;
            for item in items.by_ref().take(BATCH) {
                taken += 1;
                if last_file.as_ref().is_none_or(|f| !std::sync::Arc::ptr_eq(f, &item.origin.file)) {
                    if last_file.is_some() {
                        bar.inc(1);
                    }
                    last_file = Some(item.origin.file.clone());
                }
                match item.result {
                    Ok(t) => {
                        if self.count_events {
                            let (label, class) = self.tally.observe(self.labeler, &t)?;
                            self.tally.event(label.as_deref(), class, false);
                        }
                        starts.push(text.len());
                        text.push_str(&t);
                        text.push('\n');
                        origins.push(item.origin);
                    }
                    Err(e) => *self.tally.read_errors.entry(e.reason.to_string()).or_default() += 1,
                }
            }
            if taken == 0 {
                break;
            }
            if text.is_empty() {
                continue;
            }
            let lines = self.scorer.score_lines(&text);
            if lines.outcomes.len() != origins.len() {
                bail!("the scorer gave {} outcomes for {} events", lines.outcomes.len(), origins.len());
            }
            for (n, o) in lines.outcomes.iter().enumerate() {
                let at = || format!("{}:{}", origins[n].file, origins[n].line);
                match o {
                    Outcome::Scored(s) => self.tally.verdict(self.labeler, lines.slice(s), s.verdict)?,
                    Outcome::Passed => self.tally.not_scored("passed".into(), at),
                    Outcome::Dropped => self.tally.not_scored("dropped".into(), at),
                    Outcome::Absorbed => self.tally.not_scored("absorbed".into(), at),
                    Outcome::Failed(e) => {
                        self.tally.not_scored(format!("failed: {}", e.reason), || format!("{}: {}", at(), e.detail))
                    }
                }
            }
            self.emitted(&lines)?;
            bar.set_message(format!("{} events, {} scored", self.tally.events, self.tally.verdicts));
        }
        let lines = self.scorer.flush_lines();
        self.emitted(&lines)?;
        bar.inc(1);
        Ok(())
    }

    /// The aggregate events of a call, and the scored texts to `--output`.
    fn emitted(&mut self, lines: &Lines) -> Result<()> {
        for o in &lines.emitted {
            self.tally.aggregates += 1;
            match o {
                Outcome::Scored(s) => self.tally.verdict(self.labeler, lines.slice(s), s.verdict)?,
                Outcome::Failed(e) => self
                    .tally
                    .not_scored(format!("aggregate failed: {}", e.reason), || format!("<aggregate>: {}", e.detail)),
                _ => self.tally.not_scored("aggregate not scored".into(), || "<aggregate>".into()),
            }
        }
        if let Some(out) = self.out.as_mut() {
            out.write_all(lines.text.as_bytes())
                .with_context(|| format!("writing {}", self.out_path.as_deref().unwrap_or(Path::new("?")).display()))?;
        }
        Ok(())
    }
}

fn bar(quiet: bool, len: u64, template: &str) -> ProgressBar {
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
    bar
}

/// The labels' source from the arguments.
fn labeler(args: &EvaluateArgs) -> Result<Labeler> {
    let source = match (&args.labels, &args.key_field) {
        (Some(path), Some(key)) => {
            Source::File { key_field: key.clone(), labels: labels::read_labels_file(path, key, &args.label_field)? }
        }
        (None, None) => Source::Field(args.label_field.clone()),
        _ => bail!("--labels and --key-field go together"),
    };
    for p in args.positive.iter().chain(&args.negative) {
        if p.trim().is_empty() {
            bail!("an empty --positive or --negative pattern matches no label");
        }
    }
    Ok(Labeler {
        source,
        label_field: args.label_field.clone(),
        positive: args.positive.clone(),
        negative: args.negative.clone(),
    })
}

/// Check that there is something to measure: some event has the label
/// field (or the key field), and there are positives and negatives — among
/// the events read, and (`scored`) among the items scored.
fn check_classes(t: &Tally, labeler: &Labeler, scored: bool) -> Result<()> {
    let field = labeler.event_field();
    let what = match &labeler.source {
        Source::Field(_) => format!("the label field {field:?}"),
        Source::File { .. } => format!("the key field {field:?}"),
    };
    if !t.field_seen {
        let first = t.first_event_fields.as_ref().or(t.first_scored_fields.as_ref());
        bail!(
            "no event has {what} (read {} event(s){}); name the field with {}",
            t.events,
            first.map(|f| format!("; the first has the fields: {}", f.join(", "))).unwrap_or_default(),
            if matches!(labeler.source, Source::File { .. }) { "--key-field" } else { "--label-field" }
        );
    }
    let seen = || {
        let v: Vec<String> =
            t.by_label.iter().map(|(l, (c, n))| format!("{l} ({}, {})", n.events.max(n.scored), c.name())).collect();
        if v.is_empty() { "none".to_string() } else { v.join(", ") }
    };
    let class = |c: Class| t.by_class.get(&c).cloned().unwrap_or_default();
    let (pos, neg) = (class(Class::Positive), class(Class::Negative));
    if pos.events == 0 && pos.scored == 0 {
        bail!(
            "no event is positive: no label matches --positive {} (labels seen: {})",
            quoted(&labeler.positive),
            seen()
        );
    }
    if neg.events == 0 && neg.scored == 0 {
        let why = if labeler.negative.is_empty() {
            "every labelled event is positive".to_string()
        } else {
            format!("no label matches --negative {}", quoted(&labeler.negative))
        };
        bail!("no event is negative: {why} (labels seen: {})", seen());
    }
    if scored {
        let ps = t.scored.iter().filter(|s| s.positive).count();
        let ns = t.scored.len() - ps;
        let hint = if t.aggregates > 0 && matches!(labeler.source, Source::Field(_)) {
            let fields = t.first_scored_fields.as_ref().map(|f| f.join(", ")).unwrap_or_default();
            format!(
                "; this model scores aggregate events (fields: {fields}), which carry their key fields but not \
                 {what}: give the labels per key with --labels FILE --key-field F"
            )
        } else {
            String::new()
        };
        let why = || {
            let v: Vec<String> = t.not_scored.iter().map(|(k, n)| format!("{k} {n}")).collect();
            if v.is_empty() { String::new() } else { format!(" (not scored: {})", v.join(", ")) }
        };
        if ps == 0 {
            bail!("no positive event was scored{}{hint}", why());
        }
        if ns == 0 {
            bail!("no negative event was scored{}{hint}", why());
        }
    }
    Ok(())
}

fn quoted(v: &[String]) -> String {
    v.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", ")
}

/// `logsieve evaluate`.
pub fn evaluate(args: &EvaluateArgs) -> Result<()> {
    let t0 = Instant::now();
    let labeler = labeler(args)?;
    let paths = logsieve_readers::expand_inputs(&args.input)?;
    let options = Options { top_features: 0, emit_vector: false };
    let out = match &args.output {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };

    let (scoring, holdout, model_path) = if let Some(model_path) = &args.model {
        let bytes = crate::model_file::read_model(model_path)?;
        let scorer = Scorer::new(&bytes, options).map_err(|e| anyhow::anyhow!("{}: {e}", model_path.display()))?;
        let mut s = Scoring {
            scorer,
            count_events: true,
            labeler: &labeler,
            tally: Tally::default(),
            out,
            out_path: args.output.clone(),
        };
        let b = bar(args.quiet, paths.len() as u64, "scoring  [{bar:30}] {pos}/{len} files  {msg}  ({elapsed})");
        s.run(Reader::open(paths, args.format), &b)?;
        b.finish();
        (s, None, Some(model_path.clone()))
    } else {
        let spec_path = args.spec.as_ref().expect("clap requires --model or --spec");
        let share = args.holdout.expect("clap requires --holdout with --spec");
        let random_state = args.random_state.unwrap_or(0);
        let spec = load_spec(spec_path)?;

        // Every event, its label and class.
        let b = bar(args.quiet, paths.len() as u64, "reading  [{bar:30}] {pos}/{len} files  {msg}  ({elapsed})");
        let mut items: Vec<Item> = Vec::new();
        let mut last_file: Option<std::sync::Arc<str>> = None;
        for item in Reader::open(paths, args.format) {
            if last_file.as_ref().is_none_or(|f| !std::sync::Arc::ptr_eq(f, &item.origin.file)) {
                if last_file.is_some() {
                    b.inc(1);
                }
                last_file = Some(item.origin.file.clone());
            }
            items.push(item);
            if items.len().is_multiple_of(10_000) {
                b.set_message(format!("{} events", items.len()));
            }
        }
        b.inc(1);
        b.finish();
        let mut pre = Tally::default();
        let mut labels: Vec<Option<(Option<String>, Class)>> = Vec::with_capacity(items.len());
        for item in &items {
            match &item.result {
                Ok(t) => labels.push(Some(pre.observe(&labeler, t)?)),
                Err(e) => {
                    *pre.read_errors.entry(e.reason.to_string()).or_default() += 1;
                    labels.push(None);
                }
            }
        }
        let class_of = |i: usize| labels[i].as_ref().map(|l| l.1);

        // The baseline's split: the negatives' indices in input order,
        // shuffled by numpy's default_rng(random_state); the first
        // floor(n × share) train, the rest and every positive are scored.
        let mut negatives: Vec<usize> = (0..items.len()).filter(|&i| class_of(i) == Some(Class::Negative)).collect();
        let n_neg = negatives.len();
        Generator::new(random_state).shuffle(&mut negatives);
        let n_train = (n_neg as f64 * share).floor() as usize;
        let mut role = vec![Role::LeftOut; items.len()];
        for (n, &i) in negatives.iter().enumerate() {
            role[i] = if n < n_train { Role::Train } else { Role::Score };
        }
        for (i, r) in role.iter_mut().enumerate() {
            if class_of(i) == Some(Class::Positive) {
                *r = Role::Score;
            }
        }
        for (l, r) in labels.iter().zip(&role) {
            if let Some((label, class)) = l {
                pre.event(label.as_deref(), *class, *r == Role::Train);
            }
        }
        check_classes(&pre, &labeler, false)?;
        let positives = pre.by_class.get(&Class::Positive).map_or(0, |c| c.events);
        let mut h = Holdout {
            share,
            random_state,
            negatives: n_neg as u64,
            train: n_train as u64,
            held_out: (n_neg - n_train) as u64,
            positives,
            left_out: [Class::Unlabelled, Class::Missing]
                .iter()
                .map(|c| pre.by_class.get(c).map_or(0, |c| c.events))
                .sum(),
            train_rows: 0,
        };
        if n_train == 0 || n_train == n_neg {
            bail!(
                "--holdout {share} of {n_neg} negative event(s) leaves {n_train} to train on and {} to score; \
                 both need at least one",
                n_neg - n_train
            );
        }
        if !args.quiet {
            eprintln!(
                "holdout: {n_neg} negative events shuffled with numpy default_rng({random_state}); training on the \
                 first {n_train} (floor({n_neg} × {share})), scoring the other {} and the {positives} positive \
                 events; left out: {} unlabelled or without a label{}",
                n_neg - n_train,
                h.left_out,
                if pre.read_errors.is_empty() {
                    String::new()
                } else {
                    format!(", {} unreadable line(s)", pre.read_errors.values().sum::<u64>())
                }
            );
        }
        // Training rows in the shuffled order, as baseline.py fits on
        // `df.iloc[train]` (k-means' starts depend on the row order); the
        // scored events in input order.
        let mut slots: Vec<Option<_>> = items.into_iter().map(Some).collect();
        let train_items: Vec<_> =
            negatives[..n_train].iter().map(|&i| slots[i].take().expect("each index once")).collect();
        let score_items: Vec<_> =
            slots.into_iter().zip(&role).filter(|(_, r)| **r == Role::Score).filter_map(|(item, _)| item).collect();

        // Train as `logsieve train` does.
        let hidden = ProgressBar::hidden();
        let ex = extract_items(&spec, train_items, args.plugin.as_deref(), &hidden)?;
        let skipped = report_extracted(&spec, &ex, args.quiet, &format!("the {n_train} training events"))?;
        h.train_rows = ex.rows.len() as u64;
        let provenance = Provenance { inputs: args.input.clone(), skipped, created_unix: super::creation_time()? };
        let fit = fit_rows(&spec, &ex.rows, provenance, args.threads, args.quiet)?;
        let bytes = encode(&fit.model).map_err(anyhow::Error::msg)?;
        let scorer = Scorer::new(&bytes, options).map_err(|e| anyhow::anyhow!("the model trained: {e}"))?;
        if !args.quiet {
            let f = fit.model.fitted.as_ref().expect("a fit returns a fitted model");
            let sizes: Vec<String> = f.clusters.iter().map(|c| c.size.to_string()).collect();
            if let Some(iso) = &f.isolation {
                eprintln!(
                    "trained isolation_forest of {} trees ({} rows each) on {} rows ({:.2} s): threshold {:.6}",
                    iso.forest.trees.len(),
                    iso.forest.max_samples,
                    ex.rows.len(),
                    t0.elapsed().as_secs_f64(),
                    iso.threshold
                );
            } else {
                eprintln!(
                    "trained {} k={} on {} rows ({:.2} s): cluster sizes [{}]",
                    fit.model.spec.model.kind.as_str(),
                    f.clusters.len(),
                    ex.rows.len(),
                    t0.elapsed().as_secs_f64(),
                    sizes.join(", ")
                );
            }
        }

        // Score; the counts of the events read (trained ones included)
        // come from the first pass.
        let mut s =
            Scoring { scorer, count_events: false, labeler: &labeler, tally: pre, out, out_path: args.output.clone() };
        s.run(score_items, &ProgressBar::hidden())?;
        (s, Some(h), None)
    };

    let mut scoring = scoring;
    if let Some(mut out) = scoring.out.take() {
        out.flush()
            .with_context(|| format!("writing {}", args.output.as_deref().unwrap_or(Path::new("")).display()))?;
    }
    check_classes(&scoring.tally, &labeler, true)?;
    let info = scoring.scorer.info();
    let report = Report::new(&scoring.tally, &labeler, &info, model_path.as_deref(), holdout.as_ref(), &args.top_k);
    if args.json {
        super::print_stdout(&(serde_json::to_string_pretty(&report.json())? + "\n"))?;
    } else {
        super::print_stdout(&report.table())?;
    }
    if !args.quiet {
        eprintln!("evaluated in {:.2} s", t0.elapsed().as_secs_f64());
    }
    Ok(())
}

/// What holdout mode does with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A negative among the first floor(n × share) after the shuffle.
    Train,
    /// Another negative, or a positive.
    Score,
    /// Unlabelled, without a label, or unreadable.
    LeftOut,
}
