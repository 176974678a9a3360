//! XGROUP's subcommands, and the consumer bookkeeping every group command shares: creating a
//! consumer within `consumers_per_group_max`, the `pending_per_group_max` check, and the
//! helpers that move a consumer's pending count and drop a pending entry.

use std::collections::BTreeMap;

use crate::command::{GroupStart, XGroup};
use crate::id::StreamId;
use crate::reply::{errors, Reply};
use crate::store::{ConsumerMeta, GroupMeta, PendingEntry, Store, StreamMeta};

use super::{help, nogroup_for_key, Exec};

impl<S: Store> Exec<'_, S> {
    pub(super) fn xgroup(&mut self, g: &XGroup) -> Reply {
        let (key, group) = match g {
            XGroup::Help => return xgroup_help(),
            XGroup::Create { key, group, .. }
            | XGroup::SetId { key, group, .. }
            | XGroup::Destroy { key, group }
            | XGroup::CreateConsumer { key, group, .. }
            | XGroup::DelConsumer { key, group, .. } => (key, group),
        };
        let meta = self.store.stream(key);
        let mkstream = matches!(g, XGroup::Create { mkstream: true, .. });
        if meta.is_none() && !mkstream {
            return Reply::err(errors::XGROUP_NEEDS_KEY);
        }
        let existing = self.store.group(key, group);
        let needs_group = matches!(
            g,
            XGroup::SetId { .. } | XGroup::CreateConsumer { .. } | XGroup::DelConsumer { .. }
        );
        if existing.is_none() && needs_group {
            return nogroup_for_key(key, group);
        }
        let last_id = meta.as_ref().map_or(StreamId::MIN, |m| m.last_id);
        let resolve = |start: &GroupStart| match start {
            GroupStart::Last => last_id,
            GroupStart::Id(id) => *id,
        };
        match g {
            XGroup::Create {
                start,
                entries_read,
                ..
            } => {
                if existing.is_some() {
                    return Reply::err(errors::BUSYGROUP);
                }
                if self.store.groups(key).len() >= self.limits.groups_per_stream_max {
                    return Reply::err(format!(
                        "ERR stream already has {} groups (groups_per_stream_max)",
                        self.limits.groups_per_stream_max
                    ));
                }
                if meta.is_none() {
                    self.store.put_stream(key, &StreamMeta::default());
                    self.store.touch(key);
                }
                let group_meta = GroupMeta {
                    last_delivered_id: resolve(start),
                    entries_read: *entries_read,
                    pending_count: 0,
                    nacked_count: 0,
                    pending_max: None,
                };
                self.store.put_group(key, group, &group_meta);
                Reply::ok()
            }
            XGroup::SetId {
                start,
                entries_read,
                ..
            } => {
                let mut group_meta = existing.unwrap_or_default();
                group_meta.last_delivered_id = resolve(start);
                group_meta.entries_read = *entries_read;
                self.store.put_group(key, group, &group_meta);
                Reply::ok()
            }
            XGroup::Destroy { .. } => {
                if existing.is_none() {
                    return Reply::Int(0);
                }
                self.store.delete_group(key, group);
                Reply::Int(1)
            }
            XGroup::CreateConsumer { consumer, .. } => {
                if self.store.consumer(key, group, consumer).is_some() {
                    return Reply::Int(0);
                }
                match self.create_consumer(key, group, consumer) {
                    Ok(_) => Reply::Int(1),
                    Err(reply) => reply,
                }
            }
            XGroup::DelConsumer { consumer, .. } => {
                self.del_consumer(key, group, existing.unwrap_or_default(), consumer)
            }
            XGroup::Help => unreachable!("answered above"),
        }
    }

    fn create_consumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<ConsumerMeta, Reply> {
        self.check_consumer_room(key, group)?;
        let meta = ConsumerMeta {
            seen_ms: self.now_ms,
            active_ms: None,
            pending_count: 0,
        };
        self.store.put_consumer(key, group, consumer, &meta);
        Ok(meta)
    }

    pub(super) fn check_consumer_room(&self, key: &[u8], group: &[u8]) -> Result<(), Reply> {
        let max = self.limits.consumers_per_group_max;
        if self.store.consumers(key, group).len() >= max {
            return Err(Reply::err(format!(
                "ERR group already has {max} consumers (consumers_per_group_max)"
            )));
        }
        Ok(())
    }

    pub(super) fn check_pending_room(
        &self,
        group_meta: &GroupMeta,
        adding: u64,
    ) -> Result<(), Reply> {
        if group_meta.pending_count + adding > self.limits.pending_per_group_max {
            return Err(Reply::err(format!(
                "ERR group has {} pending entries (pending_per_group_max); acknowledge some first",
                group_meta.pending_count
            )));
        }
        Ok(())
    }

    /// Looks a consumer up, creating it if needed, and refreshes its seen time.
    pub(super) fn touch_consumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<ConsumerMeta, Reply> {
        let Some(mut meta) = self.store.consumer(key, group, consumer) else {
            // Created seen now.
            return self.create_consumer(key, group, consumer);
        };
        meta.seen_ms = self.now_ms;
        self.store.put_consumer(key, group, consumer, &meta);
        Ok(meta)
    }

    fn del_consumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        mut group_meta: GroupMeta,
        consumer: &[u8],
    ) -> Reply {
        let Some(meta) = self.store.consumer(key, group, consumer) else {
            return Reply::Int(0);
        };
        let ids = self.store.consumer_pending_range(
            key,
            group,
            consumer,
            StreamId::MIN,
            StreamId::MAX,
            usize::MAX,
        );
        debug_assert_eq!(ids.len() as u64, meta.pending_count);
        for &id in &ids {
            if let Some(pe) = self.store.pending(key, group, id) {
                self.store.delete_pending(key, group, id, &pe);
            }
        }
        group_meta.pending_count -= ids.len() as u64;
        self.store.put_group(key, group, &group_meta);
        self.store.delete_consumer(key, group, consumer);
        Reply::Int(ids.len() as i64)
    }

    /// Removes a pending entry: from the group's count (`group_meta`, which the caller writes
    /// back) and from its holder's (`holds`, which the caller settles).
    pub(super) fn drop_pending(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        pe: &PendingEntry,
        group_meta: &mut GroupMeta,
        holds: &mut Holds,
    ) {
        self.store.delete_pending(key, group, id, pe);
        holds.take(pe, group_meta);
        group_meta.pending_count -= 1;
    }

    /// Writes what `holds` gathered: each consumer's record read and written once, in name
    /// order.
    pub(super) fn settle(&mut self, key: &[u8], group: &[u8], holds: Holds) {
        for (name, delta) in holds.deltas {
            if delta == 0 {
                continue;
            }
            let Some(mut meta) = self.store.consumer(key, group, &name) else {
                debug_assert!(false, "pending entry owned by a missing consumer");
                continue;
            };
            meta.pending_count = meta
                .pending_count
                .checked_add_signed(delta)
                .expect("consumer pending count underflow");
            self.store.put_consumer(key, group, &name, &meta);
        }
    }
}

/// What one command takes from and gives to consumers' pending counts in one group, gathered
/// so that [`Exec::settle`] reads and writes each consumer's record once however many of its
/// entries moved: a consumer acknowledges, or loses to a claim, what one read gave it.
#[derive(Debug, Default)]
pub(super) struct Holds {
    /// Consumer name to the change in its count.
    deltas: BTreeMap<Vec<u8>, i64>,
}

impl Holds {
    /// Takes pending entry `pe` from whoever holds it: its consumer, or for a released entry
    /// the group (`group_meta`, which the caller writes back).
    pub(super) fn take(&mut self, pe: &PendingEntry, group_meta: &mut GroupMeta) {
        match pe.owner() {
            Some(owner) => self.add(owner, -1),
            None => group_meta.nacked_count -= 1,
        }
    }

    /// Gives `consumer` one more pending entry.
    pub(super) fn give(&mut self, consumer: &[u8]) {
        self.add(consumer, 1);
    }

    /// Whether `consumer`'s count is to change: a caller that writes that consumer's record
    /// itself must not also settle it.
    pub(super) fn touches(&self, consumer: &[u8]) -> bool {
        self.deltas.contains_key(consumer)
    }

    fn add(&mut self, consumer: &[u8], delta: i64) {
        match self.deltas.get_mut(consumer) {
            Some(held) => *held += delta,
            None => {
                self.deltas.insert(consumer.to_vec(), delta);
            }
        }
    }
}

fn xgroup_help() -> Reply {
    help(&[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Print this help.",
    ])
}
