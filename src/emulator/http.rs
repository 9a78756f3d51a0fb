//! The HTTP/1.1 connection layer: accept loop, request parsing, response writing.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::fault::FaultAction;
use super::state::{Injected, Pause, Req, Resp, Shared};

const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

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
                        _ = connection(stream, &shared) => {}
                    }
                });
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    crate::error::reason_phrase(status).unwrap_or("Status")
}

fn head(resp: &Resp, content_length: u64, close: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + resp.body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(resp.status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(resp.status).as_bytes());
    out.extend_from_slice(b"\r\ncontent-type: ");
    out.extend_from_slice(resp.content_type.as_bytes());
    out.extend_from_slice(b"\r\ncontent-length: ");
    out.extend_from_slice(content_length.to_string().as_bytes());
    out.extend_from_slice(b"\r\nserver: xpander-emulator\r\n");
    for (k, v) in &resp.extra_headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

async fn write_resp(stream: &mut TcpStream, resp: &Resp, close: bool) -> std::io::Result<()> {
    let mut out = head(resp, resp.body.len() as u64, close);
    out.extend_from_slice(&resp.body);
    stream.write_all(&out).await
}

/// Writes an error answer and signals the caller to close.
async fn fail(stream: &mut TcpStream, status: u16, msg: &str) {
    let _ = write_resp(stream, &Resp::detail(status, msg), true).await;
    let _ = stream.shutdown().await;
}

struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    keep_alive: bool,
    content_length: usize,
    chunked: bool,
    expect_continue: bool,
    len: usize,
}

enum Parsed {
    Partial,
    Done(Head),
    Error(u16, &'static str),
}

fn parse_head(buf: &[u8]) -> Parsed {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut hs);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Error(431, "Too many headers"),
        Err(_) => return Parsed::Error(400, "Malformed HTTP request"),
    };
    let (Some(method), Some(target), Some(version)) = (r.method, r.path, r.version) else {
        return Parsed::Error(400, "Malformed HTTP request");
    };
    let mut keep_alive = version >= 1;
    let mut content_length = 0usize;
    let mut saw_length = false;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut headers = Vec::with_capacity(r.headers.len());
    for h in r.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(h.value).trim().to_string();
        match name.as_str() {
            "content-length" => {
                let Ok(n) = value.parse::<usize>() else {
                    return Parsed::Error(400, "Invalid Content-Length");
                };
                if saw_length && n != content_length {
                    return Parsed::Error(400, "Conflicting Content-Length");
                }
                saw_length = true;
                content_length = n;
            }
            "transfer-encoding" if !value.eq_ignore_ascii_case("identity") => chunked = true,
            "connection" => {
                for tok in value.split(',') {
                    let tok = tok.trim();
                    if tok.eq_ignore_ascii_case("close") {
                        keep_alive = false;
                    } else if tok.eq_ignore_ascii_case("keep-alive") {
                        keep_alive = true;
                    }
                }
            }
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
        headers.push((name, value));
    }
    Parsed::Done(Head {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        keep_alive,
        content_length,
        chunked,
        expect_continue,
        len,
    })
}

/// Serves one connection until it closes or errs.
async fn connection(mut stream: TcpStream, shared: &Shared) {
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Read a complete head.
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
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            }
        };
        if head.chunked {
            return fail(
                &mut stream,
                411,
                "Chunked request bodies are not supported; send Content-Length",
            )
            .await;
        }
        if head.content_length > shared.config.max_body {
            return fail(&mut stream, 413, "Request body too large").await;
        }
        let total = head.len + head.content_length;
        if buf.len() < total
            && head.expect_continue
            && stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        while buf.len() < total {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            }
        }
        let body = buf.get(head.len..total).unwrap_or(&[]);
        let keep_alive = head.keep_alive;
        let outcome = process(shared, &head, body).await;
        buf.drain(..total.min(buf.len()));
        match outcome {
            Outcome::Answer(resp) => {
                if write_resp(&mut stream, &resp, !keep_alive).await.is_err() || !keep_alive {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
            Outcome::Close => return,
            Outcome::Truncated(resp) => {
                let mut out = head_of(&resp, resp.body.len() as u64, true);
                let part = resp.body.len() / 2;
                out.extend_from_slice(resp.body.get(..part).unwrap_or(&[]));
                let _ = stream.write_all(&out).await;
                let _ = stream.flush().await;
                let _ = stream.shutdown().await;
                return;
            }
            Outcome::Oversized(n) => {
                let resp = Resp::bytes(200, Vec::new());
                let h = head_of(&resp, n, !keep_alive);
                if stream.write_all(&h).await.is_err() {
                    return;
                }
                let block = vec![b'x'; 64 * 1024];
                let mut left = n;
                let mut first = true;
                while left > 0 {
                    let take = left.min(block.len() as u64) as usize;
                    let mut piece = block.get(..take).unwrap_or(&[]).to_vec();
                    if first && n >= 2 {
                        if let Some(b) = piece.first_mut() {
                            *b = b'"';
                        }
                    }
                    if left == take as u64 && n >= 2 {
                        if let Some(b) = piece.last_mut() {
                            *b = b'"';
                        }
                    }
                    first = false;
                    if stream.write_all(&piece).await.is_err() {
                        return;
                    }
                    left -= take as u64;
                }
                if !keep_alive {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        }
    }
}

fn head_of(resp: &Resp, len: u64, close: bool) -> Vec<u8> {
    head(resp, len, close)
}

enum Outcome {
    Answer(Resp),
    Close,
    Truncated(Resp),
    Oversized(u64),
}

async fn process(shared: &Shared, head: &Head, body: &[u8]) -> Outcome {
    let req = Req {
        method: &head.method,
        target: &head.target,
        headers: &head.headers,
        body,
    };
    let parsed: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(body).ok()
    };
    let path = head.target.split('?').next().unwrap_or("");
    if path.starts_with("/__emulator/") {
        return Outcome::Answer(shared.handle_control(&req, parsed));
    }
    shared.record(&req, parsed.as_ref());
    match shared.match_fault(&head.method, path) {
        Injected::None => Outcome::Answer(shared.handle_api(&req, parsed, None).await),
        Injected::Fault(action, retry_after) => match action {
            FaultAction::Respond {
                status,
                body,
                content_type,
            } => {
                let mut r = Resp::bytes(status, body);
                r.content_type = content_type.into();
                if let Some(ra) = retry_after {
                    r.extra_headers.push(("retry-after", ra));
                }
                Outcome::Answer(r)
            }
            FaultAction::Delay(d) => {
                Outcome::Answer(shared.handle_api(&req, parsed, Some(Pause::For(d))).await)
            }
            FaultAction::Hold => Outcome::Answer(
                shared
                    .handle_api(&req, parsed, Some(Pause::UntilReleased))
                    .await,
            ),
            FaultAction::CloseConnection => Outcome::Close,
            FaultAction::TruncateBody => {
                Outcome::Truncated(shared.handle_api(&req, parsed, None).await)
            }
            FaultAction::OversizedBody(n) => Outcome::Oversized(n),
            #[allow(unreachable_patterns)]
            _ => Outcome::Answer(shared.handle_api(&req, parsed, None).await),
        },
    }
}
