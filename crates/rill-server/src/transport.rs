//! The byte streams Redis-protocol clients arrive on: the OS's TCP ([`crate::Server::start`]),
//! or any other ([`crate::Server::start_on`]: the simulator's turmoil TCP). A connection
//! ([`crate::connection`]) serves either; what differs is behind [`Transport`].
//!
//! ```text
//!  TcpListener ─TcpAccept─▶ (TcpStream, peer)        ─┐
//!  caller's stream ─Foreign─▶ (Plain<S>, peer)        ─┴─▶ run: one accept loop ─▶ connection
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tonic::codegen::tokio_stream::Stream;

/// How often a blocked TCP client whose query buffer is full is checked for having closed,
/// while unread input keeps its socket readable.
const PEER_CLOSED_CHECK: Duration = Duration::from_millis(50);

/// A client connection's byte stream.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Sets the stream up once accepted.
    fn accepted(&self, peer: SocketAddr);

    /// For a client whose query buffer is full: completes with `Ok(0)` once the peer has
    /// closed (FIN or reset), like a read at EOF, without growing `input`'s allocation. It may
    /// read into `input`'s spare capacity (and then returns how much it read).
    fn watch_closed(
        &mut self,
        input: &mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send;
}

impl Transport for TcpStream {
    fn accepted(&self, peer: SocketAddr) {
        // Replies are flushed per batch already; Nagle would only add latency.
        if let Err(error) = self.set_nodelay(true) {
            tracing::debug!(%error, %peer, "set_nodelay failed");
        }
    }

    /// Reads nothing: unread input ahead of the FIN does not hide it, because the close is
    /// seen through the socket's read-closed readiness (EPOLLRDHUP/HUP), which tokio keeps once
    /// set. While input is pending the socket stays readable, so between checks this sleeps
    /// `PEER_CLOSED_CHECK` instead of spinning.
    async fn watch_closed(&mut self, _input: &mut BytesMut) -> io::Result<usize> {
        loop {
            let ready = self.ready(Interest::READABLE).await?;
            if ready.is_read_closed() {
                return Ok(0);
            }
            tokio::time::sleep(PEER_CLOSED_CHECK).await;
        }
    }
}

/// A TLS connection: closes are seen as [`Plain`] sees them, by reading on into spare buffer
/// capacity (the socket's readiness says nothing about TLS records).
impl<S: Transport> Transport for tokio_rustls::server::TlsStream<S> {
    fn accepted(&self, peer: SocketAddr) {
        self.get_ref().0.accepted(peer);
    }

    async fn watch_closed(&mut self, input: &mut BytesMut) -> io::Result<usize> {
        let spare = input.capacity() - input.len();
        if spare == 0 {
            return std::future::pending().await;
        }
        self.read_buf(&mut (&mut *input).limit(spare)).await
    }
}

/// A stream with no OS socket behind it: nothing to set up, and no readiness to tell a close
/// apart from pending input.
pub(crate) struct Plain<S>(S);

impl<S> Transport for Plain<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn accepted(&self, _peer: SocketAddr) {}

    /// Reads on into the buffer's spare capacity (so it never grows), where the EOF shows
    /// after the input ahead of it. Once that capacity is used up, a close is no longer seen:
    /// the wait then ends only by its own end (the block's timeout, an applied write) or the
    /// server stopping.
    async fn watch_closed(&mut self, input: &mut BytesMut) -> io::Result<usize> {
        let spare = input.capacity() - input.len();
        if spare == 0 {
            return std::future::pending().await;
        }
        // `spare > 0`, so `BytesMut` hands out its spare capacity and does not reserve more.
        self.0.read_buf(&mut (&mut *input).limit(spare)).await
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Plain<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Plain<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The connections a TCP listener accepts. Never ends.
pub(crate) struct TcpAccept(pub(crate) TcpListener);

impl Stream for TcpAccept {
    type Item = io::Result<(TcpStream, SocketAddr)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_accept(cx).map(Some)
    }
}

/// The connections a caller's stream yields, as [`Plain`] transports.
pub(crate) struct Foreign<R>(pub(crate) Pin<Box<R>>);

impl<R, S> Stream for Foreign<R>
where
    R: Stream<Item = io::Result<(S, SocketAddr)>>,
{
    type Item = io::Result<(Plain<S>, SocketAddr)>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .as_mut()
            .poll_next(cx)
            .map(|next| next.map(|accepted| accepted.map(|(stream, peer)| (Plain(stream), peer))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_plain_stream_sees_a_close_behind_pending_input_within_spare_capacity() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = Plain(server);
        let mut input = BytesMut::with_capacity(16);
        input.extend_from_slice(b"full");
        let capacity = input.capacity();
        client.write_all(b"PING\r\n").await.expect("write");
        drop(client);
        let first = server.watch_closed(&mut input).await.expect("read");
        assert_eq!(first, 6, "the pending input is kept");
        assert_eq!(
            server.watch_closed(&mut input).await.expect("read"),
            0,
            "then EOF"
        );
        assert_eq!(&input[..], b"fullPING\r\n");
        assert_eq!(input.capacity(), capacity, "the buffer did not grow");
    }

    #[tokio::test]
    async fn a_plain_stream_reads_no_further_than_the_spare_capacity() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = Plain(server);
        let mut input = BytesMut::with_capacity(8);
        input.extend_from_slice(b"abcd");
        let capacity = input.capacity();
        client.write_all(&[b'x'; 32]).await.expect("write");
        let mut read = 0;
        while input.len() < capacity {
            read += server.watch_closed(&mut input).await.expect("read");
        }
        assert_eq!(read, capacity - 4);
        assert_eq!(input.capacity(), capacity, "the buffer did not grow");
        // Full: nothing more is read, and the wait lasts.
        drop(client);
        let wait = server.watch_closed(&mut input);
        let waited = tokio::time::timeout(Duration::from_millis(20), wait).await;
        assert!(waited.is_err(), "no close is seen once the buffer is full");
        assert_eq!(input.len(), capacity);
    }
}
