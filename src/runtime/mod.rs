//! The agent worker runtime (feature `runtime`): serve an agent's tasks
//! with your handler, as the official Python runtime's `@on_task` does, on
//! tokio.
//!
//! ```no_run
//! use std::time::Duration;
//! use xpander_sdk::runtime::Worker;
//! use xpander_sdk::Tasks;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // XPANDER_API_KEY, XPANDER_ORGANIZATION_ID, XPANDER_BASE_URL; XPANDER_AGENT_ID.
//! let tasks = Tasks::from_env()?;
//! let worker = Worker::builder(tasks)
//!     .from_env()
//!     .concurrency(6)
//!     .task_deadline(Duration::from_secs(600))
//!     .on_boot(|| async { Ok::<(), std::io::Error>(()) })
//!     .on_shutdown(|| async { println!("bye") })
//!     .handler(|mut task, ctx| async move {
//!         ctx.chunk("thinking...").await?;
//!         task.result = Some(format!("echo: {}", task.input.text));
//!         Ok(task)
//!     })
//!     .build()?; // no I/O before run()
//! let exit = worker.run().await?; // until SIGTERM / Ctrl-C
//! println!("stopped: {exit:?}");
//! # Ok(())
//! # }
//! ```
//!
//! # What it does
//!
//! Every decision is taken by the sans-IO
//! [`sans_io::worker::WorkerMachine`](crate::sans_io::worker::WorkerMachine) (its documentation
//! lists the rules, and why); this module moves its bytes, sleeps until its
//! next deadline and runs the handlers:
//!
//! - [`Worker::run`] runs the boot hooks (an error aborts the start), then
//!   opens the agent stream (`GET {events root}/events/{agent_id}/`), reads
//!   it all the time and reconnects with backoff; heartbeats go every 2 s
//!   while registered; capacity updates only on change, in order.
//! - A delivered task is claimed (saved `executing`), its handler runs in
//!   a tokio task of its own (a blocking one on the blocking threads), then
//!   the server's copy is read and the final status saved (retried with
//!   backoff; a `stopped` set meanwhile stays `stopped`), then the metrics
//!   are reported once, when the task has `tokens`.
//! - A handler error saves `error` with its message; a panic too (the
//!   handler is called inside its own tokio task: a panic before its first
//!   `.await` fails that task alone); a handler past its deadline is
//!   cancelled (its token) and the task saved `error` ("timeout"); one that
//!   ignores its token is aborted [`WorkerPolicy::abort_grace`] later (its
//!   slot is free once it is gone and the task's final save is done).
//! - Shutdown (SIGTERM, Ctrl-C, the [`ShutdownHandle`], or the future given
//!   to [`Worker::run_until`]) follows the core's
//!   [shutdown timeline](crate::sans_io::worker#shutdown), set with
//!   [`WorkerBuilder::shutdown_grace`] and [`WorkerBuilder::shutdown_deadline`]
//!   and told at its end by [`Exit`].
//! - `worker-environment-conflict` ends the run cleanly ([`ExitReason::Conflict`]).
//!
//! Handlers get a [`TaskContext`]: the attempt number, the deadline, a
//! [`CancellationToken`], the LLM gateway route, and
//! [`push`](TaskContext::push) / [`chunk`](TaskContext::chunk) for the
//! task's live events.
//!
//! The runtime is async only (there is no blocking worker; a blocking
//! handler runs on tokio's blocking threads). Its decisions are the shared,
//! sans-IO [`crate::sans_io::worker`]; this module holds the builder and the
//! [`Worker`], `driver.rs` the loop that carries out the core's effects, and
//! `handler.rs` the handler types and [`TaskContext`]. Its requests go
//! through the client's async transport ([`crate::nonblocking`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

mod driver;
mod handler;

pub use handler::{BoxError, Handler, HandlerFuture, TaskContext, TaskFailed};
pub use tokio_util::sync::CancellationToken;

pub use crate::sans_io::worker::{Environment, Level, LlmGateway, Notice, WorkerPolicy};

use crate::error::{Error, Result};
use crate::model::Task;
use crate::sans_io::worker::{WorkerMachine as Core, WorkerRequests};
use crate::Tasks;

/// The environment variable naming the agent a worker serves.
pub const AGENT_ID_ENV: &str = "XPANDER_AGENT_ID";
/// The environment variable saying the worker runs on xpander's cloud
/// (`true`: the stream is opened with `environment=xpander`).
pub const CLOUD_ENV: &str = "IS_XPANDER_CLOUD";

type BootHook = Box<
    dyn FnOnce() -> Pin<Box<dyn Future<Output = std::result::Result<(), BoxError>> + Send>> + Send,
>;
type ShutdownHook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;
pub(crate) type NoticeFn = Arc<dyn Fn(&Notice) + Send + Sync>;

/// Builds a [`Worker`]: [`Worker::builder`].
#[must_use]
pub struct WorkerBuilder {
    tasks: Tasks,
    agent_id: Option<String>,
    env_agent_id: Option<String>,
    environment: Option<Environment>,
    env_environment: Option<Environment>,
    policy: WorkerPolicy,
    signals: bool,
    boot: Vec<BootHook>,
    shutdown: Vec<ShutdownHook>,
    handler: Option<Arc<dyn Handler>>,
    notice: Option<NoticeFn>,
}

impl WorkerBuilder {
    /// The agent to serve (it wins over `XPANDER_AGENT_ID`).
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> WorkerBuilder {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// Reads `XPANDER_AGENT_ID` (the agent, unless
    /// [`agent_id`](Self::agent_id) names one) and `IS_XPANDER_CLOUD` (the
    /// environment, unless [`environment`](Self::environment) sets one).
    /// An empty value counts as unset.
    pub fn from_env(mut self) -> WorkerBuilder {
        self.env_agent_id = std::env::var(AGENT_ID_ENV)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        self.env_environment = Some(Environment::from_is_xpander_cloud(
            std::env::var(CLOUD_ENV).ok().as_deref(),
        ));
        self
    }

    /// Where the worker runs (the stream's `environment` query). Default:
    /// [`Environment::Local`], or what `IS_XPANDER_CLOUD` says with
    /// [`from_env`](Self::from_env).
    pub fn environment(mut self, environment: Environment) -> WorkerBuilder {
        self.environment = Some(environment);
        self
    }

    /// Tasks held at once, each from its claim until its final status is
    /// saved (at least 1). Default: 6. See [`WorkerPolicy::concurrency`].
    pub fn concurrency(mut self, concurrency: usize) -> WorkerBuilder {
        self.policy = self.policy.concurrency(concurrency);
        self
    }

    /// Tasks accepted beyond the running ones, waiting for a slot; more
    /// are handed back to the server (`pending`). Default: 32 (see
    /// [`WorkerPolicy::queue_capacity`] for the trade-off).
    pub fn queue(mut self, capacity: usize) -> WorkerBuilder {
        self.policy = self.policy.queue_capacity(capacity);
        self
    }

    /// The longest a handler may run; then its token is cancelled and the
    /// task saved `error` ("timeout"). Default: one hour.
    pub fn task_deadline(mut self, deadline: Duration) -> WorkerBuilder {
        self.policy = self.policy.task_timeout(Some(deadline));
        self
    }

    /// No handler deadline.
    pub fn no_task_deadline(mut self) -> WorkerBuilder {
        self.policy = self.policy.task_timeout(None);
        self
    }

    /// On shutdown, how long running handlers get to finish: the first
    /// part of the [`shutdown_deadline`](Self::shutdown_deadline), which
    /// stays the hard limit (raise both for longer handlers; the final
    /// saves keep at least [`SAVE_RESERVE`](crate::sans_io::worker::SAVE_RESERVE)
    /// of it, or a fifth of a short one). Default: 25 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> WorkerBuilder {
        self.policy = self.policy.shutdown_grace(grace);
        self
    }

    /// From the first shutdown request, the longest the drain takes:
    /// handlers get the [grace](Self::shutdown_grace), the final saves the
    /// rest; at the deadline the worker exits and [`Exit::unsaved`] names
    /// the tasks it could not save. Default: 29 s (25 s of grace, 4 s
    /// reserved for the final saves, 1 s left for the shutdown hooks, within
    /// Kubernetes' default 30 s termination grace period).
    pub fn shutdown_deadline(mut self, deadline: Duration) -> WorkerBuilder {
        self.policy = self.policy.shutdown_deadline(deadline);
        self
    }

    /// Every rule at once (heartbeat interval, stream backoff and idle
    /// timeout, final-save retries...): replaces what the setters above
    /// set before it.
    pub fn policy(mut self, policy: WorkerPolicy) -> WorkerBuilder {
        self.policy = policy;
        self
    }

    /// Whether [`Worker::run`] stops on SIGTERM and Ctrl-C (a second one
    /// ends the drain at once). Default: true. Turn it off when embedding the
    /// worker in a program that handles signals itself (then use
    /// [`Worker::shutdown_handle`] or [`Worker::run_until`]), and in tests.
    /// Listening needs a tokio runtime with its I/O driver
    /// (`#[tokio::main]` has it).
    pub fn handle_signals(mut self, handle: bool) -> WorkerBuilder {
        self.signals = handle;
        self
    }

    /// A hook run before the stream opens, in the order added; an error
    /// aborts [`Worker::run`] ([`RunError::Boot`]).
    pub fn on_boot<F, Fut, E>(mut self, hook: F) -> WorkerBuilder
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.boot.push(Box::new(move || {
            let run = hook();
            Box::pin(async move { run.await.map_err(Into::into) })
        }));
        self
    }

    /// A hook run when the worker stops, in the order added: always, once
    /// every task is settled (or the boot failed).
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> WorkerBuilder
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shutdown.push(Box::new(move || Box::pin(hook())));
        self
    }

    /// Called with each [`Notice`] of the worker (registrations,
    /// reconnects, retried saves, released tasks...). They also go to
    /// `tracing` with the `tracing` feature.
    pub fn on_notice<F>(mut self, callback: F) -> WorkerBuilder
    where
        F: Fn(&Notice) + Send + Sync + 'static,
    {
        self.notice = Some(Arc::new(callback));
        self
    }

    /// The task handler: a closure taking the [`Task`] and its
    /// [`TaskContext`] and answering a future of
    /// `Result<Task, `[`BoxError`]`>`, so that
    /// `|task, ctx| async move { ...; Ok(task) }` needs no annotation (the
    /// error type is fixed: `?` turns any `std::error::Error + Send + Sync`
    /// into it, `Err("...".into())` a message). It runs in a tokio task of
    /// its own. It replaces a handler set before. For a handler with state
    /// of your own type, or a closure with another error type, use
    /// [`custom_handler`](Self::custom_handler).
    ///
    /// ```
    /// use xpander_sdk::runtime::Worker;
    /// # fn demo(tasks: xpander_sdk::Tasks) -> xpander_sdk::Result<()> {
    /// let worker = Worker::builder(tasks)
    ///     .agent_id("agent-1")
    ///     .handler(|mut task, ctx| async move {
    ///         ctx.chunk("working").await?; // xpander_sdk::Error, converted
    ///         if task.input.text.is_empty() {
    ///             return Err("nothing to do".into());
    ///         }
    ///         task.result = Some(task.input.text.to_uppercase());
    ///         Ok(task)
    ///     })
    ///     .build()?;
    /// # let _ = worker; Ok(()) }
    /// ```
    pub fn handler<F, Fut>(mut self, handler: F) -> WorkerBuilder
    where
        F: Fn(Task, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<Task, BoxError>> + Send + 'static,
    {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Any [`Handler`] as the task handler: your own type (a handler with
    /// state), or a closure `Fn(Task, TaskContext) -> impl Future<Output =
    /// Result<Task, E>>` with an error type `E: Into<BoxError>` of its own
    /// (annotated: `Ok::<_, MyError>(task)`). It replaces a handler set
    /// before.
    ///
    /// ```
    /// use xpander_sdk::runtime::{Handler, HandlerFuture, TaskContext, Worker};
    /// use xpander_sdk::Task;
    ///
    /// struct Prefix(String);
    ///
    /// impl Handler for Prefix {
    ///     fn handle(&self, mut task: Task, _ctx: TaskContext) -> HandlerFuture {
    ///         let prefix = self.0.clone();
    ///         Box::pin(async move {
    ///             task.result = Some(format!("{prefix}{}", task.input.text));
    ///             Ok(task)
    ///         })
    ///     }
    /// }
    ///
    /// # fn demo(tasks: xpander_sdk::Tasks) -> xpander_sdk::Result<()> {
    /// let worker = Worker::builder(tasks.clone())
    ///     .agent_id("agent-1")
    ///     .custom_handler(Prefix("echo: ".into()))
    ///     .build()?;
    /// // A closure with an error type of its own.
    /// let other = Worker::builder(tasks)
    ///     .agent_id("agent-1")
    ///     .custom_handler(|task: Task, _ctx: TaskContext| async move {
    ///         Ok::<_, std::io::Error>(task)
    ///     })
    ///     .build()?;
    /// # let _ = (worker, other); Ok(()) }
    /// ```
    pub fn custom_handler(mut self, handler: impl Handler) -> WorkerBuilder {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// A blocking handler `Fn(Task, TaskContext) -> Result<Task, `[`BoxError`]`>`
    /// (`|task, ctx| { ...; Ok(task) }` needs no annotation), run on
    /// tokio's blocking threads (never on the async ones). It cannot be
    /// aborted: it should watch [`TaskContext::is_cancelled`].
    ///
    /// ```
    /// use xpander_sdk::runtime::Worker;
    /// # fn demo(tasks: xpander_sdk::Tasks) -> xpander_sdk::Result<()> {
    /// let worker = Worker::builder(tasks)
    ///     .agent_id("agent-1")
    ///     .blocking_handler(|mut task, ctx| {
    ///         if ctx.is_cancelled() {
    ///             return Err("cancelled".into());
    ///         }
    ///         task.result = Some(task.input.text.len().to_string());
    ///         Ok(task)
    ///     })
    ///     .build()?;
    /// # let _ = worker; Ok(()) }
    /// ```
    pub fn blocking_handler<F>(mut self, handler: F) -> WorkerBuilder
    where
        F: Fn(Task, TaskContext) -> std::result::Result<Task, BoxError> + Send + Sync + 'static,
    {
        self.handler = Some(Arc::new(handler::Blocking(Arc::new(handler))));
        self
    }

    /// The worker, with no I/O: fails with [`Error::Config`] without an
    /// agent id, a handler or an organization id (the events URLs need
    /// it), and with [`Error::InvalidArgument`] for an agent id that
    /// cannot be a path segment.
    pub fn build(self) -> Result<Worker> {
        let agent_id = self.agent_id.clone().or(self.env_agent_id.clone());
        let agent_id = agent_id.ok_or_else(|| {
            Error::Config(format!(
                "the worker needs the id of the agent it serves: set {AGENT_ID_ENV} (with \
                 WorkerBuilder::from_env) or call WorkerBuilder::agent_id"
            ))
        })?;
        let handler = self.handler.clone().ok_or_else(|| {
            Error::Config(
                "the worker has no task handler: call WorkerBuilder::handler or \
                 WorkerBuilder::blocking_handler"
                    .to_owned(),
            )
        })?;
        let environment = self
            .environment
            .or(self.env_environment)
            .unwrap_or_default();
        let requests = WorkerRequests::new(self.tasks.config().clone(), agent_id, environment)?;
        let (shutdown, shutdown_rx) = watch::channel(0);
        Ok(Worker {
            requests,
            handler,
            shutdown: ShutdownHandle {
                sender: Arc::new(shutdown),
            },
            shutdown_rx,
            ready: Arc::new(watch::channel(false).0),
            parts: self,
        })
    }
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field(
                "agent_id",
                &self.agent_id.as_ref().or(self.env_agent_id.as_ref()),
            )
            .field("policy", &self.policy)
            .field("signals", &self.signals)
            .field("boot_hooks", &self.boot.len())
            .field("shutdown_hooks", &self.shutdown.len())
            .field("handler", &self.handler.is_some())
            .finish_non_exhaustive()
    }
}

/// An agent worker: serves the tasks the server dispatches to it with a
/// handler, until it is shut down. See the [module documentation](self).
pub struct Worker {
    /// The builder's settings and hooks.
    parts: WorkerBuilder,
    requests: WorkerRequests,
    handler: Arc<dyn Handler>,
    shutdown: ShutdownHandle,
    shutdown_rx: watch::Receiver<u64>,
    ready: Arc<watch::Sender<bool>>,
}

impl Worker {
    /// A builder of a worker using `tasks`'s configuration (key, base URL,
    /// organization, timeouts, retries, TLS, proxy) and connection pool.
    pub fn builder(tasks: Tasks) -> WorkerBuilder {
        WorkerBuilder {
            tasks,
            agent_id: None,
            env_agent_id: None,
            environment: None,
            env_environment: None,
            policy: WorkerPolicy::default(),
            signals: true,
            boot: Vec::new(),
            shutdown: Vec::new(),
            handler: None,
            notice: None,
        }
    }

    /// A handle that shuts the worker down from elsewhere (clone it
    /// freely); it works before and during [`run`](Self::run).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// A handle on the worker's readiness, for a readiness probe (clone it
    /// freely): ready while its stream is open and registered and it is not
    /// stopping. Unlike the official runtime's `/health`, it follows the
    /// stream: a worker whose stream is down is not ready.
    ///
    /// ```no_run
    /// # async fn probe(worker: xpander_sdk::runtime::Worker) {
    /// let mut readiness = worker.readiness();
    /// tokio::spawn(worker.run());
    /// readiness.wait_for(true).await; // registered: the server may dispatch
    /// assert!(readiness.is_ready());
    /// # }
    /// ```
    pub fn readiness(&self) -> Readiness {
        Readiness {
            state: self.ready.subscribe(),
        }
    }

    /// The agent served.
    pub fn agent_id(&self) -> &str {
        self.requests.agent_id()
    }

    /// Runs the worker until it is shut down (SIGTERM or Ctrl-C unless
    /// [`handle_signals(false)`](WorkerBuilder::handle_signals), or the
    /// [`ShutdownHandle`]) and every task is settled, or an environment
    /// conflict ends it. Fails when a boot hook fails, or when the worker
    /// cannot go on (the server refused the key on the stream). A shutdown
    /// request during the boot hooks ends the run there (the hook's future
    /// dropped; nothing was claimed). The shutdown hooks run in every case.
    pub async fn run(self) -> std::result::Result<Exit, RunError> {
        self.run_until(std::future::pending()).await
    }

    /// As [`run`](Self::run), with one more shutdown request: `signal`
    /// completing (a future of your own, as a signal handler elsewhere).
    pub async fn run_until<S>(mut self, signal: S) -> std::result::Result<Exit, RunError>
    where
        S: Future<Output = ()> + Send,
    {
        // Aborted when the run ends, or when its future is dropped.
        let listener = self
            .parts
            .signals
            .then(|| AbortOnDrop(listen_to_signals(self.shutdown.clone())));
        let outcome = self.serve(signal).await;
        for hook in std::mem::take(&mut self.parts.shutdown) {
            hook().await;
        }
        drop(listener);
        outcome
    }

    async fn serve<S>(&mut self, signal: S) -> std::result::Result<Exit, RunError>
    where
        S: Future<Output = ()> + Send,
    {
        let mut signal = std::pin::pin!(signal);
        // A shutdown request during the boot hooks ends the run there
        // (nothing claimed yet, nothing to drain): a hook that hangs never
        // holds the exit past the request.
        let mut requests = self.shutdown_rx.clone();
        let requested = async move {
            if requests.wait_for(|count| *count > 0).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let mut requested = std::pin::pin!(requested);
        for hook in std::mem::take(&mut self.parts.boot) {
            tokio::select! {
                booted = hook() => booted.map_err(RunError::Boot)?,
                () = &mut requested => return Ok(Exit::booting()),
                () = signal.as_mut() => return Ok(Exit::booting()),
            }
        }
        let core = Core::new(self.requests.clone(), self.parts.policy.clone());
        let driver = driver::Driver::new(
            core,
            self.parts.tasks.clone(),
            self.handler.clone(),
            self.parts.notice.clone(),
            self.ready.clone(),
        );
        driver.run(self.shutdown_rx.clone(), signal).await
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("requests", &self.requests)
            .field("policy", &self.parts.policy)
            .field("signals", &self.parts.signals)
            .finish_non_exhaustive()
    }
}

/// SIGTERM and Ctrl-C (SIGINT) as shutdown requests, each one.
fn listen_to_signals(handle: ShutdownHandle) -> tokio::task::JoinHandle<()> {
    // Registered now, not at the task's first poll: a SIGTERM that comes
    // once `run` started is heard.
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::spawn(async move {
        let mut interrupt = true;
        loop {
            // The next SIGTERM; never, where there is no such signal.
            let sigterm = async {
                #[cfg(unix)]
                if let Some(signal) = terminate.as_mut() {
                    if signal.recv().await.is_some() {
                        return;
                    }
                    terminate = None;
                }
                std::future::pending::<()>().await
            };
            let heard = tokio::select! {
                // Without a signal driver, only SIGTERM (if any) is heard.
                interrupted = tokio::signal::ctrl_c(), if interrupt => {
                    interrupt = interrupted.is_ok();
                    interrupt
                }
                () = sigterm => true,
            };
            if heard {
                handle.shutdown();
            }
        }
    })
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Shuts a [`Worker`] down from elsewhere: intake stops, running handlers
/// get the grace period; a second call ends the drain at once.
#[derive(Clone)]
pub struct ShutdownHandle {
    sender: Arc<watch::Sender<u64>>,
}

impl ShutdownHandle {
    /// Asks the worker to shut down (the second time: the drain ends at once, see
    /// [`WorkerPolicy::last_calls`]).
    pub fn shutdown(&self) {
        self.sender
            .send_modify(|count| *count = count.saturating_add(1));
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("requests", &*self.sender.borrow())
            .finish()
    }
}

/// Whether a [`Worker`] takes tasks now: its stream open and registered,
/// not stopping. From [`Worker::readiness`]; false before `run` and after
/// it ends.
#[derive(Clone)]
pub struct Readiness {
    state: watch::Receiver<bool>,
}

impl Readiness {
    /// True while the worker takes tasks; false once the worker is gone,
    /// however its run ended (a run future dropped or panicking included).
    pub fn is_ready(&self) -> bool {
        *self.state.borrow() && self.state.has_changed().is_ok()
    }

    /// Waits until the readiness is `ready` (at once when it is). Returns
    /// false when the worker is gone (dropped, or its run ended) without
    /// getting there.
    pub async fn wait_for(&mut self, ready: bool) -> bool {
        self.state.wait_for(|now| *now == ready).await.is_ok()
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness")
            .field("ready", &self.is_ready())
            .finish()
    }
}

/// How a run ended without error.
#[derive(Debug)]
#[non_exhaustive]
pub struct Exit {
    /// Why it stopped.
    pub reason: ExitReason,
    /// Tasks whose handler was cancelled and did not return by itself: it
    /// was aborted ([`WorkerPolicy::abort_grace`] after its cancellation),
    /// or was still running when the run ended (an async handler is
    /// dropped, a blocking one goes on detached: tokio's runtime waits for
    /// its thread when dropped, so end the process with
    /// `Runtime::shutdown_timeout` or `std::process::exit` to keep the
    /// deadline).
    pub abandoned: Vec<String>,
    /// Tasks the worker claimed and could not save the final status of:
    /// the [shutdown deadline](WorkerBuilder::shutdown_deadline) came
    /// first, a second shutdown request cut the drain, or the save was
    /// given up during the shutdown (a save given up while the worker ran
    /// is a notice, not listed here). The server keeps their last saved
    /// status (`executing`).
    pub unsaved: Vec<String>,
}

impl Exit {
    /// A shutdown during the boot hooks: nothing was claimed.
    fn booting() -> Exit {
        Exit {
            reason: ExitReason::Shutdown,
            abandoned: Vec::new(),
            unsaved: Vec::new(),
        }
    }
}

/// Why a run ended without error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitReason {
    /// A shutdown request (signal, handle, `run_until`'s future).
    Shutdown,
    /// The server sent `worker-environment-conflict`: another worker serves
    /// the agent in another environment. A clean end (exit code 0), not to
    /// be restarted in a loop.
    Conflict {
        /// The server's message.
        message: String,
    },
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A boot hook failed; the stream was never opened.
    #[error("a boot hook failed: {0}")]
    Boot(#[source] BoxError),
    /// The worker could not go on: the server refused the key on the
    /// stream (401, 403), or an idle worker ran out of reconnects
    /// ([`WorkerPolicy::max_idle_reconnects`]).
    #[error("the worker stopped: {0}")]
    Fatal(#[source] Error),
}
