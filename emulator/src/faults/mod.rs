//! Fault injection: the rules ([`Fault`]), matching them against requests
//! with a seeded PRNG, and holding requests until released.
//!
//! The PRNG is `fastrand`'s (wyrand), seeded: the same seed gives the same
//! sequence of dice, so a probabilistic fault is reproducible.

mod json;
pub(crate) mod state;
mod stream;

pub use stream::{MalformedFrame, StreamFault};

use std::time::Duration;

use serde_json::Value;

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status, body and content type instead of handling the request.
    Respond {
        /// HTTP status code.
        status: u16,
        /// Raw body bytes.
        body: Vec<u8>,
        /// Value of the `content-type` header.
        content_type: String,
    },
    /// Wait this long, then handle the request normally. A delayed `PATCH .../update`
    /// holds the task's in-flight marker while it waits, so an overlapping update gets 409.
    Delay(Duration),
    /// As `Delay`, but wait until [`crate::Emulator::release`] lets the
    /// request go (or the emulator stops): overlaps and timeouts without any
    /// wall-clock margin in a test.
    Hold,
    /// Close the connection after reading the request, without answering.
    CloseConnection,
    /// Handle the request, send the head with the full `content-length`, send only
    /// part of the body, then close the connection.
    TruncateBody,
    /// Answer `200` with a body of exactly this many bytes (a JSON string of `x`s
    /// when at least 2 bytes), whatever the request was.
    OversizedBody(u64),
    /// On an event stream (`GET .../events`), once the response has sent
    /// `after` events, do `fault`. Such a rule matches stream requests only:
    /// other requests neither fire nor use it up.
    MidStream {
        /// Events of this response before the fault (the handshake counts).
        after: u64,
        /// What happens then.
        fault: StreamFault,
    },
}

/// One fault rule: which requests it matches, how often, and what it does.
///
/// Build one with [`Fault::on`], e.g.
/// `Fault::on("PATCH", "/agent-execution/*").times(2).respond(503, json!({"detail": "busy"}))`.
/// A new rule matches the next 1 request; the default action answers
/// `500 {"detail": "Injected fault"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    method: Option<String>,
    pattern: String,
    remaining: Option<u64>,
    skip: u64,
    probability: Option<f64>,
    retry_after: Option<String>,
    sse_retry: Option<Duration>,
    action: FaultAction,
}

impl Fault {
    /// A rule for requests with this method (`"*"` or `""` for any) whose raw path
    /// (without the query) matches `pattern`: an exact path, a prefix ending in `*`,
    /// or `*` alone for any path.
    pub fn on(method: &str, pattern: &str) -> Fault {
        let method = if method.is_empty() || method == "*" {
            None
        } else {
            Some(method.to_ascii_uppercase())
        };
        Fault {
            method,
            pattern: pattern.to_string(),
            remaining: Some(1),
            skip: 0,
            probability: None,
            retry_after: None,
            sse_retry: None,
            action: FaultAction::Respond {
                status: 500,
                body: br#"{"detail":"Injected fault"}"#.to_vec(),
                content_type: "application/json".into(),
            },
        }
    }

    /// A rule for any method; same as `Fault::on("*", pattern)`.
    pub fn any(pattern: &str) -> Fault {
        Fault::on("*", pattern)
    }

    /// Apply to the next `n` matching requests, then disappear.
    pub fn times(mut self, n: u64) -> Fault {
        self.remaining = Some(n);
        self
    }

    /// Let the first `n` matching requests through untouched (by any rule),
    /// then apply: e.g. fail the second page of a listing, whose path is the
    /// first page's.
    pub fn skip(mut self, n: u64) -> Fault {
        self.skip = n;
        self
    }

    /// Apply to every matching request, never disappearing.
    pub fn always(mut self) -> Fault {
        self.remaining = None;
        self
    }

    /// Fire only with this probability (clamped to 0.0–1.0) per matching request,
    /// drawn from the emulator's seeded PRNG. A request the dice spare does not
    /// consume the rule.
    pub fn probability(mut self, p: f64) -> Fault {
        self.probability = Some(if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) });
        self
    }

    /// Answer with `status` and this JSON body.
    pub fn respond(mut self, status: u16, body: Value) -> Fault {
        self.action = FaultAction::Respond {
            status,
            body: serde_json::to_vec(&body).unwrap_or_default(),
            content_type: "application/json".into(),
        };
        self
    }

    /// Answer with `status` and this raw text body (`content-type: text/html` when it
    /// starts with `<`, else `text/plain`; change it with [`Fault::content_type`]).
    pub fn respond_text(mut self, status: u16, body: impl Into<String>) -> Fault {
        let body: String = body.into();
        let content_type = if body.trim_start().starts_with('<') {
            "text/html; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        self.action = FaultAction::Respond {
            status,
            body: body.into_bytes(),
            content_type: content_type.into(),
        };
        self
    }

    /// Sets the content type of a [`Fault::respond`] / [`Fault::respond_text`] answer.
    pub fn content_type(mut self, ct: impl Into<String>) -> Fault {
        if let FaultAction::Respond { content_type, .. } = &mut self.action {
            *content_type = ct.into();
        }
        self
    }

    /// Adds a `Retry-After` header with this value to a [`Fault::respond`] answer.
    pub fn retry_after(mut self, value: impl Into<String>) -> Fault {
        self.retry_after = Some(value.into());
        self
    }

    /// On an event stream this rule fires on (a mid-stream fault, a delay, a
    /// hold): the stream opens with the SSE field `retry: <ms>` (in place
    /// of the emulator's [`sse_retry`](crate::EmulatorBuilder::sse_retry)),
    /// the reconnection time a client is asked to use. With
    /// [`Fault::drop_after`], a stream that asks for `retry: 0` and is cut
    /// on every connection, as a broken proxy does:
    /// `Fault::on("GET", path).always().drop_after(1).sse_retry(Duration::ZERO)`.
    pub fn sse_retry(mut self, retry: Duration) -> Fault {
        self.sse_retry = Some(retry);
        self
    }

    /// The `retry:` field of the streams this rule fires on, if any.
    pub fn sse_retry_value(&self) -> Option<Duration> {
        self.sse_retry
    }

    /// Hold the request (after it is logged and, for an update, marked in
    /// flight) until [`crate::Emulator::release`], then handle it
    /// normally.
    pub fn hold(mut self) -> Fault {
        self.action = FaultAction::Hold;
        self
    }

    /// Delay the answer by `d`, then handle the request normally.
    pub fn delay(mut self, d: Duration) -> Fault {
        self.action = FaultAction::Delay(d);
        self
    }

    /// Close the connection after reading the request, without answering.
    pub fn close_connection(mut self) -> Fault {
        self.action = FaultAction::CloseConnection;
        self
    }

    /// Send the real answer's head with its full `content-length`, only part of its
    /// body, then close.
    pub fn truncate_body(mut self) -> Fault {
        self.action = FaultAction::TruncateBody;
        self
    }

    /// Answer `200` with a body of `n` bytes.
    pub fn oversized_body(mut self, n: u64) -> Fault {
        self.action = FaultAction::OversizedBody(n);
        self
    }

    /// The action this rule performs.
    pub fn action(&self) -> &FaultAction {
        &self.action
    }

    /// The `Retry-After` value, if any.
    pub fn retry_after_value(&self) -> Option<&str> {
        self.retry_after.as_deref()
    }

    /// How many more requests the rule applies to (`None`: unlimited).
    pub fn remaining(&self) -> Option<u64> {
        self.remaining
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        if self.pattern == "*" {
            true
        } else if let Some(prefix) = self.pattern.strip_suffix('*') {
            path.starts_with(prefix)
        } else {
            path == self.pattern
        }
    }

    /// A matching request the rule lets through (see [`Fault::skip`]);
    /// true while some are left to let through, counting this one.
    pub(crate) fn let_through(&mut self) -> bool {
        let skipping = self.skip > 0;
        self.skip = self.skip.saturating_sub(1);
        skipping
    }

    /// Consumes one use; returns true when the rule is used up.
    pub(crate) fn consume(&mut self) -> bool {
        match &mut self.remaining {
            None => false,
            Some(n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
        }
    }
}

impl Fault {
    fn mid_stream(mut self, after: u64, fault: StreamFault) -> Fault {
        self.action = FaultAction::MidStream { after, fault };
        self
    }

    /// On an event stream: drop the connection after `n` events.
    pub fn drop_after(self, n: u64) -> Fault {
        self.mid_stream(n, StreamFault::Drop)
    }

    /// On an event stream: after `n` events, send nothing until released
    /// ([`crate::Emulator::release`]); [`crate::Emulator::held`] counts it.
    pub fn stall_after(self, n: u64) -> Fault {
        self.mid_stream(n, StreamFault::Stall(None))
    }

    /// On an event stream: after `n` events, send nothing for `d`.
    pub fn stall_after_for(self, n: u64, d: Duration) -> Fault {
        self.mid_stream(n, StreamFault::Stall(Some(d)))
    }

    /// On an event stream: after `n` events, send one bad frame.
    pub fn malformed_after(self, n: u64, frame: MalformedFrame) -> Fault {
        self.mid_stream(n, StreamFault::Malformed(frame))
    }

    /// On an event stream: after `n` events, send one `data:` line of
    /// `bytes` bytes.
    pub fn oversized_line_after(self, n: u64, bytes: u64) -> Fault {
        self.mid_stream(n, StreamFault::OversizedLine(bytes))
    }
}

impl FaultAction {
    /// True for the faults that only apply to event streams.
    pub(crate) fn is_mid_stream(&self) -> bool {
        matches!(self, FaultAction::MidStream { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let f = Fault::on("patch", "/agent-execution/*");
        assert!(f.matches("PATCH", "/agent-execution/x/update"));
        assert!(!f.matches("GET", "/agent-execution/x/update"));
        assert!(Fault::any("*").matches("GET", "/x"));
        assert!(Fault::any("/a").matches("GET", "/a"));
        assert!(!Fault::any("/a").matches("GET", "/ab"));
    }
}
