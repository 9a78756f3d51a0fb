//! Fault rules as JSON: the shape `POST /__emulator/faults` accepts and
//! `GET /__emulator/faults` serves.

use std::time::Duration;

use serde_json::{json, Value};

use super::{Fault, FaultAction, MalformedFrame, StreamFault};

/// The JSON name of a malformed frame.
fn frame_name(f: MalformedFrame) -> &'static str {
    match f {
        MalformedFrame::NotJson => "not_json",
        MalformedFrame::NoType => "no_type",
    }
}

/// A mid-stream fault as JSON (`after_events` added by the caller).
fn stream_json(fault: &StreamFault) -> Value {
    match fault {
        StreamFault::Drop => json!({"action": "drop"}),
        StreamFault::Stall(None) => json!({"action": "stall"}),
        StreamFault::Stall(Some(d)) => {
            json!({"action": "stall", "stall_ms": d.as_millis() as u64})
        }
        StreamFault::Malformed(f) => json!({"action": "malformed", "frame": frame_name(*f)}),
        StreamFault::OversizedLine(n) => json!({"action": "oversized_line", "size": n}),
    }
}

impl Fault {
    /// The rule as the JSON accepted by `POST /__emulator/faults`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "method": self.method.clone().unwrap_or_else(|| "*".into()),
            "path": self.pattern,
            "times": self.remaining,
            "always": self.remaining.is_none(),
            "skip": self.skip,
            "probability": self.probability,
            "retry_after": self.retry_after,
        });
        if let Some(retry) = self.sse_retry {
            v["sse_retry_ms"] = json!(u64::try_from(retry.as_millis()).unwrap_or(u64::MAX));
        }
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
            FaultAction::MidStream { after, fault } => {
                let mut v = stream_json(fault);
                v["after_events"] = json!(after);
                v
            }
        };
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in e {
                m.insert(k.clone(), val.clone());
            }
        }
        v
    }

    /// Parses a rule from the JSON shape of `POST /__emulator/faults` (see the
    /// [crate docs](crate)). The error names the offending field.
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
        if let Some(n) = u("skip")? {
            f = f.skip(n);
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
        if let Some(ms) = u("sse_retry_ms")? {
            f = f.sse_retry(Duration::from_millis(ms));
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
            "drop" => f.drop_after(u("after_events")?.unwrap_or(0)),
            "stall" => {
                let after = u("after_events")?.unwrap_or(0);
                match u("stall_ms")? {
                    None => f.stall_after(after),
                    Some(ms) => f.stall_after_for(after, Duration::from_millis(ms)),
                }
            }
            "malformed" => {
                let frame = match s("frame")?.as_deref() {
                    None | Some("not_json") => MalformedFrame::NotJson,
                    Some("no_type") => MalformedFrame::NoType,
                    Some(other) => return Err(format!("unknown `frame` {other:?}")),
                };
                f.malformed_after(u("after_events")?.unwrap_or(0), frame)
            }
            "oversized_line" => {
                let size = u("size")?.ok_or("`size` is required for oversized_line")?;
                f.oversized_line_after(u("after_events")?.unwrap_or(0), size)
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
        for f in [
            Fault::on("GET", "*").drop_after(2),
            Fault::on("GET", "*").stall_after(1),
            Fault::on("GET", "*").stall_after_for(1, Duration::from_millis(7)),
            Fault::on("GET", "*").malformed_after(3, MalformedFrame::NoType),
            Fault::on("GET", "*").malformed_after(0, MalformedFrame::NotJson),
            Fault::on("GET", "*").oversized_line_after(1, 1 << 20),
            Fault::on("GET", "*")
                .always()
                .drop_after(1)
                .sse_retry(Duration::ZERO),
            Fault::on("GET", "*")
                .hold()
                .sse_retry(Duration::from_millis(1500)),
        ] {
            assert_eq!(Fault::from_json(&f.to_json()).unwrap(), f);
        }
        let bad = json!({"action": "malformed", "frame": "odd"});
        assert!(Fault::from_json(&bad).is_err());
    }
}
