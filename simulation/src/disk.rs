//! A node's disk, as the simulator keeps it: the batches its store wrote.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rill_storage::WriteJournal;

use crate::Rng;

/// A node's disk: every batch its store wrote, with whether it was fsynced. A process crash
/// keeps all of it; a power loss keeps the synced prefix plus some of the unsynced tail.
///
/// A torn last record needs no model of its own: RocksDB's WAL recovery drops a record whose
/// checksum fails, so a torn batch comes back as a batch the power loss did not keep
/// (`rill-storage`'s `a_torn_wal_tail_recovers_a_prefix` shows RocksDB doing so).
#[derive(Default)]
pub struct SimDisk {
    batches: Mutex<Vec<(Vec<u8>, bool)>>,
    /// While set, every fsync fails (the batch reached the page cache, not the disk).
    fsync_fails: AtomicBool,
}

impl WriteJournal for SimDisk {
    /// A failed fsync loses its batch: the pessimistic outcome (the other, a batch on disk
    /// that its writer saw fail, is a log entry no one was told is stored).
    fn written(&self, batch: &[u8], synced: bool) -> Result<(), String> {
        if synced && self.fsync_fails.load(Ordering::Relaxed) {
            return Err("fsync failed: Input/output error (injected)".to_owned());
        }
        self.lock().push((batch.to_vec(), synced));
        Ok(())
    }

    /// Marks the last batch synced, which makes every batch before it durable too.
    fn synced(&self) -> Result<(), String> {
        if self.fsync_fails.load(Ordering::Relaxed) {
            return Err("fsync failed: Input/output error (injected)".to_owned());
        }
        if let Some(last) = self.lock().last_mut() {
            last.1 = true;
        }
        Ok(())
    }
}

impl SimDisk {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<u8>, bool)>> {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every fsync fail from now on, or work again.
    pub(crate) fn fail_fsyncs(&self, fail: bool) {
        self.fsync_fails.store(fail, Ordering::Relaxed);
    }

    /// Loses everything: a new, empty disk.
    pub(crate) fn wipe(&self) {
        self.lock().clear();
    }

    pub(crate) fn history(&self) -> Vec<Vec<u8>> {
        self.lock().iter().map(|(batch, _)| batch.clone()).collect()
    }

    /// Forgets what a power loss forgets: of the batches after the last synced one, only the
    /// first `keep` (`rng`'s choice) made it.
    pub(crate) fn power_loss(&self, rng: &mut Rng) -> usize {
        let mut batches = self.lock();
        let synced = batches
            .iter()
            .rposition(|(_, synced)| *synced)
            .map_or(0, |i| i + 1);
        let unsynced = batches.len() - synced;
        let keep = rng.below(unsynced as u64 + 1) as usize;
        batches.truncate(synced + keep);
        unsynced - keep
    }
}
