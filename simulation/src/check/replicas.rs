//! The settled replicas: each one's invariants, and one state at one applied index. (During
//! the run, `crate::applied` compares replicas after every applied batch.)

use std::collections::{BTreeMap, BTreeSet};

use crate::NodeState;

/// Each node's state passes `check_invariants`; nodes at one applied index have one digest.
pub fn replicas_agree(nodes: &[NodeState]) -> Vec<String> {
    let mut out = Vec::new();
    for node in nodes {
        if let Err(why) = &node.invariants {
            out.push(format!("n{}: invariant broken: {why}", node.id));
        }
    }
    let mut by_index: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for node in nodes {
        by_index
            .entry(node.applied_digest.0)
            .or_default()
            .insert(node.applied_digest.1);
    }
    for (index, digests) in by_index {
        if digests.len() > 1 {
            out.push(format!(
                "applied index {index}: {} different state digests",
                digests.len()
            ));
        }
    }
    out
}
