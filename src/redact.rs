//! Keeping credentials out of what a program shows.
//!
//! The crate's own `Debug`, `Display`, errors and traces never show a
//! credential. [`redact_credentials`] applies the same rule to JSON your
//! program prints or logs (a task, an event, an activity thread), as the
//! `xpander-tasks` tool does with everything it prints.

// Inside the crate:
// * `Redacted` prints a secret field as `<redacted>` (an object's keys stay
//   visible, never its values).
// * `RedactedMap` prints a free-form object (a model's `extra`) with the
//   values of credential-looking keys redacted, at any depth.
// * `redact_json_text` does the same on JSON *text* that may be broken (a
//   body that failed to decode, an error body), without parsing it.
// * `scrub` removes one known secret (the API key) from any text.

use std::fmt;

use serde_json::{Map, Value};

/// The text that stands in for a secret.
pub(crate) const REDACTED: &str = "<redacted>";

/// `true` for a key whose value may be a credential: tokens, secrets, keys,
/// passwords, auth headers, and the objects that carry them
/// (`headers`, `env_vars`, payload extensions).
pub(crate) fn is_credential_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    const EXACT: &[&str] = &[
        "headers",
        "env_vars",
        "payload_extension",
        "tool_call_payload_extension",
        "llm_gateway",
        "user_tokens",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "key",
    ];
    const PARTS: &[&str] = &[
        "token",
        "secret",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "api-key",
        "credential",
        "private_key",
        "auth_header",
    ];
    if EXACT.contains(&key.as_str()) {
        return true;
    }
    // Token *counts* (`tokens`, `prompt_tokens`, ...) are not credentials.
    if key == "tokens" || key.ends_with("_tokens") {
        return false;
    }
    PARTS.iter().any(|part| key.contains(part))
}

/// Replaces, in place and at any depth, the value of every key that may
/// hold a credential by the string `"<redacted>"`, as the crate's `Debug`
/// shows them: tokens, secrets, keys, passwords, auth headers, and the
/// objects that carry them (`user_oidc_token`, `user_tokens`,
/// `payload_extension`, an MCP server's `api_key`, `client_secret`,
/// `headers` and `env_vars`, an auth event's `access_token`, and such keys
/// among a model's unknown fields).
///
/// A credential object keeps its keys (each value redacted), so the JSON
/// keeps its shape; a `null` stays `null`, so "not set" still shows. Token
/// *counts* (`tokens`, `prompt_tokens`) are not credentials and stay.
///
/// ```
/// use serde_json::json;
///
/// let mut task = json!({
///     "id": "task_xyz",
///     "user_oidc_token": "eyJ-secret",
///     "mcp_servers": [{"name": "crm", "api_key": "mcp-secret",
///                      "headers": {"Authorization": "Bearer h-secret"}}],
///     "payload_extension": null,
///     "tokens": {"prompt_tokens": 12}
/// });
/// xpander_sdk::redact::redact_credentials(&mut task);
/// assert_eq!(task["user_oidc_token"], "<redacted>");
/// assert_eq!(task["mcp_servers"][0]["api_key"], "<redacted>");
/// assert_eq!(task["mcp_servers"][0]["headers"]["Authorization"], "<redacted>");
/// assert_eq!(task["mcp_servers"][0]["name"], "crm");
/// assert!(task["payload_extension"].is_null());
/// assert_eq!(task["tokens"]["prompt_tokens"], 12);
/// ```
pub fn redact_credentials(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if is_credential_key(key) {
                    redact_whole(member);
                } else {
                    redact_credentials(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_credentials),
        _ => {}
    }
}

/// A credential's value: an object keeps its keys, anything else but
/// `null` becomes `"<redacted>"`.
fn redact_whole(value: &mut Value) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for member in map.values_mut().filter(|v| !v.is_null()) {
                *member = Value::String(REDACTED.into());
            }
        }
        other => *other = Value::String(REDACTED.into()),
    }
}

/// How a secret field shows in `Debug`.
pub(crate) trait RedactDebug {
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl RedactDebug for String {
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{REDACTED:?}")
    }
}

impl RedactDebug for Value {
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Object(map) => map.fmt_redacted(f),
            _ => write!(f, "{REDACTED:?}"),
        }
    }
}

impl RedactDebug for Map<String, Value> {
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys().map(|k| (k, Shown(REDACTED))))
            .finish()
    }
}

impl<T: RedactDebug> RedactDebug for Option<T> {
    fn fmt_redacted(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            None => f.write_str("None"),
            Some(v) => f.debug_tuple("Some").field(&Redacted(v)).finish(),
        }
    }
}

/// `Debug` of a secret field.
pub(crate) struct Redacted<'a, T>(pub(crate) &'a T);

impl<T: RedactDebug> fmt::Debug for Redacted<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_redacted(f)
    }
}

/// A text shown as is, without quotes.
struct Shown<'a>(&'a str);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// How a model field shows in `Debug` (fields not marked secret): free-form
/// JSON with the values of credential-looking keys redacted at any depth,
/// as `extra` is, and every other type as its own `Debug` shows it. Every
/// type a model field can have implements it, so that a free-form field
/// added later cannot be printed whole by mistake.
pub(crate) trait FieldDebug {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl FieldDebug for Value {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&RedactedValue(self), f)
    }
}

impl FieldDebug for Map<String, Value> {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&RedactedMap(self), f)
    }
}

impl<T: FieldDebug> FieldDebug for Option<T> {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            None => f.write_str("None"),
            Some(v) => f.debug_tuple("Some").field(&ShownField(v)).finish(),
        }
    }
}

impl<T: FieldDebug> FieldDebug for Vec<T> {
    fn fmt_field(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(ShownField)).finish()
    }
}

/// `Debug` of a model field, through [`FieldDebug`].
pub(crate) struct ShownField<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: FieldDebug + ?Sized> fmt::Debug for ShownField<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_field(f)
    }
}

/// `Debug` of a free-form object: credential-looking keys redacted at any depth.
pub(crate) struct RedactedMap<'a>(pub(crate) &'a Map<String, Value>);

impl fmt::Debug for RedactedMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_map();
        for (key, value) in self.0 {
            if is_credential_key(key) && !value.is_null() {
                d.entry(key, &Shown(REDACTED));
            } else {
                d.entry(key, &RedactedValue(value));
            }
        }
        d.finish()
    }
}

/// `Debug` of a free-form value: credential-looking keys redacted at any depth.
pub(crate) struct RedactedValue<'a>(pub(crate) &'a Value);

impl fmt::Debug for RedactedValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Object(map) => RedactedMap(map).fmt(f),
            Value::Array(items) => f
                .debug_list()
                .entries(items.iter().map(RedactedValue))
                .finish(),
            other => fmt::Debug::fmt(other, f),
        }
    }
}

/// A URL with its `user:password@` part replaced by `<redacted>@`.
///
/// Everything before the last `@` goes, not only what comes before the
/// first `/`, `?` or `#`: a password with one of them unencoded is a
/// mistake this text is shown for (in the error refusing it). A proxy URL
/// has no path worth showing.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = match rest.rsplit_once('@') {
        Some((_, after)) => format!("<redacted>@{after}"),
        None => rest.to_string(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest,
    }
}

/// Replaces every occurrence of `secret` in `text` (nothing for an empty secret).
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() || !text.contains(secret) {
        return text.to_owned();
    }
    text.replace(secret, REDACTED)
}

/// JSON text with the values of credential-looking keys replaced by
/// `"<redacted>"`. Works on broken or cut JSON: it only tokenizes strings
/// and brackets, so a value is redacted up to its end or the end of the text.
pub(crate) fn redact_json_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // bytes of `text` already copied to `out`
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i) != Some(&b'"') {
            i = i.saturating_add(1);
            continue;
        }
        let end = string_end(bytes, i);
        let key = text
            .get(i.saturating_add(1)..end.saturating_sub(1))
            .unwrap_or("");
        let mut j = end;
        while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
            j = j.saturating_add(1);
        }
        if bytes.get(j) == Some(&b':') && is_credential_key(&unescape(key)) {
            j = j.saturating_add(1);
            while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
                j = j.saturating_add(1);
            }
            let value_end = value_end(bytes, j);
            if value_end > j && text.get(j..value_end) != Some("null") {
                out.push_str(text.get(copied..j).unwrap_or(""));
                out.push('"');
                out.push_str(REDACTED);
                out.push('"');
                copied = value_end;
            }
            i = value_end.max(j);
        } else {
            i = end;
        }
    }
    out.push_str(text.get(copied..).unwrap_or(""));
    out
}

/// Enough unescaping to compare a key (`\u005f` style escapes of ASCII).
fn unescape(key: &str) -> String {
    if !key.contains('\\') {
        return key.to_owned();
    }
    serde_json::from_str::<String>(&format!("\"{key}\"")).unwrap_or_else(|_| key.to_owned())
}

/// The index just past the string starting at `start` (a `"`), or the end.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start.saturating_add(1);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i = i.saturating_add(2),
            b'"' => return i.saturating_add(1),
            _ => i = i.saturating_add(1),
        }
    }
    bytes.len()
}

/// The index just past the JSON value starting at `start`: a string, a
/// bracketed value (to its matching bracket), or a scalar (to `,` `}` `]`).
fn value_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        None => start,
        Some(b'"') => string_end(bytes, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = start;
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'"' => {
                        i = string_end(bytes, i);
                        continue;
                    }
                    b'{' | b'[' => depth = depth.saturating_add(1),
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i.saturating_add(1);
                        }
                    }
                    _ => {}
                }
                i = i.saturating_add(1);
            }
            bytes.len()
        }
        Some(_) => {
            let mut i = start;
            while let Some(&b) = bytes.get(i) {
                if matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace() {
                    break;
                }
                i = i.saturating_add(1);
            }
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_keys() {
        for key in [
            "api_key",
            "X-Api-Key",
            "user_oidc_token",
            "access_token",
            "client_secret",
            "Authorization",
            "headers",
            "env_vars",
            "payload_extension",
            "user_tokens",
            "db_password",
        ] {
            assert!(is_credential_key(key), "{key}");
        }
        for key in [
            "id",
            "status",
            "result",
            "input",
            "text",
            "title",
            "tokens",
            "prompt_tokens",
        ] {
            assert!(!is_credential_key(key), "{key}");
        }
    }

    #[test]
    fn credentials_are_redacted_at_any_depth_and_the_rest_kept() {
        let mut v = serde_json::json!({
            "id": "t",
            "user_tokens": {"github": "u-s3cret", "none": null},
            "extra_field": {"deep": [{"refresh_token": "r-s3cret", "n": 1}]},
            "env_vars": {"DB": {"password": "e-s3cret"}},
            "data": {"type": "token_ready", "data": {"access_token": "a-s3cret"}},
            "key": ["k-s3cret"],
            "client_secret": 42,
            "result": "ok",
            "usage": {"tokens": 3, "completion_tokens": 2}
        });
        redact_credentials(&mut v);
        let text = v.to_string();
        for secret in [
            "u-s3cret", "r-s3cret", "e-s3cret", "a-s3cret", "k-s3cret", "42",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(v["user_tokens"]["github"], REDACTED);
        assert!(v["user_tokens"]["none"].is_null());
        assert_eq!(v["env_vars"]["DB"], REDACTED);
        assert_eq!(v["extra_field"]["deep"][0]["n"], 1);
        assert_eq!(v["data"]["type"], "token_ready");
        assert_eq!(v["key"], REDACTED);
        assert_eq!(v["result"], "ok");
        assert_eq!(
            v["usage"],
            serde_json::json!({"tokens": 3, "completion_tokens": 2})
        );
    }

    #[test]
    fn json_text_is_redacted_even_when_broken() {
        let text = r#"{"id":"t","user_oidc_token":"oidc-s3cret","mcp_servers":[{"api_key":"mcp-s3cret","headers":{"Authorization":"Bearer h-s3cret"}}],"user_tokens":{"a":"u-s3cret"},"payload_extension":null,"result":"ok","created_at": 12"#;
        let out = redact_json_text(text);
        for secret in ["oidc-s3cret", "mcp-s3cret", "h-s3cret", "u-s3cret"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains(r#""result":"ok""#));
        assert!(out.contains(r#""payload_extension":null"#));
        // Cut inside a secret value: still redacted.
        let cut = r#"{"id":"t","user_oidc_token":"oidc-s3c"#;
        assert!(!redact_json_text(cut).contains("oidc-s3c"));
        let cut = r#"{"headers":{"x":"h-s3c"#;
        assert!(!redact_json_text(cut).contains("h-s3c"));
        // Escaped key names are matched.
        let escaped = r#"{"api\u005fkey":"e-s3cret"}"#;
        assert!(!redact_json_text(escaped).contains("e-s3cret"));
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "",
            "\"",
            "\"a\":",
            "{\"token\":",
            "{\"token\":\"\\",
            "é\"🦀\":\"x",
            "{\"key\":[[[[",
        ] {
            let _ = redact_json_text(text);
        }
    }

    #[test]
    fn scrub_replaces_the_secret() {
        assert_eq!(
            scrub("key=abc123; again abc123", "abc123"),
            "key=<redacted>; again <redacted>"
        );
        assert_eq!(scrub("nothing", ""), "nothing");
    }
}
