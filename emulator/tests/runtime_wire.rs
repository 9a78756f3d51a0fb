//! The official Python runtime's traffic (xpander-sdk 2.0.537 against a
//! fake backend, nine scenarios), replayed against the emulator: every
//! request gets the status the fake backend gave, every event the fake
//! backend sent on the agent stream comes from the emulator's dispatch
//! (or its fault tools), and the emulator's records match what was sent.

mod common;

use std::collections::HashMap;

use common::sse::{End, Sse};
use common::*;
use serde_json::{json, Value};
use xpander_emulator::{Emulator, Fault};

const RUNTIME: &str = include_str!("../../tests/fixtures/official-python-runtime.json");
const STREAM: &str = "/org-test/events/agent-test/";

/// One scenario's replay: the emulator, and the captured ids mapped to
/// the emulator's.
struct Replay {
    emu: Emulator,
    name: String,
    /// Captured worker id → the emulator's (the newest registration).
    workers: HashMap<String, String>,
    /// Captured task id → the emulator's (a task the runtime created).
    tasks: HashMap<String, String>,
    created: Option<String>,
    /// Open streams; the last one may await a graceful close.
    streams: Vec<Sse>,
    close_pending: bool,
    /// Per emulator worker: heartbeats sent, capacity values sent.
    sent: HashMap<String, (u64, Vec<bool>)>,
    /// Task id → the worker the replay expects it delivered to.
    expect_delivered: Vec<(String, String)>,
    metrics: usize,
}

/// A request's headers as sent, the key made the emulator's, without the
/// ones the raw client writes itself.
fn headers<'a>(r: &'a Value, key: &'a str) -> Vec<(&'a str, &'a str)> {
    let skip = ["host", "content-length", "content-type"];
    r["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            (
                k.as_str(),
                if k == "x-api-key" {
                    key
                } else {
                    v.as_str().unwrap()
                },
            )
        })
        .collect()
}

impl Replay {
    fn new(scenario: &Value) -> Replay {
        let emu = emu();
        let name = scenario["scenario"].as_str().unwrap().to_string();
        // The fake backend's behaviour, as the emulator's faults.
        let busy = json!({"detail": "unavailable"});
        match name.as_str() {
            "sse-down" => emu.inject(Fault::on("GET", STREAM).always().respond(503, busy)),
            "midstream-errors" => emu.inject(Fault::on("GET", STREAM).times(5).drop_after(1)),
            "patch-500" => {
                emu.inject(Fault::on("PATCH", "/agent-execution/task-p/update").times(2))
            }
            _ => {}
        }
        Replay {
            emu,
            name,
            workers: HashMap::new(),
            tasks: HashMap::new(),
            created: None,
            streams: Vec::new(),
            close_pending: false,
            sent: HashMap::new(),
            expect_delivered: Vec::new(),
            metrics: 0,
        }
    }

    /// Ends the last stream gracefully, when the capture did (deferred to
    /// the reconnect, so the claims made meanwhile come first).
    fn graceful_close(&mut self) {
        if std::mem::take(&mut self.close_pending) {
            assert_eq!(self.emu.close_agent_streams("agent-test"), 1);
            let (rest, end) = self.streams.last_mut().unwrap().rest();
            assert_eq!((rest.len(), end), (0, End::Clean), "{}", self.name);
        }
    }

    /// The agent stream: open it, then make the emulator send what the
    /// fake backend sent, and check it arrives as sent.
    fn stream(&mut self, r: &Value) {
        self.graceful_close();
        let mut c = Conn::open(&self.emu);
        c.send(
            "GET",
            r["raw_target"].as_str().unwrap(),
            &headers(r, self.emu.api_key()),
            None,
        );
        let mut sse = match Sse::after_request(c) {
            Ok(sse) => sse,
            Err(resp) => {
                assert_eq!(resp.status, r["response_status"], "{}", self.name);
                return;
            }
        };
        assert_eq!(r["response_status"], 200, "{}", self.name);
        let mut current = None;
        let sent = r["sse_sent"].as_array().unwrap();
        if sent
            .first()
            .is_some_and(|e| e["event"] != "worker-registration")
        {
            // The emulator registers every connection first (the fake
            // backend of `conflict` sent its conflict alone).
            let b = sse.next_event().unwrap();
            assert_eq!(b.event.as_deref(), Some("worker-registration"));
            current = b.json()["id"].as_str().map(str::to_string);
        }
        for item in r["sse_sent"].as_array().unwrap() {
            let event = item["event"].as_str();
            match event {
                Some("worker-registration") => {
                    let b = sse.next_event().unwrap();
                    assert_eq!(b.event.as_deref(), event);
                    let ours = b.json();
                    let keys = |v: &Value| {
                        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
                        k.sort();
                        k
                    };
                    assert_eq!(keys(&ours), keys(&item["data"]), "{}", self.name);
                    let captured = item["data"]["id"].as_str().unwrap().to_string();
                    current = ours["id"].as_str().map(str::to_string);
                    self.workers.insert(captured, current.clone().unwrap());
                    continue;
                }
                Some("agent-execution") if item["data"].get("created_at").is_some() => {
                    // A task for a connected worker: the dispatch sends it.
                    let id = seed(&self.emu, item["data"].clone());
                    let to = self.emu.deliveries(&id);
                    assert_eq!(
                        to,
                        current.iter().cloned().collect::<Vec<_>>(),
                        "{}: {id}",
                        self.name
                    );
                    self.expect_delivered.push((id, to[0].clone()));
                }
                Some(name) => {
                    // A malformed task, a conflict, an unknown event: as given.
                    let n =
                        self.emu
                            .send_agent_event("agent-test", name, &item["data"].to_string());
                    assert_eq!(n, 1, "{}", self.name);
                }
                None if item.get("comment").is_some() => continue,
                None if item["closed"] == "graceful" => {
                    self.close_pending = true;
                    continue;
                }
                None => {
                    let (rest, end) = sse.rest();
                    assert_eq!(
                        (rest.len(), end),
                        (0, End::Dropped),
                        "{}: {item}",
                        self.name
                    );
                    continue;
                }
            }
            let b = sse.next_event().unwrap();
            assert_eq!(b.event.as_deref(), event, "{}", self.name);
            assert_eq!(b.json(), item["data"], "{}: sent as given", self.name);
        }
        self.streams.push(sse);
    }

    /// A request path with the captured ids made the emulator's.
    fn path(&mut self, r: &Value) -> String {
        let target = r["raw_target"].as_str().unwrap().to_string();
        let segs: Vec<&str> = target.split(['/', '?']).collect();
        if let [_, "agent-execution", id, "update" | "status"] = segs.as_slice() {
            if self.emu.task(id).is_none() {
                if let Some(created) = self.created.clone() {
                    self.tasks.insert(id.to_string(), created);
                }
            }
        }
        let mut out = target.clone();
        for (from, to) in self.workers.iter().chain(self.tasks.iter()) {
            out = out.replace(&format!("/{from}?"), &format!("/{to}?"));
            out = out.replace(&format!("/{from}/"), &format!("/{to}/"));
        }
        out
    }

    fn request(&mut self, r: &Value) {
        let key = self.emu.api_key().to_string();
        let path = self.path(r);
        let mut body = r["body"].clone();
        if body.get("api_key").is_some() {
            body["api_key"] = json!(key);
        }
        let bytes = (!body.is_null()).then(|| serde_json::to_vec(&body).unwrap());
        let mut c = Conn::open(&self.emu);
        c.send(
            r["method"].as_str().unwrap(),
            &path,
            &headers(r, &key),
            bytes.as_deref(),
        );
        let answer = c.answer();
        let name = &self.name;
        assert_eq!(
            answer.status,
            r["response_status"],
            "{name}: {path} {:?}",
            answer.json()
        );
        if answer.status != 200 {
            return;
        }
        let v = answer.json();
        match (r["method"].as_str().unwrap(), body["event"].as_str()) {
            ("PATCH", _) => assert_eq!(v["status"], body["status"], "{name}: the save is stored"),
            ("GET", _) => assert_eq!(v["id"].as_str(), path.split('/').nth(2), "{name}"),
            ("POST", Some(event)) => {
                let worker = path.split(['/', '?']).nth(3).unwrap().to_string();
                let entry = self.sent.entry(worker).or_default();
                match event {
                    "worker-heartbeat" => entry.0 += 1,
                    _ => entry.1.push(body["data"]["is_busy"].as_bool().unwrap()),
                }
            }
            ("POST", None) if path.starts_with("/agents-metrics/") => self.metrics += 1,
            ("POST", None) if path == "/agent-execution/agent-test" => {
                self.created = Some(v["id"].as_str().unwrap().to_string());
            }
            ("POST", None) if path == "/metadata/api_key_allowance" => {
                assert_eq!(v["agent_ids"], json!(["agent-test"]), "{name}")
            }
            other => panic!("{name}: unexpected {other:?} {path}"),
        }
    }

    /// The emulator's records against what the replay sent.
    fn check(self) {
        let name = &self.name;
        for w in self.emu.workers() {
            let (beats, capacity) = self.sent.get(&w.id).cloned().unwrap_or_default();
            assert_eq!(
                (w.heartbeats, w.capacity_updates),
                (beats, capacity),
                "{name}: {}",
                w.id
            );
        }
        for (task, worker) in &self.expect_delivered {
            assert_eq!(
                self.emu.deliveries(task),
                [worker.as_str()],
                "{name}: {task}"
            );
        }
        assert_eq!(self.emu.metrics_reports().len(), self.metrics, "{name}");
        if let Some(local) = &self.created {
            assert!(
                self.emu.deliveries(local).is_empty(),
                "run locally: never dispatched"
            );
            assert_eq!(self.emu.task(local).unwrap()["status"], "completed");
        }
    }
}

#[test]
fn the_official_runtimes_traffic_replays_with_the_fake_backends_answers() {
    let capture: Value = serde_json::from_str(RUNTIME).unwrap();
    let scenarios = capture["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 9);
    let mut replayed = 0;
    for scenario in scenarios {
        let mut replay = Replay::new(scenario);
        // Tasks the runtime reaches that were not delivered on the stream
        // (the /invoke server's): seeded before any worker connects.
        replay
            .emu
            .seed_task(json!({"id": "task-invoke", "agent_id": "agent-test",
            "organization_id": "org-test", "input": {"text": "ok"}, "status": "pending",
            "created_at": "2026-11-28T03:38:30Z"}))
            .unwrap();
        for r in scenario["records"].as_array().unwrap() {
            match (r["kind"].as_str(), r["method"].as_str(), r["path"].as_str()) {
                (Some("request"), Some("GET"), Some(STREAM)) => replay.stream(r),
                (Some("request"), ..) => replay.request(r),
                _ => continue,
            }
            replayed += 1;
        }
        replay.graceful_close();
        replay.check();
    }
    assert_eq!(replayed, 104, "every recorded request");
}

#[test]
fn the_capture_shows_what_the_dispatch_rules_assume() {
    // The claim is the `executing` save, and every delivered task the
    // runtime ran was claimed before its connection ended: so an unclaimed
    // one is safe to send elsewhere.
    let capture: Value = serde_json::from_str(RUNTIME).unwrap();
    let main = &capture["scenarios"][0];
    let records = main["records"].as_array().unwrap();
    let delivered: Vec<&str> = records
        .iter()
        .flat_map(|r| r["sse_sent"].as_array().into_iter().flatten())
        .filter(|e| e["event"] == "agent-execution")
        .map(|e| e["data"]["id"].as_str().unwrap())
        .collect();
    for id in &delivered {
        let first_save = records
            .iter()
            .find(|r| r["path"] == format!("/agent-execution/{id}/update"))
            .unwrap_or_else(|| panic!("{id} never saved"));
        assert_eq!(first_save["body"]["status"], "executing", "{id}");
    }
    assert_eq!(delivered.len(), 5);
}
