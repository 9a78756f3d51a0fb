//! Intake (slots, the queue, releases, claims) and capacity (`is_busy`
//! and its updates to the server).

use super::{notice, Call, Effect, Handler, Level, LlmGateway, Phase, Queued, TaskRecord, Worker};
use crate::model::worker::{capacity_data, event_id};
use crate::model::{AgentExecutionStatus, Task, WorkerEvent, WorkerEventType};

impl Worker {
    pub(super) fn holds(&self, task_id: &str) -> bool {
        self.tasks.iter().any(|r| r.id == task_id)
            || self.queue.iter().any(|q| q.task.id == task_id)
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

    /// Sets a task back to `pending` with a message.
    pub(super) fn release(&mut self, task_id: &str, message: &str, fx: &mut Vec<Effect>) {
        fx.push(notice(Level::Warn, Some(task_id), message.to_owned()));
        match self
            .requests
            .set_status(task_id, AgentExecutionStatus::Pending, message)
        {
            Ok(request) => {
                let call = Call::Release {
                    task_id: task_id.to_owned(),
                };
                self.side_calls.push(call.clone());
                fx.push(Effect::Send { call, request });
            }
            Err(error) => fx.push(notice(
                Level::Warn,
                Some(task_id),
                format!("cannot release it: {error}"),
            )),
        }
    }

    /// Takes a slot for a task and saves it as `executing` (the claim).
    fn claim(&mut self, task: Box<Task>, llm_gateway: Option<LlmGateway>, fx: &mut Vec<Effect>) {
        let mut base = *task;
        base.status = Some(AgentExecutionStatus::Executing);
        base.result = None;
        let request = match self.requests.save(&base) {
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
        let call = Call::SaveExecuting {
            task_id: base.id.clone(),
        };
        self.tasks.push(TaskRecord {
            id: base.id.clone(),
            base,
            phase: Phase::SaveExecuting,
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

    /// Starts queued tasks while slots are free.
    pub(super) fn fill_slots(&mut self, fx: &mut Vec<Effect>) {
        while self.stopping.is_none() && self.running() < self.policy.concurrency {
            let Some(next) = self.queue.pop_front() else {
                break;
            };
            self.claim(next.task, next.llm_gateway, fx);
        }
    }

    // ----- capacity --------------------------------------------------------

    pub(super) fn update_capacity(&mut self, fx: &mut Vec<Effect>) {
        let busy = self.running() >= self.policy.concurrency;
        if busy != self.capacity.busy {
            self.capacity.busy = busy;
            self.capacity.seq = self.capacity.seq.saturating_add(1);
        }
        self.send_capacity(fx);
    }

    /// Sends the capacity when the server's view differs, one at a time.
    pub(super) fn send_capacity(&mut self, fx: &mut Vec<Effect>) {
        if self.stopping.is_some()
            || self.capacity.in_flight
            || self.capacity.retry_at.is_some()
            || self.capacity.server == Some(self.capacity.busy)
            || !self.is_registered()
        {
            return;
        }
        let Some(worker_id) = self.worker_id.clone() else {
            return;
        };
        let busy = self.capacity.busy;
        let event = WorkerEvent::with_id(
            event_id(&mut self.rng),
            WorkerEventType::CapacityUpdate,
            capacity_data(busy),
        );
        match self.requests.worker_event(&worker_id, &event) {
            Ok(request) => {
                self.capacity.in_flight = true;
                fx.push(Effect::Send {
                    call: Call::Capacity {
                        worker_id,
                        seq: self.capacity.seq,
                        busy,
                    },
                    request,
                });
            }
            Err(error) => fx.push(notice(
                Level::Warn,
                None,
                format!("cannot send a capacity update: {error}"),
            )),
        }
    }
}
