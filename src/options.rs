//! Per-call options: a deadline, a timeout, a retry policy and extra headers
//! for the calls made through one view of the client
//! ([`crate::Tasks::with_options`]).
//!
//! Shared, no I/O: both faces apply the same [`CallOptions`] the same way
//! (the retry loop in `src/front.rs`, the headers in each request).

use std::fmt;
use std::time::Duration;

use crate::config::RetryPolicy;
use crate::error::{Error, Result};
use crate::params::setters;
use crate::sans_io::HttpRequest;
use http::header::{HeaderName, HeaderValue};

/// Options for the calls made through a view of the client
/// ([`crate::Tasks::with_options`]); every unset field keeps the client's
/// configuration. Plain data; its `Debug` shows header names, never values
/// (they may carry credentials).
///
/// ```
/// use std::time::Duration;
/// use xpander_sdk::{CallOptions, RetryPolicy, Tasks};
///
/// let tasks = Tasks::builder().api_key("my-key").build()?;
/// let urgent = tasks.with_options(
///     CallOptions::new()
///         .deadline(Duration::from_secs(5))
///         .retry(RetryPolicy::default().max_attempts(2))
///         .header("x-trace-id", "abc-123"),
/// );
/// // `urgent` has every method of `tasks` (update, aupdate, ...), over the
/// // same connection pools.
/// assert_eq!(urgent.options().deadline_value(), Some(Duration::from_secs(5)));
/// # Ok::<(), xpander_sdk::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CallOptions {
    deadline: Option<Duration>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The first header refused (its name as
    /// [`crate::headers::shown_name`] shows it), and why: reported by
    /// every call.
    refused: Option<(String, &'static str)>,
}

impl CallOptions {
    /// No options: every call as the client is configured.
    pub fn new() -> CallOptions {
        CallOptions::default()
    }

    setters! {
        /// The time a whole call may take, retries and their waits included
        /// (overrides [`crate::ClientBuilder::deadline`]). No retry is started
        /// whose wait would pass it, and each attempt's timeout is cut to what
        /// is left. When it passes, the call fails with a timeout
        /// ([`crate::Error::is_timeout`]) or the last answer.
        deadline(Duration) => Some,
        /// The whole-request timeout of each attempt (overrides
        /// [`crate::ClientBuilder::request_timeout`]).
        timeout(Duration) => Some,
        /// The retry policy of these calls (overrides [`crate::ClientBuilder::retry`]).
        retry(RetryPolicy) => Some,
    }

    /// Adds a header to every request of these calls. A name that is not a
    /// valid header name, one the crate sets itself (`x-api-key`, `host`,
    /// `content-length`, `transfer-encoding`, `connection`, …) or a value with
    /// control characters makes every call through these options fail with
    /// [`crate::Error::InvalidArgument`] before anything is sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> CallOptions {
        let name = name.into().to_ascii_lowercase();
        match crate::headers::extra(&name, &value.into()) {
            Ok(header) => self.headers.push(header),
            Err(why) => {
                // Never the whole name: a value pasted into it may follow.
                let shown = crate::headers::shown_name(&name);
                self.refused.get_or_insert((shown, why));
            }
        }
        self
    }

    /// The deadline set, if any.
    pub fn deadline_value(&self) -> Option<Duration> {
        self.deadline
    }

    /// The per-attempt timeout set, if any.
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
    }

    /// The retry policy set, if any.
    pub fn retry_value(&self) -> Option<RetryPolicy> {
        self.retry
    }

    /// The names of the extra headers, in order.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(name, _)| name.as_str())
    }

    /// Adds the extra headers to `request`, or reports the refused one.
    pub(crate) fn apply(&self, request: &mut HttpRequest) -> Result<()> {
        if let Some((name, why)) = &self.refused {
            return Err(Error::InvalidArgument {
                name: "CallOptions::header",
                reason: format!("{name:?} {why}"),
            });
        }
        for (name, value) in &self.headers {
            request.headers_mut().append(name, value.clone());
        }
        Ok(())
    }
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("CallOptions")
            .field("deadline", &self.deadline)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("headers", &headers)
            .field("refused", &self.refused.as_ref().map(|(name, _)| name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_header_is_kept_and_reported() {
        let o = CallOptions::new()
            .header("X-API-KEY", "other")
            .header("x-ok", "1");
        assert!(o.refused.is_some());
    }

    #[test]
    fn the_key_and_credential_headers_are_sensitive_others_are_not() {
        let config = crate::config::ClientBuilder::new()
            .api_key("k")
            .base_url("https://inbound.xpander.ai")
            .build_config()
            .unwrap();
        let mut request = crate::sans_io::RequestBuilder::new(config)
            .get("t")
            .unwrap();
        CallOptions::new()
            .header("authorization", "Bearer s3cret")
            .header("x-trace-id", "abc")
            .apply(&mut request)
            .unwrap();
        let sensitive = |name: &str| request.headers().get(name).map(|v| v.is_sensitive());
        assert_eq!(sensitive("x-api-key"), Some(true));
        assert_eq!(sensitive("authorization"), Some(true));
        assert_eq!(sensitive("x-trace-id"), Some(false));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let o = CallOptions::new().header("authorization", "Bearer s3cret");
        let shown = format!("{o:?}");
        assert!(
            shown.contains("authorization") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
