//! What a [`crate::Txn`] has read from its snapshot, so a key read twice costs one RocksDB `Get`,
//! and what the commits before it wrote and read, so a record read in the next batch costs none.
//!
//! ```text
//!   get_raw(cf, key) ──▶ overlay (own writes) ──miss──▶ read cache ──miss──▶ snapshot Get
//!                                                            ▲                    │
//!                                                            └──── remembered ────┘
//!   commit at index N: read cache + the overlay's writes ──▶ Warm { as_of: N } ──▶ next begin
//! ```
//!
//! A snapshot never changes, so what it answered once stays its answer: the cache needs no
//! invalidation, and the overlay, read first, keeps the txn's own writes in front of it. Applying
//! a batch reads the same few records many times: delivering an entry reads its pending record
//! twice and the lowest-pending records of its group, of the group's delivery order and of its
//! consumer once each; acknowledging it reads its pending record twice. Measured with
//! `apply_bench 50000 26 3` against the build before, six alternating rounds: 2% to 14% less
//! time per XREADGROUP or XACK (mean 7%), and no round slower. XADD, which reads little twice,
//! costs the same.
//!
//! Across batches ([`Warm`]): a commit leaves what its txn remembered, with its writes laid over
//! it, as the records that hold at its applied index; the next write txn starts with them if its
//! snapshot is at that index (`Db::begin`). An XACK then finds the pending records its
//! XREADGROUP wrote a few log entries before without a RocksDB `Get`: with fifty consumers the
//! memtable holds hundreds of thousands of records, and each `Get` was a search from the top of
//! its skiplist with a cache miss per level (a quarter of a follower's `perf` samples were
//! skiplist searches, inserts and their key compares; in `apply_bench`, the XACK's reads of
//! its pending records were 14% of the instructions). Writes the next batches will not read
//! by key are left out ([`Remembered::written`]); a deleted record is forgotten, not
//! remembered absent; a range delete forgets its family; entries read by key are not handed on
//! either. In debug builds (every test and simulation) every answer the cache gives is checked
//! against the snapshot.
//!
//! Bounded by bytes: once [`READ_CACHE_BYTES_MAX`] are held, further reads go to the snapshot
//! every time, so a batch that reads many keys does not hold them all; a commit that would hand
//! on more than half of that hands on nothing, so the next batch has room for its own reads.
//! Only a write txn uses its cache. Outside tests only the state machine begins one, a batch at
//! a time, and the proposer's dry run for the planted bug `reply_before_commit` (which takes
//! the warm records: the next batch starts cold).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::cf::{Cf, KeyTag};

/// The most one txn remembers, keys, values and [`RECORD_OVERHEAD_BYTES`] per record counted.
pub(crate) const READ_CACHE_BYTES_MAX: usize = 1 << 20;

/// What a remembered record is charged beyond its key and value: the map's slot and the two
/// vectors' headers. It also bounds the count: at most `READ_CACHE_BYTES_MAX /
/// RECORD_OVERHEAD_BYTES` records.
pub(crate) const RECORD_OVERHEAD_BYTES: usize = 96;

pub(crate) const READ_CACHE_RECORDS_MAX: usize = READ_CACHE_BYTES_MAX / RECORD_OVERHEAD_BYTES;

const _: () = assert!(READ_CACHE_RECORDS_MAX >= 1024 && READ_CACHE_RECORDS_MAX <= 1 << 16);

/// The most a commit hands on to the next write txn ([`Warm`]): the rest of the bound is room
/// for that txn's own reads.
pub(crate) const WARM_BYTES_MAX: usize = READ_CACHE_BYTES_MAX / 2;

/// A written value longer than this is not kept warm: a big record would crowd out many small
/// ones, and the records read by key in every batch (metadata, pending entries, lowest-pending
/// records) are far smaller.
pub(crate) const WARM_VALUE_BYTES_MAX: usize = 1024;

const _: () = assert!(WARM_VALUE_BYTES_MAX + RECORD_OVERHEAD_BYTES < WARM_BYTES_MAX / 64);

type Records = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// Behind a mutex: reads take `&self`, and `Txn` must stay `Sync` (read views are shared).
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    inner: Mutex<Remembered>,
}

/// Records by family, each `Some(value)` or `None` (absent), and the bytes they are charged.
#[derive(Debug, Default)]
pub(crate) struct Remembered {
    records: [Records; Cf::ALL.len()],
    bytes: usize,
}

/// What held at applied index `as_of`, handed from a commit to the next write txn.
#[derive(Debug)]
pub(crate) struct Warm {
    pub(crate) as_of: u64,
    pub(crate) records: Remembered,
}

fn cost(key: &[u8], value: Option<&[u8]>) -> usize {
    RECORD_OVERHEAD_BYTES + key.len() + value.map_or(0, <[u8]>::len)
}

/// Whether records of `cf` are handed on: state, but not entries (big, read by scans).
fn family_kept_warm(cf: Cf) -> bool {
    Cf::STATE.contains(&cf) && cf != Cf::Entries
}

/// Whether a record written by a commit in a family that is handed on stays warm: not index
/// records only ever scanned, nor a big value.
fn record_kept_warm(key: &[u8], value: &[u8]) -> bool {
    const SCANNED_ONLY: [u8; 3] = [
        KeyTag::ConsumerPending as u8,
        KeyTag::PendingByDelivery as u8,
        KeyTag::ProducerIdle as u8,
    ];
    value.len() <= WARM_VALUE_BYTES_MAX
        && key.first().is_some_and(|tag| !SCANNED_ONLY.contains(tag))
}

impl Remembered {
    /// The commit writes `value` (`None`: deletes) at `key`: remembered if it stays warm,
    /// forgotten otherwise. Not bounded here: [`Remembered::into_warm`] bounds the whole.
    pub(crate) fn written(&mut self, cf: Cf, key: Vec<u8>, value: Option<Vec<u8>>) {
        if !family_kept_warm(cf) {
            // The whole family is forgotten when handed on: nothing to look up per record.
            return;
        }
        match value {
            Some(value) if record_kept_warm(&key, &value) => self.set(cf, key, Some(value)),
            _ => self.forget(cf, &key),
        }
    }

    /// The commit deletes a range of `cf`: nothing of the family is known any more.
    pub(crate) fn range_deleted(&mut self, cf: Cf) {
        self.forget_family(cf);
    }

    /// What holds once the commit at `as_of` is written, for the next write txn: only the
    /// families handed on, and nothing if that passes [`WARM_BYTES_MAX`].
    pub(crate) fn into_warm(mut self, as_of: u64) -> Warm {
        for cf in Cf::ALL {
            if !family_kept_warm(cf) {
                self.forget_family(cf);
            }
        }
        if self.bytes > WARM_BYTES_MAX {
            self = Remembered::default();
        }
        Warm {
            as_of,
            records: self,
        }
    }

    fn set(&mut self, cf: Cf, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.bytes += cost(&key, value.as_deref());
        if let Some((key, old)) = self.records[cf.index()].remove_entry(&key) {
            self.bytes -= cost(&key, old.as_deref());
        }
        self.records[cf.index()].insert(key, value);
    }

    /// Nothing is remembered of `key` any more.
    fn forget(&mut self, cf: Cf, key: &[u8]) {
        if let Some((key, old)) = self.records[cf.index()].remove_entry(key) {
            self.bytes -= cost(&key, old.as_deref());
        }
    }

    /// Nothing is remembered of `cf` any more.
    fn forget_family(&mut self, cf: Cf) {
        for (key, value) in self.records[cf.index()].drain() {
            self.bytes -= cost(&key, value.as_deref());
        }
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let records = self.records.iter().map(HashMap::len).sum();
        (records, self.bytes)
    }

    /// What is remembered of `key`, if anything.
    #[cfg(test)]
    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.records[cf.index()].get(key)
    }
}

impl ReadCache {
    /// A cache that starts with `records`.
    pub(crate) fn starting_with(records: Remembered) -> ReadCache {
        ReadCache {
            inner: Mutex::new(records),
        }
    }

    /// What the cache holds, for the commit to hand on.
    pub(crate) fn into_remembered(self) -> Remembered {
        self.inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The records, also after a panic on another thread: each change to them is one insert,
    /// so a poisoned lock still guards whole records.
    fn lock(&self) -> MutexGuard<'_, Remembered> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The snapshot's answer for `key` if it was read before: `Some(None)` absent.
    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let inner = self.lock();
        inner.records[cf.index()].get(key).cloned()
    }

    /// Remembers the snapshot's answer for `key`, unless that would pass the byte bound.
    pub(crate) fn remember(&self, cf: Cf, key: &[u8], value: Option<&[u8]>) {
        let cost = cost(key, value);
        let mut inner = self.lock();
        if inner.bytes + cost > READ_CACHE_BYTES_MAX {
            return;
        }
        let fresh = inner.records[cf.index()]
            .insert(key.to_vec(), value.map(<[u8]>::to_vec))
            .is_none();
        if fresh {
            inner.bytes += cost;
        }
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        self.lock().held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_present_and_absent_records_per_family() {
        let cache = ReadCache::default();
        assert_eq!(cache.get(Cf::Pel, b"a"), None);
        cache.remember(Cf::Pel, b"a", Some(b"1"));
        cache.remember(Cf::Pel, b"b", None);
        assert_eq!(cache.get(Cf::Pel, b"a"), Some(Some(b"1".to_vec())));
        assert_eq!(cache.get(Cf::Pel, b"b"), Some(None));
        assert_eq!(cache.get(Cf::Entries, b"a"), None, "families are apart");
    }

    #[test]
    fn stops_remembering_at_the_byte_bound() {
        let cache = ReadCache::default();
        let value = vec![7u8; 4096];
        let mut remembered = 0;
        for i in 0..1000u32 {
            cache.remember(Cf::Entries, &i.to_be_bytes(), Some(&value));
            if cache.get(Cf::Entries, &i.to_be_bytes()).is_some() {
                remembered += 1;
            }
        }
        let (records, bytes) = cache.held();
        assert_eq!(records, remembered);
        assert!(bytes <= READ_CACHE_BYTES_MAX, "{bytes} bytes held");
        assert!(
            remembered < 1000 && remembered > 200,
            "{remembered} remembered"
        );
        // Small records still fit the room left after the big ones stopped.
        for i in 0..100_000u32 {
            cache.remember(Cf::Pel, &i.to_be_bytes(), None);
        }
        let (records, bytes) = cache.held();
        assert!(bytes <= READ_CACHE_BYTES_MAX, "{bytes} bytes held");
        assert!(records <= READ_CACHE_RECORDS_MAX, "{records} records held");
    }
}
