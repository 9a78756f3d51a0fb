//! Dispatch over the agent stream: each task to exactly one connected
//! worker, round-robin; the dispatch window; tasks that wait for a worker;
//! releases and dropped connections sending a task out again; failing
//! saves.

mod common;

use common::agent::*;
use common::sse::End;
use common::*;
use serde_json::{json, Value};
use xpander_emulator::{Emulator, Fault, DEFAULT_DISPATCH_WINDOW};

#[test]
fn a_created_task_goes_to_exactly_one_worker_round_robin() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let mut b = RawWorker::connect(&emu, "agent-1");
    let mut other = RawWorker::connect(&emu, "agent-2");
    let ids: Vec<String> = (0..5)
        .map(|i| create(&emu, "agent-1", &format!("job {i}")))
        .collect();

    // The bare task, as stored, as the event's data.
    let first = a.next_task();
    assert_eq!(first, emu.task(&ids[0]).unwrap());
    assert_eq!(first["status"], "pending");
    assert_eq!(first["input"]["text"], "job 0");
    assert_eq!(a.next_tasks(2), [ids[2].clone(), ids[4].clone()]);
    assert_eq!(b.next_tasks(2), [ids[1].clone(), ids[3].clone()]);
    expect_nothing_else(&emu, "agent-1", &mut [&mut a, &mut b]);
    expect_nothing_else(&emu, "agent-2", &mut [&mut other]);

    for (i, id) in ids.iter().enumerate() {
        let to = if i % 2 == 0 { &a.id } else { &b.id };
        assert_eq!(emu.deliveries(id), [to.as_str()], "{id}");
    }
    assert_eq!(
        worker(&emu, &a.id).delivered,
        [ids[0].clone(), ids[2].clone(), ids[4].clone()]
    );
    let dispatch = call(&emu, "GET", "/__emulator/dispatch", None).json();
    assert_eq!(dispatch["deliveries"][&ids[3]], json!([b.id]));
    assert_eq!(dispatch["queued"], json!({}));
}

#[test]
fn tasks_created_before_any_worker_wait_and_go_out_on_connect() {
    let emu = emu();
    let early = create(&emu, "agent-1", "early");
    let many = emu.create_tasks("agent-1", 3, |i| format!("bulk {i}"));
    assert_eq!(emu.queued("agent-1").len(), 4);
    assert!(emu.deliveries(&early).is_empty());
    let queued = call(&emu, "GET", "/__emulator/dispatch", None).json()["queued"].clone();
    assert_eq!(queued["agent-1"][0], json!(early));

    let mut w = RawWorker::connect(&emu, "agent-1");
    let mut want = vec![early];
    want.extend(many);
    assert_eq!(
        w.next_tasks(4),
        want,
        "in creation order, after the registration"
    );
    assert!(emu.queued("agent-1").is_empty());

    // A task created with `run_locally` is the creating worker's own: never
    // dispatched (the official runtime's local test mode).
    let body = json!({"input": {"text": "mine"}, "run_locally": true, "worker_id": w.id});
    let local = call(&emu, "POST", "/agent-execution/agent-1", Some(body)).json();
    assert!(emu.deliveries(local["id"].as_str().unwrap()).is_empty());
    expect_nothing_else(&emu, "agent-1", &mut [&mut w]);
}

#[test]
fn seeded_tasks_go_out_only_to_an_agent_with_a_worker() {
    let emu = emu();
    seed(
        &emu,
        json!({"id": "quiet", "agent_id": "agent-1", "status": "pending"}),
    );
    let mut w = RawWorker::connect(&emu, "agent-1");
    seed(
        &emu,
        json!({"id": "done", "agent_id": "agent-1", "status": "completed"}),
    );
    seed(
        &emu,
        json!({"id": "live", "agent_id": "agent-1", "status": "pending"}),
    );
    seed(
        &emu,
        json!({"id": "bare", "agent_id": "agent-1", "input": {"text": "x"}}),
    );
    assert_eq!(w.next_tasks(2), ["live", "bare"]);
    expect_nothing_else(&emu, "agent-1", &mut [&mut w]);
    assert!(emu.deliveries("quiet").is_empty() && emu.deliveries("done").is_empty());
}

#[test]
fn a_released_task_goes_out_again() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let mut b = RawWorker::connect(&emu, "agent-1");
    let t = create(&emu, "agent-1", "bounce");
    assert_eq!(a.next_task()["id"], t.as_str());
    // The worker's release: a minimal update back to `pending`.
    let path = format!("/agent-execution/{t}/update");
    let release = json!({"status": "pending", "result": "released by the worker: no free slot"});
    assert_eq!(call(&emu, "PATCH", &path, Some(release)).status, 200);
    let again = b.next_task();
    assert_eq!(again["id"], t.as_str());
    assert_eq!(
        again["result"], "released by the worker: no free slot",
        "as stored now"
    );
    assert_eq!(emu.deliveries(&t), [a.id.clone(), b.id.clone()]);

    // Claimed and finished: no more dispatch, whatever its worker does.
    assert_eq!(set_status(&emu, &t, "executing").status, 200);
    assert_eq!(set_status(&emu, &t, "completed").status, 200);
    drop(b);
    wait_for(&emu, "b disconnected", |e| {
        e.workers().iter().filter(|w| w.connected).count() == 1
    });
    expect_nothing_else(&emu, "agent-1", &mut [&mut a]);

    // Set back to pending by a later change (the handle, as another client).
    emu.update_task(&t, json!({"status": "pending"})).unwrap();
    assert_eq!(a.next_task()["id"], t.as_str());
    assert_eq!(emu.deliveries(&t).len(), 3);
}

#[test]
fn an_unclaimed_task_on_a_dropped_connection_goes_to_another_worker() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let b = RawWorker::connect(&emu, "agent-1");
    let (t1, t2, t3) = (
        create(&emu, "agent-1", "1"),
        create(&emu, "agent-1", "2"),
        create(&emu, "agent-1", "3"),
    );
    assert_eq!(a.next_tasks(2), [t1.clone(), t3.clone()]);
    // a claims t1; b never claims t2; b's connection drops.
    assert_eq!(set_status(&emu, &t1, "executing").status, 200);
    let b_id = b.id.clone();
    drop(b);
    assert_eq!(a.next_task()["id"], t2.as_str(), "t2 came back to a");
    assert_eq!(emu.deliveries(&t2), [b_id.clone(), a.id.clone()]);
    assert!(!worker(&emu, &b_id).connected);

    // a drops with t1 claimed and t2, t3 unclaimed: a reconnecting worker
    // (a new id) gets t2 and t3, not t1.
    let a_id = a.id.clone();
    drop(a);
    let mut again = RawWorker::connect(&emu, "agent-1");
    let mut got = again.next_tasks(2);
    got.sort();
    let mut want = vec![t2.clone(), t3.clone()];
    want.sort();
    assert_eq!(got, want);
    assert_ne!(again.id, a_id);
    assert_eq!(emu.deliveries(&t1), [a_id]);
    expect_nothing_else(&emu, "agent-1", &mut [&mut again]);
}

#[test]
fn a_stream_the_emulator_drops_gives_its_tasks_to_the_reconnecting_worker() {
    let emu = emu();
    let t = create(&emu, "agent-1", "x");
    // The registration and the task, then the connection drops.
    emu.inject(Fault::on("GET", "/org-1/events/agent-1/").drop_after(2));
    let mut first = RawWorker::connect(&emu, "agent-1");
    assert_eq!(first.next_task()["id"], t.as_str());
    let (rest, end) = first.sse.rest();
    assert_eq!((rest.len(), end), (0, End::Dropped));
    let mut second = RawWorker::connect(&emu, "agent-1");
    assert_eq!(second.next_task()["id"], t.as_str());
    assert_eq!(emu.deliveries(&t), [first.id, second.id]);

    // The emulator closes the agent's streams normally: the same again.
    assert_eq!(emu.close_agent_streams("agent-1"), 1);
    let (rest, end) = second.sse.rest();
    assert_eq!((rest.len(), end), (0, End::Clean));
    let mut third = RawWorker::connect(&emu, "agent-1");
    assert_eq!(third.next_task()["id"], t.as_str());
}

#[test]
fn busy_workers_are_skipped_and_tasks_wait_until_one_frees() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let mut b = RawWorker::connect(&emu, "agent-1");
    let busy = |w: &RawWorker, yes: bool| {
        let r = post_event(
            &emu,
            &w.id,
            "agent-1",
            "worker-capacity-update",
            json!({"is_busy": yes}),
        );
        assert_eq!(r.status, 200);
    };
    busy(&a, true);
    let ids = emu.create_tasks("agent-1", 2, |i| i.to_string());
    assert_eq!(b.next_tasks(2), ids, "a is busy");
    busy(&b, true);
    let waiting = emu.create_tasks("agent-1", 3, |i| i.to_string());
    assert_eq!(emu.queued("agent-1"), waiting, "all busy: they wait");
    busy(&b, false);
    assert_eq!(b.next_tasks(3), waiting);
    expect_nothing_else(&emu, "agent-1", &mut [&mut a, &mut b]);
    assert_eq!(worker(&emu, &b.id).capacity_updates, [true, false]);
    assert!(worker(&emu, &a.id).is_busy);
}

#[test]
fn failing_saves_leave_the_task_unclaimed_and_probabilities_keep_working() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let t = create(&emu, "agent-1", "x");
    assert_eq!(a.next_task()["id"], t.as_str());
    emu.inject(
        Fault::on("PATCH", "/agent-execution/*")
            .times(1)
            .respond(503, json!({"detail": "busy"})),
    );
    assert_eq!(set_status(&emu, &t, "executing").status, 503);
    assert_eq!(
        emu.task(&t).unwrap()["status"],
        "pending",
        "the fault kept the save out"
    );
    drop(a);
    let mut b = RawWorker::connect(&emu, "agent-1");
    assert_eq!(b.next_task()["id"], t.as_str(), "unclaimed: sent again");

    // A load test's 5 % of failing saves: seeded dice, every request
    // answered, the failed ones never reaching a task.
    emu.inject(
        Fault::on("PATCH", "/agent-execution/*")
            .always()
            .probability(0.05)
            .respond(503, json!({"detail": "busy"})),
    );
    // Each task claimed as it arrives: the dispatch window keeps the rest
    // with the server until claims open places. A failed claim keeps its
    // place (the task stays unclaimed with `b`): the seeded dice fail about
    // 10 of 200, well inside the window of 32 (t is claimed first).
    assert_eq!(set_status(&emu, &t, "executing").status, 200);
    let ids = emu.create_tasks("agent-1", 200, |i| format!("load {i}"));
    let mut failed = 0;
    for id in &ids {
        assert_eq!(b.next_task()["id"], id.as_str(), "in creation order");
        match set_status(&emu, id, "executing").status {
            200 => assert_eq!(emu.task(id).unwrap()["status"], "executing"),
            503 => {
                failed += 1;
                assert_eq!(emu.task(id).unwrap()["status"], "pending");
            }
            s => panic!("{s}"),
        }
    }
    assert!((1..40).contains(&failed), "{failed} of 200");
    assert_eq!(emu.faults().len(), 1, "an `always` rule stays");
}

#[test]
fn reset_ends_the_agent_streams_and_forgets_the_workers() {
    let emu = emu();
    let mut w = RawWorker::connect(&emu, "agent-1");
    create(&emu, "agent-1", "x");
    w.next_task();
    emu.reset();
    let (rest, end) = w.sse.rest();
    assert_eq!((rest.len(), end), (0, End::Clean));
    assert!(emu.workers().is_empty());
    let r = post_event(
        &emu,
        &w.id,
        "agent-1",
        "worker-heartbeat",
        json!("2026-11-28T03:38:33Z"),
    );
    assert_eq!(r.status, 404);
    let none: Vec<Value> = call(&emu, "GET", "/__emulator/workers", None)
        .json()
        .as_array()
        .unwrap()
        .clone();
    assert!(none.is_empty());
}

#[test]
fn the_dispatch_window_bounds_what_a_worker_holds_unclaimed() {
    let emu = Emulator::builder()
        .api_key("test-key-123")
        .dispatch_window(3)
        .start()
        .unwrap();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let ids = emu.create_tasks("agent-1", 6, |i| format!("job {i}"));
    assert_eq!(a.next_tasks(3), ids[..3]);
    expect_nothing_else(&emu, "agent-1", &mut [&mut a]);
    assert_eq!(emu.queued("agent-1"), ids[3..], "the rest wait");
    assert_eq!(worker(&emu, &a.id).unclaimed, 3);
    let served = call(&emu, "GET", "/__emulator/workers", None).json();
    assert_eq!(served[0]["unclaimed"], 3);

    // A claim opens one place; a failed claim (503) does not.
    emu.inject(
        Fault::on("PATCH", "/agent-execution/*")
            .times(1)
            .respond(503, json!({"detail": "busy"})),
    );
    assert_eq!(set_status(&emu, &ids[0], "executing").status, 503);
    expect_nothing_else(&emu, "agent-1", &mut [&mut a]);
    assert_eq!(set_status(&emu, &ids[0], "executing").status, 200);
    assert_eq!(a.next_task()["id"], ids[3].as_str());

    // A second worker gets its own window.
    let mut b = RawWorker::connect(&emu, "agent-1");
    assert_eq!(b.next_tasks(2), ids[4..]);
    assert_eq!(worker(&emu, &b.id).unclaimed, 2);
    assert!(emu.queued("agent-1").is_empty());
}

#[test]
fn the_default_window_and_no_window() {
    let emu = emu();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let ids = emu.create_tasks("agent-1", DEFAULT_DISPATCH_WINDOW + 1, |i| format!("{i}"));
    assert_eq!(
        a.next_tasks(DEFAULT_DISPATCH_WINDOW),
        ids[..DEFAULT_DISPATCH_WINDOW]
    );
    expect_nothing_else(&emu, "agent-1", &mut [&mut a]);
    assert_eq!(emu.queued("agent-1").len(), 1);

    let emu = Emulator::builder().dispatch_window(0).start().unwrap();
    let mut a = RawWorker::connect(&emu, "agent-1");
    let ids = emu.create_tasks("agent-1", 100, |i| format!("{i}"));
    assert_eq!(a.next_tasks(100), ids, "0: the whole backlog at once");
}
