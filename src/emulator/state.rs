//! The emulator's state and the Tasks API semantics, at the JSON level.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::fault::{Fault, FaultAction};
use super::util::{clock_seed, now_rfc3339, parse_query, pct_decode, uuid_like, SplitMix64};

/// One request as the emulator received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The method, e.g. `PATCH`.
    pub method: String,
    /// The raw request target: path and query, not decoded.
    pub path: String,
    /// Headers in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, decoded as UTF-8 lossily.
    pub body: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
}

impl RecordedRequest {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// The request as JSON, as served by `GET /__emulator/requests`.
    pub fn to_json(&self) -> Value {
        let mut h = Map::new();
        for (k, v) in &self.headers {
            match h.get_mut(k) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(v);
                }
                _ => {
                    h.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        json!({
            "method": self.method,
            "path": self.path,
            "headers": h,
            "body": self.body,
            "json": self.json,
        })
    }
}

/// A response the connection layer writes.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub status: u16,
    pub content_type: std::borrow::Cow<'static, str>,
    pub body: Vec<u8>,
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Resp {
    pub(crate) fn json(status: u16, v: &Value) -> Resp {
        Resp {
            status,
            content_type: "application/json".into(),
            body: serde_json::to_vec(v).unwrap_or_default(),
            extra_headers: Vec::new(),
        }
    }

    pub(crate) fn bytes(status: u16, body: Vec<u8>) -> Resp {
        Resp {
            status,
            content_type: "application/json".into(),
            body,
            extra_headers: Vec::new(),
        }
    }

    pub(crate) fn detail(status: u16, msg: &str) -> Resp {
        Resp::json(status, &json!({ "detail": msg }))
    }
}

fn unprocessable(loc: &[&str], msg: &str, typ: &str) -> Resp {
    Resp::json(
        422,
        &json!({"detail": [{"loc": loc, "msg": msg, "type": typ}]}),
    )
}

/// The seven statuses the service knows.
pub(crate) const STATUSES: [&str; 7] = [
    "pending",
    "executing",
    "paused",
    "error",
    "failed",
    "completed",
    "stopped",
];

/// Every field of a task the official client knows, with the default it gets.
fn task_defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("status", json!("pending")),
        ("internal_status", Value::Null),
        ("last_executed_node_id", Value::Null),
        ("agent_version", Value::Null),
        ("started_at", Value::Null),
        ("paused_at", Value::Null),
        ("finished_at", Value::Null),
        ("result", Value::Null),
        ("parent_execution", Value::Null),
        ("conversation_id", Value::Null),
        ("conversation_kind", Value::Null),
        ("sub_executions", json!([])),
        ("should_update_parent", json!(false)),
        ("is_manually_stopped", json!(false)),
        ("payload_extension", Value::Null),
        ("execution_kind", Value::Null),
        ("hitl_request", Value::Null),
        ("pending_eca_request", Value::Null),
        ("source", Value::Null),
        ("voice_id", Value::Null),
        ("output_format", json!("text")),
        ("output_schema", Value::Null),
        ("events_streaming", json!(false)),
        ("is_orchestration", json!(false)),
        ("is_gateway", json!(false)),
        ("is_app", json!(false)),
        ("background_auth_eligible", json!(false)),
        ("additional_context", Value::Null),
        ("tool_call_limit", Value::Null),
        ("instructions_override", Value::Null),
        ("test_run_node_id", Value::Null),
        ("user_oidc_token", Value::Null),
        ("expected_output", Value::Null),
        ("mcp_servers", json!([])),
        ("triggering_agent_id", Value::Null),
        ("title", Value::Null),
        ("think_mode", json!("default")),
        ("disable_attachment_injection", json!(false)),
        ("user_tokens", Value::Null),
        (
            "deep_planning",
            json!({"enabled": false, "enforce": false, "started": false,
                   "question_raised": false, "tasks": []}),
        ),
        ("must_deep_plan", json!(false)),
        ("execution_attempts", json!(1)),
        ("return_metrics", json!(false)),
        ("llm_model_provider", Value::Null),
        ("llm_model_name", Value::Null),
        ("llm_reasoning_effort", Value::Null),
        ("harness_cli", Value::Null),
        ("permission_mode", Value::Null),
        ("tokens", Value::Null),
        ("used_tools", json!([])),
        ("duration", json!(0)),
    ]
}

/// Fields of a create body copied onto the new task (when not null).
const CREATE_FIELDS: [&str; 25] = [
    "payload_extension",
    "source",
    "output_format",
    "output_schema",
    "events_streaming",
    "additional_context",
    "instructions_override",
    "test_run_node_id",
    "user_oidc_token",
    "expected_output",
    "mcp_servers",
    "triggering_agent_id",
    "title",
    "think_mode",
    "disable_attachment_injection",
    "tool_call_limit",
    "user_tokens",
    "return_metrics",
    "llm_model_provider",
    "llm_model_name",
    "llm_reasoning_effort",
    "harness_cli",
    "permission_mode",
    "parent_execution",
    "conversation_id",
];

fn normalize_input(input: &mut Map<String, Value>) {
    input.entry("text").or_insert(json!(""));
    if input.get("files").is_none_or(Value::is_null) {
        input.insert("files".into(), json!([]));
    }
    input.entry("user").or_insert(Value::Null);
}

/// Fills every missing known field with its default.
fn complete_task(task: &mut Map<String, Value>, org: &str, rng: &mut SplitMix64) {
    match task.get("id") {
        Some(Value::String(_)) => {}
        _ => {
            task.insert("id".into(), json!(uuid_like(rng)));
        }
    }
    task.entry("agent_id").or_insert(json!("agent-emulator"));
    task.entry("organization_id").or_insert(json!(org));
    match task.get_mut("input") {
        Some(Value::Object(i)) => normalize_input(i),
        _ => {
            let mut i = Map::new();
            normalize_input(&mut i);
            task.insert("input".into(), Value::Object(i));
        }
    }
    task.entry("created_at")
        .or_insert_with(|| json!(now_rfc3339()));
    for (k, v) in task_defaults() {
        task.entry(k).or_insert(v);
    }
}

struct Entry {
    task: Map<String, Value>,
    updated_at: String,
    seq: u64,
    in_flight: bool,
}

#[derive(Default)]
struct Store {
    tasks: HashMap<String, Entry>,
    next_seq: u64,
}

impl Store {
    fn insert(&mut self, task: Map<String, Value>) -> String {
        let id = task
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let seq = match self.tasks.get(&id) {
            Some(e) => e.seq,
            None => {
                self.next_seq += 1;
                self.next_seq
            }
        };
        let updated_at = task
            .get("created_at")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(now_rfc3339);
        self.tasks.insert(
            id.clone(),
            Entry {
                task,
                updated_at,
                seq,
                in_flight: false,
            },
        );
        id
    }
}

pub(crate) struct Config {
    pub api_key: String,
    pub organization_id: String,
    pub max_body: usize,
    pub log_limit: usize,
}

struct FaultState {
    rules: Vec<Fault>,
    rng: SplitMix64,
}

/// Everything shared between the handle and the server tasks.
pub(crate) struct Shared {
    pub config: Config,
    store: Mutex<Store>,
    faults: Mutex<FaultState>,
    log: Mutex<VecDeque<RecordedRequest>>,
    ids: Mutex<SplitMix64>,
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    fault_count: AtomicU64,
    held: tokio::sync::Semaphore,
    /// How many requests wait on `held` right now.
    pub holding: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Outcome of matching fault rules against a request.
pub(crate) enum Injected {
    None,
    Fault(FaultAction, Option<String>),
}

/// A parsed route of the Tasks API.
enum Route {
    Update(String),
    Get(String),
    Stop(String),
    Create(String),
    List(String),
    ListUser(String),
    Report(String),
}

fn route(method: &str, path: &str) -> Result<Route, Resp> {
    let segs: Vec<&str> = path.split('/').collect();
    let not_found = || Resp::detail(404, "Not Found");
    let bad_method = || Resp::detail(405, "Method Not Allowed");
    let ok = |want: &str, r: Route| {
        if method == want {
            Ok(r)
        } else {
            Err(bad_method())
        }
    };
    if segs.first() != Some(&"") || segs.get(1) != Some(&"agent-execution") {
        return Err(not_found());
    }
    let rest = segs.get(2..).unwrap_or(&[]);
    if rest.iter().any(|s| s.is_empty()) {
        return Err(not_found());
    }
    let d = |s: &str| pct_decode(s);
    match rest {
        ["executions", "history", "user", user] => ok("GET", Route::ListUser(d(user))),
        ["executions", "history", agent] => ok("GET", Route::List(d(agent))),
        [id, "update"] => ok("PATCH", Route::Update(d(id))),
        [id, "status"] => ok("GET", Route::Get(d(id))),
        [agent, "report_task"] => ok("POST", Route::Report(d(agent))),
        [id] => match method {
            "DELETE" => Ok(Route::Stop(d(id))),
            "POST" => Ok(Route::Create(d(id))),
            _ => Err(bad_method()),
        },
        _ => Err(not_found()),
    }
}

/// A request the connection layer hands over.
pub(crate) struct Req<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Req<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
}

/// Parses a JSON body; `Err` is the 422 answer.
fn json_body(body: &[u8]) -> Result<Value, Resp> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(unprocessable(&["body"], "Field required", "missing"));
    }
    serde_json::from_slice(body).map_err(|e| {
        unprocessable(
            &["body"],
            &format!("JSON decode error: {e}"),
            "json_invalid",
        )
    })
}

/// FastAPI's 422 for field `k` unless it is absent, null (when `nullable`),
/// or passes `valid`.
fn check_field(
    o: &Map<String, Value>,
    k: &str,
    nullable: bool,
    valid: fn(&Value) -> bool,
    what: &str,
    kind: &str,
) -> Result<(), Resp> {
    match o.get(k) {
        None => Ok(()),
        Some(Value::Null) if nullable => Ok(()),
        Some(v) if valid(v) => Ok(()),
        Some(_) => Err(unprocessable(
            &["body", k],
            &format!("Input should be a valid {what}"),
            kind,
        )),
    }
}

fn check_str(o: &Map<String, Value>, k: &str, nullable: bool) -> Result<(), Resp> {
    check_field(o, k, nullable, Value::is_string, "string", "string_type")
}

fn check_obj(o: &Map<String, Value>, k: &str, nullable: bool) -> Result<(), Resp> {
    check_field(o, k, nullable, Value::is_object, "dictionary", "dict_type")
}

fn check_kind(
    o: &Map<String, Value>,
    k: &str,
    pred: fn(&Value) -> bool,
    what: &str,
) -> Result<(), Resp> {
    check_field(o, k, true, pred, what, &format!("{what}_type"))
}

fn check_status(o: &Map<String, Value>, current: Option<&Value>) -> Result<(), Resp> {
    match o.get("status") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Ok(()),
        Some(v) if Some(v) == current => Ok(()),
        Some(_) => Err(unprocessable(
            &["body", "status"],
            "Input should be 'pending', 'executing', 'paused', 'error', 'failed', 'completed' or 'stopped'",
            "enum",
        )),
    }
}

fn not_found_task(id: &str) -> Resp {
    Resp::detail(404, &format!("Task {id} not found"))
}

fn list_item(e: &Entry) -> Value {
    let t = &e.task;
    let g = |k: &str| t.get(k).cloned().unwrap_or(Value::Null);
    let user_id = t
        .get("input")
        .and_then(|i| i.get("user"))
        .and_then(|u| u.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "id": g("id"),
        "agent_id": g("agent_id"),
        "organization_id": g("organization_id"),
        "user_id": user_id,
        "parent_task_id": g("parent_execution"),
        "triggering_agent_id": g("triggering_agent_id"),
        "status": g("status"),
        "created_at": g("created_at"),
        "updated_at": e.updated_at,
        "source_node_type": g("source"),
        "result": g("result"),
        "title": g("title"),
    })
}

fn value_matches(v: &Value, wanted: &[&str]) -> bool {
    match v {
        Value::String(s) => wanted.contains(&s.as_str()),
        Value::Number(n) => wanted.contains(&n.to_string().as_str()),
        Value::Bool(b) => wanted.contains(&if *b { "true" } else { "false" }),
        _ => false,
    }
}

/// Clears the in-flight marker of a task when dropped.
struct InFlight<'a> {
    shared: &'a Shared,
    id: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(e) = lock(&self.shared.store).tasks.get_mut(&self.id) {
            e.in_flight = false;
        }
    }
}

impl Shared {
    pub(crate) fn new(config: Config, seed: u64) -> Shared {
        Shared {
            config,
            store: Mutex::new(Store::default()),
            faults: Mutex::new(FaultState {
                rules: Vec::new(),
                rng: SplitMix64::new(seed),
            }),
            log: Mutex::new(VecDeque::new()),
            ids: Mutex::new(SplitMix64::new(clock_seed())),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            fault_count: AtomicU64::new(0),
            held: tokio::sync::Semaphore::const_new(0),
            holding: AtomicU64::new(0),
        }
    }

    // ----- handle-facing operations -----

    pub(crate) fn inject(&self, f: Fault) {
        lock(&self.faults).rules.push(f);
        self.fault_count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).rules.clear();
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        lock(&self.faults).rules.clone()
    }

    pub(crate) fn set_seed(&self, seed: u64) {
        lock(&self.faults).rng = SplitMix64::new(seed);
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    pub(crate) fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    pub(crate) fn seed_task(&self, task: Value) -> Result<String, String> {
        let Value::Object(mut t) = task else {
            return Err("a task must be a JSON object".into());
        };
        if let Some(id) = t.get("id") {
            if !(id.is_string() || id.is_null()) {
                return Err("task `id` must be a string".into());
            }
        }
        complete_task(&mut t, &self.config.organization_id, &mut lock(&self.ids));
        Ok(lock(&self.store).insert(t))
    }

    pub(crate) fn task(&self, id: &str) -> Option<Value> {
        lock(&self.store)
            .tasks
            .get(id)
            .map(|e| Value::Object(e.task.clone()))
    }

    pub(crate) fn tasks(&self) -> Vec<Value> {
        let store = lock(&self.store);
        let mut v: Vec<&Entry> = store.tasks.values().collect();
        v.sort_by_key(|e| e.seq);
        v.into_iter()
            .map(|e| Value::Object(e.task.clone()))
            .collect()
    }

    pub(crate) fn clear_tasks(&self) {
        *lock(&self.store) = Store::default();
    }

    pub(crate) fn reset(&self) {
        self.clear_tasks();
        self.clear_faults();
        self.clear_requests();
        self.requests.store(0, Ordering::Relaxed);
        self.connections.store(0, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> Value {
        json!({
            "connections_accepted": self.connections.load(Ordering::Relaxed),
            "requests": self.requests.load(Ordering::Relaxed),
        })
    }

    // ----- request-facing operations -----

    /// Records an API request in the log.
    pub(crate) fn record(&self, req: &Req<'_>, parsed: Option<&Value>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if self.config.log_limit == 0 {
            return;
        }
        let rec = RecordedRequest {
            method: req.method.to_string(),
            path: req.target.to_string(),
            headers: req.headers.to_vec(),
            body: String::from_utf8_lossy(req.body).into_owned(),
            json: parsed.cloned(),
        };
        let mut log = lock(&self.log);
        while log.len() >= self.config.log_limit {
            log.pop_front();
        }
        log.push_back(rec);
    }

    /// Finds the first fault rule that fires for this request, consuming it.
    pub(crate) fn match_fault(&self, method: &str, path: &str) -> Injected {
        let mut st = lock(&self.faults);
        if st.rules.is_empty() {
            return Injected::None;
        }
        let FaultState { rules, rng } = &mut *st;
        let mut hit = None;
        for (i, r) in rules.iter().enumerate() {
            if !r.matches(method, path) {
                continue;
            }
            if let Some(p) = r.probability_value() {
                if rng.next_f64() >= p {
                    continue;
                }
            }
            hit = Some(i);
            break;
        }
        let Some(i) = hit else {
            return Injected::None;
        };
        let Some(rule) = rules.get_mut(i) else {
            return Injected::None;
        };
        let action = rule.action().clone();
        let retry = rule.retry_after_value().map(str::to_string);
        if rule.consume() {
            rules.remove(i);
        }
        Injected::Fault(action, retry)
    }

    /// Handles a Tasks API request; `delay` is an injected pause to apply.
    pub(crate) async fn handle_api(
        &self,
        req: &Req<'_>,
        parsed: Option<Value>,
        delay: Option<Pause>,
    ) -> Resp {
        let r = match route(req.method, req.path()) {
            Ok(r) => r,
            Err(resp) => {
                self.pause(delay).await;
                return resp;
            }
        };
        match req.header("x-api-key") {
            Some(k) if k == self.config.api_key => {}
            other => {
                self.pause(delay).await;
                return Resp::detail(
                    401,
                    if other.is_none() {
                        "Missing API key"
                    } else {
                        "Invalid API key"
                    },
                );
            }
        }
        if let Route::Update(id) = r {
            return self.update(&id, req.body, parsed, delay).await;
        }
        self.pause(delay).await;
        match r {
            Route::Get(id) => self.get(&id),
            Route::Stop(id) => self.stop(&id),
            Route::Create(agent) => self.create(&agent, req, parsed),
            Route::List(agent) => self.list(Some(&agent), None, req.query()),
            Route::ListUser(user) => self.list(None, Some(&user), req.query()),
            Route::Report(agent) => self.report(&agent, req.body, parsed),
            Route::Update(_) => Resp::detail(500, "unreachable"),
        }
    }

    fn answer(e: &Entry) -> Resp {
        Resp::bytes(200, serde_json::to_vec(&e.task).unwrap_or_default())
    }

    fn get(&self, id: &str) -> Resp {
        match lock(&self.store).tasks.get(id) {
            Some(e) => Self::answer(e),
            None => not_found_task(id),
        }
    }

    fn stop(&self, id: &str) -> Resp {
        let mut store = lock(&self.store);
        let Some(e) = store.tasks.get_mut(id) else {
            return not_found_task(id);
        };
        let now = now_rfc3339();
        e.task.insert("status".into(), json!("stopped"));
        e.task.insert("is_manually_stopped".into(), json!(true));
        if e.task.get("finished_at").is_none_or(Value::is_null) {
            e.task.insert("finished_at".into(), json!(now.clone()));
        }
        e.updated_at = now;
        Self::answer(e)
    }

    async fn update(
        &self,
        id: &str,
        body: &[u8],
        parsed: Option<Value>,
        delay: Option<Pause>,
    ) -> Resp {
        let v = match parsed {
            Some(v) => v,
            None => match json_body(body) {
                Ok(v) => v,
                Err(r) => return r,
            },
        };
        let Value::Object(o) = v else {
            return unprocessable(&["body"], "Input should be a valid dictionary", "dict_type");
        };
        let save_shaped =
            o.contains_key("id") || o.contains_key("agent_id") || o.contains_key("input");
        // Type checks that need no task.
        let pre = (|| {
            check_obj(&o, "tool_call_payload_extension", true)?;
            check_str(&o, "result", true)?;
            check_str(&o, "source", true)?;
            check_str(&o, "last_executed_node_id", true)?;
            if save_shaped {
                check_obj(&o, "input", false)?;
                check_str(&o, "agent_id", false)?;
                check_obj(&o, "payload_extension", true)?;
            }
            Ok(())
        })();
        if let Err(r) = pre {
            return r;
        }
        let _guard = match delay {
            Some(pause) if pause.waits() => {
                {
                    let mut store = lock(&self.store);
                    let Some(e) = store.tasks.get_mut(id) else {
                        return not_found_task(id);
                    };
                    if e.in_flight {
                        return Resp::detail(409, "Concurrent update conflict");
                    }
                    e.in_flight = true;
                }
                let guard = InFlight {
                    shared: self,
                    id: id.to_string(),
                };
                self.pause(Some(pause)).await;
                Some(guard)
            }
            _ => None,
        };
        let mut store = lock(&self.store);
        let Some(e) = store.tasks.get_mut(id) else {
            return not_found_task(id);
        };
        if e.in_flight && _guard.is_none() {
            return Resp::detail(409, "Concurrent update conflict");
        }
        if let Err(r) = check_status(&o, e.task.get("status")) {
            return r;
        }
        if save_shaped {
            for (k, v) in o {
                match k.as_str() {
                    "id" => {}
                    "tool_call_payload_extension" => {
                        if !v.is_null() {
                            e.task.insert("payload_extension".into(), v);
                        }
                    }
                    "input" => {
                        let mut v = v;
                        if let Value::Object(i) = &mut v {
                            normalize_input(i);
                        }
                        e.task.insert(k, v);
                    }
                    _ => {
                        e.task.insert(k, v);
                    }
                }
            }
        } else {
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                match k.as_str() {
                    "status" | "result" | "source" | "last_executed_node_id" => {
                        e.task.insert(k, v);
                    }
                    "tool_call_payload_extension" => {
                        e.task.insert("payload_extension".into(), v);
                    }
                    _ => {}
                }
            }
        }
        e.updated_at = now_rfc3339();
        Self::answer(e)
    }

    fn create(&self, agent: &str, req: &Req<'_>, parsed: Option<Value>) -> Resp {
        let v = match parsed {
            Some(v) => v,
            None => match json_body(req.body) {
                Ok(v) => v,
                Err(r) => return r,
            },
        };
        let Value::Object(o) = v else {
            return unprocessable(&["body"], "Input should be a valid dictionary", "dict_type");
        };
        let input = match o.get("input") {
            Some(Value::Object(i)) => i.clone(),
            None => return unprocessable(&["body", "input"], "Field required", "missing"),
            Some(_) => {
                return unprocessable(
                    &["body", "input"],
                    "Input should be a valid dictionary",
                    "dict_type",
                )
            }
        };
        let checks = (|| {
            check_str(&input, "text", true).map_err(|_| {
                unprocessable(
                    &["body", "input", "text"],
                    "Input should be a valid string",
                    "string_type",
                )
            })?;
            check_kind(&input, "files", Value::is_array, "list").map_err(|_| {
                unprocessable(
                    &["body", "input", "files"],
                    "Input should be a valid list",
                    "list_type",
                )
            })?;
            check_kind(&input, "user", Value::is_object, "dictionary").map_err(|_| {
                unprocessable(
                    &["body", "input", "user"],
                    "Input should be a valid dictionary",
                    "dict_type",
                )
            })?;
            check_str(&o, "id", true)?;
            check_str(&o, "title", true)?;
            check_str(&o, "source", true)?;
            check_obj(&o, "payload_extension", true)?;
            check_kind(&o, "mcp_servers", Value::is_array, "list")?;
            Ok(())
        })();
        if let Err(r) = checks {
            return r;
        }
        let mut t = Map::new();
        let id = match o.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => uuid_like(&mut lock(&self.ids)),
        };
        let mut input = input;
        normalize_input(&mut input);
        t.insert("id".into(), json!(id));
        t.insert("agent_id".into(), json!(agent));
        t.insert("organization_id".into(), json!(self.config.organization_id));
        t.insert("input".into(), Value::Object(input));
        t.insert("created_at".into(), json!(now_rfc3339()));
        t.insert("status".into(), json!("pending"));
        if let Some(v) = req.header("x-agent-version") {
            t.insert("agent_version".into(), json!(v));
        }
        for k in CREATE_FIELDS {
            if let Some(v) = o.get(k) {
                if !v.is_null() {
                    t.insert(k.into(), v.clone());
                }
            }
        }
        complete_task(&mut t, &self.config.organization_id, &mut lock(&self.ids));
        let body = serde_json::to_vec(&t).unwrap_or_default();
        lock(&self.store).insert(t);
        Resp::bytes(200, body)
    }

    fn report(&self, agent: &str, body: &[u8], parsed: Option<Value>) -> Resp {
        let v = match parsed {
            Some(v) => v,
            None => match json_body(body) {
                Ok(v) => v,
                Err(r) => return r,
            },
        };
        let Value::Object(o) = v else {
            return unprocessable(&["body"], "Input should be a valid dictionary", "dict_type");
        };
        let checks = (|| {
            check_str(&o, "id", true)?;
            check_str(&o, "result", true)?;
            check_kind(&o, "is_success", Value::is_boolean, "boolean")?;
            check_kind(&o, "duration", Value::is_number, "number")?;
            check_kind(&o, "used_tools", Value::is_array, "list")?;
            check_obj(&o, "tokens", true)?;
            match o.get("input") {
                None | Some(Value::Null) | Some(Value::String(_)) | Some(Value::Object(_)) => {
                    Ok(())
                }
                Some(_) => Err(unprocessable(
                    &["body", "input"],
                    "Input should be a valid string",
                    "string_type",
                )),
            }
        })();
        if let Err(r) = checks {
            return r;
        }
        let id = match o.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => uuid_like(&mut lock(&self.ids)),
        };
        let input = match o.get("input") {
            Some(Value::String(s)) => json!({"text": s, "files": [], "user": null}),
            Some(Value::Object(i)) => Value::Object(i.clone()),
            _ => json!({"text": "", "files": [], "user": null}),
        };
        let ok = o.get("is_success").and_then(Value::as_bool).unwrap_or(true);
        let now = now_rfc3339();
        let mut t = Map::new();
        t.insert("id".into(), json!(id));
        t.insert("agent_id".into(), json!(agent));
        t.insert("organization_id".into(), json!(self.config.organization_id));
        t.insert("input".into(), input);
        t.insert("created_at".into(), json!(now));
        t.insert("started_at".into(), json!(now));
        t.insert("finished_at".into(), json!(now));
        t.insert(
            "status".into(),
            json!(if ok { "completed" } else { "failed" }),
        );
        for k in ["result", "duration", "used_tools", "tokens", "llm_response"] {
            if let Some(v) = o.get(k) {
                if !v.is_null() {
                    t.insert(k.into(), v.clone());
                }
            }
        }
        complete_task(&mut t, &self.config.organization_id, &mut lock(&self.ids));
        let body = serde_json::to_vec(&t).unwrap_or_default();
        lock(&self.store).insert(t);
        Resp::bytes(200, body)
    }

    fn list(&self, agent: Option<&str>, user: Option<&str>, query: &str) -> Resp {
        let q = parse_query(query);
        let filters = [
            "user_id",
            "parent_task_id",
            "triggering_agent_id",
            "status",
            "internal_status",
        ];
        let mut wanted: Vec<(&str, Vec<&str>)> = Vec::new();
        for f in filters {
            if f == "user_id" && user.is_some() {
                continue;
            }
            let vals: Vec<&str> = q
                .iter()
                .filter(|(k, _)| k == f)
                .map(|(_, v)| v.as_str())
                .collect();
            if !vals.is_empty() {
                wanted.push((f, vals));
            }
        }
        let user_filter: Vec<&str> = user.into_iter().collect();
        if !user_filter.is_empty() {
            wanted.push(("user_id", user_filter));
        }
        let store = lock(&self.store);
        let mut hits: Vec<&Entry> = store
            .tasks
            .values()
            .filter(|e| {
                if let Some(a) = agent {
                    if e.task.get("agent_id").and_then(Value::as_str) != Some(a) {
                        return false;
                    }
                }
                wanted.iter().all(|(f, vals)| {
                    let v = match *f {
                        "user_id" => e
                            .task
                            .get("input")
                            .and_then(|i| i.get("user"))
                            .and_then(|u| u.get("id")),
                        "parent_task_id" => e.task.get("parent_execution"),
                        other => e.task.get(other),
                    };
                    v.is_some_and(|v| value_matches(v, vals))
                })
            })
            .collect();
        hits.sort_by_key(|e| e.seq);
        let items: Vec<Value> = hits.into_iter().map(list_item).collect();
        Resp::json(200, &Value::Array(items))
    }

    // ----- control routes -----

    /// Handles `/__emulator/...`.
    pub(crate) fn handle_control(&self, req: &Req<'_>, parsed: Option<Value>) -> Resp {
        let ok = || Resp::json(200, &json!({"ok": true}));
        let path = req.path();
        let sub = path.strip_prefix("/__emulator/").unwrap_or("");
        let body = || match parsed.clone() {
            Some(v) => Ok(v),
            None => json_body(req.body),
        };
        match (req.method, sub) {
            ("GET", "requests") => Resp::json(
                200,
                &Value::Array(
                    lock(&self.log)
                        .iter()
                        .map(RecordedRequest::to_json)
                        .collect(),
                ),
            ),
            ("DELETE", "requests") => {
                self.clear_requests();
                ok()
            }
            ("GET", "stats") => Resp::json(200, &self.stats()),
            ("GET", "tasks") => Resp::json(200, &Value::Array(self.tasks())),
            ("DELETE", "tasks") => {
                self.clear_tasks();
                ok()
            }
            ("POST", "tasks") => {
                let v = match body() {
                    Ok(v) => v,
                    Err(r) => return r,
                };
                let list = match v {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                let mut ids = Vec::new();
                for t in list {
                    match self.seed_task(t) {
                        Ok(id) => ids.push(id),
                        Err(e) => return unprocessable(&["body"], &e, "value_error"),
                    }
                }
                Resp::json(200, &json!({ "ids": ids }))
            }
            ("GET", "faults") => Resp::json(
                200,
                &Value::Array(self.faults().iter().map(Fault::to_json).collect()),
            ),
            ("POST", "faults") => {
                let v = match body() {
                    Ok(v) => v,
                    Err(r) => return r,
                };
                let list = match v {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                let mut parsed_faults = Vec::new();
                for f in &list {
                    match Fault::from_json(f) {
                        Ok(f) => parsed_faults.push(f),
                        Err(e) => return unprocessable(&["body"], &e, "value_error"),
                    }
                }
                for f in parsed_faults {
                    self.inject(f);
                }
                ok()
            }
            ("DELETE", "faults") => {
                self.clear_faults();
                ok()
            }
            ("POST", "seed") => {
                let v = match body() {
                    Ok(v) => v,
                    Err(r) => return r,
                };
                match v.get("seed").and_then(Value::as_u64) {
                    Some(s) => {
                        self.set_seed(s);
                        ok()
                    }
                    None => unprocessable(
                        &["body", "seed"],
                        "Input should be a valid integer",
                        "int_type",
                    ),
                }
            }
            ("POST", "release") => {
                let v = match body() {
                    Ok(v) => v,
                    Err(r) => return r,
                };
                match v.get("count").and_then(Value::as_u64) {
                    Some(n) => {
                        self.release(usize::try_from(n).unwrap_or(usize::MAX));
                        ok()
                    }
                    None => unprocessable(
                        &["body", "count"],
                        "Input should be a valid integer",
                        "int_type",
                    ),
                }
            }
            ("POST", "reset") => {
                self.reset();
                ok()
            }
            (_, "requests" | "stats" | "tasks" | "faults" | "seed" | "release" | "reset") => {
                Resp::detail(405, "Method Not Allowed")
            }
            _ => Resp::detail(404, "Not Found"),
        }
    }
}

/// An injected pause before a request is handled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pause {
    /// A fixed delay.
    For(Duration),
    /// Until [`Shared::release`] lets the request go.
    UntilReleased,
}

impl Pause {
    /// True when the pause actually waits.
    fn waits(self) -> bool {
        match self {
            Pause::For(d) => !d.is_zero(),
            Pause::UntilReleased => true,
        }
    }
}

impl Shared {
    /// Waits as `pause` says.
    async fn pause(&self, pause: Option<Pause>) {
        match pause {
            Some(Pause::For(d)) if !d.is_zero() => tokio::time::sleep(d).await,
            Some(Pause::UntilReleased) => {
                // A permit per release: a release that comes before the
                // request reaches this point is not lost.
                self.holding.fetch_add(1, Ordering::SeqCst);
                let permit = self.held.acquire().await;
                self.holding.fetch_sub(1, Ordering::SeqCst);
                if let Ok(permit) = permit {
                    permit.forget();
                }
            }
            _ => {}
        }
    }

    /// Lets `n` held requests (present or to come) go on.
    pub(crate) fn release(&self, n: usize) {
        self.held
            .add_permits(n.min(tokio::sync::Semaphore::MAX_PERMITS));
    }
}
