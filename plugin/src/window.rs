//! Per-key tumbling-window aggregation: pandas `groupby(key).describe()`
//! computed inline on a stream, per key and per time window, with a bound
//! on how many groups are held at once.
//!
//! The security notebooks summarise each origin host (how many connections,
//! how many distinct destinations, the most common destination and how often
//! it was contacted) and cluster hosts on those numbers. [`Windows`] computes
//! the same summaries while events stream past.
//!
//! # Windows
//!
//! - With `size = Some(s)` (seconds, finite and > 0), windows are tumbling
//!   and aligned to the Unix epoch: an event at time `ts` belongs to window
//!   `k = floor(ts / s)`, which spans `[k*s, (k+1)*s)`; its [`Aggregate`]
//!   has `start = Some(k*s)` and `end = Some((k+1)*s)`. Every event must
//!   carry a finite `ts` (`None` is refused with `missing_field`; the caller
//!   normally reports a missing time itself before pushing).
//! - With `size = None`, the whole input is one window. It never closes
//!   before [`Windows::flush`], nothing is ever late, and `ts` is optional.
//!   An aggregate's `start`/`end` are the smallest/largest `ts` pushed into
//!   that entry (`None` when none of its events had a time).
//!
//! An *entry* is one (key, window) group. A key is the list of group-by
//! values as text; two keys are equal when all their parts are equal.
//!
//! # Watermark, closing and late events (`size = Some`)
//!
//! The *watermark* is the largest `ts` pushed so far (refused events do not
//! move it). Window `[start, end)` *closes* once
//! `watermark >= end + allowed_lateness`. Closing happens inside
//! [`Windows::push`], after the watermark has moved to the new event's time
//! and before that event is added: each closed window's entries are appended
//! to `out`, windows in start order, and within a window in the order the
//! entries were created (the first event of that key in that window).
//!
//! An event whose time is more than `max_future` ahead of the watermark
//! (once there is one) is refused before anything else: `push` returns
//! [`Pushed::Future`] and the watermark does not move, so one event dated
//! decades ahead cannot close every window and make the rest of the stream
//! late. If the next event is that far ahead too and within `max_future` of
//! it, the stream's time really jumped: that event is taken and moves the
//! watermark.
//!
//! An event whose own window has already closed
//! (`end + allowed_lateness <= watermark`) is *late*: it is not aggregated,
//! `push` returns [`Pushed::Late`] and [`WindowStats::late`] increases; the
//! caller sends it to the errors output with reason `late_event`. Events out
//! of time order whose window is still open are aggregated normally, so
//! `allowed_lateness` is how long (in event time) a window waits for
//! stragglers.
//!
//! # Memory bound
//!
//! At most `max_keys` entries (over all windows) are open at once. When a new
//! entry would exceed that, the oldest open entry (earliest window start, then
//! earliest created) is emitted early with `partial: true` and
//! [`WindowStats::evicted`] increases. If that key sends more events in the
//! same window, they start a new entry, which is also `partial: true` (its
//! window was split); each part covers only its own events. To know that,
//! a window remembers the keys it evicted, up to `max_keys` of them: once a
//! window has evicted more distinct keys than that, it forgets them and
//! every entry it opens afterwards is `partial: true` (it may be the rest of
//! an evicted key's events). The text values an entry holds are stored once
//! per window and shared by its entries; without a `TopTotal` aggregate a
//! value is dropped when the last open entry holding it is emitted. So the
//! state is bounded by `max_keys` entries, `max_keys` remembered keys per
//! window, and the distinct values the open entries hold (`Unique` is
//! exact), whatever the number of distinct keys in the stream. A `TopTotal`
//! aggregate counts every distinct value of its field in a window, over all
//! keys, until the window closes (that is what it reports). Everything is
//! freed when the window closes.
//!
//! [`Windows::flush`] (end of input) emits every open entry, windows in start
//! order then entries in creation order, and empties the state (the watermark
//! too, so the value can be reused; the [`WindowStats`] counters keep
//! counting).
//!
//! # Aggregates
//!
//! Each [`AggSpec`] reads one of the `fields` given to `push` (by index; an
//! index past the end of `fields` reads as absent). Absent (`None`) and JSON
//! `null` values are *null*. Text uses [`Scalar::as_text`] (a number is
//! `80`, not `80.0`; a boolean is `true`/`false`); numbers use
//! [`Scalar::as_number`] (a numeric string is parsed, a boolean is 1/0).
//! Counts are emitted as [`AggValue::Number`].
//!
//! | op | value |
//! |----|-------|
//! | `Count` | without a field: the number of events in the entry; with one: the number of non-null values (pandas `count`; an array or object counts) |
//! | `Unique` | the number of distinct non-null text values |
//! | `Top` | the most frequent text value; ties go to the value seen first in the entry; `Missing` if there is none |
//! | `Freq` | how many times `Top` occurs; `Missing` if there is no `Top` |
//! | `Sum`, `Mean`, `Min`, `Max` | over the non-null numbers; `Missing` when there are none (for `Sum` too) |
//! | `TopTotal` | how many events of the same window, over all keys, have this entry's `Top` value in that field (the notebooks' `top_host_connections`); `Missing` if there is no `Top` |
//!
//! `TopTotal` is read when the entry is emitted: for an entry emitted at
//! window close it covers the whole window; for an entry evicted early it
//! covers the window up to that moment. With `size = None` it covers the
//! whole input.
//!
//! An event is refused, with no effect on the state (not aggregated, the
//! watermark unchanged), when a value cannot be read: an array or object
//! where text is needed, or a non-numeric string (or array/object) where a
//! number is needed, is `wrong_type`; a number that is not finite (e.g. the
//! string `"inf"`) is `non_finite`. The detail names the aggregate. A
//! non-finite `ts` is `non_finite`.
//!
//! Output does not depend on hash iteration order, so native and wasm runs
//! give the same aggregates in the same order.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use crate::event::{Coerce, EventError, Scalar, number_text};
use crate::reason::Reason;

/// What an aggregate computes (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggOp {
    /// Number of events, or of non-null values of the field.
    Count,
    /// Number of distinct non-null text values.
    Unique,
    /// Most frequent text value (ties: first seen).
    Top,
    /// Occurrences of `Top`.
    Freq,
    /// Sum of the non-null numbers.
    Sum,
    /// Mean of the non-null numbers.
    Mean,
    /// Smallest non-null number.
    Min,
    /// Largest non-null number.
    Max,
    /// Events in the same window, over all keys, whose field equals `Top`.
    TopTotal,
}

impl AggOp {
    /// Whether the op reads its field as text.
    fn reads_text(self) -> bool {
        matches!(self, AggOp::Unique | AggOp::Top | AggOp::Freq | AggOp::TopTotal)
    }

    /// Whether the op reads its field as a number.
    fn reads_number(self) -> bool {
        matches!(self, AggOp::Sum | AggOp::Mean | AggOp::Min | AggOp::Max)
    }
}

/// One aggregate to compute per entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AggSpec {
    /// Output name (used in error details; the caller names its columns with it).
    pub name: String,
    /// What to compute.
    pub op: AggOp,
    /// Index into the `fields` slice given to [`Windows::push`]. `None` only
    /// for [`AggOp::Count`] (count events rather than non-null values).
    pub field: Option<usize>,
}

/// How to window and what to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// Window length in seconds (finite, > 0), epoch-aligned tumbling
    /// windows; `None` for one window over the whole input.
    pub size: Option<f64>,
    /// How long (seconds of event time, finite, >= 0) a window stays open
    /// after the watermark passes its end.
    pub allowed_lateness: f64,
    /// How far (seconds, > 0, may be infinite) ahead of the watermark an
    /// event may be (see [`Pushed::Future`]).
    pub max_future: f64,
    /// Most (key, window) entries held at once (>= 1).
    pub max_keys: usize,
    /// The aggregates, in output order.
    pub aggregates: Vec<AggSpec>,
}

impl WindowSpec {
    /// Check the spec: `size` finite and > 0, `allowed_lateness` finite and
    /// >= 0, `max_keys` >= 1, and a field for every op but `Count`.
    pub fn check(&self) -> Result<(), String> {
        if let Some(s) = self.size
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!("window size must be a finite number > 0, got {s}"));
        }
        let l = self.allowed_lateness;
        if !(l.is_finite() && l >= 0.0) {
            return Err(format!("allowed_lateness must be a finite number >= 0, got {l}"));
        }
        if self.max_future.is_nan() || self.max_future <= 0.0 {
            return Err(format!("max_future must be a number > 0, got {}", self.max_future));
        }
        if self.max_keys == 0 {
            return Err("max_keys must be at least 1".to_string());
        }
        for a in &self.aggregates {
            if a.field.is_none() && a.op != AggOp::Count {
                return Err(format!("aggregate '{}' ({:?}) needs a field", a.name, a.op));
            }
        }
        Ok(())
    }
}

/// One computed value.
#[derive(Debug, Clone, PartialEq)]
pub enum AggValue {
    /// A number (counts included).
    Number(f64),
    /// A text value (`Top`).
    Text(String),
    /// Nothing to report (no non-null values).
    Missing,
}

/// The aggregates of one (key, window) entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The group-by values, as given to [`Windows::push`].
    pub key: Vec<String>,
    /// Window start; with `size = None`, the entry's smallest event time.
    pub start: Option<f64>,
    /// Window end (exclusive); with `size = None`, the entry's largest event time.
    pub end: Option<f64>,
    /// The entry covers only part of its key's events in the window: it was
    /// evicted early, or it started after an earlier part was evicted.
    pub partial: bool,
    /// One value per [`AggSpec`], in order.
    pub values: Vec<AggValue>,
}

/// What [`Windows::push`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pushed {
    /// Aggregated into its entry.
    Absorbed,
    /// Its window had closed; not aggregated (report it as `late_event`).
    Late {
        /// End of the event's window.
        window_end: f64,
        /// The watermark (largest event time so far).
        watermark: f64,
    },
    /// Its time is more than `max_future` ahead of the watermark: not
    /// aggregated, the watermark unchanged (report it as `future_event`).
    /// The next event is taken if it is that far ahead too and within
    /// `max_future` of this one (the stream's time really jumped).
    Future {
        /// The event's time.
        ts: f64,
        /// The watermark.
        watermark: f64,
        /// The spec's `max_future`.
        max_future: f64,
    },
}

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStats {
    /// (key, window) entries held now.
    pub open: usize,
    /// Aggregates emitted so far (at close, by eviction or by flush).
    pub emitted: u64,
    /// Of those, entries emitted early because of `max_keys`.
    pub evicted: u64,
    /// Late events refused.
    pub late: u64,
}

/// A distinct field read by some aggregates.
#[derive(Debug, Clone)]
struct Column {
    field: usize,
    /// First aggregate reading it as text (for error details).
    text: Option<usize>,
    /// First aggregate reading it as a number.
    number: Option<usize>,
    /// Slot in a window's `totals` when some `TopTotal` reads it.
    total: Option<usize>,
}

/// The hasher of every map of the windows: joined keys and text values
/// (bytes, eight at a time), window-local value ids and integral values. A
/// multiply and a fold of the high half into the low one per word, and
/// once more at the end, so every input bit reaches the bits hashbrown
/// indexes with (`fold_hash_spreads_keys_over_buckets`). Not keyed: the
/// component has no source of randomness (std's SipHash ran there with
/// fixed keys, so it kept no secret either), and it costs a third of
/// SipHash-1-3 on the per-key path (bench/scoring.rs, per-host
/// aggregation).
#[derive(Default, Clone, Copy)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        // The high half folded into the low one once more: hashbrown
        // indexes with the low bits and tags with the top seven.
        let h = self.0.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.write_u64(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(last));
        }
    }
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
    fn write_u64(&mut self, x: u64) {
        // 64-bit operations only: wasm32 has no 64 x 64 -> 128-bit multiply
        // (there a `u128` product is a call to `__multi3`, which cost 6.6 %
        // of the component's instructions on the per-host path: callgrind of
        // `score_profile component hosts.msgpack`, 3 passes over 3,000
        // events, 164.3 M -> 153.4 M).
        let m = (self.0 ^ x ^ 0x243F_6A88_85A3_08D3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = m ^ (m >> 32);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
    fn write_i64(&mut self, x: i64) {
        self.write_u64(x as u64);
    }
}

type Fold = BuildHasherDefault<FoldHasher>;
/// Value id -> position.
type IdMap<V> = HashMap<u32, V, Fold>;
/// Integral value -> value id.
type IdMap64<V> = HashMap<i64, V, Fold>;

/// `x` as an integer when [`number_text`] writes it as one.
fn integral(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
}

/// Distinct values an entry's counter holds inline before spilling to `rest`.
const INLINE: usize = 4;
/// Above this many distinct values an entry's counter gets a hash index.
const LINEAR_MAX: usize = 16;

/// An entry's distinct text values (window-local ids) with counts, in
/// first-seen order (`inline` first, then `rest`), and the running top.
#[derive(Debug, Default)]
struct Counter {
    /// Number of distinct values.
    len: u32,
    /// (position, count) of the current top; count 0 when there is none.
    top: (u32, u64),
    /// (value id, count) of the first `INLINE` distinct values.
    inline: [(u32, u64); INLINE],
    /// The others, in first-seen order.
    rest: Vec<(u32, u64)>,
    /// value id -> position, once there are many values.
    index: Option<Box<IdMap<u32>>>,
}

impl Counter {
    fn slot(&mut self, pos: u32) -> &mut (u32, u64) {
        let p = pos as usize;
        if p < INLINE { &mut self.inline[p] } else { &mut self.rest[p - INLINE] }
    }

    fn find(&self, id: u32) -> Option<u32> {
        if let Some(index) = &self.index {
            return index.get(&id).copied();
        }
        let n = (self.len as usize).min(INLINE);
        if let Some(p) = self.inline[..n].iter().position(|&(v, _)| v == id) {
            return Some(p as u32);
        }
        self.rest.iter().position(|&(v, _)| v == id).map(|p| (p + INLINE) as u32)
    }

    /// Counts `id`; whether it is new to this counter.
    fn add(&mut self, id: u32) -> bool {
        let (pos, n) = match self.find(id) {
            Some(p) => {
                let e = self.slot(p);
                e.1 += 1;
                (p, e.1)
            }
            None => {
                let p = self.len;
                self.len += 1;
                if (p as usize) < INLINE {
                    self.inline[p as usize] = (id, 1);
                } else {
                    self.rest.push((id, 1));
                }
                match &mut self.index {
                    Some(index) => {
                        index.insert(id, p);
                    }
                    None if self.len as usize > LINEAR_MAX => {
                        let mut index = IdMap::default();
                        for q in 0..self.len {
                            index.insert(self.slot(q).0, q);
                        }
                        self.index = Some(Box::new(index));
                    }
                    None => {}
                }
                (p, 1)
            }
        };
        // Counts only grow, so comparing the changed value with the current
        // top keeps "highest count, then first seen" exact.
        let (tp, tn) = self.top;
        if n > tn || (n == tn && pos < tp) {
            self.top = (pos, n);
        }
        n == 1
    }

    /// (value id, count) of the top value.
    fn top(&self) -> Option<(u32, u64)> {
        let (p, n) = self.top;
        if n == 0 {
            return None;
        }
        let p = p as usize;
        let id = if p < INLINE { self.inline[p].0 } else { self.rest[p - INLINE].0 };
        Some((id, n))
    }
}

#[derive(Debug, Clone, Copy)]
struct NumStat {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for NumStat {
    fn default() -> Self {
        NumStat { n: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

/// One entry's state for one column.
#[derive(Debug, Default)]
struct ColState {
    non_null: u64,
    text: Counter,
    num: NumStat,
}

/// One entry's own state (its columns live in [`Win::cols`]).
#[derive(Debug)]
struct Meta {
    key: Vec<String>,
    partial: bool,
    count: u64,
    ts_min: f64,
    ts_max: f64,
}

/// An index key: the joined key's bytes, inline when short (no pointer to
/// follow when comparing), hashed and compared as `[u8]`.
#[derive(Debug, Clone)]
enum KeyBuf {
    Inline(u8, [u8; 30]),
    Heap(Box<[u8]>),
}

impl KeyBuf {
    fn new(b: &[u8]) -> KeyBuf {
        if b.len() <= 30 {
            let mut a = [0u8; 30];
            a[..b.len()].copy_from_slice(b);
            KeyBuf::Inline(b.len() as u8, a)
        } else {
            KeyBuf::Heap(b.into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            KeyBuf::Inline(n, a) => &a[..*n as usize],
            KeyBuf::Heap(b) => b,
        }
    }
}

/// A joined key as the index looks it up: bytes compared eight at a time.
/// (`[u8] == [u8]` is a call to `memcmp`, which in the component compares
/// a byte at a time, each time round its loop an interruption check: 345
/// of the 13,900 instructions per event of the per-host path, callgrind of
/// `score_profile component`.)
#[repr(transparent)]
struct KeyBytes([u8]);

impl KeyBytes {
    fn new(b: &[u8]) -> &KeyBytes {
        // SAFETY: `KeyBytes` is a transparent wrapper of `[u8]`.
        unsafe { &*(b as *const [u8] as *const KeyBytes) }
    }
}

impl PartialEq for KeyBytes {
    #[inline]
    fn eq(&self, other: &KeyBytes) -> bool {
        same_bytes(&self.0, &other.0)
    }
}

impl Eq for KeyBytes {}

impl Hash for KeyBytes {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}

/// `a == b`, a word at a time: no loop up to 32 bytes (overlapping words
/// cover the lengths between), no `memcmp`.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let h = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..8 => h(a, 0) == h(b, 0) && h(a, n - 4) == h(b, n - 4),
        8..=16 => w(a, 0) == w(b, 0) && w(a, n - 8) == w(b, n - 8),
        17..=32 => {
            w(a, 0) == w(b, 0) && w(a, 8) == w(b, 8) && w(a, n - 16) == w(b, n - 16) && w(a, n - 8) == w(b, n - 8)
        }
        _ => a == b,
    }
}

/// The impls that make an owned key type (`bytes()` its text) a key of a
/// map looked up by [`KeyBytes`]: hashed as the `KeyBytes` it borrows as,
/// compared by [`same_bytes`].
macro_rules! looked_up_as_key_bytes {
    ($($t:ty),*) => {$(
        impl Borrow<KeyBytes> for $t {
            fn borrow(&self) -> &KeyBytes {
                KeyBytes::new(self.bytes())
            }
        }

        impl PartialEq for $t {
            fn eq(&self, other: &$t) -> bool {
                same_bytes(self.bytes(), other.bytes())
            }
        }

        impl Eq for $t {}

        impl Hash for $t {
            fn hash<H: Hasher>(&self, h: &mut H) {
                self.bytes().hash(h);
            }
        }
    )*};
}

/// A window's text value as its `ids` map holds it: looked up by
/// [`KeyBytes`], so compared a word at a time like the joined keys (a
/// `top` of a text field such as `id.resp_h` looks its value up at every
/// event).
#[derive(Debug)]
struct TextKey(Arc<str>);

impl TextKey {
    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

looked_up_as_key_bytes!(KeyBuf, TextKey);

/// One open window. Entries are numbered in creation order (`seq`); the
/// open ones are `base..base + metas.len()`, oldest first, and entry
/// `seq`'s columns are `cols[(seq - base) * n_cols..][..n_cols]`.
#[derive(Debug)]
struct Win {
    /// Window number `floor(ts / size)` (0 with `size = None`).
    k: f64,
    /// Joined key -> seq of its open entry.
    index: HashMap<KeyBuf, u64, Fold>,
    metas: VecDeque<Meta>,
    cols: VecDeque<ColState>,
    base: u64,
    /// Joined keys evicted from this window (their later entries are
    /// partial), at most `max_keys` of them.
    evicted_keys: HashSet<KeyBuf, Fold>,
    /// More keys were evicted than `evicted_keys` holds: every later entry
    /// of this window is partial.
    evicted_overflow: bool,
    /// Text values seen in this window (all text columns) -> id.
    ids: HashMap<TextKey, u32, Fold>,
    /// Integral numbers seen (ports, codes) -> the id of their text, so a
    /// number is counted without writing its text each time.
    int_ids: IdMap64<u32>,
    /// id -> text value (an empty text for a freed id).
    texts: Vec<Arc<str>>,
    /// id -> how many open entries' counters hold it (kept only without
    /// `TopTotal`, whose counts need every value until the window closes).
    refs: Vec<u32>,
    /// Freed ids, to reuse.
    free: Vec<u32>,
    /// Per `TopTotal` column: value id -> events in this window over all keys.
    totals: Vec<Vec<u64>>,
}

impl Win {
    /// An empty window with room for `size` entries and texts (the size of
    /// the last window closed, so a busy window does not grow its tables
    /// step by step again).
    fn new(k: f64, n_totals: usize, size: Size) -> Win {
        Win {
            k,
            index: HashMap::with_capacity_and_hasher(size.entries, Fold::default()),
            metas: VecDeque::with_capacity(size.entries),
            cols: VecDeque::with_capacity(size.cols),
            base: 0,
            evicted_keys: HashSet::default(),
            evicted_overflow: false,
            ids: HashMap::with_capacity_and_hasher(size.texts, Fold::default()),
            int_ids: IdMap64::default(),
            texts: Vec::with_capacity(size.texts),
            refs: Vec::new(),
            free: Vec::new(),
            totals: vec![Vec::new(); n_totals],
        }
    }

    /// The window-local id of a text value.
    fn intern(&mut self, v: &str) -> u32 {
        if let Some(&id) = self.ids.get(KeyBytes::new(v.as_bytes())) {
            return id;
        }
        let rc: Arc<str> = Arc::from(v);
        let id = match self.free.pop() {
            Some(id) => {
                self.texts[id as usize] = rc.clone();
                id
            }
            None => {
                self.texts.push(rc.clone());
                self.refs.push(0);
                self.texts.len() as u32 - 1
            }
        };
        self.ids.insert(TextKey(rc), id);
        id
    }

    /// The window-local id of a value's text (`None` for null or a
    /// composite, which the caller has refused before).
    fn intern_value(&mut self, v: &Scalar) -> Option<u32> {
        if let Scalar::Number(x) = *v
            && let Some(i) = integral(x)
        {
            if let Some(&id) = self.int_ids.get(&i) {
                return Some(id);
            }
            let id = self.intern(&number_text(x));
            self.int_ids.insert(i, id);
            return Some(id);
        }
        let text = v.as_text().ok()??;
        Some(self.intern(&text))
    }

    /// An entry leaving the window early: the values only it held are freed.
    fn release(&mut self, cols: &[ColState]) {
        for c in cols {
            let t = &c.text;
            let n = (t.len as usize).min(INLINE);
            for &(id, _) in t.inline[..n].iter().chain(&t.rest) {
                let r = &mut self.refs[id as usize];
                *r -= 1;
                if *r == 0 {
                    let text = std::mem::replace(&mut self.texts[id as usize], Arc::from(""));
                    if let Ok(i) = text.parse::<i64>()
                        && self.int_ids.get(&i) == Some(&id)
                    {
                        self.int_ids.remove(&i);
                    }
                    self.ids.remove(KeyBytes::new(text.as_bytes()));
                    self.free.push(id);
                }
            }
        }
    }
}

/// How much room a new window starts with.
#[derive(Debug, Default, Clone, Copy)]
struct Size {
    entries: usize,
    cols: usize,
    texts: usize,
}

/// The fixed part: what to compute.
#[derive(Debug)]
struct Plan {
    size: Option<f64>,
    lateness: f64,
    max_future: f64,
    max_keys: usize,
    aggs: Vec<AggSpec>,
    /// Column of each aggregate (None: `Count` of events).
    agg_cols: Vec<Option<usize>>,
    cols: Vec<Column>,
    n_totals: usize,
}

impl Plan {
    /// The aggregate of one entry; `cols` are its columns.
    fn finish(&self, m: Meta, cols: &[ColState], win: &Win, evicted: bool) -> Aggregate {
        let (start, end) = match self.size {
            Some(s) => (Some(win.k * s), Some((win.k + 1.0) * s)),
            None if m.ts_min <= m.ts_max => (Some(m.ts_min), Some(m.ts_max)),
            None => (None, None),
        };
        let values = self
            .aggs
            .iter()
            .zip(&self.agg_cols)
            .map(|(a, c)| {
                let Some(c) = *c else {
                    return AggValue::Number(m.count as f64);
                };
                let st = &cols[c];
                let num = |f: fn(&NumStat) -> f64| {
                    if st.num.n == 0 { AggValue::Missing } else { AggValue::Number(f(&st.num)) }
                };
                match a.op {
                    AggOp::Count => AggValue::Number(st.non_null as f64),
                    AggOp::Unique => AggValue::Number(f64::from(st.text.len)),
                    AggOp::Top => match st.text.top() {
                        Some((id, _)) => AggValue::Text(win.texts[id as usize].to_string()),
                        None => AggValue::Missing,
                    },
                    AggOp::Freq => match st.text.top() {
                        Some((_, n)) => AggValue::Number(n as f64),
                        None => AggValue::Missing,
                    },
                    AggOp::TopTotal => {
                        let slot = self.cols[c].total.expect("TopTotal column has a totals slot");
                        match st.text.top() {
                            Some((id, _)) => AggValue::Number(win.totals[slot][id as usize] as f64),
                            None => AggValue::Missing,
                        }
                    }
                    AggOp::Sum => num(|s| s.sum),
                    AggOp::Mean => num(|s| s.sum / s.n as f64),
                    AggOp::Min => num(|s| s.min),
                    AggOp::Max => num(|s| s.max),
                }
            })
            .collect();
        Aggregate { key: m.key, start, end, partial: m.partial || evicted, values }
    }
}

/// Streaming per-key tumbling-window aggregation (see the [module documentation](self)).
#[derive(Debug)]
pub struct Windows {
    plan: Plan,
    /// Open windows, by ascending `k`.
    windows: VecDeque<Win>,
    watermark: f64,
    stats: WindowStats,
    /// The time of the event just refused as [`Pushed::Future`], if the
    /// last event was one.
    jump: Option<f64>,
    /// Reused buffer for the joined key.
    scratch: Vec<u8>,
    /// The size of the last window closed (see [`Win::new`]).
    last: Size,
    /// Per column: the number read from the current event.
    nums: Vec<Option<f64>>,
}

/// Write an injective encoding of `parts` to `buf`: each part as its byte
/// length in decimal, `:`, then the part's bytes (so no separator can collide).
fn join_key<S: AsRef<str>>(buf: &mut Vec<u8>, parts: &[S]) {
    buf.clear();
    for p in parts {
        let p = p.as_ref().as_bytes();
        buf.extend_from_slice(itoa::Buffer::new().format(p.len()).as_bytes());
        buf.push(b':');
        buf.extend_from_slice(p);
    }
}

impl Windows {
    /// A new, empty aggregator.
    ///
    /// # Panics
    ///
    /// If the spec is invalid (see [`WindowSpec::check`]); check it first
    /// when it comes from user input.
    pub fn new(spec: WindowSpec) -> Windows {
        if let Err(e) = spec.check() {
            panic!("invalid window spec: {e}");
        }
        let mut cols: Vec<Column> = Vec::new();
        let mut n_totals = 0;
        let mut agg_cols = Vec::with_capacity(spec.aggregates.len());
        for (ai, a) in spec.aggregates.iter().enumerate() {
            let Some(field) = a.field else {
                agg_cols.push(None);
                continue;
            };
            let ci = match cols.iter().position(|c| c.field == field) {
                Some(ci) => ci,
                None => {
                    cols.push(Column { field, text: None, number: None, total: None });
                    cols.len() - 1
                }
            };
            let c = &mut cols[ci];
            if a.op.reads_text() && c.text.is_none() {
                c.text = Some(ai);
            }
            if a.op.reads_number() && c.number.is_none() {
                c.number = Some(ai);
            }
            if a.op == AggOp::TopTotal && c.total.is_none() {
                c.total = Some(n_totals);
                n_totals += 1;
            }
            agg_cols.push(Some(ci));
        }
        let n_cols = cols.len();
        Windows {
            plan: Plan {
                size: spec.size,
                lateness: spec.allowed_lateness,
                max_future: spec.max_future,
                max_keys: spec.max_keys,
                aggs: spec.aggregates,
                agg_cols,
                cols,
                n_totals,
            },
            windows: VecDeque::new(),
            watermark: f64::NEG_INFINITY,
            stats: WindowStats::default(),
            jump: None,
            scratch: Vec::new(),
            last: Size::default(),
            nums: vec![None; n_cols],
        }
    }

    /// Add one event. `key`: the group-by values as text (one per group-by
    /// field); `ts`: event time in seconds (required when `size` is `Some`;
    /// the caller reports a missing time itself); `fields`: the values the
    /// aggregates read, by [`AggSpec::field`] index.
    ///
    /// Windows closed by this event's time, and an entry evicted to make
    /// room for it, are appended to `out` first. Errors (`missing_field`,
    /// `non_finite`, `wrong_type`) leave the state unchanged.
    pub fn push<S: AsRef<str>>(
        &mut self,
        key: &[S],
        ts: Option<f64>,
        fields: &[Option<Scalar>],
        out: &mut Vec<Aggregate>,
    ) -> Result<Pushed, EventError> {
        // 1. Read everything before changing anything.
        if let Some(t) = ts
            && !t.is_finite()
        {
            return Err(EventError::new(Reason::NonFinite, format!("event time {t} is not a finite number")));
        }
        let k = match self.plan.size {
            Some(size) => match ts {
                Some(t) => (t / size).floor(),
                None => {
                    return Err(EventError::new(Reason::MissingField, "the event has no time (windows need one)"));
                }
            },
            None => 0.0,
        };
        for (c, col) in self.plan.cols.iter().enumerate() {
            self.nums[c] = None;
            let Some(v) = fields.get(col.field).and_then(Option::as_ref) else {
                continue;
            };
            // `as_text` fails exactly for arrays and objects.
            if let (Some(ai), Scalar::Composite(kind)) = (col.text, v) {
                let name = &self.plan.aggs[ai].name;
                return Err(EventError::new(Reason::WrongType, format!("aggregate '{name}' reads text, got {kind}")));
            }
            if let Some(ai) = col.number {
                let name = &self.plan.aggs[ai].name;
                match v.as_number() {
                    Ok(Some(x)) if !x.is_finite() => {
                        return Err(EventError::new(
                            Reason::NonFinite,
                            format!("aggregate '{name}': {x} is not a finite number"),
                        ));
                    }
                    Ok(x) => self.nums[c] = x,
                    Err(Coerce::WrongType(got)) => {
                        return Err(EventError::new(
                            Reason::WrongType,
                            format!("aggregate '{name}' reads numbers, got {got}"),
                        ));
                    }
                }
            }
        }

        // 2. Watermark, closing, lateness.
        if let (Some(size), Some(t)) = (self.plan.size, ts) {
            let max_future = self.plan.max_future;
            if self.watermark.is_finite() && t - self.watermark > max_future {
                let jumped = self.jump.is_some_and(|j| (t - j).abs() <= max_future);
                if !jumped {
                    self.jump = Some(t);
                    return Ok(Pushed::Future { ts: t, watermark: self.watermark, max_future });
                }
            }
            self.jump = None;
            if t > self.watermark {
                self.watermark = t;
                self.close_closed(out);
            }
            let end = (k + 1.0) * size;
            if end + self.plan.lateness <= self.watermark {
                self.stats.late += 1;
                return Ok(Pushed::Late { window_end: end, watermark: self.watermark });
            }
        }

        // 3. The window (usually the newest).
        let wi = match self.windows.iter().rposition(|w| w.k <= k) {
            Some(i) if self.windows[i].k == k => i,
            found => {
                let at = found.map_or(0, |i| i + 1);
                self.windows.insert(at, Win::new(k, self.plan.n_totals, self.last));
                at
            }
        };

        // 4. The entry.
        let n_cols = self.plan.cols.len();
        join_key(&mut self.scratch, key);
        let found = self.windows[wi].index.get(KeyBytes::new(&self.scratch)).copied();
        let pos = match found {
            Some(seq) => (seq - self.windows[wi].base) as usize,
            None => {
                if self.stats.open >= self.plan.max_keys {
                    self.evict_oldest(out);
                }
                let win = &mut self.windows[wi];
                let partial = win.evicted_overflow
                    || (!win.evicted_keys.is_empty() && win.evicted_keys.contains(KeyBytes::new(&self.scratch)));
                let pos = win.metas.len();
                win.index.insert(KeyBuf::new(&self.scratch), win.base + pos as u64);
                win.metas.push_back(Meta {
                    key: key.iter().map(|s| s.as_ref().to_owned()).collect(),
                    partial,
                    count: 0,
                    ts_min: f64::INFINITY,
                    ts_max: f64::NEG_INFINITY,
                });
                win.cols.extend((0..n_cols).map(|_| ColState::default()));
                self.stats.open += 1;
                pos
            }
        };

        // 5. Aggregate.
        let win = &mut self.windows[wi];
        let m = &mut win.metas[pos];
        m.count += 1;
        if let Some(t) = ts {
            m.ts_min = m.ts_min.min(t);
            m.ts_max = m.ts_max.max(t);
        }
        for (c, col) in self.plan.cols.iter().enumerate() {
            let v = match fields.get(col.field) {
                Some(Some(v)) if !matches!(v, Scalar::Null) => v,
                _ => continue,
            };
            let ci = pos * n_cols + c;
            win.cols[ci].non_null += 1;
            if col.text.is_some()
                && let Some(id) = win.intern_value(v)
            {
                if win.cols[ci].text.add(id) && self.plan.n_totals == 0 {
                    win.refs[id as usize] += 1;
                }
                if let Some(slot) = col.total {
                    let t = &mut win.totals[slot];
                    if t.len() <= id as usize {
                        t.resize(id as usize + 1, 0);
                    }
                    t[id as usize] += 1;
                }
            }
            if let Some(x) = self.nums[c] {
                let s = &mut win.cols[ci].num;
                s.n += 1;
                s.sum += x;
                s.min = s.min.min(x);
                s.max = s.max.max(x);
            }
        }
        Ok(Pushed::Absorbed)
    }

    /// End of input: emit every open entry (windows in start order, entries
    /// in creation order) and empty the state, watermark included.
    pub fn flush(&mut self, out: &mut Vec<Aggregate>) {
        while let Some(w) = self.windows.pop_front() {
            self.emit_window(w, out);
        }
        self.watermark = f64::NEG_INFINITY;
        self.jump = None;
    }

    /// The counters.
    pub fn stats(&self) -> WindowStats {
        self.stats
    }

    /// Emit the windows the watermark has closed.
    fn close_closed(&mut self, out: &mut Vec<Aggregate>) {
        let Some(size) = self.plan.size else { return };
        while let Some(w) = self.windows.front() {
            if (w.k + 1.0) * size + self.plan.lateness > self.watermark {
                break;
            }
            let w = self.windows.pop_front().expect("front exists");
            self.emit_window(w, out);
        }
    }

    fn emit_window(&mut self, mut w: Win, out: &mut Vec<Aggregate>) {
        let n_cols = self.plan.cols.len();
        let metas = std::mem::take(&mut w.metas);
        let mut cols = std::mem::take(&mut w.cols);
        let cols = cols.make_contiguous();
        let n = metas.len();
        // At most what this window held (its entries are at most `max_keys`).
        self.last = Size { entries: n, cols: cols.len(), texts: w.texts.len() };
        out.reserve(n);
        for (i, m) in metas.into_iter().enumerate() {
            out.push(self.plan.finish(m, &cols[i * n_cols..(i + 1) * n_cols], &w, false));
        }
        self.stats.open -= n;
        self.stats.emitted += n as u64;
    }

    /// Emit the oldest open entry early (earliest window, then earliest created).
    fn evict_oldest(&mut self, out: &mut Vec<Aggregate>) {
        let n_cols = self.plan.cols.len();
        let Some(w) = self.windows.iter_mut().find(|w| !w.metas.is_empty()) else {
            return;
        };
        let m = w.metas.pop_front().expect("non-empty");
        let cols: Vec<ColState> = w.cols.drain(..n_cols).collect();
        w.base += 1;
        let mut joined = Vec::new();
        join_key(&mut joined, &m.key);
        if let Some((k, _)) = w.index.remove_entry(KeyBytes::new(&joined))
            && !w.evicted_overflow
        {
            if w.evicted_keys.len() < self.plan.max_keys {
                w.evicted_keys.insert(k);
            } else {
                w.evicted_overflow = true;
                w.evicted_keys = HashSet::default();
            }
        }
        out.push(self.plan.finish(m, &cols, w, true));
        if self.plan.n_totals == 0 {
            w.release(&cols);
        }
        self.stats.open -= 1;
        self.stats.emitted += 1;
        self.stats.evicted += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    /// The window maps' hash spreads keys that differ in one byte, at any
    /// place of a word, over hashbrown's bucket index (the low bits) and
    /// its tag (the top seven), about as well as random numbers would.
    #[test]
    fn same_bytes_is_slice_equality() {
        // Every length the word compare has a branch for, and beyond; one
        // byte changed at each position (the overlapping words must still
        // see it), and a length mismatch.
        for n in 0..48usize {
            let a: Vec<u8> = (0..n).map(|k| (k * 7 + 3) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "equal, {n} bytes");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x40;
                assert!(!same_bytes(&a, &b), "{n} bytes, differ at {at}");
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same_bytes(&a, &longer), "{n} and {} bytes", n + 1);
        }
    }

    #[test]
    fn fold_hash_spreads_keys_over_buckets() {
        fn hash(key: &[u8]) -> u64 {
            let mut h = FoldHasher::default();
            h.write(key);
            h.finish()
        }
        let distinct = |hashes: &[u64], f: &dyn Fn(u64) -> u64| {
            hashes.iter().map(|&h| f(h)).collect::<std::collections::HashSet<_>>().len()
        };
        // 4,096 addresses into 4,096 buckets: a random hash fills 2,589.
        let ips: Vec<u64> =
            (0..64).flat_map(|a| (0..64).map(move |b| hash(format!("10.0.{a}.{b}").as_bytes()))).collect();
        assert!(distinct(&ips, &|h| h & 4095) > 2_450, "{}", distinct(&ips, &|h| h & 4095));
        assert_eq!(distinct(&ips, &|h| h >> 57), 128);
        // 256 keys differing in one byte only, at each place of a word: a
        // random hash fills 248 of 4,096 buckets and 111 of 128 tags.
        for at in 0..8 {
            let keys: Vec<u64> = (0..=255u8)
                .map(|c| {
                    let mut k = *b"hostname";
                    k[at] = c;
                    hash(&k)
                })
                .collect();
            assert!(distinct(&keys, &|h| h & 4095) > 230, "byte {at}: {}", distinct(&keys, &|h| h & 4095));
            assert!(distinct(&keys, &|h| h >> 57) > 95, "byte {at}: {}", distinct(&keys, &|h| h >> 57));
        }
    }

    fn agg(name: &str, op: AggOp, field: Option<usize>) -> AggSpec {
        AggSpec { name: name.to_string(), op, field }
    }

    fn spec(size: Option<f64>, lateness: f64, max_keys: usize, aggregates: Vec<AggSpec>) -> WindowSpec {
        WindowSpec { size, allowed_lateness: lateness, max_future: f64::INFINITY, max_keys, aggregates }
    }

    fn count_only(size: Option<f64>, lateness: f64, max_keys: usize) -> Windows {
        Windows::new(spec(size, lateness, max_keys, vec![agg("n", AggOp::Count, None)]))
    }

    fn s(v: &str) -> Option<Scalar<'_>> {
        Some(Scalar::Str(Cow::Borrowed(v)))
    }

    fn n(x: f64) -> Option<Scalar<'static>> {
        Some(Scalar::Number(x))
    }

    fn num(x: f64) -> AggValue {
        AggValue::Number(x)
    }

    fn text(v: &str) -> AggValue {
        AggValue::Text(v.to_string())
    }

    fn out_of(key: &[&str], start: Option<f64>, end: Option<f64>, partial: bool, values: Vec<AggValue>) -> Aggregate {
        Aggregate { key: key.iter().map(|k| k.to_string()).collect(), start, end, partial, values }
    }

    fn win(key: &str, start: f64, end: f64, partial: bool, values: Vec<AggValue>) -> Aggregate {
        out_of(&[key], Some(start), Some(end), partial, values)
    }

    /// Push a keyed event with no fields; expect it absorbed.
    fn push(w: &mut Windows, key: &str, ts: f64, out: &mut Vec<Aggregate>) {
        assert_eq!(w.push(&[key], Some(ts), &[], out).unwrap(), Pushed::Absorbed);
    }

    #[test]
    fn window_boundaries_and_closing() {
        let mut w = count_only(Some(60.0), 0.0, 100);
        let mut out = Vec::new();
        for t in [0.0, 30.0, 59.9] {
            push(&mut w, "a", t, &mut out);
            assert!(out.is_empty(), "nothing closes before the watermark reaches 60");
        }
        push(&mut w, "a", 60.0, &mut out);
        assert_eq!(out, vec![win("a", 0.0, 60.0, false, vec![num(3.0)])]);
        out.clear();
        push(&mut w, "a", 119.0, &mut out);
        assert!(out.is_empty());
        w.flush(&mut out);
        assert_eq!(out, vec![win("a", 60.0, 120.0, false, vec![num(2.0)])]);
        assert_eq!(w.stats(), WindowStats { open: 0, emitted: 2, evicted: 0, late: 0 });
    }

    #[test]
    fn window_negative_times_align_to_epoch() {
        let mut w = count_only(Some(60.0), 0.0, 100);
        let mut out = Vec::new();
        push(&mut w, "a", -0.5, &mut out);
        push(&mut w, "a", 0.0, &mut out);
        assert_eq!(out, vec![win("a", -60.0, 0.0, false, vec![num(1.0)])]);
    }

    #[test]
    fn window_closing_emits_several_windows_in_order_then_keys_first_seen() {
        let mut w = count_only(Some(10.0), 0.0, 100);
        let mut out = Vec::new();
        push(&mut w, "b", 1.0, &mut out);
        push(&mut w, "a", 2.0, &mut out);
        push(&mut w, "b", 3.0, &mut out);
        push(&mut w, "a", 15.0, &mut out); // closes [0,10)
        push(&mut w, "c", 16.0, &mut out);
        assert_eq!(out, vec![win("b", 0.0, 10.0, false, vec![num(2.0)]), win("a", 0.0, 10.0, false, vec![num(1.0)]),]);
        out.clear();
        push(&mut w, "z", 35.0, &mut out); // closes [10,20) (and [20,30) is empty)
        assert_eq!(
            out,
            vec![win("a", 10.0, 20.0, false, vec![num(1.0)]), win("c", 10.0, 20.0, false, vec![num(1.0)]),]
        );
    }

    #[test]
    fn window_out_of_order_events_in_open_window_are_counted() {
        let mut w = count_only(Some(60.0), 0.0, 100);
        let mut out = Vec::new();
        for t in [10.0, 50.0, 20.0, 5.0] {
            push(&mut w, "a", t, &mut out);
        }
        // The next window opens; an older window that is still open takes an event.
        let mut w2 = count_only(Some(60.0), 30.0, 100);
        for t in [10.0, 70.0, 20.0, 65.0] {
            push(&mut w2, "a", t, &mut out);
        }
        assert!(out.is_empty());
        w.flush(&mut out);
        w2.flush(&mut out);
        assert_eq!(
            out,
            vec![
                win("a", 0.0, 60.0, false, vec![num(4.0)]),
                win("a", 0.0, 60.0, false, vec![num(2.0)]),
                win("a", 60.0, 120.0, false, vec![num(2.0)]),
            ]
        );
    }

    #[test]
    fn window_late_events_are_refused_and_counted() {
        let mut w = count_only(Some(60.0), 0.0, 100);
        let mut out = Vec::new();
        push(&mut w, "a", 10.0, &mut out);
        push(&mut w, "a", 60.0, &mut out);
        assert_eq!(out.len(), 1);
        out.clear();
        let r = w.push(&["a"], Some(59.0), &[], &mut out).unwrap();
        assert_eq!(r, Pushed::Late { window_end: 60.0, watermark: 60.0 });
        assert!(out.is_empty());
        assert_eq!(w.stats().late, 1);
        w.flush(&mut out);
        assert_eq!(out, vec![win("a", 60.0, 120.0, false, vec![num(1.0)])]);
    }

    #[test]
    fn window_allowed_lateness_keeps_a_window_open() {
        let mut w = count_only(Some(60.0), 10.0, 100);
        let mut out = Vec::new();
        push(&mut w, "a", 10.0, &mut out);
        push(&mut w, "a", 60.0, &mut out);
        push(&mut w, "a", 59.0, &mut out); // late by 1s, within 10s
        push(&mut w, "a", 69.9, &mut out);
        assert!(out.is_empty());
        push(&mut w, "b", 70.0, &mut out); // watermark 70 >= 60 + 10
        assert_eq!(out, vec![win("a", 0.0, 60.0, false, vec![num(2.0)])]);
        out.clear();
        let r = w.push(&["a"], Some(5.0), &[], &mut out).unwrap();
        assert_eq!(r, Pushed::Late { window_end: 60.0, watermark: 70.0 });
        assert_eq!(w.stats().late, 1);
        w.flush(&mut out);
        assert_eq!(
            out,
            vec![win("a", 60.0, 120.0, false, vec![num(2.0)]), win("b", 60.0, 120.0, false, vec![num(1.0)]),]
        );
    }

    fn describe() -> Windows {
        Windows::new(spec(
            Some(60.0),
            0.0,
            100,
            vec![
                agg("count", AggOp::Count, None),
                agg("unique", AggOp::Unique, Some(0)),
                agg("top", AggOp::Top, Some(0)),
                agg("freq", AggOp::Freq, Some(0)),
            ],
        ))
    }

    fn describe_of(values: &[Option<Scalar>]) -> Vec<AggValue> {
        let mut w = describe();
        let mut out = Vec::new();
        for v in values {
            w.push(&["h"], Some(1.0), std::slice::from_ref(v), &mut out).unwrap();
        }
        w.flush(&mut out);
        assert_eq!(out.len(), 1);
        out.pop().unwrap().values
    }

    #[test]
    fn window_top_ties_go_to_first_seen() {
        assert_eq!(describe_of(&[s("b"), s("a"), s("a"), s("b")]), vec![num(4.0), num(2.0), text("b"), num(2.0)]);
        // "a" leads, "b" overtakes, "a" catches up: the tie goes back to "a".
        assert_eq!(describe_of(&[s("a"), s("b"), s("b"), s("a")]), vec![num(4.0), num(2.0), text("a"), num(2.0)]);
        assert_eq!(
            describe_of(&[s("a"), s("b"), s("b"), None, Some(Scalar::Null), s("c")]),
            vec![num(6.0), num(3.0), text("b"), num(2.0)]
        );
        assert_eq!(
            describe_of(&[None, Some(Scalar::Null)]),
            vec![num(2.0), num(0.0), AggValue::Missing, AggValue::Missing]
        );
    }

    #[test]
    fn window_numbers_are_text_like_22_not_22_0() {
        assert_eq!(
            describe_of(&[n(443.0), n(80.0), n(80.0), s("80"), Some(Scalar::Bool(true)), n(0.5)]),
            vec![num(6.0), num(4.0), text("80"), num(3.0)]
        );
    }

    #[test]
    fn window_count_with_a_field_counts_non_null() {
        let mut w = Windows::new(spec(
            None,
            0.0,
            10,
            vec![agg("events", AggOp::Count, None), agg("with_x", AggOp::Count, Some(1))],
        ));
        let mut out = Vec::new();
        let rows: Vec<Vec<Option<Scalar>>> = vec![
            vec![None, s("x")],
            vec![None, Some(Scalar::Null)],
            vec![None],
            vec![None, n(0.0)],
            vec![None, Some(Scalar::Composite("an array"))],
            vec![None, None],
        ];
        for r in &rows {
            assert_eq!(w.push(&["k"], None, r, &mut out).unwrap(), Pushed::Absorbed);
        }
        w.flush(&mut out);
        assert_eq!(out, vec![out_of(&["k"], None, None, false, vec![num(6.0), num(3.0)])]);
    }

    fn numeric() -> Windows {
        Windows::new(spec(
            None,
            0.0,
            10,
            vec![
                agg("sum", AggOp::Sum, Some(0)),
                agg("mean", AggOp::Mean, Some(0)),
                agg("min", AggOp::Min, Some(0)),
                agg("max", AggOp::Max, Some(0)),
                agg("n", AggOp::Count, Some(0)),
            ],
        ))
    }

    #[test]
    fn window_sum_mean_min_max_skip_missing() {
        let mut w = numeric();
        let mut out = Vec::new();
        for v in [n(2.0), Some(Scalar::Null), None, s(" 4.5 "), Some(Scalar::Bool(true)), n(-1.5)] {
            w.push(&["a"], Some(3.0), &[v], &mut out).unwrap();
        }
        for v in [None, Some(Scalar::Null)] {
            w.push(&["b"], Some(4.0), &[v], &mut out).unwrap();
        }
        w.flush(&mut out);
        let m = AggValue::Missing;
        assert_eq!(
            out,
            vec![
                out_of(&["a"], Some(3.0), Some(3.0), false, vec![num(6.0), num(1.5), num(-1.5), num(4.5), num(4.0)]),
                out_of(&["b"], Some(4.0), Some(4.0), false, vec![m.clone(), m.clone(), m.clone(), m, num(0.0)]),
            ]
        );
    }

    #[test]
    fn window_bad_values_are_refused_without_effect() {
        let mut w = numeric();
        let mut out = Vec::new();
        w.push(&["a"], None, &[n(1.0)], &mut out).unwrap();
        let e = w.push(&["a"], None, &[s("abc")], &mut out).unwrap_err();
        assert_eq!(e.reason, "wrong_type");
        assert!(e.detail.contains("'sum'"), "{}", e.detail);
        let e = w.push(&["new"], None, &[Some(Scalar::Composite("an object"))], &mut out).unwrap_err();
        assert_eq!(e.reason, "wrong_type");
        let e = w.push(&["a"], None, &[s("inf")], &mut out).unwrap_err();
        assert_eq!(e.reason, "non_finite");
        let e = w.push(&["a"], Some(f64::NAN), &[n(1.0)], &mut out).unwrap_err();
        assert_eq!(e.reason, "non_finite");
        assert_eq!(w.stats().open, 1);
        w.flush(&mut out);
        assert_eq!(
            out,
            vec![out_of(&["a"], None, None, false, vec![num(1.0), num(1.0), num(1.0), num(1.0), num(1.0)])]
        );

        let mut w = describe();
        let e = w.push(&["a"], Some(1.0), &[Some(Scalar::Composite("an array"))], &mut out).unwrap_err();
        assert_eq!((e.reason, e.detail.contains("'unique'")), (Reason::WrongType, true));
        let e = w.push(&["a"], None, &[s("x")], &mut out).unwrap_err();
        assert_eq!(e.reason, "missing_field");
        // A refused event does not move the watermark.
        let mut w = Windows::new(spec(Some(10.0), 0.0, 10, vec![agg("sum", AggOp::Sum, Some(0))]));
        w.push(&["a"], Some(1.0), &[n(1.0)], &mut out).unwrap();
        w.push(&["a"], Some(50.0), &[s("x")], &mut out).unwrap_err();
        assert_eq!(w.push(&["a"], Some(2.0), &[n(1.0)], &mut out).unwrap(), Pushed::Absorbed);
        assert_eq!(w.stats().open, 1);
    }

    #[test]
    fn window_top_total_counts_the_top_value_across_keys() {
        let mut w = Windows::new(spec(
            Some(60.0),
            0.0,
            100,
            vec![
                agg("top", AggOp::Top, Some(0)),
                agg("freq", AggOp::Freq, Some(0)),
                agg("top_host_connections", AggOp::TopTotal, Some(0)),
            ],
        ));
        let mut out = Vec::new();
        let events = [
            ("h1", "x"),
            ("h2", "x"),
            ("h3", "z"),
            ("h1", "x"),
            ("h1", "y"),
            ("h2", "z"),
            ("h3", "z"),
            ("h3", "z"),
            ("h3", "y"),
        ];
        for (i, (h, d)) in events.iter().enumerate() {
            w.push(&[h], Some(i as f64), &[s(d)], &mut out).unwrap();
        }
        // The next window's events do not count in the first.
        w.push(&["h1"], Some(61.0), &[s("x")], &mut out).unwrap();
        w.push(&["h4"], Some(62.0), &[None], &mut out).unwrap();
        w.flush(&mut out);
        assert_eq!(
            out,
            vec![
                win("h1", 0.0, 60.0, false, vec![text("x"), num(2.0), num(3.0)]),
                win("h2", 0.0, 60.0, false, vec![text("x"), num(1.0), num(3.0)]),
                win("h3", 0.0, 60.0, false, vec![text("z"), num(3.0), num(4.0)]),
                win("h1", 60.0, 120.0, false, vec![text("x"), num(1.0), num(1.0)]),
                win("h4", 60.0, 120.0, false, vec![AggValue::Missing, AggValue::Missing, AggValue::Missing]),
            ]
        );
    }

    #[test]
    fn window_max_keys_evicts_the_oldest_as_partial() {
        let mut w = count_only(Some(60.0), 0.0, 2);
        let mut out = Vec::new();
        push(&mut w, "a", 1.0, &mut out);
        push(&mut w, "b", 2.0, &mut out);
        push(&mut w, "a", 3.0, &mut out);
        assert!(out.is_empty());
        push(&mut w, "c", 4.0, &mut out); // a is the oldest entry
        assert_eq!(out, vec![win("a", 0.0, 60.0, true, vec![num(2.0)])]);
        assert_eq!(w.stats(), WindowStats { open: 2, emitted: 1, evicted: 1, late: 0 });
        out.clear();
        push(&mut w, "a", 5.0, &mut out); // a again: new entry, evicts b
        assert_eq!(out, vec![win("b", 0.0, 60.0, true, vec![num(1.0)])]);
        out.clear();
        push(&mut w, "a", 6.0, &mut out);
        push(&mut w, "c", 7.0, &mut out);
        assert!(out.is_empty());
        push(&mut w, "a", 60.0, &mut out); // closes the window
        assert_eq!(out, vec![win("c", 0.0, 60.0, false, vec![num(2.0)]), win("a", 0.0, 60.0, true, vec![num(2.0)]),]);
        // A new window: a's split is forgotten.
        out.clear();
        w.flush(&mut out);
        assert_eq!(out, vec![win("a", 60.0, 120.0, false, vec![num(1.0)])]);
        assert_eq!(w.stats(), WindowStats { open: 0, emitted: 5, evicted: 2, late: 0 });
    }

    #[test]
    fn window_eviction_takes_the_earliest_window_first() {
        let mut w = count_only(Some(10.0), 100.0, 2);
        let mut out = Vec::new();
        push(&mut w, "a", 15.0, &mut out);
        push(&mut w, "b", 5.0, &mut out); // older window, created later
        push(&mut w, "c", 16.0, &mut out);
        assert_eq!(out, vec![win("b", 0.0, 10.0, true, vec![num(1.0)])]);
    }

    #[test]
    fn window_flush_order() {
        let mut w = count_only(Some(10.0), 100.0, 100);
        let mut out = Vec::new();
        push(&mut w, "k1", 15.0, &mut out);
        push(&mut w, "k2", 3.0, &mut out);
        push(&mut w, "k1", 5.0, &mut out);
        push(&mut w, "k3", 25.0, &mut out);
        push(&mut w, "k2", 4.0, &mut out);
        assert!(out.is_empty());
        assert_eq!(w.stats().open, 4);
        w.flush(&mut out);
        assert_eq!(
            out,
            vec![
                win("k2", 0.0, 10.0, false, vec![num(2.0)]),
                win("k1", 0.0, 10.0, false, vec![num(1.0)]),
                win("k1", 10.0, 20.0, false, vec![num(1.0)]),
                win("k3", 20.0, 30.0, false, vec![num(1.0)]),
            ]
        );
        assert_eq!(w.stats().open, 0);
        out.clear();
        w.flush(&mut out);
        assert!(out.is_empty());
        // Reusable after a flush: the watermark was reset.
        push(&mut w, "k1", 1.0, &mut out);
        w.flush(&mut out);
        assert_eq!(out, vec![win("k1", 0.0, 10.0, false, vec![num(1.0)])]);
    }

    #[test]
    fn window_whole_input_start_end_are_min_max_time() {
        let mut w = count_only(None, 0.0, 100);
        let mut out = Vec::new();
        for (k, t) in
            [("a", Some(5.0)), ("b", None), ("a", Some(1.0)), ("a", None), ("a", Some(9.0)), ("c", Some(-2.0))]
        {
            assert_eq!(w.push(&[k], t, &[], &mut out).unwrap(), Pushed::Absorbed);
        }
        // Nothing closes and nothing is late without windows.
        assert!(out.is_empty());
        w.flush(&mut out);
        assert_eq!(
            out,
            vec![
                out_of(&["a"], Some(1.0), Some(9.0), false, vec![num(4.0)]),
                out_of(&["b"], None, None, false, vec![num(1.0)]),
                out_of(&["c"], Some(-2.0), Some(-2.0), false, vec![num(1.0)]),
            ]
        );
    }

    #[test]
    fn window_multi_part_keys_do_not_collide() {
        let mut w = count_only(None, 0.0, 100);
        let mut out = Vec::new();
        let keys: [&[&str]; 6] =
            [&["ab", "c"], &["a", "bc"], &["a\u{1f}b", "c"], &["a", "b\u{1f}c"], &["1:a", ""], &["", "1:a"]];
        for k in keys {
            w.push(k, None, &[], &mut out).unwrap();
        }
        w.push(&["a", "bc"], None, &[], &mut out).unwrap();
        w.flush(&mut out);
        let got: Vec<(Vec<String>, AggValue)> = out.into_iter().map(|a| (a.key, a.values[0].clone())).collect();
        let want: Vec<(Vec<String>, AggValue)> = keys
            .iter()
            .map(|k| {
                let c = if k == &["a", "bc"] { 2.0 } else { 1.0 };
                (k.iter().map(|s| s.to_string()).collect(), num(c))
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn window_top_with_many_distinct_values() {
        // More distinct values than an entry keeps inline or scans linearly.
        let mut vals: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        vals.extend(["v17", "v5", "v17", "v5"].map(String::from));
        let row = |v: &String| Some(Scalar::Str(Cow::Owned(v.clone())));
        let rows: Vec<Option<Scalar>> = vals.iter().map(row).collect();
        assert_eq!(describe_of(&rows), vec![num(24.0), num(20.0), text("v5"), num(3.0)]);
        vals.push("v17".to_string());
        let rows: Vec<Option<Scalar>> = vals.iter().map(row).collect();
        assert_eq!(describe_of(&rows), vec![num(25.0), num(20.0), text("v17"), num(4.0)]);
    }

    #[test]
    fn window_fields_with_shared_values_are_counted_apart() {
        let mut w = Windows::new(spec(
            Some(60.0),
            0.0,
            100,
            vec![
                agg("top_src", AggOp::Top, Some(0)),
                agg("src_total", AggOp::TopTotal, Some(0)),
                agg("top_dst", AggOp::Top, Some(1)),
                agg("dst_total", AggOp::TopTotal, Some(1)),
                agg("dst_unique", AggOp::Unique, Some(1)),
            ],
        ));
        let mut out = Vec::new();
        for (k, a, b) in [("h1", "x", "y"), ("h1", "x", "x"), ("h2", "y", "y"), ("h2", "z", "y")] {
            w.push(&[k], Some(1.0), &[s(a), s(b)], &mut out).unwrap();
        }
        w.flush(&mut out);
        assert_eq!(
            out,
            vec![
                win("h1", 0.0, 60.0, false, vec![text("x"), num(2.0), text("y"), num(3.0), num(2.0)]),
                win("h2", 0.0, 60.0, false, vec![text("y"), num(1.0), text("y"), num(3.0), num(1.0)]),
            ]
        );
    }

    #[test]
    fn window_spec_check() {
        let ok = spec(Some(60.0), 0.0, 1, vec![agg("n", AggOp::Count, None)]);
        assert!(ok.check().is_ok());
        assert!(spec(Some(0.0), 0.0, 1, vec![]).check().is_err());
        assert!(spec(Some(f64::NAN), 0.0, 1, vec![]).check().is_err());
        assert!(spec(None, -1.0, 1, vec![]).check().is_err());
        assert!(spec(None, 0.0, 0, vec![]).check().is_err());
        assert!(spec(None, 0.0, 1, vec![agg("t", AggOp::Top, None)]).check().is_err());
    }

    #[test]
    fn window_memory_is_bounded_by_max_keys_whatever_the_number_of_keys() {
        // Issue #19, item 8: with window "all", every evicted key was
        // remembered (and every text value an evicted entry had seen kept)
        // until the end of the input: memory grew with the distinct keys.
        let mut w = Windows::new(spec(
            None,
            0.0,
            10,
            vec![agg("n", AggOp::Count, None), agg("u", AggOp::Unique, Some(0)), agg("t", AggOp::Top, Some(0))],
        ));
        let mut out = Vec::new();
        let n_keys = 100_000;
        for i in 0..n_keys {
            let (key, value) = (format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255), format!("v{i}"));
            w.push(&[key.as_str()], Some(i as f64), &[s(&value)], &mut out).unwrap();
            let win = &w.windows[0];
            assert!(win.evicted_keys.len() <= 10, "{} evicted keys remembered", win.evicted_keys.len());
            assert!(win.ids.len() <= 10, "{} text values held for 10 open entries", win.ids.len());
        }
        // A key evicted long ago comes back: its new entry is partial.
        w.push(&["10.0.0.1"], Some(1.0), &[s("again")], &mut out).unwrap();
        w.flush(&mut out);
        assert_eq!(out.len(), n_keys + 1, "every entry emitted once");
        let events: f64 = out.iter().map(|a| if let AggValue::Number(n) = a.values[0] { n } else { 0.0 }).sum();
        assert_eq!(events, (n_keys + 1) as f64, "every event counted");
        assert!(out[..n_keys - 10].iter().all(|a| a.partial), "evicted entries are partial");
        let back = out.iter().find(|a| a.key == ["10.0.0.1"] && a.values[2] == text("again")).unwrap();
        assert!(back.partial, "the returning key's entry is partial");
        assert_eq!(back.values[1], num(1.0));
        assert_eq!(w.stats().evicted, (n_keys - 10 + 1) as u64);
    }

    #[test]
    fn window_numbers_are_interned_once_and_freed_with_their_entries() {
        // Integral numbers (ports) skip writing their text through
        // `int_ids`; an evicted entry's numbers leave both maps, and a freed
        // id reused for another text never answers for the old number.
        let mut w = Windows::new(spec(
            None,
            0.0,
            10,
            vec![agg("u", AggOp::Unique, Some(0)), agg("t", AggOp::Top, Some(0)), agg("f", AggOp::Freq, Some(0))],
        ));
        let mut out = Vec::new();
        for i in 0..10_000u32 {
            let key = format!("k{i}");
            let t = format!("{i}");
            let v = if i % 3 == 0 { s(&t) } else { n(f64::from(i)) };
            w.push(&[key.as_str()], Some(f64::from(i)), &[v], &mut out).unwrap();
            let win = &w.windows[0];
            assert!(win.ids.len() <= 10, "{} text values held for 10 open entries", win.ids.len());
            assert!(win.int_ids.len() <= 10, "{} numbers held for 10 open entries", win.int_ids.len());
        }
        // Port 9998 was a number and is still open; 9999 came as a string.
        for v in [n(9998.0), s("9998"), n(9999.0), s("x"), n(9999.0), n(-0.0), n(0.0)] {
            w.push(&["last"], Some(1.0), &[v], &mut out).unwrap();
        }
        w.flush(&mut out);
        let last = out.iter().find(|a| a.key == ["last"]).unwrap();
        assert_eq!(last.values, vec![num(4.0), text("9998"), num(2.0)]);
        let k9999 = out.iter().find(|a| a.key == ["k9999"]).unwrap();
        assert_eq!(k9999.values, vec![num(1.0), text("9999"), num(1.0)]);
    }
}
