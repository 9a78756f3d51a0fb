//! Proxies: which one (if any) carries the client's requests. No I/O.
//!
//! Both faces take their proxy from the decision made here rather than each
//! HTTP crate reading the environment its own way. The setting is read once,
//! when the client is built; the decision is made per request URL (the API
//! base, the events root and the public API may be different hosts), as curl
//! and reqwest do.
//!
//! # Rules
//!
//! - A loopback host (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`) is
//!   never proxied.
//! - [`ProxySetting::Disabled`] ([`ClientBuilder::no_proxy`]): no proxy.
//! - [`ProxySetting::Url`] ([`ClientBuilder::proxy`]): that proxy, and the
//!   environment is not read.
//! - [`ProxySetting::FromEnv`] (the default): for an `https` base URL,
//!   `https_proxy` / `HTTPS_PROXY`, else `all_proxy` / `ALL_PROXY`; for an
//!   `http` base URL, `http_proxy` / `HTTP_PROXY` (the upper-case form is
//!   skipped when `REQUEST_METHOD` is set, as in a CGI script, after
//!   "httpoxy"), else `all_proxy` / `ALL_PROXY`. The lower-case name wins
//!   when both are set; empty values count as unset. `no_proxy` /
//!   `NO_PROXY` then lists hosts that go direct: comma-separated names
//!   (`example.com` also covers its subdomains; a leading `.` or `*.` is the
//!   same), IP addresses, CIDR blocks (`10.0.0.0/8`), any of them with a
//!   `:port`, or `*` for every host.
//! - Proxy URLs are `http://[user:password@]host[:port]` (port 80 by
//!   default; a URL without a scheme gets `http://`). `https` targets go
//!   through a `CONNECT` tunnel, so the proxy sees only the host name and
//!   TLS bytes. Other schemes (`socks5://`, `https://`) are refused with
//!   [`Error::Config`] rather than silently bypassed.
//! - A plain-`http` base URL to a non-loopback host (possible only with
//!   [`ClientBuilder::allow_insecure_http`]) is not sent through a proxy
//!   unless [`ClientBuilder::allow_cleartext_proxy`] says so: the proxy, a
//!   third party, would read the API key.
//!
//! [`ClientBuilder::no_proxy`]: crate::ClientBuilder::no_proxy
//! [`ClientBuilder::proxy`]: crate::ClientBuilder::proxy
//! [`ClientBuilder::allow_insecure_http`]: crate::ClientBuilder::allow_insecure_http
//! [`ClientBuilder::allow_cleartext_proxy`]: crate::ClientBuilder::allow_cleartext_proxy

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};
use crate::redact::redact_userinfo;
use crate::security::Url;

/// Where the proxy setting of a client comes from.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxySetting {
    /// The standard environment variables (see the [module documentation](self)).
    #[default]
    FromEnv,
    /// No proxy, whatever the environment says.
    Disabled,
    /// This proxy URL (`http://[user:password@]host[:port]`).
    Url(String),
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::FromEnv => f.write_str("FromEnv"),
            ProxySetting::Disabled => f.write_str("Disabled"),
            ProxySetting::Url(url) => write!(f, "Url({:?})", redact_userinfo(url)),
        }
    }
}

/// The proxy a client's requests go through. Its `Debug` and `Display`
/// never show the credentials a proxy URL may carry.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    url: String,
    host: String,
    port: u16,
}

impl ProxyUrl {
    /// Parses and checks a proxy URL; `source` names where it came from
    /// (for the error message).
    pub(crate) fn parse(raw: &str, source: &str) -> Result<ProxyUrl> {
        let bad = |why: &str| {
            Error::Config(format!(
                "the proxy {source} ({}) {why}; set another, or call ClientBuilder::no_proxy()",
                redact_userinfo(raw)
            ))
        };
        let raw = raw.trim();
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains white space or control characters"));
        }
        let url = Url::split(raw);
        // `user:1234/x@proxy`: the authority would end at the `/` and the
        // password read as a port.
        if url.userinfo.is_none() && url.loose_userinfo().is_some() {
            return Err(bad(
                "has credentials with an unencoded `/`, `?` or `#` (percent-encode them)",
            ));
        }
        let scheme = url.scheme.unwrap_or("http").to_ascii_lowercase();
        if scheme != "http" {
            return Err(bad(&format!(
                "uses the scheme {scheme:?}: only http:// proxies are supported"
            )));
        }
        let (host, port) = url.host_port().ok_or_else(|| bad("has no valid host"))?;
        let (hostport, userinfo) = (url.hostport, url.userinfo);
        Ok(ProxyUrl {
            url: match userinfo {
                Some(userinfo) => format!("http://{userinfo}@{hostport}"),
                None => format!("http://{hostport}"),
            },
            host,
            port: port.unwrap_or(80),
        })
    }

    /// The whole URL, credentials included: for the HTTP crates only.
    pub(crate) fn as_str(&self) -> &str {
        &self.url
    }

    /// The proxy's host (no credentials).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when the URL carries a user name (and maybe a password).
    pub fn has_credentials(&self) -> bool {
        Url::split(&self.url).userinfo.is_some()
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_userinfo(&self.url))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({:?})", redact_userinfo(&self.url))
    }
}

/// How requests to one URL go: by which scheme to which host and port,
/// and through which proxy, if any. Made by [`Config::route`](crate::Config::route).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Route {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The host, lowercased (an IPv6 address without brackets).
    pub host: String,
    /// The port (the scheme's default when the URL names none).
    pub port: u16,
    /// The proxy requests to this URL go through (`None`: straight to the host).
    pub proxy: Option<ProxyUrl>,
}

impl Route {
    /// True for `https`: the server's certificate is checked.
    pub fn is_tls(&self) -> bool {
        self.scheme == "https"
    }

    /// True for a loopback host (`localhost`, `*.localhost`, `127.0.0.0/8`,
    /// `::1`): never proxied, plain `http` allowed, and the localhost names
    /// answered with loopback addresses without asking DNS.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.host)
    }

    /// True for plain `http` to a host that is not loopback (possible only
    /// with the plain-http opt-in): the key crosses the network in clear text.
    pub fn is_cleartext_remote(&self) -> bool {
        !self.is_tls() && !self.is_loopback()
    }
}

/// Decides which proxy, if any, carries requests to `target`.
pub(crate) fn choose(
    setting: &ProxySetting,
    target: &Route,
    allow_cleartext_proxy: bool,
    vars: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>> {
    if is_loopback(&target.host) {
        return Ok(None);
    }
    let proxy = match setting {
        ProxySetting::Disabled => None,
        ProxySetting::Url(url) => Some(ProxyUrl::parse(url, "set on the builder")?),
        ProxySetting::FromEnv => from_env(target, &vars)?,
    };
    if proxy.is_some() && target.scheme == "http" && !allow_cleartext_proxy {
        return Err(Error::Config(format!(
            "a proxy applies to the plain-http URL http://{}:{}, and would read the API key: \
             use https, call ClientBuilder::no_proxy(), list the host in NO_PROXY, or call \
             ClientBuilder::allow_cleartext_proxy(true)",
            target.host, target.port
        )));
    }
    Ok(proxy)
}

fn from_env(target: &Route, vars: &impl Fn(&str) -> Option<String>) -> Result<Option<ProxyUrl>> {
    let var = |name: &str| vars(name).filter(|v| !v.trim().is_empty());
    let cgi = var("REQUEST_METHOD").is_some();
    let candidates: &[&str] = if target.scheme == "https" {
        &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else if cgi {
        &["http_proxy", "all_proxy", "ALL_PROXY"]
    } else {
        &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
    };
    let Some((name, value)) = candidates
        .iter()
        .find_map(|name| var(name).map(|value| (*name, value)))
    else {
        return Ok(None);
    };
    let no_proxy = var("no_proxy").or_else(|| var("NO_PROXY"));
    if no_proxy.is_some_and(|list| bypasses(&list, target)) {
        return Ok(None);
    }
    ProxyUrl::parse(&value, &format!("in {name}")).map(Some)
}

/// True when the `NO_PROXY` list sends `target` direct.
pub(crate) fn bypasses(list: &str, target: &Route) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| entry_matches(entry, target))
}

fn entry_matches(entry: &str, target: &Route) -> bool {
    if entry == "*" {
        return true;
    }
    // A CIDR block: address/prefix.
    if let Some((net, bits)) = entry.split_once('/') {
        let net = net.trim_start_matches('[').trim_end_matches(']');
        return match (
            net.parse::<IpAddr>(),
            bits.parse::<u8>(),
            target.host.parse::<IpAddr>(),
        ) {
            (Ok(net), Ok(bits), Ok(ip)) => in_cidr(ip, net, bits),
            _ => false,
        };
    }
    let entry = entry.strip_prefix("*.").unwrap_or(entry);
    // A bare IPv6 address, or `host`, `host:port`, `[v6]`, `[v6]:port`.
    let url = Url::split(entry);
    let parsed = match entry.parse::<Ipv6Addr>() {
        Ok(_) => Some((entry.to_ascii_lowercase(), None)),
        Err(_) => url.host_port().filter(|_| url.userinfo.is_none()),
    };
    let Some((host, port)) = parsed else {
        return false;
    };
    if port.is_some_and(|port| port != target.port) {
        return false;
    }
    let host = host.trim_start_matches('.');
    if host.is_empty() {
        return false;
    }
    if let (Ok(a), Ok(b)) = (host.parse::<IpAddr>(), target.host.parse::<IpAddr>()) {
        return a == b;
    }
    target.host == host
        || target
            .host
            .strip_suffix(host)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    // Both as IPv6: an IPv4 block is IPv4-mapped, its prefix 96 bits longer.
    let (ip, net, bits) = match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => (
            ip.to_ipv6_mapped(),
            net.to_ipv6_mapped(),
            bits.saturating_add(96),
        ),
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => (ip, net, bits),
        _ => return false,
    };
    let mask = u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(bits)))
        .unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// True for `localhost` and `*.localhost` (any case, no trailing dot):
/// names both transports answer with loopback addresses themselves,
/// never through DNS (RFC 6761, as browsers do).
pub(crate) fn is_localhost_name(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host
            .strip_suffix(".localhost")
            .is_some_and(|name| !name.is_empty())
}

/// True for `localhost`, `*.localhost`, `127.0.0.0/8` and `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    is_localhost_name(host)
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A password with an unencoded `/`, `?` or `#` is refused, never read
    /// as a host and port (which Debug and errors would show).
    #[test]
    fn a_password_with_a_slash_is_refused_and_not_shown() {
        for raw in [
            "http://user:1234/x@proxy:3128",
            "http://user:9876?q@proxy",
            "http://user:4321#f@proxy",
            "user:5678/zz@proxy",
        ] {
            let error = ProxyUrl::parse(raw, "HTTP_PROXY").expect_err(raw);
            let shown = format!("{error} {error:?}");
            for secret in ["1234", "9876", "4321", "5678"] {
                assert!(!shown.contains(secret), "{raw}: {shown}");
            }
            assert!(shown.contains("percent-encode"), "{shown}");
        }
    }

    fn target(scheme: &'static str, host: &str, port: u16) -> Route {
        Route {
            scheme,
            host: host.into(),
            port,
            proxy: None,
        }
    }

    fn https(host: &str) -> Route {
        target("https", host, 443)
    }

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn from(pairs: &'static [(&'static str, &'static str)], target: &Route) -> Option<String> {
        choose(&ProxySetting::FromEnv, target, false, env(pairs))
            .unwrap()
            .map(|p| p.as_str().to_string())
    }

    #[test]
    fn environment_variables_by_scheme_and_case() {
        let t = &https("inbound.xpander.ai");
        assert_eq!(from(&[], t), None);
        assert_eq!(
            from(&[("HTTPS_PROXY", "proxy:3128")], t).as_deref(),
            Some("http://proxy:3128")
        );
        assert_eq!(
            from(
                &[("https_proxy", "http://a:1"), ("HTTPS_PROXY", "http://b:2")],
                t
            )
            .as_deref(),
            Some("http://a:1")
        );
        assert_eq!(
            from(&[("ALL_PROXY", "http://all:1")], t).as_deref(),
            Some("http://all:1")
        );
        assert_eq!(from(&[("http_proxy", "http://h:1")], t), None);
        assert_eq!(from(&[("HTTPS_PROXY", "  ")], t), None, "empty is unset");
    }

    #[test]
    fn loopback_is_never_proxied() {
        for host in ["localhost", "127.0.0.1", "::1", "api.localhost"] {
            let t = &target("http", host, 8016);
            assert_eq!(from(&[("http_proxy", "http://127.0.0.1:9")], t), None);
            let explicit = choose(&ProxySetting::Url("http://p:1".into()), t, false, env(&[]));
            assert!(explicit.unwrap().is_none(), "{host}");
        }
    }

    #[test]
    fn no_proxy_lists() {
        let t = &https("inbound.xpander.ai");
        let p = |no: &'static str| {
            let vars: &'static [(&str, &str)] =
                Box::leak(vec![("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no)].into_boxed_slice());
            from(vars, t).is_none()
        };
        assert!(p("*"));
        assert!(p("xpander.ai"));
        assert!(p(".xpander.ai"));
        assert!(p("*.xpander.ai"));
        assert!(p("example.com, inbound.xpander.ai"));
        assert!(p("INBOUND.xpander.ai:443"));
        assert!(!p("inbound.xpander.ai:8443"));
        assert!(!p("pander.ai"));
        assert!(!p("other.com"));
        assert!(!p(""));
        let ip = |host: &'static str, list: &str| bypasses(list, &target("https", host, 443));
        assert!(ip("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip("11.1.2.3", "10.0.0.0/8"));
        assert!(ip("10.1.2.3", "10.1.2.3"));
        assert!(ip("fd00::1", "fd00::/8"));
        assert!(ip("fd00::1", "[fd00::1]:443"));
        assert!(!ip("fd00::1", "fd00::2"));
        assert!(ip("0.0.0.1", "0.0.0.0/0"));
    }

    #[test]
    fn lower_case_no_proxy_wins_and_cgi_skips_upper_case_http_proxy() {
        let t = &https("a.example");
        assert!(from(
            &[
                ("HTTPS_PROXY", "p:1"),
                ("no_proxy", "a.example"),
                ("NO_PROXY", "b.example")
            ],
            t
        )
        .is_none());
        let t = &target("http", "a.example", 80);
        let cgi = choose(
            &ProxySetting::FromEnv,
            t,
            true,
            env(&[("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")]),
        );
        assert!(cgi.unwrap().is_none());
    }

    #[test]
    fn explicit_settings_ignore_the_environment() {
        let t = &https("inbound.xpander.ai");
        let vars = env(&[("HTTPS_PROXY", "http://env:1"), ("NO_PROXY", "*")]);
        let off = choose(&ProxySetting::Disabled, t, false, &vars).unwrap();
        assert!(off.is_none());
        let on = choose(
            &ProxySetting::Url("http://mine:8080".into()),
            t,
            false,
            &vars,
        )
        .unwrap();
        assert_eq!(on.unwrap().as_str(), "http://mine:8080");
    }

    #[test]
    fn unsupported_schemes_and_bad_urls_are_config_errors() {
        let t = &https("inbound.xpander.ai");
        for value in [
            "socks5://s:1080",
            "https://p:443",
            "http://",
            "http://h:notaport",
        ] {
            let vars = move |name: &str| (name == "HTTPS_PROXY").then(|| value.to_string());
            let err = choose(&ProxySetting::FromEnv, t, false, vars).unwrap_err();
            assert!(
                matches!(err, Error::Config(ref m) if m.contains("HTTPS_PROXY") && m.contains("no_proxy()")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_plain_http_target_needs_the_opt_in_to_be_proxied() {
        let t = &target("http", "tasks.internal", 80);
        let vars = env(&[("http_proxy", "http://p:3128")]);
        let err = choose(&ProxySetting::FromEnv, t, false, &vars).unwrap_err();
        assert!(err.to_string().contains("allow_cleartext_proxy"), "{err}");
        assert!(choose(&ProxySetting::FromEnv, t, true, &vars)
            .unwrap()
            .is_some());
        // https through the same proxy is a tunnel: no opt-in needed.
        let vars = env(&[("https_proxy", "http://p:3128")]);
        assert!(
            choose(&ProxySetting::FromEnv, &https("x.example"), false, &vars)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn credentials_never_show() {
        let p = ProxyUrl::parse("http://user:s3cret@proxy.corp:3128", "test").unwrap();
        assert_eq!(p.host(), "proxy.corp");
        assert_eq!(p.port(), 3128);
        assert!(p.has_credentials());
        for shown in [format!("{p}"), format!("{p:?}")] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("user"),
                "{shown}"
            );
            assert!(shown.contains("proxy.corp:3128"), "{shown}");
        }
        let setting = ProxySetting::Url("http://user:s3cret@proxy.corp:3128".into());
        assert!(!format!("{setting:?}").contains("s3cret"));
        let err = ProxyUrl::parse("socks5://user:s3cret@p:1", "test").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    /// A password with an unencoded `/`, `?` or `#` (a mistake, but a
    /// common one) must not show in the error refusing it, nor in a
    /// setting's `Debug`.
    #[test]
    fn credentials_with_delimiters_never_show() {
        for raw in [
            "http://user:s3/cret@proxy.corp:3128",
            "http://user:s3?cret@proxy.corp:3128",
            "http://user:s3#cret@proxy.corp:3128",
            "user:s3/cret@proxy.corp:3128",
            "socks5://user:s3/cret@proxy.corp:3128",
            " http://user:s3 cret@proxy.corp:3128",
        ] {
            let err = ProxyUrl::parse(raw, "test").unwrap_err().to_string();
            assert!(!err.contains("s3") && !err.contains("cret"), "{err}");
            assert!(err.contains("proxy.corp"), "{err}");
            let setting = format!("{:?}", ProxySetting::Url(raw.into()));
            assert!(
                !setting.contains("s3") && !setting.contains("cret"),
                "{setting}"
            );
        }
    }
}
