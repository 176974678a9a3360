//! Byte-level building blocks shared by every key and value layout.
//!
//! Integers are big-endian and fixed-width so that byte order is numeric order. A variable-length
//! part that has something after it is prefixed with its length as a `u32` BE, so no prefix of
//! one record can be confused with another record's prefix (`"a"` vs `"a\0"`). A variable-length
//! part at the very end of a key is written raw, which keeps byte order equal to name order.
//!
//! [`Reader`] checks every length before it slices, and [`Reader::finish`] refuses trailing bytes:
//! undecodable bytes are a [`DecodeError`], never a panic.

use rill_core::StreamId;

use crate::cf::KeyTag;
use crate::error::DecodeError;

/// Version byte that opens every value. A new layout gets a new number; old ones stay readable
/// or are refused by name.
pub(crate) const VALUE_VERSION: u8 = 1;

/// Appends `bytes` preceded by its length as a `u32` BE.
pub(crate) fn put_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    // Names are capped far below this by `Limits::name_bytes_max`; a longer one is a bug.
    let len = u32::try_from(bytes.len()).expect("length-prefixed part exceeds u32::MAX bytes");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_be_bytes());
}

pub(crate) fn put_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.to_be_bytes());
}

/// Appends an optional `u64` as a fixed-width flag byte plus value (`0` when absent), so the
/// encoding of a record has one length whatever it holds.
pub(crate) fn put_opt_u64(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        None => {
            out.push(0);
            put_u64(out, 0);
        }
        Some(value) => {
            out.push(1);
            put_u64(out, value);
        }
    }
}

/// A value that is one `u64` (a count, a stamp): the version byte, then the number.
pub(crate) fn encode_u64_value(value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(9);
    out.push(VALUE_VERSION);
    put_u64(&mut out, value);
    out
}

pub(crate) fn decode_u64_value(bytes: &[u8]) -> Result<u64, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let value = reader.u64()?;
    reader.finish()?;
    Ok(value)
}

/// A value that is one stream ID: the version byte, then the ID.
pub(crate) fn encode_id_value(id: StreamId) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    out.push(VALUE_VERSION);
    put_id(&mut out, id);
    out
}

pub(crate) fn decode_id_value(bytes: &[u8]) -> Result<StreamId, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok(id)
}

/// The longest fixed-width tail a key builder appends to a [`tagged_prefix`]: a delivery time
/// and an entry ID (`pel_by_delivery`).
const KEY_SUFFIX_BYTES_MAX: usize = 8 + 16;

/// `tag | u32 len | name`: the shared prefix of every record under one stream (or under one
/// group, when called again with the group name appended).
pub(crate) fn tagged_prefix(tag: KeyTag, parts: &[&[u8]]) -> Vec<u8> {
    // Room for the parts and for what key builders append after them (IDs, times), so a key
    // is built in one allocation.
    let parts_bytes: usize = parts.iter().map(|part| 4 + part.len()).sum();
    let mut out = Vec::with_capacity(1 + parts_bytes + KEY_SUFFIX_BYTES_MAX);
    out.push(tag as u8);
    for part in parts {
        put_prefixed(&mut out, part);
    }
    out
}

/// The smallest byte string greater than every string that starts with `prefix`.
///
/// Every prefix we build starts with a tag byte below `0xff`, so the result always exists.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    unreachable!("prefix {prefix:02x?} is all 0xff bytes; every key prefix starts with a tag");
}

/// The smallest byte string greater than `key`: an exclusive bound for an inclusive end.
pub(crate) fn successor(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.extend_from_slice(key);
    out.push(0);
    out
}

/// A half-open key range `[start, end)` within one column family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub(crate) start: Vec<u8>,
    pub(crate) end: Vec<u8>,
}

impl KeyRange {
    /// Every key that starts with `prefix`.
    pub(crate) fn prefix(prefix: Vec<u8>) -> KeyRange {
        let end = prefix_end(&prefix);
        KeyRange { start: prefix, end }
    }

    /// Every key of a family: each opens with a tag below `0xff`.
    pub(crate) fn family() -> KeyRange {
        KeyRange {
            start: Vec::new(),
            end: vec![0xff],
        }
    }

    /// Keys from `first` to `last`, both included.
    pub(crate) fn inclusive(first: Vec<u8>, last: &[u8]) -> KeyRange {
        KeyRange {
            start: first,
            end: successor(last),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        self.start.as_slice() <= key && key < self.end.as_slice()
    }
}

/// A cursor over bytes read from disk. Every read is length-checked.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < len {
            return Err(DecodeError::Truncated {
                needed: len,
                remaining: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let head = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn id(&mut self) -> Result<StreamId, DecodeError> {
        Ok(StreamId::from_be_bytes(self.array()?))
    }

    /// Reads a part written by [`put_prefixed`].
    pub(crate) fn prefixed(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()?;
        // u32 always fits in usize on the 32- and 64-bit targets we build for.
        self.take(len as usize)
    }

    /// Reads a part written by [`put_opt_u64`]. Only the canonical form is accepted, so one
    /// record has exactly one encoding and digests of equal states are equal.
    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, DecodeError> {
        let flag = self.u8()?;
        let value = self.u64()?;
        match (flag, value) {
            (0, 0) => Ok(None),
            (0, _) => Err(DecodeError::NonCanonical(
                "absent optional with a nonzero value",
            )),
            (1, value) => Ok(Some(value)),
            (found, _) => Err(DecodeError::BadFlag { found }),
        }
    }

    /// Everything left: for a raw name at the end of a key.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn expect_tag(&mut self, expected: KeyTag) -> Result<(), DecodeError> {
        let found = self.u8()?;
        if found != expected as u8 {
            return Err(DecodeError::BadTag {
                found,
                expected: expected as u8,
            });
        }
        Ok(())
    }

    pub(crate) fn expect_version(&mut self) -> Result<(), DecodeError> {
        let found = self.u8()?;
        if found != VALUE_VERSION {
            return Err(DecodeError::BadVersion { found });
        }
        Ok(())
    }

    /// Refuses trailing bytes: a record that decodes with bytes left over is not the record we
    /// think it is.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if !self.bytes.is_empty() {
            return Err(DecodeError::Trailing {
                extra: self.bytes.len(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    //! Proptest strategies biased towards the bytes that break naive layouts.

    use proptest::prelude::*;
    use rill_core::StreamId;

    /// Short names over an alphabet with `0x00`, `0xff` and a letter, plus arbitrary bytes.
    pub(crate) fn name() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![Just(0u8), Just(b'a'), Just(0xff), any::<u8>()];
        prop::collection::vec(byte, 0..6)
    }

    pub(crate) fn id() -> impl Strategy<Value = StreamId> {
        let part = prop_oneof![0u64..3, Just(u64::MAX), any::<u64>()];
        (part.clone(), part).prop_map(|(ms, seq)| StreamId::new(ms, seq))
    }

    pub(crate) fn opt_u64() -> impl Strategy<Value = Option<u64>> {
        prop_oneof![Just(None), any::<u64>().prop_map(Some)]
    }

    /// Every strict prefix of a value encoding and the encoding plus one byte must fail to
    /// decode: a value's length is fully determined by its contents.
    pub(crate) fn assert_strict<T>(
        bytes: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, crate::error::DecodeError>,
    ) {
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "prefix of {cut} bytes decoded"
            );
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(
            decode(&longer).is_err(),
            "value with a trailing byte decoded"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_skips_trailing_ff() {
        assert_eq!(prefix_end(&[1, 2, 3]), vec![1, 2, 4]);
        assert_eq!(prefix_end(&[1, 0xff, 0xff]), vec![2]);
    }

    #[test]
    fn reader_refuses_short_and_long_input() {
        assert_eq!(
            Reader::new(&[0, 0, 0]).u32(),
            Err(DecodeError::Truncated {
                needed: 4,
                remaining: 3
            })
        );
        assert_eq!(
            Reader::new(&[0, 0, 0, 9, 1]).prefixed(),
            Err(DecodeError::Truncated {
                needed: 9,
                remaining: 1
            })
        );
        let mut reader = Reader::new(&[7, 8]);
        assert_eq!(reader.u8(), Ok(7));
        assert_eq!(reader.finish(), Err(DecodeError::Trailing { extra: 1 }));
    }

    #[test]
    fn opt_u64_accepts_only_canonical_forms() {
        let mut none = vec![];
        put_opt_u64(&mut none, None);
        assert_eq!(Reader::new(&none).opt_u64(), Ok(None));
        let mut some = vec![];
        put_opt_u64(&mut some, Some(5));
        assert_eq!(Reader::new(&some).opt_u64(), Ok(Some(5)));
        let absent_with_value = [0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(Reader::new(&absent_with_value).opt_u64().is_err());
        let bad_flag = [2, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Reader::new(&bad_flag).opt_u64(),
            Err(DecodeError::BadFlag { found: 2 })
        );
    }
}
