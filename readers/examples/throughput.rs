//! Reads inputs and reports events per second (or prints the events).
//!
//! ```text
//! cargo run --release -p logsieve-readers --example throughput -- [--format NAME] [--print] PATH_OR_GLOB...
//! ```

use std::io::Write;
use std::time::Instant;

use logsieve_readers::{Format, Reader, expand_inputs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut format = Format::Auto;
    let mut print = false;
    let mut patterns = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--format" => format = args.next().ok_or("--format needs a value")?.parse()?,
            "--print" => print = true,
            _ => patterns.push(a),
        }
    }
    let reader =
        if patterns.is_empty() { Reader::stdin(format) } else { Reader::open(expand_inputs(&patterns)?, format) };
    let mut reader = reader;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let start = Instant::now();
    let mut first_errors = 0;
    for item in reader.by_ref() {
        match item.result {
            Ok(s) if print => writeln!(out, "{s}")?,
            Ok(_) => {}
            Err(e) if first_errors < 10 => {
                first_errors += 1;
                eprintln!("{}:{}: {e}", item.origin.file, item.origin.line);
            }
            Err(_) => {}
        }
    }
    out.flush()?;
    let secs = start.elapsed().as_secs_f64();
    let s = reader.stats();
    let n = s.records + s.errors;
    eprintln!(
        "{} files, {} events, {} errors, {:.1} MB in {:.3} s: {:.0} items/s, {:.1} MB/s",
        s.files,
        s.records,
        s.errors,
        s.bytes as f64 / 1e6,
        secs,
        n as f64 / secs,
        s.bytes as f64 / 1e6 / secs
    );
    Ok(())
}
