//! The RocksDB implementation of [`rill_core::Store`]. The only crate that imports `rocksdb`.
//!
//! ```text
//!   rill-core engine ──Store──▶ Txn ──overlay + snapshot──▶ Db::commit ──WriteBatch──▶ RocksDB
//! ```
//!
//! One column family per record type (`cf/`), each module stating its `Key:` and `Value:`
//! layout. One commit is one atomic `WriteBatch` carrying the applied index with the state it
//! produced, so the two never disagree on disk.
//!
//! For replication it also keeps the Raft log as opaque, checksummed bytes (`log_store`: entries,
//! vote, committed and purged ids, every write fsynced), the replication layer's applied log id
//! and membership beside the state (`Db::commit_with_meta`), and whole-state images for
//! snapshots (`image`). It never names a Raft type: the encoding of those bytes is `rill-raft`'s.

mod cf;
mod checked;
mod codec;
mod compactor;
mod db;
mod digest;
mod error;
mod fsync_guard;
mod image;
mod log_store;
mod overlay;
mod read_cache;
mod scan;
mod txn;
mod upgrade;

#[cfg(test)]
mod tests;

pub use cf::node_meta::NodeMeta;
pub use cf::raft_meta::LogMeta;
pub use db::{Db, DbOptions, PendingCommit, WriteJournal};
pub use error::{DecodeError, StorageError};
pub use image::{read_image_meta, ImageMeta};
pub use txn::Txn;

/// `Db` is shared in an `Arc` by one writer task and many reader tasks; a `Txn` moves between
/// threads with its task and may be borrowed across an `.await`.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
    assert_send_sync::<Txn<'static>>();
};
