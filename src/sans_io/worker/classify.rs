//! The agent stream's events, classified. No I/O.

use std::fmt;

use serde_json::Value;

use crate::model::{DeployedAsset, Task};
use crate::sans_io::segment;
use crate::sans_io::sse::SseEvent;
use crate::sans_io::stream::json_problem;

/// The event name of a worker registration.
pub const REGISTRATION_EVENT: &str = "worker-registration";
/// The event name of a task to run.
pub const TASK_EVENT: &str = "agent-execution";
/// The event name of an environment conflict.
pub const CONFLICT_EVENT: &str = "worker-environment-conflict";

/// The longest conflict message kept, in characters (it comes from the
/// network and goes to logs).
const MAX_MESSAGE_CHARS: usize = 500;

/// One event of the agent stream, classified by [`classify`].
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentEvent {
    /// `worker-registration`: the worker's record; its `id` is the worker id.
    Registration(Box<DeployedAsset>),
    /// `agent-execution`: a task to run.
    Task {
        /// The task, without `payload_extension.llm_gateway`.
        task: Box<Task>,
        /// The `payload_extension.llm_gateway` the task was delivered with
        /// (the run's LLM gateway route), taken out of the task so that it
        /// is never saved back; for the handler's context.
        llm_gateway: Option<LlmGateway>,
    },
    /// `worker-environment-conflict`: another worker serves the agent in
    /// another environment; this one must stop (and not reconnect).
    Conflict {
        /// The server's `error` message (bounded), or a stand-in.
        message: String,
    },
    /// An event that should carry something the worker uses, but whose
    /// data could not be read: a task that is not a task (no `id`, an `id`
    /// that is not a string or an integer, not JSON, ...), or a
    /// registration that is not a worker record. A task needs only its
    /// `id`, so one without a usable `id` cannot be addressed: it is
    /// skipped with a notice.
    Malformed {
        /// Why, without quoting the data.
        reason: String,
    },
    /// Any other event name: nothing to do.
    Ignored {
        /// The event's name.
        name: String,
    },
}

/// The LLM gateway route a task was delivered with
/// (`payload_extension.llm_gateway`: typically `base_url` and `token`).
///
/// Its `Debug` shows the keys only: the token is a credential.
#[derive(Clone, PartialEq)]
pub struct LlmGateway(Value);

impl LlmGateway {
    /// Takes the run's credentials out of a task's `payload_extension` (the
    /// handler's copy never carries them).
    pub(super) fn take(task: &mut Task) -> Option<LlmGateway> {
        task.payload_extension
            .as_mut()
            .and_then(|extension| extension.remove("llm_gateway"))
            .map(LlmGateway)
    }

    /// The route's `base_url`, when it is a string.
    pub fn base_url(&self) -> Option<&str> {
        self.0.get("base_url")?.as_str()
    }

    /// The route's `token`, when it is a string (a credential: never log it).
    pub fn token(&self) -> Option<&str> {
        self.0.get("token")?.as_str()
    }

    /// The whole value as delivered.
    pub fn as_value(&self) -> &Value {
        &self.0
    }
}

impl fmt::Debug for LlmGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = match &self.0 {
            Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("LlmGateway")
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// Classifies one event of the agent stream by its name (the `data` is
/// the bare object, no envelope).
///
/// - `worker-registration` → [`AgentEvent::Registration`], or
///   [`AgentEvent::Malformed`] when the data is not a worker record;
/// - `agent-execution` → [`AgentEvent::Task`] with the `llm_gateway` taken
///   out of the task's payload extension, or [`AgentEvent::Malformed`]
///   without an `id` usable as a path segment (a string or an integer);
/// - `worker-environment-conflict` → [`AgentEvent::Conflict`] with the
///   `error` message (whatever the data);
/// - anything else → [`AgentEvent::Ignored`].
///
/// ```
/// use xpander_sdk::sans_io::sse::SseDecoder;
/// use xpander_sdk::sans_io::worker::{classify, AgentEvent};
///
/// let mut decoder = SseDecoder::new();
/// decoder.feed(b"event: agent-execution\ndata: {\"id\": 9.5, \"agent_id\": \"a\"}\n\n");
/// let event = decoder.next_event().unwrap()?;
/// match classify(&event) {
///     AgentEvent::Malformed { reason } => {
///         assert!(reason.contains("`id`"), "{reason}");
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), xpander_sdk::sans_io::sse::SseError>(())
/// ```
pub fn classify(event: &SseEvent) -> AgentEvent {
    classify_parts(event.event(), event.data())
}

/// [`classify`] on an event's name and data.
pub fn classify_parts(name: &str, data: &str) -> AgentEvent {
    match name {
        REGISTRATION_EVENT => match serde_json::from_str::<DeployedAsset>(data) {
            Ok(asset) if segment::encode("worker_id", &asset.id).is_ok() => {
                AgentEvent::Registration(Box::new(asset))
            }
            Ok(_) => AgentEvent::Malformed {
                reason: "a worker registration whose `id` is not usable in a URL".to_owned(),
            },
            Err(error) => AgentEvent::Malformed {
                reason: format!(
                    "a worker registration dropped: {}",
                    json_problem(&error, "a worker record")
                ),
            },
        },
        TASK_EVENT => task(data),
        CONFLICT_EVENT => AgentEvent::Conflict {
            message: conflict_message(data),
        },
        other => AgentEvent::Ignored {
            name: other.to_owned(),
        },
    }
}

fn task(data: &str) -> AgentEvent {
    match serde_json::from_str::<Task>(data) {
        Ok(mut task) => {
            // An integer id is read as its decimal text (as `Tasks::get`
            // reads it); any other non-string id cannot be addressed.
            let odd_id = task
                .raw_value("id")
                .is_some_and(|id| !(id.is_u64() || id.is_i64()));
            if odd_id || segment::encode("task.id", &task.id).is_err() {
                return AgentEvent::Malformed {
                    reason: "a task whose `id` is not a string or an integer usable in a URL (empty, `.`, `..`, a float, a list, ...)"
                        .to_owned(),
                };
            }
            let llm_gateway = LlmGateway::take(&mut task);
            AgentEvent::Task {
                task: Box::new(task),
                llm_gateway,
            }
        }
        Err(error) => AgentEvent::Malformed {
            reason: format!(
                "the worker could not read the task: {}",
                json_problem(&error, "a task")
            ),
        },
    }
}

fn conflict_message(data: &str) -> String {
    let message = serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|value| value.get("error")?.as_str().map(str::to_owned))
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "another worker serves this agent in another environment".to_owned());
    let mut bounded: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    if bounded.len() < message.len() {
        bounded.push('…');
    }
    bounded
}
