//! The bounds every duration a caller gives is brought within.
//!
//! A [`Duration`] can hold about 584 billion years; the clock cannot
//! (`Instant + Duration::MAX` overflows and panics), nor can the
//! transports' timers (ureq computes its deadlines as `Instant + timeout`;
//! tokio's timer wheel has a horizon of its own). So every duration the
//! crate takes from its caller (client timeouts and deadlines, retry, wait
//! and stream policies, the worker's deadlines, graces and intervals) is
//! clamped to [`MAX_DURATION`] where it is used: "forever" stays forever in
//! practice (a century), and nothing overflows. Durations that pace a
//! repeated request (an interval, a poll) also get a floor where zero would
//! turn the loop into a flood; each such floor is documented on its knob.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use xpander_sdk::sans_io::duration::{clamp, MAX_DURATION};
//!
//! assert_eq!(clamp(Duration::MAX), MAX_DURATION);
//! assert_eq!(clamp(Duration::ZERO), Duration::ZERO);
//! // What the clock can hold.
//! assert!(Instant::now().checked_add(clamp(Duration::MAX)).is_some());
//! ```

use std::time::{Duration, Instant};

use super::stream::StreamPolicy;

/// The longest duration the crate uses: 100 years (365-day ones). Longer
/// ones, up to [`Duration::MAX`], are taken as this one.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `duration`, at most [`MAX_DURATION`].
pub const fn clamp(duration: Duration) -> Duration {
    if duration.as_secs() >= MAX_DURATION.as_secs() {
        MAX_DURATION
    } else {
        duration
    }
}

/// `duration` within `[floor, MAX_DURATION]`.
pub(crate) fn clamp_floor(duration: Duration, floor: Duration) -> Duration {
    clamp(duration).max(floor)
}

/// `now + duration`, the duration clamped: always a time, never an
/// overflow (on a clock that cannot hold even that, the furthest time it
/// can, found by halving).
pub(crate) fn after(now: Instant, duration: Duration) -> Instant {
    let mut duration = clamp(duration);
    loop {
        if let Some(at) = now.checked_add(duration) {
            return at;
        }
        duration = duration.checked_div(2).unwrap_or_default();
    }
}

/// The shortest reconnection delay of a [`StreamPolicy`]: with a zero one,
/// the exponential backoff would stay at zero (a reconnect flood).
pub const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(1);

/// A [`StreamPolicy`] as a session uses it: every duration clamped, the
/// first reconnection delay at least [`MIN_RECONNECT_DELAY`], the longest
/// at least the first.
pub(crate) fn clamp_stream(mut policy: StreamPolicy) -> StreamPolicy {
    policy.idle_timeout = clamp(policy.idle_timeout);
    policy.connect_timeout = clamp(policy.connect_timeout);
    policy.initial_delay = clamp_floor(policy.initial_delay, MIN_RECONNECT_DELAY);
    policy.max_delay = clamp(policy.max_delay).max(policy.initial_delay);
    policy.reset_after = clamp(policy.reset_after);
    policy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_adds_without_overflow() {
        let now = Instant::now();
        assert_eq!(clamp(Duration::MAX), MAX_DURATION);
        assert_eq!(clamp(MAX_DURATION), MAX_DURATION);
        assert_eq!(clamp(Duration::from_millis(5)), Duration::from_millis(5));
        assert_eq!(
            clamp_floor(Duration::ZERO, Duration::from_millis(100)),
            Duration::from_millis(100)
        );
        assert_eq!(
            clamp_floor(Duration::MAX, Duration::from_millis(100)),
            MAX_DURATION
        );
        assert!(after(now, Duration::MAX) > now);
        assert_eq!(after(now, Duration::ZERO), now);
        assert!(after(now, Duration::MAX) >= after(now, Duration::from_secs(3600 * 24 * 365)));
    }
}
