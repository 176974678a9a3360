//! A node's disk, as the simulator keeps it: the batches its store wrote.

use std::sync::Mutex;

use rill_storage::WriteJournal;

use crate::Rng;

/// A node's disk: every batch its store wrote, with whether it was fsynced. A process crash
/// keeps all of it; a power loss keeps the synced prefix plus some of the unsynced tail.
#[derive(Default)]
pub struct SimDisk {
    batches: Mutex<Vec<(Vec<u8>, bool)>>,
}

impl WriteJournal for SimDisk {
    fn written(&self, batch: &[u8], synced: bool) {
        self.lock().push((batch.to_vec(), synced));
    }
}

impl SimDisk {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<u8>, bool)>> {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
