//! The work queue (stream `q`, group `g`) against a model driven by the applied log: the
//! order the replicas applied is the linearization, so every reply must be the one the model
//! predicts. Checked:
//! - `>` deliveries are gap-free and increasing: each is exactly the next entries present
//!   after the group's last delivered ID;
//! - an entry has one owner; only a claim (XCLAIM, XAUTOCLAIM) changes it; a consumer's
//!   history read returns exactly its own pending entries;
//! - an acknowledged entry is never delivered or claimed again;
//! - trims remove the oldest entries, as many as the threshold asks;
//! - producer retries answer the first ID and append nothing;
//! - at the end, every node's stream and pending list equal the model's.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use rill_core::command::{GroupStart, ReadFrom, TrimStrategy, XGroup};
use rill_core::{Command, Reply, StreamId};

use crate::NodeState;

pub const STREAM: &str = "q";
pub const GROUP: &str = "g";

#[derive(Default)]
pub struct Model {
    /// Entries present, in ID order, with their values.
    stream: BTreeMap<StreamId, String>,
    last_id: StreamId,
    /// Every entry ever appended.
    appended: BTreeMap<StreamId, String>,
    /// `(producer, seq)` to the ID its first application got.
    produced: BTreeMap<(Vec<u8>, u64), StreamId>,
    group: Option<Group>,
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
    pub consumers_deleted: u64,
}

struct Group {
    last_delivered: StreamId,
    /// Pending entries and their owners.
    pel: BTreeMap<StreamId, Vec<u8>>,
    /// Who each entry was delivered to by `>` (once, if ever).
    delivered_to: BTreeMap<StreamId, Vec<u8>>,
    acked: BTreeSet<StreamId>,
}

fn is_queue(key: &[u8]) -> bool {
    key == STREAM.as_bytes()
}

fn is_group(key: &[u8], group: &[u8]) -> bool {
    is_queue(key) && group == GROUP.as_bytes()
}

fn name(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// IDs of an entry list: `[id, fields]` pairs, or bare IDs (JUSTID).
fn ids_of(entries: &Reply) -> Vec<StreamId> {
    super::entries_in(entries)
        .iter()
        .filter_map(|id| rill_core::id::parse_id(id.as_bytes()))
        .collect()
}

impl Model {
    /// Applies one command of log entry `index` and checks its reply.
    pub fn apply(&mut self, index: u64, command: &Command, reply: &Reply) {
        let before = self.violations.len();
        match command {
            Command::Produce(produce) => {
                if let (Command::XAdd { key, fields, .. }, Reply::Bulk(id)) = (&produce.add, reply)
                {
                    if is_queue(key) {
                        let producer = (produce.producer.clone(), produce.seq);
                        self.produce(producer, id, fields);
                    }
                }
            }
            Command::XAdd { key, fields, .. } if is_queue(key) => {
                if let Reply::Bulk(id) = reply {
                    self.append(id, fields);
                }
            }
            Command::XTrim { key, trim } if is_queue(key) => {
                if let Reply::Int(removed) = reply {
                    self.trim(trim.strategy, trim.approx, *removed);
                }
            }
            Command::XGroup(change) => self.group_change(change, reply),
            Command::XReadGroup(read) => {
                for (key, from) in &read.streams {
                    if is_group(key, &read.group) {
                        let consumer = read.consumer.as_slice();
                        self.read_group(consumer, *from, read.count, read.noack, reply);
                    }
                }
            }
            Command::XAck { key, group, ids } if is_group(key, group) => {
                if let Reply::Int(count) = reply {
                    self.ack(ids, *count);
                }
            }
            Command::XClaim(claim) if is_group(&claim.key, &claim.group) => {
                self.claim(&claim.consumer, &ids_of(reply), &[]);
            }
            Command::XAutoClaim(claim) if is_group(&claim.key, &claim.group) => {
                if let Reply::Array(parts) = reply {
                    let claimed = parts.get(1).map(ids_of).unwrap_or_default();
                    let deleted = parts.get(2).map(ids_of).unwrap_or_default();
                    self.claim(&claim.consumer, &claimed, &deleted);
                }
            }
            _ => {}
        }
        for violation in &mut self.violations[before..] {
            *violation = format!("log index {index}: {violation}");
        }
    }

    fn produce(&mut self, producer: (Vec<u8>, u64), id: &[u8], fields: &rill_core::Fields) {
        let Some(parsed) = rill_core::id::parse_id(id) else {
            return self
                .violations
                .push(format!("XADD answered a bad ID {id:?}"));
        };
        match self.produced.get(&producer) {
            Some(first) if *first != parsed => self.violations.push(format!(
                "a producer retry answered {parsed}, the first attempt got {first}"
            )),
            Some(_) => {}
            None => {
                self.produced.insert(producer, parsed);
                self.append(id, fields);
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

    /// Trims remove the oldest entries: `removed` of them, as many as the threshold asks
    /// (at most that many when approximate).
    fn trim(&mut self, strategy: TrimStrategy, approx: bool, removed: i64) {
        let len = self.stream.len() as u64;
        let asked = match strategy {
            TrimStrategy::MaxLen(max) => len.saturating_sub(max),
            TrimStrategy::MinId(min) => self.stream.range(..min).count() as u64,
        };
        let removed = removed.max(0) as u64;
        if removed > asked || (!approx && removed != asked) {
            self.violations.push(format!(
                "a trim ({strategy:?}, approximate {approx}) of {len} entries removed {removed}, the threshold asks for {asked}"
            ));
        }
        for _ in 0..removed {
            self.stream.pop_first();
        }
        self.counts.trimmed += removed;
    }

    fn group_change(&mut self, change: &XGroup, reply: &Reply) {
        match change {
            XGroup::Create {
                key, group, start, ..
            } if is_group(key, group) => {
                let created = matches!(reply, Reply::Status(_));
                if created == self.group.is_some() {
                    self.violations.push(format!(
                        "XGROUP CREATE answered {reply:?} with the group existing: {}",
                        self.group.is_some()
                    ));
                }
                if created {
                    let last_delivered = match start {
                        GroupStart::Id(id) => *id,
                        GroupStart::Last => self.last_id,
                    };
                    self.group = Some(Group {
                        last_delivered,
                        pel: BTreeMap::new(),
                        delivered_to: BTreeMap::new(),
                        acked: BTreeSet::new(),
                    });
                }
            }
            XGroup::DelConsumer {
                key,
                group,
                consumer,
            } if is_group(key, group) => {
                let Some(g) = &mut self.group else { return };
                let owned: Vec<StreamId> = g
                    .pel
                    .iter()
                    .filter(|(_, owner)| *owner == consumer)
                    .map(|(id, _)| *id)
                    .collect();
                if *reply != Reply::Int(owned.len() as i64) {
                    self.violations.push(format!(
                        "XGROUP DELCONSUMER {} answered {reply:?}; it owned {} entries",
                        name(consumer),
                        owned.len()
                    ));
                }
                for id in owned {
                    g.pel.remove(&id);
                }
                self.counts.consumers_deleted += 1;
            }
            _ => {}
        }
    }

    fn read_group(
        &mut self,
        consumer: &[u8],
        from: ReadFrom,
        count: Option<u64>,
        noack: bool,
        reply: &Reply,
    ) {
        let Some(g) = &mut self.group else {
            if !matches!(reply, Reply::Error(_)) {
                self.violations
                    .push(format!("XREADGROUP without the group answered {reply:?}"));
            }
            return;
        };
        let got = match reply {
            Reply::PairMap(streams) | Reply::Map(streams) => streams
                .iter()
                .find(|(key, _)| *key == Reply::Bulk(STREAM.as_bytes().to_vec()))
                .map(|(_, entries)| ids_of(entries))
                .unwrap_or_default(),
            Reply::NilArray | Reply::Nil => Vec::new(),
            other => {
                return self
                    .violations
                    .push(format!("XREADGROUP answered {other:?}"))
            }
        };
        let take = count.map_or(usize::MAX, |c| c as usize);
        let who = name(consumer);
        match from {
            ReadFrom::New => {
                let expected: Vec<StreamId> = self
                    .stream
                    .range((Bound::Excluded(g.last_delivered), Bound::Unbounded))
                    .map(|(id, _)| *id)
                    .take(take)
                    .collect();
                if got != expected {
                    self.violations.push(format!(
                        "XREADGROUP > for {who} after {} delivered {got:?}; the next entries are {expected:?}",
                        g.last_delivered
                    ));
                }
                for id in &got {
                    if g.acked.contains(id) {
                        self.violations
                            .push(format!("{who} got {id} again after it was acknowledged"));
                    }
                    if !noack {
                        g.pel.insert(*id, consumer.to_vec());
                    }
                    g.delivered_to.insert(*id, consumer.to_vec());
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
                    .filter(|(_, owner)| owner.as_slice() == consumer)
                    .map(|(id, _)| *id)
                    .take(take)
                    .collect();
                if got != expected {
                    self.violations.push(format!(
                        "{who}'s history read after {after} returned {got:?}; it owns {expected:?}"
                    ));
                }
                self.counts.redelivered += got.len() as u64;
            }
            ReadFrom::Last | ReadFrom::LastEntry => {}
        }
    }

    fn ack(&mut self, ids: &[StreamId], count: i64) {
        let Some(g) = &mut self.group else { return };
        let mut removed = 0;
        for id in ids {
            if g.pel.remove(id).is_some() {
                removed += 1;
                g.acked.insert(*id);
            }
        }
        if removed != count {
            self.violations.push(format!(
                "XACK of {ids:?} answered {count}; {removed} of them were pending"
            ));
        }
        self.counts.acked += removed as u64;
    }

    /// `claimed` now belong to `consumer`; `deleted` (XAUTOCLAIM: pending but trimmed) leave
    /// the pending list.
    fn claim(&mut self, consumer: &[u8], claimed: &[StreamId], deleted: &[StreamId]) {
        let Some(g) = &mut self.group else { return };
        let who = name(consumer);
        for id in claimed {
            if g.acked.contains(id) {
                self.violations
                    .push(format!("{who} claimed {id} after it was acknowledged"));
            }
            match g.pel.get_mut(id) {
                Some(owner) => *owner = consumer.to_vec(),
                None => self
                    .violations
                    .push(format!("{who} claimed {id}, which was not pending")),
            }
        }
        for id in deleted {
            if self.stream.contains_key(id) || g.pel.remove(id).is_none() {
                self.violations.push(format!(
                    "XAUTOCLAIM reported {id} deleted; it is in the stream or was not pending"
                ));
            }
        }
        self.counts.claimed += claimed.len() as u64;
    }

    /// The stream's IDs, in order.
    pub fn stream_ids(&self) -> Vec<String> {
        self.stream.keys().map(StreamId::to_string).collect()
    }

    /// The pending list: `(id, owner)` in ID order.
    pub fn pending(&self) -> Vec<(String, String)> {
        self.group.as_ref().map_or_else(Vec::new, |g| {
            g.pel
                .iter()
                .map(|(id, owner)| (id.to_string(), name(owner)))
                .collect()
        })
    }

    /// Checks what a consumer saw: `consumer` was handed `ids` by an `XREADGROUP >`, so the
    /// applied log must have delivered each of them to it.
    pub fn check_seen(&self, consumer: &str, ids: &[String]) -> Vec<String> {
        let delivered = self.group.as_ref().map(|g| &g.delivered_to);
        ids.iter()
            .filter_map(|id| {
                let parsed = rill_core::id::parse_id(id.as_bytes())?;
                let to = delivered.and_then(|d| d.get(&parsed)).map(|c| name(c));
                (to.as_deref() != Some(consumer)).then(|| {
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

/// The work queue: the applied log replayed through the model (`groups::Model`) with every
/// reply checked; every acknowledged queue append in the log under its ID; every node's queue
/// and pending list equal to the model's at the end.
pub fn work_queue(
    applied: &BTreeMap<u64, (Vec<Command>, Vec<Reply>)>,
    acked: &[(String, String)],
    seen: &[(String, Vec<String>)],
    nodes: &[NodeState],
) -> (Vec<String>, Counts) {
    let mut model = Model::default();
    for (index, (commands, replies)) in applied {
        for (command, reply) in commands.iter().zip(replies) {
            model.apply(*index, command, reply);
        }
    }
    let mut out: Vec<String> = model.violations.iter().take(20).cloned().collect();
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
                "n{}: pending list {:?}, the applied log says {pending:?}",
                node.id, node.pending
            ));
        }
    }
    (out, model.counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(model: &mut Model, index: u64, args: &str, reply: Reply) {
        let argv: Vec<Vec<u8>> = args.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        let command = match rill_core::parse(&argv) {
            Some(Ok(command)) => command,
            other => panic!("{args}: {other:?}"),
        };
        model.apply(index, &command, &reply);
    }

    fn entries(ids: &[&str]) -> Reply {
        let entry = |id: &str| Reply::Array(vec![Reply::bulk(id), Reply::Array(Vec::new())]);
        Reply::Array(ids.iter().map(|id| entry(id)).collect())
    }

    fn delivered(ids: &[&str]) -> Reply {
        Reply::PairMap(vec![(Reply::bulk(STREAM), entries(ids))])
    }

    /// A queue of 1-1, 1-2, 1-3 and group `g` at 0.
    fn queue() -> Model {
        let mut model = Model::default();
        run(&mut model, 1, "XGROUP CREATE q g 0 MKSTREAM", Reply::ok());
        for (i, id) in ["1-1", "1-2", "1-3"].iter().enumerate() {
            run(&mut model, 2 + i as u64, "XADD q * op v", Reply::bulk(*id));
        }
        model
    }

    #[test]
    fn an_honest_history_passes() {
        let mut model = queue();
        run(
            &mut model,
            5,
            "XREADGROUP GROUP g a COUNT 2 STREAMS q >",
            delivered(&["1-1", "1-2"]),
        );
        run(&mut model, 6, "XACK q g 1-1", Reply::Int(1));
        let claimed = Reply::Array(vec![
            Reply::bulk("0-0"),
            entries(&["1-2"]),
            Reply::Array(Vec::new()),
        ]);
        run(&mut model, 7, "XAUTOCLAIM q g b 1000 0-0", claimed);
        run(
            &mut model,
            8,
            "XREADGROUP GROUP g b STREAMS q 0",
            delivered(&["1-2"]),
        );
        assert_eq!(model.violations, Vec::<String>::new());
        assert_eq!(model.pending(), vec![("1-2".to_owned(), "b".to_owned())]);
        assert!(model.check_seen("a", &["1-1".to_owned()]).is_empty());
    }

    #[test]
    fn a_gap_in_new_deliveries_is_caught() {
        let mut model = queue();
        run(
            &mut model,
            5,
            "XREADGROUP GROUP g a COUNT 2 STREAMS q >",
            delivered(&["1-1", "1-3"]),
        );
        assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
    }

    #[test]
    fn a_claim_after_an_ack_is_caught() {
        let mut model = queue();
        run(
            &mut model,
            5,
            "XREADGROUP GROUP g a COUNT 1 STREAMS q >",
            delivered(&["1-1"]),
        );
        run(&mut model, 6, "XACK q g 1-1", Reply::Int(1));
        let claimed = Reply::Array(vec![
            Reply::bulk("0-0"),
            entries(&["1-1"]),
            Reply::Array(Vec::new()),
        ]);
        run(&mut model, 7, "XAUTOCLAIM q g b 1000 0-0", claimed);
        assert!(
            model
                .violations
                .iter()
                .any(|v| v.contains("after it was acknowledged")),
            "{:?}",
            model.violations
        );
    }

    #[test]
    fn a_history_read_of_another_consumers_entry_is_caught() {
        let mut model = queue();
        run(
            &mut model,
            5,
            "XREADGROUP GROUP g a COUNT 1 STREAMS q >",
            delivered(&["1-1"]),
        );
        run(
            &mut model,
            6,
            "XREADGROUP GROUP g b STREAMS q 0",
            delivered(&["1-1"]),
        );
        assert_eq!(model.violations.len(), 1, "{:?}", model.violations);
    }

    #[test]
    fn wrong_counts_and_unlogged_deliveries_are_caught() {
        let mut model = queue();
        run(&mut model, 5, "XACK q g 1-1", Reply::Int(1));
        run(&mut model, 6, "XTRIM q MAXLEN 2", Reply::Int(0));
        assert_eq!(model.violations.len(), 2, "{:?}", model.violations);
        assert_eq!(model.check_seen("a", &["1-2".to_owned()]).len(), 1);
    }
}
