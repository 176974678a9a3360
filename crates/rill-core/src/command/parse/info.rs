//! XINFO and XSETID.

use super::*;
use crate::command::*;

pub(super) const XINFO_ARITY: &[(&str, i32)] =
    &[("STREAM", -3), ("GROUPS", 3), ("CONSUMERS", 4), ("HELP", 2)];

/// Entries and pending records XINFO STREAM FULL shows per list when COUNT is not given.
pub const XINFO_FULL_COUNT_DEFAULT: u64 = 10;

pub(super) fn parse_xinfo(a: &[Vec<u8>]) -> Parsed {
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

pub(super) fn parse_xsetid(a: &[Vec<u8>]) -> Parsed {
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
