//! With the `tracing` feature: one span per logical call with its fields,
//! one event per retry, a warning per malformed stream event skipped, and
//! never the API key, a body or an event's data.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use xpander_sdk::emulator::{Emulator, Fault};
use xpander_sdk::{RetryPolicy, Tasks, UpdateTask};

const KEY: &str = "sk-tracing-SECRET-42";

/// Field names and values, as recorded.
type FieldList = Vec<(String, String)>;
/// An event: the name of its parent span, and its fields.
type EventRecord = (Option<String>, FieldList);

#[derive(Default, Clone)]
struct Captured {
    /// Span name and its fields, recorded as they come.
    spans: Arc<Mutex<Vec<(String, FieldList)>>>,
    /// Event fields, with the name of the parent span.
    events: Arc<Mutex<Vec<EventRecord>>>,
}

struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Captured {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields(Vec::new());
        attrs.record(&mut fields);
        let mut spans = self.spans.lock().unwrap();
        spans.push((attrs.metadata().name().to_string(), fields.0));
        let _ = id;
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(Vec::new());
        values.record(&mut fields);
        let name = ctx
            .span(id)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let mut spans = self.spans.lock().unwrap();
        if let Some(span) = spans.iter_mut().rev().find(|(n, _)| *n == name) {
            span.1.extend(fields.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let parent = event
            .parent()
            .and_then(|id| ctx.span(id))
            .map(|s| s.name().to_string());
        self.events.lock().unwrap().push((parent, fields.0));
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn an_update_retried_once_leaves_one_span_and_one_retry_event() {
    let emulator = Emulator::builder().api_key(KEY).start().unwrap();
    emulator
        .seed_task(
            json!({"id": "task_xyz", "agent_id": "a", "organization_id": "o",
            "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}),
        )
        .unwrap();
    emulator.inject(Fault::on("PATCH", "*").respond(503, json!({"detail": "busy"})));
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(KEY)
        .retry(RetryPolicy::default().backoff(
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(2),
        ))
        .build()
        .unwrap();

    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    tracing::subscriber::with_default(subscriber, || {
        tasks
            .update("task_xyz", &UpdateTask::new().result("secret result text"))
            .unwrap();
    });

    let spans = captured.spans.lock().unwrap().clone();
    let calls: Vec<_> = spans
        .iter()
        .filter(|(name, _)| name == "xpander_sdk.call")
        .collect();
    assert_eq!(calls.len(), 1, "one span per logical call: {spans:?}");
    let fields = &calls[0].1;
    assert_eq!(field(fields, "operation"), Some("update"));
    assert_eq!(field(fields, "id"), Some("task_xyz"));
    assert_eq!(field(fields, "method"), Some("PATCH"));
    assert_eq!(field(fields, "attempts"), Some("2"));
    assert_eq!(field(fields, "status"), Some("200"));
    let latency: f64 = field(fields, "latency_ms").unwrap().parse().unwrap();
    assert!(latency >= 0.0);

    let events = captured.events.lock().unwrap().clone();
    let retries: Vec<_> = events
        .iter()
        .filter(|(_, f)| field(f, "message") == Some("retrying"))
        .collect();
    assert_eq!(retries.len(), 1, "{events:?}");
    assert_eq!(retries[0].0.as_deref(), Some("xpander_sdk.call"));
    assert_eq!(field(&retries[0].1, "attempt"), Some("1"));
    assert_eq!(field(&retries[0].1, "status"), Some("503"));

    let everything = format!("{spans:?} {events:?}");
    assert!(!everything.contains(KEY), "the key leaked: {everything}");
    assert!(!everything.contains("SECRET"), "part of the key leaked");
    assert!(!everything.contains("secret result text"), "a body leaked");
}

#[test]
fn a_failed_call_traces_its_error_without_any_credential() {
    let emulator = Emulator::builder().api_key(KEY).start().unwrap();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(KEY)
        .retry(RetryPolicy::disabled())
        .build()
        .unwrap();
    // A gateway echoing the key, and a broken 200 carrying a token.
    emulator
        .inject(Fault::on("GET", "*").respond(401, json!({"detail": format!("bad key {KEY}")})));
    emulator.inject(Fault::on("GET", "*").respond_text(
        200,
        r#"{"id":"t","user_oidc_token":"SENTINEL-oidc-token","created_at":"#,
    ));

    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    tracing::subscriber::with_default(subscriber, || {
        assert!(tasks.get("t").unwrap_err().is_unauthorized());
        assert!(matches!(tasks.get("t"), Err(xpander_sdk::Error::Decode(_))));
    });
    let spans = captured.spans.lock().unwrap().clone();
    let statuses: Vec<_> = spans
        .iter()
        .filter_map(|(_, fields)| field(fields, "status"))
        .collect();
    assert_eq!(statuses, ["401", "200"], "{spans:?}");
    let everything = format!("{spans:?} {:?}", captured.events.lock().unwrap());
    assert!(!everything.contains(KEY), "the key leaked: {everything}");
    assert!(
        !everything.contains("SENTINEL-oidc-token"),
        "a token leaked: {everything}"
    );
}

#[test]
fn a_malformed_event_is_skipped_with_a_warning_that_quotes_no_data() {
    let emulator = Emulator::builder()
        .api_key(KEY)
        .organization_id("org-1")
        .start()
        .unwrap();
    let body = json!({"id": "t-warn", "agent_id": "a", "organization_id": "org-1",
        "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z",
        "status": "executing", "events_streaming": true});
    emulator.seed_task(body.clone()).unwrap();
    let task: xpander_sdk::Task = serde_json::from_value(body).unwrap();
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(KEY)
        .organization_id("org-1")
        .build()
        .unwrap();

    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    let kinds: Vec<String> = tracing::subscriber::with_default(subscriber, || {
        let mut stream = task.events(&tasks).unwrap();
        let connected = stream.next().unwrap().unwrap();
        // No `type`; a `type` that is not a string: both skipped.
        for envelope in [
            json!({"task_id": "t-warn", "organization_id": "org-1", "data": "SENTINEL-event-data"}),
            json!({"type": ["SENTINEL-type"], "task_id": "t-warn", "organization_id": "org-1",
                   "time": "2026-11-20T10:00:00Z", "data": "SENTINEL-event-data"}),
        ] {
            emulator.push_event("t-warn", envelope).unwrap();
        }
        emulator
            .update_task("t-warn", json!({"status": "completed"}))
            .unwrap();
        let rest: Vec<_> = stream.map(|e| e.unwrap().kind.to_string()).collect();
        std::iter::once(connected.kind.to_string())
            .chain(rest)
            .collect()
    });
    assert_eq!(kinds, ["connected", "task_finished"], "the stream went on");

    let events = captured.events.lock().unwrap().clone();
    let warnings: Vec<_> = events
        .iter()
        .filter(|(_, f)| field(f, "message") == Some("skipped a malformed event"))
        .collect();
    assert_eq!(warnings.len(), 2, "{events:?}");
    for (_, fields) in &warnings {
        assert_eq!(field(fields, "task_id"), Some("t-warn"));
        let reason = field(fields, "reason").unwrap();
        assert!(reason.contains("not a task event"), "{reason}");
    }
    assert!(field(&warnings[0].1, "reason").unwrap().contains("`type`"));
    let everything = format!("{events:?} {:?}", captured.spans.lock().unwrap());
    assert!(
        !everything.contains("SENTINEL"),
        "event data traced: {everything}"
    );
}
