//! `xpander-tasks`: update, read, stop, list and create xpander.ai tasks,
//! follow their events, wait for their results and read their activity,
//! from shell scripts and cron jobs, over the crate's blocking client.
//!
//! Configuration comes from the same environment variables as the library
//! (`XPANDER_API_KEY`, `XPANDER_BASE_URL`, `XPANDER_ORGANIZATION_ID`,
//! `IS_STG`). The key is never accepted on the command line, where `ps` and
//! shell history would show it: `--api-key-env NAME` only names the variable
//! to read it from. Answers go to stdout as pretty JSON (`events`: one
//! compact JSON line per event), messages to stderr, and the exit code tells
//! the kind of failure apart, and for `wait` the final status (see
//! [`AFTER_HELP`]). Everything printed goes through the library's
//! [`redact_credentials`]: a credential in an answer (a user token, an MCP
//! server's key or headers, an auth event's access token) prints as
//! `"<redacted>"`, and no option shows it.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value};
use xpander_sdk::core::stream::StreamPolicy;
use xpander_sdk::core::wait::WaitPolicy;
use xpander_sdk::redact::redact_credentials;
use xpander_sdk::{
    AgentExecutionStatus, CreateTask, Error, ListFilter, Task, TaskEvent, Tasks, UpdateTask,
};

/// Success.
const EXIT_OK: u8 = 0;
/// Any other failure: reading stdin, writing stdout, an error kind this tool
/// does not know yet. After a write failure the change may have been applied.
const EXIT_OTHER: u8 = 1;
/// Usage error: bad arguments or options (clap's own code), a bad status or
/// payload JSON, an id the library refuses before sending anything.
const EXIT_USAGE: u8 = 2;
/// Configuration error: no API key, an unusable base URL.
const EXIT_CONFIG: u8 = 3;
/// The API answered 404: the task or agent does not exist.
const EXIT_NOT_FOUND: u8 = 4;
/// The API answered 409: a concurrent update conflict.
const EXIT_CONFLICT: u8 = 5;
/// The API answered another non-2xx status (401, 422, 500, 503 after retries, ...).
const EXIT_API: u8 = 6;
/// The server was not reached or the exchange broke off (connect, timeout, disconnect).
const EXIT_TRANSPORT: u8 = 7;
/// The server answered 2xx with a body that is not what the API promises, or too large.
const EXIT_DECODE: u8 = 8;
/// `wait`: the task reached no final status within `--timeout`.
const EXIT_TIMEOUT: u8 = 9;
/// `wait`: the task ended as `failed`.
const EXIT_FAILED: u8 = 10;
/// `wait`: the task ended as `error`.
const EXIT_ERROR: u8 = 11;
/// `wait`: the task ended as `stopped`.
const EXIT_STOPPED: u8 = 12;
/// A 404 for the route itself (FastAPI's bare `Not Found`, or anything
/// without the API's `detail`: a proxy's or gateway's page): the base URL
/// is wrong, no task was looked up.
const EXIT_UNKNOWN_ROUTE: u8 = 13;

const PROGRAM: &str = "xpander-tasks";

const AFTER_HELP: &str = "\
Environment:
  XPANDER_API_KEY          the API key (or the variable named by --api-key-env)
  XPANDER_BASE_URL         the API base URL (default https://inbound.xpander.ai)
  XPANDER_ORGANIZATION_ID  the organization id (`events` needs it)
  IS_STG=true              use the staging service when no base URL is set
  XPANDER_ALLOW_INSECURE_HTTP=1
                           allow a plain-http base URL off loopback (the key goes in clear text)

Output: the task, the list or the activity thread as pretty JSON on stdout;
`events` prints one compact JSON line per event; messages on stderr.
Credentials in answers (user and MCP tokens, API keys, auth headers, env
vars, payload extensions, access tokens of auth events) print as
\"<redacted>\"; no option shows them.

Exit codes:
   0  success (`wait`: the task completed)
   1  other failure (reading stdin, writing stdout, ...)
   2  usage error (bad option, bad --status, --payload-extension not a JSON object, refused id,
      `events` on a task that does not stream its events)
   3  configuration error (no API key, bad base URL, `events` without an organization id)
   4  not found (HTTP 404 about the task or agent: `Task ... not found`)
   5  conflict (HTTP 409)
   6  other API error (any other non-2xx answer)
   7  transport error (connection refused, DNS, TLS, timeout, connection broken off)
   8  undecodable answer or answer larger than the limit
   9  `wait`: timed out before the task reached a final status
  10  `wait`: the task failed
  11  `wait`: the task ended in error
  12  `wait`: the task was stopped
  13  unknown route (HTTP 404 for the URL itself: FastAPI's bare `Not Found`, or a page from
      a proxy or gateway in front): the base URL is wrong,
      e.g. a path such as /v1 that does not belong; no task was looked up";

/// Update, read, stop, list and create xpander.ai tasks; follow their
/// events, wait for their results, read their activity.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, after_help = AFTER_HELP)]
struct Cli {
    /// The API base URL (overrides XPANDER_BASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    base_url: Option<String>,

    /// Read the API key from this environment variable instead of XPANDER_API_KEY.
    // Checked in `client`, not by clap: clap's refusal quotes the value,
    // and a key passed here by mistake must not be printed.
    #[arg(long, global = true, value_name = "NAME")]
    api_key_env: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Update fields of a task; prints the task as the server has it afterwards.
    Update(UpdateArgs),
    /// Print a task.
    Get {
        /// The task id.
        task_id: String,
    },
    /// Stop a task; prints the stopped task.
    Stop {
        /// The task id.
        task_id: String,
    },
    /// List the tasks of an agent.
    List(ListArgs),
    /// Create a task for an agent; prints the new task.
    Create(CreateArgs),
    /// Follow a task's live events: one JSON line per event as it arrives,
    /// until `task_finished`.
    ///
    /// Each line is the event's envelope (`type`, `task_id`,
    /// `organization_id`, `time`, `identity`, `data`) and its stream `id`
    /// (null for the `connected` handshake). Needs XPANDER_ORGANIZATION_ID
    /// and a task created with `events_streaming` (`create
    /// --events-streaming`). A malformed event is skipped; a dropped
    /// connection is resumed from the last event id, a few times. A closed
    /// stdout (`| head -n 5`) ends it with exit 0.
    Events(EventsArgs),
    /// Wait until a task reaches a final status; prints the task, exits with
    /// a code for the status.
    ///
    /// Exit 0 completed, 10 failed, 11 error, 12 stopped; 9 when `--timeout`
    /// passes first (nothing on stdout then). Follows the task's events when
    /// it streams them and XPANDER_ORGANIZATION_ID is set; else polls it,
    /// backing off from 0.5 s up to `--poll`. A streaming task without an
    /// organization id is polled too (its stream's URL needs one): the
    /// result still comes, up to `--poll` later than a followed stream.
    Wait(WaitArgs),
    /// Print a task's activity thread (its messages, tool calls, reasoning).
    Activity {
        /// The task id.
        task_id: String,
    },
}

#[derive(Debug, Args)]
struct EventsArgs {
    /// The task id.
    task_id: String,
    /// Reconnect when nothing at all (not even a keep-alive) came for this
    /// many seconds [default: 45].
    #[arg(long, value_name = "S", value_parser = positive_seconds)]
    idle_timeout: Option<Duration>,
}

#[derive(Debug, Args)]
struct WaitArgs {
    /// The task id.
    task_id: String,
    /// Give up (exit 9) after this many seconds; 0 checks once.
    #[arg(long, value_name = "S", value_parser = seconds, default_value = "600")]
    timeout: Duration,
    /// The longest delay between two polls, in seconds.
    #[arg(long, value_name = "S", value_parser = positive_seconds, default_value = "10")]
    poll: Duration,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("fields").required(true).multiple(true))]
struct UpdateArgs {
    /// The task id.
    task_id: String,
    /// The new status.
    #[arg(long, value_enum, group = "fields")]
    status: Option<Status>,
    /// The result text; `-` reads it from stdin, verbatim (a trailing newline is kept).
    #[arg(long, value_name = "TEXT|-", group = "fields")]
    result: Option<String>,
    /// The task's origin tag.
    #[arg(long, group = "fields")]
    source: Option<String>,
    /// Fields merged into every tool-call payload from now on: a JSON object.
    #[arg(long, value_name = "JSON", value_parser = json_object, group = "fields")]
    payload_extension: Option<Map<String, Value>>,
    /// The "current node" cursor of workflow agents.
    #[arg(long, value_name = "ID", group = "fields")]
    last_executed_node_id: Option<String>,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// The agent id.
    agent_id: String,
    /// Only tasks in this status.
    #[arg(long, value_enum)]
    status: Option<Status>,
    /// Only tasks of this user.
    #[arg(long, value_name = "ID")]
    user_id: Option<String>,
    /// Only sub-tasks of this task.
    #[arg(long, value_name = "ID")]
    parent_task_id: Option<String>,
    /// Only tasks triggered by this agent.
    #[arg(long, value_name = "ID")]
    triggering_agent_id: Option<String>,
    /// Only tasks with this internal status.
    #[arg(long, value_name = "STATUS")]
    internal_status: Option<String>,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The agent id.
    agent_id: String,
    /// The prompt; `-` reads it from stdin, verbatim.
    #[arg(long, value_name = "TEXT|-")]
    prompt: String,
    /// A title.
    #[arg(long)]
    title: Option<String>,
    /// The task's origin tag.
    #[arg(long)]
    source: Option<String>,
    /// The agent version (sent as the x-agent-version header).
    #[arg(long, value_name = "VERSION")]
    agent_version: Option<String>,
    /// Have the task stream its live events (for `events`).
    #[arg(long)]
    events_streaming: bool,
}

/// The seven statuses of the wire format; anything else is a usage error
/// (the library would send an unknown status verbatim).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Status {
    Pending,
    Executing,
    Paused,
    Error,
    Failed,
    Completed,
    Stopped,
}

impl From<Status> for AgentExecutionStatus {
    fn from(status: Status) -> AgentExecutionStatus {
        match status {
            Status::Pending => AgentExecutionStatus::Pending,
            Status::Executing => AgentExecutionStatus::Executing,
            Status::Paused => AgentExecutionStatus::Paused,
            Status::Error => AgentExecutionStatus::Error,
            Status::Failed => AgentExecutionStatus::Failed,
            Status::Completed => AgentExecutionStatus::Completed,
            Status::Stopped => AgentExecutionStatus::Stopped,
        }
    }
}

fn json_object(raw: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object, e.g. '{\"key\": \"value\"}'".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// A number of seconds (`30`, `0.5`), zero included.
fn seconds(raw: &str) -> Result<Duration, String> {
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|_| "not a number of seconds, e.g. 30 or 0.5".to_string())?;
    if secs < 0.0 {
        return Err("must not be negative".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| "too large a number of seconds".into())
}

/// A number of seconds above zero.
fn positive_seconds(raw: &str) -> Result<Duration, String> {
    match seconds(raw)? {
        Duration::ZERO => Err("must be more than 0".into()),
        duration => Ok(duration),
    }
}

fn env_var_name(raw: &str) -> Result<&str, Failure> {
    if raw.is_empty() || raw.contains('=') || raw.contains('\0') {
        Err(Failure::Usage(
            "--api-key-env takes the name of an environment variable that holds the key; \
             the value given is not a variable name (not shown: it may be a key, and keys \
             are never taken on the command line)"
                .into(),
        ))
    } else {
        Ok(raw)
    }
}

/// A variable name as messages show it: a conventional upper-case name
/// (`MY_XPANDER_KEY`) as is; anything else may be a key given by mistake,
/// and is not shown.
fn shown_var_name(name: &str) -> &str {
    let conventional = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if conventional {
        name
    } else {
        "the variable named by --api-key-env (its name not shown: it may be a key; \
         --api-key-env takes a variable's name, never the key itself)"
    }
}

/// Why the tool stopped: a library error or one of its own.
enum Failure {
    Sdk(Error),
    Usage(String),
    Config(String),
    Other(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Sdk(error)
    }
}

/// The exit code of a library error: the one place the mapping lives.
fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Config(_) => EXIT_CONFIG,
        Error::InvalidArgument { .. } => EXIT_USAGE,
        Error::Api(api) if api.is_unknown_route() => EXIT_UNKNOWN_ROUTE,
        Error::Api(api) if api.is_not_found() => EXIT_NOT_FOUND,
        Error::Api(api) if api.is_conflict() => EXIT_CONFLICT,
        Error::Api(_) => EXIT_API,
        Error::Transport(_) => EXIT_TRANSPORT,
        Error::Decode(_) | Error::BodyTooLarge { .. } => EXIT_DECODE,
        Error::Timeout { .. } => EXIT_TIMEOUT,
        // `Error` is non-exhaustive: a kind added later is not mistaken for success.
        _ => EXIT_OTHER,
    }
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Sdk(error) => exit_code(error),
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Config(_) => EXIT_CONFIG,
            Failure::Other(_) => EXIT_OTHER,
        }
    }

    fn message(&self) -> String {
        match self {
            // The library's errors never contain the key.
            Failure::Sdk(error) => shell_words(error.to_string()),
            Failure::Usage(m) | Failure::Config(m) | Failure::Other(m) => m.clone(),
        }
    }
}

/// The library's advice in a shell user's words: a configuration error
/// that names a Rust method names the option or variable instead.
fn shell_words(message: String) -> String {
    const PLAIN_HTTP: &str = "plain http is allowed only to loopback hosts";
    match message.find(PLAIN_HTTP) {
        Some(at) => format!(
            "{PLAIN_HTTP}: use an https:// URL (--base-url or XPANDER_BASE_URL), or set \
             {INSECURE_HTTP_VAR}=1 to send the API key in clear text",
            PLAIN_HTTP = &message[..at + PLAIN_HTTP.len()],
        ),
        None => message,
    }
}

/// The environment variable that opts in to plain http to a host other
/// than loopback (the tool's own: the library takes
/// `ClientBuilder::allow_insecure_http`).
const INSECURE_HTTP_VAR: &str = "XPANDER_ALLOW_INSECURE_HTTP";

/// True when [`INSECURE_HTTP_VAR`] is `1`, `true` or `yes`.
fn insecure_http_allowed() -> bool {
    std::env::var(INSECURE_HTTP_VAR).is_ok_and(|value| {
        let value = value.trim();
        value == "1" || value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("yes")
    })
}

/// `--api-key` (with its value, or `--api-key=VALUE`) before clap sees it:
/// clap would answer with a tip for `--api-key-env`, which takes a
/// variable's name, and might echo the value.
fn refuse_key_on_command_line() -> Option<ExitCode> {
    let key_option = std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| {
            let arg = arg.to_string_lossy();
            arg == "--api-key" || arg.starts_with("--api-key=")
        });
    if !key_option {
        return None;
    }
    eprintln!(
        "{PROGRAM}: API keys are never taken on the command line (ps and the shell history \
         would show them): export XPANDER_API_KEY, or keep the key in another variable and \
         name it with --api-key-env NAME (e.g. `--api-key-env MY_XPANDER_KEY`)"
    );
    Some(ExitCode::from(EXIT_USAGE))
}

fn main() -> ExitCode {
    if let Some(code) = refuse_key_on_command_line() {
        return code;
    }
    // Clap prints its own usage errors (exit 2) and --help / --version (exit 0).
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("{PROGRAM}: {}", failure.message());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs the command; the exit code of a command that did its work.
fn run(cli: Cli) -> Result<u8, Failure> {
    // Read stdin before anything else: a usage problem is reported first,
    // and no request is sent with half an argument.
    let command = resolve_stdin(cli.command)?;
    let tasks = client(cli.base_url, cli.api_key_env)?;
    let output = match command {
        Command::Update(args) => {
            let mut change = UpdateTask::new();
            change.status = args.status.map(Into::into);
            change.result = args.result;
            change.source = args.source;
            change.tool_call_payload_extension = args.payload_extension.map(Value::Object);
            change.last_executed_node_id = args.last_executed_node_id;
            to_json(&tasks.update(&args.task_id, &change)?)
        }
        Command::Get { task_id } => to_json(&tasks.get(&task_id)?),
        Command::Stop { task_id } => to_json(&tasks.stop(&task_id)?),
        Command::List(args) => {
            let mut filter = ListFilter::new();
            filter.status = args.status.map(Into::into);
            filter.user_id = args.user_id;
            filter.parent_task_id = args.parent_task_id;
            filter.triggering_agent_id = args.triggering_agent_id;
            filter.internal_status = args.internal_status;
            to_json(&tasks.list(&args.agent_id, &filter)?)
        }
        Command::Create(args) => {
            let mut new_task = CreateTask::new(args.agent_id, args.prompt);
            new_task.title = args.title;
            new_task.source = args.source;
            new_task.agent_version = args.agent_version;
            new_task.events_streaming = args.events_streaming;
            to_json(&tasks.create(&new_task)?)
        }
        Command::Events(args) => return follow_events(&tasks, args),
        Command::Wait(args) => return wait(&tasks, args),
        Command::Activity { task_id } => {
            let task = Task::load(&tasks, &task_id)?;
            to_json(&task.get_activity_log(&tasks)?)
        }
    }?;
    print(&output)?;
    Ok(EXIT_OK)
}

/// Writes `text` and a newline to stdout, flushed.
fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(stdout_failure)
}

fn stdout_failure(e: io::Error) -> Failure {
    Failure::Other(format!("cannot write the answer to stdout: {e}"))
}

/// `events`: one line per event, flushed as it arrives.
fn follow_events(tasks: &Tasks, args: EventsArgs) -> Result<u8, Failure> {
    // Refused before any request, and in the tool's words (the library's
    // message names its builder).
    if tasks.config().events_root.is_none() {
        return Err(Failure::Config(
            "configuration error: `events` needs an organization id: set XPANDER_ORGANIZATION_ID"
                .into(),
        ));
    }
    let task = Task::load(tasks, &args.task_id)?;
    if !task.events_streaming {
        return Err(Failure::Usage(format!(
            "task {} does not stream its events (it was created without events_streaming); \
             use `{PROGRAM} wait {}` for its result",
            task.id, task.id
        )));
    }
    let mut policy = StreamPolicy::default();
    if let Some(idle) = args.idle_timeout {
        policy = policy.idle_timeout(idle);
    }
    exit_when_stdout_closes();
    let mut stdout = io::stdout().lock();
    for event in task.events_with(tasks, policy)? {
        let line = event_line(&event?)?;
        match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            Ok(()) => {}
            // The reader has what it wanted (`| head -n 5`): not a failure.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(EXIT_OK),
            Err(e) => return Err(stdout_failure(e)),
        }
    }
    Ok(EXIT_OK)
}

/// Ends the process with exit 0 as soon as stdout's reader is gone (`|
/// head -n 1` has its line), without waiting for the next event to fail to
/// be written: on an idle task that may be never. A thread waits in
/// `poll(2)` for the error or hang-up a pipe or socket reports once its
/// reader closes; a terminal or a file never reports one, and the thread
/// just waits.
#[cfg(unix)]
fn exit_when_stdout_closes() {
    use std::os::fd::AsRawFd;
    let fd = io::stdout().as_raw_fd();
    let watch = move || loop {
        // No event asked for: poll reports only POLLERR, POLLHUP, POLLNVAL.
        let mut watched = libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd, its count 1; the fd is stdout's, open
        // for the life of the process.
        let ready = unsafe { libc::poll(&mut watched, 1, -1) };
        if ready < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if watched.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            // Nothing left to say: the reader has what it wanted.
            std::process::exit(i32::from(EXIT_OK));
        }
        if watched.revents & libc::POLLNVAL != 0 {
            return;
        }
    };
    // Without the thread, a closed stdout is still noticed at the next write.
    let _ = std::thread::Builder::new()
        .name("stdout-watch".into())
        .spawn(watch);
}

#[cfg(not(unix))]
fn exit_when_stdout_closes() {}

/// An event as one compact JSON line: the envelope's keys in their wire
/// order, the stream `id` after the `type`, the payload last (the longest).
#[derive(serde::Serialize)]
struct EventLine {
    #[serde(rename = "type")]
    kind: Value,
    id: Option<String>,
    task_id: Value,
    organization_id: Value,
    time: Value,
    identity: Value,
    /// Envelope keys the library does not know, as they came.
    #[serde(flatten)]
    extra: Map<String, Value>,
    data: Value,
}

fn event_line(event: &TaskEvent) -> Result<String, Failure> {
    let mut json = event.to_json();
    // The envelope's own keys hold no credential: their order is kept.
    redact_credentials(&mut json);
    let mut envelope = match json {
        Value::Object(map) => map,
        other => Map::from_iter([("event".to_string(), other)]),
    };
    // An envelope key `id` of its own would print twice: the stream's wins.
    envelope.remove("id");
    let mut take = |key: &str| envelope.remove(key).unwrap_or(Value::Null);
    let line = EventLine {
        kind: take("type"),
        id: event.id.clone(),
        task_id: take("task_id"),
        organization_id: take("organization_id"),
        time: take("time"),
        identity: take("identity"),
        data: take("data"),
        extra: envelope,
    };
    serde_json::to_string(&line)
        .map_err(|e| Failure::Other(format!("cannot encode an event as JSON: {e}")))
}

/// `wait`: the final task on stdout, its status as the exit code.
fn wait(tasks: &Tasks, args: WaitArgs) -> Result<u8, Failure> {
    let policy = WaitPolicy::default()
        .timeout(args.timeout)
        .poll(WaitPolicy::default().poll_initial.min(args.poll), args.poll);
    let task = tasks.wait_for_result(&args.task_id, &policy)?;
    print(&to_json(&task)?)?;
    let code = match task.status.as_ref() {
        Some(AgentExecutionStatus::Completed) => EXIT_OK,
        Some(AgentExecutionStatus::Failed) => EXIT_FAILED,
        Some(AgentExecutionStatus::Error) => EXIT_ERROR,
        Some(AgentExecutionStatus::Stopped) => EXIT_STOPPED,
        // The wait ends on the four final statuses only.
        _ => EXIT_OTHER,
    };
    if code != EXIT_OK {
        let status = task.status.as_ref().map_or("none", |s| s.as_str());
        eprintln!("{PROGRAM}: task {} ended with status {status}", task.id);
    }
    Ok(code)
}

/// Replaces a `-` argument (`update --result`, `create --prompt`) by stdin.
fn resolve_stdin(mut command: Command) -> Result<Command, Failure> {
    let slot = match &mut command {
        Command::Update(args) => args.result.as_mut(),
        Command::Create(args) => Some(&mut args.prompt),
        _ => None,
    };
    if let Some(value) = slot.filter(|v| v.as_str() == "-") {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::Other(format!("cannot read stdin: {e}")))?;
        *value = String::from_utf8(bytes)
            .map_err(|_| Failure::Usage("stdin is not valid UTF-8".into()))?;
    }
    Ok(command)
}

/// The client: the environment as the library reads it, with the command
/// line's overrides.
fn client(base_url: Option<String>, api_key_env: Option<String>) -> Result<Tasks, Failure> {
    let key_var = match api_key_env.as_deref() {
        Some(name) => env_var_name(name)?,
        None => "XPANDER_API_KEY",
    };
    // Checked here rather than left to the library, so the message names the
    // variable and the option instead of a Rust method.
    let key = std::env::var(key_var)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            Failure::Config(format!(
                "configuration error: no API key: set {}{}",
                shown_var_name(key_var),
                if api_key_env.is_some() {
                    ""
                } else {
                    " (or name another variable with --api-key-env)"
                }
            ))
        })?;
    let mut builder = Tasks::builder().api_key(key);
    if insecure_http_allowed() {
        builder = builder.allow_insecure_http(true);
    }
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    // Values set on the builder win; the rest comes from the environment.
    Ok(builder.from_env().build()?)
}

/// An answer as pretty JSON, its credentials redacted.
fn to_json(value: &impl serde::Serialize) -> Result<String, Failure> {
    let encoding = |e| Failure::Other(format!("cannot encode the answer as JSON: {e}"));
    let mut json = serde_json::to_value(value).map_err(encoding)?;
    redact_credentials(&mut json);
    serde_json::to_string_pretty(&json).map_err(encoding)
}
