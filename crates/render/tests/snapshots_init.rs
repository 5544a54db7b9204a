//! The install init containers (design §1.6, §1.7): runtime dependencies, skills and plugins.
//!
//! Each snapshot holds only this area's part of the pod: the order of the init containers, the
//! four install containers (the Node programs replaced by their names; `tests/programs.rs`
//! runs them), their volumes, the main container's `PATH` and environment, and the root
//! directories of the seed plan. Other features' changes do not touch these snapshots.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use openclaw_api::OpenClawClusterDefaultsSpec;
use openclaw_render::statefulset::programs::{INSTALL_PLUGINS, INSTALL_SKILLS};
use openclaw_render::{Observed, Rendered};
use serde_json::{Value, json};

const MINE: &[&str] = &["init-pnpm", "init-python", "init-skills", "init-plugins"];
const MY_VOLUMES: &[&str] = &["pnpm-tmp", "python-tmp", "skills-tmp", "plugins-tmp"];

fn yaml(v: &Value) -> String {
    serde_saphyr::to_string(v).unwrap()
}

/// This area's part of the rendering, as YAML.
fn init_yaml(r: &Rendered) -> String {
    let sts = statefulset(r);
    let pod =
        serde_json::to_value(sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap()).unwrap();
    let mut out = String::new();
    for w in &r.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    let inits = pod["initContainers"].as_array().unwrap();
    let order: Vec<&str> = inits
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .filter(|n| *n == "init-config" || MINE.contains(n))
        .collect();
    out.push_str(&format!("# init containers: {}\n", order.join(", ")));
    for c in inits {
        if !MINE.contains(&c["name"].as_str().unwrap()) {
            continue;
        }
        let mut c = c.clone();
        let name = c["name"].as_str().unwrap().to_string();
        if let Some(cmd) = c["command"].as_array_mut() {
            for arg in cmd.iter_mut() {
                if arg == INSTALL_SKILLS {
                    *arg = json!("<programs::INSTALL_SKILLS>");
                } else if arg == INSTALL_PLUGINS {
                    *arg = json!("<programs::INSTALL_PLUGINS>");
                }
            }
            // The plan argument, pretty-printed for review.
            if name == "init-skills" || name == "init-plugins" {
                let plan: Value = serde_json::from_str(cmd[3].as_str().unwrap()).unwrap();
                out.push_str(&format!(
                    "# {name} argument:\n{}",
                    yaml(&plan)
                        .lines()
                        .map(|l| format!("#   {l}\n"))
                        .collect::<String>()
                ));
            }
        }
        out.push_str("---\n");
        out.push_str(&yaml(&c));
    }
    let volumes: Vec<&Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| MY_VOLUMES.contains(&v["name"].as_str().unwrap()))
        .collect();
    out.push_str("--- # volumes\n");
    out.push_str(&yaml(&json!(volumes)));
    let main = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "openclaw")
        .unwrap();
    out.push_str("--- # main container env\n");
    out.push_str(&yaml(&main["env"]));
    let plan: Value = serde_json::from_str(
        &config_map(r, "-workspace").data.as_ref().unwrap()[".operator-seed-plan.json"],
    )
    .unwrap();
    out.push_str("--- # seed plan root directories\n");
    out.push_str(&yaml(&plan["directories"]));
    out
}

fn snapshot(name: &str, patch: Value) -> Rendered {
    let r = render_ok(&minimal_with(patch), &observed());
    insta::assert_snapshot!(name, init_yaml(&r));
    r
}

fn names(r: &Rendered) -> Vec<String> {
    let pod = statefulset(r).spec.clone().unwrap().template.spec.unwrap();
    pod.init_containers
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .chain(pod.volumes.unwrap().into_iter().map(|v| v.name))
        .collect()
}

#[test]
fn runtime_deps_pnpm_python() {
    snapshot(
        "runtime_deps_pnpm_python",
        json!({"runtimeDeps": {"pnpm": true, "python": true}}),
    );
}

#[test]
fn skills_clawhub_npm() {
    let r = snapshot(
        "skills_clawhub_npm",
        json!({
            "skills": ["weather", "owner/summarize", "@acme/notes", "npm:@scope/cli-skill",
                       "pack:acme/skills/writer@v1"],
            "env": [{"name": "CLAWHUB_REGISTRY", "value": "https://hub.corp.example"},
                    {"name": "HOME", "value": "/home/openclaw"}],
            "envFrom": [{"secretRef": {"name": "api-keys"}}],
        }),
    );
    assert!(!names(&r).contains(&"init-plugins".to_string()));
}

#[test]
fn skills_per_workspace() {
    snapshot(
        "skills_per_workspace",
        json!({"workspace": {"additionalWorkspaces": [
            {"name": "research", "skills": ["arxiv", "npm:paper-cli", "pack:acme/skills/lit@main"]},
            {"name": "ops", "skills": ["kubectl-helper", "npm:paper-cli"]},
            {"name": "packs", "skills": ["pack:acme/skills/only"]},
        ]}}),
    );
}

#[test]
fn skills_pack_only() {
    let r = snapshot(
        "skills_pack_only",
        json!({
            "skills": ["pack:acme/skills/writer@v1"],
            "workspace": {"additionalWorkspaces": [
                {"name": "research", "skills": ["pack:acme/skills/lit"]}]},
        }),
    );
    let n = names(&r);
    assert!(
        !n.iter().any(|x| x == "init-skills" || x == "skills-tmp"),
        "{n:?}"
    );
}

#[test]
fn plugins() {
    let r = snapshot(
        "plugins",
        json!({"plugins": ["npm:@openclaw/diagnostics-otel", "matrix", "npm:openclaw-plugin-x"]}),
    );
    let main = container(statefulset(&r), "openclaw").unwrap();
    assert!(
        !main
            .env
            .iter()
            .flatten()
            .any(|e| e.name == "NODE_PATH" || e.name == "PATH"),
        "plugins add neither NODE_PATH nor PATH"
    );
}

#[test]
fn cluster_defaults_everything() {
    let defaults: OpenClawClusterDefaultsSpec = serde_json::from_value(json!({
        "registry": "registry.corp.example/mirror",
        "env": [{"name": "NPM_CONFIG_REGISTRY", "value": "https://npm.corp.example"},
                {"name": "TZ", "value": "UTC"}],
        "runtimeDeps": {"python": true},
    }))
    .unwrap();
    let instance = minimal_with(json!({
        "runtimeDeps": {"pnpm": true},
        "skills": ["weather", "npm:cli-skill"],
        "plugins": ["npm:@openclaw/diagnostics-otel"],
        "env": [{"name": "TZ", "value": "Europe/Berlin"}],
    }));
    let observed = Observed {
        cluster_defaults: Some(defaults),
        ..observed()
    };
    let r = render_ok(&instance, &observed);
    insta::assert_snapshot!("cluster_defaults_everything", init_yaml(&r));
    let sts = statefulset(&r);
    for name in MINE {
        let c = container(sts, name).unwrap_or_else(|| panic!("{name}"));
        assert!(
            c.image
                .as_deref()
                .unwrap()
                .starts_with("registry.corp.example/mirror/"),
            "{name}: {:?}",
            c.image
        );
    }
    for name in ["openclaw", "init-skills", "init-plugins"] {
        let env = container(sts, name).unwrap().env.clone().unwrap();
        let get = |k: &str| {
            env.iter()
                .find(|e| e.name == k)
                .and_then(|e| e.value.clone())
        };
        assert_eq!(
            get("NPM_CONFIG_REGISTRY").as_deref(),
            Some("https://npm.corp.example"),
            "{name}"
        );
        assert_eq!(get("TZ").as_deref(), Some("Europe/Berlin"), "{name}");
    }
}

#[test]
fn invalid_entries_are_skipped_with_a_warning() {
    let r = render_ok(
        &minimal_with(json!({
            "skills": ["ok-skill", "bad skill", "-rf", "pack:acme/skills"],
            "plugins": ["bad plugin", "-x", "good"],
            "workspace": {"additionalWorkspaces": [{"name": "Bad_Name", "skills": ["x"]}]},
        })),
        &observed(),
    );
    let w = r.warnings.join("\n");
    for needle in [
        "spec.skills: \"bad skill\" skipped",
        "spec.skills: \"-rf\" skipped: a reference must not start with '-'",
        "spec.skills: \"pack:acme/skills\" skipped",
        "spec.plugins: \"bad plugin\" skipped",
        "spec.plugins: \"-x\" skipped",
        "additionalWorkspaces[Bad_Name].skills: invalid workspace name",
    ] {
        assert!(w.contains(needle), "{needle}\n{w}");
    }
    let sts = statefulset(&r);
    let skills = container(sts, "init-skills")
        .unwrap()
        .command
        .clone()
        .unwrap();
    assert_eq!(
        skills[3],
        r#"[{"kind":"clawhub","ref":"ok-skill","workdir":"/home/openclaw/.openclaw"}]"#
    );
    let plugins = container(sts, "init-plugins")
        .unwrap()
        .command
        .clone()
        .unwrap();
    assert_eq!(plugins[3], r#"["clawhub:good"]"#);
}

#[test]
fn nothing_without_the_fields() {
    let r = render_ok(
        &minimal_with(json!({"skills": [], "plugins": [], "runtimeDeps": {"pnpm": false}})),
        &observed(),
    );
    let n = names(&r);
    assert!(
        !n.iter()
            .any(|x| MINE.contains(&x.as_str()) || MY_VOLUMES.contains(&x.as_str())),
        "{n:?}"
    );
    let main = container(statefulset(&r), "openclaw").unwrap();
    assert!(!main.env.iter().flatten().any(|e| e.name == "PATH"));
}
