//! The event-stream decoder on arbitrary bytes in fuzzer-chosen chunks: it
//! never panics, gives the same events and errors however the bytes are
//! split, and holds no more than its limits allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xpander_sdk::sans_io::sse::{SseDecoder, SseError, SseEvent, SseLimits};

type Outcome = (
    Vec<Result<SseEvent, SseError>>,
    Option<String>,
    Option<std::time::Duration>,
);

/// What the decoder may hold once drained: a partial line (or up to two
/// bytes of a BOM), an event's data and its LF, an event type, and an id
/// (U+FFFD can take 3 bytes for 1 invalid one).
fn bound(limits: SseLimits) -> usize {
    limits
        .max_line_bytes
        .saturating_mul(5)
        .saturating_add(limits.max_event_bytes)
        .saturating_add(4)
}

fn decode<'a>(limits: SseLimits, chunks: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut decoder = SseDecoder::with_limits(limits);
    let mut items = Vec::new();
    let drain = |decoder: &mut SseDecoder, items: &mut Vec<_>| {
        while let Some(item) = decoder.next_event() {
            match &item {
                Ok(event) => {
                    assert!(event.data().len() <= limits.max_event_bytes.saturating_mul(3));
                    let _ = format!("{event:?}");
                }
                Err(SseError::LineTooLong { limit }) => assert_eq!(*limit, limits.max_line_bytes),
                Err(SseError::EventTooLarge { limit }) => {
                    assert_eq!(*limit, limits.max_event_bytes)
                }
                Err(other) => panic!("unexpected error {other:?}"),
            }
            items.push(item);
        }
        assert!(decoder.buffered_bytes() <= bound(limits), "{decoder:?}");
    };
    for chunk in chunks {
        decoder.feed(chunk);
        drain(&mut decoder, &mut items);
    }
    decoder.finish();
    drain(&mut decoder, &mut items);
    // After the end only the last event ID is held.
    assert_eq!(
        decoder.buffered_bytes(),
        decoder.last_event_id().map_or(0, str::len)
    );
    (
        items,
        decoder.last_event_id().map(str::to_owned),
        decoder.retry(),
    )
}

fuzz_target!(|data: &[u8]| {
    // [limits, event limit, number of chunk sizes, sizes..., stream...]
    let [mode, event, count, rest @ ..] = data else {
        return;
    };
    let limits = if mode & 0x80 != 0 {
        SseLimits::DEFAULT
    } else {
        SseLimits {
            max_line_bytes: usize::from(mode & 0x3f),
            max_event_bytes: usize::from(*event),
        }
    };
    let (sizes, stream) = rest.split_at(usize::from(count % 8).min(rest.len()));

    let whole = decode(limits, std::iter::once(stream));
    let mut left = stream;
    let mut i = 0;
    let chunks = std::iter::from_fn(|| {
        if left.is_empty() {
            return None;
        }
        let size = sizes
            .get(i % sizes.len().max(1))
            .map_or(1, |s| usize::from(*s).max(1));
        i += 1;
        let (head, tail) = left.split_at(size.min(left.len()));
        left = tail;
        Some(head)
    });
    assert_eq!(decode(limits, chunks), whole);
});
