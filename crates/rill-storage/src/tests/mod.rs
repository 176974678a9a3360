//! Tests over the whole store: model-based checking against `rill_core::MemStore`, and the
//! commit, reopen, failure and concurrency paths of `Db`.

mod db;
mod history;
mod model;
mod replication;

use rill_core::{MemStore, Store};
use rocksdb::IteratorMode;

use std::collections::BTreeMap;

use rill_core::StreamId;

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
    for (k, v) in raw_records(db, Cf::Groups) {
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
    for (k, v) in raw_records(db, Cf::Pel) {
        if k.first() == Some(&(KeyTag::GroupPendingFirst as u8)) {
            group_firsts.insert(k, pending_first::decode_value(&v).expect("value"));
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
    let mut count = None;
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
    out
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
        store.put_pending(key, group, *id, entry);
    }
}
