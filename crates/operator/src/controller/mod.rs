//! The OpenClawInstance controller: observe, validate, render, apply, prune, report.

pub mod apply;
pub mod instance;
pub mod observe;
pub mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use openclaw_api::OpenClawInstance;
use openclaw_api::clusterdefaults::{CLUSTER_DEFAULTS_NAME, OpenClawClusterDefaults};
use serde::de::DeserializeOwned;

/// Label every managed object carries; the owned-object watches select on it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by=openclaw-operator";

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

/// Caches of the objects the operator manages (label-selected, managedFields stripped).
#[derive(Clone)]
#[allow(missing_docs)]
pub struct Stores {
    pub stateful_sets: Store<StatefulSet>,
    pub services: Store<Service>,
    pub config_maps: Store<ConfigMap>,
    pub secrets: Store<Secret>,
    pub service_accounts: Store<ServiceAccount>,
    pub roles: Store<Role>,
    pub role_bindings: Store<RoleBinding>,
    pub network_policies: Store<NetworkPolicy>,
    pub pdbs: Store<PodDisruptionBudget>,
    pub pvcs: Store<PersistentVolumeClaim>,
    pub cluster_defaults: Store<OpenClawClusterDefaults>,
}

/// Shared state of the controller.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Caches of managed objects.
    pub stores: Stores,
    /// Event recorder.
    pub recorder: Recorder,
    /// Consecutive failures per instance, for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// The cluster defaults singleton, if present.
    pub fn cluster_defaults(&self) -> Option<Arc<OpenClawClusterDefaults>> {
        self.stores
            .cluster_defaults
            .get(&ObjectRef::new(CLUSTER_DEFAULTS_NAME))
    }
}

/// Where the controller watches.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Namespace to watch; `None` watches all namespaces.
    pub namespace: Option<String>,
}

impl Scope {
    fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
}

fn owned<K>(
    client: &Client,
    scope: &Scope,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(
        scope.api::<K>(client),
        watcher::Config::default().labels(MANAGED_BY),
    )
    .default_backoff()
    .modify(|o: &mut K| o.managed_fields_mut().clear())
    .reflect(writer)
    .applied_objects();
    (reader, stream)
}

/// The instances in `meta`'s namespace whose `references` include `meta`'s name.
fn naming<K: Resource>(
    store: &Store<OpenClawInstance>,
    meta: &PartialObjectMeta<K>,
    references: impl Fn(&OpenClawInstance) -> Vec<String>,
) -> Vec<ObjectRef<OpenClawInstance>> {
    let ns = meta.namespace();
    let name = meta.name_any();
    store
        .state()
        .into_iter()
        .filter(|i| i.namespace() == ns && references(i).contains(&name))
        .map(|i| ObjectRef::from_obj(&*i))
        .collect()
}

fn backoff(failures: u32) -> Duration {
    Duration::from_secs((5u64 << failures.min(6)).min(300))
}

fn error_policy(instance: Arc<OpenClawInstance>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = format!(
        "{}/{}",
        instance.namespace().unwrap_or_default(),
        instance.name_any()
    );
    let n = {
        let mut failures = ctx.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    };
    tracing::warn!(instance = %key, failures = n, "reconcile failed: {error}");
    Action::requeue(backoff(n - 1))
}

/// Run the instance controller until the shutdown signal.
pub async fn run(client: Client, scope: Scope, concurrency: u16) -> anyhow::Result<()> {
    let (stateful_sets, sts_stream) = owned::<StatefulSet>(&client, &scope);
    let (services, svc_stream) = owned::<Service>(&client, &scope);
    let (config_maps, cm_stream) = owned::<ConfigMap>(&client, &scope);
    let (secrets, secret_stream) = owned::<Secret>(&client, &scope);
    let (service_accounts, sa_stream) = owned::<ServiceAccount>(&client, &scope);
    let (roles, role_stream) = owned::<Role>(&client, &scope);
    let (role_bindings, rb_stream) = owned::<RoleBinding>(&client, &scope);
    let (network_policies, np_stream) = owned::<NetworkPolicy>(&client, &scope);
    let (pdbs, pdb_stream) = owned::<PodDisruptionBudget>(&client, &scope);
    let (pvcs, pvc_stream) = owned::<PersistentVolumeClaim>(&client, &scope);

    let (cd_reader, cd_writer) = reflector::store();
    let cd_stream = watcher(
        Api::<OpenClawClusterDefaults>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(|o: &mut OpenClawClusterDefaults| o.managed_fields_mut().clear())
    .reflect(cd_writer)
    .touched_objects();

    let stores = Stores {
        stateful_sets,
        services,
        config_maps,
        secrets,
        service_accounts,
        roles,
        role_bindings,
        network_policies,
        pdbs,
        pvcs,
        cluster_defaults: cd_reader,
    };
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "openclaw-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    let ctx = Arc::new(Context {
        client: client.clone(),
        stores,
        recorder,
        failures: Mutex::new(HashMap::new()),
    });

    let instances: Api<OpenClawInstance> = scope.api(&client);
    let controller = Controller::new(instances, watcher::Config::default())
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency));
    let store = controller.store();

    // Referenced Secrets and ConfigMaps (any, not only ours): metadata only, mapped to the
    // instances that name them.
    let by_secret = {
        let store = store.clone();
        move |meta: PartialObjectMeta<Secret>| {
            naming(&store, &meta, |i| observe::referenced_secrets(i, &i.spec))
        }
    };
    let by_config_map = {
        let store = store.clone();
        move |meta: PartialObjectMeta<ConfigMap>| {
            naming(&store, &meta, |i| observe::referenced_config_maps(&i.spec))
        }
    };
    let all_instances = {
        let store = store.clone();
        move |cd: OpenClawClusterDefaults| {
            if cd.name_any() != CLUSTER_DEFAULTS_NAME {
                return Vec::new();
            }
            store
                .state()
                .iter()
                .map(|i| ObjectRef::from_obj(&**i))
                .collect::<Vec<_>>()
        }
    };
    // `Api<PartialObjectMeta<K>>` makes metadata-only requests: no Secret data is cached.
    let secret_meta = watcher(
        scope.api::<PartialObjectMeta<Secret>>(&client),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    let cm_meta = watcher(
        scope.api::<PartialObjectMeta<ConfigMap>>(&client),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();

    controller
        .owns_stream(sts_stream)
        .owns_stream(svc_stream)
        .owns_stream(cm_stream)
        .owns_stream(secret_stream)
        .owns_stream(sa_stream)
        .owns_stream(role_stream)
        .owns_stream(rb_stream)
        .owns_stream(np_stream)
        .owns_stream(pdb_stream)
        .owns_stream(pvc_stream)
        .watches_stream(secret_meta, by_secret)
        .watches_stream(cm_meta, by_config_map)
        .watches_stream(cd_stream, all_instances)
        .shutdown_on_signal()
        .run(instance::reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(instance = %obj, "reconciled"),
                Err(e) => tracing::debug!("reconcile error: {e}"),
            }
        })
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(10), Duration::from_secs(300));
    }
}
