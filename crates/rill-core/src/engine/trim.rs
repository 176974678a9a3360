//! Removing entries: XDEL by ID, XTRIM and XADD's trimming from the head (MAXLEN, MINID, `~`
//! and LIMIT), and the stream's first ID after either.

use crate::command::{Key, RefPolicy, Trim, TrimStrategy};
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
        if trim.policy != RefPolicy::KeepRef {
            return self.trim_each(key, meta, trim);
        }
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

    /// Trimming with DELREF or ACKED (`streamTrim`'s walk): entry by entry from the head, `~`
    /// or not, each removed entry a tombstone. DELREF drops every group's pending entry for
    /// each entry it removes; ACKED skips referenced entries and goes on past them, and stops
    /// at the first entry some group has not been delivered (every later one is referenced
    /// too). LIMIT caps the entries looked at, removed or skipped, rounded down to whole nodes.
    ///
    /// Redis walks nodes and stops after the node that holds the MAXLEN target even when
    /// skipped entries left the stream above it. Rill has no nodes: it looks at the entries up
    /// to the target rounded up to a whole node (`TRIM_NODE_ENTRIES`), so a long run of
    /// referenced entries costs one trim no more than it would remove.
    fn trim_each(&mut self, key: &[u8], meta: &mut StreamMeta, trim: &Trim) -> u64 {
        const BATCH: usize = 1024;
        let groups = self.groups_of(key);
        // LIMIT counts whole nodes, as in the walk without a policy: Redis stops before a node
        // whose entries would take it past LIMIT.
        let mut limit = match trim.limit {
            0 => u64::MAX,
            limit => limit - limit % TRIM_NODE_ENTRIES,
        };
        if let TrimStrategy::MaxLen(max) = trim.strategy {
            let target = meta.length.saturating_sub(max);
            limit = limit.min(target.div_ceil(TRIM_NODE_ENTRIES) * TRIM_NODE_ENTRIES);
        }
        let mut looked_at = 0u64;
        let mut removed = 0u64;
        let mut from = StreamId::MIN;
        'walk: loop {
            let mut batch = Vec::with_capacity(BATCH);
            self.store
                .visit_entry_ids(key, from, StreamId::MAX, false, &mut |id| {
                    batch.push(id);
                    batch.len() < BATCH
                });
            let Some(&last) = batch.last() else {
                break;
            };
            for id in batch {
                let done = match trim.strategy {
                    TrimStrategy::MaxLen(max) => meta.length <= max,
                    TrimStrategy::MinId(min) => id >= min,
                };
                if done || looked_at == limit {
                    break 'walk;
                }
                looked_at += 1;
                if trim.policy == RefPolicy::Acked {
                    if groups.undelivered(id) {
                        // So is every later entry: all referenced.
                        break 'walk;
                    }
                    if self.referenced(key, &groups, id) {
                        continue;
                    }
                } else {
                    self.drop_references(key, &groups, id);
                }
                self.store.delete_entry(key, id);
                meta.length -= 1;
                removed += 1;
            }
            match last.next() {
                Some(next) => from = next,
                None => break,
            }
        }
        if removed > 0 {
            meta.first_id = match meta.length {
                0 => StreamId::MIN,
                _ => self.first_entry_id(key),
            };
        }
        removed
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

    pub(super) fn first_entry_id(&self, key: &[u8]) -> StreamId {
        self.nth_entry_id(key, false, 0).unwrap_or(StreamId::MIN)
    }

    pub(super) fn xdel(&mut self, key: &Key, ids: &[StreamId]) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return Reply::Int(0);
        };
        let old_first = meta.first_id;
        let mut deleted = 0;
        for &id in ids {
            deleted += i64::from(self.delete_one(key, &mut meta, id));
        }
        if deleted > 0 {
            self.finish_deletes(key, &mut meta, old_first);
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
