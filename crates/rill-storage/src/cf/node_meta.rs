//! Records the replication layer keeps beside the state it describes, in the `node` family:
//! written in the same `WriteBatch` as the state (`Db::commit_with_meta`), copied with it into a
//! state image. Not part of the state digest.
//!
//! Key:   `0x41 | node_meta u8` (a [`NodeMeta`] value)
//! Value: [`crate::checked`]: `0x01 | checksum u64 BE | bytes`.

use crate::cf::KeyTag;
use crate::codec::Reader;
use crate::error::DecodeError;

/// A record about the applied state. Persisted: values never change and are never reused.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeMeta {
    /// The log id (not only the index) of the last applied entry.
    AppliedLogId = 1,
    /// The last applied cluster membership, with the log id that carried it.
    Membership = 2,
    /// The highest time stamp among applied entries, so a new leader never stamps earlier.
    ClockMs = 3,
}

impl NodeMeta {
    pub const ALL: [NodeMeta; 3] = [
        NodeMeta::AppliedLogId,
        NodeMeta::Membership,
        NodeMeta::ClockMs,
    ];
}

pub(crate) fn key(meta: NodeMeta) -> [u8; 2] {
    [KeyTag::NodeMeta as u8, meta as u8]
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<NodeMeta, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::NodeMeta)?;
    let code = reader.u8()?;
    reader.finish()?;
    NodeMeta::ALL
        .into_iter()
        .find(|meta| *meta as u8 == code)
        .ok_or(DecodeError::NonCanonical("unknown node meta record"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::assert_strict;

    #[test]
    fn layout_is_pinned_and_round_trips() {
        assert_eq!(key(NodeMeta::AppliedLogId), [0x41, 1]);
        assert_eq!(key(NodeMeta::Membership), [0x41, 2]);
        assert_eq!(key(NodeMeta::ClockMs), [0x41, 3]);
        for meta in NodeMeta::ALL {
            assert_eq!(decode_key(&key(meta)), Ok(meta));
            assert_strict(&key(meta), decode_key);
        }
        assert!(decode_key(&[0x41, 9]).is_err());
    }
}
