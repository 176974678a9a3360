//! Removing entries: XDEL by ID, XTRIM and XADD's trimming from the head (MAXLEN, MINID, `~`
//! and LIMIT), and the stream's first ID after either.

use crate::command::{Key, Trim, TrimStrategy};
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{Store, StreamMeta};

use super::{Exec, TRIM_NODE_ENTRIES};

impl<S: Store> Exec<'_, S> {
    /// Trims from the head; returns how many entries were removed. Trimming does not move
    /// `max_deleted_id` (Redis only records XDEL there).
    ///
    /// The cost follows what is removed or kept, whichever is less, never the stream's
    /// history: the first entry kept is found by walking IDs (no fields) from the nearer end,
    /// and the head goes in one `delete_entries_below`.
    pub(super) fn trim(&mut self, key: &[u8], meta: &mut StreamMeta, trim: &Trim) -> u64 {
        // LIMIT caps the work as well as the result: no need to count past it.
        let limit = match trim.limit {
            0 => meta.length,
            limit => limit - limit % TRIM_NODE_ENTRIES,
        };
        let mut to_remove = match trim.strategy {
            TrimStrategy::MaxLen(max) => meta.length.saturating_sub(max),
            TrimStrategy::MinId(min) => match min.prev() {
                None => 0,
                Some(below) => self.count_entries(key, StreamId::MIN, below, limit),
            },
        };
        if trim.approx {
            to_remove -= to_remove % TRIM_NODE_ENTRIES;
        }
        to_remove = to_remove.min(limit);
        if to_remove == 0 {
            return 0;
        }
        assert!(
            to_remove <= meta.length,
            "trimming more than the stream holds"
        );
        let kept = meta.length - to_remove;
        let first_kept = match kept {
            0 => None,
            _ if kept <= to_remove => self.nth_entry_id(key, true, kept - 1),
            _ => self.nth_entry_id(key, false, to_remove),
        };
        if kept > 0 && first_kept.is_none() {
            // Only a store that failed a read answers so; it refuses to commit this command.
            return 0;
        }
        self.store.delete_entries_below(key, first_kept, to_remove);
        meta.length = kept;
        meta.first_id = first_kept.unwrap_or(StreamId::MIN);
        to_remove
    }

    /// The ID `n` places from the head (from the tail when `rev`), counting from 0.
    fn nth_entry_id(&self, key: &[u8], rev: bool, n: u64) -> Option<StreamId> {
        let mut passed = 0u64;
        let mut found = None;
        self.store
            .visit_entry_ids(key, StreamId::MIN, StreamId::MAX, rev, &mut |id| {
                if passed == n {
                    found = Some(id);
                    return false;
                }
                passed += 1;
                true
            });
        found
    }

    fn count_entries(&self, key: &[u8], start: StreamId, end: StreamId, max: u64) -> u64 {
        let mut counted = 0u64;
        if max == 0 {
            return 0;
        }
        self.store
            .visit_entry_ids(key, start, end, false, &mut |_| {
                counted += 1;
                counted < max
            });
        counted
    }

    fn first_entry_id(&self, key: &[u8]) -> StreamId {
        self.nth_entry_id(key, false, 0).unwrap_or(StreamId::MIN)
    }

    pub(super) fn xdel(&mut self, key: &Key, ids: &[StreamId]) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return Reply::Int(0);
        };
        let mut deleted = 0;
        let mut first_deleted = false;
        for &id in ids {
            if self.store.entry(key, id).is_none() {
                continue;
            }
            self.store.delete_entry(key, id);
            meta.length -= 1;
            first_deleted |= id == meta.first_id;
            meta.max_deleted_id = meta.max_deleted_id.max(id);
            deleted += 1;
        }
        if deleted > 0 {
            if meta.length == 0 {
                meta.first_id = StreamId::MIN;
            } else if first_deleted {
                meta.first_id = self.first_entry_id(key);
            }
            self.store.put_stream(key, &meta);
            self.store.touch(key);
        }
        Reply::Int(deleted)
    }

    pub(super) fn xtrim(&mut self, key: &Key, trim: &Trim) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return Reply::Int(0);
        };
        let removed = self.trim(key, &mut meta, trim);
        if removed > 0 {
            self.store.put_stream(key, &meta);
            self.store.touch(key);
        }
        Reply::Int(removed as i64)
    }
}
