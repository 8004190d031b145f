//! Derived fields, time features, mappings, inter-arrival times and `where`
//! filters: the per-record computations of the notebooks, as pure functions
//! of [`Scalar`] values. The caller resolves field names to values and
//! passes them in; nothing here reads an event, a clock, a file or a
//! time-zone database, so native and wasm32 builds give the same results.
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
//! An [`Op`] is applied to its input values by [`apply`].
//!
//! | op | inputs | result |
//! |----|--------|--------|
//! | `Product`, `Sum` | 1 or more | `a * b * …`, `a + b + …` |
//! | `Difference` | 2 | `a - b` |
//! | `Ratio` | 2 | `a / b`; **`b == 0` gives `Missing`** |
//! | `Log1p` | 1 | `ln(1 + a)` (libm, the same bits on every target) |
//! | `Clamp { min, max }` | 1 | `a` raised to `min`, then lowered to `max` (each optional; if `min > max` the result is `max`) |
//! | `Hour { utc_offset_minutes }` | 1 time | hour of day 0–23 |
//! | `Weekday { utc_offset_minutes }` | 1 time | 0 = Monday … 6 = Sunday (pandas `dayofweek`) |
//! | `DayBucket { utc_offset_minutes, table }` | 1 time | the name of the first table row covering the hour, as text |
//! | `Equals(v)` | 1 | 1.0 if the input equals `v`, else 0.0 |
//! | `InSet(vs)` | 1 | 1.0 if the input equals any of `vs`, else 0.0 |
//! | `CidrGroup(table)` | 1 | the group of the longest matching prefix as text, else `"unknown"` |
//!
//! Rules shared by all operations:
//! - **Missing in, missing out**: if any input is missing the result is
//!   [`Derived::Missing`] (the feature's missing policy then decides), for
//!   flags and groups too: `Equals` on an absent field is `Missing`, not 0.
//! - A numeric input that cannot be a number (`"abc"`, an array) is the error
//!   `wrong_type`; every input is checked, so a wrong-typed input is an error
//!   even when another input is missing. For `Equals`, `InSet` and
//!   `CidrGroup` only an array or object is `wrong_type`.
//! - A non-finite input (the string `"inf"`) or result (`log1p(-2)`,
//!   `1e200 * 1e200`) is the error `non_finite`.
//! - The wrong number of inputs is the error `bad_arity` (see [`Op::arity`]).
//!
//! # Time
//!
//! [`parse_time`] reads a time as seconds since 1970-01-01T00:00:00Z:
//! - a number, or a string that parses as one, is epoch seconds (fractions
//!   kept). It must lie in the years 0000–9999; anything outside (typically
//!   epoch *milliseconds* or nanoseconds) is `bad_time`.
//! - any other string must be ISO 8601 / RFC 3339 in extended format:
//!   `YYYY-MM-DD`, optionally followed by `T` (or `t` or a space) and
//!   `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fff…` (any number of fraction digits,
//!   `.` or `,`), optionally followed by `Z`/`z` or an offset `±hh:mm`,
//!   `±hhmm` or `±hh`. No offset means UTC; a date alone means midnight UTC.
//!   Surrounding whitespace is ignored. Leap seconds (`:60`), hour `24`,
//!   week dates, ordinal dates and the basic format (`20180324T171521Z`)
//!   are `bad_time`.
//! - a boolean, array or object is `wrong_type`.
//!
//! Hour, weekday and bucket are taken from the UTC time shifted by a **fixed**
//! offset of `utc_offset_minutes` (e.g. `120` for UTC+2). There are no
//! daylight-saving rules: the component has no time-zone database, so a zone
//! with summer time needs one offset per season or UTC. The instant is
//! rounded down to the whole second first (…:59.9 is still that minute).
//!
//! A bucket table row `(first, last, name)` covers the hours `first..=last`;
//! a row with `first > last` wraps past midnight (`(22, 1, "late_night")`
//! covers 22, 23, 0 and 1). Rows are tried in order; an hour no row covers
//! gives `Missing`. [`default_day_buckets`] is the dce_rpc notebook's table.
//!
//! # CIDR groups
//!
//! A [`CidrTable`] is parsed from text with one `CIDR,group` per line,
//! IPv4 or IPv6; a bare address is a /32 or /128. Blank lines are ignored
//! and `#` starts a comment (a whole line or the end of one). Errors name the line: a bad address or
//! prefix length, host bits set (`10.1.2.3/16`), an empty group, or the same
//! network given twice with different groups (with the same group the repeat
//! is ignored). Lookups parse the address and pick the **longest** matching
//! prefix; IPv4 and IPv6 are separate, except that an IPv4-mapped IPv6
//! address (`::ffff:10.0.0.1`) is looked up as its IPv4 address. A value
//! that is not an IP address (a host name, `"-"`, a number, an address with
//! a zone `%eth0` or surrounding spaces) matches nothing, so `CidrGroup`
//! gives `"unknown"`.
//!
//! # Inter-arrival times
//!
//! [`InterArrival::push`]`(key, ts)` returns the seconds since the
//! **latest** timestamp seen earlier for that key (`""` for the whole stream), or `None` for a key's
//! first event — like pandas `df.sort_values('ts')['ts'].diff()` (globally)
//! or `groupby(key)['ts'].diff()` (per key) when events arrive in time order.
//! An event older than the latest one seen gives a **negative** difference
//! and does not move the latest back: timestamps 10, 20, 15, 30 give
//! `None, 10, -5, 10`. At most `max_keys` keys are remembered; a new key when
//! full forgets the least recently pushed key (counted by
//! [`InterArrival::evicted`]), whose next event then counts as a first. Use
//! one `InterArrival` per derived field, so a global `""` key does not share
//! the bound with per-host keys.
//!
//! # Filters
//!
//! A [`Condition`] tests one field's value; [`matches()`] applies it.
//!
//! Equality (`Eq`, `Ne`, `In`, `NotIn`, and the ops `Equals`, `InSet`):
//! 1. if both sides coerce to numbers (not NaN), they are compared as
//!    numbers: `22`, `"22"`, `22.0` and `"22.0"` are all equal, and so are
//!    `true`, `1` and `"1"` (a boolean is 1/0);
//! 2. otherwise their texts are compared: `false` equals `"false"` (and a
//!    JSON `false`, as Zeek writes `F`, equals `false`), `"tcp"` equals
//!    `"tcp"`, `22` does not equal `"ssh"`;
//! 3. `null`, an array or an object equals nothing.
//!
//! Order (`Lt`, `Le`, `Gt`, `Ge`): numbers as numbers when both sides coerce
//! to numbers; texts by byte (code point) order when **neither** side does;
//! a number against a non-numeric text (`duration < 5` with `"-"`) is
//! incomparable and the condition is false.
//!
//! Missing fields (absent or `null`):
//!
//! | op | field missing | field present |
//! |----|---------------|---------------|
//! | `Exists` | false | true |
//! | `Missing` | true | false |
//! | `Eq`, `Lt`, `Le`, `Gt`, `Ge`, `In` | false | the comparison |
//! | `Ne`, `NotIn` | true | not `Eq` / not `In` |
//!
//! `Eq`/order ops whose `value` is `None` or `null` are never true (`Ne`
//! always true); use `Exists`/`Missing` to test for null.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use crate::event::{Coerce, EventError, Scalar, clip};

// ---------------------------------------------------------------------------
// Operations

/// One derived-field operation. See the [module docs](self) for the rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Product of one or more numbers.
    Product,
    /// Sum of one or more numbers.
    Sum,
    /// `a - b`.
    Difference,
    /// `a / b`; `b == 0` gives [`Derived::Missing`].
    Ratio,
    /// `ln(1 + a)`; `a <= -1` is `non_finite`.
    Log1p,
    /// `a` raised to `min` then lowered to `max`, each bound optional.
    Clamp {
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// Hour of day (0–23) of a time, at a fixed offset from UTC.
    Hour {
        /// Minutes east of UTC (`120` for UTC+2, `-300` for UTC-5).
        utc_offset_minutes: i32,
    },
    /// Day of week of a time, 0 = Monday … 6 = Sunday, at a fixed offset.
    Weekday {
        /// Minutes east of UTC.
        utc_offset_minutes: i32,
    },
    /// Named time-of-day bucket of a time, at a fixed offset.
    DayBucket {
        /// Minutes east of UTC.
        utc_offset_minutes: i32,
        /// Rows `(first hour, last hour inclusive, name)`, tried in order;
        /// `first > last` wraps past midnight.
        table: Vec<(u8, u8, String)>,
    },
    /// 1.0 if the input equals the value, else 0.0.
    Equals(Scalar<'static>),
    /// 1.0 if the input equals any of the values, else 0.0.
    InSet(Vec<Scalar<'static>>),
    /// The group of an IP address, or `"unknown"`.
    CidrGroup(CidrTable),
}

impl Op {
    /// A short lower-case name, used in error details (`"ratio"`, `"hour"`).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Product => "product",
            Op::Sum => "sum",
            Op::Difference => "difference",
            Op::Ratio => "ratio",
            Op::Log1p => "log1p",
            Op::Clamp { .. } => "clamp",
            Op::Hour { .. } => "hour",
            Op::Weekday { .. } => "weekday",
            Op::DayBucket { .. } => "day_bucket",
            Op::Equals(_) => "equals",
            Op::InSet(_) => "in_set",
            Op::CidrGroup(_) => "cidr_group",
        }
    }

    /// How many inputs the op takes: `(least, most)`, `most` `None` for no
    /// limit. `Product`/`Sum` take one or more, `Difference`/`Ratio` two,
    /// the others one.
    pub fn arity(&self) -> (usize, Option<usize>) {
        match self {
            Op::Product | Op::Sum => (1, None),
            Op::Difference | Op::Ratio => (2, Some(2)),
            _ => (1, Some(1)),
        }
    }
}

/// The result of [`apply`].
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
/// 18–21 `night`, 22–23 `late_night`.
pub fn default_day_buckets() -> Vec<(u8, u8, String)> {
    [
        (0, 1, "late_night"),
        (2, 5, "early_morning"),
        (6, 9, "morning"),
        (10, 13, "afternoon"),
        (14, 17, "evening"),
        (18, 21, "night"),
        (22, 23, "late_night"),
    ]
    .into_iter()
    .map(|(a, b, n)| (a, b, n.to_string()))
    .collect()
}

/// Apply `op` to its inputs (`None` = the field is absent). See the
/// [module docs](self) for missing values and the error reasons
/// (`wrong_type`, `non_finite`, `bad_time`, `bad_arity`).
pub fn apply(op: &Op, inputs: &[Option<&Scalar<'_>>]) -> Result<Derived, EventError> {
    let name = op.name();
    let (least, most) = op.arity();
    if inputs.len() < least || most.is_some_and(|m| inputs.len() > m) {
        let want = match most {
            Some(m) if m == least => format!("{least}"),
            Some(m) => format!("{least} to {m}"),
            None => format!("at least {least}"),
        };
        return Err(EventError::new("bad_arity", format!("{name} takes {want} input(s), got {}", inputs.len())));
    }
    match op {
        Op::Product | Op::Sum => {
            let product = matches!(op, Op::Product);
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
        Op::Difference | Op::Ratio => {
            let a = number(name, 0, inputs[0])?;
            let b = number(name, 1, inputs[1])?;
            let (Some(a), Some(b)) = (a, b) else {
                return Ok(Derived::Missing);
            };
            if matches!(op, Op::Difference) {
                finite(name, a - b)
            } else if b == 0.0 {
                Ok(Derived::Missing)
            } else {
                finite(name, a / b)
            }
        }
        Op::Log1p => match number(name, 0, inputs[0])? {
            None => Ok(Derived::Missing),
            Some(x) => finite(name, crate::features::log1p(x)),
        },
        Op::Clamp { min, max } => match number(name, 0, inputs[0])? {
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
        Op::Hour { utc_offset_minutes } => Ok(match time(inputs[0])? {
            None => Derived::Missing,
            Some(t) => Derived::Number(hour_of(t, *utc_offset_minutes) as f64),
        }),
        Op::Weekday { utc_offset_minutes } => Ok(match time(inputs[0])? {
            None => Derived::Missing,
            Some(t) => {
                let days = local_seconds(t, *utc_offset_minutes).div_euclid(86_400);
                // 1970-01-01 was a Thursday (3).
                Derived::Number((days + 3).rem_euclid(7) as f64)
            }
        }),
        Op::DayBucket { utc_offset_minutes, table } => Ok(match time(inputs[0])? {
            None => Derived::Missing,
            Some(t) => {
                let h = hour_of(t, *utc_offset_minutes);
                table
                    .iter()
                    .find(
                        |(first, last, _)| {
                            if first <= last { (*first..=*last).contains(&h) } else { h >= *first || h <= *last }
                        },
                    )
                    .map_or(Derived::Missing, |(_, _, n)| Derived::Text(n.clone()))
            }
        }),
        Op::Equals(want) => flag(name, inputs[0], |v| scalar_eq(v, want)),
        Op::InSet(set) => flag(name, inputs[0], |v| set.iter().any(|w| scalar_eq(v, w))),
        Op::CidrGroup(table) => {
            let Some(v) = present(inputs[0]) else {
                return Ok(Derived::Missing);
            };
            let text = v.as_text().map_err(|Coerce::WrongType(got)| {
                EventError::new("wrong_type", format!("{name}: the input should be an IP address, got {got}"))
            })?;
            let group = text.as_deref().and_then(|ip| table.lookup(ip));
            Ok(Derived::Text(group.unwrap_or("unknown").to_string()))
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
        Ok(Some(x)) => Err(EventError::new("non_finite", format!("{op}: input {} is {x}, not a finite number", i + 1))),
        Err(Coerce::WrongType(got)) => {
            Err(EventError::new("wrong_type", format!("{op}: input {} should be a number, got {got}", i + 1)))
        }
    }
}

fn finite(op: &str, x: f64) -> Result<Derived, EventError> {
    if x.is_finite() {
        Ok(Derived::Number(x))
    } else {
        Err(EventError::new("non_finite", format!("{op}: the result is {x}, not a finite number")))
    }
}

fn flag(op: &str, v: Option<&Scalar<'_>>, test: impl Fn(&Scalar<'_>) -> bool) -> Result<Derived, EventError> {
    let Some(v) = present(v) else {
        return Ok(Derived::Missing);
    };
    if let Scalar::Composite(kind) = v {
        return Err(EventError::new(
            "wrong_type",
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

/// Whole seconds since the epoch, shifted to local time.
fn local_seconds(t: f64, utc_offset_minutes: i32) -> i64 {
    // `t` is finite and within years 0000–9999 (give or take an offset), so
    // the cast is exact.
    t.floor() as i64 + i64::from(utc_offset_minutes) * 60
}

fn hour_of(t: f64, utc_offset_minutes: i32) -> u8 {
    (local_seconds(t, utc_offset_minutes).rem_euclid(86_400) / 3_600) as u8
}

// ---------------------------------------------------------------------------
// Time parsing

/// Epoch seconds of 0000-01-01T00:00:00Z.
const MIN_EPOCH: f64 = -62_167_219_200.0;
/// Epoch seconds of 10000-01-01T00:00:00Z.
const END_EPOCH: f64 = 253_402_300_800.0;

/// A time as seconds since the epoch: epoch seconds (a number or a numeric
/// string) or an ISO 8601 / RFC 3339 text; `Ok(None)` for `null`. Errors:
/// `bad_time` (unreadable text, or epoch seconds outside years 0000–9999),
/// `non_finite`, `wrong_type` (a boolean, array or object). See the
/// [module docs](self#time) for the accepted forms.
pub fn parse_time(v: &Scalar<'_>) -> Result<Option<f64>, EventError> {
    let epoch = |x: f64| -> Result<Option<f64>, EventError> {
        if !x.is_finite() {
            Err(EventError::new("non_finite", format!("the time {x} is not a finite number")))
        } else if !(MIN_EPOCH..END_EPOCH).contains(&x) {
            Err(EventError::new(
                "bad_time",
                format!("{x} epoch seconds is outside the years 0000-9999 (milliseconds or nanoseconds?)"),
            ))
        } else {
            Ok(Some(x))
        }
    };
    match v {
        Scalar::Null => Ok(None),
        Scalar::Number(x) => epoch(*x),
        Scalar::Str(s) => match v.as_number() {
            Ok(Some(x)) => epoch(x),
            _ => parse_iso(s).map(Some).ok_or_else(|| {
                EventError::new(
                    "bad_time",
                    format!("{:?} is not epoch seconds or an ISO 8601 time like 2018-03-24T17:15:21.104012Z", clip(s)),
                )
            }),
        },
        Scalar::Bool(b) => Err(EventError::new(
            "wrong_type",
            format!("a time should be epoch seconds or an ISO 8601 text, got the boolean {b}"),
        )),
        Scalar::Composite(kind) => Err(EventError::new(
            "wrong_type",
            format!("a time should be epoch seconds or an ISO 8601 text, got {kind}"),
        )),
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut v = 0i64;
        for _ in 0..n {
            let c = self.peek().filter(u8::is_ascii_digit)?;
            v = v * 10 + i64::from(c - b'0');
            self.at += 1;
        }
        Some(v)
    }
    fn done(&self) -> bool {
        self.at == self.b.len()
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_iso(s: &str) -> Option<f64> {
    let s = s.trim();
    let mut c = Cursor { b: s.as_bytes(), at: 0 };
    let year = c.digits(4)?;
    // `-` (ISO 8601), or `/` as Argus writes dates (`2013/12/17 22:09:19.5`);
    // the same separator both times.
    let sep = if c.eat(b'-') {
        b'-'
    } else if c.eat(b'/') {
        b'/'
    } else {
        return None;
    };
    let month = c.digits(2)?;
    c.eat(sep).then_some(())?;
    let day = c.digits(2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let month_days = [31, if is_leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if day < 1 || day > month_days[month as usize - 1] {
        return None;
    }
    let (mut hour, mut minute, mut second, mut frac) = (0, 0, 0, 0.0);
    let mut offset = 0i64;
    if !c.done() {
        if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
            return None;
        }
        hour = c.digits(2)?;
        c.eat(b':').then_some(())?;
        minute = c.digits(2)?;
        if c.eat(b':') {
            second = c.digits(2)?;
            if matches!(c.peek(), Some(b'.' | b',')) {
                let start = c.at;
                c.at += 1;
                while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                    c.at += 1;
                }
                if c.at == start + 1 {
                    return None;
                }
                let digits = &s[start + 1..c.at];
                frac = format!("0.{digits}").parse::<f64>().ok()?;
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        match c.peek() {
            None => {}
            Some(b'Z' | b'z') => c.at += 1,
            Some(sign @ (b'+' | b'-')) => {
                c.at += 1;
                let oh = c.digits(2)?;
                let om = if c.done() {
                    0
                } else {
                    c.eat(b':');
                    c.digits(2)?
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                offset = (oh * 60 + om) * 60;
                if sign == b'-' {
                    offset = -offset;
                }
            }
            Some(_) => return None,
        }
        if !c.done() {
            return None;
        }
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    Some(secs as f64 + frac)
}

// ---------------------------------------------------------------------------
// CIDR table

#[derive(Debug, Clone, PartialEq)]
struct Net {
    v6: bool,
    /// The network address (an IPv4 address in the low 32 bits).
    addr: u128,
    len: u8,
    group: String,
}

/// One address family's prefixes, longest first: `(length, network → entry)`.
type Prefixes = Vec<(u8, BTreeMap<u128, usize>)>;

/// IP networks mapped to group names; longest prefix wins. See the
/// [module docs](self#cidr-groups) for the text format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CidrTable {
    nets: Vec<Net>,
    v4: Prefixes,
    v6: Prefixes,
}

fn width(v6: bool) -> u8 {
    if v6 { 128 } else { 32 }
}

fn mask(v6: bool, len: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let w = u32::from(width(v6));
    (u128::MAX >> (128 - w)) & (u128::MAX << (w - u32::from(len)))
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(a) => (false, u128::from(u32::from(a))),
            None => (true, u128::from(a)),
        },
    }
}

fn net_text(v6: bool, addr: u128, len: u8) -> String {
    if v6 {
        format!("{}/{len}", std::net::Ipv6Addr::from(addr))
    } else {
        format!("{}/{len}", std::net::Ipv4Addr::from(addr as u32))
    }
}

impl CidrTable {
    /// Parse the table text: one `CIDR,group` per line. Errors are
    /// `line N: …`.
    pub fn parse(text: &str) -> Result<CidrTable, String> {
        let mut table = CidrTable::default();
        let mut lines_of: Vec<usize> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((cidr, group)) = line.split_once(',') else {
                return Err(format!("line {n}: expected `CIDR,group`, got {:?}", clip(line)));
            };
            let (cidr, group) = (cidr.trim(), group.trim());
            if group.is_empty() {
                return Err(format!("line {n}: the group of {cidr} is empty"));
            }
            let (addr_text, len_text) = match cidr.split_once('/') {
                Some((a, l)) => (a.trim(), Some(l.trim())),
                None => (cidr, None),
            };
            let ip: IpAddr = addr_text
                .parse()
                .map_err(|_| format!("line {n}: {:?} is not an IPv4 or IPv6 address", clip(addr_text)))?;
            let v6 = ip.is_ipv6();
            let addr = match ip {
                IpAddr::V4(a) => u128::from(u32::from(a)),
                IpAddr::V6(a) => u128::from(a),
            };
            let w = width(v6);
            let len = match len_text {
                None => w,
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|&x| x <= w && !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("line {n}: prefix length {l:?} is not a number from 0 to {w}"))?,
            };
            let net = addr & mask(v6, len);
            if net != addr {
                return Err(format!("line {n}: {cidr} has host bits set (did you mean {}?)", net_text(v6, net, len)));
            }
            let prefixes = if v6 { &mut table.v6 } else { &mut table.v4 };
            let slot = match prefixes.iter().position(|(l, _)| *l == len) {
                Some(p) => p,
                None => {
                    let p = prefixes.iter().position(|(l, _)| *l < len).unwrap_or(prefixes.len());
                    prefixes.insert(p, (len, BTreeMap::new()));
                    p
                }
            };
            if let Some(&old) = prefixes[slot].1.get(&net) {
                if table.nets[old].group != group {
                    return Err(format!(
                        "line {n}: {} is already in group {:?} (line {})",
                        net_text(v6, net, len),
                        table.nets[old].group,
                        lines_of[old]
                    ));
                }
                continue;
            }
            prefixes[slot].1.insert(net, table.nets.len());
            table.nets.push(Net { v6, addr: net, len, group: group.to_string() });
            lines_of.push(n);
        }
        Ok(table)
    }

    /// The group of the longest prefix containing `ip`, or `None` when no
    /// prefix does or `ip` is not an IP address.
    pub fn lookup(&self, ip: &str) -> Option<&str> {
        let (v6, bits) = ip_bits(ip.parse::<IpAddr>().ok()?);
        let prefixes = if v6 { &self.v6 } else { &self.v4 };
        prefixes.iter().find_map(|(len, nets)| nets.get(&(bits & mask(v6, *len))).map(|&i| self.nets[i].group.as_str()))
    }

    /// The entries in file order, as `("10.1.0.0/16", "engineering")`
    /// (a bare address written with its /32 or /128; repeats dropped).
    pub fn entries(&self) -> Vec<(String, String)> {
        self.nets.iter().map(|n| (net_text(n.v6, n.addr, n.len), n.group.clone())).collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

impl fmt::Display for CidrTable {
    /// The table as text [`CidrTable::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (cidr, group) in self.entries() {
            writeln!(f, "{cidr},{group}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Inter-arrival

/// Seconds since the previous event, overall or per key, with a bound on
/// the number of keys. See the [module docs](self#inter-arrival-times).
#[derive(Debug, Clone)]
pub struct InterArrival {
    max_keys: usize,
    /// key → (latest timestamp, stamp of its last push).
    keys: HashMap<String, (f64, u64)>,
    /// stamp of last push → key; the first entry is the least recently pushed.
    order: BTreeMap<u64, String>,
    clock: u64,
    evicted: u64,
}

impl InterArrival {
    /// Remember at most `max_keys` keys (0 is taken as 1).
    pub fn new(max_keys: usize) -> Self {
        InterArrival { max_keys: max_keys.max(1), keys: HashMap::new(), order: BTreeMap::new(), clock: 0, evicted: 0 }
    }

    /// Record an event of `key` (`""` for the whole stream) at `ts` epoch
    /// seconds; returns `ts` minus the latest earlier timestamp of the key
    /// (negative for an event older than that), or `None` for the key's
    /// first event (or its first since it was forgotten). A non-finite `ts`
    /// is ignored and gives `None`.
    pub fn push(&mut self, key: &str, ts: f64) -> Option<f64> {
        if !ts.is_finite() {
            return None;
        }
        self.clock += 1;
        let stamp = self.clock;
        if let Some((latest, last)) = self.keys.get_mut(key) {
            let prev = *latest;
            let name = self.order.remove(last).unwrap_or_else(|| key.to_string());
            self.order.insert(stamp, name);
            *last = stamp;
            *latest = prev.max(ts);
            return Some(ts - prev);
        }
        if self.keys.len() >= self.max_keys
            && let Some((_, old)) = self.order.pop_first()
        {
            self.keys.remove(&old);
            self.evicted += 1;
        }
        self.keys.insert(key.to_string(), (ts, stamp));
        self.order.insert(stamp, key.to_string());
        None
    }

    /// How many keys have been forgotten to stay within `max_keys`.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// How many keys are remembered now.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

// ---------------------------------------------------------------------------
// Filters

/// A filter comparison. See the [module docs](self#filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// Equal to `value`.
    Eq,
    /// Not equal to `value` (true when the field is missing).
    Ne,
    /// Less than `value`.
    Lt,
    /// Less than or equal to `value`.
    Le,
    /// Greater than `value`.
    Gt,
    /// Greater than or equal to `value`.
    Ge,
    /// Equal to one of `values`.
    In,
    /// Equal to none of `values` (true when the field is missing).
    NotIn,
    /// The field is present and not `null`.
    Exists,
    /// The field is absent or `null`.
    Missing,
}

/// One `where` condition on a field's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The comparison.
    pub op: CmpOp,
    /// The operand of `Eq`, `Ne`, `Lt`, `Le`, `Gt`, `Ge`.
    pub value: Option<Scalar<'static>>,
    /// The operands of `In`, `NotIn`.
    pub values: Vec<Scalar<'static>>,
}

/// Whether a field's value (`None` = absent) satisfies the condition.
pub fn matches(cond: &Condition, v: Option<&Scalar<'_>>) -> bool {
    let v = present(v);
    match cond.op {
        CmpOp::Exists => v.is_some(),
        CmpOp::Missing => v.is_none(),
        CmpOp::Eq => v.zip(cond.value.as_ref()).is_some_and(|(v, w)| scalar_eq(v, w)),
        CmpOp::Ne => !v.zip(cond.value.as_ref()).is_some_and(|(v, w)| scalar_eq(v, w)),
        CmpOp::In => v.is_some_and(|v| cond.values.iter().any(|w| scalar_eq(v, w))),
        CmpOp::NotIn => !v.is_some_and(|v| cond.values.iter().any(|w| scalar_eq(v, w))),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let Some(ord) = v.zip(cond.value.as_ref()).and_then(|(v, w)| scalar_cmp(v, w)) else {
                return false;
            };
            match cond.op {
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }
        }
    }
}

/// A value as a number, if it coerces to one that is not NaN.
fn num(v: &Scalar<'_>) -> Option<f64> {
    v.as_number().ok().flatten().filter(|x| !x.is_nan())
}

/// Equality as in the module docs: numbers, else texts; null and composites
/// equal nothing.
fn scalar_eq(a: &Scalar<'_>, b: &Scalar<'_>) -> bool {
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return x == y;
    }
    match (a.as_text(), b.as_text()) {
        (Ok(Some(x)), Ok(Some(y))) => x == y,
        _ => false,
    }
}

/// Order as in the module docs; `None` when incomparable.
fn scalar_cmp(a: &Scalar<'_>, b: &Scalar<'_>) -> Option<Ordering> {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        (None, None) => match (a.as_text(), b.as_text()) {
            (Ok(Some(x)), Ok(Some(y))) => Some(x.as_ref().cmp(y.as_ref())),
            _ => None,
        },
        _ => None,
    }
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: f64) -> Scalar<'static> {
        Scalar::Number(x)
    }
    fn s(t: &str) -> Scalar<'static> {
        Scalar::Str(Cow::Owned(t.to_string()))
    }
    fn run(op: &Op, inputs: &[Option<Scalar<'static>>]) -> Result<Derived, EventError> {
        let refs: Vec<Option<&Scalar>> = inputs.iter().map(Option::as_ref).collect();
        apply(op, &refs)
    }
    fn ok(op: &Op, inputs: &[Option<Scalar<'static>>]) -> Derived {
        run(op, inputs).unwrap()
    }
    fn reason(op: &Op, inputs: &[Option<Scalar<'static>>]) -> &'static str {
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
        assert_eq!(ok(&Op::Product, &[Some(n(3.0)), Some(n(1500.0))]), Derived::Number(4500.0));
        assert_eq!(ok(&Op::Product, &[Some(n(2.0)), Some(s("3")), Some(Scalar::Bool(true))]), Derived::Number(6.0));
        assert_eq!(ok(&Op::Sum, &[Some(n(2.5)), Some(n(-1.0))]), Derived::Number(1.5));
        assert_eq!(ok(&Op::Sum, &[Some(n(7.0))]), Derived::Number(7.0));
        assert_eq!(ok(&Op::Difference, &[Some(n(10.0)), Some(n(4.0))]), Derived::Number(6.0));
        assert_eq!(ok(&Op::Ratio, &[Some(n(10.0)), Some(n(4.0))]), Derived::Number(2.5));
        assert_eq!(ok(&Op::Ratio, &[Some(n(10.0)), Some(n(0.0))]), Derived::Missing);
        assert_eq!(ok(&Op::Ratio, &[Some(n(0.0)), Some(n(-0.0))]), Derived::Missing);
        assert_eq!(ok(&Op::Ratio, &[Some(n(0.0)), Some(n(5.0))]), Derived::Number(0.0));
        assert_eq!(ok(&Op::Log1p, &[Some(n(0.0))]), Derived::Number(0.0));
        assert_eq!(
            ok(&Op::Log1p, &[Some(n(std::f64::consts::E - 1.0))]),
            Derived::Number(libm::log1p(std::f64::consts::E - 1.0))
        );
        assert!((num_of(ok(&Op::Log1p, &[Some(n(std::f64::consts::E - 1.0))])) - 1.0).abs() < 1e-15);
        let clamp = Op::Clamp { min: Some(0.0), max: Some(10.0) };
        assert_eq!(ok(&clamp, &[Some(n(-3.0))]), Derived::Number(0.0));
        assert_eq!(ok(&clamp, &[Some(n(3.0))]), Derived::Number(3.0));
        assert_eq!(ok(&clamp, &[Some(n(30.0))]), Derived::Number(10.0));
        assert_eq!(ok(&Op::Clamp { min: None, max: Some(1.0) }, &[Some(n(-30.0))]), Derived::Number(-30.0));
        assert_eq!(ok(&Op::Clamp { min: Some(1.0), max: None }, &[Some(n(30.0))]), Derived::Number(30.0));
        assert_eq!(ok(&Op::Clamp { min: Some(5.0), max: Some(1.0) }, &[Some(n(3.0))]), Derived::Number(1.0));
    }

    #[test]
    fn missing_inputs_give_missing() {
        for op in [Op::Product, Op::Sum, Op::Difference, Op::Ratio] {
            assert_eq!(ok(&op, &[None, Some(n(2.0))]), Derived::Missing, "{op:?}");
            assert_eq!(ok(&op, &[Some(n(2.0)), Some(Scalar::Null)]), Derived::Missing, "{op:?}");
        }
        assert_eq!(ok(&Op::Product, &[Some(n(2.0)), Some(n(2.0)), None]), Derived::Missing);
        let one = [
            Op::Log1p,
            Op::Clamp { min: Some(0.0), max: None },
            Op::Hour { utc_offset_minutes: 0 },
            Op::Weekday { utc_offset_minutes: 0 },
            Op::DayBucket { utc_offset_minutes: 0, table: default_day_buckets() },
            Op::Equals(n(22.0)),
            Op::InSet(vec![s("a")]),
            Op::CidrGroup(CidrTable::parse("10.0.0.0/8,a").unwrap()),
        ];
        for op in &one {
            assert_eq!(ok(op, &[None]), Derived::Missing, "{op:?}");
            assert_eq!(ok(op, &[Some(Scalar::Null)]), Derived::Missing, "{op:?}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(reason(&Op::Product, &[Some(n(2.0)), Some(s("abc"))]), "wrong_type");
        assert_eq!(reason(&Op::Sum, &[Some(Scalar::Composite("an array"))]), "wrong_type");
        // A wrong type is reported even when another input is missing.
        assert_eq!(reason(&Op::Ratio, &[None, Some(s("x"))]), "wrong_type");
        assert_eq!(reason(&Op::Log1p, &[Some(s("abc"))]), "wrong_type");
        assert_eq!(reason(&Op::Log1p, &[Some(n(-2.0))]), "non_finite");
        assert_eq!(reason(&Op::Log1p, &[Some(n(-1.0))]), "non_finite");
        assert_eq!(reason(&Op::Product, &[Some(n(1e200)), Some(n(1e200))]), "non_finite");
        assert_eq!(reason(&Op::Sum, &[Some(n(f64::MAX)), Some(n(f64::MAX))]), "non_finite");
        assert_eq!(reason(&Op::Ratio, &[Some(n(1e300)), Some(n(1e-300))]), "non_finite");
        assert_eq!(reason(&Op::Sum, &[Some(s("inf"))]), "non_finite");
        assert_eq!(reason(&Op::Clamp { min: None, max: None }, &[Some(s("NaN"))]), "non_finite");
        assert_eq!(reason(&Op::Ratio, &[Some(n(1.0))]), "bad_arity");
        assert_eq!(reason(&Op::Ratio, &[Some(n(1.0)), Some(n(1.0)), Some(n(1.0))]), "bad_arity");
        assert_eq!(reason(&Op::Product, &[]), "bad_arity");
        assert_eq!(reason(&Op::Log1p, &[Some(n(1.0)), Some(n(1.0))]), "bad_arity");
        assert_eq!(reason(&Op::Equals(n(1.0)), &[Some(Scalar::Composite("an object"))]), "wrong_type");
        assert_eq!(reason(&Op::InSet(vec![n(1.0)]), &[Some(Scalar::Composite("an array"))]), "wrong_type");
        let cidr = Op::CidrGroup(CidrTable::parse("10.0.0.0/8,a").unwrap());
        assert_eq!(reason(&cidr, &[Some(Scalar::Composite("an array"))]), "wrong_type");
        let hour = Op::Hour { utc_offset_minutes: 0 };
        assert_eq!(reason(&hour, &[Some(s("yesterday"))]), "bad_time");
        assert_eq!(reason(&hour, &[Some(Scalar::Bool(true))]), "wrong_type");
        assert_eq!(reason(&hour, &[Some(n(1.713484800e12))]), "bad_time");
        let e = run(&Op::Product, &[Some(n(2.0)), Some(s("abc"))]).unwrap_err();
        assert!(e.detail.contains("input 2"), "{}", e.detail);
    }

    #[test]
    fn hour_weekday_bucket() {
        let t = [Some(n(1_713_484_800.0))]; // 2024-04-19 00:00:00 UTC, a Friday
        let hour = |off| Op::Hour { utc_offset_minutes: off };
        let wd = |off| Op::Weekday { utc_offset_minutes: off };
        let bucket = |off| Op::DayBucket { utc_offset_minutes: off, table: default_day_buckets() };
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
        let op = Op::DayBucket { utc_offset_minutes: 0, table: vec![(22, 1, "late".into()), (9, 17, "work".into())] };
        let at = |h: f64| [Some(n(1_713_484_800.0 + h * 3600.0))];
        assert_eq!(ok(&op, &at(23.0)), text("late"));
        assert_eq!(ok(&op, &at(0.0)), text("late"));
        assert_eq!(ok(&op, &at(1.0)), text("late"));
        assert_eq!(ok(&op, &at(12.0)), text("work"));
        assert_eq!(ok(&op, &at(5.0)), Derived::Missing);
        assert_eq!(ok(&op, &at(21.0)), Derived::Missing);
    }

    fn time(t: &str) -> f64 {
        parse_time(&s(t)).unwrap().unwrap()
    }

    #[test]
    fn iso_times() {
        assert_eq!(time("2018-03-24T17:15:21Z"), 1_521_911_721.0);
        assert_eq!(time("2018-03-24T17:15:21"), 1_521_911_721.0);
        assert_eq!(time("2018-03-24 17:15:21"), 1_521_911_721.0);
        assert_eq!(time("2018-03-24t17:15:21z"), 1_521_911_721.0);
        assert_eq!(time("2018-03-24T17:15:21.104012Z"), 1_521_911_721.104012);
        assert_eq!(time("2018-03-24T17:15:21,5Z"), 1_521_911_721.5);
        assert_eq!(time("2018-03-24T19:15:21+02:00"), 1_521_911_721.0);
        assert_eq!(time("2018-03-24T19:15:21.25+0200"), 1_521_911_721.25);
        assert_eq!(time("2018-03-24T12:15:21-05"), 1_521_911_721.0);
        assert_eq!(time("2018-03-24T17:15:21-00:00"), 1_521_911_721.0);
        assert_eq!(time("2018-03-24T17:15Z"), 1_521_911_700.0);
        assert_eq!(time(" 2018-03-24T17:15:21Z\n"), 1_521_911_721.0);
        assert_eq!(time("2024-04-19"), 1_713_484_800.0);
        assert_eq!(time("1970-01-01T00:00:00Z"), 0.0);
        assert_eq!(time("1969-12-31T23:59:59.5Z"), -0.5);
        assert_eq!(time("2000-01-01T00:00:00Z"), 946_684_800.0);
        // Around leap days: 2024 is a leap year, 2100 and 1900 are not, 2000 is.
        assert_eq!(time("2024-02-28T00:00:00Z"), 1_709_078_400.0);
        assert_eq!(time("2024-02-29T00:00:00Z"), 1_709_164_800.0);
        assert_eq!(time("2024-03-01T00:00:00Z"), 1_709_251_200.0);
        assert_eq!(time("2023-03-01T00:00:00Z"), 1_677_628_800.0);
        assert_eq!(time("2000-02-29T00:00:00Z"), 951_782_400.0);
        assert_eq!(time("2000-03-01T00:00:00Z"), 951_868_800.0);
        assert_eq!(time("2100-03-01T00:00:00Z"), 4_107_542_400.0);
        assert_eq!(time("1900-03-01T00:00:00Z"), -2_203_891_200.0);
        assert_eq!(time("2038-01-19T03:14:08Z"), 2_147_483_648.0);
        // Numbers and numeric strings are epoch seconds.
        assert_eq!(parse_time(&n(1_521_911_721.5)).unwrap(), Some(1_521_911_721.5));
        assert_eq!(time("1521911721.5"), 1_521_911_721.5);
        assert_eq!(parse_time(&Scalar::Null).unwrap(), None);
        for bad in [
            "",
            "yesterday",
            "2018-3-24",
            "2018-03-24T",
            "2018-03-24T17",
            "2018-13-01",
            "2018-00-10",
            "2023-02-29",
            "2100-02-29",
            "2018-04-31",
            "2018-03-24T24:00:00Z",
            "2018-03-24T17:60:00Z",
            "2018-03-24T17:15:60Z",
            "2018-03-24T17:15:21.Z",
            "2018-03-24T17:15:21+2",
            "2018-03-24T17:15:21+24:00",
            "2018-03-24T17:15:21Zjunk",
            "20180324T171521Z",
            "2018-03-24X17:15:21",
        ] {
            assert_eq!(parse_time(&s(bad)).unwrap_err().reason, "bad_time", "{bad:?}");
        }
        assert_eq!(parse_time(&n(1.7e12)).unwrap_err().reason, "bad_time");
        assert_eq!(parse_time(&n(-1e11)).unwrap_err().reason, "bad_time");
        assert_eq!(parse_time(&n(f64::INFINITY)).unwrap_err().reason, "non_finite");
        assert_eq!(parse_time(&Scalar::Bool(false)).unwrap_err().reason, "wrong_type");
        assert_eq!(parse_time(&Scalar::Composite("an array")).unwrap_err().reason, "wrong_type");
    }

    #[test]
    fn iso_matches_civil_days_for_every_day_of_several_years() {
        // Walk day by day from 1899-12-31 and check each date's epoch value
        // against a running count (covers every month end and leap day).
        let mut epoch = time("1899-12-31T00:00:00Z");
        assert_eq!(epoch, -2_209_075_200.0);
        let mut checked = 0;
        for y in 1900..=2104i64 {
            for m in 1..=12i64 {
                let days = match m {
                    2 if is_leap(y) => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                for d in 1..=days {
                    epoch += 86_400.0;
                    assert_eq!(time(&format!("{y:04}-{m:02}-{d:02}T00:00:00Z")), epoch);
                    checked += 1;
                }
                assert!(parse_time(&s(&format!("{y:04}-{m:02}-{:02}", days + 1))).is_err());
            }
        }
        assert_eq!(checked, 74_875);
    }

    const TABLE: &str = "\
# departments
10.0.0.0/8, corp
10.1.0.0/16,engineering   # the lab
10.1.2.3,ceo-laptop

192.168.0.0/16,guest
2001:db8::/32,v6corp
2001:db8:1::/48,v6eng
0.0.0.0/0,internet
";

    #[test]
    fn cidr_longest_prefix() {
        let t = CidrTable::parse(TABLE).unwrap();
        assert_eq!(t.len(), 7);
        assert_eq!(t.lookup("10.9.9.9"), Some("corp"));
        assert_eq!(t.lookup("10.1.9.9"), Some("engineering"));
        assert_eq!(t.lookup("10.1.2.3"), Some("ceo-laptop"));
        assert_eq!(t.lookup("10.1.2.4"), Some("engineering"));
        assert_eq!(t.lookup("192.168.200.1"), Some("guest"));
        assert_eq!(t.lookup("8.8.8.8"), Some("internet"));
        assert_eq!(t.lookup("2001:db8:1:2::5"), Some("v6eng"));
        assert_eq!(t.lookup("2001:db8:2::5"), Some("v6corp"));
        assert_eq!(t.lookup("2001:0db8:0001:0000:0000:0000:0000:0001"), Some("v6eng"));
        // IPv6 outside every v6 prefix: the IPv4 default does not apply.
        assert_eq!(t.lookup("fe80::1"), None);
        // IPv4-mapped IPv6 is looked up as IPv4.
        assert_eq!(t.lookup("::ffff:10.1.2.3"), Some("ceo-laptop"));
        for not_ip in ["", "-", "host.example", "10.1.2", "10.1.2.3.4", "256.1.1.1", " 10.1.2.3", "fe80::1%eth0", "22"]
        {
            assert_eq!(t.lookup(not_ip), None, "{not_ip:?}");
        }
        // Order in the file does not matter: the longest prefix wins.
        let rev: String = TABLE.lines().rev().map(|l| format!("{l}\n")).collect();
        let r = CidrTable::parse(&rev).unwrap();
        assert_eq!(r.lookup("10.1.2.3"), Some("ceo-laptop"));
        assert_eq!(r.lookup("10.1.9.9"), Some("engineering"));
        assert_eq!(r.lookup("10.9.9.9"), Some("corp"));
        // /0 and /32 edges without a default.
        let t2 = CidrTable::parse("10.0.0.0/8,a\n::/0,any6\n::1/128,lo").unwrap();
        assert_eq!(t2.lookup("11.0.0.0"), None);
        assert_eq!(t2.lookup("::1"), Some("lo"));
        assert_eq!(t2.lookup("::2"), Some("any6"));
    }

    #[test]
    fn cidr_entries_round_trip() {
        let t = CidrTable::parse(TABLE).unwrap();
        assert_eq!(
            t.entries(),
            [
                ("10.0.0.0/8", "corp"),
                ("10.1.0.0/16", "engineering"),
                ("10.1.2.3/32", "ceo-laptop"),
                ("192.168.0.0/16", "guest"),
                ("2001:db8::/32", "v6corp"),
                ("2001:db8:1::/48", "v6eng"),
                ("0.0.0.0/0", "internet"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(CidrTable::parse(&t.to_string()).unwrap(), t);
        // A repeat with the same group is dropped.
        let d = CidrTable::parse("10.0.0.0/8,a\n10.0.0.0/8, a").unwrap();
        assert_eq!(d.len(), 1);
        assert!(CidrTable::parse("# nothing\n\n").unwrap().is_empty());
    }

    #[test]
    fn cidr_errors_name_the_line() {
        let err = |text: &str| CidrTable::parse(text).unwrap_err();
        let e = err("10.0.0.0/8,a\n\n10.0.0.0/33,b");
        assert!(e.starts_with("line 3:") && e.contains("33"), "{e}");
        let e = err("# c\n10.0.0.0/8");
        assert!(e.starts_with("line 2:") && e.contains("CIDR,group"), "{e}");
        let e = err("10.0.0.0/8,a\nnot-an-ip,b");
        assert!(e.starts_with("line 2:") && e.contains("not-an-ip"), "{e}");
        let e = err("10.0.0.0/8,");
        assert!(e.starts_with("line 1:") && e.contains("empty"), "{e}");
        let e = err("\n10.1.2.3/16,a");
        assert!(e.starts_with("line 2:") && e.contains("10.1.0.0/16"), "{e}");
        let e = err("10.0.0.0/8,a\n10.0.0.0/8,b");
        assert!(e.starts_with("line 2:") && e.contains("line 1"), "{e}");
        for bad in ["10.0.0.0/,a", "10.0.0.0/+8,a", "10.0.0.0/x,a", "2001:db8::/129,a", "010.0.0.1,a"] {
            assert!(err(bad).starts_with("line 1:"), "{bad}");
        }
        assert!(CidrTable::parse("2001:db8::/128,a").is_ok());
    }

    #[test]
    fn cidr_group_op() {
        let op = Op::CidrGroup(CidrTable::parse(TABLE).unwrap());
        assert_eq!(ok(&op, &[Some(s("10.1.2.3"))]), text("ceo-laptop"));
        assert_eq!(ok(&op, &[Some(s("10.200.0.1"))]), text("corp"));
        assert_eq!(ok(&op, &[Some(s("fe80::1"))]), text("unknown"));
        assert_eq!(ok(&op, &[Some(s("not an ip"))]), text("unknown"));
        assert_eq!(ok(&op, &[Some(n(22.0))]), text("unknown"));
        assert_eq!(ok(&op, &[Some(Scalar::Bool(true))]), text("unknown"));
    }

    #[test]
    fn inter_arrival() {
        let mut ia = InterArrival::new(10);
        assert_eq!(ia.push("", 100.0), None);
        assert_eq!(ia.push("", 101.5), Some(1.5));
        assert_eq!(ia.push("", 101.5), Some(0.0));
        assert_eq!(ia.push("", 110.0), Some(8.5));
        // Out of order: negative, and the latest stays 110.
        assert_eq!(ia.push("", 105.0), Some(-5.0));
        assert_eq!(ia.push("", 112.0), Some(2.0));
        assert_eq!(ia.push("", f64::NAN), None);
        assert_eq!(ia.push("", 113.0), Some(1.0));

        let mut ia = InterArrival::new(10);
        assert_eq!(ia.push("10.0.0.1", 10.0), None);
        assert_eq!(ia.push("10.0.0.2", 11.0), None);
        assert_eq!(ia.push("10.0.0.1", 15.0), Some(5.0));
        assert_eq!(ia.push("10.0.0.2", 20.0), Some(9.0));
        assert_eq!(ia.push("10.0.0.1", 15.5), Some(0.5));
        assert_eq!(ia.len(), 2);
        assert_eq!(ia.evicted(), 0);
    }

    #[test]
    fn inter_arrival_evicts_least_recently_seen() {
        let mut ia = InterArrival::new(2);
        assert_eq!(ia.push("a", 1.0), None);
        assert_eq!(ia.push("b", 2.0), None);
        assert_eq!(ia.push("a", 3.0), Some(2.0)); // a is now more recent than b
        assert_eq!(ia.push("c", 4.0), None); // evicts b
        assert_eq!(ia.evicted(), 1);
        assert_eq!(ia.len(), 2);
        assert_eq!(ia.push("a", 5.0), Some(2.0)); // a kept
        assert_eq!(ia.push("b", 6.0), None); // b was forgotten: a first event again; evicts c
        assert_eq!(ia.evicted(), 2);
        assert_eq!(ia.push("c", 7.0), None); // evicts a
        assert_eq!(ia.evicted(), 3);
        assert_eq!(ia.push("b", 8.0), Some(2.0));
        let mut zero = InterArrival::new(0);
        assert_eq!(zero.push("x", 1.0), None);
        assert_eq!(zero.push("x", 2.0), Some(1.0));
        assert_eq!(zero.push("y", 3.0), None);
        assert_eq!(zero.evicted(), 1);
    }

    fn cond(op: CmpOp, value: Option<Scalar<'static>>) -> Condition {
        Condition { op, value, values: Vec::new() }
    }
    fn set(op: CmpOp, values: Vec<Scalar<'static>>) -> Condition {
        Condition { op, value: None, values }
    }

    #[test]
    fn filter_table() {
        use CmpOp::*;
        let b = Scalar::Bool;
        let composite = Scalar::Composite("an array");
        // (condition, field value, expected)
        let cases: Vec<(Condition, Option<Scalar<'static>>, bool)> = vec![
            (cond(Eq, Some(n(22.0))), Some(n(22.0)), true),
            (cond(Eq, Some(n(22.0))), Some(s("22")), true),
            (cond(Eq, Some(s("22"))), Some(n(22.0)), true),
            (cond(Eq, Some(s("22.0"))), Some(n(22.0)), true),
            (cond(Eq, Some(n(22.0))), Some(s("ssh")), false),
            (cond(Eq, Some(n(22.0))), Some(n(23.0)), false),
            (cond(Eq, Some(b(false))), Some(b(false)), true),
            (cond(Eq, Some(b(false))), Some(b(true)), false),
            (cond(Eq, Some(b(false))), Some(s("false")), true),
            (cond(Eq, Some(s("false"))), Some(b(false)), true),
            (cond(Eq, Some(b(true))), Some(n(1.0)), true),
            (cond(Eq, Some(b(false))), Some(s("F")), false),
            (cond(Eq, Some(s("tcp"))), Some(s("tcp")), true),
            (cond(Eq, Some(s("tcp"))), Some(s("TCP")), false),
            (cond(Eq, Some(s("tcp"))), None, false),
            (cond(Eq, Some(s("tcp"))), Some(Scalar::Null), false),
            (cond(Eq, Some(s("tcp"))), Some(composite.clone()), false),
            (cond(Eq, None), Some(s("tcp")), false),
            (cond(Eq, Some(Scalar::Null)), Some(Scalar::Null), false),
            (cond(Eq, Some(s("nan"))), Some(s("nan")), true),
            (cond(Ne, Some(s("icmp"))), Some(s("tcp")), true),
            (cond(Ne, Some(s("icmp"))), Some(s("icmp")), false),
            (cond(Ne, Some(s("icmp"))), None, true),
            (cond(Ne, Some(s("icmp"))), Some(Scalar::Null), true),
            (cond(Ne, Some(n(22.0))), Some(s("22")), false),
            (cond(Lt, Some(n(5.0))), Some(n(4.5)), true),
            (cond(Lt, Some(n(5.0))), Some(n(5.0)), false),
            (cond(Le, Some(n(5.0))), Some(n(5.0)), true),
            (cond(Le, Some(n(5.0))), Some(s("5")), true),
            (cond(Gt, Some(n(5.0))), Some(s("10")), true),
            (cond(Gt, Some(s("9"))), Some(s("10")), true),
            (cond(Ge, Some(n(5.0))), Some(n(4.0)), false),
            (cond(Ge, Some(n(5.0))), Some(n(5.0)), true),
            (cond(Lt, Some(n(5.0))), Some(s("-")), false),
            (cond(Gt, Some(n(5.0))), Some(s("-")), false),
            (cond(Lt, Some(n(5.0))), None, false),
            (cond(Ge, Some(n(5.0))), Some(Scalar::Null), false),
            (cond(Lt, Some(s("b"))), Some(s("a")), true),
            (cond(Gt, Some(s("b"))), Some(s("a")), false),
            (cond(Lt, None), Some(n(1.0)), false),
            (cond(Lt, Some(n(1.0))), Some(composite.clone()), false),
            (set(In, vec![s("dns"), s("http")]), Some(s("http")), true),
            (set(In, vec![s("dns"), s("http")]), Some(s("ssh")), false),
            (set(In, vec![n(22.0), n(3389.0)]), Some(s("22")), true),
            (set(In, vec![s("dns")]), None, false),
            (set(In, vec![]), Some(s("dns")), false),
            (set(NotIn, vec![s("dns"), s("http")]), Some(s("ssh")), true),
            (set(NotIn, vec![s("dns"), s("http")]), Some(s("dns")), false),
            (set(NotIn, vec![s("dns")]), None, true),
            (set(NotIn, vec![s("dns")]), Some(Scalar::Null), true),
            (cond(Exists, None), Some(s("")), true),
            (cond(Exists, None), Some(b(false)), true),
            (cond(Exists, None), Some(Scalar::Null), false),
            (cond(Exists, None), None, false),
            (cond(Missing, None), None, true),
            (cond(Missing, None), Some(Scalar::Null), true),
            (cond(Missing, None), Some(n(0.0)), false),
        ];
        for (i, (c, v, want)) in cases.iter().enumerate() {
            assert_eq!(matches(c, v.as_ref()), *want, "case {i}: {c:?} on {v:?}");
        }
    }

    #[test]
    fn equals_and_in_set_flags() {
        let port22 = Op::Equals(n(22.0));
        assert_eq!(ok(&port22, &[Some(n(22.0))]), Derived::Number(1.0));
        assert_eq!(ok(&port22, &[Some(s("22"))]), Derived::Number(1.0));
        assert_eq!(ok(&port22, &[Some(n(443.0))]), Derived::Number(0.0));
        assert_eq!(ok(&port22, &[Some(s("ssh"))]), Derived::Number(0.0));
        let no = Op::Equals(Scalar::Bool(false));
        assert_eq!(ok(&no, &[Some(Scalar::Bool(false))]), Derived::Number(1.0));
        assert_eq!(ok(&no, &[Some(s("false"))]), Derived::Number(1.0));
        assert_eq!(ok(&no, &[Some(Scalar::Bool(true))]), Derived::Number(0.0));
        let hosts = Op::InSet(vec![s("10.0.0.1"), s("10.0.0.2")]);
        assert_eq!(ok(&hosts, &[Some(s("10.0.0.2"))]), Derived::Number(1.0));
        assert_eq!(ok(&hosts, &[Some(s("10.0.0.3"))]), Derived::Number(0.0));
        assert_eq!(ok(&Op::InSet(vec![]), &[Some(s("x"))]), Derived::Number(0.0));
    }

    #[test]
    fn derived_to_scalar() {
        assert_eq!(Derived::Number(2.0).to_scalar(), Some(n(2.0)));
        assert_eq!(Derived::Text("a".into()).to_scalar(), Some(s("a")));
        assert_eq!(Derived::Missing.to_scalar(), None);
        let d = ok(&Op::Product, &[Some(n(3.0)), Some(n(4.0))]);
        let c = cond(CmpOp::Gt, Some(n(10.0)));
        assert!(matches(&c, d.to_scalar().as_ref()));
    }

    #[test]
    fn argus_slash_dates_parse() {
        let t = |x: &str| parse_time(&Scalar::Str(x.to_string().into())).unwrap().unwrap();
        // 2013-12-17 22:09:19 UTC = 1387318159
        assert_eq!(t("2013/12/17 22:09:19"), 1_387_318_159.0);
        assert!((t("2013/12/17 22:09:19.500617") - 1_387_318_159.500617).abs() < 1e-6);
        assert!(parse_time(&Scalar::Str("2013/12-17 22:09:19".into())).is_err());
    }
}
