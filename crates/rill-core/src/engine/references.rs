//! Reference policies (Redis 8.2): whether a consumer group still refers to an entry, dropping
//! every group's pending entry for one (DELREF), and the commands built on them, XDELEX and
//! XACKDEL. Trimming with a policy (`trim`) uses the same two helpers.
//!
//! An entry is referenced while some group has not been delivered it (the group's
//! last-delivered ID is below it) or some group's PEL holds it. A stream with no groups
//! references nothing. Redis keeps an index from entry to groups for the second test; here it
//! is one pending-entry lookup per group, and groups per stream are bounded
//! (`Limits::groups_per_stream_max`).

use crate::command::{Key, RefPolicy};
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{Store, StreamMeta};

use super::groups::Holds;
use super::Exec;

/// What XDELEX and XACKDEL answer per ID.
const NOT_FOUND: i64 = -1;
const DELETED: i64 = 1;
/// Acknowledged (XACKDEL) but kept: still referenced (ACKED).
const KEPT: i64 = 2;

/// A stream's groups as a policy needs them, read once per command.
pub(super) struct Groups {
    names: Vec<Vec<u8>>,
    /// The lowest last-delivered ID; `None` without groups.
    min_delivered: Option<StreamId>,
}

impl Groups {
    /// Whether some group has not been delivered `id` yet (and so no later entry either).
    pub(super) fn undelivered(&self, id: StreamId) -> bool {
        self.min_delivered.is_some_and(|min| min < id)
    }
}

/// `n` answers of [`NOT_FOUND`]: a missing key (or XACKDEL's missing group).
pub(super) fn each_not_found(n: usize) -> Reply {
    Reply::Array(vec![Reply::Int(NOT_FOUND); n])
}

impl<S: Store> Exec<'_, S> {
    pub(super) fn groups_of(&self, key: &[u8]) -> Groups {
        let groups = self.store.groups(key);
        Groups {
            min_delivered: groups.iter().map(|(_, g)| g.last_delivered_id).min(),
            names: groups.into_iter().map(|(name, _)| name).collect(),
        }
    }

    /// `streamEntryIsReferenced`. The entry need not exist.
    pub(super) fn referenced(&self, key: &[u8], groups: &Groups, id: StreamId) -> bool {
        groups.undelivered(id)
            || groups
                .names
                .iter()
                .any(|group| self.store.pending(key, group, id).is_some())
    }

    /// DELREF: removes every group's pending entry for `id`, owned by whomever. The entry need
    /// not exist.
    pub(super) fn drop_references(&mut self, key: &[u8], groups: &Groups, id: StreamId) {
        for group in &groups.names {
            let Some(pe) = self.store.pending(key, group, id) else {
                continue;
            };
            let Some(mut group_meta) = self.store.group(key, group) else {
                continue;
            };
            let mut holds = Holds::default();
            self.drop_pending(key, group, id, &pe, &mut group_meta, &mut holds);
            self.settle(key, group, holds);
            self.store.put_group(key, group, &group_meta);
        }
    }

    /// Before removing `id` by `policy`: whether ACKED keeps it; DELREF drops its references.
    fn kept_by(&mut self, policy: RefPolicy, key: &[u8], groups: &Groups, id: StreamId) -> bool {
        match policy {
            RefPolicy::KeepRef => false,
            RefPolicy::Acked => self.referenced(key, groups, id),
            RefPolicy::DelRef => {
                self.drop_references(key, groups, id);
                false
            }
        }
    }

    /// Removes the entry `id` if present, as XDEL does (`max_deleted_id` moves; the caller
    /// settles `first_id` with [`Exec::finish_deletes`]). Returns whether it was present.
    pub(super) fn delete_one(&mut self, key: &[u8], meta: &mut StreamMeta, id: StreamId) -> bool {
        if self.store.entry(key, id).is_none() {
            return false;
        }
        self.store.delete_entry(key, id);
        meta.length -= 1;
        meta.max_deleted_id = meta.max_deleted_id.max(id);
        true
    }

    /// After entries were removed by ID: the first ID if it went, the metadata, the stamp.
    /// `old_first` is the first ID before the removals.
    pub(super) fn finish_deletes(
        &mut self,
        key: &[u8],
        meta: &mut StreamMeta,
        old_first: StreamId,
    ) {
        if meta.length == 0 {
            meta.first_id = StreamId::MIN;
        } else if self.store.entry(key, old_first).is_none() {
            meta.first_id = self.first_entry_id(key);
        }
        self.store.put_stream(key, meta);
        self.store.touch(key);
    }

    pub(super) fn xdelex(&mut self, key: &Key, policy: RefPolicy, ids: &[StreamId]) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return each_not_found(ids.len());
        };
        let groups = self.groups_of(key);
        let old_first = meta.first_id;
        let mut answers = Vec::with_capacity(ids.len());
        let mut deleted = 0;
        for &id in ids {
            if self.kept_by(policy, key, &groups, id) {
                answers.push(Reply::Int(KEPT));
                continue;
            }
            let found = self.delete_one(key, &mut meta, id);
            deleted += u64::from(found);
            answers.push(Reply::Int(if found { DELETED } else { NOT_FOUND }));
        }
        if deleted > 0 {
            self.finish_deletes(key, &mut meta, old_first);
        }
        Reply::Array(answers)
    }

    /// Each ID in the group's PEL is acknowledged, then removed from the stream unless the
    /// policy keeps it: `1` even when the entry was already gone, `-1` for an ID not pending in
    /// this group (its entry stays, whatever the policy).
    pub(super) fn xackdel(
        &mut self,
        key: &Key,
        group: &Key,
        policy: RefPolicy,
        ids: &[StreamId],
    ) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return each_not_found(ids.len());
        };
        if self.store.group(key, group).is_none() {
            return each_not_found(ids.len());
        }
        let groups = self.groups_of(key);
        let old_first = meta.first_id;
        let mut answers = Vec::with_capacity(ids.len());
        let mut deleted = 0;
        // This group's owners, settled once at the end. DELREF's walk over the groups does
        // not reach them: it finds no pending entry here for an ID already dropped.
        let mut holds = Holds::default();
        for &id in ids {
            let Some(pe) = self.store.pending(key, group, id) else {
                answers.push(Reply::Int(NOT_FOUND));
                continue;
            };
            let Some(mut group_meta) = self.store.group(key, group) else {
                // Only a store that failed a read answers so; it refuses to commit this command.
                answers.push(Reply::Int(NOT_FOUND));
                continue;
            };
            self.drop_pending(key, group, id, &pe, &mut group_meta, &mut holds);
            self.store.put_group(key, group, &group_meta);
            if self.kept_by(policy, key, &groups, id) {
                answers.push(Reply::Int(KEPT));
                continue;
            }
            deleted += u64::from(self.delete_one(key, &mut meta, id));
            answers.push(Reply::Int(DELETED));
        }
        self.settle(key, group, holds);
        if deleted > 0 {
            self.finish_deletes(key, &mut meta, old_first);
        }
        Reply::Array(answers)
    }
}
