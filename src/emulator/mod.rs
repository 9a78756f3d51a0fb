//! A local Tasks API emulator speaking real HTTP/1.1 on loopback, for tests and benchmarks.
//!
//! [`Emulator::start`] runs the server in-process on an ephemeral `127.0.0.1` port, on its
//! own two-worker tokio runtime on a background thread: it works from plain synchronous
//! tests and from inside `#[tokio::test]` alike. The `xpander-emulator` binary runs the
//! same server stand-alone.
//!
//! ```no_run
//! use std::time::Duration;
//! use serde_json::json;
//! use xpander_sdk::emulator::{Emulator, Fault};
//!
//! let emu = Emulator::builder().api_key("k").start()?;
//! emu.seed_task(json!({"id": "t1", "agent_id": "a1", "input": {"text": "hi"}}))?;
//! emu.inject(Fault::on("PATCH", "/agent-execution/*").times(2).respond(503, json!({"detail": "busy"})).retry_after("1"));
//! emu.inject(Fault::on("GET", "*").delay(Duration::from_millis(100)));
//! println!("{}", emu.base_url());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Tasks API routes (served at the root)
//!
//! | operation | route |
//! |---|---|
//! | update / save | `PATCH /agent-execution/{task_id}/update` |
//! | get | `GET /agent-execution/{task_id}/status` |
//! | stop | `DELETE /agent-execution/{task_id}` |
//! | create | `POST /agent-execution/{agent_id}` |
//! | list | `GET /agent-execution/executions/history/{agent_id}` |
//! | list by user | `GET /agent-execution/executions/history/user/{user_id}` |
//! | report external task | `POST /agent-execution/{agent_id}/report_task` |
//!
//! Every route requires `x-api-key` (401 otherwise). Unknown task: 404
//! `{"detail":"Task X not found"}`; unknown route 404; wrong method 405; invalid body
//! 422 FastAPI-style (`{"detail":[{"loc":["body","status"],"msg":..,"type":..}]}`);
//! body over the limit (8 MiB by default) 413; chunked request body 411; malformed
//! HTTP 400 and the connection is closed. Two overlapping `PATCH` updates of one task
//! (possible only with an injected delay) give the later one 409
//! `{"detail":"Concurrent update conflict"}`. A save-shaped `PATCH` (a whole task) may
//! carry a status outside the seven known ones when it is the task's current status,
//! so forward-compatible tasks round-trip. Task answers always carry every field the
//! official client knows (defaults filled in); unknown fields are kept.
//!
//! # Control routes (no API key, not logged, never faulted)
//!
//! | route | effect / answer |
//! |---|---|
//! | `GET /__emulator/requests` | `[{"method","path","headers":{name:value},"body":"…","json":…|null}]` |
//! | `DELETE /__emulator/requests` | clears the request log |
//! | `GET /__emulator/stats` | `{"connections_accepted":N,"requests":M}` (API requests only) |
//! | `GET /__emulator/tasks` | array of all tasks |
//! | `POST /__emulator/tasks` | seeds a task object or an array of them; answers `{"ids":[…]}` |
//! | `DELETE /__emulator/tasks` | removes all tasks |
//! | `GET /__emulator/faults` | the pending rules, in the shape below |
//! | `POST /__emulator/faults` | adds a rule (or an array of rules) |
//! | `DELETE /__emulator/faults` | removes all rules |
//! | `POST /__emulator/seed` | `{"seed": N}`: reseeds the PRNG used by probabilities |
//! | `POST /__emulator/release` | `{"count": N}`: lets N requests held by a `hold` rule go on |
//! | `POST /__emulator/reset` | clears tasks, rules, log and counters |
//!
//! A fault rule as JSON (every key optional; defaults shown):
//!
//! ```json
//! {"method": "*", "path": "*", "times": 1, "always": false, "probability": null,
//!  "action": "respond", "status": 500, "body": {"detail": "Injected fault"},
//!  "body_text": null, "content_type": null, "retry_after": null}
//! ```
//!
//! `action` is one of `respond` (with `status`, and `body` JSON or `body_text` raw
//! text, optional `content_type` and `retry_after`), `delay` (`delay_ms`), `hold` (until released), `close`,
//! `truncate`, `oversized` (`size` bytes). `path` is matched against the raw request
//! path without its query: exact, a prefix ending in `*`, or `*` for any. Rules are
//! tried in insertion order; the first that fires is used, and a used-up rule
//! disappears. Control answers are `{"ok":true}` unless stated otherwise.

mod fault;
mod http;
mod state;
mod util;

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::watch;

pub use fault::{Fault, FaultAction};
pub use state::RecordedRequest;

use state::{Config, Shared};

/// Default organization id of tasks the emulator creates.
pub const DEFAULT_ORGANIZATION_ID: &str = "org-emulator";
/// Default request body limit: 8 MiB.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;
/// Default number of requests the log keeps (oldest dropped first).
pub const DEFAULT_REQUEST_LOG_LIMIT: usize = 10_000;
/// Default PRNG seed for probabilistic faults.
pub const DEFAULT_SEED: u64 = 0x5EED_0F0E_4A1D;

/// Configures and starts an [`Emulator`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    api_key: Option<String>,
    addr: String,
    organization_id: String,
    seed: u64,
    max_body: usize,
    log_limit: usize,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            api_key: None,
            addr: "127.0.0.1:0".into(),
            organization_id: DEFAULT_ORGANIZATION_ID.into(),
            seed: DEFAULT_SEED,
            max_body: DEFAULT_MAX_BODY,
            log_limit: DEFAULT_REQUEST_LOG_LIMIT,
        }
    }
}

impl EmulatorBuilder {
    /// The API key clients must send (default: a generated one).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, an ephemeral port).
    pub fn addr(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }

    /// The organization id given to created tasks (default `org-emulator`).
    pub fn organization_id(mut self, org: impl Into<String>) -> Self {
        self.organization_id = org.into();
        self
    }

    /// Seed of the PRNG behind [`Fault::probability`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Largest request body accepted; larger ones get 413.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How many requests the log keeps (0 disables logging).
    pub fn request_log_limit(mut self, n: usize) -> Self {
        self.log_limit = n;
        self
    }

    /// Binds the socket and starts serving on a background thread.
    pub fn start(self) -> io::Result<Emulator> {
        let api_key = self
            .api_key
            .unwrap_or_else(|| format!("emu-{:016x}", util::clock_seed()));
        let listener = StdListener::bind(self.addr.as_str())?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(
            Config {
                api_key,
                organization_id: self.organization_id,
                max_body: self.max_body,
                log_limit: self.log_limit,
            },
            self.seed,
        ));
        let (tx, rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("xpander-emulator-{}", addr.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("xpander-emulator-worker")
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    http::serve(listener, server_shared, rx).await;
                });
                rt.shutdown_timeout(std::time::Duration::from_secs(1));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(io::Error::other("emulator thread failed to start"));
            }
        }
        Ok(Emulator {
            shared,
            addr,
            shutdown: tx,
            thread: Mutex::new(Some(thread)),
        })
    }
}

/// A running emulator. Dropping it (or [`Emulator::shutdown`]) stops the server and
/// closes its connections.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Emulator {
    /// Starts an emulator with default settings on an ephemeral loopback port.
    pub fn start() -> io::Result<Emulator> {
        EmulatorBuilder::default().start()
    }

    /// A builder for a configured emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API key clients must send as `x-api-key`.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// The organization id given to created tasks.
    pub fn organization_id(&self) -> &str {
        &self.shared.config.organization_id
    }

    /// Adds a fault rule after the existing ones.
    pub fn inject(&self, fault: Fault) {
        self.shared.inject(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// The pending fault rules, in order.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults()
    }

    /// Lets `n` requests held by a [`Fault::hold`] rule go on (held now, or
    /// held later: a release is never lost).
    pub fn release(&self, n: usize) {
        self.shared.release(n);
    }

    /// How many requests a [`Fault::hold`] rule holds right now. An update
    /// counted here already holds its task's in-flight marker, so a test can
    /// wait for this instead of sleeping.
    pub fn held(&self) -> u64 {
        self.shared.holding.load(Ordering::SeqCst)
    }

    /// Reseeds the PRNG behind [`Fault::probability`].
    pub fn set_seed(&self, seed: u64) {
        self.shared.set_seed(seed);
    }

    /// The Tasks API requests received so far (control routes excluded), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// How many TCP connections were accepted.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// How many Tasks API requests were received (control routes excluded).
    pub fn requests_received(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Stores a task (a JSON object); missing known fields get their defaults, a
    /// missing `id` a generated one. Replaces a task with the same id. Returns the id.
    pub fn seed_task(&self, task: Value) -> io::Result<String> {
        self.shared
            .seed_task(task)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// Stores several tasks; see [`Emulator::seed_task`].
    pub fn seed_tasks(&self, tasks: impl IntoIterator<Item = Value>) -> io::Result<Vec<String>> {
        tasks.into_iter().map(|t| self.seed_task(t)).collect()
    }

    /// A task by id, as stored.
    pub fn task(&self, id: &str) -> Option<Value> {
        self.shared.task(id)
    }

    /// All tasks, in creation order.
    pub fn tasks(&self) -> Vec<Value> {
        self.shared.tasks()
    }

    /// Clears tasks, fault rules, the request log and the counters.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops the server, closes its connections and waits for its thread. Idempotent.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
