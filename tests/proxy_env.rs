//! The proxy environment variables, as a user's shell sets them, in both
//! faces. One test, in its own process: it changes the environment, which
//! no other test may read meanwhile.

mod common;
#[path = "support/net.rs"]
mod net;

use std::sync::atomic::Ordering;

use common::emulator_from;
use net::ConnectProxy;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::{Tasks, UpdateTask};

const HOST: &str = "tasks.example.test";
const VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

fn set(pairs: &[(&str, String)]) {
    for name in VARS {
        std::env::remove_var(name);
    }
    for (name, value) in pairs {
        std::env::set_var(name, value);
    }
}

#[test]
fn proxy_variables_in_both_faces() {
    let emulator = emulator_from(Emulator::builder().tls_name(HOST));
    let proxy = ConnectProxy::start(emulator.addr());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let https = || {
        Tasks::builder()
            .base_url(format!("https://{HOST}:{}", emulator.addr().port()))
            .api_key(emulator.api_key())
            .add_root_certificate_pem(emulator.root_certificate_pem().unwrap())
            .resolve(HOST, emulator.addr())
            .build()
            .unwrap()
    };
    let both = |tasks: &Tasks| {
        tasks
            .update("task_xyz", &UpdateTask::new().result("b"))
            .unwrap();
        rt.block_on(tasks.aupdate("task_xyz", &UpdateTask::new().result("a")))
            .unwrap();
    };

    // HTTPS_PROXY (upper case, as corporate shells set it): a tunnel per face.
    set(&[("HTTPS_PROXY", format!("http://{}", proxy.addr))]);
    let tasks = https();
    assert_eq!(
        tasks.config().proxy.as_ref().map(|p| p.port()),
        Some(proxy.addr.port())
    );
    both(&tasks);
    assert_eq!(proxy.tunnels.load(Ordering::SeqCst), 2);

    // NO_PROXY names the host (by a parent domain): straight to it.
    set(&[
        ("https_proxy", format!("http://{}", proxy.addr)),
        ("no_proxy", "localhost,.example.test".to_string()),
    ]);
    let tasks = https();
    assert!(tasks.config().proxy.is_none());
    both(&tasks);
    assert_eq!(
        proxy.tunnels.load(Ordering::SeqCst),
        2,
        "NO_PROXY bypassed it"
    );

    // ALL_PROXY as the fallback.
    set(&[("ALL_PROXY", format!("http://{}", proxy.addr))]);
    both(&https());
    assert_eq!(proxy.tunnels.load(Ordering::SeqCst), 4);

    // A proxy on a closed port, as in a CI runner's leftover settings: the
    // loopback emulator is still reached, in both faces.
    set(&[
        ("http_proxy", "http://127.0.0.1:9".to_string()),
        ("HTTPS_PROXY", "http://127.0.0.1:9".to_string()),
        ("ALL_PROXY", "http://127.0.0.1:9".to_string()),
    ]);
    let local = common::builder(&emulator).build().unwrap();
    assert!(local.config().base_url.starts_with("https://127.0.0.1:"));
    both(&local);

    // A socks proxy cannot be honoured: refused, not silently bypassed.
    set(&[("HTTPS_PROXY", "socks5://127.0.0.1:1080".to_string())]);
    let err = Tasks::builder()
        .base_url(format!("https://{HOST}"))
        .api_key("k")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("HTTPS_PROXY"), "{err}");
    set(&[]);
}
