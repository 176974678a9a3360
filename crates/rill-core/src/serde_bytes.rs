//! Byte strings encoded as byte strings. serde encodes a `Vec<u8>` as a sequence of `u8`,
//! one call per byte: a 1 MiB field took tens of milliseconds to encode into a log entry in a
//! debug build, longer than the heartbeat interval that bounds an AppendEntries. Encoded with
//! `serialize_bytes`, it is one copy. In postcard (the log's codec) both forms are the same
//! bytes (a length, then the bytes), so entries written before read the same.

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serializer};

/// `#[serde(with = "crate::serde_bytes::bytes")]` on a `Vec<u8>`.
pub mod bytes {
    use super::*;

    pub fn serialize<S: Serializer>(
        bytes: &impl AsRef<[u8]>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes.as_ref())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(ByteBuf)
    }
}

/// `#[serde(with = "crate::serde_bytes::pairs")]` on a `Vec<(Vec<u8>, Vec<u8>)>`.
pub mod pairs {
    use serde::Deserialize;

    use super::*;

    #[derive(serde::Serialize, Deserialize)]
    struct Pair(
        #[serde(with = "super::bytes")] Vec<u8>,
        #[serde(with = "super::bytes")] Vec<u8>,
    );

    #[derive(serde::Serialize)]
    struct PairRef<'a>(
        #[serde(with = "super::bytes")] &'a Vec<u8>,
        #[serde(with = "super::bytes")] &'a Vec<u8>,
    );

    pub fn serialize<S: Serializer>(
        pairs: &[(Vec<u8>, Vec<u8>)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(pairs.len()))?;
        for (field, value) in pairs {
            seq.serialize_element(&PairRef(field, value))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<crate::store::Fields, D::Error> {
        let pairs = Vec::<Pair>::deserialize(deserializer)?;
        Ok(pairs.into_iter().map(|Pair(f, v)| (f, v)).collect())
    }
}

struct ByteBuf;

impl<'de> Visitor<'de> for ByteBuf {
    type Value = Vec<u8>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a byte string")
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        // At most what the encoding claims, and never more than is there.
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(byte) = seq.next_element()? {
            bytes.push(byte);
        }
        Ok(bytes)
    }
}
