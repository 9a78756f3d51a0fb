//! A local Tasks API emulator.
