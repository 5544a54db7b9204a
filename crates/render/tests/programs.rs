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
        serde_json::from_str(&self.read("config/openclaw.json")).unwrap()
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
        pod.read("config/openclaw.json"),
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
    let config_inode = std::fs::metadata(pod.data.join("config/openclaw.json"))
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
        std::fs::metadata(pod.data.join("config/openclaw.json"))
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
    std::fs::write(pod.data.join("config/openclaw.json"), "{\"edited\": true}").unwrap();
    pod.post_start(&r);
    assert_eq!(pod.json(), openclaw_json(&r));
}

#[test]
fn merge_mode_keeps_user_keys_and_enforces_force_paths() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    std::fs::create_dir_all(pod.data.join("config")).unwrap();
    std::fs::write(
        pod.data.join("config/openclaw.json"),
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
    let before = pod.read("config/openclaw.json");
    pod.post_start(&r);
    assert_eq!(pod.read("config/openclaw.json"), before);
}

#[test]
fn merge_mode_recovers_from_a_broken_file() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    std::fs::create_dir_all(pod.data.join("config")).unwrap();
    std::fs::write(pod.data.join("config/openclaw.json"), "{broken").unwrap();
    let r = render_ok(
        &minimal_with(json!({"config": {"mergeMode": "merge"}})),
        &observed(),
    );
    pod.init(&r);
    assert_eq!(pod.json(), openclaw_json(&r));
    assert_eq!(pod.read("config/openclaw.json.invalid"), "{broken");
}

/// A volume the Go operator (or an earlier version of ours) filled keeps the config at its root:
/// merge mode starts from it, the root file stays where it was (a rollback finds it), and
/// everything else on the volume is untouched.
#[test]
fn merge_mode_starts_from_the_go_operators_config_file() {
    if !node() {
        return;
    }
    let r = render_ok(
        &minimal_with(json!({"config": {"mergeMode": "merge"}})),
        &observed(),
    );
    let pod = Pod::new();
    pod.mount(&r);
    let legacy = "{\"agents\": {\"defaults\": {\"model\": {\"primary\": \"mine\"}}}}";
    std::fs::write(pod.data.join("openclaw.json"), legacy).unwrap();
    std::fs::create_dir_all(pod.data.join("agents/main/sessions")).unwrap();
    std::fs::write(pod.data.join("agents/main/sessions/s.jsonl"), "{}\n").unwrap();
    let out = pod.init(&r);
    assert!(out.status.success(), "{out:?}");
    let merged = pod.json();
    assert_eq!(merged["agents"]["defaults"]["model"]["primary"], "mine");
    assert_eq!(merged["gateway"]["mode"], "local");
    assert_eq!(pod.read("openclaw.json"), legacy);
    assert_eq!(pod.read("agents/main/sessions/s.jsonl"), "{}\n");
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

// ---------------------------------------------------------------------------------------------
// Syntax of every program and script, and the install programs against fake tools.

use openclaw_render::features::runtime_deps::{PNPM_SCRIPT, PYTHON_SCRIPT};
use openclaw_render::statefulset::programs::{APPLY, INSTALL_PLUGINS, INSTALL_SKILLS, PROBE};

#[test]
fn every_node_program_parses() {
    if !node() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, program) in [
        ("apply", APPLY),
        ("probe", PROBE),
        ("install-skills", INSTALL_SKILLS),
        ("install-plugins", INSTALL_PLUGINS),
    ] {
        let file = dir.path().join(format!("{name}.js"));
        std::fs::write(&file, program).unwrap();
        let out = Command::new("node")
            .arg("--check")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_sh_script_parses() {
    for (name, script) in [("pnpm", PNPM_SCRIPT), ("python", PYTHON_SCRIPT)] {
        let out = Command::new("sh")
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A folder of fake tools; each records its argv (one line, every argument in brackets) in
/// `calls.log` and behaves by the argument it installs:
/// - containing `flaky`: fails with "429 Too Many Requests" twice, then succeeds;
/// - containing `down`: always fails with "503 Service Unavailable";
/// - containing `timeout`: fails with ETIMEDOUT once, then succeeds;
/// - containing `broken`: fails with "404 Not Found";
/// - containing `present`: fails with clawhub's "Already installed: … (use --force)";
/// - `openclaw` with `--accept-capabilities` fails as an old CLI would when `OLD_CLI` is set.
struct Fakes {
    dir: tempfile::TempDir,
}

const FAKE_TOOL: &str = r#"#!/bin/sh
log="$FAKE_DIR/calls.log"
{ printf '%s' "${0##*/}"; for a in "$@"; do printf ' [%s]' "$a"; done; echo; } >> "$log"
if [ -n "$OLD_CLI" ]; then
  for a in "$@"; do
    if [ "$a" = "--accept-capabilities" ]; then echo "error: unknown option '--accept-capabilities'" >&2; exit 1; fi
  done
fi
last=
for a in "$@"; do last="$a"; done
count() { n=$(cat "$FAKE_DIR/count-$1" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE_DIR/count-$1"; echo "$n"; }
case "$last" in
  *flaky*) if [ "$(count flaky)" -le 2 ]; then echo "npm error 429 Too Many Requests" >&2; exit 1; fi ;;
  *down*) echo "GET https://registry.example/x: 503 Service Unavailable" >&2; exit 1 ;;
  *timeout*) if [ "$(count timeout)" -le 1 ]; then echo "connect ETIMEDOUT 1.2.3.4:443" >&2; exit 1; fi ;;
  *broken*) echo "npm error 404 Not Found" >&2; exit 1 ;;
  *present*) echo "Error: Already installed: /x/skills/$last (use --force)" >&2; exit 1 ;;
esac
echo "installed $last"
"#;

impl Fakes {
    fn new() -> Fakes {
        let dir = tempfile::tempdir().unwrap();
        for tool in ["npm", "npx", "openclaw"] {
            let path = dir.path().join(tool);
            std::fs::write(&path, FAKE_TOOL).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Fakes { dir }
    }

    /// Run `node -e <program> <argument>` with the fakes first on PATH.
    fn run(&self, program: &str, argument: &str, extra_env: &[(&str, &str)]) -> (bool, String) {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("node");
        cmd.args(["-e", program, argument])
            .env("PATH", path)
            .env("FAKE_DIR", self.dir.path())
            .env("OPENCLAW_OPERATOR_BACKOFF_MS", "1");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        eprintln!(
            "stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn skills_argument(r: &Rendered) -> String {
    let c = container(statefulset(r), "init-skills").unwrap();
    let cmd = c.command.as_ref().unwrap();
    assert_eq!(cmd[..3], ["node", "-e", INSTALL_SKILLS]);
    cmd[3].clone()
}

fn plugins_argument(r: &Rendered) -> String {
    let c = container(statefulset(r), "init-plugins").unwrap();
    let cmd = c.command.as_ref().unwrap();
    assert_eq!(cmd[..3], ["node", "-e", INSTALL_PLUGINS]);
    cmd[3].clone()
}

#[test]
fn install_skills_spawns_argv_arrays_in_plan_order() {
    if !node() {
        return;
    }
    let fakes = Fakes::new();
    let workdir = fakes.dir.path().join("state");
    let workdir = workdir.display();
    let r = render_ok(
        &minimal_with(json!({
            "skills": ["owner/flaky-skill", "npm:@scope/tool", "present-skill", "pack:a/b/c"],
            "workspace": {"additionalWorkspaces": [{"name": "ops", "skills": ["timeout-skill"]}]},
        })),
        &observed(),
    );
    // The rendered plan, with the state directory moved to the scratch folder.
    let plan = skills_argument(&r).replace("/home/openclaw/.openclaw", &workdir.to_string());
    let (ok, _) = fakes.run(INSTALL_SKILLS, &plan, &[]);
    assert!(ok, "every entry installs (after retries)");
    let hub = format!(
        "npx [-y] [{}] [--workdir]",
        openclaw_render::statefulset::programs::CLAWHUB_PACKAGE
    );
    assert_eq!(
        fakes.calls(),
        [
            "npm [install] [-g] [@scope/tool]".to_string(),
            format!("{hub} [{workdir}] [--no-input] [install] [@owner/flaky-skill]"),
            format!("{hub} [{workdir}] [--no-input] [install] [@owner/flaky-skill]"),
            format!("{hub} [{workdir}] [--no-input] [install] [@owner/flaky-skill]"),
            format!("{hub} [{workdir}] [--no-input] [install] [present-skill]"),
            format!("{hub} [{workdir}/workspace-ops] [--no-input] [install] [timeout-skill]"),
            format!("{hub} [{workdir}/workspace-ops] [--no-input] [install] [timeout-skill]"),
        ]
    );
    assert!(
        std::path::Path::new(&format!("{workdir}/workspace-ops")).is_dir(),
        "the workdir is created"
    );
}

#[test]
fn install_skills_fails_after_trying_every_entry() {
    if !node() {
        return;
    }
    let fakes = Fakes::new();
    let plan = json!([
        {"kind": "npm", "ref": "broken-pkg"},
        {"kind": "npm", "ref": "down-pkg"},
        {"kind": "npm", "ref": "good-pkg"},
        {"kind": "npm", "ref": "--registry=https://evil.example"},
        {"kind": "other", "ref": "x"},
    ]);
    let (ok, stderr) = fakes.run(INSTALL_SKILLS, &plan.to_string(), &[]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "4 of 5 skills failed: broken-pkg, down-pkg, --registry=https://evil.example, x"
        ),
        "{stderr}"
    );
    let calls = fakes.calls();
    // A permanent error is not retried; a transient one is retried 3 times; an option-like
    // reference never reaches a tool.
    assert_eq!(calls.iter().filter(|c| c.contains("broken-pkg")).count(), 1);
    assert_eq!(calls.iter().filter(|c| c.contains("down-pkg")).count(), 4);
    assert_eq!(calls.iter().filter(|c| c.contains("good-pkg")).count(), 1);
    assert_eq!(calls.len(), 6, "{calls:?}");
}

#[test]
fn install_skills_reports_a_missing_tool() {
    if !node() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node_bin = Command::new("sh")
        .args(["-c", "command -v node"])
        .output()
        .unwrap();
    let node_bin = String::from_utf8(node_bin.stdout).unwrap();
    let out = Command::new(node_bin.trim())
        .args(["-e", INSTALL_SKILLS, r#"[{"kind":"npm","ref":"x"}]"#])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ENOENT") && stderr.contains("1 of 1 skills failed"),
        "{stderr}"
    );
}

#[test]
fn install_plugins_spawns_openclaw_per_sorted_entry() {
    if !node() {
        return;
    }
    let fakes = Fakes::new();
    let r = render_ok(
        &minimal_with(json!({"plugins": ["npm:flaky-plugin", "matrix", "npm:@openclaw/voice"]})),
        &observed(),
    );
    let (ok, _) = fakes.run(INSTALL_PLUGINS, &plugins_argument(&r), &[]);
    assert!(ok);
    let install = "openclaw [plugins] [install] [--force] [--accept-capabilities]";
    assert_eq!(
        fakes.calls(),
        [
            format!("{install} [clawhub:matrix]"),
            format!("{install} [npm:@openclaw/voice]"),
            format!("{install} [npm:flaky-plugin]"),
            format!("{install} [npm:flaky-plugin]"),
            format!("{install} [npm:flaky-plugin]"),
        ]
    );
}

#[test]
fn install_plugins_falls_back_for_an_old_cli_and_fails_on_errors() {
    if !node() {
        return;
    }
    let fakes = Fakes::new();
    let (ok, stderr) = fakes.run(
        INSTALL_PLUGINS,
        r#"["npm:broken-plugin","npm:good","npm:-x","bare"]"#,
        &[("OLD_CLI", "1")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("3 of 4 plugins failed: npm:broken-plugin, npm:-x, bare"),
        "{stderr}"
    );
    assert_eq!(
        fakes.calls(),
        [
            "openclaw [plugins] [install] [--force] [--accept-capabilities] [npm:broken-plugin]",
            "openclaw [plugins] [install] [--force] [npm:broken-plugin]",
            "openclaw [plugins] [install] [--force] [--accept-capabilities] [npm:good]",
            "openclaw [plugins] [install] [--force] [npm:good]",
        ]
    );
}

/// Run a runtime-deps script with `/home/openclaw/.openclaw` moved to a scratch folder and the
/// given fake tools (plus the basic utilities) as the whole PATH.
fn run_script(script: &str, state: &Path, bin: &Path) -> Output {
    let script = script.replace("/home/openclaw/.openclaw", &state.display().to_string());
    let out = Command::new("/bin/sh")
        .args(["-c", &script])
        .env_clear()
        .env("PATH", bin)
        .env("HOME", "/tmp")
        .output()
        .unwrap();
    eprintln!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fake_bin(tools: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for util in ["mkdir", "ln", "cp", "mv", "cat", "chmod"] {
        let which = Command::new("sh")
            .args(["-c", &format!("command -v {util}")])
            .output()
            .unwrap();
        let target = String::from_utf8(which.stdout).unwrap();
        std::os::unix::fs::symlink(target.trim(), dir.path().join(util)).unwrap();
    }
    for (name, body) in tools {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

#[test]
fn pnpm_script_uses_corepack_once() {
    let state = tempfile::tempdir().unwrap();
    let bin = fake_bin(&[(
        "corepack",
        r#"echo "corepack $* home=$COREPACK_HOME" >> "$0.log"
[ "$1 $2 $3" = "enable pnpm --install-directory" ] || exit 1
printf '#!/bin/sh\necho 10.0.0\n' > "$4/pnpm"; chmod +x "$4/pnpm""#,
    )]);
    for _ in 0..2 {
        let out = run_script(PNPM_SCRIPT, state.path(), bin.path());
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("10.0.0"));
    }
    let log = std::fs::read_to_string(bin.path().join("corepack.log")).unwrap();
    let local = state.path().join(".local/bin");
    assert_eq!(
        log,
        format!(
            "corepack enable pnpm --install-directory {} home={}\n",
            local.display(),
            state.path().join(".cache/node/corepack").display()
        ),
        "corepack runs once, with its home where the main container looks"
    );
}

#[test]
fn pnpm_script_falls_back_to_npm_without_corepack() {
    let state = tempfile::tempdir().unwrap();
    let bin = fake_bin(&[(
        "npm",
        r#"[ "$*" = "install -g pnpm" ] || exit 1
mkdir -p "$NPM_CONFIG_PREFIX/bin"
printf '#!/bin/sh\necho 9.9.9\n' > "$NPM_CONFIG_PREFIX/bin/pnpm"; chmod +x "$NPM_CONFIG_PREFIX/bin/pnpm""#,
    )]);
    let out = run_script(PNPM_SCRIPT, state.path(), bin.path());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("corepack not found"));
    assert!(state.path().join(".local/bin/pnpm").exists());
}

#[test]
fn python_script_installs_links_and_keeps_uv_current() {
    let state = tempfile::tempdir().unwrap();
    let bin = fake_bin(&[(
        "uv",
        r#"if [ "$1" = "--version" ]; then echo "uv 0.6.17"; exit 0; fi
echo "uv $*" >> "$FAKE_LOG"
[ "$*" = "python install 3.12" ] || exit 1
d="$UV_PYTHON_INSTALL_DIR/cpython-3.12.11-linux-x86_64-gnu/bin"
mkdir -p "$d"
printf '#!/bin/sh\necho Python 3.12.11\n' > "$d/python3"; chmod +x "$d/python3""#,
    )]);
    let log = state.path().join("uv.log");
    let script = format!("export FAKE_LOG={}\n{PYTHON_SCRIPT}", log.display());
    for _ in 0..2 {
        let out = run_script(&script, state.path(), bin.path());
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Python 3.12.11") && stdout.contains("uv 0.6.17"),
            "{stdout}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "uv python install 3.12\n",
        "installed once"
    );
    let local_bin = state.path().join(".local/bin");
    for link in ["python3", "python"] {
        assert_eq!(
            std::fs::read_link(local_bin.join(link)).unwrap(),
            Path::new("../python/cpython-3.12.11-linux-x86_64-gnu/bin/python3"),
            "a relative link works under both mount points"
        );
    }
    assert!(local_bin.join("uv").exists());
}

fn self_configure_instance() -> Rendered {
    render_ok(
        &minimal_with(
            json!({"selfConfigure": {"enabled": true, "allowedActions": ["skills"]},
            "workspace": {"additionalWorkspaces": [{"name": "research"}]}}),
        ),
        &observed(),
    )
}

#[test]
fn self_configure_files_are_seeded_and_kept_current() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    let r = self_configure_instance();
    pod.init(&r);
    let script = pod.data.join("workspace/selfconfig.sh");
    assert_eq!(
        pod.read("workspace/selfconfig.sh"),
        openclaw_render::workspace::files::SELFCONFIG_SH
    );
    assert!(
        pod.read("workspace/SELFCONFIG.md")
            .contains("bash selfconfig.sh")
    );
    assert!(!pod.data.join("workspace-research/selfconfig.sh").exists());
    assert!(!pod.data.join("workspace-research/SELFCONFIG.md").exists());
    // The agent breaks both; the next start restores them.
    std::fs::write(&script, "echo broken\n").unwrap();
    std::fs::write(pod.data.join("workspace/SELFCONFIG.md"), "scribble").unwrap();
    pod.init(&r);
    assert_eq!(
        pod.read("workspace/selfconfig.sh"),
        openclaw_render::workspace::files::SELFCONFIG_SH
    );
    assert!(
        pod.read("workspace/SELFCONFIG.md")
            .contains("selfconfig.sh")
    );
    // The seeded script runs with bash: usage, and a clear error without its environment.
    let out = Command::new("bash")
        .arg(&script)
        .arg("help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("add-skill NAME..."));
    let out = Command::new("bash")
        .arg(&script)
        .args(["add-skill", "x"])
        .env_remove("OPENCLAW_INSTANCE_NAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OPENCLAW_INSTANCE_NAME is not set"));
}

#[test]
fn selfconfig_script_passes_bash_n_and_shellcheck() {
    let r = self_configure_instance();
    let script = config_map(&r, "-workspace").data.as_ref().unwrap()["selfconfig.sh"].clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("selfconfig.sh");
    std::fs::write(&file, &script).unwrap();
    let out = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match Command::new("shellcheck").arg(&file).output() {
        Ok(out) => assert!(
            out.status.success(),
            "shellcheck:\n{}",
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("no shellcheck on PATH; only bash -n was run");
        }
        Err(e) => panic!("shellcheck: {e}"),
    }
}

#[test]
fn selfconfig_script_checks_its_arguments_before_calling_the_api() {
    if !node() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("selfconfig.sh");
    std::fs::write(&file, openclaw_render::workspace::files::SELFCONFIG_SH).unwrap();
    // An API that cannot answer: every case must fail before calling it.
    let run = |args: &[&str]| {
        let out = Command::new("bash")
            .arg(&file)
            .args(args)
            .env("OPENCLAW_INSTANCE_NAME", "demo")
            .env("OPENCLAW_NAMESPACE", "ns")
            .env("OPENCLAW_SELFCONFIG_API", "https://127.0.0.1:1")
            .env("OPENCLAW_SELFCONFIG_TOKEN_FILE", dir.path().join("none"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (args, message) in [
        (&["patch-config", "[1]"][..], "must be a JSON object"),
        (&["patch-config", "{nope"], "not valid JSON"),
        (&["patch-config"], "wrong number of arguments"),
        (&["add-skill"], "wrong number of arguments"),
        (&["set-env", "NOVALUE"], "expected NAME=VALUE"),
        (
            &["add-file", "a.md", "/nonexistent/file"],
            "cannot read /nonexistent/file",
        ),
        (
            &["--timeout", "soon", "add-skill", "x"],
            "not a whole number",
        ),
        (&["--bogus", "add-skill", "x"], "unknown option"),
        (&["frobnicate"], "unknown command"),
        (&["add-skill", "x"], "cannot read the ServiceAccount token"),
    ] {
        let (code, stderr) = run(args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let out = Command::new("bash").arg(&file).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Usage: selfconfig.sh"));
}
