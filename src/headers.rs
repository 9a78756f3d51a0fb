//! The one header check, made where a caller hands a header in (the API
//! key in the configuration, [`crate::CallOptions::header`], a task's
//! `agent_version`), never again per request: the values are `http`
//! values from then on, which both transports take as they are.

use http::header::{HeaderName, HeaderValue};

/// Headers a caller may not set: the crate sets them itself, and changing
/// them would send the key elsewhere or break the framing.
const RESERVED: &[&str] = &[
    "x-api-key",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// `value` as the header `name`'s value: any text without a control
/// character but tab (UTF-8 goes as its bytes, as RFC 9110 allows for
/// opaque field bytes). Built from bytes: `HeaderValue::from_str` refuses
/// every non-ASCII character since `http` 1.6 (1.5 took them), so the
/// same value would pass or fail with the `http` version a user resolves.
/// A credential (`x-api-key`, `authorization`, a token) is marked
/// sensitive: never printed by the HTTP crates, never put in HTTP/2's
/// header compression table.
pub(crate) fn value(name: &str, value: &str) -> Result<HeaderValue, &'static str> {
    let mut value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
        "has a value with a control character (only tab, and no other character below U+0020 \
         nor DEL, may be sent in a header)"
    })?;
    if name == "x-api-key" || crate::redact::is_credential_key(name) {
        value.set_sensitive(true);
    }
    Ok(value)
}

/// What an error may show of a refused header `name`: the name when it is
/// valid, else only the valid characters before its first invalid one
/// (e.g. the `:` of `Authorization: Bearer …`), then `…`. Whatever follows
/// may be a value pasted into the name, a token.
pub(crate) fn shown_name(name: &str) -> String {
    let valid = name
        .bytes()
        .take_while(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        .count();
    match name.get(..valid) {
        Some(prefix) if valid < name.len() => format!("{prefix}…"),
        _ => name.to_owned(),
    }
}

/// A caller's extra header (lowercase name): a valid name the crate does
/// not set itself, and a [`value`].
pub(crate) fn extra(name: &str, text: &str) -> Result<(HeaderName, HeaderValue), &'static str> {
    let header =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| "is not a valid header name")?;
    if RESERVED.contains(&header.as_str()) {
        return Err("is set by the client itself and cannot be overridden");
    }
    Ok((header, value(name, text)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rules() {
        assert!(extra("x-trace-id", "abc\t1").is_ok());
        for name in ["x-api-key", "host", "content-length", "", "bad name", "a:b"] {
            assert!(extra(name, "v").is_err(), "{name}");
        }
        assert!(extra("x-a", "line\r\nx-api-key: stolen").is_err());
    }

    /// Whatever `http` version resolves (1.6 refuses non-ASCII in
    /// `from_str`): UTF-8 text is a value, a control character is not.
    #[test]
    fn non_ascii_values_are_sent_as_their_bytes() {
        for text in ["é-7", "agent/ünï 1.0", "日本語", "k\u{e9}y\u{80}"] {
            let header = value("x-agent-version", text).unwrap();
            assert_eq!(header.as_bytes(), text.as_bytes());
            assert!(extra("x-trace-id", text).is_ok(), "{text}");
        }
        assert!(value("x-api-key", "clé").unwrap().is_sensitive());
        for text in ["a\u{0}b", "a\nb", "a\u{7f}b", "é\r\nx: y"] {
            let why = value("x-a", text).unwrap_err();
            assert!(why.contains("control character"), "{why}");
        }
    }

    #[test]
    fn a_refused_name_is_shown_up_to_its_first_invalid_character() {
        assert_eq!(shown_name("authorization: bearer s3cret"), "authorization…");
        assert_eq!(shown_name("x-é-s3cret"), "x-…");
        assert_eq!(shown_name(" s3cret"), "…");
        assert_eq!(shown_name("x-api-key"), "x-api-key");
        assert_eq!(shown_name(""), "");
    }

    #[test]
    fn the_key_and_credential_headers_are_sensitive_others_are_not() {
        assert!(value("x-api-key", "k").unwrap().is_sensitive());
        assert!(extra("authorization", "Bearer s3cret")
            .unwrap()
            .1
            .is_sensitive());
        assert!(!extra("x-trace-id", "abc").unwrap().1.is_sensitive());
    }
}
