//! Node identity: a node that lost its disk is not taken for the node the cluster knew.
//!
//! A node whose store is empty remembers nothing: not the vote it cast, not the entries it
//! acknowledged. Coming back as the same voter, it could grant a second vote in a term it voted
//! in, or elect a leader that lacks acknowledged entries. So every store draws an
//! *incarnation* when it is first opened (a random nonzero number, kept under
//! `LogMeta::Incarnation`), and each member of the membership carries the incarnation the
//! cluster knows (`Peer::incarnation`).
//!
//! ```text
//!  leader ── AppendEntries/Vote/InstallSnapshot, addressed to incarnation X ──▶ node 2
//!         ◀─ answer, with node 2's incarnation                              │ X ≠ its own?
//!                                                                            └ refused, unread
//!  forget (leader, every FORGET_PERIOD), for a member whose answers name Y ≠ X:
//!    X ≠ 0: remove it from the membership (voter or learner)
//!    X = 0 (a store from before incarnations): name Y in the membership
//!  node 2 joins again (rill-server's formation): a learner with Y that catches up, then a voter
//! ```
//!
//! The leader's replication state for a member is kept across membership changes that keep
//! the member, and openraft takes a log that moved backwards for a bug: so the member is
//! removed and added anew, not readdressed in place.
//!
//! Why this is safe: the removal is committed by a quorum of the other voters while node 2
//! refuses every message for X, so each of them had a term no higher than the removal's term M
//! then; any vote node 2 cast before it lost its store went to one of them, in a term ≤ M.
//! Node 2 votes again only for candidates whose membership names Y: their logs hold the
//! removal, so they campaign in terms above M, where it never voted.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openraft::{ChangeMembers, ServerState};
use rill_storage::{Db, LogMeta};

use crate::codec::{decode, encode};
use crate::error::Error;
use crate::types::{NodeId, Peer, Raft};

/// How often the leader looks for members whose store was replaced.
const FORGET_PERIOD: Duration = Duration::from_millis(200);

/// This node's incarnation: the one its store holds, or, for an empty store, `fresh` (or a
/// random one when `None`), written fsynced before the node answers anyone.
pub(crate) fn load_or_create(db: &Db, fresh: Option<u64>) -> Result<u64, Error> {
    if let Some(bytes) = db.log_meta_get(LogMeta::Incarnation)? {
        return decode(&bytes).map_err(Error::codec("incarnation"));
    }
    let incarnation = fresh.unwrap_or_else(random).max(1);
    let bytes = encode(&incarnation).map_err(Error::codec("incarnation"))?;
    db.log_meta_put(LogMeta::Incarnation, &bytes)?;
    Ok(incarnation)
}

/// 64 random bits from the standard library's per-process hash keys, mixed with the time.
fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// What this node's Raft clients heard back from members whose incarnation differs from the
/// one the membership names: member id to the incarnation it answered with. Shared by the
/// network (which fills it) and the readmission task (which acts on it).
#[derive(Clone, Default)]
pub struct Strangers(Arc<Mutex<BTreeMap<NodeId, u64>>>);

impl Strangers {
    pub(crate) fn saw(&self, id: NodeId, incarnation: u64) {
        self.lock().insert(id, incarnation);
    }

    /// Member `id` answered as the membership names it: what was seen of it before is stale
    /// (the membership caught up, or this node's was behind).
    pub(crate) fn known(&self, id: NodeId) {
        let mut strangers = self.lock();
        if !strangers.is_empty() {
            strangers.remove(&id);
        }
    }

    fn get(&self) -> BTreeMap<NodeId, u64> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, u64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What to do about a member that answered with another incarnation.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Remove it from the membership (a voter, or a learner): it joins again as a new member.
    Forget { id: NodeId, voter: bool },
    /// Name its incarnation: the membership did not know it (a store from before incarnations).
    Register(NodeId, Peer),
}

/// The next step for this membership, given what members answered.
fn next_step(
    me: NodeId,
    nodes: &BTreeMap<NodeId, Peer>,
    voters: &BTreeSet<NodeId>,
    strangers: &BTreeMap<NodeId, u64>,
) -> Option<Step> {
    nodes.iter().find_map(|(&id, peer)| {
        let now = *strangers.get(&id)?;
        if id == me || now == peer.incarnation {
            return None;
        }
        Some(match peer.incarnation {
            0 => Step::Register(
                id,
                Peer {
                    incarnation: now,
                    ..peer.clone()
                },
            ),
            _ => Step::Forget {
                id,
                voter: voters.contains(&id),
            },
        })
    })
}

/// While this node leads, removes members whose store was replaced (see the module's
/// comment). Ends when the Raft core stops.
pub(crate) async fn forget_replaced(raft: Raft, me: NodeId, strangers: Strangers) {
    loop {
        tokio::time::sleep(FORGET_PERIOD).await;
        let metrics = raft.metrics().borrow().clone();
        if metrics.running_state.is_err() {
            return;
        }
        if metrics.state != ServerState::Leader {
            continue;
        }
        let membership = metrics.membership_config.membership();
        let nodes: BTreeMap<NodeId, Peer> = membership
            .nodes()
            .map(|(id, peer)| (*id, peer.clone()))
            .collect();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let Some(step) = next_step(me, &nodes, &voters, &strangers.get()) else {
            continue;
        };
        tracing::warn!(
            ?step,
            "a member answers with another store than the cluster knows (its disk was lost or \
             replaced): it must join again and catch up before it votes"
        );
        let (change, retain) = match step {
            Step::Forget { id, voter: true } => {
                (ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
            }
            Step::Forget { id, voter: false } => {
                (ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
            }
            Step::Register(id, peer) => {
                (ChangeMembers::SetNodes(BTreeMap::from([(id, peer)])), true)
            }
        };
        if let Err(error) = raft.change_membership(change, retain).await {
            tracing::info!(%error, "the membership change did not go through; trying again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(incarnation: u64) -> Peer {
        Peer {
            raft_addr: "r".to_owned(),
            client_addr: "c".to_owned(),
            incarnation,
        }
    }

    /// A voter or a learner that answers with another incarnation is forgotten; one of a
    /// store from before incarnations (0) is given the one it answers with; members that
    /// answer as the membership says, and this node, are left alone.
    #[test]
    fn members_with_another_store_are_forgotten_or_registered() {
        let voters = BTreeSet::from([1, 2, 3]);
        let mut nodes =
            BTreeMap::from([(1, peer(10)), (2, peer(20)), (3, peer(30)), (4, peer(40))]);
        let mut strangers = BTreeMap::from([(1, 11), (3, 30)]);
        assert_eq!(next_step(1, &nodes, &voters, &strangers), None);
        strangers.insert(2, 22);
        assert_eq!(
            next_step(1, &nodes, &voters, &strangers),
            Some(Step::Forget { id: 2, voter: true })
        );
        nodes.remove(&2);
        assert_eq!(next_step(1, &nodes, &voters, &strangers), None);
        strangers.insert(4, 44);
        assert_eq!(
            next_step(1, &nodes, &voters, &strangers),
            Some(Step::Forget {
                id: 4,
                voter: false
            })
        );
        nodes.insert(4, peer(0));
        assert_eq!(
            next_step(1, &nodes, &voters, &strangers),
            Some(Step::Register(4, peer(44)))
        );
        // Joined again with the incarnation it answers with.
        nodes.insert(2, peer(22));
        nodes.insert(4, peer(44));
        assert_eq!(next_step(1, &nodes, &voters, &strangers), None);
    }

    #[test]
    fn an_empty_store_draws_an_incarnation_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(dir.path(), &rill_storage::DbOptions::default()).expect("open");
        let first = load_or_create(&db, None).expect("incarnation");
        assert_ne!(first, 0);
        assert_eq!(load_or_create(&db, Some(7)).expect("incarnation"), first);
        let other = tempfile::tempdir().expect("temp dir");
        let db = Db::open(other.path(), &rill_storage::DbOptions::default()).expect("open");
        assert_eq!(load_or_create(&db, Some(7)).expect("incarnation"), 7);
    }
}
