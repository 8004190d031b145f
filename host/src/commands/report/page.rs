//! The report's HTML: one file, inline CSS and script, nothing loaded;
//! written with maud's `html!`, which escapes every spliced value.

use logsieve_artifact::{FeatureState, Model, ModelKind};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::{Map, Value};

use super::Projection;
use super::charts::{self, KPoint, SizeRow, colour, count, num, pct};
use super::collect::{Collected, Kept, Limits};
use crate::commands::inspect;

/// What the page is made of.
pub struct Input<'a> {
    /// The model's id.
    pub id: &'a str,
    /// The model.
    pub model: &'a Model,
    /// (model file, scored file) as shown.
    pub names: (&'a str, &'a str),
    /// What was read.
    pub collected: &'a Collected,
    /// The projection, if there is one.
    pub projection: Option<&'a Projection>,
    /// The limits in force.
    pub limits: Limits,
}

const CSS: &str = r#"
:root { --fg:#1d2433; --muted:#5c6576; --line:#e3e6ec; --bg:#f6f7f9; --card:#fff; --accent:#2f5fa7; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#1d2433; color:#fff; padding:22px 0 18px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:650; letter-spacing:.2px; }
header .sub { color:#c9d1e0; font-size:13px; }
header code { color:#fff; background:rgba(255,255,255,.12); padding:1px 5px; border-radius:4px; }
.wrap { max-width:1000px; margin:0 auto; padding:0 24px; }
nav { display:flex; gap:16px; flex-wrap:wrap; margin-top:12px; font-size:13px; }
nav a { color:#9fc0ff; text-decoration:none; } nav a:hover { text-decoration:underline; }
main { padding:18px 0 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 22px; margin:16px 0; }
h2 { font-size:17px; margin:0 0 4px; } h3 { font-size:14px; margin:16px 0 6px; }
p.lead { color:var(--muted); margin:0 0 12px; }
.kpis { display:grid; grid-template-columns:repeat(auto-fit,minmax(170px,1fr)); gap:12px; margin:16px 0; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 16px; }
.kpi .v { font-size:22px; font-weight:700; } .kpi .l { color:var(--muted); font-size:12px; }
.kpi.bad .v { color:var(--bad); }
.notice { border-left:4px solid #e0a100; background:#fff8e1; padding:10px 14px; border-radius:6px; margin:10px 0; }
.notice.err { border-color:var(--bad); background:#fdecea; }
.notice.info { border-color:var(--accent); background:#eef3fb; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; background:#fafbfc; position:sticky; top:0; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.sw { display:inline-block; width:11px; height:11px; border-radius:3px; margin-right:6px; vertical-align:-1px; }
.badge { display:inline-block; padding:0 7px; border-radius:9px; font-size:11px; line-height:18px; margin:1px 3px 1px 0; background:#eef1f5; color:#333; white-space:nowrap; }
.badge.far_from_centroid { background:#fde2e1; color:#8c1d18; } .badge.rare_cluster { background:#fff0c2; color:#6b4e00; }
.badge.unseen_value, .badge.unseen_flow { background:#e4ecfb; color:#1f3f7a; } .badge.unusual_sequence { background:#efe3f6; color:#5b2a73; }
.feat { white-space:nowrap; } .feat b { font-weight:600; }
.why { display:flex; flex-direction:column; gap:1px; margin-bottom:4px; } .why-h { color:var(--muted); font-size:11px; }
.bar-in { display:inline-block; height:7px; background:#d1495b; border-radius:3px; vertical-align:middle; margin-right:5px; }
.why .feat { white-space:normal; } td.event { min-width:230px; } td.whycell { min-width:280px; }
.ev { display:grid; grid-template-columns:max-content 1fr; gap:0 10px; font-size:12px; }
.ev span:nth-child(odd) { color:var(--muted); } .ev span:nth-child(even) { font-variant-numeric:tabular-nums; word-break:break-all; }
details summary { cursor:pointer; color:var(--accent); font-size:12px; }
pre { background:#f3f4f7; padding:10px 12px; border-radius:6px; overflow:auto; font-size:12px; max-height:420px; white-space:pre-wrap; word-break:break-all; }
.chart { display:block; margin:8px 0 4px; font-family:inherit; }
.legend-row { display:flex; flex-wrap:wrap; gap:6px; margin:6px 0 2px; }
.legend-row button { font:inherit; font-size:12px; border:1px solid var(--line); background:#fff; border-radius:14px; padding:2px 10px; cursor:pointer; }
.legend-row button.off { opacity:.35; text-decoration:line-through; }
.kv { display:grid; grid-template-columns:250px 1fr; gap:4px 14px; font-size:13px; }
.kv div:nth-child(odd) { color:var(--muted); }
.scroll { max-height:640px; overflow:auto; border:1px solid var(--line); border-radius:6px; }
.muted { color:var(--muted); } code { font-size:12px; } .small { font-size:11px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:10px 0 30px; }
"#;

/// Show/hide a cluster's points by clicking its legend entry.
const SCRIPT: &str = r#"
(function () {
  var buttons = document.querySelectorAll('#pca-legend button[data-c]');
  Array.prototype.forEach.call(buttons, function (b) {
    b.addEventListener('click', function () {
      var off = b.classList.toggle('off');
      var marks = document.querySelectorAll('#pca-chart [data-c="' + b.getAttribute('data-c') + '"]');
      Array.prototype.forEach.call(marks, function (m) { m.style.display = off ? 'none' : ''; });
    });
  });
})();
"#;

/// Clusters up to which the projection has a legend and labelled centroids.
const LEGEND_MAX: usize = 24;

fn objective(model: &Model) -> &'static str {
    if matches!(model.spec.model.kind, ModelKind::Kmeans | ModelKind::Flow2vec) { "inertia" } else { "cost" }
}

/// `YYYY-MM-DD HH:MM UTC` from Unix seconds (proleptic Gregorian).
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

fn reason_text(reason: &str) -> &'static str {
    match reason {
        "invalid_json" => "not valid JSON",
        "not_an_object" => "JSON, but not an object",
        "not_scored" => "no logsieve key (an event passed on unscored, or not a scored file)",
        "bad_logsieve" => "a logsieve key without the cluster, distance, score or verdict the scorer writes",
        "empty_line" => "an empty line",
        "invalid_utf8" => "not UTF-8",
        "line_too_long" => "a line longer than the reader takes",
        "truncated_gzip" => "the gzip stream ends early",
        _ => "could not be read",
    }
}

/// The page.
pub fn render(i: &Input) -> String {
    let (m, c) = (i.model, i.collected);
    let fitted = m.fitted.as_ref().expect("the caller checked that the model is fitted");
    let kind = m.spec.model.kind.as_str();
    let k = fitted.clusters.len();
    let share = if c.events > 0 { c.anomalies as f64 / c.events as f64 } else { 0.0 };
    let bad = c.malformed_total();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "logsieve report — model " (i.id) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header { div class="wrap" {
                    h1 { "logsieve report" }
                    div class="sub" {
                        "model " code { (i.id) } " (" (kind) ", n_clusters " (k) ") from " code { (i.names.0) }
                        " · scored events " code { (i.names.1) }
                    }
                    nav {
                        a href="#clusters" { "Cluster sizes" } a href="#projection" { "Projection" } a href="#scores" { "Scores" }
                        a href="#sweep" { "Choosing k" } a href="#anomalies" { "Top anomalies" } a href="#model" { "Model" }
                    }
                } }
                main class="wrap" {
                    // Key numbers.
                    div class="kpis" {
                        div class="kpi" { div class="v" id="kpi-events" { (count(c.events as i64)) } div class="l" { "events scored by this model" } }
                        div class="kpi bad" { div class="v" id="kpi-anomalies" { (count(c.anomalies as i64)) } div class="l" { "anomalies (" (pct(share)) ")" } }
                        div class="kpi" { div class="v" { (k) } div class="l" { "clusters (" (fitted.clusters.iter().filter(|cl| cl.rare).count()) " rare)" } }
                        div class=(if bad > 0 { "kpi bad" } else { "kpi" }) {
                            div class="v" id="kpi-malformed" { (count(bad as i64)) } div class="l" { "lines that could not be used" }
                        }
                    }
                    (notices(i))
                    (clusters_section(i))
                    (projection_section(i))
                    (scores_section(i))
                    (sweep_section(i))
                    (anomalies_section(i))
                    (model_section(i))
                }
                footer { "Generated by logsieve " (env!("CARGO_PKG_VERSION")) " · a single self-contained file: no network, no external resources." }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

fn notices(i: &Input) -> Markup {
    let c = i.collected;
    html! {
        @if !c.malformed.is_empty() {
            div class="notice err" id="malformed" {
                b { (count(c.malformed_total() as i64)) " line(s) of the scored file could not be used" }
                " and are left out of everything below:"
                table {
                    tr { th { "reason" } th class="n" { "lines" } th class="n" { "first at line" } th { "detail" } }
                    @for (reason, (n, line, detail)) in &c.malformed {
                        tr {
                            td { code { (reason) } " — " (reason_text(reason)) }
                            td class="n" { (count(*n as i64)) } td class="n" { (line) } td { (detail) }
                        }
                    }
                }
            }
        }
        @if !c.other_models.is_empty() {
            div class="notice" id="other-models" {
                b { (count(c.other_models.values().sum::<u64>() as i64)) " event(s) were scored by another model" } " — "
                @for (n, (id, events)) in c.other_models.iter().enumerate() {
                    @if n > 0 { ", " }
                    code { (id) } " (" (count(*events as i64)) " events)"
                }
                " — and are left out: this report is about model " code { (i.id) } " (a pipeline that reloaded its model writes both)."
            }
        }
        @if c.rescored_differently > 0 {
            div class="notice" {
                "Scoring the events again (for their scaled vectors) put " b { (count(c.rescored_differently as i64)) }
                " of " (count(c.rescored as i64)) " in another cluster than the file says. A model with a stateful feature ("
                code { "inter_arrival" } ") depends on seeing every event in the same order; a file written with "
                code { "only_anomalies" } ", or events left out, change it. Run the pipeline with " code { "emit_vector = true" }
                " to take the vectors from the file instead."
            }
        }
        @if !c.rescore_failed.is_empty() {
            div class="notice" {
                "Scoring the events again failed for some of them ("
                @for (n, (r, count_)) in c.rescore_failed.iter().enumerate() {
                    @if n > 0 { ", " }
                    code { (r) } " " (count(*count_ as i64))
                }
                "); they are left out of the projection."
            }
        }
    }
}

fn clusters_section(i: &Input) -> Markup {
    let (m, c) = (i.model, i.collected);
    let fitted = m.fitted.as_ref().expect("fitted");
    let scored_total: u64 = c.per_cluster.iter().map(|p| p.0).sum();
    let mut rows: Vec<SizeRow> = fitted
        .clusters
        .iter()
        .enumerate()
        .map(|(j, cl)| SizeRow {
            cluster: j,
            train: (cl.size, cl.share),
            scored: (
                c.per_cluster[j].0,
                if scored_total > 0 { c.per_cluster[j].0 as f64 / scored_total as f64 } else { 0.0 },
            ),
            rare: cl.rare,
        })
        .collect();
    const MAX_BARS: usize = 30;
    let all = rows.len();
    if rows.len() > MAX_BARS {
        rows.sort_by(|a, b| b.train.0.cmp(&a.train.0).then(a.cluster.cmp(&b.cluster)));
        rows.truncate(MAX_BARS);
    }
    let traits = inspect::all_traits(m, fitted, 3);
    let what = |j: usize| -> String {
        let Some(ts) = traits.get(j) else { return String::new() };
        let parts: Vec<String> = ts
            .iter()
            .map(|t| match (&t.category, t.scaled) {
                (Some(cat), _) if t.share.is_none() => format!("{}={cat}", t.feature),
                (Some(cat), _) => format!("{}={cat} ({:.0} %)", t.feature, 100.0 * t.share.unwrap_or(0.0)),
                (None, Some(z)) => {
                    // A centroid on a zero value comes back as ±1e-14.
                    let raw = t.raw.unwrap_or(0.0);
                    let raw = if raw.abs() < 1e-9 { 0.0 } else { raw };
                    format!("{} {z:+.2} (≈{})", t.feature, num(raw))
                }
                _ => t.feature.clone(),
            })
            .collect();
        parts.join(", ")
    };
    html! {
        section id="clusters" {
            h2 { "Cluster sizes" }
            p class="lead" {
                "Each cluster's share of the " (count(fitted.training.rows as i64)) " training rows (solid) and of the "
                (count(scored_total as i64)) " scored events that have a cluster (light). "
                @if m.spec.scoring.rare_share > 0.0 {
                    "A cluster holding less than " (pct(m.spec.scoring.rare_share)) " of the training rows is " i { "rare" }
                    ": its events are anomalies by that alone."
                } @else {
                    "No cluster is rare (" code { "rare_share = 0" } ")."
                }
                @if all > rows.len() { " " b { "Drawn: the " (rows.len()) " largest of the " (all) " clusters." } }
            }
            (charts::sizes_chart(&rows))
            h3 { "Per cluster" }
            div class="scroll" { table id="cluster-table" {
                tr {
                    th { "cluster" } th class="n" { "training rows" } th class="n" { "share" } th class="n" { "threshold" }
                    th class="n" { "mean distance" } th class="n" { "scored" } th class="n" { "anomalies" }
                    th { (match m.spec.model.kind {
                        ModelKind::Kmodes | ModelKind::Kprototypes => "mode (then numeric centre)",
                        ModelKind::Flow2vec => "most frequent tokens",
                        ModelKind::Kmeans => "distinguished by",
                        ModelKind::IsolationForest => "",
                    }) }
                }
                @for (j, cl) in fitted.clusters.iter().enumerate() {
                    tr {
                        td {
                            span class="sw" style={ "background:" (colour(j)) } {} (j)
                            @if cl.rare { " " span class="badge rare_cluster" { "rare" } }
                        }
                        td class="n" { (count(cl.size as i64)) } td class="n" { (pct(cl.share)) }
                        td class="n" { (num(cl.threshold)) } td class="n" { (num(cl.mean_distance)) }
                        td class="n" { (count(c.per_cluster[j].0 as i64)) } td class="n" { (count(c.per_cluster[j].1 as i64)) }
                        td { (what(j)) }
                    }
                }
            } }
        }
    }
}

fn projection_section(i: &Input) -> Markup {
    let c = i.collected;
    let Some(p) = i.projection else {
        return html! {
            section id="projection" {
                h2 { "2-D projection (PCA)" }
                div class="notice info" id="no-projection" {
                    b { "No projection for this model:" } " " (c.no_projection.as_deref().unwrap_or("not available")) "."
                }
            }
        };
    };
    let drawn_anoms = p.dots.iter().filter(|d| d.anomaly).count();
    let k = i.model.fitted.as_ref().map_or(0, |f| f.clusters.len());
    let [pc1, pc2] = p.pca.explained_variance_ratio.map(pct);
    html! {
        section id="projection" {
            h2 { "2-D projection (PCA)" }
            p class="lead" {
                "The scaled feature vectors of the scored events, "
                @match (c.vectors_in_file, c.rescored) {
                    (_, 0) => { "taken from the file (" code { "logsieve.vector" } ", written with " code { "emit_vector = true" } ")" }
                    (0, _) => { "computed again by the model's own scorer (the plugin, natively, with " code { "emit_vector" } ")" }
                    (f, r) => {
                        (count(f as i64)) " from the file's " code { "logsieve.vector" } ", " (count(r as i64))
                        " computed again by the model's own scorer"
                    }
                }
                ", centred and projected on their first two principal components (fitted on " (count(c.pca_sample.len() as i64)) " events"
                @if (c.pca_sample.len() as u64) < c.events {
                    ", a deterministic uniform sample of at most " (count(i.limits.pca_rows as i64))
                }
                "). PC1 holds " (pc1) " of the variance, PC2 " (pc2) ". Crosses are the clusters' centroids, projected the same way."
                @if k <= LEGEND_MAX {
                    " Click a cluster below to hide or show it."
                } @else {
                    " (Too many clusters for a legend; colours repeat every 12.)"
                }
            }
            p id="pca-note" {
                "Drawn: " b id="pca-drawn" { (count(p.dots.len() as i64)) } " points of " (count(c.events as i64)) " events"
                @if c.without_vector > 0 {
                    " (" (count(c.without_vector as i64))
                    " of them have no vector to draw: tokens never seen in training, or events the scorer did not score again)"
                }
                " — every anomaly (" (count(drawn_anoms as i64))
                @if c.anomalies_not_drawn > 0 {
                    "; " (count(c.anomalies_not_drawn as i64)) " more anomalies were left out: there are more than the cap"
                }
                "), outlined in black, then a deterministic uniform sample of the others; at most "
                (count(i.limits.max_points as i64)) " points are drawn."
            }
            @if k <= LEGEND_MAX {
                div class="legend-row" id="pca-legend" {
                    @for j in 0..k {
                        button type="button" data-c=(j) { span class="sw" style={ "background:" (colour(j)) } {} "cluster " (j) }
                    }
                }
            }
            (charts::scatter(&p.dots, &p.centroids, (&format!("PC1 ({pc1} of the variance)"), &format!("PC2 ({pc2})"))))
        }
    }
}

fn scores_section(i: &Input) -> Markup {
    let (m, c) = (i.model, i.collected);
    let fitted = m.fitted.as_ref().expect("fitted");
    let what = match m.spec.model.kind {
        ModelKind::Kmeans => "Euclidean distance to the centroid, in the scaled feature space",
        ModelKind::Kmodes => "number of features that differ from the cluster's mode",
        ModelKind::Kprototypes => "squared distance of the scaled numeric part + gamma × mismatches",
        ModelKind::Flow2vec => "distance of the token's vector to its cluster's centre",
        ModelKind::IsolationForest => "anomaly score of the isolation forest",
    };
    let rule = match m.spec.scoring.threshold {
        Some(t) => format!("the spec's absolute threshold {}", num(t)),
        None => format!("the {} quantile of its training rows' distances", num(m.spec.scoring.threshold_quantile)),
    };
    let drawn = fitted.clusters.len() <= 24;
    let thresholds: Vec<f64> = if drawn { fitted.clusters.iter().map(|cl| cl.threshold).collect() } else { Vec::new() };
    html! {
        section id="scores" {
            h2 { "Scores" }
            p class="lead" {
                "The distribution of the distance (" (what) ") of the " (count(c.distances.len() as i64))
                " scored events, anomalous ones in red; each cluster's threshold (" (rule) ") is a dashed line in its colour. An event's "
                code { "score" } " is its distance divided by its cluster's threshold: above 1 it is " code { "far_from_centroid" } "."
                @if c.unscored > 0 {
                    " " (count(c.unscored as i64)) " events have no distance (tokens never seen in training, without a known relative)."
                }
            }
            (charts::histogram(&c.distances, &thresholds, "distance"))
            @if !drawn {
                @let lo = fitted.clusters.iter().map(|cl| cl.threshold).fold(f64::INFINITY, f64::min);
                @let hi = fitted.clusters.iter().map(|cl| cl.threshold).fold(0.0, f64::max);
                p class="muted" {
                    (fitted.clusters.len()) " clusters: thresholds from " (num(lo)) " to " (num(hi))
                    " (not drawn one by one; see the cluster table)."
                }
            }
            @if !c.reasons.is_empty() {
                h3 { "Reasons given" }
                table id="reasons-table" style="max-width:520px" {
                    tr { th { "reason" } th class="n" { "events" } th class="n" { "share" } }
                    @for (r, n) in &c.reasons {
                        tr {
                            td { span class={ "badge " (r) } { (r) } }
                            td class="n" { (count(*n as i64)) } td class="n" { (pct(*n as f64 / c.events.max(1) as f64)) }
                        }
                    }
                }
            }
        }
    }
}

fn sweep_section(i: &Input) -> Markup {
    let m = i.model;
    let fitted = m.fitted.as_ref().expect("fitted");
    let obj = objective(m);
    let Some(sw) = &fitted.training.sweep else {
        return html! {
            section id="sweep" {
                h2 { "Choosing k" }
                div class="notice info" id="no-sweep" {
                    "This model was trained with one k (n_clusters " (m.spec.model.n_clusters) "). " code { "logsieve train --n-clusters 2..12" }
                    " fits every k in the range with the same n_init and random_state, and the report then shows the " (obj)
                    " and the silhouette per k here, with the elbow."
                }
            }
        };
    };
    let pts: Vec<KPoint> =
        sw.points.iter().map(|p| KPoint { k: p.n_clusters, inertia: p.inertia, silhouette: p.silhouette }).collect();
    html! {
        section id="sweep" {
            h2 { "Choosing k" }
            p class="lead" {
                "Trained with " code { "--n-clusters " (sw.points.first().map_or(0, |p| p.n_clusters)) ".." (sw.points.last().map_or(0, |p| p.n_clusters)) }
                ": every k fitted with the same trainer, n_init " (m.spec.model.n_init) " and random_state " (m.spec.model.random_state)
                ". The " b { "elbow" } " is the k farthest from the straight line joining the first and the last " (obj)
                " (both axes scaled to [0, 1], \"kneedle\"): "
                @match sw.elbow { Some(e) => { "k = " (e) } None => { "none (the curve is a straight line)" } }
                ". "
                @if sw.silhouette_rows > 0 {
                    "The " b { "silhouette" } " is scikit-learn's " code { "silhouette_score" }
                    " (Euclidean, on the scaled features, on a deterministic sample of " (count(sw.silhouette_rows as i64))
                    " training rows); higher is better."
                } @else {
                    "No silhouette: it is computed for k-means models (Euclidean distances on the scaled features)."
                }
                " This model is k = " b { (sw.chosen) } ", chosen by "
                @match sw.rule.as_str() {
                    "elbow" => { "the elbow (the default, " code { "--pick elbow" } ")" }
                    "silhouette" => { "the highest silhouette (" code { "--pick silhouette" } ")" }
                    _ => { "given (" code { "--pick " (sw.chosen) } ")" }
                }
                "."
            }
            (charts::sweep_charts(&pts, sw.elbow, sw.chosen, obj))
            table id="sweep-table" style="max-width:620px" {
                tr { th class="n" { "k" } th class="n" { (obj) } th class="n" { "silhouette" } th class="n" { "iterations" } th {} }
                @for p in &sw.points {
                    tr {
                        td class="n" { (p.n_clusters) } td class="n" { (num(p.inertia)) }
                        td class="n" { (p.silhouette.map_or("—".to_string(), |s| format!("{s:.4}"))) } td class="n" { (p.n_iter) }
                        td {
                            @if Some(p.n_clusters) == sw.elbow { span class="badge" { "elbow" } }
                            @if p.n_clusters == sw.chosen { span class="badge" { "this model" } }
                        }
                    }
                }
            }
        }
    }
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn key_fields(m: &Model, event: &Map<String, Value>) -> Markup {
    let spec = &m.spec;
    let mut names: Vec<&str> = Vec::new();
    if let Some(a) = &spec.aggregate {
        names.extend(a.group_by.iter().map(String::as_str));
        names.push("window_start");
    } else if event.contains_key(&spec.input.time_field) {
        names.push(spec.input.time_field.as_str());
    }
    for f in &spec.features {
        if !names.contains(&f.field.as_str()) {
            names.push(f.field.as_str());
        }
    }
    html! {
        div class="ev" {
            @for (n, v) in names.iter().filter_map(|n| Some((n, event.get(*n)?))) {
                span { (n) } span { (field_text(v)) }
            }
        }
    }
}

fn explanation(v: &Map<String, Value>) -> Markup {
    let list = |key: &str| v.get(key).and_then(Value::as_array).filter(|a| !a.is_empty());
    let text = |x: &Value, key: &str| x.get(key).map(field_text);
    let shown = ["top_features", "mismatches", "unseen"].into_iter().any(|k| list(k).is_some())
        || v.get("token").and_then(Value::as_str).is_some()
        || v.get("sequence").and_then(Value::as_object).is_some();
    html! {
        @if let Some(tf) = list("top_features") {
            div class="why-h" { "top features" }
            div class="why" {
                @for (name, share) in tf.iter().filter_map(|f| Some((f.get("feature")?.as_str()?, f.get("share")?.as_f64()?))) {
                    span class="feat" {
                        span class="bar-in" style=(format!("width:{:.0}px", (40.0 * share).max(1.0))) {}
                        (name) " " (format!("{:.0}", 100.0 * share)) " %"
                    }
                }
            }
        }
        @if let Some(mm) = list("mismatches") {
            div class="why-h" { "differs from the mode (value ≠ mode)" }
            div class="why" {
                @for (f, val, exp) in mm.iter().filter_map(|x| Some((x.get("feature")?.as_str()?, text(x, "value")?, text(x, "expected")?))) {
                    span class="feat" { b { (f) } " " (val) " ≠ " (exp) }
                }
            }
        }
        @if let Some(u) = list("unseen") {
            div class="why-h" { "never seen in training" }
            div class="why" {
                @for (f, val) in u.iter().filter_map(|x| Some((x.get("feature")?.as_str()?, text(x, "value")?))) {
                    span class="feat" { b { (f) } " " (val) }
                }
            }
        }
        @if let Some(t) = v.get("token").and_then(Value::as_str) {
            div {
                "token " code { (t) }
                @if let Some(r) = v.get("relative").and_then(Value::as_str) { ", scored as " code { (r) } }
            }
        }
        @if let Some(s) = v.get("sequence").and_then(Value::as_object) {
            div {
                "sequence: cluster " (s.get("cluster").map_or("—".into(), field_text))
                ", score " (s.get("score").and_then(Value::as_f64).map_or("—".into(), num))
            }
        }
        @if !shown { span class="muted" { "—" } }
    }
}

fn anomalies_section(i: &Input) -> Markup {
    let c = i.collected;
    html! {
        section id="anomalies" {
            h2 { "Top anomalies" }
            p class="lead" {
                @if c.top_are_anomalies {
                    "The " (count(c.top.len() as i64)) " anomalies with the highest score (of " (count(c.anomalies as i64))
                    "), with what the scorer said about each: its reasons, the features that make up most of its distance, \
                     and for k-modes the fields that differ from the mode. Under each score: distance / threshold."
                } @else {
                    "No event was flagged. The " (count(c.top.len() as i64)) " highest scores:"
                }
            }
            div class="scroll" { table id="anomalies-table" {
                thead { tr {
                    th class="n" { "#" } th class="n" { "line" } th { "cluster" } th class="n" { "score" } th { "reasons" } th { "why" } th { "event" }
                } }
                tbody {
                    @for (n, kept) in c.top.iter().enumerate() { (row(i.model, n + 1, kept)) }
                }
            } }
        }
    }
}

fn row(m: &Model, rank: usize, k: &Kept) -> Markup {
    let v = &k.verdict;
    let reasons = v.get("reasons").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    let num_of = |key: &str| v.get(key).and_then(Value::as_f64).map_or("—".to_string(), num);
    let full = serde_json::to_string_pretty(&Value::Object(k.event.clone())).unwrap_or_default();
    html! {
        tr class="anomaly-row" {
            td class="n" { (rank) }
            td class="n" { (k.line) }
            td {
                @match v.get("cluster").and_then(Value::as_u64) {
                    Some(c) => { span class="sw" style={ "background:" (colour(c as usize)) } {} (c) }
                    None => { "—" }
                }
            }
            td class="n" {
                b { (k.score.map_or("—".to_string(), |s| format!("{s:.3}"))) }
                div class="muted small" { (num_of("distance")) " / " (num_of("threshold")) }
            }
            td { @for r in reasons.iter().filter_map(Value::as_str) { span class={ "badge " (r) } { (r) } } }
            td class="whycell" { (explanation(v)) }
            td class="event" {
                (key_fields(m, &k.event))
                details { summary { "whole event" } pre { (full) } }
            }
        }
    }
}

fn model_section(i: &Input) -> Markup {
    let m = i.model;
    let fitted = m.fitted.as_ref().expect("fitted");
    let spec = &m.spec;
    let p = &spec.model;
    let t = &fitted.training;
    let traits = inspect::all_traits(m, fitted, 3);
    html! {
        section id="model" {
            h2 { "Model" }
            p class="lead" { "From " code { (i.names.0) } "." }
            div class="kv" id="model-summary" {
                div { "kind" } div { b { (p.kind.as_str()) } }
                div { "id" } div { code { (i.id) } }
                div { "n_clusters" } div { (p.n_clusters) " (" (fitted.clusters.len()) " fitted)" }
                div { "n_init · random_state · max_iter" }
                div { (p.n_init) " · " (p.random_state) " · " (p.max_iter) @if p.kind.one_hot() { " · tol " (p.tol) } }
                div { "init" } div { (p.init_method().as_str()) }
                div { "scaling" } div { (spec.scaling.method.as_str()) }
                div { "thresholds" }
                div {
                    @match spec.scoring.threshold {
                        Some(x) => { "absolute: distance > " (num(x)) }
                        None => { "quantile " (num(spec.scoring.threshold_quantile)) " of each cluster's training distances" }
                    }
                }
                div { "rare clusters" } div { "share < " (pct(spec.scoring.rare_share)) }
                div { "training" }
                div {
                    (count(t.rows as i64)) " rows (" (count(t.skipped as i64)) " skipped), " (objective(m)) " " (num(t.inertia))
                    ", " (t.n_iter) " iterations"
                }
                div { "inputs" } div { (t.inputs.join(" ")) }
                div { "created" } div { (utc(t.created_unix)) " by logsieve " (t.logsieve_version) }
                @if let Some(g) = fitted.gamma { div { "gamma" } div { (num(g)) } }
                @if let Some(e) = &fitted.embedding {
                    div { "embedding" }
                    div { (count(e.tokens.len() as i64)) " tokens × " (e.dim) " dimensions (" (format!("{:?}", e.precision)) ")" }
                }
            }
            h3 { "Features" }
            table id="features-table" {
                tr { th { "feature" } th { "field" } th { "type" } th { "learned" } }
                @for (f, st) in spec.features.iter().zip(&fitted.features) {
                    tr {
                        td { b { (f.name()) } } td { code { (f.field) } }
                        @match st {
                            FeatureState::Numeric { offset, scale, fill } => {
                                td { "numeric" }
                                td {
                                    @if f.log1p { "log1p, then " }
                                    "offset " (num(*offset)) " · scale " (num(*scale)) " · missing → " (num(*fill))
                                }
                            }
                            FeatureState::Categorical { vocabulary, .. } => {
                                td { "categorical" }
                                td {
                                    (count(vocabulary.len() as i64)) " values: "
                                    (vocabulary.iter().take(8).map(String::as_str).collect::<Vec<_>>().join(", "))
                                    @if vocabulary.len() > 8 { " …" }
                                }
                            }
                        }
                    }
                }
            }
            details {
                summary { "the whole " code { "logsieve inspect" } " output" }
                pre { (inspect::render(i.id, m, &traits)) }
            }
        }
    }
}
