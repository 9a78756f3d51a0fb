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
//! # The live side
//!
//! A task created with `events_streaming(true)` streams what it does:
//! [`Task::events`] (a blocking iterator) and [`Task::aevents`] follow it,
//! with reconnects and timeouts ([`StreamPolicy`]), and end after
//! `task_finished`. [`Tasks::push_events`] adds events to it (an agent's
//! backend does). [`Tasks::wait_for_result`] answers a task once it reaches a
//! final status ([`WaitPolicy`]). [`Task::get_activity_log`],
//! [`Task::report_metrics`] and [`Task::get_plan_following_status`] are the
//! task's other live calls. Each has an `a`-prefixed async twin.
//!
//! ```
//! # #[cfg(all(feature = "blocking", feature = "emulator"))] {
//! # let emulator = xpander_sdk::emulator::Emulator::start()?;
//! use xpander_sdk::{
//!     AgentExecutionStatus, CreateTask, EventPayload, TaskEvent, TaskEventType, Tasks, Tokens,
//!     UpdateTask, WaitPolicy,
//! };
//!
//! let tasks = Tasks::builder()
//!     .api_key(emulator.api_key())
//!     .base_url(emulator.base_url())
//!     .organization_id(emulator.organization_id()) // the stream's URL carries it
//!     .build()?;
//! let mut task = tasks.create(&CreateTask::new("agent-1", "Summarize Q3").events_streaming(true))?;
//!
//! // The first event is the server's `connected`: from then on the stream is live.
//! let mut events = task.events(&tasks)?;
//! assert_eq!(events.next().ok_or("no handshake")??.kind, TaskEventType::Connected);
//!
//! // The agent's side (here, the same thread): push text, then finish the task.
//! let chunk = EventPayload::Text("Revenue up 12%".into());
//! tasks.push_events(&task.id, &[TaskEvent::new(TaskEventType::Chunk, &task.id, &task.organization_id, chunk)])?;
//! tasks.update(&task.id, &UpdateTask::new().status(AgentExecutionStatus::Completed).result("Done"))?;
//!
//! let mut text = String::new();
//! for event in events {
//!     if let EventPayload::Text(piece) = &event?.payload {
//!         text.push_str(piece);
//!     }
//! } // ends by itself after `task_finished`
//! assert_eq!(text, "Revenue up 12%");
//!
//! // A final status, at once here (it follows the stream, or polls, until then).
//! let done = tasks.wait_for_result(&task.id, &WaitPolicy::default())?;
//! assert_eq!(done.result.as_deref(), Some("Done"));
//!
//! let thread = task.get_activity_log(&tasks)?; // typed entries
//! assert!(!thread.messages.is_empty());
//! assert!(task.get_plan_following_status(&tasks)?.can_finish); // no deep plan here
//! task.reload(&tasks)?;
//! task.source = Some("sdk".into());
//! task.tokens = Some(Tokens::new(120, 30)); // prompt, completion
//! task.report_metrics(&tasks)?; // sent once, never retried
//! # assert_eq!(emulator.metrics_reports().len(), 1);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The async stream is read with `next().await`, or as a `futures::Stream`
//! with `into_stream()`:
//!
//! ```
//! # #[cfg(all(feature = "async", feature = "emulator"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = xpander_sdk::emulator::Emulator::start()?;
//! # let tasks = xpander_sdk::Tasks::builder().api_key(emulator.api_key()).base_url(emulator.base_url())
//! #     .organization_id(emulator.organization_id()).build()?;
//! use xpander_sdk::{AgentExecutionStatus, CreateTask, TaskEventType, UpdateTask, WaitPolicy};
//!
//! let task = tasks.acreate(&CreateTask::new("agent-1", "Summarize Q3").events_streaming(true)).await?;
//! let mut events = task.aevents(&tasks)?;
//! while let Some(event) = events.next().await {
//!     match event?.kind {
//!         TaskEventType::Connected => {
//!             tasks.aupdate(&task.id, &UpdateTask::new().status(AgentExecutionStatus::Completed)).await?;
//!         }
//!         kind => println!("{kind}"), // task_finished, then the stream ends
//!     }
//! }
//! let done = tasks.await_for_result(&task.id, &WaitPolicy::default()).await?;
//! assert_eq!(done.status, Some(AgentExecutionStatus::Completed));
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "async", feature = "emulator")))]
//! # fn main() {}
//! ```
//!
//! # Worker runtime
//!
//! Feature `runtime`: [`runtime::Worker`][worker-item] serves an agent's tasks with your
//! handler, as the official Python runtime's `@on_task` does: it takes the
//! tasks the server dispatches, runs the handler, and saves the outcome.
//!
//! ```
//! # #[cfg(all(feature = "runtime", feature = "emulator"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = xpander_sdk::emulator::Emulator::start()?;
//! use xpander_sdk::runtime::Worker;
//! use xpander_sdk::{AgentExecutionStatus, CreateTask, Tasks, WaitPolicy};
//!
//! let tasks = Tasks::builder()
//!     .api_key(emulator.api_key())
//!     .base_url(emulator.base_url())
//!     .organization_id(emulator.organization_id())
//!     .build()?;
//! let worker = Worker::builder(tasks.clone())
//!     .agent_id("agent-echo") // or `.from_env()`: XPANDER_AGENT_ID
//!     .handle_signals(false)  // this example stops it itself
//!     .handler(|mut task, _ctx| async move {
//!         task.result = Some(format!("echo: {}", task.input.text));
//!         Ok(task) // saved `completed`
//!     })
//!     .build()?; // no I/O before run()
//! let shutdown = worker.shutdown_handle();
//! let running = tokio::spawn(worker.run());
//!
//! let task = tasks.acreate(&CreateTask::new("agent-echo", "hello")).await?;
//! let done = tasks.await_for_result(&task.id, &WaitPolicy::default()).await?;
//! assert_eq!(done.status, Some(AgentExecutionStatus::Completed));
//! assert_eq!(done.result.as_deref(), Some("echo: hello"));
//!
//! shutdown.shutdown();
//! running.await??;
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "runtime", feature = "emulator")))]
//! # fn main() {}
//! ```
//!
//! # Emulator
//!
//! Feature `emulator`: [`emulator`][emulator-item] is a local Tasks API server on loopback
//! (its own crate, `xpander-emulator`) for your tests and examples: seed
//! tasks, inject faults, read the request log.
//!
//! ```
//! # #[cfg(all(feature = "blocking", feature = "emulator"))] {
//! use xpander_sdk::emulator::{Emulator, Fault};
//! use xpander_sdk::{Tasks, UpdateTask};
//!
//! let emulator = Emulator::start()?; // an ephemeral port; stops when dropped
//! emulator.seed_task(serde_json::json!({"id": "t1", "agent_id": "a1", "organization_id": "o1",
//!     "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}))?;
//! emulator.inject(Fault::on("PATCH", "*").respond(503, serde_json::json!({"detail": "busy"})));
//! let tasks = Tasks::builder().base_url(emulator.base_url()).api_key(emulator.api_key()).build()?;
//! tasks.update("t1", &UpdateTask::new().result("done"))?; // retried after the 503
//! assert_eq!(emulator.requests().len(), 2);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! Every failure is an [`Error`]; its kinds, when each comes and how to tell
//! them apart are the table of the [`error`] module.
//!
//! # Reliability
//!
//! Which failures are retried, and how a deadline bounds a whole call, are
//! the rules of [`RetryPolicy`]; the timeouts, always set, are [`Timeouts`];
//! which hosts get the key, redirects and plain http are the rules of
//! [`security`].
//!
//! # Features
//!
//! Which features there are (the faces [`blocking`] and [`nonblocking`],
//! [`runtime`][runtime-item], [`emulator`][emulator-item], TLS roots, HTTP/2,
//! tracing, date-time conversions, the command-line tool), which are on by
//! default, what each adds and what builds with none are the feature table of
//! the README (`README.md`, the crate's page on crates.io). `_tls` is
//! internal: the one TLS stack (rustls with ring) that `blocking` and `async`
//! turn on.
//!
//! # Network
//!
//! TLS roots (the platform's, the bundled ones, your own with
//! [`ClientBuilder::add_root_certificate_pem`]), proxies ([`proxy`]: the
//! standard variables, loopback never proxied), HTTP/2, DNS caching in the
//! blocking face, deadlines and per-call options, and bringing your own
//! `ureq::Agent` or `reqwest::Client` are described in the "Network"
//! section of the guide (`docs/guide.md` in the repository).
//!
//! # How it is built
//!
//! How the sans-IO core ([`sans_io`], [`model`]), the two thin faces
//! ([`blocking`], [`nonblocking`]) and the worker runtime fit together, file
//! by file, is the "How the crate is built" section of the guide
//! (`docs/guide.md` in the repository).
//!
#![deny(missing_docs)]
// The crate docs link to items behind features; a build of the docs without
// them (a user's `cargo doc` with the default features) links to docs.rs,
// which documents every feature, instead of warning about a broken link.
#![cfg_attr(
    feature = "runtime",
    doc = "\n[worker-item]: crate::runtime::Worker\n[runtime-item]: crate::runtime"
)]
#![cfg_attr(
    not(feature = "runtime"),
    doc = "\n[worker-item]: https://docs.rs/xpander-sdk/latest/xpander_sdk/runtime/struct.Worker.html\n[runtime-item]: https://docs.rs/xpander-sdk/latest/xpander_sdk/runtime/index.html"
)]
#![cfg_attr(feature = "emulator", doc = "\n[emulator-item]: crate::emulator")]
#![cfg_attr(
    not(feature = "emulator"),
    doc = "\n[emulator-item]: https://docs.rs/xpander-sdk/latest/xpander_sdk/emulator/index.html"
)]
// The library never panics on data from the network or from the caller:
// no unwrap, expect or panic anywhere in it, checked by clippy for the whole
// crate (tests may). The modules that read what the network sends (models,
// answers, event streams, the worker's inputs, bodies, server text to
// redact) also deny indexing and overflowing arithmetic: an inner attribute
// at the top of each file.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// With neither face enabled the crate is its sans-IO core alone (models,
// `sans_io::RequestBuilder`, parsing): the retry loop and the transports' helpers
// are then unused by design.
#![cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(dead_code, unused_macros)
)]

mod diagnose;
#[macro_use]
mod front;
#[macro_use]
mod front_public;

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod client;
pub mod config;
pub mod error;
pub mod model;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod nonblocking;
mod options;
pub mod params;
pub mod proxy;
pub mod public;
pub mod redact;
pub mod sans_io;
pub mod security;
mod telemetry;

mod headers;
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
pub use error::{
    ApiError, DecodeError, Error, ErrorClass, Result, TransportError, TransportErrorKind,
};
pub use model::*;
pub use options::CallOptions;
pub use params::{CreateInput, CreateTask, ExternalTaskReport, ListFilter, UpdateTask};
pub use proxy::{ProxySetting, ProxyUrl};
pub use sans_io::stream::StreamPolicy;
pub use sans_io::wait::WaitPolicy;
pub use sans_io::worker::WorkerPolicy;

/// The `user-agent` this crate sends.
pub const USER_AGENT: &str = concat!("xpander-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// The README's, the guide's and the comparison's Rust examples, compiled
/// as doctests so they cannot rot (some run against the emulator).
#[cfg(all(
    doctest,
    feature = "blocking",
    feature = "async",
    feature = "emulator",
    feature = "runtime"
))]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../docs/guide.md")]
#[doc = include_str!("../docs/comparison.md")]
pub struct DocsDoctests;
