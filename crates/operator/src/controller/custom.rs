//! Objects of optional third-party kinds (ServiceMonitor, PrometheusRule, Traefik Middleware,
//! Gateway API HTTPRoute): found through API discovery, watched only while their CRD exists.
//!
//! A poll task reads the API group list (`GET /apis`, one request, no RBAC needed: discovery is
//! served to every authenticated user) at start and every [`POLL`]. When a kind appears, a
//! label-selected watch starts (one per watched namespace) and fills a cache; when it
//! disappears the watch stops and the cache is dropped. Every transition re-queues every
//! instance, so a CRD installed later is used within one poll. These caches never gate
//! `/readyz` or the reconciles: an absent, forbidden or still-listing kind becomes a condition
//! of the instances that want it, never an error.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use openclaw_api::OpenClawInstance;
use openclaw_render::CustomKind;

use super::instance_controller::NAME;
use super::{MANAGED_BY, Scope};
use crate::metrics::Metrics;

/// How often discovery is polled.
pub const POLL: Duration = Duration::from_secs(30);

/// Every optional kind.
pub const KINDS: [CustomKind; 4] = [
    CustomKind::ServiceMonitor,
    CustomKind::PrometheusRule,
    CustomKind::TraefikMiddleware,
    CustomKind::HttpRoute,
];

/// Whether a kind can be used now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Discovery has not answered yet (just started).
    Unknown,
    /// Its CRD is not installed.
    Absent,
    /// Installed; the cache is still listing.
    Listing,
    /// Installed and cached.
    Ready,
    /// Installed, but the operator may not list it.
    Forbidden(String),
}

type WakeAll = Arc<dyn Fn() + Send + Sync>;

/// The cache of one kind: `namespace/name` → object (managedFields stripped).
type Cache = Arc<RwLock<BTreeMap<(String, String), Arc<DynamicObject>>>>;

struct KindState {
    availability: Availability,
    cache: Cache,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The optional kinds and their caches.
#[derive(Clone)]
pub struct CustomKinds {
    inner: Arc<Mutex<HashMap<CustomKind, KindState>>>,
}

impl Default for CustomKinds {
    fn default() -> Self {
        let map = KINDS
            .iter()
            .map(|k| {
                (
                    *k,
                    KindState {
                        availability: Availability::Unknown,
                        cache: Cache::default(),
                        task: None,
                    },
                )
            })
            .collect();
        Self {
            inner: Arc::new(Mutex::new(map)),
        }
    }
}

/// The `ApiResource` of a kind.
pub fn api_resource(kind: CustomKind) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group(), kind.version(), kind.kind()),
        kind.plural(),
    )
}

impl CustomKinds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CustomKind, KindState>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `kind` can be used now.
    pub fn availability(&self, kind: CustomKind) -> Availability {
        self.lock()
            .get(&kind)
            .map(|s| s.availability.clone())
            .unwrap_or(Availability::Absent)
    }

    /// The cached object, if any.
    pub fn get(&self, kind: CustomKind, ns: &str, name: &str) -> Option<Arc<DynamicObject>> {
        let cache = self.lock().get(&kind).map(|s| s.cache.clone())?;
        let cache = cache.read().unwrap_or_else(|p| p.into_inner());
        cache.get(&(ns.to_string(), name.to_string())).cloned()
    }

    /// Every cached object of `kind`.
    pub fn objects(&self, kind: CustomKind) -> Vec<Arc<DynamicObject>> {
        let Some(cache) = self.lock().get(&kind).map(|s| s.cache.clone()) else {
            return Vec::new();
        };
        let cache = cache.read().unwrap_or_else(|p| p.into_inner());
        cache.values().cloned().collect()
    }

    /// A write found the kind gone (its CRD was deleted between polls): treat it as absent
    /// until the next poll finds it again.
    pub fn mark_absent(&self, kind: CustomKind) {
        let mut map = self.lock();
        if let Some(state) = map.get_mut(&kind) {
            stop(state);
        }
    }

    fn set(&self, kind: CustomKind, availability: Availability) -> bool {
        let mut map = self.lock();
        match map.get_mut(&kind) {
            Some(state) if state.availability != availability => {
                state.availability = availability;
                true
            }
            _ => false,
        }
    }
}

fn stop(state: &mut KindState) {
    if let Some(task) = state.task.take() {
        task.abort();
    }
    state.availability = Availability::Absent;
    state
        .cache
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
}

/// Which of the kinds the API server serves (by group/version, then by plural).
async fn discover(client: &Client) -> Result<HashSet<CustomKind>, kube::Error> {
    let groups = client.list_api_groups().await?;
    let mut found = HashSet::new();
    for kind in KINDS {
        let gv = kind.api_version();
        let served = groups
            .groups
            .iter()
            .filter(|g| g.name == kind.group())
            .flat_map(|g| g.versions.iter())
            .any(|v| v.group_version == gv);
        if served {
            found.insert(kind);
        }
    }
    Ok(found)
}

/// Confirm the plural is served (the group may exist without our resource).
async fn has_resource(client: &Client, kind: CustomKind) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(&kind.api_version()).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == kind.plural())),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Poll discovery forever; start and stop the watches; wake instances on transitions and on
/// changes of objects they own.
pub async fn run(
    client: Client,
    scope: Scope,
    kinds: CustomKinds,
    instances: Store<OpenClawInstance>,
    trigger: mpsc::UnboundedSender<ObjectRef<OpenClawInstance>>,
    metrics: Arc<Metrics>,
) {
    // Stop every watch when this task ends (aborted with the controller).
    let _guard = StopAll(kinds.clone());
    let wake_all: WakeAll = {
        let trigger = trigger.clone();
        let metrics = metrics.clone();
        Arc::new(move || {
            for i in instances.state() {
                metrics.queue_add(NAME, &i.namespace().unwrap_or_default(), &i.name_any());
                let _ = trigger.unbounded_send(ObjectRef::from_obj(&*i));
            }
        })
    };
    loop {
        match discover(&client).await {
            Ok(found) => {
                let mut changed = false;
                for kind in KINDS {
                    let present = found.contains(&kind);
                    let was = kinds.availability(kind);
                    if was == Availability::Unknown && !present {
                        kinds.set(kind, Availability::Absent);
                        changed = true;
                        continue;
                    }
                    let running = !matches!(was, Availability::Absent | Availability::Unknown);
                    if present && !running {
                        match has_resource(&client, kind).await {
                            Ok(true) => {
                                tracing::info!(kind = kind.kind(), "CRD found: watching");
                                start(&client, &scope, &kinds, kind, &trigger, &metrics, &wake_all);
                                changed = true;
                            }
                            Ok(false) => {
                                changed |= kinds.set(kind, Availability::Absent);
                            }
                            Err(e) => tracing::debug!(kind = kind.kind(), "discovery: {e}"),
                        }
                    } else if !present && running {
                        tracing::info!(kind = kind.kind(), "CRD gone: watch stopped");
                        kinds.mark_absent(kind);
                        changed = true;
                    }
                }
                if changed {
                    wake_all();
                }
            }
            Err(e) => tracing::debug!("discovery failed (kept the last state): {e}"),
        }
        // Listing → Ready/Forbidden transitions also wake every instance (checked here and in
        // the watch tasks themselves).
        tokio::time::sleep(POLL).await;
    }
}

fn start(
    client: &Client,
    scope: &Scope,
    kinds: &CustomKinds,
    kind: CustomKind,
    trigger: &mpsc::UnboundedSender<ObjectRef<OpenClawInstance>>,
    metrics: &Arc<Metrics>,
    wake_all: &WakeAll,
) {
    let resource = api_resource(kind);
    let apis: Vec<(Option<String>, Api<DynamicObject>)> = if scope.namespaces.is_empty() {
        vec![(None, Api::all_with(client.clone(), &resource))]
    } else {
        scope
            .namespaces
            .iter()
            .map(|ns| {
                (
                    Some(ns.clone()),
                    Api::namespaced_with(client.clone(), ns, &resource),
                )
            })
            .collect()
    };
    let cache = {
        let mut map = kinds.lock();
        let Some(state) = map.get_mut(&kind) else {
            return;
        };
        stop(state);
        state.availability = Availability::Listing;
        // A fresh cache: an aborted task of an earlier start may still hold the old one.
        state.cache = Cache::default();
        state.cache.clone()
    };
    let total = apis.len();
    let listed: Arc<Mutex<HashSet<usize>>> = Arc::default();
    let streams = apis.into_iter().enumerate().map(|(i, (ns, api))| {
        watcher(api, watcher::Config::default().labels(MANAGED_BY))
            .default_backoff()
            .map(move |e| (i, ns.clone(), e))
    });
    let mut merged = futures::stream::select_all(streams.map(StreamExt::boxed));
    let kinds2 = kinds.clone();
    let trigger = trigger.clone();
    let metrics = metrics.clone();
    let wake_all = wake_all.clone();
    let task = tokio::spawn(async move {
        // Objects seen by the current list of each watch (to drop the ones a re-list lost).
        let mut listing: HashMap<usize, HashSet<(String, String)>> = HashMap::new();
        while let Some((i, ns, event)) = merged.next().await {
            let mut touched: Vec<DynamicObject> = Vec::new();
            let mut wake = false;
            {
                let mut c = cache.write().unwrap_or_else(|p| p.into_inner());
                match event {
                    Ok(watcher::Event::Init) => {
                        listing.insert(i, HashSet::new());
                    }
                    Ok(watcher::Event::InitApply(mut o)) | Ok(watcher::Event::Apply(mut o)) => {
                        super::adopt::trim_managed_fields(&mut o.metadata);
                        let key = (o.namespace().unwrap_or_default(), o.name_any());
                        if let Some(seen) = listing.get_mut(&i) {
                            seen.insert(key.clone());
                        }
                        c.insert(key, Arc::new(o.clone()));
                        touched.push(o);
                    }
                    Ok(watcher::Event::Delete(o)) => {
                        c.remove(&(o.namespace().unwrap_or_default(), o.name_any()));
                        touched.push(o);
                    }
                    Ok(watcher::Event::InitDone) => {
                        let seen = listing.remove(&i).unwrap_or_default();
                        let gone: Vec<_> = c
                            .keys()
                            .filter(|(n, _)| ns.as_ref().is_none_or(|w| w == n))
                            .filter(|k| !seen.contains(*k))
                            .cloned()
                            .collect();
                        for k in gone {
                            if let Some(o) = c.remove(&k) {
                                touched.push((*o).clone());
                            }
                        }
                        let all = {
                            let mut l = listed.lock().unwrap_or_else(|p| p.into_inner());
                            l.insert(i);
                            l.len() == total
                        };
                        if all && kinds2.set(kind, Availability::Ready) {
                            // Every instance: those waiting on this cache, and those whose
                            // condition said Forbidden.
                            tracing::debug!(kind = kind.kind(), "cache synced");
                            wake = true;
                        }
                    }
                    Err(e) => {
                        if let Some(msg) = forbidden(&e) {
                            if kinds2.set(kind, Availability::Forbidden(msg)) {
                                tracing::warn!(kind = kind.kind(), "cannot list: {e}");
                                wake = true;
                            }
                        } else {
                            tracing::debug!(kind = kind.kind(), "watch error: {e}");
                        }
                    }
                }
            }
            if wake {
                wake_all();
            }
            for o in touched {
                if let Some(owner) = o
                    .owner_references()
                    .iter()
                    .find(|r| r.controller == Some(true) && r.kind == "OpenClawInstance")
                {
                    let ns = o.namespace().unwrap_or_default();
                    metrics.queue_add(NAME, &ns, &owner.name);
                    let _ = trigger.unbounded_send(ObjectRef::new(&owner.name).within(&ns));
                }
            }
        }
    });
    if let Some(state) = kinds.lock().get_mut(&kind) {
        state.task = Some(task);
    }
}

/// Stops every kind's watch when dropped.
struct StopAll(CustomKinds);

impl Drop for StopAll {
    fn drop(&mut self) {
        for state in self.0.lock().values_mut() {
            stop(state);
        }
    }
}

/// The message of a 403 from a watch, if that is what failed.
fn forbidden(e: &watcher::Error) -> Option<String> {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            if s.code == 403 =>
        {
            Some(s.message.clone())
        }
        _ => None,
    }
}
