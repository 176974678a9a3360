//! A naive reference model of Redis streams, and a generator of command scripts for it.
//!
//! ```text
//!   proptest ──▶ Vec<(advance_ms, Op)> ──┬─▶ Op::argv ──▶ rill_core::parse + execute ──▶ Reply
//!                                        └─▶ Model::apply ─────────────────────────────▶ Reply
//!                                                                 (the two must be equal)
//! ```
//!
//! The model is written from Redis's documented behaviour (redis.io command pages, and where
//! those are silent, what `t_stream.c` of Redis 7.2+ and a running Redis do), not from
//! `engine/`: a `BTreeMap` of streams, each a `BTreeMap` of entries and of groups, each group
//! a PEL `BTreeMap<id, Nack>` and a set of consumers. Commands are generated as typed [`Op`]s so
//! the model never parses text; [`Op::argv`] renders the same op as the argument vector the
//! engine parses. Some generated arguments are invalid on purpose ([`IdArg::Raw`], negative
//! numbers, `$` in XREADGROUP, ...).
//!
//! Shared by `crates/rill-core/tests/model.rs` (over `MemStore`) and
//! `tests/tests/model_rocksdb.rs` (over RocksDB) through `#[path]`.

// Each including crate uses a different part of this file.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rill_core::{execute, parse, Limits, Reply, Store};

// ---- known engine deviations --------------------------------------------------------------

/// Places where the engine departs from Redis. `true` makes the model copy the engine's
/// behaviour so that the property test keeps checking everything else; each is reported with
/// its script (see the module docs of the tests). Set one to `false` to see the test catch it.
pub mod deviation {
    /// Redis parses every argument of XDEL, XACK, XCLAIM, XGROUP CREATE|SETID and XREADGROUP
    /// only after looking the key (and group) up, so `XDEL missing x` answers `0`,
    /// `XACK s missing-group x` answers `0` and `XCLAIM missing g c 0 x` answers NOGROUP; the
    /// engine parses first and answers the parse error.
    pub const PARSE_BEFORE_LOOKUP: bool = false;
    /// Since Redis 7.2 (redis/redis#11099) XCLAIM creates its consumer even when it claims
    /// nothing; the engine creates it only on the first claimed entry.
    pub const XCLAIM_LAZY_CONSUMER: bool = false;
    /// `XRANGE missing - + COUNT 0` is an empty array in Redis (the key is looked up before
    /// COUNT 0 is answered with a null); the engine answers the null.
    pub const XRANGE_COUNT_ZERO_BEFORE_LOOKUP: bool = false;
    /// Redis (6.2 and later) parses XTRIM's options before it looks the key up, so
    /// `XTRIM missing SIZE 1` is a syntax error; the engine answers `0` for a missing key
    /// whatever the options.
    pub const XTRIM_LOOKUP_BEFORE_PARSE: bool = false;
    /// `XREADGROUP GROUP g c STREAMS s s > >` serves the same new entries twice in the engine
    /// (it reads every group record before serving any, so the second read works from a stale
    /// copy) and leaves the group's pending count behind its PEL, which `check_invariants`
    /// catches; Redis serves them once. While this is `true` the generator never names a key
    /// twice in one XREADGROUP.
    pub const XREADGROUP_REPEATED_KEY: bool = false;
    /// Redis checks XADD's field count before it refuses the ID 0-0, so `XADD s 0-0 f v g` is
    /// a wrong-arity error; the engine refuses the ID first.
    pub const XADD_ZERO_ID_BEFORE_ARITY: bool = false;
}

// ---- IDs ----------------------------------------------------------------------------------

pub type Id = (u64, u64);
pub const ID_MIN: Id = (0, 0);
pub const ID_MAX: Id = (u64::MAX, u64::MAX);
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn id_next(id: Id) -> Option<Id> {
    match id {
        (ms, seq) if seq < u64::MAX => Some((ms, seq + 1)),
        (ms, _) if ms < u64::MAX => Some((ms + 1, 0)),
        _ => None,
    }
}

fn id_prev(id: Id) -> Option<Id> {
    match id {
        (ms, seq) if seq > 0 => Some((ms, seq - 1)),
        (ms, _) if ms > 0 => Some((ms - 1, u64::MAX)),
        _ => None,
    }
}

fn id_text(id: Id) -> String {
    format!("{}-{}", id.0, id.1)
}

/// An ID argument as the client typed it.
#[derive(Clone, Debug)]
pub enum IdArg {
    /// `ms-seq`
    Full(u64, u64),
    /// `ms`: the sequence is filled in by the command (0, or the maximum for a range end).
    Ms(u64),
    /// Not an ID at all.
    Raw(&'static str),
    /// The n-th (modulo) of the IDs the key's stream holds or its groups have pending, chosen
    /// when the command runs ([`Model::concretize`]): random IDs would rarely hit anything.
    Pick(u8),
}

impl IdArg {
    fn text(&self) -> String {
        match self {
            IdArg::Full(ms, seq) => format!("{ms}-{seq}"),
            IdArg::Ms(ms) => ms.to_string(),
            IdArg::Raw(raw) => (*raw).to_owned(),
            IdArg::Pick(_) => panic!("IdArg::Pick must be concretized first"),
        }
    }

    fn resolve(&self, missing_seq: u64) -> Option<Id> {
        match self {
            IdArg::Full(ms, seq) => Some((*ms, *seq)),
            IdArg::Ms(ms) => Some((*ms, missing_seq)),
            IdArg::Raw(_) => None,
            IdArg::Pick(_) => panic!("IdArg::Pick must be concretized first"),
        }
    }

    fn strict(&self) -> Result<Id, Reply> {
        self.resolve(0).ok_or_else(invalid_id)
    }
}

/// A range bound: `-`, `+`, an ID, `(` and an ID.
#[derive(Clone, Debug)]
pub enum BoundArg {
    Min,
    Max,
    Incl(IdArg),
    Excl(IdArg),
}

#[derive(Clone, Copy)]
enum Side {
    Start,
    End,
}

impl BoundArg {
    fn text(&self) -> String {
        match self {
            BoundArg::Min => "-".to_owned(),
            BoundArg::Max => "+".to_owned(),
            BoundArg::Incl(id) => id.text(),
            BoundArg::Excl(id) => format!("({}", id.text()),
        }
    }

    fn resolve(&self, side: Side) -> Result<Id, Reply> {
        let missing_seq = match side {
            Side::Start => 0,
            Side::End => u64::MAX,
        };
        match self {
            BoundArg::Min => Ok(ID_MIN),
            BoundArg::Max => Ok(ID_MAX),
            BoundArg::Incl(id) => id.resolve(missing_seq).ok_or_else(invalid_id),
            BoundArg::Excl(id) => {
                // `(` followed by nothing is no exclusive bound: it is the ID "(", invalid.
                let id = id.resolve(missing_seq).ok_or_else(invalid_id)?;
                match side {
                    Side::Start => {
                        id_next(id).ok_or_else(|| err("invalid start ID for the interval"))
                    }
                    Side::End => id_prev(id).ok_or_else(|| err("invalid end ID for the interval")),
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub enum AddId {
    /// `*`
    Auto,
    /// `ms-*`
    AutoSeq(u64),
    Given(IdArg),
}

#[derive(Clone, Debug)]
pub enum ReadId {
    /// `>`
    New,
    /// `$`: meaningless for XREADGROUP, an error.
    Dollar,
    /// History after this ID.
    After(IdArg),
}

#[derive(Clone, Debug)]
pub enum GroupStart {
    Dollar,
    Id(IdArg),
}

#[derive(Clone, Debug)]
pub enum TrimArg {
    /// `MAXLEN [=] n`
    MaxLen { eq: bool, n: i64 },
    /// `MINID [=] id`
    MinId { eq: bool, id: IdArg },
    /// An unknown strategy word.
    Bogus,
}

pub type Name = &'static str;

/// One generated command.
#[derive(Clone, Debug)]
pub enum Op {
    XAdd {
        key: Name,
        nomkstream: bool,
        maxlen: Option<(bool, i64)>,
        id: AddId,
        fields: Vec<(Name, Name)>,
    },
    XRange {
        key: Name,
        rev: bool,
        start: BoundArg,
        end: BoundArg,
        count: Option<i64>,
    },
    XLen {
        key: Name,
    },
    XDel {
        key: Name,
        ids: Vec<IdArg>,
    },
    XTrim {
        key: Name,
        trim: TrimArg,
    },
    GroupCreate {
        key: Name,
        group: Name,
        start: GroupStart,
        mkstream: bool,
    },
    GroupDestroy {
        key: Name,
        group: Name,
    },
    CreateConsumer {
        key: Name,
        group: Name,
        consumer: Name,
    },
    DelConsumer {
        key: Name,
        group: Name,
        consumer: Name,
    },
    XReadGroup {
        group: Name,
        consumer: Name,
        count: Option<i64>,
        noack: bool,
        streams: Vec<(Name, ReadId)>,
    },
    XAck {
        key: Name,
        group: Name,
        ids: Vec<IdArg>,
    },
    XPendingSummary {
        key: Name,
        group: Name,
    },
    XPendingRange {
        key: Name,
        group: Name,
        idle: Option<i64>,
        start: BoundArg,
        end: BoundArg,
        count: i64,
        consumer: Option<Name>,
    },
    XClaim {
        key: Name,
        group: Name,
        consumer: Name,
        min_idle: i64,
        ids: Vec<IdArg>,
        justid: bool,
    },
    XAutoClaim {
        key: Name,
        group: Name,
        consumer: Name,
        min_idle: i64,
        start: BoundArg,
        count: Option<i64>,
        justid: bool,
    },
    Del {
        keys: Vec<Name>,
    },
    Exists {
        keys: Vec<Name>,
    },
}

impl Op {
    /// The argument vector a client would send.
    pub fn argv(&self) -> Vec<Vec<u8>> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |s: &str| a.push(s.to_owned());
        match self {
            Op::XAdd {
                key,
                nomkstream,
                maxlen,
                id,
                fields,
            } => {
                push("XADD");
                push(key);
                if *nomkstream {
                    push("NOMKSTREAM");
                }
                if let Some((eq, n)) = maxlen {
                    push("MAXLEN");
                    if *eq {
                        push("=");
                    }
                    push(&n.to_string());
                }
                match id {
                    AddId::Auto => push("*"),
                    AddId::AutoSeq(ms) => push(&format!("{ms}-*")),
                    AddId::Given(id) => push(&id.text()),
                }
                for (f, v) in fields {
                    push(f);
                    push(v);
                }
            }
            Op::XRange {
                key,
                rev,
                start,
                end,
                count,
            } => {
                if *rev {
                    push("XREVRANGE");
                    push(key);
                    push(&end.text());
                    push(&start.text());
                } else {
                    push("XRANGE");
                    push(key);
                    push(&start.text());
                    push(&end.text());
                }
                if let Some(n) = count {
                    push("COUNT");
                    push(&n.to_string());
                }
            }
            Op::XLen { key } => {
                push("XLEN");
                push(key);
            }
            Op::XDel { key, ids } => {
                push("XDEL");
                push(key);
                for id in ids {
                    push(&id.text());
                }
            }
            Op::XTrim { key, trim } => {
                push("XTRIM");
                push(key);
                match trim {
                    TrimArg::MaxLen { eq, n } => {
                        push("MAXLEN");
                        if *eq {
                            push("=");
                        }
                        push(&n.to_string());
                    }
                    TrimArg::MinId { eq, id } => {
                        push("MINID");
                        if *eq {
                            push("=");
                        }
                        push(&id.text());
                    }
                    TrimArg::Bogus => {
                        push("SIZE");
                        push("1");
                    }
                }
            }
            Op::GroupCreate {
                key,
                group,
                start,
                mkstream,
            } => {
                push("XGROUP");
                push("CREATE");
                push(key);
                push(group);
                match start {
                    GroupStart::Dollar => push("$"),
                    GroupStart::Id(id) => push(&id.text()),
                }
                if *mkstream {
                    push("MKSTREAM");
                }
            }
            Op::GroupDestroy { key, group } => {
                push("XGROUP");
                push("DESTROY");
                push(key);
                push(group);
            }
            Op::CreateConsumer {
                key,
                group,
                consumer,
            } => {
                push("XGROUP");
                push("CREATECONSUMER");
                push(key);
                push(group);
                push(consumer);
            }
            Op::DelConsumer {
                key,
                group,
                consumer,
            } => {
                push("XGROUP");
                push("DELCONSUMER");
                push(key);
                push(group);
                push(consumer);
            }
            Op::XReadGroup {
                group,
                consumer,
                count,
                noack,
                streams,
            } => {
                push("XREADGROUP");
                push("GROUP");
                push(group);
                push(consumer);
                if let Some(n) = count {
                    push("COUNT");
                    push(&n.to_string());
                }
                if *noack {
                    push("NOACK");
                }
                push("STREAMS");
                for (key, _) in streams {
                    push(key);
                }
                for (_, id) in streams {
                    match id {
                        ReadId::New => push(">"),
                        ReadId::Dollar => push("$"),
                        ReadId::After(id) => push(&id.text()),
                    }
                }
            }
            Op::XAck { key, group, ids } => {
                push("XACK");
                push(key);
                push(group);
                for id in ids {
                    push(&id.text());
                }
            }
            Op::XPendingSummary { key, group } => {
                push("XPENDING");
                push(key);
                push(group);
            }
            Op::XPendingRange {
                key,
                group,
                idle,
                start,
                end,
                count,
                consumer,
            } => {
                push("XPENDING");
                push(key);
                push(group);
                if let Some(ms) = idle {
                    push("IDLE");
                    push(&ms.to_string());
                }
                push(&start.text());
                push(&end.text());
                push(&count.to_string());
                if let Some(c) = consumer {
                    push(c);
                }
            }
            Op::XClaim {
                key,
                group,
                consumer,
                min_idle,
                ids,
                justid,
            } => {
                push("XCLAIM");
                push(key);
                push(group);
                push(consumer);
                push(&min_idle.to_string());
                for id in ids {
                    push(&id.text());
                }
                if *justid {
                    push("JUSTID");
                }
            }
            Op::XAutoClaim {
                key,
                group,
                consumer,
                min_idle,
                start,
                count,
                justid,
            } => {
                push("XAUTOCLAIM");
                push(key);
                push(group);
                push(consumer);
                push(&min_idle.to_string());
                push(&start.text());
                if let Some(n) = count {
                    push("COUNT");
                    push(&n.to_string());
                }
                if *justid {
                    push("JUSTID");
                }
            }
            Op::Del { keys } => {
                push("DEL");
                for k in keys {
                    push(k);
                }
            }
            Op::Exists { keys } => {
                push("EXISTS");
                for k in keys {
                    push(k);
                }
            }
        }
        a.into_iter().map(String::into_bytes).collect()
    }

    /// The command line, for failure messages.
    pub fn line(&self) -> String {
        self.argv()
            .iter()
            .map(|a| match a.is_empty() {
                true => "\"\"".to_owned(),
                false => String::from_utf8_lossy(a).into_owned(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

// ---- replies ------------------------------------------------------------------------------

fn err(text: &str) -> Reply {
    Reply::Error(format!("ERR {text}"))
}

fn invalid_id() -> Reply {
    err("Invalid stream ID specified as stream command argument")
}

fn bulk(s: impl AsRef<[u8]>) -> Reply {
    Reply::Bulk(s.as_ref().to_vec())
}

fn id_reply(id: Id) -> Reply {
    bulk(id_text(id))
}

fn entry_reply(id: Id, fields: &Fields) -> Reply {
    let flat = fields
        .iter()
        .flat_map(|(f, v)| [bulk(f), bulk(v)])
        .collect();
    Reply::Array(vec![id_reply(id), Reply::Array(flat)])
}

fn nogroup(key: &str, group: &str) -> Reply {
    Reply::Error(format!(
        "NOGROUP No such key '{key}' or consumer group '{group}'"
    ))
}

// ---- the model ----------------------------------------------------------------------------

/// One pending entry: who has it, when it was last delivered, how many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nack {
    pub consumer: String,
    pub delivery_ms: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupModel {
    pub last_delivered: Id,
    pub pel: BTreeMap<Id, Nack>,
    pub consumers: BTreeSet<String>,
}

impl GroupModel {
    fn pending_of(&self, consumer: &str) -> impl Iterator<Item = (&Id, &Nack)> + '_ {
        let consumer = consumer.to_owned();
        self.pel.iter().filter(move |(_, n)| n.consumer == consumer)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamModel {
    pub entries: BTreeMap<Id, Fields>,
    /// The top ID ever added; XADD must go above it.
    pub last_id: Id,
    pub groups: BTreeMap<String, GroupModel>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub streams: BTreeMap<String, StreamModel>,
}

/// `COUNT n` of XRANGE/XREADGROUP: negative is 0; `None` and 0 mean no limit where noted.
fn clamp_count(count: Option<i64>) -> Option<usize> {
    count.map(|n| n.max(0) as usize)
}

impl Model {
    /// Every ID the stream at `key` holds or any of its groups has pending, ascending.
    fn known_ids(&self, key: &str) -> Vec<Id> {
        let Some(stream) = self.streams.get(key) else {
            return Vec::new();
        };
        let pending = stream.groups.values().flat_map(|g| g.pel.keys());
        let ids: BTreeSet<Id> = stream.entries.keys().chain(pending).copied().collect();
        ids.into_iter().collect()
    }

    /// The IDs a group has pending, or failing that all the IDs the key knows.
    fn pending_ids(&self, key: &str, group: &str) -> Vec<Id> {
        let pel = self.streams.get(key).and_then(|s| s.groups.get(group));
        match pel.map(|g| g.pel.keys().copied().collect::<Vec<_>>()) {
            Some(ids) if !ids.is_empty() => ids,
            _ => self.known_ids(key),
        }
    }

    /// Replaces every [`IdArg::Pick`] in `op` with an ID from the current state. The two
    /// bounds of a range, when both are picked, come out in order.
    pub fn concretize(&self, op: &Op) -> Op {
        let choose = |known: &[Id], id: &mut IdArg| {
            if let IdArg::Pick(n) = *id {
                *id = match known.get(usize::from(n) % known.len().max(1)) {
                    Some(&(ms, seq)) => IdArg::Full(ms, seq),
                    None => IdArg::Full(u64::from(n % 3), 1),
                };
            }
        };
        let pick = |key: &str, id: &mut IdArg| choose(&self.known_ids(key), id);
        let pick_range = |key: &str, start: &mut BoundArg, end: &mut BoundArg| {
            let known = self.known_ids(key);
            if let (
                BoundArg::Incl(IdArg::Pick(a)) | BoundArg::Excl(IdArg::Pick(a)),
                BoundArg::Incl(IdArg::Pick(b)) | BoundArg::Excl(IdArg::Pick(b)),
            ) = (&mut *start, &mut *end)
            {
                let len = known.len().max(1);
                if usize::from(*a) % len > usize::from(*b) % len {
                    std::mem::swap(a, b);
                }
            }
            for bound in [start, end] {
                if let BoundArg::Incl(id) | BoundArg::Excl(id) = bound {
                    choose(&known, id);
                }
            }
        };
        let mut op = op.clone();
        match &mut op {
            Op::XAdd {
                key,
                id: AddId::Given(id),
                ..
            } => pick(key, id),
            Op::XRange {
                key, start, end, ..
            }
            | Op::XPendingRange {
                key, start, end, ..
            } => pick_range(key, start, end),
            Op::XDel { key, ids } => ids.iter_mut().for_each(|id| pick(key, id)),
            Op::XAck { key, group, ids }
            | Op::XClaim {
                key, group, ids, ..
            } => {
                let pending = self.pending_ids(key, group);
                ids.iter_mut().for_each(|id| choose(&pending, id))
            }
            Op::XTrim {
                key,
                trim: TrimArg::MinId { id, .. },
            } => pick(key, id),
            Op::GroupCreate {
                key,
                start: GroupStart::Id(id),
                ..
            } => pick(key, id),
            Op::XReadGroup { group, streams, .. } => {
                for (key, read) in streams.iter_mut() {
                    if let ReadId::After(id) = read {
                        choose(&self.pending_ids(key, group), id);
                    }
                }
            }
            Op::XAutoClaim {
                key,
                group,
                start: BoundArg::Incl(id) | BoundArg::Excl(id),
                ..
            } => choose(&self.pending_ids(key, group), id),
            _ => {}
        }
        op
    }

    pub fn apply(&mut self, op: &Op, now_ms: u64) -> Reply {
        let argv = op.argv();
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        let min_argc = match name.as_str() {
            "xadd" => 5,
            "xclaim" | "xautoclaim" => 6,
            _ => 2,
        };
        if argv.len() < min_argc {
            return err(&format!("wrong number of arguments for '{name}' command"));
        }
        match op {
            Op::XAdd {
                key,
                nomkstream,
                maxlen,
                id,
                fields,
            } => self.xadd(key, *nomkstream, *maxlen, id, fields, now_ms),
            Op::XRange {
                key,
                rev,
                start,
                end,
                count,
            } => self.xrange(key, *rev, start, end, *count),
            Op::XLen { key } => {
                Reply::Int(self.streams.get(*key).map_or(0, |s| s.entries.len()) as i64)
            }
            Op::XDel { key, ids } => self.xdel(key, ids),
            Op::XTrim { key, trim } => self.xtrim(key, trim),
            Op::GroupCreate {
                key,
                group,
                start,
                mkstream,
            } => self.group_create(key, group, start, *mkstream),
            Op::GroupDestroy { key, group } => {
                let Some(stream) = self.streams.get_mut(*key) else {
                    return needs_key();
                };
                Reply::Int(stream.groups.remove(*group).is_some() as i64)
            }
            Op::CreateConsumer {
                key,
                group,
                consumer,
            } => match self.group_for_xgroup(key, group) {
                Err(reply) => reply,
                Ok(g) => Reply::Int(g.consumers.insert((*consumer).to_owned()) as i64),
            },
            Op::DelConsumer {
                key,
                group,
                consumer,
            } => match self.group_for_xgroup(key, group) {
                Err(reply) => reply,
                Ok(g) => {
                    if !g.consumers.remove(*consumer) {
                        return Reply::Int(0);
                    }
                    let before = g.pel.len();
                    g.pel.retain(|_, n| n.consumer != *consumer);
                    Reply::Int((before - g.pel.len()) as i64)
                }
            },
            Op::XReadGroup {
                group,
                consumer,
                count,
                noack,
                streams,
            } => self.xreadgroup(group, consumer, *count, *noack, streams, now_ms),
            Op::XAck { key, group, ids } => self.xack(key, group, ids),
            Op::XPendingSummary { key, group } => self.xpending_summary(key, group),
            Op::XPendingRange {
                key,
                group,
                idle,
                start,
                end,
                count,
                consumer,
            } => self.xpending_range(key, group, *idle, start, end, *count, *consumer, now_ms),
            Op::XClaim {
                key,
                group,
                consumer,
                min_idle,
                ids,
                justid,
            } => self.xclaim(key, group, consumer, *min_idle, ids, *justid, now_ms),
            Op::XAutoClaim {
                key,
                group,
                consumer,
                min_idle,
                start,
                count,
                justid,
            } => self.xautoclaim(
                key, group, consumer, *min_idle, start, *count, *justid, now_ms,
            ),
            Op::Del { keys } => {
                let removed = keys.iter().filter(|k| self.streams.remove(**k).is_some());
                Reply::Int(removed.count() as i64)
            }
            Op::Exists { keys } => {
                let present = keys.iter().filter(|k| self.streams.contains_key(**k));
                Reply::Int(present.count() as i64)
            }
        }
    }

    fn xadd(
        &mut self,
        key: &str,
        nomkstream: bool,
        maxlen: Option<(bool, i64)>,
        id: &AddId,
        fields: &[(Name, Name)],
        now_ms: u64,
    ) -> Reply {
        if maxlen.is_some_and(|(_, n)| n < 0) {
            return err("The MAXLEN argument must be >= 0.");
        }
        let given = match id {
            AddId::Given(id) => match id.strict() {
                Ok(id) => Some(id),
                Err(reply) => return reply,
            },
            _ => None,
        };
        if deviation::XADD_ZERO_ID_BEFORE_ARITY && given == Some(ID_MIN) {
            return err("The ID specified in XADD must be greater than 0-0");
        }
        if fields.is_empty() {
            return err("wrong number of arguments for 'xadd' command");
        }
        if given == Some(ID_MIN) {
            return err("The ID specified in XADD must be greater than 0-0");
        }
        if nomkstream && !self.streams.contains_key(key) {
            return Reply::Nil;
        }
        let stream = self.streams.entry(key.to_owned()).or_default();
        let last = stream.last_id;
        let new_id = match (id, given) {
            (_, Some(id)) => id,
            (AddId::AutoSeq(ms), _) if *ms == last.0 => (*ms, last.1 + 1),
            (AddId::AutoSeq(ms), _) => (*ms, 0),
            _ if now_ms > last.0 => (now_ms, 0),
            _ => (last.0, last.1 + 1),
        };
        if new_id <= last {
            return err(
                "The ID specified in XADD is equal or smaller than the target stream top item",
            );
        }
        let fields = fields
            .iter()
            .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        stream.entries.insert(new_id, fields);
        stream.last_id = new_id;
        if let Some((_, n)) = maxlen {
            while stream.entries.len() > n as usize {
                stream.entries.pop_first();
            }
        }
        id_reply(new_id)
    }

    fn xrange(
        &self,
        key: &str,
        rev: bool,
        start: &BoundArg,
        end: &BoundArg,
        count: Option<i64>,
    ) -> Reply {
        let start = match start.resolve(Side::Start) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let end = match end.resolve(Side::End) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let count = clamp_count(count);
        if count == Some(0) && deviation::XRANGE_COUNT_ZERO_BEFORE_LOOKUP {
            return Reply::NilArray;
        }
        let Some(stream) = self.streams.get(key) else {
            return Reply::Array(Vec::new());
        };
        if count == Some(0) {
            return Reply::NilArray;
        }
        if start > end {
            return Reply::Array(Vec::new());
        }
        let range = stream.entries.range(start..=end);
        let limit = count.unwrap_or(usize::MAX);
        let replies: Vec<Reply> = if rev {
            range
                .rev()
                .take(limit)
                .map(|(id, f)| entry_reply(*id, f))
                .collect()
        } else {
            range
                .take(limit)
                .map(|(id, f)| entry_reply(*id, f))
                .collect()
        };
        Reply::Array(replies)
    }

    fn xdel(&mut self, key: &str, ids: &[IdArg]) -> Reply {
        let parsed: Result<Vec<Id>, Reply> = ids.iter().map(IdArg::strict).collect();
        if deviation::PARSE_BEFORE_LOOKUP {
            if let Err(reply) = &parsed {
                return reply.clone();
            }
        }
        let Some(stream) = self.streams.get_mut(key) else {
            return Reply::Int(0);
        };
        let ids = match parsed {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        let deleted = ids
            .iter()
            .filter(|id| stream.entries.remove(id).is_some())
            .count();
        Reply::Int(deleted as i64)
    }

    fn xtrim(&mut self, key: &str, trim: &TrimArg) -> Reply {
        if deviation::XTRIM_LOOKUP_BEFORE_PARSE && !self.streams.contains_key(key) {
            return Reply::Int(0);
        }
        // Redis parses the options before it looks the key up.
        let keep_from = match trim {
            TrimArg::Bogus => return err("syntax error"),
            TrimArg::MaxLen { n, .. } if *n < 0 => return err("The MAXLEN argument must be >= 0."),
            TrimArg::MaxLen { n, .. } => Err(*n as usize),
            TrimArg::MinId { id, .. } => match id.strict() {
                Ok(id) => Ok(id),
                Err(reply) => return reply,
            },
        };
        let Some(stream) = self.streams.get_mut(key) else {
            return Reply::Int(0);
        };
        let before = stream.entries.len();
        match keep_from {
            Err(maxlen) => {
                while stream.entries.len() > maxlen {
                    stream.entries.pop_first();
                }
            }
            Ok(min_id) => stream.entries.retain(|id, _| *id >= min_id),
        }
        Reply::Int((before - stream.entries.len()) as i64)
    }

    fn group_create(
        &mut self,
        key: &str,
        group: &str,
        start: &GroupStart,
        mkstream: bool,
    ) -> Reply {
        let start_id = match start {
            GroupStart::Dollar => Ok(self.streams.get(key).map_or(ID_MIN, |s| s.last_id)),
            GroupStart::Id(id) => id.strict(),
        };
        if deviation::PARSE_BEFORE_LOOKUP {
            if let Err(reply) = &start_id {
                return reply.clone();
            }
        }
        if !mkstream && !self.streams.contains_key(key) {
            return needs_key();
        }
        let start_id = match start_id {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let stream = self.streams.entry(key.to_owned()).or_default();
        if stream.groups.contains_key(group) {
            return Reply::Error("BUSYGROUP Consumer Group name already exists".to_owned());
        }
        let g = GroupModel {
            last_delivered: start_id,
            ..GroupModel::default()
        };
        stream.groups.insert(group.to_owned(), g);
        Reply::Status("OK".to_owned())
    }

    /// The key and group checks of XGROUP CREATECONSUMER / DELCONSUMER.
    fn group_for_xgroup(&mut self, key: &str, group: &str) -> Result<&mut GroupModel, Reply> {
        let stream = self.streams.get_mut(key).ok_or_else(needs_key)?;
        stream.groups.get_mut(group).ok_or_else(|| {
            Reply::Error(format!(
                "NOGROUP No such consumer group '{group}' for key name '{key}'"
            ))
        })
    }

    fn group_mut(
        &mut self,
        key: &str,
        group: &str,
    ) -> Option<(&mut GroupModel, &BTreeMap<Id, Fields>)> {
        let stream = self.streams.get_mut(key)?;
        let g = stream.groups.get_mut(group)?;
        Some((g, &stream.entries))
    }

    fn xreadgroup(
        &mut self,
        group: &str,
        consumer: &str,
        count: Option<i64>,
        noack: bool,
        streams: &[(Name, ReadId)],
        now_ms: u64,
    ) -> Reply {
        // COUNT 0 (or negative) is no limit.
        let limit = match clamp_count(count) {
            None | Some(0) => usize::MAX,
            Some(n) => n,
        };
        // Redis checks each stream's group, then its ID, stream by stream, before serving any.
        if deviation::PARSE_BEFORE_LOOKUP {
            let first_bad = streams.iter().find_map(|(_, id)| read_id_check(id).err());
            if let Some(reply) = first_bad {
                return reply;
            }
        }
        let mut reads = Vec::new();
        for (key, id) in streams {
            let has_group = self
                .streams
                .get(*key)
                .is_some_and(|s| s.groups.contains_key(group));
            if !has_group {
                return Reply::Error(format!(
                    "NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option"
                ));
            }
            if let Err(reply) = read_id_check(id) {
                return reply;
            }
            reads.push((key, id));
        }
        let mut out = Vec::new();
        for (key, id) in reads {
            let (g, entries) = self.group_mut(key, group).expect("checked above");
            g.consumers.insert(consumer.to_owned());
            let served = match id {
                ReadId::New => read_new(g, entries, consumer, limit, noack, now_ms),
                ReadId::After(after) => {
                    let after = after.strict().expect("checked above");
                    Some(read_history(g, entries, consumer, after, limit, now_ms))
                }
                ReadId::Dollar => unreachable!("checked above"),
            };
            if let Some(served) = served {
                out.push((bulk(key), Reply::Array(served)));
            }
        }
        if out.is_empty() {
            Reply::NilArray
        } else {
            Reply::PairMap(out)
        }
    }

    fn xack(&mut self, key: &str, group: &str, ids: &[IdArg]) -> Reply {
        let parsed: Result<Vec<Id>, Reply> = ids.iter().map(IdArg::strict).collect();
        if deviation::PARSE_BEFORE_LOOKUP {
            if let Err(reply) = &parsed {
                return reply.clone();
            }
        }
        let Some((g, _)) = self.group_mut(key, group) else {
            return Reply::Int(0);
        };
        let ids = match parsed {
            Ok(ids) => ids,
            Err(reply) => return reply,
        };
        let acked = ids.iter().filter(|id| g.pel.remove(id).is_some()).count();
        Reply::Int(acked as i64)
    }

    fn xpending_summary(&mut self, key: &str, group: &str) -> Reply {
        let Some((g, _)) = self.group_mut(key, group) else {
            return nogroup(key, group);
        };
        let (Some(first), Some(last)) = (g.pel.first_key_value(), g.pel.last_key_value()) else {
            return Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]);
        };
        let mut per_consumer: BTreeMap<&str, u64> = BTreeMap::new();
        for nack in g.pel.values() {
            *per_consumer.entry(&nack.consumer).or_default() += 1;
        }
        let per_consumer = per_consumer
            .into_iter()
            .map(|(c, n)| Reply::Array(vec![bulk(c), bulk(n.to_string())]))
            .collect();
        Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(*first.0),
            id_reply(*last.0),
            Reply::Array(per_consumer),
        ])
    }

    #[allow(clippy::too_many_arguments)]
    fn xpending_range(
        &mut self,
        key: &str,
        group: &str,
        idle: Option<i64>,
        start: &BoundArg,
        end: &BoundArg,
        count: i64,
        consumer: Option<Name>,
        now_ms: u64,
    ) -> Reply {
        let min_idle = idle.unwrap_or(0);
        let count = count.max(0) as usize;
        let start = match start.resolve(Side::Start) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let end = match end.resolve(Side::End) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let Some((g, _)) = self.group_mut(key, group) else {
            return nogroup(key, group);
        };
        if consumer.is_some_and(|c| !g.consumers.contains(c)) {
            return Reply::Array(Vec::new());
        }
        let out = g
            .pel
            .iter()
            .filter(|(id, n)| {
                start <= **id && **id <= end && consumer.is_none_or(|c| n.consumer == c)
            })
            .filter(|(_, n)| {
                min_idle <= 0 || now_ms.saturating_sub(n.delivery_ms) as i64 >= min_idle
            })
            .take(count)
            .map(|(id, n)| {
                Reply::Array(vec![
                    id_reply(*id),
                    bulk(&n.consumer),
                    Reply::Int(now_ms.saturating_sub(n.delivery_ms) as i64),
                    Reply::Int(n.delivery_count as i64),
                ])
            })
            .collect();
        Reply::Array(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn xclaim(
        &mut self,
        key: &str,
        group: &str,
        consumer: &str,
        min_idle: i64,
        ids: &[IdArg],
        justid: bool,
        now_ms: u64,
    ) -> Reply {
        // IDs run up to the first argument that is not one; the rest are options.
        let parsed: Vec<Id> = ids.iter().map_while(|id| id.resolve(0)).collect();
        let bad_option = ids
            .get(parsed.len())
            .map(|opt| Reply::Error(format!("ERR Unrecognized XCLAIM option '{}'", opt.text())));
        if deviation::PARSE_BEFORE_LOOKUP {
            if let Some(reply) = bad_option.clone() {
                return reply;
            }
        }
        let Some((g, entries)) = self.group_mut(key, group) else {
            return nogroup(key, group);
        };
        if let Some(reply) = bad_option {
            return reply;
        }
        let min_idle = min_idle.max(0) as u64;
        if !deviation::XCLAIM_LAZY_CONSUMER {
            g.consumers.insert(consumer.to_owned());
        }
        let mut out = Vec::new();
        for id in parsed {
            if !entries.contains_key(&id) {
                g.pel.remove(&id);
                continue;
            }
            let Some(nack) = g.pel.get_mut(&id) else {
                continue;
            };
            if min_idle > 0 && now_ms.saturating_sub(nack.delivery_ms) < min_idle {
                continue;
            }
            nack.consumer = consumer.to_owned();
            nack.delivery_ms = now_ms;
            if !justid {
                nack.delivery_count += 1;
            }
            g.consumers.insert(consumer.to_owned());
            out.push(match justid {
                true => id_reply(id),
                false => entry_reply(id, &entries[&id]),
            });
        }
        Reply::Array(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn xautoclaim(
        &mut self,
        key: &str,
        group: &str,
        consumer: &str,
        min_idle: i64,
        start: &BoundArg,
        count: Option<i64>,
        justid: bool,
        now_ms: u64,
    ) -> Reply {
        let start = match start.resolve(Side::Start) {
            Ok(id) => id,
            Err(reply) => return reply,
        };
        let mut count = match count {
            None => 100,
            Some(n) if n >= 1 => n as u64,
            Some(_) => return err("COUNT must be > 0"),
        };
        let Some((g, entries)) = self.group_mut(key, group) else {
            return nogroup(key, group);
        };
        let min_idle = min_idle.max(0) as u64;
        g.consumers.insert(consumer.to_owned());
        // At most ten PEL records looked at per requested entry.
        let mut attempts = count * 10;
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut next = g.pel.range(start..).next().map(|(id, _)| *id);
        while let Some(id) = next {
            if attempts == 0 || count == 0 {
                break;
            }
            attempts -= 1;
            next = id_next(id).and_then(|after| g.pel.range(after..).next().map(|(id, _)| *id));
            if !entries.contains_key(&id) {
                g.pel.remove(&id);
                deleted.push(id_reply(id));
                count -= 1;
                continue;
            }
            let nack = g.pel.get_mut(&id).expect("listed");
            if min_idle > 0 && now_ms.saturating_sub(nack.delivery_ms) < min_idle {
                continue;
            }
            nack.consumer = consumer.to_owned();
            nack.delivery_ms = now_ms;
            if !justid {
                nack.delivery_count += 1;
            }
            claimed.push(match justid {
                true => id_reply(id),
                false => entry_reply(id, &entries[&id]),
            });
            count -= 1;
        }
        Reply::Array(vec![
            id_reply(next.unwrap_or(ID_MIN)),
            Reply::Array(claimed),
            Reply::Array(deleted),
        ])
    }
}

fn needs_key() -> Reply {
    err("The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
}

fn read_id_check(id: &ReadId) -> Result<(), Reply> {
    match id {
        ReadId::New => Ok(()),
        ReadId::Dollar => Err(err("The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
        ReadId::After(id) => id.strict().map(|_| ()),
    }
}

/// `>`: entries never delivered to the group. `None` when there are none (the stream is then
/// left out of the reply).
fn read_new(
    g: &mut GroupModel,
    entries: &BTreeMap<Id, Fields>,
    consumer: &str,
    limit: usize,
    noack: bool,
    now_ms: u64,
) -> Option<Vec<Reply>> {
    let start = id_next(g.last_delivered)?;
    let fresh: Vec<(Id, &Fields)> = entries
        .range(start..)
        .take(limit)
        .map(|(id, f)| (*id, f))
        .collect();
    if fresh.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (id, fields) in fresh {
        g.last_delivered = id;
        if !noack {
            // A fresh delivery, even of an entry that another consumer still holds (possible
            // after SETID): it moves to this consumer with one delivery.
            let nack = Nack {
                consumer: consumer.to_owned(),
                delivery_ms: now_ms,
                delivery_count: 1,
            };
            g.pel.insert(id, nack);
        }
        out.push(entry_reply(id, fields));
    }
    Some(out)
}

/// A history read: the consumer's own pending entries after `after`.
fn read_history(
    g: &mut GroupModel,
    entries: &BTreeMap<Id, Fields>,
    consumer: &str,
    after: Id,
    limit: usize,
    now_ms: u64,
) -> Vec<Reply> {
    let Some(start) = id_next(after) else {
        return Vec::new();
    };
    let ids: Vec<Id> = g
        .pending_of(consumer)
        .filter(|(id, _)| **id >= start)
        .take(limit)
        .map(|(id, _)| *id)
        .collect();
    let mut out = Vec::new();
    for id in ids {
        match entries.get(&id) {
            None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
            Some(fields) => {
                let nack = g.pel.get_mut(&id).expect("listed");
                nack.delivery_ms = now_ms;
                nack.delivery_count += 1;
                out.push(entry_reply(id, fields));
            }
        }
    }
    out
}

// ---- running the engine -------------------------------------------------------------------

/// Parses and executes one argument vector the way a server does.
pub fn run_engine<S: Store>(
    store: &mut S,
    argv: &[Vec<u8>],
    now_ms: u64,
    limits: &Limits,
) -> Reply {
    match parse(argv) {
        None => panic!("not an engine command: {argv:?}"),
        Some(Err(reply)) => reply,
        Some(Ok(cmd)) => execute(store, &cmd, now_ms, limits),
    }
}

// ---- generators ---------------------------------------------------------------------------

const KEYS: &[Name] = &["a", "b", "c"];
const GROUPS: &[Name] = &["g1", "g2"];
const CONSUMERS: &[Name] = &["c1", "c2", "c3"];
/// Never an ID, in any context where one is expected.
const NOT_IDS: &[Name] = &["x", "1-x", "-1", "1-2-3", "", "(", "1.5"];
/// The highest generated millisecond part; the clock starts at 1 and overtakes it slowly, so
/// explicit IDs and `*` interleave.
const MS_MAX: u64 = 30;

fn key() -> impl Strategy<Value = Name> {
    prop_oneof![6 => Just(KEYS[0]), 3 => Just(KEYS[1]), 1 => Just(KEYS[2])]
}

fn group() -> impl Strategy<Value = Name> {
    prop_oneof![6 => Just(GROUPS[0]), 1 => Just(GROUPS[1])]
}

fn consumer() -> impl Strategy<Value = Name> {
    prop_oneof![3 => Just(CONSUMERS[0]), 2 => Just(CONSUMERS[1]), 1 => Just(CONSUMERS[2])]
}

/// An ID argument, sometimes not an ID.
fn id_arg() -> impl Strategy<Value = IdArg> {
    prop_oneof![
        15 => valid_id_arg(),
        1 => prop::sample::select(NOT_IDS).prop_map(IdArg::Raw),
    ]
}

/// An ID argument that is always valid, mostly one the state knows.
fn valid_id_arg() -> impl Strategy<Value = IdArg> {
    prop_oneof![
        8 => any::<u8>().prop_map(IdArg::Pick),
        3 => (0..=MS_MAX, 0u64..3).prop_map(|(ms, seq)| IdArg::Full(ms, seq)),
        1 => (0..=MS_MAX).prop_map(IdArg::Ms),
    ]
}

/// The ID of an XADD: rarely one the stream knows (that is only ever an error).
fn add_id_arg() -> impl Strategy<Value = IdArg> {
    prop_oneof![
        8 => (0..=MS_MAX, 0u64..3).prop_map(|(ms, seq)| IdArg::Full(ms, seq)),
        2 => (0..=MS_MAX).prop_map(IdArg::Ms),
        1 => any::<u8>().prop_map(IdArg::Pick),
        1 => prop::sample::select(NOT_IDS).prop_map(IdArg::Raw),
    ]
}

fn bound() -> impl Strategy<Value = BoundArg> {
    prop_oneof![
        3 => Just(BoundArg::Min),
        3 => Just(BoundArg::Max),
        4 => id_arg().prop_map(BoundArg::Incl),
        2 => id_arg().prop_map(BoundArg::Excl),
        1 => Just(BoundArg::Excl(IdArg::Full(0, 0))),
    ]
}

fn count() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![3 => Just(None), 3 => (-1i64..5).prop_map(Some)]
}

fn min_idle() -> impl Strategy<Value = i64> {
    prop_oneof![3 => Just(0i64), 2 => -1i64..8]
}

fn fields() -> impl Strategy<Value = Vec<(Name, Name)>> {
    let pair = (
        prop::sample::select(&["f", "g"][..]),
        prop::sample::select(&["1", "2", ""][..]),
    );
    prop_oneof![
        20 => prop::collection::vec(pair.clone(), 1..3),
        1 => prop::collection::vec(pair, 0..1),
    ]
}

fn ids(max: usize) -> impl Strategy<Value = Vec<IdArg>> {
    prop::collection::vec(id_arg(), 1..max)
}

fn xadd() -> BoxedStrategy<Op> {
    let maxlen_n = prop_oneof![1 => Just(-1i64), 8 => 0i64..5];
    let maxlen = prop_oneof![6 => Just(None), 2 => (any::<bool>(), maxlen_n).prop_map(Some)];
    let id = prop_oneof![
        6 => Just(AddId::Auto),
        2 => (0..=MS_MAX).prop_map(AddId::AutoSeq),
        4 => add_id_arg().prop_map(AddId::Given),
    ];
    (key(), prop::bool::weighted(0.1), maxlen, id, fields())
        .prop_map(|(key, nomkstream, maxlen, id, fields)| Op::XAdd {
            key,
            nomkstream,
            maxlen,
            id,
            fields,
        })
        .boxed()
}

fn read_id() -> impl Strategy<Value = ReadId> {
    prop_oneof![
        16 => Just(ReadId::New),
        4 => Just(ReadId::After(IdArg::Ms(0))),
        6 => valid_id_arg().prop_map(ReadId::After),
        1 => Just(ReadId::Dollar),
        1 => prop::sample::select(NOT_IDS).prop_map(|raw| ReadId::After(IdArg::Raw(raw))),
    ]
}

fn group_ops() -> BoxedStrategy<Op> {
    let start = prop_oneof![
        3 => Just(GroupStart::Dollar),
        4 => Just(GroupStart::Id(IdArg::Ms(0))),
        3 => id_arg().prop_map(GroupStart::Id),
    ];
    prop_oneof![
        5 => (key(), group(), start, prop::bool::weighted(0.7)).prop_map(|(key, group, start, mkstream)| {
            Op::GroupCreate { key, group, start, mkstream }
        }),
        1 => (key(), group()).prop_map(|(key, group)| Op::GroupDestroy { key, group }),
        3 => (key(), group(), consumer()).prop_map(|(key, group, consumer)| {
            Op::CreateConsumer { key, group, consumer }
        }),
        2 => (key(), group(), consumer()).prop_map(|(key, group, consumer)| {
            Op::DelConsumer { key, group, consumer }
        }),
    ]
    .boxed()
}

fn xreadgroup() -> BoxedStrategy<Op> {
    let streams = prop_oneof![
        6 => (key(), read_id()).prop_map(|s| vec![s]),
        1 => prop::collection::vec((key(), read_id()), 2..3).prop_filter(
            "a key named twice (deviation::XREADGROUP_REPEATED_KEY)",
            |streams| !deviation::XREADGROUP_REPEATED_KEY || streams[0].0 != streams[1].0,
        ),
    ];
    (
        group(),
        consumer(),
        count(),
        prop::bool::weighted(0.2),
        streams,
    )
        .prop_map(|(group, consumer, count, noack, streams)| Op::XReadGroup {
            group,
            consumer,
            count,
            noack,
            streams,
        })
        .boxed()
}

fn pel_ops() -> BoxedStrategy<Op> {
    let pending_range = (
        key(),
        group(),
        prop_oneof![3 => Just(None), 1 => (-1i64..8).prop_map(Some)],
        bound(),
        bound(),
        -1i64..6,
        prop_oneof![2 => Just(None), 1 => consumer().prop_map(Some)],
    )
        .prop_map(
            |(key, group, idle, start, end, count, consumer)| Op::XPendingRange {
                key,
                group,
                idle,
                start,
                end,
                count,
                consumer,
            },
        );
    let claim = (
        key(),
        group(),
        consumer(),
        min_idle(),
        ids(4),
        any::<bool>(),
    )
        .prop_map(|(key, group, consumer, min_idle, ids, justid)| Op::XClaim {
            key,
            group,
            consumer,
            min_idle,
            ids,
            justid,
        });
    let autoclaim_count = prop_oneof![
        6 => Just(None),
        6 => (1i64..4).prop_map(Some),
        1 => (-1i64..1).prop_map(Some),
    ];
    // A scan from the start finds the most; `+` finds nothing but is worth a try.
    let autoclaim_start = prop_oneof![
        4 => Just(BoundArg::Min),
        3 => bound(),
    ];
    let autoclaim = (
        key(),
        group(),
        consumer(),
        min_idle(),
        autoclaim_start,
        autoclaim_count,
        any::<bool>(),
    )
        .prop_map(
            |(key, group, consumer, min_idle, start, count, justid)| Op::XAutoClaim {
                key,
                group,
                consumer,
                min_idle,
                start,
                count,
                justid,
            },
        );
    prop_oneof![
        3 => (key(), group(), ids(4)).prop_map(|(key, group, ids)| Op::XAck { key, group, ids }),
        2 => (key(), group()).prop_map(|(key, group)| Op::XPendingSummary { key, group }),
        3 => pending_range,
        3 => claim,
        3 => autoclaim,
    ]
    .boxed()
}

fn stream_ops() -> BoxedStrategy<Op> {
    let trim = prop_oneof![
        3 => (any::<bool>(), prop_oneof![1 => Just(-1i64), 6 => 0i64..4])
            .prop_map(|(eq, n)| TrimArg::MaxLen { eq, n }),
        3 => (any::<bool>(), id_arg()).prop_map(|(eq, id)| TrimArg::MinId { eq, id }),
        1 => Just(TrimArg::Bogus),
    ];
    let keys = || prop::collection::vec(key(), 1..3);
    prop_oneof![
        6 => (key(), any::<bool>(), bound(), bound(), count()).prop_map(
            |(key, rev, start, end, count)| Op::XRange { key, rev, start, end, count }
        ),
        1 => key().prop_map(|key| Op::XLen { key }),
        3 => (key(), ids(4)).prop_map(|(key, ids)| Op::XDel { key, ids }),
        2 => (key(), trim).prop_map(|(key, trim)| Op::XTrim { key, trim }),
        1 => keys().prop_map(|keys| Op::Del { keys }),
        1 => keys().prop_map(|keys| Op::Exists { keys }),
    ]
    .boxed()
}

/// One command.
pub fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        8 => xadd(),
        5 => stream_ops(),
        3 => group_ops(),
        6 => xreadgroup(),
        7 => pel_ops(),
    ]
    .boxed()
}

/// A script: each command with how far the clock moves before it runs. A prelude creates the
/// groups `a g1` and `b g1` and maybe a few more, so that group commands find their group more
/// often than chance would; `g2` and the key `c` stay mostly absent.
pub fn script() -> impl Strategy<Value = Vec<(u64, Op)>> {
    let advance = prop_oneof![3 => Just(0u64), 3 => 1u64..3, 1 => 3u64..8];
    let create = |key, group, start| Op::GroupCreate {
        key,
        group,
        start,
        mkstream: true,
    };
    let starts = || prop_oneof![Just(GroupStart::Dollar), Just(GroupStart::Id(IdArg::Ms(0)))];
    let fixed = (starts(), starts())
        .prop_map(move |(s1, s2)| vec![(0, create("a", "g1", s1)), (0, create("b", "g1", s2))]);
    let more = (key(), group(), starts()).prop_map(move |(k, g, s)| (0, create(k, g, s)));
    let prelude = (fixed, prop::collection::vec(more, 0..3));
    let body = prop::collection::vec((advance, op()), 1..60);
    (prelude, body).prop_map(|((mut script, more), body)| {
        script.extend(more);
        script.extend(body);
        script
    })
}
