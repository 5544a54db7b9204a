//! Auto-update and image changes end to end: the controller on a real API server asks a real
//! OCI registry (the CNCF distribution registry, `testkit::registry`) for versions; its Jobs
//! are run by the kubelet stand-in (`testkit::kubelet`): the pre-update backups and rollback
//! restores with the real rclone against a real S3 server, the migration Jobs as a stand-in
//! exit code (the migration itself is proven with the real OpenClaw in
//! `crates/render/tests/migration_openclaw.rs`). kwok never makes the pod of an image whose
//! tag ends in `.999` Ready (`hack/control-plane/cluster.sh`), so a "broken" version fails its
//! health check for real and the rollback path runs on the cluster.
//!
//! Needs a cluster, `hack/s3/build.sh` and `hack/registry/build.sh` (each test skips without
//! them unless the `OPENCLAW_REQUIRE_*` variables are set), and root (the runner's mounts).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use openclaw_api::{OpenClawInstance, OpenClawInstanceStatus, crd};
use openclaw_operator::controller::{self, Scope};
use serde_json::json;
use testkit::TestNamespace;
use testkit::jobrun;
use testkit::kubelet::{Kubelet, Runner, Secrets};
use testkit::registry::{self, Registry};
use testkit::s3::S3Server;

const AGENT_ID: u32 = 1000;
const NAME: &str = "agent";
const REPO: &str = "openclaw/openclaw";
/// Long enough for a 2-minute health check and a rollback.
const LONG: Duration = Duration::from_secs(420);

struct Env {
    client: Client,
    ns: TestNamespace,
    server: S3Server,
    bin: PathBuf,
    registry: Registry,
    volume: PathBuf,
    /// The exit code migration pods end with.
    migration_exit: Arc<AtomicI32>,
    /// Job types whose pods end with this exit code instead of running.
    exits: Arc<Mutex<BTreeMap<String, i32>>>,
    controller: Mutex<tokio::task::JoinHandle<()>>,
    kubelet: Option<Kubelet>,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.controller.lock().unwrap().abort();
    }
}

impl Env {
    async fn start(prefix: &str, registry_options: registry::Options) -> Option<Env> {
        let s3 = testkit::s3::tools()?;
        let tools = registry::tools()?;
        let cluster = testkit::cluster().await?;
        cluster
            .install_crds(&crd::all(), common::TIMEOUT)
            .await
            .expect("CRDs");
        let ns = cluster.namespace(prefix).await.expect("namespace");
        let server = S3Server::start_with(&s3).unwrap();
        let registry = Registry::start(&tools, registry_options).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let volume = dir.path().join("agent-data");
        std::fs::create_dir_all(&volume).unwrap();
        std::os::unix::fs::chown(&volume, Some(AGENT_ID), Some(AGENT_ID)).unwrap();
        let mut env = Env {
            client: cluster.client(),
            ns,
            server,
            bin: s3.bin_dir().to_path_buf(),
            registry,
            volume,
            migration_exit: Arc::new(AtomicI32::new(0)),
            exits: Arc::default(),
            controller: Mutex::new(tokio::spawn(async {})),
            kubelet: None,
            _dir: dir,
        };
        env.restart();
        env.kubelet = Some(Kubelet::start(
            env.client.clone(),
            env.ns.name(),
            env.runner(),
        ));
        Some(env)
    }

    /// (Re)start the operator: the old one is killed where it stands (its task aborted).
    fn restart(&self) {
        let mut options = controller::Options::standalone(Scope::namespace(self.ns.name()), 2);
        options.backup = controller::backup::BackupOptions {
            credentials_namespace: Some(self.ns.name().to_string()),
            clear_restore_from: false,
        };
        // Tags are pushed during the tests: answers are reused for a second, not 5 minutes.
        options.registry = openclaw_operator::registry::Resolver::new(Duration::from_secs(1))
            .map_err(|e| e.to_string());
        let mut handle = self.controller.lock().unwrap();
        handle.abort();
        *handle = tokio::spawn(controller::run_with(self.client.clone(), options));
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    fn runner(&self) -> Runner {
        let volume = self.volume.clone();
        let bin = self.bin.clone();
        let exit = self.migration_exit.clone();
        let exits = self.exits.clone();
        Arc::new(move |pod: &Pod, secrets: &Secrets| {
            let job_type = pod
                .labels()
                .get("openclaw.rocks/job-type")
                .cloned()
                .unwrap_or_default();
            if let Some(code) = exits.lock().unwrap().get(&job_type) {
                return *code;
            }
            if job_type == "migrate" {
                return exit.load(Ordering::SeqCst);
            }
            run_rclone(pod, secrets, &volume, &bin)
        })
    }

    fn runs(&self, job_type: &str) -> usize {
        self.kubelet
            .as_ref()
            .map(|k| k.runs().iter().filter(|r| r.job_type == job_type).count())
            .unwrap_or(0)
    }

    async fn credentials(&self) {
        let s = &self.server;
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "s3-backup-credentials"},
            "stringData": {
                "S3_BUCKET": s.bucket(),
                "S3_ENDPOINT": s.endpoint(),
                "S3_ACCESS_KEY_ID": s.access_key(),
                "S3_SECRET_ACCESS_KEY": s.secret_key(),
            },
        }))
        .unwrap();
        let api = self.api::<Secret>();
        let _ = api
            .delete("s3-backup-credentials", &DeleteParams::default())
            .await;
        api.create(&PostParams::default(), &secret).await.unwrap();
    }

    fn spec(&self, tag: &str, auto_update: serde_json::Value) -> serde_json::Value {
        json!({
            "image": {"repository": self.registry.repository(REPO), "tag": tag},
            "autoUpdate": auto_update,
        })
    }

    async fn apply(&self, spec: serde_json::Value) {
        testkit::apply_instance(&self.client, self.ns.name(), NAME, spec)
            .await
            .unwrap();
    }

    async fn patch_spec(&self, patch: serde_json::Value) {
        self.api::<OpenClawInstance>()
            .patch(
                NAME,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": patch})),
            )
            .await
            .unwrap();
    }

    /// Make the next check due now (as if `checkInterval` had passed), and poke the instance.
    async fn check_now(&self, extra: serde_json::Value) {
        let mut au = json!({"lastCheckTime": null});
        common::features::merge(&mut au, &extra);
        self.api::<OpenClawInstance>()
            .patch_status(
                NAME,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"autoUpdate": au}})),
            )
            .await
            .unwrap();
        let stamp = format!("{:?}", std::time::Instant::now());
        self.api::<OpenClawInstance>()
            .patch(
                NAME,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {"test/poke": stamp}}})),
            )
            .await
            .unwrap();
    }

    async fn status(&self) -> OpenClawInstanceStatus {
        self.api::<OpenClawInstance>()
            .get(NAME)
            .await
            .unwrap()
            .status
            .unwrap_or_default()
    }

    async fn wait(
        &self,
        what: &str,
        limit: Duration,
        ok: impl Fn(&OpenClawInstanceStatus) -> bool,
    ) -> OpenClawInstanceStatus {
        let start = std::time::Instant::now();
        loop {
            let s = self.status().await;
            if ok(&s) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "never {what}: phase {:?}, autoUpdate {:?}, conditions {:?}, events {:?}",
                s.phase,
                s.auto_update,
                s.conditions,
                self.events().await
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn events(&self) -> Vec<(String, String)> {
        let mut list = self
            .api::<Event>()
            .list(&ListParams::default().fields(&format!("involvedObject.name={NAME}")))
            .await
            .unwrap()
            .items;
        list.sort_by_key(|e| {
            e.event_time
                .as_ref()
                .map(|t| t.0)
                .or(e.first_timestamp.as_ref().map(|t| t.0))
        });
        list.into_iter()
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect()
    }

    async fn reasons(&self) -> Vec<String> {
        self.events().await.into_iter().map(|(r, _)| r).collect()
    }

    async fn sts_image(&self) -> String {
        let sts = self.api::<StatefulSet>().get(NAME).await.unwrap();
        sts.spec
            .and_then(|s| s.template.spec)
            .and_then(|p| p.containers.first().and_then(|c| c.image.clone()))
            .unwrap_or_default()
    }

    async fn spec_tag(&self) -> String {
        self.api::<OpenClawInstance>()
            .get(NAME)
            .await
            .unwrap()
            .spec
            .image
            .and_then(|i| i.tag)
            .unwrap_or_default()
    }

    async fn jobs(&self, job_type: &str) -> Vec<Job> {
        self.api::<Job>()
            .list(&ListParams::default().labels(&format!("openclaw.rocks/job-type={job_type}")))
            .await
            .unwrap()
            .items
    }

    fn image(&self, tag: &str) -> String {
        format!("{}:{tag}", self.registry.repository(REPO))
    }

    /// Applies the instance on `tag` with `auto_update`, waits until it runs on `tag` and its
    /// first registry check is recorded; returns that status.
    async fn run_checked(
        &self,
        tag: &str,
        auto_update: serde_json::Value,
    ) -> OpenClawInstanceStatus {
        self.apply(self.spec(tag, auto_update)).await;
        self.running_on(tag).await;
        self.wait("checked", common::TIMEOUT, |s| {
            au(s).last_check_time.is_some()
        })
        .await
    }

    /// Running on `tag`: phase Running, the StatefulSet on the image.
    async fn running_on(&self, tag: &str) {
        self.wait(&format!("Running on {tag}"), LONG, |s| {
            s.phase.as_deref() == Some("Running")
        })
        .await;
        let start = std::time::Instant::now();
        while self.sts_image().await != self.image(tag) {
            assert!(
                start.elapsed() < common::TIMEOUT,
                "{}",
                self.sts_image().await
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

fn run_rclone(pod: &Pod, secrets: &Secrets, volume: &Path, bin: &Path) -> i32 {
    let Some(spec) = pod.spec.as_ref() else {
        return 127;
    };
    let mounts = BTreeMap::from([("data".to_string(), volume.to_path_buf())]);
    match jobrun::run_container(spec, "rclone", secrets, &mounts, bin) {
        Ok(out) => {
            let code = out.status.code().unwrap_or(128);
            if code != 0 {
                let log = format!(
                    "{} exited {code}: {}{}",
                    pod.name_any(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                eprintln!("{log}");
                let _ = std::fs::write(format!("/tmp/au-{}.log", pod.name_any()), log);
            }
            code
        }
        Err(e) => {
            eprintln!("{}: {e}", pod.name_any());
            let _ = std::fs::write(format!("/tmp/au-{}.log", pod.name_any()), e.to_string());
            127
        }
    }
}

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    std::os::unix::fs::chown(&path, Some(AGENT_ID), Some(AGENT_ID)).unwrap();
}

fn au(s: &OpenClawInstanceStatus) -> openclaw_api::AutoUpdateStatus {
    s.auto_update.clone().unwrap_or_default()
}

fn condition(s: &OpenClawInstanceStatus, t: &str) -> Option<(String, String, String)> {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// A newer version: pre-update backup → migration from the new image → rollout → confirmed
/// once the new pod is Ready, with the operator killed at every step on the way.
#[tokio::test]
async fn an_update_is_backed_up_migrated_rolled_out_and_confirmed_through_restarts() {
    let Some(env) = Env::start("au-update", registry::Options::default()).await else {
        return;
    };
    env.registry.push_tags(REPO, &["2026.9.5"]).unwrap();
    env.credentials().await;
    write(&env.volume, "before.txt", "state of 2026.9.5");
    let s = env.run_checked("2026.9.5", json!({"enabled": true})).await;
    assert_eq!(au(&s).latest_version.as_deref(), Some("2026.9.5"));
    assert_eq!(au(&s).current_version.as_deref(), Some("2026.9.5"));

    env.registry.push_tags(REPO, &["2026.9.6"]).unwrap();
    env.check_now(json!({})).await;

    // Kill the operator each time the update moves on, and check it resumes.
    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    loop {
        let s = env.status().await;
        let a = au(&s);
        let step = format!(
            "{}:{}",
            a.pending_version.clone().unwrap_or_default(),
            a.update_phase.clone().unwrap_or_default()
        );
        if seen.last() != Some(&step) {
            seen.push(step.clone());
            // Killed in that step, once the pass that reached it has sent its events (events
            // are best effort: a kill between the status write and them loses them).
            tokio::time::sleep(Duration::from_millis(300)).await;
            env.restart();
        }
        if a.current_version.as_deref() == Some("2026.9.6") && a.pending_version.is_none() {
            break;
        }
        assert!(start.elapsed() < LONG, "stuck at {step}: {s:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for phase in ["BackingUp", "ApplyingUpdate", "HealthCheck"] {
        assert!(
            seen.iter().any(|s| s == &format!("2026.9.6:{phase}")),
            "{phase} was not seen (and killed in): {seen:?}"
        );
    }
    assert_eq!(env.spec_tag().await, "2026.9.6");
    env.running_on("2026.9.6").await;
    // The pod that confirmed it runs the new version and is Ready.
    let pods = env
        .api::<Pod>()
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={NAME}")))
        .await
        .unwrap()
        .items;
    let ready = pods.iter().any(|p| {
        p.spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            == Some(env.image("2026.9.6"))
            && p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    });
    assert!(ready, "no Ready pod on 2026.9.6: {pods:?}");

    // One Job of each, whatever the restarts; the migration ran the new image.
    let backups = env.jobs("pre-update-backup").await;
    assert_eq!(
        backups.len(),
        1,
        "{:?}",
        backups.iter().map(|j| j.name_any()).collect::<Vec<_>>()
    );
    let migrations = env.jobs("migrate").await;
    assert_eq!(migrations.len(), 1);
    let image = migrations[0]
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone());
    assert_eq!(image, Some(env.image("2026.9.6")));
    assert_eq!(env.runs("pre-update-backup"), 1);
    assert_eq!(env.runs("migrate"), 1);
    let s = env.status().await;
    let path = au(&s).pre_update_backup_path;
    assert!(path.is_none(), "cleared once confirmed: {path:?}");

    let reasons = env.reasons().await;
    let order = [
        "AutoUpdateAvailable",
        "PreUpdateBackupStarted",
        "PreUpdateBackupComplete",
        "MigrationStarted",
        "MigrationComplete",
        "AutoUpdateApplied",
        "AutoUpdateConfirmed",
    ];
    let mut at = 0;
    for r in order {
        let i = reasons[at..]
            .iter()
            .position(|x| x == r)
            .unwrap_or_else(|| panic!("{r} missing after {at}: {reasons:?}"));
        at += i;
    }
    assert_eq!(
        condition(&s, "AutoUpdateReady").map(|c| c.1),
        Some("UpToDate".into())
    );
    assert!(condition(&s, "AutoUpdateAvailable").is_none());
}

/// A version whose pod never gets Ready is rolled back: held, the pre-update backup restored
/// (what was written after it is gone), the tag reverted, the version never tried again, and
/// the third rollback pauses auto-update until the tag is set by hand.
#[tokio::test]
async fn a_broken_version_is_rolled_back_with_its_data_and_pauses_the_third_time() {
    let Some(env) = Env::start("au-rollback", registry::Options::default()).await else {
        return;
    };
    env.registry.push_tags(REPO, &["2026.9.6"]).unwrap();
    env.credentials().await;
    write(&env.volume, "before.txt", "state of 2026.9.6");
    env.run_checked(
        "2026.9.6",
        json!({"enabled": true, "healthCheckTimeout": "2m"}),
    )
    .await;

    // Two rollbacks happened before (the breaker counts consecutive ones).
    env.registry.push_tags(REPO, &["2026.9.999"]).unwrap();
    env.check_now(json!({"rollbackCount": 2})).await;
    // The operator is killed each time the update moves on; once the new version runs, it
    // writes after the snapshot.
    let mut seen: Vec<String> = Vec::new();
    let start = std::time::Instant::now();
    let s = loop {
        let s = env.status().await;
        let a = au(&s);
        let step = a.update_phase.clone().unwrap_or_default();
        if seen.last() != Some(&step) {
            if step == "HealthCheck" {
                write(&env.volume, "after.txt", "written by 2026.9.999");
            }
            seen.push(step.clone());
            tokio::time::sleep(Duration::from_millis(300)).await;
            env.restart();
        }
        if a.failed_version.as_deref() == Some("2026.9.999") && a.pending_version.is_none() {
            break s;
        }
        assert!(start.elapsed() < LONG, "stuck at {step:?}: {s:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for phase in ["BackingUp", "ApplyingUpdate", "HealthCheck", "RollingBack"] {
        assert!(
            seen.iter().any(|s| s == phase),
            "{phase} not seen: {seen:?}"
        );
    }
    assert_eq!(au(&s).rollback_count, Some(3));
    assert_eq!(au(&s).current_version.as_deref(), Some("2026.9.6"));
    assert!(
        au(&s)
            .last_update_error
            .unwrap_or_default()
            .contains("did not become Ready"),
        "{s:?}"
    );
    assert!(env.volume.join("before.txt").exists());
    assert!(
        !env.volume.join("after.txt").exists(),
        "the file written after the snapshot survived the restore"
    );
    assert_eq!(env.runs("rollback-restore"), 1);
    assert_eq!(env.spec_tag().await, "2026.9.6");
    env.running_on("2026.9.6").await;
    let reasons = env.reasons().await;
    for r in [
        "AutoUpdateHealthCheckFailed",
        "RollbackRestoreStarted",
        "RollbackRestoreComplete",
        "AutoUpdateRolledBack",
        "AutoUpdatePaused",
    ] {
        assert!(reasons.iter().any(|x| x == r), "{r} missing: {reasons:?}");
    }
    let s = env.status().await;
    assert_eq!(
        condition(&s, "AutoUpdateReady").map(|c| c.1),
        Some("Paused".into())
    );

    // Paused: a due check asks nothing and starts nothing.
    env.check_now(json!({})).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = env.status().await;
    assert!(au(&s).pending_version.is_none());
    assert_eq!(env.jobs("pre-update-backup").await.len(), 1);

    // A tag set by hand resets the breaker (migrated as an image change); the failed
    // version is still not tried again.
    env.patch_spec(json!({"image": {"tag": "2026.9.5"}})).await;
    env.registry.push_tags(REPO, &["2026.9.5"]).unwrap();
    let s = env
        .wait("breaker reset", LONG, |s| {
            au(s).rollback_count.is_none()
                && au(s).pending_version.is_none()
                && au(s).current_version.as_deref() == Some("2026.9.5")
        })
        .await;
    assert!(env.reasons().await.iter().any(|r| r == "UpgradeStarted"));
    env.running_on("2026.9.5").await;
    env.check_now(json!({})).await;
    let s2 = env
        .wait("checked again", common::TIMEOUT, |x| {
            au(x).last_check_time.is_some()
                && condition(x, "AutoUpdateReady").is_some_and(|c| c.1 == "FailedVersionSkipped")
        })
        .await;
    assert!(au(&s2).pending_version.is_none(), "{s:?}");
}

/// Without S3 credentials the update stops before anything changes (`BackupRequired`);
/// suspended instances are not updated; `backupBeforeUpdate: false` goes on; an image change
/// by hand whose migration fails keeps the old version running.
#[tokio::test]
async fn backup_required_suspension_and_a_failed_migration_keep_the_old_version() {
    let Some(env) = Env::start("au-guard", registry::Options::default()).await else {
        return;
    };
    env.registry
        .push_tags(REPO, &["2026.9.5", "2026.9.6"])
        .unwrap();
    let mut spec = env.spec("2026.9.5", json!({"enabled": true}));
    spec["suspended"] = json!(true);
    env.apply(spec).await;
    env.wait("suspended", common::TIMEOUT, |s| {
        s.phase.as_deref() == Some("Suspended")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        au(&env.status().await).last_check_time.is_none(),
        "checked while suspended"
    );

    env.patch_spec(json!({"suspended": false})).await;
    let s = env
        .wait("backup required", common::TIMEOUT, |s| {
            condition(s, "BackupRequired").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&s, "BackupRequired").unwrap();
    assert_eq!(reason, "S3CredentialsMissing");
    assert!(message.contains("backupBeforeUpdate: false"), "{message}");
    assert!(env.reasons().await.iter().any(|r| r == "BackupRequired"));
    env.running_on("2026.9.5").await;
    assert_eq!(env.spec_tag().await, "2026.9.5");

    env.patch_spec(json!({"autoUpdate": {"backupBeforeUpdate": false}}))
        .await;
    env.wait("updated without a backup", LONG, |s| {
        au(s).current_version.as_deref() == Some("2026.9.6") && au(s).pending_version.is_none()
    })
    .await;
    env.running_on("2026.9.6").await;
    assert!(env.jobs("pre-update-backup").await.is_empty());
    assert!(condition(&env.status().await, "BackupRequired").is_none());

    // An image change by hand: its migration fails, the old version keeps running.
    env.migration_exit.store(3, Ordering::SeqCst);
    env.patch_spec(json!({"autoUpdate": {"enabled": false}, "image": {"tag": "2026.9.5"}}))
        .await;
    let s = env
        .wait("upgrade failed", LONG, |s| {
            condition(s, "AutoUpdateReady").is_some_and(|c| c.1 == "UpgradeFailed")
        })
        .await;
    assert_eq!(s.phase.as_deref(), Some("Degraded"));
    env.running_on_phase_any("2026.9.6").await;
    assert!(env.reasons().await.iter().any(|r| r == "UpgradeFailed"));
    // Back to the running version: nothing left to do.
    env.patch_spec(json!({"image": {"tag": "2026.9.6"}})).await;
    env.wait("cancelled", common::TIMEOUT, |s| {
        au(s).pending_version.is_none() && s.phase.as_deref() == Some("Running")
    })
    .await;
}

impl Env {
    async fn running_on_phase_any(&self, tag: &str) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(self.sts_image().await, self.image(tag));
        let sts = self.api::<StatefulSet>().get(NAME).await.unwrap();
        assert_eq!(sts.spec.and_then(|s| s.replicas), Some(1));
    }
}

/// `latest` is resolved through a registry that wants credentials: refused without a pull
/// secret (reported, the instance still runs), resolved with one; a registry that is down is
/// reported and changes nothing.
#[tokio::test]
async fn latest_needs_the_pull_secret_and_a_registry_down_changes_nothing() {
    let Some(mut env) = Env::start(
        "au-auth",
        registry::Options {
            auth: registry::Auth::Htpasswd,
            tls: false,
        },
    )
    .await
    else {
        return;
    };
    env.registry
        .push_tags(REPO, &["2026.9.5", "2026.9.6", "latest", "2026.10.0-rc.1"])
        .unwrap();
    env.apply(env.spec("latest", json!({"enabled": true})))
        .await;
    let s = env
        .wait("check failed", common::TIMEOUT, |s| {
            condition(s, "AutoUpdateReady").is_some_and(|c| c.1 == "CheckFailed")
        })
        .await;
    let (_, _, message) = condition(&s, "AutoUpdateReady").unwrap();
    assert!(message.contains("pullSecrets"), "{message}");
    let reasons = env.reasons().await;
    assert!(
        reasons.iter().any(|r| r == "AutoUpdateCheckFailed"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == "AutoUpdateResolveFailed"),
        "{reasons:?}"
    );
    env.wait("running", LONG, |s| s.phase.as_deref() == Some("Running"))
        .await;

    // A pull secret with the registry's credentials.
    let user = registry::ADMIN_USER;
    let password = env.registry.password(user).unwrap().to_string();
    let auth = base64_encode(&format!("{user}:{password}"));
    let config = json!({"auths": {env.registry.host(): {"auth": auth}}}).to_string();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "regcred"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config},
    }))
    .unwrap();
    env.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    env.patch_spec(json!({"image": {"pullSecrets": [{"name": "regcred"}]}}))
        .await;
    env.check_now(json!({})).await;
    env.wait("latest resolved", common::TIMEOUT, |s| {
        au(s).current_version.as_deref() == Some("2026.9.6")
    })
    .await;
    assert_eq!(env.spec_tag().await, "2026.9.6");
    env.running_on("2026.9.6").await;
    assert!(
        env.reasons()
            .await
            .iter()
            .any(|r| r == "AutoUpdateTagResolved")
    );

    // The registry goes down: reported, nothing changes.
    env.registry.stop();
    // Past the resolver's 1-second cache (the tests' TTL).
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.check_now(json!({})).await;
    let s = env
        .wait("check failed again", common::TIMEOUT, |s| {
            au(s).last_check_time.is_some()
                && condition(s, "AutoUpdateReady").is_some_and(|c| c.1 == "CheckFailed")
        })
        .await;
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(env.spec_tag().await, "2026.9.6");
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A pre-update backup that fails aborts the update before anything changed; a tag that
/// disappears between the check and the update aborts it too.
#[tokio::test]
async fn a_failed_backup_or_a_vanished_tag_aborts_and_keeps_the_old_version() {
    let Some(env) = Env::start("au-abort", registry::Options::default()).await else {
        return;
    };
    env.registry.push_tags(REPO, &["2026.9.5"]).unwrap();
    env.registry.push_distinct(REPO, "2026.9.6").unwrap();
    env.credentials().await;
    env.exits
        .lock()
        .unwrap()
        .insert("pre-update-backup".into(), 1);
    env.apply(env.spec("2026.9.5", json!({"enabled": true})))
        .await;
    let s = env
        .wait("aborted", LONG, |s| {
            au(s)
                .last_update_error
                .is_some_and(|e| e.contains("backup failed"))
        })
        .await;
    assert!(au(&s).pending_version.is_none(), "{s:?}");
    assert_eq!(
        condition(&s, "AutoUpdateReady").map(|c| c.1),
        Some("UpdateAborted".into())
    );
    // rclone's exit code 1 is permanent: given up after the first Job.
    assert_eq!(env.jobs("pre-update-backup").await.len(), 1);
    assert!(env.jobs("migrate").await.is_empty());
    assert!(env.reasons().await.iter().any(|r| r == "AutoUpdateAborted"));
    env.running_on("2026.9.5").await;
    assert_eq!(env.spec_tag().await, "2026.9.5");

    // The next check finds 2026.9.6 again; without credentials it waits (BackupRequired), and
    // the tag disappears meanwhile.
    env.exits.lock().unwrap().clear();
    env.api::<Secret>()
        .delete("s3-backup-credentials", &DeleteParams::default())
        .await
        .unwrap();
    env.check_now(json!({})).await;
    env.wait("backup required", common::TIMEOUT, |s| {
        condition(s, "BackupRequired").is_some_and(|c| c.0 == "True")
    })
    .await;
    env.registry.delete_tag(REPO, "2026.9.6").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A pass (poke): the pending update looks the tag up again before it starts.
    env.api::<OpenClawInstance>()
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"test/poke": "tag-gone"}}})),
        )
        .await
        .unwrap();
    let s = env
        .wait("aborted: tag gone", common::TIMEOUT, |s| {
            au(s)
                .last_update_error
                .is_some_and(|e| e.contains("no longer in"))
        })
        .await;
    assert!(au(&s).pending_version.is_none(), "{s:?}");
    env.running_on("2026.9.5").await;
    assert_eq!(env.spec_tag().await, "2026.9.5");
}

/// A rollback whose restore fails keeps the workload at zero: neither version starts on state
/// that was not restored. Once the restore works (the failed Jobs deleted), it finishes.
#[tokio::test]
async fn a_failed_rollback_restore_holds_the_workload_until_it_works() {
    let Some(env) = Env::start("au-hold", registry::Options::default()).await else {
        return;
    };
    env.registry.push_tags(REPO, &["2026.9.6"]).unwrap();
    env.credentials().await;
    write(&env.volume, "before.txt", "state of 2026.9.6");
    env.exits
        .lock()
        .unwrap()
        .insert("rollback-restore".into(), 1);
    env.run_checked(
        "2026.9.6",
        json!({"enabled": true, "healthCheckTimeout": "2m"}),
    )
    .await;
    env.registry.push_tags(REPO, &["2026.9.999"]).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.check_now(json!({})).await;
    let s = env
        .wait("restore failed", LONG, |s| {
            condition(s, "AutoUpdateReady").is_some_and(|c| c.1 == "RollbackRestoreFailed")
        })
        .await;
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let sts = env.api::<StatefulSet>().get(NAME).await.unwrap();
    assert_eq!(sts.spec.as_ref().and_then(|s| s.replicas), Some(0));
    assert!(
        env.reasons()
            .await
            .iter()
            .any(|r| r == "RollbackRestoreFailed")
    );
    assert_eq!(au(&s).pending_version.as_deref(), Some("2026.9.999"));

    // Fixed: the failed Jobs go, the restore runs again, the rollback finishes.
    env.exits.lock().unwrap().clear();
    env.api::<Job>()
        .delete_collection(
            &DeleteParams::background(),
            &ListParams::default().labels("openclaw.rocks/job-type=rollback-restore"),
        )
        .await
        .unwrap();
    let s = env
        .wait("rolled back", LONG, |s| {
            au(s).failed_version.as_deref() == Some("2026.9.999") && au(s).pending_version.is_none()
        })
        .await;
    assert_eq!(au(&s).rollback_count, Some(1));
    env.running_on("2026.9.6").await;
    assert!(env.volume.join("before.txt").exists());
}
