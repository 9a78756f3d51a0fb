//! Typed models of the Tasks API.
