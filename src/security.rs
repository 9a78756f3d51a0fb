//! Security rules of the client, in one place (issue 19), and the one reading
//! of a URL they all apply (the crate-internal `Url`).
//!
//! # Which hosts receive the API key
//!
//! Exactly the hosts of [`Config::key_urls`](crate::Config::key_urls): the
//! base URL, and the events root ([`Config::events_root`](crate::Config::events_root):
//! `agent-controller.xpander.ai` for production). The key is sent as
//! `x-api-key`, a header marked sensitive (never printed by the HTTP crates,
//! never in HTTP/2's compression table).
//!
//! Every request, whatever its URL, passes one rule,
//! [`Config::route`](crate::Config::route), decided for that URL alone:
//!
//! - its scheme is `https`, or `http` to a loopback host (`localhost`,
//!   `*.localhost`, `127.0.0.0/8`, `::1`), or `http` with the plain-http
//!   opt-in (below); anything else is an [`Error::Config`](crate::Error::Config);
//! - its proxy is the one [`crate::proxy`] decides for its own scheme, host
//!   and port (`NO_PROXY` included; the proxy variables are read once, when
//!   the client is built); loopback is never proxied; a plain-http host goes
//!   through a proxy only with `allow_cleartext_proxy(true)`;
//! - TLS, with the client's roots, exactly when the scheme is `https` (the
//!   roots are set up when any key URL is https).
//!
//! The names `localhost` and `*.localhost` are answered with loopback
//! addresses by both faces, never through DNS (RFC 6761): what is trusted
//! as loopback is loopback. A [`resolve`](crate::ClientBuilder::resolve)
//! override of such a name to another address is ignored.
//!
//! # Redirects
//!
//! Never followed. The crate's own clients follow none. A caller's own
//! ureq agent ([`ureq_agent`](crate::ClientBuilder::ureq_agent)) is told per
//! request to follow none (a 3xx is an [`ApiError`](crate::ApiError)). A
//! caller's own reqwest client ([`reqwest_client`](crate::ClientBuilder::reqwest_client))
//! cannot be told per request: an answer whose final URL has another origin
//! than the request's is refused with an [`Error::Config`](crate::Error::Config)
//! saying so (the key did go along: build the client with
//! `redirect(reqwest::redirect::Policy::none())`).
//!
//! # Plain http
//!
//! Refused to hosts that are not loopback, unless opted in with
//! [`ClientBuilder::allow_insecure_http`](crate::ClientBuilder::allow_insecure_http)
//! or the environment variable
//! [`XPANDER_ALLOW_INSECURE_HTTP`](crate::config::INSECURE_HTTP_VAR)`=1`
//! (`true`, `yes`), which [`ClientBuilder::from_env`](crate::ClientBuilder::from_env)
//! reads (so [`Tasks::from_env`](crate::Tasks::from_env), the worker's client
//! and the `xpander-tasks` tool). When in force for a host that is not
//! loopback, building the client traces one warning per such host (feature
//! `tracing`), and the tool prints one line on stderr.
//!
//! # CA files
//!
//! When any key URL is https, an `SSL_CERT_FILE` that cannot be read or
//! holds no PEM certificate, or an `SSL_CERT_DIR` (`:`-separated) with a
//! directory that cannot be read or no certificate in any, fails
//! [`ClientBuilder::build`](crate::ClientBuilder::build) (and `from_env`)
//! with an [`Error::Config`](crate::Error::Config) naming the variable, the
//! path and why. A CA file the user names is never silently replaced by the
//! bundled roots. A refused certificate (or any TLS alert) is a transport
//! error of kind `Connect` with
//! [`is_tls_refusal`](crate::TransportError::is_tls_refusal), class
//! `Client`, and is never retried (a persistent worker stream still
//! reconnects slowly: a certificate may be renewed).
//!
//! # Redaction
//!
//! - `Debug` of every model, request and configuration hides credentials
//!   (credential-bearing JSON keys at any depth, the key, proxy credentials).
//! - Every error text ([`ApiError`](crate::ApiError)'s body and detail,
//!   [`DecodeError`](crate::DecodeError)'s snippet and serde's message,
//!   transport and configuration messages), the worker's notices and the
//!   skipped-event warnings are scrubbed of the client's secrets — the API
//!   key and proxy passwords, as is, JSON-escaped (also `\/`),
//!   percent-encoded, and as the `Proxy-Authorization: Basic` token —
//!   *before* any cut. Whatever was cut elsewhere (a body limit, a bounded
//!   message, a value serde quotes), no run of 8 characters of a secret
//!   survives, nor a start of 4 or more at the very end of a text (or an end
//!   at its start). Values of credential-bearing JSON keys in error bodies
//!   are redacted too, up to a cut.
//! - [`redact::scrub_secrets`](crate::redact::scrub_secrets) applies the
//!   same scrubbing to your own text; the `xpander-tasks` tool passes all it
//!   prints through it (and [`redact_credentials`](crate::redact::redact_credentials)).
//!
//! # The `xpander-tasks` tool
//!
//! Where it takes the key and its values from (the environment, never the
//! key as an argument; `--payload-extension` also from a file or stdin) is
//! the "Environment and options" section of the guide (`docs/guide.md`). The
//! value of `--payload-extension` (or of a misspelled option) is never
//! echoed in a usage error. Text from the server is
//! written with terminal controls escaped (C0, DEL, C1, bidi and line
//! separators): as `\uXXXX` in JSON output, which keeps the same values,
//! and as `\u{..}` in messages on stderr, one line each. A closed stdout
//! (`| head`) ends every subcommand with exit 0.

/// A URL as every rule of the client reads it (the base URL, the events
/// root, a public API base, proxies and `NO_PROXY` entries, redaction, the
/// blocking face's DNS cache), split once, as written: no part is decoded
/// or normalized but the host, which is lowercased.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    /// The scheme (`None`: the text has no `://`).
    pub(crate) scheme: Option<&'a str>,
    /// Everything after the scheme's `://`.
    rest: &'a str,
    /// `scheme://authority` (the route cache's key).
    pub(crate) origin: &'a str,
    /// What comes before the authority's last `@`.
    pub(crate) userinfo: Option<&'a str>,
    /// `host[:port]` or `[v6][:port]`.
    pub(crate) hostport: &'a str,
    /// The path, query and fragment.
    pub(crate) tail: &'a str,
}

/// Names the URL with its userinfo redacted: it may hold a password.
impl std::fmt::Debug for Url<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Url").field(&self.redacted()).finish()
    }
}

impl<'a> Url<'a> {
    /// Splits `url`; the authority ends at the first `/`, `?` or `#`.
    pub(crate) fn split(url: &'a str) -> Url<'a> {
        let (scheme, rest) = url
            .split_once("://")
            .map_or((None, url), |(scheme, rest)| (Some(scheme), rest));
        let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .map_or((None, authority), |(user, hostport)| (Some(user), hostport));
        let origin = url
            .get(..url.len().saturating_sub(tail.len()))
            .unwrap_or(url);
        Url {
            scheme,
            rest,
            origin,
            userinfo,
            hostport,
            tail,
        }
    }

    /// The host as written, an IPv6 address without its brackets, and the
    /// text after it (a port, without its `:`).
    fn host_and_port(&self) -> (&'a str, &'a str) {
        match self.hostport.strip_prefix('[') {
            Some(v6) => v6.split_once(']').map_or(("", ""), |(host, after)| {
                (host, after.strip_prefix(':').unwrap_or(after))
            }),
            None => self.hostport.split_once(':').unwrap_or((self.hostport, "")),
        }
    }

    /// The host as written, an IPv6 address without its brackets.
    pub(crate) fn host_str(&self) -> &'a str {
        self.host_and_port().0
    }

    /// The host, lowercased, an IPv6 address without its brackets; `None`
    /// when there is none.
    pub(crate) fn host(&self) -> Option<String> {
        Some(self.host_str().to_ascii_lowercase()).filter(|host| !host.is_empty())
    }

    /// The port (`None`: none, or an empty one); an error when it is not
    /// plain digits making a number from 0 to 65535 (`u16::from_str` alone
    /// takes `+80`, which no request URL can carry).
    pub(crate) fn port(&self) -> Result<Option<u16>, NotAPort> {
        match self.host_and_port().1 {
            "" => Ok(None),
            port if port.bytes().all(|b| b.is_ascii_digit()) => {
                port.parse().map(Some).map_err(|_| NotAPort)
            }
            _ => Err(NotAPort),
        }
    }

    /// The host and the port, when both read.
    pub(crate) fn host_port(&self) -> Option<(String, Option<u16>)> {
        Some((self.host()?, self.port().ok()?))
    }

    /// Whatever comes before the last `@` after the scheme: all that a
    /// URL's credentials may be in, a password with an unencoded `/`, `?`
    /// or `#` included (what scrubbing takes out).
    pub(crate) fn loose_userinfo(&self) -> Option<&'a str> {
        self.rest.rsplit_once('@').map(|(userinfo, _)| userinfo)
    }

    /// The URL with its [`loose_userinfo`](Self::loose_userinfo) replaced
    /// by `<redacted>`: a password with an unencoded `/` is a mistake this
    /// text is shown for (in the error refusing it).
    pub(crate) fn redacted(&self) -> String {
        let scheme = self.scheme.map_or(String::new(), |s| format!("{s}://"));
        match self.rest.rsplit_once('@') {
            Some((_, after)) => format!("{scheme}<redacted>@{after}"),
            None => format!("{scheme}{}", self.rest),
        }
    }
}

/// A URL's port that is not plain digits making a number from 0 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAPort;

#[cfg(test)]
mod tests {
    use super::Url;

    #[test]
    fn debug_never_shows_the_userinfo() {
        let shown = format!("{:?}", Url::split("http://user:s3cret-pw@proxy:3128/x"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("user:"),
            "{shown}"
        );
        assert!(shown.contains("proxy:3128"), "{shown}");
    }

    #[test]
    fn one_reading_of_every_part() {
        let url = Url::split("HTTP://u:p/w@[::1]:8080/a?b#c");
        // The authority ends at the first `/`: `u:p` is then the host part.
        assert_eq!(url.userinfo, None);
        assert_eq!(url.loose_userinfo(), Some("u:p/w"));
        assert_eq!(url.redacted(), "HTTP://<redacted>@[::1]:8080/a?b#c");
        let url = Url::split("http://u:p@Proxy.Corp:3128/x?y");
        assert_eq!(url.scheme, Some("http"));
        assert_eq!(url.origin, "http://u:p@Proxy.Corp:3128");
        assert_eq!(url.userinfo, Some("u:p"));
        assert_eq!(url.host_port(), Some(("proxy.corp".into(), Some(3128))));
        assert_eq!(url.tail, "/x?y");
        for (text, host, port) in [
            ("[::1]", Some("::1"), Ok(None)),
            ("[::1]:9", Some("::1"), Ok(Some(9))),
            ("host:", Some("host"), Ok(None)),
            ("[::1]x", Some("::1"), Err(())),
            ("[::1", None, Ok(None)),
            ("h:1:2", Some("h"), Err(())),
            ("h:65536", Some("h"), Err(())),
            (":80", None, Ok(Some(80))),
            ("h:+80", Some("h"), Err(())),
            ("h:-0", Some("h"), Err(())),
            ("h:٨٠", Some("h"), Err(())),
            ("h:080", Some("h"), Ok(Some(80))),
        ] {
            let url = Url::split(text);
            assert_eq!(url.host().as_deref(), host, "{text}");
            assert_eq!(url.port().map_err(|_| ()), port, "{text}");
        }
    }
}
