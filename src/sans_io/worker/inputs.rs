//! The runtime's inputs: starting, the stream's opening, bytes and end,
//! the answers to calls, a handler's end, time, and shutdown. Each one
//! acts through the concerns of the sibling modules and answers the
//! [`Effect`]s to carry out.

use std::time::{Instant, SystemTime};

use super::link::State;
use super::task::settle;
use super::{
    classify, Call, CancelReason, Effect, Handler, HandlerOutcome, Level, Notes, Phase, StopReason,
    WorkerMachine,
};
use crate::error::{Error, Result};
use crate::model::worker::{event_id, heartbeat_data};
use crate::model::{WorkerEvent, WorkerEventType};
use crate::sans_io::stream::Disconnect;
use crate::sans_io::{HttpRequest, HttpResponse};

impl WorkerMachine {
    /// Starts: opens the agent stream. Does nothing when started already.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.link.state() == State::Idle && self.stopping.is_none() {
            fx.push(self.link.connect(&self.requests));
        }
        fx
    }

    /// The answer to [`Effect::OpenStream`] came: its status and
    /// `content-type`. Answers [`Effect::ReadStream`],
    /// [`Effect::ReadStreamError`], or [`Effect::CloseStream`] (the worker
    /// then reconnects by itself).
    pub fn on_stream_open(
        &mut self,
        status: u16,
        content_type: Option<&str>,
        now: Instant,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.link.state() != State::Connecting {
            fx.push(Effect::CloseStream);
            return fx;
        }
        let (effect, step) = self.link.on_open(status, content_type, now);
        fx.push(effect);
        if let Some(step) = step {
            let what = format!("the agent stream answered {status} without an event stream");
            self.after_disconnect(step, what, now, &mut fx);
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// Bytes of the stream's body. Every event they complete is acted on.
    pub fn on_stream_bytes(&mut self, bytes: &[u8], now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.link.state() != State::Open {
            return fx;
        }
        self.link.session.feed(bytes);
        // Every event of the bytes fed is taken, even after a stop began
        // in the middle of them: a task among them is then noticed, and
        // left to the server's dispatch.
        while let Some(item) = self.link.session.next_event() {
            match item {
                Ok(event) => {
                    let event = classify(&event);
                    self.on_agent_event(event, now, &mut fx);
                }
                Err(error) => fx.note(
                    Level::Warn,
                    None,
                    format!("an event of the agent stream was dropped: {error}"),
                ),
            }
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// The stream is over: its end, an idle timeout, a read or connection
    /// error, or an error status ([`Effect::ReadStreamError`]). The worker
    /// reconnects after a backoff (an [`Effect::OpenStream`] from
    /// [`on_tick`](Self::on_tick)), or stops (401, 403; an idle worker out
    /// of reconnects).
    pub fn on_stream_end(&mut self, why: Disconnect, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if !matches!(self.link.state(), State::Open | State::Connecting) {
            return fx;
        }
        self.unregister();
        self.forget_queue("the agent stream's connection ended", &mut fx);
        let what = describe(&why);
        match why {
            Disconnect::Error(error) if error.is_unauthorized() => {
                self.link.give_up();
                let why =
                    format!("the server refused the agent stream ({error}); the worker stops");
                fx.note(Level::Error, None, why);
                self.begin_stop(StopReason::Fatal(error), now, &mut fx);
            }
            why => {
                let step = self.link.session.on_disconnect(why, now);
                self.after_disconnect(step, what, now, &mut fx);
            }
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// The answer to a [`Call`] ([`Effect::Send`],
    /// [`Effect::SendHeartbeat`]): the
    /// response, whatever its status, or the transport's error.
    pub fn on_response(
        &mut self,
        call: Call,
        answer: std::result::Result<HttpResponse, Error>,
        now: Instant,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        match call {
            Call::Check { task_id } => {
                let result = answer.and_then(|r| self.requests.parse_task(r));
                self.on_checked(&task_id, result, &mut fx);
            }
            Call::SaveExecuting { task_id } => {
                let result = answer.and_then(|r| self.requests.check(r));
                self.on_claimed(&task_id, result, now, &mut fx);
            }
            Call::Reload { task_id } => {
                let result = answer.and_then(|r| self.requests.parse_task(r));
                self.on_reloaded(&task_id, result, &mut fx);
            }
            Call::FinalSave { task_id, attempt } => {
                let result = answer.and_then(|r| self.requests.check(r));
                self.on_saved(&task_id, attempt, result, now, &mut fx);
            }
            Call::Metrics { task_id } => {
                if let Err(error) = answer.and_then(|r| self.requests.check(r)) {
                    fx.note(Level::Warn, Some(&task_id), format!(
                            "the metrics report failed ({error}); not tried again (a report is not idempotent)"
                        ));
                }
                if let Some(record) = self.record_mut(&task_id) {
                    if record.phase == Phase::Metrics {
                        record.phase = Phase::Done;
                    }
                }
            }
            Call::Release { task_id } => {
                let answer = answer.and_then(|r| self.requests.check(r));
                if self
                    .stopping
                    .as_ref()
                    .is_some_and(|s| s.unsaved.contains(&task_id))
                {
                    self.note_unsaved(&task_id, answer.is_ok());
                }
                if let Err(error) = answer {
                    let what = format!("setting it back to `pending` failed: {error}");
                    fx.note(Level::Warn, Some(&task_id), what);
                }
                if let Some(again) = self.intake.released(&task_id, &mut fx) {
                    self.take_in(again.task, again.llm_gateway, &mut fx);
                }
            }
            Call::Heartbeat { worker_id } => {
                let answer = answer.and_then(|r| self.requests.check(r));
                let beat = Some(worker_id.as_str());
                let current = self.link.worker_id() == beat
                    || (self.stopping.is_some() && self.link.last_worker_id() == beat);
                let (beat, interval) = ((&*worker_id, current), self.policy.heartbeat_interval);
                fx.extend(self.heartbeat.on_answer(answer, beat, now, interval));
            }
            Call::Capacity {
                worker_id,
                seq,
                busy,
            } => {
                let answer = answer.and_then(|r| self.requests.check(r));
                let current = self.link.worker_id() == Some(worker_id.as_str());
                let (update, retry) = ((seq, busy, current), self.policy.heartbeat_interval);
                fx.extend(self.capacity.on_answer(answer, update, now, retry));
                self.send_capacity(&mut fx);
            }
        }
        self.maybe_finish(&mut fx);
        fx
    }

    /// A handler ended ([`Effect::StartHandler`]). Unless the task was
    /// settled meanwhile (timeout, shutdown), settles its status: the read
    /// and the final save follow, and the slot is free (the next queued task
    /// starts) once that save is done or given up.
    pub fn on_handler_done(&mut self, task_id: &str, outcome: HandlerOutcome) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(index) = self.find(task_id, |_| true) else {
            fx.note(
                Level::Warn,
                Some(task_id),
                "a handler ended for a task the worker does not have",
            );
            return fx;
        };
        let Some(record) = self.tasks.get_mut(index) else {
            return fx;
        };
        if !matches!(record.handler, Handler::Running | Handler::Cancelled) {
            return fx;
        }
        let settled = record.handler == Handler::Cancelled;
        record.handler = Handler::Returned;
        record.holds_slot = false;
        if settled {
            fx.note(
                Level::Info,
                Some(task_id),
                "a cancelled handler returned; its outcome is not used (the task was settled when it was cancelled)",
            );
        } else if matches!(record.phase, Phase::Run { .. }) {
            let ours = settle(&record.base, outcome);
            record.ours = Some(ours);
            self.reload(index, &mut fx);
        }
        self.refill(&mut fx);
        self.maybe_finish(&mut fx);
        fx
    }

    /// Time passed: reconnects, heartbeats, capacity retries, handler
    /// deadlines, the end of the shutdown grace, final-save retries. Call it
    /// at [`next_wakeup`](Self::next_wakeup) (calling it earlier or more
    /// often does no harm).
    pub fn on_tick(&mut self, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.finished {
            return fx;
        }
        if let State::Waiting(at) = self.link.state() {
            if now >= at && self.stopping.is_none() && !self.give_up_if_idle(now, &mut fx) {
                fx.push(self.link.connect(&self.requests));
            }
        }
        let target = self.heartbeat_target().map(str::to_owned);
        fx.extend(self.heartbeat.on_tick(now, target));
        if self.capacity.on_tick(now) {
            self.send_capacity(&mut fx);
        }
        if let Some(stopping) = &self.stopping {
            if !stopping.expired && now >= stopping.grace_ends {
                self.expire_grace(now, &mut fx);
            }
        }
        for index in 0..self.tasks.len() {
            let Some(record) = self.tasks.get_mut(index) else {
                continue;
            };
            if let [Some(deadline), ..] = record.timers() {
                if now >= deadline {
                    let timeout = self.policy.task_timeout.unwrap_or_default();
                    let message = format!(
                        "the handler did not finish within its timeout of {timeout:?}; the worker cancelled it"
                    );
                    self.cancel(index, CancelReason::Timeout, message, now, &mut fx);
                }
            } else if record.retry_due(Some(now)) {
                self.send_final_save(index, &mut fx);
            }
        }
        self.abort_overdue(now, &mut fx);
        self.finish_if_due(now, &mut fx);
        self.maybe_finish(&mut fx);
        fx
    }

    /// The next time [`on_tick`](Self::on_tick) has something to do, if
    /// any.
    pub fn next_wakeup(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let mut times = Vec::new();
        if self.stopping.is_none() {
            times.extend(self.link.next_wakeup());
        }
        times.extend(self.heartbeat.next_wakeup(self.heartbeat_target()));
        times.extend(self.capacity.next_wakeup());
        if let Some(stopping) = &self.stopping {
            let running = self.tasks.iter().any(|r| {
                matches!(
                    r.phase,
                    Phase::Check | Phase::SaveExecuting | Phase::Run { .. }
                )
            });
            if !stopping.expired && running {
                times.push(stopping.grace_ends);
            }
            times.push(stopping.deadline);
            times.extend(stopping.hurry_ends);
        }
        let tasks = self
            .tasks
            .iter()
            .flat_map(super::TaskRecord::timers)
            .flatten();
        times.into_iter().chain(tasks).min()
    }

    /// Stops taking tasks and drains: the stream is closed, queued tasks
    /// are left to the server's dispatch, running ones get
    /// [`WorkerPolicy::shutdown_grace`](super::WorkerPolicy::shutdown_grace)
    /// (then they are cancelled and saved as `error`). [`Effect::Finished`]
    /// follows once every task is settled. Called again while stopping, it
    /// ends the grace at once.
    pub fn begin_shutdown(&mut self, now: Instant) -> Vec<Effect> {
        let mut fx = Vec::new();
        if self.finished {
            return fx;
        }
        match &self.stopping {
            Some(_) => {
                self.hurry(now, &mut fx);
                self.maybe_finish(&mut fx);
            }
            None => {
                self.begin_stop(StopReason::Shutdown, now, &mut fx);
                self.maybe_finish(&mut fx);
            }
        }
        fx
    }

    /// A heartbeat request for `worker_id` ([`Effect::SendHeartbeat`]),
    /// stamped `at` (the wall-clock time, written as RFC 3339 in UTC).
    pub fn heartbeat_request(&mut self, worker_id: &str, at: SystemTime) -> Result<HttpRequest> {
        let event = WorkerEvent::with_id(
            event_id(&mut self.rng),
            WorkerEventType::Heartbeat,
            heartbeat_data(at),
        );
        self.requests.worker_event(worker_id, &event)
    }
}

/// Why a connection ended, for a notice.
fn describe(why: &Disconnect) -> String {
    match why {
        Disconnect::Eof => "the agent stream ended".to_owned(),
        Disconnect::IdleTimeout => "the agent stream was silent past its idle timeout".to_owned(),
        Disconnect::Error(error) => format!("the agent stream failed: {error}"),
    }
}
