//! The agent side from the outside: what the handle ([`Emulator`]) and the
//! control routes show and do, and the hooks through which task changes
//! reach the dispatch.

use std::io;

use serde_json::{json, Map, Value};

use super::{Out, State};
use crate::http::Req;
use crate::server::{lock, Shared};
use crate::store::NewTask;
use crate::Emulator;

/// A worker: one connection of an agent stream, as the emulator saw it.
///
/// Every connection is a new worker with a new id (a reconnecting runtime
/// gets a new one, as its new `worker-registration` says).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The id sent in its `worker-registration`.
    pub id: String,
    /// The agent whose stream it opened.
    pub agent_id: String,
    /// The organization segment of its stream's URL.
    pub organization_id: String,
    /// The stream's `environment` query (`local` or `xpander`).
    pub environment: String,
    /// The stream's `supports_llm_gateway` query was `true`.
    pub supports_llm_gateway: bool,
    /// Its stream is still open.
    pub connected: bool,
    /// When it connected (RFC 3339, the emulator's clock).
    pub registered_at: String,
    /// When its stream ended.
    pub disconnected_at: Option<String>,
    /// How many `worker-heartbeat` events it posted.
    pub heartbeats: u64,
    /// The `data` of its last heartbeat, as sent.
    pub last_heartbeat: Option<Value>,
    /// When its last heartbeat arrived (the emulator's clock).
    pub last_heartbeat_at: Option<String>,
    /// The `is_busy` of each `worker-capacity-update`, in arrival order.
    pub capacity_updates: Vec<bool>,
    /// The last capacity update said busy: it gets no task while another
    /// worker is free.
    pub is_busy: bool,
    /// It posted `worker-finished`: it gets no more tasks.
    pub finished: bool,
    /// The tasks sent to it, in order (a task sent twice appears twice).
    pub delivered: Vec<String>,
    /// How many of the tasks sent to it are not claimed yet (at most the
    /// dispatch window, [`EmulatorBuilder::dispatch_window`](crate::EmulatorBuilder::dispatch_window)).
    pub unclaimed: usize,
}

impl WorkerInfo {
    /// A worker connecting now, with nothing recorded yet.
    pub(crate) fn connecting(
        id: String,
        agent_id: &str,
        organization_id: &str,
        environment: String,
        supports_llm_gateway: bool,
    ) -> WorkerInfo {
        WorkerInfo {
            id,
            agent_id: agent_id.to_string(),
            organization_id: organization_id.to_string(),
            environment,
            supports_llm_gateway,
            connected: true,
            registered_at: crate::store::now(),
            disconnected_at: None,
            heartbeats: 0,
            last_heartbeat: None,
            last_heartbeat_at: None,
            capacity_updates: Vec::new(),
            is_busy: false,
            finished: false,
            delivered: Vec::new(),
            unclaimed: 0,
        }
    }

    /// The worker as `GET /__emulator/workers` serves it: the fields by
    /// name.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "agent_id": self.agent_id,
            "organization_id": self.organization_id,
            "environment": self.environment,
            "supports_llm_gateway": self.supports_llm_gateway,
            "connected": self.connected,
            "registered_at": self.registered_at,
            "disconnected_at": self.disconnected_at,
            "heartbeats": self.heartbeats,
            "last_heartbeat": self.last_heartbeat,
            "last_heartbeat_at": self.last_heartbeat_at,
            "capacity_updates": self.capacity_updates,
            "is_busy": self.is_busy,
            "finished": self.finished,
            "delivered": self.delivered,
            "unclaimed": self.unclaimed,
        })
    }
}

/// What the handle and the control routes read.
impl State {
    pub(crate) fn workers(&self) -> Vec<WorkerInfo> {
        self.workers.iter().map(|w| w.info.clone()).collect()
    }

    /// Every agent id the emulator saw a worker of.
    pub(crate) fn agent_ids(&self) -> impl Iterator<Item = &str> {
        self.workers.iter().map(|w| w.info.agent_id.as_str())
    }

    pub(crate) fn deliveries(&self, task_id: &str) -> Vec<String> {
        self.tasks
            .get(task_id)
            .map(|t| t.deliveries.clone())
            .unwrap_or_default()
    }

    pub(crate) fn queued(&self, agent: &str) -> Vec<String> {
        self.agents
            .get(agent)
            .map(|a| a.queue.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// `{"deliveries": {task: [workers]}, "queued": {agent: [tasks]}}`.
    pub(crate) fn dispatch_json(&self) -> Value {
        let deliveries: Map<String, Value> = self
            .tasks
            .iter()
            .filter(|(_, t)| !t.deliveries.is_empty())
            .map(|(id, t)| (id.clone(), json!(t.deliveries)))
            .collect();
        let queued: Map<String, Value> = self
            .agents
            .iter()
            .filter(|(_, a)| !a.queue.is_empty())
            .map(|(agent, a)| (agent.clone(), json!(a.queue)))
            .collect();
        json!({"deliveries": deliveries, "queued": queued})
    }
}

impl Shared {
    /// The id of a task to create: the body's, else a new one.
    pub(crate) fn new_task_id(&self, body: &Map<String, Value>) -> String {
        match body.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => crate::store::new_id(&mut lock(&self.ids)),
        }
    }

    /// Creates a task for `agent` as `POST /agent-execution/{agent}` does
    /// (the body validated already) and hands it to the dispatch, unless
    /// the body says `run_locally` (the creating worker runs it itself).
    pub(crate) fn create_task(
        &self,
        agent: &str,
        body: &Map<String, Value>,
        agent_version: Option<&str>,
    ) -> Value {
        let id = self.new_task_id(body);
        let new = NewTask {
            id: id.clone(),
            agent_id: agent,
            organization_id: &self.config.organization_id,
            agent_version,
        };
        let task = lock(&self.store).create(new, body);
        if body.get("run_locally") != Some(&Value::Bool(true)) {
            self.agents.lock().created(&id, agent);
        }
        task
    }

    /// After a change of a task (an update, a save, a change as another
    /// client would make) set its status from `was` to `status`: the
    /// dispatch hears of it.
    pub(crate) fn status_changed(&self, id: &str, was: Option<&str>, status: &str) {
        let agent = lock(&self.store)
            .get(id)
            .and_then(|e| e.task.get("agent_id").and_then(Value::as_str))
            .map(str::to_string);
        let mut agents = self.agents.lock();
        agents.status_set(id, agent.as_deref(), was, status);
    }

    /// The orphan rule, once: every task claimed through a worker whose
    /// connection ended `after` ago or more and still `executing` is set to
    /// `error` with [`ORPHAN_MESSAGE`](crate::ORPHAN_MESSAGE). How many.
    pub(crate) fn reap_orphans_now(&self, after: std::time::Duration) -> usize {
        let ids = self.agents.lock().orphans(after);
        let mut reaped = 0;
        for id in ids {
            {
                let mut store = lock(&self.store);
                let Some(e) = store.get_mut(&id) else {
                    continue;
                };
                if e.task.get("status").and_then(Value::as_str) != Some("executing") {
                    continue;
                }
                let mut fields = Map::new();
                fields.insert("status".into(), Value::from("error"));
                fields.insert("result".into(), Value::from(crate::ORPHAN_MESSAGE));
                e.patch(fields);
            }
            self.status_changed(&id, Some("executing"), "error");
            reaped += 1;
        }
        reaped
    }

    /// After a task was seeded: a pending one (or one without a status) of
    /// an agent with a connected worker is dispatched.
    pub(crate) fn task_seeded(&self, id: &str) {
        let agent = {
            let store = lock(&self.store);
            let Some(e) = store.get(id) else { return };
            let pending = e.task.get("status").is_none_or(|s| s == "pending");
            match e.task.get("agent_id").and_then(Value::as_str) {
                Some(agent) if pending => agent.to_string(),
                _ => return,
            }
        };
        self.agents.lock().seeded(id, &agent);
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

/// The control routes of the agent side, when `sub` (the path after
/// `/__emulator/`) is one: `workers`, `dispatch`, and per agent
/// `agents/{id}/conflict`, `agents/{id}/event`, `agents/{id}/dispatch`,
/// `agents/{id}/close`.
pub(crate) fn control(shared: &Shared, req: &Req<'_>, sub: &str) -> Option<crate::http::Resp> {
    use crate::http::Resp;
    let ok = |v: Value| Some(Resp::json(200, &v));
    match (req.method, sub) {
        ("GET", "workers") => {
            let all = shared.agents.lock().workers();
            return ok(Value::Array(all.iter().map(WorkerInfo::to_json).collect()));
        }
        ("GET", "dispatch") => return ok(shared.agents.lock().dispatch_json()),
        (_, "workers" | "dispatch") => return Some(Resp::detail(405, "Method Not Allowed")),
        _ => {}
    }
    let rest = sub.strip_prefix("agents/")?;
    let (agent, action) = rest.split_once('/')?;
    let agent = percent_encoding::percent_decode_str(agent).decode_utf8_lossy();
    if req.method != "POST" {
        return Some(Resp::detail(405, "Method Not Allowed"));
    }
    let body = String::from_utf8_lossy(req.body);
    let mut agents = shared.agents.lock();
    let raw = |event: &str| Out::Raw {
        event: event.to_string(),
        data: body.to_string(),
    };
    match action {
        "conflict" => {
            let n = agents.send_all(&agent, &raw("worker-environment-conflict"));
            ok(json!({ "streams": n }))
        }
        "dispatch" => ok(json!({ "worker": agents.send_one(&agent, raw("agent-execution")) })),
        "close" => ok(json!({ "streams": agents.close_streams(&agent) })),
        "event" => {
            let name = form_urlencoded::parse(req.query().as_bytes())
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            if name.is_empty() {
                let msg = "the event name goes in the query: ?name=...";
                return Some(crate::validation::unprocessable(
                    &["query", "name"],
                    msg,
                    "missing",
                ));
            }
            let n = agents.send_all(&agent, &raw(&name));
            ok(json!({ "streams": n }))
        }
        _ => Some(Resp::detail(404, "Not Found")),
    }
}
