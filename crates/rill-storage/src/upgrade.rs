//! Brings a store written by an older Rill to the current layout when it is opened.
//!
//! ```text
//!   open ── format record (cf::format) == CURRENT ──▶ nothing to do
//!        └─ absent or 2: derive lowest-pending-id records and the delivery order from the
//!                   PEL (one pass, key order), write them with the format record in one
//!                   synced batch (a format-2 store rewrites its lowest-pending-id records
//!                   with the values they hold)
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
        if found != format::WITHOUT_DELIVERY_ORDER {
            return Err(corrupt(
                Cf::RaftMeta,
                &format::KEY,
                DecodeError::NonCanonical("a store format this build does not know"),
            ));
        }
    }
    let mut derive = Derive::default();
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
        }
    }
    let mut batch = WriteBatch::default();
    let records = derive.into_records();
    let derived = records.len();
    for (cf, key, value) in records {
        batch.put_cf(handle(rocks, cf), key, value);
    }
    batch.put_cf(meta, format::KEY, format::encode_value(format::CURRENT));
    let mut options = WriteOptions::default();
    options.set_sync(true);
    rocks.write_opt(batch, &options)?;
    tracing::info!(
        derived,
        format = format::CURRENT,
        "store brought to the current format"
    );
    Ok(())
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
