//! HTTP/1.1 by hand: request heads, answers, and (with [`crate::server`]'s
//! connection loop) the faults that live below HTTP.
//!
//! # Why by hand, not hyper
//!
//! The emulator exists to misbehave precisely. Several faults are about bytes
//! on the socket, not about HTTP semantics: an answer whose head announces the
//! full `content-length` and whose body stops half-way before the connection
//! closes ([`Reply::Truncated`]), a connection closed after the request was
//! read and logged, without a byte of answer ([`Reply::Close`]), a body of an
//! exact size streamed in blocks ([`Reply::Oversized`]). Malformed input also
//! gets the service's JSON shape (`{"detail": ...}` with 400, 411, 413, 431)
//! and then a closed connection, which the tests check. hyper's server would
//! answer malformed heads itself (bodiless 400/431), accept chunked bodies
//! transparently, and expresses a truncated body only as an aborted stream
//! whose bytes on the wire are up to its buffering. Here parsing is
//! `httparse` (a maintained parser; no hand-written header tokenizer) and the
//! rest is a small loop over any `AsyncRead + AsyncWrite` stream, so TLS can
//! be put under it later without touching the faults.
//!
//! A route answers with a [`Reply`]; a streaming answer (server-sent events)
//! is [`Reply::Stream`], written chunk by chunk by [`crate::events::sse`].
//!
//! [`Reply`]: crate::events::sse::Reply
//! [`Reply::Truncated`]: crate::events::sse::Reply::Truncated
//! [`Reply::Close`]: crate::events::sse::Reply::Close
//! [`Reply::Oversized`]: crate::events::sse::Reply::Oversized
//! [`Reply::Stream`]: crate::events::sse::Reply::Stream

pub(crate) mod parse;

use std::borrow::Cow;

use serde_json::{json, Value};

/// A complete answer: status, content type, extra headers and body.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub status: u16,
    pub content_type: Cow<'static, str>,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Resp {
    pub(crate) fn bytes(status: u16, body: Vec<u8>) -> Resp {
        Resp {
            status,
            content_type: "application/json".into(),
            body,
            headers: Vec::new(),
        }
    }

    pub(crate) fn json(status: u16, v: &Value) -> Resp {
        Resp::bytes(status, serde_json::to_vec(v).unwrap_or_default())
    }

    /// `{"detail": msg}`, the service's shape for every error but 422.
    pub(crate) fn detail(status: u16, msg: &str) -> Resp {
        Resp::json(status, &json!({ "detail": msg }))
    }
}

/// A parsed request, borrowed from the connection's buffer.
pub(crate) struct Req<'a> {
    pub method: &'a str,
    /// The raw target: path and query, not decoded.
    pub target: &'a str,
    /// Names lowercased, in arrival order.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Req<'_> {
    /// The first value of a header (`name` lowercase).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query, without `?`.
    pub(crate) fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
}

/// The reason phrase, from the `http` crate's table.
fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status")
}

/// An answer's head; no `content_length` means a chunked body.
pub(crate) fn head(resp: &Resp, content_length: Option<u64>, close: bool) -> Vec<u8> {
    let framing = match content_length {
        // 204 has no body and no framing (RFC 9110, 8.6).
        _ if resp.status == 204 => String::new(),
        Some(n) => format!(
            "content-type: {}\r\ncontent-length: {n}\r\n",
            resp.content_type
        ),
        None => format!(
            "content-type: {}\r\ntransfer-encoding: chunked\r\n",
            resp.content_type
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n{framing}server: xpander-emulator\r\n",
        resp.status,
        reason(resp.status),
    )
    .into_bytes();
    for (k, v) in &resp.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `n` bytes of a JSON string of `x`s (only `x`s when `n < 2`), in blocks.
pub(crate) fn x_string_blocks(n: u64) -> impl Iterator<Item = Vec<u8>> {
    const BLOCK: u64 = 64 * 1024;
    let mut sent = 0u64;
    std::iter::from_fn(move || {
        if sent >= n {
            return None;
        }
        let take = (n - sent).min(BLOCK);
        let mut piece = vec![b'x'; usize::try_from(take).unwrap_or(0)];
        if n >= 2 && sent == 0 {
            if let Some(b) = piece.first_mut() {
                *b = b'"';
            }
        }
        if n >= 2 && sent + take == n {
            if let Some(b) = piece.last_mut() {
                *b = b'"';
            }
        }
        sent += take;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_phrases_come_from_the_http_table() {
        assert_eq!(reason(422), "Unprocessable Entity");
        assert_eq!(reason(404), "Not Found");
        assert_eq!(reason(599), "Status");
    }

    #[test]
    fn x_strings_are_exact_and_quoted() {
        let join = |n| x_string_blocks(n).collect::<Vec<_>>().concat();
        assert_eq!(join(0), b"");
        assert_eq!(join(1), b"x");
        assert_eq!(join(4), b"\"xx\"");
        let big = join(64 * 1024 + 3);
        assert_eq!(big.len(), 64 * 1024 + 3);
        assert!(serde_json::from_slice::<String>(&big).is_ok());
    }
}
