//! Whether and when to try a request again. No I/O: the transports only
//! sleep for the time decided here and send the same request again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{HttpResponse, Operation};
use crate::config::RetryPolicy;
use crate::error::{Error, TransportErrorKind};

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
    /// The jitter PRNG state; 0 until the first backoff needs it, so a
    /// call that succeeds at once never seeds it (a clock read and a hash).
    rng: u64,
    reason: Option<Reason>,
}

impl Retrier {
    pub(crate) fn new(policy: RetryPolicy, operation: Operation) -> Retrier {
        Retrier {
            policy,
            idempotent: operation.is_idempotent(),
            attempt: 0,
            rng: 0,
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

    /// Records the outcome of one attempt and decides what comes next.
    pub(crate) fn step(&mut self, outcome: Result<HttpResponse, Error>) -> Step {
        self.attempt += 1;
        let attempts = self.attempt;
        let more = attempts < self.policy.max_attempts.max(1);
        match outcome {
            Ok(mut response) => {
                response.attempts = attempts;
                let retryable = matches!(response.status, 429 | 502 | 503 | 504);
                if !(more && retryable && self.idempotent) {
                    return Step::Done(Ok(response));
                }
                self.reason = Some(Reason::Status(response.status));
                match response.retry_after.as_deref().map(parse_retry_after) {
                    Some(Some(wait)) if wait > self.policy.max_retry_after => {
                        // The server asks for more patience than we have.
                        Step::Done(Ok(response))
                    }
                    Some(Some(wait)) => Step::Retry(wait),
                    _ => Step::Retry(self.backoff()),
                }
            }
            Err(error) => {
                let retry = match &error {
                    Error::Transport(t) => match t.kind {
                        // Nothing reached the server: safe for every operation.
                        TransportErrorKind::Connect => true,
                        // The request may have been processed.
                        TransportErrorKind::Disconnected => self.idempotent,
                        // The timeout is the caller's budget for an attempt.
                        TransportErrorKind::Timeout | TransportErrorKind::Other => false,
                    },
                    _ => false,
                };
                if more && retry {
                    if let Error::Transport(t) = &error {
                        self.reason = Some(Reason::Transport(t.kind));
                    }
                    Step::Retry(self.backoff())
                } else {
                    Step::Done(Err(error.with_attempts(attempts)))
                }
            }
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
        if nanos == 0 {
            return ceiling;
        }
        Duration::from_nanos(self.next_random() % (nanos + 1))
    }

    /// xorshift64*: enough for jitter, no dependency.
    fn next_random(&mut self) -> u64 {
        if self.rng == 0 {
            self.rng = seed();
        }
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
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
                rng: seed(),
                reason: None,
            },
        }
    }

    /// After a failed load-apply-save round: the wait before the next round
    /// when `error` is a conflict and the budget allows, else the error.
    pub(crate) fn after(&mut self, error: Error) -> Result<Duration, Error> {
        self.retrier.attempt += 1;
        if error.is_conflict() && self.retrier.attempt < self.retrier.policy.max_attempts {
            Ok(self.retrier.backoff())
        } else {
            Err(error)
        }
    }
}

/// A random non-zero seed from the standard library's hasher keys.
fn seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    hasher.finish() | 1
}

/// `Retry-After` as a wait: delta-seconds, or an HTTP date (IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`). A date in the past means no wait.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the epoch of an IMF-fixdate.
fn parse_http_date(value: &str) -> Option<u64> {
    let mut parts = value.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: u64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let s: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1970..=9999).contains(&year) || day == 0 || day > 31 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year >= 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportError;

    fn policy() -> RetryPolicy {
        RetryPolicy::default().with_jitter(false)
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
        let mut r = Retrier::new(policy(), Operation::Update);
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

    #[test]
    fn create_is_retried_only_when_nothing_was_sent() {
        let mut r = Retrier::new(policy(), Operation::Create);
        assert!(matches!(r.step(answer(503, None)), Step::Done(Ok(_))));
        let mut r = Retrier::new(policy(), Operation::Create);
        assert!(matches!(
            r.step(transport(TransportErrorKind::Disconnected)),
            Step::Done(Err(_))
        ));
        let mut r = Retrier::new(policy(), Operation::Create);
        assert!(matches!(
            r.step(transport(TransportErrorKind::Connect)),
            Step::Retry(_)
        ));
    }

    #[test]
    fn timeouts_are_not_retried_and_errors_carry_attempts() {
        let mut r = Retrier::new(policy(), Operation::Update);
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
        let mut r = Retrier::new(policy(), Operation::Get);
        assert!(
            matches!(r.step(answer(429, Some("1"))), Step::Retry(d) if d == Duration::from_secs(1))
        );
        let mut r = Retrier::new(policy(), Operation::Get);
        assert!(matches!(
            r.step(answer(429, Some("3600"))),
            Step::Done(Ok(_))
        ));
        let mut r = Retrier::new(policy(), Operation::Get);
        assert!(matches!(
            r.step(answer(503, Some("Sun, 06 Nov 1994 08:49:37 GMT"))),
            Step::Retry(d) if d == Duration::ZERO
        ));
    }

    #[test]
    fn disabled_policy_makes_one_attempt() {
        let mut r = Retrier::new(RetryPolicy::disabled(), Operation::Update);
        assert!(matches!(r.step(answer(503, None)), Step::Done(Ok(_))));
    }

    #[test]
    fn jitter_stays_under_the_ceiling() {
        let mut r = Retrier::new(
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
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("-1"), None);
    }
}
