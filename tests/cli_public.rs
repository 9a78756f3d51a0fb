//! The `xpander-tasks` commands of the public API v1 (`invoke`, `thread`,
//! `delete`, `list --all`), run as a subprocess against an emulator: output,
//! effect and exit codes, with the conventions of the other commands.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use xpander_sdk::emulator::{Emulator, Fault};

const BIN: &str = env!("CARGO_BIN_EXE_xpander-tasks");
const KEY: &str = "sekrit-cli-public-key-91b2";

fn emulator() -> Emulator {
    Emulator::builder().api_key(KEY).start().unwrap()
}

fn command(emulator: &Emulator) -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("XPANDER_") || name == "IS_STG" {
            command.env_remove(name);
        }
    }
    command
        .env("XPANDER_BASE_URL", emulator.base_url())
        .env("XPANDER_PUBLIC_API_URL", emulator.base_url())
        .env("XPANDER_API_KEY", KEY);
    command
}

fn run(emulator: &Emulator, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = command(emulator)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output: Output = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!out.contains(KEY) && !err.contains(KEY), "the key leaked");
    (output.status.code(), out, err)
}

fn ok(emulator: &Emulator, args: &[&str]) -> Value {
    let (code, out, err) = run(emulator, args, "");
    assert_eq!(code, Some(0), "{args:?}: {out} {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

#[test]
fn invoke_sync_async_and_a_thread() {
    let emulator = emulator();
    let task = ok(&emulator, &["invoke", "echo", "Hello"]);
    assert_eq!(task["result"], "Echo: Hello");
    let id = task["id"].as_str().unwrap().to_string();
    let again = ok(&emulator, &["invoke", "echo", "Again", "--thread", &id]);
    assert_eq!(again["id"], id.as_str());
    let created = ok(&emulator, &["invoke", "echo", "Later", "--async"]);
    assert_eq!(created["status"], "pending");
    let thread = ok(&emulator, &["thread", &id]);
    assert_eq!(thread.as_array().unwrap().len(), 4);
    assert_eq!(thread[3]["content"], "Echo: Again");
    let full = ok(&emulator, &["thread", &id, "--full"]);
    assert_eq!(full["root"], thread);
    // The prompt from stdin.
    let (code, out, _) = run(&emulator, &["invoke", "echo", "-"], "from stdin");
    assert_eq!(code, Some(0));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["result"],
        "Echo: from stdin"
    );
}

#[test]
fn invoke_stream_prints_one_line_per_event_and_a_cut_is_exit_7() {
    let emulator = emulator();
    let (code, out, err) = run(&emulator, &["invoke", "echo", "one two", "--stream"], "");
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "task_started");
    assert_eq!(
        lines.last().unwrap(),
        &json!({"type": "task_completed",
        "task_id": lines[0]["task_id"], "result": "Echo: one two"})
    );
    emulator.inject(Fault::on("POST", "/v1/agents/echo/invoke/stream").drop_after(1));
    let (code, out, err) = run(&emulator, &["invoke", "echo", "a b c", "--stream"], "");
    assert_eq!(code, Some(7), "{out} {err}");
    assert_eq!(
        out.lines().count(),
        1,
        "what came before the cut is printed"
    );
    assert!(err.contains("never replayed"), "{err}");
    let (code, _, _) = run(
        &emulator,
        &["invoke", "echo", "x", "--stream", "--async"],
        "",
    );
    assert_eq!(code, Some(2), "--async and --stream exclude each other");
}

#[test]
fn delete_and_its_exit_codes() {
    let emulator = emulator();
    let id = ok(&emulator, &["invoke", "echo", "bye"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = ok(&emulator, &["delete", &id]);
    assert_eq!(
        deleted,
        json!({"deleted": id, "status": 204, "message": null})
    );
    let (code, out, _) = run(&emulator, &["delete", &id], "");
    assert_eq!((code, out.as_str()), (Some(4), ""), "not found");
    emulator.set_public_delete_message(true);
    let id = ok(&emulator, &["invoke", "echo", "bye"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ok(&emulator, &["delete", &id])["message"],
        "Task deleted successfully"
    );
}

#[test]
fn list_all_walks_every_page_as_one_array() {
    let emulator = emulator();
    for i in 0..7 {
        emulator
            .seed_task(
                json!({"id": format!("t{i}"), "agent_id": "agent-l", "organization_id": "o",
                "input": {"text": "x"}, "created_at": "2026-11-20T10:00:00Z", "status": "completed",
                "user_tokens": {"a": "SENTINEL-token"}}),
            )
            .unwrap();
    }
    let all = ok(&emulator, &["list", "agent-l", "--all", "--per-page", "3"]);
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["t6", "t5", "t4", "t3", "t2", "t1", "t0"],
        "newest first"
    );
    assert!(
        !all.to_string().contains("SENTINEL"),
        "credentials redacted"
    );
    let pages = emulator
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/agents/agent-l/tasks"))
        .count();
    assert_eq!(pages, 3);
    assert_eq!(ok(&emulator, &["list", "nobody", "--all"]), json!([]));
    let (code, out, err) = run(
        &emulator,
        &["list", "agent-l", "--all", "--per-page", "51"],
        "",
    );
    assert_eq!((code, out.as_str()), (Some(2), ""), "{err}");
    assert!(err.contains("per_page"), "{err}");
    let before = emulator.requests().len();
    for bad in ["0", "-1", "99999999999999999999", "abc", ""] {
        let (code, out, err) = run(
            &emulator,
            &["list", "agent-l", "--all", "--per-page", bad],
            "",
        );
        assert_eq!((code, out.as_str()), (Some(2), ""), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(emulator.requests().len(), before, "nothing sent");
}

#[test]
fn list_all_prints_every_task_read_before_a_later_page_fails() {
    let emulator = emulator();
    for i in 0..5 {
        emulator
            .seed_task(
                json!({"id": format!("t{i}"), "agent_id": "agent-p", "organization_id": "o",
                "input": {"text": "x"}, "created_at": "2026-11-20T10:00:00Z"}),
            )
            .unwrap();
    }
    // The first page goes through; the second is refused (a 400 is not retried).
    emulator.inject(
        Fault::on("GET", "/v1/agents/agent-p/tasks")
            .skip(1)
            .respond(400, json!({"detail": "no second page"})),
    );
    let (code, out, err) = run(
        &emulator,
        &["list", "agent-p", "--all", "--per-page", "3"],
        "",
    );
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("no second page"), "{err}");
    // The three tasks of the first page were all written, the last one too.
    for id in ["t4", "t3", "t2"] {
        assert!(
            out.contains(&format!("\"id\": \"{id}\"")),
            "{id} missing: {out}"
        );
    }
}
