//! Rust client for the xpander.ai Tasks API.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod model;

#[cfg(feature = "emulator")]
pub mod emulator;
