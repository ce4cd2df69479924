//! Builds the whole application from one [`Settings`] value, so that the
//! binary and the tests start exactly the same thing (tests on port 0).
//!
//! Wiring only: settings are validated, the store is opened and migrated,
//! the router gets its state, the port is bound. Serving starts with
//! [`Application::run_until_stopped`], which logs the one line
//! `listening on ADDR` and stops gracefully on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::{ConfigError, Settings};
use crate::intake::Intake;
use crate::server::{self, Access, Readiness, ServerState, StoreReachable};
use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped with an error: {0}")]
    Serve(std::io::Error),
}

/// A built application, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        settings.validate()?;
        if settings.webhook.token.is_none() {
            tracing::warn!(
                "no webhook token is configured: webhooks are accepted without one, which is safe only on \
                 loopback; set SWITCHBOARD_WEBHOOK_TOKEN before exposing the service"
            );
        }
        if settings.admin.token.is_none() {
            tracing::info!("no admin token is configured: /api answers loopback clients only");
        }

        let store = store::open(&settings.store.url).await?;
        tracing::info!(store = %settings.store.url, time_zone = %settings.time_zone, "store ready");

        let mut readiness = Readiness::default();
        readiness.add("store", Arc::new(StoreReachable(store.clone())));
        let state = ServerState {
            intake: Arc::new(Intake::new(&settings)),
            store: store.clone(),
            access: Arc::new(Access::new(&settings)),
            readiness,
            max_body: usize::try_from(settings.webhook.max_body.as_u64()).unwrap_or(usize::MAX),
        };

        let address = settings.listen;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| StartupError::Bind { address, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?;
        Ok(Application {
            listener,
            local_addr,
            router: server::router(state),
        })
    }

    /// The bound address (the real port when `listen` said port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        tracing::info!("listening on {}", self.local_addr);
        // Small answers on kept-alive connections must not wait for Nagle.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(StartupError::Serve)?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("Ctrl-C received: shutting down"),
        () = terminate => tracing::info!("SIGTERM received: shutting down"),
    }
}
