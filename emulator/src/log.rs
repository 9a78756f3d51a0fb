//! The request log: every Tasks API request as received, secrets redacted.
//!
//! The log is read by tests, printed by them when they fail, and served over
//! HTTP, so it never holds a credential: the values of `x-api-key` and the
//! other credential headers are replaced by [`REDACTED`]. Whether the key was
//! right is recorded instead, in [`RecordedRequest::api_key`].

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::http::Req;
use crate::store::lock;

/// What a logged credential header shows instead of its value.
pub const REDACTED: &str = "<redacted>";

/// Headers whose values are never logged.
const SECRET_HEADERS: [&str; 4] = [
    "x-api-key",
    "authorization",
    "proxy-authorization",
    "cookie",
];

/// How a request's `x-api-key` compared with the emulator's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyCheck {
    /// The header carried the emulator's key.
    Valid,
    /// The header carried another value.
    Invalid,
    /// There was no `x-api-key` header.
    Missing,
}

impl ApiKeyCheck {
    /// Checks the first `x-api-key` header of `headers` (names lowercase).
    pub(crate) fn of(headers: &[(String, String)], key: &str) -> ApiKeyCheck {
        match headers.iter().find(|(k, _)| k == "x-api-key") {
            None => ApiKeyCheck::Missing,
            Some((_, v)) if v == key => ApiKeyCheck::Valid,
            Some(_) => ApiKeyCheck::Invalid,
        }
    }

    /// `"valid"`, `"invalid"` or `"missing"`, as served over HTTP.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyCheck::Valid => "valid",
            ApiKeyCheck::Invalid => "invalid",
            ApiKeyCheck::Missing => "missing",
        }
    }
}

/// One request as the emulator received it, credentials redacted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The method, e.g. `PATCH`.
    pub method: String,
    /// The raw request target: path and query, not decoded.
    pub path: String,
    /// Headers in arrival order, names lowercased; credential headers
    /// (`x-api-key`, `authorization`, ...) show [`REDACTED`].
    pub headers: Vec<(String, String)>,
    /// The body, decoded as UTF-8 lossily. A JSON object body whose
    /// top-level `api_key` is a string (the key check of
    /// `POST /metadata/api_key_allowance`) is logged as that JSON with the
    /// key [`REDACTED`].
    pub body: String,
    /// The body parsed as JSON, when it is JSON (a body key redacted).
    pub json: Option<Value>,
    /// Whether `x-api-key` carried the emulator's key.
    pub api_key: ApiKeyCheck,
    /// When the emulator received it (its head and body read): the gaps
    /// between a client's reconnects, as the server sees them.
    pub received: std::time::Instant,
}

impl RecordedRequest {
    pub(crate) fn new(req: &Req<'_>, json: Option<&Value>, api_key: ApiKeyCheck) -> Self {
        let headers = req
            .headers
            .iter()
            .map(|(k, v)| {
                let secret = SECRET_HEADERS.contains(&k.as_str());
                (k.clone(), if secret { REDACTED.into() } else { v.clone() })
            })
            .collect();
        let mut json = json.cloned();
        let mut body = String::from_utf8_lossy(req.body).into_owned();
        let key = json.as_mut().and_then(|j| j.get_mut("api_key"));
        if let Some(key @ Value::String(_)) = key {
            *key = Value::String(REDACTED.into());
            body = json.as_ref().map(Value::to_string).unwrap_or_default();
        }
        RecordedRequest {
            method: req.method.to_string(),
            path: req.target.to_string(),
            headers,
            body,
            json,
            api_key,
            received: std::time::Instant::now(),
        }
    }

    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// The request as JSON, as served by `GET /__emulator/requests`: repeated
    /// headers are joined with `, `.
    pub fn to_json(&self) -> Value {
        let mut h = Map::new();
        for (k, v) in &self.headers {
            match h.get_mut(k) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(v);
                }
                _ => {
                    h.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        json!({
            "method": self.method,
            "path": self.path,
            "headers": h,
            "body": self.body,
            "json": self.json,
            "api_key": self.api_key.as_str(),
        })
    }
}

/// The bounded log: the oldest request goes first when full.
pub(crate) struct RequestLog {
    limit: usize,
    entries: Mutex<VecDeque<RecordedRequest>>,
}

impl RequestLog {
    pub(crate) fn new(limit: usize) -> Self {
        RequestLog {
            limit,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn push(&self, rec: RecordedRequest) {
        if self.limit == 0 {
            return;
        }
        let mut log = lock(&self.entries);
        while log.len() >= self.limit {
            log.pop_front();
        }
        log.push_back(rec);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        lock(&self.entries).iter().cloned().collect()
    }

    pub(crate) fn to_json(&self) -> Value {
        Value::Array(
            lock(&self.entries)
                .iter()
                .map(RecordedRequest::to_json)
                .collect(),
        )
    }

    pub(crate) fn clear(&self) {
        lock(&self.entries).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_and_the_key_is_checked() {
        let headers = vec![
            ("x-api-key".to_string(), "sk-secret".to_string()),
            ("authorization".to_string(), "Bearer t".to_string()),
            ("x-trace".to_string(), "abc".to_string()),
        ];
        let req = Req {
            method: "GET",
            target: "/a?b=1",
            headers: &headers,
            body: b"",
        };
        let check = ApiKeyCheck::of(&headers, "sk-secret");
        assert_eq!(check, ApiKeyCheck::Valid);
        let rec = RecordedRequest::new(&req, None, check);
        assert_eq!(rec.header("X-Api-Key"), Some(REDACTED));
        assert_eq!(rec.header("authorization"), Some(REDACTED));
        assert_eq!(rec.header("x-trace"), Some("abc"));
        let shown = format!("{rec:?} {}", rec.to_json());
        assert!(
            !shown.contains("sk-secret") && !shown.contains("Bearer"),
            "{shown}"
        );
        assert_eq!(rec.to_json()["api_key"], "valid");

        let body = br#"{"api_key": "caller-secret", "other": 1}"#;
        let json: Value = serde_json::from_slice(body).unwrap();
        let req = Req { body, ..req };
        let rec = RecordedRequest::new(&req, Some(&json), check);
        assert_eq!(rec.json, Some(json!({"api_key": REDACTED, "other": 1})));
        assert!(!rec.body.contains("caller-secret"), "{}", rec.body);
        assert_eq!(ApiKeyCheck::of(&headers, "other"), ApiKeyCheck::Invalid);
        assert_eq!(ApiKeyCheck::of(&[], "k"), ApiKeyCheck::Missing);
    }

    #[test]
    fn the_log_keeps_the_newest() {
        let log = RequestLog::new(2);
        let req = |t| Req {
            method: "GET",
            target: t,
            headers: &[],
            body: b"",
        };
        for t in ["/1", "/2", "/3"] {
            log.push(RecordedRequest::new(&req(t), None, ApiKeyCheck::Missing));
        }
        let paths: Vec<String> = log.all().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/2", "/3"]);
    }
}
