//! The decoder against the WHATWG examples, every line-end style, the limits,
//! and the linear-time promise (counted, not timed).

use std::time::Duration;

use super::{SseDecoder, SseError, SseEvent, SseLimits};

type Item = Result<SseEvent, SseError>;

/// Feeds the chunks in order, draining after each, then finishes.
fn decode_with(limits: SseLimits, chunks: &[&[u8]]) -> Vec<Item> {
    let mut decoder = SseDecoder::with_limits(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        out.extend(std::iter::from_fn(|| decoder.next_event()));
    }
    decoder.finish();
    out.extend(std::iter::from_fn(|| decoder.next_event()));
    out
}

fn decode(chunks: &[&[u8]]) -> Vec<Item> {
    decode_with(SseLimits::DEFAULT, chunks)
}

/// (type, data) of each event; panics on an error.
fn pairs(items: &[Item]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|item| {
            let event = item.as_ref().unwrap();
            (event.event().to_owned(), event.data().to_owned())
        })
        .collect()
}

fn datas(items: &[Item]) -> Vec<String> {
    pairs(items).into_iter().map(|(_, data)| data).collect()
}

fn one_byte_at_a_time(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.chunks(1).collect()
}

// --- The examples of the WHATWG page -------------------------------------

#[test]
fn stock_example_joins_data_lines() {
    let items = decode(&[b"data: YHOO\ndata: +2\ndata: 10\n\n"]);
    assert_eq!(
        pairs(&items),
        [("message".to_owned(), "YHOO\n+2\n10".to_owned())]
    );
}

#[test]
fn comment_id_and_leading_space_example() {
    let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
    let items = decode(&[stream]);
    let got: Vec<(String, Option<String>)> = items
        .iter()
        .map(|i| {
            let e = i.as_ref().unwrap();
            (e.data().to_owned(), e.id().map(str::to_owned))
        })
        .collect();
    assert_eq!(
        got,
        [
            ("first event".to_owned(), Some("1".to_owned())),
            // `id` alone resets the last event ID to the empty string.
            ("second event".to_owned(), None),
            // Only one space after the colon goes.
            (" third event".to_owned(), None),
        ]
    );
    // Without its blank line the third event never dispatches.
    let cut = &stream[..stream.len() - 1];
    assert_eq!(datas(&decode(&[cut])), ["first event", "second event"]);
}

#[test]
fn empty_data_example() {
    // "data" alone is a field with an empty value; the last block has no
    // blank line and is discarded at the end of the stream.
    let items = decode(&[b"data\n\ndata\ndata\n\ndata:"]);
    assert_eq!(datas(&items), ["", "\n"]);
}

#[test]
fn space_after_colon_is_optional_example() {
    let items = decode(&[b"data:test\n\ndata: test\n\n"]);
    assert_eq!(datas(&items), ["test", "test"]);
}

#[test]
fn event_types_example() {
    let items = decode(&[
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
    ]);
    let types: Vec<String> = pairs(&items).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["add", "remove", "add"]);
    assert_eq!(datas(&items), ["73857293", "2153", "113411"]);
}

#[test]
fn unknown_fields_and_blocks_without_data() {
    // "test" is a field with an unknown name; a block with no data
    // dispatches nothing and resets the event type.
    let items = decode(&[b"test\n\nevent: x\n\ndata\n\nTest: 1\nData: 2\n:data: 3\n\n"]);
    assert_eq!(pairs(&items), [("message".to_owned(), String::new())]);
}

// --- Byte order mark -------------------------------------------------------

#[test]
fn a_leading_bom_is_dropped_once() {
    assert_eq!(datas(&decode(&[b"\xEF\xBB\xBFdata: x\n\n"])), ["x"]);
    // Split over three chunks.
    assert_eq!(
        datas(&decode(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"])),
        ["x"]
    );
    // A second BOM is part of the field name: an unknown field.
    assert_eq!(
        datas(&decode(&[
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n"
        ])),
        ["y"]
    );
    // Not at the start of the stream: part of the line.
    assert_eq!(
        datas(&decode(&[b"data: x\n\n", b"\xEF\xBB\xBFdata: y\n\n"])),
        ["x"]
    );
    // Half a BOM: invalid UTF-8 in the first field name.
    assert_eq!(datas(&decode(&[b"\xEF\xBBdata: x\n\ndata: y\n\n"])), ["y"]);
    // A stream that is only part of a BOM.
    assert!(decode(&[b"\xEF\xBB"]).is_empty());
}

// --- Line ends -------------------------------------------------------------

const LINES: [&str; 6] = ["id: 5", "event: e", "data: a", "data: b", ":c", ""];

fn joined(ends: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for (i, line) in LINES.iter().chain(["data: z", ""].iter()).enumerate() {
        out.push_str(line);
        out.push_str(ends[i % ends.len()]);
    }
    out.into_bytes()
}

#[test]
fn every_line_end_style_gives_the_same_events() {
    let expected = decode(&[&joined(&["\n"])]);
    assert_eq!(
        pairs(&expected),
        [
            ("e".to_owned(), "a\nb".to_owned()),
            ("message".to_owned(), "z".to_owned())
        ]
    );
    for ends in [
        &["\r"][..],
        &["\r\n"],
        &["\r\n", "\n", "\r"],
        &["\r", "\r\n"],
        &["\n", "\r"],
    ] {
        let bytes = joined(ends);
        assert_eq!(decode(&[&bytes]), expected, "{ends:?}");
        assert_eq!(decode(&one_byte_at_a_time(&bytes)), expected, "{ends:?}");
    }
}

#[test]
fn a_crlf_split_across_chunks_is_one_line_end() {
    // Were the LF a line end of its own, it would be a blank line that
    // dispatches "a" alone.
    let items = decode(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
    assert_eq!(datas(&items), ["a\nb"]);
}

#[test]
fn a_cr_ends_its_line_at_once() {
    // No need to wait for the next byte: the event is out before the end.
    let mut decoder = SseDecoder::new();
    decoder.feed(b"data: a\r\r");
    assert_eq!(decoder.next_event().unwrap().unwrap().data(), "a");
    // The LF that follows is part of the second CR's line end.
    decoder.feed(b"\ndata: b\n\n");
    assert_eq!(decoder.next_event().unwrap().unwrap().data(), "b");
    assert!(decoder.next_event().is_none());
}

// --- Fields ----------------------------------------------------------------

#[test]
fn the_last_event_id_persists_and_is_committed_by_blank_lines() {
    let mut decoder = SseDecoder::new();
    decoder.feed(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\n\n");
    let ids: Vec<Option<String>> = std::iter::from_fn(|| decoder.next_event())
        .map(|e| e.unwrap().id().map(str::to_owned))
        .collect();
    assert_eq!(ids, [Some("1".to_owned()), Some("1".to_owned())]);
    // A block without data still sets the last event ID.
    assert_eq!(decoder.last_event_id(), Some("2"));

    // An id with NUL is ignored; the event still has the previous one.
    decoder.feed(b"id: 3\0\ndata: c\n\n");
    assert_eq!(decoder.next_event().unwrap().unwrap().id(), Some("2"));
    // An id in an unfinished block is not committed yet...
    decoder.feed(b"id: 4\ndata: d\n");
    assert!(decoder.next_event().is_none());
    assert_eq!(decoder.last_event_id(), Some("2"));
    // ... nor when the stream ends there.
    decoder.finish();
    assert!(decoder.next_event().is_none());
    assert_eq!(decoder.last_event_id(), Some("2"));
}

#[test]
fn retry_sets_the_reconnection_time() {
    let mut decoder = SseDecoder::new();
    decoder.feed(b"retry: 1500\n\n");
    assert!(decoder.next_event().is_none());
    assert_eq!(decoder.retry(), Some(Duration::from_millis(1500)));

    decoder.feed(b"retry: 20\ndata: a\n\ndata: b\n\n");
    let a = decoder.next_event().unwrap().unwrap();
    let b = decoder.next_event().unwrap().unwrap();
    assert_eq!(a.retry(), Some(Duration::from_millis(20)));
    // Only the event that carried it.
    assert_eq!(b.retry(), None);
    assert_eq!(decoder.retry(), Some(Duration::from_millis(20)));

    // Not digits only: ignored.
    for bad in [
        &b"retry: 15x\n\n"[..],
        b"retry:  5\n\n",
        b"retry: -5\n\n",
        b"retry:\n\n",
        b"retry\n\n",
        b"retry: 1.5\n\n",
    ] {
        decoder.feed(bad);
        assert!(decoder.next_event().is_none());
        assert_eq!(decoder.retry(), Some(Duration::from_millis(20)), "{bad:?}");
    }
    decoder.feed(b"retry:7\n\nretry: 99999999999999999999999999\n\n");
    assert!(decoder.next_event().is_none());
    assert_eq!(decoder.retry(), Some(Duration::from_millis(u64::MAX)));
}

#[test]
fn field_parsing() {
    let items = decode(&[
        b"event:\ndata:no space\n\nevent: t\nevent\ndata:  two\n\nevent: a:b\ndata: x: y\n\n",
    ]);
    assert_eq!(
        pairs(&items),
        [
            ("message".to_owned(), "no space".to_owned()),
            // `event` alone sets the empty type: "message".
            ("message".to_owned(), " two".to_owned()),
            ("a:b".to_owned(), "x: y".to_owned()),
        ]
    );
}

#[test]
fn invalid_utf8_is_replaced_and_split_characters_are_joined() {
    let items = decode(&[b"event: \xFF\ndata: a\xC3\n\ndata: \xC3", b"\xA9\n\n"]);
    assert_eq!(
        pairs(&items),
        [
            ("\u{FFFD}".to_owned(), "a\u{FFFD}".to_owned()),
            ("message".to_owned(), "\u{E9}".to_owned())
        ]
    );
}

#[test]
fn end_of_stream_discards_the_unfinished_event() {
    assert!(decode(&[b"data: x\n"]).is_empty());
    assert!(decode(&[b"data: x"]).is_empty());
    // Complete events still come out after finish.
    let mut decoder = SseDecoder::new();
    decoder.feed(b"data: x\n\ndata: y\n");
    decoder.finish();
    assert_eq!(decoder.next_event().unwrap().unwrap().data(), "x");
    assert!(decoder.next_event().is_none());
    assert_eq!(decoder.buffered_bytes(), 0);
    // Bytes after the end are ignored.
    decoder.feed(b"\ndata: z\n\n");
    assert!(decoder.next_event().is_none());
}

#[test]
fn debug_shows_no_data() {
    let items = decode(&[b"data: {\"access_token\":\"tok-secret\"}\n\n"]);
    let event = items[0].as_ref().unwrap();
    let shown = format!("{event:?}");
    assert!(!shown.contains("tok-secret"), "{shown}");
    assert!(shown.contains("29 bytes"), "{shown}");
    let mut decoder = SseDecoder::new();
    decoder.feed(b"data: tok-secret\n");
    assert!(decoder.next_event().is_none());
    assert!(!format!("{decoder:?}").contains("tok-secret"));
}

// --- Limits ----------------------------------------------------------------

const SMALL: SseLimits = SseLimits {
    max_line_bytes: 16,
    max_event_bytes: 20,
};

#[test]
fn an_overlong_line_drops_its_event_and_decoding_goes_on() {
    let long = format!("data: {}\n", "x".repeat(100));
    let stream = format!("data: short\n\ndata: a\n{long}data: b\n{long}\ndata: next\n\n");
    let expected = vec![
        Ok(("message".to_owned(), "short".to_owned())),
        // Once per event, though it has two long lines.
        Err(SseError::LineTooLong { limit: 16 }),
        Ok(("message".to_owned(), "next".to_owned())),
    ];
    let as_pairs = |items: Vec<Item>| -> Vec<Result<(String, String), SseError>> {
        items
            .into_iter()
            .map(|i| i.map(|e| (e.event().to_owned(), e.data().to_owned())))
            .collect()
    };
    assert_eq!(as_pairs(decode_with(SMALL, &[stream.as_bytes()])), expected);
    // Seen as a partial line first: the same.
    let bytes = stream.as_bytes();
    assert_eq!(
        as_pairs(decode_with(SMALL, &one_byte_at_a_time(bytes))),
        expected
    );
    // A line of exactly the limit is fine.
    let exact = decode_with(SMALL, &[b"data: 0123456789\n\n"]);
    assert_eq!(datas(&exact), ["0123456789"]);
    // An overlong comment counts too (and drops the lines of its block
    // after it), with a CRLF split after it.
    let comment = format!(":{}\r", "c".repeat(50));
    let items = decode_with(
        SMALL,
        &[comment.as_bytes(), b"\ndata: lost\r\n\r\ndata: n\r\n\r\n"],
    );
    assert_eq!(items[0], Err(SseError::LineTooLong { limit: 16 }));
    assert_eq!(datas(&items[1..]), ["n"]);
}

#[test]
fn an_oversized_event_is_dropped_up_to_its_blank_line() {
    // 10 + LF + 9 = 20 bytes of data: at the limit.
    let at_limit = decode_with(SMALL, &[b"data: 0123456789\ndata: 012345678\n\n"]);
    assert_eq!(datas(&at_limit), ["0123456789\n012345678"]);

    let stream = b"data: 0123456789\ndata: 0123456789\ndata: 0123456789\nid: 9\n\ndata: next\n\n";
    for items in [
        decode_with(SMALL, &[stream]),
        decode_with(SMALL, &one_byte_at_a_time(stream)),
    ] {
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], Err(SseError::EventTooLarge { limit: 20 }));
        let next = items[1].as_ref().unwrap();
        assert_eq!(next.data(), "next");
        // The dropped event's lines after the overflow are ignored.
        assert_eq!(next.id(), None);
    }
}

#[test]
fn errors_say_which_limit() {
    assert_eq!(
        SseError::LineTooLong { limit: 16 }.to_string(),
        "event stream: a line longer than the limit of 16 bytes; the line and its event were dropped"
    );
    assert_eq!(
        SseError::EventTooLarge { limit: 20 }.to_string(),
        "event stream: an event with more than the limit of 20 bytes of data; the event was dropped"
    );
}

#[test]
fn an_endless_line_stays_bounded() {
    let limits = SseLimits {
        max_line_bytes: 1024,
        max_event_bytes: 4096,
    };
    let mut decoder = SseDecoder::with_limits(limits);
    let chunk = vec![b'x'; 700];
    let mut errors = 0;
    for _ in 0..10_000 {
        decoder.feed(&chunk);
        while let Some(item) = decoder.next_event() {
            assert_eq!(item, Err(SseError::LineTooLong { limit: 1024 }));
            errors += 1;
        }
        assert!(decoder.buffered_bytes() <= limits.max_line_bytes);
        assert!(
            decoder.buf.capacity() <= 4 * 1024,
            "{}",
            decoder.buf.capacity()
        );
    }
    assert_eq!(errors, 1);
    decoder.feed(b"\n\ndata: after\n\n");
    assert_eq!(decoder.next_event().unwrap().unwrap().data(), "after");
}

#[test]
fn an_endless_stream_of_events_stays_bounded() {
    let mut decoder = SseDecoder::new();
    let event = format!("data: {}\n\n: keep-alive\n\n", "y".repeat(1000));
    // Chunks that cut events anywhere.
    let stream = event.repeat(50);
    let mut count = 0;
    for _ in 0..100 {
        for chunk in stream.as_bytes().chunks(1500) {
            decoder.feed(chunk);
            while let Some(item) = decoder.next_event() {
                assert_eq!(item.unwrap().data().len(), 1000);
                count += 1;
            }
            assert!(decoder.buffered_bytes() < 1500);
            assert!(
                decoder.buf.capacity() <= 2 * 1500 + 1024,
                "{}",
                decoder.buf.capacity()
            );
        }
    }
    assert_eq!(count, 5000);
}

#[test]
fn memory_is_given_back_after_a_large_line() {
    let mut decoder = SseDecoder::new();
    let big = format!("data: {}\n\n", "z".repeat(2 << 20));
    decoder.feed(big.as_bytes());
    assert_eq!(decoder.next_event().unwrap().unwrap().data().len(), 2 << 20);
    decoder.feed(b"data: small\n\n");
    assert!(decoder.buf.capacity() <= super::KEEP_CAPACITY);
    assert_eq!(decoder.next_event().unwrap().unwrap().data(), "small");
}

#[test]
fn zero_limits_reject_without_panicking() {
    let zero = SseLimits {
        max_line_bytes: 0,
        max_event_bytes: 0,
    };
    let items = decode_with(zero, &[b"\xEF\xBB\xBFdata: x\n\n\n\ndata\n\n"]);
    assert_eq!(
        items,
        [
            Err(SseError::LineTooLong { limit: 0 }),
            Err(SseError::LineTooLong { limit: 0 })
        ]
    );
}

// --- Linear time -----------------------------------------------------------

/// Feeds `bytes` one byte at a time and answers the decoder's work count.
fn work_one_byte_at_a_time(limits: SseLimits, bytes: &[u8]) -> (u64, Vec<usize>) {
    let mut decoder = SseDecoder::with_limits(limits);
    let mut sizes = Vec::new();
    for byte in bytes.chunks(1) {
        decoder.feed(byte);
        while let Some(item) = decoder.next_event() {
            sizes.push(item.unwrap().data().len());
        }
    }
    (decoder.work, sizes)
}

#[test]
fn a_4_mib_event_fed_one_byte_at_a_time_is_decoded_in_linear_work() {
    let size = 4 << 20;
    let limits = SseLimits {
        max_line_bytes: 8 << 20,
        max_event_bytes: 8 << 20,
    };
    // One line of 4 MiB.
    let one_line = format!("data: {}\n\n", "a".repeat(size));
    let (work, sizes) = work_one_byte_at_a_time(limits, one_line.as_bytes());
    assert_eq!(sizes, [size]);
    assert!(work <= 2 * one_line.len() as u64, "{work}");
    // 64 lines of 64 KiB.
    let line = format!("data: {}\n", "b".repeat((64 << 10) - 1));
    let many = format!("{}\n", line.repeat(64));
    let (work, sizes) = work_one_byte_at_a_time(limits, many.as_bytes());
    assert_eq!(sizes, [size - 1]);
    assert!(work <= 2 * many.len() as u64, "{work}");
}

#[test]
fn the_end_discards_an_id_of_the_unfinished_event() {
    // Found by the fuzz target: an `id` line of the event cut off by the end
    // stayed in the decoder after finish(), though its event was discarded.
    // After the end only the last event ID (as of the last blank line) is
    // held.
    for (input, last) in [
        (&b"id:x\n\n"[..], Some("x")),
        (b"id:x\n", None),
        (b"id:x\n\nid:yy\ndata:z\n", Some("x")),
        (b"'\xc1\n:\nid:+\n:\0\n\0\x02", None),
    ] {
        let mut decoder = SseDecoder::new();
        decoder.feed(input);
        while decoder.next_event().is_some() {}
        decoder.finish();
        while decoder.next_event().is_some() {}
        assert_eq!(decoder.last_event_id(), last, "{input:?}");
        assert_eq!(
            decoder.buffered_bytes(),
            last.map_or(0, str::len),
            "{input:?}"
        );
    }
}
