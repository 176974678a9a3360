//! A Rust client for Rill's gRPC API.
//!
//! ```text
//!  Client::connect(["10.0.0.1:7379", "10.0.0.2:7379", ...])
//!    every call: to the leader when known (any node works: followers forward), with a deadline
//!    UNAVAILABLE / "not the leader" / transport error ─▶ ask the next node, back off, retry
//!    until `retry_for` has passed; Redis-level errors (bad ID, NOGROUP, ...) come back at once
//!  Consumer::run(handler): XREADGROUP BLOCK ─▶ handler(entry) ─▶ XACK on Ok, stays pending
//!    on Err; every `claim_every`, XAUTOCLAIM entries idle past `claim_idle` (dead consumers')
//! ```
//!
//! A write retried after a leader change may have been applied already. [`Producer`] makes
//! `XADD` safe to retry: each call carries the producer's id and a sequence number, and the
//! cluster answers a repeat with the ID the first attempt got. [`Client::xadd`] is a plain
//! XADD, which a retry can append twice. Consumers must tolerate redelivery anyway (claims).

mod consumer;
#[cfg(feature = "dev-certs")]
pub mod dev_certs;
mod producer;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rill_proto::v1::cluster_client::ClusterClient;
use rill_proto::v1::streams_client::StreamsClient;
use rill_proto::v1::{self as pb};
use tokio::time::Instant;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};

pub use consumer::{Consumer, ConsumerOptions};
pub use producer::Producer;
pub use rill_proto::v1 as proto;

/// Timeouts and retry bounds. Units are in the names.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Deadline of one call (a blocking read adds its block time).
    pub call_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long a call keeps retrying on other nodes before giving up.
    pub retry_for: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Sent as `authorization: Bearer <password>` with every call: the node's `requirepass`,
    /// or its admin password for calls that change the cluster.
    pub password: Option<String>,
    /// TLS to the nodes (which then serve nothing else).
    pub tls: Option<ClientTls>,
}

/// TLS settings, PEM-encoded.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// The CA the nodes' certificates are verified against.
    pub ca_pem: Vec<u8>,
    /// A client certificate and key, if the client has one (a node's makes it a node).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            call_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            retry_for: Duration::from_secs(15),
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
            password: None,
            tls: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command was refused: Redis's error text, the gRPC code by kind.
    #[error("{0}")]
    Refused(Status),
    /// No node answered within `retry_for`; the last failure. A write may or may not have
    /// been applied.
    #[error("no node answered: {0}")]
    Unavailable(String),
    #[error("bad address {0}")]
    Address(String),
    /// An option the client cannot use (a password that cannot travel in a header).
    #[error("{0}")]
    Options(String),
}

impl Error {
    pub fn code(&self) -> Code {
        match self {
            Error::Refused(status) => status.code(),
            Error::Unavailable(_) => Code::Unavailable,
            Error::Address(_) | Error::Options(_) => Code::InvalidArgument,
        }
    }
}

/// A handle on a cluster. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    options: ClientOptions,
    nodes: Vec<Channel>,
    addrs: Vec<String>,
    /// Index into `nodes` of the node to ask first.
    preferred: Mutex<usize>,
    /// `Bearer <password>`, if a password is set.
    authorization: Option<MetadataValue<Ascii>>,
}

/// Whether a failed call should be tried again on another node.
fn retryable(status: &Status) -> bool {
    if transport_failure(status) {
        // A connection that broke under the call (a node stopping sends GOAWAY) surfaces as
        // `Internal` with the transport error as its source.
        return true;
    }
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => true,
        Code::FailedPrecondition => status.message().starts_with("not the leader"),
        _ => false,
    }
}

fn transport_failure(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::transport::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

impl Client {
    /// A client of the nodes at `addrs` (gRPC `host:port`). Connections are made lazily.
    pub fn connect<I, S>(addrs: I, options: ClientOptions) -> Result<Client, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let addrs: Vec<String> = addrs.into_iter().map(Into::into).collect();
        if addrs.is_empty() {
            return Err(Error::Address("no node addresses".to_owned()));
        }
        let mut nodes = Vec::with_capacity(addrs.len());
        let tls = options.tls.as_ref().map(|tls| {
            let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
            match &tls.identity {
                Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
                None => config,
            }
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        for addr in &addrs {
            let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
                .map_err(|_| Error::Address(addr.clone()))?
                .connect_timeout(options.connect_timeout)
                .tcp_nodelay(true);
            if let Some(tls) = &tls {
                endpoint = endpoint
                    .tls_config(tls.clone())
                    .map_err(|e| Error::Options(format!("TLS: {e}")))?;
            }
            nodes.push(endpoint.connect_lazy());
        }
        let authorization = match &options.password {
            None => None,
            Some(password) => Some(
                MetadataValue::try_from(format!("Bearer {password}")).map_err(|_| {
                    Error::Options("the password must be printable ASCII".to_owned())
                })?,
            ),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                options,
                nodes,
                addrs,
                preferred: Mutex::new(0),
                authorization,
            }),
        })
    }

    fn preferred(&self) -> usize {
        *self
            .inner
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn prefer(&self, index: usize) {
        *self
            .inner
            .preferred
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = index;
    }

    /// Points the client at the leader, as the node it asks first names it.
    pub async fn find_leader(&self) -> Result<pb::ClusterStatus, Error> {
        let status = self.status().await?;
        if let Some(leader) = status.leader_id {
            let addr = status
                .members
                .iter()
                .find(|m| m.id == leader)
                .map(|m| m.raft_addr.clone());
            if let Some(index) = addr.and_then(|a| self.inner.addrs.iter().position(|x| *x == a)) {
                self.prefer(index);
            }
        }
        Ok(status)
    }

    /// Runs `call` against the preferred node, moving on to the next one on a retryable
    /// failure, with bounded exponential backoff, until `retry_for` has passed.
    async fn retry<T, F, Fut>(&self, extra: Duration, call: F) -> Result<T, Error>
    where
        F: Fn(Channel, Duration) -> Fut,
        Fut: std::future::Future<Output = Result<T, Status>>,
    {
        let options = &self.inner.options;
        let give_up = Instant::now() + options.retry_for;
        let mut backoff = options.backoff_min;
        let mut index = self.preferred();
        loop {
            let timeout = options.call_timeout + extra;
            let channel = self.inner.nodes[index].clone();
            let outcome = tokio::time::timeout(timeout, call(channel, timeout)).await;
            let status = match outcome {
                Ok(Ok(value)) => {
                    self.prefer(index);
                    return Ok(value);
                }
                Ok(Err(status)) if !retryable(&status) => return Err(Error::Refused(status)),
                Ok(Err(status)) => status,
                Err(_) => Status::deadline_exceeded("call timed out"),
            };
            if Instant::now() + backoff >= give_up {
                return Err(Error::Unavailable(format!(
                    "{}: {}",
                    self.inner.addrs[index],
                    status.message()
                )));
            }
            tracing::debug!(node = %self.inner.addrs[index], error = %status.message(), "retrying on the next node");
            index = (index + 1) % self.inner.nodes.len();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(options.backoff_max);
        }
    }

    fn request<T>(&self, message: T, timeout: Duration) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(timeout);
        if let Some(authorization) = &self.inner.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        request
    }

    pub async fn status(&self) -> Result<pb::ClusterStatus, Error> {
        self.retry(Duration::ZERO, |channel, timeout| async move {
            let reply = ClusterClient::new(channel)
                .status(self.request(pb::Empty {}, timeout))
                .await?;
            Ok(reply.into_inner())
        })
        .await
    }

    /// `XADD key * field value ...`; returns the new ID. Not idempotent: a retry after a
    /// leader change may append twice; [`Client::producer`] gives XADDs that never do.
    pub async fn xadd(&self, key: &[u8], fields: &[(&[u8], &[u8])]) -> Result<String, Error> {
        self.xadd_as(key, fields, None).await
    }

    /// An idempotent producer with a fresh random id.
    pub fn producer(&self) -> Producer {
        Producer::new(self.clone(), producer::random_id(), 1)
    }

    async fn xadd_as(
        &self,
        key: &[u8],
        fields: &[(&[u8], &[u8])],
        producer: Option<pb::Producer>,
    ) -> Result<String, Error> {
        let request = pb::XAddRequest {
            producer,
            key: key.to_vec(),
            id: "*".to_owned(),
            fields: fields
                .iter()
                .map(|(name, value)| pb::Field {
                    name: name.to_vec(),
                    value: value.to_vec(),
                })
                .collect(),
            ..Default::default()
        };
        self.retry(Duration::ZERO, |channel, timeout| {
            let request = request.clone();
            async move {
                let reply = StreamsClient::new(channel)
                    .x_add(self.request(request, timeout))
                    .await?;
                Ok(reply.into_inner().id)
            }
        })
        .await
    }

    /// `XGROUP CREATE key group id MKSTREAM`; an existing group is not an error.
    pub async fn ensure_group(&self, key: &[u8], group: &str, id: &str) -> Result<(), Error> {
        let request = pb::XGroupCreateRequest {
            key: key.to_vec(),
            group: group.to_owned(),
            id: id.to_owned(),
            mkstream: true,
        };
        let created = self
            .retry(Duration::ZERO, |channel, timeout| {
                let request = request.clone();
                async move {
                    StreamsClient::new(channel)
                        .x_group_create(self.request(request, timeout))
                        .await?;
                    Ok(())
                }
            })
            .await;
        match created {
            Err(Error::Refused(status)) if status.code() == Code::AlreadyExists => Ok(()),
            other => other,
        }
    }

    /// `XREADGROUP GROUP group consumer COUNT count BLOCK block_ms STREAMS key id`.
    pub async fn xreadgroup(
        &self,
        key: &[u8],
        group: &str,
        consumer: &str,
        id: &str,
        count: u64,
        block_ms: Option<u64>,
    ) -> Result<Vec<pb::Entry>, Error> {
        let request = pb::XReadGroupRequest {
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            keys: vec![key.to_vec()],
            ids: vec![id.to_owned()],
            count,
            block_ms,
            no_ack: false,
            claim_min_idle_ms: None,
        };
        let extra = Duration::from_millis(block_ms.unwrap_or(0));
        self.retry(extra, |channel, timeout| {
            let request = request.clone();
            async move {
                let reply = StreamsClient::new(channel)
                    .x_read_group(self.request(request, timeout))
                    .await?;
                Ok(reply
                    .into_inner()
                    .streams
                    .into_iter()
                    .flat_map(|s| s.entries)
                    .collect())
            }
        })
        .await
    }

    pub async fn xack(&self, key: &[u8], group: &str, ids: &[String]) -> Result<u64, Error> {
        let request = pb::XAckRequest {
            key: key.to_vec(),
            group: group.to_owned(),
            ids: ids.to_vec(),
        };
        self.retry(Duration::ZERO, |channel, timeout| {
            let request = request.clone();
            async move {
                let reply = StreamsClient::new(channel)
                    .x_ack(self.request(request, timeout))
                    .await?;
                Ok(reply.into_inner().count)
            }
        })
        .await
    }

    /// `XAUTOCLAIM key group consumer min_idle_ms start COUNT count`.
    pub async fn xautoclaim(
        &self,
        key: &[u8],
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        start: &str,
        count: u64,
    ) -> Result<pb::XAutoClaimResponse, Error> {
        let request = pb::XAutoClaimRequest {
            key: key.to_vec(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            min_idle_ms,
            start: start.to_owned(),
            count,
        };
        self.retry(Duration::ZERO, |channel, timeout| {
            let request = request.clone();
            async move {
                let reply = StreamsClient::new(channel)
                    .x_auto_claim(self.request(request, timeout))
                    .await?;
                Ok(reply.into_inner())
            }
        })
        .await
    }

    pub async fn xpending(
        &self,
        key: &[u8],
        group: &str,
    ) -> Result<pb::XPendingSummaryResponse, Error> {
        let request = pb::XPendingSummaryRequest {
            key: key.to_vec(),
            group: group.to_owned(),
            read: None,
        };
        self.retry(Duration::ZERO, |channel, timeout| {
            let request = request.clone();
            async move {
                let reply = StreamsClient::new(channel)
                    .x_pending_summary(self.request(request, timeout))
                    .await?;
                Ok(reply.into_inner())
            }
        })
        .await
    }

    /// Any command as its argument vector; the reply as a tree.
    pub async fn execute(&self, args: &[&[u8]]) -> Result<pb::Value, Error> {
        let request = pb::ExecuteRequest {
            args: args.iter().map(|a| a.to_vec()).collect(),
            read: None,
        };
        self.retry(Duration::ZERO, |channel, timeout| {
            let request = request.clone();
            async move {
                let reply = StreamsClient::new(channel)
                    .execute(self.request(request, timeout))
                    .await?;
                Ok(reply.into_inner())
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_failures_are_retried_elsewhere() {
        assert!(retryable(&Status::unavailable("no leader")));
        assert!(retryable(&Status::failed_precondition(
            "not the leader; the leader is node 2"
        )));
        assert!(!retryable(&Status::failed_precondition("WRONGTYPE ...")));
        assert!(!retryable(&Status::invalid_argument(
            "ERR Invalid stream ID"
        )));
        assert!(!retryable(&Status::internal("ERR storage failure")));
    }
}
