//! The operator process (`openclaw-operator run`): the controller, the health and metrics
//! endpoints, the admission webhooks and leader election, with a graceful stop on SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use kube::client::ClientBuilder;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::controller::{self, Readiness, Scope};
use crate::http;
use crate::metrics::Metrics;
use crate::tls;
use crate::webhook;

/// Default name of the leader-election Lease (the Go operator's).
pub const DEFAULT_LEASE_NAME: &str = crate::rbac::DEFAULT_LEASE_NAME;

/// Errors that stop the process.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Building the API client failed.
    #[error("building the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// A listener could not bind.
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        /// Which endpoint.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics TLS setup failed.
    #[error("metrics TLS: {0}")]
    Tls(String),
    /// Leader election could not start.
    #[error("leader election: {0}")]
    Lease(#[from] kube_lease_manager::LeaseManagerError),
    /// This replica lost the lease while leading; it stops so that it restarts as a standby.
    #[error("lost the leader lease {0}")]
    LostLease(String),
    /// The webhook server failed.
    #[error("webhook server: {0}")]
    Webhook(#[from] webhook::WebhookError),
}

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// Lease name.
    pub lease_name: String,
    /// Lease namespace (the operator's).
    pub namespace: String,
    /// This replica's identity (pod name plus a random suffix).
    pub identity: String,
    /// Seconds a lease stays valid after its last renewal; a standby takes over at most this
    /// long after the leader dies.
    pub lease_duration: u64,
    /// The leader renews this many seconds before expiry.
    pub renew_grace: u64,
}

/// Everything `run` needs.
pub struct RunConfig {
    /// Where to watch.
    pub scope: Scope,
    /// Instances reconciled in parallel.
    pub concurrency: u16,
    /// Metrics endpoint (`None`: off).
    pub metrics_bind: Option<SocketAddr>,
    /// HTTPS with token review for `/metrics`.
    pub metrics_secure: bool,
    /// `tls.crt`/`tls.key` for the secure metrics endpoint (default: self-signed in memory).
    pub metrics_cert_dir: Option<PathBuf>,
    /// Health endpoint (`None`: off).
    pub health_bind: Option<SocketAddr>,
    /// Leader election (`None`: this replica always leads).
    pub leader_election: Option<LeaderElection>,
    /// Admission webhooks (`None`: off).
    pub webhook: Option<webhook::WebhookConfig>,
    /// OTLP push of metrics and traces (`None`: off).
    pub telemetry: Option<crate::telemetry::Telemetry>,
    /// Resolves `pack:` skills from GitHub (`Err`: why resolution is off).
    pub skill_packs: Result<crate::skillpacks::Resolver, String>,
    /// Asks image registries for new versions (auto-update).
    pub registry: Result<crate::registry::Resolver, String>,
    /// Backups and restores.
    pub backup: crate::controller::backup::BackupOptions,
    /// Self-configuration requests.
    pub selfconfig: crate::controller::selfconfig::SelfConfigOptions,
}

/// A broadcast "stop now".
#[derive(Clone)]
struct Stop(watch::Receiver<bool>);

impl Stop {
    async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ProcessError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ProcessError::Bind { what, addr, source })
}

/// Runs the operator until SIGTERM/SIGINT (or until it loses the lease while leading).
pub async fn run(config: kube::Config, rc: RunConfig) -> Result<(), ProcessError> {
    let lease_name = rc
        .leader_election
        .as_ref()
        .map_or("none".to_string(), |le| le.lease_name.clone());
    let metrics = Arc::new(Metrics::new(&lease_name, rc.concurrency));
    if let Some(telemetry) = &rc.telemetry {
        telemetry.spawn_metrics(metrics.clone());
    }
    let host = config
        .cluster_url
        .authority()
        .map_or_else(String::new, ToString::to_string);
    let client = ClientBuilder::try_from(config)?
        .with_layer(&metrics.request_layer(&host))
        .build();

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = Stop(stop_rx);
    let stop_tx = Arc::new(stop_tx);
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            controller::shutdown_signal().await;
            tracing::info!("signal received: finishing in-flight reconciles, then stopping");
            let _ = stop_tx.send(true);
        });
    }

    // Leadership.
    let (leader, lease_task, _always_leader) = match &rc.leader_election {
        Some(le) => {
            let manager = LeaseManagerBuilder::new(client.clone(), &le.lease_name)
                .with_namespace(&le.namespace)
                .with_parameters(
                    LeaseParams::new(&le.identity, le.lease_duration, le.renew_grace)
                        .with_field_manager(format!("openclaw-operator/{}", le.identity)),
                )
                .build()
                .await?;
            tracing::info!(lease = %le.lease_name, namespace = %le.namespace, identity = %le.identity, "leader election: waiting for the lease");
            let (rx, task) = manager.watch().await;
            (rx, Some(task), None)
        }
        None => {
            let (tx, rx) = watch::channel(true);
            (rx, None, Some(tx))
        }
    };
    let lost = {
        let mut leader = leader.clone();
        let stop_tx = stop_tx.clone();
        let name = lease_name.clone();
        tokio::spawn(async move {
            let mut led = false;
            loop {
                let now = *leader.borrow_and_update();
                if now && !led {
                    tracing::info!(lease = %name, "became the leader");
                } else if !now && led {
                    tracing::error!(lease = %name, "lost the lease; stopping");
                    let _ = stop_tx.send(true);
                    return true;
                }
                led = now;
                if leader.changed().await.is_err() {
                    return false;
                }
            }
        })
    };

    let readiness = Readiness::default();
    let mut servers = Vec::new();
    if let Some(addr) = rc.health_bind {
        let listener = bind("health probes", addr).await?;
        let router = http::health_router(
            readiness.clone(),
            leader.clone(),
            rc.leader_election.is_some(),
        );
        tracing::info!(%addr, "serving /livez, /readyz");
        servers.push(tokio::spawn(http::serve_plain(
            listener,
            router,
            stop.clone().wait(),
        )));
    }
    if let Some(addr) = rc.metrics_bind {
        let listener = bind("metrics", addr).await?;
        if rc.metrics_secure {
            let router = http::metrics_router(
                metrics.clone(),
                Some(http::MetricsAuth::new(client.clone())),
            );
            let certs: Arc<dyn rustls::server::ResolvesServerCert> = match &rc.metrics_cert_dir {
                Some(dir) => {
                    let resolver = Arc::new(
                        tls::DirCertResolver::load(dir.clone())
                            .map_err(|e| ProcessError::Tls(e.to_string()))?,
                    );
                    resolver.watch(tls::DEFAULT_RELOAD_INTERVAL);
                    resolver
                }
                None => Arc::new(tls::SwappableCert::new(
                    tls::self_signed(&["localhost".to_string()])
                        .map_err(|e| ProcessError::Tls(e.to_string()))?,
                )),
            };
            tracing::info!(%addr, "serving /metrics over HTTPS (token review)");
            servers.push(tokio::spawn(tls::serve_tls(
                listener,
                router,
                certs,
                stop.clone().wait(),
            )));
        } else {
            tracing::info!(%addr, "serving /metrics over HTTP");
            servers.push(tokio::spawn(http::serve_plain(
                listener,
                http::metrics_router(metrics.clone(), None),
                stop.clone().wait(),
            )));
        }
    }
    let webhook_task = rc.webhook.map(|wc| {
        tracing::info!(addr = %wc.bind, "serving admission webhooks");
        tokio::spawn(webhook::serve(client.clone(), wc, stop.clone().wait()))
    });

    controller::run_with(
        client.clone(),
        controller::Options {
            scope: rc.scope,
            concurrency: rc.concurrency,
            metrics,
            leader: leader.clone(),
            readiness,
            shutdown: stop.clone().wait().boxed().shared(),
            cleanup_steps: Vec::new(),
            backup: rc.backup,
            selfconfig: rc.selfconfig,
            skill_packs: rc.skill_packs,
            registry: rc.registry,
        },
    )
    .await;

    // The controller has stopped (in-flight reconciles done): stop serving, give up the lease.
    let _ = stop_tx.send(true);
    for server in servers {
        if let Ok(Err(e)) = server.await {
            tracing::warn!("server stopped with an error: {e}");
        }
    }
    let webhook_result = match webhook_task {
        Some(task) => match task.await {
            Ok(r) => r.map_err(ProcessError::from),
            Err(_) => Ok(()),
        },
        None => Ok(()),
    };
    let lost = if lost.is_finished() {
        lost.await.unwrap_or(false)
    } else {
        lost.abort();
        false
    };
    drop(leader);
    if let Some(task) = lease_task {
        // Dropping the last receiver makes the lease task release the lease and return.
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(Ok(_))) => tracing::info!("lease released"),
            Ok(Ok(Err(e))) => tracing::warn!("releasing the lease: {e}"),
            _ => tracing::warn!("the lease was not released in time; it will expire"),
        }
    }
    if let Some(telemetry) = &rc.telemetry {
        telemetry.shutdown().await;
    }
    if lost {
        return Err(ProcessError::LostLease(lease_name));
    }
    webhook_result
}
