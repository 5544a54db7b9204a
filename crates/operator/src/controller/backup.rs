//! Step **lifecycle**: the data-protection workflows (backup on delete, on demand, restore),
//! on the one-shot rclone Jobs of [`openclaw_render::features::backup`].
//!
//! Every workflow keeps its progress in the cluster, never in memory: in the Jobs themselves
//! (their `openclaw.rocks/job-type` label, the request they serve and their attempt number in
//! annotations, their `Complete`/`Failed` conditions) and in the instance's status
//! (`restoredFrom`, `lastBackupRequest`, `lastBackupPath`, `lastBackupTime`). So a pass after an
//! operator restart, at any point, picks up where the last one stopped. A failed Job is never
//! deleted (its pod's logs say why); a retry is a new Job `<name>-<suffix>-<attempt>`.
//!
//! The decisions are pure ([`progress`], [`next_action`]); the I/O is [`drive`] and
//! [`BackupOnDelete`] (the cleanup step of the finalizer).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use openclaw_api::OpenClawInstance;
use openclaw_render::features::backup::{self as render_backup, JobKind, PATH_ANNOTATION};
use openclaw_render::model::Model;
use openclaw_render::{Object, S3Credentials, WriteMode};

use super::lifecycle::StepState;
use super::{Context, Error};

/// Annotation of a one-shot Job: the request it serves (the restore path, the on-demand
/// request value, `delete`, or the update it precedes).
pub const REQUEST_ANNOTATION: &str = "openclaw.rocks/backup-request";
/// Annotation of a one-shot Job: its attempt number (1, 2, ...).
pub const ATTEMPT_ANNOTATION: &str = "openclaw.rocks/backup-attempt";
/// Instance annotation asking for one backup now; each distinct value runs one backup.
pub const BACKUP_NOW: &str = "openclaw.rocks/backup-now";
/// Jobs (each with its own pod retries) a restore or an on-demand backup may use before it is
/// reported failed. A backup on delete retries until the deletion's time limit instead.
pub const MAX_ATTEMPTS: u32 = 3;
/// How often a running Job is looked at (its status changes also trigger a pass).
pub const JOB_POLL: Duration = Duration::from_secs(10);
/// How often a workflow waiting for credentials looks again.
pub const CREDENTIALS_POLL: Duration = Duration::from_secs(30);

/// Where the operator reads the `s3-backup-credentials` Secret.
#[derive(Clone, Debug, Default)]
pub struct BackupOptions {
    /// The operator's namespace; `None`: backups are off (no Secret is read).
    pub credentials_namespace: Option<String>,
    /// Clear `spec.restoreFrom` after a successful restore, as the Go operator does. Off by
    /// default: a restore runs once per distinct path recorded in `status.restoredFrom`, so a
    /// GitOps tool that keeps `restoreFrom` in the manifest does not fight the operator.
    pub clear_restore_from: bool,
}

/// The state of the credentials Secret.
#[derive(Clone, Debug, PartialEq)]
pub enum Credentials {
    /// Backups are off (no namespace configured) or the Secret does not exist.
    Missing,
    /// The Secret exists but cannot be used; the message says why.
    Invalid(String),
    /// Ready.
    Ready(S3Credentials),
}

impl Credentials {
    /// Read the credentials Secret from its cache.
    pub fn read(store: Option<&Store<Secret>>, namespace: Option<&str>) -> Credentials {
        let (Some(store), Some(ns)) = (store, namespace) else {
            return Credentials::Missing;
        };
        let key = ObjectRef::new(render_backup::CREDENTIALS_SECRET).within(ns);
        let Some(secret) = store.get(&key) else {
            return Credentials::Missing;
        };
        match render_backup::parse_credentials(&secret.data.clone().unwrap_or_default()) {
            Ok(c) => Credentials::Ready(c),
            Err(e) => Credentials::Invalid(e.to_string()),
        }
    }

    /// The usable credentials.
    pub fn ready(&self) -> Option<&S3Credentials> {
        match self {
            Credentials::Ready(c) => Some(c),
            _ => None,
        }
    }

    /// Why they cannot be used (for conditions and events).
    pub fn problem(&self) -> Option<String> {
        match self {
            Credentials::Missing => Some(format!(
                "S3 credentials Secret {} not found in the operator's namespace",
                render_backup::CREDENTIALS_SECRET
            )),
            Credentials::Invalid(m) => Some(m.clone()),
            Credentials::Ready(_) => None,
        }
    }
}

/// How a Job ended, or that it has not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not finished.
    Running,
    /// `Complete`, at this time.
    Succeeded(Option<Time>),
    /// `Failed`, with the condition's message.
    Failed(String),
    /// `Failed` on a permanent error (the pod failure policy's `FailJob` on one of rclone's
    /// permanent exit codes), with what it means.
    FailedPermanently(String),
}

/// What the workflows need of one Job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobView {
    /// Its name.
    pub name: String,
    /// What it does.
    pub kind: JobKind,
    /// The request it serves.
    pub request: String,
    /// The remote path it reads or writes.
    pub path: String,
    /// Its attempt number.
    pub attempt: u32,
    /// How it stands.
    pub outcome: Outcome,
    /// When it finished (its `Complete` or `Failed` condition's transition).
    pub finished: Option<Time>,
}

impl JobView {
    /// The view of a one-shot Job of ours (`None` for any other Job).
    pub fn of(job: &Job) -> Option<JobView> {
        let kind = JobKind::from_job_type(job.labels().get(render_backup::JOB_TYPE_LABEL)?)?;
        let annotations = job.annotations();
        let conditions = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let is = |t: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == t && c.status == "True")
        };
        let finished = is("Complete")
            .or_else(|| is("Failed"))
            .and_then(|c| c.last_transition_time.clone());
        let outcome = if let Some(c) = is("Complete") {
            Outcome::Succeeded(
                job.status
                    .as_ref()
                    .and_then(|s| s.completion_time.clone())
                    .or_else(|| c.last_transition_time.clone()),
            )
        } else if let Some(c) = is("Failed") {
            let message = c
                .message
                .clone()
                .filter(|m| !m.is_empty())
                .or_else(|| c.reason.clone())
                .unwrap_or_else(|| "the Job failed".into());
            match (c.reason.as_deref(), exit_code(&message)) {
                (Some("PodFailurePolicy"), Some(code))
                    if render_backup::PERMANENT_EXIT_CODES.contains(&code) =>
                {
                    Outcome::FailedPermanently(explain_exit_code(code))
                }
                (Some("PodFailurePolicy"), Some(code)) => Outcome::Failed(explain_exit_code(code)),
                _ => Outcome::Failed(message),
            }
        } else {
            Outcome::Running
        };
        Some(JobView {
            name: job.name_any(),
            kind,
            request: annotations
                .get(REQUEST_ANNOTATION)
                .cloned()
                .unwrap_or_default(),
            path: annotations
                .get(PATH_ANNOTATION)
                .cloned()
                .unwrap_or_default(),
            attempt: annotations
                .get(ATTEMPT_ANNOTATION)
                .and_then(|a| a.parse().ok())
                .unwrap_or(1),
            outcome,
            finished,
        })
    }
}

/// The exit code in a Job's `Failed` message ("... failed with exit code 3 matching FailJob
/// rule ...").
fn exit_code(message: &str) -> Option<i32> {
    let rest = &message[message.find("exit code ")? + "exit code ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// What one of rclone's exit codes means, for a person.
pub fn explain_exit_code(code: i32) -> String {
    let what = match code {
        1 => {
            "an error rclone cannot retry: wrong credentials, a wrong region, a bucket that does \
             not exist, a file the Job cannot read"
        }
        3 => "directory not found: the path does not exist in the bucket",
        4 => "file not found",
        5 => {
            "a temporary error rclone's own retries did not get past: the S3 endpoint could not \
             be reached (a wrong endpoint, or the server is down) or kept failing"
        }
        6 => "some files could not be copied",
        7 => "a fatal error (for example a missing bucket, or credentials the storage refuses)",
        137 => "killed (out of memory, or stopped by the node)",
        _ if render_backup::PERMANENT_EXIT_CODES.contains(&code) => "a permanent error",
        _ => "an error",
    };
    format!("rclone exited with code {code}: {what}")
}

/// Where one request stands, from its Jobs.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// No Job yet.
    NotStarted,
    /// A Job is running.
    Running(JobView),
    /// A Job succeeded.
    Succeeded(JobView),
    /// Every Job so far failed; the last one, and how many there were.
    Failed {
        /// The last failed Job.
        last: JobView,
        /// Failed Jobs of this request.
        attempts: u32,
    },
}

/// Where the request `request` of `kind` stands, from the instance's Jobs.
pub fn progress(jobs: &[JobView], kind: JobKind, request: &str) -> Progress {
    let mut mine: Vec<&JobView> = jobs
        .iter()
        .filter(|j| j.kind == kind && j.request == request)
        .collect();
    mine.sort_by_key(|j| j.attempt);
    if let Some(done) = mine
        .iter()
        .find(|j| matches!(j.outcome, Outcome::Succeeded(_)))
    {
        return Progress::Succeeded((*done).clone());
    }
    if let Some(running) = mine.iter().find(|j| j.outcome == Outcome::Running) {
        return Progress::Running((*running).clone());
    }
    match mine.last() {
        None => Progress::NotStarted,
        Some(last) => Progress::Failed {
            last: (*last).clone(),
            attempts: mine.len() as u32,
        },
    }
}

/// What to do about one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create attempt `attempt` copying to or from `path`.
    Start {
        /// Attempt number.
        attempt: u32,
        /// Remote path.
        path: String,
    },
    /// Wait for the running Job.
    Wait(JobView),
    /// The last attempt failed: the next one starts after this delay.
    RetryLater {
        /// The delay.
        after: Duration,
        /// The failed Job.
        last: JobView,
    },
    /// Finished successfully.
    Done(JobView),
    /// Given up after `attempts` failed Jobs.
    GaveUp {
        /// The last failed Job.
        last: JobView,
        /// How many failed.
        attempts: u32,
    },
}

/// The delay before attempt `attempts + 1`: 15 s, doubling, at most 5 minutes.
pub fn retry_delay(attempts: u32) -> Duration {
    let secs = 15u64.saturating_mul(1 << attempts.saturating_sub(1).min(5));
    Duration::from_secs(secs.min(300))
}

/// The next step of a request: start (again) unless a Job runs, succeeded, or the attempts
/// are used up (`max_attempts: None`: retry until the caller's time limit). A retry writes to
/// the same path as the first attempt, and waits [`retry_delay`] after the last failure.
pub fn next_action(
    progress: &Progress,
    new_path: &str,
    max_attempts: Option<u32>,
    now: &Time,
) -> Action {
    match progress {
        Progress::NotStarted => Action::Start {
            attempt: 1,
            path: new_path.to_string(),
        },
        Progress::Running(j) => Action::Wait(j.clone()),
        Progress::Succeeded(j) => Action::Done(j.clone()),
        Progress::Failed { last, attempts } => {
            let permanent = matches!(last.outcome, Outcome::FailedPermanently(_));
            if max_attempts.is_some_and(|max| *attempts >= max || permanent) {
                return Action::GaveUp {
                    last: last.clone(),
                    attempts: *attempts,
                };
            }
            let delay = retry_delay(*attempts);
            if let Some(at) = &last.finished {
                let since = now.0.as_second().saturating_sub(at.0.as_second());
                let left = (delay.as_secs() as i64).saturating_sub(since.max(0));
                if left > 0 {
                    return Action::RetryLater {
                        after: Duration::from_secs(left.unsigned_abs()),
                        last: last.clone(),
                    };
                }
            }
            Action::Start {
                attempt: attempts + 1,
                path: if last.path.is_empty() {
                    new_path.to_string()
                } else {
                    last.path.clone()
                },
            }
        }
    }
}

/// The name of attempt `attempt` of a Job of `kind` for `request`: `<name>-<suffix>`, plus a
/// short hash of the request for the kinds whose requests vary (a new restore path, a new
/// on-demand value never meets an old Job of the same name), plus `-<attempt>` for retries.
pub fn attempt_name(instance: &str, kind: JobKind, request: &str, attempt: u32) -> String {
    let mut name = render_backup::job_name(instance, kind);
    if kind != JobKind::Delete {
        let hash = openclaw_render::hash::short_sha256(request.as_bytes());
        name.push('-');
        name.push_str(&hash[..6]);
    }
    if attempt > 1 {
        name.push_str(&format!("-{attempt}"));
    }
    name
}

/// The one-shot Jobs of the instance with `uid`, from the cache.
pub fn jobs_of(store: &Store<Job>, namespace: &str, uid: &str) -> Vec<JobView> {
    store
        .state()
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(namespace))
        .filter(|j| j.owner_references().iter().any(|o| o.uid == uid))
        .filter_map(|j| JobView::of(j))
        .collect()
}

/// What [`drive`] did or found, for the report and the events.
#[derive(Clone, Debug, PartialEq)]
pub enum Driven {
    /// A Job was created now.
    Started {
        /// Its name.
        job: String,
        /// Remote path.
        path: String,
        /// Attempt number.
        attempt: u32,
    },
    /// A Job is running.
    Running(JobView),
    /// The last attempt failed; the next starts after this delay.
    Retrying {
        /// The delay.
        after: Duration,
        /// The failed Job.
        last: JobView,
    },
    /// Done.
    Succeeded(JobView),
    /// Given up.
    GaveUp {
        /// The last failed Job.
        last: JobView,
        /// How many failed.
        attempts: u32,
    },
}

/// Drive one request: create the next Job when needed (and the mirror Secret it reads).
#[allow(clippy::too_many_arguments)]
pub async fn drive(
    ctx: &Context,
    instance: &OpenClawInstance,
    model: &Model<'_>,
    creds: &S3Credentials,
    claim: &str,
    kind: JobKind,
    request: &str,
    new_path: &str,
    max_attempts: Option<u32>,
) -> Result<Driven, Error> {
    let ns = instance.namespace().unwrap_or_default();
    let uid = instance.uid().unwrap_or_default();
    let jobs = jobs_of(&ctx.stores.jobs, &ns, &uid);
    match next_action(
        &progress(&jobs, kind, request),
        new_path,
        max_attempts,
        &super::instance::now(),
    ) {
        Action::Wait(j) => Ok(Driven::Running(j)),
        Action::RetryLater { after, last } => Ok(Driven::Retrying { after, last }),
        Action::Done(j) => Ok(Driven::Succeeded(j)),
        Action::GaveUp { last, attempts } => Ok(Driven::GaveUp { last, attempts }),
        Action::Start { attempt, path } => {
            if let Some(secret) = render_backup::mirror_secret(model, creds) {
                super::kinds::ensure_object(ctx, &ns, &Object::Secret(secret), WriteMode::Apply)
                    .await?;
            }
            let mut job = render_backup::job(model, kind, &path, creds, claim);
            let name = attempt_name(&model.name, kind, request, attempt);
            job.metadata.name = Some(name.clone());
            let annotations = job.metadata.annotations.get_or_insert_with(BTreeMap::new);
            annotations.insert(REQUEST_ANNOTATION.into(), request.into());
            annotations.insert(ATTEMPT_ANNOTATION.into(), attempt.to_string());
            super::kinds::ensure_object(ctx, &ns, &Object::Job(job), WriteMode::CreateOnly).await?;
            Ok(Driven::Started {
                job: name,
                path,
                attempt,
            })
        }
    }
}

/// Pods of the instance that still exist (a restore or a backup on delete waits for none).
pub async fn pods_left(ctx: &Context, instance: &OpenClawInstance) -> Result<usize, Error> {
    let api: Api<Pod> = Api::namespaced(
        ctx.client.clone(),
        &instance.namespace().unwrap_or_default(),
    );
    let selector = openclaw_render::selector_labels(&instance.name_any())
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = api
        .list_metadata(&ListParams::default().labels(&selector))
        .await?;
    Ok(pods.items.len())
}

/// The cleanup step of a deleted instance: scale to zero, wait for the pods, back the data
/// volume up, then let the finalizer go. No credentials Secret: nothing to do (with an event);
/// an unusable one, or a failing Job: pending (retried) until the deletion's time limit.
pub struct BackupOnDelete {
    /// Where the credentials are.
    pub options: BackupOptions,
}

impl BackupOnDelete {
    async fn step(&self, instance: &OpenClawInstance, ctx: &Context) -> Result<StepState, Error> {
        let name = instance.name_any();
        let ns = instance.namespace().unwrap_or_default();
        let observed = openclaw_render::Observed {
            cluster_defaults: ctx.cluster_defaults().map(|d| d.spec.clone()),
            ..Default::default()
        };
        let Ok(model) = Model::new(instance, &observed) else {
            return Ok(StepState::Done);
        };
        let Some(claim) = openclaw_render::simple::backup_claim(&model) else {
            // No single data volume: nothing to back up.
            return Ok(StepState::Done);
        };
        let creds = Credentials::read(
            ctx.backup_credentials.as_ref(),
            self.options.credentials_namespace.as_deref(),
        );
        let creds = match creds {
            Credentials::Missing => {
                ctx.event(
                    instance,
                    false,
                    "BackupSkipped",
                    "S3 backup credentials Secret not found - skipping pre-delete backup",
                )
                .await;
                return Ok(StepState::Done);
            }
            Credentials::Invalid(m) => {
                ctx.event(instance, true, "BackupCredentialsFailed", &m)
                    .await;
                return Ok(StepState::Pending(format!("backup: {m}")));
            }
            Credentials::Ready(c) => c,
        };
        // Scale down (a merge patch of the replicas alone: the rest of the StatefulSet keeps
        // its owners), then wait for the pods to go: a consistent copy of a quiet volume.
        let sts_api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
        let sts = ctx
            .stores
            .stateful_sets
            .get(&ObjectRef::new(&name).within(&ns));
        if sts
            .as_ref()
            .is_some_and(|s| s.spec.as_ref().and_then(|s| s.replicas) != Some(0))
        {
            let patch = serde_json::json!({"spec": {"replicas": 0}});
            match sts_api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(Error::Read(e)),
            }
            return Ok(StepState::Pending(
                "backup: scaling the workload down".into(),
            ));
        }
        let pvcs: Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
            Api::namespaced(ctx.client.clone(), &ns);
        if pvcs.get_metadata_opt(&claim).await?.is_none() {
            ctx.event(
                instance,
                false,
                "BackupSkipped",
                &format!("PersistentVolumeClaim {claim} not found - nothing to back up"),
            )
            .await;
            return Ok(StepState::Done);
        }
        let left = pods_left(ctx, instance).await?;
        if left > 0 {
            return Ok(StepState::Pending(format!(
                "backup: waiting for {left} pod(s) to stop"
            )));
        }
        let tenant = render_backup::tenant(instance.metadata.labels.as_ref(), &ns);
        let now = jiff_now();
        let new_path = JobKind::Delete.new_path(&tenant, &name, now);
        let driven = drive(
            ctx,
            instance,
            &model,
            &creds,
            &claim,
            JobKind::Delete,
            "delete",
            &new_path,
            None,
        )
        .await?;
        Ok(match driven {
            Driven::Started { job, path, attempt } => {
                let note = if attempt > 1 {
                    format!("Backup Job {job} created (attempt {attempt}), target: {path}")
                } else {
                    format!("Backup Job {job} created, target: {path}")
                };
                ctx.event(instance, false, "BackupStarted", &note).await;
                StepState::Pending(format!("backup: Job {job} started"))
            }
            Driven::Running(j) => StepState::Pending(format!(
                "backup: Job {} running, target: {}",
                j.name, j.path
            )),
            Driven::Retrying { last, .. } => StepState::Pending(retry_message("backup", &last)),
            Driven::Succeeded(j) => {
                ctx.event(
                    instance,
                    false,
                    "BackupComplete",
                    &format!("Backup completed to {}", j.path),
                )
                .await;
                StepState::Done
            }
            Driven::GaveUp { last, .. } => StepState::Pending(format!(
                "backup: Job {} failed: {}",
                last.name,
                failure_message(&last)
            )),
        })
    }
}

impl super::finalizer::CleanupStep for BackupOnDelete {
    fn name(&self) -> &'static str {
        "backup"
    }

    fn run<'a>(
        &'a self,
        instance: &'a OpenClawInstance,
        ctx: &'a Context,
    ) -> BoxFuture<'a, Result<StepState, Error>> {
        Box::pin(async move {
            let state = self.step(instance, ctx).await?;
            // A new failed attempt is reported once, when the retry starts (see `drive`).
            Ok(state)
        })
    }
}

/// The `trigger` label of `openclaw_backups_total` for a Job's `job-type` (`None`: a restore).
pub fn trigger_of(job_type: &str) -> Option<&'static str> {
    match job_type {
        "backup" => Some("delete"),
        "on-demand-backup" => Some("on-demand"),
        "pre-update-backup" => Some("pre-update"),
        t if t == render_backup::PERIODIC_JOB_TYPE => Some("periodic"),
        _ => None,
    }
}

/// Count a backup Job's start and end in the metrics (from the Job watch).
pub fn count_job(metrics: &crate::metrics::Metrics, job: &Job, deleted: bool) {
    let Some(trigger) = job
        .labels()
        .get(render_backup::JOB_TYPE_LABEL)
        .and_then(|t| trigger_of(t))
    else {
        return;
    };
    let ended = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(true),
            "Failed" => Some(false),
            _ => None,
        });
    let created = job
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| std::time::SystemTime::from(t.0));
    metrics.backup_job(
        &job.uid().unwrap_or_default(),
        trigger,
        created,
        ended,
        deleted,
    );
}

/// The instance a periodic backup Job belongs to (its CronJob, not the instance, owns it).
pub fn periodic_owner(job: &Job) -> Option<ObjectRef<OpenClawInstance>> {
    let labels = job.labels();
    if labels
        .get(render_backup::JOB_TYPE_LABEL)
        .map(String::as_str)
        != Some(render_backup::PERIODIC_JOB_TYPE)
    {
        return None;
    }
    let instance = labels.get(render_backup::INSTANCE_LABEL)?;
    Some(ObjectRef::new(instance).within(&job.namespace()?))
}

/// Where a `spec.restoreFrom` restore stands after this pass.
#[derive(Clone, Debug, PartialEq)]
pub enum RestoreState {
    /// Waiting before the Job can start (the pods to stop); the message says for what.
    Waiting(String),
    /// The credentials cannot be used; retried.
    Credentials(String),
    /// A Job was created now.
    Started {
        /// The Job.
        job: String,
        /// The remote path.
        path: String,
    },
    /// A Job is running.
    Running {
        /// The Job.
        job: String,
        /// The remote path.
        path: String,
    },
    /// Restored.
    Succeeded {
        /// The remote path.
        path: String,
    },
    /// Given up: every attempt failed.
    Failed {
        /// The remote path.
        path: String,
        /// The last Job.
        job: String,
        /// Its failure.
        message: String,
        /// How many Jobs failed.
        attempts: u32,
    },
    /// There is no single data volume to restore into.
    Impossible(String),
}

impl RestoreState {
    /// Whether the workload stays at zero replicas.
    pub fn holds(&self) -> bool {
        !matches!(
            self,
            RestoreState::Succeeded { .. } | RestoreState::Impossible(_)
        )
    }
}

/// Where an on-demand backup (`openclaw.rocks/backup-now`) stands after this pass.
#[derive(Clone, Debug, PartialEq)]
pub enum OnDemandState {
    /// Not started yet; the message says why.
    Waiting(String),
    /// The last attempt failed and the next one waits its turn; the message says why it failed.
    Retrying(String),
    /// The credentials cannot be used; retried.
    Credentials(String),
    /// A Job was created now.
    Started {
        /// The Job.
        job: String,
        /// The remote path.
        path: String,
    },
    /// A Job is running.
    Running {
        /// The Job.
        job: String,
    },
    /// Backed up.
    Succeeded {
        /// The request (the annotation's value).
        request: String,
        /// The remote path.
        path: String,
        /// When the Job completed.
        at: Option<Time>,
    },
    /// Given up: every attempt failed, or there is nothing to back up.
    Failed {
        /// The request.
        request: String,
        /// Why.
        message: String,
    },
}

/// The periodic backups.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Scheduled {
    /// No schedule.
    #[default]
    Off,
    /// A schedule, but no single data volume.
    NoVolume,
    /// A schedule that does not parse; the message says why.
    Invalid(String),
    /// A schedule, but no usable credentials.
    Credentials(String),
    /// The CronJob is in place.
    Ready {
        /// Its name.
        cron_job: String,
        /// The schedule.
        schedule: String,
    },
}

/// What the data-protection workflows found in one pass (reported by `report`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackupFacts {
    /// A pending or just finished restore.
    pub restore: Option<RestoreState>,
    /// A pending or just finished on-demand backup.
    pub on_demand: Option<OnDemandState>,
    /// The periodic backups.
    pub scheduled: Scheduled,
    /// The newest successful periodic backup: when, and where.
    pub periodic: Option<(Time, String)>,
    /// Look again this soon (a workflow is in progress).
    pub requeue: Option<Duration>,
}

/// The phase and message a restore in progress reports (`None` once it no longer holds the
/// workload).
pub fn restore_phase(
    state: &RestoreState,
    spec: &openclaw_api::OpenClawInstanceSpec,
) -> Option<(&'static str, String)> {
    use super::status::phase;
    let path = spec.restore_from.as_deref().unwrap_or_default().trim();
    Some(match state {
        RestoreState::Waiting(m) => (phase::RESTORING, format!("Restoring from {path}: {m}")),
        RestoreState::Credentials(m) => (
            phase::RESTORING,
            format!("Restoring from {path}: waiting for usable S3 credentials: {m}"),
        ),
        RestoreState::Started { job, .. } | RestoreState::Running { job, .. } => (
            phase::RESTORING,
            format!("Restoring from {path}: Job {job} running"),
        ),
        RestoreState::Failed {
            job,
            message,
            attempts,
            ..
        } => (
            phase::FAILED,
            format!(
                "Restore from {path} failed after {attempts} attempt(s) (last Job {job}: {message}); the \
                 instance stays at zero replicas. Fix the path or the credentials and set a new \
                 spec.restoreFrom, or remove it to start without restoring"
            ),
        ),
        RestoreState::Succeeded { .. } | RestoreState::Impossible(_) => return None,
    })
}

/// The restore `spec.restoreFrom` asks for, unless `status.restoredFrom` records it.
pub fn pending_restore<'a>(
    spec: &'a openclaw_api::OpenClawInstanceSpec,
    status: &openclaw_api::OpenClawInstanceStatus,
) -> Option<&'a str> {
    let wanted = spec
        .restore_from
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())?;
    (status.restored_from.as_deref() != Some(wanted)).then_some(wanted)
}

/// The on-demand request the `openclaw.rocks/backup-now` annotation makes, unless
/// `status.lastBackupRequest` records it.
pub fn pending_request<'a>(
    instance: &'a OpenClawInstance,
    status: &openclaw_api::OpenClawInstanceStatus,
) -> Option<&'a str> {
    let wanted = instance
        .annotations()
        .get(BACKUP_NOW)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())?;
    (status.last_backup_request.as_deref() != Some(wanted)).then_some(wanted)
}

/// The newest successful periodic backup of an instance, from its CronJob's Jobs.
pub fn newest_periodic(
    store: &Store<Job>,
    namespace: &str,
    instance: &str,
    tenant: &str,
) -> Option<(Time, String)> {
    store
        .state()
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(namespace))
        .filter(|j| {
            let l = j.labels();
            l.get(render_backup::INSTANCE_LABEL).map(String::as_str) == Some(instance)
                && l.get(render_backup::JOB_TYPE_LABEL).map(String::as_str)
                    == Some(render_backup::PERIODIC_JOB_TYPE)
        })
        .filter_map(|j| {
            let status = j.status.as_ref()?;
            let done = status
                .conditions
                .as_deref()?
                .iter()
                .any(|c| c.type_ == "Complete" && c.status == "True");
            done.then(|| status.completion_time.clone()).flatten()
        })
        .max_by_key(|t| t.0)
        .map(|t| {
            let date = t.0.strftime("%Y-%m-%d").to_string();
            let path = format!(
                "{}/periodic/snapshots/{date}",
                render_backup::instance_prefix(tenant, instance)
            );
            (t, path)
        })
}

/// Step **lifecycle** of a normal pass: the restore and the on-demand backup (creating their
/// Jobs), and what the periodic backups look like.
pub async fn lifecycle_step(
    instance: &OpenClawInstance,
    merged: &OpenClawInstance,
    ctx: &Context,
    missing_claim: Option<&str>,
    now: &Time,
) -> Result<BackupFacts, Error> {
    let status = instance.status.clone().unwrap_or_default();
    let name = instance.name_any();
    let ns = instance.namespace().unwrap_or_default();
    let tenant = render_backup::tenant(instance.metadata.labels.as_ref(), &ns);
    let creds = Credentials::read(
        ctx.backup_credentials.as_ref(),
        ctx.backup.credentials_namespace.as_deref(),
    );
    let observed = openclaw_render::Observed::default();
    let claim = Model::new(merged, &observed)
        .ok()
        .and_then(|m| openclaw_render::simple::backup_claim(&m));
    let mut facts = BackupFacts {
        periodic: newest_periodic(&ctx.stores.jobs, &ns, &name, &tenant),
        ..BackupFacts::default()
    };
    if let Some(schedule) = merged
        .spec
        .backup
        .as_ref()
        .and_then(|b| b.schedule.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        facts.scheduled = match (&claim, creds.problem()) {
            _ if openclaw_api::schedule::check(schedule).is_err() => Scheduled::Invalid(
                openclaw_api::schedule::check(schedule)
                    .err()
                    .unwrap_or_default(),
            ),
            (None, _) => Scheduled::NoVolume,
            (_, Some(problem)) => Scheduled::Credentials(problem),
            (Some(_), None) => Scheduled::Ready {
                cron_job: render_backup::cron_job_name(&name),
                schedule: schedule.to_string(),
            },
        };
    }
    let Ok(model) = Model::new(merged, &observed) else {
        return Ok(facts);
    };

    if let Some(path) = pending_restore(&merged.spec, &status) {
        let state = match (&claim, creds.ready()) {
            (None, _) => RestoreState::Impossible(
                "there is no single data volume to restore into (persistence is off, or every \
                 replica has its own volume)"
                    .into(),
            ),
            (Some(_), None) => RestoreState::Credentials(creds.problem().unwrap_or_default()),
            (Some(claim), _) if missing_claim == Some(claim.as_str()) => RestoreState::Waiting(
                format!("the data volume's PersistentVolumeClaim {claim} does not exist"),
            ),
            (Some(claim), Some(c)) => match pods_left(ctx, instance).await? {
                n if n > 0 => RestoreState::Waiting(format!("waiting for {n} pod(s) to stop")),
                _ => match drive(
                    ctx,
                    instance,
                    &model,
                    c,
                    claim,
                    JobKind::Restore,
                    path,
                    path,
                    Some(MAX_ATTEMPTS),
                )
                .await?
                {
                    Driven::Started { job, path, .. } => RestoreState::Started { job, path },
                    Driven::Running(j) => RestoreState::Running {
                        job: j.name,
                        path: j.path,
                    },
                    Driven::Retrying { last, .. } => {
                        RestoreState::Waiting(retry_message("restore", &last))
                    }
                    Driven::Succeeded(_) => RestoreState::Succeeded { path: path.into() },
                    Driven::GaveUp { last, attempts } => RestoreState::Failed {
                        path: path.into(),
                        message: failure_message(&last),
                        job: last.name,
                        attempts,
                    },
                },
            },
        };
        facts.requeue = match &state {
            RestoreState::Waiting(_) => Some(Duration::from_secs(3)),
            RestoreState::Credentials(_) => Some(CREDENTIALS_POLL),
            RestoreState::Started { .. } | RestoreState::Running { .. } => Some(JOB_POLL),
            _ => None,
        };
        if matches!(state, RestoreState::Succeeded { .. }) && ctx.backup.clear_restore_from {
            clear_restore_from(instance, ctx).await?;
        }
        facts.restore = Some(state);
    } else if let Some(done) = status.restored_from.as_deref() {
        // The Jobs of a recorded restore go, so that asking for the same path again later
        // restores again (instead of finding the old Job's success).
        forget_jobs(ctx, instance, JobKind::Restore, done).await?;
    }

    if let Some(request) = pending_request(instance, &status) {
        let state = if facts.restore.as_ref().is_some_and(RestoreState::holds) {
            OnDemandState::Waiting("waiting for the restore to finish".into())
        } else if let Some(missing) = missing_claim.filter(|m| claim.as_deref() == Some(*m)) {
            OnDemandState::Waiting(format!(
                "the data volume's PersistentVolumeClaim {missing} does not exist"
            ))
        } else {
            match (&claim, creds.ready()) {
                (None, _) => OnDemandState::Failed {
                    request: request.into(),
                    message: "there is no single data volume to back up (persistence is off, \
                              or every replica has its own volume)"
                        .into(),
                },
                (Some(_), None) => OnDemandState::Credentials(creds.problem().unwrap_or_default()),
                (Some(claim), Some(c)) => {
                    let new_path = JobKind::OnDemand.new_path(&tenant, &name, now.0);
                    match drive(
                        ctx,
                        instance,
                        &model,
                        c,
                        claim,
                        JobKind::OnDemand,
                        request,
                        &new_path,
                        Some(MAX_ATTEMPTS),
                    )
                    .await?
                    {
                        Driven::Started { job, path, .. } => OnDemandState::Started { job, path },
                        Driven::Running(j) => OnDemandState::Running { job: j.name },
                        Driven::Retrying { last, .. } => {
                            OnDemandState::Retrying(retry_message("backup", &last))
                        }
                        Driven::Succeeded(j) => OnDemandState::Succeeded {
                            request: request.into(),
                            path: j.path.clone(),
                            at: match j.outcome {
                                Outcome::Succeeded(t) => t,
                                _ => None,
                            },
                        },
                        Driven::GaveUp { last, attempts } => OnDemandState::Failed {
                            request: request.into(),
                            message: format!(
                                "backup Job {} failed ({attempts} attempts): {}",
                                last.name,
                                failure_message(&last)
                            ),
                        },
                    }
                }
            }
        };
        let soon = match &state {
            OnDemandState::Waiting(_) | OnDemandState::Retrying(_) => Some(JOB_POLL),
            OnDemandState::Credentials(_) => Some(CREDENTIALS_POLL),
            OnDemandState::Started { .. } | OnDemandState::Running { .. } => Some(JOB_POLL),
            _ => None,
        };
        facts.requeue = match (facts.requeue, soon) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        facts.on_demand = Some(state);
    }
    Ok(facts)
}

/// Delete the finished Jobs of a recorded request.
async fn forget_jobs(
    ctx: &Context,
    instance: &OpenClawInstance,
    kind: JobKind,
    request: &str,
) -> Result<(), Error> {
    let ns = instance.namespace().unwrap_or_default();
    let uid = instance.uid().unwrap_or_default();
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    for j in jobs_of(&ctx.stores.jobs, &ns, &uid) {
        if j.kind != kind || j.request != request || j.outcome == Outcome::Running {
            continue;
        }
        match api
            .delete(&j.name, &kube::api::DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(Error::Read(e)),
        }
    }
    Ok(())
}

/// The Go operator's way after a restore: `spec.restoreFrom` cleared (`--clear-restore-from`).
async fn clear_restore_from(instance: &OpenClawInstance, ctx: &Context) -> Result<(), Error> {
    let api: Api<OpenClawInstance> = Api::namespaced(
        ctx.client.clone(),
        &instance.namespace().unwrap_or_default(),
    );
    let patch = serde_json::json!({"spec": {"restoreFrom": null}});
    match api
        .patch(
            &instance.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::Read(e)),
    }
}

/// What a request waiting for its next attempt reports: why the last Job failed, and when the
/// next starts (a message that stays the same while it waits, so that the status is not
/// rewritten on every pass).
pub fn retry_message(what: &str, last: &JobView) -> String {
    format!(
        "{what} attempt {} failed ({}); attempt {} starts {}s after it",
        last.attempt,
        failure_message(last),
        last.attempt + 1,
        retry_delay(last.attempt).as_secs()
    )
}

/// The failure message of a Job view.
pub fn failure_message(j: &JobView) -> String {
    match &j.outcome {
        Outcome::Failed(m) | Outcome::FailedPermanently(m) => {
            format!("{m}; its pod's log says why (kubectl logs job/{})", j.name)
        }
        _ => String::new(),
    }
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn view(kind: JobKind, request: &str, attempt: u32, outcome: Outcome) -> JobView {
        JobView {
            name: attempt_name("a", kind, request, attempt),
            kind,
            request: request.into(),
            path: "p1".into(),
            attempt,
            outcome,
            finished: Some(t(0)),
        }
    }

    fn t(s: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + s).unwrap())
    }

    #[test]
    fn progress_of_a_request_ignores_other_requests_and_kinds() {
        let jobs = vec![
            view(JobKind::Restore, "old", 1, Outcome::Succeeded(None)),
            view(JobKind::Delete, "new", 1, Outcome::Running),
        ];
        assert_eq!(
            progress(&jobs, JobKind::Restore, "new"),
            Progress::NotStarted
        );
        assert!(matches!(
            progress(&jobs, JobKind::Restore, "old"),
            Progress::Succeeded(_)
        ));
    }

    #[test]
    fn a_failed_job_is_retried_on_the_same_path_until_the_attempts_are_used() {
        let failed = |n| view(JobKind::Restore, "r", n, Outcome::Failed("boom".into()));
        let p = progress(&[failed(1)], JobKind::Restore, "r");
        assert_eq!(
            next_action(&p, "unused", Some(3), &t(100)),
            Action::Start {
                attempt: 2,
                path: "p1".into()
            }
        );
        let p = progress(&[failed(1), failed(2), failed(3)], JobKind::Restore, "r");
        assert!(matches!(
            next_action(&p, "x", Some(3), &t(100)),
            Action::GaveUp { attempts: 3, .. }
        ));
        // Without a cap (backup on delete): retried until the time limit.
        assert!(matches!(
            next_action(&p, "x", None, &t(1000)),
            Action::Start { attempt: 4, .. }
        ));
        // A running retry is waited for; a success ends it whatever failed before.
        let p = progress(
            &[failed(1), view(JobKind::Restore, "r", 2, Outcome::Running)],
            JobKind::Restore,
            "r",
        );
        assert!(matches!(
            next_action(&p, "x", Some(3), &t(100)),
            Action::Wait(_)
        ));
        let p = progress(
            &[
                failed(1),
                view(JobKind::Restore, "r", 2, Outcome::Succeeded(None)),
            ],
            JobKind::Restore,
            "r",
        );
        assert!(matches!(
            next_action(&p, "x", Some(3), &t(100)),
            Action::Done(_)
        ));
    }

    #[test]
    fn attempt_names_are_deterministic_and_differ_per_request() {
        assert_eq!(attempt_name("a", JobKind::Delete, "delete", 1), "a-backup");
        assert_eq!(
            attempt_name("a", JobKind::Delete, "delete", 2),
            "a-backup-2"
        );
        let r1 = attempt_name("a", JobKind::Restore, "p1", 1);
        assert!(r1.starts_with("a-restore-") && r1.len() == "a-restore-".len() + 6);
        assert_ne!(r1, attempt_name("a", JobKind::Restore, "p2", 1));
        assert_eq!(
            attempt_name("a", JobKind::Restore, "p1", 2),
            format!("{r1}-2")
        );
    }

    #[test]
    fn a_permanent_error_gives_up_at_once_unless_retried_until_a_time_limit() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a-restore-x",
                "labels": {"openclaw.rocks/job-type": "restore"},
                "annotations": {REQUEST_ANNOTATION: "p", PATH_ANNOTATION: "p"}},
            "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
                "message": "Container rclone for pod ns/a-restore-x-abcde failed with exit code 3 matching FailJob rule at index 0"}]}
        }))
        .unwrap();
        let v = JobView::of(&job).unwrap();
        let Outcome::FailedPermanently(m) = &v.outcome else {
            panic!("{v:?}")
        };
        assert!(m.contains("code 3") && m.contains("does not exist"), "{m}");
        let p = progress(&[v], JobKind::Restore, "p");
        assert!(matches!(
            next_action(&p, "p", Some(3), &t(1000)),
            Action::GaveUp { attempts: 1, .. }
        ));
        assert!(matches!(
            next_action(&p, "p", None, &t(1000)),
            Action::Start { attempt: 2, .. }
        ));
    }

    #[test]
    fn a_temporary_error_is_named_and_retried() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a-backup-now-x",
                "labels": {"openclaw.rocks/job-type": "on-demand-backup"},
                "annotations": {REQUEST_ANNOTATION: "r", PATH_ANNOTATION: "p"}},
            "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
                "message": "Container rclone for pod ns/a-backup-now-x-abcde failed with exit code 5 matching FailJob rule at index 0"}]}
        }))
        .unwrap();
        let v = JobView::of(&job).unwrap();
        let Outcome::Failed(m) = &v.outcome else {
            panic!("{v:?}")
        };
        assert!(
            m.contains("code 5") && m.contains("could not be reached"),
            "{m}"
        );
        let message = failure_message(&v);
        assert!(
            message.ends_with("its pod's log says why (kubectl logs job/a-backup-now-x)"),
            "{message}"
        );
        let p = progress(&[v], JobKind::OnDemand, "r");
        assert!(matches!(
            next_action(&p, "p", Some(3), &t(1000)),
            Action::Start { attempt: 2, .. }
        ));
    }

    #[test]
    fn a_retry_waits_longer_after_each_failure() {
        assert_eq!(retry_delay(1), Duration::from_secs(15));
        assert_eq!(retry_delay(2), Duration::from_secs(30));
        assert_eq!(retry_delay(10), Duration::from_secs(300));
        let failed = view(JobKind::Delete, "delete", 1, Outcome::Failed("x".into()));
        let p = progress(&[failed], JobKind::Delete, "delete");
        assert!(matches!(
            next_action(&p, "x", None, &t(5)),
            Action::RetryLater { after, .. } if after == Duration::from_secs(10)
        ));
        assert!(matches!(
            next_action(&p, "x", None, &t(15)),
            Action::Start { attempt: 2, .. }
        ));
    }

    #[test]
    fn a_job_view_reads_labels_annotations_and_conditions() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a-restore-2",
                "labels": {"openclaw.rocks/job-type": "restore"},
                "annotations": {REQUEST_ANNOTATION: "p", ATTEMPT_ANNOTATION: "2", PATH_ANNOTATION: "p"}},
            "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}
        }))
        .unwrap();
        let v = JobView::of(&job).unwrap();
        assert_eq!(v.kind, JobKind::Restore);
        assert_eq!(v.attempt, 2);
        assert_eq!(
            v.outcome,
            Outcome::Failed("Job has reached the specified backoff limit".into())
        );
        let mut other = job.clone();
        other.metadata.labels = None;
        assert!(JobView::of(&other).is_none());
    }
}
