//! The pure half of updates (auto-updates and image changes a user makes): from the spec, the
//! recorded `status.autoUpdate` and what the driver (`super::update`) observed in this pass,
//! the next `status.autoUpdate`, what the workload must look like (held at zero, pinned to the
//! old image), the actions to take (start a Job, patch `spec.image.tag`), the events and the
//! conditions. No I/O, no clock: every transition is unit-tested (`update_plan_tests.rs`).
//!
//! One update is one pass through the phases (`status.autoUpdate.updatePhase`, the Go
//! operator's values):
//!
//! ```text
//!  ""  ──(backup wanted)──▶ BackingUp ──▶ ApplyingUpdate ──▶ HealthCheck ──▶ confirmed
//!   └──(no backup)────────────────────────▲     │ migrate (new image,  │ timeout
//!                                               │ data volume)         ▼
//!                                               └──(migration fails)─▶ RollingBack ──▶ reverted
//! ```
//!
//! - **BackingUp**: the workload is held at zero and pinned to the old image; a pre-update
//!   backup Job copies the data volume to S3 (its path is recorded for the rollback).
//! - **ApplyingUpdate**: `spec.image.tag` is patched to the new version (auto-update only),
//!   then `openclaw doctor --fix` runs from the **new** image against the data volume while the
//!   workload stays at zero on the old image.
//! - **HealthCheck**: the new image is rolled out; confirmed once the StatefulSet's pod is
//!   Ready on the new revision, within `healthCheckTimeout`.
//! - **RollingBack**: held at zero on the old image; the pre-update backup is restored into the
//!   data volume, then `spec.image.tag` is reverted, the version recorded in `failedVersion`
//!   and the circuit breaker counts one more rollback.
//!
//! An image change a user makes (`updateTrigger: ImageChange`) takes the same road without
//! the registry and without the health-check rollback: a snapshot when S3 credentials exist,
//! the migration, then the rollout. Every step is decided again from the status and the
//! cluster on each pass, and every action is idempotent (Jobs have deterministic names, the
//! tag patch is a merge patch), so the operator can be killed anywhere and resumes.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use openclaw_api::units::parse_go_duration;
use openclaw_api::{AutoUpdateStatus, OpenClawInstanceSpec};

use super::backup::JobView;
use super::backup::{Outcome, Progress};
use super::status::phase;

/// `updatePhase` values (the Go operator's CRD enum).
pub mod update_phase {
    /// Pending, not started.
    pub const NONE: &str = "";
    /// The pre-update backup runs.
    pub const BACKING_UP: &str = "BackingUp";
    /// The tag is set and the state migrated.
    pub const APPLYING: &str = "ApplyingUpdate";
    /// The new version rolls out and is health-checked.
    pub const HEALTH_CHECK: &str = "HealthCheck";
    /// The old version and its data come back.
    pub const ROLLING_BACK: &str = "RollingBack";
}

/// `updateTrigger` values.
pub mod trigger {
    /// The operator found a newer version in the registry.
    pub const AUTO: &str = "AutoUpdate";
    /// A user (or the cluster defaults) changed the image.
    pub const IMAGE_CHANGE: &str = "ImageChange";
}

/// Consecutive rollbacks after which auto-update pauses.
pub const MAX_ROLLBACKS: i32 = 3;
/// Phase of the instance while an update holds or rolls it.
pub const UPDATING: &str = "Updating";
/// The condition that says how auto-update stands.
pub const AUTO_UPDATE_READY: &str = "AutoUpdateReady";
/// The Go operator's condition: a newer version was found.
pub const AUTO_UPDATE_AVAILABLE: &str = "AutoUpdateAvailable";
/// A pre-update backup is wanted but cannot be taken.
pub const BACKUP_REQUIRED: &str = "BackupRequired";
/// How often a running workflow is looked at.
pub const POLL: Duration = Duration::from_secs(10);
/// How often a workflow waiting for pods is looked at.
pub const PODS_POLL: Duration = Duration::from_secs(3);
/// How often a workflow waiting for credentials or the registry is looked at.
pub const SLOW_POLL: Duration = Duration::from_secs(60);

/// `spec.autoUpdate`, read with the Go operator's defaults and bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `enabled` and no digest pin.
    pub enabled: bool,
    /// `enabled` but pinned by digest (auto-update is off; warned).
    pub digest_pinned: bool,
    /// `checkInterval` (24h; 1h..168h).
    pub check_interval: Duration,
    /// `healthCheckTimeout` (10m; 2m..30m).
    pub health_check_timeout: Duration,
    /// `backupBeforeUpdate` (true).
    pub backup_before_update: bool,
    /// `rollbackOnFailure` (true).
    pub rollback_on_failure: bool,
    /// The repository polled (`spec.image.repository` or the default).
    pub repository: String,
}

fn bounded(text: Option<&str>, default: u64, min: u64, max: u64) -> Duration {
    let secs = text
        .filter(|t| !t.is_empty())
        .and_then(|t| parse_go_duration(t).ok())
        .filter(|s| s.is_finite())
        .unwrap_or(default as f64)
        .clamp(min as f64, max as f64);
    Duration::from_secs_f64(secs)
}

impl Settings {
    /// Read from a (merged) spec.
    pub fn of(spec: &OpenClawInstanceSpec) -> Settings {
        let a = spec.auto_update.clone().unwrap_or_default();
        let image = spec.image.clone().unwrap_or_default();
        let digest = image.digest.as_deref().is_some_and(|d| !d.is_empty());
        let on = a.enabled == Some(true);
        Settings {
            enabled: on && !digest,
            digest_pinned: on && digest,
            check_interval: bounded(a.check_interval.as_deref(), 86_400, 3_600, 604_800),
            health_check_timeout: bounded(a.health_check_timeout.as_deref(), 600, 120, 1_800),
            backup_before_update: a.backup_before_update != Some(false),
            rollback_on_failure: a.rollback_on_failure != Some(false),
            repository: image
                .repository
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| openclaw_api::DEFAULT_IMAGE_REPOSITORY.to_string()),
        }
    }
}

/// The tag of `spec.image.tag` (`latest` when empty).
pub fn spec_tag(spec: &OpenClawInstanceSpec) -> String {
    spec.image
        .as_ref()
        .and_then(|i| i.tag.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| openclaw_api::DEFAULT_IMAGE_TAG.to_string())
}

/// The version part of an image reference: what follows the last `:` after the last `/`
/// (`None` for a reference without a tag), with any `@digest` removed.
pub fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split_once(':').map(|(_, t)| t)
}

/// `image` with its tag replaced by `tag` (a digest dropped).
pub fn with_tag(image: &str, tag: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let (head, last) = match no_digest.rsplit_once('/') {
        Some((h, l)) => (format!("{h}/"), l),
        None => (String::new(), no_digest),
    };
    let name = last.split(':').next().unwrap_or(last);
    format!("{head}{name}:{tag}")
}

/// What identifies the version an image reference runs: tag and digest (the registry host and
/// path may change with a mirror without changing the version).
fn version_key(image: &str) -> &str {
    image.rsplit('/').next().unwrap_or(image)
}

/// A Job's state, for the Jobs the update runs.
#[derive(Clone, Debug, PartialEq)]
pub enum JobState {
    /// Not created yet.
    NotStarted,
    /// Running (or waiting for its next attempt).
    Running(String),
    /// Completed; the remote path it wrote or read (backups), and its name.
    Succeeded {
        /// The Job.
        job: String,
        /// Remote path (backups and restores).
        path: String,
    },
    /// Every attempt failed; why.
    Failed(String),
}

impl JobState {
    /// From the backup driver's progress of one request.
    pub fn of(progress: &Progress, max_attempts: u32) -> JobState {
        match progress {
            Progress::NotStarted => JobState::NotStarted,
            Progress::Running(j) => JobState::Running(j.name.clone()),
            Progress::Succeeded(j) => JobState::Succeeded {
                job: j.name.clone(),
                path: j.path.clone(),
            },
            Progress::Failed { last, attempts } => {
                let permanent = matches!(last.outcome, Outcome::FailedPermanently(_));
                if *attempts >= max_attempts || permanent {
                    JobState::Failed(failure(last, *attempts))
                } else {
                    JobState::Running(last.name.clone())
                }
            }
        }
    }
}

fn failure(last: &JobView, attempts: u32) -> String {
    format!(
        "Job {} failed ({attempts} attempt(s)): {}",
        last.name,
        super::backup::failure_message(last)
    )
}

/// The result of asking the registry (only when [`wants_check`] said so).
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// The newest stable tag.
    Latest(String),
    /// The registry could not answer; why (for the condition and event).
    Failed(String),
}

/// What the driver observed in this pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The image the StatefulSet's template runs (`None`: no StatefulSet yet).
    pub running_image: Option<String>,
    /// The image render wants (the spec's, after the registry override).
    pub desired_image: String,
    /// There is a single data volume (backups and migrations need one).
    pub data_volume: bool,
    /// Usable S3 credentials exist.
    pub s3: bool,
    /// Why the S3 credentials cannot be used (for the message).
    pub s3_problem: Option<String>,
    /// `spec.suspended`.
    pub suspended: bool,
    /// Pods of the instance left (asked only while the workload is held).
    pub pods_left: Option<usize>,
    /// The registry's answer (asked when due).
    pub check: Option<Check>,
    /// Whether the pending version's tag still exists (asked before starting).
    pub tag_exists: Option<Result<bool, String>>,
    /// The pre-update backup Job of the pending version.
    pub backup: Option<JobState>,
    /// The migration Job of the pending version.
    pub migration: Option<JobState>,
    /// The rollback restore Job of the pending version.
    pub restore: Option<JobState>,
    /// The StatefulSet runs the pending version: template on it, rolled out, a pod Ready on
    /// the new revision.
    pub healthy: bool,
}

/// Something the driver does for the plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Act {
    /// Merge-patch `spec.image.tag`.
    PatchTag(String),
    /// Start (or keep driving) the pre-update backup Job.
    Backup,
    /// Start the migration Job with this image.
    Migrate(String),
    /// Start (or keep driving) the restore of this path.
    Restore(String),
}

/// Metric increments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// A registry check, by success.
    Check(bool),
    /// An update was applied (rolled out).
    Applied,
    /// An update was rolled back.
    RolledBack,
}

/// A condition change.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// Set type, status, reason, message.
    Set(&'static str, &'static str, &'static str, String),
    /// Remove the type.
    Remove(&'static str),
}

/// What the plan concluded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The new `status.autoUpdate` (`None`: leave it as it was, absent).
    pub status: Option<AutoUpdateStatus>,
    /// Hold the workload at zero replicas.
    pub hold: bool,
    /// Run this image instead of the rendered one.
    pub pin_image: Option<String>,
    /// The phase and message to report.
    pub phase: Option<(&'static str, String)>,
    /// Actions, in order.
    pub acts: Vec<Act>,
    /// Events (warning?, reason, message).
    pub events: Vec<(bool, &'static str, String)>,
    /// Conditions.
    pub conditions: Vec<Cond>,
    /// Look again this soon.
    pub requeue: Option<Duration>,
    /// Metrics.
    pub counts: Vec<Count>,
    /// Warning events `(condition type, event reason)`: emitted with the condition's message
    /// when the condition set here differs from the recorded one (so once, not every pass).
    pub warn_on_change: Vec<(&'static str, &'static str)>,
}

impl Plan {
    fn event(&mut self, warning: bool, reason: &'static str, message: impl Into<String>) {
        self.events.push((warning, reason, message.into()));
    }
    fn set(&mut self, t: &'static str, s: &'static str, r: &'static str, m: impl Into<String>) {
        self.conditions.push(Cond::Set(t, s, r, m.into()));
    }
    fn soon(&mut self, d: Duration) {
        self.requeue = Some(self.requeue.map_or(d, |r| r.min(d)));
    }
}

fn secs_since(then: Option<&Time>, now: &Time) -> Option<u64> {
    let then = then?;
    Some(
        now.0
            .as_second()
            .saturating_sub(then.0.as_second())
            .max(0)
            .unsigned_abs(),
    )
}

/// Whether the registry is asked in this pass: auto-update on, not suspended, no update in
/// progress, the circuit breaker closed, and the tag is `latest` or a check is due.
pub fn wants_check(
    spec: &OpenClawInstanceSpec,
    status: Option<&AutoUpdateStatus>,
    now: &Time,
) -> bool {
    let settings = Settings::of(spec);
    if !settings.enabled || spec.suspended == Some(true) {
        return false;
    }
    let au = status.cloned().unwrap_or_default();
    if au.pending_version.as_deref().is_some_and(|p| !p.is_empty()) {
        return false;
    }
    if spec_tag(spec) == "latest" {
        return true;
    }
    if au.rollback_count.unwrap_or(0) >= MAX_ROLLBACKS {
        return false;
    }
    secs_since(au.last_check_time.as_ref(), now)
        .is_none_or(|s| s >= settings.check_interval.as_secs())
}

/// Whether the pending version's tag is looked up before the update starts.
pub fn wants_tag_check(status: Option<&AutoUpdateStatus>) -> Option<String> {
    let au = status?;
    let pending = au.pending_version.as_deref().filter(|p| !p.is_empty())?;
    (au.update_trigger.as_deref() != Some(trigger::IMAGE_CHANGE)
        && au.update_phase.as_deref().unwrap_or_default() == update_phase::NONE)
        .then(|| pending.to_string())
}

/// Which Jobs the pass looks at: (pre-update backup, migration, rollback restore).
pub fn wants_jobs(status: Option<&AutoUpdateStatus>) -> (bool, bool, bool) {
    let phase = status
        .and_then(|a| a.update_phase.as_deref())
        .unwrap_or_default();
    (
        phase == update_phase::BACKING_UP,
        phase == update_phase::APPLYING,
        phase == update_phase::ROLLING_BACK,
    )
}

/// Whether the pass counts the pods left (the workload is held).
pub fn wants_pods(status: Option<&AutoUpdateStatus>) -> bool {
    let (a, b, c) = wants_jobs(status);
    a || b || c
}

/// Whether a user's image change starts the migration road: the StatefulSet exists and runs
/// another version than the one wanted, on a data volume.
pub fn image_changed(observed: &Observed) -> bool {
    observed.data_volume
        && observed
            .running_image
            .as_deref()
            .is_some_and(|r| version_key(r) != version_key(&observed.desired_image))
}

/// The plan of one pass.
pub fn plan(
    spec: &OpenClawInstanceSpec,
    status: Option<&AutoUpdateStatus>,
    observed: &Observed,
    now: &Time,
) -> Plan {
    let settings = Settings::of(spec);
    let mut plan = Plan::default();
    let mut au = status.cloned().unwrap_or_default();
    let pending = au.pending_version.clone().filter(|p| !p.is_empty());
    match pending {
        None => idle(&settings, spec, &mut au, observed, now, &mut plan),
        Some(p) => in_progress(&settings, spec, &mut au, &p, observed, now, &mut plan),
    }
    if au != AutoUpdateStatus::default() || status.is_some() {
        plan.status = Some(au);
    }
    plan
}

fn clear(au: &mut AutoUpdateStatus) {
    au.pending_version = None;
    au.update_phase = None;
    au.update_trigger = None;
    au.previous_version = None;
    au.pre_update_backup_path = None;
}

fn idle(
    settings: &Settings,
    spec: &OpenClawInstanceSpec,
    au: &mut AutoUpdateStatus,
    observed: &Observed,
    now: &Time,
    plan: &mut Plan,
) {
    let tag = spec_tag(spec);
    // A user's image change (or the operator's default moving) on an existing data volume.
    if image_changed(observed) {
        let running = observed.running_image.clone().unwrap_or_default();
        let from = image_tag(&running).unwrap_or(&running).to_string();
        let to = image_tag(&observed.desired_image)
            .unwrap_or(&observed.desired_image)
            .to_string();
        au.pending_version = Some(to.clone());
        au.previous_version = Some(from.clone());
        au.update_trigger = Some(trigger::IMAGE_CHANGE.into());
        au.last_update_error = None;
        au.pre_update_backup_path = None;
        // The user chose a version: the circuit breaker starts again.
        au.rollback_count = None;
        let next = if observed.s3 {
            update_phase::BACKING_UP
        } else {
            update_phase::APPLYING
        };
        au.update_phase = Some(next.into());
        plan.event(
            false,
            "UpgradeStarted",
            format!(
                "Image changed from {from} to {to}: {}migrating the state with the new \
                 version before it starts",
                if observed.s3 {
                    "taking a snapshot, then "
                } else {
                    ""
                }
            ),
        );
        plan.pin_image = Some(running);
        plan.hold = true;
        plan.phase = Some((UPDATING, format!("Upgrading from {from} to {to}")));
        plan.soon(PODS_POLL);
        return;
    }

    if settings.digest_pinned {
        plan.set(
            AUTO_UPDATE_READY,
            "False",
            "DigestPinned",
            "spec.image.digest pins the image, so auto-update is off; remove the digest to \
             let the operator update the tag",
        );
        plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
        plan.warn_on_change
            .push((AUTO_UPDATE_READY, "AutoUpdateDisabled"));
        return;
    }
    if !settings.enabled {
        plan.conditions.push(Cond::Remove(AUTO_UPDATE_READY));
        plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
        plan.conditions.push(Cond::Remove(BACKUP_REQUIRED));
        return;
    }
    if observed.suspended {
        // No checks while suspended (the phase says so).
        return;
    }
    let rollbacks = au.rollback_count.unwrap_or(0);
    let interval = openclaw_api_duration(settings.check_interval);
    match &observed.check {
        Some(Check::Failed(why)) => {
            plan.counts.push(Count::Check(false));
            au.last_check_time = Some(now.clone());
            plan.event(
                true,
                "AutoUpdateCheckFailed",
                format!("Failed to check for updates: {why}"),
            );
            plan.set(
                AUTO_UPDATE_READY,
                "False",
                "CheckFailed",
                format!(
                    "Checking {} failed: {why}; the running version is kept, next check in \
                     {interval}",
                    settings.repository
                ),
            );
            if tag == "latest" {
                plan.event(
                    true,
                    "AutoUpdateResolveFailed",
                    format!("Failed to resolve latest version: {why}"),
                );
                // `latest` is asked again sooner than the check interval.
                plan.soon(SLOW_POLL.saturating_mul(5));
            }
        }
        Some(Check::Latest(latest)) => {
            plan.counts.push(Count::Check(true));
            au.last_check_time = Some(now.clone());
            au.latest_version = Some(latest.clone());
            if tag == "latest" {
                plan.acts.push(Act::PatchTag(latest.clone()));
                au.current_version = Some(latest.clone());
                plan.pin_image = Some(with_tag(&observed.desired_image, latest));
                plan.event(
                    false,
                    "AutoUpdateTagResolved",
                    format!("Resolved 'latest' to {latest}"),
                );
                plan.set(
                    AUTO_UPDATE_READY,
                    "True",
                    "UpToDate",
                    format!("Resolved 'latest' to {latest}"),
                );
            } else {
                au.current_version = Some(tag.clone());
                consider(settings, au, &tag, latest, plan);
            }
        }
        None => {
            if rollbacks >= MAX_ROLLBACKS {
                plan.set(
                    AUTO_UPDATE_READY,
                    "False",
                    "Paused",
                    format!(
                        "Auto-update is paused after {rollbacks} consecutive rollbacks (last: \
                         {}); set spec.image.tag to a version to resume",
                        au.last_update_error.as_deref().unwrap_or("unknown")
                    ),
                );
            }
        }
    }
    if let Some(last) = au.last_check_time.as_ref()
        && rollbacks < MAX_ROLLBACKS
    {
        let since = secs_since(Some(last), now).unwrap_or(0);
        let left = settings
            .check_interval
            .as_secs()
            .saturating_sub(since)
            .max(1);
        plan.soon(Duration::from_secs(left));
    }
}

fn openclaw_api_duration(d: Duration) -> String {
    super::lifecycle::display_duration(d)
}

/// After a successful check: start an update to `latest` when it is newer than `current`
/// and has not failed before.
fn consider(
    settings: &Settings,
    au: &mut AutoUpdateStatus,
    current: &str,
    latest: &str,
    plan: &mut Plan,
) {
    let rollbacks = au.rollback_count.unwrap_or(0);
    if rollbacks >= MAX_ROLLBACKS {
        return;
    }
    let Some(newer) = crate::registry::newer(latest, current) else {
        plan.set(
            AUTO_UPDATE_READY,
            "True",
            "UpToDate",
            format!(
                "The running tag {current} is not a version; the newest in {} is {latest}",
                settings.repository
            ),
        );
        return;
    };
    if !newer {
        plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
        plan.set(
            AUTO_UPDATE_READY,
            "True",
            "UpToDate",
            format!(
                "{current} is the newest stable version in {}",
                settings.repository
            ),
        );
        return;
    }
    if let Some(failed) = au.failed_version.clone() {
        if failed == latest {
            plan.set(
                AUTO_UPDATE_READY,
                "True",
                "FailedVersionSkipped",
                format!(
                    "{latest} failed its health check before and is not tried again; running \
                     {current}"
                ),
            );
            return;
        }
        if crate::registry::newer(latest, &failed) == Some(true) {
            au.failed_version = None;
        }
    }
    au.pending_version = Some(latest.to_string());
    au.update_phase = Some(update_phase::NONE.into());
    au.update_trigger = Some(trigger::AUTO.into());
    au.last_update_error = None;
    plan.event(
        false,
        "AutoUpdateAvailable",
        format!("New version {latest} available (current: {current})"),
    );
    plan.set(
        AUTO_UPDATE_AVAILABLE,
        "True",
        "NewVersionAvailable",
        format!("Version {latest} is available (current: {current})"),
    );
    plan.set(
        AUTO_UPDATE_READY,
        "True",
        "Updating",
        format!("Updating from {current} to {latest}"),
    );
    plan.pin_image = None;
    plan.soon(Duration::from_secs(1));
}

#[allow(clippy::too_many_arguments)]
fn in_progress(
    settings: &Settings,
    spec: &OpenClawInstanceSpec,
    au: &mut AutoUpdateStatus,
    pending: &str,
    observed: &Observed,
    now: &Time,
    plan: &mut Plan,
) {
    let manual = au.update_trigger.as_deref() == Some(trigger::IMAGE_CHANGE);
    let phase_now = au.update_phase.clone().unwrap_or_default();
    let tag = spec_tag(spec);
    let desired = &observed.desired_image;
    let previous = au.previous_version.clone().unwrap_or_else(|| tag.clone());
    let old_image = observed
        .running_image
        .clone()
        .filter(|_| {
            phase_now != update_phase::HEALTH_CHECK && phase_now != update_phase::ROLLING_BACK
        })
        .unwrap_or_else(|| with_tag(desired, &previous));
    let from = previous.clone();

    if manual {
        let wanted = image_tag(desired).unwrap_or(desired).to_string();
        if wanted != pending && phase_now != update_phase::HEALTH_CHECK {
            // The user changed the image again: back to the running version means nothing to
            // do; another version starts over.
            clear(au);
            au.last_update_error = None;
            plan.conditions.push(Cond::Remove(AUTO_UPDATE_READY));
            if wanted == from || !image_changed(observed) {
                plan.event(
                    false,
                    "UpgradeCancelled",
                    format!("The image is back on {wanted}; the upgrade to {pending} is cancelled"),
                );
                return;
            }
            idle(settings, spec, au, observed, now, plan);
            return;
        }
    }

    plan.set(
        AUTO_UPDATE_READY,
        "True",
        "Updating",
        format!("Updating from {from} to {pending}"),
    );
    if observed.suspended {
        plan.pin_image = (phase_now != update_phase::HEALTH_CHECK).then_some(old_image);
        plan.set(
            AUTO_UPDATE_READY,
            "False",
            "Suspended",
            format!("The update to {pending} is paused while the instance is suspended"),
        );
        return;
    }

    match phase_now.as_str() {
        update_phase::NONE => {
            // Auto-update: the tag must still exist, and a backup must be possible.
            match &observed.tag_exists {
                Some(Ok(false)) => {
                    abort(
                        au,
                        pending,
                        format!(
                            "the tag {pending} is no longer in {}; nothing was changed",
                            settings.repository
                        ),
                        plan,
                    );
                    return;
                }
                Some(Err(why)) => {
                    plan.set(
                        AUTO_UPDATE_READY,
                        "False",
                        "CheckFailed",
                        format!(
                            "Cannot confirm that {pending} is still in {}: {why}; the running \
                             version is kept, retrying",
                            settings.repository
                        ),
                    );
                    plan.soon(SLOW_POLL);
                    return;
                }
                _ => {}
            }
            if settings.backup_before_update && observed.data_volume {
                if !observed.s3 {
                    let message = format!(
                        "The update to {pending} needs a pre-update backup \
                         (spec.autoUpdate.backupBeforeUpdate), but {}; {from} keeps running. \
                         Create the S3 credentials Secret, or set \
                         spec.autoUpdate.backupBeforeUpdate: false to update without a backup",
                        observed
                            .s3_problem
                            .as_deref()
                            .unwrap_or("no S3 credentials are configured")
                    );
                    plan.pin_image = Some(old_image);
                    plan.set(
                        BACKUP_REQUIRED,
                        "True",
                        "S3CredentialsMissing",
                        message.clone(),
                    );
                    plan.set(AUTO_UPDATE_READY, "False", "BackupRequired", message);
                    plan.warn_on_change
                        .push((BACKUP_REQUIRED, "BackupRequired"));
                    plan.soon(SLOW_POLL);
                    return;
                }
                plan.conditions.push(Cond::Remove(BACKUP_REQUIRED));
                au.previous_version = Some(tag.clone());
                au.update_phase = Some(update_phase::BACKING_UP.into());
                plan.hold = true;
                plan.pin_image = Some(old_image);
                plan.phase = Some((
                    UPDATING,
                    format!("Backing up before the update to {pending}"),
                ));
                plan.set(
                    AUTO_UPDATE_READY,
                    "True",
                    "Updating",
                    format!("Backing up before the update from {tag} to {pending}"),
                );
                plan.soon(PODS_POLL);
                return;
            }
            plan.conditions.push(Cond::Remove(BACKUP_REQUIRED));
            au.previous_version = Some(tag.clone());
            au.update_phase = Some(update_phase::APPLYING.into());
            plan.pin_image = Some(old_image);
            plan.set(
                AUTO_UPDATE_READY,
                "True",
                "Updating",
                format!("Updating from {tag} to {pending}"),
            );
            plan.soon(Duration::from_secs(1));
        }
        update_phase::BACKING_UP => {
            let job = observed.backup.clone().unwrap_or(JobState::NotStarted);
            if let JobState::Failed(why) = &job {
                if manual {
                    let why = format!("the snapshot before the upgrade failed: {why}");
                    blocked(au, pending, &from, old_image, why, plan);
                } else {
                    abort(au, pending, format!("backup failed: {why}"), plan);
                }
                return;
            }
            plan.hold = true;
            plan.pin_image = Some(old_image);
            plan.phase = Some((
                UPDATING,
                format!("Backing up before the update to {pending}"),
            ));
            if let Some(n) = observed.pods_left.filter(|n| *n > 0) {
                plan.phase = Some((
                    UPDATING,
                    format!(
                        "Backing up before the update to {pending}: waiting for {n} pod(s) to stop"
                    ),
                ));
                plan.soon(PODS_POLL);
                return;
            }
            match job {
                JobState::NotStarted | JobState::Running(_) | JobState::Failed(_) => {
                    plan.acts.push(Act::Backup);
                    plan.soon(POLL);
                }
                JobState::Succeeded { path, job } => {
                    au.pre_update_backup_path = Some(path.clone());
                    au.update_phase = Some(update_phase::APPLYING.into());
                    plan.event(
                        false,
                        "PreUpdateBackupComplete",
                        format!("Pre-update backup {job} wrote {path}"),
                    );
                    plan.phase = Some((UPDATING, format!("Migrating the state for {pending}")));
                    plan.soon(Duration::from_secs(1));
                }
            }
        }
        update_phase::APPLYING => {
            let job = observed.migration.clone().unwrap_or(JobState::NotStarted);
            if let JobState::Failed(why) = &job {
                let why = format!(
                    "the state migration (openclaw doctor --fix) of {pending} failed: {why}"
                );
                if manual {
                    blocked(au, pending, &from, old_image, why, plan);
                } else {
                    // The migration may have changed part of the state: restore it.
                    start_rollback(au, pending, &from, why, plan);
                }
                return;
            }
            plan.hold = true;
            plan.pin_image = Some(old_image);
            plan.phase = Some((UPDATING, format!("Migrating the state for {pending}")));
            if !manual && tag != pending {
                plan.acts.push(Act::PatchTag(pending.to_string()));
                plan.soon(Duration::from_secs(1));
                return;
            }
            if !observed.data_volume {
                rolled_out(settings, au, pending, &from, manual, now, plan);
                return;
            }
            if let Some(n) = observed.pods_left.filter(|n| *n > 0) {
                plan.phase = Some((
                    UPDATING,
                    format!("Migrating the state for {pending}: waiting for {n} pod(s) to stop"),
                ));
                plan.soon(PODS_POLL);
                return;
            }
            let new_image = if manual {
                desired.clone()
            } else {
                with_tag(desired, pending)
            };
            match job {
                JobState::NotStarted => {
                    plan.acts.push(Act::Migrate(new_image.clone()));
                    plan.event(
                        false,
                        "MigrationStarted",
                        format!(
                            "Running openclaw doctor --fix from {new_image} on the data volume"
                        ),
                    );
                    plan.soon(POLL);
                }
                JobState::Running(_) | JobState::Failed(_) => plan.soon(POLL),
                JobState::Succeeded { job, .. } => {
                    plan.event(
                        false,
                        "MigrationComplete",
                        format!("Job {job} migrated the state for {pending}"),
                    );
                    rolled_out(settings, au, pending, &from, manual, now, plan);
                }
            }
        }
        update_phase::HEALTH_CHECK => {
            if observed.healthy {
                confirm(au, pending, manual, plan);
                return;
            }
            let elapsed = secs_since(au.last_update_time.as_ref(), now).unwrap_or(0);
            let budget = settings.health_check_timeout.as_secs();
            if au.last_update_time.is_none() {
                au.last_update_time = Some(now.clone());
            }
            if elapsed < budget {
                plan.phase = Some((
                    UPDATING,
                    format!(
                        "Waiting for the pod of {pending} to become Ready ({}s of {})",
                        elapsed,
                        super::lifecycle::display_duration(settings.health_check_timeout)
                    ),
                ));
                plan.soon(POLL.min(Duration::from_secs((budget - elapsed).max(1))));
                return;
            }
            let why = format!(
                "the pod of {pending} did not become Ready within {}",
                super::lifecycle::display_duration(settings.health_check_timeout)
            );
            if manual || !settings.rollback_on_failure {
                // Nothing to roll back to automatically: report and keep watching.
                confirm_unhealthy(au, pending, why, plan);
                return;
            }
            plan.event(
                true,
                "AutoUpdateHealthCheckFailed",
                format!(
                    "Pod failed to become ready within {}, rolling back from {pending} to {from}",
                    super::lifecycle::display_duration(settings.health_check_timeout)
                ),
            );
            start_rollback(au, pending, &from, why, plan);
        }
        update_phase::ROLLING_BACK => {
            plan.hold = true;
            plan.pin_image = Some(with_tag(desired, &from));
            plan.phase = Some((UPDATING, format!("Rolling back from {pending} to {from}")));
            if let Some(n) = observed.pods_left.filter(|n| *n > 0) {
                plan.phase = Some((
                    UPDATING,
                    format!(
                        "Rolling back from {pending} to {from}: waiting for {n} pod(s) to stop"
                    ),
                ));
                plan.soon(PODS_POLL);
                return;
            }
            let path = au.pre_update_backup_path.clone().filter(|p| !p.is_empty());
            if let (Some(path), true) = (path, observed.data_volume) {
                match observed.restore.clone().unwrap_or(JobState::NotStarted) {
                    JobState::NotStarted | JobState::Running(_) => {
                        plan.acts.push(Act::Restore(path.clone()));
                        plan.phase = Some((
                            UPDATING,
                            format!("Rolling back from {pending} to {from}: restoring {path}"),
                        ));
                        plan.soon(POLL);
                        return;
                    }
                    JobState::Failed(why) => {
                        let message = format!(
                            "Rolling back from {pending} to {from}: restoring the pre-update \
                             backup {path} failed ({why}). The instance stays at zero replicas \
                             so that neither version starts on unrestored state; fix the S3 \
                             problem and delete the failed Jobs to retry, or set \
                             spec.restoreFrom to a backup"
                        );
                        let same = au.last_update_error.as_deref() == Some(message.as_str());
                        if !same {
                            plan.event(true, "RollbackRestoreFailed", message.clone());
                        }
                        au.last_update_error = Some(message.clone());
                        plan.phase = Some((phase::FAILED, message.clone()));
                        plan.set(AUTO_UPDATE_READY, "False", "RollbackRestoreFailed", message);
                        plan.soon(SLOW_POLL);
                        return;
                    }
                    JobState::Succeeded { .. } => {
                        plan.event(
                            false,
                            "RollbackRestoreComplete",
                            format!("Restored {path} for the rollback to {from}"),
                        );
                    }
                }
            }
            if tag != from {
                plan.acts.push(Act::PatchTag(from.clone()));
            }
            let count = au.rollback_count.unwrap_or(0).saturating_add(1);
            let why = au
                .last_update_error
                .clone()
                .unwrap_or_else(|| format!("version {pending} failed its health check"));
            au.failed_version = Some(pending.to_string());
            au.last_update_error = Some(format!("{why}; rolled back to {from}"));
            au.rollback_count = Some(count);
            au.current_version = Some(from.clone());
            clear(au);
            plan.hold = false;
            // This pass still renders the new tag: the old image until the patch is seen.
            plan.pin_image = Some(with_tag(desired, &from));
            plan.phase = None;
            plan.counts.push(Count::RolledBack);
            plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
            plan.event(
                true,
                "AutoUpdateRolledBack",
                format!(
                    "Rolled back from {pending} to {from} (rollback count: {count}/{MAX_ROLLBACKS})"
                ),
            );
            if count >= MAX_ROLLBACKS {
                plan.event(
                    true,
                    "AutoUpdatePaused",
                    format!("Auto-update paused after {count} consecutive rollbacks"),
                );
                plan.set(
                    AUTO_UPDATE_READY,
                    "False",
                    "Paused",
                    format!(
                        "Auto-update is paused after {count} consecutive rollbacks; set \
                         spec.image.tag to a version to resume"
                    ),
                );
            } else {
                plan.set(
                    AUTO_UPDATE_READY,
                    "False",
                    "RolledBack",
                    format!("{pending} was rolled back to {from}: {why}; it is not tried again"),
                );
            }
            plan.soon(Duration::from_secs(1));
        }
        other => {
            // An unknown phase (written by hand): start over.
            abort(au, pending, format!("unknown updatePhase {other:?}"), plan);
        }
    }
}

/// The new version rolls out: auto-updates are health-checked; image changes are done.
fn rolled_out(
    settings: &Settings,
    au: &mut AutoUpdateStatus,
    pending: &str,
    from: &str,
    manual: bool,
    now: &Time,
    plan: &mut Plan,
) {
    plan.hold = false;
    plan.pin_image = None;
    if manual {
        plan.event(
            false,
            "UpgradeApplied",
            format!("State migrated; rolling out {pending} (was {from})"),
        );
        au.current_version = Some(pending.to_string());
        au.last_update_time = Some(now.clone());
        clear(au);
        plan.phase = None;
        plan.conditions.push(Cond::Remove(AUTO_UPDATE_READY));
        return;
    }
    plan.counts.push(Count::Applied);
    if !settings.rollback_on_failure {
        plan.event(
            false,
            "AutoUpdateApplied",
            format!("Updated image tag to {pending}"),
        );
        au.current_version = Some(pending.to_string());
        au.last_update_time = Some(now.clone());
        au.rollback_count = None;
        clear(au);
        au.last_update_error = None;
        plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
        plan.set(
            AUTO_UPDATE_READY,
            "True",
            "UpToDate",
            format!("Updated to {pending}"),
        );
        plan.phase = None;
        return;
    }
    au.update_phase = Some(update_phase::HEALTH_CHECK.into());
    au.last_update_time = Some(now.clone());
    plan.event(
        false,
        "AutoUpdateApplied",
        format!("Updated image tag to {pending}, health check started"),
    );
    plan.phase = Some((
        UPDATING,
        format!("Rolling out {pending}; health check started"),
    ));
    plan.set(
        AUTO_UPDATE_READY,
        "True",
        "Updating",
        format!("Rolling out {pending} (from {from}); health check started"),
    );
    plan.soon(POLL);
}

fn confirm(au: &mut AutoUpdateStatus, pending: &str, manual: bool, plan: &mut Plan) {
    au.current_version = Some(pending.to_string());
    if !manual {
        au.rollback_count = None;
    }
    au.last_update_error = None;
    clear(au);
    plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
    plan.set(
        AUTO_UPDATE_READY,
        "True",
        "UpToDate",
        format!("Updated to {pending}; its pod is Ready"),
    );
    plan.event(
        false,
        "AutoUpdateConfirmed",
        format!("Update to {pending} confirmed — pod is healthy"),
    );
}

fn confirm_unhealthy(au: &mut AutoUpdateStatus, pending: &str, why: String, plan: &mut Plan) {
    au.current_version = Some(pending.to_string());
    au.last_update_error = Some(why.clone());
    clear(au);
    plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
    plan.event(
        true,
        "AutoUpdateHealthCheckFailed",
        format!("{why}; rollback is off, so it stays"),
    );
    plan.set(
        AUTO_UPDATE_READY,
        "False",
        "HealthCheckFailed",
        format!("{why}; rollback is off"),
    );
}

fn start_rollback(
    au: &mut AutoUpdateStatus,
    pending: &str,
    from: &str,
    why: String,
    plan: &mut Plan,
) {
    au.update_phase = Some(update_phase::ROLLING_BACK.into());
    au.last_update_error = Some(why.clone());
    plan.hold = true;
    plan.pin_image = None;
    plan.phase = Some((
        UPDATING,
        format!("Rolling back from {pending} to {from}: {why}"),
    ));
    plan.set(
        AUTO_UPDATE_READY,
        "False",
        "RollingBack",
        format!("Rolling back from {pending} to {from}: {why}"),
    );
    plan.soon(Duration::from_secs(1));
}

/// An auto-update that cannot go on: nothing changed, the old version keeps running.
fn abort(au: &mut AutoUpdateStatus, pending: &str, why: String, plan: &mut Plan) {
    clear(au);
    au.last_update_error = Some(why.clone());
    plan.hold = false;
    plan.pin_image = None;
    plan.phase = None;
    plan.conditions.push(Cond::Remove(AUTO_UPDATE_AVAILABLE));
    plan.event(
        true,
        "AutoUpdateAborted",
        format!("Update to {pending} aborted: {why}"),
    );
    plan.set(
        AUTO_UPDATE_READY,
        "False",
        "UpdateAborted",
        format!("The update to {pending} was aborted: {why}; the running version is kept"),
    );
    plan.soon(Duration::from_secs(30));
}

/// An image change that cannot go on: the old version keeps running until the image is
/// changed again (or the failed Job is deleted, which retries).
fn blocked(
    au: &mut AutoUpdateStatus,
    pending: &str,
    from: &str,
    old_image: String,
    why: String,
    plan: &mut Plan,
) {
    let message = format!(
        "The upgrade from {from} to {pending} is stopped: {why}. {from} keeps running; fix the \
         cause and delete the failed Job to retry, or set the image back to {from}"
    );
    if au.last_update_error.as_deref() != Some(message.as_str()) {
        plan.event(true, "UpgradeFailed", message.clone());
    }
    au.last_update_error = Some(message.clone());
    plan.hold = false;
    plan.pin_image = Some(old_image);
    plan.phase = Some((phase::DEGRADED, message.clone()));
    plan.set(AUTO_UPDATE_READY, "False", "UpgradeFailed", message);
    plan.soon(SLOW_POLL);
}
