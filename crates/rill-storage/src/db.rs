//! [`Db`]: the RocksDB instance, its column families, and the one way state reaches disk.
//!
//! ```text
//!   writer task                                reader tasks
//!   db.begin() ──▶ Txn ─ Store reads/writes     db.read() ──▶ Txn ─ Store reads
//!                   │                                          (dropped; status() for errors)
//!   db.commit(txn, applied_index)             (or commit_with_meta: + applied log id, membership)
//!                   │ one WriteBatch = range deletes + point writes + applied index
//!                   ▼
//!                RocksDB (sync per DbOptions)
//! ```
//!
//! Every txn reads from one RocksDB snapshot, so a multi-step read is consistent; the applied
//! index sits in the same snapshot, so a reader knows which state it saw.

use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options,
    WriteBatch, WriteBufferManager, WriteOptions, DB,
};

use crate::cf::node_meta::{self, NodeMeta};
use crate::cf::{node, Cf};
use crate::checked;
use crate::codec::KeyRange;
use crate::compactor::Compactor;
use crate::digest::Fnv64;
use crate::error::StorageError;
use crate::fsync_guard;
use crate::overlay::Written;
use crate::read_cache::{Remembered, Warm};
use crate::txn::Txn;

/// How to open a [`Db`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbOptions {
    /// Fsync the write-ahead log on every state commit. A Raft node turns it off: its log is
    /// fsynced, and state commits lost to a crash are applied again from it (see
    /// ARCHITECTURE.md, "Durability").
    pub sync: bool,
    /// Fsync Raft log and vote writes. Off only where a power loss may lose acknowledged
    /// writes (benchmarks, tests that never restart a machine).
    pub log_sync: bool,
    /// RocksDB's memory: one block cache for every family, which is also charged for the
    /// memtables (at most half of it). What the store holds in memory stays under this
    /// however much it stores.
    pub cache_bytes: usize,
}

impl DbOptions {
    pub const CACHE_BYTES_DEFAULT: usize = 128 << 20;
    pub const CACHE_BYTES_MIN: usize = 8 << 20;
}

impl Default for DbOptions {
    fn default() -> DbOptions {
        DbOptions {
            sync: true,
            log_sync: true,
            cache_bytes: DbOptions::CACHE_BYTES_DEFAULT,
        }
    }
}

/// Hears every write batch the store makes, in order, with whether it was fsynced. The
/// simulator's disk: a power loss keeps the batches up to the last synced one (RocksDB's WAL
/// recovers a prefix, and a synced write makes all before it durable).
pub trait WriteJournal: Send + Sync + 'static {
    /// `batch` is written, and fsynced if `synced`. An error is an fsync that failed: the
    /// write fails, and the store does not hold the batch.
    fn written(&self, batch: &[u8], synced: bool) -> Result<(), String>;

    /// Every batch written so far is fsynced (one fsync of the write-ahead log). An error is
    /// an fsync that failed: the batches stay as durable as they were.
    fn synced(&self) -> Result<(), String>;
}

/// The store's directory and boot, for the marker a failed fsync leaves.
struct FsyncFailed {
    dir: std::path::PathBuf,
    boot: Option<String>,
}

/// The store on disk. `Send + Sync`: share it in an `Arc` between one writer and many readers.
pub struct Db {
    /// First, so it is dropped first: its thread holds the instance open until it stops.
    compactor: Compactor,
    rocks: Arc<DB>,
    sync: bool,
    log_sync: bool,
    journal: Option<Arc<dyn WriteJournal>>,
    /// Where a failed fsync leaves its marker (none when a journal is the disk).
    fsync_failed: Option<FsyncFailed>,
    /// Makes every fsync fail, as a failing disk would (tests of the marker).
    #[cfg(test)]
    pub(crate) fail_fsyncs: std::sync::atomic::AtomicBool,
    /// Point reads txns asked their snapshot for (tests of the read cache: RocksDB's own
    /// count also has the reads that check the cache's answers).
    #[cfg(test)]
    pub(crate) snapshot_gets: AtomicU64,
    /// Applied index of the last commit. The lock serialises commits; the value lets a commit
    /// check that nothing else committed since its txn's snapshot.
    committed_index: Mutex<u64>,
    /// What the last commit left for the next write txn (`read_cache.rs`): taken by
    /// [`Db::begin`], put back by each commit, cleared by an image's import.
    warm: Mutex<Option<Warm>>,
    /// No log entry lives below this index: purges leave their range tombstones below it, and
    /// reads of the log's head start here instead of stepping over them.
    pub(crate) log_floor: AtomicU64,
    /// Fsynced writes since the store was opened (`Db::synced_writes`).
    synced_writes: AtomicU64,
    /// See [`Db::log_reported`].
    pub(crate) log_reported: AtomicU64,
    /// The options the instance was opened with: their statistics let tests count WAL syncs.
    #[cfg(test)]
    pub(crate) db_options: Options,
}

/// A commit [`Db::commit_with_meta_unless_stalled`] did not write: its batch, for
/// [`Db::finish_commit`].
pub struct PendingCommit {
    data: Vec<u8>,
    /// The applied index the txn began at; the commit holds only while it is still current.
    began_at: u64,
    applied_index: u64,
    written: Written,
    warm: Warm,
}

impl Db {
    /// Opens (or creates) the store at `path`, creating missing column families.
    pub fn open(path: impl AsRef<Path>, options: &DbOptions) -> Result<Db, StorageError> {
        let path = path.as_ref();
        assert!(
            options.cache_bytes >= DbOptions::CACHE_BYTES_MIN,
            "cache_bytes {} is below {}",
            options.cache_bytes,
            DbOptions::CACHE_BYTES_MIN
        );
        let boot = fsync_guard::boot_id();
        fsync_guard::check(path, boot.as_deref())?;
        let memory = Memory::new(options.cache_bytes);
        let families =
            Cf::ALL.map(|cf| ColumnFamilyDescriptor::new(cf.name(), memory.rocks_options()));
        let db_options = memory.rocks_options();
        let rocks = DB::open_cf_descriptors(&db_options, path, families)?;
        let opened = (|| {
            crate::upgrade::to_current_format(&rocks)?;
            if options.log_sync {
                // A crashed process leaves writes it never fsynced in the page cache, where
                // they came back from: make them durable before this node reports any stored.
                rocks.flush_wal(true)?;
            }
            Ok::<_, StorageError>(())
        })();
        if let Err(error) = opened {
            fsync_guard::record_if_fsync(path, boot.as_deref(), &error);
            return Err(error);
        }
        let applied_index = read_applied_index(&rocks)?;
        let log_floor = crate::log_store::first_log_index(&rocks)?;
        tracing::info!(path = %path.display(), applied_index, log_floor, "opened store");
        let rocks = Arc::new(rocks);
        Ok(Db {
            compactor: Compactor::start(rocks.clone()),
            rocks,
            sync: options.sync,
            log_sync: options.log_sync,
            committed_index: Mutex::new(applied_index),
            warm: Mutex::new(None),
            log_floor: AtomicU64::new(log_floor),
            synced_writes: AtomicU64::new(0),
            log_reported: AtomicU64::new(0),
            journal: None,
            fsync_failed: Some(FsyncFailed {
                dir: path.to_path_buf(),
                boot,
            }),
            #[cfg(test)]
            fail_fsyncs: std::sync::atomic::AtomicBool::new(false),
            #[cfg(test)]
            snapshot_gets: AtomicU64::new(0),
            #[cfg(test)]
            db_options,
        })
    }

    /// Opens a fresh store at `path`, writes `history` (batches a [`WriteJournal`] heard, oldest
    /// first) into it, then tells `journal` about every later write.
    pub fn open_journaled(
        path: impl AsRef<Path>,
        options: &DbOptions,
        history: &[Vec<u8>],
        journal: Arc<dyn WriteJournal>,
    ) -> Result<Db, StorageError> {
        let mut db = Db::open(path, options)?;
        for batch in history {
            db.rocks.write(WriteBatch::from_data(batch))?;
        }
        crate::upgrade::to_current_format(&db.rocks)?;
        *db.lock_commits() = read_applied_index(&db.rocks)?;
        *db.log_floor.get_mut() = crate::log_store::first_log_index(&db.rocks)?;
        if options.log_sync {
            // As `Db::open` does: what the disk holds now is durable.
            journal
                .synced()
                .map_err(|message| StorageError::Rocks { message })?;
        }
        db.journal = Some(journal);
        // The journal is the disk, and its failed fsyncs lose their batches: no page cache
        // outlives a simulated restart, so no marker.
        db.fsync_failed = None;
        Ok(db)
    }

    /// Every write goes through here (or `write_batch_unless_stalled`), so a journal hears all
    /// of them.
    pub(crate) fn write_batch(&self, batch: WriteBatch, sync: bool) -> Result<(), StorageError> {
        // The journal hears of the batch first: a failed fsync there fails the write before
        // this store holds it.
        if let Some(journal) = &self.journal {
            journal
                .written(batch.data(), sync)
                .map_err(|message| StorageError::Rocks { message })?;
        }
        let mut write_options = WriteOptions::default();
        write_options.set_sync(sync);
        self.fsync_checked(sync, || self.rocks.write_opt(batch, &write_options))?;
        if sync {
            self.synced_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// As [`Db::write_batch`] unsynced, but `Ok(false)` instead of waiting when RocksDB would
    /// stall the write (its memtables are full until a flush ends): for a caller on an async
    /// task, which then writes on a thread that may wait.
    pub(crate) fn write_batch_unless_stalled(
        &self,
        batch: WriteBatch,
    ) -> Result<bool, StorageError> {
        let data = self.journal.as_ref().map(|_| batch.data().to_vec());
        let mut write_options = WriteOptions::default();
        write_options.set_no_slowdown(true);
        let mut stalled = false;
        self.fsync_checked(false, || {
            match self.rocks.write_opt(batch, &write_options) {
                Err(error) if error.kind() == rocksdb::ErrorKind::Incomplete => {
                    stalled = true;
                    Ok(())
                }
                other => other,
            }
        })?;
        if stalled {
            return Ok(false);
        }
        // Heard after the write: an unsynced write has no fsync for the journal to fail.
        if let (Some(journal), Some(data)) = (&self.journal, data) {
            journal
                .written(&data, false)
                .map_err(|message| StorageError::Rocks { message })?;
        }
        Ok(true)
    }

    /// Runs `write`, a RocksDB call that writes (and fsyncs if `sync`). If it fails for an
    /// fsync (its own, or one RocksDB ran in the background and now reports), leaves the
    /// marker that keeps this store closed for the rest of the boot (`fsync_guard`).
    fn fsync_checked(
        &self,
        sync: bool,
        write: impl FnOnce() -> Result<(), rocksdb::Error>,
    ) -> Result<(), StorageError> {
        #[cfg(test)]
        let result = if sync && self.fail_fsyncs.load(Ordering::Relaxed) {
            Err(StorageError::Rocks {
                message: "IO error: While fdatasync: injected by a test".to_owned(),
            })
        } else {
            write().map_err(StorageError::from)
        };
        #[cfg(not(test))]
        let result = {
            let _ = sync;
            write().map_err(StorageError::from)
        };
        result.inspect_err(|error| {
            if let Some(failed) = &self.fsync_failed {
                fsync_guard::record_if_fsync(&failed.dir, failed.boot.as_deref(), error);
            }
        })
    }

    /// Fsyncs the write-ahead log: every write before this is durable once it returns.
    pub(crate) fn sync_wal(&self) -> Result<(), StorageError> {
        if let Some(journal) = &self.journal {
            journal
                .synced()
                .map_err(|message| StorageError::Rocks { message })?;
        }
        self.fsync_checked(true, || self.rocks.flush_wal(true))?;
        self.synced_writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes fsynced since the store was opened: each is one fsync of the write-ahead log.
    pub fn synced_writes(&self) -> u64 {
        self.synced_writes.load(Ordering::Relaxed)
    }

    /// Index of the last committed log entry; 0 on a fresh store.
    pub fn applied_index(&self) -> Result<u64, StorageError> {
        read_applied_index(&self.rocks)
    }

    /// A write transaction over a snapshot of the current state.
    pub fn begin(&self) -> Txn<'_> {
        Txn::new(self, true)
    }

    /// A read view over a snapshot of the current state. Any number may be open at once, from
    /// any thread; each sees one consistent state.
    pub fn read(&self) -> Txn<'_> {
        Txn::new(self, false)
    }

    /// Writes everything `txn` did, plus `applied_index`, in one atomic `WriteBatch`.
    ///
    /// Refuses, writing nothing, a txn that met an error, a read view, a txn whose snapshot is
    /// no longer the latest state (another commit landed), and an index that does not grow.
    pub fn commit(&self, txn: Txn<'_>, applied_index: u64) -> Result<(), StorageError> {
        self.commit_with_meta(txn, applied_index, &[])
    }

    /// [`Db::commit`], plus `meta` records written in the same `WriteBatch`: the replication
    /// layer's applied log id and membership never disagree on disk with the state they describe.
    pub fn commit_with_meta(
        &self,
        txn: Txn<'_>,
        applied_index: u64,
        meta: &[(NodeMeta, &[u8])],
    ) -> Result<(), StorageError> {
        let (mut committed, batch, written, warm) =
            self.prepare_commit(txn, applied_index, meta)?;
        self.write_batch(batch, self.sync)?;
        self.committed(&mut committed, applied_index, &written, warm);
        Ok(())
    }

    /// As [`Db::commit_with_meta`], for a caller on an async task, which must not wait out an
    /// fsync nor a write stall (RocksDB's memtables full until a flush ends): where the commit
    /// would wait for either, nothing is written and it comes back, to be written by
    /// [`Db::finish_commit`] on a thread that may wait.
    pub fn commit_with_meta_unless_stalled(
        &self,
        txn: Txn<'_>,
        applied_index: u64,
        meta: &[(NodeMeta, &[u8])],
    ) -> Result<Option<PendingCommit>, StorageError> {
        let (mut committed, batch, written, warm) =
            self.prepare_commit(txn, applied_index, meta)?;
        // RocksDB takes the batch even when it refuses to write it.
        let data = batch.data().to_vec();
        if self.sync || !self.write_batch_unless_stalled(batch)? {
            return Ok(Some(PendingCommit {
                data,
                began_at: *committed,
                applied_index,
                written,
                warm,
            }));
        }
        self.committed(&mut committed, applied_index, &written, warm);
        Ok(None)
    }

    /// Writes a commit [`Db::commit_with_meta_unless_stalled`] gave back, waiting as long as
    /// RocksDB makes it. Refuses it if another commit landed in between.
    pub fn finish_commit(&self, commit: PendingCommit) -> Result<(), StorageError> {
        let mut committed = self.lock_commits();
        if *committed != commit.began_at {
            return Err(StorageError::ConcurrentCommit {
                began_at: commit.began_at,
                current: *committed,
            });
        }
        self.write_batch(WriteBatch::from_data(&commit.data), self.sync)?;
        self.committed(
            &mut committed,
            commit.applied_index,
            &commit.written,
            commit.warm,
        );
        Ok(())
    }

    /// The batch that commits `txn` at `applied_index`, once checked, with the commit lock
    /// held until it is written.
    fn prepare_commit(
        &self,
        txn: Txn<'_>,
        applied_index: u64,
        meta: &[(NodeMeta, &[u8])],
    ) -> Result<(MutexGuard<'_, u64>, WriteBatch, Written, Warm), StorageError> {
        assert!(
            ptr::eq(txn.db(), self),
            "txn committed to a Db that did not begin it"
        );
        let txn = txn.into_committable()?;
        let committed = self.lock_commits();
        if txn.applied_index != *committed {
            return Err(StorageError::ConcurrentCommit {
                began_at: txn.applied_index,
                current: *committed,
            });
        }
        if applied_index <= *committed {
            return Err(StorageError::AppliedIndexNotIncreasing {
                current: *committed,
                requested: applied_index,
            });
        }
        let mut batch = WriteBatch::default();
        let mut warm = txn.reads;
        let written = txn
            .overlay
            .write_to(&mut batch, |cf| self.handle(cf), &mut warm);
        // Only state families are handed on: the node family changes below, around the overlay.
        let warm = warm.into_warm(applied_index);
        batch.put_cf(
            self.handle(Cf::Node),
            node::APPLIED_INDEX_KEY,
            node::encode_applied_index(applied_index),
        );
        for (record, bytes) in meta {
            let key = node_meta::key(*record);
            batch.put_cf(self.handle(Cf::Node), key, checked::encode(&key, bytes));
        }
        Ok((committed, batch, written, warm))
    }

    /// A commit's batch is written: the next commit begins at `applied_index` with `warm`, and
    /// the compactor hears what it deleted.
    fn committed(&self, committed: &mut u64, applied_index: u64, written: &Written, warm: Warm) {
        *committed = applied_index;
        *self.lock_warm() = Some(warm);
        for (cf, range) in &written.reclaim {
            self.compactor.request(*cf, range.clone());
        }
        for cf in Cf::STATE {
            self.compactor
                .deleted(cf, written.point_deletes[cf.index()]);
        }
    }

    /// Asks for the files under `range` of `cf`, just deleted, to be compacted soon.
    pub(crate) fn reclaim(&self, cf: Cf, range: KeyRange) {
        self.compactor.request(cf, range);
    }

    /// A hash of every key and value of the state column families (not `node`), from one
    /// snapshot. Equal states give equal digests on every replica and build.
    pub fn digest(&self) -> Result<u64, StorageError> {
        self.applied_digest().map(|(_, digest)| digest)
    }

    /// `(applied index, digest)` read from one snapshot: replicas at the same applied index
    /// must have the same digest.
    pub fn applied_digest(&self) -> Result<(u64, u64), StorageError> {
        let snapshot = self.rocks.snapshot();
        let applied = match snapshot.get_cf(self.handle(Cf::Node), node::APPLIED_INDEX_KEY)? {
            None => 0,
            Some(bytes) => decode_applied_index(&bytes)?,
        };
        let mut hash = Fnv64::new();
        for cf in Cf::STATE {
            hash.write_framed(cf.name().as_bytes());
            let mut iter = snapshot.raw_iterator_cf(self.handle(cf));
            iter.seek_to_first();
            let mut records: u64 = 0;
            while let Some((key, value)) = iter.item() {
                hash.write_framed(key);
                hash.write_framed(value);
                records += 1;
                iter.next();
            }
            iter.status()?;
            // Closes the family, so a record cannot pass for one of the next family.
            hash.write(&records.to_be_bytes());
        }
        Ok((applied, hash.finish()))
    }

    /// What the last commit left warm, if a write txn whose snapshot is at `as_of` may start
    /// with it; a write txn takes it, so the next one begun before a commit starts cold.
    pub(crate) fn take_warm(&self, as_of: u64) -> Option<Remembered> {
        self.lock_warm()
            .take()
            .filter(|warm| warm.as_of == as_of)
            .map(|warm| warm.records)
    }

    /// Forgets what the last commit left warm: the state changed another way.
    pub(crate) fn forget_warm(&self) {
        *self.lock_warm() = None;
    }

    fn lock_warm(&self) -> MutexGuard<'_, Option<Warm>> {
        // Poison only means a panic elsewhere while holding it; each change is one assignment.
        self.warm.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serialises everything that moves the applied index; the value is the applied index of
    /// the last such write.
    pub(crate) fn lock_commits(&self) -> MutexGuard<'_, u64> {
        // Poison only means a panic elsewhere while holding the lock; the value is written only
        // after a successful write, so it is still the truth.
        self.committed_index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn log_sync(&self) -> bool {
        self.log_sync
    }

    pub(crate) fn rocks(&self) -> &DB {
        &self.rocks
    }

    /// Flushes every family's memtable: the write-ahead log switches to another file, and the
    /// one before is obsolete.
    #[cfg(test)]
    pub(crate) fn flush_memtables(&self) {
        for cf in Cf::ALL {
            self.rocks.flush_cf(self.handle(cf)).expect("flush");
        }
    }

    pub(crate) fn handle(&self, cf: Cf) -> &ColumnFamily {
        // `open` creates every family in `Cf::ALL`; a missing one is a bug, not bad data.
        self.rocks
            .cf_handle(cf.name())
            .expect("column family created at open")
    }
}

/// The memory every family shares: a block cache (data, index and filter blocks) that the
/// memtables are charged to, so the whole store stays within `cache_bytes`.
struct Memory {
    cache: Cache,
    write_buffers: WriteBufferManager,
    memtable_bytes: usize,
}

impl Memory {
    fn new(cache_bytes: usize) -> Memory {
        let cache = Cache::new_lru_cache(cache_bytes);
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            cache_bytes / 2,
            false,
            cache.clone(),
        );
        Memory {
            cache,
            write_buffers,
            memtable_bytes: cache_bytes / 8,
        }
    }

    fn rocks_options(&self) -> Options {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Spelled out so that no build's default (Snappy when linked) changes the files written.
        options.set_compression_type(DBCompressionType::None);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.cache);
        // Index and filter blocks in the cache too: outside it they grow with the data.
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        // A point read that misses a file (an ID acknowledged or never pending, a producer's
        // first IDMP) is answered by its filter without reading a block. The memtables have
        // none: their reads mostly hit (an XACK reads the records its XREADGROUP just wrote),
        // and a memtable filter costs every insert a hash and a cache miss (at 50 consumers,
        // 4% of the leader's CPU).
        table.set_bloom_filter(10.0, false);
        options.set_block_based_table_factory(&table);
        // Each memtable remembers where its last insert of each key tag landed and starts the
        // next insert of that tag there. Without it, a batch's inserts share one remembered
        // place, and each write to another index (an acknowledgement deletes from three)
        // searches from the skiplist's top; a tombstone landing just before its key's record
        // does too. Names the C API has no setter for (`apply_options_string`: vendor/rocksdb).
        options
            .apply_options_string(MEMTABLE_INSERT_HINTS)
            .expect("a valid options string");
        options.set_write_buffer_manager(&self.write_buffers);
        options.set_write_buffer_size(self.memtable_bytes);
        // Families written rarely (votes, node records) would otherwise pin old WAL files, and
        // a restart replays the WAL: bounding it bounds both disk use and recovery time.
        options.set_max_total_wal_size(WAL_BYTES_MAX);
        // The next write-ahead log file is an obsolete one written over, not a new one: an
        // fsync of a file that grows also writes its inode (the size, the blocks), one more
        // device write to wait for on every commit; of a file written over, the data only.
        // With one client writing to a warmed three-node cluster, 8% more XADDs per second
        // (medians of three alternating runs; session 31).
        options.set_recycle_log_file_num(WAL_FILES_RECYCLED);
        // A queue deletes what it wrote; files that are mostly tombstones are compacted soon,
        // so tombstones (and the disk they hold) do not wait for the level above to fill.
        options.add_compact_on_deletion_collector_factory(
            DELETION_WINDOW,
            DELETION_WINDOW / 4,
            DELETION_RATIO,
        );
        #[cfg(test)]
        options.enable_statistics();
        options
    }
}

/// Memtable insert hints by a key's first byte: its tag (`cf::KeyTag`) in the families with
/// several record kinds. At most 256 hints per memtable.
pub(crate) const MEMTABLE_INSERT_HINTS: &str =
    "memtable_insert_with_hint_prefix_extractor=rocksdb.CappedPrefix.1";

/// The write-ahead log kept before the families it pins are flushed.
const WAL_BYTES_MAX: u64 = 64 << 20;
/// Write-ahead log files kept once obsolete, to be written over instead of new ones.
const WAL_FILES_RECYCLED: usize = 1;
/// A file with a quarter of any `DELETION_WINDOW` consecutive records deleted, or this share of
/// deletions overall, is compacted without waiting.
const DELETION_WINDOW: usize = 4096;
const DELETION_RATIO: f64 = 0.25;

fn read_applied_index(rocks: &DB) -> Result<u64, StorageError> {
    let handle = rocks
        .cf_handle(Cf::Node.name())
        .expect("column family created at open");
    let Some(bytes) = rocks.get_cf(handle, node::APPLIED_INDEX_KEY)? else {
        return Ok(0);
    };
    decode_applied_index(&bytes)
}

fn decode_applied_index(bytes: &[u8]) -> Result<u64, StorageError> {
    node::decode_applied_index(bytes).map_err(|source| StorageError::Corrupt {
        cf: Cf::Node.name(),
        key: node::APPLIED_INDEX_KEY.to_vec(),
        source,
    })
}
