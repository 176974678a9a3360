//! XADD and XTRIM: the ID, NOMKSTREAM and the trim clause they share, with its reference
//! policy.

use super::*;
use crate::command::*;
use crate::id::{parse_id_with_default, parse_u64};

/// What XADD/XTRIM options parse to: the trim clause, NOMKSTREAM, and XADD's ID with its index.
type AddOrTrim = (Option<Trim>, bool, Option<(AddId, usize)>);

/// The shared option parser of XADD and XTRIM (`streamParseAddOrTrimArgsOrReply`). Returns the
/// trim clause and, for XADD, the index of the ID argument.
fn parse_add_or_trim(a: &[Vec<u8>], xadd: bool) -> Result<AddOrTrim, Reply> {
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<u64> = None;
    let mut nomkstream = false;
    let mut policy = None;
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
        } else if let Some(p) = policy.is_none().then(|| ref_policy(opt)).flatten() {
            // A second policy, even the same one, is not an option: XADD takes it for the ID.
            policy = Some(p);
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
    // XADD takes a policy without a trimming strategy, and has no use for it.
    let trim = strategy.map(|strategy| Trim {
        strategy,
        approx,
        limit,
        policy: policy.unwrap_or_default(),
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

pub(super) fn parse_xadd(a: &[Vec<u8>]) -> Parsed {
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
pub(super) fn parse_xtrim(a: &[Vec<u8>]) -> Parsed {
    let (trim, _, _) = parse_add_or_trim(a, false)?;
    let trim = trim.expect("parse_add_or_trim demands a strategy for XTRIM");
    Ok(Command::XTrim {
        key: a[0].clone(),
        trim,
    })
}
