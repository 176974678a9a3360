//! The leader's read lease (`crate::lease`) in a whole cluster: reads pass on it without a
//! quorum round, and a leader cut off from the others stops passing them before any other node
//! can be elected.

use std::time::{Duration, Instant};

use super::cluster::three_nodes_with;
use super::{add_entries, command, test_config, with_deadline, Cluster, WAIT};
use crate::{NodeError, NodeId, RaftConfig};

/// A three-node cluster with `config` and its leader, once the leader applied entries of its
/// term and its heartbeats were acknowledged since.
async fn settled(config: RaftConfig) -> (Cluster, NodeId) {
    let cluster = three_nodes_with(config).await;
    let leader = cluster.leader().await;
    add_entries(&cluster, "s", 0..3).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    (cluster, leader)
}

/// Passes `count` read barriers on `id` and returns how many passed on its lease.
async fn reads_on_lease(cluster: &Cluster, id: NodeId, count: u64) -> u64 {
    let before = cluster.node(id).status();
    for _ in 0..count {
        cluster
            .node(id)
            .read_barrier()
            .await
            .expect("a read barrier");
    }
    let after = cluster.node(id).status();
    assert_eq!(
        (after.lease_reads - before.lease_reads) + (after.quorum_reads - before.quorum_reads),
        count,
        "every barrier is counted once"
    );
    after.lease_reads - before.lease_reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_healthy_leader_passes_reads_on_its_lease_and_without_one_asks_a_quorum() {
    with_deadline("lease_reads", async {
        let (cluster, leader) = settled(test_config()).await;
        assert_eq!(reads_on_lease(&cluster, leader, 200).await, 200);

        let off = RaftConfig {
            read_lease_ms: Some(0),
            ..test_config()
        };
        let (cluster, leader) = settled(off).await;
        assert_eq!(reads_on_lease(&cluster, leader, 20).await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cut_off_leader_loses_its_lease_before_another_node_is_elected() {
    with_deadline("lease_runs_out", async {
        let (cluster, old) = settled(test_config()).await;
        assert!(cluster.node(old).leased_read_index().is_some(), "no lease");
        let others: Vec<NodeId> = (1..=3).filter(|&id| id != old).collect();
        cluster.router.isolate(old, &others);
        let cut = Instant::now();

        // Until the others elect a leader of their own, look at both every few milliseconds:
        // once one is elected, the old leader must hold no lease.
        let deadline = Instant::now() + WAIT;
        let mut last_leased = None;
        let new = loop {
            let elected = others.iter().find_map(|&id| {
                let metrics = cluster.node(id).raft().metrics().borrow().clone();
                metrics
                    .current_leader
                    .filter(|&leader| leader != old && metrics.state.is_leader())
            });
            let leased = cluster.node(old).leased_read_index().is_some();
            if leased {
                last_leased = Some(cut.elapsed());
            }
            if let Some(new) = elected {
                assert!(
                    !leased,
                    "node {new} leads while the old leader {old} still holds its lease"
                );
                break new;
            }
            assert!(Instant::now() < deadline, "no new leader");
            tokio::time::sleep(Duration::from_millis(3)).await;
        };
        let lease = Duration::from_millis(test_config().read_lease_ms());
        let held = last_leased.expect("the lease held for a while after the cut");
        assert!(held <= lease, "held {held:?} after the cut, over {lease:?}");

        // Cut off, the old leader answers a read barrier with an error.
        let barrier = cluster.node(old).read_barrier().await;
        assert!(
            matches!(
                barrier,
                Err(NodeError::NoQuorum | NodeError::NotLeader { .. })
            ),
            "a cut-off leader confirmed a read: {barrier:?}"
        );
        // The new leader reads on a lease of its own once it applied an entry of its term and
        // both followers acknowledge it: the leader does not count itself, so with one of
        // three cut off, every read asks a quorum.
        let deadline = Instant::now() + WAIT;
        while cluster
            .node(new)
            .write(command(&["XADD", "t", "*", "n", "1"]))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the new leader takes no writes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(reads_on_lease(&cluster, new, 20).await, 0);
        cluster.router.heal();
        let deadline = Instant::now() + WAIT;
        while cluster.node(new).leased_read_index().is_none() {
            assert!(Instant::now() < deadline, "no lease once healed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(reads_on_lease(&cluster, new, 20).await, 20);
    })
    .await;
}
