//! Tests over the whole store: model-based checking against `rill_core::MemStore`, and the
//! commit, reopen, failure and concurrency paths of `Db`.

mod db;
mod history;
mod memtable;
mod model;
mod replication;

use rill_core::{MemStore, Store};
use rocksdb::IteratorMode;

use std::collections::{BTreeMap, BTreeSet};

use rill_core::StreamId;

use crate::cf::pel_by_delivery::{self, Delivery};
use crate::cf::{
    consumer_pel, consumers, entries, groups, pel, pending_first, producers, streams, versions, Cf,
    KeyTag,
};
use crate::db::{Db, DbOptions};

/// Cases per property test that opens a store (each case opens one): 64 by default, more with
/// `PROPTEST_CASES=N` for a longer hunt.
pub(crate) fn proptest_config() -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    proptest::test_runner::Config {
        cases,
        ..proptest::test_runner::Config::default()
    }
}

/// A store in a fresh temporary directory (removed on drop). No fsync: tests need no durability
/// across machine crashes, and reopen tests close the store cleanly.
pub(crate) fn temp_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let db = Db::open(
        dir.path(),
        &DbOptions {
            sync: false,
            ..DbOptions::default()
        },
    )
    .expect("open store");
    (dir, db)
}

/// Every record of one column family straight from RocksDB, bypassing `Txn`.
pub(crate) fn raw_records(db: &Db, cf: Cf) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.rocks()
        .iterator_cf(db.handle(cf), IteratorMode::Start)
        .map(|item| {
            item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .expect("iterate")
        })
        .collect()
}

/// How many records of `cf` have keys tagged `tag`.
pub(crate) fn tagged_count(db: &Db, cf: Cf, tag: KeyTag) -> usize {
    raw_records(db, cf)
        .iter()
        .filter(|(key, _)| key.first() == Some(&(tag as u8)))
        .count()
}

/// The committed state decoded from the raw column families: catches leftovers a cascade
/// missed, which no `Store` read would show.
pub(crate) fn dump(db: &Db) -> MemStore {
    let mut out = MemStore::new();
    for (k, v) in raw_records(db, Cf::Streams) {
        if k.first() == Some(&(KeyTag::KeyVersion as u8)) {
            let stream = versions::decode_key(&k).expect("key").to_vec();
            out.versions
                .insert(stream, versions::decode_value(&v).expect("value"));
            continue;
        }
        if k == versions::COUNTER_KEY {
            out.version_counter = versions::decode_value(&v).expect("value");
            continue;
        }
        out.streams.insert(
            streams::decode_key(&k).expect("key").to_vec(),
            streams::decode_value(&v).expect("value"),
        );
    }
    for (k, v) in raw_records(db, Cf::Entries) {
        let (s, id) = entries::decode_key(&k).expect("key");
        out.entries
            .insert((s.to_vec(), id), entries::decode_value(&v).expect("value"));
    }
    let mut ordered = BTreeSet::new();
    for (k, v) in raw_records(db, Cf::Groups) {
        if k.first() == Some(&(KeyTag::DeliveryOrdered as u8)) {
            let (s, g) = pel_by_delivery::decode_ordered_key(&k).expect("key");
            pel_by_delivery::decode_value(&v).expect("value");
            ordered.insert((s.to_vec(), g.to_vec()));
            continue;
        }
        let (s, g) = groups::decode_key(&k).expect("key");
        out.groups.insert(
            (s.to_vec(), g.to_vec()),
            groups::decode_value(&v).expect("value"),
        );
    }
    for (k, v) in raw_records(db, Cf::Consumers) {
        let key = consumers::decode_key(&k).expect("key");
        out.consumers.insert(
            (
                key.stream.to_vec(),
                key.group.to_vec(),
                key.consumer.to_vec(),
            ),
            consumers::decode_value(&v).expect("value"),
        );
    }
    let mut group_firsts = BTreeMap::new();
    let mut deliveries = BTreeSet::new();
    let mut delivery_firsts = BTreeMap::new();
    for (k, v) in raw_records(db, Cf::Pel) {
        if k.first() == Some(&(KeyTag::GroupPendingFirst as u8)) {
            group_firsts.insert(k, pending_first::decode_value(&v).expect("value"));
            continue;
        }
        if k.first() == Some(&(KeyTag::PendingByDelivery as u8)) {
            pel_by_delivery::decode_value(&v).expect("value");
            deliveries.insert(k);
            continue;
        }
        if k.first() == Some(&(KeyTag::DeliveryFirst as u8)) {
            delivery_firsts.insert(k, pel_by_delivery::decode_first(&v).expect("value"));
            continue;
        }
        let key = pel::decode_key(&k).expect("key");
        out.pending.insert(
            (key.stream.to_vec(), key.group.to_vec(), key.id),
            pel::decode_value(&v).expect("value"),
        );
    }
    let mut consumer_firsts = BTreeMap::new();
    for (k, v) in raw_records(db, Cf::ConsumerPel) {
        if k.first() == Some(&(KeyTag::ConsumerPendingFirst as u8)) {
            consumer_firsts.insert(k, pending_first::decode_value(&v).expect("value"));
            continue;
        }
        let key = consumer_pel::decode_key(&k).expect("key");
        consumer_pel::decode_value(&v).expect("value");
        let (s, g, c) = (
            key.stream.to_vec(),
            key.group.to_vec(),
            key.consumer.to_vec(),
        );
        out.consumer_pending.insert((s, g, c, key.id), ());
    }
    assert_eq!(
        group_firsts,
        expected_group_firsts(&out),
        "lowest pending IDs of groups"
    );
    assert_eq!(
        consumer_firsts,
        expected_consumer_firsts(&out),
        "lowest pending IDs of consumers"
    );
    for group in &ordered {
        assert!(out.groups.contains_key(group), "ordered record of no group");
    }
    let (expected_deliveries, expected_delivery_firsts) = expected_delivery_order(&out, &ordered);
    assert_eq!(deliveries, expected_deliveries, "delivery order records");
    assert_eq!(
        delivery_firsts, expected_delivery_firsts,
        "earliest deliveries of groups"
    );
    let mut count = None;
    let mut idmp_counts = IdmpCounts::new();
    for (k, v) in raw_records(db, Cf::Producers) {
        match k.first().copied() {
            Some(tag) if tag == KeyTag::Producer as u8 => {
                let state = producers::decode_value(&v).expect("value");
                out.producers.insert(k[1..].to_vec(), state);
            }
            Some(tag) if tag == KeyTag::ProducerIdle as u8 => {
                let (ms, producer) = producers::decode_idle_key(&k).expect("key");
                assert!(v.is_empty(), "index values are empty");
                out.producers_idle.insert((ms, producer.to_vec()));
            }
            Some(tag) if (KeyTag::IdmpMeta as u8..=KeyTag::IdmpCount as u8).contains(&tag) => {
                dump_idmp(&mut out, &mut idmp_counts, &k, &v);
            }
            _ => {
                assert_eq!(k, producers::COUNT_KEY, "unknown producers record");
                count = Some(producers::decode_count(&v).expect("value"));
            }
        }
    }
    assert_eq!(
        count.unwrap_or(0),
        out.producers.len() as u64,
        "producer count"
    );
    let mut records = IdmpCounts::new();
    for (stream, pid, _) in out.idmp_by_producer.keys() {
        *records.entry((stream.clone(), pid.clone())).or_default() += 1;
    }
    assert_eq!(idmp_counts, records, "IDMP producer counts");
    out
}

type IdmpCounts = BTreeMap<(Vec<u8>, Vec<u8>), u64>;

/// One IDMP record into `out`, or a producer's count into `counts`.
fn dump_idmp(out: &mut MemStore, counts: &mut IdmpCounts, key: &[u8], value: &[u8]) {
    use crate::cf::idmp;
    let (tag, stream, rest) = idmp::split_key(key).expect("IDMP key");
    let stream = stream.to_vec();
    let prefixed = |bytes: &[u8]| {
        let len = u32::from_be_bytes(bytes[..4].try_into().expect("length")) as usize;
        (bytes[4..4 + len].to_vec(), bytes[4 + len..].to_vec())
    };
    let id_of = |bytes: &[u8]| {
        let ms = u64::from_be_bytes(bytes[..8].try_into().expect("ms"));
        let seq = u64::from_be_bytes(bytes[8..16].try_into().expect("seq"));
        StreamId::new(ms, seq)
    };
    match tag {
        t if t == KeyTag::IdmpMeta as u8 => {
            out.idmp_meta
                .insert(stream, idmp::decode_meta(value).expect("value"));
        }
        t if t == KeyTag::IdmpIid as u8 => {
            let (pid, iid) = prefixed(rest);
            let id = idmp::decode_id(value).expect("value");
            out.idmp.insert((stream, pid, iid), id);
        }
        t if t == KeyTag::IdmpByProducer as u8 => {
            let (pid, id) = prefixed(rest);
            let iid = idmp::decode_iid(value).expect("value");
            out.idmp_by_producer.insert((stream, pid, id_of(&id)), iid);
        }
        t if t == KeyTag::IdmpById as u8 => {
            let record = idmp::decode_owner(id_of(rest), value).expect("value");
            out.idmp_by_id
                .insert((stream, record.id), (record.pid, record.iid));
        }
        _ => {
            let count = idmp::decode_count(value).expect("value");
            assert!(count > 0, "a zero count is removed");
            counts.insert((stream, rest.to_vec()), count);
        }
    }
}

/// The `pending_first` records of groups that `model`'s PEL implies: one per group with
/// anything pending, holding its lowest ID.
fn expected_group_firsts(model: &MemStore) -> BTreeMap<Vec<u8>, StreamId> {
    let mut out = BTreeMap::new();
    for (stream, group, id) in model.pending.keys() {
        out.entry(pending_first::group_key(stream, group))
            .or_insert(*id);
    }
    out
}

/// The delivery-order records `model`'s PEL implies for the `ordered` groups, and each one's
/// earliest.
fn expected_delivery_order(
    model: &MemStore,
    ordered: &BTreeSet<(Vec<u8>, Vec<u8>)>,
) -> (BTreeSet<Vec<u8>>, BTreeMap<Vec<u8>, Delivery>) {
    let mut records = BTreeSet::new();
    let mut firsts: BTreeMap<Vec<u8>, Delivery> = BTreeMap::new();
    for ((stream, group, id), entry) in &model.pending {
        if !ordered.contains(&(stream.clone(), group.clone())) {
            continue;
        }
        let at = Delivery {
            ms: entry.delivery_ms,
            id: *id,
        };
        records.insert(pel_by_delivery::key(stream, group, at));
        let first = firsts
            .entry(pel_by_delivery::first_key(stream, group))
            .or_insert(at);
        *first = (*first).min(at);
    }
    (records, firsts)
}

/// The same for consumers, from the per-consumer index.
fn expected_consumer_firsts(model: &MemStore) -> BTreeMap<Vec<u8>, StreamId> {
    let mut out = BTreeMap::new();
    for (stream, group, consumer, id) in model.consumer_pending.keys() {
        out.entry(pending_first::consumer_key(stream, group, consumer))
            .or_insert(*id);
    }
    out
}

/// Writes every record of `model` through `Store`, as one command would.
pub(crate) fn load(store: &mut impl Store, model: &MemStore) {
    for (producer, state) in &model.producers {
        store.put_producer(producer, state);
    }
    for (key, meta) in &model.streams {
        store.put_stream(key, meta);
    }
    for ((key, id), fields) in &model.entries {
        store.put_entry(key, *id, fields);
    }
    for ((key, group), meta) in &model.groups {
        store.put_group(key, group, meta);
    }
    for ((key, group, consumer), meta) in &model.consumers {
        store.put_consumer(key, group, consumer, meta);
    }
    for ((key, group, id), entry) in &model.pending {
        store.put_pending(key, group, *id, None, entry);
    }
    for (key, meta) in &model.idmp_meta {
        store.put_idmp_meta(key, meta);
    }
    for ((key, id), (pid, iid)) in &model.idmp_by_id {
        let record = rill_core::IdmpRecord {
            id: *id,
            pid: pid.clone(),
            iid: iid.clone(),
        };
        store.put_idmp(key, &record);
    }
}
