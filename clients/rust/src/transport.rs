//! gRPC over our rustls configs: a tonic client channel, and an incoming stream of TLS connections
//! for a tonic server that carries each caller's certificate chain into the request extensions.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint};

/// A lazily connecting channel to `host:port` over TLS with `config` (reconnects by itself).
pub fn channel(target: &str, config: rustls::ClientConfig) -> Result<Channel, crate::Error> {
    let connector = TlsConnector::from(Arc::new(config));
    let target = target.to_owned();
    let host = target.rsplit_once(':').map(|(h, _)| h.to_owned()).unwrap_or_else(|| target.clone());
    let endpoint = Endpoint::from_shared(format!("http://{target}"))
        .map_err(|e| crate::Error::Invalid(format!("target {target}: {e}")))?
        .connect_timeout(std::time::Duration::from_secs(5));
    Ok(endpoint.connect_with_connector_lazy(tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        let target = target.clone();
        let host = host.clone();
        async move {
            let tcp = TcpStream::connect(&target).await?;
            tcp.set_nodelay(true)?;
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    })))
}

/// What the server knows of the caller of a request: its certificate chain, leaf first.
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<Vec<Vec<u8>>>);

/// One accepted TLS connection.
pub struct TlsConnection(tokio_rustls::server::TlsStream<TcpStream>);

impl Connected for TlsConnection {
    type ConnectInfo = PeerCertificates;

    fn connect_info(&self) -> PeerCertificates {
        let (_, session) = self.0.get_ref();
        PeerCertificates(Arc::new(
            session.peer_certificates().unwrap_or_default().iter().map(|c| c.as_ref().to_vec()).collect(),
        ))
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Accepts TCP connections on `listener` and hands over those that complete the TLS handshake
/// (each handshake in its own task, so a slow client holds up nobody).
pub fn incoming(
    listener: TcpListener,
    config: rustls::ServerConfig,
) -> tokio_stream::wrappers::ReceiverStream<Result<TlsConnection, io::Error>> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let (tcp, peer): (TcpStream, SocketAddr) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(TlsConnection(tls))).await;
                    }
                    Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                    Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}
