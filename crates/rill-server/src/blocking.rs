//! Clients blocked in `XREAD`/`XREADGROUP ... BLOCK`, by the stream keys they wait on.
//!
//! ```text
//!  connection                          registry                      writer
//!  register(keys) ───────────────▶ key -> {waiter id -> Notify}
//!  execute: nothing to deliver
//!  notified().await  ◀──────────── wake(keys) ◀──────────────── after commit
//!  execute again ...
//!  drop(Waiter) ─────────────────▶ entries removed (also on disconnect)
//! ```
//!
//! A client registers before its first attempt, so a write that lands between the attempt and
//! the wait still wakes it: `Notify::notify_one` keeps a permit for a waiter that is not yet
//! waiting. Wake-ups may be spurious; the client just executes again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Hit when `blocked_clients_max` clients are already blocked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ERR max number of blocked clients reached (blocked_clients_max is {0})")]
pub struct TooManyBlocked(pub usize);

#[derive(Default)]
struct Registry {
    /// Per key, waiters by id: ids grow, so a wake-up reaches clients in the order they
    /// blocked (as Redis serves them), and a simulated run wakes them in one order.
    by_key: HashMap<Vec<u8>, BTreeMap<u64, Arc<Notify>>>,
    blocked: usize,
}

pub struct Waiters {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    blocked_clients_max: usize,
}

impl Waiters {
    pub fn new(blocked_clients_max: usize) -> Waiters {
        Waiters {
            registry: Mutex::new(Registry::default()),
            next_id: AtomicU64::new(1),
            blocked_clients_max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding this lock leaves the maps in an unknown state: stop loudly.
        self.registry.lock().expect("waiter registry lock poisoned")
    }

    /// Registers one blocked client on `keys`. The returned [`Waiter`] unregisters when dropped.
    pub fn register(self: &Arc<Self>, keys: &[Vec<u8>]) -> Result<Waiter, TooManyBlocked> {
        let keys: Vec<Vec<u8>> = keys
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        let mut registry = self.lock();
        if registry.blocked >= self.blocked_clients_max {
            return Err(TooManyBlocked(self.blocked_clients_max));
        }
        registry.blocked += 1;
        for key in &keys {
            let previous = registry
                .by_key
                .entry(key.clone())
                .or_default()
                .insert(id, notify.clone());
            assert!(previous.is_none(), "waiter ids are unique");
        }
        Ok(Waiter {
            waiters: Arc::clone(self),
            id,
            keys,
            notify,
        })
    }

    /// Wakes every client blocked on any of `keys`.
    pub fn wake<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let registry = self.lock();
        if registry.blocked == 0 {
            return;
        }
        for key in keys {
            if let Some(waiting) = registry.by_key.get(key) {
                for notify in waiting.values() {
                    notify.notify_one();
                }
            }
        }
    }

    /// Wakes every blocked client (FLUSHALL removed whatever they wait on).
    pub fn wake_all(&self) {
        let registry = self.lock();
        for notify in registry
            .by_key
            .values()
            .flat_map(|waiting| waiting.values())
        {
            notify.notify_one();
        }
    }

    /// Clients blocked now (for `INFO clients`).
    pub fn blocked(&self) -> usize {
        self.lock().blocked
    }

    fn unregister(&self, id: u64, keys: &[Vec<u8>]) {
        let mut registry = self.lock();
        assert!(
            registry.blocked > 0,
            "unregistering a waiter that was counted"
        );
        registry.blocked -= 1;
        for key in keys {
            let waiting = registry
                .by_key
                .get_mut(key)
                .expect("a registered key has an entry");
            let removed = waiting.remove(&id);
            assert!(
                removed.is_some(),
                "a waiter is registered on each of its keys"
            );
            if waiting.is_empty() {
                registry.by_key.remove(key);
            }
        }
        if registry.blocked == 0 {
            assert!(
                registry.by_key.is_empty(),
                "no blocked client, no key entries"
            );
        }
    }
}

/// One blocked client's registration.
pub struct Waiter {
    waiters: Arc<Waiters>,
    id: u64,
    keys: Vec<Vec<u8>>,
    notify: Arc<Notify>,
}

impl Waiter {
    /// Completes after a write touched one of the keys since registration or the last wake-up.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.waiters.unregister(self.id, &self.keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn is_woken(waiter: &Waiter) -> bool {
        tokio::time::timeout(Duration::from_millis(20), waiter.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn wake_before_wait_is_not_lost() {
        let waiters = Arc::new(Waiters::new(10));
        let a = waiters
            .register(&[b"s1".to_vec(), b"s2".to_vec(), b"s1".to_vec()])
            .expect("room");
        let b = waiters.register(&[b"s2".to_vec()]).expect("room");
        assert_eq!(waiters.blocked(), 2);
        waiters.wake([&b"s1"[..], b"other"]);
        assert!(is_woken(&a).await, "a waits on s1");
        assert!(!is_woken(&b).await, "b does not wait on s1");
        assert!(!is_woken(&a).await, "one wake-up is consumed once");
        waiters.wake([&b"s2"[..]]);
        assert!(is_woken(&a).await && is_woken(&b).await);
        drop(a);
        drop(b);
        assert_eq!(waiters.blocked(), 0);
        assert!(waiters.lock().by_key.is_empty());
    }

    #[test]
    fn cap_on_blocked_clients() {
        let waiters = Arc::new(Waiters::new(1));
        let first = waiters.register(&[b"k".to_vec()]).expect("room");
        let refused = waiters.register(&[b"k".to_vec()]).err();
        assert_eq!(refused, Some(TooManyBlocked(1)));
        assert_eq!(
            refused.map(|e| e.to_string()).as_deref(),
            Some("ERR max number of blocked clients reached (blocked_clients_max is 1)")
        );
        drop(first);
        assert!(
            waiters.register(&[b"k".to_vec()]).is_ok(),
            "room again after unregistering"
        );
    }
}
