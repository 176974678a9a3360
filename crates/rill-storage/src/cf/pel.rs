//! Pending entries (the PEL): contiguous per group, ordered by entry ID.
//!
//! Key:   `0x05 | u32 BE len | stream_key | u32 BE len | group | ms u64 BE | seq u64 BE`
//! Value: `0x01 (version) | delivery_ms u64 | delivery_count u64 | u32 BE len | consumer`, or
//!        for an entry no consumer holds (released by XNACK, delivery time 0):
//!        `0x02 | delivery_count u64`
//!
//! Every held record here has a twin in `consumer_pel` under its owner's name;
//! `Txn::put_pending` and `Txn::delete_pending` keep the two in step.

use rill_core::{PendingEntry, StreamId};

use crate::cf::KeyTag;
use crate::codec::{put_id, put_prefixed, put_u64, tagged_prefix, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

pub(crate) fn key(stream: &[u8], group: &[u8], id: StreamId) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::Pending, &[stream, group]);
    put_id(&mut out, id);
    out
}

/// Every pending entry of every group of one stream.
pub(crate) fn stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::Pending, &[stream]))
}

/// Every pending entry of one group.
pub(crate) fn group_range(stream: &[u8], group: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::Pending, &[stream, group]))
}

/// Pending entries of one group with `start <= id <= end`.
pub(crate) fn id_range(stream: &[u8], group: &[u8], start: StreamId, end: StreamId) -> KeyRange {
    KeyRange::inclusive(key(stream, group, start), &key(stream, group, end))
}

/// A decoded key, borrowing the key's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PendingKey<'a> {
    pub(crate) stream: &'a [u8],
    pub(crate) group: &'a [u8],
    pub(crate) id: StreamId,
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<PendingKey<'_>, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::Pending)?;
    let stream = reader.prefixed()?;
    let group = reader.prefixed()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok(PendingKey { stream, group, id })
}

/// The value of a released entry.
const RELEASED: u8 = 2;

pub(crate) fn encode_value(entry: &PendingEntry) -> Vec<u8> {
    if entry.released {
        let mut out = vec![RELEASED];
        put_u64(&mut out, entry.delivery_count);
        return out;
    }
    let mut out = Vec::with_capacity(1 + 16 + 4 + entry.consumer.len());
    out.push(VALUE_VERSION);
    put_u64(&mut out, entry.delivery_ms);
    put_u64(&mut out, entry.delivery_count);
    put_prefixed(&mut out, &entry.consumer);
    assert_eq!(out.len(), 1 + 16 + 4 + entry.consumer.len());
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<PendingEntry, DecodeError> {
    if bytes.first() == Some(&RELEASED) {
        let mut reader = Reader::new(&bytes[1..]);
        let delivery_count = reader.u64()?;
        reader.finish()?;
        return Ok(PendingEntry::released(delivery_count));
    }
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let delivery_ms = reader.u64()?;
    let delivery_count = reader.u64()?;
    let consumer = reader.prefixed()?.to_vec();
    reader.finish()?;
    Ok(PendingEntry::held(&consumer, delivery_ms, delivery_count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, id, name};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        let key = key(b"s", b"g", StreamId::new(0, 1));
        assert_eq!(
            key,
            [
                &[0x05, 0, 0, 0, 1, b's', 0, 0, 0, 1, b'g'][..],
                &[0; 8],
                &[0, 0, 0, 0, 0, 0, 0, 1]
            ]
            .concat()
        );
        let value = encode_value(&PendingEntry::held(b"c", 2, 3));
        assert_eq!(
            value,
            [
                &[1][..],
                &[0, 0, 0, 0, 0, 0, 0, 2],
                &[0, 0, 0, 0, 0, 0, 0, 3],
                &[0, 0, 0, 1, b'c']
            ]
            .concat()
        );
        let released = encode_value(&PendingEntry::released(3));
        assert_eq!(released, [2, 0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(decode_value(&released), Ok(PendingEntry::released(3)));
        assert_strict(&released, decode_value);
    }

    proptest! {
        #[test]
        fn key_round_trips_and_orders_by_id(s in name(), g in name(), a in id(), b in id()) {
            let encoded = key(&s, &g, a);
            prop_assert_eq!(decode_key(&encoded), Ok(PendingKey { stream: &s, group: &g, id: a }));
            prop_assert_eq!(a.cmp(&b), key(&s, &g, a).cmp(&key(&s, &g, b)));
            prop_assert!(group_range(&s, &g).contains(&key(&s, &g, a)));
            prop_assert!(stream_range(&s).contains(&key(&s, &g, a)));
        }

        #[test]
        fn id_range_holds_exactly_the_ids_between(s in name(), g in name(), lo in id(), hi in id(), x in id()) {
            prop_assert_eq!(id_range(&s, &g, lo, hi).contains(&key(&s, &g, x)), lo <= x && x <= hi);
        }

        #[test]
        fn groups_and_streams_never_interleave(s in name(), g in name(), t in name(), h in name(), a in id()) {
            prop_assume!((&s, &g) != (&t, &h));
            prop_assert!(!group_range(&t, &h).contains(&key(&s, &g, a)));
            prop_assert_eq!(stream_range(&t).contains(&key(&s, &g, a)), s == t);
        }

        #[test]
        fn value_round_trips_strictly(consumer in name(), ms in any::<u64>(), count in any::<u64>()) {
            let entry = PendingEntry::held(&consumer, ms, count);
            let bytes = encode_value(&entry);
            prop_assert_eq!(decode_value(&bytes), Ok(entry));
            assert_strict(&bytes, decode_value);
        }
    }
}
