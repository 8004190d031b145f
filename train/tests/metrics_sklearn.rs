//! `logsieve_train::metrics` against scikit-learn: the cases
//! `tests/fixtures/evaluate/make_metrics.py` wrote into `metrics.json` with
//! scikit-learn's `roc_auc_score` and `average_precision_score` (ties
//! within and across classes, all tied, perfect, inverted, a single
//! positive or negative, only one class, `-0.0` against `0.0`), precision
//! at k by a stable sort, flag rates, and numpy sums (pairwise summation).

use logsieve_train::metrics::{average_precision, pairwise_sum, precision_at_k, rates, roc_auc};
use serde_json::Value;

fn fixture() -> Value {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/evaluate/metrics.json");
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {p}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn close(name: &str, what: &str, got: Option<f64>, want: &Value) {
    match (got, want.as_f64()) {
        (None, None) => {}
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-12, "{name}: {what} {g:?}, scikit-learn {w:?}"),
        (g, w) => panic!("{name}: {what} {g:?}, scikit-learn {w:?}"),
    }
}

#[test]
fn auc_and_average_precision_are_scikit_learns() {
    let f = fixture();
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let mut exact = 0;
    let mut compared = 0;
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let s: Vec<f64> = c["scores"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let y: Vec<bool> = c["labels"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() == 1).collect();
        let (auc, ap) = (roc_auc(&s, &y), average_precision(&s, &y));
        close(name, "roc_auc", auc, &c["roc_auc"]);
        close(name, "average_precision", ap, &c["average_precision"]);
        for (got, want) in [(auc, &c["roc_auc"]), (ap, &c["average_precision"])] {
            if let (Some(g), Some(w)) = (got, want.as_f64()) {
                compared += 1;
                exact += usize::from(g == w);
            }
        }
        for (k, want) in c["precision_at"].as_object().unwrap() {
            let k: usize = k.parse().unwrap();
            let got = precision_at_k(&s, &y, k).map(|p| p.precision);
            close(name, &format!("precision at {k}"), got, want);
        }
        if let Some(flags) = c.get("flags") {
            let flags: Vec<bool> = flags.as_array().unwrap().iter().map(|v| v.as_bool().unwrap()).collect();
            let r = rates(&flags, &y);
            close(name, "tpr", r.tpr(), &c["tpr"]);
            close(name, "fpr", r.fpr(), &c["fpr"]);
        }
    }
    // The sums are numpy's, in numpy's order: (almost) every value is
    // scikit-learn's to the bit.
    eprintln!("{exact} of {compared} values equal to the bit");
    assert!(exact * 10 >= compared * 9, "only {exact} of {compared} values are scikit-learn's to the bit");
}

#[test]
fn sums_are_numpys_to_the_bit() {
    for s in fixture()["sums"].as_array().unwrap() {
        let v: Vec<f64> = s["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        let want = s["sum"].as_f64().unwrap();
        assert_eq!(pairwise_sum(&v).to_bits(), want.to_bits(), "np.sum of {} values: {want}", v.len());
    }
}
