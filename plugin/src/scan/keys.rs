//! Which keys an event's reader wants: the [`FieldTable`] of a spec's
//! fields (with their aliases), and the [`KeyCache`] of the key order the
//! events read so far had.

use super::bytes;
use crate::event::OUTPUT_KEY;

/// The fields an extractor wants: slot i is read from `names[i]`, or from
/// any alias of it.
#[derive(Debug, Clone)]
pub struct FieldTable {
    /// (key as it appears in events, slot)
    pub(super) entries: Vec<(String, usize)>,
    slots: usize,
    /// Bit `n` is set when some key (or the output key) is `n` bytes long
    /// (bit 63: 63 or more), so most keys of an event are told apart by
    /// their length alone.
    lengths: u64,
    /// The keys of up to 16 bytes, and the output key, as two little-endian
    /// words (zero-padded), ordered by length and then as in `entries`;
    /// `short_at[n]..short_at[n + 1]` are those of `n` bytes.
    short: Vec<ShortKey>,
    short_at: [u16; 18],
}

#[derive(Debug, Clone, Copy)]
struct ShortKey {
    words: [u64; 2],
    hit: KeyHit,
}

/// What a key of an event is to the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyHit {
    /// A wanted field: its slot.
    Slot(usize),
    /// The key the scorer appends ([`OUTPUT_KEY`]).
    Output,
    /// Anything else.
    Other,
}

/// The little-endian word of the `n ≤ 8` bytes of `b` from `i`, zero-padded.
#[inline(always)]
fn word(b: &[u8], i: usize, n: usize) -> u64 {
    if let Some(w) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(w.try_into().unwrap());
        if n >= 8 { w } else { w & ((1u64 << (8 * n)) - 1) }
    } else {
        b[i..i + n].iter().rev().fold(0, |w, &c| w << 8 | u64::from(c))
    }
}

impl FieldTable {
    /// A table of field names; slot i is `names[i]`.
    pub fn new(names: Vec<String>) -> Self {
        let slots = names.len();
        let mut t = FieldTable {
            entries: names.into_iter().enumerate().map(|(i, n)| (n, i)).collect(),
            slots,
            lengths: 0,
            short: Vec::new(),
            short_at: [0; 18],
        };
        t.index();
        t
    }

    /// A table where each name may also appear under its aliases
    /// (`"id.orig_h" = ["id_orig_h"]`).
    pub fn with_aliases(names: Vec<String>, aliases: &std::collections::BTreeMap<String, Vec<String>>) -> Self {
        let mut t = Self::new(names);
        for i in 0..t.slots {
            if let Some(alts) = aliases.get(&t.entries[i].0) {
                for a in alts {
                    t.entries.push((a.clone(), i));
                }
            }
        }
        t.index();
        t
    }

    fn index(&mut self) {
        let output = (OUTPUT_KEY.to_string(), usize::MAX);
        let all = || self.entries.iter().chain(std::iter::once(&output));
        self.lengths = all().fold(0, |m, (n, _)| m | 1u64 << n.len().min(63));
        let mut short: Vec<(usize, ShortKey)> = all()
            .filter(|(n, _)| n.len() <= 16)
            .map(|(n, slot)| {
                let b = n.as_bytes();
                let words = [word(b, 0, b.len().min(8)), if b.len() > 8 { word(b, 8, b.len() - 8) } else { 0 }];
                let hit = if *slot == usize::MAX { KeyHit::Output } else { KeyHit::Slot(*slot) };
                (b.len(), ShortKey { words, hit })
            })
            .collect();
        // Stable: among keys of one length, the first entry still wins.
        short.sort_by_key(|(len, _)| *len);
        for n in 0..18 {
            self.short_at[n] = short.iter().filter(|(len, _)| *len < n).count() as u16;
        }
        self.short = short.into_iter().map(|(_, k)| k).collect();
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }

    pub(super) fn slot(&self, key: &str) -> Option<usize> {
        self.entries.iter().find(|(n, _)| n == key).map(|(_, i)| *i)
    }

    /// What the key `b[at..at + len]` is: the scanner's look-up. Length
    /// first, then (up to 16 bytes) two word comparisons per wanted key of
    /// that length.
    #[inline(always)]
    pub(crate) fn lookup(&self, b: &[u8], at: usize, len: usize) -> KeyHit {
        if self.lengths & (1u64 << len.min(63)) == 0 {
            return KeyHit::Other;
        }
        if len <= 16 {
            let words = [word(b, at, len.min(8)), if len > 8 { word(b, at + 8, len - 8) } else { 0 }];
            let range = usize::from(self.short_at[len])..usize::from(self.short_at[len + 1]);
            return self.short[range].iter().find(|k| k.words == words).map_or(KeyHit::Other, |k| k.hit);
        }
        let key = &b[at..at + len];
        match self.entries.iter().find(|(n, _)| n.as_bytes() == key) {
            Some((_, i)) => KeyHit::Slot(*i),
            None => KeyHit::Other,
        }
    }
}

/// The keys of the events read so far, as they were written (`"key":`),
/// with what each is to the table and which key followed it last time.
/// The events of one log repeat their keys in one order (give or take the
/// fields an event lacks), so each key of an event is first compared, a
/// word at a time, with the key that followed the previous one last time,
/// then with the one after that (a field this event lacks): the key, its
/// quotes and the colon are checked and looked up at once. A key that is
/// neither is read and looked up as usual, and learnt.
#[derive(Debug, Clone)]
pub struct KeyCache {
    /// Per key, the text `"key":`, zero-padded, in two 16-byte chunks.
    texts: Vec<[[u8; 16]; 2]>,
    /// Per key, its length, the key that followed it last time, and what
    /// it is (kept apart from the texts: 4 bytes, looked at first).
    meta: Vec<KeyMeta>,
    /// The key that began the last object.
    first: u8,
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache { texts: Vec::new(), meta: Vec::new(), first: NO_KEY }
    }
}

/// The longest `"key":` text a [`KeyCache`] keeps.
pub(super) const CACHED_KEY_MAX: usize = 32;
/// How many distinct keys a [`KeyCache`] keeps.
pub(super) const CACHED_KEYS: usize = 64;
/// No key, or one not kept (an index beyond [`CACHED_KEYS`]).
pub(super) const NO_KEY: u8 = u8::MAX;
/// Before the first key of an object.
pub(super) const START: u8 = u8::MAX - 1;

#[derive(Debug, Clone, Copy)]
struct KeyMeta {
    len: u8,
    next: u8,
    /// [`KeyHit`] as a number: the slot, or [`HIT_OTHER`], [`HIT_OUTPUT`].
    hit: u16,
}

pub(super) const HIT_OTHER: u16 = u16::MAX;
pub(super) const HIT_OUTPUT: u16 = u16::MAX - 1;
/// Set in the codes that are not a slot (slots are below it).
pub(super) const HIT_NOT_SLOT: u16 = 0x8000;

/// A [`KeyHit`] as one number, as the scanner tests it (two comparisons,
/// where a `match` on the enum is a jump table in the component): the
/// slot (below [`HIT_NOT_SLOT`]), [`HIT_OTHER`] or [`HIT_OUTPUT`]; `None`
/// for a slot too large.
pub(super) fn hit_code(hit: KeyHit) -> Option<u16> {
    match hit {
        KeyHit::Other => Some(HIT_OTHER),
        KeyHit::Output => Some(HIT_OUTPUT),
        KeyHit::Slot(slot) => u16::try_from(slot).ok().filter(|&s| s & HIT_NOT_SLOT == 0),
    }
}

/// Whether the text at `b[at..]` starts with the key text `text` of `len`
/// bytes: one 16-byte comparison (two for keys of 15 bytes and more).
#[inline(always)]
fn key_matches(text: &[[u8; 16]; 2], len: usize, b: &[u8], at: usize) -> bool {
    let Some(chunk) = b.get(at..at + 16) else {
        // Near the end of the text: byte by byte.
        return b.get(at..at + len).is_some_and(|s| s.iter().enumerate().all(|(k, &c)| text[k / 16][k % 16] == c));
    };
    let want = |n: usize| if n >= 16 { 0xffff } else { (1u32 << n) - 1 };
    let first = bytes::equal16(chunk.try_into().unwrap(), &text[0]) & want(len);
    if len <= 16 {
        return first == want(len);
    }
    if first != 0xffff {
        return false;
    }
    match b.get(at + 16..at + 32) {
        Some(chunk) => bytes::equal16(chunk.try_into().unwrap(), &text[1]) & want(len - 16) == want(len - 16),
        None => b.get(at + 16..at + len) == Some(&text[1][..len - 16]),
    }
}

impl KeyCache {
    /// The key expected after `prev` ([`START`]: at the start of an
    /// object), if the text at `b[at..]` is it or the one after it: its
    /// index, learnt as what follows `prev`.
    #[inline(always)]
    pub(super) fn predict(&mut self, b: &[u8], at: usize, prev: u8) -> Option<u8> {
        let guess = if prev == START { self.first } else { self.meta.get(usize::from(prev))?.next };
        let m = *self.meta.get(usize::from(guess))?;
        if key_matches(&self.texts[usize::from(guess)], usize::from(m.len), b, at) {
            return Some(guess);
        }
        let skip = m.next;
        let m = *self.meta.get(usize::from(skip))?;
        if key_matches(&self.texts[usize::from(skip)], usize::from(m.len), b, at) {
            self.follow(prev, skip);
            return Some(skip);
        }
        None
    }

    /// The length of key `index` (from [`Self::predict`]) and what it is,
    /// as a [`hit_code`].
    #[inline(always)]
    pub(super) fn get(&self, index: u8) -> (usize, u16) {
        let m = self.meta[usize::from(index)];
        (usize::from(m.len), m.hit)
    }

    /// The index of the key text `b[at..at + len]`, learnt if new (`NO_KEY`
    /// when it cannot be kept), and learnt as what follows `prev`.
    pub(super) fn learn(&mut self, b: &[u8], at: usize, len: usize, hit: KeyHit, prev: u8) -> u8 {
        let known = (0..self.meta.len())
            .find(|&i| usize::from(self.meta[i].len) == len && key_matches(&self.texts[i], len, b, at));
        let code = hit_code(hit);
        let index = match (known, code) {
            (Some(i), _) => i as u8,
            (None, Some(hit)) if self.meta.len() < CACHED_KEYS && len <= CACHED_KEY_MAX => {
                let mut text = [[0u8; 16]; 2];
                for (k, &c) in b[at..at + len].iter().enumerate() {
                    text[k / 16][k % 16] = c;
                }
                self.texts.push(text);
                self.meta.push(KeyMeta { len: len as u8, next: NO_KEY, hit });
                (self.meta.len() - 1) as u8
            }
            _ => NO_KEY,
        };
        self.follow(prev, index);
        index
    }

    #[inline(always)]
    fn follow(&mut self, prev: u8, index: u8) {
        if prev == START {
            self.first = index;
        } else if let Some(m) = self.meta.get_mut(usize::from(prev)) {
            m.next = index;
        }
    }
}
