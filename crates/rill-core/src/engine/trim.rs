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
    pub(super) fn trim(&mut self, key: &[u8], meta: &mut StreamMeta, trim: &Trim) -> u64 {
        let mut to_remove = match trim.strategy {
            TrimStrategy::MaxLen(max) => meta.length.saturating_sub(max),
            TrimStrategy::MinId(min) => match min.prev() {
                None => 0,
                Some(below) => self.count_entries(key, StreamId::MIN, below, meta.length),
            },
        };
        if trim.approx {
            to_remove -= to_remove % TRIM_NODE_ENTRIES;
        }
        if trim.limit > 0 {
            to_remove = to_remove.min(trim.limit - trim.limit % TRIM_NODE_ENTRIES);
        }
        let mut removed = 0;
        while removed < to_remove {
            let batch = (to_remove - removed).min(1024) as usize;
            let victims = self
                .store
                .entries(key, StreamId::MIN, StreamId::MAX, false, batch);
            if victims.is_empty() {
                break;
            }
            for (id, _) in &victims {
                self.store.delete_entry(key, *id);
            }
            removed += victims.len() as u64;
        }
        if removed > 0 {
            meta.length -= removed;
            meta.first_id = self.first_entry_id(key);
        }
        removed
    }

    fn count_entries(&self, key: &[u8], start: StreamId, end: StreamId, max: u64) -> u64 {
        let mut counted = 0u64;
        let mut from = start;
        loop {
            let page = self.store.entries(key, from, end, false, 1024);
            counted += page.len() as u64;
            match page.last().and_then(|(id, _)| id.next()) {
                Some(next) if page.len() == 1024 && counted < max => from = next,
                _ => return counted,
            }
        }
    }

    fn first_entry_id(&self, key: &[u8]) -> StreamId {
        let first = self
            .store
            .entries(key, StreamId::MIN, StreamId::MAX, false, 1);
        first.first().map_or(StreamId::MIN, |(id, _)| *id)
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
        }
        Reply::Int(removed as i64)
    }
}
