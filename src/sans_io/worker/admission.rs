//! The machine's side of intake and capacity: a delivery taken in
//! (queued, released, or read and claimed when a slot is free), and the
//! capacity the server is told (`is_busy`), which says whether it should
//! deliver more.

use super::intake::{Queued, MAX_READ_FAILURES};
use super::{Call, Effect, Handler, Level, LlmGateway, Notes, Phase, TaskRecord, WorkerMachine};
use crate::error::ErrorClass;
use crate::model::worker::{capacity_data, event_id};
use crate::model::{AgentExecutionStatus, Task, WorkerEvent, WorkerEventType};

impl WorkerMachine {
    pub(super) fn holds(&self, task_id: &str) -> bool {
        self.tasks.iter().any(|r| r.id == task_id) || self.intake.holds(task_id)
    }

    /// A task delivered: claimed when a slot is free, queued when a place
    /// is, released otherwise; or skipped, with a notice saying why.
    pub(super) fn take_in(
        &mut self,
        task: Box<Task>,
        llm_gateway: Option<LlmGateway>,
        fx: &mut Vec<Effect>,
    ) {
        let stale = task
            .status
            .as_ref()
            .filter(|s| s.is_terminal() || **s == AgentExecutionStatus::Executing);
        let skip = if self.holds(&task.id) {
            Some("delivered again while the worker has it; the second delivery is ignored".into())
        } else if let Some(status) = stale {
            // The frame itself says the task was claimed or finished: a
            // stale delivery (a claim still on its way when the server
            // handed the task to this connection). Not even read.
            Some(format!(
                "delivered already `{}`: a stale delivery, not run (nothing is written to it)",
                status.as_str()
            ))
        } else if self.stopping.is_some() {
            // Only the rest of the chunk that stopped the worker (a
            // conflict) gets here; the connection is being closed.
            Some("arrived as the worker stopped: not claimed, left to the server's dispatch".into())
        } else {
            None
        };
        if let Some(why) = skip {
            fx.note(Level::Info, Some(&task.id), why);
            return;
        }
        let waiting = &mut self.intake.waiting;
        if let Some(i) = waiting.iter().position(|(id, _)| *id == task.id) {
            // Its release has not gone out: the new delivery supersedes it.
            waiting.remove(i);
            let why = "delivered again before its release went out: the release is not sent";
            fx.note(Level::Info, Some(&task.id), why.to_owned());
        } else if self.intake.releasing.contains(&task.id) {
            // Its release is on its way: a claim now could be undone by it
            // (back to `pending`, then run twice). Taken in at its answer.
            let why =
                "delivered again while its release is on its way: taken in once it is answered";
            fx.note(Level::Info, Some(&task.id), why.to_owned());
            self.intake.defer(Queued { task, llm_gateway });
            return;
        }
        if self.running() < self.policy.concurrency {
            self.claim(task, llm_gateway, fx);
        } else if self.intake.queue.len() < self.policy.queue_capacity {
            self.intake.queue.push_back(Queued { task, llm_gateway });
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
    /// `status` and `result` only, when fewer than [`MAX_SIDE_CALLS`] are
    /// in flight; else it waits its turn.
    pub(super) fn release(&mut self, task_id: &str, message: &str, fx: &mut Vec<Effect>) {
        fx.note(Level::Warn, Some(task_id), message.to_owned());
        let pending = AgentExecutionStatus::Pending;
        match self.requests.set_status(task_id, pending, message) {
            Ok(request) => self.intake.release(task_id.to_owned(), request, fx),
            Err(error) => {
                let why = format!("cannot release it: {error}");
                fx.note(Level::Warn, Some(task_id), why);
            }
        }
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
                fx.note(
                    Level::Warn,
                    Some(&base.id),
                    format!("cannot be claimed ({error}); skipped"),
                );
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
            final_save: None,
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
        let Some(index) = self.find(task_id, |p| *p == Phase::Check) else {
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
            fx.note(Level::Info, Some(task_id), why);
            record.drop_slot();
        } else if let Ok(mut theirs) = result {
            self.intake.read_succeeded(task_id);
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
                    record.drop_slot();
                    fx.note(
                        Level::Warn,
                        Some(task_id),
                        format!("cannot be claimed ({error}); skipped"),
                    );
                }
            }
        } else if let Err(error) = result {
            // Not known to be the worker's: it goes back to the dispatch,
            // unless its reads keep failing (each release is a delivery
            // again at once: a loop).
            record.drop_slot();
            let failures = self.intake.read_failed(task_id);
            if failures < MAX_READ_FAILURES {
                let message = format!(
                    "released by the worker: the task could not be read before its claim ({error}); back to `pending` for another try"
                );
                self.release(task_id, &message, fx);
            } else {
                fx.note(Level::Warn, Some(task_id), format!(
                        "its read before the claim failed {failures} times in a row ({error}): not run nor released again, left as the server has it"
                    ));
            }
        }
        self.refill(fx);
    }

    /// Starts queued tasks while slots are free.
    pub(super) fn fill_slots(&mut self, fx: &mut Vec<Effect>) {
        while self.stopping.is_none() && self.running() < self.policy.concurrency {
            let Some(next) = self.intake.queue.pop_front() else {
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

impl WorkerMachine {
    pub(super) fn update_capacity(&mut self, fx: &mut Vec<Effect>) {
        self.capacity.set(self.running() >= self.policy.concurrency);
        self.send_capacity(fx);
    }

    /// Sends the capacity when the server's view differs, one at a time.
    pub(super) fn send_capacity(&mut self, fx: &mut Vec<Effect>) {
        if self.stopping.is_some() || !self.is_registered() {
            return;
        }
        let (Some((seq, busy)), Some(worker_id)) = (self.capacity.due(), self.link.worker_id())
        else {
            return;
        };
        let event = WorkerEvent::with_id(
            event_id(&mut self.rng),
            WorkerEventType::CapacityUpdate,
            capacity_data(busy),
        );
        match self.requests.worker_event(worker_id, &event) {
            Ok(request) => {
                self.capacity.sending();
                let call = Call::Capacity {
                    worker_id: worker_id.to_owned(),
                    seq,
                    busy,
                };
                fx.push(Effect::Send { call, request });
            }
            Err(error) => fx.note(
                Level::Warn,
                None,
                format!("cannot send a capacity update: {error}"),
            ),
        }
    }
}
