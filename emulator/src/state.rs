//! The state the handle, the routes and the server share: the routes
//! receive it, they do not reach for the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::activity::Overrides;
use crate::events::StreamEvent;
use crate::faults::state::Faults;
use crate::log::RequestLog;
use crate::metrics::Metrics;
use crate::store::{lock, Store};

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
    pub public: PublicState,
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
            public: PublicState::default(),
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
                .or_insert_with(|| Value::String(crate::events::now()));
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

/// The v1 state kept beside the store: threads by thread id, and how a
/// delete answers.
#[derive(Default)]
pub(crate) struct PublicState {
    pub threads: Mutex<HashMap<String, Vec<Value>>>,
    pub delete_message: AtomicBool,
}

impl PublicState {
    /// Forgets every thread (with the store's tasks).
    pub(crate) fn clear(&self) {
        lock(&self.threads).clear();
    }

    /// Back to the start: no thread, deletes answer `204`.
    pub(crate) fn reset(&self) {
        self.clear();
        self.delete_message.store(false, Ordering::Relaxed);
    }
}
