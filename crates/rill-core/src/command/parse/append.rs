//! XADD and XTRIM: the ID, NOMKSTREAM, IDMP and the trim clause they share, with its
//! reference policy.

use super::*;
use crate::command::*;
use crate::id::{parse_id_with_default, parse_u64};
use crate::store::{Fields, IdmpMeta};

/// What XADD/XTRIM options parse to.
struct AddOrTrim {
    trim: Option<Trim>,
    nomkstream: bool,
    /// XADD's `IDMP pid iid` or `IDMPAUTO pid`.
    idmp: Option<IdmpArg>,
    /// XADD's ID with the index of its argument.
    id: Option<(AddId, usize)>,
}

enum IdmpArg {
    Given { pid: Vec<u8>, iid: Vec<u8> },
    Auto { pid: Vec<u8> },
}

/// The shared option parser of XADD and XTRIM (`streamParseAddOrTrimArgsOrReply`). Returns the
/// trim clause and, for XADD, the index of the ID argument.
fn parse_add_or_trim(a: &[Vec<u8>], xadd: bool) -> Result<AddOrTrim, Reply> {
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<u64> = None;
    let mut nomkstream = false;
    let mut policy = None;
    let mut idmp = None;
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
        } else if xadd && eq(opt, "IDMPAUTO") && more >= 1 {
            idmp = Some(parse_idmp(idmp.is_some(), &a[i + 1], None)?);
            i += 2;
            continue;
        } else if xadd && eq(opt, "IDMP") && more >= 2 {
            idmp = Some(parse_idmp(idmp.is_some(), &a[i + 1], Some(&a[i + 2]))?);
            i += 3;
            continue;
        } else if xadd && eq(opt, "NOMKSTREAM") {
            nomkstream = true;
        } else if let Some(p) = policy.is_none().then(|| ref_policy(opt)).flatten() {
            // A second policy, even the same one, is not an option: XADD takes it for the ID.
            policy = Some(p);
        } else if xadd {
            let parsed = parse_add_id(opt)?;
            if idmp.is_some() {
                return Err(err(
                    "ERR syntax error, IDMP/IDMPAUTO can be used only with auto-generated IDs",
                ));
            }
            id = Some((parsed, i));
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
    Ok(AddOrTrim {
        trim,
        nomkstream,
        idmp,
        id,
    })
}

/// `IDMP pid iid` (`iid` given) or `IDMPAUTO pid`; `seen`: one came before.
fn parse_idmp(seen: bool, pid: &[u8], iid: Option<&Vec<u8>>) -> Result<IdmpArg, Reply> {
    if seen {
        return Err(err(
            "ERR syntax error, IDMP/IDMPAUTO specified multiple times",
        ));
    }
    let option = if iid.is_some() { "IDMP" } else { "IDMPAUTO" };
    if pid.is_empty() {
        return Err(err(format!(
            "ERR syntax error, {option} requires a non-empty producer ID"
        )));
    }
    Ok(match iid {
        Some(iid) if iid.is_empty() => {
            return Err(err(
                "ERR syntax error, IDMP requires a non-empty idempotent ID",
            ))
        }
        Some(iid) => IdmpArg::Given {
            pid: pid.to_vec(),
            iid: iid.clone(),
        },
        None => IdmpArg::Auto { pid: pid.to_vec() },
    })
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
    let AddOrTrim {
        trim,
        nomkstream,
        idmp,
        id,
    } = parse_add_or_trim(a, true)?;
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
    let fields: Fields = rest
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let (pid, iid) = match idmp {
        None => None,
        Some(IdmpArg::Given { pid, iid }) => Some((pid, iid)),
        Some(IdmpArg::Auto { pid }) => Some((pid, auto_iid(&fields).to_vec())),
    }
    .unzip();
    let add = Command::XAdd {
        key: a[0].clone(),
        nomkstream,
        trim,
        id,
        fields,
    };
    Ok(match (pid, iid) {
        (Some(pid), Some(iid)) => Command::Idempotent(Box::new(Idempotent { pid, iid, add })),
        _ => add,
    })
}

/// IDMPAUTO's iid: a 128-bit XXH3 of the field-value pairs that does not depend on their
/// order, as Redis computes it (`createIdempotencyHash`): each pair hashed alone (field, the
/// field's length as 8 bytes little-endian, value), the hashes' halves summed and xored, and
/// the two mixed. 16 bytes, low half first, each little-endian.
pub(crate) fn auto_iid(fields: &Fields) -> [u8; 16] {
    let (mut sum_lo, mut sum_hi, mut xor_lo, mut xor_hi) = (0u64, 0u64, 0u64, 0u64);
    for (field, value) in fields {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(field);
        hasher.update(&(field.len() as u64).to_le_bytes());
        hasher.update(value);
        let hash = hasher.digest128();
        let (lo, hi) = (hash as u64, (hash >> 64) as u64);
        sum_lo = sum_lo.wrapping_add(lo);
        sum_hi = sum_hi.wrapping_add(hi);
        xor_lo ^= lo;
        xor_hi ^= hi;
    }
    let low = sum_lo ^ xor_hi.rotate_left(1);
    let high = sum_hi ^ xor_lo.rotate_left(1);
    let mut iid = [0u8; 16];
    iid[..8].copy_from_slice(&low.to_le_bytes());
    iid[8..].copy_from_slice(&high.to_le_bytes());
    iid
}

/// XTRIM parses its options before it looks the key up (Redis 6.2+), so a missing key answers
/// 0 only to well-formed options.
pub(super) fn parse_xtrim(a: &[Vec<u8>]) -> Parsed {
    let trim = parse_add_or_trim(a, false)?
        .trim
        .expect("parse_add_or_trim demands a strategy for XTRIM");
    Ok(Command::XTrim {
        key: a[0].clone(),
        trim,
    })
}

/// `XCFGSET key [IDMP-DURATION seconds] [IDMP-MAXSIZE count]`. Redis looks the key up first:
/// a missing key answers `no such key` to any arguments.
pub(super) fn parse_xcfgset(a: &[Vec<u8>]) -> Parsed {
    let key = a[0].clone();
    parse_idmp_settings(&a[1..])
        .map(|(duration_s, maxsize)| Command::XCfgSet {
            key,
            duration_s,
            maxsize,
        })
        .or_else(|e| Ok(malformed(&a[..1], None, Missing::NoSuchKey, e)))
}

fn parse_idmp_settings(a: &[Vec<u8>]) -> Result<(Option<u64>, Option<u64>), Reply> {
    let (mut duration_s, mut maxsize) = (None, None);
    let mut i = 0;
    while i < a.len() {
        let (setting, max, unit) = if eq(&a[i], "IDMP-DURATION") {
            (&mut duration_s, IdmpMeta::DURATION_S_MAX, "seconds")
        } else if eq(&a[i], "IDMP-MAXSIZE") {
            (&mut maxsize, IdmpMeta::MAXSIZE_MAX, "entries")
        } else {
            return Err(err(errors::SYNTAX));
        };
        let name = String::from_utf8_lossy(&a[i]).to_ascii_uppercase();
        let Some(value) = a.get(i + 1) else {
            return Err(err(errors::SYNTAX));
        };
        if setting.is_some() {
            return Err(err(format!("ERR {name} specified multiple times")));
        }
        let n = int_arg(value, None)?;
        if !(1..=max as i64).contains(&n) {
            return Err(err(format!(
                "ERR {name} must be between 1 and {max} {unit}"
            )));
        }
        *setting = Some(n as u64);
        i += 2;
    }
    if duration_s.is_none() && maxsize.is_none() {
        return Err(err("ERR At least one parameter must be specified"));
    }
    Ok((duration_s, maxsize))
}
