//! `kubectl-openclaw` against a real API server (the local control plane, see
//! docs/development.md): the binary runs as a subprocess, on objects and statuses the tests
//! write themselves (no operator runs). Skipped without a cluster unless
//! `OPENCLAW_REQUIRE_CLUSTER=1`.
//!
//! kwok runs no containers, and the shared cluster's kwok nodes report an address the API
//! server cannot reach a kubelet on (`--node-ip=10.0.0.2`, port 0, so the API server dials
//! 10.0.0.2:10250). `open` and `logs` are tested on a private kwok node: a second kwok process
//! (the same binary) that manages only that node, reports 127.0.0.1 and its own server port as
//! the node's kubelet endpoint, and serves port-forwards and logs from kwok's `PortForward` and
//! `Logs` objects. On the shared nodes both requests fail, and the tests check that the plugin
//! says so.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::{Client, ResourceExt};
use openclaw_api::{OpenClawInstance, crd};
use serde_json::{Value, json};
use testkit::{Cluster, TestNamespace};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-openclaw");
const TIMEOUT: Duration = Duration::from_secs(60);

struct Env {
    cluster: Cluster,
    ns: TestNamespace,
}

async fn setup(prefix: &str) -> Option<Env> {
    let cluster = testkit::cluster().await?;
    cluster
        .install_crds(&crd::all(), TIMEOUT)
        .await
        .expect("CRDs");
    let ns = cluster.namespace(prefix).await.expect("namespace");
    Some(Env { cluster, ns })
}

impl Env {
    fn ns(&self) -> &str {
        self.ns.name()
    }

    fn client(&self) -> Client {
        self.cluster.client()
    }

    /// Runs the plugin with `-n <ns>` and the cluster's kubeconfig.
    async fn plugin(&self, args: &[&str]) -> Output {
        self.plugin_with_stdin(args, "").await
    }

    async fn plugin_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = tokio::process::Command::new(BIN)
            .args(args)
            .args(["-n", self.ns()])
            .env("KUBECONFIG", self.cluster.kubeconfig_source())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn kubectl-openclaw");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kubectl-openclaw did not finish")
            .unwrap()
    }

    async fn instance(&self, name: &str, spec: Value, status: Value) {
        testkit::apply_instance(&self.client(), self.ns(), name, spec)
            .await
            .expect("instance");
        let api: Api<OpenClawInstance> = self.ns.api();
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("status");
    }

    async fn create<K>(&self, object: Value) -> K
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let object: K = serde_json::from_value(object).unwrap();
        self.ns
            .api::<K>()
            .create(&PostParams::default(), &object)
            .await
            .unwrap()
    }

    async fn event(&self, instance: &str, reason: &str, message: &str, at: &str, kind: &str) {
        self.create::<Event>(json!({
            "metadata": {"name": format!("{instance}.{}", reason.to_lowercase())},
            "involvedObject": {"apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawInstance",
                               "name": instance, "namespace": self.ns()},
            "reason": reason, "message": message, "type": kind,
            "firstTimestamp": at, "lastTimestamp": at, "count": 1,
            "source": {"component": "openclaw-operator"},
        }))
        .await;
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Exit code 1, and one readable line on stderr: no debug dump of a kube error.
#[track_caller]
fn fails(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    for debug in ["Api(", "ErrorResponse", "Status {", "Box<", "kube::"] {
        assert!(!err.contains(debug), "debug output in {err}");
    }
    err
}

fn status_running() -> Value {
    json!({
        "phase": "Running",
        "gatewayEndpoint": "demo.x.svc:18789",
        "lastBackupTime": "2026-12-07T03:00:00Z",
        "lastBackupPath": "backups/t/demo/on-demand-2026-12-07T030000Z",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "PodReady", "message": "pod demo-0 is ready",
             "lastTransitionTime": "2026-12-07T11:00:00Z"},
            {"type": "BackupComplete", "status": "True", "reason": "BackupSucceeded",
             "message": "Backup completed to backups/t/demo/on-demand-2026-12-07T030000Z",
             "lastTransitionTime": "2026-12-07T03:00:00Z"}
        ],
        "autoUpdate": {"currentVersion": "2026.9.6", "latestVersion": "2026.9.7", "updatePhase": "HealthCheck"}
    })
}

#[tokio::test]
async fn status_lists_and_describes_instances() {
    let Some(env) = setup("plugin-status").await else {
        return;
    };
    let ns = env.ns().to_string();
    env.instance(
        "demo",
        json!({"image": {"tag": "2026.9.6"}}),
        status_running(),
    )
    .await;
    env.instance("idle", json!({}), json!({"phase": "Provisioning"}))
        .await;
    env.event(
        "demo",
        "BackupStarted",
        "Backup Job demo-backup-now created",
        "2026-12-07T02:59:00Z",
        "Normal",
    )
    .await;
    env.event(
        "demo",
        "BackupComplete",
        "Backup completed to backups/t/demo/on-demand-2026-12-07T030000Z",
        "2026-12-07T03:00:00Z",
        "Normal",
    )
    .await;
    env.event(
        "demo",
        "Reconciled",
        "all objects applied",
        "2026-12-07T01:00:00Z",
        "Normal",
    )
    .await;
    env.event(
        "idle",
        "NotMine",
        "another instance's event",
        "2026-12-07T03:00:00Z",
        "Warning",
    )
    .await;

    let table = ok(&env.plugin(&["status"]).await);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "PHASE", "READY", "VERSION", "ENDPOINT", "LAST", "BACKUP", "AGE"
        ]
    );
    let demo: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        &demo[..5],
        ["demo", "Running", "True", "2026.9.6", "demo.x.svc:18789"],
        "{table}"
    );
    assert!(
        demo[5].ends_with('d') || demo[5].ends_with('h') || demo[5].ends_with('m'),
        "{table}"
    );
    assert_eq!(demo[6], "ago", "{table}");
    let idle: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        &idle[..6],
        [
            "idle",
            "Provisioning",
            "<none>",
            "latest",
            &format!("idle.{ns}.svc:18789"),
            "<none>"
        ]
    );

    // -A: the namespace column, our rows among everyone's.
    let all = ok(&env.plugin(&["status", "-A"]).await);
    assert!(all.starts_with("NAMESPACE "), "{all}");
    assert!(
        all.lines()
            .any(|l| l.split_whitespace().take(2).eq([ns.as_str(), "demo"])),
        "{all}"
    );

    let detail = ok(&env.plugin(&["status", "demo"]).await);
    for want in [
        "Name:           demo\n",
        &format!("Namespace:      {ns}\n"),
        "Phase:          Running\n",
        "Image:          ghcr.io/openclaw/openclaw:2026.9.6\n",
        "Gateway:        demo.x.svc:18789 (Service demo, port 18789)\n",
        "Token:          Secret demo-gateway-token, key token",
        "Last backup:    2026-12-07T03:00:00Z (",
        "backups/t/demo/on-demand-2026-12-07T030000Z\n",
        "Update:         phase HealthCheck, current 2026.9.6, latest 2026.9.7\n",
    ] {
        assert!(detail.contains(want), "{want:?} not in\n{detail}");
    }
    let conditions = detail.split("Conditions:\n").nth(1).unwrap();
    assert!(
        conditions.contains("Ready            True     PodReady"),
        "{detail}"
    );
    assert!(
        conditions.contains("BackupComplete   True     BackupSucceeded"),
        "{detail}"
    );
    // Only this instance's Events, oldest first.
    let events = detail.split("Events:\n").nth(1).unwrap();
    let reasons: Vec<&str> = events
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["Reconciled", "BackupStarted", "BackupComplete"],
        "{detail}"
    );

    let json: Value =
        serde_json::from_str(&ok(&env.plugin(&["status", "demo", "-o", "json"]).await)).unwrap();
    assert_eq!(json["status"]["phase"], "Running");
    let yaml = ok(&env.plugin(&["status", "-o", "yaml"]).await);
    assert!(
        yaml.contains("kind: List") && yaml.contains("name: idle"),
        "{yaml}"
    );

    let err = fails(&env.plugin(&["status", "missing"]).await);
    assert_eq!(
        err,
        format!("error: openclawinstance \"missing\" not found in namespace \"{ns}\"\n")
    );

    // An empty namespace: a note on stderr, nothing on stdout.
    let empty = env.cluster.namespace("plugin-empty").await.unwrap();
    let out = tokio::process::Command::new(BIN)
        .args(["status", "-n", empty.name()])
        .env("KUBECONFIG", env.cluster.kubeconfig_source())
        .output()
        .await
        .unwrap();
    assert_eq!(ok(&out), "");
    assert!(
        stderr(&out).contains("No OpenClawInstances found"),
        "{}",
        stderr(&out)
    );
    empty.cleanup().await.unwrap();
    env.ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn token_reads_the_gateway_secret() {
    let Some(env) = setup("plugin-token").await else {
        return;
    };
    let ns = env.ns().to_string();
    env.instance("demo", json!({}), json!({"phase": "Running"}))
        .await;
    env.instance(
        "byo",
        json!({"gateway": {"existingSecret": "my-token"}}),
        json!({}),
    )
    .await;
    env.instance("fresh", json!({}), json!({})).await;
    env.create::<Secret>(json!({"metadata": {"name": "demo-gateway-token"}, "stringData": {"token": "0123456789abcdef"}}))
        .await;
    env.create::<Secret>(
        json!({"metadata": {"name": "my-token"}, "stringData": {"token": "users-own\n"}}),
    )
    .await;

    assert_eq!(
        ok(&env.plugin(&["token", "demo"]).await),
        "0123456789abcdef\n"
    );
    assert_eq!(ok(&env.plugin(&["token", "byo"]).await), "users-own\n");

    let err = fails(&env.plugin(&["token", "fresh"]).await);
    assert!(
        err.starts_with(&format!(
            "error: secret \"fresh-gateway-token\" (the gateway token of openclawinstance \"fresh\") not found in namespace \"{ns}\": the operator creates it"
        )),
        "{err}"
    );
    let err = fails(&env.plugin(&["token", "nobody"]).await);
    assert_eq!(
        err,
        format!("error: openclawinstance \"nobody\" not found in namespace \"{ns}\"\n")
    );
    env.ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn backup_sets_the_annotation_and_waits_for_the_status() {
    let Some(env) = setup("plugin-backup").await else {
        return;
    };
    let ns = env.ns().to_string();
    env.instance("demo", json!({}), json!({"phase": "Running"}))
        .await;
    let api: Api<OpenClawInstance> = env.ns.api();

    let out = ok(&env.plugin(&["backup", "demo"]).await);
    let value = api.get("demo").await.unwrap().annotations()["openclaw.rocks/backup-now"].clone();
    assert!(value.ends_with('Z') && value.len() == 20, "{value}");
    assert_eq!(
        out,
        format!(
            "on-demand backup requested: openclawinstance \"demo\" annotated openclaw.rocks/backup-now={value}\n\
             follow it with: kubectl openclaw status demo -n {ns}   (BackupComplete condition, Events)\n"
        )
    );
    // The spec is untouched (no GitOps drift).
    assert_eq!(api.get("demo").await.unwrap().spec.restore_from, None);

    // --wait, with this test playing the operator: it answers the new value.
    let operator = {
        let api = api.clone();
        tokio::spawn(async move {
            loop {
                let i = api.get("demo").await.unwrap();
                let v = i.annotations().get("openclaw.rocks/backup-now").cloned();
                if let Some(v) = v.filter(|v| *v != value) {
                    api.patch_status("demo", &PatchParams::default(), &Patch::Merge(json!({"status": {
                        "lastBackupRequest": v,
                        "lastBackupPath": "backups/t/demo/on-demand-x",
                        "lastBackupTime": "2026-12-07T03:00:00Z",
                        "conditions": [{"type": "BackupComplete", "status": "True", "reason": "BackupSucceeded",
                            "message": "Backup completed to backups/t/demo/on-demand-x",
                            "lastTransitionTime": "2026-12-07T03:00:00Z"}],
                    }}))).await.unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    // A new value needs a new second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = ok(&env
        .plugin(&["backup", "demo", "--wait", "--timeout", "60"])
        .await);
    assert!(
        out.ends_with("backup completed: backups/t/demo/on-demand-x\n"),
        "{out}"
    );
    operator.await.unwrap();

    // Nobody answers: a timeout that says what it saw.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = fails(
        &env.plugin(&["backup", "demo", "--wait", "--timeout", "1"])
            .await,
    );
    assert!(
        err.starts_with(
            "error: timed out after 1s waiting for the backup (BackupComplete=True BackupSucceeded"
        ),
        "{err}"
    );
    env.ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn restore_sets_restore_from_after_confirmation() {
    let Some(env) = setup("plugin-restore").await else {
        return;
    };
    env.instance(
        "demo",
        json!({}),
        json!({"phase": "Running", "restoredFrom": "backups/t/demo/old"}),
    )
    .await;
    let api: Api<OpenClawInstance> = env.ns.api();
    let path = "backups/t/demo/2026-12-01T030000Z";

    // Declined (and no answer at all): nothing changes.
    for answer in ["n\n", ""] {
        let o = env
            .plugin_with_stdin(&["restore", "demo", "--from", path], answer)
            .await;
        let err = fails(&o);
        assert_eq!(
            err.lines().last(),
            Some("error: restore cancelled"),
            "{err}"
        );
        assert!(
            err.contains("files that are not in the backup are removed"),
            "{err}"
        );
        assert_eq!(api.get("demo").await.unwrap().spec.restore_from, None);
    }
    // Confirmed.
    let out = ok(&env
        .plugin_with_stdin(&["restore", "demo", "--from", path], "y\n")
        .await);
    assert!(
        out.starts_with(&format!(
            "restore requested: openclawinstance \"demo\" spec.restoreFrom={path}\n"
        )),
        "{out}"
    );
    assert_eq!(
        api.get("demo").await.unwrap().spec.restore_from.as_deref(),
        Some(path)
    );
    // --yes, another path.
    ok(&env
        .plugin(&[
            "restore",
            "demo",
            "--from",
            "backups/t/demo/periodic/snapshots/2026-12-02",
            "--yes",
        ])
        .await);
    assert_eq!(
        api.get("demo").await.unwrap().spec.restore_from.as_deref(),
        Some("backups/t/demo/periodic/snapshots/2026-12-02")
    );
    // A path already restored, and a URL.
    let err = fails(
        &env.plugin(&["restore", "demo", "--from", "backups/t/demo/old", "--yes"])
            .await,
    );
    assert!(
        err.contains("was already restored from backups/t/demo/old"),
        "{err}"
    );
    let err = fails(
        &env.plugin(&["restore", "demo", "--from", "s3://bucket/x", "--yes"])
            .await,
    );
    assert!(err.contains("not a URL"), "{err}");
    env.ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn selfconfig_lists_the_instances_requests() {
    let Some(env) = setup("plugin-selfconfig").await else {
        return;
    };
    env.instance("demo", json!({}), json!({})).await;
    env.instance("other", json!({}), json!({})).await;
    let sc = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("openclaw.rocks", "v1alpha1", "OpenClawSelfConfig"),
        "openclawselfconfigs",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(env.client(), env.ns(), &sc);
    for (name, instance, status) in [
        (
            "demo-sc-1",
            "demo",
            Some(json!({"phase": "Applied", "message": "applied: skills"})),
        ),
        (
            "demo-sc-2",
            "demo",
            Some(
                json!({"phase": "Denied", "message": "actions not allowed on instance demo: config"}),
            ),
        ),
        ("demo-sc-3", "demo", None),
        ("other-sc-1", "other", None),
    ] {
        let mut o = DynamicObject::new(name, &sc);
        o.data = json!({"spec": {"instanceRef": instance, "addSkills": ["weather"]}});
        api.create(&PostParams::default(), &o).await.unwrap();
        if let Some(status) = status {
            api.patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    let out = ok(&env.plugin(&["selfconfig", "demo"]).await);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "PHASE", "AGE", "MESSAGE"]);
    assert_eq!(rows.len(), 4, "{out}");
    assert_eq!((rows[1][0], rows[1][1]), ("demo-sc-1", "Applied"));
    assert!(
        out.lines().nth(1).unwrap().ends_with("applied: skills"),
        "{out}"
    );
    assert_eq!((rows[2][0], rows[2][1]), ("demo-sc-2", "Denied"));
    assert!(
        out.contains("actions not allowed on instance demo: config"),
        "{out}"
    );
    assert_eq!((rows[3][0], rows[3][1]), ("demo-sc-3", "Pending"));

    let none = env.plugin(&["selfconfig", "other"]).await;
    assert_eq!(ok(&none).lines().count(), 2);
    env.ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn completion_scripts_and_candidates() {
    let Some(env) = setup("plugin-complete").await else {
        return;
    };
    env.instance("alpha", json!({}), json!({})).await;
    env.instance("beta", json!({}), json!({})).await;
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef kubectl-openclaw"),
        ("fish", "complete -c kubectl-openclaw"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = ok(&env.plugin(&["completion", shell]).await);
        assert!(out.contains(marker), "{shell}: {out}");
    }
    let helper = ok(&env.plugin(&["completion", "kubectl"]).await);
    assert!(
        helper.starts_with("#!/bin/sh\n")
            && helper.contains("exec kubectl-openclaw __complete \"$@\"")
    );

    // kubectl's protocol: the words after the plugin name, the last being completed.
    let ns = env.ns().to_string();
    let run = |words: Vec<String>| {
        let kubeconfig = env.cluster.kubeconfig_source().to_string();
        async move {
            let o = tokio::process::Command::new(BIN)
                .arg("__complete")
                .args(words)
                .env("KUBECONFIG", kubeconfig)
                .output()
                .await
                .unwrap();
            ok(&o)
        }
    };
    let w = |s: &[&str]| s.iter().map(|x| (*x).to_string()).collect::<Vec<_>>();
    assert_eq!(run(w(&["token", "-n", &ns, ""])).await, "alpha\nbeta\n:4\n");
    assert_eq!(run(w(&["-n", &ns, "open", "b"])).await, "beta\n:4\n");
    let subs = run(w(&["s"])).await;
    assert!(subs.starts_with("status\tShow instances"), "{subs}");
    assert!(
        subs.contains("\nselfconfig\t") && subs.ends_with(":4\n"),
        "{subs}"
    );
    env.ns.cleanup().await.unwrap();
}

// -------------------------------------------------------- kubectl plugin --

/// The control plane's binaries (`cluster.env` next to the kubeconfig `cluster.sh` writes).
fn control_plane() -> Option<(PathBuf, PathBuf)> {
    let dir = testkit::default_kubeconfig_path().parent()?.to_path_buf();
    let env = std::fs::read_to_string(dir.join("cluster.env")).ok()?;
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(PathBuf::from)
    };
    Some((get("BIN")?, get("KWOK")?))
}

#[tokio::test]
async fn kubectl_finds_the_plugin() {
    let Some(env) = setup("plugin-kubectl").await else {
        return;
    };
    let Some((bin, _)) = control_plane() else {
        eprintln!("skipped: no local control plane (cluster.env) with kubectl");
        return;
    };
    env.instance(
        "demo",
        json!({"image": {"tag": "2026.9.6"}}),
        json!({"phase": "Running"}),
    )
    .await;
    let plugin_dir = Path::new(BIN).parent().unwrap();
    // The completion helper, as docs/kubectl-plugin.md installs it.
    let helper_dir = tempfile_dir(&format!("{}-complete", env.ns()));
    let helper = helper_dir.join("kubectl_complete-openclaw");
    std::fs::write(&helper, ok(&env.plugin(&["completion", "kubectl"]).await)).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}:{}:/usr/bin:/bin",
        plugin_dir.display(),
        helper_dir.display(),
        bin.display()
    );
    let kubectl = |args: Vec<String>| {
        let path = path.clone();
        let kubeconfig = env.cluster.kubeconfig_source().to_string();
        let kubectl = bin.join("kubectl");
        async move {
            tokio::process::Command::new(kubectl)
                .args(args)
                .env("PATH", path)
                .env("KUBECONFIG", kubeconfig)
                .output()
                .await
                .unwrap()
        }
    };
    // (Exit code 1 for the warning about cargo's `kubectl-openclaw.d` next to the binary.)
    let list = stdout(&kubectl(vec!["plugin".into(), "list".into()]).await);
    assert!(
        list.lines().any(|l| l.ends_with("/kubectl-openclaw")),
        "{list}"
    );
    let out = ok(&kubectl(vec![
        "openclaw".into(),
        "status".into(),
        "-n".into(),
        env.ns().into(),
    ])
    .await);
    assert!(
        out.lines().nth(1).unwrap().starts_with("demo   Running"),
        "{out}"
    );
    let o = kubectl(vec![
        "openclaw".into(),
        "status".into(),
        "nope".into(),
        "-n".into(),
        env.ns().into(),
    ])
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "error: openclawinstance \"nope\" not found in namespace \"{}\"\n",
            env.ns()
        )
    );
    // kubectl openclaw <TAB>: kubectl runs kubectl_complete-openclaw (kubectl 1.26+).
    let o = kubectl(vec![
        "__complete".into(),
        "openclaw".into(),
        "token".into(),
        "-n".into(),
        env.ns().into(),
        String::new(),
    ])
    .await;
    assert_eq!(ok(&o), "demo\n:4\n");
    let _ = std::fs::remove_dir_all(&helper_dir);
    env.ns.cleanup().await.unwrap();
}

// ------------------------------------------------------------ open, logs --

/// The objects the operator would make for the gateway: the Service `<name>` (gateway port
/// 18789 to the proxy's 18790) and a pod with the selector labels, on `node` (or scheduled).
async fn gateway_objects(env: &Env, name: &str, node: Option<&str>) {
    env.instance(name, json!({}), json!({"phase": "Running"}))
        .await;
    env.create::<Secret>(json!({"metadata": {"name": format!("{name}-gateway-token")}, "stringData": {"token": "t0k3n"}}))
        .await;
    let labels = json!({"app.kubernetes.io/name": "openclaw", "app.kubernetes.io/instance": name});
    env.create::<Service>(json!({
        "metadata": {"name": name},
        "spec": {"selector": labels, "ports": [
            {"name": "gateway", "port": 18789, "targetPort": 18790},
            {"name": "canvas", "port": 18793, "targetPort": 18794},
        ]},
    }))
    .await;
    let mut pod = json!({
        "metadata": {"name": format!("{name}-0"), "labels": labels},
        "spec": {
            "containers": [
                {"name": "openclaw", "image": "ghcr.io/openclaw/openclaw:2026.9.6"},
                {"name": "gateway-proxy", "image": "nginx", "ports": [{"containerPort": 18790}]},
            ],
            "tolerations": [{"key": PRIVATE_TAINT, "operator": "Exists"}],
        },
    });
    if let Some(node) = node {
        pod["spec"]["nodeName"] = json!(node);
    }
    env.create::<Pod>(pod).await;
    testkit::wait_for(
        &env.ns.api::<Pod>(),
        &format!("{name}-0"),
        |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"),
        TIMEOUT,
    )
    .await
    .expect("pod Running (kwok)");
}

#[tokio::test]
async fn open_and_logs_fail_readably_on_the_shared_kwok_nodes() {
    let Some(env) = setup("plugin-kwok").await else {
        return;
    };
    gateway_objects(&env, "demo", None).await;
    let pod = env.ns.api::<Pod>().get("demo-0").await.unwrap();
    let node = pod.spec.unwrap().node_name.unwrap();
    let node: Node = Api::<Node>::all(env.client()).get(&node).await.unwrap();
    if node
        .annotations()
        .get("kwok.x-k8s.io/node")
        .map(String::as_str)
        != Some("fake")
    {
        eprintln!("skipped: the pod is not on a shared kwok node");
        return;
    }
    // What kwok's nodes tell the API server: no kubelet port, an address of no host here.
    let daemon = node.status.unwrap().daemon_endpoints.unwrap();
    assert_eq!(daemon.kubelet_endpoint.unwrap().port, 0);

    let err = fails(&env.plugin(&["open", "demo", "--port", "0"]).await);
    assert!(
        err.starts_with("error: cannot port-forward to pod \"demo-0\" port 18790: "),
        "{err}"
    );
    let err = fails(&env.plugin(&["logs", "demo"]).await);
    assert!(
        err.starts_with(
            "error: cannot read the logs of container \"openclaw\" of pod \"demo-0\": "
        ),
        "{err}"
    );
    // No pod at all.
    env.instance("nopod", json!({}), json!({"phase": "Provisioning"}))
        .await;
    let err = fails(&env.plugin(&["logs", "nopod"]).await);
    assert!(
        err.starts_with("error: no running pod of openclawinstance \"nopod\""),
        "{err}"
    );
    env.ns.cleanup().await.unwrap();
}

const PRIVATE_TAINT: &str = "openclaw.dev/kubectl-plugin-test";

/// A node managed by a kwok process of this test only, whose kubelet endpoint the API server
/// can reach (127.0.0.1 and kwok's server port), serving port-forwards and logs from kwok's
/// `PortForward` and `Logs` objects. Tainted, so nobody else's pods land on it.
struct PrivateNode {
    name: String,
    kwok: tokio::process::Child,
    client: Client,
    kubectl: PathBuf,
    kubeconfig: String,
}

impl PrivateNode {
    async fn start(env: &Env, kwok_dir: &Path, bin: &Path) -> Self {
        for file in ["kwok.x-k8s.io_portforwards.yaml", "kwok.x-k8s.io_logs.yaml"] {
            let text = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(file),
            )
            .unwrap();
            let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).unwrap();
            // Installed, never removed: the cluster is shared and the CRDs are inert without
            // a kwok that enables them.
            testkit::install_crds(env.client(), &[crd], TIMEOUT)
                .await
                .unwrap();
        }
        let name = format!("{}-node", env.ns());
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"openclaw.dev/testkit": "true"}},
            "spec": {"taints": [{"key": PRIVATE_TAINT, "value": "true", "effect": "NoSchedule"}]},
        }))
        .unwrap();
        Api::<Node>::all(env.client())
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("{name}-kwok.log"))).unwrap();
        let kwok = tokio::process::Command::new(bin.join("kwok"))
            .arg(format!("--kubeconfig={}", env.cluster.kubeconfig_source()))
            .arg(format!(
                "--config={}",
                kwok_dir.join("stages.yaml").display()
            ))
            .arg(format!("--manage-single-node={name}"))
            .args([
                "--node-ip=127.0.0.1",
                "--cidr=10.251.0.0/16",
                "--node-lease-duration-seconds=40",
            ])
            .arg(format!("--node-port={port}"))
            .arg(format!("--server-address=127.0.0.1:{port}"))
            .arg("--enable-crds=PortForward,Logs")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let this = Self {
            name: name.clone(),
            kwok,
            client: env.client(),
            kubectl: bin.join("kubectl"),
            kubeconfig: env.cluster.kubeconfig_source().to_string(),
        };
        testkit::wait_for(
            &Api::<Node>::all(env.client()),
            &name,
            |n: &Node| {
                n.status
                    .as_ref()
                    .and_then(|s| s.daemon_endpoints.as_ref())
                    .and_then(|d| d.kubelet_endpoint.as_ref())
                    .is_some_and(|k| k.port == i32::from(port))
            },
            TIMEOUT,
        )
        .await
        .expect("the private kwok node reports its kubelet endpoint");
        // kwok reports the endpoint before its server listens.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return this;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("kwok's server does not listen on 127.0.0.1:{port}");
    }

    async fn stop(mut self) {
        let _ = self.kwok.kill().await;
        let _ = Api::<Node>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::default())
            .await;
    }
}

impl Drop for PrivateNode {
    fn drop(&mut self) {
        // After a failed assertion too (the test's runtime is blocked here: use kubectl).
        let _ = std::process::Command::new(&self.kubectl)
            .args([
                "delete",
                "node",
                &self.name,
                "--ignore-not-found",
                "--wait=false",
            ])
            .env("KUBECONFIG", &self.kubeconfig)
            .output();
    }
}

#[tokio::test]
async fn open_forwards_to_the_gateway_and_logs_stream_on_a_reachable_kwok_node() {
    let Some(env) = setup("plugin-open").await else {
        return;
    };
    let Some((bin, kwok_dir)) = control_plane() else {
        eprintln!("skipped: no local control plane (cluster.env) with kwok");
        return;
    };
    let node = PrivateNode::start(&env, &kwok_dir, &bin).await;

    // The "gateway": an HTTP server on loopback that names itself.
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_port = server.local_addr().unwrap().port();
    let serving = tokio::spawn(async move {
        loop {
            let (mut conn, _) = server.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let first = request.lines().next().unwrap_or_default().to_string();
                let body = format!("hello from the test gateway: {first}\n");
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });

    gateway_objects(&env, "demo", Some(&node.name)).await;
    // kwok: the pod's port 18790 (the Service's target port) goes to the test server.
    let kwok_res = |kind: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("kwok.x-k8s.io", "v1alpha1", kind),
            plural,
        )
    };
    let pf = kwok_res("PortForward", "portforwards");
    let mut o = DynamicObject::new("demo-0", &pf);
    o.data = json!({"spec": {"forwards": [{"ports": [18790], "target": {"address": "127.0.0.1", "port": server_port}}]}});
    Api::<DynamicObject>::namespaced_with(env.client(), env.ns(), &pf)
        .create(&PostParams::default(), &o)
        .await
        .unwrap();
    // kwok: the gateway container's log, in the CRI format a kubelet reads.
    let dir = tempfile_dir(env.ns());
    let current = dir.join("openclaw.log");
    let previous = dir.join("openclaw-previous.log");
    std::fs::write(
        &current,
        (1..=5)
            .map(|n| format!("2026-12-07T12:00:0{n}.000000000Z stdout F gateway line {n}\n"))
            .collect::<String>(),
    )
    .unwrap();
    std::fs::write(
        &previous,
        "2026-12-07T11:00:00.000000000Z stderr F crashed: out of memory\n",
    )
    .unwrap();
    let logs = kwok_res("Logs", "logs");
    let mut o = DynamicObject::new("demo-0", &logs);
    o.data = json!({"spec": {"logs": [{"containers": ["openclaw"], "logsFile": current, "previousLogsFile": previous}]}});
    Api::<DynamicObject>::namespaced_with(env.client(), env.ns(), &logs)
        .create(&PostParams::default(), &o)
        .await
        .unwrap();

    // kwok picks the objects up from its watch.
    let url = {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut child = tokio::process::Command::new(BIN)
                .args(["open", "demo", "--port", "0", "-n", env.ns()])
                .env("KUBECONFIG", env.cluster.kubeconfig_source())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
            let line = tokio::time::timeout(TIMEOUT, lines.next_line())
                .await
                .expect("open printed no URL")
                .unwrap();
            let Some(url) = line else {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .await
                    .unwrap();
                panic!("open exited: {err}");
            };
            assert!(
                url.starts_with("http://127.0.0.1:") && url.ends_with("/#token=t0k3n"),
                "{url}"
            );
            let addr = url
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap()
                .to_string();
            match http_get(&addr).await {
                Ok(body) if body.contains("hello from the test gateway") => {
                    assert!(
                        body.contains("hello from the test gateway: GET / HTTP/1.1"),
                        "{body}"
                    );
                    // A second connection through the same forward.
                    let again = http_get(&addr).await.unwrap();
                    assert!(again.contains("hello from the test gateway"), "{again}");
                    child.kill().await.unwrap();
                    break url;
                }
                other if attempt < 10 => {
                    eprintln!("attempt {attempt}: {other:?}");
                    child.kill().await.unwrap();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                other => panic!("no answer through the port-forward: {other:?}"),
            }
        }
    };
    eprintln!("forwarded: {url}");

    // --no-token.
    let mut child = tokio::process::Command::new(BIN)
        .args(["open", "demo", "--port", "0", "--no-token", "-n", env.ns()])
        .env("KUBECONFIG", env.cluster.kubeconfig_source())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        line.starts_with("http://127.0.0.1:") && line.ends_with('/'),
        "{line}"
    );
    // Ctrl-C ends it, with exit code 0.
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("open stops on SIGINT")
        .unwrap();
    assert!(status.success(), "{status}");

    // logs: all, --tail, --previous, another container.
    let out = ok(&env.plugin(&["logs", "demo"]).await);
    assert_eq!(
        out,
        (1..=5)
            .map(|n| format!("gateway line {n}\n"))
            .collect::<String>()
    );
    let out = ok(&env.plugin(&["logs", "demo", "--tail", "2"]).await);
    assert_eq!(out, "gateway line 4\ngateway line 5\n");
    let out = ok(&env.plugin(&["logs", "demo", "--previous"]).await);
    assert_eq!(out, "crashed: out of memory\n");
    let err = fails(&env.plugin(&["logs", "demo", "-c", "gateway-proxy"]).await);
    assert!(
        err.starts_with(
            "error: cannot read the logs of container \"gateway-proxy\" of pod \"demo-0\": "
        ),
        "{err}"
    );
    // -f: lines written later arrive.
    let mut child = tokio::process::Command::new(BIN)
        .args(["logs", "demo", "-f", "--tail", "1", "-n", env.ns()])
        .env("KUBECONFIG", env.cluster.kubeconfig_source())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.as_deref(), Some("gateway line 5"));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&current)
        .unwrap();
    std::io::Write::write_all(
        &mut f,
        b"2026-12-07T12:00:09.000000000Z stdout F gateway line 6\n",
    )
    .unwrap();
    let next = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .expect("-f streams new lines")
        .unwrap();
    assert_eq!(next.as_deref(), Some("gateway line 6"));
    child.kill().await.unwrap();

    serving.abort();
    // The pod first (at once: its kubelet goes away with the node), so that the namespace
    // does not wait for the pod garbage collector.
    env.ns
        .api::<Pod>()
        .delete(
            "demo-0",
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            },
        )
        .await
        .unwrap();
    node.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    env.ns.cleanup().await.unwrap();
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kubectl-openclaw-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `GET /` over plain TCP; the response, read up to its `content-length` (a port-forward
/// does not pass the server's close on as an end of stream).
async fn http_get(addr: &str) -> std::io::Result<String> {
    let mut conn = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    .map_err(std::io::Error::other)??;
    conn.write_all(
        format!("GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|n| n.trim().parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                return Ok(text);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::other(format!("timed out; got {text:?}")))??;
        if n == 0 {
            return Ok(text);
        }
        got.extend_from_slice(&buf[..n]);
    }
}
