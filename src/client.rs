//! The [`Tasks`] client: configuration, one connection pool per face.
//!
//! Shared by both faces. The struct lives here; its methods are written once
//! in `src/front.rs` and expanded into [`crate::blocking`] (`update`, `get`,
//! ...) and [`crate::nonblocking`] (`aupdate`, `aget`, ...), which also hold
//! each face's transport. Each transport is made at its first call.

use std::fmt;
use std::sync::Arc;
#[cfg(any(feature = "blocking", feature = "async"))]
use std::sync::OnceLock;

use crate::config::{ClientBuilder, Config};
#[cfg(any(feature = "blocking", feature = "async"))]
use crate::error::Error;
use crate::error::Result;
use crate::options::CallOptions;
use crate::sans_io::Core;

/// The client of the Tasks API, with a blocking and an async form of every
/// operation: `update` / `aupdate`, `get` / `aget`, and so on.
///
/// It holds one `ureq` agent and one `reqwest` client (each with its own
/// connection pool, reused across calls), and is `Clone + Send + Sync`:
/// clones share both pools, so clone it freely into threads and tasks.
/// Each face's transport is made when that face is first used (so
/// [`ClientBuilder::build`] makes no connection and loads no certificate);
/// a TLS setup that cannot work is then reported as [`crate::Error::Config`]
/// by that first call.
///
/// ```
/// # #[cfg(all(feature = "blocking", feature = "emulator"))] {
/// # let emulator = xpander_sdk::emulator::Emulator::start()?;
/// # emulator.seed_task(serde_json::json!({"id": "task_xyz", "agent_id": "a", "organization_id": "o", "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}));
/// use xpander_sdk::{AgentExecutionStatus, Tasks, UpdateTask};
///
/// // Tasks::from_env() reads XPANDER_API_KEY, XPANDER_BASE_URL, ...
/// let tasks = Tasks::builder()
///     .base_url(emulator.base_url())
///     .api_key(emulator.api_key())
///     .build()?;
/// let task = tasks.update("task_xyz", &UpdateTask::new().status(AgentExecutionStatus::Completed))?;
/// assert_eq!(task.status, Some(AgentExecutionStatus::Completed));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Tasks {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    /// The options of this view ([`Tasks::with_options`]).
    pub(crate) options: Option<CallOptions>,
}

/// What every view of one client shares: the core and the transports.
pub(crate) struct Shared {
    pub(crate) core: Core,
    /// The rustls configuration both faces start from, made once.
    #[cfg(any(feature = "blocking", feature = "async"))]
    tls: OnceLock<std::result::Result<(Arc<rustls::ClientConfig>, crate::tls::Roots), String>>,
    #[cfg(feature = "blocking")]
    blocking: OnceLock<std::result::Result<crate::blocking::Transport, String>>,
    #[cfg(feature = "async")]
    nonblocking: OnceLock<std::result::Result<crate::nonblocking::Transport, String>>,
}

impl Shared {
    /// The TLS configuration (roots decided once per client).
    #[cfg(any(feature = "blocking", feature = "async"))]
    pub(crate) fn tls(&self) -> std::result::Result<Arc<rustls::ClientConfig>, String> {
        self.tls
            .get_or_init(|| {
                crate::tls::client_config(&self.core.config).map(|(c, roots)| (Arc::new(c), roots))
            })
            .as_ref()
            .map(|(c, _)| c.clone())
            .map_err(String::clone)
    }

    /// The blocking transport, made at its first use.
    #[cfg(feature = "blocking")]
    pub(crate) fn blocking(&self) -> Result<&crate::blocking::Transport> {
        self.blocking
            .get_or_init(|| crate::blocking::Transport::new(&self.core.config, self.tls()))
            .as_ref()
            .map_err(|m| Error::Config(m.clone()))
    }

    /// The async transport, made at its first use.
    #[cfg(feature = "async")]
    pub(crate) fn nonblocking(&self) -> Result<&crate::nonblocking::Transport> {
        self.nonblocking
            .get_or_init(|| crate::nonblocking::Transport::new(&self.core.config, self.tls()))
            .as_ref()
            .map_err(|m| Error::Config(m.clone()))
    }
}

impl Tasks {
    /// A builder for explicit configuration (the `XPANDER_*` variables are
    /// not read unless you call [`ClientBuilder::from_env`]; the standard
    /// proxy variables are, unless you set a proxy or call
    /// [`ClientBuilder::no_proxy`]: see [`crate::proxy`]).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from the environment (`XPANDER_API_KEY`,
    /// `XPANDER_ORGANIZATION_ID`, `XPANDER_BASE_URL`, `IS_STG`), with default
    /// timeouts and retries. Fails with [`crate::Error::Config`] when no key is set.
    pub fn from_env() -> Result<Tasks> {
        ClientBuilder::new().from_env().build()
    }

    /// The resolved configuration (its `Debug` hides the key).
    pub fn config(&self) -> &Config {
        &self.inner.shared.core.config
    }

    /// A view of this client whose calls use `options` (a deadline, a
    /// timeout, a retry policy, extra headers): it has every method of
    /// `Tasks`, in both faces, and shares this client's connection pools.
    /// Cheap: one small allocation. Options replace (not add to) those of
    /// a view it is made from.
    ///
    /// ```
    /// # #[cfg(all(feature = "blocking", feature = "emulator"))] {
    /// # let emulator = xpander_sdk::emulator::Emulator::start()?;
    /// # emulator.seed_task(serde_json::json!({"id": "task_xyz", "agent_id": "a", "organization_id": "o", "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}));
    /// use std::time::Duration;
    /// use xpander_sdk::{CallOptions, Tasks, UpdateTask};
    ///
    /// let tasks = Tasks::builder()
    ///     .base_url(emulator.base_url())
    ///     .api_key(emulator.api_key())
    ///     .build()?;
    /// let task = tasks
    ///     .with_options(
    ///         CallOptions::new()
    ///             .deadline(Duration::from_secs(5))
    ///             .header("x-request-id", "run-42"),
    ///     )
    ///     .update("task_xyz", &UpdateTask::new().result("Done"))?;
    /// assert_eq!(task.result.as_deref(), Some("Done"));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options(&self, options: CallOptions) -> Tasks {
        Tasks {
            inner: Arc::new(Inner {
                shared: self.inner.shared.clone(),
                options: Some(options),
            }),
        }
    }

    /// The options of this view (empty for a client made by the builder).
    pub fn options(&self) -> &CallOptions {
        static NONE: std::sync::OnceLock<CallOptions> = std::sync::OnceLock::new();
        self.inner
            .options
            .as_ref()
            .unwrap_or_else(|| NONE.get_or_init(CallOptions::default))
    }

    /// Where this client's trusted TLS roots came from, once a face has
    /// made its TLS setup (for tests).
    #[cfg(any(feature = "blocking", feature = "async"))]
    #[doc(hidden)]
    pub fn tls_roots_for_tests(&self) -> Option<String> {
        let tls = self.inner.shared.tls.get()?;
        Some(match tls {
            Ok((_, roots)) => format!("{roots:?}"),
            Err(e) => format!("error: {e}"),
        })
    }
}

impl ClientBuilder {
    /// Checks the configuration and builds the client. Fails with
    /// [`crate::Error::Config`] when no API key is set, the base URL is not
    /// acceptable or the proxy setting cannot be used, or when a CA file
    /// named by `SSL_CERT_FILE` / `SSL_CERT_DIR` cannot be read or holds no
    /// certificate (see [`crate::security`]); no request is made, no
    /// connection opened and no TLS set up (each face does that when first
    /// used).
    #[cfg_attr(not(any(feature = "blocking", feature = "async")), allow(unused_mut))]
    pub fn build(mut self) -> Result<Tasks> {
        #[cfg(feature = "blocking")]
        let agent = self.ureq_agent.take();
        #[cfg(feature = "async")]
        let client = self.reqwest_client.take();
        let config = self.into_config()?;
        let shared = Shared {
            #[cfg(feature = "blocking")]
            blocking: match agent {
                Some(agent) => {
                    OnceLock::from(Ok(crate::blocking::Transport::from_agent(agent, &config)))
                }
                None => OnceLock::new(),
            },
            #[cfg(feature = "async")]
            nonblocking: match client {
                Some(client) => OnceLock::from(Ok(crate::nonblocking::Transport::from_client(
                    client, &config,
                ))),
                None => OnceLock::new(),
            },
            #[cfg(any(feature = "blocking", feature = "async"))]
            tls: OnceLock::new(),
            core: Core::new(config),
        };
        Ok(Tasks {
            inner: Arc::new(Inner {
                shared: Arc::new(shared),
                options: None,
            }),
        })
    }

    /// Uses your own `ureq::Agent` for the blocking face. The crate still
    /// builds every request, applies the body limit, retries and parses,
    /// and reads 4xx/5xx answers itself; but the agent's own rules then
    /// hold for redirects (the crate's default follows none, so the key
    /// never leaves the configured host: make sure yours does the same),
    /// timeouts (the crate's connect and request timeouts are not applied,
    /// though a per-call timeout or deadline is), proxy, TLS roots and
    /// connection pool.
    #[cfg(feature = "blocking")]
    #[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
    pub fn ureq_agent(mut self, agent: ureq::Agent) -> ClientBuilder {
        self.ureq_agent = Some(agent);
        self
    }

    /// Uses your own `reqwest::Client` for the async face. As with
    /// [`ClientBuilder::ureq_agent`], the client's own rules then hold for
    /// redirects (reqwest follows up to 10 by default, and then sends the
    /// key to wherever it is sent: build yours with
    /// `redirect(reqwest::redirect::Policy::none())`), timeouts, proxy, TLS
    /// and HTTP/2; the crate still builds, limits, retries and parses.
    /// The crate builds reqwest with `rustls-no-provider`, so a client you
    /// build yourself needs a crypto provider: install ring's
    /// (`rustls::crypto::ring::default_provider().install_default()`) or
    /// hand reqwest a rustls configuration.
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn reqwest_client(mut self, client: reqwest::Client) -> ClientBuilder {
        self.reqwest_client = Some(client);
        self
    }
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks")
            .field("config", &self.inner.shared.core.config)
            .field("options", &self.inner.options)
            .finish()
    }
}
