//! Issue #18, points 3 and 4, through the real runtime over HTTP (the
//! emulator): handlers in their own task (a panic before the first
//! `.await`, a handler that ignores its cancellation), the one shutdown
//! deadline (heartbeats through the drain, the tasks it could not save, a
//! second request, a dropped `run()` future); and issue #22 point 5 (a
//! closure handler with no annotation), each next to its normal path.
//!
//! Every wait is on state (the emulator's tasks, workers, held requests;
//! the worker's notices; flags the handlers set); the only time asserted is
//! a lower bound (the deadline was waited for).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use xpander_sdk::emulator::{Emulator, Fault, WorkerInfo};
use xpander_sdk::runtime::{
    CancellationToken, Exit, Notice, RunError, ShutdownHandle, Worker, WorkerBuilder, WorkerPolicy,
};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::sans_io::worker::SHUTDOWN_MESSAGE;
use xpander_sdk::{RetryPolicy, Tasks};

const AGENT: &str = "agent-stop";
const PATIENCE: Duration = Duration::from_secs(120);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn emulator() -> Emulator {
    Emulator::builder()
        .keep_alive_interval(ms(50))
        .start()
        .expect("the emulator starts")
}

fn client(emulator: &Emulator) -> Tasks {
    Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
        .retry(
            RetryPolicy::default()
                .max_attempts(8)
                .backoff(ms(1), ms(20)),
        )
        .build()
        .expect("the client builds")
}

fn policy() -> WorkerPolicy {
    WorkerPolicy::default()
        .save_retries(5, ms(5), ms(50))
        .stream(
            StreamPolicy::default()
                .initial_delay(ms(10))
                .max_delay(ms(100))
                .idle_timeout(Duration::from_secs(60)),
        )
}

fn builder(tasks: &Tasks, policy: WorkerPolicy) -> WorkerBuilder {
    Worker::builder(tasks.clone())
        .agent_id(AGENT)
        .policy(policy)
        .handle_signals(false)
}

#[derive(Default, Clone)]
struct Notices(Arc<Mutex<Vec<Notice>>>);

impl Notices {
    fn callback(&self) -> impl Fn(&Notice) + Send + Sync + 'static {
        let all = self.0.clone();
        move |n: &Notice| all.lock().unwrap().push(n.clone())
    }
    fn about(&self, task: &str, part: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.task_id.as_deref() == Some(task) && n.message.contains(part))
    }
    fn any(&self, part: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.message.contains(part))
    }
}

/// Set when dropped: the handler's future was dropped (aborted).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

type Run = JoinHandle<Result<Exit, RunError>>;

async fn start(emulator: &Emulator, builder: WorkerBuilder) -> (ShutdownHandle, Run) {
    let worker = builder.build().expect("the worker builds");
    let handle = worker.shutdown_handle();
    let before = connected(emulator).len();
    let run = tokio::spawn(worker.run());
    until("a registered worker", || connected(emulator).len() > before).await;
    (handle, run)
}

async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        tokio::time::sleep(ms(3)).await;
    }
}

async fn finished(run: Run) -> Result<Exit, RunError> {
    tokio::time::timeout(PATIENCE, run)
        .await
        .expect("the run ends")
        .expect("the run does not panic")
}

fn status(emulator: &Emulator, id: &str) -> String {
    emulator
        .task(id)
        .and_then(|t| t["status"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn result(emulator: &Emulator, id: &str) -> Value {
    emulator
        .task(id)
        .map(|t| t["result"].clone())
        .unwrap_or(Value::Null)
}

fn connected(emulator: &Emulator) -> Vec<WorkerInfo> {
    emulator
        .workers()
        .into_iter()
        .filter(|w| w.agent_id == AGENT && w.connected)
        .collect()
}

fn create(emulator: &Emulator, text: &str) -> String {
    let task = emulator
        .create_task(AGENT, json!({"input": {"text": text}, "source": "sdk"}))
        .expect("created");
    task["id"].as_str().expect("an id").to_owned()
}

// ----- point 3: handlers live in their own task ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_before_the_first_await_fails_that_task_alone() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let gate = Arc::new(Semaphore::new(0));
    let hooked = Arc::new(AtomicBool::new(false));
    let (g, h) = (gate.clone(), hooked.clone());
    // No annotation on the closure (issue #22, point 5).
    let worker = builder(&tasks, policy())
        .concurrency(3)
        .on_shutdown(move || async move { h.store(true, Ordering::SeqCst) })
        .handler(move |mut task, _ctx| {
            // The synchronous part, before any future exists.
            if task.input.text == "sync panic" {
                panic!("boom before the first await");
            }
            let gate = g.clone();
            async move {
                match task.input.text.as_str() {
                    "async panic" => panic!("boom after an await"),
                    "held" => gate.acquire().await?.forget(),
                    _ => {}
                }
                task.result = Some(format!("echo: {}", task.input.text));
                Ok(task)
            }
        });
    let (handle, run) = start(&emulator, worker).await;
    // A handler running while the others panic.
    let held = create(&emulator, "held");
    until("held running", || status(&emulator, &held) == "executing").await;
    let sync = create(&emulator, "sync panic");
    let asynchronous = create(&emulator, "async panic");
    until("both panics saved", || {
        status(&emulator, &sync) == "error" && status(&emulator, &asynchronous) == "error"
    })
    .await;
    assert_eq!(
        result(&emulator, &sync),
        "the handler panicked: boom before the first await"
    );
    assert_eq!(
        result(&emulator, &asynchronous),
        "the handler panicked: boom after an await"
    );
    // The other handler was not touched; the worker goes on.
    assert_eq!(status(&emulator, &held), "executing");
    gate.add_permits(1);
    let after = create(&emulator, "after");
    until("the others completed", || {
        status(&emulator, &held) == "completed" && status(&emulator, &after) == "completed"
    })
    .await;
    assert_eq!(result(&emulator, &held), "echo: held");
    assert_eq!(result(&emulator, &after), "echo: after");
    assert_eq!(
        emulator.workers().len(),
        1,
        "the same connection throughout"
    );
    handle.shutdown();
    let exit = finished(run).await.expect("a clean exit");
    assert!(exit.unsaved.is_empty() && exit.abandoned.is_empty());
    assert!(hooked.load(Ordering::SeqCst), "the shutdown hooks ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_ignoring_its_deadline_is_aborted_and_its_slot_freed() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let notices = Notices::default();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let worker = builder(&tasks, policy().abort_grace(ms(100)))
        .concurrency(1)
        .queue(4)
        // Long enough that `next`, which returns at once, never meets it.
        .task_deadline(Duration::from_secs(1))
        .on_notice(notices.callback())
        .handler(move |mut task, ctx| {
            let dropped = d.clone();
            async move {
                match task.input.text.as_str() {
                    // Ignores its token: aborted after the abort grace.
                    "stuck" => {
                        let _flag = DropFlag(dropped);
                        std::future::pending::<()>().await;
                    }
                    // Returns on its token: never aborted.
                    "cooperative" => ctx.cancelled().await,
                    _ => {}
                }
                task.result = Some("done".into());
                Ok(task)
            }
        });
    let (handle, run) = start(&emulator, worker).await;
    let stuck = create(&emulator, "stuck");
    let cooperative = create(&emulator, "cooperative");
    let next = create(&emulator, "next");
    // One slot: the two after it run only once the stuck one is aborted.
    until("every task settled", || {
        status(&emulator, &stuck) == "error"
            && status(&emulator, &cooperative) == "error"
            && status(&emulator, &next) == "completed"
    })
    .await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the stuck handler was dropped"
    );
    for id in [&stuck, &cooperative] {
        let message = result(&emulator, id);
        assert!(message.as_str().unwrap().contains("timeout"), "{message}");
    }
    assert!(notices.about(&stuck, "aborted"));
    assert!(!notices.about(&cooperative, "aborted"));
    handle.shutdown();
    let exit = finished(run).await.unwrap();
    assert!(exit.unsaved.is_empty());
}

// ----- point 4: one shutdown deadline -----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_ends_the_drain_names_the_unsaved_and_heartbeats_go_on_until_then() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let notices = Notices::default();
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    // A grace long enough for `drained` to finish in it on a loaded
    // machine; the deadline leaves the drain room for a few heartbeats.
    let deadline = Duration::from_secs(6);
    let policy = policy()
        .heartbeat_interval(ms(100))
        .shutdown_grace(Duration::from_secs(2))
        .shutdown_deadline(deadline);
    let worker = builder(&tasks, policy)
        .concurrency(2)
        .on_notice(notices.callback())
        .handler(move |mut task, _ctx| {
            let gate = g.clone();
            async move {
                if task.input.text == "stuck" {
                    std::future::pending::<()>().await;
                }
                gate.acquire().await?.forget();
                task.result = Some("drained".into());
                Ok(task)
            }
        });
    let (handle, run) = start(&emulator, worker).await;
    let stuck = create(&emulator, "stuck");
    let drained = create(&emulator, "drained");
    until("both running", || {
        status(&emulator, &stuck) == "executing" && status(&emulator, &drained) == "executing"
    })
    .await;
    // The final save of `stuck` never gets an answer.
    emulator.inject(Fault::on("PATCH", &format!("/agent-execution/{stuck}/update")).hold());
    let asked = Instant::now();
    handle.shutdown();
    until("the stream closed", || connected(&emulator).is_empty()).await;
    // Finishes within the grace: saved.
    gate.add_permits(1);
    until("drained saved", || {
        status(&emulator, &drained) == "completed"
    })
    .await;
    // The grace ends, `stuck`'s save is held; heartbeats go on meanwhile.
    until("the held final save", || emulator.held() == 1).await;
    let beats = emulator.workers()[0].heartbeats;
    until("a heartbeat during the drain", || {
        emulator.workers()[0].heartbeats > beats
    })
    .await;
    let exit = finished(run).await.expect("a clean exit");
    assert!(asked.elapsed() >= deadline, "the deadline was waited for");
    assert_eq!(exit.unsaved, std::slice::from_ref(&stuck));
    assert_eq!(exit.abandoned, std::slice::from_ref(&stuck));
    assert!(notices.any("without saving the final status of 1 task(s)"));
    assert_eq!(status(&emulator, &stuck), "executing", "never saved");
    assert_eq!(result(&emulator, &drained), "drained");
    emulator.release(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_request_releases_the_unstarted_saves_the_running_and_ends_at_once() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let notices = Notices::default();
    // Nothing here is waited for by time: the grace, the deadline and the
    // last calls' window are an hour; the second request ends the drain.
    let hour = Duration::from_secs(3600);
    let policy = policy()
        .shutdown_grace(hour)
        .shutdown_deadline(hour)
        .last_calls(hour);
    let worker = builder(&tasks, policy)
        .concurrency(2)
        .on_notice(notices.callback())
        .handler(|task, _ctx| async move {
            std::future::pending::<()>().await;
            Ok(task)
        });
    let (handle, run) = start(&emulator, worker).await;
    let running = create(&emulator, "running");
    until("running", || status(&emulator, &running) == "executing").await;
    // The claim of the next task is held: not started when the stop comes.
    emulator.inject(Fault::on("PATCH", "/agent-execution/*").hold());
    let unstarted = create(&emulator, "unstarted");
    until("the claim held", || emulator.held() == 1).await;
    handle.shutdown();
    until("stopping", || notices.any("stopping")).await;
    handle.shutdown();
    until("the running task saved", || {
        status(&emulator, &running) == "error"
    })
    .await;
    assert_eq!(result(&emulator, &running), SHUTDOWN_MESSAGE);
    // The claim lands after the second request: the task goes back.
    emulator.release(1);
    let exit = finished(run).await.expect("a clean exit");
    assert_eq!(status(&emulator, &unstarted), "pending");
    assert!(exit.unsaved.is_empty(), "{exit:?}");
    assert_eq!(exit.abandoned, std::slice::from_ref(&running));
    assert!(notices.any("asked again to shut down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_run_future_cancels_every_handler_and_aborts_it() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let tokens: Arc<Mutex<Vec<CancellationToken>>> = Arc::default();
    let dropped = Arc::new(AtomicBool::new(false));
    let (t, d) = (tokens.clone(), dropped.clone());
    let worker = builder(&tasks, policy())
        .handler(move |task, ctx| {
            t.lock().unwrap().push(ctx.cancellation_token().clone());
            let dropped = d.clone();
            async move {
                let _flag = DropFlag(dropped);
                // Ignores its token: only an abort ends it.
                std::future::pending::<()>().await;
                Ok(task)
            }
        })
        .build()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let outer = tokio::spawn(async move {
        tokio::select! {
            _ = worker.run() => panic!("the run ended by itself"),
            _ = stop_rx => {}
        }
    });
    until("a registered worker", || connected(&emulator).len() == 1).await;
    let id = create(&emulator, "forever");
    until("the handler running", || tokens.lock().unwrap().len() == 1).await;
    stop_tx.send(()).unwrap();
    outer.await.unwrap();
    let token = tokens.lock().unwrap()[0].clone();
    until("the token cancelled and the handler dropped", || {
        token.is_cancelled() && dropped.load(Ordering::SeqCst)
    })
    .await;
    // The stream closed with it.
    until("the stream closed", || connected(&emulator).is_empty()).await;
    assert_eq!(status(&emulator, &id), "executing");
}

/// A shutdown request while a boot hook hangs (a database that never
/// answers): the run ends (nothing was claimed, nothing to drain) and the
/// shutdown hooks still run; the worker never connects. Before, the
/// request waited for the boot hook: no deadline at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_during_a_hanging_boot_hook_ends_the_run() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let booting = Arc::new(AtomicBool::new(false));
    let said_bye = Arc::new(AtomicBool::new(false));
    let (b, s) = (booting.clone(), said_bye.clone());
    let worker = builder(&tasks, policy())
        .on_boot(move || {
            let b = b.clone();
            async move {
                b.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await;
                Ok::<(), std::io::Error>(())
            }
        })
        .on_shutdown(move || {
            let s = s.clone();
            async move { s.store(true, Ordering::SeqCst) }
        })
        .handler(|task, _ctx| async move { Ok(task) })
        .build()
        .expect("the worker builds");
    let handle = worker.shutdown_handle();
    let run = tokio::spawn(worker.run());
    until("the boot hook", || booting.load(Ordering::SeqCst)).await;
    handle.shutdown();
    let exit = finished(run).await.expect("a clean exit");
    assert!(matches!(
        exit.reason,
        xpander_sdk::runtime::ExitReason::Shutdown
    ));
    assert!(exit.unsaved.is_empty() && exit.abandoned.is_empty());
    assert!(said_bye.load(Ordering::SeqCst), "the shutdown hooks ran");
    assert!(connected(&emulator).is_empty());
}
