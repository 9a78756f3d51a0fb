//! Configuration: API key, organization, base URL, timeouts, retries, limits.
//!
//! Settings come from an explicit [`ClientBuilder`] and, for what the builder
//! leaves unset, from the environment ([`ClientBuilder::from_env`]):
//!
//! | setting | variable | default |
//! |---|---|---|
//! | API key | `XPANDER_API_KEY` | none: [`ClientBuilder::build`] fails with [`Error::Config`] |
//! | organization id | `XPANDER_ORGANIZATION_ID` | none |
//! | base URL | `XPANDER_BASE_URL` | `https://inbound.xpander.ai`, or `https://inbound.stg.xpander.ai` when `IS_STG=true` |
//! | plain `http` to non-loopback hosts | `XPANDER_ALLOW_INSECURE_HTTP=1` | refused |
//! | public API v1 URL | `XPANDER_PUBLIC_API_URL` | `https://api.xpander.ai` ([`Config::public_api_url`]) |
//!
//! A base URL without a scheme is refused, with the URL it likely meant
//! (`http://` for a loopback host, else `https://`); for an agent controller
//! (a host containing `agent-controller`, port 9016, or a first path segment
//! `agent-controller`) the organization id is appended as one more path
//! segment. The event streams have their own root ([`Config::events_root`]).
//! Every URL the key goes to ([`Config::key_urls`]) passes the same rule,
//! each for its own host ([`Config::route`]): plain `http` is accepted only
//! for loopback hosts (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`)
//! unless [`ClientBuilder::allow_insecure_http`] or
//! `XPANDER_ALLOW_INSECURE_HTTP` says otherwise.
//!
//! The network settings (TLS roots, proxy, HTTP/2, deadline, name
//! overrides) are described in the guide's (`docs/guide.md`) "Network" section and in
//! [`crate::proxy`]; each has a builder method below.
//!
//! Shared by both faces: one [`Config`] per client, read by the sans-IO
//! [`crate::sans_io`] (URLs, headers, retries) and by each face's transport
//! (timeouts, TLS, proxy).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::params::setters;
#[cfg(any(feature = "blocking", feature = "async"))]
pub(crate) use crate::proxy::is_localhost_name;
pub use crate::proxy::Route;
use crate::proxy::{is_loopback, ProxySetting, ProxyUrl};
use crate::redact::Secrets;
use crate::sans_io::segment;
use crate::security::Url;

/// The production base URL.
pub const DEFAULT_BASE_URL: &str = "https://inbound.xpander.ai";
/// The staging base URL, used when `IS_STG=true`.
pub const STAGING_BASE_URL: &str = "https://inbound.stg.xpander.ai";
/// The base URL of the public REST API v1 (`/v1/agents/...`, `/v1/tasks/...`).
pub const DEFAULT_PUBLIC_API_URL: &str = "https://api.xpander.ai";
/// The default limit on a response body: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// An API key. Its `Debug` and `Display` never show the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself, to put in the `x-api-key` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Timeouts of every request. ureq 3 and reqwest have none by default; this
/// crate always sets both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time allowed to open a connection (DNS, TCP and TLS). Default 10 s.
    pub connect: Duration,
    /// Time allowed for one whole attempt, from sending to the last byte of
    /// the answer. Default 60 s.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// When and how a failed attempt is tried again. Plain data. These are the
/// crate's retry rules, the same for both faces (`tests/network.rs` checks
/// that each failure gets the same error kind and decision in each):
///
/// | failure | retried for |
/// |---|---|
/// | connection refused, DNS failure, a failed TLS handshake (not a refusal, below), connect timeout | every operation: nothing was sent |
/// | 429 | every operation: a throttled request was not processed |
/// | 502, 503, 504, a connection that broke off | idempotent operations only: every operation but create, report_external_task, report_metrics, push_events and the public API v1's invokes (plain, async, streamed) |
/// | a refused certificate or other TLS alert ([`TransportError::is_tls_refusal`](crate::TransportError::is_tls_refusal)), the attempt's timeout, a malformed answer, anything else | none |
///
/// Waits follow exponential backoff with full jitter, from
/// [`base_backoff`](RetryPolicy::base_backoff) up to
/// [`max_backoff`](RetryPolicy::max_backoff), or the server's `Retry-After`
/// (seconds or any HTTP date format) up to [`RetryPolicy::max_retry_after`].
/// A call's deadline ([`ClientBuilder::deadline`], or per call
/// [`CallOptions::deadline`](crate::CallOptions::deadline)) bounds the whole:
/// no retry is started whose wait would pass it, and each attempt's timeout is
/// cut to the time left. A 409 is not retried here:
/// [`Tasks::retry_on_conflict`](crate::Tasks::retry_on_conflict) reloads and
/// re-applies a change. [`Error::attempts`](crate::Error::attempts) tells how
/// many attempts a call made.
///
/// ```
/// use std::time::Duration;
/// use xpander_sdk::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(5)
///     .backoff(Duration::from_millis(50), Duration::from_secs(2));
/// assert_eq!(policy.max_attempts, 5);
/// assert_eq!(RetryPolicy::disabled().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. 1 disables retries. Default 3.
    pub max_attempts: u32,
    /// The first backoff ceiling. Default 100 ms.
    pub base_backoff: Duration,
    /// The largest backoff ceiling. Default 5 s.
    pub max_backoff: Duration,
    /// Full jitter: wait a random time between zero and the ceiling. Default on.
    pub jitter: bool,
    /// The longest `Retry-After` honoured; a longer one ends the retries. Default 30 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            jitter: true,
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: every call makes exactly one attempt.
    pub fn disabled() -> RetryPolicy {
        RetryPolicy::default().max_attempts(1)
    }

    /// Sets the number of attempts (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> RetryPolicy {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first and the largest backoff ceiling.
    pub fn backoff(mut self, base: Duration, max: Duration) -> RetryPolicy {
        self.base_backoff = base;
        self.max_backoff = max.max(base);
        self
    }

    setters! {
        /// Turns full jitter on or off.
        jitter(bool),
        /// Sets the longest `Retry-After` honoured.
        max_retry_after(Duration),
    }
}

/// A root certificate (DER) trusted in addition to the platform's or the
/// bundled ones. Its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct RootCertificate(Arc<[u8]>);

impl RootCertificate {
    /// The certificate's DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RootCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootCertificate(<{} bytes DER>)", self.0.len())
    }
}

/// The resolved configuration of a client. Made by [`ClientBuilder::build`];
/// read it back with [`crate::Tasks::config`]. Its `Debug` hides the API key
/// and a proxy's credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The API key sent as `x-api-key`.
    pub api_key: ApiKey,
    /// The organization id, if configured.
    pub organization_id: Option<String>,
    /// The base URL every path is joined to, without a trailing `/`.
    pub base_url: String,
    /// The host of the base URL. The key goes to it and to the host of
    /// [`Config::events_root`], and to no other ([`Config::key_urls`]).
    pub host: String,
    /// The root of the event streams (`{root}/agent-execution/{id}/events`,
    /// `{root}/events/{agent_id}/`), which always carries the organization
    /// id: `https://agent-controller.xpander.ai/{org}` for the production
    /// base URL (`.stg.` for staging), `http://localhost:9016/{org}` for a
    /// loopback base on port 8085, `{base_url}/{org}` otherwise, or what
    /// [`ClientBuilder::events_base_url`] set. `None` when no organization
    /// id is configured (the streams then fail with a clear
    /// [`Error::Config`]).
    pub events_root: Option<String>,
    /// The base URL of the public REST API v1 ([`crate::public`]), without a
    /// trailing `/`: [`DEFAULT_PUBLIC_API_URL`], `XPANDER_PUBLIC_API_URL`, or
    /// [`ClientBuilder::public_api_url`]. The key goes there too, so the
    /// same rules as for every other host apply (https off loopback unless
    /// allowed, no credentials in the URL).
    pub public_api_url: String,
    /// Whether the public API's URL is one the key goes to: given (builder
    /// or environment), or the default while another key URL is https.
    /// The default is not reached from a client whose every other URL is
    /// plain http on loopback (an emulator, a local controller): such a
    /// client sets up no TLS, so it must name the public URL to use it.
    pub(crate) public_api_in_use: bool,
    /// Timeouts of each attempt.
    pub timeouts: Timeouts,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// The largest response body read, in bytes.
    pub max_response_bytes: usize,
    /// The longest a whole call may take, retries and waits included
    /// (`None`: bounded only by the attempts and their timeouts). Default none.
    pub deadline: Option<Duration>,
    /// Root certificates trusted besides the platform's (or the bundled) ones.
    pub root_certificates: Vec<RootCertificate>,
    /// The proxy requests to the base URL go through (`None`: straight to
    /// the host), as decided by the rules of [`crate::proxy`] when the
    /// client was built. Each other URL has its own ([`Config::route`]).
    pub proxy: Option<ProxyUrl>,
    /// Whether the async face offers HTTP/2 (by ALPN, over TLS only; needs
    /// the `http2` feature). Default true.
    pub http2: bool,
    /// Host names answered with these addresses instead of a DNS lookup.
    pub resolve: Vec<(String, SocketAddr)>,
    /// The per-URL rules ([`Config::route`]) and the routes of the base URL
    /// and the events root, decided when the client was built.
    pub(crate) routes: Arc<Routes>,
    /// False only in tests: the platform's roots are taken as absent.
    pub(crate) platform_roots: bool,
}

/// The per-URL rules of one client: its proxy setting (and the proxy
/// variables as they were when it was built), the plain-http opt-ins, and
/// the routes already decided. Its `Debug` shows no proxy credentials.
pub(crate) struct Routes {
    setting: ProxySetting,
    allow_insecure_http: bool,
    allow_cleartext_proxy: bool,
    /// The proxy variables (`https_proxy`, `NO_PROXY`, ...) when built.
    vars: HashMap<String, String>,
    /// Routes decided, by origin (`scheme://authority`).
    known: Vec<(String, Route)>,
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routes")
            .field("setting", &self.setting)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("allow_cleartext_proxy", &self.allow_cleartext_proxy)
            .field("known", &self.known)
            .finish_non_exhaustive()
    }
}

/// The variable `name` of `vars`, the proxy variables read at build. With
/// `any_case` (Windows, whose variables are case-insensitive, as
/// `std::env::var` reads them there) another spelling is found too, the
/// same one every time (the first in byte order), except `http_proxy` under
/// CGI: there any spelling of it may be the request's `Proxy:` header
/// (httpoxy), so it is not read at all.
fn env_var(vars: &HashMap<String, String>, name: &str, any_case: bool) -> Option<String> {
    if !any_case {
        return vars.get(name).cloned();
    }
    let cgi = vars
        .keys()
        .any(|k| k.eq_ignore_ascii_case("REQUEST_METHOD"));
    if cgi && name.eq_ignore_ascii_case("http_proxy") {
        return None;
    }
    vars.get(name)
        .or_else(|| {
            let mut spellings: Vec<_> = vars
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .collect();
            spellings.sort();
            spellings.first().map(|(_, v)| *v)
        })
        .cloned()
}

impl Routes {
    /// The rules of a client built now: the proxy variables (`https_proxy`,
    /// `NO_PROXY`, ..., `REQUEST_METHOD`) are read once, here.
    fn new(
        setting: ProxySetting,
        allow_insecure_http: bool,
        allow_cleartext_proxy: bool,
    ) -> Routes {
        let vars = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| {
                name.to_ascii_lowercase().ends_with("_proxy")
                    || name.eq_ignore_ascii_case("REQUEST_METHOD")
            });
        Routes {
            setting,
            allow_insecure_http,
            allow_cleartext_proxy,
            vars: vars.collect(),
            known: Vec::new(),
        }
    }

    /// Decides the route of `url` and remembers it.
    fn learn(&mut self, url: &str) -> Result<Route> {
        let route = self.route(url)?;
        let origin = Url::split(url).origin.to_ascii_lowercase();
        if !self.known.iter().any(|(o, _)| *o == origin) {
            self.known.push((origin, route.clone()));
        }
        Ok(route)
    }

    /// The route already decided for `url`'s origin (no allocation: the
    /// transports' path for every request to the base URL and events root).
    pub(crate) fn known(&self, url: &str) -> Option<&Route> {
        let origin = Url::split(url).origin;
        self.known
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(origin))
            .map(|(_, route)| route)
    }

    /// True when a URL the key goes to is https (TLS roots are then needed).
    pub(crate) fn needs_tls(&self) -> bool {
        self.known.iter().any(|(_, route)| route.is_tls())
    }

    /// Every proxy URL these rules may choose: the one set, and the values
    /// of the proxy variables that are set.
    fn proxy_urls(&self) -> impl Iterator<Item = &str> {
        let set = match &self.setting {
            ProxySetting::Url(url) => Some(url.as_str()),
            _ => None,
        };
        let vars = self.vars.iter().filter(|(name, value)| {
            name.to_ascii_lowercase().ends_with("_proxy")
                && !name.eq_ignore_ascii_case("no_proxy")
                && !value.trim().is_empty()
        });
        set.into_iter().chain(vars.map(|(_, value)| value.as_str()))
    }

    /// The route of `url`: one already decided for its origin, or the one
    /// rule every URL the key goes to passes, whatever its role (API base,
    /// events root, a public API base): its scheme is `https`, or `http` to
    /// a loopback host (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`), or
    /// `http` with the plain-http opt-in ([`ClientBuilder::allow_insecure_http`],
    /// `XPANDER_ALLOW_INSECURE_HTTP`); and its proxy is the one [`crate::proxy`]
    /// decides for its own scheme, host and port (`NO_PROXY` included), refused
    /// for a plain-http host without [`ClientBuilder::allow_cleartext_proxy`].
    /// TLS is used, with the client's roots, exactly when the scheme is `https`.
    pub(crate) fn route(&self, url: &str) -> Result<Route> {
        if let Some(route) = self.known(url) {
            return Ok(route.clone());
        }
        let mut route = key_url(url, self.allow_insecure_http).map_err(|why| {
            // Redacted whole, then cut: a password with an unencoded `/`, `?`
            // or `#` ends the origin early, where no `@` is left to find.
            let redacted = crate::redact::redact_userinfo(url);
            let shown = Url::split(&redacted).origin;
            Error::Config(format!("the URL {shown:?} cannot carry the API key: {why}"))
        })?;
        let var = |name: &str| env_var(&self.vars, name, cfg!(windows));
        route.proxy = crate::proxy::choose(&self.setting, &route, self.allow_cleartext_proxy, var)?;
        Ok(route)
    }

    /// True when some URL may go through a proxy (one is set, or a proxy
    /// variable is).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn may_proxy(&self) -> bool {
        !matches!(self.setting, ProxySetting::Disabled) && self.proxy_urls().next().is_some()
    }
}

impl Config {
    /// Every URL root the API key is ever sent to: the base URL, the
    /// events root when there is one, and the public API v1's base URL. No
    /// request of this client goes to another host (redirects are never
    /// followed).
    pub fn key_urls(&self) -> Vec<&str> {
        std::iter::once(self.base_url.as_str())
            .chain(self.events_root.as_deref())
            .chain(
                self.public_api_in_use
                    .then_some(self.public_api_url.as_str()),
            )
            .collect()
    }

    /// How a request to `url` goes, decided for that URL alone, as curl
    /// and reqwest do: `https`, or `http` only to a loopback host or with
    /// the plain-http opt-in; the proxy that the setting (or the proxy
    /// variables as they were when the client was built, `NO_PROXY`
    /// included) gives for its own scheme, host and port. Both faces apply
    /// it to every request they send; an [`Error::Config`] says why a URL
    /// is refused.
    ///
    /// ```
    /// let config = xpander_sdk::Tasks::builder()
    ///     .api_key("k")
    ///     .base_url("http://127.0.0.1:8016")
    ///     .no_proxy()
    ///     .build_config()?;
    /// assert!(config.route("https://events.example.com/org/x").unwrap().is_tls());
    /// assert!(config.route("http://events.example.com/org/x").is_err());
    /// # Ok::<(), xpander_sdk::Error>(())
    /// ```
    pub fn route(&self, url: &str) -> Result<Route> {
        self.routes.route(url)
    }

    /// The secrets of this client: its API key and the credentials of the
    /// proxies its requests may go through.
    pub(crate) fn secrets(&self) -> Secrets {
        let mut secrets = Secrets::new();
        secrets.add(self.api_key.expose());
        // The credentials of every proxy the rules may choose, up to the last
        // `@` of the whole URL (a password may hold an unencoded `/`).
        // And up to the first `@` (a path may hold one): what is sent.
        for url in self.routes.proxy_urls() {
            let url = Url::split(url.trim());
            for userinfo in [url.loose_userinfo(), url.userinfo].into_iter().flatten() {
                secrets.add_userinfo(userinfo);
            }
        }
        secrets
    }
}

/// The variable that opts in to plain `http` to hosts that are not
/// loopback (`1`, `true` or `yes`), read by [`ClientBuilder::from_env`]
/// (so by [`crate::Tasks::from_env`], the `xpander-tasks` tool and the
/// agent worker): the API key then crosses the network in clear text.
pub const INSECURE_HTTP_VAR: &str = "XPANDER_ALLOW_INSECURE_HTTP";

/// Builds a [`crate::Tasks`] client.
///
/// ```
/// use std::time::Duration;
/// use xpander_sdk::{RetryPolicy, Tasks};
///
/// let tasks = Tasks::builder()
///     .api_key("my-key")
///     .base_url("https://inbound.xpander.ai")
///     .request_timeout(Duration::from_secs(30))
///     .retry(RetryPolicy::default().max_attempts(4))
///     .build()?;
/// assert_eq!(tasks.config().base_url, "https://inbound.xpander.ai");
/// # Ok::<(), xpander_sdk::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    organization_id: Option<String>,
    base_url: Option<String>,
    staging: bool,
    timeouts: Timeouts,
    retry: RetryPolicy,
    max_response_bytes: Option<usize>,
    allow_insecure_http: bool,
    deadline: Option<Duration>,
    /// The extra roots in the order given; a PEM without a certificate is
    /// an error reported by the build.
    roots: Vec<std::result::Result<Vec<RootCertificate>, String>>,
    proxy: ProxySetting,
    allow_cleartext_proxy: bool,
    http1_only: bool,
    resolve: Vec<(String, SocketAddr)>,
    events_base_url: Option<String>,
    no_platform_roots: bool,
    public_api_url: Option<String>,
    #[cfg(feature = "blocking")]
    pub(crate) ureq_agent: Option<ureq::Agent>,
    #[cfg(feature = "async")]
    pub(crate) reqwest_client: Option<reqwest::Client>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = |url: &Option<String>| url.as_deref().map(crate::redact::redact_userinfo);
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("organization_id", &self.organization_id)
            .field("base_url", &url(&self.base_url))
            .field("staging", &self.staging)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("deadline", &self.deadline)
            .field("root_certificates", &self.roots.len())
            .field("proxy", &self.proxy)
            .field("allow_cleartext_proxy", &self.allow_cleartext_proxy)
            .field("http2", &!self.http1_only)
            .field("resolve", &self.resolve)
            .field("events_base_url", &url(&self.events_base_url))
            .field("public_api_url", &url(&self.public_api_url))
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder with nothing set.
    pub fn new() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Fills what is not set yet from `XPANDER_API_KEY`,
    /// `XPANDER_ORGANIZATION_ID`, `XPANDER_BASE_URL` and `IS_STG`.
    /// Values set on the builder win over the environment.
    /// `XPANDER_ALLOW_INSECURE_HTTP=1` (or `true`, `yes`) opts in to plain
    /// `http` to hosts that are not loopback, as
    /// [`ClientBuilder::allow_insecure_http`] does (a warning is traced for
    /// each such host when the client is built); anything else leaves it off.
    pub fn from_env(self) -> ClientBuilder {
        self.with_vars(|name| std::env::var(name).ok())
    }

    /// As [`ClientBuilder::from_env`], reading variables from `lookup`.
    pub(crate) fn with_vars(mut self, lookup: impl Fn(&str) -> Option<String>) -> ClientBuilder {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        self.api_key = self.api_key.or_else(|| var("XPANDER_API_KEY").map(ApiKey));
        for (slot, name) in [
            (&mut self.organization_id, "XPANDER_ORGANIZATION_ID"),
            (&mut self.base_url, "XPANDER_BASE_URL"),
            (&mut self.public_api_url, "XPANDER_PUBLIC_API_URL"),
        ] {
            *slot = slot.take().or_else(|| var(name));
        }
        if let Some(stg) = var("IS_STG") {
            self.staging = stg.trim().eq_ignore_ascii_case("true");
        }
        // `1`, `true` or `yes` (any case, spaces around) opts in; anything else leaves it.
        let yes =
            |v: String| ["1", "true", "yes"].contains(&v.trim().to_ascii_lowercase().as_str());
        self.allow_insecure_http |= var(INSECURE_HTTP_VAR).is_some_and(yes);
        self
    }

    /// Sets the API key.
    pub fn api_key(mut self, key: impl Into<String>) -> ClientBuilder {
        self.api_key = Some(ApiKey(key.into()));
        self
    }

    setters! {
        /// Sets the organization id.
        organization_id(impl Into<String>) => Some,
        /// Sets the base URL (see the [module documentation](self) for its rules).
        base_url(impl Into<String>) => Some,
        /// Uses the staging service when no base URL is set (as `IS_STG=true`).
        staging(bool),
        /// Sets both timeouts.
        timeouts(Timeouts),
        /// Sets the connect timeout (default 10 s).
        connect_timeout(Duration) in timeouts.connect,
        /// Sets the whole-request timeout of one attempt (default 60 s).
        request_timeout(Duration) in timeouts.request,
        /// Sets the retry policy (default: 3 attempts; [`RetryPolicy::disabled`] for none).
        retry(RetryPolicy),
        /// Sets the largest response body read (default 16 MiB). A larger
        /// answer is [`Error::BodyTooLarge`], and is not read into memory.
        max_response_bytes(usize) => Some,
        /// Sets the root of the event streams, overriding the contract's rules
        /// (see [`Config::events_root`]): the whole root, organization segment
        /// included, e.g. `https://events.example.com/my-org`. The same https
        /// rule as for the base URL applies.
        events_base_url(impl Into<String>) => Some,
        /// Sets the base URL of the public REST API v1 (default
        /// `https://api.xpander.ai`, or `XPANDER_PUBLIC_API_URL`). The same rules
        /// as for the base URL apply (https off loopback, no credentials).
        public_api_url(impl Into<String>) => Some,
        /// Allows a plain `http` base URL to a host that is not loopback. The API
        /// key then crosses the network in clear text: use only on a network you trust.
        allow_insecure_http(bool),
        /// Sets the longest a whole call may take, retries and their waits
        /// included (default: none). No retry is started whose wait would pass
        /// it, and each attempt's timeout is cut to the time left. Per call:
        /// [`crate::CallOptions::deadline`].
        deadline(Duration) => Some,
        /// Sends requests through this proxy (`http://[user:password@]host[:port]`),
        /// whatever the environment says (loopback hosts still go direct).
        /// Default: the environment's `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY`
        /// / `NO_PROXY`, as [`crate::proxy`] describes.
        proxy(impl Into<String>) => ProxySetting::Url,
        /// Allows a plain-`http` base URL to a non-loopback host to go through
        /// a proxy, which then reads the API key. Default false: such a
        /// configuration fails to build.
        allow_cleartext_proxy(bool),
    }

    /// Trusts the root certificates in `pem` (one or more `BEGIN
    /// CERTIFICATE` blocks) besides the platform's (or the bundled) ones:
    /// for a private CA, or a TLS-inspecting proxy. [`ClientBuilder::build`]
    /// fails with [`Error::Config`] when `pem` holds no certificate.
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> ClientBuilder {
        self.roots.push(parse_pem(pem.as_ref()));
        self
    }

    /// Trusts a root certificate given as DER bytes (see
    /// [`ClientBuilder::add_root_certificate_pem`]).
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> ClientBuilder {
        self.roots
            .push(Ok(vec![RootCertificate(der.into().into())]));
        self
    }

    /// Sends requests straight to the host, whatever the environment says.
    pub fn no_proxy(mut self) -> ClientBuilder {
        self.proxy = ProxySetting::Disabled;
        self
    }

    /// Offers HTTP/2 in the async face (default true; needs the `http2`
    /// feature, on by default). It is negotiated by ALPN over TLS: many
    /// calls in flight then share one connection. Plain `http` always
    /// speaks HTTP/1.1. The blocking face speaks HTTP/1.1.
    pub fn http2(mut self, enabled: bool) -> ClientBuilder {
        self.http1_only = !enabled;
        self
    }

    /// Answers `host` with `addr` instead of a DNS lookup, in both faces
    /// (as curl's `--resolve`): TLS still checks the certificate against
    /// `host`. The port of `addr` is used as given.
    pub fn resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> ClientBuilder {
        self.resolve.push((host.into().to_ascii_lowercase(), addr));
        self
    }

    /// Takes the platform's root certificates as absent, as in a scratch
    /// image (for tests of the bundled roots: an empty `SSL_CERT_FILE` is
    /// a configuration error).
    #[doc(hidden)]
    pub fn without_platform_roots_for_tests(mut self) -> ClientBuilder {
        self.no_platform_roots = true;
        self
    }

    /// Checks and resolves the configuration without building a client (for
    /// [`crate::sans_io::RequestBuilder`], the sans-IO core). Fails as
    /// [`ClientBuilder::build`] does; no request is made.
    pub fn build_config(self) -> Result<Config> {
        self.into_config()
    }

    /// Resolves and checks the configuration.
    pub(crate) fn into_config(self) -> Result<Config> {
        let api_key = self.api_key.filter(|k| !k.0.is_empty()).ok_or_else(|| {
            Error::Config("no API key: set XPANDER_API_KEY or call ClientBuilder::api_key".into())
        })?;
        if crate::headers::value("x-api-key", &api_key.0).is_err() {
            return Err(Error::Config(
                "the API key contains control characters".into(),
            ));
        }
        let allow = self.allow_insecure_http;
        let raw = match self.base_url {
            Some(url) => url.trim().to_string(),
            None if self.staging => STAGING_BASE_URL.to_string(),
            None => DEFAULT_BASE_URL.to_string(),
        };
        let org = self.organization_id.as_deref();
        let events = self.events_base_url.as_deref().map(str::trim);
        let (base_url, host, events_root) = resolve_base_url(&raw, org, events, allow)?;
        let public_api = self.public_api_url.as_deref();
        let public_api_url = public_api.map_or(DEFAULT_PUBLIC_API_URL, str::trim);
        let public_api_url = check_base_url("public API URL", public_api_url, allow)?.0;
        let root_certificates = (self
            .roots
            .into_iter()
            .collect::<std::result::Result<Vec<_>, _>>())
        .map_err(Error::Config)?
        .concat();
        // The same rules for every URL the key goes to, decided now, each
        // for its own host (a refusal fails the build).
        let mut routes = Routes::new(self.proxy, allow, self.allow_cleartext_proxy);
        let proxy = routes.learn(&base_url)?.proxy;
        if let Some(root) = &events_root {
            routes.learn(root)?;
        }
        // The public API's default joins the hosts the key goes to only
        // when TLS is set up anyway (see `Config::public_api_in_use`).
        let public_api_in_use = public_api.is_some() || routes.needs_tls();
        if public_api_in_use {
            routes.learn(&public_api_url)?;
        }
        // One warning per host the key would cross the network to in clear text.
        #[cfg(feature = "tracing")]
        for (origin, _) in routes.known.iter().filter(|(_, r)| r.is_cleartext_remote()) {
            tracing::warn!(
                origin = origin.as_str(),
                "plain http to a host that is not loopback: the API key crosses the network in clear text"
            );
        }
        if routes.needs_tls() {
            check_ca_files()?;
        }
        Ok(Config {
            api_key,
            organization_id: self.organization_id,
            base_url,
            host,
            events_root,
            public_api_url,
            public_api_in_use,
            timeouts: self.timeouts,
            retry: self.retry,
            max_response_bytes: self
                .max_response_bytes
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            deadline: self.deadline,
            root_certificates,
            proxy,
            http2: !self.http1_only,
            resolve: self.resolve,
            routes: Arc::new(routes),
            platform_roots: !self.no_platform_roots,
        })
    }
}

/// The CA files the user names (`SSL_CERT_FILE`, `SSL_CERT_DIR`, which
/// the platform verifier reads on Linux): one that cannot be read, or holds
/// no certificate, is a configuration error naming it and saying why, as
/// curl does, rather than a verifier that silently trusts other roots.
/// `SSL_CERT_DIR` may list several directories (`:`-separated); each must
/// be readable, and one of them hold a certificate. Empty values are unset.
fn check_ca_files() -> Result<()> {
    let named = ca_file_vars();
    if named == (None, None) {
        return Ok(());
    }
    // The last values found good: a process builds many clients with the
    // same variables, and a CA directory holds hundreds of files. Only a
    // good verdict is kept: a file created or fixed after a failed build is
    // read again at the next one.
    type Named = (Option<OsString>, Option<OsString>);
    static LAST_GOOD: std::sync::Mutex<Option<Named>> = std::sync::Mutex::new(None);
    let mut last = LAST_GOOD.lock().unwrap_or_else(|e| e.into_inner());
    if last.as_ref() == Some(&named) {
        return Ok(());
    }
    ca_files_problem(named.0.as_deref(), named.1.as_deref()).map_err(Error::Config)?;
    *last = Some(named);
    Ok(())
}

/// `SSL_CERT_FILE` and `SSL_CERT_DIR` (empty values are unset).
pub(crate) fn ca_file_vars() -> (Option<OsString>, Option<OsString>) {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    (var("SSL_CERT_FILE"), var("SSL_CERT_DIR"))
}

/// What is wrong with the named CA file and directories, if anything.
fn ca_files_problem(file: Option<&OsStr>, dirs: Option<&OsStr>) -> std::result::Result<(), String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    use std::path::Path;
    // A PEM block that decodes to a certificate the verifier can use as a
    // root (a block of garbage base64 is no certificate).
    let usable = |cert: &CertificateDer<'_>| {
        #[cfg(feature = "_tls")]
        return webpki::anchor_from_trusted_cert(cert).is_ok();
        #[cfg(not(feature = "_tls"))]
        return !cert.is_empty();
    };
    let has_certificate = |bytes: &[u8]| {
        CertificateDer::pem_slice_iter(bytes).any(|cert| cert.is_ok_and(|c| usable(&c)))
    };
    let unreadable = |var: &str, path: &Path, e: std::io::Error| {
        format!("{var} names {}, which cannot be read: {e}", path.display())
    };
    if let Some(path) = file.map(Path::new) {
        let bytes = std::fs::read(path).map_err(|e| unreadable("SSL_CERT_FILE", path, e))?;
        if !has_certificate(&bytes) {
            return Err(format!(
                "SSL_CERT_FILE names {}, which holds no certificate (no PEM \
                 `BEGIN CERTIFICATE` block that parses as one)",
                path.display()
            ));
        }
    }
    let Some(dirs) = dirs else { return Ok(()) };
    let (mut found, mut named) = (false, Vec::new());
    for dir in std::env::split_paths(dirs).filter(|d| !d.as_os_str().is_empty()) {
        let entries = std::fs::read_dir(&dir).map_err(|e| unreadable("SSL_CERT_DIR", &dir, e))?;
        // Files, or links to them (the hashed names of c_rehash).
        found = found
            || entries
                .flatten()
                .any(|entry| std::fs::read(entry.path()).is_ok_and(|b| has_certificate(&b)));
        named.push(dir.display().to_string());
    }
    match found {
        true => Ok(()),
        false => Err(format!(
            "SSL_CERT_DIR names {}, which holds no certificate (no file with a PEM \
             `BEGIN CERTIFICATE` block that parses as one)",
            named.join(", ")
        )),
    }
}

/// The certificates of a PEM bundle; an error when there are none or one
/// does not parse.
fn parse_pem(pem: &[u8]) -> std::result::Result<Vec<RootCertificate>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let certs = CertificateDer::pem_slice_iter(pem)
        .map(|cert| cert.map(|der| RootCertificate(der.as_ref().into())))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("a root certificate's PEM does not parse: {e}"))?;
    if certs.is_empty() {
        return Err("add_root_certificate_pem was given no BEGIN CERTIFICATE block".into());
    }
    Ok(certs)
}

/// The checks of every URL the key goes to: an `https` or `http` scheme,
/// no credentials, a host part every URL parser reads the same way, a
/// port from 0 to 65535, and `http` only to a loopback host or with the
/// opt-in. Answers its route without a proxy, or says why not.
fn key_url(raw: &str, allow_insecure_http: bool) -> std::result::Result<Route, String> {
    let url = Url::split(raw);
    let scheme = match url.scheme.map(str::to_ascii_lowercase).as_deref() {
        Some("https") => "https",
        Some("http") => "http",
        Some(_) => return Err("the scheme must be https or http".into()),
        None => return Err("it has no scheme".into()),
    };
    if url.userinfo.is_some() {
        return Err("credentials in the URL are not supported; use the API key".into());
    }
    // A host part every URL parser reads the same way: a backslash is a `/`
    // to WHATWG parsers (reqwest's), so `http://evil.example\.localhost`
    // would go to `evil.example` while these rules read a `*.localhost`
    // host; white space and controls are dropped by them.
    if url.hostport.contains('\\') {
        return Err("a backslash in its host part (some URL parsers read it as `/`)".into());
    }
    if url
        .hostport
        .contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return Err("white space or a control character in its host part".into());
    }
    let host = url.host().ok_or("it has no host")?;
    let port = url
        .port()
        .map_err(|_| "the port is not plain digits making a number from 0 to 65535")?
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    if scheme == "http" && !is_loopback(&host) && !allow_insecure_http {
        return Err(format!(
            "plain http is allowed only to loopback hosts; use https, or opt in to send \
             the key in clear text ({INSECURE_HTTP_VAR}=1, or \
             ClientBuilder::allow_insecure_http(true))"
        ));
    }
    Ok(Route {
        scheme,
        host,
        port,
        proxy: None,
    })
}

/// Applies the base-URL rules; answers the URL (no trailing `/`), its
/// host, and the root of the event streams: the one given, checked as a
/// base URL, or the contract's (SPEC-events §2): exact production and
/// staging hosts go to their agent controllers, a loopback host on port
/// 8085 (the local API) to `http://localhost:9016`, anything else stays;
/// then `/{org}`. No root without an organization id.
pub(crate) fn resolve_base_url(
    raw: &str,
    organization_id: Option<&str>,
    events_base_url: Option<&str>,
    allow_insecure_http: bool,
) -> Result<(String, String, Option<String>)> {
    let (url, host, port, path) = check_base_url("base URL", raw, allow_insecure_http)?;
    let org = organization_id.filter(|o| !o.is_empty());
    let base_url = match org {
        _ if !is_agent_controller(&host, port, &path) => url.clone(),
        Some(org) => format!("{url}/{}", segment::encode("organization_id", org)?),
        None => {
            return Err(Error::Config(format!(
                "the base URL {:?} is an agent-controller URL, which needs an organization id \
                 (XPANDER_ORGANIZATION_ID or ClientBuilder::organization_id)",
                crate::redact::redact_userinfo(raw)
            )))
        }
    };
    let events_root = match (events_base_url, org) {
        (Some(root), _) => Some(check_base_url("events base URL", root, allow_insecure_http)?.0),
        (None, None) => None,
        (None, Some(org)) => {
            let root = match (host.as_str(), port) {
                ("inbound.xpander.ai", _) => "https://agent-controller.xpander.ai",
                ("inbound.stg.xpander.ai", _) => "https://agent-controller.stg.xpander.ai",
                (host, 8085) if is_loopback(host) => "http://localhost:9016",
                _ => &url,
            };
            Some(format!(
                "{root}/{}",
                segment::encode("organization_id", org)?
            ))
        }
    };
    Ok((base_url, host, events_root))
}

/// Checks a base URL ([`key_url`], and no query); answers it with its
/// scheme and without a trailing `/`, its host, its port (or the scheme's),
/// and its path.
fn check_base_url(
    what: &str,
    raw: &str,
    allow_insecure_http: bool,
) -> Result<(String, String, u16, String)> {
    let bad = |why: &str| {
        let shown = crate::redact::redact_userinfo(raw);
        Error::Config(format!("invalid {what} {shown:?}: {why}"))
    };
    if raw.is_empty() {
        return Err(bad("it is empty"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains white space or control characters"));
    }
    let Some((_, rest)) = raw.split_once("://") else {
        // Refused rather than guessed: an https guess pointed at a local
        // plain-http server fails later as a TLS error that names nothing.
        // A mistyped separator (`http:/host`, `https:host`) keeps its scheme.
        let lower = raw.to_ascii_lowercase();
        let (given, rest) = match ["https:", "http:"].iter().find(|s| lower.starts_with(**s)) {
            Some(scheme) => (
                Some(scheme.trim_end_matches(':')),
                raw.get(scheme.len()..)
                    .unwrap_or_default()
                    .trim_start_matches(['/', '\\']),
            ),
            None => (None, raw),
        };
        let shown = crate::redact::redact_userinfo(raw);
        let meant_rest = crate::redact::redact_userinfo(rest);
        let host = Url::split(rest).host().unwrap_or_default();
        let meant = given.unwrap_or(if is_loopback(&host) { "http" } else { "https" });
        return Err(Error::Config(format!(
            "invalid {what} {shown:?}: it has no scheme; did you mean \"{meant}://{meant_rest}\"?"
        )));
    };
    if rest.contains(['?', '#']) {
        return Err(bad("a base URL takes no query or fragment"));
    }
    let Route {
        scheme, host, port, ..
    } = key_url(raw, allow_insecure_http).map_err(|why| bad(&why))?;
    let url = Url::split(raw);
    let path = url.tail.trim_end_matches('/');
    let checked = format!("{scheme}://{}{path}", url.hostport);
    // What every request's URL is built on: refused now, saying why,
    // rather than every call failing with "cannot build the request".
    if !host.is_ascii() {
        return Err(bad(
            "its host is not ASCII; write an internationalized name in its punycode \
             form (`xn--…`, e.g. `bücher.example` is `xn--bcher-kva.example`)",
        ));
    }
    if !path.is_ascii() {
        return Err(bad("its path is not ASCII; percent-encode it (UTF-8)"));
    }
    if checked.parse::<http::Uri>().is_err() {
        return Err(bad(
            "it cannot be a request's URL (a character that must be percent-encoded?)",
        ));
    }
    Ok((checked, host, port, path.to_string()))
}

/// The published client's rule (2.0.537): the API of an agent controller
/// takes the organization as its first path segment. An agent controller is
/// a host containing `agent-controller`, port 9016, or a first path segment
/// `agent-controller`.
fn is_agent_controller(host: &str, port: u16, path: &str) -> bool {
    host.contains("agent-controller")
        || port == 9016
        || path.trim_start_matches('/').split('/').next() == Some("agent-controller")
}

/// The addresses of a localhost name on `port`: the builder's overrides
/// for it that are loopback addresses, else `127.0.0.1` then `::1`.
#[cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]
pub(crate) fn localhost_addrs(
    host: &str,
    port: u16,
    overrides: &[(String, SocketAddr)],
) -> Vec<SocketAddr> {
    let pinned: Vec<SocketAddr> = overrides
        .iter()
        .filter(|(name, addr)| name.eq_ignore_ascii_case(host) && addr.ip().is_loopback())
        .map(|(_, addr)| match addr.port() {
            0 => SocketAddr::new(addr.ip(), port),
            _ => *addr,
        })
        .collect();
    if !pinned.is_empty() {
        return pinned;
    }
    vec![
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
        SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn proxy_variables_in_any_case_on_windows_but_never_httpoxy() {
        let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let some = |v: &str| Some(v.to_string());
        // Windows: another spelling is found, always the same one.
        let two = map(&[("Https_Proxy", "a"), ("HTTPS_PROXY", "b")]);
        assert_eq!(env_var(&two, "https_proxy", true), some("b"));
        assert_eq!(env_var(&two, "https_proxy", false), None);
        assert_eq!(env_var(&two, "Https_Proxy", false), some("a"));
        // Under CGI, `HTTP_PROXY` may be the request's `Proxy:` header:
        // never read as `http_proxy` in any spelling on Windows.
        let cgi = map(&[("HTTP_PROXY", "http://evil:1"), ("Request_Method", "GET")]);
        assert_eq!(env_var(&cgi, "http_proxy", true), None);
        assert_eq!(env_var(&cgi, "HTTP_PROXY", true), None);
        let cgi_lower = map(&[("http_proxy", "http://mine:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(env_var(&cgi_lower, "http_proxy", true), None);
        // Elsewhere a lower-case `http_proxy` is the user's (CGI sets only
        // the upper-case name), and `proxy::choose` skips `HTTP_PROXY`.
        assert_eq!(
            env_var(&cgi_lower, "http_proxy", false),
            some("http://mine:1")
        );
        let https = map(&[("https_proxy", "p"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(env_var(&https, "HTTPS_proxy", true), some("p"));
    }

    #[test]
    fn a_proxy_password_is_scrubbed_even_when_the_path_holds_an_at() {
        let c = ClientBuilder::new()
            .with_vars(vars(&[("XPANDER_API_KEY", "k-0123456789")]))
            .proxy("http://u:pw123@proxy.example:3128/a@b")
            .into_config()
            .unwrap();
        let secrets = c.secrets();
        // What is sent is `u:pw123` (up to the first `@`), as is and as the
        // `Basic` token: neither shows, whole or in part, mid-text either.
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode("u:pw123");
        for text in [
            "the password pw123 was sent".to_string(),
            format!("Proxy-Authorization: Basic {basic} was sent"),
        ] {
            let shown = secrets.scrub(&text);
            assert!(!shown.contains("pw123"), "{shown}");
            assert!(!shown.contains("Mw=="), "{shown}");
        }
    }

    #[test]
    fn missing_key_is_a_config_error() {
        let err = ClientBuilder::new()
            .with_vars(vars(&[]))
            .into_config()
            .unwrap_err();
        assert!(matches!(err, Error::Config(ref m) if m.contains("XPANDER_API_KEY")));
    }

    #[test]
    fn defaults_and_staging() {
        let c = ClientBuilder::new()
            .with_vars(vars(&[("XPANDER_API_KEY", "k")]))
            .into_config()
            .unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.host, "inbound.xpander.ai");
        let c = ClientBuilder::new()
            .with_vars(vars(&[("XPANDER_API_KEY", "k"), ("IS_STG", "true")]))
            .into_config()
            .unwrap();
        assert_eq!(c.base_url, STAGING_BASE_URL);
        let c = ClientBuilder::new()
            .with_vars(vars(&[("XPANDER_API_KEY", "k"), ("IS_STG", "false")]))
            .into_config()
            .unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
    }

    #[test]
    fn builder_wins_over_environment() {
        let c = ClientBuilder::new()
            .api_key("explicit")
            .base_url("https://example.com/")
            .with_vars(vars(&[
                ("XPANDER_API_KEY", "env"),
                ("XPANDER_BASE_URL", "https://env.example"),
            ]))
            .into_config()
            .unwrap();
        assert_eq!(c.api_key.expose(), "explicit");
        assert_eq!(c.base_url, "https://example.com");
    }

    /// A base URL refused for carrying credentials (or for anything else
    /// while it carries them) must not print them in the error.
    #[test]
    fn a_refused_base_url_never_shows_its_credentials() {
        for raw in [
            "https://user:s3cret@inbound.xpander.ai",
            "https://user:s3cret@inbound.xpander.ai/api?x=1",
            "ftp://user:s3cret@inbound.xpander.ai",
            "https://user:s3cret@inbound.xpander.ai/a b",
            "http://user:s3cret@example.com",
            "https://user:s3/cret@inbound.xpander.ai",
        ] {
            match resolve_base_url(raw, None, None, false) {
                Err(err) => {
                    let shown = format!("{err} {err:?}");
                    assert!(!shown.contains("s3"), "{shown}");
                    assert!(
                        shown.contains("inbound.xpander.ai") || shown.contains("example.com"),
                        "{shown}"
                    );
                }
                Ok(url) => panic!("{raw} was taken as {url:?}"),
            }
            // Nor does the builder holding it.
            let builder = ClientBuilder::new().base_url(raw).events_base_url(raw);
            let shown = format!("{builder:?}");
            assert!(!shown.contains("s3"), "{shown}");
        }
    }

    #[test]
    fn base_url_rules() {
        let r = |raw, org| resolve_base_url(raw, org, None, false).map(|(u, ..)| u);
        // No scheme: refused, naming the URL it likely meant.
        let no_scheme = |raw| match r(raw, None) {
            Err(Error::Config(m)) => m,
            other => panic!("{raw}: {other:?}"),
        };
        assert!(no_scheme("inbound.xpander.ai")
            .contains("did you mean \"https://inbound.xpander.ai\"?"));
        assert!(
            no_scheme("127.0.0.1:8080/api").contains("did you mean \"http://127.0.0.1:8080/api\"?")
        );
        assert!(no_scheme("localhost:9").contains("\"http://localhost:9\""));
        assert!(no_scheme("[::1]:9").contains("\"http://[::1]:9\""));
        assert!(!no_scheme("u:pw@example.com").contains("pw"));
        assert!(no_scheme("http:/localhost:9").contains("\"http://localhost:9\""));
        assert!(no_scheme("HTTPS:x.ai/api").contains("\"https://x.ai/api\""));
        assert!(no_scheme("https:\\\\x.ai").contains("\"https://x.ai\""));
        assert_eq!(r("https://x.ai/api//", None).unwrap(), "https://x.ai/api");
        assert_eq!(
            r("https://agent-controller.x", Some("ORG")).unwrap(),
            "https://agent-controller.x/ORG"
        );
        assert_eq!(
            r("http://localhost:9016", Some("o 1")).unwrap(),
            "http://localhost:9016/o%201"
        );
        assert!(matches!(
            r("https://agent-controller.x", None),
            Err(Error::Config(_))
        ));
        assert_eq!(
            r("http://127.0.0.1:8080", None).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(r("http://[::1]:8080/", None).unwrap(), "http://[::1]:8080");
        assert!(r("http://example.com", None).is_err());
        assert!(resolve_base_url("http://example.com", None, None, true).is_ok());
        assert!(r("ftp://example.com", None).is_err());
        assert!(r("https://user:pw@example.com", None).is_err());
        assert!(r("https://example.com/?a=1", None).is_err());
        assert!(r("", None).is_err());
        assert!(r("https://", None).is_err());
        assert!(r("https://exa mple.com", None).is_err());
        // The published rule, not a substring match anywhere in the URL.
        assert_eq!(
            r("https://x.example/agent-controller", Some("ORG")).unwrap(),
            "https://x.example/agent-controller/ORG"
        );
        assert_eq!(
            r("https://x.example/a9016b", Some("ORG")).unwrap(),
            "https://x.example/a9016b"
        );
    }

    #[test]
    fn events_root_rules_of_the_contract() {
        // SPEC-events §2, `computed_urls`.
        let root = |base: &str, org: Option<&str>| {
            let mut b = ClientBuilder::new().api_key("k").base_url(base);
            if let Some(org) = org {
                b = b.organization_id(org);
            }
            b.into_config().unwrap().events_root
        };
        let org = Some("ORG");
        for (base, expected) in [
            (
                "https://inbound.xpander.ai",
                "https://agent-controller.xpander.ai/ORG",
            ),
            (
                "https://inbound.stg.xpander.ai",
                "https://agent-controller.stg.xpander.ai/ORG",
            ),
            (
                "https://agent-controller.xpander.ai",
                "https://agent-controller.xpander.ai/ORG",
            ),
            ("http://localhost:8085", "http://localhost:9016/ORG"),
            ("http://127.0.0.1:8085/", "http://localhost:9016/ORG"),
            ("http://localhost:9016", "http://localhost:9016/ORG"),
            (
                "https://gw.example.com/events-gw",
                "https://gw.example.com/events-gw/ORG",
            ),
            (
                "https://gw.example.com/events-gw/",
                "https://gw.example.com/events-gw/ORG",
            ),
            (
                "https://inbound.xpander.ai.evil.example",
                "https://inbound.xpander.ai.evil.example/ORG",
            ),
            ("http://127.0.0.1:4000", "http://127.0.0.1:4000/ORG"),
        ] {
            assert_eq!(root(base, org).as_deref(), Some(expected), "{base}");
        }
        // No organization: no root (the streams say so), never `None` in a URL.
        assert_eq!(root("https://inbound.xpander.ai", None), None);
        // An override is used as given.
        let c = ClientBuilder::new()
            .api_key("k")
            .events_base_url("https://events.example.com/my-org/")
            .into_config()
            .unwrap();
        assert_eq!(
            c.events_root.as_deref(),
            Some("https://events.example.com/my-org")
        );
        assert!(ClientBuilder::new()
            .api_key("k")
            .events_base_url("http://events.example.com")
            .into_config()
            .is_err());
    }

    #[test]
    fn root_certificates_from_pem() {
        let err = ClientBuilder::new()
            .api_key("k")
            .add_root_certificate_pem("not a certificate")
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("BEGIN CERTIFICATE"), "{err}");
        let pem = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let c = ClientBuilder::new()
            .api_key("k")
            .add_root_certificate_pem(format!("{pem}{pem}"))
            .add_root_certificate_der(vec![9])
            .into_config()
            .unwrap();
        assert_eq!(c.root_certificates.len(), 3);
        assert_eq!(c.root_certificates[0].der(), &[1, 2, 3]);
        assert!(!format!("{c:?}").contains("[1, 2, 3]"));
    }

    #[test]
    fn ports_of_base_urls() {
        let port_of = |url| Url::split(url).port().unwrap();
        assert_eq!(port_of("https://x.ai"), None);
        assert_eq!(port_of("http://127.0.0.1:8016/a"), Some(8016));
        assert_eq!(port_of("http://[::1]:9/a"), Some(9));
        assert_eq!(port_of("http://[::1]/a"), None);
    }

    #[test]
    fn debug_hides_proxy_credentials() {
        let b = ClientBuilder::new()
            .api_key("k")
            .proxy("http://user:pa55@proxy.corp:3128");
        assert!(!format!("{b:?}").contains("pa55"));
        let c = b.into_config().unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("pa55") && shown.contains("proxy.corp"),
            "{shown}"
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let b = ClientBuilder::new().api_key("sekrit-123");
        assert!(!format!("{b:?}").contains("sekrit-123"));
        let c = b.into_config().unwrap();
        assert!(!format!("{c:?}").contains("sekrit-123"));
        assert!(!format!("{}", c.api_key).contains("sekrit-123"));
    }
}
