//! Idempotent producers: what the engine remembers of each (`rill_core::ProducerState`), an
//! index by last write time for expiry, and their count (for `Limits::producers_max`).
//!
//! Keys:   `0x07 | producer`                      -> `0x01 (version) | last_seq u64 | last_id | touched_ms u64`
//!         `0x08 | touched_ms u64 | producer`     -> (empty)
//!         `0x09`                                 -> `0x01 (version) | count u64`
//!         `0x0c`                                 -> `0x01 (version) | stamp_ms u64 | idle_ms u64`
//! The producer id is raw (last part of each key). All integers big-endian.

use rill_core::ProducerState;

use crate::cf::KeyTag;
use crate::codec::{put_id, put_u64, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

const VALUE_BYTES: usize = 1 + 8 + 16 + 8;

pub(crate) fn key(producer: &[u8]) -> Vec<u8> {
    let mut out = vec![KeyTag::Producer as u8];
    out.extend_from_slice(producer);
    out
}

pub(crate) fn idle_key(touched_ms: u64, producer: &[u8]) -> Vec<u8> {
    let mut out = vec![KeyTag::ProducerIdle as u8];
    put_u64(&mut out, touched_ms);
    out.extend_from_slice(producer);
    out
}

pub(crate) const COUNT_KEY: [u8; 1] = [KeyTag::ProducerCount as u8];
/// The `rill_core::ProducerClock`.
pub(crate) const CLOCK_KEY: [u8; 1] = [KeyTag::ProducerClock as u8];

/// Index records of producers touched before `before_ms`.
pub(crate) fn idle_before(before_ms: u64) -> KeyRange {
    KeyRange {
        start: vec![KeyTag::ProducerIdle as u8],
        end: idle_key(before_ms, &[]),
    }
}

pub(crate) fn decode_idle_key(bytes: &[u8]) -> Result<(u64, &[u8]), DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::ProducerIdle)?;
    let touched_ms = reader.u64()?;
    Ok((touched_ms, reader.rest()))
}

pub(crate) fn encode_value(state: &ProducerState) -> Vec<u8> {
    let mut out = Vec::with_capacity(VALUE_BYTES);
    out.push(VALUE_VERSION);
    put_u64(&mut out, state.last_seq);
    put_id(&mut out, state.last_id);
    put_u64(&mut out, state.touched_ms);
    assert_eq!(out.len(), VALUE_BYTES);
    out
}

pub(crate) fn decode_value(bytes: &[u8]) -> Result<ProducerState, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let state = ProducerState {
        last_seq: reader.u64()?,
        last_id: reader.id()?,
        touched_ms: reader.u64()?,
    };
    reader.finish()?;
    Ok(state)
}

pub(crate) use crate::codec::encode_u64_value as encode_count;

pub(crate) use crate::codec::decode_u64_value as decode_count;

pub(crate) fn encode_clock(clock: &rill_core::ProducerClock) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    put_u64(&mut out, clock.stamp_ms);
    put_u64(&mut out, clock.idle_ms);
    out
}

pub(crate) fn decode_clock(bytes: &[u8]) -> Result<rill_core::ProducerClock, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let clock = rill_core::ProducerClock {
        stamp_ms: reader.u64()?,
        idle_ms: reader.u64()?,
    };
    reader.finish()?;
    Ok(clock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, id, name};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(key(b"p"), [0x07, b'p']);
        assert_eq!(idle_key(2, b"p"), [0x08, 0, 0, 0, 0, 0, 0, 0, 2, b'p']);
        assert_eq!(COUNT_KEY, [0x09]);
        assert_eq!(encode_count(3), [1, 0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(CLOCK_KEY, [0x0c]);
        let clock = rill_core::ProducerClock {
            stamp_ms: 4,
            idle_ms: 5,
        };
        assert_eq!(
            encode_clock(&clock),
            [1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5]
        );
    }

    proptest! {
        #[test]
        fn idle_index_orders_by_time(a in any::<u64>(), b in any::<u64>(), p in name(), q in name()) {
            prop_assume!(a != b);
            prop_assert_eq!(a.cmp(&b), idle_key(a, &p).cmp(&idle_key(b, &q)));
            let encoded = idle_key(a, &p);
            prop_assert_eq!(decode_idle_key(&encoded), Ok((a, p.as_slice())));
            prop_assert_eq!(idle_before(b).contains(&encoded), a < b);
        }

        #[test]
        fn value_round_trips_strictly(seq in any::<u64>(), last in id(), ms in any::<u64>()) {
            let state = ProducerState { last_seq: seq, last_id: last, touched_ms: ms };
            let bytes = encode_value(&state);
            prop_assert_eq!(decode_value(&bytes), Ok(state));
            assert_strict(&bytes, decode_value);
            assert_strict(&encode_count(seq), decode_count);
            let clock = rill_core::ProducerClock { stamp_ms: seq, idle_ms: ms };
            prop_assert_eq!(decode_clock(&encode_clock(&clock)), Ok(clock));
            assert_strict(&encode_clock(&clock), decode_clock);
        }
    }
}
