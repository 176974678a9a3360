//! Records the replicated log keeps beside its entries: the vote, the committed log id, the
//! last purged log id and the store's incarnation. Their bytes belong to the replication layer.
//!
//! Key:   `0x51 | log_meta u8` (a [`LogMeta`] value)
//! Value: [`crate::checked`]: `0x01 | checksum u64 BE | bytes`.

use crate::cf::KeyTag;

/// A record of the log store. Persisted: values never change and are never reused.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogMeta {
    /// The last vote this node cast or holds. Written synced before the node acts on it.
    Vote = 1,
    /// The last log id known committed (optional in Raft). No longer written: `rill-raft`
    /// stopped storing it; stores from before may still hold one, which is ignored.
    Committed = 2,
    /// The last log id removed from the front of the log; written with the removal.
    LastPurged = 3,
    /// This data directory's incarnation: a number the node draws when it first opens an empty
    /// store, so that the cluster can tell a node that lost its disk from the one it knew
    /// (`rill-raft`'s `identity`). Written once, fsynced.
    Incarnation = 4,
}

impl LogMeta {
    /// Whether a write of this record is fsynced before it returns. The committed id is only a
    /// hint for restart (the state machine persists what it applies), and the next fsynced write
    /// persists it anyway, since RocksDB has one write-ahead log written in order.
    pub fn needs_fsync(self) -> bool {
        !matches!(self, LogMeta::Committed)
    }
}

pub(crate) fn key(meta: LogMeta) -> [u8; 2] {
    [KeyTag::RaftMeta as u8, meta as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(key(LogMeta::Vote), [0x51, 1]);
        assert_eq!(key(LogMeta::Committed), [0x51, 2]);
        assert_eq!(key(LogMeta::LastPurged), [0x51, 3]);
        assert_eq!(key(LogMeta::Incarnation), [0x51, 4]);
    }
}
