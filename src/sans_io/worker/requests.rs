//! The URLs and requests of the agent worker: the events root, the agent
//! stream, worker events, and the task calls the runtime makes. No I/O.

use std::fmt;

use serde_json::Value;

use super::body::runtime_save_body;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{AgentExecutionStatus, Task, WorkerEvent};
use crate::params::UpdateTask;
use crate::sans_io::request::{Core, HttpRequest, Operation};
use crate::sans_io::segment;
use crate::sans_io::stream::EventSession;
use http::Method;

/// The events root `E` of a configuration ([`Config::events_root`]): the
/// base of the agent stream, of worker events and of a task's event stream
/// (`GET {E}/agent-execution/{task_id}/events`), organization included.
///
/// The configuration resolves it by the contract's rules (the official
/// runtime 2.0.537's), by the base URL's exact host:
///
/// | base URL host | events root |
/// |---|---|
/// | `inbound.xpander.ai` | `https://agent-controller.xpander.ai/{org}` |
/// | `inbound.stg.xpander.ai` | `https://agent-controller.stg.xpander.ai/{org}` |
/// | loopback (`localhost`, `127.0.0.0/8`, `::1`) on port 8085 | `http://localhost:9016/{org}` |
/// | anything else | `{base_url}/{org}` (the organization never twice) |
///
/// or takes the one given to
/// [`ClientBuilder::events_base_url`](crate::ClientBuilder::events_base_url).
/// Without an organization id (and no override) there is none: this is
/// then [`Error::Config`], saying what to set.
///
/// ```
/// use xpander_sdk::sans_io::events_root;
/// use xpander_sdk::Tasks;
///
/// let config = Tasks::builder().api_key("k").organization_id("org-1").build_config()?;
/// assert_eq!(events_root(&config)?, "https://agent-controller.xpander.ai/org-1");
///
/// let local = Tasks::builder().api_key("k").organization_id("org-1")
///     .base_url("http://127.0.0.1:8085").build_config()?;
/// assert_eq!(events_root(&local)?, "http://localhost:9016/org-1");
///
/// let no_org = Tasks::builder().api_key("k").build_config()?;
/// assert!(matches!(events_root(&no_org), Err(xpander_sdk::Error::Config(_))));
/// # Ok::<(), xpander_sdk::Error>(())
/// ```
pub fn events_root(config: &Config) -> Result<String> {
    config.events_root.clone().ok_or_else(|| {
        Error::Config(
            "the agent worker's events URLs need an organization id: set \
             XPANDER_ORGANIZATION_ID, ClientBuilder::organization_id or \
             ClientBuilder::events_base_url"
                .to_owned(),
        )
    })
}

/// Where the worker runs: the `environment` query of the agent stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Environment {
    /// Anywhere but xpander's cloud (`environment=local`). The default.
    #[default]
    Local,
    /// On xpander's cloud (`environment=xpander`).
    Xpander,
}

impl Environment {
    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Xpander => "xpander",
        }
    }

    /// The environment named by the value of `IS_XPANDER_CLOUD`: `true`
    /// (any case, spaces around ignored) is [`Environment::Xpander`],
    /// anything else, or no value, [`Environment::Local`].
    ///
    /// ```
    /// use xpander_sdk::sans_io::worker::Environment;
    /// assert_eq!(Environment::from_is_xpander_cloud(Some("true")), Environment::Xpander);
    /// assert_eq!(Environment::from_is_xpander_cloud(Some("1")), Environment::Local);
    /// assert_eq!(Environment::from_is_xpander_cloud(None), Environment::Local);
    /// ```
    pub fn from_is_xpander_cloud(value: Option<&str>) -> Environment {
        match value {
            Some(v) if v.trim().eq_ignore_ascii_case("true") => Environment::Xpander,
            _ => Environment::Local,
        }
    }
}

/// Builds the agent worker's requests from a [`Config`] and an agent id,
/// without I/O: the agent stream and worker events on the events root
/// ([`events_root`]), and the task calls (save, reload, status change) on
/// the API base, with the configuration's key and header rules.
///
/// ```
/// use xpander_sdk::sans_io::worker::{Environment, WorkerRequests};
/// use xpander_sdk::sans_io::stream::{EventSession, StreamPolicy};
/// use xpander_sdk::model::WorkerEvent;
/// use xpander_sdk::Tasks;
///
/// let config = Tasks::builder().api_key("k").organization_id("org-1").build_config()?;
/// let requests = WorkerRequests::new(config, "agent-1", Environment::Local)?;
/// let session = EventSession::new("agent-1", StreamPolicy::default());
/// let stream = requests.agent_stream(&session);
/// assert_eq!(
///     stream.uri(),
///     "https://agent-controller.xpander.ai/org-1/events/agent-1/?environment=local&supports_llm_gateway=true"
/// );
/// assert_eq!(stream.header("accept"), Some("text/event-stream"));
///
/// let beat = requests.worker_event("worker-1", &WorkerEvent::capacity(true))?;
/// assert_eq!(
///     beat.uri(),
///     "https://agent-controller.xpander.ai/org-1/events/worker-1?type=worker&agent_id=agent-1"
/// );
/// # Ok::<(), xpander_sdk::Error>(())
/// ```
#[derive(Clone)]
pub struct WorkerRequests {
    core: Core,
    events_root: String,
    agent_id: String,
    environment: Environment,
    /// `GET {E}/events/{agent}/?environment=..&supports_llm_gateway=true`,
    /// built once.
    stream: HttpRequest,
    /// `&agent_id={agent}`, the end of every worker-event URL.
    event_query: String,
}

impl WorkerRequests {
    /// The requests of the worker serving `agent_id` (`XPANDER_AGENT_ID`).
    /// Fails with [`Error::Config`] without an organization id, and with
    /// [`Error::InvalidArgument`] for an agent id that cannot be one path
    /// segment (empty, `.`, `..`).
    pub fn new(
        config: Config,
        agent_id: impl Into<String>,
        environment: Environment,
    ) -> Result<WorkerRequests> {
        let agent_id = agent_id.into();
        let events_root = events_root(&config)?;
        let agent = segment::encode("agent_id", &agent_id)?;
        let stream_url = format!(
            "{events_root}/events/{agent}/?environment={}&supports_llm_gateway=true",
            environment.as_str()
        );
        let event_query = format!("?type=worker&agent_id={}", segment::encode_query(&agent_id));
        let core = Core::new(config);
        let stream = core.request(
            Operation::AgentStream,
            Method::GET,
            (&agent_id, stream_url),
            None,
        )?;
        Ok(WorkerRequests {
            core,
            events_root,
            agent_id,
            environment,
            stream,
            event_query,
        })
    }

    /// The configuration the requests are built from.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// The events root ([`events_root`]).
    pub fn events_root(&self) -> &str {
        &self.events_root
    }

    /// The agent served.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// The environment sent with the stream.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// `GET {E}/events/{agent_id}/?environment={env}&supports_llm_gateway=true`
    /// with the session's headers (`accept: text/event-stream`,
    /// `cache-control: no-store`, and `last-event-id` once the server gave
    /// an id). The slash ends the path, before the query.
    pub fn agent_stream(&self, session: &EventSession) -> HttpRequest {
        let mut request = self.stream.clone();
        for (name, value) in session.request_headers() {
            request.headers_mut().insert(name, value);
        }
        request
    }

    /// `POST {E}/events/{worker_id}?type=worker&agent_id={agent_id}` with
    /// the event's envelope.
    pub fn worker_event(&self, worker_id: &str, event: &WorkerEvent) -> Result<HttpRequest> {
        let url = format!(
            "{}/events/{}{}",
            self.events_root,
            segment::encode("worker_id", worker_id)?,
            self.event_query
        );
        let body = to_vec(event)?;
        self.core.request(
            Operation::WorkerEvent,
            Method::POST,
            (worker_id, url),
            Some(body),
        )
    }

    /// `PATCH {A}/agent-execution/{task.id}/update` with the task as
    /// delivered plus what changed, without credentials (see
    /// [`runtime_save_body`](super::runtime_save_body)).
    pub fn save(&self, task: &Task) -> Result<HttpRequest> {
        let body = runtime_save_body(task)
            .map_err(|e| Error::invalid("task", format!("cannot be serialized: {e}")))?;
        self.save_value(&task.id, &body)
    }

    /// `PATCH {A}/agent-execution/{task_id}/update` with this body.
    pub(crate) fn save_value(&self, task_id: &str, body: &Value) -> Result<HttpRequest> {
        let url = self.core.task_url("task.id", task_id, "/update")?;
        self.core.request(
            Operation::Save,
            Method::PATCH,
            (task_id, url),
            Some(to_vec(body)?),
        )
    }

    /// `GET {A}/agent-execution/{task_id}/status`: the read before the
    /// claim, and the reload before the final save.
    pub fn reload(&self, task_id: &str) -> Result<HttpRequest> {
        self.core.get(task_id)
    }

    /// `POST {A}/agents-metrics/{agent_id}/execution`: the task's metrics
    /// report (refused without `tokens`, `source` or `status`). The model
    /// reported is the task's `llm_model_name`, else `xpander`.
    pub fn metrics(&self, task: &Task) -> Result<HttpRequest> {
        self.core.report_metrics(task, None)
    }

    /// `PATCH {A}/agent-execution/{task_id}/update` with only `status` and
    /// `result` (a release back to `pending`, or the `error` of a task the
    /// worker could not read).
    pub fn set_status(
        &self,
        task_id: &str,
        status: AgentExecutionStatus,
        message: &str,
    ) -> Result<HttpRequest> {
        self.core
            .update(task_id, &UpdateTask::new().status(status).result(message))
    }

    /// `PATCH {A}/agent-execution/{task_id}/update` with `{"status":
    /// "executing"}` only: the claim. A partial update changes the fields it
    /// names and nothing else, so a stale copy of the rest (a stop, a
    /// result, `is_manually_stopped`) is never written back.
    pub fn claim(&self, task_id: &str) -> Result<HttpRequest> {
        self.core.update(
            task_id,
            &UpdateTask::new().status(AgentExecutionStatus::Executing),
        )
    }

    /// Parses the answer of [`reload`](Self::reload); errors never carry
    /// the key.
    pub fn parse_task(&self, response: crate::sans_io::HttpResponse) -> Result<Task> {
        self.core.task(response)
    }

    /// Checks an answer whose body is not used (saves, worker events): a
    /// 2xx is `Ok`, any other status [`Error::Api`] without the key.
    pub fn check(&self, response: crate::sans_io::HttpResponse) -> Result<()> {
        crate::sans_io::response::check_status(response, self.core.secret()).map(|_| ())
    }
}

impl fmt::Debug for WorkerRequests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerRequests")
            .field("events_root", &self.events_root)
            .field("agent_id", &self.agent_id)
            .field("environment", &self.environment)
            .field("base_url", &self.core.config.base_url)
            .finish_non_exhaustive()
    }
}

fn to_vec<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| Error::invalid("body", format!("cannot be serialized as JSON: {e}")))
}
