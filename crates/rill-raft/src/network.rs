//! Raft messages over any byte transport. openraft's request and response types are encoded
//! with this crate's codec; a [`Transport`] (gRPC in `rill-server`, a direct call in tests)
//! only moves bytes, so no other crate needs openraft's types.
//!
//! ```text
//!  openraft ─▶ PeerClient::append_entries(rpc) ── encode ─▶ Transport::call(peer, kind, bytes)
//!                                                                 │ the peer's server
//!                                      RaftNode::serve_rpc(kind, bytes) ◀─┘
//!                                        decode, Raft::append_entries, encode Result<_, RaftError>
//! ```

use std::future::Future;
use std::io;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{decode, encode};
use crate::error::Error;
use crate::node::RaftNode;
use crate::types::{NodeId, Peer, Raft, TypeConfig};

/// The three Raft RPCs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcKind {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

/// Why a transport call failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made: openraft backs off before trying again.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The call was sent but failed or timed out; its effect is unknown.
    #[error("network: {0}")]
    Network(String),
}

/// Moves one encoded Raft message to `peer` and its encoded answer back, within `timeout`.
pub trait Transport: Clone + Send + Sync + 'static {
    fn call(
        &self,
        target: NodeId,
        peer: &Peer,
        kind: RpcKind,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;
}

/// openraft's network factory over a [`Transport`].
#[derive(Clone)]
pub struct Network<T> {
    transport: T,
}

impl<T: Transport> Network<T> {
    pub fn new(transport: T) -> Network<T> {
        Network { transport }
    }
}

pub struct PeerClient<T> {
    transport: T,
    target: NodeId,
    peer: Peer,
}

impl<T: Transport> RaftNetworkFactory<TypeConfig> for Network<T> {
    type Network = PeerClient<T>;

    async fn new_client(&mut self, target: NodeId, peer: &Peer) -> PeerClient<T> {
        PeerClient {
            transport: self.transport.clone(),
            target,
            peer: peer.clone(),
        }
    }
}

impl<T: Transport> PeerClient<T> {
    async fn call<Req, Resp, E>(
        &self,
        kind: RpcKind,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, Peer, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let payload = encode(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let answer = self
            .transport
            .call(self.target, &self.peer, kind, payload, option.hard_ttl())
            .await
            .map_err(|error| match error {
                TransportError::Unreachable(why) => {
                    RPCError::Unreachable(Unreachable::new(&io::Error::other(why)))
                }
                TransportError::Network(why) => {
                    RPCError::Network(NetworkError::new(&io::Error::other(why)))
                }
            })?;
        let result: Result<Resp, RaftError<NodeId, E>> =
            decode(&answer).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|error| match error {
            // A peer whose core has stopped is as good as gone.
            RaftError::Fatal(fatal) => RPCError::Network(NetworkError::new(&fatal)),
            error => RPCError::RemoteError(RemoteError::new(self.target, error)),
        })
    }
}

impl<T: Transport> RaftNetwork<TypeConfig> for PeerClient<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Peer, RaftError<NodeId>>> {
        self.call(RpcKind::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Peer, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(RpcKind::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Peer, RaftError<NodeId>>> {
        self.call(RpcKind::Vote, &rpc, &option).await
    }
}

impl RaftNode {
    /// Serves one Raft RPC that arrived from a peer: decodes it, hands it to the Raft core,
    /// encodes the core's answer (an error from the core is an answer too). Fails only on a
    /// message that does not decode.
    pub async fn serve_rpc(&self, kind: RpcKind, payload: &[u8]) -> Result<Vec<u8>, Error> {
        serve_rpc(self.raft(), kind, payload).await
    }
}

pub(crate) async fn serve_rpc(
    raft: &Raft,
    kind: RpcKind,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    {
        let answer = match kind {
            RpcKind::AppendEntries => {
                let rpc = decode(payload).map_err(Error::codec("append-entries request"))?;
                encode(&raft.append_entries(rpc).await)
            }
            RpcKind::Vote => {
                let rpc = decode(payload).map_err(Error::codec("vote request"))?;
                encode(&raft.vote(rpc).await)
            }
            RpcKind::InstallSnapshot => {
                let rpc = decode(payload).map_err(Error::codec("install-snapshot request"))?;
                encode(&raft.install_snapshot(rpc).await)
            }
        };
        answer.map_err(Error::codec("raft response"))
    }
}
