//! Property: any id string is either refused before a request, or reaches
//! the server as exactly one path segment that decodes back to itself.

mod common;

use proptest::prelude::*;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::{Error, RetryPolicy, Tasks};

fn decode(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Ids made of the characters that break naive clients, and any text.
fn ids() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![
                Just("/".to_string()),
                Just(".".to_string()),
                Just("..".to_string()),
                Just("%".to_string()),
                Just("%2F".to_string()),
                Just("?".to_string()),
                Just("#".to_string()),
                Just(" ".to_string()),
                Just("+".to_string()),
                Just("\\".to_string()),
                Just("\r\n".to_string()),
                Just("é".to_string()),
                "[a-z0-9_-]{1,4}",
            ],
            0..8
        )
        .prop_map(|parts| parts.concat()),
        any::<String>(),
    ]
}

/// Checks one outcome: refused ids are exactly "", "." and ".."; any other
/// reached the emulator as one segment decoding to itself.
fn check(id: &str, result: Result<xpander_sdk::Task, Error>, emulator: &Emulator) {
    let requests = emulator.requests();
    emulator.clear_requests();
    match result {
        Err(Error::InvalidArgument { name, .. }) => {
            assert_eq!(name, "task_id");
            assert!(["", ".", ".."].contains(&id), "{id:?} refused");
            assert!(requests.is_empty(), "{id:?} refused yet sent");
        }
        Err(e) if e.is_not_found() => {
            assert_eq!(requests.len(), 1, "{id:?}");
            let path = &requests[0].path;
            let segment = path
                .strip_prefix("/agent-execution/")
                .and_then(|rest| rest.strip_suffix("/status"))
                .unwrap_or_else(|| panic!("{id:?} became {path:?}"));
            assert!(
                !segment.contains(['/', '?', '#']) && segment != "." && segment != "..",
                "{id:?} became {path:?}"
            );
            assert_eq!(decode(segment).as_deref(), Some(id), "{path:?}");
        }
        other => panic!("{id:?}: {other:?}"),
    }
}

fn setup() -> (Emulator, Tasks) {
    let emulator = Emulator::start().unwrap();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    (emulator, tasks)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn blocking_ids_are_one_segment_or_refused(id in ids()) {
        thread_local!(static SETUP: (Emulator, Tasks) = setup());
        SETUP.with(|(emulator, tasks)| check(&id, tasks.get(&id), emulator));
    }

    #[test]
    fn async_ids_are_one_segment_or_refused(id in ids()) {
        thread_local!(static SETUP: (Emulator, Tasks, tokio::runtime::Runtime) = {
            let (e, t) = setup();
            (e, t, tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap())
        });
        SETUP.with(|(emulator, tasks, runtime)| {
            let result = runtime.block_on(tasks.aget(&id));
            check(&id, result, emulator)
        });
    }
}

#[test]
fn the_three_refused_ids() {
    let (emulator, tasks) = setup();
    for id in ["", ".", ".."] {
        check(id, tasks.get(id), &emulator);
    }
    for id in ["...", "./", "a/..", "%2e%2e"] {
        check(id, tasks.get(id), &emulator);
    }
}
