//! Reconcile one OpenClawInstance.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use openclaw_api::defaults::apply_cluster_defaults;
use openclaw_api::validation::validate;
use openclaw_api::{ManagedResources, OpenClawInstance, OpenClawInstanceStatus};
use openclaw_render::{CustomKind, Object, Rendered, StatusSlot, WriteMode, render};
use serde_json::json;

use super::apply::{FIELD_MANAGER, delete};
use super::custom::{self, Availability, api_resource};
use super::kinds;
use super::observe::{Inputs, observe};
use super::status::{FALSE, TRUE, phase, remove_condition, set_condition};
use super::{Context, Error};

/// Drift check interval when nothing else happens.
const RESYNC: Duration = Duration::from_secs(600);

/// What one pass concluded, turned into status at the end.
struct Outcome {
    status: OpenClawInstanceStatus,
    events: Vec<Event>,
    action: Action,
    /// The OpenClaw image rolled out, when rendering got that far.
    image: Option<String>,
}

/// The reconcile entry point.
pub async fn reconcile(
    instance: Arc<OpenClawInstance>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if instance.meta().deletion_timestamp.is_some() {
        // Owned objects go with the instance (garbage collection); the data PVC carries no
        // owner reference unless `orphan: false`, so it stays.
        return Ok(Action::await_change());
    }
    let key = format!(
        "{}/{}",
        instance.namespace().unwrap_or_default(),
        instance.name_any()
    );
    let outcome = match reconcile_inner(&instance, &ctx).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // Say why in the status (once per distinct message), then retry with backoff.
            let mut status = instance.status.clone().unwrap_or_default();
            let mut conditions = status.conditions.take().unwrap_or_default();
            set_condition(
                &mut conditions,
                "Ready",
                FALSE,
                "ReconcileError",
                error.to_string(),
                instance.meta().generation,
                &now(),
            );
            status.conditions = Some(conditions);
            if let Err(e) = write_status(&instance, &ctx, &status).await {
                tracing::warn!(instance = %key, "cannot report the error in the status: {e}");
            }
            return Err(error);
        }
    };
    write_status(&instance, &ctx, &outcome.status).await?;
    let ready = outcome
        .status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == TRUE);
    ctx.metrics.observe_instance(
        &instance.namespace().unwrap_or_default(),
        &instance.name_any(),
        outcome.status.phase.as_deref(),
        ready,
        outcome.image.as_deref(),
    );
    for event in &outcome.events {
        if let Err(e) = ctx.recorder.publish(event, &instance.object_ref(&())).await {
            tracing::warn!(instance = %key, "cannot record event: {e}");
        }
    }
    ctx.failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&key);
    Ok(outcome.action)
}

fn now() -> Time {
    // Whole seconds, as the API server stores them.
    Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()))
}

fn event(type_: EventType, reason: &str, note: impl Into<String>) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Reconcile".into(),
        secondary: None,
    }
}

/// Ends a pass as `Failed`: Ready=False with `reason`, nothing rolled out; it waits for a change
/// of the spec (or of the cluster defaults or inputs).
fn failed(
    mut status: OpenClawInstanceStatus,
    mut conditions: Vec<Condition>,
    events: Vec<Event>,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Outcome {
    set_condition(
        &mut conditions,
        "Ready",
        FALSE,
        reason,
        message,
        generation,
        now,
    );
    status.phase = Some(phase::FAILED.into());
    status.conditions = Some(conditions);
    status.observed_generation = generation;
    Outcome {
        status,
        events,
        action: Action::await_change(),
        image: None,
    }
}

async fn reconcile_inner(instance: &OpenClawInstance, ctx: &Context) -> Result<Outcome, Error> {
    let generation = instance.meta().generation;
    let old = instance.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let mut conditions = status.conditions.take().unwrap_or_default();
    let mut events = Vec::new();
    let now = now();
    let was = |phase: &str| old.phase.as_deref() == Some(phase);

    // Validate the spec with the cluster defaults merged.
    let defaults = ctx.cluster_defaults().map(|d| d.spec.clone());
    let spec = apply_cluster_defaults(&instance.spec, defaults.as_ref());
    let mut merged = instance.clone();
    merged.spec = spec.clone();
    let findings = validate(&merged, None);
    if !findings.errors.is_empty() {
        let message = format!("invalid spec: {}", findings.errors.join("; "));
        if !was(phase::FAILED) || old_reason(&old, "Ready") != Some("InvalidSpec") {
            events.push(event(EventType::Warning, "InvalidSpec", &message));
        }
        return Ok(failed(
            status,
            conditions,
            events,
            "InvalidSpec",
            message,
            generation,
            &now,
        ));
    }

    let inputs = observe(&ctx.client, &ctx.stores.secrets, instance, &spec).await?;
    let Inputs {
        mut observed,
        missing_secrets,
        config_problem,
        workspace_problems,
        workspace_refs,
        token_generated,
        missing_claim,
    } = inputs;
    observed.cluster_defaults = defaults;

    // Secrets.
    if missing_secrets.is_empty() {
        set_condition(
            &mut conditions,
            "SecretsReady",
            TRUE,
            "AllSecretsFound",
            "All referenced Secrets found",
            generation,
            &now,
        );
    } else {
        let message = format!("Missing secrets: {}", missing_secrets.join(", "));
        if old_reason(&old, "SecretsReady") != Some("SecretsMissing") {
            events.push(event(EventType::Warning, "SecretNotFound", &message));
        }
        set_condition(
            &mut conditions,
            "SecretsReady",
            FALSE,
            "SecretsMissing",
            message,
            generation,
            &now,
        );
    }
    // Workspace ConfigMaps.
    if workspace_refs == 0 {
        remove_condition(&mut conditions, "WorkspaceReady");
    } else if let Some(p) = workspace_problems.first() {
        let message = workspace_problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if old_reason(&old, "WorkspaceReady") != Some(p.reason) {
            events.push(event(
                EventType::Warning,
                "WorkspaceConfigMapProblem",
                &message,
            ));
        }
        set_condition(
            &mut conditions,
            "WorkspaceReady",
            FALSE,
            p.reason,
            message,
            generation,
            &now,
        );
    } else {
        set_condition(
            &mut conditions,
            "WorkspaceReady",
            TRUE,
            "Resolved",
            "All workspace ConfigMaps resolved",
            generation,
            &now,
        );
    }
    // External config: nothing can be rendered without it; keep what runs.
    if let Some(p) = config_problem {
        if old_reason(&old, "ConfigValid") != Some(p.reason) {
            events.push(event(EventType::Warning, p.reason, &p.message));
        }
        set_condition(
            &mut conditions,
            "ConfigValid",
            FALSE,
            p.reason,
            &p.message,
            generation,
            &now,
        );
        set_condition(
            &mut conditions,
            "Ready",
            FALSE,
            p.reason,
            p.message,
            generation,
            &now,
        );
        status.phase = Some(phase::DEGRADED.into());
        status.conditions = Some(conditions);
        status.observed_generation = generation;
        return Ok(Outcome {
            status,
            events,
            action: Action::requeue(RESYNC),
            image: None,
        });
    }

    let rendered = match render(&merged, &observed) {
        Ok(r) => r,
        Err(e) => {
            let message = e.to_string();
            if old_reason(&old, "ConfigValid") != Some("InvalidConfig") {
                events.push(event(EventType::Warning, "InvalidConfig", &message));
            }
            set_condition(
                &mut conditions,
                "ConfigValid",
                FALSE,
                "InvalidConfig",
                &message,
                generation,
                &now,
            );
            return Ok(failed(
                status,
                conditions,
                events,
                "InvalidConfig",
                message,
                generation,
                &now,
            ));
        }
    };
    set_condition(
        &mut conditions,
        "ConfigValid",
        TRUE,
        "ConfigMapCreated",
        "openclaw.json rendered",
        generation,
        &now,
    );
    for w in &rendered.warnings {
        tracing::info!(instance = %instance.name_any(), "{w}");
    }

    let Applied {
        managed,
        custom: custom_results,
        ingress,
        soon,
    } = apply_all(instance, ctx, &rendered).await?;
    feature_conditions(
        &custom_results,
        ingress,
        &old,
        &mut conditions,
        &mut events,
        generation,
        &now,
    );

    // Per-object conditions, as the Go operator reports them (and removed when switched off).
    set_condition(
        &mut conditions,
        "RBACReady",
        TRUE,
        "RBACCreated",
        "ServiceAccount, Role and RoleBinding reconciled",
        generation,
        &now,
    );
    if managed.network_policy.is_some() {
        set_condition(
            &mut conditions,
            "NetworkPolicyReady",
            TRUE,
            "NetworkPolicyCreated",
            "NetworkPolicy reconciled",
            generation,
            &now,
        );
    } else {
        remove_condition(&mut conditions, "NetworkPolicyReady");
    }
    set_condition(
        &mut conditions,
        "ServiceReady",
        TRUE,
        "ServiceCreated",
        "Service reconciled",
        generation,
        &now,
    );
    let persistence = spec.storage.as_ref().and_then(|s| s.persistence.as_ref());
    if let Some(claim) = &missing_claim {
        let message = format!("existing claim {claim:?} not found");
        if old_reason(&old, "StorageReady") != Some("ExistingClaimNotFound") {
            events.push(event(EventType::Warning, "ExistingClaimNotFound", &message));
        }
        set_condition(
            &mut conditions,
            "StorageReady",
            FALSE,
            "ExistingClaimNotFound",
            message,
            generation,
            &now,
        );
    } else if persistence.is_some_and(|p| p.enabled == Some(false)) {
        remove_condition(&mut conditions, "StorageReady");
    } else if spec
        .availability
        .as_ref()
        .and_then(|a| a.auto_scaling.as_ref())
        .is_some_and(|a| a.enabled == Some(true))
    {
        // One PVC per replica (`data-<name>-N`) from the StatefulSet's templates.
        let reason = "ManagedByVolumeClaimTemplates";
        let old_data = format!("{}-data", instance.name_any());
        if old_reason(&old, "StorageReady") != Some(reason)
            && ctx
                .stores
                .pvcs
                .get(&ObjectRef::new(&old_data).within(&instance.namespace().unwrap_or_default()))
                .is_some()
        {
            events.push(event(
                EventType::Warning,
                "OrphanedPVC",
                format!(
                    "autoscaling uses per-replica volumes data-{}-N; {old_data} is no longer mounted (its data is not copied) and is kept",
                    instance.name_any()
                ),
            ));
        }
        set_condition(
            &mut conditions,
            "StorageReady",
            TRUE,
            reason,
            "Per-replica volumes from the StatefulSet's volumeClaimTemplates",
            generation,
            &now,
        );
    } else {
        set_condition(
            &mut conditions,
            "StorageReady",
            TRUE,
            "PVCCreated",
            "The data volume exists",
            generation,
            &now,
        );
    }
    if token_generated {
        events.push(event(
            EventType::Normal,
            "GatewayTokenCreated",
            "Generated the gateway token Secret",
        ));
    }

    // Report.
    let name = instance.name_any();
    let ns = instance.namespace().unwrap_or_default();
    let suspended = spec.suspended == Some(true);
    let sts = ctx
        .stores
        .stateful_sets
        .get(&ObjectRef::new(&name).within(&ns));
    let sts_status = sts
        .as_ref()
        .and_then(|s| s.status.clone())
        .unwrap_or_default();
    let current = sts.as_ref().is_some_and(|s| {
        s.status.as_ref().and_then(|st| st.observed_generation) >= s.meta().generation
    });
    let ready = current && sts_status.ready_replicas.unwrap_or(0) > 0;
    let degraded =
        !missing_secrets.is_empty() || !workspace_problems.is_empty() || missing_claim.is_some();
    let new_phase = if suspended {
        if current && sts_status.replicas == 0 {
            set_condition(
                &mut conditions,
                "StatefulSetReady",
                TRUE,
                "StatefulSetSuspended",
                "Scaled to zero",
                generation,
                &now,
            );
        } else {
            set_condition(
                &mut conditions,
                "StatefulSetReady",
                FALSE,
                "StatefulSetScalingDown",
                "Scaling to zero",
                generation,
                &now,
            );
        }
        set_condition(
            &mut conditions,
            "Ready",
            FALSE,
            "Suspended",
            "Instance is suspended (spec.suspended=true), workload scaled to zero",
            generation,
            &now,
        );
        phase::SUSPENDED
    } else if ready {
        set_condition(
            &mut conditions,
            "StatefulSetReady",
            TRUE,
            "StatefulSetReady",
            "The pod is Ready",
            generation,
            &now,
        );
        if degraded {
            set_condition(
                &mut conditions,
                "Ready",
                TRUE,
                "ReconcileSucceededDegraded",
                "Running, but a referenced input is missing (see SecretsReady / WorkspaceReady)",
                generation,
                &now,
            );
            phase::DEGRADED
        } else {
            set_condition(
                &mut conditions,
                "Ready",
                TRUE,
                "ReconcileSucceeded",
                "All resources reconciled and the pod is Ready",
                generation,
                &now,
            );
            phase::RUNNING
        }
    } else {
        set_condition(
            &mut conditions,
            "StatefulSetReady",
            FALSE,
            "StatefulSetNotReady",
            "Waiting for the StatefulSet pod to become ready",
            generation,
            &now,
        );
        set_condition(
            &mut conditions,
            "Ready",
            FALSE,
            "StatefulSetNotReady",
            "Waiting for the StatefulSet pod to become ready",
            generation,
            &now,
        );
        if degraded {
            phase::DEGRADED
        } else {
            phase::PROVISIONING
        }
    };
    if !was(new_phase) {
        match new_phase {
            phase::RUNNING => events.push(event(
                EventType::Normal,
                "Running",
                "The instance's pod is Ready",
            )),
            phase::SUSPENDED => events.push(event(
                EventType::Normal,
                "Suspended",
                "Instance suspended, workload scaled to zero",
            )),
            _ => {}
        }
    }
    status.phase = Some(new_phase.into());
    status.conditions = Some(conditions);
    if status.observed_generation != generation {
        status.last_reconcile_time = Some(now.clone());
    }
    status.observed_generation = generation;
    status.managed_resources = Some(managed);
    status.gateway_endpoint = Some(format!("{name}.{ns}.svc:18789"));
    status.canvas_endpoint = Some(format!("{name}.{ns}.svc:18793"));
    // A user's PVC is not watched: look again soon while it is missing.
    let action = if soon {
        Action::requeue(Duration::from_secs(3))
    } else if missing_claim.is_some() {
        Action::requeue(Duration::from_secs(15))
    } else {
        Action::requeue(RESYNC)
    };
    let image = rendered.iter().find_map(|o| match o {
        Object::StatefulSet(sts) => sts
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.image.clone()),
        _ => None,
    });
    Ok(Outcome {
        status,
        events,
        action,
        image,
    })
}

/// The conditions of the features backed by optional kinds: set while the feature is on,
/// removed when it is off. A missing CRD is reported, never a reconcile error, and the phase
/// is not changed by it.
fn feature_conditions(
    results: &std::collections::BTreeMap<CustomKind, KindResult>,
    ingress: bool,
    old: &OpenClawInstanceStatus,
    conditions: &mut Vec<Condition>,
    events: &mut Vec<Event>,
    generation: Option<i64>,
    now: &Time,
) {
    struct Spec {
        kind: CustomKind,
        condition: &'static str,
        ok: &'static str,
        absent: &'static str,
    }
    let specs = [
        Spec {
            kind: CustomKind::ServiceMonitor,
            condition: "ServiceMonitorReady",
            ok: "ServiceMonitorReconciled",
            absent: "CRDNotInstalled",
        },
        Spec {
            kind: CustomKind::PrometheusRule,
            condition: "PrometheusRuleReady",
            ok: "PrometheusRuleReconciled",
            absent: "CRDNotInstalled",
        },
        Spec {
            kind: CustomKind::HttpRoute,
            condition: "HTTPRouteReady",
            ok: "HTTPRouteReconciled",
            absent: "GatewayAPINotInstalled",
        },
        Spec {
            kind: CustomKind::TraefikMiddleware,
            condition: "IngressReady",
            ok: "IngressReconciled",
            absent: "TraefikMiddlewareCRDNotInstalled",
        },
    ];
    for spec in specs {
        let wanted = results.get(&spec.kind);
        let on = wanted.is_some() || (spec.kind == CustomKind::TraefikMiddleware && ingress);
        if !on {
            remove_condition(conditions, spec.condition);
            continue;
        }
        let crd = format!("{}.{}", spec.kind.plural(), spec.kind.group());
        if wanted == Some(&KindResult::Pending)
            && super::status::condition(conditions, spec.condition).is_some()
        {
            // The cache is still listing (e.g. just after a restart): keep what was reported,
            // so a restart writes nothing.
            continue;
        }
        let (status, reason, message) = match wanted.unwrap_or(&KindResult::Reconciled) {
            KindResult::Reconciled => (TRUE, spec.ok, format!("{} reconciled", spec.kind.kind())),
            KindResult::NotInstalled => (
                FALSE,
                spec.absent,
                format!("the CRD {crd} is not installed; nothing was created"),
            ),
            KindResult::Forbidden(m) => (
                FALSE,
                "Forbidden",
                format!("the operator may not manage {crd}: {m}"),
            ),
            KindResult::Pending => (
                FALSE,
                "Pending",
                format!("waiting for the {} cache", spec.kind.kind()),
            ),
        };
        if status == FALSE && reason != "Pending" && old_reason(old, spec.condition) != Some(reason)
        {
            let event_reason = if reason == "Forbidden" {
                "Forbidden"
            } else {
                "CRDNotInstalled"
            };
            events.push(event(EventType::Warning, event_reason, &message));
        }
        set_condition(
            conditions,
            spec.condition,
            status,
            reason,
            message,
            generation,
            now,
        );
    }
}

fn old_reason<'a>(old: &'a OpenClawInstanceStatus, type_: &str) -> Option<&'a str> {
    old.conditions
        .as_deref()
        .and_then(|c| super::status::condition(c, type_))
        .map(|c| c.reason.as_str())
}

/// How one optional third-party kind fared in a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KindResult {
    Reconciled,
    NotInstalled,
    Forbidden(String),
    Pending,
}

/// What applying concluded.
struct Applied {
    managed: ManagedResources,
    /// The optional kinds the instance wants, and how each fared.
    custom: std::collections::BTreeMap<CustomKind, KindResult>,
    /// Whether an Ingress was rendered.
    ingress: bool,
    /// Look again soon (a cache still listing, a StatefulSet being re-created).
    soon: bool,
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
