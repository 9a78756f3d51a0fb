//! The agent side: workers connected to an agent's stream, and the dispatch
//! of that agent's tasks to them. This module is the bookkeeping only (no
//! I/O, no task store): which workers each agent has, which task went to
//! which worker, and which tasks wait. The stream is in [`stream`], the
//! worker events in [`events`], the handle's methods in [`handle`].
//!
//! # Dispatch rules
//!
//! - A task enters an agent's queue when it is created for the agent, when
//!   it is seeded for an agent with a connected worker, when something sets
//!   it back to `pending` (a worker's release), and when the connection of
//!   the worker it went to ends (or that worker says `worker-finished`)
//!   before the task was claimed. A task already waiting is not queued twice.
//! - The queue goes out in order, each task to exactly one connected worker
//!   of the agent, round-robin (connection order), skipping a worker whose
//!   last `worker-capacity-update` said `is_busy: true`, that sent
//!   `worker-finished`, or that holds a full *dispatch window*: that many
//!   tasks sent to it and not claimed yet ([`DEFAULT_DISPATCH_WINDOW`],
//!   set with `EmulatorBuilder::dispatch_window`; 0: no window). When no
//!   worker is free, tasks wait in the queue until one frees (a capacity
//!   update saying `is_busy: false`, a claim that opens its window) or a
//!   worker connects: never dropped, never pushed to a worker that said it
//!   is full (whose release would bounce it straight back).
//! - The window is the prefetch limit of a message broker (AMQP's
//!   `basic.qos`): without it a backlog goes out at once to the first
//!   worker not yet busy, before its capacity update can arrive, and a
//!   worker with a small intake queue must release most of it.
//! - A task is *claimed* once a change sets its status to anything but
//!   `pending` (the worker's `PATCH .../update` to `executing`, answered
//!   200: a faulted PATCH never reaches the task). From then on its
//!   worker's connection may end without a re-dispatch; a terminal status
//!   ends the task's dispatch.

mod dispatch;
pub(crate) mod events;
pub(crate) mod handle;
pub(crate) mod metadata;
pub(crate) mod stream;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::events::now;
use crate::store::lock;

/// The result of a task the orphan rule failed
/// ([`EmulatorBuilder::orphan_timeout`](crate::EmulatorBuilder::orphan_timeout)).
pub const ORPHAN_MESSAGE: &str =
    "the worker that claimed this task disconnected and did not finish it: failed by the server's orphan rule";

/// Default dispatch window: at most this many tasks sent to one worker and
/// not claimed yet (see the module's dispatch rules).
pub const DEFAULT_DISPATCH_WINDOW: usize = 32;

/// What goes down one worker's stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    /// An `agent-execution` event with the task as stored when it is sent.
    Task(String),
    /// An event with this name and these exact `data` bytes.
    Raw { event: String, data: String },
}

/// Where a task is in its dispatch.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Queued,
    /// Sent to this worker, not claimed yet.
    Out(String),
    /// Claimed (status set past `pending`) or finished: no re-dispatch.
    Taken,
}

struct Track {
    agent: String,
    stage: Stage,
    /// The worker it was out with when a change claimed it (the wire does
    /// not say who claimed: the last worker it was sent to), until a
    /// change finishes it. For the orphan rule.
    claimed_by: Option<String>,
    /// The workers it was sent to, in order.
    deliveries: Vec<String>,
}

struct Worker {
    info: WorkerInfo,
    /// The stream's inbox; `None` once the connection ended.
    tx: Option<UnboundedSender<Out>>,
    /// When the connection ended (the orphan rule's clock).
    ended: Option<std::time::Instant>,
}

#[derive(Default)]
struct Agent {
    /// Connected workers, in connection order.
    connected: Vec<String>,
    /// Index into `connected` of the next worker to try.
    cursor: usize,
    queue: VecDeque<String>,
}

/// The agents' workers and the dispatch of their tasks.
#[derive(Default)]
pub(crate) struct State {
    workers: Vec<Worker>,
    agents: HashMap<String, Agent>,
    tasks: HashMap<String, Track>,
    /// Unclaimed tasks one worker may hold; 0: no limit.
    window: usize,
}

/// The shared handle on [`State`]; cloned into each agent stream, whose end
/// must reach it. Its lock and the task store's are never held together:
/// a change of the store reaches the dispatch after the store's lock is
/// released, and the dispatch never reads the store (a stream reads the
/// task when it writes the frame).
#[derive(Clone)]
pub(crate) struct Agents(Arc<Mutex<State>>);

impl Agents {
    /// No worker yet; at most `window` unclaimed tasks per worker (0: no
    /// limit).
    pub(crate) fn new(window: usize) -> Agents {
        Agents(Arc::new(Mutex::new(State {
            window,
            ..State::default()
        })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.0)
    }
}

impl State {
    fn worker(&self, id: &str) -> Option<&Worker> {
        self.workers.iter().find(|w| w.info.id == id)
    }

    fn worker_mut(&mut self, id: &str) -> Option<&mut Worker> {
        self.workers.iter_mut().find(|w| w.info.id == id)
    }

    /// A new worker (its registration sent first by the stream); the queue
    /// of its agent goes out. Returns the stream's inbox.
    pub(crate) fn connect(&mut self, info: WorkerInfo) -> UnboundedReceiver<Out> {
        let (tx, rx) = unbounded_channel();
        let agent = info.agent_id.clone();
        self.agents
            .entry(agent.clone())
            .or_default()
            .connected
            .push(info.id.clone());
        self.workers.push(Worker {
            info,
            tx: Some(tx),
            ended: None,
        });
        self.pump(&agent);
        rx
    }

    /// The worker's connection ended: its unclaimed tasks go back to the
    /// front of the queue, in the order it got them, and out again.
    pub(crate) fn disconnect(&mut self, worker_id: &str) {
        let Some(w) = self.worker_mut(worker_id).filter(|w| w.info.connected) else {
            return;
        };
        w.info.connected = false;
        w.info.disconnected_at = Some(now());
        w.tx = None;
        w.ended = Some(std::time::Instant::now());
        let agent = w.info.agent_id.clone();
        if let Some(a) = self.agents.get_mut(&agent) {
            if let Some(i) = a.connected.iter().position(|id| id == worker_id) {
                a.connected.remove(i);
                if i < a.cursor {
                    a.cursor -= 1;
                }
            }
        }
        self.take_back(worker_id, &agent);
    }

    /// A heartbeat of a known worker; false for an unknown one.
    pub(crate) fn heartbeat(&mut self, worker_id: &str, data: Value) -> bool {
        let Some(w) = self.worker_mut(worker_id) else {
            return false;
        };
        w.info.heartbeats += 1;
        w.info.last_heartbeat = Some(data);
        w.info.last_heartbeat_at = Some(now());
        true
    }

    /// A capacity update; a worker that frees up gets the waiting tasks.
    pub(crate) fn capacity(&mut self, worker_id: &str, is_busy: bool) -> bool {
        let Some(w) = self.worker_mut(worker_id) else {
            return false;
        };
        w.info.capacity_updates.push(is_busy);
        w.info.is_busy = is_busy;
        let agent = w.info.agent_id.clone();
        if !is_busy {
            self.pump(&agent);
        }
        true
    }

    /// `worker-finished`: the worker gets nothing more, and its unclaimed
    /// tasks go to the others.
    pub(crate) fn finished(&mut self, worker_id: &str) -> bool {
        let Some(w) = self.worker_mut(worker_id) else {
            return false;
        };
        w.info.finished = true;
        let agent = w.info.agent_id.clone();
        self.take_back(worker_id, &agent);
        true
    }

    /// The agent of a known worker.
    pub(crate) fn agent_of(&self, worker_id: &str) -> Option<&str> {
        self.worker(worker_id).map(|w| w.info.agent_id.as_str())
    }

    /// Sends an event to every connected stream of `agent`; how many.
    pub(crate) fn send_all(&mut self, agent: &str, out: &Out) -> usize {
        let sent = self
            .workers
            .iter()
            .filter(|w| w.info.agent_id == agent)
            .filter_map(|w| w.tx.as_ref())
            .filter(|tx| tx.send(out.clone()).is_ok())
            .count();
        sent
    }

    /// Sends an event to one worker of `agent`, picked as a task would be
    /// (but never queued: to a busy one when none is free); which one.
    pub(crate) fn send_one(&mut self, agent: &str, out: Out) -> Option<String> {
        let id = self.pick(agent, true)?;
        let tx = self.worker(&id)?.tx.as_ref()?;
        tx.send(out).ok().map(|()| id)
    }

    /// Ends every connected stream of `agent` normally; how many.
    pub(crate) fn close_streams(&mut self, agent: &str) -> usize {
        let mut n = 0;
        for w in self.workers.iter_mut().filter(|w| w.info.agent_id == agent) {
            n += usize::from(w.tx.take().is_some());
        }
        n
    }

    /// The orphan rule: the tasks claimed through a worker whose connection
    /// ended at least `after` ago and that no change finished since (see
    /// the module's docs). They are forgotten here (so named once); the
    /// caller sets them to `error`.
    pub(crate) fn orphans(&mut self, after: std::time::Duration) -> Vec<String> {
        let dead: Vec<&str> = self
            .workers
            .iter()
            .filter(|w| w.ended.is_some_and(|at| at.elapsed() >= after))
            .map(|w| w.info.id.as_str())
            .collect();
        if dead.is_empty() {
            return Vec::new();
        }
        let mut found = Vec::new();
        for (id, t) in &mut self.tasks {
            if t.stage == Stage::Taken && t.claimed_by.as_deref().is_some_and(|w| dead.contains(&w))
            {
                t.claimed_by = None;
                found.push(id.clone());
            }
        }
        found.sort();
        found
    }

    /// Forgets the tasks (they were removed): queues and delivery records.
    pub(crate) fn clear_tasks(&mut self) {
        self.tasks.clear();
        for a in self.agents.values_mut() {
            a.queue.clear();
        }
        for w in &mut self.workers {
            w.info.unclaimed = 0;
        }
    }

    /// Ends every stream (normally) and forgets every worker and task (the
    /// window stays).
    pub(crate) fn reset(&mut self) {
        *self = State {
            window: self.window,
            ..State::default()
        };
    }
}

/// A worker: one connection of an agent stream, as the emulator saw it.
///
/// Every connection is a new worker with a new id (a reconnecting runtime
/// gets a new one, as its new `worker-registration` says).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The id sent in its `worker-registration`.
    pub id: String,
    /// The agent whose stream it opened.
    pub agent_id: String,
    /// The organization segment of its stream's URL.
    pub organization_id: String,
    /// The stream's `environment` query (`local` or `xpander`).
    pub environment: String,
    /// The stream's `supports_llm_gateway` query was `true`.
    pub supports_llm_gateway: bool,
    /// Its stream is still open.
    pub connected: bool,
    /// When it connected (RFC 3339, the emulator's clock).
    pub registered_at: String,
    /// When its stream ended.
    pub disconnected_at: Option<String>,
    /// How many `worker-heartbeat` events it posted.
    pub heartbeats: u64,
    /// The `data` of its last heartbeat, as sent.
    pub last_heartbeat: Option<Value>,
    /// When its last heartbeat arrived (the emulator's clock).
    pub last_heartbeat_at: Option<String>,
    /// The `is_busy` of each `worker-capacity-update`, in arrival order.
    pub capacity_updates: Vec<bool>,
    /// The last capacity update said busy: it gets no task while another
    /// worker is free.
    pub is_busy: bool,
    /// It posted `worker-finished`: it gets no more tasks.
    pub finished: bool,
    /// The tasks sent to it, in order (a task sent twice appears twice).
    pub delivered: Vec<String>,
    /// How many of the tasks sent to it are not claimed yet (at most the
    /// dispatch window, [`EmulatorBuilder::dispatch_window`](crate::EmulatorBuilder::dispatch_window)).
    pub unclaimed: usize,
}

impl WorkerInfo {
    /// A worker connecting now, with nothing recorded yet.
    pub(crate) fn connecting(
        id: String,
        agent_id: &str,
        organization_id: &str,
        environment: String,
        supports_llm_gateway: bool,
    ) -> WorkerInfo {
        WorkerInfo {
            id,
            agent_id: agent_id.to_string(),
            organization_id: organization_id.to_string(),
            environment,
            supports_llm_gateway,
            connected: true,
            registered_at: crate::events::now(),
            disconnected_at: None,
            heartbeats: 0,
            last_heartbeat: None,
            last_heartbeat_at: None,
            capacity_updates: Vec::new(),
            is_busy: false,
            finished: false,
            delivered: Vec::new(),
            unclaimed: 0,
        }
    }

    /// The worker as `GET /__emulator/workers` serves it: the fields by
    /// name.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "agent_id": self.agent_id,
            "organization_id": self.organization_id,
            "environment": self.environment,
            "supports_llm_gateway": self.supports_llm_gateway,
            "connected": self.connected,
            "registered_at": self.registered_at,
            "disconnected_at": self.disconnected_at,
            "heartbeats": self.heartbeats,
            "last_heartbeat": self.last_heartbeat,
            "last_heartbeat_at": self.last_heartbeat_at,
            "capacity_updates": self.capacity_updates,
            "is_busy": self.is_busy,
            "finished": self.finished,
            "delivered": self.delivered,
            "unclaimed": self.unclaimed,
        })
    }
}

#[cfg(test)]
mod tests;
