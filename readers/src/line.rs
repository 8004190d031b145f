//! Byte-level input: gzip detection, and the text of an offending line.

#[cfg(feature = "io")]
use std::io::{self, BufRead, BufReader, Read};

/// Size of the buffer between the (possibly decompressed) stream and the
/// line splitter.
#[cfg(feature = "io")]
const BUF_CAPACITY: usize = 256 * 1024;

/// How many bytes of an offending line are kept for [`crate::ReadError::raw`].
pub(crate) const RAW_CAP: usize = 4096;

/// Wraps a raw byte stream, transparently decompressing gzip (detected by
/// the magic bytes `1f 8b`, not by the name). Returns the buffered stream
/// and whether it is gzip.
#[cfg(feature = "io")]
pub(crate) fn open_stream(mut r: Box<dyn Read + Send>) -> io::Result<(Box<dyn BufRead + Send>, bool)> {
    // Peek at the first two bytes without relying on one `read` call
    // returning both (pipes may deliver a single byte).
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let is_gzip = n == 2 && head == [0x1f, 0x8b];
    let chained = io::Cursor::new(head[..n].to_vec()).chain(r);
    if is_gzip {
        let dec = flate2::read::MultiGzDecoder::new(chained);
        Ok((Box::new(BufReader::with_capacity(BUF_CAPACITY, dec)), true))
    } else {
        Ok((Box::new(BufReader::with_capacity(BUF_CAPACITY, chained)), false))
    }
}

/// Lossy UTF-8 text of `bytes`, capped at [`RAW_CAP`] bytes (on a char
/// boundary), for error reports.
pub(crate) fn raw_text(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(RAW_CAP)];
    let mut s = String::from_utf8_lossy(bytes).into_owned();
    if s.len() > RAW_CAP {
        let mut cut = RAW_CAP;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Item, Parser};

    /// The lines of `data` fed in chunks of `chunk` bytes, as
    /// (line, Ok(text) | Err(reason)).
    fn lines(data: &[u8], max: usize, chunk: usize) -> Vec<(u64, Result<String, &'static str>)> {
        let mut p = Parser::new("t".into(), Format::Ndjson, max);
        let mut out = Vec::new();
        let mut push = |i: Item| out.push((i.origin.line, i.result.map_err(|e| e.reason)));
        for c in data.chunks(chunk.max(1)) {
            p.feed(c, &mut push);
        }
        p.finish(&mut push);
        out
    }

    #[test]
    fn splits_lines_and_final_line_without_newline_in_chunks_of_any_size() {
        let data = b"{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}";
        for chunk in [1, 2, 3, 7, 100] {
            let got = lines(data, 100, chunk);
            assert_eq!(
                got,
                vec![
                    (1, Ok("{\"a\":1}".into())),
                    (2, Ok("{\"b\":2}".into())),
                    (3, Err("empty_line")),
                    (4, Ok("{\"c\":3}".into()))
                ],
                "chunks of {chunk}"
            );
        }
        assert_eq!(lines(b"{}\n", 10, 1).len(), 1, "a last newline ends the last line");
        assert_eq!(lines(b"", 10, 1).len(), 0);
    }

    #[test]
    fn too_long_is_skipped_and_capped() {
        let mut data = vec![b'x'; 10_000];
        data.extend_from_slice(b"\n{}\n");
        for chunk in [1, 999, 4096, 20_000] {
            let mut p = Parser::new("t".into(), Format::Ndjson, 100);
            let mut out = Vec::new();
            for c in data.chunks(chunk) {
                p.feed(c, &mut |i| out.push(i));
            }
            p.finish(&mut |i| out.push(i));
            let e = out[0].result.as_ref().unwrap_err();
            assert_eq!((e.reason, e.raw.len()), ("line_too_long", RAW_CAP), "chunks of {chunk}");
            assert_eq!(out[1].result.as_deref(), Ok("{}"));
            assert_eq!(out[1].origin.line, 2);
        }
        let got = lines(&vec![b'y'; 9000], 5000, 4096);
        assert_eq!(got, vec![(1, Err("line_too_long"))]);
    }

    #[test]
    fn raw_text_caps_on_char_boundary() {
        let s = "é".repeat(3000); // 6000 bytes
        let r = raw_text(s.as_bytes());
        assert!(r.len() <= RAW_CAP);
        assert!(r.chars().all(|c| c == 'é'));
    }
}
