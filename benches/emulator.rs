//! Simple updates per second against the emulator, over one keep-alive connection
//! with a raw HTTP/1.1 client on `std::net::TcpStream`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use xpander_sdk::emulator::Emulator;

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
    req: Vec<u8>,
}

impl Client {
    fn new(emu: &Emulator, body: &[u8]) -> Client {
        let s = TcpStream::connect(emu.addr()).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut req = format!(
            "PATCH /agent-execution/task_xyz/update HTTP/1.1\r\nhost: bench\r\nx-api-key: {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            emu.api_key(),
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        Client {
            s,
            buf: Vec::with_capacity(16 * 1024),
            req,
        }
    }

    /// Sends one update and reads its whole answer; returns the status code.
    fn update(&mut self) -> u16 {
        self.s.write_all(&self.req).expect("write");
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = self.s.read(&mut chunk).expect("read");
            assert!(n > 0, "server closed");
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..p]).expect("head");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("content-length");
                let status: u16 = head[9..12].parse().expect("status");
                while self.buf.len() < p + 4 + len {
                    let n = self.s.read(&mut chunk).expect("read");
                    assert!(n > 0, "server closed");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return status;
            }
        }
    }
}

fn updates(c: &mut Criterion) {
    // Logging every request is part of the emulator's normal work; keep it on.
    let emu = Emulator::builder()
        .api_key("bench-key")
        .start()
        .expect("start");
    emu.seed_task(json!({
        "id": "task_xyz", "agent_id": "agent-123", "organization_id": "org-1",
        "input": {"text": "Hello!", "files": [], "user": null}, "status": "executing"
    }))
    .expect("seed");
    let body = serde_json::to_vec(&json!({"status": "completed", "result": "Done"})).expect("json");
    let mut client = Client::new(&emu, &body);
    assert_eq!(client.update(), 200);

    let mut g = c.benchmark_group("emulator");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("patch_update_keep_alive", |b| {
        b.iter(|| {
            let status = client.update();
            debug_assert_eq!(status, 200);
            status
        })
    });
    g.finish();
    assert_eq!(emu.connections_accepted(), 1);
}

criterion_group!(benches, updates);
criterion_main!(benches);
