//! The blocking face of the client: a thin transport over a `ureq` 3 agent,
//! and the blocking expansion of the front-end methods written once in
//! `src/front.rs` (`update`, `get`, `create`, `Task::save`, …).
//!
//! Everything protocol-related lives in [`crate::sans_io`]; this file only moves
//! bytes and sleeps. ureq has no async runtime, so these methods may be called
//! from any thread, one inside a tokio runtime included (they block it, as
//! any blocking call does; prefer the `a`-prefixed methods there).
//!
//! The crate root's [blocking example](crate#blocking) shows a call.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    TcpConnector, Transport as UreqTransport, TransportAdapter,
};

use crate::config::Config;
use crate::error::{Error, Result, TransportError, TransportErrorKind};
use crate::sans_io::duration::clamp;
use crate::sans_io::{answer, broke_off, BodyLimit, HttpRequest, HttpResponse, StreamRead};
use crate::security::Url;

/// Idle connections kept per host, as reqwest keeps them without a bound.
const POOL_IDLE_PER_HOST: usize = 64;

/// Sends requests with one `ureq::Agent` (its own connection pool).
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    agent: ureq::Agent,
    limit: BodyLimit,
    /// The caller's own agent ([`crate::ClientBuilder::ureq_agent`]): each
    /// request is told to hand back 4xx/5xx answers as answers, and to
    /// follow no redirect (the key must not go to another host).
    foreign: bool,
    /// The per-URL rules (proxy, plain http), applied to every request.
    routes: Arc<crate::config::Routes>,
    /// The proxy of the agent itself (the base URL's route).
    agent_proxy: Option<crate::proxy::ProxyUrl>,
    /// What no error may show.
    secrets: Arc<crate::redact::Secrets>,
}

/// ureq's proxy for `proxy`, or why it is not usable.
fn ureq_proxy(proxy: &crate::proxy::ProxyUrl) -> std::result::Result<ureq::Proxy, String> {
    ureq::Proxy::new(proxy.as_str()).map_err(|e| format!("the proxy {proxy} is not usable: {e}"))
}

impl Transport {
    /// The crate's own agent: its timeouts, no redirects, the proxy decided
    /// by [`crate::proxy`], the TLS configuration `tls`, and a caching resolver.
    pub(crate) fn new(
        config: &Config,
        tls: std::result::Result<Arc<ClientConfig>, String>,
    ) -> std::result::Result<Transport, String> {
        let mut tls = Arc::unwrap_or_clone(tls?);
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let proxy = config.proxy.as_ref().map(ureq_proxy).transpose()?;
        let agent_config = ureq::Agent::config_builder()
            // Keep the body of 4xx/5xx answers: they become ApiError.
            .http_status_as_error(false)
            // The key must never follow a redirect; a 3xx is an ApiError.
            .max_redirects(0)
            // Clamped: ureq computes `Instant + timeout` (a panic past what
            // the clock holds, `Duration::MAX` included).
            .timeout_connect(Some(clamp(config.timeouts.connect)))
            .timeout_global(Some(clamp(config.timeouts.request)))
            .user_agent(crate::USER_AGENT)
            // Our decision, not ureq's own reading of the environment.
            .proxy(proxy)
            // ureq keeps 3 idle connections per host by default; a client
            // shared by many threads would open new ones for nothing.
            .max_idle_connections_per_host(POOL_IDLE_PER_HOST)
            .max_idle_connections(POOL_IDLE_PER_HOST * 4)
            .build();
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(TlsConnector(Arc::new(tls)));
        let agent = ureq::Agent::with_parts(
            agent_config,
            connector,
            CachingResolver::new(config.resolve.clone()),
        );
        let mut transport = Transport::from_agent(agent, config);
        transport.foreign = false;
        transport.agent_proxy = config.proxy.clone();
        Ok(transport)
    }

    /// The caller's own agent ([`crate::ClientBuilder::ureq_agent`]).
    pub(crate) fn from_agent(agent: ureq::Agent, config: &Config) -> Transport {
        Transport {
            agent,
            limit: BodyLimit {
                bytes: config.max_response_bytes,
            },
            foreign: true,
            routes: config.routes.clone(),
            agent_proxy: None,
            secrets: Arc::new(config.secrets()),
        }
    }
}

impl crate::front::blocking::Transport for Transport {
    type Streaming = Streaming;

    fn send(&self, request: &HttpRequest, timeout: Option<Duration>) -> Result<HttpResponse> {
        let per = PerRequest {
            global: timeout.map(|timeout| Some(clamp(timeout))),
            ..PerRequest::default()
        };
        let response = self
            .exchange(request, per)
            .map_err(|e| self.secrets.scrub_error(e))?;
        let (status, headers) = (response.status(), response.headers());
        let declared = header(headers, "content-length").and_then(|v| v.trim().parse().ok());
        let retry_after = header(headers, "retry-after");
        let reader = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        let body = read_body(reader, status.as_u16(), declared, self.limit);
        let body = body.map_err(|e| self.secrets.scrub_error(e))?;
        Ok(answer(status, retry_after.as_deref(), body))
    }

    /// The connection (within `head`, else the agent's connect timeout) and
    /// the answer's head are waited for here: [`Streaming::head`] has
    /// nothing left to wait for.
    fn start(
        &self,
        request: &HttpRequest,
        head: Option<Duration>,
        idle: Duration,
    ) -> Result<Streaming> {
        let (head, idle) = (head.map(clamp), clamp(idle));
        let per = PerRequest {
            global: Some(None),
            connect: head,
            recv_response: Some(head.unwrap_or(idle)),
            per_read: Some(idle),
        };
        let response = self
            .exchange(request, per)
            .map_err(|e| self.secrets.scrub_error(e))?;
        let (parts, body) = response.into_parts();
        Ok(Streaming {
            status: parts.status,
            headers: parts.headers,
            reader: body.into_reader(),
            buffer: vec![0; STREAM_READ_BYTES],
            limit: self.limit,
            secrets: self.secrets.clone(),
        })
    }

    fn sleep(wait: Duration) {
        std::thread::sleep(clamp(wait))
    }
}

impl Transport {
    /// Sends `request` with the request-level settings `per`.
    fn exchange(
        &self,
        request: &HttpRequest,
        per: PerRequest,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        // The rules of this very URL: plain http refused off loopback, and
        // its own proxy (the events root may be another host than the base).
        let url = request.uri().to_string();
        let decided;
        let route = match self.routes.known(&url) {
            Some(route) => route,
            None => {
                decided = self.routes.route(&url)?;
                &decided
            }
        };
        let proxy = if self.foreign || route.proxy == self.agent_proxy {
            None
        } else {
            Some(
                route
                    .proxy
                    .as_ref()
                    .map(ureq_proxy)
                    .transpose()
                    .map_err(Error::Config)?,
            )
        };
        // ureq 3 takes the `http` request as it is.
        let mut sent = ureq::http::Request::new(());
        *sent.method_mut() = request.method().clone();
        *sent.uri_mut() = request.uri().clone();
        *sent.headers_mut() = request.headers().clone();
        match request.body().as_slice() {
            [] => self.run(sent.map(|()| ureq::SendBody::none()), per, proxy),
            body => self.run(sent.map(|()| body), per, proxy),
        }
        .map_err(transport_error)
    }

    /// Runs `request`, with request-level settings only when `per`, the
    /// route's `proxy` or a foreign agent needs them (they cost a copy of
    /// the agent's configuration, so a plain call goes without).
    fn run<B: ureq::AsSendBody>(
        &self,
        request: ureq::http::Request<B>,
        per: PerRequest,
        proxy: Option<Option<ureq::Proxy>>,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        if !self.foreign && proxy.is_none() && per == PerRequest::default() {
            return self.agent.run(request);
        }
        let mut builder = self.agent.configure_request(request);
        if let Some(timeout) = per.global {
            builder = builder.timeout_global(timeout);
        }
        if let Some(timeout) = per.connect {
            builder = builder.timeout_connect(Some(timeout));
        }
        if let Some(timeout) = per.recv_response {
            builder = builder.timeout_recv_response(Some(timeout));
        }
        if let Some(timeout) = per.per_read {
            builder = builder.timeout_per_read(Some(timeout));
        }
        if self.foreign {
            // Whatever the caller's agent follows: a 3xx is an answer, and
            // the key never goes to the host it points to.
            builder = builder.http_status_as_error(false).max_redirects(0);
        }
        if let Some(proxy) = proxy {
            builder = builder.proxy(proxy);
        }
        self.agent.run(builder.build())
    }
}

/// The request-level timeouts a call may need (each `None`: the agent's).
#[derive(Debug, Default, PartialEq, Eq)]
struct PerRequest {
    global: Option<Option<Duration>>,
    connect: Option<Duration>,
    recv_response: Option<Duration>,
    per_read: Option<Duration>,
}

/// Reads an answer's body within the limits: a 2xx body over the limit is
/// [`Error::BodyTooLarge`]; of any other only the first bytes are kept, the
/// rest left unread.
fn read_body(
    reader: impl Read,
    status: u16,
    declared: Option<u64>,
    limit: BodyLimit,
) -> Result<Vec<u8>> {
    let keep = limit.keep(status);
    let mut body = Vec::with_capacity(limit.start(status, declared)?);
    // One byte past the limit tells a 2xx body over it.
    let past = u64::from(BodyLimit::is_strict(status));
    let read = reader
        .take((keep as u64).saturating_add(past))
        .read_to_end(&mut body);
    if let Err(e) = read {
        return Err(broke_off(
            transport_error(ureq::Error::from(e)),
            status,
            body.len(),
        ));
    }
    if body.len() > keep {
        return Err(limit.exceeded(status));
    }
    Ok(body)
}

/// The text of header `name`, if any.
fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// The most bytes one read of a stream takes.
const STREAM_READ_BYTES: usize = 16 * 1024;

/// An answer whose body is read as it comes (an event stream).
pub(crate) struct Streaming {
    status: http::StatusCode,
    headers: ureq::http::HeaderMap,
    reader: ureq::BodyReader<'static>,
    buffer: Vec<u8>,
    limit: BodyLimit,
    secrets: Arc<crate::redact::Secrets>,
}

impl crate::front::blocking::Stream for Streaming {
    /// The answer's head came with `start`: nothing to wait for.
    fn head(&mut self) -> Result<()> {
        Ok(())
    }

    fn status(&self) -> u16 {
        self.status.as_u16()
    }

    fn header(&self, name: &str) -> Option<String> {
        header(&self.headers, name)
    }

    fn read(&mut self) -> Result<StreamRead> {
        match self.reader.read(&mut self.buffer) {
            Ok(0) => Ok(StreamRead::End),
            Ok(n) => Ok(StreamRead::Bytes(
                self.buffer.get(..n).unwrap_or_default().to_vec(),
            )),
            Err(e) => match ureq::Error::from(e) {
                ureq::Error::Timeout(_) => Ok(StreamRead::Idle),
                other => Err(self.secrets.scrub_error(transport_error(other))),
            },
        }
    }

    fn answer(&mut self) -> Result<HttpResponse> {
        let body = read_body(&mut self.reader, self.status.as_u16(), None, self.limit)
            .map_err(|e| self.secrets.scrub_error(e))?;
        Ok(answer(
            self.status,
            self.header("retry-after").as_deref(),
            body,
        ))
    }
}

/// How long a looked-up address is used before it is looked up again.
const DNS_TTL: Duration = Duration::from_secs(30);
/// How long past its TTL a cached address still serves when a new lookup fails.
const DNS_GRACE: Duration = Duration::from_secs(300);
/// How long an entry serves at all: [`DNS_TTL`], then [`DNS_GRACE`].
const DNS_STALE: Duration = DNS_TTL.saturating_add(DNS_GRACE);
/// The most host:port pairs cached (a client talks to one host, and maybe a proxy).
const DNS_ENTRIES: usize = 16;

/// ureq resolves the host before every request, pooled connection or not,
/// and with a timeout set (we always set one) its default resolver does it
/// on a new thread each time: measured on loopback, that made an update
/// cost about 4x a bare agent's, and a DNS failure failed calls while
/// pooled connections were alive. So: IP literals and the builder's
/// [`crate::ClientBuilder::resolve`] overrides are answered at once, and
/// looked-up addresses are cached for [`DNS_TTL`]; when a lookup fails, an
/// expired entry still serves for [`DNS_GRACE`]. Lookups themselves still go
/// to ureq's resolver (a thread, bounded by the connect timeout).
#[derive(Debug)]
struct CachingResolver {
    lookup: Box<dyn Resolver>,
    overrides: Vec<(String, SocketAddr)>,
    cache: RwLock<HashMap<(String, u16), (ResolvedSocketAddrs, Instant)>>,
}

impl CachingResolver {
    fn new(overrides: Vec<(String, SocketAddr)>) -> CachingResolver {
        CachingResolver::with_lookup(overrides, Box::new(DefaultResolver::default()))
    }

    fn with_lookup(
        overrides: Vec<(String, SocketAddr)>,
        lookup: Box<dyn Resolver>,
    ) -> CachingResolver {
        CachingResolver {
            lookup,
            overrides,
            cache: RwLock::new(HashMap::new()),
        }
    }

    fn cached(&self, host: &str, port: u16) -> Option<(ResolvedSocketAddrs, Instant)> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        // A borrowed key would need a second map type; hosts are short.
        cache.get(&(host.to_string(), port)).cloned()
    }

    fn store(&self, host: &str, port: u16, addrs: &ResolvedSocketAddrs, now: Instant) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= DNS_ENTRIES {
            cache.retain(|_, (_, at)| now.saturating_duration_since(*at) < DNS_STALE);
            if cache.len() >= DNS_ENTRIES {
                cache.clear();
            }
        }
        cache.insert((host.to_string(), port), (addrs.clone(), now));
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        self.resolve_at(uri, config, timeout, Instant::now)
    }
}

impl CachingResolver {
    /// As [`Resolver::resolve`], with the clock `now` (read only for names).
    fn resolve_at(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
        now: impl Fn() -> Instant,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return self.lookup.resolve(uri, config, timeout);
        };
        let host = Url::split(authority.host()).host_str();
        let Some(port) = authority.port_u16().or(match scheme {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        }) else {
            return self.lookup.resolve(uri, config, timeout);
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        // `localhost` and `*.localhost` are loopback without asking DNS
        // (RFC 6761): the client trusts them as loopback (plain http, no
        // proxy), so no resolver may answer another address.
        if crate::config::is_localhost_name(host) {
            let mut addrs = self.empty();
            for addr in crate::config::localhost_addrs(host, port, &self.overrides) {
                addrs.push(addr);
            }
            return Ok(addrs);
        }
        let overridden: Vec<SocketAddr> = self
            .overrides
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(host))
            .map(|(_, addr)| match addr.port() {
                0 => SocketAddr::new(addr.ip(), port),
                _ => *addr,
            })
            .collect();
        if !overridden.is_empty() {
            let mut addrs = self.empty();
            for addr in overridden.into_iter().take(16) {
                addrs.push(addr);
            }
            return Ok(addrs);
        }
        let now = now();
        let cached = self.cached(host, port);
        if let Some((addrs, at)) = &cached {
            if now.saturating_duration_since(*at) < DNS_TTL {
                return Ok(addrs.clone());
            }
        }
        match self.lookup.resolve(uri, config, timeout) {
            Ok(addrs) => {
                self.store(host, port, &addrs, now);
                Ok(addrs)
            }
            Err(e) => match cached {
                Some((addrs, at)) if now.saturating_duration_since(at) < DNS_STALE => Ok(addrs),
                _ => Err(e),
            },
        }
    }
}

/// TLS for ureq with the client's own rustls configuration (the roots
/// [`crate::tls`] decided), where ureq's connector would make its own.
#[derive(Debug)]
struct TlsConnector(Arc<ClientConfig>);

impl<In: UreqTransport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = Url::split(details.uri.host().unwrap_or_default()).host_str();
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::Tls("the host is not a valid TLS server name"))?;
        let mut conn = ClientConnection::new(self.0.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        if let Err(e) = conn.complete_io(&mut sock) {
            // A certificate or handshake failure comes back as an io error
            // wrapping the rustls one: keep it a TLS error (nothing was sent).
            let tls = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .cloned();
            return Err(match tls {
                Some(tls) => ureq::Error::Rustls(tls),
                None => ureq::Error::from(e),
            });
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// A TLS connection made by [`TlsConnector`].
struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl UreqTransport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self.buffers.output().get(..amount).unwrap_or_default();
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A resolver that answers 10.0.0.1 while `fail` is 0, and counts lookups.
    #[derive(Debug, Default)]
    struct Fake {
        lookups: Arc<AtomicUsize>,
        fail: Arc<AtomicUsize>,
    }

    impl Resolver for Fake {
        fn resolve(
            &self,
            uri: &ureq::http::Uri,
            _: &ureq::config::Config,
            _: NextTimeout,
        ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) > 0 {
                return Err(ureq::Error::HostNotFound);
            }
            let mut addrs = self.empty();
            addrs.push(SocketAddr::new(
                [10, 0, 0, 1].into(),
                uri.port_u16().unwrap_or(443),
            ));
            Ok(addrs)
        }
    }

    #[test]
    fn names_are_cached_and_served_through_a_lookup_failure() {
        let fake = Fake::default();
        let (lookups, fail) = (fake.lookups.clone(), fake.fail.clone());
        let resolver = CachingResolver::with_lookup(
            vec![("pinned.example".into(), "127.0.0.2:0".parse().unwrap())],
            Box::new(fake),
        );
        let config = ureq::config::Config::default();
        let start = Instant::now();
        let at = |secs: u64| move || start + Duration::from_secs(secs);
        let uri: ureq::http::Uri = "https://api.example/x".parse().unwrap();
        let resolve = |secs| resolver.resolve_at(&uri, &config, NextTimeout::default(), at(secs));
        let first = resolve(0).unwrap();
        assert_eq!(first[0], "10.0.0.1:443".parse().unwrap());
        resolve(29).unwrap();
        assert_eq!(lookups.load(Ordering::SeqCst), 1, "cached within the TTL");
        resolve(31).unwrap();
        assert_eq!(
            lookups.load(Ordering::SeqCst),
            2,
            "looked up again after it"
        );
        fail.store(1, Ordering::SeqCst);
        assert_eq!(
            resolve(100).unwrap()[0],
            first[0],
            "stale entry through a failure"
        );
        // Stored at 31 s: stale from 61 s, served through failures until 361 s.
        assert!(resolve(360).is_ok());
        assert!(resolve(361).is_err(), "not past the grace period");
        // IP literals and overrides never reach the lookup.
        let before = lookups.load(Ordering::SeqCst);
        for url in [
            "http://127.0.0.1:8/",
            "http://[::1]:8/",
            "https://pinned.example/",
        ] {
            let uri: ureq::http::Uri = url.parse().unwrap();
            resolver
                .resolve_at(&uri, &config, NextTimeout::default(), at(0))
                .unwrap();
        }
        assert_eq!(lookups.load(Ordering::SeqCst), before);
        let uri: ureq::http::Uri = "https://PINNED.example:8443/".parse().unwrap();
        let pinned = resolver
            .resolve_at(&uri, &config, NextTimeout::default(), at(0))
            .unwrap();
        assert_eq!(
            pinned[0],
            "127.0.0.2:8443".parse().unwrap(),
            "port 0: the URL's"
        );
    }
}

fn transport_error(e: ureq::Error) -> Error {
    use TransportErrorKind::*;
    let kind = match &e {
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => ConnectTimeout,
        ureq::Error::Timeout(_) => Timeout,
        ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectProxyFailed(_) => Connect,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => Connect,
        ureq::Error::Io(io) => io_kind(io),
        // A malformed head, or one over ureq's 64 KiB (hyper's limit, in
        // the async face, is about 400 KiB: a head between the two is
        // refused here only; above both, both faces say Protocol).
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => Protocol,
        _ => Other,
    };
    // A refused certificate or a TLS alert: no retry can fix it.
    let tls_refused = matches!(e, ureq::Error::Tls(_) | ureq::Error::Rustls(_));
    let mut error = TransportError::new(kind, e.to_string(), Some(Box::new(e)));
    error.tls_refused = tls_refused;
    Error::Transport(error)
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
    face: "Blocking; the async form has the same name with an `a` in front.",
    prefix: [],
}

face_streams! {
    blocking,
    /// Blocks until the next event arrives (or the stream ends).
    EventStream => next_event: crate::model::TaskEvent;
    /// Blocks while the next page is fetched (once per page).
    TaskPages => next_item: crate::model::TaskListItem;
    /// Blocks until the next event arrives (or the stream ends).
    InvokeStream => next_invoke_event: crate::model::InvokeEvent;
}
