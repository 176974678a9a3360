//! The leader's read lease: linearizable reads without a quorum round per read.
//!
//! A follower that accepts an AppendEntries (a heartbeat or entries) from the leader refuses
//! every vote request for openraft's leader lease after it (`leader_lease`, the maximum
//! election timeout; a restarted follower counts it from its start). So once a majority of the
//! voters, not counting the leader itself, accepted AppendEntries the leader sent at `t` or
//! later, no other leader can be elected before `t + leader_lease` on their clocks: every
//! election needs a vote from one of them. Until `t + budget` on the leader's clock, with
//! `budget` (`RaftConfig::read_lease_ms`) below `leader_lease`, the leader is the only one, and
//! a read on a state machine that holds every entry up to the leader's first of its term (all a
//! previous leader acknowledged) and every write this leader answered is linearizable.
//!
//! The clock assumption: the nodes' monotonic clocks measure `budget` on the leader as no
//! longer than `leader_lease` on a follower, so rates within `leader_lease / budget` (1.5 by
//! default) of each other. Wall-clock jumps do not matter; a node paused (a VM stalled, a
//! process stopped) between taking `now` and serving a read does, as for every lease.
//!
//! ```text
//!  leader ── AppendEntries (vote V, sent at t) ──▶ follower: refuses votes until ≥ t + lease
//!         ◀── Success / PartialSuccess ───────────          Lease::acked(follower, V, t)
//!  read: Lease::holds(V, voters) ── a majority of the other voters acked V within budget?
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::types::{NodeId, Vote};

/// A monotonic clock: the time since a fixed point of this process, never going back. The
/// lease measures with it; the simulator gives each node its simulated time.
pub type MonotonicClock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// Per voter, the latest send time of an AppendEntries it accepted, with the vote it carried.
#[derive(Clone)]
pub(crate) struct Lease {
    acks: Arc<Mutex<HashMap<NodeId, (Vote, Duration)>>>,
    clock: MonotonicClock,
}

impl Default for Lease {
    /// A lease on tokio's clock (paused and advanced by hand in tests).
    fn default() -> Lease {
        let start = tokio::time::Instant::now();
        Lease::with_clock(Arc::new(move || start.elapsed()))
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("acks", &self.acks).finish()
    }
}

impl Lease {
    pub(crate) fn with_clock(clock: MonotonicClock) -> Lease {
        Lease {
            acks: Arc::default(),
            clock,
        }
    }

    /// The time to record as an AppendEntries' send time: take it before sending.
    pub(crate) fn now(&self) -> Duration {
        (self.clock)()
    }

    /// `target` accepted an AppendEntries carrying `vote` that was sent at `sent` (from
    /// [`Lease::now`]).
    pub(crate) fn acked(&self, target: NodeId, vote: Vote, sent: Duration) {
        let mut acks = self.acks.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = match acks.get(&target) {
            Some((known, at)) => vote != *known || sent > *at,
            None => true,
        };
        if newer {
            acks.insert(target, (vote, sent));
        }
    }

    /// Whether a majority of `voters`, not counting `me`, accepted AppendEntries carrying
    /// `vote` that were sent less than `budget` ago. Forgets the acks of nodes that are no
    /// longer voters, so the map holds at most the voters and the learners acked since.
    pub(crate) fn holds(
        &self,
        me: NodeId,
        vote: &Vote,
        voters: &BTreeSet<NodeId>,
        budget: Duration,
    ) -> bool {
        let now = self.now();
        let mut acks = self.acks.lock().unwrap_or_else(PoisonError::into_inner);
        acks.retain(|id, _| voters.contains(id));
        let fresh = voters
            .iter()
            .filter(|id| **id != me)
            .filter(|id| {
                acks.get(id).is_some_and(|(acked, sent)| {
                    acked == vote && now.saturating_sub(*sent) < budget
                })
            })
            .count();
        fresh > voters.len() / 2
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn committed(term: u64, leader: NodeId) -> Vote {
        Vote::new_committed(term, leader)
    }

    #[test]
    fn a_lease_needs_a_majority_of_the_others_acking_the_same_vote_within_budget() {
        let ms = Arc::new(AtomicU64::new(1_000));
        let clock = Arc::clone(&ms);
        let lease = Lease::with_clock(Arc::new(move || {
            Duration::from_millis(clock.load(Ordering::SeqCst))
        }));
        let advance = |by: u64| ms.fetch_add(by, Ordering::SeqCst);
        let vote = committed(3, 1);
        let budget = Duration::from_millis(200);
        let three: BTreeSet<NodeId> = [1, 2, 3].into();
        assert!(!lease.holds(1, &vote, &three, budget), "no acks yet");
        lease.acked(2, vote, lease.now());
        assert!(
            !lease.holds(1, &vote, &three, budget),
            "the leader itself does not count: one follower of three is not a majority"
        );
        lease.acked(3, vote, lease.now());
        assert!(lease.holds(1, &vote, &three, budget));
        assert!(
            !lease.holds(1, &committed(4, 1), &three, budget),
            "another vote"
        );
        let five: BTreeSet<NodeId> = [1, 2, 3, 4, 5].into();
        assert!(!lease.holds(1, &vote, &five, budget), "2 of 5 voters");

        advance(150);
        lease.acked(2, vote, lease.now());
        advance(50);
        assert!(
            !lease.holds(1, &vote, &three, budget),
            "node 3's ack was sent 200 ms ago: the budget is exclusive"
        );
        lease.acked(3, vote, lease.now() - Duration::from_millis(300));
        assert!(
            !lease.holds(1, &vote, &three, budget),
            "an older send time does not replace a newer one, nor extend it"
        );
        lease.acked(3, vote, lease.now());
        assert!(lease.holds(1, &vote, &three, budget));
        advance(149);
        assert!(
            lease.holds(1, &vote, &three, budget),
            "node 2's ack was sent 199 ms ago"
        );
        advance(1);
        assert!(!lease.holds(1, &vote, &three, budget), "and now 200 ms ago");
        lease.acked(2, vote, lease.now());
        assert!(lease.holds(1, &vote, &three, budget));
        lease.acked(3, committed(5, 2), lease.now());
        assert!(
            !lease.holds(1, &vote, &three, budget),
            "node 3 now follows another leader"
        );
    }

    #[test]
    fn a_node_removed_from_the_voters_is_forgotten() {
        let lease = Lease::with_clock(Arc::new(|| Duration::from_secs(1)));
        let vote = committed(3, 1);
        let budget = Duration::from_millis(200);
        for node in 2..=9 {
            lease.acked(node, vote, lease.now());
        }
        let three: BTreeSet<NodeId> = [1, 2, 3].into();
        assert!(lease.holds(1, &vote, &three, budget));
        let mut kept: Vec<NodeId> = lease
            .acks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, [2, 3], "acks of nodes outside the voters are dropped");
    }
}
