//! The server's thread (a two-worker tokio runtime of its own, so the
//! emulator works from plain synchronous tests and from inside any tokio
//! runtime alike), its accept loop and its connections: a request's head and
//! body read, routed, and its [`Reply`] written.

use std::io;
use std::net::TcpListener as StdListener;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::events::sse::{self, Reply};
use crate::http::parse::{parse_head, Parsed};
use crate::http::{head, x_string_blocks, Req, Resp};
use crate::state::Shared;

const MAX_HEAD: usize = 64 * 1024;

/// Serves `listener` on a new thread until `shutdown` turns true; returns
/// once the runtime is up, or with why it could not start.
pub(crate) fn spawn(
    listener: StdListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> io::Result<JoinHandle<()>> {
    let port = listener.local_addr()?.port();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let thread = std::thread::Builder::new()
        .name(format!("xpander-emulator-{port}"))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("xpander-emulator-worker")
                .enable_io()
                .enable_time()
                .build();
            let rt = match rt {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        if let Some(after) = shared.config.orphan_after {
                            tokio::spawn(crate::agents::handle::reap_orphans(
                                shared.clone(),
                                after,
                            ));
                        }
                        let _ = ready_tx.send(Ok(()));
                        serve(listener, shared, shutdown).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
        })?;
    let started = ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("emulator thread failed to start")));
    match started {
        Ok(()) => Ok(thread),
        Err(e) => {
            let _ = thread.join();
            Err(e)
        }
    }
}

/// Accepts connections until `shutdown` turns true.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
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

/// Serves one accepted connection: through a TLS handshake first when the
/// server has an identity. A failed handshake (a client that does not trust
/// the root, plain HTTP sent to https) just ends the connection.
async fn connection(stream: TcpStream, shared: &Shared) {
    match shared.config.tls.as_deref() {
        None => http_connection(stream, shared).await,
        #[cfg(feature = "tls")]
        Some(tls) => {
            if let Ok(stream) = tls.acceptor.accept(stream).await {
                tls.handshakes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                http_connection(stream, shared).await;
            }
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match *never {},
    }
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
async fn http_connection<S>(mut stream: S, shared: &Shared)
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

    #[tokio::test]
    async fn a_truncated_reply_announces_more_than_it_sends() {
        let mut out = Vec::new();
        let resp = Resp::bytes(200, b"0123456789".to_vec());
        assert!(!write_plain(&mut out, Reply::Truncated(resp), true).await);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 10\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n01234"), "{text}");
    }
}
