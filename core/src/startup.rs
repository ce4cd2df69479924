//! Builds the whole application from one [`Settings`] value and a CRM
//! connector, so that the binary and the tests start exactly the same thing
//! (tests on port 0, with a connector pointed at a fake CRM).
//!
//! Wiring only: settings are validated, the metrics exporter installed, the
//! store opened and migrated, the rules loaded and watched, the pipeline and
//! the router get their state, reconciliation with Ringostat's call log is
//! set up when a key is configured, the port is bound. Serving starts with
//! [`Application::run_until_stopped`], which logs the one line
//! `listening on ADDR` and stops gracefully on SIGTERM or Ctrl-C: no new
//! connections, requests and events in flight finish (or events are
//! released for the next start), exit.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cache::{self, LookupCache};
use crate::config::{ConfigError, Settings};
use crate::connector::Connector;
use crate::intake::Intake;
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::presence::Presence;
use crate::ringostat::reconcile::{Reconciler, Schedule};
use crate::ringostat::{Backfill, CallLogClient, RingostatError};
use crate::rules::{self, RulesContext, RulesWatcher};
use crate::server::{self, Access, Readiness, RulesLoaded, ServerState, StoreReachable};
use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ringostat(#[from] RingostatError),
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
    pipeline: Pipeline,
    /// Says in the store that this service runs.
    presence: Presence,
    /// Backfills the recent past from Ringostat's call log, with a key.
    reconciler: Option<Reconciler>,
    /// Keeps the rules directory watched while the application lives.
    _watcher: Option<RulesWatcher>,
}

impl Application {
    pub async fn build(
        settings: Settings,
        connector: Arc<dyn Connector>,
    ) -> Result<Application, StartupError> {
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
        // Installed before anything counts, so nothing counted is lost.
        let metrics = crate::metrics::exporter();

        let store = store::open(&settings.store.url).await?;
        tracing::info!(store = %settings.store.url, time_zone = %settings.time_zone, "store ready");
        // A new process finds out for itself whether the CRM account works.
        let requeued = store.requeue_paused(Utc::now()).await?;
        if requeued > 0 {
            tracing::info!(requeued, "events paused by an earlier run are queued again");
        }

        let ctx = RulesContext {
            time_zone: settings.time_zone,
            region: settings.phone.default_region,
        };
        let rules = rules::load_initial(&settings.rules.dir, &ctx);
        let watcher = if settings.rules.dir.exists() {
            match rules::watch(&settings.rules.dir, rules.clone(), ctx) {
                Ok(watcher) => Some(watcher),
                Err(error) => {
                    tracing::warn!(%error, "rules will not reload on change: restart to load edits");
                    None
                }
            }
        } else {
            None
        };

        tracing::info!(connector = connector.name(), "CRM connector ready");
        let cache = LookupCache::new(
            connector,
            cache::CacheSettings {
                ttl: settings.cache.ttl,
                capacity: settings.cache.capacity,
            },
        );
        let pipeline = Pipeline::new(
            store.clone(),
            cache,
            rules.clone(),
            PipelineSettings::from(&settings),
        );

        let instance = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let presence = Presence::new(store.clone(), &instance, settings.worker.lease);
        let reconciler = match settings.ringostat.reconcile_every() {
            Some(every) => {
                let client = CallLogClient::new(&settings.ringostat.api)?;
                let backfill = Backfill::new(Arc::new(client), Intake::call_log(&settings));
                let schedule = Schedule {
                    every,
                    window: settings.ringostat.reconcile.window,
                    settle: settings.ringostat.reconcile.settle,
                    zone: settings.time_zone,
                };
                Some(Reconciler::new(
                    backfill,
                    store.clone(),
                    pipeline.waker(),
                    schedule,
                    &instance,
                ))
            }
            None => None,
        };

        let mut readiness = Readiness::default();
        readiness.add("store", Arc::new(StoreReachable(store.clone())));
        readiness.add("rules", Arc::new(RulesLoaded(rules.clone())));
        readiness.add("crm", Arc::new(pipeline.pause_state()));
        if let Some(reconciler) = &reconciler {
            readiness.add_advisory("reconcile", Arc::new(reconciler.health()));
        }
        let state = ServerState {
            intake: Arc::new(Intake::new(&settings)),
            store: store.clone(),
            access: Arc::new(Access::new(&settings)),
            readiness,
            max_body: usize::try_from(settings.webhook.max_body.as_u64()).unwrap_or(usize::MAX),
            rules,
            wake: pipeline.waker(),
            metrics,
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
            pipeline,
            presence,
            reconciler,
            _watcher: watcher,
        })
    }

    /// The bound address (the real port when `listen` said port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves and processes until `shutdown` completes; then stops accepting
    /// connections, lets requests in flight finish, and lets events in
    /// flight finish within `worker.shutdown_grace` (the rest are released
    /// for the next start).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Application {
            listener,
            local_addr,
            router,
            pipeline,
            presence,
            reconciler,
            _watcher,
        } = self;
        let (stop, stopping) = watch::channel(false);
        let present = tokio::spawn(presence.hold(stopping.clone()));
        let reconciling = reconciler.map(|r| tokio::spawn(r.run(stopping.clone())));
        let workers = tokio::spawn(pipeline.run(stopping));
        let upkeep = crate::metrics::exporter().map(|exporter| {
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(crate::metrics::UPKEEP_EVERY);
                loop {
                    ticks.tick().await;
                    exporter.run_upkeep();
                }
            })
        });

        tracing::info!("listening on {local_addr}");
        // Small answers on kept-alive connections must not wait for Nagle.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop.send(true);
            })
            .await
            .map_err(StartupError::Serve);
        if let Err(error) = workers.await {
            tracing::error!(%error, "the workers stopped abnormally");
        }
        if let Some(task) = reconciling
            && let Err(error) = task.await
        {
            tracing::error!(%error, "reconciliation stopped abnormally");
        }
        if let Err(error) = present.await {
            tracing::error!(%error, "the presence lease stopped abnormally");
        }
        if let Some(upkeep) = upkeep {
            upkeep.abort();
        }
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Listens for SIGTERM and SIGINT from the moment it is called, not from the
/// first poll: it is called before the `listening on` line, so a signal sent
/// as soon as that line appears is never missed.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (terminate, interrupt) {
                (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM received: shutting down"),
                    _ = interrupt.recv() => tracing::info!("SIGINT received: shutting down"),
                },
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(%error, "cannot listen for SIGTERM/SIGINT; only SIGKILL stops the service");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("Ctrl-C received: shutting down"),
            Err(error) => {
                tracing::error!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    }
}
