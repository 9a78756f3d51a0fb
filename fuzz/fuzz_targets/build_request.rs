//! Request building from arbitrary ids and update values: it never panics;
//! an id is refused only when empty, `.` or `..`, and otherwise becomes
//! exactly one path segment that decodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xpander_sdk::sans_io::RequestBuilder;
use xpander_sdk::{AgentExecutionStatus, ListFilter, Tasks, UpdateTask};

fn segment_of<'a>(url: &'a str, prefix: &str, suffix: &str) -> &'a str {
    url.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .expect("the URL keeps its shape")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1f}');
    let id = parts.next().unwrap_or_default().to_string();
    let value = parts.next().unwrap_or_default().to_string();
    let json = parts.next().unwrap_or_default();

    let Ok(config) = Tasks::builder()
        .api_key("fuzz-key")
        .base_url("https://inbound.xpander.ai")
        .build_config()
    else {
        return;
    };
    let requests = RequestBuilder::new(config);
    let prefix = "https://inbound.xpander.ai/agent-execution/";

    let mut change = UpdateTask::new()
        .result(value.clone())
        .source(value.clone())
        .last_executed_node_id(value.clone())
        .status(AgentExecutionStatus::from(value.as_str()));
    if let Ok(extension) = serde_json::from_str::<serde_json::Value>(json) {
        change = change.tool_call_payload_extension(extension);
    }
    let refused = id.is_empty() || id == "." || id == "..";
    match requests.update(&id, &change) {
        Ok(request) => {
            assert!(!refused, "{id:?} should be refused");
            let url = request.uri().to_string();
            let segment = segment_of(&url, prefix, "/update");
            assert!(!segment.contains(['/', '?', '#']));
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8().unwrap();
            assert_eq!(decoded, id);
            let body: serde_json::Value = serde_json::from_slice(&request.body().0).unwrap();
            assert_eq!(body["result"], serde_json::Value::String(value.clone()));
        }
        Err(e) => {
            let payload_not_object = change
                .tool_call_payload_extension
                .as_ref()
                .is_some_and(|v| !v.is_object());
            assert!(refused || payload_not_object, "{id:?}: {e}");
        }
    }
    for request in [requests.get(&id), requests.stop(&id)] {
        assert_eq!(request.is_err(), refused);
    }
    let filter = ListFilter::new().status(AgentExecutionStatus::from(value.as_str())).user_id(value.clone());
    if let Ok(request) = requests.list(&id, &filter) {
        let url = request.uri().to_string();
        assert!(url.starts_with(prefix));
        assert_eq!(url.matches('?').count(), 1);
    }
});
