//! What a run did: counts per source, transform and sink, the accounting
//! equations every run is checked against, and the summary printed at the
//! end (`--summary-json` writes it as JSON).

use std::collections::BTreeMap;

use serde::Serialize;

use super::config::ERRORS_SUFFIX;

/// Counts for one source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceStats {
    /// Records and unreadable records.
    pub read: u64,
    /// Of which the reader could not parse.
    pub read_errors: u64,
}

/// Counts for one transform.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TransformStats {
    /// Items received.
    #[serde(rename = "in")]
    pub input: u64,
    /// Scored events.
    pub scored: u64,
    /// Of which anomalous.
    pub anomalies: u64,
    /// Sent to `<id>.errors` (unreadable records and unscorable events).
    pub errors: u64,
    /// The errors by reason.
    pub error_reasons: BTreeMap<String, u64>,
    /// Of those, lines folded into the record of a run of identical reader
    /// errors (the record carries `count`): `errors - errors_collapsed`
    /// records were written.
    pub errors_collapsed: u64,
    /// Did not meet the model's `where`; passed on unscored.
    pub passed: u64,
    /// Did not meet the model's `where`; dropped.
    pub dropped: u64,
    /// Taken into per-key windows.
    pub absorbed: u64,
    /// Aggregate events emitted by windows.
    pub emitted: u64,
    /// Of which scored.
    pub emitted_scored: u64,
    /// Of which could not be scored (also counted in `errors`).
    pub emitted_errors: u64,
    /// Window entries emitted early because `max_keys` was reached.
    pub evicted: u64,
    /// Scored events (and aggregates) in rare clusters.
    pub in_rare_clusters: u64,
    /// 10 × the share of scored events (and aggregates) that fell in rare
    /// clusters: the flow notebook's rating.
    pub rating: f64,
    /// Whether the model serving at the end has clusters (not an
    /// `isolation_forest`): the rating is only meaningful then.
    #[serde(skip)]
    pub clustered: bool,
    /// The id of the model serving at the end (see `models`).
    pub model: String,
    /// Every model that served, in order (more than one after a reload).
    pub models: Vec<String>,
    /// New model files loaded while running.
    pub reloads: u64,
    /// New model files refused (the previous model kept serving).
    pub reloads_refused: u64,
    /// Batches lost to a guest fault (trap, timeout, memory limit); their
    /// events are in `errors`.
    pub guest_faults: u64,
    /// Per-key windows that were open in an instance lost to a fault.
    pub windows_lost: u64,
    /// The sources it takes.
    pub sources: Vec<String>,
    /// How long its batches took, from being handed to the component to
    /// being written to the sinks.
    pub batch_latency: Latency,
}

/// Upper bounds (seconds) of [`Latency`]'s buckets, Prometheus's default
/// buckets from 1 ms.
pub const LATENCY_BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// A histogram of batch latencies (Prometheus's shape: counts per upper
/// bound, not cumulative here; the last count is above every bound).
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Batches.
    pub count: u64,
    /// Their total, in seconds.
    pub sum_seconds: f64,
    /// Per bound of [`LATENCY_BUCKETS`], then above them all.
    pub buckets: [u64; LATENCY_BUCKETS.len() + 1],
}

impl Default for Latency {
    fn default() -> Self {
        Latency { count: 0, sum_seconds: 0.0, buckets: [0; LATENCY_BUCKETS.len() + 1] }
    }
}

impl Latency {
    /// Count one batch.
    pub fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum_seconds += seconds;
        let i = LATENCY_BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i] += 1;
    }
}

/// Counts for one sink.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SinkStats {
    /// The outputs it takes (`<transform>` or `<transform>.errors`).
    pub inputs: Vec<String>,
    /// Lines written.
    pub written: u64,
    /// Lines handed to it that a failed write (a full disk, a closed pipe)
    /// kept from its target; 0 unless the run failed on this sink.
    pub not_written: u64,
    /// Scored events not written because they were not anomalies
    /// (`only_anomalies`).
    pub filtered: u64,
}

/// The run summary (`--summary-json` writes it).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Per source.
    pub sources: BTreeMap<String, SourceStats>,
    /// Per transform.
    pub transforms: BTreeMap<String, TransformStats>,
    /// Per sink.
    pub sinks: BTreeMap<String, SinkStats>,
    /// Error records written to stderr because no sink took them.
    pub errors_to_stderr: u64,
    /// Wall time.
    pub seconds: f64,
    /// The process's peak resident memory in MiB (`VmHWM`; Linux only).
    pub peak_rss_mib: Option<f64>,
    /// The signal that stopped the run (`SIGTERM`, `SIGINT`): the input
    /// was read no further, what was read was scored and written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// The failure that ended the run early (a sink that could not be
    /// written); the counts are then those up to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// The process's peak resident set size in MiB, from `/proc/self/status`.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

impl Summary {
    /// The accounting equations; an `Err` lists every one that fails:
    /// - every transform received every record its sources read;
    /// - `in = scored + passed + dropped + absorbed + errors` and
    ///   `emitted = emitted scored + emitted errors` per transform;
    /// - every sink wrote (or filtered with `only_anomalies`) every line of
    ///   the outputs it takes;
    /// - the error records of transforms no sink takes went to stderr.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        for (id, t) in &self.transforms {
            let read: u64 = t.sources.iter().filter_map(|s| self.sources.get(s)).map(|s| s.read).sum();
            if t.input != read {
                errs.push(format!("transform {id}: in {} != {read} read from its sources", t.input));
            }
            let errors = t.errors - t.emitted_errors;
            if t.input != t.scored + t.passed + t.dropped + t.absorbed + errors {
                errs.push(format!(
                    "transform {id}: in {} != scored {} + passed {} + dropped {} + absorbed {} + errors {errors}",
                    t.input, t.scored, t.passed, t.dropped, t.absorbed
                ));
            }
            if t.emitted != t.emitted_scored + t.emitted_errors {
                errs.push(format!(
                    "transform {id}: emitted {} != scored {} + errors {}",
                    t.emitted, t.emitted_scored, t.emitted_errors
                ));
            }
        }
        for (id, k) in &self.sinks {
            let expected: u64 = k
                .inputs
                .iter()
                .map(|i| match i.strip_suffix(ERRORS_SUFFIX) {
                    Some(t) => self.transforms.get(t).map_or(0, |t| t.errors - t.errors_collapsed),
                    None => self.transforms.get(i).map_or(0, |t| t.scored + t.passed + t.emitted_scored),
                })
                .sum();
            if k.written + k.filtered + k.not_written != expected {
                errs.push(format!(
                    "sink {id}: written {} + filtered {} + not written {} != {expected} records of its inputs",
                    k.written, k.filtered, k.not_written
                ));
            }
        }
        let orphan_errors: u64 = self
            .transforms
            .iter()
            .filter(|(id, _)| {
                let out = format!("{id}{ERRORS_SUFFIX}");
                !self.sinks.values().any(|k| k.inputs.contains(&out))
            })
            .map(|(_, t)| t.errors - t.errors_collapsed)
            .sum();
        if orphan_errors != self.errors_to_stderr {
            errs.push(format!(
                "{} error records of transforms without an errors sink, but {} written to stderr",
                orphan_errors, self.errors_to_stderr
            ));
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }

    /// Warnings for people: a transform that received events but scored
    /// none of them, with the reason most of its errors had.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (id, t) in &self.transforms {
            if t.input > 0 && t.scored + t.emitted_scored == 0 && t.errors > 0 {
                let (reason, n) = t.error_reasons.iter().max_by_key(|(_, n)| **n).map_or(("?", 0), |(r, n)| (r, *n));
                out.push(format!(
                    "warning: transform {id}: nothing was scored: {} of its {} events went to errors, \
                     {n} of them with reason `{reason}` (see docs/errors.md)",
                    t.errors - t.emitted_errors,
                    t.input
                ));
            }
        }
        out
    }

    /// The transforms whose share of errors (`errors / in`) is above
    /// `max`, each as a message.
    pub fn error_ratio_above(&self, max: f64) -> Vec<String> {
        let mut out = Vec::new();
        for (id, t) in &self.transforms {
            let errors = t.errors - t.emitted_errors;
            if t.input > 0 && errors as f64 / t.input as f64 > max {
                out.push(format!(
                    "transform {id}: error ratio {:.4} ({errors} errors / {} in) is above --max-error-ratio {max}",
                    errors as f64 / t.input as f64,
                    t.input
                ));
            }
        }
        out
    }

    /// A few lines for people.
    pub fn render(&self) -> String {
        let read: u64 = self.sources.values().map(|s| s.read).sum();
        let mut s = format!(
            "logsieve run: {read} events read from {} source(s) in {:.2} s ({:.0} events/s)",
            self.sources.len(),
            self.seconds,
            read as f64 / self.seconds.max(1e-9)
        );
        if let Some(m) = self.peak_rss_mib {
            s += &format!(", peak memory {m:.0} MiB");
        }
        s += "\n";
        if let Some(sig) = &self.stopped_by {
            s += &format!("  stopped by {sig}: the input was read no further; what was read was scored and written\n");
        }
        if let Some(why) = &self.failed {
            s += &format!("  the run failed and stopped early: {why}\n");
        }
        for (id, t) in &self.transforms {
            let mut parts = vec![format!("{} scored", t.scored)];
            for (n, what) in [(t.passed, "passed"), (t.dropped, "dropped"), (t.absorbed, "absorbed into windows")] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            parts.push(format!("{} errors", t.errors - t.emitted_errors));
            s += &format!("  transform {id}: {} in = {}   [model {}]\n", t.input, parts.join(" + "), t.model);
            if t.reloads + t.reloads_refused > 0 {
                s += &format!(
                    "    models {}: {} reload(s), {} new model file(s) refused\n",
                    t.models.join(" -> "),
                    t.reloads,
                    t.reloads_refused
                );
            }
            if t.guest_faults > 0 {
                s += &format!(
                    "    {} batch(es) lost to component faults (their events are in the errors); {} open window(s) lost\n",
                    t.guest_faults, t.windows_lost
                );
            }
            if t.emitted > 0 {
                s += &format!(
                    "    {} aggregate events emitted = {} scored + {} errors ({} window entries evicted early by max_keys)\n",
                    t.emitted, t.emitted_scored, t.emitted_errors, t.evicted
                );
            }
            if t.clustered {
                s += &format!(
                    "    {} anomalies; rating {:.2} (10 x the share in rare clusters: {} of {})\n",
                    t.anomalies,
                    t.rating,
                    t.in_rare_clusters,
                    t.scored + t.emitted_scored
                );
            } else {
                s += &format!("    {} anomalies\n", t.anomalies);
            }
        }
        for (id, k) in &self.sinks {
            s += &format!("  sink {id}: {} written", k.written);
            if k.filtered > 0 {
                s += &format!(" ({} non-anomalies left out by only_anomalies)", k.filtered);
            }
            if k.not_written > 0 {
                s += &format!(", {} not written (the write failed)", k.not_written);
            }
            s += "\n";
        }
        if self.errors_to_stderr > 0 {
            s += &format!("  {} error records written to stderr (no sink takes them)\n", self.errors_to_stderr);
        }
        s
    }
}
