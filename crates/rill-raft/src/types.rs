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

/// A cluster member: how to reach it (its Raft endpoint and its client endpoint) and which
/// data directory the cluster knows it by (see `crate::identity`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// Address of the node's Raft service, `host:port`.
    pub raft_addr: String,
    /// Address clients use (Redis protocol), `host:port`, for redirects.
    pub client_addr: String,
    /// The incarnation of the node's store that the cluster knows; 0 while unknown. Raft
    /// messages name it, and a node with another incarnation refuses them.
    pub incarnation: u64,
}

impl<'de> Deserialize<'de> for Peer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Peer, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "Peer")]
        struct Current {
            raft_addr: String,
            client_addr: String,
            incarnation: u64,
        }
        #[derive(Deserialize)]
        #[serde(rename = "Peer")]
        struct WithoutIncarnation {
            raft_addr: String,
            client_addr: String,
        }
        if rill_core::format::decoding() <= rill_core::format::WITHOUT_INCARNATIONS {
            let old = WithoutIncarnation::deserialize(deserializer)?;
            return Ok(Peer {
                raft_addr: old.raft_addr,
                client_addr: old.client_addr,
                ..Peer::default()
            });
        }
        let peer = Current::deserialize(deserializer)?;
        Ok(Peer {
            raft_addr: peer.raft_addr,
            client_addr: peer.client_addr,
            incarnation: peer.incarnation,
        })
    }
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
