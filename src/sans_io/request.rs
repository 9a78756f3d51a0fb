//! Building every request of the Tasks API: method, full URL, headers and
//! body bytes. No I/O.
//!
//! Each function refuses bad arguments (an empty id, `.` or `..`, a payload
//! extension that is not an object) with [`Error::InvalidArgument`] before
//! anything is sent.

use serde::Serialize;

use http::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};

use super::{metrics, segment, Body, Core, HttpRequest, Method, Operation, Saving};
use crate::error::{Error, Result, TransportError, TransportErrorKind};
use crate::model::{Task, TaskEvent};
use crate::params::{CreateTask, ExternalTaskReport, ListFilter, UpdateTask};

/// Made once, not parsed per request.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

impl Core {
    /// `{base}/agent-execution/{id}{suffix}`, the id one encoded segment.
    pub(super) fn task_url(&self, name: &'static str, id: &str, suffix: &str) -> Result<String> {
        let id = segment::encode(name, id)?;
        let mut url = String::with_capacity(
            self.prefix
                .len()
                .saturating_add(id.len())
                .saturating_add(suffix.len()),
        );
        url.push_str(&self.prefix);
        url.push_str(&id);
        url.push_str(suffix);
        Ok(url)
    }

    /// The request of `operation`: `accept: */*`, the key, and
    /// `content-type: application/json` when there is a body.
    pub(super) fn request(
        &self,
        operation: Operation,
        method: Method,
        (resource_id, url): (&str, String),
        body: Option<Vec<u8>>,
    ) -> Result<HttpRequest> {
        let uri = http::Uri::try_from(url.as_str()).map_err(|e| {
            // Too long (an id of 64 KiB): named as a request that failed.
            let message = format!("cannot build the request: {e}");
            let error = TransportError::new(TransportErrorKind::Other, message, None);
            crate::diagnose::locate(Error::Transport(error), &method, &url, self)
        })?;
        let key = self
            .api_key
            .clone()
            .ok_or_else(|| Error::Config("the API key is not a valid header value".into()))?;
        let mut http = http::Request::new(Body(body.unwrap_or_default()));
        *http.method_mut() = method;
        *http.uri_mut() = uri;
        let headers = http.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        headers.insert(X_API_KEY, key);
        if !http.body().is_empty() {
            http.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(HttpRequest {
            operation,
            resource_id: resource_id.to_string(),
            http,
        })
    }

    /// `PATCH /agent-execution/{task_id}/update` with only the fields set.
    pub(crate) fn update(&self, task_id: &str, change: &UpdateTask) -> Result<HttpRequest> {
        if let Some(ext) = &change.tool_call_payload_extension {
            if !ext.is_object() {
                return Err(Error::invalid(
                    "tool_call_payload_extension",
                    "must be a JSON object",
                ));
            }
        }
        let url = self.task_url("task_id", task_id, "/update")?;
        let body = to_body(change)?;
        self.request(Operation::Update, Method::PATCH, (task_id, url), Some(body))
    }

    /// `GET /agent-execution/{task_id}/status`.
    pub(crate) fn get(&self, task_id: &str) -> Result<HttpRequest> {
        let url = self.task_url("task_id", task_id, "/status")?;
        self.request(Operation::Get, Method::GET, (task_id, url), None)
    }

    /// `PATCH /agent-execution/{task.id}/update` with the whole task, every
    /// field the server sent (known or not) included, `deep_planning` only
    /// when `with_deep_plan`.
    pub(crate) fn save(&self, task: &Task, saving: Saving) -> Result<HttpRequest> {
        let url = self.task_url("task.id", &task.id, "/update")?;
        let body = task
            .save_body(saving == Saving::WithDeepPlan)
            .and_then(|body| serde_json::to_vec(&body))
            .map_err(|e| Error::invalid("task", format!("cannot be serialized: {e}")))?;
        self.request(Operation::Save, Method::PATCH, (&task.id, url), Some(body))
    }

    /// `DELETE /agent-execution/{task_id}`.
    pub(crate) fn stop(&self, task_id: &str) -> Result<HttpRequest> {
        let url = self.task_url("task_id", task_id, "")?;
        self.request(Operation::Stop, Method::DELETE, (task_id, url), None)
    }

    /// `POST /agent-execution/{agent_id}`, `x-agent-version` when given.
    pub(crate) fn create(&self, new: &CreateTask) -> Result<HttpRequest> {
        let url = self.task_url("agent_id", new.agent_id(), "")?;
        let body = to_body(new)?;
        let mut request = self.request(
            Operation::Create,
            Method::POST,
            (new.agent_id(), url),
            Some(body),
        )?;
        if let Some(version) = &new.agent_version {
            let version = crate::headers::value("x-agent-version", version).map_err(|_| {
                Error::invalid("agent_version", "must not contain control characters")
            })?;
            request.headers_mut().insert("x-agent-version", version);
        }
        Ok(request)
    }

    /// `GET /agent-execution/executions/history/{agent_id}?filters`.
    pub(crate) fn list(&self, agent_id: &str, filter: &ListFilter) -> Result<HttpRequest> {
        let mut url = self.task_url("agent_id", agent_id, "")?;
        url.insert_str(self.prefix.len(), "executions/history/");
        push_query(&mut url, filter, true);
        self.request(Operation::List, Method::GET, (agent_id, url), None)
    }

    /// `GET /agent-execution/executions/history/user/{user_id}?filters`
    /// (the filter's `user_id` is not sent: the path names the user).
    pub(crate) fn list_user_tasks(
        &self,
        user_id: &str,
        filter: &ListFilter,
    ) -> Result<HttpRequest> {
        let mut url = self.task_url("user_id", user_id, "")?;
        url.insert_str(self.prefix.len(), "executions/history/user/");
        push_query(&mut url, filter, false);
        self.request(Operation::ListUserTasks, Method::GET, (user_id, url), None)
    }

    /// `POST /agent-execution/{agent_id}/report_task`.
    pub(crate) fn report_external_task(
        &self,
        agent_id: &str,
        report: &ExternalTaskReport,
    ) -> Result<HttpRequest> {
        if !report.duration.is_finite() {
            return Err(Error::invalid("duration", "must be a finite number"));
        }
        let url = self.task_url("agent_id", agent_id, "/report_task")?;
        let body = to_body(report)?;
        self.request(
            Operation::ReportExternalTask,
            Method::POST,
            (agent_id, url),
            Some(body),
        )
    }
}

impl Core {
    /// `{base}/{path}` with each segment percent-encoded.
    fn api_url(&self, segments: &[(&'static str, &str)], prefix: &str) -> Result<String> {
        let mut url = format!("{}/{prefix}", self.config.base_url);
        for (i, (name, value)) in segments.iter().enumerate() {
            if i > 0 {
                url.push('/');
            }
            url.push_str(&segment::encode(name, value)?);
        }
        Ok(url)
    }

    /// `GET /activity/{agent_id}/{task_id}` (agent first, then task).
    pub(crate) fn activity_log(&self, agent_id: &str, task_id: &str) -> Result<HttpRequest> {
        let url = self.api_url(
            &[("task.agent_id", agent_id), ("task.id", task_id)],
            "activity/",
        )?;
        self.request(Operation::ActivityLog, Method::GET, (task_id, url), None)
    }

    /// `POST /agents-metrics/{agent_id}/execution` with the task's metrics report.
    pub(crate) fn report_metrics(
        &self,
        task: &Task,
        served_model: Option<&str>,
    ) -> Result<HttpRequest> {
        let url = self.api_url(&[("task.agent_id", &task.agent_id)], "agents-metrics/")?;
        let body = to_body(&metrics::report_body(task, served_model)?)?;
        self.request(
            Operation::ReportMetrics,
            Method::POST,
            (&task.id, url + "/execution"),
            Some(body),
        )
    }

    /// `GET {events root}/agent-execution/{task_id}/events`, with the
    /// stream session's headers (`accept: text/event-stream`,
    /// `cache-control: no-store`, `last-event-id`).
    pub(crate) fn events(
        &self,
        task_id: &str,
        headers: Vec<(&'static str, HeaderValue)>,
    ) -> Result<HttpRequest> {
        let root = self.config.events_root.as_deref().ok_or_else(|| {
            Error::Config(
                "the event stream needs an organization id: set XPANDER_ORGANIZATION_ID, \
                 ClientBuilder::organization_id or ClientBuilder::events_base_url"
                    .into(),
            )
        })?;
        let url = format!(
            "{root}/agent-execution/{}/events",
            segment::encode("task_id", task_id)?
        );
        let mut request = self.request(Operation::Events, Method::GET, (task_id, url), None)?;
        for (name, value) in headers {
            request.headers_mut().insert(name, value);
        }
        Ok(request)
    }

    /// `POST /agent-execution/{task_id}/events/push` with a JSON array of envelopes.
    pub(crate) fn push_events(&self, task_id: &str, events: &[TaskEvent]) -> Result<HttpRequest> {
        let url = self.task_url("task_id", task_id, "/events/push")?;
        let envelopes: Vec<serde_json::Value> = events.iter().map(TaskEvent::to_json).collect();
        let body = to_body(&envelopes)?;
        self.request(
            Operation::PushEvents,
            Method::POST,
            (task_id, url),
            Some(body),
        )
    }
}

fn to_body<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| Error::invalid("body", format!("cannot be serialized as JSON: {e}")))
}

fn push_query(url: &mut String, filter: &ListFilter, with_user: bool) {
    let status = filter.status.as_ref().map(|s| s.as_str());
    let pairs = [
        ("user_id", filter.user_id.as_deref().filter(|_| with_user)),
        ("parent_task_id", filter.parent_task_id.as_deref()),
        ("triggering_agent_id", filter.triggering_agent_id.as_deref()),
        ("status", status),
        ("internal_status", filter.internal_status.as_deref()),
    ];
    segment::push_query(url, &pairs);
}
