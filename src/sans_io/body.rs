//! The bytes of a request or an answer, and the rules both transports
//! follow while reading an answer (size limits, a body cut off). No I/O.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::fmt;

use crate::error::{Error, Result};

/// The body bytes of a request or an answer. Its `Debug` shows the size,
/// never the bytes (a task carries tokens; an error may echo the key).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body(pub Vec<u8>);

impl std::ops::Deref for Body {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body(bytes)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body(<{} bytes>)", self.0.len())
    }
}

/// The most bytes kept of a non-2xx answer's body: enough for any error
/// detail. The rest is not read (the connection is then not reused), so a
/// huge 503 page stays an [`Error::Api`] with its status, retried as such.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The body-size rules both transports apply while reading an answer: a 2xx
/// body over the limit is refused ([`Error::BodyTooLarge`], refused before
/// reading when the declared length says so); of any other answer only the
/// first [`MAX_ERROR_BODY_BYTES`] are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit {
    pub(crate) bytes: usize,
}

impl BodyLimit {
    /// `true` when a body of this status over the limit is an error (2xx),
    /// `false` when it is cut (any other status).
    pub(crate) fn is_strict(status: u16) -> bool {
        (200..300).contains(&status)
    }

    /// The most body bytes kept for this status.
    pub(crate) fn keep(self, status: u16) -> usize {
        if Self::is_strict(status) {
            self.bytes
        } else {
            MAX_ERROR_BODY_BYTES.min(self.bytes)
        }
    }

    /// Checks the declared `content-length` (if any) and answers the buffer
    /// capacity to start with.
    pub(crate) fn start(self, status: u16, declared: Option<u64>) -> Result<usize> {
        let keep = self.keep(status);
        match declared {
            Some(len) if len > keep as u64 && Self::is_strict(status) => Err(self.exceeded(status)),
            Some(len) => Ok((len as usize).min(keep)),
            None => Ok(1024.min(keep)),
        }
    }

    /// Appends a chunk of the body to what was read so far: all of it,
    /// or (for a non-2xx answer reaching its cut) its first bytes, then
    /// `false`: read no more. A 2xx answer over the limit is an error. (The
    /// async transport reads chunk by chunk; the blocking one reads whole.)
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn append(self, status: u16, body: &mut Vec<u8>, chunk: &[u8]) -> Result<bool> {
        let keep = self.keep(status);
        if body.len().saturating_add(chunk.len()) <= keep {
            body.extend_from_slice(chunk);
            Ok(true)
        } else if Self::is_strict(status) {
            Err(self.exceeded(status))
        } else {
            let room = keep.saturating_sub(body.len());
            body.extend_from_slice(chunk.get(..room).unwrap_or(chunk));
            Ok(false)
        }
    }

    /// The error of an answer over the limit.
    pub(crate) fn exceeded(self, status: u16) -> Error {
        Error::BodyTooLarge {
            status,
            limit: self.bytes,
        }
    }
}

/// What reading an open stream's body gave (the faces' event streams).
#[cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum StreamRead {
    /// The next bytes.
    Bytes(Vec<u8>),
    /// The body ended.
    End,
    /// No byte came for the idle timeout.
    Idle,
}

/// Says, on a transport error met while reading a body, how far the answer got.
pub(crate) fn broke_off(mut error: Error, status: u16, read: usize) -> Error {
    if let Error::Transport(t) = &mut error {
        t.message = format!(
            "the answer (status {status}) broke off after {read} body bytes: {}",
            t.message
        );
    }
    error
}
