//! What a [`crate::Txn`] has read from its snapshot, so a key read twice costs one RocksDB `Get`.
//!
//! ```text
//!   get_raw(cf, key) ──▶ overlay (own writes) ──miss──▶ read cache ──miss──▶ snapshot Get
//!                                                            ▲                    │
//!                                                            └──── remembered ────┘
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
//! Bounded by bytes: once [`READ_CACHE_BYTES_MAX`] are held, further reads go to the snapshot
//! every time, so a batch that reads many keys does not hold them all. Only a write txn uses
//! its cache, and outside tests only the state machine begins one, a batch at a time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::cf::Cf;

/// The most one txn remembers, keys, values and [`RECORD_OVERHEAD_BYTES`] per record counted.
pub(crate) const READ_CACHE_BYTES_MAX: usize = 1 << 20;

/// What a remembered record is charged beyond its key and value: the map's slot and the two
/// vectors' headers. It also bounds the count: at most `READ_CACHE_BYTES_MAX /
/// RECORD_OVERHEAD_BYTES` records.
pub(crate) const RECORD_OVERHEAD_BYTES: usize = 96;

pub(crate) const READ_CACHE_RECORDS_MAX: usize = READ_CACHE_BYTES_MAX / RECORD_OVERHEAD_BYTES;

const _: () = assert!(READ_CACHE_RECORDS_MAX >= 1024 && READ_CACHE_RECORDS_MAX <= 1 << 16);

type Records = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// Behind a mutex: reads take `&self`, and `Txn` must stay `Sync` (read views are shared).
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: [Records; Cf::ALL.len()],
    bytes: usize,
}

impl ReadCache {
    /// The records, also after a panic on another thread: each change to them is one insert,
    /// so a poisoned lock still guards whole records.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The snapshot's answer for `key` if it was read before: `Some(None)` absent.
    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let inner = self.lock();
        inner.records[cf.index()].get(key).cloned()
    }

    /// Remembers the snapshot's answer for `key`, unless that would pass the byte bound.
    pub(crate) fn remember(&self, cf: Cf, key: &[u8], value: Option<&[u8]>) {
        let cost = RECORD_OVERHEAD_BYTES + key.len() + value.map_or(0, <[u8]>::len);
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
        let inner = self.lock();
        let records = inner.records.iter().map(HashMap::len).sum();
        (records, inner.bytes)
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
