//! The `xpander-tasks` binary, run as a subprocess against an emulator: each
//! subcommand's output and effect, and each documented exit code.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

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

/// A task that streams its live events.
fn streaming_task(id: &str, status: &str) -> Value {
    let mut task = task(id, status);
    task["events_streaming"] = json!(true);
    task
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

/// A command configured for `emulator`, with its organization id (what the
/// event stream needs).
fn live_command(emulator: &Emulator) -> Command {
    let mut command = command(emulator);
    command.env("XPANDER_ORGANIZATION_ID", emulator.organization_id());
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

// ---------- the live side: events, wait, activity ----------

/// The binary running with its stdout read line by line, as it comes.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    lines: Vec<String>,
}

impl Running {
    fn spawn(mut command: Command, args: &[&str]) -> Running {
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Running {
            child,
            stdout,
            lines: Vec::new(),
        }
    }

    /// The next line of stdout as JSON (blocks until it is printed).
    fn next_json(&mut self) -> Value {
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line).unwrap();
        assert!(read > 0, "stdout ended; lines so far: {:?}", self.lines);
        assert!(line.ends_with('\n'), "a whole line: {line:?}");
        assert!(!line.contains(KEY), "the key leaked on stdout: {line}");
        self.lines.push(line.clone());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Waits for the exit: its code, the rest of stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        let output = self.child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!rest.contains(KEY), "the key leaked on stdout: {rest}");
        assert!(!err.contains(KEY), "the key leaked on stderr: {err}");
        (output.status.code(), rest, err)
    }
}

/// Waits until `check` holds: a bounded poll of the emulator's state, not
/// a timing.
fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..6_000 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("never happened: {what}");
}

fn chunk(emulator: &Emulator, task_id: &str, text: &str) -> u64 {
    emulator
        .push_event(
            task_id,
            json!({
                "type": "chunk",
                "task_id": task_id,
                "organization_id": emulator.organization_id(),
                "time": "2026-11-20T10:00:02Z",
                "data": text,
                "identity": {"name": "writer"},
                // A key the library does not know: passed through.
                "trace": format!("trace-{text}"),
            }),
        )
        .unwrap()
}

fn events_path(emulator: &Emulator, task_id: &str) -> String {
    format!(
        "/{}/agent-execution/{task_id}/events",
        emulator.organization_id()
    )
}

#[test]
fn events_prints_each_event_as_it_arrives_and_ends_after_the_finish() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-s", "executing"))
        .unwrap();
    let mut cli = Running::spawn(live_command(&emulator), &["events", "task-s"]);

    // The handshake: once printed, the stream is subscribed.
    let connected = cli.next_json();
    assert_eq!(connected["type"], "connected");
    assert_eq!(connected["task_id"], "task-s");
    assert_eq!(connected["id"], Value::Null);

    // Each event is printed before the next one exists.
    let first = chunk(&emulator, "task-s", "Hel");
    let line = cli.next_json();
    assert_eq!(line["type"], "chunk");
    assert_eq!(line["data"], "Hel");
    assert_eq!(line["id"], first.to_string());
    assert_eq!(line["task_id"], "task-s");
    assert_eq!(line["organization_id"], emulator.organization_id());
    assert_eq!(line["time"], "2026-11-20T10:00:02Z");
    assert_eq!(line["identity"]["name"], "writer");
    assert_eq!(line["trace"], "trace-Hel");
    // Compact, the kind and the id first, the payload last.
    let text = cli.lines.last().unwrap();
    assert!(
        text.starts_with(&format!(
            r#"{{"type":"chunk","id":"{first}","task_id":"task-s""#
        )),
        "{text}"
    );
    assert!(text.ends_with("\"data\":\"Hel\"}\n"), "{text}");
    let second = chunk(&emulator, "task-s", "lo");
    let line = cli.next_json();
    assert_eq!(
        (line["type"].as_str(), line["data"].as_str()),
        (Some("chunk"), Some("lo"))
    );
    assert_eq!(line["id"], second.to_string());

    emulator
        .update_task("task-s", json!({"internal_status": "writing"}))
        .unwrap();
    let line = cli.next_json();
    assert_eq!(line["type"], "task_updated");
    assert_eq!(line["data"]["internal_status"], "writing");

    emulator
        .update_task("task-s", json!({"status": "completed", "result": "Hello"}))
        .unwrap();
    let line = cli.next_json();
    assert_eq!(line["type"], "task_finished");
    assert_eq!(line["data"]["status"], "completed");
    assert_eq!(line["data"]["result"], "Hello");

    // Nothing after the finish: the tool exits by itself.
    let (code, rest, err) = cli.finish();
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_eq!(rest, "", "nothing after task_finished");
    let requests = emulator.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/agent-execution/task-s/status",
            &events_path(&emulator, "task-s")
        ]
    );
    assert_eq!(requests[1].header("accept"), Some("text/event-stream"));
}

#[test]
fn events_of_a_finished_task_replay_its_finish_and_end() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-done", "failed"))
        .unwrap();
    let output = run(live_command(&emulator), &["events", "task-done"], "");
    let (out, err) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "stderr: {err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["connected", "task_finished"], "{out}");
    assert_eq!(lines[1]["data"]["status"], "failed");
    assert!(lines[1]["id"].is_string(), "{out}");
}

#[test]
fn events_skips_a_malformed_event() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-s", "executing"))
        .unwrap();
    let mut cli = Running::spawn(live_command(&emulator), &["events", "task-s"]);
    assert_eq!(cli.next_json()["type"], "connected");
    // No `type`: not an event the library can deliver.
    emulator
        .push_event("task-s", json!({"task_id": "task-s", "data": "junk"}))
        .unwrap();
    chunk(&emulator, "task-s", "after the junk");
    let line = cli.next_json();
    assert_eq!(line["data"], "after the junk");
    emulator
        .update_task("task-s", json!({"status": "completed"}))
        .unwrap();
    assert_eq!(cli.next_json()["type"], "task_finished");
    let (code, _, err) = cli.finish();
    assert_eq!(code, Some(0), "stderr: {err}");
}

#[test]
fn events_idle_timeout_reconnects_a_silent_stream() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-s", "executing"))
        .unwrap();
    // The first stream sends its handshake, then nothing (no keep-alive
    // either) until released.
    emulator.inject(Fault::on("GET", &events_path(&emulator, "task-s")).stall_after(1));
    let mut cli = Running::spawn(
        live_command(&emulator),
        &["events", "task-s", "--idle-timeout", "0.2"],
    );
    assert_eq!(cli.next_json()["type"], "connected");
    // The tool gave up on the silent connection and opened a new one.
    assert_eq!(cli.next_json()["type"], "connected");
    emulator
        .update_task("task-s", json!({"status": "completed"}))
        .unwrap();
    // A slow machine may have let that one idle out too before the finish:
    // a stream opened after it replays it.
    let finish = loop {
        let line = cli.next_json();
        if line["type"] != "connected" {
            break line;
        }
    };
    assert_eq!(finish["type"], "task_finished");
    let (code, rest, err) = cli.finish();
    assert_eq!(code, Some(0), "stderr: {err}");
    assert_eq!(rest, "");
    let streams = emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/events"))
        .count();
    assert!(streams >= 2, "{streams} stream requests");
    emulator.release(1);
}

#[test]
fn events_ends_quietly_when_the_reader_goes_away() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-s", "executing"))
        .unwrap();
    let mut cli = Running::spawn(live_command(&emulator), &["events", "task-s"]);
    assert_eq!(cli.next_json()["type"], "connected");
    // `| head -n 1`: the reader closes the pipe; the next line cannot be written.
    let Running {
        mut child, stdout, ..
    } = cli;
    drop(stdout);
    chunk(&emulator, "task-s", "nobody reads this");
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(err, "");
}

#[test]
fn events_refusals_and_errors_exit_with_their_codes() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-s", "executing"))
        .unwrap();

    // No organization id: 3, before any request.
    let err = fails(command(&emulator), &["events", "task-s"], 3);
    assert!(err.contains("XPANDER_ORGANIZATION_ID"), "{err}");
    assert!(emulator.requests().is_empty());

    // A task that does not stream its events: 2, after loading it only.
    let err = fails(live_command(&emulator), &["events", "task-1"], 2);
    assert!(
        err.contains("does not stream") && err.contains("wait"),
        "{err}"
    );
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/agent-execution/task-1/status");

    // An unknown task: 4.
    let err = fails(live_command(&emulator), &["events", "nope"], 4);
    assert!(err.contains("404"), "{err}");

    // The stream answers an error status: 6 (a 500 is not retried).
    emulator.inject(
        Fault::on("GET", &events_path(&emulator, "task-s"))
            .respond(500, json!({"detail": "stream backend down"})),
    );
    let err = fails(live_command(&emulator), &["events", "task-s"], 6);
    assert!(
        err.contains("500") && err.contains("stream backend down"),
        "{err}"
    );
}

#[test]
fn wait_exits_with_the_final_status() {
    let emulator = emulator();
    for (status, code) in [
        ("completed", 0),
        ("failed", 10),
        ("error", 11),
        ("stopped", 12),
    ] {
        let id = format!("task-{status}");
        let mut seeded = task(&id, status);
        seeded["result"] = json!(format!("ended {status}"));
        emulator.seed_task(seeded).unwrap();
        let output = run(command(&emulator), &["wait", &id, "--timeout", "5"], "");
        let (out, err) = texts(&output);
        assert_eq!(output.status.code(), Some(code), "{status}: {err}");
        let task: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(task["id"], id.as_str());
        assert_eq!(task["status"], status);
        assert_eq!(task["result"], format!("ended {status}"));
        if code == 0 {
            assert_eq!(err, "");
        } else {
            assert!(
                err.contains(&format!("ended with status {status}")),
                "{err}"
            );
        }
    }
}

#[test]
fn wait_polls_until_the_task_finishes() {
    // A task that does not stream its events; and one that does, with no
    // organization id set (`command`, not `live_command`): its stream's URL
    // cannot be made, so it is polled too.
    for (id, streams) in [("task-1", false), ("task-s", true)] {
        let emulator = emulator();
        if streams {
            emulator.seed_task(streaming_task(id, "executing")).unwrap();
        }
        let status = format!("/agent-execution/{id}/status");
        emulator.inject(Fault::on("GET", &status).times(2).hold());
        let cli = Running::spawn(
            command(&emulator),
            &["wait", id, "--timeout", "60", "--poll", "0.05"],
        );
        // The first get finds the task executing.
        until("the first get is held", || emulator.held() == 1);
        emulator.release(1);
        // The second is the poll: the task finishes before it is answered.
        until("the poll arrived", || emulator.requests_received() == 2);
        emulator
            .update_task(id, json!({"status": "completed", "result": "Done"}))
            .unwrap();
        emulator.release(1);
        let (code, out, err) = cli.finish();
        assert_eq!(code, Some(0), "{id}: stderr: {err}");
        let task: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(task["status"], "completed");
        assert_eq!(task["result"], "Done");
        assert!(
            emulator.requests().iter().all(|r| r.path == status),
            "{id}: polled, never streamed"
        );
    }
}

#[test]
fn wait_follows_the_events_of_a_streaming_task() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-s", "executing"))
        .unwrap();
    let stream = events_path(&emulator, "task-s");
    emulator.inject(Fault::on("GET", &stream).hold());
    let cli = Running::spawn(
        live_command(&emulator),
        &["wait", "task-s", "--timeout", "60"],
    );
    // Mid-wait: the task was found executing and its stream is being opened.
    until("the stream is held", || emulator.held() == 1);
    emulator
        .update_task(
            "task-s",
            json!({"status": "error", "result": "tool crashed"}),
        )
        .unwrap();
    emulator.release(1);
    let (code, out, err) = cli.finish();
    assert_eq!(code, Some(11), "stderr: {err}");
    let task: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(task["status"], "error");
    assert_eq!(task["result"], "tool crashed");
    let paths: Vec<String> = emulator.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/agent-execution/task-s/status", stream.as_str()]);
}

#[test]
fn wait_timeout_exits_9() {
    let emulator = emulator();
    let err = fails(
        command(&emulator),
        &["wait", "task-1", "--timeout", "0.2", "--poll", "0.05"],
        9,
    );
    assert!(
        err.contains("timed out") && err.contains("task-1") && err.contains("executing"),
        "{err}"
    );
    // A streaming task without an organization id: polled (the stream
    // cannot be opened), not a configuration error.
    emulator
        .seed_task(streaming_task("task-s", "executing"))
        .unwrap();
    let err = fails(
        command(&emulator),
        &["wait", "task-s", "--timeout", "0.2", "--poll", "0.05"],
        9,
    );
    assert!(err.contains("task-s") && err.contains("executing"), "{err}");
    // `--timeout 0` checks once.
    emulator.clear_requests();
    fails(command(&emulator), &["wait", "task-1", "--timeout", "0"], 9);
    assert_eq!(emulator.requests().len(), 1);
    // A finished task needs no time at all.
    let output = run(
        command(&emulator),
        &["wait", "task-2", "--timeout", "0"],
        "",
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
}

#[test]
fn wait_for_an_unknown_task_exits_4() {
    let emulator = emulator();
    let err = fails(command(&emulator), &["wait", "nope", "--timeout", "60"], 4);
    assert!(err.contains("404"), "{err}");
    assert_eq!(emulator.requests().len(), 1, "a 404 is not waited out");
}

#[test]
fn activity_prints_the_thread() {
    let emulator = emulator();
    emulator
        .push_event(
            "task-1",
            json!({
                "type": "tool_call_request",
                "task_id": "task-1",
                "organization_id": "org-1",
                "time": "2026-11-20T10:00:03Z",
                "data": {"request_id": "r1", "operation_id": "op", "tool_name": "web_search",
                         "payload": {"q": "q3 numbers"}},
                "identity": null,
            }),
        )
        .unwrap();
    emulator
        .update_task("task-1", json!({"status": "completed", "result": "Done"}))
        .unwrap();
    let out = ok(&emulator, &["activity", "task-1"], "");
    assert_eq!(out["id"], "task-1");
    let messages = out["messages"].as_array().expect("the entries");
    assert_eq!(messages.len(), 3, "{out:#}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"]["text"], "Hello!");
    assert_eq!(messages[1]["tool_name"], "web_search");
    assert_eq!(messages[1]["payload"]["q"], "q3 numbers");
    assert_eq!(messages[2]["role"], "agent");
    assert_eq!(messages[2]["content"]["text"], "Done");
    let paths: Vec<String> = emulator.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/agent-execution/task-1/status",
            "/activity/agent-123/task-1"
        ]
    );
}

#[test]
fn activity_errors_exit_with_their_codes() {
    let emulator = emulator();
    fails(command(&emulator), &["activity", "nope"], 4);
    // Not a thread: an undecodable answer.
    emulator.set_activity_raw("task-1", "text/plain", "not a thread");
    fails(command(&emulator), &["activity", "task-1"], 8);
}

#[test]
fn create_can_make_a_streaming_task() {
    let emulator = emulator();
    let out = ok(
        &emulator,
        &[
            "create",
            "agent-123",
            "--prompt",
            "Stream it",
            "--events-streaming",
        ],
        "",
    );
    assert_eq!(out["events_streaming"], true);
    let id = out["id"].as_str().unwrap();
    assert_eq!(emulator.task(id).unwrap()["events_streaming"], true);
    assert_eq!(
        emulator.requests()[0].json.as_ref().unwrap()["events_streaming"],
        true
    );
    // And `events` follows it.
    emulator
        .update_task(id, json!({"status": "completed"}))
        .unwrap();
    let output = run(live_command(&emulator), &["events", id], "");
    let (out, err) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        out.lines().last().unwrap().contains("task_finished"),
        "{out}"
    );
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
        "9  `wait`: timed out",
        "10  `wait`: the task failed",
        "11  `wait`: the task ended in error",
        "12  `wait`: the task was stopped",
        "events ",
        "wait ",
        "activity ",
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
        &["wait", "task-1", "--timeout", "-1"],
        &["wait", "task-1", "--timeout", "soon"],
        &["wait", "task-1", "--poll", "0"],
        &["events", "task-1", "--idle-timeout", "0"],
        &["activity"],
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

/// The shared task with a sentinel in every credential, streaming its
/// events, of the agent the other tests use.
fn task_with_secrets(id: &str) -> Value {
    let mut task = common::task_with_secrets(id);
    task["agent_id"] = json!("agent-123");
    task["events_streaming"] = json!(true);
    task
}

/// An auth event carrying an access token, with an unknown envelope key
/// carrying another.
fn auth_event(emulator: &Emulator, task_id: &str) {
    emulator
        .push_event(
            task_id,
            json!({
                "type": "auth_event", "task_id": task_id,
                "organization_id": emulator.organization_id(),
                "time": "2026-11-20T10:00:02Z", "identity": null,
                "data": {"type": "token_ready",
                         "data": {"access_token": "SENTINEL-access", "server_name": "crm"}},
                "session_token": "SENTINEL-envelope",
            }),
        )
        .unwrap();
}

/// No sentinel in `texts`; `<redacted>` in the first (what was printed).
fn assert_no_secret(what: &str, texts: &[&str]) {
    for text in texts {
        assert!(
            !text.contains("SENTINEL"),
            "{what}: a secret printed: {text}"
        );
    }
    assert!(texts[0].contains("<redacted>"), "{what}: {}", texts[0]);
}

/// A task as printed: every credential redacted, the rest as it was.
fn assert_task_redacted(what: &str, task: &Value) {
    let mcp = &task["mcp_servers"][0];
    let deep = &task["integration"]["oauth"][0];
    for redacted in [
        &task["user_oidc_token"],
        &task["user_tokens"]["github"],
        &task["payload_extension"]["headers"],
        &task["input"]["user"]["api_token"],
        &mcp["api_key"],
        &mcp["client_secret"],
        &mcp["headers"]["X-Auth"],
        &mcp["env_vars"]["TOKEN"],
        &task["x_session_token"],
        &deep["refresh_token"],
    ] {
        assert_eq!(redacted, "<redacted>", "{what}: {task:#}");
    }
    // What is not a credential is kept.
    assert_eq!(
        (mcp["name"].as_str(), deep["scope"].as_str()),
        (Some("crm"), Some("crm"))
    );
    assert_eq!(task["input"]["text"], "hi", "{what}");
}

#[test]
fn no_subcommand_prints_a_credential_from_an_answer() {
    let emulator = emulator();
    for id in ["task-sec", "task-sec-stop"] {
        emulator.seed_task(task_with_secrets(id)).unwrap();
    }
    let printed = |args: &[&str]| -> Value {
        let output = run(live_command(&emulator), args, "");
        let (out, err) = texts(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
        assert_no_secret(&format!("{args:?}"), &[&out, &err]);
        serde_json::from_str(&out).unwrap()
    };

    assert_task_redacted("get", &printed(&["get", "task-sec"]));
    let updated = printed(&["update", "task-sec", "--source", "cli"]);
    assert_task_redacted("update", &updated);
    assert_eq!(updated["source"], "cli");
    // The emulator lists summaries; a service adding fields to them is
    // printed redacted too.
    let mut summary = json!({"id": "task-sec", "agent_id": "agent-123", "organization_id": "org-1",
        "created_at": "2026-11-20T10:00:00Z", "status": "executing"});
    summary["user_oidc_token"] = json!("SENTINEL-list-oidc");
    summary["integration"] = json!({"client_secret": "SENTINEL-list-deep", "scope": "crm"});
    emulator
        .inject(Fault::on("GET", "/agent-execution/executions/*").respond(200, json!([summary])));
    let listed = printed(&["list", "agent-123"]);
    assert_eq!(listed[0]["user_oidc_token"], "<redacted>");
    assert_eq!(listed[0]["integration"]["client_secret"], "<redacted>");
    assert_eq!(listed[0]["integration"]["scope"], "crm");
    assert_task_redacted("stop", &printed(&["stop", "task-sec-stop"]));
    // The secrets are the server's: they are still there, only not shown.
    assert_eq!(
        emulator.task("task-sec").unwrap()["user_oidc_token"],
        "SENTINEL-oidc"
    );
    emulator.inject(
        Fault::on("POST", "/agent-execution/*").respond(201, task_with_secrets("task-new")),
    );
    assert_task_redacted(
        "create",
        &printed(&["create", "agent-123", "--prompt", "hi"]),
    );

    // events: the auth event live, then the finish carrying the task.
    let mut cli = Running::spawn(live_command(&emulator), &["events", "task-sec"]);
    assert_eq!(cli.next_json()["type"], "connected");
    auth_event(&emulator, "task-sec");
    let auth = cli.next_json();
    assert_eq!(auth["type"], "auth_event");
    assert_eq!(auth["data"]["data"]["access_token"], "<redacted>");
    assert_eq!(auth["data"]["data"]["server_name"], "crm");
    assert_eq!(auth["session_token"], "<redacted>");
    emulator
        .update_task("task-sec", json!({"status": "completed", "result": "Done"}))
        .unwrap();
    let finished = cli.next_json();
    assert_eq!(finished["type"], "task_finished");
    assert_task_redacted("events", &finished["data"]);
    let lines = cli.lines.concat();
    let (code, rest, err) = cli.finish();
    assert_eq!(code, Some(0), "{err}");
    assert_no_secret("events", &[&lines, &rest, &err]);

    assert_task_redacted("wait", &printed(&["wait", "task-sec", "--timeout", "5"]));
    let thread = printed(&["activity", "task-sec"]);
    let text = thread.to_string();
    assert!(
        text.contains("token_ready"),
        "the auth step is there: {thread:#}"
    );
}

#[test]
fn help_says_credentials_are_redacted_and_how_wait_works_without_an_organization() {
    let help = |args: &[&str]| {
        let output = bare_command().args(args).output().unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(help(&["--help"]).contains("\"<redacted>\"; no option shows them"));
    let wait = help(&["wait", "--help"]);
    assert!(
        wait.contains("A streaming task without an organization id is polled"),
        "{wait}"
    );
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

// --- A newcomer's first hour (issue 22) --------------------------------------------

#[test]
fn a_wrong_base_path_exits_13_and_a_missing_task_4() {
    let emulator = emulator();
    let mut wrong = bare_command();
    wrong
        .env("XPANDER_API_KEY", KEY)
        .args(["--base-url", &format!("{}/v1", emulator.base_url())]);
    let err = fails(wrong, &["get", "task-1"], 13);
    assert!(
        err.contains(&format!(
            "GET {}/v1/agent-execution/task-1/status",
            emulator.base_url()
        )),
        "{err}"
    );
    assert!(err.contains("check the base URL"), "{err}");
    let err = fails(command(&emulator), &["get", "no-such-task"], 4);
    assert!(!err.contains("base URL"), "{err}");
    let help = run(bare_command(), &["--help"], "");
    let (out, _) = texts(&help);
    assert!(out.contains("13  unknown route"), "{out}");
}

#[test]
fn a_base_url_without_a_scheme_exits_3_naming_the_url_meant() {
    let emulator = emulator();
    let authority = emulator.base_url().replace("http://", "");
    let mut cmd = bare_command();
    cmd.env("XPANDER_API_KEY", KEY)
        .env("XPANDER_BASE_URL", &authority);
    let err = fails(cmd, &["get", "task-1"], 3);
    assert!(
        err.contains(&format!("did you mean \"http://{authority}\"?")),
        "{err}"
    );
}

#[test]
fn api_key_on_the_command_line_is_refused_saying_where_keys_come_from() {
    for args in [
        &["--api-key", "local-key-3c9d", "get", "task-1"][..],
        &["get", "task-1", "--api-key=local-key-3c9d"][..],
    ] {
        let mut cmd = bare_command();
        cmd.env("XPANDER_API_KEY", KEY);
        let err = fails(cmd, args, 2);
        assert!(err.contains("never taken on the command line"), "{err}");
        assert!(err.contains("XPANDER_API_KEY"), "{err}");
        assert!(err.contains("--api-key-env NAME"), "{err}");
        assert!(
            !err.contains("local-key-3c9d"),
            "the value is echoed: {err}"
        );
    }
}

#[test]
fn the_plain_http_refusal_names_the_option_and_the_variables() {
    let mut cmd = bare_command();
    cmd.env("XPANDER_API_KEY", KEY);
    let err = fails(
        cmd,
        &["--base-url", "http://example.com", "get", "task-1"],
        3,
    );
    assert!(
        err.contains("plain http is allowed only to loopback hosts"),
        "{err}"
    );
    for words in [
        "--base-url",
        "XPANDER_BASE_URL",
        "XPANDER_ALLOW_INSECURE_HTTP=1",
    ] {
        assert!(err.contains(words), "{words} missing: {err}");
    }
    assert!(!err.contains("ClientBuilder"), "Rust advice: {err}");
}

#[test]
fn events_ends_as_soon_as_stdout_closes_without_waiting_for_an_event() {
    let emulator = emulator();
    emulator
        .seed_task(streaming_task("task-idle", "executing"))
        .unwrap();
    let mut cli = Running::spawn(live_command(&emulator), &["events", "task-idle"]);
    assert_eq!(cli.next_json()["type"], "connected");
    // `| head -n 1` has its line; no event comes after it.
    let Running {
        mut child, stdout, ..
    } = cli;
    drop(stdout);
    let mut status = None;
    for _ in 0..3_000 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("still following an idle task 30 s after stdout closed");
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(err, "");
}

#[test]
fn a_task_seeded_with_defaults_is_read_by_the_tool() {
    let emulator = emulator();
    emulator
        .seed_task_with_defaults(
            json!({"id": "task-min", "agent_id": "agent-123", "status": "pending"}),
        )
        .unwrap();
    let task = ok(&emulator, &["get", "task-min"], "");
    assert_eq!(task["organization_id"], emulator.organization_id());
}

#[test]
fn a_key_given_to_api_key_env_is_never_echoed() {
    // Following clap's old tip, a key lands where a variable's name goes:
    // whatever its shape, the error says what the option takes and does
    // not print the value (stderr ends up in CI logs).
    for (key, code) in [
        ("xpk8f3a9c0d1e2b4f77", 3),
        ("sk-live-4f1e9a0b", 3),
        ("dGVzdGtleTQyMQ==", 2),
        ("", 2),
    ] {
        for args in [
            vec![
                "--api-key-env".to_string(),
                key.to_string(),
                "get".into(),
                "task-1".into(),
            ],
            vec![
                "get".into(),
                "task-1".into(),
                format!("--api-key-env={key}"),
            ],
        ] {
            let mut cmd = bare_command();
            cmd.env("XPANDER_API_KEY", KEY).env_remove(key);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let err = fails(cmd, &args, code);
            if !key.is_empty() {
                assert!(!err.contains(key), "{args:?}: the value is echoed: {err}");
                assert!(!err.contains(&key[..6]), "{args:?}: part echoed: {err}");
            }
            assert!(err.contains("--api-key-env"), "{err}");
            assert!(err.contains("name"), "{err}");
        }
    }
}

#[test]
fn the_plain_http_opt_in_the_refusal_names_works() {
    // The refusal says to set XPANDER_ALLOW_INSECURE_HTTP=1: doing so gets
    // past the check to the request (here, a host that never resolves).
    let base = "http://no-such-host.invalid";
    let plain = |opt_in: Option<&str>| {
        let mut cmd = bare_command();
        cmd.env("XPANDER_API_KEY", KEY)
            .env("XPANDER_BASE_URL", base);
        for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
            cmd.env_remove(var);
        }
        if let Some(value) = opt_in {
            cmd.env("XPANDER_ALLOW_INSECURE_HTTP", value);
        }
        cmd
    };
    let err = fails(plain(None), &["get", "task-1"], 3);
    assert!(err.contains("XPANDER_ALLOW_INSECURE_HTTP=1"), "{err}");
    for value in ["1", "true"] {
        let err = fails(plain(Some(value)), &["get", "task-1"], 7);
        assert!(
            err.contains("could not resolve host no-such-host.invalid"),
            "{err}"
        );
    }
    fails(plain(Some("0")), &["get", "task-1"], 3);
}
