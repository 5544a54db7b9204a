//! The finalizer `openclaw.rocks/finalizer` on a real API server: added to every instance,
//! released at once when nothing is to clean up, held by a cleanup step that never finishes
//! until the time limit (`spec.backup.timeout`, counted from `status.backingUpSince`) cuts it
//! off, released at once by `openclaw.rocks/skip-backup: "true"`, and resumed correctly after
//! the operator is killed in the middle.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, TIMEOUT};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use openclaw_api::OpenClawInstance;
use openclaw_operator::controller::finalizer::NeverDone;
use openclaw_operator::controller::lifecycle::{FINALIZER, SKIP_BACKUP};
use serde_json::json;

/// "At once": well under the 30 s a switch from the Go operator allows.
const AT_ONCE: Duration = Duration::from_secs(15);

fn spec() -> serde_json::Value {
    json!({"image": {"repository": "ghcr.io/openclaw/openclaw", "tag": "2026.9.6"}})
}

async fn wait_finalizer(h: &Harness, name: &str) {
    testkit::wait_for(
        &h.api::<OpenClawInstance>(),
        name,
        |i: &OpenClawInstance| i.finalizers().iter().any(|f| f == FINALIZER),
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|e| panic!("{name} never got the finalizer: {e}"));
}

async fn delete(h: &Harness, name: &str) {
    h.api::<OpenClawInstance>()
        .delete(name, &DeleteParams::background())
        .await
        .expect("deleted");
}

async fn gone_within(h: &Harness, name: &str, limit: Duration) {
    testkit::wait_for_deletion(&h.api::<OpenClawInstance>(), name, limit)
        .await
        .unwrap_or_else(|e| panic!("{name} not gone within {limit:?}: {e}"));
}

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

#[tokio::test]
async fn nothing_to_clean_up_deletes_at_once_and_keeps_the_data_volume() {
    let Some(h) = Harness::start("fin-plain").await else {
        return;
    };
    h.apply_instance("plain", spec()).await;
    wait_finalizer(&h, "plain").await;
    h.wait_phase("plain", "Running").await;
    let started = std::time::Instant::now();
    delete(&h, "plain").await;
    gone_within(&h, "plain", AT_ONCE).await;
    eprintln!("deleted in {:?}", started.elapsed());
    // The data PVC outlives the instance (persistence.orphan defaults to true).
    let pvc = h
        .api::<PersistentVolumeClaim>()
        .get_opt("plain-data")
        .await
        .expect("pvc read");
    assert!(pvc.is_some(), "the data PVC must be kept");
    assert!(
        pvc.is_some_and(|p| p.owner_references().is_empty()),
        "the kept PVC has no owner"
    );
}

#[tokio::test]
async fn a_cleanup_that_never_finishes_is_cut_off_by_the_time_limit_and_survives_a_restart() {
    let Some(mut h) = Harness::namespace_only("fin-limit").await else {
        return;
    };
    h.start_controller_with_cleanup(vec![Arc::new(NeverDone)]);
    h.apply_instance("slow", spec()).await;
    wait_finalizer(&h, "slow").await;
    h.wait_phase("slow", "Running").await;
    delete(&h, "slow").await;
    let backing_up = h.wait_phase("slow", "BackingUp").await;
    let since = backing_up
        .status
        .as_ref()
        .and_then(|s| s.backing_up_since.clone())
        .expect("backingUpSince set with BackingUp");

    // The operator is killed while the cleanup runs; a new one resumes from the status: the
    // same start time, still held.
    h.controller.abort();
    h.start_controller_with_cleanup(vec![Arc::new(NeverDone)]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = h
        .api::<OpenClawInstance>()
        .get("slow")
        .await
        .expect("still there while the step is pending");
    let status = still.status.clone().unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("BackingUp"));
    assert_eq!(status.backing_up_since.as_ref(), Some(&since));

    // Move the start 31 minutes back (the default limit is 30m): the next pass cuts it off.
    // Written as the operator's own field manager, so the operator's later status writes own
    // the field as they do in production (a release that has to be retried must not restart
    // the limit).
    let past = Timestamp::from_second(Timestamp::now().as_second() - 31 * 60).unwrap();
    let mut status = serde_json::to_value(&still.status).unwrap();
    status["backingUpSince"] = json!(past.to_string());
    h.api::<OpenClawInstance>()
        .patch_status(
            "slow",
            &PatchParams::apply("openclaw-operator").force(),
            &Patch::Apply(json!({
                "apiVersion": "openclaw.rocks/v1alpha1",
                "kind": "OpenClawInstance",
                "status": status
            })),
        )
        .await
        .expect("status patched");
    gone_within(&h, "slow", Duration::from_secs(30)).await;
    let reasons = event_reasons(&h, "slow").await;
    assert!(
        reasons.iter().any(|r| r == "BackupTimedOut"),
        "a BackupTimedOut event: {reasons:?}"
    );
}

#[tokio::test]
async fn skip_backup_annotation_deletes_at_once_despite_a_pending_cleanup() {
    let Some(mut h) = Harness::namespace_only("fin-skip").await else {
        return;
    };
    h.start_controller_with_cleanup(vec![Arc::new(NeverDone)]);
    h.apply_instance("skip", spec()).await;
    wait_finalizer(&h, "skip").await;
    h.api::<OpenClawInstance>()
        .patch(
            "skip",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {SKIP_BACKUP: "true"}}})),
        )
        .await
        .expect("annotated");
    delete(&h, "skip").await;
    gone_within(&h, "skip", AT_ONCE).await;
}

#[tokio::test]
async fn converged_instances_with_the_finalizer_write_nothing() {
    let Some(h) = Harness::start("fin-quiet").await else {
        return;
    };
    h.apply_instance("quiet", spec()).await;
    wait_finalizer(&h, "quiet").await;
    h.wait_phase("quiet", "Running").await;
    h.settle(Duration::from_secs(3)).await;
    let before = h.counter.writes();
    h.poke("quiet", "1").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.counter.writes(),
        before,
        "a converged pass writes nothing: {:?}",
        h.counter.write_log()
    );
}
