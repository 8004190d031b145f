//! What `logsieve evaluate` prints: the metrics computed from the tally
//! ([`logsieve_train::metrics`]), as a table or as one JSON object (its
//! keys are documented in `docs/cli.md#evaluate`).

use std::fmt::Write as _;
use std::path::Path;

use logsieve_plugin::{ModelInfo, Reasons};
use logsieve_train::metrics::{self, PrecisionAtK, Rates};
use serde_json::{Value, json};

use super::labels::{Class, Labeler, Source};
use super::{Holdout, Tally};

/// The ranking metrics of one number of the verdict (`score` or `distance`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Labelled items that have the number.
    pub n: usize,
    /// Of them, positive.
    pub positives: usize,
    /// Of them, negative.
    pub negatives: usize,
    /// ROC AUC (`None`: a class is missing).
    pub roc_auc: Option<f64>,
    /// Average precision (`None`: no positive).
    pub average_precision: Option<f64>,
    /// Precision at each k asked for.
    pub precision_at: Vec<PrecisionAtK>,
}

impl Ranking {
    /// The metrics of the items whose `value` is present (and not NaN);
    /// `None` when no item has it.
    fn of(t: &Tally, value: impl Fn(&logsieve_plugin::Verdict) -> Option<f64>, ks: &[usize]) -> Option<Ranking> {
        let (mut s, mut y) = (Vec::new(), Vec::new());
        for it in &t.scored {
            if let Some(v) = value(&it.verdict).filter(|v| !v.is_nan()) {
                s.push(v);
                y.push(it.positive);
            }
        }
        if s.is_empty() {
            return None;
        }
        let positives = y.iter().filter(|&&p| p).count();
        Some(Ranking {
            n: s.len(),
            positives,
            negatives: s.len() - positives,
            roc_auc: metrics::roc_auc(&s, &y),
            average_precision: metrics::average_precision(&s, &y),
            precision_at: ks.iter().filter_map(|&k| metrics::precision_at_k(&s, &y, k)).collect(),
        })
    }

    fn json(&self) -> Value {
        json!({
            "n": self.n,
            "positives": self.positives,
            "negatives": self.negatives,
            "roc_auc": self.roc_auc,
            "average_precision": self.average_precision,
            "precision_at": self.precision_at.iter().map(|p| json!({
                "k": p.k, "ranked": p.ranked, "positives": p.positives, "precision": p.precision,
            })).collect::<Vec<_>>(),
        })
    }
}

fn rates_json(r: &Rates) -> Value {
    json!({
        "positives": r.positives,
        "negatives": r.negatives,
        "true_positives": r.true_positives,
        "false_positives": r.false_positives,
        "tpr": r.tpr(),
        "fpr": r.fpr(),
        "precision": r.precision(),
    })
}

/// Everything `evaluate` reports.
pub struct Report<'a> {
    tally: &'a Tally,
    labeler: &'a Labeler,
    info: &'a ModelInfo,
    model_path: Option<&'a Path>,
    holdout: Option<&'a Holdout>,
    /// Ranking by `logsieve.score`.
    pub score: Option<Ranking>,
    /// Ranking by `logsieve.distance`.
    pub distance: Option<Ranking>,
    /// The `anomaly` flag.
    pub anomaly: Rates,
    /// Each reason of [`Reasons::NAMES`], as a flag.
    pub reasons: Vec<(&'static str, Rates)>,
}

impl<'a> Report<'a> {
    /// Compute the metrics.
    pub fn new(
        tally: &'a Tally,
        labeler: &'a Labeler,
        info: &'a ModelInfo,
        model_path: Option<&'a Path>,
        holdout: Option<&'a Holdout>,
        ks: &[usize],
    ) -> Report<'a> {
        let mut ks: Vec<usize> = ks.to_vec();
        ks.sort_unstable();
        ks.dedup();
        let positive: Vec<bool> = tally.scored.iter().map(|s| s.positive).collect();
        let flag = |f: &dyn Fn(Reasons) -> bool| {
            let flagged: Vec<bool> = tally.scored.iter().map(|s| f(s.verdict.reasons)).collect();
            metrics::rates(&flagged, &positive)
        };
        let reasons = Reasons::NAMES
            .iter()
            .enumerate()
            .map(|(bit, name)| (*name, flag(&|r: Reasons| r.bits() & (1 << bit) != 0)))
            .collect();
        Report {
            tally,
            labeler,
            info,
            model_path,
            holdout,
            score: Ranking::of(tally, |v| v.score, &ks),
            distance: Ranking::of(tally, |v| v.distance, &ks),
            anomaly: flag(&|r: Reasons| !r.is_empty()),
            reasons,
        }
    }

    /// The whole report as one JSON object.
    pub fn json(&self) -> Value {
        let t = self.tally;
        let (source, key_field) = match &self.labeler.source {
            Source::Field(_) => ("field", None),
            Source::File { key_field, .. } => ("file", Some(key_field.as_str())),
        };
        let count = |c: &super::Count| json!({"events": c.events, "trained": c.trained, "scored": c.scored});
        let classes: serde_json::Map<String, Value> = Class::ALL
            .iter()
            .map(|c| (c.name().to_string(), count(&t.by_class.get(c).cloned().unwrap_or_default())))
            .collect();
        let by_label: Vec<Value> = t
            .by_label
            .iter()
            .map(|(label, (class, c))| {
                json!({"label": label, "class": class.name(), "events": c.events, "trained": c.trained, "scored": c.scored})
            })
            .collect();
        let reasons: serde_json::Map<String, Value> =
            self.reasons.iter().map(|(n, r)| (n.to_string(), rates_json(r))).collect();
        json!({
            "mode": if self.holdout.is_some() { "holdout" } else { "model" },
            "model": {
                "id": self.info.id,
                "kind": self.info.kind,
                "n_clusters": self.info.n_clusters,
                "path": self.model_path.map(|p| p.display().to_string()),
            },
            "holdout": self.holdout.map(|h| json!({
                "share": h.share,
                "random_state": h.random_state,
                "negatives": h.negatives,
                "train": h.train,
                "held_out": h.held_out,
                "positives": h.positives,
                "left_out": h.left_out,
                "train_rows": h.train_rows,
            })),
            "labels": {
                "source": source,
                "label_field": self.labeler.label_field,
                "key_field": key_field,
                "positive": self.labeler.positive,
                "negative": self.labeler.negative,
            },
            "events": {
                "read": t.events,
                "read_errors": t.read_errors,
                "scored": t.verdicts,
                "no_score": t.no_score,
                "aggregates": t.aggregates,
                "not_scored": t.not_scored,
                "evaluated": t.scored.len(),
            },
            "classes": classes,
            "by_label": by_label,
            "score": self.score.as_ref().map(Ranking::json),
            "distance": self.distance.as_ref().map(Ranking::json),
            "anomaly": rates_json(&self.anomaly),
            "reasons": reasons,
        })
    }

    /// The report as a table for people.
    pub fn table(&self) -> String {
        let t = self.tally;
        let mut o = String::new();
        let what = if self.info.kind == "isolation_forest" {
            self.info.kind.to_string()
        } else {
            format!("{}, {} clusters", self.info.kind, self.info.n_clusters)
        };
        let model = match self.model_path {
            Some(p) => format!("model {} ({what}) from {}", self.info.id, p.display()),
            None => format!("model {} ({what}) trained here", self.info.id),
        };
        let _ = writeln!(o, "{model}");
        if let Some(h) = self.holdout {
            let _ = writeln!(
                o,
                "holdout: {} negative events shuffled as numpy default_rng({}); trained on the first {} \
                 (share {}, {} rows), scored the other {} and {} positive events; {} left out (unlabelled or no label)",
                h.negatives, h.random_state, h.train, h.share, h.train_rows, h.held_out, h.positives, h.left_out
            );
        }
        let errors: u64 = t.read_errors.values().sum();
        let _ = write!(o, "events: {} read", t.events);
        if errors > 0 {
            let v: Vec<String> = t.read_errors.iter().map(|(r, n)| format!("{r} {n}")).collect();
            let _ = write!(o, ", {errors} unreadable ({})", v.join(", "));
        }
        if t.aggregates > 0 {
            let _ = write!(o, "; {} aggregate events", t.aggregates);
        }
        let _ = write!(o, "; {} scored", t.verdicts);
        if t.no_score > 0 {
            let _ = write!(o, " ({} without a score)", t.no_score);
        }
        if !t.not_scored.is_empty() {
            let v: Vec<String> = t.not_scored.iter().map(|(r, n)| format!("{r} {n}")).collect();
            let _ = write!(o, "; not scored: {}", v.join(", "));
        }
        let _ = writeln!(o, "; {} scored and labelled (in the metrics)", t.scored.len());

        let labels = match &self.labeler.source {
            Source::Field(f) => format!("field {f:?}"),
            Source::File { key_field, labels } => {
                format!("{} keys by {key_field:?}, column {:?}", labels.len(), self.labeler.label_field)
            }
        };
        let negative = if self.labeler.negative.is_empty() {
            "every other label".to_string()
        } else {
            self.labeler.negative.join(", ")
        };
        let _ =
            writeln!(o, "\nlabels ({labels}; positive: {}; negative: {negative})", self.labeler.positive.join(", "));
        let holdout = self.holdout.is_some();
        let w = t.by_label.keys().map(|l| l.chars().count()).max().unwrap_or(0).clamp(12, 40);
        let _ = write!(o, "  {:<w$}  {:<10}  {:>9}", "label", "class", "events");
        if holdout {
            let _ = write!(o, "  {:>9}", "trained");
        }
        let _ = writeln!(o, "  {:>9}", "scored");
        let row = |o: &mut String, name: &str, class: &str, c: &super::Count| {
            let _ = write!(o, "  {name:<w$}  {class:<10}  {:>9}", c.events);
            if holdout {
                let _ = write!(o, "  {:>9}", c.trained);
            }
            let _ = writeln!(o, "  {:>9}", c.scored);
        };
        for (label, (class, c)) in &t.by_label {
            row(&mut o, label, class.name(), c);
        }
        for class in Class::ALL {
            if let Some(c) = t.by_class.get(&class) {
                row(&mut o, &format!("({})", class.name()), "", c);
            }
        }

        let num = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{x:.4}"));
        let rank = |r: &Option<Ranking>, f: &dyn Fn(&Ranking) -> String| r.as_ref().map_or("n/a".to_string(), f);
        let _ = writeln!(o, "\n  {:<22} {:>22} {:>22}", "ranking by", "score", "distance");
        let line = |o: &mut String, name: &str, f: &dyn Fn(&Ranking) -> String| {
            let _ = writeln!(o, "  {name:<22} {:>22} {:>22}", rank(&self.score, f), rank(&self.distance, f));
        };
        line(&mut o, "events (pos/neg)", &|r| format!("{} ({}/{})", r.n, r.positives, r.negatives));
        line(&mut o, "ROC AUC", &|r| num(r.roc_auc));
        line(&mut o, "average precision", &|r| num(r.average_precision));
        let ks: Vec<usize> = self
            .score
            .as_ref()
            .or(self.distance.as_ref())
            .map(|r| r.precision_at.iter().map(|p| p.k).collect())
            .unwrap_or_default();
        for k in ks {
            line(&mut o, &format!("precision@{k}"), &|r| {
                r.precision_at
                    .iter()
                    .find(|p| p.k == k)
                    .map_or("n/a".to_string(), |p| format!("{:.4} ({}/{})", p.precision, p.positives, p.ranked))
            });
        }

        let _ = writeln!(
            o,
            "\n  {:<22} {:>8} {:>8} {:>18} {:>18}",
            "flag", "TPR", "FPR", "positives flagged", "negatives flagged"
        );
        let flag = |o: &mut String, name: &str, r: &Rates| {
            let _ = writeln!(
                o,
                "  {name:<22} {:>8} {:>8} {:>18} {:>18}",
                num(r.tpr()),
                num(r.fpr()),
                format!("{}/{}", r.true_positives, r.positives),
                format!("{}/{}", r.false_positives, r.negatives)
            );
        };
        flag(&mut o, "anomaly", &self.anomaly);
        for (name, r) in &self.reasons {
            if r.true_positives + r.false_positives > 0 {
                flag(&mut o, name, r);
            }
        }
        o
    }
}
