//! A task's life after its claim: the handler's start, the reload, the
//! final save (merged, retried) and the metrics; and the cancellation of
//! a running handler.

use std::time::Instant;

use super::{
    body, runtime_save_body, Call, CancelReason, Effect, Handler, HandlerOutcome, HandlerStart,
    Level, Notes, Phase, TaskRecord, WorkerMachine, SHUTDOWN_MESSAGE,
};
use crate::error::{Error, ErrorClass, Result};
use crate::model::{AgentExecutionStatus, Task};
use crate::sans_io::duration::after;

impl WorkerMachine {
    pub(super) fn record_mut(&mut self, task_id: &str) -> Option<&mut TaskRecord> {
        self.tasks.iter_mut().find(|r| r.id == task_id)
    }

    /// The claim's answer.
    pub(super) fn on_claimed(
        &mut self,
        task_id: &str,
        result: Result<()>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(index) = self.find(task_id, |p| *p == Phase::SaveExecuting) else {
            return;
        };
        let expired = self.stopping.as_ref().is_some_and(|s| s.expired);
        if expired && self.hurrying() && result.is_ok() {
            // A second shutdown request: the task never ran, so it goes
            // back to `pending` for another worker.
            self.release_unstarted(index, fx);
            self.update_capacity(fx);
            return;
        }
        let timeout = self.policy.task_timeout;
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        match result {
            Ok(()) if expired => {
                // Claimed after the grace ran out: not run at all.
                record.holds_slot = false;
                record.ours = Some(failed(&record.base, SHUTDOWN_MESSAGE));
                self.final_save(index, None, fx);
            }
            Ok(()) => {
                // Normalized: clamped, it never overflows.
                let deadline = timeout.map(|t| after(now, t));
                record.phase = Phase::Run {
                    attempt: 1,
                    deadline,
                };
                record.handler = Handler::Running;
                fx.push(Effect::StartHandler(Box::new(HandlerStart {
                    task: record.base.clone(),
                    attempt: 1,
                    deadline,
                    llm_gateway: record.llm_gateway.take(),
                })));
            }
            Err(error) if error.class() == ErrorClass::Client => {
                // The server refused the claim (gone, taken, invalid): the
                // task is not the worker's to run, nor to save.
                fx.note(Level::Warn, Some(task_id), format!(
                        "the server refused to mark the task as executing ({error}); it is not run, and left as the server has it"
                    ));
                record.drop_slot();
            }
            Err(error) => {
                fx.note(
                    Level::Warn,
                    Some(task_id),
                    format!("the task could not be marked as executing ({error}); it is not run"),
                );
                record.holds_slot = false;
                let message = format!("the worker could not mark the task as executing: {error}");
                record.ours = Some(failed(&record.base, &message));
                self.final_save(index, None, fx);
            }
        }
        self.refill(fx);
    }

    /// Reads the server's copy before the final save.
    pub(super) fn reload(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        record.phase = Phase::Reload;
        match self.requests.reload(&record.id) {
            Ok(request) => fx.push(Effect::Send {
                call: Call::Reload {
                    task_id: record.id.clone(),
                },
                request,
            }),
            Err(_) => self.final_save(index, None, fx),
        }
    }

    /// The reload's answer.
    pub(super) fn on_reloaded(
        &mut self,
        task_id: &str,
        result: Result<Task>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(index) = self.find(task_id, |p| *p == Phase::Reload) else {
            return;
        };
        if let Err(error) = &result {
            let why = format!(
                "reading the task before its final save failed ({error}); it is saved without the server's copy"
            );
            fx.note(Level::Warn, Some(task_id), why);
        }
        self.final_save(index, result.ok().as_ref(), fx);
    }

    /// Settles the final save (merged with the server's copy `theirs`,
    /// when read) and sends its first attempt.
    pub(super) fn final_save(&mut self, index: usize, theirs: Option<&Task>, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        let mut ours = record.ours.take().unwrap_or_else(|| record.base.clone());
        let stopped = theirs.is_some_and(|t| t.status == Some(AgentExecutionStatus::Stopped));
        if stopped && ours.status != Some(AgentExecutionStatus::Stopped) {
            fx.note(Level::Info, Some(&record.id), format!(
                    "stopped on the server while it ran: it stays `stopped` (the worker's outcome was `{}`)",
                    ours.status.as_ref().map_or("none", |s| s.as_str())
                ));
            ours.status = Some(AgentExecutionStatus::Stopped);
        }
        let body = match theirs {
            Some(theirs) => body::merged_save_body(&record.base, &ours, theirs),
            None => runtime_save_body(&ours),
        };
        record.ours = Some(ours);
        let request = body
            .map_err(|e| Error::invalid("task", format!("cannot be serialized: {e}")))
            .and_then(|body| self.requests.save_value(&record.id, &body));
        match request {
            Ok(request) => {
                record.final_save = Some(request);
                record.phase = Phase::FinalSave {
                    attempt: 1,
                    retry_at: None,
                };
                self.send_final_save(index, fx);
            }
            Err(error) => {
                fx.note(
                    Level::Error,
                    Some(&record.id),
                    format!("the final save cannot be made ({error}); the task keeps its last saved status"),
                );
                self.after_final_save(index, fx);
            }
        }
    }

    /// Sends the current attempt of the final save.
    pub(super) fn send_final_save(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get(index) else {
            return;
        };
        if let (Phase::FinalSave { attempt, .. }, Some(request)) =
            (record.phase, &record.final_save)
        {
            let task_id = record.id.clone();
            let call = Call::FinalSave { task_id, attempt };
            fx.push(Effect::Send {
                call,
                request: request.clone(),
            });
        }
    }

    /// The final save's answer: done, another attempt later, or given up.
    pub(super) fn on_saved(
        &mut self,
        task_id: &str,
        attempt: u32,
        result: Result<()>,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let this_attempt = Phase::FinalSave {
            attempt,
            retry_at: None,
        };
        let Some(index) = self.find(task_id, |p| *p == this_attempt) else {
            return;
        };
        let error = match result {
            Ok(()) => return self.after_final_save(index, fx),
            Err(error) => error,
        };
        // After a second shutdown request, one attempt only.
        let retryable = error.class() != ErrorClass::Client && !self.hurrying();
        let max = self.policy.save_attempts;
        let status = self
            .tasks
            .get(index)
            .and_then(|r| r.ours.as_ref())
            .and_then(|t| t.status.as_ref())
            .map_or("none", |s| s.as_str())
            .to_owned();
        if retryable && attempt < max {
            let delay = self.save_backoff.draw(attempt);
            fx.note(Level::Warn, Some(task_id), format!(
                    "the final save (status `{status}`) failed, attempt {attempt} of {max}: {error}; trying again in {delay:?}"
                ));
            if let Some(record) = self.tasks.get_mut(index) {
                record.phase = Phase::FinalSave {
                    attempt: attempt.saturating_add(1),
                    retry_at: Some(crate::sans_io::duration::after(now, delay)),
                };
            }
        } else {
            fx.note(Level::Error, Some(task_id), format!(
                    "gave up saving the final status `{status}` after {attempt} attempt(s): {error}; the server keeps the task's last saved status"
                ));
            self.note_unsaved(task_id, false);
            self.after_final_save(index, fx);
        }
    }

    /// After the final save (done or given up): the metrics, once, when
    /// the task has tokens; the task's slot is free from here on.
    fn after_final_save(&mut self, index: usize, fx: &mut Vec<Effect>) {
        self.report_metrics(index, fx);
        self.refill(fx);
    }

    fn report_metrics(&mut self, index: usize, fx: &mut Vec<Effect>) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        record.phase = Phase::Done;
        let Some(task) = record
            .ours
            .as_ref()
            .filter(|t| t.tokens.is_some() && !record.metrics_reported)
        else {
            return;
        };
        record.metrics_reported = true;
        match self.requests.metrics(task) {
            Ok(request) => {
                record.phase = Phase::Metrics;
                fx.push(Effect::Send {
                    call: Call::Metrics {
                        task_id: record.id.clone(),
                    },
                    request,
                });
            }
            Err(error) => fx.note(
                Level::Warn,
                Some(&record.id),
                format!("its metrics cannot be reported: {error}"),
            ),
        }
    }

    /// Cancels a running handler and settles its task as `error`.
    pub(super) fn cancel(
        &mut self,
        index: usize,
        reason: CancelReason,
        message: String,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        if record.handler != Handler::Running || !matches!(record.phase, Phase::Run { .. }) {
            return;
        }
        record.handler = Handler::Cancelled;
        record.abort_at = Some(after(now, self.policy.abort_grace));
        fx.push(Effect::CancelHandler {
            task_id: record.id.clone(),
            reason,
        });
        fx.note(Level::Warn, Some(&record.id), message.clone());
        record.ours = Some(failed(&record.base, &message));
        if self.hurrying() {
            // No time for the reload: saved at once, once.
            self.final_save(index, None, fx);
        } else {
            self.reload(index, fx);
        }
    }
}

/// The task to save after a handler ended.
pub(super) fn settle(base: &Task, outcome: HandlerOutcome) -> Task {
    match outcome {
        HandlerOutcome::Finished(task) if task.id != base.id => failed(
            base,
            &format!(
                "the handler returned another task ({:?}) than the one it was given",
                task.id
            ),
        ),
        HandlerOutcome::Finished(task) => {
            let mut task = *task;
            if matches!(task.status, None | Some(AgentExecutionStatus::Executing)) {
                task.status = Some(AgentExecutionStatus::Completed);
            }
            task
        }
        HandlerOutcome::Failed { message, task } => {
            let task = task.filter(|t| t.id == base.id);
            failed(task.as_deref().unwrap_or(base), &message)
        }
        HandlerOutcome::Cancelled => failed(base, "the handler was cancelled before it finished"),
    }
}

/// `task` with status `error` and `message` as its result.
fn failed(task: &Task, message: &str) -> Task {
    let mut task = task.clone();
    task.status = Some(AgentExecutionStatus::Error);
    task.result = Some(message.to_owned());
    task
}
