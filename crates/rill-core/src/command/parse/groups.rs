//! XGROUP, XPENDING, XCLAIM and XAUTOCLAIM.

use super::*;
use crate::command::*;

/// Subcommand arities, counting the command and subcommand names like Redis does.
pub(super) const XGROUP_ARITY: &[(&str, i32)] = &[
    ("CREATE", -5),
    ("SETID", -5),
    ("DESTROY", 4),
    ("CREATECONSUMER", 5),
    ("DELCONSUMER", 5),
    ("HELP", 2),
];

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

pub(super) fn parse_xgroup(a: &[Vec<u8>]) -> Parsed {
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

pub(super) fn parse_xpending(a: &[Vec<u8>]) -> Parsed {
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

pub(super) fn parse_xclaim(a: &[Vec<u8>]) -> Parsed {
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

pub(super) fn parse_xautoclaim(a: &[Vec<u8>]) -> Parsed {
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

/// XNACK's errors that Redis 8.8 passes to `addReplyError` with their own `ERR ` prefix, so
/// that the wire carries it twice (`-ERR ERR mode must be ...`). Odd, and matched.
fn nack_error(text: &str) -> Reply {
    err(format!("ERR ERR {text}"))
}

/// `XNACK key group SILENT|FAIL|FATAL [IDS numids id ...] [RETRYCOUNT n] [FORCE]`, the options
/// in any order after the mode. A missing key or group is answered before any syntax error.
pub(super) fn parse_xnack(a: &[Vec<u8>]) -> Parsed {
    parse_xnack_args(a).or_else(|e| Ok(malformed(&a[..1], Some(&a[1]), Missing::NoGroup, e)))
}

fn parse_xnack_args(a: &[Vec<u8>]) -> Parsed {
    let mode = match String::from_utf8_lossy(&a[2]).to_ascii_uppercase().as_str() {
        "SILENT" => NackMode::Silent,
        "FAIL" => NackMode::Fail,
        "FATAL" => NackMode::Fatal,
        _ => return Err(nack_error("mode must be SILENT, FAIL, or FATAL")),
    };
    let mut ids: Option<&[Vec<u8>]> = None;
    let mut retry_count = None;
    let mut force = false;
    let mut j = 3;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = &a[j];
        if eq(opt, "IDS") && more >= 1 {
            let numids = crate::id::parse_i64(&a[j + 1])
                .filter(|n| (1..=i64::from(i32::MAX)).contains(n))
                .ok_or_else(|| err("ERR numids must be a positive integer"))?;
            let numids = numids as usize;
            if numids > more - 1 {
                return Err(nack_error("number of IDs doesn't match numids"));
            }
            // A second IDS block replaces the first, as in Redis.
            ids = Some(&a[j + 2..j + 2 + numids]);
            j += 2 + numids;
            continue;
        } else if eq(opt, "FORCE") {
            force = true;
        } else if eq(opt, "RETRYCOUNT") && more >= 1 {
            j += 1;
            let n = int_arg(&a[j], None)?;
            if n < 0 {
                return Err(nack_error("Invalid RETRYCOUNT value, must be >= 0"));
            }
            retry_count = Some(n as u64);
        } else {
            return Err(nack_error(&format!(
                "Unrecognized XNACK option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    let ids = ids.ok_or_else(|| nack_error("syntax error, expected IDS keyword"))?;
    let ids = ids
        .iter()
        .map(|id| strict_id(id))
        .collect::<Result<_, _>>()?;
    Ok(Command::XNack(XNack {
        key: a[0].clone(),
        group: a[1].clone(),
        mode,
        ids,
        retry_count,
        force,
    }))
}
