//! The headers both transports send, as `http` values (the one `http`
//! crate under ureq and reqwest): the crate's own made once per client,
//! the caller's extra ones checked per request.
//!
//! Measured with callgrind (benches/e2e_async.rs, `E2E_PROFILE`): parsing
//! and checking `x-api-key` (a custom name, and the key) and the two
//! constant values on every request cost about 3,400 instructions per
//! update, half the SDK's overhead over a bare client.

use http::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::sans_io::HttpRequest;

/// The header values of one client, made once.
#[derive(Debug, Clone)]
pub(crate) struct Headers {
    /// `x-api-key`, marked sensitive: the HTTP crates never print it, and
    /// HTTP/2 never puts it in its header compression table.
    api_key: Option<HeaderValue>,
}

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

impl Headers {
    pub(crate) fn new(config: &Config) -> Headers {
        let api_key = HeaderValue::from_str(config.api_key.expose())
            .ok()
            .map(|mut key| {
                key.set_sensitive(true);
                key
            });
        Headers { api_key }
    }

    /// Every header of `request`, the crate's first, then the caller's.
    pub(crate) fn pairs<'a>(
        &'a self,
        request: &'a HttpRequest,
    ) -> impl Iterator<Item = Result<(HeaderName, HeaderValue)>> + 'a {
        request.all_headers().map(move |(name, value)| {
            Ok(match (name, value) {
                ("x-api-key", key) => match &self.api_key {
                    Some(made) if made.as_bytes() == key.as_bytes() => (X_API_KEY, made.clone()),
                    _ => {
                        let mut key = HeaderValue::from_str(key).map_err(|_| {
                            Error::Config("the API key is not a valid header value".into())
                        })?;
                        key.set_sensitive(true);
                        (X_API_KEY, key)
                    }
                },
                ("accept", "*/*") => (ACCEPT, HeaderValue::from_static("*/*")),
                ("content-type", "application/json") => {
                    (CONTENT_TYPE, HeaderValue::from_static("application/json"))
                }
                (name, value) => {
                    let invalid = |what: &str| Error::InvalidArgument {
                        name: "header",
                        reason: format!("{name:?} is not a valid header {what}"),
                    };
                    let mut value = HeaderValue::from_str(value).map_err(|_| invalid("value"))?;
                    // A caller's header may carry a credential (`authorization`,
                    // a token): never printed by the HTTP crates, never put in
                    // HTTP/2's header compression table.
                    if crate::redact::is_credential_key(name) {
                        value.set_sensitive(true);
                    }
                    (
                        HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("name"))?,
                        value,
                    )
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientBuilder;
    use crate::sans_io::RequestBuilder;

    #[test]
    fn the_key_and_credential_headers_are_sensitive_others_are_not() {
        let config = ClientBuilder::new()
            .api_key("k")
            .base_url("https://inbound.xpander.ai")
            .build_config()
            .unwrap();
        let headers = Headers::new(&config);
        let mut request = RequestBuilder::new(config).get("t").unwrap();
        crate::options::CallOptions::new()
            .header("authorization", "Bearer s3cret")
            .header("x-trace-id", "abc")
            .apply(&mut request)
            .unwrap();
        let pairs: Vec<(HeaderName, HeaderValue)> =
            headers.pairs(&request).map(|pair| pair.unwrap()).collect();
        let sensitive = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, v)| v.is_sensitive())
        };
        assert_eq!(sensitive("x-api-key"), Some(true));
        assert_eq!(sensitive("authorization"), Some(true));
        assert_eq!(sensitive("x-trace-id"), Some(false));
    }
}
