//! The network edge: the REST listener (HTTPS with rustls, or plain HTTP on loopback in dev
//! mode), Prometheus metrics, and graceful shutdown. The only crate that knows HTTP and JSON.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod config;
mod error;
pub mod kmip;
pub mod rest;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use keyward_service::Service;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

pub use config::{ClientCertRole, FileConfig, KmipConfig, TlsConfig};
pub use rest::share_header;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "refusing to serve plain HTTP on {0}: plain HTTP is only for --dev on a loopback address; configure [tls] for anything else"
    )]
    PlainHttpNotLoopback(SocketAddr),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("the server failed: {0}")]
    Serve(#[source] std::io::Error),
}

pub struct ServerOptions {
    pub listen: SocketAddr,
    /// The node's data directory, for online restores.
    pub data_dir: std::path::PathBuf,
    /// `None` serves plain HTTP, allowed on loopback only.
    pub tls: Option<TlsConfig>,
    pub client_certs: Vec<ClientCertRole>,
}

/// A bound listener, ready to serve. Binding first lets the caller print the real address
/// (port 0 picks a free port) before serving starts.
pub struct Bound {
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    client_certs: Arc<Vec<ClientCertRole>>,
    router: axum::Router,
}

impl Bound {
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets calls in flight finish
    /// (up to a grace period).
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), Error> {
        let Bound { listener, tls, client_certs, router } = self;
        match tls {
            None => axum::serve(listener, router).with_graceful_shutdown(shutdown).await.map_err(Error::Serve),
            Some(config) => serve_tls(listener, config, client_certs, router, shutdown).await,
        }
    }
}

fn install_metrics() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().ok()).clone()
}

pub async fn bind(service: Arc<Service>, opts: ServerOptions) -> Result<Bound, Error> {
    if opts.tls.is_none() && !opts.listen.ip().is_loopback() {
        return Err(Error::PlainHttpNotLoopback(opts.listen));
    }
    let tls = opts.tls.as_ref().map(tls::server_config).transpose()?;
    let listener = TcpListener::bind(opts.listen).await.map_err(|source| Error::Bind { addr: opts.listen, source })?;
    let state = rest::AppState { service, metrics: install_metrics(), data_dir: opts.data_dir.clone() };
    Ok(Bound { listener, tls, client_certs: Arc::new(opts.client_certs), router: rest::router(state) })
}

async fn serve_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    client_certs: Arc<Vec<ClientCertRole>>,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let tracker = tokio_util_tracker::Tracker::default();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let client_certs = client_certs.clone();
        let guard = tracker.enter();
        tokio::spawn(async move {
            let _guard = guard;
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let cert_caller = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|der| tls::caller_for_certificate(der, &client_certs));
            let svc = router
                .layer(axum::Extension(rest::CertCaller(cert_caller)))
                .map_request(|req: hyper::Request<hyper::body::Incoming>| req.map(axum::body::Body::new));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(svc))
                .await;
        });
    }
    tracker.wait(Duration::from_secs(10)).await;
    Ok(())
}

/// Counts connections in flight so shutdown can wait for them.
mod tokio_util_tracker {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[derive(Default, Clone)]
    pub struct Tracker(Arc<AtomicUsize>);

    pub struct Guard(Arc<AtomicUsize>);

    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Tracker {
        pub fn enter(&self) -> Guard {
            self.0.fetch_add(1, Ordering::SeqCst);
            Guard(self.0.clone())
        }
        pub async fn wait(&self, grace: Duration) {
            let deadline = tokio::time::Instant::now() + grace;
            while self.0.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}
