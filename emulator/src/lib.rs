#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod control;
mod faults;
mod http;
mod log;
mod routes;
mod server;
mod store;
mod validation;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::watch;

pub use faults::{Fault, FaultAction};
pub use log::{ApiKeyCheck, RecordedRequest, REDACTED};

use server::{Config, Shared};

/// Default organization id of tasks the emulator creates.
pub const DEFAULT_ORGANIZATION_ID: &str = "org-emulator";
/// Default request body limit: 8 MiB.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;
/// Default number of requests the log keeps (oldest dropped first).
pub const DEFAULT_REQUEST_LOG_LIMIT: usize = 10_000;
/// Default seed of the dice behind [`Fault::probability`].
pub const DEFAULT_SEED: u64 = 0x5EED_0F0E_4A1D;

/// Configures and starts an [`Emulator`].
#[derive(Clone)]
pub struct EmulatorBuilder {
    api_key: Option<String>,
    addr: String,
    organization_id: String,
    seed: u64,
    max_body: usize,
    log_limit: usize,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("addr", &self.addr)
            .field("organization_id", &self.organization_id)
            .field("seed", &self.seed)
            .field("max_body", &self.max_body)
            .field("log_limit", &self.log_limit)
            .finish()
    }
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

/// A fresh key: `emu-` and 128 random bits in hex. The emulator never takes
/// a key from the environment, so a real key cannot leak into it.
fn generated_key() -> String {
    format!("emu-{:032x}", fastrand::u128(..))
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

    /// Seed of the dice behind [`Fault::probability`].
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
        let listener = StdListener::bind(self.addr.as_str())?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let config = Config {
            api_key: self.api_key.unwrap_or_else(generated_key),
            organization_id: self.organization_id,
            max_body: self.max_body,
        };
        let shared = Arc::new(Shared::new(config, self.seed, self.log_limit));
        let (tx, rx) = watch::channel(false);
        let thread = server::spawn(listener, shared.clone(), rx)?;
        Ok(Emulator {
            shared,
            addr,
            shutdown: tx,
            thread: Mutex::new(Some(thread)),
        })
    }
}

/// A running emulator. Dropping it (or [`Emulator::shutdown`]) stops the
/// server and closes its connections.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
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
        self.shared.faults.inject(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The pending fault rules, in order.
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults.list()
    }

    /// Lets `n` requests held by a [`Fault::hold`] rule go on (held now, or
    /// held later: a release is never lost).
    pub fn release(&self, n: usize) {
        self.shared.faults.release(n);
    }

    /// How many requests a [`Fault::hold`] rule holds right now. An update
    /// counted here already holds its task's in-flight marker, so a test can
    /// wait for this instead of sleeping.
    pub fn held(&self) -> u64 {
        self.shared.faults.held()
    }

    /// Reseeds the dice behind [`Fault::probability`].
    pub fn set_seed(&self, seed: u64) {
        self.shared.faults.reseed(seed);
    }

    /// The Tasks API requests received so far (control routes excluded),
    /// oldest first, credentials redacted.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.all()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// How many TCP connections were accepted.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// How many Tasks API requests were received (control routes excluded).
    pub fn requests_received(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Stores a task (a JSON object) exactly as given: it is served back
    /// unchanged, with no defaults filled in. Only a missing or null `id` is
    /// generated. Replaces a task with the same id. Returns the id.
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

    /// Stops the server, closes its connections and waits for its thread.
    /// Idempotent.
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
