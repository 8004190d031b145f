//! Derived fields: the per-record computations of the notebooks
//! (`[[derive]]`), as pure functions of [`Scalar`] values. The caller
//! resolves field names to values and passes them in; nothing here reads an
//! event, a clock, a file or a time-zone database, so native and wasm32
//! builds give the same results.
//!
//! - [`filter`]: `[[where]]` tests;
//! - [`time`]: epoch seconds and ISO 8601 times;
//! - [`cidr`]: CIDR tables (`cidr_group`);
//! - [`inter_arrival`]: time since the previous event of a key.
//!
//! # Values and coercion
//!
//! Inputs are read with the project's single coercion rules,
//! [`Scalar::as_number`] and [`Scalar::as_text`]: a number is a JSON number,
//! a boolean (1/0) or a string that parses as a number; a text is a string
//! as is, a number's shortest text (`22`, not `22.0`) or `true`/`false`.
//! An absent field and `null` are both *missing*.
//!
//! # Operations
//!
//! A [`Derivation`] evaluates the spec's [`DeriveOp`] itself (the spec type
//! is the vocabulary: a new op is a variant there and an arm of
//! [`Derivation::apply`] here).
//!
//! | op | inputs | result |
//! |----|--------|--------|
//! | `product`, `sum` | 2 or more | `a * b * …`, `a + b + …` |
//! | `difference` | 2 | `a - b` |
//! | `ratio` | 2 | `a / b`; **`b == 0` gives `Missing`** |
//! | `log1p` | 1 | `ln(1 + a)` (libm, the same bits on every target) |
//! | `clamp { min, max }` | 1 | `a` raised to `min`, then lowered to `max` (each optional; if `min > max` the result is `max`) |
//! | `hour { utc_offset }` | 1 time | hour of day 0–23 |
//! | `weekday { utc_offset }` | 1 time | 0 = Monday … 6 = Sunday (pandas `dayofweek`) |
//! | `day_bucket { utc_offset, buckets }` | 1 time | the name of the first bucket covering the hour, as text |
//! | `equals { value }` | 1 | 1.0 if the input equals `value`, else 0.0 |
//! | `in_set { values }` | 1 | 1.0 if the input equals any of `values`, else 0.0 |
//! | `cidr_group { cidr_table }` | 1 | the group of the longest matching prefix as text, else `"unknown"` |
//!
//! (`inter_arrival` keeps state between events: see [`inter_arrival`].)
//!
//! Rules shared by all operations:
//! - **Missing in, missing out**: if any input is missing the result is
//!   [`Derived::Missing`] (the feature's missing policy then decides), for
//!   flags and groups too: `equals` on an absent field is `Missing`, not 0.
//! - A numeric input that cannot be a number (`"abc"`, an array) is the error
//!   `wrong_type`; every input is checked, so a wrong-typed input is an error
//!   even when another input is missing. For `equals`, `in_set` and
//!   `cidr_group` only an array or object is `wrong_type`.
//! - A non-finite input (the string `"inf"`) or result (`log1p(-2)`,
//!   `1e200 * 1e200`) is the error `non_finite`.
//! - Time inputs are read by [`time::parse_time`] (errors `bad_time`,
//!   `wrong_type`).
//! - The wrong number of inputs is the error `bad_arity` (the spec's
//!   [`DeriveOp::arity`]). A checked spec never gives one; it is there for
//!   callers of this library.

pub mod cidr;
pub mod filter;
pub mod inter_arrival;
pub mod time;

use std::borrow::Cow;

use logsieve_artifact::{Arity, DeriveOp};

pub use cidr::CidrTable;
pub use filter::matches;
pub use inter_arrival::InterArrival;
pub use time::parse_time;

use crate::event::{Coerce, EventError, Reason, Scalar};
use filter::{literal, scalar_eq};
use time::{hour_of, local_seconds};

/// The result of [`Derivation::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Derived {
    /// A finite number.
    Number(f64),
    /// A text (a bucket or group name).
    Text(String),
    /// No value: an input was missing, a ratio's divisor was 0, or no bucket
    /// covered the hour.
    Missing,
}

impl Derived {
    /// The value as a [`Scalar`] (to filter on or derive from it again);
    /// `None` when missing.
    pub fn to_scalar(&self) -> Option<Scalar<'_>> {
        match self {
            Derived::Number(x) => Some(Scalar::Number(*x)),
            Derived::Text(s) => Some(Scalar::Str(Cow::Borrowed(s))),
            Derived::Missing => None,
        }
    }
}

/// The dce_rpc notebook's time-of-day buckets: 0–1 `late_night`, 2–5
/// `early_morning`, 6–9 `morning`, 10–13 `afternoon`, 14–17 `evening`,
/// 18–21 `night`, 22–23 `late_night`. A `day_bucket` without `buckets`
/// uses them.
pub const DEFAULT_DAY_BUCKETS: [(u8, u8, &str); 7] = [
    (0, 1, "late_night"),
    (2, 5, "early_morning"),
    (6, 9, "morning"),
    (10, 13, "afternoon"),
    (14, 17, "evening"),
    (18, 21, "night"),
    (22, 23, "late_night"),
];

/// A stateless `[[derive]]` op, ready to apply: the spec's op and what it
/// needs prepared (a `cidr_group`'s parsed table).
#[derive(Debug, Clone, PartialEq)]
pub struct Derivation {
    op: DeriveOp,
    cidr: Option<CidrTable>,
}

impl Derivation {
    /// Prepare an op. `inter_arrival` keeps state and is not one of these
    /// (see [`InterArrival`]); a `cidr_group` table that does not parse is
    /// an error naming its line.
    pub fn new(op: &DeriveOp) -> Result<Derivation, String> {
        let cidr = match op {
            DeriveOp::CidrGroup { cidr_table, .. } => {
                let text: String = cidr_table.iter().map(|(c, g)| format!("{c},{g}\n")).collect();
                Some(CidrTable::parse(&text)?)
            }
            DeriveOp::InterArrival { .. } => return Err("inter_arrival keeps state between events".into()),
            _ => None,
        };
        Ok(Derivation { op: op.clone(), cidr })
    }

    /// Whether the op reads a time (its input is parsed by
    /// [`time::parse_time`] first).
    pub fn reads_time(&self) -> bool {
        self.op.arity() == Arity::TimeInput
    }

    /// Apply the op to its inputs (`None` = the field is absent). See the
    /// [module docs](self) for missing values and the error reasons.
    pub fn apply(&self, inputs: &[Option<&Scalar<'_>>]) -> Result<Derived, EventError> {
        let op = &self.op;
        let name = op.name();
        let n = inputs.len();
        let want = match op.arity() {
            Arity::Exactly(k) if n != k => Some(format!("{k}")),
            Arity::AtLeast(k) if n < k => Some(format!("at least {k}")),
            Arity::TimeInput if n != 1 => Some("1".to_string()),
            _ => None,
        };
        if let Some(want) = want {
            return Err(EventError::new(Reason::BadArity, format!("{name} takes {want} input(s), got {n}")));
        }
        let offset = |o: &Option<logsieve_artifact::UtcOffset>| o.as_ref().map_or(0, |o| o.minutes());
        match op {
            DeriveOp::Product { .. } | DeriveOp::Sum { .. } => {
                let product = matches!(op, DeriveOp::Product { .. });
                let mut acc = if product { 1.0 } else { 0.0 };
                let mut missing = false;
                for (i, v) in inputs.iter().enumerate() {
                    match number(name, i, *v)? {
                        Some(x) if product => acc *= x,
                        Some(x) => acc += x,
                        None => missing = true,
                    }
                }
                if missing {
                    return Ok(Derived::Missing);
                }
                finite(name, acc)
            }
            DeriveOp::Difference { .. } | DeriveOp::Ratio { .. } => {
                let a = number(name, 0, inputs[0])?;
                let b = number(name, 1, inputs[1])?;
                let (Some(a), Some(b)) = (a, b) else {
                    return Ok(Derived::Missing);
                };
                if matches!(op, DeriveOp::Difference { .. }) {
                    finite(name, a - b)
                } else if b == 0.0 {
                    Ok(Derived::Missing)
                } else {
                    finite(name, a / b)
                }
            }
            DeriveOp::Log1p { .. } => match number(name, 0, inputs[0])? {
                None => Ok(Derived::Missing),
                Some(x) => finite(name, crate::features::log1p(x)),
            },
            DeriveOp::Clamp { min, max, .. } => match number(name, 0, inputs[0])? {
                None => Ok(Derived::Missing),
                Some(mut x) => {
                    if let Some(lo) = min {
                        x = x.max(*lo);
                    }
                    if let Some(hi) = max {
                        x = x.min(*hi);
                    }
                    finite(name, x)
                }
            },
            DeriveOp::Hour { utc_offset, .. } => Ok(match time(inputs[0])? {
                None => Derived::Missing,
                Some(t) => Derived::Number(hour_of(t, offset(utc_offset)) as f64),
            }),
            DeriveOp::Weekday { utc_offset, .. } => Ok(match time(inputs[0])? {
                None => Derived::Missing,
                Some(t) => {
                    let days = local_seconds(t, offset(utc_offset)).div_euclid(86_400);
                    // 1970-01-01 was a Thursday (3).
                    Derived::Number((days + 3).rem_euclid(7) as f64)
                }
            }),
            DeriveOp::DayBucket { utc_offset, buckets, .. } => Ok(match time(inputs[0])? {
                None => Derived::Missing,
                Some(t) => {
                    let h = hour_of(t, offset(utc_offset));
                    let covers = |first: u8, last: u8| {
                        if first <= last { (first..=last).contains(&h) } else { h >= first || h <= last }
                    };
                    let found = if buckets.is_empty() {
                        DEFAULT_DAY_BUCKETS.iter().find(|(a, b, _)| covers(*a, *b)).map(|(_, _, n)| *n)
                    } else {
                        buckets.iter().find(|(a, b, _)| covers(*a, *b)).map(|(_, _, n)| n.as_str())
                    };
                    found.map_or(Derived::Missing, |n| Derived::Text(n.to_string()))
                }
            }),
            DeriveOp::Equals { value, .. } => flag(name, inputs[0], |v| scalar_eq(v, &literal(value))),
            DeriveOp::InSet { values, .. } => {
                flag(name, inputs[0], |v| values.iter().any(|w| scalar_eq(v, &literal(w))))
            }
            DeriveOp::CidrGroup { .. } => {
                let Some(v) = present(inputs[0]) else {
                    return Ok(Derived::Missing);
                };
                let text = v.as_text().map_err(|Coerce::WrongType(got)| {
                    EventError::new(Reason::WrongType, format!("{name}: the input should be an IP address, got {got}"))
                })?;
                let table = self.cidr.as_ref().expect("a cidr_group has its table");
                let group = text.as_deref().and_then(|ip| table.lookup(ip));
                Ok(Derived::Text(group.unwrap_or("unknown").to_string()))
            }
            DeriveOp::InterArrival { .. } => unreachable!("Derivation::new refuses inter_arrival"),
        }
    }
}

/// The value unless absent or `null`.
fn present<'s, 'a>(v: Option<&'s Scalar<'a>>) -> Option<&'s Scalar<'a>> {
    v.filter(|s| !matches!(s, Scalar::Null))
}

/// A numeric input: `Ok(None)` when missing.
fn number(op: &str, i: usize, v: Option<&Scalar<'_>>) -> Result<Option<f64>, EventError> {
    let Some(v) = v else { return Ok(None) };
    match v.as_number() {
        Ok(None) => Ok(None),
        Ok(Some(x)) if x.is_finite() => Ok(Some(x)),
        Ok(Some(x)) => {
            Err(EventError::new(Reason::NonFinite, format!("{op}: input {} is {x}, not a finite number", i + 1)))
        }
        Err(Coerce::WrongType(got)) => {
            Err(EventError::new(Reason::WrongType, format!("{op}: input {} should be a number, got {got}", i + 1)))
        }
    }
}

fn finite(op: &str, x: f64) -> Result<Derived, EventError> {
    if x.is_finite() {
        Ok(Derived::Number(x))
    } else {
        Err(EventError::new(Reason::NonFinite, format!("{op}: the result is {x}, not a finite number")))
    }
}

fn flag(op: &str, v: Option<&Scalar<'_>>, test: impl Fn(&Scalar<'_>) -> bool) -> Result<Derived, EventError> {
    let Some(v) = present(v) else {
        return Ok(Derived::Missing);
    };
    if let Scalar::Composite(kind) = v {
        return Err(EventError::new(
            Reason::WrongType,
            format!("{op}: the input should be a number, text or boolean, got {kind}"),
        ));
    }
    Ok(Derived::Number(if test(v) { 1.0 } else { 0.0 }))
}

fn time(v: Option<&Scalar<'_>>) -> Result<Option<f64>, EventError> {
    match v {
        None => Ok(None),
        Some(v) => parse_time(v),
    }
}

#[cfg(test)]
mod tests {
    use crate::event::test_values::{n, s};
    use logsieve_artifact::{Literal, UtcOffset};

    use super::*;

    fn d(op: DeriveOp) -> Derivation {
        Derivation::new(&op).unwrap()
    }
    fn product() -> Derivation {
        d(DeriveOp::Product { fields: vec![] })
    }
    fn sum() -> Derivation {
        d(DeriveOp::Sum { fields: vec![] })
    }
    fn difference() -> Derivation {
        d(DeriveOp::Difference { fields: vec![] })
    }
    fn ratio() -> Derivation {
        d(DeriveOp::Ratio { fields: vec![] })
    }
    fn log1p() -> Derivation {
        d(DeriveOp::Log1p { fields: vec![] })
    }
    fn clamp(min: Option<f64>, max: Option<f64>) -> Derivation {
        d(DeriveOp::Clamp { fields: vec![], min, max })
    }
    fn off(minutes: i32) -> Option<UtcOffset> {
        Some(UtcOffset::from_minutes(minutes).unwrap())
    }
    fn hour(minutes: i32) -> Derivation {
        d(DeriveOp::Hour { fields: vec![], utc_offset: off(minutes) })
    }
    fn weekday(minutes: i32) -> Derivation {
        d(DeriveOp::Weekday { fields: vec![], utc_offset: off(minutes) })
    }
    fn bucket(minutes: i32, buckets: Vec<(u8, u8, String)>) -> Derivation {
        d(DeriveOp::DayBucket { fields: vec![], utc_offset: off(minutes), buckets })
    }
    fn equals(value: Literal) -> Derivation {
        d(DeriveOp::Equals { fields: vec![], value })
    }
    fn in_set(values: Vec<Literal>) -> Derivation {
        d(DeriveOp::InSet { fields: vec![], values })
    }
    fn cidr(text: &str) -> Derivation {
        let table = CidrTable::parse(text).unwrap().entries();
        d(DeriveOp::CidrGroup { fields: vec![], cidr_file: None, cidr_table: table })
    }
    fn run(op: &Derivation, inputs: &[Option<Scalar<'static>>]) -> Result<Derived, EventError> {
        let refs: Vec<Option<&Scalar>> = inputs.iter().map(Option::as_ref).collect();
        op.apply(&refs)
    }
    fn ok(op: &Derivation, inputs: &[Option<Scalar<'static>>]) -> Derived {
        run(op, inputs).unwrap()
    }
    fn reason(op: &Derivation, inputs: &[Option<Scalar<'static>>]) -> Reason {
        run(op, inputs).unwrap_err().reason
    }
    fn num_of(d: Derived) -> f64 {
        match d {
            Derived::Number(x) => x,
            other => panic!("not a number: {other:?}"),
        }
    }
    fn text(t: &str) -> Derived {
        Derived::Text(t.to_string())
    }

    #[test]
    fn arithmetic() {
        assert_eq!(ok(&product(), &[Some(n(3.0)), Some(n(1500.0))]), Derived::Number(4500.0));
        assert_eq!(ok(&product(), &[Some(n(2.0)), Some(s("3")), Some(Scalar::Bool(true))]), Derived::Number(6.0));
        assert_eq!(ok(&sum(), &[Some(n(2.5)), Some(n(-1.0))]), Derived::Number(1.5));
        assert_eq!(ok(&sum(), &[Some(n(7.0)), Some(n(0.0))]), Derived::Number(7.0));
        assert_eq!(ok(&difference(), &[Some(n(10.0)), Some(n(4.0))]), Derived::Number(6.0));
        assert_eq!(ok(&ratio(), &[Some(n(10.0)), Some(n(4.0))]), Derived::Number(2.5));
        assert_eq!(ok(&ratio(), &[Some(n(10.0)), Some(n(0.0))]), Derived::Missing);
        assert_eq!(ok(&ratio(), &[Some(n(0.0)), Some(n(-0.0))]), Derived::Missing);
        assert_eq!(ok(&ratio(), &[Some(n(0.0)), Some(n(5.0))]), Derived::Number(0.0));
        assert_eq!(ok(&log1p(), &[Some(n(0.0))]), Derived::Number(0.0));
        assert_eq!(
            ok(&log1p(), &[Some(n(std::f64::consts::E - 1.0))]),
            Derived::Number(libm::log1p(std::f64::consts::E - 1.0))
        );
        assert!((num_of(ok(&log1p(), &[Some(n(std::f64::consts::E - 1.0))])) - 1.0).abs() < 1e-15);
        let c = clamp(Some(0.0), Some(10.0));
        assert_eq!(ok(&c, &[Some(n(-3.0))]), Derived::Number(0.0));
        assert_eq!(ok(&c, &[Some(n(3.0))]), Derived::Number(3.0));
        assert_eq!(ok(&c, &[Some(n(30.0))]), Derived::Number(10.0));
        assert_eq!(ok(&clamp(None, Some(1.0)), &[Some(n(-30.0))]), Derived::Number(-30.0));
        assert_eq!(ok(&clamp(Some(1.0), None), &[Some(n(30.0))]), Derived::Number(30.0));
        assert_eq!(ok(&clamp(Some(5.0), Some(1.0)), &[Some(n(3.0))]), Derived::Number(1.0));
    }

    #[test]
    fn missing_inputs_give_missing() {
        for op in [product(), sum(), difference(), ratio()] {
            assert_eq!(ok(&op, &[None, Some(n(2.0))]), Derived::Missing, "{op:?}");
            assert_eq!(ok(&op, &[Some(n(2.0)), Some(Scalar::Null)]), Derived::Missing, "{op:?}");
        }
        assert_eq!(ok(&product(), &[Some(n(2.0)), Some(n(2.0)), None]), Derived::Missing);
        let one = [
            log1p(),
            clamp(Some(0.0), None),
            hour(0),
            weekday(0),
            bucket(0, vec![]),
            equals(Literal::Number(22.0)),
            in_set(vec![Literal::Text("a".into())]),
            cidr("10.0.0.0/8,a"),
        ];
        for op in &one {
            assert_eq!(ok(op, &[None]), Derived::Missing, "{op:?}");
            assert_eq!(ok(op, &[Some(Scalar::Null)]), Derived::Missing, "{op:?}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(reason(&product(), &[Some(n(2.0)), Some(s("abc"))]), Reason::WrongType);
        assert_eq!(reason(&sum(), &[Some(Scalar::Composite("an array")), Some(n(1.0))]), Reason::WrongType);
        // A wrong type is reported even when another input is missing.
        assert_eq!(reason(&ratio(), &[None, Some(s("x"))]), Reason::WrongType);
        assert_eq!(reason(&log1p(), &[Some(s("abc"))]), Reason::WrongType);
        assert_eq!(reason(&log1p(), &[Some(n(-2.0))]), Reason::NonFinite);
        assert_eq!(reason(&log1p(), &[Some(n(-1.0))]), Reason::NonFinite);
        assert_eq!(reason(&product(), &[Some(n(1e200)), Some(n(1e200))]), Reason::NonFinite);
        assert_eq!(reason(&sum(), &[Some(n(f64::MAX)), Some(n(f64::MAX))]), Reason::NonFinite);
        assert_eq!(reason(&ratio(), &[Some(n(1e300)), Some(n(1e-300))]), Reason::NonFinite);
        assert_eq!(reason(&sum(), &[Some(s("inf")), Some(n(1.0))]), Reason::NonFinite);
        assert_eq!(reason(&clamp(None, Some(1.0)), &[Some(s("NaN"))]), Reason::NonFinite);
        assert_eq!(reason(&ratio(), &[Some(n(1.0))]), Reason::BadArity);
        assert_eq!(reason(&ratio(), &[Some(n(1.0)), Some(n(1.0)), Some(n(1.0))]), Reason::BadArity);
        assert_eq!(reason(&product(), &[Some(n(1.0))]), Reason::BadArity);
        assert_eq!(reason(&log1p(), &[Some(n(1.0)), Some(n(1.0))]), Reason::BadArity);
        assert_eq!(reason(&hour(0), &[]), Reason::BadArity);
        assert_eq!(reason(&equals(Literal::Number(1.0)), &[Some(Scalar::Composite("an object"))]), Reason::WrongType);
        assert_eq!(
            reason(&in_set(vec![Literal::Number(1.0)]), &[Some(Scalar::Composite("an array"))]),
            Reason::WrongType
        );
        assert_eq!(reason(&cidr("10.0.0.0/8,a"), &[Some(Scalar::Composite("an array"))]), Reason::WrongType);
        assert_eq!(reason(&hour(0), &[Some(s("yesterday"))]), Reason::BadTime);
        assert_eq!(reason(&hour(0), &[Some(Scalar::Bool(true))]), Reason::WrongType);
        assert_eq!(reason(&hour(0), &[Some(n(1.713484800e12))]), Reason::BadTime);
        let e = run(&product(), &[Some(n(2.0)), Some(s("abc"))]).unwrap_err();
        assert!(e.detail.contains("input 2"), "{}", e.detail);
        assert!(Derivation::new(&DeriveOp::InterArrival { fields: vec![], key: vec![], max_keys: None }).is_err());
    }

    #[test]
    fn hour_weekday_bucket() {
        let t = [Some(n(1_713_484_800.0))]; // 2024-04-19 00:00:00 UTC, a Friday
        let wd = weekday;
        let bucket = |off| bucket(off, vec![]);
        assert_eq!(ok(&hour(0), &t), Derived::Number(0.0));
        assert_eq!(ok(&wd(0), &t), Derived::Number(4.0));
        assert_eq!(ok(&bucket(0), &t), text("late_night"));
        assert_eq!(ok(&hour(120), &t), Derived::Number(2.0));
        assert_eq!(ok(&bucket(120), &t), text("early_morning"));
        // A negative offset moves to Thursday evening.
        assert_eq!(ok(&hour(-300), &t), Derived::Number(19.0));
        assert_eq!(ok(&wd(-300), &t), Derived::Number(3.0));
        assert_eq!(ok(&hour(330), &t), Derived::Number(5.0));
        // One second earlier is Thursday 23:59:59; fractions round down.
        assert_eq!(ok(&hour(0), &[Some(n(1_713_484_799.9))]), Derived::Number(23.0));
        assert_eq!(ok(&wd(0), &[Some(n(1_713_484_799.9))]), Derived::Number(3.0));
        // The epoch was a Thursday; before it, Wednesday 23:00.
        assert_eq!(ok(&wd(0), &[Some(n(0.0))]), Derived::Number(3.0));
        assert_eq!(ok(&wd(0), &[Some(n(-3600.0))]), Derived::Number(2.0));
        assert_eq!(ok(&hour(0), &[Some(n(-3600.0))]), Derived::Number(23.0));
        // ISO input; 2024-04-21 is a Sunday, 2024-04-22 a Monday.
        assert_eq!(ok(&wd(0), &[Some(s("2024-04-21T12:00:00Z"))]), Derived::Number(6.0));
        assert_eq!(ok(&wd(0), &[Some(s("2024-04-22T00:00:00Z"))]), Derived::Number(0.0));
        assert_eq!(ok(&hour(0), &[Some(s("2018-03-24T17:15:21.104012Z"))]), Derived::Number(17.0));
        assert_eq!(ok(&hour(0), &[Some(s("2018-03-24T17:15:21+02:00"))]), Derived::Number(15.0));
        // Numeric strings are epoch seconds.
        assert_eq!(ok(&hour(0), &[Some(s("1713488400"))]), Derived::Number(1.0));
        // Every hour of the default table.
        let want = [
            "late_night",
            "late_night",
            "early_morning",
            "early_morning",
            "early_morning",
            "early_morning",
            "morning",
            "morning",
            "morning",
            "morning",
            "afternoon",
            "afternoon",
            "afternoon",
            "afternoon",
            "evening",
            "evening",
            "evening",
            "evening",
            "night",
            "night",
            "night",
            "night",
            "late_night",
            "late_night",
        ];
        for (h, w) in want.iter().enumerate() {
            let at = [Some(n(1_713_484_800.0 + h as f64 * 3600.0 + 1799.5))];
            assert_eq!(ok(&hour(0), &at), Derived::Number(h as f64));
            assert_eq!(ok(&bucket(0), &at), text(w), "hour {h}");
        }
    }

    #[test]
    fn bucket_wrap_and_gaps() {
        let op = bucket(0, vec![(22, 1, "late".into()), (9, 17, "work".into())]);
        let at = |h: f64| [Some(n(1_713_484_800.0 + h * 3600.0))];
        assert_eq!(ok(&op, &at(23.0)), text("late"));
        assert_eq!(ok(&op, &at(0.0)), text("late"));
        assert_eq!(ok(&op, &at(1.0)), text("late"));
        assert_eq!(ok(&op, &at(12.0)), text("work"));
        assert_eq!(ok(&op, &at(5.0)), Derived::Missing);
        assert_eq!(ok(&op, &at(21.0)), Derived::Missing);
    }

    #[test]
    fn cidr_group_op() {
        let op = cidr(cidr::tests::TABLE);
        assert_eq!(ok(&op, &[Some(s("10.1.2.3"))]), text("ceo-laptop"));
        assert_eq!(ok(&op, &[Some(s("10.200.0.1"))]), text("corp"));
        assert_eq!(ok(&op, &[Some(s("fe80::1"))]), text("unknown"));
        assert_eq!(ok(&op, &[Some(s("not an ip"))]), text("unknown"));
        assert_eq!(ok(&op, &[Some(n(22.0))]), text("unknown"));
        assert_eq!(ok(&op, &[Some(Scalar::Bool(true))]), text("unknown"));
    }

    #[test]
    fn equals_and_in_set_flags() {
        let port22 = equals(Literal::Number(22.0));
        assert_eq!(ok(&port22, &[Some(n(22.0))]), Derived::Number(1.0));
        assert_eq!(ok(&port22, &[Some(s("22"))]), Derived::Number(1.0));
        assert_eq!(ok(&port22, &[Some(n(443.0))]), Derived::Number(0.0));
        assert_eq!(ok(&port22, &[Some(s("ssh"))]), Derived::Number(0.0));
        let no = equals(Literal::Bool(false));
        assert_eq!(ok(&no, &[Some(Scalar::Bool(false))]), Derived::Number(1.0));
        assert_eq!(ok(&no, &[Some(s("false"))]), Derived::Number(1.0));
        assert_eq!(ok(&no, &[Some(Scalar::Bool(true))]), Derived::Number(0.0));
        let hosts = in_set(vec![Literal::Text("10.0.0.1".into()), Literal::Text("10.0.0.2".into())]);
        assert_eq!(ok(&hosts, &[Some(s("10.0.0.2"))]), Derived::Number(1.0));
        assert_eq!(ok(&hosts, &[Some(s("10.0.0.3"))]), Derived::Number(0.0));
        assert_eq!(ok(&in_set(vec![]), &[Some(s("x"))]), Derived::Number(0.0));
    }

    #[test]
    fn derived_to_scalar() {
        assert_eq!(Derived::Number(2.0).to_scalar(), Some(n(2.0)));
        assert_eq!(Derived::Text("a".into()).to_scalar(), Some(s("a")));
        assert_eq!(Derived::Missing.to_scalar(), None);
        let d = ok(&product(), &[Some(n(3.0)), Some(n(4.0))]);
        assert!(matches(&logsieve_artifact::Test::Gt { value: Literal::Number(10.0) }, d.to_scalar().as_ref()));
    }
}
