//! The per-event plan compiled from a spec: what an event goes through
//! before its features are encoded.
//!
//! ```text
//! scan fields (aliases too) ─► [[where]] ─► [[derive]] in order ─┬─► features ─► encode/score
//!                                 │                               └─► [aggregate] window ─► aggregate events
//!                                 └─► passed / dropped                      (scored as events, by stage 2)
//! ```
//!
//! A model with `[aggregate]` runs in two stages: stage 1 (this plan)
//! reads events into per-key windows; each aggregate event a window emits
//! is a JSON object (group-by fields, `window_start`, `window_end`,
//! `partial`, the aggregates) that stage 2 — a features-only plan — scores
//! like any event.

use std::borrow::Cow;
use std::collections::BTreeMap;

use logsieve_artifact::{AggregateOp, DeriveOp, Test, Unmatched, ValidSpec};

use crate::derive::{self, Derivation, Derived, InterArrival};
use crate::event::{EventError, Reason, Scalar};
use crate::scan::{FieldTable, KeyCache, Shape, scan_cached, scan_serde};
use crate::window::{AggOp, AggSpec, AggValue, Aggregate, Pushed, WindowSpec, WindowStats, Windows};

/// Where a value comes from: a scanned field or a derived one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Raw(usize),
    Derived(usize),
}

enum DeriveStep {
    Pure { op: Derivation, inputs: Vec<Source> },
    InterArrival { state: InterArrival, time: Source, key: Vec<Source> },
}

struct WindowPlan {
    windows: Windows,
    key: Vec<Source>,
    fields: Vec<Source>,
    time: Option<Source>,
    group_by: Vec<String>,
    /// How its aggregates are written.
    layout: Layout,
}

/// What the plan made of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its feature values, one per spec feature, are in the
    /// [`Scratch`] ([`Scratch::features`]).
    Features,
    /// Did not match `[[where]]`; pass it on.
    Passed,
    /// Did not match `[[where]]`; drop it.
    Dropped,
    /// Taken into a window.
    Absorbed,
}

/// The per-event buffers of a plan, reused from event to event (their
/// values borrow the events' text, so one lives as long as a batch).
#[derive(Default)]
pub struct Scratch<'a> {
    /// The scanned fields, one per slot of the field table.
    slots: Vec<Option<Scalar<'a>>>,
    /// The features when they are not the scanned fields as they are.
    feats: Vec<Option<Scalar<'a>>>,
    /// Whether the last event's features are in `feats`.
    in_feats: bool,
    /// A windowed event's key texts and aggregated values.
    key: Vec<Cow<'a, str>>,
    values: Vec<Option<Scalar<'a>>>,
}

impl<'a> Scratch<'a> {
    /// Empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The feature values of the last event [`Recipe::run`] made
    /// [`Step::Features`] of.
    pub fn features(&self) -> &[Option<Scalar<'a>>] {
        if self.in_feats { &self.feats } else { &self.slots }
    }
}

/// Where the NDJSON line that starts at `start` ends: its `\n`, or the end
/// of the text.
pub fn line_end(text: &str, start: usize) -> usize {
    text.as_bytes()[start..].iter().position(|&c| c == b'\n').map_or(text.len(), |n| start + n)
}

/// The compiled plan of a spec.
pub struct Recipe {
    table: FieldTable,
    /// The key order of the events read so far (see [`KeyCache`]).
    keys: KeyCache,
    filters: Vec<(Source, Test)>,
    unmatched: Unmatched,
    derives: Vec<(String, DeriveStep)>,
    window: Option<WindowPlan>,
    features: Vec<Source>,
    /// Features read the scanned slots in order (no derive, no window): the
    /// fast path hands the slots over as they are.
    plain: bool,
}

struct Names<'s> {
    raw: Vec<String>,
    derived: BTreeMap<&'s str, usize>,
}

impl<'s> Names<'s> {
    fn source(&mut self, name: &str) -> Source {
        if let Some(&d) = self.derived.get(name) {
            return Source::Derived(d);
        }
        match self.raw.iter().position(|n| n == name) {
            Some(i) => Source::Raw(i),
            None => {
                self.raw.push(name.to_string());
                Source::Raw(self.raw.len() - 1)
            }
        }
    }
}

/// The window's form of an aggregate op.
fn agg_op(op: &AggregateOp) -> AggOp {
    match op {
        AggregateOp::Count { .. } => AggOp::Count,
        AggregateOp::Unique { .. } => AggOp::Unique,
        AggregateOp::Top { .. } => AggOp::Top,
        AggregateOp::Freq { .. } => AggOp::Freq,
        AggregateOp::Sum { .. } => AggOp::Sum,
        AggregateOp::Mean { .. } => AggOp::Mean,
        AggregateOp::Min { .. } => AggOp::Min,
        AggregateOp::Max { .. } => AggOp::Max,
        AggregateOp::TopTotal { .. } => AggOp::TopTotal,
    }
}

impl Recipe {
    /// Stage 1 of a spec (the whole plan). For `[aggregate]` models the
    /// features are read by [`Recipe::features_only`] from the aggregate
    /// events instead.
    pub fn new(spec: &ValidSpec) -> Result<Recipe, String> {
        Self::compile(spec, false)
    }

    /// Stage 1 as training sees it: `[[where]]` and `[[train.where]]`.
    pub fn for_training(spec: &ValidSpec) -> Result<Recipe, String> {
        Self::compile(spec, true)
    }

    fn compile(spec: &ValidSpec, training: bool) -> Result<Recipe, String> {
        let mut names = Names { raw: Vec::new(), derived: BTreeMap::new() };
        let train_filters = if training { spec.train.filters.as_slice() } else { &[] };
        let filters =
            spec.filters.iter().chain(train_filters).map(|f| (names.source(&f.field), f.test.clone())).collect();
        let time_field = spec.input.time_field.as_str();
        let mut derives = Vec::new();
        for (k, d) in spec.derive.iter().enumerate() {
            // A time op without `fields` reads the time field. A name
            // derived later (or by this op) is read from the event.
            let fields = d.op.fields();
            let inputs: Vec<Source> = if fields.is_empty() && d.op.arity() == logsieve_artifact::Arity::TimeInput {
                vec![names.source(time_field)]
            } else {
                fields.iter().map(|f| names.source(f)).collect()
            };
            let step = match &d.op {
                DeriveOp::InterArrival { key, max_keys, .. } => DeriveStep::InterArrival {
                    state: InterArrival::new(max_keys.unwrap_or(100_000)),
                    time: inputs[0],
                    key: key.iter().map(|f| names.source(f)).collect(),
                },
                op => {
                    DeriveStep::Pure { op: Derivation::new(op).map_err(|e| format!("derive {}: {e}", d.name))?, inputs }
                }
            };
            names.derived.insert(&d.name, k);
            derives.push((d.name.clone(), step));
        }
        let (window, features) = match &spec.aggregate {
            Some(a) => {
                let mut fields = Vec::new();
                let mut aggs = Vec::new();
                for f in &a.fields {
                    // Aggregates of one field share its column (`unique`,
                    // `top` and `freq` of `id.resp_p` count its values
                    // once, not three times).
                    let field = f.op.field().map(|name| {
                        let source = names.source(name);
                        fields.iter().position(|s| *s == source).unwrap_or_else(|| {
                            fields.push(source);
                            fields.len() - 1
                        })
                    });
                    aggs.push(AggSpec { name: f.name.clone(), op: agg_op(&f.op), field });
                }
                let key = a.group_by.iter().map(|g| names.source(g)).collect();
                let time = Some(names.source(time_field));
                let windows = Windows::new(WindowSpec {
                    size: a.window.seconds(),
                    allowed_lateness: a.allowed_lateness.seconds(),
                    max_future: a.max_future_seconds(),
                    max_keys: a.max_keys,
                    aggregates: aggs,
                });
                let plan = WindowPlan {
                    windows,
                    key,
                    fields,
                    time,
                    group_by: a.group_by.clone(),
                    layout: Layout::new(&a.group_by, &a.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>()),
                };
                (Some(plan), Vec::new())
            }
            None => (None, spec.features.iter().map(|f| names.source(&f.field)).collect()),
        };
        let plain = derives.is_empty()
            && window.is_none()
            && features.iter().enumerate().all(|(i, s)| *s == Source::Raw(i))
            && names.raw.len() == features.len();
        let table = FieldTable::with_aliases(names.raw, &spec.input.aliases);
        Ok(Recipe {
            table,
            keys: KeyCache::default(),
            filters,
            unmatched: spec.filter.unmatched,
            derives,
            window,
            features,
            plain,
        })
    }

    /// Stage 2 of an `[aggregate]` model: the features read from aggregate
    /// events, nothing else.
    pub fn features_only(spec: &ValidSpec) -> Recipe {
        let n = spec.features.len();
        Recipe {
            table: crate::features::field_table(spec),
            keys: KeyCache::default(),
            filters: Vec::new(),
            unmatched: Unmatched::Pass,
            derives: Vec::new(),
            window: None,
            features: (0..n).map(Source::Raw).collect(),
            plain: true,
        }
    }

    /// Whether this plan aggregates into windows.
    pub fn aggregates(&self) -> bool {
        self.window.is_some()
    }

    /// Run one event through the plan. Aggregates of windows that close
    /// are appended to `emitted` as JSON object texts.
    pub fn run<'a>(
        &mut self,
        text: &'a str,
        scratch: &mut Scratch<'a>,
        emitted: &mut Vec<String>,
    ) -> Result<(Step, Shape), EventError> {
        let shape = scan_cached(text, &self.table, &mut self.keys, &mut scratch.slots)?;
        self.after_scan(shape, scratch, emitted)
    }

    /// [`Self::run`] on the event of the NDJSON line of `batch` that starts
    /// at byte `start`; also returns where the line ends (its `\n`, or the
    /// end of the text). The line is found while it is scanned.
    #[inline]
    pub fn run_line<'a>(
        &mut self,
        batch: &'a str,
        start: usize,
        scratch: &mut Scratch<'a>,
        emitted: &mut Vec<String>,
    ) -> (Result<(Step, Shape), EventError>, usize) {
        reset(&mut scratch.slots, self.table.len());
        if let Some((shape, end)) =
            crate::scan::scan_line(batch, start, &self.table, &mut self.keys, &mut scratch.slots)
        {
            return (self.after_scan(shape, scratch, emitted), end);
        }
        let end = line_end(batch, start);
        let scanned = scan_serde(&batch[start..end], &self.table, &mut scratch.slots);
        (scanned.and_then(|shape| self.after_scan(shape, scratch, emitted)), end)
    }

    /// The plan after the scan: filters, derived fields, windows.
    fn after_scan<'a>(
        &mut self,
        shape: Shape,
        scratch: &mut Scratch<'a>,
        emitted: &mut Vec<String>,
    ) -> Result<(Step, Shape), EventError> {
        scratch.in_feats = false;
        let slots = &scratch.slots;
        for (src, test) in &self.filters {
            let Source::Raw(i) = *src else { unreachable!("filters read scanned fields") };
            if !derive::matches(test, slots[i].as_ref()) {
                let step = match self.unmatched {
                    Unmatched::Pass => Step::Passed,
                    Unmatched::Drop => Step::Dropped,
                };
                return Ok((step, shape));
            }
        }
        if self.plain {
            return Ok((Step::Features, shape));
        }
        let mut derived: Vec<Option<Scalar<'static>>> = Vec::with_capacity(self.derives.len());
        for (name, step) in &mut self.derives {
            let value = match step {
                DeriveStep::Pure { op, inputs } => {
                    let mut vals: Vec<Option<Scalar>> = inputs.iter().map(|s| fetch(*s, slots, &derived)).collect();
                    if op.reads_time() {
                        let t = vals[0].as_ref().map(derive::parse_time).transpose()?.flatten();
                        vals[0] = t.map(Scalar::Number);
                    }
                    let refs: Vec<Option<&Scalar>> = vals.iter().map(Option::as_ref).collect();
                    op.apply(&refs).map_err(|e| EventError::new(e.reason, format!("derive {name}: {}", e.detail)))?
                }
                DeriveStep::InterArrival { state, time, key } => {
                    let Some(ts) =
                        fetch(*time, slots, &derived).as_ref().map(derive::parse_time).transpose()?.flatten()
                    else {
                        return Err(EventError::new(
                            Reason::MissingField,
                            format!("derive {name}: the event has no time"),
                        ));
                    };
                    let key = key_text(key.iter().map(|s| fetch(*s, slots, &derived)));
                    state.push(&key, ts).map_or(Derived::Missing, Derived::Number)
                }
            };
            derived.push(match value {
                Derived::Number(x) => Some(Scalar::Number(x)),
                Derived::Text(t) => Some(Scalar::Str(Cow::Owned(t))),
                Derived::Missing => None,
            });
        }
        if let Some(w) = &mut self.window {
            // The key's texts and the values borrow the event (numbers are
            // written out only for the key), in buffers kept for the batch.
            scratch.key.clear();
            for (s, name) in w.key.iter().zip(&w.group_by) {
                let text = match fetch(*s, slots, &derived) {
                    Some(v) => v.into_text().ok().flatten().ok_or_else(|| {
                        EventError::new(
                            Reason::WrongType,
                            format!("group-by field '{name}' is not a value that can key a window"),
                        )
                    })?,
                    None => {
                        return Err(EventError::new(
                            Reason::MissingField,
                            format!("group-by field '{name}' is absent or null"),
                        ));
                    }
                };
                scratch.key.push(text);
            }
            let ts = match w.time.and_then(|s| fetch(s, slots, &derived)) {
                Some(v) => derive::parse_time(&v)?,
                None => None,
            };
            scratch.values.clear();
            for s in &w.fields {
                scratch.values.push(fetch(*s, slots, &derived));
            }
            let mut out = Vec::new();
            let pushed = w.windows.push(&scratch.key, ts, &scratch.values, &mut out)?;
            render_all(&w.layout, &out, emitted);
            return match pushed {
                Pushed::Absorbed => Ok((Step::Absorbed, shape)),
                Pushed::Late { window_end, watermark } => Err(EventError::new(
                    Reason::LateEvent,
                    format!(
                        "its window ended at {window_end} but event time has reached {watermark} (allowed_lateness)"
                    ),
                )),
                Pushed::Future { ts, watermark, max_future } => Err(EventError::new(
                    Reason::FutureEvent,
                    format!(
                        "its time {ts} is more than {max_future} s ahead of the stream's time {watermark} (max_future); \
                         the windows' clock did not move"
                    ),
                )),
            };
        }
        let feats: Vec<Option<Scalar<'a>>> = self.features.iter().map(|s| fetch(*s, slots, &derived)).collect();
        scratch.feats = feats;
        scratch.in_feats = true;
        Ok((Step::Features, shape))
    }

    /// End of input: the aggregates of every open window.
    pub fn flush(&mut self, emitted: &mut Vec<String>) {
        if let Some(w) = &mut self.window {
            let mut out = Vec::new();
            w.windows.flush(&mut out);
            render_all(&w.layout, &out, emitted);
        }
    }

    /// Window counters (zero without `[aggregate]`).
    pub fn window_stats(&self) -> WindowStats {
        match &self.window {
            Some(w) => w.windows.stats(),
            None => WindowStats { open: 0, emitted: 0, evicted: 0, late: 0 },
        }
    }
}

/// `n` empty slots (`None`), the vector's room kept.
#[inline]
fn reset(slots: &mut Vec<Option<Scalar>>, n: usize) {
    if slots.len() == n {
        // Most slots hold borrowed text or numbers: nothing to free.
        for s in slots.iter_mut() {
            *s = None;
        }
    } else {
        slots.clear();
        slots.resize(n, None);
    }
}

/// The value a source names: a scanned field or a derived one.
#[inline(always)]
fn fetch<'a>(s: Source, slots: &[Option<Scalar<'a>>], derived: &[Option<Scalar<'static>>]) -> Option<Scalar<'a>> {
    match s {
        Source::Raw(i) => slots[i].clone(),
        Source::Derived(j) => derived[j].clone(),
    }
}

/// The key of an inter-arrival state: the key fields' texts joined by U+001F.
fn key_text<'a>(parts: impl Iterator<Item = Option<Scalar<'a>>>) -> String {
    let mut key = String::new();
    for (n, p) in parts.enumerate() {
        if n > 0 {
            key.push('\u{1f}');
        }
        if let Some(p) = p
            && let Ok(Some(t)) = p.as_text()
        {
            key.push_str(&t);
        }
    }
    key
}

/// Where a field of an aggregate event comes from.
#[derive(Debug, Clone, Copy)]
enum Part {
    Key(usize),
    Start,
    End,
    Partial,
    Value(usize),
}

/// How an aggregate is written as a JSON object: its fields in the order a
/// `serde_json::Map` (sorted) gives them, each name's text prepared once. A
/// name given twice takes its last value, as inserting into the map would.
#[derive(Debug)]
struct Layout {
    /// `"name":` and the candidate sources in insertion order.
    fields: Vec<(Vec<u8>, Vec<Part>)>,
}

impl Layout {
    fn new(group_by: &[String], names: &[String]) -> Layout {
        let mut map: std::collections::BTreeMap<&str, Vec<Part>> = std::collections::BTreeMap::new();
        let named = group_by.iter().enumerate().map(|(i, g)| (g.as_str(), Part::Key(i)));
        let fixed = [("window_start", Part::Start), ("window_end", Part::End), ("partial", Part::Partial)];
        let values = names.iter().enumerate().map(|(j, n)| (n.as_str(), Part::Value(j)));
        for (name, part) in named.chain(fixed).chain(values) {
            map.entry(name).or_default().push(part);
        }
        let fields = map
            .into_iter()
            .map(|(name, parts)| {
                let mut key = serde_json::to_vec(name).expect("a string serializes");
                key.push(b':');
                (key, parts)
            })
            .collect();
        Layout { fields }
    }

    /// An aggregate as a JSON object text: the same bytes as building a
    /// `serde_json::Map` and printing it, without the map.
    fn render(&self, a: &Aggregate) -> String {
        let mut buf = Vec::with_capacity(64 + 24 * self.fields.len());
        buf.push(b'{');
        let mut first = true;
        for (key, parts) in &self.fields {
            // The last source present (the window bounds may be absent).
            let present = |p: &&Part| match p {
                Part::Start => a.start.is_some(),
                Part::End => a.end.is_some(),
                _ => true,
            };
            let Some(part) = parts.iter().rev().find(present) else {
                continue;
            };
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.extend_from_slice(key);
            let put_str = |buf: &mut Vec<u8>, t: &str| serde_json::to_writer(buf, t).expect("a string serializes");
            match *part {
                Part::Key(i) => put_str(&mut buf, &a.key[i]),
                Part::Start => put_num(&mut buf, a.start.expect("present")),
                Part::End => put_num(&mut buf, a.end.expect("present")),
                Part::Partial => buf.extend_from_slice(if a.partial { b"true" } else { b"false" }),
                Part::Value(j) => match &a.values[j] {
                    AggValue::Number(x) => put_num(&mut buf, *x),
                    AggValue::Text(t) => put_str(&mut buf, t),
                    AggValue::Missing => buf.extend_from_slice(b"null"),
                },
            }
        }
        buf.push(b'}');
        String::from_utf8(buf).expect("serde_json writes UTF-8")
    }
}

/// A number of an aggregate: integral values (counts, whole-second bounds)
/// as integers, others as serde_json writes them, non-finite ones as null.
fn put_num(buf: &mut Vec<u8>, x: f64) {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        serde_json::to_writer(buf, &(x as i64)).expect("a number serializes");
    } else if x.is_finite() {
        serde_json::to_writer(buf, &x).expect("a number serializes");
    } else {
        buf.extend_from_slice(b"null");
    }
}

fn render_all(layout: &Layout, aggs: &[Aggregate], out: &mut Vec<String>) {
    out.extend(aggs.iter().map(|a| layout.render(a)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The aggregate text as it was written before [`Layout`]: a
    /// `serde_json::Map` printed. `Layout::render` must give the same bytes.
    fn via_map(group_by: &[String], names: &[String], a: &Aggregate) -> String {
        let mut m = serde_json::Map::new();
        for (g, k) in group_by.iter().zip(&a.key) {
            m.insert(g.clone(), serde_json::Value::String(k.clone()));
        }
        let num = |x: f64| {
            if x.fract() == 0.0 && x.abs() < 9.0e15 {
                serde_json::Value::Number((x as i64).into())
            } else {
                serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        };
        if let Some(s) = a.start {
            m.insert("window_start".into(), num(s));
        }
        if let Some(e) = a.end {
            m.insert("window_end".into(), num(e));
        }
        m.insert("partial".into(), serde_json::Value::Bool(a.partial));
        for (name, v) in names.iter().zip(&a.values) {
            let v = match v {
                AggValue::Number(x) => num(*x),
                AggValue::Text(t) => serde_json::Value::String(t.clone()),
                AggValue::Missing => serde_json::Value::Null,
            };
            m.insert(name.clone(), v);
        }
        serde_json::Value::Object(m).to_string()
    }

    #[test]
    fn aggregates_are_written_as_a_printed_map_writes_them() {
        let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let numbers = [
            0.0, -0.0, 1.0, -7.0, 0.1, 1713571129.542769, 1713571200.0, 8.99e15, 9.0e15, 1e16, 2.5e-7, 1e300,
            -1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN_POSITIVE,
        ];
        let texts = ["", "80", "a\"b\\c", "tab\there", "\u{1}\u{1f}", "é✓😀", "</script>"];
        let layouts = [
            (strs(&["id.orig_h"]), strs(&["count", "unique", "top", "freq"])),
            (strs(&["b", "a"]), strs(&["z", "partial", "a", "count"])),
            (strs(&["window_start"]), strs(&["window_end", "n", "n"])),
            (strs(&[]), strs(&["x"])),
        ];
        let mut checked = 0;
        for (group_by, names) in &layouts {
            let layout = Layout::new(group_by, names);
            for (i, &x) in numbers.iter().enumerate() {
                for bounds in [None, Some((x, numbers[(i + 5) % numbers.len()]))] {
                    let a = Aggregate {
                        key: group_by.iter().enumerate().map(|(k, _)| texts[(i + k) % texts.len()].to_string()).collect(),
                        start: bounds.map(|b| b.0),
                        end: bounds.map(|b| b.1),
                        partial: i % 2 == 0,
                        values: names
                            .iter()
                            .enumerate()
                            .map(|(j, _)| match (i + j) % 3 {
                                0 => AggValue::Number(numbers[(i + j) % numbers.len()]),
                                1 => AggValue::Text(texts[(i + j) % texts.len()].to_string()),
                                _ => AggValue::Missing,
                            })
                            .collect(),
                    };
                    assert_eq!(layout.render(&a), via_map(group_by, names, &a), "{group_by:?} {names:?} {a:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, layouts.len() * numbers.len() * 2);
    }
}
