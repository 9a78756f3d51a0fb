//! Where a failed request went, and the common mistakes in plain words.
//!
//! Every [`ApiError`](crate::ApiError) and [`TransportError`](crate::TransportError)
//! of a request names its method and URL: scheme, host, port and path, never
//! a query (it may carry ids or filters) nor userinfo. A transport failure
//! that is a known first-hour mistake gets its own message: TLS spoken to a
//! plain-http server, a host name that does not resolve.
//!
//! Shared by both faces: the front end calls [`locate`] on every outcome of
//! a request, whatever transport produced it.

use crate::error::{Error, TransportError, TransportErrorKind};
use crate::sans_io::Method;
use crate::security::Url;

/// The longest URL an error shows, in bytes (an id may be any length; an
/// error stays a line of a log).
const SHOWN_URL_MAX: usize = 512;

/// The URL as errors show it: `scheme://host:port/path`, the port always
/// written, without userinfo, query or fragment; the client's secrets (the
/// API key, as written and percent-encoded, should a caller pass it as an
/// id) scrubbed, and cut to [`SHOWN_URL_MAX`] bytes (scrubbed before the
/// cut, so no part of a secret is left at the cut).
pub(crate) fn shown_url(url: &str, secrets: &crate::redact::Secrets) -> String {
    let mut shown = secrets.scrub(&url_parts(url)).into_owned();
    if shown.len() > SHOWN_URL_MAX {
        let cut = (0..=SHOWN_URL_MAX)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push_str("...");
    }
    shown
}

fn url_parts(url: &str) -> String {
    let url = Url::split(url);
    let scheme = url.scheme.unwrap_or("https").to_ascii_lowercase();
    let path = url.tail.split(['?', '#']).next().unwrap_or_default();
    // Userinfo never shows (the base URL refuses it; belt and braces).
    let (hostport, port) = (url.hostport, if scheme == "http" { 80 } else { 443 });
    match port_of(hostport) {
        Some(_) => format!("{scheme}://{hostport}{path}"),
        None => format!("{scheme}://{hostport}:{port}{path}"),
    }
}

/// The `host:port` of a shown URL, and its host alone.
fn host_port(shown: &str) -> (&str, &str) {
    let authority = Url::split(shown).hostport;
    let host = port_of(authority).map_or(authority, |(host, _)| host);
    (authority, host)
}

/// `host` and `port` of `host:port` or `[v6]:port`, when a port is written.
fn port_of(hostport: &str) -> Option<(&str, &str)> {
    hostport
        .rsplit_once(':')
        .filter(|(_, port)| !port.contains(']'))
}

/// Names the request in `error` (API and transport errors), and puts a
/// known mistake in plain words.
pub(crate) fn locate(
    error: Error,
    method: &Method,
    url: &str,
    core: &crate::sans_io::Core,
) -> Error {
    let secret = core.secrets();
    match error {
        Error::Api(mut api) => {
            if api.url.is_none() {
                api.method = Some(method.clone());
                api.url = Some(shown_url(url, secret));
            }
            Error::Api(api)
        }
        Error::Transport(transport) => {
            let proxy = core.config.proxy.as_ref();
            Error::Transport(locate_transport(transport, method, url, secret, proxy))
        }
        other => other,
    }
}

fn locate_transport(
    mut error: TransportError,
    method: &Method,
    url: &str,
    secret: &crate::redact::Secrets,
    proxy: Option<&crate::proxy::ProxyUrl>,
) -> TransportError {
    if error.url.is_some() {
        return error;
    }
    let shown = shown_url(url, secret);
    let (authority, host) = host_port(&shown);
    let cause = error
        .source
        .as_deref()
        .map(|source| source as &(dyn std::error::Error + 'static));
    if let Some(cause) = cause {
        if matches!(
            error.kind,
            TransportErrorKind::Connect | TransportErrorKind::Other | TransportErrorKind::Protocol
        ) && shown.starts_with("https://")
            && is_tls_on_plain(cause)
        {
            error.kind = TransportErrorKind::Connect;
            error.message = format!(
                "the server at {authority} does not speak TLS: did you mean http://{authority}? ({})",
                error.message
            );
        } else if is_unresolved(cause) {
            error.kind = TransportErrorKind::Connect;
            error.message = match proxy {
                // Through a proxy the client resolves the proxy's host only.
                Some(proxy) => format!(
                    "could not resolve the proxy's host {} (requests to {host} go through it) ({})",
                    proxy.host(),
                    error.message
                ),
                None => format!("could not resolve host {host} ({})", error.message),
            };
        }
    }
    error.method = Some(method.clone());
    error.url = Some(shown);
    error
}

/// Every error in the chain of `error`, an `io::Error`'s inner one included.
fn chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static))
                .or_else(|| current.source()),
            None => current.source(),
        };
        Some(current)
    })
}

/// True when the TLS handshake got a first record that is not TLS at all
/// (a plain-http server answering `400 Bad Request` to a ClientHello).
fn is_tls_on_plain(error: &(dyn std::error::Error + 'static)) -> bool {
    chain(error).any(|e| {
        #[cfg(feature = "_tls")]
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
            );
        }
        // ureq keeps rustls's error as text in some paths.
        let text = e.to_string();
        text.contains("InvalidContentType")
    })
}

/// True when the host name did not resolve (the system resolver's answer,
/// or a resolver finding no address).
fn is_unresolved(error: &(dyn std::error::Error + 'static)) -> bool {
    #[cfg(feature = "blocking")]
    if chain(error).any(|e| {
        matches!(
            e.downcast_ref::<ureq::Error>(),
            Some(ureq::Error::HostNotFound)
        )
    }) {
        return true;
    }
    chain(error).any(|e| {
        let text = e.to_string().to_ascii_lowercase();
        // glibc's and musl's getaddrinfo texts, hyper-util's "dns error",
        // macOS's "nodename nor servname".
        text.contains("failed to lookup address")
            || text.starts_with("dns error")
            || text.contains("name or service not known")
            || text.contains("nodename nor servname")
            || text.contains("temporary failure in name resolution")
            || text.contains("no address associated with hostname")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown_url(url: &str, secret: &str) -> String {
        let mut secrets = crate::redact::Secrets::new();
        if !secret.is_empty() {
            secrets.add(secret);
        }
        super::shown_url(url, &secrets)
    }

    #[test]
    fn shown_urls_keep_scheme_host_port_path_only() {
        assert_eq!(
            shown_url("http://127.0.0.1:8080/v1/tasks/x?user_id=u&k=secret#f", ""),
            "http://127.0.0.1:8080/v1/tasks/x"
        );
        assert_eq!(
            shown_url("https://inbound.xpander.ai/v1/tasks/x", ""),
            "https://inbound.xpander.ai:443/v1/tasks/x"
        );
        assert_eq!(shown_url("http://user:pw@h/p", ""), "http://h:80/p");
        assert_eq!(shown_url("http://[::1]/p", ""), "http://[::1]:80/p");
        assert_eq!(shown_url("http://[::1]:9/p", ""), "http://[::1]:9/p");
        assert_eq!(
            shown_url("http://h:1/t/k%2Fey/s", "k/ey"),
            "http://h:1/t/<redacted>/s"
        );
        let long = shown_url(&format!("http://h:1/{}", "\u{e9}".repeat(400)), "");
        assert!(
            long.len() <= SHOWN_URL_MAX + 3 && long.ends_with("..."),
            "{long}"
        );
        assert_eq!(host_port("http://[::1]:9/p"), ("[::1]:9", "[::1]"));
        assert_eq!(host_port("https://a.b:443/p"), ("a.b:443", "a.b"));
    }
}
