//! [`Txn`]: the [`Store`] a command executes against, over one RocksDB snapshot.
//!
//! ```text
//!   Store read  ──▶ overlay (own writes) ──miss──▶ snapshot (as of begin)
//!   Store write ──▶ overlay ──Db::commit──▶ one WriteBatch with the applied index
//! ```
//!
//! `Store` methods cannot fail. An I/O error or undecodable bytes is recorded (the first one
//! wins), the read answers as if the record were absent, and `Db::commit` refuses the txn, so
//! a state computed from a half-seen store never reaches disk.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rill_core::{
    ConsumerMeta, Fields, GroupMeta, IdmpMeta, IdmpRecord, PendingEntry, ProducerState, Store,
    StreamId, StreamMeta,
};
use rocksdb::Snapshot;

use crate::cf::pel_by_delivery::Delivery;
use crate::cf::{
    consumer_pel, consumers, entries, groups, idmp, node, pel, pel_by_delivery, pending_first,
    producers, streams, versions, Cf,
};
use crate::codec::KeyRange;
use crate::db::Db;
use crate::error::{DecodeError, StorageError};
use crate::overlay::Overlay;
use crate::read_cache::{ReadCache, Remembered};
use crate::scan::{scan, scan_each, Record};

/// Removing more entries than this at once is one range delete, and its disk is compacted
/// right after the commit (`crate::compactor`); fewer are point deletes.
const RECLAIM_ENTRIES_MIN: u64 = 1024;

/// A consistent view of the store plus the writes made through it.
///
/// From [`Db::begin`] it is a write transaction for [`Db::commit`]; from [`Db::read`] it is a
/// read view whose write methods panic. `Send + Sync`, so a read view can be shared or held
/// across an `.await`.
pub struct Txn<'db> {
    db: &'db Db,
    snapshot: Snapshot<'db>,
    /// Applied index stored in `snapshot`: the state this txn reads is the state after it.
    applied_index: u64,
    writable: bool,
    overlay: Overlay,
    /// What this txn read from `snapshot`, so a record read again is not fetched again, and
    /// what the commit before it left warm (`read_cache.rs`); used only when `writable`.
    reads: ReadCache,
    /// First error met. Reads take `&self`, hence the cell; set once, later errors are its
    /// consequences.
    error: OnceLock<StorageError>,
    /// Lowest-pending-ID records (`pending_first`) whose ID this txn acknowledged, by record
    /// key: each is found again once, when read or at commit, not with a scan per ID (an XACK
    /// of ten IDs in delivery order scanned twenty times).
    stale_firsts: BTreeMap<Vec<u8>, StaleFirst>,
}

/// A place in the order a first record summarises: by ID (`pending_first`) or by delivery
/// (`pel_by_delivery`). A record's scope fixes which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Position {
    Id(StreamId),
    Delivery(Delivery),
}

impl Position {
    fn next(self) -> Option<Position> {
        match self {
            Position::Id(id) => id.next().map(Position::Id),
            Position::Delivery(at) => at.next().map(Position::Delivery),
        }
    }

    fn id(self) -> StreamId {
        match self {
            Position::Id(id) => id,
            Position::Delivery(at) => at.id,
        }
    }
}

/// A first record to find again: every place taken in its scope is at or after `from`, and
/// `rest` is that scope's index from `from` on.
struct StaleFirst {
    kind: FirstKind,
    from: Position,
    rest: KeyRange,
    /// The record whose pending count is the number of places taken in the scope.
    counted: Counted,
}

/// Whose pending count covers a scope: a consumer's counts its index, a group's its PEL and
/// so its delivery order too.
enum Counted {
    Group {
        key: Vec<u8>,
        group: Vec<u8>,
    },
    Consumer {
        key: Vec<u8>,
        group: Vec<u8>,
        consumer: Vec<u8>,
    },
}

impl StaleFirst {
    /// At commit, the first place taken at or after `from`. A scope whose count the txn leaves
    /// at zero holds none and is not scanned: a consumer that acknowledges all it was given (a
    /// work queue's every XACK) would otherwise open an iterator at every commit to learn
    /// that. Only at commit: the counts match the indexes after every command
    /// (`rill_core::check_invariants`), not within one.
    fn find_at_commit(&self, txn: &Txn<'_>) -> Option<Position> {
        let count = match &self.counted {
            Counted::Group { key, group } => txn.group(key, group).map(|g| g.pending_count),
            Counted::Consumer {
                key,
                group,
                consumer,
            } => txn.consumer(key, group, consumer).map(|c| c.pending_count),
        };
        if count == Some(0) {
            return None;
        }
        self.scan(txn)
    }

    /// The first place taken at or after `from`.
    fn scan(&self, txn: &Txn<'_>) -> Option<Position> {
        let cf = self.kind.cf();
        match self.kind {
            FirstKind::Consumer => txn.edge_in(cf, &self.rest, false, |k| {
                Ok(Position::Id(consumer_pel::decode_key(k)?.id))
            }),
            FirstKind::Group => txn.edge_in(cf, &self.rest, false, |k| {
                Ok(Position::Id(pel::decode_key(k)?.id))
            }),
            FirstKind::Delivery => txn.edge_in(cf, &self.rest, false, |k| {
                Ok(Position::Delivery(pel_by_delivery::decode_key(k)?.at))
            }),
        }
    }
}

/// Which first record: a group's lowest pending ID, a consumer's, or a group's earliest
/// delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FirstKind {
    Group,
    Consumer,
    Delivery,
}

impl FirstKind {
    fn cf(self) -> Cf {
        match self {
            FirstKind::Consumer => Cf::ConsumerPel,
            FirstKind::Group | FirstKind::Delivery => Cf::Pel,
        }
    }

    fn encode(self, first: Position) -> Vec<u8> {
        match (self, first) {
            (FirstKind::Group | FirstKind::Consumer, Position::Id(id)) => {
                pending_first::encode_value(id)
            }
            (FirstKind::Delivery, Position::Delivery(at)) => pel_by_delivery::encode_first(at),
            (kind, first) => unreachable!("a {kind:?} first record cannot hold {first:?}"),
        }
    }

    fn decode(self, bytes: &[u8]) -> Result<Position, DecodeError> {
        match self {
            FirstKind::Delivery => pel_by_delivery::decode_first(bytes).map(Position::Delivery),
            _ => pending_first::decode_value(bytes).map(Position::Id),
        }
    }
}

/// Whose first record: a group's lowest pending ID (kept in `pel`), one consumer's (in
/// `consumer_pel`), or a group's earliest delivery (in `pel`).
#[derive(Clone, Copy)]
enum FirstScope<'a> {
    Group {
        key: &'a [u8],
        group: &'a [u8],
    },
    Consumer {
        key: &'a [u8],
        group: &'a [u8],
        consumer: &'a [u8],
    },
    Delivery {
        key: &'a [u8],
        group: &'a [u8],
    },
}

impl FirstScope<'_> {
    fn kind(self) -> FirstKind {
        match self {
            FirstScope::Group { .. } => FirstKind::Group,
            FirstScope::Consumer { .. } => FirstKind::Consumer,
            FirstScope::Delivery { .. } => FirstKind::Delivery,
        }
    }

    fn record(self) -> Vec<u8> {
        match self {
            FirstScope::Group { key, group } => pending_first::group_key(key, group),
            FirstScope::Consumer {
                key,
                group,
                consumer,
            } => pending_first::consumer_key(key, group, consumer),
            FirstScope::Delivery { key, group } => pel_by_delivery::first_key(key, group),
        }
    }

    /// What is stale about the record when every place taken is at or after `from`.
    fn stale_from(self, from: Position) -> StaleFirst {
        let rest = match (self, from) {
            (FirstScope::Group { key, group }, _) => {
                pel::id_range(key, group, from.id(), StreamId::MAX)
            }
            (
                FirstScope::Consumer {
                    key,
                    group,
                    consumer,
                },
                _,
            ) => consumer_pel::id_range(key, group, consumer, from.id(), StreamId::MAX),
            (FirstScope::Delivery { key, group }, Position::Delivery(at)) => {
                pel_by_delivery::range_from(key, group, at)
            }
            (FirstScope::Delivery { .. }, Position::Id(_)) => {
                unreachable!("a delivery record is stale from a delivery")
            }
        };
        let counted = match self {
            FirstScope::Group { key, group } | FirstScope::Delivery { key, group } => {
                Counted::Group {
                    key: key.to_vec(),
                    group: group.to_vec(),
                }
            }
            FirstScope::Consumer {
                key,
                group,
                consumer,
            } => Counted::Consumer {
                key: key.to_vec(),
                group: group.to_vec(),
                consumer: consumer.to_vec(),
            },
        };
        StaleFirst {
            kind: self.kind(),
            from,
            rest,
            counted,
        }
    }
}

/// What `Db::commit` needs from a txn that met no error.
pub(crate) struct Committable {
    pub(crate) applied_index: u64,
    pub(crate) overlay: Overlay,
    /// What the txn knew of its snapshot, for the commit to hand on with its writes laid over.
    pub(crate) reads: Remembered,
}

impl<'db> Txn<'db> {
    pub(crate) fn new(db: &'db Db, writable: bool) -> Txn<'db> {
        let snapshot = db.rocks().snapshot();
        let mut txn = Txn {
            db,
            snapshot,
            applied_index: 0,
            writable,
            overlay: Overlay::default(),
            reads: ReadCache::default(),
            error: OnceLock::new(),
            stale_firsts: BTreeMap::new(),
        };
        txn.applied_index = txn
            .get(
                Cf::Node,
                &node::APPLIED_INDEX_KEY,
                node::decode_applied_index,
            )
            .unwrap_or(0);
        if writable {
            if let Some(warm) = db.take_warm(txn.applied_index) {
                txn.reads = ReadCache::starting_with(warm);
            }
        }
        txn
    }

    /// The applied index this txn's snapshot reflects.
    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    /// The first error this txn met, if any. A reader calls it after its reads to tell "absent"
    /// from "could not read".
    pub fn status(&self) -> Result<(), StorageError> {
        match self.error.get() {
            None => Ok(()),
            Some(error) => Err(error.clone()),
        }
    }

    pub(crate) fn db(&self) -> &'db Db {
        self.db
    }

    /// Consumes the txn for commit: its writes, or the reason it must not be committed.
    pub(crate) fn into_committable(mut self) -> Result<Committable, StorageError> {
        for (record, stale) in std::mem::take(&mut self.stale_firsts) {
            let first = stale.find_at_commit(&self);
            self.set_first(stale.kind, record, first);
        }
        if let Some(error) = self.error.into_inner() {
            return Err(error);
        }
        if !self.writable {
            return Err(StorageError::ReadOnly);
        }
        Ok(Committable {
            applied_index: self.applied_index,
            overlay: self.overlay,
            reads: self.reads.into_remembered(),
        })
    }

    fn fail(&self, error: StorageError) {
        let message = error.to_string();
        if self.error.set(error).is_ok() {
            tracing::error!(error = %message, "storage read failed; txn will refuse to commit");
        }
    }

    fn get_raw(&self, cf: Cf, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(answer) = self.overlay.get(cf, key) {
            return answer.map(<[u8]>::to_vec);
        }
        // Only a write txn remembers: there is one at a time (the state machine's), while read
        // views are one per command in flight and would multiply the bound.
        if self.writable {
            if let Some(answer) = self.reads.get(cf, key) {
                #[cfg(debug_assertions)]
                self.check_remembered(cf, key, &answer);
                return answer;
            }
        }
        #[cfg(test)]
        self.db
            .snapshot_gets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.snapshot.get_cf(self.db.handle(cf), key) {
            Ok(value) => {
                if self.writable {
                    self.reads.remember(cf, key, value.as_deref());
                }
                value
            }
            Err(error) => {
                self.fail(error.into());
                None
            }
        }
    }

    /// Panics if the read cache's answer for `key` is not the snapshot's: what a commit left
    /// warm for this txn must be what its snapshot holds.
    #[cfg(debug_assertions)]
    fn check_remembered(&self, cf: Cf, key: &[u8], answer: &Option<Vec<u8>>) {
        if let Ok(read) = self.snapshot.get_cf(self.db.handle(cf), key) {
            assert_eq!(
                &read, answer,
                "the read cache holds another value than the snapshot for {cf:?} key {key:?}"
            );
        }
    }

    fn get<T>(
        &self,
        cf: Cf,
        key: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
    ) -> Option<T> {
        let bytes = self.get_raw(cf, key)?;
        match decode(&bytes) {
            Ok(value) => Some(value),
            Err(source) => {
                self.fail(StorageError::Corrupt {
                    cf: cf.name(),
                    key: key.to_vec(),
                    source,
                });
                None
            }
        }
    }

    fn scan_raw(&self, cf: Cf, range: &KeyRange, rev: bool, limit: usize) -> Vec<Record> {
        match scan(
            &self.snapshot,
            self.db.handle(cf),
            &self.overlay,
            cf,
            range,
            rev,
            limit,
        ) {
            Ok(records) => records,
            Err(error) => {
                self.fail(error.into());
                Vec::new()
            }
        }
    }

    /// Hands the keys of a range to `visit` until it answers false; an undecodable key is
    /// recorded and ends the walk.
    fn scan_keys(
        &self,
        cf: Cf,
        range: &KeyRange,
        rev: bool,
        visit: &mut dyn FnMut(&[u8]) -> Result<bool, DecodeError>,
    ) {
        self.scan_records(cf, range, rev, |key, _| visit(key));
    }

    /// Hands the records of a range to `visit`, nothing copied, until it answers false; an
    /// undecodable record is recorded and ends the walk.
    fn scan_records(
        &self,
        cf: Cf,
        range: &KeyRange,
        rev: bool,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, DecodeError>,
    ) {
        let mut corrupt = None;
        let walked = scan_each(
            &self.snapshot,
            self.db.handle(cf),
            &self.overlay,
            cf,
            range,
            rev,
            |key, value| match visit(key, value) {
                Ok(more) => more,
                Err(source) => {
                    corrupt = Some((key.to_vec(), source));
                    false
                }
            },
        );
        if let Err(error) = walked {
            self.fail(error.into());
        }
        if let Some((key, source)) = corrupt {
            self.fail(StorageError::Corrupt {
                cf: cf.name(),
                key,
                source,
            });
        }
    }

    /// Decoded records of a range; an undecodable record is recorded and left out.
    fn scan<T>(
        &self,
        cf: Cf,
        range: &KeyRange,
        rev: bool,
        limit: usize,
        decode: impl Fn(&[u8], &[u8]) -> Result<T, DecodeError>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for (key, value) in self.scan_raw(cf, range, rev, limit) {
            match decode(&key, &value) {
                Ok(record) => out.push(record),
                Err(source) => self.fail(StorageError::Corrupt {
                    cf: cf.name(),
                    key,
                    source,
                }),
            }
        }
        out
    }

    fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.assert_writable();
        self.overlay.put(cf, key, Some(value));
    }

    fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.assert_writable();
        self.overlay.put(cf, key, None);
    }

    fn delete_range(&mut self, cf: Cf, range: KeyRange) {
        self.assert_writable();
        self.overlay.delete_range(cf, range);
    }

    fn assert_writable(&self) {
        assert!(
            self.writable,
            "write through a read view (Db::read); use Db::begin"
        );
    }
}

/// Checks that a record found under a parent's prefix names that parent.
fn expect_parent(found: &[u8], expected: &[u8], what: &'static str) -> Result<(), DecodeError> {
    if found != expected {
        return Err(DecodeError::Misplaced(what));
    }
    Ok(())
}

/// The ID of a PEL record's key, which must be `group`'s of stream `key`.
fn pending_id_in(record: &[u8], key: &[u8], group: &[u8]) -> Result<StreamId, DecodeError> {
    let found = pel::decode_key(record)?;
    expect_parent(
        found.stream,
        key,
        "pending entry outside its stream's range",
    )?;
    expect_parent(
        found.group,
        group,
        "pending entry outside its group's range",
    )?;
    Ok(found.id)
}

impl Store for Txn<'_> {
    fn stream(&self, key: &[u8]) -> Option<StreamMeta> {
        self.get(Cf::Streams, &streams::key(key), streams::decode_value)
    }

    fn put_stream(&mut self, key: &[u8], meta: &StreamMeta) {
        let bytes = streams::encode_value(meta);
        debug_assert_eq!(streams::decode_value(&bytes).as_ref(), Ok(meta));
        self.put(Cf::Streams, streams::key(key), bytes);
    }

    fn delete_stream(&mut self, key: &[u8]) {
        let length = self.stream(key).map_or(0, |meta| meta.length);
        self.delete(Cf::Streams, streams::key(key));
        self.delete(Cf::Streams, versions::key(key));
        let entries = entries::stream_range(key);
        if length > RECLAIM_ENTRIES_MIN {
            self.assert_writable();
            self.overlay.delete_range_reclaimed(Cf::Entries, entries);
        } else {
            self.delete_range(Cf::Entries, entries);
        }
        self.delete_range(Cf::Groups, groups::stream_range(key));
        self.delete_range(Cf::Groups, pel_by_delivery::ordered_stream_range(key));
        self.delete_range(Cf::Consumers, consumers::stream_range(key));
        self.delete_range(Cf::Pel, pel::stream_range(key));
        self.delete_range(Cf::ConsumerPel, consumer_pel::stream_range(key));
        self.delete_range(Cf::Pel, pel_by_delivery::stream_range(key));
        for (cf, records) in [
            (Cf::Pel, pending_first::group_stream_range(key)),
            (Cf::ConsumerPel, pending_first::consumer_stream_range(key)),
            (Cf::Pel, pel_by_delivery::first_stream_range(key)),
        ] {
            self.forget_stale_firsts(&records);
            self.delete_range(cf, records);
        }
        self.delete(Cf::Producers, idmp::meta_key(key));
        self.clear_idmp(key);
    }

    fn stream_keys(&self, after: Option<&[u8]>, limit: usize) -> Vec<Vec<u8>> {
        let range = streams::keys_after(after);
        self.scan(Cf::Streams, &range, false, limit, |k, v| {
            streams::decode_value(v)?;
            Ok(streams::decode_key(k)?.to_vec())
        })
    }

    fn entry(&self, key: &[u8], id: StreamId) -> Option<Fields> {
        self.get(Cf::Entries, &entries::key(key, id), entries::decode_value)
    }

    fn entries(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        limit: usize,
    ) -> Vec<(StreamId, Fields)> {
        self.entries_within(key, start, end, rev, limit, usize::MAX)
    }

    fn entries_within(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        limit: usize,
        bytes_max: usize,
    ) -> Vec<(StreamId, Fields)> {
        let mut out = Vec::new();
        let Some(start) = self.entries_from(key, start) else {
            return out;
        };
        if start > end || limit == 0 {
            return out;
        }
        let mut bytes = 0usize;
        let scanned = scan_each(
            &self.snapshot,
            self.db.handle(Cf::Entries),
            &self.overlay,
            Cf::Entries,
            &entries::id_range(key, start, end),
            rev,
            |k, v| {
                let decoded = entries::decode_key(k).and_then(|(stream, id)| {
                    expect_parent(stream, key, "entry outside its stream's range")?;
                    Ok((id, entries::decode_value(v)?))
                });
                match decoded {
                    Ok((id, fields)) => {
                        bytes = bytes.saturating_add(rill_core::store::entry_reply_bytes(&fields));
                        out.push((id, fields));
                        out.len() < limit && bytes <= bytes_max
                    }
                    Err(source) => {
                        self.fail(StorageError::Corrupt {
                            cf: Cf::Entries.name(),
                            key: k.to_vec(),
                            source,
                        });
                        false
                    }
                }
            },
        );
        if let Err(error) = scanned {
            self.fail(error.into());
        }
        out
    }

    fn put_entry(&mut self, key: &[u8], id: StreamId, fields: &Fields) {
        let bytes = entries::encode_value(fields);
        debug_assert_eq!(entries::decode_value(&bytes).as_ref(), Ok(fields));
        self.put(Cf::Entries, entries::key(key, id), bytes);
    }

    fn delete_entry(&mut self, key: &[u8], id: StreamId) {
        self.delete(Cf::Entries, entries::key(key, id));
    }

    fn visit_entry_ids(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        visit: &mut dyn FnMut(StreamId) -> bool,
    ) {
        let Some(start) = self.entries_from(key, start) else {
            return;
        };
        if start > end {
            return;
        }
        let range = entries::id_range(key, start, end);
        self.scan_keys(Cf::Entries, &range, rev, &mut |k| {
            let (stream, id) = entries::decode_key(k)?;
            expect_parent(stream, key, "entry outside its stream's range")?;
            Ok(visit(id))
        });
    }

    /// A few entries are point deletes; more are one range delete, so trimming a long head
    /// costs one record instead of a tombstone each (reads start above it either way).
    fn delete_entries_below(&mut self, key: &[u8], below: Option<StreamId>, count: u64) {
        let Some(from) = self.entries_from(key, StreamId::MIN) else {
            return;
        };
        let range = KeyRange {
            start: entries::key(key, from),
            end: below.map_or_else(
                || entries::stream_range(key).end,
                |id| entries::key(key, id),
            ),
        };
        if count == 0 || range.is_empty() {
            return;
        }
        if count > RECLAIM_ENTRIES_MIN {
            self.assert_writable();
            self.overlay.delete_range_reclaimed(Cf::Entries, range);
            return;
        }
        let mut victims = Vec::new();
        self.scan_keys(Cf::Entries, &range, false, &mut |k| {
            victims.push(k.to_vec());
            Ok(true)
        });
        // A store that failed a read refuses to commit; one that read a wrong count is corrupt.
        assert!(
            self.status().is_err() || victims.len() as u64 == count,
            "{} entries below the trim point, {count} counted",
            victims.len()
        );
        for victim in victims {
            self.delete(Cf::Entries, victim);
        }
    }

    fn groups(&self, key: &[u8]) -> Vec<(Vec<u8>, GroupMeta)> {
        self.scan(
            Cf::Groups,
            &groups::stream_range(key),
            false,
            usize::MAX,
            |k, v| {
                let (stream, group) = groups::decode_key(k)?;
                expect_parent(stream, key, "group outside its stream's range")?;
                Ok((group.to_vec(), groups::decode_value(v)?))
            },
        )
    }

    fn group(&self, key: &[u8], group: &[u8]) -> Option<GroupMeta> {
        self.get(Cf::Groups, &groups::key(key, group), groups::decode_value)
    }

    fn put_group(&mut self, key: &[u8], group: &[u8], meta: &GroupMeta) {
        let bytes = groups::encode_value(meta);
        debug_assert_eq!(groups::decode_value(&bytes).as_ref(), Ok(meta));
        self.put(Cf::Groups, groups::key(key, group), bytes);
    }

    fn delete_group(&mut self, key: &[u8], group: &[u8]) {
        self.delete(Cf::Groups, groups::key(key, group));
        self.delete(Cf::Groups, pel_by_delivery::ordered_key(key, group));
        self.delete_range(Cf::Consumers, consumers::group_range(key, group));
        self.delete_range(Cf::Pel, pel::group_range(key, group));
        self.delete_range(Cf::ConsumerPel, consumer_pel::group_range(key, group));
        self.delete_range(Cf::Pel, pel_by_delivery::group_range(key, group));
        for record in [
            pending_first::group_key(key, group),
            pel_by_delivery::first_key(key, group),
        ] {
            self.stale_firsts.remove(&record);
            self.delete(Cf::Pel, record);
        }
        let consumer_records = pending_first::consumer_group_range(key, group);
        self.forget_stale_firsts(&consumer_records);
        self.delete_range(Cf::ConsumerPel, consumer_records);
    }

    fn consumers(&self, key: &[u8], group: &[u8]) -> Vec<(Vec<u8>, ConsumerMeta)> {
        self.scan(
            Cf::Consumers,
            &consumers::group_range(key, group),
            false,
            usize::MAX,
            |k, v| {
                let found = consumers::decode_key(k)?;
                expect_parent(found.stream, key, "consumer outside its stream's range")?;
                expect_parent(found.group, group, "consumer outside its group's range")?;
                Ok((found.consumer.to_vec(), consumers::decode_value(v)?))
            },
        )
    }

    fn consumer(&self, key: &[u8], group: &[u8], consumer: &[u8]) -> Option<ConsumerMeta> {
        self.get(
            Cf::Consumers,
            &consumers::key(key, group, consumer),
            consumers::decode_value,
        )
    }

    fn put_consumer(&mut self, key: &[u8], group: &[u8], consumer: &[u8], meta: &ConsumerMeta) {
        let bytes = consumers::encode_value(meta);
        debug_assert_eq!(consumers::decode_value(&bytes).as_ref(), Ok(meta));
        self.put(Cf::Consumers, consumers::key(key, group, consumer), bytes);
    }

    fn delete_consumer(&mut self, key: &[u8], group: &[u8], consumer: &[u8]) {
        self.delete(Cf::Consumers, consumers::key(key, group, consumer));
    }

    fn pending(&self, key: &[u8], group: &[u8], id: StreamId) -> Option<PendingEntry> {
        self.get(Cf::Pel, &pel::key(key, group, id), pel::decode_value)
    }

    fn pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<(StreamId, PendingEntry)> {
        // Start at the lowest pending ID, past the tombstones of everything acknowledged.
        let Some(first) = self.group_pending_first(key, group) else {
            return Vec::new();
        };
        let start = start.max(first);
        if start > end {
            return Vec::new();
        }
        self.scan(
            Cf::Pel,
            &pel::id_range(key, group, start, end),
            false,
            limit,
            |k, v| Ok((pending_id_in(k, key, group)?, pel::decode_value(v)?)),
        )
    }

    fn last_pending(&self, key: &[u8], group: &[u8]) -> Option<StreamId> {
        let first = self.group_pending_first(key, group)?;
        let range = pel::id_range(key, group, first, StreamId::MAX);
        self.edge_in(Cf::Pel, &range, true, |k| Ok(pel::decode_key(k)?.id))
    }

    fn put_pending(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        old: Option<&PendingEntry>,
        entry: &PendingEntry,
    ) {
        debug_assert_eq!(
            old.cloned(),
            self.pending(key, group, id),
            "put_pending's caller misread the record"
        );
        // The old owner's index record must go, or the entry would be pending for two consumers;
        // so must its old place in delivery order.
        if let Some(old) = old {
            if old == entry {
                // Nothing to write (a record, its index and its place in delivery order).
                return;
            }
            if let Some(owner) = old.owner().filter(|&owner| entry.owner() != Some(owner)) {
                self.delete_consumer_index(key, group, owner, id);
            }
            if old.delivery_ms != entry.delivery_ms && self.keeps_delivery_order(key, group) {
                self.delete_delivery(key, group, old.delivery_ms, id);
            }
        }
        let bytes = pel::encode_value(entry);
        debug_assert_eq!(pel::decode_value(&bytes).as_ref(), Ok(entry));
        self.put(Cf::Pel, pel::key(key, group, id), bytes);
        self.first_added(FirstScope::Group { key, group }, Position::Id(id));
        if self.keeps_delivery_order(key, group) {
            self.add_delivery(key, group, entry.delivery_ms, id);
        }
        // A released entry (XNACK) is in no consumer's index.
        if let Some(consumer) = entry.owner() {
            self.put(
                Cf::ConsumerPel,
                consumer_pel::key(key, group, consumer, id),
                consumer_pel::VALUE.to_vec(),
            );
            self.first_added(
                FirstScope::Consumer {
                    key,
                    group,
                    consumer,
                },
                Position::Id(id),
            );
        }
    }

    fn delete_pending(&mut self, key: &[u8], group: &[u8], id: StreamId, old: &PendingEntry) {
        debug_assert_eq!(
            Some(old),
            self.pending(key, group, id).as_ref(),
            "delete_pending's caller misread the record"
        );
        if let Some(owner) = old.owner() {
            self.delete_consumer_index(key, group, owner, id);
        }
        if self.keeps_delivery_order(key, group) {
            self.delete_delivery(key, group, old.delivery_ms, id);
        }
        self.delete(Cf::Pel, pel::key(key, group, id));
        self.first_removed(FirstScope::Group { key, group }, Position::Id(id));
    }

    fn visit_pending_by_delivery(
        &self,
        key: &[u8],
        group: &[u8],
        visit: &mut dyn FnMut(u64, StreamId) -> bool,
    ) {
        if !self.keeps_delivery_order(key, group) {
            // Ordered here, once: the first CLAIM read reads this way before it orders the
            // group (`keep_delivery_order`). The cost follows the group's PEL, as ordering
            // it does.
            let mut order = self.delivery_times(key, group);
            order.sort_unstable();
            for (ms, id) in order {
                if !visit(ms, id) {
                    return;
                }
            }
            return;
        }
        // Start at the earliest delivery, past the tombstones of everything redelivered or
        // acknowledged.
        let Some(Position::Delivery(first)) = self.first_of(FirstScope::Delivery { key, group })
        else {
            return;
        };
        let range = pel_by_delivery::range_from(key, group, first);
        self.scan_keys(Cf::Pel, &range, false, &mut |k| {
            let found = pel_by_delivery::decode_key(k)?;
            expect_parent(found.stream, key, "delivery record outside its stream")?;
            expect_parent(found.group, group, "delivery record outside its group")?;
            Ok(visit(found.at.ms, found.at.id))
        });
    }

    fn keep_delivery_order(&mut self, key: &[u8], group: &[u8]) {
        if self.keeps_delivery_order(key, group) {
            return;
        }
        self.put(
            Cf::Groups,
            pel_by_delivery::ordered_key(key, group),
            pel_by_delivery::VALUE.to_vec(),
        );
        for (ms, id) in self.delivery_times(key, group) {
            self.add_delivery(key, group, ms, id);
        }
    }

    fn consumer_pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<StreamId> {
        let Some(first) = self.consumer_pending_first(key, group, consumer) else {
            return Vec::new();
        };
        let start = start.max(first);
        if start > end {
            return Vec::new();
        }
        let range = consumer_pel::id_range(key, group, consumer, start, end);
        self.scan(Cf::ConsumerPel, &range, false, limit, |k, v| {
            let found = consumer_pel::decode_key(k)?;
            expect_parent(found.stream, key, "index record outside its stream")?;
            expect_parent(found.group, group, "index record outside its group")?;
            expect_parent(
                found.consumer,
                consumer,
                "index record outside its consumer",
            )?;
            consumer_pel::decode_value(v)?;
            Ok(found.id)
        })
    }

    fn producer(&self, producer: &[u8]) -> Option<ProducerState> {
        self.get(
            Cf::Producers,
            &producers::key(producer),
            producers::decode_value,
        )
    }

    fn put_producer(&mut self, producer: &[u8], state: &ProducerState) {
        match self.producer(producer) {
            Some(old) => self.delete(Cf::Producers, producers::idle_key(old.touched_ms, producer)),
            None => self.set_producer_count(self.producer_count() + 1),
        }
        self.put(
            Cf::Producers,
            producers::key(producer),
            producers::encode_value(state),
        );
        self.put(
            Cf::Producers,
            producers::idle_key(state.touched_ms, producer),
            Vec::new(),
        );
    }

    fn delete_producer(&mut self, producer: &[u8]) {
        let Some(old) = self.producer(producer) else {
            return;
        };
        self.delete(Cf::Producers, producers::key(producer));
        self.delete(Cf::Producers, producers::idle_key(old.touched_ms, producer));
        // A count below its records would be corruption the read already reported.
        self.set_producer_count(self.producer_count().saturating_sub(1));
    }

    fn producer_count(&self) -> u64 {
        self.get(
            Cf::Producers,
            &producers::COUNT_KEY,
            producers::decode_count,
        )
        .unwrap_or(0)
    }

    fn idmp_meta(&self, key: &[u8]) -> Option<IdmpMeta> {
        self.get(Cf::Producers, &idmp::meta_key(key), idmp::decode_meta)
    }

    fn put_idmp_meta(&mut self, key: &[u8], meta: &IdmpMeta) {
        self.put(Cf::Producers, idmp::meta_key(key), idmp::encode_meta(meta));
    }

    fn idmp_id(&self, key: &[u8], pid: &[u8], iid: &[u8]) -> Option<StreamId> {
        self.get(
            Cf::Producers,
            &idmp::iid_key(key, pid, iid),
            idmp::decode_id,
        )
    }

    fn idmp_at(&self, key: &[u8], id: StreamId) -> Option<IdmpRecord> {
        self.get(Cf::Producers, &idmp::by_id_key(key, id), |v| {
            idmp::decode_owner(id, v)
        })
    }

    fn put_idmp(&mut self, key: &[u8], r: &IdmpRecord) {
        let count = self.idmp_count(key, &r.pid);
        self.put(
            Cf::Producers,
            idmp::iid_key(key, &r.pid, &r.iid),
            idmp::encode_id(r.id),
        );
        let by_producer = idmp::by_producer_key(key, &r.pid, r.id);
        self.put(Cf::Producers, by_producer, idmp::encode_iid(&r.iid));
        self.put(
            Cf::Producers,
            idmp::by_id_key(key, r.id),
            idmp::encode_owner(r),
        );
        let count_key = idmp::count_key(key, &r.pid);
        self.put(Cf::Producers, count_key, idmp::encode_count(count + 1));
    }

    fn delete_idmp(&mut self, key: &[u8], r: &IdmpRecord) {
        let count = self.idmp_count(key, &r.pid);
        self.delete(Cf::Producers, idmp::iid_key(key, &r.pid, &r.iid));
        self.delete(Cf::Producers, idmp::by_producer_key(key, &r.pid, r.id));
        self.delete(Cf::Producers, idmp::by_id_key(key, r.id));
        let count_key = idmp::count_key(key, &r.pid);
        match count.saturating_sub(1) {
            0 => self.delete(Cf::Producers, count_key),
            left => self.put(Cf::Producers, count_key, idmp::encode_count(left)),
        }
    }

    fn oldest_idmp(&self, key: &[u8], pid: Option<&[u8]>) -> Option<IdmpRecord> {
        match pid {
            None => self.idmp_records(key, 1).pop(),
            Some(pid) => {
                let range = idmp::producer_range(key, pid);
                self.scan(Cf::Producers, &range, false, 1, |k, v| {
                    Ok(IdmpRecord {
                        id: idmp::decode_by_producer_key(k)?,
                        pid: pid.to_vec(),
                        iid: idmp::decode_iid(v)?,
                    })
                })
                .pop()
            }
        }
    }

    fn idmp_records(&self, key: &[u8], limit: usize) -> Vec<IdmpRecord> {
        let range = idmp::stream_order_range(key);
        self.scan(Cf::Producers, &range, false, limit, |k, v| {
            idmp::decode_owner(idmp::decode_by_id_key(k)?, v)
        })
    }

    fn idmp_count(&self, key: &[u8], pid: &[u8]) -> u64 {
        self.get(
            Cf::Producers,
            &idmp::count_key(key, pid),
            idmp::decode_count,
        )
        .unwrap_or(0)
    }

    fn clear_idmp(&mut self, key: &[u8]) {
        for range in idmp::stream_ranges(key) {
            self.delete_range(Cf::Producers, range);
        }
    }

    fn key_version(&self, key: &[u8]) -> Option<u64> {
        self.get(Cf::Streams, &versions::key(key), versions::decode_value)
    }

    fn touch(&mut self, key: &[u8]) {
        let counter = self
            .get(Cf::Streams, &versions::COUNTER_KEY, versions::decode_value)
            .unwrap_or(0)
            + 1;
        let value = versions::encode_value(counter);
        self.put(Cf::Streams, versions::COUNTER_KEY.to_vec(), value.clone());
        self.put(Cf::Streams, versions::key(key), value);
    }

    fn producer_clock(&self) -> Option<rill_core::ProducerClock> {
        self.get(
            Cf::Producers,
            &producers::CLOCK_KEY,
            producers::decode_clock,
        )
    }

    fn put_producer_clock(&mut self, clock: &rill_core::ProducerClock) {
        let key = producers::CLOCK_KEY.to_vec();
        self.put(Cf::Producers, key, producers::encode_clock(clock));
    }

    fn idle_producers(&self, before_ms: u64, limit: usize) -> Vec<Vec<u8>> {
        self.scan(
            Cf::Producers,
            &producers::idle_before(before_ms),
            false,
            limit,
            |k, _| Ok(producers::decode_idle_key(k)?.1.to_vec()),
        )
    }
}

impl Txn<'_> {
    /// Where a scan of `key`'s entries from `start` can begin: at `start`, or later when the
    /// stream record shows that nothing lives below. Trimmed and deleted head entries leave
    /// tombstones under the stream's first ID until compaction; a scan that began below it
    /// would step over every one. `None` when no entry can exist.
    ///
    /// The record read is the one last written, which may lag this command's own writes, so
    /// the bound uses only what stays true until the engine writes the record again: entries
    /// are added only above `last_id`, and removing entries never lowers the first one.
    fn entries_from(&self, key: &[u8], start: StreamId) -> Option<StreamId> {
        let Some(meta) = self.stream(key) else {
            return Some(start);
        };
        let floor = if meta.length > 0 {
            meta.first_id
        } else {
            meta.last_id.next()?
        };
        Some(start.max(floor))
    }

    fn group_pending_first(&self, key: &[u8], group: &[u8]) -> Option<StreamId> {
        self.first_of(FirstScope::Group { key, group })
            .map(Position::id)
    }

    fn consumer_pending_first(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Option<StreamId> {
        self.first_of(FirstScope::Consumer {
            key,
            group,
            consumer,
        })
        .map(Position::id)
    }

    /// The decoded first (or `last`) key of `range`, if any.
    fn edge_in<T>(
        &self,
        cf: Cf,
        range: &KeyRange,
        last: bool,
        decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
    ) -> Option<T> {
        let mut found = None;
        self.scan_keys(cf, range, last, &mut |k| {
            found = Some(decode(k)?);
            Ok(false)
        });
        found
    }

    /// Writes a first record, or removes it when its scope is empty.
    fn set_first(&mut self, kind: FirstKind, record: Vec<u8>, first: Option<Position>) {
        match first {
            Some(first) => self.put(kind.cf(), record, kind.encode(first)),
            None => self.delete(kind.cf(), record),
        }
    }

    /// Removes `id` from `consumer`'s index, moving its lowest pending ID past it if needed.
    fn delete_consumer_index(&mut self, key: &[u8], group: &[u8], consumer: &[u8], id: StreamId) {
        self.delete(Cf::ConsumerPel, consumer_pel::key(key, group, consumer, id));
        let scope = FirstScope::Consumer {
            key,
            group,
            consumer,
        };
        self.first_removed(scope, Position::Id(id));
    }

    /// Whether `group` keeps its pending entries in delivery order (`pel_by_delivery`).
    fn keeps_delivery_order(&self, key: &[u8], group: &[u8]) -> bool {
        self.get_raw(Cf::Groups, &pel_by_delivery::ordered_key(key, group))
            .is_some()
    }

    /// Each pending entry of `group` as `(delivery_ms, id)`, by ID: 24 bytes an entry held, not
    /// the records (a group may hold `pending_per_group_max` of them).
    fn delivery_times(&self, key: &[u8], group: &[u8]) -> Vec<(u64, StreamId)> {
        let mut out = Vec::new();
        let Some(first) = self.group_pending_first(key, group) else {
            return out;
        };
        let range = pel::id_range(key, group, first, StreamId::MAX);
        self.scan_records(Cf::Pel, &range, false, |k, v| {
            let id = pending_id_in(k, key, group)?;
            out.push((pel::decode_value(v)?.delivery_ms, id));
            Ok(true)
        });
        out
    }

    /// Adds `id`'s delivery record (delivered at `ms`) to its group's order.
    fn add_delivery(&mut self, key: &[u8], group: &[u8], ms: u64, id: StreamId) {
        let at = Delivery { ms, id };
        self.put(
            Cf::Pel,
            pel_by_delivery::key(key, group, at),
            pel_by_delivery::VALUE.to_vec(),
        );
        self.first_added(FirstScope::Delivery { key, group }, Position::Delivery(at));
    }

    /// Removes `id`'s delivery record (delivered at `ms`) from its group's order.
    fn delete_delivery(&mut self, key: &[u8], group: &[u8], ms: u64, id: StreamId) {
        let at = Delivery { ms, id };
        self.delete(Cf::Pel, pel_by_delivery::key(key, group, at));
        self.first_removed(FirstScope::Delivery { key, group }, Position::Delivery(at));
    }

    /// `at` is no longer taken in `scope`: if its record held `at`, the record is stale.
    fn first_removed(&mut self, scope: FirstScope, at: Position) {
        let record = scope.record();
        if self.stale_firsts.contains_key(&record) {
            // Still stale: `from` stays a lower bound, as removing places raises the first.
            return;
        }
        let kind = scope.kind();
        if self.get(kind.cf(), &record, |v| kind.decode(v)) != Some(at) {
            return;
        }
        match at.next() {
            Some(from) => {
                self.stale_firsts.insert(record, scope.stale_from(from));
            }
            None => self.set_first(kind, record, None),
        }
    }

    /// `at` is now taken in `scope`: the record must hold it if it comes first.
    fn first_added(&mut self, scope: FirstScope, at: Position) {
        let record = scope.record();
        if let Some(stale) = self.stale_firsts.get_mut(&record) {
            if at < stale.from {
                *stale = scope.stale_from(at);
            }
            return;
        }
        let kind = scope.kind();
        if self
            .get(kind.cf(), &record, |v| kind.decode(v))
            .is_none_or(|first| at < first)
        {
            self.put(kind.cf(), record, kind.encode(at));
        }
    }

    /// The first place taken in `scope`: its record's value, or the first at or after `from`
    /// when this txn made it stale.
    fn first_of(&self, scope: FirstScope) -> Option<Position> {
        let record = scope.record();
        match self.stale_firsts.get(&record) {
            Some(stale) => stale.scan(self),
            None => {
                let kind = scope.kind();
                self.get(kind.cf(), &record, |v| kind.decode(v))
            }
        }
    }

    /// Forgets stale records in `range` (of either family): their group or stream is gone.
    fn forget_stale_firsts(&mut self, range: &KeyRange) {
        self.stale_firsts
            .retain(|record, _| !range.contains(record));
    }

    /// No record for zero, so equal states have equal bytes (and digests) whatever their history.
    fn set_producer_count(&mut self, count: u64) {
        let key = producers::COUNT_KEY.to_vec();
        if count == 0 {
            self.delete(Cf::Producers, key);
        } else {
            self.put(Cf::Producers, key, producers::encode_count(count));
        }
    }
}
