//! Incremental Server-Sent Events parser following the WHATWG HTML "Interpreting an event stream" rules
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>).
//!
//! It is fed arbitrary byte chunks and gives the same events whatever the chunk boundaries: a line is decoded
//! only once it is complete (CR and LF never occur inside a multi-byte UTF-8 sequence), and a CR at the end of a
//! chunk remembers to swallow an LF that may start the next one. Lines and events are bounded in size so a
//! hostile server cannot make the client buffer without limit.

use std::time::Duration;

/// Size bounds for one line and one event (data plus event type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    pub max_line: usize,
    pub max_event: usize,
}

impl Default for SseLimits {
    fn default() -> Self {
        Self { max_line: 1024 * 1024, max_event: 8 * 1024 * 1024 }
    }
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, or `"message"` when absent.
    pub event: String,
    /// The `data` lines joined by `\n`. Empty for a priming event (`id` + empty `data`, basic/transports.mdx
    /// 2025-11-25 "Sending Messages to the Server" 6).
    pub data: String,
    /// The stream's last event id when this event was dispatched (empty if none was ever set).
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an event-stream line is longer than the {limit}-byte limit")]
    LineTooLong { limit: usize },
    #[error("an event-stream event is larger than the {limit}-byte limit")]
    EventTooLarge { limit: usize },
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The parser state for one logical event stream. [`SseParser::reset_stream`] starts a new connection (a
/// resumption) while keeping the last event id and the reconnection time.
#[derive(Debug)]
pub struct SseParser {
    limits: SseLimits,
    line: Vec<u8>,
    /// The previous byte was CR: an LF right after it ends the same line.
    after_cr: bool,
    /// No line of this connection has completed yet, so a leading BOM is still to be stripped.
    at_start: bool,
    data: String,
    event_type: String,
    id_buffer: String,
    last_event_id: String,
    retry: Option<Duration>,
    failed: Option<SseError>,
}

impl SseParser {
    pub fn new(limits: SseLimits) -> Self {
        Self {
            limits,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            retry: None,
            failed: None,
        }
    }

    /// The last event id dispatched so far (the value for a `Last-Event-ID` header); empty if none.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time from the latest valid `retry` field, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Feeds one chunk. Complete events are appended to `out`; events completed before an error are still
    /// appended, so the output does not depend on chunking even when the stream turns bad. After an error every
    /// later call returns the same error.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.feed_inner(chunk, out);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    fn feed_inner(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = chunk;
        while let Some((&first, tail)) = rest.split_first() {
            if self.after_cr {
                self.after_cr = false;
                if first == b'\n' {
                    // The LF of a CRLF pair split across chunks.
                    rest = tail;
                    continue;
                }
            }
            match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
                Some(pos) => {
                    let (line_part, after) = rest.split_at(pos);
                    self.push_line_bytes(line_part)?;
                    self.after_cr = after.first() == Some(&b'\r');
                    rest = after.get(1..).unwrap_or_default();
                    self.end_line(out)?;
                }
                None => {
                    self.push_line_bytes(rest)?;
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    /// The stream ended. Per WHATWG, an event without its terminating blank line is discarded; returns `true`
    /// if that happened (the stream ended mid-event).
    pub fn finish(&mut self) -> bool {
        // A failed parser's buffers depend on where the chunk boundaries fell, so it reports "incomplete".
        let incomplete =
            self.failed.is_some() || !self.line.is_empty() || !self.data.is_empty() || !self.event_type.is_empty();
        self.line.clear();
        self.data.clear();
        self.event_type.clear();
        incomplete
    }

    /// Prepares for a new connection of the same logical stream (a resumption with `Last-Event-ID`): partial
    /// state is dropped, the last event id and the reconnection time are kept.
    pub fn reset_stream(&mut self) {
        self.finish();
        self.after_cr = false;
        self.at_start = true;
        // WHATWG: the last event ID buffer starts empty for each stream parse.
        self.id_buffer.clear();
        self.failed = None;
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len().saturating_add(bytes.len()) > self.limits.max_line {
            return Err(SseError::LineTooLong { limit: self.limits.max_line });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let raw = std::mem::take(&mut self.line);
        let mut bytes = raw.as_slice();
        if self.at_start {
            self.at_start = false;
            // WHATWG: one leading U+FEFF BYTE ORDER MARK is ignored.
            bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        }
        // WHATWG: the stream is decoded as UTF-8 with replacement characters.
        let line = String::from_utf8_lossy(bytes);
        self.process_line(&line, out)
    }

    fn process_line(&mut self, line: &str, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(()); // a comment, often a keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
                self.check_event_size()?;
            }
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.check_event_size()?;
            }
            // WHATWG: an id containing NUL is ignored.
            "id" if !value.contains('\0') => {
                self.id_buffer.clear();
                self.id_buffer.push_str(value);
            }
            // WHATWG: retry is honoured only if it is all ASCII digits.
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // All digits, so the only failure is overflow: saturate rather than ignore.
                let millis = value.parse::<u64>().unwrap_or(u64::MAX);
                self.retry = Some(Duration::from_millis(millis));
            }
            _ => {} // unknown fields are ignored
        }
        Ok(())
    }

    fn check_event_size(&self) -> Result<(), SseError> {
        if self.data.len().saturating_add(self.event_type.len()) > self.limits.max_event {
            return Err(SseError::EventTooLarge { limit: self.limits.max_event });
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        self.last_event_id.clone_from(&self.id_buffer);
        if self.data.is_empty() {
            // A block with no data line dispatches nothing, but its id still counts (WHATWG step 1 and 2).
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event =
            if self.event_type.is_empty() { "message".to_owned() } else { std::mem::take(&mut self.event_type) };
        self.event_type.clear();
        out.push(SseEvent { event, data, id: self.last_event_id.clone() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<SseEvent>, Result<(), SseError>) {
        let mut p = SseParser::new(SseLimits::default());
        let mut out = Vec::new();
        let r = p.feed(input, &mut out);
        (out, r)
    }

    fn ev(event: &str, data: &str, id: &str) -> SseEvent {
        SseEvent { event: event.into(), data: data.into(), id: id.into() }
    }

    #[test]
    fn multi_line_data_is_joined_with_lf() {
        let (events, r) = parse_all(b"data: first\ndata:second\ndata:  third\n\n");
        r.unwrap();
        assert_eq!(events, vec![ev("message", "first\nsecond\n third", "")]);
    }

    #[test]
    fn id_event_and_retry_fields() {
        let mut p = SseParser::new(SseLimits::default());
        let mut out = Vec::new();
        p.feed(b"event: custom\nid: 42\nretry: 1500\ndata: {}\n\ndata: next\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev("custom", "{}", "42"), ev("message", "next", "42")]);
        assert_eq!(p.retry(), Some(Duration::from_millis(1500)));
        assert_eq!(p.last_event_id(), "42");
        // An invalid retry is ignored; an id with NUL is ignored.
        p.feed(b"retry: 12a\nid: a\0b\ndata: x\n\n", &mut out).unwrap();
        assert_eq!(p.retry(), Some(Duration::from_millis(1500)));
        assert_eq!(p.last_event_id(), "42");
        // A field without a colon has an empty value: `id` alone resets the id.
        p.feed(b"id\ndata: y\n\n", &mut out).unwrap();
        assert_eq!(p.last_event_id(), "");
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        let (events, r) = parse_all(b": keep-alive\n:\nfoo: bar\ndata: a\n: inside\n\n");
        r.unwrap();
        assert_eq!(events, vec![ev("message", "a", "")]);
    }

    #[test]
    fn priming_event_has_id_and_empty_data() {
        let mut p = SseParser::new(SseLimits::default());
        let mut out = Vec::new();
        p.feed(b"id: prime-1\ndata:\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev("message", "", "prime-1")]);
        // Without any data line nothing is dispatched, but the id is still recorded.
        let mut p = SseParser::new(SseLimits::default());
        let mut out = Vec::new();
        p.feed(b"id: prime-2\n\n", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(p.last_event_id(), "prime-2");
    }

    #[test]
    fn cr_lf_and_crlf_line_endings() {
        for input in [
            &b"id: 1\ndata: a\ndata: b\n\n"[..],
            b"id: 1\rdata: a\rdata: b\r\r",
            b"id: 1\r\ndata: a\r\ndata: b\r\n\r\n",
            b"id: 1\r\ndata: a\rdata: b\n\r\n",
        ] {
            let (events, r) = parse_all(input);
            r.unwrap();
            assert_eq!(events, vec![ev("message", "a\nb", "1")], "{input:?}");
        }
    }

    #[test]
    fn leading_bom_is_stripped_once() {
        let (events, r) = parse_all(b"\xEF\xBB\xBFdata: x\n\n");
        r.unwrap();
        assert_eq!(events, vec![ev("message", "x", "")]);
        // A second BOM is not a BOM: the line becomes the unknown field "\u{feff}data".
        let (events, r) = parse_all(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n");
        r.unwrap();
        assert!(events.is_empty());
    }

    #[test]
    fn oversized_line_is_an_error_and_earlier_events_survive() {
        let mut p = SseParser::new(SseLimits { max_line: 16, max_event: 64 });
        let mut out = Vec::new();
        let err = p.feed(b"data: ok\n\ndata: 0123456789abcdef\n\n", &mut out).unwrap_err();
        assert_eq!(err, SseError::LineTooLong { limit: 16 });
        assert_eq!(out, vec![ev("message", "ok", "")]);
        // The parser stays failed.
        assert_eq!(p.feed(b"\n", &mut out), Err(err));
    }

    #[test]
    fn oversized_event_is_an_error() {
        let mut p = SseParser::new(SseLimits { max_line: 16, max_event: 20 });
        let mut out = Vec::new();
        let err = p.feed(b"data: 0123456789\ndata: 0123456789\n\n", &mut out).unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 20 });
        assert!(out.is_empty());
    }

    #[test]
    fn stream_ending_mid_event_discards_it() {
        let mut p = SseParser::new(SseLimits::default());
        let mut out = Vec::new();
        p.feed(b"id: 1\ndata: done\n\ndata: partial\n", &mut out).unwrap();
        assert_eq!(out, vec![ev("message", "done", "1")]);
        assert!(p.finish(), "the unterminated event is reported");
        // A partial line without a terminator is also incomplete.
        let mut p = SseParser::new(SseLimits::default());
        p.feed(b"data: x", &mut out).unwrap();
        assert!(p.finish());
        let mut p = SseParser::new(SseLimits::default());
        p.feed(b"data: x\n\n", &mut out).unwrap();
        assert!(!p.finish());
    }

    #[test]
    fn reset_stream_keeps_last_id_and_retry() {
        let mut p = SseParser::new(SseLimits::default());
        let mut out = Vec::new();
        p.feed(b"retry: 10\nid: 5\ndata:\n\ndata: half", &mut out).unwrap();
        p.reset_stream();
        assert_eq!(p.last_event_id(), "5");
        assert_eq!(p.retry(), Some(Duration::from_millis(10)));
        out.clear();
        p.feed(b"\xEF\xBB\xBFid: 6\ndata: new\n\n", &mut out).unwrap();
        assert_eq!(out, vec![ev("message", "new", "6")]);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let (events, r) = parse_all(b"data: a\xFFb\n\n");
        r.unwrap();
        assert_eq!(events, vec![ev("message", "a\u{FFFD}b", "")]);
    }

    /// Everything a parse produced: events, then the error or the end state.
    fn run_chunks(chunks: &[&[u8]]) -> (Vec<SseEvent>, Option<SseError>, String, Option<Duration>, bool) {
        let mut p = SseParser::new(SseLimits { max_line: 64, max_event: 128 });
        let mut out = Vec::new();
        let mut err = None;
        for chunk in chunks {
            if let Err(e) = p.feed(chunk, &mut out) {
                err = Some(e);
                break;
            }
        }
        let incomplete = p.finish();
        (out, err, p.last_event_id().to_owned(), p.retry(), incomplete)
    }

    const MIXED: &[u8] = "\u{FEFF}: hello\r\nretry: 250\r\nid: p1\r\ndata:\r\n\r\n\
        event: message\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"t\":\"h\u{e9}\u{1F600}\"}}\n\n\
        data: line one\rdata: line two \u{2603}\r\r\
        id: 3\r\ndata: caf\u{e9}\r\ndata:\r\n\r\n\
        data: tail-without-end\r"
        .as_bytes();

    #[test]
    fn identical_results_at_every_split_point() {
        let whole = run_chunks(&[MIXED]);
        assert_eq!(whole.0.len(), 4, "{:?}", whole.0);
        assert_eq!(whole.0[1].data, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"t\":\"h\u{e9}\u{1F600}\"}}");
        assert_eq!(whole.0[2].data, "line one\nline two \u{2603}");
        assert_eq!(whole.0[3], ev("message", "caf\u{e9}\n", "3"));
        assert_eq!(whole.2, "3");
        assert_eq!(whole.3, Some(Duration::from_millis(250)));
        assert!(whole.4, "the last event is unterminated");
        assert!(whole.1.is_none());

        for i in 0..=MIXED.len() {
            let (a, b) = MIXED.split_at(i);
            assert_eq!(run_chunks(&[a, b]), whole, "split at {i}");
        }
        for i in 0..=MIXED.len() {
            for j in i..=MIXED.len() {
                let (a, rest) = MIXED.split_at(i);
                let (b, c) = rest.split_at(j - i);
                assert_eq!(run_chunks(&[a, b, c]), whole, "split at {i} and {j}");
            }
        }
        let bytes: Vec<&[u8]> = MIXED.chunks(1).collect();
        assert_eq!(run_chunks(&bytes), whole, "byte by byte");
    }

    #[test]
    fn errors_are_identical_at_every_split_point() {
        let input: &[u8] =
            b"data: fine\r\n\r\ndata: 01234567890123456789012345678901234567890123456789012345678901234567890\n\n";
        let whole = run_chunks(&[input]);
        assert_eq!(whole.0, vec![ev("message", "fine", "")]);
        assert_eq!(whole.1, Some(SseError::LineTooLong { limit: 64 }));
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run_chunks(&[a, b]), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run_chunks(&bytes), whole, "byte by byte");
    }
}
