//! Fidelity through both faces and the emulator: every body of
//! `fixtures/fidelity/tasks.json` is seeded as given, loaded, and saved; the
//! save body the emulator received is the very JSON that was read (less
//! `configuration` and `deep_planning`), and the stored task still holds
//! what it was given. A local change changes exactly its keys. Tasks
//! without `created_at` (or with nothing but an id) included.

mod common;

use serde_json::{json, Map, Value};
use xpander_sdk::emulator::Emulator;
use xpander_sdk::AgentExecutionStatus;

const TASKS: &str = include_str!("fixtures/fidelity/tasks.json");

fn without(body: &Value, keys: &[&str]) -> Value {
    let mut body = body.clone();
    for key in keys {
        body.as_object_mut().unwrap().remove(*key);
    }
    body
}

/// The body of the last request the emulator received.
fn last_body(emulator: &Emulator) -> Value {
    emulator.requests().last().unwrap().json.clone().unwrap()
}

macro_rules! fidelity_runner {
    ($mode:meta, $name:ident, get: $get:ident, save: $save:ident) => {
        #[$mode]
        async fn $name() {
            let mut bodies: Map<String, Value> = serde_json::from_str(TASKS).unwrap();
            // Only the id is required: a task without `created_at`, or
            // without every other field, is read and saved back as it came.
            bodies.insert(
                "without created_at".into(),
                json!({"id": "lean-1", "agent_id": "agent-1", "organization_id": "org-1",
                    "input": {"text": "hi"}, "status": "executing"}),
            );
            bodies.insert("only an id".into(), json!({"id": "lean-2"}));
            let emulator = Emulator::builder().api_key("k").start().unwrap();
            let tasks = xpander_sdk::Tasks::builder()
                .api_key("k")
                .base_url(emulator.base_url())
                .build()
                .unwrap();
            for (name, body) in &bodies {
                emulator.seed_task(body.clone()).unwrap();
                let id = body["id"].as_str().unwrap();
                // The emulator serves what it was given.
                assert_eq!(
                    emulator.task(id).as_ref(),
                    Some(body),
                    "{name}: stored as given"
                );
                let mut task = tasks
                    .$get(id)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                task.$save(&tasks)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    last_body(&emulator),
                    without(body, &["configuration", "deep_planning"]),
                    "{name}: the save sends back what was read"
                );
                assert_eq!(
                    emulator.task(id).as_ref(),
                    Some(body),
                    "{name}: nothing lost"
                );

                task.status = Some(AgentExecutionStatus::Completed);
                task.result = Some("Done".into());
                task.$save(&tasks).await.unwrap();
                let mut expected = without(body, &["configuration", "deep_planning"]);
                expected["status"] = json!("completed");
                expected["result"] = json!("Done");
                assert_eq!(last_body(&emulator), expected, "{name}: only the change");
            }
        }
    };
}

fidelity_runner!(maybe_async::must_be_sync, blocking_face, get: get, save: save);
fidelity_runner!(maybe_async::must_be_async, async_face, get: aget, save: asave);

#[test]
fn every_fidelity_body_through_the_blocking_face() {
    blocking_face();
}

#[tokio::test]
async fn every_fidelity_body_through_the_async_face() {
    async_face().await;
}
