//! The public REST API v1, sans-IO: its URLs and query (its endpoints are
//! declared with the others in [`super::request`]), the walk over all pages
//! ([`Pager`]) and the streamed invoke ([`InvokeSession`]) decided here. The
//! faces only move bytes (see [`crate::public`] for the operations and
//! their rules).

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::collections::VecDeque;

use super::sse::{SseDecoder, SseLimits};

use crate::error::{Error, Result, TransportError, TransportErrorKind};
use crate::model::{InvokeEvent, TaskListItem, TaskPage};
use crate::public::TaskQuery;

/// The page size the service uses when none is asked for.
const DEFAULT_PER_PAGE: u32 = 20;

/// The walk over every page of a task list, sans-IO: which page to ask for
/// next, what of each page to yield, when to stop (see
/// [`crate::public`]'s "Paging over a list that changes" for what it
/// guarantees). It holds at most one page of items and the ids of the page
/// before.
///
/// ```
/// use xpander_sdk::sans_io::public::Pager;
/// use xpander_sdk::model::TaskPage;
/// use xpander_sdk::public::TaskQuery;
///
/// let mut pager = Pager::new(TaskQuery::new().per_page(2))?;
/// assert_eq!(pager.next_query().unwrap().page, Some(1));
/// let page: TaskPage = serde_json::from_str(r#"{"items": [
///     {"id": "a", "agent_id": "x", "organization_id": "o", "created_at": "2025-11-06T06:05:43Z"},
///     {"id": "b", "agent_id": "x", "organization_id": "o", "created_at": "2025-11-06T06:05:43Z"}],
///     "total": 3, "page": 1, "per_page": 2, "total_pages": 2}"#)?;
/// pager.on_page(page);
/// assert_eq!(pager.next_item().unwrap().id, "a");
/// assert_eq!(pager.next_item().unwrap().id, "b");
/// assert_eq!(pager.next_query().unwrap().page, Some(2));
/// let last: TaskPage = serde_json::from_str(r#"{"items": [], "total": 2, "page": 2,
///     "per_page": 2, "total_pages": 1}"#)?;
/// pager.on_page(last);
/// assert!(pager.next_item().is_none() && pager.next_query().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pager {
    query: TaskQuery,
    /// The next page to ask for.
    next: u32,
    /// Items of the last page not yielded yet.
    buffer: VecDeque<TaskListItem>,
    /// The ids of the page before, in order: what a shifted page repeats.
    previous: Vec<String>,
    done: bool,
    pages: u64,
}

impl Pager {
    /// A walk from `query.page` (default 1) with `query`'s size and filters;
    /// refused as the service would (`per_page` 1..=50, `page` from 1)
    /// before anything is sent.
    pub fn new(query: TaskQuery) -> Result<Pager> {
        query.check()?;
        Ok(Pager {
            next: query.page.unwrap_or(1),
            query,
            buffer: VecDeque::new(),
            previous: Vec::new(),
            done: false,
            pages: 0,
        })
    }

    /// The next item of the page held, if any.
    pub fn next_item(&mut self) -> Option<TaskListItem> {
        self.buffer.pop_front()
    }

    /// The query of the next page to fetch, once the page held is drained;
    /// `None` when the walk is over.
    pub fn next_query(&self) -> Option<TaskQuery> {
        if self.done || !self.buffer.is_empty() {
            return None;
        }
        let mut query = self.query.clone();
        query.page = Some(self.next);
        Some(query)
    }

    /// Whether the walk is over (every page read, or an error ended it).
    pub fn is_done(&self) -> bool {
        self.done && self.buffer.is_empty()
    }

    /// Pages read so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Takes the page just fetched: its items that the page before did not
    /// hold are yielded next. The walk ends after page `total_pages` (as
    /// this page says; without it, after a page shorter than `per_page`),
    /// at an empty page, at a page the same as the one before, or at an
    /// answer that names another page than the one asked for (a server
    /// that ignores `page` cannot make it loop).
    pub fn on_page(&mut self, page: TaskPage) {
        self.pages = self.pages.saturating_add(1);
        let asked = self.next;
        // An answer that names another page than the one asked for (a
        // server that ignores `page`, or clamps it to its last page): its
        // items are not this page's, and asking on would not move.
        if page.page.is_some_and(|p| p != i64::from(asked)) {
            self.done = true;
            self.buffer.clear();
            return;
        }
        let items = page.items;
        let fetched = items.len();
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        let repeated = ids == self.previous;
        let fresh: VecDeque<TaskListItem> = items
            .into_iter()
            .filter(|item| !self.previous.contains(&item.id))
            .collect();
        let last = match page.total_pages {
            Some(total) => i64::from(asked) >= total,
            None => {
                let size = self.query.per_page.unwrap_or(DEFAULT_PER_PAGE);
                u32::try_from(fetched).is_ok_and(|n| n < size)
            }
        };
        if fetched == 0 || repeated || last {
            self.done = true;
        }
        match asked.checked_add(1) {
            Some(next) => self.next = next,
            None => self.done = true,
        }
        self.previous = ids;
        self.buffer = fresh;
    }

    /// Ends the walk (after an error: the faces yield it, then nothing).
    pub fn stop(&mut self) {
        self.done = true;
        self.buffer.clear();
    }
}

/// A streamed invoke, sans-IO: the answer's head checked, the body decoded
/// with the crate's SSE decoder and limits into [`InvokeEvent`]s, the end
/// decided. Never reconnects: the request ran an agent.
#[derive(Debug)]
pub struct InvokeSession {
    decoder: SseDecoder,
    delivered: u64,
    skipped: u64,
    state: InvokeState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvokeState {
    Open,
    /// The terminal event was yielded, or the body ended.
    Ended,
}

impl InvokeSession {
    /// A session for a stream whose answer head was `status` with
    /// `content_type`: `Ok` for a 2xx `text/event-stream`; an error
    /// otherwise (`None` for a non-2xx answer, whose body the face reads
    /// to build the API error).
    pub fn open(
        status: u16,
        content_type: Option<&str>,
        limits: SseLimits,
    ) -> std::result::Result<InvokeSession, Option<Error>> {
        if !(200..300).contains(&status) {
            return Err(None);
        }
        if !content_type.is_some_and(super::stream::is_event_stream) {
            // Bounded: the header comes from the network.
            let got: String = content_type.unwrap_or("(none)").chars().take(100).collect();
            return Err(Some(Error::Transport(TransportError::new(
                TransportErrorKind::Protocol,
                format!(
                    "the invoke stream answered {status} with content type {got:?}, not text/event-stream"
                ),
                None,
            ))));
        }
        Ok(InvokeSession {
            decoder: SseDecoder::with_limits(limits),
            delivered: 0,
            skipped: 0,
            state: InvokeState::Open,
        })
    }

    /// Feeds body bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.state == InvokeState::Open {
            self.decoder.feed(bytes);
        }
    }

    /// The next event decoded, if one is complete; events over the limits
    /// are skipped (counted in [`Self::skipped`]), as on the task streams.
    pub fn next_event(&mut self) -> Option<InvokeEvent> {
        if self.state != InvokeState::Open {
            return None;
        }
        loop {
            match self.decoder.next_event()? {
                Ok(event) => {
                    let parsed = InvokeEvent::from_sse(event.event(), event.data(), event.id());
                    self.delivered = self.delivered.saturating_add(1);
                    if parsed.is_terminal() {
                        self.state = InvokeState::Ended;
                    }
                    return Some(parsed);
                }
                Err(_) => self.skipped = self.skipped.saturating_add(1),
            }
        }
    }

    /// The body ended cleanly: events still complete are yielded, then the
    /// stream is over.
    pub fn on_end(&mut self) {
        self.decoder.finish();
    }

    /// After the body's end was fed and drained: the session is over.
    pub fn close(&mut self) {
        self.state = InvokeState::Ended;
    }

    /// The error of a stream that broke off (a transport error, or no byte
    /// for the idle timeout): it says the stream was cut and is not replayed.
    pub fn cut(&mut self, why: Error) -> Error {
        self.state = InvokeState::Ended;
        let delivered = self.delivered;
        let reason = why.to_string();
        let kind = match &why {
            Error::Transport(t) => t.kind,
            _ => TransportErrorKind::Disconnected,
        };
        Error::Transport(TransportError::new(
            kind,
            format!(
                "the invoke stream was cut after {delivered} events, before its terminal event; \
                 the agent may still be running (an invoke is never replayed): {reason}"
            ),
            Some(Box::new(why)),
        ))
    }

    /// Whether the stream is over.
    pub fn is_ended(&self) -> bool {
        self.state == InvokeState::Ended
    }

    /// Events yielded so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Events skipped (over the decoder's limits).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientBuilder;
    use crate::model::Deleted;
    use crate::public::Invoke;
    use crate::sans_io::Core;
    use crate::sans_io::{Method, Operation};

    fn core(vars: &'static [(&'static str, &'static str)]) -> Result<Core> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        ClientBuilder::new()
            .api_key("k")
            .with_vars(lookup)
            .into_config()
            .map(Core::new)
    }

    #[test]
    fn the_public_url_comes_from_the_environment_under_the_same_rules() {
        let c = core(&[("XPANDER_PUBLIC_API_URL", "https://api.example.com/")]).unwrap();
        let request = c.get_task("t/1").unwrap();
        assert_eq!(
            request.uri().to_string(),
            "https://api.example.com/v1/tasks/t%2F1"
        );
        assert_eq!(request.operation, Operation::GetTask);
        let c = core(&[("XPANDER_PUBLIC_API_URL", " ")]).unwrap();
        assert_eq!(
            c.config.public_api_url, "https://api.xpander.ai",
            "empty: the default"
        );
        assert!(core(&[("XPANDER_PUBLIC_API_URL", "http://api.example.com")]).is_err());
        assert!(
            core(&[("XPANDER_PUBLIC_API_URL", "http://localhost:8085")]).is_ok(),
            "loopback"
        );
        let err =
            core(&[("XPANDER_PUBLIC_API_URL", "https://u:SECRET@api.example.com")]).unwrap_err();
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn requests_of_every_operation() {
        let c = core(&[]).unwrap();
        let invoke = c.invoke_stream("agent 1", &Invoke::new("hi")).unwrap();
        assert_eq!(
            invoke.uri().to_string(),
            "https://api.xpander.ai/v1/agents/agent%201/invoke/stream"
        );
        assert_eq!(invoke.header("accept"), Some("text/event-stream"));
        assert!(!invoke.operation.is_idempotent());
        for invoke in [Core::invoke, Core::invoke_async] {
            assert!(!invoke(&c, "a", &Invoke::new("x"))
                .unwrap()
                .operation
                .is_idempotent());
        }
        assert!(c.invoke("..", &Invoke::new("x")).is_err());
        let q = TaskQuery::new()
            .page(3)
            .per_page(50)
            .agent_id("a&b")
            .status("queued");
        assert_eq!(
            c.list_tasks(&q).unwrap().uri().to_string(),
            "https://api.xpander.ai/v1/tasks?page=3&per_page=50&agent_id=a%26b&status=queued"
        );
        assert_eq!(
            c.agent_tasks("x", &q).unwrap().uri().to_string(),
            "https://api.xpander.ai/v1/agents/x/tasks?page=3&per_page=50&status=queued",
            "the path names the agent"
        );
        let delete = c.delete_task("t").unwrap();
        assert!(delete.operation.is_idempotent() && delete.method() == Method::DELETE);
        assert!(c
            .full_thread("t")
            .unwrap()
            .uri()
            .to_string()
            .ends_with("/v1/tasks/t/thread/full"));
        let deleted = c
            .parse::<Deleted>(crate::sans_io::answer(
                http::StatusCode::from_u16(204).unwrap(),
                None,
                Vec::new(),
            ))
            .unwrap();
        assert_eq!((deleted.status, deleted.message), (204, None));
        let deleted = c
            .parse::<Deleted>(crate::sans_io::answer(
                http::StatusCode::from_u16(200).unwrap(),
                None,
                br#"{"message":"gone"}"#.to_vec(),
            ))
            .unwrap();
        assert_eq!(deleted.message.as_deref(), Some("gone"));
        assert!(c
            .parse::<Deleted>(crate::sans_io::answer(
                http::StatusCode::from_u16(404).unwrap(),
                None,
                b"{}".to_vec()
            ))
            .is_err());
    }
}
