//! The report's HTML: one file, inline CSS and script, nothing loaded.

use std::fmt::Write as _;

use logsieve_artifact::{FeatureState, Model, ModelKind};
use serde_json::{Map, Value};

use super::Projection;
use super::charts::{self, KPoint, SizeRow, colour, count, esc, num, pct};
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
    let spec = &m.spec;
    let kind = spec.model.kind.as_str();
    let k = fitted.clusters.len();
    let mut h = String::with_capacity(256 * 1024 + c.points.len() * 120);
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>logsieve report — model {id}</title><style>{CSS}</style></head><body>"#,
        id = esc(i.id)
    );
    let _ = write!(
        h,
        r##"<header><div class="wrap"><h1>logsieve report</h1><div class="sub">model <code>{}</code> ({kind}, n_clusters {k}) from <code>{}</code> · scored events <code>{}</code></div><nav><a href="#clusters">Cluster sizes</a><a href="#projection">Projection</a><a href="#scores">Scores</a><a href="#sweep">Choosing k</a><a href="#anomalies">Top anomalies</a><a href="#model">Model</a></nav></div></header><main class="wrap">"##,
        esc(i.id),
        esc(i.names.0),
        esc(i.names.1)
    );

    // Key numbers.
    let share = if c.events > 0 { c.anomalies as f64 / c.events as f64 } else { 0.0 };
    let bad = c.malformed_total();
    let _ = write!(
        h,
        r#"<div class="kpis"><div class="kpi"><div class="v" id="kpi-events">{}</div><div class="l">events scored by this model</div></div><div class="kpi bad"><div class="v" id="kpi-anomalies">{}</div><div class="l">anomalies ({})</div></div><div class="kpi"><div class="v">{k}</div><div class="l">clusters ({} rare)</div></div><div class="kpi{}"><div class="v" id="kpi-malformed">{}</div><div class="l">lines that could not be used</div></div></div>"#,
        count(c.events as i64),
        count(c.anomalies as i64),
        pct(share),
        fitted.clusters.iter().filter(|cl| cl.rare).count(),
        if bad > 0 { " bad" } else { "" },
        count(bad as i64)
    );
    notices(&mut h, i);

    clusters_section(&mut h, i);
    projection_section(&mut h, i);
    scores_section(&mut h, i);
    sweep_section(&mut h, i);
    anomalies_section(&mut h, i);
    model_section(&mut h, i);

    let _ = write!(
        h,
        r#"</main><footer>Generated by logsieve {} · a single self-contained file: no network, no external resources.</footer><script>{SCRIPT}</script></body></html>"#,
        env!("CARGO_PKG_VERSION")
    );
    h
}

fn notices(h: &mut String, i: &Input) {
    let c = i.collected;
    if !c.malformed.is_empty() {
        let _ = write!(
            h,
            r#"<div class="notice err" id="malformed"><b>{} line(s) of the scored file could not be used</b> and are left out of everything below:<table><tr><th>reason</th><th class="n">lines</th><th class="n">first at line</th><th>detail</th></tr>"#,
            count(c.malformed_total() as i64)
        );
        for (reason, (n, line, detail)) in &c.malformed {
            let _ = write!(
                h,
                r#"<tr><td><code>{}</code> — {}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
                esc(reason),
                reason_text(reason),
                count(*n as i64),
                line,
                esc(detail)
            );
        }
        h.push_str("</table></div>");
    }
    if !c.other_models.is_empty() {
        let others: Vec<String> = c
            .other_models
            .iter()
            .map(|(id, n)| format!("<code>{}</code> ({} events)", esc(id), count(*n as i64)))
            .collect();
        let _ = write!(
            h,
            r#"<div class="notice" id="other-models"><b>{} event(s) were scored by another model</b> — {} — and are left out: this report is about model <code>{}</code> (a pipeline that reloaded its model writes both).</div>"#,
            count(c.other_models.values().sum::<u64>() as i64),
            others.join(", "),
            esc(i.id)
        );
    }
    if c.rescored_differently > 0 {
        let _ = write!(
            h,
            r#"<div class="notice">Scoring the events again (for their scaled vectors) put <b>{}</b> of {} in another cluster than the file says. A model with a stateful feature (<code>inter_arrival</code>) depends on seeing every event in the same order; a file written with <code>only_anomalies</code>, or events left out, change it. Run the pipeline with <code>emit_vector = true</code> to take the vectors from the file instead.</div>"#,
            count(c.rescored_differently as i64),
            count(c.rescored as i64)
        );
    }
    if !c.rescore_failed.is_empty() {
        let list: Vec<String> =
            c.rescore_failed.iter().map(|(r, n)| format!("<code>{}</code> {}", esc(r), count(*n as i64))).collect();
        let _ = write!(
            h,
            r#"<div class="notice">Scoring the events again failed for some of them ({}); they are left out of the projection.</div>"#,
            list.join(", ")
        );
    }
}

fn clusters_section(h: &mut String, i: &Input) {
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
    let _ = write!(
        h,
        r#"<section id="clusters"><h2>Cluster sizes</h2><p class="lead">Each cluster's share of the {} training rows (solid) and of the {} scored events that have a cluster (light). {}{}</p>"#,
        count(fitted.training.rows as i64),
        count(scored_total as i64),
        if m.spec.scoring.rare_share > 0.0 {
            format!(
                "A cluster holding less than {} of the training rows is <i>rare</i>: its events are anomalies by that alone.",
                pct(m.spec.scoring.rare_share)
            )
        } else {
            "No cluster is rare (<code>rare_share = 0</code>).".to_string()
        },
        if all > rows.len() {
            format!(" <b>Drawn: the {} largest of the {all} clusters.</b>", rows.len())
        } else {
            String::new()
        }
    );
    h.push_str(&charts::sizes_chart(&rows));
    let traits = inspect::all_traits(m, fitted, 3);
    let _ = write!(
        h,
        r#"<h3>Per cluster</h3><div class="scroll"><table id="cluster-table"><tr><th>cluster</th><th class="n">training rows</th><th class="n">share</th><th class="n">threshold</th><th class="n">mean distance</th><th class="n">scored</th><th class="n">anomalies</th><th>{}</th></tr>"#,
        match m.spec.model.kind {
            ModelKind::Kmodes | ModelKind::Kprototypes => "mode (then numeric centre)",
            ModelKind::Flow2vec => "most frequent tokens",
            ModelKind::Kmeans => "distinguished by",
            ModelKind::IsolationForest => "",
        }
    );
    for (j, cl) in fitted.clusters.iter().enumerate() {
        let what: Vec<String> = traits.get(j).map_or(Vec::new(), |ts| {
            ts.iter()
                .map(|t| match (&t.category, t.scaled) {
                    (Some(cat), _) if t.share.is_none() => format!("{}={}", esc(&t.feature), esc(cat)),
                    (Some(cat), _) => {
                        format!("{}={} ({:.0} %)", esc(&t.feature), esc(cat), 100.0 * t.share.unwrap_or(0.0))
                    }
                    (None, Some(z)) => {
                        // A centroid on a zero value comes back as ±1e-14.
                        let raw = t.raw.unwrap_or(0.0);
                        let raw = if raw.abs() < 1e-9 { 0.0 } else { raw };
                        format!("{} {:+.2} (≈{})", esc(&t.feature), z, num(raw))
                    }
                    _ => esc(&t.feature),
                })
                .collect()
        });
        let _ = write!(
            h,
            r#"<tr><td><span class="sw" style="background:{}"></span>{j}{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            colour(j),
            if cl.rare { r#" <span class="badge rare_cluster">rare</span>"# } else { "" },
            count(cl.size as i64),
            pct(cl.share),
            num(cl.threshold),
            num(cl.mean_distance),
            count(c.per_cluster[j].0 as i64),
            count(c.per_cluster[j].1 as i64),
            what.join(", ")
        );
    }
    h.push_str("</table></div></section>");
}

fn projection_section(h: &mut String, i: &Input) {
    let c = i.collected;
    h.push_str(r#"<section id="projection"><h2>2-D projection (PCA)</h2>"#);
    let Some(p) = i.projection else {
        let _ = write!(
            h,
            r#"<div class="notice info" id="no-projection"><b>No projection for this model:</b> {}.</div></section>"#,
            esc(c.no_projection.as_deref().unwrap_or("not available"))
        );
        return;
    };
    let source = match (c.vectors_in_file, c.rescored) {
        (_, 0) => "taken from the file (<code>logsieve.vector</code>, written with <code>emit_vector = true</code>)"
            .to_string(),
        (0, _) => {
            "computed again by the model's own scorer (the plugin, natively, with <code>emit_vector</code>)".to_string()
        }
        (f, r) => format!(
            "{} from the file's <code>logsieve.vector</code>, {} computed again by the model's own scorer",
            count(f as i64),
            count(r as i64)
        ),
    };
    let drawn_anoms = p.dots.iter().filter(|d| d.anomaly).count();
    let _ = write!(
        h,
        r#"<p class="lead">The scaled feature vectors of the scored events, {source}, centred and projected on their first two principal components (fitted on {} events{}). PC1 holds {} of the variance, PC2 {}. Crosses are the clusters' centroids, projected the same way.{}</p>"#,
        count(c.pca_sample.len() as i64),
        if (c.pca_sample.len() as u64) < c.events {
            format!(", a deterministic uniform sample of at most {}", count(i.limits.pca_rows as i64))
        } else {
            String::new()
        },
        pct(p.pca.explained_variance_ratio[0]),
        pct(p.pca.explained_variance_ratio[1]),
        if i.model.fitted.as_ref().map_or(0, |f| f.clusters.len()) <= LEGEND_MAX {
            " Click a cluster below to hide or show it."
        } else {
            " (Too many clusters for a legend; colours repeat every 12.)"
        }
    );
    let _ = write!(
        h,
        r#"<p id="pca-note">Drawn: <b id="pca-drawn">{}</b> points of {} events{} — every anomaly ({}{}), outlined in black, then a deterministic uniform sample of the others; at most {} points are drawn.</p>"#,
        count(p.dots.len() as i64),
        count(c.events as i64),
        if c.without_vector > 0 {
            format!(
                " ({} of them have no vector to draw: tokens never seen in training, or events the scorer did not score again)",
                count(c.without_vector as i64)
            )
        } else {
            String::new()
        },
        count(drawn_anoms as i64),
        if c.anomalies_not_drawn > 0 {
            format!(
                "; {} more anomalies were left out: there are more than the cap",
                count(c.anomalies_not_drawn as i64)
            )
        } else {
            String::new()
        },
        count(i.limits.max_points as i64)
    );
    let k = i.model.fitted.as_ref().map_or(0, |f| f.clusters.len());
    if k <= LEGEND_MAX {
        h.push_str(r#"<div class="legend-row" id="pca-legend">"#);
        for j in 0..k {
            let _ = write!(
                h,
                r#"<button type="button" data-c="{j}"><span class="sw" style="background:{}"></span>cluster {j}</button>"#,
                colour(j)
            );
        }
        h.push_str("</div>");
    }
    let xl = format!("PC1 ({} of the variance)", pct(p.pca.explained_variance_ratio[0]));
    let yl = format!("PC2 ({})", pct(p.pca.explained_variance_ratio[1]));
    h.push_str(&charts::scatter(&p.dots, &p.centroids, (&xl, &yl)));
    h.push_str("</section>");
}

fn scores_section(h: &mut String, i: &Input) {
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
    let _ = write!(
        h,
        r#"<section id="scores"><h2>Scores</h2><p class="lead">The distribution of the distance ({what}) of the {} scored events, anomalous ones in red; each cluster's threshold ({rule}) is a dashed line in its colour. An event's <code>score</code> is its distance divided by its cluster's threshold: above 1 it is <code>far_from_centroid</code>.{}</p>"#,
        count(c.distances.len() as i64),
        if c.unscored > 0 {
            format!(
                " {} events have no distance (tokens never seen in training, without a known relative).",
                count(c.unscored as i64)
            )
        } else {
            String::new()
        }
    );
    let thresholds: Vec<f64> =
        if fitted.clusters.len() <= 24 { fitted.clusters.iter().map(|cl| cl.threshold).collect() } else { Vec::new() };
    h.push_str(&charts::histogram(&c.distances, &thresholds, "distance"));
    if fitted.clusters.len() > 24 {
        let lo = fitted.clusters.iter().map(|cl| cl.threshold).fold(f64::INFINITY, f64::min);
        let hi = fitted.clusters.iter().map(|cl| cl.threshold).fold(0.0, f64::max);
        let _ = write!(
            h,
            r#"<p class="muted">{} clusters: thresholds from {} to {} (not drawn one by one; see the cluster table).</p>"#,
            fitted.clusters.len(),
            num(lo),
            num(hi)
        );
    }
    if !c.reasons.is_empty() {
        h.push_str(r#"<h3>Reasons given</h3><table id="reasons-table" style="max-width:520px"><tr><th>reason</th><th class="n">events</th><th class="n">share</th></tr>"#);
        for (r, n) in &c.reasons {
            let _ = write!(
                h,
                r#"<tr><td><span class="badge {r}">{r}</span></td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                count(*n as i64),
                pct(*n as f64 / c.events.max(1) as f64),
                r = esc(r)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

fn sweep_section(h: &mut String, i: &Input) {
    let m = i.model;
    let fitted = m.fitted.as_ref().expect("fitted");
    let obj = objective(m);
    h.push_str(r#"<section id="sweep"><h2>Choosing k</h2>"#);
    let Some(sw) = &fitted.training.sweep else {
        let _ = write!(
            h,
            r#"<div class="notice info" id="no-sweep">This model was trained with one k (n_clusters {}). <code>logsieve train --n-clusters 2..12</code> fits every k in the range with the same n_init and random_state, and the report then shows the {obj} and the silhouette per k here, with the elbow.</div></section>"#,
            m.spec.model.n_clusters
        );
        return;
    };
    let rule = match sw.rule.as_str() {
        "elbow" => "the elbow (the default, <code>--pick elbow</code>)".to_string(),
        "silhouette" => "the highest silhouette (<code>--pick silhouette</code>)".to_string(),
        _ => format!("given (<code>--pick {}</code>)", sw.chosen),
    };
    let _ = write!(
        h,
        r#"<p class="lead">Trained with <code>--n-clusters {}..{}</code>: every k fitted with the same trainer, n_init {} and random_state {}. The <b>elbow</b> is the k farthest from the straight line joining the first and the last {obj} (both axes scaled to [0, 1], "kneedle"): {}. {} This model is k = <b>{}</b>, chosen by {rule}.</p>"#,
        sw.points.first().map_or(0, |p| p.n_clusters),
        sw.points.last().map_or(0, |p| p.n_clusters),
        m.spec.model.n_init,
        m.spec.model.random_state,
        sw.elbow.map_or("none (the curve is a straight line)".to_string(), |e| format!("k = {e}")),
        if sw.silhouette_rows > 0 {
            format!(
                "The <b>silhouette</b> is scikit-learn's <code>silhouette_score</code> (Euclidean, on the scaled \
                 features, on a deterministic sample of {} training rows); higher is better.",
                count(sw.silhouette_rows as i64)
            )
        } else {
            "No silhouette: it is computed for k-means models (Euclidean distances on the scaled features).".to_string()
        },
        sw.chosen
    );
    let pts: Vec<KPoint> =
        sw.points.iter().map(|p| KPoint { k: p.n_clusters, inertia: p.inertia, silhouette: p.silhouette }).collect();
    h.push_str(&charts::sweep_charts(&pts, sw.elbow, sw.chosen, obj));
    let _ = write!(
        h,
        r#"<table id="sweep-table" style="max-width:620px"><tr><th class="n">k</th><th class="n">{obj}</th><th class="n">silhouette</th><th class="n">iterations</th><th></th></tr>"#
    );
    for p in &sw.points {
        let mut marks = Vec::new();
        if Some(p.n_clusters) == sw.elbow {
            marks.push("elbow");
        }
        if p.n_clusters == sw.chosen {
            marks.push("this model");
        }
        let _ = write!(
            h,
            r#"<tr><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            p.n_clusters,
            num(p.inertia),
            p.silhouette.map_or("—".to_string(), |s| format!("{s:.4}")),
            p.n_iter,
            marks.iter().map(|m| format!(r#"<span class="badge">{m}</span>"#)).collect::<String>()
        );
    }
    h.push_str("</table></section>");
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn key_fields(m: &Model, event: &Map<String, Value>) -> String {
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
    let cells: String = names
        .iter()
        .filter_map(|n| event.get(*n).map(|v| format!("<span>{}</span><span>{}</span>", esc(n), esc(&field_text(v)))))
        .collect();
    format!(r#"<div class="ev">{cells}</div>"#)
}

fn explanation(v: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    if let Some(tf) = v.get("top_features").and_then(Value::as_array)
        && !tf.is_empty()
    {
        let items: Vec<String> = tf
            .iter()
            .filter_map(|f| {
                let name = f.get("feature")?.as_str()?;
                let share = f.get("share")?.as_f64()?;
                Some(format!(
                    r#"<span class="feat"><span class="bar-in" style="width:{2:.0}px"></span>{0} {1:.0} %</span>"#,
                    esc(name),
                    100.0 * share,
                    (40.0 * share).max(1.0)
                ))
            })
            .collect();
        parts.push(format!(r#"<div class="why-h">top features</div><div class="why">{}</div>"#, items.join("")));
    }
    if let Some(mm) = v.get("mismatches").and_then(Value::as_array)
        && !mm.is_empty()
    {
        let items: Vec<String> = mm
            .iter()
            .filter_map(|x| {
                Some(format!(
                    "<span class=\"feat\"><b>{}</b> {} ≠ {}</span>",
                    esc(x.get("feature")?.as_str()?),
                    esc(&field_text(x.get("value")?)),
                    esc(&field_text(x.get("expected")?))
                ))
            })
            .collect();
        parts.push(format!(
            r#"<div class="why-h">differs from the mode (value ≠ mode)</div><div class="why">{}</div>"#,
            items.join("")
        ));
    }
    if let Some(u) = v.get("unseen").and_then(Value::as_array)
        && !u.is_empty()
    {
        let items: Vec<String> = u
            .iter()
            .filter_map(|x| {
                Some(format!(
                    "<span class=\"feat\"><b>{}</b> {}</span>",
                    esc(x.get("feature")?.as_str()?),
                    esc(&field_text(x.get("value")?))
                ))
            })
            .collect();
        parts.push(format!(
            r#"<div class="why-h">never seen in training</div><div class="why">{}</div>"#,
            items.join("")
        ));
    }
    if let Some(t) = v.get("token").and_then(Value::as_str) {
        let rel = v.get("relative").and_then(Value::as_str);
        parts.push(format!(
            "<div>token <code>{}</code>{}</div>",
            esc(t),
            rel.map_or(String::new(), |r| format!(", scored as <code>{}</code>", esc(r)))
        ));
    }
    if let Some(s) = v.get("sequence").and_then(Value::as_object) {
        parts.push(format!(
            "<div>sequence: cluster {}, score {}</div>",
            s.get("cluster").map_or("—".into(), field_text),
            s.get("score").and_then(Value::as_f64).map_or("—".into(), num)
        ));
    }
    if parts.is_empty() { r#"<span class="muted">—</span>"#.to_string() } else { parts.concat() }
}

fn anomalies_section(h: &mut String, i: &Input) {
    let c = i.collected;
    let _ = write!(
        h,
        r#"<section id="anomalies"><h2>Top anomalies</h2><p class="lead">{}</p>"#,
        if c.top_are_anomalies {
            format!(
                "The {} anomalies with the highest score (of {}), with what the scorer said about each: its reasons, the features that make up most of its distance, and for k-modes the fields that differ from the mode. Under each score: distance / threshold.",
                count(c.top.len() as i64),
                count(c.anomalies as i64)
            )
        } else {
            format!("No event was flagged. The {} highest scores:", count(c.top.len() as i64))
        }
    );
    h.push_str(r#"<div class="scroll"><table id="anomalies-table"><thead><tr><th class="n">#</th><th class="n">line</th><th>cluster</th><th class="n">score</th><th>reasons</th><th>why</th><th>event</th></tr></thead><tbody>"#);
    for (n, kept) in c.top.iter().enumerate() {
        row(h, i.model, n + 1, kept);
    }
    h.push_str("</tbody></table></div></section>");
}

fn row(h: &mut String, m: &Model, rank: usize, k: &Kept) {
    let v = &k.verdict;
    let cluster = v.get("cluster").and_then(Value::as_u64);
    let reasons: String = v
        .get("reasons")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(|r| format!(r#"<span class="badge {r}">{r}</span>"#, r = esc(r)))
                .collect()
        })
        .unwrap_or_default();
    let num_of = |key: &str| v.get(key).and_then(Value::as_f64).map_or("—".to_string(), num);
    let full = serde_json::to_string_pretty(&Value::Object(k.event.clone())).unwrap_or_default();
    let _ = write!(
        h,
        r#"<tr class="anomaly-row"><td class="n">{rank}</td><td class="n">{}</td><td>{}</td><td class="n"><b>{}</b><div class="muted small">{} / {}</div></td><td>{reasons}</td><td class="whycell">{}</td><td class="event">{}<details><summary>whole event</summary><pre>{}</pre></details></td></tr>"#,
        k.line,
        cluster.map_or("—".to_string(), |c| format!(
            r#"<span class="sw" style="background:{}"></span>{c}"#,
            colour(c as usize)
        )),
        k.score.map_or("—".to_string(), |s| format!("{s:.3}")),
        num_of("distance"),
        num_of("threshold"),
        explanation(v),
        key_fields(m, &k.event),
        esc(&full)
    );
}

fn model_section(h: &mut String, i: &Input) {
    let m = i.model;
    let fitted = m.fitted.as_ref().expect("fitted");
    let spec = &m.spec;
    let p = &spec.model;
    let t = &fitted.training;
    let threshold = match spec.scoring.threshold {
        Some(x) => format!("absolute: distance &gt; {}", num(x)),
        None => format!("quantile {} of each cluster's training distances", num(spec.scoring.threshold_quantile)),
    };
    let kv = |k: &str, v: String| format!("<div>{k}</div><div>{v}</div>");
    let mut rows = vec![
        kv("kind", format!("<b>{}</b>", p.kind.as_str())),
        kv("id", format!("<code>{}</code>", esc(i.id))),
        kv("n_clusters", format!("{} ({} fitted)", p.n_clusters, fitted.clusters.len())),
        kv(
            "n_init · random_state · max_iter",
            format!(
                "{} · {} · {}{}",
                p.n_init,
                p.random_state,
                p.max_iter,
                if p.kind.one_hot() { format!(" · tol {}", p.tol) } else { String::new() }
            ),
        ),
        kv("init", p.init_method().as_str().to_string()),
        kv("scaling", spec.scaling.method.as_str().to_string()),
        kv("thresholds", threshold),
        kv("rare clusters", format!("share &lt; {}", pct(spec.scoring.rare_share))),
        kv(
            "training",
            format!(
                "{} rows ({} skipped), {} {}, {} iterations",
                count(t.rows as i64),
                count(t.skipped as i64),
                objective(m),
                num(t.inertia),
                t.n_iter
            ),
        ),
        kv("inputs", esc(&t.inputs.join(" "))),
        kv("created", format!("{} by logsieve {}", utc(t.created_unix), esc(&t.logsieve_version))),
    ];
    if let Some(g) = fitted.gamma {
        rows.push(kv("gamma", num(g)));
    }
    if let Some(e) = &fitted.embedding {
        rows.push(kv(
            "embedding",
            format!("{} tokens × {} dimensions ({:?})", count(e.tokens.len() as i64), e.dim, e.precision),
        ));
    }
    let _ = write!(
        h,
        r#"<section id="model"><h2>Model</h2><p class="lead">From <code>{}</code>.</p><div class="kv" id="model-summary">{}</div><h3>Features</h3><table id="features-table"><tr><th>feature</th><th>field</th><th>type</th><th>learned</th></tr>"#,
        esc(i.names.0),
        rows.concat()
    );
    for (f, st) in spec.features.iter().zip(&fitted.features) {
        let learned = match st {
            FeatureState::Numeric { offset, scale, fill } => format!(
                "{}offset {} · scale {} · missing → {}",
                if f.log1p { "log1p, then " } else { "" },
                num(*offset),
                num(*scale),
                num(*fill)
            ),
            FeatureState::Categorical { vocabulary, .. } => {
                let shown: Vec<String> = vocabulary.iter().take(8).map(|v| esc(v)).collect();
                format!(
                    "{} values: {}{}",
                    count(vocabulary.len() as i64),
                    shown.join(", "),
                    if vocabulary.len() > 8 { " …" } else { "" }
                )
            }
        };
        let _ = write!(
            h,
            "<tr><td><b>{}</b></td><td><code>{}</code></td><td>{}</td><td>{learned}</td></tr>",
            esc(f.name()),
            esc(&f.field),
            if matches!(st, FeatureState::Numeric { .. }) { "numeric" } else { "categorical" }
        );
    }
    h.push_str("</table>");
    let traits = inspect::all_traits(m, fitted, 3);
    let _ = write!(
        h,
        r#"<details><summary>the whole <code>logsieve inspect</code> output</summary><pre>{}</pre></details></section>"#,
        esc(&inspect::render(i.id, m, &traits))
    );
}
