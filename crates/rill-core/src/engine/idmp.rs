//! Redis 8.6's idempotent XADD (`IDMP pid iid`, `IDMPAUTO pid`) and XCFGSET.
//!
//! Each stream remembers, per producer, the iids of its XADDs with the IDs they got: the last
//! `idmp-maxsize` per producer, each for `idmp-duration` seconds after its entry's ID (its
//! milliseconds, as Redis reads it). A repeat answers the remembered ID, appends nothing and
//! trims nothing. Redis forgets expired iids from a timer; here each idempotent XADD forgets a
//! few of the stream's oldest first, and a lookup never answers an expired one, so the result
//! depends on the stamped time only. A stream remembers at most
//! `Limits::idmp_iids_per_stream_max` iids over all producers, oldest forgotten first.

use crate::command::{Command, Idempotent, Key};
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{IdmpMeta, IdmpRecord, Store};

use super::{id_reply, Exec};

/// Expired iids forgotten per idempotent XADD, beyond the one it may add: the table shrinks
/// faster than it grows, and no command does unbounded work.
const EXPIRE_PER_CALL: usize = 8;

impl<S: Store> Exec<'_, S> {
    /// The first millisecond at which an iid whose entry has `id` counts as expired.
    fn idmp_expired(&self, meta: &IdmpMeta, id: StreamId) -> bool {
        id.ms.saturating_add(meta.duration_s.saturating_mul(1000)) <= self.now_ms
    }

    fn forget_idmp(&mut self, key: &[u8], meta: &mut IdmpMeta, record: &IdmpRecord) {
        self.store.delete_idmp(key, record);
        // Saturating: only a store that failed a read (and will not commit) disagrees here.
        meta.iids_tracked = meta.iids_tracked.saturating_sub(1);
        if self.store.idmp_count(key, &record.pid) == 0 {
            meta.pids_tracked = meta.pids_tracked.saturating_sub(1);
        }
    }

    pub(super) fn xadd_idempotent(&mut self, i: &Idempotent) -> Reply {
        let key = match &i.add {
            Command::XAdd { key, .. } => key,
            _ => return Reply::err("ERR IDMP takes an XADD"),
        };
        let mut meta = self.store.idmp_meta(key).unwrap_or_default();
        for _ in 0..EXPIRE_PER_CALL {
            match self.store.oldest_idmp(key, None) {
                Some(oldest) if self.idmp_expired(&meta, oldest.id) => {
                    self.forget_idmp(key, &mut meta, &oldest)
                }
                _ => break,
            }
        }
        if let Some(first) = self.store.idmp_id(key, &i.pid, &i.iid) {
            let record = IdmpRecord {
                id: first,
                pid: i.pid.clone(),
                iid: i.iid.clone(),
            };
            if !self.idmp_expired(&meta, first) {
                meta.iids_duplicates += 1;
                self.store.put_idmp_meta(key, &meta);
                return id_reply(first);
            }
            self.forget_idmp(key, &mut meta, &record);
        }
        let new_id = match self.add_command(&i.add) {
            Ok(Some(new_id)) => new_id,
            Ok(None) => return Reply::Nil,
            Err(reply) => {
                // The expiries above stand, as they would have by Redis's timer.
                self.put_idmp_meta_if_stream(key, &meta);
                return reply;
            }
        };
        // An ID comes again when XSETID moved an emptied stream's last ID back: the iid
        // remembered with it is forgotten, so each ID has at most one.
        if let Some(earlier) = self.store.idmp_at(key, new_id) {
            self.forget_idmp(key, &mut meta, &earlier);
        }
        if self.store.idmp_count(key, &i.pid) == 0 {
            meta.pids_tracked += 1;
        }
        let record = IdmpRecord {
            id: new_id,
            pid: i.pid.clone(),
            iid: i.iid.clone(),
        };
        self.store.put_idmp(key, &record);
        meta.iids_tracked += 1;
        meta.iids_added += 1;
        if self.store.idmp_count(key, &i.pid) > meta.maxsize {
            if let Some(oldest) = self.store.oldest_idmp(key, Some(&i.pid)) {
                self.forget_idmp(key, &mut meta, &oldest);
            }
        }
        if meta.iids_tracked > self.limits.idmp_iids_per_stream_max {
            if let Some(oldest) = self.store.oldest_idmp(key, None) {
                self.forget_idmp(key, &mut meta, &oldest);
            }
        }
        self.store.put_idmp_meta(key, &meta);
        id_reply(new_id)
    }

    fn put_idmp_meta_if_stream(&mut self, key: &[u8], meta: &IdmpMeta) {
        if self.store.stream(key).is_some() {
            self.store.put_idmp_meta(key, meta);
        }
    }

    /// A setting that changes makes the stream forget every iid; its lifetime counters stay.
    pub(super) fn xcfgset(
        &mut self,
        key: &Key,
        duration_s: Option<u64>,
        maxsize: Option<u64>,
    ) -> Reply {
        if self.store.stream(key).is_none() {
            return Reply::err("ERR no such key");
        }
        let mut meta = self.store.idmp_meta(key).unwrap_or_default();
        let mut changed = false;
        if let Some(d) = duration_s.filter(|d| *d != meta.duration_s) {
            meta.duration_s = d;
            changed = true;
        }
        if let Some(m) = maxsize.filter(|m| *m != meta.maxsize) {
            meta.maxsize = m;
            changed = true;
        }
        if changed {
            self.store.clear_idmp(key);
            meta.pids_tracked = 0;
            meta.iids_tracked = 0;
            self.store.put_idmp_meta(key, &meta);
        }
        Reply::ok()
    }

    /// XINFO STREAM's IDMP fields, in Redis's order.
    pub(super) fn idmp_info(&self, key: &[u8]) -> Vec<(&'static str, Reply)> {
        let meta = self.store.idmp_meta(key).unwrap_or_default();
        let int = |n: u64| Reply::Int(n as i64);
        vec![
            ("idmp-duration", int(meta.duration_s)),
            ("idmp-maxsize", int(meta.maxsize)),
            ("pids-tracked", int(meta.pids_tracked)),
            ("iids-tracked", int(meta.iids_tracked)),
            ("iids-added", int(meta.iids_added)),
            ("iids-duplicates", int(meta.iids_duplicates)),
        ]
    }
}
