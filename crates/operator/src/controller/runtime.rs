//! The controller runtime every controller of the operator shares: watches and their caches,
//! readiness, the leader and caches-synced gate, event recording, metrics and shutdown.
//!
//! [`Runtime::new`] starts nothing: it builds the caches ([`Stores`]), the change feeds of the
//! watched kinds and the gate. Each controller then receives the runtime in its constructor
//! (a [`Start`] in [`super::controllers`]), subscribes to the feeds it needs and returns the
//! future that runs it; only then are the watches driven (one task per watched kind, so every
//! cache fills whichever controllers run) and the controllers polled.
//!
//! What a controller gets from [`Runtime`]:
//!
//! - `client`, `scope` (the watched namespaces) and `concurrency`;
//! - `stores`: the caches of the managed kinds, of every OpenClawInstance in the scope and of
//!   the cluster defaults ([`Stores`]);
//! - change feeds ([`Fanout`] of [`Change`]): `instance_changes`, `cluster_defaults_changes`
//!   and `owned` (one per managed kind, [`OwnedChanges`]);
//! - [`Runtime::watch_crd`]: a watch and cache of one more of the operator's own kinds (lenient:
//!   an object that does not parse is skipped, never stops the watch), registered with
//!   readiness;
//! - `readiness` (for `/readyz`) and `active` ([`Active`]: leader and every cache synced; a
//!   controller writes nothing while it is false, and reconciles everything when it turns true);
//! - `recorder` (Kubernetes events), `metrics` (each controller labels its series with its own
//!   name) and `shutdown` (resolves when the process stops; in-flight reconciles finish first);
//! - [`Failures`] and [`backoff`] for an error policy with exponential backoff.
//!
//! A second controller, in outline (`OpenClawSelfConfig` is the kind of the self-configuration
//! controller; the instance controller is [`super::instance_controller`]):
//!
//! ```no_run
//! use futures::{FutureExt, StreamExt};
//! use futures::future::BoxFuture;
//! use kube::runtime::WatchStreamExt;
//! use kube::runtime::controller::{Action, Controller};
//! use openclaw_api::selfconfig::OpenClawSelfConfig;
//! use openclaw_operator::controller::runtime::Runtime;
//! use std::sync::Arc;
//!
//! const NAME: &str = "openclawselfconfig";
//!
//! pub fn start(rt: &Runtime) -> BoxFuture<'static, ()> {
//!     rt.metrics.register_controller(NAME, rt.concurrency);
//!     // Subscribe now, in the constructor: the watches start once every controller is built.
//!     let (store, events) = rt.watch_crd::<OpenClawSelfConfig>();
//!     let instances = rt.stores.instances.clone();
//!     let active = rt.active.clone();
//!     let controller = Controller::for_stream(events.applied_objects(), store)
//!         .reconcile_all_on(rt.active.became_active())
//!         .graceful_shutdown_on(rt.shutdown.clone());
//!     async move {
//!         let ctx = Arc::new((instances, active));
//!         controller
//!             .run(
//!                 |_request: Arc<OpenClawSelfConfig>, ctx| async move {
//!                     if !ctx.1.is_active() {
//!                         return Ok::<_, kube::Error>(Action::await_change());
//!                     }
//!                     // ... look up the target in ctx.0, apply the change, report ...
//!                     Ok(Action::await_change())
//!                 },
//!                 |_, _, _| Action::await_change(),
//!                 ctx,
//!             )
//!             .for_each(|_| async {})
//!             .await;
//!     }
//!     .boxed()
//! }
//! ```
//!
//! and one line in [`super::controllers`]: `Box::new(selfconfig::start)`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{BoxFuture, Shared};
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, PartialObjectMeta};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use openclaw_api::OpenClawInstance;
use openclaw_api::clusterdefaults::OpenClawClusterDefaults;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::kinds::{self, OwnedChanges, Stores};
use crate::metrics::Metrics;

/// Label every managed object carries; the owned-object watches select on it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by=openclaw-operator";

/// Where the controllers watch.
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
    pub fn apis<K>(&self, client: &Client) -> Vec<(Option<String>, Api<K>)>
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

    /// [`Scope::apis`] for a kind known only at run time.
    pub fn dynamic_apis(
        &self,
        client: &Client,
        resource: &ApiResource,
    ) -> Vec<(Option<String>, Api<DynamicObject>)> {
        if self.namespaces.is_empty() {
            vec![(None, Api::all_with(client.clone(), resource))]
        } else {
            self.namespaces
                .iter()
                .map(|ns| {
                    (
                        Some(ns.clone()),
                        Api::namespaced_with(client.clone(), ns, resource),
                    )
                })
                .collect()
        }
    }

    /// The namespaces, for logs.
    pub fn describe(&self) -> String {
        if self.namespaces.is_empty() {
            "all namespaces".into()
        } else {
            self.namespaces.join(",")
        }
    }
}

/// Which caches have finished their first list. `/readyz` reports it; the controllers write
/// nothing before all are synced (so a restart or a new leader does not re-apply objects its
/// caches have not seen yet).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Mutex<BTreeMap<String, bool>>>);

impl Readiness {
    fn caches(&self) -> MutexGuard<'_, BTreeMap<String, bool>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a cache (not synced yet); its flag marks it synced.
    pub fn register(&self, name: String) -> SyncFlag {
        self.caches().insert(name.clone(), false);
        SyncFlag {
            readiness: self.clone(),
            name,
        }
    }

    /// All registered caches synced (and at least one registered).
    pub fn ready(&self) -> bool {
        let caches = self.caches();
        !caches.is_empty() && caches.values().all(|synced| *synced)
    }

    /// The caches still listing.
    pub fn pending(&self) -> Vec<String> {
        self.caches()
            .iter()
            .filter(|(_, synced)| !**synced)
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// One cache's entry in [`Readiness`].
pub struct SyncFlag {
    readiness: Readiness,
    name: String,
}

impl SyncFlag {
    /// The cache has listed.
    pub fn set(&self) {
        self.readiness.caches().insert(self.name.clone(), true);
    }
}

/// A boxed watch event stream.
pub type EventStream<K> = BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>;

/// Merge the watches of several namespaces into one event stream for one reflector store.
///
/// A store's writer swaps its whole content on each `InitDone`, which would drop the other
/// namespaces' objects. So the merged stream has one initial list: `Init`, the first lists of
/// every watch (and anything else seen meanwhile) as `InitApply`, one `InitDone` once every
/// watch has listed (the store then reports ready, which the controllers wait for), then the
/// deletions seen meanwhile. A later re-list of one namespace becomes `Apply` events followed
/// by `Delete` events for that namespace's objects the re-list no longer returned. Each watch
/// marks its [`SyncFlag`] on its first completed list.
pub fn merge_watches<K>(
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
    // The uid each object had when last applied during the initial list: a deletion held back
    // meanwhile is dropped when the object was re-created (another uid) since.
    let mut applied_uids: HashMap<ObjectRef<K>, Option<String>> = HashMap::new();
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
                applied_uids.insert(ObjectRef::from_obj(&obj), obj.meta().uid.clone());
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
                        out.extend(
                            deleted_meanwhile
                                .drain(..)
                                .filter(|o| {
                                    applied_uids
                                        .get(&ObjectRef::from_obj(o))
                                        .is_none_or(|uid| *uid == o.meta().uid)
                                })
                                .map(|o| Ok(Delete(o))),
                        );
                        applied_uids = HashMap::new();
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

/// A namespaced kind the controllers watch.
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

/// A kind watched leniently (the operator's own CRD kinds): objects arrive untyped and are
/// parsed one by one, so one that does not parse (an old or hand-edited object the CRD schema
/// accepts but the Rust type does not) is skipped instead of failing the whole list.
pub trait Lenient:
    Resource<DynamicType = ()>
    + Clone
    + Default
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Lenient for K where
    K: Resource<DynamicType = ()>
        + Clone
        + Default
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// Turns untyped watch events into typed ones, skipping objects that do not parse.
///
/// An object that does not parse is logged (a warning once per resourceVersion) and never
/// reaches a store: in a list it is left out (so a re-list drops an older, valid copy), and a
/// modification or deletion becomes a deletion of a placeholder with its name (so the store
/// drops an older, valid copy and no controller acts on stale content).
pub struct LenientParser<K> {
    kind: String,
    /// `namespace/name` → the resourceVersion last warned about.
    warned: HashMap<String, String>,
    _kind: std::marker::PhantomData<fn() -> K>,
}

impl<K: Lenient> Default for LenientParser<K> {
    fn default() -> Self {
        Self {
            kind: K::kind(&()).to_string(),
            warned: HashMap::new(),
            _kind: std::marker::PhantomData,
        }
    }
}

impl<K: Lenient> LenientParser<K> {
    /// One object: the typed object, or the metadata of one that did not parse.
    pub fn parse(&mut self, mut obj: DynamicObject) -> Result<K, Box<ObjectMeta>> {
        if self.kind == "OpenClawInstance" {
            // Keeps a marker of the Go operator's status entry, taken over before the first
            // status write (adopt.rs).
            super::adopt::trim_instance_managed_fields(&mut obj.metadata);
        } else {
            obj.managed_fields_mut().clear();
        }
        let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
        let meta = Box::new(obj.metadata.clone());
        let status = obj.data.get("status").cloned();
        match obj.try_parse::<K>() {
            Ok(k) => {
                self.warned.remove(&key);
                Ok(k)
            }
            Err(e) => {
                let version = meta.resource_version.clone().unwrap_or_default();
                if self.warned.get(&key) != Some(&version) {
                    tracing::warn!(
                        kind = %self.kind,
                        object = %key,
                        resource_version = %version,
                        "skipping an object that does not parse: {e}"
                    );
                    self.warned.insert(key, version);
                }
                if self.kind == "OpenClawInstance"
                    && let Some(k) = unreadable::<K>(&meta, status, &e.to_string())
                {
                    // An instance is kept, marked, so its controller reports it (phase Failed)
                    // and never lets its finalizer hold a deletion.
                    return Ok(k);
                }
                Err(meta)
            }
        }
    }

    /// One watch event; `None` drops it.
    pub fn event(&mut self, event: watcher::Event<DynamicObject>) -> Option<watcher::Event<K>> {
        use watcher::Event::{Apply, Delete, Init, InitApply, InitDone};
        Some(match event {
            Init => Init,
            InitDone => InitDone,
            InitApply(o) => InitApply(self.parse(o).ok()?),
            Apply(o) => match self.parse(o) {
                Ok(k) => Apply(k),
                Err(meta) => Delete(placeholder(*meta)),
            },
            Delete(o) => {
                let meta = o.metadata.clone();
                self.warned.remove(&format!(
                    "{}/{}",
                    o.namespace().unwrap_or_default(),
                    o.name_any()
                ));
                Delete(o.try_parse::<K>().unwrap_or_else(|_| placeholder(meta)))
            }
        })
    }
}

/// Annotation set (in the cache only, never written) on an object that did not parse: its
/// value is the parse error. The object carries its metadata and status, and an empty spec.
pub const UNREADABLE: &str = "openclaw.rocks/unreadable";

/// The stand-in of an object that did not parse: metadata with [`UNREADABLE`], the status when
/// it parses, an empty spec.
fn unreadable<K: Lenient>(
    meta: &ObjectMeta,
    status: Option<serde_json::Value>,
    error: &str,
) -> Option<K> {
    let mut meta = meta.clone();
    meta.annotations
        .get_or_insert_with(Default::default)
        .insert(UNREADABLE.into(), error.into());
    let mut value = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": meta,
        "spec": {},
    });
    if let Some(status) = status {
        value["status"] = status;
        if let Ok(k) = serde_json::from_value::<K>(value.clone()) {
            return Some(k);
        }
        value.as_object_mut()?.remove("status");
    }
    serde_json::from_value::<K>(value).ok()
}

/// An object with only `metadata`: stands for one that did not parse.
fn placeholder<K: Lenient>(metadata: ObjectMeta) -> K {
    let mut k = K::default();
    *k.meta_mut() = metadata;
    k
}

/// A lenient watch of one `Api` (see [`LenientParser`]).
fn lenient_watch<K: Lenient>(api: Api<DynamicObject>) -> EventStream<K> {
    let mut parser = LenientParser::<K>::default();
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |e| futures::future::ready(e.map(|e| parser.event(e)).transpose()))
        .boxed()
}

/// A change of a watched object, after its cache was updated.
#[derive(Clone, Debug)]
pub enum Change<K> {
    /// Listed, created or modified.
    Applied(K),
    /// Deleted.
    Deleted(K),
}

impl<K> Change<K> {
    /// The object.
    pub fn object(&self) -> &K {
        match self {
            Change::Applied(k) | Change::Deleted(k) => k,
        }
    }

    /// The object, taken.
    pub fn into_object(self) -> K {
        match self {
            Change::Applied(k) | Change::Deleted(k) => k,
        }
    }

    /// The object, when it was applied (not deleted).
    pub fn applied(self) -> Option<K> {
        match self {
            Change::Applied(k) => Some(k),
            Change::Deleted(_) => None,
        }
    }
}

/// One feed, many subscribers: every subscriber gets every item sent after it subscribed.
pub struct Fanout<T>(Arc<Mutex<Vec<mpsc::UnboundedSender<T>>>>);

impl<T> Clone for Fanout<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for Fanout<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Clone> Fanout<T> {
    /// A new subscriber. Subscribe in a controller's constructor, before the watches start.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<T> {
        let (tx, rx) = mpsc::unbounded();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        rx
    }

    /// Send to every subscriber (dropping those gone).
    pub fn send(&self, item: T) {
        let mut subscribers = self.0.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.retain(|s| !s.is_closed());
        if let Some((last, rest)) = subscribers.split_last() {
            for s in rest {
                let _ = s.unbounded_send(item.clone());
            }
            let _ = last.unbounded_send(item);
        }
    }
}

/// Drive a reflected event stream (keeping its cache current) into a feed.
pub fn drive<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    feed: Fanout<Change<K>>,
    kind: String,
) -> BoxFuture<'static, ()>
where
    K: Clone + Send + 'static,
{
    async move {
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    feed.send(Change::Applied(o))
                }
                Ok(watcher::Event::Delete(o)) => feed.send(Change::Deleted(o)),
                Ok(_) => {}
                Err(e) => tracing::debug!(kind = %kind, "watch error: {e}"),
            }
        }
    }
    .boxed()
}

/// The label-selected watch of one managed kind in the scope (managedFields stripped): its
/// cache and its reflected event stream.
pub fn owned<K: Watched>(
    client: &Client,
    scope: &Scope,
    readiness: &Readiness,
) -> (
    Store<K>,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static + use<K>,
) {
    let (reader, writer) = reflector::store();
    let watches = scope
        .apis::<K>(client)
        .into_iter()
        .map(|(ns, api)| {
            let stream = watcher(api, watcher::Config::default().labels(MANAGED_BY))
                .default_backoff()
                .modify(|o: &mut K| super::adopt::trim_managed_fields(o.meta_mut()))
                .boxed();
            (ns, stream)
        })
        .collect();
    let kind = K::kind(&()).to_string();
    let stream = merge_watches(watches, reader.clone(), readiness, &kind).reflect(writer);
    (reader, stream)
}

/// Events of every `K` in the scope, metadata only (`Api<PartialObjectMeta<K>>` makes
/// metadata-only requests), not cached.
pub fn metadata_watch<K>(
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

/// Whether this replica may write: the leader, with every cache synced.
#[derive(Clone, Debug)]
pub struct Active(watch::Receiver<bool>);

impl Active {
    /// Active now.
    pub fn is_active(&self) -> bool {
        *self.0.borrow()
    }

    /// Yields each time this replica turns active (for `reconcile_all_on`: a standby kept its
    /// caches warm; once it leads, everything is reconciled again from them).
    pub fn became_active(&self) -> impl Stream<Item = ()> + Send + 'static + use<> {
        futures::stream::unfold(self.0.clone(), |mut rx| async move {
            loop {
                rx.changed().await.ok()?;
                if *rx.borrow_and_update() {
                    return Some(((), rx));
                }
            }
        })
    }

    /// A receiver of the flag.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.0.clone()
    }
}

/// The gate task: active = leader and every cache synced.
fn gate(
    leader: watch::Receiver<bool>,
    readiness: Readiness,
    metrics: Arc<Metrics>,
    active_tx: watch::Sender<bool>,
) -> BoxFuture<'static, ()> {
    let mut leader = leader;
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
    .boxed()
}

/// The event recorder every controller publishes with (`reportingController:
/// openclaw-operator`, the pod name as the instance).
pub fn recorder(client: &Client) -> Recorder {
    Recorder::new(
        client.clone(),
        Reporter {
            controller: "openclaw-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    )
}

/// Resolves when the process should stop.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

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

/// The delay before retry number `failures + 1`: 5 s, doubling, at most 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs((5u64 << failures.min(6)).min(300))
}

/// Consecutive failures per object (`namespace/name`), for an error policy with [`backoff`].
#[derive(Debug, Default)]
pub struct Failures(Mutex<HashMap<String, u32>>);

impl Failures {
    /// One more failure of `key`; returns the number of consecutive failures and the delay
    /// before the retry.
    pub fn failed(&self, key: &str) -> (u32, Duration) {
        let mut failures = self.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        (*n, backoff(*n - 1))
    }

    /// `key` succeeded: the next failure starts the backoff again.
    pub fn succeeded(&self, key: &str) {
        self.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

impl std::ops::Deref for Failures {
    type Target = Mutex<HashMap<String, u32>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The inputs of a [`Runtime`] (`super::Options` without the settings of individual
/// controllers).
pub struct RuntimeOptions {
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
}

/// Everything the controllers share. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    /// API client.
    pub client: Client,
    /// Where to watch.
    pub scope: Scope,
    /// Objects reconciled in parallel (per controller).
    pub concurrency: u16,
    /// Caches of the managed kinds, the instances and the cluster defaults.
    pub stores: Stores,
    /// Changes of the instances in the scope.
    pub instance_changes: Fanout<Change<OpenClawInstance>>,
    /// Changes of the cluster defaults (every name, not only `cluster`).
    pub cluster_defaults_changes: Fanout<Change<OpenClawClusterDefaults>>,
    /// Changes of the managed objects, one feed per kind.
    pub owned: OwnedChanges,
    /// Cache sync state (`/readyz`).
    pub readiness: Readiness,
    /// Leader and every cache synced.
    pub active: Active,
    /// Event recorder.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Resolves when the process should stop.
    pub shutdown: Shutdown,
}

/// The tasks of a [`Runtime`] not started yet: the watches and the gate.
pub struct Drivers(Vec<BoxFuture<'static, ()>>);

impl Drivers {
    /// Spawn every task; they stop when the returned guards are dropped.
    pub fn spawn(self) -> Vec<AbortOnDrop> {
        self.0
            .into_iter()
            .map(|f| AbortOnDrop(tokio::spawn(f)))
            .collect()
    }
}

/// Aborts a task when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Runtime {
    /// The runtime and its tasks (not started: controllers subscribe first).
    pub fn new(client: Client, options: RuntimeOptions) -> (Self, Drivers) {
        let RuntimeOptions {
            scope,
            concurrency,
            metrics,
            leader,
            readiness,
            shutdown,
        } = options;
        let mut drivers = Vec::new();

        let (owned_stores, owned, owned_drivers) = kinds::watch_owned(&client, &scope, &readiness);
        drivers.extend(owned_drivers);

        // Cluster-scoped: watched cluster-wide even when namespaces are listed.
        let (cd_reader, cd_writer) = reflector::store::<OpenClawClusterDefaults>();
        let cd_api = Api::all_with(
            client.clone(),
            &ApiResource::erase::<OpenClawClusterDefaults>(&()),
        );
        let cd_events = merge_watches(
            vec![(None, lenient_watch::<OpenClawClusterDefaults>(cd_api))],
            cd_reader.clone(),
            &readiness,
            "OpenClawClusterDefaults",
        )
        .reflect(cd_writer);
        let cluster_defaults_changes = Fanout::default();
        drivers.push(drive(
            cd_events,
            cluster_defaults_changes.clone(),
            "OpenClawClusterDefaults".into(),
        ));

        let (instances, inst_events) =
            lenient_namespaced::<OpenClawInstance>(&client, &scope, &readiness);
        let instance_changes = Fanout::default();
        drivers.push(drive(
            inst_events,
            instance_changes.clone(),
            "OpenClawInstance".into(),
        ));

        let (active_tx, active) = watch::channel(false);
        drivers.push(gate(leader, readiness.clone(), metrics.clone(), active_tx));

        let rt = Runtime {
            recorder: recorder(&client),
            client,
            scope,
            concurrency,
            stores: owned_stores.with(cd_reader, instances),
            instance_changes,
            cluster_defaults_changes,
            owned,
            readiness,
            active: Active(active),
            metrics,
            shutdown,
        };
        (rt, Drivers(drivers))
    }

    /// A lenient watch (see [`Lenient`]) of one more namespaced kind of the operator's own in
    /// the scope: its cache (registered with [`Readiness`], so it gates [`Active`]) and its
    /// reflected events, which the caller polls (e.g. through `Controller::for_stream`). Call
    /// it in a controller's constructor.
    pub fn watch_crd<K>(
        &self,
    ) -> (
        Store<K>,
        impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static + use<K>,
    )
    where
        K: Lenient + Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    {
        lenient_namespaced::<K>(&self.client, &self.scope, &self.readiness)
    }
}

/// A lenient, merged watch of a namespaced kind in the scope: cache and reflected events.
fn lenient_namespaced<K>(
    client: &Client,
    scope: &Scope,
    readiness: &Readiness,
) -> (
    Store<K>,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static + use<K>,
)
where
    K: Lenient + Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let (reader, writer) = reflector::store::<K>();
    let watches = scope
        .dynamic_apis(client, &ApiResource::erase::<K>(&()))
        .into_iter()
        .map(|(ns, api)| (ns, lenient_watch::<K>(api)))
        .collect();
    let kind = K::kind(&()).to_string();
    let events = merge_watches(watches, reader.clone(), readiness, &kind).reflect(writer);
    (reader, events)
}

/// Builds one controller on the shared runtime: subscribes to what it needs (synchronously)
/// and returns the future that runs it until `runtime.shutdown` resolves.
pub type Start = Box<dyn FnOnce(&Runtime) -> BoxFuture<'static, ()> + Send>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(10), Duration::from_secs(300));
        let f = Failures::default();
        assert_eq!(f.failed("a"), (1, Duration::from_secs(5)));
        assert_eq!(f.failed("a"), (2, Duration::from_secs(10)));
        f.succeeded("a");
        assert_eq!(f.failed("a").0, 1);
    }

    fn dynamic(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    fn instance(name: &str, rv: &str, spec: serde_json::Value) -> DynamicObject {
        dynamic(json!({
            "apiVersion": "openclaw.rocks/v1alpha1",
            "kind": "OpenClawInstance",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
            "spec": spec,
        }))
    }

    #[test]
    fn lenient_parser_skips_what_does_not_parse() {
        use watcher::Event::{Apply, InitApply};
        let mut p = LenientParser::<OpenClawInstance>::default();
        // A valid object passes.
        let good = p.event(InitApply(instance("good", "1", json!({}))));
        assert!(matches!(good, Some(InitApply(i)) if i.name_any() == "good"));
        // The same shape the API server may hold but the Rust type refuses (an i32 out of
        // range): left out of a list ...
        let bad =
            json!({"availability": {"podDisruptionBudget": {"maxUnavailable": 3_000_000_000u64}}});
        // an instance stays in the list, marked unreadable with an empty spec (its controller
        // reports it Failed and never lets its finalizer hold a deletion) ...
        match p.event(InitApply(instance("bad", "2", bad.clone()))) {
            Some(InitApply(i)) => {
                assert!(i.annotations().contains_key(UNREADABLE));
                assert_eq!(i.spec, OpenClawInstance::new("x", Default::default()).spec);
            }
            other => panic!("expected a marked instance, got {other:?}"),
        }
        // ... and a modification to it replaces the older copy in the store.
        match p.event(Apply(instance("good", "3", bad))) {
            Some(Apply(i)) => {
                assert_eq!(i.name_any(), "good");
                assert_eq!(i.namespace().as_deref(), Some("ns"));
                assert!(i.annotations().contains_key(UNREADABLE));
            }
            other => panic!("expected a marked instance, got {other:?}"),
        }
        assert!(p.warned.contains_key("ns/good"));
        // Fixed again: parsed, and the warning state forgotten.
        assert!(matches!(
            p.event(Apply(instance("good", "4", json!({})))),
            Some(Apply(_))
        ));
        assert!(!p.warned.contains_key("ns/good"));
    }

    #[tokio::test]
    async fn a_deletion_held_back_during_the_first_list_spares_a_recreated_object() {
        use k8s_openapi::api::core::v1::ConfigMap;
        use watcher::Event::{Delete, Init, InitApply, InitDone};
        let cm = |name: &str, uid: &str| {
            let mut c = ConfigMap::default();
            c.metadata.name = Some(name.into());
            c.metadata.namespace = Some("ns".into());
            c.metadata.uid = Some(uid.into());
            c
        };
        let events: Vec<Result<watcher::Event<ConfigMap>, watcher::Error>> = vec![
            Ok(Init),
            Ok(Delete(cm("a", "old"))),
            Ok(InitApply(cm("a", "new"))),
            Ok(Delete(cm("b", "gone"))),
            Ok(InitDone),
        ];
        let (reader, _writer) = reflector::store::<ConfigMap>();
        let out: Vec<_> = merge_watches(
            vec![(Some("ns".into()), futures::stream::iter(events).boxed())],
            reader,
            &Readiness::default(),
            "ConfigMap",
        )
        .collect()
        .await;
        let deleted: Vec<String> = out
            .iter()
            .filter_map(|e| match e {
                Ok(Delete(c)) => c.metadata.uid.clone(),
                _ => None,
            })
            .collect();
        // "old" was deleted, then "new" created under the same name: the late delete of "old"
        // must not remove "new"; "gone" (never re-listed under another uid) is deleted.
        assert_eq!(deleted, vec!["gone".to_string()]);
    }

    #[test]
    fn fanout_reaches_every_subscriber() {
        let feed = Fanout::<u32>::default();
        let mut a = feed.subscribe();
        let b = feed.subscribe();
        drop(b);
        feed.send(1);
        assert_eq!(a.try_recv().ok(), Some(1));
        assert_eq!(feed.0.lock().unwrap().len(), 1, "closed subscriber dropped");
    }
}
