//! The OpenClawSelfConfig controller, on the shared runtime: an agent (or a person, or a
//! GitOps tool) asks for a change of an instance; the change is checked and applied with
//! server-side apply as the field manager `openclaw-selfconfig`. See
//! `docs/features/selfconfig.md`.
//!
//! One reconcile of a request that is not final:
//!
//! 1. **observe**: the request and its instance, read fresh (a batch of another reconcile may
//!    just have finished it), under a per-instance lock (reconciles of one instance's
//!    requests never overlap);
//! 2. **limits**: a request beyond `maxPendingRequests` waiting requests is denied; while the
//!    last apply is younger than `minApplyInterval` the request waits (`Pending` with a
//!    message) and is requeued for the end of the interval;
//! 3. **identity**: the requester recorded by the mutating webhook must be the instance's own
//!    ServiceAccount, or someone allowed to patch the instance (a SubjectAccessReview);
//! 4. **plan** ([`super::selfconfig_plan`], pure): every waiting request of the instance, in
//!    creation order, is checked and merged into one apply;
//! 5. **apply**: a dry run first (CEL, the webhook: the rules a human's edit meets); when it
//!    fails for a batch, each request is tried alone so that only the bad one is denied; then
//!    the apply, so the instance changes (and its pod rolls) once per batch;
//! 6. **report**: each request's final phase, message and completion time, an owner
//!    reference to the instance, events on both objects.
//!
//! A final request is deleted `ttl` after its completion (1 h by default). The steps are safe
//! to repeat: killed after the apply and before the statuses, the next pass finds the changes
//! in place (an empty plan, no second apply) and reports the same outcomes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::events::{EventType, Recorder};
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use openclaw_api::OpenClawInstance;
use openclaw_api::selfconfig::{
    OpenClawSelfConfig, REQUESTED_BY_ANNOTATION, REQUESTED_BY_GROUPS_ANNOTATION,
};
use serde_json::{Value, json};
use tracing::Instrument;

use super::report;
use super::runtime::{Active, Failures, Runtime};
use super::selfconfig_plan::{self as plan, FIELD_MANAGER, Limits, Outcome, Request};
use crate::metrics::{Metrics, Outcome as MetricOutcome};

/// The controller's name in metrics.
pub const NAME: &str = "openclawselfconfig";
/// Default of `--selfconfig-ttl`: how long a final request is kept (the Go operator's).
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Settings of the self-configuration controller.
#[derive(Debug, Clone)]
pub struct SelfConfigOptions {
    /// How long a final request is kept before it is deleted.
    pub ttl: Duration,
}

impl Default for SelfConfigOptions {
    fn default() -> Self {
        Self { ttl: DEFAULT_TTL }
    }
}

/// What can go wrong in a reconcile (each is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SelfConfigError {
    /// A call to the API server failed.
    #[error("{what}: {source}")]
    Kube {
        /// Which call.
        what: String,
        /// Why.
        source: kube::Error,
    },
}

fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> SelfConfigError {
    let what = what.into();
    move |source| SelfConfigError::Kube { what, source }
}

struct Ctx {
    client: Client,
    requests: Store<OpenClawSelfConfig>,
    instances: Store<OpenClawInstance>,
    active: Active,
    recorder: Recorder,
    metrics: Arc<Metrics>,
    failures: Failures,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    options: SelfConfigOptions,
}

impl Ctx {
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget the locks nobody holds (one per instance with requests in flight).
        locks.retain(|k, l| k == key || Arc::strong_count(l) > 1);
        locks.entry(key.to_string()).or_default().clone()
    }

    /// `SelfConfigDenied` on the instance, for a denial the plan did not already report.
    async fn denied_on_instance(&self, instance: &OpenClawInstance, request: &str, why: &str) {
        let note = format!("self-config request {request} denied: {why}");
        self.event(instance, true, "SelfConfigDenied", &note).await;
    }

    async fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        warning: bool,
        reason: &str,
        note: &str,
    ) {
        let type_ = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let event = report::event(type_, reason, note);
        if let Err(e) = self.recorder.publish(&event, &object.object_ref(&())).await {
            tracing::warn!(reason, "cannot record event: {e}");
        }
    }
}

/// Build the self-configuration controller on `rt`.
pub fn start(rt: &Runtime, options: SelfConfigOptions) -> BoxFuture<'static, ()> {
    rt.metrics.register_controller(NAME, rt.concurrency);
    let (store, events) = rt.watch_crd::<OpenClawSelfConfig>();
    let metrics = rt.metrics.clone();
    let events = events.applied_objects().map(move |r| {
        if let Ok(o) = &r {
            metrics.queue_add(NAME, &o.namespace().unwrap_or_default(), &o.name_any());
        }
        r
    });
    let controller = Controller::for_stream(events, store.clone())
        .with_config(Config::default().concurrency(rt.concurrency))
        .reconcile_all_on(rt.active.became_active())
        .graceful_shutdown_on(rt.shutdown.clone());
    let ctx = Arc::new(Ctx {
        client: rt.client.clone(),
        requests: store,
        instances: rt.stores.instances.clone(),
        active: rt.active.clone(),
        recorder: rt.recorder.clone(),
        metrics: rt.metrics.clone(),
        failures: Failures::default(),
        locks: Mutex::default(),
        options,
    });
    async move {
        controller
            .run(reconcile, error_policy, ctx)
            .for_each(|_| async {})
            .await;
    }
    .boxed()
}

fn error_policy(
    request: Arc<OpenClawSelfConfig>,
    error: &SelfConfigError,
    ctx: Arc<Ctx>,
) -> Action {
    let key = format!(
        "{}/{}",
        request.namespace().unwrap_or_default(),
        request.name_any()
    );
    let (n, delay) = ctx.failures.failed(&key);
    tracing::warn!(request = %key, failures = n, "self-config reconcile failed: {error}");
    Action::requeue(delay)
}

async fn reconcile(
    request: Arc<OpenClawSelfConfig>,
    ctx: Arc<Ctx>,
) -> Result<Action, SelfConfigError> {
    let ns = request.namespace().unwrap_or_default();
    let name = request.name_any();
    ctx.metrics.reconcile_started(NAME, &ns, &name);
    if !ctx.active.is_active() {
        ctx.metrics.reconcile_skipped(NAME, &ns, &name);
        return Ok(Action::await_change());
    }
    let span = tracing::info_span!("selfconfig", namespace = %ns, request = %name);
    let result = reconcile_inner(request, &ctx).instrument(span).await;
    let outcome = if result.is_ok() {
        ctx.failures.succeeded(&format!("{ns}/{name}"));
        MetricOutcome::Success
    } else {
        MetricOutcome::Error
    };
    let requeue = matches!(&result, Ok(a) if *a != Action::await_change());
    ctx.metrics
        .reconcile_finished(NAME, &ns, &name, outcome, requeue);
    result
}

fn phase(request: &OpenClawSelfConfig) -> Option<&str> {
    request.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// A final request: deleted once its TTL is over, else looked at again then.
async fn expire(
    request: &OpenClawSelfConfig,
    ctx: &Ctx,
    now: Timestamp,
) -> Result<Action, SelfConfigError> {
    let Some(done) = request
        .status
        .as_ref()
        .and_then(|s| s.completion_time.as_ref())
    else {
        return Ok(Action::await_change());
    };
    let age = now
        .duration_since(done.0)
        .try_into()
        .unwrap_or(Duration::ZERO);
    if age < ctx.options.ttl {
        return Ok(Action::requeue(
            ctx.options.ttl - age + Duration::from_secs(1),
        ));
    }
    let api: Api<OpenClawSelfConfig> =
        Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default());
    match api
        .delete(&request.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(kube_err("deleting an expired request")(e)),
    }
    tracing::info!("deleted a request {}s after it finished", age.as_secs());
    Ok(Action::await_change())
}

async fn reconcile_inner(
    request: Arc<OpenClawSelfConfig>,
    ctx: &Ctx,
) -> Result<Action, SelfConfigError> {
    if plan::is_terminal(phase(&request)) {
        return expire(&request, ctx, Timestamp::now()).await;
    }
    let ns = request.namespace().unwrap_or_default();
    let target = request.spec.instance_ref.clone();
    let lock = ctx.lock_for(&format!("{ns}/{target}"));
    let _guard = lock.lock().await;

    // Observe, fresh: a batch run by another reconcile may have finished this request.
    let requests: Api<OpenClawSelfConfig> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(request) = requests
        .get_opt(&request.name_any())
        .await
        .map_err(kube_err("reading the request"))?
    else {
        return Ok(Action::await_change());
    };
    let now = Timestamp::now();
    if plan::is_terminal(phase(&request)) {
        return expire(&request, ctx, now).await;
    }
    let instances: Api<OpenClawInstance> = Api::namespaced(ctx.client.clone(), &ns);
    let instance = if target.is_empty() {
        None
    } else {
        instances
            .get_opt(&target)
            .await
            .map_err(kube_err("reading the target instance"))?
    };
    let Some(instance) = instance else {
        let outcome = Outcome::Failed(format!("instance {target:?} not found in namespace {ns}"));
        finish(ctx, &request, None, &outcome, now).await?;
        return Ok(Action::requeue(ctx.options.ttl));
    };

    // Limits.
    let limits = Limits::of(&instance);
    let pending = waiting(ctx, &request, &ns, &target);
    let names: Vec<String> = pending.iter().map(|r| r.name_any()).collect();
    let rank = plan::rank(&names, &request.name_any()).unwrap_or(names.len());
    if rank >= limits.max_pending {
        let outcome = Outcome::Denied(format!(
            "too many requests are waiting for instance {target}: {} are pending and the limit \
             is {} (spec.selfConfigure.maxPendingRequests); try again once they have finished",
            names.len(),
            limits.max_pending
        ));
        ctx.denied_on_instance(&instance, &request.name_any(), outcome.message())
            .await;
        finish(ctx, &request, Some(&instance), &outcome, now).await?;
        return Ok(Action::requeue(ctx.options.ttl));
    }
    let managed = instance.metadata.managed_fields.as_deref().unwrap_or(&[]);
    if let Some(last) = plan::last_apply(managed) {
        let since: Duration = now
            .duration_since(last)
            .try_into()
            .unwrap_or(Duration::ZERO);
        if since < limits.min_interval {
            let wait = limits.min_interval - since;
            let message = format!(
                "waiting: instance {target} was changed {}s ago and self-configuration changes \
                 it at most once every {}s (spec.selfConfigure.minApplyInterval); requests \
                 that arrive meanwhile are applied together",
                since.as_secs(),
                limits.min_interval.as_secs()
            );
            set_pending(ctx, &request, &message).await?;
            return Ok(Action::requeue(wait + Duration::from_millis(200)));
        }
    }

    // Identity and plan, for the whole batch.
    let batch: Vec<OpenClawSelfConfig> = pending.into_iter().take(limits.max_pending).collect();
    let identities = identities(ctx, &instance, &batch).await?;
    let sizes: Vec<usize> = batch
        .iter()
        .map(|r| {
            serde_json::to_vec(&r.spec)
                .map(|v| v.len())
                .unwrap_or(usize::MAX)
        })
        .collect();
    let requests_of = |indices: &[usize]| -> Vec<Request<'_>> {
        indices
            .iter()
            .map(|&i| Request {
                object: &batch[i],
                size: sizes[i],
                identity: identities[i].clone(),
            })
            .collect()
    };
    let all: Vec<usize> = (0..batch.len()).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
    let mut included = all.clone();
    let mut the_plan = plan::plan(&instance, &requests_of(&included));
    if let Some(body) = &the_plan.apply
        && let Err(message) = dry_run(&instances, &target, body).await?
    {
        // Find the culprits: each accepted request on top of the ones that passed.
        let accepted: Vec<usize> = included
            .iter()
            .zip(&the_plan.outcomes)
            .filter(|(_, o)| matches!(o, Outcome::Applied(_)))
            .map(|(i, _)| *i)
            .collect();
        let mut kept: Vec<usize> = Vec::new();
        for i in accepted {
            let mut trial = kept.clone();
            trial.push(i);
            let p = plan::plan(&instance, &requests_of(&trial));
            let verdict = match &p.apply {
                Some(body) => dry_run(&instances, &target, body).await?,
                None => Ok(()),
            };
            match verdict {
                Ok(()) => kept.push(i),
                Err(m) => {
                    outcomes[i] = Some(Outcome::Denied(format!(
                        "the API server rejects the change: {m}"
                    )))
                }
            }
        }
        tracing::info!(%message, "a batch was rejected; applying the requests that pass alone");
        included = all
            .iter()
            .copied()
            .filter(|i| outcomes[*i].is_none())
            .collect();
        the_plan = plan::plan(&instance, &requests_of(&included));
    }
    if let Some(body) = &the_plan.apply {
        instances
            .patch(
                &target,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(body),
            )
            .await
            .map_err(kube_err("applying the change to the instance"))?;
        ctx.metrics.selfconfig_applied();
        tracing::info!(instance = %target, requests = included.len(), "self-config change applied");
    }
    for (i, outcome) in included.iter().zip(the_plan.outcomes) {
        outcomes[*i] = Some(outcome);
    }

    // Report.
    for (warning, reason, note) in &the_plan.instance_events {
        ctx.event(&instance, *warning, reason, note).await;
    }
    for (i, (r, outcome)) in batch.iter().zip(outcomes).enumerate() {
        let Some(outcome) = outcome else { continue };
        // Decided by the dry run, outside the plan that reported the others.
        if !included.contains(&i) {
            ctx.denied_on_instance(&instance, &r.name_any(), outcome.message())
                .await;
        }
        finish(ctx, r, Some(&instance), &outcome, now).await?;
    }
    Ok(Action::requeue(ctx.options.ttl))
}

/// The requests waiting for `target`, oldest first (the fresh `request` among them).
fn waiting(
    ctx: &Ctx,
    request: &OpenClawSelfConfig,
    ns: &str,
    target: &str,
) -> Vec<OpenClawSelfConfig> {
    let mut pending: Vec<OpenClawSelfConfig> = ctx
        .requests
        .state()
        .into_iter()
        .filter(|r| {
            r.namespace().as_deref() == Some(ns)
                && r.spec.instance_ref == target
                && !plan::is_terminal(phase(r))
                && r.meta().deletion_timestamp.is_none()
                && r.name_any() != request.name_any()
        })
        .map(|r| (*r).clone())
        .collect();
    pending.push(request.clone());
    pending.sort_by(|a, b| {
        let key = |r: &OpenClawSelfConfig| {
            (
                r.metadata.creation_timestamp.as_ref().map(|t| t.0),
                r.name_any(),
            )
        };
        key(a).cmp(&key(b))
    });
    pending
}

/// Each request's identity check (a SubjectAccessReview per distinct requester, at most).
async fn identities(
    ctx: &Ctx,
    instance: &OpenClawInstance,
    batch: &[OpenClawSelfConfig],
) -> Result<Vec<Result<(), String>>, SelfConfigError> {
    let ns = instance.namespace().unwrap_or_default();
    let name = instance.name_any();
    let own = service_account(instance);
    let agents: BTreeMap<String, String> = ctx_instances(ctx, &ns)
        .into_iter()
        .filter(|(n, _)| *n != name)
        .map(|(n, sa)| (plan::agent_username(&ns, &sa), n))
        .collect();
    let mut reviewed: HashMap<(String, String), Result<(), String>> = HashMap::new();
    let mut out = Vec::new();
    for r in batch {
        let annotations = r.annotations();
        let user = annotations.get(REQUESTED_BY_ANNOTATION).map(String::as_str);
        let verdict = match plan::identity(user, &name, &ns, &own, &agents) {
            Some(v) => v,
            None => {
                let user = user.unwrap_or_default().to_string();
                let groups = annotations
                    .get(REQUESTED_BY_GROUPS_ANNOTATION)
                    .cloned()
                    .unwrap_or_else(|| "[]".into());
                let key = (user.clone(), groups.clone());
                if let Some(v) = reviewed.get(&key) {
                    v.clone()
                } else {
                    let groups: Vec<String> = serde_json::from_str(&groups).unwrap_or_default();
                    let v = may_patch(ctx, &user, groups, &ns, &name).await?;
                    reviewed.insert(key, v.clone());
                    v
                }
            }
        };
        out.push(verdict);
    }
    Ok(out)
}

/// The instances of a namespace and their ServiceAccounts, from the instance cache.
fn ctx_instances(ctx: &Ctx, ns: &str) -> Vec<(String, String)> {
    ctx.instances
        .state()
        .into_iter()
        .filter(|i| i.namespace().as_deref() == Some(ns))
        .map(|i| (i.name_any(), service_account(&i)))
        .collect()
}

/// The ServiceAccount an instance's pods run as.
fn service_account(instance: &OpenClawInstance) -> String {
    let observed = openclaw_render::Observed::default();
    openclaw_render::model::Model::new(instance, &observed)
        .ok()
        .and_then(|m| m.service_account_name())
        .unwrap_or_else(|| "default".to_string())
}

/// Whether `user` may patch the instance (a SubjectAccessReview).
async fn may_patch(
    ctx: &Ctx,
    user: &str,
    groups: Vec<String>,
    ns: &str,
    name: &str,
) -> Result<Result<(), String>, SelfConfigError> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_string()),
            groups: Some(groups),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.to_string()),
                verb: Some("patch".into()),
                group: Some(openclaw_api::GROUP.into()),
                resource: Some("openclawinstances".into()),
                name: Some(name.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SubjectAccessReview>::all(ctx.client.clone())
        .create(&PostParams::default(), &review)
        .await
        .map_err(kube_err(
            "asking whether the requester may change the instance",
        ))?;
    let allowed = answer.status.as_ref().is_some_and(|s| s.allowed);
    Ok(if allowed {
        Ok(())
    } else {
        Err(format!(
            "requested by {user}, who may not patch OpenClawInstance {name} in namespace {ns}: \
             a request may change only the instance of the agent that created it, or one its \
             requester may change"
        ))
    })
}

/// A server-side dry run of the apply: `Ok(Err(message))` when the API server rejects it.
async fn dry_run(
    instances: &Api<OpenClawInstance>,
    target: &str,
    body: &Value,
) -> Result<Result<(), String>, SelfConfigError> {
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = true;
    match instances.patch(target, &params, &Patch::Apply(body)).await {
        Ok(_) => Ok(Ok(())),
        Err(kube::Error::Api(e)) if (400..500).contains(&e.code) && e.code != 429 => {
            Ok(Err(e.message))
        }
        Err(e) => Err(kube_err("checking the change (dry run)")(e)),
    }
}

/// `Pending` with a message (written only when it changes).
async fn set_pending(
    ctx: &Ctx,
    request: &OpenClawSelfConfig,
    message: &str,
) -> Result<(), SelfConfigError> {
    let status = request.status.as_ref();
    // The message carries a count of seconds: rewrite only when the phase is new.
    if status.and_then(|s| s.phase.as_deref()) == Some("Pending") {
        return Ok(());
    }
    let api: Api<OpenClawSelfConfig> =
        Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default());
    api.patch_status(
        &request.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Pending", "message": message}})),
    )
    .await
    .map_err(kube_err("writing the request's status"))?;
    Ok(())
}

/// The final status, the owner reference and the events of one request.
async fn finish(
    ctx: &Ctx,
    request: &OpenClawSelfConfig,
    instance: Option<&OpenClawInstance>,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<(), SelfConfigError> {
    let api: Api<OpenClawSelfConfig> =
        Api::namespaced(ctx.client.clone(), &request.namespace().unwrap_or_default());
    let name = request.name_any();
    if let Some(owner) = instance.and_then(|i| i.controller_owner_ref(&()))
        && !request
            .owner_references()
            .iter()
            .any(|o| o.uid == owner.uid)
    {
        let mut owners = request.owner_references().to_vec();
        owners.push(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                controller: None,
                block_owner_deletion: None,
                ..owner
            },
        );
        if let Err(e) = api
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"ownerReferences": owners}})),
            )
            .await
        {
            tracing::warn!("cannot set the owner reference: {e}");
        }
    }
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "phase": outcome.phase(),
            "message": outcome.message(),
            "completionTime": Time(now),
        }})),
    )
    .await
    .map_err(kube_err("writing the request's status"))?;
    let (warning, reason) = match outcome {
        Outcome::Applied(_) => (false, "Applied"),
        Outcome::Denied(_) => (true, "Denied"),
        Outcome::Failed(_) => (true, "Failed"),
    };
    ctx.event(request, warning, reason, outcome.message()).await;
    ctx.metrics.selfconfig_request(outcome.phase());
    tracing::info!(request = %name, phase = outcome.phase(), message = outcome.message(), "self-config request finished");
    Ok(())
}
