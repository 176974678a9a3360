//! XPENDING: the summary form (count, lowest and highest ID, per-consumer counts) and the
//! extended form (a page of entries, optionally of one consumer and past an idle time).

use crate::command::{Key, PendingRange};
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{GroupMeta, PendingEntry, Store};

use super::{id_reply, nogroup, too_many, Exec};

impl<S: Store> Exec<'_, S> {
    pub(super) fn xpending(
        &mut self,
        key: &Key,
        group: &Key,
        range: Option<&PendingRange>,
    ) -> Reply {
        let Some(group_meta) = self.store.group(key, group) else {
            return nogroup(key, group);
        };
        match range {
            None => self.pending_summary(key, group, &group_meta),
            Some(range) => self.pending_extended(key, group, range),
        }
    }

    fn pending_summary(&mut self, key: &[u8], group: &[u8], group_meta: &GroupMeta) -> Reply {
        if group_meta.pending_count == 0 {
            return Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]);
        }
        let first = self
            .store
            .pending_range(key, group, StreamId::MIN, StreamId::MAX, 1);
        let last = self.store.last_pending(key, group);
        let mut per_consumer = Vec::new();
        for (name, meta) in self.store.consumers(key, group) {
            if meta.pending_count > 0 {
                per_consumer.push(Reply::Array(vec![
                    Reply::bulk(&name),
                    Reply::bulk(meta.pending_count.to_string()),
                ]));
            }
        }
        Reply::Array(vec![
            Reply::Int(group_meta.pending_count as i64),
            first.first().map_or(Reply::Nil, |(id, _)| id_reply(*id)),
            last.map_or(Reply::Nil, id_reply),
            Reply::Array(per_consumer),
        ])
    }

    fn pending_extended(&mut self, key: &[u8], group: &[u8], range: &PendingRange) -> Reply {
        if let Some(name) = &range.consumer {
            if self.store.consumer(key, group, name).is_none() {
                return Reply::Array(Vec::new());
            }
        }
        let want = (range.count as usize).min(self.limits.reply_entries_max + 1);
        let mut out = Vec::new();
        let mut from = range.start;
        while out.len() < want && from <= range.end {
            let page =
                self.pending_page(key, group, range.consumer.as_deref(), from, range.end, 1024);
            let Some(&(last, _)) = page.last() else { break };
            for (id, pe) in page.iter() {
                let idle_ms = self.now_ms.saturating_sub(pe.delivery_ms);
                // IDLE never leaves out a released entry (Redis 8.8), shown with no consumer
                // and an idle time of -1.
                if idle_ms < range.min_idle_ms && !pe.released {
                    continue;
                }
                if out.len() == want {
                    break;
                }
                let idle = if pe.released { -1 } else { idle_ms as i64 };
                out.push(Reply::Array(vec![
                    id_reply(*id),
                    Reply::bulk(&pe.consumer),
                    Reply::Int(idle),
                    Reply::Int(pe.delivery_count as i64),
                ]));
            }
            match last.next() {
                Some(next) if page.len() == 1024 => from = next,
                _ => break,
            }
        }
        if out.len() > self.limits.reply_entries_max {
            return too_many(self.limits);
        }
        Reply::Array(out)
    }

    /// A page of pending entries, of the group or of one consumer (through its index).
    fn pending_page(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: Option<&[u8]>,
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<(StreamId, PendingEntry)> {
        match consumer {
            None => self.store.pending_range(key, group, start, end, limit),
            Some(name) => self
                .store
                .consumer_pending_range(key, group, name, start, end, limit)
                .into_iter()
                .filter_map(|id| self.store.pending(key, group, id).map(|pe| (id, pe)))
                .collect(),
        }
    }
}
