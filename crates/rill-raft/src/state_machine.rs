//! [`StateMachine`]: openraft's state machine on the stream engine and a `rill-storage` [`Db`].
//!
//! ```text
//!   apply([e1 .. en]) ── one Txn ── rill_core::execute(e.command, e.now_ms) per normal entry
//!                     └─ Db::commit_with_meta(txn, en.index + 1,
//!                            applied log id en, membership (if one was applied), clock)
//!                        one WriteBatch: state and what describes it never disagree on disk
//!   build_snapshot ── Db::applied_meta: applied log id + membership (no state is read)
//!   get_current_snapshot ── Db::export_state: state + its applied log id, one RocksDB snapshot
//!   install_snapshot ── image checked against the snapshot's meta ── Db::import_state
//! ```
//!
//! The state is persisted on every apply, so a snapshot is never needed to recover this node; it
//! exists to bring another node up to date once the log behind it is purged. Building one
//! therefore only records what the applied state is (openraft purges the log behind it); the
//! image is exported when a follower needs it, from the state as it is then, which is at or
//! past the recorded point. Neither a build nor an idle node holds an image in memory, and
//! neither costs more as the state grows; after a restart openraft rebuilds the record.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use rill_core::{Command, Limits, Reply};
use rill_storage::{Db, ImageMeta, NodeMeta, PendingCommit};
use serde::de::DeserializeOwned;

use crate::bugs::Bugs;
use crate::codec::{decode, encode};
use crate::error::{self, Error};
use crate::log_store::StorageIo;
use crate::planted;
use crate::stamp::Stamper;
use crate::types::{
    Entry, LogId, Response, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

/// Batches that cost at most this much to apply run on the state machine's task, costlier ones
/// on the blocking pool (`StorageIo::BlockingPool`). Handing a batch to the pool and back costs
/// two thread switches, tens of microseconds of CPU each on a small virtual machine: worth it
/// for 26 consumers' reads and acks (more than a millisecond), not for 50 clients' XADDs (about
/// 2 µs each, `apply_bench`), which would otherwise pay the switches on every node for every
/// log entry. Costs are in plain XADDs; see [`apply_cost`].
pub(crate) const APPLY_ON_TASK_COST_MAX: usize = 64;

/// What a command that may read or change many records (a group read, an ack, a trim) counts
/// for in [`APPLY_ON_TASK_COST_MAX`]: eight of them fit, as before costs were counted.
const APPLY_COST_HEAVY: usize = 8;

/// The bytes of fields and values a plain XADD counts 1 for: a big entry (up to
/// `entry_bytes_max`, 1 MiB) costs as much as many small ones to encode and insert.
const APPLY_COST_BYTES: usize = 4096;

/// A rough cost of applying `command`, in plain XADDs of a few hundred bytes. It only decides
/// where a batch is applied, never what applying it does.
pub(crate) fn apply_cost(command: &Command) -> usize {
    match command {
        Command::XAdd {
            trim: None, fields, ..
        } => {
            let bytes: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
            1 + bytes / APPLY_COST_BYTES
        }
        Command::Produce(produce) => apply_cost(&produce.add),
        Command::Idempotent(idempotent) => apply_cost(&idempotent.add),
        _ => APPLY_COST_HEAVY,
    }
}

/// What applying `entries` costs by [`apply_cost`]; membership and blank entries cost nothing.
pub(crate) fn batch_cost(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|entry| match &entry.payload {
            EntryPayload::Normal(request) => request.commands.iter().map(apply_cost).sum(),
            _ => 0,
        })
        .sum()
}

/// The applied state of one node. Limits must be the same on every node of a cluster: they
/// decide replies, and replies decide state.
pub struct StateMachine {
    db: Arc<Db>,
    limits: Arc<Limits>,
    stamper: Arc<Stamper>,
    /// Highest stamp applied; persisted as `NodeMeta::ClockMs` with each batch.
    clock_ms: u64,
    snapshots: Arc<Snapshots>,
    listener: Option<Arc<dyn ApplyListener>>,
    io: StorageIo,
    bugs: Bugs,
    /// A snapshot was installed and nothing applied since (for a planted bug).
    installed_since_apply: bool,
    /// Commands applied since the node started (`Status::applied_commands`).
    applied_commands: Arc<AtomicU64>,
}

/// Told about every applied log entry once its batch is committed to the store: how blocked
/// readers learn that their stream changed, and how the simulator watches the applied log.
/// Runs on the apply path, so it must be quick.
pub trait ApplyListener: Send + Sync + 'static {
    /// One applied entry: what it ran and answered.
    fn applied(&self, entry: &AppliedEntry<'_>);

    /// Every entry of a batch was reported; the store holds the state after the batch.
    fn batch_applied(&self) {}

    /// A snapshot from the leader began to arrive (its first chunk).
    fn snapshot_receiving(&self) {}

    /// A received snapshot replaced the state: the store holds it, applied up to `index`.
    fn snapshot_installed(&self, _index: u64) {}
}

/// One applied log entry, as an [`ApplyListener`] hears of it.
pub struct AppliedEntry<'a> {
    pub index: u64,
    /// The time the commands ran at (the leader's stamp).
    pub now_ms: u64,
    pub commands: &'a [Command],
    pub replies: &'a [Reply],
}

/// Records the applied state as a snapshot point (see the module doc), concurrently with apply.
pub struct SnapshotBuilder {
    db: Arc<Db>,
    snapshots: Arc<Snapshots>,
    io: StorageIo,
}

/// The meta of the last built, exported or installed snapshot, shared by the state machine and
/// its builders.
#[derive(Default)]
struct Snapshots {
    current: Mutex<Option<SnapshotMeta>>,
    builds: AtomicU64,
}

/// What the node records say about the applied state.
struct Applied {
    log_id: Option<LogId>,
    membership: StoredMembership,
    clock_ms: u64,
}

impl StateMachine {
    /// Opens the state machine over `db`, checking that its records agree with each other, and
    /// raises `stamper` to the highest applied stamp.
    pub fn new(
        db: Arc<Db>,
        limits: Limits,
        stamper: Arc<Stamper>,
        listener: Option<Arc<dyn ApplyListener>>,
    ) -> Result<StateMachine, Error> {
        let applied = read_applied(&db)?;
        stamper.observe(applied.clock_ms);
        tracing::info!(
            applied = ?applied.log_id,
            clock_ms = applied.clock_ms,
            "opened state machine"
        );
        Ok(StateMachine {
            db,
            limits: Arc::new(limits),
            stamper,
            clock_ms: applied.clock_ms,
            snapshots: Arc::default(),
            listener,
            io: StorageIo::default(),
            bugs: Bugs::default(),
            installed_since_apply: false,
            applied_commands: Arc::default(),
        })
    }

    /// Counts the commands this state machine applies.
    pub(crate) fn applied_commands(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.applied_commands)
    }

    pub fn with_bugs(self, bugs: Bugs) -> StateMachine {
        StateMachine { bugs, ..self }
    }

    pub fn with_io(self, io: StorageIo) -> StateMachine {
        StateMachine { io, ..self }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }
}

fn node_meta<T: DeserializeOwned>(
    db: &Db,
    record: NodeMeta,
    what: &'static str,
) -> Result<Option<T>, Error> {
    match db.node_meta(record)? {
        None => Ok(None),
        Some(bytes) => decode(&bytes).map(Some).map_err(Error::codec(what)),
    }
}

fn image_meta<T: DeserializeOwned>(
    image: &ImageMeta,
    record: NodeMeta,
    what: &'static str,
) -> Result<Option<T>, Error> {
    match image.node_meta.get(&record) {
        None => Ok(None),
        Some(bytes) => decode(bytes).map(Some).map_err(Error::codec(what)),
    }
}

/// The store's applied index for a Raft log id: the index plus one, 0 for nothing applied.
fn store_index(log_id: Option<LogId>) -> u64 {
    log_id.map_or(0, |id| {
        id.index
            .checked_add(1)
            .expect("log index u64::MAX is never reached")
    })
}

fn check_applied_index(log_id: Option<LogId>, store_applied: u64) -> Result<(), Error> {
    if store_index(log_id) != store_applied {
        return Err(Error::Inconsistent(format!(
            "applied log id {log_id:?} but store applied index {store_applied}"
        )));
    }
    Ok(())
}

fn read_applied(db: &Db) -> Result<Applied, Error> {
    let log_id = node_meta(db, NodeMeta::AppliedLogId, "applied log id")?;
    check_applied_index(log_id, db.applied_index()?)?;
    Ok(Applied {
        log_id,
        membership: node_meta(db, NodeMeta::Membership, "membership")?.unwrap_or_default(),
        clock_ms: node_meta(db, NodeMeta::ClockMs, "clock")?.unwrap_or(0),
    })
}

fn read_image(image: &ImageMeta) -> Result<Applied, Error> {
    let log_id = image_meta(image, NodeMeta::AppliedLogId, "applied log id")?;
    check_applied_index(log_id, image.applied_index)?;
    Ok(Applied {
        log_id,
        membership: image_meta(image, NodeMeta::Membership, "membership")?.unwrap_or_default(),
        clock_ms: image_meta(image, NodeMeta::ClockMs, "clock")?.unwrap_or(0),
    })
}

/// What the planted bugs (`bugs.rs`) do to one batch; all off outside their tests.
#[derive(Clone, Copy)]
struct Planted {
    bugs: Bugs,
    /// The applying node's own clock instead of the leader's stamps.
    local_now: Option<u64>,
    /// Run the first entry's commands twice.
    repeat_first: bool,
}

/// Applies `entries` (consecutive, starting right after the store's applied index) in one
/// txn and one commit. Returns a response per entry, the new clock, and, on an async task
/// (`on_task`), the commit if writing it would have waited: for [`Db::finish_commit`] on a
/// thread that may.
fn apply_batch(
    db: &Db,
    limits: &Limits,
    clock_ms: u64,
    entries: &[Entry],
    planted: Planted,
    on_task: bool,
) -> Result<(Vec<Response>, u64, Option<PendingCommit>), Error> {
    let Planted {
        bugs,
        local_now,
        repeat_first,
    } = planted;
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok((Vec::new(), clock_ms, None));
    };
    let mut txn = db.begin();
    assert_eq!(
        store_index(Some(first.log_id)),
        txn.applied_index() + 1,
        "entries applied out of order"
    );
    let mut clock_ms = clock_ms;
    let mut membership = None;
    let mut responses = Vec::with_capacity(entries.len());
    for (entry, expected_index) in entries.iter().zip(first.log_id.index..) {
        assert_eq!(
            entry.log_id.index, expected_index,
            "hole in applied entries"
        );
        let replies = match &entry.payload {
            EntryPayload::Blank => Vec::new(),
            EntryPayload::Normal(request) => {
                clock_ms = clock_ms.max(request.now_ms);
                let now_ms = local_now.unwrap_or(request.now_ms);
                if repeat_first && entry.log_id.index == first.log_id.index {
                    for command in request.commands.iter() {
                        planted::run(&mut txn, command, now_ms, limits, bugs);
                    }
                }
                request
                    .commands
                    .iter()
                    .map(|command| planted::run(&mut txn, command, now_ms, limits, bugs))
                    .collect()
            }
            EntryPayload::Membership(config) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), config.clone()));
                Vec::new()
            }
        };
        responses.push(Response { replies });
    }
    let mut meta = vec![
        (
            NodeMeta::AppliedLogId,
            encode(&last.log_id).map_err(Error::codec("applied log id"))?,
        ),
        (
            NodeMeta::ClockMs,
            encode(&clock_ms).map_err(Error::codec("clock"))?,
        ),
    ];
    if let Some(membership) = membership {
        let bytes = encode(&membership).map_err(Error::codec("membership"))?;
        meta.push((NodeMeta::Membership, bytes));
    }
    let meta: Vec<(NodeMeta, &[u8])> = meta.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let applied_index = store_index(Some(last.log_id));
    let pending = if on_task {
        db.commit_with_meta_unless_stalled(txn, applied_index, &meta)?
    } else {
        db.commit_with_meta(txn, applied_index, &meta)?;
        None
    };
    Ok((responses, clock_ms, pending))
}

impl Snapshots {
    fn current(&self) -> Option<SnapshotMeta> {
        self.lock().clone()
    }

    /// Keeps `meta` unless a newer one is already kept (a build racing an install).
    fn keep(&self, meta: &SnapshotMeta) {
        let mut current = self.lock();
        let newer_kept = current
            .as_ref()
            .is_some_and(|kept| kept.last_log_id > meta.last_log_id);
        if !newer_kept {
            *current = Some(meta.clone());
        }
    }

    /// A snapshot meta for `applied`, with an id no other snapshot of this node has had.
    fn name(&self, applied: Applied) -> SnapshotMeta {
        let build = self.builds.fetch_add(1, Ordering::SeqCst);
        let snapshot_id = match applied.log_id {
            Some(id) => format!("{}-{}-{build}", id.leader_id, id.index),
            None => format!("empty-{build}"),
        };
        SnapshotMeta {
            last_log_id: applied.log_id,
            last_membership: applied.membership,
            snapshot_id,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SnapshotMeta>> {
        // A panic while holding the lock leaves a whole value (assignments only).
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    /// Records the applied state as the snapshot point and returns its meta. The data openraft
    /// gets here is empty: it keeps only the meta of a build, and an image is exported when a
    /// follower needs one (`get_current_snapshot`).
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let db = self.db.clone();
        let image = self
            .io
            .run(move || db.applied_meta())
            .await
            .map_err(error::read_state_machine)?;
        let applied = read_image(&image).map_err(error::read_state_machine)?;
        let meta = self.snapshots.name(applied);
        tracing::info!(snapshot = %meta.snapshot_id, "recorded snapshot point");
        self.snapshots.keep(&meta);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let applied = read_applied(&self.db).map_err(error::read_state_machine)?;
        Ok((applied.log_id, applied.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let count = entries.len();
        let (db, limits, clock_ms) = (self.db.clone(), self.limits.clone(), self.clock_ms);
        let bugs = self.bugs;
        let local_now = bugs.apply_with_local_clock.then(|| self.stamper.stamp());
        let repeat_first = bugs.apply_twice_after_snapshot_install
            && std::mem::take(&mut self.installed_since_apply);
        let cost = batch_cost(&entries);
        let apply = move |on_task: bool| {
            let planted = Planted {
                bugs,
                local_now,
                repeat_first,
            };
            let (responses, clock_ms, pending) =
                apply_batch(&db, &limits, clock_ms, &entries, planted, on_task)?;
            Ok::<_, Error>((entries, responses, clock_ms, pending))
        };
        let (entries, responses, clock_ms) =
            if self.io == StorageIo::BlockingPool && cost <= APPLY_ON_TASK_COST_MAX {
                // A cheap batch costs less than the two thread switches of the blocking pool.
                let (entries, responses, clock_ms, pending) =
                    apply(true).map_err(error::write_state_machine)?;
                if let Some(pending) = pending {
                    let db = self.db.clone();
                    self.io
                        .run(move || db.finish_commit(pending))
                        .await
                        .map_err(error::write_state_machine)?;
                }
                (entries, responses, clock_ms)
            } else {
                let (entries, responses, clock_ms, _) = self
                    .io
                    .run(move || apply(false))
                    .await
                    .map_err(error::write_state_machine)?;
                (entries, responses, clock_ms)
            };
        // Once committed: a blocked reader woken now reads what was applied.
        if let Some(listener) = &self.listener {
            for (entry, response) in entries.iter().zip(&responses) {
                if let EntryPayload::Normal(request) = &entry.payload {
                    let applied = AppliedEntry {
                        index: entry.log_id.index,
                        now_ms: local_now.unwrap_or(request.now_ms),
                        commands: &request.commands,
                        replies: &response.replies,
                    };
                    listener.applied(&applied);
                }
            }
            listener.batch_applied();
        }
        assert_eq!(responses.len(), count, "one response per applied entry");
        let commands: usize = responses
            .iter()
            .map(|response| response.replies.len())
            .sum();
        self.applied_commands
            .fetch_add(commands as u64, Ordering::Relaxed);
        self.clock_ms = clock_ms;
        self.stamper.observe(clock_ms);
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
            snapshots: self.snapshots.clone(),
            io: self.io,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        if let Some(listener) = &self.listener {
            listener.snapshot_receiving();
        }
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        // Checked before anything is written: an image that is not the state the snapshot
        // claims must not replace ours.
        let image = rill_storage::read_image_meta(&data).map_err(error::write_snapshot)?;
        let applied = read_image(&image).map_err(error::write_snapshot)?;
        if applied.log_id != meta.last_log_id || applied.membership != meta.last_membership {
            return Err(error::write_snapshot(Error::Inconsistent(format!(
                "snapshot {} claims {:?}, its image holds {:?}",
                meta.snapshot_id, meta.last_log_id, applied.log_id
            ))));
        }
        let db = self.db.clone();
        let imported = self
            .io
            .run(move || db.import_state(&data))
            .await
            .map_err(error::write_snapshot)?;
        assert_eq!(
            imported, image,
            "imported state differs from the checked image"
        );
        self.clock_ms = applied.clock_ms;
        self.stamper.observe(applied.clock_ms);
        tracing::info!(snapshot = %meta.snapshot_id, "installed snapshot");
        self.snapshots.keep(meta);
        self.installed_since_apply = true;
        if let Some(listener) = &self.listener {
            listener.snapshot_installed(meta.last_log_id.map_or(0, |id| id.index));
        }
        Ok(())
    }

    /// The state as it is now, as an image, under the recorded snapshot's meta when nothing was
    /// applied since, or under a new meta (kept as current) for the later point it holds.
    /// `None` until a snapshot point was recorded.
    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let Some(recorded) = self.snapshots.current() else {
            return Ok(None);
        };
        let db = self.db.clone();
        let (image, data) = self
            .io
            .run(move || db.export_state())
            .await
            .map_err(error::read_snapshot)?;
        let applied = read_image(&image).map_err(error::read_snapshot)?;
        assert!(
            applied.log_id >= recorded.last_log_id,
            "state behind its recorded snapshot point"
        );
        let meta = if applied.log_id == recorded.last_log_id {
            recorded
        } else {
            let meta = self.snapshots.name(applied);
            self.snapshots.keep(&meta);
            meta
        };
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "exported snapshot");
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
