//! The column families and the tag byte that opens every key.
//!
//! ```text
//!   streams       0x01 | stream_key                                   -> StreamMeta
//!                 0x0d | stream_key                                   -> change stamp u64
//!                 0x0e                                                -> stamp counter u64
//!   entries       0x02 | len | stream_key | id                        -> Fields
//!   groups        0x03 | len | stream_key | group                     -> GroupMeta
//!                 0x17 | len | stream_key | len | group                -> (empty): keeps 0x15
//!   consumers     0x04 | len | stream_key | len | group | consumer    -> ConsumerMeta
//!   pel           0x05 | len | stream_key | len | group | id          -> PendingEntry
//!   consumer_pel  0x06 | len | stream_key | len | group | len | consumer | id -> (empty)
//!   pel           0x0a | len | stream_key | len | group                -> lowest pending id
//!   pel           0x15 | len | stream_key | len | group | delivery_ms u64 | id -> (empty)
//!   pel           0x16 | len | stream_key | len | group                -> lowest (delivery_ms, id)
//!   consumer_pel  0x0b | len | stream_key | len | group | len | consumer -> lowest pending id
//!   producers     0x07 | producer                                     -> ProducerState
//!                 0x08 | touched_ms u64 | producer                    -> (empty)
//!                 0x09                                                -> count u64
//!                 0x10..0x14 | len | stream_key | ...                 -> IDMP (`idmp.rs`)
//!   node          0x40                                                -> applied index
//!   node          0x41 | node_meta u8                                 -> checked opaque bytes
//!   raft_log      0x50 | index u64                                    -> checked opaque bytes
//!   raft_meta     0x51 | log_meta u8                                  -> checked opaque bytes
//!   raft_meta     0x52                                              -> store format u32
//! ```
//!
//! `len` is a `u32` BE, `id` is `ms u64 BE | seq u64 BE`. Each module states its layout.
//! Tags are distinct across families, so a key filed in the wrong family fails to decode.

pub(crate) mod consumer_pel;
pub(crate) mod consumers;
pub(crate) mod entries;
pub(crate) mod format;
pub(crate) mod groups;
pub(crate) mod idmp;
pub(crate) mod node;
pub(crate) mod node_meta;
pub(crate) mod pel;
pub(crate) mod pel_by_delivery;
pub(crate) mod pending_first;
pub(crate) mod producers;
pub(crate) mod raft_log;
pub(crate) mod raft_meta;
pub(crate) mod streams;
pub(crate) mod versions;

/// First byte of every key. Persisted: values never change and are never reused.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyTag {
    Stream = 0x01,
    Entry = 0x02,
    Group = 0x03,
    Consumer = 0x04,
    Pending = 0x05,
    ConsumerPending = 0x06,
    Producer = 0x07,
    ProducerIdle = 0x08,
    ProducerCount = 0x09,
    GroupPendingFirst = 0x0a,
    ConsumerPendingFirst = 0x0b,
    ProducerClock = 0x0c,
    KeyVersion = 0x0d,
    VersionCounter = 0x0e,
    IdmpMeta = 0x10,
    IdmpIid = 0x11,
    IdmpByProducer = 0x12,
    IdmpById = 0x13,
    IdmpCount = 0x14,
    PendingByDelivery = 0x15,
    DeliveryFirst = 0x16,
    DeliveryOrdered = 0x17,
    AppliedIndex = 0x40,
    NodeMeta = 0x41,
    RaftLog = 0x50,
    RaftMeta = 0x51,
    Format = 0x52,
}

/// A column family. `STATE` are the ones that hold stream state (and feed the digest); `Node`
/// holds bookkeeping about this replica's state (applied index, applied log id, membership);
/// `RaftLog` and `RaftMeta` hold the replicated log and its vote, which are not state.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Cf {
    Streams,
    Entries,
    Groups,
    Consumers,
    Pel,
    ConsumerPel,
    Node,
    RaftLog,
    RaftMeta,
    Producers,
}

impl Cf {
    /// Column families holding stream state, in digest order.
    pub(crate) const STATE: [Cf; 7] = [
        Cf::Streams,
        Cf::Entries,
        Cf::Groups,
        Cf::Consumers,
        Cf::Pel,
        Cf::ConsumerPel,
        Cf::Producers,
    ];
    pub(crate) const ALL: [Cf; 10] = [
        Cf::Streams,
        Cf::Entries,
        Cf::Groups,
        Cf::Consumers,
        Cf::Pel,
        Cf::ConsumerPel,
        Cf::Node,
        Cf::RaftLog,
        Cf::RaftMeta,
        Cf::Producers,
    ];

    /// The RocksDB name. Persisted: never rename.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cf::Streams => "streams",
            Cf::Entries => "entries",
            Cf::Groups => "groups",
            Cf::Consumers => "consumers",
            Cf::Pel => "pel",
            Cf::ConsumerPel => "consumer_pel",
            Cf::Node => "node",
            Cf::RaftLog => "raft_log",
            Cf::RaftMeta => "raft_meta",
            Cf::Producers => "producers",
        }
    }

    /// Position in [`Cf::ALL`], for per-family arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_names_are_pinned() {
        let tags = [
            KeyTag::Stream,
            KeyTag::Entry,
            KeyTag::Group,
            KeyTag::Consumer,
            KeyTag::Pending,
            KeyTag::ConsumerPending,
            KeyTag::Producer,
            KeyTag::ProducerIdle,
            KeyTag::ProducerCount,
            KeyTag::GroupPendingFirst,
            KeyTag::ConsumerPendingFirst,
            KeyTag::ProducerClock,
            KeyTag::KeyVersion,
            KeyTag::VersionCounter,
            KeyTag::IdmpMeta,
            KeyTag::IdmpIid,
            KeyTag::IdmpByProducer,
            KeyTag::IdmpById,
            KeyTag::IdmpCount,
            KeyTag::PendingByDelivery,
            KeyTag::DeliveryFirst,
            KeyTag::DeliveryOrdered,
            KeyTag::AppliedIndex,
            KeyTag::NodeMeta,
            KeyTag::RaftLog,
            KeyTag::RaftMeta,
            KeyTag::Format,
        ];
        assert_eq!(
            tags.map(|t| t as u8),
            [
                1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x10, 0x11, 0x12, 0x13,
                0x14, 0x15, 0x16, 0x17, 0x40, 0x41, 0x50, 0x51, 0x52
            ]
        );
        let names = Cf::ALL.map(Cf::name);
        assert_eq!(
            names,
            [
                "streams",
                "entries",
                "groups",
                "consumers",
                "pel",
                "consumer_pel",
                "node",
                "raft_log",
                "raft_meta",
                "producers"
            ]
        );
        for (i, cf) in Cf::ALL.iter().enumerate() {
            assert_eq!(cf.index(), i);
        }
    }
}
