//! Executes a [`Command`] against a [`Store`] at a stamped time, following `t_stream.c`.
//!
//! Every function here is deterministic: the only time is `now_ms`, given by the caller (the
//! leader stamps it into the log entry). Replies are values; nothing here fails with `Err`.
//!
//! [`execute`] hands each command to a method of `Exec`, kept with its family:
//!
//! ```text
//!  execute ─┬─▶ append       XADD, a producer's XADD, the ID an XADD gets
//!           ├─▶ idmp         XADD with IDMP or IDMPAUTO, XCFGSET
//!           ├─▶ trim         XDEL, XTRIM, and the trimming XADD asks for
//!           ├─▶ references   XDELEX, XACKDEL, and what KEEPREF|DELREF|ACKED mean to trimming
//!           ├─▶ read         XRANGE, XREVRANGE, XREAD
//!           ├─▶ groups       XGROUP, consumers and their pending counts, group limits
//!           ├─▶ group_read   XREADGROUP, XACK
//!           │     └─▶ claim_read  XREADGROUP's CLAIM
//!           ├─▶ pending      XPENDING
//!           ├─▶ claim        XCLAIM, XAUTOCLAIM
//!           ├─▶ info         XINFO
//!           ├─▶ setid        XSETID
//!           ├─▶ keyspace     DEL, KEYS, SCAN, FLUSHALL (XLEN, EXISTS and TYPE are answered here)
//!           ├─▶ transaction  EXEC and the change stamps WATCH reads
//!           └─▶ malformed    a missing key or group named by a malformed command
//! ```
//!
//! `entries_read` keeps a group's `entries-read` counter and `lag`. The families share only
//! what is in this file, except where one uses another's bookkeeping: `append` trims through
//! `trim`, `idmp` appends through `append`, `trim` and `references` use each other's removals, `group_read`, `claim` and
//! `references` use `groups`, `group_read` and `info` use `entries_read`.

mod append;
mod claim;
mod claim_read;
mod entries_read;
mod group_read;
mod groups;
mod idmp;
mod info;
mod keyspace;
mod malformed;
mod nack;
mod pending;
mod read;
mod references;
mod setid;
mod transaction;
mod trim;

use crate::command::{Command, ReadFrom};
use crate::id::StreamId;
use crate::limits::Limits;
use crate::reply::Reply;
use crate::store::{Fields, Store};

pub use claim_read::claim_wake_ms;
pub use entries_read::group_lag;

/// Entries per node for approximate (`~`) trimming: Redis's default `stream-node-max-entries`.
/// Rill has no nodes, so `~` removes entries in multiples of this, never more than exact
/// trimming would; that is within what Redis promises for `~` ("at least N remain").
pub const TRIM_NODE_ENTRIES: u64 = 100;

/// Runs one command. Reads leave the store untouched; writes leave their effects in it.
pub fn execute<S: Store>(store: &mut S, cmd: &Command, now_ms: u64, limits: &Limits) -> Reply {
    if let Err(reply) = cmd.check_limits(limits) {
        return reply;
    }
    let mut ex = Exec {
        store,
        now_ms,
        limits,
    };
    match cmd {
        Command::XAdd {
            key,
            nomkstream,
            trim,
            id,
            fields,
        } => ex.xadd(key, *nomkstream, trim.as_ref(), id, fields),
        Command::XRange {
            key,
            start,
            end,
            count,
            rev,
        } => ex.xrange(key, *start, *end, *count, *rev),
        Command::XLen { key } => Reply::Int(ex.store.stream(key).map_or(0, |m| m.length) as i64),
        Command::XDel { key, ids } => ex.xdel(key, ids),
        Command::XTrim { key, trim } => ex.xtrim(key, trim),
        Command::XRead(r) => ex.xread(r),
        Command::XGroup(g) => ex.xgroup(g),
        Command::XReadGroup(r) => ex.xreadgroup(r),
        Command::XAck { key, group, ids } => ex.xack(key, group, ids),
        Command::XPending { key, group, range } => ex.xpending(key, group, range.as_ref()),
        Command::XClaim(c) => ex.xclaim(c),
        Command::XAutoClaim(c) => ex.xautoclaim(c),
        Command::Malformed(m) => ex.malformed(m),
        Command::XInfo(i) => ex.xinfo(i),
        Command::XSetId {
            key,
            last_id,
            entries_added,
            max_deleted_id,
        } => ex.xsetid(key, *last_id, *entries_added, *max_deleted_id),
        Command::Del { keys } => ex.del(keys),
        Command::Exists { keys } => {
            Reply::Int(keys.iter().filter(|k| ex.store.stream(k).is_some()).count() as i64)
        }
        Command::Type { key } => Reply::Status(
            if ex.store.stream(key).is_some() {
                "stream"
            } else {
                "none"
            }
            .to_owned(),
        ),
        Command::Keys { pattern } => ex.keys(pattern),
        Command::Scan {
            cursor,
            pattern,
            count,
            type_filter,
        } => ex.scan(*cursor, pattern.as_deref(), *count, type_filter.as_deref()),
        Command::Produce(p) => ex.produce(p),
        Command::Exec(t) => ex.exec(t),
        Command::KeyVersions { keys } => ex.key_versions(keys),
        Command::FlushAll => ex.flushall(),
        Command::XDelEx { key, policy, ids } => ex.xdelex(key, *policy, ids),
        Command::XAckDel {
            key,
            group,
            policy,
            ids,
        } => ex.xackdel(key, group, *policy, ids),
        Command::Idempotent(i) => ex.xadd_idempotent(i),
        Command::XCfgSet {
            key,
            duration_s,
            maxsize,
        } => ex.xcfgset(key, *duration_s, *maxsize),
        Command::XNack(n) => ex.xnack(n),
    }
}

/// What `$` and `+` mean for XREAD right now.
pub fn resolve_read_from<S: Store>(store: &S, key: &[u8], from: ReadFrom) -> ReadFrom {
    let meta = store.stream(key);
    match from {
        ReadFrom::Last => ReadFrom::After(meta.map_or(StreamId::MIN, |m| m.last_id)),
        ReadFrom::LastEntry => {
            let last = meta.filter(|m| m.length > 0).and_then(|m| m.last_id.prev());
            ReadFrom::After(last.unwrap_or(StreamId::MIN))
        }
        other => other,
    }
}

pub fn entry_reply(id: StreamId, fields: Fields) -> Reply {
    Reply::Array(vec![id_reply(id), fields_reply(fields)])
}

/// An entry's fields and values, flat, moved into the reply rather than copied: every read
/// that answers with entries has just decoded them for it.
fn fields_reply(fields: Fields) -> Reply {
    let mut flat = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        flat.push(Reply::Bulk(f));
        flat.push(Reply::Bulk(v));
    }
    Reply::Array(flat)
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn nogroup_read(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn too_many(limits: &Limits) -> Reply {
    Reply::err(format!(
        "ERR reply would exceed {} entries (reply_entries_max); use COUNT to page",
        limits.reply_entries_max
    ))
}

/// `hint`: how to ask for less ("use COUNT to page").
fn too_large(limits: &Limits, hint: &str) -> Reply {
    Reply::err(format!(
        "ERR reply would exceed {} bytes (reply_bytes_max); {hint}",
        limits.reply_bytes_max
    ))
}

fn help(lines: &[&str]) -> Reply {
    Reply::Array(
        lines
            .iter()
            .map(|l| Reply::Status((*l).to_owned()))
            .collect(),
    )
}

struct Exec<'a, S: Store> {
    store: &'a mut S,
    now_ms: u64,
    limits: &'a Limits,
}

impl<S: Store> Exec<'_, S> {
    /// How many records to fetch for a request of `count` (None: unlimited): one more than the
    /// limit, so that exceeding it can be told from meeting it.
    fn fetch_limit(&self, count: Option<u64>) -> usize {
        let cap = self.limits.reply_entries_max;
        match count {
            Some(n) if (n as usize) <= cap => n as usize,
            _ => cap + 1,
        }
    }

    fn over_limit<T>(&self, got: &[T]) -> bool {
        got.len() > self.limits.reply_entries_max
    }

    /// Entries of `key` in `start..=end` for a reply of `count`, read no further than the
    /// reply may go; `Err` if it would pass either limit, counting `spent` bytes already in the
    /// reply (other streams of the same XREAD).
    fn reply_entries(
        &self,
        key: &[u8],
        (start, end): (StreamId, StreamId),
        rev: bool,
        count: Option<u64>,
        spent: &mut usize,
    ) -> Result<Vec<(StreamId, crate::store::Fields)>, Reply> {
        let budget = self.limits.reply_bytes_max.saturating_sub(*spent);
        let got = self
            .store
            .entries_within(key, start, end, rev, self.fetch_limit(count), budget);
        if self.over_limit(&got) {
            return Err(too_many(self.limits));
        }
        let bytes: usize = got
            .iter()
            .map(|(_, f)| crate::store::entry_reply_bytes(f))
            .sum();
        if bytes > budget {
            return Err(too_large(self.limits, "use COUNT to page"));
        }
        *spent += bytes;
        Ok(got)
    }
}
