//! How many gRPC connections a node holds at once: each accepted connection holds a permit
//! until it closes; one more while none is free is closed at once, as the Redis listener
//! closes a client past `connections_max` (without its error line: HTTP/2 has no place for
//! one before the handshake).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::codegen::tokio_stream::Stream;
use tonic::transport::server::Connected;

/// The connections `incoming` yields, at most `max` open at once.
pub(crate) struct Admitted<I> {
    incoming: Pin<Box<I>>,
    permits: Arc<Semaphore>,
}

impl<I> Admitted<I> {
    pub(crate) fn new(incoming: I, max: usize) -> Admitted<I> {
        Admitted {
            incoming: Box::pin(incoming),
            permits: Arc::new(Semaphore::new(max)),
        }
    }
}

impl<I, IO, IE> Stream for Admitted<I>
where
    I: Stream<Item = Result<IO, IE>>,
{
    type Item = Result<Counted<IO>, IE>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let next = match self.incoming.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(next) => next,
            };
            let io = match next {
                None => return Poll::Ready(None),
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                Some(Ok(io)) => io,
            };
            match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => {
                    return Poll::Ready(Some(Ok(Counted {
                        io,
                        _permit: permit,
                    })))
                }
                Err(_) => {
                    tracing::warn!("gRPC connection refused: grpc_connections_max reached");
                    drop(io);
                }
            }
        }
    }
}

/// A connection that frees its permit when it closes.
pub(crate) struct Counted<IO> {
    io: IO,
    _permit: OwnedSemaphorePermit,
}

impl<IO: Connected> Connected for Counted<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counted<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
