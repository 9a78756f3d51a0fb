//! What this crate deliberately sends differently from the official client.
//! Shared by the core's unit tests and the integration tests.

use serde_json::Value;

/// The body this crate sends for a save case of the wire file: the official
/// client's body less the keys it invented, at any depth, for fields the
/// server never sent (it writes its defaults for absent keys; this crate
/// sends back only what it read, plus what the caller changed), and with
/// numbers as they were read.
///
/// Panics (it is test code) if an invented key holds anything but a default
/// (`null`, `false`, `0`, `""`, `[]`, `{}`): then the difference would not
/// be an invented default but lost data.
pub fn save_body_we_send(official: &Value, read: &Value) -> Value {
    match (official, read) {
        (Value::Object(sent), Value::Object(read)) => Value::Object(
            sent.iter()
                .filter_map(|(key, value)| match read.get(key) {
                    Some(was) => Some((key.clone(), save_body_we_send(value, was))),
                    None => {
                        assert!(is_default(value), "{key}: {value} is not a default");
                        None
                    }
                })
                .collect(),
        ),
        // The official client rewrites numbers (`0` as `0.0`): this crate
        // sends the number as it was read.
        (Value::Number(sent), Value::Number(was)) if sent.as_f64() == was.as_f64() => {
            Value::Number(was.clone())
        }
        (sent, _) => sent.clone(),
    }
}

fn is_default(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
