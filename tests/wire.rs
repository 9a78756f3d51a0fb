//! Every case of the official client's recorded requests, run through both
//! faces of the client against the emulator, and checked against the wire
//! file: method, path, query, headers and JSON body.

mod common;

use common::{assert_wire, client, emulator, run_case_async, run_case_blocking, wire};

#[test]
fn every_wire_case_through_the_blocking_face() {
    for case in wire().keys() {
        let emulator = emulator();
        let tasks = client(&emulator);
        run_case_blocking(&tasks, case).unwrap_or_else(|e| panic!("{case}: {e}"));
        let requests = emulator.requests();
        assert_eq!(requests.len(), 1, "{case}: one request");
        assert_wire(case, &requests[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wire_case_through_the_async_face() {
    for case in wire().keys() {
        let emulator = emulator();
        let tasks = client(&emulator);
        run_case_async(&tasks, case)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let requests = emulator.requests();
        assert_eq!(requests.len(), 1, "{case}: one request");
        assert_wire(case, &requests[0]);
    }
}
