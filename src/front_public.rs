//! The public REST API v1's front end, written once.
//!
//! [`public_front_end!`] holds the body of every v1 method of
//! [`crate::Tasks`] and [`crate::public::Conversation`], expanded by
//! [`front_end!`] in each of its two expansions: in [`crate::blocking`] under
//! `maybe_async::must_be_sync` (`invoke`, `list_tasks`, …) and in
//! [`crate::nonblocking`] under `maybe_async::must_be_async` (`ainvoke`,
//! `alist_tasks`, …). Requests are built and answers parsed in
//! [`crate::sans_io::public`]; the walk over pages and the streamed invoke
//! are decided there too ([`crate::sans_io::public::Pager`],
//! [`crate::sans_io::public::InvokeSession`]).

macro_rules! public_front_end {
    (
        mode: $mode:meta,
        transport: $transport:ident,
        execute: $execute:ident,
        face: $face:literal,
        prefix: [$($a:ident)?],
    ) => { pastey::paste! {
        use crate::sans_io::public::{InvokeSession, Pager};
        use crate::model::{Deleted, FullThread, InvokeEvent, TaskPage, ThreadMessage};
        use crate::public::{Conversation, Invoke, TaskQuery};

        impl Tasks {
            #[doc = concat!(
                "Invokes agent `agent_id` and answers the finished task ",
                "(`POST /v1/agents/{agent_id}/invoke`), its `result` the agent's answer, ",
                "its `id` the thread id (pass it back with `Invoke::thread_id` to continue ",
                "the conversation, or use a `Conversation`).\n\n",
                "The call lasts as long as the agent runs: `deadline` (clamped to 1 ms..=24 h) ",
                "replaces the client's request timeout and deadline for this call. Never ",
                "retried once sent (it runs the agent); retried when nothing reached the ",
                "server, or on 429. ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? invoke>](
                &self,
                agent_id: &str,
                request: &Invoke,
                deadline: std::time::Duration,
            ) -> Result<Task> {
                let http = self.inner.shared.core.invoke(agent_id, request);
                let deadline = crate::public::clamp_deadline(deadline);
                let options = self
                    .inner
                    .options
                    .clone()
                    .unwrap_or_default()
                    .timeout(deadline)
                    .deadline(deadline);
                let view = self.with_options(options);
                view.$execute(http).await
            }

            #[doc = concat!(
                "Invokes agent `agent_id` and answers the created task at once, usually ",
                "`pending` (`POST /v1/agents/{agent_id}/invoke/async`): wait for it with ",
                "`wait_for_result`, or follow its events (`Invoke::events_streaming(true)`). ",
                "Retried only when nothing reached the server, or on 429. ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? invoke_async>](&self, agent_id: &str, request: &Invoke) -> Result<Task> {
                self.$execute(self.inner.shared.core.invoke_async(agent_id, request)).await
            }

            #[doc = concat!(
                "Invokes agent `agent_id` and follows it as it runs ",
                "(`POST /v1/agents/{agent_id}/invoke/stream`): sends the request and reads ",
                "the answer's head (an error status is an `ApiError` here), then the events ",
                "come as they are read. Known types are typed, any other kept whole ",
                "(`InvokeEvent`); the stream ends after the terminal event or at the end of ",
                "the body. A stream cut mid-way is an error that says so: an invoke is never ",
                "replayed. Timeouts and limits: `StreamPolicy::default()` (`connect_timeout` ",
                "for the head, `idle_timeout` between reads, the decoder's `limits`). ",
                $face
            )]
            #[$mode]
            pub async fn [<$($a)? invoke_stream>](&self, agent_id: &str, request: &Invoke) -> Result<InvokeStream> {
                let shared = &self.inner.shared;
                let options = self.inner.options.as_ref();
                let mut http = shared.core.invoke_stream(agent_id, request)?;
                if let Some(options) = options {
                    options.apply(&mut http)?;
                }
                let transport = shared.$transport()?;
                let policy = crate::StreamPolicy::default();
                let (method, url) = (http.method().clone(), http.uri().to_string());
                // Every error names the request, as `$execute`'s do.
                let located = |error| crate::diagnose::locate(error, &method, &url, &shared.core);
                let mut retrier = Retrier::new(&shared.core.config, http.operation, options);
                loop {
                    let outcome = match retrier.attempt_timeout() {
                        // The head within the stream's connect timeout, and
                        // within the call's own deadline or timeout if shorter.
                        Ok(timeout) => {
                            let head = timeout.map_or(policy.connect_timeout, |t| t.min(policy.connect_timeout));
                            transport.open_within(&http, Some(head), policy.idle_timeout).await
                        }
                        Err(deadline) => return Err(located(deadline)),
                    };
                    let answer = match outcome {
                        Ok(body) => {
                            let content_type = body.header("content-type");
                            match InvokeSession::open(body.status(), content_type.as_deref(), policy.limits) {
                                Ok(session) => {
                                    return Ok(InvokeStream { session, body: Some(body), ended: false })
                                }
                                Err(Some(error)) => {
                                    return Err(located(shared.core.secrets().scrub_error(error)))
                                }
                                Err(None) => {
                                    let mut body = body;
                                    body.answer().await.map_err(located)
                                }
                            }
                        }
                        Err(error) => Err(located(error)),
                    };
                    match retrier.step(answer) {
                        Step::Retry(wait) => crate::$transport::Transport::sleep(wait).await,
                        Step::Done(Ok(answer)) => {
                            let error = shared.core.accepted(answer).err().unwrap_or_else(|| {
                                crate::Error::invalid("invoke_stream", "an error answer had a 2xx status")
                            });
                            return Err(located(error));
                        }
                        Step::Done(Err(error)) => return Err(error),
                    }
                }
            }

            #[doc = concat!(
                "One page of the organization's tasks (`GET /v1/tasks`), with `query`'s page, ",
                "size and filters; `per_page` outside 1..=50 or `page` 0 is refused before ",
                "anything is sent. ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? list_tasks>](&self, query: &TaskQuery) -> Result<TaskPage> {
                self.$execute(self.inner.shared.core.list_tasks(query)).await
            }

            #[doc = concat!(
                "One page of agent `agent_id`'s tasks (`GET /v1/agents/{agent_id}/tasks`); ",
                "`query.agent_id` is not sent (the path names the agent). ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? agent_tasks>](&self, agent_id: &str, query: &TaskQuery) -> Result<TaskPage> {
                self.$execute(self.inner.shared.core.agent_tasks(agent_id, query)).await
            }

            #[doc = concat!(
                "Every task of every page of `GET /v1/tasks`, from `query.page` (default 1), ",
                "fetched lazily one page at a time (see `crate::public`, \"Paging over a list ",
                "that changes\", for when it stops and what it guarantees). An error is ",
                "yielded once and ends the walk. ", $face
            )]
            pub fn [<$($a)? tasks_pages>](&self, query: &TaskQuery) -> Result<TaskPages> {
                TaskPages::new(self, None, query)
            }

            #[doc = concat!(
                "Every task of every page of `GET /v1/agents/{agent_id}/tasks` (see ",
                "the all-tasks walk). ", $face
            )]
            pub fn [<$($a)? agent_tasks_pages>](&self, agent_id: &str, query: &TaskQuery) -> Result<TaskPages> {
                crate::sans_io::segment::encode("agent_id", agent_id)?;
                TaskPages::new(self, Some(agent_id), query)
            }

            #[doc = concat!("Task `task_id` (`GET /v1/tasks/{task_id}`). ", $face)]
            #[$mode]
            pub async fn [<$($a)? get_task>](&self, task_id: &str) -> Result<Task> {
                self.$execute(self.inner.shared.core.get_task(task_id)).await
            }

            #[doc = concat!(
                "Deletes task `task_id` (`DELETE /v1/tasks/{task_id}`): `204` and `200` ",
                "with a message both read as success. Retried as reads are. ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? delete_task>](&self, task_id: &str) -> Result<Deleted> {
                self.$execute(self.inner.shared.core.delete_task(task_id)).await
            }

            #[doc = concat!(
                "Task `task_id`'s conversation thread (`GET /v1/tasks/{task_id}/thread`): ",
                "its messages, in order. ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? thread>](&self, task_id: &str) -> Result<Vec<ThreadMessage>> {
                self.$execute(self.inner.shared.core.thread(task_id)).await
            }

            #[doc = concat!(
                "Task `task_id`'s whole thread, sub-tasks included ",
                "(`GET /v1/tasks/{task_id}/thread/full`). ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? full_thread>](&self, task_id: &str) -> Result<FullThread> {
                self.$execute(self.inner.shared.core.full_thread(task_id)).await
            }
        }

        impl Conversation {
            #[doc = concat!(
                "Says `text` to the agent and answers its reply (a sync invoke with this ",
                "conversation's thread id and deadline); the thread id is kept for the ",
                "next turn. ", $face
            )]
            #[$mode]
            pub async fn [<$($a)? say>](&mut self, text: &str) -> Result<Task> {
                let request = self.turn(text);
                let task = self.tasks.[<$($a)? invoke>](&self.agent_id, &request, self.deadline).await?;
                self.answered(&task);
                Ok(task)
            }
        }

        #[doc = concat!(
            "The tasks of every page of a v1 task list, fetched lazily, one page at a ",
            "time. ", $face
        )]
        pub struct TaskPages {
            tasks: Tasks,
            agent_id: Option<String>,
            pager: Pager,
        }

        impl std::fmt::Debug for TaskPages {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!(TaskPages))
                    .field("agent_id", &self.agent_id)
                    .field("pager", &self.pager)
                    .finish()
            }
        }

        impl TaskPages {
            fn new(tasks: &Tasks, agent_id: Option<&str>, query: &TaskQuery) -> Result<TaskPages> {
                Ok(TaskPages {
                    tasks: tasks.clone(),
                    agent_id: agent_id.map(str::to_owned),
                    pager: Pager::new(query.clone())?,
                })
            }

            /// Pages fetched so far.
            pub fn pages(&self) -> u64 {
                self.pager.pages()
            }

            /// The next task; `None` once the walk is over.
            #[$mode]
            pub(crate) async fn next_item(&mut self) -> Option<Result<TaskListItem>> {
                loop {
                    if let Some(item) = self.pager.next_item() {
                        return Some(Ok(item));
                    }
                    let query = self.pager.next_query()?;
                    let core = &self.tasks.inner.shared.core;
                    let http = match self.agent_id.as_deref() {
                        None => core.list_tasks(&query),
                        Some(agent_id) => core.agent_tasks(agent_id, &query),
                    };
                    let page = self.tasks.$execute(http).await;
                    match page {
                        Ok(page) => self.pager.on_page(page),
                        Err(error) => {
                            self.pager.stop();
                            return Some(Err(error));
                        }
                    }
                }
            }
        }

        #[doc = concat!(
            "The events of a streamed invoke (see the `invoke_stream` method). ", $face
        )]
        pub struct InvokeStream {
            session: InvokeSession,
            body: Option<crate::$transport::Streaming>,
            /// The body ended cleanly: the events left are drained, then the end.
            ended: bool,
        }

        impl std::fmt::Debug for InvokeStream {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!(InvokeStream))
                    .field("session", &self.session)
                    .field("connected", &self.body.is_some())
                    .finish()
            }
        }

        impl InvokeStream {
            /// Events yielded so far.
            pub fn delivered(&self) -> u64 {
                self.session.delivered()
            }

            /// Events skipped (over the decoder's limits).
            pub fn skipped(&self) -> u64 {
                self.session.skipped()
            }

            /// The next event; `None` after the terminal event or the
            /// body's clean end; an error (once) when the stream was cut.
            #[$mode]
            pub(crate) async fn next_invoke_event(&mut self) -> Option<Result<InvokeEvent>> {
                loop {
                    if let Some(event) = self.session.next_event() {
                        return Some(Ok(event));
                    }
                    if self.ended || self.session.is_ended() {
                        self.session.close();
                        self.body = None;
                        return None;
                    }
                    let body = self.body.as_mut()?;
                    let cut = match body.read().await {
                        Ok(crate::sans_io::StreamRead::Bytes(bytes)) => {
                            self.session.feed(&bytes);
                            continue;
                        }
                        Ok(crate::sans_io::StreamRead::End) => {
                            self.session.on_end();
                            self.ended = true;
                            continue;
                        }
                        Ok(crate::sans_io::StreamRead::Idle) => crate::Error::Transport(
                            crate::TransportError::new(
                                crate::TransportErrorKind::Timeout,
                                "no byte for the idle timeout",
                                None,
                            ),
                        ),
                        Err(error) => error,
                    };
                    self.body = None;
                    return Some(Err(self.session.cut(cut)));
                }
            }
        }
    }};
}
