//! Step **report** of a reconcile: phase, conditions and events from what the earlier steps
//! found. A pure function of the previous status and the [`Facts`]; no I/O, no clock (`now` is
//! passed in), so every phase and condition reason is unit-tested without a cluster.
//!
//! Events are emitted once per distinct message: a Warning is published only when the
//! condition it explains changes reason or message, and render warnings only on the first pass
//! over a new generation. A converged instance therefore produces no event and, as the status
//! compares equal, no write.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::runtime::events::{Event, EventType};
use openclaw_api::validation::NotActedOn;
use openclaw_api::{ManagedResources, OpenClawInstanceStatus};
use openclaw_render::CustomKind;

use super::lifecycle::{Release, display_duration};
use super::observe::Problem;
use super::status::{FALSE, TRUE, condition, phase, remove_condition, set_condition};

/// Drift check interval when nothing else happens.
pub const RESYNC: Duration = Duration::from_secs(600);
/// Condition: every `pack:` skill resolved (only while the instance has one).
pub const SKILL_PACKS_READY: &str = "SkillPacksReady";
/// Condition: the periodic backup CronJob is in place.
pub const SCHEDULED_BACKUP_READY: &str = "ScheduledBackupReady";
/// Condition: the last one-shot backup (on delete, on demand) succeeded.
pub const BACKUP_COMPLETE: &str = "BackupComplete";
/// Condition: the `spec.restoreFrom` restore succeeded.
pub const RESTORE_COMPLETE: &str = "RestoreComplete";
/// Condition listing the render warnings that come from the operator's defaults.
pub const CONFIG_WARNINGS: &str = "ConfigWarnings";
/// Condition listing the spec fields whose feature is not built yet.
pub const NOT_ACTED_ON: &str = "FieldsNotActedOn";

/// Whether a failure is the spec's fault (the API server refused an object as invalid) or a
/// transient one (network, conflicts, RBAC, a server error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// Nothing changes until the spec does: phase `Failed`.
    Spec,
    /// Retried with backoff: phase `Degraded`.
    Transient,
}

/// A failed step, as a person reads it (the API server's own message, no debug dump).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Spec problem or transient.
    pub class: FailureClass,
    /// What failed and why.
    pub message: String,
}

/// What the validate step resolved about referenced inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputFacts {
    /// Referenced Secrets that do not exist (or lack the key needed).
    pub missing_secrets: Vec<String>,
    /// Workspace `configMapRef`s in use.
    pub workspace_refs: usize,
    /// Workspace ConfigMaps that are missing or hold invalid file names.
    pub workspace_problems: Vec<Problem>,
    /// The external config ConfigMap is missing or lacks its key.
    pub config_problem: Option<Problem>,
    /// `existingClaim` names a PVC that does not exist.
    pub missing_claim: Option<String>,
    /// A gateway token was generated in this pass.
    pub token_generated: bool,
}

/// How one optional third-party kind fared in a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindResult {
    /// Applied.
    Reconciled,
    /// Its CRD is not installed.
    NotInstalled,
    /// The operator may not manage it.
    Forbidden(String),
    /// Its cache is still listing.
    Pending,
}

/// What the apply and prune steps concluded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppliedFacts {
    /// `status.managedResources`.
    pub managed: ManagedResources,
    /// The optional kinds the instance wants, and how each fared.
    pub custom: BTreeMap<CustomKind, KindResult>,
    /// An Ingress was rendered.
    pub ingress: bool,
    /// Look again soon (a cache still listing, a StatefulSet being re-created).
    pub soon: bool,
}

/// The StatefulSet and storage as observed from the caches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// `spec.suspended`.
    pub suspended: bool,
    /// The StatefulSet's controller has seen its latest generation.
    pub current: bool,
    /// `status.replicas`.
    pub replicas: i32,
    /// `status.readyReplicas`.
    pub ready_replicas: i32,
    /// Persistence switched off.
    pub persistence_disabled: bool,
    /// Autoscaling on (one volume per replica).
    pub autoscaling: bool,
    /// The single-volume `<name>-data` PVC still exists (reported once autoscaling is on).
    pub old_data_pvc: bool,
}

/// Where a deletion stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// Cleanup steps are running since `since`; the message says what is pending.
    Waiting {
        /// `status.backingUpSince`.
        since: Time,
        /// What is pending.
        message: String,
    },
    /// The finalizer is released now.
    Released {
        /// `status.backingUpSince`, kept (a release that fails is retried against the same
        /// limit).
        since: Option<Time>,
        /// Why.
        release: Release,
    },
}

/// Everything the steps found in one pass.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// Instance name.
    pub name: String,
    /// Instance namespace.
    pub namespace: String,
    /// Validation errors of the merged spec (the pass stopped).
    pub invalid_spec: Option<String>,
    /// Spec fields whose feature is not built yet.
    pub not_acted_on: Vec<NotActedOn>,
    /// Referenced inputs (None: the pass stopped before).
    pub inputs: Option<InputFacts>,
    /// Render error (the pass stopped), or the render warnings caused by the spec (events).
    pub render: Option<Result<Vec<String>, String>>,
    /// Render warnings an empty spec gets too (the operator's defaults): condition
    /// [`CONFIG_WARNINGS`], no event.
    pub default_warnings: Vec<String>,
    /// A failed step (reading, applying, pruning).
    pub failure: Option<Failure>,
    /// What apply and prune concluded.
    pub applied: Option<AppliedFacts>,
    /// The workload.
    pub workload: Workload,
    /// A lifecycle workflow's phase and message, reported instead of the workload's.
    pub lifecycle_phase: Option<(&'static str, String)>,
    /// A deletion in progress.
    pub deletion: Option<Deletion>,
    /// The data-protection workflows.
    pub backup: super::backup::BackupFacts,
    /// Skill-pack resolution (`None`: no `pack:` skill anywhere).
    pub skill_packs: Option<SkillPackFacts>,
    /// The update workflow's plan (`None`: the pass stopped before it).
    pub update: Option<super::update_plan::Plan>,
}

/// How the `pack:` skills resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkillPackFacts {
    /// Packs resolved (fresh or from the cache).
    pub resolved: usize,
    /// One line per pack that could not be resolved (left out).
    pub errors: Vec<String>,
    /// Packs served from an older copy because the refresh failed.
    pub stale: Vec<String>,
    /// GitHub's rate limit is exhausted: when to look again.
    pub retry_in: Option<Duration>,
}

/// What to do after a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for a change of the instance or its inputs.
    AwaitChange,
    /// Look again after this delay.
    Requeue(Duration),
    /// A step failed: retry with backoff.
    Backoff,
}

/// The new status, the events to publish and when to look again.
pub struct Report {
    /// The status to write (written only when it differs from the old one).
    pub status: OpenClawInstanceStatus,
    /// Events to publish.
    pub events: Vec<Event>,
    /// What to do next.
    pub next: Next,
}

impl Report {
    /// Ready=True.
    pub fn ready(&self) -> bool {
        self.status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == TRUE)
    }
}

/// A Kubernetes event of the instance controller.
pub fn event(type_: EventType, reason: &str, note: impl Into<String>) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Reconcile".into(),
        secondary: None,
    }
}

struct Builder<'a> {
    old: &'a OpenClawInstanceStatus,
    status: OpenClawInstanceStatus,
    conditions: Vec<Condition>,
    events: Vec<Event>,
    generation: Option<i64>,
    now: &'a Time,
}

impl Builder<'_> {
    fn set(&mut self, type_: &str, status: &str, reason: &str, message: impl Into<String>) {
        set_condition(
            &mut self.conditions,
            type_,
            status,
            reason,
            message,
            self.generation,
            self.now,
        );
    }

    fn old_condition(&self, type_: &str) -> Option<&Condition> {
        self.old
            .conditions
            .as_deref()
            .and_then(|c| condition(c, type_))
    }

    fn old_reason(&self, type_: &str) -> Option<&str> {
        self.old_condition(type_).map(|c| c.reason.as_str())
    }

    /// A Warning, unless the condition already said the same.
    fn warn_once(&mut self, type_: &str, reason: &str, event_reason: &str, message: &str) {
        let same = self
            .old_condition(type_)
            .is_some_and(|c| c.reason == reason && c.message == message);
        if !same {
            self.events
                .push(event(EventType::Warning, event_reason, message));
        }
    }

    fn was(&self, p: &str) -> bool {
        self.old.phase.as_deref() == Some(p)
    }

    fn finish(mut self, phase: &str, next: Next) -> Report {
        self.status.phase = Some(phase.into());
        self.status.conditions = Some(self.conditions);
        self.status.observed_generation = self.generation;
        Report {
            status: self.status,
            events: self.events,
            next,
        }
    }
}

/// Phase, conditions and events of one pass.
pub fn report(old: &OpenClawInstanceStatus, facts: &Facts, now: &Time) -> Report {
    let mut status = old.clone();
    let conditions = status.conditions.take().unwrap_or_default();
    let mut b = Builder {
        old,
        status,
        conditions,
        events: Vec::new(),
        generation: facts.generation,
        now,
    };
    if let Some(deletion) = &facts.deletion {
        return deleting(b, deletion);
    }
    not_acted_on(&mut b, &facts.not_acted_on);

    if let Some(message) = &facts.invalid_spec {
        b.warn_once("Ready", "InvalidSpec", "InvalidSpec", message);
        b.set("Ready", FALSE, "InvalidSpec", message);
        return b.finish(phase::FAILED, Next::AwaitChange);
    }

    let inputs = facts.inputs.clone().unwrap_or_default();
    if facts.inputs.is_some() {
        input_conditions(&mut b, &inputs);
        if let Some(p) = &inputs.config_problem {
            // Nothing can be rendered without the external config; what runs is kept.
            b.warn_once("ConfigValid", p.reason, p.reason, &p.message);
            b.set("ConfigValid", FALSE, p.reason, &p.message);
            b.set("Ready", FALSE, p.reason, &p.message);
            return b.finish(phase::DEGRADED, Next::Requeue(RESYNC));
        }
    }

    match &facts.render {
        Some(Err(message)) => {
            b.warn_once("ConfigValid", "InvalidConfig", "InvalidConfig", message);
            b.set("ConfigValid", FALSE, "InvalidConfig", message);
            b.set("Ready", FALSE, "InvalidConfig", message);
            return b.finish(phase::FAILED, Next::AwaitChange);
        }
        Some(Ok(warnings)) => {
            let rendered_before = b
                .old_condition("ConfigValid")
                .is_some_and(|c| c.status == TRUE);
            b.set(
                "ConfigValid",
                TRUE,
                "ConfigMapCreated",
                "openclaw.json rendered",
            );
            // Once per generation, or on the first render after passes that did not render: a
            // restart or a resync repeats nothing.
            if facts.default_warnings.is_empty() {
                remove_condition(&mut b.conditions, CONFIG_WARNINGS);
            } else {
                b.set(
                    CONFIG_WARNINGS,
                    TRUE,
                    "OperatorDefaults",
                    facts.default_warnings.join("; "),
                );
            }
            if old.observed_generation != facts.generation || !rendered_before {
                for w in warnings {
                    b.events.push(event(EventType::Warning, "RenderWarning", w));
                }
            }
        }
        None => {}
    }

    if let Some(failure) = &facts.failure {
        let (reason, phase, next) = match failure.class {
            FailureClass::Spec => ("ApplyRejected", phase::FAILED, Next::Backoff),
            FailureClass::Transient => ("ReconcileFailed", phase::DEGRADED, Next::Backoff),
        };
        b.warn_once("Ready", reason, reason, &failure.message);
        b.set("Ready", FALSE, reason, &failure.message);
        return b.finish(phase, next);
    }

    let Some(applied) = &facts.applied else {
        // Nothing applied and nothing failed: only reachable from a partial fact set; keep the
        // phase the instance had, or Pending.
        let phase = old
            .phase
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| phase::PENDING.into());
        return b.finish(&phase, Next::Requeue(RESYNC));
    };
    feature_conditions(&mut b, applied);
    object_conditions(&mut b, facts, &inputs, applied);
    backup_conditions(&mut b, &facts.backup);
    update_conditions(&mut b, facts.update.as_ref());
    let packs_failed = skill_pack_conditions(&mut b, facts.skill_packs.as_ref());
    if inputs.token_generated {
        b.events.push(event(
            EventType::Normal,
            "GatewayTokenCreated",
            "Generated the gateway token Secret",
        ));
    }

    let degraded = !inputs.missing_secrets.is_empty()
        || !inputs.workspace_problems.is_empty()
        || inputs.missing_claim.is_some()
        || packs_failed;
    let new_phase = match &facts.lifecycle_phase {
        Some((p, message)) => {
            b.set("Ready", FALSE, p, message);
            *p
        }
        None => workload_phase(&mut b, &facts.workload, degraded),
    };
    if !b.was(new_phase) {
        match new_phase {
            phase::RUNNING => b.events.push(event(
                EventType::Normal,
                "Running",
                "The instance's pod is Ready",
            )),
            phase::SUSPENDED => b.events.push(event(
                EventType::Normal,
                "Suspended",
                "Instance suspended, workload scaled to zero",
            )),
            _ => {}
        }
    }
    if b.status.observed_generation != facts.generation {
        b.status.last_reconcile_time = Some(now.clone());
    }
    b.status.managed_resources = Some(applied.managed.clone());
    b.status.gateway_endpoint = Some(format!("{}.{}.svc:18789", facts.name, facts.namespace));
    b.status.canvas_endpoint = Some(format!("{}.{}.svc:18793", facts.name, facts.namespace));
    let update_soon = facts.update.as_ref().and_then(|u| u.requeue);
    let next = if applied.soon {
        Next::Requeue(Duration::from_secs(3))
    } else if let Some(soon) = update_soon.filter(|s| *s < Duration::from_secs(60)) {
        Next::Requeue(soon.max(Duration::from_secs(1)))
    } else if let Some(soon) = facts.backup.requeue {
        Next::Requeue(soon)
    } else if inputs.missing_claim.is_some() {
        // A user's PVC is not watched: look again soon while it is missing.
        Next::Requeue(Duration::from_secs(15))
    } else if let Some(wait) = facts.skill_packs.as_ref().and_then(|p| p.retry_in) {
        // GitHub's rate limit resets then (no request goes out before).
        Next::Requeue(wait.clamp(Duration::from_secs(1), RESYNC))
    } else if facts
        .skill_packs
        .as_ref()
        .is_some_and(|p| !p.errors.is_empty())
    {
        // The resolver's cache expires after 5 minutes: try the failed packs again then.
        Next::Requeue(Duration::from_secs(300))
    } else if let Some(soon) = update_soon {
        Next::Requeue(soon.min(RESYNC))
    } else {
        Next::Requeue(RESYNC)
    };
    b.finish(new_phase, next)
}

/// The update workflow's status, conditions and events.
fn update_conditions(b: &mut Builder<'_>, plan: Option<&super::update_plan::Plan>) {
    use super::update_plan::Cond;
    let Some(plan) = plan else {
        return;
    };
    if let Some(au) = &plan.status {
        b.status.auto_update = Some(au.clone());
    }
    for c in &plan.conditions {
        match c {
            Cond::Set(t, s, r, m) => {
                let changed = b
                    .old_condition(t)
                    .is_none_or(|o| o.status != *s || o.reason != *r || o.message != *m);
                if changed
                    && let Some((_, reason)) = plan.warn_on_change.iter().find(|(ty, _)| ty == t)
                {
                    b.events.push(event(EventType::Warning, reason, m.clone()));
                }
                b.set(t, s, r, m.clone());
            }
            Cond::Remove(t) => remove_condition(&mut b.conditions, t),
        }
    }
    for (warning, reason, message) in &plan.events {
        let t = if *warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        b.events.push(event(t, reason, message.clone()));
    }
}

/// `SkillPacksReady` and the `SkillPackResolutionFailed` event; true when a pack failed (the
/// instance is Degraded: it runs without that pack).
fn skill_pack_conditions(b: &mut Builder<'_>, facts: Option<&SkillPackFacts>) -> bool {
    let Some(p) = facts else {
        // No pack left: nothing to report (the Go operator kept a stale condition).
        remove_condition(&mut b.conditions, SKILL_PACKS_READY);
        return false;
    };
    if p.errors.is_empty() {
        let mut message = format!("Successfully resolved {} skill pack(s)", p.resolved);
        if !p.stale.is_empty() {
            message.push_str(&format!(
                "; GitHub could not be asked again, so these are served from an earlier copy: {}",
                p.stale.join("; ")
            ));
        }
        b.set(SKILL_PACKS_READY, TRUE, "Resolved", message);
        return false;
    }
    let message = format!("Failed to resolve skill packs: {}", p.errors.join("; "));
    let same = b
        .old_condition(SKILL_PACKS_READY)
        .is_some_and(|c| c.reason == "ResolutionFailed" && c.message == message);
    if !same {
        b.events.push(event(
            EventType::Warning,
            "SkillPackResolutionFailed",
            format!(
                "{message}. The instance runs without these packs; what they seeded earlier stays."
            ),
        ));
    }
    b.set(SKILL_PACKS_READY, FALSE, "ResolutionFailed", message);
    true
}

/// The conditions, status fields and events of the data-protection workflows.
fn backup_conditions(b: &mut Builder<'_>, facts: &super::backup::BackupFacts) {
    use super::backup::{OnDemandState, RestoreState, Scheduled};
    match &facts.scheduled {
        Scheduled::Off => remove_condition(&mut b.conditions, SCHEDULED_BACKUP_READY),
        Scheduled::NoVolume => b.set(
            SCHEDULED_BACKUP_READY,
            FALSE,
            "PersistenceDisabled",
            "Periodic backups need a single data volume (persistence is off, or every replica \
             has its own volume)",
        ),
        Scheduled::Invalid(problem) => {
            let message = format!("spec.backup.schedule: {problem}");
            b.warn_once(
                SCHEDULED_BACKUP_READY,
                "InvalidSchedule",
                "InvalidSchedule",
                &message,
            );
            b.set(SCHEDULED_BACKUP_READY, FALSE, "InvalidSchedule", message);
        }
        Scheduled::Credentials(problem) => b.set(
            SCHEDULED_BACKUP_READY,
            FALSE,
            "S3CredentialsMissing",
            format!(
                "{problem} - create or fix the s3-backup-credentials Secret to enable periodic \
                 backups"
            ),
        ),
        Scheduled::Ready { cron_job, schedule } => b.set(
            SCHEDULED_BACKUP_READY,
            TRUE,
            "CronJobReady",
            format!("Periodic backup CronJob {cron_job:?} created with schedule {schedule:?}"),
        ),
    }
    if let Some((at, path)) = &facts.periodic
        && b.status
            .last_backup_time
            .as_ref()
            .is_none_or(|t| t.0 < at.0)
    {
        b.status.last_backup_time = Some(at.clone());
        b.status.last_backup_path = Some(path.clone());
    }
    match &facts.restore {
        None => {}
        Some(RestoreState::Waiting(_)) | Some(RestoreState::Running { .. }) => {}
        Some(RestoreState::Credentials(m)) => {
            b.warn_once(
                RESTORE_COMPLETE,
                "S3CredentialsMissing",
                "RestoreCredentialsFailed",
                m,
            );
            b.set(RESTORE_COMPLETE, FALSE, "S3CredentialsMissing", m.clone());
        }
        Some(RestoreState::Started { job, path }) => {
            b.events.push(event(
                EventType::Normal,
                "RestoreStarted",
                format!("Restore Job {job} created, source: {path}"),
            ));
            b.set(
                RESTORE_COMPLETE,
                FALSE,
                "RestoreInProgress",
                format!("Restore Job {job} running, source: {path}"),
            );
            b.status.restore_job_name = Some(job.clone());
        }
        Some(RestoreState::Succeeded { path }) => {
            let message = format!("Restore completed from {path}");
            if b.old.restored_from.as_deref() != Some(path) {
                b.events
                    .push(event(EventType::Normal, "RestoreComplete", message.clone()));
            }
            b.set(RESTORE_COMPLETE, TRUE, "RestoreSucceeded", message);
            b.status.restored_from = Some(path.clone());
        }
        Some(RestoreState::Failed {
            path,
            job,
            message,
            attempts,
        }) => {
            let message = format!(
                "Restore from {path} failed after {attempts} attempt(s) (last Job {job}: {message}). Fix \
                 the path or the credentials and set a new spec.restoreFrom, or remove it to \
                 start without restoring"
            );
            b.warn_once(RESTORE_COMPLETE, "RestoreFailed", "RestoreFailed", &message);
            b.set(RESTORE_COMPLETE, FALSE, "RestoreFailed", message);
        }
        Some(RestoreState::Impossible(m)) => {
            b.warn_once(
                RESTORE_COMPLETE,
                "RestoreNotPossible",
                "RestoreNotPossible",
                m,
            );
            b.set(RESTORE_COMPLETE, FALSE, "RestoreNotPossible", m.clone());
        }
    }
    match &facts.on_demand {
        None | Some(OnDemandState::Waiting(_)) | Some(OnDemandState::Running { .. }) => {}
        Some(OnDemandState::Retrying(m)) => {
            b.warn_once(BACKUP_COMPLETE, "BackupRetrying", "BackupRetrying", m);
            b.set(BACKUP_COMPLETE, FALSE, "BackupRetrying", m.clone());
        }
        Some(OnDemandState::Credentials(m)) => {
            b.warn_once(
                BACKUP_COMPLETE,
                "S3CredentialsMissing",
                "BackupCredentialsFailed",
                m,
            );
            b.set(BACKUP_COMPLETE, FALSE, "S3CredentialsMissing", m.clone());
        }
        Some(OnDemandState::Started { job, path }) => {
            b.events.push(event(
                EventType::Normal,
                "BackupStarted",
                format!("Backup Job {job} created, target: {path}"),
            ));
            b.status.backup_job_name = Some(job.clone());
        }
        Some(OnDemandState::Succeeded { request, path, at }) => {
            let message = format!("Backup completed to {path}");
            if b.old.last_backup_request.as_deref() != Some(request) {
                b.events
                    .push(event(EventType::Normal, "BackupComplete", message.clone()));
            }
            b.set(BACKUP_COMPLETE, TRUE, "BackupSucceeded", message);
            b.status.last_backup_request = Some(request.clone());
            b.status.last_backup_path = Some(path.clone());
            b.status.last_backup_time = Some(at.clone().unwrap_or_else(|| b.now.clone()));
        }
        Some(OnDemandState::Failed { request, message }) => {
            if b.old.last_backup_request.as_deref() != Some(request) {
                b.events
                    .push(event(EventType::Warning, "BackupFailed", message.clone()));
            }
            b.set(BACKUP_COMPLETE, FALSE, "BackupFailed", message.clone());
            b.status.last_backup_request = Some(request.clone());
        }
    }
}

fn deleting(mut b: Builder<'_>, deletion: &Deletion) -> Report {
    match deletion {
        Deletion::Waiting { since, message } => {
            b.status.backing_up_since = Some(since.clone());
            b.set(
                "Ready",
                FALSE,
                "BackingUp",
                format!("Deleting: waiting for cleanup ({message})"),
            );
            b.finish(phase::BACKING_UP, Next::Requeue(Duration::from_secs(10)))
        }
        Deletion::Released { since, release } => {
            b.status.backing_up_since = since.clone();
            // Once: a release retried after a failed finalizer patch repeats no event.
            let again = b.was(phase::TERMINATING);
            match release {
                _ if again => {}
                Release::TimedOut(limit) => {
                    let message = format!(
                        "Backup did not complete within {} - skipping backup and proceeding with deletion",
                        display_duration(*limit)
                    );
                    b.events
                        .push(event(EventType::Warning, "BackupTimedOut", &message));
                    b.set("BackupComplete", FALSE, "BackupTimedOut", message);
                }
                Release::Skipped => b.events.push(event(
                    EventType::Normal,
                    "BackupSkipped",
                    "Annotation openclaw.rocks/skip-backup=true: deleting without cleanup",
                )),
                Release::Done => {}
            }
            b.set(
                "Ready",
                FALSE,
                "Terminating",
                "The instance is being deleted",
            );
            b.finish(phase::TERMINATING, Next::AwaitChange)
        }
    }
}

fn not_acted_on(b: &mut Builder<'_>, fields: &[NotActedOn]) {
    if fields.is_empty() {
        remove_condition(&mut b.conditions, NOT_ACTED_ON);
        return;
    }
    let message = fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    b.set(NOT_ACTED_ON, TRUE, "FeatureNotBuilt", message);
}

fn input_conditions(b: &mut Builder<'_>, inputs: &InputFacts) {
    if inputs.missing_secrets.is_empty() {
        b.set(
            "SecretsReady",
            TRUE,
            "AllSecretsFound",
            "All referenced Secrets found",
        );
    } else {
        let message = format!("Missing secrets: {}", inputs.missing_secrets.join(", "));
        b.warn_once("SecretsReady", "SecretsMissing", "SecretNotFound", &message);
        b.set("SecretsReady", FALSE, "SecretsMissing", message);
    }
    if inputs.workspace_refs == 0 {
        remove_condition(&mut b.conditions, "WorkspaceReady");
    } else if let Some(p) = inputs.workspace_problems.first() {
        let message = inputs
            .workspace_problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        b.warn_once(
            "WorkspaceReady",
            p.reason,
            "WorkspaceConfigMapProblem",
            &message,
        );
        b.set("WorkspaceReady", FALSE, p.reason, message);
    } else {
        b.set(
            "WorkspaceReady",
            TRUE,
            "Resolved",
            "All workspace ConfigMaps resolved",
        );
    }
}

/// The conditions of the features backed by optional kinds: set while the feature is on,
/// removed when it is off. A missing CRD is reported, never a reconcile error, and the phase
/// is not changed by it.
fn feature_conditions(b: &mut Builder<'_>, applied: &AppliedFacts) {
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
        let wanted = applied.custom.get(&spec.kind);
        let on =
            wanted.is_some() || (spec.kind == CustomKind::TraefikMiddleware && applied.ingress);
        if !on {
            remove_condition(&mut b.conditions, spec.condition);
            continue;
        }
        let crd = format!("{}.{}", spec.kind.plural(), spec.kind.group());
        if wanted == Some(&KindResult::Pending)
            && condition(&b.conditions, spec.condition).is_some()
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
        if status == FALSE && reason != "Pending" {
            let event_reason = if reason == "Forbidden" {
                "Forbidden"
            } else {
                "CRDNotInstalled"
            };
            b.warn_once(spec.condition, reason, event_reason, &message);
        }
        b.set(spec.condition, status, reason, message);
    }
}

/// Per-object conditions, as the Go operator reports them (removed when switched off).
fn object_conditions(
    b: &mut Builder<'_>,
    facts: &Facts,
    inputs: &InputFacts,
    applied: &AppliedFacts,
) {
    b.set(
        "RBACReady",
        TRUE,
        "RBACCreated",
        "ServiceAccount, Role and RoleBinding reconciled",
    );
    if applied.managed.network_policy.is_some() {
        b.set(
            "NetworkPolicyReady",
            TRUE,
            "NetworkPolicyCreated",
            "NetworkPolicy reconciled",
        );
    } else {
        remove_condition(&mut b.conditions, "NetworkPolicyReady");
    }
    b.set("ServiceReady", TRUE, "ServiceCreated", "Service reconciled");
    let w = &facts.workload;
    if let Some(claim) = &inputs.missing_claim {
        let message = format!("existing claim {claim:?} not found");
        b.warn_once(
            "StorageReady",
            "ExistingClaimNotFound",
            "ExistingClaimNotFound",
            &message,
        );
        b.set("StorageReady", FALSE, "ExistingClaimNotFound", message);
    } else if w.persistence_disabled {
        remove_condition(&mut b.conditions, "StorageReady");
    } else if w.autoscaling {
        // One PVC per replica (`data-<name>-N`) from the StatefulSet's templates.
        let reason = "ManagedByVolumeClaimTemplates";
        if b.old_reason("StorageReady") != Some(reason) && w.old_data_pvc {
            b.events.push(event(
                EventType::Warning,
                "OrphanedPVC",
                format!(
                    "autoscaling uses per-replica volumes data-{name}-N; {name}-data is no longer mounted (its data is not copied) and is kept",
                    name = facts.name
                ),
            ));
        }
        b.set(
            "StorageReady",
            TRUE,
            reason,
            "Per-replica volumes from the StatefulSet's volumeClaimTemplates",
        );
    } else {
        b.set("StorageReady", TRUE, "PVCCreated", "The data volume exists");
    }
}

fn workload_phase(b: &mut Builder<'_>, w: &Workload, degraded: bool) -> &'static str {
    let ready = w.current && w.ready_replicas > 0;
    if w.suspended {
        if w.current && w.replicas == 0 {
            b.set(
                "StatefulSetReady",
                TRUE,
                "StatefulSetSuspended",
                "Scaled to zero",
            );
        } else {
            b.set(
                "StatefulSetReady",
                FALSE,
                "StatefulSetScalingDown",
                "Scaling to zero",
            );
        }
        b.set(
            "Ready",
            FALSE,
            "Suspended",
            "Instance is suspended (spec.suspended=true), workload scaled to zero",
        );
        phase::SUSPENDED
    } else if ready {
        b.set(
            "StatefulSetReady",
            TRUE,
            "StatefulSetReady",
            "The pod is Ready",
        );
        if degraded {
            b.set(
                "Ready",
                TRUE,
                "ReconcileSucceededDegraded",
                "Running, but a referenced input is missing (see SecretsReady / WorkspaceReady)",
            );
            phase::DEGRADED
        } else {
            b.set(
                "Ready",
                TRUE,
                "ReconcileSucceeded",
                "All resources reconciled and the pod is Ready",
            );
            phase::RUNNING
        }
    } else {
        let message = "Waiting for the StatefulSet pod to become ready";
        b.set("StatefulSetReady", FALSE, "StatefulSetNotReady", message);
        b.set("Ready", FALSE, "StatefulSetNotReady", message);
        if degraded {
            phase::DEGRADED
        } else {
            phase::PROVISIONING
        }
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
