//! Liveness: once the faults are healed, the cluster serves and converges, and no call ever
//! hangs past its deadline.

use crate::NodeState;

/// One client call to a node: when it began and ended (`None`: it never did), and by when
/// the node had to answer.
#[derive(Clone, Debug)]
pub struct Call {
    /// The front end and command.
    pub what: String,
    pub invoked_ms: u64,
    pub completed_ms: Option<u64>,
    pub deadline_ms: u64,
}

/// How long past its deadline an answer may arrive (the network's latency, a node's queue).
pub const GRACE_MS: u64 = 1_000;

/// Every call ended within its deadline plus [`GRACE_MS`].
pub fn calls_end_within_their_deadlines(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter_map(|call| {
            let late = match call.completed_ms {
                None => true,
                Some(done) => done > call.deadline_ms + GRACE_MS,
            };
            late.then(|| {
                format!(
                    "{} called at {} ms with a deadline at {} ms ended at {:?}",
                    call.what, call.invoked_ms, call.deadline_ms, call.completed_ms
                )
            })
        })
        .collect()
}

/// After healing, every node came back and reached the same applied index: a node that
/// stays down, or lags, is a failure.
pub fn every_node_converges(nodes: u64, states: &[NodeState]) -> Vec<String> {
    let mut out = Vec::new();
    for id in 1..=nodes {
        if !states.iter().any(|state| state.id == id) {
            out.push(format!("n{id} was not up after healing"));
        }
    }
    let indexes: Vec<(u64, u64)> = states
        .iter()
        .map(|state| (state.id, state.applied_digest.0))
        .collect();
    if indexes.windows(2).any(|w| w[0].1 != w[1].1) {
        out.push(format!(
            "the nodes did not reach one applied index within 30 s of healing: {indexes:?}"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(invoked_ms: u64, completed_ms: Option<u64>) -> Call {
        Call {
            what: "Execute XADD".to_owned(),
            invoked_ms,
            completed_ms,
            deadline_ms: invoked_ms + 2_000,
        }
    }

    #[test]
    fn a_call_that_hangs_or_ends_late_is_caught() {
        assert!(calls_end_within_their_deadlines(&[call(0, Some(2_900))]).is_empty());
        assert_eq!(
            calls_end_within_their_deadlines(&[call(0, Some(3_100)), call(0, None)]).len(),
            2
        );
    }

    #[test]
    fn a_node_that_stays_down_or_lags_is_caught() {
        let state = |id, index| NodeState {
            applied_digest: (index, 7),
            ..NodeState::empty(id)
        };
        assert!(every_node_converges(3, &[state(1, 9), state(2, 9), state(3, 9)]).is_empty());
        assert_eq!(
            every_node_converges(3, &[state(1, 9), state(3, 9)]).len(),
            1
        );
        assert_eq!(
            every_node_converges(3, &[state(1, 9), state(2, 8), state(3, 9)]).len(),
            1
        );
    }
}
