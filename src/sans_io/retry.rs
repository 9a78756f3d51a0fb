//! Whether and when to try a request again, and how long each attempt may
//! take. No I/O: the transports only sleep for the time decided here and
//! send the same request again.
//!
//! The rules it applies (which failures, for which operations, the backoff,
//! `Retry-After` and the deadline) are stated once, on [`RetryPolicy`].

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::time::{Duration, Instant, SystemTime};

use super::{HttpResponse, Operation};
use crate::config::{Config, RetryPolicy};
use crate::error::{Error, TransportError, TransportErrorKind};
use crate::options::CallOptions;

/// What to do after an attempt.
#[derive(Debug)]
pub(crate) enum Step {
    /// Stop: this is the call's outcome (attempt count filled in).
    Done(Result<HttpResponse, Error>),
    /// Wait this long, then send the same request again.
    Retry(Duration),
}

/// Why an attempt is retried (for tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The server answered with this status (429, 502, 503, 504).
    Status(u16),
    /// The transport failed this way.
    Transport(TransportErrorKind),
}

/// The retry state of one logical call.
#[derive(Debug)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    backoff: Backoff,
    idempotent: bool,
    attempt: u32,
    /// The per-attempt timeout the transport applies by itself.
    configured_timeout: Duration,
    /// The per-attempt timeout of this call.
    timeout: Duration,
    /// When the whole call must be over, and its length (for messages).
    deadline: Option<(Instant, Duration)>,
    reason: Option<Reason>,
}

impl Retrier {
    /// The retry state of a call of `operation` under `config`, with the
    /// call's `options` (if any) overriding it. The deadline starts now.
    pub(crate) fn new(
        config: &Config,
        operation: Operation,
        options: Option<&CallOptions>,
    ) -> Retrier {
        let policy = options
            .and_then(CallOptions::retry_value)
            .unwrap_or(config.retry);
        let timeout = options
            .and_then(CallOptions::timeout_value)
            .unwrap_or(config.timeouts.request);
        let deadline = options
            .and_then(CallOptions::deadline_value)
            .or(config.deadline)
            .map(|d| (Instant::now().checked_add(d), d));
        let jitter = policy.jitter.then_some(Jitter::Full);
        Retrier {
            backoff: Backoff::new(policy.base_backoff, policy.max_backoff, jitter).exact_hints(),
            policy,
            idempotent: operation.is_idempotent(),
            attempt: 0,
            configured_timeout: config.timeouts.request,
            timeout,
            // A deadline too far to represent is no deadline.
            deadline: deadline.and_then(|(at, d)| Some((at?, d))),
            reason: None,
        }
    }

    /// The number of attempts made so far.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Why the last [`Step::Retry`] was decided.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn reason(&self) -> Option<Reason> {
        self.reason
    }

    /// Before an attempt: its timeout when it differs from the one the
    /// transport applies by itself (`None`: the transport's own), or the
    /// timeout error when the deadline has already passed.
    pub(crate) fn attempt_timeout(&self) -> Result<Option<Duration>, Error> {
        let now = self.deadline.map(|_| Instant::now());
        self.attempt_timeout_at(now)
    }

    fn attempt_timeout_at(&self, now: Option<Instant>) -> Result<Option<Duration>, Error> {
        let mut timeout = self.timeout;
        if let (Some((at, length)), Some(now)) = (self.deadline, now) {
            let left = at.saturating_duration_since(now);
            if left.is_zero() {
                return Err(Error::Transport(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("the call's deadline of {length:?} passed"),
                    None,
                ))
                .with_attempts(self.attempt));
            }
            timeout = timeout.min(left);
        }
        Ok((timeout != self.configured_timeout).then_some(timeout))
    }

    /// Records the outcome of one attempt and decides what comes next.
    pub(crate) fn step(&mut self, outcome: Result<HttpResponse, Error>) -> Step {
        let now = self.deadline.map(|_| Instant::now());
        self.step_at(outcome, now)
    }

    fn step_at(&mut self, outcome: Result<HttpResponse, Error>, now: Option<Instant>) -> Step {
        self.attempt = self.attempt.saturating_add(1);
        let attempts = self.attempt;
        let more = attempts < self.policy.max_attempts.max(1);
        match outcome {
            Ok(mut response) => {
                response.extensions_mut().insert(super::Attempts(attempts));
                let status = response.status().as_u16();
                let retryable = match status {
                    // Throttled: the request was not processed.
                    429 => true,
                    502..=504 => self.idempotent,
                    _ => false,
                };
                if !(more && retryable) {
                    return Step::Done(Ok(response));
                }
                // `None`: the server asks for more patience than we have.
                let retry_after = response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok());
                let patience = Some(self.policy.max_retry_after);
                let clock = now.unwrap_or_else(Instant::now);
                match self.backoff.after(clock, retry_after, patience) {
                    Some(wait) if self.fits(wait, now) => {
                        self.reason = Some(Reason::Status(status));
                        Step::Retry(wait)
                    }
                    _ => Step::Done(Ok(response)),
                }
            }
            Err(error) => {
                let retry = match &error {
                    // A refused certificate: no retry can fix it.
                    Error::Transport(t) if !t.is_tls_refusal() => match t.kind {
                        // Nothing reached the server: safe for every operation.
                        TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout => true,
                        // The request may have been processed.
                        TransportErrorKind::Disconnected => self.idempotent,
                        // The timeout is the caller's budget for an attempt;
                        // a malformed answer would come back the same.
                        _ => false,
                    },
                    _ => false,
                };
                if more && retry {
                    let wait = self.backoff.next();
                    if self.fits(wait, now) {
                        if let Error::Transport(t) = &error {
                            self.reason = Some(Reason::Transport(t.kind));
                        }
                        return Step::Retry(wait);
                    }
                }
                Step::Done(Err(error.with_attempts(attempts)))
            }
        }
    }

    /// True when waiting `wait` from `now` still leaves time before the deadline.
    fn fits(&self, wait: Duration, now: Option<Instant>) -> bool {
        match (self.deadline, now) {
            (Some((at, _)), Some(now)) => now.checked_add(wait).is_some_and(|then| then < at),
            _ => true,
        }
    }
}

/// The longest wait a [`Backoff`] ever answers, whatever its policy and the
/// server's hints say: a day. It keeps every `now + wait` representable
/// (an overflow must never turn into "try again at once").
pub(crate) const MAX_BACKOFF_WAIT: Duration = Duration::from_secs(24 * 3600);

/// How a [`Backoff`] spreads its waits around the nominal one, so that
/// clients that failed together do not come back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    /// "Full jitter": uniform between zero and the nominal wait (request
    /// retries).
    Full,
    /// "Equal jitter": uniform between half the nominal wait and all of it
    /// (polls, the worker's final saves).
    Equal,
    /// Equal jitter on the next failure's nominal wait, never below the
    /// base: between the nominal wait and twice it, once capped between
    /// half the cap and the cap (streams, as LaunchDarkly's eventsource
    /// clients draw).
    Ahead,
}

/// The one backoff of the crate, sans-IO (the caller passes the time in):
/// request retries, both event streams, the wait's polls and the worker's
/// final saves.
///
/// - The nominal wait of the `n`-th failure in a row is the base multiplied
///   `n - 1` times by the factor (2 unless set), at most the cap: `max`,
///   never below `initial`, at most [`MAX_BACKOFF_WAIT`]. The draw spreads
///   it by the [`Jitter`].
/// - The base is `initial`, or a `retry:` hint ([`Backoff::set_hint`]) when
///   it is longer (held to the cap): a hint may raise it, never lower it.
/// - A `Retry-After` ([`Backoff::after`], the one place it is read) beyond
///   the caller's patience means giving up; within it, it lengthens the wait
///   up to the cap, never shortens it, or with
///   [`exact_hints`](Backoff::exact_hints) stands for the wait (the server
///   said when), at most [`MAX_BACKOFF_WAIT`].
/// - The count goes back to zero on [`Backoff::reset`], or when a connection
///   stayed up for `reset_after` ([`Backoff::connected`] then
///   [`Backoff::next_wait`]); a handshake, or events, on a connection that
///   breaks sooner do not reset it (a proxy that cuts every connection
///   after its first bytes must not get a reconnect at the base delay each
///   time).
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    /// `None`: each wait is the nominal one.
    jitter: Option<Jitter>,
    factor: f64,
    reset_after: Duration,
    exact_hints: bool,
    /// The server's `retry:` hint, as given (held to the bounds when used).
    hint: Option<Duration>,
    /// Failed attempts in a row since the last reset.
    failures: u32,
    /// When the connection open now came up.
    up_since: Option<Instant>,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A doubling backoff with no failure yet, reset only by
    /// [`reset`](Self::reset).
    pub(crate) fn new(initial: Duration, max: Duration, jitter: Option<Jitter>) -> Backoff {
        Backoff {
            initial,
            max,
            factor: 2.0,
            reset_after: Duration::MAX,
            jitter,
            exact_hints: false,
            hint: None,
            failures: 0,
            up_since: None,
            rng: fastrand::Rng::new(),
        }
    }

    /// Multiplies each wait by `factor` (below 1, or not a number: 1).
    pub(crate) fn factor(mut self, factor: f64) -> Backoff {
        self.factor = factor;
        self
    }

    /// A connection that stayed up `reset_after` resets the count.
    pub(crate) fn reset_after(mut self, reset_after: Duration) -> Backoff {
        self.reset_after = reset_after;
        self
    }

    /// A `Retry-After` within the patience is the wait itself.
    pub(crate) fn exact_hints(mut self) -> Backoff {
        self.exact_hints = true;
        self
    }

    /// Seeds the jitter (reproducible runs, tests).
    pub(crate) fn with_seed(mut self, seed: u64) -> Backoff {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }

    /// The longest wait: `max`, never below `initial`, at most
    /// [`MAX_BACKOFF_WAIT`].
    fn cap(&self) -> Duration {
        self.max.max(self.initial).min(MAX_BACKOFF_WAIT)
    }

    /// The base of the growth, and the floor of every [`Jitter::Ahead`]
    /// wait: the initial delay, or the server's `retry:` hint when it is
    /// longer (both held to the cap).
    pub(crate) fn base(&self) -> Duration {
        let floor = self.initial;
        self.hint
            .map_or(floor, |hint| hint.max(floor))
            .min(self.cap())
    }

    /// The server's `retry:` hint: it replaces the one before, and applies
    /// from the next wait on.
    pub(crate) fn set_hint(&mut self, hint: Duration) {
        self.hint = Some(hint);
    }

    /// The server's latest `retry:` hint, as given.
    pub(crate) fn hint(&self) -> Option<Duration> {
        self.hint
    }

    /// A connection came up at `now` (the stream opened).
    pub(crate) fn connected(&mut self, now: Instant) {
        self.up_since = Some(now);
    }

    /// Starts a new count: the next wait is the first one again.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failed attempts in a row counted now (0 after a reset).
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// The nominal wait of the `failures`-th failure in a row.
    fn nominal(&self, failures: u32) -> Duration {
        let (base, cap) = (self.base(), self.cap());
        if base.is_zero() {
            return base;
        }
        let exponent = i32::try_from(failures.saturating_sub(1).min(1024)).unwrap_or(1024);
        let scaled = base.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        Duration::try_from_secs_f64(scaled).map_or(cap, |wait| wait.min(cap))
    }

    /// The wait after the `failures`-th failure in a row, drawn by the
    /// [`Jitter`]; the count is left alone.
    pub(crate) fn draw(&mut self, failures: u32) -> Duration {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let Some(jitter) = self.jitter else {
            return self.nominal(failures);
        };
        let nominal = nanos(self.nominal(failures));
        let (low, high) = match jitter {
            Jitter::Full => (0, nominal),
            Jitter::Equal => (nominal / 2, nominal),
            Jitter::Ahead => {
                let high = nanos(self.nominal(failures.saturating_add(1)));
                ((high / 2).max(nanos(self.base())).min(high), high)
            }
        };
        Duration::from_nanos(self.rng.u64(low..=high))
    }

    /// One more failure: the wait before the next attempt.
    pub(crate) fn next(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.draw(self.failures)
    }

    /// The connection (or the attempt) ended at `now`: the wait before the
    /// next one. `retry_after` is the server's `Retry-After` on a refusal,
    /// if any: the wait is at least that (held to the cap).
    pub(crate) fn next_wait(&mut self, now: Instant, retry_after: Option<Duration>) -> Duration {
        if let Some(since) = self.up_since.take() {
            if now.saturating_duration_since(since) >= self.reset_after {
                self.failures = 0;
            }
        }
        let wait = self.next();
        match retry_after {
            Some(asked) => wait.max(asked.min(self.cap())),
            None => wait,
        }
    }

    /// A failure at `now` that the server answered with `retry_after` (its
    /// `Retry-After` as sent, seconds or an HTTP date: the one place it is
    /// read): the wait before the next attempt, or `None` when the server
    /// asks for longer than `patience` (give up).
    pub(crate) fn after(
        &mut self,
        now: Instant,
        retry_after: Option<&str>,
        patience: Option<Duration>,
    ) -> Option<Duration> {
        let asked = retry_after.and_then(parse_retry_after);
        if patience.is_some() && asked > patience {
            return None;
        }
        let exact = self.exact_hints;
        let wait = self.next_wait(now, asked.filter(|_| !exact));
        // An exact hint is still floored at the first delay: `Retry-After:
        // 0` (or a date in the past) is no licence to retry at once.
        Some(
            asked
                .filter(|_| exact)
                .map_or(wait, |asked| asked.max(self.initial).min(MAX_BACKOFF_WAIT)),
        )
    }
}

/// How many times [`Conflicts`] loads, applies and saves in all.
pub(crate) const CONFLICT_ATTEMPTS: u32 = 5;

/// The budget of a reload-and-retry loop on 409 conflicts: a few attempts
/// with a short jittered backoff (10 ms doubling up to 200 ms), whose count
/// of failures is the rounds retried so far.
#[derive(Debug)]
pub(crate) struct Conflicts(Backoff);

impl Conflicts {
    pub(crate) fn new() -> Conflicts {
        let (base, max) = (Duration::from_millis(10), Duration::from_millis(200));
        Conflicts(Backoff::new(base, max, Some(Jitter::Full)))
    }

    /// After a failed load-apply-save round: the wait before the next round
    /// when `error` is a conflict and the budget allows, else the error.
    pub(crate) fn after(&mut self, error: Error) -> Result<Duration, Error> {
        // This round is the one after the `failures()` retried ones.
        if error.is_conflict() && self.0.failures().saturating_add(1) < CONFLICT_ATTEMPTS {
            Ok(self.0.next())
        } else {
            Err(error)
        }
    }
}

/// A `Retry-After` value: delay-seconds, or an HTTP date in any of RFC
/// 9110's three formats (IMF-fixdate, RFC 850, asctime), as the time left
/// until then (zero when it is past).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportError;

    fn policy() -> RetryPolicy {
        RetryPolicy::default().jitter(false)
    }

    fn config(retry: RetryPolicy, deadline: Option<Duration>) -> Config {
        let mut config = crate::ClientBuilder::new()
            .api_key("k")
            .retry(retry)
            .build_config()
            .unwrap();
        config.deadline = deadline;
        config
    }

    fn retrier(policy: RetryPolicy, operation: Operation) -> Retrier {
        Retrier::new(&config(policy, None), operation, None)
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Result<HttpResponse, Error> {
        let status = http::StatusCode::from_u16(status).unwrap();
        Ok(crate::sans_io::answer(status, retry_after, Vec::new()))
    }

    fn transport(kind: TransportErrorKind) -> Result<HttpResponse, Error> {
        Err(Error::Transport(TransportError::new(kind, "x", None)))
    }

    #[test]
    fn retries_503_for_update_then_stops_with_the_count() {
        let mut r = retrier(policy(), Operation::Update);
        assert!(
            matches!(r.step(answer(503, None)), Step::Retry(d) if d == Duration::from_millis(100))
        );
        assert!(
            matches!(r.step(answer(503, None)), Step::Retry(d) if d == Duration::from_millis(200))
        );
        match r.step(answer(503, None)) {
            Step::Done(Ok(resp)) => {
                assert_eq!(resp.extensions().get(), Some(&crate::sans_io::Attempts(3)))
            }
            other => panic!("{other:?}"),
        }
    }

    /// The decision for each failure, by operation kind: the table of the
    /// module documentation.
    #[test]
    fn the_retry_table() {
        use TransportErrorKind::*;
        type Outcome = fn() -> Result<HttpResponse, Error>;
        let cases: [(&str, Outcome, bool, bool); 10] = [
            ("refused", || transport(Connect), true, true),
            ("connect timeout", || transport(ConnectTimeout), true, true),
            ("429", || answer(429, None), true, true),
            ("503", || answer(503, None), true, false),
            ("502", || answer(502, None), true, false),
            ("broke off", || transport(Disconnected), true, false),
            ("attempt timeout", || transport(Timeout), false, false),
            ("malformed answer", || transport(Protocol), false, false),
            ("other", || transport(Other), false, false),
            ("500", || answer(500, None), false, false),
        ];
        for (name, outcome, idempotent, create) in cases {
            for (operation, expected) in [
                (Operation::Update, idempotent),
                (Operation::Get, idempotent),
                (Operation::Create, create),
                (Operation::ReportExternalTask, create),
            ] {
                let step = retrier(policy(), operation).step(outcome());
                assert_eq!(
                    matches!(step, Step::Retry(_)),
                    expected,
                    "{name} for {operation:?}: {step:?}"
                );
            }
        }
    }

    #[test]
    fn timeouts_are_not_retried_and_errors_carry_attempts() {
        let mut r = retrier(policy(), Operation::Update);
        assert!(matches!(
            r.step(transport(TransportErrorKind::Connect)),
            Step::Retry(_)
        ));
        match r.step(transport(TransportErrorKind::Timeout)) {
            Step::Done(Err(e)) => assert_eq!(e.attempts(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let mut r = retrier(policy(), Operation::Get);
        assert!(
            matches!(r.step(answer(429, Some("1"))), Step::Retry(d) if d == Duration::from_secs(1))
        );
        let mut r = retrier(policy(), Operation::Get);
        assert!(matches!(
            r.step(answer(429, Some("3600"))),
            Step::Done(Ok(_))
        ));
        let mut r = retrier(policy(), Operation::Get);
        assert!(matches!(
            r.step(answer(503, Some("Sun, 06 Nov 1994 08:49:37 GMT"))),
            Step::Retry(d) if d == policy().base_backoff
        ));
    }

    /// A hint of no wait at all (`0`, a date in the past) is floored at the
    /// first backoff: never a retry at once.
    #[test]
    fn a_zero_retry_after_is_floored_at_the_first_backoff() {
        for hint in ["0", "Sun, 06 Nov 1994 08:49:37 GMT", "-5"] {
            let mut r = retrier(policy(), Operation::Get);
            match r.step(answer(503, Some(hint))) {
                Step::Retry(d) => assert!(d >= policy().base_backoff, "{hint}: {d:?}"),
                other => panic!("{hint}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_endless_patience_still_waits_at_most_a_day() {
        let endless = policy().max_retry_after(Duration::MAX);
        let mut r = retrier(endless, Operation::Get);
        assert!(matches!(
            r.step(answer(429, Some("18446744073709551615"))),
            Step::Retry(d) if d == MAX_BACKOFF_WAIT
        ));
    }

    #[test]
    fn a_huge_first_backoff_under_a_short_retry_after_still_waits_at_most_a_day() {
        let huge = policy().backoff(Duration::MAX, Duration::MAX);
        let mut r = retrier(huge, Operation::Get);
        match r.step(answer(503, Some("1"))) {
            Step::Retry(d) => assert!(d <= MAX_BACKOFF_WAIT, "{d:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn disabled_policy_makes_one_attempt() {
        let mut r = retrier(RetryPolicy::disabled(), Operation::Update);
        assert!(matches!(r.step(answer(503, None)), Step::Done(Ok(_))));
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let mut r = retrier(RetryPolicy::default().max_attempts(100), Operation::Get);
        for _ in 0..50 {
            match r.step(answer(503, None)) {
                Step::Retry(d) => assert!(d <= Duration::from_secs(5)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_deadline_bounds_waits_and_attempt_timeouts() {
        let deadline = Duration::from_secs(10);
        let mut r = Retrier::new(&config(policy(), Some(deadline)), Operation::Update, None);
        let (at, _) = r.deadline.unwrap();
        let start = at - deadline;
        // The first attempt may take the configured 60 s? No: 10 s are left.
        assert_eq!(
            r.attempt_timeout_at(Some(start)).unwrap(),
            Some(Duration::from_secs(10))
        );
        // A Retry-After of 5 s at 3 s in fits; at 6 s in it does not.
        assert!(matches!(
            r.step_at(answer(503, Some("5")), Some(start + Duration::from_secs(3))),
            Step::Retry(d) if d == Duration::from_secs(5)
        ));
        assert_eq!(
            r.attempt_timeout_at(Some(start + Duration::from_secs(8)))
                .unwrap(),
            Some(Duration::from_secs(2))
        );
        match r.step_at(answer(503, Some("5")), Some(start + Duration::from_secs(6))) {
            Step::Done(Ok(resp)) => {
                assert_eq!(resp.extensions().get(), Some(&crate::sans_io::Attempts(2)))
            }
            other => panic!("{other:?}"),
        }
        // Past the deadline, no attempt starts.
        let err = r.attempt_timeout_at(Some(start + deadline)).unwrap_err();
        assert!(
            err.is_timeout() && err.to_string().contains("deadline"),
            "{err}"
        );
        // A backoff that would pass it ends the retries with the error.
        let mut r = Retrier::new(
            &config(policy(), Some(Duration::from_millis(50))),
            Operation::Get,
            None,
        );
        let (at, _) = r.deadline.unwrap();
        match r.step_at(
            transport(TransportErrorKind::Connect),
            Some(at - Duration::from_millis(20)),
        ) {
            Step::Done(Err(e)) => assert!(e.is_connect()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn call_options_override_the_configuration() {
        let options = CallOptions::new()
            .retry(RetryPolicy::disabled())
            .timeout(Duration::from_secs(2));
        let mut r = Retrier::new(&config(policy(), None), Operation::Update, Some(&options));
        assert_eq!(r.attempt_timeout().unwrap(), Some(Duration::from_secs(2)));
        assert!(matches!(r.step(answer(503, None)), Step::Done(Ok(_))));
        // Without options, the transport's own timeout applies.
        let r = retrier(policy(), Operation::Update);
        assert_eq!(r.attempt_timeout().unwrap(), None);
    }

    /// A stream's backoff.
    fn streams(initial: Duration, max: Duration, reset_after: Duration, jitter: bool) -> Backoff {
        let jitter = jitter.then_some(Jitter::Ahead);
        Backoff::new(initial, max, jitter).reset_after(reset_after)
    }

    fn backoff(jitter: bool) -> Backoff {
        let (ms, secs) = (Duration::from_millis, Duration::from_secs);
        streams(ms(500), secs(30), secs(60), jitter).with_seed(7)
    }

    /// Injected clock: the backoff resets only when a connection stayed up
    /// for `reset_after`, measured from `connected` to the failure.
    #[test]
    fn the_backoff_resets_only_after_a_connection_stayed_up() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let t0 = Instant::now();
        let mut b = backoff(false);
        assert_eq!(b.next_wait(t0, None), ms(500));
        assert_eq!(b.next_wait(t0, None), secs(1));
        // Up for 59.999 s: not long enough; the doubling goes on.
        b.connected(t0);
        assert_eq!(b.next_wait(t0 + secs(60) - ms(1), None), secs(2));
        assert_eq!(b.failures(), 3);
        // Up for many short connections (a handshake each): no reset.
        let mut now = t0 + secs(100);
        for expected in [4, 8, 16, 30, 30] {
            b.connected(now);
            now += secs(5);
            assert_eq!(b.next_wait(now, None), secs(expected));
        }
        // Up for exactly reset_after: a new count, from the base.
        b.connected(now);
        now += secs(60);
        assert_eq!(b.next_wait(now, None), ms(500));
        assert_eq!(b.failures(), 1);
        // A failure without a connection since does not reset (the
        // connection up time is used once).
        now += secs(3600);
        assert_eq!(b.next_wait(now, None), secs(1));
        // A hint does not reset it either; it raises the base.
        b.set_hint(secs(2));
        assert_eq!(b.next_wait(now, None), secs(8));
        b.connected(now);
        assert_eq!(b.next_wait(now + secs(61), None), secs(2));
    }

    #[test]
    fn hints_never_go_below_the_floor_nor_above_the_cap() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let t0 = Instant::now();
        for jitter in [false, true] {
            for hint in [Duration::ZERO, ms(1), ms(499)] {
                let mut b = backoff(jitter);
                b.set_hint(hint);
                assert_eq!(b.base(), ms(500));
                for n in 0..40u32 {
                    let wait = b.next_wait(t0, Some(Duration::ZERO));
                    let nominal = ms(500).saturating_mul(1 << n.min(10)).min(secs(30));
                    assert!(wait >= ms(500), "{jitter} {hint:?} {n}: {wait:?}");
                    assert!(wait >= nominal.min(secs(15)), "{n}: {wait:?}");
                    assert!(wait <= secs(30), "{n}: {wait:?}");
                }
            }
            // A long hint lengthens every wait; one above the cap is held to it.
            let mut b = backoff(jitter);
            b.set_hint(secs(3));
            let first = b.next_wait(t0, None);
            assert!(first >= secs(3) && first <= secs(6), "{first:?}");
            let mut b = backoff(jitter);
            b.set_hint(Duration::MAX);
            assert_eq!(b.next_wait(t0, None), secs(30));
            assert_eq!(b.next_wait(t0, Some(Duration::MAX)), secs(30));
            // A Retry-After above the backoff wins, up to the cap.
            let mut b = backoff(jitter);
            assert_eq!(b.next_wait(t0, Some(secs(9))), secs(9));
        }
        // A policy whose cap is below its floor: the floor wins; huge
        // values stay representable.
        let mut b = streams(secs(5), ms(1), secs(60), true);
        assert_eq!(b.next_wait(t0, None), secs(5));
        let mut b = streams(Duration::MAX, Duration::MAX, Duration::MAX, true);
        let wait = b.next_wait(t0, None);
        assert_eq!(wait, MAX_BACKOFF_WAIT);
        assert!(t0.checked_add(wait).is_some());
    }

    #[test]
    fn jittered_waits_spread_between_the_delay_and_twice_it() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let mut b = backoff(true);
            b.rng = fastrand::Rng::new();
            let first = b.next_wait(t0, None);
            assert!(first >= ms(500) && first <= ms(1000), "{first:?}");
            seen.insert(first);
        }
        assert!(seen.len() > 100, "{}", seen.len());
    }

    #[test]
    fn http_dates_in_the_three_formats() {
        let past = Some(Duration::ZERO);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), past);
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT"), past);
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994"), past);
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = parse_retry_after(&soon).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("garbage"), None);
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("-1"), None);
    }
}
