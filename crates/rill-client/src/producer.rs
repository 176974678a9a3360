//! Idempotent XADD: a producer id plus a sequence number per call.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use rill_proto::v1 as pb;

use crate::{Client, Error};

/// A producer whose XADDs the cluster applies at most once each, however often the client
/// retries them (on another node, after a leader change, after a lost reply).
///
/// Calls take `&mut self`: sequence numbers go out in order, one call at a time, which is what
/// lets the cluster remember only the last one. Run several producers for parallelism.
pub struct Producer {
    client: Client,
    id: Vec<u8>,
    next_seq: u64,
}

impl Producer {
    /// A producer with a chosen id. `next_seq` must exceed every sequence number this id has
    /// used within the last `producer_idle_ms`; reusing one answers that call's old ID.
    pub fn new(client: Client, id: Vec<u8>, next_seq: u64) -> Producer {
        Producer {
            client,
            id,
            next_seq,
        }
    }

    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// `XADD key * field value ...` as this producer's next sequence number; returns the ID,
    /// the same one for every retry of the call.
    pub async fn xadd(&mut self, key: &[u8], fields: &[(&[u8], &[u8])]) -> Result<String, Error> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let producer = pb::Producer {
            id: self.id.clone(),
            seq,
        };
        self.client.xadd_as(key, fields, Some(producer)).await
    }
}

/// 16 bytes no other producer is likely to draw: the process's randomly keyed SipHash over
/// the time, the process id and a counter.
pub(crate) fn random_id() -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = Vec::with_capacity(16);
    for half in 0..2u8 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(half);
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(count);
        out.extend_from_slice(&hasher.finish().to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_differ() {
        let a = super::random_id();
        let b = super::random_id();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }
}
