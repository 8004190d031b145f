//! Reading logs inside the component: the CLI's own readers
//! ([`logsieve_readers::Parser`]), their records laid out the way
//! `score-lines` takes them (the WIT resource `reader`).

use logsieve_readers::{DEFAULT_MAX_LINE, Format, Item, Parser, ReadError};

/// One log input being read.
pub struct LogReader {
    parser: Parser,
}

/// What a [`LogReader`] made of some bytes (the WIT `read-lines`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadLines {
    /// The events, one JSON object per line, each followed by `\n`.
    pub events: String,
    /// Per event, its line in the input (1-based).
    pub lines: Vec<u64>,
    /// The lines that could not be read: (line, why).
    pub errors: Vec<(u64, ReadError)>,
}

impl ReadLines {
    fn take(&mut self, item: Item) {
        match item.result {
            Ok(event) => {
                self.events.push_str(&event);
                self.events.push('\n');
                self.lines.push(item.origin.line);
            }
            Err(e) => self.errors.push((item.origin.line, e)),
        }
    }
}

impl LogReader {
    /// A reader for one input in `format` (the CLI's format names); an
    /// unknown name is refused with the valid ones.
    pub fn new(format: &str) -> Result<LogReader, String> {
        let format: Format = format.parse().map_err(|e: logsieve_readers::UnknownFormat| e.to_string())?;
        Ok(LogReader { parser: Parser::new("<input>".into(), format, DEFAULT_MAX_LINE) })
    }

    /// The next bytes of the input.
    pub fn read(&mut self, bytes: &[u8]) -> ReadLines {
        let mut out = ReadLines::default();
        self.parser.feed(bytes, &mut |item| out.take(item));
        out
    }

    /// End of the input.
    pub fn finish(&mut self) -> ReadLines {
        let mut out = ReadLines::default();
        self.parser.finish(&mut |item| out.take(item));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeek_lines_become_ndjson_events_with_their_line_numbers() {
        let log = "#separator \\x09\n#fields\tts\tproto\torig_bytes\n#types\ttime\tenum\tcount\n\
                   1.5\ttcp\t10\n2.5\tudp\tx\n3.5\ticmp\t-\n";
        let mut r = LogReader::new("auto").unwrap();
        let (a, b) = log.as_bytes().split_at(37);
        let mut got = r.read(a);
        let more = r.read(b);
        got.events.push_str(&more.events);
        got.lines.extend(more.lines);
        got.errors.extend(more.errors);
        let end = r.finish();
        assert_eq!(end, ReadLines::default());
        assert_eq!(got.events, "{\"ts\":1.5,\"proto\":\"tcp\",\"orig_bytes\":10}\n{\"ts\":3.5,\"proto\":\"icmp\"}\n");
        assert_eq!(got.lines, [4, 6]);
        assert_eq!(got.errors.len(), 1);
        assert_eq!((got.errors[0].0, got.errors[0].1.reason), (5, "zeek_bad_value"));
        assert!(LogReader::new("parquet").err().unwrap().contains("valid formats"));
    }
}
