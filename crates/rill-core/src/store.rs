//! The state the engine reads and writes, as a trait over typed records.
//!
//! `rill-storage` implements [`Store`] over RocksDB column families (one write batch per
//! command); [`crate::mem::MemStore`] implements it over `BTreeMap`s for tests. The engine sees
//! its own writes within a command: an implementation must answer reads from its pending writes.
//!
//! Every method is infallible. An implementation that meets an I/O error or undecodable bytes
//! records the error, answers as if the record were absent, and refuses to commit; a half-seen
//! state therefore never reaches disk.

use serde::{Deserialize, Serialize};

use crate::id::StreamId;

/// An entry's field-value pairs in insertion order.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Bytes a reply may spend on framing per entry and per field or value string, over both
/// protocols (RESP's `*2\r\n$N\r\n`, protobuf's tags and lengths): generous.
const ENTRY_FRAMING_BYTES: usize = 48;
const STRING_FRAMING_BYTES: usize = 16;

/// What an entry costs in a reply: its strings and their framing. The bound replies are held
/// to (`Limits::reply_bytes_max`); every store measures it so, so every replica and the model
/// refuse the same reads.
pub fn entry_reply_bytes(fields: &Fields) -> usize {
    ENTRY_FRAMING_BYTES
        + fields
            .iter()
            .map(|(f, v)| f.len() + v.len() + 2 * STRING_FRAMING_BYTES)
            .sum::<usize>()
}

/// Per-stream metadata: everything XINFO STREAM reports that is not derived from entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// Number of entries present.
    pub length: u64,
    /// Highest ID ever added (or set by XSETID); new IDs must be greater.
    pub last_id: StreamId,
    /// Smallest ID present, `0-0` when empty.
    pub first_id: StreamId,
    /// Highest ID ever deleted (XDEL or trimming), `0-0` if none.
    pub max_deleted_id: StreamId,
    /// Count of all entries ever added.
    pub entries_added: u64,
}

/// A consumer group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMeta {
    pub last_delivered_id: StreamId,
    /// Logical read counter (`entries-read`); `None` when unknown (Redis's -1).
    pub entries_read: Option<u64>,
    /// Size of the group's pending-entries list; kept in step with the PEL records.
    pub pending_count: u64,
    /// Pending entries no consumer holds (released by XNACK, Redis 8.8): XINFO STREAM FULL's
    /// `nacked-count`. Included in `pending_count`.
    pub nacked_count: u64,
    /// No pending entry's ID is above this one, so `XREADGROUP >` need not look each new entry
    /// up in the PEL (one is pending there only after XGROUP SETID moved the group back, or
    /// XCLAIM FORCE or XNACK FORCE made it so). `None`: not known (a group stored before it
    /// was kept, or never delivered to), and every new entry is looked up. Only ever raised,
    /// except that the first entry pending in an empty PEL sets it.
    pub pending_max: Option<StreamId>,
}

impl GroupMeta {
    /// Counts `id`, which was not pending, as pending.
    pub fn add_pending(&mut self, id: StreamId) {
        self.pending_max = match self.pending_max {
            _ if self.pending_count == 0 => Some(id),
            bound => bound.map(|max| max.max(id)),
        };
        self.pending_count += 1;
    }

    /// Whether `id` may be in the PEL: false when it is empty or `id` is above `pending_max`.
    pub fn may_hold(&self, id: StreamId) -> bool {
        self.pending_count > 0 && self.pending_max.is_none_or(|max| id <= max)
    }
}

/// A consumer within a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMeta {
    /// Last time the consumer tried to read or claim (`seen-time`, drives `idle`).
    pub seen_ms: u64,
    /// Last successful read or claim (`active-time`, drives `inactive`); `None` if never.
    pub active_ms: Option<u64>,
    /// Number of pending entries owned by this consumer.
    pub pending_count: u64,
}

/// One pending (delivered, unacknowledged) entry of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEntry {
    /// The consumer that holds it; empty for a released entry.
    pub consumer: Vec<u8>,
    /// 0 for a released entry, which therefore comes first in delivery order.
    pub delivery_ms: u64,
    pub delivery_count: u64,
    /// Released by XNACK (Redis 8.8): no consumer holds it (so it is in no consumer's index),
    /// and XCLAIM, XAUTOCLAIM and XREADGROUP's CLAIM take it whatever their minimum idle time.
    pub released: bool,
}

impl PendingEntry {
    /// A pending entry held by `consumer`, delivered at `delivery_ms`.
    pub fn held(consumer: &[u8], delivery_ms: u64, delivery_count: u64) -> PendingEntry {
        PendingEntry {
            consumer: consumer.to_vec(),
            delivery_ms,
            delivery_count,
            released: false,
        }
    }

    /// A pending entry no consumer holds (XNACK).
    pub fn released(delivery_count: u64) -> PendingEntry {
        PendingEntry {
            consumer: Vec::new(),
            delivery_ms: 0,
            delivery_count,
            released: true,
        }
    }

    /// The consumer that holds the entry, `None` once released.
    pub fn owner(&self) -> Option<&[u8]> {
        (!self.released).then_some(self.consumer.as_slice())
    }
}

/// A stream's IDMP settings and counters (Redis 8.6's `XADD ... IDMP|IDMPAUTO`, `XCFGSET`):
/// what XINFO STREAM reports of them. A stream without a record has the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdmpMeta {
    /// How long an iid is remembered, in seconds (`idmp-duration`).
    pub duration_s: u64,
    /// How many iids each producer keeps, oldest forgotten first (`idmp-maxsize`).
    pub maxsize: u64,
    /// Producers with at least one iid remembered (`pids-tracked`).
    pub pids_tracked: u64,
    /// iids remembered, over all producers (`iids-tracked`).
    pub iids_tracked: u64,
    /// iids ever recorded (`iids-added`), kept across XCFGSET.
    pub iids_added: u64,
    /// XADDs answered with a remembered ID (`iids-duplicates`), kept across XCFGSET.
    pub iids_duplicates: u64,
}

impl IdmpMeta {
    pub const DURATION_S_DEFAULT: u64 = 100;
    pub const DURATION_S_MAX: u64 = 86_400;
    pub const MAXSIZE_DEFAULT: u64 = 100;
    pub const MAXSIZE_MAX: u64 = 10_000;
}

impl Default for IdmpMeta {
    fn default() -> IdmpMeta {
        IdmpMeta {
            duration_s: IdmpMeta::DURATION_S_DEFAULT,
            maxsize: IdmpMeta::MAXSIZE_DEFAULT,
            pids_tracked: 0,
            iids_tracked: 0,
            iids_added: 0,
            iids_duplicates: 0,
        }
    }
}

/// One remembered iid: producer `pid`'s XADD tagged `iid` got `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdmpRecord {
    pub id: StreamId,
    pub pid: Vec<u8>,
    pub iid: Vec<u8>,
}

/// What the state machine remembers of an idempotent producer ([`crate::command::Produce`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerState {
    /// The highest sequence number applied.
    pub last_seq: u64,
    /// The ID that sequence number's XADD answered.
    pub last_id: StreamId,
    /// The [`ProducerClock`] at the producer's last write; it expires `Limits::producer_idle_ms`
    /// later by that clock.
    pub touched_ms: u64,
}

/// The clock idle producers expire by: stamps, except that a stamp ahead of the last one by
/// more than [`ProducerClock::STEP_MAX_MS`] advances it by that much only. A leader whose clock
/// runs minutes fast then cannot forget every producer at once; producers of a cluster with
/// gaps longer than the step between producer writes are remembered longer than
/// `Limits::producer_idle_ms`, never shorter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerClock {
    /// The highest stamp seen by a producer write.
    pub stamp_ms: u64,
    /// The clock's reading, in the stamps' epoch.
    pub idle_ms: u64,
}

impl ProducerClock {
    pub const STEP_MAX_MS: u64 = 60_000;

    /// The clock after a producer write stamped `now_ms`. Starts at the first stamp.
    pub fn advanced(clock: Option<ProducerClock>, now_ms: u64) -> ProducerClock {
        let Some(clock) = clock else {
            return ProducerClock {
                stamp_ms: now_ms,
                idle_ms: now_ms,
            };
        };
        let step = now_ms.saturating_sub(clock.stamp_ms).min(Self::STEP_MAX_MS);
        ProducerClock {
            stamp_ms: clock.stamp_ms.max(now_ms),
            idle_ms: clock.idle_ms + step,
        }
    }
}

/// Typed access to streams, entries, groups, consumers and pending entries.
///
/// Ranges are inclusive on both ends. Listings return at most `limit` records.
pub trait Store {
    fn stream(&self, key: &[u8]) -> Option<StreamMeta>;
    fn put_stream(&mut self, key: &[u8], meta: &StreamMeta);
    /// Removes the stream and everything under it: entries, groups, consumers, pending entries.
    fn delete_stream(&mut self, key: &[u8]);
    /// Stream keys in byte order, strictly after `after` when given.
    fn stream_keys(&self, after: Option<&[u8]>, limit: usize) -> Vec<Vec<u8>>;

    fn entry(&self, key: &[u8], id: StreamId) -> Option<Fields>;
    /// Entries with `start <= id <= end`, ascending, or descending when `rev`.
    fn entries(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        limit: usize,
    ) -> Vec<(StreamId, Fields)>;
    /// As [`Store::entries`], also ending with the first entry that brings the sum of
    /// [`entry_reply_bytes`] past `bytes_max`: a read never loads much more than it may answer.
    fn entries_within(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        limit: usize,
        bytes_max: usize,
    ) -> Vec<(StreamId, Fields)>;
    /// Hands entry IDs with `start <= id <= end` to `visit`, ascending (descending when `rev`),
    /// until it returns false. Reads no fields: trimming counts and seeks with it.
    fn visit_entry_ids(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        visit: &mut dyn FnMut(StreamId) -> bool,
    );
    fn put_entry(&mut self, key: &[u8], id: StreamId, fields: &Fields);
    fn delete_entry(&mut self, key: &[u8], id: StreamId);
    /// Removes every entry below `below` (every entry when `None`): exactly `count` of them,
    /// as the caller counted. An implementation may choose by `count` how to remove them (a
    /// large head is one range delete, not one tombstone per entry).
    fn delete_entries_below(&mut self, key: &[u8], below: Option<StreamId>, count: u64);

    /// Groups of a stream, by name.
    fn groups(&self, key: &[u8]) -> Vec<(Vec<u8>, GroupMeta)>;
    fn group(&self, key: &[u8], group: &[u8]) -> Option<GroupMeta>;
    fn put_group(&mut self, key: &[u8], group: &[u8], meta: &GroupMeta);
    /// Removes the group with its consumers and pending entries.
    fn delete_group(&mut self, key: &[u8], group: &[u8]);

    /// Consumers of a group, by name.
    fn consumers(&self, key: &[u8], group: &[u8]) -> Vec<(Vec<u8>, ConsumerMeta)>;
    fn consumer(&self, key: &[u8], group: &[u8], consumer: &[u8]) -> Option<ConsumerMeta>;
    fn put_consumer(&mut self, key: &[u8], group: &[u8], consumer: &[u8], meta: &ConsumerMeta);
    /// Removes the consumer record only. The caller removes its pending entries first.
    fn delete_consumer(&mut self, key: &[u8], group: &[u8], consumer: &[u8]);

    fn pending(&self, key: &[u8], group: &[u8], id: StreamId) -> Option<PendingEntry>;
    /// The group's pending entries with `start <= id <= end`, ascending.
    fn pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<(StreamId, PendingEntry)>;
    /// The group's highest pending ID.
    fn last_pending(&self, key: &[u8], group: &[u8]) -> Option<StreamId>;
    /// Inserts or replaces a pending entry, keeping the per-consumer index in step (an entry
    /// that changes owner leaves the old owner's index). `old` is the record it replaces as
    /// the caller read it (`None`: not pending), so a store that keeps indexes finds the old
    /// record's index records without reading it again.
    fn put_pending(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        old: Option<&PendingEntry>,
        entry: &PendingEntry,
    );
    /// Removes pending entry `old`, as the caller read it, and its index records.
    fn delete_pending(&mut self, key: &[u8], group: &[u8], id: StreamId, old: &PendingEntry);
    /// The group's pending entries in delivery order (earliest `delivery_ms` first, then by
    /// ID), each handed to `visit` as `(delivery_ms, id)` until it returns false. From an
    /// index once the group keeps one ([`Store::keep_delivery_order`]): the cost follows the
    /// entries visited, not the group's history. Before, the whole PEL is read and sorted.
    fn visit_pending_by_delivery(
        &self,
        key: &[u8],
        group: &[u8],
        visit: &mut dyn FnMut(u64, StreamId) -> bool,
    );
    /// From now on `group` (which exists) keeps its pending entries in delivery order, an
    /// index written and deleted with each pending entry: ordered once, from its PEL, the
    /// first time. Only a CLAIM read needs the order, so only a group read with CLAIM pays
    /// for it; the others write no index record per delivery.
    fn keep_delivery_order(&mut self, key: &[u8], group: &[u8]);
    /// IDs pending for one consumer with `start <= id <= end`, ascending, from the per-consumer
    /// index (no scan of the whole group).
    fn consumer_pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<StreamId>;

    /// The stamp of the last change to `key` that WATCH sees (an entry added or removed, the
    /// stream created by XGROUP CREATE MKSTREAM): `None` for a stream no change was stamped on
    /// (one kept by a build before stamps). `delete_stream` removes the stamp with the stream.
    fn key_version(&self, key: &[u8]) -> Option<u64>;
    /// Stamps a change to `key`: with the next value of the store's change counter, so a
    /// stamp never repeats.
    fn touch(&mut self, key: &[u8]);

    /// The stream's IDMP settings and counters; `None` when never written (the defaults).
    fn idmp_meta(&self, key: &[u8]) -> Option<IdmpMeta>;
    fn put_idmp_meta(&mut self, key: &[u8], meta: &IdmpMeta);
    /// The ID producer `pid`'s XADD tagged `iid` got, while remembered.
    fn idmp_id(&self, key: &[u8], pid: &[u8], iid: &[u8]) -> Option<StreamId>;
    /// The iid remembered with the entry ID `id`, if any.
    fn idmp_at(&self, key: &[u8], id: StreamId) -> Option<IdmpRecord>;
    /// Remembers `record`; no iid is remembered with its ID (see [`Store::idmp_at`]).
    fn put_idmp(&mut self, key: &[u8], record: &IdmpRecord);
    fn delete_idmp(&mut self, key: &[u8], record: &IdmpRecord);
    /// The oldest remembered iid of the stream, or of one producer.
    fn oldest_idmp(&self, key: &[u8], pid: Option<&[u8]>) -> Option<IdmpRecord>;
    /// The stream's remembered iids, oldest first.
    fn idmp_records(&self, key: &[u8], limit: usize) -> Vec<IdmpRecord>;
    /// How many iids producer `pid` has remembered on the stream.
    fn idmp_count(&self, key: &[u8], pid: &[u8]) -> u64;
    /// Forgets every remembered iid of the stream (not its [`IdmpMeta`]). `delete_stream`
    /// removes both.
    fn clear_idmp(&mut self, key: &[u8]);

    fn producer(&self, producer: &[u8]) -> Option<ProducerState>;
    /// Inserts or replaces a producer, keeping the idle index and the count in step.
    fn put_producer(&mut self, producer: &[u8], state: &ProducerState);
    fn delete_producer(&mut self, producer: &[u8]);
    fn producer_count(&self) -> u64;
    fn producer_clock(&self) -> Option<ProducerClock>;
    fn put_producer_clock(&mut self, clock: &ProducerClock);
    /// Producers whose `touched_ms` is below `before_ms`, least recently touched first.
    fn idle_producers(&self, before_ms: u64, limit: usize) -> Vec<Vec<u8>>;
}
