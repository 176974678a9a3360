//! The work queue (stream `q`, its groups `g` and `audit`) against a model driven by the
//! applied log: the order the replicas applied is the linearization, and each entry carries
//! the leader's stamp it ran at, so every reply must be the one the model predicts. Checked:
//! - `>` deliveries never skip or repeat an entry within a group: each is exactly the next
//!   entries present after the group's last delivered ID (which only XGROUP SETID moves back);
//! - an entry has one owner; only a claim or a new delivery after SETID changes it; a
//!   consumer's history read returns exactly its own pending entries;
//! - an acknowledged entry is never delivered or claimed again (unless SETID moved the group
//!   back before it);
//! - XCLAIM and XAUTOCLAIM claim exactly the entries idle for at least their min-idle time
//!   (XAUTOCLAIM: in order, with its COUNT and scan budget, reporting deleted ones), and a
//!   claim raises the delivery count by one (JUSTID: not at all); a `>` delivery sets it to
//!   one, a history read raises it by one;
//! - XACK, XDEL, DELCONSUMER, DESTROY and trims answer the counts the model predicts, and a
//!   command on a missing group answers an error;
//! - producer retries answer the first ID and append nothing;
//! - at the end, every node's stream and every group's pending list (owner, delivery count
//!   and time) equal the model's.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use rill_core::command::{GroupStart, ReadFrom, Trim, TrimStrategy, XAutoClaim, XClaim, XGroup};
use rill_core::{Command, Reply, Store, StreamId};

use crate::applied::AppliedLog;
use crate::NodeState;

pub const STREAM: &str = "q";
/// The workers' group.
pub const GROUP: &str = "g";
/// A second group: reads without acknowledging (NOACK), is moved (SETID), destroyed and
/// created again.
pub const AUDIT: &str = "audit";

/// One pending entry: owner, last delivery time and delivery count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub owner: Vec<u8>,
    pub delivered_ms: u64,
    pub count: u64,
}

/// A pending row as the nodes report it: `(group, id, owner, delivery count, delivery ms)`.
pub type PendingRow = (String, String, String, u64, u64);

#[derive(Default)]
pub struct Model {
    /// Entries present, in ID order, with their values.
    stream: BTreeMap<StreamId, String>,
    last_id: StreamId,
    /// Every entry ever appended.
    appended: BTreeMap<StreamId, String>,
    /// `(producer, seq)` to the ID its first application got.
    produced: BTreeMap<(Vec<u8>, u64), StreamId>,
    groups: BTreeMap<Vec<u8>, Group>,
    pub violations: Vec<String>,
    pub counts: Counts,
}

/// What the applied log did to the queue, for the report.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub appended: u64,
    pub delivered: u64,
    pub redelivered: u64,
    pub claimed: u64,
    pub acked: u64,
    pub trimmed: u64,
    pub deleted: u64,
    pub consumers_deleted: u64,
    pub group_moves: u64,
    pub groups_destroyed: u64,
}

#[derive(Default)]
struct Group {
    last_delivered: StreamId,
    pel: BTreeMap<StreamId, Pending>,
    /// Who each entry was handed to by `>` (new or claimed).
    delivered_to: BTreeMap<StreamId, BTreeSet<Vec<u8>>>,
    acked: BTreeSet<StreamId>,
}

fn is_queue(key: &[u8]) -> bool {
    key == STREAM.as_bytes()
}

fn name(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command on a missing group must fail.
fn missing_group(violations: &mut Vec<String>, what: &str, group: &[u8], reply: &Reply) {
    if !matches!(reply, Reply::Error(_)) {
        violations.push(format!(
            "{what} on missing group {} answered {reply:?}",
            name(group)
        ));
    }
}

/// How an XREADGROUP reads, beyond where from.
#[derive(Clone, Copy)]
struct ReadHow {
    count: Option<u64>,
    noack: bool,
    claim_min_idle_ms: Option<u64>,
}

/// `(id, idle, deliveries)` of a CLAIM read's four-element entries.
fn claims_of(entries: &Reply) -> Vec<(StreamId, u64, u64)> {
    let Reply::Array(entries) = entries else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Reply::Array(parts) => match parts.as_slice() {
                [Reply::Bulk(id), _, Reply::Int(idle), Reply::Int(count)] => {
                    Some((rill_core::id::parse_id(id)?, *idle as u64, *count as u64))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// IDs of an entry list: `[id, fields]` pairs, or bare IDs (JUSTID).
fn ids_of(entries: &Reply) -> Vec<StreamId> {
    super::entries_in(entries)
        .iter()
        .filter_map(|id| rill_core::id::parse_id(id.as_bytes()))
        .collect()
}

impl Model {
    /// Applies one command of log entry `index`, run at `now_ms`, and checks its reply.
    pub fn apply(&mut self, index: u64, now_ms: u64, command: &Command, reply: &Reply) {
        let before = self.violations.len();
        match command {
            Command::Produce(produce) => {
                if let (
                    Command::XAdd {
                        key, fields, trim, ..
                    },
                    Reply::Bulk(id),
                ) = (&produce.add, reply)
                {
                    if is_queue(key) {
                        let producer = (produce.producer.clone(), produce.seq);
                        if self.produce(producer, id, fields) {
                            self.trim_after_add(trim.as_ref());
                        }
                    }
                }
            }
            Command::XAdd {
                key, fields, trim, ..
            } if is_queue(key) => {
                if let Reply::Bulk(id) = reply {
                    self.append(id, fields);
                    self.trim_after_add(trim.as_ref());
                }
            }
            Command::XTrim { key, trim } if is_queue(key) => match reply {
                Reply::Int(removed) => self.trim(trim.strategy, trim.approx, *removed),
                other => self.violations.push(format!("XTRIM answered {other:?}")),
            },
            Command::XDel { key, ids } if is_queue(key) => self.delete(ids, reply),
            Command::XSetId { key, last_id, .. } if is_queue(key) => self.set_id(*last_id, reply),
            Command::XGroup(change) => self.group_change(change, reply),
            Command::XReadGroup(read) => {
                for (key, from) in &read.streams {
                    if is_queue(key) {
                        let consumer = read.consumer.as_slice();
                        let group = read.group.as_slice();
                        let how = ReadHow {
                            count: read.count,
                            noack: read.noack,
                            claim_min_idle_ms: read.claim_min_idle_ms,
                        };
                        self.read_group(group, consumer, *from, how, now_ms, reply);
                    }
                }
            }
            Command::XAck { key, group, ids } if is_queue(key) => self.ack(group, ids, reply),
            Command::XClaim(claim) if is_queue(&claim.key) => self.claim(claim, now_ms, reply),
            Command::XAutoClaim(claim) if is_queue(&claim.key) => {
                self.autoclaim(claim, now_ms, reply)
            }
            _ => {}
        }
        for violation in &mut self.violations[before..] {
            *violation = format!("log index {index}: {violation}");
        }
    }

    /// Whether the producer's XADD appended (a retry answers the first ID and appends nothing).
    fn produce(&mut self, producer: (Vec<u8>, u64), id: &[u8], fields: &rill_core::Fields) -> bool {
        let Some(parsed) = rill_core::id::parse_id(id) else {
            self.violations
                .push(format!("XADD answered a bad ID {id:?}"));
            return false;
        };
        match self.produced.get(&producer) {
            Some(first) if *first != parsed => {
                self.violations.push(format!(
                    "a producer retry answered {parsed}, the first attempt got {first}"
                ));
                false
            }
            Some(_) => false,
            None => {
                self.produced.insert(producer, parsed);
                self.append(id, fields);
                true
            }
        }
    }

    fn append(&mut self, id: &[u8], fields: &rill_core::Fields) {
        let Some(id) = rill_core::id::parse_id(id) else {
            return self
                .violations
                .push(format!("XADD answered a bad ID {id:?}"));
        };
        if id <= self.last_id {
            self.violations.push(format!(
                "XADD appended {id}, not above the last ID {}",
                self.last_id
            ));
        }
        let value = fields.first().map(|(_, v)| name(v)).unwrap_or_default();
        self.last_id = self.last_id.max(id);
        self.stream.insert(id, value.clone());
        self.appended.insert(id, value);
        self.counts.appended += 1;
    }

    /// XADD's own exact trim (the workload trims approximately with XTRIM only, whose reply
    /// says how many went).
    fn trim_after_add(&mut self, trim: Option<&Trim>) {
        let Some(trim) = trim else { return };
        if trim.approx {
            return self
                .violations
                .push("the model cannot follow XADD with an approximate trim".to_owned());
        }
        let asked = self.asked(trim.strategy);
        self.remove_oldest(asked);
    }

    fn asked(&self, strategy: TrimStrategy) -> u64 {
        match strategy {
            TrimStrategy::MaxLen(max) => (self.stream.len() as u64).saturating_sub(max),
            TrimStrategy::MinId(min) => self.stream.range(..min).count() as u64,
        }
    }

    fn remove_oldest(&mut self, n: u64) {
        for _ in 0..n {
            self.stream.pop_first();
        }
        self.counts.trimmed += n;
    }

    /// Trims remove the oldest entries: `removed` of them, as many as the threshold asks
    /// (at most that many when approximate).
    fn trim(&mut self, strategy: TrimStrategy, approx: bool, removed: i64) {
        let asked = self.asked(strategy);
        let removed = removed.max(0) as u64;
        if removed > asked || (!approx && removed != asked) {
            self.violations.push(format!(
                "a trim ({strategy:?}, approximate {approx}) of {} entries removed {removed}, the threshold asks for {asked}",
                self.stream.len()
            ));
        }
        self.remove_oldest(removed.min(asked));
    }

    /// XSETID moves the last ID to any ID not below the last entry present (lower than
    /// before, too, when the top entries were deleted).
    fn set_id(&mut self, to: StreamId, reply: &Reply) {
        let top = self.stream.keys().next_back().copied();
        let allowed = top.is_none_or(|top| to >= top);
        let done = matches!(reply, Reply::Status(_));
        if allowed != done {
            self.violations.push(format!(
                "XSETID {to} with the top entry {top:?} answered {reply:?}"
            ));
        }
        if done {
            self.last_id = to;
        }
    }

    fn delete(&mut self, ids: &[StreamId], reply: &Reply) {
        let mut removed = 0;
        for id in ids {
            removed += i64::from(self.stream.remove(id).is_some());
        }
        if *reply != Reply::Int(removed) {
            self.violations.push(format!(
                "XDEL of {ids:?} answered {reply:?}; {removed} of them were present"
            ));
        }
        self.counts.deleted += removed as u64;
    }

    /// The group a command names, or a violation unless the reply is the error a missing
    /// group gets.
    fn group_for(&mut self, what: &str, group: &[u8], reply: &Reply) -> Option<&mut Group> {
        let exists = self.groups.contains_key(group);
        let failed = matches!(reply, Reply::Error(_));
        if exists == failed {
            self.violations.push(format!(
                "{what} on group {} (present: {exists}) answered {reply:?}",
                name(group)
            ));
        }
        if failed {
            return None;
        }
        self.groups.get_mut(group)
    }

    fn start_of(&self, start: &GroupStart) -> StreamId {
        match start {
            GroupStart::Id(id) => *id,
            GroupStart::Last => self.last_id,
        }
    }

    fn group_change(&mut self, change: &XGroup, reply: &Reply) {
        match change {
            XGroup::Create {
                key, group, start, ..
            } if is_queue(key) => {
                let exists = self.groups.contains_key(group);
                let created = matches!(reply, Reply::Status(_));
                if created == exists {
                    self.violations.push(format!(
                        "XGROUP CREATE {} answered {reply:?} with the group present: {exists}",
                        name(group)
                    ));
                }
                if created {
                    let last_delivered = self.start_of(start);
                    let fresh = Group {
                        last_delivered,
                        ..Group::default()
                    };
                    self.groups.insert(group.clone(), fresh);
                }
            }
            XGroup::SetId {
                key, group, start, ..
            } if is_queue(key) => {
                let to = self.start_of(start);
                if let Some(g) = self.group_for("XGROUP SETID", group, reply) {
                    g.last_delivered = to;
                    // What lies after the new position may be delivered again.
                    g.acked.retain(|id| *id <= to);
                    g.delivered_to.retain(|id, _| *id <= to);
                    self.counts.group_moves += 1;
                }
            }
            XGroup::Destroy { key, group } if is_queue(key) => {
                let existed = self.groups.remove(group).is_some();
                // Before the stream exists, DESTROY fails (the key is missing).
                let answered = match reply {
                    Reply::Error(_) => !existed,
                    reply => *reply == Reply::Int(i64::from(existed)),
                };
                if !answered {
                    self.violations.push(format!(
                        "XGROUP DESTROY {} answered {reply:?}; it existed: {existed}",
                        name(group)
                    ));
                }
                self.counts.groups_destroyed += u64::from(existed);
            }
            XGroup::DelConsumer {
                key,
                group,
                consumer,
            } if is_queue(key) => {
                let Some(g) = self.group_for("XGROUP DELCONSUMER", group, reply) else {
                    return;
                };
                let owned: Vec<StreamId> = g
                    .pel
                    .iter()
                    .filter(|(_, p)| p.owner == *consumer)
                    .map(|(id, _)| *id)
                    .collect();
                for id in &owned {
                    g.pel.remove(id);
                }
                if *reply != Reply::Int(owned.len() as i64) {
                    self.violations.push(format!(
                        "XGROUP DELCONSUMER {} answered {reply:?}; it owned {} entries",
                        name(consumer),
                        owned.len()
                    ));
                }
                self.counts.consumers_deleted += 1;
            }
            _ => {}
        }
    }

    fn read_group(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        from: ReadFrom,
        how: ReadHow,
        now_ms: u64,
        reply: &Reply,
    ) {
        let ReadHow {
            count,
            noack,
            claim_min_idle_ms,
        } = how;
        let entries = match reply {
            Reply::PairMap(streams) | Reply::Map(streams) => streams
                .iter()
                .find(|(key, _)| *key == Reply::Bulk(STREAM.as_bytes().to_vec()))
                .map(|(_, entries)| entries.clone()),
            _ => None,
        };
        let got = match reply {
            Reply::PairMap(_) | Reply::Map(_) => entries.as_ref().map(ids_of).unwrap_or_default(),
            Reply::NilArray | Reply::Nil | Reply::Error(_) => Vec::new(),
            other => {
                return self
                    .violations
                    .push(format!("XREADGROUP answered {other:?}"))
            }
        };
        let stream = &self.stream;
        let Some(g) = self.groups.get_mut(group) else {
            return missing_group(&mut self.violations, "XREADGROUP", group, reply);
        };
        if let Reply::Error(error) = reply {
            return self
                .violations
                .push(format!("XREADGROUP on {} failed: {error}", name(group)));
        }
        let take = count.map_or(usize::MAX, |c| c as usize);
        let who = name(consumer);
        match from {
            ReadFrom::New => {
                // CLAIM: idle pending entries still in the stream, oldest delivery first (ties
                // by ID), each reported with its idle time and deliveries before this one.
                let mut claimable: Vec<(u64, StreamId)> = match claim_min_idle_ms {
                    None => Vec::new(),
                    Some(min_idle) => g
                        .pel
                        .iter()
                        .filter(|(id, p)| {
                            stream.contains_key(id)
                                && now_ms.saturating_sub(p.delivered_ms) >= min_idle
                        })
                        .map(|(id, p)| (p.delivered_ms, *id))
                        .collect(),
                };
                claimable.sort_unstable();
                let claimed: Vec<StreamId> =
                    claimable.iter().take(take).map(|(_, id)| *id).collect();
                let expected_claims: Vec<(StreamId, u64, u64)> = claimed
                    .iter()
                    .map(|id| {
                        let p = &g.pel[id];
                        (*id, now_ms.saturating_sub(p.delivered_ms), p.count)
                    })
                    .collect();
                let reported = entries.as_ref().map(claims_of).unwrap_or_default();
                if claim_min_idle_ms.is_some()
                    && reported
                        .iter()
                        .take(claimed.len())
                        .ne(expected_claims.iter())
                {
                    self.violations.push(format!(
                        "XREADGROUP > CLAIM for {who} reported {reported:?}; the model claims {expected_claims:?}"
                    ));
                }
                let mut expected = claimed.clone();
                expected.extend(
                    stream
                        .range((Bound::Excluded(g.last_delivered), Bound::Unbounded))
                        .map(|(id, _)| *id)
                        .take(take - claimed.len()),
                );
                if got != expected {
                    self.violations.push(format!(
                        "XREADGROUP > for {who} in {} after {} delivered {got:?}; the next entries are {expected:?}",
                        name(group),
                        g.last_delivered
                    ));
                }
                for id in &claimed {
                    if let Some(p) = g.pel.get_mut(id) {
                        p.owner = consumer.to_vec();
                        p.delivered_ms = now_ms;
                        p.count += 1;
                    }
                    g.delivered_to
                        .entry(*id)
                        .or_default()
                        .insert(consumer.to_vec());
                }
                self.counts.claimed += claimed.len() as u64;
                let got = &got[claimed.len().min(got.len())..];
                for id in got {
                    if g.acked.contains(id) {
                        self.violations
                            .push(format!("{who} got {id} again after it was acknowledged"));
                    }
                    if !noack {
                        let pending = Pending {
                            owner: consumer.to_vec(),
                            delivered_ms: now_ms,
                            count: 1,
                        };
                        g.pel.insert(*id, pending);
                    }
                    g.delivered_to
                        .entry(*id)
                        .or_default()
                        .insert(consumer.to_vec());
                }
                if let Some(last) = got.last() {
                    g.last_delivered = g.last_delivered.max(*last);
                }
                self.counts.delivered += got.len() as u64;
            }
            ReadFrom::After(after) => {
                let expected: Vec<StreamId> = g
                    .pel
                    .range((Bound::Excluded(after), Bound::Unbounded))
                    .filter(|(_, p)| p.owner == consumer)
                    .map(|(id, _)| *id)
                    .take(take)
                    .collect();
                if got != expected {
                    self.violations.push(format!(
                        "{who}'s history read after {after} returned {got:?}; it owns {expected:?}"
                    ));
                }
                for id in &got {
                    if let (Some(p), true) = (g.pel.get_mut(id), stream.contains_key(id)) {
                        p.delivered_ms = now_ms;
                        p.count += 1;
                    }
                }
                self.counts.redelivered += got.len() as u64;
            }
            ReadFrom::Last | ReadFrom::LastEntry => {}
        }
    }

    fn ack(&mut self, group: &[u8], ids: &[StreamId], reply: &Reply) {
        // XACK on a missing group answers 0, as in Redis.
        let mut removed = 0;
        if let Some(g) = self.groups.get_mut(group) {
            for id in ids {
                if g.pel.remove(id).is_some() {
                    removed += 1;
                    g.acked.insert(*id);
                }
            }
        }
        if *reply != Reply::Int(removed) {
            self.violations.push(format!(
                "XACK of {ids:?} in {} answered {reply:?}; {removed} of them were pending",
                name(group)
            ));
        }
        self.counts.acked += removed as u64;
    }

    /// XCLAIM, as Redis 7.2+ runs it: deleted entries leave the pending list; a pending entry
    /// idle for at least min-idle (or any entry, with FORCE) goes to the consumer.
    fn claim(&mut self, c: &XClaim, now_ms: u64, reply: &Reply) {
        let stream = &self.stream;
        let Some(g) = self.groups.get_mut(&c.group) else {
            return missing_group(&mut self.violations, "XCLAIM", &c.group, reply);
        };
        let now = now_ms as i64;
        if let Some(last) = c.last_id {
            g.last_delivered = g.last_delivered.max(last);
        }
        let delivered_ms = match (c.idle_ms, c.time_ms) {
            (Some(idle), _) => now.saturating_sub(idle),
            (None, Some(time)) => time,
            (None, None) => now,
        };
        let delivered_ms = if (0..=now).contains(&delivered_ms) {
            delivered_ms as u64
        } else {
            now_ms
        };
        let mut expected = Vec::new();
        for id in &c.ids {
            if !stream.contains_key(id) {
                g.pel.remove(id);
                continue;
            }
            let (base, check_idle) = match g.pel.get(id) {
                Some(p) => (p.count, true),
                None if c.force => (1, false),
                None => continue,
            };
            if check_idle {
                let since = g.pel.get(id).map_or(0, |p| p.delivered_ms);
                if c.min_idle_ms > 0 && now_ms.saturating_sub(since) < c.min_idle_ms {
                    continue;
                }
            }
            let count = match c.retry_count {
                Some(n) if n >= 0 => n as u64,
                _ if c.justid => base,
                _ => base + 1,
            };
            let pending = Pending {
                owner: c.consumer.clone(),
                delivered_ms,
                count,
            };
            g.pel.insert(*id, pending);
            // FORCE may make an acknowledged entry pending again.
            g.acked.remove(id);
            expected.push(*id);
        }
        let got = ids_of(reply);
        if got != expected {
            self.violations.push(format!(
                "XCLAIM by {} of {:?} (min idle {} ms) claimed {got:?}; the model claims {expected:?}",
                name(&c.consumer),
                c.ids,
                c.min_idle_ms
            ));
        }
        self.counts.claimed += got.len() as u64;
    }

    /// XAUTOCLAIM: Redis's walk of the pending list from `start`, at most `count` results and
    /// `count * 10` visits; deleted entries are dropped and reported, entries idle for less
    /// than min-idle skipped.
    fn autoclaim(&mut self, c: &XAutoClaim, now_ms: u64, reply: &Reply) {
        let stream = &self.stream;
        let Some(g) = self.groups.get_mut(&c.group) else {
            return missing_group(&mut self.violations, "XAUTOCLAIM", &c.group, reply);
        };
        let parts = match reply {
            Reply::Array(parts) if parts.len() == 3 => parts,
            other => {
                return self
                    .violations
                    .push(format!("XAUTOCLAIM answered {other:?}"))
            }
        };
        let (mut count, mut attempts) = (c.count, c.count * 10);
        let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
        let mut cursor = StreamId::MIN;
        let visit: Vec<StreamId> = g.pel.range(c.start..).map(|(id, _)| *id).collect();
        for id in visit {
            if attempts == 0 || count == 0 {
                cursor = id;
                break;
            }
            attempts -= 1;
            if !stream.contains_key(&id) {
                g.pel.remove(&id);
                deleted.push(id);
                count -= 1;
                continue;
            }
            let Some(p) = g.pel.get_mut(&id) else {
                continue;
            };
            if c.min_idle_ms > 0 && now_ms.saturating_sub(p.delivered_ms) < c.min_idle_ms {
                continue;
            }
            if g.acked.contains(&id) {
                self.violations.push(format!(
                    "{} claimed {id} after it was acknowledged",
                    name(&c.consumer)
                ));
            }
            p.owner = c.consumer.clone();
            p.delivered_ms = now_ms;
            p.count += u64::from(!c.justid);
            claimed.push(id);
            count -= 1;
        }
        let got_cursor = match &parts[0] {
            Reply::Bulk(id) => rill_core::id::parse_id(id),
            _ => None,
        };
        let (got, got_deleted) = (ids_of(&parts[1]), ids_of(&parts[2]));
        if got != claimed || got_deleted != deleted || got_cursor != Some(cursor) {
            self.violations.push(format!(
                "XAUTOCLAIM by {} from {} (min idle {} ms, count {}) answered cursor {got_cursor:?}, claimed {got:?}, deleted {got_deleted:?}; the model: {cursor}, {claimed:?}, {deleted:?}",
                name(&c.consumer),
                c.start,
                c.min_idle_ms,
                c.count
            ));
        }
        self.counts.claimed += got.len() as u64;
    }

    /// The stream's IDs, in order.
    pub fn stream_ids(&self) -> Vec<String> {
        self.stream.keys().map(StreamId::to_string).collect()
    }

    /// Every group's pending list, in group and ID order.
    pub fn pending(&self) -> Vec<PendingRow> {
        let mut rows = Vec::new();
        for (group, g) in &self.groups {
            for (id, p) in &g.pel {
                rows.push((
                    name(group),
                    id.to_string(),
                    name(&p.owner),
                    p.count,
                    p.delivered_ms,
                ));
            }
        }
        rows
    }

    /// The groups' names.
    pub fn groups(&self) -> Vec<String> {
        self.groups.keys().map(|g| name(g)).collect()
    }

    /// Checks what a consumer saw: `consumer` was handed `ids` by an `XREADGROUP >` in group
    /// `g`, so the applied log must have delivered each of them to it.
    pub fn check_seen(&self, consumer: &str, ids: &[String]) -> Vec<String> {
        let delivered = self.groups.get(GROUP.as_bytes()).map(|g| &g.delivered_to);
        ids.iter()
            .filter_map(|id| {
                let parsed = rill_core::id::parse_id(id.as_bytes())?;
                let to = delivered.and_then(|d| d.get(&parsed));
                let ok = to.is_some_and(|to| to.contains(consumer.as_bytes()));
                (!ok).then(|| {
                    format!("{consumer} was handed {id} by XREADGROUP >; the applied log delivered it to {to:?}")
                })
            })
            .collect()
    }

    /// The value appended under `id`, if any entry ever was.
    pub fn appended(&self, id: &str) -> Option<&str> {
        let id = rill_core::id::parse_id(id.as_bytes())?;
        self.appended.get(&id).map(String::as_str)
    }
}

/// Every group's pending list of the queue in `store`, in group and ID order, as the model
/// lists its own.
pub fn pending_rows<S: Store>(store: &S) -> Vec<PendingRow> {
    let mut rows = Vec::new();
    // In name order.
    for group in [AUDIT, GROUP] {
        let (q, g) = (STREAM.as_bytes(), group.as_bytes());
        if store.group(q, g).is_none() {
            continue;
        }
        for (id, p) in store.pending_range(q, g, StreamId::MIN, StreamId::MAX, usize::MAX) {
            rows.push((
                group.to_owned(),
                id.to_string(),
                name(&p.consumer),
                p.delivery_count,
                p.delivery_ms,
            ));
        }
    }
    rows
}

/// A digest of pending rows, to compare a node's with the model's after every batch.
pub fn digest(rows: &[PendingRow]) -> u64 {
    let mut hash = super::Fnv::default();
    hash.write(format!("{rows:?}").as_bytes());
    hash.finish()
}

/// The work queue: the applied log replayed through the model ([`Model`]) with every reply
/// checked; every acknowledged queue append in the log under its ID; every node's queue and
/// pending lists equal to the model's at the end.
pub fn work_queue(
    applied: &AppliedLog,
    acked: &[(String, String)],
    seen: &[(String, Vec<String>)],
    nodes: &[NodeState],
) -> (Vec<String>, Counts) {
    let mut model = Model::default();
    let mut pel_mismatches = Vec::new();
    for (index, entry) in &applied.entries {
        for (command, reply) in entry.commands.iter().zip(&entry.replies) {
            model.apply(*index, entry.now_ms, command, reply);
        }
        if let Some((node, digest, rows)) = applied.pending_digests.get(index) {
            let expected = model.pending();
            if *digest != self::digest(&expected) {
                pel_mismatches.push(format!(
                    "after log index {index}, n{node}'s pending lists are {rows:?}; the model's {expected:?}"
                ));
            }
        }
    }
    let mut out: Vec<String> = model.violations.iter().take(20).cloned().collect();
    out.extend(pel_mismatches.into_iter().take(5));
    for (value, id) in acked {
        match model.appended(id) {
            Some(found) if found == value => {}
            found => out.push(format!(
                "queue append {value} acknowledged as {id}; the applied log has {found:?} there"
            )),
        }
    }
    for (consumer, ids) in seen {
        out.extend(model.check_seen(consumer, ids));
    }
    out.truncate(40);
    let (stream, pending) = (model.stream_ids(), model.pending());
    for node in nodes {
        if node.queue != stream {
            out.push(format!(
                "n{}: queue holds {:?}, the applied log says {stream:?}",
                node.id, node.queue
            ));
        }
        if node.pending != pending {
            out.push(format!(
                "n{}: pending lists {:?}, the applied log says {pending:?}",
                node.id, node.pending
            ));
        }
    }
    (out, model.counts)
}

#[cfg(test)]
mod tests;
