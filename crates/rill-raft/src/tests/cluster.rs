//! Whole clusters in one process: replication, a follower's restart, catching up through a
//! snapshot after the log is purged, and a restart of every node from disk.

use std::collections::BTreeMap;
use std::time::Duration;

use rill_core::Reply;

use super::{add_entries, command, peer, test_config, with_deadline, Cluster, WAIT};
use crate::{NodeId, Peer};

async fn three_nodes() -> Cluster {
    three_nodes_with(test_config()).await
}

pub(super) async fn three_nodes_with(config: crate::RaftConfig) -> Cluster {
    let mut cluster = Cluster::new(config);
    for id in 1..=3 {
        cluster.start(id).await;
    }
    cluster.initialize(&[1, 2, 3]).await;
    cluster
}

fn follower_of(cluster: &Cluster, leader: NodeId) -> NodeId {
    cluster
        .nodes
        .keys()
        .copied()
        .find(|&id| id != leader)
        .expect("a follower")
}

fn xlen(reply: &Reply) -> i64 {
    match reply {
        Reply::Int(n) => *n,
        other => panic!("XLEN answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_replicate_writes_to_equal_states() {
    with_deadline("three_nodes_replicate_writes_to_equal_states", async {
        let cluster = three_nodes().await;
        let leader = cluster.leader().await;
        add_entries(&cluster, "s", 0..20).await;
        let reply = cluster
            .write(command(&["XGROUP", "CREATE", "s", "g", "0"]))
            .await;
        assert_eq!(reply, Reply::ok());
        let reply = cluster
            .write(command(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "COUNT",
                "5",
                "STREAMS",
                "s",
                ">",
            ]))
            .await;
        assert!(matches!(reply, Reply::PairMap(_)), "XREADGROUP: {reply:?}");
        // A Redis-level error is a reply, replicated like any other, not a failure.
        let reply = cluster
            .write(command(&["XGROUP", "CREATE", "s", "g", "0"]))
            .await;
        assert!(reply.is_error(), "duplicate group: {reply:?}");
        assert_eq!(xlen(&cluster.write(command(&["XLEN", "s"])).await), 20);

        cluster.assert_converged(leader).await;
        for id in 1..=3 {
            let view = cluster.node(id).db().read();
            assert_eq!(
                rill_core::Store::stream(&view, b"s").map(|meta| meta.length),
                Some(20),
                "node {id}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarted_follower_catches_up_from_its_log() {
    with_deadline("restarted_follower_catches_up_from_its_log", async {
        let mut cluster = three_nodes().await;
        let leader = cluster.leader().await;
        add_entries(&cluster, "s", 0..5).await;
        cluster.assert_converged(leader).await;

        let follower = follower_of(&cluster, leader);
        let applied_before_stop = cluster.applied_index(follower);
        cluster.stop(follower).await;
        // Two of three is still a quorum.
        add_entries(&cluster, "s", 5..15).await;
        let leader = cluster.leader().await;
        // Metrics trail the replies a little: wait rather than read.
        cluster.wait_applied(leader, applied_before_stop + 10).await;

        cluster.start(follower).await;
        cluster.assert_converged(leader).await;
        let len = cluster.write(command(&["XLEN", "s"])).await;
        assert_eq!(xlen(&len), 15);
        cluster.assert_converged(cluster.leader().await).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_learner_catches_up_through_a_snapshot() {
    with_deadline("new_learner_catches_up_through_a_snapshot", async {
        let mut config = test_config();
        // Purge everything a snapshot covers, so the learner cannot be fed from the log.
        config.log_entries_kept_behind_snapshot = 0;
        let mut cluster = three_nodes_with(config).await;
        let leader = cluster.leader().await;
        add_entries(&cluster, "s", 0..30).await;
        cluster
            .write(command(&["XGROUP", "CREATE", "s", "g", "0"]))
            .await;
        let applied = cluster.applied_index(leader);

        let raft = cluster.node(leader).raft().clone();
        raft.trigger().snapshot().await.expect("trigger snapshot");
        raft.wait(Some(WAIT))
            .metrics(
                |m| m.snapshot.is_some_and(|id| id.index >= applied),
                "snapshot covers the writes",
            )
            .await
            .expect("snapshot built");
        raft.trigger()
            .purge_log(applied)
            .await
            .expect("trigger purge");
        raft.wait(Some(WAIT))
            .metrics(
                |m| m.purged.is_some_and(|id| id.index >= applied),
                "log purged behind the snapshot",
            )
            .await
            .expect("log purged");
        let first = cluster.node(leader).db().log_first().expect("read log");
        let first = first.map(|(index, _)| index);
        assert!(
            first.is_none_or(|index| index > applied),
            "leader log still starts at {first:?}"
        );

        cluster.start(4).await;
        let incarnation = cluster.node(4).incarnation();
        raft.add_learner(
            4,
            Peer {
                incarnation,
                ..peer(4)
            },
            true,
        )
        .await
        .expect("add learner");
        cluster.assert_converged(leader).await;

        let learner = cluster.node(4);
        let metrics = learner.raft().metrics().borrow().clone();
        assert!(
            metrics.snapshot.is_some_and(|id| id.index >= applied),
            "learner did not install a snapshot: {metrics:?}"
        );
        let learner_first = learner.db().log_first().expect("read log");
        let learner_first = learner_first.map(|(index, _)| index);
        assert!(
            learner_first.is_none_or(|index| index > applied),
            "learner log starts at {learner_first:?}: it was fed from the log"
        );
        // The learner keeps following after the snapshot.
        add_entries(&cluster, "s", 30..35).await;
        cluster.assert_converged(leader).await;
        let view = learner.db().read();
        assert_eq!(
            rill_core::Store::stream(&view, b"s").map(|meta| meta.length),
            Some(35)
        );
        assert!(rill_core::Store::group(&view, b"s", b"g").is_some());
    })
    .await;
}

/// The log's bytes bound snapshots too: with no count policy, appending more than the byte
/// bound builds a snapshot and purges the log behind it, on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_log_past_its_byte_bound_is_snapshotted_and_purged() {
    with_deadline(
        "a_log_past_its_byte_bound_is_snapshotted_and_purged",
        async {
            let mut config = test_config();
            config.snapshot_log_bytes_since_last = 500;
            config.log_entries_kept_behind_snapshot = 0;
            let cluster = three_nodes_with(config).await;
            let leader = cluster.leader().await;
            add_entries(&cluster, "s", 0..60).await;
            let written = cluster.applied_index(leader);
            for id in 1..=3 {
                let raft = cluster.node(id).raft().clone();
                raft.wait(Some(WAIT))
                    .metrics(
                        |m| m.purged.is_some_and(|purged| purged.index > 0),
                        "log purged by its byte bound",
                    )
                    .await
                    .expect("log purged");
                let first = cluster.node(id).db().log_first().expect("read log");
                assert!(
                    first.is_none_or(|(index, _)| index > 1),
                    "node {id}: the log still starts at its beginning ({written} applied)"
                );
            }
            cluster.assert_converged(leader).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_cluster_restarts_from_disk() {
    with_deadline("whole_cluster_restarts_from_disk", async {
        let mut cluster = three_nodes().await;
        let leader = cluster.leader().await;
        add_entries(&cluster, "s", 0..12).await;
        cluster.assert_converged(leader).await;

        let mut before = BTreeMap::new();
        for id in 1..=3 {
            let db = cluster.node(id).db();
            let log = db.log_range(0, u64::MAX).expect("read log");
            let last = log.last().map(|(index, _)| *index).expect("a log");
            let applied_index = db.applied_index().expect("applied index");
            before.insert(id, (db.digest().expect("digest"), applied_index, log, last));
        }
        for id in 1..=3 {
            cluster.stop(id).await;
        }
        for id in 1..=3 {
            cluster.start(id).await;
        }
        // No initialize: membership and vote come back from disk.
        let leader = cluster.leader().await;
        for (id, (digest, applied_index, log, last)) in &before {
            let db = cluster.node(*id).db();
            assert_eq!(db.digest().as_ref(), Ok(digest), "node {id} state");
            let now_applied = db.applied_index().expect("applied index");
            assert!(now_applied >= *applied_index, "node {id} applied index");
            // The new leader's blank entry may follow; everything before is unchanged.
            assert_eq!(db.log_range(0, last + 1).as_ref(), Ok(log), "node {id} log");
        }
        add_entries(&cluster, "s", 12..14).await;
        cluster.assert_converged(leader).await;
        assert_eq!(xlen(&cluster.write(command(&["XLEN", "s"])).await), 14);
    })
    .await;
}

/// A leader sends entries before its own fsync, so after a crash its log may lack entries its
/// followers hold under its term. Restarted, it must not lead that term again (appending anew
/// would reuse those log ids): it comes back a follower that reports no leader, and the next
/// leader has a later term (`vendor/openraft/RILL.md`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_leader_does_not_lead_its_old_term_again() {
    with_deadline(
        "a_restarted_leader_does_not_lead_its_old_term_again",
        async {
            let mut cluster = three_nodes().await;
            let leader = cluster.leader().await;
            add_entries(&cluster, "s", 0..5).await;
            let term = cluster.node(leader).raft().metrics().borrow().current_term;
            for id in 1..=3 {
                cluster.stop(id).await;
            }

            // Alone it cannot win an election, so whatever it reports is what it restored.
            cluster.start(leader).await;
            // The metrics may still show the stored vote until the core has started: wait for
            // the vote to be taken back (a node restored as leader keeps it committed).
            let raft = cluster.node(leader).raft();
            let waited = raft
                .wait(Some(Duration::from_secs(5)))
                .metrics(|m| !m.vote.is_committed(), "vote taken back")
                .await;
            let metrics = raft.metrics().borrow().clone();
            assert!(waited.is_ok(), "{metrics:?}");
            assert_ne!(metrics.state, openraft::ServerState::Leader, "{metrics:?}");
            assert_eq!(metrics.current_leader, None, "{metrics:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
            let metrics = cluster.node(leader).raft().metrics().borrow().clone();
            assert_ne!(metrics.state, openraft::ServerState::Leader, "{metrics:?}");

            for id in (1..=3).filter(|&id| id != leader) {
                cluster.start(id).await;
            }
            let now = cluster.leader().await;
            let new_term = cluster.node(now).raft().metrics().borrow().current_term;
            assert!(new_term > term, "led term {term} again ({new_term})");
            add_entries(&cluster, "s", 5..7).await;
            cluster.assert_converged(now).await;
            assert_eq!(xlen(&cluster.write(command(&["XLEN", "s"])).await), 7);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_isolated_leader_cannot_commit_or_confirm_a_read() {
    with_deadline(
        "an_isolated_leader_cannot_commit_or_confirm_a_read",
        async {
            let cluster = three_nodes().await;
            let old = cluster.leader().await;
            add_entries(&cluster, "s", 0..3).await;
            let others: Vec<NodeId> = cluster
                .nodes
                .keys()
                .copied()
                .filter(|&id| id != old)
                .collect();
            cluster.router.isolate(old, &others);

            let stale_write = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                cluster
                    .node(old)
                    .write(command(&["XADD", "s", "*", "n", "stale"])),
            )
            .await;
            assert!(
                !matches!(stale_write, Ok(Ok(_))),
                "an isolated leader acknowledged a write: {stale_write:?}"
            );
            let barrier = cluster.node(old).read_barrier().await;
            assert!(
                matches!(
                    barrier,
                    Err(crate::NodeError::NoQuorum | crate::NodeError::NotLeader { .. })
                ),
                "an isolated leader confirmed a read: {barrier:?}"
            );

            // The majority elects a leader of its own and goes on.
            let deadline = std::time::Instant::now() + WAIT;
            let new = loop {
                let leaders: Vec<Option<NodeId>> = others
                    .iter()
                    .map(|&id| cluster.node(id).raft().metrics().borrow().current_leader)
                    .collect();
                if let [Some(a), Some(b)] = leaders[..] {
                    if a == b && a != old {
                        break a;
                    }
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "no new leader: {leaders:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            };
            let reply = cluster
                .node(new)
                .write(command(&["XADD", "s", "*", "n", "fresh"]))
                .await;
            assert!(matches!(reply, Ok(Reply::Bulk(_))), "{reply:?}");

            cluster.router.heal();
            let leader = cluster.leader().await;
            assert_eq!(
                leader, new,
                "the old leader stepped down on seeing the new term"
            );
            cluster.assert_converged(leader).await;
            let range = cluster.write(command(&["XRANGE", "s", "-", "+"])).await;
            assert!(
                !format!("{range:?}").contains("stale"),
                "the unacknowledged write is gone: {range:?}"
            );
            assert_eq!(xlen(&cluster.write(command(&["XLEN", "s"])).await), 4);
        },
    )
    .await;
}

/// Clients that each wait for their reply before writing again share log entries: the
/// proposer waits briefly for the clients it has just answered (`Gather` in `proposer.rs`).
/// Without that wait, 16 such clients split into two cohorts and take two entries a round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_waiting_for_their_replies_share_log_entries() {
    with_deadline(
        "clients_waiting_for_their_replies_share_log_entries",
        async {
            const CLIENTS: usize = 16;
            const ROUNDS: u64 = 40;
            let cluster = three_nodes().await;
            let leader = cluster.leader().await;
            let node = cluster.node(leader);
            let before = node.status().last_log_index;
            let clients: Vec<_> = (0..CLIENTS)
                .map(|client| {
                    Box::pin(async move {
                        for _ in 0..ROUNDS {
                            let field = format!("c{client}");
                            let xadd = command(&["XADD", "s", "*", &field, "v"]);
                            let reply = node.write(xadd).await.expect("XADD on the leader");
                            assert!(matches!(reply, Reply::Bulk(_)), "XADD: {reply:?}");
                        }
                    })
                })
                .collect();
            join_all(clients).await;
            let entries = node.status().last_log_index - before;
            let commands = CLIENTS as u64 * ROUNDS;
            assert_eq!(
                xlen(&cluster.write(command(&["XLEN", "s"])).await),
                commands as i64
            );
            // Two cohorts would take 2 * ROUNDS entries; one batch a round takes ROUNDS.
            assert!(
                entries <= ROUNDS * 5 / 4,
                "{commands} commands from {CLIENTS} clients took {entries} log entries"
            );
        },
    )
    .await;
}

/// Runs `futures` on this task until all are done.
async fn join_all<F: std::future::Future<Output = ()> + Unpin>(mut futures: Vec<F>) {
    std::future::poll_fn(|cx| {
        futures.retain_mut(|future| std::pin::Pin::new(future).poll(cx).is_pending());
        match futures.is_empty() {
            true => std::task::Poll::Ready(()),
            false => std::task::Poll::Pending,
        }
    })
    .await;
}

/// A follower whose disk is lost comes back with a new incarnation. It refuses every message
/// meant for the store it lost (it votes for no one and acknowledges nothing on that store's
/// behalf), and the leader removes that member. Added again, as the server's join does, it
/// catches up as a learner, then votes, holding every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_that_lost_its_disk_is_forgotten_and_joins_again() {
    with_deadline("a_follower_that_lost_its_disk_is_forgotten", async {
        let mut cluster = three_nodes().await;
        let leader = cluster.leader().await;
        add_entries(&cluster, "s", 0..20).await;
        let wiped = follower_of(&cluster, leader);
        let before = cluster.node(wiped).incarnation();
        cluster.stop(wiped).await;
        cluster.wipe(wiped);
        cluster.start(wiped).await;
        let after = cluster.node(wiped).incarnation();
        assert_ne!(before, after, "an empty store draws a new incarnation");

        // A vote request addressed to the lost store is refused, unread: the node's vote
        // stays empty.
        let vote = openraft::raft::VoteRequest::new(crate::types::Vote::new(99, leader), None);
        let payload =
            crate::codec::encode_after(before.to_le_bytes().to_vec(), &vote).expect("encode");
        let answer = cluster
            .node(wiped)
            .serve_rpc(crate::RpcKind::Vote, &payload)
            .await
            .expect("answered");
        assert_eq!(answer[0], 0, "refused");
        assert_eq!(answer[1..9], after.to_le_bytes(), "says who answered");
        let term = cluster.node(wiped).raft().metrics().borrow().current_term;
        assert_eq!(term, 0, "a refused vote request changed the vote");

        // Writes go on with the other two (through the leader: the wiped node knows of no
        // leader, so the cluster's own `write` would wait for it); the leader removes the member
        // it knew.
        for n in 20..40 {
            let value = n.to_string();
            let reply = cluster
                .node(leader)
                .write(command(&["XADD", "s", "*", "n", &value]))
                .await
                .expect("written by the two others");
            assert!(matches!(reply, Reply::Bulk(_)), "{reply:?}");
        }
        let deadline = std::time::Instant::now() + WAIT;
        while cluster
            .node(leader)
            .status()
            .members
            .iter()
            .any(|(id, _, _)| *id == wiped)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "node {wiped} was not removed: {:?}",
                cluster.node(leader).status().members
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let raft = cluster.node(leader).raft().clone();
        // The status shows the leader's newest membership once it is in its log; another
        // change is refused (`InProgress`) until that one is committed and applied.
        raft.wait(Some(WAIT))
            .metrics(
                |m| m.last_applied >= *m.membership_config.log_id(),
                "the removal applied",
            )
            .await
            .expect("the removal commits");
        let peer = Peer {
            incarnation: after,
            ..peer(wiped)
        };
        raft.add_learner(wiped, peer, true)
            .await
            .expect("joins as a learner");
        raft.change_membership(openraft::ChangeMembers::AddVoterIds([wiped].into()), false)
            .await
            .expect("votes again");
        add_entries(&cluster, "s", 40..45).await;
        cluster.assert_converged(leader).await;
        let reply = cluster.write(command(&["XLEN", "s"])).await;
        assert_eq!(xlen(&reply), 45);
        let voters = cluster.node(leader).status().members;
        assert!(
            voters
                .iter()
                .any(|(id, peer, voter)| *id == wiped && *voter && peer.incarnation == after),
            "{voters:?}"
        );
    })
    .await;
}
