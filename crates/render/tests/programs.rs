//! The Node programs of the pod, run for real with the local `node` (skipped when there is
//! none): `init-config` and the postStart hook exactly as rendered (with the mount paths moved to
//! a scratch folder), and the probes against a small HTTP server.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use openclaw_render::Rendered;
use serde_json::{Value, json};

fn node() -> bool {
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("no node on PATH; skipped");
    }
    ok
}

/// A pod's volumes in a scratch folder: `data` (the PVC), `config` and `workspace-init` (the
/// two ConfigMaps as the kubelet mounts them).
struct Pod {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    workspace: PathBuf,
}

fn write_config_map(dir: &Path, data: &BTreeMap<String, String>) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    for (k, v) in data {
        std::fs::write(dir.join(k), v).unwrap();
    }
}

impl Pod {
    fn new() -> Pod {
        let dir = tempfile::tempdir().unwrap();
        let pod = Pod {
            data: dir.path().join("data"),
            config: dir.path().join("config"),
            workspace: dir.path().join("workspace-init"),
            _dir: dir,
        };
        std::fs::create_dir_all(&pod.data).unwrap();
        pod
    }

    fn mount(&self, r: &Rendered) {
        write_config_map(
            &self.config,
            config_map(r, "-config").data.as_ref().unwrap(),
        );
        write_config_map(
            &self.workspace,
            config_map(r, "-workspace").data.as_ref().unwrap(),
        );
    }

    /// A rendered command with the pod's paths replaced by the scratch ones.
    fn run(&self, command: &[String]) -> Output {
        let map = |a: &String| -> String {
            let replaced = [
                ("/data", &self.data),
                ("/config/", &self.config),
                ("/workspace-init", &self.workspace),
                ("/home/openclaw/.openclaw", &self.data),
                ("/operator-config/", &self.config),
            ]
            .iter()
            .find_map(|(prefix, to)| {
                a.strip_prefix(prefix).map(|rest| {
                    let rest = rest.trim_start_matches('/');
                    if rest.is_empty() {
                        to.display().to_string()
                    } else {
                        to.join(rest).display().to_string()
                    }
                })
            });
            replaced.unwrap_or_else(|| a.clone())
        };
        let args: Vec<String> = command.iter().map(map).collect();
        let out = Command::new(&args[0]).args(&args[1..]).output().unwrap();
        eprintln!("stderr: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn init(&self, r: &Rendered) -> Output {
        self.mount(r);
        let init = container(statefulset(r), "init-config").unwrap();
        let out = self.run(init.command.as_ref().unwrap());
        assert!(out.status.success(), "init-config failed");
        out
    }

    fn post_start(&self, r: &Rendered) {
        self.mount(r);
        let main = container(statefulset(r), "openclaw").unwrap();
        let hook = main
            .lifecycle
            .as_ref()
            .unwrap()
            .post_start
            .as_ref()
            .unwrap();
        let out = self.run(hook.exec.as_ref().unwrap().command.as_ref().unwrap());
        assert!(out.status.success(), "postStart failed");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.data.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.read("openclaw.json")).unwrap()
    }
}

fn workspace_instance(soul: &str) -> Rendered {
    render_ok(
        &minimal_with(json!({"workspace": {
            "initialFiles": {"SOUL.md": soul, "notes/today.md": "- plan\n", "my notes.md": "spaces\n"},
            "initialDirectories": ["memory"],
            "additionalWorkspaces": [{"name": "research", "initialFiles": {"GOAL.md": "find\n"}}]
        }})),
        &observed(),
    )
}

#[test]
fn init_config_seeds_a_new_volume() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    let r = workspace_instance("v1\n");
    pod.init(&r);
    assert_eq!(
        pod.read("openclaw.json"),
        config_map(&r, "-config").data.as_ref().unwrap()["openclaw.json"]
    );
    for dir in [
        ".local",
        ".cache",
        ".config",
        "workspace/memory",
        "workspace-research",
    ] {
        assert!(pod.data.join(dir).is_dir(), "{dir}");
    }
    assert_eq!(pod.read("workspace/SOUL.md"), "v1\n");
    assert_eq!(pod.read("workspace/notes/today.md"), "- plan\n");
    assert_eq!(pod.read("workspace/my notes.md"), "spaces\n");
    assert!(
        pod.read("workspace/BOOTSTRAP.md")
            .starts_with("# First run")
    );
    assert!(
        pod.read("workspace/ENVIRONMENT.md")
            .contains("runtime environment")
    );
    assert_eq!(pod.read("workspace-research/GOAL.md"), "find\n");
    assert!(
        pod.read("workspace-research/ENVIRONMENT.md")
            .contains("runtime environment")
    );
    assert!(!pod.data.join("workspace-research/BOOTSTRAP.md").exists());
}

#[test]
fn restarts_keep_the_agents_files_and_refresh_the_operators() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    pod.init(&workspace_instance("v1\n"));
    // The agent edits its soul, finishes onboarding and scribbles on ENVIRONMENT.md.
    std::fs::write(pod.data.join("workspace/SOUL.md"), "mine\n").unwrap();
    std::fs::remove_file(pod.data.join("workspace/BOOTSTRAP.md")).unwrap();
    std::fs::write(pod.data.join("workspace/ENVIRONMENT.md"), "scribble").unwrap();
    let config_inode = std::fs::metadata(pod.data.join("openclaw.json"))
        .unwrap()
        .ino();
    // A new spec version of SOUL.md does not replace the agent's.
    pod.init(&workspace_instance("v2\n"));
    assert_eq!(pod.read("workspace/SOUL.md"), "mine\n");
    assert!(
        !pod.data.join("workspace/BOOTSTRAP.md").exists(),
        "onboarding came back"
    );
    assert!(
        pod.read("workspace/ENVIRONMENT.md")
            .contains("runtime environment")
    );
    // An unchanged openclaw.json is not rewritten.
    assert_eq!(
        std::fs::metadata(pod.data.join("openclaw.json"))
            .unwrap()
            .ino(),
        config_inode
    );
}

#[test]
fn an_existing_workspace_gets_no_bootstrap() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    std::fs::create_dir_all(pod.data.join("workspace")).unwrap();
    pod.init(&render_ok(&instance(minimal()), &observed()));
    assert!(!pod.data.join("workspace/BOOTSTRAP.md").exists());
    assert!(pod.data.join("workspace/ENVIRONMENT.md").exists());
}

#[test]
fn overwrite_mode_replaces_edits_on_restart() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    let r = render_ok(&instance(minimal()), &observed());
    pod.init(&r);
    std::fs::write(pod.data.join("openclaw.json"), "{\"edited\": true}").unwrap();
    pod.post_start(&r);
    assert_eq!(pod.json(), openclaw_json(&r));
}

#[test]
fn merge_mode_keeps_user_keys_and_enforces_force_paths() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    std::fs::write(
        pod.data.join("openclaw.json"),
        json!({
            "channels": {"telegram": {"botToken": "from-the-ui"}},
            "models": {"providers": {"rogue": {"apiKey": "x"}}},
            "gateway": {"bind": "lan", "extra": 1},
            "agents": {"defaults": {"model": {"primary": "old", "fallback": "keep"}}},
            "__proto__": {"polluted": true}
        })
        .to_string(),
    )
    .unwrap();
    let r = render_ok(
        &minimal_with(
            json!({"config": {"mergeMode": "merge", "forcePaths": ["models.providers", "missing.path"],
            "raw": {"agents": {"defaults": {"model": {"primary": "new"}}}}}}),
        ),
        &observed(),
    );
    pod.init(&r);
    let got = pod.json();
    assert_eq!(got["channels"]["telegram"]["botToken"], "from-the-ui");
    assert!(got["models"].get("providers").is_none(), "{got}");
    assert_eq!(
        got["agents"]["defaults"]["model"],
        json!({"primary": "new", "fallback": "keep"})
    );
    // The operator's values win; keys only on the volume stay (gateway.extra).
    assert_eq!(got["gateway"]["bind"], "loopback");
    assert_eq!(got["gateway"]["extra"], 1);
    assert_eq!(got["gateway"]["auth"]["token"], "${OPENCLAW_GATEWAY_TOKEN}");
    assert_eq!(got["__proto__"]["polluted"], true);
    // Merging again (postStart after a container restart) changes nothing.
    let before = pod.read("openclaw.json");
    pod.post_start(&r);
    assert_eq!(pod.read("openclaw.json"), before);
}

#[test]
fn merge_mode_recovers_from_a_broken_file() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    std::fs::write(pod.data.join("openclaw.json"), "{broken").unwrap();
    let r = render_ok(
        &minimal_with(json!({"config": {"mergeMode": "merge"}})),
        &observed(),
    );
    pod.init(&r);
    assert_eq!(pod.json(), openclaw_json(&r));
    assert_eq!(pod.read("openclaw.json.invalid"), "{broken");
}

#[test]
fn seeding_never_leaves_the_data_volume() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    let r = render_ok(&instance(minimal()), &observed());
    pod.mount(&r);
    // A tampered plan: the program refuses paths outside the volume and seeds the rest.
    let plan = json!({"directories": [".local"], "workspaces": [{"dir": "workspace", "directories": [],
        "files": [{"path": "../../escaped.md", "key": "ENVIRONMENT.md", "when": "always"},
                  {"path": "ok.md", "key": "ENVIRONMENT.md", "when": "once"}]}]});
    std::fs::write(
        pod.workspace.join(".operator-seed-plan.json"),
        plan.to_string(),
    )
    .unwrap();
    let init = container(statefulset(&r), "init-config").unwrap();
    let out = pod.run(init.command.as_ref().unwrap());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("path escapes"));
    assert!(!pod.data.join("../escaped.md").exists());
    assert!(pod.data.join("workspace/ok.md").exists());
}

/// Serves one fixed response per connection, forever (the thread ends with the test process).
fn serve(body: &'static str, content_type: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn probe_command(r: &Rendered, which: &str) -> Vec<String> {
    let main = container(statefulset(r), "openclaw").unwrap();
    let probe = match which {
        "liveness" => main.liveness_probe.as_ref(),
        "readiness" => main.readiness_probe.as_ref(),
        _ => main.startup_probe.as_ref(),
    };
    probe
        .unwrap()
        .exec
        .as_ref()
        .unwrap()
        .command
        .clone()
        .unwrap()
}

fn run_probe(mut command: Vec<String>, port: u16) -> bool {
    command[3] = command[3].replace(":18789", &format!(":{port}"));
    Command::new(&command[0])
        .args(&command[1..])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn probes_check_the_json_body() {
    if !node() {
        return;
    }
    let r = render_ok(&instance(minimal()), &observed());
    let live = serve(r#"{"ok":true,"status":"live"}"#, "application/json");
    let ready = serve(r#"{"ready":true,"failing":[]}"#, "application/json");
    let not_ready = serve(
        r#"{"ready":false,"failing":["startup-sidecars"]}"#,
        "application/json",
    );
    let html = serve("<!doctype html><title>Control UI</title>", "text/html");
    assert!(run_probe(probe_command(&r, "liveness"), live));
    assert!(run_probe(probe_command(&r, "startup"), live));
    assert!(run_probe(probe_command(&r, "readiness"), ready));
    assert!(!run_probe(probe_command(&r, "readiness"), not_ready));
    // The catch-all page answers 200 on every path: not healthy.
    assert!(!run_probe(probe_command(&r, "liveness"), html));
    assert!(!run_probe(probe_command(&r, "readiness"), html));
    assert!(
        !run_probe(probe_command(&r, "readiness"), live),
        "/readyz needs ready: true"
    );
    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(!run_probe(probe_command(&r, "liveness"), closed));
}

#[test]
fn disk_readiness() {
    if !node() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ready = serve(r#"{"ready":true}"#, "application/json");
    let with = |min_free: &str| {
        let r = render_ok(
            &minimal_with(json!({"probes": {"diskReadiness": {"enabled": true,
                "path": dir.path().display().to_string(), "minFree": min_free}}})),
            &observed(),
        );
        run_probe(probe_command(&r, "readiness"), ready)
    };
    assert!(with("1Ki"));
    assert!(!with("1Ei"));
}
