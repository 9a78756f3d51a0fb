//! A task the worker holds, and the transitions of its [`Phase`].

use std::time::Instant;

use crate::sans_io::HttpRequest;

use super::{LlmGateway, Phase};
use crate::model::{AgentExecutionStatus, Task};

/// Whether the handler of a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handler {
    NotStarted,
    Running,
    /// Cancelled (timeout, shutdown); not returned yet.
    Cancelled,
    Returned,
}

/// One task taken (holding a slot or settling).
pub(super) struct TaskRecord {
    pub(super) id: String,
    /// The task as handed to the handler: delivered, `executing`, result
    /// cleared. The base of the final save's merge.
    pub(super) base: Task,
    /// The status it was delivered with (`None`: none sent, read as
    /// `pending`): the server's copy must still have it to be claimed.
    pub(super) delivered: Option<AgentExecutionStatus>,
    pub(super) phase: Phase,
    pub(super) handler: Handler,
    /// The claim or the handler occupies the slot: from the claim until the
    /// handler returns (or the task is settled without running). The read
    /// and the final save after it count against the concurrency too
    /// ([`WorkerMachine::running`](super::WorkerMachine::running)).
    pub(super) holds_slot: bool,
    /// The task as it will be saved (status and result settled).
    pub(super) ours: Option<Task>,
    /// The final save's request, made once for every attempt.
    pub(super) final_save: Option<HttpRequest>,
    pub(super) metrics_reported: bool,
    /// Kept for the handler's start, then handed over.
    pub(super) llm_gateway: Option<LlmGateway>,
    /// When a cancelled handler that has not returned is aborted.
    pub(super) abort_at: Option<Instant>,
}

impl TaskRecord {
    /// Settled without a final save to make: the slot is free.
    pub(super) fn drop_slot(&mut self) {
        self.holds_slot = false;
        self.phase = Phase::Done;
    }

    /// Claimed, and its final status not saved yet.
    pub(super) fn is_claimed(&self) -> bool {
        matches!(
            self.phase,
            Phase::SaveExecuting | Phase::Run { .. } | Phase::Reload | Phase::FinalSave { .. }
        )
    }

    /// Counts against the concurrency: it holds its slot, or its reload or
    /// final save is under way.
    pub(super) fn is_running(&self) -> bool {
        self.holds_slot || matches!(self.phase, Phase::Reload | Phase::FinalSave { .. })
    }

    /// The timers of the task, each `None` when not set: its running
    /// handler's deadline, its final save's next attempt, and the abort of
    /// its cancelled handler that has not returned.
    pub(super) fn timers(&self) -> [Option<Instant>; 3] {
        let deadline = match self.phase {
            Phase::Run { deadline, .. } if self.handler == Handler::Running => deadline,
            _ => None,
        };
        let retry = match self.phase {
            Phase::FinalSave { retry_at, .. } => retry_at,
            _ => None,
        };
        let cancelled = self.handler == Handler::Cancelled && self.holds_slot;
        [deadline, retry, self.abort_at.filter(|_| cancelled)]
    }

    /// A final save waiting for its next attempt goes now when its wait is
    /// over at `now` (`None`: whatever the wait): true when it does.
    pub(super) fn retry_due(&mut self, now: Option<Instant>) -> bool {
        let [_, Some(at), _] = self.timers() else {
            return false;
        };
        if now.is_some_and(|now| now < at) {
            return false;
        }
        if let Phase::FinalSave { retry_at, .. } = &mut self.phase {
            *retry_at = None;
        }
        true
    }
}

impl super::WorkerMachine {
    /// The index of the task `task_id` in a phase `at` accepts.
    pub(super) fn find(&self, task_id: &str, at: impl Fn(&Phase) -> bool) -> Option<usize> {
        self.tasks
            .iter()
            .position(|r| r.id == task_id && at(&r.phase))
    }

    /// A slot may be free: queued tasks start, and the capacity follows.
    pub(super) fn refill(&mut self, fx: &mut Vec<super::Effect>) {
        self.fill_slots(fx);
        self.update_capacity(fx);
    }
}
