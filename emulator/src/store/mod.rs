//! The task store: tasks by id, each with its live side (event stream and
//! activity log, [`Live`]).
//!
//! Tasks are JSON objects, kept as given: a seeded task is served exactly as
//! it was seeded (only a missing `id` is generated), so odd-but-valid tasks
//! reach the client unchanged. A task the emulator creates (`POST
//! /agent-execution/{agent_id}`, `report_task`) gets every field of the
//! table in [`fields`], from the request where the table allows it, else the
//! default.
//!
//! Every change of a task, through any route or the handle, goes through
//! this module and emits its stream event: `task_created` for a new task,
//! `task_finished` when the status becomes terminal, else `task_updated`.

mod fields;

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::activity::Activity;
use crate::events::{envelope, now, EventLog};
use fields::{fill, SetBy, REPORT_EXTRA};

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

/// The statuses after which a task's stream ends.
pub(crate) const TERMINAL: [&str; 4] = ["completed", "failed", "error", "stopped"];

/// Whether a task's `status` is terminal.
pub(crate) fn is_terminal(task: &Map<String, Value>) -> bool {
    task.get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| TERMINAL.contains(&s))
}

/// Locks a mutex; a panic elsewhere does not poison the emulator.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A new version-4 UUID from `rng`'s bytes.
pub(crate) fn new_id(rng: &mut fastrand::Rng) -> String {
    let bytes = rng.u128(..).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A task of the store and what the store keeps beside it.
pub(crate) struct Entry {
    pub task: Map<String, Value>,
    pub updated_at: String,
    seq: u64,
    /// An update of this task waits (delay or hold) right now.
    pub in_flight: bool,
    /// Its event stream and activity log.
    pub live: Live,
}

/// Tasks by id, in insertion order.
pub(crate) struct Store {
    tasks: HashMap<String, Entry>,
    next_seq: u64,
    /// The `organization_id` of events of a task without one.
    organization_id: String,
    /// How many events each task's stream keeps for resumption.
    event_buffer: usize,
}

impl Store {
    pub(crate) fn new(organization_id: &str, event_buffer: usize) -> Store {
        Store {
            tasks: HashMap::new(),
            next_seq: 0,
            organization_id: organization_id.to_string(),
            event_buffer,
        }
    }

    /// Stores `task` under its `id`. A task with that id is replaced but
    /// keeps its place in the order and its live side (a change); otherwise
    /// the task is new. Returns the id.
    fn insert(&mut self, id: String, task: Map<String, Value>) -> String {
        let updated_at = match task.get("created_at") {
            Some(Value::String(s)) => s.clone(),
            _ => now(),
        };
        if let Some(e) = self.tasks.get_mut(&id) {
            let was_terminal = is_terminal(&e.task);
            e.task = task;
            e.updated_at = updated_at;
            e.live.task_changed(&e.task, was_terminal);
            return id;
        }
        self.next_seq += 1;
        let mut live = Live::new(&self.organization_id, self.event_buffer);
        live.task_created(&task);
        let entry = Entry {
            task,
            updated_at,
            seq: self.next_seq,
            in_flight: false,
            live,
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

    /// Removes a task (its streams end).
    pub(crate) fn remove(&mut self, id: &str) -> Option<Entry> {
        self.tasks.remove(id)
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
        let was_terminal = is_terminal(&self.task);
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
        self.changed(was_terminal);
    }

    /// Replaces every key `fields` carries but `id`, as given (the control
    /// route that changes a task as another client would).
    pub(crate) fn patch(&mut self, fields: Map<String, Value>) {
        let was_terminal = is_terminal(&self.task);
        for (k, v) in fields {
            if k != "id" {
                self.task.insert(k, v);
            }
        }
        self.changed(was_terminal);
    }

    /// Marks the task stopped.
    pub(crate) fn stop(&mut self) {
        let was_terminal = is_terminal(&self.task);
        self.task.insert("status".into(), json!("stopped"));
        self.task.insert("is_manually_stopped".into(), json!(true));
        if self.task.get("finished_at").is_none_or(Value::is_null) {
            self.task.insert("finished_at".into(), json!(now()));
        }
        self.changed(was_terminal);
    }

    /// After a change: a new `updated_at`, and the change's stream event.
    fn changed(&mut self, was_terminal: bool) {
        self.updated_at = now();
        self.live.task_changed(&self.task, was_terminal);
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

/// The live side of a task: its event log and its activity log.
pub(crate) struct Live {
    pub log: EventLog,
    pub activity: Activity,
    /// The `organization_id` of events when the task has none.
    organization_id: String,
}

impl Live {
    pub(crate) fn new(organization_id: &str, event_buffer: usize) -> Live {
        Live {
            log: EventLog::new(event_buffer),
            activity: Activity::default(),
            organization_id: organization_id.to_string(),
        }
    }

    /// The organization of the task's events: the task's own, else the
    /// emulator's.
    pub(crate) fn organization_id<'a>(&'a self, task: &'a Map<String, Value>) -> &'a str {
        task.get("organization_id")
            .and_then(Value::as_str)
            .unwrap_or(&self.organization_id)
    }

    /// Appends an event to the stream and applies it to the activity log;
    /// returns its id.
    pub(crate) fn record(&mut self, envelope: Value) -> u64 {
        let id = self.log.push(envelope);
        if let Some(event) = self.log.kept.back() {
            self.activity.apply(event);
        }
        id
    }

    /// An event of the task's own, with the whole task as `data`.
    fn task_event(&mut self, kind: &str, task: &Map<String, Value>) {
        let id = task.get("id").and_then(Value::as_str).unwrap_or_default();
        let org = self.organization_id(task);
        let env = envelope(kind, id, org, Value::Object(task.clone()));
        self.record(env);
    }

    /// A new task: `task_created`, and `task_finished` too when it is
    /// already terminal (a reported task, a seeded finished one).
    pub(crate) fn task_created(&mut self, task: &Map<String, Value>) {
        self.task_event("task_created", task);
        if is_terminal(task) {
            self.task_event("task_finished", task);
        }
    }

    /// A changed task: `task_finished` when its status became terminal, else
    /// `task_updated` (also for a change of an already finished task).
    pub(crate) fn task_changed(&mut self, task: &Map<String, Value>, was_terminal: bool) {
        if is_terminal(task) && !was_terminal {
            self.task_event("task_finished", task);
        } else {
            self.task_event("task_updated", task);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tasks_get_every_field_and_seeded_tasks_none() {
        let mut store = Store::new("o", 8);
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
        assert_eq!(t.as_object().unwrap().len(), fields::FIELDS.len() + 4);
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

    #[test]
    fn task_changes_become_created_updated_finished() {
        let mut live = Live::new("org-x", 16);
        let mut task = json!({"id": "t", "status": "pending"});
        live.task_created(task.as_object().unwrap());
        task["status"] = json!("executing");
        live.task_changed(task.as_object().unwrap(), false);
        task["status"] = json!("completed");
        live.task_changed(task.as_object().unwrap(), false);
        task["result"] = json!("again");
        live.task_changed(task.as_object().unwrap(), true);
        let kinds: Vec<String> = live
            .log
            .all()
            .iter()
            .map(|e| e.kind().unwrap().to_string())
            .collect();
        assert_eq!(
            kinds,
            [
                "task_created",
                "task_updated",
                "task_finished",
                "task_updated"
            ]
        );
        let finished = live.log.last_finished().unwrap();
        assert_eq!(finished.id, 3);
        assert_eq!(finished.envelope["organization_id"], "org-x");
        assert_eq!(finished.envelope["data"]["status"], "completed");
        assert!(finished.envelope["identity"].is_null());
    }
}
