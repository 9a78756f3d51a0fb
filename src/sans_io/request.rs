//! Every endpoint of the core, one declaration each (in `endpoints!`):
//! its [`Operation`] (name, and whether a retry is safe) and its request
//! (method, full URL, headers and body bytes). Its answer is parsed by the
//! `Answer` impl (in `response`) of the type the front-end method returns.
//! No I/O.
//!
//! Each request refuses bad arguments (an empty id, `.` or `..`, a payload
//! extension that is not an object) with [`Error::InvalidArgument`] before
//! anything is sent.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use serde::Serialize;

use http::header::{HeaderName, HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE};

use std::fmt;
use std::sync::Arc;

use super::body::Body;
use super::response::{self, HttpResponse};
use super::{metrics, segment};
use crate::config::Config;
use crate::error::{Error, Result, TransportError, TransportErrorKind};
use crate::model::{Task, TaskEvent, TaskListItem};
use crate::params::{CreateTask, ExternalTaskReport, ListFilter, UpdateTask};
use crate::public::{Invoke, TaskQuery};
use http::Method;

/// Made once, not parsed per request.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

impl Core {
    /// `{base}/agent-execution/{id}{suffix}`, the id one encoded segment.
    pub(super) fn task_url(&self, name: &'static str, id: &str, suffix: &str) -> Result<String> {
        url(&self.prefix, &[(name, id), ("", suffix)])
    }

    /// The request of `operation`: `accept: */*`, the key, and
    /// `content-type: application/json` when there is a body.
    pub(super) fn request(
        &self,
        operation: Operation,
        method: Method,
        (resource_id, url): (&str, String),
        body: Option<Vec<u8>>,
    ) -> Result<HttpRequest> {
        let uri = http::Uri::try_from(url.as_str()).map_err(|e| {
            // Too long (an id of 64 KiB): named as a request that failed.
            let message = format!("cannot build the request: {e}");
            let error = TransportError::new(TransportErrorKind::Other, message, None);
            crate::diagnose::locate(Error::Transport(error), &method, &url, self)
        })?;
        let key = self
            .api_key
            .clone()
            .ok_or_else(|| Error::Config("the API key is not a valid header value".into()))?;
        let mut http = http::Request::new(Body(body.unwrap_or_default()));
        *http.method_mut() = method;
        *http.uri_mut() = uri;
        let headers = http.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(X_API_KEY, key);
        if !http.body().is_empty() {
            http.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(HttpRequest {
            operation,
            resource_id: resource_id.to_string(),
            http,
        })
    }
}

/// `base`, then each piece: `("", text)` as it is, `(name, id)` the id as
/// one percent-encoded segment (refused as argument `name` when it cannot be).
pub(super) fn url(base: &str, pieces: &[(&'static str, &str)]) -> Result<String> {
    let mut url = String::with_capacity(base.len().saturating_add(64));
    url.push_str(base);
    for (name, piece) in pieces {
        match *name {
            "" => url.push_str(piece),
            name => url.push_str(&segment::encode(name, piece)?),
        }
    }
    Ok(url)
}

/// Declares every endpoint of the core, each once: its [`Operation`]
/// variant, the operation's name (as the blocking method is called), whether
/// sending it twice has the effect of sending it once (`idempotent`: retried
/// after it may have reached the server; `once`: not), and the `Core` method
/// that builds its request, in which `OPERATION` is the endpoint's own
/// operation. `public` also makes it a method of [`super::RequestBuilder`].
/// `others` names the operations whose requests are built elsewhere (the
/// agent worker's, in [`super::worker`]).
macro_rules! endpoints {
    (@idempotent idempotent) => { true };
    (@idempotent once) => { false };
    (@builder [] $($skip:tt)*) => {};
    (@builder [public] $(#[$doc:meta])* fn $fn:ident($($arg:ident: $ty:ty),*)) => {
        impl super::RequestBuilder {
            $(#[$doc])*
            pub fn $fn(&self, $($arg: $ty),*) -> Result<HttpRequest> {
                self.core.$fn($($arg),*)
            }
        }
    };
    (
        others { $( $(#[$odoc:meta])* $other:ident = $oname:literal, $oretry:ident; )* }
        $(
            $(#[$doc:meta])*
            $variant:ident = $name:literal, $retry:ident $(, $public:ident)?;
            fn $fn:ident(&$self:ident $(, $arg:ident: $ty:ty)* $(,)?) $body:block
        )*
    ) => {
        /// The logical operation a request belongs to (for retries and tracing).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Operation {
            $( $(#[$odoc])* $other, )*
            $( #[doc = concat!("`", $name, "` / `a", $name, "`")] $variant, )*
        }

        impl Operation {
            /// The operation's name, as the blocking method is called.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Operation::$other => $oname, )*
                    $( Operation::$variant => $name, )*
                }
            }

            /// True when sending the same request twice has the effect of
            /// sending it once: update and save send the same body every
            /// time; get, list, the activity log, opening a stream and stop
            /// change nothing or converge. Create, the reports (metrics would
            /// be billed twice), event pushes (events would show twice) and
            /// invokes (each runs the agent) are not.
            pub fn is_idempotent(self) -> bool {
                match self {
                    $( Operation::$other => endpoints!(@idempotent $oretry), )*
                    $( Operation::$variant => endpoints!(@idempotent $retry), )*
                }
            }
        }

        impl Core {
            $(
                $(#[$doc])*
                pub(crate) fn $fn(&$self $(, $arg: $ty)*) -> Result<HttpRequest> {
                    const OPERATION: Operation = Operation::$variant;
                    $body
                }
            )*
        }

        $( endpoints!(@builder [$($public)?] $(#[$doc])* fn $fn($($arg: $ty),*)); )*
    };
}

endpoints! {
    others {
        /// The agent worker's stream (`GET {events root}/events/{agent_id}/`).
        AgentStream = "agent_stream", idempotent;
        /// A worker event: a heartbeat or a capacity update.
        WorkerEvent = "worker_event", idempotent;
    }

    /// `PATCH /agent-execution/{task_id}/update` with only the fields set.
    Update = "update", idempotent, public;
    fn update(&self, task_id: &str, change: &UpdateTask) {
        if let Some(ext) = &change.tool_call_payload_extension {
            if !ext.is_object() {
                return Err(Error::invalid("tool_call_payload_extension", "must be a JSON object"));
            }
        }
        let url = self.task_url("task_id", task_id, "/update")?;
        self.request(OPERATION, Method::PATCH, (task_id, url), Some(to_body(change)?))
    }

    /// `GET /agent-execution/{task_id}/status`.
    Get = "get", idempotent, public;
    fn get(&self, task_id: &str) {
        let url = self.task_url("task_id", task_id, "/status")?;
        self.request(OPERATION, Method::GET, (task_id, url), None)
    }

    /// `PATCH /agent-execution/{task.id}/update` with the whole task, every
    /// field the server sent (known or not) included, `deep_planning` only
    /// when `with_deep_plan`.
    Save = "save", idempotent, public;
    fn save(&self, task: &Task, with_deep_plan: bool) {
        let url = self.task_url("task.id", &task.id, "/update")?;
        let body = task
            .save_body(with_deep_plan)
            .and_then(|body| serde_json::to_vec(&body))
            .map_err(|e| Error::invalid("task", format!("cannot be serialized: {e}")))?;
        self.request(OPERATION, Method::PATCH, (&task.id, url), Some(body))
    }

    /// `DELETE /agent-execution/{task_id}`.
    Stop = "stop", idempotent, public;
    fn stop(&self, task_id: &str) {
        let url = self.task_url("task_id", task_id, "")?;
        self.request(OPERATION, Method::DELETE, (task_id, url), None)
    }

    /// `POST /agent-execution/{agent_id}`, `x-agent-version` when given.
    Create = "create", once, public;
    fn create(&self, new: &CreateTask) {
        let url = self.task_url("agent_id", new.agent_id(), "")?;
        let body = to_body(new)?;
        let mut request = self.request(OPERATION, Method::POST, (new.agent_id(), url), Some(body))?;
        if let Some(version) = &new.agent_version {
            let version = crate::headers::value("x-agent-version", version).map_err(|_| {
                Error::invalid("agent_version", "must not contain control characters")
            })?;
            request.headers_mut().insert("x-agent-version", version);
        }
        Ok(request)
    }

    /// `GET /agent-execution/executions/history/{agent_id}?filters`.
    List = "list", idempotent, public;
    fn list(&self, agent_id: &str, filter: &ListFilter) {
        let mut url = url(&self.prefix, &[("", "executions/history/"), ("agent_id", agent_id)])?;
        push_query(&mut url, filter, true);
        self.request(OPERATION, Method::GET, (agent_id, url), None)
    }

    /// `GET /agent-execution/executions/history/user/{user_id}?filters`
    /// (the filter's `user_id` is not sent: the path names the user).
    ListUserTasks = "list_user_tasks", idempotent, public;
    fn list_user_tasks(&self, user_id: &str, filter: &ListFilter) {
        let pieces = [("", "executions/history/user/"), ("user_id", user_id)];
        let mut url = url(&self.prefix, &pieces)?;
        push_query(&mut url, filter, false);
        self.request(OPERATION, Method::GET, (user_id, url), None)
    }

    /// `POST /agent-execution/{agent_id}/report_task`.
    ReportExternalTask = "report_external_task", once, public;
    fn report_external_task(&self, agent_id: &str, report: &ExternalTaskReport) {
        if !report.duration.is_finite() {
            return Err(Error::invalid("duration", "must be a finite number"));
        }
        let url = self.task_url("agent_id", agent_id, "/report_task")?;
        self.request(OPERATION, Method::POST, (agent_id, url), Some(to_body(report)?))
    }

    /// `GET /activity/{agent_id}/{task_id}` (agent first, then task).
    ActivityLog = "get_activity_log", idempotent;
    fn activity_log(&self, agent_id: &str, task_id: &str) {
        let pieces = [("", "/activity/"), ("task.agent_id", agent_id), ("", "/"), ("task.id", task_id)];
        let url = url(&self.config.base_url, &pieces)?;
        self.request(OPERATION, Method::GET, (task_id, url), None)
    }

    /// `POST /agents-metrics/{agent_id}/execution` with the task's metrics report.
    ReportMetrics = "report_metrics", once;
    fn report_metrics(&self, task: &Task, served_model: Option<&str>) {
        let pieces = [("", "/agents-metrics/"), ("task.agent_id", &task.agent_id), ("", "/execution")];
        let url = url(&self.config.base_url, &pieces)?;
        let body = to_body(&metrics::report_body(task, served_model)?)?;
        self.request(OPERATION, Method::POST, (&task.id, url), Some(body))
    }

    /// `POST /agent-execution/{task_id}/events/push` with a JSON array of envelopes.
    PushEvents = "push_events", once;
    fn push_events(&self, task_id: &str, events: &[TaskEvent]) {
        let url = self.task_url("task_id", task_id, "/events/push")?;
        let envelopes: Vec<serde_json::Value> = events.iter().map(TaskEvent::to_json).collect();
        self.request(OPERATION, Method::POST, (task_id, url), Some(to_body(&envelopes)?))
    }

    /// `GET {events root}/agent-execution/{task_id}/events`, with the
    /// stream session's headers (`accept: text/event-stream`,
    /// `cache-control: no-store`, `last-event-id`).
    Events = "events", idempotent;
    fn events(&self, task_id: &str, headers: Vec<(&'static str, HeaderValue)>) {
        let root = self.config.events_root.as_deref().ok_or_else(|| {
            Error::Config(
                "the event stream needs an organization id: set XPANDER_ORGANIZATION_ID, \
                 ClientBuilder::organization_id or ClientBuilder::events_base_url"
                    .into(),
            )
        })?;
        let url = url(root, &[("", "/agent-execution/"), ("task_id", task_id), ("", "/events")])?;
        let mut request = self.request(OPERATION, Method::GET, (task_id, url), None)?;
        for (name, value) in headers {
            request.headers_mut().insert(name, value);
        }
        Ok(request)
    }

    /// Public API v1: `POST /v1/agents/{agent_id}/invoke` (runs an agent).
    Invoke = "invoke", once;
    fn invoke(&self, agent_id: &str, request: &Invoke) {
        self.invoke_request(OPERATION, "/invoke", agent_id, request)
    }

    /// Public API v1: `POST /v1/agents/{agent_id}/invoke/async` (creates a task).
    InvokeAsync = "invoke_async", once;
    fn invoke_async(&self, agent_id: &str, request: &Invoke) {
        self.invoke_request(OPERATION, "/invoke/async", agent_id, request)
    }

    /// Public API v1: `POST /v1/agents/{agent_id}/invoke/stream` (runs an
    /// agent), asking for an event stream.
    InvokeStream = "invoke_stream", once;
    fn invoke_stream(&self, agent_id: &str, request: &Invoke) {
        let mut http = self.invoke_request(OPERATION, "/invoke/stream", agent_id, request)?;
        let headers = http.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(http)
    }

    /// Public API v1: `GET /v1/tasks?query` (one page), the query checked first.
    ListTasks = "list_tasks", idempotent;
    fn list_tasks(&self, query: &TaskQuery) {
        query.check()?;
        let mut url = self.public_url(&[("", "/v1/tasks")])?;
        push_page_query(&mut url, query, true);
        self.request(OPERATION, Method::GET, ("", url), None)
    }

    /// Public API v1: `GET /v1/agents/{agent_id}/tasks?query` (one page; the
    /// query's `agent_id` is not sent: the path names the agent).
    AgentTasks = "agent_tasks", idempotent;
    fn agent_tasks(&self, agent_id: &str, query: &TaskQuery) {
        query.check()?;
        let pieces = [("", "/v1/agents/"), ("agent_id", agent_id), ("", "/tasks")];
        let mut url = self.public_url(&pieces)?;
        push_page_query(&mut url, query, false);
        self.request(OPERATION, Method::GET, (agent_id, url), None)
    }

    /// Public API v1: `GET /v1/tasks/{task_id}`.
    GetTask = "get_task", idempotent;
    fn get_task(&self, task_id: &str) {
        let url = self.public_url(&[("", "/v1/tasks/"), ("task_id", task_id)])?;
        self.request(OPERATION, Method::GET, (task_id, url), None)
    }

    /// Public API v1: `DELETE /v1/tasks/{task_id}`.
    DeleteTask = "delete_task", idempotent;
    fn delete_task(&self, task_id: &str) {
        let url = self.public_url(&[("", "/v1/tasks/"), ("task_id", task_id)])?;
        self.request(OPERATION, Method::DELETE, (task_id, url), None)
    }

    /// Public API v1: `GET /v1/tasks/{task_id}/thread`.
    Thread = "thread", idempotent;
    fn thread(&self, task_id: &str) {
        let pieces = [("", "/v1/tasks/"), ("task_id", task_id), ("", "/thread")];
        let url = self.public_url(&pieces)?;
        self.request(OPERATION, Method::GET, (task_id, url), None)
    }

    /// Public API v1: `GET /v1/tasks/{task_id}/thread/full` (sub-tasks too).
    FullThread = "full_thread", idempotent;
    fn full_thread(&self, task_id: &str) {
        let pieces = [("", "/v1/tasks/"), ("task_id", task_id), ("", "/thread/full")];
        let url = self.public_url(&pieces)?;
        self.request(OPERATION, Method::GET, (task_id, url), None)
    }
}

impl Core {
    /// `POST /v1/agents/{agent_id}{tail}` with the invoke's body, checked first.
    fn invoke_request(
        &self,
        operation: Operation,
        tail: &str,
        agent_id: &str,
        request: &Invoke,
    ) -> Result<HttpRequest> {
        request.check()?;
        let url = self.public_url(&[("", "/v1/agents/"), ("agent_id", agent_id), ("", tail)])?;
        self.request(
            operation,
            Method::POST,
            (agent_id, url),
            Some(to_body(request)?),
        )
    }
}

fn to_body<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| Error::invalid("body", format!("cannot be serialized as JSON: {e}")))
}

fn push_query(url: &mut String, filter: &ListFilter, with_user: bool) {
    let status = filter.status.as_ref().map(|s| s.as_str());
    let pairs = [
        ("user_id", filter.user_id.as_deref().filter(|_| with_user)),
        ("parent_task_id", filter.parent_task_id.as_deref()),
        ("triggering_agent_id", filter.triggering_agent_id.as_deref()),
        ("status", status),
        ("internal_status", filter.internal_status.as_deref()),
    ];
    segment::push_query(url, &pairs);
}

impl Core {
    /// `{public_api_url}` and then `pieces` (as [`url`]),
    /// once the public API is known to be in use.
    pub(super) fn public_url(&self, pieces: &[(&'static str, &str)]) -> Result<String> {
        let base = &self.config.public_api_url;
        if !self.config.public_api_in_use {
            return Err(crate::Error::Config(format!(
                "the public API v1 is at {base} (the default), but this client's URLs are plain \
                 http on loopback, so it sets up no TLS: name the public API's URL with \
                 XPANDER_PUBLIC_API_URL or ClientBuilder::public_api_url"
            )));
        }
        url(base, pieces)
    }
}

/// The query string: `page`, `per_page`, then each filter set.
fn push_page_query(url: &mut String, query: &TaskQuery, with_agent: bool) {
    let page = query.page.map(|p| p.to_string());
    let per_page = query.per_page.map(|p| p.to_string());
    let status = query.status.as_ref().map(|s| s.as_str());
    let pairs = [
        ("page", page.as_deref()),
        ("per_page", per_page.as_deref()),
        ("user_id", query.user_id.as_deref()),
        ("parent_task_id", query.parent_task_id.as_deref()),
        ("agent_id", query.agent_id.as_deref().filter(|_| with_agent)),
        ("triggering_agent_id", query.triggering_agent_id.as_deref()),
        ("status", status),
        ("internal_status", query.internal_status.as_deref()),
    ];
    segment::push_query(url, &pairs);
}

/// One request, ready for a transport: an [`http::Request`] (method, full
/// URL with the ids percent-encoded, headers with `x-api-key`, the JSON
/// body, empty when the request has none), and what the core needs beside
/// it. It derefs to the [`http::Request`].
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The logical operation (for retries and tracing).
    pub operation: Operation,
    /// The id the operation names (task, agent or user id), as given.
    pub resource_id: String,
    /// The request itself.
    pub http: http::Request<Body>,
}

impl std::ops::Deref for HttpRequest {
    type Target = http::Request<Body>;
    fn deref(&self) -> &http::Request<Body> {
        &self.http
    }
}

impl std::ops::DerefMut for HttpRequest {
    fn deref_mut(&mut self) -> &mut http::Request<Body> {
        &mut self.http
    }
}

impl HttpRequest {
    /// The value of a header, by name, if it is UTF-8 text.
    pub fn header(&self, name: &str) -> Option<&str> {
        let value = self.headers().get(name)?;
        std::str::from_utf8(value.as_bytes()).ok()
    }
}

impl fmt::Debug for HttpRequest {
    /// Header names only: values may be credentials (the key, a caller's token).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers()
            .keys()
            .map(|n| (n.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("HttpRequest")
            .field("operation", &self.operation)
            .field("method", self.method())
            .field("url", self.uri())
            .field("resource_id", &self.resource_id)
            .field("headers", &headers)
            .field("body", self.body())
            .finish()
    }
}

/// What the core keeps of the configuration to build requests quickly: the
/// URL prefix and the header values are made once per client.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    /// `{base_url}/agent-execution/`
    prefix: String,
    /// `x-api-key`, marked sensitive (never printed by the HTTP crates,
    /// never in HTTP/2's compression table); `None` when the key of a
    /// hand-made [`Config`] is no header value (each request then says so).
    api_key: Option<HeaderValue>,
    secrets: Arc<crate::redact::Secrets>,
    pub(crate) config: Config,
}

impl Core {
    /// Parses an answer as `T` (see [`response::Answer`]); errors never
    /// carry the key.
    pub(crate) fn parse<T: response::Answer>(&self, response: HttpResponse) -> Result<T> {
        T::parse(response, self.secret())
    }

    /// Parses a one-task answer.
    pub(crate) fn task(&self, response: HttpResponse) -> Result<Task> {
        self.parse(response)
    }

    /// Checks an answer whose body is not used.
    pub(crate) fn accepted(&self, response: HttpResponse) -> Result<()> {
        self.parse(response)
    }

    /// The key and the proxies' credentials, the secrets errors are scrubbed of.
    pub(crate) fn secret(&self) -> response::Secret<'_> {
        response::Secret(&self.secrets)
    }

    /// The secrets errors are scrubbed of.
    pub(crate) fn secrets(&self) -> &crate::redact::Secrets {
        &self.secrets
    }

    pub(crate) fn new(config: Config) -> Core {
        Core {
            secrets: Arc::new(config.secrets()),
            prefix: format!("{}/agent-execution/", config.base_url),
            api_key: crate::headers::value("x-api-key", config.api_key.expose()).ok(),
            config,
        }
    }
}

// ----- the core as a public sans-IO API ------------------------------------
//
// The core as a public sans-IO API: [`RequestBuilder`] builds the
// [`HttpRequest`] of every operation and [`parse_task`] /
// [`parse_task_list`] turn an [`HttpResponse`] into typed values, so any
// HTTP client (or a benchmark) can drive the Tasks API without this crate's
// transports. It is the very code [`crate::Tasks`] runs, not a copy.

/// Builds the requests of the Tasks API from a [`Config`], without I/O.
///
/// The URL prefix and the header values are made once, in
/// [`RequestBuilder::new`]; each call then only encodes the id, joins the URL
/// and serializes the body.
///
/// ```
/// use xpander_sdk::sans_io::{answer, parse_task, Method, RequestBuilder};
/// use xpander_sdk::{AgentExecutionStatus, Tasks, UpdateTask};
///
/// let config = Tasks::builder().api_key("k").build_config()?;
/// let requests = RequestBuilder::new(config);
/// let request = requests.update(
///     "task_xyz",
///     &UpdateTask::new().status(AgentExecutionStatus::Completed),
/// )?;
/// // An `http::Request`: send it with any HTTP client.
/// assert_eq!(request.method(), Method::PATCH);
/// assert!(request.uri().path().ends_with("/agent-execution/task_xyz/update"));
/// assert_eq!(&request.body()[..], br#"{"status":"completed"}"#);
///
/// // Then parse the answer (an `http::Response`):
/// let answer = answer(http::StatusCode::OK, None, br#"{"id": "task_xyz", "agent_id": "a",
///     "organization_id": "o", "input": {"text": "hi"},
///     "created_at": "2026-11-20T10:00:00Z", "status": "completed"}"#.to_vec());
/// let task = parse_task(answer)?;
/// assert_eq!(task.status, Some(AgentExecutionStatus::Completed));
/// # Ok::<(), xpander_sdk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    core: Core,
}

impl RequestBuilder {
    /// A builder for the API at `config.base_url` with `config.api_key`
    /// (make a `Config` with [`crate::ClientBuilder::build_config`], or take
    /// a client's with [`crate::Tasks::config`]).
    pub fn new(config: Config) -> RequestBuilder {
        RequestBuilder {
            core: Core::new(config),
        }
    }

    /// The configuration the requests are built from.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// As [`parse_task`](super::parse_task), and the configured API key is scrubbed from any
    /// error (a gateway may echo it in a 401 body).
    pub fn parse_task(&self, response: HttpResponse) -> Result<Task> {
        self.core.task(response)
    }

    /// As [`parse_task_list`](super::parse_task_list), and the configured API key is scrubbed from
    /// any error.
    pub fn parse_task_list(&self, response: HttpResponse) -> Result<Vec<TaskListItem>> {
        self.core.parse(response)
    }
}
