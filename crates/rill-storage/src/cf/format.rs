//! The layout version of a store's state families, and the one-time upgrade of older stores.
//!
//! Key:   `0x52`, in `raft_meta` (about this replica's files, so in no image or digest)
//! Value: `0x01 (version) | format u32 BE`
//!
//! Format 2 added the lowest-pending-id records (`pending_first`), format 3 the delivery order
//! (`pel_by_delivery`) for every group, format 4 kept it only for groups read with CLAIM
//! (its ordered records). A store without this record, or at format 2, was written before the
//! first two: [`crate::Db::open`] derives them from its PEL once, in one batch with the record,
//! so an upgraded node serves its pending entries as before. A format-3 store drops its
//! delivery orders: each group orders itself again at its next CLAIM read.

use crate::cf::KeyTag;
use crate::codec::{Reader, VALUE_VERSION};
use crate::error::DecodeError;

pub(crate) const KEY: [u8; 1] = [KeyTag::Format as u8];
pub(crate) const CURRENT: u32 = 4;
/// Before the delivery order (`pel_by_delivery`), which [`crate::Db::open`] derives.
pub(crate) const WITHOUT_DELIVERY_ORDER: u32 = 2;
/// The delivery order of every group with pending entries, and no ordered records.
pub(crate) const DELIVERY_ORDER_OF_EVERY_GROUP: u32 = 3;

pub(crate) fn encode_value(format: u32) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    out.extend_from_slice(&format.to_be_bytes());
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<u32, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let format = reader.u32()?;
    reader.finish()?;
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(KEY, [0x52]);
        assert_eq!(encode_value(CURRENT), [1, 0, 0, 0, 4]);
        assert_eq!(decode_value(&encode_value(7)), Ok(7));
        assert!(decode_value(&[1, 0, 0, 2]).is_err());
    }
}
