//! The state the handle and the server share, and the server's thread: a
//! two-worker tokio runtime of its own, so the emulator works from plain
//! synchronous tests and from inside any tokio runtime alike.

use std::io;
use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::activity::Overrides;
use crate::events::StreamEvent;
use crate::faults::Faults;
use crate::log::RequestLog;
use crate::metrics::Metrics;
use crate::store::Store;

/// Locks a mutex; a panic elsewhere does not poison the emulator.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct Config {
    pub api_key: String,
    pub organization_id: String,
    pub max_body: usize,
    /// Keep-alive comments on event streams after this long without a
    /// frame; `None`: never.
    pub keep_alive: Option<Duration>,
    /// The `retry:` hint sent once at the start of every event stream.
    pub sse_retry: Option<Duration>,
    /// Events each task's stream keeps for resumption.
    pub event_buffer: usize,
    /// The TLS identity when serving https.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// Unclaimed tasks one worker may hold; 0: no limit.
    pub dispatch_window: usize,
    /// The orphan rule: a task claimed through a worker whose connection
    /// ended this long ago, still `executing`, is set to `error`. `None`:
    /// never (it stays `executing`).
    pub orphan_after: Option<Duration>,
}

/// Everything shared between the handle and the connections.
pub(crate) struct Shared {
    pub config: Config,
    pub store: Mutex<Store>,
    /// Activity log answers set verbatim, by task id.
    pub activity: Mutex<Overrides>,
    pub metrics: Metrics,
    pub faults: Faults,
    pub log: RequestLog,
    /// Generated task ids (not seeded: ids need not repeat across runs).
    pub ids: Mutex<fastrand::Rng>,
    pub connections: AtomicU64,
    /// Tasks API requests (control routes excluded).
    pub requests: AtomicU64,
    /// Workers on agent streams, and the dispatch of tasks to them.
    pub agents: crate::agents::Agents,
    /// The public API v1's threads and settings.
    pub public: crate::public::State,
}

impl Shared {
    pub(crate) fn new(config: Config, seed: u64, log_limit: usize) -> Shared {
        let store = Store::new(&config.organization_id, config.event_buffer);
        let agents = crate::agents::Agents::new(config.dispatch_window);
        Shared {
            config,
            store: Mutex::new(store),
            activity: Mutex::new(Overrides::default()),
            metrics: Metrics::default(),
            faults: Faults::new(seed),
            log: RequestLog::new(log_limit),
            ids: Mutex::new(fastrand::Rng::new()),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            agents,
            public: crate::public::State::default(),
        }
    }

    /// Seeds `task` with what a client needs filled in when missing: the
    /// emulator's `organization_id`, `created_at` now, an empty `input`.
    pub(crate) fn seed_task_with_defaults(&self, mut task: Value) -> Result<String, String> {
        if let Value::Object(fields) = &mut task {
            let org = &self.config.organization_id;
            fields
                .entry("organization_id")
                .or_insert_with(|| Value::String(org.clone()));
            fields
                .entry("created_at")
                .or_insert_with(|| Value::String(crate::store::now()));
            fields
                .entry("input")
                .or_insert_with(|| serde_json::json!({"text": ""}));
        }
        self.seed_task(task)
    }

    pub(crate) fn seed_task(&self, task: Value) -> Result<String, String> {
        let id = lock(&self.store).seed(task, &mut lock(&self.ids))?;
        self.task_seeded(&id);
        Ok(id)
    }

    pub(crate) fn task(&self, id: &str) -> Option<Value> {
        lock(&self.store)
            .get(id)
            .map(|e| Value::Object(e.task.clone()))
    }

    pub(crate) fn tasks(&self) -> Vec<Value> {
        let store = lock(&self.store);
        let in_order = store.in_order().into_iter();
        in_order.map(|e| Value::Object(e.task.clone())).collect()
    }

    /// Changes a task as another client would (every key but `id`
    /// replaced); returns it, or why not.
    pub(crate) fn update_task(&self, id: &str, fields: Value) -> Result<Value, String> {
        let Value::Object(fields) = fields else {
            return Err("the fields must be a JSON object".into());
        };
        let mut store = lock(&self.store);
        let entry = store
            .get_mut(id)
            .ok_or_else(|| format!("Task {id} not found"))?;
        let was = entry
            .task
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string);
        let set = fields
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string);
        entry.patch(fields);
        let task = Value::Object(entry.task.clone());
        drop(store);
        if let Some(status) = set {
            self.status_changed(id, was.as_deref(), &status);
        }
        Ok(task)
    }

    /// Appends events to a task's stream, as given; their ids, or `None`
    /// for an unknown task.
    pub(crate) fn push_events(&self, id: &str, envelopes: Vec<Value>) -> Option<Vec<u64>> {
        let mut store = lock(&self.store);
        let live = &mut store.get_mut(id)?.live;
        Some(envelopes.into_iter().map(|e| live.record(e)).collect())
    }

    /// The events a task's stream keeps, or `None` for an unknown task.
    pub(crate) fn events(&self, id: &str) -> Option<Vec<StreamEvent>> {
        lock(&self.store).get(id).map(|e| e.live.log.all())
    }

    /// The activity thread built for a task (answers set verbatim aside).
    pub(crate) fn activity_thread(&self, id: &str) -> Option<Value> {
        let store = lock(&self.store);
        let e = store.get(id)?;
        Some(e.live.activity.thread(&e.task))
    }

    /// Removes every task (their streams end) and every activity answer set.
    pub(crate) fn clear_tasks(&self) {
        let fresh = Store::new(&self.config.organization_id, self.config.event_buffer);
        *lock(&self.store) = fresh;
        lock(&self.activity).clear();
        self.agents.lock().clear_tasks();
        self.public.clear();
    }

    pub(crate) fn reset(&self) {
        self.agents.lock().reset();
        self.public.reset();
        self.clear_tasks();
        self.metrics.clear();
        self.faults.clear();
        self.log.clear();
        self.requests.store(0, Ordering::Relaxed);
        self.connections.store(0, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Value {
        json!({
            "connections_accepted": self.connections.load(Ordering::Relaxed),
            "requests": self.requests.load(Ordering::Relaxed),
        })
    }
}

/// Serves `listener` on a new thread until `shutdown` turns true; returns
/// once the runtime is up, or with why it could not start.
pub(crate) fn spawn(
    listener: StdListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> io::Result<JoinHandle<()>> {
    let port = listener.local_addr()?.port();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let thread = std::thread::Builder::new()
        .name(format!("xpander-emulator-{port}"))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("xpander-emulator-worker")
                .enable_io()
                .enable_time()
                .build();
            let rt = match rt {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        if let Some(after) = shared.config.orphan_after {
                            tokio::spawn(crate::agents::reap_orphans(shared.clone(), after));
                        }
                        let _ = ready_tx.send(Ok(()));
                        crate::http::serve(listener, shared, shutdown).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
        })?;
    let started = ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("emulator thread failed to start")));
    match started {
        Ok(()) => Ok(thread),
        Err(e) => {
            let _ = thread.join();
            Err(e)
        }
    }
}
