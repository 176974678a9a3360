//! Argument vectors to [`Command`]s, with Redis's arity table and error texts. The shared
//! helpers are here; each family of commands has its file.

mod append;
mod delete;
mod groups;
mod info;
mod keyspace;
mod read;

use crate::id::{parse_id, parse_range_bound, Bound, BoundError, StreamId};
use crate::reply::{errors, Reply};

use super::{malformed, Command, Missing};
use append::{parse_xadd, parse_xcfgset, parse_xtrim};
use delete::{parse_xackdel, parse_xdelex, ref_policy};
use groups::{parse_xautoclaim, parse_xclaim, parse_xgroup, parse_xnack, parse_xpending};
use info::{parse_xinfo, parse_xsetid};
use keyspace::{parse_flush, parse_scan};
use read::{parse_xrange, parse_xread};

pub use info::XINFO_FULL_COUNT_DEFAULT;
pub use keyspace::SCAN_COUNT_DEFAULT;

pub(crate) type Parsed = Result<Command, Reply>;

pub(crate) fn err(text: impl Into<String>) -> Reply {
    Reply::Error(text.into())
}

pub(crate) fn eq(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Redis's `getLongLongFromObjectOrReply`.
pub(crate) fn int_arg(arg: &[u8], message: Option<&str>) -> Result<i64, Reply> {
    crate::id::parse_i64(arg).ok_or_else(|| match message {
        Some(m) => err(format!("ERR {m}")),
        None => err(errors::NOT_INTEGER),
    })
}

pub(crate) fn strict_id(arg: &[u8]) -> Result<StreamId, Reply> {
    parse_id(arg).ok_or_else(|| err(errors::INVALID_ID))
}

/// A range bound for XRANGE/XPENDING/XAUTOCLAIM: `-`, `+`, `(` and IDs with optional sequence.
pub(crate) fn interval_id(arg: &[u8], side: Bound) -> Result<StreamId, Reply> {
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
    ("XDELEX", -5),
    ("XTRIM", -4),
    ("XREAD", -4),
    ("XGROUP", -2),
    ("XREADGROUP", -7),
    ("XACK", -4),
    ("XACKDEL", -6),
    ("XPENDING", -3),
    ("XCLAIM", -6),
    ("XAUTOCLAIM", -6),
    ("XINFO", -2),
    ("XSETID", -3),
    ("XCFGSET", -2),
    ("XNACK", -7),
    ("DEL", -2),
    ("EXISTS", -2),
    ("TYPE", 2),
    ("KEYS", 2),
    ("SCAN", -2),
    ("FLUSHALL", -1),
    ("FLUSHDB", -1),
];

pub(crate) fn arity_ok(arity: i32, argc: usize) -> bool {
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

/// The engine's commands that have subcommands, each with its subcommands' names and arities
/// (counting the command and subcommand names, as Redis does).
pub fn subcommand_arities() -> [(&'static str, &'static [(&'static str, i32)]); 2] {
    [
        ("XGROUP", groups::XGROUP_ARITY),
        ("XINFO", info::XINFO_ARITY),
    ]
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
        "XDELEX" => parse_xdelex(a),
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
        "XACKDEL" => parse_xackdel(a),
        "XPENDING" => parse_xpending(a),
        "XCLAIM" => {
            parse_xclaim(a).or_else(|e| Ok(malformed(&a[..1], Some(&a[1]), Missing::NoGroup, e)))
        }
        "XAUTOCLAIM" => parse_xautoclaim(a),
        "XINFO" => parse_xinfo(a),
        "XSETID" => parse_xsetid(a),
        "XCFGSET" => parse_xcfgset(a),
        "XNACK" => parse_xnack(a),
        "DEL" => Ok(Command::Del { keys: a.to_vec() }),
        "EXISTS" => Ok(Command::Exists { keys: a.to_vec() }),
        "TYPE" => Ok(Command::Type { key: a[0].clone() }),
        "KEYS" => Ok(Command::Keys {
            pattern: a[0].clone(),
        }),
        "SCAN" => parse_scan(a),
        "FLUSHALL" | "FLUSHDB" => parse_flush(a),
        _ => unreachable!("every name in ARITY has a parser"),
    })
}

pub(crate) fn parse_ids(args: &[Vec<u8>]) -> Result<Vec<StreamId>, Reply> {
    args.iter().map(|a| strict_id(a)).collect()
}

pub(crate) fn subcommand_syntax_error(sub: &[u8], command: &str) -> Reply {
    err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {command} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

pub(crate) fn check_subcommand(
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
