//! The agent stream's link: its connection (connecting, open, waiting to
//! reconnect, closed), its session (backoff, resume point, decoder), and
//! the registration it carries.

use std::time::Instant;

use super::{Effect, WorkerRequests};
use crate::sans_io::stream::{EventSession, NextStep, Opened};

/// The agent stream's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Not started.
    Idle,
    /// A connection is being made.
    Connecting,
    /// Reading the stream.
    Open,
    /// Waiting to reconnect.
    Waiting(Instant),
    /// Closed for good (stopping).
    Closed,
}

/// The agent stream and its registration.
pub(super) struct Link {
    /// The session: reconnect backoff, last event id, the events' decoder.
    pub(super) session: EventSession,
    state: State,
    /// The worker id of the current registration.
    worker_id: Option<String>,
    /// The last registration's worker id, kept across a disconnect: a
    /// shutdown during a reconnect heartbeats for it through the drain.
    last_worker_id: Option<String>,
}

impl Link {
    pub(super) fn new(session: EventSession) -> Link {
        Link {
            session,
            state: State::Idle,
            worker_id: None,
            last_worker_id: None,
        }
    }

    pub(super) fn state(&self) -> State {
        self.state
    }

    /// The worker id of the current registration.
    pub(super) fn worker_id(&self) -> Option<&str> {
        self.worker_id.as_deref()
    }

    /// The worker id of the last registration, kept across a disconnect.
    pub(super) fn last_worker_id(&self) -> Option<&str> {
        self.last_worker_id.as_deref()
    }

    /// True while the stream is open and registered.
    pub(super) fn is_registered(&self) -> bool {
        self.state == State::Open && self.worker_id.is_some()
    }

    /// Opens a connection.
    pub(super) fn connect(&mut self, requests: &WorkerRequests) -> Effect {
        self.state = State::Connecting;
        Effect::OpenStream(requests.agent_stream(&self.session))
    }

    /// The connection's answer came (while connecting): read the stream,
    /// its error body, or close it (then the session's next step).
    pub(super) fn on_open(
        &mut self,
        status: u16,
        content_type: Option<&str>,
        now: Instant,
    ) -> (Effect, Option<NextStep>) {
        match self.session.on_open(status, content_type, now) {
            Opened::Stream => {
                self.state = State::Open;
                (Effect::ReadStream, None)
            }
            Opened::ReadError => (Effect::ReadStreamError, None),
            Opened::Then(step) => (Effect::CloseStream, Some(step)),
        }
    }

    /// A connection ended; `step` is the session's decision.
    pub(super) fn after_disconnect(&mut self, step: &NextStep, now: Instant) {
        self.state = match step {
            NextStep::Reconnect { after } => {
                State::Waiting(crate::sans_io::duration::after(now, *after))
            }
            NextStep::Done | NextStep::GiveUp(_) => State::Closed,
        };
    }

    /// A registration as `worker_id`: answers the one it replaces.
    pub(super) fn register(&mut self, worker_id: &str) -> Option<String> {
        self.session.mark_progress();
        self.last_worker_id = Some(worker_id.to_owned());
        self.worker_id.replace(worker_id.to_owned())
    }

    /// The registration is gone (the connection stays as it is).
    pub(super) fn unregister(&mut self) {
        self.worker_id = None;
    }

    /// Closed for good (stopping), unregistered: answers the close of an
    /// open or opening connection.
    pub(super) fn close(&mut self) -> Option<Effect> {
        let up = matches!(self.state, State::Open | State::Connecting);
        (self.state, self.worker_id) = (State::Closed, None);
        up.then_some(Effect::CloseStream)
    }

    /// Gives up on the stream for good (its connection is over already).
    pub(super) fn give_up(&mut self) {
        self.state = State::Closed;
        self.session.stop();
    }

    /// When a reconnect is due.
    pub(super) fn next_wakeup(&self) -> Option<Instant> {
        match self.state {
            State::Waiting(at) => Some(at),
            _ => None,
        }
    }
}
