use super::*;
use serde_json::json;

/// A worker record of `agent` with id `id`.
fn info(id: &str, agent: &str) -> WorkerInfo {
    WorkerInfo::connecting(id.into(), agent, "org", "local".into(), true)
}

/// The task ids waiting in an inbox.
fn drain(rx: &mut UnboundedReceiver<Out>) -> Vec<String> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|o| match o {
            Out::Task(id) => id,
            Out::Raw { event, .. } => event,
        })
        .collect()
}

#[test]
fn tasks_go_round_robin_skipping_busy_workers_and_wait_when_all_are_busy() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    let mut b = st.connect(info("B", "ag"));
    let mut c = st.connect(info("C", "ag"));
    for t in ["t1", "t2", "t3", "t4"] {
        st.created(t, "ag");
    }
    assert_eq!(
        (drain(&mut a), drain(&mut b), drain(&mut c)),
        (
            vec!["t1".into(), "t4".into()],
            vec!["t2".into()],
            vec!["t3".into()]
        )
    );
    assert!(st.capacity("B", true));
    st.created("t5", "ag");
    st.created("t6", "ag");
    assert_eq!(drain(&mut b), Vec::<String>::new(), "B is busy");
    assert_eq!(
        (drain(&mut c), drain(&mut a)),
        (vec!["t5".into()], vec!["t6".into()])
    );

    st.capacity("A", true);
    st.capacity("C", true);
    st.created("t7", "ag");
    assert_eq!(st.queued("ag"), ["t7"], "all busy: it waits");
    st.capacity("C", false);
    assert_eq!(drain(&mut c), ["t7"]);
    assert!(st.queued("ag").is_empty());
    assert_eq!(st.deliveries("t7"), ["C"]);
    assert_eq!(st.workers()[1].capacity_updates, [true]);
}

#[test]
fn a_dropped_worker_gives_back_its_unclaimed_tasks_in_order() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    for t in ["t1", "t2", "t3"] {
        st.created(t, "ag");
    }
    assert_eq!(drain(&mut a).len(), 3);
    st.status_set("t2", Some("ag"), Some("pending"), "executing");
    st.created("t4", "ag");
    drain(&mut a);
    st.disconnect("A");
    assert_eq!(st.queued("ag"), ["t1", "t3", "t4"], "claimed t2 stays");
    let mut b = st.connect(info("B", "ag"));
    assert_eq!(drain(&mut b), ["t1", "t3", "t4"]);
    assert_eq!(st.deliveries("t1"), ["A", "B"]);
    assert_eq!(st.deliveries("t2"), ["A"]);
    let a_info = &st.workers()[0];
    assert!(!a_info.connected && a_info.disconnected_at.is_some());
}

#[test]
fn a_release_requeues_but_a_save_of_a_pending_task_does_not() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    let mut b = st.connect(info("B", "ag"));
    st.created("t1", "ag");
    assert_eq!(drain(&mut a), ["t1"]);
    st.status_set("t1", None, Some("pending"), "pending");
    assert_eq!(drain(&mut b), ["t1"], "released: out again, to the next");
    st.status_set("t1", None, Some("pending"), "executing");
    st.status_set("t1", None, Some("executing"), "completed");
    st.disconnect("B");
    assert!(st.queued("ag").is_empty(), "finished: never again");

    st.status_set("seeded", Some("ag"), Some("pending"), "pending");
    assert!(st.deliveries("seeded").is_empty(), "pending all along");
    st.status_set("back", Some("ag"), Some("completed"), "pending");
    assert_eq!(drain(&mut a), ["back"], "set back to pending");
}

#[test]
fn queued_tasks_leave_the_queue_when_claimed_elsewhere_and_seeds_need_a_worker() {
    let mut st = State::default();
    st.created("t1", "ag");
    st.created("t2", "ag");
    st.seeded("s1", "ag");
    st.status_set("t1", None, Some("pending"), "stopped");
    assert_eq!(st.queued("ag"), ["t2"]);
    let mut a = st.connect(info("A", "ag"));
    assert_eq!(drain(&mut a), ["t2"]);
    st.seeded("s2", "ag");
    assert_eq!(drain(&mut a), ["s2"]);
    st.capacity("A", true);
    st.enqueue("s3", "ag");
    st.enqueue("s3", "ag");
    assert_eq!(st.queued("ag"), ["s3"], "queued once");
    st.capacity("A", false);
    assert_eq!(drain(&mut a), ["s3"]);
}

#[test]
fn finished_workers_get_nothing_and_events_reach_every_stream() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    let mut b = st.connect(info("B", "ag"));
    let mut other = st.connect(info("O", "other"));
    st.created("t1", "ag");
    assert!(st.finished("A"));
    assert_eq!(drain(&mut b), ["t1"], "A's unclaimed task went to B");
    st.created("t2", "ag");
    assert_eq!(drain(&mut b), ["t2"]);
    assert_eq!(drain(&mut a), ["t1"]);
    let conflict = Out::Raw {
        event: "worker-environment-conflict".into(),
        data: "{}".into(),
    };
    assert_eq!(st.send_all("ag", &conflict), 2);
    assert_eq!(drain(&mut other), Vec::<String>::new());
    assert_eq!(st.close_streams("ag"), 2);
    assert!(a.try_recv().is_ok() && a.try_recv().is_err());
    assert!(!st.heartbeat("nobody", Value::Null));
    assert!(st.heartbeat("O", json!("2026-11-28T03:38:33Z")));
    assert_eq!(st.workers()[2].heartbeats, 1);
}

#[test]
fn the_cursor_follows_a_worker_leaving_before_it() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    let mut b = st.connect(info("B", "ag"));
    let mut c = st.connect(info("C", "ag"));
    st.created("t1", "ag");
    st.created("t2", "ag");
    st.status_set("t1", None, Some("pending"), "executing");
    st.disconnect("A");
    st.created("t3", "ag");
    st.created("t4", "ag");
    assert_eq!(drain(&mut a), ["t1"]);
    assert_eq!(drain(&mut b), ["t2", "t4"]);
    assert_eq!(drain(&mut c), ["t3"]);
}

#[test]
fn the_window_bounds_unclaimed_tasks_per_worker_and_a_claim_opens_it() {
    let mut st = State {
        window: 2,
        ..State::default()
    };
    let mut a = st.connect(info("A", "ag"));
    for t in ["t1", "t2", "t3", "t4", "t5"] {
        st.created(t, "ag");
    }
    assert_eq!(drain(&mut a), ["t1", "t2"], "a full window: the rest wait");
    assert_eq!(st.queued("ag"), ["t3", "t4", "t5"]);
    assert_eq!(st.workers()[0].unclaimed, 2);

    let mut b = st.connect(info("B", "ag"));
    assert_eq!(drain(&mut b), ["t3", "t4"], "a new worker gets its window");

    st.status_set("t1", Some("ag"), Some("pending"), "executing");
    assert_eq!(drain(&mut a), ["t5"], "a claim frees one place");
    assert_eq!(st.workers()[0].unclaimed, 2);

    // A release (back to pending) frees the place too, and the task goes
    // out again at once: B's window is full, A has the place.
    st.status_set("t2", Some("ag"), Some("pending"), "pending");
    assert_eq!(
        drain(&mut a),
        ["t2"],
        "A has a place again: it gets t2 back"
    );
    assert_eq!(st.deliveries("t2"), ["A", "A"]);
    st.status_set("t3", Some("ag"), Some("pending"), "completed");
    assert_eq!(st.workers()[1].unclaimed, 1);

    // A dropped worker's unclaimed tasks go to the other, within its window.
    // (In the order A first got them: t2, then t5.)
    st.disconnect("A");
    assert_eq!(drain(&mut b), ["t2"]);
    assert_eq!(st.queued("ag"), ["t5"]);
    assert_eq!(st.workers()[1].unclaimed, 2);
    st.status_set("t4", Some("ag"), Some("pending"), "executing");
    assert_eq!(drain(&mut b), ["t5"]);
    assert!(st.queued("ag").is_empty());

    st.reset();
    assert_eq!(st.window, 2, "a reset keeps the setting");
}

#[test]
fn no_window_sends_the_whole_backlog() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    for i in 0..100 {
        st.created(&format!("t{i}"), "ag");
    }
    assert_eq!(drain(&mut a).len(), 100);
    assert_eq!(st.workers()[0].unclaimed, 100);
}

#[test]
fn a_task_moved_to_another_agent_frees_its_place_in_the_old_agents_worker() {
    let mut st = State {
        window: 1,
        ..State::default()
    };
    let mut a = st.connect(info("A", "ag"));
    st.created("t1", "ag");
    st.created("t2", "ag");
    assert_eq!(drain(&mut a), ["t1"]);
    assert_eq!(st.queued("ag"), ["t2"]);
    // t1's agent_id changed, then it was set back to pending: it waits for
    // the other agent, and A's place goes to t2.
    st.status_set("t1", Some("other"), Some("pending"), "pending");
    assert_eq!(st.queued("other"), ["t1"]);
    assert_eq!(drain(&mut a), ["t2"]);
    assert_eq!(st.workers()[0].unclaimed, 1);
}

/// Issue #23's order, step by step: a worker's claim is on its way when
/// its connection ends. The hand-back requeues the task (not claimed yet)
/// and sends it to the next connection; then the claim lands. The task is
/// out twice: the new connection's frame (written later, with the task as
/// stored then: `executing`, or even `completed`) is a stale delivery. The
/// wire cannot prevent it (a claim does not say who sent it), so a worker
/// must read the task before it claims it (the SDK's worker does).
#[test]
fn a_claim_landing_after_the_hand_back_leaves_a_stale_delivery_out() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    st.created("t1", "ag");
    assert_eq!(drain(&mut a), ["t1"]);
    // A's connection drops while its claim of t1 travels.
    st.disconnect("A");
    let mut b = st.connect(info("B", "ag"));
    // The claim lands: t1 is taken, yet B's stream still holds it.
    st.status_set("t1", Some("ag"), Some("pending"), "executing");
    assert_eq!(drain(&mut b), ["t1"], "the stale delivery");
    assert_eq!(st.deliveries("t1"), ["A", "B"]);
    // Finished: nothing goes out again, and B's window is not held.
    st.status_set("t1", Some("ag"), Some("executing"), "completed");
    st.disconnect("B");
    assert!(st.queued("ag").is_empty());
    assert_eq!(st.workers()[1].unclaimed, 0);
}

#[test]
fn the_orphan_rule_names_claimed_unfinished_tasks_of_ended_connections_once() {
    let mut st = State::default();
    let mut a = st.connect(info("A", "ag"));
    let mut b = st.connect(info("B", "ag"));
    for t in ["t1", "t2", "t3", "t4", "t5"] {
        st.created(t, "ag");
    }
    drain(&mut a);
    drain(&mut b);
    // A got t1, t3, t5: t1 claimed, t3 claimed and finished, t5 unclaimed.
    st.status_set("t1", Some("ag"), Some("pending"), "executing");
    st.status_set("t3", Some("ag"), Some("pending"), "executing");
    st.status_set("t3", Some("ag"), Some("executing"), "completed");
    // B claimed t2.
    st.status_set("t2", Some("ag"), Some("pending"), "executing");
    let zero = std::time::Duration::ZERO;
    assert!(st.orphans(zero).is_empty(), "every connection is up");
    st.disconnect("A");
    assert!(
        st.orphans(std::time::Duration::from_secs(3600)).is_empty(),
        "not yet"
    );
    assert_eq!(st.orphans(zero), ["t1"], "t5 went back to the queue");
    assert!(st.orphans(zero).is_empty(), "named once");
    assert_eq!(drain(&mut b), ["t5"]);
}
