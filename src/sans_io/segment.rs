//! Task, agent and user ids as exactly one URL path segment.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{Error, Result};

/// Everything but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`)
/// is percent-encoded, so an id can never add a segment, a query or a fragment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes `value` as one path segment. Empty, `.` and `..` are refused:
/// they would name another resource once the URL is normalised.
pub(crate) fn encode(name: &'static str, value: &str) -> Result<String> {
    match value {
        "" => Err(Error::invalid(name, "must not be empty")),
        "." | ".." => Err(Error::invalid(
            name,
            format!("{value:?} is not a usable id: it would change the URL path"),
        )),
        _ => Ok(utf8_percent_encode(value, SEGMENT).to_string()),
    }
}

/// Encodes a query-string component (key or value).
pub(crate) fn encode_query(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Appends `?key=value&...` to `url` for each pair with a value, each value
/// percent-encoded as a query component (the one query writer of the
/// Tasks API's lists and the public API's pages).
pub(crate) fn push_query(url: &mut String, pairs: &[(&str, Option<&str>)]) {
    let mut sep = '?';
    for (key, value) in pairs {
        if let Some(value) = value {
            url.push(sep);
            url.push_str(key);
            url.push('=');
            url.push_str(&encode_query(value));
            sep = '&';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_unchanged() {
        assert_eq!(encode("task_id", "task_xyz").unwrap(), "task_xyz");
        assert_eq!(
            encode("task_id", "5f1c2a9e-8d7b-4c3e-9a41-0b6d2e7f8a13").unwrap(),
            "5f1c2a9e-8d7b-4c3e-9a41-0b6d2e7f8a13"
        );
    }

    #[test]
    fn hostile_ids_stay_one_segment() {
        assert_eq!(encode("task_id", "../x").unwrap(), "..%2Fx");
        assert_eq!(encode("task_id", "a/b?c#d").unwrap(), "a%2Fb%3Fc%23d");
        assert_eq!(encode("task_id", "100%").unwrap(), "100%25");
        assert_eq!(encode("task_id", "é ü").unwrap(), "%C3%A9%20%C3%BC");
        assert_eq!(encode("task_id", "...").unwrap(), "...");
    }

    #[test]
    fn unusable_ids_are_refused() {
        for id in ["", ".", ".."] {
            let err = encode("task_id", id).unwrap_err();
            assert!(matches!(
                err,
                Error::InvalidArgument {
                    name: "task_id",
                    ..
                }
            ));
        }
    }
}
