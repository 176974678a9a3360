//! State images: the whole applied state of a replica as one byte string, for Raft snapshots.
//!
//! ```text
//!   leader:   Db::export_state ── one RocksDB snapshot ──▶ (ImageMeta, bytes)
//!                                                            │ streamed by the replication layer
//!   follower: Db::import_state(bytes) ── check all, then one WriteBatch ──▶ state replaced
//! ```
//!
//! An image holds the state families and the `node` family, so the applied index, applied log
//! id and membership travel with the state they describe and land in the same batch. The log
//! families are not in it: a snapshot replaces state, not the log.
//!
//! Layout (persisted, and read by other nodes: change it only with a new magic):
//!
//! ```text
//!   magic "RILLIMG1"
//!   record*   family u8 | key_len u32 BE | key | value_len u32 BE | value
//!             (families by code, keys ascending within a family: strictly increasing overall)
//!   trailer   0xff | record_count u64 BE | checksum u64 BE   (FNV-1a 64 of every byte before it)
//! ```
//!
//! The whole image is built in memory: fine while states are small. A large state wants a
//! RocksDB checkpoint streamed file by file instead.

use std::collections::BTreeMap;

use rocksdb::WriteBatch;

use crate::cf::node_meta::{self, NodeMeta};
use crate::cf::pending_first::Derive;
use crate::cf::{node, Cf, KeyTag};
use crate::checked;
use crate::codec::{put_prefixed, put_u64, KeyRange, Reader};
use crate::db::Db;
use crate::digest::Fnv64;
use crate::error::{DecodeError, StorageError};

const MAGIC: &[u8; 8] = b"RILLIMG1";
const TRAILER_TAG: u8 = 0xff;
/// Above every key: each opens with a tag below `0xff` (`cf::KeyTag`), so `[.., FAMILY_END)`
/// is a whole family.
const FAMILY_END: [u8; 1] = [0xff];
const CHECKSUM_BYTES: usize = 8;
const TRAILER_BYTES: usize = 1 + 8 + CHECKSUM_BYTES;

/// The families an image holds, with their persisted codes.
const FAMILIES: [(u8, Cf); 8] = [
    (1, Cf::Streams),
    (2, Cf::Entries),
    (3, Cf::Groups),
    (4, Cf::Consumers),
    (5, Cf::Pel),
    (6, Cf::ConsumerPel),
    (7, Cf::Node),
    (8, Cf::Producers),
];

/// What an image says about the state it holds, read from the same snapshot as the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageMeta {
    /// Index of the last log entry whose effects the image holds; 0 for a fresh store.
    pub applied_index: u64,
    /// The replication layer's records (`Db::commit_with_meta`) as of that index.
    pub node_meta: BTreeMap<NodeMeta, Vec<u8>>,
}

impl Db {
    /// The applied state, from one RocksDB snapshot, as an image for [`Db::import_state`].
    pub fn export_state(&self) -> Result<(ImageMeta, Vec<u8>), StorageError> {
        let snapshot = self.rocks().snapshot();
        let mut out = MAGIC.to_vec();
        let mut records: u64 = 0;
        let mut meta = ImageMeta::default();
        for (code, cf) in FAMILIES {
            let mut iter = snapshot.raw_iterator_cf(self.handle(cf));
            iter.seek_to_first();
            while let Some((key, value)) = iter.item() {
                if cf == Cf::Node {
                    read_node_record(key, value, &mut meta).map_err(|source| {
                        StorageError::Corrupt {
                            cf: cf.name(),
                            key: key.to_vec(),
                            source,
                        }
                    })?;
                }
                out.push(code);
                put_prefixed(&mut out, key);
                put_prefixed(&mut out, value);
                records += 1;
                iter.next();
            }
            iter.status()?;
        }
        out.push(TRAILER_TAG);
        put_u64(&mut out, records);
        let mut hash = Fnv64::new();
        hash.write(&out);
        put_u64(&mut out, hash.finish());
        Ok((meta, out))
    }

    /// Replaces the whole applied state (state families and `node`) with the image's, in one
    /// fsynced `WriteBatch`. The image is checked in full first: a bad one writes nothing.
    pub fn import_state(&self, image: &[u8]) -> Result<ImageMeta, StorageError> {
        let (meta, records) = decode_image(image).map_err(StorageError::BadImage)?;
        let mut committed = self.lock_commits();
        self.forget_warm();
        let mut batch = WriteBatch::default();
        for (_, cf) in FAMILIES {
            batch.delete_range_cf(self.handle(cf), &[][..], &FAMILY_END[..]);
        }
        // The lowest-pending-id records and the delivery order are derived, not copied: exact
        // whatever the image holds, and present when it comes from a store older than them.
        // A group's ordered record (in `groups`) comes before its PEL (in `pel`): families
        // come in `FAMILIES` order, which `decode_image` holds images to.
        let mut derive = Derive::default();
        for (cf, key, value) in records {
            match key.first().copied() {
                Some(tag) if tag == KeyTag::GroupPendingFirst as u8 => continue,
                Some(tag) if tag == KeyTag::ConsumerPendingFirst as u8 => continue,
                Some(tag) if tag == KeyTag::PendingByDelivery as u8 => continue,
                Some(tag) if tag == KeyTag::DeliveryFirst as u8 => continue,
                Some(tag) if tag == KeyTag::DeliveryOrdered as u8 => derive.ordered(key),
                Some(tag) if tag == KeyTag::Pending as u8 => derive.pending(key, value),
                Some(tag) if tag == KeyTag::ConsumerPending as u8 => derive.index_key(key),
                _ => Ok(()),
            }
            .map_err(|source| StorageError::Corrupt {
                cf: cf.name(),
                key: key.to_vec(),
                source,
            })?;
            batch.put_cf(self.handle(cf), key, value);
        }
        for (cf, key, value) in derive.into_records() {
            batch.put_cf(self.handle(cf), key, value);
        }
        // Whatever `DbOptions::sync` says: the log behind this state may be purged next.
        self.write_batch(batch, true)?;
        *committed = meta.applied_index;
        for (_, cf) in FAMILIES {
            self.reclaim(cf, KeyRange::family());
        }
        tracing::info!(applied_index = meta.applied_index, "imported state image");
        Ok(meta)
    }

    /// What an image exported now would say about its state ([`ImageMeta`]), from one RocksDB
    /// snapshot, without reading the state: the applied index and node records agree.
    pub fn applied_meta(&self) -> Result<ImageMeta, StorageError> {
        let snapshot = self.rocks().snapshot();
        let mut meta = ImageMeta::default();
        let mut iter = snapshot.raw_iterator_cf(self.handle(Cf::Node));
        iter.seek_to_first();
        while let Some((key, value)) = iter.item() {
            read_node_record(key, value, &mut meta).map_err(|source| StorageError::Corrupt {
                cf: Cf::Node.name(),
                key: key.to_vec(),
                source,
            })?;
            iter.next();
        }
        iter.status()?;
        Ok(meta)
    }

    /// The bytes last committed under `record` (`Db::commit_with_meta`), if any.
    pub fn node_meta(&self, record: NodeMeta) -> Result<Option<Vec<u8>>, StorageError> {
        let key = node_meta::key(record);
        let Some(value) = self.rocks().get_cf(self.handle(Cf::Node), key)? else {
            return Ok(None);
        };
        let payload = checked::decode(&key, &value).map_err(|source| StorageError::Corrupt {
            cf: Cf::Node.name(),
            key: key.to_vec(),
            source,
        })?;
        Ok(Some(payload.to_vec()))
    }
}

/// What `image` says about the state it holds, checking the whole image as
/// [`Db::import_state`] would, without writing anything.
pub fn read_image_meta(image: &[u8]) -> Result<ImageMeta, StorageError> {
    decode_image(image)
        .map(|(meta, _)| meta)
        .map_err(StorageError::BadImage)
}

/// Checks a `node` record and copies what it says into `meta`.
fn read_node_record(key: &[u8], value: &[u8], meta: &mut ImageMeta) -> Result<(), DecodeError> {
    if key == node::APPLIED_INDEX_KEY {
        meta.applied_index = node::decode_applied_index(value)?;
        return Ok(());
    }
    let record = node_meta::decode_key(key)?;
    let payload = checked::decode(key, value)?;
    meta.node_meta.insert(record, payload.to_vec());
    Ok(())
}

/// The tags the keys of a state family open with; `None` for `node`, whose records are read.
fn family_tags(cf: Cf) -> Option<&'static [KeyTag]> {
    match cf {
        Cf::Streams => Some(&[KeyTag::Stream, KeyTag::KeyVersion, KeyTag::VersionCounter]),
        Cf::Entries => Some(&[KeyTag::Entry]),
        Cf::Groups => Some(&[KeyTag::Group, KeyTag::DeliveryOrdered]),
        Cf::Consumers => Some(&[KeyTag::Consumer]),
        Cf::Pel => Some(&[
            KeyTag::Pending,
            KeyTag::GroupPendingFirst,
            KeyTag::PendingByDelivery,
            KeyTag::DeliveryFirst,
        ]),
        Cf::ConsumerPel => Some(&[KeyTag::ConsumerPending, KeyTag::ConsumerPendingFirst]),
        Cf::Producers => Some(&[
            KeyTag::Producer,
            KeyTag::ProducerIdle,
            KeyTag::ProducerCount,
            KeyTag::ProducerClock,
            KeyTag::IdmpMeta,
            KeyTag::IdmpIid,
            KeyTag::IdmpByProducer,
            KeyTag::IdmpById,
            KeyTag::IdmpCount,
        ]),
        Cf::Node | Cf::RaftLog | Cf::RaftMeta => None,
    }
}

type Records<'a> = Vec<(Cf, &'a [u8], &'a [u8])>;

fn decode_image(image: &[u8]) -> Result<(ImageMeta, Records<'_>), DecodeError> {
    let needed = MAGIC.len() + TRAILER_BYTES;
    if image.len() < needed {
        return Err(DecodeError::Truncated {
            needed,
            remaining: image.len(),
        });
    }
    let body_len = image.len() - CHECKSUM_BYTES;
    let (body, checksum) = image.split_at(body_len);
    let mut hash = Fnv64::new();
    hash.write(body);
    let mut reader = Reader::new(checksum);
    let stored = reader.u64()?;
    reader.finish()?;
    if stored != hash.finish() {
        return Err(DecodeError::Checksum {
            stored,
            computed: hash.finish(),
        });
    }

    let mut reader = Reader::new(body);
    if reader.take(MAGIC.len())? != MAGIC {
        return Err(DecodeError::NonCanonical("not a state image (bad magic)"));
    }
    let mut meta = ImageMeta::default();
    let mut records = Vec::new();
    let mut previous: Option<(u8, &[u8])> = None;
    loop {
        let code = reader.u8()?;
        if code == TRAILER_TAG {
            break;
        }
        let Some(&(_, cf)) = FAMILIES.iter().find(|(c, _)| *c == code) else {
            return Err(DecodeError::NonCanonical("unknown family code in image"));
        };
        let key = reader.prefixed()?;
        let value = reader.prefixed()?;
        if previous.is_some_and(|previous| previous >= (code, key)) {
            return Err(DecodeError::NonCanonical("image records out of order"));
        }
        previous = Some((code, key));
        match family_tags(cf) {
            Some(tags) if !tags.iter().any(|&tag| key.first() == Some(&(tag as u8))) => {
                return Err(DecodeError::Misplaced("image record under another family"));
            }
            Some(_) => {}
            None => read_node_record(key, value, &mut meta)?,
        }
        records.push((cf, key, value));
    }
    let count = reader.u64()?;
    reader.finish()?;
    if count != records.len() as u64 {
        return Err(DecodeError::NonCanonical("image record count mismatch"));
    }
    Ok((meta, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_codes_are_pinned() {
        let codes = FAMILIES.map(|(code, cf)| (code, cf.name()));
        assert_eq!(
            codes,
            [
                (1, "streams"),
                (2, "entries"),
                (3, "groups"),
                (4, "consumers"),
                (5, "pel"),
                (6, "consumer_pel"),
                (7, "node"),
                (8, "producers"),
            ]
        );
        for (_, cf) in FAMILIES {
            assert!(cf == Cf::Node || Cf::STATE.contains(&cf));
        }
        assert_eq!(FAMILIES.len(), Cf::STATE.len() + 1);
    }

    #[test]
    fn empty_image_decodes() {
        let mut image = MAGIC.to_vec();
        image.push(TRAILER_TAG);
        put_u64(&mut image, 0);
        let mut hash = Fnv64::new();
        hash.write(&image);
        put_u64(&mut image, hash.finish());
        let (meta, records) = decode_image(&image).expect("decode");
        assert_eq!(meta, ImageMeta::default());
        assert!(records.is_empty());
        for cut in 0..image.len() {
            assert!(decode_image(&image[..cut]).is_err(), "cut at {cut} decoded");
        }
    }
}
