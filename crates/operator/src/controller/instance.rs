//! Reconcile one OpenClawInstance: the entry function lists the steps.
//!
//! observe → validate → lifecycle → render → apply → prune → report
//!
//! - **observe** ([`observe_step`]): cluster defaults merged into the spec, the workload as the
//!   caches see it; no API call.
//! - **validate** ([`validate_step`]): the merged spec's checks, then the referenced inputs
//!   (Secrets, ConfigMaps, the existing claim) resolved from the API (`super::observe`).
//! - **lifecycle** (`super::lifecycle`, `super::finalizer`): the workflows' decision (hold the
//!   workload, pin an image, the phase to report); deletion runs the cleanup steps and releases
//!   the finalizer.
//! - **render** (`openclaw_render::render`): every desired object, pure.
//! - **apply** and **prune** ([`apply_all`]): server-side apply of what differs; objects of
//!   switched-off features deleted.
//! - **report** (`super::report`): phase, conditions and events, pure; the status is written only
//!   when it changed.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use openclaw_api::defaults::apply_cluster_defaults;
use openclaw_api::validation::{not_yet_acted_on, validate};
use openclaw_api::{
    ManagedResources, OpenClawInstance, OpenClawInstanceSpec, OpenClawInstanceStatus,
};
use openclaw_render::{CustomKind, Object, Rendered, StatusSlot, WriteMode, render};
use serde_json::json;

use super::apply::{ApplyError, FIELD_MANAGER, delete};
use super::custom::{self, Availability, api_resource};
use super::kinds;
use super::lifecycle::{self, Observed as LifecycleObserved};
use super::observe::{Inputs, observe};
use super::report::{
    AppliedFacts as Applied, Facts, Failure, FailureClass, InputFacts, KindResult, Next, Report,
    SkillPackFacts, Workload,
};
use super::{Context, Error, finalizer};

/// The reconcile entry point: the steps, in order.
pub async fn reconcile(
    instance: Arc<OpenClawInstance>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let now = now();
    if let Some(error) = instance.annotations().get(super::runtime::UNREADABLE) {
        return unreadable(&instance, &ctx, error, &now).await;
    }
    if instance.meta().deletion_timestamp.is_some() {
        return finalizer::finalize(&instance, &ctx, &now).await;
    }
    let finalizer = finalizer::ensure(&instance, &ctx).await;
    let mut facts = Facts {
        generation: instance.meta().generation,
        name: instance.name_any(),
        namespace: instance.namespace().unwrap_or_default(),
        ..Facts::default()
    };
    // Without the finalizer the pass still runs (nothing is lost but the cleanup on delete),
    // and the failure is reported.
    let result = match (steps(&instance, &ctx, &mut facts, &now).await, finalizer) {
        (Ok(_), Err(e)) => {
            facts.failure = Some(classify(&e));
            Err(e)
        }
        (result, _) => result,
    };
    if let Err(e) = &result {
        facts.failure = Some(classify(e));
    }
    let old = instance.status.clone().unwrap_or_default();
    let report = super::report::report(&old, &facts, &now);
    let image = result.as_ref().ok().cloned().flatten();
    publish(&instance, &ctx, &report, image.as_deref()).await?;
    let key = format!("{}/{}", facts.namespace, facts.name);
    match result {
        Err(e) => Err(e),
        Ok(_) => {
            ctx.failures.succeeded(&key);
            Ok(match report.next {
                Next::AwaitChange => Action::await_change(),
                Next::Requeue(d) => Action::requeue(d),
                Next::Backoff => Action::requeue(Duration::from_secs(5)),
            })
        }
    }
}

/// An instance the operator cannot read (it does not parse; the cache holds its metadata and
/// status with [`super::runtime::UNREADABLE`]): nothing is rendered, applied or pruned. It is
/// reported `Failed` with the reason, and a deletion is never held by our finalizer.
async fn unreadable(
    instance: &OpenClawInstance,
    ctx: &Context,
    error: &str,
    now: &Time,
) -> Result<Action, Error> {
    if instance.meta().deletion_timestamp.is_some() {
        finalizer::release(instance, ctx).await?;
        return Ok(Action::await_change());
    }
    let facts = Facts {
        generation: instance.meta().generation,
        name: instance.name_any(),
        namespace: instance.namespace().unwrap_or_default(),
        invalid_spec: Some(format!(
            "the stored object cannot be read as openclaw.rocks/v1alpha1 OpenClawInstance: {error}"
        )),
        ..Facts::default()
    };
    let old = instance.status.clone().unwrap_or_default();
    let report = super::report::report(&old, &facts, now);
    publish(instance, ctx, &report, None).await?;
    Ok(Action::await_change())
}

/// observe → validate → lifecycle → render → apply → prune, recording what each found in
/// `facts`. Returns the OpenClaw image rolled out, when rendering got that far.
async fn steps(
    instance: &OpenClawInstance,
    ctx: &Context,
    facts: &mut Facts,
    now: &Time,
) -> Result<Option<String>, Error> {
    // observe
    let (merged, defaults) = observe_step(instance, ctx, facts);
    // validate
    let Some(mut inputs) = validate_step(instance, &merged, ctx, facts).await? else {
        return Ok(None);
    };
    inputs.observed.cluster_defaults = defaults;
    if let Some((packs, pack_facts)) = skill_pack_step(&merged.spec, ctx).await {
        inputs.observed.skill_packs = packs;
        facts.skill_packs = Some(pack_facts);
    }
    // lifecycle
    let old = instance.status.clone().unwrap_or_default();
    let mut decision = lifecycle::decide(
        &[],
        &merged.spec,
        &old,
        &LifecycleObserved::default(),
        now.0,
    );
    let backup = super::backup::lifecycle_step(
        instance,
        &merged,
        ctx,
        facts
            .inputs
            .as_ref()
            .and_then(|i| i.missing_claim.as_deref()),
        now,
    )
    .await?;
    if let Some(restore) = &backup.restore {
        decision.hold_replicas |= restore.holds();
        if decision.phase.is_none() {
            decision.phase = super::backup::restore_phase(restore, &merged.spec);
        }
    }
    inputs.observed.s3_credentials = super::backup::Credentials::read(
        ctx.backup_credentials.as_ref(),
        ctx.backup.credentials_namespace.as_deref(),
    )
    .ready()
    .cloned();
    inputs.observed.backup_jobs = backup.restore.is_some() || backup.on_demand.is_some();
    facts.backup = backup;
    let missing = facts.inputs.as_ref().and_then(|i| i.missing_claim.clone());
    let update = super::update::lifecycle_step(
        instance,
        &merged,
        ctx,
        missing.as_deref(),
        &inputs.observed,
        now,
    )
    .await?;
    decision.hold_replicas |= update.hold;
    if decision.pin_image.is_none() {
        decision.pin_image = update.pin_image.clone();
    }
    if decision.phase.is_none() {
        decision.phase = update.phase.clone();
    }
    if super::update_plan::Settings::of(&merged.spec).enabled {
        ctx.metrics
            .autoupdate_enabled(&facts.namespace, &facts.name);
    }
    // The backup Jobs of an update read the mirrored credentials Secret: keep it.
    inputs.observed.backup_jobs |= update.acts.iter().any(|a| {
        matches!(
            a,
            super::update_plan::Act::Backup | super::update_plan::Act::Restore(_)
        )
    });
    for c in &update.counts {
        use super::update_plan::Count;
        let (check, rolled_back) = match c {
            Count::Check(ok) => (Some(*ok), false),
            Count::Applied => (None, false),
            Count::RolledBack => (None, true),
        };
        ctx.metrics
            .autoupdate(&facts.namespace, &facts.name, check, rolled_back);
    }
    facts.update = Some(update);
    facts.lifecycle_phase = decision.phase.clone();
    // render
    let mut rendered = match render(&merged, &inputs.observed) {
        Ok(r) => r,
        Err(e) => {
            facts.render = Some(Err(e.to_string()));
            return Ok(None);
        }
    };
    decision.apply(&mut rendered);
    // Warnings the defaults cause go to a condition; the spec's own become events.
    let defaults = openclaw_render::baseline_warnings(&merged);
    let (default_warnings, own): (Vec<String>, Vec<String>) = rendered
        .warnings
        .iter()
        .cloned()
        .partition(|w| defaults.contains(w));
    facts.default_warnings = default_warnings;
    facts.render = Some(Ok(own));
    // apply, prune
    facts.applied = Some(apply_all(instance, ctx, &rendered).await?);
    Ok(rendered.iter().find_map(|o| match o {
        Object::StatefulSet(sts) => sts
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.image.clone()),
        _ => None,
    }))
}

/// Part of step validate: the `pack:` skills of every workspace, resolved from GitHub (through
/// the resolver's caches). A pack that cannot be resolved is left out (the instance starts
/// without it, and what it seeded earlier stays); `None` when no workspace has a pack.
async fn skill_pack_step(
    spec: &OpenClawInstanceSpec,
    ctx: &Context,
) -> Option<(openclaw_render::skillpacks::SkillPacks, SkillPackFacts)> {
    use crate::skillpacks::pack_references;
    let default = pack_references(spec.skills.as_deref().unwrap_or_default());
    let workspaces: Vec<(String, Vec<String>)> = spec
        .workspace
        .as_ref()
        .and_then(|w| w.additional_workspaces.as_ref())
        .into_iter()
        .flatten()
        .map(|w| {
            (
                w.name.clone(),
                pack_references(w.skills.as_deref().unwrap_or_default()),
            )
        })
        .filter(|(_, refs)| !refs.is_empty())
        .collect();
    if default.is_empty() && workspaces.is_empty() {
        return None;
    }
    let mut packs = openclaw_render::skillpacks::SkillPacks::default();
    let mut facts = SkillPackFacts::default();
    let resolver = match &ctx.skill_packs {
        Ok(r) => r,
        Err(why) => {
            facts
                .errors
                .push(format!("skill packs cannot be resolved: {why}"));
            packs.default.incomplete = !default.is_empty();
            for (name, _) in workspaces {
                packs.workspaces.insert(
                    name,
                    openclaw_render::skillpacks::ResolvedPacks {
                        incomplete: true,
                        ..Default::default()
                    },
                );
            }
            return Some((packs, facts));
        }
    };
    if !default.is_empty() {
        let r = resolver.resolve("default", &default).await;
        packs.default = record_resolution(&mut facts, None, &default, r);
    }
    for (name, refs) in workspaces {
        let r = resolver.resolve(&name, &refs).await;
        let resolved = record_resolution(&mut facts, Some(&name), &refs, r);
        packs.workspaces.insert(name, resolved);
    }
    Some((packs, facts))
}

/// Adds one workspace's resolution to `facts`; its packs, marked incomplete when one failed.
fn record_resolution(
    facts: &mut SkillPackFacts,
    workspace: Option<&str>,
    references: &[String],
    r: crate::skillpacks::Resolution,
) -> openclaw_render::skillpacks::ResolvedPacks {
    let prefix = workspace
        .map(|n| format!("workspace {n:?}: "))
        .unwrap_or_default();
    facts.resolved += references.len().saturating_sub(r.errors.len());
    facts.errors.extend(
        r.errors
            .iter()
            .map(|(reference, e)| format!("{prefix}{reference}: {e}")),
    );
    facts.stale.extend(r.stale.iter().map(|s| {
        format!(
            "{prefix}{}: the copy fetched at {} ({})",
            s.reference,
            crate::skillpacks::error::rfc3339(s.fetched),
            s.error
        )
    }));
    if let Some(at) = r.retry_at {
        let wait = at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO);
        facts.retry_in = Some(facts.retry_in.map_or(wait, |w| w.min(wait)));
    }
    let mut resolved = r.packs;
    resolved.incomplete = !r.errors.is_empty();
    resolved
}

/// Step observe: the spec with the cluster defaults merged, and the workload from the caches.
fn observe_step(
    instance: &OpenClawInstance,
    ctx: &Context,
    facts: &mut Facts,
) -> (
    OpenClawInstance,
    Option<openclaw_api::clusterdefaults::OpenClawClusterDefaultsSpec>,
) {
    let defaults = ctx.cluster_defaults().map(|d| d.spec.clone());
    let spec = apply_cluster_defaults(&instance.spec, defaults.as_ref());
    let mut merged = instance.clone();
    merged.spec = spec;
    facts.workload = workload(instance, &merged.spec, ctx);
    (merged, defaults)
}

fn workload(instance: &OpenClawInstance, spec: &OpenClawInstanceSpec, ctx: &Context) -> Workload {
    let name = instance.name_any();
    let ns = instance.namespace().unwrap_or_default();
    let sts = ctx
        .stores
        .stateful_sets
        .get(&ObjectRef::new(&name).within(&ns));
    let sts_status = sts
        .as_ref()
        .and_then(|s| s.status.clone())
        .unwrap_or_default();
    let persistence = spec.storage.as_ref().and_then(|s| s.persistence.as_ref());
    let autoscaling = spec
        .availability
        .as_ref()
        .and_then(|a| a.auto_scaling.as_ref())
        .is_some_and(|a| a.enabled == Some(true));
    Workload {
        suspended: spec.suspended == Some(true),
        current: sts.as_ref().is_some_and(|s| {
            s.status.as_ref().and_then(|st| st.observed_generation) >= s.meta().generation
        }),
        replicas: sts_status.replicas,
        ready_replicas: sts_status.ready_replicas.unwrap_or(0),
        persistence_disabled: persistence.is_some_and(|p| p.enabled == Some(false)),
        autoscaling,
        old_data_pvc: autoscaling
            && ctx
                .stores
                .pvcs
                .get(&ObjectRef::new(&format!("{name}-data")).within(&ns))
                .is_some(),
    }
}

/// Step validate: the merged spec's checks (stop on an error), the fields not acted on yet,
/// then the referenced inputs.
async fn validate_step(
    instance: &OpenClawInstance,
    merged: &OpenClawInstance,
    ctx: &Context,
    facts: &mut Facts,
) -> Result<Option<Inputs>, Error> {
    facts.not_acted_on = not_yet_acted_on(&merged.spec);
    let findings = validate(merged, None);
    if !findings.errors.is_empty() {
        facts.invalid_spec = Some(format!("invalid spec: {}", findings.errors.join("; ")));
        return Ok(None);
    }
    let inputs = observe(&ctx.client, &ctx.stores.secrets, instance, &merged.spec).await?;
    let stop = inputs.config_problem.is_some();
    facts.inputs = Some(InputFacts {
        missing_secrets: inputs.missing_secrets.clone(),
        workspace_refs: inputs.workspace_refs,
        workspace_problems: inputs.workspace_problems.clone(),
        config_problem: inputs.config_problem.clone(),
        missing_claim: inputs.missing_claim.clone(),
        token_generated: inputs.token_generated,
    });
    Ok((!stop).then_some(inputs))
}

/// A failed step as a person reads it: the API server's own message, `Spec` when it refused an
/// object as invalid (nothing changes until the spec does), `Transient` otherwise.
pub fn classify(error: &Error) -> Failure {
    let api = |e: &kube::Error| match e {
        kube::Error::Api(s) => Some((s.code, s.message.clone())),
        _ => None,
    };
    match error {
        Error::Apply(ApplyError::Kube {
            verb,
            kind,
            name,
            source,
        }) => match api(source) {
            Some((code, message)) => Failure {
                // A failed `test` of a guarded patch (the take-over of another manager's
                // fields, the finalizer) is a 422 too, but a conflict: transient.
                class: if (code == 422 || code == 400) && *verb == "apply" {
                    FailureClass::Spec
                } else {
                    FailureClass::Transient
                },
                message: format!("{verb} {kind} {name}: {message}"),
            },
            None => Failure {
                class: FailureClass::Transient,
                message: format!("{verb} {kind} {name}: {source}"),
            },
        },
        Error::Apply(e @ ApplyError::Json(..)) => Failure {
            class: FailureClass::Spec,
            message: e.to_string(),
        },
        Error::Read(e) => Failure {
            class: FailureClass::Transient,
            message: match api(e) {
                Some((_, message)) => format!("reading inputs: {message}"),
                None => format!("reading inputs: {e}"),
            },
        },
        Error::Json(e) => Failure {
            class: FailureClass::Transient,
            message: format!("serializing status: {e}"),
        },
    }
}

/// Write the report: the status (only when it changed), the metrics and the events.
pub async fn publish(
    instance: &OpenClawInstance,
    ctx: &Context,
    report: &Report,
    image: Option<&str>,
) -> Result<(), Error> {
    let ns = instance.namespace().unwrap_or_default();
    let name = instance.name_any();
    write_status(instance, ctx, &report.status).await?;
    ctx.metrics.observe_instance(
        &ns,
        &name,
        report.status.phase.as_deref(),
        report.ready(),
        image,
    );
    ctx.metrics.set_last_backup(
        &ns,
        &name,
        report
            .status
            .last_backup_time
            .as_ref()
            .map(|t| t.0.as_second() as f64),
    );
    for event in &report.events {
        if let Err(e) = ctx.recorder.publish(event, &instance.object_ref(&())).await {
            tracing::warn!(instance = %format!("{ns}/{name}"), "cannot record event: {e}");
        }
    }
    Ok(())
}

pub(crate) fn now() -> Time {
    // Whole seconds, as the API server stores them.
    Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()))
}

/// Whether the StatefulSet's volumeClaimTemplates (immutable) differ from the desired ones.
fn claim_templates_differ(live: &StatefulSet, desired: &StatefulSet) -> bool {
    let templates = |s: &StatefulSet| {
        s.spec
            .as_ref()
            .and_then(|s| s.volume_claim_templates.clone())
            .unwrap_or_default()
    };
    let (live, desired) = (templates(live), templates(desired));
    let names = |t: &[PersistentVolumeClaim]| {
        t.iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    if names(&live) != names(&desired) {
        return true;
    }
    let spec = |t: &[PersistentVolumeClaim]| {
        serde_json::to_value(t.iter().map(|c| &c.spec).collect::<Vec<_>>()).unwrap_or_default()
    };
    !super::apply::contains(&spec(&live), &spec(&desired))
}

/// Apply every rendered object, prune what is no longer wanted, and name what is managed.
async fn apply_all(
    instance: &OpenClawInstance,
    ctx: &Context,
    rendered: &Rendered,
) -> Result<Applied, Error> {
    let client = &ctx.client;
    let ns = instance.namespace().unwrap_or_default();
    let s = &ctx.stores;
    let mut managed = ManagedResources::default();
    let mut custom = std::collections::BTreeMap::new();
    let mut soon = false;
    let mut ingress = false;
    let mut keep = kinds::Keep::new();
    let mut keep_custom: std::collections::BTreeMap<CustomKind, Vec<String>> = Default::default();
    for desired in &rendered.objects {
        let mode = desired.mode;
        let object = &desired.object;
        // The generic write of any kind (an exhaustive match over `Object`, in `kinds`).
        let ensure = || async {
            kinds::ensure_object(ctx, &ns, object, mode)
                .await
                .inspect_err(|_| {
                    ctx.metrics
                        .resource_failed(&ns, &instance.name_any(), object.kind())
                })
        };
        // Special cases first; everything else goes through `ensure`.
        let name = match object {
            Object::Secret(o) => {
                let live = s.secrets.get(&ObjectRef::new(&o.name_any()).within(&ns));
                let type_of = |t: &Option<String>| t.clone().unwrap_or_else(|| "Opaque".into());
                if let Some(live) = live
                    && mode == WriteMode::Apply
                    && type_of(&live.type_) != type_of(&o.type_)
                {
                    // A Secret's type is immutable (e.g. an Opaque basic-auth Secret left
                    // by the Go operator): delete it first. Secrets have no finalizers: it is
                    // created again in this pass, with the values observed from the old one.
                    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
                    delete(
                        &api,
                        &o.name_any(),
                        &DeleteParams::background(),
                        "delete (type change)",
                        "Secret",
                    )
                    .await?;
                }
                ensure().await?
            }
            Object::StatefulSet(o) => {
                let live = s
                    .stateful_sets
                    .get(&ObjectRef::new(&o.name_any()).within(&ns));
                match live {
                    Some(live) if live.meta().deletion_timestamp.is_some() => {
                        // Being re-created: wait until it is gone.
                        soon = true;
                        o.name_any()
                    }
                    Some(live) if claim_templates_differ(&live, o) => {
                        // volumeClaimTemplates are immutable: delete the StatefulSet but not
                        // its pods (orphan), then create it again; it adopts the pods and
                        // rolls them onto the new volumes.
                        tracing::info!(
                            instance = %instance.name_any(),
                            "volumeClaimTemplates changed: re-creating the StatefulSet (pods kept)"
                        );
                        let api: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
                        delete(
                            &api,
                            &o.name_any(),
                            &DeleteParams::orphan(),
                            "delete (orphan)",
                            "StatefulSet",
                        )
                        .await?;
                        soon = true;
                        o.name_any()
                    }
                    _ => ensure().await?,
                }
            }
            Object::Ingress(_) => {
                ingress = true;
                ensure().await?
            }
            Object::Custom(o) => {
                let kind = o.kind;
                let obj_name = o.metadata.name.clone().unwrap_or_default();
                let result = match ctx.custom.availability(kind) {
                    Availability::Absent => KindResult::NotInstalled,
                    Availability::Listing | Availability::Unknown => {
                        soon = true;
                        KindResult::Pending
                    }
                    Availability::Forbidden(m) => KindResult::Forbidden(m),
                    Availability::Ready => {
                        keep_custom.entry(kind).or_default().push(obj_name.clone());
                        match kinds::ensure_object(ctx, &ns, object, mode).await {
                            Ok(_) => KindResult::Reconciled,
                            Err(super::apply::ApplyError::Kube {
                                source: kube::Error::Api(e),
                                ..
                            }) if e.code == 404 => {
                                // The CRD went away since the last poll.
                                ctx.custom.mark_absent(kind);
                                KindResult::NotInstalled
                            }
                            Err(super::apply::ApplyError::Kube {
                                source: kube::Error::Api(e),
                                ..
                            }) if e.code == 403 => KindResult::Forbidden(e.message),
                            Err(e) => {
                                ctx.metrics
                                    .resource_failed(&ns, &instance.name_any(), kind.kind());
                                return Err(e.into());
                            }
                        }
                    }
                };
                // The worst result of the kind's objects wins.
                let entry = custom.entry(kind).or_insert(KindResult::Reconciled);
                if *entry == KindResult::Reconciled {
                    *entry = result.clone();
                }
                if result != KindResult::Reconciled {
                    continue;
                }
                obj_name
            }
            _ => ensure().await?,
        };
        if !matches!(object, Object::Custom(_)) {
            keep.entry(object.kind()).or_default().push(name.clone());
        }
        if let Some(slot) = desired.slot {
            *slot_field(&mut managed, slot) = Some(name);
        }
    }
    if managed.gateway_token_secret.is_none() {
        managed.gateway_token_secret = Some(super::observe::gateway_secret_name(instance));
    }
    if let Some(claim) = instance
        .spec
        .storage
        .as_ref()
        .and_then(|s| s.persistence.as_ref())
        .and_then(|p| p.existing_claim.clone())
        .filter(|c| !c.is_empty())
    {
        managed.pvc = Some(claim);
    }

    // Prune objects of switched-off features, every managed kind under its rule in the table:
    // PVCs only when a feature made them (the Chromium profile); the data PVC and user PVCs
    // are never deleted.
    let uid = instance.uid().unwrap_or_default();
    kinds::prune_owned(client, s, &uid, &keep).await?;
    for kind in custom::KINDS {
        if ctx.custom.availability(kind) != Availability::Ready {
            continue;
        }
        let keep = keep_custom.get(&kind).cloned().unwrap_or_default();
        for obj in ctx.custom.objects(kind) {
            let name = obj.name_any();
            if !super::apply::controlled_by(obj.owner_references(), &uid)
                || keep.contains(&name)
                || obj.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let obj_ns = obj.namespace().unwrap_or_default();
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), &obj_ns, &api_resource(kind));
            match delete(
                &api,
                &name,
                &DeleteParams::background(),
                "delete",
                kind.kind(),
            )
            .await
            {
                Ok(_) => {}
                // Pruning an optional kind we may no longer list is not an error.
                Err(super::apply::ApplyError::Kube {
                    source: kube::Error::Api(e),
                    ..
                }) if e.code == 403 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Applied {
        managed,
        custom,
        ingress,
        soon,
    })
}

/// The `status.managedResources` field of a slot.
fn slot_field(managed: &mut ManagedResources, slot: StatusSlot) -> &mut Option<String> {
    match slot {
        StatusSlot::ServiceAccount => &mut managed.service_account,
        StatusSlot::Role => &mut managed.role,
        StatusSlot::RoleBinding => &mut managed.role_binding,
        StatusSlot::NetworkPolicy => &mut managed.network_policy,
        StatusSlot::GatewayTokenSecret => &mut managed.gateway_token_secret,
        StatusSlot::ConfigMap => &mut managed.config_map,
        StatusSlot::Pvc => &mut managed.pvc,
        StatusSlot::ChromiumPvc => &mut managed.chromium_pvc,
        StatusSlot::Pdb => &mut managed.pod_disruption_budget,
        StatusSlot::Hpa => &mut managed.horizontal_pod_autoscaler,
        StatusSlot::StatefulSet => &mut managed.stateful_set,
        StatusSlot::Service => &mut managed.service,
        StatusSlot::BasicAuthSecret => &mut managed.basic_auth_secret,
        StatusSlot::TailscaleStateSecret => &mut managed.tailscale_state_secret,
        StatusSlot::PrometheusRule => &mut managed.prometheus_rule,
        StatusSlot::DashboardOperator => &mut managed.grafana_dashboard_operator,
        StatusSlot::DashboardInstance => &mut managed.grafana_dashboard_instance,
        StatusSlot::HttpRoute => &mut managed.http_route,
    }
}

/// Write the status only when it changed (server-side apply on the status subresource).
async fn write_status(
    instance: &OpenClawInstance,
    ctx: &Context,
    status: &OpenClawInstanceStatus,
) -> Result<(), Error> {
    if instance.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<OpenClawInstance> = Api::namespaced(
        ctx.client.clone(),
        &instance.namespace().unwrap_or_default(),
    );
    if super::adopt::status_pending(instance.meta()) {
        // The Go operator's status writes: taken over first, so that fields we no longer set
        // are removed by this apply.
        let name = instance.name_any();
        let uid = instance.uid().unwrap_or_default();
        let api_version = OpenClawInstance::api_version(&());
        super::adopt::take_over_status(&api, &name, &uid, &api_version, FIELD_MANAGER)
            .await
            .map_err(|source| super::apply::ApplyError::Kube {
                verb: "take over the status fields of",
                kind: "OpenClawInstance".into(),
                name,
                source,
            })?;
    }
    let body = json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "status": status,
    });
    api.patch_status(
        &instance.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure(message, "Invalid").with_code(code),
        ))
    }

    #[test]
    fn an_invalid_object_is_a_spec_failure_with_the_api_servers_message() {
        let e = Error::Apply(ApplyError::Kube {
            verb: "apply",
            kind: "StatefulSet".into(),
            name: "a".into(),
            source: api_error(
                422,
                "spec.template.spec.containers[0].livenessProbe: Invalid value: may not specify more than 1 handler type",
            ),
        });
        let f = classify(&e);
        assert_eq!(f.class, FailureClass::Spec);
        assert_eq!(
            f.message,
            "apply StatefulSet a: spec.template.spec.containers[0].livenessProbe: Invalid value: may not specify more than 1 handler type"
        );
    }

    #[test]
    fn other_errors_are_transient_and_readable() {
        for code in [403, 409, 500, 503] {
            let e = Error::Apply(ApplyError::Kube {
                verb: "apply",
                kind: "Service".into(),
                name: "a".into(),
                source: api_error(code, "try again"),
            });
            let f = classify(&e);
            assert_eq!(f.class, FailureClass::Transient, "{code}");
            assert_eq!(f.message, "apply Service a: try again");
        }
        let f = classify(&Error::Read(api_error(500, "etcd timeout")));
        assert_eq!(f.class, FailureClass::Transient);
        assert_eq!(f.message, "reading inputs: etcd timeout");
    }
}
