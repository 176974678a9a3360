//! What the replication layer relies on: the raw log (append, ranges, truncate and purge
//! boundaries, fsync), its metadata records, meta committed with the state, and state images.

use rill_core::{Store, StreamId, StreamMeta};
use rocksdb::statistics::Ticker;

use super::{raw_records, temp_db};
use crate::cf::{raft_log, Cf};
use crate::db::{Db, DbOptions};
use crate::error::{DecodeError, StorageError};
use crate::{LogMeta, NodeMeta};

fn entries(indexes: std::ops::RangeInclusive<u64>) -> Vec<(u64, Vec<u8>)> {
    indexes
        .map(|i| (i, format!("entry {i}").into_bytes()))
        .collect()
}

fn indexes(log: &[(u64, Vec<u8>)]) -> Vec<u64> {
    log.iter().map(|(i, _)| *i).collect()
}

fn wal_syncs(db: &Db) -> u64 {
    db.db_options.get_ticker_count(Ticker::WalFileSynced)
}

/// Writes one stream with `n` entries and commits it at `applied_index` with node meta.
fn write_state(db: &Db, key: &[u8], n: u64, applied_index: u64) {
    let mut txn = db.begin();
    txn.put_stream(
        key,
        &StreamMeta {
            length: n,
            last_id: StreamId::new(n, 0),
            entries_added: n,
            ..StreamMeta::default()
        },
    );
    for i in 1..=n {
        txn.put_entry(
            key,
            StreamId::new(i, 0),
            &vec![(b"f".to_vec(), vec![i as u8])],
        );
    }
    let log_id = format!("log id {applied_index}").into_bytes();
    db.commit_with_meta(
        txn,
        applied_index,
        &[
            (NodeMeta::AppliedLogId, &log_id),
            (NodeMeta::Membership, b"members"),
        ],
    )
    .expect("commit");
}

#[test]
fn log_append_and_read_back() {
    let (_dir, db) = temp_db();
    assert_eq!(db.log_first(), Ok(None));
    assert_eq!(db.log_last(), Ok(None));
    assert_eq!(db.log_range(0, u64::MAX), Ok(vec![]));

    db.log_append(&entries(1..=5)).expect("append");
    db.log_append(&entries(6..=6)).expect("append");
    db.log_append(&[]).expect("empty append");

    assert_eq!(db.log_range(0, u64::MAX), Ok(entries(1..=6)));
    assert_eq!(db.log_range(2, 4), Ok(entries(2..=3)));
    assert_eq!(db.log_range(4, 4), Ok(vec![]));
    assert_eq!(db.log_range(5, 2), Ok(vec![]));
    assert_eq!(db.log_range(6, 100), Ok(entries(6..=6)));
    assert_eq!(db.log_first(), Ok(entries(1..=1).pop()));
    assert_eq!(db.log_last(), Ok(entries(6..=6).pop()));
    // Log records never show up in the state.
    assert_eq!(
        db.read().stream_keys(None, usize::MAX),
        Vec::<Vec<u8>>::new()
    );
}

#[test]
fn log_append_replaces_an_entry_at_the_same_index() {
    let (_dir, db) = temp_db();
    db.log_append(&entries(1..=3)).expect("append");
    db.log_append(&[(3, b"other".to_vec())]).expect("append");
    assert_eq!(db.log_range(3, 4), Ok(vec![(3, b"other".to_vec())]));
}

#[test]
#[should_panic(expected = "out of order or with a hole")]
fn log_append_refuses_a_hole_in_one_batch() {
    let (_dir, db) = temp_db();
    let _ = db.log_append(&[(1, vec![]), (3, vec![])]);
}

#[test]
fn log_truncate_removes_from_index_on() {
    let (_dir, db) = temp_db();
    db.log_append(&entries(1..=10)).expect("append");
    db.log_truncate_from(7).expect("truncate");
    assert_eq!(
        indexes(&db.log_range(0, u64::MAX).expect("range")),
        [1, 2, 3, 4, 5, 6]
    );
    db.log_truncate_from(100).expect("truncate past the end");
    assert_eq!(db.log_last().expect("last").map(|e| e.0), Some(6));
    db.log_truncate_from(1).expect("truncate all");
    assert_eq!(db.log_last(), Ok(None));
    // Appending after truncation continues where the caller says.
    db.log_append(&entries(1..=2)).expect("append");
    assert_eq!(indexes(&db.log_range(0, u64::MAX).expect("range")), [1, 2]);
}

#[test]
fn log_truncate_reaches_the_highest_index() {
    let (_dir, db) = temp_db();
    db.log_append(&[(u64::MAX - 1, vec![1]), (u64::MAX, vec![2])])
        .expect("append");
    db.log_truncate_from(u64::MAX).expect("truncate");
    assert_eq!(db.log_last(), Ok(Some((u64::MAX - 1, vec![1]))));
}

#[test]
fn log_purge_removes_up_to_index_and_records_it() {
    let (_dir, db) = temp_db();
    db.log_append(&entries(1..=10)).expect("append");
    assert_eq!(db.log_meta_get(LogMeta::LastPurged), Ok(None));
    db.log_purge_upto(4, b"purged 4").expect("purge");
    assert_eq!(
        indexes(&db.log_range(0, u64::MAX).expect("range")),
        [5, 6, 7, 8, 9, 10]
    );
    assert_eq!(db.log_first().expect("first").map(|e| e.0), Some(5));
    assert_eq!(
        db.log_meta_get(LogMeta::LastPurged),
        Ok(Some(b"purged 4".to_vec()))
    );
    db.log_purge_upto(10, b"purged 10").expect("purge all");
    assert_eq!(db.log_first(), Ok(None));
    assert_eq!(db.log_last(), Ok(None));
    db.log_purge_upto(u64::MAX, b"max")
        .expect("purge to the end of the index space");
    assert_eq!(
        db.log_meta_get(LogMeta::LastPurged),
        Ok(Some(b"max".to_vec()))
    );
}

#[test]
fn log_meta_round_trips_per_record() {
    let (_dir, db) = temp_db();
    for meta in [LogMeta::Vote, LogMeta::Committed, LogMeta::LastPurged] {
        assert_eq!(db.log_meta_get(meta), Ok(None));
    }
    db.log_meta_put(LogMeta::Vote, b"vote 1").expect("put");
    db.log_meta_put(LogMeta::Committed, b"").expect("put");
    db.log_meta_put(LogMeta::Vote, b"vote 2").expect("put");
    assert_eq!(db.log_meta_get(LogMeta::Vote), Ok(Some(b"vote 2".to_vec())));
    assert_eq!(db.log_meta_get(LogMeta::Committed), Ok(Some(vec![])));
    assert_eq!(db.log_meta_get(LogMeta::LastPurged), Ok(None));
}

#[test]
fn every_log_write_is_fsynced_even_without_state_sync() {
    // `temp_db` opens with `sync: false`: state commits do not fsync, log writes still must.
    let (_dir, db) = temp_db();
    let before = wal_syncs(&db);
    write_state(&db, b"s", 1, 1);
    assert_eq!(
        wal_syncs(&db),
        before,
        "a state commit fsynced under sync: false"
    );
    // Checked before the steps: the import's compactions run in the background and may sync.
    let before = wal_syncs(&db);
    db.log_meta_put(LogMeta::Committed, b"c")
        .expect("committed");
    assert_eq!(
        wal_syncs(&db),
        before,
        "the committed hint need not be fsynced"
    );

    type Step<'a> = (&'a str, &'a dyn Fn(&Db));
    let steps: [Step<'_>; 5] = [
        ("append", &|db| {
            db.log_append(&entries(1..=3)).expect("append")
        }),
        ("vote", &|db| {
            db.log_meta_put(LogMeta::Vote, b"v").expect("vote")
        }),
        ("truncate", &|db| db.log_truncate_from(3).expect("truncate")),
        ("purge", &|db| db.log_purge_upto(1, b"p").expect("purge")),
        ("import", &|db| {
            let (_, image) = db.export_state().expect("export");
            db.import_state(&image).expect("import");
        }),
    ];
    for (name, step) in steps {
        let before = wal_syncs(&db);
        step(&db);
        assert!(wal_syncs(&db) > before, "{name} returned without an fsync");
    }
}

/// The group commit's two halves: `log_write` does not fsync, `log_flush` does (one fsync for
/// every write before it), and neither does with `log_sync` off.
#[test]
fn log_write_waits_for_log_flush_to_be_fsynced() {
    let (_dir, db) = temp_db();
    let before = wal_syncs(&db);
    db.log_write(&entries(1..=3)).expect("write");
    db.log_write(&entries(4..=4)).expect("write");
    assert_eq!(wal_syncs(&db), before, "log_write fsynced");
    assert_eq!(
        db.log_range(0, u64::MAX),
        Ok(entries(1..=4)),
        "readable unflushed"
    );
    let synced = db.synced_writes();
    db.log_flush().expect("flush");
    assert_eq!(wal_syncs(&db), before + 1, "one fsync for both writes");
    assert_eq!(db.synced_writes(), synced + 1);

    let dir = tempfile::tempdir().expect("temp dir");
    let unsynced = Db::open(
        dir.path(),
        &DbOptions {
            log_sync: false,
            ..DbOptions::default()
        },
    )
    .expect("open");
    unsynced.log_write(&entries(1..=1)).expect("write");
    let before = wal_syncs(&unsynced);
    unsynced.log_flush().expect("flush");
    assert_eq!(wal_syncs(&unsynced), before, "log_sync off, yet fsynced");
}

/// The non-waiting write writes as `log_write` does (no fsync) when RocksDB has room.
#[test]
fn log_write_unless_stalled_writes_without_an_fsync() {
    let (_dir, db) = temp_db();
    let before = wal_syncs(&db);
    assert_eq!(db.log_write_unless_stalled(&entries(1..=3)), Ok(true));
    assert_eq!(db.log_write_unless_stalled(&[]), Ok(true));
    assert_eq!(wal_syncs(&db), before, "fsynced");
    assert_eq!(db.log_range(0, u64::MAX), Ok(entries(1..=3)));
}

/// Where RocksDB would stall a write (here: the log's family holds as many level-0 files as
/// may exist, too few for a compaction), `log_write_unless_stalled` answers `false`
/// at once and writes nothing; the caller then writes on a thread that may wait. Once the
/// stall is over it writes again.
#[test]
fn log_write_unless_stalled_declines_a_write_rocksdb_would_stall() {
    let (_dir, db) = temp_db();
    stall_writes(&db, &entries(1..=2));

    assert_eq!(db.log_write_unless_stalled(&entries(3..=4)), Ok(false));
    assert_eq!(
        db.log_range(0, u64::MAX),
        Ok(entries(1..=2)),
        "written anyway"
    );

    let_writes_flow(&db);
    assert_eq!(db.log_write_unless_stalled(&entries(3..=4)), Ok(true));
    assert_eq!(db.log_range(0, u64::MAX), Ok(entries(1..=4)));
}

/// Makes RocksDB stall every write to `db` (its write controller is the store's: a stopped
/// family stops every write): the log's family, with `log` written and flushed, then holds
/// as many level-0 files as it may, too few for a compaction.
fn stall_writes(db: &Db, log: &[(u64, Vec<u8>)]) {
    let stall = [
        ("level0_file_num_compaction_trigger", "8"),
        ("level0_slowdown_writes_trigger", "1"),
        ("level0_stop_writes_trigger", "1"),
    ];
    let family = db.handle(Cf::RaftLog);
    db.rocks()
        .set_options_cf(family, &stall)
        .expect("set options");
    db.log_write(log).expect("write");
    db.rocks()
        .flush_cf(family)
        .expect("flush to one level-0 file");
}

/// Undoes [`stall_writes`]: RocksDB's defaults again.
fn let_writes_flow(db: &Db) {
    let flowing = [
        ("level0_stop_writes_trigger", "36"),
        ("level0_slowdown_writes_trigger", "20"),
        ("level0_file_num_compaction_trigger", "4"),
    ];
    db.rocks()
        .set_options_cf(db.handle(Cf::RaftLog), &flowing)
        .expect("set options");
}

/// A state commit made on an async task: written at once while RocksDB would not stall it;
/// where it would, nothing is written and the commit comes back, and `finish_commit` writes
/// all of it (state, applied index, meta) once writes flow again. A store that fsyncs state
/// commits hands every one back. `finish_commit` refuses a commit another one overtook.
#[test]
fn a_commit_rocksdb_would_stall_comes_back_unwritten_and_finishes_later() {
    let (_dir, db) = temp_db();
    let commit = |db: &Db, key: &[u8], index: u64| {
        let mut txn = db.begin();
        txn.put_stream(key, &StreamMeta::default());
        db.commit_with_meta_unless_stalled(txn, index, &[(NodeMeta::ClockMs, b"clock")])
    };
    assert!(matches!(commit(&db, b"a", 1), Ok(None)), "written at once");
    assert!(db.read().stream(b"a").is_some());

    stall_writes(&db, &entries(1..=2));
    let pending = commit(&db, b"b", 2)
        .expect("no error")
        .expect("handed back");
    assert_eq!(db.applied_index(), Ok(1), "nothing written");
    assert!(db.read().stream(b"b").is_none());

    let_writes_flow(&db);
    db.finish_commit(pending).expect("finish");
    assert_eq!(db.applied_index(), Ok(2));
    assert!(db.read().stream(b"b").is_some());
    assert_eq!(db.node_meta(NodeMeta::ClockMs), Ok(Some(b"clock".to_vec())));

    // A commit handed back, then overtaken by a commit made in the meantime, is refused.
    let synced_dir = tempfile::tempdir().expect("temp dir");
    let synced = Db::open(synced_dir.path(), &DbOptions::default()).expect("open");
    let first = commit(&synced, b"a", 1)
        .expect("no error")
        .expect("a synced store hands every commit back");
    assert_eq!(synced.applied_index(), Ok(0));
    write_state(&synced, b"c", 1, 1);
    assert!(matches!(
        synced.finish_commit(first),
        Err(StorageError::ConcurrentCommit {
            began_at: 0,
            current: 1
        })
    ));
    assert!(synced.read().stream(b"a").is_none());
}

/// A failed fsync, of the group commit's flush or of a synced write, leaves the marker: the
/// store will not open again in this boot (its page cache may hold what the disk does not),
/// and opens once the boot has changed. A write that needs no fsync leaves none.
#[test]
fn a_failed_fsync_keeps_the_store_closed_for_the_rest_of_the_boot() {
    use std::sync::atomic::Ordering;

    type Fsync = fn(&Db) -> Result<(), StorageError>;
    let fsyncs: [(&str, Fsync); 2] = [
        ("log_flush", |db| {
            db.log_write(&entries(1..=2))?;
            db.log_flush()
        }),
        ("log_append", |db| db.log_append(&entries(1..=2))),
    ];
    for (name, fsync) in fsyncs {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(dir.path(), &DbOptions::default()).expect("open");
        db.fail_fsyncs.store(true, Ordering::Relaxed);
        db.log_write(&entries(10..=10))
            .expect("no fsync, no failure");
        assert!(
            !dir.path().join(crate::fsync_guard::MARKER).exists(),
            "{name}"
        );
        fsync(&db).expect_err("the fsync fails");
        drop(db);
        let marker = dir.path().join(crate::fsync_guard::MARKER);
        assert!(marker.exists(), "{name}: no marker");

        let refused = Db::open(dir.path(), &DbOptions::default()).err();
        assert!(
            matches!(refused, Some(StorageError::FsyncFailedThisBoot { .. })),
            "{name}: reopened in the same boot: {refused:?}"
        );
        // What an earlier boot left is cleared.
        let earlier = std::fs::read_to_string(&marker).expect("marker").replace(
            &crate::fsync_guard::boot_id().expect("boot id"),
            "an-earlier-boot",
        );
        std::fs::write(&marker, earlier).expect("rewrite marker");
        Db::open(dir.path(), &DbOptions::default()).expect("opens after a reboot");
        assert!(!marker.exists(), "{name}: marker kept");
    }
}

/// What the replication layer noted as reported stored only rises, but for a truncation below
/// it, which takes it down to what is left.
#[test]
fn log_reported_falls_only_with_a_truncation() {
    let (_dir, db) = temp_db();
    assert_eq!(db.log_reported(), 0);
    db.log_append(&entries(1..=9)).expect("append");
    db.log_reported_stored(7);
    db.log_reported_stored(5);
    assert_eq!(db.log_reported(), 7);
    db.log_truncate_from(8).expect("truncate");
    assert_eq!(db.log_reported(), 7, "a truncation above it");
    db.log_truncate_from(4).expect("truncate");
    assert_eq!(db.log_reported(), 3);
    db.log_truncate_one(2).expect("truncate");
    assert_eq!(db.log_reported(), 1);
}

#[test]
fn log_and_meta_survive_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let db = Db::open(
            dir.path(),
            &DbOptions {
                sync: false,
                ..DbOptions::default()
            },
        )
        .expect("open");
        db.log_append(&entries(1..=4)).expect("append");
        db.log_purge_upto(1, b"p1").expect("purge");
        db.log_meta_put(LogMeta::Vote, b"vote").expect("vote");
        write_state(&db, b"s", 2, 3);
    }
    let db = Db::open(
        dir.path(),
        &DbOptions {
            sync: false,
            ..DbOptions::default()
        },
    )
    .expect("reopen");
    assert_eq!(db.log_range(0, u64::MAX), Ok(entries(2..=4)));
    assert_eq!(db.log_meta_get(LogMeta::Vote), Ok(Some(b"vote".to_vec())));
    assert_eq!(
        db.log_meta_get(LogMeta::LastPurged),
        Ok(Some(b"p1".to_vec()))
    );
    assert_eq!(db.applied_index(), Ok(3));
    assert_eq!(
        db.node_meta(NodeMeta::AppliedLogId),
        Ok(Some(b"log id 3".to_vec()))
    );
    assert_eq!(
        db.node_meta(NodeMeta::Membership),
        Ok(Some(b"members".to_vec()))
    );
}

#[test]
fn corrupt_log_entry_is_an_error_not_a_panic() {
    let (_dir, db) = temp_db();
    db.log_append(&entries(1..=2)).expect("append");
    let key = raft_log::key(2);
    let mut value = db
        .rocks()
        .get_cf(db.handle(Cf::RaftLog), key)
        .expect("get")
        .expect("present");
    let last = value.len() - 1;
    value[last] ^= 1;
    db.rocks()
        .put_cf(db.handle(Cf::RaftLog), key, &value)
        .expect("put");
    match db.log_range(0, 10) {
        Err(StorageError::Corrupt {
            cf: "raft_log",
            source: DecodeError::Checksum { .. },
            ..
        }) => {}
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert!(db.log_last().is_err());
    assert_eq!(db.log_range(1, 2), Ok(entries(1..=1)));
}

#[test]
fn commit_with_meta_writes_meta_with_the_state() {
    let (_dir, db) = temp_db();
    assert_eq!(db.node_meta(NodeMeta::AppliedLogId), Ok(None));
    write_state(&db, b"s", 1, 5);
    assert_eq!(db.applied_index(), Ok(5));
    assert_eq!(
        db.node_meta(NodeMeta::AppliedLogId),
        Ok(Some(b"log id 5".to_vec()))
    );
    // A commit that carries no meta leaves the last meta in place.
    let txn = db.begin();
    db.commit(txn, 6).expect("commit");
    assert_eq!(
        db.node_meta(NodeMeta::AppliedLogId),
        Ok(Some(b"log id 5".to_vec()))
    );
    // A refused commit writes no meta either.
    let stale = db.read();
    assert!(db
        .commit_with_meta(stale, 7, &[(NodeMeta::AppliedLogId, b"x")])
        .is_err());
    assert_eq!(
        db.node_meta(NodeMeta::AppliedLogId),
        Ok(Some(b"log id 5".to_vec()))
    );
}

#[test]
fn export_import_copies_state_and_meta_exactly() {
    let (_a_dir, a) = temp_db();
    write_state(&a, b"s", 3, 4);
    write_state(&a, b"t", 2, 9);
    a.log_append(&entries(1..=9)).expect("append");
    let (meta, image) = a.export_state().expect("export");
    assert_eq!(meta.applied_index, 9);
    assert_eq!(meta.node_meta[&NodeMeta::AppliedLogId], b"log id 9");
    assert_eq!(meta.node_meta[&NodeMeta::Membership], b"members");

    // Into a store holding other state and its own log: the state is replaced, the log kept.
    let (_b_dir, b) = temp_db();
    write_state(&b, b"other", 5, 20);
    b.log_append(&entries(15..=20)).expect("append");
    assert_ne!(b.digest(), a.digest());
    assert_eq!(b.import_state(&image), Ok(meta.clone()));

    assert_eq!(b.digest(), a.digest());
    assert_eq!(b.applied_index(), Ok(9));
    assert_eq!(b.read().stream(b"other"), None);
    assert_eq!(raw_records(&b, Cf::Node), raw_records(&a, Cf::Node));
    for cf in Cf::STATE {
        assert_eq!(raw_records(&b, cf), raw_records(&a, cf), "{}", cf.name());
    }
    assert_eq!(
        indexes(&b.log_range(0, u64::MAX).expect("range")),
        [15, 16, 17, 18, 19, 20]
    );
    // The same image again gives the same bytes.
    assert_eq!(b.export_state().map(|(_, image)| image), Ok(image));
    // Commits continue from the imported index.
    write_state(&b, b"u", 1, 10);
    assert_eq!(b.applied_index(), Ok(10));
}

/// An image brings the groups' ordered records, and import derives the delivery order of
/// those groups only: the same records the store it came from holds.
#[test]
fn an_image_brings_the_delivery_order_of_the_groups_that_keep_one() {
    use crate::cf::KeyTag;
    use rill_core::{GroupMeta, PendingEntry};

    let (_a_dir, a) = temp_db();
    let mut txn = a.begin();
    txn.put_stream(b"s", &StreamMeta::default());
    let groups = [&b"g"[..], b"h"];
    for group in groups {
        txn.put_group(b"s", group, &GroupMeta::default());
    }
    txn.keep_delivery_order(b"s", b"h");
    for seq in 1..=3 {
        for group in groups {
            let entry = PendingEntry::held(b"c", 10 - seq, 1);
            txn.put_pending(b"s", group, StreamId::new(1, seq), None, &entry);
        }
    }
    a.commit(txn, 1).expect("commit");
    let (_, image) = a.export_state().expect("export");
    let (_b_dir, b) = temp_db();
    b.import_state(&image).expect("import");
    for cf in Cf::STATE {
        assert_eq!(raw_records(&b, cf), raw_records(&a, cf), "{}", cf.name());
    }
    let tagged = |cf: Cf, tag: KeyTag| crate::tests::tagged_count(&b, cf, tag);
    assert_eq!(tagged(Cf::Groups, KeyTag::DeliveryOrdered), 1);
    assert_eq!(
        tagged(Cf::Pel, KeyTag::PendingByDelivery),
        3,
        "h's entries, none of g's"
    );
    assert_eq!(tagged(Cf::Pel, KeyTag::DeliveryFirst), 1);
    let mut order = Vec::new();
    b.read()
        .visit_pending_by_delivery(b"s", b"h", &mut |ms, id| {
            order.push((ms, id.seq));
            true
        });
    assert_eq!(order, [(7, 3), (8, 2), (9, 1)]);
    crate::tests::dump(&b);
}

#[test]
fn export_of_a_fresh_store_imports_as_empty() {
    let (_a_dir, a) = temp_db();
    let (meta, image) = a.export_state().expect("export");
    assert_eq!(meta.applied_index, 0);
    assert!(meta.node_meta.is_empty());
    let (_b_dir, b) = temp_db();
    write_state(&b, b"s", 2, 3);
    b.import_state(&image).expect("import");
    assert_eq!(b.digest(), a.digest());
    assert_eq!(b.applied_index(), Ok(0));
    assert_eq!(b.node_meta(NodeMeta::Membership), Ok(None));
}

#[test]
fn bad_image_is_refused_and_writes_nothing() {
    let (_a_dir, a) = temp_db();
    write_state(&a, b"s", 2, 2);
    let (_, image) = a.export_state().expect("export");
    let (_b_dir, b) = temp_db();
    write_state(&b, b"keep", 1, 1);
    let digest = b.digest();
    for i in (0..image.len()).step_by(7) {
        let mut bad = image.clone();
        bad[i] ^= 0x10;
        assert!(
            matches!(b.import_state(&bad), Err(StorageError::BadImage(_))),
            "flip at {i}"
        );
    }
    for cut in [0, 1, 8, image.len() / 2, image.len() - 1] {
        assert!(matches!(
            b.import_state(&image[..cut]),
            Err(StorageError::BadImage(_))
        ));
    }
    assert_eq!(b.digest(), digest);
    assert_eq!(b.applied_index(), Ok(1));
}

/// Copies a live store's files (all but its lock), as a crash leaves them.
fn crash_copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for file in std::fs::read_dir(from).expect("read dir") {
        let file = file.expect("dir entry");
        if file.file_name() != "LOCK" {
            std::fs::copy(file.path(), to.join(file.file_name())).expect("copy");
        }
    }
}

/// A power loss in the middle of the last WAL record (a torn write): RocksDB's recovery drops
/// the torn record and opens with every record before it, whole. (The simulator's disk keeps
/// whole batches only, and relies on this.)
#[test]
fn a_torn_wal_tail_recovers_a_prefix() {
    let (dir, db) = temp_db();
    for i in 1..=10 {
        db.log_append(&entries(i..=i)).expect("append");
    }
    for torn_bytes in [0u64, 1, 5, 17] {
        let copy = tempfile::tempdir().expect("temp dir");
        crash_copy(dir.path(), copy.path());
        let mut wals: Vec<std::path::PathBuf> = std::fs::read_dir(copy.path())
            .expect("read dir")
            .map(|f| f.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        wals.sort();
        let wal = wals.last().expect("a WAL file");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(wal)
            .expect("open the WAL");
        let len = file.metadata().expect("metadata").len();
        file.set_len(len - torn_bytes)
            .expect("tear the last record");
        drop(file);
        let reopened = Db::open(copy.path(), &DbOptions::default()).expect("opens after a tear");
        let log = reopened.log_range(0, u64::MAX).expect("log");
        let kept: Vec<u64> = if torn_bytes == 0 {
            (1..=10).collect()
        } else {
            (1..=9).collect()
        };
        assert_eq!(indexes(&log), kept, "torn by {torn_bytes} bytes");
        assert_eq!(log, entries(1..=kept.len() as u64), "whole records only");
    }
}
