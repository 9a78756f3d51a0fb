//! Hostile input for the models: arbitrary JSON at any depth, with keys
//! drawn from every model's known field names (so that a known field of one
//! model meets any value inside any other), odd numbers, odd text,
//! duplicate keys. Nothing may panic, and every object that reads as a
//! task goes back, as a save body, as the very JSON it was read from.

use proptest::prelude::*;
use serde_json::{json, Map, Number, Value};
use xpander_sdk::model::{
    ActivityThread, DeepPlanning, DeepPlanningTask, DeployedAsset, HitlRequest, McpServer,
    MessageContent, PendingEcaRequest, Task, TaskEvent, TaskInput, TaskListItem, Timestamp, Tokens,
    User,
};

/// Every known field name of the task's models, and of the others.
fn known_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = [
        Task::FIELD_NAMES,
        TaskInput::FIELD_NAMES,
        User::FIELD_NAMES,
        DeepPlanning::FIELD_NAMES,
        DeepPlanningTask::FIELD_NAMES,
        HitlRequest::FIELD_NAMES,
        PendingEcaRequest::FIELD_NAMES,
        McpServer::FIELD_NAMES,
        Tokens::FIELD_NAMES,
        ActivityThread::FIELD_NAMES,
        MessageContent::FIELD_NAMES,
        TaskListItem::FIELD_NAMES,
        DeployedAsset::FIELD_NAMES,
    ]
    .concat();
    keys.extend([
        "role",
        "content",
        "tool_name",
        "payload",
        "type",
        "title",
        "confidence",
        "action",
        "reasoning",
        "data",
        "configuration",
        "access_token",
    ]);
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Text that lax-mode readers may take for something else.
const ODD_TEXT: &[&str] = &[
    "",
    " ",
    "NaN",
    "nan",
    "-NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "-0.0",
    "0x10",
    "1_000",
    " 42 ",
    "42.0",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "true",
    "yes",
    "off",
    "2026-11-20",
    "2026-11-20T10:00:00Z",
    "2026-02-30T00:00:00Z",
    "1763632800",
    "1763632800123",
    "99999999999999999999",
    "+1",
    "\u{0}",
    "é✓漢😀",
    "\u{202e}rtl",
    "\u{feff}bom",
    "\\u0000",
    "completed",
    "executing",
    "stdio",
    "harder",
];

fn odd_number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
        prop::sample::select(vec![
            json!(-0.0),
            json!(0.0),
            json!(1.0e2),
            json!(2.0),
            json!(1.5),
            json!(f64::MAX),
            json!(f64::MIN),
            json!(f64::MIN_POSITIVE),
            json!(5e-324),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(9_007_199_254_740_993u64),
            json!(1e20),
            json!(-1e20),
            json!(2e10),
            json!(2e10 + 1.0),
        ]),
    ]
    .boxed()
}

fn hostile_json(keys: Vec<&'static str>) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        odd_number(),
        prop::sample::select(ODD_TEXT.to_vec()).prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, move |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(keys.clone()).prop_map(str::to_owned),
            1 => "\\PC{0,4}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
    .boxed()
}

/// An object with the five keys a task needs (any values), and any number
/// of other keys, known or not, with hostile values at any depth.
fn hostile_task() -> BoxedStrategy<Value> {
    let keys = known_keys();
    let value = hostile_json(keys.clone());
    let key = prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_owned),
        1 => "\\PC{0,4}",
    ];
    (
        prop::collection::vec(value.clone(), 5),
        prop::collection::vec((key, value), 0..24),
    )
        .prop_map(|(required, others)| {
            let mut map: Map<String, Value> = others.into_iter().collect();
            for (name, value) in ["id", "agent_id", "organization_id", "input", "created_at"]
                .iter()
                .zip(required)
            {
                map.insert((*name).to_owned(), value);
            }
            map.remove("configuration");
            Value::Object(map)
        })
        .boxed()
}

/// Every reader of the crate, on one text: none may panic, and Debug of
/// whatever was read may not either.
fn read_everything(text: &str) {
    if let Ok(task) = serde_json::from_str::<Task>(text) {
        let _ = format!("{task:?}");
        let _ = task.save_body(true);
        let _ = task.is_finished();
        let _ = task.created_at.to_jiff();
        let _ = task.created_at.to_system_time();
    }
    if let Ok(event) = TaskEvent::from_json(text, Some("1")) {
        let _ = format!("{event:?}");
        let _ = event.to_json();
    }
    if let Ok(thread) = serde_json::from_str::<ActivityThread>(text) {
        let _ = format!("{thread:?}");
        let _ = serde_json::to_value(&thread);
    }
    if let Ok(items) = serde_json::from_str::<Vec<TaskListItem>>(text) {
        let _ = format!("{items:?}");
    }
    if let Ok(asset) = serde_json::from_str::<DeployedAsset>(text) {
        let _ = format!("{asset:?}");
    }
    if let Ok(t) = serde_json::from_str::<Timestamp>(text) {
        let _ = (t.to_jiff(), t.civil(), t.offset(), t.to_string());
    }
    let _ = Timestamp::parse(text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_hostile_task_is_saved_back_as_it_came(body in hostile_task()) {
        let text = serde_json::to_string(&body).unwrap();
        read_everything(&text);
        let task: Task = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{e}: {text}"));
        prop_assert_eq!(&task.save_body(true).unwrap(), &body, "{}", text);
        // Read again from the tree, not the text: the same.
        let again: Task = serde_json::from_value(body.clone()).unwrap();
        prop_assert_eq!(&again.save_body(true).unwrap(), &body);
        prop_assert!(task == again);

        // A nested change changes that key alone, at any depth, in an
        // object or in a list read in part.
        let mut changed = task.clone();
        let mut expected = body.clone();
        changed.result = Some("changed".into());
        expected["result"] = json!("changed");
        if body["input"].is_object() {
            changed.input.text = "changed".into();
            expected["input"]["text"] = json!("changed");
        }
        if let Some(first) = changed.mcp_servers.first_mut() {
            first.name = "renamed".into();
            let servers = expected["mcp_servers"].as_array_mut().unwrap();
            let object = servers.iter_mut().find(|s| s.is_object()).unwrap();
            object["name"] = json!("renamed");
        }
        prop_assert_eq!(&changed.save_body(true).unwrap(), &expected, "{}", text);
    }

    #[test]
    fn any_json_text_never_panics_a_reader(value in hostile_json(known_keys())) {
        let text = serde_json::to_string(&value).unwrap();
        read_everything(&text);
        // As an event envelope and as an activity thread, with a type and
        // the required keys in place.
        let mut envelope = match &value {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        envelope.entry("type").or_insert(json!("task_updated"));
        read_everything(&Value::Object(envelope.clone()).to_string());
        envelope.insert("id".into(), json!("x"));
        envelope.insert("created_at".into(), json!("2026-11-20"));
        envelope.insert("messages".into(), Value::Array(vec![value.clone(), value]));
        let text = Value::Object(envelope).to_string();
        read_everything(&text);
        if let (Ok(thread), Ok(body)) = (
            serde_json::from_str::<ActivityThread>(&text),
            serde_json::from_str::<Value>(&text),
        ) {
            prop_assert_eq!(serde_json::to_value(&thread).unwrap(), body);
        }
    }

    #[test]
    fn arbitrary_text_never_panics_a_reader(text in "\\PC{0,40}") {
        read_everything(&text);
    }

    #[test]
    fn timestamps_of_any_text_never_panic(text in prop_oneof![
        "[0-9T:Z+\\-. tz,\\[\\]]{0,40}",
        "[0-9]{1,30}(\\.[0-9]{0,20})?",
        prop::sample::select(ODD_TEXT.to_vec()).prop_map(str::to_owned),
    ]) {
        let _ = Timestamp::parse(&text);
        let t: Timestamp = serde_json::from_value(Value::String(text.clone())).unwrap();
        let _ = (t.to_jiff(), t.to_system_time(), t.civil(), t.offset(), t.to_string());
        prop_assert_eq!(t.as_str(), Some(text.as_str()));
    }
}

/// JSON text with a repeated key: every JSON reader keeps the last one, and
/// so does the task (the save body is the object as a JSON reader sees it).
#[test]
fn duplicate_keys_keep_the_last_value_at_every_depth() {
    let texts = [
        // Odd, then exact.
        r#"{"id":"t","agent_id":"a","organization_id":"o","input":{"text":"hi"},"created_at":"2026-11-20","status":7,"status":"completed"}"#,
        // Exact, then odd.
        r#"{"id":"t","agent_id":"a","organization_id":"o","input":{"text":"hi"},"created_at":"2026-11-20","status":"completed","status":7}"#,
        // Null, then a value; a value, then null.
        r#"{"id":"t","agent_id":"a","organization_id":"o","input":{"text":"hi"},"created_at":"2026-11-20","result":null,"result":"x","title":"y","title":null}"#,
        // Nested, and required keys repeated.
        r#"{"id":"t","id":5,"agent_id":"a","organization_id":"o","input":{"text":1,"text":"hi","files":["a"],"files":null},"created_at":"2026-11-20","created_at":12,"tokens":{"prompt_tokens":"3","prompt_tokens":4}}"#,
        // An unknown key repeated.
        r#"{"id":"t","agent_id":"a","organization_id":"o","input":{"text":"hi"},"created_at":"2026-11-20","x":1,"x":{"y":2}}"#,
        // A model, then not a model, and the reverse.
        r#"{"id":"t","agent_id":"a","organization_id":"o","input":"text","input":{"text":"hi"},"created_at":"2026-11-20","tokens":{"prompt_tokens":1},"tokens":"many"}"#,
    ];
    for text in texts {
        let body: Value = serde_json::from_str(text).unwrap();
        let task: Task = serde_json::from_str(text).unwrap();
        assert_eq!(task.save_body(true).unwrap(), body, "{text}");
    }
}

/// Numbers at the edges of what JSON readers hold, in every kind of field.
#[test]
fn edge_numbers_in_every_kind_of_field() {
    let numbers = [
        "-0",
        "-0.0",
        "0.0",
        "1.0e2",
        "1E2",
        "1e-7",
        "2.0",
        "1.5",
        "5e-324",
        "1.7976931348623157e308",
        "-1.7976931348623157e308",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "123456789012345678901234567890",
        "20000000000",
        "20000000001",
        "-20000000001",
    ];
    let fields = [
        "status",
        "result",
        "execution_attempts",
        "duration",
        "tool_call_limit",
        "is_app",
        "started_at",
        "sub_executions",
        "tokens",
        "output_format",
        "user_tokens",
        "mcp_servers",
        "deep_planning",
        "payload_extension",
    ];
    for number in numbers {
        for field in fields {
            let text = format!(
                r#"{{"id":"t","agent_id":"a","organization_id":"o","input":{{"text":"hi","user":{number}}},"created_at":{number},"{field}":{number},"sub_executions":[{number},"s",null],"tokens":{{"prompt_tokens":{number}}}}}"#
            );
            let body: Value = serde_json::from_str(&text).unwrap();
            let task: Task = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(task.save_body(true).unwrap(), body, "{text}");
            let _ = format!("{task:?}");
        }
    }
    // Out of the range of an f64: no reader takes it, and none panics.
    for number in ["1e400", "-1e400"] {
        let text = format!(
            r#"{{"id":"t","agent_id":"a","organization_id":"o","input":{{}},"created_at":{number}}}"#
        );
        assert!(serde_json::from_str::<Value>(&text).is_err());
        assert!(serde_json::from_str::<Task>(&text).is_err());
    }
}

/// Deeply nested values are refused (serde_json's recursion limit), never a
/// stack overflow.
#[test]
fn deep_nesting_is_refused_not_a_crash() {
    for depth in [100, 127, 128, 129, 10_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let text = format!(
            r#"{{"id":"t","agent_id":"a","organization_id":"o","input":{{"attachments":{nested}}},"created_at":"2026-11-20","user_tokens":{nested}}}"#
        );
        read_everything(&text);
        if let (Ok(task), Ok(body)) = (
            serde_json::from_str::<Task>(&text),
            serde_json::from_str::<Value>(&text),
        ) {
            assert_eq!(task.save_body(true).unwrap(), body);
        }
        let nested_objects = format!("{}1{}", r#"{"input":"#.repeat(depth), "}".repeat(depth));
        read_everything(&nested_objects);
    }
}
