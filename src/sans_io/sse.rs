//! Server-sent events: the bytes of a `text/event-stream` body into events,
//! without I/O.
//!
//! [`SseDecoder`] follows the WHATWG HTML rules for interpreting an event
//! stream: the body is UTF-8 (invalid bytes become U+FFFD, as the spec's
//! decoder does); one leading byte order mark is dropped; lines end with CRLF,
//! LF or CR (a CR that ends one chunk and the LF that starts the next are one
//! line end); a line starting with `:` is a comment; `field:value` loses one
//! space after the colon; a line without a colon is a field with an empty
//! value; `data` lines are joined with LF; `event` names the event type
//! (`message` when unset); `id` sets the last event ID, which stays until
//! another `id` changes it (a value holding NUL is ignored); `retry` with
//! ASCII digits only sets the reconnection time; other fields are ignored; a
//! blank line dispatches the event if it has data. An event the stream
//! leaves unfinished at its end is discarded.
//!
//! The transports only move bytes: each hands every chunk it reads to
//! [`SseDecoder::feed`] and takes the events out with
//! [`SseDecoder::next_event`] before reading the next chunk, so an event is
//! handed on as soon as its last byte arrived, and the decoder holds at most
//! one partial line and one event (both bounded by [`SseLimits`]) besides the
//! chunk being decoded.
//!
//! ```
//! use xpander_sdk::sans_io::sse::SseDecoder;
//!
//! let mut decoder = SseDecoder::new();
//! // The CRLF after the data line is split across the two chunks, and so is
//! // the event: its blank line comes with the second chunk.
//! decoder.feed(b"event: update\r\ndata: {\"type\":\"chunk\"}\r");
//! assert!(decoder.next_event().is_none());
//! decoder.feed(b"\n\r\nid: 7\ndata: second\n\n");
//!
//! let first = decoder.next_event().unwrap()?;
//! assert_eq!((first.event(), first.data()), ("update", r#"{"type":"chunk"}"#));
//! let second = decoder.next_event().unwrap()?;
//! assert_eq!((second.event(), second.data(), second.id()), ("message", "second", Some("7")));
//! assert!(decoder.next_event().is_none());
//!
//! decoder.finish();
//! assert!(decoder.next_event().is_none());
//! # Ok::<(), xpander_sdk::sans_io::sse::SseError>(())
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::borrow::Cow;
use std::fmt;
use std::mem;
use std::sync::Arc;
use std::time::Duration;

use memchr::{memchr, memchr2};

/// How much an [`SseDecoder`] keeps at most.
///
/// The defaults are 4 MiB per line and 8 MiB per event. The task event
/// stream sends each event as one JSON object on one `data:` line, and a
/// whole task is typically 1–50 KB, so a line of 4 MiB leaves room for tasks
/// far larger than seen while a broken or hostile server still cannot make
/// the client hold more than a few of these limits; the event limit is
/// larger so that a stream which splits its data into several lines gets the
/// same room per line.
///
/// ```
/// use xpander_sdk::sans_io::sse::{SseDecoder, SseLimits};
///
/// let decoder = SseDecoder::with_limits(SseLimits {
///     max_line_bytes: 64 * 1024,
///     max_event_bytes: 256 * 1024,
/// });
/// # let _ = decoder;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseLimits {
    /// The longest line kept, in bytes, its line end not counted. A longer
    /// line is reported as [`SseError::LineTooLong`] and dropped with the
    /// event it belongs to.
    pub max_line_bytes: usize,
    /// The most data one event may carry, in bytes as received: its `data`
    /// values joined by LF (what [`SseEvent::data`] returns, before invalid
    /// UTF-8 is replaced). A larger event is reported as
    /// [`SseError::EventTooLarge`] and dropped.
    pub max_event_bytes: usize,
}

impl SseLimits {
    /// 4 MiB per line, 8 MiB per event.
    pub const DEFAULT: SseLimits = SseLimits {
        max_line_bytes: 4 << 20,
        max_event_bytes: 8 << 20,
    };
}

impl Default for SseLimits {
    fn default() -> SseLimits {
        SseLimits::DEFAULT
    }
}

/// One dispatched event.
///
/// Its `Debug` output shows the size of the data, not the data: events of
/// the task stream can carry tokens (`auth_event`).
#[derive(Clone, PartialEq, Eq)]
pub struct SseEvent {
    event: Cow<'static, str>,
    data: String,
    id: Option<Arc<str>>,
    retry: Option<Duration>,
}

impl SseEvent {
    /// The event type: the last `event` field of the event, `message` when
    /// it had none (or an empty one).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The data: the values of the event's `data` fields joined by LF.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The data, without copying it.
    pub fn into_data(self) -> String {
        self.data
    }

    /// The last event ID when the event was dispatched: the value of the
    /// latest `id` field of the stream so far, in this event or an earlier
    /// one. `None` when no `id` was seen, or the latest one was empty.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The reconnection time, if this event itself carried a valid `retry`
    /// field ([`SseDecoder::retry`] keeps the latest one of the stream).
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }
}

impl fmt::Debug for SseEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseEvent")
            .field("event", &self.event)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .field("id", &self.id)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Why an event was dropped. Decoding goes on after it, with the event after
/// the dropped one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line was longer than [`SseLimits::max_line_bytes`]. The line and the
    /// event it belongs to are dropped (a partial event could lose a `data`
    /// line silently).
    #[error(
        "event stream: a line longer than the limit of {limit} bytes; the line and its event were dropped"
    )]
    LineTooLong {
        /// The limit crossed, in bytes.
        limit: usize,
    },
    /// An event's data grew larger than [`SseLimits::max_event_bytes`]. The
    /// event is dropped, up to the blank line that ends it.
    #[error(
        "event stream: an event with more than the limit of {limit} bytes of data; the event was dropped"
    )]
    EventTooLarge {
        /// The limit crossed, in bytes.
        limit: usize,
    },
}

/// Decodes a `text/event-stream` body fed in chunks of any size.
///
/// Feed each chunk with [`feed`](Self::feed), then call
/// [`next_event`](Self::next_event) until it answers `None` before feeding
/// the next one; call [`finish`](Self::finish) at the end of the body (then
/// drain [`next_event`](Self::next_event) once more). However the bytes are
/// split into chunks, the same events and errors come out.
///
/// Decoding takes time linear in the bytes fed: each byte is searched for a
/// line end once, whatever the chunk sizes. Memory is one partial line (at
/// most [`SseLimits::max_line_bytes`]) and one event's data (at most
/// [`SseLimits::max_event_bytes`]), plus what was fed and not yet decoded.
///
/// ```
/// use xpander_sdk::sans_io::sse::SseDecoder;
///
/// let mut decoder = SseDecoder::new();
/// let mut events = Vec::new();
/// for chunk in [&b"data: {\"type\":\"chu"[..], b"nk\"}\r", b"\n\r", b"\n: keep-alive\n"] {
///     decoder.feed(chunk);
///     while let Some(event) = decoder.next_event() {
///         events.push(event?.into_data());
///     }
/// }
/// decoder.finish();
/// assert!(decoder.next_event().is_none());
/// assert_eq!(events, [r#"{"type":"chunk"}"#]);
/// # Ok::<(), xpander_sdk::sans_io::sse::SseError>(())
/// ```
pub struct SseDecoder {
    limits: SseLimits,
    /// Bytes fed. `buf[..pos]` is decoded (and awaits compaction);
    /// `buf[pos..]` starts the line being decoded.
    buf: Vec<u8>,
    pos: usize,
    /// `buf[pos..scan]` was searched and holds no line end.
    scan: usize,
    /// Nothing has been decided yet about a leading byte order mark.
    bom_pending: bool,
    /// The last line ended with a CR: an LF right after it is part of that
    /// line end.
    after_cr: bool,
    /// The current line went over the limit: its bytes are dropped up to its
    /// line end.
    skip_line: bool,
    finished: bool,
    block: Block,
    /// Bytes searched for line ends plus bytes moved by compaction.
    #[cfg(test)]
    work: u64,
}

/// The event being built, and what the stream keeps between events.
#[derive(Default)]
struct Block {
    /// `data` values, each followed by an LF.
    data: Vec<u8>,
    /// The `event` field's value.
    event_type: Vec<u8>,
    /// The last event ID buffer (`None` stands for the empty string).
    id: Option<Arc<str>>,
    /// The last event ID string, set from `id` by every blank line.
    last_event_id: Option<Arc<str>>,
    /// A `retry` seen in this event.
    event_retry: Option<Duration>,
    /// The latest `retry` of the stream.
    retry: Option<Duration>,
    /// This event went over a limit: its lines are ignored up to its blank line.
    skip: bool,
}

/// What the buffer keeps of its capacity once drained, past a large line.
const KEEP_CAPACITY: usize = 64 * 1024;

const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

impl SseDecoder {
    /// A decoder at the start of a stream, with the default limits
    /// ([`SseLimits::DEFAULT`]).
    pub fn new() -> SseDecoder {
        SseDecoder::with_limits(SseLimits::DEFAULT)
    }

    /// A decoder at the start of a stream, with these limits.
    pub fn with_limits(limits: SseLimits) -> SseDecoder {
        SseDecoder {
            limits,
            buf: Vec::new(),
            pos: 0,
            scan: 0,
            bom_pending: true,
            after_cr: false,
            skip_line: false,
            finished: false,
            block: Block::default(),
            #[cfg(test)]
            work: 0,
        }
    }

    /// The limits this decoder applies.
    pub fn limits(&self) -> SseLimits {
        self.limits
    }

    /// Hands the decoder the next bytes of the body. Nothing is decoded
    /// until [`next_event`](Self::next_event) is called. Bytes fed after
    /// [`finish`](Self::finish) are ignored.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.finished || chunk.is_empty() {
            return;
        }
        self.compact(chunk.len());
        self.buf.extend_from_slice(chunk);
    }

    /// Says that the body ended. The events already complete are still
    /// returned by [`next_event`](Self::next_event); the unfinished event
    /// and line at the end, if any, are discarded (as the spec says).
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// The next event, or an error that says an event was dropped; `None`
    /// when the bytes fed so far hold no more complete event.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        loop {
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            if self.after_cr {
                let Some(&first) = rest.first() else {
                    return self.out_of_input();
                };
                self.after_cr = false;
                if first == b'\n' {
                    self.pos = self.pos.saturating_add(1);
                }
                continue;
            }
            if self.bom_pending {
                let seen = rest.len().min(BOM.len());
                if rest.iter().zip(BOM).any(|(a, b)| a != b) {
                    self.bom_pending = false;
                } else if seen == BOM.len() {
                    self.bom_pending = false;
                    self.pos = self.pos.saturating_add(BOM.len());
                    continue;
                } else if self.finished {
                    self.bom_pending = false;
                } else {
                    return None;
                }
            }

            let from = self.scan.max(self.pos);
            let unsearched = self.buf.get(from..).unwrap_or_default();
            #[cfg(test)]
            {
                self.work = self.work.saturating_add(unsearched.len() as u64);
            }
            let Some(found) = memchr2(b'\n', b'\r', unsearched) else {
                // No line end yet: the line goes on in the next chunk.
                self.scan = self.buf.len();
                let partial = self.buf.len().saturating_sub(self.pos);
                if self.skip_line {
                    self.pos = self.buf.len();
                } else if partial > self.limits.max_line_bytes {
                    self.pos = self.buf.len();
                    self.skip_line = true;
                    if let Some(error) = self.line_too_long() {
                        return Some(Err(error));
                    }
                }
                return self.out_of_input();
            };
            let end = from.saturating_add(found);
            let start = self.pos;
            self.after_cr = self.buf.get(end) == Some(&b'\r');
            self.pos = end.saturating_add(1);
            self.scan = self.pos;
            if mem::take(&mut self.skip_line) {
                // The end of a line already reported and dropped.
                continue;
            }
            if end.saturating_sub(start) > self.limits.max_line_bytes {
                if let Some(error) = self.line_too_long() {
                    return Some(Err(error));
                }
                continue;
            }
            let line = self.buf.get(start..end).unwrap_or_default();
            if let Some(item) = self.block.line(line, self.limits.max_event_bytes) {
                return Some(item);
            }
        }
    }

    /// The last event ID: the latest `id` of the stream as of the last blank
    /// line, whether or not that line dispatched an event. This is what a
    /// client sends as `Last-Event-ID` when it reconnects. `None` when no
    /// `id` was seen, or the latest one was empty.
    pub fn last_event_id(&self) -> Option<&str> {
        self.block.last_event_id.as_deref()
    }

    /// The latest reconnection time the stream asked for with `retry`, even
    /// in an event without data.
    pub fn retry(&self) -> Option<Duration> {
        self.block.retry
    }

    /// The bytes the decoder holds: those fed and not yet decoded, the
    /// event being built (data, type), and the last event ID buffer (after
    /// [`finish`](Self::finish), only the [`last_event_id`](Self::last_event_id)
    /// is left).
    pub fn buffered_bytes(&self) -> usize {
        let block = &self.block;
        [
            self.buf.len().saturating_sub(self.pos),
            block.data.len(),
            block.event_type.len(),
            block.id.as_deref().map_or(0, str::len),
        ]
        .iter()
        .fold(0, |sum, n| sum.saturating_add(*n))
    }

    /// Reports an overlong line, once per event: the event it belongs to is
    /// dropped up to its blank line.
    fn line_too_long(&mut self) -> Option<SseError> {
        if self.block.skip {
            return None;
        }
        self.block.drop_event();
        Some(SseError::LineTooLong {
            limit: self.limits.max_line_bytes,
        })
    }

    /// All complete lines are decoded: at the end of the body, the partial
    /// line and the unfinished event are discarded.
    fn out_of_input(&mut self) -> Option<Result<SseEvent, SseError>> {
        if self.finished {
            self.pos = self.buf.len();
            self.scan = self.pos;
            self.skip_line = false;
            self.after_cr = false;
            self.bom_pending = false;
            self.block.discard();
            self.compact(0);
        }
        None
    }

    /// Drops the decoded bytes from the buffer when that costs no more than
    /// the bytes decoded since the last time (so compaction stays linear),
    /// and gives memory back after a large line.
    fn compact(&mut self, incoming: usize) {
        if self.pos == 0 {
            return;
        }
        let live = self.buf.len().saturating_sub(self.pos);
        if live == 0 {
            self.buf.clear();
            if self.buf.capacity() > KEEP_CAPACITY.max(incoming) {
                self.buf.shrink_to(KEEP_CAPACITY.max(incoming));
            }
        } else if self.pos >= live {
            #[cfg(test)]
            {
                self.work = self.work.saturating_add(live as u64);
            }
            self.buf.drain(..self.pos);
        } else {
            return;
        }
        self.scan = self.scan.saturating_sub(self.pos);
        self.pos = 0;
    }
}

impl Block {
    /// Interprets one line (without its line end).
    fn line(&mut self, line: &[u8], max_event: usize) -> Option<Result<SseEvent, SseError>> {
        if line.is_empty() {
            return self.dispatch().map(Ok);
        }
        if self.skip {
            return None;
        }
        let (name, value) = match memchr(b':', line) {
            Some(0) => return None, // a comment
            Some(colon) => {
                let (name, rest) = line.split_at(colon);
                let value = rest.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                // The data as it would be dispatched: what is kept (values
                // and the LFs between them) plus this value.
                if self.data.len().saturating_add(value.len()) > max_event {
                    self.drop_event();
                    return Some(Err(SseError::EventTooLarge { limit: max_event }));
                }
                if self.data.is_empty() {
                    self.data.reserve_exact(value.len().saturating_add(1));
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            // An id holding NUL is ignored.
            b"id" if memchr(0, value).is_none() => {
                self.id = (!value.is_empty()).then(|| Arc::from(String::from_utf8_lossy(value)));
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    self.event_retry = Some(Duration::from_millis(ms));
                    self.retry = self.event_retry;
                }
            }
            _ => {}
        }
        None
    }

    /// A blank line: the spec's "dispatch the event".
    fn dispatch(&mut self) -> Option<SseEvent> {
        self.last_event_id.clone_from(&self.id);
        let retry = self.event_retry.take();
        if mem::take(&mut self.skip) || self.data.is_empty() {
            self.data.clear();
            self.event_type.clear();
            return None;
        }
        let mut data = mem::take(&mut self.data);
        data.pop(); // the LF after the last value
        let event = if self.event_type.is_empty() {
            Cow::Borrowed("message")
        } else {
            Cow::Owned(utf8_lossy(mem::take(&mut self.event_type)))
        };
        Some(SseEvent {
            event,
            data: utf8_lossy(data),
            id: self.id.clone(),
            retry,
        })
    }

    /// Drops the event being built; its lines are ignored up to its blank line.
    fn drop_event(&mut self) {
        self.data = Vec::new();
        self.event_type.clear();
        self.skip = true;
    }

    /// The body ended: the unfinished event goes.
    fn discard(&mut self) {
        // An `id` line of the unfinished event goes with it.
        self.id.clone_from(&self.last_event_id);
        self.data = Vec::new();
        self.event_type.clear();
        self.event_retry = None;
        self.skip = false;
    }
}

/// Bytes as text, invalid UTF-8 replaced by U+FFFD (a copy only then).
fn utf8_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// A `retry` value: ASCII digits only, at least one (a value too large for
/// milliseconds in a `u64` saturates).
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |ms, digit| {
        ms.saturating_mul(10)
            .saturating_add(u64::from(digit.saturating_sub(b'0')))
    }))
}

impl Default for SseDecoder {
    fn default() -> SseDecoder {
        SseDecoder::new()
    }
}

impl fmt::Debug for SseDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sizes only: the bytes may hold tokens.
        f.debug_struct("SseDecoder")
            .field("limits", &self.limits)
            .field("buffered_bytes", &self.buffered_bytes())
            .field("last_event_id", &self.block.last_event_id)
            .field("retry", &self.block.retry)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
