#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod activity;
mod agents;
mod builder;
mod control;
mod events;
mod faults;
mod http;
mod live;
mod log;
mod metrics;
mod public;
mod routes;
mod server;
mod state;
mod store;
mod tls;
mod validation;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

pub use agents::{WorkerInfo, DEFAULT_DISPATCH_WINDOW, ORPHAN_MESSAGE};
pub use builder::{Emulator, EmulatorBuilder};
pub use events::{StreamEvent, DEFAULT_EVENT_BUFFER};
pub use faults::{Fault, FaultAction, MalformedFrame, StreamFault};
pub use log::{ApiKeyCheck, RecordedRequest, REDACTED};
pub use metrics::MetricsReport;

use agents::Out;
use store::lock;

/// Default organization id of tasks the emulator creates.
pub const DEFAULT_ORGANIZATION_ID: &str = "org-emulator";
/// Default request body limit: 8 MiB.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;
/// Default number of requests the log keeps (oldest dropped first).
pub const DEFAULT_REQUEST_LOG_LIMIT: usize = 10_000;
/// Default seed of the dice behind [`Fault::probability`].
pub const DEFAULT_SEED: u64 = 0x5EED_0F0E_4A1D;
/// Default interval of keep-alive comments on event streams: 15 s.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts an emulator with default settings on an ephemeral loopback port.
    pub fn start() -> io::Result<Emulator> {
        EmulatorBuilder::default().start()
    }

    /// A builder for a configured emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, no trailing slash (`https://` when
    /// serving TLS).
    pub fn base_url(&self) -> String {
        let scheme = match self.shared.config.tls {
            Some(_) => "https",
            None => "http",
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The root certificate (PEM) a client must trust to reach an emulator
    /// serving https ([`EmulatorBuilder::tls`]); `None` over plain HTTP. A
    /// new authority is made at each start, and its private key never
    /// leaves the emulator.
    pub fn root_certificate_pem(&self) -> Option<&str> {
        self.shared.config.tls.as_deref().map(|t| t.root_pem())
    }

    /// [`Emulator::root_certificate_pem`], DER-encoded.
    pub fn root_certificate_der(&self) -> Option<&[u8]> {
        self.shared.config.tls.as_deref().map(|t| t.root_der())
    }

    /// How many TLS handshakes completed (0 over plain HTTP): with
    /// [`Emulator::connections_accepted`], whether clients reuse their
    /// connections, and that a client refusing the certificate got no
    /// further.
    pub fn tls_handshakes(&self) -> u64 {
        self.shared
            .config
            .tls
            .as_deref()
            .map_or(0, |t| t.handshakes())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key clients must send as `x-api-key`.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// The organization id given to created tasks.
    pub fn organization_id(&self) -> &str {
        &self.shared.config.organization_id
    }

    /// Adds a fault rule after the existing ones.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.inject(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The pending fault rules, in order.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults.list()
    }

    /// Lets `n` requests held by a [`Fault::hold`] rule go on (held now, or
    /// held later: a release is never lost).
    pub fn release(&self, n: usize) {
        self.shared.faults.release(n);
    }

    /// How many requests a [`Fault::hold`] rule holds right now. An update
    /// counted here already holds its task's in-flight marker, so a test can
    /// wait for this instead of sleeping.
    pub fn held(&self) -> u64 {
        self.shared.faults.held()
    }

    /// Reseeds the dice behind [`Fault::probability`].
    pub fn set_seed(&self, seed: u64) {
        self.shared.faults.reseed(seed);
    }

    /// The Tasks API requests received so far (control routes excluded),
    /// oldest first, credentials redacted.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.all()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// How many TCP connections were accepted.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// How many Tasks API requests were received (control routes excluded).
    pub fn requests_received(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Stores a task (a JSON object) exactly as given: it is served back
    /// unchanged, with no defaults filled in. Only a missing or null `id` is
    /// generated. Replaces a task with the same id. Returns the id.
    pub fn seed_task(&self, task: Value) -> io::Result<String> {
        self.shared
            .seed_task(task)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// Stores `task` as [`Emulator::seed_task`] does, first filling in what
    /// a client needs to read it when missing: this emulator's
    /// `organization_id`, `created_at` (now) and an empty `input`. A task
    /// made of an id, an agent and a status is then one the SDK reads.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use serde_json::json;
    /// let emu = xpander_emulator::Emulator::start()?;
    /// emu.seed_task_with_defaults(json!({"id": "t1", "agent_id": "a1", "status": "executing"}))?;
    /// let stored = emu.task("t1").unwrap();
    /// assert_eq!(stored["organization_id"], emu.organization_id());
    /// assert!(stored["created_at"].is_string());
    /// # Ok(())
    /// # }
    /// ```
    pub fn seed_task_with_defaults(&self, task: Value) -> io::Result<String> {
        self.shared
            .seed_task_with_defaults(task)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// Stores several tasks; see [`Emulator::seed_task`].
    pub fn seed_tasks(&self, tasks: impl IntoIterator<Item = Value>) -> io::Result<Vec<String>> {
        tasks.into_iter().map(|t| self.seed_task(t)).collect()
    }

    /// A task by id, as stored.
    pub fn task(&self, id: &str) -> Option<Value> {
        self.shared.task(id)
    }

    /// All tasks, in creation order.
    pub fn tasks(&self) -> Vec<Value> {
        self.shared.tasks()
    }

    /// Changes a task as another client would: every key of `fields` (a
    /// JSON object) but `id` replaces the task's, as given, and the task's
    /// stream gets the change's event (`task_finished` when the status
    /// becomes terminal, else `task_updated`). Returns the task.
    ///
    /// ```
    /// # use serde_json::json;
    /// # use xpander_emulator::Emulator;
    /// let emu = Emulator::start()?;
    /// emu.seed_task(json!({"id": "t1", "status": "executing"}))?;
    /// let task = emu.update_task("t1", json!({"status": "completed", "result": "done"}))?;
    /// assert_eq!(task["result"], "done");
    /// let kinds: Vec<_> = emu.events("t1").iter().map(|e| e.kind().unwrap().to_string()).collect();
    /// assert_eq!(kinds, ["task_created", "task_finished"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn update_task(&self, id: &str, fields: Value) -> io::Result<Value> {
        self.shared.update_task(id, fields).map_err(|e| {
            let kind = if e.contains("not found") {
                io::ErrorKind::NotFound
            } else {
                io::ErrorKind::InvalidInput
            };
            io::Error::new(kind, e)
        })
    }

    /// The events a task's stream keeps (the newest [`EmulatorBuilder::event_buffer`]),
    /// oldest first; empty for an unknown task. The per-response
    /// `connected` handshake is not among them.
    pub fn events(&self, task_id: &str) -> Vec<StreamEvent> {
        self.shared.events(task_id).unwrap_or_default()
    }

    /// Appends an event to a task's stream (and applies it to its activity
    /// log), exactly as given: unlike the push route, any JSON value is
    /// taken, so a test can send odd envelopes. Returns its id.
    pub fn push_event(&self, task_id: &str, envelope: Value) -> io::Result<u64> {
        let ids = self.shared.push_events(task_id, vec![envelope]);
        let id = ids.and_then(|ids| ids.first().copied());
        id.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("Task {task_id} not found"))
        })
    }

    /// The activity thread built from a task's events (an answer set with
    /// [`Emulator::set_activity_raw`] aside); `None` for an unknown task.
    pub fn activity(&self, task_id: &str) -> Option<Value> {
        self.shared.activity_thread(task_id)
    }

    /// Answers `GET /activity/{agent_id}/{task_id}` for this task with
    /// `200`, this content type and these exact bytes (empty, invalid JSON,
    /// text...), whatever the task, until [`Emulator::clear_activity`].
    pub fn set_activity_raw(&self, task_id: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        store::lock(&self.shared.activity).set(task_id, content_type, body.into());
    }

    /// As [`Emulator::set_activity_raw`], with a JSON body.
    pub fn set_activity(&self, task_id: &str, thread: &Value) {
        self.set_activity_raw(task_id, "application/json", thread.to_string());
    }

    /// Serves the built thread again for this task.
    pub fn clear_activity(&self, task_id: &str) {
        store::lock(&self.shared.activity).remove(task_id);
    }

    /// The metrics reports received (`POST /agents-metrics/{agent_id}/execution`),
    /// oldest first.
    pub fn metrics_reports(&self) -> Vec<MetricsReport> {
        self.shared.metrics.all()
    }

    /// Forgets the metrics reports received.
    pub fn clear_metrics(&self) {
        self.shared.metrics.clear();
    }

    /// Clears tasks (their streams end), activity answers, metrics, fault
    /// rules, the request log and the counters, and forgets the workers
    /// (their agent streams end).
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops the server, closes its connections and waits for its thread.
    /// Idempotent.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Emulator {
    /// Every worker that connected, in connection order (disconnected ones
    /// too), with its heartbeats, capacity updates and deliveries.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.shared.agents.lock().workers()
    }

    /// The workers a task was sent to, in order (empty: never sent).
    pub fn deliveries(&self, task_id: &str) -> Vec<String> {
        self.shared.agents.lock().deliveries(task_id)
    }

    /// The tasks of `agent_id` waiting for a free worker, in order.
    pub fn queued(&self, agent_id: &str) -> Vec<String> {
        self.shared.agents.lock().queued(agent_id)
    }

    /// Creates a task for `agent_id` as `POST /agent-execution/{agent_id}`
    /// with this body would (unvalidated; `input` defaults to empty) and
    /// dispatches it. Returns the task.
    pub fn create_task(&self, agent_id: &str, body: Value) -> io::Result<Value> {
        let Value::Object(body) = body else {
            let msg = "the create body must be a JSON object";
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        };
        Ok(self.shared.create_task(agent_id, &body, None))
    }

    /// Creates `n` tasks for `agent_id` fast (a load test's feed), the
    /// `i`-th with `input.text` = `input_text(i)`, each dispatched as it is
    /// created. Returns their ids, in creation order.
    ///
    /// ```
    /// # use xpander_emulator::Emulator;
    /// let emu = Emulator::start()?;
    /// let ids = emu.create_tasks("agent-1", 3, |i| format!("job {i}"));
    /// assert_eq!(emu.task(&ids[2]).unwrap()["input"]["text"], "job 2");
    /// assert_eq!(emu.queued("agent-1"), ids, "no worker yet: they wait");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn create_tasks(
        &self,
        agent_id: &str,
        n: usize,
        mut input_text: impl FnMut(usize) -> String,
    ) -> Vec<String> {
        (0..n)
            .map(|i| {
                let body = json!({"input": {"text": input_text(i)}});
                let body = body.as_object().cloned().unwrap_or_default();
                let task = self.shared.create_task(agent_id, &body, None);
                task["id"].as_str().unwrap_or_default().to_string()
            })
            .collect()
    }

    /// Sends `worker-environment-conflict` with `{"error": message}` on
    /// every connected stream of `agent_id`; how many. The streams stay
    /// open (the official runtime leaves on it).
    pub fn send_conflict(&self, agent_id: &str, message: &str) -> usize {
        let data = json!({ "error": message }).to_string();
        self.send_agent_event(agent_id, "worker-environment-conflict", &data)
    }

    /// Sends an event named `event` with these exact `data` bytes (JSON
    /// or not) on every connected stream of `agent_id`; how many.
    pub fn send_agent_event(&self, agent_id: &str, event: &str, data: &str) -> usize {
        let out = Out::Raw {
            event: event.to_string(),
            data: data.to_string(),
        };
        self.shared.agents.lock().send_all(agent_id, &out)
    }

    /// Sends one `agent-execution` event whose `data` is these exact bytes
    /// (a task without `created_at`, text that is not JSON...) to one
    /// connected worker of `agent_id`, picked as a task would be (a busy
    /// one when none is free). It is not a task of the emulator: not
    /// recorded, never sent again. Returns the worker, or `None` when the
    /// agent has no connected worker (nothing was sent).
    pub fn dispatch_raw(&self, agent_id: &str, data: &str) -> Option<String> {
        let out = Out::Raw {
            event: "agent-execution".into(),
            data: data.to_string(),
        };
        self.shared.agents.lock().send_one(agent_id, out)
    }

    /// Ends every connected stream of `agent_id` normally (the last chunk,
    /// then close), as a server that closes a stream gracefully; how many.
    /// Their unclaimed tasks go to the other workers, or wait.
    pub fn close_agent_streams(&self, agent_id: &str) -> usize {
        self.shared.agents.lock().close_streams(agent_id)
    }
}

impl Emulator {
    /// Makes `DELETE /v1/tasks/{id}` answer `200 {"message": "Task deleted
    /// successfully"}` (as the reference page shows) instead of `204` (as
    /// the schema says), or back.
    pub fn set_public_delete_message(&self, message: bool) {
        self.shared
            .public
            .delete_message
            .store(message, Ordering::Relaxed);
    }

    /// The thread kept for thread id `id` (the v1 invokes' messages), if any.
    pub fn public_thread(&self, id: &str) -> Option<Vec<Value>> {
        lock(&self.shared.public.threads).get(id).cloned()
    }
}
