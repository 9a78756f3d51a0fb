//! Faults in the middle of an event stream: what happens after the first N
//! events of one response (the handshake counts; keep-alives do not).

use std::time::Duration;

use super::{Fault, FaultAction};

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

impl Fault {
    fn mid_stream(mut self, after: u64, fault: StreamFault) -> Fault {
        self.action = FaultAction::MidStream { after, fault };
        self
    }

    /// On an event stream: drop the connection after `n` events.
    pub fn drop_after(self, n: u64) -> Fault {
        self.mid_stream(n, StreamFault::Drop)
    }

    /// On an event stream: after `n` events, send nothing until released
    /// ([`crate::Emulator::release`]); [`crate::Emulator::held`] counts it.
    pub fn stall_after(self, n: u64) -> Fault {
        self.mid_stream(n, StreamFault::Stall(None))
    }

    /// On an event stream: after `n` events, send nothing for `d`.
    pub fn stall_after_for(self, n: u64, d: Duration) -> Fault {
        self.mid_stream(n, StreamFault::Stall(Some(d)))
    }

    /// On an event stream: after `n` events, send one bad frame.
    pub fn malformed_after(self, n: u64, frame: MalformedFrame) -> Fault {
        self.mid_stream(n, StreamFault::Malformed(frame))
    }

    /// On an event stream: after `n` events, send one `data:` line of
    /// `bytes` bytes.
    pub fn oversized_line_after(self, n: u64, bytes: u64) -> Fault {
        self.mid_stream(n, StreamFault::OversizedLine(bytes))
    }
}

impl FaultAction {
    /// True for the faults that only apply to event streams.
    pub(crate) fn is_mid_stream(&self) -> bool {
        matches!(self, FaultAction::MidStream { .. })
    }
}
