//! The one TLS stack both transports use: rustls with the ring provider.
//!
//! Which roots are trusted is decided here, once per client, when a face
//! first needs TLS:
//!
//! 1. the platform's verifier (`rustls-platform-verifier`: the OS trust
//!    store on macOS and Windows; on Linux the system's CA files, or
//!    `SSL_CERT_FILE` / `SSL_CERT_DIR` when set), plus the extra roots of
//!    [`crate::ClientBuilder::add_root_certificate_pem`]. A CA file or
//!    directory named by those variables that cannot be read or holds no
//!    certificate fails [`crate::ClientBuilder::build`] with
//!    [`crate::Error::Config`] naming it and why (checked when any URL the
//!    key goes to is https), and a named one is never replaced by the
//!    bundled roots below;
//! 2. when the platform has no roots at all (scratch, distroless-static and
//!    slim images): Mozilla's roots bundled by the `webpki-roots` feature
//!    (on by default), plus the extra roots;
//! 3. with neither, only the extra roots; with none of those either, the
//!    first https call fails with [`crate::Error::Config`] naming the fixes.
//!
//! A client whose every key URL ([`crate::Config::key_urls`]) is plain http
//! (loopback, or opted in) needs no roots at all; one https URL among them
//! (an https events root behind an http loopback base) gets the roots.
//! A refused certificate is never retried
//! ([`crate::TransportError::is_tls_refusal`]).

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::Config;

/// The ring crypto provider, shared by ureq and reqwest (made once).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
    // 0.23.48 deprecates it for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let make = || Arc::new(rustls::crypto::ring::default_provider());
    PROVIDER.get_or_init(make).clone()
}

/// Where the trusted roots came from (for tests and messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Roots {
    /// The base URL is plain http: no certificate is ever checked.
    NotNeeded,
    /// The platform's verifier (with any extra roots).
    Platform,
    /// The bundled Mozilla roots (with any extra roots): the platform had none.
    #[cfg_attr(not(feature = "webpki-roots"), allow(dead_code))]
    Bundled,
    /// Only the extra roots: the platform had none, nothing is bundled.
    #[cfg_attr(feature = "webpki-roots", allow(dead_code))]
    ExtraOnly,
}

/// The rustls configuration of a client (ALPN left empty: each face sets
/// its own), and where its roots came from. The error names the fixes.
pub(crate) fn client_config(config: &Config) -> Result<(ClientConfig, Roots), String> {
    // A test's "no platform roots" is not the user naming a CA file.
    let named = config.platform_roots && crate::config::ca_file_vars() != (None, None);
    client_config_with(config, named, |extra| {
        if !config.platform_roots {
            return Err(rustls::Error::General(
                "No CA certificates were loaded from the system".into(),
            ));
        }
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider())
            .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
    })
}

/// As [`client_config`], with the platform verifier made by `platform`
/// (which fails when the platform has no roots).
pub(crate) fn client_config_with(
    config: &Config,
    names_ca_files: bool,
    platform: impl Fn(
        Vec<CertificateDer<'static>>,
    ) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error>,
) -> Result<(ClientConfig, Roots), String> {
    // Roots are needed when any URL the key goes to is https (an http
    // loopback base URL may have an https events root).
    let (verifier, roots): (Arc<dyn ServerCertVerifier>, Roots) = if !config.routes.needs_tls() {
        (Arc::new(RefuseAll), Roots::NotNeeded)
    } else {
        let extra: Vec<CertificateDer<'static>> = config
            .root_certificates
            .iter()
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect();
        // The platform's roots alone first: with extra roots given, the
        // platform verifier succeeds even when the platform has none,
        // and the bundled roots would then be left out.
        match platform(Vec::new()) {
            Ok(verifier) if extra.is_empty() => (verifier, Roots::Platform),
            Ok(_) => (
                platform(extra).map_err(|e| format!("cannot set up TLS: {e}"))?,
                Roots::Platform,
            ),
            // The user named a CA file: never fall back to other roots.
            Err(platform_error) if names_ca_files => {
                return Err(format!(
                    "the CA certificates named by SSL_CERT_FILE / SSL_CERT_DIR cannot be \
                         used: {platform_error}"
                ))
            }
            Err(platform_error) => fallback(extra, &platform_error)?,
        }
    };
    let tls = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        // Not dangerous: every verifier here checks the chain (RefuseAll
        // refuses everything); `dangerous` is rustls' door to a custom one.
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((tls, roots))
}

/// The verifier when the platform has no roots.
fn fallback(
    extra: Vec<CertificateDer<'static>>,
    platform_error: &rustls::Error,
) -> Result<(Arc<dyn ServerCertVerifier>, Roots), String> {
    let mut store = RootCertStore::empty();
    #[cfg(feature = "webpki-roots")]
    let roots = {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Roots::Bundled
    };
    #[cfg(not(feature = "webpki-roots"))]
    let roots = Roots::ExtraOnly;
    for cert in extra {
        store
            .add(cert)
            .map_err(|e| format!("an extra root certificate is not usable: {e}"))?;
    }
    if store.is_empty() {
        return Err(format!(
            "no root certificates to check the server with: the platform has none \
             ({platform_error}). Install the system CA certificates (ca-certificates), \
             set SSL_CERT_FILE to a PEM bundle, enable the crate's `webpki-roots` feature, \
             or add a root with ClientBuilder::add_root_certificate_pem"
        ));
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    Ok((verifier, roots))
}

/// The verifier of a client whose base URL is plain http: it never checks
/// a certificate, so it refuses any it is shown.
#[derive(Debug)]
struct RefuseAll;

impl ServerCertVerifier for RefuseAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(
            "this client's base URL is plain http; it trusts no certificate".into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls13_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no certificate is trusted".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: &str, pems: &[String]) -> Config {
        let mut builder = crate::ClientBuilder::new()
            .api_key("k")
            .base_url(base_url)
            .no_proxy();
        for pem in pems {
            builder = builder.add_root_certificate_pem(pem);
        }
        builder.build_config().unwrap()
    }

    fn no_platform_roots(
        _: Vec<CertificateDer<'static>>,
    ) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error> {
        Err(rustls::Error::General(
            "No CA certificates were loaded from the system".into(),
        ))
    }

    #[test]
    fn plain_http_needs_no_roots() {
        let (_, roots) =
            client_config_with(&config("http://127.0.0.1:1", &[]), false, no_platform_roots)
                .unwrap();
        assert_eq!(roots, Roots::NotNeeded);
    }

    #[test]
    fn without_platform_roots_the_bundled_ones_are_used() {
        let result =
            client_config_with(&config("https://x.example", &[]), false, no_platform_roots);
        #[cfg(feature = "webpki-roots")]
        assert_eq!(result.unwrap().1, Roots::Bundled);
        #[cfg(not(feature = "webpki-roots"))]
        {
            let err = result.unwrap_err();
            for fix in ["SSL_CERT_FILE", "webpki-roots", "add_root_certificate_pem"] {
                assert!(err.contains(fix), "{err}");
            }
        }
    }

    #[test]
    fn a_named_ca_file_is_never_replaced_by_the_bundled_roots() {
        let err = client_config_with(&config("https://x.example", &[]), true, no_platform_roots)
            .unwrap_err();
        assert!(err.contains("SSL_CERT_FILE"), "{err}");
    }

    #[test]
    fn the_platform_verifier_gets_the_extra_roots() {
        let seen = std::sync::Mutex::new(Vec::new());
        let platform = |extra: Vec<CertificateDer<'static>>| {
            seen.lock().unwrap().push(extra.len());
            Ok(Arc::new(RefuseAll) as Arc<dyn ServerCertVerifier>)
        };
        let pem = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n".to_string();
        let (_, roots) =
            client_config_with(&config("https://x.example", &[pem]), false, platform).unwrap();
        assert_eq!(roots, Roots::Platform);
        assert_eq!(*seen.lock().unwrap(), [0, 1]);
    }
}
