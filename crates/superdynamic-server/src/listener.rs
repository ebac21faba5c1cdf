//! The listeners the routers are served on: plain TCP (with `TCP_NODELAY`) or TLS, and the peer address each
//! connection reports for the rate limit.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::rate_limit::PeerAddr;
use crate::tls::TlsListener;

/// A bound listener, plain or TLS.
pub(crate) enum Bound {
    Plain(tokio::net::TcpListener),
    Tls(TlsListener),
}

impl Bound {
    pub(crate) async fn bind(
        addr: SocketAddr,
        tls: Option<&Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<(Self, SocketAddr)> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok(match tls {
            Some(config) => (Self::Tls(TlsListener::new(listener, config.clone())), local),
            None => (Self::Plain(listener), local),
        })
    }

    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Self::Plain(_) => "http",
            Self::Tls(_) => "https",
        }
    }

    /// Serves `app` until `stop` fires.
    pub(crate) fn serve(self, app: Router, stop: oneshot::Receiver<()>) -> JoinHandle<()> {
        async fn run<L>(listener: L, app: Router, stop: oneshot::Receiver<()>)
        where
            L: axum::serve::Listener<Addr = SocketAddr>,
            for<'a> PeerAddr: axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
        {
            // The peer address feeds the per-address rate limit.
            let app = app.into_make_service_with_connect_info::<PeerAddr>();
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "server stopped with an error");
            }
        }
        match self {
            Self::Plain(l) => tokio::spawn(run(NoDelayListener(l), app, stop)),
            Self::Tls(l) => tokio::spawn(run(l, app, stop)),
        }
    }
}

/// Plain TCP with `TCP_NODELAY` on every connection: replies are written in several pieces (SSE), and without it
/// Nagle's algorithm and the client's delayed ACK add about 40 ms to each request on a kept-alive connection.
pub struct NoDelayListener(tokio::net::TcpListener);

impl axum::serve::Listener for NoDelayListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    return (tcp, peer);
                }
                Err(e) => {
                    // E.g. too many open files: back off briefly, as axum's own listener does.
                    tracing::warn!(error = %e, "accepting a TCP connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, NoDelayListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, NoDelayListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}
