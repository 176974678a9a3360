//! The consumer loop the seed articles write by hand, once: read new entries for this consumer,
//! hand each to a handler, acknowledge what it handled, leave the rest pending, and now and
//! then claim entries that other (dead) consumers left idle.

use std::time::Duration;

use tokio::time::Instant;

use crate::proto as pb;
use crate::{Client, Error};

#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// Entries asked for per read.
    pub batch: u64,
    /// How long one read waits for new entries.
    pub block: Duration,
    /// Entries pending longer than this are claimed from whoever holds them.
    pub claim_idle: Duration,
    /// How often to look for such entries.
    pub claim_every: Duration,
}

impl Default for ConsumerOptions {
    fn default() -> ConsumerOptions {
        ConsumerOptions {
            batch: 10,
            block: Duration::from_secs(1),
            claim_idle: Duration::from_secs(30),
            claim_every: Duration::from_secs(5),
        }
    }
}

/// One consumer of one group on one stream.
pub struct Consumer {
    pub client: Client,
    pub key: Vec<u8>,
    pub group: String,
    pub name: String,
    pub options: ConsumerOptions,
}

impl Consumer {
    /// Runs until `stop` completes. `handler` returns `Ok` for an entry it handled (it is then
    /// acknowledged) or `Err` to leave it pending (it is claimed again later, by this consumer
    /// or another). Gives up only when the cluster stays unreachable past the client's
    /// `retry_for`.
    pub async fn run<H, E>(
        &self,
        mut handler: H,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), Error>
    where
        H: FnMut(&pb::Entry) -> Result<(), E>,
    {
        tokio::pin!(stop);
        let mut next_claim = Instant::now();
        loop {
            let mut entries = Vec::new();
            if Instant::now() >= next_claim {
                let claim_idle_ms =
                    u64::try_from(self.options.claim_idle.as_millis()).unwrap_or(u64::MAX);
                let mut start = "0-0".to_owned();
                loop {
                    let claimed = self
                        .client
                        .xautoclaim(
                            &self.key,
                            &self.group,
                            &self.name,
                            claim_idle_ms,
                            &start,
                            self.options.batch,
                        )
                        .await?;
                    entries.extend(claimed.entries);
                    if claimed.next_start == "0-0"
                        || entries.len() as u64 >= self.options.batch * 10
                    {
                        break;
                    }
                    start = claimed.next_start;
                }
                next_claim = Instant::now() + self.options.claim_every;
            }
            let block_ms = u64::try_from(self.options.block.as_millis()).unwrap_or(u64::MAX);
            let read = self.client.xreadgroup(
                &self.key,
                &self.group,
                &self.name,
                ">",
                self.options.batch,
                Some(block_ms),
            );
            tokio::select! {
                _ = &mut stop => return Ok(()),
                read = read => entries.extend(read?),
            }
            let handled: Vec<String> = entries
                .iter()
                .filter(|entry| handler(entry).is_ok())
                .map(|entry| entry.id.clone())
                .collect();
            if !handled.is_empty() {
                self.client.xack(&self.key, &self.group, &handled).await?;
            }
        }
    }
}
