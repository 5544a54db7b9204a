//! The state-migration Job of an OpenClaw upgrade: `openclaw doctor --fix --non-interactive`
//! from the **new** image, against the instance's data volume, before the new gateway starts on
//! it.
//!
//! OpenClaw's state migrations are one-way since 2026.9: doctor imports the legacy JSON state
//! (device identity, update check, config health) into `state/openclaw.sqlite` and archives
//! (`*.migrated`) or removes the sources. The Job runs them once, visibly (its own pod, logs and
//! exit code), before the new gateway starts, instead of inside the gateway's start. Measured
//! with 2026.9.6 on a 2026.5.18 state (`tests/migration_openclaw.rs`): the Job takes about
//! 20-30 s; the 2026.9.6 gateway would also get ready without it, running the same state
//! migrations itself at startup.
//!
//! The pod is built from the StatefulSet the operator renders ([`crate::statefulset::render`]),
//! so it cannot drift from what the gateway sees:
//! - `init-config` as in the gateway's pod: it applies the rendered `openclaw.json` onto the data
//!   volume (and seeds the workspaces), so doctor reads the very config the new gateway will
//!   read (`OPENCLAW_CONFIG_PATH`);
//! - the container `migrate`: the gateway container (`openclaw`) with its environment,
//!   `envFrom`, volume mounts (the data volume at `~/.openclaw` and its `subPath`s, `/tmp`, the
//!   config at `/operator-config`, the features' mounts such as the CA bundle), security context
//!   and resources, but with [`command`] instead of the image's gateway command, and without
//!   ports, probes or the `postStart` hook;
//! - the pod's security context (user, group, `fsGroup`), image pull secrets, ServiceAccount,
//!   node selector, tolerations, affinity and runtime class; only the volumes the two containers
//!   mount. The ServiceAccount token is not mounted (doctor never calls the Kubernetes API).
//!
//! The command runs without a shell: the Job's exit code is doctor's (1 when a repair fails,
//! e.g. an unparseable `openclaw.json`), and the one-shot failure policy fails the Job on any
//! non-zero exit code, with no pod retry.
//!
//! Pure: the caller decides when (the image's version changes) and names the Job with
//! [`migration_job_name`].

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::RenderError;
use crate::consts::{container, volume};
use crate::features::backup::{
    JOB_TTL_SECONDS, ONE_SHOT_BACKOFF_LIMIT, backup_labels, failure_policy, job_meta,
};
use crate::hash::short_sha256;
use crate::k8s::meta::non_empty_vec;
use crate::k8s::volume::{empty_dir, pvc_volume};
use crate::model::Model;

/// The `openclaw.rocks/job-type` label (and `app.kubernetes.io/component`) of the Job and its
/// pod.
pub const JOB_TYPE: &str = "migrate";
/// The container running doctor.
pub const CONTAINER: &str = "migrate";
/// The OpenClaw CLI in the OpenClaw image: the image's working directory is `/app` and its
/// default command is `node openclaw.mjs gateway --allow-unconfigured` (upstream `Dockerfile`,
/// `WORKDIR /app` ... `CMD ["node", "openclaw.mjs", "gateway", "--allow-unconfigured"]`). Newer
/// images also link `/usr/local/bin/openclaw` to it; the absolute entry point works with both
/// and does not depend on the working directory.
pub const CLI_ENTRY: &str = "/app/openclaw.mjs";
/// doctor's arguments: `--fix` applies the repairs and migrations (alias of `--repair`), and
/// `--non-interactive` runs without prompts, only the safe migrations and non-service repairs
/// (no service install, no restart). Both exist in every pinned version (2026.5.18, 2026.7.35,
/// 2026.9.5, 2026.9.6: `openclaw doctor --help`); upstream documents the pair for headless runs
/// (`docs/cli/doctor.md`: `openclaw doctor --fix --non-interactive`).
pub const DOCTOR_ARGS: [&str; 3] = ["doctor", "--fix", "--non-interactive"];
/// The Job is cut off after 30 minutes (a migration of a large session history included; an
/// empty state takes about 15 s).
pub const DEADLINE_SECONDS: i64 = 1_800;
/// How many characters of the version hash end the Job's name.
const HASH_CHARS: usize = 6;
/// Kubernetes' limit for a Job name that its pods can carry as the `job-name` label.
const NAME_MAX: usize = 63;

/// The migration Job's container command: `node /app/openclaw.mjs doctor --fix
/// --non-interactive`.
pub fn command() -> Vec<String> {
    ["node", CLI_ENTRY]
        .into_iter()
        .chain(DOCTOR_ARGS)
        .map(str::to_string)
        .collect()
}

/// The name of the Job migrating `instance`'s state for `version` (the new image's tag or
/// digest): `<instance>-migrate-<first 6 hex of sha256(version)>`, the instance part shortened
/// so that the name has at most 63 characters. Deterministic: the same upgrade finds its Job
/// again; another version gets another Job.
pub fn migration_job_name(instance: &str, version: &str) -> String {
    let hash = short_sha256(version.as_bytes());
    let suffix = format!("-{JOB_TYPE}-{}", hash.get(..HASH_CHARS).unwrap_or(&hash));
    let room = NAME_MAX.saturating_sub(suffix.len());
    let mut prefix: String = instance.chars().take(room).collect();
    // A shortened name does not end in a separator before the suffix.
    while prefix.ends_with(['-', '.']) {
        prefix.pop();
    }
    format!("{prefix}{suffix}")
}

/// The state-migration Job `name` running doctor from `image` against the instance's data
/// volume (see the module docs).
///
/// `m` is the instance as it will run after the upgrade (its `openclaw.json` is rendered for the
/// version of `m`'s image). `image` is used as it is: the new image exactly as the new
/// StatefulSet names it (the registry override applied). The data volume is the data PVC
/// ([`crate::simple::backup_claim`]); without a single data PVC (persistence off: an `emptyDir`
/// that starts empty; or a volume per replica) there is nothing one Job can migrate and the
/// caller should not create it.
///
/// Fails only where [`crate::render`] fails (the config cannot be rendered).
pub fn migration_job(m: &Model, image: &str, name: &str) -> Result<Job, RenderError> {
    // Warnings are the instance render's to report; the Job adds none of its own.
    let mut warnings = Vec::new();
    let config = crate::config::render(m, &mut warnings)?;
    let sts = crate::statefulset::render(m, &config, "", &mut warnings);
    let pod = sts.spec.and_then(|s| s.template.spec).unwrap_or_default();

    let init_config = pod
        .init_containers
        .iter()
        .flatten()
        .find(|c| c.name == container::INIT_CONFIG)
        .cloned()
        .map(|c| Container {
            image: Some(image.to_string()),
            ..c
        });
    let migrate = pod
        .containers
        .iter()
        .find(|c| c.name == container::MAIN)
        .cloned()
        .map(|c| Container {
            name: CONTAINER.to_string(),
            image: Some(image.to_string()),
            command: Some(command()),
            args: None,
            ports: None,
            liveness_probe: None,
            readiness_probe: None,
            startup_probe: None,
            lifecycle: None,
            ..c
        })
        .unwrap_or_default();

    let init_containers: Vec<Container> = init_config.into_iter().collect();
    let volumes = used_volumes(
        m,
        pod.volumes.unwrap_or_default(),
        &init_containers,
        &migrate,
    );
    let labels = backup_labels(m, JOB_TYPE);
    Ok(Job {
        metadata: job_meta(m, name.to_string(), JOB_TYPE, JOB_TYPE),
        spec: Some(JobSpec {
            active_deadline_seconds: Some(DEADLINE_SECONDS),
            backoff_limit: Some(ONE_SHOT_BACKOFF_LIMIT),
            // Any non-zero exit (init-config's or doctor's) fails the Job at once; an evicted
            // pod does not count.
            pod_failure_policy: Some(failure_policy(true, None)),
            ttl_seconds_after_finished: Some(JOB_TTL_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_string()),
                    service_account_name: pod.service_account_name,
                    automount_service_account_token: Some(false),
                    security_context: pod.security_context,
                    image_pull_secrets: pod.image_pull_secrets,
                    node_selector: pod.node_selector,
                    tolerations: pod.tolerations,
                    affinity: pod.affinity,
                    runtime_class_name: pod.runtime_class_name,
                    init_containers: non_empty_vec(init_containers),
                    containers: vec![migrate],
                    volumes: non_empty_vec(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    })
}

/// The pod's volumes that the Job's containers mount, in the pod's order. The data volume is the
/// data PVC whenever there is one (with per-replica volumes the StatefulSet's pod has none of
/// its own: it comes from a claim template).
fn used_volumes(
    m: &Model,
    mut volumes: Vec<Volume>,
    init_containers: &[Container],
    migrate: &Container,
) -> Vec<Volume> {
    let claim = crate::simple::backup_claim(m);
    match (volumes.iter_mut().find(|v| v.name == volume::DATA), claim) {
        (Some(v), Some(claim)) => *v = pvc_volume(volume::DATA, &claim),
        (Some(_), None) => {}
        (None, Some(claim)) => volumes.insert(0, pvc_volume(volume::DATA, &claim)),
        (None, None) => volumes.insert(0, empty_dir(volume::DATA)),
    }
    let mounted: Vec<&str> = init_containers
        .iter()
        .chain([migrate])
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .map(|v| v.name.as_str())
        .collect();
    volumes.retain(|v| mounted.contains(&v.name.as_str()));
    volumes
}
