//! The types openraft is instantiated with. Every one of them is persisted or sent between
//! nodes, so their serde shape is a wire and disk format: add fields only at the end of a struct
//! and never reorder enum variants (postcard encodes variants by position).

use std::fmt;
use std::io::Cursor;
use std::sync::Arc;

use rill_core::{Command, Reply};
use serde::{Deserialize, Serialize};

pub type NodeId = u64;

/// One Raft log entry's application payload: a batch of commands, applied in order, and the
/// time the leader gave them. Batching many clients' commands into one entry is how they share
/// one log append and one fsync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Shared, so the log store's copy of a recent entry (`LogStore`'s hot entries) is handed
    /// out without copying its commands. Encoded as a sequence, as a `Vec` is.
    pub commands: Arc<[Command]>,
    /// Milliseconds since the Unix epoch, decided once by the proposer ([`crate::Stamper`]).
    pub now_ms: u64,
}

/// What applying one entry answered: a reply per command. Blank and membership entries have
/// none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub replies: Vec<Reply>,
}

/// How to reach a cluster member: its Raft (peer) endpoint and its client endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Address of the node's Raft service, `host:port`.
    pub raft_addr: String,
    /// Address clients use (Redis protocol), `host:port`, for redirects.
    pub client_addr: String,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raft={} client={}", self.raft_addr, self.client_addr)
    }
}

openraft::declare_raft_types!(
    /// Rill's instantiation of openraft.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = Peer,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, Peer>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Peer>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
