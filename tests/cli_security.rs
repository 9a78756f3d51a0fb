//! Issue 19 point 8, and the key in the tool's output: the
//! `xpander-tasks` binary run as a subprocess against an emulator (and a
//! hostile server).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use xpander_sdk::emulator::{Emulator, Fault};

const BIN: &str = env!("CARGO_BIN_EXE_xpander-tasks");
const KEY: &str = "xpk-cli-7f3a9c2b8d4e6f10a5b3";
/// A credential passed in --payload-extension.
const SENTINEL: &str = "SENTINEL-pAyL0ad-9c8b7a6d5e";

fn emulator() -> Emulator {
    let emulator = Emulator::builder().api_key(KEY).start().unwrap();
    for (id, status) in [("task-1", "executing"), ("task-2", "completed")] {
        emulator.seed_task(task(id, status)).unwrap();
    }
    emulator
}

fn task(id: &str, status: &str) -> Value {
    json!({
        "id": id, "agent_id": "agent-123", "organization_id": "org-1",
        "input": {"text": "Hello!"}, "created_at": "2026-11-20T10:00:00Z",
        "status": status, "events_streaming": true,
    })
}

fn command(base_url: &str) -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("XPANDER_") || name == "IS_STG" {
            command.env_remove(name);
        }
    }
    command
        .env("XPANDER_BASE_URL", base_url)
        .env("XPANDER_API_KEY", KEY)
        .env("XPANDER_ORGANIZATION_ID", "org-1");
    command
}

/// Every run of 8 bytes of `secret` in `text`.
fn runs_of(secret: &str, text: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    (0..bytes.len().saturating_sub(7))
        .map(|i| String::from_utf8_lossy(&bytes[i..i + 8]).into_owned())
        .filter(|run| text.contains(run.as_str()))
        .collect()
}

/// Runs the binary; no part of the key or the sentinel in any output.
fn run(mut command: Command, args: &[&str], stdin: &str) -> Output {
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let output = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [KEY, SENTINEL] {
        let runs = runs_of(secret, &all);
        assert!(runs.is_empty(), "{args:?}: {runs:?} leaked in {all}");
    }
    output
}

#[test]
fn payload_extension_from_a_file_or_stdin() {
    let emulator = emulator();
    let dir = std::env::temp_dir().join(format!("xpander-cli-sec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("extension.json");
    std::fs::write(
        &file,
        format!("{{\"api_key\": \"{SENTINEL}\", \"n\": 1}}\n"),
    )
    .unwrap();
    let at = format!("@{}", file.display());
    let output = run(
        command(&emulator.base_url()),
        &["update", "task-1", "--payload-extension", &at],
        "",
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        emulator.requests()[0].json,
        Some(json!({"tool_call_payload_extension": {"api_key": SENTINEL, "n": 1}}))
    );
    let output = run(
        command(&emulator.base_url()),
        &["update", "task-2", "--payload-extension", "-"],
        &format!("{{\"token\": \"{SENTINEL}\"}}"),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        emulator.requests()[1].json,
        Some(json!({"tool_call_payload_extension": {"token": SENTINEL}}))
    );
    // Both from stdin: refused, nothing sent.
    emulator.clear_requests();
    let output = run(
        command(&emulator.base_url()),
        &[
            "update",
            "task-1",
            "--payload-extension",
            "-",
            "--result",
            "-",
        ],
        "{}",
    );
    assert_eq!(output.status.code(), Some(2));
    // A file that is not there, or not an object: usage errors, nothing sent.
    for value in [format!("@{}", dir.join("missing").display()), "-".into()] {
        let output = run(
            command(&emulator.base_url()),
            &["update", "task-1", "--payload-extension", &value],
            &format!("[\"{SENTINEL}\"]"),
        );
        assert_eq!(output.status.code(), Some(2), "{output:?}");
    }
    assert!(emulator.requests().is_empty());
    // --help says so.
    let output = run(command(&emulator.base_url()), &["update", "--help"], "");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("@FILE") && help.contains("stdin"), "{help}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn values_of_sensitive_options_are_never_echoed() {
    let emulator = emulator();
    let secret = format!("{{\"token\": \"{SENTINEL}\"");
    let assignment = format!("--payload-extension={secret}");
    let extension = format!("{{\"token\": \"{SENTINEL}\"}}");
    let assignment_list = format!("--payload-extension=[\"{SENTINEL}\"]");
    let cases: Vec<Vec<&str>> = vec![
        // Not JSON, not an object: the tool's own message.
        vec!["update", "task-1", "--payload-extension", &secret],
        vec!["update", "task-1", &assignment],
        vec!["update", "task-1", &assignment_list],
        // Clap's messages: an option the subcommand does not take, a
        // misspelling, the option twice.
        vec!["get", "task-1", "--payload-extension", &extension],
        vec!["update", "task-1", "--payload-extention", &extension],
        vec![
            "update",
            "task-1",
            "--payload-extension",
            &extension,
            "--payload-extension",
            &extension,
        ],
        vec!["update", "--payload-extension", &extension],
    ];
    for args in cases {
        let output = run(command(&emulator.base_url()), &args, "");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    assert!(emulator.requests().is_empty());
}

/// Text as a hostile server sends it: escape sequences (clear screen,
/// window title, colours), a C1 CSI, a bidi override.
const HOSTILE: &str = "ok\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{9b}31m\u{202e}gnirts\u{7f}";

fn assert_no_terminal_control(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    let raw: Vec<char> = text
        .chars()
        .filter(|c| {
            (c.is_control() && !matches!(c, '\n'))
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(raw.is_empty(), "{what}: raw {raw:?} in {text}");
}

#[test]
fn server_text_reaches_the_terminal_escaped_and_json_stays_exact() {
    let emulator = emulator();
    let mut hostile = task("task-h", "completed");
    hostile["result"] = json!(HOSTILE);
    hostile["title"] = json!(format!("title {HOSTILE}"));
    emulator.seed_task(hostile).unwrap();
    for args in [vec!["get", "task-h"], vec!["wait", "task-h"]] {
        let output = run(command(&emulator.base_url()), &args, "");
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_no_terminal_control(&output.stdout, "stdout");
        let task: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(task["result"], HOSTILE, "the same value");
        assert_eq!(task["title"], format!("title {HOSTILE}"));
    }
    // Events: each line escaped, the same values.
    let mut finished = task("task-hf", "failed");
    finished["result"] = json!(HOSTILE);
    finished["organization_id"] = json!(emulator.organization_id());
    emulator.seed_task(finished).unwrap();
    let mut events = command(&emulator.base_url());
    events.env("XPANDER_ORGANIZATION_ID", emulator.organization_id());
    let output = run(events, &["events", "task-hf"], "");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_no_terminal_control(&output.stdout, "events");
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["data"]["result"], HOSTILE, "{lines:?}");
    // An error detail and a task id from the server, on stderr.
    emulator.inject(
        Fault::on("GET", "/agent-execution/*")
            .times(1)
            .respond(500, json!({"detail": format!("boom {HOSTILE}")})),
    );
    let output = run(command(&emulator.base_url()), &["get", "task-h"], "");
    assert_eq!(output.status.code(), Some(6));
    assert_no_terminal_control(&output.stderr, "stderr");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("boom ok\\u{1b}[2J"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

#[test]
fn no_part_of_the_key_in_what_the_tool_prints() {
    let emulator = emulator();
    let mut echo = task("task-k", "completed");
    // A server that echoes the key, whole and cut (as a bounded log would).
    echo["result"] = json!(format!("your key {KEY} / cut {}", &KEY[..20]));
    echo["title"] = json!(KEY);
    emulator.seed_task(echo).unwrap();
    for args in [
        vec!["get", "task-k"],
        vec!["list", "agent-123"],
        vec!["wait", "task-k"],
    ] {
        let output = run(command(&emulator.base_url()), &args, "");
        assert_eq!(output.status.code(), Some(0), "{args:?} {output:?}");
        let _: Value = serde_json::from_slice(&output.stdout).unwrap();
    }
    emulator.inject(Fault::on("GET", "/agent-execution/*").times(1).respond(
        403,
        json!({"detail": format!("key {KEY} is not allowed here")}),
    ));
    let output = run(command(&emulator.base_url()), &["get", "task-k"], "");
    assert_eq!(output.status.code(), Some(6));
}

/// A stdout whose reader is gone before anything is written.
fn closed_stdout() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

#[test]
fn a_closed_stdout_ends_every_subcommand_with_exit_0() {
    let emulator = emulator();
    let cases: Vec<Vec<&str>> = vec![
        vec!["get", "task-1"],
        vec!["list", "agent-123"],
        vec!["update", "task-1", "--result", "x"],
        vec!["create", "agent-123", "--prompt", "hi"],
        vec!["activity", "task-1"],
        vec!["wait", "task-2"],
        vec!["stop", "task-1"],
        vec!["events", "task-2"],
        vec!["--help"],
        vec!["--version"],
        vec!["get", "--help"],
    ];
    for args in cases {
        let output = command(&emulator.base_url())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(closed_stdout())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Plain http to a host that is not loopback (0.0.0.0 reaches this
/// machine): refused by default, allowed by XPANDER_ALLOW_INSECURE_HTTP
/// with a one-line warning.
#[test]
fn plain_http_off_loopback_needs_the_environment_opt_in() {
    let emulator = emulator();
    let base = format!("http://0.0.0.0:{}", emulator.addr().port());
    let output = run(command(&base), &["get", "task-1"], "");
    assert_eq!(output.status.code(), Some(3));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("XPANDER_ALLOW_INSECURE_HTTP"), "{err}");
    let mut allowed = command(&base);
    allowed.env("XPANDER_ALLOW_INSECURE_HTTP", "1");
    let output = run(allowed, &["get", "task-1"], "");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("0.0.0.0") && warnings[0].contains("clear text"));
}

/// A raw server answering an error page that echoes the key across the
/// snippet's cut: the tool's message shows no part of it.
#[test]
fn an_error_page_cutting_the_key_shows_no_part_of_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let body = format!("{}{KEY}", "z".repeat(2048 - 20));
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 502 Bad Gateway\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    let output = run(command(&format!("http://{addr}")), &["get", "task-1"], "");
    assert_eq!(output.status.code(), Some(6));
}
