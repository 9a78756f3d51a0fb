//! Rust client for the [xpander.ai](https://xpander.ai) Tasks API, with a
//! blocking and an async face on one client.
//!
//! Every operation exists twice on [`Tasks`], as the official Python client
//! offers them: `update` / `aupdate`, `get` / `aget`, `create` / `acreate`,
//! `list` / `alist`, `stop` / `astop`, and on a loaded [`Task`] `save` /
//! `asave`, `reload` / `areload`, `set_status` / `aset_status`.
//!
//! # Blocking
//!
//! ```
//! # #[cfg(all(feature = "blocking", feature = "emulator"))] {
//! # let emulator = xpander_sdk::emulator::Emulator::start()?;
//! # emulator.seed_task(serde_json::json!({"id": "task_xyz", "agent_id": "a", "organization_id": "o", "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}))?;
//! # std::env::set_var("XPANDER_API_KEY", emulator.api_key());
//! # std::env::set_var("XPANDER_BASE_URL", emulator.base_url());
//! use xpander_sdk::{AgentExecutionStatus, Tasks, UpdateTask};
//!
//! // XPANDER_API_KEY, XPANDER_ORGANIZATION_ID, XPANDER_BASE_URL, IS_STG
//! let tasks = Tasks::from_env()?;
//! let task = tasks.update(
//!     "task_xyz",
//!     &UpdateTask::new()
//!         .status(AgentExecutionStatus::Completed)
//!         .result("Final summary: ..."),
//! )?;
//! assert_eq!(task.status, Some(AgentExecutionStatus::Completed));
//!
//! // Or load the task, change it, and save it whole.
//! let mut task = tasks.get("task_xyz")?;
//! task.result = Some("Final summary, revised".into());
//! task.save(&tasks)?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Async
//!
//! ```
//! # #[cfg(all(feature = "async", feature = "emulator"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = xpander_sdk::emulator::Emulator::start()?;
//! # emulator.seed_task(serde_json::json!({"id": "task_xyz", "agent_id": "a", "organization_id": "o", "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}))?;
//! use xpander_sdk::{AgentExecutionStatus, ListFilter, Tasks, UpdateTask};
//!
//! let tasks = Tasks::builder()
//!     .api_key(emulator.api_key())
//!     .base_url(emulator.base_url())
//!     .build()?;
//! let task = tasks
//!     .aupdate("task_xyz", &UpdateTask::new().status(AgentExecutionStatus::Error).result("Connector failed"))
//!     .await?;
//! let failed = tasks
//!     .alist(&task.agent_id, &ListFilter::new().status(AgentExecutionStatus::Error))
//!     .await?;
//! assert_eq!(failed.len(), 1);
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "async", feature = "emulator")))]
//! # fn main() {}
//! ```
//!
//! # Errors
//!
//! [`Error`] keeps apart a configuration problem, a refused argument, an API
//! answer ([`ApiError`]: status and body, with `is_not_found`,
//! `is_conflict`), a transport failure ([`TransportError`]: connect, timeout,
//! disconnect) and an undecodable body ([`DecodeError`]). No failure is
//! reported as a fake HTTP status, and the API key appears in no error.
//!
//! # Reliability
//!
//! Calls are retried by a [`RetryPolicy`] (3 attempts by default): connection
//! failures, connect timeouts and 429 for every operation; 502, 503, 504 and
//! broken connections for idempotent ones (update, save, get, list, stop),
//! honouring `Retry-After`. A deadline ([`ClientBuilder::deadline`], or per
//! call through [`Tasks::with_options`] and [`CallOptions`]) bounds a whole
//! call, retries included. [`Tasks::retry_on_conflict`] reloads and re-applies a
//! change on 409. Timeouts ([`Timeouts`]) and a response size limit are
//! always set. The base URL must be https except on loopback, and the key
//! never follows a redirect.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `blocking` | yes | the blocking face, over ureq |
//! | `async` | yes | the async face, over reqwest on tokio |
//! | `emulator` | no | [`emulator`]: a local Tasks API server for tests and examples |
//! | `emulator-tls` | no | `emulator`, able to serve https (a certificate made at start) |
//! | `tracing` | no | a span per call and an event per retry |
//! | `webpki-roots` | yes | Mozilla's root certificates, trusted when the platform has none |
//! | `http2` | yes | HTTP/2 in the async face, by ALPN over TLS |
//! | `runtime` | no | [`runtime`]: the agent worker (`@on_task`'s counterpart), on tokio |
//!
//! # Network
//!
//! TLS roots (the platform's, the bundled ones, your own with
//! [`ClientBuilder::add_root_certificate_pem`]), proxies ([`proxy`]: the
//! standard variables, loopback never proxied), HTTP/2, DNS caching in the
//! blocking face, deadlines and per-call options, and bringing your own
//! `ureq::Agent` or `reqwest::Client` are described in the README's
//! "Network" section.
//!
//! # How it is built
//!
//! [`core`] builds every request and parses every answer without I/O;
//! [`blocking`] and [`nonblocking`] are thin transports (ureq, reqwest) plus
//! one expansion each of the front-end methods, which are written once in
//! `src/front.rs` and turned into both forms by `maybe-async`.
#![deny(missing_docs)]
// The library never panics on data from the network or from the caller:
// no indexing, unwrap, expect, panic or overflowing arithmetic anywhere in
// it, checked by clippy once for the whole crate (tests may do all that).
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// With neither face enabled the crate is its sans-IO core alone (models,
// `core::RequestBuilder`, parsing): the retry loop and the transports' helpers
// are then unused by design.
#![cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(dead_code, unused_macros)
)]

#[macro_use]
mod front;

mod client;
pub mod config;
pub mod core;
pub mod error;
pub mod model;
mod options;
pub mod params;
pub mod proxy;
pub mod redact;
mod telemetry;

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
#[cfg(any(feature = "blocking", feature = "async"))]
mod headers;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod nonblocking;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod runtime;
#[cfg(any(feature = "blocking", feature = "async"))]
mod tls;

/// The local Tasks API emulator: the [`xpander_emulator`] crate, re-exported.
///
/// It is a crate of its own (own version, no dependency on this one: it
/// speaks JSON over HTTP, as the service does); this feature puts it at
/// `xpander_sdk::emulator` for the SDK's users' tests.
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub use xpander_emulator as emulator;

pub use client::Tasks;
pub use config::{ApiKey, ClientBuilder, Config, RetryPolicy, RootCertificate, Timeouts};
pub use core::stream::StreamPolicy;
pub use core::wait::WaitPolicy;
pub use error::{
    ApiError, DecodeError, Error, ErrorClass, Result, TransportError, TransportErrorKind,
};
pub use model::*;
pub use options::CallOptions;
pub use params::{CreateInput, CreateTask, ExternalTaskReport, ListFilter, UpdateTask};
pub use proxy::{ProxySetting, ProxyUrl};

/// The `user-agent` this crate sends.
pub const USER_AGENT: &str = concat!("xpander-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// The README's Rust examples, compiled as doctests so they cannot rot (one
/// runs against the emulator).
#[cfg(all(
    doctest,
    feature = "blocking",
    feature = "async",
    feature = "emulator",
    feature = "runtime"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
