//! The stand-alone binary: its flags, and that it never reads, accepts or
//! prints a key from the environment, nor prints a key it was given.

#[cfg(feature = "tls")]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_xpander-emulator");
const SENTINEL: &str = "sentinel-4e1d-real-key";

/// Starts the binary with `XPANDER_API_KEY` set to the sentinel; returns the
/// child, its base address (`HOST:PORT`), the key line, and the rest of stdout.
fn start(args: &[&str]) -> (Child, String, String, BufReader<ChildStdout>) {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env("XPANDER_API_KEY", SENTINEL)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .or_else(|| line.trim().strip_prefix("listening on https://"))
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_string();
    let mut key_line = String::new();
    out.read_line(&mut key_line).unwrap();
    (child, addr, key_line.trim().to_string(), out)
}

/// The status of `GET /agent-execution/none/status` with this key.
fn status_with_key(addr: &str, key: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!(
        "GET /agent-execution/none/status HTTP/1.1\r\nhost: t\r\nx-api-key: {key}\r\nconnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Stops the child and returns everything it printed after the key line.
fn stop(mut child: Child, mut out: BufReader<ChildStdout>) -> String {
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    rest
}

#[test]
fn xpander_api_key_in_the_environment_is_neither_used_nor_shown() {
    let (child, addr, key_line, out) = start(&[]);
    let key = key_line
        .strip_prefix("api key: ")
        .unwrap_or_else(|| panic!("second line: {key_line:?}"));
    assert!(
        key.starts_with("emu-") && key.len() > 20,
        "a generated key: {key}"
    );
    assert_ne!(key, SENTINEL);
    assert_eq!(
        status_with_key(&addr, SENTINEL),
        401,
        "the environment's key is refused"
    );
    assert_eq!(
        status_with_key(&addr, key),
        404,
        "the printed key is the one"
    );
    let rest = stop(child, out);
    assert!(!format!("{key_line}{rest}").contains(SENTINEL), "{rest}");
}

#[test]
fn a_key_given_on_the_command_line_works_and_is_not_printed() {
    let given = "given-key-91c2";
    let (child, addr, key_line, out) = start(&["--api-key", given]);
    assert_eq!(status_with_key(&addr, given), 404);
    assert_eq!(status_with_key(&addr, SENTINEL), 401);
    let rest = stop(child, out);
    let printed = format!("{key_line}\n{rest}");
    assert!(key_line.starts_with("api key:"), "{key_line}");
    assert!(
        !printed.contains(given) && !printed.contains(SENTINEL),
        "{printed}"
    );
}

#[test]
fn the_stream_flags_reach_the_streams() {
    let key = "stream-key";
    let flags = [
        "--api-key",
        key,
        "--keep-alive-ms",
        "1",
        "--sse-retry-ms",
        "1500",
    ];
    let (child, addr, _, out) = start(&flags);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let task = r#"{"id": "t1", "status": "executing"}"#;
    let seed = format!(
        "POST /__emulator/tasks HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n{task}",
        task.len()
    );
    s.write_all(seed.as_bytes()).unwrap();
    let stream =
        format!("GET /o/agent-execution/t1/events HTTP/1.1\r\nhost: t\r\nx-api-key: {key}\r\n\r\n");
    s.write_all(stream.as_bytes()).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let wanted = |b: &[u8]| {
        let text = String::from_utf8_lossy(b);
        text.contains("retry: 1500\n") && text.contains(": keep-alive\n")
    };
    while !wanted(&seen) {
        let n = s.read(&mut buf).expect("the stream goes on");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    stop(child, out);
}

#[test]
fn help_describes_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--addr",
        "--api-key",
        "--organization-id",
        "--seed",
        "--max-body",
        "--log-limit",
        "--keep-alive-ms",
        "--sse-retry-ms",
        "--event-buffer",
        "--help",
        "--version",
    ] {
        // Long help: the flag's line, then its description on the next.
        let lines: Vec<&str> = help.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(flag) || l.contains(&format!(", {flag}")))
            .unwrap_or_else(|| panic!("{flag} missing from --help:\n{help}"));
        let description = lines.get(at + 1).map(|l| l.trim()).unwrap_or("");
        assert!(description.len() > 8, "{flag} undocumented:\n{help}");
    }
    let bad = Command::new(BIN).arg("--nope").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[cfg(feature = "tls")]
#[test]
fn tls_serves_https_and_writes_the_root_where_asked() {
    let dir = std::env::temp_dir().join(format!("xpander-emulator-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("root.pem");
    let flags = [
        "--api-key",
        "k",
        "--tls-name",
        "emulator.test",
        "--tls-cert-out",
    ];
    let (child, addr, _, mut out) = start(&[&flags[..], &[path.to_str().unwrap()]].concat());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("root certificate: {}", path.display()));
    let root = std::fs::read_to_string(&path).unwrap();
    assert!(root.starts_with("-----BEGIN CERTIFICATE-----"), "{root}");

    let mut s = TcpStream::connect(&addr).unwrap();
    let mut tls = common::tls::client(&root, "emulator.test");
    let mut stream = rustls::Stream::new(&mut tls, &mut s);
    let request = "GET /agent-execution/none/status HTTP/1.1\r\nhost: t\r\nx-api-key: k\r\nconnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    stop(child, out);
    std::fs::remove_dir_all(&dir).unwrap();

    // --tls alone: the root goes to the temporary directory.
    let (child, addr, _, mut out) = start(&["--tls"]);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let default = std::env::temp_dir().join(format!("xpander-emulator-{port}-root.pem"));
    assert_eq!(
        line.trim(),
        format!("root certificate: {}", default.display())
    );
    assert!(std::fs::read_to_string(&default)
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    stop(child, out);
    let _ = std::fs::remove_file(&default);

    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in ["--tls", "--tls-name", "--tls-cert-out"] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

/// One shell word of an `export NAME=VALUE` line: bare or single-quoted.
fn shell_word(word: &str) -> String {
    match word.strip_prefix('\'').and_then(|w| w.strip_suffix('\'')) {
        Some(quoted) => quoted.replace("'\\''", "'"),
        None => word.to_string(),
    }
}

#[test]
fn start_prints_the_organization_and_paste_ready_exports() {
    let (child, addr, key_line, mut out) = start(&["--org", "acme's org"]);
    let key = key_line.strip_prefix("api key: ").unwrap().to_string();
    let mut org_line = String::new();
    out.read_line(&mut org_line).unwrap();
    assert_eq!(org_line.trim(), "organization id: acme's org");
    // The exports, up to the organization's (the last one).
    let mut exports = std::collections::HashMap::new();
    while !exports.contains_key("XPANDER_ORGANIZATION_ID") {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "stdout ended");
        if let Some(pair) = line.trim().strip_prefix("export ") {
            let (name, value) = pair.split_once('=').unwrap();
            exports.insert(name.to_string(), shell_word(value));
        }
    }
    assert_eq!(exports["XPANDER_BASE_URL"], format!("http://{addr}"));
    assert_eq!(exports["XPANDER_API_KEY"], key);
    assert_eq!(exports["XPANDER_ORGANIZATION_ID"], "acme's org");
    assert_eq!(status_with_key(&addr, &exports["XPANDER_API_KEY"]), 404);

    // `?defaults=true` seeds a task a client reads: the organization,
    // created_at and input filled in, what was given kept.
    let task = r#"{"id": "t1", "agent_id": "a1", "status": "executing"}"#;
    let mut s = TcpStream::connect(&addr).unwrap();
    let seed = format!(
        "POST /__emulator/tasks?defaults=true HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{task}",
        task.len()
    );
    s.write_all(seed.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let mut s = TcpStream::connect(&addr).unwrap();
    let get = format!(
        "GET /agent-execution/t1/status HTTP/1.1\r\nhost: t\r\nx-api-key: {key}\r\nconnection: close\r\n\r\n"
    );
    s.write_all(get.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let stored: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(stored["organization_id"], "acme's org");
    assert_eq!(stored["status"], "executing");
    assert_eq!(stored["input"], serde_json::json!({"text": ""}));
    assert!(stored["created_at"]
        .as_str()
        .is_some_and(|t| t.starts_with("20")));

    // A key given with --api-key is not printed, not even in the exports.
    let rest = stop(child, out);
    assert!(!rest.contains(SENTINEL), "{rest}");
    let (child, _, key_line, mut out) = start(&["--api-key", "given-key-2b7e"]);
    // Everything up to the last export line (printed before the server parks).
    let mut rest = key_line;
    while !rest.contains("export XPANDER_ORGANIZATION_ID=") {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "stdout ended: {rest}"
        );
        rest.push_str(&line);
    }
    rest.push_str(&stop(child, out));
    assert!(
        rest.contains("# export XPANDER_API_KEY=<the key given with --api-key>"),
        "{rest}"
    );
    assert!(!rest.contains("given-key-2b7e"), "{rest}");
}
