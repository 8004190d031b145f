//! Checks of the training rows against the spec that catch silent
//! mistakes before a model is fitted:
//!
//! - [`absent_features`]: a feature whose field is absent (or null) in every
//!   training row — a typo (`id_resp_p` for `id.resp_p`), or a field of
//!   another log type. Training on it would fit a constant column and score
//!   nothing by it; `logsieve train` refuses, naming the field and the
//!   nearest names that do occur.
//! - [`wide_categoricals`]: a categorical feature with very many distinct
//!   values in training (Zeek's `history`, an address): one one-hot column
//!   each for k-means, and most values seen a few times. `logsieve train`
//!   reports them.

use std::collections::{BTreeMap, BTreeSet};

use logsieve_artifact::{FeatureKind, ModelKind, ValidSpec, aggregate_fields};
use logsieve_plugin::FeatureValue;

/// A categorical feature with more distinct training values than this is
/// reported by [`wide_categoricals`].
pub const WIDE_CATEGORICAL: usize = 50;

/// How many of the nearest names an absent feature's message lists.
const NEAREST: usize = 3;

/// One message per feature (`features[i] (name): …`) that is absent in
/// every row of `rows`, with the names nearest to its field among `seen`
/// (the top-level keys of the training events) and the spec's derived and
/// aggregate fields. Empty when every feature occurs at least once (or
/// there are no rows).
pub fn absent_features(spec: &ValidSpec, rows: &[Vec<FeatureValue>], seen: &BTreeSet<String>) -> Vec<String> {
    if rows.is_empty() {
        return Vec::new();
    }
    let mut names: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
    let derived: Vec<&str> = spec.derive.iter().map(|d| d.name.as_str()).collect();
    names.extend(&derived);
    let aggregated = spec.aggregate.as_ref().map(aggregate_fields).unwrap_or_default();
    names.extend(aggregated.iter().map(String::as_str));
    let mut out = Vec::new();
    for (j, f) in spec.features.iter().enumerate() {
        if rows.iter().any(|r| !matches!(r.get(j), Some(FeatureValue::Missing) | None)) {
            continue;
        }
        let what = if derived.contains(&f.field.as_str()) {
            format!("the derived field \"{}\" is missing (its inputs absent, or a ratio by 0)", f.field)
        } else {
            format!("the field \"{}\" is absent (or null)", f.field)
        };
        let nearest = nearest_names(&f.field, names.iter().copied().filter(|n| *n != f.field));
        let hint = if nearest.is_empty() {
            String::from("no field occurs in them")
        } else {
            format!("the nearest names that occur: {}", nearest.join(", "))
        };
        out.push(format!("features[{j}] ({}): {what} in all {} training rows; {hint}", f.name(), rows.len()));
    }
    out
}

/// A categorical feature with many distinct values in training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WideCategorical {
    /// Its index in the spec.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Distinct values (a missing value counts as one).
    pub distinct: usize,
    /// Of which seen in one training row only.
    pub once: usize,
}

/// Every categorical feature with more than [`WIDE_CATEGORICAL`] distinct
/// values in `rows`. flow2vec is left out: its tokens are meant to be many.
pub fn wide_categoricals(spec: &ValidSpec, rows: &[Vec<FeatureValue>]) -> Vec<WideCategorical> {
    if spec.model.kind == ModelKind::Flow2vec {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (j, f) in spec.features.iter().enumerate() {
        if f.kind != FeatureKind::Categorical {
            continue;
        }
        let mut counts: BTreeMap<Option<&str>, u64> = BTreeMap::new();
        for r in rows {
            let v = match r.get(j) {
                Some(FeatureValue::Category(c)) => Some(c.as_str()),
                _ => None,
            };
            *counts.entry(v).or_default() += 1;
        }
        if counts.len() > WIDE_CATEGORICAL {
            let once = counts.values().filter(|&&n| n == 1).count();
            out.push(WideCategorical { index: j, name: f.name().to_string(), distinct: counts.len(), once });
        }
    }
    out
}

/// The (at most [`NEAREST`]) names closest to `field` by edit distance,
/// closest first (ties in name order), among those within half the
/// longer name's length. `.` and `_` count as the same character, and case
/// is ignored: Zeek's JSON logs spell `id.resp_p` as `id_resp_p`.
pub fn nearest_names<'a>(field: &str, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(usize, &str)> = names
        .map(|n| (edit_distance(field, n), n))
        .filter(|(d, n)| *d <= field.chars().count().max(n.chars().count()).div_ceil(2))
        .collect();
    scored.sort();
    scored.into_iter().take(NEAREST).map(|(_, n)| n).collect()
}

/// Levenshtein distance, with `.`/`_` and case folded.
fn edit_distance(a: &str, b: &str) -> usize {
    let fold = |c: char| if c == '.' { '_' } else { c.to_ascii_lowercase() };
    let a: Vec<char> = a.chars().map(fold).collect();
    let b: Vec<char> = b.chars().map(fold).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names_fold_dots_and_case_and_keep_the_close_ones() {
        let names = ["id.resp_p", "id.resp_h", "id.orig_p", "proto", "duration", "resp_bytes"];
        assert_eq!(nearest_names("id_resp_p", names.into_iter()), ["id.resp_p", "id.resp_h", "id.orig_p"]);
        assert_eq!(nearest_names("Proto", names.into_iter()), ["proto"]);
        assert_eq!(nearest_names("durration", names.into_iter()), ["duration"]);
        assert!(nearest_names("kerberos_realm", names.into_iter()).is_empty());
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
