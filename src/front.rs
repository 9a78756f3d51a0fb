//! The front end, written once.
//!
//! [`front_end!`] holds the body and the docs of every public method of
//! [`crate::Tasks`], [`crate::Task`] and [`crate::TaskListItem`] (and, through
//! `public_front_end!`, of the public API v1), each written once under its
//! blocking name. It is expanded twice: in [`crate::blocking`] under
//! `#[maybe_async::must_be_sync]` with the ureq transport (`update`, `get`,
//! …) and in [`crate::nonblocking`] under `#[maybe_async::must_be_async]`
//! with the reqwest transport and `prefix: [a]`, which pastes each name
//! with an `a` in front (`aupdate`, `aget`, …). Each expansion names its
//! own transport, which implements that face's form of the
//! [`transport_traits!`] (one definition, expanded as
//! `blocking::{Transport, Stream}` and `nonblocking::{Transport, Stream}`);
//! `must_be_sync` strips the `async` and `.await`. The bodies stay thin:
//! `$execute` sends the request built in [`crate::sans_io::request`]
//! (retrying as [`crate::sans_io::retry`] decides) and parses the answer
//! as the method's return type ([`crate::sans_io::response`]).

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

/// The streams of a face as that face reads them, each from its one pump
/// method: a blocking `Iterator`, or an async `next` and a `futures`
/// `Stream`.
macro_rules! face_streams {
    (blocking, $( $(#[$doc:meta])* $type:ident => $pump:ident: $item:ty; )*) => {$(
        impl Iterator for $type {
            type Item = Result<$item>;

            $(#[$doc])*
            fn next(&mut self) -> Option<Self::Item> {
                self.$pump()
            }
        }
    )*};
    (async, $( $(#[$doc:meta])* $type:ident => $pump:ident: $item:ty; )*) => {$(
        impl $type {
            $(#[$doc])*
            pub async fn next(&mut self) -> Option<Result<$item>> {
                self.$pump().await
            }

            /// The items as a `futures` stream; its `poll_next` is
            /// cancel-safe as [`Self::next`] is (a `StreamExt::next` future
            /// dropped half-way loses nothing).
            pub fn into_stream(self) -> impl futures_core::Stream<Item = Result<$item>> + Send {
                futures_util::stream::unfold(self, |mut stream| async move {
                    stream.$pump().await.map(|item| (item, stream))
                })
            }
        }
    )*};
}

macro_rules! front_end {
    // Each method is named as in the blocking face; `prefix: [a]` names the
    // async face's (`[<$($a)? get>]` is `get` or `aget`).
    (
        mode: $mode:meta,
        transport: $transport:ident,
        execute: $execute:ident,
        face: $face:literal,
        prefix: [$($a:ident)?],
    ) => { pastey::paste! {
        use crate::sans_io::plan::PlanFollowingStatus;
        use crate::sans_io::retry::{Conflicts, Retrier, Step};
        use crate::sans_io::stream::{
            Disconnect, EventSession, NextStep, Opened, SessionItem, StreamPolicy,
        };
        use crate::sans_io::wait::{StreamEnd, WaitPolicy, WaitStep, Waiter};
        use crate::model::{ActivityThread, AgentExecutionStatus, Task, TaskEvent, TaskListItem};
        use crate::params::{CreateTask, ExternalTaskReport, ListFilter, UpdateTask};
        use crate::front::$transport::{Stream as _, Transport as _};
        use crate::Tasks;

        impl Tasks {
            /// Sends the request the core built with this view's options,
            /// trying again as the core decides (and within the call's
            /// deadline), and parses the answer as `T` (the method's return
            /// type: see [`crate::sans_io::response::Answer`]).
            #[$mode]
            async fn $execute<T: crate::sans_io::response::Answer>(
                &self,
                request: Result<crate::sans_io::HttpRequest>,
            ) -> Result<T> {
                let mut request = request?;
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
                            return result.and_then(|answer| shared.core.parse(answer));
                        }
                    };
                    match retrier.step(outcome) {
                        Step::Done(result) => {
                            call.finish(&retrier, &result);
                            return result.and_then(|answer| shared.core.parse(answer));
                        }
                        Step::Retry(wait) => {
                            call.retry(&retrier, wait);
                            crate::$transport::Transport::sleep(wait).await;
                        }
                    }
                }
            }

            /// Patches the fields set in `change` on task `task_id`; answers the
            /// task as the server has it afterwards.
            ///
            /// Only the fields set are sent (`{}` when none). Retried on 429, 502,
            /// 503, 504 and broken connections (the same body every time).
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? update>](&self, task_id: &str, change: &UpdateTask) -> Result<Task> {
                self.$execute(self.inner.shared.core.update(task_id, change)).await
            }

            /// Loads task `task_id`.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? get>](&self, task_id: &str) -> Result<Task> {
                self.$execute(self.inner.shared.core.get(task_id)).await
            }

            /// Stops task `task_id`; answers the stopped task.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? stop>](&self, task_id: &str) -> Result<Task> {
                self.$execute(self.inner.shared.core.stop(task_id)).await
            }

            /// Creates a task; answers it with its new id.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? create>](&self, new_task: &CreateTask) -> Result<Task> {
                self.$execute(self.inner.shared.core.create(new_task)).await
            }

            /// Lists the tasks of agent `agent_id` that pass `filter`.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? list>](&self, agent_id: &str, filter: &ListFilter) -> Result<Vec<TaskListItem>> {
                self.$execute(self.inner.shared.core.list(agent_id, filter)).await
            }

            /// Lists the tasks of user `user_id` that pass `filter` (its `user_id` is ignored).
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? list_user_tasks>](
                &self,
                user_id: &str,
                filter: &ListFilter,
            ) -> Result<Vec<TaskListItem>> {
                self.$execute(self.inner.shared.core.list_user_tasks(user_id, filter)).await
            }

            /// Reports a task that ran outside xpander.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? report_external_task>](&self, agent_id: &str, report: &ExternalTaskReport) -> Result<Task> {
                self.$execute(self.inner.shared.core.report_external_task(agent_id, report)).await
            }

            /// Loads task `task_id`, lets `change` modify it, and saves it; on a 409
            /// conflict, reloads and applies `change` again, a few times with a short
            /// jittered backoff (after client-go's `RetryOnConflict`). Answers the
            /// saved task, or the last conflict when the budget is spent.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? retry_on_conflict>]<F>(&self, task_id: &str, mut change: F) -> Result<Task>
            where
                F: FnMut(&mut Task),
            {
                let mut conflicts = Conflicts::new();
                loop {
                    let mut task = self.[<$($a)? get>](task_id).await?;
                    change(&mut task);
                    let request = self.inner.shared.core.save(&task, false);
                    match self.$execute(request).await {
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
            /// Pushes events to a task's stream
            /// (`POST /agent-execution/{task_id}/events/push`, a JSON array of
            /// envelopes). Not retried once sent (the events would show twice).
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? push_events>](&self, task_id: &str, events: &[TaskEvent]) -> Result<()> {
                self.$execute(self.inner.shared.core.push_events(task_id, events)).await
            }

            /// Waits until task `task_id` reaches a final status (completed,
            /// failed, error or stopped) and answers it: follows the task's events
            /// when it streams them, and otherwise polls `get` with backoff, within
            /// `policy.timeout` (then a [`crate::Error::Timeout`] that says how long
            /// it waited and the last status seen). The async form is
            /// `await_for_result` (`await` is a keyword).
            ///
            /// Cancel safety (async): the wait lives in the future. Dropping it (a
            /// `select!` arm that lost) abandons the wait; a new call starts over
            /// with a load of the task at once. To wait next to other work, pin the
            /// one future and poll it across the loop (`tokio::pin!`, then
            /// `&mut fut` in each `select!`) rather than calling it again each time.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? wait_for_result>](&self, task_id: &str, policy: &WaitPolicy) -> Result<Task> {
                let mut waiter = Waiter::new(policy.clone(), std::time::Instant::now());
                let mut step = match self.[<$($a)? get>](task_id).await {
                    Ok(task) => waiter.on_task(task, std::time::Instant::now()),
                    Err(error) => waiter.on_error(error, std::time::Instant::now()),
                };
                loop {
                    step = match step {
                        WaitStep::Done(task) => return Ok(*task),
                        WaitStep::TimedOut(error) | WaitStep::Failed(error) => return Err(error),
                        WaitStep::PollAfter(wait) => {
                            crate::$transport::Transport::sleep(wait).await;
                            match self.[<$($a)? get>](task_id).await {
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
                            let mut stream = EventStream::new(self, task_id, policy);
                            loop {
                                if std::time::Instant::now() >= until {
                                    break waiter.on_stream_end(StreamEnd::Cut, std::time::Instant::now());
                                }
                                match stream.next_event().await {
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

        /// The live events of one task (see the `events` method): a blocking
        /// iterator of `Result<TaskEvent>`, or in the async face a stream read
        /// with `next().await` or as a `futures` `Stream` (`into_stream`). It
        /// ends after `task_finished` (by default), or with an error once the
        /// reconnects are spent.
        ///
        #[doc = $face]
        pub struct EventStream {
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

        impl std::fmt::Debug for EventStream {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!(EventStream))
                    .field("task_id", &self.task_id)
                    .field("session", &self.session)
                    .field("connected", &self.body.is_some())
                    .field("phase", &self.phase)
                    .field("reconnect_at", &self.reconnect_at)
                    .finish()
            }
        }

        impl EventStream {
            fn new(tasks: &Tasks, task_id: &str, policy: StreamPolicy) -> EventStream {
                EventStream {
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
            pub fn resume_after(mut self, last_event_id: impl Into<String>) -> EventStream {
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
            async fn next_event(&mut self) -> Option<Result<TaskEvent>> {
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
            /// This task's live events (`GET {events root}/agent-execution/{id}/events`),
            /// yielded as each arrives: checks the answer's status (an error is an
            /// [`crate::ApiError`]), times out a silent connection, reconnects with
            /// `Last-Event-ID` and backoff (a bounded number of times), never yields an
            /// event twice, skips a malformed event (a tracing warning), and ends after
            /// `task_finished`. Nothing is sent until the first read. The first event
            /// of each connection is the server's `connected` handshake: once it is
            /// read, the stream is live (a fresh connection gets the events that happen
            /// from then on; `resume_after` resumes an earlier one).
            ///
            /// Refused when the task has `events_streaming: false`, or when no
            /// organization id is configured (the stream's root needs it).
            ///
            #[doc = $face]
            pub fn [<$($a)? events>](&self, tasks: &Tasks) -> Result<EventStream> {
                self.[<$($a)? events_with>](tasks, StreamPolicy::default())
            }

            /// As the `events` method, with a [`StreamPolicy`] (timeouts, reconnects, limits).
            ///
            #[doc = $face]
            pub fn [<$($a)? events_with>](&self, tasks: &Tasks, policy: StreamPolicy) -> Result<EventStream> {
                if !self.events_streaming {
                    return Err(crate::Error::invalid(
                        "task.events_streaming",
                        "is false: this task does not stream its events (create it with \
                         CreateTask::events_streaming(true)); wait for its result instead",
                    ));
                }
                // The configuration error (no organization id) now, not at the first event.
                tasks.inner.shared.core.events(&self.id, Vec::new())?;
                Ok(EventStream::new(tasks, &self.id, policy))
            }

            /// Reads this task's activity log (`GET /activity/{agent_id}/{task_id}`):
            /// the thread of what happened, each entry typed by its kind. An empty,
            /// `null` or non-thread answer is a clear [`crate::Error::Decode`],
            /// never a raw string.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? get_activity_log>](&self, tasks: &Tasks) -> Result<ActivityThread> {
                tasks.$execute(tasks.inner.shared.core.activity_log(&self.agent_id, &self.id)).await
            }

            /// Reports this task's execution metrics
            /// (`POST /agents-metrics/{agent_id}/execution`) with this client's
            /// configuration: its real `duration` and `sub_executions`, and
            /// `llm_tokens.worker` from `tokens` (total = completion + prompt).
            /// Refused before any request when `tokens`, `source` or `status` is
            /// not set. Not retried once sent (tokens would be counted twice).
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? report_metrics>](&self, tasks: &Tasks) -> Result<()> {
                tasks.$execute(tasks.inner.shared.core.report_metrics(self, None)).await
            }

            /// Whether this task may finish as far as its deep plan goes: reloads
            /// the task (an error is returned, not swallowed) and applies the
            /// published client's rule with this task's `result`. This task is not
            /// changed.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? get_plan_following_status>](&self, tasks: &Tasks) -> Result<PlanFollowingStatus> {
                let server = tasks.[<$($a)? get>](&self.id).await?;
                Ok(crate::sans_io::plan::following_status(self, &server))
            }
        }

        impl Task {
            /// Loads task `task_id` (the same as the `get` method of [`Tasks`]).
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? load>](tasks: &Tasks, task_id: &str) -> Result<Task> {
                tasks.[<$($a)? get>](task_id).await
            }

            /// Loads this task again; the answer replaces the local copy.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? reload>](&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.[<$($a)? get>](&self.id).await?;
                Ok(())
            }

            /// Saves the whole task (every field but `deep_planning`); the answer
            /// replaces the local copy. Unknown fields the server sent are sent back.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? save>](&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.$execute(tasks.inner.shared.core.save(self, false)).await?;
                Ok(())
            }

            /// As the `save` method, `deep_planning` included.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? save_with_deep_plan_update>](&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.$execute(tasks.inner.shared.core.save(self, true)).await?;
                Ok(())
            }

            /// Sets `status` and `result` locally, then saves.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? set_status>](
                &mut self,
                tasks: &Tasks,
                status: AgentExecutionStatus,
                result: Option<&str>,
            ) -> Result<()> {
                self.status = Some(status);
                if let Some(result) = result {
                    self.result = Some(result.to_string());
                }
                self.[<$($a)? save>](tasks).await
            }

            /// Stops this task; the answer replaces the local copy.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? stop>](&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.[<$($a)? stop>](&self.id).await?;
                Ok(())
            }
        }

        impl TaskListItem {
            /// Loads the full task this list item names.
            ///
            #[doc = $face]
            #[$mode]
            pub async fn [<$($a)? load>](&self, tasks: &Tasks) -> Result<Task> {
                tasks.[<$($a)? get>](&self.id).await
            }
        }

        public_front_end! {
            mode: $mode,
            transport: $transport,
            execute: $execute,
            face: $face,
            prefix: [$($a)?],
        }
    }};
}
