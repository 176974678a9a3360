//! Range scans as a transaction sees them: its overlay merged over its snapshot.
//!
//! ```text
//!   overlay.live(range)  ─┐
//!                         ├─ merge by key (forward or reverse), stop at limit
//!   SnapshotCursor(range) ┘   (snapshot records under a range delete or a point write
//!                              of the overlay are stepped over, never merged)
//! ```
//!
//! Because the cursor hides every key the overlay wrote, the two sides never yield the same key.

use rocksdb::{ColumnFamily, DBRawIteratorWithThreadMode, ReadOptions, Snapshot, DB};

use crate::cf::Cf;
use crate::codec::KeyRange;
use crate::overlay::Overlay;

pub(crate) type Record = (Vec<u8>, Vec<u8>);

/// Up to `limit` records of `cf` within `range`, ascending (descending when `rev`).
pub(crate) fn scan(
    snapshot: &Snapshot<'_>,
    handle: &ColumnFamily,
    overlay: &Overlay,
    cf: Cf,
    range: &KeyRange,
    rev: bool,
    limit: usize,
) -> Result<Vec<Record>, rocksdb::Error> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    scan_each(snapshot, handle, overlay, cf, range, rev, |key, value| {
        out.push((key.to_vec(), value.to_vec()));
        out.len() < limit
    })?;
    assert!(out.len() <= limit);
    Ok(out)
}

/// Hands the records of `cf` within `range` to `visit`, in order, until it returns false.
/// Nothing is copied: a visitor that needs only keys reads only keys.
pub(crate) fn scan_each(
    snapshot: &Snapshot<'_>,
    handle: &ColumnFamily,
    overlay: &Overlay,
    cf: Cf,
    range: &KeyRange,
    rev: bool,
    mut visit: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), rocksdb::Error> {
    if range.is_empty() {
        return Ok(());
    }
    let mut written = overlay.live(cf, range, rev).peekable();
    let mut cursor = SnapshotCursor::open(snapshot, handle, overlay, cf, range, rev);
    loop {
        let from_overlay = match (written.peek(), cursor.current()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((overlay_key, _)), Some((snapshot_key, _))) => {
                assert_ne!(
                    *overlay_key, snapshot_key,
                    "snapshot record not hidden by overlay write"
                );
                (*overlay_key < snapshot_key) != rev
            }
        };
        let more = if from_overlay {
            let (key, value) = written.next().expect("peeked");
            visit(key, value)
        } else {
            let (key, value) = cursor.current().expect("matched above");
            let more = visit(key, value);
            cursor.advance();
            more
        };
        if !more {
            break;
        }
    }
    cursor.iter.status()
}

/// A snapshot iterator bounded to one range that skips what the overlay hides.
struct SnapshotCursor<'a> {
    iter: DBRawIteratorWithThreadMode<'a, DB>,
    overlay: &'a Overlay,
    cf: Cf,
    rev: bool,
}

impl<'a> SnapshotCursor<'a> {
    fn open(
        snapshot: &'a Snapshot<'_>,
        handle: &ColumnFamily,
        overlay: &'a Overlay,
        cf: Cf,
        range: &KeyRange,
        rev: bool,
    ) -> SnapshotCursor<'a> {
        // Bounds let RocksDB stop at the range's edge instead of walking into the next stream.
        let mut read_options = ReadOptions::default();
        read_options.set_iterate_lower_bound(range.start.clone());
        read_options.set_iterate_upper_bound(range.end.clone());
        let mut iter = snapshot.raw_iterator_cf_opt(handle, read_options);
        if rev {
            iter.seek_to_last();
        } else {
            iter.seek_to_first();
        }
        let mut cursor = SnapshotCursor {
            iter,
            overlay,
            cf,
            rev,
        };
        cursor.skip_hidden();
        cursor
    }

    fn current(&self) -> Option<(&[u8], &[u8])> {
        self.iter.item()
    }

    fn advance(&mut self) {
        self.step();
        self.skip_hidden();
    }

    fn step(&mut self) {
        if self.rev {
            self.iter.prev();
        } else {
            self.iter.next();
        }
    }

    /// Steps over records the overlay hides: one seek per covering range delete (a deleted
    /// stream costs one seek, not one step per entry), one step per overwritten key.
    fn skip_hidden(&mut self) {
        let overlay = self.overlay;
        while let Some(key) = self.iter.key() {
            if let Some(range) = overlay.covering_range(self.cf, key) {
                self.seek_past(range);
            } else if overlay.shadows(self.cf, key) {
                self.step();
            } else {
                return;
            }
        }
    }

    fn seek_past(&mut self, range: &KeyRange) {
        if self.rev {
            self.iter.seek_for_prev(&range.start);
            if self.iter.key() == Some(range.start.as_slice()) {
                self.iter.prev();
            }
        } else {
            self.iter.seek(&range.end);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::tests::{proptest_config, temp_db};

    #[derive(Clone, Debug)]
    enum Write {
        Put(Vec<u8>, Vec<u8>),
        Delete(Vec<u8>),
        DeleteRange(Vec<u8>, Vec<u8>),
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 0..3)
    }

    fn write() -> impl Strategy<Value = Write> {
        prop_oneof![
            (key(), key()).prop_map(|(k, v)| Write::Put(k, v)),
            key().prop_map(Write::Delete),
            (key(), key()).prop_map(|(s, e)| Write::DeleteRange(s, e)),
        ]
    }

    /// Applies `write` to the overlay and to a plain map of the expected state.
    fn apply(overlay: &mut Overlay, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, write: Write) {
        match write {
            Write::Put(k, v) => {
                model.insert(k.clone(), v.clone());
                overlay.put(Cf::Entries, k, Some(v));
            }
            Write::Delete(k) => {
                model.remove(&k);
                overlay.put(Cf::Entries, k, None);
            }
            Write::DeleteRange(start, end) => {
                let range = KeyRange { start, end };
                if !range.is_empty() {
                    model.retain(|k, _| !range.contains(k));
                    overlay.delete_range(Cf::Entries, range);
                }
            }
        }
    }

    /// Scans merge correctly in both directions whatever mix of snapshot records, point
    /// writes and (overlapping) range deletes lies in the range, including a range delete
    /// that starts exactly at a snapshot key (the reverse seek's edge).
    #[test]
    fn reverse_scan_steps_over_a_range_delete_starting_at_a_key() {
        let (_dir, db) = temp_db();
        for key in [&b"a"[..], b"b", b"c", b"d"] {
            db.rocks()
                .put_cf(db.handle(Cf::Entries), key, b"v")
                .expect("put");
        }
        let snapshot = db.rocks().snapshot();
        let mut overlay = Overlay::default();
        overlay.delete_range(
            Cf::Entries,
            KeyRange {
                start: b"b".to_vec(),
                end: b"d".to_vec(),
            },
        );
        let all = KeyRange {
            start: Vec::new(),
            end: b"z".to_vec(),
        };
        let keys = |rev| {
            let records = scan(
                &snapshot,
                db.handle(Cf::Entries),
                &overlay,
                Cf::Entries,
                &all,
                rev,
                9,
            )
            .expect("scan");
            records.into_iter().map(|(k, _)| k).collect::<Vec<_>>()
        };
        assert_eq!(keys(false), vec![b"a".to_vec(), b"d".to_vec()]);
        assert_eq!(keys(true), vec![b"d".to_vec(), b"a".to_vec()]);
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn scan_merges_overlay_over_snapshot(
            base in prop::collection::btree_map(key(), key(), 0..10),
            writes in prop::collection::vec(write(), 0..10),
            start in key(),
            end in key(),
            limit in 0usize..6,
        ) {
            let (_dir, db) = temp_db();
            for (k, v) in &base {
                db.rocks().put_cf(db.handle(Cf::Entries), k, v).expect("put");
            }
            let snapshot = db.rocks().snapshot();
            let (mut overlay, mut model) = (Overlay::default(), base);
            for write in writes {
                apply(&mut overlay, &mut model, write);
            }
            let range = KeyRange { start, end };
            for rev in [false, true] {
                let got = scan(&snapshot, db.handle(Cf::Entries), &overlay, Cf::Entries, &range, rev, limit).expect("scan");
                let in_range = model.iter().filter(|(k, _)| range.contains(k)).map(|(k, v)| (k.clone(), v.clone()));
                let expected: Vec<Record> = if rev { in_range.rev().take(limit).collect() } else { in_range.take(limit).collect() };
                prop_assert_eq!(got, expected, "rev {}", rev);
            }
        }
    }
}
