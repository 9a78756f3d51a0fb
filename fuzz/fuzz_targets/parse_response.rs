//! The core's answer parsing on arbitrary status codes and bodies: it must
//! never panic, and a task it accepts must survive a save body round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xpander_sdk::sans_io::{answer, parse_task, parse_task_list};

fuzz_target!(|data: &[u8]| {
    let (status, retry_after, body) = match data {
        [a, b, c, rest @ ..] => {
            let status = 100 + (u16::from_le_bytes([*a, *b]) % 500);
            let retry_after = (c % 4 == 0).then(|| String::from_utf8_lossy(&rest[..rest.len().min(8)]).into_owned());
            (status, retry_after, rest)
        }
        _ => (200, None, data),
    };
    let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    let response = || answer(status, retry_after.as_deref(), body.to_vec());
    if let Ok(task) = parse_task(response()) {
        // What the server sent must come back whole from a save body.
        let sent = task.save_body(true).expect("a parsed task serializes");
        let again: xpander_sdk::Task =
            serde_json::from_value(sent).expect("a save body parses back");
        assert_eq!(again, task);
    }
    match parse_task_list(response()) {
        Err(e) => {
            // Every error formats without panicking.
            let _ = (format!("{e}"), format!("{e:?}"), e.status(), e.class());
        }
        Ok(items) => {
            let _ = format!("{items:?}");
        }
    }
    // Timestamps on their own.
    if let Ok(text) = std::str::from_utf8(body) {
        if let Ok(ts) = text.parse::<xpander_sdk::Timestamp>() {
            assert_eq!(ts.as_str(), Some(text), "kept as sent");
            let _ = (ts.to_jiff(), ts.to_system_time(), ts.civil(), ts.offset());
        }
    }
});
