//! Real volumes (Go operator #607): on real clusters the data volume's root directory is owned by
//! root, and the kubelet only applies `fsGroup` (group ownership, setgid, group-writable). The
//! pod runs as UID 1000. OpenClaw 2026.9 `fchmod`s the folder of its config file whenever it
//! writes the config (a Control UI save, `openclaw config set`, `openclaw doctor --fix`), which
//! only the folder's owner may do: with the config at the volume's root (the Go operator's
//! layout) every such write fails with `EPERM`.
//!
//! For every version in the matrix, with the real OpenClaw running as UID 1000 (GID 1000, fsGroup
//! 2000) on a root-owned 2775 volume root that already holds an instance's data:
//! - **reproduced**: with the config at the volume's root, `openclaw config set` fails with
//!   `EPERM ... fchmod` on 2026.9 and later (and works on older versions);
//! - **fixed**: the rendered `init-config` program (run as the pod's user) puts the config in
//!   `config/` on the volume, a folder the pod's user owns; a real gateway started with the
//!   rendered environment (`OPENCLAW_CONFIG_PATH`) gets ready, `openclaw config set` and
//!   `openclaw doctor --fix` succeed, and the instance's existing data is where it was.
//!
//! Needs root, `unshare` and `setpriv` (to bind-mount and switch users the way a kubelet would);
//! skipped otherwise with the reason, and when `hack/openclaw/install.sh` has not run.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::os::unix::fs::{PermissionsExt as _, chown};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::json;
use testkit::openclaw::{self, OpenClaw, PodUser, Program};

const USER: PodUser = PodUser {
    uid: 1000,
    gid: 1000,
    fs_group: 2000,
};
const TOKEN: &str = "volume-token";

/// A volume root as a real provisioner and the kubelet leave it (`root:<fsGroup>`, `2775`),
/// holding an existing instance's data written by the pod's user: a config at the root (the Go
/// operator's layout) and a session file.
struct Volume {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
}

fn give(path: &Path, uid: u32, gid: u32, mode: u32) {
    chown(path, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Volume {
    fn new(config_at_root: &str) -> Volume {
        let dir = tempfile::Builder::new()
            .prefix("volume-ownership-")
            .tempdir()
            .unwrap();
        give(dir.path(), 0, 0, 0o755);
        let root = dir.path().join("volume");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(home.join(".openclaw")).unwrap();
        give(&home, USER.uid, USER.gid, 0o755);
        give(&home.join(".openclaw"), USER.uid, USER.gid, 0o755);
        // The kubelet's fsGroup: root stays the owner.
        give(&root, 0, USER.fs_group, 0o2775);
        let data = [
            ("openclaw.json", config_at_root),
            (
                "agents/main/sessions/existing.jsonl",
                "{\"role\":\"user\"}\n",
            ),
        ];
        for (rel, content) in data {
            let path = root.join(rel);
            let mut made = Vec::new();
            let mut parent = path.parent();
            while let Some(p) = parent
                && p != root
            {
                made.push(p.to_path_buf());
                parent = p.parent();
            }
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            for d in made {
                give(&d, USER.uid, USER.fs_group, 0o2775);
            }
            std::fs::write(&path, content).unwrap();
            give(&path, USER.uid, USER.fs_group, 0o664);
        }
        Volume {
            _dir: dir,
            root,
            home,
        }
    }

    /// The volume mounted where the pod mounts it: `~/.openclaw`.
    fn binds(&self) -> Vec<(PathBuf, PathBuf)> {
        vec![(self.root.clone(), self.home.join(".openclaw"))]
    }

    fn run(&self, oc: &OpenClaw, env: &[(String, String)], args: &[&str]) -> (bool, String) {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = oc
            .command_as(
                USER,
                &self.binds(),
                &self.home,
                env,
                Program::OpenClaw,
                &args,
            )
            .unwrap()
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn existing_data_is_intact(&self) {
        assert_eq!(
            std::fs::read_to_string(self.root.join("agents/main/sessions/existing.jsonl")).unwrap(),
            "{\"role\":\"user\"}\n"
        );
    }
}

fn fchmod_since(version: &str) -> bool {
    openclaw_versions::Version::parse(version)
        .is_some_and(|v| v >= openclaw_versions::Version::new(2026, 9, 0))
}

fn ready() -> Option<Vec<OpenClaw>> {
    if let Err(why) = openclaw::can_run_as_user() {
        eprintln!("volume ownership tests skipped: {why} (they switch users like a kubelet)");
        return None;
    }
    openclaw::runtimes()
}

#[test]
fn the_go_operators_layout_fails_on_a_root_owned_volume() {
    let Some(runtimes) = ready() else { return };
    let config = json!({"gateway": {"mode": "local", "bind": "loopback", "port": 18789,
        "auth": {"mode": "token", "token": TOKEN}}})
    .to_string();
    for oc in &runtimes {
        let volume = Volume::new(&config);
        let (ok, out) = volume.run(oc, &[], &["config", "set", "gateway.port", "18790"]);
        if fchmod_since(oc.version()) {
            assert!(
                !ok && out.contains("EPERM") && out.contains("fchmod"),
                "{}: expected the #607 failure, got ok={ok}: {out}",
                oc.version()
            );
        } else {
            assert!(ok, "{}: {out}", oc.version());
        }
        volume.existing_data_is_intact();
    }
}

#[test]
fn the_rendered_layout_works_on_a_root_owned_volume_and_keeps_the_data() {
    let Some(runtimes) = ready() else { return };
    for oc in &runtimes {
        let r = render_ok(
            &minimal_with(
                json!({"image": {"tag": oc.version()}, "config": {"mergeMode": "merge"}}),
            ),
            &observed(),
        );
        let rendered_config = openclaw_json(&r);
        // The existing instance's config: the Go operator's, with a key the user set.
        let mut existing = rendered_config.clone();
        existing["agents"] =
            json!({"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-5"}}});
        let volume = Volume::new(&existing.to_string());

        // init-config, as rendered, as the pod's user (paths mapped to this volume).
        let sts = statefulset(&r);
        let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let init = pod
            .init_containers
            .iter()
            .flatten()
            .find(|c| c.name == "init-config")
            .expect("init-config");
        let command = init.command.clone().unwrap();
        assert_eq!(&command[..2], ["node", "-e"]);
        let config_dir = tempfile::tempdir().unwrap();
        give(config_dir.path(), 0, 0, 0o755);
        let config_file = config_dir.path().join("openclaw.json");
        std::fs::write(
            &config_file,
            serde_json::to_string_pretty(&rendered_config).unwrap(),
        )
        .unwrap();
        give(&config_file, 0, 0, 0o644);
        // mode, forcePaths, /data, /config/openclaw.json (no workspace seeding here).
        let args = vec![
            command[3].clone(),
            command[4].clone(),
            volume.root.to_string_lossy().into_owned(),
            config_file.to_string_lossy().into_owned(),
        ];
        let out = oc
            .command_as(
                USER,
                &[],
                &volume.home,
                &[],
                Program::NodeEval(&command[2]),
                &args,
            )
            .unwrap()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: init-config: {out:?}",
            oc.version()
        );
        let meta = std::fs::metadata(volume.root.join("config")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), USER.uid);
        let applied: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(volume.root.join("config/openclaw.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            applied["agents"]["defaults"]["model"]["primary"],
            "anthropic/claude-sonnet-4-5",
            "{}: merge mode started from the existing config",
            oc.version()
        );

        // The gateway with the rendered environment (HOME mapped to the scratch home).
        let main = container(sts, "openclaw").unwrap();
        let config_path = main
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "OPENCLAW_CONFIG_PATH")
            .and_then(|e| e.value.clone())
            .expect("OPENCLAW_CONFIG_PATH");
        let mapped = config_path.replacen("/home/openclaw", &volume.home.to_string_lossy(), 1);
        let env = vec![
            ("OPENCLAW_CONFIG_PATH".to_owned(), mapped),
            ("OPENCLAW_GATEWAY_TOKEN".to_owned(), TOKEN.to_owned()),
        ];
        {
            let mut gateway = oc
                .start_gateway_as(USER, &volume.binds(), &volume.home, &env)
                .unwrap_or_else(|e| panic!("{}: {e}", oc.version()));
            let ready = gateway
                .wait_ready(openclaw::GATEWAY_PORT, Duration::from_secs(120))
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", oc.version(), gateway.log()));
            assert_eq!(ready["ready"], true, "{}", oc.version());
        }
        for args in [
            &["config", "set", "gateway.port", "18790"][..],
            &["doctor", "--fix", "--non-interactive"][..],
        ] {
            let (ok, out) = volume.run(oc, &env, args);
            assert!(ok, "{} {args:?}: {out}", oc.version());
            assert!(!out.contains("fchmod"), "{} {args:?}: {out}", oc.version());
            if args[0] == "doctor" {
                assert!(out.contains("Doctor complete"), "{}: {out}", oc.version());
                // What remains is advice, not a failure: doctor would like the state directory
                // itself at mode 700, which only root may do to a root-owned volume root (the
                // group bits are how fsGroup volumes work).
                for line in out.lines().filter(|l| l.contains("EPERM")) {
                    assert!(
                        line.contains("Failed to read ~/.openclaw permissions"),
                        "{}: {line}",
                        oc.version()
                    );
                }
            }
        }
        volume.existing_data_is_intact();
        assert!(
            volume.root.join("openclaw.json").exists(),
            "the Go operator's file stays"
        );
    }
}
