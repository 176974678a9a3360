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
//!
//! Every request is addressed to the incarnation the sender's membership names for the target
//! (`to u64 LE | request`), and every answer says the answerer's (`served u8 | incarnation u64
//! LE | answer`): a node refuses, unread, a message meant for another incarnation of itself, and
//! the sender learns who answered (`crate::identity`).

use std::future::Future;
use std::io;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    SnapshotMismatch, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::SnapshotSegmentId;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{decode, encode_after};
use crate::contact::LeaderContact;
use crate::error::Error;
use crate::identity::Strangers;
use crate::lease::{Lease, MonotonicClock};
use crate::node::RaftNode;
use crate::types::{NodeId, Peer, Raft, TypeConfig};

/// Bytes before a request: the incarnation it is addressed to.
const REQUEST_HEADER_BYTES: usize = 8;
/// Bytes before an answer: served (1) or refused (0), and the answerer's incarnation.
const ANSWER_HEADER_BYTES: usize = 9;

/// The most bytes one AppendEntries carries; more entries are split over several. openraft
/// 0.9 gives an AppendEntries one heartbeat interval (50 ms by default) to be sent, written and
/// fsynced by the follower, then sends it again: one that cannot make it in time is sent
/// forever. One log entry always fits (`ProposerLimits::batch_bytes_max` is below this, which
/// `RaftNode::start` checks).
pub const APPEND_BYTES_MAX: usize = 4 << 20;
/// What an AppendEntries of one entry holds besides the entry's commands: vote, log ids,
/// framing. A few hundred bytes; generous.
pub const APPEND_FRAMING_BYTES: usize = 64 << 10;

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

    /// The largest message the transport carries. An AppendEntries that encodes larger is
    /// not sent: openraft is told `PayloadTooLarge` and sends fewer entries.
    fn message_bytes_max(&self) -> usize {
        usize::MAX
    }
}

/// openraft's network factory over a [`Transport`].
#[derive(Clone)]
pub struct Network<T> {
    transport: T,
    strangers: Strangers,
    lease: Lease,
}

impl<T: Transport> Network<T> {
    pub fn new(transport: T) -> Network<T> {
        Network {
            transport,
            strangers: Strangers::default(),
            lease: Lease::default(),
        }
    }

    /// Members that answered with another incarnation than the membership names.
    pub(crate) fn strangers(&self) -> Strangers {
        self.strangers.clone()
    }

    /// Which AppendEntries the peers accepted, and when they were sent.
    pub(crate) fn lease(&self) -> Lease {
        self.lease.clone()
    }

    /// Measures the lease with `clock` instead of tokio's (before the node starts).
    pub(crate) fn with_lease_clock(mut self, clock: MonotonicClock) -> Network<T> {
        self.lease = Lease::with_clock(clock);
        self
    }
}

pub struct PeerClient<T> {
    transport: T,
    target: NodeId,
    peer: Peer,
    strangers: Strangers,
    lease: Lease,
}

impl<T: Transport> RaftNetworkFactory<TypeConfig> for Network<T> {
    type Network = PeerClient<T>;

    async fn new_client(&mut self, target: NodeId, peer: &Peer) -> PeerClient<T> {
        PeerClient {
            transport: self.transport.clone(),
            target,
            peer: peer.clone(),
            strangers: self.strangers.clone(),
            lease: self.lease.clone(),
        }
    }
}

impl<T: Transport> PeerClient<T> {
    /// Sends `request`, an AppendEntries of `entries` entries or another message (0).
    async fn call<Req, Resp, E>(
        &self,
        kind: RpcKind,
        request: &Req,
        entries: usize,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, Peer, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let to = self.peer.incarnation.to_le_bytes().to_vec();
        let payload =
            encode_after(to, request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let max = match kind {
            RpcKind::AppendEntries => APPEND_BYTES_MAX.min(self.transport.message_bytes_max()),
            _ => self.transport.message_bytes_max(),
        };
        if payload.len() > max {
            if entries > 1 {
                // As many entries as fit at this mean size; one entry always fits.
                let fit = entries as u128 * max as u128 / payload.len() as u128;
                let hint = (fit as u64).clamp(1, entries as u64 - 1);
                return Err(RPCError::PayloadTooLarge(
                    PayloadTooLarge::new_entries_hint(hint),
                ));
            }
            let why = format!(
                "a {kind:?} of {} bytes exceeds the {max}-byte message cap",
                payload.len()
            );
            return Err(RPCError::Network(NetworkError::new(&io::Error::other(why))));
        }
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
        // A refusal is `Unreachable`: openraft backs off before it tries again.
        let answer = self.open(&answer).map_err(|unopened| match unopened {
            Unopened::Short => RPCError::Network(NetworkError::new(&io::Error::other(
                "an answer shorter than its header",
            ))),
            Unopened::Refused(why) => {
                RPCError::Unreachable(Unreachable::new(&io::Error::other(why)))
            }
        })?;
        let result: Result<Resp, RaftError<NodeId, E>> =
            decode(answer).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|error| match error {
            // A peer whose core has stopped is as good as gone.
            RaftError::Fatal(fatal) => RPCError::Network(NetworkError::new(&fatal)),
            error => RPCError::RemoteError(RemoteError::new(self.target, error)),
        })
    }
}

/// Why an answer's envelope holds no answer.
enum Unopened {
    /// Shorter than its header.
    Short,
    /// The target refused: it is another incarnation than the membership names.
    Refused(String),
}

impl<T> PeerClient<T> {
    /// The answer inside `envelope`, once its incarnation has been noted.
    fn open<'a>(&self, envelope: &'a [u8]) -> Result<&'a [u8], Unopened> {
        let Some((header, answer)) = envelope.split_first_chunk::<ANSWER_HEADER_BYTES>() else {
            return Err(Unopened::Short);
        };
        let (served, incarnation) = (header[0] == 1, u64_le(&header[1..]));
        if incarnation != self.peer.incarnation {
            self.strangers.saw(self.target, incarnation);
        } else {
            self.strangers.known(self.target);
        }
        if !served {
            return Err(Unopened::Refused(format!(
                "node {} is incarnation {incarnation:#x}, not {:#x}: its store was replaced",
                self.target, self.peer.incarnation
            )));
        }
        Ok(answer)
    }
}

fn u64_le(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

impl<T: Transport> RaftNetwork<TypeConfig> for PeerClient<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Peer, RaftError<NodeId>>> {
        let entries = rpc.entries.len();
        let (vote, sent) = (rpc.vote, self.lease.now());
        let answer = self
            .call(RpcKind::AppendEntries, &rpc, entries, &option)
            .await;
        // The target accepted the vote, so refuses to vote for another leader for a lease
        // from now on (`crate::lease`). A conflict accepts it too, but is not counted.
        if let Ok(AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_)) =
            &answer
        {
            self.lease.acked(self.target, vote, sent);
        }
        answer
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Peer, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(RpcKind::InstallSnapshot, &rpc, 0, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Peer, RaftError<NodeId>>> {
        self.call(RpcKind::Vote, &rpc, 0, &option).await
    }
}

impl RaftNode {
    /// Serves one Raft RPC that arrived from a peer: decodes it, hands it to the Raft core,
    /// encodes the core's answer (an error from the core is an answer too). Fails on a
    /// message that does not decode or that [`SnapshotReceipt`] refuses.
    pub async fn serve_rpc(&self, kind: RpcKind, payload: &[u8]) -> Result<Vec<u8>, Error> {
        let me = Receiver {
            id: self.id(),
            incarnation: self.incarnation(),
            receipt: self.snapshot_receipt(),
            contact: self.leader_contact(),
        };
        serve_rpc(self.raft(), &me, kind, payload).await
    }
}

/// What a node has received of the snapshot its leader streams to it. openraft 0.9 seeks to
/// each chunk's offset and writes, so a chunk far past the end would make the node zero-fill
/// memory up to it (one at offset 2^36: 64 GiB). A chunk must start at or before the end of
/// what arrived of the same snapshot, and the snapshot may not grow past `bytes_max`.
pub struct SnapshotReceipt {
    bytes_max: u64,
    /// The snapshot being received and the end of what arrived of it.
    current: std::sync::Mutex<Option<(String, u64)>>,
}

enum Receipt {
    Admitted,
    /// Not the continuation of what arrived: the answer that makes the leader start over.
    Mismatch {
        expect: u64,
    },
}

impl SnapshotReceipt {
    pub fn new(bytes_max: u64) -> SnapshotReceipt {
        SnapshotReceipt {
            bytes_max,
            current: std::sync::Mutex::new(None),
        }
    }

    fn admit(&self, rpc: &InstallSnapshotRequest<TypeConfig>) -> Result<Receipt, Error> {
        let id = &rpc.meta.snapshot_id;
        let end = rpc.offset.checked_add(rpc.data.len() as u64);
        let end = match end {
            Some(end) if end <= self.bytes_max => end,
            _ => {
                return Err(Error::Refused(format!(
                    "snapshot chunk at offset {} would grow the snapshot past {} bytes",
                    rpc.offset, self.bytes_max
                )))
            }
        };
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if rpc.offset == 0 {
            *current = Some((id.clone(), end));
            return Ok(Receipt::Admitted);
        }
        match current.as_mut() {
            Some((current_id, received)) if current_id == id && rpc.offset <= *received => {
                *received = (*received).max(end);
                Ok(Receipt::Admitted)
            }
            Some((current_id, received)) if current_id == id => {
                Ok(Receipt::Mismatch { expect: *received })
            }
            _ => Ok(Receipt::Mismatch { expect: 0 }),
        }
    }
}

/// The node a Raft message arrives at.
pub(crate) struct Receiver<'a> {
    pub(crate) id: NodeId,
    pub(crate) incarnation: u64,
    pub(crate) receipt: &'a SnapshotReceipt,
    pub(crate) contact: &'a LeaderContact,
}

pub(crate) async fn serve_rpc(
    raft: &Raft,
    me: &Receiver<'_>,
    kind: RpcKind,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    let Some((to, payload)) = payload.split_first_chunk::<REQUEST_HEADER_BYTES>() else {
        return Err(Error::Refused(
            "a Raft message shorter than its header".to_owned(),
        ));
    };
    let to = u64::from_le_bytes(*to);
    let mut header = vec![1];
    header.extend_from_slice(&me.incarnation.to_le_bytes());
    if to != 0 && to != me.incarnation {
        tracing::warn!(
            node = me.id,
            ?kind,
            to = format_args!("{to:#x}"),
            incarnation = format_args!("{:#x}", me.incarnation),
            "refused a Raft message for another incarnation of this node: the cluster knew a \
             store this node no longer has; the leader removes that member, and this node joins again \
             as a learner that catches up before it votes"
        );
        header[0] = 0;
        return Ok(header);
    }
    {
        let receipt = me.receipt;
        let answer = match kind {
            RpcKind::AppendEntries => {
                let rpc: AppendEntriesRequest<TypeConfig> =
                    decode(payload).map_err(Error::codec("append-entries request"))?;
                let sender = rpc.vote.leader_id().voted_for();
                let answer = raft.append_entries(rpc).await;
                // Anything but a higher vote: the sender leads this node's term.
                if let (Some(sender), Ok(answer)) = (sender, &answer) {
                    if !matches!(answer, AppendEntriesResponse::HigherVote(_)) {
                        me.contact.heard(sender);
                    }
                }
                encode_after(header, &answer)
            }
            RpcKind::Vote => {
                let rpc = decode(payload).map_err(Error::codec("vote request"))?;
                encode_after(header, &raft.vote(rpc).await)
            }
            RpcKind::InstallSnapshot => {
                let rpc: InstallSnapshotRequest<TypeConfig> =
                    decode(payload).map_err(Error::codec("install-snapshot request"))?;
                match receipt.admit(&rpc)? {
                    Receipt::Admitted => encode_after(header, &raft.install_snapshot(rpc).await),
                    Receipt::Mismatch { expect } => {
                        let id = rpc.meta.snapshot_id;
                        let mismatch = SnapshotMismatch {
                            expect: SnapshotSegmentId {
                                id: id.clone(),
                                offset: expect,
                            },
                            got: SnapshotSegmentId {
                                id,
                                offset: rpc.offset,
                            },
                        };
                        let error = InstallSnapshotError::SnapshotMismatch(mismatch);
                        let answer: Result<
                            InstallSnapshotResponse<NodeId>,
                            RaftError<NodeId, InstallSnapshotError>,
                        > = Err(RaftError::APIError(error));
                        encode_after(header, &answer)
                    }
                }
            }
        };
        answer.map_err(Error::codec("raft response"))
    }
}
