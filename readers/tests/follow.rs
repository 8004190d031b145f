//! `Follower`: growing, rotating, compressed files and checkpoints, on real
//! temporary files. Every record is a numbered event (`"n": k`); tests
//! check that the numbers handed out are exactly the ones expected, once
//! each, in order.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::temp_dir;
use logsieve_readers::{Follower, Format, Item, Positions, reason};

/// NDJSON lines `{"n":k}` for `range`.
fn ndjson(range: std::ops::Range<u64>) -> String {
    range.map(|k| format!("{{\"n\":{k}}}\n")).collect()
}

/// A Zeek TSV header opened at `ts` (8 lines).
fn zeek_header(ts: &str) -> String {
    format!(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t{ts}\n#fields\tn\tuid\n#types\tcount\tstring\n"
    )
}

const ZEEK_HEADER_LINES: u64 = 8;

/// Zeek TSV rows for `range`.
fn zeek_rows(range: std::ops::Range<u64>) -> String {
    range.map(|k| format!("{k}\tC{k}\n")).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn append(path: &Path, text: &str) {
    OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

fn pattern(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The `n` of each item (panics on an error item).
fn ns(items: &[Item]) -> Vec<u64> {
    items
        .iter()
        .map(|i| {
            let text = i.result.as_ref().unwrap_or_else(|e| panic!("error item {e} at {:?}", i.origin));
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            v["n"].as_u64().unwrap()
        })
        .collect()
}

/// Everything the follower has now: reads until a read waiting 250 ms
/// brings nothing.
fn drain(f: &mut Follower) -> Vec<Item> {
    let mut items = Vec::new();
    loop {
        let batch = f.read(1000, 1 << 20, Duration::from_millis(250));
        if batch.items.is_empty() {
            return items;
        }
        items.extend(batch.items);
    }
}

fn follower(patterns: &[&Path], format: Format, start: Positions) -> Follower {
    Follower::new(patterns.iter().map(|p| pattern(p)).collect(), format, start)
}

/// The (offset, lines) the positions hold for the file last found at `path`.
fn position_of(p: &Positions, path: &Path) -> Option<(u64, u64)> {
    p.iter().find(|(f, _, _)| Path::new(f) == path).map(|(_, o, l)| (o, l))
}

#[test]
fn only_whole_lines_are_consumed() {
    let dir = temp_dir("follow-partial");
    let log = dir.join("a.log");
    fs::write(&log, "{\"n\":0}\n{\"n\":1}\n{\"n\":").unwrap();
    let mut f = follower(&[&log], Format::Ndjson, Positions::default());
    let items = drain(&mut f);
    assert_eq!(ns(&items), [0, 1]);
    assert_eq!(position_of(&f.positions(), &log), Some((16, 2)), "the partial line is not counted");
    append(&log, "2}\n{\"n\":3}\n");
    let items = drain(&mut f);
    assert_eq!(ns(&items), [2, 3]);
    assert_eq!(items.iter().map(|i| i.origin.line).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(position_of(&f.positions(), &log), Some((32, 4)));
}

#[test]
fn appends_and_new_files_are_picked_up_at_the_next_poll() {
    let dir = temp_dir("follow-poll");
    let glob = dir.join("*.log");
    // Nothing matches yet: not an error.
    let mut f = follower(&[&glob], Format::Ndjson, Positions::default());
    let batch = f.read(100, 1 << 20, Duration::ZERO);
    assert!(batch.items.is_empty() && batch.positions.is_empty());
    let log = dir.join("a.log");
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            fs::write(&log, ndjson(0..3)).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            append(&log, &ndjson(3..5));
        })
    };
    let t0 = Instant::now();
    let batch = f.read(100, 1 << 20, Duration::from_secs(5));
    assert_eq!(ns(&batch.items), [0, 1, 2], "a new file is read from its beginning");
    assert!(t0.elapsed() < Duration::from_secs(1), "waited {:?}", t0.elapsed());
    let batch = f.read(100, 1 << 20, Duration::from_secs(5));
    assert_eq!(ns(&batch.items), [3, 4]);
    assert!(t0.elapsed() < Duration::from_secs(2), "waited {:?}", t0.elapsed());
    writer.join().unwrap();
    // Waiting with nothing new returns no items after about `wait`.
    let t1 = Instant::now();
    let batch = f.read(100, 1 << 20, Duration::from_millis(300));
    assert!(batch.items.is_empty());
    assert!(t1.elapsed() >= Duration::from_millis(300) && t1.elapsed() < Duration::from_secs(2));
    assert_eq!(batch.positions.len(), 1);
}

#[test]
fn batches_respect_max_items_and_positions_match_them() {
    let dir = temp_dir("follow-batches");
    let log = dir.join("a.log");
    fs::write(&log, ndjson(0..10)).unwrap();
    let mut f = follower(&[&log], Format::Ndjson, Positions::default());
    let mut got = Vec::new();
    for _ in 0..4 {
        let b = f.read(3, 1 << 20, Duration::ZERO);
        assert!(b.items.len() <= 3);
        got.extend(ns(&b.items));
        let bytes: u64 = got.iter().map(|k| format!("{{\"n\":{k}}}\n").len() as u64).sum();
        assert_eq!(position_of(&b.positions, &log), Some((bytes, got.len() as u64)));
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    // max_bytes: about that much text (whole lines).
    let log2 = dir.join("b.log");
    fs::write(&log2, ndjson(0..10)).unwrap();
    let mut f = follower(&[&log2], Format::Ndjson, Positions::default());
    let b = f.read(100, 20, Duration::ZERO);
    assert_eq!(ns(&b.items), [0, 1, 2]);
}

/// Rotation by rename: the rest of the old file first, then the new one.
#[test]
fn rotation_by_rename_reads_the_old_file_to_its_end_first() {
    for (case, unlink) in [("match-new-only", false), ("glob", false), ("unlinked", true)] {
        let dir = temp_dir(&format!("follow-rename-{case}"));
        let log = dir.join("conn.log");
        let pat = if case == "glob" { dir.join("*.log") } else { log.clone() };
        fs::write(&log, ndjson(0..5)).unwrap();
        let mut f = follower(&[&pat], Format::Ndjson, Positions::default());
        assert_eq!(ns(&drain(&mut f)), (0..5).collect::<Vec<_>>(), "{case}");
        append(&log, &ndjson(5..8));
        let rotated = dir.join("conn.2026-12-07-10-00-00.log");
        fs::rename(&log, &rotated).unwrap();
        fs::write(&log, ndjson(8..12)).unwrap();
        if unlink {
            fs::remove_file(&rotated).unwrap();
        }
        assert_eq!(ns(&drain(&mut f)), (5..12).collect::<Vec<_>>(), "{case}");
        append(&log, &ndjson(12..13));
        assert_eq!(ns(&drain(&mut f)), [12], "{case}");
    }
}

fn zeek_row_lines(items: &[Item]) -> Vec<u64> {
    items.iter().map(|i| i.origin.line).collect()
}

/// Zeek's rotation, then compression of the rotated file, while following.
#[test]
fn rotated_then_gzipped_is_resumed_in_the_gzip_stream() {
    // `early`: the rotated plain file is read before it is compressed.
    for early in [false, true] {
        let dir = temp_dir(&format!("follow-gzip-{early}"));
        let log = dir.join("conn.log");
        let pats = [log.clone(), dir.join("conn.*.log.gz")];
        let pats: Vec<&Path> = pats.iter().map(PathBuf::as_path).collect();
        let first = zeek_header("2026-12-07-09-00-00") + &zeek_rows(0..5);
        fs::write(&log, &first).unwrap();
        let mut f = follower(&pats, Format::ZeekTsv, Positions::default());
        let items = drain(&mut f);
        assert_eq!(ns(&items), (0..5).collect::<Vec<_>>());
        let rest = zeek_rows(5..8) + "#close\t2026-12-07-10-00-00\n";
        append(&log, &rest);
        let plain = dir.join("conn.2026-12-07-09-00-00.log");
        fs::rename(&log, &plain).unwrap();
        fs::write(&log, zeek_header("2026-12-07-10-00-00") + &zeek_rows(8..10)).unwrap();
        let mut got = Vec::new();
        if early {
            got.extend(drain(&mut f));
        }
        fs::write(dir.join("conn.2026-12-07-09-00-00.log.gz"), gzip((first + &rest).as_bytes())).unwrap();
        fs::remove_file(&plain).unwrap();
        got.extend(drain(&mut f));
        assert_eq!(ns(&got), (5..10).collect::<Vec<_>>(), "early: {early}");
        let lines = zeek_row_lines(&got);
        assert_eq!(lines[..3], [14, 15, 16], "line numbers go on in the rotated file");
        assert_eq!(lines[3..], [9, 10]);
        append(&log, &zeek_rows(10..11));
        assert_eq!(ns(&drain(&mut f)), [10]);
        let p = f.positions();
        assert_eq!(p.len(), 2, "{p:?}");
        let gz_text = (zeek_header("2026-12-07-09-00-00") + &zeek_rows(0..8) + "#close\t2026-12-07-10-00-00\n").len();
        assert_eq!(position_of(&p, &dir.join("conn.2026-12-07-09-00-00.log.gz")), Some((gz_text as u64, 17)));
    }
}

/// A gzip file still being written (its stream cut short) is read as far as
/// it goes and read on once complete; one left cut short is reported.
#[test]
fn gzip_being_written_is_retried_and_a_stale_cut_one_reported() {
    let dir = temp_dir("follow-gzip-partial");
    let gz = dir.join("conn.1.log.gz");
    let text = ndjson(0..2000);
    let full = gzip(text.as_bytes());
    let cut = full.len() / 2;
    fs::write(&gz, &full[..cut]).unwrap();
    let mut f = follower(&[&dir.join("*.gz")], Format::Ndjson, Positions::default());
    let first = drain(&mut f);
    assert!(first.iter().all(|i| i.result.is_ok()), "no error while it may still be written");
    let n1 = ns(&first);
    assert!(!n1.is_empty() && n1.len() < 2000);
    append_bytes(&gz, &full[cut..]);
    let second = drain(&mut f);
    let mut all = n1;
    all.extend(ns(&second));
    assert_eq!(all, (0..2000).collect::<Vec<_>>());

    // Cut short and untouched for a while: the records, then one error.
    let stale = dir.join("conn.2.log.gz");
    let text2 = ndjson(5000..5100);
    let full2 = gzip(text2.as_bytes());
    fs::write(&stale, &full2[..full2.len() - 10]).unwrap();
    File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let items = drain(&mut f);
    let (ok, err): (Vec<_>, Vec<_>) = items.iter().partition(|i| i.result.is_ok());
    assert_eq!(err.len(), 1, "{items:?}");
    assert_eq!(err[0].result.as_ref().unwrap_err().reason, reason::TRUNCATED_GZIP);
    assert!(items.last().unwrap().result.is_err(), "the error comes last");
    let ok: Vec<Item> = ok.into_iter().cloned().collect();
    assert_eq!(ns(&ok), (5000..5000 + ok.len() as u64).collect::<Vec<_>>());
    assert!(drain(&mut f).is_empty(), "reported once");
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

/// Restart after every batch from the saved checkpoint: every record once,
/// in order, with line numbers going on; also Zeek (header re-parsed) and
/// CSV (header re-read).
#[test]
fn restart_from_a_checkpoint_neither_repeats_nor_skips() {
    let cases: [(&str, Format, String, u64); 4] = [
        ("ndjson", Format::Ndjson, ndjson(0..40), 0),
        ("zeek", Format::ZeekTsv, zeek_header("2026-01-01-00-00-00") + &zeek_rows(0..40), ZEEK_HEADER_LINES),
        ("auto-zeek", Format::Auto, zeek_header("2026-01-01-00-00-00") + &zeek_rows(0..40), ZEEK_HEADER_LINES),
        (
            "csv",
            Format::Csv { delimiter: None },
            "n,uid\n".to_string() + &(0..40).map(|k| format!("{k},C{k}\n")).collect::<String>(),
            1,
        ),
    ];
    for (name, format, text, header_lines) in cases {
        let dir = temp_dir(&format!("follow-restart-{name}"));
        let log = dir.join("a.log");
        let ckpt = dir.join("state").join("checkpoint.json");
        // Written in two parts: the second after some restarts.
        let half = text.len() / 2;
        let cut = text[..half].rfind('\n').unwrap() + 1;
        fs::write(&log, &text[..cut]).unwrap();
        let mut got: Vec<Item> = Vec::new();
        for round in 0..60 {
            if round == 5 {
                append(&log, &text[cut..]);
            }
            let mut f = follower(&[&log], format, Positions::load(&ckpt).unwrap());
            let b = f.read(1 + round % 4, 1 << 20, Duration::from_millis(20));
            b.positions.save(&ckpt).unwrap();
            got.extend(b.items);
            if got.len() == 40 {
                break;
            }
        }
        assert_eq!(ns(&got), (0..40).collect::<Vec<_>>(), "{name}");
        let lines: Vec<u64> = got.iter().map(|i| i.origin.line).collect();
        assert_eq!(lines, (header_lines + 1..header_lines + 41).collect::<Vec<_>>(), "{name}");
        let mut f = follower(&[&log], format, Positions::load(&ckpt).unwrap());
        assert!(drain(&mut f).is_empty(), "{name}: nothing read twice");
    }
}

/// Stopped after part of `conn.log`; meanwhile it was rotated and
/// compressed and a new `conn.log` started. Also the partial last line of a
/// growing file is read once complete after a restart.
#[test]
fn restart_after_rotation_and_compression_while_stopped() {
    let dir = temp_dir("follow-restart-gzip");
    let log = dir.join("conn.log");
    let ckpt = dir.join("checkpoint.json");
    let pats = [log.clone(), dir.join("conn.*.log.gz")];
    let pats: Vec<&Path> = pats.iter().map(PathBuf::as_path).collect();
    let first = zeek_header("2026-12-07-09-00-00") + &zeek_rows(0..10);
    fs::write(&log, &first).unwrap();
    {
        let mut f = follower(&pats, Format::ZeekTsv, Positions::default());
        let b = f.read(4, 1 << 20, Duration::ZERO);
        assert_eq!(ns(&b.items), [0, 1, 2, 3]);
        b.positions.save(&ckpt).unwrap();
    }
    let whole = first + &zeek_rows(10..12) + "#close\t2026-12-07-10-00-00\n";
    let gz = dir.join("conn.2026-12-07-09-00-00.log.gz");
    fs::write(&gz, gzip(whole.as_bytes())).unwrap();
    fs::remove_file(&log).unwrap();
    fs::write(&log, zeek_header("2026-12-07-10-00-00") + &zeek_rows(12..15) + "15\tC1").unwrap();
    let mut f = follower(&pats, Format::ZeekTsv, Positions::load(&ckpt).unwrap());
    let items = drain(&mut f);
    assert_eq!(ns(&items), (4..15).collect::<Vec<_>>(), "the rest of the old file, then the new one");
    assert_eq!(items[0].origin.line, ZEEK_HEADER_LINES + 5);
    assert_eq!(&*items[0].origin.file, gz.to_str().unwrap());
    f.positions().save(&ckpt).unwrap();
    drop(f);
    // Both known: nothing again; the new file's partial row completed.
    append(&log, "5\n");
    let mut f = follower(&pats, Format::ZeekTsv, Positions::load(&ckpt).unwrap());
    let items = drain(&mut f);
    assert_eq!(ns(&items), [15]);
    assert_eq!(items[0].result.as_deref(), Ok(r#"{"n":15,"uid":"C15"}"#));
    assert_eq!(items[0].origin.line, ZEEK_HEADER_LINES + 4);
    assert_eq!(f.positions().len(), 2);
}

#[test]
fn a_truncated_file_is_read_again_from_its_start() {
    let dir = temp_dir("follow-truncate");
    let log = dir.join("a.log");
    fs::write(&log, ndjson(0..5)).unwrap();
    let mut f = follower(&[&log], Format::Ndjson, Positions::default());
    assert_eq!(ns(&drain(&mut f)), [0, 1, 2, 3, 4]);
    // copytruncate: emptied in place, then written again.
    OpenOptions::new().write(true).truncate(true).open(&log).unwrap();
    append(&log, &ndjson(5..7));
    let items = drain(&mut f);
    assert_eq!(ns(&items), [5, 6]);
    assert_eq!(zeek_row_lines(&items), [1, 2]);
}

#[test]
fn partly_read_files_first_then_new_files_oldest_first() {
    let dir = temp_dir("follow-order");
    let x = dir.join("x.log");
    fs::write(&x, ndjson(0..4)).unwrap();
    let mut f = follower(&[&dir.join("*.log")], Format::Ndjson, Positions::default());
    assert_eq!(ns(&f.read(2, 1 << 20, Duration::ZERO).items), [0, 1]);
    let now = SystemTime::now();
    for (name, range, age) in [("a.log", 200..202, 10), ("b.log", 100..102, 100), ("c.log", 300..302, 10)] {
        let p = dir.join(name);
        fs::write(&p, ndjson(range)).unwrap();
        File::options().write(true).open(&p).unwrap().set_modified(now - Duration::from_secs(age)).unwrap();
    }
    append(&x, &ndjson(4..5));
    assert_eq!(ns(&drain(&mut f)), [2, 3, 4, 100, 101, 200, 201, 300, 301]);
}

#[test]
fn files_gone_are_forgotten() {
    let dir = temp_dir("follow-forget");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    fs::write(&a, ndjson(0..2)).unwrap();
    fs::write(&b, ndjson(2..4)).unwrap();
    let mut f = follower(&[&dir.join("*.log")], Format::Ndjson, Positions::default()).with_forget_after(Duration::ZERO);
    assert_eq!(ns(&drain(&mut f)), [0, 1, 2, 3]);
    assert_eq!(f.positions().len(), 2);
    fs::remove_file(&b).unwrap();
    drain(&mut f);
    let p = f.positions();
    assert_eq!(p.len(), 1);
    assert!(position_of(&p, &a).is_some());
    // A checkpoint's file that is not there any more.
    let ckpt = dir.join("c.json");
    let mut g = follower(&[&b], Format::Ndjson, Positions::default());
    fs::write(&b, ndjson(0..1)).unwrap();
    drain(&mut g);
    g.positions().save(&ckpt).unwrap();
    fs::remove_file(&b).unwrap();
    let mut h = follower(&[&b], Format::Ndjson, Positions::load(&ckpt).unwrap()).with_forget_after(Duration::ZERO);
    assert_eq!(h.positions().len(), 1);
    drain(&mut h);
    assert!(h.positions().is_empty());
    // With the default grace period it is kept for now.
    let mut k = follower(&[&b], Format::Ndjson, Positions::load(&ckpt).unwrap());
    drain(&mut k);
    assert_eq!(k.positions().len(), 1);
}

#[test]
fn errors_are_items_and_following_goes_on() {
    let dir = temp_dir("follow-errors");
    let sub = dir.join("subdir");
    fs::create_dir(&sub).unwrap();
    let log = dir.join("a.log");
    fs::write(&log, "{\"n\":0}\n\n{\"n\":1}\n").unwrap();
    let corrupt = dir.join("bad.gz");
    let mut bad = gzip(ndjson(0..50).as_bytes());
    let mid = bad.len() / 2;
    bad[mid..mid + 8].fill(0xff);
    fs::write(&corrupt, &bad).unwrap();
    let mut f = follower(&[&sub, &log, &dir.join("missing.log"), &corrupt], Format::Ndjson, Positions::default());
    let mut items = drain(&mut f);
    // Several more polls: the directory is reported once.
    std::thread::sleep(Duration::from_millis(300));
    items.extend(drain(&mut f));
    let errors: Vec<(&str, &'static str)> =
        items.iter().filter_map(|i| i.result.as_ref().err().map(|e| (&*i.origin.file, e.reason))).collect();
    assert_eq!(
        errors.iter().filter(|(_, r)| *r == reason::OPEN_FAILED).collect::<Vec<_>>(),
        [&(sub.to_str().unwrap(), reason::OPEN_FAILED)]
    );
    assert!(errors.contains(&(log.to_str().unwrap(), reason::EMPTY_LINE)));
    assert_eq!(errors.iter().filter(|(_, r)| *r == reason::CORRUPT_GZIP).count(), 1, "{errors:?}");
    append(&log, &ndjson(2..3));
    let more = drain(&mut f);
    assert_eq!(ns(&more), [2]);
}

#[test]
fn positions_save_and_load() {
    let dir = temp_dir("follow-positions");
    let ckpt = dir.join("nested").join("dir").join("ckpt.json");
    assert!(Positions::load(&ckpt).unwrap().is_empty(), "a missing checkpoint is empty");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    fs::write(&a, ndjson(0..3)).unwrap();
    fs::write(&b, ndjson(0..300)).unwrap();
    let mut f = follower(&[&a, &b], Format::Ndjson, Positions::default());
    drain(&mut f);
    let p = f.positions();
    assert_eq!(p.len(), 2);
    p.save(&ckpt).unwrap();
    p.save(&ckpt).unwrap(); // over an existing one
    assert_eq!(Positions::load(&ckpt).unwrap(), p);
    let leftovers: Vec<_> = fs::read_dir(ckpt.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    for (text, what) in [
        ("{not json", "not valid JSON"),
        ("{\"version\":7,\"files\":[]}", "version"),
        ("{\"version\":1}", "files"),
        (
            "{\"version\":1,\"files\":[{\"path\":\"x\",\"fingerprint\":\"zz\",\"fingerprint_bytes\":9,\"offset\":1,\"lines\":1}]}",
            "fingerprint",
        ),
        (
            "{\"version\":1,\"files\":[{\"path\":\"x\",\"fingerprint\":\"00000000000000ab\",\"fingerprint_bytes\":9,\"lines\":1}]}",
            "offset",
        ),
        (
            "{\"version\":1,\"files\":[{\"path\":\"x\",\"fingerprint\":\"00000000000000ab\",\"fingerprint_bytes\":257,\"offset\":1,\"lines\":1}]}",
            "fingerprint_bytes: 257 is not between 1 and 256",
        ),
    ] {
        fs::write(&ckpt, text).unwrap();
        let e = Positions::load(&ckpt).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        let msg = e.to_string();
        assert!(msg.contains(ckpt.to_str().unwrap()) && msg.contains(what), "{msg}");
    }
}
