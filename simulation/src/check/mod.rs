//! The invariants, one module each, over the recorded history, the applied log and the
//! settled nodes; the work queue's against a model of the applied log (`groups`).

pub mod durability;
pub mod groups;
pub mod ids;
pub mod liveness;
pub mod raft_state;
pub mod reads;
pub mod replicas;
pub mod replies;

pub use groups::work_queue;
pub use replies::{entries_in, entries_of};

use crate::{NodeState, Op};

/// Every violation found in the history and the settled nodes.
pub fn all(history: &[Op], nodes: &[NodeState]) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(durability::acknowledged_appends_survive(history, nodes));
    out.extend(durability::nothing_unattempted_or_failed_appears(
        history, nodes,
    ));
    out.extend(ids::ids_are_unique_and_follow_real_time(history));
    out.extend(reads::reads_are_prefixes_of_one_order(history, nodes));
    out.extend(reads::reads_hold_what_was_acknowledged_before_them(history));
    out.extend(reads::reads_never_go_back(history));
    out.extend(reads::blocking_reads_return_what_follows(history, nodes));
    out.extend(replicas::replicas_agree(nodes));
    out
}

/// FNV-1a, for trace hashes.
#[derive(Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}
