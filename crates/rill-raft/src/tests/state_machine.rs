//! The state machine without a cluster: apply, replies, the records it keeps beside the state,
//! the stamper it feeds, and snapshot transfer (including a snapshot whose image does not match
//! its meta, which must be refused before anything is written).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, EntryPayload, Membership, RaftSnapshotBuilder};
use rill_core::{Limits, Reply};
use rill_storage::{Db, DbOptions};
use tempfile::TempDir;

use super::{command, peer};
use crate::{Entry, LogId, Request, Stamper, StateMachine};

struct Fixture {
    _dir: TempDir,
    db: Arc<Db>,
    stamper: Arc<Stamper>,
    sm: StateMachine,
}

fn fixture() -> Fixture {
    fixture_syncing(false)
}

/// With `sync`, every state commit fsyncs, so one made on the state machine's task is handed
/// back and finished on the blocking pool (`Db::commit_with_meta_unless_stalled`): the path a
/// commit RocksDB would stall takes.
fn fixture_syncing(sync: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Arc::new(
        Db::open(
            dir.path(),
            &DbOptions {
                sync,
                ..DbOptions::default()
            },
        )
        .expect("open store"),
    );
    let stamper = Arc::new(Stamper::new(0));
    let sm = StateMachine::new(db.clone(), Limits::default(), stamper.clone(), None).expect("sm");
    Fixture {
        _dir: dir,
        db,
        stamper,
        sm,
    }
}

fn log_id(index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn membership() -> Membership<u64, crate::Peer> {
    let nodes: BTreeMap<u64, crate::Peer> = (1..=3).map(|id| (id, peer(id))).collect();
    Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes)
}

fn normal(index: u64, words: &[&str], now_ms: u64) -> Entry {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(Request {
            commands: vec![command(words)].into(),
            now_ms,
        }),
    }
}

/// Membership at 0, blank at 1, then XADDs with explicit IDs at 2..2+n.
fn history(n: u64) -> Vec<Entry> {
    let mut entries = vec![
        Entry {
            log_id: log_id(0),
            payload: EntryPayload::Membership(membership()),
        },
        Entry {
            log_id: log_id(1),
            payload: EntryPayload::Blank,
        },
    ];
    for i in 0..n {
        let id = format!("{}-0", i + 1);
        entries.push(normal(2 + i, &["XADD", "s", &id, "f", "v"], 1000 + i));
    }
    entries
}

#[tokio::test]
async fn apply_answers_each_entry_and_records_what_it_applied() {
    let mut f = fixture();
    let responses = f.sm.apply(history(3)).await.expect("apply");
    let replies: Vec<Vec<Reply>> = responses.into_iter().map(|r| r.replies).collect();
    assert_eq!(
        replies,
        [
            vec![],
            vec![],
            vec![Reply::bulk("1-0")],
            vec![Reply::bulk("2-0")],
            vec![Reply::bulk("3-0")]
        ]
    );
    let (applied, stored) = f.sm.applied_state().await.expect("applied state");
    assert_eq!(applied, Some(log_id(4)));
    assert_eq!(stored.log_id(), &Some(log_id(0)));
    assert_eq!(stored.membership(), &membership());
    assert_eq!(f.db.applied_index(), Ok(5), "Raft index + 1");
    assert_eq!(
        f.stamper.last_ms(),
        1002,
        "applied stamps raise the proposer's floor"
    );

    // A Redis-level error is an answer; the entry still counts as applied.
    let responses =
        f.sm.apply([normal(5, &["XADD", "s", "1-0", "f", "v"], 900)])
            .await
            .expect("apply");
    assert!(responses[0].replies[0].is_error(), "{:?}", responses[0]);
    assert_eq!(f.db.applied_index(), Ok(6));
    assert_eq!(
        f.stamper.last_ms(),
        1002,
        "an older stamp does not lower the floor"
    );
}

/// A batch of a few commands is applied on the state machine's task; when its commit comes
/// back unwritten (here: the store fsyncs state commits), it is finished on the blocking pool.
/// A bigger batch goes to the pool whole. Either way the replies, the applied index and the
/// state are those of a store that wrote every commit at once.
#[tokio::test]
async fn a_commit_handed_back_on_the_task_is_finished_on_the_pool() {
    let mut at_once = fixture_syncing(false);
    let mut handed_back = fixture_syncing(true);
    let small = history(3);
    let big: Vec<Entry> = (0..crate::state_machine::APPLY_ON_TASK_COST_MAX as u64 + 4)
        .map(|i| normal(5 + i, &["XADD", "s", "*", "f", "v"], 2000 + i))
        .collect();
    let last = 4 + big.len() as u64;
    for batch in [small, big] {
        let expected = at_once.sm.apply(batch.clone()).await.expect("apply");
        let got = handed_back.sm.apply(batch).await.expect("apply");
        let replies =
            |r: Vec<crate::Response>| r.into_iter().map(|r| r.replies).collect::<Vec<_>>();
        assert_eq!(replies(got), replies(expected));
    }
    for f in [&mut at_once, &mut handed_back] {
        let (applied, _) = f.sm.applied_state().await.expect("applied state");
        assert_eq!(applied, Some(log_id(last)));
        assert_eq!(f.db.applied_index(), Ok(last + 1));
    }
    assert_eq!(handed_back.db.digest(), at_once.db.digest());
}

/// Where a batch is applied follows what it costs, not how many commands it holds: a leader's
/// entry of 50 clients' XADDs stays on the task, 26 consumers' reads and acks go to the pool.
#[test]
fn a_batch_is_applied_on_the_task_by_its_cost() {
    use crate::state_machine::{apply_cost, batch_cost, APPLY_ON_TASK_COST_MAX};
    let cost = |line: &str, times: usize| -> usize {
        let words: Vec<&str> = line.split(' ').collect();
        apply_cost(&super::command(&words)) * times
    };
    let xadd = "XADD s * f v";
    let trimming = "XADD s MAXLEN ~ 1000 * f v";
    let read = "XREADGROUP GROUP g c COUNT 10 STREAMS s >";
    let ack = "XACK s g 1-0 2-0";
    assert!(cost(xadd, 50) <= APPLY_ON_TASK_COST_MAX);
    assert!(cost(xadd, 65) > APPLY_ON_TASK_COST_MAX);
    assert!(cost(read, 4) + cost(ack, 4) <= APPLY_ON_TASK_COST_MAX);
    assert!(cost(read, 13) + cost(ack, 13) > APPLY_ON_TASK_COST_MAX);
    assert!(
        cost(trimming, 9) > APPLY_ON_TASK_COST_MAX,
        "a trim is heavy"
    );
    // A batch's cost sums its log entries' commands; membership and blank entries add nothing.
    let xadds = history(50);
    assert_eq!(batch_cost(&xadds), 50);
    let consumers: Vec<Entry> = (0..13)
        .flat_map(|i| {
            [
                normal(2 * i, &read.split(' ').collect::<Vec<_>>(), 1),
                normal(2 * i + 1, &ack.split(' ').collect::<Vec<_>>(), 1),
            ]
        })
        .collect();
    assert!(batch_cost(&consumers) > APPLY_ON_TASK_COST_MAX);
    // One big entry is as costly as many small ones.
    let big = format!("XADD s * f {}", "v".repeat(256 << 10));
    assert!(cost(&big, 1) > APPLY_ON_TASK_COST_MAX, "a 256 KiB entry");
    assert_eq!(cost(&format!("XADD s * f {}", "v".repeat(1000)), 1), 1);
}

#[tokio::test]
async fn reopened_state_machine_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let db = Arc::new(
            Db::open(
                dir.path(),
                &DbOptions {
                    sync: false,
                    ..DbOptions::default()
                },
            )
            .expect("open"),
        );
        let mut sm = StateMachine::new(db, Limits::default(), Arc::default(), None).expect("sm");
        sm.apply(history(2)).await.expect("apply");
    }
    let db = Arc::new(
        Db::open(
            dir.path(),
            &DbOptions {
                sync: false,
                ..DbOptions::default()
            },
        )
        .expect("reopen"),
    );
    let stamper = Arc::new(Stamper::new(0));
    let mut sm = StateMachine::new(db, Limits::default(), stamper.clone(), None).expect("sm");
    assert_eq!(stamper.last_ms(), 1001, "clock restored from disk");
    let (applied, stored) = sm.applied_state().await.expect("applied state");
    assert_eq!(applied, Some(log_id(3)));
    assert_eq!(stored.membership(), &membership());
    let responses = sm
        .apply([normal(4, &["XADD", "s", "*", "f", "v"], 5)])
        .await
        .expect("apply");
    // The entry's own stamp decides, never a clock of the applying node.
    assert_eq!(responses[0].replies, [Reply::bulk("5-0")]);
    assert!(stamper.stamp() >= 1001);
}

#[tokio::test]
#[should_panic(expected = "entries applied out of order")]
async fn apply_refuses_a_gap() {
    let mut f = fixture();
    f.sm.apply(history(1)).await.expect("apply");
    let _ = f.sm.apply([normal(9, &["XLEN", "s"], 1)]).await;
}

#[tokio::test]
async fn snapshot_moves_state_and_records_to_another_node() {
    let mut leader = fixture();
    leader.sm.apply(history(5)).await.expect("apply");
    let built = leader
        .sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("build");
    assert_eq!(built.meta.last_log_id, Some(log_id(6)));
    let current = leader
        .sm
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("a snapshot");
    assert_eq!(current.meta, built.meta);

    let mut follower = fixture();
    follower
        .sm
        .apply(history(1))
        .await
        .expect("apply other state");
    let mut receiving = follower.sm.begin_receiving_snapshot().await.expect("begin");
    *receiving = *current.snapshot;
    follower
        .sm
        .install_snapshot(&current.meta, receiving)
        .await
        .expect("install");

    assert_eq!(follower.db.digest(), leader.db.digest());
    assert_eq!(
        follower.sm.applied_state().await.expect("applied"),
        leader.sm.applied_state().await.expect("applied")
    );
    assert_eq!(follower.stamper.last_ms(), 1004);
    let kept = follower
        .sm
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("kept");
    assert_eq!(kept.meta, built.meta);
    // Applying continues right after the snapshot.
    follower
        .sm
        .apply([normal(7, &["XLEN", "s"], 1)])
        .await
        .expect("apply after install");
    // A snapshot asked for later holds the state as it is then, under a new meta.
    let later = follower
        .sm
        .get_current_snapshot()
        .await
        .expect("current")
        .expect("exported");
    assert_eq!(later.meta.last_log_id, Some(log_id(7)));
    assert_ne!(later.meta.snapshot_id, built.meta.snapshot_id);
    let image = rill_storage::read_image_meta(later.snapshot.get_ref()).expect("an image");
    assert_eq!(image.applied_index, 8);
}

#[tokio::test]
async fn building_a_snapshot_reads_no_state() {
    // A build records the applied point; the image is made only when one is asked for.
    let mut f = fixture();
    f.sm.apply(history(3)).await.expect("apply");
    let before = f.sm.get_current_snapshot().await.expect("current");
    assert!(before.is_none(), "a snapshot before any was built");
    let built =
        f.sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .expect("build");
    assert_eq!(built.meta.last_log_id, Some(log_id(4)));
    assert!(
        built.snapshot.get_ref().is_empty(),
        "a build exported the state"
    );
}

#[tokio::test]
async fn snapshot_whose_image_disagrees_with_its_meta_is_refused() {
    let mut leader = fixture();
    leader.sm.apply(history(2)).await.expect("apply");
    leader
        .sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("build");
    let snapshot = leader
        .sm
        .get_current_snapshot()
        .await
        .expect("export")
        .expect("a snapshot");
    let mut meta = snapshot.meta.clone();
    meta.last_log_id = Some(log_id(99));

    let mut follower = fixture();
    follower.sm.apply(history(1)).await.expect("apply");
    let digest = follower.db.digest();
    let result = follower.sm.install_snapshot(&meta, snapshot.snapshot).await;
    assert!(result.is_err(), "mismatched snapshot installed");
    assert_eq!(
        follower.db.digest(),
        digest,
        "refused snapshot changed the state"
    );
    assert_eq!(follower.db.applied_index(), Ok(3));

    let garbage = Box::new(std::io::Cursor::new(b"not an image".to_vec()));
    let result = follower.sm.install_snapshot(&snapshot.meta, garbage).await;
    assert!(result.is_err(), "garbage installed");
    assert_eq!(follower.db.digest(), digest);
}
