//! The replicated log on disk, as bytes: entries by index in `raft_log`, the vote and the
//! committed and last purged log ids in `raft_meta`. The replication layer owns the encoding;
//! this module owns durability and the checks that bytes come back as written.
//!
//! ```text
//!   log_append([(i, bytes), (i+1, bytes), ..]) ─▶ one WriteBatch, fsynced ─▶ returns
//!   log_write(same)        one WriteBatch, not fsynced; log_flush() later fsyncs it and every
//!                          write before (group commit: one fsync for many appends)
//!   log_truncate_from(i)   removes [i, ..)        one WriteBatch, fsynced
//!   log_purge_upto(i, id)  removes [.., i] and records the last purged id, one WriteBatch, fsynced
//!   log_meta_put(Vote, bytes)                     fsynced (all but the committed-id hint)
//! ```
//!
//! These writes are fsynced unless `DbOptions::log_sync` is off (benchmarks only): Raft tells
//! a peer an entry or a vote is stored only after this returns, and a promise a node cannot
//! keep after a power loss breaks the protocol's safety, not just this node's recency.

use std::sync::atomic::Ordering;

use rocksdb::{ReadOptions, WriteBatch, DB};

use crate::cf::raft_log;
use crate::cf::raft_meta::{self, LogMeta};
use crate::cf::Cf;
use crate::checked;
use crate::db::Db;
use crate::error::StorageError;

impl Db {
    /// Appends entries `(index, bytes)` in one atomic, fsynced `WriteBatch`; returns once they
    /// are durable. Indexes must be consecutive and increasing; an entry already at an index is
    /// replaced.
    pub fn log_append(&self, entries: &[(u64, Vec<u8>)]) -> Result<(), StorageError> {
        self.log_put(entries, self.log_sync())
    }

    /// As [`Db::log_append`], without the fsync: the entries are readable at once and durable
    /// only after the next [`Db::log_flush`] (or any later fsynced write) returns.
    pub fn log_write(&self, entries: &[(u64, Vec<u8>)]) -> Result<(), StorageError> {
        self.log_put(entries, false)
    }

    /// Makes every write before it durable: one fsync of the write-ahead log (none when
    /// `DbOptions::log_sync` is off).
    pub fn log_flush(&self) -> Result<(), StorageError> {
        if !self.log_sync() {
            return Ok(());
        }
        self.sync_wal()
    }

    /// Notes that the log's entries up to `index` were reported stored (the replication
    /// layer's record, for the simulator's crash check: a power loss may take a log's tail,
    /// but nothing at or below this).
    pub fn log_reported_stored(&self, index: u64) {
        self.log_reported.fetch_max(index, Ordering::AcqRel);
    }

    /// The highest index [`Db::log_reported_stored`] noted, lowered by truncations below it.
    pub fn log_reported(&self) -> u64 {
        self.log_reported.load(Ordering::Acquire)
    }

    /// As [`Db::log_write`], but `Ok(false)`, having written nothing, where RocksDB would
    /// stall the write until a memtable flush ends: for a caller on an async task.
    pub fn log_write_unless_stalled(
        &self,
        entries: &[(u64, Vec<u8>)],
    ) -> Result<bool, StorageError> {
        match self.log_batch(entries) {
            None => Ok(true),
            Some(batch) => self.write_batch_unless_stalled(batch),
        }
    }

    fn log_put(&self, entries: &[(u64, Vec<u8>)], sync: bool) -> Result<(), StorageError> {
        match self.log_batch(entries) {
            None => Ok(()),
            Some(batch) => self.write_batch(batch, sync),
        }
    }

    /// The batch that writes `entries`, `None` if there are none.
    fn log_batch(&self, entries: &[(u64, Vec<u8>)]) -> Option<WriteBatch> {
        for pair in entries.windows(2) {
            assert_eq!(
                pair[0].0.checked_add(1),
                Some(pair[1].0),
                "log entries appended out of order or with a hole"
            );
        }
        if entries.is_empty() {
            return None;
        }
        let mut batch = WriteBatch::default();
        for (index, bytes) in entries {
            let key = raft_log::key(*index);
            batch.put_cf(self.handle(Cf::RaftLog), key, checked::encode(&key, bytes));
        }
        Some(batch)
    }

    /// Entries with `start <= index < end`, ascending. Missing indexes are simply absent.
    pub fn log_range(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        let mut options = ReadOptions::default();
        options.set_iterate_upper_bound(raft_log::key(end));
        let mut iter = self
            .rocks()
            .raw_iterator_cf_opt(self.handle(Cf::RaftLog), options);
        iter.seek(raft_log::key(start));
        while let Some((key, value)) = iter.item() {
            let entry = decode_entry(key, value)?;
            assert!(
                (start..end).contains(&entry.0),
                "log iterator left its bounds"
            );
            out.push(entry);
            iter.next();
        }
        iter.status()?;
        Ok(out)
    }

    /// The entry with the lowest index, if the log holds any.
    pub fn log_first(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        self.log_edge(true)
    }

    /// The entry with the highest index, if the log holds any.
    pub fn log_last(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        self.log_edge(false)
    }

    /// Removes every entry at `index` and after, fsynced.
    pub fn log_truncate_from(&self, index: u64) -> Result<(), StorageError> {
        self.log_remove(index, &raft_log::end_of_log())
    }

    /// Removes only the entry at `index`, fsynced: a truncation that keeps a stale suffix,
    /// for the simulator's planted bug (`rill_raft::Bugs::truncate_keeps_stale_suffix`).
    pub fn log_truncate_one(&self, index: u64) -> Result<(), StorageError> {
        match index.checked_add(1) {
            Some(end) => self.log_remove(index, &raft_log::key(end)),
            None => self.log_remove(index, &raft_log::end_of_log()),
        }
    }

    fn log_remove(&self, from: u64, to: &[u8]) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.handle(Cf::RaftLog), &raft_log::key(from)[..], to);
        self.write_synced(batch)?;
        // What was reported stored there is gone, by design.
        self.log_reported
            .fetch_min(from.saturating_sub(1), Ordering::AcqRel);
        Ok(())
    }

    /// Removes every entry up to and including `index` and records `last_purged` (the encoded
    /// log id of `index`) under [`LogMeta::LastPurged`], in one fsynced `WriteBatch`.
    ///
    /// The range delete starts at the previous purge's end, so purges leave disjoint range
    /// tombstones, and later reads of the head seek past them ([`Db::log_first`]).
    pub fn log_purge_upto(&self, index: u64, last_purged: &[u8]) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        let log = self.handle(Cf::RaftLog);
        let floor = self.log_floor.load(Ordering::Acquire);
        let end = index.checked_add(1);
        match end {
            Some(end) if end <= floor => {}
            Some(end) => {
                batch.delete_range_cf(log, &raft_log::key(floor)[..], &raft_log::key(end)[..])
            }
            None => {
                batch.delete_range_cf(log, &raft_log::key(floor)[..], &raft_log::end_of_log()[..])
            }
        }
        let key = raft_meta::key(LogMeta::LastPurged);
        batch.put_cf(
            self.handle(Cf::RaftMeta),
            key,
            checked::encode(&key, last_purged),
        );
        self.write_synced(batch)?;
        self.log_floor
            .fetch_max(end.unwrap_or(u64::MAX), Ordering::AcqRel);
        Ok(())
    }

    /// Stores one log record, fsynced when [`LogMeta::needs_fsync`] says so.
    pub fn log_meta_put(&self, meta: LogMeta, bytes: &[u8]) -> Result<(), StorageError> {
        self.log_meta_write(meta, bytes, meta.needs_fsync())
    }

    /// Stores one log record without an fsync, whatever it is: for the simulator's planted
    /// bug (`rill_raft::Bugs::vote_not_fsynced`).
    pub fn log_meta_put_unsynced(&self, meta: LogMeta, bytes: &[u8]) -> Result<(), StorageError> {
        self.log_meta_write(meta, bytes, false)
    }

    fn log_meta_write(&self, meta: LogMeta, bytes: &[u8], sync: bool) -> Result<(), StorageError> {
        let key = raft_meta::key(meta);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.handle(Cf::RaftMeta), key, checked::encode(&key, bytes));
        if sync {
            return self.write_synced(batch);
        }
        self.write_batch(batch, false)
    }

    /// The bytes last stored under `meta`, if any.
    pub fn log_meta_get(&self, meta: LogMeta) -> Result<Option<Vec<u8>>, StorageError> {
        let key = raft_meta::key(meta);
        let Some(value) = self.rocks().get_cf(self.handle(Cf::RaftMeta), key)? else {
            return Ok(None);
        };
        let payload = checked::decode(&key, &value).map_err(|source| StorageError::Corrupt {
            cf: Cf::RaftMeta.name(),
            key: key.to_vec(),
            source,
        })?;
        Ok(Some(payload.to_vec()))
    }

    fn log_edge(&self, first: bool) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(raft_log::key(self.log_floor.load(Ordering::Acquire)));
        let mut iter = self
            .rocks()
            .raw_iterator_cf_opt(self.handle(Cf::RaftLog), options);
        if first {
            iter.seek_to_first();
        } else {
            iter.seek_to_last();
        }
        let entry = match iter.item() {
            Some((key, value)) => Some(decode_entry(key, value)?),
            None => None,
        };
        iter.status()?;
        Ok(entry)
    }

    fn write_synced(&self, batch: WriteBatch) -> Result<(), StorageError> {
        self.write_batch(batch, self.log_sync())
    }
}

/// The lowest index in the log, or 0 when it is empty: where [`Db`] starts its log floor on
/// open. Walks whatever tombstones lie before it, once.
pub(crate) fn first_log_index(rocks: &DB) -> Result<u64, StorageError> {
    let handle = rocks
        .cf_handle(Cf::RaftLog.name())
        .expect("column family created at open");
    let mut iter = rocks.raw_iterator_cf(handle);
    iter.seek_to_first();
    let first = match iter.key() {
        Some(key) => raft_log::decode_key(key).map_err(|source| StorageError::Corrupt {
            cf: Cf::RaftLog.name(),
            key: key.to_vec(),
            source,
        })?,
        None => 0,
    };
    iter.status()?;
    Ok(first)
}

fn decode_entry(key: &[u8], value: &[u8]) -> Result<(u64, Vec<u8>), StorageError> {
    let corrupt = |source| StorageError::Corrupt {
        cf: Cf::RaftLog.name(),
        key: key.to_vec(),
        source,
    };
    let index = raft_log::decode_key(key).map_err(corrupt)?;
    let payload = checked::decode(key, value).map_err(corrupt)?;
    Ok((index, payload.to_vec()))
}
