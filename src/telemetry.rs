//! Tracing of logical calls (feature `tracing`): one span per call with the
//! operation, the id it names, the attempt count, the final status and the
//! latency, and one event per retry. Never the API key, never a body.
//! Without the feature every function here is an empty inline call.

use std::time::Duration;

use crate::error::Error;
use crate::sans_io::retry::Retrier;
use crate::sans_io::{HttpRequest, HttpResponse};

/// The span of one logical call. (Parameters named `_x` are used with the
/// feature only.)
pub(crate) struct Call {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    #[cfg(feature = "tracing")]
    started: std::time::Instant,
}

impl Call {
    /// Opens the span of `request`'s call.
    #[inline]
    pub(crate) fn start(_request: &HttpRequest) -> Call {
        Call {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                "xpander_sdk.call",
                operation = _request.operation.as_str(),
                id = _request.resource_id.as_str(),
                method = _request.method().as_str(),
                attempts = tracing::field::Empty,
                status = tracing::field::Empty,
                error = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
            ),
            #[cfg(feature = "tracing")]
            started: std::time::Instant::now(),
        }
    }

    /// Records that the call will be tried again after `wait`.
    #[inline]
    pub(crate) fn retry(&self, _retrier: &Retrier, _wait: Duration) {
        #[cfg(feature = "tracing")]
        {
            use crate::sans_io::retry::Reason;
            let (status, transport) = match _retrier.reason() {
                Some(Reason::Status(status)) => (Some(status), None),
                Some(Reason::Transport(kind)) => (None, Some(format!("{kind:?}"))),
                None => (None, None),
            };
            tracing::event!(
                parent: &self.span,
                tracing::Level::WARN,
                attempt = _retrier.attempts(),
                wait_ms = _wait.as_millis() as u64,
                status,
                transport,
                "retrying"
            );
        }
    }

    /// Records the call's outcome on its span.
    #[inline]
    pub(crate) fn finish(&self, _retrier: &Retrier, _outcome: &Result<HttpResponse, Error>) {
        #[cfg(feature = "tracing")]
        {
            self.span.record("attempts", _retrier.attempts());
            let status = match _outcome {
                Ok(response) => Some(response.status().as_u16()),
                Err(error) => error.status(),
            };
            if let Some(status) = status {
                self.span.record("status", status);
            }
            if let Err(error) = _outcome {
                let class = format!("{:?}", error.class());
                self.span.record("error", class.as_str());
            }
            self.span
                .record("latency_ms", self.started.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

/// A malformed event of a task's stream was skipped (a warning, with the
/// reason, never the event's data).
#[inline]
pub(crate) fn skipped_event(_task_id: &str, _reason: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        task_id = _task_id,
        reason = _reason,
        "skipped a malformed event"
    );
}

/// A notice of the agent worker (feature `runtime`): an event at its level,
/// with the task id when it is about one. Notices carry no task data and
/// no credential.
#[cfg(feature = "runtime")]
#[inline]
pub(crate) fn worker_notice(_notice: &crate::sans_io::worker::Notice) {
    #[cfg(feature = "tracing")]
    {
        use crate::sans_io::worker::Level;
        let task_id = _notice.task_id.as_deref().unwrap_or("");
        let message = _notice.message.as_str();
        match _notice.level {
            Level::Info => tracing::info!(task_id, "{message}"),
            Level::Warn => tracing::warn!(task_id, "{message}"),
            _ => tracing::error!(task_id, "{message}"),
        }
    }
}
