//! `xpander-tasks`: update, read, stop, list and create xpander.ai tasks,
//! follow their events, wait for their results and read their activity,
//! from shell scripts and cron jobs, over the crate's blocking client.
//!
//! Its configuration is the client's: every variable
//! [`ClientBuilder::from_env`](xpander_sdk::ClientBuilder::from_env) reads,
//! `XPANDER_ALLOW_INSECURE_HTTP` included (the library's, not the tool's
//! own), with `--base-url` and `--api-key-env` over them and never the key
//! as an argument; the whole of it is the "Environment and options" section
//! of the guide (`docs/guide.md`). Answers go to stdout as pretty JSON (`events`: one
//! compact JSON line per event), messages to stderr, and the exit code tells
//! the kind of failure apart, and for `wait` the final status (see
//! [`AFTER_HELP`]). Everything printed goes through the library's
//! [`redact_credentials`]: a credential in an answer (a user token, an MCP
//! server's key or headers, an auth event's access token) prints as
//! `"<redacted>"`, and no option shows it.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value};
use xpander_sdk::model::InvokeEvent;
use xpander_sdk::public::{Invoke, TaskQuery};
use xpander_sdk::redact::{redact_credentials, scrub_secrets, scrub_secrets_json};
use xpander_sdk::sans_io::stream::StreamPolicy;
use xpander_sdk::sans_io::wait::WaitPolicy;
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
  XPANDER_PUBLIC_API_URL   the public API v1 base URL (default https://api.xpander.ai):
                           `invoke`, `thread`, `delete`, `list --all`

  XPANDER_ALLOW_INSECURE_HTTP=1  allow plain http to a host that is not loopback
                           (the key then crosses the network in clear text; a
                           warning says so)

Output: the task, the list or the activity thread as pretty JSON on stdout;
`events` and `invoke --stream` print one compact JSON line per event;
messages on stderr.
Credentials in answers (user and MCP tokens, API keys, auth headers, env
vars, payload extensions, access tokens of auth events) print as
\"<redacted>\"; no option shows them, and the API key shows nowhere. Control
characters from the server are escaped: as \\uXXXX in JSON (the same
values), as \\u{..} in messages. A closed stdout (`| head`) is not a failure.

Exit codes:
   0  success (`wait`: the task completed)
   1  other failure (reading stdin, writing stdout, ...)
   2  usage error (bad option, bad --status, --payload-extension not a JSON object, refused id,
      `events` on a task that does not stream its events)
   3  configuration error (no API key, bad base URL, `events` without an organization id)
   4  not found (HTTP 404 about the task or agent: `Task ... not found`)
   5  conflict (HTTP 409)
   6  other API error (any other non-2xx answer)
   7  transport error (connection refused, DNS, TLS, timeout, connection broken off,
      an `invoke --stream` cut mid-way: never replayed)
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
    Get(TaskId),
    /// Stop a task; prints the stopped task.
    Stop(TaskId),
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
    Activity(TaskId),
    /// Invoke an agent through the public API v1; prints the finished task
    /// (its `result` is the answer, its `id` the thread id for `--thread`).
    ///
    /// `--async` prints the created task at once (`wait` follows it);
    /// `--stream` prints one compact JSON line per event as it arrives. An
    /// invoke is never retried once sent.
    Invoke(InvokeArgs),
    /// Print a task's conversation thread (public API v1): its messages.
    Thread {
        /// The task (thread) id.
        task_id: String,
        /// The whole thread: the task's (`root`) and each sub-task's, by id.
        #[arg(long)]
        full: bool,
    },
    /// Delete a task (public API v1); prints `{"deleted": ID, "status": ..., "message": ...}`.
    Delete(TaskId),
}

#[derive(Debug, Args)]
struct TaskId {
    /// The task id.
    task_id: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("mode").multiple(false))]
struct InvokeArgs {
    /// The agent id.
    agent_id: String,
    /// The prompt; `-` reads it from stdin, verbatim.
    text: String,
    /// Answer the created task at once instead of waiting for the agent.
    #[arg(long, group = "mode")]
    r#async: bool,
    /// Print the run's events as they come, one JSON line each.
    #[arg(long, group = "mode")]
    stream: bool,
    /// Continue the conversation of this thread id.
    #[arg(long, value_name = "ID")]
    thread: Option<String>,
    /// How long a sync invoke may take, in seconds (the agent's run time).
    #[arg(long, value_name = "S", value_parser = positive_seconds, default_value = "600")]
    timeout: Duration,
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
    #[arg(long, value_parser = status(), group = "fields")]
    status: Option<AgentExecutionStatus>,
    /// The result text; `-` reads it from stdin, verbatim (a trailing newline is kept).
    #[arg(long, value_name = "TEXT|-", group = "fields")]
    result: Option<String>,
    /// The task's origin tag.
    #[arg(long, group = "fields")]
    source: Option<String>,
    /// Fields merged into every tool-call payload from now on: a JSON
    /// object; `@FILE` reads it from FILE, `-` from stdin (either keeps
    /// credentials off the command line, where any user of the machine
    /// sees them). Its value is never echoed in a message.
    #[arg(long, value_name = "JSON|@FILE|-", group = "fields")]
    payload_extension: Option<String>,
    /// The "current node" cursor of workflow agents.
    #[arg(long, value_name = "ID", group = "fields")]
    last_executed_node_id: Option<String>,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// The agent id.
    agent_id: String,
    /// Only tasks in this status.
    #[arg(long, value_parser = status())]
    status: Option<AgentExecutionStatus>,
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
    /// Every page of the agent's tasks through the public API v1
    /// (`GET /v1/agents/{id}/tasks`), fetched one page at a time.
    #[arg(long)]
    all: bool,
    /// With `--all`: tasks per page, 1 to 50.
    #[arg(long, value_name = "N", default_value = "50", requires = "all")]
    per_page: u32,
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
fn status() -> impl TypedValueParser<Value = AgentExecutionStatus> {
    let known = AgentExecutionStatus::KNOWN
        .iter()
        .map(AgentExecutionStatus::as_str);
    PossibleValuesParser::new(known).map(AgentExecutionStatus::from)
}

/// The payload extension's object; the message never quotes the text
/// (serde's messages for a JSON syntax error give only a position).
fn json_object(raw: &str) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::usage(
            "--payload-extension must be a JSON object, e.g. '{\"key\": \"value\"}'",
        )),
        Err(e) => Err(Failure::usage(format!(
            "--payload-extension is not valid JSON: {} at line {} column {}",
            // What kind of JSON error, in words that quote nothing of the input.
            match e.classify() {
                serde_json::error::Category::Eof => "it ends too early",
                serde_json::error::Category::Syntax => "a syntax error",
                _ => "a value that cannot be read",
            },
            e.line(),
            e.column()
        ))),
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

/// A variable name as messages show it: a conventional upper-case name
/// (`MY_XPANDER_KEY`) as is; anything else may be a key given by mistake,
/// and is not shown.
fn shown_var_name(name: &str) -> &str {
    let mut chars = name.chars();
    let conventional = chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if conventional {
        name
    } else {
        "the variable named by --api-key-env (its name not shown: it may be a key; \
         --api-key-env takes a variable's name, never the key itself)"
    }
}

/// Why the tool stopped: its exit code and its message (the key is
/// scrubbed from it when it is printed).
struct Failure(u8, String);

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure(EXIT_USAGE, message.into())
    }

    fn config(message: String) -> Failure {
        Failure(EXIT_CONFIG, message)
    }

    fn other(message: String) -> Failure {
        Failure(EXIT_OTHER, message)
    }

    fn stdout(e: io::Error) -> Failure {
        Failure::other(format!("cannot write the answer to stdout: {e}"))
    }
}

/// A library error: the one place its exit code is chosen.
impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = match &error {
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
        };
        // The library's advice in a shell user's words: a configuration
        // error that names a Rust method names the option or variable instead.
        const PLAIN_HTTP: &str = "plain http is allowed only to loopback hosts";
        let mut message = error.to_string();
        if let Some(at) = message.find(PLAIN_HTTP) {
            message.truncate(at + PLAIN_HTTP.len());
            message.push_str(
                ": use an https:// URL (--base-url or XPANDER_BASE_URL), or set \
                 XPANDER_ALLOW_INSECURE_HTTP=1 to send the API key in clear text",
            );
        }
        Failure(code, message)
    }
}

/// `--api-key` (with its value, or `--api-key=VALUE`) before clap sees it:
/// clap would answer with a tip for `--api-key-env`, which takes a
/// variable's name, and might echo the value.
fn key_on_command_line() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| {
            let arg = arg.to_string_lossy();
            arg == "--api-key" || arg.starts_with("--api-key=")
        })
}

fn main() -> ExitCode {
    if key_on_command_line() {
        eprintln!(
            "{PROGRAM}: API keys are never taken on the command line (ps and the shell history \
             would show them): export XPANDER_API_KEY, or keep the key in another variable and \
             name it with --api-key-env NAME (e.g. `--api-key-env MY_XPANDER_KEY`)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            message(&failure.1);
            ExitCode::from(failure.0)
        }
    }
}

/// Clap's own output: --help and --version on stdout (exit 0, a closed
/// stdout included), usage errors on stderr (exit 2) with the values of
/// sensitive options never echoed.
fn clap_exit(error: &clap::Error) -> ExitCode {
    let text = error.render().to_string();
    if error.use_stderr() {
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let hidden = sensitive_values(&args);
        let shown = scrub_secrets(
            &text,
            &hidden.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let _ = io::stderr().lock().write_all(shown.as_bytes());
    } else {
        // A closed stdout (`--help | head -1`) is not a failure.
        let _ = print(text.trim_end_matches('\n'));
    }
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE))
}

/// The values given to options that may carry credentials (or to a
/// misspelling of one): `--payload-extension VALUE`, `--payload-extension=VALUE`.
fn sensitive_values(args: &[String]) -> Vec<String> {
    const PARTS: [&str; 7] = [
        "payload",
        "extension",
        "token",
        "secret",
        "password",
        "key",
        "auth",
    ];
    let sensitive = |flag: &str| {
        let name = flag.trim_start_matches('-').to_ascii_lowercase();
        flag.starts_with("--")
            && PARTS.iter().any(|part| name.contains(part))
            && name != "api-key-env"
    };
    let mut values = Vec::new();
    for (at, arg) in args.iter().enumerate() {
        match arg.split_once('=') {
            Some((flag, value)) if sensitive(flag) => values.push(value.to_owned()),
            None if sensitive(arg) => values.extend(args.get(at + 1).cloned()),
            _ => {}
        }
    }
    // `-` (stdin) and `@FILE` name where a value is, not the value.
    values.retain(|v| v.len() > 1 && !v.starts_with('@'));
    values
}

/// The API key, once read: nothing this tool prints shows it.
static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `text` without the API key, whole or in part.
fn scrubbed(text: &str) -> String {
    match KEY.get() {
        Some(key) => scrub_secrets(text, &[key.as_str()]),
        None => text.to_owned(),
    }
}

/// A message on stderr: one line, the key scrubbed, control characters
/// (and the characters that reorder text) escaped as `\u{..}`, so that no
/// text from the server can move the cursor, recolour or retitle the terminal.
fn message(text: &str) {
    let line = escape(&scrubbed(text), |c| {
        is_terminal_control(c).then(|| format!("\\u{{{:x}}}", u32::from(c)))
    });
    let _ = writeln!(io::stderr().lock(), "{PROGRAM}: {line}");
}

/// True for a character a terminal acts on rather than shows: C0 and C1
/// controls, DEL, and the invisible characters that reorder or break text
/// (bidi embeddings, overrides and isolates, line and paragraph separators).
fn is_terminal_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with each character `escaped` answers for replaced by its answer.
fn escape(text: &str, escaped: impl Fn(char) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match escaped(c) {
            Some(escape) => out.push_str(&escape),
            None => out.push(c),
        }
    }
    out
}

/// `json` as the tool shows it: credentials redacted, the API key scrubbed
/// from every string.
fn cleaned(mut json: Value) -> Value {
    redact_credentials(&mut json);
    if let Some(key) = KEY.get() {
        scrub_secrets_json(&mut json, &[key.as_str()]);
    }
    json
}

/// JSON text (`pretty`, or one line) in which each terminal control serde
/// leaves raw (DEL, C1, the reordering characters) is a `\uXXXX` escape:
/// the same JSON value, byte for byte once parsed. (serde escapes C0
/// itself; outside strings JSON text holds only ASCII punctuation, digits
/// and letters, and C0 there is the layout's own white space.)
fn json_text(value: &impl serde::Serialize, pretty: bool) -> Result<String, Failure> {
    let text = match pretty {
        true => serde_json::to_string_pretty(value),
        false => serde_json::to_string(value),
    };
    let text = text.map_err(encoding)?;
    Ok(escape(&text, |c| {
        (c > '\u{1f}' && is_terminal_control(c)).then(|| format!("\\u{:04x}", u32::from(c)))
    }))
}

fn encoding(e: serde_json::Error) -> Failure {
    Failure::other(format!("cannot encode the answer as JSON: {e}"))
}

/// An answer as pretty JSON, [`cleaned`].
fn to_json(value: &impl serde::Serialize) -> Result<String, Failure> {
    json_text(
        &cleaned(serde_json::to_value(value).map_err(encoding)?),
        true,
    )
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
            change.status = args.status;
            change.result = args.result;
            change.source = args.source;
            change.tool_call_payload_extension = match args.payload_extension.as_deref() {
                Some(raw) => Some(Value::Object(json_object(raw)?)),
                None => None,
            };
            change.last_executed_node_id = args.last_executed_node_id;
            to_json(&tasks.update(&args.task_id, &change)?)
        }
        Command::Get(TaskId { task_id }) => to_json(&tasks.get(&task_id)?),
        Command::Stop(TaskId { task_id }) => to_json(&tasks.stop(&task_id)?),
        Command::List(args) if args.all => return list_all(&tasks, args),
        Command::List(args) => {
            let mut filter = ListFilter::new();
            filter.status = args.status;
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
        Command::Activity(TaskId { task_id }) => {
            let task = Task::load(&tasks, &task_id)?;
            to_json(&task.get_activity_log(&tasks)?)
        }
        Command::Invoke(args) => return invoke(&tasks, args),
        Command::Thread { task_id, full } => match full {
            true => to_json(&tasks.full_thread(&task_id)?),
            false => to_json(&tasks.thread(&task_id)?),
        },
        Command::Delete(TaskId { task_id }) => {
            let deleted = tasks.delete_task(&task_id)?;
            to_json(&serde_json::json!({
                "deleted": task_id, "status": deleted.status, "message": deleted.message,
            }))
        }
    }?;
    print(&output)?;
    Ok(EXIT_OK)
}

/// Writes `text` and a newline to stdout, flushed; `false` when stdout is
/// closed: the reader has what it wanted (`| head`), which is no failure.
fn print(text: &str) -> Result<bool, Failure> {
    write_out(&format!("{text}\n"))
}

/// Writes `text` to stdout as it is, flushed; false when the reader went
/// away.
fn write_out(text: &str) -> Result<bool, Failure> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Failure::stdout(e)),
    }
}

/// Prints each line `lines` gives, as it comes, until the reader goes away.
fn print_lines(lines: impl Iterator<Item = Result<String, Failure>>) -> Result<u8, Failure> {
    for line in lines {
        if !print(&line?)? {
            break;
        }
    }
    Ok(EXIT_OK)
}

/// `events`: one line per event, flushed as it arrives.
fn follow_events(tasks: &Tasks, args: EventsArgs) -> Result<u8, Failure> {
    // Refused before any request, and in the tool's words (the library's
    // message names its builder).
    if tasks.config().events_root.is_none() {
        return Err(Failure::config(
            "configuration error: `events` needs an organization id: set XPANDER_ORGANIZATION_ID"
                .into(),
        ));
    }
    let task = Task::load(tasks, &args.task_id)?;
    if !task.events_streaming {
        return Err(Failure::usage(format!(
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
    let events = task.events_with(tasks, policy)?;
    print_lines(events.map(|event| event_line(&event?)))
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
    // The envelope's own keys hold no credential: their order is kept.
    let mut envelope = match cleaned(event.to_json()) {
        Value::Object(map) => map,
        other => Map::from_iter([("event".to_string(), other)]),
    };
    // An envelope key `id` of its own would print twice: the stream's wins.
    envelope.remove("id");
    let mut take = |key: &str| envelope.remove(key).unwrap_or(Value::Null);
    let line = EventLine {
        kind: take("type"),
        id: event.id.as_deref().map(scrubbed),
        task_id: take("task_id"),
        organization_id: take("organization_id"),
        time: take("time"),
        identity: take("identity"),
        data: take("data"),
        extra: envelope,
    };
    json_text(&line, false)
}

/// `invoke`: the task (sync, `--async`), or one line per event (`--stream`).
fn invoke(tasks: &Tasks, args: InvokeArgs) -> Result<u8, Failure> {
    let mut request = Invoke::new(args.text);
    request.id = args.thread;
    let answer = if args.r#async {
        tasks.invoke_async(&args.agent_id, &request)?
    } else if !args.stream {
        tasks.invoke(&args.agent_id, &request, args.timeout)?
    } else {
        let events = tasks.invoke_stream(&args.agent_id, &request)?;
        return print_lines(
            events.map(|event| json_text(&cleaned(invoke_event_json(event?)), false)),
        );
    };
    print(&to_json(&answer)?)?;
    Ok(EXIT_OK)
}

/// An invoke event as the JSON it came as (every key kept).
fn invoke_event_json(event: InvokeEvent) -> Value {
    let json = match event {
        InvokeEvent::Started(e) => serde_json::to_value(e),
        InvokeEvent::Chunk(e) => serde_json::to_value(e),
        InvokeEvent::Completed(e) => serde_json::to_value(e),
        InvokeEvent::Task(e) => Ok(e.to_json()),
        InvokeEvent::Other { data, .. } => Ok(data),
        // A variant added later: its type at least.
        other => Ok(serde_json::json!({"type": other.kind()})),
    };
    json.unwrap_or(Value::Null)
}

/// `list --all`: every page, printed as one JSON array as the pages come
/// (the same text as a pretty array, without holding more than a page):
/// each item is written as soon as it is read, its separator before it.
fn list_all(tasks: &Tasks, args: ListArgs) -> Result<u8, Failure> {
    let mut query = TaskQuery::new().per_page(args.per_page);
    query.status = args.status;
    query.user_id = args.user_id;
    query.parent_task_id = args.parent_task_id;
    query.triggering_agent_id = args.triggering_agent_id;
    query.internal_status = args.internal_status;
    let mut separator = "[\n  ";
    for item in tasks.agent_tasks_pages(&args.agent_id, &query)? {
        let item = to_json(&item?)?.replace('\n', "\n  ");
        if !write_out(&format!("{separator}{item}"))? {
            return Ok(EXIT_OK);
        }
        separator = ",\n  ";
    }
    write_out(if separator.starts_with('[') {
        "[]\n"
    } else {
        "\n]\n"
    })?;
    Ok(EXIT_OK)
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
        message(&format!("task {} ended with status {status}", task.id));
    }
    Ok(code)
}

/// Replaces a `-` argument (`update --result`, `create --prompt`,
/// `update --payload-extension`, `invoke TEXT`) by stdin, and
/// `--payload-extension @FILE` by the file's text; checks the payload
/// extension before the client is made (a usage problem first).
fn resolve_stdin(mut command: Command) -> Result<Command, Failure> {
    let mut from_stdin: Vec<(&'static str, &mut String)> = Vec::new();
    match &mut command {
        Command::Update(args) => {
            if let Some(result) = args.result.as_mut().filter(|v| v.as_str() == "-") {
                from_stdin.push(("--result", result));
            }
            if let Some(extension) = args.payload_extension.as_mut() {
                if extension.as_str() == "-" {
                    from_stdin.push(("--payload-extension", extension));
                } else {
                    if let Some(path) = extension.strip_prefix('@') {
                        *extension = std::fs::read_to_string(path).map_err(|e| {
                            Failure::usage(format!(
                                "--payload-extension: cannot read the file {path:?}: {e}"
                            ))
                        })?;
                    }
                    json_object(extension)?;
                }
            }
        }
        Command::Create(args) if args.prompt == "-" => {
            from_stdin.push(("--prompt", &mut args.prompt))
        }
        Command::Invoke(args) if args.text == "-" => from_stdin.push(("TEXT", &mut args.text)),
        _ => {}
    }
    if let [(first, _), (second, _), ..] = from_stdin.as_slice() {
        return Err(Failure::usage(format!(
            "only one option can read stdin (`-`): {first} and {second} both ask for it"
        )));
    }
    if let Some((name, value)) = from_stdin.pop() {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::other(format!("cannot read stdin: {e}")))?;
        *value =
            String::from_utf8(bytes).map_err(|_| Failure::usage("stdin is not valid UTF-8"))?;
        if name == "--payload-extension" {
            json_object(value)?;
        }
    }
    Ok(command)
}

/// The client: the environment as the library reads it, with the command
/// line's overrides.
fn client(base_url: Option<String>, api_key_env: Option<String>) -> Result<Tasks, Failure> {
    let key_var = match api_key_env.as_deref() {
        Some(name) if name.is_empty() || name.contains(['=', '\0']) => {
            return Err(Failure::usage(
                "--api-key-env takes the name of an environment variable that holds the key; \
                 the value given is not a variable name (not shown: it may be a key, and keys \
                 are never taken on the command line)",
            ))
        }
        Some(name) => name,
        None => "XPANDER_API_KEY",
    };
    // Checked here rather than left to the library, so the message names the
    // variable and the option instead of a Rust method.
    let Some(key) = std::env::var(key_var).ok().filter(|k| !k.trim().is_empty()) else {
        let other = match api_key_env {
            Some(_) => "",
            None => " (or name another variable with --api-key-env)",
        };
        return Err(Failure::config(format!(
            "configuration error: no API key: set {}{other}",
            shown_var_name(key_var)
        )));
    };
    let _ = KEY.set(key.clone());
    let mut builder = Tasks::builder().api_key(key);
    if let Some(url) = base_url {
        builder = builder.base_url(url);
    }
    // Values set on the builder win; the rest comes from the environment
    // (XPANDER_ALLOW_INSECURE_HTTP included).
    let tasks = builder.from_env().build()?;
    let mut warned = Vec::new();
    for url in tasks.config().key_urls() {
        let Ok(route) = tasks.config().route(url) else {
            continue;
        };
        let host = match route.host.contains(':') {
            true => format!("[{}]", route.host),
            false => route.host.clone(),
        };
        let origin = format!("{}://{host}:{}", route.scheme, route.port);
        if route.is_cleartext_remote() && !warned.contains(&origin) {
            message(&format!(
                "warning: plain http to {origin}: the API key crosses the network in clear text \
                 (XPANDER_ALLOW_INSECURE_HTTP is set)"
            ));
            warned.push(origin);
        }
    }
    Ok(tasks)
}
