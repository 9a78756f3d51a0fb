//! The HTTP/1.1 connection layer: accept loop, request heads, answers, and the
//! faults that live below HTTP.
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

mod parse;

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::events::sse::{self, SseReply};
use crate::server::Shared;
use parse::{parse_head, Parsed};

const MAX_HEAD: usize = 64 * 1024;

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

/// What the connection does with a request: the answer and its faults.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Write the answer; keep the connection when the client wants it.
    Full(Resp),
    /// Write the head (full `content-length`) and half the body, then close.
    Truncated(Resp),
    /// Answer 200 with a body of exactly this many bytes.
    Oversized(u64),
    /// Close without answering.
    Close,
    /// An event stream; the connection closes when it ends.
    Stream(Box<SseReply>),
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

/// Accepts connections until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else {
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                };
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let mut stop = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = crate::tls::connection(stream, &shared) => {}
                    }
                });
            }
        }
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

/// Writes an error answer and closes.
async fn fail<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, msg: &str) {
    let resp = Resp::detail(status, msg);
    let mut out = head(&resp, Some(resp.body.len() as u64), true);
    out.extend_from_slice(&resp.body);
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}

/// Reads more bytes into `buf`; false at EOF or on an error.
async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>, chunk: &mut [u8]) -> bool {
    match stream.read(chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
            true
        }
    }
}

/// Serves one connection until it closes or errs. Generic over the stream so
/// a TLS stream can be served the same way.
pub(crate) async fn connection<S>(mut stream: S, shared: &Shared)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let head = loop {
            if !buf.is_empty() {
                match parse_head(&buf) {
                    Parsed::Done(h) => break h,
                    Parsed::Error(status, msg) => return fail(&mut stream, status, msg).await,
                    Parsed::Partial if buf.len() > MAX_HEAD => {
                        return fail(&mut stream, 431, "Request head too large").await
                    }
                    Parsed::Partial => {}
                }
            }
            if !fill(&mut stream, &mut buf, &mut chunk).await {
                return;
            }
        };
        if head.chunked {
            let msg = "Chunked request bodies are not supported; send Content-Length";
            return fail(&mut stream, 411, msg).await;
        }
        if head.content_length > shared.config.max_body {
            return fail(&mut stream, 413, "Request body too large").await;
        }
        let total = head.len + head.content_length;
        if buf.len() < total && head.expect_continue {
            let cont = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
            if cont.is_err() {
                return;
            }
        }
        while buf.len() < total {
            if !fill(&mut stream, &mut buf, &mut chunk).await {
                return;
            }
        }
        let req = Req {
            method: &head.method,
            target: &head.target,
            headers: &head.headers,
            body: buf.get(head.len..total).unwrap_or(&[]),
        };
        let reply = crate::routes::dispatch(shared, &req).await;
        buf.drain(..total.min(buf.len()));
        if !write_reply(&mut stream, shared, reply, head.keep_alive).await {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Writes `reply`; true when the connection stays open for the next request.
async fn write_reply<S>(stream: &mut S, shared: &Shared, reply: Reply, keep_alive: bool) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    match reply {
        Reply::Stream(s) => {
            sse::write(stream, shared, *s).await;
            false
        }
        other => write_plain(stream, other, keep_alive).await,
    }
}

/// Writes an answer that is not a stream; true when the connection stays open.
async fn write_plain<S: AsyncWrite + Unpin>(
    stream: &mut S,
    reply: Reply,
    keep_alive: bool,
) -> bool {
    match reply {
        Reply::Full(resp) => {
            let mut out = head(&resp, Some(resp.body.len() as u64), !keep_alive);
            out.extend_from_slice(&resp.body);
            stream.write_all(&out).await.is_ok() && keep_alive
        }
        Reply::Close | Reply::Stream(_) => false,
        Reply::Truncated(resp) => {
            let mut out = head(&resp, Some(resp.body.len() as u64), true);
            out.extend_from_slice(resp.body.get(..resp.body.len() / 2).unwrap_or(&[]));
            let _ = stream.write_all(&out).await;
            let _ = stream.flush().await;
            false
        }
        Reply::Oversized(n) => write_oversized(stream, n, keep_alive).await && keep_alive,
    }
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

/// A 200 whose body is `n` bytes: a JSON string of `x`s when `n >= 2`.
async fn write_oversized<S: AsyncWrite + Unpin>(stream: &mut S, n: u64, keep_alive: bool) -> bool {
    let h = head(&Resp::bytes(200, Vec::new()), Some(n), !keep_alive);
    if stream.write_all(&h).await.is_err() {
        return false;
    }
    for piece in x_string_blocks(n) {
        if stream.write_all(&piece).await.is_err() {
            return false;
        }
    }
    true
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

    #[tokio::test]
    async fn a_truncated_reply_announces_more_than_it_sends() {
        let mut out = Vec::new();
        let resp = Resp::bytes(200, b"0123456789".to_vec());
        assert!(!write_plain(&mut out, Reply::Truncated(resp), true).await);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 10\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n01234"), "{text}");
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
