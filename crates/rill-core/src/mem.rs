//! [`MemStore`]: the [`Store`] trait over `BTreeMap`s, for tests and tools that need no disk.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::id::StreamId;
use crate::store::{
    ConsumerMeta, Fields, GroupMeta, IdmpMeta, IdmpRecord, PendingEntry, ProducerState, Store,
    StreamMeta,
};

type Key = Vec<u8>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemStore {
    pub streams: BTreeMap<Key, StreamMeta>,
    pub entries: BTreeMap<(Key, StreamId), Fields>,
    pub groups: BTreeMap<(Key, Key), GroupMeta>,
    pub consumers: BTreeMap<(Key, Key, Key), ConsumerMeta>,
    pub pending: BTreeMap<(Key, Key, StreamId), PendingEntry>,
    pub consumer_pending: BTreeMap<(Key, Key, Key, StreamId), ()>,
    pub producers: BTreeMap<Key, ProducerState>,
    /// `(touched_ms, producer)`, the index behind `idle_producers`.
    pub producers_idle: BTreeSet<(u64, Key)>,
    pub producer_clock: Option<crate::store::ProducerClock>,
    /// [`Store::key_version`]'s stamps, and the counter they are drawn from.
    pub versions: BTreeMap<Key, u64>,
    pub version_counter: u64,
    pub idmp_meta: BTreeMap<Key, IdmpMeta>,
    /// `(stream, pid, iid) -> id`, and the same by producer in ID order and by stream in ID
    /// order.
    pub idmp: BTreeMap<(Key, Key, Key), StreamId>,
    pub idmp_by_producer: BTreeMap<(Key, Key, StreamId), Key>,
    pub idmp_by_id: BTreeMap<(Key, StreamId), (Key, Key)>,
    /// What a command costs on a disk store, for tests: entries read with their fields (a
    /// value to decode and copy), consumer records written, PEL range scans begun (each a
    /// seek), PEL records looked up one by one (each a point read).
    pub fields_read: CallCount,
    pub consumer_writes: CallCount,
    pub pending_scans: CallCount,
    pub pending_reads: CallCount,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }
}

/// A count of calls, outside the state: any two are equal, and a clone starts where its
/// original was.
#[derive(Debug, Default)]
pub struct CallCount(AtomicU64);

impl CallCount {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self, n: usize) {
        self.0.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Clone for CallCount {
    fn clone(&self) -> CallCount {
        CallCount(AtomicU64::new(self.get()))
    }
}

impl PartialEq for CallCount {
    fn eq(&self, _: &CallCount) -> bool {
        true
    }
}

impl Eq for CallCount {}

fn retain_prefix<K: Ord + Clone, V>(map: &mut BTreeMap<K, V>, keep: impl Fn(&K) -> bool) {
    map.retain(|k, _| keep(k));
}

impl Store for MemStore {
    fn stream(&self, key: &[u8]) -> Option<StreamMeta> {
        self.streams.get(key).cloned()
    }

    fn put_stream(&mut self, key: &[u8], meta: &StreamMeta) {
        self.streams.insert(key.to_vec(), meta.clone());
    }

    fn delete_stream(&mut self, key: &[u8]) {
        self.streams.remove(key);
        retain_prefix(&mut self.entries, |(k, _)| k != key);
        retain_prefix(&mut self.groups, |(k, _)| k != key);
        retain_prefix(&mut self.consumers, |(k, _, _)| k != key);
        retain_prefix(&mut self.pending, |(k, _, _)| k != key);
        retain_prefix(&mut self.consumer_pending, |(k, _, _, _)| k != key);
        self.versions.remove(key);
        self.idmp_meta.remove(key);
        self.clear_idmp(key);
    }

    fn stream_keys(&self, after: Option<&[u8]>, limit: usize) -> Vec<Vec<u8>> {
        let lower = match after {
            Some(after) => Excluded(after.to_vec()),
            None => Unbounded,
        };
        self.streams
            .range((lower, Unbounded))
            .take(limit)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn entry(&self, key: &[u8], id: StreamId) -> Option<Fields> {
        let found = self.entries.get(&(key.to_vec(), id)).cloned();
        self.fields_read.add(usize::from(found.is_some()));
        found
    }

    fn entries(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        limit: usize,
    ) -> Vec<(StreamId, Fields)> {
        self.entries_within(key, start, end, rev, limit, usize::MAX)
    }

    fn entries_within(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        limit: usize,
        bytes_max: usize,
    ) -> Vec<(StreamId, Fields)> {
        if start > end {
            return Vec::new();
        }
        let range = self
            .entries
            .range((key.to_vec(), start)..=(key.to_vec(), end));
        let entries: Box<dyn Iterator<Item = _>> = if rev {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for ((_, id), fields) in entries.take(limit) {
            out.push((*id, fields.clone()));
            bytes = bytes.saturating_add(crate::store::entry_reply_bytes(fields));
            if bytes > bytes_max {
                break;
            }
        }
        self.fields_read.add(out.len());
        out
    }

    fn put_entry(&mut self, key: &[u8], id: StreamId, fields: &Fields) {
        self.entries.insert((key.to_vec(), id), fields.clone());
    }

    fn delete_entry(&mut self, key: &[u8], id: StreamId) {
        self.entries.remove(&(key.to_vec(), id));
    }

    fn visit_entry_ids(
        &self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        rev: bool,
        visit: &mut dyn FnMut(StreamId) -> bool,
    ) {
        if start > end {
            return;
        }
        let range = self
            .entries
            .range((key.to_vec(), start)..=(key.to_vec(), end));
        let mut ids: Box<dyn Iterator<Item = StreamId>> = if rev {
            Box::new(range.rev().map(|((_, id), _)| *id))
        } else {
            Box::new(range.map(|((_, id), _)| *id))
        };
        ids.try_for_each(|id| if visit(id) { Some(()) } else { None });
    }

    fn delete_entries_below(&mut self, key: &[u8], below: Option<StreamId>, count: u64) {
        let below = below.map(|id| (key.to_vec(), id));
        let victims: Vec<(Key, StreamId)> = self
            .entries
            .range((key.to_vec(), StreamId::MIN)..)
            .map(|(k, _)| k.clone())
            .take_while(|k| k.0 == key && below.as_ref().is_none_or(|below| k < below))
            .collect();
        assert_eq!(victims.len() as u64, count, "entries below the trim point");
        for victim in victims {
            self.entries.remove(&victim);
        }
    }

    fn groups(&self, key: &[u8]) -> Vec<(Vec<u8>, GroupMeta)> {
        self.groups
            .range((Included((key.to_vec(), Vec::new())), Unbounded))
            .take_while(|((k, _), _)| k == key)
            .map(|((_, g), m)| (g.clone(), m.clone()))
            .collect()
    }

    fn group(&self, key: &[u8], group: &[u8]) -> Option<GroupMeta> {
        self.groups.get(&(key.to_vec(), group.to_vec())).cloned()
    }

    fn put_group(&mut self, key: &[u8], group: &[u8], meta: &GroupMeta) {
        self.groups
            .insert((key.to_vec(), group.to_vec()), meta.clone());
    }

    fn delete_group(&mut self, key: &[u8], group: &[u8]) {
        self.groups.remove(&(key.to_vec(), group.to_vec()));
        retain_prefix(&mut self.consumers, |(k, g, _)| !(k == key && g == group));
        retain_prefix(&mut self.pending, |(k, g, _)| !(k == key && g == group));
        retain_prefix(&mut self.consumer_pending, |(k, g, _, _)| {
            !(k == key && g == group)
        });
    }

    fn consumers(&self, key: &[u8], group: &[u8]) -> Vec<(Vec<u8>, ConsumerMeta)> {
        self.consumers
            .range((
                Included((key.to_vec(), group.to_vec(), Vec::new())),
                Unbounded,
            ))
            .take_while(|((k, g, _), _)| k == key && g == group)
            .map(|((_, _, c), m)| (c.clone(), m.clone()))
            .collect()
    }

    fn consumer(&self, key: &[u8], group: &[u8], consumer: &[u8]) -> Option<ConsumerMeta> {
        self.consumers
            .get(&(key.to_vec(), group.to_vec(), consumer.to_vec()))
            .cloned()
    }

    fn put_consumer(&mut self, key: &[u8], group: &[u8], consumer: &[u8], meta: &ConsumerMeta) {
        self.consumer_writes.add(1);
        self.consumers.insert(
            (key.to_vec(), group.to_vec(), consumer.to_vec()),
            meta.clone(),
        );
    }

    fn delete_consumer(&mut self, key: &[u8], group: &[u8], consumer: &[u8]) {
        self.consumers
            .remove(&(key.to_vec(), group.to_vec(), consumer.to_vec()));
    }

    fn pending(&self, key: &[u8], group: &[u8], id: StreamId) -> Option<PendingEntry> {
        self.pending_reads.add(1);
        self.pending
            .get(&(key.to_vec(), group.to_vec(), id))
            .cloned()
    }

    fn pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<(StreamId, PendingEntry)> {
        self.pending_scans.add(1);
        if start > end {
            return Vec::new();
        }
        let (k, g) = (key.to_vec(), group.to_vec());
        self.pending
            .range((k.clone(), g.clone(), start)..=(k, g, end))
            .take(limit)
            .map(|((_, _, id), e)| (*id, e.clone()))
            .collect()
    }

    fn last_pending(&self, key: &[u8], group: &[u8]) -> Option<StreamId> {
        let (key, group) = (key.to_vec(), group.to_vec());
        self.pending
            .range((key.clone(), group.clone(), StreamId::MIN)..=(key, group, StreamId::MAX))
            .next_back()
            .map(|((_, _, id), _)| *id)
    }

    fn put_pending(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        caller_old: Option<&PendingEntry>,
        entry: &PendingEntry,
    ) {
        let (k, g) = (key.to_vec(), group.to_vec());
        let old = self
            .pending
            .insert((k.clone(), g.clone(), id), entry.clone());
        assert_eq!(
            old.as_ref(),
            caller_old,
            "put_pending's caller misread the record"
        );
        if let Some(old) = old {
            if let Some(owner) = old.owner() {
                self.consumer_pending
                    .remove(&(k.clone(), g.clone(), owner.to_vec(), id));
            }
        }
        // A released entry is in no consumer's index.
        if let Some(owner) = entry.owner() {
            self.consumer_pending.insert((k, g, owner.to_vec(), id), ());
        }
    }

    fn delete_pending(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        caller_old: &PendingEntry,
    ) {
        let (k, g) = (key.to_vec(), group.to_vec());
        let old = self.pending.remove(&(k.clone(), g.clone(), id));
        assert_eq!(
            old.as_ref(),
            Some(caller_old),
            "delete_pending's caller misread the record"
        );
        if let Some(old) = old {
            if let Some(owner) = old.owner() {
                self.consumer_pending.remove(&(k, g, owner.to_vec(), id));
            }
        }
    }

    fn visit_pending_by_delivery(
        &self,
        key: &[u8],
        group: &[u8],
        visit: &mut dyn FnMut(u64, StreamId) -> bool,
    ) {
        let (k, g) = (key.to_vec(), group.to_vec());
        let mut order: Vec<(u64, StreamId)> = self
            .pending
            .range((k.clone(), g.clone(), StreamId::MIN)..=(k, g, StreamId::MAX))
            .map(|((_, _, id), pe)| (pe.delivery_ms, *id))
            .collect();
        order.sort_unstable();
        for (ms, id) in order {
            if !visit(ms, id) {
                return;
            }
        }
    }

    fn keep_delivery_order(&mut self, _key: &[u8], _group: &[u8]) {
        // Ordered on every visit.
    }

    fn consumer_pending_range(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<StreamId> {
        if start > end {
            return Vec::new();
        }
        let (k, g, c) = (key.to_vec(), group.to_vec(), consumer.to_vec());
        self.consumer_pending
            .range((k.clone(), g.clone(), c.clone(), start)..=(k, g, c, end))
            .take(limit)
            .map(|((_, _, _, id), _)| *id)
            .collect()
    }

    fn producer(&self, producer: &[u8]) -> Option<ProducerState> {
        self.producers.get(producer).copied()
    }

    fn put_producer(&mut self, producer: &[u8], state: &ProducerState) {
        if let Some(old) = self.producers.insert(producer.to_vec(), *state) {
            self.producers_idle
                .remove(&(old.touched_ms, producer.to_vec()));
        }
        self.producers_idle
            .insert((state.touched_ms, producer.to_vec()));
    }

    fn delete_producer(&mut self, producer: &[u8]) {
        if let Some(old) = self.producers.remove(producer) {
            self.producers_idle
                .remove(&(old.touched_ms, producer.to_vec()));
        }
    }

    fn producer_count(&self) -> u64 {
        self.producers.len() as u64
    }

    fn idmp_meta(&self, key: &[u8]) -> Option<IdmpMeta> {
        self.idmp_meta.get(key).copied()
    }

    fn put_idmp_meta(&mut self, key: &[u8], meta: &IdmpMeta) {
        self.idmp_meta.insert(key.to_vec(), *meta);
    }

    fn idmp_id(&self, key: &[u8], pid: &[u8], iid: &[u8]) -> Option<StreamId> {
        self.idmp
            .get(&(key.to_vec(), pid.to_vec(), iid.to_vec()))
            .copied()
    }

    fn idmp_at(&self, key: &[u8], id: StreamId) -> Option<IdmpRecord> {
        self.idmp_by_id
            .get(&(key.to_vec(), id))
            .map(|(pid, iid)| IdmpRecord {
                id,
                pid: pid.clone(),
                iid: iid.clone(),
            })
    }

    fn put_idmp(&mut self, key: &[u8], r: &IdmpRecord) {
        let (k, pid, iid) = (key.to_vec(), r.pid.clone(), r.iid.clone());
        self.idmp
            .insert((k.clone(), pid.clone(), iid.clone()), r.id);
        self.idmp_by_producer
            .insert((k.clone(), pid.clone(), r.id), iid.clone());
        self.idmp_by_id.insert((k, r.id), (pid, iid));
    }

    fn delete_idmp(&mut self, key: &[u8], r: &IdmpRecord) {
        let (k, pid, iid) = (key.to_vec(), r.pid.clone(), r.iid.clone());
        self.idmp.remove(&(k.clone(), pid.clone(), iid));
        self.idmp_by_producer.remove(&(k.clone(), pid, r.id));
        self.idmp_by_id.remove(&(k, r.id));
    }

    fn oldest_idmp(&self, key: &[u8], pid: Option<&[u8]>) -> Option<IdmpRecord> {
        match pid {
            None => self
                .idmp_by_id
                .range((key.to_vec(), StreamId::MIN)..=(key.to_vec(), StreamId::MAX))
                .next()
                .map(|((_, id), (pid, iid))| IdmpRecord {
                    id: *id,
                    pid: pid.clone(),
                    iid: iid.clone(),
                }),
            Some(pid) => {
                let (k, p) = (key.to_vec(), pid.to_vec());
                self.idmp_by_producer
                    .range((k.clone(), p.clone(), StreamId::MIN)..=(k, p, StreamId::MAX))
                    .next()
                    .map(|((_, pid, id), iid)| IdmpRecord {
                        id: *id,
                        pid: pid.clone(),
                        iid: iid.clone(),
                    })
            }
        }
    }

    fn idmp_records(&self, key: &[u8], limit: usize) -> Vec<IdmpRecord> {
        self.idmp_by_id
            .range((key.to_vec(), StreamId::MIN)..=(key.to_vec(), StreamId::MAX))
            .take(limit)
            .map(|((_, id), (pid, iid))| IdmpRecord {
                id: *id,
                pid: pid.clone(),
                iid: iid.clone(),
            })
            .collect()
    }

    fn idmp_count(&self, key: &[u8], pid: &[u8]) -> u64 {
        let (k, p) = (key.to_vec(), pid.to_vec());
        self.idmp_by_producer
            .range((k.clone(), p.clone(), StreamId::MIN)..=(k, p, StreamId::MAX))
            .count() as u64
    }

    fn clear_idmp(&mut self, key: &[u8]) {
        retain_prefix(&mut self.idmp, |(k, _, _)| k != key);
        retain_prefix(&mut self.idmp_by_producer, |(k, _, _)| k != key);
        retain_prefix(&mut self.idmp_by_id, |(k, _)| k != key);
    }

    fn key_version(&self, key: &[u8]) -> Option<u64> {
        self.versions.get(key).copied()
    }

    fn touch(&mut self, key: &[u8]) {
        self.version_counter += 1;
        self.versions.insert(key.to_vec(), self.version_counter);
    }

    fn producer_clock(&self) -> Option<crate::store::ProducerClock> {
        self.producer_clock
    }

    fn put_producer_clock(&mut self, clock: &crate::store::ProducerClock) {
        self.producer_clock = Some(*clock);
    }

    fn idle_producers(&self, before_ms: u64, limit: usize) -> Vec<Vec<u8>> {
        self.producers_idle
            .range(..(before_ms, Vec::new()))
            .take(limit)
            .map(|(_, producer)| producer.clone())
            .collect()
    }
}
