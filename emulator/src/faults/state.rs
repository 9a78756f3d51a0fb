//! The faults' runtime: the pending rules and their seeded dice, which rule
//! a request fires, and the requests (and stalled streams) held until
//! released.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Fault, FaultAction};
use crate::store::lock;

/// A fault that fired: what to do, and the `Retry-After` of a `Respond`.
pub(crate) struct Fired {
    pub action: FaultAction,
    pub retry_after: Option<String>,
    /// The `retry:` field of a stream the rule fires on.
    pub sse_retry: Option<Duration>,
}

/// An injected pause before a request is handled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pause {
    /// A fixed delay.
    For(Duration),
    /// Until [`Faults::release`] lets the request go.
    UntilReleased,
}

impl Pause {
    /// True when the pause actually waits.
    pub(crate) fn waits(self) -> bool {
        match self {
            Pause::For(d) => !d.is_zero(),
            Pause::UntilReleased => true,
        }
    }
}

/// Counts a held request down when dropped.
struct Held<'a>(&'a AtomicU64);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Rules {
    rules: Vec<Fault>,
    rng: fastrand::Rng,
}

/// The pending rules, their dice, and the requests they hold.
pub(crate) struct Faults {
    rules: Mutex<Rules>,
    /// One permit per release; a release before the request is not lost.
    released: Semaphore,
    /// How many requests wait on `released` right now.
    holding: AtomicU64,
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Faults {
        Faults {
            rules: Mutex::new(Rules {
                rules: Vec::new(),
                rng: fastrand::Rng::with_seed(seed),
            }),
            released: Semaphore::const_new(0),
            holding: AtomicU64::new(0),
        }
    }

    pub(crate) fn inject(&self, f: Fault) {
        lock(&self.rules).rules.push(f);
    }

    pub(crate) fn clear(&self) {
        lock(&self.rules).rules.clear();
    }

    pub(crate) fn list(&self) -> Vec<Fault> {
        lock(&self.rules).rules.clone()
    }

    pub(crate) fn reseed(&self, seed: u64) {
        lock(&self.rules).rng = fastrand::Rng::with_seed(seed);
    }

    /// The first rule that fires for this request, consumed (and removed when
    /// used up). A rule with a probability the dice spare is not consumed,
    /// nor is a mid-stream rule by a request that is not an event stream.
    pub(crate) fn fire(&self, method: &str, path: &str, stream: bool) -> Option<Fired> {
        let mut st = lock(&self.rules);
        let Rules { rules, rng } = &mut *st;
        let i = rules.iter().position(|r| {
            r.matches(method, path)
                && (stream || !r.action.is_mid_stream())
                // A request let through (`skip`) is counted before the dice.
                && (r.skip > 0 || r.probability.is_none_or(|p| rng.f64() < p))
        })?;
        let rule = rules.get_mut(i)?;
        if rule.let_through() {
            return None;
        }
        let fired = Fired {
            action: rule.action.clone(),
            retry_after: rule.retry_after.clone(),
            sse_retry: rule.sse_retry,
        };
        if rule.consume() {
            rules.remove(i);
        }
        Some(fired)
    }

    /// Waits as `pause` says.
    pub(crate) async fn pause(&self, pause: Option<Pause>) {
        match pause {
            Some(Pause::For(d)) if !d.is_zero() => tokio::time::sleep(d).await,
            Some(Pause::UntilReleased) => {
                self.holding.fetch_add(1, Ordering::SeqCst);
                // Counted down however the wait ends (a closed connection
                // or a shutdown drops it half-way).
                let _held = Held(&self.holding);
                if let Ok(permit) = self.released.acquire().await {
                    permit.forget();
                }
            }
            _ => {}
        }
    }

    /// Lets `n` held requests (present or to come) go on.
    pub(crate) fn release(&self, n: usize) {
        self.released.add_permits(n.min(Semaphore::MAX_PERMITS));
    }

    /// How many requests are held right now.
    pub(crate) fn held(&self) -> u64 {
        self.holding.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_requests_pass_every_rule_then_the_rule_applies() {
        let faults = Faults::new(1);
        faults.inject(Fault::any("/a").skip(2).times(1).close_connection());
        faults.inject(Fault::any("*").always().hold());
        let fired: Vec<_> = (0..4)
            .map(|_| faults.fire("GET", "/a", false).map(|f| f.action))
            .collect();
        // Two let through untouched (the later rule too), then the rule
        // once, then the later rule.
        assert_eq!(
            fired,
            [
                None,
                None,
                Some(Fault::any("x").close_connection().action().clone()),
                Some(Fault::any("x").hold().action().clone()),
            ]
        );
        // The requests let through are counted before any probability
        // draw: a rule that never fires still lets the first two through.
        let faults = Faults::new(7);
        faults.inject(Fault::any("/b").skip(2).always().probability(0.0));
        for _ in 0..3 {
            assert!(faults.fire("GET", "/b", false).is_none());
        }
        assert_eq!(faults.list()[0].to_json()["skip"], 0);
        // The JSON form round-trips it.
        let rule = Fault::any("/c").skip(3);
        assert_eq!(Fault::from_json(&rule.to_json()).unwrap(), rule);
    }

    #[test]
    fn rules_fire_in_order_and_wear_out() {
        let faults = Faults::new(1);
        faults.inject(Fault::any("/a").times(2).close_connection());
        faults.inject(Fault::any("*").always().hold());
        let mut fired = Vec::new();
        for _ in 0..3 {
            fired.push(faults.fire("GET", "/a", false).map(|f| f.action));
        }
        assert_eq!(
            fired,
            [
                Some(FaultAction::CloseConnection),
                Some(FaultAction::CloseConnection),
                Some(FaultAction::Hold)
            ]
        );
        assert_eq!(faults.list().len(), 1);
    }

    #[test]
    fn dice_are_seeded() {
        let run = |seed| {
            let faults = Faults::new(seed);
            faults.inject(Fault::any("*").always().probability(0.5));
            (0..64)
                .map(|_| faults.fire("GET", "/", false).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn mid_stream_rules_wait_for_a_stream() {
        let faults = Faults::new(1);
        faults.inject(Fault::any("*").drop_after(1));
        faults.inject(Fault::any("*").close_connection());
        let first = faults.fire("GET", "/a", false).map(|f| f.action);
        assert_eq!(first, Some(FaultAction::CloseConnection));
        assert!(faults.fire("GET", "/a", false).is_none());
        let on_stream = faults.fire("GET", "/o/agent-execution/t/events", true);
        assert!(on_stream.is_some_and(|f| f.action.is_mid_stream()));
        assert!(faults.list().is_empty());
    }
}
