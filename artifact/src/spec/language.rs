//! The spec's small language: `[input]`, `[[where]]`, `[[derive]]` and
//! `[aggregate]`.
//!
//! Every operator is an enum variant carrying exactly the keys it takes
//! (serde reads the `op` key as the tag), so the type *is* the vocabulary:
//! an unknown op, a key another op takes, or a misspelt key is refused when
//! the spec is read, with serde's message naming it. Durations and UTC
//! offsets are parsed when the spec is read ([`Duration`], [`UtcOffset`])
//! and never again. What serde cannot check — how many `fields` an op
//! takes, values in range, names defined before use — is checked by
//! [`check`](super::ModelSpec::validate), in `match`es over the same enums,
//! so a new op makes the compiler point at every place that must handle it.
//!
//! The serialized form (TOML specs, the MessagePack inside artifacts) is
//! unchanged from the string-typed spec of earlier versions, byte for byte:
//! the tag is written where `op` was, and each variant's keys in the order
//! the old struct wrote them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// `[input]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputParams {
    /// The event-time field: epoch seconds, or an ISO-8601 string.
    #[serde(default = "default_time_field")]
    pub time_field: String,
    /// Other names a field may have in some logs, e.g.
    /// `"id.orig_h" = ["id_orig_h"]` (Zeek JSON writers differ). Wherever
    /// the spec names `id.orig_h`, an event's `id_orig_h` is read too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Vec<String>>,
}

fn default_time_field() -> String {
    "ts".to_string()
}

impl Default for InputParams {
    fn default() -> Self {
        InputParams { time_field: default_time_field(), aliases: Default::default() }
    }
}

/// A literal in a spec: a boolean, a number or a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
}

/// `[[where]]`: one condition on one field.
///
/// ```toml
/// [[where]]
/// field = "service"
/// op = "=="
/// value = "krb"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterSpec {
    /// The field tested.
    pub field: String,
    /// The test (`op` and its operand).
    #[serde(flatten)]
    pub test: Test,
}

/// A `[[where]]` test: `op`, and the key it takes. Equality and order
/// follow the coercion rules of the plugin's `derive` module (`22`, `"22"`
/// and `22.0` are equal; texts compare by code point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", deny_unknown_fields)]
pub enum Test {
    /// `op = "=="`: equals `value`.
    #[serde(rename = "==")]
    Eq {
        /// The value compared with.
        value: Literal,
    },
    /// `op = "!="`: present and not equal to `value`.
    #[serde(rename = "!=")]
    Ne {
        /// The value compared with.
        value: Literal,
    },
    /// `op = "<"`.
    #[serde(rename = "<")]
    Lt {
        /// The value compared with.
        value: Literal,
    },
    /// `op = "<="`.
    #[serde(rename = "<=")]
    Le {
        /// The value compared with.
        value: Literal,
    },
    /// `op = ">"`.
    #[serde(rename = ">")]
    Gt {
        /// The value compared with.
        value: Literal,
    },
    /// `op = ">="`.
    #[serde(rename = ">=")]
    Ge {
        /// The value compared with.
        value: Literal,
    },
    /// `op = "in"`: equals one of `values`.
    #[serde(rename = "in")]
    In {
        /// The values (at least one).
        values: Vec<Literal>,
    },
    /// `op = "not_in"`: present and equal to none of `values`.
    #[serde(rename = "not_in")]
    NotIn {
        /// The values (at least one).
        values: Vec<Literal>,
    },
    /// `op = "exists"`: present and not null.
    #[serde(rename = "exists")]
    Exists {},
    /// `op = "missing"`: absent or null.
    #[serde(rename = "missing")]
    Missing {},
}

impl Test {
    /// The `op` as written in specs.
    pub fn op(&self) -> &'static str {
        match self {
            Test::Eq { .. } => "==",
            Test::Ne { .. } => "!=",
            Test::Lt { .. } => "<",
            Test::Le { .. } => "<=",
            Test::Gt { .. } => ">",
            Test::Ge { .. } => ">=",
            Test::In { .. } => "in",
            Test::NotIn { .. } => "not_in",
            Test::Exists {} => "exists",
            Test::Missing {} => "missing",
        }
    }
}

/// `[filter]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    /// `pass` (default): events that do not match go on unscored;
    /// `drop`: they are dropped and counted.
    #[serde(default)]
    pub unmatched: Unmatched,
}

/// What happens to events that do not match `[[where]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// Passed through unchanged, unscored.
    #[default]
    Pass,
    /// Dropped, and counted in the run summary.
    Drop,
}

/// `[[derive]]`: one computed field.
///
/// ```toml
/// [[derive]]
/// name = "bytes_per_pkt"
/// op = "ratio"
/// fields = ["orig_bytes", "orig_pkts"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeriveSpec {
    /// The new field's name (features and later derives may use it).
    pub name: String,
    /// What it computes (`op` and the keys the op takes).
    #[serde(flatten)]
    pub op: DeriveOp,
}

/// A `[[derive]]` operation. Every op reads its inputs from `fields`; time
/// ops (`hour`, `weekday`, `day_bucket`, `inter_arrival`) default to the
/// time field when `fields` is empty. The plugin's `derive` module
/// documents the semantics (missing in, missing out; coercions; errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeriveOp {
    /// `a * b * …` (at least two fields).
    Product {
        /// The inputs.
        fields: Vec<String>,
    },
    /// `a + b + …` (at least two fields).
    Sum {
        /// The inputs.
        fields: Vec<String>,
    },
    /// `a - b` (two fields).
    Difference {
        /// The inputs.
        fields: Vec<String>,
    },
    /// `a / b` (two fields); missing when `b` is 0.
    Ratio {
        /// The inputs.
        fields: Vec<String>,
    },
    /// `ln(1 + a)` (one field).
    Log1p {
        /// The input.
        fields: Vec<String>,
    },
    /// `a` raised to `min`, then lowered to `max` (one field; at least one
    /// bound).
    Clamp {
        /// The input.
        fields: Vec<String>,
        /// Lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// Hour of day 0–23 (at most one field; default the time field).
    Hour {
        /// The time input (empty: the time field).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        /// A fixed UTC offset (default UTC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        utc_offset: Option<UtcOffset>,
    },
    /// Day of week, 0 = Monday (at most one field).
    Weekday {
        /// The time input (empty: the time field).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        /// A fixed UTC offset (default UTC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        utc_offset: Option<UtcOffset>,
    },
    /// The name of the first bucket covering the hour (at most one field).
    DayBucket {
        /// The time input (empty: the time field).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        /// A fixed UTC offset (default UTC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        utc_offset: Option<UtcOffset>,
        /// `[[first_hour, last_hour, "name"], …]`; default the dce_rpc
        /// notebook's table.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buckets: Vec<(u8, u8, String)>,
    },
    /// 1 if the input equals `value`, else 0 (one field).
    Equals {
        /// The input.
        fields: Vec<String>,
        /// The value.
        value: Literal,
    },
    /// 1 if the input equals one of `values`, else 0 (one field).
    InSet {
        /// The input.
        fields: Vec<String>,
        /// The values (at least one).
        values: Vec<Literal>,
    },
    /// The group of the longest matching network of a CIDR table (one
    /// field), `"unknown"` when none matches.
    CidrGroup {
        /// The input.
        fields: Vec<String>,
        /// A file of `CIDR,group` lines, read by `logsieve train` into
        /// `cidr_table` (relative to the spec's folder).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cidr_file: Option<String>,
        /// The table itself, so the model is self-contained.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cidr_table: Vec<(String, String)>,
    },
    /// Seconds since the previous event of the same key (at most one field;
    /// default the time field).
    InterArrival {
        /// The time input (empty: the time field).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        /// Fields whose values key the previous event (none: the whole
        /// stream).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        key: Vec<String>,
        /// Most keys remembered (default 100000).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_keys: Option<usize>,
    },
}

/// How many `fields` a derive op takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// This many or more.
    AtLeast(usize),
    /// None (the time field) or one.
    TimeInput,
}

impl DeriveOp {
    /// The `op` as written in specs.
    pub fn name(&self) -> &'static str {
        match self {
            DeriveOp::Product { .. } => "product",
            DeriveOp::Sum { .. } => "sum",
            DeriveOp::Difference { .. } => "difference",
            DeriveOp::Ratio { .. } => "ratio",
            DeriveOp::Log1p { .. } => "log1p",
            DeriveOp::Clamp { .. } => "clamp",
            DeriveOp::Hour { .. } => "hour",
            DeriveOp::Weekday { .. } => "weekday",
            DeriveOp::DayBucket { .. } => "day_bucket",
            DeriveOp::Equals { .. } => "equals",
            DeriveOp::InSet { .. } => "in_set",
            DeriveOp::CidrGroup { .. } => "cidr_group",
            DeriveOp::InterArrival { .. } => "inter_arrival",
        }
    }

    /// The input fields.
    pub fn fields(&self) -> &[String] {
        match self {
            DeriveOp::Product { fields }
            | DeriveOp::Sum { fields }
            | DeriveOp::Difference { fields }
            | DeriveOp::Ratio { fields }
            | DeriveOp::Log1p { fields }
            | DeriveOp::Clamp { fields, .. }
            | DeriveOp::Hour { fields, .. }
            | DeriveOp::Weekday { fields, .. }
            | DeriveOp::DayBucket { fields, .. }
            | DeriveOp::Equals { fields, .. }
            | DeriveOp::InSet { fields, .. }
            | DeriveOp::CidrGroup { fields, .. }
            | DeriveOp::InterArrival { fields, .. } => fields,
        }
    }

    /// How many fields the op takes.
    pub fn arity(&self) -> Arity {
        match self {
            DeriveOp::Product { .. } | DeriveOp::Sum { .. } => Arity::AtLeast(2),
            DeriveOp::Difference { .. } | DeriveOp::Ratio { .. } => Arity::Exactly(2),
            DeriveOp::Log1p { .. }
            | DeriveOp::Clamp { .. }
            | DeriveOp::Equals { .. }
            | DeriveOp::InSet { .. }
            | DeriveOp::CidrGroup { .. } => Arity::Exactly(1),
            DeriveOp::Hour { .. }
            | DeriveOp::Weekday { .. }
            | DeriveOp::DayBucket { .. }
            | DeriveOp::InterArrival { .. } => Arity::TimeInput,
        }
    }

    /// The problems serde cannot see; `None` when there are none.
    fn problem(&self) -> Option<String> {
        let n = self.fields().len();
        let arity = match self.arity() {
            Arity::Exactly(1) if n != 1 => Some("needs exactly one field in `fields`".to_string()),
            Arity::Exactly(k) if n != k => Some(format!("needs exactly {k} `fields`")),
            Arity::AtLeast(k) if n < k => Some(format!("needs at least {k} `fields`")),
            Arity::TimeInput if n > 1 => Some("takes at most one field (default: the time field)".to_string()),
            _ => None,
        };
        if arity.is_some() {
            return arity;
        }
        match self {
            DeriveOp::Clamp { min: None, max: None, .. } => Some("needs `min` and/or `max`".into()),
            DeriveOp::InSet { values, .. } if values.is_empty() => Some("needs `values`".into()),
            DeriveOp::CidrGroup { cidr_file: None, cidr_table, .. } if cidr_table.is_empty() => {
                Some("needs `cidr_file`".into())
            }
            DeriveOp::DayBucket { buckets, .. } => buckets
                .iter()
                .find(|(a, b, _)| a > b || *b > 23)
                .map(|(a, b, _)| format!("bucket hours {a}..{b} must be 0..=23 and in order")),
            _ => None,
        }
    }
}

/// `[aggregate]`: per-key windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// The key fields, e.g. `["id.orig_h"]`.
    pub group_by: Vec<String>,
    /// `"all"` (one window over the whole input, for offline training) or
    /// a duration (`"30s"`, `"5m"`, `"1h"`, `"1d"`): tumbling windows by
    /// event time, aligned to the Unix epoch.
    #[serde(default)]
    pub window: Window,
    /// How long after a window's end its events are still accepted
    /// (default `"0s"`); later ones are `late_event` errors.
    #[serde(default = "default_lateness")]
    pub allowed_lateness: Duration,
    /// How far ahead of the stream's time (the largest event time so far)
    /// an event may be; one further ahead is a `future_event` error and
    /// does not move the windows' clock, unless the event before it was
    /// one too and they agree (within this much): a real jump of the
    /// stream's time. `None`: [`DEFAULT_MAX_FUTURE`] (not written, so
    /// models without it keep their bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_future: Option<Duration>,
    /// Most (key, window) entries held; beyond it the oldest is emitted
    /// early (`partial`) and counted (default 100000).
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    /// The aggregates, in order.
    pub fields: Vec<AggregateField>,
}

/// The default `max_future`, in seconds (one hour).
pub const DEFAULT_MAX_FUTURE: f64 = 3600.0;

impl AggregateSpec {
    /// `max_future` in seconds.
    pub fn max_future_seconds(&self) -> f64 {
        self.max_future.as_ref().map_or(DEFAULT_MAX_FUTURE, Duration::seconds)
    }
}

fn default_lateness() -> Duration {
    Duration::parse("0s").expect("a valid duration")
}
/// The largest `max_keys` (of `[aggregate]` and `inter_arrival`): a bound
/// on the memory a stateful model may hold (each key costs its window or
/// its last time, and evicted keys are remembered up to the same number).
pub const MAX_KEYS: usize = 10_000_000;

const fn default_max_keys() -> usize {
    100_000
}

/// `[[aggregate.fields]]`: one aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateField {
    /// Its name in the aggregate event.
    pub name: String,
    /// What it computes (`op`, and the `field` all ops but `count` read).
    #[serde(flatten)]
    pub op: AggregateOp,
}

/// An aggregate over a window's events of one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum AggregateOp {
    /// Events in the window; with a `field`, the events in which it is
    /// present and not null.
    Count {
        /// The field counted (none: every event).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
    /// Distinct values of `field`.
    Unique {
        /// The field aggregated.
        field: String,
    },
    /// The most frequent value of `field` (ties: the first seen).
    Top {
        /// The field aggregated.
        field: String,
    },
    /// How often the top value occurred.
    Freq {
        /// The field aggregated.
        field: String,
    },
    /// Sum of `field`.
    Sum {
        /// The field aggregated.
        field: String,
    },
    /// Mean of `field`.
    Mean {
        /// The field aggregated.
        field: String,
    },
    /// Minimum of `field`.
    Min {
        /// The field aggregated.
        field: String,
    },
    /// Maximum of `field`.
    Max {
        /// The field aggregated.
        field: String,
    },
    /// Events in the window, all keys, that went to this key's top value
    /// of `field` (the notebook's `top_host_connections`).
    TopTotal {
        /// The field aggregated.
        field: String,
    },
}

impl AggregateOp {
    /// The `op` as written in specs.
    pub fn name(&self) -> &'static str {
        match self {
            AggregateOp::Count { .. } => "count",
            AggregateOp::Unique { .. } => "unique",
            AggregateOp::Top { .. } => "top",
            AggregateOp::Freq { .. } => "freq",
            AggregateOp::Sum { .. } => "sum",
            AggregateOp::Mean { .. } => "mean",
            AggregateOp::Min { .. } => "min",
            AggregateOp::Max { .. } => "max",
            AggregateOp::TopTotal { .. } => "top_total",
        }
    }

    /// The field it reads (`None` for a `count` of every event).
    pub fn field(&self) -> Option<&str> {
        match self {
            AggregateOp::Count { field } => field.as_deref(),
            AggregateOp::Unique { field }
            | AggregateOp::Top { field }
            | AggregateOp::Freq { field }
            | AggregateOp::Sum { field }
            | AggregateOp::Mean { field }
            | AggregateOp::Min { field }
            | AggregateOp::Max { field }
            | AggregateOp::TopTotal { field } => Some(field),
        }
    }
}

/// A window: the whole input, or tumbling windows of a duration.
/// Written `"all"` or as a [`Duration`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Window {
    /// One window over the whole input (offline training).
    #[default]
    All,
    /// Tumbling windows of this length (longer than 0), by event time.
    Every(Duration),
}

impl Window {
    /// The window length in seconds (`None` for `all`).
    pub fn seconds(&self) -> Option<f64> {
        match self {
            Window::All => None,
            Window::Every(d) => Some(d.seconds()),
        }
    }
}

impl TryFrom<String> for Window {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s == "all" {
            return Ok(Window::All);
        }
        match Duration::parse(&s) {
            Ok(d) if d.seconds() > 0.0 => Ok(Window::Every(d)),
            Ok(_) => Err(format!("window '{s}' must be longer than 0")),
            Err(e) => Err(format!("{e} or \"all\"")),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::All => f.write_str("all"),
            Window::Every(d) => d.fmt(f),
        }
    }
}

impl From<Window> for String {
    fn from(w: Window) -> String {
        match w {
            Window::All => "all".to_string(),
            Window::Every(d) => d.text,
        }
    }
}

/// A duration: `"90"`/`"90s"`, `"5m"`, `"1h"`, `"1d"`, parsed when the spec
/// is read; written back as it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Duration {
    seconds: f64,
    text: String,
}

impl Duration {
    /// Parse a duration.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let t = s.trim();
        let (num, mult) = match t.char_indices().last() {
            Some((i, 's')) => (&t[..i], 1.0),
            Some((i, 'm')) => (&t[..i], 60.0),
            Some((i, 'h')) => (&t[..i], 3600.0),
            Some((i, 'd')) => (&t[..i], 86400.0),
            _ => (t, 1.0),
        };
        match num.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 && (v * mult).is_finite() => {
                Ok(Duration { seconds: v * mult, text: s.to_string() })
            }
            _ => Err(format!("'{s}' is not a duration (like 30s, 5m, 1h, 1d)")),
        }
    }

    /// In seconds.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }
}

impl TryFrom<String> for Duration {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        Duration::parse(&s)
    }
}

impl From<Duration> for String {
    fn from(d: Duration) -> String {
        d.text
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A fixed UTC offset: `+02:00`, `-0530`, `Z` or `UTC`, parsed when the
/// spec is read; written back as it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtcOffset {
    minutes: i32,
    text: String,
}

impl UtcOffset {
    /// Parse an offset.
    pub fn parse(s: &str) -> Result<UtcOffset, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
            return Ok(UtcOffset { minutes: 0, text: s.to_string() });
        }
        let bad = || format!("'{s}' is not a UTC offset (like +02:00 or -05:30)");
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let h: i32 = digits[..2].parse().map_err(|_| bad())?;
        let m: i32 = digits[2..].parse().map_err(|_| bad())?;
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(UtcOffset { minutes: sign * (h * 60 + m), text: s.to_string() })
    }

    /// The offset in minutes east of UTC.
    pub fn minutes(&self) -> i32 {
        self.minutes
    }

    /// The offset of `minutes` east of UTC (within a day either way),
    /// written `+hh:mm`.
    pub fn from_minutes(minutes: i32) -> Result<UtcOffset, String> {
        let a = minutes.unsigned_abs();
        UtcOffset::parse(&format!("{}{:02}:{:02}", if minutes < 0 { '-' } else { '+' }, a / 60, a % 60))
    }
}

impl TryFrom<String> for UtcOffset {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        UtcOffset::parse(&s)
    }
}

impl From<UtcOffset> for String {
    fn from(o: UtcOffset) -> String {
        o.text
    }
}

/// The language's problems serde cannot see, each with where it is.
pub(super) fn check(
    filters: &[FilterSpec],
    derive: &[DeriveSpec],
    aggregate: Option<&AggregateSpec>,
    errs: &mut Vec<String>,
) {
    check_filters("where", filters, errs);
    let mut names: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for (i, d) in derive.iter().enumerate() {
        let at = format!("derive[{i}] ({})", d.name);
        if !names.insert(&d.name) {
            errs.push(format!("{at}: the name is used twice"));
        }
        if let Some(p) = d.op.problem() {
            errs.push(format!("{at}: op '{}' {p}", d.op.name()));
        }
        if let DeriveOp::InterArrival { max_keys: Some(k), .. } = &d.op
            && *k > MAX_KEYS
        {
            errs.push(format!("{at}: max_keys = {k} is too large: at most {MAX_KEYS}"));
        }
    }
    if let Some(a) = aggregate {
        if a.group_by.is_empty() {
            errs.push("aggregate.group_by needs at least one field".to_string());
        }
        if a.max_keys == 0 {
            errs.push("aggregate.max_keys must be at least 1".to_string());
        } else if a.max_keys > MAX_KEYS {
            errs.push(format!("aggregate.max_keys = {} is too large: at most {MAX_KEYS}", a.max_keys));
        }
        if a.max_future.as_ref().is_some_and(|d| d.seconds() <= 0.0) {
            errs.push("aggregate.max_future must be a duration longer than 0".to_string());
        }
        if a.fields.is_empty() {
            errs.push("aggregate needs at least one [[aggregate.fields]]".to_string());
        }
    }
}

/// The problems of a list of filters (`where`, or `train.where`).
pub(super) fn check_filters(what: &str, filters: &[FilterSpec], errs: &mut Vec<String>) {
    for (i, w) in filters.iter().enumerate() {
        let at = format!("{what}[{i}] ({} {})", w.field, w.test.op());
        match &w.test {
            Test::In { values } | Test::NotIn { values } if values.is_empty() => {
                errs.push(format!("{at}: needs `values = [...]`"))
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ModelSpec;

    fn spec(extra: &str) -> Result<ModelSpec, String> {
        let text = format!("[model]\nn_clusters = 2\n[[features]]\nfield = \"a\"\ntype = \"numeric\"\n{extra}");
        toml::from_str(&text).map_err(|e: toml::de::Error| e.message().to_string())
    }

    #[test]
    fn the_types_are_the_vocabulary() {
        // An unknown op names the ops there are.
        let e = spec("[[derive]]\nname = \"x\"\nop = \"produkt\"\nfields = [\"a\", \"b\"]\n").unwrap_err();
        assert!(e.contains("unknown variant `produkt`") && e.contains("`product`"), "{e}");
        let e = spec("[[where]]\nfield = \"a\"\nop = \"=!\"\nvalue = 1\n").unwrap_err();
        assert!(e.contains("unknown variant `=!`") && e.contains("`==`"), "{e}");
        let e =
            spec("[aggregate]\ngroup_by = [\"h\"]\n[[aggregate.fields]]\nname = \"n\"\nop = \"cnt\"\n").unwrap_err();
        assert!(e.contains("unknown variant `cnt`"), "{e}");
        // A key that another op takes, or a typo, is refused by name.
        let e = spec("[[derive]]\nname = \"x\"\nop = \"product\"\nfields = [\"a\", \"b\"]\nmin = 0\n").unwrap_err();
        assert!(e.contains("unknown field `min`"), "{e}");
        let e = spec("[[where]]\nfield = \"a\"\nop = \"exists\"\nvalue = 1\n").unwrap_err();
        assert!(e.contains("unknown field `value`"), "{e}");
        let e = spec("[[where]]\nfield = \"a\"\nop = \"==\"\nvalu = 1\n").unwrap_err();
        assert!(e.contains("unknown field `valu`"), "{e}");
        // An op's own key missing.
        let e = spec("[[where]]\nfield = \"a\"\nop = \"==\"\n").unwrap_err();
        assert!(e.contains("missing field `value`"), "{e}");
        let e =
            spec("[aggregate]\ngroup_by = [\"h\"]\n[[aggregate.fields]]\nname = \"n\"\nop = \"sum\"\n").unwrap_err();
        assert!(e.contains("missing field `field`"), "{e}");
    }

    #[test]
    fn durations_and_offsets_are_parsed_when_the_spec_is_read() {
        let s = spec(
            "[[derive]]\nname = \"h\"\nop = \"hour\"\nutc_offset = \"+02:00\"\n\
             [aggregate]\ngroup_by = [\"h\"]\nwindow = \"5m\"\nallowed_lateness = \"30s\"\n\
             [[aggregate.fields]]\nname = \"n\"\nop = \"count\"\n",
        )
        .unwrap();
        let a = s.aggregate.as_ref().unwrap();
        assert_eq!((a.window.seconds(), a.allowed_lateness.seconds()), (Some(300.0), 30.0));
        match &s.derive[0].op {
            DeriveOp::Hour { utc_offset: Some(o), .. } => assert_eq!(o.minutes(), 120),
            other => panic!("{other:?}"),
        }
        for (bad, want) in [
            ("window = \"5x\"", "is not a duration"),
            ("window = \"0s\"", "longer than 0"),
            ("allowed_lateness = \"-1s\"", "is not a duration"),
        ] {
            let e = spec(&format!(
                "[aggregate]\ngroup_by = [\"h\"]\n{bad}\n[[aggregate.fields]]\nname = \"n\"\nop = \"count\"\n"
            ))
            .unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let e = spec("[[derive]]\nname = \"h\"\nop = \"hour\"\nutc_offset = \"+25:00\"\n").unwrap_err();
        assert!(e.contains("is not a UTC offset"), "{e}");
        assert_eq!(Window::try_from("all".to_string()).unwrap(), Window::All);
    }

    #[test]
    fn arity_and_values_are_checked_with_the_op_named() {
        for (derive, want) in [
            ("op = \"product\"\nfields = [\"a\"]", "op 'product' needs at least 2 `fields`"),
            ("op = \"ratio\"\nfields = [\"a\"]", "op 'ratio' needs exactly 2 `fields`"),
            ("op = \"log1p\"\nfields = [\"a\", \"b\"]", "op 'log1p' needs exactly one field"),
            ("op = \"clamp\"\nfields = [\"a\"]", "op 'clamp' needs `min` and/or `max`"),
            ("op = \"hour\"\nfields = [\"a\", \"b\"]", "op 'hour' takes at most one field"),
            ("op = \"in_set\"\nfields = [\"a\"]\nvalues = []", "op 'in_set' needs `values`"),
            ("op = \"cidr_group\"\nfields = [\"a\"]", "op 'cidr_group' needs `cidr_file`"),
            ("op = \"day_bucket\"\nbuckets = [[9, 30, \"x\"]]", "bucket hours 9..30"),
        ] {
            let s = spec(&format!("[[derive]]\nname = \"x\"\n{derive}\n")).unwrap();
            let e = s.problems();
            assert!(e.iter().any(|e| e.contains(want)), "{derive}: {e:?}");
        }
        let s = spec("[[where]]\nfield = \"a\"\nop = \"in\"\nvalues = []\n").unwrap();
        assert!(s.problems().iter().any(|e| e.contains("where[0] (a in): needs `values")), "{:?}", s.problems());
    }

    /// The spec as earlier versions typed it: strings for ops and
    /// durations, every key optional. Artifacts hold this layout.
    #[derive(Serialize)]
    struct OldDerive {
        name: String,
        op: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Literal>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        values: Vec<Literal>,
        #[serde(skip_serializing_if = "Option::is_none")]
        utc_offset: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        buckets: Vec<(u8, u8, String)>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cidr_file: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cidr_table: Vec<(String, String)>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        key: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_keys: Option<usize>,
    }

    #[test]
    fn artifacts_keep_the_bytes_of_the_string_typed_spec() {
        let old = |op: &str| OldDerive {
            name: "d".into(),
            op: op.into(),
            fields: vec![],
            min: None,
            max: None,
            value: None,
            values: vec![],
            utc_offset: None,
            buckets: vec![],
            cidr_file: None,
            cidr_table: vec![],
            key: vec![],
            max_keys: None,
        };
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let offset = UtcOffset::parse("+0130").unwrap();
        let cases = [
            (
                OldDerive { fields: f(&["a"]), min: Some(0.0), ..old("clamp") },
                DeriveOp::Clamp { fields: f(&["a"]), min: Some(0.0), max: None },
            ),
            (
                OldDerive { utc_offset: Some("+0130".into()), buckets: vec![(1, 2, "x".into())], ..old("day_bucket") },
                DeriveOp::DayBucket { fields: vec![], utc_offset: Some(offset), buckets: vec![(1, 2, "x".into())] },
            ),
            (
                OldDerive { fields: f(&["a"]), value: Some(Literal::Text("t".into())), ..old("equals") },
                DeriveOp::Equals { fields: f(&["a"]), value: Literal::Text("t".into()) },
            ),
            (
                OldDerive {
                    fields: f(&["a"]),
                    cidr_table: vec![("10.0.0.0/8".into(), "lan".into())],
                    ..old("cidr_group")
                },
                DeriveOp::CidrGroup {
                    fields: f(&["a"]),
                    cidr_file: None,
                    cidr_table: vec![("10.0.0.0/8".into(), "lan".into())],
                },
            ),
            (
                OldDerive { key: f(&["h"]), max_keys: Some(5), ..old("inter_arrival") },
                DeriveOp::InterArrival { fields: vec![], key: f(&["h"]), max_keys: Some(5) },
            ),
        ];
        for (o, new) in cases {
            let new = DeriveSpec { name: "d".into(), op: new };
            let bytes = rmp_serde::to_vec_named(&o).unwrap();
            assert_eq!(rmp_serde::to_vec_named(&new).unwrap(), bytes, "{}", o.op);
            assert_eq!(rmp_serde::from_slice::<DeriveSpec>(&bytes).unwrap(), new, "{}", o.op);
        }
        let w = FilterSpec { field: "a".into(), test: Test::In { values: vec![Literal::Number(1.0)] } };
        #[derive(Serialize)]
        struct OldWhere {
            field: &'static str,
            op: &'static str,
            values: Vec<Literal>,
        }
        let old_where = OldWhere { field: "a", op: "in", values: vec![Literal::Number(1.0)] };
        assert_eq!(rmp_serde::to_vec_named(&w).unwrap(), rmp_serde::to_vec_named(&old_where).unwrap());
        let a = AggregateField { name: "n".into(), op: AggregateOp::Sum { field: "b".into() } };
        #[derive(Serialize)]
        struct OldAgg {
            name: &'static str,
            op: &'static str,
            field: &'static str,
        }
        let old_agg = OldAgg { name: "n", op: "sum", field: "b" };
        assert_eq!(rmp_serde::to_vec_named(&a).unwrap(), rmp_serde::to_vec_named(&old_agg).unwrap());
    }
}
