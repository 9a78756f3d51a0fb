//! The agent side from the outside: what the handle ([`Emulator`]) and the
//! control routes show and do, and the hooks through which task changes
//! reach the dispatch.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{Out, State, WorkerInfo};
use crate::http::Req;
use crate::state::Shared;
use crate::store::lock;
use crate::store::NewTask;

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

/// Applies the orphan rule every quarter of `after` (at least every 10 ms)
/// until the emulator's runtime stops.
pub(crate) async fn reap_orphans(shared: Arc<Shared>, after: std::time::Duration) {
    let every = (after / 4).max(std::time::Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        shared.reap_orphans_now(after);
    }
}
