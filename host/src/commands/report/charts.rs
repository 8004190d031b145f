//! The report's charts, drawn here as inline SVG (no script needed to see
//! them) with maud's `html!`, which escapes every spliced value. Every
//! chart is an `<svg>` with an id and `data-` counts, and its marks carry
//! classes (`bar`, `pt`, `k-point`, …) so a test can count them. SVG
//! elements are written `rect … {}` (a start and an end tag): in HTML an
//! SVG element without its end tag would hold the elements after it.

use std::fmt;

use maud::{Markup, html};

/// Cluster colours (a qualitative palette that stays apart on white);
/// cluster c gets `PALETTE[c % 12]`.
pub const PALETTE: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d",
    "#499894", "#d37295",
];

/// The colour of cluster `c`.
pub fn colour(c: usize) -> &'static str {
    PALETTE[c % PALETTE.len()]
}

/// A number for people: 4 significant digits, exponent form when huge or
/// tiny, thousands separated for counts.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e7).contains(&a) {
        return format!("{x:.3e}");
    }
    if x.fract() == 0.0 && a < 1e7 {
        return count(x as i64);
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// An integer with thin thousands separators.
pub fn count(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut o = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(ch);
    }
    if n < 0 { format!("-{o}") } else { o }
}

/// A percentage with sensible precision.
pub fn pct(share: f64) -> String {
    let p = 100.0 * share;
    if p == 0.0 {
        "0 %".into()
    } else if p < 0.1 {
        format!("{p:.3} %")
    } else if p < 10.0 {
        format!("{p:.2} %")
    } else {
        format!("{p:.1} %")
    }
}

/// "Nice" tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^n).
pub fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    // A range narrower than the floats around it (values a few ulps apart)
    // has no steps to take: its ends are the ticks.
    if first + step <= first || first.is_nan() || step.is_nan() {
        return vec![lo, hi];
    }
    // By index, not by accumulating: never more than a few per `want`.
    (0..=4 * want.max(1) + 2)
        .map(|i| first + i as f64 * step)
        .take_while(|t| *t <= hi + step * 1e-9)
        .map(|t| if t.abs() < step * 1e-9 { 0.0 } else { t })
        .collect()
}

/// A linear map from data to pixels.
#[derive(Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.p0 + self.p1) / 2.0;
        }
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}


/// A pixel coordinate as the charts write it: one decimal.
#[derive(Clone, Copy)]
struct P(f64);

impl fmt::Display for P {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// One row of the cluster-size chart.
pub struct SizeRow {
    /// Cluster index.
    pub cluster: usize,
    /// Training rows and their share.
    pub train: (u64, f64),
    /// Scored events and their share.
    pub scored: (u64, f64),
    /// Rare in training.
    pub rare: bool,
}

/// Horizontal bars: per cluster its share of the training rows (solid) and
/// of the scored events (light), with the counts.
pub fn sizes_chart(rows: &[SizeRow]) -> Markup {
    let (w, left, right, row_h, top) = (860.0, 118.0, 190.0, 34.0, 34.0);
    let h = top + row_h * rows.len() as f64 + 28.0;
    let max = rows.iter().map(|r| r.train.1.max(r.scored.1)).fold(0.0, f64::max).max(1e-9);
    let max = ticks(0.0, max, 5).last().copied().filter(|t| *t >= max).unwrap_or(max);
    let x = Scale { d0: 0.0, d1: max, p0: left, p1: w - right };
    html! {
        svg id="sizes-chart" class="chart" data-bars=(rows.len()) viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="Cluster sizes" {
            g class="legend" font-size="12" {
                rect x="118" y="8" width="14" height="10" fill="#555" {}
                text x="137" y="17" { "training rows" }
                rect x="240" y="8" width="14" height="10" fill="#555" fill-opacity="0.35" stroke="#555" {}
                text x="259" y="17" { "scored events" }
                text x="380" y="17" fill="#666" { "(share of each; the count after it)" }
            }
            @for t in ticks(0.0, max, 5) {
                @let px = P(x.at(t));
                line x1=(px) x2=(px) y1=(top) y2=(P(h - 24.0)) stroke="#e5e5e5" {}
                text x=(px) y=(P(h - 10.0)) font-size="11" text-anchor="middle" fill="#666" { (pct(t)) }
            }
            @for (i, r) in rows.iter().enumerate() {
                @let y = top + row_h * i as f64;
                @let col = colour(r.cluster);
                text x=(P(left - 10.0 - if r.rare { 38.0 } else { 0.0 })) y=(P(y + 21.0)) font-size="13" text-anchor="end" font-weight="600" { "cluster " (r.cluster) }
                @if r.rare {
                    rect x=(P(left - 44.0)) y=(P(y + 8.0)) width="34" height="16" rx="3" fill="#fde2e1" {}
                    text x=(P(left - 27.0)) y=(P(y + 20.0)) font-size="10" text-anchor="middle" fill="#b3261e" { "rare" }
                }
                @let wt = (x.at(r.train.1) - left).max(1.0);
                @let ws = (x.at(r.scored.1) - left).max(if r.scored.0 > 0 { 1.0 } else { 0.0 });
                // The training share, then the scored share (lighter) below it.
                @for (class, top, width, (n, share), what, light) in
                    [("train", y + 4.0, wt, r.train, "training rows", false), ("scored", y + 18.0, ws, r.scored, "scored events", true)]
                {
                    rect class={ "bar " (class) } data-c=(r.cluster) x=(left) y=(P(top)) width=(P(width)) height="12" fill=(col)
                        fill-opacity=[light.then_some("0.35")] stroke=[light.then_some(col)] {
                        title { "cluster " (r.cluster) ": " (count(n as i64)) " " (what) " (" (pct(share)) ")" }
                    }
                    text x=(P(left + width + 6.0)) y=(P(top + 10.0)) font-size="11" fill=(if light { "#666" } else { "#333" }) {
                        (pct(share)) " · " (count(n as i64))
                    }
                }
            }
        }
    }
}

/// A point of the projection.
pub struct Dot {
    /// Coordinates on the two axes.
    pub xy: [f64; 2],
    /// Cluster.
    pub cluster: usize,
    /// Flagged.
    pub anomaly: bool,
    /// Line in the scored file.
    pub line: u64,
}

/// The horizontal grid lines of about `n` ticks of `yr`, labelled by `fmt`
/// on the left of the plot.
fn y_grid(x: Scale, y: Scale, yr: (f64, f64), n: usize, fmt: &dyn Fn(f64) -> String) -> Markup {
    html! {
        @for t in ticks(yr.0, yr.1, n) {
            @let py = P(y.at(t));
            line x1=(P(x.p0)) x2=(P(x.p1)) y1=(py) y2=(py) stroke="#eee" {}
            text x=(P(x.p0 - 6.0)) y=(P(py.0 + 4.0)) font-size="11" text-anchor="end" fill="#666" { (fmt(t)) }
        }
    }
}

/// Frame a chart: axes, ticks, labels.
fn frame(x: Scale, y: Scale, (xr, yr): ((f64, f64), (f64, f64)), (xlabel, ylabel): (&str, &str)) -> Markup {
    html! {
        @for t in ticks(xr.0, xr.1, 10) {
            @let px = P(x.at(t));
            line x1=(px) x2=(px) y1=(P(y.p1)) y2=(P(y.p0)) stroke="#eee" {}
            text x=(px) y=(P(y.p0 + 15.0)) font-size="11" text-anchor="middle" fill="#666" { (num(t)) }
        }
        (y_grid(x, y, yr, 7, &num))
        line x1=(P(x.p0)) x2=(P(x.p1)) y1=(P(y.p0)) y2=(P(y.p0)) stroke="#999" {}
        line x1=(P(x.p0)) x2=(P(x.p0)) y1=(P(y.p0)) y2=(P(y.p1)) stroke="#999" {}
        text x=(P((x.p0 + x.p1) / 2.0)) y=(P(y.p0 + 32.0)) font-size="12" text-anchor="middle" fill="#333" { (xlabel) }
        text transform={ "translate(" (P(x.p0 - 48.0)) "," (P((y.p0 + y.p1) / 2.0)) ") rotate(-90)" } font-size="12" text-anchor="middle" fill="#333" { (ylabel) }
    }
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if hi <= lo || hi.is_nan() || lo.is_nan() {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

/// The 2-D projection: points coloured by cluster, anomalies outlined and
/// on top, centroids as labelled crosses.
pub fn scatter(dots: &[Dot], centroids: &[[f64; 2]], labels: (&str, &str)) -> Markup {
    let (w, h) = (860.0, 540.0);
    let (ml, mr, mt, mb) = (62.0, 20.0, 14.0, 46.0);
    let all = dots.iter().map(|d| d.xy).chain(centroids.iter().copied());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for [a, b] in all {
        x0 = x0.min(a);
        x1 = x1.max(a);
        y0 = y0.min(b);
        y1 = y1.max(b);
    }
    let (xr, yr) = (padded(x0, x1), padded(y0, y1));
    let x = Scale { d0: xr.0, d1: xr.1, p0: ml, p1: w - mr };
    let y = Scale { d0: yr.0, d1: yr.1, p0: h - mb, p1: mt };
    // Past 24 clusters the labels would pile up: crosses only.
    let labelled = centroids.len() <= 24;
    html! {
        svg id="pca-chart" class="chart" data-points=(dots.len()) data-centroids=(centroids.len()) viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="2-D projection" {
            (frame(x, y, (xr, yr), labels))
            g class="points" {
                @for d in dots.iter().filter(|d| !d.anomaly) {
                    circle class="pt" data-c=(d.cluster) cx=(P(x.at(d.xy[0]))) cy=(P(y.at(d.xy[1]))) r="2.4" fill=(colour(d.cluster)) fill-opacity="0.55" {}
                }
                @for d in dots.iter().filter(|d| d.anomaly) {
                    circle class="pt anomaly" data-c=(d.cluster) cx=(P(x.at(d.xy[0]))) cy=(P(y.at(d.xy[1]))) r="4" fill=(colour(d.cluster)) stroke="#111" stroke-width="1.2" {
                        title { "line " (d.line) ": cluster " (d.cluster) ", anomaly" }
                    }
                }
            }
            @for (c, p) in centroids.iter().enumerate() {
                @let (cx, cy) = (P(x.at(p[0])), P(y.at(p[1])));
                @let cross = html! { "M" (P(cx.0 - 7.0)) " " (cy) "h14M" (cx) " " (P(cy.0 - 7.0)) "v14" };
                g class="centroid" data-c=(c) {
                    path d=(cross) stroke="#fff" stroke-width="5" {}
                    path d=(cross) stroke=(colour(c)) stroke-width="2.5" {}
                    @if labelled {
                        text x=(P(cx.0 + 8.0)) y=(P(cy.0 - 8.0)) font-size="12" font-weight="700" fill="#222" stroke="#fff" stroke-width="3" paint-order="stroke" { "c" (c) }
                    }
                    title { "centroid of cluster " (c) }
                }
            }
        }
    }
}

/// Histogram of distances: normal and anomalous events stacked, counts on a
/// log scale, each cluster's threshold as a dashed line in its colour.
pub fn histogram(values: &[(f64, bool)], thresholds: &[f64], xlabel: &str) -> Markup {
    let (w, h) = (860.0, 330.0);
    let (ml, mr, mt, mb) = (62.0, 20.0, 30.0, 46.0);
    let bins = 48usize;
    let mut sorted: Vec<f64> = values.iter().map(|v| v.0).collect();
    sorted.sort_by(f64::total_cmp);
    let max_t = thresholds.iter().copied().fold(0.0, f64::max);
    let q = sorted.get(((sorted.len() as f64 - 1.0) * 0.999).round() as usize).copied().unwrap_or(1.0);
    let top = sorted.last().copied().unwrap_or(1.0);
    // The x range: past every threshold and 99.9 % of the values; what lies
    // beyond goes to the last bin (labelled "≥").
    let hi = (max_t * 1.25).max(q).max(1e-9).min(top.max(max_t * 1.25));
    let overflow = top > hi;
    let width = hi / bins as f64;
    let mut counts = vec![(0u64, 0u64); bins];
    for &(v, a) in values {
        let b = ((v / width).floor() as usize).min(bins - 1);
        if a {
            counts[b].1 += 1;
        } else {
            counts[b].0 += 1;
        }
    }
    let max_c = counts.iter().map(|c| c.0 + c.1).max().unwrap_or(1).max(1) as f64;
    let ly = |c: f64| (1.0 + c).log10();
    let x = Scale { d0: 0.0, d1: hi, p0: ml, p1: w - mr };
    let y = Scale { d0: 0.0, d1: ly(max_c), p0: h - mb, p1: mt };
    // Log ticks on y: 1, 10, 100, …
    let y_ticks = std::iter::successors(Some(1.0), |p| Some(p * 10.0)).take_while(|p| *p <= max_c * 1.0001);
    html! {
        svg id="score-chart" class="chart" data-bins=(bins) data-thresholds=(thresholds.len()) viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="Distribution of distances" {
            @for t in ticks(0.0, hi, 8) {
                @let px = P(x.at(t));
                line x1=(px) x2=(px) y1=(mt) y2=(P(h - mb)) stroke="#eee" {}
                text x=(px) y=(P(h - mb + 15.0)) font-size="11" text-anchor="middle" fill="#666" { (num(t)) }
            }
            @for p in y_ticks {
                @let py = P(y.at(ly(p)));
                line x1=(ml) x2=(P(w - mr)) y1=(py) y2=(py) stroke="#eee" {}
                text x=(P(ml - 6.0)) y=(P(py.0 + 4.0)) font-size="11" text-anchor="end" fill="#666" { (count(p as i64)) }
            }
            line x1=(ml) x2=(P(w - mr)) y1=(P(h - mb)) y2=(P(h - mb)) stroke="#999" {}
            text x=(P((ml + w - mr) / 2.0)) y=(P(h - 8.0)) font-size="12" text-anchor="middle" fill="#333" { (xlabel) }
            text transform={ "translate(16," (P((mt + h - mb) / 2.0)) ") rotate(-90)" } font-size="12" text-anchor="middle" fill="#333" { "events (log scale)" }
            @for (b, &(n, a)) in counts.iter().enumerate().filter(|(_, c)| c.0 + c.1 > 0) {
                @let (bx0, bx1) = (x.at(b as f64 * width), x.at((b + 1) as f64 * width));
                @let bw = P((bx1 - bx0 - 1.0).max(0.5));
                @let tot = (n + a) as f64;
                // Stack in the log scale: the whole bar is log(1 + n + a);
                // the anomalous part its share of it.
                @let (y_top, y_base) = (y.at(ly(tot)), y.at(0.0));
                @let full = y_base - y_top;
                @let a_h = full * a as f64 / tot;
                @let lo = b as f64 * width;
                g class="bin" {
                    rect x=(P(bx0)) y=(P(y_top + a_h)) width=(bw) height=(P(full - a_h)) fill="#8fa8c8" {}
                    rect x=(P(bx0)) y=(P(y_top)) width=(bw) height=(P(a_h)) fill="#d1495b" {}
                    title {
                        @if overflow && b == bins - 1 { "≥ " (num(lo)) } @else { (num(lo)) "–" (num(lo + width)) }
                        ": " (count(tot as i64)) " events, " (count(a as i64)) " anomalous"
                    }
                }
            }
            @if overflow {
                text x=(P(w - mr)) y=(P(mt + 28.0)) font-size="11" text-anchor="end" fill="#666" {
                    "the last bar holds everything ≥ " (num((bins - 1) as f64 * width)) " (up to " (num(top)) ")"
                }
            }
            @for (c, &t) in thresholds.iter().enumerate() {
                @let px = P(x.at(t.min(hi)));
                // Labels staggered over four heights so neighbours do not collide.
                @let ty = P(mt - 4.0 + 11.0 * (c % 4) as f64);
                g class="threshold" data-c=(c) {
                    line x1=(px) x2=(px) y1=(P(ty.0 - 8.0)) y2=(P(h - mb)) stroke=(colour(c)) stroke-width="1.6" stroke-dasharray="5 3" {}
                    text x=(P(px.0 + 3.0)) y=(ty) font-size="10" fill=(colour(c)) font-weight="700" { "c" (c) }
                    title { "cluster " (c) ": threshold " (num(t)) }
                }
            }
            g font-size="11" {
                rect x=(P(w - mr - 170.0)) y=(P(mt + 2.0)) width="12" height="10" fill="#8fa8c8" {}
                text x=(P(w - mr - 154.0)) y=(P(mt + 11.0)) { "normal" }
                rect x=(P(w - mr - 95.0)) y=(P(mt + 2.0)) width="12" height="10" fill="#d1495b" {}
                text x=(P(w - mr - 79.0)) y=(P(mt + 11.0)) { "anomalous" }
            }
        }
    }
}

/// One k of the sweep, for [`sweep_charts`].
pub struct KPoint {
    /// k.
    pub k: u32,
    /// Inertia or cost.
    pub inertia: f64,
    /// Silhouette, if computed.
    pub silhouette: Option<f64>,
}

/// Two line charts side by side: the inertia (cost) per k with the elbow
/// marked, and the silhouette per k with the highest marked; the chosen k
/// as a dashed line in both.
pub fn sweep_charts(points: &[KPoint], elbow: Option<u32>, chosen: u32, objective: &str) -> Markup {
    let (w, h) = (860.0, 300.0);
    let best_sil = points.iter().filter_map(|p| p.silhouette.map(|s| (p.k, s))).fold(
        None,
        |b: Option<(u32, f64)>, (k, s)| match b {
            Some((_, bs)) if bs >= s => b,
            _ => Some((k, s)),
        },
    );
    html! {
        svg id="sweep-chart" class="chart" data-ks=(points.len()) data-elbow=(elbow.map_or(String::new(), |e| e.to_string())) data-chosen=(chosen) viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" aria-label="Inertia and silhouette per k" {
            (sweep_panel(points, 0, objective, elbow, chosen, (w, h)))
            (sweep_panel(points, 1, objective, best_sil.map(|b| b.0), chosen, (w, h)))
        }
    }
}

/// One panel of [`sweep_charts`]: 0 the objective, 1 the silhouette;
/// `marked` the k drawn larger and labelled (the elbow, the best silhouette).
fn sweep_panel(points: &[KPoint], panel_i: usize, objective: &str, marked: Option<u32>, chosen: u32, (w, h): (f64, f64)) -> Markup {
    let panel = (w - 40.0) / 2.0;
    let (ml, mb, mt) = (70.0, 46.0, 40.0);
    let k0 = points.first().map_or(0, |p| p.k) as f64;
    let k1 = points.last().map_or(1, |p| p.k) as f64;
    let off = panel_i as f64 * (panel + 40.0);
    let what = if panel_i == 0 { objective } else { "silhouette" };
    let vals: Vec<(u32, f64)> = points
        .iter()
        .filter_map(|p| if panel_i == 0 { Some((p.k, p.inertia)) } else { p.silhouette.map(|s| (p.k, s)) })
        .collect();
    let x = Scale { d0: k0 - 0.3, d1: k1 + 0.3, p0: off + ml, p1: off + panel - 10.0 };
    let title = html! { text x=(P(off + ml)) y="16" font-size="13" font-weight="700" fill="#222" { (what) " per k" } };
    if vals.is_empty() {
        return html! {
            (title)
            text x=(P(off + panel / 2.0 + 20.0)) y=(P(h / 2.0)) font-size="12" fill="#666" text-anchor="middle" { "not computed for this kind of model" }
        };
    }
    let lo = vals.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let hi = vals.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    let yr = padded(lo, hi);
    let y = Scale { d0: yr.0, d1: yr.1, p0: h - mb, p1: mt };
    // Integer ticks on k.
    let step = ((k1 - k0) / 8.0).ceil().max(1.0);
    let k_ticks = std::iter::successors(Some(k0), |k| Some(k + step)).take_while(|k| *k <= k1 + 1e-9);
    let cx = P(x.at(f64::from(chosen)));
    let pts: Vec<String> = vals.iter().map(|(k, v)| format!("{:.1},{:.1}", x.at(f64::from(*k)), y.at(*v))).collect();
    let line_col = if panel_i == 0 { "#4e79a7" } else { "#b07aa1" };
    html! {
        (title)
        @for kt in k_ticks {
            @let px = P(x.at(kt));
            line x1=(px) x2=(px) y1=(mt) y2=(P(h - mb)) stroke="#f0f0f0" {}
            text x=(px) y=(P(h - mb + 15.0)) font-size="11" text-anchor="middle" fill="#666" { (kt) }
        }
        (y_grid(x, y, yr, 5, &num))
        line x1=(P(x.p0)) x2=(P(x.p1)) y1=(P(h - mb)) y2=(P(h - mb)) stroke="#999" {}
        text x=(P((x.p0 + x.p1) / 2.0)) y=(P(h - 10.0)) font-size="12" text-anchor="middle" fill="#333" { "n_clusters (k)" }
        line class="chosen-k" x1=(cx) x2=(cx) y1=(mt) y2=(P(h - mb)) stroke="#2a7d2e" stroke-dasharray="4 3" {}
        polyline points=(pts.join(" ")) fill="none" stroke=(line_col) stroke-width="2" {}
        @for &(k, v) in &vals {
            @let (px, py) = (x.at(f64::from(k)), y.at(v));
            @let mark = marked == Some(k);
            @let class = match (panel_i, mark) {
                (0, false) => "k-point",
                (0, true) => "k-point elbow",
                (_, false) => "s-point",
                (_, true) => "s-point best",
            };
            circle class=(class) data-k=(k) cx=(P(px)) cy=(P(py)) r=(if mark { 6.5 } else { 4.0 }) fill=(if mark { "#fff" } else { line_col }) stroke=(line_col) stroke-width="2" {
                title { "k = " (k) ": " (what) " " (num(v)) }
            }
            @if mark {
                // The elbow's label below and left of it (under a falling
                // curve there is room); the best silhouette's above it.
                @let (label, lx, ly, anchor) = if panel_i == 0 {
                    ("elbow", px - 9.0, py + 20.0, "end")
                } else {
                    ("best", px + 9.0, py - 9.0, "start")
                };
                text x=(P(lx)) y=(P(ly)) text-anchor=(anchor) font-size="12" font-weight="700" fill="#222" stroke="#fff" stroke-width="3" paint-order="stroke" { (label) " k=" (k) }
            }
        }
        text x=(P(cx.0 + 4.0)) y=(P(mt + 10.0)) font-size="11" fill="#2a7d2e" { "chosen k=" (chosen) }
    }
}
