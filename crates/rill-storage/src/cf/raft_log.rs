//! The replicated log: one record per entry, in index order. The entry bytes belong to the
//! replication layer (`rill-raft`); this crate stores them and checks they come back unchanged.
//!
//! Key:   `0x50 | index u64 BE`: byte order is index order, so a range of indexes is a range of
//!        keys and the last key is the last entry.
//! Value: [`crate::checked`]: `0x01 | checksum u64 BE | entry bytes`.

use crate::cf::KeyTag;
use crate::codec::Reader;
use crate::error::DecodeError;

pub(crate) const KEY_BYTES: usize = 1 + 8;

pub(crate) fn key(index: u64) -> [u8; KEY_BYTES] {
    let mut key = [0u8; KEY_BYTES];
    key[0] = KeyTag::RaftLog as u8;
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The first key past every log key: the exclusive end of "to the end of the log".
pub(crate) fn end_of_log() -> [u8; 1] {
    [KeyTag::RaftLog as u8 + 1]
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<u64, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::RaftLog)?;
    let index = reader.u64()?;
    reader.finish()?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::assert_strict;
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(key(258), [0x50, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(end_of_log(), [0x51]);
    }

    proptest! {
        #[test]
        fn key_round_trips_and_orders_like_the_index(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(decode_key(&key(a)), Ok(a));
            assert_strict(&key(a), decode_key);
            prop_assert_eq!(key(a).cmp(&key(b)), a.cmp(&b));
            prop_assert!(key(a).as_slice() < end_of_log().as_slice());
        }
    }
}
