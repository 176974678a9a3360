//! Replication of the stream engine with openraft. The only crate that imports `openraft`.
//!
//! ```text
//!   RaftNode::write(command) ── batch, stamp now_ms ──▶ Raft::client_write_ff(Request)
//!                                                   │ leader appends and replicates
//!   LogStore::append ── Db::log_write ◀─────────────┤ (the leader does not wait for its fsync)
//!   Flusher: one fsync for every queued append (started by the append that finds none
//!            running) ──▶ tells openraft "flushed"
//!                                                   │ committed by a quorum
//!   StateMachine::apply ── rill_core::execute per entry, one Txn per batch
//!                       └─ Db::commit_with_meta: state + applied log id + membership + clock,
//!                          one WriteBatch
//!   snapshots: Db::export_state (one RocksDB snapshot) ──▶ peer ──▶ Db::import_state
//! ```
//!
//! Time enters only at the proposer: [`Stamper`] puts `max(wall clock, last stamp)` into each
//! [`Request`]; the state machine never reads a clock, so every replica applies the same bytes
//! and reaches the same state.
//!
//! Index numbering: openraft's first entry has index 0, while a store's applied index 0 means
//! "nothing applied"; the store's applied index is therefore the Raft log index plus one.

mod bugs;
mod codec;
mod config;
mod contact;
mod error;
mod flusher;
mod hot_log;
mod identity;
mod lease;
mod log_store;
mod network;
mod node;
mod planted;
mod proposer;
mod stamp;
mod state_machine;
mod types;

#[cfg(test)]
mod tests;

pub use bugs::Bugs;
pub use config::RaftConfig;
pub use error::Error;
pub use lease::MonotonicClock;
pub use log_store::{LogStore, StorageIo, StoredRaft};
pub use network::{Network, RpcKind, SnapshotReceipt, Transport, TransportError, APPEND_BYTES_MAX};
pub use node::{NodeError, NodeOptions, RaftNode, Role, Status};
pub use proposer::{ProposerLimits, PROPOSALS_IN_FLIGHT_MAX};
pub use stamp::{Clock, Stamper};
pub use state_machine::{AppliedEntry, ApplyListener, SnapshotBuilder, StateMachine};
pub use types::{Entry, LogId, NodeId, Peer, Raft, Request, Response, TypeConfig};
