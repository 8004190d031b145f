//! The fast event scanner (`logsieve_plugin::scan::fast::scan_fast`) against the
//! serde_json reference (`scan::scan_serde`): whatever the fast path
//! accepts, serde_json accepts with the same fields, values (bit for bit)
//! and shape, the first time (keys read and looked up) and the second
//! (keys checked against the cache of the first); and `scan::scan`, which
//! runs one and falls back to the other, always agrees with the reference.
//!
//! Input: the first byte picks which wanted field names the table holds
//! (bit i: name i of NAMES); the rest, as lossy UTF-8, is the event text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logsieve_plugin::event::Scalar;
use logsieve_plugin::scan::fast::scan_fast;
use logsieve_plugin::scan::{FieldTable, KeyCache, scan, scan_serde};

const NAMES: [&str; 8] = ["ts", "a", "id.orig_h", "duration", "s", "", "proto", "logsieve"];

fn same(a: &[Option<Scalar>], b: &[Option<Scalar>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Some(Scalar::Number(p)), Some(Scalar::Number(q))) => p.to_bits() == q.to_bits(),
            _ => x == y,
        })
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let names: Vec<String> =
        NAMES.iter().enumerate().filter(|(i, _)| ctl & (1 << i) != 0).map(|(_, n)| n.to_string()).collect();
    let table = FieldTable::new(names);
    let text = String::from_utf8_lossy(rest);

    // The whole text as one event, then each of its lines as events one
    // after the other: one key cache across them all, so keys are also
    // checked against the keys of other events.
    let mut cache = KeyCache::default();
    for (n, event) in std::iter::once(&*text).chain(text.split('\n')).enumerate() {
        check(event, &table, &mut cache, n);
    }
});

fn check(text: &str, table: &FieldTable, cache: &mut KeyCache, n: usize) {
    let mut reference = Vec::new();
    let want = scan_serde(text, table, &mut reference);
    for pass in ["first", "again"] {
        let mut fast = vec![None; table.len()];
        if let Some(shape) = scan_fast(text, table, cache, &mut fast) {
            let w = want.as_ref().unwrap_or_else(|e| {
                panic!("the fast path ({pass}, event {n}) accepted what serde_json refuses ({e}): {text:?}")
            });
            assert_eq!((shape.keys, shape.close), (w.keys, w.close), "shape differs ({pass}): {text:?}");
            assert!(same(&fast, &reference), "values differ ({pass}): {text:?}\nfast {fast:?}\nserde {reference:?}");
        }
    }
    let mut slots = Vec::new();
    match (scan(text, table, &mut slots), &want) {
        (Ok(a), Ok(b)) => {
            assert_eq!((a.keys, a.close), (b.keys, b.close), "{text:?}");
            assert!(same(&slots, &reference), "{text:?}");
        }
        (Err(a), Err(b)) => assert_eq!(&a, b, "{text:?}"),
        (a, b) => panic!("scan {a:?} but the reference {b:?}: {text:?}"),
    }
}
