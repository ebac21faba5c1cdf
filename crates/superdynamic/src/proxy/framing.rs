//! Newline-delimited framing of the stdio transport (2026-07-28 basic/transports/stdio.mdx: "Messages are
//! delimited by newlines, and MUST NOT contain embedded newlines"), with a bound on the line length so a host
//! that never sends a newline cannot make the proxy buffer without end.

use tokio::io::{AsyncRead, AsyncReadExt};

/// What [`LineReader::next_line`] read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// One message, without its `\n` (and without a trailing `\r`).
    Message(Vec<u8>),
    /// A line longer than the limit; it was skipped up to its newline.
    TooLong,
    /// End of input.
    Eof,
}

/// Reads lines of at most `max` bytes. Cancel-safe: a partly read line stays buffered if the future is dropped,
/// so it can sit in a `select!`.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    scanned: usize,
    max: usize,
    /// Inside a line that went over the limit: drop bytes until its newline.
    discarding: bool,
    eof: bool,
}

const READ_CHUNK: usize = 64 * 1024;

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        Self { inner, buf: Vec::new(), scanned: 0, max: max.max(1), discarding: false, eof: false }
    }

    pub async fn next_line(&mut self) -> std::io::Result<Line> {
        loop {
            if let Some(offset) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + offset;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                self.scanned = 0;
                line.pop();
                if self.discarding {
                    self.discarding = false;
                    return Ok(Line::TooLong);
                }
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > self.max {
                    return Ok(Line::TooLong);
                }
                return Ok(Line::Message(line));
            }
            self.scanned = self.buf.len();
            if self.buf.len() > self.max {
                // Keep nothing of an over-long line; remember to skip the rest of it.
                self.buf.clear();
                self.scanned = 0;
                self.discarding = true;
            }
            if self.eof {
                if self.buf.is_empty() {
                    let was_discarding = std::mem::take(&mut self.discarding);
                    return Ok(if was_discarding { Line::TooLong } else { Line::Eof });
                }
                // A last line without a newline still counts.
                let line = std::mem::take(&mut self.buf);
                self.scanned = 0;
                return Ok(Line::Message(line));
            }
            self.buf.reserve(READ_CHUNK);
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                self.eof = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        loop {
            let line = reader.next_line().await.unwrap();
            let end = line == Line::Eof;
            out.push(line);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_strips_cr_and_keeps_a_last_unterminated_line() {
        let got = lines(b"{\"a\":1}\r\n\n{\"b\":2}\nlast", 100).await;
        assert_eq!(
            got,
            vec![
                Line::Message(b"{\"a\":1}".to_vec()),
                Line::Message(Vec::new()),
                Line::Message(b"{\"b\":2}".to_vec()),
                Line::Message(b"last".to_vec()),
                Line::Eof
            ]
        );
    }

    #[tokio::test]
    async fn over_long_lines_are_skipped_and_reading_continues() {
        let mut input = vec![b'x'; 200_000];
        input.extend_from_slice(b"\nok\n");
        input.extend_from_slice(&[b'y'; 11]);
        let got = lines(&input, 10).await;
        assert_eq!(got, vec![Line::TooLong, Line::Message(b"ok".to_vec()), Line::TooLong, Line::Eof]);
    }
}
