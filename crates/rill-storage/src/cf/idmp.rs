//! Redis 8.6's IDMP state (`rill_core::Store::idmp_meta` and the remembered iids), kept in the
//! `producers` family: per stream, its settings and counters, each remembered iid found by
//! producer and iid, the same in ID order per producer (the oldest is evicted past
//! `idmp-maxsize`) and per stream (the oldest expires first), and each producer's count.
//!
//! Keys:   `0x10 | len | stream`                     -> `0x01 | duration_s | maxsize | pids | iids | added | duplicates` (u64 each)
//!         `0x11 | len | stream | len | pid | iid`    -> `0x01 | id`
//!         `0x12 | len | stream | len | pid | id`     -> `0x01 | iid`
//!         `0x13 | len | stream | id`                 -> `0x01 | len | pid | iid`
//!         `0x14 | len | stream | pid`                -> `0x01 | count u64`
//! A stream's records of each tag are contiguous, so removing a stream (or XCFGSET) is one range
//! per tag. `id` is `ms u64 BE | seq u64 BE`; the last part of a key is raw.

use rill_core::{IdmpMeta, IdmpRecord, StreamId};

use crate::cf::KeyTag;
use crate::codec::{put_id, put_prefixed, put_u64, tagged_prefix, KeyRange, Reader, VALUE_VERSION};
use crate::error::DecodeError;

const META_BYTES: usize = 1 + 6 * 8;

pub(crate) fn meta_key(stream: &[u8]) -> Vec<u8> {
    tagged_prefix(KeyTag::IdmpMeta, &[stream])
}

pub(crate) fn iid_key(stream: &[u8], pid: &[u8], iid: &[u8]) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::IdmpIid, &[stream, pid]);
    out.extend_from_slice(iid);
    out
}

pub(crate) fn by_producer_key(stream: &[u8], pid: &[u8], id: StreamId) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::IdmpByProducer, &[stream, pid]);
    put_id(&mut out, id);
    out
}

pub(crate) fn by_id_key(stream: &[u8], id: StreamId) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::IdmpById, &[stream]);
    put_id(&mut out, id);
    out
}

pub(crate) fn count_key(stream: &[u8], pid: &[u8]) -> Vec<u8> {
    let mut out = tagged_prefix(KeyTag::IdmpCount, &[stream]);
    out.extend_from_slice(pid);
    out
}

/// One producer's records in ID order.
pub(crate) fn producer_range(stream: &[u8], pid: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::IdmpByProducer, &[stream, pid]))
}

/// The stream's records in ID order.
pub(crate) fn stream_order_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::IdmpById, &[stream]))
}

/// Every record of the stream but its settings, one range per tag.
pub(crate) fn stream_ranges(stream: &[u8]) -> [KeyRange; 4] {
    [
        KeyTag::IdmpIid,
        KeyTag::IdmpByProducer,
        KeyTag::IdmpById,
        KeyTag::IdmpCount,
    ]
    .map(|tag| KeyRange::prefix(tagged_prefix(tag, &[stream])))
}

pub(crate) fn decode_by_producer_key(bytes: &[u8]) -> Result<StreamId, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::IdmpByProducer)?;
    reader.prefixed()?;
    reader.prefixed()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok(id)
}

pub(crate) fn decode_by_id_key(bytes: &[u8]) -> Result<StreamId, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_tag(KeyTag::IdmpById)?;
    reader.prefixed()?;
    let id = reader.id()?;
    reader.finish()?;
    Ok(id)
}

pub(crate) fn encode_meta(meta: &IdmpMeta) -> Vec<u8> {
    let mut out = Vec::with_capacity(META_BYTES);
    out.push(VALUE_VERSION);
    for value in [
        meta.duration_s,
        meta.maxsize,
        meta.pids_tracked,
        meta.iids_tracked,
        meta.iids_added,
        meta.iids_duplicates,
    ] {
        put_u64(&mut out, value);
    }
    assert_eq!(out.len(), META_BYTES);
    out
}

pub(crate) fn decode_meta(bytes: &[u8]) -> Result<IdmpMeta, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let meta = IdmpMeta {
        duration_s: reader.u64()?,
        maxsize: reader.u64()?,
        pids_tracked: reader.u64()?,
        iids_tracked: reader.u64()?,
        iids_added: reader.u64()?,
        iids_duplicates: reader.u64()?,
    };
    reader.finish()?;
    Ok(meta)
}

pub(crate) use crate::codec::encode_id_value as encode_id;

pub(crate) use crate::codec::decode_id_value as decode_id;

pub(crate) fn encode_iid(iid: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + iid.len());
    out.push(VALUE_VERSION);
    out.extend_from_slice(iid);
    out
}

pub(crate) fn decode_iid(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    Ok(reader.rest().to_vec())
}

/// The stream-order record's value: the producer and the iid.
pub(crate) fn encode_owner(record: &IdmpRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 4 + record.pid.len() + record.iid.len());
    out.push(VALUE_VERSION);
    put_prefixed(&mut out, &record.pid);
    out.extend_from_slice(&record.iid);
    out
}

pub(crate) fn decode_owner(id: StreamId, bytes: &[u8]) -> Result<IdmpRecord, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.expect_version()?;
    let pid = reader.prefixed()?.to_vec();
    Ok(IdmpRecord {
        id,
        pid,
        iid: reader.rest().to_vec(),
    })
}

pub(crate) use crate::codec::encode_u64_value as encode_count;

pub(crate) use crate::codec::decode_u64_value as decode_count;

/// A key's parts after its tag: the stream, then the rest as the tag lays it out (test dumps).
#[cfg(test)]
pub(crate) fn split_key(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), DecodeError> {
    let mut reader = Reader::new(bytes);
    let tag = reader.u8()?;
    let stream = reader.prefixed()?;
    Ok((tag, stream, reader.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::strategy::{assert_strict, id, name};
    use proptest::prelude::*;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(meta_key(b"s"), [0x10, 0, 0, 0, 1, b's']);
        assert_eq!(
            iid_key(b"s", b"p", b"i"),
            [0x11, 0, 0, 0, 1, b's', 0, 0, 0, 1, b'p', b'i']
        );
        let id = StreamId::new(2, 3);
        assert_eq!(
            by_id_key(b"s", id),
            [0x13, 0, 0, 0, 1, b's', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3]
        );
        assert_eq!(count_key(b"s", b"p"), [0x14, 0, 0, 0, 1, b's', b'p']);
        assert_eq!(encode_meta(&IdmpMeta::default()).len(), META_BYTES);
    }

    proptest! {
        #[test]
        fn records_round_trip_and_order_by_id(
            s in name(), p in name(), i in name(), a in id(), b in id(), n in any::<u64>(),
        ) {
            prop_assume!(a != b);
            prop_assert_eq!(a.cmp(&b), by_id_key(&s, a).cmp(&by_id_key(&s, b)));
            prop_assert_eq!(a.cmp(&b), by_producer_key(&s, &p, a).cmp(&by_producer_key(&s, &p, b)));
            prop_assert_eq!(decode_by_id_key(&by_id_key(&s, a)), Ok(a));
            prop_assert_eq!(decode_by_producer_key(&by_producer_key(&s, &p, a)), Ok(a));
            prop_assert!(producer_range(&s, &p).contains(&by_producer_key(&s, &p, a)));
            prop_assert!(stream_order_range(&s).contains(&by_id_key(&s, a)));
            let record = IdmpRecord { id: a, pid: p.clone(), iid: i.clone() };
            prop_assert_eq!(decode_owner(a, &encode_owner(&record)), Ok(record));
            prop_assert_eq!(decode_iid(&encode_iid(&i)), Ok(i.clone()));
            prop_assert_eq!(decode_id(&encode_id(a)), Ok(a));
            assert_strict(&encode_id(a), decode_id);
            assert_strict(&encode_count(n), decode_count);
            let meta = IdmpMeta { duration_s: n, iids_added: n / 2, ..IdmpMeta::default() };
            prop_assert_eq!(decode_meta(&encode_meta(&meta)), Ok(meta));
            assert_strict(&encode_meta(&meta), decode_meta);
            for range in stream_ranges(&s) {
                prop_assert!(!range.contains(&meta_key(&s)));
            }
            prop_assert!(stream_ranges(&s)[0].contains(&iid_key(&s, &p, &i)));
            prop_assert!(stream_ranges(&s)[3].contains(&count_key(&s, &p)));
        }
    }
}
