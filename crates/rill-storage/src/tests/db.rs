//! `Db` paths the model test does not reach: reopen, refused commits, corrupt records,
//! snapshot isolation, concurrent readers and the digest.

use std::sync::Arc;

use rill_core::{GroupMeta, PendingEntry, Store, StreamId, StreamMeta};

use super::temp_db;
use crate::cf::{entries, node, streams, Cf};
use crate::db::{Db, DbOptions};
use crate::error::{DecodeError, StorageError};

fn meta(length: u64) -> StreamMeta {
    StreamMeta {
        length,
        last_id: StreamId::new(length, 0),
        entries_added: length,
        ..StreamMeta::default()
    }
}

fn fields(value: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![(b"f".to_vec(), value.to_vec())]
}

#[test]
fn fresh_store_is_empty_at_index_zero() {
    let (_dir, db) = temp_db();
    assert_eq!(db.applied_index(), Ok(0));
    let view = db.read();
    assert_eq!(view.applied_index(), 0);
    assert_eq!(view.stream_keys(None, usize::MAX), Vec::<Vec<u8>>::new());
    assert_eq!(view.status(), Ok(()));
}

#[test]
fn reopen_keeps_data_and_applied_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = DbOptions {
        sync: true,
        ..DbOptions::default()
    };
    {
        let db = Db::open(dir.path(), &options).expect("open");
        let mut txn = db.begin();
        txn.put_stream(b"s", &meta(1));
        txn.put_entry(b"s", StreamId::new(1, 0), &fields(b"v"));
        db.commit(txn, 7).expect("commit");
    }
    let db = Db::open(dir.path(), &options).expect("reopen");
    assert_eq!(db.applied_index(), Ok(7));
    let txn = db.begin();
    assert_eq!(txn.applied_index(), 7);
    assert_eq!(txn.stream(b"s"), Some(meta(1)));
    assert_eq!(txn.entry(b"s", StreamId::new(1, 0)), Some(fields(b"v")));
    db.commit(txn, 8).expect("commit after reopen");
    assert_eq!(db.applied_index(), Ok(8));
}

#[test]
fn commit_refuses_stale_txn_read_view_and_non_growing_index() {
    let (_dir, db) = temp_db();
    let (first, second) = (db.begin(), db.begin());
    db.commit(first, 1).expect("commit");
    assert_eq!(
        db.commit(second, 2),
        Err(StorageError::ConcurrentCommit {
            began_at: 0,
            current: 1
        })
    );
    assert_eq!(
        db.commit(db.begin(), 1),
        Err(StorageError::AppliedIndexNotIncreasing {
            current: 1,
            requested: 1
        })
    );
    assert_eq!(db.commit(db.read(), 2), Err(StorageError::ReadOnly));
    assert_eq!(db.applied_index(), Ok(1));
}

#[test]
#[should_panic(expected = "write through a read view")]
fn writing_through_a_read_view_is_a_bug() {
    let (_dir, db) = temp_db();
    db.read().put_stream(b"s", &meta(0));
}

/// Garbage under a valid key: the read answers "absent", the txn remembers, commit writes
/// nothing (neither the txn's writes nor the applied index).
#[test]
fn corrupt_value_fails_the_txn_and_commit_writes_nothing() {
    let (_dir, db) = temp_db();
    let mut txn = db.begin();
    txn.put_stream(b"s", &meta(1));
    db.commit(txn, 1).expect("commit");
    db.rocks()
        .put_cf(db.handle(Cf::Streams), streams::key(b"s"), b"\x01garbage")
        .expect("raw put");
    // The raw put went around the commits: what the last one left warm is stale, drop it.
    drop(db.begin());
    let digest_before = db.digest().expect("digest");

    let mut txn = db.begin();
    assert_eq!(txn.stream(b"s"), None);
    txn.put_stream(b"t", &meta(2));
    txn.put_entry(b"t", StreamId::new(1, 0), &fields(b"v"));
    let expected = StorageError::Corrupt {
        cf: "streams",
        key: streams::key(b"s"),
        source: DecodeError::Truncated {
            needed: 8,
            remaining: 7,
        },
    };
    assert_eq!(txn.status(), Err(expected.clone()));
    assert_eq!(db.commit(txn, 2), Err(expected));

    assert_eq!(db.applied_index(), Ok(1));
    assert_eq!(db.digest(), Ok(digest_before));
    assert_eq!(db.read().stream(b"t"), None);
}

/// A record whose key does not decode, inside a range scan: left out, and the error is kept.
#[test]
fn corrupt_key_in_a_scan_fails_the_txn() {
    let (_dir, db) = temp_db();
    let mut txn = db.begin();
    txn.put_entry(b"s", StreamId::new(1, 0), &fields(b"v"));
    db.commit(txn, 1).expect("commit");
    let mut bad_key = entries::key(b"s", StreamId::new(2, 0));
    bad_key.push(0);
    db.rocks()
        .put_cf(
            db.handle(Cf::Entries),
            &bad_key,
            entries::encode_value(&fields(b"w")),
        )
        .expect("raw put");

    let view = db.read();
    let got = view.entries(b"s", StreamId::MIN, StreamId::MAX, false, usize::MAX);
    assert_eq!(got, vec![(StreamId::new(1, 0), fields(b"v"))]);
    let expected = StorageError::Corrupt {
        cf: "entries",
        key: bad_key,
        source: DecodeError::Trailing { extra: 1 },
    };
    assert_eq!(view.status(), Err(expected));
}

#[test]
fn read_view_keeps_its_snapshot_across_commits() {
    let (_dir, db) = temp_db();
    let view = db.read();
    let mut txn = db.begin();
    txn.put_stream(b"s", &meta(1));
    db.commit(txn, 1).expect("commit");
    assert_eq!(view.stream(b"s"), None);
    assert_eq!(view.applied_index(), 0);
    assert_eq!(db.read().stream(b"s"), Some(meta(1)));
    assert_eq!(db.read().applied_index(), 1);
}

/// A txn remembers what it read from its snapshot (`read_cache.rs`); its own later writes,
/// point and range deletes included, must still win over what it remembered, and a commit
/// made elsewhere after the read must stay unseen.
#[test]
fn a_txn_sees_its_own_writes_over_what_it_read_before() {
    let (_dir, db) = temp_db();
    let id = StreamId::new(1, 0);
    let mut txn = db.begin();
    txn.put_stream(b"s", &meta(1));
    txn.put_entry(b"s", id, &fields(b"old"));
    txn.put_group(b"s", b"g", &GroupMeta::default());
    txn.put_pending(b"s", b"g", id, None, &PendingEntry::held(b"c", 1, 1));
    db.commit(txn, 1).expect("commit");

    let mut txn = db.begin();
    assert_eq!(txn.entry(b"s", id), Some(fields(b"old")));
    assert_eq!(
        txn.pending(b"s", b"g", id),
        Some(PendingEntry::held(b"c", 1, 1))
    );
    assert_eq!(txn.stream(b"s"), Some(meta(1)));
    assert_eq!(txn.stream(b"t"), None);

    // A commit by another txn after those reads: this one keeps its snapshot.
    let mut other = db.begin();
    other.put_stream(b"t", &meta(5));
    db.commit(other, 2).expect("commit");
    assert_eq!(txn.stream(b"t"), None);

    txn.put_entry(b"s", id, &fields(b"new"));
    assert_eq!(txn.entry(b"s", id), Some(fields(b"new")));
    txn.delete_pending(b"s", b"g", id, &PendingEntry::held(b"c", 1, 1));
    assert_eq!(txn.pending(b"s", b"g", id), None);
    txn.put_stream(b"s", &meta(2));
    assert_eq!(txn.stream(b"s"), Some(meta(2)));
    // Deleting the stream removes its entries with a range delete.
    txn.delete_stream(b"s");
    assert_eq!(txn.stream(b"s"), None);
    assert_eq!(txn.entry(b"s", id), None);
    assert_eq!(txn.group(b"s", b"g"), None);
}

/// Point reads txns have asked their snapshots for since `db` opened.
fn snapshot_gets(db: &Db) -> u64 {
    db.snapshot_gets.load(std::sync::atomic::Ordering::Relaxed)
}

/// What the read cache saves: a write txn asks its snapshot for a record once, present or
/// absent, however often it reads it; a read view, which does not remember, asks every time.
#[test]
fn a_write_txn_asks_its_snapshot_once_per_record() {
    let (_dir, db) = temp_db();
    let id = StreamId::new(1, 0);
    let held = PendingEntry::held(b"c", 1, 1);
    let mut txn = db.begin();
    txn.put_stream(b"s", &meta(1));
    txn.put_group(b"s", b"g", &GroupMeta::default());
    txn.put_pending(b"s", b"g", id, None, &held);
    db.commit(txn, 1).expect("commit");
    // A txn begun and dropped takes what the commit left warm: the next one starts cold.
    drop(db.begin());
    fn read_two(store: &impl Store, id: StreamId, held: &PendingEntry) {
        assert_eq!(store.pending(b"s", b"g", id).as_ref(), Some(held));
        assert_eq!(store.stream(b"t"), None);
    }

    let txn = db.begin();
    let started = snapshot_gets(&db);
    read_two(&txn, id, &held);
    assert_eq!(snapshot_gets(&db) - started, 2, "two records read");
    for _ in 0..4 {
        read_two(&txn, id, &held);
    }
    assert_eq!(snapshot_gets(&db) - started, 2, "read again from the cache");

    let view = db.read();
    let started = snapshot_gets(&db);
    for _ in 0..5 {
        read_two(&view, id, &held);
    }
    assert_eq!(
        snapshot_gets(&db) - started,
        10,
        "a read view asks every time"
    );
}

/// A commit hands what it wrote and read to the next write txn: an XACK finds the pending
/// records an XREADGROUP wrote in an earlier batch without a `Get`. Deletes, range deletes, an
/// image's import and a txn begun elsewhere leave nothing stale behind.
#[test]
fn the_next_write_txn_starts_with_what_the_last_commit_left() {
    let (_dir, db) = temp_db();
    let (a, b) = (StreamId::new(1, 0), StreamId::new(2, 0));
    let held = PendingEntry::held(b"c", 1, 1);
    let mut txn = db.begin();
    txn.put_stream(b"s", &meta(2));
    txn.put_group(b"s", b"g", &GroupMeta::default());
    txn.put_pending(b"s", b"g", a, None, &held);
    txn.put_pending(b"s", b"g", b, None, &held);
    assert_eq!(txn.stream(b"t"), None, "read, absent");
    db.commit(txn, 1).expect("commit");

    // Written or read by the commit before: no Get.
    let mut txn = db.begin();
    let started = snapshot_gets(&db);
    assert_eq!(txn.stream(b"s"), Some(meta(2)));
    assert_eq!(txn.group(b"s", b"g"), Some(GroupMeta::default()));
    assert_eq!(txn.pending(b"s", b"g", a).as_ref(), Some(&held));
    assert_eq!(txn.stream(b"t"), None);
    assert_eq!(snapshot_gets(&db) - started, 0, "all of it warm");
    // Written entries are not kept warm (big, and read by scans).
    txn.put_entry(b"s", a, &fields(b"v"));
    txn.delete_pending(b"s", b"g", a, &held);
    db.commit(txn, 2).expect("commit");

    let txn = db.begin();
    let started = snapshot_gets(&db);
    assert_eq!(
        txn.pending(b"s", b"g", a),
        None,
        "a deleted record is forgotten"
    );
    assert_eq!(txn.entry(b"s", a), Some(fields(b"v")));
    assert_eq!(snapshot_gets(&db) - started, 2, "neither was warm");
    assert_eq!(txn.pending(b"s", b"g", b).as_ref(), Some(&held));
    assert_eq!(
        snapshot_gets(&db) - started,
        2,
        "still warm two commits later"
    );
    db.commit(txn, 3).expect("commit");

    let mut txn = db.begin();
    let started = snapshot_gets(&db);
    assert_eq!(txn.entry(b"s", a), Some(fields(b"v")));
    assert_eq!(
        snapshot_gets(&db) - started,
        1,
        "an entry read by key is not handed on"
    );
    // The stream's end deletes its groups and pending records by range; a group written after
    // it in the same txn is a write like any other.
    txn.delete_stream(b"s");
    txn.put_group(b"s", b"h", &GroupMeta::default());
    db.commit(txn, 4).expect("commit");

    let txn = db.begin();
    let started = snapshot_gets(&db);
    assert_eq!(txn.group(b"s", b"g"), None);
    assert_eq!(txn.pending(b"s", b"g", b), None);
    assert_eq!(
        snapshot_gets(&db) - started,
        2,
        "a range delete forgets its families"
    );
    assert_eq!(txn.group(b"s", b"h"), Some(GroupMeta::default()));
    assert_eq!(
        snapshot_gets(&db) - started,
        2,
        "a write after the range delete is handed on"
    );
    drop(txn);

    // A write txn begun while another holds the warm records starts cold.
    let mut txn = db.begin();
    txn.put_stream(b"u", &meta(1));
    db.commit(txn, 5).expect("commit");
    let first = db.begin();
    let second = db.begin();
    let started = snapshot_gets(&db);
    assert_eq!(second.stream(b"u"), Some(meta(1)));
    assert_eq!(snapshot_gets(&db) - started, 1, "the first txn took them");
    assert_eq!(first.stream(b"u"), Some(meta(1)));
    assert_eq!(snapshot_gets(&db) - started, 1, "the first txn has them");
    drop((first, second));

    // So does one whose snapshot is not at the index the records hold at.
    let mut txn = db.begin();
    txn.put_stream(b"u", &meta(3));
    db.commit(txn, 6).expect("commit");
    let applied_around_the_commits = |index| {
        db.rocks()
            .put_cf(
                db.handle(Cf::Node),
                node::APPLIED_INDEX_KEY,
                node::encode_applied_index(index),
            )
            .expect("raw put");
    };
    applied_around_the_commits(7);
    let txn = db.begin();
    assert_eq!(txn.applied_index(), 7);
    let started = snapshot_gets(&db);
    assert_eq!(txn.stream(b"u"), Some(meta(3)));
    assert_eq!(
        snapshot_gets(&db) - started,
        1,
        "records of index 6 are not used"
    );
    drop(txn);
    applied_around_the_commits(6);

    // The node family (the applied index, read by every txn as it begins) is not handed on:
    // the commit writes it around the overlay.
    let mut txn = db.begin();
    txn.put_stream(b"v", &meta(1));
    db.commit(txn, 8).expect("commit");
    let warm = db.take_warm(8).expect("handed on");
    assert_eq!(warm.get(Cf::Node, &node::APPLIED_INDEX_KEY), None);
    assert!(warm.get(Cf::Streams, &streams::key(b"v")).is_some());

    // An image replaces the state under the warm records: they go.
    let (_other_dir, other) = temp_db();
    let mut txn = other.begin();
    txn.put_stream(b"u", &meta(9));
    other.commit(txn, 9).expect("commit");
    let (_, image) = other.export_state().expect("export");
    let mut txn = db.begin();
    txn.put_stream(b"u", &meta(2));
    db.commit(txn, 9).expect("commit");
    db.import_state(&image).expect("import");
    let txn = db.begin();
    assert_eq!(txn.applied_index(), 9, "the same index as the commit's");
    assert_eq!(
        txn.stream(b"u"),
        Some(meta(9)),
        "the image's, not the commit's"
    );
}

/// A commit that leaves more than `WARM_BYTES_MAX` hands on nothing: the next txn has room
/// for its own reads.
#[test]
fn a_commit_hands_on_at_most_its_bound() {
    use crate::read_cache::{RECORD_OVERHEAD_BYTES, WARM_BYTES_MAX};
    let (_dir, db) = temp_db();
    let groups = |n: u32| (0..n).map(|i| format!("g{i}").into_bytes());
    let meta = GroupMeta::default();
    let mut txn = db.begin();
    for group in groups(8) {
        txn.put_group(b"s", &group, &meta);
    }
    db.commit(txn, 1).expect("commit");
    let txn = db.begin();
    let started = snapshot_gets(&db);
    for group in groups(8) {
        assert_eq!(txn.group(b"s", &group).as_ref(), Some(&meta));
    }
    assert_eq!(
        snapshot_gets(&db) - started,
        0,
        "eight groups are handed on"
    );
    drop(txn);

    // Enough groups to pass the bound: each is charged more than its overhead.
    let many = (WARM_BYTES_MAX / RECORD_OVERHEAD_BYTES) as u32 + 1;
    let mut txn = db.begin();
    for group in groups(many) {
        txn.put_group(b"s", &group, &meta);
    }
    db.commit(txn, 2).expect("commit");
    let txn = db.begin();
    let started = snapshot_gets(&db);
    assert_eq!(txn.group(b"s", b"g0").as_ref(), Some(&meta));
    assert_eq!(snapshot_gets(&db) - started, 1, "nothing was handed on");
}

/// In tests every answer the read cache gives is checked against the snapshot: a write that
/// went around the commits would be caught at the next read of its record.
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "the read cache holds another value than the snapshot")]
fn a_warm_record_that_is_not_the_snapshot_s_is_caught() {
    let (_dir, db) = temp_db();
    let mut txn = db.begin();
    txn.put_stream(b"s", &meta(1));
    db.commit(txn, 1).expect("commit");
    let key = streams::key(b"s");
    db.rocks()
        .put_cf(db.handle(Cf::Streams), key, streams::encode_value(&meta(2)))
        .expect("put");
    let txn = db.begin();
    txn.stream(b"s");
}

/// The cascades use range deletes; records of a neighbouring stream (`a` vs `a\0`) or group
/// must survive them, in the overlay and on disk.
#[test]
fn cascading_deletes_spare_prefix_neighbours() {
    let (_dir, db) = temp_db();
    let mut txn = db.begin();
    let pending = PendingEntry::held(b"c", 1, 1);
    for key in [&b"a"[..], b"a\0"] {
        for group in [&b"g"[..], b"g\0"] {
            txn.put_group(key, group, &GroupMeta::default());
            txn.put_pending(key, group, StreamId::new(1, 0), None, &pending);
        }
    }
    db.commit(txn, 1).expect("commit");
    let mut txn = db.begin();
    txn.delete_stream(b"a");
    txn.delete_group(b"a\0", b"g");
    assert_eq!(txn.groups(b"a"), vec![]);
    assert_eq!(
        txn.groups(b"a\0"),
        vec![(b"g\0".to_vec(), GroupMeta::default())]
    );
    db.commit(txn, 2).expect("commit");
    let view = db.read();
    assert_eq!(
        view.groups(b"a\0"),
        vec![(b"g\0".to_vec(), GroupMeta::default())]
    );
    assert_eq!(
        view.pending(b"a\0", b"g\0", StreamId::new(1, 0)),
        Some(pending)
    );
    assert_eq!(
        view.consumer_pending_range(b"a\0", b"g\0", b"c", StreamId::MIN, StreamId::MAX, 9),
        vec![StreamId::new(1, 0)]
    );
    assert_eq!(view.pending(b"a\0", b"g", StreamId::new(1, 0)), None);
}

/// Readers on other threads see whole commits only: a stream's length always matches its
/// entries, although the writer changes both in every commit.
#[test]
fn concurrent_readers_see_whole_commits() {
    let (_dir, db) = temp_db();
    let db = Arc::new(db);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let view = db.read();
                    let length = view.stream(b"s").map_or(0, |m| m.length);
                    let entries =
                        view.entries(b"s", StreamId::MIN, StreamId::MAX, false, usize::MAX);
                    assert_eq!(entries.len() as u64, length);
                    assert_eq!(view.applied_index(), length);
                }
            })
        })
        .collect();
    for index in 1..=100u64 {
        let mut txn = db.begin();
        txn.put_entry(b"s", StreamId::new(index, 0), &fields(b"v"));
        txn.put_stream(b"s", &meta(index));
        db.commit(txn, index).expect("commit");
    }
    for reader in readers {
        reader.join().expect("reader thread");
    }
}

#[test]
fn digest_covers_state_only_and_is_pinned() {
    let (_dir, db) = temp_db();
    let empty = db.digest().expect("digest");
    db.commit(db.begin(), 1).expect("commit");
    assert_eq!(db.digest(), Ok(empty), "applied index is not state");

    let mut txn = db.begin();
    txn.put_stream(b"s", &meta(1));
    txn.put_entry(b"s", StreamId::new(1, 0), &fields(b"v"));
    db.commit(txn, 2).expect("commit");
    let one = db.digest().expect("digest");
    assert_ne!(one, empty);
    // Pinned (and reproduced by hand from the layouts in `cf/`): a change here means the
    // on-disk format or the hash changed, and replicas on both sides of it cannot be compared.
    assert_eq!((empty, one), (0xec9d_5dd0_0d3f_1a94, 0xdc27_eb20_ca05_1757));

    let mut txn = db.begin();
    txn.put_entry(b"s", StreamId::new(1, 0), &fields(b"w"));
    db.commit(txn, 3).expect("commit");
    assert_ne!(db.digest(), Ok(one));
}

/// A store written before the lowest-pending-id records existed (format 1: no format record,
/// no such records), or before the delivery order (format 2), gets them when opened, so its
/// pending entries are served as before. A store that kept every group's delivery order
/// (format 3) drops it, whether or not anything is pending (what a node holds must not depend
/// on where it stopped); the order is still served, sorted.
#[test]
fn a_store_from_an_older_format_is_upgraded_on_open() {
    for format in [1, 2, 3] {
        upgraded_on_open(format);
    }
}

fn upgraded_on_open(format: u32) {
    use crate::cf::pel_by_delivery;
    use crate::cf::{format, pending_first, KeyTag};

    let dir = tempfile::tempdir().expect("temp dir");
    let options = DbOptions::default();
    let pending = |consumer: &[u8], delivery_ms: u64| PendingEntry::held(consumer, delivery_ms, 1);
    {
        let db = Db::open(dir.path(), &options).expect("open");
        let mut txn = db.begin();
        txn.put_stream(b"s", &meta(0));
        txn.put_group(b"s", b"g", &GroupMeta::default());
        txn.keep_delivery_order(b"s", b"g");
        for (seq, consumer, ms) in [(3, &b"a"[..], 4), (1, b"b", 9), (2, b"a", 5)] {
            txn.put_pending(
                b"s",
                b"g",
                StreamId::new(1, seq),
                None,
                &pending(consumer, ms),
            );
        }
        db.commit(txn, 1).expect("commit");
        // Make it look like format 1, 2 or 3: none of the later records.
        let rocks = db.rocks();
        let mut dropped = vec![(Cf::Groups, KeyTag::DeliveryOrdered)];
        if format < 3 {
            dropped.push((Cf::Pel, KeyTag::PendingByDelivery));
            dropped.push((Cf::Pel, KeyTag::DeliveryFirst));
        }
        if format < 2 {
            dropped.push((Cf::Pel, KeyTag::GroupPendingFirst));
            dropped.push((Cf::ConsumerPel, KeyTag::ConsumerPendingFirst));
        }
        for (cf, tag) in dropped {
            rocks
                .delete_range_cf(db.handle(cf), [tag as u8], [tag as u8 + 1])
                .expect("drop the records");
        }
        if format >= 2 {
            rocks
                .put_cf(
                    db.handle(Cf::RaftMeta),
                    format::KEY,
                    format::encode_value(format),
                )
                .expect("write the format");
        } else {
            rocks
                .delete_cf(db.handle(Cf::RaftMeta), format::KEY)
                .expect("drop the format record");
            assert!(db
                .read()
                .pending_range(b"s", b"g", StreamId::MIN, StreamId::MAX, 9)
                .is_empty());
        }
    }
    let db = Db::open(dir.path(), &options).expect("reopen");
    let view = db.read();
    let ids = |found: Vec<StreamId>| found.iter().map(|id| id.seq).collect::<Vec<_>>();
    let all = view.pending_range(b"s", b"g", StreamId::MIN, StreamId::MAX, 9);
    assert_eq!(ids(all.iter().map(|(id, _)| *id).collect()), [1, 2, 3]);
    let of_a = view.consumer_pending_range(b"s", b"g", b"a", StreamId::MIN, StreamId::MAX, 9);
    assert_eq!(ids(of_a), [2, 3]);
    let mut by_delivery = Vec::new();
    view.visit_pending_by_delivery(b"s", b"g", &mut |ms, id| {
        by_delivery.push((ms, id.seq));
        true
    });
    assert_eq!(by_delivery, [(4, 3), (5, 2), (9, 1)]);
    let raw = |cf: Cf, key: Vec<u8>| db.rocks().get_cf(db.handle(cf), key).expect("get");
    assert_eq!(
        raw(Cf::Pel, pending_first::group_key(b"s", b"g")),
        Some(pending_first::encode_value(StreamId::new(1, 1)))
    );
    // No store keeps a delivery order (`dump` finds no delivery record of an unordered group).
    assert_eq!(raw(Cf::Pel, pel_by_delivery::first_key(b"s", b"g")), None);
    assert_eq!(
        raw(Cf::Groups, pel_by_delivery::ordered_key(b"s", b"g")),
        None,
        "format {format}"
    );
    assert_eq!(
        raw(Cf::RaftMeta, format::KEY.to_vec()),
        Some(format::encode_value(format::CURRENT))
    );
    drop(view);
    crate::tests::dump(&db);
}

/// The write-ahead log is written over once a file is obsolete (`db::WAL_FILES_RECYCLED`):
/// after two switches the live file is the first one renamed, still as long as what the first
/// held, although little was written to it since.
#[test]
fn an_obsolete_write_ahead_log_file_is_written_over() {
    let (dir, db) = temp_db();
    let limits = rill_core::Limits::default();
    let mut applied = 0;
    let mut xadd = |value: &[u8]| {
        applied += 1;
        let argv = [&b"XADD"[..], b"s", b"*", b"f", value].map(<[u8]>::to_vec);
        let command = match rill_core::parse(&argv) {
            Some(Ok(command)) => command,
            other => panic!("not a command: {other:?}"),
        };
        let mut txn = db.begin();
        rill_core::execute(&mut txn, &command, applied, &limits);
        db.commit(txn, applied).expect("commit");
    };
    let live_log = || {
        let mut logs: Vec<(String, u64)> = std::fs::read_dir(dir.path())
            .expect("list the store")
            .map(|entry| entry.expect("a directory entry"))
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".log"))
            .map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                (name, entry.metadata().expect("metadata").len())
            })
            .collect();
        logs.sort();
        logs.pop().expect("a write-ahead log file")
    };
    let big = vec![b'x'; 64 << 10];
    for _ in 0..32 {
        xadd(&big);
    }
    let (first, first_len) = live_log();
    assert!(first_len >= 2 << 20, "{first}: {first_len} bytes");
    db.flush_memtables();
    xadd(b"small");
    db.flush_memtables();
    xadd(b"small");
    let (live, live_len) = live_log();
    assert_ne!(live, first);
    assert!(
        live_len >= first_len,
        "{live} ({live_len} bytes) is a new file, not {first} ({first_len} bytes) written over"
    );
}
