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
use crate::model::{Task, TaskListItem};

pub use http::{HeaderValue, Method};
pub use request::Operation;
pub use worker::events_root;

pub mod duration;
#[cfg(test)]
mod extras_tests;
pub(crate) mod metrics;
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
pub mod plan;
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
pub mod public;
pub mod request;
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
pub mod response;
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
pub mod retry;
pub(crate) mod segment;
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
pub mod sse;
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
pub mod stream;
#[cfg(test)]
mod tests;
pub mod wait;
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
pub mod worker;

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

/// The body bytes of a request or an answer. Its `Debug` shows the size,
/// never the bytes (a task carries tokens; an error may echo the key).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body(pub Vec<u8>);

impl std::ops::Deref for Body {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body(bytes)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body(<{} bytes>)", self.0.len())
    }
}

/// One answer, as a transport brings it back: the status, the
/// `Retry-After` header (the one header the core reads) and the body bytes
/// (at most the configured limit). The retry loop adds [`Attempts`].
pub type HttpResponse = http::Response<Body>;

/// An answer with this status, `Retry-After` (if any) and body.
pub fn answer(status: http::StatusCode, retry_after: Option<&str>, body: Vec<u8>) -> HttpResponse {
    let mut response = http::Response::new(Body(body));
    *response.status_mut() = status;
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, value);
    }
    response
}

/// Which attempt an answer came from (an extension of an [`HttpResponse`];
/// without it, the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts(pub u32);

/// The request's method and shown URL (see [`crate::error::ApiError::url`]),
/// an extension the front end sets on an answer: an API error made from it
/// names them.
#[derive(Debug, Clone)]
pub(crate) struct Sent(pub(crate) Method, pub(crate) String);

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

#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
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

    /// Appends a chunk of the body to what was read so far: all of it,
    /// or (for a non-2xx answer reaching its cut) its first bytes, then
    /// `false`: read no more. A 2xx answer over the limit is an error. (The
    /// async transport reads chunk by chunk; the blocking one reads whole.)
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn append(self, status: u16, body: &mut Vec<u8>, chunk: &[u8]) -> Result<bool> {
        let keep = self.keep(status);
        if body.len().saturating_add(chunk.len()) <= keep {
            body.extend_from_slice(chunk);
            Ok(true)
        } else if Self::is_strict(status) {
            Err(self.exceeded(status))
        } else {
            let room = keep.saturating_sub(body.len());
            body.extend_from_slice(chunk.get(..room).unwrap_or(chunk));
            Ok(false)
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

    /// As [`parse_task`], and the configured API key is scrubbed from any
    /// error (a gateway may echo it in a 401 body).
    pub fn parse_task(&self, response: HttpResponse) -> Result<Task> {
        self.core.task(response)
    }

    /// As [`parse_task_list`], and the configured API key is scrubbed from
    /// any error.
    pub fn parse_task_list(&self, response: HttpResponse) -> Result<Vec<TaskListItem>> {
        self.core.parse(response)
    }
}

/// The answer of update, get, save, stop, create and report: a 2xx answer
/// decoded as a [`Task`], any other status as [`crate::Error::Api`]. Errors
/// carry no value of a credential-bearing key; this function does not know
/// your API key, so prefer [`RequestBuilder::parse_task`], which also
/// scrubs it.
pub fn parse_task(response: HttpResponse) -> Result<Task> {
    response::Answer::parse(response, response::Secret::NONE)
}

/// The answer of list and list_user_tasks: a 2xx answer decoded as a list of
/// [`TaskListItem`], any other status as [`crate::Error::Api`] (see
/// [`parse_task`] about secrets).
pub fn parse_task_list(response: HttpResponse) -> Result<Vec<TaskListItem>> {
    response::Answer::parse(response, response::Secret::NONE)
}
