//! The agent stream, `GET /{org}/events/{agent_id}/?environment=..`: each
//! connection registers a new worker, whose stream sends
//!
//! 1. `event: worker-registration`, `data:` the worker record (a
//!    `DeployedAsset`: `id` the new worker id, `type` `worker`, ...);
//! 2. `event: agent-execution`, `data:` the bare task as stored when sent,
//!    for each task dispatched to this worker (see [`super`]);
//! 3. the events the handle or the control routes send (a conflict, raw
//!    events);
//!
//! with keep-alive comments between, and no `id:` lines (the runtime keeps
//! no resumption state: a reconnect is a new worker). It ends normally
//! when the emulator closes the agent's streams or is reset; its end, by
//! any cause, disconnects the worker (its unclaimed tasks go elsewhere).

use serde_json::{json, Value};
use tokio::sync::mpsc::{Sender, UnboundedReceiver};

use super::{Agents, Out, WorkerInfo};
use crate::events::sse::{BadFrames, Feed, Frame, Reply, Run, SseReply};
use crate::http::Req;
use crate::state::Shared;
use crate::store::{lock, new_id};
use crate::validation::unprocessable;

/// The environments a worker may name.
const ENVIRONMENTS: [&str; 2] = ["local", "xpander"];

/// Disconnects its worker when dropped: however the stream ends.
struct Registered {
    agents: Agents,
    worker_id: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.agents.lock().disconnect(&self.worker_id);
    }
}

/// One worker's stream: its registration, then what the dispatch sends it.
pub(crate) struct AgentFeed {
    registration: Value,
    inbox: UnboundedReceiver<Out>,
    _registered: Registered,
}

/// The `DeployedAsset` a new worker is told about.
fn registration(worker: &WorkerInfo) -> Value {
    json!({
        "id": worker.id,
        "name": format!("worker-{}", worker.id),
        "organization_id": worker.organization_id,
        "type": "worker",
        "created_at": worker.registered_at,
        "created_by": null,
        "last_heartbeat": worker.registered_at,
        "configuration": null,
        "dedicated_agent_id": worker.agent_id,
        "parent_asset_id": null,
        "is_busy": false,
        "metadata": {"name": worker.agent_id, "unique_name": worker.agent_id},
    })
}

/// `GET /{org}/events/{agent_id}/`: 422 without a known `environment`,
/// else a new worker and its stream.
pub(crate) fn agent_stream(shared: &Shared, org: &str, agent: &str, req: &Req<'_>) -> Reply {
    let mut environment = None;
    let mut llm_gateway = false;
    for (k, v) in form_urlencoded::parse(req.query().as_bytes()) {
        match &*k {
            "environment" => environment = Some(v.into_owned()),
            "supports_llm_gateway" => llm_gateway = v.eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    let environment = match environment {
        Some(e) if ENVIRONMENTS.contains(&e.as_str()) => e,
        Some(_) => {
            let msg = "Input should be 'local' or 'xpander'";
            return Reply::Full(unprocessable(&["query", "environment"], msg, "enum"));
        }
        None => {
            let loc = ["query", "environment"];
            return Reply::Full(unprocessable(&loc, "Field required", "missing"));
        }
    };
    let id = new_id(&mut lock(&shared.ids));
    let info = WorkerInfo::connecting(id, agent, org, environment, llm_gateway);
    let registration = registration(&info);
    let worker_id = info.id.clone();
    let inbox = shared.agents.lock().connect(info);
    let feed = AgentFeed {
        registration,
        inbox,
        _registered: Registered {
            agents: shared.agents.clone(),
            worker_id,
        },
    };
    Reply::Stream(Box::new(SseReply::new(feed)))
}

impl Feed for AgentFeed {
    /// The bad frames of a malformed-frame fault on this stream: a cut-off
    /// `agent-execution`, and an event without its `event:` name (the
    /// registration's data, unnamed).
    fn bad_frames(&self) -> BadFrames {
        BadFrames {
            not_json: b"event: agent-execution\ndata: {\"id\": \n\n".to_vec(),
            no_type: Frame::event(None, &self.registration).encode(),
        }
    }

    /// Sends the registration, then each event of the inbox, until the
    /// inbox closes (the emulator ended the stream) or the writer is gone.
    fn run<'a>(mut self: Box<Self>, shared: &'a Shared, tx: Sender<Frame>) -> Run<'a> {
        Box::pin(async move {
            let hello = Frame::named("worker-registration", self.registration.to_string());
            if tx.send(hello).await.is_err() {
                return;
            }
            while let Some(out) = self.inbox.recv().await {
                let frame = match out {
                    Out::Task(id) => {
                        let task = lock(&shared.store).get(&id).map(|e| e.task.clone());
                        match task {
                            Some(task) => {
                                Frame::named("agent-execution", Value::Object(task).to_string())
                            }
                            // Removed meanwhile (the tasks were cleared).
                            None => continue,
                        }
                    }
                    Out::Raw { event, data } => Frame::named(&event, data),
                };
                if tx.send(frame).await.is_err() {
                    return;
                }
            }
        })
    }
}
