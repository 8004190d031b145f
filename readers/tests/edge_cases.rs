//! Error handling and input quirks, on small in-memory or temporary inputs.

mod common;

use std::io::Write;

use common::{read_bytes, summary, temp_dir};
use logsieve_readers::{Format, Item, Reader, expand_inputs, reason};
use serde_json::Value;

const ZEEK_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\ttest\n#open\t2024-04-19-00-00-01\n";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn parse(item: &Item) -> Value {
    serde_json::from_str(item.result.as_ref().expect("an event")).expect("valid JSON")
}

#[test]
fn zeek_every_type_through_the_reader() {
    let text = format!(
        "{ZEEK_HEADER}#fields\tts\tdur\tratio\tn\tdelta\tport\tok\tname\thost\tnet\tproto\tre\tnew\ttags\tttls\tnums\tempty_set\tempty_str\tunset\n\
         #types\ttime\tinterval\tdouble\tcount\tint\tport\tbool\tstring\taddr\tsubnet\tenum\tpattern\tfuture_type\tset[string]\tvector[interval]\tvector[count]\tset[enum]\tstring\tcount\n\
         1713484800.123456\t12.5\t-0.25\t18446744073709551615\t-42\t53\tF\tsay \"hi\"\\\\\t::1\t10.0.0.0/8\tudp\t/^x$/\tsome value\tA,B\t1.5,30\t1,2\t(empty)\t(empty)\t-\n\
         #close\t2024-04-19-01-00-00\n"
    );
    let items = read_bytes(text.as_bytes(), Format::Auto);
    assert_eq!(items.len(), 1, "{:?}", summary(&items));
    let s = items[0].result.as_ref().unwrap();
    assert_eq!(
        s,
        r#"{"ts":1713484800.123456,"dur":12.5,"ratio":-0.25,"n":18446744073709551615,"delta":-42,"port":53,"ok":false,"name":"say \"hi\"\\","host":"::1","net":"10.0.0.0/8","proto":"udp","re":"/^x$/","new":"some value","tags":["A","B"],"ttls":[1.5,30.0],"nums":[1,2],"empty_set":[],"empty_str":""}"#
    );
    let v = parse(&items[0]);
    assert_eq!(v["ts"].as_f64(), Some(1713484800.123456));
    assert_eq!(v["n"].as_u64(), Some(u64::MAX));
    assert!(v.get("unset").is_none());
    assert_eq!(items[0].origin.line, 9);
}

#[test]
fn zeek_bad_rows_are_reported_and_reading_goes_on() {
    let text = format!("{ZEEK_HEADER}#fields\tid\tn\n#types\tstring\tcount\na\t1\nb\t2\textra\nc\tabc\nd\n\ne\t5\n");
    let items = read_bytes(text.as_bytes(), Format::ZeekTsv);
    assert_eq!(
        summary(&items),
        vec![
            Ok(r#"{"id":"a","n":1}"#.to_string()),
            Err(reason::ZEEK_COLUMN_COUNT),
            Err(reason::ZEEK_BAD_VALUE),
            Err(reason::ZEEK_COLUMN_COUNT),
            Err(reason::EMPTY_LINE),
            Ok(r#"{"id":"e","n":5}"#.to_string()),
        ]
    );
    let lines: Vec<u64> = items.iter().map(|i| i.origin.line).collect();
    assert_eq!(lines, vec![9, 10, 11, 12, 13, 14]);
    let bad = items[2].result.as_ref().unwrap_err();
    assert!(bad.detail.contains("`n`"), "{}", bad.detail);
    assert_eq!(bad.raw, "c\tabc");
}

#[test]
fn zeek_reopened_header_blocks_and_missing_close() {
    let text = format!(
        "{ZEEK_HEADER}#fields\t_node_name\tts\n#types\tstring\ttime\nw1\t1.5\n#close\tx\n\
         {ZEEK_HEADER}#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n2.5\tC1\t10.0.0.1\n"
    );
    let items = read_bytes(text.as_bytes(), Format::Auto);
    assert_eq!(
        summary(&items),
        vec![
            Ok(r#"{"_node_name":"w1","ts":1.5}"#.to_string()),
            Ok(r#"{"ts":2.5,"uid":"C1","id.orig_h":"10.0.0.1"}"#.to_string()),
        ]
    );
}

#[test]
fn bom_is_skipped_in_every_format() {
    let zeek = format!("\u{feff}{ZEEK_HEADER}#fields\ta\n#types\tcount\n7\n");
    assert_eq!(summary(&read_bytes(zeek.as_bytes(), Format::Auto)), vec![Ok(r#"{"a":7}"#.to_string())]);
    let json = "\u{feff}{\"a\":1}\n{\"b\":2}\n";
    assert_eq!(
        summary(&read_bytes(json.as_bytes(), Format::Auto)),
        vec![Ok(r#"{"a":1}"#.to_string()), Ok(r#"{"b":2}"#.to_string())]
    );
    let csv = "\u{feff}x,y\n1,2\n";
    assert_eq!(summary(&read_bytes(csv.as_bytes(), Format::Auto)), vec![Ok(r#"{"x":1,"y":2}"#.to_string())]);
    // Only at the start of a file.
    let mid = "{\"a\":1}\n\u{feff}{\"b\":2}\n";
    assert_eq!(read_bytes(mid.as_bytes(), Format::Ndjson)[1].result.as_deref(), Ok("\u{feff}{\"b\":2}"));
}

#[test]
fn crlf_line_ends() {
    let zeek = format!("{ZEEK_HEADER}#fields\ta\tb\n#types\tstring\tbool\n").replace('\n', "\r\n") + "x\tT\r\ny\tF\r\n";
    assert_eq!(
        summary(&read_bytes(zeek.as_bytes(), Format::Auto)),
        vec![Ok(r#"{"a":"x","b":true}"#.to_string()), Ok(r#"{"a":"y","b":false}"#.to_string())]
    );
    let csv = "StartTime,Dur,Label\r\n2024/01/01 00:00:00,1.5,flow=x\r\n";
    assert_eq!(
        summary(&read_bytes(csv.as_bytes(), Format::Auto)),
        vec![Ok(r#"{"StartTime":"2024/01/01 00:00:00","Dur":1.5,"Label":"flow=x"}"#.to_string())]
    );
    let json = "{\"a\":1}\r\n{\"b\":2}\r\n";
    assert_eq!(
        summary(&read_bytes(json.as_bytes(), Format::Ndjson)),
        vec![Ok(r#"{"a":1}"#.to_string()), Ok(r#"{"b":2}"#.to_string())]
    );
}

#[test]
fn ndjson_empty_lines_and_final_newline() {
    let json = "{\"a\":1}\n\n   \t\n{\"b\":2}  \nnot json at all\n";
    let items = read_bytes(json.as_bytes(), Format::Ndjson);
    assert_eq!(
        summary(&items),
        vec![
            Ok(r#"{"a":1}"#.to_string()),
            Err(reason::EMPTY_LINE),
            Err(reason::EMPTY_LINE),
            Ok(r#"{"b":2}"#.to_string()),
            // Not parsed here: validation is the consumer's job.
            Ok("not json at all".to_string()),
        ]
    );
    assert_eq!(items.iter().map(|i| i.origin.line).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    // No trailing newline: the last line still counts, nothing extra.
    assert_eq!(read_bytes(b"{\"a\":1}", Format::Ndjson).len(), 1);
    assert_eq!(read_bytes(b"", Format::Auto).len(), 0);
}

#[test]
fn invalid_utf8_lines() {
    let mut data = b"{\"a\":1}\n{\"b\":\"\xff\xfe\"}\n{\"c\":3}\n".to_vec();
    let items = read_bytes(&data, Format::Auto);
    assert_eq!(
        summary(&items),
        vec![Ok(r#"{"a":1}"#.to_string()), Err(reason::INVALID_UTF8), Ok(r#"{"c":3}"#.to_string())]
    );
    let e = items[1].result.as_ref().unwrap_err();
    assert_eq!(e.raw, "{\"b\":\"\u{fffd}\u{fffd}\"}");
    assert_eq!(items[1].origin.line, 2);

    data = format!("{ZEEK_HEADER}#fields\ta\n#types\tstring\n").into_bytes();
    data.extend_from_slice(b"ok\nbad\xc3\n");
    assert_eq!(
        summary(&read_bytes(&data, Format::Auto)),
        vec![Ok(r#"{"a":"ok"}"#.to_string()), Err(reason::INVALID_UTF8)]
    );
    assert_eq!(
        summary(&read_bytes(b"a,b\n1,\x80\n2,3\n", Format::Auto)),
        vec![Err(reason::INVALID_UTF8), Ok(r#"{"a":2,"b":3}"#.to_string())]
    );
}

#[test]
fn line_too_long_is_skipped_without_stopping() {
    let long = format!("{{\"a\":\"{}\"}}", "x".repeat(100_000));
    let data = format!("{{\"first\":1}}\n{long}\n{{\"last\":2}}\n");
    let mut reader = Reader::from_reader("mem", Box::new(std::io::Cursor::new(data.into_bytes())), Format::Ndjson)
        .with_max_line(1000);
    let items: Vec<Item> = reader.by_ref().collect();
    assert_eq!(
        summary(&items),
        vec![Ok(r#"{"first":1}"#.to_string()), Err(reason::LINE_TOO_LONG), Ok(r#"{"last":2}"#.to_string())]
    );
    let e = items[1].result.as_ref().unwrap_err();
    assert_eq!(e.raw.len(), 4096);
    assert!(e.raw.starts_with("{\"a\":\"xxx"));
    assert_eq!(items[2].origin.line, 3);
    assert_eq!(reader.stats().errors, 1);
    assert_eq!(reader.stats().records, 2);

    // The default limit lets the same line through.
    let data = format!("{long}\n");
    assert_eq!(read_bytes(data.as_bytes(), Format::Ndjson)[0].result.as_deref(), Ok(long.as_str()));
}

#[test]
fn csv_rows_quoting_and_column_count() {
    let csv = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n\
               1970/01/01 01:00:00.000000,0.000000,llc,00:00:00:00:00:00,0,   ->,00:00:00:00:00:00,0,INT,,,1,60,60,\n\
               2013/12/17 22:09:19.5,1281.885498,tcp,10.0.0.1,0x0303,  <?>,10.0.0.2,443,PA_PA,0,0,12,1e3,9,\"flow=a,\"\"b\"\"\"\n\
               too,few\n";
    let items = read_bytes(csv.as_bytes(), Format::Auto);
    assert_eq!(
        summary(&items),
        vec![
            Ok(r#"{"StartTime":"1970/01/01 01:00:00.000000","Dur":0.000000,"Proto":"llc","SrcAddr":"00:00:00:00:00:00","Sport":0,"Dir":"->","DstAddr":"00:00:00:00:00:00","Dport":0,"State":"INT","TotPkts":1,"TotBytes":60,"SrcBytes":60}"#.to_string()),
            Ok(r#"{"StartTime":"2013/12/17 22:09:19.5","Dur":1281.885498,"Proto":"tcp","SrcAddr":"10.0.0.1","Sport":"0x0303","Dir":"<?>","DstAddr":"10.0.0.2","Dport":443,"State":"PA_PA","sTos":0,"dTos":0,"TotPkts":12,"TotBytes":1e3,"SrcBytes":9,"Label":"flow=a,\"b\""}"#.to_string()),
            Err(reason::CSV_COLUMN_COUNT),
        ]
    );
    assert_eq!(items[2].origin.line, 4);
    // tsv = CSV with tab; an explicit delimiter overrides detection.
    let tsv = "a\tb,c\n1\t2,3\n";
    assert_eq!(
        summary(&read_bytes(tsv.as_bytes(), "tsv".parse().unwrap())),
        vec![Ok(r#"{"a":1,"b,c":"2,3"}"#.to_string())]
    );
    assert_eq!(
        summary(&read_bytes(tsv.as_bytes(), Format::Csv { delimiter: Some(b',') })),
        vec![Ok(r#"{"a\tb":"1\t2","c":3}"#.to_string())]
    );
}

#[test]
fn gzip_detected_by_content_not_name() {
    let data = gzip(b"{\"a\":1}\n{\"b\":2}\n");
    let dir = temp_dir("gzip-name");
    let plain_name = dir.join("events.json");
    std::fs::write(&plain_name, &data).unwrap();
    let gz_name = dir.join("plain.gz");
    std::fs::write(&gz_name, b"{\"c\":3}\n").unwrap();
    let items: Vec<Item> = Reader::open(vec![plain_name, gz_name], Format::Auto).collect();
    assert_eq!(
        summary(&items),
        vec![Ok(r#"{"a":1}"#.to_string()), Ok(r#"{"b":2}"#.to_string()), Ok(r#"{"c":3}"#.to_string())]
    );
    // Concatenated members read as one stream.
    let mut two = gzip(b"{\"a\":1}\n");
    two.extend(gzip(b"{\"b\":2}\n"));
    assert_eq!(read_bytes(&two, Format::Auto).len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn truncated_gzip_in_memory() {
    let body: String = (0..20_000).map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", i * 7919)).collect();
    let gz = gzip(body.as_bytes());
    let items = read_bytes(&gz[..gz.len() * 2 / 3], Format::Auto);
    let (last, good) = items.split_last().unwrap();
    assert!(good.len() > 1000 && good.len() < 20_000, "{}", good.len());
    assert!(good.iter().all(|i| i.result.is_ok()));
    assert_eq!(last.result.as_ref().unwrap_err().reason, reason::TRUNCATED_GZIP);
    assert_eq!(last.origin.line, good.len() as u64 + 1);
}

#[test]
fn missing_file_is_reported_and_reading_goes_on() {
    let dir = temp_dir("missing");
    let ok = dir.join("ok.json");
    std::fs::write(&ok, "{\"a\":1}\n").unwrap();
    let missing = dir.join("nope.log");
    let mut reader = Reader::open(vec![missing.clone(), dir.clone(), ok.clone()], Format::Auto);
    let items: Vec<Item> = reader.by_ref().collect();
    assert_eq!(summary(&items), vec![Err(reason::OPEN_FAILED), Err(reason::OPEN_FAILED), Ok(r#"{"a":1}"#.to_string())]);
    let e = items[0].result.as_ref().unwrap_err();
    assert!(e.detail.contains("nope.log"), "{}", e.detail);
    assert_eq!(&*items[0].origin.file, missing.to_string_lossy());
    assert_eq!(items[0].origin.line, 0);
    assert_eq!(*reader.stats(), logsieve_readers::ReadStats { files: 1, records: 1, errors: 2, bytes: 8 });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn expand_inputs_globs_sorted_and_errors_name_the_pattern() {
    let dir = temp_dir("expand");
    for name in ["c.log", "a.log", "b.log", "x.txt"] {
        std::fs::write(dir.join(name), "{}\n").unwrap();
    }
    std::fs::create_dir(dir.join("d.log")).unwrap();
    let d = dir.display();
    let got = expand_inputs(&[format!("{d}/x.txt"), format!("{d}/*.log")]).unwrap();
    let names: Vec<String> = got.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["x.txt", "a.log", "b.log", "c.log"]);

    let pat = format!("{d}/*.nothing");
    let err = expand_inputs(&[format!("{d}/a.log"), pat.clone()]).unwrap_err();
    assert_eq!(err.pattern, pat);
    assert!(err.to_string().contains("*.nothing"), "{err}");
    let err = expand_inputs(&[format!("{d}/missing.log")]).unwrap_err();
    assert!(err.to_string().contains("missing.log"), "{err}");
    assert!(expand_inputs(&[format!("{d}/[")]).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn format_names() {
    let cases = [
        ("auto", Format::Auto),
        ("zeek_tsv", Format::ZeekTsv),
        ("zeek_json", Format::Ndjson),
        ("ndjson", Format::Ndjson),
        ("json", Format::Ndjson),
        ("csv", Format::Csv { delimiter: None }),
        ("tsv", Format::Csv { delimiter: Some(b'\t') }),
        ("Zeek-TSV", Format::ZeekTsv),
    ];
    for (name, want) in cases {
        assert_eq!(name.parse::<Format>(), Ok(want), "{name}");
    }
    let err = "parquet".parse::<Format>().unwrap_err().to_string();
    assert!(err.contains("parquet"), "{err}");
    for name in ["auto", "zeek_tsv", "zeek_json", "ndjson", "json", "csv", "tsv"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn auto_detects_per_file_and_counts_stats() {
    let dir = temp_dir("auto");
    let files = [
        ("1.log", format!("{ZEEK_HEADER}#fields\ta\n#types\tcount\n1\n2\n")),
        ("2.log", "{\"j\":1}\n".to_string()),
        ("3.log", "h1\th2\nx\ty\n".to_string()),
    ];
    let mut paths = Vec::new();
    let mut bytes = 0;
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
        paths.push(dir.join(name));
        bytes += text.len() as u64;
    }
    let mut reader = Reader::open(paths, Format::Auto);
    let items: Vec<Item> = reader.by_ref().collect();
    assert_eq!(
        summary(&items),
        vec![
            Ok(r#"{"a":1}"#.to_string()),
            Ok(r#"{"a":2}"#.to_string()),
            Ok(r#"{"j":1}"#.to_string()),
            Ok(r#"{"h1":"x","h2":"y"}"#.to_string()),
        ]
    );
    assert!(items[3].origin.file.ends_with("3.log"));
    assert_eq!(*reader.stats(), logsieve_readers::ReadStats { files: 3, records: 4, errors: 0, bytes });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reader_and_items_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Reader>();
    assert_send::<Item>();
    let handle = std::thread::spawn(|| read_bytes(b"{\"a\":1}\n", Format::Auto));
    assert_eq!(handle.join().unwrap().len(), 1);
}

#[test]
fn a_stray_csv_quote_costs_its_line_only() {
    // Issue #19, item 5: one stray quote at the start of a field opened a
    // quoted field that no later line closed, and the rest of the file
    // became one `csv_unterminated_quote` record. Now the line with the
    // stray quote is the error and reading goes on at the next line; a
    // genuine multi-line quoted field (it closes into a record of the
    // header's width) is still read.
    let mut csv = String::from("a,b,c\n1,2,3\n4,\"oops,6\n");
    for i in 0..2000 {
        csv.push_str(&format!("{i},x,y\n"));
    }
    csv.push_str("7,\"two\nlines\",9\n\n8,\"never closed\n9,10,11\n1,2\n");
    let items = read_bytes(csv.as_bytes(), Format::Auto);
    let got = summary(&items);
    assert_eq!(got.len(), 2007, "every line but the header and the field's second line accounted");
    assert_eq!(got[0], Ok(r#"{"a":1,"b":2,"c":3}"#.to_string()));
    assert_eq!((got[1].clone(), items[1].origin.line), (Err(reason::CSV_UNTERMINATED_QUOTE), 3));
    assert!(items[1].result.as_ref().unwrap_err().raw.starts_with("4,\"oops"));
    for i in 0..2000 {
        assert_eq!(got[2 + i], Ok(format!(r#"{{"a":{i},"b":"x","c":"y"}}"#)));
        assert_eq!(items[2 + i].origin.line, 4 + i as u64);
    }
    assert_eq!((got[2002].clone(), items[2002].origin.line), (Ok(r#"{"a":7,"b":"two\nlines","c":9}"#.into()), 2004));
    assert_eq!((got[2003].clone(), items[2003].origin.line), (Err(reason::EMPTY_LINE), 2006));
    assert_eq!((got[2004].clone(), items[2004].origin.line), (Err(reason::CSV_UNTERMINATED_QUOTE), 2007));
    assert_eq!((got[2005].clone(), items[2005].origin.line), (Ok(r#"{"a":9,"b":10,"c":11}"#.into()), 2008));
    assert_eq!((got[2006].clone(), items[2006].origin.line), (Err(reason::CSV_COLUMN_COUNT), 2009));
    // Fed in chunks of every size, the same items (the component's path).
    for chunk in [1, 7, 4096] {
        let mut p = logsieve_readers::Parser::new("t".into(), Format::Auto, logsieve_readers::DEFAULT_MAX_LINE);
        let mut out = Vec::new();
        for c in csv.as_bytes().chunks(chunk) {
            p.feed(c, &mut |i| out.push(i));
        }
        p.finish(&mut |i| out.push(i));
        assert_eq!(summary(&out), got, "chunks of {chunk}");
    }
}
