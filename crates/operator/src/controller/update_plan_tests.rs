//! The update workflow's transitions, pass by pass, without a cluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use openclaw_api::{AutoUpdateSpec, AutoUpdateStatus, ImageSpec, OpenClawInstanceSpec};

use super::update_plan::*;

const REPO: &str = "ghcr.io/openclaw/openclaw";

fn at(s: i64) -> Time {
    Time(Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn spec(tag: &str) -> OpenClawInstanceSpec {
    OpenClawInstanceSpec {
        image: Some(ImageSpec {
            tag: Some(tag.into()),
            ..ImageSpec::default()
        }),
        auto_update: Some(AutoUpdateSpec {
            enabled: Some(true),
            ..AutoUpdateSpec::default()
        }),
        ..OpenClawInstanceSpec::default()
    }
}

fn image(tag: &str) -> String {
    format!("{REPO}:{tag}")
}

/// Observed for an instance running `running` with the spec on `tag`.
fn seen(running: &str, tag: &str) -> Observed {
    Observed {
        running_image: Some(image(running)),
        desired_image: image(tag),
        data_volume: true,
        s3: true,
        ..Observed::default()
    }
}

fn phase_of(p: &Plan) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.update_phase.clone())
        .unwrap_or_default()
}

fn has_event(p: &Plan, reason: &str) -> bool {
    p.events.iter().any(|(_, r, _)| *r == reason)
}

fn cond<'a>(p: &'a Plan, t: &str) -> Option<(&'a str, &'a str, &'a str)> {
    p.conditions.iter().rev().find_map(|c| match c {
        Cond::Set(ty, s, r, m) if *ty == t => Some((*s, *r, m.as_str())),
        _ => None,
    })
}

#[test]
fn settings_follow_the_go_defaults_and_bounds() {
    let s = Settings::of(&spec("1.0.0"));
    assert!(s.enabled && !s.digest_pinned);
    assert_eq!(s.check_interval.as_secs(), 86_400);
    assert_eq!(s.health_check_timeout.as_secs(), 600);
    assert!(s.backup_before_update && s.rollback_on_failure);
    assert_eq!(s.repository, REPO);
    let mut sp = spec("1.0.0");
    if let Some(a) = sp.auto_update.as_mut() {
        a.check_interval = Some("10m".into());
        a.health_check_timeout = Some("2h".into());
    }
    if let Some(i) = sp.image.as_mut() {
        i.digest = Some("sha256:abc".into());
    }
    let s = Settings::of(&sp);
    assert_eq!(s.check_interval.as_secs(), 3_600);
    assert_eq!(s.health_check_timeout.as_secs(), 1_800);
    assert!(!s.enabled && s.digest_pinned);
}

#[test]
fn image_references() {
    assert_eq!(image_tag("ghcr.io/a/b:1.2.3"), Some("1.2.3"));
    assert_eq!(image_tag("127.0.0.1:5000/a/b:1.2.3"), Some("1.2.3"));
    assert_eq!(image_tag("127.0.0.1:5000/a/b"), None);
    assert_eq!(image_tag("a/b:1@sha256:x"), Some("1"));
    assert_eq!(
        with_tag("127.0.0.1:5000/a/b:1", "2"),
        "127.0.0.1:5000/a/b:2"
    );
    assert_eq!(with_tag("b", "2"), "b:2");
    assert_eq!(with_tag("a/b:1@sha256:x", "2"), "a/b:2");
}

#[test]
fn checks_are_due_by_interval_and_not_while_busy_paused_or_suspended() {
    let sp = spec("1.0.0");
    assert!(wants_check(&sp, None, &at(0)));
    let checked = AutoUpdateStatus {
        last_check_time: Some(at(1000)),
        ..AutoUpdateStatus::default()
    };
    assert!(!wants_check(&sp, Some(&checked), &at(1000 + 86_399)));
    assert!(wants_check(&sp, Some(&checked), &at(1000 + 86_400)));
    let busy = AutoUpdateStatus {
        pending_version: Some("2.0.0".into()),
        ..AutoUpdateStatus::default()
    };
    assert!(!wants_check(&sp, Some(&busy), &at(0)));
    let paused = AutoUpdateStatus {
        rollback_count: Some(3),
        ..AutoUpdateStatus::default()
    };
    assert!(!wants_check(&sp, Some(&paused), &at(0)));
    let mut suspended = spec("1.0.0");
    suspended.suspended = Some(true);
    assert!(!wants_check(&suspended, None, &at(0)));
    let mut off = spec("1.0.0");
    off.auto_update = None;
    assert!(!wants_check(&off, None, &at(0)));
    // `latest` is resolved even while paused.
    assert!(wants_check(&spec("latest"), Some(&paused), &at(0)));
}

#[test]
fn latest_is_resolved_patched_and_rendered_at_once() {
    let mut o = seen("latest", "latest");
    o.running_image = None;
    o.check = Some(Check::Latest("2026.9.6".into()));
    let p = plan(&spec("latest"), None, &o, &at(10));
    assert_eq!(p.acts, vec![Act::PatchTag("2026.9.6".into())]);
    assert_eq!(p.pin_image.as_deref(), Some(image("2026.9.6").as_str()));
    assert!(has_event(&p, "AutoUpdateTagResolved"));
    let au = p.status.unwrap_or_default();
    assert_eq!(au.current_version.as_deref(), Some("2026.9.6"));
    assert_eq!(au.last_check_time, Some(at(10)));
    assert!(p.counts.contains(&Count::Check(true)));
}

#[test]
fn a_failed_check_is_reported_and_not_retried_before_the_interval() {
    let mut o = seen("1.0.0", "1.0.0");
    o.check = Some(Check::Failed("registry down".into()));
    let p = plan(&spec("1.0.0"), None, &o, &at(10));
    assert!(has_event(&p, "AutoUpdateCheckFailed"));
    assert_eq!(
        cond(&p, AUTO_UPDATE_READY).map(|c| c.1),
        Some("CheckFailed")
    );
    assert!(p.counts.contains(&Count::Check(false)));
    assert!(!p.hold && p.pin_image.is_none());
    assert_eq!(p.requeue.map(|d| d.as_secs()), Some(86_400));
    let au = p.status.unwrap_or_default();
    assert!(!wants_check(&spec("1.0.0"), Some(&au), &at(20)));
}

/// Runs a whole update: each step's status feeds the next pass.
#[test]
fn an_update_backs_up_migrates_rolls_out_and_confirms() {
    let sp = spec("1.0.0");
    let mut o = seen("1.0.0", "1.0.0");
    o.check = Some(Check::Latest("1.1.0".into()));
    let p = plan(&sp, None, &o, &at(0));
    let au = p.status.clone().unwrap_or_default();
    assert_eq!(au.pending_version.as_deref(), Some("1.1.0"));
    assert_eq!(au.update_trigger.as_deref(), Some(trigger::AUTO));
    assert!(has_event(&p, "AutoUpdateAvailable"));
    assert_eq!(
        cond(&p, AUTO_UPDATE_AVAILABLE).map(|c| c.1),
        Some("NewVersionAvailable")
    );
    assert!(!p.hold);

    // "" -> BackingUp (the tag still exists).
    assert_eq!(wants_tag_check(Some(&au)).as_deref(), Some("1.1.0"));
    let mut o = seen("1.0.0", "1.0.0");
    o.tag_exists = Some(Ok(true));
    let p = plan(&sp, Some(&au), &o, &at(1));
    assert_eq!(phase_of(&p), update_phase::BACKING_UP);
    assert!(p.hold);
    assert_eq!(p.pin_image.as_deref(), Some(image("1.0.0").as_str()));
    let au = p.status.clone().unwrap_or_default();
    assert_eq!(au.previous_version.as_deref(), Some("1.0.0"));

    // Pods still stopping: wait.
    let mut o = seen("1.0.0", "1.0.0");
    o.pods_left = Some(1);
    o.backup = Some(JobState::NotStarted);
    let p = plan(&sp, Some(&au), &o, &at(2));
    assert!(p.acts.is_empty() && p.hold);
    // No pods: the backup Job starts, and runs.
    o.pods_left = Some(0);
    let p = plan(&sp, Some(&au), &o, &at(3));
    assert_eq!(p.acts, vec![Act::Backup]);
    assert_eq!(p.status.as_ref(), Some(&au));
    // Done: ApplyingUpdate, the path recorded.
    o.backup = Some(JobState::Succeeded {
        job: "j".into(),
        path: "backups/t/i/pre-update-x".into(),
    });
    let p = plan(&sp, Some(&au), &o, &at(4));
    assert_eq!(phase_of(&p), update_phase::APPLYING);
    assert!(has_event(&p, "PreUpdateBackupComplete"));
    let au = p.status.clone().unwrap_or_default();
    assert_eq!(
        au.pre_update_backup_path.as_deref(),
        Some("backups/t/i/pre-update-x")
    );

    // The tag is patched first; the old image keeps the workload, held.
    let o = Observed {
        pods_left: Some(0),
        migration: Some(JobState::NotStarted),
        ..seen("1.0.0", "1.0.0")
    };
    let p = plan(&sp, Some(&au), &o, &at(5));
    assert_eq!(p.acts, vec![Act::PatchTag("1.1.0".into())]);
    assert!(p.hold);
    // Once the spec says 1.1.0: the migration from the new image, still on the old one.
    let sp2 = spec("1.1.0");
    let o = Observed {
        pods_left: Some(0),
        migration: Some(JobState::NotStarted),
        ..seen("1.0.0", "1.1.0")
    };
    let p = plan(&sp2, Some(&au), &o, &at(6));
    assert_eq!(p.acts, vec![Act::Migrate(image("1.1.0"))]);
    assert!(p.hold);
    assert_eq!(p.pin_image.as_deref(), Some(image("1.0.0").as_str()));
    assert!(has_event(&p, "MigrationStarted"));
    // Migrated: roll out (no hold, no pin), health check.
    let o = Observed {
        pods_left: Some(0),
        migration: Some(JobState::Succeeded {
            job: "m".into(),
            path: String::new(),
        }),
        ..seen("1.0.0", "1.1.0")
    };
    let p = plan(&sp2, Some(&au), &o, &at(7));
    assert_eq!(phase_of(&p), update_phase::HEALTH_CHECK);
    assert!(!p.hold && p.pin_image.is_none());
    assert!(p.counts.contains(&Count::Applied));
    assert!(has_event(&p, "AutoUpdateApplied"));
    let au = p.status.clone().unwrap_or_default();
    assert_eq!(au.last_update_time, Some(at(7)));

    // Not Ready yet: wait.
    let p = plan(&sp2, Some(&au), &seen("1.1.0", "1.1.0"), &at(100));
    assert_eq!(phase_of(&p), update_phase::HEALTH_CHECK);
    assert!(!p.hold && p.pin_image.is_none());
    // Ready on the new revision: confirmed.
    let o = Observed {
        healthy: true,
        ..seen("1.1.0", "1.1.0")
    };
    let p = plan(&sp2, Some(&au), &o, &at(120));
    assert!(has_event(&p, "AutoUpdateConfirmed"));
    let done = p.status.clone().unwrap_or_default();
    assert_eq!(done.current_version.as_deref(), Some("1.1.0"));
    assert!(done.pending_version.is_none() && done.update_phase.is_none());
    assert!(done.previous_version.is_none() && done.pre_update_backup_path.is_none());
    assert!(p.conditions.contains(&Cond::Remove(AUTO_UPDATE_AVAILABLE)));
    // Converged: the same pass again changes nothing.
    let again = plan(&sp2, Some(&done), &seen("1.1.0", "1.1.0"), &at(130));
    assert_eq!(again.status.as_ref(), Some(&done));
    assert!(again.events.is_empty() && again.acts.is_empty() && !again.hold);
}

fn health_checking() -> AutoUpdateStatus {
    AutoUpdateStatus {
        pending_version: Some("1.1.999".into()),
        previous_version: Some("1.0.0".into()),
        update_phase: Some(update_phase::HEALTH_CHECK.into()),
        update_trigger: Some(trigger::AUTO.into()),
        pre_update_backup_path: Some("backups/t/i/pre".into()),
        last_update_time: Some(at(0)),
        current_version: Some("1.0.0".into()),
        ..AutoUpdateStatus::default()
    }
}

#[test]
fn a_version_that_never_gets_ready_is_rolled_back_with_its_data() {
    let sp = spec("1.1.999");
    let au = health_checking();
    let p = plan(&sp, Some(&au), &seen("1.1.999", "1.1.999"), &at(599));
    assert_eq!(phase_of(&p), update_phase::HEALTH_CHECK);
    let p = plan(&sp, Some(&au), &seen("1.1.999", "1.1.999"), &at(600));
    assert_eq!(phase_of(&p), update_phase::ROLLING_BACK);
    assert!(has_event(&p, "AutoUpdateHealthCheckFailed"));
    assert!(p.hold);
    let au = p.status.clone().unwrap_or_default();

    // Held on the old image; the restore waits for the pods, then runs.
    let mut o = seen("1.1.999", "1.1.999");
    o.pods_left = Some(1);
    let p = plan(&sp, Some(&au), &o, &at(601));
    assert!(p.hold && p.acts.is_empty());
    assert_eq!(p.pin_image.as_deref(), Some(image("1.0.0").as_str()));
    o.pods_left = Some(0);
    o.restore = Some(JobState::NotStarted);
    let p = plan(&sp, Some(&au), &o, &at(602));
    assert_eq!(p.acts, vec![Act::Restore("backups/t/i/pre".into())]);
    // A failed restore holds the workload and says so, once.
    o.restore = Some(JobState::Failed("Job x failed".into()));
    let p = plan(&sp, Some(&au), &o, &at(603));
    assert!(p.hold);
    assert_eq!(p.phase.as_ref().map(|p| p.0), Some("Failed"));
    assert!(has_event(&p, "RollbackRestoreFailed"));
    let failed = p.status.clone().unwrap_or_default();
    let p2 = plan(&sp, Some(&failed), &o, &at(604));
    assert!(p2.hold && !has_event(&p2, "RollbackRestoreFailed"));
    // Restored: the tag reverts, the version is recorded as failed.
    o.restore = Some(JobState::Succeeded {
        job: "r".into(),
        path: "backups/t/i/pre".into(),
    });
    let p = plan(&sp, Some(&au), &o, &at(605));
    assert_eq!(p.acts, vec![Act::PatchTag("1.0.0".into())]);
    assert!(!p.hold);
    assert_eq!(p.pin_image.as_deref(), Some(image("1.0.0").as_str()));
    assert!(has_event(&p, "RollbackRestoreComplete"));
    assert!(has_event(&p, "AutoUpdateRolledBack"));
    assert!(p.counts.contains(&Count::RolledBack));
    let done = p.status.clone().unwrap_or_default();
    assert_eq!(done.failed_version.as_deref(), Some("1.1.999"));
    assert_eq!(done.rollback_count, Some(1));
    assert_eq!(done.current_version.as_deref(), Some("1.0.0"));
    assert!(done.pending_version.is_none());

    // The failed version is never tried again; a newer one is (and clears it).
    let mut o = seen("1.0.0", "1.0.0");
    o.check = Some(Check::Latest("1.1.999".into()));
    let p = plan(&spec("1.0.0"), Some(&done), &o, &at(90_000));
    assert!(
        p.status
            .as_ref()
            .and_then(|s| s.pending_version.clone())
            .is_none()
    );
    assert_eq!(
        cond(&p, AUTO_UPDATE_READY).map(|c| c.1),
        Some("FailedVersionSkipped")
    );
    o.check = Some(Check::Latest("1.2.0".into()));
    let p = plan(&spec("1.0.0"), Some(&done), &o, &at(90_000));
    let next = p.status.unwrap_or_default();
    assert_eq!(next.pending_version.as_deref(), Some("1.2.0"));
    assert!(next.failed_version.is_none());
}

#[test]
fn three_rollbacks_pause_and_a_tag_change_by_hand_resets_the_breaker() {
    let paused = AutoUpdateStatus {
        rollback_count: Some(3),
        failed_version: Some("1.1.999".into()),
        last_check_time: Some(at(0)),
        current_version: Some("1.0.0".into()),
        ..AutoUpdateStatus::default()
    };
    let sp = spec("1.0.0");
    assert!(!wants_check(&sp, Some(&paused), &at(10_000_000)));
    let p = plan(&sp, Some(&paused), &seen("1.0.0", "1.0.0"), &at(10_000_000));
    assert_eq!(cond(&p, AUTO_UPDATE_READY).map(|c| c.1), Some("Paused"));
    // The user sets another tag: an image change, and the breaker starts again.
    let p = plan(
        &spec("1.0.1"),
        Some(&paused),
        &seen("1.0.0", "1.0.1"),
        &at(1),
    );
    let au = p.status.unwrap_or_default();
    assert_eq!(au.rollback_count, None);
    assert_eq!(au.update_trigger.as_deref(), Some(trigger::IMAGE_CHANGE));
    assert!(wants_check(
        &spec("1.0.1"),
        Some(&AutoUpdateStatus {
            pending_version: None,
            ..au
        }),
        &at(10_000_000)
    ));
}

#[test]
fn the_third_rollback_pauses() {
    let mut au = health_checking();
    au.update_phase = Some(update_phase::ROLLING_BACK.into());
    au.rollback_count = Some(2);
    au.pre_update_backup_path = None;
    let o = Observed {
        pods_left: Some(0),
        ..seen("1.1.999", "1.1.999")
    };
    let p = plan(&spec("1.1.999"), Some(&au), &o, &at(0));
    assert!(has_event(&p, "AutoUpdatePaused"));
    assert_eq!(cond(&p, AUTO_UPDATE_READY).map(|c| c.1), Some("Paused"));
    assert_eq!(p.status.and_then(|s| s.rollback_count), Some(3));
}

#[test]
fn no_s3_credentials_stop_the_update_before_anything_changes() {
    let au = AutoUpdateStatus {
        pending_version: Some("1.1.0".into()),
        update_phase: Some(String::new()),
        update_trigger: Some(trigger::AUTO.into()),
        ..AutoUpdateStatus::default()
    };
    let mut o = seen("1.0.0", "1.0.0");
    o.s3 = false;
    o.s3_problem = Some("the Secret s3-backup-credentials does not exist".into());
    let p = plan(&spec("1.0.0"), Some(&au), &o, &at(0));
    assert!(!p.hold && p.acts.is_empty());
    assert_eq!(p.pin_image.as_deref(), Some(image("1.0.0").as_str()));
    let (s, r, m) = cond(&p, BACKUP_REQUIRED).unwrap_or_default();
    assert_eq!((s, r), ("True", "S3CredentialsMissing"));
    assert!(m.contains("backupBeforeUpdate: false"), "{m}");
    assert!(
        p.warn_on_change
            .contains(&(BACKUP_REQUIRED, "BackupRequired"))
    );
    assert_eq!(phase_of(&p), "");
    // Without a backup wanted, it goes on.
    let mut sp = spec("1.0.0");
    if let Some(a) = sp.auto_update.as_mut() {
        a.backup_before_update = Some(false);
    }
    let p = plan(&sp, Some(&au), &o, &at(0));
    assert_eq!(phase_of(&p), update_phase::APPLYING);
    assert!(p.conditions.contains(&Cond::Remove(BACKUP_REQUIRED)));
}

#[test]
fn a_tag_gone_before_the_rollout_aborts_and_a_failed_backup_aborts() {
    let au = AutoUpdateStatus {
        pending_version: Some("1.1.0".into()),
        update_phase: Some(String::new()),
        update_trigger: Some(trigger::AUTO.into()),
        ..AutoUpdateStatus::default()
    };
    let mut o = seen("1.0.0", "1.0.0");
    o.tag_exists = Some(Ok(false));
    let p = plan(&spec("1.0.0"), Some(&au), &o, &at(0));
    assert!(has_event(&p, "AutoUpdateAborted"));
    assert!(
        p.status
            .as_ref()
            .and_then(|s| s.pending_version.clone())
            .is_none()
    );
    assert!(!p.hold && p.pin_image.is_none());

    let backing = AutoUpdateStatus {
        update_phase: Some(update_phase::BACKING_UP.into()),
        previous_version: Some("1.0.0".into()),
        ..au
    };
    let o = Observed {
        pods_left: Some(0),
        backup: Some(JobState::Failed("Job b failed".into())),
        ..seen("1.0.0", "1.0.0")
    };
    let p = plan(&spec("1.0.0"), Some(&backing), &o, &at(0));
    assert!(has_event(&p, "AutoUpdateAborted"));
    assert!(!p.hold);
    let au = p.status.unwrap_or_default();
    assert!(
        au.last_update_error
            .unwrap_or_default()
            .contains("backup failed")
    );
}

#[test]
fn a_failed_migration_of_an_auto_update_rolls_back() {
    let au = AutoUpdateStatus {
        pending_version: Some("1.1.0".into()),
        previous_version: Some("1.0.0".into()),
        update_phase: Some(update_phase::APPLYING.into()),
        update_trigger: Some(trigger::AUTO.into()),
        ..AutoUpdateStatus::default()
    };
    let o = Observed {
        pods_left: Some(0),
        migration: Some(JobState::Failed("Job m failed".into())),
        ..seen("1.0.0", "1.1.0")
    };
    let p = plan(&spec("1.1.0"), Some(&au), &o, &at(0));
    assert_eq!(phase_of(&p), update_phase::ROLLING_BACK);
    assert!(p.hold);
}

#[test]
fn an_image_change_by_hand_is_migrated_before_it_starts() {
    // Without S3: straight to the migration, held on the old image.
    let mut o = seen("1.0.0", "1.1.0");
    o.s3 = false;
    let mut sp = spec("1.1.0");
    sp.auto_update = None;
    let p = plan(&sp, None, &o, &at(0));
    assert_eq!(phase_of(&p), update_phase::APPLYING);
    assert!(has_event(&p, "UpgradeStarted"));
    assert!(p.hold);
    assert_eq!(p.pin_image.as_deref(), Some(image("1.0.0").as_str()));
    let au = p.status.clone().unwrap_or_default();
    // With S3: a snapshot first.
    let p2 = plan(&sp, None, &seen("1.0.0", "1.1.0"), &at(0));
    assert_eq!(phase_of(&p2), update_phase::BACKING_UP);

    o.pods_left = Some(0);
    o.migration = Some(JobState::NotStarted);
    let p = plan(&sp, Some(&au), &o, &at(1));
    assert_eq!(p.acts, vec![Act::Migrate(image("1.1.0"))]);
    // A failed migration keeps the old version running, and says why (once).
    o.migration = Some(JobState::Failed("Job m failed".into()));
    let p = plan(&sp, Some(&au), &o, &at(2));
    assert!(!p.hold);
    assert_eq!(p.pin_image.as_deref(), Some(image("1.0.0").as_str()));
    assert_eq!(p.phase.as_ref().map(|p| p.0), Some("Degraded"));
    assert!(has_event(&p, "UpgradeFailed"));
    let failed = p.status.clone().unwrap_or_default();
    o.pods_left = Some(1);
    let p = plan(&sp, Some(&failed), &o, &at(3));
    assert!(!p.hold && !has_event(&p, "UpgradeFailed"));
    // The user sets the old version back: cancelled, nothing pinned.
    let mut back = spec("1.0.0");
    back.auto_update = None;
    let p = plan(&back, Some(&failed), &seen("1.0.0", "1.0.0"), &at(4));
    assert!(has_event(&p, "UpgradeCancelled"));
    assert!(p.pin_image.is_none() && !p.hold);
    // Migrated: rolled out and done.
    o.migration = Some(JobState::Succeeded {
        job: "m".into(),
        path: String::new(),
    });
    o.pods_left = Some(0);
    let p = plan(&sp, Some(&au), &o, &at(5));
    assert!(!p.hold && p.pin_image.is_none());
    let done = p.status.unwrap_or_default();
    assert_eq!(done.current_version.as_deref(), Some("1.1.0"));
    assert!(done.pending_version.is_none());
    // A registry mirror is not a version change.
    let mut mirror = seen("1.0.0", "1.0.0");
    mirror.desired_image = "mirror.example/openclaw/openclaw:1.0.0".into();
    assert!(!image_changed(&mirror));
}

#[test]
fn suspended_instances_pause_and_digest_pins_warn() {
    let mut sp = spec("1.1.0");
    sp.suspended = Some(true);
    let au = AutoUpdateStatus {
        pending_version: Some("1.1.0".into()),
        previous_version: Some("1.0.0".into()),
        update_phase: Some(update_phase::APPLYING.into()),
        update_trigger: Some(trigger::AUTO.into()),
        ..AutoUpdateStatus::default()
    };
    let mut o = seen("1.0.0", "1.1.0");
    o.suspended = true;
    o.pods_left = Some(0);
    o.migration = Some(JobState::NotStarted);
    let p = plan(&sp, Some(&au), &o, &at(0));
    assert!(p.acts.is_empty());
    assert_eq!(p.status.as_ref(), Some(&au));
    assert_eq!(cond(&p, AUTO_UPDATE_READY).map(|c| c.1), Some("Suspended"));

    let mut pinned = spec("1.0.0");
    if let Some(i) = pinned.image.as_mut() {
        i.digest = Some("sha256:abc".into());
    }
    let p = plan(&pinned, None, &seen("1.0.0", "1.0.0"), &at(0));
    assert_eq!(
        cond(&p, AUTO_UPDATE_READY).map(|c| c.1),
        Some("DigestPinned")
    );
    assert!(
        p.warn_on_change
            .contains(&(AUTO_UPDATE_READY, "AutoUpdateDisabled"))
    );
    assert!(p.status.is_none());
}
