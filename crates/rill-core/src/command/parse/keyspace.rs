//! SCAN, FLUSHALL and FLUSHDB.

use super::*;
use crate::command::*;
use crate::id::parse_u64;

/// Keys a SCAN call visits when COUNT is not given (Redis's default).
pub const SCAN_COUNT_DEFAULT: u64 = 10;

pub(super) fn parse_scan(a: &[Vec<u8>]) -> Parsed {
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

/// `FLUSHALL|FLUSHDB [ASYNC|SYNC]`: both ways remove everything before the reply.
pub(super) fn parse_flush(a: &[Vec<u8>]) -> Parsed {
    match a {
        [] => Ok(Command::FlushAll),
        [mode] if eq(mode, "ASYNC") || eq(mode, "SYNC") => Ok(Command::FlushAll),
        _ => Err(err(errors::SYNTAX)),
    }
}
