//! The one error type of the crate.
//!
//! Every failure is one of a few kinds that a caller can tell apart and act on:
//!
//! | variant | when | helpers | retry? |
//! |---|---|---|---|
//! | [`Error::Config`] | the client is not configured: no API key, a bad base URL (one without a scheme is refused with the URL it likely meant), plain http off loopback | | fix the configuration |
//! | [`Error::InvalidArgument`] | a value the caller passed was refused before any request: an empty, `.` or `..` id, a payload extension that is not an object | | fix the call |
//! | [`Error::Api`] | the server answered with a non-2xx status: an [`ApiError`] with the status, the body text (bounded), FastAPI's `detail`, `Retry-After`, the request's method and URL | [`ApiError::status`], [`ApiError::is_not_found`] (no such task), [`ApiError::is_unknown_route`] (a 404 for the URL itself: a wrong base URL), [`ApiError::is_conflict`], [`Error::is_unauthorized`], [`ApiError::class`] | see [`ApiError::is_retryable`] |
//! | [`Error::Transport`] | the server was never reached, or the exchange broke off: a [`TransportError`] of kind `Connect`, `ConnectTimeout`, `Timeout`, `Disconnected`, `Protocol` (not acceptable HTTP) or `Other`, with the request's method and URL; TLS spoken to a plain-http server says "does not speak TLS: did you mean http://...?", a host that does not resolve "could not resolve host" | [`Error::is_connect`], [`Error::is_timeout`] | see [`TransportError::kind`] |
//! | [`Error::Decode`] | the server answered 2xx but the body is not the JSON the API promises: status, snippet, serde's error | | no |
//! | [`Error::BodyTooLarge`] | a 2xx answer larger than the configured limit ([`Config::max_response_bytes`](crate::Config::max_response_bytes)), not read into memory | | no |
//! | [`Error::Timeout`] | a task did not reach a final status in the time given to wait for it (`wait_for_result`): how long it waited, the last status seen | [`Error::is_timeout`] | wait again |
//!
//! API and transport errors start with the request, e.g. `GET
//! http://127.0.0.1:8016/agent-execution/t1/status: the API answered 404 Not
//! Found: Task t1 not found`: scheme, host, port and path, never the query or
//! userinfo. [`Error::class`] sorts failures as the AWS SDKs do (transient,
//! throttling, server, client), and [`Error::attempts`] says how many
//! attempts were made.
//!
//! No failure is reported as a fake HTTP status: a refused connection is a
//! [`TransportError`] with [`TransportErrorKind::Connect`], never a "500".
//! The API key never appears in any error's `Debug` or `Display`.
//!
//! Shared: both faces classify a failure here (the transports map their HTTP
//! crate's errors to a [`TransportErrorKind`]; [`crate::sans_io::response`]
//! makes the [`ApiError`]), so the same failure is the same error in both.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::fmt;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way a call can fail. See the [module documentation](self) for a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be configured: no API key, a base URL that is
    /// not a URL, plain `http` to a non-loopback host without opting in.
    #[error("configuration error: {0}")]
    Config(String),

    /// An argument was refused before any request was sent (an empty task
    /// id, `.` or `..` as an id, a value that cannot be encoded).
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The parameter's name, e.g. `task_id`.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },

    /// The server answered with a status outside 2xx.
    #[error(transparent)]
    Api(#[from] ApiError),

    /// The request never got an answer: connection refused, DNS failure,
    /// TLS failure, timeout, or the connection broke off mid-exchange.
    #[error(transparent)]
    Transport(#[from] TransportError),

    /// The server answered 2xx but the body could not be decoded into the
    /// expected type.
    #[error(transparent)]
    Decode(#[from] DecodeError),

    /// The answer's body was larger than the configured limit
    /// ([`crate::ClientBuilder::max_response_bytes`]); it was not read whole.
    #[error("response body exceeds the limit of {limit} bytes (status {status})")]
    BodyTooLarge {
        /// The HTTP status of the answer.
        status: u16,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// Waiting for a task's final status took longer than the time given
    /// ([`crate::sans_io::wait::WaitPolicy::timeout`]); the task may still
    /// finish later.
    #[error(
        "timed out after {waited:.1?} waiting for task `{task_id}` to reach a final status (last status seen: {})",
        .last_status.as_ref().map_or("none", |s| s.as_str())
    )]
    Timeout {
        /// The task waited for.
        task_id: String,
        /// How long the wait lasted.
        waited: std::time::Duration,
        /// The last status seen, if any was.
        last_status: Option<crate::model::AgentExecutionStatus>,
    },
}

impl Error {
    /// The HTTP status, when the server answered (API, decode and size errors).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode(e) => Some(e.status),
            Error::BodyTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API error, if the server answered with a non-2xx status.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// True for a 404 answer about the resource: the task (or agent, or
    /// activity thread) does not exist. False for a route the server does
    /// not know ([`Error::is_unknown_route`]): that is a wrong base URL, not
    /// a missing task.
    pub fn is_not_found(&self) -> bool {
        self.as_api().is_some_and(ApiError::is_not_found)
    }

    /// True for a 404 answer about the URL itself: the server has no such
    /// route (FastAPI's bare `{"detail": "Not Found"}`, or a web server's
    /// HTML page), which means the base URL is wrong (a path such as `/v1`
    /// that does not belong, another service), not that the task is gone.
    /// See [`ApiError::is_unknown_route`].
    pub fn is_unknown_route(&self) -> bool {
        self.as_api().is_some_and(ApiError::is_unknown_route)
    }

    /// True for a 409 answer: a concurrent update conflict. Reload the task
    /// and apply the change again (see [`crate::Tasks::retry_on_conflict`]).
    pub fn is_conflict(&self) -> bool {
        self.as_api().is_some_and(ApiError::is_conflict)
    }

    /// True for 401 and 403 answers: the API key is missing, wrong or lacks rights.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Api(e) if e.status == 401 || e.status == 403)
    }

    /// True when the request timed out (connect or whole-request timeout,
    /// or the call's deadline), or a wait for a task's final status did
    /// ([`Error::Timeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport(e) if matches!(e.kind, TransportErrorKind::Timeout | TransportErrorKind::ConnectTimeout))
            || matches!(self, Error::Timeout { .. })
    }

    /// True when no connection could be made (refused, DNS, TLS handshake).
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Transport(e) if e.kind == TransportErrorKind::Connect)
    }

    /// The broad class of the failure, after the smithy-rs (AWS SDK) model.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Api(e) => e.class(),
            Error::Transport(e) if e.tls_refused => ErrorClass::Client,
            Error::Transport(e) if e.kind == TransportErrorKind::Other => ErrorClass::Client,
            Error::Transport(e) if e.kind == TransportErrorKind::Protocol => ErrorClass::Server,
            Error::Transport(_) | Error::Timeout { .. } => ErrorClass::Transient,
            Error::Config(_) | Error::InvalidArgument { .. } => ErrorClass::Client,
            Error::Decode(_) | Error::BodyTooLarge { .. } => ErrorClass::Server,
        }
    }

    /// How many attempts were made before this error was returned (1 when
    /// the call was not retried, 0 when it failed before any request).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Api(e) => e.attempts,
            Error::Transport(e) => e.attempts,
            Error::Decode(_) | Error::BodyTooLarge { .. } | Error::Timeout { .. } => 1,
            Error::Config(_) | Error::InvalidArgument { .. } => 0,
        }
    }

    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Error {
        match &mut self {
            Error::Api(e) => e.attempts = attempts,
            Error::Transport(e) => e.attempts = attempts,
            _ => {}
        }
        self
    }
}

/// The broad class of a failure: what a caller (or a retry policy) should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// A passing failure (connection refused or reset, timeout, 502/503/504).
    Transient,
    /// The server asked the client to slow down (429).
    Throttling,
    /// The server failed (500 and other 5xx, an undecodable 2xx body).
    Server,
    /// The request was wrong (4xx other than 429, a bad argument or configuration).
    Client,
}

/// A non-2xx answer from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// The body text, cut to a bounded length (see [`SNIPPET_LIMIT`]), with
    /// the values of credential-bearing keys (tokens, keys, secrets, headers)
    /// and the configured API key redacted.
    pub body: String,
    /// The `detail` message when the body is FastAPI-style JSON.
    pub detail: Option<String>,
    /// The `Retry-After` header as the server sent it, if any.
    pub retry_after: Option<String>,
    /// How many attempts were made (more than 1 when retried).
    pub attempts: u32,
    /// The method of the request that got this answer (`None` for an
    /// error made with [`ApiError::new`]).
    pub method: Option<http::Method>,
    /// The URL of the request that got this answer: scheme, host, port and
    /// path, never its query or userinfo.
    pub url: Option<String>,
}

/// How many bytes of a body an error keeps.
pub const SNIPPET_LIMIT: usize = 2048;

impl ApiError {
    /// An API error with this status and body text (for tests and mocks of
    /// your own code); `detail` is read from a FastAPI-style body, the
    /// attempt count is 1.
    ///
    /// ```
    /// use xpander_sdk::{ApiError, Error};
    ///
    /// let err = ApiError::new(404, r#"{"detail": "Task t not found"}"#);
    /// assert_eq!(err.detail.as_deref(), Some("Task t not found"));
    /// assert!(Error::from(err).is_not_found());
    /// ```
    pub fn new(status: u16, body: impl Into<String>) -> ApiError {
        let body = body.into();
        crate::sans_io::response::api_error_of(
            status,
            body.as_bytes(),
            crate::sans_io::response::Secret::NONE,
        )
    }

    /// Sets the `Retry-After` value.
    pub fn retry_after(mut self, value: impl Into<String>) -> ApiError {
        self.retry_after = Some(value.into());
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// True for a 404 about the resource (`Task … not found`): the task,
    /// agent or thread does not exist. False for an unknown route
    /// ([`ApiError::is_unknown_route`]).
    ///
    /// ```
    /// use xpander_sdk::ApiError;
    ///
    /// assert!(ApiError::new(404, r#"{"detail": "Task t not found"}"#).is_not_found());
    /// assert!(!ApiError::new(404, r#"{"detail": "Not Found"}"#).is_not_found());
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.status == 404 && !self.is_unknown_route()
    }

    /// True for a 404 about the URL: the server does not know the route.
    /// The Tasks API (FastAPI) answers a path it has no route for with a
    /// bare `{"detail": "Not Found"}`, and a missing task with `Task …
    /// not found`; a web server or gateway in front answers with an HTML
    /// page, a line of text, an empty body or JSON without a `detail`.
    /// Either way the base URL is wrong (a `/v1` too many, another
    /// service), and no task was looked up.
    ///
    /// ```
    /// use xpander_sdk::ApiError;
    ///
    /// assert!(ApiError::new(404, r#"{"detail":"Not Found"}"#).is_unknown_route());
    /// assert!(ApiError::new(404, "<html><body>404 Not Found</body></html>").is_unknown_route());
    /// assert!(ApiError::new(404, "404 page not found").is_unknown_route());
    /// assert!(!ApiError::new(404, r#"{"detail": "Task t not found"}"#).is_unknown_route());
    /// ```
    pub fn is_unknown_route(&self) -> bool {
        // Only the API's own words about a resource (a FastAPI `detail`
        // other than the bare one) say a task was looked up; anything else
        // in front of it (an HTML page, Traefik's text, Envoy's empty body,
        // an API gateway's `{"message": "Not Found"}`) is about the route.
        self.status == 404
            && match &self.detail {
                Some(detail) => detail.trim().eq_ignore_ascii_case("not found"),
                None => true,
            }
    }

    /// True for 409, a concurrent update conflict.
    pub fn is_conflict(&self) -> bool {
        self.status == 409
    }

    /// The class of this answer: 429 throttling, 502/503/504 transient,
    /// other 5xx server, other statuses client.
    pub fn class(&self) -> ErrorClass {
        match self.status {
            429 => ErrorClass::Throttling,
            502..=504 => ErrorClass::Transient,
            500..=599 => ErrorClass::Server,
            _ => ErrorClass::Client,
        }
    }

    /// True when retrying the same request may succeed (429, 502, 503, 504).
    pub fn is_retryable(&self) -> bool {
        matches!(self.class(), ErrorClass::Throttling | ErrorClass::Transient)
    }
}

/// `GET https://host:443/path: ` when the request is known.
struct Request<'a>(&'a Option<http::Method>, &'a Option<String>);

impl fmt::Display for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(method), Some(url)) => write!(f, "{method} {url}: "),
            (None, Some(url)) => write!(f, "{url}: "),
            _ => Ok(()),
        }
    }
}

/// ` (after N attempts)` when the call was retried.
struct Attempts(u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 | 1 => Ok(()),
            n => write!(f, " (after {n} attempts)"),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status;
        write!(
            f,
            "{}the API answered {status}",
            Request(&self.method, &self.url)
        )?;
        if let Some(reason) = reason_phrase(status) {
            write!(f, " {reason}")?;
        }
        let body = Some(&self.body).filter(|body| !body.is_empty());
        if let Some(text) = self.detail.as_ref().or(body) {
            write!(f, ": {text}")?;
        }
        write!(f, "{}", Attempts(self.attempts))?;
        if self.is_unknown_route() {
            write!(
                f,
                "; the server has no such route: check the base URL (the SDK adds \
                 the API's paths, such as /agent-execution/..., itself)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The reason phrase of a status code, from the `http` crate's table (the
/// emulator's answers use the same one).
pub(crate) fn reason_phrase(status: u16) -> Option<&'static str> {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made: refused, host not found, TLS handshake.
    /// Nothing was sent, so any operation may be retried.
    Connect,
    /// No connection was made within the connect timeout (DNS, TCP and
    /// TLS). Nothing was sent, so any operation may be retried.
    ConnectTimeout,
    /// The whole-request timeout of an attempt, or the call's deadline, expired.
    Timeout,
    /// The connection broke off after the request may have been sent
    /// (reset, closed before the answer, truncated answer head).
    Disconnected,
    /// The server's answer was not acceptable HTTP (a malformed or
    /// oversized head). Not retried: the same server is likely to answer alike.
    Protocol,
    /// Any other transport failure.
    Other,
}

/// The request did not get a complete answer.
#[derive(Debug, thiserror::Error)]
#[error("{}transport error ({kind:?}): {message}{}", Request(.method, .url), Attempts(*.attempts))]
#[non_exhaustive]
pub struct TransportError {
    /// What kind of failure this is.
    pub kind: TransportErrorKind,
    /// A description from the HTTP client (never contains the API key).
    pub message: String,
    /// How many attempts were made (more than 1 when retried).
    pub attempts: u32,
    /// The HTTP client's own error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// The method of the request that failed.
    pub method: Option<http::Method>,
    /// The URL of the request that failed: scheme, host, port and path,
    /// never its query or userinfo.
    pub url: Option<String>,
    /// The TLS handshake was refused (see [`TransportError::is_tls_refusal`]).
    pub(crate) tls_refused: bool,
}

impl TransportError {
    /// A transport error of the given kind.
    pub(crate) fn new(
        kind: TransportErrorKind,
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> TransportError {
        TransportError {
            kind,
            message: message.into(),
            attempts: 1,
            source,
            method: None,
            url: None,
            tls_refused: false,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// True when the TLS handshake was refused: the server's certificate
    /// was not trusted (or not valid for the host), or a TLS alert ended
    /// it. Its kind is [`TransportErrorKind::Connect`] (nothing was sent),
    /// but it is never retried, as no retry can fix it.
    pub fn is_tls_refusal(&self) -> bool {
        self.tls_refused
    }
}

/// A 2xx answer whose body is not what the API promises.
#[derive(Debug, thiserror::Error)]
#[error("could not decode the answer (status {status}) as {expected}: {source}; body starts: {snippet:?}")]
#[non_exhaustive]
pub struct DecodeError {
    /// The HTTP status of the answer.
    pub status: u16,
    /// What the body should have been, e.g. `a task`.
    pub expected: &'static str,
    /// The first bytes of the body (at most [`SNIPPET_LIMIT`]), lossily
    /// decoded, with the values of credential-bearing keys and the
    /// configured API key redacted.
    pub snippet: String,
    /// The JSON error.
    #[source]
    pub source: serde_json::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let api = |status| ApiError {
            status,
            body: String::new(),
            detail: None,
            retry_after: None,
            attempts: 1,
            method: None,
            url: None,
        };
        assert_eq!(api(429).class(), ErrorClass::Throttling);
        assert_eq!(api(503).class(), ErrorClass::Transient);
        assert_eq!(api(500).class(), ErrorClass::Server);
        assert_eq!(api(404).class(), ErrorClass::Client);
        // A bare 404 (no API `detail`) came from something in front of the API.
        assert!(Error::Api(api(404)).is_unknown_route());
        assert!(!Error::Api(api(404)).is_not_found());
        let route = Error::Api(ApiError::new(404, r#"{"detail":"Not Found"}"#));
        assert!(route.is_unknown_route() && !route.is_not_found());
        assert!(route.to_string().contains("check the base URL"), "{route}");
        let task = Error::Api(ApiError::new(404, r#"{"detail":"Task t not found"}"#));
        assert!(task.is_not_found() && !task.is_unknown_route());
        assert!(!task.to_string().contains("base URL"), "{task}");
        assert!(Error::Api(api(409)).is_conflict());
        assert!(!Error::Api(api(409)).is_not_found());
        let shown = Error::Api(ApiError {
            attempts: 3,
            ..api(503)
        })
        .to_string();
        assert!(
            shown.contains("503") && shown.contains("3 attempts"),
            "{shown}"
        );
    }
}
