//! Per-consumer index of pending IDs: the entries a consumer owns, without scanning its group.
//!
//! Key:   `0x06 | u32 BE len | stream_key | u32 BE len | group | u32 BE len | consumer
//!        | ms u64 BE | seq u64 BE`
//! Value: `0x01 (version)`. The key is the whole record; the byte leaves room for a new layout.
//!
//! A record exists exactly when `pel` holds the same (stream, group, id) owned by this consumer.

use rill_core::StreamId;

use crate::cf::KeyTag;
use crate::codec::{put_id, tagged_prefix, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

pub(crate) const VALUE: [u8; 1] = [VALUE_VERSION];

pub(crate) fn key(stream: &[u8], group: &[u8], consumer: &[u8], id: StreamId) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::ConsumerPending, &[stream, group, consumer]);
    put_id(&mut out, id);
    out
}

/// Every index record of one stream.
pub(crate) fn stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::ConsumerPending, &[stream]))
}

/// Every index record of one group.
pub(crate) fn group_range(stream: &[u8], group: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::ConsumerPending, &[stream, group]))
}

/// One consumer's pending IDs with `start <= id <= end`.
pub(crate) fn id_range(
    stream: &[u8],
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    end: StreamId,
) -> KeyRange {
    KeyRange::inclusive(
        key(stream, group, consumer, start),
        &key(stream, group, consumer, end),
    )
}

/// A decoded key, borrowing the key's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ConsumerPendingKey<'a> {
    pub(crate) stream: &'a [u8],
    pub(crate) group: &'a [u8],
    pub(crate) consumer: &'a [u8],
    pub(crate) id: StreamId,
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<ConsumerPendingKey<'_>, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::ConsumerPending)?;
    let stream = reader.prefixed()?;
    let group = reader.prefixed()?;
    let consumer = reader.prefixed()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok(ConsumerPendingKey {
        stream,
        group,
        consumer,
        id,
    })
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<(), DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    reader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, id, name};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        let key = key(b"s", b"g", b"c", StreamId::new(0, 1));
        let head = [0x06, 0, 0, 0, 1, b's', 0, 0, 0, 1, b'g', 0, 0, 0, 1, b'c'];
        assert_eq!(
            key,
            [&head[..], &[0; 8], &[0, 0, 0, 0, 0, 0, 0, 1]].concat()
        );
        assert_eq!(VALUE, [1]);
        assert_eq!(decode_value(&VALUE), Ok(()));
        assert_strict(&VALUE, decode_value);
    }

    proptest! {
        #[test]
        fn key_round_trips_and_orders_by_id(s in name(), g in name(), c in name(), a in id(), b in id()) {
            let decoded = ConsumerPendingKey { stream: &s, group: &g, consumer: &c, id: a };
            let encoded = key(&s, &g, &c, a);
            prop_assert_eq!(decode_key(&encoded), Ok(decoded));
            prop_assert_eq!(a.cmp(&b), key(&s, &g, &c, a).cmp(&key(&s, &g, &c, b)));
            prop_assert!(group_range(&s, &g).contains(&key(&s, &g, &c, a)));
            prop_assert!(stream_range(&s).contains(&key(&s, &g, &c, a)));
        }

        #[test]
        fn id_range_holds_exactly_one_consumers_ids_between(
            s in name(), g in name(), c in name(), d in name(), lo in id(), hi in id(), x in id()
        ) {
            let inside = lo <= x && x <= hi && c == d;
            prop_assert_eq!(id_range(&s, &g, &c, lo, hi).contains(&key(&s, &g, &d, x)), inside);
        }

        #[test]
        fn groups_and_streams_never_interleave(
            s in name(), g in name(), t in name(), h in name(), c in name(), a in id()
        ) {
            prop_assume!((&s, &g) != (&t, &h));
            prop_assert!(!group_range(&t, &h).contains(&key(&s, &g, &c, a)));
            prop_assert_eq!(stream_range(&t).contains(&key(&s, &g, &c, a)), s == t);
        }
    }
}
