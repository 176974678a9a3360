//! A start on an empty store with `--member`s: the member with the lowest id forms the
//! cluster, once every member has said who it is; the others, and the lowest one if the cluster
//! exists already, make sure they are voters of it with their own store ([`rejoin`]).
//!
//! Each member's incarnation goes into the first membership, so that from the first entry on a
//! member that later loses its disk is told apart (`rill_raft`'s identity): the leader removes
//! the member it knew, and the node, whose store is empty again, joins as a new learner that
//! catches up before it votes. Asking first also keeps a node whose disk was lost from forming a
//! second cluster over the first.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;

use rill_raft::{NodeId, Peer, RaftNode};

use crate::peers::{JoinStep, Peers};

const ASK_AGAIN: Duration = Duration::from_millis(250);
/// Rounds between two log lines about members that do not answer.
const ROUNDS_PER_REPORT: u32 = 20;

/// Forms the cluster of `members` (this node among them, with its incarnation) once every
/// other member has answered with its incarnation; gives up if one of them already belongs to
/// a cluster, if this node joins one meanwhile, or when it stops (it holds the node weakly, so
/// a node that waits here still closes its store).
pub(crate) async fn form(node: Weak<RaftNode>, peers: Peers, mut members: BTreeMap<NodeId, Peer>) {
    for round in 0.. {
        let Some(me) = node.upgrade() else {
            return;
        };
        if me.is_initialized().await.unwrap_or(true) {
            return;
        }
        let me = me.id();
        let mut silent = Vec::new();
        for (&id, peer) in members.iter_mut() {
            if id == me || peer.incarnation != 0 {
                continue;
            }
            match peers.identify(&peer.raft_addr).await {
                Ok(identity) if identity.initialized => {
                    tracing::warn!(
                        member = id,
                        "not forming a cluster: member {id} already belongs to one, and this \
                         node's store is empty (its disk was lost or replaced); joining it again"
                    );
                    let mine = members.get(&me).cloned().unwrap_or_default();
                    return rejoin(node, peers, members, mine).await;
                }
                Ok(identity) => peer.incarnation = identity.incarnation,
                Err(why) => silent.push((id, why)),
            }
        }
        if silent.is_empty() {
            let Some(node) = node.upgrade() else {
                return;
            };
            tracing::info!(members = ?members.keys().collect::<Vec<_>>(), "forming the cluster");
            if let Err(error) = node.initialize(members).await {
                tracing::warn!(%error, "cluster not formed");
            }
            return;
        }
        if round % ROUNDS_PER_REPORT == 0 {
            tracing::info!(
                ?silent,
                "waiting for every member to answer before forming the cluster"
            );
        }
        tokio::time::sleep(ASK_AGAIN).await;
    }
}

/// Makes this node (`me`, with its incarnation) a voter of the cluster of `members`: through
/// any member, it joins as a learner, catches up, then votes. Done at once when the membership
/// names it with its store already (a cluster being formed, or a restart before the first
/// entry); while the membership names an earlier store of it, the leader removes that first.
/// Ends when done or when the node stops.
pub(crate) async fn rejoin(
    node: Weak<RaftNode>,
    peers: Peers,
    members: BTreeMap<NodeId, Peer>,
    me: Peer,
) {
    let targets: Vec<&Peer> = members
        .iter()
        .filter(|(_, peer)| peer.raft_addr != me.raft_addr)
        .map(|(_, peer)| peer)
        .collect();
    for round in 0u32.. {
        let Some(this) = node.upgrade() else {
            return;
        };
        let id = this.id();
        let listed = this.status().members.iter().any(|(member, peer, voter)| {
            *member == id && *voter && peer.incarnation == me.incarnation
        });
        drop(this);
        if listed {
            return;
        }
        let Some(via) = targets.get(round as usize % targets.len().max(1)) else {
            return;
        };
        let mut target = via.raft_addr.clone();
        let outcome = loop {
            match peers.join_once(&target, id, &me).await {
                Ok(JoinStep::AskLeader(leader)) if leader != target => target = leader,
                Ok(JoinStep::AskLeader(_)) => break Err("the leader names itself".to_owned()),
                Ok(JoinStep::Done) => break Ok(()),
                Err(why) => break Err(why),
            }
        };
        match outcome {
            Ok(()) => {
                tracing::info!(via = %target, "a voter of the cluster");
                return;
            }
            Err(why) if round % ROUNDS_PER_REPORT == ROUNDS_PER_REPORT - 1 => {
                tracing::info!(via = %target, %why, "not a voter of the cluster yet");
            }
            Err(why) => tracing::debug!(via = %target, %why, "not a voter of the cluster yet"),
        }
        tokio::time::sleep(ASK_AGAIN).await;
    }
}
