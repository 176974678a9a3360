//! Stream entry IDs: `<ms>-<seq>`, two unsigned 64-bit integers ordered lexicographically.
//!
//! Parsing follows `t_stream.c` (`streamGenericParseIDOrReply`): a missing sequence part takes a
//! default chosen by the caller (0 for a range start, `u64::MAX` for a range end), `-` and `+` are
//! the smallest and largest IDs where the command allows them, and anything else is
//! `ERR Invalid stream ID specified as stream command argument`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stream entry ID. Ordering is `(ms, seq)`, which is also the byte order of [`StreamId::to_be_bytes`].
#[derive(
    Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize,
)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// Big-endian bytes: byte order equals numeric order.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be_bytes(bytes: [u8; 16]) -> StreamId {
        let (ms, seq) = bytes.split_at(8);
        StreamId {
            ms: u64::from_be_bytes(ms.try_into().expect("8 bytes")),
            seq: u64::from_be_bytes(seq.try_into().expect("8 bytes")),
        }
    }

    /// The next ID, or `None` at `MAX`.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, or `None` at `MIN`.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// `ms-seq`, as `Display` writes it, without the formatting machinery: a reply holds one
    /// for every entry it returns.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ID_TEXT_BYTES_MAX);
        push_decimal(&mut out, self.ms);
        out.push(b'-');
        push_decimal(&mut out, self.seq);
        out
    }
}

/// The longest `ms-seq`: two 20-digit numbers and the dash.
const ID_TEXT_BYTES_MAX: usize = 41;

/// Appends `n` in decimal, without allocating (the reply encoder's lengths and integers too).
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Parses an unsigned decimal the way Redis's `string2ull` does: digits only, no sign, no
/// leading `+`, no overflow.
pub fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(value)
}

/// Parses a signed decimal the way Redis's `string2ll` does.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(bytes).ok()?;
    if s.is_empty() || s.starts_with('+') || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    if s.starts_with("-0") {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Parses `ms[-seq]`; a missing `seq` takes `missing_seq`. `-`/`+` are not accepted here.
pub fn parse_id_with_default(bytes: &[u8], missing_seq: u64) -> Option<StreamId> {
    match bytes.iter().position(|&b| b == b'-') {
        None => Some(StreamId::new(parse_u64(bytes)?, missing_seq)),
        Some(dash) => {
            let ms = parse_u64(&bytes[..dash])?;
            let seq = parse_u64(&bytes[dash + 1..])?;
            Some(StreamId::new(ms, seq))
        }
    }
}

/// Parses a full ID where `seq` may be omitted (then 0). Used by XDEL, XACK, XCLAIM, XSETID, ...
pub fn parse_id(bytes: &[u8]) -> Option<StreamId> {
    parse_id_with_default(bytes, 0)
}

/// A bound of a range (`XRANGE`, `XPENDING`, `XAUTOCLAIM` start): `-`, `+`, `(` exclusive prefix.
/// Returns the inclusive bound, or `Ok(None)` when an exclusive bound leaves an empty range.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BoundError {
    /// Malformed ID.
    Invalid,
    /// `(` applied to an ID that has no neighbour in that direction.
    ExclusiveOverflow,
}

/// Parses a range bound. `exclusive_allowed` is false for commands (XPENDING before 6.2 style
/// callers) that do not accept `(`.
pub fn parse_range_bound(
    bytes: &[u8],
    side: Bound,
    exclusive_allowed: bool,
) -> Result<StreamId, BoundError> {
    let missing_seq = match side {
        Bound::Start => 0,
        Bound::End => u64::MAX,
    };
    match bytes {
        b"-" => return Ok(StreamId::MIN),
        b"+" => return Ok(StreamId::MAX),
        _ => {}
    }
    if exclusive_allowed {
        if let Some(rest) = bytes.strip_prefix(b"(") {
            let id = parse_id_with_default(rest, missing_seq).ok_or(BoundError::Invalid)?;
            let moved = match side {
                Bound::Start => id.next(),
                Bound::End => id.prev(),
            };
            return moved.ok_or(BoundError::ExclusiveOverflow);
        }
    }
    parse_id_with_default(bytes, missing_seq).ok_or(BoundError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_forms() {
        assert_eq!(parse_id(b"5"), Some(StreamId::new(5, 0)));
        assert_eq!(parse_id(b"5-3"), Some(StreamId::new(5, 3)));
        assert_eq!(
            parse_id(b"18446744073709551615-18446744073709551615"),
            Some(StreamId::MAX)
        );
        assert_eq!(parse_id(b"18446744073709551616-0"), None);
        assert_eq!(parse_id(b"-1"), None);
        assert_eq!(parse_id(b"1-"), None);
        assert_eq!(parse_id(b"+1"), None);
        assert_eq!(parse_id(b"1-2-3"), None);
        assert_eq!(parse_id(b""), None);
        assert_eq!(
            parse_range_bound(b"5", Bound::End, true),
            Ok(StreamId::new(5, u64::MAX))
        );
        assert_eq!(
            parse_range_bound(b"(5-1", Bound::Start, true),
            Ok(StreamId::new(5, 2))
        );
        // Redis's oddity, kept: a missing sequence is filled in before `(` moves the bound, so
        // `(5` as an end is 5-18446744073709551614 and still covers 5-3.
        assert_eq!(
            parse_range_bound(b"(5", Bound::End, true),
            Ok(StreamId::new(5, u64::MAX - 1))
        );
        assert_eq!(
            parse_range_bound(b"(5", Bound::Start, true),
            Ok(StreamId::new(5, 1))
        );
        assert_eq!(
            parse_range_bound(b"(-", Bound::Start, true),
            Err(BoundError::Invalid)
        );
        assert_eq!(
            parse_range_bound(b"(+", Bound::End, true),
            Err(BoundError::Invalid)
        );
        assert_eq!(
            parse_range_bound(b"(0-0", Bound::End, true),
            Err(BoundError::ExclusiveOverflow)
        );
        assert_eq!(
            parse_range_bound(b"(5", Bound::Start, false),
            Err(BoundError::Invalid)
        );
    }

    proptest! {
        #[test]
        fn be_bytes_round_trip_and_order(a in any::<(u64, u64)>(), b in any::<(u64, u64)>()) {
            let (x, y) = (StreamId::new(a.0, a.1), StreamId::new(b.0, b.1));
            prop_assert_eq!(StreamId::from_be_bytes(x.to_be_bytes()), x);
            prop_assert_eq!(x.cmp(&y), x.to_be_bytes().cmp(&y.to_be_bytes()));
            prop_assert_eq!(parse_id(x.to_string().as_bytes()), Some(x));
        }

        #[test]
        fn to_bytes_writes_what_display_writes(ms in any::<u64>(), seq in any::<u64>()) {
            let id = StreamId::new(ms, seq);
            prop_assert_eq!(id.to_bytes(), id.to_string().into_bytes());
        }
    }

    #[test]
    fn to_bytes_at_the_edges() {
        for (id, text) in [
            (StreamId::MIN, "0-0"),
            (StreamId::new(9, 10), "9-10"),
            (StreamId::new(1_700_000_000_000, 99), "1700000000000-99"),
            (StreamId::MAX, "18446744073709551615-18446744073709551615"),
        ] {
            assert_eq!(id.to_bytes(), text.as_bytes());
            assert!(id.to_bytes().len() <= ID_TEXT_BYTES_MAX);
        }
    }
}
