//! An event's values as the plugin sees them: [`Scalar`]s borrowed from the
//! event's text (what [`crate::scan`] reads), the coercion rules every step
//! shares, and [`EventError`], why an event could not be used.

use std::borrow::Cow;
use std::fmt;

pub use crate::reason::Reason;

/// Why an event could not be read or scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// The stable code (see [`Reason`]).
    pub reason: Reason,
    /// What and where, for a person.
    pub detail: String,
}

impl EventError {
    /// A new error.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        EventError { reason, detail: detail.into() }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// The key the scorer appends; an event that already has it is refused
/// (`field_conflict`) rather than given two.
pub const OUTPUT_KEY: &str = "logsieve";

/// A top-level value of an event, as far as features care.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any JSON number.
    Number(f64),
    /// A string, borrowed unless it had escapes.
    Str(Cow<'a, str>),
    /// An array or object (not usable as a feature value).
    Composite(&'static str),
}

/// Why a value could not be read as a number or a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coerce {
    /// The value is of a type that cannot be coerced (`"an array"`, `"the string \"abc\""`).
    WrongType(String),
}

impl<'a> Scalar<'a> {
    /// The value as a number: a JSON number; a boolean as 1/0; a string that
    /// parses as a number (which may be non-finite: callers check). `null`
    /// is `Ok(None)`.
    pub fn as_number(&self) -> Result<Option<f64>, Coerce> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Number(x) => Ok(Some(*x)),
            Scalar::Bool(b) => Ok(Some(f64::from(u8::from(*b)))),
            Scalar::Str(s) => {
                s.trim().parse::<f64>().map(Some).map_err(|_| Coerce::WrongType(format!("the string {:?}", clip(s))))
            }
            Scalar::Composite(kind) => Err(Coerce::WrongType((*kind).to_string())),
        }
    }

    /// The value as category text: a string as is; a number as its shortest
    /// text (`22`, not `22.0`); a boolean as `true`/`false`. `null` is `Ok(None)`.
    pub fn as_text(&self) -> Result<Option<Cow<'_, str>>, Coerce> {
        match self {
            Scalar::Str(s) => Ok(Some(Cow::Borrowed(s.as_ref()))),
            // No other value holds a text: a copy of it costs nothing.
            other => other.clone().into_text(),
        }
    }

    /// [`Scalar::as_text`] that keeps a borrowed text borrowed.
    pub fn into_text(self) -> Result<Option<Cow<'a, str>>, Coerce> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Str(s) => Ok(Some(s)),
            Scalar::Number(x) => Ok(Some(Cow::Owned(number_text(x)))),
            Scalar::Bool(b) => Ok(Some(Cow::Borrowed(if b { "true" } else { "false" }))),
            Scalar::Composite(kind) => Err(Coerce::WrongType(kind.to_string())),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Scalar<'static> {
        match self {
            Scalar::Null => Scalar::Null,
            Scalar::Bool(b) => Scalar::Bool(b),
            Scalar::Number(x) => Scalar::Number(x),
            Scalar::Str(s) => Scalar::Str(Cow::Owned(s.into_owned())),
            Scalar::Composite(k) => Scalar::Composite(k),
        }
    }
}

/// A number's category text: integers without a fraction, others shortest.
pub fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let mut s = zmij::Buffer::new().format(x).to_string();
        drop_exponent_plus(&mut s, x);
        s
    }
}

/// Shortest float texts are written as `1e16`, `2.5e-7`: zmij (as fast as
/// it gets, in wasm too) writes a positive exponent as `e+16`; this takes the
/// `+` out of a text just appended for `x`, so the texts stay what they
/// have always been. Only magnitudes of 1e16 and more have one.
#[inline(always)]
pub(crate) fn drop_exponent_plus(s: &mut String, x: f64) {
    if x.abs() >= 1e16 {
        drop_plus(s);
    }
}

#[cold]
fn drop_plus(s: &mut String) {
    let from = s.len().saturating_sub(26);
    if let Some(k) = s.as_bytes()[from..].windows(2).rposition(|w| w == b"e+") {
        s.remove(from + k + 1);
    }
}

/// At most the first 64 characters of a value, for error messages.
pub(crate) fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Values for tests: `n(22.0)`, `s("tcp")`.
#[cfg(test)]
pub(crate) mod test_values {
    use super::*;

    /// A number.
    pub fn n(x: f64) -> Scalar<'static> {
        Scalar::Number(x)
    }

    /// A text.
    pub fn s(t: &str) -> Scalar<'static> {
        Scalar::Str(Cow::Owned(t.to_string()))
    }
}
