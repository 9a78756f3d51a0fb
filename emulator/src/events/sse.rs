//! The writer of an event stream (`text/event-stream`), for any feed: it
//! takes frames from a channel, frames them, and owns what belongs to one
//! response (keep-alives, the `retry:` hint, its mid-stream fault).
//!
//! # On the wire
//!
//! `200`, `content-type: text/event-stream`, `cache-control: no-store`,
//! `transfer-encoding: chunked` and `connection: close`: each frame is one
//! chunk, flushed at once. A stream that ends normally (its feed is done,
//! e.g. after `task_finished`) sends the last, empty chunk and then closes;
//! a dropped stream (fault) closes without it, so a client can tell the two
//! apart. The connection is never reused after a stream.
//!
//! Frames: `retry: <ms>` once at the start when configured; events as
//! `event: NAME` (when the event has one: the agent stream's do), `id: N`
//! (when the event has one: a task stream's do) and one `data:` line of
//! JSON, each frame ending with a blank line; `: keep-alive` comments whenever nothing
//! was sent for the keep-alive interval. Lines end in `\n`.
//!
//! The writer watches the socket too: a client that hangs up ends the
//! stream at once, not at the next write.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use std::{fmt, io};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::faults::state::Pause;
use crate::faults::{MalformedFrame, StreamFault};
use crate::http::{head, x_string_blocks, Resp};
use crate::state::Shared;

/// How many frames a feed may be ahead of the writer (a stalled stream
/// makes its feed wait; the feed reads the task's log at its own pace).
const FEED_AHEAD: usize = 64;

/// One frame a feed sends.
pub(crate) struct Frame {
    /// The SSE `event:`; none on a task's stream.
    name: Option<String>,
    /// The SSE `id:`; none for the handshake and on the agent stream.
    id: Option<u64>,
    /// The `data:` payload (JSON text).
    data: String,
}

impl Frame {
    pub(crate) fn event(id: Option<u64>, envelope: &Value) -> Frame {
        Frame {
            name: None,
            id,
            data: envelope.to_string(),
        }
    }

    /// An event named `name` with this `data` text, without an id.
    pub(crate) fn named(name: &str, data: String) -> Frame {
        Frame {
            name: Some(name.to_string()),
            id: None,
            data,
        }
    }

    /// The frame's bytes: `event: NAME\n`, `id: N\n`, a `data:` line per
    /// line of the payload (JSON text has none but one), a blank line.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        if let Some(name) = &self.name {
            out.push_str(&format!("event: {name}\n"));
        }
        if let Some(id) = self.id {
            out.push_str(&format!("id: {id}\n"));
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out.into_bytes()
    }
}

/// What feeds a stream: a task's events ([`super::task`]), a worker's
/// ([`crate::agents::stream`]) or an invoke's ([`crate::public`]); each
/// lives with its route, which hands it to the writer.
pub(crate) trait Feed: Send {
    /// The bad frames of a malformed-frame fault on this stream.
    fn bad_frames(&self) -> BadFrames;

    /// Sends the stream's frames into `tx` until the stream ends (or the
    /// writer is gone).
    fn run<'a>(self: Box<Self>, shared: &'a Shared, tx: mpsc::Sender<Frame>) -> Run<'a>;
}

/// What [`Feed::run`] returns.
pub(crate) type Run<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The bytes of the [`MalformedFrame`]s of one stream, each a whole frame.
#[derive(Debug)]
pub(crate) struct BadFrames {
    /// [`MalformedFrame::NotJson`]: a `data:` line that is not JSON.
    pub not_json: Vec<u8>,
    /// [`MalformedFrame::NoType`]: an event without what names its kind.
    pub no_type: Vec<u8>,
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

/// A streamed answer: its feed, and the response's mid-stream fault.
pub(crate) struct SseReply {
    feed: Box<dyn Feed>,
    bad: BadFrames,
    fault: Option<(u64, StreamFault)>,
    /// The `retry:` field sent first, in place of the configured one.
    retry: Option<Duration>,
}

impl fmt::Debug for SseReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseReply")
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

impl SseReply {
    pub(crate) fn new(feed: impl Feed + 'static) -> SseReply {
        SseReply {
            bad: feed.bad_frames(),
            feed: Box::new(feed),
            fault: None,
            retry: None,
        }
    }

    /// Opens the stream with `retry: <ms>` (a fault's), whatever the
    /// emulator's own setting.
    pub(crate) fn with_retry(mut self, retry: Option<Duration>) -> SseReply {
        if retry.is_some() {
            self.retry = retry;
        }
        self
    }

    /// Applies `fault` once `after` events of this response are out.
    pub(crate) fn with_fault(mut self, after: u64, fault: StreamFault) -> SseReply {
        self.fault = Some((after, fault));
        self
    }
}

/// Writes one HTTP chunk and flushes it.
async fn chunk<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    w.write_all(&out).await?;
    w.flush().await
}

/// Serves a streamed answer until its feed is done, the client hangs up, or
/// a fault ends it. The connection is closed afterwards.
pub(crate) async fn write<S>(stream: &mut S, shared: &Shared, reply: SseReply)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let SseReply {
        feed,
        bad,
        fault,
        retry,
    } = reply;
    let (tx, rx) = mpsc::channel(FEED_AHEAD);
    let produce = feed.run(shared, tx);
    let retry = retry.or(shared.config.sse_retry);
    let send = send_frames(stream, shared, rx, &bad, fault, retry);
    tokio::pin!(produce, send);
    let mut producing = true;
    loop {
        tokio::select! {
            () = &mut produce, if producing => producing = false,
            () = &mut send => return,
        }
    }
}

/// The head, then every frame of `rx` with keep-alives between, until `rx`
/// ends (a normal end), the client hangs up, or the fault drops the stream.
async fn send_frames<S>(
    stream: &mut S,
    shared: &Shared,
    mut rx: mpsc::Receiver<Frame>,
    bad: &BadFrames,
    mut fault: Option<(u64, StreamFault)>,
    retry: Option<Duration>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut resp = Resp::bytes(200, Vec::new());
    resp.content_type = "text/event-stream".into();
    resp.headers.push(("cache-control", "no-store".into()));
    if wr.write_all(&head(&resp, None, true)).await.is_err() {
        return;
    }
    if let Some(retry) = retry {
        let hint = format!("retry: {}\n\n", retry.as_millis());
        if chunk(&mut wr, hint.as_bytes()).await.is_err() {
            return;
        }
    }
    let keep_alive = shared.config.keep_alive;
    let mut sent = 0u64;
    let mut probe = [0u8; 512];
    loop {
        if !fault_point(&mut wr, shared, &mut fault, sent, bad).await {
            return;
        }
        let frame = tokio::select! {
            frame = rx.recv() => frame,
            () = tokio::time::sleep(keep_alive.unwrap_or_default()), if keep_alive.is_some() => {
                if chunk(&mut wr, b": keep-alive\n\n").await.is_err() {
                    return;
                }
                continue;
            }
            read = rd.read(&mut probe) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
        };
        let Some(frame) = frame else {
            let _ = wr.write_all(b"0\r\n\r\n").await;
            let _ = wr.flush().await;
            return;
        };
        if chunk(&mut wr, &frame.encode()).await.is_err() {
            return;
        }
        sent += 1;
    }
}

/// Applies the response's fault when `sent` events are out; false when the
/// stream ends here.
async fn fault_point<W: AsyncWrite + Unpin>(
    wr: &mut W,
    shared: &Shared,
    fault: &mut Option<(u64, StreamFault)>,
    sent: u64,
    bad: &BadFrames,
) -> bool {
    let Some((_, f)) = fault.take_if(|(after, _)| *after == sent) else {
        return true;
    };
    match f {
        StreamFault::Drop => false,
        StreamFault::Stall(d) => {
            let pause = d.map_or(Pause::UntilReleased, Pause::For);
            shared.faults.pause(Some(pause)).await;
            true
        }
        StreamFault::Malformed(MalformedFrame::NotJson) => chunk(wr, &bad.not_json).await.is_ok(),
        StreamFault::Malformed(MalformedFrame::NoType) => chunk(wr, &bad.no_type).await.is_ok(),
        StreamFault::OversizedLine(n) => oversized_line(wr, n).await.is_ok(),
    }
}

/// One event whose `data:` line is `n` bytes long (at least `data: `).
async fn oversized_line<W: AsyncWrite + Unpin>(wr: &mut W, n: u64) -> io::Result<()> {
    chunk(wr, b"data: ").await?;
    for block in x_string_blocks(n.saturating_sub(6)) {
        chunk(wr, &block).await?;
    }
    chunk(wr, b"\n\n").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_id_and_one_data_line_per_line() {
        let f = Frame::event(Some(7), &serde_json::json!({"data": "a\nb"}));
        assert_eq!(
            String::from_utf8(f.encode()).unwrap(),
            "id: 7\ndata: {\"data\":\"a\\nb\"}\n\n"
        );
        let odd = Frame {
            name: None,
            id: None,
            data: "x\ny".into(),
        };
        assert_eq!(odd.encode(), b"data: x\ndata: y\n\n");
    }

    #[tokio::test]
    async fn chunks_are_hex_sized_and_never_empty() {
        let mut out = Vec::new();
        chunk(&mut out, &[b'a'; 26]).await.unwrap();
        chunk(&mut out, b"").await.unwrap();
        assert_eq!(out, b"1a\r\naaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
}
