//! The lowest pending ID of each group and of each consumer: where every PEL scan starts.
//!
//! An acknowledged entry leaves a tombstone in `pel` and `consumer_pel` until compaction drops
//! it, and a scan from the start of a group's range would step over every one of them (a work
//! queue acks millions). Scans start here instead, at the first live record, so their cost does
//! not grow with the number of entries ever acknowledged.
//!
//! Group:    Key `0x0a | u32 BE len | stream_key | u32 BE len | group`, kept in `pel`.
//! Consumer: Key `0x0b | u32 BE len | stream_key | u32 BE len | group | u32 BE len | consumer`,
//!           kept in `consumer_pel`.
//! Value:    `0x01 (version) | ms u64 BE | seq u64 BE`: the lowest ID pending (for the consumer).
//!
//! A record exists exactly when its group (consumer) has a pending entry, and holds exactly the
//! lowest such ID: a function of the state, not of its history, so replicas and digests agree
//! whatever order the entries came and went in. `Txn::put_pending` and `Txn::delete_pending`
//! keep it so: a delete of the lowest ID marks the record stale, and the txn finds the new
//! lowest once, when the record is read or at commit. The storage tests' `dump` checks the
//! records against the PEL after every case.

use std::collections::HashSet;

use crate::cf::pel_by_delivery::{self, Delivery};
use crate::cf::{consumer_pel, pel, Cf, KeyTag};
use crate::codec::{tagged_prefix, KeyRange};
use crate::error::DecodeError;

pub(crate) fn group_key(stream: &[u8], group: &[u8]) -> Vec<u8> {
    tagged_prefix(KeyTag::GroupPendingFirst, &[stream, group])
}

pub(crate) fn consumer_key(stream: &[u8], group: &[u8], consumer: &[u8]) -> Vec<u8> {
    tagged_prefix(KeyTag::ConsumerPendingFirst, &[stream, group, consumer])
}

/// Every group record of one stream.
pub(crate) fn group_stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::GroupPendingFirst, &[stream]))
}

/// Every consumer record of one stream.
pub(crate) fn consumer_stream_range(stream: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(KeyTag::ConsumerPendingFirst, &[stream]))
}

/// Every consumer record of one group.
pub(crate) fn consumer_group_range(stream: &[u8], group: &[u8]) -> KeyRange {
    KeyRange::prefix(tagged_prefix(
        KeyTag::ConsumerPendingFirst,
        &[stream, group],
    ))
}

pub(crate) use crate::codec::encode_id_value as encode_value;

pub(crate) use crate::codec::decode_id_value as decode_value;

/// The records a PEL implies, from its `pel` and `consumer_pel` records given in key order (so
/// the first key under a group or consumer holds its lowest ID): how a store written before
/// these records existed, or an image, gets them. With values ([`Derive::pending`]) it also
/// derives the delivery order (`pel_by_delivery`) and its first records, for the groups its
/// ordered records named first ([`Derive::ordered`]).
#[derive(Default)]
pub(crate) struct Derive {
    records: Vec<(Cf, Vec<u8>, Vec<u8>)>,
    /// The ordered records seen: groups that keep their delivery order.
    ordered: HashSet<Vec<u8>>,
    last_group: Option<Vec<u8>>,
    /// Whether the group `last_group` names keeps its delivery order.
    last_group_ordered: bool,
    last_consumer: Option<Vec<u8>>,
    /// The group being read and its earliest delivery so far.
    delivery_first: Option<(Vec<u8>, Delivery)>,
}

impl Derive {
    /// The group's lowest-pending-ID record, from the first `pel` key under it.
    fn group_first(&mut self, found: &pel::PendingKey<'_>) {
        let record = group_key(found.stream, found.group);
        if self.last_group.as_ref() != Some(&record) {
            self.records
                .push((Cf::Pel, record.clone(), encode_value(found.id)));
            self.last_group = Some(record);
            self.last_group_ordered = self
                .ordered
                .contains(&pel_by_delivery::ordered_key(found.stream, found.group));
        }
    }

    /// An ordered record (`pel_by_delivery`): its group's pending entries, given after it,
    /// get delivery records.
    pub(crate) fn ordered(&mut self, key: &[u8]) -> Result<(), DecodeError> {
        pel_by_delivery::decode_ordered_key(key)?;
        self.ordered.insert(key.to_vec());
        Ok(())
    }

    /// A `pel` record's key and value: its delivery record as well if its group keeps the
    /// order.
    pub(crate) fn pending(&mut self, key: &[u8], value: &[u8]) -> Result<(), DecodeError> {
        let found = pel::decode_key(key)?;
        self.group_first(&found);
        let entry = pel::decode_value(value)?;
        if !self.last_group_ordered {
            return Ok(());
        }
        let at = Delivery {
            ms: entry.delivery_ms,
            id: found.id,
        };
        self.delivery(found.stream, found.group, at);
        Ok(())
    }

    fn delivery(&mut self, stream: &[u8], group: &[u8], at: Delivery) {
        self.records.push((
            Cf::Pel,
            pel_by_delivery::key(stream, group, at),
            pel_by_delivery::VALUE.to_vec(),
        ));
        let record = pel_by_delivery::first_key(stream, group);
        match &mut self.delivery_first {
            Some((group, first)) if *group == record => *first = (*first).min(at),
            _ => {
                self.flush_delivery_first();
                self.delivery_first = Some((record, at));
            }
        }
    }

    fn flush_delivery_first(&mut self) {
        if let Some((record, first)) = self.delivery_first.take() {
            self.records
                .push((Cf::Pel, record, pel_by_delivery::encode_first(first)));
        }
    }

    pub(crate) fn index_key(&mut self, key: &[u8]) -> Result<(), DecodeError> {
        let found = consumer_pel::decode_key(key)?;
        let record = consumer_key(found.stream, found.group, found.consumer);
        if self.last_consumer.as_ref() != Some(&record) {
            self.records
                .push((Cf::ConsumerPel, record.clone(), encode_value(found.id)));
            self.last_consumer = Some(record);
        }
        Ok(())
    }

    /// How many finished records wait to be taken.
    pub(crate) fn ready(&self) -> usize {
        self.records.len()
    }

    /// The finished records so far (a group's earliest delivery comes once the group ends).
    pub(crate) fn drain(&mut self) -> Vec<(Cf, Vec<u8>, Vec<u8>)> {
        std::mem::take(&mut self.records)
    }

    /// Every record derived (and not drained).
    pub(crate) fn into_records(mut self) -> Vec<(Cf, Vec<u8>, Vec<u8>)> {
        self.flush_delivery_first();
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::codec::strategy::{assert_strict, id};
    use proptest::prelude::*;
    use rill_core::StreamId;

    #[test]
    fn layout_is_pinned() {
        assert_eq!(
            group_key(b"s", b"g"),
            b"\x0a\0\0\0\x01s\0\0\0\x01g".to_vec()
        );
        assert_eq!(
            consumer_key(b"s", b"g", b"c"),
            b"\x0b\0\0\0\x01s\0\0\0\x01g\0\0\0\x01c".to_vec()
        );
        assert_eq!(
            encode_value(StreamId::new(1, 2)),
            [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
        );
    }

    #[test]
    fn records_sort_after_the_entries_they_summarise() {
        // A scan of a group's or a consumer's pending range never meets these records.
        let max = StreamId::MAX;
        assert!(pel::key(b"s", b"g", max) < group_key(b"", b""));
        assert!(consumer_pel::key(b"s", b"g", b"c", max) < consumer_key(b"", b"", b""));
        assert!(group_stream_range(b"s").contains(&group_key(b"s", b"g")));
        assert!(!group_stream_range(b"s").contains(&group_key(b"s2", b"g")));
        assert!(consumer_group_range(b"s", b"g").contains(&consumer_key(b"s", b"g", b"c")));
        assert!(!consumer_group_range(b"s", b"g").contains(&consumer_key(b"s", b"h", b"c")));
        assert!(consumer_stream_range(b"s").contains(&consumer_key(b"s", b"h", b"c")));
    }

    proptest! {
        #[test]
        fn value_round_trips(id in id()) {
            let bytes = encode_value(id);
            prop_assert_eq!(decode_value(&bytes), Ok(id));
            assert_strict(&bytes, decode_value);
        }
    }
}
