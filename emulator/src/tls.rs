//! Serving https (feature `tls`): a test certificate authority and a server
//! certificate made at start (rcgen, ring), and rustls under the connection
//! loop (tokio-rustls).
//!
//! The connection loop ([`crate::server`]) is generic over the stream,
//! so a decrypted stream is served exactly as a plain one: the byte-level
//! faults (a truncated body, a connection closed without an answer, an
//! event stream dropped or stalled mid-way) happen inside the TLS session,
//! as they would behind a real TLS-terminating server. A connection the
//! emulator ends is closed with a TLS `close_notify`, the TLS counterpart of
//! the plain server's TCP `FIN`.
//!
//! Without the feature, [`Tls`] has no value: the emulator serves plain
//! HTTP and nothing here costs anything.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

/// The names every certificate carries: the loopback host in its three
/// spellings.
#[cfg(feature = "tls")]
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A server's TLS identity: what accepts connections, and the root
/// certificate a client must trust.
#[cfg(feature = "tls")]
pub(crate) struct Tls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    root_pem: String,
    root_der: Vec<u8>,
    pub(crate) handshakes: std::sync::atomic::AtomicU64,
}

/// Without the `tls` feature there is no TLS identity.
#[cfg(not(feature = "tls"))]
pub(crate) enum Tls {}

/// The settings of [`Tls`] from the builder: off, or on with extra names.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    pub enabled: bool,
    /// DNS names or IP addresses the certificate names besides the loopback ones.
    pub names: Vec<String>,
}

impl Settings {
    /// The TLS identity of a server bound to `ip`, when TLS is on.
    pub(crate) fn identity(&self, ip: IpAddr) -> io::Result<Option<Arc<Tls>>> {
        if !self.enabled {
            return Ok(None);
        }
        #[cfg(feature = "tls")]
        return Tls::generate(ip, &self.names).map(|t| Some(Arc::new(t)));
        #[cfg(not(feature = "tls"))]
        {
            let _ = (ip, &self.names);
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the emulator was built without its `tls` feature",
            ))
        }
    }
}

#[cfg(feature = "tls")]
fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("TLS setup: {e}"))
}

#[cfg(feature = "tls")]
impl Tls {
    /// A new CA, and a server certificate it signs for the loopback names,
    /// `ip` (the bound address, unless unspecified) and `names`.
    fn generate(ip: IpAddr, names: &[String]) -> io::Result<Tls> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // A name of its own per start: two emulators' authorities never
        // pass for one another in a trust store.
        let ca_name = format!("xpander-emulator test CA {:016x}", fastrand::u64(..));
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(other)?)
            .map_err(other)?;

        let mut subject_names: Vec<String> = LOOPBACK_NAMES.iter().map(|n| n.to_string()).collect();
        if !ip.is_unspecified() {
            subject_names.push(ip.to_string());
        }
        subject_names.extend(names.iter().cloned());
        subject_names.sort();
        subject_names.dedup();
        let key = KeyPair::generate().map_err(other)?;
        let mut leaf_params = CertificateParams::new(subject_names).map_err(other)?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "xpander-emulator");
        let leaf = leaf_params.signed_by(&key, &ca).map_err(other)?;

        // ring's provider, chosen on purpose (no C toolchain, no aws-lc): rustls
        // 0.23.48 deprecates it for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(other)?;
        // The emulator speaks HTTP/1.1 only; saying so keeps clients that
        // offer h2 on HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            root_pem: ca.pem(),
            root_der: ca.der().to_vec(),
            handshakes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub(crate) fn root_pem(&self) -> &str {
        &self.root_pem
    }

    pub(crate) fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    pub(crate) fn handshakes(&self) -> u64 {
        self.handshakes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(not(feature = "tls"))]
impl Tls {
    pub(crate) fn root_pem(&self) -> &str {
        match *self {}
    }

    pub(crate) fn root_der(&self) -> &[u8] {
        match *self {}
    }

    pub(crate) fn handshakes(&self) -> u64 {
        match *self {}
    }
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn the_root_is_a_pem_certificate_and_its_der_matches() {
        let tls = Tls::generate("127.0.0.1".parse().unwrap(), &["emulator".into()]).unwrap();
        assert!(tls.root_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let parsed = rustls::pki_types::CertificateDer::pem_slice_iter(tls.root_pem().as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].as_ref(), tls.root_der());
    }

    #[test]
    fn each_start_makes_a_new_authority() {
        let ip = "127.0.0.1".parse().unwrap();
        let (a, b) = (
            Tls::generate(ip, &[]).unwrap(),
            Tls::generate(ip, &[]).unwrap(),
        );
        assert_ne!(a.root_der(), b.root_der());
    }
}
