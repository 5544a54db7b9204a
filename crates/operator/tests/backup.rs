//! Backups and restores on a real API server, with the outcome of each Job pod decided by the
//! kubelet stand-in (`testkit::kubelet`): the controller side of every flow and fault. The
//! copies themselves (the Jobs' real commands against a real S3 server) are in
//! `backup_e2e.rs` and `backup_roundtrip.rs`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use common::{Harness, TIMEOUT};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Secret};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use openclaw_api::OpenClawInstance;
use openclaw_operator::controller::lifecycle::SKIP_BACKUP;
use serde_json::json;
use testkit::kubelet::Kubelet;

fn spec() -> serde_json::Value {
    json!({"image": {"repository": "ghcr.io/openclaw/openclaw", "tag": "2026.9.6"}})
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut s = spec();
    common::features::merge(&mut s, &extra);
    s
}

/// The credentials Secret, in the namespace that stands for the operator's.
async fn credentials(h: &Harness, data: &[(&str, &str)]) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "s3-backup-credentials"},
        "stringData": data.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    }))
    .unwrap();
    let api = h.api::<Secret>();
    let _ = api
        .delete("s3-backup-credentials", &DeleteParams::default())
        .await;
    api.create(&PostParams::default(), &secret)
        .await
        .expect("credentials");
}

const GOOD: &[(&str, &str)] = &[
    ("S3_BUCKET", "agents"),
    ("S3_ENDPOINT", "http://127.0.0.1:9"),
    ("S3_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("S3_SECRET_ACCESS_KEY", "never-in-a-job-spec"),
];

async fn event_reasons(h: &Harness, name: &str) -> Vec<String> {
    h.api::<Event>()
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .expect("events")
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

async fn wait_event(h: &Harness, name: &str, reason: &str) {
    let start = std::time::Instant::now();
    loop {
        let reasons = event_reasons(h, name).await;
        if reasons.iter().any(|r| r == reason) {
            return;
        }
        assert!(start.elapsed() < TIMEOUT, "no {reason} event: {reasons:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn jobs(h: &Harness) -> Vec<Job> {
    h.api::<Job>()
        .list(&ListParams::default().labels("openclaw.rocks/job-type"))
        .await
        .expect("jobs")
        .items
}

async fn wait_jobs(h: &Harness, n: usize) -> Vec<Job> {
    let start = std::time::Instant::now();
    loop {
        let j = jobs(h).await;
        if j.len() >= n {
            return j;
        }
        assert!(start.elapsed() < TIMEOUT, "{} Jobs, want {n}", j.len());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn status_of(h: &Harness, name: &str) -> openclaw_api::OpenClawInstanceStatus {
    h.api::<OpenClawInstance>()
        .get(name)
        .await
        .expect("instance")
        .status
        .unwrap_or_default()
}

fn condition(
    s: &openclaw_api::OpenClawInstanceStatus,
    t: &str,
) -> Option<(String, String, String)> {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn wait_status(
    h: &Harness,
    name: &str,
    what: &str,
    ok: impl Fn(&openclaw_api::OpenClawInstanceStatus) -> bool,
) -> openclaw_api::OpenClawInstanceStatus {
    let start = std::time::Instant::now();
    loop {
        let s = status_of(h, name).await;
        if ok(&s) {
            return s;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{name}: never {what}: {:?}",
            (s.phase, s.conditions)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn replicas(h: &Harness, name: &str) -> Option<i32> {
    h.api::<StatefulSet>()
        .get_opt(name)
        .await
        .expect("sts")
        .and_then(|s| s.spec)
        .and_then(|s| s.replicas)
}

#[tokio::test]
async fn delete_scales_down_backs_up_then_lets_go_and_keeps_the_volume() {
    let Some(mut h) = Harness::namespace_only("bk-delete").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    let kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(0));
    h.apply_instance("agent", spec()).await;
    h.wait_phase("agent", "Running").await;
    h.api::<OpenClawInstance>()
        .delete("agent", &DeleteParams::background())
        .await
        .unwrap();
    testkit::wait_for_deletion(&h.api::<OpenClawInstance>(), "agent", TIMEOUT)
        .await
        .expect("deleted after the backup");
    let runs = kubelet.runs();
    assert!(
        runs.iter()
            .any(|r| r.job_type == "backup" && r.exit_code == 0),
        "{runs:?}"
    );
    let reasons = event_reasons(&h, "agent").await;
    for r in ["BackupStarted", "BackupComplete"] {
        assert!(reasons.iter().any(|x| x == r), "{r}: {reasons:?}");
    }
    // The data volume stays, and no credential was ever in a Job.
    assert!(
        h.api::<PersistentVolumeClaim>()
            .get_opt("agent-data")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn no_credentials_skip_the_backup_with_an_event() {
    let Some(mut h) = Harness::namespace_only("bk-nocreds").await else {
        return;
    };
    h.start_controller_with_backup(false);
    h.apply_instance("agent", spec()).await;
    h.wait_phase("agent", "Running").await;
    h.api::<OpenClawInstance>()
        .delete("agent", &DeleteParams::background())
        .await
        .unwrap();
    testkit::wait_for_deletion(
        &h.api::<OpenClawInstance>(),
        "agent",
        Duration::from_secs(20),
    )
    .await
    .expect("deleted at once");
    wait_event(&h, "agent", "BackupSkipped").await;
    assert!(jobs(&h).await.is_empty());
}

#[tokio::test]
async fn a_failing_backup_is_retried_and_the_skip_annotation_ends_it() {
    let Some(mut h) = Harness::namespace_only("bk-retry").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    // rclone's "fatal error" code: the Job fails at once (pod failure policy).
    let _kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(7));
    h.apply_instance("agent", spec()).await;
    h.wait_phase("agent", "Running").await;
    h.api::<OpenClawInstance>()
        .delete("agent", &DeleteParams::background())
        .await
        .unwrap();
    // The first Job fails; a second one is created after the retry delay.
    let start = std::time::Instant::now();
    loop {
        let names: Vec<String> = jobs(&h).await.iter().map(|j| j.name_any()).collect();
        if names.iter().any(|n| n == "agent-backup-2") {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "no retry: {names:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let s = status_of(&h, "agent").await;
    assert_eq!(s.phase.as_deref(), Some("BackingUp"));
    // The user gives up on the backup: the deletion completes, the volume stays.
    h.api::<OpenClawInstance>()
        .patch(
            "agent",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {SKIP_BACKUP: "true"}}})),
        )
        .await
        .unwrap();
    testkit::wait_for_deletion(
        &h.api::<OpenClawInstance>(),
        "agent",
        Duration::from_secs(30),
    )
    .await
    .expect("deleted once skipped");
    assert!(
        h.api::<PersistentVolumeClaim>()
            .get_opt("agent-data")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn partial_credentials_are_explained_and_never_block_deletion_past_skip() {
    let Some(mut h) = Harness::namespace_only("bk-partial").await else {
        return;
    };
    credentials(
        &h,
        &[
            ("S3_BUCKET", "agents"),
            ("S3_ENDPOINT", "http://127.0.0.1:9"),
            ("S3_ACCESS_KEY_ID", "only-half"),
        ],
    )
    .await;
    h.start_controller_with_backup(false);
    h.apply_instance("agent", with(json!({"backup": {"schedule": "0 3 * * *"}})))
        .await;
    let s = wait_status(&h, "agent", "report the credentials", |s| {
        condition(s, "ScheduledBackupReady").is_some_and(|c| c.1 == "S3CredentialsMissing")
    })
    .await;
    let (_, _, message) = condition(&s, "ScheduledBackupReady").unwrap();
    assert!(message.contains("S3_SECRET_ACCESS_KEY"), "{message}");
    assert!(
        h.api::<CronJob>()
            .get_opt("agent-backup-periodic")
            .await
            .unwrap()
            .is_none()
    );
    h.wait_phase("agent", "Running").await;
    h.api::<OpenClawInstance>()
        .delete("agent", &DeleteParams::background())
        .await
        .unwrap();
    wait_event(&h, "agent", "BackupCredentialsFailed").await;
    let s = status_of(&h, "agent").await;
    assert_eq!(s.phase.as_deref(), Some("BackingUp"));
    h.api::<OpenClawInstance>()
        .patch(
            "agent",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {SKIP_BACKUP: "true"}}})),
        )
        .await
        .unwrap();
    testkit::wait_for_deletion(
        &h.api::<OpenClawInstance>(),
        "agent",
        Duration::from_secs(30),
    )
    .await
    .expect("deleted once skipped");
}

#[tokio::test]
async fn the_periodic_cron_job_follows_the_schedule_and_converges() {
    let Some(mut h) = Harness::namespace_only("bk-cron").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    h.apply_instance(
        "agent",
        with(json!({"backup": {"schedule": "0 3 * * *", "retentionDays": 14, "historyLimit": 5}})),
    )
    .await;
    let s = wait_status(&h, "agent", "schedule backups", |s| {
        condition(s, "ScheduledBackupReady").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(
        condition(&s, "ScheduledBackupReady").unwrap().1,
        "CronJobReady"
    );
    let cron = h
        .api::<CronJob>()
        .get("agent-backup-periodic")
        .await
        .unwrap();
    let cron_spec = cron.spec.unwrap();
    assert_eq!(cron_spec.schedule, "0 3 * * *");
    assert_eq!(cron_spec.successful_jobs_history_limit, Some(5));
    let text = serde_json::to_string(&cron_spec.job_template).unwrap();
    assert!(!text.contains("never-in-a-job-spec"), "{text}");
    assert!(text.contains("86400 * 14"), "{text}");
    // The mirror Secret holds the keys for the Job's secretKeyRef.
    let mirror = h.api::<Secret>().get("agent-s3-credentials").await.unwrap();
    assert!(mirror.data.unwrap().contains_key("S3_SECRET_ACCESS_KEY"));
    // Converged: nothing more is written.
    h.wait_phase("agent", "Running").await;
    h.settle(Duration::from_secs(3)).await;
    let before = h.counter.writes();
    h.poke("agent", "1").await;
    h.settle(Duration::from_secs(3)).await;
    assert_eq!(h.counter.writes(), before, "{:?}", h.counter.write_log());
    // The schedule removed: the CronJob and the condition go, the mirror Secret too.
    h.apply_instance("agent", spec()).await;
    wait_status(&h, "agent", "drop the condition", |s| {
        condition(s, "ScheduledBackupReady").is_none()
    })
    .await;
    testkit::wait_for_deletion(&h.api::<CronJob>(), "agent-backup-periodic", TIMEOUT)
        .await
        .expect("CronJob pruned");
    testkit::wait_for_deletion(&h.api::<Secret>(), "agent-s3-credentials", TIMEOUT)
        .await
        .expect("mirror pruned");
}

#[tokio::test]
async fn a_restore_holds_the_workload_then_runs_once_per_path() {
    let Some(mut h) = Harness::namespace_only("bk-restore").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    let kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(0));
    h.apply_instance(
        "agent",
        with(json!({"restoreFrom": "backups/acme/old/2026-01-01T000000Z"})),
    )
    .await;
    // Held at zero until the data is back, then started.
    let s = wait_status(&h, "agent", "record the restore", |s| {
        s.restored_from.as_deref() == Some("backups/acme/old/2026-01-01T000000Z")
    })
    .await;
    assert_eq!(
        condition(&s, "RestoreComplete").unwrap().1,
        "RestoreSucceeded"
    );
    h.wait_phase("agent", "Running").await;
    assert_eq!(replicas(&h, "agent").await, Some(1));
    wait_event(&h, "agent", "RestoreComplete").await;
    // GitOps keeps restoreFrom in the manifest: nothing runs again, nothing is written.
    h.settle(Duration::from_secs(3)).await;
    let before = h.counter.writes();
    h.poke("agent", "1").await;
    h.settle(Duration::from_secs(3)).await;
    assert_eq!(h.counter.writes(), before, "{:?}", h.counter.write_log());
    let restores = kubelet
        .runs()
        .iter()
        .filter(|r| r.job_type == "restore")
        .count();
    assert_eq!(restores, 1);
    // A second restore with another path runs too (the Go operator never ran it).
    h.apply_instance(
        "agent",
        with(json!({"restoreFrom": "backups/acme/old/2026-02-01T000000Z"})),
    )
    .await;
    wait_status(&h, "agent", "record the second restore", |s| {
        s.restored_from.as_deref() == Some("backups/acme/old/2026-02-01T000000Z")
    })
    .await;
    h.wait_phase("agent", "Running").await;
    assert_eq!(
        kubelet
            .runs()
            .iter()
            .filter(|r| r.job_type == "restore")
            .count(),
        2
    );
    assert_eq!(
        h.api::<OpenClawInstance>()
            .get("agent")
            .await
            .unwrap()
            .spec
            .restore_from
            .as_deref(),
        Some("backups/acme/old/2026-02-01T000000Z"),
        "the spec is left as the user wrote it"
    );
}

#[tokio::test]
async fn a_restore_from_a_missing_path_stops_at_once_with_the_reason_and_keeps_the_workload_down() {
    let Some(mut h) = Harness::namespace_only("bk-restore-fail").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    // rclone's "directory not found": the pod failure policy fails the Job at once, and a
    // permanent error is not retried.
    let _kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(3));
    h.apply_instance(
        "agent",
        with(json!({"restoreFrom": "backups/nobody/none/x"})),
    )
    .await;
    let s = wait_status(&h, "agent", "give up", |s| {
        condition(s, "RestoreComplete").is_some_and(|c| c.1 == "RestoreFailed")
    })
    .await;
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let message = condition(&s, "RestoreComplete").unwrap().2;
    assert!(
        message.contains("backups/nobody/none/x") && message.contains("does not exist"),
        "{message}"
    );
    assert_eq!(replicas(&h, "agent").await, Some(0));
    assert_eq!(jobs(&h).await.len(), 1);
    wait_event(&h, "agent", "RestoreFailed").await;
    // Removing restoreFrom starts the instance without restoring.
    h.apply_instance("agent", spec()).await;
    h.wait_phase("agent", "Running").await;
}

#[tokio::test]
async fn a_restore_whose_job_fails_three_times_stops_with_the_reason() {
    let Some(mut h) = Harness::namespace_only("bk-restore-3").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    // rclone's "temporary error": retried, as new Jobs, 15 s then 30 s after each failure.
    let kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(5));
    h.apply_instance(
        "agent",
        with(json!({"restoreFrom": "backups/acme/flaky/x"})),
    )
    .await;
    let s = wait_status(&h, "agent", "give up", |s| {
        condition(s, "RestoreComplete").is_some_and(|c| c.1 == "RestoreFailed")
    })
    .await;
    let message = condition(&s, "RestoreComplete").unwrap().2;
    assert!(message.contains("after 3 attempt(s)"), "{message}");
    assert_eq!(jobs(&h).await.len(), 3);
    assert_eq!(
        kubelet.runs().len(),
        3,
        "one pod per Job: the operator retries"
    );
    assert_eq!(replicas(&h, "agent").await, Some(0));
}

#[tokio::test]
async fn the_go_way_clears_restore_from_when_asked() {
    let Some(mut h) = Harness::namespace_only("bk-restore-clear").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(true);
    let _kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(0));
    h.apply_instance("agent", with(json!({"restoreFrom": "backups/acme/old/x"})))
        .await;
    testkit::wait_for(
        &h.api::<OpenClawInstance>(),
        "agent",
        |i: &OpenClawInstance| {
            i.spec.restore_from.is_none()
                && i.status.as_ref().and_then(|s| s.restored_from.as_deref())
                    == Some("backups/acme/old/x")
        },
        TIMEOUT,
    )
    .await
    .expect("restoreFrom cleared after the restore");
    h.wait_phase("agent", "Running").await;
}

#[tokio::test]
async fn an_on_demand_backup_runs_once_per_annotation_value() {
    let Some(mut h) = Harness::namespace_only("bk-now").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    let code = Arc::new(AtomicI32::new(0));
    let c = code.clone();
    let kubelet = Kubelet::start(
        h.client.clone(),
        h.ns.name(),
        Arc::new(move |_, _| c.load(Ordering::SeqCst)),
    );
    h.apply_instance("agent", spec()).await;
    h.wait_phase("agent", "Running").await;
    let annotate = |v: &'static str| {
        let api = h.api::<OpenClawInstance>();
        async move {
            api.patch(
                "agent",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"openclaw.rocks/backup-now": v}}}),
                ),
            )
            .await
            .unwrap();
        }
    };
    annotate("2026-12-06T10:00").await;
    let s = wait_status(&h, "agent", "record the backup", |s| {
        s.last_backup_request.as_deref() == Some("2026-12-06T10:00")
    })
    .await;
    assert_eq!(
        condition(&s, "BackupComplete").unwrap().1,
        "BackupSucceeded"
    );
    let path = s.last_backup_path.clone().unwrap();
    assert!(
        path.starts_with(&format!("backups/{}/agent/on-demand-", h.ns.name())),
        "{path}"
    );
    assert!(s.last_backup_time.is_some());
    // The Job ran beside the agent (a ReadWriteOnce volume is mounted twice on one node).
    let job = jobs(&h).await.into_iter().next().unwrap();
    let affinity = job.spec.unwrap().template.spec.unwrap().affinity.unwrap();
    assert!(affinity.pod_affinity.is_some());
    // Nothing more for the same value; the agent kept running.
    h.wait_phase("agent", "Running").await;
    h.settle(Duration::from_secs(3)).await;
    assert_eq!(kubelet.runs().len(), 1);
    // A new value, and the backup fails on a permanent error (a fatal rclone error, such as a
    // missing bucket): recorded as failed at once, never retried.
    code.store(7, Ordering::SeqCst);
    annotate("second").await;
    let s = wait_status(&h, "agent", "record the failure", |s| {
        s.last_backup_request.as_deref() == Some("second")
    })
    .await;
    let (_, reason, message) = condition(&s, "BackupComplete").unwrap();
    assert_eq!(reason, "BackupFailed");
    assert!(message.contains("fatal error"), "{message}");
    assert_eq!(kubelet.runs().len(), 2, "a permanent error is not retried");
    assert_eq!(s.last_backup_path.as_deref(), Some(path.as_str()));
    wait_event(&h, "agent", "BackupFailed").await;
    assert_eq!(s.phase.as_deref(), Some("Running"));
}

#[tokio::test]
async fn the_operator_killed_at_each_step_of_a_restore_resumes_from_the_cluster() {
    let Some(mut h) = Harness::namespace_only("bk-restart").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    h.apply_instance("agent", with(json!({"restoreFrom": "backups/acme/old/y"})))
        .await;
    // Killed once the Job exists (no kubelet yet: it keeps running).
    wait_jobs(&h, 1).await;
    h.controller.abort();
    h.start_controller_with_backup(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        jobs(&h).await.len(),
        1,
        "a restarted operator starts no second Job"
    );
    // The Job completes while no operator runs.
    h.controller.abort();
    let kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(0));
    let start = std::time::Instant::now();
    while kubelet.runs().is_empty() {
        assert!(start.elapsed() < TIMEOUT);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    h.start_controller_with_backup(false);
    wait_status(&h, "agent", "record the restore", |s| {
        s.restored_from.as_deref() == Some("backups/acme/old/y")
    })
    .await;
    h.wait_phase("agent", "Running").await;
    assert_eq!(kubelet.runs().len(), 1);
}

#[tokio::test]
async fn a_missing_volume_waits_for_the_restore_and_skips_the_backup_on_delete() {
    let Some(mut h) = Harness::namespace_only("bk-nopvc").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    let kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(0));
    h.apply_instance(
        "agent",
        with(json!({
            "storage": {"persistence": {"existingClaim": "not-there"}},
            "restoreFrom": "backups/acme/old/z",
        })),
    )
    .await;
    let s = wait_status(&h, "agent", "wait for the volume", |s| {
        s.phase.as_deref() == Some("Restoring")
            && s.conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.message.contains("not-there"))
    })
    .await;
    assert!(s.restored_from.is_none());
    assert!(jobs(&h).await.is_empty(), "no Job without its volume");
    h.api::<OpenClawInstance>()
        .delete("agent", &DeleteParams::background())
        .await
        .unwrap();
    testkit::wait_for_deletion(
        &h.api::<OpenClawInstance>(),
        "agent",
        Duration::from_secs(30),
    )
    .await
    .expect("deleted: nothing to back up");
    wait_event(&h, "agent", "BackupSkipped").await;
    assert!(kubelet.runs().is_empty());
}

#[tokio::test]
async fn the_operator_killed_during_a_backup_on_delete_resumes_it() {
    let Some(mut h) = Harness::namespace_only("bk-del-restart").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    h.apply_instance("agent", spec()).await;
    h.wait_phase("agent", "Running").await;
    h.api::<OpenClawInstance>()
        .delete("agent", &DeleteParams::background())
        .await
        .unwrap();
    // Killed while scaling down / waiting for the pods, then again once the Job exists.
    wait_status(&h, "agent", "start backing up", |s| {
        s.phase.as_deref() == Some("BackingUp")
    })
    .await;
    h.controller.abort();
    h.start_controller_with_backup(false);
    wait_jobs(&h, 1).await;
    h.controller.abort();
    h.start_controller_with_backup(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names: Vec<String> = jobs(&h).await.iter().map(|j| j.name_any()).collect();
    assert_eq!(names, ["agent-backup"], "one Job, whatever the restarts");
    let since = status_of(&h, "agent").await.backing_up_since;
    assert!(
        since.is_some(),
        "the time limit still counts from the first pass"
    );
    let kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(0));
    testkit::wait_for_deletion(&h.api::<OpenClawInstance>(), "agent", TIMEOUT)
        .await
        .expect("deleted after the backup");
    assert_eq!(kubelet.runs().len(), 1);
}

#[tokio::test]
async fn the_operator_killed_during_an_on_demand_backup_resumes_it() {
    let Some(mut h) = Harness::namespace_only("bk-now-restart").await else {
        return;
    };
    credentials(&h, GOOD).await;
    h.start_controller_with_backup(false);
    h.apply_instance("agent", spec()).await;
    h.wait_phase("agent", "Running").await;
    h.api::<OpenClawInstance>()
        .patch(
            "agent",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"openclaw.rocks/backup-now": "r"}}})),
        )
        .await
        .unwrap();
    // Killed once the Job exists; the Job finishes while no operator runs.
    wait_jobs(&h, 1).await;
    h.controller.abort();
    let kubelet = Kubelet::start(h.client.clone(), h.ns.name(), Kubelet::exiting(0));
    let start = std::time::Instant::now();
    while kubelet.runs().is_empty() {
        assert!(start.elapsed() < TIMEOUT);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    h.start_controller_with_backup(false);
    let s = wait_status(&h, "agent", "record the backup", |s| {
        s.last_backup_request.as_deref() == Some("r")
    })
    .await;
    assert_eq!(
        condition(&s, "BackupComplete").unwrap().1,
        "BackupSucceeded"
    );
    assert_eq!(jobs(&h).await.len(), 1, "no second Job after the restart");
    assert_eq!(kubelet.runs().len(), 1);
}
