//! Typed models of the Tasks API.
//!
//! * [`Task`] and its nested types ([`TaskInput`], [`User`], [`DeepPlanning`],
//!   [`McpServer`], ...), [`TaskListItem`] for list answers;
//! * string enums with an `Unknown` fallback ([`AgentExecutionStatus`], ...);
//! * [`Timestamp`], a date-time that keeps the exact string the server sent.
//!
//! Forward compatibility: every model struct keeps the keys it does not know
//! in a public `extra` map and writes them back when serialized; every enum
//! keeps a value it does not know in its `Unknown(String)` variant. A task
//! read from the server and saved back therefore loses nothing.

#[macro_use]
mod macros;

mod list;
mod status;
mod task;
mod timestamp;

pub use list::TaskListItem;
pub use status::{
    AgentExecutionStatus, McpAuthType, McpServerType, McpTransport, OutputFormat, ThinkMode,
};
pub use task::{
    DeepPlanning, DeepPlanningTask, HitlRequest, McpServer, PendingEcaRequest, Task, TaskInput,
    Tokens, User,
};
pub use timestamp::{Timestamp, TimestampError};

/// `Debug` of a secret: shows whether it is set, never its value.
pub(crate) struct Redacted<'a, T>(pub(crate) &'a Option<T>);

impl<T> std::fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some(\"<redacted>\")"),
            None => f.write_str("None"),
        }
    }
}
