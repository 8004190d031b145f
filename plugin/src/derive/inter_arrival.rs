//! Inter-arrival times: seconds since the previous event, per key.
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

use std::collections::{BTreeMap, HashMap};

/// Seconds since the previous event, overall or per key, with a bound on
/// the number of keys. See the [module docs](self).
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
