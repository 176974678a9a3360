//! XINFO: STREAM (and STREAM FULL), GROUPS, CONSUMERS and HELP. Only reads.

use crate::command::XInfo;
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::{ConsumerMeta, GroupMeta, Store, StreamMeta};

use super::entries_read::group_lag;
use super::{entry_reply, help, id_reply, nogroup_for_key, too_many, Exec, TRIM_NODE_ENTRIES};

fn opt_int(value: Option<u64>) -> Reply {
    value.map_or(Reply::Nil, |v| Reply::Int(v as i64))
}

impl<S: Store> Exec<'_, S> {
    pub(super) fn xinfo(&mut self, info: &XInfo) -> Reply {
        let key = match info {
            XInfo::Help => return xinfo_help(),
            XInfo::Stream { key, .. } | XInfo::Groups { key } | XInfo::Consumers { key, .. } => key,
        };
        let Some(meta) = self.store.stream(key) else {
            return Reply::err("ERR no such key");
        };
        match info {
            XInfo::Stream { full: None, .. } => self.info_stream(key, &meta),
            XInfo::Stream {
                full: Some(count), ..
            } => self.info_stream_full(key, &meta, *count),
            XInfo::Groups { .. } => {
                let groups = self.store.groups(key);
                Reply::Array(
                    groups
                        .iter()
                        .map(|(name, g)| self.info_group(key, &meta, name, g))
                        .collect(),
                )
            }
            XInfo::Consumers { group, .. } => {
                if self.store.group(key, group).is_none() {
                    return nogroup_for_key(key, group);
                }
                let consumers = self.store.consumers(key, group);
                Reply::Array(
                    consumers
                        .iter()
                        .map(|(name, c)| self.info_consumer(name, c))
                        .collect(),
                )
            }
            XInfo::Help => unreachable!("answered above"),
        }
    }

    /// The fields XINFO STREAM and XINFO STREAM FULL share. Rill keeps no radix tree; it reports
    /// one "key" per [`TRIM_NODE_ENTRIES`] entries so that tools that chart these see a size.
    fn info_stream_head(&self, key: &[u8], meta: &StreamMeta) -> Vec<(Reply, Reply)> {
        let nodes = meta.length.div_ceil(TRIM_NODE_ENTRIES);
        let mut head = vec![
            (Reply::text("length"), Reply::Int(meta.length as i64)),
            (Reply::text("radix-tree-keys"), Reply::Int(nodes as i64)),
            (
                Reply::text("radix-tree-nodes"),
                Reply::Int(nodes as i64 + 1),
            ),
            (Reply::text("last-generated-id"), id_reply(meta.last_id)),
            (
                Reply::text("max-deleted-entry-id"),
                id_reply(meta.max_deleted_id),
            ),
            (
                Reply::text("entries-added"),
                Reply::Int(meta.entries_added as i64),
            ),
            (
                Reply::text("recorded-first-entry-id"),
                id_reply(meta.first_id),
            ),
        ];
        let idmp = self.idmp_info(key);
        head.extend(
            idmp.into_iter()
                .map(|(name, value)| (Reply::text(name), value)),
        );
        head
    }

    fn info_stream(&self, key: &[u8], meta: &StreamMeta) -> Reply {
        let mut map = self.info_stream_head(key, meta);
        let edge = |rev: bool| {
            let got = self
                .store
                .entries(key, StreamId::MIN, StreamId::MAX, rev, 1);
            got.into_iter()
                .next()
                .map_or(Reply::Nil, |(id, f)| entry_reply(id, f))
        };
        map.push((
            Reply::text("groups"),
            Reply::Int(self.store.groups(key).len() as i64),
        ));
        map.push((Reply::text("first-entry"), edge(false)));
        map.push((Reply::text("last-entry"), edge(true)));
        Reply::Map(map)
    }

    fn info_stream_full(&self, key: &[u8], meta: &StreamMeta, count: u64) -> Reply {
        let count = (count > 0).then_some(count);
        let limit = self.fetch_limit(count);
        let range = (StreamId::MIN, StreamId::MAX);
        let entries = match self.reply_entries(key, range, false, count, &mut 0) {
            Ok(entries) => entries,
            Err(refusal) => return refusal,
        };
        let mut map = self.info_stream_head(key, meta);
        map.push((
            Reply::text("entries"),
            Reply::Array(
                entries
                    .into_iter()
                    .map(|(id, f)| entry_reply(id, f))
                    .collect(),
            ),
        ));
        let mut groups = Vec::new();
        for (name, g) in self.store.groups(key) {
            let pel = self
                .store
                .pending_range(key, &name, StreamId::MIN, StreamId::MAX, limit);
            if self.over_limit(&pel) {
                return too_many(self.limits);
            }
            let pending = pel
                .iter()
                .map(|(id, pe)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::bulk(&pe.consumer),
                        Reply::Int(pe.delivery_ms as i64),
                        Reply::Int(pe.delivery_count as i64),
                    ])
                })
                .collect();
            let mut consumers = Vec::new();
            for (cname, c) in self.store.consumers(key, &name) {
                let ids = self.store.consumer_pending_range(
                    key,
                    &name,
                    &cname,
                    StreamId::MIN,
                    StreamId::MAX,
                    limit,
                );
                let pending = ids
                    .iter()
                    .filter_map(|id| self.store.pending(key, &name, *id).map(|pe| (*id, pe)))
                    .map(|(id, pe)| {
                        Reply::Array(vec![
                            id_reply(id),
                            Reply::Int(pe.delivery_ms as i64),
                            Reply::Int(pe.delivery_count as i64),
                        ])
                    })
                    .collect();
                consumers.push(Reply::Map(vec![
                    (Reply::text("name"), Reply::bulk(&cname)),
                    (Reply::text("seen-time"), Reply::Int(c.seen_ms as i64)),
                    (
                        Reply::text("active-time"),
                        Reply::Int(c.active_ms.map_or(-1, |t| t as i64)),
                    ),
                    (Reply::text("pel-count"), Reply::Int(c.pending_count as i64)),
                    (Reply::text("pending"), Reply::Array(pending)),
                ]));
            }
            groups.push(Reply::Map(vec![
                (Reply::text("name"), Reply::bulk(&name)),
                (
                    Reply::text("last-delivered-id"),
                    id_reply(g.last_delivered_id),
                ),
                (Reply::text("entries-read"), opt_int(g.entries_read)),
                (Reply::text("lag"), opt_int(group_lag(meta, &g))),
                (Reply::text("pel-count"), Reply::Int(g.pending_count as i64)),
                // Redis 8.8: pending entries no consumer holds (XNACK).
                (
                    Reply::text("nacked-count"),
                    Reply::Int(g.nacked_count as i64),
                ),
                (Reply::text("pending"), Reply::Array(pending)),
                (Reply::text("consumers"), Reply::Array(consumers)),
            ]));
        }
        map.push((Reply::text("groups"), Reply::Array(groups)));
        Reply::Map(map)
    }

    fn info_group(&self, key: &[u8], meta: &StreamMeta, name: &[u8], g: &GroupMeta) -> Reply {
        Reply::Map(vec![
            (Reply::text("name"), Reply::bulk(name)),
            (
                Reply::text("consumers"),
                Reply::Int(self.store.consumers(key, name).len() as i64),
            ),
            (Reply::text("pending"), Reply::Int(g.pending_count as i64)),
            (
                Reply::text("last-delivered-id"),
                id_reply(g.last_delivered_id),
            ),
            (Reply::text("entries-read"), opt_int(g.entries_read)),
            (Reply::text("lag"), opt_int(group_lag(meta, g))),
        ])
    }

    fn info_consumer(&self, name: &[u8], c: &ConsumerMeta) -> Reply {
        let since = |t: u64| self.now_ms.saturating_sub(t) as i64;
        Reply::Map(vec![
            (Reply::text("name"), Reply::bulk(name)),
            (Reply::text("pending"), Reply::Int(c.pending_count as i64)),
            (Reply::text("idle"), Reply::Int(since(c.seen_ms))),
            (
                Reply::text("inactive"),
                Reply::Int(c.active_ms.map_or(-1, since)),
            ),
        ])
    }
}

fn xinfo_help() -> Reply {
    help(&[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Print this help.",
    ])
}
