//! XREADGROUP and XACK: delivering new entries into the pending-entries list (PEL), rereading a
//! consumer's own history, and acknowledging entries out of it.
//!
//! ```text
//!  XREADGROUP >   ──deliver──▶ PEL (consumer, delivery_ms, delivery_count = 1)
//!  ... CLAIM ms   ──claim_read──▶ idle pending entries first, owner → reader, count + 1
//!  XREADGROUP id  ──read_history──▶ the consumer's PEL after id, delivery_count + 1
//!  XACK           ──▶ out of the PEL
//! ```

use std::collections::HashSet;

use crate::command::{Key, ReadFrom, XReadGroup};
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{entry_reply_bytes, ConsumerMeta, Fields, GroupMeta, PendingEntry, Store};

use super::claim_read::{claim_entry_reply, redelivered, Claimable};
use super::entries_read::advance_group;
use super::groups::Holds;
use super::{entry_reply, id_reply, nogroup_read, too_large, too_many, Exec};

/// What COUNT leaves for new entries once `taken` were claimed (`None`: no COUNT).
fn left_after(count: Option<u64>, taken: usize) -> Option<u64> {
    count.map(|n| n.saturating_sub(taken as u64))
}

/// What the precheck read for one stream, kept to serve it: nothing an XREADGROUP does changes
/// entries, so reading them again would only cost (their fields decoded and copied, on every
/// replica). Held together they are within the reply's byte bound, which the precheck counted
/// them against.
#[derive(Default)]
struct Prefetched {
    /// What CLAIM would take, for the min-idle time it was read with.
    claimed: Option<(u64, Vec<Claimable>)>,
    fresh: Option<Fresh>,
    /// A history read: the consumer's pending IDs after the ID it named, each with its entry's
    /// fields (`None`: deleted).
    history: Option<Vec<(StreamId, Option<Fields>)>>,
}

/// New entries: where the read started (after the group's last delivered ID), the COUNT it
/// had left after CLAIM, and what it got.
struct Fresh {
    start: StreamId,
    left: Option<u64>,
    got: Vec<(StreamId, Fields)>,
}

impl<S: Store> Exec<'_, S> {
    /// Everything that can refuse an XREADGROUP, checked before anything changes: a refused
    /// read must leave groups, PELs and consumers as they were (the write path commits whatever
    /// a command did, error or not). What it read it hands back, one slot per stream, for
    /// serving.
    fn xreadgroup_precheck(&self, r: &XReadGroup) -> Result<Vec<Prefetched>, Reply> {
        let mut prefetched = Vec::with_capacity(r.streams.len());
        let mut total = 0usize;
        let mut spent = 0usize;
        let mut claim = r.claim_min_idle_ms;
        for (key, from) in &r.streams {
            if self.store.consumer(key, &r.group, &r.consumer).is_none() {
                self.check_consumer_room(key, &r.group)?;
            }
            let group_meta = self.store.group(key, &r.group).unwrap_or_default();
            let limit = self.fetch_limit(r.count);
            let mut claimed = 0;
            let (served, fetched) = match from {
                ReadFrom::After(after) => {
                    let read = self.history(key, r, *after, limit, &mut spent)?;
                    let served = read.len();
                    let fetched = Prefetched {
                        history: Some(read),
                        ..Prefetched::default()
                    };
                    (served, fetched)
                }
                _ => {
                    let mut read = Prefetched::default();
                    if let Some(min_idle) = claim {
                        let got = self.claimable(key, &r.group, min_idle, limit, &mut spent)?;
                        claimed = got.len();
                        read.claimed = Some((min_idle, got));
                    }
                    let served = match (
                        left_after(r.count, claimed),
                        group_meta.last_delivered_id.next(),
                    ) {
                        (Some(0), _) | (_, None) => claimed,
                        (left, Some(start)) => {
                            let got = self.reply_entries(
                                key,
                                (start, StreamId::MAX),
                                false,
                                left,
                                &mut spent,
                            )?;
                            let served = claimed + got.len();
                            read.fresh = Some(Fresh { start, left, got });
                            served
                        }
                    };
                    (served, read)
                }
            };
            if matches!(from, ReadFrom::After(_)) {
                // Redis's quirk: a history read turns CLAIM off for it and every later stream.
                claim = None;
            }
            total += served;
            if total > self.limits.reply_entries_max {
                return Err(too_many(self.limits));
            }
            if !r.noack && *from == ReadFrom::New {
                // Claimed entries are pending already.
                self.check_pending_room(&group_meta, (served - claimed) as u64)?;
            }
            prefetched.push(fetched);
        }
        Ok(prefetched)
    }

    /// The consumer's pending entries after `after` that a history read serves, with their
    /// fields: `Err` past either of the reply's bounds, `spent` counting its bytes so far. Reads
    /// only.
    fn history(
        &self,
        key: &[u8],
        r: &XReadGroup,
        after: StreamId,
        limit: usize,
        spent: &mut usize,
    ) -> Result<Vec<(StreamId, Option<Fields>)>, Reply> {
        let Some(start) = after.next() else {
            return Ok(Vec::new());
        };
        let ids = self.store.consumer_pending_range(
            key,
            &r.group,
            &r.consumer,
            start,
            StreamId::MAX,
            limit,
        );
        if self.over_limit(&ids) {
            return Err(too_many(self.limits));
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let fields = self.store.entry(key, id);
            if let Some(fields) = &fields {
                *spent += entry_reply_bytes(fields);
                if *spent > self.limits.reply_bytes_max {
                    return Err(too_large(self.limits, "use COUNT to page"));
                }
            }
            out.push((id, fields));
        }
        Ok(out)
    }

    pub(super) fn xreadgroup(&mut self, r: &XReadGroup) -> Reply {
        for (key, _) in &r.streams {
            if self.store.stream(key).is_none() || self.store.group(key, &r.group).is_none() {
                return nogroup_read(key, &r.group);
            }
        }
        let mut prefetched = match self.xreadgroup_precheck(r) {
            Ok(prefetched) => prefetched,
            Err(reply) => return reply,
        };
        let mut out = Vec::new();
        let mut total = 0usize;
        let mut claim = r.claim_min_idle_ms;
        let mut named = HashSet::with_capacity(r.streams.len());
        for (i, (key, from)) in r.streams.iter().enumerate() {
            // A key named before has delivered or claimed since the precheck read it.
            let first_named = named.insert(key.as_slice());
            let fetched = prefetched
                .get_mut(i)
                .map(std::mem::take)
                .filter(|_| first_named);
            let consumer = match self.touch_consumer(key, &r.group, &r.consumer) {
                Ok(consumer) => consumer,
                Err(reply) => return reply,
            };
            let served = match from {
                ReadFrom::After(after) => {
                    claim = None;
                    Some(self.read_history(key, r, *after, fetched))
                }
                _ => self.read_new_or_claimed(key, r, claim, consumer, fetched),
            };
            let Some(served) = served else { continue };
            let entries = match served {
                Ok(entries) => entries,
                Err(reply) => return reply,
            };
            total += entries.len();
            if total > self.limits.reply_entries_max {
                return too_many(self.limits);
            }
            out.push((Reply::bulk(key), Reply::Array(entries)));
        }
        if out.is_empty() {
            Reply::NilArray
        } else {
            Reply::PairMap(out)
        }
    }

    /// `>`: with CLAIM, idle pending entries first (`claim_read`); then entries after the
    /// group's last delivered ID, as many as COUNT leaves, `fetched` by the precheck if it read
    /// the same. `None` when there are none.
    fn read_new_or_claimed(
        &mut self,
        key: &[u8],
        r: &XReadGroup,
        claim: Option<u64>,
        mut consumer: ConsumerMeta,
        fetched: Option<Prefetched>,
    ) -> Option<Result<Vec<Reply>, Reply>> {
        // Everything is read and checked before anything changes: a refusal leaves no claim
        // behind. What the precheck read with a budget no larger than this one, and was not
        // refused, is what these reads would get.
        let Prefetched {
            claimed: fetched_claimed,
            fresh: fetched_fresh,
            history: _,
        } = fetched.unwrap_or_default();
        let claimed = match claim {
            None => Vec::new(),
            Some(min_idle) => match fetched_claimed.filter(|&(at, _)| at == min_idle) {
                Some((_, claimed)) => claimed,
                None => {
                    let limit = self.fetch_limit(r.count);
                    match self.claimable(key, &r.group, min_idle, limit, &mut 0) {
                        Ok(claimed) => claimed,
                        Err(refusal) => return Some(Err(refusal)),
                    }
                }
            },
        };
        // Read the group afresh per stream: a key named twice must see the first delivery.
        let mut group_meta = self.store.group(key, &r.group).unwrap_or_default();
        let got = match (
            left_after(r.count, claimed.len()),
            group_meta.last_delivered_id.next(),
        ) {
            (Some(0), _) | (_, None) => Vec::new(),
            (left, Some(start)) => {
                match fetched_fresh.filter(|f| f.start == start && f.left == left) {
                    Some(fresh) => fresh.got,
                    None => {
                        match self.reply_entries(key, (start, StreamId::MAX), false, left, &mut 0) {
                            Ok(got) => got,
                            Err(refusal) => return Some(Err(refusal)),
                        }
                    }
                }
            }
        };
        if !r.noack {
            if let Err(reply) = self.check_pending_room(&group_meta, got.len() as u64) {
                return Some(Err(reply));
            }
        }
        if claim.is_some() {
            // Once the read is sure to go through (a refused one changes nothing) and before
            // the claims move entries: from this read on the group's order is kept.
            self.store.keep_delivery_order(key, &r.group);
        }
        // What other consumers lose to this read: entries claimed from them, or taken back
        // after XGROUP SETID moved the group back. The reader's own count is in `consumer`.
        let mut holds = Holds::default();
        let mut replies = self.claim_for_read(
            key,
            &r.group,
            (&r.consumer, &mut consumer),
            (&mut group_meta, &mut holds),
            claimed,
        );
        let meta = self.store.stream(key).unwrap_or_default();
        for (id, fields) in got {
            advance_group(&meta, &mut group_meta, id);
            if !r.noack {
                self.deliver(
                    key,
                    &r.group,
                    &r.consumer,
                    id,
                    &mut group_meta,
                    (&mut consumer, &mut holds),
                );
            }
            replies.push(match claim {
                Some(_) => claim_entry_reply(id, fields, 0, 0),
                None => entry_reply(id, fields),
            });
        }
        if replies.is_empty() {
            return None;
        }
        debug_assert!(
            !holds.touches(&r.consumer),
            "the reader's count is in its record"
        );
        self.settle(key, &r.group, holds);
        self.store.put_group(key, &r.group, &group_meta);
        self.store
            .put_consumer(key, &r.group, &r.consumer, &consumer);
        Some(Ok(replies))
    }

    /// Records a fresh delivery of `id` to `consumer`, taking it from another owner if the group
    /// was moved back with XGROUP SETID.
    fn deliver(
        &mut self,
        key: &[u8],
        group: &[u8],
        name: &[u8],
        id: StreamId,
        group_meta: &mut GroupMeta,
        (consumer, holds): (&mut ConsumerMeta, &mut Holds),
    ) {
        // A new entry is above the group's last-delivered ID, and so normally above every
        // pending one: a lookup (which misses) only when the group says it may not be.
        let old = if group_meta.may_hold(id) {
            self.store.pending(key, group, id)
        } else {
            None
        };
        match &old {
            Some(old) if old.owner() == Some(name) => consumer.pending_count -= 1,
            Some(old) => holds.take(old, group_meta),
            None => group_meta.add_pending(id),
        }
        let entry = PendingEntry::held(name, self.now_ms, 1);
        self.store.put_pending(key, group, id, old.as_ref(), &entry);
        consumer.pending_count += 1;
        consumer.active_ms = Some(self.now_ms);
    }

    /// A history read: the consumer's own pending entries after `after`, as `fetched` by the
    /// precheck if it read them. Deleted entries come back as `[id, nil]`; delivered ones have
    /// their delivery time and count bumped.
    fn read_history(
        &mut self,
        key: &[u8],
        r: &XReadGroup,
        after: StreamId,
        fetched: Option<Prefetched>,
    ) -> Result<Vec<Reply>, Reply> {
        let read = match fetched.and_then(|f| f.history) {
            Some(read) => read,
            None => self.history(key, r, after, self.fetch_limit(r.count), &mut 0)?,
        };
        let mut replies = Vec::with_capacity(read.len());
        for (id, fields) in read {
            match fields {
                None => replies.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
                Some(fields) => {
                    if let Some(old) = self.store.pending(key, &r.group, id) {
                        let pe = PendingEntry {
                            delivery_ms: self.now_ms,
                            delivery_count: redelivered(old.delivery_count),
                            ..old.clone()
                        };
                        self.store.put_pending(key, &r.group, id, Some(&old), &pe);
                    }
                    replies.push(entry_reply(id, fields));
                }
            }
        }
        Ok(replies)
    }

    pub(super) fn xack(&mut self, key: &Key, group: &Key, ids: &[StreamId]) -> Reply {
        let Some(mut group_meta) = self.store.group(key, group) else {
            return Reply::Int(0);
        };
        let mut acked = 0;
        let mut holds = Holds::default();
        for &id in ids {
            let Some(pe) = self.store.pending(key, group, id) else {
                continue;
            };
            self.drop_pending(key, group, id, &pe, &mut group_meta, &mut holds);
            acked += 1;
        }
        self.settle(key, group, holds);
        if acked > 0 {
            self.store.put_group(key, group, &group_meta);
        }
        Reply::Int(acked)
    }
}
