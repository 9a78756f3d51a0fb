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
//! **What is read.** The service validates with pydantic in its lax mode,
//! so it may send values in more than one form. This crate reads every form
//! that mode accepts, and one odd field never makes a whole object, or a
//! call, fail:
//!
//! | field type | read from |
//! |---|---|
//! | date-time (`Timestamp`) | RFC 3339 / ISO 8601 with `T`, `t` or a space, any fraction, `Z` or any offset (`+05:30`, `+0530`, `-05`) or none (taken as UTC), without seconds (`2026-11-20T10:00`), a date alone (`2026-11-20`), Unix seconds or milliseconds (above 2·10¹⁰) as an integer, a float or a numeric string |
//! | integer (`i64`: negative and above-u32 values too) | an integer, an integral float (`2.0`), a numeric string (`"42"`), a boolean |
//! | float | a float, an integer (`42`), a numeric string (`"42.5"`), a boolean |
//! | flag | a boolean, `0`/`1`, `0.0`/`1.0`, `"true"`/`"false"`/`"yes"`/`"no"`/`"on"`/`"off"`/`"1"`/`"0"`/`"t"`/`"f"`/`"y"`/`"n"` |
//! | text | a string, or a number (read as its decimal text) |
//! | enum (status, output format, ...) | any string: a value this crate does not know is `Unknown("...")` |
//! | any field with a default | `null` or a missing key: the default |
//!
//! A value the typed field cannot hold at all (an object where a number is
//! expected, a date that is not one) leaves the field at its default and is
//! kept as it came: `task.raw_value("duration")` reads it (and tells the
//! value a field had on the wire whenever the typed field holds only a
//! conversion of it), `task.raw_values()` lists them, and
//! [`Timestamp::as_value`] keeps any value a date-time field got. Only the
//! key `id` must be present: a task without `created_at` (or any other
//! field) is read, the field at its default and not written back. Keys this
//! crate does not know are kept in `extra`, at every level.
//!
//! **What is sent back.** Serializing a model (the body of a save) gives,
//! key for key and at every depth, the very JSON it was read from (a `null`
//! stays `null`, `42` stays `42`, `"42.5"` stays `"42.5"`, a date goes back
//! in the form it came, an absent key stays absent, an odd value goes back
//! as it came, unknown keys go back unchanged), except for the fields the
//! caller changed. `save` sends that, minus the local `configuration` and,
//! unless you call `save_with_deep_plan_update`, `deep_planning`. Floats
//! keep their exact digits (serde_json's `float_roundtrip`). A model built
//! in code writes every known field. In a list read in part (a `null` or a
//! string among the MCP servers, a number among the sub-execution ids),
//! changing an element the typed list holds leaves the others as they came,
//! where they were; elements added go at the end.

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
#[doc(inline)]
pub use crate::sans_io::response::Deleted;
