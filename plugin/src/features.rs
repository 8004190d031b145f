//! Feature extraction and encoding: the one implementation used for training
//! (through the component's `extract-batch`) and for scoring.
//!
//! Two steps:
//! 1. **Extract**: each spec feature reads its field and coerces it
//!    ([`numeric`], [`category`]): a number (`log1p` applied), a category
//!    text, or missing. The trainer learns scalers and vocabularies from
//!    these values.
//! 2. **Encode**: missing values are filled by policy, numbers are scaled as
//!    `(x - offset) / scale`. For k-means, categories are one-hot encoded
//!    over the learned vocabulary (an unseen value encodes as all zeros);
//!    for k-modes and k-prototypes a category is one coordinate holding its
//!    code, the index in the vocabulary (an unseen value is -1, as in the
//!    `kmodes` package). Unseen values are reported.
//!
//! Coercion rules (the same in both steps):
//! - numeric: a JSON number; a boolean as 1/0; a string that parses as a
//!   finite number; `null`/absent is missing; anything else is `wrong_type`.
//!   A value that is or becomes non-finite (`log1p(-2)`) is `non_finite`.
//! - categorical: a string as is; a number as its shortest text (`22`, not
//!   `22.0`); a boolean as `true`/`false`; `null`/absent is missing; an array
//!   or object is `wrong_type`.

use std::borrow::Cow;
use std::collections::HashMap;

use logsieve_artifact::{FeatureKind, FeatureSpec, FeatureState, Fitted, Missing, ModelSpec};

pub use crate::event::number_text;
use crate::event::{Coerce, EventError, Scalar};
use crate::reason::Reason;
use crate::scan::FieldTable;

/// The category a missing value becomes under `missing = "category"`.
pub const MISSING_CATEGORY: &str = "missing";

/// One feature's extracted value, before encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureValue {
    /// A number after the feature's transform.
    Number(f64),
    /// A category's text.
    Category(String),
    /// Absent or null.
    Missing,
}

/// The fields the spec reads, for [`crate::scan::scan`].
pub fn field_table(spec: &ModelSpec) -> FieldTable {
    FieldTable::new(spec.features.iter().map(|f| f.field.clone()).collect())
}

/// Coerce a numeric feature's field (transform applied). `Ok(None)` is missing.
#[inline]
pub fn numeric(spec: &FeatureSpec, v: Option<&Scalar>) -> Result<Option<f64>, EventError> {
    let x = match v {
        Some(Scalar::Number(x)) => *x,
        None | Some(Scalar::Null) => return Ok(None),
        Some(other) => match other.as_number() {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(None),
            Err(Coerce::WrongType(got)) => return Err(not_a_number(spec, got)),
        },
    };
    transform(spec, x, log1p_table()).map(Some)
}

/// A numeric feature's transform (`log1p`), refusing a non-finite result.
#[inline(always)]
fn transform(spec: &FeatureSpec, x: f64, table: &[f64]) -> Result<f64, EventError> {
    let y = if spec.log1p { log1p_with(table, x) } else { x };
    if !y.is_finite() {
        return Err(non_finite(spec, x));
    }
    Ok(y)
}

#[cold]
fn not_a_number(spec: &FeatureSpec, got: String) -> EventError {
    EventError::new(Reason::WrongType, format!("field '{}' should be a number, got {got}", spec.field))
}

#[cold]
fn non_finite(spec: &FeatureSpec, x: f64) -> EventError {
    let what = if spec.log1p { format!("log1p({x})") } else { format!("{x}") };
    EventError::new(Reason::NonFinite, format!("field '{}': {what} is not a finite number", spec.field))
}

/// How many small integers [`log1p`] keeps the value of.
const LOG1P_TABLE: usize = 4096;

/// `ln(1 + x)`, the `log1p` transform of numeric features: `libm::log1p`
/// (one implementation for every target: std's differs between platforms
/// in the last bit), with the values of the integers below 4096 computed
/// once by that same function and looked up, since most count features of
/// network logs (packets, bytes of short flows) are such integers. Bit for
/// bit the same values either way.
pub fn log1p(x: f64) -> f64 {
    log1p_with(log1p_table(), x)
}

/// `libm::log1p` of `0, 1, …, LOG1P_TABLE - 1`.
fn log1p_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Box<[f64]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..LOG1P_TABLE).map(|n| libm::log1p(n as f64)).collect())
}

#[inline(always)]
fn log1p_with(table: &[f64], x: f64) -> f64 {
    if x >= 0.0 && x < LOG1P_TABLE as f64 {
        let n = x as usize;
        if n as f64 == x && x.is_sign_positive() {
            return table[n];
        }
    }
    libm::log1p(x)
}

/// Coerce a categorical feature's field to text. `Ok(None)` is missing.
pub fn category<'a>(spec: &FeatureSpec, v: Option<&'a Scalar<'a>>) -> Result<Option<Cow<'a, str>>, EventError> {
    match v {
        None => Ok(None),
        Some(s) => s.as_text().map_err(|Coerce::WrongType(got)| {
            EventError::new(Reason::WrongType, format!("field '{}' should be a category, got {got}", spec.field))
        }),
    }
}

/// Extract every spec feature from a scanned event (the trainer's path).
pub fn extract(spec: &ModelSpec, slots: &[Option<Scalar>]) -> Result<Vec<FeatureValue>, EventError> {
    spec.features
        .iter()
        .zip(slots)
        .map(|(f, v)| {
            Ok(match f.kind {
                FeatureKind::Numeric => numeric(f, v.as_ref())?.map_or(FeatureValue::Missing, FeatureValue::Number),
                FeatureKind::Categorical => {
                    category(f, v.as_ref())?.map_or(FeatureValue::Missing, |c| FeatureValue::Category(c.into_owned()))
                }
            })
        })
        .collect()
}

/// A categorical value outside the training vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Unseen {
    /// Index of the feature in the spec.
    pub feature: usize,
    /// The value.
    pub value: String,
}

enum Column {
    Numeric {
        at: usize,
        offset: f64,
        scale: f64,
        fill: f64,
    },
    /// One-hot over `index.len()` coordinates from `start`, or (codes) one
    /// coordinate at `start` holding the value's index.
    Categorical {
        start: usize,
        index: HashMap<String, usize>,
        one_hot: bool,
        /// `[scaling] one_hot = "scaled"`: each one-hot column's
        /// `(offset, scale)`; empty when the columns stay 0/1.
        scaled: Vec<(f64, f64)>,
    },
}

/// The code of a categorical value outside the vocabulary (k-modes,
/// k-prototypes): it differs from every mode.
pub const UNSEEN_CODE: f64 = -1.0;

/// Encodes extracted values into the scaled vector the centroids live in.
pub struct Encoder {
    spec: Vec<FeatureSpec>,
    columns: Vec<Column>,
    dim: usize,
    /// Whether a one-hot column leaves coordinates unwritten, so a vector
    /// is zeroed before it is encoded (otherwise every coordinate is
    /// written: no `memory.fill` in the component, a call into the host).
    one_hot_columns: bool,
    /// [`log1p_table`], looked up once.
    log1p: &'static [f64],
}

impl Encoder {
    /// The encoder of a fitted model (one-hot or codes by the model kind).
    pub fn new(spec: &ModelSpec, fitted: &Fitted) -> Self {
        let one_hot = spec.model.kind.one_hot();
        let mut start = 0;
        let columns: Vec<Column> = fitted
            .features
            .iter()
            .map(|st| {
                let c = match st {
                    FeatureState::Numeric { offset, scale, fill } => {
                        Column::Numeric { at: start, offset: *offset, scale: *scale, fill: *fill }
                    }
                    FeatureState::Categorical { vocabulary, one_hot_scaling } => Column::Categorical {
                        start,
                        index: vocabulary.iter().enumerate().map(|(i, v)| (v.clone(), i)).collect(),
                        one_hot,
                        scaled: if one_hot { one_hot_scaling.clone() } else { Vec::new() },
                    },
                };
                start += st.width(one_hot);
                c
            })
            .collect();
        let one_hot_columns = columns.iter().any(|c| matches!(c, Column::Categorical { one_hot: true, .. }));
        Encoder { spec: spec.features.clone(), columns, dim: start, one_hot_columns, log1p: log1p_table() }
    }

    /// Width of the encoded vector.
    pub fn dimension(&self) -> usize {
        self.dim
    }

    /// Encode a scanned event into `out` (length [`Self::dimension`]);
    /// unseen categories are appended to `unseen`. The scoring hot path:
    /// no allocation unless a value is unseen.
    pub fn encode_slots(
        &self,
        slots: &[Option<Scalar>],
        out: &mut [f64],
        unseen: &mut Vec<Unseen>,
    ) -> Result<(), EventError> {
        if self.one_hot_columns {
            out.fill(0.0);
        }
        for (i, ((f, col), v)) in self.spec.iter().zip(&self.columns).zip(slots).enumerate() {
            match *col {
                Column::Numeric { at, offset, scale, fill } => {
                    let x = match v {
                        // The common case first: a number, transformed.
                        Some(Scalar::Number(x)) => transform(f, *x, self.log1p)?,
                        _ => match numeric(f, v.as_ref())? {
                            Some(x) => x,
                            None => self.fill(i, fill)?,
                        },
                    };
                    out[at] = (x - offset) / scale;
                }
                Column::Categorical { .. } => self.put_category(i, category(f, v.as_ref())?.as_deref(), out, unseen)?,
            }
        }
        Ok(())
    }

    /// Encode extracted values (the trainer's path).
    pub fn encode_values(
        &self,
        values: &[FeatureValue],
        out: &mut [f64],
        unseen: &mut Vec<Unseen>,
    ) -> Result<(), EventError> {
        if self.one_hot_columns {
            out.fill(0.0);
        }
        for (i, v) in values.iter().enumerate() {
            match v {
                FeatureValue::Number(x) => self.put_number(i, Some(*x), out)?,
                FeatureValue::Category(c) => self.put_category(i, Some(c), out, unseen)?,
                FeatureValue::Missing => match self.columns[i] {
                    Column::Numeric { .. } => self.put_number(i, None, out)?,
                    Column::Categorical { .. } => self.put_category(i, None, out, unseen)?,
                },
            }
        }
        Ok(())
    }

    fn missing(&self, i: usize) -> EventError {
        EventError::new(
            Reason::MissingField,
            format!("field '{}' is absent or null (missing = \"error\")", self.spec[i].field),
        )
    }

    fn put_number(&self, i: usize, x: Option<f64>, out: &mut [f64]) -> Result<(), EventError> {
        let Column::Numeric { at, offset, scale, fill } = self.columns[i] else { unreachable!("numeric column") };
        let x = match x {
            Some(x) => x,
            None => self.fill(i, fill)?,
        };
        out[at] = (x - offset) / scale;
        Ok(())
    }

    /// A missing numeric value: `fill`, or an error under `missing = "error"`.
    fn fill(&self, i: usize, fill: f64) -> Result<f64, EventError> {
        if self.spec[i].missing_policy() == Missing::Error { Err(self.missing(i)) } else { Ok(fill) }
    }

    fn put_category(
        &self,
        i: usize,
        c: Option<&str>,
        out: &mut [f64],
        unseen: &mut Vec<Unseen>,
    ) -> Result<(), EventError> {
        let Column::Categorical { start, index, one_hot, scaled } = &self.columns[i] else {
            unreachable!("categorical column")
        };
        let c = match c {
            Some(c) => c,
            None if self.spec[i].missing_policy() == Missing::Error => return Err(self.missing(i)),
            None => MISSING_CATEGORY,
        };
        if !scaled.is_empty() {
            return self.put_scaled_one_hot(i, c, out, unseen);
        }
        match (index.get(c), one_hot) {
            (Some(&j), true) => out[start + j] = 1.0,
            (Some(&j), false) => out[*start] = j as f64,
            (None, one_hot) => {
                if !one_hot {
                    out[*start] = UNSEEN_CODE;
                }
                unseen.push(Unseen { feature: i, value: c.to_string() })
            }
        }
        Ok(())
    }

    /// A one-hot category under `one_hot = "scaled"`: every column of the
    /// feature written, `(indicator − offset) / scale`.
    #[inline(never)]
    fn put_scaled_one_hot(
        &self,
        i: usize,
        c: &str,
        out: &mut [f64],
        unseen: &mut Vec<Unseen>,
    ) -> Result<(), EventError> {
        let Column::Categorical { start, index, scaled, .. } = &self.columns[i] else {
            unreachable!("categorical column")
        };
        let hit = index.get(c).copied();
        for (j, (offset, scale)) in scaled.iter().enumerate() {
            let indicator = if hit == Some(j) { 1.0 } else { 0.0 };
            out[start + j] = (indicator - offset) / scale;
        }
        if hit.is_none() {
            unseen.push(Unseen { feature: i, value: c.to_string() });
        }
        Ok(())
    }

    /// The vector range each feature occupies, for explanations.
    pub fn ranges(&self) -> Vec<std::ops::Range<usize>> {
        self.columns
            .iter()
            .map(|c| match c {
                Column::Numeric { at, .. } => *at..*at + 1,
                Column::Categorical { start, index, one_hot: true, .. } => *start..*start + index.len(),
                Column::Categorical { start, one_hot: false, .. } => *start..*start + 1,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::scan;
    use logsieve_artifact::{ModelKind, ModelParams, TrainingMeta};

    #[test]
    fn log1p_looks_up_small_integers_with_libm_s_bits() {
        for n in 0..LOG1P_TABLE + 3 {
            let x = n as f64;
            assert_eq!(log1p(x).to_bits(), libm::log1p(x).to_bits(), "{x}");
        }
        for x in [-0.0, 0.5, 4095.5, -1.0, -0.5, 1e300, f64::NAN, f64::INFINITY, 1e-300, 3.0000000000000004] {
            assert_eq!(log1p(x).to_bits(), libm::log1p(x).to_bits(), "{x}");
        }
        assert!(log1p(-0.0).is_sign_negative());
    }

    fn spec(features: Vec<FeatureSpec>) -> ModelSpec {
        ModelSpec::new(ModelParams::new(ModelKind::Kmeans, 1), features)
    }

    fn num(field: &str, log1p: bool, missing: Option<Missing>) -> FeatureSpec {
        FeatureSpec { field: field.into(), name: None, kind: FeatureKind::Numeric, log1p, missing }
    }

    fn cat(field: &str, missing: Option<Missing>) -> FeatureSpec {
        FeatureSpec { field: field.into(), name: None, kind: FeatureKind::Categorical, log1p: false, missing }
    }

    fn extract_one(s: &ModelSpec, event: &str) -> Result<Vec<FeatureValue>, EventError> {
        let mut slots = Vec::new();
        scan(event, &field_table(s), &mut slots)?;
        extract(s, &slots)
    }

    #[test]
    fn coercion_rules() {
        let s = spec(vec![num("n", false, None), num("l", true, None), cat("c", None)]);
        let v = extract_one(&s, r#"{"n":"2.5","l":0,"c":22}"#).unwrap();
        assert_eq!(v, vec![FeatureValue::Number(2.5), FeatureValue::Number(0.0), FeatureValue::Category("22".into())]);
        let v = extract_one(&s, r#"{"n":true,"c":false,"l":null}"#).unwrap();
        assert_eq!(v, vec![FeatureValue::Number(1.0), FeatureValue::Missing, FeatureValue::Category("false".into())]);
        let v = extract_one(&s, r#"{"c":1.5}"#).unwrap();
        assert_eq!(v[2], FeatureValue::Category("1.5".into()));
        assert_eq!(extract_one(&s, r#"{"n":"abc"}"#).unwrap_err().reason, "wrong_type");
        assert_eq!(extract_one(&s, r#"{"n":{"a":1}}"#).unwrap_err().reason, "wrong_type");
        assert_eq!(extract_one(&s, r#"{"c":[1]}"#).unwrap_err().reason, "wrong_type");
        assert_eq!(extract_one(&s, r#"{"l":-1}"#).unwrap_err().reason, "non_finite");
        assert_eq!(extract_one(&s, r#"{"n":"inf"}"#).unwrap_err().reason, "non_finite");
        assert_eq!(extract_one(&s, r#"{"n":"NaN"}"#).unwrap_err().reason, "non_finite");
    }

    fn encoder(s: &ModelSpec, states: Vec<FeatureState>) -> Encoder {
        let fitted = Fitted {
            features: states,
            clusters: vec![],
            gamma: None,
            embedding: None,
            cblof: None,
            isolation: None,
            training: TrainingMeta::default(),
        };
        Encoder::new(s, &fitted)
    }

    #[test]
    fn encoding_scales_one_hots_and_fills() {
        let s = spec(vec![num("a", false, Some(Missing::Mean)), cat("c", None), num("b", false, None)]);
        let e = encoder(
            &s,
            vec![
                FeatureState::Numeric { offset: 10.0, scale: 2.0, fill: 12.0 },
                FeatureState::Categorical {
                    vocabulary: vec!["missing".into(), "tcp".into(), "udp".into()],
                    one_hot_scaling: vec![],
                },
                FeatureState::Numeric { offset: 1.0, scale: 4.0, fill: 0.0 },
            ],
        );
        assert_eq!(e.dimension(), 5);
        assert_eq!(e.ranges(), vec![0..1, 1..4, 4..5]);
        let mut out = vec![9.0; 5];
        let mut unseen = Vec::new();
        let enc = |text: &str, out: &mut Vec<f64>, unseen: &mut Vec<Unseen>| {
            let mut slots = Vec::new();
            scan(text, &field_table(&s), &mut slots).unwrap();
            e.encode_slots(&slots, out, unseen)
        };
        enc(r#"{"a":14,"c":"udp","b":5}"#, &mut out, &mut unseen).unwrap();
        assert_eq!(out, vec![2.0, 0.0, 0.0, 1.0, 1.0]);
        // Missing: mean fill for a, category "missing" for c, zero for b.
        enc(r#"{}"#, &mut out, &mut unseen).unwrap();
        assert_eq!(out, vec![1.0, 1.0, 0.0, 0.0, -0.25]);
        assert!(unseen.is_empty());
        // Unseen category: all zeros, reported.
        enc(r#"{"c":"sctp"}"#, &mut out, &mut unseen).unwrap();
        assert_eq!(&out[1..4], &[0.0, 0.0, 0.0]);
        assert_eq!(unseen, vec![Unseen { feature: 1, value: "sctp".into() }]);
        // The trainer's path gives the same vector.
        let mut out2 = vec![0.0; 5];
        e.encode_values(
            &[FeatureValue::Number(14.0), FeatureValue::Category("udp".into()), FeatureValue::Number(5.0)],
            &mut out2,
            &mut unseen,
        )
        .unwrap();
        assert_eq!(out2, vec![2.0, 0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn missing_error_policy_refuses_the_event() {
        let s = spec(vec![num("a", false, Some(Missing::Error)), cat("c", Some(Missing::Error))]);
        let e = encoder(
            &s,
            vec![
                FeatureState::Numeric { offset: 0.0, scale: 1.0, fill: 0.0 },
                FeatureState::Categorical { vocabulary: vec!["x".into()], one_hot_scaling: vec![] },
            ],
        );
        let mut out = vec![0.0; 2];
        let mut unseen = Vec::new();
        let mut slots = Vec::new();
        scan(r#"{"c":"x"}"#, &field_table(&s), &mut slots).unwrap();
        let err = e.encode_slots(&slots, &mut out, &mut unseen).unwrap_err();
        assert_eq!((err.reason, err.detail.contains("'a'")), (Reason::MissingField, true));
        scan(r#"{"a":1,"c":null}"#, &field_table(&s), &mut slots).unwrap();
        assert_eq!(e.encode_slots(&slots, &mut out, &mut unseen).unwrap_err().reason, "missing_field");
    }
}
