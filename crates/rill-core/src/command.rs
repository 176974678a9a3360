//! Typed requests, parsed from Redis argument vectors with Redis's own error texts.
//!
//! Parsing checks everything that does not depend on state: arity, options, IDs, numbers. What
//! does depend on state (a missing group, an ID below the stream's top) is the engine's job.
//! The gRPC front end builds the same [`Command`] values directly.

use serde::{Deserialize, Serialize};

use crate::id::{
    parse_id, parse_id_with_default, parse_range_bound, parse_u64, Bound, BoundError, StreamId,
};
use crate::reply::{errors, Reply};
use crate::store::{Fields, Store};

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

/// A trimming clause (`MAXLEN|MINID [=|~] threshold [LIMIT n]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trim {
    pub strategy: TrimStrategy,
    /// `~`: remove only whole nodes of [`crate::engine::TRIM_NODE_ENTRIES`] entries.
    pub approx: bool,
    /// Most entries to remove; 0 means no limit. Only with `~`.
    pub limit: u64,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XReadGroup {
    pub group: Key,
    pub consumer: Key,
    pub count: Option<u64>,
    pub block_ms: Option<u64>,
    pub noack: bool,
    pub streams: Vec<(Key, ReadFrom)>,
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

fn malformed(keys: &[Vec<u8>], group: Option<&Vec<u8>>, missing: Missing, error: Reply) -> Command {
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

type Parsed = Result<Command, Reply>;

fn err(text: impl Into<String>) -> Reply {
    Reply::Error(text.into())
}

fn eq(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Redis's `getLongLongFromObjectOrReply`.
fn int_arg(arg: &[u8], message: Option<&str>) -> Result<i64, Reply> {
    crate::id::parse_i64(arg).ok_or_else(|| match message {
        Some(m) => err(format!("ERR {m}")),
        None => err(errors::NOT_INTEGER),
    })
}

fn strict_id(arg: &[u8]) -> Result<StreamId, Reply> {
    parse_id(arg).ok_or_else(|| err(errors::INVALID_ID))
}

/// A range bound for XRANGE/XPENDING/XAUTOCLAIM: `-`, `+`, `(` and IDs with optional sequence.
fn interval_id(arg: &[u8], side: Bound) -> Result<StreamId, Reply> {
    parse_range_bound(arg, side, true).map_err(|e| match (e, side) {
        (BoundError::Invalid, _) => err(errors::INVALID_ID),
        (BoundError::ExclusiveOverflow, Bound::Start) => {
            err("ERR invalid start ID for the interval")
        }
        (BoundError::ExclusiveOverflow, Bound::End) => err("ERR invalid end ID for the interval"),
    })
}

/// The arity table of the commands the engine owns: (name, arity) with Redis's convention
/// (negative: at least that many, counting the command name).
const ARITY: &[(&str, i32)] = &[
    ("XADD", -5),
    ("XRANGE", -4),
    ("XREVRANGE", -4),
    ("XLEN", 2),
    ("XDEL", -3),
    ("XTRIM", -4),
    ("XREAD", -4),
    ("XGROUP", -2),
    ("XREADGROUP", -7),
    ("XACK", -4),
    ("XPENDING", -3),
    ("XCLAIM", -6),
    ("XAUTOCLAIM", -6),
    ("XINFO", -2),
    ("XSETID", -3),
    ("DEL", -2),
    ("EXISTS", -2),
    ("TYPE", 2),
    ("KEYS", 2),
    ("SCAN", -2),
];

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i32;
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// The names of the commands [`parse`] knows, for `COMMAND` listings.
pub fn command_names() -> impl Iterator<Item = (&'static str, i32)> {
    ARITY.iter().copied()
}

/// Parses an argument vector. `None`: not a command of the stream engine (the server's own
/// commands, or unknown). `Some(Err(reply))`: a Redis error reply.
pub fn parse(argv: &[Vec<u8>]) -> Option<Parsed> {
    let name = argv.first()?;
    let upper = String::from_utf8_lossy(name).to_ascii_uppercase();
    let &(canonical, arity) = ARITY.iter().find(|(n, _)| *n == upper)?;
    if !arity_ok(arity, argv.len()) {
        return Some(Err(err(errors::wrong_arity(canonical))));
    }
    let a = &argv[1..];
    Some(match canonical {
        "XADD" => parse_xadd(a),
        "XRANGE" => parse_xrange(a, false),
        "XREVRANGE" => parse_xrange(a, true),
        "XLEN" => Ok(Command::XLen { key: a[0].clone() }),
        "XDEL" => parse_ids(&a[1..])
            .map(|ids| Command::XDel {
                key: a[0].clone(),
                ids,
            })
            .or_else(|e| Ok(malformed(&a[..1], None, Missing::Zero, e))),
        "XTRIM" => parse_xtrim(a),
        "XREAD" => parse_xread(a, false),
        "XGROUP" => parse_xgroup(a),
        "XREADGROUP" => parse_xread(a, true),
        "XACK" => parse_ids(&a[2..])
            .map(|ids| Command::XAck {
                key: a[0].clone(),
                group: a[1].clone(),
                ids,
            })
            .or_else(|e| Ok(malformed(&a[..1], Some(&a[1]), Missing::Zero, e))),
        "XPENDING" => parse_xpending(a),
        "XCLAIM" => {
            parse_xclaim(a).or_else(|e| Ok(malformed(&a[..1], Some(&a[1]), Missing::NoGroup, e)))
        }
        "XAUTOCLAIM" => parse_xautoclaim(a),
        "XINFO" => parse_xinfo(a),
        "XSETID" => parse_xsetid(a),
        "DEL" => Ok(Command::Del { keys: a.to_vec() }),
        "EXISTS" => Ok(Command::Exists { keys: a.to_vec() }),
        "TYPE" => Ok(Command::Type { key: a[0].clone() }),
        "KEYS" => Ok(Command::Keys {
            pattern: a[0].clone(),
        }),
        "SCAN" => parse_scan(a),
        _ => unreachable!("every name in ARITY has a parser"),
    })
}

fn parse_ids(args: &[Vec<u8>]) -> Result<Vec<StreamId>, Reply> {
    args.iter().map(|a| strict_id(a)).collect()
}

/// What XADD/XTRIM options parse to: the trim clause, NOMKSTREAM, and XADD's ID with its index.
type AddOrTrim = (Option<Trim>, bool, Option<(AddId, usize)>);

/// The shared option parser of XADD and XTRIM (`streamParseAddOrTrimArgsOrReply`). Returns the
/// trim clause and, for XADD, the index of the ID argument.
fn parse_add_or_trim(a: &[Vec<u8>], xadd: bool) -> Result<AddOrTrim, Reply> {
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<u64> = None;
    let mut nomkstream = false;
    let mut id = None;
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = &a[i];
        if xadd && opt.as_slice() == b"*" {
            id = Some((AddId::Auto, i));
            break;
        } else if (eq(opt, "MAXLEN") || eq(opt, "MINID")) && more > 0 {
            let is_maxlen = eq(opt, "MAXLEN");
            if more >= 2 && (a[i + 1].as_slice() == b"~" || a[i + 1].as_slice() == b"=") {
                approx = a[i + 1].as_slice() == b"~";
                i += 1;
            }
            let arg = &a[i + 1];
            let parsed = if is_maxlen {
                let n = int_arg(arg, None)?;
                if n < 0 {
                    return Err(err("ERR The MAXLEN argument must be >= 0."));
                }
                TrimStrategy::MaxLen(n as u64)
            } else {
                TrimStrategy::MinId(strict_id(arg)?)
            };
            if let Some(prev) = strategy {
                if std::mem::discriminant(&prev) != std::mem::discriminant(&parsed) {
                    return Err(err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"));
                }
            }
            strategy = Some(parsed);
            i += 2;
            continue;
        } else if eq(opt, "LIMIT") && more > 0 {
            let n = int_arg(&a[i + 1], None)?;
            if !(0..=1_000_000).contains(&n) {
                return Err(err("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n as u64);
            i += 2;
            continue;
        } else if xadd && eq(opt, "NOMKSTREAM") {
            nomkstream = true;
        } else if xadd {
            id = Some((parse_add_id(opt)?, i));
            break;
        } else {
            return Err(err(errors::SYNTAX));
        }
        i += 1;
    }
    // Redis tests the LIMIT *value* against a missing strategy (`XTRIM s LIMIT 0` is the
    // missing-strategy error, `XTRIM s LIMIT 5` the LIMIT one) but its presence against `~`.
    let limit_nonzero = limit.is_some_and(|n| n > 0);
    if limit_nonzero && strategy.is_none() {
        return Err(err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && strategy.is_none() {
        return Err(err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit.is_some() && !approx {
        return Err(err(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    let limit = match limit {
        Some(n) => n,
        None if approx => 100 * crate::engine::TRIM_NODE_ENTRIES,
        None => 0,
    };
    let trim = strategy.map(|strategy| Trim {
        strategy,
        approx,
        limit,
    });
    Ok((trim, nomkstream, id))
}

fn parse_add_id(arg: &[u8]) -> Result<AddId, Reply> {
    if let Some(ms) = arg.strip_suffix(b"-*") {
        return parse_u64(ms)
            .map(AddId::AutoSeq)
            .ok_or_else(|| err(errors::INVALID_ID));
    }
    let id = parse_id_with_default(arg, 0).ok_or_else(|| err(errors::INVALID_ID))?;
    Ok(AddId::Explicit(id))
}

fn parse_xadd(a: &[Vec<u8>]) -> Parsed {
    let (trim, nomkstream, id) = parse_add_or_trim(a, true)?;
    let Some((id, at)) = id else {
        return Err(err(errors::wrong_arity("xadd")));
    };
    let rest = &a[at + 1..];
    if rest.len() < 2 || rest.len() % 2 == 1 {
        return Err(err(errors::wrong_arity("xadd")));
    }
    // After the arity check, as in `xaddCommand`.
    if id == AddId::Explicit(StreamId::MIN) {
        return Err(err(errors::XADD_ID_ZERO));
    }
    let fields = rest
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    Ok(Command::XAdd {
        key: a[0].clone(),
        nomkstream,
        trim,
        id,
        fields,
    })
}

/// XTRIM parses its options before it looks the key up (Redis 6.2+), so a missing key answers
/// 0 only to well-formed options.
fn parse_xtrim(a: &[Vec<u8>]) -> Parsed {
    let (trim, _, _) = parse_add_or_trim(a, false)?;
    let trim = trim.expect("parse_add_or_trim demands a strategy for XTRIM");
    Ok(Command::XTrim {
        key: a[0].clone(),
        trim,
    })
}

fn parse_xrange(a: &[Vec<u8>], rev: bool) -> Parsed {
    let (start_arg, end_arg) = if rev { (&a[2], &a[1]) } else { (&a[1], &a[2]) };
    let start = interval_id(start_arg, Bound::Start)?;
    let end = interval_id(end_arg, Bound::End)?;
    let mut count = None;
    let mut j = 3;
    while j < a.len() {
        if eq(&a[j], "COUNT") && j + 1 < a.len() {
            count = Some(int_arg(&a[j + 1], None)?.max(0) as u64);
            j += 2;
        } else {
            return Err(err(errors::SYNTAX));
        }
    }
    Ok(Command::XRange {
        key: a[0].clone(),
        start,
        end,
        count,
        rev,
    })
}

fn parse_timeout(arg: &[u8]) -> Result<u64, Reply> {
    let ms = crate::id::parse_i64(arg)
        .ok_or_else(|| err("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(err("ERR timeout is negative"));
    }
    Ok(ms as u64)
}

fn parse_xread(a: &[Vec<u8>], group: bool) -> Parsed {
    let name = if group { "xreadgroup" } else { "xread" };
    let mut count = None;
    let mut block_ms = None;
    let mut names = None;
    let mut noack = false;
    let mut streams_at = None;
    let mut i = 0;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = &a[i];
        if eq(opt, "BLOCK") && more > 0 {
            block_ms = Some(parse_timeout(&a[i + 1])?);
            i += 1;
        } else if eq(opt, "COUNT") && more > 0 {
            // COUNT 0 (or negative) means no limit, as in Redis.
            count = Some(int_arg(&a[i + 1], None)?.max(0) as u64).filter(|n| *n > 0);
            i += 1;
        } else if eq(opt, "STREAMS") && more > 0 {
            if !more.is_multiple_of(2) {
                let ids = if group {
                    "an ID or '>'"
                } else {
                    "an ID, '+', or '$'"
                };
                return Err(err(format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key {ids} must be specified."
                )));
            }
            streams_at = Some(i + 1);
            break;
        } else if eq(opt, "GROUP") && more >= 2 {
            if !group {
                return Err(err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."));
            }
            names = Some((a[i + 1].clone(), a[i + 2].clone()));
            i += 2;
        } else if eq(opt, "NOACK") {
            if !group {
                return Err(err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."));
            }
            noack = true;
        } else {
            return Err(err(errors::SYNTAX));
        }
        i += 1;
    }
    let Some(at) = streams_at else {
        return Err(err(errors::SYNTAX));
    };
    if group && names.is_none() {
        return Err(err("ERR Missing GROUP option for XREADGROUP"));
    }
    let half = (a.len() - at) / 2;
    let mut streams = Vec::with_capacity(half);
    for k in 0..half {
        let (key, id) = (&a[at + k], &a[at + half + k]);
        match (parse_read_from(id, group), &names) {
            (Ok(from), _) => streams.push((key.clone(), from)),
            // XREADGROUP looks up each stream and the group before it parses that stream's ID.
            (Err(e), Some((group, _))) => {
                let keys = &a[at..=at + k];
                return Ok(malformed(keys, Some(group), Missing::NoGroupRead, e));
            }
            (Err(e), None) => return Err(e),
        }
    }
    match names {
        Some((group, consumer)) => Ok(Command::XReadGroup(XReadGroup {
            group,
            consumer,
            count,
            block_ms,
            noack,
            streams,
        })),
        None => Ok(Command::XRead(XRead {
            count,
            block_ms,
            streams,
        })),
    }
}

fn parse_read_from(arg: &[u8], group: bool) -> Result<ReadFrom, Reply> {
    match arg {
        b"$" if group => Err(err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
        b"$" => Ok(ReadFrom::Last),
        b"+" if group => Err(err("ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.")),
        b">" if group => Ok(ReadFrom::New),
        b">" => Err(err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")),
        b"+" if !group => Ok(ReadFrom::LastEntry),
        _ => strict_id(arg).map(ReadFrom::After),
    }
}

fn subcommand_syntax_error(sub: &[u8], command: &str) -> Reply {
    err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {command} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// Subcommand arities, counting the command and subcommand names like Redis does.
const XGROUP_ARITY: &[(&str, i32)] = &[
    ("CREATE", -5),
    ("SETID", -5),
    ("DESTROY", 4),
    ("CREATECONSUMER", 5),
    ("DELCONSUMER", 5),
    ("HELP", 2),
];
const XINFO_ARITY: &[(&str, i32)] = &[("STREAM", -3), ("GROUPS", 3), ("CONSUMERS", 4), ("HELP", 2)];

fn check_subcommand(
    a: &[Vec<u8>],
    table: &'static [(&'static str, i32)],
    command: &str,
) -> Result<&'static str, Reply> {
    let sub = String::from_utf8_lossy(&a[0]).to_ascii_uppercase();
    let Some(&(name, arity)) = table.iter().find(|(n, _)| *n == sub) else {
        return Err(err(errors::unknown_subcommand(&a[0], command)));
    };
    if !arity_ok(arity, a.len() + 1) {
        return Err(err(format!(
            "ERR wrong number of arguments for '{}|{}' command",
            command.to_ascii_lowercase(),
            name.to_ascii_lowercase()
        )));
    }
    Ok(name)
}

/// The trailing `[MKSTREAM] [ENTRIESREAD n]` options of XGROUP CREATE and SETID.
fn parse_group_options(a: &[Vec<u8>], allow_mkstream: bool) -> Result<(bool, Option<u64>), Reply> {
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 4;
    while i < a.len() {
        if allow_mkstream && eq(&a[i], "MKSTREAM") {
            mkstream = true;
            i += 1;
        } else if eq(&a[i], "ENTRIESREAD") && i + 1 < a.len() {
            let n = int_arg(&a[i + 1], None)?;
            if n < -1 {
                return Err(err("ERR value for ENTRIESREAD must be positive or -1"));
            }
            entries_read = u64::try_from(n).ok();
            i += 2;
        } else {
            return Err(subcommand_syntax_error(&a[0], "XGROUP"));
        }
    }
    Ok((mkstream, entries_read))
}

fn parse_group_start(arg: &[u8], strict: bool) -> Result<GroupStart, Reply> {
    if arg == b"$" {
        return Ok(GroupStart::Last);
    }
    let id = if strict {
        strict_id(arg)?
    } else {
        match arg {
            b"-" => StreamId::MIN,
            b"+" => StreamId::MAX,
            _ => strict_id(arg)?,
        }
    };
    Ok(GroupStart::Id(id))
}

fn parse_xgroup(a: &[Vec<u8>]) -> Parsed {
    let sub = check_subcommand(a, XGROUP_ARITY, "XGROUP")?;
    let (key, group) = match sub {
        "HELP" => return Ok(Command::XGroup(XGroup::Help)),
        _ => (a[1].clone(), a[2].clone()),
    };
    let group_cmd = match sub {
        "CREATE" if a.len() <= 7 => {
            let (mkstream, entries_read) = parse_group_options(a, true)?;
            let start = match parse_group_start(&a[3], true) {
                Ok(start) => start,
                Err(e) if mkstream => return Err(e),
                Err(e) => return Ok(malformed(&a[1..2], None, Missing::XGroup, e)),
            };
            XGroup::Create {
                key,
                group,
                start,
                mkstream,
                entries_read,
            }
        }
        "SETID" if a.len() == 4 || a.len() == 6 => {
            let (_, entries_read) = parse_group_options(a, false)?;
            let start = match parse_group_start(&a[3], false) {
                Ok(start) => start,
                Err(e) => return Ok(malformed(&a[1..2], Some(&a[2]), Missing::XGroup, e)),
            };
            XGroup::SetId {
                key,
                group,
                start,
                entries_read,
            }
        }
        "DESTROY" => XGroup::Destroy { key, group },
        "CREATECONSUMER" => XGroup::CreateConsumer {
            key,
            group,
            consumer: a[3].clone(),
        },
        "DELCONSUMER" => XGroup::DelConsumer {
            key,
            group,
            consumer: a[3].clone(),
        },
        _ => return Err(subcommand_syntax_error(&a[0], "XGROUP")),
    };
    Ok(Command::XGroup(group_cmd))
}

fn parse_xpending(a: &[Vec<u8>]) -> Parsed {
    let (key, group) = (a[0].clone(), a[1].clone());
    let argc = a.len() + 1;
    if argc == 3 {
        return Ok(Command::XPending {
            key,
            group,
            range: None,
        });
    }
    if !(6..=9).contains(&argc) {
        return Err(err(errors::SYNTAX));
    }
    let mut at = 2;
    let mut min_idle_ms = 0;
    if eq(&a[2], "IDLE") {
        min_idle_ms = int_arg(&a[3], None)?.max(0) as u64;
        if argc < 8 {
            return Err(err(errors::SYNTAX));
        }
        at += 2;
    }
    if at + 2 >= a.len() {
        return Err(err(errors::SYNTAX));
    }
    let count = int_arg(&a[at + 2], None)?.max(0) as u64;
    let start = interval_id(&a[at], Bound::Start)?;
    let end = interval_id(&a[at + 1], Bound::End)?;
    // Like Redis, arguments after the consumer name are ignored.
    let consumer = a.get(at + 3).cloned();
    Ok(Command::XPending {
        key,
        group,
        range: Some(PendingRange {
            min_idle_ms,
            start,
            end,
            count,
            consumer,
        }),
    })
}

fn parse_xclaim(a: &[Vec<u8>]) -> Parsed {
    let min_idle = int_arg(&a[3], Some("Invalid min-idle-time argument for XCLAIM"))?;
    let mut claim = XClaim {
        key: a[0].clone(),
        group: a[1].clone(),
        consumer: a[2].clone(),
        min_idle_ms: min_idle.max(0) as u64,
        ids: Vec::new(),
        idle_ms: None,
        time_ms: None,
        retry_count: None,
        force: false,
        justid: false,
        last_id: None,
    };
    let mut j = 4;
    while j < a.len() {
        match parse_id(&a[j]) {
            Some(id) => claim.ids.push(id),
            None => break,
        }
        j += 1;
    }
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = &a[j];
        if eq(opt, "FORCE") {
            claim.force = true;
        } else if eq(opt, "JUSTID") {
            claim.justid = true;
        } else if eq(opt, "IDLE") && more > 0 {
            j += 1;
            claim.idle_ms = Some(int_arg(
                &a[j],
                Some("Invalid IDLE option argument for XCLAIM"),
            )?);
            claim.time_ms = None;
        } else if eq(opt, "TIME") && more > 0 {
            j += 1;
            claim.time_ms = Some(int_arg(
                &a[j],
                Some("Invalid TIME option argument for XCLAIM"),
            )?);
            claim.idle_ms = None;
        } else if eq(opt, "RETRYCOUNT") && more > 0 {
            j += 1;
            claim.retry_count = Some(int_arg(
                &a[j],
                Some("Invalid RETRYCOUNT option argument for XCLAIM"),
            )?);
        } else if eq(opt, "LASTID") && more > 0 {
            j += 1;
            claim.last_id = Some(strict_id(&a[j])?);
        } else {
            return Err(err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    Ok(Command::XClaim(claim))
}

fn parse_xautoclaim(a: &[Vec<u8>]) -> Parsed {
    let min_idle = int_arg(&a[3], Some("Invalid min-idle-time argument for XAUTOCLAIM"))?;
    let start = interval_id(&a[4], Bound::Start)?;
    let mut count = 100;
    let mut justid = false;
    let mut j = 5;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if eq(&a[j], "COUNT") && more > 0 {
            let n = crate::id::parse_i64(&a[j + 1]).ok_or_else(|| err("ERR COUNT must be > 0"))?;
            if !(1..=i64::MAX / 16).contains(&n) {
                return Err(err("ERR COUNT must be > 0"));
            }
            count = n as u64;
            j += 1;
        } else if eq(&a[j], "JUSTID") {
            justid = true;
        } else {
            return Err(err(errors::SYNTAX));
        }
        j += 1;
    }
    Ok(Command::XAutoClaim(XAutoClaim {
        key: a[0].clone(),
        group: a[1].clone(),
        consumer: a[2].clone(),
        min_idle_ms: min_idle.max(0) as u64,
        start,
        count,
        justid,
    }))
}

/// Entries and pending records XINFO STREAM FULL shows per list when COUNT is not given.
pub const XINFO_FULL_COUNT_DEFAULT: u64 = 10;

fn parse_xinfo(a: &[Vec<u8>]) -> Parsed {
    let sub = check_subcommand(a, XINFO_ARITY, "XINFO")?;
    let info = match sub {
        "HELP" => XInfo::Help,
        "GROUPS" => XInfo::Groups { key: a[1].clone() },
        "CONSUMERS" => XInfo::Consumers {
            key: a[1].clone(),
            group: a[2].clone(),
        },
        _ => {
            let full = match a.len() {
                2 => None,
                3 if eq(&a[2], "FULL") => Some(XINFO_FULL_COUNT_DEFAULT),
                5 if eq(&a[2], "FULL") && eq(&a[3], "COUNT") => {
                    Some(int_arg(&a[4], None)?.max(0) as u64)
                }
                _ => return Err(subcommand_syntax_error(&a[0], "XINFO")),
            };
            XInfo::Stream {
                key: a[1].clone(),
                full,
            }
        }
    };
    Ok(Command::XInfo(info))
}

fn parse_xsetid(a: &[Vec<u8>]) -> Parsed {
    let last_id = strict_id(&a[1])?;
    let mut entries_added = None;
    let mut max_deleted_id = None;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        if eq(&a[i], "ENTRIESADDED") && more > 0 {
            let n = int_arg(&a[i + 1], None)?;
            if n < 0 {
                return Err(err("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if eq(&a[i], "MAXDELETEDID") && more > 0 {
            let id = strict_id(&a[i + 1])?;
            if last_id < id {
                return Err(err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"));
            }
            max_deleted_id = Some(id);
        } else {
            return Err(err(errors::SYNTAX));
        }
        i += 2;
    }
    Ok(Command::XSetId {
        key: a[0].clone(),
        last_id,
        entries_added,
        max_deleted_id,
    })
}

/// Keys a SCAN call visits when COUNT is not given (Redis's default).
pub const SCAN_COUNT_DEFAULT: u64 = 10;

fn parse_scan(a: &[Vec<u8>]) -> Parsed {
    let cursor = parse_u64(&a[0]).ok_or_else(|| err("ERR invalid cursor"))?;
    let (mut pattern, mut count, mut type_filter) = (None, SCAN_COUNT_DEFAULT, None);
    let mut i = 1;
    while i < a.len() {
        if i + 1 >= a.len() {
            return Err(err(errors::SYNTAX));
        }
        if eq(&a[i], "MATCH") {
            pattern = Some(a[i + 1].clone());
        } else if eq(&a[i], "COUNT") {
            let n = int_arg(&a[i + 1], None)?;
            if n < 1 {
                return Err(err(errors::SYNTAX));
            }
            count = n as u64;
        } else if eq(&a[i], "TYPE") {
            type_filter = Some(a[i + 1].to_ascii_lowercase());
        } else {
            return Err(err(errors::SYNTAX));
        }
        i += 2;
    }
    Ok(Command::Scan {
        cursor,
        pattern,
        count,
        type_filter,
    })
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
            | XAutoClaim(_) => true,
            XSetId { .. } | Del { .. } | Produce(_) => true,
            XGroup(g) => !matches!(g, self::XGroup::Help),
            XRange { .. } | XLen { .. } | XRead(_) | XPending { .. } | XInfo(_) => false,
            Exists { .. } | Type { .. } | Keys { .. } | Scan { .. } | Malformed(_) => false,
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
            XClaim(c) => vec![c.key.clone()],
            XAutoClaim(c) => vec![c.key.clone()],
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
            Del { keys } | Exists { keys } => keys.clone(),
            Keys { .. } | Scan { .. } => Vec::new(),
            Produce(p) => p.add.keys(),
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
