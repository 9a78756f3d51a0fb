//! [`EmulatorBuilder`]: the settings of an emulator, and starting it.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::server;
use crate::state::{Config, Shared};
use crate::{
    DEFAULT_DISPATCH_WINDOW, DEFAULT_EVENT_BUFFER, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_BODY,
    DEFAULT_ORGANIZATION_ID, DEFAULT_REQUEST_LOG_LIMIT, DEFAULT_SEED, REDACTED,
};

/// A running emulator. Dropping it (or [`Emulator::shutdown`]) stops the
/// server and closes its connections.
pub struct Emulator {
    pub(crate) shared: Arc<Shared>,
    pub(crate) addr: SocketAddr,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) thread: Mutex<Option<JoinHandle<()>>>,
}

/// Configures and starts an [`Emulator`].
#[derive(Clone)]
pub struct EmulatorBuilder {
    api_key: Option<String>,
    addr: String,
    organization_id: String,
    seed: u64,
    max_body: usize,
    log_limit: usize,
    keep_alive: Duration,
    sse_retry: Option<Duration>,
    event_buffer: usize,
    dispatch_window: usize,
    orphan_after: Option<Duration>,
    tls: crate::tls::Settings,
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
            .field("keep_alive", &self.keep_alive)
            .field("sse_retry", &self.sse_retry)
            .field("event_buffer", &self.event_buffer)
            .field("dispatch_window", &self.dispatch_window)
            .field("orphan_after", &self.orphan_after)
            .field("tls", &self.tls)
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
            keep_alive: DEFAULT_KEEP_ALIVE,
            sse_retry: None,
            event_buffer: DEFAULT_EVENT_BUFFER,
            dispatch_window: DEFAULT_DISPATCH_WINDOW,
            orphan_after: None,
            tls: Default::default(),
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

    /// Seed of the dice behind [`Fault::probability`](crate::Fault::probability).
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

    /// How long an event stream may send nothing before a `: keep-alive`
    /// comment (default [`DEFAULT_KEEP_ALIVE`]; zero: never).
    pub fn keep_alive_interval(mut self, every: Duration) -> Self {
        self.keep_alive = every;
        self
    }

    /// Sends `retry: <ms>` once at the start of every event stream (default:
    /// no `retry:` line).
    pub fn sse_retry(mut self, retry: Duration) -> Self {
        self.sse_retry = Some(retry);
        self
    }

    /// How many events each task's stream keeps for resumption with
    /// `Last-Event-ID` (default [`DEFAULT_EVENT_BUFFER`]; at least 1).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events.max(1);
        self
    }

    /// At most this many tasks sent to one worker of an agent stream and
    /// not claimed yet (default [`DEFAULT_DISPATCH_WINDOW`]; 0: no limit):
    /// the dispatch goes on to the next worker, or waits for a claim. A
    /// broker's prefetch limit: it keeps a backlog from going out at once
    /// to the first worker before that worker can say it is busy.
    ///
    /// ```
    /// let emu = xpander_emulator::Emulator::builder().dispatch_window(4).start()?;
    /// # drop(emu);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dispatch_window(mut self, tasks: usize) -> Self {
        self.dispatch_window = tasks;
        self
    }

    /// The orphan rule (off by default): a task claimed through a worker
    /// whose agent stream ended `after` ago or more, and still `executing`
    /// (no change finished it since), is set to `error` with
    /// [`ORPHAN_MESSAGE`](crate::ORPHAN_MESSAGE) as its result, as a
    /// service's reaper of dead workers' tasks would. Off, such a task
    /// stays `executing`: nothing on the wire tells a dead worker from one
    /// that reconnected under a new id and is still running it. A worker
    /// that did reconnect and saves the task later still saves it (the
    /// rule does not lock a task). Checked every quarter of `after`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let emu = xpander_emulator::Emulator::builder().orphan_timeout(Duration::from_secs(30)).start()?;
    /// # drop(emu);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn orphan_timeout(mut self, after: Duration) -> Self {
        self.orphan_after = Some(after);
        self
    }

    /// Serves https (feature `tls`): a certificate authority made at start
    /// signs a server certificate for `localhost`, `127.0.0.1`, `::1`, the
    /// bound address and any [`EmulatorBuilder::tls_name`]. Clients trust
    /// [`Emulator::root_certificate_pem`]; [`Emulator::base_url`] says
    /// `https://`. Every fault works as over plain HTTP, inside the TLS
    /// session.
    ///
    /// ```
    /// let emu = xpander_emulator::Emulator::builder().tls(true).start()?;
    /// assert!(emu.base_url().starts_with("https://127.0.0.1:"));
    /// assert!(emu.root_certificate_pem().unwrap().contains("BEGIN CERTIFICATE"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, yes: bool) -> Self {
        self.tls.enabled = yes;
        self
    }

    /// Serves https ([`EmulatorBuilder::tls`]) with `name` (a DNS name or an
    /// IP address) in the server certificate too, e.g. a host name the
    /// client pins to the emulator's address, or a container's service name.
    #[cfg(feature = "tls")]
    pub fn tls_name(mut self, name: impl Into<String>) -> Self {
        self.tls.enabled = true;
        self.tls.names.push(name.into());
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
            keep_alive: Some(self.keep_alive).filter(|d| !d.is_zero()),
            sse_retry: self.sse_retry,
            event_buffer: self.event_buffer,
            dispatch_window: self.dispatch_window,
            orphan_after: self.orphan_after,
            tls: self.tls.identity(addr.ip())?,
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
