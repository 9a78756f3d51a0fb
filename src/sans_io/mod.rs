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

#[cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(unused_imports)
)]
pub(crate) use body::{broke_off, BodyLimit, StreamRead};
pub use body::{Body, MAX_ERROR_BODY_BYTES};
pub use http::{HeaderValue, Method};
pub(crate) use request::Core;
pub use request::{HttpRequest, Operation, RequestBuilder};
#[cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(unused_imports)
)]
pub(crate) use response::Sent;
pub use response::{answer, parse_task, parse_task_list, Attempts, HttpResponse};
pub use worker::events_root;

mod body;
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
