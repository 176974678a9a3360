//! Opaque values with a checksum, for records whose bytes belong to the replication layer (log
//! entries, votes, applied log ids, memberships). This crate cannot decode them, so it checks
//! that what it reads is exactly what was written under that key.
//!
//! Value: `0x01 (version) | checksum u64 BE | payload`, where the checksum is FNV-1a 64 over
//!        the record's key then the payload. Hashing the key too means a value copied under
//!        another key fails the check.

use crate::codec::{put_u64, Reader, VALUE_VERSION};
use crate::digest::Fnv64;
use crate::error::DecodeError;

const HEADER_BYTES: usize = 1 + 8;

fn checksum(key: &[u8], payload: &[u8]) -> u64 {
    let mut hash = Fnv64::new();
    // Every key passed here has a fixed length per family, so no framing is needed.
    hash.write(key);
    hash.write(payload);
    hash.finish()
}

pub(crate) fn encode(key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.push(VALUE_VERSION);
    put_u64(&mut out, checksum(key, payload));
    out.extend_from_slice(payload);
    assert_eq!(out.len(), HEADER_BYTES + payload.len());
    out
}

pub(crate) fn decode<'a>(key: &[u8], bytes: &'a [u8]) -> Result<&'a [u8], DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let stored = reader.u64()?;
    let payload = reader.rest();
    let computed = checksum(key, payload);
    if stored != computed {
        return Err(DecodeError::Checksum { stored, computed });
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        let bytes = encode(&[0x50], b"ab");
        assert_eq!(bytes.len(), 11);
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[9..], b"ab");
    }

    proptest! {
        #[test]
        fn round_trips_and_refuses_any_changed_byte(
            key in prop::collection::vec(any::<u8>(), 1..10),
            payload in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let bytes = encode(&key, &payload);
            prop_assert_eq!(decode(&key, &bytes), Ok(payload.as_slice()));
            for i in 0..bytes.len() {
                let mut flipped = bytes.clone();
                flipped[i] ^= 0x01;
                prop_assert!(decode(&key, &flipped).is_err(), "flip at {} accepted", i);
            }
            let mut other_key = key.clone();
            other_key[0] ^= 0x80;
            prop_assert!(decode(&other_key, &bytes).is_err());
            prop_assert!(decode(&key, &bytes[..bytes.len().min(8)]).is_err());
        }
    }
}
