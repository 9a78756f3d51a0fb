//! Intake (slots, the queue, releases, claims).

use super::{
    notice, Call, Effect, Handler, Level, LlmGateway, Phase, Queued, TaskRecord, WorkerMachine,
    MAX_READ_FAILURES, MAX_SIDE_CALLS, READ_FAILURES_KEPT,
};
use crate::error::ErrorClass;
use crate::sans_io::HttpRequest;
use crate::model::{AgentExecutionStatus, Task};

impl WorkerMachine {
    pub(super) fn holds(&self, task_id: &str) -> bool {
        self.tasks.iter().any(|r| r.id == task_id)
            || self.queue.iter().any(|q| q.task.id == task_id)
            || self.deferred.iter().any(|q| q.task.id == task_id)
    }

    pub(super) fn intake(
        &mut self,
        task: Box<Task>,
        llm_gateway: Option<LlmGateway>,
        fx: &mut Vec<Effect>,
    ) {
        if self.holds(&task.id) {
            fx.push(notice(
                Level::Info,
                Some(&task.id),
                "delivered again while the worker has it; the second delivery is ignored"
                    .to_owned(),
            ));
            return;
        }
        if let Some(status) = task
            .status
            .as_ref()
            .filter(|s| s.is_terminal() || **s == AgentExecutionStatus::Executing)
        {
            // The frame itself says the task was claimed or finished: a
            // stale delivery (a claim still on its way when the server
            // handed the task to this connection). Not even read.
            fx.push(notice(
                Level::Info,
                Some(&task.id),
                format!(
                    "delivered already `{}`: a stale delivery, not run (nothing is written to it)",
                    status.as_str()
                ),
            ));
            return;
        }
        if self.stopping.is_some() {
            // Only the rest of the chunk that stopped the worker (a
            // conflict) gets here; the connection is being closed.
            fx.push(notice(
                Level::Info,
                Some(&task.id),
                "arrived as the worker stopped: not claimed, left to the server's dispatch"
                    .to_owned(),
            ));
            return;
        }
        if let Some(i) = self.side_waiting.iter().position(|(id, _)| *id == task.id) {
            // Its release has not gone out: the new delivery supersedes it.
            self.side_waiting.remove(i);
            fx.push(notice(
                Level::Info,
                Some(&task.id),
                "delivered again before its release went out: the release is not sent".to_owned(),
            ));
        } else if self.side_calls.contains(&task.id) {
            // Its release is on its way: a claim now could be undone by it
            // (back to `pending`, then run twice). Taken in at its answer.
            fx.push(notice(
                Level::Info,
                Some(&task.id),
                "delivered again while its release is on its way: taken in once it is answered"
                    .to_owned(),
            ));
            self.deferred.push(Queued { task, llm_gateway });
            return;
        }
        if self.running() < self.policy.concurrency {
            self.claim(task, llm_gateway, fx);
        } else if self.queue.len() < self.policy.queue_capacity {
            self.queue.push_back(Queued { task, llm_gateway });
        } else {
            let message = format!(
                "released by the worker: no free slot nor queue place (concurrency {}, queue {}); back to `pending` for another worker",
                self.policy.concurrency, self.policy.queue_capacity
            );
            self.release(&task.id, &message, fx);
        }
        self.update_capacity(fx);
    }

    /// Sets a task back to `pending` with a message: a partial update of
    /// `status` and `result` only.
    pub(super) fn release(&mut self, task_id: &str, message: &str, fx: &mut Vec<Effect>) {
        fx.push(notice(Level::Warn, Some(task_id), message.to_owned()));
        match self
            .requests
            .set_status(task_id, AgentExecutionStatus::Pending, message)
        {
            Ok(request) => self.send_side(task_id.to_owned(), request, fx),
            Err(error) => fx.push(notice(
                Level::Warn,
                Some(task_id),
                format!("cannot release it: {error}"),
            )),
        }
    }

    /// Sends a release when fewer than [`MAX_SIDE_CALLS`] are in flight;
    /// else it waits its turn.
    fn send_side(&mut self, task_id: String, request: HttpRequest, fx: &mut Vec<Effect>) {
        self.side_waiting.push_back((task_id, request));
        self.send_waiting(fx);
    }

    /// Sends the waiting releases, in order, while places are free.
    fn send_waiting(&mut self, fx: &mut Vec<Effect>) {
        while self.side_calls.len() < MAX_SIDE_CALLS {
            let Some((task_id, request)) = self.side_waiting.pop_front() else {
                break;
            };
            self.side_calls.push(task_id.clone());
            fx.push(Effect::Send {
                call: Call::Release { task_id },
                request,
            });
        }
    }

    /// A release answered: a delivery of it deferred meanwhile is taken
    /// in, and the next waiting release goes.
    pub(super) fn side_call_done(&mut self, task_id: &str, fx: &mut Vec<Effect>) {
        self.side_calls.retain(|id| id != task_id);
        if let Some(i) = self.deferred.iter().position(|q| q.task.id == task_id) {
            let Queued { task, llm_gateway } = self.deferred.remove(i);
            self.intake(task, llm_gateway, fx);
        }
        self.send_waiting(fx);
    }

    /// Takes a slot for a task and reads the server's copy: the claim
    /// follows only when the task is still the worker's to run
    /// ([`on_checked`](Self::on_checked)).
    fn claim(&mut self, task: Box<Task>, llm_gateway: Option<LlmGateway>, fx: &mut Vec<Effect>) {
        let mut base = *task;
        let delivered = base.status.clone();
        base.status = Some(AgentExecutionStatus::Executing);
        base.result = None;
        let request = match self.requests.reload(&base.id) {
            Ok(request) => request,
            Err(error) => {
                fx.push(notice(
                    Level::Warn,
                    Some(&base.id),
                    format!("cannot be claimed ({error}); skipped"),
                ));
                return;
            }
        };
        let call = Call::Check {
            task_id: base.id.clone(),
        };
        self.tasks.push(TaskRecord {
            id: base.id.clone(),
            base,
            delivered,
            phase: Phase::Check,
            handler: Handler::NotStarted,
            holds_slot: true,
            ours: None,
            theirs: None,
            final_body: None,
            metrics_reported: false,
            llm_gateway,
            abort_at: None,
        });
        fx.push(Effect::Send { call, request });
    }

    /// The read before the claim. The task is claimed (a partial update of
    /// its status) only when the server's copy is not finished and still
    /// has the status it was delivered with; otherwise it is dropped with a
    /// notice saying why: a stale delivery (finished, stopped, or claimed
    /// by another worker meanwhile) is never run again.
    pub(super) fn on_checked(
        &mut self,
        task_id: &str,
        result: crate::error::Result<Task>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(index) = self
            .tasks
            .iter()
            .position(|r| r.id == task_id && r.phase == Phase::Check)
        else {
            return;
        };
        let stopping = self.stopping.is_some();
        let agent = self.requests.agent_id().to_owned();
        let Some(record) = self.tasks.get_mut(index) else {
            return;
        };
        let pending = AgentExecutionStatus::Pending;
        let delivered = record.delivered.clone().unwrap_or(pending.clone());
        let drop_why = match &result {
            Ok(_) if stopping => Some(
                "the worker is stopping: not claimed, left to the server's dispatch (still `pending`)"
                    .to_owned(),
            ),
            // Told only by a value on both sides (a lax copy without one
            // is not another task's); the agent is the worker's own, known
            // even when the delivery did not carry it.
            Ok(theirs)
                if differs(&theirs.id, task_id) || differs(&theirs.agent_id, &agent) =>
            {
                Some(format!(
                    "the read before its claim answered with another task (id `{}`, agent `{}`): not run, nothing is written to it",
                    theirs.id, theirs.agent_id
                ))
            }
            Ok(theirs) => {
                let now = theirs.status.clone().unwrap_or(pending.clone());
                if now.is_terminal() {
                    Some(format!(
                        "already `{}` on the server: a stale delivery, not run",
                        now.as_str()
                    ))
                } else if now != delivered {
                    Some(format!(
                        "delivered `{}` but `{}` on the server now (another worker or a user changed it): not run",
                        delivered.as_str(),
                        now.as_str()
                    ))
                } else if theirs.is_manually_stopped && !record.base.is_manually_stopped {
                    Some(
                        "a stop was asked for on the server since its delivery: not run, left as the server has it"
                            .to_owned(),
                    )
                } else {
                    None
                }
            }
            Err(error) if error.class() == ErrorClass::Client => Some(format!(
                "cannot be read before its claim ({error}): not run, left as the server has it"
            )),
            Err(_) => None,
        };
        if let Some(why) = drop_why {
            fx.push(notice(Level::Info, Some(task_id), why));
            record.holds_slot = false;
            record.phase = Phase::Done;
        } else if let Ok(mut theirs) = result {
            self.read_failures.retain(|(id, _)| id != task_id);
            // A truncated delivery (no agent or organization): the handler
            // runs on the server's whole copy, just read, instead.
            if record.base.agent_id.is_empty() || record.base.organization_id.is_empty() {
                let gateway = LlmGateway::take(&mut theirs);
                record.llm_gateway = record.llm_gateway.take().or(gateway);
                record.base = theirs;
            }
            match self.requests.claim(task_id) {
                Ok(request) => {
                    record.phase = Phase::SaveExecuting;
                    fx.push(Effect::Send {
                        call: Call::SaveExecuting {
                            task_id: task_id.to_owned(),
                        },
                        request,
                    });
                }
                Err(error) => {
                    record.holds_slot = false;
                    record.phase = Phase::Done;
                    fx.push(notice(
                        Level::Warn,
                        Some(task_id),
                        format!("cannot be claimed ({error}); skipped"),
                    ));
                }
            }
        } else if let Err(error) = result {
            // Not known to be the worker's: it goes back to the dispatch,
            // unless its reads keep failing (each release is a delivery
            // again at once: a loop).
            record.holds_slot = false;
            record.phase = Phase::Done;
            let failures = self.read_failed(task_id);
            if failures < MAX_READ_FAILURES {
                let message = format!(
                    "released by the worker: the task could not be read before its claim ({error}); back to `pending` for another try"
                );
                self.release(task_id, &message, fx);
            } else {
                fx.push(notice(
                    Level::Warn,
                    Some(task_id),
                    format!(
                        "its read before the claim failed {failures} times in a row ({error}): not run nor released again, left as the server has it"
                    ),
                ));
            }
        }
        self.fill_slots(fx);
        self.update_capacity(fx);
    }

    /// Counts a failed read before the claim of a task: its failures in a
    /// row.
    fn read_failed(&mut self, task_id: &str) -> usize {
        let failures = match self.read_failures.iter().position(|(id, _)| id == task_id) {
            Some(i) => self
                .read_failures
                .remove(i)
                .map_or(1, |(_, n)| n.saturating_add(1)),
            None => 1,
        };
        if self.read_failures.len() >= READ_FAILURES_KEPT {
            self.read_failures.pop_front();
        }
        self.read_failures.push_back((task_id.to_owned(), failures));
        failures
    }

    /// Starts queued tasks while slots are free.
    pub(super) fn fill_slots(&mut self, fx: &mut Vec<Effect>) {
        while self.stopping.is_none() && self.running() < self.policy.concurrency {
            let Some(next) = self.queue.pop_front() else {
                break;
            };
            self.claim(next.task, next.llm_gateway, fx);
        }
    }
}

/// Two ids both given and not the same.
fn differs(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && a != b
}
