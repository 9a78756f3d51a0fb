//! The async face of the client: a thin transport over a `reqwest` 0.13
//! client on tokio, and the async expansion of the front-end methods written
//! once in `src/front.rs` (`aupdate`, `aget`, `acreate`, `Task::asave`, …).
//!
//! Everything protocol-related lives in [`crate::core`]; this file only moves
//! bytes and sleeps. The methods need a tokio runtime with its time driver
//! (`#[tokio::main]` gives one).

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::core::{broke_off, BodyLimit, HttpRequest, HttpResponse, Method, StreamRead, Take};
use crate::error::{Error, Result, TransportError, TransportErrorKind};

/// Sends requests with one `reqwest::Client` (its own connection pool).
#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    limit: BodyLimit,
    headers: crate::headers::Headers,
    /// With HTTP/2 offered over TLS: the first call of the client.
    first: Option<FirstCall>,
}

/// hyper-util learns a connection speaks HTTP/2 only after ALPN, so calls
/// started before the first connection is up would each open their own
/// (measured: 62 connections for 64 calls in flight, all HTTP/2). So the
/// first call of a client goes alone, and the calls started meanwhile wait
/// for it (at most [`FIRST_CALL_WAIT`], so that one slow answer cannot hold
/// them up for long), then share its connection when it speaks HTTP/2.
#[derive(Debug)]
struct FirstCall {
    started: std::sync::atomic::AtomicBool,
    /// Set with `done`: the fast check of every later call.
    over: std::sync::atomic::AtomicBool,
    done: tokio::sync::watch::Sender<bool>,
}

/// The longest the calls started during a client's first call wait for it.
const FIRST_CALL_WAIT: Duration = Duration::from_secs(1);

/// Marks the first call done when dropped (finished, failed or cancelled).
struct FirstCallDone<'a>(&'a FirstCall);

impl Drop for FirstCallDone<'_> {
    fn drop(&mut self) {
        self.0
            .over
            .store(true, std::sync::atomic::Ordering::Release);
        self.0.done.send_replace(true);
    }
}

impl Transport {
    /// The crate's own client: its timeouts, no redirects, the proxy decided
    /// by [`crate::proxy`], the TLS configuration `tls` (HTTP/2 offered by
    /// ALPN when configured and built in), and the builder's name overrides.
    pub(crate) fn new(
        config: &Config,
        tls: std::result::Result<Arc<rustls::ClientConfig>, String>,
    ) -> std::result::Result<Transport, String> {
        let mut tls = Arc::unwrap_or_clone(tls?);
        let http2 = cfg!(feature = "http2") && config.http2;
        tls.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // The key must never follow a redirect; a 3xx is an ApiError.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .user_agent(crate::USER_AGENT)
            .tcp_nodelay(true);
        if !http2 {
            builder = builder.http1_only();
        }
        // Our decision, not reqwest's own reading of the environment.
        builder = match &config.proxy {
            Some(proxy) => builder.proxy(
                reqwest::Proxy::all(proxy.as_str())
                    .map_err(|e| format!("the proxy {proxy} is not usable: {e}"))?,
            ),
            None => builder.no_proxy(),
        };
        for (host, addr) in &config.resolve {
            builder = builder.resolve(host, *addr);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
        let mut transport = Transport::from_client(client, config);
        if http2 && config.base_url.starts_with("https://") {
            transport.first = Some(FirstCall {
                started: std::sync::atomic::AtomicBool::new(false),
                over: std::sync::atomic::AtomicBool::new(false),
                done: tokio::sync::watch::Sender::new(false),
            });
        }
        Ok(transport)
    }

    /// The caller's own client ([`crate::ClientBuilder::reqwest_client`]).
    pub(crate) fn from_client(client: reqwest::Client, config: &Config) -> Transport {
        Transport {
            client,
            limit: BodyLimit {
                bytes: config.max_response_bytes,
            },
            headers: crate::headers::Headers::new(config),
            first: None,
        }
    }

    /// Sends one request and reads the whole answer (up to the limit);
    /// `timeout`, when given, replaces the client's whole-request timeout.
    pub(crate) async fn send(
        &self,
        request: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<HttpResponse> {
        use std::sync::atomic::Ordering;
        if let Some(first) = self
            .first
            .as_ref()
            .filter(|f| !f.over.load(Ordering::Acquire))
        {
            if !first.started.swap(true, Ordering::AcqRel) {
                let _done = FirstCallDone(first);
                return self.send_now(request, timeout).await;
            }
            let mut done = first.done.subscribe();
            let _ = tokio::time::timeout(FIRST_CALL_WAIT, done.wait_for(|done| *done)).await;
        }
        self.send_now(request, timeout).await
    }

    async fn send_now(
        &self,
        request: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<HttpResponse> {
        let mut builder = self.builder(request)?;
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let response = builder.send().await.map_err(transport_error)?;
        self.read_answer(response).await
    }

    /// The request as reqwest's, with every header.
    fn builder(&self, request: &HttpRequest) -> Result<reqwest::RequestBuilder> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client.request(method, request.url.as_str());
        for pair in self.headers.pairs(request) {
            let (name, value) = pair?;
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        Ok(builder)
    }

    /// Reads a whole answer, within the body limits.
    async fn read_answer(&self, response: reqwest::Response) -> Result<HttpResponse> {
        Transport::read_body(self.limit, response).await
    }

    async fn read_body(limit: BodyLimit, mut response: reqwest::Response) -> Result<HttpResponse> {
        let status = response.status().as_u16();
        let retry_after = header(&response, "retry-after");
        let mut body = Vec::with_capacity(limit.start(status, response.content_length())?);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => match limit.take(status, body.len(), chunk.len())? {
                    Take::All => body.extend_from_slice(&chunk),
                    Take::PrefixThenStop(n) => {
                        body.extend_from_slice(chunk.get(..n).unwrap_or(&chunk));
                        break;
                    }
                },
                Ok(None) => break,
                Err(e) => return Err(broke_off(transport_error(e), status, body.len())),
            }
        }
        Ok(HttpResponse::new(status, retry_after, body))
    }

    /// Opens a streamed answer (an event stream): the connection and the
    /// answer's head within `head` when given (else within `idle`), then
    /// the body is read as it comes, each read bounded by `idle`. The
    /// client's whole-request timeout does not apply (a stream may stay
    /// open for hours).
    pub(crate) async fn open_within(
        &self,
        request: &HttpRequest,
        head: Option<Duration>,
        idle: Duration,
    ) -> Result<Streaming> {
        let builder = self.builder(request)?.timeout(STREAM_LIFETIME);
        let head = head.unwrap_or(idle);
        let response = match tokio::time::timeout(head, builder.send()).await {
            Ok(sent) => sent.map_err(transport_error)?,
            Err(_) => {
                return Err(Error::Transport(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("no answer to the stream request within {head:?}"),
                    None,
                )))
            }
        };
        Ok(Streaming {
            response,
            idle,
            limit: self.limit,
        })
    }

    /// Waits before the next attempt.
    pub(crate) async fn sleep(wait: Duration) {
        tokio::time::sleep(wait).await
    }
}

/// How long a streamed answer may stay open (no whole-request timeout; the
/// idle timeout bounds each read).
const STREAM_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// An answer whose body is read as it comes (an event stream).
pub(crate) struct Streaming {
    response: reqwest::Response,
    idle: Duration,
    limit: BodyLimit,
}

impl Streaming {
    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    /// A header of the answer, if present and text.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        header(&self.response, name)
    }

    /// The next bytes of the body, its end, or `Idle` when nothing came
    /// within the idle timeout.
    pub(crate) async fn read(&mut self) -> Result<StreamRead> {
        match tokio::time::timeout(self.idle, self.response.chunk()).await {
            Ok(Ok(Some(bytes))) => Ok(StreamRead::Bytes(bytes.to_vec())),
            Ok(Ok(None)) => Ok(StreamRead::End),
            Ok(Err(e)) => Err(transport_error(e)),
            Err(_) => Ok(StreamRead::Idle),
        }
    }

    /// The whole answer of an error status (its first bytes), to build the
    /// API error from.
    pub(crate) async fn into_answer(self) -> Result<HttpResponse> {
        let limit = self.limit;
        Transport::read_body(limit, self.response).await
    }
}

/// The kind of a reqwest failure, the same as the blocking face gives for
/// the same failure (tests/network.rs checks each one in both faces).
fn transport_error(e: reqwest::Error) -> Error {
    // reqwest's text and Debug carry the whole URL, query included (ids,
    // filters); the front end names the request without its query.
    let e = e.without_url();
    let hyper = find_source::<hyper::Error>(&e);
    let io = find_source::<std::io::Error>(&e);
    let kind = if hyper.is_some_and(|h| h.is_parse() || h.is_parse_status()) {
        // A malformed or oversized answer head.
        TransportErrorKind::Protocol
    } else if e.is_connect() {
        if e.is_timeout() || io.is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut) {
            TransportErrorKind::ConnectTimeout
        } else {
            TransportErrorKind::Connect
        }
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_request() || e.is_body() || e.is_decode() {
        TransportErrorKind::Disconnected
    } else {
        TransportErrorKind::Other
    };
    let message = error_chain(&e);
    Error::Transport(TransportError::new(kind, message, Some(Box::new(e))))
}

/// The first error of type `T` in `e`'s chain of causes.
fn find_source<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut source = Some(e);
    while let Some(cause) = source {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        source = cause.source();
    }
    None
}

/// The error and its causes on one line (reqwest's own message is terse).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

front_end! {
    mode: maybe_async::must_be_async,
    transport: nonblocking,
    execute: execute_async,
    /// Patches the fields set in `change` on task `task_id`; answers the
    /// task as the server has it afterwards. The async form of [`Tasks::update`].
    ///
    /// ```
    /// # #[cfg(all(feature = "async", feature = "emulator"))]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = xpander_sdk::emulator::Emulator::start()?;
    /// # emulator.seed_task(serde_json::json!({"id": "task_xyz", "agent_id": "a", "organization_id": "o", "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}));
    /// # let tasks = xpander_sdk::Tasks::builder().base_url(emulator.base_url()).api_key(emulator.api_key()).build()?;
    /// use xpander_sdk::{AgentExecutionStatus, UpdateTask};
    ///
    /// let task = tasks
    ///     .aupdate(
    ///         "task_xyz",
    ///         &UpdateTask::new().status(AgentExecutionStatus::Error).result("Connector failed"),
    ///     )
    ///     .await?;
    /// assert_eq!(task.status, Some(AgentExecutionStatus::Error));
    /// # Ok(())
    /// # }
    /// # #[cfg(not(all(feature = "async", feature = "emulator")))]
    /// # fn main() {}
    /// ```
    update: aupdate,
    /// Loads task `task_id`. The async form of [`Tasks::get`].
    get: aget,
    /// Stops task `task_id`; answers the stopped task. The async form of [`Tasks::stop`].
    stop: astop,
    /// Creates a task; answers it with its new id. The async form of [`Tasks::create`].
    create: acreate,
    /// Lists the tasks of agent `agent_id` that pass `filter`. The async form of [`Tasks::list`].
    list: alist,
    /// Lists the tasks of user `user_id`. The async form of [`Tasks::list_user_tasks`].
    list_user_tasks: alist_user_tasks,
    /// Reports a task that ran outside xpander. The async form of [`Tasks::report_external_task`].
    report_external_task: areport_external_task,
    /// The async form of [`Tasks::retry_on_conflict`].
    retry_on_conflict: aretry_on_conflict,
    /// Loads task `task_id`. The async form of [`Task::load`].
    load: aload,
    /// Loads this task again. The async form of [`Task::reload`].
    reload: areload,
    /// Saves the whole task. The async form of [`Task::save`].
    save: asave,
    /// The async form of [`Task::save_with_deep_plan_update`].
    save_with_deep_plan_update: asave_with_deep_plan_update,
    /// Sets `status` and `result` locally, then saves. The async form of [`Task::set_status`].
    set_status: aset_status,
    /// Stops this task. The async form of [`Task::stop`].
    stop_task: astop,
    /// Loads the full task. The async form of [`TaskListItem::load`].
    load_item: aload,
    /// Reads this task's activity log. The async form of [`Task::get_activity_log`].
    get_activity_log: aget_activity_log,
    /// Reports this task's execution metrics. The async form of [`Task::report_metrics`].
    report_metrics: areport_metrics,
    /// Whether this task may finish as far as its deep plan goes. The async
    /// form of [`Task::get_plan_following_status`].
    get_plan_following_status: aget_plan_following_status,
    /// Pushes events to a task's stream. The async form of [`Tasks::push_events`].
    push_events: apush_events,
    /// This task's live events, as an async stream (see [`EventStream`]):
    /// the async form of [`Task::events`], with the same guarantees.
    ///
    /// ```
    /// # #[cfg(all(feature = "async", feature = "emulator"))]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = xpander_sdk::emulator::Emulator::start()?;
    /// use xpander_sdk::{CreateTask, Tasks, UpdateTask, AgentExecutionStatus};
    ///
    /// let tasks = Tasks::builder()
    ///     .api_key(emulator.api_key())
    ///     .base_url(emulator.base_url())
    ///     .organization_id(emulator.organization_id())
    ///     .build()?;
    /// let task = tasks.acreate(&CreateTask::new("agent-1", "Hello!").events_streaming(true)).await?;
    /// let mut events = task.aevents(&tasks)?;
    /// // The handshake: from here on the stream is live.
    /// let connected = events.next().await.unwrap()?;
    /// assert_eq!(connected.kind, xpander_sdk::model::TaskEventType::Connected);
    /// tasks.aupdate(&task.id, &UpdateTask::new().status(AgentExecutionStatus::Completed).result("Hi")).await?;
    /// while let Some(event) = events.next().await {
    ///     let event = event?;
    ///     println!("{}", event.kind);
    /// }
    /// # Ok(())
    /// # }
    /// # #[cfg(not(all(feature = "async", feature = "emulator")))]
    /// # fn main() {}
    /// ```
    events: aevents,
    /// As [`Task::aevents`], with a [`StreamPolicy`](crate::core::stream::StreamPolicy).
    events_with: aevents_with,
    /// Waits until task `task_id` reaches a final status. The async form of
    /// [`Tasks::wait_for_result`] (`await` is a keyword, hence the name).
    wait_for_result: await_for_result,
    /// The live events of one task, read with [`EventStream::next`] or as a
    /// `futures` [`Stream`](futures_core::Stream) ([`EventStream::into_stream`]).
    /// See [`Task::events`] for what it guarantees.
    stream: EventStream { next: next_event },
}

impl EventStream {
    /// The next event, as soon as it arrives; `None` once the stream is
    /// over (after `task_finished`, by default).
    pub async fn next(&mut self) -> Option<Result<crate::model::TaskEvent>> {
        self.next_event().await
    }

    /// The events as a `futures` stream.
    pub fn into_stream(
        self,
    ) -> impl futures_core::Stream<Item = Result<crate::model::TaskEvent>> + Send {
        futures_util::stream::unfold(self, |mut stream| async move {
            stream.next_event().await.map(|event| (event, stream))
        })
    }
}

#[cfg(feature = "runtime")]
impl crate::Tasks {
    /// Sends a request the core built (the agent worker's calls), with this
    /// view's options and retries, as every async method does.
    pub(crate) async fn send_async(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.execute_async(request).await
    }
}
