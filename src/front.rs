//! The front end, written once.
//!
//! [`front_end!`] holds the body of every public method of [`crate::Tasks`],
//! [`crate::Task`] and [`crate::TaskListItem`]. It is expanded twice: in
//! [`crate::blocking`] under `#[maybe_async::must_be_sync]` with the ureq
//! transport (`update`, `get`, …) and in [`crate::nonblocking`] under
//! `#[maybe_async::must_be_async]` with the reqwest transport (`aupdate`,
//! `aget`, …). Each expansion names its own transport, which implements
//! that face's form of the [`transport_traits!`] (one definition, expanded
//! as `blocking::{Transport, Stream}` and `nonblocking::{Transport,
//! Stream}`); `must_be_sync` strips the `async` and `.await`. The bodies
//! stay thin: build the request in
//! [`crate::sans_io::request`], send it (retrying as [`crate::sans_io::retry`]
//! decides), parse the answer in [`crate::sans_io::response`].

/// What a face's transport does for the front end, written once and
/// expanded for each face: send a request the core built and read its
/// answer, open a streamed answer, sleep between attempts.
macro_rules! transport_traits {
    ($mode:meta) => {
        use std::time::Duration;

        use crate::error::Result;
        use crate::sans_io::{HttpRequest, HttpResponse, StreamRead};

        /// A face's transport.
        #[$mode]
        pub(crate) trait Transport {
            /// An answer whose body is read as it comes.
            type Streaming: Stream;

            /// Sends one request and reads the whole answer (up to the
            /// limit); `timeout`, when given, replaces the whole-request one.
            async fn send(
                &self,
                request: &HttpRequest,
                timeout: Option<Duration>,
            ) -> Result<HttpResponse>;

            /// Starts a streamed answer (an event stream): the answer's head
            /// within `head` when given (else `idle`), then each read of the
            /// body within `idle`; no whole-request timeout (a stream may
            /// stay open for hours). [`Stream::head`] waits for the head.
            fn start(
                &self,
                request: &HttpRequest,
                head: Option<Duration>,
                idle: Duration,
            ) -> Result<Self::Streaming>;

            /// [`Transport::start`], then the answer's head.
            async fn open_within(
                &self,
                request: &HttpRequest,
                head: Option<Duration>,
                idle: Duration,
            ) -> Result<Self::Streaming> {
                let mut streaming = self.start(request, head, idle)?;
                streaming.head().await?;
                Ok(streaming)
            }

            /// Waits before the next attempt.
            async fn sleep(wait: Duration);
        }

        /// A streamed answer.
        #[$mode]
        pub(crate) trait Stream {
            /// Waits for the answer's head (at once when it came already).
            async fn head(&mut self) -> Result<()>;

            /// The status code (0 before the head came).
            fn status(&self) -> u16;

            /// A header of the answer, if present and text.
            fn header(&self, name: &str) -> Option<String>;

            /// The next bytes of the body, its end, or `Idle` when nothing
            /// came within the idle timeout.
            async fn read(&mut self) -> Result<StreamRead>;

            /// The whole answer of an error status (its first bytes), to
            /// build the API error from.
            async fn answer(&mut self) -> Result<HttpResponse>;
        }
    };
}

/// The blocking face's transport traits.
#[cfg(feature = "blocking")]
pub(crate) mod blocking {
    transport_traits!(maybe_async::must_be_sync);
}

/// The async face's transport traits.
#[cfg(feature = "async")]
pub(crate) mod nonblocking {
    transport_traits!(maybe_async::must_be_async(AFIT));
}

macro_rules! front_end {
    (
        mode: $mode:meta,
        transport: $transport:ident,
        execute: $execute:ident,
        $(#[$update_doc:meta])* update: $update:ident,
        $(#[$get_doc:meta])* get: $get:ident,
        $(#[$stop_doc:meta])* stop: $stop:ident,
        $(#[$create_doc:meta])* create: $create:ident,
        $(#[$list_doc:meta])* list: $list:ident,
        $(#[$list_user_doc:meta])* list_user_tasks: $list_user_tasks:ident,
        $(#[$report_doc:meta])* report_external_task: $report:ident,
        $(#[$conflict_doc:meta])* retry_on_conflict: $retry_on_conflict:ident,
        $(#[$load_doc:meta])* load: $load:ident,
        $(#[$reload_doc:meta])* reload: $reload:ident,
        $(#[$save_doc:meta])* save: $save:ident,
        $(#[$save_deep_doc:meta])* save_with_deep_plan_update: $save_deep:ident,
        $(#[$set_status_doc:meta])* set_status: $set_status:ident,
        $(#[$stop_task_doc:meta])* stop_task: $stop_task:ident,
        $(#[$load_item_doc:meta])* load_item: $load_item:ident,
        $(#[$activity_doc:meta])* get_activity_log: $activity:ident,
        $(#[$metrics_doc:meta])* report_metrics: $metrics:ident,
        $(#[$plan_doc:meta])* get_plan_following_status: $plan:ident,
        $(#[$push_doc:meta])* push_events: $push:ident,
        $(#[$events_doc:meta])* events: $events:ident,
        $(#[$events_with_doc:meta])* events_with: $events_with:ident,
        $(#[$wait_doc:meta])* wait_for_result: $wait:ident,
        $(#[$stream_doc:meta])* stream: $stream:ident { next: $next_event:ident },
    ) => {
        use crate::sans_io::plan::PlanFollowingStatus;
        use crate::sans_io::retry::{Conflicts, Retrier, Step};
        use crate::sans_io::request::Saving;
        use crate::sans_io::stream::{
            Disconnect, EventSession, NextStep, Opened, SessionItem, StreamPolicy,
        };
        use crate::sans_io::wait::{StreamEnd, WaitPolicy, WaitStep, Waiter};
        use crate::model::{ActivityThread, AgentExecutionStatus, Task, TaskEvent, TaskListItem};
        use crate::params::{CreateTask, ExternalTaskReport, ListFilter, UpdateTask};
        use crate::front::$transport::{Stream as _, Transport as _};
        use crate::Tasks;

        impl Tasks {
            /// Sends `request` with this view's options, trying again as
            /// the core decides (and within the call's deadline).
            #[$mode]
            async fn $execute(&self, mut request: crate::sans_io::HttpRequest) -> Result<HttpResponse> {
                let shared = &self.inner.shared;
                let options = self.inner.options.as_ref();
                if let Some(options) = options {
                    options.apply(&mut request)?;
                }
                let transport = shared.$transport()?;
                let call = crate::telemetry::Call::start(&request);
                let (method, url) = (request.method(), request.uri().to_string());
                let secret = shared.core.secrets();
                let mut retrier = Retrier::new(&shared.core.config, request.operation, options);
                loop {
                    let outcome = match retrier.attempt_timeout() {
                        Ok(timeout) => match transport.send(&request, timeout).await {
                            Ok(mut answer) => {
                                let shown = crate::diagnose::shown_url(&url, secret);
                                answer.extensions_mut().insert(crate::sans_io::Sent(method.clone(), shown));
                                Ok(answer)
                            }
                            Err(error) => {
                                Err(crate::diagnose::locate(error, method, &url, &shared.core))
                            }
                        },
                        Err(deadline) => {
                            let result =
                                Err(crate::diagnose::locate(deadline, method, &url, &shared.core));
                            call.finish(&retrier, &result);
                            return result;
                        }
                    };
                    match retrier.step(outcome) {
                        Step::Done(result) => {
                            call.finish(&retrier, &result);
                            return result;
                        }
                        Step::Retry(wait) => {
                            call.retry(&retrier, wait);
                            crate::$transport::Transport::sleep(wait).await;
                        }
                    }
                }
            }

            $(#[$update_doc])*
            #[$mode]
            pub async fn $update(&self, task_id: &str, change: &UpdateTask) -> Result<Task> {
                let request = self.inner.shared.core.update(task_id, change)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$get_doc])*
            #[$mode]
            pub async fn $get(&self, task_id: &str) -> Result<Task> {
                let request = self.inner.shared.core.get(task_id)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$stop_doc])*
            #[$mode]
            pub async fn $stop(&self, task_id: &str) -> Result<Task> {
                let request = self.inner.shared.core.stop(task_id)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$create_doc])*
            #[$mode]
            pub async fn $create(&self, new_task: &CreateTask) -> Result<Task> {
                let request = self.inner.shared.core.create(new_task)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$list_doc])*
            #[$mode]
            pub async fn $list(&self, agent_id: &str, filter: &ListFilter) -> Result<Vec<TaskListItem>> {
                let request = self.inner.shared.core.list(agent_id, filter)?;
                self.inner.shared.core.task_list(self.$execute(request).await?)
            }

            $(#[$list_user_doc])*
            #[$mode]
            pub async fn $list_user_tasks(
                &self,
                user_id: &str,
                filter: &ListFilter,
            ) -> Result<Vec<TaskListItem>> {
                let request = self.inner.shared.core.list_user_tasks(user_id, filter)?;
                self.inner.shared.core.task_list(self.$execute(request).await?)
            }

            $(#[$report_doc])*
            #[$mode]
            pub async fn $report(&self, agent_id: &str, report: &ExternalTaskReport) -> Result<Task> {
                let request = self.inner.shared.core.report_external_task(agent_id, report)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$conflict_doc])*
            #[$mode]
            pub async fn $retry_on_conflict<F>(&self, task_id: &str, mut change: F) -> Result<Task>
            where
                F: FnMut(&mut Task),
            {
                let mut conflicts = Conflicts::new();
                loop {
                    let mut task = self.$get(task_id).await?;
                    change(&mut task);
                    let request = self.inner.shared.core.save(&task, Saving::WithoutDeepPlan)?;
                    match self.$execute(request).await.and_then(|r| self.inner.shared.core.task(r)) {
                        Ok(saved) => return Ok(saved),
                        Err(error) => {
                            let wait = conflicts.after(error)?;
                            crate::$transport::Transport::sleep(wait).await;
                        }
                    }
                }
            }
        }

        impl Tasks {
            $(#[$push_doc])*
            #[$mode]
            pub async fn $push(&self, task_id: &str, events: &[TaskEvent]) -> Result<()> {
                let request = self.inner.shared.core.push_events(task_id, events)?;
                self.inner.shared.core.accepted(self.$execute(request).await?)
            }

            $(#[$wait_doc])*
            #[$mode]
            pub async fn $wait(&self, task_id: &str, policy: &WaitPolicy) -> Result<Task> {
                let mut waiter = Waiter::new(policy.clone(), std::time::Instant::now());
                let mut step = match self.$get(task_id).await {
                    Ok(task) => waiter.on_task(task, std::time::Instant::now()),
                    Err(error) => waiter.on_error(error, std::time::Instant::now()),
                };
                loop {
                    step = match step {
                        WaitStep::Done(task) => return Ok(*task),
                        WaitStep::TimedOut(error) | WaitStep::Failed(error) => return Err(error),
                        WaitStep::PollAfter(wait) => {
                            crate::$transport::Transport::sleep(wait).await;
                            match self.$get(task_id).await {
                                Ok(task) => waiter.on_task(task, std::time::Instant::now()),
                                Err(error) => waiter.on_error(error, std::time::Instant::now()),
                            }
                        }
                        WaitStep::FollowEvents { until } => {
                            // No read may outlast `until`.
                            let mut policy = waiter.stream_policy();
                            let left = until.saturating_duration_since(std::time::Instant::now());
                            let floor = std::time::Duration::from_millis(1);
                            policy.idle_timeout = policy.idle_timeout.min(left).max(floor);
                            policy.connect_timeout = policy.connect_timeout.min(left).max(floor);
                            let mut stream = $stream::new(self, task_id, policy);
                            loop {
                                if std::time::Instant::now() >= until {
                                    break waiter.on_stream_end(StreamEnd::Cut, std::time::Instant::now());
                                }
                                match stream.$next_event().await {
                                    Some(Ok(event)) => {
                                        if let Some(step) = waiter.on_event(event, std::time::Instant::now()) {
                                            break step;
                                        }
                                    }
                                    Some(Err(error)) => {
                                        break waiter.on_stream_end(StreamEnd::GaveUp(error), std::time::Instant::now())
                                    }
                                    None if std::time::Instant::now() >= until => {
                                        break waiter.on_stream_end(StreamEnd::Cut, std::time::Instant::now())
                                    }
                                    None => break waiter.on_stream_end(StreamEnd::Closed, std::time::Instant::now()),
                                }
                            }
                        }
                    };
                }
            }
        }

        /// Where the connection of an event stream is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Phase {
            /// The request is under way: its answer's head is awaited.
            Head,
            /// The body is read as the stream.
            Body,
            /// An error answer's body is read.
            ErrorBody,
        }

        $(#[$stream_doc])*
        pub struct $stream {
            tasks: Tasks,
            task_id: String,
            session: EventSession,
            /// The connection, from its request on.
            body: Option<crate::$transport::Streaming>,
            phase: Phase,
            /// The wait before the next connection (from when, how long):
            /// kept until it is over, so a call dropped while it waits does
            /// not lose it.
            reconnect_at: Option<(std::time::Instant, std::time::Duration)>,
            /// The method and URL of the connection under way, named in its errors.
            target: Option<(crate::sans_io::Method, String)>,
        }

        impl std::fmt::Debug for $stream {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($stream))
                    .field("task_id", &self.task_id)
                    .field("session", &self.session)
                    .field("connected", &self.body.is_some())
                    .field("phase", &self.phase)
                    .field("reconnect_at", &self.reconnect_at)
                    .finish()
            }
        }

        impl $stream {
            fn new(tasks: &Tasks, task_id: &str, policy: StreamPolicy) -> $stream {
                $stream {
                    tasks: tasks.clone(),
                    task_id: task_id.to_owned(),
                    session: EventSession::new(task_id, policy),
                    body: None,
                    phase: Phase::Head,
                    reconnect_at: None,
                    target: None,
                }
            }

            /// The id of the last event received: what a reconnect sends as
            /// `Last-Event-ID`.
            pub fn last_event_id(&self) -> Option<&str> {
                self.session.last_event_id()
            }

            /// Resumes after event `last_event_id` (from an earlier stream's
            /// [`Self::last_event_id`]): the first connection sends it as
            /// `Last-Event-ID`, and the server sends only what came after.
            pub fn resume_after(mut self, last_event_id: impl Into<String>) -> $stream {
                let policy = self.session.policy().clone();
                self.session = EventSession::new(&self.task_id, policy).with_last_event_id(last_event_id);
                self
            }

            /// Events received and yielded so far.
            pub fn delivered(&self) -> u64 {
                self.session.delivered()
            }

            /// Events the server sent again after a reconnect, not yielded twice.
            pub fn replayed(&self) -> u64 {
                self.session.replayed()
            }

            /// Malformed events skipped (each also a tracing warning).
            pub fn skipped(&self) -> u64 {
                self.session.skipped()
            }

            /// Ends the stream: the connection is dropped and no event follows.
            pub fn stop(&mut self) {
                self.session.stop();
                self.body = None;
                self.reconnect_at = None;
            }

            /// The next event, reconnecting as the session decides; `None`
            /// once the stream is over (after `task_finished`, by default).
            ///
            /// Cancel-safe: every await (the wait before a reconnect, the
            /// answer's head, a read of the body, an error answer's body)
            /// keeps its state in `self`, so a call dropped half-way loses
            /// nothing: the next call goes on with the same wait (never a
            /// reconnect sooner than the backoff said), the same request and
            /// the same idle deadline, and no event is lost or given twice.
            #[$mode]
            async fn $next_event(&mut self) -> Option<Result<TaskEvent>> {
                let now = std::time::Instant::now;
                loop {
                    while let Some(item) = self.session.next_item() {
                        match item {
                            SessionItem::Event(event) => return Some(Ok(event)),
                            SessionItem::Skipped { reason } => {
                                // The reason quotes the event's id (server text).
                                let secrets = self.tasks.inner.shared.core.secrets();
                                crate::telemetry::skipped_event(&self.task_id, &secrets.scrub(&reason))
                            }
                        }
                    }
                    if self.session.is_done() {
                        self.body = None;
                        self.reconnect_at = None;
                        return None;
                    }
                    let step = match self.body.as_mut() {
                        Some(body) => match self.phase {
                            Phase::Head => match body.head().await {
                                Ok(()) => {
                                    let content_type = body.header("content-type");
                                    match self.session.on_open(body.status(), content_type.as_deref(), now()) {
                                        Opened::Stream => {
                                            self.phase = Phase::Body;
                                            continue;
                                        }
                                        Opened::ReadError => {
                                            self.phase = Phase::ErrorBody;
                                            continue;
                                        }
                                        Opened::Then(step) => step,
                                    }
                                }
                                Err(error) => {
                                    let error = self.located(error);
                                    self.session.on_disconnect(Disconnect::Error(error), now())
                                }
                            },
                            Phase::ErrorBody => {
                                let error = match body.answer().await {
                                    Ok(mut answer) => {
                                        if let Some((method, url)) = &self.target {
                                            let shown = crate::diagnose::shown_url(url, self.tasks.inner.shared.core.secrets());
                                            answer.extensions_mut().insert(crate::sans_io::Sent(method.clone(), shown));
                                        }
                                        self.tasks.inner.shared.core.accepted(answer).err().unwrap_or_else(|| {
                                            crate::Error::invalid("stream", "an error answer had a 2xx status")
                                        })
                                    }
                                    Err(error) => self.located(error),
                                };
                                self.session.on_disconnect(Disconnect::Error(error), now())
                            }
                            Phase::Body => match body.read().await {
                                Ok(crate::sans_io::StreamRead::Bytes(bytes)) => {
                                    self.session.feed(&bytes);
                                    continue;
                                }
                                Ok(crate::sans_io::StreamRead::End) => self.session.on_disconnect(Disconnect::Eof, now()),
                                Ok(crate::sans_io::StreamRead::Idle) => {
                                    self.session.on_disconnect(Disconnect::IdleTimeout, now())
                                }
                                Err(error) => {
                                    let error = self.located(error);
                                    self.session.on_disconnect(Disconnect::Error(error), now())
                                }
                            },
                        },
                        None => {
                            // The wait is cleared only once it is over.
                            while let Some((since, wait)) = self.reconnect_at {
                                let left = wait.saturating_sub(now().saturating_duration_since(since));
                                if left.is_zero() {
                                    self.reconnect_at = None;
                                } else {
                                    crate::$transport::Transport::sleep(left).await;
                                }
                            }
                            match self.connect() {
                                Ok(()) => continue,
                                Err(step) => step,
                            }
                        }
                    };
                    self.body = None;
                    match step {
                        NextStep::Reconnect { after } => self.reconnect_at = Some((now(), after)),
                        NextStep::Done => return None,
                        NextStep::GiveUp(error) => {
                            self.session.stop();
                            // The session may quote the server (a content type).
                            return Some(Err(self.tasks.inner.shared.core.secrets().scrub_error(error)));
                        }
                    }
                }
            }

            /// Starts a connection (the request under way, held in
            /// `self.body`); the session's decision when it cannot start.
            fn connect(&mut self) -> std::result::Result<(), NextStep> {
                let shared = &self.tasks.inner.shared;
                let opened = shared
                    .core
                    .events(&self.task_id, self.session.request_headers())
                    .and_then(|mut request| {
                        if let Some(options) = self.tasks.inner.options.as_ref() {
                            options.apply(&mut request)?;
                        }
                        Ok(request)
                    });
                let request = match opened {
                    Ok(request) => request,
                    // A configuration or argument error: no retry helps.
                    Err(error) => {
                        self.session.stop();
                        return Err(NextStep::GiveUp(error));
                    }
                };
                let transport = match shared.$transport() {
                    Ok(transport) => transport,
                    Err(error) => {
                        self.session.stop();
                        return Err(NextStep::GiveUp(error));
                    }
                };
                let policy = self.session.policy();
                let (head, idle) = (policy.connect_timeout, policy.idle_timeout);
                self.target = Some((request.method().clone(), request.uri().to_string()));
                match transport.start(&request, Some(head), idle) {
                    Ok(body) => {
                        self.body = Some(body);
                        self.phase = Phase::Head;
                        Ok(())
                    }
                    Err(error) => {
                        let error = self.located(error);
                        Err(self.session.on_disconnect(Disconnect::Error(error), std::time::Instant::now()))
                    }
                }
            }

            /// The error named with the method and URL of the connection.
            fn located(&self, error: crate::Error) -> crate::Error {
                match &self.target {
                    Some((method, url)) => {
                        crate::diagnose::locate(error, method, url, &self.tasks.inner.shared.core)
                    }
                    None => error,
                }
            }
        }

        impl Task {
            $(#[$events_doc])*
            pub fn $events(&self, tasks: &Tasks) -> Result<$stream> {
                self.$events_with(tasks, StreamPolicy::default())
            }

            $(#[$events_with_doc])*
            pub fn $events_with(&self, tasks: &Tasks, policy: StreamPolicy) -> Result<$stream> {
                if !self.events_streaming {
                    return Err(crate::Error::invalid(
                        "task.events_streaming",
                        "is false: this task does not stream its events (create it with \
                         CreateTask::events_streaming(true)); wait for its result instead",
                    ));
                }
                // The configuration error (no organization id) now, not at the first event.
                tasks.inner.shared.core.events(&self.id, Vec::new())?;
                Ok($stream::new(tasks, &self.id, policy))
            }

            $(#[$activity_doc])*
            #[$mode]
            pub async fn $activity(&self, tasks: &Tasks) -> Result<ActivityThread> {
                let request = tasks.inner.shared.core.activity_log(&self.agent_id, &self.id)?;
                tasks.inner.shared.core.activity(tasks.$execute(request).await?)
            }

            $(#[$metrics_doc])*
            #[$mode]
            pub async fn $metrics(&self, tasks: &Tasks) -> Result<()> {
                let request = tasks.inner.shared.core.report_metrics(self, None)?;
                tasks.inner.shared.core.accepted(tasks.$execute(request).await?)
            }

            $(#[$plan_doc])*
            #[$mode]
            pub async fn $plan(&self, tasks: &Tasks) -> Result<PlanFollowingStatus> {
                let server = tasks.$get(&self.id).await?;
                Ok(crate::sans_io::plan::following_status(self, &server))
            }
        }

        impl Task {
            $(#[$load_doc])*
            #[$mode]
            pub async fn $load(tasks: &Tasks, task_id: &str) -> Result<Task> {
                tasks.$get(task_id).await
            }

            $(#[$reload_doc])*
            #[$mode]
            pub async fn $reload(&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.$get(&self.id).await?;
                Ok(())
            }

            $(#[$save_doc])*
            #[$mode]
            pub async fn $save(&mut self, tasks: &Tasks) -> Result<()> {
                let request = tasks.inner.shared.core.save(self, Saving::WithoutDeepPlan)?;
                *self = tasks.inner.shared.core.task(tasks.$execute(request).await?)?;
                Ok(())
            }

            $(#[$save_deep_doc])*
            #[$mode]
            pub async fn $save_deep(&mut self, tasks: &Tasks) -> Result<()> {
                let request = tasks.inner.shared.core.save(self, Saving::WithDeepPlan)?;
                *self = tasks.inner.shared.core.task(tasks.$execute(request).await?)?;
                Ok(())
            }

            $(#[$set_status_doc])*
            #[$mode]
            pub async fn $set_status(
                &mut self,
                tasks: &Tasks,
                status: AgentExecutionStatus,
                result: Option<&str>,
            ) -> Result<()> {
                self.status = Some(status);
                if let Some(result) = result {
                    self.result = Some(result.to_string());
                }
                self.$save(tasks).await
            }

            $(#[$stop_task_doc])*
            #[$mode]
            pub async fn $stop_task(&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.$stop(&self.id).await?;
                Ok(())
            }
        }

        impl TaskListItem {
            $(#[$load_item_doc])*
            #[$mode]
            pub async fn $load_item(&self, tasks: &Tasks) -> Result<Task> {
                tasks.$get(&self.id).await
            }
        }
    };
}
