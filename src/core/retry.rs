//! Whether and when to try a request again, and how long each attempt may
//! take. No I/O: the transports only sleep for the time decided here and
//! send the same request again.
//!
//! | failure | retried for |
//! |---|---|
//! | connection refused, DNS failure, TLS handshake failure, connect timeout | every operation: nothing was sent |
//! | 429 | every operation: a throttled request was not processed |
//! | 502, 503, 504, a connection that broke off | idempotent operations only (not create, report) |
//! | the attempt's timeout, a malformed answer, anything else | none |
//!
//! A call's deadline bounds the whole: no retry is started whose wait would
//! pass it, and each attempt's timeout is cut to the time left.

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
        Retrier {
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
                response.attempts = attempts;
                let retryable = match response.status {
                    // Throttled: the request was not processed.
                    429 => true,
                    502..=504 => self.idempotent,
                    _ => false,
                };
                if !(more && retryable) {
                    return Step::Done(Ok(response));
                }
                let wait = match response.retry_after.as_deref().map(parse_retry_after) {
                    // The server asks for more patience than we have.
                    Some(Some(wait)) if wait > self.policy.max_retry_after => {
                        return Step::Done(Ok(response))
                    }
                    Some(Some(wait)) => wait,
                    _ => self.backoff(),
                };
                if !self.fits(wait, now) {
                    return Step::Done(Ok(response));
                }
                self.reason = Some(Reason::Status(response.status));
                Step::Retry(wait)
            }
            Err(error) => {
                let retry = match &error {
                    // A refused certificate: no retry can fix it.
                    Error::Transport(t) if t.is_tls_refusal() => false,
                    Error::Transport(t) => match t.kind {
                        // Nothing reached the server: safe for every operation.
                        TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout => true,
                        // The request may have been processed.
                        TransportErrorKind::Disconnected => self.idempotent,
                        // The timeout is the caller's budget for an attempt;
                        // a malformed answer would come back the same.
                        TransportErrorKind::Timeout
                        | TransportErrorKind::Protocol
                        | TransportErrorKind::Other => false,
                        #[allow(unreachable_patterns)]
                        _ => false,
                    },
                    _ => false,
                };
                if more && retry {
                    let wait = self.backoff();
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

    /// Exponential backoff with full jitter after `self.attempt` attempts.
    fn backoff(&mut self) -> Duration {
        let exp = self.attempt.saturating_sub(1).min(30);
        let ceiling = self
            .policy
            .base_backoff
            .saturating_mul(1u32 << exp)
            .min(self.policy.max_backoff);
        if !self.policy.jitter {
            return ceiling;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        // fastrand's thread-local generator: seeded once per thread, no
        // clock read or hash per call.
        Duration::from_nanos(fastrand::u64(..=nanos))
    }
}

/// How many times [`Conflicts`] loads, applies and saves in all.
pub(crate) const CONFLICT_ATTEMPTS: u32 = 5;

/// The budget of a reload-and-retry loop on 409 conflicts: a few attempts
/// with a short jittered backoff (10 ms doubling up to 200 ms).
#[derive(Debug)]
pub(crate) struct Conflicts {
    retrier: Retrier,
}

impl Conflicts {
    pub(crate) fn new() -> Conflicts {
        let policy = RetryPolicy::default()
            .with_max_attempts(CONFLICT_ATTEMPTS)
            .with_backoff(Duration::from_millis(10), Duration::from_millis(200));
        Conflicts {
            retrier: Retrier {
                policy,
                idempotent: true,
                attempt: 0,
                configured_timeout: Duration::ZERO,
                timeout: Duration::ZERO,
                deadline: None,
                reason: None,
            },
        }
    }

    /// After a failed load-apply-save round: the wait before the next round
    /// when `error` is a conflict and the budget allows, else the error.
    pub(crate) fn after(&mut self, error: Error) -> Result<Duration, Error> {
        self.retrier.attempt = self.retrier.attempt.saturating_add(1);
        if error.is_conflict() && self.retrier.attempt < self.retrier.policy.max_attempts {
            Ok(self.retrier.backoff())
        } else {
            Err(error)
        }
    }
}

/// A `Retry-After` value: delay-seconds, or an HTTP date in any of RFC
/// 9110's three formats (IMF-fixdate, RFC 850, asctime), as the time left
/// until then (zero when it is past).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
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
        RetryPolicy::default().with_jitter(false)
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
        Ok(HttpResponse::new(
            status,
            retry_after.map(str::to_string),
            Vec::new(),
        ))
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
            Step::Done(Ok(resp)) => assert_eq!(resp.attempts, 3),
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
            Step::Retry(d) if d == Duration::ZERO
        ));
    }

    #[test]
    fn disabled_policy_makes_one_attempt() {
        let mut r = retrier(RetryPolicy::disabled(), Operation::Update);
        assert!(matches!(r.step(answer(503, None)), Step::Done(Ok(_))));
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let mut r = retrier(
            RetryPolicy::default().with_max_attempts(100),
            Operation::Get,
        );
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
            Step::Done(Ok(resp)) => assert_eq!(resp.attempts, 2),
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
