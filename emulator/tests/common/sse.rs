//! A tiny event-stream client over the raw HTTP client: it undoes the
//! chunked framing itself (so a stream cut without its last chunk is seen as
//! such) and splits the body into SSE blocks (the lines up to a blank line).

use std::io::ErrorKind;
use std::time::Duration;

use serde_json::{json, Value};
use xpander_emulator::{Emulator, Fault};

use super::{Conn, Response};

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The last, empty chunk came, then the connection closed.
    Clean,
    /// The connection closed without the last chunk.
    Dropped,
}

/// One SSE block: its fields (a block with only a comment is a keep-alive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    /// The `event:` name (the agent stream's events have one).
    pub event: Option<String>,
    pub id: Option<u64>,
    /// The `data:` lines, joined with `\n`.
    pub data: Option<String>,
    pub comments: Vec<String>,
    pub retry: Option<u64>,
}

impl Block {
    fn parse(text: &str) -> Block {
        let mut b = Block::default();
        for line in text.split('\n') {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "" => b.comments.push(value.to_string()),
                "id" => b.id = Some(value.parse().expect("numeric id")),
                "event" => b.event = Some(value.to_string()),
                "retry" => b.retry = Some(value.parse().expect("numeric retry")),
                "data" => {
                    b.data = Some(match b.data.take() {
                        Some(prev) => format!("{prev}\n{value}"),
                        None => value.to_string(),
                    })
                }
                other => panic!("unexpected field {other:?} in {text:?}"),
            }
        }
        b
    }

    /// The `data` as JSON (the envelope).
    pub fn json(&self) -> Value {
        let data = self.data.as_deref().expect("a data line");
        serde_json::from_str(data).unwrap_or_else(|e| panic!("not JSON ({e}): {data}"))
    }

    /// The envelope's `type`.
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().expect("a type").to_string()
    }

    pub fn is_keep_alive(&self) -> bool {
        self.data.is_none() && self.comments == ["keep-alive"]
    }
}

/// An open event stream.
pub struct Sse {
    pub conn: Conn,
    pub head: Response,
    body: Vec<u8>,
    end: Option<End>,
}

impl Sse {
    /// `GET path` with the right key and these headers; the answer when it
    /// is not a stream.
    pub fn request(emu: &Emulator, path: &str, headers: &[(&str, &str)]) -> Result<Sse, Response> {
        let mut conn = Conn::open(emu);
        let mut all = vec![
            ("x-api-key", emu.api_key()),
            ("accept", "text/event-stream"),
            ("cache-control", "no-store"),
        ];
        all.extend_from_slice(headers);
        conn.send("GET", path, &all, None);
        Sse::after_request(conn)
    }

    /// The answer to the request just sent on `conn`: a stream, or the
    /// answer when it is not one.
    pub fn after_request(mut conn: Conn) -> Result<Sse, Response> {
        let head = conn.answer();
        if head.header("content-type") != Some("text/event-stream") {
            return Err(head);
        }
        assert_eq!(head.header("transfer-encoding"), Some("chunked"));
        assert!(head.header("content-length").is_none());
        Ok(Sse {
            conn,
            head,
            body: Vec::new(),
            end: None,
        })
    }

    /// As [`Sse::request`], expecting a stream.
    pub fn open(emu: &Emulator, path: &str, headers: &[(&str, &str)]) -> Sse {
        Sse::request(emu, path, headers)
            .unwrap_or_else(|r| panic!("not a stream: {} {:?}", r.status, r.body))
    }

    /// Reads more bytes; false at EOF. A read timeout fails the test.
    fn fill(&mut self) -> bool {
        match self.conn.fill() {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the stream sent nothing for the read timeout")
            }
            Err(_) => false,
        }
    }

    /// Moves one chunk into the body; false once the stream has ended.
    fn pump(&mut self) -> bool {
        if self.end.is_some() {
            return false;
        }
        let line_end = loop {
            if let Some(p) = self.conn.buf.windows(2).position(|w| w == b"\r\n") {
                break p;
            }
            if !self.fill() {
                self.end = Some(End::Dropped);
                return false;
            }
        };
        let size_text = String::from_utf8_lossy(&self.conn.buf[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.trim(), 16).expect("a chunk size");
        while self.conn.buf.len() < line_end + 2 + size + 2 {
            if !self.fill() {
                self.end = Some(End::Dropped);
                return false;
            }
        }
        let data = self.conn.buf[line_end + 2..line_end + 2 + size].to_vec();
        assert_eq!(
            &self.conn.buf[line_end + 2 + size..line_end + 4 + size],
            b"\r\n"
        );
        self.conn.buf.drain(..line_end + 4 + size);
        if size == 0 {
            assert!(
                self.conn.is_closed(),
                "the connection closes after a stream"
            );
            self.end = Some(End::Clean);
            return false;
        }
        self.body.extend_from_slice(&data);
        true
    }

    /// The next block, or `None` once the stream has ended.
    pub fn next_block(&mut self) -> Option<Block> {
        loop {
            if let Some(p) = self.body.windows(2).position(|w| w == b"\n\n") {
                let text = String::from_utf8(self.body[..p].to_vec()).expect("UTF-8");
                self.body.drain(..p + 2);
                return Some(Block::parse(&text));
            }
            if !self.pump() {
                return None;
            }
        }
    }

    /// The next block that is not a keep-alive.
    pub fn next_event(&mut self) -> Option<Block> {
        std::iter::from_fn(|| self.next_block()).find(|b| !b.is_keep_alive())
    }

    /// Every remaining block that is not a keep-alive, and how the stream ended.
    pub fn rest(&mut self) -> (Vec<Block>, End) {
        let blocks = std::iter::from_fn(|| self.next_event()).collect();
        assert!(self.body.is_empty(), "bytes after the last block");
        (blocks, self.end.expect("ended"))
    }

    /// True when the server sends nothing at all for `window` (a check that
    /// something does NOT happen; never used to wait for something).
    pub fn quiet_for(&mut self, window: Duration) -> bool {
        self.conn.s.set_read_timeout(Some(window)).unwrap();
        let got = self.conn.fill();
        self.conn
            .s
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        matches!(got, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
    }
}

/// The kinds of these blocks' envelopes.
pub fn kinds(blocks: &[Block]) -> Vec<String> {
    blocks.iter().map(Block::kind).collect()
}

/// Waits until `emu` holds `n` requests or stalled streams (a bounded poll
/// of the emulator's state, not a timing).
pub fn wait_held(emu: &Emulator, n: u64) {
    for _ in 0..6_000 {
        if emu.held() == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(emu.held(), n, "never held");
}

/// Completes `task` through the handle; `sse` must then send exactly its
/// `task_finished` and end cleanly.
pub fn complete_and_expect_end(emu: &Emulator, sse: &mut Sse, task: &str) {
    let status = serde_json::json!({"status": "completed"});
    emu.update_task(task, status).unwrap();
    let (rest, end) = sse.rest();
    assert_eq!(kinds(&rest), ["task_finished"]);
    assert_eq!(rest[0].json()["data"]["status"], "completed");
    assert_eq!(end, End::Clean);
}

/// The stream path of a task, under any org segment.
pub fn events_path(task_id: &str) -> String {
    format!("/org-1/agent-execution/{task_id}/events")
}

/// A stall right after the handshake of a stream of task `t1` (executing,
/// keep-alives every millisecond): nothing at all until released, not even
/// keep-alives; then the event pushed meanwhile, and a clean end.
pub fn assert_stall_then_release(emu: &Emulator, path: &str) {
    emu.inject(Fault::on("GET", path).stall_after(1));
    let mut sse = Sse::open(emu, path, &[]);
    assert_eq!(sse.next_block().unwrap().kind(), "connected");
    wait_held(emu, 1);
    emu.push_event("t1", json!({"type": "chunk", "data": "during"}))
        .unwrap();
    // Not even keep-alives (every 1 ms otherwise) while stalled.
    assert!(
        sse.quiet_for(Duration::from_millis(100)),
        "bytes during a stall"
    );
    emu.release(1);
    let b = sse.next_event().unwrap();
    assert_eq!(
        (b.kind(), b.json()["data"].clone()),
        ("chunk".to_string(), json!("during"))
    );
    complete_and_expect_end(emu, &mut sse, "t1");
    assert_eq!(emu.held(), 0);
}
