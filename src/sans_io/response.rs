//! Parsing every answer of the Tasks API into typed results. No I/O.
//!
//! A 2xx answer is decoded into the operation's type; a body that does not
//! decode is [`Error::Decode`] with the status and a bounded snippet. Any
//! other status is [`Error::Api`] with the status and the body text (and the
//! FastAPI `detail`, when there is one).
//!
//! No credential leaves through an error: every snippet and error body has
//! the values of credential-bearing keys redacted, and the configured API key
//! (the `Secret` given) is scrubbed from the body, the detail and the snippet.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::body::Body;
use crate::error::{ApiError, DecodeError, Error, Result};
use crate::model::{ActivityThread, FullThread, Task, TaskListItem, TaskPage, ThreadMessage};
use crate::redact::{self, snippet};
use http::Method;

/// One answer, as a transport brings it back: the status, the
/// `Retry-After` header (the one header the core reads) and the body bytes
/// (at most the configured limit). The retry loop adds [`Attempts`].
pub type HttpResponse = http::Response<Body>;

/// An answer with this status, `Retry-After` (if any) and body.
pub fn answer(status: http::StatusCode, retry_after: Option<&str>, body: Vec<u8>) -> HttpResponse {
    let mut response = http::Response::new(Body(body));
    *response.status_mut() = status;
    if let Some(value) = retry_after.and_then(|v| crate::headers::value("retry-after", v).ok()) {
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

/// The answer of a delete (`DELETE /v1/tasks/{id}`): the schema says `204`
/// without a body, the reference page `200 {"message": ...}`; both are a
/// success.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deleted {
    /// The status the server answered (204 or 200, or another 2xx).
    pub status: u16,
    /// The `message` of a `200` answer, when it had one.
    pub message: Option<String>,
}

/// The answer of update, get, save, stop, create and report: a 2xx answer
/// decoded as a [`Task`], any other status as [`crate::Error::Api`]. Errors
/// carry no value of a credential-bearing key; this function does not know
/// your API key, so prefer [`RequestBuilder::parse_task`](super::RequestBuilder::parse_task), which also
/// scrubs it.
pub fn parse_task(response: HttpResponse) -> Result<Task> {
    Answer::parse(response, Secret::NONE)
}

/// The answer of list and list_user_tasks: a 2xx answer decoded as a list of
/// [`TaskListItem`], any other status as [`crate::Error::Api`] (see
/// [`parse_task`] about secrets).
pub fn parse_task_list(response: HttpResponse) -> Result<Vec<TaskListItem>> {
    Answer::parse(response, Secret::NONE)
}

/// The secrets that must never appear in an error, whole or in part (the
/// configured API key, a proxy's credentials).
#[derive(Clone, Copy)]
pub(crate) struct Secret<'a>(pub(crate) &'a redact::Secrets);

/// No secret at all.
static NO_SECRETS: redact::Secrets = redact::Secrets::new();

impl Secret<'_> {
    /// No known secret (only credential-bearing keys are redacted).
    pub(crate) const NONE: Secret<'static> = Secret(&NO_SECRETS);

    fn scrub(self, text: String) -> String {
        match self.0.scrub(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(clean) => clean,
        }
    }
}

/// What an answer is parsed into: the other half of an endpoint. A
/// front-end method's return type picks it ([`super::Core::parse`]), so an
/// endpoint whose answer is a type below needs no parsing of its own.
pub(crate) trait Answer: Sized {
    /// Parses a 2xx answer; any other status is [`Error::Api`].
    fn parse(response: HttpResponse, secret: Secret<'_>) -> Result<Self>;
}

/// JSON answers: the type and what an error says was expected.
macro_rules! json_answers {
    ($($type:ty => $expected:literal,)*) => {$(
        impl Answer for $type {
            fn parse(response: HttpResponse, secret: Secret<'_>) -> Result<Self> {
                decode(response, $expected, secret)
            }
        }
    )*};
}

json_answers! {
    // update, get, save, stop, create, report, and the v1 tasks
    Task => "a task",
    // list and list_user_tasks
    Vec<TaskListItem> => "a list of tasks",
    // An empty body, `null`, text or an object that is not a thread is
    // [`Error::Decode`], never a raw string.
    ActivityThread => "an activity thread",
    TaskPage => "a page of tasks",
    Vec<ThreadMessage> => "a thread (an array of messages)",
    FullThread => "a full thread (an object of message arrays)",
}

/// An answer whose body is not used (metrics, event push): any 2xx.
impl Answer for () {
    fn parse(response: HttpResponse, secret: Secret<'_>) -> Result<()> {
        check_status(response, secret).map(drop)
    }
}

/// The answer as it came, status unchecked (the agent worker's calls,
/// which read it themselves).
impl Answer for HttpResponse {
    fn parse(response: HttpResponse, _: Secret<'_>) -> Result<HttpResponse> {
        Ok(response)
    }
}

/// A delete's answer: any 2xx is success, `204` without a body, `200` with
/// `{"message": ...}` (or any other body, its message unread).
impl Answer for Deleted {
    fn parse(response: HttpResponse, secret: Secret<'_>) -> Result<Deleted> {
        let answer = check_status(response, secret)?;
        let message = serde_json::from_slice::<Value>(answer.body())
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned));
        Ok(Deleted {
            status: answer.status().as_u16(),
            message,
        })
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    response: HttpResponse,
    expected: &'static str,
    secret: Secret<'_>,
) -> Result<T> {
    let response = check_status(response, secret)?;
    serde_json::from_slice(response.body()).map_err(|source| {
        // serde's message may quote a value of the body (`invalid type:
        // string "…"`, a timestamp cut to its first characters).
        secret.0.scrub_error(Error::Decode(DecodeError {
            status: response.status().as_u16(),
            expected,
            snippet: snippet(response.body(), secret.0),
            source,
        }))
    })
}

/// Passes a 2xx answer through; turns any other into [`Error::Api`].
pub(crate) fn check_status(response: HttpResponse, secret: Secret<'_>) -> Result<HttpResponse> {
    if response.status().is_success() {
        return Ok(response);
    }
    Err(Error::Api(api_error(&response, secret)))
}

/// The API error of a non-2xx answer.
pub(crate) fn api_error(response: &HttpResponse, secret: Secret<'_>) -> ApiError {
    let mut error = api_error_of(response.status().as_u16(), response.body(), secret);
    error.retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    error.attempts = response.extensions().get().map_or(1, |Attempts(n)| *n);
    if let Some(Sent(method, url)) = response.extensions().get() {
        (error.method, error.url) = (Some(method.clone()), Some(url.clone()));
    }
    error
}

/// The API error of a status and a body (a first attempt, no request named).
pub(crate) fn api_error_of(status: u16, body: &[u8], secret: Secret<'_>) -> ApiError {
    ApiError {
        status,
        body: snippet(body, secret.0),
        detail: detail(body).map(|d| secret.scrub(d)),
        retry_after: None,
        attempts: 1,
        method: None,
        url: None,
    }
}

/// The `detail` of a FastAPI error body: a string, or a list of
/// `{loc, msg}` validation errors joined as `body.status: msg`. A detail of
/// another shape is shown as JSON, with the values of credential-bearing
/// keys redacted (it may echo what was sent: a task, a header).
fn detail(body: &[u8]) -> Option<String> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    redact::redact_credentials(&mut value);
    match value.get("detail")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| {
                    let loc = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|loc| {
                            loc.iter()
                                .map(|p| match p {
                                    Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                })
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let msg = item
                        .get("msg")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| item.to_string());
                    if loc.is_empty() {
                        msg
                    } else {
                        format!("{loc}: {msg}")
                    }
                })
                .collect();
            Some(parts.join("; "))
        }
        other => Some(other.to_string()),
    }
}
