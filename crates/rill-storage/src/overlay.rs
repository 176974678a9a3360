//! A transaction's pending writes, answered before the snapshot so the engine sees its own
//! writes within a command.
//!
//! ```text
//!   read(cf, key):  writes[cf][key]  ──hit──▶ Some(value) / None (deleted)
//!                        │ miss
//!                   range_deletes ───cover──▶ None
//!                        │ no cover
//!                   snapshot
//! ```
//!
//! A range delete drops the overlay writes it covers and is remembered; writes made after it
//! land in `writes` again. Commit therefore emits all range deletes first and the point writes
//! after them, which replays the same final state in one `WriteBatch`.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included};

use rocksdb::{ColumnFamily, WriteBatch};

use crate::cf::Cf;
use crate::codec::KeyRange;
use crate::read_cache::Remembered;

type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// What a written overlay held that the compactor wants to hear about.
pub(crate) struct Written {
    /// Range deletes over enough data to compact.
    pub(crate) reclaim: Vec<(Cf, KeyRange)>,
    /// Point deletes per family, by [`Cf::index`].
    pub(crate) point_deletes: [u64; Cf::ALL.len()],
}

#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// Latest write per key and family; `None` is a point delete.
    writes: [Writes; Cf::ALL.len()],
    /// Range deletes in the order they were made.
    range_deletes: Vec<(Cf, KeyRange)>,
    /// Range deletes over enough data to compact once committed (`crate::compactor`).
    reclaim: Vec<(Cf, KeyRange)>,
}

impl Overlay {
    pub(crate) fn put(&mut self, cf: Cf, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.writes[cf.index()].insert(key, value);
    }

    pub(crate) fn delete_range(&mut self, cf: Cf, range: KeyRange) {
        assert!(!range.is_empty(), "empty range delete {range:?}");
        let writes = &mut self.writes[cf.index()];
        let covered: Vec<Vec<u8>> = writes
            .range::<[u8], _>(bounds(&range))
            .map(|(k, _)| k.clone())
            .collect();
        for key in covered {
            writes.remove(&key);
        }
        self.range_deletes.push((cf, range));
    }

    /// A range delete whose disk is worth compacting right after the commit.
    pub(crate) fn delete_range_reclaimed(&mut self, cf: Cf, range: KeyRange) {
        self.reclaim.push((cf, range.clone()));
        self.delete_range(cf, range);
    }

    /// The overlay's answer for `key`: `Some(Some(v))` written, `Some(None)` deleted, `None` to be
    /// read from the snapshot.
    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Option<Option<&[u8]>> {
        if let Some(value) = self.writes[cf.index()].get(key) {
            return Some(value.as_deref());
        }
        if self.covering_range(cf, key).is_some() {
            return Some(None);
        }
        None
    }

    /// A range delete of this transaction that covers `key`, if any.
    pub(crate) fn covering_range(&self, cf: Cf, key: &[u8]) -> Option<&KeyRange> {
        self.range_deletes
            .iter()
            .find(|(c, range)| *c == cf && range.contains(key))
            .map(|(_, range)| range)
    }

    /// True when the overlay has a point write (or delete) for `key`, which hides the snapshot's.
    pub(crate) fn shadows(&self, cf: Cf, key: &[u8]) -> bool {
        self.writes[cf.index()].contains_key(key)
    }

    /// Live (not deleted) overlay records of `cf` within `range`, in scan direction.
    pub(crate) fn live<'a>(
        &'a self,
        cf: Cf,
        range: &KeyRange,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a> {
        let records = self.writes[cf.index()].range::<[u8], _>(bounds(range));
        let live =
            |(k, v): (&'a Vec<u8>, &'a Option<Vec<u8>>)| v.as_deref().map(|v| (k.as_slice(), v));
        if rev {
            Box::new(records.rev().filter_map(live))
        } else {
            Box::new(records.filter_map(live))
        }
    }

    /// Appends everything to `batch`: range deletes first, then point writes (see module doc).
    /// Lays the same writes over `warm`, which then holds what the batch leaves
    /// ([`Remembered::written`] says what stays). Returns what the compactor wants to hear once
    /// the batch is written.
    pub(crate) fn write_to<'a>(
        self,
        batch: &mut WriteBatch,
        handle: impl Fn(Cf) -> &'a ColumnFamily,
        warm: &mut Remembered,
    ) -> Written {
        let mut point_deletes = [0u64; Cf::ALL.len()];
        for (cf, range) in &self.range_deletes {
            batch.delete_range_cf(handle(*cf), &range.start, &range.end);
            warm.range_deleted(*cf);
        }
        for (cf, writes) in Cf::ALL.into_iter().zip(self.writes) {
            for (key, value) in writes {
                match value {
                    Some(value) => {
                        batch.put_cf(handle(cf), &key, &value);
                        warm.written(cf, key, Some(value));
                    }
                    None => {
                        batch.delete_cf(handle(cf), &key);
                        warm.written(cf, key, None);
                        point_deletes[cf.index()] += 1;
                    }
                }
            }
        }
        Written {
            reclaim: self.reclaim,
            point_deletes,
        }
    }
}

fn bounds(range: &KeyRange) -> (std::ops::Bound<&[u8]>, std::ops::Bound<&[u8]>) {
    (
        Included(range.start.as_slice()),
        Excluded(range.end.as_slice()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: &[u8], end: &[u8]) -> KeyRange {
        KeyRange {
            start: start.to_vec(),
            end: end.to_vec(),
        }
    }

    #[test]
    fn a_write_after_a_range_delete_survives_it() {
        let mut overlay = Overlay::default();
        overlay.put(Cf::Entries, b"b".to_vec(), Some(b"1".to_vec()));
        overlay.delete_range(Cf::Entries, range(b"a", b"c"));
        assert_eq!(overlay.get(Cf::Entries, b"b"), Some(None));
        assert_eq!(overlay.get(Cf::Entries, b"c"), None);
        assert_eq!(overlay.get(Cf::Groups, b"b"), None);
        overlay.put(Cf::Entries, b"b".to_vec(), Some(b"2".to_vec()));
        assert_eq!(overlay.get(Cf::Entries, b"b"), Some(Some(&b"2"[..])));
        let live: Vec<_> = overlay
            .live(Cf::Entries, &range(b"a", b"z"), false)
            .collect();
        assert_eq!(live, vec![(&b"b"[..], &b"2"[..])]);
    }
}
