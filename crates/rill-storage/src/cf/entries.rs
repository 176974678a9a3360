//! Stream entries: contiguous per stream, ordered by ID within a stream.
//!
//! Key:   `0x02 | u32 BE len | stream_key | ms u64 BE | seq u64 BE`
//!        The length prefix makes `0x02 | len | stream_key` a prefix of exactly this stream's
//!        entries (stream `a` never captures stream `a\0`); big-endian IDs make byte order ID order.
//! Value: `0x01 (version) | u32 BE pair_count | (u32 BE len | field | u32 BE len | value)*`

use rill_core::{Fields, StreamId};

use crate::cf::KeyTag;
use crate::codec::{put_id, put_prefixed, tagged_prefix, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

pub(crate) fn key(stream: &[u8], id: StreamId) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::Entry, &[stream]);
    put_id(&mut out, id);
    out
}

/// Every entry of one stream.
pub(crate) fn stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::Entry, &[stream]))
}

/// Entries of one stream with `start <= id <= end`.
pub(crate) fn id_range(stream: &[u8], start: StreamId, end: StreamId) -> KeyRange {
    KeyRange::inclusive(key(stream, start), &key(stream, end))
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<(&[u8], StreamId), DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::Entry)?;
    let stream = reader.prefixed()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok((stream, id))
}

pub(crate) fn encode_value(fields: &Fields) -> Vec<u8> {
    let payload: usize = fields.iter().map(|(f, v)| 8 + f.len() + v.len()).sum();
    let mut out = Vec::with_capacity(5 + payload);
    out.push(VALUE_VERSION);
    let count = u32::try_from(fields.len()).expect("more than u32::MAX fields in one entry");
    out.extend_from_slice(&count.to_be_bytes());
    for (field, value) in fields {
        put_prefixed(&mut out, field);
        put_prefixed(&mut out, value);
    }
    assert_eq!(out.len(), 5 + payload);
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<Fields, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let count = reader.u32()? as usize;
    // Each pair takes at least 8 bytes; never trust a count from disk to size an allocation.
    let mut fields = Vec::with_capacity(count.min(reader.remaining() / 8));
    for _ in 0..count {
        let field = reader.prefixed()?.to_vec();
        let value = reader.prefixed()?.to_vec();
        fields.push((field, value));
    }
    reader.finish()?;
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, id, name};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        let key = key(b"s", StreamId::new(1, 2));
        assert_eq!(
            key,
            [
                &[0x02, 0, 0, 0, 1, b's'][..],
                &[0, 0, 0, 0, 0, 0, 0, 1],
                &[0, 0, 0, 0, 0, 0, 0, 2]
            ]
            .concat()
        );
        let value = encode_value(&vec![(b"f".to_vec(), b"vv".to_vec())]);
        assert_eq!(
            value,
            [1, 0, 0, 0, 1, 0, 0, 0, 1, b'f', 0, 0, 0, 2, b'v', b'v']
        );
        assert_eq!(encode_value(&Vec::new()), [1, 0, 0, 0, 0]);
    }

    proptest! {
        #[test]
        fn key_round_trips_and_orders_by_id(s in name(), a in id(), b in id()) {
            let encoded = key(&s, a);
            prop_assert_eq!(decode_key(&encoded), Ok((s.as_slice(), a)));
            prop_assert_eq!(a.cmp(&b), key(&s, a).cmp(&key(&s, b)));
            prop_assert!(stream_range(&s).contains(&key(&s, a)));
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(id_range(&s, lo, hi).contains(&key(&s, a)));
            prop_assert!(id_range(&s, lo, hi).contains(&key(&s, b)));
        }

        #[test]
        fn streams_never_interleave(s in name(), t in name(), a in id()) {
            prop_assume!(s != t);
            prop_assert!(!stream_range(&t).contains(&key(&s, a)));
        }

        #[test]
        fn id_range_holds_exactly_the_ids_between(s in name(), lo in id(), hi in id(), x in id()) {
            prop_assert_eq!(id_range(&s, lo, hi).contains(&key(&s, x)), lo <= x && x <= hi);
        }

        #[test]
        fn value_round_trips_strictly(fields in prop::collection::vec((name(), name()), 0..4)) {
            let bytes = encode_value(&fields);
            prop_assert_eq!(decode_value(&bytes), Ok(fields));
            assert_strict(&bytes, decode_value);
        }
    }
}
