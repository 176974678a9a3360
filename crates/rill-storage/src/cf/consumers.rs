//! Consumers: contiguous per group, in consumer-name byte order.
//!
//! Key:   `0x04 | u32 BE len | stream_key | u32 BE len | group | consumer`
//!        The consumer name is raw (last part), so a group's consumers list in name order, and
//!        `0x04 | len | stream_key` / `... | len | group` prefix exactly one stream / one group.
//! Value: `0x01 (version) | seen_ms u64 | active flag u8 | active_ms u64 | pending_count u64`,
//!        all big-endian: 26 bytes. The flag is 0 (never active, value 0) or 1.

use rill_core::ConsumerMeta;

use crate::cf::KeyTag;
use crate::codec::{put_opt_u64, put_u64, tagged_prefix, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

const VALUE_BYTES: usize = 1 + 8 + 9 + 8;

pub(crate) fn key(stream: &[u8], group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::Consumer, &[stream, group]);
    out.extend_from_slice(consumer);
    out
}

/// Every consumer of every group of one stream.
pub(crate) fn stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::Consumer, &[stream]))
}

/// Every consumer of one group.
pub(crate) fn group_range(stream: &[u8], group: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::Consumer, &[stream, group]))
}

/// A decoded key, borrowing the key's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ConsumerKey<'a> {
    pub(crate) stream: &'a [u8],
    pub(crate) group: &'a [u8],
    pub(crate) consumer: &'a [u8],
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<ConsumerKey<'_>, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::Consumer)?;
    let stream = reader.prefixed()?;
    let group = reader.prefixed()?;
    Ok(ConsumerKey {
        stream,
        group,
        consumer: reader.rest(),
    })
}

pub(crate) fn encode_value(meta: &ConsumerMeta) -> Vec<u8> {
    let mut out = Vec::with_capacity(VALUE_BYTES);
    out.push(VALUE_VERSION);
    put_u64(&mut out, meta.seen_ms);
    put_opt_u64(&mut out, meta.active_ms);
    put_u64(&mut out, meta.pending_count);
    assert_eq!(out.len(), VALUE_BYTES);
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<ConsumerMeta, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let meta = ConsumerMeta {
        seen_ms: reader.u64()?,
        active_ms: reader.opt_u64()?,
        pending_count: reader.u64()?,
    };
    reader.finish()?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, name, opt_u64};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(
            key(b"s", b"g", b"c"),
            [0x04, 0, 0, 0, 1, b's', 0, 0, 0, 1, b'g', b'c']
        );
        let bytes = encode_value(&ConsumerMeta {
            seen_ms: 1,
            active_ms: None,
            pending_count: 2,
        });
        assert_eq!(
            bytes,
            [
                &[1][..],
                &[0, 0, 0, 0, 0, 0, 0, 1],
                &[0; 9],
                &[0, 0, 0, 0, 0, 0, 0, 2]
            ]
            .concat()
        );
    }

    proptest! {
        #[test]
        fn key_round_trips_and_orders_by_name(s in name(), g in name(), a in name(), b in name()) {
            let encoded = key(&s, &g, &a);
            prop_assert_eq!(decode_key(&encoded), Ok(ConsumerKey { stream: &s, group: &g, consumer: &a }));
            prop_assert_eq!(a.cmp(&b), key(&s, &g, &a).cmp(&key(&s, &g, &b)));
            prop_assert!(group_range(&s, &g).contains(&key(&s, &g, &a)));
            prop_assert!(stream_range(&s).contains(&key(&s, &g, &a)));
        }

        #[test]
        fn groups_and_streams_never_interleave(s in name(), g in name(), t in name(), h in name(), c in name()) {
            prop_assume!((&s, &g) != (&t, &h));
            prop_assert!(!group_range(&t, &h).contains(&key(&s, &g, &c)));
            prop_assert_eq!(stream_range(&t).contains(&key(&s, &g, &c)), s == t);
        }

        #[test]
        fn value_round_trips_strictly(seen in any::<u64>(), active in opt_u64(), pending in any::<u64>()) {
            let meta = ConsumerMeta { seen_ms: seen, active_ms: active, pending_count: pending };
            let bytes = encode_value(&meta);
            prop_assert_eq!(decode_value(&bytes), Ok(meta));
            assert_strict(&bytes, decode_value);
        }
    }
}
