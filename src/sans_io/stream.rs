//! The task event stream as a sans-IO session: what a (re)connect sends,
//! what an answer means, which events go out, when to reconnect and when to
//! stop.
//!
//! An [`EventSession`] is driven by a transport (the blocking and the async
//! face, or your own HTTP client). It never reads the clock, sleeps or opens
//! a connection: the transport passes the time in ([`Instant`] arguments),
//! sleeps for the delays decided here and moves the bytes. One session
//! follows one task's stream across any number of connections:
//!
//! 1. Connect with [`EventSession::request_headers`] (`accept`,
//!    `cache-control` and, once known, `last-event-id`), within
//!    [`StreamPolicy::connect_timeout`].
//! 2. Hand the answer's status and content type to [`EventSession::on_open`]:
//!    - [`Opened::Stream`]: read the body. Hand every chunk to
//!      [`EventSession::feed`], then take [`EventSession::next_item`] until
//!      it answers `None` before reading the next chunk. A
//!      [`SessionItem::Skipped`] is a malformed event: log it as a warning
//!      and go on. When [`EventSession::is_done`] turns true (after
//!      `task_finished`), close the connection. A read that gets no byte for
//!      [`StreamPolicy::idle_timeout`] is [`Disconnect::IdleTimeout`].
//!    - [`Opened::ReadError`]: an error status. Read at most
//!      [`MAX_ERROR_BODY_BYTES`](super::MAX_ERROR_BODY_BYTES) of the body,
//!      make the crate's [`ApiError`](crate::ApiError) of it and hand it over as
//!      [`Disconnect::Error`].
//!    - [`Opened::Then`]: close the connection and do what it says.
//! 3. When the connection is over (end of the body, a transport error, the
//!    idle timeout, an error status), [`EventSession::on_disconnect`] says
//!    what comes next: [`NextStep::Reconnect`] after a delay,
//!    [`NextStep::Done`], or [`NextStep::GiveUp`] with the error to return.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use xpander_sdk::sans_io::stream::{
//!     Disconnect, EventSession, NextStep, Opened, SessionItem, StreamPolicy,
//! };
//!
//! let mut session = EventSession::new("task-1", StreamPolicy::default().jitter(false));
//! let t0 = Instant::now();
//! let event = |id: u32, kind: &str| format!(
//!     "id: {id}\ndata: {{\"type\":\"{kind}\",\"task_id\":\"task-1\",\"organization_id\":\"o\",\
//!      \"time\":\"2025-06-01T12:00:00Z\",\"data\":null}}\n\n"
//! );
//!
//! // First connection: one event, then the server drops the connection.
//! assert_eq!(session.request_headers().len(), 2); // no id yet
//! assert!(matches!(session.on_open(200, Some("text/event-stream"), t0), Opened::Stream));
//! session.feed(event(1, "task_updated").as_bytes());
//! assert!(matches!(session.next_item(), Some(SessionItem::Event(e)) if e.id.as_deref() == Some("1")));
//! assert!(session.next_item().is_none());
//! let step = session.on_disconnect(Disconnect::Eof, t0 + Duration::from_secs(1));
//! assert_eq!(step, NextStep::Reconnect { after: Duration::from_millis(500) });
//!
//! // The reconnect resumes after event 1; a replay of it is not delivered twice.
//! assert_eq!(session.last_event_id(), Some("1"));
//! let t1 = t0 + Duration::from_secs(2);
//! assert!(matches!(session.on_open(200, Some("text/event-stream; charset=utf-8"), t1), Opened::Stream));
//! session.feed(format!("{}: keep-alive\n{}", event(1, "task_updated"), event(2, "task_finished")).as_bytes());
//! assert!(matches!(session.next_item(), Some(SessionItem::Event(e)) if e.is_finished()));
//! assert!(session.next_item().is_none());
//! assert!(session.is_done());
//! assert_eq!(session.on_disconnect(Disconnect::Eof, t1), NextStep::Done);
//! ```
//!
//! # Reconnecting
//!
//! The rules follow LaunchDarkly's eventsource clients (Rust, Go, Ruby) and
//! the WHATWG reconnection rules, with a bound on the attempts:
//!
//! - Every reconnect sends the last event ID seen (`Last-Event-ID`), so a
//!   server that keeps its events can resume after it. A server that
//!   replays events anyway is caught: an event whose id and data are those
//!   of one already delivered is dropped (a bounded memory of fingerprints,
//!   [`StreamPolicy::max_remembered_ids`]).
//! - Every server hint has a floor: [`StreamPolicy::initial_delay`]. The
//!   server's `retry:` hint may raise the base of the backoff above it,
//!   never lower it (a `retry: 0` from a broken proxy does not make a
//!   flood); a `Retry-After` may lengthen one wait, never shorten it. Every
//!   hint is held to [`StreamPolicy::max_delay`].
//! - The delay doubles from the base for each failure in a row, up to
//!   [`StreamPolicy::max_delay`], with jitter: a uniform draw between the
//!   delay and twice it (never above the maximum, never below the base), so
//!   clients dropped together do not come back together, yet none comes
//!   back sooner than the floor.
//! - The backoff starts again from the base only after a connection stayed
//!   up for [`StreamPolicy::reset_after`] (60 s by default, as LaunchDarkly's
//!   clients): a handshake, or events, on a connection that breaks sooner do
//!   not reset it. The task event stream and the agent worker's stream share
//!   this one backoff.
//! - The count of failed attempts that [`StreamPolicy::max_reconnects`]
//!   bounds goes back to zero when the connection that just broke was
//!   healthy: it stayed up for [`StreamPolicy::reset_after`], or it
//!   delivered an event that was not seen before (other than the
//!   `connected` handshake). After `max_reconnects` failed reconnects in a
//!   row the session gives up with the last failure.
//! - An error status is not retried, except 429, 502, 503 and 504 (with
//!   their `Retry-After`, in seconds or as an HTTP date, when the server
//!   gives one); 204 ends
//!   the stream (the WHATWG rule for "no more events"); a 2xx that is not
//!   `text/event-stream` is an error.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use super::retry::{Backoff, Jitter};
use super::sse::{SseDecoder, SseError, SseEvent, SseLimits};
use crate::error::{DecodeError, Error, TransportError, TransportErrorKind};
use crate::model::{TaskEvent, TaskEventType};
use http::HeaderValue;

/// How an [`EventSession`] reads, reconnects and stops.
///
/// Plain data: build it with [`StreamPolicy::default`] and its
/// setters.
///
/// ```
/// use std::time::Duration;
/// use xpander_sdk::sans_io::stream::StreamPolicy;
///
/// let policy = StreamPolicy::default()
///     .idle_timeout(Duration::from_secs(90))
///     .max_reconnects(10)
///     .stop_at_finish(false);
/// assert_eq!(policy.max_delay, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamPolicy {
    /// No byte at all (not even a keep-alive comment) for this long means
    /// the connection is dead: the transport drops it and reports
    /// [`Disconnect::IdleTimeout`]. Set it to two or three times the
    /// server's keep-alive interval. Default: 45 s.
    pub idle_timeout: Duration,
    /// The most a transport waits for a connection and the answer's head.
    /// Default: 10 s.
    pub connect_timeout: Duration,
    /// Failed reconnects in a row before the session gives up (0: never
    /// reconnect). Default: 5.
    pub max_reconnects: u32,
    /// The delay before the first reconnect, doubled for each further
    /// failure in a row. It is also the floor of every wait: no server hint
    /// (`retry:`, `Retry-After`) makes a wait shorter. Default: 500 ms.
    pub initial_delay: Duration,
    /// The longest delay between two attempts (never below
    /// [`initial_delay`](Self::initial_delay), at most a day); a `retry:`
    /// hint above it is held to it; a `Retry-After` longer than this makes
    /// the session give up (a [`persistent`](Self::persistent) one waits
    /// `max_delay`). Default: 30 s.
    pub max_delay: Duration,
    /// A connection that stayed up this long counts as healthy: its
    /// failure starts a new count, and the backoff starts again from the
    /// base. One that breaks sooner does not reset the backoff, whatever it
    /// brought (a handshake, events). Default: 60 s.
    pub reset_after: Duration,
    /// Whether each delay is drawn between the delay and twice it (never
    /// above [`max_delay`](Self::max_delay), never below the base). Without
    /// jitter, each wait is the delay itself. Default: true.
    pub jitter: bool,
    /// Whether the stream ends after the `task_finished` event (true), or
    /// goes on until the server closes it (false; the official client's
    /// behaviour). Either way, a connection that ends after `task_finished`
    /// is not reconnected. Default: true.
    pub stop_at_finish: bool,
    /// The decoder's limits on a line and an event: what bounds the memory
    /// of an endless stream. Default: [`SseLimits::DEFAULT`].
    pub limits: SseLimits,
    /// How many delivered events are remembered to drop their replays
    /// (16 bytes each, whatever the size of the event). Default: 1024.
    pub max_remembered_ids: usize,
    /// A stream that must stay up (the agent worker's stream): the session
    /// never gives up on its own. Every failure is tried again after the
    /// backoff, whatever it is: any error status, a 2xx that is not an
    /// event stream, a 204; a `Retry-After` longer than
    /// [`max_delay`](Self::max_delay) waits `max_delay`; and
    /// [`max_reconnects`](Self::max_reconnects) does not apply. The driver
    /// decides when to stop (with [`EventSession::stop`]). Default: false.
    pub persistent: bool,
}

impl Default for StreamPolicy {
    fn default() -> StreamPolicy {
        StreamPolicy {
            idle_timeout: Duration::from_secs(45),
            connect_timeout: Duration::from_secs(10),
            max_reconnects: 5,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
            jitter: true,
            stop_at_finish: true,
            limits: SseLimits::DEFAULT,
            max_remembered_ids: 1024,
            persistent: false,
        }
    }
}

impl StreamPolicy {
    crate::params::setters! {
        fields {
            idle_timeout: Duration,
            connect_timeout: Duration,
            max_reconnects: u32,
            initial_delay: Duration,
            max_delay: Duration,
            reset_after: Duration,
            jitter: bool,
            stop_at_finish: bool,
            limits: SseLimits,
            max_remembered_ids: usize,
            persistent: bool,
        }
    }
}

/// What to do with an answer, as [`EventSession::on_open`] decides.
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum Opened {
    /// A 2xx `text/event-stream`: read the body, feeding every chunk to
    /// [`EventSession::feed`].
    Stream,
    /// An error status: read at most
    /// [`MAX_ERROR_BODY_BYTES`](super::MAX_ERROR_BODY_BYTES) of the body,
    /// make the [`ApiError`](crate::ApiError) of it, and hand it to
    /// [`EventSession::on_disconnect`] as [`Disconnect::Error`]; the session
    /// decides whether to try again.
    ReadError,
    /// Nothing to read: close the connection and do this. A 204 is
    /// [`NextStep::Done`]; a 2xx of another content type is
    /// [`NextStep::GiveUp`].
    Then(NextStep),
}

/// Why a connection (or a connection attempt) is over.
#[derive(Debug)]
#[non_exhaustive]
pub enum Disconnect {
    /// The body ended.
    Eof,
    /// No byte came for [`StreamPolicy::idle_timeout`].
    IdleTimeout,
    /// The transport failed (connecting or reading), or the server answered
    /// an error status ([`Error::Api`], after [`Opened::ReadError`]).
    Error(Error),
}

/// What comes after a connection, as [`EventSession::on_disconnect`]
/// decides.
#[derive(Debug)]
#[non_exhaustive]
pub enum NextStep {
    /// Wait this long, then connect again with
    /// [`EventSession::request_headers`].
    Reconnect {
        /// The delay before the next attempt.
        after: Duration,
    },
    /// The stream is over: the task finished, the server said there is no
    /// more (204), or [`EventSession::stop`] was called.
    Done,
    /// The stream cannot go on: return this error. After
    /// [`StreamPolicy::max_reconnects`] failures in a row it is the last
    /// failure, with the attempt count ([`Error::attempts`]).
    GiveUp(Error),
}

impl PartialEq for NextStep {
    /// Steps compare by kind and delay; two [`NextStep::GiveUp`] are equal
    /// when their errors read the same.
    fn eq(&self, other: &NextStep) -> bool {
        match (self, other) {
            (NextStep::Reconnect { after: a }, NextStep::Reconnect { after: b }) => a == b,
            (NextStep::Done, NextStep::Done) => true,
            (NextStep::GiveUp(a), NextStep::GiveUp(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// One item taken from an [`EventSession`].
// Returned and moved on at once, never stored in bulk: boxing the event
// would add an allocation per event and save no memory.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum SessionItem {
    /// An event of the task's stream, typed.
    Event(TaskEvent),
    /// A malformed event was dropped (not JSON, no `type`, over a decoder
    /// limit). The stream goes on; log the reason as a warning. The reason
    /// never quotes the event's data.
    Skipped {
        /// Why it was dropped.
        reason: String,
    },
}

impl fmt::Debug for SessionItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The kind and the ids, never the payload: auth events carry tokens.
        match self {
            SessionItem::Event(event) => f
                .debug_struct("Event")
                .field("kind", &event.kind)
                .field("id", &event.id)
                .field("task_id", &event.task_id)
                .finish_non_exhaustive(),
            SessionItem::Skipped { reason } => {
                f.debug_struct("Skipped").field("reason", reason).finish()
            }
        }
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not connected: before the first connect, or between two.
    Idle,
    /// An error status came; its [`ApiError`](crate::ApiError) is awaited.
    Rejected,
    /// Reading a stream opened at this time.
    Open(Instant),
    /// Over: finished, stopped, or given up.
    Ended,
}

/// The longest `last-event-id` sent: a longer id is not resumed from (the
/// server replays from where it likes, and the replays are dropped).
pub const MAX_LAST_EVENT_ID_BYTES: usize = 1024;

/// Follows one task's event stream across connections. See the
/// [module documentation](self) for how a transport drives it.
///
/// Its `Debug` output shows the state and sizes, never event data.
pub struct EventSession {
    task_id: String,
    policy: StreamPolicy,
    decoder: SseDecoder,
    state: State,
    /// The connection open now delivered a new event (not `connected`).
    progress: bool,
    /// What the next connect sends as `last-event-id`.
    last_event_id: Option<String>,
    /// The decoder's last event ID as last looked at (this connection).
    observed_id: Option<String>,
    /// The id of the event before, on this connection.
    previous_event_id: Option<String>,
    seen: Fingerprints,
    /// Failed attempts in a row since the last healthy connection (the
    /// count [`StreamPolicy::max_reconnects`] bounds).
    failures: u32,
    /// The waits between connections (its own count, reset only by a
    /// connection that stayed up).
    backoff: Backoff,
    /// `task_finished` was delivered.
    finished: bool,
    delivered: u64,
    replayed: u64,
    skipped: u64,
}

impl EventSession {
    /// A session for the stream of `task_id`, not connected yet.
    pub fn new(task_id: impl Into<String>, policy: StreamPolicy) -> EventSession {
        let policy = crate::sans_io::duration::clamp_stream(policy);
        let jitter = policy.jitter.then_some(Jitter::Ahead);
        let backoff = Backoff::new(policy.initial_delay, policy.max_delay, jitter)
            .reset_after(policy.reset_after);
        EventSession {
            task_id: task_id.into(),
            backoff,
            decoder: SseDecoder::with_limits(policy.limits),
            seen: Fingerprints::new(policy.max_remembered_ids),
            policy,
            state: State::Idle,
            progress: false,
            last_event_id: None,
            observed_id: None,
            previous_event_id: None,
            failures: 0,
            finished: false,
            delivered: 0,
            replayed: 0,
            skipped: 0,
        }
    }

    /// Starts from this last event ID: the first connect sends it, so the
    /// server resumes after it. An id that cannot be sent (longer than
    /// [`MAX_LAST_EVENT_ID_BYTES`], or holding a control character) is
    /// ignored.
    ///
    /// ```
    /// use xpander_sdk::sans_io::stream::{EventSession, StreamPolicy};
    ///
    /// let session = EventSession::new("task-1", StreamPolicy::default()).with_last_event_id("41");
    /// let headers = session.request_headers();
    /// assert!(headers.iter().any(|(n, v)| *n == "last-event-id" && v == "41"));
    /// ```
    #[must_use]
    pub fn with_last_event_id(mut self, id: impl Into<String>) -> EventSession {
        let id = id.into();
        self.last_event_id = is_sendable(&id).then_some(id);
        self
    }

    /// The task whose stream this is.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The policy.
    pub fn policy(&self) -> &StreamPolicy {
        &self.policy
    }

    /// What the next connect sends as `Last-Event-ID`: the latest event ID
    /// the server gave, on any connection so far (or the one given to
    /// [`with_last_event_id`](Self::with_last_event_id)). `None` before any,
    /// after the server cleared it with an empty `id`, or when the latest
    /// cannot be sent (see [`MAX_LAST_EVENT_ID_BYTES`]).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The latest reconnection time the server asked for with `retry:`.
    pub fn server_retry(&self) -> Option<Duration> {
        self.backoff.hint()
    }

    /// The headers a (re)connect sends besides the credentials:
    /// `accept: text/event-stream`, `cache-control: no-store` and, when
    /// known, `last-event-id`.
    pub fn request_headers(&self) -> Vec<(&'static str, HeaderValue)> {
        let mut headers = vec![
            ("accept", HeaderValue::from_static("text/event-stream")),
            ("cache-control", HeaderValue::from_static("no-store")),
        ];
        // Stored only when sendable.
        if let Some(id) = self
            .last_event_id
            .as_deref()
            .and_then(|id| crate::headers::value("last-event-id", id).ok())
        {
            headers.push(("last-event-id", id));
        }
        headers
    }

    /// An answer's head arrived: its status and `content-type`. Says whether
    /// to read the body as the stream, read it as an error, or stop.
    pub fn on_open(&mut self, status: u16, content_type: Option<&str>, now: Instant) -> Opened {
        if self.state == State::Ended {
            return Opened::Then(NextStep::Done);
        }
        if !(200..=299).contains(&status) {
            self.state = State::Rejected;
            return Opened::ReadError;
        }
        if status != 204 && content_type.is_some_and(is_event_stream) {
            self.decoder = SseDecoder::with_limits(self.policy.limits);
            self.observed_id = None;
            self.previous_event_id = None;
            self.progress = false;
            self.state = State::Open(now);
            self.backoff.connected(now);
            return Opened::Stream;
        }
        // Nothing to read: a 204, or a 2xx of another content type.
        let error = if status == 204 {
            transport(
                TransportErrorKind::Disconnected,
                "the server answered 204 (no content) to the event stream".to_owned(),
            )
        } else {
            not_an_event_stream(status, content_type)
        };
        if self.policy.persistent {
            // A failed attempt, tried again.
            self.state = State::Idle;
            return Opened::Then(self.on_disconnect(Disconnect::Error(error), now));
        }
        self.state = State::Ended;
        Opened::Then(if status == 204 {
            NextStep::Done
        } else {
            NextStep::GiveUp(error)
        })
    }

    /// Hands over the next bytes of the body. Nothing is decoded until
    /// [`next_item`](Self::next_item) is called. Bytes fed while no stream is
    /// open, or after the session ended, are ignored.
    pub fn feed(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::Open(_)) {
            self.decoder.feed(bytes);
        }
    }

    /// The next item of the bytes fed so far: an event, or a skipped
    /// malformed one. `None` when they hold no more complete event, or when
    /// the session ended (after `task_finished` with
    /// [`StreamPolicy::stop_at_finish`], the events after it are dropped).
    ///
    /// An event whose id is new on this connection, but whose id and data
    /// are those of an event already delivered, is a replay and is dropped
    /// (see [`replayed`](Self::replayed)). An event with empty data is
    /// dropped silently.
    pub fn next_item(&mut self) -> Option<SessionItem> {
        loop {
            let event = match self.next_event()? {
                Ok(event) => event,
                Err(error) => {
                    return Some(SessionItem::Skipped {
                        reason: error.to_string(),
                    })
                }
            };
            if event.data().trim().is_empty() {
                continue;
            }
            match TaskEvent::from_json(event.data(), event.id()) {
                Ok(task_event) => return Some(self.deliver(task_event)),
                Err(error) => {
                    self.skipped = self.skipped.saturating_add(1);
                    return Some(SessionItem::Skipped {
                        reason: skip_reason(&error, event.id()),
                    });
                }
            }
        }
    }

    /// The next event of the bytes fed so far as the decoder gives it (name,
    /// data, id), for a stream whose events are not task events (the agent
    /// worker's stream); [`next_item`](Self::next_item) types them instead.
    /// Replays are dropped as `next_item` drops them; an event with empty
    /// data is given. An `Err` is an event dropped by the decoder (over a
    /// limit), counted in [`skipped`](Self::skipped). Nothing here counts
    /// as progress: call [`mark_progress`](Self::mark_progress) for an event
    /// that shows the connection healthy.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        loop {
            if !matches!(self.state, State::Open(_)) {
                return None;
            }
            let item = self.decoder.next_event();
            self.observe_decoder();
            let event = match item? {
                Ok(event) => event,
                Err(error) => {
                    self.skipped = self.skipped.saturating_add(1);
                    return Some(Err(error));
                }
            };
            // An id the event brought (not one inherited from the event
            // before) makes the event one that a server may replay.
            let fresh_id = match event.id() {
                Some(id) if self.previous_event_id.as_deref() != Some(id) => {
                    self.previous_event_id = Some(id.to_owned());
                    Some(id)
                }
                _ => None,
            };
            if let Some(id) = fresh_id {
                if !self.seen.insert(self.seen.fingerprint(id, event.data())) {
                    self.replayed = self.replayed.saturating_add(1);
                    continue;
                }
            }
            return Some(Ok(event));
        }
    }

    /// Marks the connection open now as healthy (it delivered something
    /// new): when it breaks, the count of failed attempts starts again.
    /// [`next_item`](Self::next_item) does this itself for every event but
    /// `connected`.
    pub fn mark_progress(&mut self) {
        if matches!(self.state, State::Open(_)) {
            self.progress = true;
        }
    }

    /// The connection (or the attempt) is over. Says whether to reconnect,
    /// and after how long; or that the stream is done; or that it gives up.
    ///
    /// Call it after taking every item of the bytes fed. The end of the
    /// body or a broken connection after `task_finished` is
    /// [`NextStep::Done`]; before it, a failure that counts towards
    /// [`StreamPolicy::max_reconnects`] (unless the connection was healthy,
    /// see the [module documentation](self)). A transport error or a 429,
    /// 502, 503 or 504 is tried again; any other error status, or an error
    /// of another kind, gives up at once.
    pub fn on_disconnect(&mut self, why: Disconnect, now: Instant) -> NextStep {
        if self.state == State::Ended || self.finished {
            self.state = State::Ended;
            return NextStep::Done;
        }
        let healthy = match self.state {
            State::Open(since) => {
                self.progress || now.saturating_duration_since(since) >= self.policy.reset_after
            }
            _ => false,
        };
        self.state = State::Idle;
        self.progress = false;
        self.decoder = SseDecoder::with_limits(self.policy.limits);
        if healthy {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        let (cause, retry_after) = match why {
            Disconnect::Eof => (
                transport(
                    TransportErrorKind::Disconnected,
                    "the server ended the event stream before `task_finished`".to_owned(),
                ),
                None,
            ),
            Disconnect::IdleTimeout => (
                transport(
                    TransportErrorKind::Timeout,
                    format!(
                        "no byte on the event stream for {:?} (the idle timeout)",
                        self.policy.idle_timeout
                    ),
                ),
                None,
            ),
            Disconnect::Error(Error::Api(api)) if api.is_retryable() || self.policy.persistent => {
                let retry_after = api.retry_after.clone();
                (Error::Api(api), retry_after)
            }
            // A refused certificate: no reconnect can fix it (a persistent
            // stream still tries, slowly: a certificate may be renewed).
            Disconnect::Error(Error::Transport(t))
                if t.is_tls_refusal() && !self.policy.persistent =>
            {
                return self.give_up(Error::Transport(t))
            }
            Disconnect::Error(error @ Error::Transport(_)) => (error, None),
            Disconnect::Error(error) if self.policy.persistent => (error, None),
            Disconnect::Error(error) => return self.give_up(error),
        };
        let persistent = self.policy.persistent;
        if !persistent && self.failures > self.policy.max_reconnects {
            return self.give_up(cause);
        }
        // A hint lengthens the wait, never shortens it below the backoff;
        // `None`: the server asks for more patience than the policy has.
        let patience = (!persistent).then_some(self.policy.max_delay);
        match self.backoff.after(now, retry_after.as_deref(), patience) {
            Some(after) => NextStep::Reconnect { after },
            None => self.give_up(cause),
        }
    }

    /// Ends the session: [`next_item`](Self::next_item) gives nothing more
    /// and [`on_disconnect`](Self::on_disconnect) answers
    /// [`NextStep::Done`].
    pub fn stop(&mut self) {
        self.state = State::Ended;
    }

    /// True once the session ended: the task finished (with
    /// [`StreamPolicy::stop_at_finish`]), the server answered 204, the
    /// session gave up, or [`stop`](Self::stop) was called.
    pub fn is_done(&self) -> bool {
        self.state == State::Ended
    }

    /// True once `task_finished` was delivered.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Failed attempts in a row so far (0 after a healthy connection).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Events delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Replayed events dropped so far.
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// Malformed events skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The bytes the session holds besides its fixed size: the decoder's
    /// (undecoded input and the event being built, each bounded by
    /// [`StreamPolicy::limits`]) and the remembered event fingerprints
    /// (bounded by [`StreamPolicy::max_remembered_ids`]).
    pub fn buffered_bytes(&self) -> usize {
        self.decoder
            .buffered_bytes()
            .saturating_add(self.seen.bytes())
    }

    /// Delivers an event: remembers progress and the finish.
    fn deliver(&mut self, event: TaskEvent) -> SessionItem {
        self.delivered = self.delivered.saturating_add(1);
        if event.kind != TaskEventType::Connected {
            self.progress = true;
        }
        if event.is_finished() {
            self.finished = true;
            if self.policy.stop_at_finish {
                self.state = State::Ended;
            }
        }
        SessionItem::Event(event)
    }

    /// Takes the decoder's last event ID and `retry` hint, when they changed.
    fn observe_decoder(&mut self) {
        if let Some(retry) = self.decoder.retry() {
            self.backoff.set_hint(retry);
        }
        let id = self.decoder.last_event_id();
        if id != self.observed_id.as_deref() {
            self.observed_id = id.map(str::to_owned);
            self.last_event_id = id.filter(|id| is_sendable(id)).map(str::to_owned);
        }
    }

    /// Ends the session with `error`, its attempt count filled in.
    fn give_up(&mut self, error: Error) -> NextStep {
        self.state = State::Ended;
        let attempts = self.failures.max(1);
        let error = match error {
            Error::Transport(mut t) => {
                t.message = format!(
                    "gave up on the event stream of task `{}` (max_reconnects = {}); the last failure: {}",
                    self.task_id, self.policy.max_reconnects, t.message
                );
                Error::Transport(t)
            }
            other => other,
        };
        NextStep::GiveUp(error.with_attempts(attempts))
    }
}

impl fmt::Debug for EventSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // State and sizes only: the bytes held may carry tokens.
        f.debug_struct("EventSession")
            .field("task_id", &self.task_id)
            .field("state", &self.state)
            .field("last_event_id", &self.last_event_id)
            .field("server_retry", &self.server_retry())
            .field("failures", &self.failures)
            .field("finished", &self.finished)
            .field("delivered", &self.delivered)
            .field("replayed", &self.replayed)
            .field("skipped", &self.skipped)
            .field("buffered_bytes", &self.buffered_bytes())
            .finish_non_exhaustive()
    }
}

/// A bounded memory of delivered events: 128-bit keyed fingerprints of
/// their id and data, the oldest forgotten first. Fixed-size entries keep
/// the memory bounded whatever the size of ids and events.
struct Fingerprints {
    keys: RandomState,
    order: VecDeque<u128>,
    set: HashSet<u128>,
    capacity: usize,
}

impl Fingerprints {
    fn new(capacity: usize) -> Fingerprints {
        Fingerprints {
            keys: RandomState::new(),
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity,
        }
    }

    fn fingerprint(&self, id: &str, data: &str) -> u128 {
        let half = |salt: u8| u128::from(self.keys.hash_one((salt, id, data)));
        (half(0) << 64) | half(1)
    }

    /// Remembers a fingerprint; false when it was already there.
    fn insert(&mut self, fingerprint: u128) -> bool {
        if self.capacity == 0 {
            return true;
        }
        if !self.set.insert(fingerprint) {
            return false;
        }
        self.order.push_back(fingerprint);
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
        true
    }

    fn bytes(&self) -> usize {
        self.order.len().saturating_mul(std::mem::size_of::<u128>())
    }
}

/// `text/event-stream`, parameters and case aside.
pub(crate) fn is_event_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case("text/event-stream")
}

/// What is wrong with an event's JSON, read as `expected`, without quoting
/// its data (serde's messages for a wrong type do; a missing field's do not).
pub(crate) fn json_problem(error: &serde_json::Error, expected: &str) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", error.line(), error.column());
    match error.classify() {
        Category::Syntax => format!("not JSON (a syntax error at {at})"),
        Category::Eof => format!("not JSON (it ends early, at {at})"),
        Category::Data => {
            let message = error.to_string();
            if message.starts_with("missing field") || message.starts_with("the event's `type`") {
                format!("not {expected}: {message}")
            } else {
                format!("not {expected} (a value of the wrong type at {at})")
            }
        }
        Category::Io => format!("unreadable ({at})"),
    }
}

/// An id that can go in a `last-event-id` header: not too long, and a
/// header value by the one function `request_headers` builds it
/// with (what is stored is what is sent, whatever `http` version resolves).
fn is_sendable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LAST_EVENT_ID_BYTES
        && crate::headers::value("last-event-id", id).is_ok()
}

fn transport(kind: TransportErrorKind, message: String) -> Error {
    Error::Transport(TransportError::new(kind, message, None))
}

/// The error of a 2xx answer that is not an event stream.
fn not_an_event_stream(status: u16, content_type: Option<&str>) -> Error {
    let got = match content_type {
        // Bounded, and quoted with escapes: it comes from the network.
        Some(value) => format!("{:?}", value.chars().take(100).collect::<String>()),
        None => "none".to_owned(),
    };
    Error::Decode(DecodeError {
        status,
        expected: "an event stream (`text/event-stream`)",
        snippet: String::new(),
        source: <serde_json::Error as serde::de::Error>::custom(format!(
            "the answer's content type is {got}, not `text/event-stream`"
        )),
    })
}

/// Why an event's JSON was refused, without quoting its data (serde's
/// messages for a wrong type do).
fn skip_reason(error: &serde_json::Error, id: Option<&str>) -> String {
    let what = json_problem(error, "a task event");
    match id {
        Some(id) => format!("event {id:?} dropped: {what}"),
        None => format!("an event dropped: {what}"),
    }
}

#[cfg(test)]
mod tests;
