//! The semantics of Redis streams, with no I/O, no clock and no randomness.
//!
//! ```text
//!  argv ──parse──▶ Command ──execute(store, now_ms)──▶ Reply
//!                                 │
//!                                 ▼
//!                        Store (typed records)
//! ```
//!
//! The caller stamps the time (`now_ms`) into every execution, so replaying the same commands
//! with the same stamps on the same state gives the same state and the same replies.

pub mod command;
pub mod engine;
pub mod format;
pub mod glob;
pub mod id;
pub mod invariants;
pub mod limits;
pub mod mem;
pub mod reply;
pub mod serde_bytes;
pub mod store;

pub use command::{parse, Command, Transaction};
pub use engine::execute;
pub use id::StreamId;
pub use invariants::{check_invariants, check_stream_invariants};
pub use limits::Limits;
pub use mem::MemStore;
pub use reply::Reply;
pub use store::{
    ConsumerMeta, Fields, GroupMeta, IdmpMeta, IdmpRecord, PendingEntry, ProducerClock,
    ProducerState, Store, StreamMeta,
};

#[cfg(test)]
mod tests;
