//! Typed requests, parsed from Redis argument vectors with Redis's own error texts.
//!
//! Parsing checks everything that does not depend on state: arity, options, IDs, numbers. What
//! does depend on state (a missing group, an ID below the stream's top) is the engine's job.
//! The gRPC front end builds the same [`Command`] values directly.
//!
//! This module holds the types; `parse` turns argument vectors into them, one family of
//! commands per file.

mod parse;

use serde::{Deserialize, Serialize};

use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{Fields, Store};

pub use parse::{
    command_names, parse, subcommand_arities, SCAN_COUNT_DEFAULT, XINFO_FULL_COUNT_DEFAULT,
};
use parse::{err, Parsed};

pub type Key = Vec<u8>;

/// How XADD picks the new entry's ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddId {
    /// `*`: from the stamped time and the stream's last ID.
    Auto,
    /// `<ms>-*`: the given milliseconds, next sequence.
    AutoSeq(u64),
    /// A full ID.
    Explicit(StreamId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrimStrategy {
    MaxLen(u64),
    MinId(StreamId),
}

/// A trimming clause (`MAXLEN|MINID [=|~] threshold [LIMIT n] [KEEPREF|DELREF|ACKED]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Trim {
    pub strategy: TrimStrategy,
    /// `~`: remove only whole nodes of [`crate::engine::TRIM_NODE_ENTRIES`] entries.
    pub approx: bool,
    /// Most entries to remove; 0 means no limit. Only with `~`.
    pub limit: u64,
    pub policy: RefPolicy,
}

impl<'de> Deserialize<'de> for Trim {
    /// A clause logged before reference policies existed (format 2 and older) reads as
    /// `KEEPREF`, which is what it meant.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Trim, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "Trim")]
        struct Current {
            strategy: TrimStrategy,
            approx: bool,
            limit: u64,
            policy: RefPolicy,
        }
        #[derive(Deserialize)]
        #[serde(rename = "Trim")]
        struct WithoutPolicy {
            strategy: TrimStrategy,
            approx: bool,
            limit: u64,
        }
        if crate::format::decoding() <= crate::format::WITHOUT_REF_POLICY {
            let old = WithoutPolicy::deserialize(deserializer)?;
            return Ok(Trim {
                strategy: old.strategy,
                approx: old.approx,
                limit: old.limit,
                policy: RefPolicy::KeepRef,
            });
        }
        let t = Current::deserialize(deserializer)?;
        Ok(Trim {
            strategy: t.strategy,
            approx: t.approx,
            limit: t.limit,
            policy: t.policy,
        })
    }
}

/// What removing an entry does about the consumer groups that still refer to it (Redis 8.2's
/// `KEEPREF|DELREF|ACKED`, on XDELEX, XACKDEL, XTRIM and XADD's trimming).
///
/// An entry is *referenced* while some group has not been delivered it yet (its last-delivered
/// ID is below the entry's) or some group's pending-entries list holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefPolicy {
    /// Remove the entry; pending entries naming it stay, dangling (XDEL's way).
    #[default]
    KeepRef,
    /// Remove the entry and every group's pending entry for it.
    DelRef,
    /// Remove the entry only if it is not referenced.
    Acked,
}

/// Where a read starts, per stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadFrom {
    /// Entries strictly after this ID (XREAD), or the consumer's history after it (XREADGROUP).
    After(StreamId),
    /// `$`: entries after the stream's last ID when the command runs.
    Last,
    /// `+`: the last entry.
    LastEntry,
    /// `>`: entries never delivered to the group.
    New,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XRead {
    /// `None`: no COUNT.
    pub count: Option<u64>,
    pub block_ms: Option<u64>,
    pub streams: Vec<(Key, ReadFrom)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct XReadGroup {
    pub group: Key,
    pub consumer: Key,
    pub count: Option<u64>,
    pub block_ms: Option<u64>,
    pub noack: bool,
    pub streams: Vec<(Key, ReadFrom)>,
    /// `CLAIM min-idle-time` (Redis 8.4): pending entries idle this long are delivered again,
    /// before new ones, each with its idle time and delivery count.
    pub claim_min_idle_ms: Option<u64>,
}

impl<'de> Deserialize<'de> for XReadGroup {
    /// A read logged before CLAIM existed (format 3 and older) reads as one without it.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<XReadGroup, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "XReadGroup")]
        struct Current {
            group: Key,
            consumer: Key,
            count: Option<u64>,
            block_ms: Option<u64>,
            noack: bool,
            streams: Vec<(Key, ReadFrom)>,
            claim_min_idle_ms: Option<u64>,
        }
        #[derive(Deserialize)]
        #[serde(rename = "XReadGroup")]
        struct WithoutClaim {
            group: Key,
            consumer: Key,
            count: Option<u64>,
            block_ms: Option<u64>,
            noack: bool,
            streams: Vec<(Key, ReadFrom)>,
        }
        if crate::format::decoding() <= crate::format::WITHOUT_CLAIM {
            let old = WithoutClaim::deserialize(deserializer)?;
            return Ok(XReadGroup {
                group: old.group,
                consumer: old.consumer,
                count: old.count,
                block_ms: old.block_ms,
                noack: old.noack,
                streams: old.streams,
                claim_min_idle_ms: None,
            });
        }
        let r = Current::deserialize(deserializer)?;
        Ok(XReadGroup {
            group: r.group,
            consumer: r.consumer,
            count: r.count,
            block_ms: r.block_ms,
            noack: r.noack,
            streams: r.streams,
            claim_min_idle_ms: r.claim_min_idle_ms,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupStart {
    Id(StreamId),
    /// `$`
    Last,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum XGroup {
    Create {
        key: Key,
        group: Key,
        start: GroupStart,
        mkstream: bool,
        entries_read: Option<u64>,
    },
    SetId {
        key: Key,
        group: Key,
        start: GroupStart,
        entries_read: Option<u64>,
    },
    Destroy {
        key: Key,
        group: Key,
    },
    CreateConsumer {
        key: Key,
        group: Key,
        consumer: Key,
    },
    DelConsumer {
        key: Key,
        group: Key,
        consumer: Key,
    },
    Help,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRange {
    pub min_idle_ms: u64,
    pub start: StreamId,
    pub end: StreamId,
    pub count: u64,
    pub consumer: Option<Key>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XClaim {
    pub key: Key,
    pub group: Key,
    pub consumer: Key,
    pub min_idle_ms: u64,
    pub ids: Vec<StreamId>,
    /// `IDLE ms`, applied relative to the stamped time.
    pub idle_ms: Option<i64>,
    /// `TIME unix-ms`.
    pub time_ms: Option<i64>,
    pub retry_count: Option<i64>,
    pub force: bool,
    pub justid: bool,
    pub last_id: Option<StreamId>,
}

/// XNACK (Redis 8.8): releases pending entries back to their group, held by no consumer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XNack {
    pub key: Key,
    pub group: Key,
    pub mode: NackMode,
    /// In the order named, repeats included (each counts).
    pub ids: Vec<StreamId>,
    /// `RETRYCOUNT n`: the delivery count to leave, whatever the mode.
    pub retry_count: Option<u64>,
    /// `FORCE`: an entry of the stream that is not pending is made pending, released.
    pub force: bool,
}

/// What XNACK does to a released entry's delivery count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NackMode {
    /// Takes back this delivery: one less (not below 0).
    Silent,
    /// The delivery counted as an attempt: unchanged.
    Fail,
    /// Never to succeed: the highest count (a dead-letter mark).
    Fatal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XAutoClaim {
    pub key: Key,
    pub group: Key,
    pub consumer: Key,
    pub min_idle_ms: u64,
    pub start: StreamId,
    pub count: u64,
    pub justid: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum XInfo {
    Stream { key: Key, full: Option<u64> },
    Groups { key: Key },
    Consumers { key: Key, group: Key },
    Help,
}

/// What a [`Malformed`] request answers when a key or group it names is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Missing {
    /// `:0` (XDEL, XACK).
    Zero,
    /// `NOGROUP No such key '<k>' or consumer group '<g>'` (XCLAIM).
    NoGroup,
    /// The NOGROUP text of XREADGROUP.
    NoGroupRead,
    /// XGROUP's "requires the key to exist", or its NOGROUP for a missing group.
    XGroup,
    /// An array of this many `-1`s, one per ID named (XDELEX, XACKDEL).
    EachNotFound(u64),
    /// `ERR no such key` (XCFGSET).
    NoSuchKey,
}

/// Malformed arguments to a command that, in Redis, looks up its key (and group) before it
/// parses them: a missing key or group wins over the syntax error. Executing it changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// Keys looked up in order; for XREADGROUP, the streams up to the one with the bad ID.
    pub keys: Vec<Key>,
    pub group: Option<Key>,
    pub missing: Missing,
    /// The error text when everything named exists.
    pub error: String,
}

pub(crate) fn malformed(
    keys: &[Vec<u8>],
    group: Option<&Vec<u8>>,
    missing: Missing,
    error: Reply,
) -> Command {
    let error = match error {
        Reply::Error(text) => text,
        other => unreachable!("parse errors are error replies, got {other:?}"),
    };
    Command::Malformed(Malformed {
        keys: keys.to_vec(),
        group: group.cloned(),
        missing,
        error,
    })
}

/// A request the stream engine executes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    XAdd {
        key: Key,
        nomkstream: bool,
        trim: Option<Trim>,
        id: AddId,
        #[serde(with = "crate::serde_bytes::pairs")]
        fields: Fields,
    },
    XRange {
        key: Key,
        start: StreamId,
        end: StreamId,
        count: Option<u64>,
        rev: bool,
    },
    XLen {
        key: Key,
    },
    XDel {
        key: Key,
        ids: Vec<StreamId>,
    },
    XTrim {
        key: Key,
        trim: Trim,
    },
    XRead(XRead),
    XGroup(XGroup),
    XReadGroup(XReadGroup),
    XAck {
        key: Key,
        group: Key,
        ids: Vec<StreamId>,
    },
    XPending {
        key: Key,
        group: Key,
        range: Option<PendingRange>,
    },
    XClaim(XClaim),
    XAutoClaim(XAutoClaim),
    Malformed(Malformed),
    XInfo(XInfo),
    XSetId {
        key: Key,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted_id: Option<StreamId>,
    },
    Del {
        keys: Vec<Key>,
    },
    Exists {
        keys: Vec<Key>,
    },
    Type {
        key: Key,
    },
    Keys {
        pattern: Key,
    },
    Scan {
        cursor: u64,
        pattern: Option<Key>,
        count: u64,
        type_filter: Option<Key>,
    },
    /// An XADD that a producer may retry without appending twice (not a Redis command: gRPC's
    /// `XAddRequest.producer` makes it). Built by [`Command::produce`].
    Produce(Box<Produce>),
    /// EXEC: the commands queued after MULTI, run one after another in one log entry. None
    /// runs when a watched key changed after WATCH read it; the reply is then a null array.
    Exec(Box<Transaction>),
    /// WATCH's read: each key's change stamp ([`Store::key_version`]), `Nil` for a missing key.
    KeyVersions {
        keys: Vec<Key>,
    },
    /// FLUSHALL and FLUSHDB (there is one database): removes every stream.
    FlushAll,
    /// XDELEX (Redis 8.2): XDEL with a [`RefPolicy`], one answer per ID.
    XDelEx {
        key: Key,
        policy: RefPolicy,
        ids: Vec<StreamId>,
    },
    /// XACKDEL (Redis 8.2): XACK, then removes each acknowledged entry as `policy` allows.
    XAckDel {
        key: Key,
        group: Key,
        policy: RefPolicy,
        ids: Vec<StreamId>,
    },
    /// XADD with `IDMP pid iid` or `IDMPAUTO pid` (Redis 8.6).
    Idempotent(Box<Idempotent>),
    /// XCFGSET (Redis 8.6): a stream's IDMP settings; `None` leaves one as it is.
    XCfgSet {
        key: Key,
        duration_s: Option<u64>,
        maxsize: Option<u64>,
    },
    /// XNACK (Redis 8.8). Last: the log's variant numbers of the others stay as they were.
    XNack(XNack),
}

/// An XADD tagged `iid` by producer `pid` (Redis 8.6's IDMP). While the stream remembers the
/// pair (`idmp-duration` seconds by the entry's ID, the producer's last `idmp-maxsize` iids), a
/// repeat answers the ID the first got and appends nothing. IDMPAUTO's iid is a hash of the
/// fields, computed when parsing, so the log carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotent {
    #[serde(with = "crate::serde_bytes::bytes")]
    pub pid: Vec<u8>,
    #[serde(with = "crate::serde_bytes::bytes")]
    pub iid: Vec<u8>,
    /// Always a [`Command::XAdd`] with an ID of `*`.
    pub add: Command,
}

/// XADD number `seq` of producer `producer`. The state machine remembers each producer's last
/// sequence number and the ID it got: a repeat answers that ID and appends nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Produce {
    pub producer: Key,
    pub seq: u64,
    /// Always a [`Command::XAdd`].
    pub add: Command,
}

/// A transaction, as EXEC hands it to the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Each watched key with the stamp WATCH read (`None`: the key did not exist). EXEC runs
    /// only if every one still reads the same.
    pub watched: Vec<(Key, Option<u64>)>,
    pub commands: Vec<Command>,
}

impl Command {
    /// Wraps an XADD with a producer identity; any other command is an error reply.
    pub fn produce(producer: Key, seq: u64, add: Command) -> Parsed {
        if !matches!(add, Command::XAdd { .. }) {
            return Err(err("ERR only XADD takes a producer id"));
        }
        if producer.is_empty() {
            return Err(err("ERR the producer id must not be empty"));
        }
        Ok(Command::Produce(Box::new(Produce { producer, seq, add })))
    }

    /// Whether the command changes state (and so must go through the single write path).
    pub fn is_write(&self) -> bool {
        use Command::*;
        match self {
            XAdd { .. }
            | XDel { .. }
            | XTrim { .. }
            | XReadGroup(_)
            | XAck { .. }
            | XClaim(_)
            | XAutoClaim(_)
            | XNack(_) => true,
            XSetId { .. } | Del { .. } | Produce(_) | Exec(_) | FlushAll => true,
            XDelEx { .. } | XAckDel { .. } | Idempotent(_) | XCfgSet { .. } => true,
            XGroup(g) => !matches!(g, self::XGroup::Help),
            XRange { .. } | XLen { .. } | XRead(_) | XPending { .. } | XInfo(_) => false,
            Exists { .. } | Type { .. } | Keys { .. } | Scan { .. } | Malformed(_) => false,
            KeyVersions { .. } => false,
        }
    }

    /// The stream keys the command reads or writes.
    pub fn keys(&self) -> Vec<Key> {
        use Command::*;
        match self {
            XAdd { key, .. }
            | XRange { key, .. }
            | XLen { key }
            | XDel { key, .. }
            | XTrim { key, .. } => vec![key.clone()],
            XAck { key, .. } | XPending { key, .. } | XSetId { key, .. } | Type { key } => {
                vec![key.clone()]
            }
            XDelEx { key, .. } | XAckDel { key, .. } | XCfgSet { key, .. } => vec![key.clone()],
            Idempotent(i) => i.add.keys(),
            XClaim(c) => vec![c.key.clone()],
            XAutoClaim(c) => vec![c.key.clone()],
            XNack(n) => vec![n.key.clone()],
            Malformed(m) => m.keys.clone(),
            XRead(r) => r.streams.iter().map(|(k, _)| k.clone()).collect(),
            XReadGroup(r) => r.streams.iter().map(|(k, _)| k.clone()).collect(),
            XGroup(g) => match g {
                self::XGroup::Create { key, .. } | self::XGroup::SetId { key, .. } => {
                    vec![key.clone()]
                }
                self::XGroup::Destroy { key, .. } => vec![key.clone()],
                self::XGroup::CreateConsumer { key, .. }
                | self::XGroup::DelConsumer { key, .. } => vec![key.clone()],
                self::XGroup::Help => Vec::new(),
            },
            XInfo(i) => match i {
                self::XInfo::Stream { key, .. } | self::XInfo::Groups { key } => vec![key.clone()],
                self::XInfo::Consumers { key, .. } => vec![key.clone()],
                self::XInfo::Help => Vec::new(),
            },
            Del { keys } | Exists { keys } | KeyVersions { keys } => keys.clone(),
            Keys { .. } | Scan { .. } | FlushAll => Vec::new(),
            Produce(p) => p.add.keys(),
            Exec(t) => {
                let watched = t.watched.iter().map(|(key, _)| key.clone());
                watched
                    .chain(t.commands.iter().flat_map(Command::keys))
                    .collect()
            }
        }
    }

    /// `Some` for XREAD/XREADGROUP with BLOCK (0: no timeout). Only a read that may wait for new
    /// entries blocks: XREADGROUP with a history ID answers at once, as in Redis.
    pub fn block_ms(&self) -> Option<u64> {
        match self {
            Command::XRead(r) => r.block_ms,
            Command::XReadGroup(r) if r.streams.iter().all(|(_, from)| *from == ReadFrom::New) => {
                r.block_ms
            }
            _ => None,
        }
    }

    /// Before a blocking read waits: `$` becomes the stream's current last ID and `+` the ID
    /// before the last entry, so re-running the command after a wake-up keeps its target.
    pub fn resolve_for_blocking<S: Store>(&mut self, store: &S) {
        if let Command::XRead(r) = self {
            for (key, from) in &mut r.streams {
                *from = crate::engine::resolve_read_from(store, key, *from);
            }
        }
    }
}
