//! [`HotLog`]: the newest log entries, decoded, as the log store appended them.
//!
//! On the leader every entry is read back three times while it is new: once for each follower's
//! append and once to apply it; on a follower once, to apply it. Each read was a RocksDB range
//! read and a decode of every command. The log store keeps the newest entries here and answers
//! those reads from them; older ranges (a follower catching up from far behind) are read from
//! RocksDB as before. An entry's commands are shared (`Request::commands` is an `Arc`), so a
//! read copies no command.
//!
//! It holds a contiguous run of indexes, ends at the store's last entry, and is changed only
//! with the store: after an append is durable, before a truncation or a purge.

use std::collections::VecDeque;

use crate::types::Entry;

/// Entries kept, at most.
pub(crate) const HOT_ENTRIES_MAX: usize = 1024;
/// Encoded bytes of the entries kept, at most; the newest entry is kept whatever its size.
pub(crate) const HOT_BYTES_MAX: u64 = 32 << 20;

#[derive(Default)]
pub(crate) struct HotLog {
    /// `(entry, its encoded length)`, by consecutive index.
    entries: VecDeque<(Entry, u64)>,
    bytes: u64,
}

impl HotLog {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(entry, _)| entry.log_id.index)
    }

    fn next_index(&self) -> Option<u64> {
        self.entries.back().map(|(entry, _)| entry.log_id.index + 1)
    }

    /// Entries the store has just made durable, with their encoded lengths.
    pub(crate) fn appended(&mut self, entries: Vec<(Entry, u64)>) {
        for (entry, bytes) in entries {
            if self
                .next_index()
                .is_some_and(|next| next != entry.log_id.index)
            {
                // Not the continuation of what is kept (cannot happen after a truncation, which
                // drops the suffix first): start again from this entry.
                self.clear();
            }
            self.bytes += bytes;
            self.entries.push_back((entry, bytes));
        }
        while self.entries.len() > HOT_ENTRIES_MAX
            || (self.bytes > HOT_BYTES_MAX && self.entries.len() > 1)
        {
            self.pop_front();
        }
    }

    /// The store is about to remove the entries from `index` on.
    pub(crate) fn truncate(&mut self, index: u64) {
        while let Some((entry, bytes)) = self.entries.back() {
            if entry.log_id.index < index {
                break;
            }
            self.bytes -= bytes;
            self.entries.pop_back();
        }
    }

    /// The store is about to remove the entries up to `index`, included.
    pub(crate) fn purge(&mut self, index: u64) {
        while self.first_index().is_some_and(|first| first <= index) {
            self.pop_front();
        }
    }

    /// The entries `[start, end)` if every one of them is kept.
    pub(crate) fn get(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let (first, next) = (self.first_index()?, self.next_index()?);
        if start < first || end > next || start > end {
            return None;
        }
        let from = usize::try_from(start - first).ok()?;
        let to = usize::try_from(end - first).ok()?;
        Some(
            self.entries
                .range(from..to)
                .map(|(entry, _)| entry.clone())
                .collect(),
        )
    }

    fn pop_front(&mut self) {
        if let Some((_, bytes)) = self.entries.pop_front() {
            self.bytes -= bytes;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::types::{LogId, Request};

    /// An entry at `index` with no commands, and an encoded length of 10 bytes.
    pub(crate) fn entry(index: u64) -> (Entry, u64) {
        let entry = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Request {
                commands: Vec::new().into(),
                now_ms: index,
            }),
        };
        (entry, 10)
    }

    fn indexes(entries: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        entries.map(|entries| entries.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn answers_only_ranges_it_holds_whole() {
        let mut hot = HotLog::default();
        assert_eq!(indexes(hot.get(0, 0)), None);
        hot.appended((5..10).map(entry).collect());
        assert_eq!(indexes(hot.get(5, 10)), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(indexes(hot.get(7, 9)), Some(vec![7, 8]));
        assert_eq!(indexes(hot.get(8, 8)), Some(vec![]));
        assert_eq!(indexes(hot.get(4, 9)), None, "starts before the first kept");
        assert_eq!(indexes(hot.get(6, 11)), None, "ends after the last kept");
    }

    #[test]
    fn truncation_and_purge_drop_what_the_store_drops() {
        let mut hot = HotLog::default();
        hot.appended((0..10).map(entry).collect());
        hot.truncate(7);
        assert_eq!(indexes(hot.get(0, 7)), Some((0..7).collect()));
        assert_eq!(indexes(hot.get(0, 8)), None);
        hot.appended(vec![entry(7)]);
        assert_eq!(indexes(hot.get(6, 8)), Some(vec![6, 7]));
        hot.purge(3);
        assert_eq!(indexes(hot.get(3, 8)), None);
        assert_eq!(indexes(hot.get(4, 8)), Some(vec![4, 5, 6, 7]));
        assert_eq!(hot.bytes, 40);
        // Not a continuation: kept from there on.
        hot.appended(vec![entry(20)]);
        assert_eq!(indexes(hot.get(20, 21)), Some(vec![20]));
        assert_eq!(indexes(hot.get(7, 8)), None);
        assert_eq!(hot.bytes, 10);
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut hot = HotLog::default();
        let many = HOT_ENTRIES_MAX as u64 + 5;
        hot.appended((0..many).map(entry).collect());
        assert_eq!(hot.entries.len(), HOT_ENTRIES_MAX);
        assert_eq!(hot.first_index(), Some(5));
        let (big, _) = entry(many);
        hot.appended(vec![(big, HOT_BYTES_MAX)]);
        assert_eq!(
            hot.entries.len(),
            1,
            "one entry over the byte bound is still kept"
        );
        assert_eq!(hot.bytes, HOT_BYTES_MAX);
    }
}
