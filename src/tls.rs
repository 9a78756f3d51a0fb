//! The one TLS stack both transports use: rustls with the ring provider and
//! the platform's certificate verifier.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The ring crypto provider, shared by ureq and reqwest.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
