//! `WAIT numreplicas timeout` and `WAITAOF numlocal numreplicas timeout`, answered from Raft.
//!
//! A write is acknowledged once it is committed, that is fsynced on a quorum, so every write a
//! client has been acknowledged is already on `quorum - 1` nodes besides the leader. The
//! leader counts exactly: the followers whose log matches its own up to everything applied
//! when WAIT arrived (which covers every write acknowledged to the client). A follower knows
//! only the commit rule, and answers `quorum - 1`. For WAITAOF, "local" is this node's fsync
//! of its log, which precedes every acknowledgement when fsync is on.

use std::time::Duration;

use rill_core::id::parse_i64;
use rill_core::Reply;
use rill_raft::{Role, Status};

/// A parsed WAIT or WAITAOF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitFor {
    /// WAITAOF's `numlocal` (0 or 1); `None` for WAIT.
    pub local: Option<i64>,
    pub replicas: i64,
    /// `None`: wait for as long as it takes (a timeout of 0).
    pub timeout: Option<Duration>,
}

/// How often a waiting client looks at the replication progress again.
pub const POLL: Duration = Duration::from_millis(2);

/// `WAIT numreplicas timeout`, with Redis's checks in its order.
pub(super) fn parse_wait(args: &[Vec<u8>]) -> Result<WaitFor, Reply> {
    let replicas =
        parse_i64(&args[0]).ok_or_else(|| Reply::err(rill_core::reply::errors::NOT_INTEGER))?;
    let timeout = parse_timeout(&args[1])?;
    Ok(WaitFor {
        local: None,
        replicas,
        timeout,
    })
}

/// `WAITAOF numlocal numreplicas timeout`, with Redis's checks in its order. `fsync`: whether
/// this node fsyncs its log (Redis: `appendonly yes`).
pub(super) fn parse_waitaof(args: &[Vec<u8>], fsync: bool) -> Result<WaitFor, Reply> {
    let local = parse_i64(&args[0])
        .filter(|n| (0..=1).contains(n))
        .ok_or_else(|| Reply::err("ERR value is out of range, value must between 0 and 1"))?;
    let replicas = parse_i64(&args[1])
        .filter(|n| *n >= 0)
        .ok_or_else(|| Reply::err("ERR value is out of range, must be positive"))?;
    let timeout = parse_timeout(&args[2])?;
    if local > 0 && !fsync {
        return Err(Reply::err(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
        ));
    }
    Ok(WaitFor {
        local: Some(local),
        replicas,
        timeout,
    })
}

/// Redis's `getTimeoutFromObjectOrReply` in milliseconds.
fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Reply> {
    let ms = parse_i64(arg)
        .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
    match ms {
        ..0 => Err(Reply::err("ERR timeout is negative")),
        0 => Ok(None),
        ms => Ok(Some(Duration::from_millis(ms.unsigned_abs()))),
    }
}

/// The store index every write acknowledged so far is at or below (taken when WAIT arrives).
pub fn target(status: &Status) -> u64 {
    status.applied_index
}

/// Replicas known to hold everything up to `target`.
pub fn replicas_holding(status: &Status, target: u64) -> i64 {
    let others = status.members.iter().filter(|(id, _, _)| *id != status.id);
    if status.role == Role::Leader {
        let holding = others
            .filter(|(id, _, _)| status.matched_index(*id) >= target)
            .count();
        return i64::try_from(holding).unwrap_or(i64::MAX);
    }
    if status.leader.is_none() {
        return 0;
    }
    let voters = status.members.iter().filter(|(_, _, voter)| *voter).count();
    i64::try_from(voters / 2).unwrap_or(i64::MAX)
}

impl WaitFor {
    pub fn satisfied(&self, replicas: i64) -> bool {
        replicas >= self.replicas
    }

    /// WAIT's integer, or WAITAOF's `[local, replicas]`.
    pub fn reply(&self, replicas: i64, fsync: bool) -> Reply {
        match self.local {
            None => Reply::Int(replicas),
            Some(_) => Reply::Array(vec![Reply::Int(i64::from(fsync)), Reply::Int(replicas)]),
        }
    }
}
