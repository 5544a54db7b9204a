//! The rendered state-migration Job run for real, between two real OpenClaw versions.
//!
//! 1. **Old state.** The instance as it runs OpenClaw [`OLD`] (2026.5.18: device identity,
//!    update check and config health as JSON files, task runs in `tasks/runs.sqlite`): its
//!    rendered `init-config` writes `openclaw.json` onto a volume, and a real [`OLD`] gateway runs
//!    on it as the pod's user until ready, then is killed.
//! 2. **The Job.** The Job rendered for the upgrade to [`NEW`] (2026.9.6) runs its two containers
//!    in order with `testkit::jobrun` (the kubelet stand-in: exact command line, environment,
//!    user and groups, volume mounts as bind mounts in a private mount namespace; root needed):
//!    `init-config`, then `migrate` (`node /app/openclaw.mjs doctor --fix --non-interactive`).
//! 3. **Proof.** The legacy sources are gone or archived, the device identity is the same one,
//!    now in `state/openclaw.sqlite` (`device_identities`, with a completed `migration_runs`
//!    row), and a real [`NEW`] gateway on the migrated volume gets ready with nothing left to
//!    migrate.
//!
//! Stand-ins (no container images here): the new image's file system is the cached npm install
//! of [`NEW`], bind-mounted read-only where the image has it: the package at `/app` (the image's
//! `WORKDIR`, holding `openclaw.mjs`) and the install's `node_modules` at `/node_modules`, where
//! Node's module lookup from `/app` finds the hoisted dependencies (the image has them in
//! `/app/node_modules`); `node` is the pinned Node on `PATH`. The test adds these two mounts (and
//! their `hostPath` volumes) to the rendered pod; nothing rendered is changed. The ConfigMaps are
//! folders holding their keys. The gateways run with `testkit::openclaw::start_gateway_as` (same
//! user, the volume at `~/.openclaw`, the rendered `OPENCLAW_CONFIG_PATH`).
//!
//! What was observed (2026.9.6 on a 2026.5.18 state, see `the_new_gateway_migrates_by_itself`):
//! the 2026.9.6 gateway *also* gets ready on the unmigrated volume: it runs the same legacy state
//! migrations itself at startup (its log shows "Migrated primary device identity to SQLite").
//! The Job moves that one-way step out of the gateway's start into a visible, separately failing
//! step; it is not needed for readiness with this state.
//!
//! Failure: doctor exits 1 when it cannot repair (an unparseable `openclaw.json`: "not
//! parseable and cannot be repaired automatically", the file left as it was; a read-only data
//! volume: "Doctor stopped because a state migration refused to continue"), and the Job's
//! container exits with that code (no shell in between); with a read-only data volume the Job
//! already fails in `init-config` (exit 1).
//!
//! Skipped unless root (with `unshare`, `setpriv`) and both runtimes are installed
//! (`hack/openclaw/install.sh`); `OPENCLAW_REQUIRE_RUNTIME=1` turns a missing runtime into a
//! failure.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt as _, chown};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, HostPathVolumeSource, PodSpec, Volume, VolumeMount};
use openclaw_render::migration::CONTAINER;
use openclaw_render::model::Model;
use openclaw_render::{Object, Rendered, migration_job, migration_job_name};
use serde_json::{Value, json};
use testkit::jobrun;
use testkit::openclaw::{self, GATEWAY_PORT, OpenClaw, PodUser};

/// The version whose state is migrated.
const OLD: &str = "2026.5.18";
/// The version upgraded to.
const NEW: &str = "2026.9.6";
/// The rendered pod's user: `runAsUser`, `runAsGroup` and `fsGroup` 1000.
const USER: PodUser = PodUser {
    uid: 1000,
    gid: 1000,
    fs_group: 1000,
};
const READY_TIMEOUT: Duration = Duration::from_secs(180);

fn runtimes() -> Option<(OpenClaw, OpenClaw)> {
    if let Err(why) = openclaw::can_run_as_user() {
        eprintln!("migration tests skipped: {why} (they run the Job's containers like a kubelet)");
        return None;
    }
    Some((openclaw::runtime(OLD)?, openclaw::runtime(NEW)?))
}

fn give(path: &Path, uid: u32, gid: u32, mode: u32) {
    chown(path, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn instance(version: &str) -> openclaw_api::OpenClawInstance {
    minimal_with(json!({"image": {"tag": version}}))
}

/// The folders standing for an instance's volumes, outside `/tmp` (the Job mounts its own
/// `/tmp`, which would hide them from the mounts that follow).
struct Volumes {
    dir: tempfile::TempDir,
    /// The data PVC: root-owned `2775` with the fsGroup, as the kubelet leaves it.
    data: PathBuf,
    /// A `HOME` for the gateways (the volume is bind-mounted at `<home>/.openclaw`).
    home: PathBuf,
}

impl Volumes {
    fn new() -> Volumes {
        let dir = tempfile::Builder::new()
            .prefix("migration-")
            // Not CARGO_TARGET_TMPDIR: the gateway runs as uid 1000, which cannot traverse a
            // target dir under /root (mode 0700). Not /tmp either: the job runner mounts over
            // it (`testkit::jobrun`).
            .tempdir_in("/var/tmp")
            .unwrap();
        give(dir.path(), 0, 0, 0o755);
        let data = dir.path().join("data");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(home.join(".openclaw")).unwrap();
        give(&data, 0, USER.fs_group, 0o2775);
        give(&home, USER.uid, USER.gid, 0o755);
        give(&home.join(".openclaw"), USER.uid, USER.gid, 0o755);
        Volumes { dir, data, home }
    }

    /// A fresh folder for a pod volume (ConfigMap contents, an emptyDir).
    fn folder(&self, name: &str, mode: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        give(&path, 0, 0, mode);
        path
    }

    /// A ConfigMap as the kubelet projects it: one file per key.
    fn config_map(&self, name: &str, cm: &ConfigMap) -> PathBuf {
        let dir = self.folder(name, 0o755);
        for (key, value) in cm.data.iter().flatten() {
            let file = dir.join(key);
            std::fs::write(&file, value).unwrap();
            give(&file, 0, 0, 0o644);
        }
        dir
    }

    fn data(&self, rel: &str) -> PathBuf {
        self.data.join(rel)
    }

    /// The gateway with the rendered environment, as the pod's user, on this volume.
    fn start_gateway(&self, oc: &OpenClaw, rendered: &Rendered) -> openclaw::Gateway {
        let main = container(statefulset(rendered), "openclaw").unwrap();
        let config_path = main
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "OPENCLAW_CONFIG_PATH")
            .and_then(|e| e.value.clone())
            .unwrap();
        let env = vec![
            (
                "OPENCLAW_CONFIG_PATH".to_owned(),
                config_path.replacen("/home/openclaw", &self.home.to_string_lossy(), 1),
            ),
            ("OPENCLAW_GATEWAY_TOKEN".to_owned(), TOKEN.to_owned()),
        ];
        let binds = vec![(self.data.clone(), self.home.join(".openclaw"))];
        oc.start_gateway_as(USER, &binds, &self.home, &env)
            .unwrap_or_else(|e| panic!("{}: {e}", oc.version()))
    }
}

/// The Secrets the pod reads: the gateway token and the sample's (empty) provider keys.
fn secrets() -> jobrun::Secrets {
    BTreeMap::from([
        (
            "demo-gateway-token".to_owned(),
            BTreeMap::from([("token".to_owned(), TOKEN.as_bytes().to_vec())]),
        ),
        ("openclaw-api-keys".to_owned(), BTreeMap::new()),
    ])
}

fn config_map_named<'a>(rendered: &'a Rendered, name: &str) -> &'a ConfigMap {
    rendered
        .iter()
        .find_map(|o| match o {
            Object::ConfigMap(c) if c.metadata.name.as_deref() == Some(name) => Some(c),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ConfigMap {name}"))
}

/// The local folders of the pod's volumes (ConfigMaps from `rendered`).
fn volume_dirs(v: &Volumes, rendered: &Rendered, tag: &str) -> BTreeMap<String, PathBuf> {
    BTreeMap::from([
        ("data".to_owned(), v.data.clone()),
        (
            "config".to_owned(),
            v.config_map(
                &format!("config-{tag}"),
                config_map_named(rendered, "demo-config"),
            ),
        ),
        (
            "workspace-init".to_owned(),
            v.config_map(
                &format!("workspace-{tag}"),
                config_map_named(rendered, "demo-workspace"),
            ),
        ),
        ("tmp".to_owned(), v.folder(&format!("tmp-{tag}"), 0o1777)),
    ])
}

/// Adds the stand-in of the new image's file system to the Job's pod (see the module docs).
fn with_image_files(pod: &mut PodSpec, oc: &OpenClaw, dirs: &mut BTreeMap<String, PathBuf>) {
    for (name, source, target) in [
        ("image-app", oc.dir().join("node_modules/openclaw"), "/app"),
        (
            "image-node-modules",
            oc.dir().join("node_modules"),
            "/node_modules",
        ),
    ] {
        dirs.insert(name.to_owned(), source.clone());
        pod.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: name.to_owned(),
            host_path: Some(HostPathVolumeSource {
                path: source.to_string_lossy().into_owned(),
                type_: None,
            }),
            ..Default::default()
        });
        let migrate = pod
            .containers
            .iter_mut()
            .find(|c| c.name == CONTAINER)
            .unwrap();
        migrate
            .volume_mounts
            .get_or_insert_with(Vec::new)
            .push(VolumeMount {
                name: name.to_owned(),
                mount_path: target.to_owned(),
                read_only: Some(true),
                ..Default::default()
            });
    }
}

/// The Job's pod for the upgrade to `oc`, with the image stand-in, and its volume folders.
fn job_pod(v: &Volumes, oc: &OpenClaw) -> (PodSpec, BTreeMap<String, PathBuf>) {
    let instance = instance(oc.version());
    let observed = observed();
    let rendered = render_ok(&instance, &observed);
    let m = Model::new(&instance, &observed).unwrap();
    let job = migration_job(
        &m,
        &format!("ghcr.io/openclaw/openclaw:{}", oc.version()),
        &migration_job_name(&m.name, oc.version()),
    )
    .unwrap();
    let mut pod = job.spec.unwrap().template.spec.unwrap();
    let mut dirs = volume_dirs(v, &rendered, "job");
    with_image_files(&mut pod, oc, &mut dirs);
    (pod, dirs)
}

fn run(pod: &PodSpec, name: &str, dirs: &BTreeMap<String, PathBuf>, oc: &OpenClaw) -> Output {
    jobrun::run_container(pod, name, &secrets(), dirs, oc.node_bin())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The old instance's pod start on the volume: its `init-config`, then its gateway until ready.
fn run_old_instance(v: &Volumes, oc: &OpenClaw) {
    let rendered = render_ok(&instance(oc.version()), &observed());
    let pod = statefulset(&rendered)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .clone()
        .unwrap();
    let dirs = volume_dirs(v, &rendered, "old");
    let out = run(&pod, "init-config", &dirs, oc);
    assert!(out.status.success(), "old init-config: {}", text(&out));
    let mut gateway = v.start_gateway(oc, &rendered);
    let ready = gateway
        .wait_ready(GATEWAY_PORT, READY_TIMEOUT)
        .unwrap_or_else(|e| panic!("{OLD}: {e}\n{}", gateway.log()));
    assert_eq!(ready["ready"], true);
    // Its last writes after `ready` (the update check).
    std::thread::sleep(Duration::from_secs(2));
    gateway.kill();
}

/// Rows of the new shared state database, read with the pinned Node's `node:sqlite`.
fn sqlite_rows(oc: &OpenClaw, db: &Path, sql: &str) -> Vec<Value> {
    let script = "const {DatabaseSync} = require('node:sqlite');\
        const db = new DatabaseSync(process.argv[1], {readOnly: true});\
        console.log(JSON.stringify(db.prepare(process.argv[2]).all()));";
    let out = std::process::Command::new(oc.node_bin().join("node"))
        .args(["-e", script])
        .arg(db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn device_id(v: &Volumes) -> String {
    let identity: Value =
        serde_json::from_str(&std::fs::read_to_string(v.data("identity/device.json")).unwrap())
            .unwrap();
    identity["deviceId"].as_str().unwrap().to_owned()
}

#[test]
fn the_job_migrates_an_old_state_and_the_new_gateway_gets_ready() {
    let Some((old, new)) = runtimes() else { return };
    // Doctor checks the gateway port too: no other test's gateway may answer meanwhile.
    let _ports = openclaw::lock_ports().unwrap();
    let v = Volumes::new();
    let started = Instant::now();

    run_old_instance(&v, &old);
    let old_device = device_id(&v);
    assert!(!v.data("state/openclaw.sqlite").exists());
    assert!(v.data("update-check.json").exists());
    let old_done = started.elapsed();

    // The Job: init-config, then doctor, both from the new image.
    let (pod, dirs) = job_pod(&v, &new);
    let job_started = Instant::now();
    let init = run(&pod, "init-config", &dirs, &new);
    assert!(init.status.success(), "init-config: {}", text(&init));
    let doctor = run(&pod, CONTAINER, &dirs, &new);
    let doctor_log = text(&doctor);
    assert_eq!(doctor.status.code(), Some(0), "doctor: {doctor_log}");
    let job_took = job_started.elapsed();
    assert!(doctor_log.contains("Doctor complete"), "{doctor_log}");
    assert!(
        doctor_log.contains("Migrated primary device identity to SQLite"),
        "{doctor_log}"
    );

    // What doctor changed: the legacy JSON state is imported into the shared SQLite state and
    // its sources removed or archived.
    assert!(!v.data("identity/device.json").exists());
    assert!(v.data("update-check.json.migrated").exists());
    assert!(!v.data("update-check.json").exists());
    assert!(v.data("tasks/runs.sqlite.migrated").exists());
    let db = v.data("state/openclaw.sqlite");
    let identities = sqlite_rows(
        &new,
        &db,
        "select identity_key, device_id from device_identities",
    );
    assert_eq!(
        identities,
        [json!({"identity_key": "primary", "device_id": old_device})],
        "the device identity survives the migration"
    );
    let runs = sqlite_rows(&new, &db, "select id, status from migration_runs");
    assert!(
        runs.iter().any(|r| r["status"] == "completed"
            && r["id"]
                .as_str()
                .unwrap()
                .starts_with("device-identity-json:")),
        "{runs:?}"
    );
    // Written as the pod's user (the new gateway runs as that user too).
    let meta = std::fs::metadata(&db).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), USER.uid);

    // The new gateway on the migrated volume: ready, with nothing left to migrate.
    let new_rendered = render_ok(&instance(NEW), &observed());
    let gateway_started = Instant::now();
    let mut gateway = v.start_gateway(&new, &new_rendered);
    let ready = gateway
        .wait_ready(GATEWAY_PORT, READY_TIMEOUT)
        .unwrap_or_else(|e| panic!("{NEW}: {e}\n{}", gateway.log()));
    assert_eq!(ready["ready"], true);
    let log = gateway.log();
    assert!(!log.contains("Migrated primary device identity"), "{log}");
    assert!(!log.contains("Auto-migrated legacy state"), "{log}");
    let ready_after = gateway_started.elapsed();
    gateway.kill();
    assert_eq!(
        sqlite_rows(&new, &db, "select device_id from device_identities"),
        [json!({"device_id": old_device})]
    );
    eprintln!(
        "{OLD} state written in {old_done:?}; migration Job ({NEW}: init-config + doctor) took \
         {job_took:?}; {NEW} gateway ready after {ready_after:?}; total {:?}",
        started.elapsed()
    );
}

/// The control experiment: the new gateway on the old, unmigrated state. Observed with
/// 2026.9.6: it gets ready, migrating the legacy state itself at startup. If a version starts
/// refusing readiness here, this test fails and says so (then the Job is required, not only
/// better).
#[test]
fn the_new_gateway_migrates_by_itself() {
    let Some((old, new)) = runtimes() else { return };
    let _ports = openclaw::lock_ports().unwrap();
    let v = Volumes::new();
    run_old_instance(&v, &old);
    let old_device = device_id(&v);
    let rendered = render_ok(&instance(NEW), &observed());
    // Its own init-config first, as the new pod would run it.
    let pod = statefulset(&rendered)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .clone()
        .unwrap();
    let dirs = volume_dirs(&v, &rendered, "new");
    let out = run(&pod, "init-config", &dirs, &new);
    assert!(out.status.success(), "{}", text(&out));
    let mut gateway = v.start_gateway(&new, &rendered);
    let ready = gateway.wait_ready(GATEWAY_PORT, READY_TIMEOUT).unwrap_or_else(|e| {
        panic!("{NEW} no longer gets ready on an unmigrated {OLD} state: the migration Job is required: {e}")
    });
    assert_eq!(ready["ready"], true);
    let log = gateway.log();
    gateway.kill();
    assert!(
        log.contains("Migrated primary device identity to SQLite"),
        "the gateway migrated at startup: {log}"
    );
    assert_eq!(
        sqlite_rows(
            &new,
            &v.data("state/openclaw.sqlite"),
            "select device_id from device_identities"
        ),
        [json!({"device_id": old_device})]
    );
}

#[test]
fn a_failing_migration_fails_the_job() {
    let Some((_, new)) = runtimes() else { return };
    let _ports = openclaw::lock_ports().unwrap();

    // doctor cannot repair an unparseable openclaw.json: it exits 1, and so does the container.
    let v = Volumes::new();
    let config_dir = v.data("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    give(&config_dir, USER.uid, USER.fs_group, 0o2775);
    std::fs::write(config_dir.join("openclaw.json"), "{ this is not json").unwrap();
    give(
        &config_dir.join("openclaw.json"),
        USER.uid,
        USER.fs_group,
        0o664,
    );
    let (pod, dirs) = job_pod(&v, &new);
    let doctor = run(&pod, CONTAINER, &dirs, &new);
    let log = text(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{log}");
    assert!(log.contains("not parseable"), "{log}");
    assert_eq!(
        std::fs::read_to_string(config_dir.join("openclaw.json")).unwrap(),
        "{ this is not json",
        "left as it was"
    );

    // A read-only data volume: the Job fails in init-config (before doctor), non-zero.
    let v = Volumes::new();
    let (mut pod, dirs) = job_pod(&v, &new);
    for c in pod
        .init_containers
        .iter_mut()
        .flatten()
        .chain(pod.containers.iter_mut())
    {
        for m in c.volume_mounts.iter_mut().flatten() {
            if m.name == "data" {
                m.read_only = Some(true);
            }
        }
    }
    let init = run(&pod, "init-config", &dirs, &new);
    assert_eq!(init.status.code(), Some(1), "{}", text(&init));
    assert!(
        text(&init).contains("openclaw-operator: "),
        "{}",
        text(&init)
    );
    // doctor alone on it refuses too (its first state step cannot create `state/`), exit 1.
    let doctor = run(&pod, CONTAINER, &dirs, &new);
    let log = text(&doctor);
    assert_eq!(doctor.status.code(), Some(1), "{log}");
    assert!(
        log.contains("Doctor stopped because a state migration refused to continue"),
        "{log}"
    );
}
