//! Starting, sharing and stopping the emulator, from sync code and tokio (the
//! stand-alone binary is tests/binary.rs).

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::json;
use xpander_emulator::{Emulator, Fault};

// ---------- lifecycle and async use ----------

#[test]
fn emulator_is_send_sync_and_shuts_down() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Emulator>();
    let emu = emu();
    let addr = emu.addr();
    assert_eq!(emu.base_url(), format!("http://{addr}"));
    assert!(addr.ip().is_loopback());
    let mut open = Conn::open(&emu);
    assert_eq!(
        open.call(&emu, "GET", "/agent-execution/x/status", None)
            .status,
        404
    );
    emu.shutdown();
    emu.shutdown();
    assert!(open.is_closed(), "open connections are closed on shutdown");
    assert!(TcpStream::connect(addr).is_err(), "listener closed");
    drop(emu);

    let generated = Emulator::start().unwrap();
    assert!(!generated.api_key().is_empty());
    assert_eq!(generated.organization_id(), "org-emulator");
}

#[tokio::test]
async fn usable_from_a_current_thread_tokio_test() {
    let emu = std::sync::Arc::new(emu());
    emu.seed_task(recorder_task()).unwrap();
    let e = emu.clone();
    let r = tokio::task::spawn_blocking(move || {
        call(
            &e,
            "PATCH",
            "/agent-execution/task_xyz/update",
            Some(json!({"status": "completed"})),
        )
    })
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(emu.task("task_xyz").unwrap()["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_from_a_multi_thread_tokio_test_and_dropped_there() {
    let emu = Emulator::builder().api_key("k").start().unwrap();
    emu.inject(Fault::on("GET", "*").delay(Duration::from_millis(50)));
    let emu = std::sync::Arc::new(emu);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let e = emu.clone();
            tokio::task::spawn_blocking(move || {
                call(&e, "GET", "/agent-execution/none/status", None).status
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap(), 404);
    }
    assert_eq!(emu.connections_accepted(), 4);
    drop(emu);
}
