//! Many workers, real processes (issue #18): worker *processes* against one
//! emulator with a few thousand tasks; one is killed with SIGKILL and one
//! gets SIGTERM mid-run, and both are restarted. Every task ends terminal,
//! no task completes twice, and every task the killed worker did not hold
//! completes (what it held is failed by the emulator's orphan rule).
//!
//! The worker processes are this test binary itself, running the ignored
//! test `child_worker` with the emulator's address in its environment.
//! Every wait is on state (the emulator's tasks, a child's output or exit);
//! no timing is asserted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xpander_sdk::emulator::{Emulator, ORPHAN_MESSAGE};
use xpander_sdk::runtime::{BoxError, Notice, TaskContext, Worker, WorkerPolicy};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::{RetryPolicy, Task, Tasks};

const AGENT: &str = "agent-processes";
const TASKS: usize = 2_000;
const CONCURRENCY: usize = 4;
/// The longest any wait on state may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(240);
const BASE: &str = "XP_PROCESS_TEST_BASE_URL";
const KEY: &str = "XP_PROCESS_TEST_API_KEY";
const ORG: &str = "XP_PROCESS_TEST_ORG";

/// A worker process: serves `AGENT` until SIGTERM, printing its worker
/// ids (`XP-REGISTERED <id>`) and its exit (`XP-EXIT ...`). Without the
/// environment the parent test sets, it does nothing.
#[test]
#[ignore = "a worker process of many_worker_processes_..., started by that test"]
fn child_worker() {
    let (Ok(base), Ok(key), Ok(org)) =
        (std::env::var(BASE), std::env::var(KEY), std::env::var(ORG))
    else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let tasks = Tasks::builder()
            .base_url(base)
            .api_key(key)
            .organization_id(org)
            .retry(
                RetryPolicy::default()
                    .max_attempts(8)
                    .backoff(Duration::from_millis(1), Duration::from_millis(20)),
            )
            .build()
            .expect("the client builds");
        let policy = WorkerPolicy::default().stream(
            StreamPolicy::default()
                .initial_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(100)),
        );
        let worker = Worker::builder(tasks)
            .agent_id(AGENT)
            .policy(policy)
            .concurrency(CONCURRENCY)
            .handle_signals(true)
            .on_notice(|notice: &Notice| {
                if let Some(id) = notice.message.split("as worker ").nth(1) {
                    let id = id.split_whitespace().next().unwrap_or_default();
                    println!("XP-REGISTERED {id}");
                }
            })
            .handler(|mut task: Task, _ctx: TaskContext| async move {
                task.result = Some(format!("done: {}", task.input.text));
                Ok::<_, BoxError>(task)
            })
            .build()
            .expect("the worker builds");
        let exit = worker.run().await;
        println!("XP-EXIT {:?}", exit.map(|e| (e.reason, e.abandoned)));
    });
}

/// A running worker process and what it printed.
struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Process {
    fn start(emulator: &Emulator) -> Process {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "child_worker",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(BASE, emulator.base_url())
            .env(KEY, emulator.api_key())
            .env(ORG, emulator.organization_id())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the worker process starts");
        let stdout = child.stdout.take().expect("its stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Process {
            child,
            lines,
            reader: Some(reader),
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{name}");
    }

    /// Waits for the exit and the end of its output; the lines.
    fn wait(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.child.wait().expect("the process ends");
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the reader ends");
        }
        let lines = self.lines.lock().unwrap().clone();
        (status, lines)
    }

    fn registered(&self) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("XP-REGISTERED "))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed test leaves no worker behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn worker_ids(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        // libtest's `test child_worker ... ` may start the first line.
        .filter_map(|l| l.split("XP-REGISTERED ").nth(1))
        .map(|id| id.trim().to_owned())
        .collect()
}

/// Polls `ready` until it holds, failing after PATIENCE.
fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn statuses(emulator: &Emulator) -> BTreeMap<String, (String, String)> {
    emulator
        .tasks()
        .into_iter()
        .filter(|t| t["agent_id"] == AGENT)
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_owned(),
                (
                    t["status"].as_str().unwrap_or_default().to_owned(),
                    t["result"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

fn count(emulator: &Emulator, status: &str) -> usize {
    statuses(emulator)
        .values()
        .filter(|(s, _)| s == status)
        .count()
}

const TERMINAL: [&str; 4] = ["completed", "error", "failed", "stopped"];

#[test]
fn many_worker_processes_one_killed_one_terminated_every_task_ends_once() {
    let emulator = Emulator::builder()
        // A dead worker's disconnect is seen at the next write at the latest.
        .keep_alive_interval(Duration::from_millis(50))
        .orphan_timeout(Duration::from_secs(2))
        .request_log_limit(1_000_000)
        .start()
        .expect("the emulator starts");
    let mut workers: Vec<Process> = (0..3).map(|_| Process::start(&emulator)).collect();
    until("three registered workers", || {
        workers.iter().all(Process::registered)
    });
    let ids = emulator.create_tasks(AGENT, TASKS, |i| format!("job {i}"));
    assert_eq!(ids.len(), TASKS);

    // Mid-run: one worker killed, one asked to stop.
    until("a quarter completed", || {
        count(&emulator, "completed") >= TASKS / 4
    });
    let killed = workers.remove(0);
    killed.signal("KILL");
    let terminated = workers.remove(0);
    terminated.signal("TERM");
    let (killed_status, killed_lines) = killed.wait();
    assert!(!killed_status.success(), "SIGKILL ends it: {killed_status}");
    let killed_ids = worker_ids(&killed_lines);
    assert!(!killed_ids.is_empty());
    let (terminated_status, terminated_lines) = terminated.wait();
    assert!(
        terminated_status.success(),
        "SIGTERM drains and exits cleanly: {terminated_status} {terminated_lines:?}"
    );
    assert!(
        terminated_lines
            .iter()
            .any(|l| l.contains("XP-EXIT Ok((Shutdown, []))")),
        "{terminated_lines:?}"
    );
    assert!(
        count(&emulator, "completed") < TASKS,
        "still mid-run when both stopped (else raise TASKS)"
    );
    // Both restarted.
    workers.push(Process::start(&emulator));
    workers.push(Process::start(&emulator));

    until("every task terminal", || {
        statuses(&emulator)
            .values()
            .filter(|(s, _)| TERMINAL.contains(&s.as_str()))
            .count()
            == TASKS
    });
    for worker in workers.drain(..) {
        worker.signal("TERM");
        let (status, lines) = worker.wait();
        assert!(status.success(), "{status} {lines:?}");
    }

    // No task completed twice: one `completed` save per task at most.
    let mut completions: BTreeMap<String, usize> = BTreeMap::new();
    for request in emulator.requests() {
        let completed = request.method == "PATCH"
            && request
                .json
                .as_ref()
                .is_some_and(|j| j["status"] == "completed");
        if completed {
            let id = request
                .path
                .trim_end_matches("/update")
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            *completions.entry(id).or_default() += 1;
        }
    }
    let twice: Vec<_> = completions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "completed more than once: {twice:?}");

    // Every task completed, but those the killed worker held (claimed and
    // not finished when it died): the orphan rule failed them.
    let statuses = statuses(&emulator);
    let mut held = Vec::new();
    for id in &ids {
        let (status, result) = &statuses[id];
        if status == "completed" {
            assert_eq!(completions.get(id), Some(&1), "{id}");
            continue;
        }
        assert_eq!(
            (status.as_str(), result.as_str()),
            ("error", ORPHAN_MESSAGE),
            "{id}"
        );
        let deliveries = emulator.deliveries(id);
        assert!(
            deliveries.iter().any(|w| killed_ids.contains(w)),
            "{id} not held by the killed worker: {deliveries:?} {killed_ids:?}"
        );
        held.push(id.clone());
    }
    eprintln!(
        "{} tasks: {} completed, {} held by the killed worker (failed by the orphan rule)",
        ids.len(),
        ids.len() - held.len(),
        held.len()
    );
    assert!(
        held.len() <= CONCURRENCY,
        "the killed worker held at most its slots: {held:?}"
    );
}
