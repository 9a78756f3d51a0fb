//! The task store, and the one table of what a task the emulator creates
//! carries.
//!
//! Tasks are JSON objects, kept as given: a seeded task is served exactly as
//! it was seeded (only a missing `id` is generated), so odd-but-valid tasks
//! reach the client unchanged. A task the emulator creates (`POST
//! /agent-execution/{agent_id}`, `report_task`) gets every field of
//! [`FIELDS`], from the request where the table allows it, else the default.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{json, Map, Value};

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

/// Which request may set a field of a created task (else it has its default).
#[derive(Clone, Copy, PartialEq, Eq)]
enum SetBy {
    /// Only the emulator.
    Server,
    /// The create body, when not null.
    Create,
    /// The report body, when not null.
    Report,
}

/// The fields of a created task besides `id`, `agent_id`, `organization_id`
/// and `created_at`, in the official client's order, with their defaults.
/// Object defaults (`input`) are merged key by key into what the request gave.
static FIELDS: LazyLock<Vec<(&str, Value, SetBy)>> = LazyLock::new(|| {
    use SetBy::*;
    vec![
        (
            "input",
            json!({"text": "", "files": [], "user": null}),
            Server,
        ),
        ("status", json!("pending"), Server),
        ("internal_status", Value::Null, Server),
        ("last_executed_node_id", Value::Null, Server),
        ("agent_version", Value::Null, Server),
        ("started_at", Value::Null, Server),
        ("paused_at", Value::Null, Server),
        ("finished_at", Value::Null, Server),
        ("result", Value::Null, Report),
        ("parent_execution", Value::Null, Create),
        ("conversation_id", Value::Null, Create),
        ("conversation_kind", Value::Null, Server),
        ("sub_executions", json!([]), Server),
        ("should_update_parent", json!(false), Server),
        ("is_manually_stopped", json!(false), Server),
        ("payload_extension", Value::Null, Create),
        ("execution_kind", Value::Null, Server),
        ("hitl_request", Value::Null, Server),
        ("pending_eca_request", Value::Null, Server),
        ("source", Value::Null, Create),
        ("voice_id", Value::Null, Server),
        ("output_format", json!("text"), Create),
        ("output_schema", Value::Null, Create),
        ("events_streaming", json!(false), Create),
        ("is_orchestration", json!(false), Server),
        ("is_gateway", json!(false), Server),
        ("is_app", json!(false), Server),
        ("background_auth_eligible", json!(false), Server),
        ("additional_context", Value::Null, Create),
        ("tool_call_limit", Value::Null, Create),
        ("instructions_override", Value::Null, Create),
        ("test_run_node_id", Value::Null, Create),
        ("user_oidc_token", Value::Null, Create),
        ("expected_output", Value::Null, Create),
        ("mcp_servers", json!([]), Create),
        ("triggering_agent_id", Value::Null, Create),
        ("title", Value::Null, Create),
        ("think_mode", json!("default"), Create),
        ("disable_attachment_injection", json!(false), Create),
        ("user_tokens", Value::Null, Create),
        (
            "deep_planning",
            json!({"enabled": false, "enforce": false, "started": false,
                   "question_raised": false, "tasks": []}),
            Server,
        ),
        ("must_deep_plan", json!(false), Server),
        ("execution_attempts", json!(1), Server),
        ("return_metrics", json!(false), Create),
        ("llm_model_provider", Value::Null, Create),
        ("llm_model_name", Value::Null, Create),
        ("llm_reasoning_effort", Value::Null, Create),
        ("harness_cli", Value::Null, Create),
        ("permission_mode", Value::Null, Create),
        ("tokens", Value::Null, Report),
        ("used_tools", json!([]), Report),
        ("duration", json!(0), Report),
    ]
});

/// A report body's field kept on the task although the model has no such field.
const REPORT_EXTRA: &str = "llm_response";

/// The current time as RFC 3339 UTC with microseconds, as the service writes it.
pub(crate) fn now() -> String {
    format!("{:.6}", jiff::Timestamp::now())
}

/// A new version-4 UUID from `rng`'s bytes.
pub(crate) fn new_id(rng: &mut fastrand::Rng) -> String {
    let bytes = rng.u128(..).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Copies onto `task` the body's non-null fields that `by` may set, then
/// fills every field still missing with its default.
fn fill(task: &mut Map<String, Value>, body: &Map<String, Value>, by: SetBy) {
    for (name, default, set_by) in FIELDS.iter() {
        if *set_by == by {
            if let Some(v) = body.get(*name).filter(|v| !v.is_null()) {
                task.insert(name.to_string(), v.clone());
            }
        }
        match (task.get_mut(*name), default) {
            (None, _) => {
                task.insert(name.to_string(), default.clone());
            }
            (Some(Value::Object(given)), Value::Object(defaults)) => {
                for (k, v) in defaults {
                    given.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            _ => {}
        }
    }
}

/// A task of the store and what the store keeps beside it.
pub(crate) struct Entry {
    pub task: Map<String, Value>,
    pub updated_at: String,
    seq: u64,
    /// An update of this task waits (delay or hold) right now.
    pub in_flight: bool,
}

/// Tasks by id, in insertion order.
#[derive(Default)]
pub(crate) struct Store {
    tasks: HashMap<String, Entry>,
    next_seq: u64,
}

impl Store {
    /// Stores `task` under its `id`, replacing a task with that id (which
    /// keeps its place in the order). Returns the id.
    fn insert(&mut self, id: String, task: Map<String, Value>) -> String {
        let seq = match self.tasks.get(&id) {
            Some(e) => e.seq,
            None => {
                self.next_seq += 1;
                self.next_seq
            }
        };
        let updated_at = match task.get("created_at") {
            Some(Value::String(s)) => s.clone(),
            _ => now(),
        };
        let entry = Entry {
            task,
            updated_at,
            seq,
            in_flight: false,
        };
        self.tasks.insert(id.clone(), entry);
        id
    }

    /// Stores a task exactly as given; only a missing (or null) `id` is
    /// generated and added.
    pub(crate) fn seed(&mut self, task: Value, rng: &mut fastrand::Rng) -> Result<String, String> {
        let Value::Object(mut task) = task else {
            return Err("a task must be a JSON object".into());
        };
        let id = match task.get("id") {
            Some(Value::String(id)) => id.clone(),
            None | Some(Value::Null) => {
                let id = new_id(rng);
                task.insert("id".into(), json!(id));
                id
            }
            Some(_) => return Err("task `id` must be a string".into()),
        };
        Ok(self.insert(id, task))
    }

    /// Creates a task from a validated create body; returns it.
    pub(crate) fn create(&mut self, new: NewTask<'_>, body: &Map<String, Value>) -> Value {
        let mut task = new.task();
        if let Some(input) = body.get("input") {
            task.insert("input".into(), input.clone());
        }
        if let Some(v) = new.agent_version {
            task.insert("agent_version".into(), json!(v));
        }
        fill(&mut task, body, SetBy::Create);
        self.store(task)
    }

    /// Creates a finished task from a validated report body; returns it.
    pub(crate) fn report(&mut self, new: NewTask<'_>, body: &Map<String, Value>) -> Value {
        let mut task = new.task();
        let input = match body.get("input") {
            Some(Value::String(s)) => json!({ "text": s }),
            Some(Value::Object(i)) => Value::Object(i.clone()),
            _ => json!({}),
        };
        task.insert("input".into(), input);
        let ok = body
            .get("is_success")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        task.insert(
            "status".into(),
            json!(if ok { "completed" } else { "failed" }),
        );
        let at = task.get("created_at").cloned().unwrap_or(Value::Null);
        task.insert("started_at".into(), at.clone());
        task.insert("finished_at".into(), at);
        if let Some(v) = body.get(REPORT_EXTRA).filter(|v| !v.is_null()) {
            task.insert(REPORT_EXTRA.into(), v.clone());
        }
        fill(&mut task, body, SetBy::Report);
        self.store(task)
    }

    fn store(&mut self, task: Map<String, Value>) -> Value {
        let id = task.get("id").and_then(Value::as_str).unwrap_or_default();
        let answer = Value::Object(task.clone());
        self.insert(id.to_string(), task);
        answer
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Entry> {
        self.tasks.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.tasks.get_mut(id)
    }

    /// All tasks in insertion order.
    pub(crate) fn in_order(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.tasks.values().collect();
        v.sort_by_key(|e| e.seq);
        v
    }
}

/// What a created task gets from the request line and the emulator.
pub(crate) struct NewTask<'a> {
    pub id: String,
    pub agent_id: &'a str,
    pub organization_id: &'a str,
    pub agent_version: Option<&'a str>,
}

impl NewTask<'_> {
    fn task(&self) -> Map<String, Value> {
        let mut t = Map::new();
        t.insert("id".into(), json!(self.id));
        t.insert("agent_id".into(), json!(self.agent_id));
        t.insert("organization_id".into(), json!(self.organization_id));
        t.insert("created_at".into(), json!(now()));
        t
    }
}

impl Entry {
    /// Merges an update body into the task: keys present replace, keys absent
    /// stay. A save (a whole task) replaces every key it carries but `id`; an
    /// update applies its known, non-null fields. `tool_call_payload_extension`
    /// is stored as `payload_extension`.
    pub(crate) fn merge(&mut self, body: Map<String, Value>, save_shaped: bool) {
        const UPDATE_FIELDS: [&str; 4] = ["status", "result", "source", "last_executed_node_id"];
        for (k, v) in body {
            match k.as_str() {
                "id" => {}
                "tool_call_payload_extension" if v.is_null() => {}
                "tool_call_payload_extension" => {
                    self.task.insert("payload_extension".into(), v);
                }
                _ if save_shaped => {
                    self.task.insert(k, v);
                }
                name if UPDATE_FIELDS.contains(&name) && !v.is_null() => {
                    self.task.insert(k, v);
                }
                _ => {}
            }
        }
        self.updated_at = now();
    }

    /// Marks the task stopped.
    pub(crate) fn stop(&mut self) {
        let now = now();
        self.task.insert("status".into(), json!("stopped"));
        self.task.insert("is_manually_stopped".into(), json!(true));
        if self.task.get("finished_at").is_none_or(Value::is_null) {
            self.task.insert("finished_at".into(), json!(now));
        }
        self.updated_at = now;
    }

    /// A field of the task, or of its `input.user` for `user_id`, as the
    /// list filters name them.
    pub(crate) fn filter_field(&self, name: &str) -> Option<&Value> {
        match name {
            "user_id" => self.task.get("input")?.get("user")?.get("id"),
            "parent_task_id" => self.task.get("parent_execution"),
            other => self.task.get(other),
        }
    }

    /// The task as a list item of the history routes.
    pub(crate) fn list_item(&self) -> Value {
        let g = |k: &str| self.task.get(k).cloned().unwrap_or(Value::Null);
        json!({
            "id": g("id"),
            "agent_id": g("agent_id"),
            "organization_id": g("organization_id"),
            "user_id": self.filter_field("user_id").cloned().unwrap_or(Value::Null),
            "parent_task_id": g("parent_execution"),
            "triggering_agent_id": g("triggering_agent_id"),
            "status": g("status"),
            "created_at": g("created_at"),
            "updated_at": self.updated_at,
            "source_node_type": g("source"),
            "result": g("result"),
            "title": g("title"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tasks_get_every_field_and_seeded_tasks_none() {
        let mut store = Store::default();
        let mut rng = fastrand::Rng::with_seed(1);
        let body = json!({"input": {"text": "hi", "extra": 1}, "title": "t", "status": "paused",
                          "think_mode": null});
        let new = NewTask {
            id: new_id(&mut rng),
            agent_id: "a",
            organization_id: "o",
            agent_version: None,
        };
        let t = store.create(new, body.as_object().unwrap());
        assert_eq!(t.as_object().unwrap().len(), FIELDS.len() + 4);
        assert_eq!(t["title"], "t");
        assert_eq!(
            t["status"], "pending",
            "the create body does not set the status"
        );
        assert_eq!(t["think_mode"], "default");
        assert_eq!(
            t["input"],
            json!({"text": "hi", "extra": 1, "files": [], "user": null})
        );

        let odd = json!({"id": "odd", "created_at": 1763632800, "duration": 1e308,
                         "execution_attempts": 9007199254740993u64, "input": {"text": null}});
        assert_eq!(store.seed(odd.clone(), &mut rng), Ok("odd".into()));
        assert_eq!(Value::Object(store.get("odd").unwrap().task.clone()), odd);
    }

    #[test]
    fn ids_are_version_4_uuids() {
        let id = new_id(&mut fastrand::Rng::with_seed(3));
        let u = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(id.len(), 36);
    }

    #[test]
    fn timestamps_have_microseconds() {
        let t = now();
        assert_eq!(t.len(), "2026-11-20T10:00:00.123456Z".len(), "{t}");
        assert!(t.ends_with('Z'));
    }
}
