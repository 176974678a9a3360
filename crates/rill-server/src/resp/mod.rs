//! The RESP wire format: requests in (`decode.rs`), replies out (`encode.rs`).

pub mod decode;
pub mod encode;

pub use decode::{split_args, FrameLimits, ProtocolError, RequestDecoder};
pub use encode::{encode, Protocol};
