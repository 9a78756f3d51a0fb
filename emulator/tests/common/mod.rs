//! A tiny raw HTTP/1.1 client over `TcpStream` (through rustls when the
//! emulator serves https) and the fixtures the tests share. The emulator's
//! tests use no HTTP client crate and not the SDK: they see the bytes on the
//! wire.
#![allow(dead_code)]

pub mod agent;
pub mod sse;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use xpander_emulator::Emulator;

// The wire fixtures are the SDK's (the repository's tests/fixtures): one
// copy of what the official client sends and the service answers.
pub const TASK_FULL: &str = include_str!("../../../tests/fixtures/task-full.json");
pub const RECORDER_TASK: &str = include_str!("../../../tests/fixtures/recorder-task.json");
pub const WIRE: &str = include_str!("../../../tests/fixtures/official-python-client-requests.json");
pub const FORWARD: &str = include_str!("../../../tests/fixtures/task-forward-compat.json");
pub const MINIMAL: &str = include_str!("../../../tests/fixtures/task-minimal.json");
pub const TASK_EXTRAS: &str =
    include_str!("../../../tests/fixtures/official-python-client-task-extras.json");

// ---------- a tiny raw HTTP/1.1 client ----------

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Conn {
    pub s: TcpStream,
    pub buf: Vec<u8>,
    /// The TLS session over `s`, when the emulator serves https.
    #[cfg(feature = "tls")]
    pub tls: Option<rustls::ClientConnection>,
}

/// What reading an answer gave.
#[derive(Debug)]
pub enum Read_ {
    Full(Response),
    /// The head arrived, then the connection closed before `content-length` bytes.
    Truncated(Response, usize),
    /// Closed before any byte.
    Closed,
}

impl Conn {
    pub fn open(emu: &Emulator) -> Conn {
        let s = TcpStream::connect(emu.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::new(),
            #[cfg(feature = "tls")]
            tls: emu
                .root_certificate_pem()
                .map(|root| tls::client(root, "localhost")),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            return rustls::Stream::new(tls, &mut self.s)
                .write_all(bytes)
                .expect("write");
        }
        self.s.write_all(bytes).expect("write");
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: test\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        if let Some(b) = body {
            bytes.extend_from_slice(b);
        }
        self.send_raw(&bytes);
    }

    pub fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 65536];
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            let n = rustls::Stream::new(tls, &mut self.s).read(&mut chunk)?;
            self.buf.extend_from_slice(&chunk[..n]);
            return Ok(n);
        }
        let n = self.s.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    pub fn read_answer(&mut self) -> Read_ {
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match self.fill() {
                Ok(0) | Err(_) if self.buf.is_empty() => return Read_::Closed,
                Ok(0) | Err(_) => panic!("closed inside the head"),
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        self.buf.drain(..head_end);
        while self.buf.len() < len {
            match self.fill() {
                Ok(0) | Err(_) => {
                    let body = std::mem::take(&mut self.buf);
                    let got = body.len();
                    return Read_::Truncated(
                        Response {
                            status,
                            headers,
                            body,
                        },
                        got,
                    );
                }
                Ok(_) => {}
            }
        }
        let body: Vec<u8> = self.buf.drain(..len).collect();
        Read_::Full(Response {
            status,
            headers,
            body,
        })
    }

    pub fn answer(&mut self) -> Response {
        match self.read_answer() {
            Read_::Full(r) => r,
            other => panic!("expected a full answer, got {other:?}"),
        }
    }

    /// True when the server closed the connection (EOF) without sending more.
    pub fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && matches!(self.fill(), Ok(0) | Err(_))
    }

    pub fn call(
        &mut self,
        emu: &Emulator,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        self.send(
            method,
            path,
            &[("x-api-key", emu.api_key())],
            body.as_deref(),
        );
        self.answer()
    }
}

/// `GET path` with the right key on a fresh connection, and what came back
/// (a full answer, a truncated one, or nothing).
pub fn get_raw(emu: &Emulator, path: &str) -> Read_ {
    let mut c = Conn::open(emu);
    c.send("GET", path, &[("x-api-key", emu.api_key())], None);
    c.read_answer()
}

/// One request on a fresh connection, with the right API key.
pub fn call(emu: &Emulator, method: &str, path: &str, body: Option<Value>) -> Response {
    Conn::open(emu).call(emu, method, path, body.as_ref())
}

pub fn call_raw_body(emu: &Emulator, method: &str, path: &str, body: &[u8]) -> Response {
    let mut c = Conn::open(emu);
    c.send(method, path, &[("x-api-key", emu.api_key())], Some(body));
    c.answer()
}

pub fn full_keys() -> Vec<String> {
    let v: Value = serde_json::from_str(TASK_FULL).unwrap();
    v.as_object().unwrap().keys().cloned().collect()
}

pub fn assert_full_task(v: &Value) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("task not an object: {v}"));
    for k in full_keys() {
        assert!(o.contains_key(&k), "answer lacks `{k}`: {v}");
    }
    for k in ["id", "agent_id", "organization_id", "created_at", "status"] {
        assert!(o[k].is_string(), "`{k}` must be a string: {v}");
    }
    assert!(o["input"].is_object());
    for k in ["text", "files", "user"] {
        assert!(o["input"].as_object().unwrap().contains_key(k), "input.{k}");
    }
}

pub fn emu() -> Emulator {
    Emulator::builder().api_key("test-key-123").start().unwrap()
}

pub fn seed(emu: &Emulator, v: Value) -> String {
    emu.seed_task(v).unwrap()
}

pub fn recorder_task() -> Value {
    serde_json::from_str(RECORDER_TASK).unwrap()
}

/// The recorder's task with every field the official client knows: the full
/// fixture, overlaid with the recorder's values. Seeded tasks are served as
/// given, so a test that wants full answers seeds a full task.
pub fn full_recorder_task() -> Value {
    let mut task: Value = serde_json::from_str(TASK_FULL).unwrap();
    for (k, v) in recorder_task().as_object().unwrap() {
        task[k] = v.clone();
    }
    task
}

pub fn detail_loc(r: &Response) -> Vec<Value> {
    r.json()["detail"][0]["loc"].as_array().unwrap().clone()
}

/// A rustls client (ring) for the emulator's https.
#[cfg(feature = "tls")]
pub mod tls {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    /// A client session to `name`, trusting only `root_pem`.
    pub fn client(root_pem: &str, name: &str) -> rustls::ClientConnection {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
        // 0.23.48 deprecates it for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(name.to_string()).unwrap();
        rustls::ClientConnection::new(Arc::new(config), name).unwrap()
    }
}
