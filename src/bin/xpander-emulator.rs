//! Stand-alone xpander Tasks API emulator.
//!
//! Usage: `xpander-emulator [--addr HOST:PORT] [--api-key KEY] [--org ORG_ID] [--seed N]`.
//! Prints `listening on http://HOST:PORT` and `api key: KEY`, then serves until killed.

use std::io::Write;

use xpander_sdk::emulator::Emulator;

fn usage() -> ! {
    eprintln!(
        "usage: xpander-emulator [--addr HOST:PORT] [--api-key KEY] [--org ORG_ID] [--seed N]\n\
         defaults: --addr 127.0.0.1:0, --api-key $XPANDER_API_KEY or a generated key"
    );
    std::process::exit(2)
}

fn main() {
    let mut builder = Emulator::builder();
    let mut api_key = std::env::var("XPANDER_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage())
        };
        match name.as_str() {
            "--addr" => builder = builder.addr(value()),
            "--api-key" => api_key = Some(value()),
            "--org" | "--organization-id" => builder = builder.organization_id(value()),
            "--seed" => match value().parse() {
                Ok(s) => builder = builder.seed(s),
                Err(_) => usage(),
            },
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument: {arg}");
                usage()
            }
        }
    }
    if let Some(k) = api_key {
        builder = builder.api_key(k);
    }
    let emu = match builder.start() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("xpander-emulator: cannot start: {e}");
            std::process::exit(1)
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", emu.base_url());
    let _ = writeln!(out, "api key: {}", emu.api_key());
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
