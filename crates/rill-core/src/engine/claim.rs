//! XCLAIM and XAUTOCLAIM: moving pending entries to another consumer, and dropping those whose
//! stream entry is gone.

use crate::command::{XAutoClaim, XClaim};
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{entry_reply_bytes, Fields, GroupMeta, PendingEntry, Store};

use super::claim_read::redelivered;
use super::groups::Holds;
use super::{entry_reply, id_reply, nogroup, too_large, too_many, Exec};

/// PEL records an XAUTOCLAIM walk reads with one scan, at most.
const AUTOCLAIM_SCAN_CHUNK: usize = 64;

impl<S: Store> Exec<'_, S> {
    /// Moves a pending entry to `consumer` (or creates it, for FORCE), with the given delivery
    /// time and count, keeping the group's count (`group_meta`) and the consumers' (`holds`) in
    /// step; the caller writes the one back and settles the other.
    fn claim_one(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        old: Option<PendingEntry>,
        new: PendingEntry,
        (group_meta, holds): (&mut GroupMeta, &mut Holds),
    ) {
        let consumer = new.consumer.as_slice();
        match &old {
            Some(old) if old.owner() == Some(consumer) => {}
            Some(old) => {
                holds.take(old, group_meta);
                holds.give(consumer);
            }
            None => {
                group_meta.add_pending(id);
                holds.give(consumer);
            }
        }
        self.store.put_pending(key, group, id, old.as_ref(), &new);
    }

    pub(super) fn xclaim(&mut self, c: &XClaim) -> Reply {
        let (key, group) = (&c.key, &c.group);
        let Some(mut group_meta) = self.store.group(key, group) else {
            return nogroup(key, group);
        };
        // FORCE can add one pending entry per named ID; refuse up front rather than half-way.
        if c.force {
            if let Err(reply) = self.check_pending_room(&group_meta, c.ids.len() as u64) {
                return reply;
            }
        }
        let now = self.now_ms as i64;
        if let Some(last_id) = c.last_id {
            group_meta.last_delivered_id = group_meta.last_delivered_id.max(last_id);
        }
        let delivery_ms = match (c.idle_ms, c.time_ms) {
            (Some(idle), _) => now.saturating_sub(idle),
            (None, Some(time)) => time,
            (None, None) => now,
        };
        let delivery_ms = if delivery_ms < 0 || delivery_ms > now {
            now
        } else {
            delivery_ms
        } as u64;
        // The entries a reply would carry, bounded before anything changes and kept for the
        // reply. Counts every named entry, claimable or not: a refusal does not depend on idle
        // times. With JUSTID only whether each exists is kept.
        let mut entries = Vec::with_capacity(c.ids.len());
        let mut bytes = 0usize;
        for &id in &c.ids {
            let fields = self.store.entry(key, id);
            entries.push(match fields {
                Some(_) if c.justid => Some(Fields::default()),
                Some(fields) => {
                    bytes += entry_reply_bytes(&fields);
                    if bytes > self.limits.reply_bytes_max {
                        return too_large(self.limits, "claim fewer IDs or use JUSTID");
                    }
                    Some(fields)
                }
                None => None,
            });
        }
        // Redis 7.2+ creates (and refreshes) the claiming consumer even when nothing is claimed.
        if let Err(reply) = self.touch_consumer(key, group, &c.consumer) {
            return reply;
        }
        let mut out = Vec::new();
        let mut holds = Holds::default();
        for (&id, fields) in c.ids.iter().zip(entries) {
            let old = self.store.pending(key, group, id);
            let Some(fields) = fields else {
                if let Some(pe) = old {
                    self.drop_pending(key, group, id, &pe, &mut group_meta, &mut holds);
                }
                continue;
            };
            let (base_count, check_idle) = match &old {
                // A released entry (XNACK) is claimable whatever its idle time.
                Some(pe) => (pe.delivery_count, !pe.released),
                // FORCE creates the record with one delivery, then counts the claim as another:
                // Redis answers 2 for such an entry, and so do we.
                None if c.force => (1, false),
                None => continue,
            };
            if check_idle && c.min_idle_ms > 0 {
                let delivered = old.as_ref().map_or(0, |pe| pe.delivery_ms);
                if self.now_ms.saturating_sub(delivered) < c.min_idle_ms {
                    continue;
                }
            }
            let delivery_count = match c.retry_count {
                Some(n) if n >= 0 => n as u64,
                _ if c.justid => base_count,
                _ => redelivered(base_count),
            };
            let new = PendingEntry::held(&c.consumer, delivery_ms, delivery_count);
            self.claim_one(key, group, id, old, new, (&mut group_meta, &mut holds));
            out.push(if c.justid {
                id_reply(id)
            } else {
                entry_reply(id, fields)
            });
        }
        self.settle(key, group, holds);
        if !out.is_empty() {
            self.mark_active(key, group, &c.consumer);
        }
        self.store.put_group(key, group, &group_meta);
        Reply::Array(out)
    }

    fn mark_active(&mut self, key: &[u8], group: &[u8], consumer: &[u8]) {
        if let Some(mut meta) = self.store.consumer(key, group, consumer) {
            meta.active_ms = Some(self.now_ms);
            self.store.put_consumer(key, group, consumer, &meta);
        }
    }

    pub(super) fn xautoclaim(&mut self, c: &XAutoClaim) -> Reply {
        let (key, group) = (&c.key, &c.group);
        let Some(mut group_meta) = self.store.group(key, group) else {
            return nogroup(key, group);
        };
        if c.count as usize > self.limits.reply_entries_max {
            return too_many(self.limits);
        }
        if let Err(reply) = self.touch_consumer(key, group, &c.consumer) {
            return reply;
        }
        let mut count = c.count;
        let mut attempts = c.count * 10;
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut next_cursor = StreamId::MIN;
        let mut spent = 0usize;
        // Mirrors the rax walk in `xautoclaimCommand`: stop after `attempts` visits or `count`
        // results; the cursor is the first pending ID not visited.
        let mut holds = Holds::default();
        // The PEL is read a chunk at a time, not one scan per visit: what the walk changes
        // (the record it visits) is behind it, so a chunk read ahead stays what a fresh scan
        // would find.
        let mut next_scan = Some(c.start);
        let mut chunk = Vec::new().into_iter();
        loop {
            let (id, pe) = match chunk.next() {
                Some(visit) => visit,
                None => {
                    let Some(from) = next_scan else { break };
                    // One more than the visits left: the first not visited is the cursor.
                    let want = usize::try_from(attempts)
                        .unwrap_or(usize::MAX)
                        .saturating_add(1)
                        .min(AUTOCLAIM_SCAN_CHUNK);
                    let got = self
                        .store
                        .pending_range(key, group, from, StreamId::MAX, want);
                    // A short chunk ends the PEL.
                    next_scan = match got.last() {
                        Some((last, _)) if got.len() == want => last.next(),
                        _ => None,
                    };
                    chunk = got.into_iter();
                    match chunk.next() {
                        Some(visit) => visit,
                        None => break,
                    }
                }
            };
            if attempts == 0 || count == 0 {
                next_cursor = id;
                break;
            }
            attempts -= 1;
            let Some(fields) = self.store.entry(key, id) else {
                self.drop_pending(key, group, id, &pe, &mut group_meta, &mut holds);
                deleted.push(id_reply(id));
                count -= 1;
                continue;
            };
            let idle_ms = self.now_ms.saturating_sub(pe.delivery_ms);
            if c.min_idle_ms > 0 && idle_ms < c.min_idle_ms && !pe.released {
                continue;
            }
            if !c.justid {
                // Past the reply's byte bound: stop here, as after `attempts`; the cursor
                // goes on from this entry.
                spent += entry_reply_bytes(&fields);
                if spent > self.limits.reply_bytes_max {
                    next_cursor = id;
                    break;
                }
            }
            let delivery_count = if c.justid {
                pe.delivery_count
            } else {
                redelivered(pe.delivery_count)
            };
            let new = PendingEntry::held(&c.consumer, self.now_ms, delivery_count);
            self.claim_one(key, group, id, Some(pe), new, (&mut group_meta, &mut holds));
            claimed.push(if c.justid {
                id_reply(id)
            } else {
                entry_reply(id, fields)
            });
            count -= 1;
        }
        self.settle(key, group, holds);
        if !claimed.is_empty() {
            self.mark_active(key, group, &c.consumer);
        }
        self.store.put_group(key, group, &group_meta);
        Reply::Array(vec![
            id_reply(next_cursor),
            Reply::Array(claimed),
            Reply::Array(deleted),
        ])
    }
}
