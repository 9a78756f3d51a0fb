//! The dispatch proper: the agent's queue of waiting tasks, the choice of
//! a worker (round-robin, busy, finished and full-window workers skipped),
//! and the task's stage as changes reach it (the rules are in the parent
//! module's docs).

use super::{Stage, State, Track};
use crate::agents::Out;

impl State {
    /// Requeues (at the front) the tasks out with `worker_id`, unclaimed.
    pub(super) fn take_back(&mut self, worker_id: &str, agent: &str) {
        let delivered = match self.worker(worker_id) {
            Some(w) => w.info.delivered.clone(),
            None => return,
        };
        let mut back = Vec::new();
        for id in delivered {
            if let Some(t) = self.tasks.get_mut(&id) {
                if t.stage == Stage::Out(worker_id.to_string()) && !back.contains(&id) {
                    t.stage = Stage::Queued;
                    back.push(id);
                }
            }
        }
        if let Some(w) = self.worker_mut(worker_id) {
            w.info.unclaimed = 0;
        }
        let a = self.agents.entry(agent.to_string()).or_default();
        for id in back.into_iter().rev() {
            a.queue.push_front(id);
        }
        self.pump(agent);
    }

    /// The task leaves the worker it is out with (claimed, released or
    /// finished): that worker's window has one more place. Returns that
    /// worker's agent (whose queue may go on), `None` when it was not out.
    pub(super) fn leave_out(&mut self, task_id: &str) -> Option<String> {
        let Some(Stage::Out(worker_id)) = self.tasks.get(task_id).map(|t| t.stage.clone()) else {
            return None;
        };
        let w = self.worker_mut(&worker_id)?;
        w.info.unclaimed = w.info.unclaimed.saturating_sub(1);
        Some(w.info.agent_id.clone())
    }

    /// A task for `agent` waits for a worker (unless it already does).
    pub(super) fn enqueue(&mut self, task_id: &str, agent: &str) {
        let track = self.tasks.entry(task_id.to_string()).or_insert(Track {
            agent: agent.to_string(),
            stage: Stage::Taken,
            claimed_by: None,
            deliveries: Vec::new(),
        });
        if track.stage == Stage::Queued {
            return;
        }
        let freed = self.leave_out(task_id);
        let Some(track) = self.tasks.get_mut(task_id) else {
            return;
        };
        track.stage = Stage::Queued;
        track.claimed_by = None;
        track.agent = agent.to_string();
        let a = self.agents.entry(agent.to_string()).or_default();
        a.queue.push_back(task_id.to_string());
        self.pump(agent);
        // Requeued for another agent (its agent_id changed): the place it
        // left is in the old agent's worker.
        if let Some(old) = freed.filter(|old| old != agent) {
            self.pump(&old);
        }
    }

    /// A task created for `agent`.
    pub(crate) fn created(&mut self, task_id: &str, agent: &str) {
        self.enqueue(task_id, agent);
    }

    /// A pending task seeded for `agent`: dispatched when the agent has a
    /// connected worker, else not kept (seeding is for state, not traffic).
    pub(crate) fn seeded(&mut self, task_id: &str, agent: &str) {
        let has_workers = self
            .agents
            .get(agent)
            .is_some_and(|a| !a.connected.is_empty());
        if has_workers {
            self.enqueue(task_id, agent);
        }
    }

    /// A change set the task's status from `was` to `status`. `pending`
    /// queues it again when that is a release: the task is out with a
    /// worker or was claimed, or its status was another one (a save of a
    /// task that was pending all along is not). Any other status takes it
    /// out of dispatch (claimed, or finished).
    pub(crate) fn status_set(
        &mut self,
        task_id: &str,
        agent: Option<&str>,
        was: Option<&str>,
        status: &str,
    ) {
        let track = self.tasks.get_mut(task_id);
        if status == "pending" {
            let release = match &track {
                Some(t) => t.stage != Stage::Queued,
                None => was.is_some_and(|w| w != "pending"),
            };
            let agent = agent.or_else(|| track.map(|t| t.agent.as_str()));
            if let (true, Some(agent)) = (release, agent.map(str::to_string)) {
                self.enqueue(task_id, &agent);
            }
            return;
        }
        let Some(t) = track else {
            return;
        };
        if t.stage == Stage::Queued {
            if let Some(a) = self.agents.get_mut(&t.agent) {
                a.queue.retain(|id| id != task_id);
            }
        }
        let finished = ["completed", "error", "failed", "stopped"].contains(&status);
        let freed = self.leave_out(task_id);
        if let Some(t) = self.tasks.get_mut(task_id) {
            t.claimed_by = if finished {
                None
            } else if let Stage::Out(worker) = &t.stage {
                Some(worker.clone())
            } else if t.stage == Stage::Queued {
                // Claimed after a hand-back: by the last one it went to.
                t.deliveries.last().cloned()
            } else {
                t.claimed_by.take()
            };
            t.stage = Stage::Taken;
        }
        if let Some(agent) = freed {
            // A place in that worker's window: the queue may go on.
            self.pump(&agent);
        }
    }

    /// The next free worker of `agent` in round-robin order (busy ones,
    /// finished ones and ones with a full window skipped; with `any`, the
    /// next connected one when none is free).
    pub(super) fn pick(&mut self, agent: &str, any: bool) -> Option<String> {
        let workers = &self.workers;
        let window = self.window;
        let a = self.agents.get_mut(agent)?;
        let n = a.connected.len();
        let free = |id: &String| {
            workers.iter().find(|w| &w.info.id == id).is_some_and(|w| {
                !w.info.is_busy && !w.info.finished && (window == 0 || w.info.unclaimed < window)
            })
        };
        let start = a.cursor;
        let found = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| a.connected.get(i).is_some_and(free))
            .or_else(|| (any && n > 0).then(|| start % n))?;
        a.cursor = found + 1;
        a.connected.get(found).cloned()
    }

    /// Sends the agent's waiting tasks while a worker is free.
    pub(super) fn pump(&mut self, agent: &str) {
        loop {
            let Some(task_id) = self
                .agents
                .get(agent)
                .and_then(|a| a.queue.front())
                .cloned()
            else {
                return;
            };
            let Some(worker_id) = self.pick(agent, false) else {
                return;
            };
            if let Some(a) = self.agents.get_mut(agent) {
                a.queue.pop_front();
            }
            let sent = self
                .worker_mut(&worker_id)
                .and_then(|w| w.tx.as_ref())
                .is_some_and(|tx| tx.send(Out::Task(task_id.clone())).is_ok());
            if !sent {
                // The stream is gone but its end not yet recorded: the task
                // waits again; the end requeues nothing of it.
                if let Some(a) = self.agents.get_mut(agent) {
                    a.queue.push_front(task_id);
                    a.connected.retain(|id| id != &worker_id);
                }
                continue;
            }
            if let Some(w) = self.worker_mut(&worker_id) {
                w.info.delivered.push(task_id.clone());
                w.info.unclaimed += 1;
            }
            if let Some(t) = self.tasks.get_mut(&task_id) {
                t.stage = Stage::Out(worker_id.clone());
                t.deliveries.push(worker_id);
            }
        }
    }
}
