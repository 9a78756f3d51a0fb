//! Items of a task list answer ([`TaskListItem`]).
//!
//! Shared by both faces, no I/O. `TaskListItem::load` / `aload`, which read
//! the full task, are in [`crate::blocking`] and [`crate::nonblocking`].

use super::{AgentExecutionStatus, Timestamp};

model_struct! {
    /// One task of a list answer (`GET /agent-execution/executions/history/...`).
    ///
    /// Only `id` is required; every other field takes its default when
    /// absent (and is not written back).
    ///
    /// ```
    /// use xpander_sdk::model::{AgentExecutionStatus, TaskListItem};
    ///
    /// let items: Vec<TaskListItem> = serde_json::from_str(r#"[{"id": "t-2",
    ///     "agent_id": "agent-123", "organization_id": "org-1", "status": "executing",
    ///     "created_at": "2026-11-21T08:00:00+00:00"}]"#)?;
    /// assert_eq!(items[0].status, Some(AgentExecutionStatus::Executing));
    /// assert_eq!(items[0].updated_at, None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct TaskListItem {
        /// The task id.
        id: String,
        /// The agent that runs the task.
        agent_id: String = String::new(),
        /// The organization owning the task.
        organization_id: String = String::new(),
        /// The user the task runs for.
        user_id: Option<String> = None,
        /// The parent task, for a sub-task.
        parent_task_id: Option<String> = None,
        /// The agent that triggered the task.
        triggering_agent_id: Option<String> = None,
        /// The execution status.
        status: Option<AgentExecutionStatus> = None,
        /// When the task was created (a public API v1 list item may lack
        /// it, its schema does not require it: then the epoch, as for
        /// `null`, and not written back).
        created_at: Timestamp = Timestamp::default(),
        /// When the task last changed.
        updated_at: Option<Timestamp> = None,
        /// The kind of node the task came from (`slack`, ...).
        source_node_type: Option<String> = None,
        /// The result of the task.
        result: Option<String> = None,
        /// The task's title.
        title: Option<String> = None,
    }
}
