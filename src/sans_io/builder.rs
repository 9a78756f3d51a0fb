//! The core as a public sans-IO API: [`RequestBuilder`] builds the
//! [`HttpRequest`] of every operation and [`parse_task`] /
//! [`parse_task_list`] turn an [`HttpResponse`] into typed values, so any
//! HTTP client (or a benchmark) can drive the Tasks API without this crate's
//! transports. It is the very code [`crate::Tasks`] runs, not a copy.

use super::{request::Saving, response, Core, HttpRequest, HttpResponse};
use crate::config::Config;
use crate::error::Result;
use crate::model::{Task, TaskListItem};
use crate::params::{CreateTask, ExternalTaskReport, ListFilter, UpdateTask};

/// Builds the requests of the Tasks API from a [`Config`], without I/O.
///
/// The URL prefix and the header values are made once, in
/// [`RequestBuilder::new`]; each call then only encodes the id, joins the URL
/// and serializes the body.
///
/// ```
/// use xpander_sdk::sans_io::{answer, parse_task, Method, RequestBuilder};
/// use xpander_sdk::{AgentExecutionStatus, Tasks, UpdateTask};
///
/// let config = Tasks::builder().api_key("k").build_config()?;
/// let requests = RequestBuilder::new(config);
/// let request = requests.update(
///     "task_xyz",
///     &UpdateTask::new().status(AgentExecutionStatus::Completed),
/// )?;
/// // An `http::Request`: send it with any HTTP client.
/// assert_eq!(request.method(), Method::PATCH);
/// assert!(request.uri().path().ends_with("/agent-execution/task_xyz/update"));
/// assert_eq!(&request.body()[..], br#"{"status":"completed"}"#);
///
/// // Then parse the answer (an `http::Response`):
/// let answer = answer(http::StatusCode::OK, None, br#"{"id": "task_xyz", "agent_id": "a",
///     "organization_id": "o", "input": {"text": "hi"},
///     "created_at": "2026-11-20T10:00:00Z", "status": "completed"}"#.to_vec());
/// let task = parse_task(answer)?;
/// assert_eq!(task.status, Some(AgentExecutionStatus::Completed));
/// # Ok::<(), xpander_sdk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    core: Core,
}

impl RequestBuilder {
    /// A builder for the API at `config.base_url` with `config.api_key`
    /// (make a `Config` with [`crate::ClientBuilder::build_config`], or take
    /// a client's with [`crate::Tasks::config`]).
    pub fn new(config: Config) -> RequestBuilder {
        RequestBuilder {
            core: Core::new(config),
        }
    }

    /// The configuration the requests are built from.
    pub fn config(&self) -> &Config {
        &self.core.config
    }

    /// `PATCH /agent-execution/{task_id}/update` with only the fields set in
    /// `change` (as [`crate::Tasks::update`] sends it).
    pub fn update(&self, task_id: &str, change: &UpdateTask) -> Result<HttpRequest> {
        self.core.update(task_id, change)
    }

    /// `GET /agent-execution/{task_id}/status` (as [`crate::Tasks::get`]).
    pub fn get(&self, task_id: &str) -> Result<HttpRequest> {
        self.core.get(task_id)
    }

    /// `PATCH /agent-execution/{task.id}/update` with the whole task (as
    /// [`crate::Task::save`], or [`crate::Task::save_with_deep_plan_update`]
    /// when `with_deep_plan`).
    pub fn save(&self, task: &Task, with_deep_plan: bool) -> Result<HttpRequest> {
        let saving = if with_deep_plan {
            Saving::WithDeepPlan
        } else {
            Saving::WithoutDeepPlan
        };
        self.core.save(task, saving)
    }

    /// `DELETE /agent-execution/{task_id}` (as [`crate::Tasks::stop`]).
    pub fn stop(&self, task_id: &str) -> Result<HttpRequest> {
        self.core.stop(task_id)
    }

    /// `POST /agent-execution/{agent_id}` (as [`crate::Tasks::create`]).
    pub fn create(&self, new_task: &CreateTask) -> Result<HttpRequest> {
        self.core.create(new_task)
    }

    /// `GET /agent-execution/executions/history/{agent_id}?filters` (as
    /// [`crate::Tasks::list`]).
    pub fn list(&self, agent_id: &str, filter: &ListFilter) -> Result<HttpRequest> {
        self.core.list(agent_id, filter)
    }

    /// `GET /agent-execution/executions/history/user/{user_id}?filters` (as
    /// [`crate::Tasks::list_user_tasks`]).
    pub fn list_user_tasks(&self, user_id: &str, filter: &ListFilter) -> Result<HttpRequest> {
        self.core.list_user_tasks(user_id, filter)
    }

    /// `POST /agent-execution/{agent_id}/report_task` (as
    /// [`crate::Tasks::report_external_task`]).
    pub fn report_external_task(
        &self,
        agent_id: &str,
        report: &ExternalTaskReport,
    ) -> Result<HttpRequest> {
        self.core.report_external_task(agent_id, report)
    }

    /// As [`parse_task`], and the configured API key is scrubbed from any
    /// error (a gateway may echo it in a 401 body).
    pub fn parse_task(&self, response: HttpResponse) -> Result<Task> {
        self.core.task(response)
    }

    /// As [`parse_task_list`], and the configured API key is scrubbed from
    /// any error.
    pub fn parse_task_list(&self, response: HttpResponse) -> Result<Vec<TaskListItem>> {
        self.core.task_list(response)
    }
}

/// The answer of update, get, save, stop, create and report: a 2xx answer
/// decoded as a [`Task`], any other status as [`crate::Error::Api`]. Errors
/// carry no value of a credential-bearing key; this function does not know
/// your API key, so prefer [`RequestBuilder::parse_task`], which also
/// scrubs it.
pub fn parse_task(response: HttpResponse) -> Result<Task> {
    response::task(response, response::Secret::NONE)
}

/// The answer of list and list_user_tasks: a 2xx answer decoded as a list of
/// [`TaskListItem`], any other status as [`crate::Error::Api`] (see
/// [`parse_task`] about secrets).
pub fn parse_task_list(response: HttpResponse) -> Result<Vec<TaskListItem>> {
    response::task_list(response, response::Secret::NONE)
}
