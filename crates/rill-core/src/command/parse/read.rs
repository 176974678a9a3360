//! XRANGE, XREVRANGE, XREAD and XREADGROUP.

use super::*;
use crate::command::*;

pub(super) fn parse_xrange(a: &[Vec<u8>], rev: bool) -> Parsed {
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

pub(super) fn parse_xread(a: &[Vec<u8>], group: bool) -> Parsed {
    let name = if group { "xreadgroup" } else { "xread" };
    let mut count = None;
    let mut block_ms = None;
    let mut names = None;
    let mut noack = false;
    let mut claim_min_idle_ms = None;
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
        } else if eq(opt, "CLAIM") && more > 0 {
            if !group {
                return Err(err("ERR The CLAIM option is only supported by XREADGROUP. You called XREAD instead."));
            }
            // Each CLAIM is checked; the last one counts. 0 is accepted despite the message.
            let ms = crate::id::parse_i64(&a[i + 1])
                .ok_or_else(|| err("ERR min-idle-time is not an integer or out of range"))?;
            if ms < 0 {
                return Err(err("ERR min-idle-time must be a positive integer"));
            }
            claim_min_idle_ms = Some(ms as u64);
            i += 1;
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
            claim_min_idle_ms,
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
