//! The OpenClawInstance controller on the shared runtime: what triggers a reconcile of an
//! instance, the metrics and span around each reconcile, and the error policy. One reconcile
//! itself is [`super::instance::reconcile`].
//!
//! Triggers: the instance itself; every managed object it controls (deletions too); the
//! Secrets and ConfigMaps it references (metadata-only watches, any object, not only ours);
//! the cluster defaults (every instance); objects of optional third-party kinds
//! ([`super::custom`]); and turning active (every instance, from the caches a standby kept
//! warm).

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use openclaw_api::OpenClawInstance;
use openclaw_api::clusterdefaults::CLUSTER_DEFAULTS_NAME;
use tracing::Instrument;

use kube::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};

use super::backup::BackupOptions;
use super::runtime::{AbortOnDrop, Change, Failures, Runtime, merge_watches, metadata_watch};
use super::{Context, Error, custom, finalizer, instance, observe};
use crate::metrics::{self, Metrics, Outcome};

/// How long the controller waits for more events of an instance before reconciling it.
pub const DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(500);

/// The controller's name in metrics (`controller` and workqueue `name` labels): the Go
/// operator's, which its dashboards select on.
pub const NAME: &str = metrics::CONTROLLER;

/// Every instance in the cache, each counted as a queue add.
fn every(store: &Store<OpenClawInstance>, metrics: &Metrics) -> Vec<ObjectRef<OpenClawInstance>> {
    store
        .state()
        .iter()
        .map(|i| {
            metrics.queue_add(NAME, &i.namespace().unwrap_or_default(), &i.name_any());
            ObjectRef::from_obj(&**i)
        })
        .collect()
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
            metrics.queue_add(NAME, &i.namespace().unwrap_or_default(), &i.name_any());
            ObjectRef::from_obj(&*i)
        })
        .collect()
}

fn error_policy(instance: Arc<OpenClawInstance>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = format!(
        "{}/{}",
        instance.namespace().unwrap_or_default(),
        instance.name_any()
    );
    let (n, delay) = ctx.failures.failed(&key);
    tracing::warn!(instance = %key, failures = n, "reconcile failed: {error}");
    Action::requeue(delay)
}

/// One reconcile with its span and metrics; nothing at all while this replica is not active.
async fn reconcile(instance: Arc<OpenClawInstance>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = instance.namespace().unwrap_or_default();
    let name = instance.name_any();
    ctx.metrics.reconcile_started(NAME, &ns, &name);
    if !ctx.active.is_active() {
        // A standby (or a replica whose caches are still listing): everything is reconciled
        // again once it becomes active.
        ctx.metrics.reconcile_skipped(NAME, &ns, &name);
        return Ok(Action::await_change());
    }
    let instance_uid = instance.uid();
    let span = tracing::info_span!("reconcile", namespace = %ns, instance = %name);
    let result = instance::reconcile(instance, ctx.clone())
        .instrument(span)
        .await;
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Error
    };
    let requeue = matches!(&result, Ok(a) if *a != Action::await_change());
    let elapsed = ctx
        .metrics
        .reconcile_finished(NAME, &ns, &name, outcome, requeue);
    // A pass that released the finalizer races the watch's delete event, which drops the
    // instance's series: recording here could bring them back for good.
    if instance_uid.is_some_and(|uid| ctx.released.contains(&uid)) {
        ctx.metrics.forget_instance(&ns, &name);
    } else {
        ctx.metrics
            .instance_reconciled(&ns, &name, outcome, elapsed);
    }
    result
}

/// Build the instance controller on `rt` (see [`super::runtime::Start`]), with the steps that
/// run when an instance is deleted.
pub fn start(
    rt: &Runtime,
    cleanup_steps: Vec<Arc<dyn finalizer::CleanupStep>>,
    backup: BackupOptions,
    skill_packs: Result<crate::skillpacks::Resolver, String>,
    registry: Result<crate::registry::Resolver, String>,
) -> BoxFuture<'static, ()> {
    let metrics = rt.metrics.clone();
    metrics.register_controller(NAME, rt.concurrency);
    let store = rt.stores.instances.clone();

    // Instances: deletions drop their metric series.
    let instances = {
        let metrics = metrics.clone();
        let store = store.clone();
        rt.instance_changes.subscribe().filter_map(move |change| {
            let o = change.object();
            let (ns, name) = (o.namespace().unwrap_or_default(), o.name_any());
            let applied = match change {
                Change::Applied(o) => {
                    metrics.queue_add(NAME, &ns, &name);
                    Some(Ok(o))
                }
                Change::Deleted(_) => {
                    metrics.forget_instance(&ns, &name);
                    metrics.queue_forget(NAME, &ns, &name);
                    None
                }
            };
            metrics.set_managed_instances(store.len());
            futures::future::ready(applied)
        })
    };
    let controller = Controller::for_stream(instances, store.clone()).with_config(
        kube::runtime::controller::Config::default()
            .concurrency(rt.concurrency)
            // The burst of owned-object events while an instance comes up (its objects
            // created, the pod scheduled, started, Ready) collapses into fewer passes.
            .debounce(DEBOUNCE),
    );
    let controller = {
        let metrics = metrics.clone();
        rt.owned.owned_by(controller, move |meta| {
            if let Some(owner) = meta
                .owner_references
                .iter()
                .flatten()
                .find(|r| r.controller == Some(true) && r.kind == "OpenClawInstance")
            {
                let ns = meta.namespace.clone().unwrap_or_default();
                metrics.queue_add(NAME, &ns, &owner.name);
            }
        })
    };

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
        move |cd: openclaw_api::clusterdefaults::OpenClawClusterDefaults| {
            if cd.name_any() != CLUSTER_DEFAULTS_NAME {
                return Vec::new();
            }
            every(&store, &metrics)
        }
    };
    let cluster_defaults = rt
        .cluster_defaults_changes
        .subscribe()
        .map(|c| Ok(c.into_object()));
    // Metadata-only watches: no Secret data is cached.
    let secret_meta = metadata_watch::<Secret>(&rt.client, &rt.scope);
    let cm_meta = metadata_watch::<ConfigMap>(&rt.client, &rt.scope);
    let reconcile_all = {
        let store = store.clone();
        let metrics = metrics.clone();
        rt.active.became_active().map(move |()| {
            for i in store.state() {
                metrics.queue_add(NAME, &i.namespace().unwrap_or_default(), &i.name_any());
            }
        })
    };

    // Optional third-party kinds: discovered, watched while present, never gating readiness.
    let custom_kinds = custom::CustomKinds::default();
    let (custom_tx, custom_rx) = futures::channel::mpsc::unbounded();
    let discovery = custom::run(
        rt.client.clone(),
        rt.scope.clone(),
        custom_kinds.clone(),
        store.clone(),
        custom_tx,
        metrics.clone(),
    );

    // The backup credentials Secret (one object, in the operator's namespace): a change
    // reconciles every instance (the periodic CronJobs, waiting workflows).
    let (backup_credentials, credential_changes) = match &backup.credentials_namespace {
        Some(ns) => {
            let (reader, writer) = reflector::store::<Secret>();
            let api: Api<Secret> = Api::namespaced(rt.client.clone(), ns);
            let config = watcher::Config::default().fields(&format!(
                "metadata.name={}",
                openclaw_render::features::backup::CREDENTIALS_SECRET
            ));
            let stream = watcher(api, config).default_backoff().boxed();
            let events = merge_watches(
                vec![(Some(ns.clone()), stream)],
                reader.clone(),
                &rt.readiness,
                "Secret(s3-backup-credentials)",
            )
            .reflect(writer)
            .touched_objects()
            .boxed();
            (Some(reader), events)
        }
        None => (None, futures::stream::empty().boxed()),
    };
    // Backup Jobs: counted in the metrics; a periodic one (owned by its CronJob) also
    // triggers its instance, whose status records the newest periodic backup.
    let backup_jobs = {
        let metrics = metrics.clone();
        rt.owned.jobs.subscribe().map(move |change| {
            let deleted = matches!(change, Change::Deleted(_));
            let job = change.into_object();
            super::backup::count_job(&metrics, &job, deleted);
            Ok::<_, kube::runtime::watcher::Error>(job)
        })
    };
    let by_periodic_job = {
        let metrics = metrics.clone();
        move |job: k8s_openapi::api::batch::v1::Job| {
            let owner = super::backup::periodic_owner(&job)?;
            metrics.queue_add(
                NAME,
                owner.namespace.as_deref().unwrap_or_default(),
                &owner.name,
            );
            Some(owner)
        }
    };
    let every_instance = {
        let store = store.clone();
        let metrics = metrics.clone();
        move |_: Secret| every(&store, &metrics)
    };

    let ctx = Arc::new(Context {
        client: rt.client.clone(),
        stores: rt.stores.clone(),
        custom: custom_kinds,
        recorder: rt.recorder.clone(),
        metrics: metrics.clone(),
        cleanup_steps,
        backup,
        backup_credentials,
        skill_packs,
        registry,
        released: Default::default(),
        active: rt.active.clone(),
        failures: Failures::default(),
    });
    let controller = controller
        .reconcile_on(custom_rx)
        .watches_stream(secret_meta, by_secret)
        .watches_stream(cm_meta, by_config_map)
        .watches_stream(cluster_defaults, all_instances)
        .watches_stream(credential_changes, every_instance)
        .watches_stream(backup_jobs, by_periodic_job)
        .reconcile_all_on(reconcile_all)
        .graceful_shutdown_on(rt.shutdown.clone());

    let scope = rt.scope.describe();
    let concurrency = rt.concurrency;
    async move {
        let _discovery = AbortOnDrop(tokio::spawn(discovery));
        tracing::info!(%scope, concurrency, "starting the OpenClawInstance controller");
        controller
            .run(reconcile, error_policy, ctx)
            .for_each(|result| async move {
                match result {
                    Ok((obj, _)) => tracing::debug!(instance = %obj, "reconciled"),
                    Err(e) => tracing::debug!("reconcile error: {e}"),
                }
            })
            .await;
        tracing::info!("OpenClawInstance controller stopped");
    }
    .boxed()
}
