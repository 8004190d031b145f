//! `logsieve report` and `logsieve train --n-clusters A..B`: the PCA on
//! known matrices, the elbow on known curves, the page (self-contained,
//! every section, the counts it states), and clear errors for bad inputs.
//! The browser half is scripts/test-report.sh.

mod common;

use common::{logsieve, logsieve_ok as ok};

use std::path::PathBuf;

use logsieve::commands::report::{self, Limits, Pca};
use logsieve::commands::train::{NClusters, parse_n_clusters};
use logsieve_plugin::{Options, Scorer};
use logsieve_train::fit::elbow;
use ndarray::{Array2, array};

/// Run logsieve, expect exit status 2, return stderr.
fn fails(args: &[&str]) -> String {
    let out = logsieve(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "logsieve {args:?} should fail with status 2; stderr:\n{err}");
    err
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

// ---------------------------------------------------------------- PCA

#[test]
fn pca_of_a_known_matrix() {
    // Centred rows with covariance diag(8/3, 2/3, 0) (n - 1 = 3), rotated
    // 45° in the x-y plane: the axes are (1, 1, 0)/√2 and (1, -1, 0)/√2
    // (signs: the largest coordinate positive, the first on ties), the
    // variances 8/3 and 2/3, 80 % and 20 % of the total.
    let r = std::f64::consts::FRAC_1_SQRT_2;
    let base = [[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]];
    let mut x = Array2::<f64>::zeros((4, 3));
    for (i, [a, b]) in base.iter().enumerate() {
        // a along (1,1)/√2, b along (1,-1)/√2, shifted by (10, 20, 30).
        x[[i, 0]] = 10.0 + r * (a + b);
        x[[i, 1]] = 20.0 + r * (a - b);
        x[[i, 2]] = 30.0;
    }
    let p = Pca::fit(x.view()).unwrap();
    assert_eq!(p.mean, vec![10.0, 20.0, 30.0]);
    for (got, want) in p.components[0].iter().zip([r, r, 0.0]) {
        assert!(close(*got, want, 1e-12), "PC1 {:?}", p.components[0]);
    }
    for (got, want) in p.components[1].iter().zip([r, -r, 0.0]) {
        assert!(close(*got, want, 1e-12), "PC2 {:?}", p.components[1]);
    }
    assert!(close(p.explained_variance[0], 8.0 / 3.0, 1e-12), "{:?}", p.explained_variance);
    assert!(close(p.explained_variance[1], 2.0 / 3.0, 1e-12), "{:?}", p.explained_variance);
    assert!(close(p.explained_variance_ratio[0], 0.8, 1e-12) && close(p.explained_variance_ratio[1], 0.2, 1e-12));
    // Each row projects back to its (a, b).
    for (i, [a, b]) in base.iter().enumerate() {
        let [u, v] = p.transform(x.row(i).as_slice().unwrap());
        assert!(close(u, *a, 1e-12) && close(v, *b, 1e-12), "row {i}: ({u}, {v})");
    }
    assert_eq!(p.n_iter, 1, "three columns fit in one block: exact in one pass");
}

#[test]
fn pca_of_wide_data_iterates_to_the_same_axes() {
    // 20 columns (more than one block). Columns are Walsh sequences (±1
    // patterns, exactly orthogonal and of mean 0 over 512 rows), so the
    // covariance is diagonal: the axes are columns 3 and 11 (scaled 5 and
    // 2), with weak ones (0.05) elsewhere.
    let n = 512;
    let d = 20;
    let walsh = |i: usize, order: u32| if (i >> order) & 1 == 0 { 1.0 } else { -1.0 };
    let mut x = Array2::<f64>::zeros((n, d));
    for i in 0..n {
        x[[i, 3]] = 5.0 * walsh(i, 0);
        x[[i, 11]] = 2.0 * walsh(i, 1);
        for (o, j) in [0, 5, 8, 17].into_iter().enumerate() {
            x[[i, j]] = 0.05 * walsh(i, 2 + o as u32);
        }
    }
    let var = |j: usize| {
        let c = x.column(j);
        let m = c.mean().unwrap();
        c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64
    };
    let p = Pca::fit(x.view()).unwrap();
    assert!(p.n_iter > 1, "{} passes", p.n_iter);
    assert!(close(p.components[0][3], 1.0, 1e-9), "PC1 {:?}", p.components[0]);
    assert!(close(p.components[1][11], 1.0, 1e-9), "PC2 {:?}", p.components[1]);
    assert!(close(p.explained_variance[0], var(3), 1e-9 * var(3)), "{:?} vs {}", p.explained_variance, var(3));
    assert!(close(p.explained_variance[1], var(11), 1e-9 * var(11)), "{:?} vs {}", p.explained_variance, var(11));
    let total: f64 = (0..d).map(var).sum();
    assert!(close(p.explained_variance_ratio[0], var(3) / total, 1e-12));
    // Degenerate inputs: one row, no column, identical rows.
    assert!(Pca::fit(Array2::<f64>::zeros((1, 3)).view()).is_none());
    assert!(Pca::fit(Array2::<f64>::zeros((3, 0)).view()).is_none());
    let same = Pca::fit(array![[1.0, 2.0], [1.0, 2.0]].view()).unwrap();
    assert_eq!(same.explained_variance_ratio, [0.0, 0.0]);
}

// ---------------------------------------------------------------- elbow and --n-clusters

#[test]
fn ticks_are_few_and_finite_even_for_a_range_of_a_few_ulps() {
    use logsieve::commands::report::charts::ticks;
    assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    assert_eq!(ticks(-1.0, 1.0, 4), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    // Values a few ulps apart (a sweep whose inertias are all but equal):
    // once this looped for ever, adding a step below the ulp.
    let (lo, hi) = (1e20, 1.0000000000000002e20);
    let t = ticks(lo, hi, 5);
    assert!(!t.is_empty() && t.len() <= 22, "{t:?}");
    assert!(t.iter().all(|v| v.is_finite() && *v >= lo && *v <= hi), "{t:?}");
    for (lo, hi) in [(1.0, 1.0 + f64::EPSILON), (1e300, 1.0000000000000002e300), (-5e-324, 5e-324)] {
        let t = ticks(lo, hi, 6);
        assert!(!t.is_empty() && t.len() <= 26, "{lo}..{hi}: {t:?}");
    }
}

/// A curve with no elbow (a straight line) is stored as none, and the page
/// says so instead of naming one.
#[test]
fn a_straight_curve_has_no_elbow_on_the_page() {
    assert_eq!(elbow(&[(2.0, 30.0), (3.0, 20.0), (4.0, 10.0)]), None);
    let f = train("report-no-elbow", Some("2..5"));
    let mut m = logsieve_artifact::decode(&f.bytes).unwrap().model;
    let sweep = m.fitted.as_mut().unwrap().training.sweep.as_mut().unwrap();
    assert!(sweep.elbow.is_some());
    sweep.elbow = None;
    let bytes = logsieve_artifact::encode(&m).unwrap();
    let (html, _) = build(&bytes, score(&bytes, &blobs(60, 2), false), Limits::default()).unwrap();
    assert!(html.contains("none (the curve is a straight line)"), "the page names no elbow");
    assert_eq!(attr(&html, "sweep-chart", "data-elbow"), "", "no elbow is marked");
    assert!(!html.contains("elbow k="), "no elbow label on the chart");
}

#[test]
fn elbow_on_known_curves() {
    let curve = |ys: &[f64]| -> Vec<(f64, f64)> { ys.iter().enumerate().map(|(i, y)| (i as f64 + 2.0, *y)).collect() };
    // k = 2..7: the drop stops at k = 4. Scaled, k = 4 is at (0.4, 0.077),
    // the farthest from the line x + y = 1 (0.523 / √2 against 0.377 / √2
    // for k = 3 and 0.362 / √2 for k = 5).
    assert_eq!(elbow(&curve(&[60.0, 30.0, 12.0, 10.0, 9.0, 8.0])), Some(2));
    // A sharp knee at the second point.
    assert_eq!(elbow(&curve(&[100.0, 10.0, 9.0, 8.0, 7.0])), Some(1));
    // A straight line has no elbow; nor do two points; nor a flat curve.
    assert_eq!(elbow(&curve(&[5.0, 4.0, 3.0, 2.0])), None);
    assert_eq!(elbow(&curve(&[5.0, 4.0])), None);
    assert_eq!(elbow(&curve(&[3.0, 3.0, 3.0])), None);
    // Scale does not matter (both axes are scaled to [0, 1]).
    assert_eq!(elbow(&curve(&[6e9, 3e9, 1.2e9, 1e9, 0.9e9, 0.8e9])), Some(2));
}

#[test]
fn n_clusters_takes_one_k_or_a_range() {
    assert_eq!(parse_n_clusters("7"), Ok(NClusters::One(7)));
    assert_eq!(parse_n_clusters("2..12"), Ok(NClusters::Range(2, 12)));
    assert_eq!(parse_n_clusters("3..=5"), Ok(NClusters::Range(3, 5)));
    assert!(parse_n_clusters("1..5").unwrap_err().contains("k = 2"));
    assert!(parse_n_clusters("3..4").unwrap_err().contains("at least three values"));
    assert!(parse_n_clusters("a..5").unwrap_err().contains("not a whole number"));
    assert!(parse_n_clusters("seven").is_err());
}

// ---------------------------------------------------------------- data and models

const SPEC: &str = r#"
[model]
kind = "kmeans"
n_clusters = 3
n_init = 4
random_state = 0

[scoring]
threshold_quantile = 0.99

[[features]]
field = "x"
type = "numeric"

[[features]]
field = "y"
type = "numeric"

[[features]]
field = "proto"
type = "categorical"
"#;

/// Three blobs and a few far points, as NDJSON: deterministic.
fn blobs(n: usize, seed: u64) -> Vec<String> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let centres = [(0.0, 0.0, "tcp"), (10.0, 2.0, "udp"), (4.0, 9.0, "tcp")];
    (0..n)
        .map(|i| {
            let (cx, cy, p) = centres[i % 3];
            let far = if i % 97 == 50 { 25.0 } else { 0.0 };
            format!(
                r#"{{"ts":{},"x":{},"y":{},"proto":"{p}","host":"h{}"}}"#,
                1000 + i,
                cx + next() + far,
                cy + next(),
                i % 7
            )
        })
        .collect()
}

struct Fixture {
    dir: PathBuf,
    model: PathBuf,
    bytes: Vec<u8>,
}

/// Train the blob model through the CLI: with a sweep when `range` is set.
fn train(name: &str, range: Option<&str>) -> Fixture {
    let dir = common::tempdir(name);
    let data = dir.join("train.ndjson");
    std::fs::write(&data, blobs(600, 1).join("\n") + "\n").unwrap();
    let spec = dir.join("model.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let model = dir.join("model.msgpack");
    let mut args = vec!["train", "--spec", spec.to_str().unwrap(), "--input", data.to_str().unwrap()];
    args.extend(["--out", model.to_str().unwrap()]);
    if let Some(r) = range {
        args.extend(["--n-clusters", r]);
    }
    let out = ok(&args);
    if range.is_some() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("elbow: k = ") && err.contains("silhouette"), "{err}");
    }
    let bytes = std::fs::read(&model).unwrap();
    Fixture { dir, model, bytes }
}

/// Score events natively, as a pipeline's file sink writes them.
fn score(bytes: &[u8], events: &[String], emit_vector: bool) -> Vec<String> {
    let mut s = Scorer::new(bytes, Options { top_features: 3, emit_vector }).unwrap();
    events.iter().map(|e| s.score(e).unwrap()).collect()
}

fn numbered(lines: Vec<String>) -> impl Iterator<Item = report::Line> {
    lines.into_iter().enumerate().map(|(i, l)| (i as u64 + 1, Ok(l)))
}

fn build(bytes: &[u8], lines: Vec<String>, limits: Limits) -> anyhow::Result<(String, report::Outcome)> {
    report::build(bytes, numbered(lines), limits, ("model.msgpack", "scored.ndjson"))
}

fn attr(html: &str, id: &str, name: &str) -> String {
    let at = html.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no #{id}"));
    let tag = &html[at..at + html[at..].find('>').unwrap()];
    let key = format!(r#"{name}=""#);
    let v = &tag[tag.find(&key).unwrap_or_else(|| panic!("#{id} has no {name}")) + key.len()..];
    v[..v.find('"').unwrap()].to_string()
}

// ---------------------------------------------------------------- the page

#[test]
fn the_page_is_self_contained_and_has_every_section() {
    let f = train("report-page", Some("2..5"));
    let events = blobs(900, 2);
    let (html, out) = build(&f.bytes, score(&f.bytes, &events, false), Limits::default()).unwrap();

    assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>"));
    for bad in ["http://", "https://", "<link", "src=", "@import", "url("] {
        assert!(!html.contains(bad), "the page contains {bad:?}: it must load nothing");
    }
    for id in [
        "clusters",
        "sizes-chart",
        "cluster-table",
        "projection",
        "pca-chart",
        "pca-drawn",
        "scores",
        "score-chart",
        "sweep",
        "sweep-chart",
        "sweep-table",
        "anomalies",
        "anomalies-table",
        "model",
        "model-summary",
        "features-table",
    ] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "no #{id}");
    }
    let d = logsieve_artifact::decode(&f.bytes).unwrap();
    let fitted = d.model.fitted.as_ref().unwrap();
    let k = fitted.clusters.len();
    let sweep = fitted.training.sweep.as_ref().expect("trained with a range: the model keeps the sweep");
    assert_eq!(sweep.points.iter().map(|p| p.n_clusters).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert!(sweep.points.iter().all(|p| p.silhouette.is_some_and(|s| (-1.0..=1.0).contains(&s))));
    assert_eq!((sweep.chosen as usize, sweep.rule.as_str()), (k, "elbow"));
    assert_eq!(sweep.silhouette_rows, 600);
    // Three blobs: the elbow is at 3, and so is the best silhouette.
    assert_eq!(sweep.elbow, Some(3), "{sweep:?}");

    // The counts the page states are the marks it draws.
    assert_eq!(attr(&html, "sizes-chart", "data-bars"), k.to_string());
    assert_eq!(html.matches(r#"class="bar train""#).count(), k);
    assert_eq!(out.events, 900);
    assert_eq!(out.points, 900, "under the cap every event is drawn");
    assert_eq!(attr(&html, "pca-chart", "data-points"), "900");
    assert_eq!(html.matches(r#"<circle class="pt"#).count(), 900);
    assert!(html.contains(r#"<b id="pca-drawn">900</b>"#));
    assert_eq!(html.matches(r#"class="centroid""#).count(), k);
    assert_eq!(html.matches(r#"class="k-point"#).count(), 4);
    assert_eq!(html.matches(r#"class="k-point elbow" data-k="3""#).count(), 1);
    assert_eq!(attr(&html, "sweep-chart", "data-elbow"), "3");
    assert_eq!(html.matches(r#"<g class="threshold""#).count(), k);
    // The far points are the anomalies; the table lists them, highest first.
    assert!(out.anomalies >= 9, "{out:?}");
    assert_eq!(out.top, 50.min(out.anomalies as usize));
    assert_eq!(html.matches(r#"<tr class="anomaly-row">"#).count(), out.top);
    assert!(html.contains("far_from_centroid") && html.contains("top features"));
    assert_eq!((out.malformed, out.other_models, out.no_projection.clone()), (0, 0, None));
    // The model summary.
    assert!(html.contains(&d.id) && html.contains("zscore") && html.contains("<b>kmeans</b>"));
}

#[test]
fn vectors_from_the_file_and_from_scoring_again_give_the_same_picture() {
    let f = train("report-vectors", None);
    let events = blobs(300, 3);
    let (a, oa) = build(&f.bytes, score(&f.bytes, &events, true), Limits::default()).unwrap();
    let (b, ob) = build(&f.bytes, score(&f.bytes, &events, false), Limits::default()).unwrap();
    let points = |h: &str| {
        let at = h.find(r#"<g class="points">"#).unwrap();
        h[at..at + h[at..].find("</g>").unwrap()].to_string()
    };
    assert_eq!(oa.points, ob.points);
    assert_eq!(points(&a), points(&b), "the two sources of the scaled vectors differ");
    assert!(a.contains("taken from the file") && b.contains("computed again by the model's own scorer"));
    // Without a sweep the page says how to get one.
    assert!(a.contains(r#"id="no-sweep""#) && !a.contains(r#"id="sweep-chart""#));
}

#[test]
fn points_are_capped_deterministically_and_keep_every_anomaly() {
    let f = train("report-cap", None);
    let events = blobs(2000, 4);
    let scored = score(&f.bytes, &events, false);
    let anomalies = scored.iter().filter(|l| l.contains(r#""anomaly":true"#)).count();
    assert!(anomalies > 0);
    let limits = Limits { max_points: 100, ..Limits::default() };
    let (h1, o1) = build(&f.bytes, scored.clone(), limits).unwrap();
    let (h2, _) = build(&f.bytes, scored, limits).unwrap();
    assert_eq!(h1, h2, "the same input gives the same page");
    assert_eq!(o1.points, 100);
    assert_eq!(h1.matches(r#"<circle class="pt anomaly""#).count(), anomalies);
    assert!(h1.contains(r#"<b id="pca-drawn">100</b> points of 2,000 events"#));
    assert!(h1.contains("at most 100 points are drawn"));
}

#[test]
fn malformed_lines_are_counted_and_listed() {
    let f = train("report-malformed", None);
    let mut lines = score(&f.bytes, &blobs(50, 5), false);
    lines.insert(3, "{not json".into());
    lines.insert(7, "[1, 2]".into());
    lines.insert(9, r#"{"x": 1}"#.into());
    lines.insert(11, r#"{"x": 1, "logsieve": 3}"#.into());
    lines.insert(12, r#"{"x": 1, "logsieve": {"cluster": 0, "model": "x"}}"#.into());
    let id = logsieve_artifact::decode(&f.bytes).unwrap().id;
    lines.insert(
        13,
        format!(
            r#"{{"x": 1, "logsieve": {{"cluster": 99, "distance": 1, "score": 1, "anomaly": false, "model": "{id}"}}}}"#
        ),
    );
    let mut items: Vec<report::Line> = numbered(lines).collect();
    items.push((99, Err(("invalid_utf8".into(), "byte 0xff at column 3".into()))));
    let (html, out) = report::build(&f.bytes, items.into_iter(), Limits::default(), ("m", "s")).unwrap();
    assert_eq!(out.events, 50);
    // "x" is another model's id; the rest are malformed.
    assert_eq!((out.malformed, out.other_models), (6, 1), "{out:?}");
    for reason in ["invalid_json", "not_an_object", "not_scored", "bad_logsieve", "invalid_utf8"] {
        assert!(html.contains(&format!("<code>{reason}</code>")), "{reason} is not listed");
    }
    assert!(html.contains(r#"id="malformed""#) && html.contains(r#"id="kpi-malformed">6<"#));
    // bad_logsieve: the logsieve key that is a number, and cluster 99.
    assert!(html.contains("<td class=\"n\">2</td><td class=\"n\">12</td>"), "bad_logsieve: 2 lines, first at 12");
    assert!(html.contains(r#"id="other-models""#));
}

#[test]
fn a_file_scored_by_another_model_is_refused_or_flagged() {
    let a = train("report-model-a", None);
    let dir = common::tempdir("report-model-b");
    let data = dir.join("b.ndjson");
    std::fs::write(&data, blobs(300, 9).join("\n")).unwrap();
    let spec = dir.join("model.toml");
    std::fs::write(&spec, SPEC.replace("n_clusters = 3", "n_clusters = 4")).unwrap();
    let b = common::train_files(&spec, &[data]);
    let events = blobs(100, 6);
    // Entirely another model's: refused, naming both.
    let err = build(&a.bytes, score(&b, &events, false), Limits::default()).unwrap_err().to_string();
    let (ida, idb) = (logsieve_artifact::decode(&a.bytes).unwrap().id, logsieve_artifact::decode(&b).unwrap().id);
    assert!(err.contains("another model") && err.contains(&ida) && err.contains(&idb), "{err}");
    // Mixed (a reload): this model's events are reported, the others counted.
    let mut mixed = score(&a.bytes, &events, false);
    mixed.extend(score(&b, &events[..10], false));
    let (html, out) = build(&a.bytes, mixed, Limits::default()).unwrap();
    assert_eq!((out.events, out.other_models), (100, 10));
    assert!(html.contains(&idb) && html.contains("scored by another model"));
}

#[test]
fn a_kmodes_model_gets_a_report_without_a_projection() {
    let ex = common::repo().join("pipeline-examples/dce-rpc-kmodes");
    let inputs: Vec<PathBuf> = ["apt29-day1-NASHUA_dce_rpc.log", "apt29-day2-NEWYORK_dce_rpc.log"]
        .iter()
        .map(|f| ex.join("sample").join(f))
        .collect();
    let bytes = common::train_files(&ex.join("model.toml"), &inputs);
    let events: Vec<String> =
        logsieve_readers::Reader::open(inputs, logsieve_readers::Format::Auto).filter_map(|i| i.result.ok()).collect();
    let mut s = Scorer::new(&bytes, Options { top_features: 3, emit_vector: false }).unwrap();
    let scored: Vec<String> = events.iter().filter_map(|e| s.score(e).ok()).collect();
    assert!(scored.len() > 100);
    let (html, out) = build(&bytes, scored, Limits::default()).unwrap();
    assert_eq!(out.points, 0);
    assert!(out.no_projection.as_deref().is_some_and(|w| w.contains("k-modes")), "{out:?}");
    assert!(html.contains(r#"id="no-projection""#) && !html.contains(r#"id="pca-chart""#));
    // The rest is there, with the k-modes explanations.
    for id in ["sizes-chart", "score-chart", "anomalies-table", "model-summary"] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "no #{id}");
    }
    assert!(html.contains("mode (then numeric centre)"));
    if out.anomalies > 0 {
        assert!(html.contains("differs from the mode"), "no mismatches shown");
    }
}

// ---------------------------------------------------------------- the command

#[test]
fn the_command_writes_the_page_and_refuses_bad_inputs() {
    let f = train("report-cli", Some("2..4"));
    let scored = f.dir.join("scored.ndjson");
    std::fs::write(&scored, score(&f.bytes, &blobs(200, 7), false).join("\n") + "\n").unwrap();
    let html = f.dir.join("out/report.html");
    let (m, s, h) = (f.model.to_str().unwrap(), scored.to_str().unwrap(), html.to_str().unwrap());
    let out = ok(&["report", "--model", m, "--scored", s, "-o", h]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("200 events"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches(r#"class="k-point"#).count(), 3);

    let missing = f.dir.join("nope.msgpack");
    let err = fails(&["report", "--model", missing.to_str().unwrap(), "--scored", s, "-o", h]);
    assert!(err.contains("reading the model") && err.contains("nope.msgpack"), "{err}");
    let err = fails(&["report", "--model", m, "--scored", f.dir.join("nope.ndjson").to_str().unwrap(), "-o", h]);
    assert!(err.contains("reading the scored events"), "{err}");
    // Not a model: the artifact's own diagnosis.
    let err = fails(&["report", "--model", s, "--scored", s, "-o", h]);
    assert!(err.contains("not a logsieve model"), "{err}");
    let cut = f.dir.join("cut.msgpack");
    std::fs::write(&cut, &f.bytes[..f.bytes.len() / 2]).unwrap();
    let err = fails(&["report", "--model", cut.to_str().unwrap(), "--scored", s, "-o", h]);
    assert!(err.contains("truncated"), "{err}");
    // Nothing usable in the scored file: the counts say why.
    let junk = f.dir.join("junk.ndjson");
    std::fs::write(&junk, "{oops\n[1]\n").unwrap();
    let err = fails(&["report", "--model", m, "--scored", junk.to_str().unwrap(), "-o", h]);
    assert!(err.contains("no scored events") && err.contains("invalid_json") && err.contains("not_an_object"), "{err}");
    // --pick: a k of the range, or an error.
    let spec = f.dir.join("model.toml");
    let data = f.dir.join("train.ndjson");
    let given = f.dir.join("given.msgpack");
    let (sp, da, gi) = (spec.to_str().unwrap(), data.to_str().unwrap(), given.to_str().unwrap());
    let out = ok(&["train", "--spec", sp, "--input", da, "--out", gi, "--n-clusters", "2..4", "--pick", "4"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("n_clusters = 4: --pick 4"));
    let sweep = logsieve_artifact::decode(&std::fs::read(&given).unwrap()).unwrap().model.fitted.unwrap();
    assert_eq!((sweep.clusters.len(), sweep.training.sweep.unwrap().rule.as_str()), (4, "given"));
    let err = fails(&["train", "--spec", sp, "--input", da, "--out", gi, "--n-clusters", "2..4", "--pick", "9"]);
    assert!(err.contains("outside"), "{err}");
    let err = fails(&["train", "--spec", sp, "--input", da, "--out", gi, "--pick", "elbow"]);
    assert!(err.contains("--n-clusters A..B"), "{err}");
}
