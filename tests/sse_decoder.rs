//! Properties of the event-stream decoder: generated streams decode to the
//! events a direct reading of the WHATWG rules gives, however the bytes are
//! split into chunks; and any bytes at all decode the same (errors
//! included) whole, split at any byte, or in random chunks.

use std::time::Duration;

use proptest::prelude::*;
use xpander_sdk::sans_io::sse::{SseDecoder, SseError, SseEvent, SseLimits};

/// What a decoder gave for a whole stream: the items, then the last event ID
/// and reconnection time it ended with.
#[derive(Debug, PartialEq)]
struct Outcome {
    items: Vec<Result<SseEvent, SseError>>,
    last_event_id: Option<String>,
    retry: Option<Duration>,
}

fn decode<'a>(limits: SseLimits, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut decoder = SseDecoder::with_limits(limits);
    let mut items = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        items.extend(std::iter::from_fn(|| decoder.next_event()));
    }
    decoder.finish();
    items.extend(std::iter::from_fn(|| decoder.next_event()));
    Outcome {
        items,
        last_event_id: decoder.last_event_id().map(str::to_owned),
        retry: decoder.retry(),
    }
}

/// Splits `bytes` at the given sizes (cycled; a 0 counts as 1).
fn chunked<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
        i += 1;
    }
    out
}

/// Decodes whole, split at every byte boundary, one byte at a time and in
/// the given chunk sizes, and checks that all agree; answers the outcome.
fn decode_every_way(limits: SseLimits, bytes: &[u8], sizes: &[usize]) -> Outcome {
    let whole = decode(limits, [bytes]);
    for at in 0..=bytes.len() {
        let (a, b) = bytes.split_at(at);
        assert_eq!(decode(limits, [a, b]), whole, "split at {at}");
    }
    assert_eq!(decode(limits, bytes.chunks(1)), whole, "one byte at a time");
    assert_eq!(
        decode(limits, chunked(bytes, sizes)),
        whole,
        "chunks {sizes:?}"
    );
    whole
}

// --- A model of the stream -------------------------------------------------

#[derive(Debug, Clone)]
enum Field {
    Data(String),
    Event(String),
    Id(String),
    Retry(String),
    Comment(String),
    Unknown(String, String),
    /// The field name alone, no colon: an empty value.
    Bare(&'static str),
}

/// An event as (type, data, id, retry).
type Expected = (String, String, Option<String>, Option<Duration>);

/// A line: its field, whether a space follows the colon, its line end.
type Line = (Field, bool, &'static str);

#[derive(Debug, Clone)]
struct Stream {
    bom: bool,
    /// Complete events: their lines, then the blank line's line end.
    blocks: Vec<(Vec<Line>, &'static str)>,
    /// An unfinished event at the end; its last line may lack a line end.
    tail: Vec<Line>,
    tail_open: bool,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\r\n]{0,12}",
        // The characters that matter: spaces, colons, NUL, non-ASCII, a BOM.
        "[ :a\0é\u{FEFF}]{0,6}",
    ]
}

fn ending() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\n"), Just("\r"), Just("\r\n")]
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        4 => text().prop_map(Field::Data),
        1 => text().prop_map(Field::Event),
        1 => text().prop_map(Field::Id),
        1 => prop_oneof!["[0-9]{1,6}", "[0-9 a.-]{0,4}", "[0-9]{21,25}"].prop_map(Field::Retry),
        1 => text().prop_map(Field::Comment),
        1 => ("[a-zA-Z]{1,6}", text())
            .prop_filter("a known name", |(n, _)| !["data", "event", "id", "retry"].contains(&n.as_str()))
            .prop_map(|(n, v)| Field::Unknown(n, v)),
        1 => prop_oneof![Just("data"), Just("event"), Just("id"), Just("retry")].prop_map(Field::Bare),
    ]
}

fn line() -> impl Strategy<Value = Line> {
    (field(), any::<bool>(), ending())
}

fn stream() -> impl Strategy<Value = Stream> {
    (
        any::<bool>(),
        prop::collection::vec((prop::collection::vec(line(), 0..5), ending()), 0..6),
        prop::collection::vec(line(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(bom, blocks, tail, tail_open)| Stream {
            bom,
            blocks,
            tail,
            tail_open,
        })
}

impl Stream {
    fn bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        if self.bom {
            out.push('\u{FEFF}');
        }
        let mut last_end = "";
        let mut push = |out: &mut String, text: &str, end: &'static str| {
            // After a CR, a blank line ended by LF would read as CRLF.
            let end = if last_end == "\r" && text.is_empty() && end == "\n" {
                "\r\n"
            } else {
                end
            };
            out.push_str(text);
            out.push_str(end);
            last_end = end;
        };
        for (lines, blank_end) in &self.blocks {
            for line in lines {
                push(&mut out, &line_text(line), line.2);
            }
            push(&mut out, "", blank_end);
        }
        for (i, line) in self.tail.iter().enumerate() {
            let end = if self.tail_open && i + 1 == self.tail.len() {
                ""
            } else {
                line.2
            };
            push(&mut out, &line_text(line), end);
        }
        out.into_bytes()
    }

    /// The WHATWG rules read straight off the model: the expected events,
    /// last event ID and reconnection time.
    fn expected(&self) -> (Vec<Expected>, Option<String>, Option<Duration>) {
        let mut events = Vec::new();
        let mut id: Option<String> = None;
        let mut stream_retry = None;
        let mut last_event_id = None;
        let blocks = self.blocks.iter().map(|(lines, _)| (lines, true));
        // The tail's unterminated last line is not a line: never read.
        let read = self.tail.len() - usize::from(self.tail_open && !self.tail.is_empty());
        let tail = std::iter::once((&self.tail[..read], false));
        for (lines, complete) in blocks.map(|(l, c)| (&l[..], c)).chain(tail) {
            let mut data: Vec<&str> = Vec::new();
            let mut event_type = "";
            let mut retry = None;
            for (field, _, _) in lines {
                match field {
                    Field::Data(v) => data.push(v),
                    Field::Bare("data") => data.push(""),
                    Field::Event(v) => event_type = v,
                    Field::Bare("event") => event_type = "",
                    Field::Id(v) if !v.contains('\0') => id = (!v.is_empty()).then(|| v.clone()),
                    Field::Bare("id") => id = None,
                    Field::Retry(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                        let ms = v.parse::<u64>().unwrap_or(u64::MAX);
                        retry = Some(Duration::from_millis(ms));
                        stream_retry = retry;
                    }
                    _ => {}
                }
            }
            if !complete {
                // The unfinished event: its retry counts, its id is not
                // committed, nothing is dispatched.
                break;
            }
            last_event_id.clone_from(&id);
            if !data.is_empty() {
                let event_type = if event_type.is_empty() {
                    "message"
                } else {
                    event_type
                };
                events.push((event_type.to_owned(), data.join("\n"), id.clone(), retry));
            }
        }
        (events, last_event_id, stream_retry)
    }
}

fn line_text((field, space, _): &Line) -> String {
    let (name, value) = match field {
        Field::Data(v) => ("data", v.as_str()),
        Field::Event(v) => ("event", v.as_str()),
        Field::Id(v) => ("id", v.as_str()),
        Field::Retry(v) => ("retry", v.as_str()),
        Field::Comment(v) => return format!(":{v}"),
        Field::Unknown(n, v) => (n.as_str(), v.as_str()),
        Field::Bare(n) => return (*n).to_owned(),
    };
    // A value that starts with a space needs the separating space before it.
    let space = if *space || value.starts_with(' ') {
        " "
    } else {
        ""
    };
    format!("{name}:{space}{value}")
}

/// Arbitrary bytes, made mostly of the pieces the decoder cares about.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(vec![
                &b"data"[..], b"event", b"id", b"retry", b":", b": ", b" ", b"\r", b"\n",
                b"\r\n", b"\xEF\xBB\xBF", b"\0", b"\xC3", b"\xA9", b"\xFF", b"7", b"x",
            ])
            .prop_map(<[u8]>::to_vec),
            1 => prop::collection::vec(any::<u8>(), 0..8),
        ],
        0..60,
    )
    .prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_streams_decode_to_the_model_however_split(
        stream in stream(),
        sizes in prop::collection::vec(1usize..40, 1..8),
    ) {
        let bytes = stream.bytes();
        let got = decode_every_way(SseLimits::DEFAULT, &bytes, &sizes);
        let events: Vec<_> = got
            .items
            .into_iter()
            .map(|item| {
                let e = item.unwrap();
                (e.event().to_owned(), e.data().to_owned(), e.id().map(str::to_owned), e.retry())
            })
            .collect();
        let (expected, last_event_id, retry) = stream.expected();
        prop_assert_eq!(events, expected);
        prop_assert_eq!(got.last_event_id, last_event_id);
        prop_assert_eq!(got.retry, retry);
    }

    #[test]
    fn any_bytes_decode_the_same_however_split(
        bytes in soup(),
        max_line_bytes in 0usize..24,
        max_event_bytes in 0usize..48,
        sizes in prop::collection::vec(1usize..16, 1..8),
    ) {
        let limits = SseLimits { max_line_bytes, max_event_bytes };
        decode_every_way(limits, &bytes, &sizes);
        decode_every_way(SseLimits::DEFAULT, &bytes, &sizes);
    }
}
