//! Rust client for the xpander.ai Tasks API.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod front;

mod client;
pub mod config;
pub mod core;
pub mod error;
pub mod model;
pub mod params;

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "async")]
pub mod nonblocking;
#[cfg(any(feature = "blocking", feature = "async"))]
mod tls;

#[cfg(feature = "emulator")]
pub mod emulator;

pub use client::Tasks;
pub use config::{ApiKey, ClientBuilder, Config, RetryPolicy, Timeouts};
pub use error::{
    ApiError, DecodeError, Error, ErrorClass, Result, TransportError, TransportErrorKind,
};
pub use model::*;
pub use params::{CreateInput, CreateTask, ExternalTaskReport, ListFilter, UpdateTask};

/// The `user-agent` this crate sends.
pub const USER_AGENT: &str = concat!("xpander-sdk-rust/", env!("CARGO_PKG_VERSION"));
