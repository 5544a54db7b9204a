//! The controllers of the operator, on one shared runtime.
//!
//! - [`runtime`]: what every controller shares (watches and caches, readiness, the leader and
//!   caches-synced gate, events, metrics, shutdown, backoff);
//! - [`kinds`]: everything per managed kind, generated from the one table
//!   `openclaw_render::managed_kinds!`;
//! - the OpenClawInstance controller: [`instance_controller`] (its triggers and error policy)
//!   and [`instance`] (one reconcile: observe, validate, lifecycle, render, apply, prune,
//!   report), with [`observe`], [`lifecycle`], [`finalizer`], [`apply`], [`custom`],
//!   [`report`] and [`status`].
//!
//! [`controllers`] lists the controllers the operator runs; a new controller is one more entry
//! there (see [`runtime`] for an outline).

pub mod adopt;
pub mod apply;
pub mod backup;
pub mod custom;
pub mod finalizer;
pub mod instance;
pub mod instance_controller;
pub mod kinds;
pub mod lifecycle;
pub mod observe;
pub mod report;
pub mod runtime;
pub mod selfconfig;
pub mod selfconfig_plan;
pub mod status;
pub mod update;
pub mod update_plan;
#[cfg(test)]
mod update_plan_tests;

use std::sync::Arc;

use futures::FutureExt;
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;
use openclaw_api::clusterdefaults::{CLUSTER_DEFAULTS_NAME, OpenClawClusterDefaults};
use tokio::sync::watch;

use crate::metrics::Metrics;

pub use kinds::Stores;
pub use runtime::{
    MANAGED_BY, Readiness, Runtime, Scope, Shutdown, Start, Watched, shutdown_signal,
};

/// Errors of one reconcile (transient: retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading from the API server failed.
    #[error("reading inputs: {0}")]
    Read(#[from] kube::Error),
    /// Writing an object failed.
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    /// Serializing the status failed.
    #[error("serializing status: {0}")]
    Json(#[from] serde_json::Error),
}

/// Shared state of the instance controller.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Caches of managed objects.
    pub stores: Stores,
    /// Optional third-party kinds and their caches.
    pub custom: custom::CustomKinds,
    /// Event recorder.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Steps that run when an instance is deleted, before its finalizer is released.
    pub cleanup_steps: Vec<Arc<dyn finalizer::CleanupStep>>,
    /// Instances (by uid) whose finalizer this process released: a pass that still sees the
    /// cached copy (events of its own last writes) does nothing. Only an optimisation: after a
    /// restart the objects are gone.
    pub released: finalizer::Released,
    /// Where backups read their credentials, and how restores end.
    pub backup: backup::BackupOptions,
    /// The cache of the `s3-backup-credentials` Secret (`None`: backups are off).
    pub backup_credentials:
        Option<kube::runtime::reflector::Store<k8s_openapi::api::core::v1::Secret>>,
    /// Resolves `pack:` skills from GitHub (`Err`: why resolution is off).
    pub skill_packs: Result<crate::skillpacks::Resolver, String>,
    /// Asks image registries for new versions (`Err`: why auto-update cannot check).
    pub registry: Result<crate::registry::Resolver, String>,
    /// Whether this replica may write (leader, caches synced).
    active: runtime::Active,
    /// Consecutive failures per instance, for backoff.
    failures: runtime::Failures,
}

impl Context {
    /// Record an event on the instance (a failure to record is only logged).
    pub async fn event(
        &self,
        instance: &openclaw_api::OpenClawInstance,
        warning: bool,
        reason: &str,
        note: &str,
    ) {
        use kube::Resource;
        let type_ = if warning {
            kube::runtime::events::EventType::Warning
        } else {
            kube::runtime::events::EventType::Normal
        };
        let event = report::event(type_, reason, note);
        if let Err(e) = self
            .recorder
            .publish(&event, &instance.object_ref(&()))
            .await
        {
            tracing::warn!(reason, "cannot record event: {e}");
        }
    }

    /// The cluster defaults singleton, if present.
    pub fn cluster_defaults(&self) -> Option<Arc<OpenClawClusterDefaults>> {
        self.stores
            .cluster_defaults
            .get(&ObjectRef::new(CLUSTER_DEFAULTS_NAME))
    }
}

/// What the operator process hands the controllers: the shared runtime's inputs, and the
/// settings of individual controllers.
pub struct Options {
    /// Where to watch.
    pub scope: Scope,
    /// Objects reconciled in parallel (per controller).
    pub concurrency: u16,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Leadership: reconciles write only while this is true (always true without election).
    pub leader: watch::Receiver<bool>,
    /// Cache sync state, shared with `/readyz`.
    pub readiness: Readiness,
    /// Resolves when the process should stop; in-flight reconciles finish first.
    pub shutdown: Shutdown,
    /// Steps that run when an instance is deleted, before its finalizer is released (the
    /// backup workflow plugs in here; tests inject steps that never finish).
    pub cleanup_steps: Vec<Arc<dyn finalizer::CleanupStep>>,
    /// Backups and restores: where the credentials are.
    pub backup: backup::BackupOptions,
    /// Self-configuration requests: how long finished ones are kept.
    pub selfconfig: selfconfig::SelfConfigOptions,
    /// Resolves `pack:` skills (`Err`: why resolution is off, e.g. an unreadable CA file).
    pub skill_packs: Result<crate::skillpacks::Resolver, String>,
    /// Asks image registries for new versions (auto-update; shared by every instance).
    pub registry: Result<crate::registry::Resolver, String>,
}

impl Options {
    /// The shared runtime's part of the options.
    pub fn runtime(self) -> runtime::RuntimeOptions {
        runtime::RuntimeOptions {
            scope: self.scope,
            concurrency: self.concurrency,
            metrics: self.metrics,
            leader: self.leader,
            readiness: self.readiness,
            shutdown: self.shutdown,
        }
    }

    /// Options for a single replica that always leads, stopping on SIGTERM/SIGINT.
    pub fn standalone(scope: Scope, concurrency: u16) -> Self {
        let (tx, leader) = watch::channel(true);
        // Keep the sender alive for the life of the process: the receiver then never closes.
        std::mem::forget(tx);
        Self {
            scope,
            concurrency,
            metrics: Arc::new(Metrics::new("none", concurrency)),
            leader,
            readiness: Readiness::default(),
            shutdown: shutdown_signal().boxed().shared(),
            cleanup_steps: Vec::new(),
            backup: backup::BackupOptions::default(),
            selfconfig: selfconfig::SelfConfigOptions::default(),
            skill_packs: crate::skillpacks::Resolver::new(crate::skillpacks::Options::from_env())
                .map_err(|e| e.to_string()),
            registry: crate::registry::Resolver::new(update::REGISTRY_TTL)
                .map_err(|e| e.to_string()),
        }
    }
}

/// Every controller the operator runs, each built on the shared [`Runtime`] (with its own
/// settings from `options`). A new controller is one more entry.
pub fn controllers(options: &Options) -> Vec<Start> {
    let mut cleanup_steps = options.cleanup_steps.clone();
    let backup = options.backup.clone();
    if backup.credentials_namespace.is_some() {
        cleanup_steps.push(Arc::new(backup::BackupOnDelete {
            options: backup.clone(),
        }));
    }
    let selfconfig = options.selfconfig.clone();
    let skill_packs = options.skill_packs.clone();
    let registry = options.registry.clone();
    vec![
        Box::new(move |rt: &Runtime| {
            instance_controller::start(rt, cleanup_steps, backup, skill_packs, registry)
        }),
        Box::new(move |rt: &Runtime| selfconfig::start(rt, selfconfig)),
    ]
}

/// Run the controllers with default options until SIGTERM/SIGINT.
pub async fn run(client: Client, scope: Scope, concurrency: u16) -> anyhow::Result<()> {
    run_with(client, Options::standalone(scope, concurrency)).await;
    Ok(())
}

/// Run the controllers until `options.shutdown` resolves.
pub async fn run_with(client: Client, options: Options) {
    let controllers = controllers(&options);
    run_controllers(client, options, controllers).await;
}

/// Run `controllers` on one runtime (built from `options`) until they all stop.
pub async fn run_controllers(client: Client, options: Options, controllers: Vec<Start>) {
    let (rt, drivers) = Runtime::new(client, options.runtime());
    let running: Vec<_> = controllers.into_iter().map(|start| start(&rt)).collect();
    let tasks = drivers.spawn();
    futures::future::join_all(running).await;
    drop(tasks);
    tracing::info!("controllers stopped");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use openclaw_api::selfconfig::OpenClawSelfConfig;

    /// A further controller joins with one entry: a constructor that receives the runtime.
    fn another(rt: &Runtime) -> futures::future::BoxFuture<'static, ()> {
        rt.metrics.register_controller("another", 1);
        let (_store, _events) = rt.watch_crd::<OpenClawSelfConfig>();
        let _instances = rt.stores.instances.clone();
        let _changes = rt.instance_changes.subscribe();
        rt.shutdown.clone().boxed()
    }

    #[tokio::test]
    async fn a_controller_is_one_entry() {
        // Nothing listens there: the controllers are only built, never run.
        let client =
            Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
        let options = Options::standalone(Scope::namespace("ns"), 1);
        let metrics = options.metrics.clone();
        let mut list = controllers(&options);
        let (rt, _drivers) = Runtime::new(client, options.runtime());
        list.push(Box::new(another));
        let built: Vec<_> = list.into_iter().map(|start| start(&rt)).collect();
        // The instance controller, the self-config controller and this one.
        assert_eq!(built.len(), 3);
        // Its cache gates readiness like the others; its metrics carry its name.
        let pending = rt.readiness.pending();
        for cache in [
            "OpenClawSelfConfig/ns",
            "OpenClawInstance/ns",
            "StatefulSet/ns",
        ] {
            assert!(pending.iter().any(|p| p == cache), "{cache} in {pending:?}");
        }
        let text = metrics.encode().unwrap();
        for name in ["openclawselfconfig", "another"] {
            assert!(text.contains(&format!(
                "controller_runtime_max_concurrent_reconciles{{controller=\"{name}\"}} 1"
            )));
        }
    }
}
