//! The public REST API v1 (`/v1/...`), served from the same store as the
//! Tasks API: a task invoked here is a task there, and the other way round.
//!
//! - `POST /v1/agents/{agent}/invoke[/async|/stream]`: the built-in echo
//!   agent runs the task at once: its result is `Echo: {text}` (or the
//!   file names when there is no text). The body's `id` is the thread id:
//!   a known id continues that task (same id, one more turn in its
//!   thread), an unknown one names the new task. Sync answers the finished
//!   task; async answers it as created (`pending`) and then finishes it;
//!   stream answers `text/event-stream` with `task_started`, one
//!   `content_chunk` per word of the result (the last `is_final: true`) and
//!   `task_completed`.
//! - `GET /v1/tasks`, `GET /v1/agents/{agent}/tasks`: pages
//!   `{items, total, page, per_page, total_pages}`, newest first, with the
//!   Tasks API's filters; `page < 1`, `per_page` outside 1..=50, a
//!   non-integer or a status outside the schema's seven is a FastAPI 422.
//! - `GET /v1/tasks/{id}`, `DELETE /v1/tasks/{id}` (`204`, or `200
//!   {"message": "Task deleted successfully"}` after
//!   [`crate::Emulator::set_public_delete_message`]), `GET
//!   /v1/tasks/{id}/thread` (the thread kept per thread id; a task that
//!   never ran here gets one made of its input and result) and
//!   `/thread/full` (`{"root": [...], "<sub-task id>": [...]}`).
//!
//! Faults apply to these routes as to the others (mid-stream ones to the
//! invoke stream).

use std::sync::atomic::Ordering;

use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::events::sse::{BadFrames, Feed, Frame, Reply, Run, SseReply};
use crate::http::{Req, Resp};
use crate::state::Shared;
use crate::store::{lock, NewTask, STATUSES};
use crate::validation::{not_found_task, object_body, unprocessable, Kind};

/// A v1 route, its path parameters decoded.
pub(crate) enum Route {
    Invoke(String, Mode),
    List(Option<String>),
    Get(String),
    Delete(String),
    Thread(String, bool),
}

impl Route {
    /// Whether the answer is an event stream (mid-stream faults apply).
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, Route::Invoke(_, Mode::Stream))
    }
}

/// Which invoke.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Sync,
    Async,
    Stream,
}

/// Routes the segments after `/v1/`.
pub(crate) fn route(method: &str, rest: &[&str]) -> Result<Route, Resp> {
    let d = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let only = |want: &str, r: Route| {
        if method == want {
            Ok(r)
        } else {
            Err(Resp::detail(405, "Method Not Allowed"))
        }
    };
    match rest {
        ["agents", agent, "invoke"] => only("POST", Route::Invoke(d(agent), Mode::Sync)),
        ["agents", agent, "invoke", "async"] => only("POST", Route::Invoke(d(agent), Mode::Async)),
        ["agents", agent, "invoke", "stream"] => {
            only("POST", Route::Invoke(d(agent), Mode::Stream))
        }
        ["agents", agent, "tasks"] => only("GET", Route::List(Some(d(agent)))),
        ["tasks"] => only("GET", Route::List(None)),
        ["tasks", id] => match method {
            "GET" => Ok(Route::Get(d(id))),
            "DELETE" => Ok(Route::Delete(d(id))),
            _ => Err(Resp::detail(405, "Method Not Allowed")),
        },
        ["tasks", id, "thread"] => only("GET", Route::Thread(d(id), false)),
        ["tasks", id, "thread", "full"] => only("GET", Route::Thread(d(id), true)),
        _ => Err(Resp::detail(404, "Not Found")),
    }
}

/// Answers a v1 request (the key already checked).
pub(crate) fn handle(shared: &Shared, req: &Req<'_>, route: Route, parsed: Option<Value>) -> Reply {
    let resp = match route {
        Route::Invoke(agent, mode) => return invoke(shared, &agent, mode, req.body, parsed),
        Route::List(agent) => list(shared, agent.as_deref(), req.query()),
        Route::Get(id) => match shared.task(&id) {
            Some(task) => Resp::json(200, &task),
            None => not_found_task(&id),
        },
        Route::Delete(id) => delete(shared, &id),
        Route::Thread(id, full) => thread(shared, &id, full),
    };
    Reply::Full(resp)
}

/// Seconds since the epoch, as thread messages carry them.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One thread message in the published shape.
fn message(shared: &Shared, role: &str, content: &str, output_tokens: u64) -> Value {
    let id = crate::store::new_id(&mut lock(&shared.ids));
    let input_tokens = if role == "assistant" { 10 } else { 0 };
    json!({
        "id": id, "role": role, "content": content, "name": null,
        "tool_call_id": null, "tool_calls": null, "audio": null, "images": null,
        "videos": null, "files": null, "reasoning_content": null, "tool_name": null,
        "tool_args": null, "tool_call_error": null, "stop_after_tool_call": false,
        "add_to_agent_memory": true, "from_history": false,
        "metrics": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                    "total_tokens": input_tokens + output_tokens},
        "references": null, "created_at": unix_now(),
    })
}

/// What the echo agent answers to `input`.
fn echo(input: &Map<String, Value>) -> String {
    match input
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        Some(text) => format!("Echo: {text}"),
        None => {
            let files: Vec<&str> = input
                .get("files")
                .and_then(Value::as_array)
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!("Echo: {} file(s): {}", files.len(), files.join(", "))
        }
    }
}

/// Checks an invoke body as the service's model does.
fn check_invoke(o: &Map<String, Value>) -> Result<&Map<String, Value>, Resp> {
    let input = match o.get("input") {
        None => {
            return Err(unprocessable(
                &["body", "input"],
                "Field required",
                "missing",
            ))
        }
        Some(Value::Object(i)) => i,
        Some(_) => return Err(Kind::Dict.error(&["body", "input"])),
    };
    match input.get("text") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(_) => return Err(Kind::Str.error(&["body", "input", "text"])),
    }
    match input.get("files") {
        None | Some(Value::Null) => {}
        Some(Value::Array(f)) if f.iter().all(Value::is_string) => {}
        Some(_) => return Err(Kind::List.error(&["body", "input", "files"])),
    }
    let text = input
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let files = input
        .get("files")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    if !text && !files {
        return Err(unprocessable(
            &["body", "input"],
            "Value error, Either text or files must be provided",
            "value_error",
        ));
    }
    match o.get("id") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(_) => return Err(Kind::Str.error(&["body", "id"])),
    }
    Ok(input)
}

/// An invoke: the task created (or continued), run by the echo agent.
fn invoke(shared: &Shared, agent: &str, mode: Mode, body: &[u8], parsed: Option<Value>) -> Reply {
    let o = match object_body(parsed, body) {
        Ok(o) => o,
        Err(r) => return Reply::Full(r),
    };
    let input = match check_invoke(&o) {
        Ok(input) => input.clone(),
        Err(r) => return Reply::Full(r),
    };
    let text = input
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let result = echo(&input);
    let thread_id = o
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty());
    // A known thread id continues its task; otherwise a new task.
    let created = {
        let mut store = lock(&shared.store);
        match thread_id.and_then(|id| store.get_mut(id)) {
            Some(entry) => {
                let mut fields = Map::new();
                fields.insert("input".into(), Value::Object(input.clone()));
                fields.insert("status".into(), json!("pending"));
                fields.insert("result".into(), Value::Null);
                fields.insert("finished_at".into(), Value::Null);
                entry.patch(fields);
                Value::Object(entry.task.clone())
            }
            None => {
                let id = shared.new_task_id(&o);
                let new = NewTask {
                    id,
                    agent_id: agent,
                    organization_id: &shared.config.organization_id,
                    agent_version: None,
                };
                let mut body = o.clone();
                body.entry("source").or_insert_with(|| json!("api"));
                store.create(new, &body)
            }
        }
    };
    let id = created["id"].as_str().unwrap_or_default().to_string();
    // The echo agent runs at once: the turn joins the thread, the task finishes.
    let words = result.split(' ').count() as u64;
    {
        let user = message(shared, "user", &text, 0);
        let answer = message(shared, "assistant", &result, words);
        let mut threads = lock(&shared.public.threads);
        let thread = threads.entry(id.clone()).or_default();
        thread.push(user);
        thread.push(answer);
    }
    let finished = shared.update_task(
        &id,
        json!({"status": "completed", "result": result, "started_at": crate::events::now(),
               "finished_at": crate::events::now()}),
    );
    let finished = finished.unwrap_or(Value::Null);
    match mode {
        Mode::Sync => Reply::Full(Resp::json(200, &finished)),
        Mode::Async => Reply::Full(Resp::json(200, &created)),
        Mode::Stream => {
            let mut frames = vec![json!({"type": "task_started", "task_id": id,
                                         "timestamp": crate::events::now()})];
            let pieces: Vec<&str> = result.split(' ').collect();
            let last = pieces.len().saturating_sub(1);
            for (i, piece) in pieces.iter().enumerate() {
                let content = if i == last {
                    piece.to_string()
                } else {
                    format!("{piece} ")
                };
                frames.push(
                    json!({"type": "content_chunk", "content": content, "is_final": i == last}),
                );
            }
            frames.push(json!({"type": "task_completed", "task_id": id, "result": result}));
            Reply::Stream(Box::new(SseReply::new(InvokeFeed { frames })))
        }
    }
}

/// The frames of one invoke stream, made when the request came.
pub(crate) struct InvokeFeed {
    frames: Vec<Value>,
}

impl Feed for InvokeFeed {
    fn bad_frames(&self) -> BadFrames {
        BadFrames {
            not_json: b"data: {\"type\": \"content_chunk\", \"content\": \n\n".to_vec(),
            no_type: Frame::event(None, &json!({"content": "no type"})).encode(),
        }
    }

    fn run<'a>(self: Box<Self>, _shared: &'a Shared, tx: mpsc::Sender<Frame>) -> Run<'a> {
        Box::pin(async move {
            for frame in self.frames {
                if tx.send(Frame::event(None, &frame)).await.is_err() {
                    return;
                }
            }
        })
    }
}

/// One FastAPI (pydantic v2) validation error of a query parameter.
fn query_error(name: &str, typ: &str, msg: &str, input: &str, ctx: Option<Value>) -> Value {
    let mut error = json!({"type": typ, "loc": ["query", name], "msg": msg, "input": input});
    if let Some(ctx) = ctx {
        error["ctx"] = ctx;
    }
    error
}

/// Reads an integer query parameter within `1..=max` (FastAPI's last
/// value of a repeated key; an integer too large for 64 bits is still an
/// integer, as in Python), pushing FastAPI's error for a bad one.
fn int_param(
    pairs: &[(String, String)],
    name: &str,
    default: u64,
    max: Option<u64>,
    errors: &mut Vec<Value>,
) -> u64 {
    let Some((_, raw)) = pairs.iter().rev().find(|(k, _)| k == name) else {
        return default;
    };
    let text = raw.trim();
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let n: i128 = match text.parse::<i128>() {
        Ok(n) => n,
        Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            if text.starts_with('-') {
                i128::MIN
            } else {
                i128::MAX
            }
        }
        Err(_) => {
            errors.push(query_error(
                name,
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                raw,
                None,
            ));
            return default;
        }
    };
    if n < 1 {
        errors.push(query_error(
            name,
            "greater_than_equal",
            "Input should be greater than or equal to 1",
            raw,
            Some(json!({"ge": 1})),
        ));
        return default;
    }
    if let Some(max) = max.filter(|m| n > i128::from(*m)) {
        let msg = format!("Input should be less than or equal to {max}");
        errors.push(query_error(
            name,
            "less_than_equal",
            &msg,
            raw,
            Some(json!({ "le": max })),
        ));
        return default;
    }
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A page of tasks, newest first.
fn list(shared: &Shared, agent: Option<&str>, query: &str) -> Resp {
    const FILTERS: [&str; 6] = [
        "user_id",
        "parent_task_id",
        "agent_id",
        "triggering_agent_id",
        "status",
        "internal_status",
    ];
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    // Every bad parameter is reported, in the handler's order, as FastAPI does.
    let mut errors = Vec::new();
    let page = int_param(&pairs, "page", 1, None, &mut errors);
    let per_page = int_param(&pairs, "per_page", 20, Some(50), &mut errors);
    if let Some((_, s)) = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "status")
        .filter(|(_, v)| !STATUSES.contains(&v.as_str()))
    {
        let quoted: Vec<String> = STATUSES.iter().map(|s| format!("'{s}'")).collect();
        let expected = match quoted.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => quoted.join(""),
        };
        let msg = format!("Input should be {expected}");
        errors.push(query_error(
            "status",
            "enum",
            &msg,
            s,
            Some(json!({ "expected": expected })),
        ));
    }
    if !errors.is_empty() {
        return Resp::json(422, &json!({ "detail": errors }));
    }
    let mut wanted: Vec<(&str, String)> = FILTERS
        .iter()
        .filter(|f| !(**f == "agent_id" && agent.is_some()))
        .filter_map(|f| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == f)
                .map(|(_, v)| (*f, v.clone()))
        })
        .collect();
    if let Some(agent) = agent {
        wanted.push(("agent_id", agent.to_string()));
    }
    let store = lock(&shared.store);
    let matching: Vec<&crate::store::Entry> = store
        .in_order()
        .into_iter()
        .rev()
        .filter(|e| {
            wanted.iter().all(|(f, v)| {
                e.filter_field(f).is_some_and(|have| match have {
                    Value::String(s) => s == v,
                    other => serde_json::from_str::<Value>(v).ok().as_ref() == Some(other),
                })
            })
        })
        .collect();
    let total = matching.len() as u64;
    let total_pages = total.div_ceil(per_page);
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    // Only the page's items are built.
    let items: Vec<Value> = matching
        .into_iter()
        .skip(skip)
        .take(per_page as usize)
        .map(|e| e.list_item())
        .collect();
    drop(store);
    Resp::json(
        200,
        &json!({"items": items, "total": total, "page": page, "per_page": per_page,
                "total_pages": total_pages}),
    )
}

/// `DELETE /v1/tasks/{id}`.
fn delete(shared: &Shared, id: &str) -> Resp {
    if lock(&shared.store).remove(id).is_none() {
        return not_found_task(id);
    }
    lock(&shared.public.threads).remove(id);
    if shared.public.delete_message.load(Ordering::Relaxed) {
        Resp::json(200, &json!({"message": "Task deleted successfully"}))
    } else {
        Resp::bytes(204, Vec::new())
    }
}

/// A task's thread: the one kept, else one made of its input and result.
fn thread_of(shared: &Shared, task: &Map<String, Value>) -> Vec<Value> {
    let id = task.get("id").and_then(Value::as_str).unwrap_or_default();
    if let Some(kept) = lock(&shared.public.threads).get(id) {
        return kept.clone();
    }
    let mut made = Vec::new();
    if let Some(text) = task
        .get("input")
        .and_then(|i| i.get("text"))
        .and_then(Value::as_str)
    {
        made.push(message(shared, "user", text, 0));
    }
    if let Some(result) = task.get("result").and_then(Value::as_str) {
        made.push(message(shared, "assistant", result, 0));
    }
    made
}

/// `GET /v1/tasks/{id}/thread[/full]`.
fn thread(shared: &Shared, id: &str, full: bool) -> Resp {
    let (task, subs) = {
        let store = lock(&shared.store);
        let Some(entry) = store.get(id) else {
            return not_found_task(id);
        };
        let subs: Vec<Map<String, Value>> = store
            .in_order()
            .into_iter()
            .filter(|e| e.task.get("parent_execution").and_then(Value::as_str) == Some(id))
            .map(|e| e.task.clone())
            .collect();
        (entry.task.clone(), subs)
    };
    let root = thread_of(shared, &task);
    if !full {
        return Resp::json(200, &Value::Array(root));
    }
    let mut out = Map::new();
    out.insert("root".into(), Value::Array(root));
    for sub in subs {
        let sub_id = sub
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        out.insert(sub_id, Value::Array(thread_of(shared, &sub)));
    }
    Resp::json(200, &Value::Object(out))
}
