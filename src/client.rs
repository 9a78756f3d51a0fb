//! The [`Tasks`] client: configuration, one connection pool per face.

use std::fmt;
use std::sync::Arc;

use crate::config::{ClientBuilder, Config};
use crate::core::Core;
use crate::error::Result;

/// The client of the Tasks API, with a blocking and an async form of every
/// operation: `update` / `aupdate`, `get` / `aget`, and so on.
///
/// It holds one `ureq` agent and one `reqwest` client (each with its own
/// connection pool, reused across calls), and is `Clone + Send + Sync`:
/// clones share both pools, so clone it freely into threads and tasks.
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
    pub(crate) core: Core,
    #[cfg(feature = "blocking")]
    pub(crate) blocking: crate::blocking::Transport,
    #[cfg(feature = "async")]
    pub(crate) nonblocking: crate::nonblocking::Transport,
}

impl Tasks {
    /// A builder for explicit configuration (the environment is not read
    /// unless you call [`ClientBuilder::from_env`]).
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
        &self.inner.core.config
    }

    pub(crate) fn from_config(config: Config) -> Result<Tasks> {
        Ok(Tasks {
            inner: Arc::new(Inner {
                #[cfg(feature = "blocking")]
                blocking: crate::blocking::Transport::new(&config),
                #[cfg(feature = "async")]
                nonblocking: crate::nonblocking::Transport::new(&config)?,
                core: Core::new(config),
            }),
        })
    }
}

impl ClientBuilder {
    /// Checks the configuration and builds the client. Fails with
    /// [`crate::Error::Config`] when no API key is set or the base URL is
    /// not acceptable; no request is made.
    pub fn build(self) -> Result<Tasks> {
        Tasks::from_config(self.resolve()?)
    }
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks")
            .field("config", &self.inner.core.config)
            .finish()
    }
}
