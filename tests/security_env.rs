//! Issue 19, the environment's part: the plain-http opt-in
//! (`XPANDER_ALLOW_INSECURE_HTTP`) and the CA files the user names
//! (`SSL_CERT_FILE`, `SSL_CERT_DIR`). One test, in its own process: it
//! changes the environment, which no other test may read meanwhile.

mod common;

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::{Error, Tasks, UpdateTask};

const HOST: &str = "tasks.example.test";
const VARS: [&str; 6] = [
    "XPANDER_ALLOW_INSECURE_HTTP",
    "XPANDER_BASE_URL",
    "XPANDER_API_KEY",
    "XPANDER_ORGANIZATION_ID",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

fn set(pairs: &[(&str, &str)]) {
    for name in VARS {
        std::env::remove_var(name);
    }
    for (name, value) in pairs {
        std::env::set_var(name, value);
    }
}

/// Captures the text of every tracing event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        let mut text = Text(format!("{} ", event.metadata().level()));
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
}

fn both(tasks: &Tasks) {
    tasks
        .update("task_xyz", &UpdateTask::new().result("b"))
        .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(tasks.aupdate("task_xyz", &UpdateTask::new().result("a")))
        .unwrap();
}

fn config_error(result: Result<Tasks, Error>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        Err(other) => panic!("not a configuration error: {other:?}"),
        Ok(_) => panic!("built"),
    }
}

#[test]
fn plain_http_opt_in_and_ca_files_from_the_environment() {
    // ---- XPANDER_ALLOW_INSECURE_HTTP ----
    let emulator = common::emulator();
    let remote = format!("http://{HOST}:{}", emulator.addr().port());
    let from_env = || {
        Tasks::builder()
            .from_env()
            .resolve(HOST, emulator.addr())
            .no_proxy()
            .build()
    };
    for off in [None, Some("0"), Some("false"), Some("")] {
        let mut vars = vec![
            ("XPANDER_BASE_URL", remote.as_str()),
            ("XPANDER_API_KEY", emulator.api_key()),
        ];
        if let Some(off) = off {
            vars.push(("XPANDER_ALLOW_INSECURE_HTTP", off));
        }
        set(&vars);
        let message = config_error(from_env());
        assert!(
            message.contains("XPANDER_ALLOW_INSECURE_HTTP") && message.contains(HOST),
            "{message}"
        );
        assert!(Tasks::from_env().is_err(), "{off:?}");
    }
    for on in ["1", "true", "YES"] {
        set(&[
            ("XPANDER_BASE_URL", &remote),
            ("XPANDER_API_KEY", emulator.api_key()),
            ("XPANDER_ALLOW_INSECURE_HTTP", on),
        ]);
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let tasks = tracing::subscriber::with_default(subscriber, from_env).unwrap();
        both(&tasks);
        let events = capture.0.lock().unwrap().clone();
        let warnings: Vec<&String> = events
            .iter()
            .filter(|e| e.starts_with("WARN") && e.contains("clear text"))
            .collect();
        assert_eq!(warnings.len(), 1, "{events:?}");
        assert!(warnings[0].contains(HOST), "{warnings:?}");
        assert!(Tasks::from_env().is_ok());
    }
    // Loopback needs no opt-in, and no warning is given.
    set(&[
        ("XPANDER_BASE_URL", &emulator.base_url()),
        ("XPANDER_API_KEY", emulator.api_key()),
    ]);
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::with_default(subscriber, || Tasks::from_env().unwrap());
    assert!(capture.0.lock().unwrap().is_empty());

    // ---- SSL_CERT_FILE / SSL_CERT_DIR ----
    let dir = std::env::temp_dir().join(format!("xpander-ca-files-{}", std::process::id()));
    let empty_dir = dir.join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, b"not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    let https = common::emulator_from(Emulator::builder().tls_name(HOST));
    let root = dir.join("root.pem");
    std::fs::write(&root, https.root_certificate_pem().unwrap()).unwrap();
    let certs_dir = dir.join("certs");
    std::fs::create_dir_all(&certs_dir).unwrap();
    std::fs::write(
        certs_dir.join("root.pem"),
        https.root_certificate_pem().unwrap(),
    )
    .unwrap();
    let https_url = format!("https://{HOST}:{}", https.addr().port());
    let build = || {
        Tasks::builder()
            .from_env()
            .resolve(HOST, https.addr())
            .no_proxy()
            .build()
    };
    let path = |p: &std::path::Path| p.display().to_string();
    for (var, value, why) in [
        ("SSL_CERT_FILE", path(&missing), "cannot be read"),
        ("SSL_CERT_FILE", path(&empty), "holds no certificate"),
        ("SSL_CERT_FILE", path(&garbage), "holds no certificate"),
        ("SSL_CERT_FILE", path(&empty_dir), "cannot be read"),
        ("SSL_CERT_DIR", path(&missing), "cannot be read"),
        ("SSL_CERT_DIR", path(&empty_dir), "holds no certificate"),
    ] {
        set(&[
            ("XPANDER_BASE_URL", &https_url),
            ("XPANDER_API_KEY", https.api_key()),
            (var, &value),
        ]);
        // At build (and from_env) time, naming the variable, the file and why.
        let message = config_error(build());
        assert!(
            message.contains(var) && message.contains(&value) && message.contains(why),
            "{var}={value}: {message}"
        );
        let message = config_error(Tasks::from_env());
        assert!(message.contains(&value), "{message}");
        // A client that never uses TLS does not read them.
        let local = Tasks::builder()
            .api_key("k")
            .base_url(emulator.base_url())
            .build();
        assert!(local.is_ok());
    }
    // A certificate block that is no certificate: an error at build time
    // that names the file, never a silent fallback to other roots.
    let bad_block = dir.join("bad-block.pem");
    std::fs::write(
        &bad_block,
        b"-----BEGIN CERTIFICATE-----\nZm9vYmFy\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    set(&[
        ("XPANDER_BASE_URL", &https_url),
        ("XPANDER_API_KEY", https.api_key()),
        ("SSL_CERT_FILE", &path(&bad_block)),
    ]);
    let message = config_error(build());
    assert!(message.contains("SSL_CERT_FILE"), "{message}");
    // A file created after a failed build is read at the next build (a
    // worker that retries its start-up is not stuck with the old error).
    let later = dir.join("later.pem");
    set(&[
        ("XPANDER_BASE_URL", &https_url),
        ("XPANDER_API_KEY", https.api_key()),
        ("SSL_CERT_FILE", &path(&later)),
    ]);
    assert!(config_error(build()).contains("cannot be read"));
    std::fs::write(&later, https.root_certificate_pem().unwrap()).unwrap();
    let tasks = build().unwrap();
    if cfg!(target_os = "linux") {
        both(&tasks);
    }
    // A usable CA file or directory: trusted (the platform verifier reads
    // it on Linux), in both faces, with no root added on the builder.
    for (var, value) in [
        ("SSL_CERT_FILE", path(&root)),
        ("SSL_CERT_DIR", path(&certs_dir)),
    ] {
        set(&[
            ("XPANDER_BASE_URL", &https_url),
            ("XPANDER_API_KEY", https.api_key()),
            (var, &value),
        ]);
        let tasks = build().unwrap();
        if cfg!(target_os = "linux") {
            both(&tasks);
            assert_eq!(tasks.tls_roots_for_tests().as_deref(), Some("Platform"));
        }
    }
    set(&[]);
    let _ = std::fs::remove_dir_all(&dir);
}
