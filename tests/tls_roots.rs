//! TLS with an empty CA store, as in scratch, distroless-static and slim
//! images: the platform's roots are taken as absent
//! (`without_platform_roots_for_tests`; an empty `SSL_CERT_FILE` is a
//! configuration error, tests/ca_files.rs).

mod common;
#[path = "support/net.rs"]
mod net;

use common::{emulator, emulator_from};
use net::TestCa;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::{Error, Tasks, TransportErrorKind, UpdateTask};

const HOST: &str = "tasks.example.test";

/// A client of the https `emulator` by the name `HOST`, trusting no extra root.
fn https(emulator: &Emulator) -> xpander_sdk::ClientBuilder {
    Tasks::builder()
        .base_url(format!("https://{HOST}:{}", emulator.addr().port()))
        .api_key(emulator.api_key())
        .resolve(HOST, emulator.addr())
        .no_proxy()
        .without_platform_roots_for_tests()
}

/// An update through each face; both must succeed.
async fn update_in_both_faces(tasks: &Tasks) {
    tasks
        .aupdate("task_xyz", &UpdateTask::new().result("a"))
        .await
        .unwrap();
    let blocking = tasks.clone();
    tokio::task::spawn_blocking(move || {
        blocking.update("task_xyz", &UpdateTask::new().result("b"))
    })
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_http_needs_no_roots() {
    let emulator = emulator();
    let tasks = common::client(&emulator);
    update_in_both_faces(&tasks).await;
    assert_eq!(tasks.tls_roots_for_tests().as_deref(), Some("NotNeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_uses_the_bundled_roots_and_trusts_extra_ones() {
    let emulator = emulator_from(Emulator::builder().tls_name(HOST));

    // No extra root: the bundled roots (or, without them, a config error
    // naming the fixes). Either way, no certificate from the test CA passes.
    let plain = https(&emulator).build().unwrap();
    let err = plain.aget("task_xyz").await.unwrap_err();
    let blocking = plain.clone();
    let err_blocking = tokio::task::spawn_blocking(move || blocking.get("task_xyz").unwrap_err())
        .await
        .unwrap();
    if cfg!(feature = "webpki-roots") {
        assert_eq!(plain.tls_roots_for_tests().as_deref(), Some("Bundled"));
        for err in [&err, &err_blocking] {
            // The handshake ran, against Mozilla's roots, and refused the
            // test CA's certificate.
            assert!(
                matches!(err, Error::Transport(t) if t.kind == TransportErrorKind::Connect),
                "{err:?}"
            );
        }
    } else {
        for err in [&err, &err_blocking] {
            let shown = err.to_string();
            assert!(matches!(err, Error::Config(_)), "{err:?}");
            for fix in ["SSL_CERT_FILE", "webpki-roots", "add_root_certificate_pem"] {
                assert!(shown.contains(fix), "{shown}");
            }
        }
    }
    assert!(emulator.requests().is_empty());

    // With the emulator's root added, both faces get through.
    let trusted = https(&emulator)
        .add_root_certificate_pem(emulator.root_certificate_pem().unwrap())
        .build()
        .unwrap();
    update_in_both_faces(&trusted).await;
    assert_eq!(emulator.requests().len(), 2);

    // Another CA's root is not enough.
    let other = TestCa::new(&[HOST]);
    let wrong = https(&emulator)
        .add_root_certificate_pem(&other.root_pem)
        .build()
        .unwrap();
    let err = wrong.aget("task_xyz").await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(emulator.requests().len(), 2);
}
