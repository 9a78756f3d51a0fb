//! The blocking face of the client: a thin transport over a `ureq` 3 agent,
//! and the blocking expansion of the front-end methods written once in
//! `src/front.rs` (`update`, `get`, `create`, `Task::save`, …).
//!
//! Everything protocol-related lives in [`crate::core`]; this file only moves
//! bytes and sleeps. ureq has no async runtime, so these methods may be called
//! from any thread, one inside a tokio runtime included (they block it, as
//! any blocking call does; prefer the `a`-prefixed methods there).

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::config::Config;
use crate::core::{broke_off, BodyLimit, HttpRequest, HttpResponse};
use crate::error::{Error, Result, TransportError, TransportErrorKind};

/// Idle connections kept per host, as reqwest keeps them without a bound.
const POOL_IDLE_PER_HOST: usize = 64;

/// Sends requests with one `ureq::Agent` (its own connection pool).
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    limit: BodyLimit,
}

impl Transport {
    pub(crate) fn new(config: &Config) -> Transport {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .unversioned_rustls_crypto_provider(crate::tls::provider())
            .build();
        let agent_config = ureq::Agent::config_builder()
            // Keep the body of 4xx/5xx answers: they become ApiError.
            .http_status_as_error(false)
            // The key must never follow a redirect; a 3xx is an ApiError.
            .max_redirects(0)
            .timeout_connect(Some(config.timeouts.connect))
            .timeout_global(Some(config.timeouts.request))
            .user_agent(crate::USER_AGENT)
            // ureq keeps 3 idle connections per host by default; a client
            // shared by many threads would open new ones for nothing.
            .max_idle_connections_per_host(POOL_IDLE_PER_HOST)
            .max_idle_connections(POOL_IDLE_PER_HOST * 4)
            .tls_config(tls)
            .build();
        let agent = ureq::Agent::with_parts(
            agent_config,
            DefaultConnector::new(),
            IpLiteralResolver::default(),
        );
        Transport {
            agent,
            limit: BodyLimit {
                bytes: config.max_response_bytes,
            },
        }
    }

    /// Sends one request and reads the whole answer (up to the limit).
    pub(crate) fn send(&self, request: &HttpRequest) -> Result<HttpResponse> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        let sent = match &request.body {
            Some(body) => builder.body(body.as_slice()).map(|r| self.agent.run(r)),
            None => builder
                .body(ureq::SendBody::none())
                .map(|r| self.agent.run(r)),
        };
        let mut response = sent
            .map_err(|e| {
                Error::Transport(TransportError::new(
                    TransportErrorKind::Other,
                    format!("cannot build the request: {e}"),
                    Some(Box::new(e)),
                ))
            })?
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = Vec::with_capacity(self.limit.start(status, declared)?);
        let keep = self.limit.keep(status) as u64;
        let read = if BodyLimit::is_strict(status) {
            // Over the limit: ureq's error, turned into BodyTooLarge.
            let mut reader = response.body_mut().with_config().limit(keep).reader();
            reader.read_to_end(&mut body)
        } else {
            // An error answer: its first bytes; the rest is left unread.
            let reader = response.body_mut().with_config().limit(u64::MAX).reader();
            reader.take(keep).read_to_end(&mut body)
        };
        if let Err(e) = read {
            return Err(read_error(e, status, body.len(), self.limit));
        }
        Ok(HttpResponse::new(status, retry_after, body))
    }

    /// Waits before the next attempt.
    pub(crate) fn sleep(&self, wait: Duration) {
        std::thread::sleep(wait)
    }
}

/// ureq resolves the host before every request, pooled connection or not,
/// and with a timeout set (we always set one) its default resolver does it
/// on a new thread each time: measured on loopback, that thread made an
/// update cost about 4x a bare ureq agent's. An IP literal needs no lookup,
/// so it is answered at once; host names still go to ureq's resolver,
/// unchanged (a thread per request, bounded by the timeout).
#[derive(Debug, Default)]
struct IpLiteralResolver(DefaultResolver);

impl Resolver for IpLiteralResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
            let host = authority.host();
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let port = authority.port_u16().or(match scheme {
                "http" => Some(80),
                "https" => Some(443),
                _ => None,
            });
            if let (Ok(ip), Some(port)) = (host.parse::<IpAddr>(), port) {
                let mut addrs = self.empty();
                addrs.push(SocketAddr::new(ip, port));
                return Ok(addrs);
            }
        }
        self.0.resolve(uri, config, timeout)
    }
}

fn read_error(e: io::Error, status: u16, read: usize, limit: BodyLimit) -> Error {
    match ureq::Error::from(e) {
        ureq::Error::BodyExceedsLimit(_) => limit.exceeded(status),
        other => broke_off(transport_error(other), status, read),
    }
}

fn transport_error(e: ureq::Error) -> Error {
    use TransportErrorKind::*;
    let kind = match &e {
        ureq::Error::Timeout(_) => Timeout,
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => Connect,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => Connect,
        ureq::Error::Io(io) => io_kind(io),
        ureq::Error::Protocol(_) => Disconnected,
        _ => Other,
    };
    Error::Transport(TransportError::new(kind, e.to_string(), Some(Box::new(e))))
}

fn io_kind(e: &io::Error) -> TransportErrorKind {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused | AddrNotAvailable | NotConnected | HostUnreachable
        | NetworkUnreachable => TransportErrorKind::Connect,
        TimedOut | WouldBlock => TransportErrorKind::Timeout,
        ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe => {
            TransportErrorKind::Disconnected
        }
        _ => TransportErrorKind::Other,
    }
}

front_end! {
    mode: maybe_async::must_be_sync,
    transport: blocking,
    execute: execute_blocking,
    /// Patches the fields set in `change` on task `task_id`; answers the
    /// task as the server has it afterwards.
    ///
    /// Only the fields set are sent (`{}` when none). Retried on 429, 502,
    /// 503, 504 and broken connections (the same body every time).
    ///
    /// ```
    /// # #[cfg(all(feature = "blocking", feature = "emulator"))] {
    /// # let emulator = xpander_sdk::emulator::Emulator::start()?;
    /// # emulator.seed_task(serde_json::json!({"id": "task_xyz", "agent_id": "a", "organization_id": "o", "input": {"text": "hi"}, "created_at": "2026-11-20T10:00:00Z"}));
    /// # let tasks = xpander_sdk::Tasks::builder().base_url(emulator.base_url()).api_key(emulator.api_key()).build()?;
    /// use xpander_sdk::{AgentExecutionStatus, UpdateTask};
    ///
    /// let task = tasks.update(
    ///     "task_xyz",
    ///     &UpdateTask::new().status(AgentExecutionStatus::Completed).result("Done"),
    /// )?;
    /// assert_eq!(task.result.as_deref(), Some("Done"));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    update: update,
    /// Loads task `task_id`.
    get: get,
    /// Stops task `task_id`; answers the stopped task.
    stop: stop,
    /// Creates a task; answers it with its new id.
    create: create,
    /// Lists the tasks of agent `agent_id` that pass `filter`.
    list: list,
    /// Lists the tasks of user `user_id` that pass `filter` (its `user_id` is ignored).
    list_user_tasks: list_user_tasks,
    /// Reports a task that ran outside xpander.
    report_external_task: report_external_task,
    /// Loads task `task_id`, lets `change` modify it, and saves it; on a 409
    /// conflict, reloads and applies `change` again, a few times with a short
    /// jittered backoff (after client-go's `RetryOnConflict`). Answers the
    /// saved task, or the last conflict when the budget is spent.
    retry_on_conflict: retry_on_conflict,
    /// Loads task `task_id` (the same as [`Tasks::get`]).
    load: load,
    /// Loads this task again; the answer replaces the local copy.
    reload: reload,
    /// Saves the whole task (every field but `deep_planning`); the answer
    /// replaces the local copy. Unknown fields the server sent are sent back.
    save: save,
    /// As [`Task::save`], `deep_planning` included.
    save_with_deep_plan_update: save_with_deep_plan_update,
    /// Sets `status` and `result` locally, then saves.
    set_status: set_status,
    /// Stops this task; the answer replaces the local copy.
    stop_task: stop,
    /// Loads the full task this list item names.
    load_item: load,
}
