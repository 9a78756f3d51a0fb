//! Fault injection rules.

use std::time::Duration;

use serde_json::{json, Value};

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
    /// As `Delay`, but wait until [`crate::emulator::Emulator::release`] lets the
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
    probability: Option<f64>,
    retry_after: Option<String>,
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
            probability: None,
            retry_after: None,
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

    /// Hold the request (after it is logged and, for an update, marked in
    /// flight) until [`crate::emulator::Emulator::release`], then handle it
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

    pub(crate) fn probability_value(&self) -> Option<f64> {
        self.probability
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

    /// The rule as the JSON accepted by `POST /__emulator/faults`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "method": self.method.clone().unwrap_or_else(|| "*".into()),
            "path": self.pattern,
            "times": self.remaining,
            "always": self.remaining.is_none(),
            "probability": self.probability,
            "retry_after": self.retry_after,
        });
        let extra = match &self.action {
            FaultAction::Respond {
                status,
                body,
                content_type,
            } => json!({
                "action": "respond", "status": status,
                "body_text": String::from_utf8_lossy(body), "content_type": content_type,
            }),
            FaultAction::Delay(d) => json!({"action": "delay", "delay_ms": d.as_millis() as u64}),
            FaultAction::Hold => json!({"action": "hold"}),
            FaultAction::CloseConnection => json!({"action": "close"}),
            FaultAction::TruncateBody => json!({"action": "truncate"}),
            FaultAction::OversizedBody(n) => json!({"action": "oversized", "size": n}),
        };
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in e {
                m.insert(k.clone(), val.clone());
            }
        }
        v
    }

    /// Parses a rule from the JSON shape of `POST /__emulator/faults` (see the
    /// [module docs](crate::emulator)). The error names the offending field.
    pub fn from_json(v: &Value) -> Result<Fault, String> {
        let o = v.as_object().ok_or("fault must be a JSON object")?;
        let s = |k: &str| -> Result<Option<String>, String> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) if k == "retry_after" => Ok(Some(n.to_string())),
                Some(_) => Err(format!("`{k}` must be a string")),
            }
        };
        let u = |k: &str| -> Result<Option<u64>, String> {
            match o.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format!("`{k}` must be a non-negative integer")),
            }
        };
        let method = s("method")?.unwrap_or_else(|| "*".into());
        let path = s("path")?.unwrap_or_else(|| "*".into());
        let mut f = Fault::on(&method, &path);
        if let Some(n) = u("times")? {
            f = f.times(n);
        }
        match o.get("always") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => f = f.always(),
            Some(_) => return Err("`always` must be a boolean".into()),
        }
        match o.get("probability") {
            None | Some(Value::Null) => {}
            Some(p) => {
                let p = p.as_f64().ok_or("`probability` must be a number")?;
                f = f.probability(p);
            }
        }
        if let Some(r) = s("retry_after")? {
            f = f.retry_after(r);
        }
        let action = s("action")?.unwrap_or_else(|| "respond".into());
        f = match action.as_str() {
            "respond" => {
                let status = match u("status")? {
                    None => 500,
                    Some(n) if (100..=999).contains(&n) => n as u16,
                    Some(_) => return Err("`status` must be between 100 and 999".into()),
                };
                let f = if let Some(t) = s("body_text")? {
                    f.respond_text(status, t)
                } else {
                    let body = o
                        .get("body")
                        .cloned()
                        .unwrap_or_else(|| json!({"detail": "Injected fault"}));
                    f.respond(status, body)
                };
                match s("content_type")? {
                    Some(ct) => f.content_type(ct),
                    None => f,
                }
            }
            "delay" => f.delay(Duration::from_millis(u("delay_ms")?.unwrap_or(0))),
            "hold" => f.hold(),
            "close" | "close_connection" => f.close_connection(),
            "truncate" | "truncate_body" => f.truncate_body(),
            "oversized" | "oversized_body" => {
                f.oversized_body(u("size")?.ok_or("`size` is required for oversized")?)
            }
            other => return Err(format!("unknown `action` {other:?}")),
        };
        Ok(f)
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

    #[test]
    fn json_round_trip() {
        let f = Fault::on("GET", "/x")
            .times(3)
            .respond_text(503, "busy")
            .retry_after("2");
        let g = Fault::from_json(&f.to_json()).unwrap();
        assert_eq!(f, g);
        let d = Fault::any("*").always().delay(Duration::from_millis(5));
        assert_eq!(Fault::from_json(&d.to_json()).unwrap(), d);
        assert!(Fault::from_json(&json!({"action": "nope"})).is_err());
    }
}
