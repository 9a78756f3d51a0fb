//! The agent worker runtime (`runtime::Worker`) against the emulator's agent
//! stream: each acceptance point of issue #14, and the wire of the official
//! runtime's captured scenarios.
//!
//! Every wait is on state (the emulator's tasks, workers and request log,
//! the worker's notices, the run's end), polled; no sleep stands for a
//! synchronisation, and no timing is asserted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use xpander_sdk::emulator::{Emulator, Fault, RecordedRequest, WorkerInfo};
use xpander_sdk::model::{EventPayload, TaskEventType, Tokens};
use xpander_sdk::runtime::{
    BoxError, Exit, ExitReason, HandlerFuture, Notice, RunError, ShutdownHandle, TaskContext,
    TaskFailed, Worker, WorkerBuilder, WorkerPolicy,
};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::sans_io::worker::SHUTDOWN_MESSAGE;
use xpander_sdk::{RetryPolicy, Task, Tasks};

const AGENT: &str = "agent-rt";
/// The longest any wait on state may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);

// ----- helpers ---------------------------------------------------------------------------

fn emulator() -> Emulator {
    Emulator::builder()
        // A worker's disconnect is seen at the next write at the latest.
        .keep_alive_interval(Duration::from_millis(50))
        .start()
        .expect("the emulator starts")
}

/// A client of `emulator`, with quick and patient retries.
fn client(emulator: &Emulator) -> Tasks {
    client_with(
        emulator,
        RetryPolicy::default()
            .max_attempts(8)
            .backoff(Duration::from_millis(1), Duration::from_millis(20)),
    )
}

fn client_with(emulator: &Emulator, retry: RetryPolicy) -> Tasks {
    Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
        .retry(retry)
        .build()
        .expect("the client builds")
}

/// The default policy with quick reconnects and save retries.
fn policy() -> WorkerPolicy {
    WorkerPolicy::default()
        .save_retries(5, Duration::from_millis(5), Duration::from_millis(50))
        .stream(
            StreamPolicy::default()
                .initial_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(100))
                .idle_timeout(Duration::from_secs(60)),
        )
}

/// A worker of `AGENT` with the test policy and no signal handling.
fn builder(tasks: &Tasks) -> WorkerBuilder {
    Worker::builder(tasks.clone())
        .agent_id(AGENT)
        .policy(policy())
        .handle_signals(false)
}

/// How many times each task's handler ran.
#[derive(Default)]
struct Runs(Mutex<HashMap<String, usize>>);

impl Runs {
    fn add(&self, id: &str) {
        *self.0.lock().unwrap().entry(id.to_owned()).or_default() += 1;
    }
    fn get(&self, id: &str) -> usize {
        self.0.lock().unwrap().get(id).copied().unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

/// The notices of a worker, kept for waits.
#[derive(Default, Clone)]
struct Notices(Arc<Mutex<Vec<Notice>>>);

impl Notices {
    fn callback(&self) -> impl Fn(&Notice) + Send + Sync + 'static {
        let all = self.0.clone();
        move |n: &Notice| all.lock().unwrap().push(n.clone())
    }
    fn any(&self, part: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.message.contains(part))
    }
}

/// The echo handler: `echo: <input>`, counting runs.
fn echo(
    runs: &Arc<Runs>,
) -> impl Fn(Task, TaskContext) -> std::future::Ready<Result<Task, BoxError>> + Send + Sync + 'static
{
    let runs = runs.clone();
    move |mut task: Task, _ctx: TaskContext| {
        runs.add(&task.id);
        task.result = Some(format!("echo: {}", task.input.text));
        std::future::ready(Ok(task))
    }
}

type Run = JoinHandle<Result<Exit, RunError>>;

fn spawn(worker: Worker) -> (ShutdownHandle, Run) {
    let handle = worker.shutdown_handle();
    (handle, tokio::spawn(worker.run()))
}

/// Builds and runs the worker, and waits for its registration.
async fn start(emulator: &Emulator, builder: WorkerBuilder) -> (ShutdownHandle, Run) {
    let worker = builder.build().expect("the worker builds");
    let agent = worker.agent_id().to_owned();
    let before = connected(emulator, &agent).len();
    let started = spawn(worker);
    until("a registered worker", || {
        connected(emulator, &agent).len() > before
    })
    .await;
    started
}

/// Polls `ready` until it holds (state, not time), failing after PATIENCE.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// The end of a run, within PATIENCE.
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

fn connected(emulator: &Emulator, agent: &str) -> Vec<WorkerInfo> {
    emulator
        .workers()
        .into_iter()
        .filter(|w| w.agent_id == agent && w.connected)
        .collect()
}

/// A gate the handlers wait at until the test opens it, one task a permit.
fn gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(0))
}

async fn pass(gate: &Semaphore) {
    gate.acquire().await.expect("the gate is open").forget();
}

/// A handler that waits at `gate`, then lets `finish` change the task.
fn gated(
    gate: &Arc<Semaphore>,
    finish: fn(&mut Task),
) -> impl Fn(Task, TaskContext) -> HandlerFuture + Send + Sync + 'static {
    let gate = gate.clone();
    move |mut task: Task, _ctx: TaskContext| {
        let gate = gate.clone();
        Box::pin(async move {
            pass(&gate).await;
            finish(&mut task);
            Ok::<_, BoxError>(task)
        })
    }
}

fn create(emulator: &Emulator, agent: &str, text: &str) -> String {
    // `source` as `Tasks::create` sends it (metrics need one).
    let task = emulator
        .create_task(agent, json!({"input": {"text": text}, "source": "sdk"}))
        .expect("created");
    task["id"].as_str().expect("an id").to_owned()
}

fn requests_to(emulator: &Emulator, method: &str, part: &str) -> Vec<RecordedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.contains(part))
        .collect()
}

// ----- the acceptance points ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_600_tasks_each_run_once_and_completed() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let runs = Arc::new(Runs::default());
    let shutdowns = Arc::new(Mutex::new(0));
    let mut workers = Vec::new();
    for _ in 0..3 {
        let shutdowns = shutdowns.clone();
        let worker = builder(&tasks)
            .on_shutdown(move || async move { *shutdowns.lock().unwrap() += 1 })
            .handler(echo(&runs))
            .build()
            .unwrap();
        workers.push(spawn(worker));
    }
    until("three registered workers", || {
        connected(&emulator, AGENT).len() == 3
    })
    .await;
    let ids = emulator.create_tasks(AGENT, 600, |i| format!("job {i}"));
    until("every task completed", || {
        ids.iter().all(|id| status(&emulator, id) == "completed")
    })
    .await;
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(runs.get(id), 1, "task {id} ran once");
        assert_eq!(result(&emulator, id), format!("echo: job {i}"));
    }
    assert_eq!(runs.total(), 600);
    // Round-robin: each worker had its share.
    for worker in connected(&emulator, AGENT) {
        assert!(!worker.delivered.is_empty(), "{worker:?}");
    }
    for (handle, run) in workers {
        handle.shutdown();
        let exit = finished(run).await.unwrap();
        assert_eq!(exit.reason, ExitReason::Shutdown);
        assert!(exit.abandoned.is_empty());
    }
    assert_eq!(*shutdowns.lock().unwrap(), 3, "every worker's hooks ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_and_panics_are_saved_as_error_with_their_message() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let worker = builder(&tasks).handler(|mut task: Task, _ctx: TaskContext| async move {
        match task.input.text.as_str() {
            "fail" => Err::<Task, BoxError>("boom: handler failed on purpose".into()),
            "spent" => {
                task.tokens = Some(Tokens::new(40, 2));
                Err(TaskFailed::new("the model refused", task).into())
            }
            "panic" => panic!("the handler fell over"),
            _ => {
                task.result = Some("fine".into());
                Ok(task)
            }
        }
    });
    let (handle, run) = start(&emulator, worker).await;
    let fail = create(&emulator, AGENT, "fail");
    let spent = create(&emulator, AGENT, "spent");
    let panic = create(&emulator, AGENT, "panic");
    let fine = create(&emulator, AGENT, "fine");
    let all = [&fail, &spent, &panic, &fine];
    until("every task settled", || {
        all.iter()
            .all(|id| ["error", "completed"].contains(&status(&emulator, id).as_str()))
    })
    .await;
    assert_eq!(status(&emulator, &fail), "error");
    assert_eq!(result(&emulator, &fail), "boom: handler failed on purpose");
    assert_eq!(status(&emulator, &spent), "error");
    assert_eq!(result(&emulator, &spent), "the model refused");
    assert_eq!(
        emulator.task(&spent).unwrap()["tokens"]["prompt_tokens"],
        40,
        "TaskFailed keeps the task's fields"
    );
    assert_eq!(status(&emulator, &panic), "error");
    assert_eq!(
        result(&emulator, &panic),
        "the handler panicked: the handler fell over"
    );
    assert_eq!(status(&emulator, &fine), "completed");
    // The tokens spent by the failed run are reported, once.
    until("the metrics report", || {
        !emulator.metrics_reports().is_empty()
    })
    .await;
    let reports = emulator.metrics_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].report["execution_id"], spent.as_str());
    assert_eq!(reports[0].report["status"], "error");
    // The worker lived through the panic.
    assert_eq!(emulator.workers().len(), 1);
    handle.shutdown();
    finished(run).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_mid_run_reconnects_and_no_task_is_lost_or_run_twice() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let path = format!("/{}/events/{AGENT}/", emulator.organization_id());
    // The first connection breaks after its registration and four tasks.
    emulator.inject(Fault::on("GET", &path).drop_after(5));
    let runs = Arc::new(Runs::default());
    let gate = gate();
    let (r, g) = (runs.clone(), gate.clone());
    let worker = builder(&tasks).concurrency(2).queue(2).handler(
        move |mut task: Task, _ctx: TaskContext| {
            let (runs, gate) = (r.clone(), g.clone());
            async move {
                runs.add(&task.id);
                pass(&gate).await;
                task.result = Some(format!("echo: {}", task.input.text));
                Ok::<_, BoxError>(task)
            }
        },
    );
    let (handle, run) = start(&emulator, worker).await;
    let ids: Vec<String> = (0..8)
        .map(|i| create(&emulator, AGENT, &format!("t{i}")))
        .collect();
    // The drop, then a new connection (a new worker id).
    until("the reconnect", || {
        emulator.workers().len() >= 2 && connected(&emulator, AGENT).len() == 1
    })
    .await;
    gate.add_permits(ids.len());
    until("every task completed", || {
        ids.iter().all(|id| status(&emulator, id) == "completed")
    })
    .await;
    for id in &ids {
        assert_eq!(runs.get(id), 1, "task {id} ran once");
    }
    assert_eq!(runs.total(), ids.len());
    // Tasks of the first connection went to the second (the dispatch's
    // hand-back): yet each ran once.
    let workers = emulator.workers();
    assert_eq!(workers.len(), 2);
    assert!(!workers[0].connected && workers[1].connected);
    assert!(
        workers[0]
            .delivered
            .iter()
            .any(|id| workers[1].delivered.contains(id)),
        "{workers:?}"
    );
    handle.shutdown();
    finished(run).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_is_skipped_and_the_next_task_runs() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let runs = Arc::new(Runs::default());
    let notices = Notices::default();
    let worker = builder(&tasks)
        .on_notice(notices.callback())
        .handler(echo(&runs));
    let (handle, run) = start(&emulator, worker).await;
    // A task the emulator knows (not pending: not dispatched by itself),
    // delivered with an `id` that is not a string: no task to run or save,
    // skipped; the stored one is left alone.
    emulator
        .seed_task(
            json!({"id": "task-bad", "agent_id": AGENT, "organization_id": "org-emulator",
            "input": {"text": "x"}, "created_at": "2026-11-28T03:38:30Z", "status": "executing"}),
        )
        .unwrap();
    let bad = json!({"id": ["task-bad"], "agent_id": AGENT, "organization_id": "org-emulator",
        "input": {"text": "x"}, "status": "pending"});
    assert!(emulator.dispatch_raw(AGENT, &bad.to_string()).is_some());
    // Not JSON at all: no id to report, skipped.
    assert!(emulator.dispatch_raw(AGENT, "{\"id\": ").is_some());
    let good = create(&emulator, AGENT, "after");
    until("the good task completed", || {
        status(&emulator, &good) == "completed"
    })
    .await;
    until("the bad delivery noticed", || notices.any("`id`")).await;
    assert_eq!(status(&emulator, "task-bad"), "executing");
    assert_eq!(runs.get("task-bad"), 0);
    assert_eq!(runs.get(&good), 1);
    assert!(notices.any("dropped") || notices.any("skipped"));
    // Still the first connection: nothing crashed.
    let workers = emulator.workers();
    assert_eq!(workers.len(), 1);
    assert!(workers[0].connected);
    handle.shutdown();
    finished(run).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_what_finishes_saves_error_for_the_rest_and_runs_the_hooks() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let runs = Arc::new(Runs::default());
    let notices = Notices::default();
    let gate = gate();
    let booted = Arc::new(AtomicBool::new(false));
    let hooked = Arc::new(AtomicBool::new(false));
    let (r, g) = (runs.clone(), gate.clone());
    let (b, h) = (booted.clone(), hooked.clone());
    let worker = builder(&tasks)
        .concurrency(3)
        .queue(2)
        // Long enough that the quick handler, released after the stop
        // began, finishes inside it on a loaded machine; the other two
        // wait it out, so it also sets the test's length.
        .shutdown_grace(Duration::from_secs(2))
        .on_notice(notices.callback())
        .on_boot(move || async move {
            b.store(true, Ordering::SeqCst);
            Ok::<(), BoxError>(())
        })
        .on_shutdown(move || async move { h.store(true, Ordering::SeqCst) })
        .handler(move |mut task: Task, ctx: TaskContext| {
            let (runs, gate) = (r.clone(), g.clone());
            async move {
                runs.add(&task.id);
                match task.input.text.as_str() {
                    "quick" => pass(&gate).await,
                    // Stops on its token; its result is not used.
                    "cooperative" => ctx.cancelled().await,
                    // Ignores its token: abandoned.
                    _ => std::future::pending::<()>().await,
                }
                task.result = Some(format!("echo: {}", task.input.text));
                Ok::<_, BoxError>(task)
            }
        })
        .build()
        .unwrap();
    assert!(!booted.load(Ordering::SeqCst), "nothing runs before run()");
    let (handle, run) = spawn(worker);
    until("a registered worker", || {
        connected(&emulator, AGENT).len() == 1
    })
    .await;
    assert!(booted.load(Ordering::SeqCst));
    let quick = create(&emulator, AGENT, "quick");
    let cooperative = create(&emulator, AGENT, "cooperative");
    let stuck = create(&emulator, AGENT, "stuck");
    let queued: Vec<String> = (0..2)
        .map(|i| create(&emulator, AGENT, &format!("q{i}")))
        .collect();
    until("three running", || runs.total() == 3).await;
    until("two queued", || emulator.workers()[0].delivered.len() == 5).await;

    handle.shutdown();
    until("the worker stopping", || notices.any("stopping")).await;
    // Finishes within the grace: drained, saved as usual.
    gate.add_permits(1);
    let exit = finished(run).await.unwrap();
    assert_eq!(exit.reason, ExitReason::Shutdown);
    assert_eq!(exit.abandoned, std::slice::from_ref(&stuck));
    assert!(hooked.load(Ordering::SeqCst), "the shutdown hooks ran");

    assert_eq!(status(&emulator, &quick), "completed");
    assert_eq!(result(&emulator, &quick), "echo: quick");
    for id in [&cooperative, &stuck] {
        assert_eq!(status(&emulator, id), "error", "{id}: never completed");
        assert_eq!(result(&emulator, id), SHUTDOWN_MESSAGE);
    }
    // The queued tasks never ran: unclaimed, left to the dispatch.
    for id in &queued {
        assert_eq!(runs.get(id), 0);
        assert_eq!(status(&emulator, id), "pending");
    }
    assert_eq!(
        emulator.queued(AGENT),
        queued,
        "back in the dispatch's queue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_over_its_deadline_is_saved_error_timeout() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let seen_deadline = Arc::new(Mutex::new(None));
    let seen = seen_deadline.clone();
    let worker = builder(&tasks)
        .task_deadline(Duration::from_millis(200))
        .handler(move |mut task: Task, ctx: TaskContext| {
            let seen = seen.clone();
            async move {
                *seen.lock().unwrap() = Some((ctx.deadline().is_some(), ctx.attempt()));
                if task.input.text == "slow" {
                    ctx.cancelled().await;
                    task.result = Some("too late".into());
                } else {
                    task.result = Some("quick".into());
                }
                Ok::<_, BoxError>(task)
            }
        });
    let (handle, run) = start(&emulator, worker).await;
    let slow = create(&emulator, AGENT, "slow");
    until("the slow task settled", || {
        status(&emulator, &slow) == "error"
    })
    .await;
    let message = result(&emulator, &slow);
    assert!(message.as_str().unwrap().contains("timeout"), "{message}");
    assert_eq!(*seen_deadline.lock().unwrap(), Some((true, 1)));
    // The slot is free again.
    let quick = create(&emulator, AGENT, "quick");
    until("the next task completed", || {
        status(&emulator, &quick) == "completed"
    })
    .await;
    handle.shutdown();
    assert!(finished(run).await.unwrap().abandoned.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_go_once_per_task_with_tokens_even_when_the_final_save_is_retried() {
    let emulator = emulator();
    // No client retries: the worker's own retries of the final save show.
    let tasks = client_with(&emulator, RetryPolicy::disabled());
    let gate = gate();
    let notices = Notices::default();
    let worker = builder(&tasks)
        .on_notice(notices.callback())
        .handler(gated(&gate, |task| {
            if task.input.text == "tokens" {
                task.tokens = Some(Tokens::new(10, 5));
            }
            task.result = Some("done".into());
        }));
    let (handle, run) = start(&emulator, worker).await;
    let with = create(&emulator, AGENT, "tokens");
    let without = create(&emulator, AGENT, "plain");
    until("both claimed", || {
        status(&emulator, &with) == "executing" && status(&emulator, &without) == "executing"
    })
    .await;
    // The next two saves of `with` fail: its final save is tried thrice.
    let update = format!("/agent-execution/{with}/update");
    emulator.inject(
        Fault::on("PATCH", &update)
            .times(2)
            .respond(503, json!({"detail": "busy"})),
    );
    gate.add_permits(2);
    until("both completed", || {
        status(&emulator, &with) == "completed" && status(&emulator, &without) == "completed"
    })
    .await;
    until("the metrics report", || {
        !emulator.metrics_reports().is_empty()
    })
    .await;
    handle.shutdown();
    finished(run).await.unwrap();

    let reports = emulator.metrics_reports();
    assert_eq!(reports.len(), 1, "once, and only for the task with tokens");
    let report = &reports[0].report;
    assert_eq!(report["execution_id"], with.as_str());
    assert_eq!(report["llm_tokens"]["worker"]["prompt_tokens"], 10);
    assert_eq!(report["llm_tokens"]["worker"]["completion_tokens"], 5);
    // The claim, then three attempts of the final save.
    assert_eq!(requests_to(&emulator, "PATCH", &update).len(), 4);
    assert!(notices.any("attempt 1 of 5"), "the retry is told");
    // One read before the claim and one reload per task.
    assert_eq!(
        requests_to(&emulator, "GET", &format!("/agent-execution/{with}/status")).len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_save_keeps_a_stop_made_on_the_server_meanwhile() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let gate = gate();
    let worker = builder(&tasks).handler(gated(&gate, |task| {
        task.result = Some("finished anyway".into());
    }));
    let (handle, run) = start(&emulator, worker).await;
    let id = create(&emulator, AGENT, "long job");
    until("claimed", || status(&emulator, &id) == "executing").await;
    tasks.astop(&id).await.unwrap();
    gate.add_permits(1);
    until("the final save", || {
        requests_to(&emulator, "PATCH", &format!("/agent-execution/{id}/update")).len() == 2
    })
    .await;
    let task = emulator.task(&id).unwrap();
    assert_eq!(task["status"], "stopped", "not overwritten with completed");
    assert_eq!(task["is_manually_stopped"], true);
    assert_eq!(task["result"], "finished anyway");
    handle.shutdown();
    finished(run).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_updates_are_ordered_and_sent_only_on_change() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let gate = gate();
    // Tokens, so that each task's metrics report (sent once the worker has
    // read its final save's answer, the moment its slot is free) tells the
    // test the worker holds nothing before the next round.
    let worker = builder(&tasks)
        .concurrency(2)
        .queue(0)
        .handler(gated(&gate, |task| task.tokens = Some(Tokens::new(1, 1))));
    let (handle, run) = start(&emulator, worker).await;
    let updates = |emulator: &Emulator| emulator.workers()[0].capacity_updates.clone();
    for round in 1..=3 {
        let ids: Vec<String> = (0..2)
            .map(|i| create(&emulator, AGENT, &format!("r{round}-{i}")))
            .collect();
        until("busy", || updates(&emulator).len() == 2 * round - 1).await;
        gate.add_permits(2);
        until("free", || updates(&emulator).len() == 2 * round).await;
        until("the round's tasks completed", || {
            ids.iter().all(|id| status(&emulator, id) == "completed")
        })
        .await;
        until("the round's saves read by the worker", || {
            emulator.metrics_reports().len() == 2 * round
        })
        .await;
    }
    // One running task of two: still free, no update.
    let one = create(&emulator, AGENT, "alone");
    gate.add_permits(1);
    until("the last task completed", || {
        status(&emulator, &one) == "completed"
    })
    .await;
    handle.shutdown();
    finished(run).await.unwrap();
    assert_eq!(
        updates(&emulator),
        [true, false, true, false, true, false],
        "alternating: each a change, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_conflict_ends_the_run_cleanly() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let hooked = Arc::new(AtomicBool::new(false));
    let h = hooked.clone();
    let worker = builder(&tasks)
        .on_shutdown(move || async move { h.store(true, Ordering::SeqCst) })
        .handler(echo(&Arc::new(Runs::default())));
    let (_handle, run) = start(&emulator, worker).await;
    assert_eq!(
        emulator.send_conflict(AGENT, "agent already served elsewhere"),
        1
    );
    let exit = finished(run).await.unwrap();
    assert_eq!(
        exit.reason,
        ExitReason::Conflict {
            message: "agent already served elsewhere".into()
        }
    );
    assert!(hooked.load(Ordering::SeqCst));
    assert_eq!(emulator.workers().len(), 1, "no reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_boot_hook_aborts_the_run_before_any_request_and_the_shutdown_hooks_run() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let hooked = Arc::new(AtomicBool::new(false));
    let h = hooked.clone();
    let worker = builder(&tasks)
        .on_boot(|| async { Err::<(), _>(std::io::Error::other("no database")) })
        .on_shutdown(move || async move { h.store(true, Ordering::SeqCst) })
        .handler(echo(&Arc::new(Runs::default())))
        .build()
        .unwrap();
    match worker.run().await {
        Err(RunError::Boot(error)) => assert_eq!(error.to_string(), "no database"),
        other => panic!("{other:?}"),
    }
    assert!(hooked.load(Ordering::SeqCst));
    assert!(
        emulator.requests().is_empty(),
        "the stream was never opened"
    );
}

#[test]
fn building_needs_an_agent_a_handler_and_an_organization_and_does_no_io() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let no_agent = Worker::builder(tasks.clone()).handler(echo(&Arc::new(Runs::default())));
    let error = no_agent.build().unwrap_err();
    assert!(error.to_string().contains("XPANDER_AGENT_ID"), "{error}");
    let no_handler = Worker::builder(tasks.clone())
        .agent_id(AGENT)
        .build()
        .unwrap_err();
    assert!(no_handler.to_string().contains("handler"), "{no_handler}");
    let no_org = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .build()
        .unwrap();
    let error = Worker::builder(no_org)
        .agent_id(AGENT)
        .handler(echo(&Arc::new(Runs::default())))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("organization"), "{error}");
    let worker = builder(&tasks)
        .handler(echo(&Arc::new(Runs::default())))
        .build()
        .unwrap();
    assert_eq!(worker.agent_id(), AGENT);
    // No tokio runtime here, and no request was made.
    assert!(emulator.requests().is_empty());
    assert_eq!(emulator.connections_accepted(), 0);
}

// A current-thread runtime: the two blocking handlers can only meet at the
// barrier if they run on threads of their own.
#[tokio::test]
async fn blocking_handlers_run_off_the_async_threads_and_can_push_events() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let b = barrier.clone();
    let worker =
        builder(&tasks)
            .concurrency(2)
            .blocking_handler(move |mut task: Task, ctx: TaskContext| {
                b.wait();
                ctx.push_blocking(ctx.event(
                    TaskEventType::Chunk,
                    EventPayload::Text(format!("from {}", task.input.text)),
                ))?;
                task.result = Some(format!("blocking: {}", task.input.text));
                Ok(task)
            });
    let (handle, run) = start(&emulator, worker).await;
    let a = create(&emulator, AGENT, "a");
    let b = create(&emulator, AGENT, "b");
    until("both completed", || {
        status(&emulator, &a) == "completed" && status(&emulator, &b) == "completed"
    })
    .await;
    assert_eq!(result(&emulator, &a), "blocking: a");
    let chunks: Vec<Value> = emulator
        .events(&a)
        .iter()
        .filter(|e| e.kind() == Some("chunk"))
        .map(|e| e.envelope["data"].clone())
        .collect();
    assert_eq!(chunks, [json!("from a")]);
    handle.shutdown();
    finished(run).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_gateway_reaches_the_handler_and_is_never_saved() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let worker = builder(&tasks).handler(move |task: Task, ctx: TaskContext| {
        let seen = s.clone();
        async move {
            let gateway = ctx.llm_gateway().expect("a gateway");
            *seen.lock().unwrap() = Some((
                gateway.base_url().map(str::to_owned),
                gateway.token().map(str::to_owned),
                format!("{ctx:?}"),
            ));
            Ok::<_, BoxError>(task)
        }
    });
    let (handle, run) = start(&emulator, worker).await;
    emulator
        .seed_task(
            json!({"id": "task-gw", "agent_id": AGENT, "organization_id": "org-emulator",
            "input": {"text": "x"}, "created_at": "2026-11-28T03:38:30Z", "status": "pending",
            "payload_extension": {"llm_gateway": {"base_url": "https://llm-gw.example",
            "token": "run-token"}, "custom_field": "kept"}}),
        )
        .unwrap();
    until("completed", || status(&emulator, "task-gw") == "completed").await;
    let (base_url, token, debug) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(base_url.as_deref(), Some("https://llm-gw.example"));
    assert_eq!(token.as_deref(), Some("run-token"));
    assert!(!debug.contains("run-token"), "{debug}");
    for request in requests_to(&emulator, "PATCH", "task-gw") {
        assert!(!request.body.contains("run-token"), "{}", request.body);
        assert!(!request.body.contains("llm_gateway"), "{}", request.body);
        if request.json.as_ref().unwrap()["status"] == "executing" {
            // The claim: its status only.
            assert_eq!(request.json.unwrap(), json!({"status": "executing"}));
            continue;
        }
        assert_eq!(
            request.json.unwrap()["payload_extension"]["custom_field"],
            "kept"
        );
    }
    handle.shutdown();
    finished(run).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_until_a_future_and_a_second_request_cuts_the_grace_short() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let notices = Notices::default();
    let running = Arc::new(AtomicBool::new(false));
    let r = running.clone();
    let worker = builder(&tasks)
        // A grace no test waits for: the second request ends it.
        .shutdown_grace(Duration::from_secs(3600))
        .on_notice(notices.callback())
        .handler(move |task: Task, _ctx: TaskContext| {
            let running = r.clone();
            async move {
                running.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await;
                Ok::<_, BoxError>(task)
            }
        })
        .build()
        .unwrap();
    let handle = worker.shutdown_handle();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(worker.run_until(async move {
        let _ = stop_rx.await;
    }));
    until("a registered worker", || {
        connected(&emulator, AGENT).len() == 1
    })
    .await;
    let id = create(&emulator, AGENT, "forever");
    // The handler itself, not the server's `executing`: the claim can be
    // applied on the server before the worker has its answer, and a claim
    // answered after the grace is cut never runs (nor is abandoned; see
    // the core test `a_claim_answered_after_the_grace_was_cut_...`).
    until("the handler running", || running.load(Ordering::SeqCst)).await;
    stop_tx.send(()).unwrap();
    until("the worker stopping", || notices.any("stopping")).await;
    handle.shutdown();
    let exit = finished(run).await.unwrap();
    assert_eq!(exit.abandoned, std::slice::from_ref(&id));
    assert_eq!(status(&emulator, &id), "error");
    assert_eq!(result(&emulator, &id), SHUTDOWN_MESSAGE);
}

// The only test that lets the worker listen to signals. SIGTERM goes to the
// whole test process, but the other workers here do not listen, and
// tokio's handler, installed before the signal is sent, keeps it from
// killing the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_the_worker_down_gracefully() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let hooked = Arc::new(AtomicBool::new(false));
    let h = hooked.clone();
    let gate = gate();
    let notices = Notices::default();
    let worker = Worker::builder(tasks.clone())
        .agent_id("agent-signal")
        .policy(policy())
        .on_notice(notices.callback())
        .on_shutdown(move || async move { h.store(true, Ordering::SeqCst) })
        .handler(gated(&gate, |task| task.result = Some("drained".into())))
        .build()
        .unwrap();
    let run = tokio::spawn(worker.run());
    until("a registered worker", || {
        connected(&emulator, "agent-signal").len() == 1
    })
    .await;
    let id = create(&emulator, "agent-signal", "in flight");
    until("running", || status(&emulator, &id) == "executing").await;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    until("the worker stopping", || notices.any("stopping")).await;
    gate.add_permits(1);
    let exit = finished(run).await.unwrap();
    assert_eq!(exit.reason, ExitReason::Shutdown);
    assert!(hooked.load(Ordering::SeqCst));
    assert_eq!(status(&emulator, &id), "completed");
    assert_eq!(result(&emulator, &id), "drained");
}

// ----- the wire of the official runtime ---------------------------------------------------

const CAPTURE: &str = include_str!("fixtures/official-python-runtime.json");

/// One request, reduced to what the contract fixes: method, path (worker
/// ids as `{worker}`), query, and body keys (the `data` keys of a worker
/// event too).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    method: String,
    path: String,
    query: BTreeMap<String, Vec<String>>,
    event: Option<String>,
    keys: BTreeSet<String>,
    data_keys: BTreeSet<String>,
}

fn keys(value: Option<&Value>) -> BTreeSet<String> {
    value
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Worker ids as `{worker}`, task ids as `{task}`.
fn shape(
    method: &str,
    path: &str,
    query: BTreeMap<String, Vec<String>>,
    body: Option<&Value>,
    workers: &[String],
) -> Shape {
    let path = workers.iter().fold(path.to_owned(), |p, w| {
        p.replace(&format!("/events/{w}"), "/events/{worker}")
    });
    let path = match path.strip_prefix("/agent-execution/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, tail)) => format!("/agent-execution/{{task}}/{tail}"),
            None => path,
        },
        None => path,
    };
    Shape {
        method: method.to_owned(),
        path,
        query,
        event: body.and_then(|b| b["event"].as_str()).map(str::to_owned),
        keys: keys(body),
        data_keys: keys(body.and_then(|b| b.get("data"))),
    }
}

fn parse_query(query: &str) -> BTreeMap<String, Vec<String>> {
    let mut parsed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        parsed.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    parsed
}

/// The official runtime's requests of the scenarios that apply (the SSE
/// path: `main`'s tasks, `capacity`'s capacity updates), as shapes.
fn official_shapes() -> Vec<(Shape, Value)> {
    let capture: Value = serde_json::from_str(CAPTURE).unwrap();
    let mut shapes = Vec::new();
    for scenario in capture["scenarios"].as_array().unwrap() {
        if !["main", "capacity"].contains(&scenario["scenario"].as_str().unwrap()) {
            continue;
        }
        for record in scenario["records"].as_array().unwrap() {
            if record["kind"] != "request" {
                continue;
            }
            let path = record["path"].as_str().unwrap();
            // The /invoke server's calls and the other tasks of `main`
            // (json, promise: the plan and promise re-runs, which this
            // runtime does not make behind the handler's back).
            if path.starts_with("/metadata") || path.starts_with("/agents/") {
                continue;
            }
            let query: BTreeMap<String, Vec<String>> =
                serde_json::from_value(record["query"].clone()).unwrap();
            let workers = [
                "worker-1".to_owned(),
                "worker-2".to_owned(),
                "worker-c".to_owned(),
            ];
            let body = record.get("body").filter(|b| !b.is_null());
            shapes.push((
                shape(
                    record["method"].as_str().unwrap(),
                    path,
                    query,
                    body,
                    &workers,
                ),
                body.cloned().unwrap_or(Value::Null),
            ));
        }
    }
    shapes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wire_matches_the_official_runtime_capture() {
    let emulator = Emulator::builder()
        .organization_id("org-test")
        .start()
        .unwrap();
    let tasks = client(&emulator);
    let worker = Worker::builder(tasks)
        .agent_id("agent-test")
        .policy(policy())
        .handle_signals(false)
        // One slot: the first claim makes the worker busy (a capacity update).
        .concurrency(1)
        .handler(|mut task: Task, _ctx: TaskContext| async move {
            if task.input.text == "fail" {
                return Err::<Task, BoxError>("boom: handler failed on purpose".into());
            }
            task.result = Some(format!("echo: {}", task.input.text));
            task.tokens = Some(Tokens::new(10, 5));
            Ok(task)
        });
    let (handle, run) = start(&emulator, worker).await;
    // The tasks as the capture's stream delivered them.
    let capture: Value = serde_json::from_str(CAPTURE).unwrap();
    let sent = capture["scenarios"][0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r.get("sse_sent"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    for event in &sent {
        let id = event["data"]["id"].as_str().unwrap_or_default();
        if event["event"] == "agent-execution" && ["task-ok", "task-fail"].contains(&id) {
            emulator.seed_task(event["data"].clone()).unwrap();
        }
    }
    until("both tasks settled", || {
        status(&emulator, "task-ok") == "completed" && status(&emulator, "task-fail") == "error"
    })
    .await;
    until("the metrics and the last capacity update", || {
        !emulator.metrics_reports().is_empty() && emulator.workers()[0].capacity_updates.len() >= 2
    })
    .await;
    // A heartbeat after the first (the interval's) is no different.
    handle.shutdown();
    finished(run).await.unwrap();

    let workers: Vec<String> = emulator.workers().iter().map(|w| w.id.clone()).collect();
    let ours: Vec<(Shape, Value)> = emulator
        .requests()
        .iter()
        .map(|r| {
            let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
            (
                shape(
                    &r.method,
                    path,
                    parse_query(query),
                    r.json.as_ref(),
                    &workers,
                ),
                r.json.clone().unwrap_or(Value::Null),
            )
        })
        .collect();
    let official = official_shapes();

    // The stream, heartbeats, capacity updates, reloads and metrics: the
    // very same shape (body keys included) as one the official runtime sent.
    let exact = |s: &Shape| {
        s.path.contains("/events/")
            || s.path.ends_with("/status")
            || s.path.starts_with("/agents-metrics")
    };
    for (ours, _) in ours.iter().filter(|(s, _)| exact(s)) {
        assert!(
            official.iter().any(|(o, _)| o == ours),
            "no request of the official runtime has this shape: {ours:#?}"
        );
    }
    for kind in ["worker-heartbeat", "worker-capacity-update"] {
        assert!(
            ours.iter().any(|(s, _)| s.event.as_deref() == Some(kind)),
            "{kind}"
        );
    }
    // The saves: the same method, path and query; the body is the task as
    // delivered plus what the runtime owns, so its keys are the official
    // ones less those the delivery did not carry and less the credentials.
    let official_patch_keys: BTreeSet<String> = official
        .iter()
        .filter(|(s, _)| s.method == "PATCH")
        .flat_map(|(s, _)| s.keys.clone())
        .collect();
    let saves: Vec<&(Shape, Value)> = ours.iter().filter(|(s, _)| s.method == "PATCH").collect();
    assert_eq!(saves.len(), 4, "a claim and a final save per task");
    for (save, body) in &saves {
        assert!(official
            .iter()
            .any(|(o, _)| o.method == "PATCH" && o.path == save.path && o.query == save.query));
        assert!(
            save.keys.is_subset(&official_patch_keys),
            "keys the official runtime never sends: {:?}",
            save.keys
                .difference(&official_patch_keys)
                .collect::<Vec<_>>()
        );
        // The claim is a partial update: its status only (the official
        // runtime sends the whole task back, a stale copy of the rest).
        if body["status"] == "executing" {
            assert_eq!(
                save.keys,
                BTreeSet::from(["status".to_owned()]),
                "the claim: {body}"
            );
            continue;
        }
        for key in [
            "id",
            "agent_id",
            "organization_id",
            "input",
            "status",
            "created_at",
        ] {
            assert!(save.keys.contains(key), "{key} in {body}");
        }
        for secret in ["user_oidc_token", "user_tokens"] {
            assert!(!save.keys.contains(secret));
        }
    }
    let ok_final = &saves
        .iter()
        .rev()
        .find(|(s, b)| s.method == "PATCH" && b["id"] == "task-ok")
        .unwrap()
        .1;
    assert_eq!(ok_final["status"], "completed");
    assert_eq!(ok_final["result"], "echo: ok");
    assert!(ok_final["tokens"].is_object());
    let fail_final = &saves
        .iter()
        .rev()
        .find(|(s, b)| s.method == "PATCH" && b["id"] == "task-fail")
        .unwrap()
        .1;
    assert_eq!(fail_final["status"], "error");
    assert_eq!(fail_final["result"], "boom: handler failed on purpose");
    // The metrics body: the official one's keys, and its values where they
    // do not depend on the run.
    let (_, official_metrics) = official
        .iter()
        .find(|(s, b)| s.path.starts_with("/agents-metrics") && b["execution_id"] == "task-ok")
        .unwrap();
    let (_, our_metrics) = ours
        .iter()
        .find(|(s, _)| s.path.starts_with("/agents-metrics"))
        .unwrap();
    for key in [
        "execution_id",
        "source",
        "memory_thread_id",
        "task",
        "status",
        "result",
        "llm_tokens",
    ] {
        assert_eq!(our_metrics[key], official_metrics[key], "metrics {key}");
    }
}

// ----- load -------------------------------------------------------------------------------

/// 10,000 trivial tasks through 4 workers at concurrency 16, with 5% of the
/// saves (claims, releases, final saves) answered 503: every task ends
/// `completed`, none runs twice. (About 40 s in a debug build on 2 busy
/// cores, 7 s in release; no timing is asserted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_10000_tasks_through_4_workers_of_16_with_503s_on_saves() {
    const TASKS: usize = 10_000;
    let emulator = Emulator::builder()
        .request_log_limit(100_000)
        .keep_alive_interval(Duration::from_millis(50))
        .start()
        .unwrap();
    emulator.inject(
        Fault::on("PATCH", "/agent-execution/*")
            .always()
            .probability(0.05)
            .respond(503, json!({"detail": "Service Unavailable"})),
    );
    let tasks = client(&emulator);
    let runs = Arc::new(Runs::default());
    let mut workers = Vec::new();
    for _ in 0..4 {
        let worker = builder(&tasks)
            .concurrency(16)
            .handler(echo(&runs))
            .build()
            .unwrap();
        workers.push(spawn(worker));
    }
    until("four registered workers", || {
        connected(&emulator, AGENT).len() == 4
    })
    .await;
    let started = Instant::now();
    let ids = emulator.create_tasks(AGENT, TASKS, |i| format!("load {i}"));
    let done = || {
        emulator
            .tasks()
            .iter()
            .filter(|t| t["status"] == "completed")
            .count()
    };
    let start = Instant::now();
    // Cheap first (the handlers' count), then the store.
    while runs.total() < TASKS {
        assert!(
            start.elapsed() < PATIENCE * 3,
            "gave up: {} of {TASKS} ran",
            runs.total()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("load: all ran in {:?}", started.elapsed());
    while done() < TASKS {
        assert!(
            start.elapsed() < PATIENCE * 3,
            "gave up: {} of {TASKS}",
            done()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("load: {TASKS} tasks in {:?}", started.elapsed());
    let deliveries: usize = ids.iter().map(|id| emulator.deliveries(id).len()).sum();
    eprintln!(
        "load: {} requests, {deliveries} deliveries",
        emulator.requests_received()
    );
    assert_eq!(runs.total(), TASKS, "no task ran twice");
    // The 503s did happen: some final saves were sent again.
    let final_saves = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .filter(|r| r.json.as_ref().is_some_and(|j| j["status"] == "completed"))
        .count();
    assert!(
        final_saves > TASKS,
        "{final_saves} final saves for {TASKS} tasks"
    );
    for id in &ids {
        assert_eq!(runs.get(id), 1, "task {id}");
    }
    for (handle, run) in workers {
        handle.shutdown();
        finished(run).await.unwrap();
    }
}

/// Readiness for a probe: false before the run, true once registered (and
/// again after a reconnection), false once stopping; its waiter ends when
/// the worker is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_stream_and_the_shutdown() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let worker = builder(&tasks)
        .handler(|task: Task, _ctx: TaskContext| async move { Ok::<_, BoxError>(task) })
        .build()
        .unwrap();
    let mut readiness = worker.readiness();
    assert!(!readiness.is_ready(), "nothing before run()");
    let (handle, run) = spawn(worker);
    let registered = tokio::time::timeout(PATIENCE, readiness.wait_for(true));
    assert!(registered.await.expect("registered in time"));
    assert_eq!(connected(&emulator, AGENT).len(), 1);

    // The server ends the stream and holds the reconnection: not ready
    // until the new registration.
    let first = connected(&emulator, AGENT)[0].id.clone();
    let path = format!("/{}/events/{AGENT}/", emulator.organization_id());
    emulator.inject(Fault::on("GET", &path).hold());
    assert_eq!(emulator.close_agent_streams(AGENT), 1);
    let down = tokio::time::timeout(PATIENCE, readiness.wait_for(false));
    assert!(down.await.expect("not ready while the stream is down"));
    emulator.release(1);
    until("a new registration", || {
        let now = connected(&emulator, AGENT);
        now.len() == 1 && now[0].id != first
    })
    .await;
    let again = tokio::time::timeout(PATIENCE, readiness.wait_for(true));
    assert!(again.await.expect("ready again in time"));

    handle.shutdown();
    let mut stopping = readiness.clone();
    assert!(tokio::time::timeout(PATIENCE, stopping.wait_for(false))
        .await
        .expect("not ready once stopping"));
    finished(run).await.unwrap();
    assert!(!readiness.is_ready());
    assert!(
        !readiness.wait_for(true).await,
        "the worker is gone: the wait ends, unready"
    );

    // A run future dropped while ready (aborted, or cut by a timeout): the
    // readiness says false, not the last value published.
    let worker = builder(&tasks)
        .handler(|task: Task, _ctx: TaskContext| async move { Ok::<_, BoxError>(task) })
        .build()
        .unwrap();
    let mut readiness = worker.readiness();
    let (_handle, run) = spawn(worker);
    let registered = tokio::time::timeout(PATIENCE, readiness.wait_for(true));
    assert!(registered.await.expect("registered in time"));
    run.abort();
    let _ = run.await;
    assert!(!readiness.is_ready(), "a dropped run is not ready");
}

// ----- bounded side calls (issue #18 point 5) ---------------------------------------------

/// A burst of deliveries far beyond the intake queue: the releases it
/// makes go at most `MAX_SIDE_CALLS` at a time, the rest waiting their
/// turn. Observed at the emulator, which holds every update until the test
/// lets one go: the updates it holds (received, not answered) never
/// outnumber the cap (plus the one slot's claim).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_queue_never_has_more_than_the_cap_of_releases_in_flight() {
    use xpander_sdk::sans_io::worker::MAX_SIDE_CALLS;
    let emulator = Emulator::builder()
        .keep_alive_interval(Duration::from_millis(50))
        // No window: the whole backlog goes to the worker at once.
        .dispatch_window(0)
        .start()
        .expect("the emulator starts");
    let tasks = client(&emulator);
    let n = 40;
    // Created before any worker: they wait, and go out as one burst.
    let ids: Vec<String> = (0..n)
        .map(|i| create(&emulator, AGENT, &format!("t{i}")))
        .collect();
    emulator.inject(Fault::on("PATCH", "/agent-execution/*").always().hold());
    let patches = || requests_to(&emulator, "PATCH", "/update").len();
    let gate = gate();
    let worker = builder(&tasks)
        .concurrency(1)
        .queue(1)
        .handler(gated(&gate, |task| task.result = Some("done".into())));
    let (handle, run) = start(&emulator, worker).await;
    // One claim (the slot) and the first releases: held, and no more.
    let cap = MAX_SIDE_CALLS as u64;
    until("the claim and the first releases held", || {
        emulator.held() > cap
    })
    .await;
    assert_eq!(emulator.held(), cap + 1);
    assert_eq!(patches(), MAX_SIDE_CALLS + 1);
    // One answer at a time (a release, or the claim: its handler then
    // waits at the gate): each answer lets at most one more out, and the
    // updates held (received, not answered) never exceed the cap plus the
    // claim.
    let claimed = || ids.iter().any(|id| status(&emulator, id) == "executing");
    for _ in 0..12 {
        let (sent, was_claimed) = (patches(), claimed());
        emulator.release(1);
        // Settled: the claim answered (no update follows), or a release
        // answered and the next one arrived (more always wait).
        until("the answer and what it lets out", || {
            patches() > sent || (!was_claimed && claimed())
        })
        .await;
        assert!(emulator.held() <= cap + 1, "{} held", emulator.held());
        assert!(patches() <= sent + 1, "one answer, at most one more");
    }
    // The rest flows; every task completes once.
    emulator.clear_faults();
    emulator.release(10_000);
    gate.add_permits(n);
    until("every task completed", || {
        ids.iter().all(|id| status(&emulator, id) == "completed")
    })
    .await;
    handle.shutdown();
    finished(run).await.unwrap();
}

// ----- stale deliveries (issue #18 point 1) -------------------------------------------------

/// A copy delivered `pending` of a task stopped (or finished) since: the
/// worker reads the task before its claim, sees it finished, and neither
/// runs it nor writes to it (the stop, its flag and the stored result
/// stay). The fresh task next to them runs as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_delivery_of_a_stopped_or_finished_task_is_neither_run_nor_written() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let runs = Arc::new(Runs::default());
    let notices = Notices::default();
    // Created with no worker connected, then stopped / finished: their
    // `pending` copies are what a late delivery carries.
    let stopped = create(&emulator, AGENT, "stop me");
    let stopped_copy = emulator.task(&stopped).unwrap();
    emulator
        .update_task(
            &stopped,
            json!({"status": "stopped", "is_manually_stopped": true}),
        )
        .unwrap();
    let done = create(&emulator, AGENT, "done elsewhere");
    let done_copy = emulator.task(&done).unwrap();
    emulator
        .update_task(&done, json!({"status": "completed", "result": "kept"}))
        .unwrap();
    assert_eq!(stopped_copy["status"], "pending");
    let worker = builder(&tasks)
        .on_notice(notices.callback())
        .handler(echo(&runs));
    let (handle, run) = start(&emulator, worker).await;
    emulator
        .dispatch_raw(AGENT, &stopped_copy.to_string())
        .unwrap();
    emulator
        .dispatch_raw(AGENT, &done_copy.to_string())
        .unwrap();
    let fresh = create(&emulator, AGENT, "fresh");
    until(
        "the fresh task completed and both stale ones dropped",
        || {
            status(&emulator, &fresh) == "completed"
                && notices.any("already `stopped` on the server")
                && notices.any("already `completed` on the server")
        },
    )
    .await;
    handle.shutdown();
    finished(run).await.unwrap();
    assert_eq!((runs.get(&stopped), runs.get(&done)), (0, 0));
    assert_eq!(runs.get(&fresh), 1);
    let stopped_now = emulator.task(&stopped).unwrap();
    assert_eq!(stopped_now["status"], "stopped");
    assert_eq!(stopped_now["is_manually_stopped"], true);
    assert_eq!(status(&emulator, &done), "completed");
    assert_eq!(result(&emulator, &done), "kept");
    for id in [&stopped, &done] {
        assert!(requests_to(&emulator, "PATCH", id).is_empty(), "{id}");
        // One read, the one before the claim.
        assert_eq!(
            requests_to(&emulator, "GET", &format!("{id}/status")).len(),
            1
        );
    }
}

/// Review of #18 point 1: a task whose read before the claim always fails
/// (a 500 on its document, not retried by the transport) was released
/// after every failed read, and the dispatch delivered it again at once:
/// read, release, delivery, at network speed, for as long as the worker
/// ran. Now its reads stop after three failures in a row and it is left as
/// the server has it; a task next to it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_read_always_fails_is_not_released_in_a_loop() {
    let emulator = emulator();
    let tasks = client(&emulator);
    let runs = Arc::new(Runs::default());
    let notices = Notices::default();
    let broken = create(&emulator, AGENT, "unreadable");
    emulator.inject(
        Fault::on("GET", &format!("/agent-execution/{broken}/status"))
            .always()
            .respond(500, json!({"detail": "broken document"})),
    );
    let worker = builder(&tasks)
        .on_notice(notices.callback())
        .handler(echo(&runs));
    let (handle, run) = start(&emulator, worker).await;
    let fresh = create(&emulator, AGENT, "fresh");
    until(
        "the fresh task completed and the unreadable one left alone",
        || status(&emulator, &fresh) == "completed" && notices.any("times in a row"),
    )
    .await;
    handle.shutdown();
    finished(run).await.unwrap();
    assert_eq!(runs.get(&broken), 0);
    assert_eq!(runs.get(&fresh), 1);
    let releases = requests_to(&emulator, "PATCH", &broken);
    assert_eq!(releases.len(), 2, "two releases, then left alone");
    assert_eq!(status(&emulator, &broken), "pending");
}
