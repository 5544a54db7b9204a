//! The instance controller against the real control plane (kwok nodes make pods Ready).
//! Each test runs its own controller, scoped to its own temporary namespace.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use openclaw_api::OpenClawInstance;
use serde_json::{Value, json};

mod common;

use common::{Harness, TIMEOUT};

fn minimal() -> Value {
    json!({"image": {"tag": "2026.9.6"}, "envFrom": [{"secretRef": {"name": "api-keys"}}]})
}

async fn api_keys(h: &Harness, value: &str) {
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-keys"},
        "stringData": {"ANTHROPIC_API_KEY": value}
    }))
    .expect("secret");
    h.api::<Secret>()
        .patch(
            "api-keys",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("secret applied");
}

#[tokio::test]
async fn instance_runs_converges_and_stays_quiet() {
    let Some(h) = Harness::start("ctl-run").await else {
        return;
    };
    api_keys(&h, "k1").await;
    h.apply_instance("demo", minimal()).await;
    let running = h.wait_phase("demo", "Running").await;
    let status = running.status.expect("status");
    assert_eq!(
        status.gateway_endpoint.as_deref(),
        Some(format!("demo.{}.svc:18789", h.ns.name()).as_str())
    );
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(ready.status, "True");
    assert_eq!(status.observed_generation, running.metadata.generation);
    for (kind, present) in [
        (
            "service",
            h.api::<Service>()
                .get_opt("demo")
                .await
                .expect("get")
                .is_some(),
        ),
        (
            "config",
            h.api::<ConfigMap>()
                .get_opt("demo-config")
                .await
                .expect("get")
                .is_some(),
        ),
        (
            "token",
            h.api::<Secret>()
                .get_opt("demo-gateway-token")
                .await
                .expect("get")
                .is_some(),
        ),
        (
            "pvc",
            h.api::<PersistentVolumeClaim>()
                .get_opt("demo-data")
                .await
                .expect("get")
                .is_some(),
        ),
    ] {
        assert!(present, "{kind} missing");
    }

    // Converged: a forced reconcile sends no write at all.
    h.settle(Duration::from_secs(3)).await;
    h.counter.reset();
    h.poke("demo", "1").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        h.counter.writes(),
        0,
        "writes after convergence: {:?}",
        h.counter.write_log()
    );

    // A third-party label on the StatefulSet survives reconciles (and causes no write).
    h.api::<StatefulSet>()
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "blue"}}})),
        )
        .await
        .expect("labelled");
    h.poke("demo", "2").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sts = h.api::<StatefulSet>().get("demo").await.expect("sts");
    assert_eq!(sts.labels().get("team").map(String::as_str), Some("blue"));
    assert_eq!(h.counter.writes(), 0, "writes: {:?}", h.counter.write_log());

    // Drift is corrected: scaling the StatefulSet by hand is undone.
    h.api::<StatefulSet>()
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scaled");
    testkit::wait_for(
        &h.api::<StatefulSet>(),
        "demo",
        |s: &StatefulSet| s.spec.as_ref().and_then(|s| s.replicas) == Some(1),
        TIMEOUT,
    )
    .await
    .expect("drift corrected");

    // A deleted child comes back at once (its deletion event triggers the owner), not at the
    // next periodic re-check.
    let old_uid = h.api::<Service>().get("demo").await.expect("service").uid();
    h.api::<Service>()
        .delete("demo", &DeleteParams::default())
        .await
        .expect("service deleted");
    let start = std::time::Instant::now();
    testkit::wait_for(
        &h.api::<Service>(),
        "demo",
        move |s: &Service| s.uid() != old_uid,
        Duration::from_secs(30),
    )
    .await
    .expect("service re-created");
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn config_change_rolls_once_workspace_change_does_not_secret_rotation_does() {
    let Some(h) = Harness::start("ctl-roll").await else {
        return;
    };
    api_keys(&h, "k1").await;
    let mut spec = minimal();
    spec["config"] =
        json!({"raw": {"agents": {"defaults": {"workspace": "~/.openclaw/workspace"}}}});
    spec["workspace"] = json!({"initialFiles": {"NOTES.md": "one"}});
    h.apply_instance("roll", spec.clone()).await;
    h.wait_phase("roll", "Running").await;
    h.settle(Duration::from_secs(3)).await;
    let revisions = h.revisions("roll").await;
    let hash = h.config_hash("roll").await;
    assert!(!hash.is_empty());

    // Workspace files only: no rollout.
    spec["workspace"] = json!({"initialFiles": {"NOTES.md": "two"}});
    h.apply_instance("roll", spec.clone()).await;
    testkit::wait_for(
        &h.api::<ConfigMap>(),
        "roll-workspace",
        |c: &ConfigMap| {
            c.data
                .as_ref()
                .is_some_and(|d| d.values().any(|v| v.contains("two")))
        },
        TIMEOUT,
    )
    .await
    .expect("workspace ConfigMap updated");
    h.settle(Duration::from_secs(3)).await;
    assert_eq!(h.config_hash("roll").await, hash);
    assert_eq!(h.revisions("roll").await, revisions);

    // Raw config: exactly one new revision.
    spec["config"] =
        json!({"raw": {"agents": {"defaults": {"workspace": "~/.openclaw/workspace-b"}}}});
    h.apply_instance("roll", spec.clone()).await;
    let old = hash.clone();
    testkit::wait_for(
        &h.api::<StatefulSet>(),
        "roll",
        move |s: &StatefulSet| {
            s.spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get("openclaw.rocks/config-hash"))
                .is_some_and(|h| *h != old)
        },
        TIMEOUT,
    )
    .await
    .expect("config hash changed");
    h.wait_phase("roll", "Running").await;
    h.settle(Duration::from_secs(3)).await;
    assert_eq!(h.revisions("roll").await, revisions + 1);

    // Rotating a referenced Secret: exactly one new revision.
    api_keys(&h, "k2").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    h.settle(Duration::from_secs(3)).await;
    assert_eq!(h.revisions("roll").await, revisions + 2);
}

#[tokio::test]
async fn suspend_resume_and_delete_keeps_the_pvc() {
    let Some(h) = Harness::start("ctl-suspend").await else {
        return;
    };
    api_keys(&h, "k1").await;
    let mut spec = minimal();
    h.apply_instance("nap", spec.clone()).await;
    h.wait_phase("nap", "Running").await;

    spec["suspended"] = json!(true);
    h.apply_instance("nap", spec.clone()).await;
    h.wait_phase("nap", "Suspended").await;
    let sts = h.api::<StatefulSet>().get("nap").await.expect("sts");
    assert_eq!(sts.spec.and_then(|s| s.replicas), Some(0));
    assert!(
        h.api::<Service>()
            .get_opt("nap")
            .await
            .expect("get")
            .is_some(),
        "service kept"
    );

    spec["suspended"] = json!(false);
    h.apply_instance("nap", spec).await;
    h.wait_phase("nap", "Running").await;

    h.api::<OpenClawInstance>()
        .delete("nap", &DeleteParams::foreground())
        .await
        .expect("deleted");
    testkit::wait_for_deletion(&h.api::<OpenClawInstance>(), "nap", TIMEOUT)
        .await
        .expect("instance gone");
    testkit::wait_for_deletion(&h.api::<StatefulSet>(), "nap", TIMEOUT)
        .await
        .expect("sts gone");
    testkit::wait_for_deletion(&h.api::<ConfigMap>(), "nap-config", TIMEOUT)
        .await
        .expect("config gone");
    assert!(
        h.api::<PersistentVolumeClaim>()
            .get_opt("nap-data")
            .await
            .expect("get")
            .is_some(),
        "the data PVC is kept"
    );
}

#[tokio::test]
async fn bad_input_is_reported_and_recovers() {
    let Some(h) = Harness::start("ctl-bad").await else {
        return;
    };
    // A spec only the admission functions catch (character set of a skill).
    let mut spec = minimal();
    spec["skills"] = json!(["bad skill"]);
    h.apply_instance("bad", spec).await;
    let failed = h.wait_phase("bad", "Failed").await;
    let ready = failed
        .status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(ready.reason, "InvalidSpec");
    assert!(ready.message.contains("skills[0]"), "{}", ready.message);
    assert!(
        h.api::<StatefulSet>()
            .get_opt("bad")
            .await
            .expect("get")
            .is_none(),
        "nothing rolled out"
    );

    // A missing Secret: Degraded with the name, then recovery when it appears.
    h.apply_instance("bad", minimal()).await;
    let degraded = h.wait_phase("bad", "Degraded").await;
    let secrets = degraded
        .status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "SecretsReady")
        .expect("SecretsReady");
    assert_eq!(secrets.status, "False");
    assert!(secrets.message.contains("api-keys"), "{}", secrets.message);
    api_keys(&h, "k1").await;
    h.wait_phase("bad", "Running").await;

    // A missing workspace ConfigMap: Degraded with its name, recovery when it appears.
    let mut spec = minimal();
    spec["workspace"] = json!({"configMapRef": {"name": "files"}});
    h.apply_instance("bad", spec).await;
    let degraded = h.wait_phase("bad", "Degraded").await;
    let ws = degraded
        .status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "WorkspaceReady")
        .expect("WorkspaceReady");
    assert_eq!(ws.reason, "ConfigMapNotFound");
    assert!(ws.message.contains("files"), "{}", ws.message);
    let files: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "files"},
        "data": {"NOTES.md": "hello"}
    }))
    .expect("cm");
    h.api::<ConfigMap>()
        .create(&PostParams::default(), &files)
        .await
        .expect("created");
    h.wait_phase("bad", "Running").await;

    // Malformed external config: clear error, nothing new rolled out.
    let cm: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ext"},
        "data": {"openclaw.json": "{not json"}
    }))
    .expect("cm");
    h.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await
        .expect("cm created");
    let hash = h.config_hash("bad").await;
    let mut spec = minimal();
    spec["config"] = json!({"configMapRef": {"name": "ext"}});
    h.apply_instance("bad", spec).await;
    let failed = h.wait_phase("bad", "Failed").await;
    let cond = failed
        .status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "ConfigValid")
        .expect("ConfigValid");
    assert_eq!(cond.reason, "InvalidConfig");
    assert_eq!(h.config_hash("bad").await, hash, "nothing rolled out");

    // Fixing the ConfigMap recovers by itself (the ConfigMap is watched).
    let mut data = BTreeMap::new();
    data.insert("openclaw.json".to_string(), "{}".to_string());
    h.api::<ConfigMap>()
        .patch(
            "ext",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": data})),
        )
        .await
        .expect("fixed");
    h.wait_phase("bad", "Running").await;
}

#[tokio::test]
async fn orphan_switch_moves_pvc_ownership_only() {
    let Some(h) = Harness::start("ctl-orphan").await else {
        return;
    };
    api_keys(&h, "k1").await;
    let mut spec = minimal();
    h.apply_instance("own", spec.clone()).await;
    h.wait_phase("own", "Running").await;
    let pvcs = h.api::<PersistentVolumeClaim>();
    let pvc = pvcs.get("own-data").await.expect("pvc");
    assert!(pvc.owner_references().is_empty(), "orphan by default");

    spec["storage"] = json!({"persistence": {"orphan": false}});
    h.apply_instance("own", spec).await;
    let owned = testkit::wait_for(
        &pvcs,
        "own-data",
        |p: &PersistentVolumeClaim| !p.owner_references().is_empty(),
        TIMEOUT,
    )
    .await
    .expect("owner reference added");
    assert_eq!(owned.spec, pvc.spec, "the PVC spec is never touched");
}

#[tokio::test]
async fn missing_existing_claim_degrades_then_recovers() {
    let Some(h) = Harness::start("ctl-claim").await else {
        return;
    };
    api_keys(&h, "k1").await;
    let mut spec = minimal();
    spec["storage"] = json!({"persistence": {"existingClaim": "my-data"}});
    h.apply_instance("claim", spec).await;
    let degraded = h.wait_phase("claim", "Degraded").await;
    let storage = degraded
        .status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "StorageReady")
        .expect("StorageReady");
    assert_eq!(storage.reason, "ExistingClaimNotFound");
    assert!(
        h.api::<PersistentVolumeClaim>()
            .get_opt("claim-data")
            .await
            .expect("get")
            .is_none(),
        "no managed PVC with an existing claim"
    );
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "my-data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .expect("pvc");
    h.api::<PersistentVolumeClaim>()
        .create(&PostParams::default(), &pvc)
        .await
        .expect("created");
    // Not watched (it is the user's PVC): the controller looks again every 15 s while missing.
    h.wait_phase("claim", "Running").await;
}
