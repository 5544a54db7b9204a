//! Step **lifecycle** (deletion): the `openclaw.rocks/finalizer` and the deletion driver.
//!
//! Every instance carries the finalizer (the Go operator's name, so the instances it created
//! are released by us too). When an instance is deleted, the [`CleanupStep`]s run (the backup
//! workflow plugs in here) until all are done, and then the finalizer is released. It never
//! blocks a deletion for ever:
//!
//! - `openclaw.rocks/skip-backup: "true"` releases at once, without running the steps;
//! - the time limit (`spec.backup.timeout`, 30m by default, 5m..24h) counts from
//!   `status.backingUpSince`, so it survives operator restarts; once elapsed the finalizer is
//!   released with a `BackupTimedOut` Warning;
//! - with no step pending, the deletion completes in the same pass.
//!
//! The decisions are the pure functions of [`super::lifecycle`]; this module does the I/O:
//! status writes through `report`, the data PVC's owner reference (kept, unless
//! `persistence.orphan: false`), and the finalizer patch.

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use openclaw_api::OpenClawInstance;
use serde_json::json;

use super::lifecycle::{
    AfterCleanup, BeforeCleanup, FINALIZER, SKIP_BACKUP, StepState, after_cleanup, before_cleanup,
    cleanup_timeout,
};
use super::report::{Deletion, Facts};
use super::{Context, Error};

/// One piece of cleanup that must finish before a deleted instance goes (e.g. the backup).
/// It runs on every deletion pass until it returns [`StepState::Done`]; it must be idempotent
/// and keep its progress in the cluster or the status, never in memory.
pub trait CleanupStep: Send + Sync {
    /// A short name, for logs and messages.
    fn name(&self) -> &'static str;
    /// Do (or check) the work for this instance.
    fn run<'a>(
        &'a self,
        instance: &'a OpenClawInstance,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<StepState, Error>>;
}

/// Whether the instance carries our finalizer.
pub fn has_finalizer(instance: &OpenClawInstance) -> bool {
    instance.finalizers().iter().any(|f| f == FINALIZER)
}

/// Add the finalizer when it is missing (one patch, guarded by the resourceVersion).
pub async fn ensure(instance: &OpenClawInstance, ctx: &Context) -> Result<(), Error> {
    if has_finalizer(instance) {
        return Ok(());
    }
    let mut finalizers = instance.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_finalizers(instance, ctx, finalizers).await
}

async fn patch_finalizers(
    instance: &OpenClawInstance,
    ctx: &Context,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let api: Api<OpenClawInstance> = Api::namespaced(
        ctx.client.clone(),
        &instance.namespace().unwrap_or_default(),
    );
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": instance.resource_version(),
    }});
    match api
        .patch(
            &instance.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Already gone: nothing to finalize.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::Read(e)),
    }
}

/// One deletion pass: run the cleanup steps (or skip them, or cut them off), report, and
/// release the finalizer when done.
pub async fn finalize(
    instance: &OpenClawInstance,
    ctx: &Context,
    now: &Time,
) -> Result<Action, Error> {
    if !has_finalizer(instance) {
        // Someone else's finalizers hold it; nothing of ours to do.
        return Ok(Action::await_change());
    }
    let name = instance.name_any();
    let ns = instance.namespace().unwrap_or_default();
    let old = instance.status.clone().unwrap_or_default();
    let skip = instance
        .annotations()
        .get(SKIP_BACKUP)
        .is_some_and(|v| v == "true");
    let since = old.backing_up_since.as_ref().map(|t| t.0);
    let timeout = cleanup_timeout(&instance.spec);
    let deletion = match before_cleanup(skip, since, timeout, now.0) {
        BeforeCleanup::Release(r) => Deletion::Released(r),
        BeforeCleanup::Run => {
            let since = old.backing_up_since.clone().unwrap_or_else(|| now.clone());
            let mut states = Vec::with_capacity(ctx.cleanup_steps.len());
            for step in &ctx.cleanup_steps {
                let state = match step.run(instance, ctx).await {
                    Ok(s) => s,
                    // A failing step is retried until the time limit.
                    Err(e) => StepState::Pending(format!("{}: {e}", step.name())),
                };
                states.push(state);
            }
            match after_cleanup(&states, since.0, timeout, now.0) {
                AfterCleanup::Release(r) => Deletion::Released(r),
                AfterCleanup::Wait(delay, message) => {
                    let facts = Facts {
                        generation: instance.meta().generation,
                        name: name.clone(),
                        namespace: ns.clone(),
                        deletion: Some(Deletion::Waiting { since, message }),
                        ..Facts::default()
                    };
                    let report = super::report::report(&old, &facts, now);
                    super::instance::publish(instance, ctx, &report, None).await?;
                    return Ok(Action::requeue(delay));
                }
            }
        }
    };
    let facts = Facts {
        generation: instance.meta().generation,
        name: name.clone(),
        namespace: ns.clone(),
        deletion: Some(deletion),
        ..Facts::default()
    };
    let report = super::report::report(&old, &facts, now);
    super::instance::publish(instance, ctx, &report, None).await?;
    keep_data_volume(instance, ctx).await;
    let rest: Vec<String> = instance
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(instance, ctx, rest).await?;
    ctx.metrics.forget_instance(&ns, &name);
    tracing::info!(instance = %format!("{ns}/{name}"), "finalizer released");
    Ok(Action::await_change())
}

/// The data PVC outlives the instance unless `persistence.orphan: false`: drop an owner
/// reference to the instance (the Go operator sets one) so garbage collection keeps it.
/// Failures are only logged: the PVC then follows the owner reference, as the user's
/// Go-era object said.
async fn keep_data_volume(instance: &OpenClawInstance, ctx: &Context) {
    let persistence = instance
        .spec
        .storage
        .as_ref()
        .and_then(|s| s.persistence.as_ref());
    if persistence.is_some_and(|p| {
        p.enabled == Some(false)
            || p.orphan == Some(false)
            || p.existing_claim.as_deref().is_some_and(|c| !c.is_empty())
    }) {
        return;
    }
    let Some(uid) = instance.uid() else {
        return;
    };
    let ns = instance.namespace().unwrap_or_default();
    let name = format!("{}-data", instance.name_any());
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let pvc = match api.get_opt(&name).await {
        Ok(Some(pvc)) => pvc,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(pvc = %name, "cannot read the data PVC to keep it: {e}");
            return;
        }
    };
    let refs = pvc.owner_references();
    if !refs.iter().any(|r| r.uid == uid) {
        return;
    }
    let keep: Vec<_> = refs.iter().filter(|r| r.uid != uid).cloned().collect();
    let patch = json!({"metadata": {
        "ownerReferences": keep,
        "resourceVersion": pvc.resource_version(),
    }});
    if let Err(e) = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(pvc = %name, "cannot drop the instance's owner reference: {e}");
    }
}

/// A cleanup step that is never done: for tests of the time limit.
pub struct NeverDone;

impl CleanupStep for NeverDone {
    fn name(&self) -> &'static str {
        "never-done"
    }
    fn run<'a>(
        &'a self,
        _instance: &'a OpenClawInstance,
        _ctx: &'a Context,
    ) -> BoxFuture<'a, Result<StepState, Error>> {
        Box::pin(async { Ok(StepState::Pending("waiting for ever (test step)".into())) })
    }
}
