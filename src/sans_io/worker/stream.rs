//! The agent stream: connecting, reconnecting or giving up after a
//! disconnect, and the events it brings (registration, tasks, conflicts,
//! malformed events).

use std::time::Instant;

use super::link::State;
use super::{AgentEvent, Effect, Level, Notes, StopReason, WorkerMachine};
use crate::error::{Error, TransportError, TransportErrorKind};
use crate::model::DeployedAsset;
use crate::sans_io::stream::NextStep;

impl WorkerMachine {
    /// Acts on the session's decision after a connection ended.
    pub(super) fn after_disconnect(
        &mut self,
        step: NextStep,
        what: String,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        self.unregister();
        self.link.after_disconnect(&step, now);
        match step {
            NextStep::Reconnect { after } => {
                fx.note(
                    Level::Warn,
                    None,
                    format!(
                        "{what}; reconnecting in {after:?} (failure {} in a row)",
                        self.link.session.failures()
                    ),
                );
                self.give_up_if_idle(now, fx);
            }
            NextStep::Done => {}
            NextStep::GiveUp(error) => self.begin_stop(StopReason::Fatal(error), now, fx),
        }
    }

    /// Stops an idle worker that ran out of reconnects; true when it did.
    pub(super) fn give_up_if_idle(&mut self, now: Instant, fx: &mut Vec<Effect>) -> bool {
        let Some(max) = self.policy.max_idle_reconnects else {
            return false;
        };
        if self.in_flight() > 0 || self.link.session.failures() <= max || self.stopping.is_some() {
            return false;
        }
        self.link.give_up();
        let error = Error::Transport(TransportError::new(
            TransportErrorKind::Connect,
            format!(
                "gave up on the agent stream after {} failed connections in a row (max_idle_reconnects = {max})",
                self.link.session.failures()
            ),
            None,
        ));
        self.begin_stop(StopReason::Fatal(error), now, fx);
        true
    }

    pub(super) fn unregister(&mut self) {
        self.link.unregister();
        self.heartbeat.stop();
        self.capacity.reset(None);
    }

    pub(super) fn on_agent_event(&mut self, event: AgentEvent, now: Instant, fx: &mut Vec<Effect>) {
        match event {
            AgentEvent::Registration(asset) => self.on_registration(*asset, fx),
            AgentEvent::Task { task, llm_gateway } => self.take_in(task, llm_gateway, fx),
            AgentEvent::Conflict { message } => {
                if self.stopping.is_none() {
                    fx.note(
                        Level::Warn,
                        None,
                        format!("environment conflict: {message}; the worker stops (no reconnect)"),
                    );
                    self.begin_stop(StopReason::Conflict { message }, now, fx);
                }
            }
            AgentEvent::Malformed { reason } => {
                fx.note(Level::Warn, None, format!("{reason}; skipped"));
            }
            AgentEvent::Ignored { .. } => {}
        }
    }

    fn on_registration(&mut self, asset: DeployedAsset, fx: &mut Vec<Effect>) {
        if self.stopping.is_some() || self.link.state() != State::Open {
            return;
        }
        let previous = self.link.register(&asset.id);
        fx.note(
            Level::Info,
            None,
            match previous {
                Some(previous) if previous != asset.id => {
                    format!("registered again as worker {} (was {previous})", asset.id)
                }
                _ => format!("registered as worker {}", asset.id),
            },
        );
        fx.push(self.heartbeat.send(asset.id));
        self.capacity.reset(Some(asset.is_busy));
        self.send_capacity(fx);
    }
}
