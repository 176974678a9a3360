//! Records about this replica rather than about streams. Not part of the state digest.
//!
//! Key:   `0x40` (applied index)
//! Value: `0x01 (version) | applied_index u64 BE`: the index of the last log entry whose effects
//!        are in the state families. Written in the same `WriteBatch` as those effects.

use crate::cf::KeyTag;
use crate::codec::{put_u64, Reader, VALUE_VERSION};
use crate::error::DecodeError;

pub(crate) const APPLIED_INDEX_KEY: [u8; 1] = [KeyTag::AppliedIndex as u8];

pub(crate) fn encode_applied_index(index: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(VALUE_VERSION);
    put_u64(&mut out, index);
    out
}

pub(crate) fn decode_applied_index(bytes: &[u8]) -> Result<u64, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
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
        assert_eq!(APPLIED_INDEX_KEY, [0x40]);
        assert_eq!(encode_applied_index(258), [1, 0, 0, 0, 0, 0, 0, 1, 2]);
    }

    proptest! {
        #[test]
        fn applied_index_round_trips_strictly(index in any::<u64>()) {
            let bytes = encode_applied_index(index);
            prop_assert_eq!(decode_applied_index(&bytes), Ok(index));
            assert_strict(&bytes, decode_applied_index);
        }
    }
}
