//! Brings a store written by an older Rill to the current layout when it is opened.
//!
//! ```text
//!   open ── format record (cf::format) == CURRENT ──▶ nothing to do
//!        ├─ 3: drop every group's delivery order (two range deletes) with the format
//!        │     record, synced; no group has an ordered record
//!        └─ absent or 2: derive lowest-pending-id records from the PEL (one pass, key
//!                   order), write them with the format record in one synced batch (a
//!                   format-2 store rewrites them with the values they hold); no group has
//!                   an ordered record, so none gets a delivery order
//! ```
//!
//! A fresh store has no PEL, so its pass is two empty seeks.

use rocksdb::{IteratorMode, WriteBatch, WriteOptions, DB};

use crate::cf::pending_first::Derive;
use crate::cf::{format, Cf, KeyTag};
use crate::error::{DecodeError, StorageError};

pub(crate) fn to_current_format(rocks: &DB) -> Result<(), StorageError> {
    let meta = handle(rocks, Cf::RaftMeta);
    if let Some(bytes) = rocks.get_cf(meta, format::KEY)? {
        let found = format::decode_value(&bytes)
            .map_err(|source| corrupt(Cf::RaftMeta, &format::KEY, source))?;
        if found == format::CURRENT {
            return Ok(());
        }
        if found == format::DELIVERY_ORDER_OF_EVERY_GROUP {
            return drop_the_delivery_orders(rocks);
        }
        if found != format::WITHOUT_DELIVERY_ORDER {
            return Err(corrupt(
                Cf::RaftMeta,
                &format::KEY,
                DecodeError::NonCanonical("a store format this build does not know"),
            ));
        }
    }
    let mut derive = Derive::default();
    let mut derived_count = 0;
    for (cf, tag) in [
        (Cf::Pel, KeyTag::Pending),
        (Cf::ConsumerPel, KeyTag::ConsumerPending),
    ] {
        let prefix = [tag as u8];
        let iter = rocks.iterator_cf(
            handle(rocks, cf),
            IteratorMode::From(&prefix, rocksdb::Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            if key.first() != Some(&(tag as u8)) {
                break;
            }
            let derived = match cf {
                Cf::Pel => derive.pending(&key, &value),
                _ => derive.index_key(&key),
            };
            derived.map_err(|source| corrupt(cf, &key, source))?;
            if derive.ready() >= CHUNK_RECORDS {
                // A record per pending entry: written as they come, not held. They are a
                // function of the PEL, so a crash before the format record repeats the pass.
                derived_count += write(rocks, derive.drain(), None)?;
            }
        }
    }
    let last = (
        meta,
        format::KEY.to_vec(),
        format::encode_value(format::CURRENT),
    );
    derived_count += write(rocks, derive.into_records(), Some(last))?;
    let derived = derived_count;
    tracing::info!(
        derived,
        format = format::CURRENT,
        "store brought to the current format"
    );
    Ok(())
}

/// A format-3 store kept every group's delivery order. It drops them all (the delivery and
/// first delivery records: two range deletes, in one synced batch with the format record),
/// and no group gets an ordered record: each orders itself again at its next CLAIM read.
/// Keeping the order of the groups with anything pending would make what a node holds depend
/// on where it stopped: a follower a few entries behind the leader could reopen with a group
/// pending that the leader reopened with empty, and from then on one of them would keep
/// delivery records the other does not (the same answers, other bytes).
fn drop_the_delivery_orders(rocks: &DB) -> Result<(), StorageError> {
    let mut batch = WriteBatch::default();
    let pel = handle(rocks, Cf::Pel);
    for tag in [KeyTag::PendingByDelivery, KeyTag::DeliveryFirst] {
        batch.delete_range_cf(pel, [tag as u8], [tag as u8 + 1]);
    }
    batch.put_cf(
        handle(rocks, Cf::RaftMeta),
        format::KEY,
        format::encode_value(format::CURRENT),
    );
    let mut options = WriteOptions::default();
    options.set_sync(true);
    rocks.write_opt(batch, &options)?;
    tracing::info!(
        format = format::CURRENT,
        "store brought to the current format: delivery orders dropped"
    );
    Ok(())
}

/// Derived records written per batch while the PEL is read.
const CHUNK_RECORDS: usize = 65_536;

/// Writes derived `records` in one batch, with `last` (the format record) synced after them
/// when given. Returns how many derived records it wrote.
fn write(
    rocks: &DB,
    records: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    last: Option<(&rocksdb::ColumnFamily, Vec<u8>, Vec<u8>)>,
) -> Result<usize, StorageError> {
    let mut batch = WriteBatch::default();
    let count = records.len();
    for (cf, key, value) in records {
        batch.put_cf(handle(rocks, cf), key, value);
    }
    let mut options = WriteOptions::default();
    if let Some((family, key, value)) = last {
        batch.put_cf(family, key, value);
        options.set_sync(true);
    }
    rocks.write_opt(batch, &options)?;
    Ok(count)
}

fn handle(rocks: &DB, cf: Cf) -> &rocksdb::ColumnFamily {
    rocks
        .cf_handle(cf.name())
        .expect("column family created at open")
}

fn corrupt(cf: Cf, key: &[u8], source: DecodeError) -> StorageError {
    StorageError::Corrupt {
        cf: cf.name(),
        key: key.to_vec(),
        source,
    }
}
