//! The applied log, as the replicas report it: every node's state machine tells a [`Watcher`]
//! each entry it applies. Replicas must agree on every index. After every applied batch the
//! streams it touched must pass `rill_core::check_stream_invariants` (their pending lists
//! among it; not the groups' delivery bound, which XGROUP SETID and XCLAIM FORCE, both in
//! the workload, may break as in Redis); and the
//! digest of the node's whole state must equal every other replica's at the same applied
//! index (batches end at different indexes on different nodes; where two end at the same
//! one, they are compared).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use rill_core::{Command, Reply};
use rill_raft::{AppliedEntry, ApplyListener};

use crate::check::groups::PendingRow;
use rill_storage::Db;

/// One applied log entry, as the first node to apply it reported it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The leader's stamp the commands ran at.
    pub now_ms: u64,
    pub commands: Vec<Command>,
    pub replies: Vec<Reply>,
}

/// Every applied index's commands and replies, from the first node to apply it.
#[derive(Default)]
pub struct AppliedLog {
    pub entries: BTreeMap<u64, Entry>,
    pub violations: Vec<String>,
    /// Batches whose resulting state was checked.
    pub states_checked: u64,
    /// `applied index -> (node, state digest)`, from the first node whose batch ended there.
    pub digests: BTreeMap<u64, (u64, u64)>,
    /// Batch ends where two replicas' digests were compared.
    pub digests_compared: u64,
    /// Nodes receiving a snapshot now (first chunk in, not yet installed), and nodes that
    /// installed one and applied nothing since: where the nemesis's snapshot trap strikes.
    pub receiving: BTreeSet<u64>,
    pub just_installed: BTreeSet<u64>,
    /// Snapshots installed.
    pub installs: u64,
    /// `log index -> (node, digest of the queue's pending lists, the lists)` after a batch
    /// ended at that entry (the first node's; replicas agree through their state digests):
    /// the work queue's model must hold the same pending lists after that entry. (The store's
    /// applied index, which `digests` is keyed by, is the log index + 1.)
    pub pending_digests: BTreeMap<u64, (u64, u64, Vec<PendingRow>)>,
}

/// Keeps the first violations only: one broken invariant repeats on every later batch.
const VIOLATIONS_KEPT: usize = 20;

impl AppliedLog {
    fn violation(&mut self, what: String) {
        if self.violations.len() < VIOLATIONS_KEPT {
            self.violations.push(what);
        }
    }
}

pub type Shared = Arc<Mutex<AppliedLog>>;

pub fn lock(log: &Shared) -> MutexGuard<'_, AppliedLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One boot of one node: reports into the shared log, checks the store after each batch.
pub struct Watcher {
    node: u64,
    log: Shared,
    db: Weak<Db>,
    /// Streams the current batch touched.
    touched: Mutex<BTreeSet<Vec<u8>>>,
    /// Prints every applied entry with its node and simulated time (`SIM_DUMP`).
    dump: bool,
}

impl Watcher {
    pub fn new(node: u64, log: Shared, db: Weak<Db>) -> Watcher {
        Watcher {
            node,
            log,
            db,
            touched: Mutex::default(),
            dump: std::env::var_os("SIM_DUMP").is_some(),
        }
    }
}

impl ApplyListener for Watcher {
    fn applied(&self, entry: &AppliedEntry<'_>) {
        let (index, commands, replies) = (entry.index, entry.commands, entry.replies);
        {
            let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
            touched.extend(commands.iter().flat_map(Command::keys));
        }
        if self.dump {
            let ms = turmoil::sim_elapsed().map_or(0, |d| d.as_millis());
            eprintln!("DUMP {ms} n{} applied {index} {commands:?}", self.node);
        }
        let mut log = lock(&self.log);
        match log.entries.get(&index) {
            None => {
                let entry = Entry {
                    now_ms: entry.now_ms,
                    commands: commands.to_vec(),
                    replies: replies.to_vec(),
                };
                log.entries.insert(index, entry);
            }
            Some(first) => {
                if first.commands.as_slice() != commands {
                    let what = format!("n{}: log index {index} holds other commands than on another replica: {commands:?} vs {:?}", self.node, first.commands);
                    log.violation(what);
                } else if first.replies.as_slice() != replies {
                    let what = format!(
                        "n{}: log index {index} answered {replies:?}, another replica {:?}",
                        self.node, first.replies
                    );
                    log.violation(what);
                } else if first.now_ms != entry.now_ms {
                    let what = format!(
                        "n{}: log index {index} ran at {} ms, on another replica at {} ms",
                        self.node, entry.now_ms, first.now_ms
                    );
                    log.violation(what);
                }
            }
        }
    }

    fn snapshot_receiving(&self) {
        lock(&self.log).receiving.insert(self.node);
    }

    fn snapshot_installed(&self, _index: u64) {
        let mut log = lock(&self.log);
        log.receiving.remove(&self.node);
        log.just_installed.insert(self.node);
        log.installs += 1;
    }

    fn batch_applied(&self) {
        lock(&self.log).just_installed.remove(&self.node);
        let Some(db) = self.db.upgrade() else {
            return;
        };
        let touched =
            std::mem::take(&mut *self.touched.lock().unwrap_or_else(PoisonError::into_inner));
        let state = db.read();
        let checked = touched
            .iter()
            .try_for_each(|key| rill_core::check_stream_invariants(&state, key));
        let digest = db.applied_digest();
        let rows = crate::check::groups::pending_rows(&state);
        let pending = crate::check::groups::digest(&rows);
        let mut log = lock(&self.log);
        if let Ok((applied, _)) = digest {
            if let Some(index) = applied.checked_sub(1) {
                log.pending_digests
                    .entry(index)
                    .or_insert((self.node, pending, rows));
            }
        }
        log.states_checked += 1;
        if let Err(why) = checked {
            let what = format!("n{}: after an applied batch: {why}", self.node);
            log.violation(what);
        }
        match digest {
            Err(error) => {
                let what = format!("n{}: state digest unreadable: {error}", self.node);
                log.violation(what);
            }
            Ok((index, digest)) => match log.digests.get(&index).copied() {
                None => {
                    log.digests.insert(index, (self.node, digest));
                }
                Some((first, first_digest)) => {
                    log.digests_compared += u64::from(first != self.node);
                    if first_digest != digest {
                        let what = format!(
                            "n{}: state digest {digest:016x} at applied index {index}, n{first} had {first_digest:016x}",
                            self.node
                        );
                        log.violation(what);
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rill_storage::DbOptions;

    /// A store at applied index 2 holding `XADD s <id> f v`.
    fn store_with(dir: &std::path::Path, id: &str) -> Arc<Db> {
        let db = Arc::new(Db::open(dir, &DbOptions::default()).expect("open"));
        let argv: Vec<Vec<u8>> = ["XADD", "s", id, "f", "v"]
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect();
        let command = rill_core::parse(&argv)
            .and_then(Result::ok)
            .expect("parses");
        let mut txn = db.begin();
        rill_core::execute(&mut txn, &command, 0, &rill_core::Limits::default());
        db.commit(txn, 2).expect("commit");
        db
    }

    #[test]
    fn replicas_with_other_states_at_one_index_are_caught() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = Shared::default();
        let (a, b, c) = (
            store_with(&dir.path().join("a"), "1-1"),
            store_with(&dir.path().join("b"), "1-1"),
            store_with(&dir.path().join("c"), "1-2"),
        );
        for (node, db) in [(1, &a), (2, &b)] {
            Watcher::new(node, Arc::clone(&log), Arc::downgrade(db)).batch_applied();
        }
        assert!(lock(&log).violations.is_empty(), "equal states agree");
        assert_eq!(lock(&log).digests_compared, 1);
        Watcher::new(3, Arc::clone(&log), Arc::downgrade(&c)).batch_applied();
        let violations = &lock(&log).violations;
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].contains("n3: state digest"), "{violations:?}");
    }
}
