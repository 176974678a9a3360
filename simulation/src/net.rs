//! Tonic over turmoil's network: the nodes serve Rill's real gRPC services (`rill_server`) on
//! turmoil listeners and dial each other, and the clients dial them, through turmoil's TCP.
//! The nodes serve the Redis protocol on turmoil listeners too (`redis_incoming`; the client
//! is `crate::resp`).
//!
//! turmoil never resends a lost segment, so a connection that lost one hangs. The clients
//! therefore open a connection per call, and the nodes' `Peers` drop a channel whose call
//! timed out (as they do on a real network, where a half-open connection would hang alike).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rill_core::Reply;
use rill_proto::v1::cluster_client::ClusterClient;
use rill_proto::v1::streams_client::StreamsClient;
use rill_proto::v1::{self as pb, value::Kind};
use rill_server::Dial;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::Stream;
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Uri};
use turmoil::net::{TcpListener, TcpStream};

/// Every node's gRPC port.
pub const GRPC_PORT: u16 = 9000;
/// Every node's Redis-protocol port.
pub const REDIS_PORT: u16 = 6379;
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// An accepted or dialed turmoil connection, as tonic and hyper want it.
pub struct Conn(TcpStream);

impl Connected for Conn {
    type ConnectInfo = ();

    fn connect_info(&self) {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The connections a turmoil listener accepts, as the stream tonic serves.
pub struct Incoming(mpsc::Receiver<io::Result<Conn>>);

impl Stream for Incoming {
    type Item = io::Result<Conn>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Accepts on `listener` for as long as the host lives.
pub fn incoming(listener: TcpListener) -> Incoming {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted = listener.accept().await.map(|(stream, _)| Conn(stream));
            if tx.send(accepted).await.is_err() {
                return;
            }
        }
    });
    Incoming(rx)
}

/// The connections a turmoil listener accepts, with their peers' addresses, as
/// `rill_server::Server::start_on` serves the Redis protocol on.
pub struct RedisIncoming(mpsc::Receiver<io::Result<(TcpStream, SocketAddr)>>);

impl Stream for RedisIncoming {
    type Item = io::Result<(TcpStream, SocketAddr)>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Accepts Redis-protocol connections on `listener` for as long as the host lives.
pub fn redis_incoming(listener: TcpListener) -> RedisIncoming {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let accepted = listener.accept().await;
            if tx.send(accepted).await.is_err() {
                return;
            }
        }
    });
    RedisIncoming(rx)
}

/// Connects to the `host:port` of a URI through turmoil.
#[derive(Clone, Copy)]
struct Connector;

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Conn>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<Conn>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().to_owned();
            let port = uri.port_u16().unwrap_or(GRPC_PORT);
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            Ok(TokioIo::new(Conn(stream)))
        })
    }
}

/// How nodes dial each other: lazily connected channels over turmoil.
pub fn dial() -> Dial {
    Arc::new(|endpoint: Endpoint| endpoint.connect_with_connector_lazy(Connector))
}

/// A connection to the node at `addr` (`host:port`), connected now: an error here means
/// nothing was sent.
async fn channel(addr: &str) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(CONNECT_TIMEOUT);
    endpoint
        .connect_with_connector(Connector)
        .await
        .map_err(|e| e.to_string())
}

/// A `Streams` client of the node at `addr`, connected now.
pub async fn connect(addr: &str) -> Result<StreamsClient<Channel>, String> {
    channel(addr).await.map(StreamsClient::new)
}

/// A `Cluster` client of the node at `addr`, connected now.
pub async fn connect_cluster(addr: &str) -> Result<ClusterClient<Channel>, String> {
    channel(addr).await.map(ClusterClient::new)
}

/// What a client call answered.
#[derive(Debug)]
pub enum Answer<T> {
    Ok(T),
    /// Refused before anything was submitted (unreachable, no leader): not applied.
    NotApplied,
    /// A definite error reply (the command ran and failed, or was malformed).
    Error(String),
    /// Sent, then lost or failed in transit: applied or not.
    Unknown,
}

/// Classifies a call's status. `UNAVAILABLE` is "maybe": a node may have submitted the
/// command before losing the leadership or the connection; only a refusal before routing is
/// known not to have happened.
pub fn classify<T>(answer: Result<tonic::Response<T>, tonic::Status>) -> Answer<T> {
    use tonic::Code;
    match answer {
        Ok(response) => Answer::Ok(response.into_inner()),
        Err(status) => match status.code() {
            Code::Unavailable if status.message().contains("no leader is elected yet") => {
                Answer::NotApplied
            }
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal => Answer::Unknown,
            _ => Answer::Error(status.message().to_owned()),
        },
    }
}

/// `request` with a deadline.
pub fn timed<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    request
}

/// A gRPC `Value` as the engine's reply (maps lose the RESP2 pair-array distinction).
pub fn reply_of(value: pb::Value) -> Reply {
    let list = |list: pb::ValueList| list.values.into_iter().map(reply_of);
    match value.kind {
        Some(Kind::Status(text)) => Reply::Status(text),
        Some(Kind::Error(text)) => Reply::Error(text),
        Some(Kind::Integer(n)) => Reply::Int(n),
        Some(Kind::Bulk(bytes)) => Reply::Bulk(bytes),
        Some(Kind::Null(_)) | None => Reply::Nil,
        Some(Kind::Array(values)) => Reply::Array(list(values).collect()),
        Some(Kind::Map(values)) => {
            let mut flat = list(values);
            let mut pairs = Vec::new();
            while let (Some(key), Some(value)) = (flat.next(), flat.next()) {
                pairs.push((key, value));
            }
            Reply::Map(pairs)
        }
    }
}
