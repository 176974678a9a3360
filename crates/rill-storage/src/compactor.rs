//! Gives back the disk under large deletes.
//!
//! ```text
//!   commit with a large range delete ──request(cf, range)──▶ queue (bounded; full: dropped)
//!                                                              │ one thread per store: waits
//!                                                              │ DELAY for more, then
//!                                                              ▼
//!                                        RocksDB CompactRange(cf, range): covered files rewritten
//! ```
//!
//! A range delete hides a stream's head (or a whole stream, or a replaced state) at once, but
//! the files under it keep their bytes until a compaction reaches them, which for a quiet key
//! range may be never. The store asks for that compaction right after such a commit; the thread
//! starts it a moment later, with whatever else was asked meanwhile, so that the commands right
//! after a trim do not share the two cores with it. A dropped request only delays reclaiming;
//! it never changes what is stored.
//!
//! The small families that are listed whole (stream keys for KEYS and SCAN, groups, consumers)
//! have no first-live-key bound to start from: after every `METADATA_DELETES_MAX` point
//! deletes in one of them, the whole family is compacted, which flushes its memtable and drops
//! the tombstones a listing would otherwise step over.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rocksdb::DB;

use crate::cf::Cf;
use crate::codec::KeyRange;

/// Requests waiting for the thread, at most.
const QUEUED_MAX: usize = 64;
/// How long a request waits for others before the compactions start.
const DELAY: Duration = Duration::from_secs(1);
/// Point deletes in a metadata family between two compactions of it.
const METADATA_DELETES_MAX: u64 = 4096;
/// The families listed whole, with no first-live-key bound.
const METADATA: [Cf; 3] = [Cf::Streams, Cf::Groups, Cf::Consumers];

pub(crate) struct Compactor {
    requests: Option<SyncSender<(Cf, KeyRange)>>,
    /// Set on drop: requests still queued are skipped.
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Point deletes per `METADATA` family since it was last asked to be compacted.
    metadata_deletes: [AtomicU64; METADATA.len()],
}

impl Compactor {
    pub(crate) fn start(rocks: Arc<DB>) -> Compactor {
        let (requests, queue) = mpsc::sync_channel(QUEUED_MAX);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("rill-compactor".to_owned())
            .spawn(move || compact_until_closed(&rocks, queue, &stop))
            .expect("spawn the compactor thread");
        Compactor {
            requests: Some(requests),
            stopping,
            thread: Some(thread),
            metadata_deletes: Default::default(),
        }
    }

    /// Counts `deletes` point deletes just committed to `cf`; asks for the whole family to be
    /// compacted each time a metadata family has had `METADATA_DELETES_MAX` of them.
    pub(crate) fn deleted(&self, cf: Cf, deletes: u64) {
        let Some(slot) = METADATA.iter().position(|&m| m == cf) else {
            return;
        };
        let counter = &self.metadata_deletes[slot];
        let total = counter.fetch_add(deletes, Ordering::AcqRel) + deletes;
        if total >= METADATA_DELETES_MAX {
            counter.store(0, Ordering::Release);
            self.request(cf, KeyRange::family());
        }
    }

    /// Asks for `range` of `cf` to be compacted soon.
    pub(crate) fn request(&self, cf: Cf, range: KeyRange) {
        let Some(requests) = &self.requests else {
            return;
        };
        match requests.try_send((cf, range)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::debug!(cf = cf.name(), "compaction queue full; request dropped");
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::warn!(cf = cf.name(), "compactor stopped; request dropped");
            }
        }
    }
}

impl Drop for Compactor {
    /// Waits for the compaction under way, skipping those still queued, so that the store is
    /// closed once its `Db` is dropped.
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Release);
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the compactor thread panicked");
            }
        }
    }
}

fn compact_until_closed(rocks: &DB, queue: Receiver<(Cf, KeyRange)>, stopping: &AtomicBool) {
    while let Ok(first) = queue.recv() {
        let mut ranges = vec![first];
        let deadline = Instant::now() + DELAY;
        while ranges.len() < QUEUED_MAX {
            let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            match queue.recv_timeout(wait) {
                Ok(request) => ranges.push(request),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        for (cf, range) in ranges {
            if stopping.load(Ordering::Acquire) {
                return;
            }
            let Some(handle) = rocks.cf_handle(cf.name()) else {
                continue;
            };
            rocks.compact_range_cf(handle, Some(&range.start), Some(&range.end));
            tracing::debug!(cf = cf.name(), "compacted a deleted range");
        }
    }
}
