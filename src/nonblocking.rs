//! The async face of the client: a thin transport over a `reqwest` 0.13
//! client on tokio, and the async expansion of the front-end methods written
//! once in `src/front.rs` (`aupdate`, `aget`, `acreate`, `Task::asave`, …).
//!
//! Everything protocol-related lives in [`crate::sans_io`]; this file only moves
//! bytes and sleeps. The methods need a tokio runtime with its time driver
//! (`#[tokio::main]` gives one).
//!
//! The crate root's [async example](crate#async) shows a call.
//!
//! A task's live events, as an async stream:
//!
//! ```
//! # #[cfg(all(feature = "async", feature = "emulator"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = xpander_sdk::emulator::Emulator::start()?;
//! use xpander_sdk::{CreateTask, Tasks, UpdateTask, AgentExecutionStatus};
//!
//! let tasks = Tasks::builder()
//!     .api_key(emulator.api_key())
//!     .base_url(emulator.base_url())
//!     .organization_id(emulator.organization_id())
//!     .build()?;
//! let task = tasks.acreate(&CreateTask::new("agent-1", "Hello!").events_streaming(true)).await?;
//! let mut events = task.aevents(&tasks)?;
//! // The handshake: from here on the stream is live.
//! let connected = events.next().await.unwrap()?;
//! assert_eq!(connected.kind, xpander_sdk::model::TaskEventType::Connected);
//! tasks.aupdate(&task.id, &UpdateTask::new().status(AgentExecutionStatus::Completed).result("Hi")).await?;
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{}", event.kind);
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "async", feature = "emulator")))]
//! # fn main() {}
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result, TransportError, TransportErrorKind};
use crate::sans_io::duration::clamp;
use crate::sans_io::{answer, broke_off, BodyLimit, HttpRequest, HttpResponse, Method, StreamRead};

/// Sends requests with one `reqwest::Client` (its own connection pool).
#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    limit: BodyLimit,
    /// With HTTP/2 offered over TLS: the first call of the client.
    first: Option<FirstCall>,
    /// The caller's own client ([`crate::ClientBuilder::reqwest_client`]):
    /// an answer that comes from another origin (the client followed a
    /// redirect) is refused.
    foreign: bool,
    /// The per-URL rules (plain http), applied to every request.
    routes: Arc<crate::config::Routes>,
    /// What no error may show.
    secrets: Arc<crate::redact::Secrets>,
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
            .connect_timeout(clamp(config.timeouts.connect))
            .timeout(clamp(config.timeouts.request))
            .user_agent(crate::USER_AGENT)
            .tcp_nodelay(true);
        if !http2 {
            builder = builder.http1_only();
        }
        // Our decision, not reqwest's own reading of the environment: made
        // per URL (the events root may be another host than the base).
        builder = if config.routes.may_proxy() {
            let routes = config.routes.clone();
            builder.proxy(reqwest::Proxy::custom(move |url| {
                let route = routes.route(url.as_str()).ok()?;
                Some(route.proxy?.as_str().to_owned())
            }))
        } else {
            builder.no_proxy()
        };
        // `localhost` and `*.localhost` are loopback without asking DNS
        // (RFC 6761): the client trusts them as loopback.
        builder = builder.dns_resolver(LocalhostIsLoopback);
        for (host, addr) in &config.resolve {
            if crate::config::is_localhost_name(host) && !addr.ip().is_loopback() {
                continue;
            }
            builder = builder.resolve(host, *addr);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))?;
        let mut transport = Transport::from_client(client, config);
        transport.foreign = false;
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
            first: None,
            foreign: true,
            routes: config.routes.clone(),
            secrets: Arc::new(config.secrets()),
        }
    }

    async fn send_now(
        &self,
        request: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<HttpResponse> {
        let sent = async {
            let mut builder = self.builder(request)?;
            if let Some(timeout) = timeout {
                builder = builder.timeout(clamp(timeout));
            }
            let response = builder.send().await.map_err(transport_error)?;
            // The caller's own client may have followed a redirect (reqwest
            // cannot be told per request to follow none): the key went along.
            if self.foreign {
                check_origin(request.method(), &request.uri().to_string(), &response)?;
            }
            // Read as a stream's error answer is, without its idle timeout
            // (the whole request's bounds it).
            let mut whole = Streaming {
                conn: Conn::Open(response),
                idle: STREAM_LIFETIME,
                idle_by: None,
                answer: None,
                limit: self.limit,
                secrets: self.secrets.clone(),
                origin: None,
            };
            whole.answer().await
        };
        sent.await.map_err(|e| self.secrets.scrub_error(e))
    }

    /// The request as reqwest's, with every header.
    fn builder(&self, request: &HttpRequest) -> Result<reqwest::RequestBuilder> {
        // The rules of this very URL (plain http refused off loopback); its
        // proxy is chosen by the client's per-URL proxy rule.
        let url = request.uri().to_string();
        if self.routes.known(&url).is_none() {
            self.routes.route(&url)?;
        }
        let mut builder = self
            .client
            .request(request.method().clone(), url)
            .headers(request.headers().clone());
        if !request.body().is_empty() {
            builder = builder.body(request.body().0.clone());
        }
        Ok(builder)
    }
}

impl crate::front::nonblocking::Transport for Transport {
    type Streaming = Streaming;

    async fn send(&self, request: &HttpRequest, timeout: Option<Duration>) -> Result<HttpResponse> {
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

    /// The request under way is held by the [`Streaming`], so a `head`
    /// dropped half-way (a cancelled call) loses nothing: the next one
    /// waits for the same answer, within the same time limit.
    fn start(
        &self,
        request: &HttpRequest,
        head: Option<Duration>,
        idle: Duration,
    ) -> Result<Streaming> {
        let pending: SendFuture = Box::pin(
            self.builder(request)
                .map_err(|e| self.secrets.scrub_error(e))?
                .timeout(STREAM_LIFETIME)
                .send(),
        );
        let idle = clamp(idle);
        let head = clamp(head.unwrap_or(idle));
        Ok(Streaming {
            conn: Conn::Pending {
                pending: std::sync::Mutex::new(pending),
                by: deadline(head),
                head,
            },
            idle,
            idle_by: None,
            answer: None,
            limit: self.limit,
            secrets: self.secrets.clone(),
            origin: self
                .foreign
                .then(|| (request.method().clone(), request.uri().to_string())),
        })
    }

    async fn sleep(wait: Duration) {
        tokio::time::sleep(clamp(wait)).await
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

/// `now + wait`, or a year from now when that cannot be represented.
fn deadline(wait: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(STREAM_LIFETIME))
        .unwrap_or(now)
}

/// A request under way, as reqwest sends it.
type SendFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send>>;

/// Where a streamed answer is.
enum Conn {
    /// The request is under way; its head is due `by`. (The mutex is never
    /// locked, only reached through `get_mut`: it keeps the stream `Sync`,
    /// as the future is not.)
    Pending {
        pending: std::sync::Mutex<SendFuture>,
        by: tokio::time::Instant,
        head: Duration,
    },
    /// The head came.
    Open(reqwest::Response),
    /// The answer came from another origin and was refused unread.
    Refused,
}

/// An answer whose body is read as it comes (an event stream).
///
/// Cancel-safe: every wait keeps its state here, not in the future that
/// waits. A [`head`](Self::head), [`read`](Self::read) or
/// [`answer`](Self::answer) dropped half-way loses nothing: the next call
/// goes on with the same request, the same idle deadline (a silence is
/// measured from the first read that waited for it, not restarted by each
/// call) and the bytes of an error answer read so far.
pub(crate) struct Streaming {
    conn: Conn,
    idle: Duration,
    /// When the read under way gives up: set by the first read that
    /// waits, kept across dropped reads, cleared by bytes.
    idle_by: Option<tokio::time::Instant>,
    /// The body of an error answer read so far.
    answer: Option<Vec<u8>>,
    limit: BodyLimit,
    secrets: Arc<crate::redact::Secrets>,
    /// The request's method and URL, when its answer's origin must be
    /// checked (a caller's own reqwest client).
    origin: Option<(Method, String)>,
}

impl crate::front::nonblocking::Stream for Streaming {
    async fn head(&mut self) -> Result<()> {
        if matches!(self.conn, Conn::Refused) {
            return Err(Error::Config(
                "the stream's answer came from another origin and was refused".to_owned(),
            ));
        }
        let Conn::Pending { pending, by, head } = &mut self.conn else {
            return Ok(());
        };
        let pending = pending.get_mut().unwrap_or_else(|e| e.into_inner());
        let response = match tokio::time::timeout_at(*by, pending).await {
            Ok(sent) => sent.map_err(|e| self.secrets.scrub_error(transport_error(e)))?,
            Err(_) => {
                return Err(Error::Transport(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("no answer to the stream request within {head:?}"),
                    None,
                )))
            }
        };
        if let Some((method, url)) = &self.origin {
            if let Err(error) = check_origin(method, url, &response) {
                // Never read: the request is over.
                self.conn = Conn::Refused;
                return Err(self.secrets.scrub_error(error));
            }
        }
        self.conn = Conn::Open(response);
        Ok(())
    }

    fn status(&self) -> u16 {
        self.response().map_or(0, |r| r.status().as_u16())
    }

    fn header(&self, name: &str) -> Option<String> {
        self.response().and_then(|r| header(r, name))
    }

    async fn read(&mut self) -> Result<StreamRead> {
        self.head().await?;
        let Conn::Open(response) = &mut self.conn else {
            return Ok(StreamRead::End);
        };
        let by = *self.idle_by.get_or_insert_with(|| deadline(self.idle));
        // `chunk` is cancel-safe: bytes are taken only when returned.
        let read = tokio::time::timeout_at(by, response.chunk()).await;
        self.idle_by = None;
        match read {
            Ok(Ok(Some(bytes))) => Ok(StreamRead::Bytes(bytes.to_vec())),
            Ok(Ok(None)) => Ok(StreamRead::End),
            Ok(Err(e)) => Err(self.secrets.scrub_error(transport_error(e))),
            Err(_) => Ok(StreamRead::Idle),
        }
    }

    async fn answer(&mut self) -> Result<HttpResponse> {
        self.head().await?;
        let Some(response) = self.response() else {
            return Err(Error::invalid("stream", "no answer to read"));
        };
        let (code, status) = (response.status(), response.status().as_u16());
        let retry_after = header(response, "retry-after");
        if self.answer.is_none() {
            let capacity = self.limit.start(status, response.content_length())?;
            self.answer = Some(Vec::with_capacity(capacity));
        }
        loop {
            // Each chunk is kept as it comes: a dropped call loses none.
            // A body that stops coming is given up after the idle timeout,
            // as a stream's: a half-open connection must not hold the
            // stream (or the worker's) for ever. The deadline survives a
            // dropped call (it is `read`'s).
            let read = self.read().await;
            let body = self.answer.get_or_insert_with(Vec::new);
            let error = match read {
                Ok(StreamRead::Bytes(chunk)) if self.limit.append(status, body, &chunk)? => {
                    continue
                }
                Ok(StreamRead::Bytes(_) | StreamRead::End) => break,
                Ok(StreamRead::Idle) => Error::Transport(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!(
                        "the error answer's body stopped coming for {:?} (the idle timeout)",
                        self.idle
                    ),
                    None,
                )),
                Err(error) => error,
            };
            return Err(broke_off(error, status, body.len()));
        }
        let body = self.answer.take().unwrap_or_default();
        Ok(answer(code, retry_after.as_deref(), body))
    }
}

impl Streaming {
    fn response(&self) -> Option<&reqwest::Response> {
        match &self.conn {
            Conn::Open(response) => Some(response),
            Conn::Pending { .. } | Conn::Refused => None,
        }
    }

    /// [`answer`](crate::front::nonblocking::Stream::answer), for a caller
    /// that owns the stream.
    #[cfg(feature = "runtime")]
    pub(crate) async fn into_answer(mut self) -> Result<HttpResponse> {
        self.answer().await
    }
}

/// Refuses an answer that came from another origin than the request's (a
/// caller's reqwest client that followed a redirect).
fn check_origin(method: &Method, url: &str, response: &reqwest::Response) -> Result<()> {
    let asked = reqwest::Url::parse(url).map(|url| url.origin());
    let answered = response.url().origin();
    if asked.as_ref().ok() == Some(&answered) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "the answer to {} {} came from {} after the caller's reqwest client followed a \
         redirect: refused, as the API key must never follow a redirect to another host. \
         Build the client with redirect(reqwest::redirect::Policy::none())",
        method.as_str(),
        asked.map_or_else(|_| "?".to_owned(), |o| o.ascii_serialization()),
        answered.ascii_serialization(),
    )))
}

/// reqwest's resolver, but `localhost` and `*.localhost` answered with
/// loopback addresses without asking DNS (search domains included), as the
/// blocking face does.
struct LocalhostIsLoopback;

impl reqwest::dns::Resolve for LocalhostIsLoopback {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = if crate::config::is_localhost_name(&host) {
                crate::config::localhost_addrs(&host, 0, &[])
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
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
    let tls_refused = kind == TransportErrorKind::Connect && rustls_error(&e);
    let mut error = TransportError::new(kind, message, Some(Box::new(e)));
    error.tls_refused = tls_refused;
    Error::Transport(error)
}

/// True when `e`'s chain holds a rustls error (a refused certificate, a
/// TLS alert): io errors hide theirs from `source()`, so each is opened.
fn rustls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(cause) = source {
        if cause.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>() || rustls_error(inner))
            {
                return true;
            }
        }
        source = cause.source();
    }
    false
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
    face: "The async form of the blocking method without the leading `a`.",
    prefix: [a],
}

face_streams! {
    async,
    /// The next event, as soon as it arrives; `None` once the stream is
    /// over (after `task_finished`, by default).
    ///
    /// Cancel-safe: it may be dropped at any await, as the losing arm of a
    /// `select!` or under `tokio::time::timeout`, and called again. Every
    /// wait keeps its state in the stream, not in the future: the wait
    /// before a reconnect goes on where it was (the next call never
    /// reconnects sooner than the backoff said), a connection under way is
    /// not opened twice, a read goes on with the same idle deadline, and no
    /// event is lost or given twice.
    EventStream => next_event: crate::model::TaskEvent;
    /// The next task, fetching the next page when this one is drained;
    /// `None` once the walk is over.
    TaskPages => next_item: crate::model::TaskListItem;
    /// The next event, as soon as it arrives; `None` once the stream is over.
    InvokeStream => next_invoke_event: crate::model::InvokeEvent;
}

#[cfg(feature = "runtime")]
impl crate::Tasks {
    /// Sends a request the core built (the agent worker's calls), with this
    /// view's options and retries, as every async method does.
    pub(crate) async fn send_async(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.execute_async(Ok(request)).await
    }
}
