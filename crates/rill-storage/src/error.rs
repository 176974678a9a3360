//! Operating errors of the store. A Redis-level error is a reply and never appears here.

/// Why bytes read from disk could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: needed {needed} bytes, {remaining} remain")]
    Truncated { needed: usize, remaining: usize },
    #[error("{extra} trailing bytes")]
    Trailing { extra: usize },
    #[error("key tag {found:#04x}, expected {expected:#04x}")]
    BadTag { found: u8, expected: u8 },
    #[error("unknown value version {found}")]
    BadVersion { found: u8 },
    #[error("flag byte {found}, expected 0 or 1")]
    BadFlag { found: u8 },
    #[error("non-canonical encoding: {0}")]
    NonCanonical(&'static str),
    #[error("record filed under the wrong parent: {0}")]
    Misplaced(&'static str),
    #[error("checksum {stored:#018x} stored, {computed:#018x} computed")]
    Checksum { stored: u64, computed: u64 },
}

/// An error from the storage engine or from the bytes it holds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// RocksDB failed (I/O, corruption it detected itself, options). The message is RocksDB's;
    /// the type stays private so that only this crate names `rocksdb`.
    #[error("rocksdb: {message}")]
    Rocks { message: String },
    /// A record was present but its bytes do not decode.
    #[error("corrupt record in column family `{cf}` under key {key:02x?}: {source}")]
    Corrupt {
        cf: &'static str,
        key: Vec<u8>,
        #[source]
        source: DecodeError,
    },
    /// Another commit landed between this transaction's snapshot and its commit: its reads are
    /// stale, so its writes are refused.
    #[error(
        "commit raced another writer: txn read applied index {began_at}, store is at {current}"
    )]
    ConcurrentCommit { began_at: u64, current: u64 },
    /// Applied indexes grow strictly: one index is one applied log entry.
    #[error("applied index must grow: store is at {current}, commit asked for {requested}")]
    AppliedIndexNotIncreasing { current: u64, requested: u64 },
    /// A read view (`Db::read`) was handed to `Db::commit`.
    #[error("a read view cannot be committed")]
    ReadOnly,
    /// An fsync of this store failed earlier in this boot: the page cache may hold log writes
    /// the disk does not, so the store is not opened until the machine reboots
    /// (`fsync_guard`).
    #[error(
        "an fsync of this store failed ({error}), as {marker} records: the page cache may hold \
         writes the disk does not, so the store stays closed; {}",
        if *reboot_clears {
            "reboot the machine (the marker then clears itself), or drop the page cache \
             (sync; echo 3 > /proc/sys/vm/drop_caches) and delete the marker"
        } else {
            "the marker names no boot, so reboot or drop the page cache \
             (sync; echo 3 > /proc/sys/vm/drop_caches), then delete the marker"
        }
    )]
    FsyncFailedThisBoot {
        marker: String,
        /// The fsync's error, as the marker records it.
        error: String,
        /// Whether the marker clears itself at the next boot (it names this boot).
        reboot_clears: bool,
    },
    /// A state image (`Db::import_state`) does not decode; nothing was written.
    #[error("bad state image: {0}")]
    BadImage(#[source] DecodeError),
}

impl From<rocksdb::Error> for StorageError {
    fn from(error: rocksdb::Error) -> StorageError {
        StorageError::Rocks {
            message: error.into_string(),
        }
    }
}
