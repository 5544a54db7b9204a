//! The OpenClawInstance controller: observe, validate, render, apply, prune, report.

pub mod adopt;
pub mod apply;
pub mod custom;
pub mod finalizer;
pub mod instance;
pub mod lifecycle;
pub mod observe;
pub mod report;
pub mod status;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
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
use tokio::sync::watch;
use tracing::Instrument;

use crate::metrics::{Metrics, Outcome};

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
    pub ingresses: Store<Ingress>,
    pub hpas: Store<HorizontalPodAutoscaler>,
    pub cluster_defaults: Store<OpenClawClusterDefaults>,
}

/// Shared state of the controller.
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
    /// Whether this replica may write (leader, caches synced).
    active: watch::Receiver<bool>,
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
    /// Namespaces to watch; empty watches all namespaces (and needs cluster-wide RBAC).
    pub namespaces: Vec<String>,
}

impl Scope {
    /// One namespace.
    pub fn namespace(ns: impl Into<String>) -> Self {
        Self {
            namespaces: vec![ns.into()],
        }
    }

    /// A comma-separated list (trimmed; empty entries and duplicates dropped, order kept).
    pub fn parse(list: &str) -> Self {
        let mut namespaces: Vec<String> = Vec::new();
        for ns in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !namespaces.iter().any(|n| n == ns) {
                namespaces.push(ns.to_string());
            }
        }
        Self { namespaces }
    }

    /// One `Api` per watched namespace, or one for all namespaces.
    fn apis<K>(&self, client: &Client) -> Vec<(Option<String>, Api<K>)>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        if self.namespaces.is_empty() {
            vec![(None, Api::all(client.clone()))]
        } else {
            self.namespaces
                .iter()
                .map(|ns| (Some(ns.clone()), Api::namespaced(client.clone(), ns)))
                .collect()
        }
    }

    fn describe(&self) -> String {
        if self.namespaces.is_empty() {
            "all namespaces".into()
        } else {
            self.namespaces.join(",")
        }
    }
}

/// Which caches have finished their first list. `/readyz` reports it; the controller writes
/// nothing before all are synced (so a restart or a new leader does not re-apply objects its
/// caches have not seen yet).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Mutex<BTreeMap<String, bool>>>);

impl Readiness {
    fn register(&self, name: String) -> SyncFlag {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone(), false);
        SyncFlag {
            readiness: self.clone(),
            name,
        }
    }

    /// All registered caches synced (and at least one registered).
    pub fn ready(&self) -> bool {
        let caches = self.0.lock().unwrap_or_else(|p| p.into_inner());
        !caches.is_empty() && caches.values().all(|synced| *synced)
    }

    /// The caches still listing.
    pub fn pending(&self) -> Vec<String> {
        let caches = self.0.lock().unwrap_or_else(|p| p.into_inner());
        caches
            .iter()
            .filter(|(_, synced)| !**synced)
            .map(|(name, _)| name.clone())
            .collect()
    }
}

struct SyncFlag {
    readiness: Readiness,
    name: String,
}

impl SyncFlag {
    fn set(&self) {
        self.readiness
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.name.clone(), true);
    }
}

type EventStream<K> = BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>;

/// Merge the watches of several namespaces into one event stream for one reflector store.
///
/// A store's writer swaps its whole content on each `InitDone`, which would drop the other
/// namespaces' objects. So the merged stream has one initial list: `Init`, the first lists of
/// every watch (and anything else seen meanwhile) as `InitApply`, one `InitDone` once every
/// watch has listed (the store then reports ready, which the controller waits for), then the
/// deletions seen meanwhile. A later re-list of one namespace becomes `Apply` events followed
/// by `Delete` events for that namespace's objects the re-list no longer returned. Each watch
/// marks its [`SyncFlag`] on its first completed list.
fn merge_watches<K>(
    watches: Vec<(Option<String>, EventStream<K>)>,
    reader: Store<K>,
    readiness: &Readiness,
    kind: &str,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static + use<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    struct Watch<K: Resource<DynamicType = ()>> {
        namespace: Option<String>,
        flag: SyncFlag,
        listed: bool,
        listing: Option<HashSet<ObjectRef<K>>>,
    }
    let mut state: Vec<Watch<K>> = Vec::new();
    let mut streams = Vec::new();
    for (i, (ns, stream)) in watches.into_iter().enumerate() {
        state.push(Watch {
            flag: readiness.register(format!("{kind}/{}", ns.as_deref().unwrap_or("*"))),
            namespace: ns,
            listed: false,
            listing: None,
        });
        streams.push(stream.map(move |e| (i, e)));
    }
    let mut initial = true;
    let mut deleted_meanwhile: Vec<K> = Vec::new();
    let merged = futures::stream::select_all(streams).flat_map(move |(i, event)| {
        use watcher::Event::{Apply, Delete, Init, InitApply, InitDone};
        let mut out: Vec<Result<watcher::Event<K>, watcher::Error>> = Vec::new();
        match event {
            Err(e) => out.push(Err(e)),
            Ok(Init) => state[i].listing = Some(HashSet::new()),
            Ok(InitApply(obj)) | Ok(Apply(obj)) if initial => {
                if let Some(seen) = state[i].listing.as_mut() {
                    seen.insert(ObjectRef::from_obj(&obj));
                }
                out.push(Ok(InitApply(obj)));
            }
            Ok(InitApply(obj)) => {
                if let Some(seen) = state[i].listing.as_mut() {
                    seen.insert(ObjectRef::from_obj(&obj));
                }
                out.push(Ok(Apply(obj)));
            }
            Ok(Delete(obj)) if initial => deleted_meanwhile.push(obj),
            Ok(InitDone) => {
                let seen = state[i].listing.take().unwrap_or_default();
                if !state[i].listed {
                    state[i].listed = true;
                    state[i].flag.set();
                    if initial && state.iter().all(|w| w.listed) {
                        initial = false;
                        out.push(Ok(InitDone));
                        out.extend(deleted_meanwhile.drain(..).map(|o| Ok(Delete(o))));
                    }
                } else if !initial {
                    let ns = &state[i].namespace;
                    out.extend(
                        reader
                            .state()
                            .into_iter()
                            .filter(|o| ns.is_none() || o.namespace() == *ns)
                            .filter(|o| !seen.contains(&ObjectRef::from_obj(&**o)))
                            .map(|o| Ok(Delete((*o).clone()))),
                    );
                }
            }
            Ok(other) => out.push(Ok(other)),
        }
        futures::stream::iter(out)
    });
    futures::stream::once(async { Ok(watcher::Event::Init) }).chain(merged)
}

fn owned<K>(
    client: &Client,
    scope: &Scope,
    readiness: &Readiness,
    metrics: &Arc<Metrics>,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Watched,
{
    let (reader, writer) = reflector::store();
    let watches = scope
        .apis::<K>(client)
        .into_iter()
        .map(|(ns, api)| {
            let stream = watcher(api, watcher::Config::default().labels(MANAGED_BY))
                .default_backoff()
                .modify(|o: &mut K| adopt::trim_managed_fields(o.meta_mut()))
                .boxed();
            (ns, stream)
        })
        .collect();
    let metrics = metrics.clone();
    let kind = K::kind(&()).to_string();
    let stream = merge_watches(watches, reader.clone(), readiness, &kind)
        .reflect(writer)
        // Deletions count too: a deleted child is re-created at once.
        .touched_objects()
        .inspect(move |r| {
            if let Ok(o) = r
                && let Some(owner) = o
                    .owner_references()
                    .iter()
                    .find(|r| r.controller == Some(true) && r.kind == "OpenClawInstance")
            {
                metrics.queue_add(&o.namespace().unwrap_or_default(), &owner.name);
            }
        });
    (reader, stream)
}

/// A namespaced kind the controller watches.
pub trait Watched:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// Events of every `K` in the scope, metadata only (`Api<PartialObjectMeta<K>>` makes
/// metadata-only requests), not cached.
fn metadata_watch<K>(
    client: &Client,
    scope: &Scope,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static + use<K>
where
    K: Watched,
{
    futures::stream::select_all(scope.apis::<PartialObjectMeta<K>>(client).into_iter().map(
        |(_, api)| {
            watcher(api, watcher::Config::default())
                .default_backoff()
                .touched_objects()
                .boxed()
        },
    ))
}

/// The instances in `meta`'s namespace whose `references` include `meta`'s name.
fn naming<K: Resource>(
    store: &Store<OpenClawInstance>,
    metrics: &Metrics,
    meta: &PartialObjectMeta<K>,
    references: impl Fn(&OpenClawInstance) -> Vec<String>,
) -> Vec<ObjectRef<OpenClawInstance>> {
    let ns = meta.namespace();
    let name = meta.name_any();
    store
        .state()
        .into_iter()
        .filter(|i| i.namespace() == ns && references(i).contains(&name))
        .map(|i| {
            metrics.queue_add(&i.namespace().unwrap_or_default(), &i.name_any());
            ObjectRef::from_obj(&*i)
        })
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

/// One reconcile with its span and metrics; nothing at all while this replica is not active.
async fn reconcile(instance: Arc<OpenClawInstance>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = instance.namespace().unwrap_or_default();
    let name = instance.name_any();
    ctx.metrics.reconcile_started(&ns, &name);
    if !*ctx.active.borrow() {
        // A standby (or a replica whose caches are still listing): everything is reconciled
        // again once it becomes active.
        ctx.metrics.reconcile_skipped(&ns, &name);
        return Ok(Action::await_change());
    }
    let span = tracing::info_span!("reconcile", namespace = %ns, name = %name);
    let result = instance::reconcile(instance, ctx.clone())
        .instrument(span)
        .await;
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Error
    };
    let requeue = matches!(&result, Ok(a) if *a != Action::await_change());
    ctx.metrics.reconcile_finished(&ns, &name, outcome, requeue);
    result
}

/// What the operator process hands the controller.
pub struct Options {
    /// Where to watch.
    pub scope: Scope,
    /// Instances reconciled in parallel.
    pub concurrency: u16,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Leadership: reconciles write only while this is true (always true without election).
    pub leader: watch::Receiver<bool>,
    /// Cache sync state, shared with `/readyz`.
    pub readiness: Readiness,
    /// Resolves when the process should stop; in-flight reconciles finish first.
    pub shutdown: futures::future::Shared<BoxFuture<'static, ()>>,
    /// Steps that run when an instance is deleted, before its finalizer is released (the
    /// backup workflow plugs in here; tests inject steps that never finish).
    pub cleanup_steps: Vec<Arc<dyn finalizer::CleanupStep>>,
}

impl Options {
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
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// Run the instance controller with default options until SIGTERM/SIGINT.
pub async fn run(client: Client, scope: Scope, concurrency: u16) -> anyhow::Result<()> {
    run_with(client, Options::standalone(scope, concurrency)).await;
    Ok(())
}

/// Run the instance controller until `options.shutdown` resolves.
pub async fn run_with(client: Client, options: Options) {
    let Options {
        scope,
        concurrency,
        metrics,
        leader,
        readiness,
        shutdown,
        cleanup_steps,
    } = options;
    let r = &readiness;
    let m = &metrics;
    let (stateful_sets, sts_stream) = owned::<StatefulSet>(&client, &scope, r, m);
    let (services, svc_stream) = owned::<Service>(&client, &scope, r, m);
    let (config_maps, cm_stream) = owned::<ConfigMap>(&client, &scope, r, m);
    let (secrets, secret_stream) = owned::<Secret>(&client, &scope, r, m);
    let (service_accounts, sa_stream) = owned::<ServiceAccount>(&client, &scope, r, m);
    let (roles, role_stream) = owned::<Role>(&client, &scope, r, m);
    let (role_bindings, rb_stream) = owned::<RoleBinding>(&client, &scope, r, m);
    let (network_policies, np_stream) = owned::<NetworkPolicy>(&client, &scope, r, m);
    let (pdbs, pdb_stream) = owned::<PodDisruptionBudget>(&client, &scope, r, m);
    let (pvcs, pvc_stream) = owned::<PersistentVolumeClaim>(&client, &scope, r, m);
    let (ingresses, ingress_stream) = owned::<Ingress>(&client, &scope, r, m);
    let (hpas, hpa_stream) = owned::<HorizontalPodAutoscaler>(&client, &scope, r, m);

    // Cluster-scoped: watched cluster-wide even when namespaces are listed.
    let (cd_reader, cd_writer) = reflector::store();
    let cd_watch = watcher(
        Api::<OpenClawClusterDefaults>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(|o: &mut OpenClawClusterDefaults| o.managed_fields_mut().clear())
    .boxed();
    let cd_stream = merge_watches(
        vec![(None, cd_watch)],
        cd_reader.clone(),
        r,
        "OpenClawClusterDefaults",
    )
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
        ingresses,
        hpas,
        cluster_defaults: cd_reader,
    };
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "openclaw-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );

    // Instances: managedFields stripped, deletions drop their metric series.
    let (store, inst_writer) = reflector::store::<OpenClawInstance>();
    let inst_watches = scope
        .apis::<OpenClawInstance>(&client)
        .into_iter()
        .map(|(ns, api)| {
            let stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .modify(|o: &mut OpenClawInstance| {
                    adopt::trim_instance_managed_fields(o.meta_mut())
                })
                .boxed();
            (ns, stream)
        })
        .collect();
    let inst_stream = {
        let metrics = metrics.clone();
        let store = store.clone();
        merge_watches(inst_watches, store.clone(), r, "OpenClawInstance")
            .reflect(inst_writer)
            .inspect(move |event| {
                match event {
                    Ok(watcher::Event::Apply(o)) => {
                        metrics.queue_add(&o.namespace().unwrap_or_default(), &o.name_any())
                    }
                    Ok(watcher::Event::Delete(o)) => {
                        metrics.forget_instance(&o.namespace().unwrap_or_default(), &o.name_any())
                    }
                    _ => return,
                }
                metrics.set_managed_instances(store.len());
            })
            .applied_objects()
    };

    // Active = leader and every cache synced. Turning active re-runs every instance, from
    // the caches a standby kept warm.
    let (active_tx, active) = watch::channel(false);
    let gate = {
        let readiness = readiness.clone();
        let metrics = metrics.clone();
        let mut leader = leader.clone();
        async move {
            let mut last = None;
            loop {
                let is_leader = *leader.borrow_and_update();
                metrics.set_leader(is_leader);
                let now = is_leader && readiness.ready();
                if last != Some(now) {
                    last = Some(now);
                    if now {
                        tracing::info!("caches synced and leading: reconciling");
                    }
                    if active_tx.send(now).is_err() {
                        return;
                    }
                }
                tokio::select! {
                    changed = leader.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {},
                }
            }
        }
    };
    let gate = tokio::spawn(gate);
    let became_active = futures::stream::unfold(active.clone(), |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            if *rx.borrow_and_update() {
                return Some(((), rx));
            }
        }
    });

    // Optional third-party kinds: discovered, watched while present, never gating readiness.
    let custom_kinds = custom::CustomKinds::default();
    let (custom_tx, custom_rx) = futures::channel::mpsc::unbounded();
    let _discovery = custom::AbortOnDrop(tokio::spawn(custom::run(
        client.clone(),
        scope.clone(),
        custom_kinds.clone(),
        store.clone(),
        custom_tx,
        metrics.clone(),
    )));

    let ctx = Arc::new(Context {
        client: client.clone(),
        stores,
        custom: custom_kinds,
        recorder,
        metrics: metrics.clone(),
        cleanup_steps,
        active,
        failures: Mutex::new(HashMap::new()),
    });

    let controller = Controller::for_stream(inst_stream, store.clone())
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency));

    // Referenced Secrets and ConfigMaps (any, not only ours): metadata only, mapped to the
    // instances that name them.
    let by_secret = {
        let store = store.clone();
        let metrics = metrics.clone();
        move |meta: PartialObjectMeta<Secret>| {
            naming(&store, &metrics, &meta, |i| {
                observe::referenced_secrets(i, &i.spec)
            })
        }
    };
    let by_config_map = {
        let store = store.clone();
        let metrics = metrics.clone();
        move |meta: PartialObjectMeta<ConfigMap>| {
            naming(&store, &metrics, &meta, |i| {
                observe::referenced_config_maps(&i.spec)
            })
        }
    };
    let all_instances = {
        let store = store.clone();
        let metrics = metrics.clone();
        move |cd: OpenClawClusterDefaults| {
            if cd.name_any() != CLUSTER_DEFAULTS_NAME {
                return Vec::new();
            }
            store
                .state()
                .iter()
                .map(|i| {
                    metrics.queue_add(&i.namespace().unwrap_or_default(), &i.name_any());
                    ObjectRef::from_obj(&**i)
                })
                .collect::<Vec<_>>()
        }
    };
    // Metadata-only watches: no Secret data is cached.
    let secret_meta = metadata_watch::<Secret>(&client, &scope);
    let cm_meta = metadata_watch::<ConfigMap>(&client, &scope);
    let reconcile_all = {
        let store = store.clone();
        let metrics = metrics.clone();
        became_active.map(move |()| {
            for i in store.state() {
                metrics.queue_add(&i.namespace().unwrap_or_default(), &i.name_any());
            }
        })
    };

    tracing::info!(scope = %scope.describe(), concurrency, "starting the OpenClawInstance controller");
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
        .owns_stream(ingress_stream)
        .owns_stream(hpa_stream)
        .reconcile_on(custom_rx)
        .watches_stream(secret_meta, by_secret)
        .watches_stream(cm_meta, by_config_map)
        .watches_stream(cd_stream, all_instances)
        .reconcile_all_on(reconcile_all)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(instance = %obj, "reconciled"),
                Err(e) => tracing::debug!("reconcile error: {e}"),
            }
        })
        .await;
    gate.abort();
    tracing::info!("controller stopped");
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
