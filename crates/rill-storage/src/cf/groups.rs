//! Consumer groups: contiguous per stream, in group-name byte order.
//!
//! Key:   `0x03 | u32 BE len | stream_key | group`
//!        The group name is raw (last part), so a stream's groups list in name order.
//! Value: `0x01 (version) | last_delivered_id (ms u64 | seq u64) | entries_read flag u8 | entries_read u64
//!        | pending_count u64`, all big-endian: 34 bytes. The flag is 0 (unknown, value 0) or 1.
//!        A group holding released entries (XNACK) has version `0x02` and their count after:
//!        `| nacked_count u64`, 42 bytes. A group without has the first form, as before XNACK.
//!        A group that knows a bound on its pending IDs (`GroupMeta::pending_max`) has version
//!        `0x03`: `| nacked_count u64 | pending_max (ms u64 | seq u64)`, 58 bytes; groups
//!        stored before it was kept have one of the first two forms and no bound.

use rill_core::GroupMeta;

use crate::cf::KeyTag;
use crate::codec::{put_id, put_opt_u64, put_u64, tagged_prefix, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

const VALUE_BYTES: usize = 1 + 16 + 9 + 8;
/// The version byte of a group that holds released entries.
const WITH_NACKED: u8 = 2;
/// The version byte of a group with a bound on its pending IDs.
const WITH_BOUND: u8 = 3;

pub(crate) fn key(stream: &[u8], group: &[u8]) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::Group, &[stream]);
    out.extend_from_slice(group);
    out
}

/// Every group of one stream.
pub(crate) fn stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::Group, &[stream]))
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::Group)?;
    let stream = reader.prefixed()?;
    Ok((stream, reader.rest()))
}

pub(crate) fn encode_value(meta: &GroupMeta) -> Vec<u8> {
    let mut out = Vec::with_capacity(VALUE_BYTES + 8);
    out.push(VALUE_VERSION);
    put_id(&mut out, meta.last_delivered_id);
    put_opt_u64(&mut out, meta.entries_read);
    put_u64(&mut out, meta.pending_count);
    assert_eq!(out.len(), VALUE_BYTES);
    if let Some(max) = meta.pending_max {
        out[0] = WITH_BOUND;
        put_u64(&mut out, meta.nacked_count);
        put_id(&mut out, max);
    } else if meta.nacked_count > 0 {
        out[0] = WITH_NACKED;
        put_u64(&mut out, meta.nacked_count);
    }
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<GroupMeta, DecodeError> {
    let version = bytes.first().copied();
    let (with_nacked, with_bound) = (version == Some(WITH_NACKED), version == Some(WITH_BOUND));
    let mut reader = Reader::new(bytes);
    if with_nacked || with_bound {
        reader.u8()?;
    } else {
        reader.expect_version()?;
    }
    let mut meta = GroupMeta {
        last_delivered_id: reader.id()?,
        entries_read: reader.opt_u64()?,
        pending_count: reader.u64()?,
        nacked_count: 0,
        pending_max: None,
    };
    if with_nacked {
        meta.nacked_count = reader.u64()?;
        if meta.nacked_count == 0 {
            return Err(DecodeError::NonCanonical(
                "a released count of 0 in the long form",
            ));
        }
    }
    if with_bound {
        meta.nacked_count = reader.u64()?;
        meta.pending_max = Some(reader.id()?);
    }
    reader.finish()?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, id, name, opt_u64};
    use proptest::prelude::*;
    use rill_core::StreamId;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(key(b"s", b"g"), [0x03, 0, 0, 0, 1, b's', b'g']);
        let bytes = encode_value(&GroupMeta {
            entries_read: Some(3),
            ..GroupMeta::default()
        });
        assert_eq!(bytes.len(), VALUE_BYTES);
        assert_eq!(bytes[17..26], [1, 0, 0, 0, 0, 0, 0, 0, 3]);
        let nacked = encode_value(&GroupMeta {
            nacked_count: 2,
            ..GroupMeta::default()
        });
        assert_eq!(nacked.len(), VALUE_BYTES + 8);
        assert_eq!(
            (nacked[0], &nacked[VALUE_BYTES..]),
            (2, &[0, 0, 0, 0, 0, 0, 0, 2][..])
        );
        let mut zero = nacked.clone();
        zero[VALUE_BYTES..].fill(0);
        assert!(decode_value(&zero).is_err(), "one encoding per value");
        let bounded = encode_value(&GroupMeta {
            pending_max: Some(StreamId::new(5, 1)),
            ..GroupMeta::default()
        });
        assert_eq!(bounded.len(), VALUE_BYTES + 8 + 16);
        assert_eq!(bounded[0], 3);
        assert_eq!(
            bounded[VALUE_BYTES + 8..],
            [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1]
        );
    }

    proptest! {
        #[test]
        fn key_round_trips_and_orders_by_name(s in name(), a in name(), b in name()) {
            let encoded = key(&s, &a);
            prop_assert_eq!(decode_key(&encoded), Ok((s.as_slice(), a.as_slice())));
            prop_assert_eq!(a.cmp(&b), key(&s, &a).cmp(&key(&s, &b)));
            prop_assert!(stream_range(&s).contains(&key(&s, &a)));
        }

        #[test]
        fn streams_never_interleave(s in name(), t in name(), g in name()) {
            prop_assume!(s != t);
            prop_assert!(!stream_range(&t).contains(&key(&s, &g)));
        }

        #[test]
        fn value_round_trips_strictly(last in id(), read in opt_u64(), pending in any::<u64>(), nacked in prop_oneof![Just(0u64), any::<u64>()], bound in prop::option::of(id())) {
            let meta = GroupMeta { last_delivered_id: last, entries_read: read, pending_count: pending, nacked_count: nacked, pending_max: bound };
            let bytes = encode_value(&meta);
            prop_assert_eq!(decode_value(&bytes), Ok(meta));
            assert_strict(&bytes, decode_value);
        }
    }
}
