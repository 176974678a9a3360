//! Limits on everything that grows. Hitting one is a clear error reply, never a silent cut.

use crate::command::{Command, XGroup};
use crate::reply::Reply;

/// Limits the engine enforces. Units are in the names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest stream key, group name or consumer name.
    pub name_bytes_max: usize,
    /// Largest entry: the sum of its field and value lengths.
    pub entry_bytes_max: usize,
    /// Most field-value pairs in one entry.
    pub entry_fields_max: usize,
    /// Most entries (or pending records) one reply may carry. A range without COUNT that would
    /// exceed it is an error asking for COUNT.
    pub reply_entries_max: usize,
    /// Most entries one XDEL/XACK/XCLAIM may name.
    pub ids_per_command_max: usize,
    /// Most groups per stream.
    pub groups_per_stream_max: usize,
    /// Most consumers per group.
    pub consumers_per_group_max: usize,
    /// Most pending entries per group.
    pub pending_per_group_max: u64,
    /// Most idempotent producers remembered at once.
    pub producers_max: u64,
    /// How long a producer that stops writing is remembered: a retry within this window
    /// answers the original ID.
    pub producer_idle_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            name_bytes_max: 1024,
            entry_bytes_max: 1 << 20,
            entry_fields_max: 1024,
            reply_entries_max: 100_000,
            ids_per_command_max: 100_000,
            groups_per_stream_max: 1024,
            consumers_per_group_max: 10_000,
            pending_per_group_max: 10_000_000,
            producers_max: 100_000,
            producer_idle_ms: 10 * 60 * 1000,
        }
    }
}

impl Command {
    /// Checks request sizes against the limits before anything runs.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), Reply> {
        for key in self.keys() {
            check_name(&key, limits)?;
        }
        match self {
            Command::XAdd { fields, .. } => {
                if fields.len() > limits.entry_fields_max {
                    return Err(Reply::Error(format!(
                        "ERR entry has more than {} fields",
                        limits.entry_fields_max
                    )));
                }
                let bytes: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
                if bytes > limits.entry_bytes_max {
                    return Err(Reply::Error(format!(
                        "ERR entry is larger than {} bytes",
                        limits.entry_bytes_max
                    )));
                }
            }
            Command::XReadGroup(r) => {
                check_name(&r.group, limits)?;
                check_name(&r.consumer, limits)?;
            }
            Command::Produce(p) => {
                check_name(&p.producer, limits)?;
                p.add.check_limits(limits)?;
            }
            Command::XClaim(c) => {
                check_name(&c.group, limits)?;
                check_name(&c.consumer, limits)?;
            }
            Command::XAutoClaim(c) => {
                check_name(&c.group, limits)?;
                check_name(&c.consumer, limits)?;
            }
            Command::XGroup(
                XGroup::Create { group, .. }
                | XGroup::SetId { group, .. }
                | XGroup::Destroy { group, .. },
            ) => check_name(group, limits)?,
            Command::XGroup(
                XGroup::CreateConsumer {
                    group, consumer, ..
                }
                | XGroup::DelConsumer {
                    group, consumer, ..
                },
            ) => {
                check_name(group, limits)?;
                check_name(consumer, limits)?;
            }
            _ => {}
        }
        let ids = match self {
            Command::XDel { ids, .. } | Command::XAck { ids, .. } => ids.len(),
            Command::XClaim(c) => c.ids.len(),
            _ => 0,
        };
        if ids > limits.ids_per_command_max {
            return Err(Reply::Error(format!(
                "ERR more than {} IDs in one command",
                limits.ids_per_command_max
            )));
        }
        Ok(())
    }
}

fn check_name(name: &[u8], limits: &Limits) -> Result<(), Reply> {
    if name.len() > limits.name_bytes_max {
        return Err(Reply::Error(format!(
            "ERR key or name longer than {} bytes",
            limits.name_bytes_max
        )));
    }
    Ok(())
}
