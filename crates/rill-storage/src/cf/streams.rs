//! Stream metadata: one record per stream, listed in stream-key byte order (KEYS, SCAN).
//!
//! Key:   `0x01 | stream_key`
//!        The stream key is raw, not length-prefixed: nothing follows it, and raw bytes keep
//!        the family in stream-key byte order. A point delete removes exactly one stream; the
//!        cascades over the other families use their length-prefixed layouts instead.
//! Value: `0x01 (version) | length u64 | last_id | first_id | max_deleted_id | entries_added u64`
//!        with each id `ms u64 | seq u64`, all big-endian: 65 bytes.

use rill_core::StreamMeta;

use crate::cf::KeyTag;
use crate::codec::{put_id, put_u64, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

const VALUE_BYTES: usize = 1 + 8 + 16 * 3 + 8;

pub(crate) fn key(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + stream.len());
    out.push(KeyTag::Stream as u8);
    out.extend_from_slice(stream);
    out
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<&[u8], DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::Stream)?;
    Ok(reader.rest())
}

/// Stream keys strictly after `after` (all of them when `None`).
pub(crate) fn keys_after(after: Option<&[u8]>) -> KeyRange {
    let all = KeyRange::prefix(vec![KeyTag::Stream as u8]);
    match after {
        None => all,
        Some(after) => KeyRange {
            start: crate::codec::successor(&key(after)),
            end: all.end,
        },
    }
}

pub(crate) fn encode_value(meta: &StreamMeta) -> Vec<u8> {
    let mut out = Vec::with_capacity(VALUE_BYTES);
    out.push(VALUE_VERSION);
    put_u64(&mut out, meta.length);
    put_id(&mut out, meta.last_id);
    put_id(&mut out, meta.first_id);
    put_id(&mut out, meta.max_deleted_id);
    put_u64(&mut out, meta.entries_added);
    assert_eq!(out.len(), VALUE_BYTES);
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<StreamMeta, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let meta = StreamMeta {
        length: reader.u64()?,
        last_id: reader.id()?,
        first_id: reader.id()?,
        max_deleted_id: reader.id()?,
        entries_added: reader.u64()?,
    };
    reader.finish()?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, id, name};
    use proptest::prelude::*;

    fn meta() -> impl Strategy<Value = StreamMeta> {
        (any::<u64>(), id(), id(), id(), any::<u64>()).prop_map(
            |(length, last_id, first_id, max_deleted_id, entries_added)| StreamMeta {
                length,
                last_id,
                first_id,
                max_deleted_id,
                entries_added,
            },
        )
    }

    #[test]
    fn layout_is_pinned() {
        assert_eq!(key(b"ab"), vec![0x01, b'a', b'b']);
        let meta = StreamMeta {
            length: 1,
            entries_added: 2,
            ..StreamMeta::default()
        };
        let bytes = encode_value(&meta);
        assert_eq!(bytes[..9], [1, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(bytes[57..], [0, 0, 0, 0, 0, 0, 0, 2]);
    }

    proptest! {
        #[test]
        fn key_round_trips_and_keeps_byte_order(a in name(), b in name()) {
            let encoded = key(&a);
            prop_assert_eq!(decode_key(&encoded), Ok(a.as_slice()));
            prop_assert_eq!(a.cmp(&b), key(&a).cmp(&key(&b)));
            prop_assert!(keys_after(None).contains(&key(&a)));
            prop_assert_eq!(keys_after(Some(&a)).contains(&key(&b)), b > a);
        }

        #[test]
        fn value_round_trips_strictly(meta in meta()) {
            let bytes = encode_value(&meta);
            prop_assert_eq!(decode_value(&bytes), Ok(meta));
            assert_strict(&bytes, decode_value);
        }
    }
}
