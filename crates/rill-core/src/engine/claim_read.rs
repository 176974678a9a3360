//! XREADGROUP's `CLAIM min-idle-time` (Redis 8.4): before new entries, a `>` read takes over
//! the group's pending entries that have been idle at least `min-idle-time`, oldest delivery
//! first, as XCLAIM would, and reports each as `[id, fields, idle, delivery count]` (both as
//! they were before this delivery; a new entry in the same reply reports `0, 0`).
//!
//! ```text
//!  group's PEL in delivery order ──idle >= min?──▶ claimed (owner → reader, count + 1, now)
//!                                 └─ deleted entry: skipped, left pending (Redis does too;
//!                                    past DELETED_SKIPPED_MAX of them the walk stops)
//!  COUNT is shared: claimed first, new entries fill what is left, per stream
//! ```
//!
//! Entries delivered in the same millisecond are taken in ID order (Redis: in the order they
//! were delivered). An entry whose delivery time is ahead of the stamped time (a new leader's
//! clock behind the old one's) counts as idle 0 (Redis's unsigned subtraction makes it
//! claimable with a negative idle time).

use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{entry_reply_bytes, ConsumerMeta, Fields, GroupMeta, PendingEntry, Store};

use super::groups::Holds;
use super::{fields_reply, id_reply, too_large, Exec};

/// Pending records of deleted entries a CLAIM read (and the wake-time probe) steps over in one
/// stream before it stops looking: the walk is bounded even when a trim that kept references
/// left many behind (Redis walks them all).
pub(super) const DELETED_SKIPPED_MAX: usize = 1024;

/// Delivery counts saturate here, as Redis's `LLONG_MAX`.
pub(super) const DELIVERY_COUNT_MAX: u64 = i64::MAX as u64;

/// A delivery count after one more delivery: XNACK's FATAL count stays where it is.
pub(super) fn redelivered(count: u64) -> u64 {
    count.saturating_add(1).min(DELIVERY_COUNT_MAX)
}

/// A pending entry CLAIM may take: its ID, its record as it is, and its fields.
pub(super) struct Claimable {
    id: StreamId,
    pending: PendingEntry,
    fields: Fields,
}

/// An entry of a CLAIM read's reply: `[id, fields, idle, delivery count]`.
pub(super) fn claim_entry_reply(id: StreamId, fields: Fields, idle: u64, count: u64) -> Reply {
    let int = |n: u64| Reply::Int(n.min(DELIVERY_COUNT_MAX) as i64);
    Reply::Array(vec![
        id_reply(id),
        fields_reply(fields),
        int(idle),
        int(count),
    ])
}

impl<S: Store> Exec<'_, S> {
    /// Up to `limit` pending entries of `group` idle at least `min_idle_ms`, oldest delivery
    /// first, skipping deleted entries; `spent` counts the reply's bytes so far. Reads only.
    pub(super) fn claimable(
        &self,
        key: &[u8],
        group: &[u8],
        min_idle_ms: u64,
        limit: usize,
        spent: &mut usize,
    ) -> Result<Vec<Claimable>, Reply> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let now = self.now_ms;
        let mut refusal = None;
        let mut skipped = 0;
        self.store
            .visit_pending_by_delivery(key, group, &mut |delivery_ms, id| {
                // Released entries (delivery time 0) come first and always qualify.
                let idle_enough = now.saturating_sub(delivery_ms) >= min_idle_ms;
                if !idle_enough && delivery_ms != 0 {
                    return false;
                }
                let Some(fields) = self.store.entry(key, id) else {
                    skipped += 1;
                    return skipped < DELETED_SKIPPED_MAX;
                };
                let Some(pending) = self.store.pending(key, group, id) else {
                    // Only a store that failed a read (and will not commit) says so.
                    return false;
                };
                if !idle_enough && !pending.released {
                    return false;
                }
                *spent += entry_reply_bytes(&fields);
                if *spent > self.limits.reply_bytes_max {
                    refusal = Some(too_large(self.limits, "use COUNT to page"));
                    return false;
                }
                out.push(Claimable {
                    id,
                    pending,
                    fields,
                });
                out.len() < limit
            });
        match refusal {
            Some(reply) => Err(reply),
            None => Ok(out),
        }
    }

    /// Delivers `claimed` to the reader (its name and record): each changes owner, its count
    /// goes up by one and its delivery time is now; what their holders lose goes in `holds`.
    /// Returns the reply's entries.
    pub(super) fn claim_for_read(
        &mut self,
        key: &[u8],
        group: &[u8],
        (reader, consumer): (&[u8], &mut ConsumerMeta),
        (group_meta, holds): (&mut GroupMeta, &mut Holds),
        claimed: Vec<Claimable>,
    ) -> Vec<Reply> {
        let mut replies = Vec::with_capacity(claimed.len());
        for c in claimed {
            let idle = self.now_ms.saturating_sub(c.pending.delivery_ms);
            replies.push(claim_entry_reply(
                c.id,
                c.fields,
                idle,
                c.pending.delivery_count,
            ));
            if c.pending.owner() != Some(reader) {
                holds.take(&c.pending, group_meta);
                consumer.pending_count += 1;
            }
            let count = redelivered(c.pending.delivery_count);
            let entry = PendingEntry::held(reader, self.now_ms, count);
            self.store
                .put_pending(key, group, c.id, Some(&c.pending), &entry);
            consumer.active_ms = Some(self.now_ms);
        }
        replies
    }
}

/// When a blocked `XREADGROUP ... CLAIM` that found nothing should try again (Redis's
/// `wake_at`): the earliest delivery among the pending entries of its `>` streams plus
/// `min-idle-time`. `None` without CLAIM, and when nothing is pending: only a delivery, a
/// write that wakes the reader anyway, can make something claimable then (Redis wakes at
/// `now + min-idle-time` and blocks again; here every retry is a log entry).
pub fn claim_wake_ms<S: Store>(store: &S, read: &crate::command::XReadGroup) -> Option<u64> {
    let min_idle = read.claim_min_idle_ms?;
    let mut earliest: Option<u64> = None;
    for (key, from) in &read.streams {
        if *from != crate::command::ReadFrom::New {
            break;
        }
        let mut skipped = 0;
        store.visit_pending_by_delivery(key, &read.group, &mut |delivery_ms, id| {
            if store.entry(key, id).is_some() {
                // A released entry is claimable now.
                let released = delivery_ms == 0
                    && store
                        .pending(key, &read.group, id)
                        .is_some_and(|pe| pe.released);
                let at = if released {
                    0
                } else {
                    delivery_ms.saturating_add(min_idle)
                };
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
                return false;
            }
            skipped += 1;
            skipped < DELETED_SKIPPED_MAX
        });
    }
    earliest
}
