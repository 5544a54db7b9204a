//! Backups and restores end to end: the controller on a real API server, the Jobs it renders
//! run by the kubelet stand-in (`testkit::kubelet`) with their exact command (the real rclone,
//! or `sh -c` with the periodic script), environment (the mirror Secret's keys resolved as the
//! kubelet does) and volume (a local directory per PVC), against a real S3 server (versitygw) on
//! loopback. The data is compared file by file (`testkit::tree`).
//!
//! Needs a cluster and the tools of `hack/s3/build.sh` (each test skips without them unless
//! `OPENCLAW_REQUIRE_CLUSTER` / `OPENCLAW_REQUIRE_S3` is set), and root (the runner's mounts).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TIMEOUT;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use openclaw_api::{OpenClawInstance, OpenClawInstanceStatus, crd};
use openclaw_operator::controller::{self, Scope};
use serde_json::json;
use testkit::TestNamespace;
use testkit::jobrun;
use testkit::kubelet::{Kubelet, Runner, Secrets};
use testkit::s3::S3Server;
use testkit::tree::{self, Checks, Spec};

const AGENT_ID: u32 = 1000;

/// The cluster, the S3 server, and a controller watching `namespaces` (the first stands for the
/// operator's: it holds the credentials).
struct Env {
    client: Client,
    namespaces: Vec<TestNamespace>,
    server: Arc<Mutex<S3Server>>,
    bin: PathBuf,
    /// (namespace, claim) -> the local directory standing for that PVC.
    volumes: Arc<Mutex<BTreeMap<(String, String), PathBuf>>>,
    /// pod -> what its command wrote to stderr (the pod's log).
    logs: Arc<Mutex<BTreeMap<String, String>>>,
    controller: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

impl Env {
    async fn start(prefix: &str, namespaces: usize) -> Option<Env> {
        let tools = testkit::s3::tools()?;
        let cluster = testkit::cluster().await?;
        cluster
            .install_crds(&crd::all(), TIMEOUT)
            .await
            .expect("CRDs");
        let mut list = Vec::new();
        for i in 0..namespaces {
            list.push(
                cluster
                    .namespace(&format!("{prefix}-{i}"))
                    .await
                    .expect("namespace"),
            );
        }
        let server = S3Server::start_with(&tools).unwrap();
        let bin = tools.bin_dir().to_path_buf();
        let names: Vec<String> = list.iter().map(|n| n.name().to_string()).collect();
        let mut options = controller::Options::standalone(Scope::parse(&names.join(",")), 2);
        options.backup = controller::backup::BackupOptions {
            credentials_namespace: Some(names[0].clone()),
            clear_restore_from: false,
        };
        let client = cluster.client();
        let controller = tokio::spawn(controller::run_with(client.clone(), options));
        Some(Env {
            client,
            namespaces: list,
            server: Arc::new(Mutex::new(server)),
            bin,
            volumes: Default::default(),
            logs: Default::default(),
            controller,
            _dir: tempfile::tempdir().unwrap(),
        })
    }

    fn ns(&self, i: usize) -> &str {
        self.namespaces[i].name()
    }

    fn api<K>(&self, i: usize) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), self.ns(i))
    }

    async fn credentials(&self, endpoint: Option<&str>, bucket: Option<&str>) {
        self.credentials_in(endpoint, bucket, None).await
    }

    async fn credentials_in(
        &self,
        endpoint: Option<&str>,
        bucket: Option<&str>,
        region: Option<&str>,
    ) {
        let (data, api) = {
            let s = self.server.lock().unwrap();
            let mut data = json!({
                "S3_BUCKET": bucket.unwrap_or(s.bucket()),
                "S3_ENDPOINT": endpoint.map(str::to_string).unwrap_or_else(|| s.endpoint()),
                "S3_ACCESS_KEY_ID": s.access_key(),
                "S3_SECRET_ACCESS_KEY": s.secret_key(),
            });
            if let Some(region) = region {
                data["S3_REGION"] = json!(region);
            }
            (data, self.api::<Secret>(0))
        };
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "s3-backup-credentials"},
            "stringData": data,
        }))
        .unwrap();
        let _ = api
            .delete("s3-backup-credentials", &DeleteParams::default())
            .await;
        api.create(&PostParams::default(), &secret).await.unwrap();
    }

    /// A local directory for the PVC `claim` of namespace `i`, owned by the agent's user.
    fn volume(&self, i: usize, claim: &str) -> PathBuf {
        let dir = self._dir.path().join(format!("{}-{claim}", self.ns(i)));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(AGENT_ID), Some(AGENT_ID)).unwrap();
        self.volumes
            .lock()
            .unwrap()
            .insert((self.ns(i).to_string(), claim.to_string()), dir.clone());
        dir
    }

    /// The runner that runs a pod's real command with its volume's directory.
    fn real_runner(&self) -> Runner {
        let volumes = self.volumes.clone();
        let logs = self.logs.clone();
        let bin = self.bin.clone();
        Arc::new(move |pod: &Pod, secrets: &Secrets| run_pod(pod, secrets, &volumes, &logs, &bin))
    }

    /// The log of the first pod whose name starts with `job`.
    fn log_of(&self, job: &str) -> String {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .find(|(pod, _)| pod.starts_with(job))
            .map(|(_, log)| log.clone())
            .unwrap_or_default()
    }

    fn kubelet(&self, i: usize, runner: Runner) -> Kubelet {
        Kubelet::start(self.client.clone(), self.ns(i), runner)
    }

    async fn apply(&self, i: usize, name: &str, spec: serde_json::Value) {
        testkit::apply_instance(&self.client, self.ns(i), name, spec)
            .await
            .unwrap();
    }

    async fn wait_status(
        &self,
        i: usize,
        name: &str,
        what: &str,
        ok: impl Fn(&OpenClawInstanceStatus) -> bool,
    ) -> OpenClawInstanceStatus {
        let api = self.api::<OpenClawInstance>(i);
        let start = std::time::Instant::now();
        loop {
            let s = api.get(name).await.unwrap().status.unwrap_or_default();
            if ok(&s) {
                return s;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "{name}: never {what}: {:?} {:?}",
                s.phase,
                s.conditions
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn lsf(&self, path: &str) -> Vec<String> {
        let s = self.server.lock().unwrap();
        let out = s.rclone(&["lsf", "-R", &s.remote(path)]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn run_pod(
    pod: &Pod,
    secrets: &Secrets,
    volumes: &Mutex<BTreeMap<(String, String), PathBuf>>,
    logs: &Mutex<BTreeMap<String, String>>,
    bin: &Path,
) -> i32 {
    let ns = pod.namespace().unwrap_or_default();
    let Some(spec) = pod.spec.as_ref() else {
        return 127;
    };
    let claim = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "data")
        .and_then(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone())
        .unwrap_or_default();
    let Some(dir) = volumes.lock().unwrap().get(&(ns, claim.clone())).cloned() else {
        eprintln!("{}: no local directory for PVC {claim}", pod.name_any());
        return 127;
    };
    let mounts = BTreeMap::from([("data".to_string(), dir)]);
    match jobrun::run_container(spec, "rclone", secrets, &mounts, bin) {
        Ok(out) => {
            let code = out.status.code().unwrap_or(128);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            if code != 0 {
                let tail: Vec<&str> = err.lines().rev().take(8).collect();
                eprintln!("{} exited {code}: {:?}", pod.name_any(), tail);
            }
            logs.lock().unwrap().insert(pod.name_any(), err);
            code
        }
        Err(e) => {
            eprintln!("{}: {e}", pod.name_any());
            127
        }
    }
}

fn image() -> serde_json::Value {
    json!({"image": {"repository": "ghcr.io/openclaw/openclaw", "tag": "2026.9.6"}})
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut s = image();
    common::features::merge(&mut s, &extra);
    s
}

fn agent_tree(root: &Path) {
    tree::build(root, &Spec::small()).unwrap();
    std::os::unix::fs::lchown(root, Some(AGENT_ID), Some(AGENT_ID)).unwrap();
    for path in tree::scan(root).unwrap().keys() {
        std::os::unix::fs::lchown(root.join(path), Some(AGENT_ID), Some(AGENT_ID)).unwrap();
    }
}

async fn event_notes(api: &Api<Event>, name: &str) -> Vec<(String, String)> {
    api.list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

fn condition(s: &OpenClawInstanceStatus, t: &str) -> Option<(String, String, String)> {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn a_backup_on_delete_is_cloned_into_another_namespace_byte_for_byte() {
    let Some(env) = Env::start("e2e-clone", 2).await else {
        return;
    };
    env.credentials(None, None).await;
    let data = env.volume(0, "agent-data");
    agent_tree(&data);
    let _k0 = env.kubelet(0, env.real_runner());
    let _k1 = env.kubelet(1, env.real_runner());
    env.apply(0, "agent", image()).await;
    env.wait_status(0, "agent", "run", |s| s.phase.as_deref() == Some("Running"))
        .await;

    // Delete: the volume is copied before the instance goes.
    env.api::<OpenClawInstance>(0)
        .delete("agent", &DeleteParams::background())
        .await
        .unwrap();
    testkit::wait_for_deletion(&env.api::<OpenClawInstance>(0), "agent", TIMEOUT)
        .await
        .expect("deleted after the backup");
    let notes = event_notes(&env.api::<Event>(0), "agent").await;
    let path = notes
        .iter()
        .find_map(|(r, n)| {
            (r == "BackupComplete")
                .then(|| n.trim_start_matches("Backup completed to ").to_string())
        })
        .unwrap_or_else(|| panic!("no BackupComplete event: {notes:?}"));
    assert!(
        path.starts_with(&format!("backups/{}/agent/", env.ns(0))),
        "{path}"
    );
    assert!(!env.lsf(&path).is_empty(), "nothing under {path}");

    // Clone into the second namespace: held at zero replicas, restored, then started.
    let clone = env.volume(1, "clone-data");
    env.apply(1, "clone", with(json!({"restoreFrom": path})))
        .await;
    let s = env
        .wait_status(1, "clone", "restore", |s| {
            s.restored_from.as_deref() == Some(path.as_str())
        })
        .await;
    assert_eq!(
        condition(&s, "RestoreComplete").unwrap().1,
        "RestoreSucceeded"
    );
    env.wait_status(1, "clone", "run", |s| s.phase.as_deref() == Some("Running"))
        .await;
    let differences = tree::compare_with(&data, &clone, Checks::FAITHFUL).unwrap();
    assert!(differences.is_empty(), "{}", tree::report(&differences, 40));
    // The keys never appear in a Job spec.
    let secret_key = env.server.lock().unwrap().secret_key().to_string();
    for job in env
        .api::<Job>(1)
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        assert!(!serde_json::to_string(&job).unwrap().contains(&secret_key));
    }
}

#[tokio::test]
async fn on_demand_and_periodic_backups_reach_the_bucket_and_the_status() {
    let Some(env) = Env::start("e2e-periodic", 1).await else {
        return;
    };
    env.credentials(None, None).await;
    let data = env.volume(0, "agent-data");
    agent_tree(&data);
    let _k = env.kubelet(0, env.real_runner());
    env.apply(
        0,
        "agent",
        with(json!({"backup": {"schedule": "0 3 * * *"}})),
    )
    .await;
    env.wait_status(0, "agent", "run", |s| s.phase.as_deref() == Some("Running"))
        .await;

    // On demand.
    env.api::<OpenClawInstance>(0)
        .patch(
            "agent",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"openclaw.rocks/backup-now": "first"}}}),
            ),
        )
        .await
        .unwrap();
    let s = env
        .wait_status(0, "agent", "back up", |s| {
            s.last_backup_request.as_deref() == Some("first")
        })
        .await;
    assert_eq!(
        condition(&s, "BackupComplete").unwrap().1,
        "BackupSucceeded"
    );
    let on_demand = s.last_backup_path.clone().unwrap();
    assert!(
        env.lsf(&on_demand).iter().any(|f| f.contains("blob")),
        "{on_demand}"
    );

    // Periodic: two runs of the CronJob's own Job template (as the CronJob controller would
    // start them), the second after one file changed.
    let cron = env
        .api::<CronJob>(0)
        .get("agent-backup-periodic")
        .await
        .unwrap();
    let run = |n: usize| {
        let cron = cron.clone();
        let api = env.api::<Job>(0);
        async move {
            let template = cron.spec.clone().unwrap().job_template;
            let job: Job = serde_json::from_value(json!({
                "metadata": {
                    "name": format!("agent-backup-periodic-manual-{n}"),
                    "labels": template.metadata.as_ref().and_then(|m| m.labels.clone()),
                    "ownerReferences": [{
                        "apiVersion": "batch/v1", "kind": "CronJob", "name": cron.name_any(),
                        "uid": cron.uid().unwrap(), "controller": true,
                    }],
                },
                "spec": template.spec,
            }))
            .unwrap();
            api.create(&PostParams::default(), &job).await.unwrap();
            testkit::wait_for(
                &api,
                &job.name_any(),
                |j: &Job| j.status.as_ref().and_then(|s| s.succeeded) == Some(1),
                TIMEOUT,
            )
            .await
            .expect("periodic Job succeeded");
        }
    };
    run(1).await;
    std::fs::write(data.join("changed.txt"), "a new memory").unwrap();
    std::os::unix::fs::lchown(data.join("changed.txt"), Some(AGENT_ID), Some(AGENT_ID)).unwrap();
    run(2).await;
    let prefix = format!("backups/{}/agent/periodic", env.ns(0));
    let latest = env.lsf(&format!("{prefix}/latest"));
    assert!(latest.iter().any(|f| f == "changed.txt"), "{latest:?}");
    let snapshots = env.lsf(&format!("{prefix}/snapshots"));
    assert!(
        snapshots.iter().any(|f| f.ends_with("/changed.txt")),
        "{snapshots:?}"
    );
    // The instance records its newest periodic backup (the Job triggers it).
    let s = env
        .wait_status(0, "agent", "record the periodic backup", |s| {
            s.last_backup_path
                .as_deref()
                .is_some_and(|p| p.starts_with(&format!("{prefix}/snapshots/")))
        })
        .await;
    assert_eq!(
        condition(&s, "ScheduledBackupReady").unwrap().1,
        "CronJobReady"
    );
}

#[tokio::test]
async fn a_missing_bucket_and_a_server_down_are_explained_and_never_touch_the_data() {
    let Some(env) = Env::start("e2e-faults", 1).await else {
        return;
    };
    let data = env.volume(0, "agent-data");
    agent_tree(&data);
    let _k = env.kubelet(0, env.real_runner());
    env.apply(0, "agent", image()).await;
    env.wait_status(0, "agent", "run", |s| s.phase.as_deref() == Some("Running"))
        .await;
    let ask = |value: &'static str| {
        let api = env.api::<OpenClawInstance>(0);
        async move {
            api.patch(
                "agent",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"openclaw.rocks/backup-now": value}}}),
                ),
            )
            .await
            .unwrap();
        }
    };

    // A bucket that does not exist.
    env.credentials(None, Some("no-such-bucket")).await;
    ask("missing-bucket").await;
    let s = env
        .wait_status(0, "agent", "fail", |s| {
            s.last_backup_request.as_deref() == Some("missing-bucket")
        })
        .await;
    let (_, reason, message) = condition(&s, "BackupComplete").unwrap();
    assert_eq!(reason, "BackupFailed");
    eprintln!("missing bucket: {message}");
    assert!(
        message.contains("rclone exited with code 1") && message.contains("bucket"),
        "{message}"
    );
    let job = on_demand_job("missing-bucket");
    let log = env.log_of(&job);
    assert!(
        log.contains("NoSuchBucket"),
        "the pod's log names the cause: {log}"
    );

    // The server goes down in the middle of a backup and comes back: rclone's own retries, or
    // the operator's next attempt, finish it.
    env.credentials(None, None).await;
    ask("server-down").await;
    let job = on_demand_job("server-down");
    testkit::wait_for(
        &env.api::<Job>(0),
        &job,
        |j: &Job| j.status.as_ref().and_then(|s| s.active).unwrap_or(0) > 0,
        TIMEOUT,
    )
    .await
    .expect("the backup Job runs");
    env.server.lock().unwrap().stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.server.lock().unwrap().restart().unwrap();
    let s = env
        .wait_status(0, "agent", "recover", |s| {
            s.last_backup_request.as_deref() == Some("server-down")
        })
        .await;
    assert_eq!(
        condition(&s, "BackupComplete").unwrap().1,
        "BackupSucceeded",
        "{:?}",
        s.conditions
    );

    // A wrong region: the storage refuses every request at once, and the pod's log says so.
    env.credentials_in(None, None, Some("eu-west-9")).await;
    ask("wrong-region").await;
    let s = env
        .wait_status(0, "agent", "region", |s| {
            s.last_backup_request.as_deref() == Some("wrong-region")
        })
        .await;
    let (_, reason, message) = condition(&s, "BackupComplete").unwrap();
    assert_eq!(reason, "BackupFailed");
    eprintln!("wrong region: {message}");
    assert!(
        message.contains("rclone exited with code 1") && message.contains("region"),
        "{message}"
    );
    let job = on_demand_job("wrong-region");
    let log = env.log_of(&job);
    assert!(
        log.contains(r#"the region "eu-west-9" is wrong"#),
        "the pod's log names the cause: {log}"
    );

    // A wrong endpoint (nothing listens there): the Job's first listing gives up on the
    // connection in seconds (exit code 5, a temporary error), before `rclone sync` would try
    // every file; the operator says so while it waits for its next Job, and the pod's log has
    // the connection error.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    env.credentials(Some(&format!("http://127.0.0.1:{closed}")), None)
        .await;
    ask("wrong-endpoint").await;
    let s = env
        .wait_status(0, "agent", "endpoint", |s| {
            condition(s, "BackupComplete").is_some_and(|c| c.2.contains("code 5"))
        })
        .await;
    let (_, reason, message) = condition(&s, "BackupComplete").unwrap();
    assert_eq!(reason, "BackupRetrying");
    eprintln!("wrong endpoint: {message}");
    assert!(
        message.contains("could not be reached") && message.contains("attempt 2 starts"),
        "{message}"
    );
    let job = on_demand_job("wrong-endpoint");
    let log = env.log_of(&job);
    assert!(
        log.contains("connection refused"),
        "the pod's log names the cause: {log}"
    );
    assert!(
        tree::scan(&data).unwrap().len() > 50,
        "the data is untouched"
    );
}

#[tokio::test]
async fn a_restore_from_a_path_that_does_not_exist_stops_with_the_reason() {
    let Some(env) = Env::start("e2e-nopath", 1).await else {
        return;
    };
    env.credentials(None, None).await;
    let data = env.volume(0, "agent-data");
    std::fs::write(data.join("keep.txt"), "the agent's own").unwrap();
    let _k = env.kubelet(0, env.real_runner());
    env.apply(
        0,
        "agent",
        with(json!({"restoreFrom": "backups/nobody/never/2026-01-01T000000Z"})),
    )
    .await;
    let s = env
        .wait_status(0, "agent", "give up", |s| {
            condition(s, "RestoreComplete").is_some_and(|c| c.1 == "RestoreFailed")
        })
        .await;
    let message = condition(&s, "RestoreComplete").unwrap().2;
    assert!(message.contains("does not exist"), "{message}");
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    // Nothing was removed from the volume.
    assert_eq!(
        std::fs::read_to_string(data.join("keep.txt")).unwrap(),
        "the agent's own"
    );
}

/// The first Job of the on-demand backup request `value` of the instance `agent`.
fn on_demand_job(value: &str) -> String {
    openclaw_operator::controller::backup::attempt_name(
        "agent",
        openclaw_render::features::backup::JobKind::OnDemand,
        value,
        1,
    )
}
