//! The S3 harness and the job runner themselves: the server survives a kill and a restart with
//! its data, and a container runs with exactly its environment, its command line unchanged and
//! its volumes at their mount paths.
//!
//! Skipped without the tools of `hack/s3/build.sh` (unless `OPENCLAW_REQUIRE_S3` is set); the
//! runner test needs root for its mount namespace.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::json;
use testkit::jobrun::{self, Secrets};
use testkit::s3::S3Server;

fn run_ok(server: &S3Server, args: &[&str]) -> String {
    let output = server.rclone(args).output().unwrap();
    assert!(
        output.status.success(),
        "rclone {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn server_keeps_its_data_across_a_kill_and_a_restart() {
    let Some(tools) = testkit::s3::tools() else {
        return;
    };
    let mut server = S3Server::start_with(&tools).unwrap();
    assert!(server.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(server.access_key().len(), 20);
    assert!(server.root_dir().join(server.bucket()).is_dir());

    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("hello.txt"), "hello").unwrap();
    let src = format!("{}/", dir.path().display());
    run_ok(&server, &["copy", &src, &server.remote("x")]);
    // The POSIX backend keeps the object as a plain file.
    let stored = server.root_dir().join(server.bucket()).join("x/hello.txt");
    assert_eq!(fs::read_to_string(stored).unwrap(), "hello");

    server.stop();
    assert!(!server.is_running());
    let output = server
        .rclone(&[
            "lsf",
            &server.remote("x"),
            "--retries=1",
            "--low-level-retries=1",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success(), "rclone reached a stopped server");

    server.restart().unwrap();
    assert!(server.is_running());
    assert_eq!(
        run_ok(&server, &["lsf", &server.remote("x")]),
        "hello.txt\n"
    );

    // Wrong keys are refused.
    let refused = std::process::Command::new(tools.rclone())
        .env_clear()
        .args([
            "lsf",
            &server.remote("x"),
            "--retries=1",
            "--s3-provider=Other",
        ])
        .arg(format!("--s3-endpoint={}", server.endpoint()))
        .args(["--s3-access-key-id=wrong", "--s3-secret-access-key=wrong"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn runner_gives_the_exact_env_command_and_mounts() {
    let Some(tools) = testkit::s3::tools() else {
        return;
    };
    if !is_root() {
        eprintln!("SKIPPED runner test: needs root for the mount namespace");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    fs::write(data.path().join("in-volume.txt"), "from the volume").unwrap();
    let config = tempfile::tempdir().unwrap();
    fs::create_dir(config.path().join("sub")).unwrap();
    fs::write(config.path().join("sub/conf"), "sub path").unwrap();
    let mount_data = "/tmp/openclaw-jobrun-test/data";
    let mount_conf = "/tmp/openclaw-jobrun-test/data/conf";

    // The script prints its environment and argv, reads both mounts, and proves the read-only
    // one is read-only; `$$`, `$(UNDEFINED)` and `$(GREETING)` in the script are expanded
    // by the kubelet's rules before the shell sees them.
    let script = format!(
        "env | sort; printf '%s|' \"$0\" \"$@\"; echo; cat {mount_data}/in-volume.txt; echo; \
         cat {mount_conf}/conf; echo; touch {mount_data}/written; \
         if touch {mount_conf}/x 2>/dev/null; then echo conf-writable; else echo conf-ro; fi; \
         command -v rclone; echo '$$|$(UNDEFINED)|$(GREETING)'"
    );
    let pod: PodSpec = serde_json::from_value(json!({
        "containers": [{
            "name": "main",
            "command": ["sh", "-c", script],
            "args": ["zero", "$(GREETING) world", "$$(GREETING)", "a b"],
            "env": [
                {"name": "GREETING", "value": "hello"},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
                {"name": "COMBINED", "value": "$(GREETING)-$(TOKEN)"},
            ],
            "volumeMounts": [
                {"name": "data", "mountPath": mount_data},
                {"name": "config", "mountPath": mount_conf, "subPath": "sub", "readOnly": true},
            ],
        }],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "config", "emptyDir": {}}],
    }))
    .unwrap();
    let secrets = Secrets::from([(
        "s".to_owned(),
        BTreeMap::from([("token".to_owned(), b"s3cr3t".to_vec())]),
    )]);
    let volumes = BTreeMap::from([
        ("data".to_owned(), data.path().to_path_buf()),
        ("config".to_owned(), config.path().to_path_buf()),
    ]);
    let output = jobrun::run_container(&pod, "main", &secrets, &volumes, tools.bin_dir()).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let path = format!("PATH={}:{}", tools.bin_dir().display(), jobrun::SYSTEM_PATH);
    // Exactly the container's variables plus PATH; the shell itself adds only PWD (and SHLVL
    // for some shells), which `env` inside the script shows.
    let env: Vec<&str> = lines
        .iter()
        .copied()
        .take_while(|l| !l.contains('|'))
        .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_="))
        .collect();
    assert_eq!(
        env,
        [
            "COMBINED=hello-s3cr3t",
            "GREETING=hello",
            path.as_str(),
            "TOKEN=s3cr3t"
        ]
    );
    let rest: Vec<&str> = lines
        .iter()
        .copied()
        .skip_while(|l| !l.contains('|'))
        .collect();
    assert_eq!(
        rest,
        [
            "zero|hello world|$(GREETING)|a b|",
            "from the volume",
            "sub path",
            "conf-ro",
            tools.rclone().to_str().unwrap(),
            "$|$(UNDEFINED)|hello",
        ]
    );
    // Writes land in the local directory; nothing is mounted outside the namespace.
    assert!(data.path().join("written").is_file());
    assert!(!Path::new(mount_data).join("in-volume.txt").exists());
}

#[test]
fn runner_runs_as_the_security_contexts_identity() {
    let Some(tools) = testkit::s3::tools() else {
        return;
    };
    if !is_root() {
        eprintln!("SKIPPED runner identity test: needs root");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let pod: PodSpec = serde_json::from_value(json!({
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1001, "fsGroup": 2000, "supplementalGroups": [3000]},
        "containers": [{
            "name": "main",
            "command": ["sh", "-c", "id -u; id -g; id -G; grep CapEff /proc/self/status; touch /tmp/openclaw-jobrun-id/data/x"],
            "volumeMounts": [{"name": "data", "mountPath": "/tmp/openclaw-jobrun-id/data"}],
        }],
        "volumes": [{"name": "data", "emptyDir": {}}],
    }))
    .unwrap();
    let volumes = BTreeMap::from([("data".to_owned(), data.path().to_path_buf())]);
    let output =
        jobrun::run_container(&pod, "main", &Secrets::new(), &volumes, tools.bin_dir()).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..3], ["1000", "1001", "1001 2000 3000"], "{stdout}");
    assert_eq!(lines[3].split_whitespace().nth(1), Some("0000000000000000"));
    // The volume is used as it is (no fsGroup ownership change): root's directory refuses.
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Permission denied"));
}
