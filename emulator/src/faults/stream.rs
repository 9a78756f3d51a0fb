//! Faults in the middle of an event stream: what happens after the first N
//! events of one response (the handshake counts; keep-alives do not).

use std::time::Duration;

/// What a mid-stream fault does once its response has sent its first N events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamFault {
    /// Close the connection without ending the chunked body.
    Drop,
    /// Send nothing at all, keep-alives included, for this long (`None`:
    /// until [`crate::Emulator::release`], counted by
    /// [`crate::Emulator::held`]); then go on, with every event meanwhile.
    Stall(Option<Duration>),
    /// Send one bad frame, then go on.
    Malformed(MalformedFrame),
    /// Send one event whose `data:` line is this many bytes long (without
    /// its line end), a JSON string of `x`s, then go on.
    OversizedLine(u64),
}

/// The bad frame of [`StreamFault::Malformed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedFrame {
    /// A `data:` line that is not JSON (a cut-off envelope).
    NotJson,
    /// A well-formed envelope without `type`.
    NoType,
}
