//! Reading the real logs in the shared data folder.

mod common;

use std::collections::BTreeSet;

use common::{data, data_dir, file_bytes, temp_dir};
use logsieve_readers::{Format, Item, Reader, expand_inputs, reason};
use serde_json::{Map, Value};

fn object(item: &Item) -> Map<String, Value> {
    let text = item.result.as_ref().unwrap_or_else(|e| {
        panic!("{}:{}: unexpected error {e} (raw {:?})", item.origin.file, item.origin.line, e.raw)
    });
    assert!(!text.contains('\n'), "event text spans lines: {text}");
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        other => panic!("{}:{}: not a JSON object: {other:?}\n{text}", item.origin.file, item.origin.line),
    }
}

fn errors(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| {
            i.result.as_ref().err().map(|e| format!("{}:{}: {e} raw={:?}", i.origin.file, i.origin.line, e.raw))
        })
        .collect()
}

#[test]
fn rita_conn_day_reads_every_row() {
    let pattern = format!("{}/zeek/rita-missing-host/2024-04-19/conn.*.log.gz", data_dir().display());
    let paths = expand_inputs(&[pattern]).unwrap();
    assert_eq!(paths.len(), 24);
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    let mut reader = Reader::open(paths, Format::Auto);
    let items: Vec<Item> = reader.by_ref().collect();
    assert_eq!(errors(&items), Vec::<String>::new());
    assert_eq!(items.len(), 31_367);
    let stats = *reader.stats();
    assert_eq!((stats.files, stats.records, stats.errors), (24, 31_367, 0));
    assert!(stats.bytes > 1_000_000);

    for item in &items {
        let m = object(item);
        assert!(m.get("_node_name").is_some_and(Value::is_string), "{m:?}");
        assert!(m.get("id.orig_h").is_some_and(Value::is_string), "{m:?}");
        assert!(m.get("id.orig_p").is_some_and(Value::is_u64), "{m:?}");
        assert!(m.get("ts").is_some_and(Value::is_f64), "{m:?}");
        // set[string]: absent when unset (`-`), else an array.
        assert!(m.get("tunnel_parents").is_none_or(Value::is_array), "{m:?}");
        for (k, v) in &m {
            assert!(v.as_str() != Some("-"), "unset field {k} must be absent: {m:?}");
        }
    }
    // First row of the first file, digits kept verbatim; `-` absent.
    let first = items[0].result.as_ref().unwrap();
    assert!(first.starts_with(r#"{"_node_name":"worker-eth0-1","ts":1713484795.943239,"uid":"CYl7H53iN6mY9NyXJ8","id.orig_h":"167.94.138.145","id.orig_p":25320,"#), "{first}");
    assert!(first.contains(r#""proto":"tcp","duration":0.000064,"orig_bytes":0,"#), "{first}");
    assert!(first.contains(r#""local_orig":false,"local_resp":true,"#), "{first}");
    assert!(!first.contains("service"), "{first}");
    assert!(items[0].origin.file.ends_with("conn.00:00:00-01:00:00.log.gz"));
    assert_eq!(items[0].origin.line, 9);
    assert!(items.last().unwrap().origin.file.ends_with("conn.23:00:00-00:00:00.log.gz"));
}

/// Seconds since the epoch of `2018-03-24T17:16:39.739898Z`.
fn iso_to_epoch(s: &str) -> f64 {
    let s = s.strip_suffix('Z').expect("UTC timestamp");
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (y, m, day) = (d[0], d[1], d[2]);
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let t: Vec<f64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    days as f64 * 86_400.0 + t[0] * 3600.0 + t[1] * 60.0 + t[2]
}

#[test]
fn wrccdc_tsv_and_json_agree() {
    let mut compared = 0;
    for log in ["ssh", "rdp", "ntlm", "kerberos", "smb_mapping", "dce_rpc"] {
        let tsv: Vec<Item> =
            Reader::open(vec![data(&format!("zeek/wrccdc2018/tsv/{log}.log.gz"))], Format::ZeekTsv).collect();
        let json: Vec<Item> =
            Reader::open(vec![data(&format!("zeek/wrccdc2018/json/{log}.json.gz"))], Format::Auto).collect();
        assert_eq!(errors(&tsv), Vec::<String>::new(), "{log}");
        assert_eq!(errors(&json), Vec::<String>::new(), "{log}");
        assert_eq!(tsv.len(), json.len(), "{log}: event counts differ");
        assert!(!tsv.is_empty());
        for (t, j) in tsv.iter().zip(&json) {
            let t = object(t);
            let mut j = object(j);
            j.remove("_path");
            j.remove("_write_ts");
            let tk: BTreeSet<&String> = t.keys().collect();
            let jk: BTreeSet<&String> = j.keys().collect();
            assert_eq!(tk, jk, "{log}: key sets differ");
            let tts = t["ts"].as_f64().expect("TSV ts is a number");
            let jts = iso_to_epoch(j["ts"].as_str().expect("JSON ts is ISO text"));
            assert!((tts - jts).abs() < 1e-5, "{log}: ts {tts} vs {jts}");
            for (k, tv) in &t {
                if k == "ts" {
                    continue;
                }
                let jv = &j[k];
                let same = match (tv.as_f64(), jv.as_f64(), jv.as_str()) {
                    // Zeek TSV prints doubles with 6 decimals.
                    (Some(a), Some(b), _) => (a - b).abs() <= 1e-6 + 1e-9 * a.abs(),
                    // Other `time` fields: ISO text in JSON.
                    (Some(a), None, Some(iso)) if iso.ends_with('Z') => (a - iso_to_epoch(iso)).abs() < 1e-5,
                    _ => tv == jv,
                };
                assert!(same, "{log}: field {k}: TSV {tv} vs JSON {jv}");
                compared += 1;
            }
        }
    }
    assert!(compared > 40_000, "only {compared} values compared");
}

#[test]
fn other_zeek_logs_read_without_errors() {
    let d = data_dir();
    let patterns: Vec<String> = [
        "zeek/zat/*.log",
        "zeek/zat/json/*.log",
        "zeek/otrf-apt29/day1/*.log",
        "zeek/strato-labeled/*/conn.log.labeled.gz",
        "zeek/wrccdc2018/tsv/dns.log.gz",
        "zeek/rita-missing-host/2024-04-2*/*.log.gz",
    ]
    .iter()
    .map(|p| format!("{}/{p}", d.display()))
    .collect();
    let paths = expand_inputs(&patterns).unwrap();
    let mut reader = Reader::open(paths.clone(), Format::Auto);
    let mut n = 0u64;
    let mut errs = Vec::new();
    for item in reader.by_ref() {
        match &item.result {
            Ok(_) => {
                object(&item);
                n += 1;
            }
            Err(_) => errs.push(item),
        }
    }
    assert_eq!(errors(&errs), Vec::<String>::new());
    assert_eq!(reader.stats().files, paths.len() as u64);
    // Data rows = lines not starting with '#'.
    let expected: usize = paths
        .iter()
        .map(|p| file_bytes(p).split(|&b| b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count())
        .sum();
    assert_eq!(n, expected as u64);
}

#[test]
fn apt29_json_passes_through_unchanged() {
    let path = data("zeek/otrf-apt29/day1/NASHUA_conn.log");
    let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    let items: Vec<Item> = Reader::open(vec![path], Format::Ndjson).collect();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(items.len(), lines.len());
    for (item, line) in items.iter().zip(&lines) {
        assert_eq!(item.result.as_deref(), Ok(line.trim()));
        assert!(object(item).contains_key("id_orig_h"));
    }
    assert_eq!(items[5].origin.line, 6);
}

#[test]
fn ctu_binetflow_files_read_with_expected_row_counts() {
    let paths = expand_inputs(&[format!("{}/netflow/ctu/*.binetflow.gz", data_dir().display())]).unwrap();
    assert_eq!(paths.len(), 5);
    for path in paths {
        let content = file_bytes(&path);
        let mut lines = content.split(|&b| b == b'\n').count();
        if content.ends_with(b"\n") {
            lines -= 1;
        }
        let items: Vec<Item> = Reader::open(vec![path.clone()], Format::Auto).collect();
        assert_eq!(errors(&items), Vec::<String>::new(), "{}", path.display());
        assert_eq!(items.len(), lines - 1, "{}", path.display());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut hex_ports = 0;
        for item in &items {
            let m = object(item);
            assert!(m.get("StartTime").is_some_and(Value::is_string), "{name}: {m:?}");
            assert!(m.get("TotPkts").is_some_and(Value::is_i64), "{name}: {m:?}");
            assert!(m.get("Dur").is_some_and(Value::is_number), "{name}: {m:?}");
            assert!(m.get("Dir").is_none_or(|d| d.as_str().is_some_and(|s| s == s.trim())), "{name}: {m:?}");
            for port in ["Sport", "Dport"] {
                match m.get(port) {
                    Some(Value::String(s)) if s.starts_with("0x") => hex_ports += 1,
                    Some(Value::String(s)) => panic!("{name}: non-hex port kept as string: {s}"),
                    _ => {}
                }
            }
        }
        if name.starts_with("test5") {
            // Tab-separated file: labels land under their own key.
            let labels = items
                .iter()
                .filter(|i| object(i).get("Label").and_then(Value::as_str).is_some_and(|l| l.starts_with("flow=")))
                .count();
            assert!(labels > 6000, "{labels}");
        }
        if name.starts_with("CTU-Normal-7") {
            assert!(hex_ports > 1000, "{name}: {hex_ports}");
        }
    }
}

#[test]
fn truncated_gzip_yields_events_then_one_error_then_next_file() {
    let full = data("zeek/rita-missing-host/2024-04-19/conn.12:00:00-13:00:00.log.gz");
    let bytes = std::fs::read(&full).unwrap();
    let dir = temp_dir("truncated");
    let cut = dir.join("cut.log.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let next = data("zeek/zat/conn.log");

    let items: Vec<Item> = Reader::open(vec![cut.clone(), next.clone()], Format::Auto).collect();
    let from_cut: Vec<&Item> = items.iter().filter(|i| i.origin.file.ends_with("cut.log.gz")).collect();
    let errs: Vec<&&Item> = from_cut.iter().filter(|i| i.result.is_err()).collect();
    assert_eq!(errs.len(), 1, "{:?}", errs);
    assert_eq!(errs[0].result.as_ref().unwrap_err().reason, reason::TRUNCATED_GZIP);
    // The error is the last item of that file, after some good events.
    assert!(from_cut.last().unwrap().result.is_err());
    let good = from_cut.len() - 1;
    let total = file_bytes(&full).split(|&b| b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count();
    assert!(good > 100 && good < total, "{good} of {total}");
    for i in &from_cut[..good] {
        object(i);
    }
    // Then the next file is read normally.
    let from_next = items.iter().filter(|i| *i.origin.file == *next.to_string_lossy()).count();
    assert!(from_next > 0);
    assert_eq!(items.len(), from_cut.len() + from_next);
    std::fs::remove_dir_all(dir).unwrap();
}
