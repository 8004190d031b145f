//! Times: epoch seconds or ISO 8601 texts, read as seconds since the epoch.
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

use crate::event::{EventError, Scalar, clip};
use crate::reason::Reason;

/// Epoch seconds of 0000-01-01T00:00:00Z.
const MIN_EPOCH: f64 = -62_167_219_200.0;
/// Epoch seconds of 10000-01-01T00:00:00Z.
const END_EPOCH: f64 = 253_402_300_800.0;

/// A time as seconds since the epoch: epoch seconds (a number or a numeric
/// string) or an ISO 8601 / RFC 3339 text; `Ok(None)` for `null`. Errors:
/// `bad_time` (unreadable text, or epoch seconds outside years 0000–9999),
/// `non_finite`, `wrong_type` (a boolean, array or object). See the
/// [module docs](self#time) for the accepted forms.
#[inline]
pub fn parse_time(v: &Scalar<'_>) -> Result<Option<f64>, EventError> {
    // Epoch seconds in range, what most events hold: in line, the rest
    // (texts, errors) out of line.
    if let Scalar::Number(x) = *v
        && (MIN_EPOCH..END_EPOCH).contains(&x)
    {
        return Ok(Some(x));
    }
    parse_time_slow(v)
}

#[inline(never)]
fn parse_time_slow(v: &Scalar<'_>) -> Result<Option<f64>, EventError> {
    let epoch = |x: f64| -> Result<Option<f64>, EventError> {
        if !x.is_finite() {
            Err(EventError::new(Reason::NonFinite, format!("the time {x} is not a finite number")))
        } else if !(MIN_EPOCH..END_EPOCH).contains(&x) {
            Err(EventError::new(
                Reason::BadTime,
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
                    Reason::BadTime,
                    format!("{:?} is not epoch seconds or an ISO 8601 time like 2018-03-24T17:15:21.104012Z", clip(s)),
                )
            }),
        },
        Scalar::Bool(b) => Err(EventError::new(
            Reason::WrongType,
            format!("a time should be epoch seconds or an ISO 8601 text, got the boolean {b}"),
        )),
        Scalar::Composite(kind) => Err(EventError::new(
            Reason::WrongType,
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

/// Whole seconds since the epoch, shifted to local time.
pub(super) fn local_seconds(t: f64, utc_offset_minutes: i32) -> i64 {
    // `t` is finite and within years 0000–9999 (give or take an offset), so
    // the cast is exact.
    t.floor() as i64 + i64::from(utc_offset_minutes) * 60
}

pub(super) fn hour_of(t: f64, utc_offset_minutes: i32) -> u8 {
    (local_seconds(t, utc_offset_minutes).rem_euclid(86_400) / 3_600) as u8
}

#[cfg(test)]
mod tests {
    use crate::event::test_values::{n, s};

    use super::*;

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
    #[test]
    fn argus_slash_dates_parse() {
        let t = |x: &str| parse_time(&Scalar::Str(x.to_string().into())).unwrap().unwrap();
        // 2013-12-17 22:09:19 UTC = 1387318159
        assert_eq!(t("2013/12/17 22:09:19"), 1_387_318_159.0);
        assert!((t("2013/12/17 22:09:19.500617") - 1_387_318_159.500617).abs() < 1e-6);
        assert!(parse_time(&Scalar::Str("2013/12-17 22:09:19".into())).is_err());
    }
}
