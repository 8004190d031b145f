//! The `[api]` table: an HTTP endpoint a running pipeline answers on, for
//! monitoring. `GET /metrics` gives the counts of the summary so far in
//! the OpenMetrics text format (Prometheus scrapes it), encoded by the
//! Prometheus project's `prometheus-client`; `GET /health` answers 200
//! `{"status":"ok"}` while the run goes on.
//!
//! ```toml
//! [api]
//! address = "127.0.0.1:8686"   # Vector's API address by default
//! # enabled = true             # the table being there enables it
//! ```
//!
//! The address is bound before any output is touched (a port in use
//! refuses the run). The counts are published by the pipeline's thread
//! after every chunk and while it waits for input, so a scrape sees the
//! events written so far; the last publication, at the end of the run, is
//! the summary `--summary-json` writes.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::summary::{LATENCY_BUCKETS, Latency, Summary};

/// A running endpoint.
pub struct Api {
    server: Arc<tiny_http::Server>,
    current: Arc<Mutex<Summary>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Api {
    /// Bind `address` and answer on it from a thread of its own.
    pub fn start(address: SocketAddr) -> Result<Api> {
        let server = tiny_http::Server::http(address)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("[api]: listening on {address}"))?;
        let server = Arc::new(server);
        let current = Arc::new(Mutex::new(Summary::default()));
        let (s, c) = (Arc::clone(&server), Arc::clone(&current));
        let thread = std::thread::Builder::new().name("logsieve-api".into()).spawn(move || {
            for request in s.incoming_requests() {
                let _ = answer(request, &c);
            }
        })?;
        Ok(Api { server, current, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn address(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Make `summary` what the next scrape sees.
    pub fn publish(&self, summary: Summary) {
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = summary;
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(request: tiny_http::Request, current: &Mutex<Summary>) -> std::io::Result<()> {
    let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("a valid header");
    let path = request.url().split('?').next().unwrap_or("");
    match (request.method(), path) {
        (tiny_http::Method::Get, "/metrics") => {
            let text = {
                let summary = current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                render(&summary)
            };
            let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            request.respond(tiny_http::Response::from_string(text).with_header(header("Content-Type", kind)))
        }
        (tiny_http::Method::Get, "/health") => request.respond(
            tiny_http::Response::from_string("{\"status\":\"ok\"}\n")
                .with_header(header("Content-Type", "application/json")),
        ),
        _ => {
            request.respond(tiny_http::Response::from_string("not found: /metrics or /health\n").with_status_code(404))
        }
    }
}

/// A batch-latency histogram as a metric.
#[derive(Debug)]
struct LatencyMetric(Latency);

impl EncodeMetric for LatencyMetric {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let l = &self.0;
        let buckets: Vec<(f64, u64)> =
            LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]).zip(l.buckets.iter().copied()).collect();
        encoder.encode_histogram::<NoLabelSet>(l.sum_seconds, l.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The summary so far as OpenMetrics text: every counter of the summary,
/// labelled by its source, transform or sink.
pub fn render(s: &Summary) -> String {
    let mut root = Registry::with_prefix("logsieve");
    root.register("seconds", "Time since the run started", ConstGauge::new(s.seconds));
    root.register(
        "errors_to_stderr",
        "Error records written to stderr because no sink takes them",
        ConstCounter::new(s.errors_to_stderr),
    );
    for (id, k) in &s.sources {
        let r = root.sub_registry_with_label((Cow::Borrowed("source"), Cow::Owned(id.clone())));
        r.register("source_read", "Records read, readable or not", ConstCounter::new(k.read));
        r.register("source_read_errors", "Records the reader could not read", ConstCounter::new(k.read_errors));
    }
    for (id, t) in &s.transforms {
        let r = root.sub_registry_with_label((Cow::Borrowed("transform"), Cow::Owned(id.clone())));
        let counters = [
            ("events_in", "Events received", t.input),
            ("events_scored", "Events scored", t.scored),
            ("events_passed", "Events passed on unscored (the model's where)", t.passed),
            ("events_dropped", "Events dropped (the model's where)", t.dropped),
            ("events_absorbed", "Events taken into per-key windows", t.absorbed),
            ("events_errors", "Events sent to the errors output", t.errors),
            ("anomalies", "Scored events flagged anomalous", t.anomalies),
            ("aggregates_emitted", "Aggregate events emitted by windows", t.emitted),
            ("window_evictions", "Window entries emitted early (max_keys)", t.evicted),
            ("model_reloads", "New model files loaded while running", t.reloads),
            ("model_reloads_refused", "New model files refused", t.reloads_refused),
            ("guest_faults", "Batches lost to a fault in the component", t.guest_faults),
        ];
        for (name, help, v) in counters {
            r.register(name, help, ConstCounter::new(v));
        }
        r.register(
            "batch_latency_seconds",
            "Time from a batch handed to the component to its events written",
            LatencyMetric(t.batch_latency.clone()),
        );
        for (reason, n) in &t.error_reasons {
            let rr = r.sub_registry_with_label((Cow::Borrowed("reason"), Cow::Owned(reason.clone())));
            rr.register("errors_by_reason", "Errors by reason", ConstCounter::new(*n));
        }
    }
    for (id, k) in &s.sinks {
        let r = root.sub_registry_with_label((Cow::Borrowed("sink"), Cow::Owned(id.clone())));
        r.register("sink_written", "Lines written", ConstCounter::new(k.written));
        r.register("sink_filtered", "Events left out by only_anomalies", ConstCounter::new(k.filtered));
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &root).expect("writing to a String");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::summary::TransformStats;

    #[test]
    fn counters_histogram_and_labels() {
        let mut s = Summary::default();
        let mut t = TransformStats { input: 7, scored: 5, errors: 2, ..Default::default() };
        t.error_reasons.insert("invalid_json".into(), 2);
        t.batch_latency.observe(0.002);
        t.batch_latency.observe(3.0);
        s.transforms.insert("score".into(), t);
        let text = render(&s);
        for want in [
            "logsieve_events_in_total{transform=\"score\"} 7",
            "logsieve_events_scored_total{transform=\"score\"} 5",
            "logsieve_errors_by_reason_total{transform=\"score\",reason=\"invalid_json\"} 2",
            "logsieve_batch_latency_seconds_count{transform=\"score\"} 2",
            "logsieve_batch_latency_seconds_bucket{transform=\"score\",le=\"0.0025\"} 1",
            "logsieve_batch_latency_seconds_bucket{transform=\"score\",le=\"+Inf\"} 2",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
