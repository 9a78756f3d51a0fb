//! Typed models of the Tasks API.
//!
//! * [`Task`] and its nested types ([`TaskInput`], [`User`], [`DeepPlanning`],
//!   [`McpServer`], ...), [`TaskListItem`] for list answers;
//! * string enums with an `Unknown` fallback ([`AgentExecutionStatus`], ...);
//! * [`Timestamp`], a date-time that keeps the exact value the server sent;
//! * the live side's values: [`TaskEvent`] and its [`EventPayload`], the
//!   [`ActivityThread`] of an activity log;
//! * the worker runtime's wire values: [`DeployedAsset`], [`WorkerEvent`].
//!
//! All of it is shared by both faces and does no I/O. The calls on these
//! values (`Task::save` / `asave`, `Task::events` / `aevents`,
//! `TaskListItem::load` / `aload`, ...) are written once in `src/front.rs`
//! and expanded into [`crate::blocking`] and [`crate::nonblocking`].
//!
//! # Fidelity
//!
//! The service validates like pydantic in its lax mode, and so does this
//! crate when it reads: a field never makes a whole object fail to parse.
//! `2.0` where an integer is expected, `"42.5"` where a float is, `1` for a
//! flag, Unix seconds for a date-time, `null` for a field with a default: all
//! are read, the typed field holding the converted value (or its default
//! when no conversion exists). Only the required keys must be present.
//!
//! And what is read is what is written back: serializing a model (the body
//! of a save) gives, key for key and at every depth, the JSON it was read
//! from (a `null` stays `null`, `42` stays `42`, an absent key stays absent,
//! an odd value goes back as it came, unknown keys are kept in `extra`),
//! except for the fields the caller changed. A model built in code writes
//! every known field. In a list read in part (a `null` or a string among
//! the MCP servers, a number among the sub-execution ids), changing an
//! element the typed list holds leaves the others as they came, where they
//! were; elements added go at the end.
//!
//! Every enum keeps a value it does not know in its `Unknown(String)`
//! variant. `raw_value(name)` tells the value a field had on the wire when
//! the typed field holds only a conversion of it.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

#[macro_use]
mod wire;
#[macro_use]
mod macros;

mod activity;
mod event;
mod list;
mod public;
mod status;
mod task;
mod timestamp;
pub(crate) mod worker;

pub use activity::{
    ActivityAuth, ActivityEntry, ActivityGateway, ActivityMessage, ActivityReasoning,
    ActivitySubAgentTrigger, ActivityThread, ActivityToolCall, GatewayAction, MessageContent,
    MessageRole, OtherEntry, ReasoningKind,
};
pub use event::{
    AuthEvent, AuthEventType, Compaction, EventPayload, Identity, Reasoning, TaskEvent,
    TaskEventType, ToolCallRequest, ToolCallResult,
};
pub use list::TaskListItem;
pub use public::{
    ContentChunk, FullThread, InvokeCompleted, InvokeEvent, InvokeStarted, MessageMetrics,
    TaskPage, ThreadMessage, ThreadRole,
};
pub use status::{
    AgentExecutionStatus, McpAuthType, McpServerType, McpTransport, OutputFormat, ThinkMode,
};
pub use task::{
    DeepPlanning, DeepPlanningTask, HitlRequest, McpServer, PendingEcaRequest, Task, TaskInput,
    Tokens, User,
};
pub use timestamp::{Timestamp, TimestampError};
pub use worker::{AssetType, CapacityUpdate, DeployedAsset, WorkerEvent, WorkerEventType};

/// The answer of a delete, defined beside its parsing.
pub use crate::sans_io::response::Deleted;
