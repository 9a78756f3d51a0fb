//! Routing: control routes apart, then the Tasks API with its key check, the
//! request log and the fault rules (mid-stream ones on event streams only).
//! The routes are listed in the crate's README (its docs).

use std::sync::atomic::Ordering;

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::agents::{events, metadata, stream};
use crate::events::sse::Reply;
use crate::faults::state::{Fired, Pause};
use crate::faults::{FaultAction, StreamFault};
use crate::http::{Req, Resp};
use crate::live;
use crate::log::{ApiKeyCheck, RecordedRequest};
use crate::state::Shared;
use crate::store::lock;
use crate::validation;

/// A route of the Tasks API, its path parameters decoded.
enum Route {
    Update(String),
    Get(String),
    Stop(String),
    Create(String),
    List(String),
    ListUser(String),
    Report(String),
    /// A task's event stream (the org segment is not checked).
    Events(String),
    Push(String),
    /// Agent id, task id.
    Activity(String, String),
    Metrics(String),
    /// The agent stream: org, agent id.
    AgentStream(String, String),
    /// A worker event: the worker id.
    WorkerEvent(String),
    Allowance,
    /// The LLM gateway route of a task (the agent id is not checked).
    LlmGateway(String),
    /// The public REST API v1 (`/v1/...`).
    Public(crate::public::Route),
}

/// Percent-decodes one path segment; invalid UTF-8 is replaced.
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn route(method: &str, path: &str) -> Result<Route, Resp> {
    let bad_method = || Resp::detail(405, "Method Not Allowed");
    // The agent stream's path ends with a slash (before the query).
    let trimmed = match path.strip_suffix('/') {
        Some(p) if p.split('/').nth(2) == Some("events") => p,
        _ => path,
    };
    let segs: Vec<&str> = trimmed.split('/').collect();
    if segs.iter().skip(1).any(|s| s.is_empty()) {
        return Err(Resp::detail(404, "Not Found"));
    }
    let only = |want: &str, r: Route| {
        if method == want {
            Ok(r)
        } else {
            Err(bad_method())
        }
    };
    match segs.as_slice() {
        ["", _org, "agent-execution", id, "events"] => only("GET", Route::Events(decode(id))),
        ["", org, "events", id] => match method {
            "GET" => Ok(Route::AgentStream(decode(org), decode(id))),
            "POST" => Ok(Route::WorkerEvent(decode(id))),
            _ => Err(bad_method()),
        },
        ["", "metadata", "api_key_allowance"] => only("POST", Route::Allowance),
        ["", "agents", _agent, "llm-gateway-route", task] => {
            only("POST", Route::LlmGateway(decode(task)))
        }
        ["", "activity", agent, task] => only("GET", Route::Activity(decode(agent), decode(task))),
        ["", "agents-metrics", agent, "execution"] => only("POST", Route::Metrics(decode(agent))),
        ["", "agent-execution", rest @ ..] => task_route(method, rest),
        ["", "v1", rest @ ..] => crate::public::route(method, rest).map(Route::Public),
        _ => Err(Resp::detail(404, "Not Found")),
    }
}

/// The routes under `/agent-execution/`.
fn task_route(method: &str, rest: &[&str]) -> Result<Route, Resp> {
    let only = |want: &str, r: fn(String) -> Route, seg: &str| {
        if method == want {
            Ok(r(decode(seg)))
        } else {
            Err(Resp::detail(405, "Method Not Allowed"))
        }
    };
    match rest {
        ["executions", "history", "user", user] => only("GET", Route::ListUser, user),
        ["executions", "history", agent] => only("GET", Route::List, agent),
        [id, "update"] => only("PATCH", Route::Update, id),
        [id, "status"] => only("GET", Route::Get, id),
        [id, "events", "push"] => only("POST", Route::Push, id),
        [agent, "report_task"] => only("POST", Route::Report, agent),
        [id] => match method {
            "DELETE" => Ok(Route::Stop(decode(id))),
            "POST" => Ok(Route::Create(decode(id))),
            _ => Err(Resp::detail(405, "Method Not Allowed")),
        },
        _ => Err(Resp::detail(404, "Not Found")),
    }
}

/// Answers one request.
pub(crate) async fn dispatch(shared: &Shared, req: &Req<'_>) -> Reply {
    let parsed: Option<Value> = serde_json::from_slice(req.body).ok();
    let path = req.path();
    if path.starts_with("/__emulator/") {
        return Reply::Full(crate::control::handle(shared, req, parsed));
    }
    let key = ApiKeyCheck::of(req.headers, &shared.config.api_key);
    shared.requests.fetch_add(1, Ordering::Relaxed);
    shared
        .log
        .push(RecordedRequest::new(req, parsed.as_ref(), key));
    let route = route(req.method, path);
    let stream = match &route {
        Ok(Route::Events(_) | Route::AgentStream(..)) => true,
        Ok(Route::Public(r)) => r.is_stream(),
        _ => false,
    };
    let Some(Fired {
        action,
        retry_after,
        sse_retry,
    }) = shared.faults.fire(req.method, path, stream)
    else {
        return api(shared, req, key, route, parsed, None).await;
    };
    let reply = fired(shared, req, key, route, parsed, action, retry_after).await;
    with_sse_retry(reply, sse_retry)
}

/// A stream reply opening with the fault's `retry:` field, if it has one.
fn with_sse_retry(reply: Reply, retry: Option<std::time::Duration>) -> Reply {
    match reply {
        Reply::Stream(s) => Reply::Stream(Box::new(s.with_retry(retry))),
        other => other,
    }
}

/// Answers a request a fault fired on.
async fn fired(
    shared: &Shared,
    req: &Req<'_>,
    key: ApiKeyCheck,
    route: Result<Route, Resp>,
    parsed: Option<Value>,
    action: FaultAction,
    retry_after: Option<String>,
) -> Reply {
    let pause = match action {
        FaultAction::Delay(d) => Some(Pause::For(d)),
        FaultAction::Hold => Some(Pause::UntilReleased),
        _ => None,
    };
    match action {
        FaultAction::Respond {
            status,
            body,
            content_type,
        } => {
            let mut r = Resp::bytes(status, body);
            r.content_type = content_type.into();
            if let Some(ra) = retry_after {
                r.headers.push(("retry-after", ra));
            }
            Reply::Full(r)
        }
        FaultAction::CloseConnection => Reply::Close,
        FaultAction::OversizedBody(n) => Reply::Oversized(n),
        FaultAction::Delay(_) | FaultAction::Hold => {
            api(shared, req, key, route, parsed, pause).await
        }
        // A stream's body is unbounded: "half of it" is none of its events.
        FaultAction::TruncateBody => match api(shared, req, key, route, parsed, None).await {
            Reply::Full(r) => Reply::Truncated(r),
            Reply::Stream(s) => Reply::Stream(Box::new(s.with_fault(0, StreamFault::Drop))),
            other => other,
        },
        FaultAction::MidStream { after, fault } => {
            match api(shared, req, key, route, parsed, None).await {
                Reply::Stream(s) => Reply::Stream(Box::new(s.with_fault(after, fault))),
                other => other,
            }
        }
    }
}

/// A Tasks API request; `pause` is an injected wait before it is handled (an
/// update holds its task's in-flight marker while it waits).
async fn api(
    shared: &Shared,
    req: &Req<'_>,
    key: ApiKeyCheck,
    route: Result<Route, Resp>,
    parsed: Option<Value>,
    pause: Option<Pause>,
) -> Reply {
    let route = match (route, key) {
        (Err(resp), _) => Err(resp),
        (Ok(_), ApiKeyCheck::Missing) => Err(Resp::detail(401, "Missing API key")),
        (Ok(_), ApiKeyCheck::Invalid) => Err(Resp::detail(401, "Invalid API key")),
        (Ok(r), ApiKeyCheck::Valid) => Ok(r),
    };
    let route = match route {
        Ok(Route::Update(id)) => {
            return Reply::Full(update(shared, &id, req.body, parsed, pause).await)
        }
        Ok(r) => r,
        Err(resp) => {
            shared.faults.pause(pause).await;
            return Reply::Full(resp);
        }
    };
    shared.faults.pause(pause).await;
    let answer = |e: &crate::store::Entry| Resp::json(200, &Value::Object(e.task.clone()));
    let result = match route {
        Route::Get(id) => lock(&shared.store).get(&id).map(answer).ok_or(id),
        Route::Stop(id) => {
            let stopped = lock(&shared.store).get_mut(&id).map(|e| {
                e.stop();
                answer(e)
            });
            if stopped.is_some() {
                let mut agents = shared.agents.lock();
                agents.status_set(&id, None, None, "stopped");
            }
            stopped.ok_or(id)
        }
        Route::Events(id) => return live::events(shared, &id, req),
        Route::AgentStream(org, agent) => return stream::agent_stream(shared, &org, &agent, req),
        Route::WorkerEvent(worker) => Ok(events::worker_event(shared, &worker, req, parsed)),
        Route::Allowance => Ok(metadata::allowance(shared, req, parsed)),
        Route::LlmGateway(task) => Ok(metadata::gateway_route(&task)),
        Route::Push(id) => Ok(live::push(shared, &id, parsed, req.body)),
        Route::Activity(agent, id) => Ok(live::activity(shared, &agent, &id)),
        Route::Metrics(agent) => Ok(shared.metrics.report(&agent, parsed, req.body)),
        Route::Create(agent) => Ok(create(shared, &agent, req, parsed, false)),
        Route::Report(agent) => Ok(create(shared, &agent, req, parsed, true)),
        Route::List(agent) => Ok(list(shared, Some(&agent), None, req.query())),
        Route::ListUser(user) => Ok(list(shared, None, Some(&user), req.query())),
        Route::Public(r) => return crate::public::handle(shared, req, r, parsed),
        Route::Update(_) => Ok(Resp::detail(500, "unreachable")),
    };
    Reply::Full(result.unwrap_or_else(|id| validation::not_found_task(&id)))
}

/// Clears the in-flight marker of a task when dropped.
struct InFlight<'a> {
    shared: &'a Shared,
    id: &'a str,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(e) = lock(&self.shared.store).get_mut(self.id) {
            e.in_flight = false;
        }
    }
}

async fn update(
    shared: &Shared,
    id: &str,
    body: &[u8],
    parsed: Option<Value>,
    pause: Option<Pause>,
) -> Resp {
    let o = match validation::object_body(parsed, body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let save_shaped = ["id", "agent_id", "input"]
        .iter()
        .any(|k| o.contains_key(*k));
    if let Err(r) = validation::update(&o, save_shaped) {
        return r;
    }
    // A waiting update marks its task in flight: an overlapping one gets 409.
    let guard = match pause {
        Some(p) if p.waits() => {
            match lock(&shared.store).get_mut(id) {
                None => return validation::not_found_task(id),
                Some(e) if e.in_flight => return Resp::detail(409, "Concurrent update conflict"),
                Some(e) => e.in_flight = true,
            }
            let guard = InFlight { shared, id };
            shared.faults.pause(pause).await;
            Some(guard)
        }
        _ => None,
    };
    let mut store = lock(&shared.store);
    let Some(e) = store.get_mut(id) else {
        return validation::not_found_task(id);
    };
    if e.in_flight && guard.is_none() {
        return Resp::detail(409, "Concurrent update conflict");
    }
    if let Err(r) = validation::status(&o, e.task.get("status")) {
        return r;
    }
    let was = e
        .task
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_string);
    let set = o.get("status").and_then(Value::as_str).map(str::to_string);
    e.merge(o, save_shaped);
    let answer = Resp::json(200, &Value::Object(e.task.clone()));
    drop(store);
    if let Some(status) = set {
        shared.status_changed(id, was.as_deref(), &status);
    }
    answer
}

/// `POST /agent-execution/{agent}` (`report` false) and `.../report_task`.
fn create(
    shared: &Shared,
    agent: &str,
    req: &Req<'_>,
    parsed: Option<Value>,
    report: bool,
) -> Resp {
    let o = match validation::object_body(parsed, req.body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let checked = if report {
        validation::report(&o)
    } else {
        validation::create(&o).map(|_| ())
    };
    if let Err(r) = checked {
        return r;
    }
    let task = if report {
        let new = crate::store::NewTask {
            id: shared.new_task_id(&o),
            agent_id: agent,
            organization_id: &shared.config.organization_id,
            agent_version: None,
        };
        lock(&shared.store).report(new, &o)
    } else {
        shared.create_task(agent, &o, req.header("x-agent-version"))
    };
    Resp::json(200, &task)
}

/// Whether a task's field matches one of the wanted query values.
fn value_matches(v: &Value, wanted: &[String]) -> bool {
    let shown = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    wanted.contains(&shown)
}

/// The history routes: an agent's tasks, or a user's, with the query's
/// filters (a filter given several times matches any of its values).
fn list(shared: &Shared, agent: Option<&str>, user: Option<&str>, query: &str) -> Resp {
    const FILTERS: [&str; 5] = [
        "user_id",
        "parent_task_id",
        "triggering_agent_id",
        "status",
        "internal_status",
    ];
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut wanted: Vec<(&str, Vec<String>)> = FILTERS
        .iter()
        .filter(|f| !(**f == "user_id" && user.is_some()))
        .map(|f| {
            let vals = pairs.iter().filter(|(k, _)| k == f).map(|(_, v)| v.clone());
            (*f, vals.collect::<Vec<_>>())
        })
        .filter(|(_, vals)| !vals.is_empty())
        .collect();
    if let Some(u) = user {
        wanted.push(("user_id", vec![u.to_string()]));
    }
    let store = lock(&shared.store);
    let items: Vec<Value> = store
        .in_order()
        .into_iter()
        .filter(|e| agent.is_none_or(|a| e.task.get("agent_id").and_then(Value::as_str) == Some(a)))
        .filter(|e| {
            wanted
                .iter()
                .all(|(f, vals)| e.filter_field(f).is_some_and(|v| value_matches(v, vals)))
        })
        .map(|e| e.list_item())
        .collect();
    Resp::json(200, &Value::Array(items))
}
