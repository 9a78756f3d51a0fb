//! The loop that drives the sans-IO [`sans_io::worker::WorkerMachine`]: it hands the
//! worker every input (stream bytes, answers, handler outcomes, time,
//! shutdown requests) and carries out the effects it answers. It never
//! waits on a request or a handler: each runs in a task of its own and
//! comes back as a message.
//!
//! [`sans_io::worker::WorkerMachine`]: crate::sans_io::worker::WorkerMachine

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::handler::{BoxError, Handler, TaskContext, TaskFailed};
use super::{Exit, ExitReason, NoticeFn, RunError};
use crate::error::{Error, Result};
use crate::front::nonblocking::{Stream as _, Transport as _};
use crate::sans_io::stream::Disconnect;
use crate::sans_io::worker::{
    Call, Effect, HandlerOutcome, HandlerStart, Notice, StopReason, WorkerMachine as Core,
};
use crate::sans_io::{HttpRequest, HttpResponse, StreamRead};
use crate::Tasks;

/// How the run ends, from the core's [`Effect::Finished`].
type Finished = std::result::Result<Exit, RunError>;

/// What a handler's tokio task gives back.
type HandlerResult = std::result::Result<crate::model::Task, BoxError>;

/// What the stream's reader tells the loop.
enum StreamMsg {
    /// The answer's head.
    Opened {
        status: u16,
        content_type: Option<String>,
    },
    Bytes(Vec<u8>),
    End(Disconnect),
    /// The body of an error answer (or the failure to read it).
    ErrorAnswer(Result<HttpResponse>),
}

/// What the reader does after the head, as the core decided.
enum ReadMode {
    Events,
    ErrorBody,
}

/// The reader of the current connection.
struct StreamTask {
    task: JoinHandle<()>,
    decide: Option<oneshot::Sender<ReadMode>>,
}

/// A running handler.
struct Running {
    cancel: CancellationToken,
    abort: AbortHandle,
    id: tokio::task::Id,
}

/// Stream messages buffered between the reader and the loop: the reader
/// waits when the loop is behind (backpressure on the socket, never
/// unbounded memory).
const STREAM_BUFFER: usize = 32;

/// Releases waiting for a place in flight past which the loop stops
/// reading the stream: the reader then waits on
/// [`STREAM_BUFFER`], and the socket's window fills (backpressure on the
/// server instead of a growing queue).
const WAITING_SIDE_CALLS: usize = 64;

pub(crate) struct Driver {
    core: Core,
    tasks: Tasks,
    handler: Arc<dyn Handler>,
    notice: Option<NoticeFn>,
    stream_tx: mpsc::Sender<(u64, StreamMsg)>,
    stream_rx: mpsc::Receiver<(u64, StreamMsg)>,
    stream: Option<StreamTask>,
    /// The number of the current connection; messages of older ones are
    /// dropped.
    generation: u64,
    handlers: HashMap<String, Running>,
    /// The handlers' tokio tasks (each handler is called inside its own:
    /// a panic in it, before its first `.await` too, ends that task
    /// alone). Dropping the set, as dropping the driver does, aborts them.
    running: JoinSet<HandlerResult>,
    /// The task of each handler's tokio task.
    by_id: HashMap<tokio::task::Id, String>,
    /// Requests under way, each answering with its call (aborted when the
    /// loop ends: by then the core has settled every task, only worker
    /// events may be left).
    calls: JoinSet<(Call, Result<HttpResponse>)>,
    /// The call of each request's tokio task: a task that panicked still
    /// answers its call (with an error), so its slot or side-call place is
    /// never held for ever.
    call_of: HashMap<tokio::task::Id, Call>,
    /// The core's readiness, published after every step.
    ready: Arc<watch::Sender<bool>>,
}

impl Driver {
    pub(crate) fn new(
        core: Core,
        tasks: Tasks,
        handler: Arc<dyn Handler>,
        notice: Option<NoticeFn>,
        ready: Arc<watch::Sender<bool>>,
    ) -> Driver {
        let (stream_tx, stream_rx) = mpsc::channel(STREAM_BUFFER);
        Driver {
            core,
            tasks,
            handler,
            notice,
            stream_tx,
            stream_rx,
            stream: None,
            generation: 0,
            handlers: HashMap::new(),
            running: JoinSet::new(),
            by_id: HashMap::new(),
            calls: JoinSet::new(),
            call_of: HashMap::new(),
            ready,
        }
    }

    /// Runs the worker until the core says it is finished: `shutdown`
    /// counts the shutdown requests (each one is handed to the core: the
    /// second ends the drain), `signal` is one more.
    pub(crate) async fn run<S>(mut self, mut shutdown: watch::Receiver<u64>, signal: S) -> Finished
    where
        S: Future<Output = ()>,
    {
        let mut signal = std::pin::pin!(signal);
        let mut signalled = false;
        let mut seen = 0u64;
        let mut shutdown_open = true;
        let mut effects: VecDeque<Effect> = self.core.start().into();
        loop {
            let finished = self.apply_all(&mut effects);
            let ready = finished.is_none() && self.core.is_ready();
            self.ready
                .send_if_modified(|was| std::mem::replace(was, ready) != ready);
            if let Some(finished) = finished {
                self.stop();
                return finished;
            }
            let wakeup = self.core.next_wakeup().map(tokio::time::Instant::from_std);
            let next = tokio::select! {
                changed = shutdown.changed(), if shutdown_open => {
                    if changed.is_err() {
                        shutdown_open = false;
                        Vec::new()
                    } else {
                        let count = *shutdown.borrow_and_update();
                        let asked = count.saturating_sub(seen).min(2);
                        seen = count;
                        let mut fx = Vec::new();
                        for _ in 0..asked {
                            fx.extend(self.core.begin_shutdown(Instant::now()));
                        }
                        fx
                    }
                }
                () = &mut signal, if !signalled => {
                    signalled = true;
                    self.core.begin_shutdown(Instant::now())
                }
                Some(joined) = self.calls.join_next_with_id() => self.on_answer(joined),
                Some(joined) = self.running.join_next_with_id() => self.on_joined(joined),
                // Releases waiting for a place: the stream is not read
                // until they drain, so a burst pushes back on the socket.
                Some((generation, msg)) = self.stream_rx.recv(),
                    if self.core.side_calls().1 < WAITING_SIDE_CALLS => {
                    if generation == self.generation {
                        self.on_stream(msg)
                    } else {
                        Vec::new()
                    }
                }
                () = sleep_until(wakeup) => self.core.on_tick(Instant::now()),
            };
            effects.extend(next);
        }
    }

    /// Carries out effects (and those their immediate failures give) until
    /// none is left, or the core is finished.
    fn apply_all(&mut self, effects: &mut VecDeque<Effect>) -> Option<Finished> {
        let mut finished = None;
        while let Some(effect) = effects.pop_front() {
            match effect {
                Effect::OpenStream(request) => self.open_stream(request),
                Effect::ReadStream => self.decide(ReadMode::Events),
                Effect::ReadStreamError => self.decide(ReadMode::ErrorBody),
                Effect::CloseStream => self.close_stream(),
                Effect::Send { call, request } => self.send(call, request),
                Effect::SendHeartbeat { worker_id } => {
                    match self.core.heartbeat_request(&worker_id, SystemTime::now()) {
                        Ok(request) => self.send(Call::Heartbeat { worker_id }, request),
                        Err(error) => effects.extend(self.core.on_response(
                            Call::Heartbeat { worker_id },
                            Err(error),
                            Instant::now(),
                        )),
                    }
                }
                Effect::StartHandler(start) => self.start_handler(*start),
                Effect::CancelHandler { task_id, .. } => {
                    if let Some(running) = self.handlers.get(&task_id) {
                        running.cancel.cancel();
                    }
                }
                Effect::AbortHandler { task_id } => {
                    // Its end is not reported: the core settled it.
                    if let Some(running) = self.handlers.remove(&task_id) {
                        running.cancel.cancel();
                        running.abort.abort();
                        self.by_id.remove(&running.id);
                    }
                }
                Effect::Notice(notice) => self.log(&notice),
                Effect::Finished {
                    reason,
                    abandoned,
                    unsaved,
                } => {
                    let reason = match reason {
                        StopReason::Conflict { message } => ExitReason::Conflict { message },
                        StopReason::Fatal(error) => {
                            finished = Some(Err(RunError::Fatal(error)));
                            continue;
                        }
                        StopReason::Shutdown => ExitReason::Shutdown,
                    };
                    finished = Some(Ok(Exit {
                        reason,
                        abandoned,
                        unsaved,
                    }));
                }
            }
        }
        finished
    }

    /// A handler's tokio task ended: returned, failed, panicked or was
    /// aborted.
    fn on_joined(
        &mut self,
        joined: std::result::Result<(tokio::task::Id, HandlerResult), tokio::task::JoinError>,
    ) -> Vec<Effect> {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(error) => error.id(),
        };
        // An aborted handler (by the core's decision) is not reported.
        let Some(task_id) = self.by_id.remove(&id) else {
            return Vec::new();
        };
        self.handlers.remove(&task_id);
        let outcome = outcome(joined.map(|(_, result)| result));
        self.core.on_handler_done(&task_id, outcome)
    }

    fn on_stream(&mut self, msg: StreamMsg) -> Vec<Effect> {
        let now = Instant::now();
        match msg {
            StreamMsg::Opened {
                status,
                content_type,
            } => self
                .core
                .on_stream_open(status, content_type.as_deref(), now),
            StreamMsg::Bytes(bytes) => self.core.on_stream_bytes(&bytes, now),
            StreamMsg::End(why) => {
                self.stream = None;
                self.core.on_stream_end(why, now)
            }
            StreamMsg::ErrorAnswer(answer) => {
                self.stream = None;
                let error = match answer {
                    Ok(answer) => match self.core.requests().check(answer) {
                        Err(error) => error,
                        Ok(()) => Error::invalid("stream", "an error answer had a 2xx status"),
                    },
                    Err(error) => error,
                };
                self.core.on_stream_end(Disconnect::Error(error), now)
            }
        }
    }

    // ----- the stream ------------------------------------------------------

    fn open_stream(&mut self, request: HttpRequest) {
        self.close_stream();
        let (decide_tx, decide_rx) = oneshot::channel();
        let policy = self.core.stream_policy();
        let reader = Reader {
            tasks: self.tasks.clone(),
            connect_timeout: policy.connect_timeout,
            idle_timeout: policy.idle_timeout,
            generation: self.generation,
            tx: self.stream_tx.clone(),
        };
        self.stream = Some(StreamTask {
            task: tokio::spawn(reader.run(request, decide_rx)),
            decide: Some(decide_tx),
        });
    }

    fn decide(&mut self, mode: ReadMode) {
        if let Some(decide) = self.stream.as_mut().and_then(|s| s.decide.take()) {
            let _ = decide.send(mode);
        }
    }

    /// Drops the connection; whatever its reader sent is ignored from now.
    fn close_stream(&mut self) {
        if let Some(stream) = self.stream.take() {
            stream.task.abort();
        }
        self.generation = self.generation.wrapping_add(1);
    }

    // ----- requests and handlers -------------------------------------------

    fn send(&mut self, call: Call, request: HttpRequest) {
        let tasks = self.tasks.clone();
        let kept = call.clone();
        let id = self
            .calls
            .spawn(async move { (call, tasks.send_async(request).await) })
            .id();
        self.call_of.insert(id, kept);
    }

    /// A request's answer; a request task that panicked (or was aborted)
    /// answers its call with a transport error.
    fn on_answer(
        &mut self,
        joined: std::result::Result<
            (tokio::task::Id, (Call, Result<HttpResponse>)),
            tokio::task::JoinError,
        >,
    ) -> Vec<Effect> {
        let (call, answer) = match joined {
            Ok((id, answered)) => {
                self.call_of.remove(&id);
                answered
            }
            Err(error) => {
                let Some(call) = self.call_of.remove(&error.id()) else {
                    return Vec::new();
                };
                let why = if error.is_panic() {
                    "it panicked"
                } else {
                    "it was cancelled"
                };
                let failed = crate::error::TransportError::new(
                    crate::error::TransportErrorKind::Other,
                    format!("the request's task ended without an answer ({why})"),
                    None,
                );
                (call, Err(crate::Error::Transport(failed)))
            }
        };
        self.core.on_response(call, answer, Instant::now())
    }

    fn start_handler(&mut self, start: HandlerStart) {
        let HandlerStart {
            task,
            attempt,
            deadline,
            llm_gateway,
        } = start;
        let cancel = CancellationToken::new();
        let task_id = task.id.clone();
        let ctx = TaskContext::new(
            self.tasks.clone(),
            &task,
            attempt,
            deadline,
            cancel.clone(),
            llm_gateway,
        );
        // Called inside its own task: a panic anywhere in the handler
        // (before its first `.await` too) ends that task alone, and
        // blocking code there never stalls the loop.
        let handler = self.handler.clone();
        let abort = self
            .running
            .spawn(async move { handler.handle(task, ctx).await });
        let id = abort.id();
        self.by_id.insert(id, task_id.clone());
        self.handlers.insert(task_id, Running { cancel, abort, id });
    }

    fn log(&self, notice: &Notice) {
        // A notice may quote the server (a conflict's message, cut to a
        // bound) or an error: no part of a secret goes to a log.
        let secrets = self.tasks.inner.shared.core.secrets();
        let scrubbed;
        let notice = if secrets.is_empty() {
            notice
        } else {
            let mut clean = notice.clone();
            clean.message = secrets.scrub(&notice.message).into_owned();
            if let Some(id) = clean.task_id.as_mut() {
                *id = secrets.scrub(id).into_owned();
            }
            scrubbed = clean;
            &scrubbed
        };
        crate::telemetry::worker_notice(notice);
        if let Some(callback) = &self.notice {
            callback(notice);
        }
    }

    /// The end: the stream closed, handlers still running (cancelled, their
    /// tasks already saved) aborted, worker events under way dropped.
    fn stop(&mut self) {
        self.close_stream();
        for running in self.handlers.values() {
            running.cancel.cancel();
        }
        self.handlers.clear();
        self.by_id.clear();
        self.running.abort_all();
        self.calls.abort_all();
        self.call_of.clear();
    }
}

/// The drop guard of a run: dropping the future of `Worker::run` (in a
/// `select!`, a timeout) drops the driver, which cancels every handler's
/// token and aborts the handlers, the requests and the stream left.
impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How a handler's task ended, for the core.
fn outcome(joined: std::result::Result<HandlerResult, tokio::task::JoinError>) -> HandlerOutcome {
    match joined {
        Ok(Ok(task)) => HandlerOutcome::Finished(Box::new(task)),
        Ok(Err(error)) => match error.downcast::<TaskFailed>() {
            Ok(failed) => {
                let (error, task) = failed.into_parts();
                HandlerOutcome::Failed {
                    message: error.to_string(),
                    task: Some(task),
                }
            }
            Err(error) => HandlerOutcome::Failed {
                message: error.to_string(),
                task: None,
            },
        },
        Err(error) if error.is_panic() => {
            let payload = error.into_panic();
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic payload".to_owned());
            HandlerOutcome::Failed {
                message: format!("the handler panicked: {what}"),
                task: None,
            }
        }
        Err(_) => HandlerOutcome::Cancelled,
    }
}

/// Sleeps until `at`; never, without a time.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Opens and reads one connection of the agent stream, telling the loop.
struct Reader {
    tasks: Tasks,
    connect_timeout: Duration,
    idle_timeout: Duration,
    generation: u64,
    tx: mpsc::Sender<(u64, StreamMsg)>,
}

impl Reader {
    async fn run(self, request: HttpRequest, decide: oneshot::Receiver<ReadMode>) {
        let mut body = match self.open(request).await {
            Ok(body) => body,
            Err(error) => {
                self.tell(StreamMsg::End(Disconnect::Error(error))).await;
                return;
            }
        };
        let opened = StreamMsg::Opened {
            status: body.status(),
            content_type: body.header("content-type"),
        };
        if !self.tell(opened).await {
            return;
        }
        match decide.await {
            Ok(ReadMode::Events) => loop {
                let msg = match body.read().await {
                    Ok(StreamRead::Bytes(bytes)) => StreamMsg::Bytes(bytes),
                    Ok(StreamRead::End) => StreamMsg::End(Disconnect::Eof),
                    Ok(StreamRead::Idle) => StreamMsg::End(Disconnect::IdleTimeout),
                    Err(error) => StreamMsg::End(Disconnect::Error(error)),
                };
                let last = matches!(msg, StreamMsg::End(_));
                if !self.tell(msg).await || last {
                    return;
                }
            },
            Ok(ReadMode::ErrorBody) => {
                let answer = body.into_answer().await;
                self.tell(StreamMsg::ErrorAnswer(answer)).await;
            }
            // The loop closed the connection.
            Err(_) => {}
        }
    }

    /// The connection and the answer's head, within the connect timeout;
    /// each read then within the idle timeout.
    async fn open(&self, mut request: HttpRequest) -> Result<crate::nonblocking::Streaming> {
        let inner = &self.tasks.inner;
        if let Some(options) = inner.options.as_ref() {
            options.apply(&mut request)?;
        }
        let transport = inner.shared.nonblocking()?;
        transport
            .open_within(&request, Some(self.connect_timeout), self.idle_timeout)
            .await
            .map_err(|error| {
                let url = request.uri().to_string();
                crate::diagnose::locate(error, request.method(), &url, &inner.shared.core)
            })
    }

    /// Sends to the loop; false once it is gone.
    async fn tell(&self, msg: StreamMsg) -> bool {
        self.tx.send((self.generation, msg)).await.is_ok()
    }
}
