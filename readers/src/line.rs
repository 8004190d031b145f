//! Byte-level input: gzip detection and bounded line reading.

use std::io::{self, BufRead, BufReader, Read};

/// Size of the buffer between the (possibly decompressed) stream and the
/// line splitter.
const BUF_CAPACITY: usize = 256 * 1024;

/// How many bytes of an offending line are kept for [`crate::ReadError::raw`].
pub(crate) const RAW_CAP: usize = 4096;

/// Outcome of [`read_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineStatus {
    /// End of input, nothing read.
    Eof,
    /// A complete line (without its `\n`) is in the buffer.
    Line,
    /// The line exceeded the limit; the buffer holds its first
    /// [`RAW_CAP`] bytes and the rest was skipped.
    TooLong,
}

/// Wraps a raw byte stream, transparently decompressing gzip (detected by
/// the magic bytes `1f 8b`, not by the name). Returns the buffered stream
/// and whether it is gzip.
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

/// Reads one `\n`-terminated line into `buf` (cleared first, terminator not
/// included), never holding more than `max` bytes: longer lines are skipped
/// to their end and reported as [`LineStatus::TooLong`]. `consumed` is
/// increased by the number of bytes taken from the stream.
///
/// On an I/O error, `buf` keeps whatever part of the line was read.
pub(crate) fn read_line(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    consumed: &mut u64,
) -> io::Result<LineStatus> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if !any {
                LineStatus::Eof
            } else if too_long {
                LineStatus::TooLong
            } else {
                LineStatus::Line
            });
        }
        any = true;
        let (content, used, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..i], i + 1, true),
            None => (avail, avail.len(), false),
        };
        if !too_long {
            if buf.len() + content.len() > max {
                too_long = true;
                let keep = RAW_CAP.saturating_sub(buf.len()).min(content.len());
                buf.extend_from_slice(&content[..keep]);
                buf.truncate(RAW_CAP);
            } else {
                buf.extend_from_slice(content);
            }
        }
        r.consume(used);
        *consumed += used as u64;
        if done {
            return Ok(if too_long { LineStatus::TooLong } else { LineStatus::Line });
        }
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

    fn lines(data: &[u8], max: usize) -> Vec<(LineStatus, Vec<u8>)> {
        let mut r = io::Cursor::new(data.to_vec());
        let mut buf = Vec::new();
        let mut consumed = 0;
        let mut out = Vec::new();
        loop {
            let st = read_line(&mut r, &mut buf, max, &mut consumed).unwrap();
            if st == LineStatus::Eof {
                break;
            }
            out.push((st, buf.clone()));
        }
        assert_eq!(consumed, data.len() as u64);
        out
    }

    #[test]
    fn splits_lines_and_final_line_without_newline() {
        let got = lines(b"a\nbb\n\nc", 10);
        let texts: Vec<&[u8]> = got.iter().map(|(_, b)| b.as_slice()).collect();
        assert_eq!(texts, vec![&b"a"[..], b"bb", b"", b"c"]);
        assert_eq!(lines(b"a\n", 10).len(), 1);
    }

    #[test]
    fn too_long_is_skipped_and_capped() {
        let mut data = vec![b'x'; 10_000];
        data.extend_from_slice(b"\nok\n");
        let got = lines(&data, 100);
        assert_eq!(got[0].0, LineStatus::TooLong);
        assert_eq!(got[0].1.len(), RAW_CAP);
        assert_eq!(got[1], (LineStatus::Line, b"ok".to_vec()));
        let got = lines(&vec![b'y'; 9000], 5000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, LineStatus::TooLong);
        assert_eq!(got[0].1.len(), RAW_CAP);
    }

    #[test]
    fn raw_text_caps_on_char_boundary() {
        let s = "é".repeat(3000); // 6000 bytes
        let r = raw_text(s.as_bytes());
        assert!(r.len() <= RAW_CAP);
        assert!(r.chars().all(|c| c == 'é'));
    }
}
