//! Filters: `[[where]]` conditions on one field's value.
//!
//! A `[[where]]` [`Test`] on one field's value; [`matches()`] applies it.
//!
//! Equality (`Eq`, `Ne`, `In`, `NotIn`, and the derive ops `Equals`, `InSet`):
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
//! A spec's `value` is never null (a literal is a boolean, a number or a
//! text): use `Exists`/`Missing` to test for null.

use std::borrow::Cow;
use std::cmp::Ordering;

use logsieve_artifact::{Literal, Test};

use crate::event::Scalar;

/// A spec literal as a value to compare with (its text borrowed).
pub fn literal(l: &Literal) -> Scalar<'_> {
    match l {
        Literal::Bool(b) => Scalar::Bool(*b),
        Literal::Number(x) => Scalar::Number(*x),
        Literal::Text(s) => Scalar::Str(Cow::Borrowed(s)),
    }
}

/// Whether a field's value (`None` = absent) passes the test.
pub fn matches(test: &Test, v: Option<&Scalar<'_>>) -> bool {
    let v = super::present(v);
    let eq = |w: &Literal| v.is_some_and(|v| scalar_eq(v, &literal(w)));
    let order = |w: &Literal, want: fn(Ordering) -> bool| v.and_then(|v| scalar_cmp(v, &literal(w))).is_some_and(want);
    match test {
        Test::Exists {} => v.is_some(),
        Test::Missing {} => v.is_none(),
        Test::Eq { value } => eq(value),
        Test::Ne { value } => !eq(value),
        Test::In { values } => values.iter().any(eq),
        Test::NotIn { values } => !values.iter().any(eq),
        Test::Lt { value } => order(value, |o| o == Ordering::Less),
        Test::Le { value } => order(value, |o| o != Ordering::Greater),
        Test::Gt { value } => order(value, |o| o == Ordering::Greater),
        Test::Ge { value } => order(value, |o| o != Ordering::Less),
    }
}

/// A value as a number, if it coerces to one that is not NaN.
fn num(v: &Scalar<'_>) -> Option<f64> {
    v.as_number().ok().flatten().filter(|x| !x.is_nan())
}

/// Equality as in the module docs: numbers, else texts; null and composites
/// equal nothing.
pub fn scalar_eq(a: &Scalar<'_>, b: &Scalar<'_>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_values::{n, s};

    fn ln(x: f64) -> Literal {
        Literal::Number(x)
    }
    fn lt(t: &str) -> Literal {
        Literal::Text(t.to_string())
    }
    fn lb(b: bool) -> Literal {
        Literal::Bool(b)
    }

    #[test]
    fn filter_table() {
        let b = Scalar::Bool;
        let composite = Scalar::Composite("an array");
        let eq = |value| Test::Eq { value };
        let ne = |value| Test::Ne { value };
        let lt_ = |value| Test::Lt { value };
        let le = |value| Test::Le { value };
        let gt = |value| Test::Gt { value };
        let ge = |value| Test::Ge { value };
        let is_in = |values| Test::In { values };
        let not_in = |values| Test::NotIn { values };
        // (test, field value, expected)
        let cases: Vec<(Test, Option<Scalar<'static>>, bool)> = vec![
            (eq(ln(22.0)), Some(n(22.0)), true),
            (eq(ln(22.0)), Some(s("22")), true),
            (eq(lt("22")), Some(n(22.0)), true),
            (eq(lt("22.0")), Some(n(22.0)), true),
            (eq(ln(22.0)), Some(s("ssh")), false),
            (eq(ln(22.0)), Some(n(23.0)), false),
            (eq(lb(false)), Some(b(false)), true),
            (eq(lb(false)), Some(b(true)), false),
            (eq(lb(false)), Some(s("false")), true),
            (eq(lt("false")), Some(b(false)), true),
            (eq(lb(true)), Some(n(1.0)), true),
            (eq(lb(false)), Some(s("F")), false),
            (eq(lt("tcp")), Some(s("tcp")), true),
            (eq(lt("tcp")), Some(s("TCP")), false),
            (eq(lt("tcp")), None, false),
            (eq(lt("tcp")), Some(Scalar::Null), false),
            (eq(lt("tcp")), Some(composite.clone()), false),
            (eq(lt("nan")), Some(s("nan")), true),
            (ne(lt("icmp")), Some(s("tcp")), true),
            (ne(lt("icmp")), Some(s("icmp")), false),
            (ne(lt("icmp")), None, true),
            (ne(lt("icmp")), Some(Scalar::Null), true),
            (ne(ln(22.0)), Some(s("22")), false),
            (lt_(ln(5.0)), Some(n(4.5)), true),
            (lt_(ln(5.0)), Some(n(5.0)), false),
            (le(ln(5.0)), Some(n(5.0)), true),
            (le(ln(5.0)), Some(s("5")), true),
            (gt(ln(5.0)), Some(s("10")), true),
            (gt(lt("9")), Some(s("10")), true),
            (ge(ln(5.0)), Some(n(4.0)), false),
            (ge(ln(5.0)), Some(n(5.0)), true),
            (lt_(ln(5.0)), Some(s("-")), false),
            (gt(ln(5.0)), Some(s("-")), false),
            (lt_(ln(5.0)), None, false),
            (ge(ln(5.0)), Some(Scalar::Null), false),
            (lt_(lt("b")), Some(s("a")), true),
            (gt(lt("b")), Some(s("a")), false),
            (lt_(ln(1.0)), Some(composite.clone()), false),
            (is_in(vec![lt("dns"), lt("http")]), Some(s("http")), true),
            (is_in(vec![lt("dns"), lt("http")]), Some(s("ssh")), false),
            (is_in(vec![ln(22.0), ln(3389.0)]), Some(s("22")), true),
            (is_in(vec![lt("dns")]), None, false),
            (is_in(vec![]), Some(s("dns")), false),
            (not_in(vec![lt("dns"), lt("http")]), Some(s("ssh")), true),
            (not_in(vec![lt("dns"), lt("http")]), Some(s("dns")), false),
            (not_in(vec![lt("dns")]), None, true),
            (not_in(vec![lt("dns")]), Some(Scalar::Null), true),
            (Test::Exists {}, Some(s("")), true),
            (Test::Exists {}, Some(b(false)), true),
            (Test::Exists {}, Some(Scalar::Null), false),
            (Test::Exists {}, None, false),
            (Test::Missing {}, None, true),
            (Test::Missing {}, Some(Scalar::Null), true),
            (Test::Missing {}, Some(n(0.0)), false),
        ];
        for (i, (c, v, want)) in cases.iter().enumerate() {
            assert_eq!(matches(c, v.as_ref()), *want, "case {i}: {c:?} on {v:?}");
        }
    }
}
