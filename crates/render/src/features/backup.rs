//! Backups and restores of the data volume to S3-compatible storage, with rclone.
//!
//! - The credentials: the `s3-backup-credentials` Secret in the operator's namespace (the Go
//!   operator's keys), parsed by [`parse_credentials`]. Static keys are mirrored into the
//!   instance's namespace as `<name>-s3-credentials` ([`mirror_secret`]) and reach rclone
//!   through `secretKeyRef`, as rclone's own `RCLONE_S3_*` variables: no key is ever in a Job
//!   spec or on a command line. Without keys, rclone uses the workload identity of the Job's
//!   ServiceAccount (`env_auth`).
//! - The remote layout (the Go operator's): `backups/<tenant>/<instance>/<stamp>` for one-shot
//!   backups, `.../periodic/latest` and `.../periodic/snapshots/<date>` for the periodic ones.
//! - The one-shot Jobs ([`job`]) the lifecycle workflows create: backup on delete, on demand
//!   and before an update; restore and rollback restore.
//! - As a feature: the mirror Secret and the periodic CronJob `<name>-backup-periodic`.
//!
//! Pure: the controller reads the Secret and the clock and passes them in.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec, PodFailurePolicy,
    PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, EnvVarSource, PodAffinity, PodAffinityTerm, PodSecurityContext,
    PodSpec, PodTemplateSpec, Secret, SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::jiff::Timestamp;

use super::hooks::Feature;
use crate::clean::clean_all;
use crate::k8s::meta::{
    MANAGED_BY_LABEL, MANAGER, component_meta, non_empty_map, non_empty_vec, selector_labels,
};
use crate::k8s::volume::{mount, pvc_volume};
use crate::model::Model;
use crate::{Desired, Object, Phase, RenderError, S3Credentials};

/// The Secret holding the S3 settings, in the operator's namespace.
pub const CREDENTIALS_SECRET: &str = "s3-backup-credentials";
/// Keys of [`CREDENTIALS_SECRET`].
pub const BUCKET_KEY: &str = "S3_BUCKET";
/// See [`BUCKET_KEY`].
pub const ENDPOINT_KEY: &str = "S3_ENDPOINT";
/// See [`BUCKET_KEY`].
pub const REGION_KEY: &str = "S3_REGION";
/// See [`BUCKET_KEY`].
pub const PROVIDER_KEY: &str = "S3_PROVIDER";
/// See [`BUCKET_KEY`]; also a key of the mirror Secret.
pub const ACCESS_KEY_ID_KEY: &str = "S3_ACCESS_KEY_ID";
/// See [`BUCKET_KEY`]; also a key of the mirror Secret.
pub const SECRET_ACCESS_KEY_KEY: &str = "S3_SECRET_ACCESS_KEY";

/// Instance label naming the tenant in the remote path.
pub const TENANT_LABEL: &str = "openclaw.rocks/tenant";
/// Label of backup objects naming their instance.
pub const INSTANCE_LABEL: &str = "openclaw.rocks/instance";
/// Label of backup objects saying what they do ([`JobKind::job_type`], `periodic-backup`).
pub const JOB_TYPE_LABEL: &str = "openclaw.rocks/job-type";
/// Annotation of a one-shot Job: the remote path it reads or writes.
pub const PATH_ANNOTATION: &str = "openclaw.rocks/backup-path";
/// `job-type` of the periodic CronJob and its Jobs.
pub const PERIODIC_JOB_TYPE: &str = "periodic-backup";
/// The container of the backup Jobs.
pub const RCLONE_CONTAINER: &str = "rclone";
/// Where the data volume is mounted in the rclone container.
pub const DATA_MOUNT: &str = "/data";

/// The rclone version the Jobs run (the image tag), and the one the tests build from its Go
/// module (`hack/s3/versions.sh`; `crates/operator/tests/backup_roundtrip.rs` checks they agree).
pub const RCLONE_VERSION: &str = "1.76.0";

/// The flags that make a copy faithful, on both directions (backup and restore). Each is needed;
/// `crates/operator/tests/backup_roundtrip.rs` proves the set is enough (and each flag
/// necessary), and that the Go operator's `--skip-links` loses data:
///
/// - `--links`: a symlink travels as a `<name>.rclonelink` object holding its target, and comes
///   back as the same symlink (relative, absolute or dangling). Without it rclone skips links.
/// - `--metadata`: file modes, owners (uid/gid), `user.` extended attributes and the mtime (to
///   the nanosecond) travel as object metadata and are applied on restore, the owner and mtime
///   of symlinks too. Without it files come back as `0644`, owned by the restoring user. Owners
///   are applied as far as the restoring user may: root restores any owner; the Jobs' uid 1000
///   keeps its own uid and sets only groups it belongs to (the agent's own files round-trip
///   exactly). A file the Job's user cannot read fails the backup (rclone exits with 1).
/// - `--s3-directory-markers`: every directory is stored as a `dir/` marker object, so an empty
///   directory exists in the bucket at all. Without it, empty directories are lost.
/// - `--create-empty-src-dirs`: `sync` creates the empty directories it finds (markers on
///   restore, directories on backup). Without it, empty directories are lost.
///
/// What no flag can keep: directory metadata. rclone's S3 backend has no directory metadata, so
/// restored directories get the restoring user as owner, the default mode (0755 with a 022
/// umask) and rclone's `--default-time` (2000-01-01) as mtime. Also not kept: hard links (each
/// name becomes its own file), setuid/setgid/sticky bits on files (rclone strips them unless
/// `--local-metadata-restore-special-bits`), and extended attribute values that are not UTF-8
/// (S3 metadata is text; the bytes come back altered).
pub const COPY_FLAGS: &[&str] = &[
    "--links",
    "--metadata",
    "--s3-directory-markers",
    "--create-empty-src-dirs",
];

/// Flags of the restore direction only (with [`COPY_FLAGS`]).
///
/// `--metadata-mapper`: rclone 1.76 hands the object's system metadata `content-type` and
/// `tier` to the local backend, which writes unknown keys as `user.` extended attributes. On a
/// symlink that fails (Linux allows `user.` attributes only on files and directories: EPERM),
/// the link's owner is then never set, and the sync attempt fails (the retry passes, but with
/// `--retries 1` the restore fails); on files they add two attributes the source never had. The
/// mapper, run by rclone for each restored file with its metadata as indented JSON on stdin,
/// renames those two keys to `rdev`, a key the local backend owns and ignores. It runs `sed`
/// (busybox's in the rclone image), without a shell; its arguments hold no spaces or quotes, as
/// rclone splits the flag's value on spaces.
pub const RESTORE_FLAGS: &[&str] = &[
    r"--metadata-mapper=sed -e s/^\([[:space:]]*.\)tier\(.:\)/\1rdev\2/ -e s/^\([[:space:]]*.\)content-type\(.:\)/\1rdev\2/",
];

/// Throughput and logging flags (the Go operator's).
pub const TUNING_FLAGS: &[&str] = &["--transfers=8", "--checkers=16", "-v"];

/// How hard rclone retries one request before it gives up on a transfer (its default, 10,
/// backs off for about 8 minutes against an endpoint that refuses connections, measured with
/// rclone 1.76: a wrong endpoint was reported only after that). With 3, one sync attempt
/// against an unreachable endpoint ends in about 30 s with `connection refused` in the log.
pub const RETRY_FLAGS: &[&str] = &["--low-level-retries=3"];

/// The one-shot Jobs' whole-sync attempts: one. The operator retries them as new Jobs (15 s
/// later, then longer), each attempt visible in the status and in events; rclone's own default
/// (3 attempts) would triple the time before anything is reported (about 90 s for a wrong
/// endpoint). The periodic CronJob keeps rclone's default: nobody watches it run.
pub const ONE_SHOT_FLAGS: &[&str] = &["--retries=1"];

/// Default of `spec.backup.historyLimit`.
pub const DEFAULT_HISTORY_LIMIT: i32 = 3;
/// Default of `spec.backup.failedHistoryLimit`.
pub const DEFAULT_FAILED_HISTORY_LIMIT: i32 = 1;
/// Default of `spec.backup.retentionDays`.
pub const DEFAULT_RETENTION_DAYS: i32 = 7;
/// Retries of a Job's pod before the Job fails.
pub const JOB_BACKOFF_LIMIT: i32 = 3;
/// Retries of a one-shot Job's pod: none. The operator retries a failed one-shot Job itself, as
/// a new Job (a new attempt, with its own backoff, events and logs), and gives up at once on a
/// permanent error.
pub const ONE_SHOT_BACKOFF_LIMIT: i32 = 0;
/// rclone's exit codes that no retry can fix (usage error, directory or file not found, fatal
/// error such as a missing bucket or refused credentials): the Job fails at once instead of
/// retrying its pod.
pub const PERMANENT_EXIT_CODES: [i32; 4] = [1, 3, 4, 7];
/// Finished Jobs go after a day.
pub const JOB_TTL_SECONDS: i32 = 86_400;
/// A periodic run is cut off after an hour.
pub const PERIODIC_DEADLINE_SECONDS: i64 = 3_600;
/// A periodic run that could not start within 10 minutes of its time is skipped.
pub const PERIODIC_STARTING_DEADLINE_SECONDS: i64 = 600;

/// Why the credentials Secret cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// A required key is missing or empty.
    #[error("the {CREDENTIALS_SECRET} Secret has no {0} (or it is empty)")]
    MissingKey(&'static str),
    /// Exactly one of the two static keys is set.
    #[error(
        "the {CREDENTIALS_SECRET} Secret must set both {ACCESS_KEY_ID_KEY} and \
         {SECRET_ACCESS_KEY_KEY}, or neither for workload identity (env-auth); it sets only {0}"
    )]
    PartialKeys(&'static str),
    /// A value is not UTF-8 or contains a character rclone's command line or a path cannot
    /// carry.
    #[error("the {CREDENTIALS_SECRET} Secret's {0} is not usable: {1}")]
    BadValue(&'static str, &'static str),
}

/// Parse the `s3-backup-credentials` Secret's data.
pub fn parse_credentials(
    data: &BTreeMap<String, ByteString>,
) -> Result<S3Credentials, CredentialsError> {
    let get = |key: &'static str| -> Result<Option<String>, CredentialsError> {
        match data.get(key) {
            None => Ok(None),
            Some(v) => {
                let s = std::str::from_utf8(&v.0)
                    .map_err(|_| CredentialsError::BadValue(key, "not UTF-8"))?
                    .trim()
                    .to_string();
                Ok((!s.is_empty()).then_some(s))
            }
        }
    };
    let bucket = get(BUCKET_KEY)?.ok_or(CredentialsError::MissingKey(BUCKET_KEY))?;
    if bucket.contains(['/', ' ', ':', '\n']) {
        return Err(CredentialsError::BadValue(
            BUCKET_KEY,
            "a bucket name has no '/', ':' or spaces",
        ));
    }
    let endpoint = get(ENDPOINT_KEY)?.ok_or(CredentialsError::MissingKey(ENDPOINT_KEY))?;
    let keys = match (get(ACCESS_KEY_ID_KEY)?, get(SECRET_ACCESS_KEY_KEY)?) {
        (Some(id), Some(secret)) => Some((id, secret)),
        (None, None) => None,
        (Some(_), None) => return Err(CredentialsError::PartialKeys(ACCESS_KEY_ID_KEY)),
        (None, Some(_)) => return Err(CredentialsError::PartialKeys(SECRET_ACCESS_KEY_KEY)),
    };
    Ok(S3Credentials {
        bucket,
        endpoint,
        region: get(REGION_KEY)?,
        provider: get(PROVIDER_KEY)?.unwrap_or_else(|| "Other".to_string()),
        keys,
    })
}

/// The tenant of an instance in the remote path: its `openclaw.rocks/tenant` label, else the
/// namespace without an `oc-tenant-` prefix.
pub fn tenant(labels: Option<&BTreeMap<String, String>>, namespace: &str) -> String {
    if let Some(t) = labels
        .and_then(|l| l.get(TENANT_LABEL))
        .filter(|t| !t.is_empty())
    {
        return t.clone();
    }
    match namespace.strip_prefix("oc-tenant-") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => namespace.to_string(),
    }
}

/// The remote directory of an instance's backups: `backups/<tenant>/<instance>`.
pub fn instance_prefix(tenant: &str, instance: &str) -> String {
    format!("backups/{tenant}/{instance}")
}

/// The UTC stamp of a one-shot backup's directory (`2026-01-01T000000Z`).
pub fn stamp(now: Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H%M%SZ").to_string()
}

/// The remote path of the periodic backup's mirror.
pub fn periodic_latest(tenant: &str, instance: &str) -> String {
    format!("{}/periodic/latest", instance_prefix(tenant, instance))
}

/// What a one-shot Job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Backup before the instance is deleted (`<name>-backup`).
    Delete,
    /// Backup a user asked for (`<name>-backup-now`).
    OnDemand,
    /// Backup before an update (`<name>-pre-update-backup`).
    PreUpdate,
    /// `spec.restoreFrom` (`<name>-restore`).
    Restore,
    /// Restore of the pre-update backup after a failed update (`<name>-rollback-restore`).
    Rollback,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 5] = [
        JobKind::Delete,
        JobKind::OnDemand,
        JobKind::PreUpdate,
        JobKind::Restore,
        JobKind::Rollback,
    ];

    /// The Job's name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            JobKind::Delete => "backup",
            JobKind::OnDemand => "backup-now",
            JobKind::PreUpdate => "pre-update-backup",
            JobKind::Restore => "restore",
            JobKind::Rollback => "rollback-restore",
        }
    }

    /// The `openclaw.rocks/job-type` label (the Go operator's values).
    pub fn job_type(self) -> &'static str {
        match self {
            JobKind::Delete => "backup",
            JobKind::OnDemand => "on-demand-backup",
            JobKind::PreUpdate => "pre-update-backup",
            JobKind::Restore => "restore",
            JobKind::Rollback => "rollback-restore",
        }
    }

    /// The kind of a `job-type` label value.
    pub fn from_job_type(value: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.job_type() == value)
    }

    /// Whether it copies the volume to S3 (else from S3 to the volume).
    pub fn is_backup(self) -> bool {
        matches!(
            self,
            JobKind::Delete | JobKind::OnDemand | JobKind::PreUpdate
        )
    }

    /// The remote path of a new backup of this kind taken at `now` (restores read a given
    /// path).
    pub fn new_path(self, tenant: &str, instance: &str, now: Timestamp) -> String {
        let prefix = instance_prefix(tenant, instance);
        match self {
            JobKind::PreUpdate => format!("{prefix}/pre-update-{}", stamp(now)),
            JobKind::OnDemand => format!("{prefix}/on-demand-{}", stamp(now)),
            _ => format!("{prefix}/{}", stamp(now)),
        }
    }

    /// Whether the instance's pod may be running meanwhile (the Job then runs on its node, so
    /// a ReadWriteOnce volume can be mounted twice).
    pub fn beside_the_pod(self) -> bool {
        matches!(self, JobKind::OnDemand)
    }
}

/// The name of an instance's one-shot Job of `kind`.
pub fn job_name(instance: &str, kind: JobKind) -> String {
    format!("{instance}-{}", kind.suffix())
}

/// The name of the mirror Secret.
pub fn mirror_secret_name(instance: &str) -> String {
    format!("{instance}-s3-credentials")
}

/// The name of the periodic CronJob.
pub fn cron_job_name(instance: &str) -> String {
    format!("{instance}-backup-periodic")
}

/// `:s3:<bucket>/<path>`: rclone's on-the-fly S3 remote (no config file).
pub fn remote(creds: &S3Credentials, path: &str) -> String {
    format!(":s3:{}/{}", creds.bucket, path.trim_matches('/'))
}

/// [`remote`] as a directory (`.../`): the form the Jobs pass to rclone. Without the slash
/// rclone first asks whether the path is a file, and when the storage refuses that request (a
/// wrong region, a wrong endpoint) it logs only `is a file not a directory`; with it the log
/// shows the storage's own answer (`the region "eu-west-9" is wrong; expecting "us-east-1"`).
pub fn remote_dir(creds: &S3Credentials, path: &str) -> String {
    format!("{}/", remote(creds, path))
}

/// The labels of backup pods (and, besides the standard ones, of backup objects): never the
/// instance's pod selector labels, so a backup pod is not mistaken for the agent (Service,
/// PodDisruptionBudget, NetworkPolicy, StatefulSet). Also the labels of the state-migration
/// Job ([`crate::migration`]).
pub fn backup_labels(m: &Model, job_type: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGER.to_string()),
        (TENANT_LABEL.to_string(), tenant_of(m)),
        (INSTANCE_LABEL.to_string(), m.name.clone()),
        (JOB_TYPE_LABEL.to_string(), job_type.to_string()),
    ])
}

fn tenant_of(m: &Model) -> String {
    tenant(m.labels.as_ref(), &m.namespace)
}

/// Metadata of a backup object: the standard labels (for the operator's caches and pruning),
/// `app.kubernetes.io/component=backup`, and the Go operator's backup labels.
fn meta(m: &Model, name: String, job_type: &str) -> ObjectMeta {
    job_meta(m, name, "backup", job_type)
}

/// Metadata of a one-shot lifecycle object (the backup objects, the state-migration Job): the
/// standard labels, the controller reference, `app.kubernetes.io/component=<component>` and
/// [`backup_labels`] with `job_type`.
pub fn job_meta(m: &Model, name: String, component: &str, job_type: &str) -> ObjectMeta {
    let mut metadata = component_meta(m, name, component);
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .extend(backup_labels(m, job_type));
    metadata
}

/// The environment rclone reads its S3 settings from (`RCLONE_S3_*`: the backend options of
/// every S3 remote, the on-the-fly one included). The keys come from the mirror Secret.
fn rclone_env(m: &Model, creds: &S3Credentials) -> Vec<EnvVar> {
    let plain = |name: &str, value: &str| EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        value_from: None,
    };
    let secret = |name: &str, key: &str| EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: mirror_secret_name(&m.name),
                key: key.to_string(),
                optional: None,
            }),
            ..Default::default()
        }),
    };
    let mut env = vec![
        plain("RCLONE_S3_PROVIDER", &creds.provider),
        plain("RCLONE_S3_ENDPOINT", &creds.endpoint),
    ];
    if let Some(region) = &creds.region {
        env.push(plain("RCLONE_S3_REGION", region));
    }
    // A missing bucket is an error to report, not one to create with the backup credentials
    // (its policies, encryption and lifecycle are the user's choice).
    env.push(plain("RCLONE_S3_NO_CHECK_BUCKET", "true"));
    if creds.keys.is_some() {
        env.push(secret("RCLONE_S3_ACCESS_KEY_ID", ACCESS_KEY_ID_KEY));
        env.push(secret("RCLONE_S3_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY_KEY));
    } else {
        env.push(plain("RCLONE_S3_ENV_AUTH", "true"));
    }
    // rclone keeps its cache and logs under $HOME; the image's may not be writable.
    env.push(plain("HOME", "/tmp"));
    env
}

/// The rclone image of the Jobs.
pub fn image() -> String {
    format!("rclone/rclone:{RCLONE_VERSION}")
}

/// The pod of a backup Job: the rclone container, the data volume at [`DATA_MOUNT`], the
/// instance's node selector and tolerations, and, for a Job running beside the agent, a
/// required affinity to the agent's node.
fn pod(
    m: &Model,
    kind_label: &str,
    claim: &str,
    container: Container,
    beside_the_pod: bool,
    static_keys: bool,
) -> PodTemplateSpec {
    let availability = m.spec.availability.as_ref();
    let affinity = beside_the_pod.then(|| Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(selector_labels(&m.name)),
                    ..Default::default()
                }),
                topology_key: "kubernetes.io/hostname".to_string(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(backup_labels(m, kind_label)),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            // Never: each try is a pod of its own (its logs stay), and the pod failure policy
            // below can end the Job on a permanent error.
            restart_policy: Some("Never".to_string()),
            service_account_name: m
                .spec
                .backup
                .as_ref()
                .and_then(|b| b.service_account_name.clone())
                .filter(|s| !s.is_empty()),
            node_selector: availability
                .and_then(|a| a.node_selector.clone())
                .and_then(non_empty_map),
            tolerations: availability
                .and_then(|a| a.tolerations.as_deref())
                .map(clean_all)
                .and_then(non_empty_vec),
            affinity,
            // rclone never talks to the Kubernetes API: no token in the pod, unless workload
            // identity may need the ServiceAccount's (static keys: never).
            automount_service_account_token: static_keys.then_some(false),
            security_context: Some(PodSecurityContext {
                run_as_user: Some(1000),
                run_as_group: Some(1000),
                fs_group: Some(1000),
                ..Default::default()
            }),
            containers: vec![container],
            volumes: Some(vec![pvc_volume("data", claim)]),
            ..Default::default()
        }),
    }
}

fn rclone_container(m: &Model, creds: &S3Credentials, command: Vec<String>) -> Container {
    Container {
        name: RCLONE_CONTAINER.to_string(),
        image: Some(image()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(command),
        env: Some(rclone_env(m, creds)),
        volume_mounts: Some(vec![mount("data", DATA_MOUNT, None, false)]),
        ..Default::default()
    }
}

/// The Jobs' pod failure policy: a permanent rclone error fails the Job at once; a pod evicted
/// or preempted (a node drain) does not count as a failure. A one-shot Job (no pod retries)
/// fails through the policy on every non-zero exit code, so that its `Failed` condition names
/// the code whatever it is (the backoff limit's message does not). `container`: the container
/// whose exit codes count (`None`: every container, init containers included).
pub fn failure_policy(one_shot: bool, container: Option<&str>) -> PodFailurePolicy {
    let (operator, values) = if one_shot {
        ("NotIn", vec![0])
    } else {
        ("In", PERMANENT_EXIT_CODES.to_vec())
    };
    PodFailurePolicy {
        rules: vec![
            PodFailurePolicyRule {
                action: "FailJob".to_string(),
                on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                    container_name: container.map(str::to_string),
                    operator: operator.to_string(),
                    values,
                }),
                on_pod_conditions: None,
            },
            PodFailurePolicyRule {
                action: "Ignore".to_string(),
                on_exit_codes: None,
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".to_string(),
                    status: "True".to_string(),
                }]),
            },
        ],
    }
}

/// The shell program of a one-shot backup (`sh -c PROGRAM backup <remote> <sync flags>...`):
/// one listing of the destination first, then `rclone sync /data/ <remote> <flags>`.
///
/// Why the listing: when the storage cannot be reached, `rclone sync` still tries every file,
/// each through rclone's per-backend pacer, whose back-off serialises them: measured with rclone
/// 1.76 against a closed port, 500 small files had not finished failing after 5 minutes, so a
/// wrong endpoint on a real agent volume would hold a backup on delete until its time limit.
/// The listing fails in seconds with rclone's own exit code and message; "directory not found"
/// (3) is expected (a new backup path does not exist yet) and goes on to the copy. The remote
/// and the flags are positional parameters, never part of the program text.
pub const BACKUP_PROGRAM: &str = r#"remote=$1
shift
rc=0
rclone lsf "$remote" --max-depth=1 --low-level-retries=3 --retries=1 >/dev/null || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
  echo "the backup destination $remote cannot be listed (rclone exited with code $rc, see above); nothing was copied" >&2
  exit "$rc"
fi
exec rclone sync /data/ "$remote" "$@"
"#;

/// The argv of a one-shot copy: `rclone sync <from> <to>` with the copy flags (and, for a
/// restore, the restore flags) and the tuning flags; a backup goes through
/// [`BACKUP_PROGRAM`], which checks that the destination can be listed first.
pub fn sync_command(kind: JobKind, creds: &S3Credentials, path: &str) -> Vec<String> {
    let remote = remote_dir(creds, path);
    let flags = COPY_FLAGS
        .iter()
        .chain(if kind.is_backup() {
            &[][..]
        } else {
            RESTORE_FLAGS
        })
        .chain(TUNING_FLAGS)
        .chain(RETRY_FLAGS)
        .chain(ONE_SHOT_FLAGS)
        .map(|f| f.to_string());
    let head = if kind.is_backup() {
        vec![
            "sh".to_string(),
            "-c".to_string(),
            BACKUP_PROGRAM.to_string(),
            "backup".to_string(),
            remote,
        ]
    } else {
        vec![
            "rclone".to_string(),
            "sync".to_string(),
            remote,
            format!("{DATA_MOUNT}/"),
        ]
    };
    head.into_iter().chain(flags).collect()
}

/// The one-shot Job of `kind` copying the data volume `claim` to or from `path` (relative to
/// the bucket). The claim is [`crate::simple::backup_claim`].
pub fn job(m: &Model, kind: JobKind, path: &str, creds: &S3Credentials, claim: &str) -> Job {
    let mut metadata = meta(m, job_name(&m.name, kind), kind.job_type());
    metadata.annotations = Some(BTreeMap::from([(
        PATH_ANNOTATION.to_string(),
        path.to_string(),
    )]));
    let container = rclone_container(m, creds, sync_command(kind, creds, path));
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(ONE_SHOT_BACKOFF_LIMIT),
            pod_failure_policy: Some(failure_policy(true, Some(RCLONE_CONTAINER))),
            ttl_seconds_after_finished: Some(JOB_TTL_SECONDS),
            template: pod(
                m,
                kind.job_type(),
                claim,
                container,
                kind.beside_the_pod(),
                creds.keys.is_some(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The PVC a backup reads, given the rendered objects: the data PVC, unless there is none or
/// every replica has its own (the StatefulSet has volume claim templates). The controller asks
/// [`crate::simple::backup_claim`], which knows the same from the features.
fn claim_in(m: &Model, out: &[Desired]) -> Option<String> {
    let per_replica = out.iter().any(|d| match &d.object {
        Object::StatefulSet(s) => s.spec.as_ref().is_some_and(|s| {
            s.volume_claim_templates
                .as_ref()
                .is_some_and(|v| !v.is_empty())
        }),
        _ => false,
    });
    if per_replica {
        return None;
    }
    m.data_claim_name()
}

/// The mirror Secret `<name>-s3-credentials`: the static keys, in the instance's namespace.
/// `None` in workload-identity mode.
pub fn mirror_secret(m: &Model, creds: &S3Credentials) -> Option<Secret> {
    let (id, secret) = creds.keys.as_ref()?;
    Some(Secret {
        metadata: meta(m, mirror_secret_name(&m.name), "credentials"),
        type_: Some("Opaque".to_string()),
        data: Some(BTreeMap::from([
            (
                ACCESS_KEY_ID_KEY.to_string(),
                ByteString(id.as_bytes().to_vec()),
            ),
            (
                SECRET_ACCESS_KEY_KEY.to_string(),
                ByteString(secret.as_bytes().to_vec()),
            ),
        ])),
        ..Default::default()
    })
}

/// Quote a string for `sh` (single quotes).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The periodic backup script: an incremental `sync` into `periodic/latest` (only changed
/// files are uploaded), a server-side copy into `periodic/snapshots/<UTC date>`, and the
/// removal of snapshots older than `retention_days`.
pub fn periodic_script(
    creds: &S3Credentials,
    tenant: &str,
    instance: &str,
    retention_days: i32,
) -> String {
    let base = remote(
        creds,
        &format!("{}/periodic", instance_prefix(tenant, instance)),
    );
    let copy_flags = COPY_FLAGS.join(" ");
    let tuning = [TUNING_FLAGS, RETRY_FLAGS].concat().join(" ");
    format!(
        r#"set -eu
S3={base}
rclone sync {DATA_MOUNT}/ "$S3/latest/" {copy_flags} {tuning}
TODAY=$(date -u +%Y-%m-%d)
rclone copy "$S3/latest/" "$S3/snapshots/$TODAY/" {copy_flags} {tuning}
CUTOFF=$(date -u -d "@$(( $(date +%s) - 86400 * {retention_days} ))" +%Y-%m-%d)
for d in $(rclone lsf "$S3/snapshots/" --dirs-only 2>/dev/null); do
  d=${{d%/}}
  if [ "$d" \< "$CUTOFF" ]; then rclone purge "$S3/snapshots/$d"; fi
done
echo "Backup complete: $S3/snapshots/$TODAY"
"#,
        base = sh_quote(&base),
    )
}

/// `spec.backup.schedule`, when set (not checked).
pub fn schedule<'m>(m: &'m Model) -> Option<&'m str> {
    m.spec
        .backup
        .as_ref()?
        .schedule
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The periodic CronJob `<name>-backup-periodic`, when `spec.backup.schedule` is set and valid.
pub fn cron_job(m: &Model, creds: &S3Credentials, claim: &str) -> Option<CronJob> {
    let backup = m.spec.backup.as_ref()?;
    let schedule = schedule(m).filter(|s| openclaw_api::schedule::check(s).is_ok())?;
    let retention = backup
        .retention_days
        .unwrap_or(DEFAULT_RETENTION_DAYS)
        .clamp(1, 365);
    let script = periodic_script(creds, &tenant_of(m), &m.name, retention);
    let container = rclone_container(m, creds, vec!["sh".to_string(), "-c".to_string(), script]);
    let template = pod(
        m,
        PERIODIC_JOB_TYPE,
        claim,
        container,
        true,
        creds.keys.is_some(),
    );
    Some(CronJob {
        metadata: meta(m, cron_job_name(&m.name), PERIODIC_JOB_TYPE),
        spec: Some(CronJobSpec {
            schedule: schedule.to_string(),
            concurrency_policy: Some("Forbid".to_string()),
            starting_deadline_seconds: Some(PERIODIC_STARTING_DEADLINE_SECONDS),
            successful_jobs_history_limit: Some(
                backup.history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT).max(0),
            ),
            failed_jobs_history_limit: Some(
                backup
                    .failed_history_limit
                    .unwrap_or(DEFAULT_FAILED_HISTORY_LIMIT)
                    .max(0),
            ),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(backup_labels(m, PERIODIC_JOB_TYPE)),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    active_deadline_seconds: Some(PERIODIC_DEADLINE_SECONDS),
                    backoff_limit: Some(JOB_BACKOFF_LIMIT),
                    pod_failure_policy: Some(failure_policy(false, Some(RCLONE_CONTAINER))),
                    ttl_seconds_after_finished: Some(JOB_TTL_SECONDS),
                    template,
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    })
}

/// The periodic backups and the mirror Secret.
pub struct T;

impl Feature for T {
    fn name(&self) -> &'static str {
        "backup"
    }

    fn enabled(&self, m: &Model) -> bool {
        // Whether replicas have volumes of their own is seen in `objects`.
        m.observed.s3_credentials.is_some() && m.data_claim_name().is_some()
    }

    fn objects(
        &self,
        m: &Model,
        out: &mut Vec<Desired>,
        warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        let Some(creds) = m.observed.s3_credentials.as_ref() else {
            return Ok(());
        };
        if let Some(Err(e)) = schedule(m).map(openclaw_api::schedule::check) {
            warnings.push(format!(
                "spec.backup.schedule: {e}; no periodic backups until it is fixed"
            ));
        }
        let Some(claim) = claim_in(m, out) else {
            return Ok(());
        };
        let cron = cron_job(m, creds, &claim);
        if (cron.is_some() || m.observed.backup_jobs)
            && let Some(secret) = mirror_secret(m, creds)
        {
            out.push(Desired::apply(Object::Secret(secret), Phase::Secrets, None));
        }
        if let Some(cron) = cron {
            out.push(Desired::apply(Object::CronJob(cron), Phase::Workload, None));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Observed;
    use openclaw_api::{BackupSpec, OpenClawInstance};

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect()
    }

    fn creds() -> S3Credentials {
        parse_credentials(&data(&[
            (BUCKET_KEY, "b"),
            (ENDPOINT_KEY, "http://127.0.0.1:9000"),
            (ACCESS_KEY_ID_KEY, "AKID"),
            (SECRET_ACCESS_KEY_KEY, "s3cr3t-value"),
        ]))
        .unwrap()
    }

    fn instance(schedule: Option<&str>) -> OpenClawInstance {
        let mut i = OpenClawInstance::new("agent", Default::default());
        i.metadata.namespace = Some("oc-tenant-acme".into());
        i.metadata.uid = Some("uid-1".into());
        i.spec.backup = Some(BackupSpec {
            schedule: schedule.map(str::to_string),
            ..BackupSpec::default()
        });
        i
    }

    #[test]
    fn credentials_parse_and_explain_what_is_wrong() {
        let c = creds();
        assert_eq!(c.provider, "Other");
        assert_eq!(c.keys, Some(("AKID".into(), "s3cr3t-value".into())));
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let env_auth = parse_credentials(&data(&[
            (BUCKET_KEY, "b"),
            (ENDPOINT_KEY, "e"),
            (REGION_KEY, "eu-1"),
        ]))
        .unwrap();
        assert_eq!(env_auth.keys, None);
        assert_eq!(env_auth.region.as_deref(), Some("eu-1"));
        assert_eq!(
            parse_credentials(&data(&[(ENDPOINT_KEY, "e")])),
            Err(CredentialsError::MissingKey(BUCKET_KEY))
        );
        assert_eq!(
            parse_credentials(&data(&[(BUCKET_KEY, "b"), (ENDPOINT_KEY, " ")])),
            Err(CredentialsError::MissingKey(ENDPOINT_KEY))
        );
        let partial = parse_credentials(&data(&[
            (BUCKET_KEY, "b"),
            (ENDPOINT_KEY, "e"),
            (ACCESS_KEY_ID_KEY, "x"),
        ]))
        .unwrap_err();
        assert!(partial.to_string().contains("both"), "{partial}");
        assert!(parse_credentials(&data(&[(BUCKET_KEY, "a/b"), (ENDPOINT_KEY, "e")])).is_err());
    }

    #[test]
    fn tenant_and_paths_follow_the_go_layout() {
        assert_eq!(tenant(None, "oc-tenant-cus_789"), "cus_789");
        assert_eq!(tenant(None, "team-a"), "team-a");
        let labels = BTreeMap::from([(TENANT_LABEL.to_string(), "t1".to_string())]);
        assert_eq!(tenant(Some(&labels), "ns"), "t1");
        let now: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(
            JobKind::Delete.new_path("t", "i", now),
            "backups/t/i/2026-01-02T030405Z"
        );
        assert_eq!(
            JobKind::PreUpdate.new_path("t", "i", now),
            "backups/t/i/pre-update-2026-01-02T030405Z"
        );
        for k in JobKind::ALL {
            assert_eq!(JobKind::from_job_type(k.job_type()), Some(k));
        }
    }

    #[test]
    fn a_job_carries_no_credential_and_is_not_taken_for_the_agent() {
        let i = instance(None);
        let observed = Observed::default();
        let m = Model::new(&i, &observed).unwrap();
        let job = job(
            &m,
            JobKind::Delete,
            "backups/acme/agent/x",
            &creds(),
            "agent-data",
        );
        let text = serde_json::to_string(&job).unwrap();
        assert!(!text.contains("s3cr3t") && !text.contains("AKID"), "{text}");
        assert_eq!(job.metadata.name.as_deref(), Some("agent-backup"));
        let pod = job.spec.as_ref().unwrap().template.clone();
        let labels = pod.metadata.unwrap().labels.unwrap();
        assert!(!labels.contains_key("app.kubernetes.io/name"));
        assert_eq!(labels[TENANT_LABEL], "acme");
        let spec = pod.spec.unwrap();
        assert!(spec.affinity.is_none());
        let c = &spec.containers[0];
        let argv = c.command.as_ref().unwrap();
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(argv[2], BACKUP_PROGRAM);
        assert_eq!(argv[3..5], ["backup", ":s3:b/backups/acme/agent/x/"]);
        assert!(argv.iter().any(|a| a == "--retries=1"), "{argv:?}");
        // The program copies the data mount, and is valid shell.
        assert!(BACKUP_PROGRAM.contains(&format!("rclone sync {DATA_MOUNT}/ ")));
        let syntax = std::process::Command::new("sh")
            .args(["-n", "-c", BACKUP_PROGRAM])
            .status()
            .unwrap();
        assert!(syntax.success());
        let env = c.env.as_ref().unwrap();
        let key = env
            .iter()
            .find(|e| e.name == "RCLONE_S3_SECRET_ACCESS_KEY")
            .unwrap();
        let r = key
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (r.name.as_str(), r.key.as_str()),
            ("agent-s3-credentials", SECRET_ACCESS_KEY_KEY)
        );
        let restore = super::job(&m, JobKind::Restore, "p", &creds(), "agent-data");
        let argv = restore.spec.unwrap().template.spec.unwrap().containers[0]
            .command
            .clone()
            .unwrap();
        assert_eq!(argv[2..4], [":s3:b/p/", "/data/"]);
        // The metadata mapper on restores only.
        assert!(argv.iter().any(|a| a == RESTORE_FLAGS[0]), "{argv:?}");
        let backup_argv = c.command.as_ref().unwrap();
        assert!(
            !backup_argv
                .iter()
                .any(|a| a.starts_with("--metadata-mapper")),
            "{backup_argv:?}"
        );
        let now = super::job(&m, JobKind::OnDemand, "p", &creds(), "agent-data");
        assert!(now.spec.unwrap().template.spec.unwrap().affinity.is_some());
    }

    #[test]
    fn the_feature_renders_the_cron_job_and_mirror_only_when_needed() {
        let render = |schedule: Option<&str>, creds: Option<S3Credentials>, jobs: bool| {
            let i = instance(schedule);
            let observed = Observed {
                s3_credentials: creds,
                backup_jobs: jobs,
                ..Observed::default()
            };
            let m = Model::new(&i, &observed).unwrap();
            let mut out = Vec::new();
            if T.enabled(&m) {
                T.objects(&m, &mut out, &mut Vec::new()).unwrap();
            }
            out.iter()
                .map(|d| format!("{}/{}", d.object.kind(), d.object.name()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            render(Some("0 3 * * *"), Some(creds()), false),
            [
                "Secret/agent-s3-credentials",
                "CronJob/agent-backup-periodic"
            ]
        );
        assert!(render(None, Some(creds()), false).is_empty());
        assert_eq!(
            render(None, Some(creds()), true),
            ["Secret/agent-s3-credentials"]
        );
        assert!(render(Some("0 3 * * *"), None, true).is_empty());
        let mut env_auth = creds();
        env_auth.keys = None;
        assert_eq!(
            render(Some("@daily"), Some(env_auth), true),
            ["CronJob/agent-backup-periodic"]
        );
    }

    #[test]
    fn the_cron_job_runs_beside_the_agent_and_the_script_is_valid_sh() {
        let i = instance(Some("*/5 * * * *"));
        let observed = Observed::default();
        let m = Model::new(&i, &observed).unwrap();
        let cron = cron_job(&m, &creds(), "agent-data").unwrap();
        let spec = cron.spec.unwrap();
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
        assert_eq!(spec.successful_jobs_history_limit, Some(3));
        assert_eq!(spec.failed_jobs_history_limit, Some(1));
        let pod = spec.job_template.spec.unwrap().template.spec.unwrap();
        let term = &pod
            .affinity
            .unwrap()
            .pod_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()[0];
        assert_eq!(term.topology_key, "kubernetes.io/hostname");
        let script = &pod.containers[0].command.as_ref().unwrap()[2];
        assert!(
            script.contains("'periodic'") || script.contains("/periodic'"),
            "{script}"
        );
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", script])
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    }
}
