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
