//! Change stamps for WATCH (`rill_core::Store::key_version`), kept in the `streams` family
//! beside the streams they stamp: one record per stamped stream, and the counter stamps are
//! drawn from.
//!
//! Keys:   `0x0d | stream_key`   -> `0x01 (version) | stamp u64`
//!         `0x0e`                -> `0x01 (version) | counter u64`
//! The stream key is raw (last part of the key). Integers big-endian.

use crate::cf::KeyTag;

pub(crate) fn key(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + stream.len());
    out.push(KeyTag::KeyVersion as u8);
    out.extend_from_slice(stream);
    out
}

#[cfg(test)]
pub(crate) fn decode_key(bytes: &[u8]) -> Result<&[u8], crate::error::DecodeError> {
    let mut reader = crate::codec::Reader::new(bytes);
    reader.expect_tag(KeyTag::KeyVersion)?;
    Ok(reader.rest())
}

pub(crate) const COUNTER_KEY: [u8; 1] = [KeyTag::VersionCounter as u8];

/// A stamp or the counter: both are one `u64`.
pub(crate) use crate::codec::encode_u64_value as encode_value;

pub(crate) use crate::codec::decode_u64_value as decode_value;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, name};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(key(b"s"), [0x0d, b's']);
        assert_eq!(COUNTER_KEY, [0x0e]);
        assert_eq!(encode_value(3), [1, 0, 0, 0, 0, 0, 0, 0, 3]);
    }

    proptest! {
        #[test]
        fn round_trips(stream in name(), stamp in any::<u64>()) {
            let encoded = key(&stream);
            prop_assert_eq!(decode_key(&encoded), Ok(stream.as_slice()));
            prop_assert_eq!(decode_value(&encode_value(stamp)), Ok(stamp));
            assert_strict(&encode_value(stamp), decode_value);
        }
    }
}
