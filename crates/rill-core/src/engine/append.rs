//! XADD: the ID a new entry gets, the entry and the stream's counters, and the producer table
//! that makes a producer's retried XADD answer the ID it got the first time.

use crate::command::{AddId, Command, Key, Produce, Trim};
use crate::id::StreamId;
use crate::reply::{errors, Reply};
use crate::store::{Fields, ProducerClock, ProducerState, Store, StreamMeta};

use super::{id_reply, Exec};

impl<S: Store> Exec<'_, S> {
    pub(super) fn xadd(
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
    pub(super) fn produce(&mut self, p: &Produce) -> Reply {
        const SWEEP_PER_CALL: usize = 4;
        let clock = ProducerClock::advanced(self.store.producer_clock(), self.now_ms);
        self.store.put_producer_clock(&clock);
        let horizon = clock.idle_ms.saturating_sub(self.limits.producer_idle_ms);
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
        match self.add_command(&p.add) {
            Ok(Some(new_id)) => {
                let state = ProducerState {
                    last_seq: p.seq,
                    last_id: new_id,
                    touched_ms: clock.idle_ms,
                };
                self.store.put_producer(&p.producer, &state);
                id_reply(new_id)
            }
            Ok(None) => Reply::Nil,
            Err(reply) => reply,
        }
    }

    /// [`Exec::add`] for a [`Command::XAdd`] that another command wraps.
    pub(super) fn add_command(&mut self, add: &Command) -> Result<Option<StreamId>, Reply> {
        let Command::XAdd {
            key,
            nomkstream,
            trim,
            id,
            fields,
        } = add
        else {
            return Err(Reply::err("ERR only XADD can be wrapped so"));
        };
        self.add(key, *nomkstream, trim.as_ref(), id, fields)
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
        self.store.touch(key);
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
}
