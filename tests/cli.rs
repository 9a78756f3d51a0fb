//! The `xpander-tasks` binary, run as a subprocess against an emulator: each
//! subcommand's output and effect, and each documented exit code.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use xpander_sdk::emulator::{ApiKeyCheck, Emulator, Fault};

const BIN: &str = env!("CARGO_BIN_EXE_xpander-tasks");
/// A key distinctive enough that finding it in any output is a leak.
const KEY: &str = "sekrit-cli-key-7f3a9c";

fn emulator() -> Emulator {
    let emulator = Emulator::builder().api_key(KEY).start().unwrap();
    emulator.seed_task(task("task-1", "executing")).unwrap();
    emulator.seed_task(task("task-2", "completed")).unwrap();
    emulator.seed_task(task("task-3", "executing")).unwrap();
    emulator
}

fn task(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "agent_id": "agent-123",
        "organization_id": "org-1",
        "input": {"text": "Hello!"},
        "created_at": "2026-11-20T10:00:00Z",
        "status": status,
    })
}

/// A command for the binary with no XPANDER_* / IS_STG variable inherited.
fn bare_command() -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("XPANDER_") || name == "IS_STG" {
            command.env_remove(name);
        }
    }
    command
}

/// A command configured for `emulator` through the environment.
fn command(emulator: &Emulator) -> Command {
    let mut command = bare_command();
    command
        .env("XPANDER_BASE_URL", emulator.base_url())
        .env("XPANDER_API_KEY", KEY);
    command
}

/// Runs `command` with `args` and `stdin`; checks the key is in no output.
fn run(mut command: Command, args: &[&str], stdin: &str) -> Output {
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    let (out, err) = texts(&output);
    assert!(!out.contains(KEY), "the key leaked on stdout: {out}");
    assert!(!err.contains(KEY), "the key leaked on stderr: {err}");
    output
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs against `emulator`, expects success, answers the parsed stdout.
fn ok(emulator: &Emulator, args: &[&str], stdin: &str) -> Value {
    let output = run(command(emulator), args, stdin);
    let (out, err) = texts(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: stdout {out} stderr {err}"
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

/// Runs `command`, expects exit `code`, nothing on stdout and a message on stderr.
fn fails(command: Command, args: &[&str], code: i32) -> String {
    let output = run(command, args, "");
    let (out, err) = texts(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}: stdout {out} stderr {err}"
    );
    assert!(out.is_empty(), "{args:?}: stdout on failure: {out}");
    assert!(!err.trim().is_empty(), "{args:?}: no message");
    err
}

// ---------- subcommands ----------

#[test]
fn update_sets_status_result_source_and_node() {
    let emulator = emulator();
    let out = ok(
        &emulator,
        &[
            "update",
            "task-1",
            "--status",
            "completed",
            "--result",
            "Done",
            "--source",
            "cron",
            "--last-executed-node-id",
            "node-7",
        ],
        "",
    );
    assert_eq!(out["id"], "task-1");
    assert_eq!(out["status"], "completed");
    assert_eq!(out["result"], "Done");
    let stored = emulator.task("task-1").unwrap();
    assert_eq!(stored["status"], "completed");
    assert_eq!(stored["result"], "Done");
    assert_eq!(stored["source"], "cron");
    assert_eq!(stored["last_executed_node_id"], "node-7");
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "PATCH");
    assert_eq!(requests[0].path, "/agent-execution/task-1/update");
    // The emulator's log redacts the key and says whether it was the right one.
    assert_eq!(requests[0].api_key, ApiKeyCheck::Valid);
    assert_eq!(
        requests[0].json,
        Some(json!({
            "status": "completed",
            "result": "Done",
            "source": "cron",
            "last_executed_node_id": "node-7",
        }))
    );
}

#[test]
fn update_reads_the_result_from_stdin_verbatim() {
    let emulator = emulator();
    let long = format!("line one\n{}\n  last line\n", "x".repeat(200_000));
    let out = ok(&emulator, &["update", "task-1", "--result", "-"], &long);
    assert_eq!(out["result"], long.as_str());
    assert_eq!(emulator.task("task-1").unwrap()["result"], long.as_str());
    assert_eq!(emulator.requests()[0].json, Some(json!({"result": long})));
}

#[test]
fn update_sends_the_payload_extension_object() {
    let emulator = emulator();
    ok(
        &emulator,
        &[
            "update",
            "task-1",
            "--payload-extension",
            r#"{"headers": {"X-Trace-ID": "abc-123"}}"#,
        ],
        "",
    );
    assert_eq!(
        emulator.requests()[0].json,
        Some(json!({"tool_call_payload_extension": {"headers": {"X-Trace-ID": "abc-123"}}}))
    );
}

#[test]
fn get_prints_the_task() {
    let emulator = emulator();
    let out = ok(&emulator, &["get", "task-2"], "");
    assert_eq!(out["id"], "task-2");
    assert_eq!(out["status"], "completed");
    assert_eq!(out["input"]["text"], "Hello!");
    let requests = emulator.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/agent-execution/task-2/status");
}

#[test]
fn stop_stops_the_task() {
    let emulator = emulator();
    let out = ok(&emulator, &["stop", "task-1"], "");
    assert_eq!(out["id"], "task-1");
    assert_eq!(out["status"], "stopped");
    assert_eq!(emulator.task("task-1").unwrap()["status"], "stopped");
    let requests = emulator.requests();
    assert_eq!(requests[0].method, "DELETE");
    assert_eq!(requests[0].path, "/agent-execution/task-1");
}

#[test]
fn list_filters_by_status() {
    let emulator = emulator();
    let out = ok(
        &emulator,
        &["list", "agent-123", "--status", "executing"],
        "",
    );
    let mut ids: Vec<&str> = out
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["task-1", "task-3"]);
    let requests = emulator.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(
        requests[0].path,
        "/agent-execution/executions/history/agent-123?status=executing"
    );
}

#[test]
fn list_sends_every_filter() {
    let emulator = emulator();
    let out = ok(
        &emulator,
        &[
            "list",
            "agent-123",
            "--user-id",
            "u-1",
            "--parent-task-id",
            "p-1",
            "--triggering-agent-id",
            "a-9",
            "--internal-status",
            "queued",
        ],
        "",
    );
    assert!(out.is_array());
    let path = &emulator.requests()[0].path;
    for part in [
        "user_id=u-1",
        "parent_task_id=p-1",
        "triggering_agent_id=a-9",
        "internal_status=queued",
    ] {
        assert!(path.contains(part), "{part} missing from {path}");
    }
}

#[test]
fn create_with_prompt_title_source_and_version() {
    let emulator = emulator();
    let out = ok(
        &emulator,
        &[
            "create",
            "agent-123",
            "--prompt",
            "Summarize the logs",
            "--title",
            "nightly",
            "--source",
            "cron",
            "--agent-version",
            "4",
        ],
        "",
    );
    let id = out["id"].as_str().expect("the new task's id");
    assert_eq!(out["agent_id"], "agent-123");
    assert_eq!(out["input"]["text"], "Summarize the logs");
    let stored = emulator.task(id).expect("the task is stored");
    assert_eq!(stored["title"], "nightly");
    assert_eq!(stored["source"], "cron");
    let request = &emulator.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/agent-execution/agent-123");
    assert_eq!(request.header("x-agent-version"), Some("4"));
}

#[test]
fn create_reads_the_prompt_from_stdin() {
    let emulator = emulator();
    let out = ok(
        &emulator,
        &["create", "agent-123", "--prompt", "-"],
        "a long prompt\n",
    );
    assert_eq!(out["input"]["text"], "a long prompt\n");
}

#[test]
fn api_key_env_names_the_variable_to_read() {
    let emulator = emulator();
    let mut cmd = bare_command();
    cmd.env("XPANDER_BASE_URL", emulator.base_url())
        .env("MY_TASKS_KEY", KEY);
    let output = run(cmd, &["--api-key-env", "MY_TASKS_KEY", "get", "task-1"], "");
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    assert_eq!(emulator.requests()[0].api_key, ApiKeyCheck::Valid);
}

#[test]
fn base_url_option_overrides_the_environment() {
    let emulator = emulator();
    let mut cmd = bare_command();
    // A closed port in the environment: only the option can make this work.
    cmd.env(
        "XPANDER_BASE_URL",
        format!("http://127.0.0.1:{}", closed_port()),
    )
    .env("XPANDER_API_KEY", KEY);
    let base = emulator.base_url();
    let output = run(cmd, &["get", "task-1", "--base-url", &base], "");
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
}

// ---------- exit codes ----------

#[test]
fn help_documents_the_exit_codes() {
    let output = run(bare_command(), &["--help"], "");
    let (out, _) = texts(&output);
    assert_eq!(output.status.code(), Some(0));
    for line in [
        "0  success",
        "2  usage error",
        "3  configuration error",
        "4  not found",
        "5  conflict",
        "6  other API error",
        "7  transport error",
        "8  undecodable answer",
    ] {
        assert!(out.contains(line), "--help lacks {line:?}:\n{out}");
    }
}

#[test]
fn usage_errors_exit_2_without_a_request() {
    let emulator = emulator();
    let cases: &[&[&str]] = &[
        &["update", "task-1", "--status", "done"],
        &["update", "task-1", "--payload-extension", "{not json"],
        &["update", "task-1", "--payload-extension", "[1, 2]"],
        // An update that sets nothing is refused rather than sent as `{}`.
        &["update", "task-1"],
        &["list", "agent-123", "--status", "running"],
        &["create", "agent-123"],
        &["frobnicate"],
        &[],
        // Refused by the library before any request.
        &["get", ".."],
    ];
    for args in cases {
        fails(command(&emulator), args, 2);
    }
    assert!(emulator.requests().is_empty());
    let err = fails(
        command(&emulator),
        &["update", "task-1", "--status", "done"],
        2,
    );
    assert!(
        err.contains("completed"),
        "the message lists the statuses: {err}"
    );
}

#[test]
fn missing_key_exits_3() {
    let emulator = emulator();
    let mut cmd = bare_command();
    cmd.env("XPANDER_BASE_URL", emulator.base_url());
    let err = fails(cmd, &["get", "task-1"], 3);
    assert!(err.contains("XPANDER_API_KEY"), "{err}");

    // A named variable that is not set is a configuration error too; there
    // is no fallback to XPANDER_API_KEY.
    let mut cmd = command(&emulator);
    cmd.env_remove("NOT_SET_KEY_VAR");
    let err = fails(
        cmd,
        &["--api-key-env", "NOT_SET_KEY_VAR", "get", "task-1"],
        3,
    );
    assert!(err.contains("NOT_SET_KEY_VAR"), "{err}");

    // A base URL the library refuses (plain http to a remote host).
    let mut cmd = command(&emulator);
    cmd.env("XPANDER_BASE_URL", "http://example.com");
    fails(cmd, &["get", "task-1"], 3);
    assert!(emulator.requests().is_empty());
}

#[test]
fn unknown_task_exits_4() {
    let emulator = emulator();
    for args in [
        &["get", "nope"][..],
        &["update", "nope", "--status", "failed"],
        &["stop", "nope"],
    ] {
        let err = fails(command(&emulator), args, 4);
        assert!(err.contains("404"), "{err}");
    }
}

#[test]
fn conflict_exits_5() {
    let emulator = emulator();
    emulator.inject(
        Fault::on("PATCH", "/agent-execution/*")
            .times(1)
            .respond(409, json!({"detail": "conflict"})),
    );
    let err = fails(
        command(&emulator),
        &["update", "task-1", "--status", "completed"],
        5,
    );
    assert!(err.contains("409") && err.contains("conflict"), "{err}");
    assert_eq!(emulator.task("task-1").unwrap()["status"], "executing");
}

#[test]
fn other_api_errors_exit_6() {
    let emulator = emulator();
    emulator.inject(
        Fault::on("GET", "/agent-execution/*")
            .times(1)
            .respond(500, json!({"detail": "database on fire"})),
    );
    let err = fails(command(&emulator), &["get", "task-1"], 6);
    assert!(
        err.contains("500") && err.contains("database on fire"),
        "{err}"
    );

    // A wrong key is an API error (401), and the key sent is not echoed.
    let mut cmd = command(&emulator);
    cmd.env("XPANDER_API_KEY", "wrong-key");
    let err = fails(cmd, &["get", "task-1"], 6);
    assert!(err.contains("401") && !err.contains("wrong-key"), "{err}");
}

#[test]
fn transport_errors_exit_7() {
    let mut cmd = bare_command();
    cmd.env(
        "XPANDER_BASE_URL",
        format!("http://127.0.0.1:{}", closed_port()),
    )
    .env("XPANDER_API_KEY", KEY);
    let err = fails(cmd, &["get", "task-1"], 7);
    assert!(err.contains("transport error"), "{err}");
}

#[test]
fn undecodable_or_oversized_answers_exit_8() {
    let emulator = emulator();
    emulator.inject(
        Fault::on("GET", "/agent-execution/*")
            .times(1)
            .respond_text(200, "not json"),
    );
    let err = fails(command(&emulator), &["get", "task-1"], 8);
    assert!(err.contains("not json"), "{err}");

    // Declared larger than the 16 MiB limit: refused before the body is read.
    emulator.inject(
        Fault::on("GET", "/agent-execution/*")
            .times(1)
            .oversized_body(17 << 20),
    );
    let err = fails(command(&emulator), &["get", "task-1"], 8);
    assert!(err.contains("limit"), "{err}");
}

#[test]
fn stderr_never_shows_the_key_or_a_credential_from_an_answer() {
    let emulator = emulator();
    // A gateway echoing the key (exit 6), a broken 200 carrying secrets (exit 8).
    emulator.inject(
        Fault::on("GET", "*")
            .times(1)
            .respond(401, json!({"detail": format!("invalid key {KEY}")})),
    );
    let err = fails(command(&emulator), &["get", "task-1"], 6);
    assert!(err.contains("401"), "{err}");
    emulator.inject(Fault::on("GET", "*").times(1).respond_text(
        200,
        r#"{"id":"task-1","user_oidc_token":"SENTINEL-cli-oidc","mcp_servers":[{"api_key":"SENTINEL-cli-mcp"}],"created_at":"#,
    ));
    let err = fails(command(&emulator), &["get", "task-1"], 8);
    assert!(err.contains("task-1"), "the snippet is still useful: {err}");
    for sentinel in ["SENTINEL-cli-oidc", "SENTINEL-cli-mcp"] {
        assert!(!err.contains(sentinel), "{sentinel} on stderr: {err}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_to_stdout_exits_1() {
    let emulator = emulator();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = command(&emulator)
        .args(["get", "task-1"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("stdout"), "{err}");
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}
