//! The `logsieve` object every scored event ends with: one writer for
//! every model kind.
//!
//! ```json
//! …the event's own keys…,"logsieve":{"cluster":2,"distance":4.1,"threshold":3.2,"score":1.28,
//!   "anomaly":true,"reasons":["far_from_centroid"],
//!   …what the model kind explains…,"vector":[…],"model":"3f2a…"}}
//! ```
//!
//! The first keys are the [`Verdict`], the same for every kind (a flow2vec
//! token that could not be scored has `null` cluster, distance, threshold
//! and score). The explanation that follows depends on the kind:
//! `top_features` (every kind but flow2vec, when asked for), `mismatches`
//! (k-modes, k-prototypes), `unseen` (a categorical value outside the
//! vocabulary), or flow2vec's `token`, `relative` and `sequence`; then
//! `vector` (`emit_vector`) and `model`. The verdict also travels beside the
//! text as data (the WIT record `verdict`): hosts never read it back from
//! the text.
//!
//! Fragments that do not change from event to event (the cluster heads, the
//! threshold texts, the 32 verdict texts, feature names, the model id) are
//! written once per model by [`Writer::new`].

use std::fmt::Write as _;

use crate::features::Unseen;

/// The reasons of a verdict, as bits. Their names and order in
/// `logsieve.reasons` are [`Reasons::NAMES`]; the WIT flags `reasons`
/// has the same members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Reasons(u8);

impl Reasons {
    /// No reason: not an anomaly.
    pub const NONE: Reasons = Reasons(0);
    /// Farther from its centroid than the cluster's threshold.
    pub const FAR_FROM_CENTROID: Reasons = Reasons(1);
    /// In a cluster that held less than `rare_share` of the training rows.
    pub const RARE_CLUSTER: Reasons = Reasons(2);
    /// A categorical value outside the vocabulary (listed in `unseen`).
    pub const UNSEEN_VALUE: Reasons = Reasons(4);
    /// flow2vec: a token not seen in training.
    pub const UNSEEN_FLOW: Reasons = Reasons(8);
    /// flow2vec: the key's recent flows together are far from every centroid.
    pub const UNUSUAL_SEQUENCE: Reasons = Reasons(16);
    /// The names, bit 0 first: the order they are listed in.
    pub const NAMES: [&'static str; 5] =
        ["far_from_centroid", "rare_cluster", "unseen_value", "unseen_flow", "unusual_sequence"];

    /// These reasons, and `other` if `on`.
    #[inline(always)]
    pub fn with(self, other: Reasons, on: bool) -> Reasons {
        Reasons(self.0 | if on { other.0 } else { 0 })
    }

    /// Whether every reason of `other` is here.
    pub fn contains(self, other: Reasons) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether there is none.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bits (bit `i` is `NAMES[i]`).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The names of the reasons that apply, in order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Reasons::NAMES.iter().enumerate().filter(move |(i, _)| self.0 & (1 << i) != 0).map(|(_, n)| *n)
    }
}

/// The verdict on a scored event: what its `logsieve` object starts with.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Verdict {
    /// The nearest cluster (`None`: a flow2vec token that could not be scored).
    pub cluster: Option<u32>,
    /// The distance to it (the mismatch count or cost for k-modes /
    /// k-prototypes).
    pub distance: Option<f64>,
    /// The cluster's threshold.
    pub threshold: Option<f64>,
    /// distance / threshold.
    pub score: Option<f64>,
    /// Why it is an anomaly (empty: it is not).
    pub reasons: Reasons,
}

impl Verdict {
    /// Whether any reason applies.
    pub fn anomaly(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The cluster, distance, threshold and score of an event that has none.
const NO_CLUSTER: &str = "\"logsieve\":{\"cluster\":null,\"distance\":null,\"threshold\":null,\"score\":null";

/// One model's prepared output fragments.
#[derive(Debug, Clone)]
pub struct Writer {
    /// Per cluster, `"logsieve":{"cluster":c,"distance":`.
    cluster_head: Vec<String>,
    /// Per cluster, its threshold, and `,"threshold":t,"score":`.
    thresholds: Vec<f64>,
    threshold_json: Vec<String>,
    /// Per combination of [`Reasons`], `,"anomaly":…,"reasons":[…]`.
    verdicts: Vec<String>,
    /// Feature names, JSON-escaped with quotes.
    names_json: Vec<String>,
    /// Per feature, `{"feature":"name","share":`.
    share_head: Vec<String>,
    /// `,"model":"id"}}`: the end of every scored event.
    tail: String,
}

impl Writer {
    /// The fragments of a model with this id, these feature names and
    /// per-cluster thresholds (none for a spec-only model).
    pub fn new(id: &str, names: &[&str], thresholds: &[f64]) -> Writer {
        let names_json: Vec<String> = names.iter().map(|n| json_string(n)).collect();
        let verdicts = (0..32u8)
            .map(|bits| {
                let mut v = String::new();
                push_anomaly_reasons(&mut v, Reasons(bits));
                v
            })
            .collect();
        Writer {
            cluster_head: (0..thresholds.len())
                .map(|c| format!("\"{}\":{{\"cluster\":{c},\"distance\":", crate::event::OUTPUT_KEY))
                .collect(),
            thresholds: thresholds.to_vec(),
            threshold_json: thresholds
                .iter()
                .map(|&t| {
                    let mut s = String::from(",\"threshold\":");
                    push_f64(&mut s, t);
                    s.push_str(",\"score\":");
                    s
                })
                .collect(),
            verdicts,
            share_head: names_json.iter().map(|n| format!("{{\"feature\":{n},\"share\":")).collect(),
            names_json,
            tail: format!(",\"model\":\"{id}\"}}}}"),
        }
    }

    /// Start a scored event: its text up to its closing brace (`head`), a
    /// comma when it has keys, then the verdict of cluster `c` at
    /// `distance`, scored at `scored` (the distance itself, or under cblof
    /// the distance to the nearest large cluster) with `reasons`; returns
    /// the verdict. The path every centroid model takes, kept short.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        &self,
        out: &mut String,
        head: &str,
        has_keys: bool,
        c: usize,
        distance: f64,
        scored: f64,
        reasons: Reasons,
    ) -> Verdict {
        out.push_str(head);
        if has_keys {
            out.push(',');
        }
        let threshold = self.thresholds[c];
        let score = scored / threshold;
        push_frag(out, &self.cluster_head[c]);
        push_f64(out, distance);
        push_frag(out, &self.threshold_json[c]);
        push_f64(out, score);
        push_frag(out, &self.verdicts[usize::from(reasons.0)]);
        Verdict {
            cluster: Some(c as u32),
            distance: Some(distance),
            threshold: Some(threshold),
            score: Some(score),
            reasons,
        }
    }

    /// [`Writer::open`] for an isolation forest: no cluster (`null`), the
    /// anomaly score as the distance, `score` = anomaly score / threshold.
    pub fn open_isolated(
        &self,
        out: &mut String,
        head: &str,
        has_keys: bool,
        anomaly_score: f64,
        threshold: f64,
        reasons: Reasons,
    ) -> Verdict {
        out.push_str(head);
        if has_keys {
            out.push(',');
        }
        let score = anomaly_score / threshold;
        out.push('"');
        out.push_str(crate::event::OUTPUT_KEY);
        out.push_str("\":{\"cluster\":null,\"distance\":");
        push_f64(out, anomaly_score);
        out.push_str(",\"threshold\":");
        push_f64(out, threshold);
        out.push_str(",\"score\":");
        push_f64(out, score);
        out.push_str(&self.verdicts[usize::from(reasons.0)]);
        Verdict {
            cluster: None,
            distance: Some(anomaly_score),
            threshold: Some(threshold),
            score: Some(score),
            reasons,
        }
    }

    /// [`Writer::open`] for an event without a cluster (`null`s).
    #[cold]
    pub fn open_unclustered(&self, out: &mut String, head: &str, has_keys: bool, reasons: Reasons) -> Verdict {
        out.push_str(head);
        if has_keys {
            out.push(',');
        }
        out.push_str(NO_CLUSTER);
        out.push_str(&self.verdicts[usize::from(reasons.0)]);
        Verdict { reasons, ..Verdict::default() }
    }

    /// How many clusters the model has (0: spec only).
    pub fn clusters(&self) -> usize {
        self.thresholds.len()
    }

    /// The threshold of cluster `c`.
    pub fn threshold(&self, c: usize) -> f64 {
        self.thresholds[c]
    }

    /// cblof, an event of a small cluster: `,"nearest_large":{"cluster":j,
    /// "distance":d}`, the large cluster it was scored against.
    #[cold]
    #[inline(never)]
    pub fn nearest_large(&self, out: &mut String, j: usize, d: f64) {
        let _ = write!(out, ",\"nearest_large\":{{\"cluster\":{j},\"distance\":");
        push_f64(out, d);
        out.push('}');
    }

    /// `,"top_features":[…]`: each `(share, feature)` given, in order.
    #[inline]
    pub fn top_features(&self, out: &mut String, top: &[(f64, usize)]) {
        push_frag(out, ",\"top_features\":[");
        for (n, &(share, f)) in top.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_frag(out, &self.share_head[f]);
            push_share(out, share);
        }
        out.push(']');
    }

    /// `,"mismatches":[…]`: each categorical feature whose code `x[f]`
    /// differs from the mode's, with its value (from the vocabulary, or the
    /// unseen value) and the mode's.
    #[inline(never)]
    pub fn mismatches(
        &self,
        out: &mut String,
        x: &[f64],
        centroid: &[f64],
        categorical: &[bool],
        vocabulary_json: &[Vec<String>],
        unseen: &[Unseen],
    ) {
        out.push_str(",\"mismatches\":[");
        let mut first = true;
        for (f, &cat) in categorical.iter().enumerate() {
            if !cat || x[f] == centroid[f] {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str("{\"feature\":");
            out.push_str(&self.names_json[f]);
            out.push_str(",\"value\":");
            match vocabulary_json[f].get(x[f] as usize).filter(|_| x[f] >= 0.0) {
                Some(v) => out.push_str(v),
                None => {
                    let u = unseen.iter().find(|u| u.feature == f).expect("an unseen code is reported");
                    out.push_str(&json_string(&u.value));
                }
            }
            out.push_str(",\"expected\":");
            out.push_str(&vocabulary_json[f][centroid[f] as usize]);
            out.push('}');
        }
        out.push(']');
    }

    /// `,"unseen":[…]`: the categorical values outside the vocabulary.
    #[cold]
    #[inline(never)]
    pub fn unseen(&self, out: &mut String, unseen: &[Unseen]) {
        out.push_str(",\"unseen\":[");
        for (n, u) in unseen.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str("{\"feature\":");
            out.push_str(&self.names_json[u.feature]);
            out.push_str(",\"value\":");
            out.push_str(&json_string(&u.value));
            out.push('}');
        }
        out.push(']');
    }

    /// flow2vec's explanation: `,"token":…`, the known `relative` scored in
    /// its place, and the key's `sequence` verdict.
    pub fn token(&self, out: &mut String, token: &str, relative: Option<&str>, sequence: Option<&SequenceVerdict>) {
        out.push_str(",\"token\":");
        out.push_str(&json_string(token));
        if let Some(r) = relative {
            out.push_str(",\"relative\":");
            out.push_str(&json_string(r));
        }
        if let Some(s) = sequence {
            let _ = write!(out, ",\"sequence\":{{\"cluster\":{}", s.cluster);
            out.push_str(",\"distance\":");
            push_f64(out, s.distance);
            out.push_str(",\"threshold\":");
            push_f64(out, s.threshold);
            out.push_str(",\"score\":");
            push_f64(out, s.distance / s.threshold);
            out.push('}');
        }
    }

    /// `,"vector":[…]`, the vector distances were measured on
    /// (`emit_vector`).
    #[inline(never)]
    pub fn vector(&self, out: &mut String, x: impl IntoIterator<Item = f64>) {
        out.push_str(",\"vector\":[");
        for (n, v) in x.into_iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_f64(out, v);
        }
        out.push(']');
    }

    /// End the event: `,"model":"id"}}`.
    #[inline(always)]
    pub fn close(&self, out: &mut String) {
        push_frag(out, &self.tail);
    }
}

/// A flow2vec key's sequence verdict, for [`Writer::token`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequenceVerdict {
    /// The nearest cluster of the sequence's mean vector.
    pub cluster: usize,
    /// Its distance.
    pub distance: f64,
    /// The cluster's sequence threshold.
    pub threshold: f64,
}

/// Append `,"anomaly":…,"reasons":[…]` for these reasons: the part of a
/// verdict after its score, in the scored text ([`Writer`] keeps one per
/// combination) and in `score-json`'s outcomes.
pub(crate) fn push_anomaly_reasons(out: &mut String, r: Reasons) {
    out.push_str(if r.is_empty() { ",\"anomaly\":false,\"reasons\":[" } else { ",\"anomaly\":true,\"reasons\":[" });
    for (n, name) in r.names().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push('"');
    }
    out.push(']');
}

/// A string as a JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Append a share of the distance (in [0, 1]) rounded to 4 decimals, with
/// trailing zeros dropped: `0.5234`, `0.52`, `1`, `0`, and the `}` that
/// closes its top-feature object. An explanation needs no more digits, and
/// this costs a fraction of a shortest-float format.
fn push_share(out: &mut String, share: f64) {
    // Rounded half away from zero, as `f64::round` (a libm call in wasm);
    // `y - trunc(y)` is exact.
    let y = share.clamp(0.0, 1.0) * 10_000.0;
    let n = y.trunc() as u32 + u32::from(y - y.trunc() >= 0.5);
    let text: &[u8] = match n {
        0 => b"0}",
        10_000.. => b"1}",
        _ => {
            let mut b = *b"0.0000}";
            let digits = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
            for (k, d) in digits.iter().enumerate() {
                b[2 + k] = b'0' + *d as u8;
            }
            let keep = 4 - digits.iter().rev().take_while(|&&d| d == 0).count();
            b[2 + keep] = b'}';
            push_ascii(out, &b[..3 + keep]);
            return;
        }
    };
    push_ascii(out, text);
}

/// Append ASCII bytes (no UTF-8 check: checking costs more than the copy
/// for the few bytes written here). The callers build them from digits and
/// ASCII literals.
#[inline(always)]
fn push_ascii(out: &mut String, bytes: &[u8]) {
    debug_assert!(bytes.is_ascii());
    // SAFETY: ASCII is UTF-8.
    push_frag(out, unsafe { std::str::from_utf8_unchecked(bytes) });
}

/// Append a finite f64 in its shortest round-trip form (valid JSON).
pub fn push_f64(out: &mut String, v: f64) {
    debug_assert!(v.is_finite());
    push_frag(out, zmij::Buffer::new().format_finite(v));
    crate::event::drop_exponent_plus(out, v);
}

/// The longest text [`push_frag`] copies inline in the component.
#[cfg(any(target_arch = "wasm32", test))]
const FRAG_INLINE_MAX: usize = 64;

/// Append a short fragment of the output (a prepared key, a number's text).
///
/// Natively this is `push_str`. In the component `push_str` is wasm's
/// `memory.copy`, which wasmtime runs as a call out of the guest into the
/// host (bounds checks, a `memmove` call): ~70 instructions, several times
/// what copying a fragment costs. So there a short
/// fragment (up to 64 bytes) is copied inline, as overlapping loads and
/// stores of the widest size that fits.
#[inline(always)]
fn push_frag(out: &mut String, s: &str) {
    #[cfg(target_arch = "wasm32")]
    if s.len() <= FRAG_INLINE_MAX {
        out.reserve(s.len());
        // SAFETY: `reserve` made room for `s.len()` bytes past the end;
        // `copy_short` writes exactly those; `s` is UTF-8, so the string
        // stays UTF-8.
        unsafe {
            let v = out.as_mut_vec();
            copy_short(s.as_ptr(), v.as_mut_ptr().add(v.len()), s.len());
            v.set_len(v.len() + s.len());
        }
        return;
    }
    out.push_str(s);
}

/// Copy `len` ≤ [`FRAG_INLINE_MAX`] bytes from `src` to `dst` (not
/// overlapping) without a loop and without `memory.copy`: the first and
/// the last 32, 16, 8, 4 or 1–2 bytes, which overlap when `len` is not a
/// power of two.
///
/// # Safety
/// `src` is readable and `dst` writable for `len` bytes.
#[cfg(any(target_arch = "wasm32", test))]
#[inline(always)]
unsafe fn copy_short(src: *const u8, dst: *mut u8, len: usize) {
    use std::ptr::{read_unaligned as rd, write_unaligned as wr};
    debug_assert!(len <= FRAG_INLINE_MAX);
    // SAFETY: in every arm both accesses lie within the first `len` bytes,
    // which the caller guarantees are readable at `src`, writable at `dst`.
    unsafe {
        if len >= 32 {
            let (a, b) = (rd(src as *const [u128; 2]), rd(src.add(len - 32) as *const [u128; 2]));
            wr(dst as *mut [u128; 2], a);
            wr(dst.add(len - 32) as *mut [u128; 2], b);
        } else if len >= 16 {
            let (a, b) = (rd(src as *const u128), rd(src.add(len - 16) as *const u128));
            wr(dst as *mut u128, a);
            wr(dst.add(len - 16) as *mut u128, b);
        } else if len >= 8 {
            let (a, b) = (rd(src as *const u64), rd(src.add(len - 8) as *const u64));
            wr(dst as *mut u64, a);
            wr(dst.add(len - 8) as *mut u64, b);
        } else if len >= 4 {
            let (a, b) = (rd(src as *const u32), rd(src.add(len - 4) as *const u32));
            wr(dst as *mut u32, a);
            wr(dst.add(len - 4) as *mut u32, b);
        } else if len > 0 {
            let (a, m, b) = (*src, *src.add(len / 2), *src.add(len - 1));
            *dst = a;
            *dst.add(len / 2) = m;
            *dst.add(len - 1) = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_copies_copy_every_length_exactly() {
        let src: Vec<u8> = (0..200u8).collect();
        for len in 0..=FRAG_INLINE_MAX {
            for at in [0, 1, 7, 13] {
                let mut dst = [0xAAu8; 100];
                // SAFETY: both buffers hold `at + len` bytes and more.
                unsafe { copy_short(src[at..].as_ptr(), dst[3..].as_mut_ptr(), len) };
                assert_eq!(&dst[3..3 + len], &src[at..at + len], "len {len} at {at}");
                assert!(dst[..3].iter().chain(&dst[3 + len..]).all(|&b| b == 0xAA), "len {len}: wrote outside");
            }
        }
    }

    #[test]
    fn shares_are_rounded_to_four_decimals() {
        let f = |x: f64| {
            let mut s = String::new();
            push_share(&mut s, x);
            s
        };
        for (x, want) in [
            (0.0, "0"),
            (0.00004, "0"),
            (0.00005, "0.0001"),
            (0.5234, "0.5234"),
            (0.52, "0.52"),
            (0.5, "0.5"),
            (0.1, "0.1"),
            (0.01, "0.01"),
            (0.0102, "0.0102"),
            (0.99994, "0.9999"),
            (0.99996, "1"),
            (1.0, "1"),
            (1.0 + 1e-12, "1"),
        ] {
            assert_eq!(f(x), format!("{want}}}"), "{x}");
            let v: f64 = serde_json::from_str(want).unwrap();
            assert!((v - x.min(1.0)).abs() <= 0.00005 + 1e-12, "{x}");
        }
        // Exactly half a unit of the last place rounds up; just below, down.
        assert_eq!(f(0.00125), "0.0013}");
        assert_eq!(f(0.49999999999999994 / 10_000.0), "0}");
    }

    #[test]
    fn shortest_floats_keep_their_texts() {
        for (x, want) in [
            (1e16, "1e16"),
            (1.2345678901234568e17, "1.2345678901234568e17"),
            (2.5e-7, "2.5e-7"),
            (0.1, "0.1"),
            (-3e300, "-3e300"),
            (1e15, "1000000000000000.0"),
        ] {
            let mut s = String::from("x");
            push_f64(&mut s, x);
            assert_eq!(s, format!("x{want}"), "{x}");
        }
        assert_eq!(crate::event::number_text(1.5e20), "1.5e20");
    }

    #[test]
    fn the_verdict_texts_list_the_reasons_in_order() {
        let w = Writer::new("abc", &["a"], &[2.0]);
        let mut out = String::new();
        let r = Reasons::NONE.with(Reasons::RARE_CLUSTER, true).with(Reasons::FAR_FROM_CENTROID, true);
        let v = w.open(&mut out, "{\"x\":1", true, 0, 3.0, 3.0, r);
        w.close(&mut out);
        assert_eq!(
            out,
            r#"{"x":1,"logsieve":{"cluster":0,"distance":3.0,"threshold":2.0,"score":1.5,"anomaly":true,"reasons":["far_from_centroid","rare_cluster"],"model":"abc"}}"#
        );
        assert_eq!(
            v,
            Verdict { cluster: Some(0), distance: Some(3.0), threshold: Some(2.0), score: Some(1.5), reasons: r }
        );
        let mut out = String::new();
        let v = w.open_unclustered(&mut out, "{", false, Reasons::UNSEEN_FLOW);
        w.close(&mut out);
        assert_eq!(
            out,
            r#"{"logsieve":{"cluster":null,"distance":null,"threshold":null,"score":null,"anomaly":true,"reasons":["unseen_flow"],"model":"abc"}}"#
        );
        assert!(v.anomaly() && v.cluster.is_none());
        assert_eq!(Reasons(31).names().collect::<Vec<_>>(), Reasons::NAMES);
    }
}
