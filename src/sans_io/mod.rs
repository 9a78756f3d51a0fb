//! The sans-IO core: builds every request and parses every answer.
//!
//! Nothing here opens a socket, sleeps or spawns. The blocking front end
//! ([`crate::blocking`]) and the async one ([`crate::nonblocking`]) hand the
//! [`HttpRequest`] values built here to their transport and bring back an
//! [`HttpResponse`], which is parsed here too. So the two faces of the client
//! cannot drift apart: they share every byte of request building, every
//! decision to retry, and every line of answer parsing.
//!
//! - [`request`]: method, URL, headers and body bytes of each operation.
//! - [`response`]: status, headers and body bytes into typed results.
//! - [`retry`]: whether and when to try again.
//! - [`sse`]: server-sent events: a `text/event-stream` body, fed in chunks,
//!   into events (the task event stream).
//! - [`stream`]: the task event stream's session: reconnects,
//!   `Last-Event-ID`, duplicates, when to stop.
//! - [`wait`]: waiting for a final status (`wait_for_result`): follow the
//!   events or poll, and when to give up.
//! - [`plan`]: the plan-following decision (`get_plan_following_status`).
//! - `metrics`: the body of a metrics report (`report_metrics`).
//! - `segment`: ids as exactly one percent-encoded path segment.
//! - [`worker`]: the agent worker: its stream, worker events and tasks
//!   (driven by the `runtime` module, feature `runtime`).
//!
//! [`RequestBuilder`], [`parse_task`] and [`parse_task_list`] make this core
//! usable on its own, with any HTTP client.

use std::fmt;
use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, Result};

pub use crate::error::Method;
pub use builder::{parse_task, parse_task_list, RequestBuilder};
pub use worker::events_root;

mod builder;
pub mod duration;
#[cfg(test)]
mod extras_tests;
pub(crate) mod metrics;
pub mod plan;
pub mod public;
pub mod request;
pub mod response;
pub mod retry;
pub(crate) mod segment;
pub mod sse;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod wait;
pub mod worker;

/// The logical operation a request belongs to (for retries and tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// The agent worker's stream (`GET {events root}/events/{agent_id}/`).
    AgentStream,
    /// A worker event: a heartbeat or a capacity update.
    WorkerEvent,
    /// `update` / `aupdate`
    Update,
    /// `get` / `aget`, `Task::load`, `reload`
    Get,
    /// `save` / `asave`, `set_status`
    Save,
    /// `stop` / `astop`
    Stop,
    /// `create` / `acreate`
    Create,
    /// `list` / `alist`
    List,
    /// `list_user_tasks` / `alist_user_tasks`
    ListUserTasks,
    /// `report_external_task` / `areport_external_task`
    ReportExternalTask,
    /// `Task::get_activity_log` / `aget_activity_log`
    ActivityLog,
    /// `Task::report_metrics` / `areport_metrics`
    ReportMetrics,
    /// `Tasks::push_events` / `apush_events`
    PushEvents,
    /// `Task::events` / `aevents`: opening the event stream
    Events,
    /// Public API v1: `invoke` / `ainvoke` (runs an agent; never retried once sent)
    Invoke,
    /// Public API v1: `invoke_async` / `ainvoke_async` (creates a task)
    InvokeAsync,
    /// Public API v1: `invoke_stream` / `ainvoke_stream` (runs an agent; never retried once sent)
    InvokeStream,
    /// Public API v1: `list_tasks` / `alist_tasks` (one page)
    ListTasks,
    /// Public API v1: `agent_tasks` / `aagent_tasks` (one page)
    AgentTasks,
    /// Public API v1: `get_task` / `aget_task`
    GetTask,
    /// Public API v1: `delete_task` / `adelete_task`
    DeleteTask,
    /// Public API v1: `thread` / `athread`
    Thread,
    /// Public API v1: `full_thread` / `afull_thread`
    FullThread,
}

impl Operation {
    /// The operation's name, as the blocking method is called.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::AgentStream => "agent_stream",
            Operation::WorkerEvent => "worker_event",
            Operation::Update => "update",
            Operation::Get => "get",
            Operation::Save => "save",
            Operation::Stop => "stop",
            Operation::Create => "create",
            Operation::List => "list",
            Operation::ListUserTasks => "list_user_tasks",
            Operation::ReportExternalTask => "report_external_task",
            Operation::ActivityLog => "get_activity_log",
            Operation::ReportMetrics => "report_metrics",
            Operation::PushEvents => "push_events",
            Operation::Events => "events",
            Operation::Invoke => "invoke",
            Operation::InvokeAsync => "invoke_async",
            Operation::InvokeStream => "invoke_stream",
            Operation::ListTasks => "list_tasks",
            Operation::AgentTasks => "agent_tasks",
            Operation::GetTask => "get_task",
            Operation::DeleteTask => "delete_task",
            Operation::Thread => "thread",
            Operation::FullThread => "full_thread",
        }
    }

    /// True when sending the same request twice has the effect of sending it
    /// once: update and save send the same body every time; get, list, the
    /// activity log, opening a stream and stop change nothing or converge.
    /// Create, the reports (metrics would be billed twice) and event pushes
    /// (events would show twice) are not.
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Operation::Create
                | Operation::ReportExternalTask
                | Operation::ReportMetrics
                | Operation::PushEvents
                | Operation::Invoke
                | Operation::InvokeAsync
                | Operation::InvokeStream
        )
    }
}

/// One request, ready for a transport: method, full URL, headers, body bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The logical operation.
    pub operation: Operation,
    /// The HTTP method.
    pub method: Method,
    /// The full URL, ids already percent-encoded.
    pub url: String,
    /// The id the operation names (task, agent or user id), as given.
    pub resource_id: String,
    /// Header names (lowercase) and values, `x-api-key` included.
    pub headers: Vec<(&'static str, HeaderValue)>,
    /// The body bytes (JSON), if the request has a body.
    pub body: Option<Vec<u8>>,
    /// Headers the caller added for this call ([`crate::CallOptions::header`]),
    /// lowercase names; sent after [`HttpRequest::headers`].
    pub extra_headers: Vec<(String, HeaderValue)>,
}

impl HttpRequest {
    /// The value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| {
                self.extra_headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            })
    }

    /// Every header, the crate's first, then the caller's extra ones.
    pub fn all_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (*n, v.as_str())).chain(
            self.extra_headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        )
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                if *n == "x-api-key" {
                    (*n, "<redacted>")
                } else {
                    (*n, v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("url", &self.url)
            .field("resource_id", &self.resource_id)
            .field("headers", &headers)
            .field(
                "extra_headers",
                &self
                    .extra_headers
                    .iter()
                    .map(|(n, _)| n)
                    .collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish()
    }
}

/// A header value shared between requests without copying (the API key and
/// the content type are built once per client).
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderValue(Arc<str>);

impl HeaderValue {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for HeaderValue {
    fn from(value: &str) -> HeaderValue {
        HeaderValue(Arc::from(value))
    }
}

impl From<String> for HeaderValue {
    fn from(value: String) -> HeaderValue {
        HeaderValue(Arc::from(value))
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be secrets; show only their length.
        write!(f, "HeaderValue(<{} bytes>)", self.0.len())
    }
}

/// One answer, as a transport brings it back. Its `Debug` shows the size
/// of the body, not the body (a task carries tokens; an error may echo the
/// key).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Retry-After` header, if present.
    pub retry_after: Option<String>,
    /// The body bytes (at most the configured limit).
    pub body: Vec<u8>,
    /// Which attempt this answer came from (1 for the first).
    pub attempts: u32,
    /// The request's method and shown URL (see [`crate::error::ApiError::url`]),
    /// set by the front end; an API error made from this answer names them.
    pub(crate) request: Option<(Method, String)>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .field("body_len", &self.body.len())
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl HttpResponse {
    /// An answer to the first attempt.
    pub fn new(status: u16, retry_after: Option<String>, body: Vec<u8>) -> HttpResponse {
        HttpResponse {
            status,
            retry_after,
            body,
            attempts: 1,
            request: None,
        }
    }
}

/// The most bytes kept of a non-2xx answer's body: enough for any error
/// detail. The rest is not read (the connection is then not reused), so a
/// huge 503 page stays an [`Error::Api`] with its status, retried as such.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The body-size rules both transports apply while reading an answer: a 2xx
/// body over the limit is refused ([`Error::BodyTooLarge`], refused before
/// reading when the declared length says so); of any other answer only the
/// first [`MAX_ERROR_BODY_BYTES`] are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit {
    pub(crate) bytes: usize,
}

impl BodyLimit {
    /// `true` when a body of this status over the limit is an error (2xx),
    /// `false` when it is cut (any other status).
    pub(crate) fn is_strict(status: u16) -> bool {
        (200..300).contains(&status)
    }

    /// The most body bytes kept for this status.
    pub(crate) fn keep(self, status: u16) -> usize {
        if Self::is_strict(status) {
            self.bytes
        } else {
            MAX_ERROR_BODY_BYTES.min(self.bytes)
        }
    }

    /// Checks the declared `content-length` (if any) and answers the buffer
    /// capacity to start with.
    pub(crate) fn start(self, status: u16, declared: Option<u64>) -> Result<usize> {
        let keep = self.keep(status);
        match declared {
            Some(len) if len > keep as u64 && Self::is_strict(status) => Err(self.exceeded(status)),
            Some(len) => Ok((len as usize).min(keep)),
            None => Ok(1024.min(keep)),
        }
    }

    /// How much of a chunk of `read` bytes, after `so_far`, to keep: all of
    /// it, or (for a non-2xx answer reaching its cut) a prefix, after which
    /// reading stops. A 2xx answer over the limit is an error. (The async
    /// transport reads chunk by chunk; ureq applies the limits itself.)
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn take(self, status: u16, so_far: usize, read: usize) -> Result<Take> {
        let keep = self.keep(status);
        if so_far.saturating_add(read) <= keep {
            Ok(Take::All)
        } else if Self::is_strict(status) {
            Err(self.exceeded(status))
        } else {
            Ok(Take::PrefixThenStop(keep.saturating_sub(so_far)))
        }
    }

    /// The error of an answer over the limit.
    pub(crate) fn exceeded(self, status: u16) -> Error {
        Error::BodyTooLarge {
            status,
            limit: self.bytes,
        }
    }
}

/// What [`BodyLimit::take`] decides for one chunk.
#[cfg_attr(not(feature = "async"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Keep the whole chunk and read on.
    All,
    /// Keep this many bytes of it and stop reading.
    PrefixThenStop(usize),
}

/// What reading an open stream's body gave (the faces' event streams).
#[cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum StreamRead {
    /// The next bytes.
    Bytes(Vec<u8>),
    /// The body ended.
    End,
    /// No byte came for the idle timeout.
    Idle,
}

/// Says, on a transport error met while reading a body, how far the answer got.
pub(crate) fn broke_off(mut error: Error, status: u16, read: usize) -> Error {
    if let Error::Transport(t) = &mut error {
        t.message = format!(
            "the answer (status {status}) broke off after {read} body bytes: {}",
            t.message
        );
    }
    error
}

/// What the core keeps of the configuration to build requests quickly: the
/// URL prefix and the header values are made once per client.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    /// `{base_url}/agent-execution/`
    prefix: String,
    api_key: HeaderValue,
    json: HeaderValue,
    accept: HeaderValue,
    secrets: Arc<crate::redact::Secrets>,
    pub(crate) config: Config,
}

impl Core {
    /// Parses a one-task answer; errors never carry the key.
    pub(crate) fn task(&self, response: HttpResponse) -> Result<crate::model::Task> {
        response::task(response, self.secret())
    }

    /// Parses a list answer; errors never carry the key.
    pub(crate) fn task_list(
        &self,
        response: HttpResponse,
    ) -> Result<Vec<crate::model::TaskListItem>> {
        response::task_list(response, self.secret())
    }

    /// Parses an activity-log answer.
    pub(crate) fn activity(&self, response: HttpResponse) -> Result<crate::model::ActivityThread> {
        response::activity(response, self.secret())
    }

    /// Checks an answer whose body is not used.
    pub(crate) fn accepted(&self, response: HttpResponse) -> Result<()> {
        response::accepted(response, self.secret())
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
            api_key: HeaderValue::from(config.api_key.expose()),
            json: HeaderValue::from("application/json"),
            accept: HeaderValue::from("*/*"),
            config,
        }
    }
}
