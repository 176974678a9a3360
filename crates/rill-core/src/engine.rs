//! Executes a [`Command`] against a [`Store`] at a stamped time, following `t_stream.c`.
//!
//! Every function here is deterministic: the only time is `now_ms`, given by the caller (the
//! leader stamps it into the log entry). Replies are values; nothing here fails with `Err`.

use crate::command::{
    AddId, Command, GroupStart, Key, Malformed, Missing, PendingRange, Produce, ReadFrom, Trim,
    TrimStrategy, XAutoClaim, XClaim, XGroup, XInfo, XRead, XReadGroup,
};
use crate::id::StreamId;
use crate::limits::Limits;
use crate::reply::{errors, Reply};
use crate::store::{
    ConsumerMeta, Fields, GroupMeta, PendingEntry, ProducerState, Store, StreamMeta,
};

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

pub fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    let mut flat = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        flat.push(Reply::bulk(f));
        flat.push(Reply::bulk(v));
    }
    Reply::Array(vec![Reply::bulk(id.to_string()), Reply::Array(flat)])
}

fn id_reply(id: StreamId) -> Reply {
    Reply::bulk(id.to_string())
}

fn opt_int(value: Option<u64>) -> Reply {
    value.map_or(Reply::Nil, |v| Reply::Int(v as i64))
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

    // ---- XADD / XDEL / XTRIM -----------------------------------------------------------------

    fn xadd(
        &mut self,
        key: &Key,
        nomkstream: bool,
        trim: Option<&Trim>,
        id: &AddId,
        fields: &Fields,
    ) -> Reply {
        match self.add(key, nomkstream, trim, id, fields) {
            Ok(Some(new_id)) => id_reply(new_id),
            Ok(None) => Reply::Nil,
            Err(reply) => reply,
        }
    }

    /// A producer's XADD: first forget producers idle past `producer_idle_ms` (a few per call,
    /// oldest first, so the table shrinks as steadily as it grows), then answer a repeated
    /// sequence number with the ID it got the first time.
    fn produce(&mut self, p: &Produce) -> Reply {
        const SWEEP_PER_CALL: usize = 4;
        let horizon = self.now_ms.saturating_sub(self.limits.producer_idle_ms);
        for idle in self.store.idle_producers(horizon, SWEEP_PER_CALL) {
            self.store.delete_producer(&idle);
        }
        let known = self
            .store
            .producer(&p.producer)
            .filter(|state| state.touched_ms >= horizon);
        match known {
            Some(state) if p.seq == state.last_seq => return id_reply(state.last_id),
            Some(state) if p.seq < state.last_seq => {
                return Reply::err(format!(
                    "ERR producer sequence {} is below the last one applied ({})",
                    p.seq, state.last_seq
                ))
            }
            Some(_) => {}
            None => {
                self.store.delete_producer(&p.producer);
                if self.store.producer_count() >= self.limits.producers_max {
                    return Reply::err(format!(
                        "ERR too many producers (limit {}); idle ones are forgotten after {} ms",
                        self.limits.producers_max, self.limits.producer_idle_ms
                    ));
                }
            }
        }
        let Command::XAdd {
            key,
            nomkstream,
            trim,
            id,
            fields,
        } = &p.add
        else {
            return Reply::err("ERR only XADD takes a producer id");
        };
        match self.add(key, *nomkstream, trim.as_ref(), id, fields) {
            Ok(Some(new_id)) => {
                let state = ProducerState {
                    last_seq: p.seq,
                    last_id: new_id,
                    touched_ms: self.now_ms,
                };
                self.store.put_producer(&p.producer, &state);
                id_reply(new_id)
            }
            Ok(None) => Reply::Nil,
            Err(reply) => reply,
        }
    }

    /// XADD's work: the new ID, or `None` when NOMKSTREAM met no stream.
    fn add(
        &mut self,
        key: &Key,
        nomkstream: bool,
        trim: Option<&Trim>,
        id: &AddId,
        fields: &Fields,
    ) -> Result<Option<StreamId>, Reply> {
        let existing = self.store.stream(key);
        if existing.is_none() && nomkstream {
            return Ok(None);
        }
        let mut meta = existing.unwrap_or_default();
        if meta.last_id == StreamId::MAX {
            return Err(Reply::err(errors::XADD_ID_EXHAUSTED));
        }
        let Some(new_id) = self.next_id(&meta, id) else {
            return Err(Reply::err(errors::XADD_ID_TOO_SMALL));
        };
        self.store.put_entry(key, new_id, fields);
        meta.length += 1;
        meta.entries_added += 1;
        meta.last_id = new_id;
        if meta.length == 1 {
            meta.first_id = new_id;
        }
        if let Some(trim) = trim {
            self.trim(key, &mut meta, trim);
        }
        self.store.put_stream(key, &meta);
        Ok(Some(new_id))
    }

    /// `streamAppendItem`'s ID choice; `None` when the ID is not above the stream's top.
    fn next_id(&self, meta: &StreamMeta, id: &AddId) -> Option<StreamId> {
        let last = meta.last_id;
        let candidate = match *id {
            AddId::Explicit(id) => id,
            AddId::AutoSeq(ms) if ms == last.ms => StreamId::new(ms, last.seq.checked_add(1)?),
            AddId::AutoSeq(ms) => StreamId::new(ms, 0),
            AddId::Auto if self.now_ms > last.ms => StreamId::new(self.now_ms, 0),
            AddId::Auto => last.next()?,
        };
        (candidate > last).then_some(candidate)
    }

    /// Trims from the head; returns how many entries were removed. Trimming does not move
    /// `max_deleted_id` (Redis only records XDEL there).
    fn trim(&mut self, key: &[u8], meta: &mut StreamMeta, trim: &Trim) -> u64 {
        let mut to_remove = match trim.strategy {
            TrimStrategy::MaxLen(max) => meta.length.saturating_sub(max),
            TrimStrategy::MinId(min) => match min.prev() {
                None => 0,
                Some(below) => self.count_entries(key, StreamId::MIN, below, meta.length),
            },
        };
        if trim.approx {
            to_remove -= to_remove % TRIM_NODE_ENTRIES;
        }
        if trim.limit > 0 {
            to_remove = to_remove.min(trim.limit - trim.limit % TRIM_NODE_ENTRIES);
        }
        let mut removed = 0;
        while removed < to_remove {
            let batch = (to_remove - removed).min(1024) as usize;
            let victims = self
                .store
                .entries(key, StreamId::MIN, StreamId::MAX, false, batch);
            if victims.is_empty() {
                break;
            }
            for (id, _) in &victims {
                self.store.delete_entry(key, *id);
            }
            removed += victims.len() as u64;
        }
        if removed > 0 {
            meta.length -= removed;
            meta.first_id = self.first_entry_id(key);
        }
        removed
    }

    fn count_entries(&self, key: &[u8], start: StreamId, end: StreamId, max: u64) -> u64 {
        let mut counted = 0u64;
        let mut from = start;
        loop {
            let page = self.store.entries(key, from, end, false, 1024);
            counted += page.len() as u64;
            match page.last().and_then(|(id, _)| id.next()) {
                Some(next) if page.len() == 1024 && counted < max => from = next,
                _ => return counted,
            }
        }
    }

    fn first_entry_id(&self, key: &[u8]) -> StreamId {
        let first = self
            .store
            .entries(key, StreamId::MIN, StreamId::MAX, false, 1);
        first.first().map_or(StreamId::MIN, |(id, _)| *id)
    }

    fn xdel(&mut self, key: &Key, ids: &[StreamId]) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return Reply::Int(0);
        };
        let mut deleted = 0;
        let mut first_deleted = false;
        for &id in ids {
            if self.store.entry(key, id).is_none() {
                continue;
            }
            self.store.delete_entry(key, id);
            meta.length -= 1;
            first_deleted |= id == meta.first_id;
            meta.max_deleted_id = meta.max_deleted_id.max(id);
            deleted += 1;
        }
        if deleted > 0 {
            if meta.length == 0 {
                meta.first_id = StreamId::MIN;
            } else if first_deleted {
                meta.first_id = self.first_entry_id(key);
            }
            self.store.put_stream(key, &meta);
        }
        Reply::Int(deleted)
    }

    fn xtrim(&mut self, key: &Key, trim: &Trim) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return Reply::Int(0);
        };
        let removed = self.trim(key, &mut meta, trim);
        if removed > 0 {
            self.store.put_stream(key, &meta);
        }
        Reply::Int(removed as i64)
    }

    // ---- XRANGE / XREAD ----------------------------------------------------------------------

    fn xrange(
        &mut self,
        key: &Key,
        start: StreamId,
        end: StreamId,
        count: Option<u64>,
        rev: bool,
    ) -> Reply {
        // The key is looked up first: a missing key answers `[]` even to COUNT 0.
        if self.store.stream(key).is_none() {
            return Reply::Array(Vec::new());
        }
        if count == Some(0) {
            return Reply::NilArray;
        }
        let got = self
            .store
            .entries(key, start, end, rev, self.fetch_limit(count));
        if self.over_limit(&got) {
            return too_many(self.limits);
        }
        Reply::Array(got.iter().map(|(id, f)| entry_reply(*id, f)).collect())
    }

    fn xread(&mut self, r: &XRead) -> Reply {
        let mut out = Vec::new();
        let mut total = 0usize;
        for (key, from) in &r.streams {
            let ReadFrom::After(after) = resolve_read_from(self.store, key, *from) else {
                continue;
            };
            let Some(start) = after.next() else { continue };
            let got =
                self.store
                    .entries(key, start, StreamId::MAX, false, self.fetch_limit(r.count));
            if got.is_empty() {
                continue;
            }
            total += got.len();
            if self.over_limit(&got) || total > self.limits.reply_entries_max {
                return too_many(self.limits);
            }
            let entries = got.iter().map(|(id, f)| entry_reply(*id, f)).collect();
            out.push((Reply::bulk(key), Reply::Array(entries)));
        }
        if out.is_empty() {
            Reply::NilArray
        } else {
            Reply::PairMap(out)
        }
    }

    // ---- consumer groups ---------------------------------------------------------------------

    fn xgroup(&mut self, g: &XGroup) -> Reply {
        let (key, group) = match g {
            XGroup::Help => return xgroup_help(),
            XGroup::Create { key, group, .. }
            | XGroup::SetId { key, group, .. }
            | XGroup::Destroy { key, group }
            | XGroup::CreateConsumer { key, group, .. }
            | XGroup::DelConsumer { key, group, .. } => (key, group),
        };
        let meta = self.store.stream(key);
        let mkstream = matches!(g, XGroup::Create { mkstream: true, .. });
        if meta.is_none() && !mkstream {
            return Reply::err(errors::XGROUP_NEEDS_KEY);
        }
        let existing = self.store.group(key, group);
        let needs_group = matches!(
            g,
            XGroup::SetId { .. } | XGroup::CreateConsumer { .. } | XGroup::DelConsumer { .. }
        );
        if existing.is_none() && needs_group {
            return nogroup_for_key(key, group);
        }
        let last_id = meta.as_ref().map_or(StreamId::MIN, |m| m.last_id);
        let resolve = |start: &GroupStart| match start {
            GroupStart::Last => last_id,
            GroupStart::Id(id) => *id,
        };
        match g {
            XGroup::Create {
                start,
                entries_read,
                ..
            } => {
                if existing.is_some() {
                    return Reply::err(errors::BUSYGROUP);
                }
                if self.store.groups(key).len() >= self.limits.groups_per_stream_max {
                    return Reply::err(format!(
                        "ERR stream already has {} groups (groups_per_stream_max)",
                        self.limits.groups_per_stream_max
                    ));
                }
                if meta.is_none() {
                    self.store.put_stream(key, &StreamMeta::default());
                }
                let group_meta = GroupMeta {
                    last_delivered_id: resolve(start),
                    entries_read: *entries_read,
                    pending_count: 0,
                };
                self.store.put_group(key, group, &group_meta);
                Reply::ok()
            }
            XGroup::SetId {
                start,
                entries_read,
                ..
            } => {
                let mut group_meta = existing.unwrap_or_default();
                group_meta.last_delivered_id = resolve(start);
                group_meta.entries_read = *entries_read;
                self.store.put_group(key, group, &group_meta);
                Reply::ok()
            }
            XGroup::Destroy { .. } => {
                if existing.is_none() {
                    return Reply::Int(0);
                }
                self.store.delete_group(key, group);
                Reply::Int(1)
            }
            XGroup::CreateConsumer { consumer, .. } => {
                if self.store.consumer(key, group, consumer).is_some() {
                    return Reply::Int(0);
                }
                match self.create_consumer(key, group, consumer) {
                    Ok(_) => Reply::Int(1),
                    Err(reply) => reply,
                }
            }
            XGroup::DelConsumer { consumer, .. } => {
                self.del_consumer(key, group, existing.unwrap_or_default(), consumer)
            }
            XGroup::Help => unreachable!("answered above"),
        }
    }

    fn create_consumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<ConsumerMeta, Reply> {
        self.check_consumer_room(key, group)?;
        let meta = ConsumerMeta {
            seen_ms: self.now_ms,
            active_ms: None,
            pending_count: 0,
        };
        self.store.put_consumer(key, group, consumer, &meta);
        Ok(meta)
    }

    fn check_consumer_room(&self, key: &[u8], group: &[u8]) -> Result<(), Reply> {
        let max = self.limits.consumers_per_group_max;
        if self.store.consumers(key, group).len() >= max {
            return Err(Reply::err(format!(
                "ERR group already has {max} consumers (consumers_per_group_max)"
            )));
        }
        Ok(())
    }

    fn check_pending_room(&self, group_meta: &GroupMeta, adding: u64) -> Result<(), Reply> {
        if group_meta.pending_count + adding > self.limits.pending_per_group_max {
            return Err(Reply::err(format!(
                "ERR group has {} pending entries (pending_per_group_max); acknowledge some first",
                group_meta.pending_count
            )));
        }
        Ok(())
    }

    /// Everything that can refuse an XREADGROUP, checked before anything changes: a refused
    /// read must leave groups, PELs and consumers as they were (the write path commits whatever
    /// a command did, error or not). The ranges are read again when serving; that costs one
    /// extra range read of at most COUNT entries.
    fn xreadgroup_precheck(&self, r: &XReadGroup) -> Result<(), Reply> {
        let mut total = 0usize;
        for (key, from) in &r.streams {
            if self.store.consumer(key, &r.group, &r.consumer).is_none() {
                self.check_consumer_room(key, &r.group)?;
            }
            let group_meta = self.store.group(key, &r.group).unwrap_or_default();
            let limit = self.fetch_limit(r.count);
            let served = match from {
                ReadFrom::After(after) => after.next().map_or(0, |start| {
                    let ids = self.store.consumer_pending_range(
                        key,
                        &r.group,
                        &r.consumer,
                        start,
                        StreamId::MAX,
                        limit,
                    );
                    ids.len()
                }),
                _ => group_meta.last_delivered_id.next().map_or(0, |start| {
                    let got = self.store.entries(key, start, StreamId::MAX, false, limit);
                    got.len()
                }),
            };
            total += served;
            if total > self.limits.reply_entries_max {
                return Err(too_many(self.limits));
            }
            if !r.noack && *from == ReadFrom::New {
                self.check_pending_room(&group_meta, served as u64)?;
            }
        }
        Ok(())
    }

    /// Looks a consumer up, creating it if needed, and refreshes its seen time.
    fn touch_consumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<ConsumerMeta, Reply> {
        let mut meta = match self.store.consumer(key, group, consumer) {
            Some(meta) => meta,
            None => self.create_consumer(key, group, consumer)?,
        };
        meta.seen_ms = self.now_ms;
        self.store.put_consumer(key, group, consumer, &meta);
        Ok(meta)
    }

    fn del_consumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        mut group_meta: GroupMeta,
        consumer: &[u8],
    ) -> Reply {
        let Some(meta) = self.store.consumer(key, group, consumer) else {
            return Reply::Int(0);
        };
        let ids = self.store.consumer_pending_range(
            key,
            group,
            consumer,
            StreamId::MIN,
            StreamId::MAX,
            usize::MAX,
        );
        debug_assert_eq!(ids.len() as u64, meta.pending_count);
        for id in &ids {
            self.store.delete_pending(key, group, *id);
        }
        group_meta.pending_count -= ids.len() as u64;
        self.store.put_group(key, group, &group_meta);
        self.store.delete_consumer(key, group, consumer);
        Reply::Int(ids.len() as i64)
    }

    fn xreadgroup(&mut self, r: &XReadGroup) -> Reply {
        for (key, _) in &r.streams {
            if self.store.stream(key).is_none() || self.store.group(key, &r.group).is_none() {
                return nogroup_read(key, &r.group);
            }
        }
        if let Err(reply) = self.xreadgroup_precheck(r) {
            return reply;
        }
        let mut out = Vec::new();
        let mut total = 0usize;
        for (key, from) in &r.streams {
            if let Err(reply) = self.touch_consumer(key, &r.group, &r.consumer) {
                return reply;
            }
            // Read the group afresh per stream: a key named twice must see the first delivery.
            let group_meta = self.store.group(key, &r.group).unwrap_or_default();
            let served = match from {
                ReadFrom::After(after) => Some(self.read_history(key, r, *after)),
                _ => self.read_new(key, r, group_meta),
            };
            let Some(served) = served else { continue };
            let entries = match served {
                Ok(entries) => entries,
                Err(reply) => return reply,
            };
            total += entries.len();
            if total > self.limits.reply_entries_max {
                return too_many(self.limits);
            }
            out.push((Reply::bulk(key), Reply::Array(entries)));
        }
        if out.is_empty() {
            Reply::NilArray
        } else {
            Reply::PairMap(out)
        }
    }

    /// `>`: entries after the group's last delivered ID. `None` when there are none.
    fn read_new(
        &mut self,
        key: &[u8],
        r: &XReadGroup,
        mut group_meta: GroupMeta,
    ) -> Option<Result<Vec<Reply>, Reply>> {
        let start = group_meta.last_delivered_id.next()?;
        let got = self
            .store
            .entries(key, start, StreamId::MAX, false, self.fetch_limit(r.count));
        if got.is_empty() {
            return None;
        }
        if self.over_limit(&got) {
            return Some(Err(too_many(self.limits)));
        }
        if !r.noack {
            if let Err(reply) = self.check_pending_room(&group_meta, got.len() as u64) {
                return Some(Err(reply));
            }
        }
        let meta = self.store.stream(key).unwrap_or_default();
        let mut consumer = self
            .store
            .consumer(key, &r.group, &r.consumer)
            .unwrap_or_default();
        let mut replies = Vec::with_capacity(got.len());
        for (id, fields) in &got {
            advance_group(&meta, &mut group_meta, *id);
            if !r.noack {
                self.deliver(
                    key,
                    &r.group,
                    &r.consumer,
                    *id,
                    &mut group_meta,
                    &mut consumer,
                );
            }
            replies.push(entry_reply(*id, fields));
        }
        self.store.put_group(key, &r.group, &group_meta);
        self.store
            .put_consumer(key, &r.group, &r.consumer, &consumer);
        Some(Ok(replies))
    }

    /// Records a fresh delivery of `id` to `consumer`, taking it from another owner if the group
    /// was moved back with XGROUP SETID.
    fn deliver(
        &mut self,
        key: &[u8],
        group: &[u8],
        name: &[u8],
        id: StreamId,
        group_meta: &mut GroupMeta,
        consumer: &mut ConsumerMeta,
    ) {
        match self.store.pending(key, group, id) {
            Some(old) if old.consumer == name => consumer.pending_count -= 1,
            Some(old) => self.adjust_consumer_count(key, group, &old.consumer, -1),
            None => group_meta.pending_count += 1,
        }
        let entry = PendingEntry {
            consumer: name.to_vec(),
            delivery_ms: self.now_ms,
            delivery_count: 1,
        };
        self.store.put_pending(key, group, id, &entry);
        consumer.pending_count += 1;
        consumer.active_ms = Some(self.now_ms);
    }

    fn adjust_consumer_count(&mut self, key: &[u8], group: &[u8], name: &[u8], delta: i64) {
        let Some(mut meta) = self.store.consumer(key, group, name) else {
            debug_assert!(false, "pending entry owned by a missing consumer");
            return;
        };
        meta.pending_count = meta
            .pending_count
            .checked_add_signed(delta)
            .expect("consumer pending count underflow");
        self.store.put_consumer(key, group, name, &meta);
    }

    /// A history read: the consumer's own pending entries after `after`. Deleted entries come
    /// back as `[id, nil]`; delivered ones have their delivery time and count bumped.
    fn read_history(
        &mut self,
        key: &[u8],
        r: &XReadGroup,
        after: StreamId,
    ) -> Result<Vec<Reply>, Reply> {
        let Some(start) = after.next() else {
            return Ok(Vec::new());
        };
        let limit = self.fetch_limit(r.count);
        let ids = self.store.consumer_pending_range(
            key,
            &r.group,
            &r.consumer,
            start,
            StreamId::MAX,
            limit,
        );
        if self.over_limit(&ids) {
            return Err(too_many(self.limits));
        }
        let mut replies = Vec::with_capacity(ids.len());
        for id in ids {
            match self.store.entry(key, id) {
                None => replies.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
                Some(fields) => {
                    if let Some(mut pe) = self.store.pending(key, &r.group, id) {
                        pe.delivery_ms = self.now_ms;
                        pe.delivery_count += 1;
                        self.store.put_pending(key, &r.group, id, &pe);
                    }
                    replies.push(entry_reply(id, &fields));
                }
            }
        }
        Ok(replies)
    }

    fn xack(&mut self, key: &Key, group: &Key, ids: &[StreamId]) -> Reply {
        let Some(mut group_meta) = self.store.group(key, group) else {
            return Reply::Int(0);
        };
        let mut acked = 0;
        for &id in ids {
            let Some(pe) = self.store.pending(key, group, id) else {
                continue;
            };
            self.store.delete_pending(key, group, id);
            self.adjust_consumer_count(key, group, &pe.consumer, -1);
            group_meta.pending_count -= 1;
            acked += 1;
        }
        if acked > 0 {
            self.store.put_group(key, group, &group_meta);
        }
        Reply::Int(acked)
    }

    fn xpending(&mut self, key: &Key, group: &Key, range: Option<&PendingRange>) -> Reply {
        let Some(group_meta) = self.store.group(key, group) else {
            return nogroup(key, group);
        };
        match range {
            None => self.pending_summary(key, group, &group_meta),
            Some(range) => self.pending_extended(key, group, range),
        }
    }

    fn pending_summary(&mut self, key: &[u8], group: &[u8], group_meta: &GroupMeta) -> Reply {
        if group_meta.pending_count == 0 {
            return Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]);
        }
        let first = self
            .store
            .pending_range(key, group, StreamId::MIN, StreamId::MAX, 1);
        let last = self.last_pending(key, group);
        let mut per_consumer = Vec::new();
        for (name, meta) in self.store.consumers(key, group) {
            if meta.pending_count > 0 {
                per_consumer.push(Reply::Array(vec![
                    Reply::bulk(&name),
                    Reply::bulk(meta.pending_count.to_string()),
                ]));
            }
        }
        Reply::Array(vec![
            Reply::Int(group_meta.pending_count as i64),
            first.first().map_or(Reply::Nil, |(id, _)| id_reply(*id)),
            last.map_or(Reply::Nil, id_reply),
            Reply::Array(per_consumer),
        ])
    }

    /// The highest pending ID, found by bisecting on the ID space (the trait has no reverse PEL
    /// scan; 128 point probes of a range each are cheap).
    fn last_pending(&self, key: &[u8], group: &[u8]) -> Option<StreamId> {
        let any = |lo: StreamId| {
            !self
                .store
                .pending_range(key, group, lo, StreamId::MAX, 1)
                .is_empty()
        };
        let first = self
            .store
            .pending_range(key, group, StreamId::MIN, StreamId::MAX, 1)
            .first()?
            .0;
        let (mut lo, mut hi) = (u128::from_be_bytes(first.to_be_bytes()), u128::MAX);
        // Invariant: some pending ID is >= lo; none is > hi.
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if any(StreamId::from_be_bytes(mid.to_be_bytes())) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(StreamId::from_be_bytes(lo.to_be_bytes()))
    }

    fn pending_extended(&mut self, key: &[u8], group: &[u8], range: &PendingRange) -> Reply {
        if let Some(name) = &range.consumer {
            if self.store.consumer(key, group, name).is_none() {
                return Reply::Array(Vec::new());
            }
        }
        let want = (range.count as usize).min(self.limits.reply_entries_max + 1);
        let mut out = Vec::new();
        let mut from = range.start;
        while out.len() < want && from <= range.end {
            let page =
                self.pending_page(key, group, range.consumer.as_deref(), from, range.end, 1024);
            let Some(&(last, _)) = page.last() else { break };
            for (id, pe) in page.iter() {
                let idle_ms = self.now_ms.saturating_sub(pe.delivery_ms);
                if idle_ms < range.min_idle_ms {
                    continue;
                }
                if out.len() == want {
                    break;
                }
                out.push(Reply::Array(vec![
                    id_reply(*id),
                    Reply::bulk(&pe.consumer),
                    Reply::Int(idle_ms as i64),
                    Reply::Int(pe.delivery_count as i64),
                ]));
            }
            match last.next() {
                Some(next) if page.len() == 1024 => from = next,
                _ => break,
            }
        }
        if out.len() > self.limits.reply_entries_max {
            return too_many(self.limits);
        }
        Reply::Array(out)
    }

    /// A page of pending entries, of the group or of one consumer (through its index).
    fn pending_page(
        &self,
        key: &[u8],
        group: &[u8],
        consumer: Option<&[u8]>,
        start: StreamId,
        end: StreamId,
        limit: usize,
    ) -> Vec<(StreamId, PendingEntry)> {
        match consumer {
            None => self.store.pending_range(key, group, start, end, limit),
            Some(name) => self
                .store
                .consumer_pending_range(key, group, name, start, end, limit)
                .into_iter()
                .filter_map(|id| self.store.pending(key, group, id).map(|pe| (id, pe)))
                .collect(),
        }
    }

    /// Moves a pending entry to `consumer` (or creates it, for FORCE), with the given delivery
    /// time and count, keeping group and consumer counts in step.
    fn claim_one(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        old: Option<PendingEntry>,
        new: PendingEntry,
        group_meta: &mut GroupMeta,
    ) {
        let consumer = new.consumer.as_slice();
        match &old {
            Some(old) if old.consumer == consumer => {}
            Some(old) => {
                self.adjust_consumer_count(key, group, &old.consumer, -1);
                self.adjust_consumer_count(key, group, consumer, 1);
            }
            None => {
                group_meta.pending_count += 1;
                self.adjust_consumer_count(key, group, consumer, 1);
            }
        }
        self.store.put_pending(key, group, id, &new);
    }

    /// Drops a pending entry whose stream entry is gone (XCLAIM and XAUTOCLAIM do this).
    fn drop_pending(
        &mut self,
        key: &[u8],
        group: &[u8],
        id: StreamId,
        pe: &PendingEntry,
        group_meta: &mut GroupMeta,
    ) {
        self.store.delete_pending(key, group, id);
        self.adjust_consumer_count(key, group, &pe.consumer, -1);
        group_meta.pending_count -= 1;
    }

    fn claimed_reply(&self, key: &[u8], id: StreamId, justid: bool) -> Reply {
        if justid {
            return id_reply(id);
        }
        let fields = self.store.entry(key, id).unwrap_or_default();
        entry_reply(id, &fields)
    }

    fn xclaim(&mut self, c: &XClaim) -> Reply {
        let (key, group) = (&c.key, &c.group);
        let Some(mut group_meta) = self.store.group(key, group) else {
            return nogroup(key, group);
        };
        // FORCE can add one pending entry per named ID; refuse up front rather than half-way.
        if c.force {
            if let Err(reply) = self.check_pending_room(&group_meta, c.ids.len() as u64) {
                return reply;
            }
        }
        let now = self.now_ms as i64;
        if let Some(last_id) = c.last_id {
            group_meta.last_delivered_id = group_meta.last_delivered_id.max(last_id);
        }
        let delivery_ms = match (c.idle_ms, c.time_ms) {
            (Some(idle), _) => now.saturating_sub(idle),
            (None, Some(time)) => time,
            (None, None) => now,
        };
        let delivery_ms = if delivery_ms < 0 || delivery_ms > now {
            now
        } else {
            delivery_ms
        } as u64;
        // Redis 7.2+ creates (and refreshes) the claiming consumer even when nothing is claimed.
        if let Err(reply) = self.touch_consumer(key, group, &c.consumer) {
            return reply;
        }
        let mut out = Vec::new();
        for &id in &c.ids {
            let old = self.store.pending(key, group, id);
            if self.store.entry(key, id).is_none() {
                if let Some(pe) = old {
                    self.drop_pending(key, group, id, &pe, &mut group_meta);
                }
                continue;
            }
            let (base_count, check_idle) = match &old {
                Some(pe) => (pe.delivery_count, true),
                // FORCE creates the record with one delivery, then counts the claim as another:
                // Redis answers 2 for such an entry, and so do we.
                None if c.force => (1, false),
                None => continue,
            };
            if check_idle && c.min_idle_ms > 0 {
                let delivered = old.as_ref().map_or(0, |pe| pe.delivery_ms);
                if self.now_ms.saturating_sub(delivered) < c.min_idle_ms {
                    continue;
                }
            }
            let delivery_count = match c.retry_count {
                Some(n) if n >= 0 => n as u64,
                _ if c.justid => base_count,
                _ => base_count + 1,
            };
            let new = PendingEntry {
                consumer: c.consumer.clone(),
                delivery_ms,
                delivery_count,
            };
            self.claim_one(key, group, id, old, new, &mut group_meta);
            self.mark_active(key, group, &c.consumer);
            out.push(self.claimed_reply(key, id, c.justid));
        }
        self.store.put_group(key, group, &group_meta);
        Reply::Array(out)
    }

    fn mark_active(&mut self, key: &[u8], group: &[u8], consumer: &[u8]) {
        if let Some(mut meta) = self.store.consumer(key, group, consumer) {
            meta.active_ms = Some(self.now_ms);
            self.store.put_consumer(key, group, consumer, &meta);
        }
    }

    fn xautoclaim(&mut self, c: &XAutoClaim) -> Reply {
        let (key, group) = (&c.key, &c.group);
        let Some(mut group_meta) = self.store.group(key, group) else {
            return nogroup(key, group);
        };
        if c.count as usize > self.limits.reply_entries_max {
            return too_many(self.limits);
        }
        if let Err(reply) = self.touch_consumer(key, group, &c.consumer) {
            return reply;
        }
        let mut count = c.count;
        let mut attempts = c.count * 10;
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut next_cursor = StreamId::MIN;
        // Mirrors the rax walk in `xautoclaimCommand`: stop after `attempts` visits or `count`
        // results; the cursor is the first pending ID not visited.
        let mut cursor = Some(c.start);
        while let Some((id, pe)) = cursor.and_then(|from| {
            self.store
                .pending_range(key, group, from, StreamId::MAX, 1)
                .pop()
        }) {
            if attempts == 0 || count == 0 {
                next_cursor = id;
                break;
            }
            attempts -= 1;
            cursor = id.next();
            if self.store.entry(key, id).is_none() {
                self.drop_pending(key, group, id, &pe, &mut group_meta);
                deleted.push(id_reply(id));
                count -= 1;
                continue;
            }
            if c.min_idle_ms > 0 && self.now_ms.saturating_sub(pe.delivery_ms) < c.min_idle_ms {
                continue;
            }
            let delivery_count = if c.justid {
                pe.delivery_count
            } else {
                pe.delivery_count + 1
            };
            let new = PendingEntry {
                consumer: c.consumer.clone(),
                delivery_ms: self.now_ms,
                delivery_count,
            };
            self.claim_one(key, group, id, Some(pe), new, &mut group_meta);
            self.mark_active(key, group, &c.consumer);
            claimed.push(self.claimed_reply(key, id, c.justid));
            count -= 1;
        }
        self.store.put_group(key, group, &group_meta);
        Reply::Array(vec![
            id_reply(next_cursor),
            Reply::Array(claimed),
            Reply::Array(deleted),
        ])
    }

    fn malformed(&mut self, m: &Malformed) -> Reply {
        for key in &m.keys {
            let key_exists = self.store.stream(key).is_some();
            let group_missing = match &m.group {
                Some(group) => !key_exists || self.store.group(key, group).is_none(),
                None => false,
            };
            let group = m.group.as_deref().unwrap_or_default();
            match m.missing {
                Missing::Zero if !key_exists || group_missing => return Reply::Int(0),
                Missing::NoGroup if !key_exists || group_missing => return nogroup(key, group),
                Missing::NoGroupRead if !key_exists || group_missing => {
                    return nogroup_read(key, group)
                }
                Missing::XGroup if !key_exists => return Reply::err(errors::XGROUP_NEEDS_KEY),
                Missing::XGroup if group_missing => return nogroup_for_key(key, group),
                _ => {}
            }
        }
        Reply::Error(m.error.clone())
    }

    // ---- XINFO -------------------------------------------------------------------------------

    fn xinfo(&mut self, info: &XInfo) -> Reply {
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
    fn info_stream_head(&self, meta: &StreamMeta) -> Vec<(Reply, Reply)> {
        let nodes = meta.length.div_ceil(TRIM_NODE_ENTRIES);
        vec![
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
        ]
    }

    fn info_stream(&self, key: &[u8], meta: &StreamMeta) -> Reply {
        let mut map = self.info_stream_head(meta);
        let edge = |rev: bool| {
            let got = self
                .store
                .entries(key, StreamId::MIN, StreamId::MAX, rev, 1);
            got.first()
                .map_or(Reply::Nil, |(id, f)| entry_reply(*id, f))
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
        let entries = self
            .store
            .entries(key, StreamId::MIN, StreamId::MAX, false, limit);
        if self.over_limit(&entries) {
            return too_many(self.limits);
        }
        let mut map = self.info_stream_head(meta);
        map.push((
            Reply::text("entries"),
            Reply::Array(entries.iter().map(|(id, f)| entry_reply(*id, f)).collect()),
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

    // ---- XSETID and keyspace -----------------------------------------------------------------

    fn xsetid(
        &mut self,
        key: &Key,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return Reply::err("ERR no such key");
        };
        if meta.length > 0 {
            let top = self
                .store
                .entries(key, StreamId::MIN, StreamId::MAX, true, 1);
            if top.first().is_some_and(|(id, _)| last_id < *id) {
                return Reply::err(
                    "ERR The ID specified in XSETID is smaller than the target stream top item",
                );
            }
            if entries_added.is_some_and(|n| n < meta.length) {
                return Reply::err("ERR The entries_added specified in XSETID is smaller than the target stream length");
            }
        }
        if last_id < meta.max_deleted_id {
            return Reply::err(
                "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
            );
        }
        meta.last_id = last_id;
        if let Some(n) = entries_added {
            meta.entries_added = n;
        }
        if let Some(id) = max_deleted.filter(|id| *id != StreamId::MIN) {
            meta.max_deleted_id = id;
        }
        self.store.put_stream(key, &meta);
        Reply::ok()
    }

    fn del(&mut self, keys: &[Key]) -> Reply {
        let mut deleted = 0;
        for key in keys {
            if self.store.stream(key).is_some() {
                self.store.delete_stream(key);
                deleted += 1;
            }
        }
        Reply::Int(deleted)
    }

    fn keys(&mut self, pattern: &[u8]) -> Reply {
        let mut out = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.store.stream_keys(after.as_deref(), 1024);
            let Some(last) = page.last().cloned() else {
                break;
            };
            for key in page {
                if crate::glob::matches(pattern, &key) {
                    if out.len() == self.limits.reply_entries_max {
                        return too_many(self.limits);
                    }
                    out.push(Reply::Bulk(key));
                }
            }
            after = Some(last);
        }
        Reply::Array(out)
    }

    /// SCAN over keys in byte order. The cursor is the number of keys already passed; a key
    /// deleted during a scan can make a later key be skipped, which Redis's hash-order cursor
    /// avoids. Documented in ARCHITECTURE.md.
    fn scan(
        &mut self,
        cursor: u64,
        pattern: Option<&[u8]>,
        count: u64,
        type_filter: Option<&[u8]>,
    ) -> Reply {
        let count = (count as usize).min(self.limits.reply_entries_max);
        let mut skipped = 0u64;
        let mut after: Option<Vec<u8>> = None;
        while skipped < cursor {
            let want = ((cursor - skipped) as usize).min(1024);
            let page = self.store.stream_keys(after.as_deref(), want);
            let Some(last) = page.last().cloned() else {
                break;
            };
            skipped += page.len() as u64;
            after = Some(last);
        }
        let page = if skipped < cursor {
            Vec::new()
        } else {
            self.store.stream_keys(after.as_deref(), count)
        };
        let next = if page.len() == count {
            cursor + count as u64
        } else {
            0
        };
        let type_ok = type_filter.is_none_or(|t| t == b"stream");
        let keys = page
            .into_iter()
            .filter(|k| type_ok && pattern.is_none_or(|p| crate::glob::matches(p, k)))
            .map(Reply::Bulk)
            .collect();
        Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(keys)])
    }
}

/// Moves the group's last delivered ID to `id` and keeps its logical read counter
/// (`entries-read`) exact where it can, like `streamReplyWithRange` does.
fn advance_group(meta: &StreamMeta, group: &mut GroupMeta, id: StreamId) {
    if id <= group.last_delivered_id {
        return;
    }
    match group.entries_read {
        Some(n) if !has_tombstones(meta, id, StreamId::MAX) => group.entries_read = Some(n + 1),
        _ if meta.entries_added > 0 => group.entries_read = estimate_entries_read(meta, id),
        _ => {}
    }
    group.last_delivered_id = id;
}

/// `streamRangeHasTombstones`: whether an XDEL may have left a gap inside `[start, end]`.
fn has_tombstones(meta: &StreamMeta, start: StreamId, end: StreamId) -> bool {
    if meta.length == 0 || meta.max_deleted_id == StreamId::MIN {
        return false;
    }
    start <= meta.max_deleted_id && meta.max_deleted_id <= end
}

/// `streamEstimateDistanceFromFirstEverEntry`: the logical position of `id`, when knowable.
fn estimate_entries_read(meta: &StreamMeta, id: StreamId) -> Option<u64> {
    if meta.entries_added == 0 {
        return Some(0);
    }
    if meta.length == 0 && id <= meta.last_id {
        return Some(meta.entries_added);
    }
    if id == meta.last_id {
        return Some(meta.entries_added);
    }
    if id > meta.last_id {
        return None;
    }
    let no_gap_ahead = meta.max_deleted_id == StreamId::MIN || meta.max_deleted_id < meta.first_id;
    if no_gap_ahead {
        if id < meta.first_id {
            return Some(meta.entries_added - meta.length);
        }
        if id == meta.first_id {
            return Some(meta.entries_added - meta.length + 1);
        }
    }
    None
}

/// `lag` in XINFO: entries added but not yet read by the group, when knowable.
pub fn group_lag(meta: &StreamMeta, group: &GroupMeta) -> Option<u64> {
    if meta.entries_added == 0 {
        return Some(0);
    }
    if let Some(read) = group.entries_read {
        if !has_tombstones(meta, group.last_delivered_id, StreamId::MAX) {
            return Some(meta.entries_added.saturating_sub(read));
        }
    }
    estimate_entries_read(meta, group.last_delivered_id)
        .map(|read| meta.entries_added.saturating_sub(read))
}

fn help(lines: &[&str]) -> Reply {
    Reply::Array(
        lines
            .iter()
            .map(|l| Reply::Status((*l).to_owned()))
            .collect(),
    )
}

fn xgroup_help() -> Reply {
    help(&[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Print this help.",
    ])
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
