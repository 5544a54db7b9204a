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

use super::apply::ApplyError;
use super::lifecycle::{
    AfterCleanup, BeforeCleanup, FINALIZER, SKIP_BACKUP, StepState, after_cleanup, before_cleanup,
    cleanup_timeout,
};
use super::report::{Deletion, Facts};
use super::{Context, Error};

/// How long one cleanup step may take in one pass before it counts as pending.
pub const STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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

/// The uids of instances whose finalizer was released, with when (kept 10 minutes).
#[derive(Debug, Default)]
pub struct Released(std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>);

impl Released {
    const KEEP: std::time::Duration = std::time::Duration::from_secs(600);

    fn insert(&self, uid: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, at| at.elapsed() < Self::KEEP);
        m.insert(uid.to_string(), std::time::Instant::now());
    }

    pub(crate) fn contains(&self, uid: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(uid)
    }
}

/// The instance's finalizers other than ours.
fn others(instance: &OpenClawInstance) -> Vec<String> {
    instance
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect()
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

/// Replace the finalizer list. Adding is guarded by the resourceVersion (nothing was written
/// in this pass yet); removing, which follows this pass's status write (a new resourceVersion),
/// by a JSON-patch `test` of the list as it was read, so a finalizer someone else added or
/// removed meanwhile is never overwritten (the `test` fails, the pass is retried).
async fn patch_finalizers(
    instance: &OpenClawInstance,
    ctx: &Context,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let api: Api<OpenClawInstance> = Api::namespaced(
        ctx.client.clone(),
        &instance.namespace().unwrap_or_default(),
    );
    let adding = finalizers.len() > instance.finalizers().len();
    let result = if adding || instance.finalizers().is_empty() {
        let patch = json!({"metadata": {
            "finalizers": finalizers,
            "resourceVersion": instance.resource_version(),
        }});
        api.patch(
            &instance.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    } else {
        let ops = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": instance.finalizers()},
            {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]);
        match serde_json::from_value::<json_patch::Patch>(ops) {
            Ok(p) => {
                api.patch(
                    &instance.name_any(),
                    &PatchParams::default(),
                    &Patch::<()>::Json(p),
                )
                .await
            }
            Err(e) => return Err(Error::Json(e)),
        }
    };
    match result {
        Ok(_) => Ok(()),
        // Already gone: nothing to finalize.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(source) => Err(Error::Apply(ApplyError::Kube {
            verb: "update the finalizers of",
            kind: "OpenClawInstance".into(),
            name: instance.name_any(),
            source,
        })),
    }
}

/// Remove our finalizer now, with no cleanup (an instance that cannot be read).
pub async fn release(instance: &OpenClawInstance, ctx: &Context) -> Result<(), Error> {
    if !has_finalizer(instance) {
        return Ok(());
    }
    let rest = others(instance);
    patch_finalizers(instance, ctx, rest).await?;
    tracing::warn!(
        instance = %format!("{}/{}", instance.namespace().unwrap_or_default(), instance.name_any()),
        "finalizer released without cleanup: the object cannot be read"
    );
    Ok(())
}

/// One deletion pass: run the cleanup steps (or skip them, or cut them off), report, and
/// release the finalizer when done.
pub async fn finalize(
    instance: &OpenClawInstance,
    ctx: &Context,
    now: &Time,
) -> Result<Action, Error> {
    let uid = instance.uid().unwrap_or_default();
    if !has_finalizer(instance) || ctx.released.contains(&uid) {
        // Someone else's finalizers hold it, or ours is already gone (a stale cached copy):
        // nothing of ours to do.
        return Ok(Action::await_change());
    }
    let name = instance.name_any();
    let ns = instance.namespace().unwrap_or_default();
    let old = instance.status.clone().unwrap_or_default();
    let skip = instance
        .annotations()
        .get(SKIP_BACKUP)
        .is_some_and(|v| v == "true");
    // A start in the future (a clock ahead, a hand edit) counts from now: the limit always
    // holds.
    let since = old.backing_up_since.clone().filter(|t| t.0 <= now.0);
    let timeout = cleanup_timeout(&instance.spec);
    // First, before any cleanup runs: the data volume must not follow the instance.
    let kept = keep_data_volume(instance, ctx).await;
    let deletion = match before_cleanup(skip, since.as_ref().map(|t| t.0), timeout, now.0) {
        BeforeCleanup::Release(r) => Deletion::Released {
            since: since.clone(),
            release: r,
        },
        BeforeCleanup::Run => {
            let since = since.unwrap_or_else(|| now.clone());
            let mut states = Vec::with_capacity(ctx.cleanup_steps.len() + 1);
            if let Err(message) = kept {
                states.push(StepState::Pending(message));
            }
            for step in &ctx.cleanup_steps {
                // A step that hangs must not hold the pass: the limit is checked every pass.
                let state = match tokio::time::timeout(STEP_TIMEOUT, step.run(instance, ctx)).await
                {
                    Ok(Ok(s)) => s,
                    // A failing step is retried until the time limit.
                    Ok(Err(e)) => StepState::Pending(format!("{}: {e}", step.name())),
                    Err(_) => StepState::Pending(format!(
                        "{}: no answer within {}s",
                        step.name(),
                        STEP_TIMEOUT.as_secs()
                    )),
                };
                states.push(state);
            }
            match after_cleanup(&states, since.0, timeout, now.0) {
                AfterCleanup::Release(r) => Deletion::Released {
                    since: Some(since),
                    release: r,
                },
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
    let rest = others(instance);
    patch_finalizers(instance, ctx, rest).await?;
    ctx.released.insert(&uid);
    ctx.metrics.forget_instance(&ns, &name);
    ctx.failures.succeeded(&format!("{ns}/{name}"));
    tracing::info!(instance = %format!("{ns}/{name}"), "finalizer released");
    Ok(Action::await_change())
}

/// The data PVC outlives the instance unless `persistence.orphan: false`: drop an owner
/// reference to the instance (the Go operator sets one) so garbage collection keeps it. Runs
/// first on every deletion pass (one read); an error is a pending cleanup (retried, bounded by
/// the time limit), so the finalizer is not released while the volume would follow.
async fn keep_data_volume(instance: &OpenClawInstance, ctx: &Context) -> Result<(), String> {
    let orphan = instance
        .spec
        .storage
        .as_ref()
        .and_then(|s| s.persistence.as_ref())
        .and_then(|p| p.orphan)
        != Some(false);
    let Some(uid) = instance.uid().filter(|_| orphan) else {
        return Ok(());
    };
    let ns = instance.namespace().unwrap_or_default();
    let name = format!("{}-data", instance.name_any());
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let pvc = match api.get_opt(&name).await {
        Ok(Some(pvc)) => pvc,
        Ok(None) => return Ok(()),
        Err(e) => return Err(format!("reading the data PVC {name} to keep it: {e}")),
    };
    let refs = pvc.owner_references();
    if !refs.iter().any(|r| r.uid == uid) {
        return Ok(());
    }
    let keep: Vec<_> = refs.iter().filter(|r| r.uid != uid).cloned().collect();
    let patch = json!({"metadata": {
        "ownerReferences": keep,
        "resourceVersion": pvc.resource_version(),
    }});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| tracing::info!(pvc = %name, "kept the data PVC: dropped the instance's owner reference"))
        .map_err(|e| format!("dropping the instance's owner reference from {name}: {e}"))
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
