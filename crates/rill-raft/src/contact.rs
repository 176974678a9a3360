//! When a follower last heard from its leader. A follower learns that its leader is gone only
//! when its election timeout runs out, and until a new leader is elected it would go on naming
//! the dead one to clients (Sentinel's master, `CLUSTER SLOTS`, the node a write is forwarded
//! to). A leader that has been silent for an election timeout is not named: clients are sent to
//! a live node, which holds their commands until a leader is known again.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::types::NodeId;

/// The leader last heard from, and when; or the leader first known of, and since when.
#[derive(Debug, Default)]
pub struct LeaderContact {
    last: Mutex<Option<(NodeId, Instant)>>,
}

impl LeaderContact {
    /// An AppendEntries (a heartbeat or entries) from `leader` was accepted, or answered with
    /// a conflict: either way that leader is alive.
    pub(crate) fn heard(&self, leader: NodeId) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((leader, Instant::now()));
    }

    /// The leader last heard from (or first known of), whether or not it is still the leader.
    pub(crate) fn last_leader(&self) -> Option<NodeId> {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.map(|(leader, _)| leader)
    }

    /// Whether `leader` has not been heard from for `silence`. A leader this node has just
    /// learned of (from a vote, before its first AppendEntries) is given `silence` from now.
    pub(crate) fn silent_for(&self, leader: NodeId, silence: Duration) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some((heard, at)) if heard == leader => at.elapsed() >= silence,
            _ => {
                *last = Some((leader, Instant::now()));
                false
            }
        }
    }
}
