//! The controllers of the operator, on one shared runtime.
//!
//! - [`runtime`]: what every controller shares (watches and caches, readiness, the leader and
//!   caches-synced gate, events, metrics, shutdown, backoff);
//! - [`kinds`]: everything per managed kind, generated from the one table
//!   `openclaw_render::managed_kinds!`;
//! - the OpenClawInstance controller: [`instance_controller`] (its triggers and error policy)
//!   and [`instance`] (one reconcile: observe, validate, render, apply, prune, report), with
//!   [`observe`], [`apply`], [`custom`] and [`status`].
//!
//! [`controllers`] lists the controllers the operator runs; a new controller is one more entry
//! there (see [`runtime`] for an outline).

pub mod apply;
pub mod custom;
pub mod instance;
pub mod instance_controller;
pub mod kinds;
pub mod observe;
pub mod runtime;
pub mod status;

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;
use openclaw_api::clusterdefaults::{CLUSTER_DEFAULTS_NAME, OpenClawClusterDefaults};

use crate::metrics::Metrics;

pub use kinds::Stores;
pub use runtime::{
    MANAGED_BY, Options, Readiness, Runtime, Scope, Start, Watched, run_controllers,
    shutdown_signal,
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
    /// Whether this replica may write (leader, caches synced).
    active: runtime::Active,
    /// Consecutive failures per instance, for backoff.
    failures: runtime::Failures,
}

impl Context {
    /// The cluster defaults singleton, if present.
    pub fn cluster_defaults(&self) -> Option<Arc<OpenClawClusterDefaults>> {
        self.stores
            .cluster_defaults
            .get(&ObjectRef::new(CLUSTER_DEFAULTS_NAME))
    }
}

/// Every controller the operator runs, each built on the shared [`Runtime`].
pub fn controllers() -> Vec<Start> {
    vec![Box::new(instance_controller::start)]
}

/// Run the controllers with default options until SIGTERM/SIGINT.
pub async fn run(client: Client, scope: Scope, concurrency: u16) -> anyhow::Result<()> {
    run_with(client, Options::standalone(scope, concurrency)).await;
    Ok(())
}

/// Run the controllers until `options.shutdown` resolves.
pub async fn run_with(client: Client, options: Options) {
    run_controllers(client, options, controllers()).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use futures::FutureExt;
    use openclaw_api::selfconfig::OpenClawSelfConfig;

    /// A second controller joins with one entry: a constructor that receives the runtime.
    fn another(rt: &Runtime) -> futures::future::BoxFuture<'static, ()> {
        rt.metrics.register_controller("openclawselfconfig", 1);
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
        let (rt, _drivers) = Runtime::new(client, options);
        let mut list = controllers();
        list.push(Box::new(another));
        let built: Vec<_> = list.into_iter().map(|start| start(&rt)).collect();
        assert_eq!(built.len(), 2);
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
        assert!(text.contains(
            "controller_runtime_max_concurrent_reconciles{controller=\"openclawselfconfig\"} 1"
        ));
    }
}
