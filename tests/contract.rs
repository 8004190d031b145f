//! The lists that say the same thing in several places say it alike: the
//! error reasons (code, WIT contract, `docs/errors.md`) and the verdict's
//! reasons (code, WIT flags).

mod common;

use std::collections::BTreeSet;

use logsieve_plugin::{Reason, Reasons};

fn read(rel: &str) -> String {
    let p = common::repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `code`s in backticks in a text.
fn codes(text: &str) -> BTreeSet<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// The doc comment of the field `field` of the WIT record `record`.
fn wit_field_doc(wit: &str, record: &str, field: &str) -> String {
    let at = wit.find(&format!("record {record} {{")).unwrap_or_else(|| panic!("no record {record} in the WIT"));
    let body = &wit[at..at + wit[at..].find('}').expect("the record ends")];
    let mut doc = String::new();
    for line in body.lines() {
        let line = line.trim();
        if let Some(d) = line.strip_prefix("///") {
            doc.push_str(d);
            doc.push(' ');
        } else if line.starts_with(&format!("{field}:")) {
            return doc;
        } else {
            doc.clear();
        }
    }
    panic!("no field {field} in record {record}")
}

/// The first-column codes of the table under the heading `## {heading}`.
fn doc_table(doc: &str, heading: &str) -> BTreeSet<String> {
    let at = doc.find(&format!("## {heading}")).unwrap_or_else(|| panic!("no section '{heading}' in docs/errors.md"));
    let section = &doc[at + 3..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.split('`').nth(1).expect("a code in the first column").to_string())
        .collect()
}

fn set<'a>(v: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    v.into_iter().map(str::to_string).collect()
}

#[test]
fn every_error_reason_is_in_the_code_the_contract_and_the_docs_alike() {
    let wit = read("wit/logsieve.wit");
    let doc = read("docs/errors.md");

    // Scoring: the plugin's enum.
    let plugin = set(Reason::ALL.iter().map(|r| r.as_str()));
    assert_eq!(doc_table(&doc, "Scoring an event"), plugin, "docs/errors.md, scoring");
    let in_component = set(Reason::ALL.iter().filter(|r| r.in_component()).map(|r| r.as_str()));
    assert_eq!(codes(&wit_field_doc(&wit, "event-error", "reason")), in_component, "WIT event-error.reason");

    // Reading: the readers' list; the component's parser gives all but the
    // file-level ones.
    let readers = set(logsieve_readers::reason::ALL);
    assert_eq!(doc_table(&doc, "Reading a log"), readers, "docs/errors.md, reading");
    let io = set(logsieve_readers::reason::IO);
    let parser: BTreeSet<String> = readers.difference(&io).cloned().collect();
    assert_eq!(codes(&wit_field_doc(&wit, "read-error", "reason")), parser, "WIT read-error.reason");

    // Guest faults: the host's.
    let faults = set(logsieve::runtime::fault::ALL);
    assert_eq!(doc_table(&doc, "Running the component"), faults, "docs/errors.md, faults");

    // One code, one meaning: no code in two lists.
    let all: Vec<&String> = plugin.iter().chain(&readers).chain(&faults).collect();
    assert_eq!(all.len(), set(all.iter().map(|s| s.as_str())).len(), "a reason code used twice: {all:?}");
}

#[test]
fn the_wit_flags_are_the_verdict_reasons_in_order() {
    let wit = read("wit/logsieve.wit");
    let at = wit.find("flags reasons {").expect("the WIT declares flags reasons");
    let body = &wit[at..at + wit[at..].find('}').expect("the flags end")];
    let members: Vec<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("///") && l.ends_with(','))
        .map(|l| l.trim_end_matches(',').replace('-', "_"))
        .collect();
    assert_eq!(members, Reasons::NAMES, "the WIT flags and logsieve.reasons name the same reasons, in one order");
}

/// Every logsieve pipeline on the host pipelines' pages (Vector, Logstash,
/// Fluent Bit, Kafka) is one `logsieve validate` accepts, with the page's
/// model path replaced by a real model: the keys the pages document are the
/// keys the code reads.
#[test]
fn the_pipelines_on_the_host_pages_validate() {
    let dir = common::tempdir("contract-docs-pipelines");
    // A conn model (the example's own is written by its README's `train`,
    // not committed).
    let model = common::train_small_conn(&dir);
    let mut checked = 0;
    for page in ["docs/vector.md", "docs/logstash.md", "docs/fluent-bit.md", "docs/kafka.md"] {
        let text = read(page);
        let mut n = 0;
        for block in text.split("```toml\n").skip(1) {
            let block = &block[..block.find("```").expect("a closed block")];
            if !block.contains("type = \"logsieve\"") {
                continue;
            }
            n += 1;
            let block: String =
                block
                    .lines()
                    .map(|l| {
                        if l.starts_with("model = ") {
                            format!("model = \"{}\"", model.display())
                        } else {
                            l.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
            let path = dir.join(format!("{}-{n}.toml", page.trim_start_matches("docs/").trim_end_matches(".md")));
            std::fs::write(&path, &block).unwrap();
            let out = common::logsieve_with(Some(&dir), &["validate".as_ref(), path.as_os_str()], None);
            assert!(
                out.status.success(),
                "{page}, logsieve pipeline {n}:\n{block}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
        assert!(n > 0, "{page} has no logsieve pipeline");
    }
    assert!(checked >= 4);
}
