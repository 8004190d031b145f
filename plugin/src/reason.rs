//! Why an event could not be used: the one list of event-error reasons.
//!
//! The `reason` of every [`EventError`](crate::EventError) is one of these;
//! the WIT contract (`event-error.reason`) and the reference docs list them,
//! and a test (`tests/contract.rs`) checks both lists against
//! [`Reason::ALL`].

use std::fmt;

/// A stable, machine-readable reason an event was not scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The event is not valid JSON (or not UTF-8).
    InvalidJson,
    /// The event is JSON but not an object.
    NotAnObject,
    /// A field the spec reads has a type it cannot use (a string where a
    /// number is needed, an array, …).
    WrongType,
    /// A field the spec reads is absent or null, and its policy is
    /// `missing = "error"` (or it keys a window).
    MissingField,
    /// A number is not finite (NaN, infinite, beyond f64), or a feature's
    /// scaled value overflows the distance.
    NonFinite,
    /// The event already has the `logsieve` key the scorer would add.
    FieldConflict,
    /// A field the spec reads appears more than once in the event.
    DuplicateField,
    /// A time is not epoch seconds or ISO 8601, or lies outside the years
    /// 0000–9999.
    BadTime,
    /// The event's window closed before it arrived (`allowed_lateness`).
    LateEvent,
    /// The event's time is further ahead of the stream's time than
    /// `max_future`: it is refused and does not move the windows' clock.
    FutureEvent,
    /// The model holds only a spec (no centroids): it extracts features but
    /// cannot score.
    NotFitted,
    /// Native library only: a derive op called with the wrong number of
    /// inputs (a checked spec never does this).
    BadArity,
    /// Native library only: `Scorer::score` on an event the model passes,
    /// drops or absorbs instead of scoring.
    NotScored,
}

impl Reason {
    /// Every reason, in the order the docs list them.
    pub const ALL: [Reason; 13] = [
        Reason::InvalidJson,
        Reason::NotAnObject,
        Reason::WrongType,
        Reason::MissingField,
        Reason::NonFinite,
        Reason::FieldConflict,
        Reason::DuplicateField,
        Reason::BadTime,
        Reason::LateEvent,
        Reason::FutureEvent,
        Reason::NotFitted,
        Reason::BadArity,
        Reason::NotScored,
    ];

    /// The reason's code, as written in error records.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidJson => "invalid_json",
            Reason::NotAnObject => "not_an_object",
            Reason::WrongType => "wrong_type",
            Reason::MissingField => "missing_field",
            Reason::NonFinite => "non_finite",
            Reason::FieldConflict => "field_conflict",
            Reason::DuplicateField => "duplicate_field",
            Reason::BadTime => "bad_time",
            Reason::LateEvent => "late_event",
            Reason::FutureEvent => "future_event",
            Reason::NotFitted => "not_fitted",
            Reason::BadArity => "bad_arity",
            Reason::NotScored => "not_scored",
        }
    }

    /// Whether a host of the component can see it (the others come only
    /// from the native library's helpers).
    pub fn in_component(self) -> bool {
        !matches!(self, Reason::BadArity | Reason::NotScored)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Reason {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.as_str()), "{r} twice");
            assert!(r.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{r}");
        }
    }
}
