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
    /// Most bytes of entries one reply may carry ([`crate::store::entry_reply_bytes`]): a read
    /// that would pass it is refused, having loaded at most one entry more. XAUTOCLAIM stops
    /// early instead, with a cursor to go on from.
    pub reply_bytes_max: usize,
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
    /// Most IDMP iids one stream remembers over all its producers (Redis bounds them only per
    /// producer, by `idmp-maxsize`); past it the stream's oldest is forgotten.
    pub idmp_iids_per_stream_max: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            name_bytes_max: 1024,
            entry_bytes_max: 1 << 20,
            entry_fields_max: 1024,
            reply_entries_max: 100_000,
            reply_bytes_max: 32 << 20,
            ids_per_command_max: 100_000,
            groups_per_stream_max: 1024,
            consumers_per_group_max: 10_000,
            pending_per_group_max: 10_000_000,
            producers_max: 100_000,
            producer_idle_ms: 10 * 60 * 1000,
            idmp_iids_per_stream_max: 100_000,
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
            Command::Idempotent(i) => {
                check_name(&i.pid, limits)?;
                check_name(&i.iid, limits)?;
                i.add.check_limits(limits)?;
            }
            Command::Exec(t) => {
                for command in &t.commands {
                    command.check_limits(limits)?;
                }
            }
            Command::XAckDel { group, .. } => check_name(group, limits)?,
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
            Command::XDelEx { ids, .. } | Command::XAckDel { ids, .. } => ids.len(),
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

/// Bytes a byte string may take in an encoded command beyond its contents (a length prefix).
const STRING_OVERHEAD_BYTES: usize = 10;
/// Bytes a stream ID may take encoded (two variable-length integers).
const ID_BYTES: usize = 20;
/// Bytes every command may take beyond its strings and IDs (its tag, options and integers).
const COMMAND_OVERHEAD_BYTES: usize = 128;

impl Limits {
    /// The most bytes ([`Command::size_bytes`]) a command within these limits may take,
    /// other than one naming many keys (DEL, EXISTS), which only the log entry's byte bound
    /// limits: the fullest XADD through an idempotent producer or with IDMP, or the XCLAIM
    /// naming the most IDs.
    pub fn largest_command_bytes(&self) -> usize {
        let name = self.name_bytes_max + STRING_OVERHEAD_BYTES;
        let xadd = name + self.entry_bytes_max + 2 * self.entry_fields_max * STRING_OVERHEAD_BYTES;
        // A producer's XADD names the producer; an IDMP one, its pid and iid.
        let tagged = 2 * name + xadd + COMMAND_OVERHEAD_BYTES;
        let claim = 3 * name + self.ids_per_command_max * ID_BYTES;
        tagged.max(claim) + COMMAND_OVERHEAD_BYTES
    }
}

impl Command {
    /// An upper bound on the bytes this command takes in a log entry: its keys, names, fields
    /// and IDs with their framing. Cheap: nothing is encoded or copied.
    pub fn size_bytes(&self) -> usize {
        use crate::command::XInfo;
        fn text(bytes: &[u8]) -> usize {
            bytes.len() + STRING_OVERHEAD_BYTES
        }
        fn texts<'a>(all: impl IntoIterator<Item = &'a Vec<u8>>) -> usize {
            all.into_iter().map(|t| text(t)).sum()
        }
        let strings_and_ids = match self {
            Command::XAdd { key, fields, .. } => {
                text(key) + fields.iter().map(|(f, v)| text(f) + text(v)).sum::<usize>()
            }
            Command::XRange { key, .. }
            | Command::XLen { key }
            | Command::XTrim { key, .. }
            | Command::Type { key }
            | Command::XSetId { key, .. }
            | Command::Keys { pattern: key } => text(key),
            Command::XDel { key, ids } => text(key) + ids.len() * ID_BYTES,
            Command::XAck { key, group, ids } => text(key) + text(group) + ids.len() * ID_BYTES,
            Command::XDelEx { key, ids, .. } => text(key) + ids.len() * ID_BYTES,
            Command::Idempotent(i) => text(&i.pid) + text(&i.iid) + i.add.size_bytes(),
            Command::XCfgSet { key, .. } => text(key),
            Command::XNack(n) => text(&n.key) + text(&n.group) + n.ids.len() * ID_BYTES,
            Command::XAckDel {
                key, group, ids, ..
            } => text(key) + text(group) + ids.len() * ID_BYTES,
            Command::XRead(r) => {
                texts(r.streams.iter().map(|(k, _)| k)) + r.streams.len() * ID_BYTES
            }
            Command::XReadGroup(r) => {
                text(&r.group)
                    + text(&r.consumer)
                    + texts(r.streams.iter().map(|(k, _)| k))
                    + r.streams.len() * ID_BYTES
            }
            Command::XGroup(g) => match g {
                XGroup::Create { key, group, .. }
                | XGroup::SetId { key, group, .. }
                | XGroup::Destroy { key, group } => text(key) + text(group),
                XGroup::CreateConsumer {
                    key,
                    group,
                    consumer,
                }
                | XGroup::DelConsumer {
                    key,
                    group,
                    consumer,
                } => text(key) + text(group) + text(consumer),
                XGroup::Help => 0,
            },
            Command::XPending { key, group, range } => {
                let consumer = range.as_ref().and_then(|r| r.consumer.as_deref());
                text(key) + text(group) + consumer.map_or(0, text)
            }
            Command::XClaim(c) => {
                text(&c.key) + text(&c.group) + text(&c.consumer) + c.ids.len() * ID_BYTES
            }
            Command::XAutoClaim(c) => text(&c.key) + text(&c.group) + text(&c.consumer),
            Command::Malformed(m) => {
                texts(&m.keys) + m.group.as_deref().map_or(0, text) + text(m.error.as_bytes())
            }
            Command::XInfo(i) => match i {
                XInfo::Stream { key, .. } | XInfo::Groups { key } => text(key),
                XInfo::Consumers { key, group } => text(key) + text(group),
                XInfo::Help => 0,
            },
            Command::Del { keys } | Command::Exists { keys } | Command::KeyVersions { keys } => {
                texts(keys)
            }
            Command::FlushAll => 0,
            Command::Exec(t) => {
                texts(t.watched.iter().map(|(key, _)| key))
                    + t.watched.len() * ID_BYTES
                    + t.commands.iter().map(Command::size_bytes).sum::<usize>()
            }
            Command::Scan {
                pattern,
                type_filter,
                ..
            } => pattern.as_deref().map_or(0, text) + type_filter.as_deref().map_or(0, text),
            Command::Produce(p) => text(&p.producer) + p.add.size_bytes(),
        };
        strings_and_ids + COMMAND_OVERHEAD_BYTES
    }
}
