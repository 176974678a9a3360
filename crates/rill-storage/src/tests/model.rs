//! Model-based checking: random `Store` operations applied to a `Txn` and to `MemStore`, with
//! commits at random points, so reads are answered from the overlay only, from the snapshot
//! only, and from both merged. After every operation every read method must agree with the
//! model; at the end the raw column families must hold exactly the model's records.

use proptest::prelude::*;
use rill_core::{
    ConsumerMeta, Fields, GroupMeta, IdmpMeta, IdmpRecord, MemStore, PendingEntry, ProducerState,
    Store, StreamId, StreamMeta,
};

use super::{dump, load, proptest_config, temp_db};
use crate::db::Db;

/// Small name sets with the prefix confusions a layout must survive (`a` / `a\0` / `ab`).
const KEYS: [&[u8]; 5] = [b"", b"a", b"a\0", b"ab", b"b"];
const GROUPS: [&[u8]; 3] = [b"g", b"g\0", b"h"];
const CONSUMERS: [&[u8]; 3] = [b"", b"c", b"c\0"];

#[derive(Clone, Debug)]
enum Op {
    PutStream(usize, StreamMeta),
    DeleteStream(usize),
    PutEntry(usize, StreamId, Fields),
    DeleteEntry(usize, StreamId),
    /// Everything below the ID (everything when `None`), as a trim does.
    DeleteEntriesBelow(usize, Option<StreamId>),
    PutGroup(usize, usize, GroupMeta),
    DeleteGroup(usize, usize),
    PutConsumer(usize, usize, usize, ConsumerMeta),
    DeleteConsumer(usize, usize, usize),
    /// The consumer index is the new owner; an existing entry may change owner.
    PutPending(usize, usize, StreamId, usize, u64),
    DeletePending(usize, usize, StreamId),
    StreamKeys(Option<usize>, usize),
    Entries(usize, StreamId, StreamId, bool, usize),
    /// `visit_entry_ids`, stopped after `usize` IDs.
    EntryIds(usize, StreamId, StreamId, bool, usize),
    PendingRange(usize, usize, StreamId, StreamId, usize),
    ConsumerPendingRange(usize, usize, usize, StreamId, StreamId, usize),
    /// Producer index, last sequence, touched time.
    PutProducer(usize, u64, u64),
    DeleteProducer(usize),
    /// Stream, producer, iid index, ID: remembered when the iid is new and the ID newest.
    PutIdmp(usize, usize, usize, StreamId),
    /// Forgets the oldest remembered iid of the stream, or of one producer.
    ForgetOldestIdmp(usize, Option<usize>),
    ClearIdmp(usize),
    PutIdmpMeta(usize, u64),
    Commit,
}

const IIDS: [&[u8]; 3] = [b"", b"i", b"i\0"];

const PRODUCERS: [&[u8]; 3] = [b"p", b"p\0", b"q"];

fn id() -> impl Strategy<Value = StreamId> {
    prop_oneof![
        8 => (0u64..3, 0u64..3).prop_map(|(ms, seq)| StreamId::new(ms, seq)),
        1 => Just(StreamId::MIN),
        1 => Just(StreamId::MAX),
    ]
}

fn limit() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..4, Just(usize::MAX)]
}

fn fields() -> impl Strategy<Value = Fields> {
    let bytes = prop::collection::vec(any::<u8>(), 0..3);
    prop::collection::vec((bytes.clone(), bytes), 0..3)
}

/// Records with `length >= 1` and `first_id` 0-0: a `Txn` starts entry scans at a stream's
/// first ID (or above its last ID when empty), which holds for the engine's records; these
/// random ones keep every entry visible so the test checks storage, not the engine.
fn stream_meta() -> impl Strategy<Value = StreamMeta> {
    (1u64..10, id(), any::<u64>()).prop_map(|(length, last_id, entries_added)| StreamMeta {
        length,
        last_id,
        entries_added,
        ..StreamMeta::default()
    })
}

fn group_meta() -> impl Strategy<Value = GroupMeta> {
    (
        id(),
        prop::option::of(0u64..10),
        0u64..10,
        0u64..3,
        prop::option::of(id()),
    )
        .prop_map(
            |(last_delivered_id, entries_read, pending_count, nacked_count, pending_max)| {
                GroupMeta {
                    last_delivered_id,
                    entries_read,
                    pending_count,
                    nacked_count,
                    pending_max,
                }
            },
        )
}

fn consumer_meta() -> impl Strategy<Value = ConsumerMeta> {
    (0u64..10, prop::option::of(0u64..10), 0u64..10).prop_map(
        |(seen_ms, active_ms, pending_count)| ConsumerMeta {
            seen_ms,
            active_ms,
            pending_count,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    let (k, g, c) = (0..KEYS.len(), 0..GROUPS.len(), 0..CONSUMERS.len());
    prop_oneof![
        3 => (k.clone(), stream_meta()).prop_map(|(k, m)| Op::PutStream(k, m)),
        1 => k.clone().prop_map(Op::DeleteStream),
        6 => (k.clone(), id(), fields()).prop_map(|(k, id, f)| Op::PutEntry(k, id, f)),
        2 => (k.clone(), id()).prop_map(|(k, id)| Op::DeleteEntry(k, id)),
        1 => (k.clone(), prop::option::of(id())).prop_map(|(k, id)| Op::DeleteEntriesBelow(k, id)),
        3 => (k.clone(), g.clone(), group_meta()).prop_map(|(k, g, m)| Op::PutGroup(k, g, m)),
        1 => (k.clone(), g.clone()).prop_map(|(k, g)| Op::DeleteGroup(k, g)),
        3 => (k.clone(), g.clone(), c.clone(), consumer_meta()).prop_map(|(k, g, c, m)| Op::PutConsumer(k, g, c, m)),
        1 => (k.clone(), g.clone(), c.clone()).prop_map(|(k, g, c)| Op::DeleteConsumer(k, g, c)),
        6 => (k.clone(), g.clone(), id(), c.clone(), 0u64..5).prop_map(|(k, g, id, c, n)| Op::PutPending(k, g, id, c, n)),
        2 => (k.clone(), g.clone(), id()).prop_map(|(k, g, id)| Op::DeletePending(k, g, id)),
        1 => (prop::option::of(k.clone()), limit()).prop_map(|(a, l)| Op::StreamKeys(a, l)),
        2 => (k.clone(), id(), id(), any::<bool>(), limit()).prop_map(|(k, s, e, r, l)| Op::Entries(k, s, e, r, l)),
        1 => (k.clone(), id(), id(), any::<bool>(), limit()).prop_map(|(k, s, e, r, l)| Op::EntryIds(k, s, e, r, l)),
        1 => (k.clone(), g.clone(), id(), id(), limit()).prop_map(|(k, g, s, e, l)| Op::PendingRange(k, g, s, e, l)),
        1 => (k.clone(), g, c, id(), id(), limit()).prop_map(|(k, g, c, s, e, l)| Op::ConsumerPendingRange(k, g, c, s, e, l)),
        3 => (0..PRODUCERS.len(), 0u64..4, 0u64..4).prop_map(|(p, seq, ms)| Op::PutProducer(p, seq, ms)),
        1 => (0..PRODUCERS.len()).prop_map(Op::DeleteProducer),
        3 => (k.clone(), 0..PRODUCERS.len(), 0..IIDS.len(), id()).prop_map(|(k, p, i, id)| Op::PutIdmp(k, p, i, id)),
        1 => (k.clone(), prop::option::of(0..PRODUCERS.len())).prop_map(|(k, p)| Op::ForgetOldestIdmp(k, p)),
        1 => k.clone().prop_map(Op::ClearIdmp),
        1 => (k.clone(), 0u64..5).prop_map(|(k, n)| Op::PutIdmpMeta(k, n)),
        2 => Just(Op::Commit),
    ]
}

/// Applies a write to `store`, or compares a ranged read with the model. `Commit` is handled
/// by the caller.
fn apply(store: &mut impl Store, model: &mut MemStore, op: &Op) {
    match *op {
        Op::PutStream(k, ref meta) => both(store, model, |s| s.put_stream(KEYS[k], meta)),
        Op::DeleteStream(k) => both(store, model, |s| s.delete_stream(KEYS[k])),
        Op::PutEntry(k, id, ref fields) => both(store, model, |s| s.put_entry(KEYS[k], id, fields)),
        Op::DeleteEntry(k, id) => both(store, model, |s| s.delete_entry(KEYS[k], id)),
        Op::DeleteEntriesBelow(k, below) => {
            let end = below.and_then(StreamId::prev);
            let count = match (below, end) {
                (Some(_), None) => 0,
                _ => model
                    .entries(
                        KEYS[k],
                        StreamId::MIN,
                        end.unwrap_or(StreamId::MAX),
                        false,
                        usize::MAX,
                    )
                    .len() as u64,
            };
            both(store, model, |s| {
                s.delete_entries_below(KEYS[k], below, count)
            });
        }
        Op::PutGroup(k, g, ref meta) => {
            both(store, model, |s| s.put_group(KEYS[k], GROUPS[g], meta))
        }
        Op::DeleteGroup(k, g) => both(store, model, |s| s.delete_group(KEYS[k], GROUPS[g])),
        Op::PutConsumer(k, g, c, ref meta) => both(store, model, |s| {
            s.put_consumer(KEYS[k], GROUPS[g], CONSUMERS[c], meta)
        }),
        Op::DeleteConsumer(k, g, c) => both(store, model, |s| {
            s.delete_consumer(KEYS[k], GROUPS[g], CONSUMERS[c])
        }),
        Op::PutPending(k, g, id, c, count) => {
            // Every third is released (XNACK): held by no consumer, in no consumer's index.
            let entry = if count % 3 == 0 {
                PendingEntry::released(count)
            } else {
                PendingEntry::held(CONSUMERS[c], count * 10, count)
            };
            let old = model.pending(KEYS[k], GROUPS[g], id);
            both(store, model, |s| {
                s.put_pending(KEYS[k], GROUPS[g], id, old.as_ref(), &entry)
            });
        }
        Op::DeletePending(k, g, id) => {
            if let Some(old) = model.pending(KEYS[k], GROUPS[g], id) {
                both(store, model, |s| {
                    s.delete_pending(KEYS[k], GROUPS[g], id, &old)
                })
            }
        }
        Op::PutProducer(p, last_seq, touched_ms) => {
            let state = ProducerState {
                last_seq,
                last_id: StreamId::new(last_seq, 1),
                touched_ms,
            };
            both(store, model, |s| s.put_producer(PRODUCERS[p], &state));
        }
        Op::DeleteProducer(p) => both(store, model, |s| s.delete_producer(PRODUCERS[p])),
        Op::PutIdmp(k, p, i, id) => {
            let (key, pid, iid) = (KEYS[k], PRODUCERS[p], IIDS[i]);
            let newest = model.idmp_records(key, usize::MAX).last().map(|r| r.id);
            if model.idmp_id(key, pid, iid).is_none() && newest.is_none_or(|n| n < id) {
                let record = IdmpRecord {
                    id,
                    pid: pid.to_vec(),
                    iid: iid.to_vec(),
                };
                both(store, model, |s| s.put_idmp(key, &record));
            }
        }
        Op::ForgetOldestIdmp(k, p) => {
            let pid = p.map(|p| PRODUCERS[p]);
            let oldest = model.oldest_idmp(KEYS[k], pid);
            assert_eq!(store.oldest_idmp(KEYS[k], pid), oldest, "{op:?}");
            if let Some(record) = oldest {
                both(store, model, |s| s.delete_idmp(KEYS[k], &record));
            }
        }
        Op::ClearIdmp(k) => both(store, model, |s| s.clear_idmp(KEYS[k])),
        Op::PutIdmpMeta(k, n) => {
            let meta = IdmpMeta {
                duration_s: n,
                iids_added: n + 1,
                ..IdmpMeta::default()
            };
            both(store, model, |s| s.put_idmp_meta(KEYS[k], &meta));
        }
        _ => compare_ranged_read(store, model, op),
    }
}

fn both<S: Store>(store: &mut S, model: &mut MemStore, write: impl Fn(&mut dyn Store)) {
    write(store);
    write(model);
}

fn compare_ranged_read(store: &impl Store, model: &MemStore, op: &Op) {
    match *op {
        Op::StreamKeys(after, limit) => {
            let after = after.map(|k| KEYS[k]);
            assert_eq!(
                store.stream_keys(after, limit),
                model.stream_keys(after, limit),
                "{op:?}"
            );
        }
        Op::Entries(k, start, end, rev, limit) => {
            let got = store.entries(KEYS[k], start, end, rev, limit);
            assert_eq!(
                got,
                model.entries(KEYS[k], start, end, rev, limit),
                "{op:?}"
            );
            // The same read under a byte bound that cuts it somewhere.
            let bytes_max = limit.saturating_mul(40);
            let within = store.entries_within(KEYS[k], start, end, rev, limit, bytes_max);
            assert_eq!(
                within,
                model.entries_within(KEYS[k], start, end, rev, limit, bytes_max),
                "{op:?} within {bytes_max} bytes"
            );
            assert!(
                within.len() <= got.len() && got.starts_with(&within),
                "{op:?}"
            );
            // Everything but the last entry read is within the bound: the read stops there.
            let before_last: usize = within
                .iter()
                .rev()
                .skip(1)
                .map(|(_, f)| rill_core::store::entry_reply_bytes(f))
                .sum();
            assert!(before_last <= bytes_max, "{op:?}");
        }
        Op::EntryIds(k, start, end, rev, limit) => {
            let ids = |s: &dyn Store| {
                let mut out = Vec::new();
                s.visit_entry_ids(KEYS[k], start, end, rev, &mut |id| {
                    out.push(id);
                    out.len() < limit
                });
                out
            };
            assert_eq!(ids(store), ids(model), "{op:?}");
        }
        Op::PendingRange(k, g, start, end, limit) => {
            let got = store.pending_range(KEYS[k], GROUPS[g], start, end, limit);
            assert_eq!(
                got,
                model.pending_range(KEYS[k], GROUPS[g], start, end, limit),
                "{op:?}"
            );
        }
        Op::ConsumerPendingRange(k, g, c, start, end, limit) => {
            let (key, group, consumer) = (KEYS[k], GROUPS[g], CONSUMERS[c]);
            let got = store.consumer_pending_range(key, group, consumer, start, end, limit);
            assert_eq!(
                got,
                model.consumer_pending_range(key, group, consumer, start, end, limit),
                "{op:?}"
            );
        }
        _ => unreachable!("not a ranged read: {op:?}"),
    }
}

/// Every ID the generators can produce, plus one they never write.
fn all_ids() -> Vec<StreamId> {
    let mut ids: Vec<StreamId> = (0..3)
        .flat_map(|ms| (0..3).map(move |seq| StreamId::new(ms, seq)))
        .collect();
    ids.extend([StreamId::MAX, StreamId::new(7, 7)]);
    ids
}

/// Compares every read method over the whole name and ID domain.
fn compare_all_reads(store: &impl Store, model: &MemStore) {
    assert_eq!(store.producer_count(), model.producer_count());
    for before in 0..6 {
        for limit in [1, usize::MAX] {
            assert_eq!(
                store.idle_producers(before, limit),
                model.idle_producers(before, limit),
                "idle before {before}"
            );
        }
    }
    for producer in PRODUCERS {
        assert_eq!(store.producer(producer), model.producer(producer));
    }
    assert_eq!(
        store.stream_keys(None, usize::MAX),
        model.stream_keys(None, usize::MAX)
    );
    for key in KEYS {
        assert_eq!(
            store.stream_keys(Some(key), 2),
            model.stream_keys(Some(key), 2),
            "after {key:?}"
        );
        compare_stream_reads(store, model, key);
        assert_eq!(store.idmp_meta(key), model.idmp_meta(key), "{key:?}");
        for limit in [1, usize::MAX] {
            assert_eq!(
                store.idmp_records(key, limit),
                model.idmp_records(key, limit)
            );
        }
        assert_eq!(store.oldest_idmp(key, None), model.oldest_idmp(key, None));
        for pid in PRODUCERS {
            assert_eq!(store.idmp_count(key, pid), model.idmp_count(key, pid));
            assert_eq!(
                store.oldest_idmp(key, Some(pid)),
                model.oldest_idmp(key, Some(pid))
            );
            for iid in IIDS {
                assert_eq!(store.idmp_id(key, pid, iid), model.idmp_id(key, pid, iid));
            }
        }
        for group in GROUPS {
            compare_group_reads(store, model, key, group);
        }
    }
}

fn compare_stream_reads(store: &impl Store, model: &MemStore, key: &[u8]) {
    let (min, max) = (StreamId::MIN, StreamId::MAX);
    assert_eq!(store.stream(key), model.stream(key), "stream {key:?}");
    assert_eq!(
        store.entries(key, min, max, false, usize::MAX),
        model.entries(key, min, max, false, usize::MAX)
    );
    assert_eq!(
        store.entries(key, min, max, true, usize::MAX),
        model.entries(key, min, max, true, usize::MAX)
    );
    assert_eq!(store.groups(key), model.groups(key), "groups of {key:?}");
    for id in all_ids() {
        assert_eq!(
            store.entry(key, id),
            model.entry(key, id),
            "entry {key:?} {id}"
        );
    }
}

fn compare_group_reads(store: &impl Store, model: &MemStore, key: &[u8], group: &[u8]) {
    assert_eq!(
        store.last_pending(key, group),
        model.last_pending(key, group),
        "last pending of {key:?}/{group:?}"
    );
    let (min, max) = (StreamId::MIN, StreamId::MAX);
    assert_eq!(
        store.group(key, group),
        model.group(key, group),
        "group {key:?} {group:?}"
    );
    assert_eq!(
        store.consumers(key, group),
        model.consumers(key, group),
        "consumers {key:?} {group:?}"
    );
    let pending = store.pending_range(key, group, min, max, usize::MAX);
    assert_eq!(
        pending,
        model.pending_range(key, group, min, max, usize::MAX),
        "pel {key:?} {group:?}"
    );
    for id in all_ids() {
        assert_eq!(
            store.pending(key, group, id),
            model.pending(key, group, id),
            "pending {key:?} {group:?} {id}"
        );
    }
    for consumer in CONSUMERS {
        assert_eq!(
            store.consumer(key, group, consumer),
            model.consumer(key, group, consumer)
        );
        let got = store.consumer_pending_range(key, group, consumer, min, max, usize::MAX);
        assert_eq!(
            got,
            model.consumer_pending_range(key, group, consumer, min, max, usize::MAX)
        );
    }
}

/// Sets every group's and consumer's pending count to the entries it holds, in both, as the
/// engine leaves them after every command (`rill_core::check_invariants`). The operations
/// write counts at random; a commit may rely on them (`StaleFirst::find_at_commit` does not
/// scan a scope counted empty for its first pending ID), so they are settled before each.
fn settle_counts(store: &mut impl Store, model: &mut MemStore) {
    for key in KEYS {
        for (group, mut meta) in model.groups(key) {
            let pending =
                model.pending_range(key, &group, StreamId::MIN, StreamId::MAX, usize::MAX);
            if meta.pending_count != pending.len() as u64 {
                meta.pending_count = pending.len() as u64;
                both(store, model, |s| s.put_group(key, &group, &meta));
            }
            for (consumer, mut meta) in model.consumers(key, &group) {
                let held = pending
                    .iter()
                    .filter(|(_, entry)| entry.owner() == Some(consumer.as_slice()))
                    .count() as u64;
                if meta.pending_count != held {
                    meta.pending_count = held;
                    both(store, model, |s| {
                        s.put_consumer(key, &group, &consumer, &meta)
                    });
                }
            }
        }
    }
}

/// Runs `ops` against a fresh store and the model, committing at every `Commit` and at the end.
fn run(ops: &[Op]) -> (tempfile::TempDir, Db, MemStore) {
    let (dir, db) = temp_db();
    let mut model = MemStore::new();
    let mut applied_index = 0;
    let mut txn = db.begin();
    for op in ops {
        if let Op::Commit = op {
            applied_index += 1;
            settle_counts(&mut txn, &mut model);
            db.commit(txn, applied_index).expect("commit");
            compare_all_reads(&db.read(), &model);
            txn = db.begin();
        } else {
            apply(&mut txn, &mut model, op);
        }
        compare_all_reads(&txn, &model);
        assert_eq!(txn.status(), Ok(()));
    }
    settle_counts(&mut txn, &mut model);
    db.commit(txn, applied_index + 1).expect("final commit");
    (dir, db, model)
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn txn_matches_mem_store(ops in prop::collection::vec(op(), 1..60)) {
        let (_dir, db, model) = run(&ops);
        compare_all_reads(&db.read(), &model);
        prop_assert_eq!(dump(&db), model.clone());

        // Equal states digest equally, whatever history (range deletes, tombstones) made them.
        let (_fresh_dir, fresh) = temp_db();
        let mut txn = fresh.begin();
        load(&mut txn, &model);
        fresh.commit(txn, 1).expect("commit");
        prop_assert_eq!(dump(&fresh), model);
        prop_assert_eq!(db.digest().expect("digest"), fresh.digest().expect("digest"));
    }
}
