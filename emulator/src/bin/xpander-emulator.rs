//! The stand-alone xpander Tasks API emulator: serves until killed.
//!
//! It prints `listening on http://HOST:PORT`, then the API key clients must
//! send: a generated one, unless `--api-key` gave it (then the key is not
//! printed). It reads no environment variable: a real `XPANDER_API_KEY` in
//! the shell is neither used nor shown. With `--tls` it serves https and
//! prints `root certificate: PATH`, the PEM file clients trust. Then comes
//! `organization id: ID` (what event streams and workers need), and last paste-ready `export XPANDER_...=` lines for the
//! SDK and `xpander-tasks` (the key's line commented out when `--api-key`
//! gave it), after a blank line.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use xpander_emulator::{
    Emulator, DEFAULT_DISPATCH_WINDOW, DEFAULT_EVENT_BUFFER, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_BODY,
    DEFAULT_ORGANIZATION_ID, DEFAULT_REQUEST_LOG_LIMIT, DEFAULT_SEED,
};

/// A local emulator of the xpander.ai Tasks API, for tests in any language.
///
/// Serves the Tasks API over HTTP/1.1, the agent stream of the worker runtime
/// (registration, dispatch of tasks to connected workers, heartbeats), and
/// control routes under /__emulator/ (seed tasks, inject faults, read the
/// request log, list workers and deliveries). See the crate's README.
#[derive(Debug, Parser)]
#[command(name = "xpander-emulator", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:0")]
    addr: String,

    /// The key clients must send as x-api-key. Without it a key is generated
    /// and printed. Never read from the environment; a key given here is not
    /// printed.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,

    /// The organization_id of the tasks the emulator creates.
    #[arg(long, visible_alias = "org", value_name = "ID", default_value = DEFAULT_ORGANIZATION_ID)]
    organization_id: String,

    /// Seed of the dice of probabilistic faults (same seed, same faults).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SEED)]
    seed: u64,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY)]
    max_body: usize,

    /// How many requests the request log keeps (oldest dropped first; 0
    /// turns the log off).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REQUEST_LOG_LIMIT)]
    log_limit: usize,

    /// Milliseconds an event stream may send nothing before a `: keep-alive`
    /// comment (0: never).
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_KEEP_ALIVE.as_millis() as u64)]
    keep_alive_ms: u64,

    /// Send `retry: MS` once at the start of every event stream (default:
    /// no retry line).
    #[arg(long, value_name = "MS")]
    sse_retry_ms: Option<u64>,

    /// How many events each task's stream keeps for resumption with
    /// Last-Event-ID.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_EVENT_BUFFER)]
    event_buffer: usize,

    /// At most this many tasks sent to one worker and not claimed yet; the
    /// next go to other workers or wait for a claim (0: no limit).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DISPATCH_WINDOW)]
    dispatch_window: usize,

    /// Serve https: a certificate authority made at start signs a server
    /// certificate for localhost, 127.0.0.1, ::1 and the bound address. Its
    /// root certificate is written as PEM (see --tls-cert-out) for clients
    /// to trust, and its path printed.
    #[cfg(feature = "tls")]
    #[arg(long)]
    tls: bool,

    /// Also name this host (or IP address) in the server certificate;
    /// repeatable. Implies --tls.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "NAME")]
    tls_name: Vec<String>,

    /// Where to write the root certificate (PEM). Implies --tls. Default: a
    /// file named after the port in the temporary directory.
    #[cfg(feature = "tls")]
    #[arg(long, value_name = "PATH")]
    tls_cert_out: Option<std::path::PathBuf>,
}

/// `value` as one shell word: bare when it is made of safe characters, else
/// in single quotes (a `'` inside written `'\''`).
fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+,=".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

fn main() {
    let args = Args::parse();
    let given_key = args.api_key.is_some();
    let mut builder = Emulator::builder()
        .addr(args.addr)
        .organization_id(args.organization_id)
        .seed(args.seed)
        .max_body_size(args.max_body)
        .request_log_limit(args.log_limit)
        .keep_alive_interval(Duration::from_millis(args.keep_alive_ms))
        .event_buffer(args.event_buffer)
        .dispatch_window(args.dispatch_window);
    if let Some(ms) = args.sse_retry_ms {
        builder = builder.sse_retry(Duration::from_millis(ms));
    }
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    #[cfg(feature = "tls")]
    let tls = args.tls || !args.tls_name.is_empty() || args.tls_cert_out.is_some();
    #[cfg(feature = "tls")]
    {
        builder = builder.tls(tls);
        for name in args.tls_name {
            builder = builder.tls_name(name);
        }
    }
    let emulator = match builder.start() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("xpander-emulator: cannot start: {e}");
            std::process::exit(1)
        }
    };
    #[cfg(feature = "tls")]
    let root = match emulator.root_certificate_pem() {
        Some(pem) => {
            let path = args.tls_cert_out.unwrap_or_else(|| {
                let port = emulator.addr().port();
                std::env::temp_dir().join(format!("xpander-emulator-{port}-root.pem"))
            });
            if let Err(e) = std::fs::write(&path, pem) {
                eprintln!(
                    "xpander-emulator: cannot write the root certificate to {}: {e}",
                    path.display()
                );
                std::process::exit(1)
            }
            Some(path)
        }
        None => None,
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", emulator.base_url());
    if given_key {
        let _ = writeln!(out, "api key: the one given with --api-key");
    } else {
        let _ = writeln!(out, "api key: {}", emulator.api_key());
    }
    #[cfg(feature = "tls")]
    if let Some(path) = &root {
        let _ = writeln!(out, "root certificate: {}", path.display());
    }
    let org = emulator.organization_id();
    let _ = writeln!(out, "organization id: {org}");
    // Paste-ready for the SDK's `from_env` and `xpander-tasks`; the event
    // streams are served at the same base URL (under the organization), so
    // no separate events root is needed.
    let _ = writeln!(out, "\n# for the SDK and xpander-tasks:");
    let _ = writeln!(
        out,
        "export XPANDER_BASE_URL={}",
        shell_quote(&emulator.base_url())
    );
    if given_key {
        let _ = writeln!(
            out,
            "# export XPANDER_API_KEY=<the key given with --api-key>"
        );
    } else {
        let _ = writeln!(
            out,
            "export XPANDER_API_KEY={}",
            shell_quote(emulator.api_key())
        );
    }
    let _ = writeln!(out, "export XPANDER_ORGANIZATION_ID={}", shell_quote(org));
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
