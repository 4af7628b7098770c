//! The connection edge: how many connections are held, how long a client may take to send its headers, and what happens when the process runs out of file descriptors.
//!
//! Misbehaving clients are cut off here, before any request reaches the
//! router:
//!
//! - **Connection cap with backpressure.** A connection is accepted only with
//!   a permit from a semaphore of `max_connections`; at the cap the accept
//!   loop waits for one to close instead of accepting, so further clients
//!   queue in the kernel's listen backlog and cost the server nothing.
//! - **Header-read timeout.** hyper closes a connection whose request head
//!   has not fully arrived within `header_read_timeout_ms` of it starting to
//!   wait for one (a slowloris client sending a header byte at a time), which
//!   also closes a kept-alive connection idle for that long. hyper only
//!   enforces it with a timer, which [`connection_builder`] sets.
//! - **Head size.** The request line and headers together may use at most
//!   `max_header_bytes` of buffer and `max_headers` headers; past them hyper
//!   answers `431` and closes.
//! - **Running out of descriptors.** When `accept` fails because the process
//!   or the system is out of file descriptors (or memory), the loop sleeps
//!   [`ACCEPT_BACKOFF`] before trying again instead of spinning, and logs a
//!   warning at most once per [`WARN_EVERY`].
//!
//! - **Lingering close.** When the server closes a connection (a refusal
//!   answered with `connection: close` before the request body was read, or
//!   any `connection: close` exchange), [`LingeringClose`] first sends its
//!   FIN, then reads and drops what the client still sends — at most
//!   [`LINGER_BYTES`] for at most [`LINGER_FOR`] — before the socket closes.
//!   Closing a socket with unread data sends a reset, and a reset can make the
//!   client's kernel discard the answer it already received; lingering lets
//!   the client read it. The rest of a larger body is never read.
//!
//! [`EdgeStats`] counts open connections and failed accepts for `/metrics`.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioTimer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::ServerConfig;

/// How long the accept loop waits after a failed accept.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The least time between two warnings about failed accepts.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Counters of the edge, read by `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct EdgeStats {
    open: AtomicU64,
    accepted: AtomicU64,
    accept_errors: AtomicU64,
}

impl EdgeStats {
    /// Connections open now.
    pub(crate) fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections accepted since start.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Accepts that failed since start.
    pub(crate) fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }

    /// Counts a new connection; the guard counts it closed when dropped.
    pub(crate) fn opened(self: &std::sync::Arc<Self>) -> OpenConnection {
        self.open.fetch_add(1, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }
}

/// One open connection, counted in [`EdgeStats`] until dropped.
pub(crate) struct OpenConnection(std::sync::Arc<EdgeStats>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The HTTP/1 connection settings every accepted connection is served with.
pub(crate) fn connection_builder(config: &ServerConfig) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
        // A client may shut its write side once its request is sent and still
        // get the answer (hyper would drop the connection at that EOF).
        .half_close(true)
        .max_buf_size(config.max_header_bytes)
        .max_headers(config.max_headers);
    builder
}

/// The most of a closing connection's unread input that is read and dropped.
pub(crate) const LINGER_BYTES: usize = 1024 * 1024;
/// The longest a closing connection's unread input is waited for.
pub(crate) const LINGER_FOR: Duration = Duration::from_secs(1);

/// A connection's stream whose shutdown lingers: FIN first, then up to
/// [`LINGER_BYTES`] of input read and dropped for up to [`LINGER_FOR`], or
/// until the client closes its side (see the module docs).
pub(crate) struct LingeringClose<S> {
    stream: S,
    /// Set once the write side is shut: the deadline of the drain.
    draining: Option<Pin<Box<tokio::time::Sleep>>>,
    drained: usize,
}

impl<S> LingeringClose<S> {
    pub(crate) fn new(stream: S) -> Self {
        Self {
            stream,
            draining: None,
            drained: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LingeringClose<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LingeringClose<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.draining.is_none() {
            ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
            this.draining = Some(Box::pin(tokio::time::sleep(LINGER_FOR)));
        }
        let mut scratch = [0u8; 8192];
        while this.drained < LINGER_BYTES {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => this.drained += buf.filled().len(),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    return match this.draining.as_mut().map(|deadline| deadline.as_mut().poll(cx)) {
                        Some(Poll::Pending) => Poll::Pending,
                        _ => Poll::Ready(Ok(())),
                    };
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// What the accept loop does after `accept` failed with `error`.
pub(crate) struct AcceptFailures {
    stats: std::sync::Arc<EdgeStats>,
    last_warning: Option<Instant>,
    suppressed: u64,
}

impl AcceptFailures {
    pub(crate) fn new(stats: std::sync::Arc<EdgeStats>) -> Self {
        Self {
            stats,
            last_warning: None,
            suppressed: 0,
        }
    }

    /// Counts the failure, warns if it has not lately, and returns how long
    /// to wait before accepting again.
    pub(crate) fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|last| now.duration_since(last) >= WARN_EVERY)
        {
            tracing::warn!(%error, suppressed = self.suppressed, "could not accept a connection; waiting before the next accept");
            self.last_warning = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        ACCEPT_BACKOFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_back_off_and_warn_once_per_window() {
        let stats = std::sync::Arc::new(EdgeStats::default());
        let mut failures = AcceptFailures::new(stats.clone());
        let error = std::io::Error::from_raw_os_error(24); // EMFILE
        for _ in 0..1000 {
            assert_eq!(failures.failed(&error), ACCEPT_BACKOFF);
        }
        assert_eq!(stats.accept_errors(), 1000);
        assert_eq!(failures.suppressed, 999, "one warning for 1,000 failures");
    }

    #[test]
    fn open_connections_are_counted_until_dropped() {
        let stats = std::sync::Arc::new(EdgeStats::default());
        let first = stats.opened();
        let second = stats.opened();
        assert_eq!((stats.open(), stats.accepted()), (2, 2));
        drop(first);
        drop(second);
        assert_eq!((stats.open(), stats.accepted()), (0, 2));
    }
}
