//! XDELEX and XACKDEL (Redis 8.2): a reference policy and an `IDS numids id...` block.

use super::*;
use crate::command::*;

/// `KEEPREF`, `DELREF` or `ACKED`, in any case.
pub(super) fn ref_policy(arg: &[u8]) -> Option<RefPolicy> {
    if eq(arg, "KEEPREF") {
        Some(RefPolicy::KeepRef)
    } else if eq(arg, "DELREF") {
        Some(RefPolicy::DelRef)
    } else if eq(arg, "ACKED") {
        Some(RefPolicy::Acked)
    } else {
        None
    }
}

/// The options of XDELEX and XACKDEL (`streamParseAckDelArgsOrReply`): at most one policy and
/// an IDS block, in any order. The scan goes on after the block, so a policy may follow it, a
/// second block replaces the first, and IDs past `numids` are a syntax error. Returns the
/// policy and the ID arguments, not yet parsed: a missing key answers before they are.
fn parse_policy_and_ids(a: &[Vec<u8>]) -> Result<(RefPolicy, &[Vec<u8>]), Reply> {
    let mut policy = None;
    let mut ids = None;
    let mut i = 0;
    while i < a.len() {
        let opt = &a[i];
        if let Some(p) = policy.is_none().then(|| ref_policy(opt)).flatten() {
            policy = Some(p);
            i += 1;
        } else if eq(opt, "IDS") && i + 1 < a.len() {
            let numids = crate::id::parse_i64(&a[i + 1])
                .filter(|n| *n > 0)
                .ok_or_else(|| err("ERR Number of IDs must be a positive integer"))?;
            let first = i + 2;
            if numids as u64 > (a.len() - first) as u64 {
                return Err(err(
                    "ERR The `numids` parameter must match the number of arguments",
                ));
            }
            let end = first + numids as usize;
            ids = Some(&a[first..end]);
            i = end;
        } else {
            return Err(err(errors::SYNTAX));
        }
    }
    let ids = ids.ok_or_else(|| err("ERR IDS option is required"))?;
    Ok((policy.unwrap_or_default(), ids))
}

/// `XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id...`. Redis looks the key up between the
/// options and the IDs: a missing key answers `-1` per ID even to an ID that does not parse.
pub(super) fn parse_xdelex(a: &[Vec<u8>]) -> Parsed {
    let (policy, ids) = parse_policy_and_ids(&a[1..])?;
    let key = a[0].clone();
    match parse_ids(ids) {
        Ok(ids) => Ok(Command::XDelEx { key, policy, ids }),
        Err(e) => Ok(malformed(
            &a[..1],
            None,
            Missing::EachNotFound(ids.len() as u64),
            e,
        )),
    }
}

/// `XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id...`. As XDELEX, and a missing
/// group answers as a missing key does (no NOGROUP).
pub(super) fn parse_xackdel(a: &[Vec<u8>]) -> Parsed {
    let (policy, ids) = parse_policy_and_ids(&a[2..])?;
    let (key, group) = (a[0].clone(), a[1].clone());
    match parse_ids(ids) {
        Ok(ids) => Ok(Command::XAckDel {
            key,
            group,
            policy,
            ids,
        }),
        Err(e) => Ok(malformed(
            &a[..1],
            Some(&a[1]),
            Missing::EachNotFound(ids.len() as u64),
            e,
        )),
    }
}
