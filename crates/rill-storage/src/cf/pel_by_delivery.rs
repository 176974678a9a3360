//! A group's pending entries in delivery order (oldest delivery first, then by ID): where
//! XREADGROUP's CLAIM looks for idle entries and how long a blocked CLAIM read waits. Kept
//! only for a group that has been read with CLAIM: a work queue that never uses it does not
//! pay a record written and deleted per delivery.
//!
//! Record:  `0x15 | u32 BE len | stream_key | u32 BE len | group | delivery_ms u64 BE | id`
//!          -> `0x01` (version only), kept in `pel`, one per pending entry.
//! First:   `0x16 | u32 BE len | stream_key | u32 BE len | group`
//!          -> `0x01 (version) | delivery_ms u64 BE | ms u64 BE | seq u64 BE`, the lowest record.
//! Ordered: `0x17 | u32 BE len | stream_key | u32 BE len | group` -> `0x01` (version only),
//!          kept in `groups`: the group keeps the two above. Written by the first CLAIM read
//!          (`Store::keep_delivery_order`, which orders what is pending then), removed with
//!          the group. A group without it has neither.
//!
//! A redelivery moves an entry's record to the tail and an acknowledgement removes it, so the
//! head of a busy group is all tombstones until compaction: scans start at the first record,
//! which `Txn` keeps as `pending_first` keeps the lowest pending ID. Both are derived from the
//! PEL and the ordered records (`Derive::pending`): images get them on import. The ordered
//! records are state, in images and digests: every replica applies the same CLAIM reads.

use rill_core::StreamId;

use crate::cf::KeyTag;
use crate::codec::{put_id, put_u64, tagged_prefix, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

/// A place in delivery order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Delivery {
    pub(crate) ms: u64,
    pub(crate) id: StreamId,
}

impl Delivery {
    /// The next place after this one, if any.
    pub(crate) fn next(self) -> Option<Delivery> {
        match self.id.next() {
            Some(id) => Some(Delivery { ms: self.ms, id }),
            None => Some(Delivery {
                ms: self.ms.checked_add(1)?,
                id: StreamId::MIN,
            }),
        }
    }
}

pub(crate) const VALUE: [u8; 1] = [VALUE_VERSION];

pub(crate) fn key(stream: &[u8], group: &[u8], at: Delivery) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::PendingByDelivery, &[stream, group]);
    put_u64(&mut out, at.ms);
    put_id(&mut out, at.id);
    out
}

/// One group's records from `from` on.
pub(crate) fn range_from(stream: &[u8], group: &[u8], from: Delivery) -> KeyRange {
    let last = Delivery {
        ms: u64::MAX,
        id: StreamId::MAX,
    };
    KeyRange::inclusive(key(stream, group, from), &key(stream, group, last))
}

/// Every record of one group.
pub(crate) fn group_range(stream: &[u8], group: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::PendingByDelivery, &[stream, group]))
}

/// Every record of one stream.
pub(crate) fn stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::PendingByDelivery, &[stream]))
}

/// The record that says `group` keeps its delivery order.
pub(crate) fn ordered_key(stream: &[u8], group: &[u8]) -> Vec<u8> {
    tagged_prefix(KeyTag::DeliveryOrdered, &[stream, group])
}

/// Every ordered record of one stream.
pub(crate) fn ordered_stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::DeliveryOrdered, &[stream]))
}

pub(crate) fn first_key(stream: &[u8], group: &[u8]) -> Vec<u8> {
    tagged_prefix(KeyTag::DeliveryFirst, &[stream, group])
}

/// The stream and group an ordered record names.
pub(crate) fn decode_ordered_key(bytes: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::DeliveryOrdered)?;
    let stream = reader.prefixed()?;
    let group = reader.prefixed()?;
    reader.finish()?;
    Ok((stream, group))
}

/// Every first record of one stream.
pub(crate) fn first_stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::DeliveryFirst, &[stream]))
}

/// A decoded record key, borrowing the key's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DeliveryKey<'a> {
    pub(crate) stream: &'a [u8],
    pub(crate) group: &'a [u8],
    pub(crate) at: Delivery,
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<DeliveryKey<'_>, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::PendingByDelivery)?;
    let stream = reader.prefixed()?;
    let group = reader.prefixed()?;
    let ms = reader.u64()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok(DeliveryKey {
        stream,
        group,
        at: Delivery { ms, id },
    })
}

#[cfg(test)]
pub(crate) fn decode_value(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    reader.finish()
}

pub(crate) fn encode_first(at: Delivery) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    put_u64(&mut out, at.ms);
    put_id(&mut out, at.id);
    out
}

pub(crate) fn decode_first(bytes: &[u8]) -> Result<Delivery, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let ms = reader.u64()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok(Delivery { ms, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cf::pel;
    use crate::codec::strategy::{assert_strict, id};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        let at = Delivery {
            ms: 7,
            id: StreamId::new(1, 2),
        };
        let mut expected = b"\x15\0\0\0\x01s\0\0\0\x01g".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(key(b"s", b"g", at), expected);
        assert_eq!(
            first_key(b"s", b"g"),
            b"\x16\0\0\0\x01s\0\0\0\x01g".to_vec()
        );
        assert_eq!(
            ordered_key(b"s", b"g"),
            b"\x17\0\0\0\x01s\0\0\0\x01g".to_vec()
        );
        assert_eq!(
            decode_ordered_key(&ordered_key(b"s", b"g")),
            Ok((&b"s"[..], &b"g"[..]))
        );
        assert!(ordered_stream_range(b"s").contains(&ordered_key(b"s", b"g")));
        assert!(!ordered_stream_range(b"s2").contains(&ordered_key(b"s", b"g")));
        assert_eq!(VALUE, [1]);
        assert_eq!(encode_first(at)[0], 1);
        assert_eq!(encode_first(at).len(), 25);
    }

    #[test]
    fn records_sort_after_the_pel_and_by_delivery_then_id() {
        let max = StreamId::MAX;
        assert!(
            pel::key(b"s", b"g", max)
                < key(
                    b"",
                    b"",
                    Delivery {
                        ms: 0,
                        id: StreamId::MIN
                    }
                )
        );
        let early = key(b"s", b"g", Delivery { ms: 1, id: max });
        let late = key(
            b"s",
            b"g",
            Delivery {
                ms: 2,
                id: StreamId::MIN,
            },
        );
        assert!(early < late);
        assert!(group_range(b"s", b"g").contains(&late));
        assert!(!group_range(b"s", b"g2").contains(&late));
        assert!(!stream_range(b"s2").contains(&late));
        assert!(first_stream_range(b"s").contains(&first_key(b"s", b"g")));
    }

    #[test]
    fn next_steps_over_the_last_id_of_a_millisecond() {
        let last = Delivery {
            ms: 4,
            id: StreamId::MAX,
        };
        assert_eq!(
            last.next(),
            Some(Delivery {
                ms: 5,
                id: StreamId::MIN
            })
        );
        let end = Delivery {
            ms: u64::MAX,
            id: StreamId::MAX,
        };
        assert_eq!(end.next(), None);
    }

    proptest! {
        #[test]
        fn keys_and_firsts_round_trip(
            stream in crate::codec::strategy::name(),
            group in crate::codec::strategy::name(),
            ms in any::<u64>(),
            id in id(),
        ) {
            let at = Delivery { ms, id };
            let k = key(&stream, &group, at);
            let found = decode_key(&k).expect("decodes");
            prop_assert_eq!(found, DeliveryKey { stream: &stream, group: &group, at });
            assert_strict(&encode_first(at), decode_first);
            prop_assert_eq!(decode_first(&encode_first(at)), Ok(at));
        }
    }
}
