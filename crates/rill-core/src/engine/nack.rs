//! XNACK (Redis 8.8): a consumer gives entries back. Each named pending entry leaves its
//! consumer and stays in the group's PEL held by no one, first in delivery order, where
//! XCLAIM, XAUTOCLAIM and XREADGROUP's CLAIM take it whatever their minimum idle time.
//!
//! ```text
//!  pending (held by c1, count n) ──XNACK──▶ released (no owner, delivery time 0, count:
//!                                            SILENT n-1 | FAIL n | FATAL max | RETRYCOUNT k)
//!  not pending, FORCE, entry exists ──────▶ released, from count 0
//!  not pending otherwise ─────────────────▶ skipped, not counted
//! ```
//!
//! Released entries come in ID order (Redis: in the order they were released; see
//! ARCHITECTURE.md).

use crate::command::{NackMode, XNack};
use crate::reply::Reply;
use crate::store::{PendingEntry, Store};

use super::claim_read::DELIVERY_COUNT_MAX;
use super::groups::Holds;
use super::{nogroup, Exec};

impl<S: Store> Exec<'_, S> {
    pub(super) fn xnack(&mut self, n: &XNack) -> Reply {
        let (key, group) = (&n.key, &n.group);
        let Some(mut group_meta) = self.store.group(key, group) else {
            return nogroup(key, group);
        };
        // FORCE can add one pending entry per named ID: refuse up front, not half-way.
        if n.force {
            if let Err(reply) = self.check_pending_room(&group_meta, n.ids.len() as u64) {
                return reply;
            }
        }
        let mut released = 0i64;
        let mut holds = Holds::default();
        for &id in &n.ids {
            let old = self.store.pending(key, group, id);
            let count = match &old {
                Some(pe) => pe.delivery_count,
                // Not checked against the group's last-delivered ID, as in Redis.
                None if n.force && self.store.entry(key, id).is_some() => 0,
                None => continue,
            };
            let count = match (n.retry_count, n.mode) {
                (Some(retry_count), _) => retry_count,
                (None, NackMode::Silent) => count.saturating_sub(1),
                (None, NackMode::Fail) => count,
                (None, NackMode::Fatal) => DELIVERY_COUNT_MAX,
            };
            match &old {
                Some(pe) if pe.released => {}
                Some(pe) => {
                    holds.take(pe, &mut group_meta);
                    group_meta.nacked_count += 1;
                }
                None => {
                    group_meta.add_pending(id);
                    group_meta.nacked_count += 1;
                }
            }
            self.store
                .put_pending(key, group, id, old.as_ref(), &PendingEntry::released(count));
            released += 1;
        }
        self.settle(key, group, holds);
        if released > 0 {
            self.store.put_group(key, group, &group_meta);
        }
        Reply::Int(released)
    }
}
